//! Segmentation of a TSDU into DT TPDUs and reassembly of DT TPDUs into a TSDU (X.224 §6.3).
//!
//! A TSDU goes out as DT, DT, …, DT(EOT = 1), each carrying at most the negotiated TPDU size
//! minus the 3-octet class-0 header. Every DT but the last carries at least one octet; an empty
//! TSDU is a single empty DT with EOT set.
//!
//! The [`Reassembler`] appends DT data until EOT, refusing to hold more than
//! [`Limits::max_tsdu`] octets or [`Limits::max_segments`] DTs, so a peer that never sets EOT
//! cannot make it grow without bound. A TSDU that arrives in one DT is handed back as a borrowed
//! slice of that DT: no copy.
//!
//! # Example
//!
//! ```
//! use osi_stack::Limits;
//! use osi_stack::cotp::{Reassembler, Segments, Tsdu};
//!
//! let tsdu = vec![0x5a; 300];
//! let mut reassembler = Reassembler::new(Limits::default());
//! let mut out = None;
//! for dt in Segments::new(&tsdu, 128) {
//!     // 125 + 125 + 50 octets: EOT only on the third DT.
//!     out = reassembler.push(&dt)?;
//! }
//! assert!(matches!(out, Some(Tsdu::Reassembled(ref t)) if t[..] == tsdu[..]));
//!
//! // A peer that keeps sending DTs without EOT hits the limit instead of filling memory.
//! let mut small = Reassembler::new(Limits::default().with_max_tsdu(200));
//! let mut dts = Segments::new(&tsdu, 128);
//! small.push(&dts.next().unwrap())?;
//! let err = small.push(&dts.next().unwrap()).unwrap_err();
//! assert_eq!(err.to_string(), "cotp: max tsdu limit of 200 exceeded at offset 0");
//! # Ok::<(), osi_stack::DecodeError>(())
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::cotp::{Data, TpduCode};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer};
use crate::limits::Limits;
use crate::tpkt;

/// Octets of a class-0 DT header (LI, code, EOT/NR).
pub const DT_HEADER_LEN: usize = 3;

/// The largest amount of user data a class-0 DT of `tpdu_size` octets carries, at least 1 and at
/// most what one TPKT can hold.
pub const fn max_dt_data(tpdu_size: usize) -> usize {
    let size = if tpdu_size > tpkt::MAX_TPDU_LEN {
        tpkt::MAX_TPDU_LEN
    } else {
        tpdu_size
    };
    let data = size.saturating_sub(DT_HEADER_LEN);
    if data == 0 { 1 } else { data }
}

/// Iterator over the class-0 DTs that carry one TSDU, built by [`Segments::new`].
///
/// ```
/// use osi_stack::cotp::Segments;
/// let tsdu = [7u8; 130];
/// let dts: Vec<_> = Segments::new(&tsdu, 128).collect();
/// assert_eq!(dts.len(), 2);
/// assert_eq!((dts[0].user_data.len(), dts[0].eot), (125, false));
/// assert_eq!((dts[1].user_data.len(), dts[1].eot), (5, true));
/// ```
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    rest: &'a [u8],
    max_data: usize,
    done: bool,
}

impl<'a> Segments<'a> {
    /// Splits `tsdu` into DTs for a connection whose TPDU size is `tpdu_size` octets.
    pub const fn new(tsdu: &'a [u8], tpdu_size: usize) -> Self {
        Segments {
            rest: tsdu,
            max_data: max_dt_data(tpdu_size),
            done: false,
        }
    }

    /// The number of DTs a TSDU of `len` octets takes at `tpdu_size`.
    pub const fn count(len: usize, tpdu_size: usize) -> usize {
        let max = max_dt_data(tpdu_size);
        if len == 0 { 1 } else { len.div_ceil(max) }
    }

    /// Octets that [`Segments::encode`] writes for a TSDU of `len` octets: one TPKT and DT
    /// header a segment plus the data.
    pub const fn encoded_len(len: usize, tpdu_size: usize) -> usize {
        Self::count(len, tpdu_size)
            .saturating_mul(tpkt::HEADER_LEN + DT_HEADER_LEN)
            .saturating_add(len)
    }

