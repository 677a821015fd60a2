//! User-data limits by version (X.225 Annex D, Table D.1), the connect data overflow path
//! (CN with Data Overflow → OA → CDO…, X.225 §7.1) and segmentation of SSDUs with the Enclosure
//! Item when a TSDU maximum size was negotiated (X.225 §8.4), with bounded reassembly.
//!
//! What is covered:
//!
//! - **Sending, any kind.** [`segment_ssdu`] cuts the SS-user data of an SPDU of any kind that
//!   carries an Enclosure Item ([`segmentable`]: AC, FN, DN, NF, AB, DT, TD, GT, PT, GTC, CD,
//!   CDA, MIP, MIA, MAP, MAA/AEA, AE, RS, RA, ED, AS, AR, AI, AIA, AD, ADA) into TSDUs of at
//!   most the negotiated TSDU maximum size, no SPDU over 65 539 octets. The first SPDU carries
//!   the SPDU's other parameters with PI 25 among them by code, and its piece in PGI 193 (DT,
//!   TD: in the user information field); the subsequent ones carry PI 25 and their piece only;
//!   a category-2 SPDU goes behind an empty GT or PT in each TSDU:
//!
//!   ```text
//!    TSDU max 16, FN with PI 17 and 12 octets:
//!    09 0e | 11 01 01 | 19 01 01 | c1 06 "abcdef"     first: PI 17, PI 25 = beginning
//!    09 0b | 19 01 02 | c1 06 "ghijkl"                last:  PI 25 = end, data only
//!    TSDU max 20, MIP (category 2, behind an empty GT) with PI 15 and PI 42, 8 octets:
//!    01 00 | 31 10 | 0f 01 01 | 19 01 01 | 2a 01 31 | c1 05 "ABCDE"
//!    01 00 | 31 08 | 19 01 02 | c1 03 "FGH"
//!   ```
//!
//!   [`data_segments`] is the DT case with the historical [`Segment`] API.
//! - **Connect overflow.** [`ConnectData`] splits S-CONNECT user data over CN (PGI 193/194,
//!   Data Overflow) and CDO SPDUs of at most 65 528 octets.
//! - **Receiving.** [`Reassembler`] joins pieces given with their Enclosure Item;
//!   [`SsduReassembler`] works on whole SPDUs of any kind (CN + CDO included) and checks the
//!   segment rules (same kind, PI 25 present, nothing but PI 25 and the data after the first
//!   SPDU), returning the SSDU with the first SPDU's kind and other parameters ([`Ssdu`]). Both
//!   are bounded by [`Limits::max_ssdu`] and [`Limits::max_segments`].
//!
//! Not covered: segmenting RF (its user data is inside the Reason Code, PI 50), CDO SPDUs
//! bounded by the TSDU maximum size of an OA (they are bounded by 65 528 octets only), and the
//! choice of when to segment (version 2 and PI 21 negotiated: the caller's).

use std::borrow::Cow;

use bytes::BufMut;

use crate::error::{
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer, ensure_room,
};
use crate::limits::Limits;

use super::codes::{
    Category, DataOverflow, EnclosureItem, ParameterCode, SessionVersion, SpduKind,
};
use super::params::{
    MAX_LENGTH, Parameters, ParametersBuf, Unit, length_len, put_length, too_large,
};
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

impl<'a> Segment<'a> {
    /// The GT + DT TSDU that carries this segment.
    const fn data_tsdu(&self) -> SsduTsdu<'a> {
        SsduTsdu {
            kind: SpduKind::Dt,
            lead: leading_spdu(SpduKind::Dt),
            params: ParamSplit::EMPTY,
            enclosure: self.enclosure,
            data: self.data,
        }
    }

    /// Octets [`Segment::encode_data_tsdu`] writes.
    pub const fn data_tsdu_len(&self) -> usize {
        self.data_tsdu().encoded_len()
    }

    /// Writes the segment as one TSDU: GT (no parameters), then DT with the Enclosure Item (if
    /// any) and the segment as user information field.
    pub fn encode_data_tsdu<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        self.data_tsdu().encode(buf)
    }

    /// Parameter field of a CDO (or other non-DT SPDU) carrying this segment: PI 25 then
    /// PGI 193. [`segment_ssdu`] builds whole TSDUs for every kind, with the SPDU's other
    /// parameters in the first one.
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
    /// Size of the first piece (the first SPDU also carries the SPDU's other parameters).
    first_chunk: usize,
    chunk: usize,
    first: bool,
    begins: bool,
    done: bool,
}

impl<'a> Segments<'a> {
    fn new(data: &'a [u8], chunk: usize, begins: bool) -> Self {
        Segments {
            rest: data,
            first_chunk: chunk.max(1),
            chunk: chunk.max(1),
            first: true,
            begins,
            done: data.is_empty() && !begins,
        }
    }

