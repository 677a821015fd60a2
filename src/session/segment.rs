//! User-data limits by version (X.225 Annex D, Table D.1), the connect data overflow path
//! (CN with Data Overflow → OA → CDO…, X.225 §7.1) and segmentation of SSDUs with the Enclosure
//! Item when a TSDU maximum size was negotiated (X.225 §8.4), with bounded reassembly.

use std::borrow::Cow;

use bytes::BufMut;

use crate::error::{
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer, ensure_room,
};
use crate::limits::Limits;

use super::codes::{EnclosureItem, ParameterCode, SessionVersion, SpduKind};
use super::params::ParametersBuf;
use super::spdu::Spdu;

/// User data allowed in CN's PGI 193 in both versions.
pub const CN_USER_DATA_MAX: usize = 512;
/// User data allowed in CN's PGI 194 (version 2).
pub const CN_EXTENDED_USER_DATA_MAX: usize = 10_240;
/// User data allowed in one CDO SPDU's PGI 193 (version 2).
pub const CDO_USER_DATA_MAX: usize = 65_528;
/// Largest SPDU: SI, three-octet LI and a 65 535-octet parameter field.
pub const MAX_SPDU_LEN: usize = 65_539;
/// Octets of SS-user data allowed in most version-1 SPDUs.
pub const V1_USER_DATA_MAX: usize = 512;
/// Octets of SS-user data in a version-1 AB.
pub const V1_AB_USER_DATA_MAX: usize = 9;

/// How much SS-user data an SPDU may carry (X.225 Annex D, Table D.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserDataLimit {
    /// The SPDU carries no user data in this version.
    NotAllowed,
    /// At most this many octets.
    Octets(usize),
    /// As much as fits in an SPDU of at most 65 539 octets (version 2).
    SpduLength,
    /// The user information field of DT and TD: bounded only by the TSDU (and by the TSDU
    /// maximum size, through segmentation).
    Unlimited,
}

/// The limit on SS-user data in `kind` under `version` (X.225 Annex D, Table D.1). For CN it is
/// the total of PGI 193 and PGI 194 (512 in v1, 10 240 in v2); more needs the overflow path, see
/// [`ConnectData`]. For RF it is the user data after reason code 2 (the reason code of 513
/// octets in v1 holds 512 of user data). EX takes at most 14 octets.
pub const fn user_data_limit(version: SessionVersion, kind: SpduKind) -> UserDataLimit {
    use SpduKind as K;
    let v2 = matches!(version, SessionVersion::V2);
    match kind {
        K::Cn if v2 => UserDataLimit::Octets(CN_EXTENDED_USER_DATA_MAX),
        K::Cn => UserDataLimit::Octets(CN_USER_DATA_MAX),
        K::Cdo if v2 => UserDataLimit::Octets(CDO_USER_DATA_MAX),
        K::Dt | K::Td => UserDataLimit::Unlimited,
        K::Ex => UserDataLimit::Octets(14),
        K::Oa | K::Aa | K::Gta | K::Pr | K::Cdo => UserDataLimit::NotAllowed,
        _ if v2 => UserDataLimit::SpduLength,
        K::Ab => UserDataLimit::Octets(V1_AB_USER_DATA_MAX),
        K::Gt | K::Gtc | K::Ai | K::Aia | K::Ad | K::Ada => UserDataLimit::NotAllowed,
        _ => UserDataLimit::Octets(V1_USER_DATA_MAX),
    }
}

/// Checks a decoded SPDU's SS-user data against [`user_data_limit`] for the negotiated version,
/// and that PGI 194 appears only in a version-2 CN. Errors carry offset 0 (the SPDU start).
pub fn check_user_data(spdu: &Spdu<'_>, version: SessionVersion) -> Result<(), DecodeError> {
    let err = |kind| Err(DecodeError::new(Layer::Session, 0, kind));
    let kind = spdu.kind();
    if spdu.extended_user_data().is_some()
        && (kind != SpduKind::Cn || version == SessionVersion::V1)
    {
        return err(DecodeErrorKind::ForbiddenParameter {
            pdu: kind.abbreviation(),
            code: ParameterCode::EXTENDED_USER_DATA.0,
        });
    }
    if kind == SpduKind::Cn && spdu.user_data().is_some_and(|d| d.len() > CN_USER_DATA_MAX) {
        return err(DecodeErrorKind::LimitExceeded {
            limit: "cn user data",
            max: CN_USER_DATA_MAX,
        });
    }
    let len = spdu.ss_user_data().len();
    match user_data_limit(version, kind) {
        UserDataLimit::NotAllowed if len > 0 => err(DecodeErrorKind::ForbiddenParameter {
            pdu: kind.abbreviation(),
            code: ParameterCode::USER_DATA.0,
        }),
        UserDataLimit::Octets(max) if len > max => err(DecodeErrorKind::LimitExceeded {
            limit: "session user data",
            max,
        }),
        _ => Ok(()),
    }
}