    /// Writes every remaining DT, each in its own TPKT, into `buf`. Checks the room first, so
    /// nothing is written when `buf` is too small.
    #[inline]
    pub fn encode<B: BufMut + ?Sized>(self, buf: &mut B) -> Result<(), EncodeError> {
        if self.done {
            return Ok(());
        }
        let len = self.rest.len();
        let needed = if len <= self.max_data {
            // One DT carries the whole rest (the common case): its header, then the data.
            let needed = FRAME_HEADER_LEN.saturating_add(len);
            if buf.remaining_mut() >= needed {
                encode_dt_header(len, true, buf)?;
                buf.put_slice(self.rest);
                return Ok(());
            }
            needed
        } else {
            Self::encoded_len(len, self.max_data.saturating_add(DT_HEADER_LEN))
        };
        if buf.remaining_mut() < needed {
            return Err(EncodeError::new(
                Layer::Cotp,
                EncodeErrorKind::BufferTooSmall {
                    needed,
                    remaining: buf.remaining_mut(),
                },
            ));
        }
        for dt in self {
            encode_dt_header(dt.user_data.len(), dt.eot, buf)?;
            buf.put_slice(dt.user_data);
        }
        Ok(())
    }
}

/// Octets of the TPKT header and class-0 DT header in front of every DT's user data.
pub const FRAME_HEADER_LEN: usize = tpkt::HEADER_LEN + DT_HEADER_LEN;

/// Writes the TPKT header and the class-0 DT header of one DT that carries `len` octets of user
/// data (the caller writes, or sends from its own buffer, the user data itself): the octets
/// [`tpkt::encode_header`] and [`Tpdu::encode`](crate::cotp::Tpdu::encode) write for that DT (`03 00 len 02 F0 EOT`), in
/// one write after one check. Fails, writing nothing, when the TPKT would be longer than 65535
/// octets or `buf` has less room than [`FRAME_HEADER_LEN`].
///
/// ```
/// use osi_stack::cotp::segment::encode_dt_header;
/// let mut out = Vec::new();
/// encode_dt_header(2, true, &mut out)?;
/// out.extend_from_slice(b"hi");
/// assert_eq!(out, [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, b'h', b'i']);
/// # Ok::<(), osi_stack::EncodeError>(())
/// ```
#[inline]
pub fn encode_dt_header<B: BufMut + ?Sized>(
    len: usize,
    eot: bool,
    buf: &mut B,
) -> Result<(), EncodeError> {
    let total = len.saturating_add(FRAME_HEADER_LEN);
    let remaining = buf.remaining_mut();
    if total > tpkt::MAX_LEN || remaining < FRAME_HEADER_LEN {
        return Err(dt_header_error(total, remaining));
    }
    let [hi, lo] = u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes();
    buf.put_slice(&[
        tpkt::VERSION,
        0,
        hi,
        lo,
        2,
        TpduCode::DT.0,
        u8::from(eot) << 7,
    ]);
    Ok(())
}

/// The error of [`encode_dt_header`]: the TPKT length first, then the room.
#[cold]
#[inline(never)]
fn dt_header_error(total: usize, remaining: usize) -> EncodeError {
    if total > tpkt::MAX_LEN {
        tpkt::length_error(total)
    } else {
        EncodeError::new(
            Layer::Tpkt,
            EncodeErrorKind::BufferTooSmall {
                needed: FRAME_HEADER_LEN,
                remaining,
            },
        )
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Data<'a>;

    fn next(&mut self) -> Option<Data<'a>> {
        if self.done {
            return None;
        }
        let take = self.rest.len().min(self.max_data);
        let (chunk, rest) = self.rest.split_at(take);
        self.rest = rest;
        let eot = rest.is_empty();
        self.done = eot;
        Some(Data::class0(chunk, eot))
    }
}

/// A reassembled TSDU: borrowed from the DT when one DT carried all of it, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tsdu<'a> {
    /// The whole TSDU came in one DT; this is that DT's user data.
    Whole(&'a [u8]),
    /// The TSDU was put together from several DTs.
    Reassembled(Bytes),
}