    /// The same segments with a first piece of `first_chunk` octets.
    fn with_first_chunk(mut self, first_chunk: usize) -> Self {
        self.first_chunk = first_chunk.max(1);
        self
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.done {
            return None;
        }
        let chunk = if self.first {
            self.first_chunk
        } else {
            self.chunk
        };
        let (data, rest) = self.rest.split_at(self.rest.len().min(chunk));
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

/// The pieces of an SSDU for one direction (X.225 §8.4, segmenting): the pieces of DT SPDUs
/// ([`data_segments`]), and of any kind inside [`SsduTsdus`].
#[derive(Debug, Clone)]
pub enum DataSegments<'a> {
    /// No TSDU maximum size: the whole SSDU in one SPDU without Enclosure Item.
    Whole(Option<Segment<'a>>),
    /// Segmented: every SPDU carries an Enclosure Item (`03` when one SPDU holds it all).
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
/// and is refused. This is [`segment_ssdu`] for DT with no other parameter.
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
    pieces(
        SpduKind::Dt,
        leading_spdu(SpduKind::Dt),
        &ParamSplit::EMPTY,
        data,
        tsdu_maximum_size,
    )
}

// ---- segmentation of any SPDU kind ------------------------------------------------------------

/// Whether [`segment_ssdu`] splits SSDUs of `kind`: the kinds whose parameter field has an
/// Enclosure Item (PI 25) in X.225 (1995) §8.3 — AC, FN, DN, NF, AB, DT, TD, GT, PT, GTC, CD,
/// CDA, MIP, MIA, MAP, MAA/AEA, AE, RS, RA, ED, AS, AR, AI, AIA, AD, ADA — except CDO, which
/// carries the overflow of a CN ([`ConnectData::cdo_segments`]), and RF, whose SS-user data
/// sits inside the Reason Code (PI 50) rather than in PGI 193 (how subsequent RF SPDUs carry
/// it is not spelled out, so it is not guessed here). CN (user data beyond 10 240 octets goes
/// through the overflow path), OA, AA, EX, PR, GTA and ER have no Enclosure Item.
pub const fn segmentable(kind: SpduKind) -> bool {
    use SpduKind as K;
    matches!(
        kind,
        K::Ac
            | K::Fn
            | K::Dn
            | K::Nf
            | K::Ab
            | K::Dt
            | K::Td
            | K::Gt
            | K::Pt
            | K::Gtc
            | K::Cd
            | K::Cda
            | K::Mip
            | K::Mia
            | K::Map
            | K::MaaOrAea
            | K::Ae
            | K::Rs
            | K::Ra
            | K::Ed
            | K::As
            | K::Ar
            | K::Ai
            | K::Aia
            | K::Ad
            | K::Ada
    )
}

/// The empty category-0 SPDU a category-2 `kind` follows in its TSDU (basic concatenation,
/// X.225 Table 7, as the association sends them): PT in front of the answers (MIA, MAA/AEA,
/// RA, AIA, ADA, CDA), of AR and of ER/ED, GT in front of the others; `None` for the kinds
/// that stand alone.
const fn leading_spdu(kind: SpduKind) -> Option<SpduKind> {
    use SpduKind as K;
    match kind.category() {
        Category::Two => Some(match kind {
            K::Mia | K::MaaOrAea | K::Ra | K::Aia | K::Ada | K::Cda | K::Ar | K::Er | K::Ed => {
                K::Pt
            }
            _ => K::Gt,
        }),
        _ => None,
    }
}

/// Why `kind` is refused by [`segment_ssdu`].
fn unsegmentable(kind: SpduKind) -> EncodeError {
    EncodeError::new(
        Layer::Session,
        EncodeErrorKind::InvalidValue {
            what: match kind {
                SpduKind::Cn => {
                    "spdu type to segment: cn user data over 10 240 octets goes in cdo spdus \
                     (ConnectData), spdu identifier"
                }
                SpduKind::Cdo => {
                    "spdu type to segment: cdo spdus come from ConnectData::cdo_segments, \
                     spdu identifier"
                }
                SpduKind::Rf => {
                    "spdu type to segment: rf user data sits in the reason code, spdu identifier"
                }
                _ => "spdu type to segment: no enclosure item in this spdu, spdu identifier",
            },
            value: u64::from(kind.si().0),
        },
    )
}

/// Whether `code` is one of the units segmentation writes: the Enclosure Item (PI 25), User Data
/// (PGI 193) and Extended User Data (PGI 194).
const fn written_by_segmenter(code: ParameterCode) -> bool {
    matches!(code.0, 25 | 193 | 194)
}

/// The parameter field of the first SPDU of an SSDU, cut where the Enclosure Item and the User
/// Data go so that codes stay in increasing order (X.225 §8.2.6): the units before the first
/// code above 25, those before the first code above 193, and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ParamSplit<'a> {
    below_enclosure: &'a [u8],
    below_user_data: &'a [u8],
    above_user_data: &'a [u8],
}

impl<'a> ParamSplit<'a> {
    /// No parameter besides PI 25 and the user data (the subsequent SPDUs).
    const EMPTY: ParamSplit<'static> = ParamSplit {
        below_enclosure: &[],
        below_user_data: &[],
        above_user_data: &[],
    };