/// How the SS-user data of an S-CONNECT request travels (X.225 §7.1, Annex D): in CN's PGI 193
/// (≤ 512 octets), in CN's PGI 194 (version 2, ≤ 10 240), or the first 10 240 octets in PGI 194
/// with Data Overflow (PI 60) set and the rest in CDO SPDUs after the peer's OA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectData<'a> {
    code: ParameterCode,
    in_connect: &'a [u8],
    overflow: &'a [u8],
}

impl<'a> ConnectData<'a> {
    /// Splits `data` for `version`. Version 1 allows 512 octets at most.
    pub fn new(version: SessionVersion, data: &'a [u8]) -> Result<Self, EncodeError> {
        if data.len() <= CN_USER_DATA_MAX {
            return Ok(ConnectData {
                code: ParameterCode::USER_DATA,
                in_connect: data,
                overflow: &[],
            });
        }
        if version == SessionVersion::V1 {
            return Err(EncodeError::new(
                Layer::Session,
                EncodeErrorKind::ValueTooLarge {
                    what: "version 1 connect user data",
                    value: data.len(),
                    max: CN_USER_DATA_MAX,
                },
            ));
        }
        let (in_connect, overflow) = data.split_at(data.len().min(CN_EXTENDED_USER_DATA_MAX));
        Ok(ConnectData {
            code: ParameterCode::EXTENDED_USER_DATA,
            in_connect,
            overflow,
        })
    }

    /// PGI 193 or PGI 194.
    pub const fn code(&self) -> ParameterCode {
        self.code
    }

    /// The part that goes in the CN.
    pub const fn in_connect(&self) -> &'a [u8] {
        self.in_connect
    }

    /// The part that goes in CDO SPDUs (empty if none).
    pub const fn overflow(&self) -> &'a [u8] {
        self.overflow
    }

    /// Whether the CN must carry Data Overflow (PI 60) and wait for OA.
    pub const fn needs_overflow(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// Appends the CN units for the data: PI 60 when needed, then PGI 193 or 194 (codes in
    /// increasing order, so call this last).
    pub fn append_connect_parameters(&self, params: &mut ParametersBuf) -> Result<(), EncodeError> {
        if self.needs_overflow() {
            params.u8(ParameterCode::DATA_OVERFLOW, 1)?;
        }
        if !self.in_connect.is_empty() {
            params.unit(self.code, self.in_connect)?;
        }
        Ok(())
    }

    /// The CDO segments of the overflow, each at most 65 528 octets. The CN holds the beginning
    /// of the SSDU, so no CDO has Enclosure Item bit 1; the last has bit 2 (end).
    pub fn cdo_segments(&self) -> Segments<'a> {
        Segments::new(self.overflow, CDO_USER_DATA_MAX, false)
    }
}

/// One piece of a segmented SSDU and its Enclosure Item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment<'a> {
    /// Enclosure Item of the SPDU that carries the piece; `None` when no segmentation was
    /// negotiated (DT then carries no PI 25).
    pub enclosure: Option<EnclosureItem>,
    /// The piece.
    pub data: &'a [u8],
}

/// Octets of a GT (`01 00`) plus a DT header with Enclosure Item (`01 03 19 01 xx`).
const DATA_OVERHEAD: usize = 7;

impl Segment<'_> {
    /// Parameter field of the DT carrying this segment: PI 25 or nothing.
    fn dt_params(&self) -> [u8; 3] {
        [
            ParameterCode::ENCLOSURE_ITEM.0,
            1,
            self.enclosure.map_or(0, EnclosureItem::get),
        ]
    }

    /// Octets [`Segment::encode_data_tsdu`] writes.
    pub const fn data_tsdu_len(&self) -> usize {
        let header = if self.enclosure.is_some() {
            DATA_OVERHEAD
        } else {
            4
        };
        header.saturating_add(self.data.len())
    }

    /// Writes the segment as one TSDU: GT (no parameters), then DT with the Enclosure Item (if
    /// any) and the segment as user information field.
    pub fn encode_data_tsdu<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ensure_room(Layer::Session, buf, self.data_tsdu_len())?;
        buf.put_slice(&[0x01, 0x00, 0x01]);
        if self.enclosure.is_some() {
            buf.put_u8(3);
            buf.put_slice(&self.dt_params());
        } else {
            buf.put_u8(0);
        }
        buf.put_slice(self.data);
        Ok(())
    }

    /// Parameter field of a CDO (or other non-DT SPDU) carrying this segment: PI 25 then
    /// PGI 193.
    pub fn user_data_parameters(&self) -> Result<ParametersBuf, EncodeError> {
        let mut p = ParametersBuf::new();
        if let Some(e) = self.enclosure {
            p.u8(ParameterCode::ENCLOSURE_ITEM, e.get())?;
        }
        p.user_data(self.data)?;
        Ok(p)
    }
}