impl Tsdu<'_> {
    /// The TSDU's octets.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Tsdu::Whole(s) => s,
            Tsdu::Reassembled(b) => b,
        }
    }

    /// Length in octets.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the TSDU is empty.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

/// Puts DT TPDUs back together into TSDUs, within [`Limits`].
///
/// ```
/// use osi_stack::cotp::{Reassembler, Segments, Tsdu};
/// let tsdu: Vec<u8> = (0..=255).collect();
/// let mut r = Reassembler::new(osi_stack::Limits::default());
/// let mut out = None;
/// for dt in Segments::new(&tsdu, 128) {
///     out = r.push(&dt)?;
/// }
/// assert_eq!(out.unwrap().as_slice(), &tsdu[..]);
/// # Ok::<(), osi_stack::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reassembler {
    limits: Limits,
    buf: BytesMut,
    segments: usize,
    /// `buf` holds a TSDU handed out by [`Reassembler::push_borrowed`]; cleared at the next push.
    delivered: bool,
}

impl Reassembler {
    /// A reassembler bounded by `limits` (`max_tsdu`, `max_segments`).
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            buf: BytesMut::new(),
            segments: 0,
            delivered: false,
        }
    }

    /// Octets held from DTs without EOT.
    pub fn pending_len(&self) -> usize {
        if self.delivered { 0 } else { self.buf.len() }
    }

    /// Number of DTs held since the last complete TSDU.
    pub fn pending_segments(&self) -> usize {
        self.segments
    }

    /// Drops a partly received TSDU.
    pub fn reset(&mut self) {
        self.buf = BytesMut::new();
        self.segments = 0;
        self.delivered = false;
    }

    #[cold]
    fn limit(&mut self, limit: &'static str, max: usize) -> DecodeError {
        self.reset();
        DecodeError::new(
            Layer::Cotp,
            0,
            DecodeErrorKind::LimitExceeded { limit, max },
        )
    }

    /// Adds one DT. Returns the TSDU when the DT has EOT set, `None` while more DTs are needed,
    /// and a limit error (after dropping what was held) when the TSDU would exceed
    /// `max_tsdu` octets or `max_segments` DTs. Class-0 header checks are
    /// [`class0::check_dt`](crate::cotp::class0::check_dt)'s job.
    pub fn push<'a>(&mut self, dt: &Data<'a>) -> Result<Option<Tsdu<'a>>, DecodeError> {
        match self.step(dt)? {
            Step::Whole => Ok(Some(Tsdu::Whole(dt.user_data))),
            Step::More => Ok(None),
            Step::Done => {
                self.delivered = false;
                Ok(Some(Tsdu::Reassembled(self.buf.split().freeze())))
            }
        }
    }

    /// Like [`Reassembler::push`], without allocating per TSDU: a TSDU that one DT carries is
    /// that DT's user data (as with `push`), and a TSDU put together from several DTs is a
    /// borrow of the reassembler's own buffer, which the next push reuses. Once the buffer has
    /// grown to the largest TSDU seen (at most [`Limits::max_tsdu`]), reassembly allocates
    /// nothing.
    ///
    /// ```
    /// use osi_stack::cotp::{Reassembler, Segments};
    /// let tsdu: Vec<u8> = (0..=255).collect();
    /// let mut r = Reassembler::new(osi_stack::Limits::default());
    /// let dts: Vec<_> = Segments::new(&tsdu, 128).collect();
    /// for dt in &dts[..dts.len() - 1] {
    ///     assert_eq!(r.push_borrowed(dt)?, None);
    /// }
    /// assert_eq!(r.push_borrowed(&dts[dts.len() - 1])?, Some(&tsdu[..]));
    /// # Ok::<(), osi_stack::DecodeError>(())
    /// ```
    #[inline]
    pub fn push_borrowed<'s, 'a: 's>(
        &'s mut self,
        dt: &Data<'a>,
    ) -> Result<Option<&'s [u8]>, DecodeError> {
        match self.step(dt)? {
            Step::Whole => Ok(Some(dt.user_data)),
            Step::More => Ok(None),
            Step::Done => {
                self.delivered = true;
                Ok(Some(&self.buf[..]))
            }
        }
    }

    /// The checks and bookkeeping of one push; the caller hands out the TSDU.
    #[inline]
    fn step(&mut self, dt: &Data<'_>) -> Result<Step, DecodeError> {
        let data = dt.user_data;
        if self.delivered {
            self.buf.clear();
            self.delivered = false;
        }
        if self.segments == 0 && dt.eot {
            if data.len() > self.limits.max_tsdu {
                return Err(self.limit("max tsdu", self.limits.max_tsdu));
            }
            return Ok(Step::Whole);
        }
        if self.segments >= self.limits.max_segments {
            return Err(self.limit("max segments", self.limits.max_segments));
        }
        if data.len() > self.limits.max_tsdu.saturating_sub(self.buf.len()) {
            return Err(self.limit("max tsdu", self.limits.max_tsdu));
        }
        if self.buf.is_empty() {
            // A new TSDU: start at the front of the buffer when the previous TSDU handed out
            // from it was dropped, so that it is put together without moving (BytesMut would
            // otherwise go on behind it and copy the TSDU back once the end is reached).
            let _ = self.buf.try_reclaim(self.buf.capacity().saturating_add(1));
        }
        self.buf.extend_from_slice(data);
        self.segments = self.segments.saturating_add(1);
        if dt.eot {
            self.segments = 0;
            Ok(Step::Done)
        } else {
            Ok(Step::More)
        }
    }
}