    /// Cuts `params`; refuses PI 25, PGI 193 and PGI 194, which the segmenter writes.
    fn new(params: Parameters<'a>) -> Result<Self, EncodeError> {
        let raw = params.as_bytes();
        let (mut enclosure_at, mut user_data_at) = (None, None);
        for unit in params.iter() {
            let code = unit.code();
            if written_by_segmenter(code) {
                return Err(EncodeError::new(
                    Layer::Session,
                    EncodeErrorKind::InvalidValue {
                        what: "parameter the segmenter writes itself (enclosure item, user data)",
                        value: u64::from(code.0),
                    },
                ));
            }
            if code > ParameterCode::ENCLOSURE_ITEM && enclosure_at.is_none() {
                enclosure_at = Some(unit.offset());
            }
            if code > ParameterCode::USER_DATA && user_data_at.is_none() {
                user_data_at = Some(unit.offset());
            }
        }
        let user_data_at = user_data_at.unwrap_or(raw.len());
        let enclosure_at = enclosure_at.unwrap_or(raw.len()).min(user_data_at);
        let (low, above_user_data) = raw.split_at_checked(user_data_at).unwrap_or((raw, &[]));
        let (below_enclosure, below_user_data) =
            low.split_at_checked(enclosure_at).unwrap_or((low, &[]));
        Ok(ParamSplit {
            below_enclosure,
            below_user_data,
            above_user_data,
        })
    }

    const fn len(&self) -> usize {
        self.below_enclosure
            .len()
            .saturating_add(self.below_user_data.len())
            .saturating_add(self.above_user_data.len())
    }
}

/// Length of the parameter field of an SPDU of `kind` with `params` octets of other parameters,
/// an Enclosure Item or not, and `data` octets of SS-user data (in PGI 193, left out when
/// empty; DT and TD carry it in the user information field instead).
const fn param_field_len(kind: SpduKind, params: usize, enclosure: bool, data: usize) -> usize {
    let mut len = params;
    if enclosure {
        len = len.saturating_add(3);
    }
    if !kind.has_user_information() && data > 0 {
        len = len
            .saturating_add(1)
            .saturating_add(length_len(data, false))
            .saturating_add(data);
    }
    len
}

/// Length of a TSDU holding the leading GT/PT (if any) and that SPDU.
const fn tsdu_len(
    kind: SpduKind,
    lead: Option<SpduKind>,
    params: usize,
    enclosure: bool,
    data: usize,
) -> usize {
    let field = param_field_len(kind, params, enclosure, data);
    let user_information = if kind.has_user_information() { data } else { 0 };
    let lead: usize = if lead.is_some() { 2 } else { 0 };
    lead.saturating_add(1)
        .saturating_add(length_len(field, false))
        .saturating_add(field)
        .saturating_add(user_information)
}

/// The largest `n` in `1..=upper` for which `fits(n)` holds, `fits` being monotone (true up to
/// some point, false after); `None` when `fits(1)` fails.
fn largest_chunk(fits: impl Fn(usize) -> bool, upper: usize) -> Option<usize> {
    if upper == 0 || !fits(1) {
        return None;
    }
    let (mut lo, mut hi) = (1usize, upper);
    while lo < hi {
        let mid = lo.midpoint(hi).saturating_add(1);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid.saturating_sub(1);
        }
    }
    Some(lo)
}