/// Iterator over the segments of an SSDU (X.225 §8.4).
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a [u8],
    chunk: usize,
    first: bool,
    begins: bool,
    done: bool,
}

impl<'a> Segments<'a> {
    fn new(data: &'a [u8], chunk: usize, begins: bool) -> Self {
        Segments {
            rest: data,
            chunk: chunk.max(1),
            first: true,
            begins,
            done: data.is_empty() && !begins,
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.done {
            return None;
        }
        let (data, rest) = self.rest.split_at(self.rest.len().min(self.chunk));
        self.rest = rest;
        let mut e = EnclosureItem::MIDDLE;
        if self.first && self.begins {
            e = e.with(EnclosureItem::BEGINNING);
        }
        if rest.is_empty() {
            e = e.with(EnclosureItem::END);
            self.done = true;
        }
        self.first = false;
        Some(Segment {
            enclosure: Some(e),
            data,
        })
    }
}

impl core::iter::FusedIterator for Segments<'_> {}

/// Data SSDU segmentation for one direction (X.225 §8.4, segmenting).
#[derive(Debug, Clone)]
pub enum DataSegments<'a> {
    /// No TSDU maximum size: the whole SSDU in one DT without Enclosure Item.
    Whole(Option<Segment<'a>>),
    /// Segmented: every DT carries an Enclosure Item (`03` when one DT holds it all).
    Segmented(Segments<'a>),
}

impl<'a> Iterator for DataSegments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        match self {
            DataSegments::Whole(s) => s.take(),
            DataSegments::Segmented(s) => s.next(),
        }
    }
}

/// Splits an SSDU into DT segments so that each GT+DT TSDU fits in `tsdu_maximum_size` octets
/// (the value negotiated by PI 21 for this direction; 0 = unlimited, no Enclosure Item). Every
/// TSDU is then written with [`Segment::encode_data_tsdu`]. A size below 8 cannot carry data
/// and is refused.
///
/// ```
/// use osi_stack::session::data_segments;
/// let tsdus: Vec<Vec<u8>> = data_segments(b"abcde", 10)?
///     .map(|s| { let mut v = Vec::new(); s.encode_data_tsdu(&mut v).map(|()| v) })
///     .collect::<Result<_, _>>()?;
/// assert_eq!(tsdus[0], b"\x01\x00\x01\x03\x19\x01\x01abc");
/// assert_eq!(tsdus[1], b"\x01\x00\x01\x03\x19\x01\x02de");
/// # Ok::<(), osi_stack::EncodeError>(())
/// ```
pub fn data_segments(
    data: &[u8],
    tsdu_maximum_size: usize,
) -> Result<DataSegments<'_>, EncodeError> {
    if tsdu_maximum_size == 0 {
        return Ok(DataSegments::Whole(Some(Segment {
            enclosure: None,
            data,
        })));
    }
    let Some(chunk) = tsdu_maximum_size
        .checked_sub(DATA_OVERHEAD)
        .filter(|c| *c > 0)
    else {
        return Err(EncodeError::new(
            Layer::Session,
            EncodeErrorKind::InvalidValue {
                what: "tsdu maximum size",
                value: u64::try_from(tsdu_maximum_size).unwrap_or(u64::MAX),
            },
        ));
    };
    Ok(DataSegments::Segmented(Segments::new(data, chunk, true)))
}