/// What one DT did to a [`Reassembler`].
enum Step {
    /// The DT carries a whole TSDU.
    Whole,
    /// More DTs are needed.
    More,
    /// `buf` holds a complete TSDU.
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tsdu_is_one_empty_dt() {
        let dts: Vec<_> = Segments::new(&[], 128).collect();
        assert_eq!(dts, vec![Data::class0(&[], true)]);
        assert_eq!(Segments::count(0, 128), 1);
    }

    #[test]
    fn exact_multiple_has_no_empty_tail() {
        let tsdu = [1u8; 250];
        let dts: Vec<_> = Segments::new(&tsdu, 128).collect();
        assert_eq!(dts.len(), 2);
        assert!(dts.iter().all(|d| d.user_data.len() == 125));
        assert_eq!(Segments::count(250, 128), 2);
    }

    #[test]
    fn encode_writes_tpkt_frames_matching_spec_e5() {
        let tsdu = [0x5au8; 130];
        let mut out = Vec::new();
        Segments::new(&tsdu, 128).encode(&mut out).unwrap();
        assert_eq!(out.len(), Segments::encoded_len(130, 128));
        assert_eq!(&out[..7], &[0x03, 0x00, 0x00, 0x84, 0x02, 0xf0, 0x00]);
        assert_eq!(&out[132..139], &[0x03, 0x00, 0x00, 0x0c, 0x02, 0xf0, 0x80]);
        let mut small = [0u8; 100];
        assert!(
            Segments::new(&tsdu, 128)
                .encode(&mut &mut small[..])
                .is_err()
        );
        assert_eq!(small, [0u8; 100], "nothing written on error");
    }

    #[test]
    fn a_tsdu_in_one_dt_is_the_tpdu_encoders_frame() {
        for len in [0usize, 1, 64, 125] {
            let tsdu = vec![0xa5u8; len];
            let mut out = Vec::new();
            Segments::new(&tsdu, 128).encode(&mut out).unwrap();
            let dt = crate::cotp::Tpdu::Dt(Data::class0(&tsdu, true));
            let mut want = Vec::new();
            tpkt::encode_header(dt.encoded_len(), &mut want).unwrap();
            dt.encode(&mut want).unwrap();
            assert_eq!(out, want, "{len}");
            assert_eq!(out.len(), Segments::encoded_len(len, 128));
            // One octet short: an error, and nothing written.
            let mut small = vec![0u8; out.len() - 1];
            let err = Segments::new(&tsdu, 128)
                .encode(&mut &mut small[..])
                .unwrap_err();
            assert_eq!(err.layer(), Layer::Cotp);
            assert!(small.iter().all(|&b| b == 0), "{len}");
        }
    }