/// Cuts `data` for SPDUs of `kind` whose first one also carries `split`, so that each TSDU
/// (with `lead` in front) fits in `tsdu_maximum_size` octets and each SPDU in 65 539.
fn pieces<'a>(
    kind: SpduKind,
    lead: Option<SpduKind>,
    split: &ParamSplit<'_>,
    data: &'a [u8],
    tsdu_maximum_size: usize,
) -> Result<DataSegments<'a>, EncodeError> {
    if tsdu_maximum_size == 0 {
        let field = param_field_len(kind, split.len(), false, data.len());
        if field > MAX_LENGTH {
            return Err(EncodeError::new(
                Layer::Session,
                EncodeErrorKind::ValueTooLarge {
                    what: "spdu parameter field with the user data (no tsdu maximum size \
                           negotiated, so no segmenting)",
                    value: field,
                    max: MAX_LENGTH,
                },
            ));
        }
        return Ok(DataSegments::Whole(Some(Segment {
            enclosure: None,
            data,
        })));
    }
    let spdu_room = if lead.is_some() { 2usize } else { 0 }.saturating_add(MAX_SPDU_LEN);
    let budget = tsdu_maximum_size.min(spdu_room);
    let needed = tsdu_len(kind, lead, split.len(), true, 1);
    let fits = |params: usize| move |n: usize| tsdu_len(kind, lead, params, true, n) <= budget;
    let Some(first) = largest_chunk(fits(split.len()), budget) else {
        return Err(EncodeError::new(
            Layer::Session,
            if needed > spdu_room {
                EncodeErrorKind::ValueTooLarge {
                    what: "spdu parameter field with an enclosure item and one octet of data",
                    value: param_field_len(kind, split.len(), true, 1),
                    max: MAX_LENGTH,
                }
            } else {
                EncodeErrorKind::ValueTooSmall {
                    what: "tsdu maximum size (the first spdu's parameters, an enclosure item \
                           and one octet of data)",
                    value: tsdu_maximum_size,
                    min: needed,
                }
            },
        ));
    };
    let next = largest_chunk(fits(0), budget).unwrap_or(first);
    Ok(DataSegments::Segmented(
        Segments::new(data, next, true).with_first_chunk(first),
    ))
}

/// Splits an SSDU carried by SPDUs of `kind` into TSDUs that each fit in `tsdu_maximum_size`
/// octets (X.225 §8.4, segmenting; version 2).
///
/// `parameters` are the SPDU's parameters other than the Enclosure Item and the user data (for
/// an FN, its Transport Disconnect; for an AS, its Activity Identifier …), in increasing code
/// order; they go in the first SPDU only. Every SPDU gets an Enclosure Item (PI 25, bit 1 on
/// the first, bit 2 on the last, `03` when one SPDU holds the whole SSDU, an empty one
/// included), placed among the parameters by code, and its piece of `data` in PGI 193 (left
/// out when empty) — or, for DT and TD, in the user information field. The subsequent SPDUs
/// carry only PI 25 and the data. A category-2 kind goes behind an empty GT or PT (basic
/// concatenation, X.225 Table 7: PT in front of MIA, MAA/AEA, RA, AIA, ADA, CDA, AR and ED, GT
/// in front of the others), counted in the size.
///
/// `tsdu_maximum_size` is the TSDU Maximum Size negotiated for this direction (PI 21 of CN and
/// AC). Whatever its value, no SPDU exceeds 65 539 octets ([`MAX_SPDU_LEN`]). With 0 (nothing
/// negotiated) the SSDU goes whole in one SPDU without Enclosure Item, whose parameter field
/// must then fit in 65 535 octets (DT and TD: any length).
///
/// Refused, with an [`EncodeError`] of the session layer: a kind that is not
/// [`segmentable`] (CN, CDO, RF, OA, AA, EX, PR, GTA, ER); `parameters` holding PI 25, PGI 193
/// or PGI 194; a maximum size too small for the first SPDU's parameters, its Enclosure Item and
/// one octet of data (`ValueTooSmall`, naming the smallest size that works); and with size 0
/// an SPDU too large.
///
/// Whether the version and the peer allow segmenting (version 2, PI 21 negotiated) is the
/// caller's decision. Nothing is copied: each [`SsduTsdu`] borrows `parameters` and `data`.
///
/// ```
/// use osi_stack::session::{EnclosureItem, ParametersBuf, ParameterCode, SpduKind, segment_ssdu};
/// // FN keeping the transport connection released (PI 17 = 1), 12 octets of data, at most
/// // 16 octets per TSDU.
/// let mut p = ParametersBuf::new();
/// p.u8(ParameterCode::TRANSPORT_DISCONNECT, 1)?;
/// let params = p.as_parameters()?;
/// let tsdus = segment_ssdu(SpduKind::Fn, params, b"abcdefghijkl", 16)?
///     .map(|t| t.to_vec())
///     .collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(tsdus[0], b"\x09\x0e\x11\x01\x01\x19\x01\x01\xc1\x06abcdef");
/// assert_eq!(tsdus[1], b"\x09\x0b\x19\x01\x02\xc1\x06ghijkl");
///
/// // An AS goes behind a GT; its Activity Identifier (PI 41) follows the Enclosure Item.
/// let mut p = ParametersBuf::new();
/// p.unit(ParameterCode::ACTIVITY_IDENTIFIER, b"7")?;
/// let params = p.as_parameters()?;
/// let mut it = segment_ssdu(SpduKind::As, params, b"xy", 100)?;
/// let only = it.next().unwrap();
/// assert_eq!(only.enclosure(), Some(EnclosureItem::WHOLE));
/// assert_eq!(only.to_vec()?, b"\x01\x00\x2d\x0a\x19\x01\x03\x29\x01\x37\xc1\x02xy");
/// assert!(it.next().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn segment_ssdu<'a>(
    kind: SpduKind,
    parameters: Parameters<'a>,
    data: &'a [u8],
    tsdu_maximum_size: usize,
) -> Result<SsduTsdus<'a>, EncodeError> {
    if !segmentable(kind) {
        return Err(unsegmentable(kind));
    }
    let split = ParamSplit::new(parameters)?;
    let lead = leading_spdu(kind);
    let pieces = pieces(kind, lead, &split, data, tsdu_maximum_size)?;
    Ok(SsduTsdus {
        kind,
        lead,
        first: Some(split),
        pieces,
    })
}