/// Reassembles segmented SSDUs (DT or other SPDUs with Enclosure Item, CN + CDO overflow) under
/// [`Limits::max_ssdu`] and [`Limits::max_segments`] (X.225 §8.4, segmenting).
///
/// Push each piece with its Enclosure Item; the SSDU comes out when a piece has bit 2 (end). A
/// piece with no Enclosure Item, or with `03`, is a whole SSDU and is returned borrowed. For the
/// connect overflow path, push the CN's data with [`EnclosureItem::BEGINNING`] and then each CDO
/// ([`Reassembler::push_spdu`]).
///
/// Any error discards the partial SSDU and leaves the reassembler idle. Memory is bounded by
/// `max_ssdu` whatever the peer claims.
#[derive(Debug, Clone)]
pub struct Reassembler {
    buf: Vec<u8>,
    in_progress: bool,
    segments: usize,
    max_ssdu: usize,
    max_segments: usize,
}

impl Reassembler {
    /// An idle reassembler bounded by `limits`.
    pub fn new(limits: &Limits) -> Self {
        Reassembler {
            buf: Vec::new(),
            in_progress: false,
            segments: 0,
            max_ssdu: limits.max_ssdu,
            max_segments: limits.max_segments,
        }
    }

    /// Whether no SSDU is partly received.
    pub const fn is_idle(&self) -> bool {
        !self.in_progress
    }

    /// Octets held of the SSDU being reassembled.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops any partial SSDU.
    pub fn reset(&mut self) {
        self.buf = Vec::new();
        self.in_progress = false;
        self.segments = 0;
    }

    fn fail<T>(&mut self, kind: DecodeErrorKind) -> Result<T, DecodeError> {
        self.reset();
        Err(DecodeError::new(Layer::Session, 0, kind))
    }