    #[test]
    fn whole_tsdu_is_not_copied() {
        let data = [1u8, 2, 3];
        let dt = Data::class0(&data, true);
        let mut r = Reassembler::new(Limits::default());
        match r.push(&dt).unwrap() {
            Some(Tsdu::Whole(s)) => assert!(core::ptr::eq(s, &data[..])),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_bound_memory() {
        let limits = Limits {
            max_tsdu: 1000,
            max_segments: 10,
            ..Limits::default()
        };
        let mut r = Reassembler::new(limits);
        let chunk = [0u8; 300];
        for _ in 0..3 {
            assert_eq!(r.push(&Data::class0(&chunk, false)).unwrap(), None);
        }
        let e = r.push(&Data::class0(&chunk, false)).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LimitExceeded {
                limit: "max tsdu",
                max: 1000
            }
        ));
        assert_eq!(r.pending_len(), 0);
        // Empty EOT=0 segments are bounded by the segment count.
        let mut n = 0;
        let err = loop {
            match r.push(&Data::class0(&[], false)) {
                Ok(None) => n += 1,
                Ok(Some(_)) => panic!("no EOT was sent"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, 10);
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LimitExceeded {
                limit: "max segments",
                ..
            }
        ));
    }

    #[test]
    fn push_borrowed_reuses_its_buffer_and_keeps_the_limits() {
        let limits = Limits {
            max_tsdu: 10,
            max_segments: 3,
            ..Limits::default()
        };
        let mut r = Reassembler::new(limits);
        assert_eq!(
            r.push_borrowed(&Data::class0(&[1, 2], false)).unwrap(),
            None
        );
        assert_eq!(r.pending_len(), 2);
        assert_eq!(
            r.push_borrowed(&Data::class0(&[3], true)).unwrap(),
            Some(&[1u8, 2, 3][..])
        );
        assert_eq!(r.pending_len(), 0);
        // The next TSDU starts empty, whichever push is used.
        assert_eq!(r.push(&Data::class0(&[4], false)).unwrap(), None);
        assert_eq!(
            r.push(&Data::class0(&[5], true)).unwrap(),
            Some(Tsdu::Reassembled(Bytes::from_static(&[4, 5])))
        );
        let whole = [9u8; 4];
        match r.push_borrowed(&Data::class0(&whole, true)).unwrap() {
            Some(s) => assert!(core::ptr::eq(s, &whole[..])),
            None => panic!("no TSDU"),
        }
        let chunk = [0u8; 6];
        assert_eq!(r.push_borrowed(&Data::class0(&chunk, false)).unwrap(), None);
        let e = r.push_borrowed(&Data::class0(&chunk, true)).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LimitExceeded {
                limit: "max tsdu",
                ..
            }
        ));
        assert_eq!(r.pending_len(), 0);
    }

    /// The one-write header is the octets of the two layers' encoders, and a failure writes
    /// nothing.
    #[test]
    fn dt_header_is_both_encoders_octets() {
        for (len, eot) in [(0, true), (5, false), (65_528, true)] {
            let mut one = Vec::new();
            encode_dt_header(len, eot, &mut one).unwrap();
            let mut two = Vec::new();
            let dt = crate::cotp::Tpdu::Dt(Data::class0(&[], eot));
            tpkt::encode_header(dt.encoded_len() + len, &mut two).unwrap();
            dt.encode(&mut two).unwrap();
            assert_eq!(one, two);
        }
        let e = encode_dt_header(65_529, true, &mut Vec::new()).unwrap_err();
        assert!(matches!(e.kind(), EncodeErrorKind::ValueTooLarge { .. }));
        let mut small = [0u8; 6];
        let mut buf = &mut small[..];
        let e = encode_dt_header(1, true, &mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            EncodeErrorKind::BufferTooSmall {
                needed: 7,
                remaining: 6
            }
        ));
        assert_eq!(small, [0; 6]);
    }
}