/// The TSDUs of one SSDU, from [`segment_ssdu`].
#[derive(Debug, Clone)]
pub struct SsduTsdus<'a> {
    kind: SpduKind,
    lead: Option<SpduKind>,
    /// The first SPDU's other parameters, until the first TSDU is out.
    first: Option<ParamSplit<'a>>,
    pieces: DataSegments<'a>,
}

impl SsduTsdus<'_> {
    /// The SPDU kind.
    pub const fn kind(&self) -> SpduKind {
        self.kind
    }
}

impl<'a> Iterator for SsduTsdus<'a> {
    type Item = SsduTsdu<'a>;

    fn next(&mut self) -> Option<SsduTsdu<'a>> {
        let piece = self.pieces.next()?;
        Some(SsduTsdu {
            kind: self.kind,
            lead: self.lead,
            params: self.first.take().unwrap_or(ParamSplit::EMPTY),
            enclosure: piece.enclosure,
            data: piece.data,
        })
    }
}

impl core::iter::FusedIterator for SsduTsdus<'_> {}

/// One TSDU of a segmented SSDU: an empty GT or PT for a category-2 kind, then one SPDU with its
/// Enclosure Item and piece of SS-user data (and, for the first, the other parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SsduTsdu<'a> {
    kind: SpduKind,
    lead: Option<SpduKind>,
    params: ParamSplit<'a>,
    enclosure: Option<EnclosureItem>,
    data: &'a [u8],
}

impl<'a> SsduTsdu<'a> {
    /// The SPDU kind.
    pub const fn kind(&self) -> SpduKind {
        self.kind
    }

    /// The Enclosure Item; `None` when no TSDU maximum size was negotiated.
    pub const fn enclosure(&self) -> Option<EnclosureItem> {
        self.enclosure
    }

    /// This TSDU's piece of the SS-user data.
    pub const fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Octets [`SsduTsdu::encode`] writes.
    pub const fn encoded_len(&self) -> usize {
        tsdu_len(
            self.kind,
            self.lead,
            self.params.len(),
            self.enclosure.is_some(),
            self.data.len(),
        )
    }

    /// Writes the TSDU. Fails, writing nothing, when `buf` has less room than
    /// [`SsduTsdu::encoded_len`].
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let field = param_field_len(
            self.kind,
            self.params.len(),
            self.enclosure.is_some(),
            self.data.len(),
        );
        if field > MAX_LENGTH {
            return Err(too_large("spdu parameter field", field));
        }
        ensure_room(Layer::Session, buf, self.encoded_len())?;
        if let Some(lead) = self.lead {
            buf.put_slice(&[lead.si().0, 0]);
        }
        buf.put_u8(self.kind.si().0);
        put_length(buf, field, false);
        buf.put_slice(self.params.below_enclosure);
        if let Some(e) = self.enclosure {
            buf.put_slice(&[ParameterCode::ENCLOSURE_ITEM.0, 1, e.get()]);
        }
        buf.put_slice(self.params.below_user_data);
        let in_pgi = !self.kind.has_user_information();
        if in_pgi && !self.data.is_empty() {
            buf.put_u8(ParameterCode::USER_DATA.0);
            put_length(buf, self.data.len(), false);
            buf.put_slice(self.data);
        }
        buf.put_slice(self.params.above_user_data);
        if !in_pgi {
            buf.put_slice(self.data);
        }
        Ok(())
    }

    /// The encoding as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        Ok(v)
    }
}

/// Reassembles segmented SSDUs (DT or other SPDUs with Enclosure Item, CN + CDO overflow) under
/// [`Limits::max_ssdu`] and [`Limits::max_segments`] (X.225 §8.4, segmenting).
///
/// Push each piece with its Enclosure Item; the SSDU comes out when a piece has bit 2 (end). A
/// piece with no Enclosure Item, or with `03`, is a whole SSDU and is returned borrowed. For the
/// connect overflow path, push the CN's data with [`EnclosureItem::BEGINNING`] and then each CDO
/// ([`Reassembler::push_spdu`]). It checks only the Enclosure Items; [`SsduReassembler`]
/// checks whole SPDUs (kind, parameters) and keeps the first one's parameters.
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