    /// Adds one piece; returns the SSDU when it is complete.
    pub fn push<'d>(
        &mut self,
        enclosure: Option<EnclosureItem>,
        data: &'d [u8],
    ) -> Result<Option<Cow<'d, [u8]>>, DecodeError> {
        let e = enclosure.unwrap_or(EnclosureItem::WHOLE);
        let begins = e.contains(EnclosureItem::BEGINNING);
        let ends = e.contains(EnclosureItem::END);
        if begins && self.in_progress {
            return self.fail(DecodeErrorKind::BadSequence {
                what: "ssdu segment begins before the previous ssdu ended",
            });
        }
        if !begins && !self.in_progress {
            return self.fail(DecodeErrorKind::BadSequence {
                what: "ssdu segment without a beginning",
            });
        }
        if begins && ends {
            if data.len() > self.max_ssdu {
                return self.fail(DecodeErrorKind::LimitExceeded {
                    limit: "max_ssdu",
                    max: self.max_ssdu,
                });
            }
            return Ok(Some(Cow::Borrowed(data)));
        }
        self.segments = self.segments.saturating_add(1);
        if self.segments > self.max_segments {
            return self.fail(DecodeErrorKind::LimitExceeded {
                limit: "max_segments",
                max: self.max_segments,
            });
        }
        if data.len() > self.max_ssdu.saturating_sub(self.buf.len()) {
            return self.fail(DecodeErrorKind::LimitExceeded {
                limit: "max_ssdu",
                max: self.max_ssdu,
            });
        }
        self.in_progress = true;
        self.buf.extend_from_slice(data);
        if ends {
            let whole = core::mem::take(&mut self.buf);
            self.reset();
            return Ok(Some(Cow::Owned(whole)));
        }
        Ok(None)
    }

    /// Adds the SS-user data of an SPDU ([`Spdu::ss_user_data`]) with its Enclosure Item.
    pub fn push_spdu<'d>(&mut self, spdu: &Spdu<'d>) -> Result<Option<Cow<'d, [u8]>>, DecodeError> {
        self.push(spdu.enclosure_item(), spdu.ss_user_data())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::spdus;

    #[test]
    fn limits_table() {
        use SessionVersion::{V1, V2};
        assert_eq!(
            user_data_limit(V1, SpduKind::Cn),
            UserDataLimit::Octets(512)
        );
        assert_eq!(
            user_data_limit(V2, SpduKind::Cn),
            UserDataLimit::Octets(10_240)
        );
        assert_eq!(user_data_limit(V1, SpduKind::Ab), UserDataLimit::Octets(9));
        assert_eq!(user_data_limit(V2, SpduKind::Ab), UserDataLimit::SpduLength);
        assert_eq!(user_data_limit(V1, SpduKind::Gt), UserDataLimit::NotAllowed);
        assert_eq!(
            user_data_limit(V1, SpduKind::Cdo),
            UserDataLimit::NotAllowed
        );
        assert_eq!(
            user_data_limit(V2, SpduKind::Cdo),
            UserDataLimit::Octets(65_528)
        );
        assert_eq!(user_data_limit(V1, SpduKind::Dt), UserDataLimit::Unlimited);
    }

    #[test]
    fn connect_data_paths() {
        let small = ConnectData::new(SessionVersion::V1, &[0; 512]).unwrap();
        assert_eq!(small.code(), ParameterCode::USER_DATA);
        assert!(ConnectData::new(SessionVersion::V1, &[0; 513]).is_err());
        let mid = ConnectData::new(SessionVersion::V2, &[0; 513]).unwrap();
        assert_eq!(mid.code(), ParameterCode::EXTENDED_USER_DATA);
        assert!(!mid.needs_overflow());
        assert_eq!(mid.cdo_segments().count(), 0);
        let big = vec![1u8; 10_240 + 70_000];
        let cd = ConnectData::new(SessionVersion::V2, &big).unwrap();
        assert!(cd.needs_overflow());
        let segs: Vec<_> = cd.cdo_segments().collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].enclosure, Some(EnclosureItem::MIDDLE));
        assert_eq!(segs[0].data.len(), 65_528);
        assert_eq!(segs[1].enclosure, Some(EnclosureItem::END));
        let mut params = ParametersBuf::new();
        cd.append_connect_parameters(&mut params).unwrap();
        assert_eq!(
            &params.as_bytes()[..7],
            [0x3c, 1, 1, 0xc2, 0xff, 0x28, 0x00]
        );
        // Reassemble: CN data, then the CDOs.
        let mut r = Reassembler::new(&Limits::default());
        assert!(
            r.push(Some(EnclosureItem::BEGINNING), cd.in_connect())
                .unwrap()
                .is_none()
        );
        let mut out = None;
        for s in &segs {
            let p = s.user_data_parameters().unwrap();
            let spdu = Spdu::new(SpduKind::Cdo, p.as_parameters().unwrap());
            let bytes = spdu.to_vec().unwrap();
            let (d, _) = Spdu::decode(&bytes).unwrap();
            out = r.push_spdu(&d).unwrap().map(Cow::into_owned);
        }
        assert_eq!(out.as_deref(), Some(&big[..]));
    }

    #[test]
    fn segment_and_reassemble_dt() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut r = Reassembler::new(&Limits::default());
        let mut got = None;
        let mut n = 0;
        for seg in data_segments(&data, 107).unwrap() {
            let mut tsdu = Vec::new();
            seg.encode_data_tsdu(&mut tsdu).unwrap();
            assert!(tsdu.len() <= 107);
            let mut it = spdus(&tsdu);
            it.next().unwrap().unwrap();
            let dt = it.next().unwrap().unwrap();
            n += 1;
            if let Some(s) = r.push_spdu(&dt).unwrap() {
                got = Some(s.into_owned());
            }
        }
        assert_eq!(n, 10);
        assert_eq!(got.as_deref(), Some(&data[..]));
        let one: Vec<_> = data_segments(b"", 100).unwrap().collect();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].enclosure, Some(EnclosureItem::WHOLE));
        let whole: Vec<_> = data_segments(b"abc", 0).unwrap().collect();
        assert_eq!(whole[0].enclosure, None);
        assert!(data_segments(b"abc", 7).is_err());
    }

    #[test]
    fn reassembly_bounded() {
        let limits = Limits {
            max_ssdu: 10,
            ..Limits::default()
        };
        let mut r = Reassembler::new(&limits);
        assert!(
            r.push(Some(EnclosureItem::BEGINNING), &[0; 6])
                .unwrap()
                .is_none()
        );
        let e = r.push(Some(EnclosureItem::MIDDLE), &[0; 6]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LimitExceeded {
                limit: "max_ssdu",
                ..
            }
        ));
        assert!(r.is_idle());
        assert!(r.push(Some(EnclosureItem::END), &[0; 1]).is_err());
        assert!(
            r.push(Some(EnclosureItem::BEGINNING), &[0; 1])
                .unwrap()
                .is_none()
        );
        assert!(r.push(Some(EnclosureItem::BEGINNING), &[0; 1]).is_err());
        assert!(matches!(
            r.push(None, b"ab").unwrap(),
            Some(Cow::Borrowed(b"ab"))
        ));
        let limits = Limits {
            max_segments: 2,
            ..Limits::default()
        };
        let mut r = Reassembler::new(&limits);
        r.push(Some(EnclosureItem::BEGINNING), &[]).unwrap();
        r.push(Some(EnclosureItem::MIDDLE), &[]).unwrap();
        assert!(r.push(Some(EnclosureItem::MIDDLE), &[]).is_err());
    }
}