/// Reassembles the SSDUs of every SPDU kind that carries an Enclosure Item, and of a CN with
/// Data Overflow followed by its CDOs (X.225 §8.4, §7.1), keeping what the first SPDU said.
///
/// Push every SPDU that carries SS-user data ([`SsduReassembler::push`]; not the empty GT or
/// PT in front of a category-2 SPDU). An SPDU without Enclosure Item, or with `03`, is a whole
/// SSDU and comes back borrowed. Otherwise the first SPDU (Enclosure Item bit 1, or a CN whose
/// Data Overflow is set) opens an SSDU and every subsequent one must:
///
/// - be of the same kind (MAP continues as AE: subsequent SPDUs have no Sync Type Item, so
///   SI 41 decodes as AE; a CN continues with CDOs);
/// - carry an Enclosure Item without bit 1;
/// - carry no parameter other than PI 25 and PGI 193 (for DT and TD: PI 25 only, the data
///   being the user information field). A unit with LI = 0 stands for an absent parameter and
///   is ignored (X.225 §8.2.5).
///
/// The SSDU comes out with the SPDU that has bit 2 (end), as an [`Ssdu`] holding the first
/// SPDU's kind and its other parameters. Errors are of the session layer, their offset is that
/// of the offending unit within the pushed SPDU (0 for a wrong SPDU identifier, the start of
/// the parameter field for a missing Enclosure Item, the Enclosure Item for a bad sequence, the
/// user data when a limit is exceeded); any error discards the partial SSDU and leaves the
/// reassembler idle.
///
/// Memory is bounded whatever the peer sends: the data by [`Limits::max_ssdu`] (and the number
/// of pieces by [`Limits::max_segments`], see [`Reassembler`]), the first SPDU's other
/// parameters by the size of an SPDU's parameter field (65 535 octets).
///
/// ```
/// use osi_stack::session::{ParameterCode, SsduReassembler, spdus};
/// use osi_stack::Limits;
/// let mut r = SsduReassembler::new(&Limits::default());
/// // An FN in two TSDUs: PI 17 and PI 25 (beginning) + "abc", then PI 25 (end) + "de".
/// let first = b"\x09\x0b\x11\x01\x01\x19\x01\x01\xc1\x03abc";
/// let last = b"\x09\x07\x19\x01\x02\xc1\x02de";
/// let fn1 = spdus(first).next().unwrap()?;
/// assert!(r.push(&fn1)?.is_none());
/// let fn2 = spdus(last).next().unwrap()?;
/// let ssdu = r.push(&fn2)?.unwrap();
/// assert_eq!(ssdu.data(), b"abcde");
/// assert_eq!(ssdu.parameters().as_bytes(), [0x11, 0x01, 0x01]);
/// assert_eq!(ssdu.spdu().transport_disconnect().map(|t| t.get()), Some(1));
/// assert!(r.is_idle());
/// # Ok::<(), osi_stack::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SsduReassembler {
    data: Reassembler,
    /// The kind and other parameters of the first SPDU of the SSDU in progress.
    first: Option<(SpduKind, Vec<u8>)>,
}

/// An SSDU out of an [`SsduReassembler`]: the SS-user data and what the first SPDU said.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ssdu<'d> {
    kind: SpduKind,
    parameters: Cow<'d, [u8]>,
    data: Cow<'d, [u8]>,
}

impl<'d> Ssdu<'d> {
    /// The kind of the first SPDU (for a CN continued by CDOs: CN).
    pub const fn kind(&self) -> SpduKind {
        self.kind
    }

    /// The first SPDU's parameters without Enclosure Item, User Data and Extended User Data,
    /// each unit as it was encoded.
    pub fn parameters(&self) -> Parameters<'_> {
        Parameters::checked(&self.parameters)
    }

    /// The first SPDU with those parameters, for its typed accessors
    /// ([`Spdu::transport_disconnect`], [`Spdu::activity_identifier`], …).
    pub fn spdu(&self) -> Spdu<'_> {
        Spdu::new(self.kind, self.parameters())
    }

    /// The SS-user data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The SS-user data, borrowed from the SPDU when it came whole.
    pub fn into_data(self) -> Cow<'d, [u8]> {
        self.data
    }

    /// The same SSDU owning its octets.
    pub fn into_owned(self) -> Ssdu<'static> {
        Ssdu {
            kind: self.kind,
            parameters: Cow::Owned(self.parameters.into_owned()),
            data: Cow::Owned(self.data.into_owned()),
        }
    }
}

/// The parameter units of `params` other than PI 25, PGI 193 and PGI 194: borrowed when they
/// sit together (an FN's PI 17 before its PI 25, an AS's PI 41 after it), copied otherwise (a
/// MIP's PI 15 and PI 42 on either side of its PI 25).
fn other_parameters(params: Parameters<'_>) -> Cow<'_, [u8]> {
    let kept = |u: &Unit<'_>| !written_by_segmenter(u.code());
    let raw = params.as_bytes();
    let encoded = |u: Unit<'_>| {
        raw.get(u.offset()..u.offset().saturating_add(u.encoded_len()))
            .unwrap_or_default()
    };
    let (mut span, mut len) = (None, 0usize);
    for u in params.iter().filter(kept) {
        let end = u.offset().saturating_add(u.encoded_len());
        span = Some((span.map_or(u.offset(), |(start, _)| start), end));
        len = len.saturating_add(u.encoded_len());
    }
    match span {
        None => Cow::Borrowed(&[]),
        Some((start, end)) if end.saturating_sub(start) == len => {
            Cow::Borrowed(raw.get(start..end).unwrap_or_default())
        }
        Some(_) => Cow::Owned(
            params
                .iter()
                .filter(kept)
                .flat_map(encoded)
                .copied()
                .collect(),
        ),
    }
}

/// Whether `next` may carry a subsequent segment of an SSDU begun by `first`.
fn continues(first: SpduKind, next: SpduKind) -> bool {
    first == next
        || (first == SpduKind::Map && next == SpduKind::Ae)
        || (first == SpduKind::Cn && next == SpduKind::Cdo)
}

/// Offsets within an SPDU that errors name: its Enclosure Item (or the start of the parameter
/// field) and its SS-user data.
struct Located {
    field: usize,
    enclosure: usize,
    data: usize,
}

impl Located {
    fn of(spdu: &Spdu<'_>) -> Self {
        let params = spdu.parameters();
        let field: usize = if spdu.long_length() { 4 } else { 2 };
        let unit = |code| {
            params
                .iter()
                .find(|u| u.code() == code && !u.is_empty())
                .map(|u| field.saturating_add(u.offset()))
        };
        let enclosure = unit(ParameterCode::ENCLOSURE_ITEM).unwrap_or(field);
        let data = if spdu.kind().has_user_information() {
            field.saturating_add(params.len())
        } else if spdu.kind() == SpduKind::Rf {
            unit(ParameterCode::REASON_CODE).unwrap_or(enclosure)
        } else {
            unit(ParameterCode::EXTENDED_USER_DATA)
                .or_else(|| unit(ParameterCode::USER_DATA))
                .unwrap_or(enclosure)
        };
        Located {
            field,
            enclosure,
            data,
        }
    }

    /// Places an error of [`Reassembler::push`] (offset 0): a limit at the data, a sequence
    /// error at the Enclosure Item.
    fn place(&self, e: DecodeError) -> DecodeError {
        match e.kind() {
            DecodeErrorKind::LimitExceeded { .. } => e.shifted(self.data),
            _ => e.shifted(self.enclosure),
        }
    }
}

impl SsduReassembler {
    /// An idle reassembler bounded by `limits`.
    pub fn new(limits: &Limits) -> Self {
        SsduReassembler {
            data: Reassembler::new(limits),
            first: None,
        }
    }

    /// Whether no SSDU is partly received.
    pub const fn is_idle(&self) -> bool {
        self.first.is_none()
    }

    /// The kind of the SSDU being reassembled, if any.
    pub fn in_progress(&self) -> Option<SpduKind> {
        self.first.as_ref().map(|(kind, _)| *kind)
    }

    /// Octets held of the SS-user data being reassembled.
    pub fn buffered(&self) -> usize {
        self.data.buffered()
    }

    /// Drops any partial SSDU.
    pub fn reset(&mut self) {
        self.data.reset();
        self.first = None;
    }

    fn fail<T>(&mut self, offset: usize, kind: DecodeErrorKind) -> Result<T, DecodeError> {
        self.reset();
        Err(DecodeError::new(Layer::Session, offset, kind))
    }

    /// Adds one SPDU; returns the SSDU when it is complete.
    pub fn push<'d>(&mut self, spdu: &Spdu<'d>) -> Result<Option<Ssdu<'d>>, DecodeError> {
        let at = Located::of(spdu);
        match self.in_progress() {
            None => self.begin(spdu, &at),
            Some(first) => self.continue_with(first, spdu, &at),
        }
    }

    fn begin<'d>(
        &mut self,
        spdu: &Spdu<'d>,
        at: &Located,
    ) -> Result<Option<Ssdu<'d>>, DecodeError> {
        let kind = spdu.kind();
        if kind == SpduKind::Cdo {
            return self.fail(
                0,
                DecodeErrorKind::BadSequence {
                    what: "cdo without a connect announcing data overflow",
                },
            );
        }
        let overflow = kind == SpduKind::Cn
            && spdu
                .data_overflow()
                .is_some_and(|d| d.contains(DataOverflow::MORE_DATA));
        let enclosure = if overflow {
            Some(EnclosureItem::BEGINNING)
        } else {
            spdu.enclosure_item()
        };
        if !overflow
            && enclosure.is_some_and(|e| !e.contains(EnclosureItem::WHOLE))
            && !segmentable(kind)
        {
            return self.fail(
                at.enclosure,
                DecodeErrorKind::ForbiddenParameter {
                    pdu: kind.abbreviation(),
                    code: ParameterCode::ENCLOSURE_ITEM.0,
                },
            );
        }
        let parameters = other_parameters(spdu.parameters());
        let whole = self
            .data
            .push(enclosure, spdu.ss_user_data())
            .map_err(|e| at.place(e))?;
        Ok(match whole {
            Some(data) => Some(Ssdu {
                kind,
                parameters,
                data,
            }),
            None => {
                self.first = Some((kind, parameters.into_owned()));
                None
            }
        })
    }

    fn continue_with<'d>(
        &mut self,
        first: SpduKind,
        spdu: &Spdu<'d>,
        at: &Located,
    ) -> Result<Option<Ssdu<'d>>, DecodeError> {
        let kind = spdu.kind();
        if !continues(first, kind) {
            return self.fail(
                0,
                DecodeErrorKind::UnexpectedCode {
                    what: "spdu identifier within a segmented ssdu",
                    code: spdu.si().0,
                },
            );
        }
        let Some(enclosure) = spdu.enclosure_item() else {
            return self.fail(
                at.field,
                DecodeErrorKind::Missing {
                    what: "enclosure item in a subsequent segment",
                },
            );
        };
        // A second beginning is reported by the data reassembler, at the Enclosure Item.
        if !enclosure.contains(EnclosureItem::BEGINNING) {
            let allowed = |code: ParameterCode| {
                code == ParameterCode::ENCLOSURE_ITEM
                    || (code == ParameterCode::USER_DATA && !kind.has_user_information())
            };
            if let Some(u) = spdu
                .parameters()
                .iter()
                .find(|u| !u.is_empty() && !allowed(u.code()))
            {
                return self.fail(
                    at.field.saturating_add(u.offset()),
                    DecodeErrorKind::ForbiddenParameter {
                        pdu: kind.abbreviation(),
                        code: u.code().0,
                    },
                );
            }
        }
        let done = match self.data.push(Some(enclosure), spdu.ss_user_data()) {
            Ok(done) => done,
            Err(e) => {
                self.reset();
                return Err(at.place(e));
            }
        };
        Ok(done.and_then(|data| {
            self.first.take().map(|(kind, parameters)| Ssdu {
                kind,
                parameters: Cow::Owned(parameters),
                data,
            })
        }))
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

    #[test]
    fn largest_chunk_edges() {
        assert_eq!(largest_chunk(|_| true, 0), None);
        assert_eq!(largest_chunk(|n| n <= 1, 1), Some(1));
        assert_eq!(largest_chunk(|n| n <= 7, 100), Some(7));
        assert_eq!(largest_chunk(|_| true, 65_541), Some(65_541));
        assert_eq!(largest_chunk(|n| n == 0, 10), None);
    }

    #[test]
    fn other_parameters_borrow_when_together() {
        // FN: PI 17, PI 25, PGI 193 — PI 17 stays, borrowed.
        let fn_field = [0x11, 1, 1, 0x19, 1, 1, 0xc1, 2, 0xaa, 0xbb];
        let p = Parameters::new(&fn_field).unwrap();
        let kept = other_parameters(p);
        assert!(matches!(kept, Cow::Borrowed(b) if b == [0x11, 1, 1]));
        // AS: PI 25, PI 41, PGI 193 — PI 41 stays, borrowed too.
        let as_field = [0x19, 1, 1, 0x29, 1, 0x37, 0xc1, 1, 0xaa];
        let kept = other_parameters(Parameters::new(&as_field).unwrap());
        assert!(matches!(kept, Cow::Borrowed(b) if b == [0x29, 1, 0x37]));
        // MIP: PI 15, PI 25, PI 42 — PI 25 between: copied.
        let mip_field = [0x0f, 1, 1, 0x19, 1, 1, 0x2a, 1, 0x31];
        let kept = other_parameters(Parameters::new(&mip_field).unwrap());
        assert!(matches!(kept, Cow::Owned(ref b) if b == &[0x0f, 1, 1, 0x2a, 1, 0x31]));
        assert!(other_parameters(Parameters::EMPTY).is_empty());
    }
}
