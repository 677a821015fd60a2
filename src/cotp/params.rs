//! The variable part of a TPDU: X.224 §13.2.3 parameters.
//!
//! ```text
//! +-----------+-----------+---------------------+
//! | code (1)  | length (1)| value (length)      |  repeated, any order
//! +-----------+-----------+---------------------+
//! ```
//!
//! [`Params`] keeps the variable part exactly as received (order, duplicates and unknown codes
//! included) after checking that every parameter lies inside it, so re-encoding a decoded TPDU
//! gives the same bytes. Typed values come from [`Params::iter`] ([`Param`]) or the accessors on
//! the TPDU types. [`ParamsBuf`] builds a variable part for sending.

use core::fmt;

use bytes::BufMut;

use crate::cotp::TpduKind;
use crate::error::{
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer, ensure_room,
};

/// A parameter code of the variable part (X.224 §13.2.3, §13.3.4 …). Open: unknown codes survive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamCode(pub u8);

impl ParamCode {
    /// 0xC0 TPDU size (CR, CC).
    pub const TPDU_SIZE: Self = Self(0xc0);
    /// 0xC1 calling transport selector (CR, CC); in an ER the same code is the invalid TPDU.
    pub const CALLING_TSAP: Self = Self(0xc1);
    /// 0xC1 in an ER: the header octets of the rejected TPDU (X.224 §13.12.4).
    pub const INVALID_TPDU: Self = Self(0xc1);
    /// 0xC2 called (CR) or responding (CC) transport selector.
    pub const CALLED_TSAP: Self = Self(0xc2);
    /// 0xC3 checksum (class 4).
    pub const CHECKSUM: Self = Self(0xc3);
    /// 0xC4 version number.
    pub const VERSION: Self = Self(0xc4);
    /// 0xC5 protection parameters.
    pub const PROTECTION: Self = Self(0xc5);
    /// 0xC6 additional option selection.
    pub const ADDITIONAL_OPTIONS: Self = Self(0xc6);
    /// 0xC7 alternative protocol classes.
    pub const ALTERNATIVE_CLASSES: Self = Self(0xc7);
    /// 0x85 acknowledgement time (class 4).
    pub const ACK_TIME: Self = Self(0x85);
    /// 0x86 residual error rate.
    pub const RESIDUAL_ERROR_RATE: Self = Self(0x86);
    /// 0x87 priority.
    pub const PRIORITY: Self = Self(0x87);
    /// 0x88 transit delay.
    pub const TRANSIT_DELAY: Self = Self(0x88);
    /// 0x89 throughput.
    pub const THROUGHPUT: Self = Self(0x89);
    /// 0x8A subsequence number (AK, class 4).
    pub const SUBSEQUENCE_NUMBER: Self = Self(0x8a);
    /// 0x8B reassignment time.
    pub const REASSIGNMENT_TIME: Self = Self(0x8b);
    /// 0x8C flow control confirmation (AK, class 4).
    pub const FLOW_CONTROL_CONFIRMATION: Self = Self(0x8c);
    /// 0x8F selective acknowledgement (AK, class 4).
    pub const SELECTIVE_ACK: Self = Self(0x8f);
    /// 0x90 ED-TPDU-NR (DT, class 4).
    pub const ED_TPDU_NR: Self = Self(0x90);
    /// 0xE0 additional information (DR).
    pub const ADDITIONAL_INFO: Self = Self(0xe0);
    /// 0xF0 preferred maximum TPDU size (CR, CC).
    pub const PREFERRED_MAX_TPDU_SIZE: Self = Self(0xf0);
    /// 0xF2 inactivity timer (class 4).
    pub const INACTIVITY_TIMER: Self = Self(0xf2);
}

impl fmt::Debug for ParamCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParamCode({:#04x})", self.0)
    }
}

/// The TPDU size parameter (0xC0): a code `v` meaning 2^v octets (X.224 §13.3.4 b).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TpduSize(pub u8);

impl TpduSize {
    /// 128 octets (0x07), the smallest size and the X.224 default.
    pub const S128: Self = Self(0x07);
    /// 256 octets.
    pub const S256: Self = Self(0x08);
    /// 512 octets.
    pub const S512: Self = Self(0x09);
    /// 1024 octets.
    pub const S1024: Self = Self(0x0a);
    /// 2048 octets, the largest X.224 allows in class 0.
    pub const S2048: Self = Self(0x0b);
    /// 4096 octets.
    pub const S4096: Self = Self(0x0c);
    /// 8192 octets, the largest X.224 code, offered in class 0 over TCP by libiec61850 and ISODE.
    pub const S8192: Self = Self(0x0d);
    /// 0x0E (16384): beyond X.224, sent by some RFC 1006 stacks.
    pub const S16384: Self = Self(0x0e);
    /// 0x0F (32768): beyond X.224, sent by some RFC 1006 stacks.
    pub const S32768: Self = Self(0x0f);
    /// 0x10 (65536, capped at 65531): beyond X.224, sent by some RFC 1006 stacks.
    pub const S65531: Self = Self(0x10);

    /// The size in octets, or `None` for a code outside 0x07..=0x10. Codes 0x0E–0x10 are not in
    /// X.224 but are sent by RFC 1006 stacks; their sizes are capped at 65531, the largest TPDU a
    /// TPKT can carry.
    pub const fn octets(self) -> Option<usize> {
        match self.0 {
            0x07..=0x0f => Some(1usize << self.0),
            0x10 => Some(crate::tpkt::MAX_TPDU_LEN),
            _ => None,
        }
    }

    /// Whether X.224 itself defines the code (0x07..=0x0D).
    pub const fn is_standard(self) -> bool {
        matches!(self.0, 0x07..=0x0d)
    }

    /// The largest code whose size does not exceed `octets` (at least 128 octets: `S128`).
    pub const fn at_most(octets: usize) -> Self {
        let mut code = 0x10u8;
        while code > 0x07 {
            let size = if code == 0x10 {
                crate::tpkt::MAX_TPDU_LEN
            } else {
                1usize << code
            };
            if size <= octets {
                return Self(code);
            }
            code = code.saturating_sub(1);
        }
        Self::S128
    }
}

impl fmt::Debug for TpduSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.octets() {
            Some(n) => write!(f, "TpduSize({n})"),
            None => write!(f, "TpduSize(invalid {:#04x})", self.0),
        }
    }
}

/// One parameter of the variable part, typed by its code and the TPDU it appears in.
///
/// Fixed-length parameters whose length on the wire differs from X.224's are rejected when the
/// TPDU is decoded, so their values here are always well formed. Parameters kept as raw octets are
/// either variable-length by definition or quality-of-service values this crate does not
/// interpret (X.224 §13.3.4 g–m, not used in class 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Param<'a> {
    /// 0xC0 TPDU size code; see [`TpduSize::octets`] for its validity.
    TpduSize(TpduSize),
    /// 0xF0 preferred maximum TPDU size, in units of 128 octets (1 to 4 octets on the wire).
    PreferredMaxTpduSize(u32),
    /// 0xC1 calling transport selector, any length.
    CallingTsel(&'a [u8]),
    /// 0xC2 called (CR) or responding (CC) transport selector, any length.
    CalledTsel(&'a [u8]),
    /// 0xC6 additional option selection.
    AdditionalOptions(u8),
    /// 0xC7 alternative protocol classes: one octet a class, coded like the class/option octet.
    AlternativeClasses(&'a [u8]),
    /// 0xC4 version number.
    Version(u8),
    /// 0xC5 protection parameters (user defined).
    Protection(&'a [u8]),
    /// 0xC3 checksum.
    Checksum(u16),
    /// 0xE0 additional information (DR).
    AdditionalInfo(&'a [u8]),
    /// 0xC1 in an ER: the header octets of the rejected TPDU.
    InvalidTpdu(&'a [u8]),
    /// 0xF2 inactivity timer, milliseconds.
    InactivityTimer(u32),
    /// A quality-of-service or class-4 parameter kept as raw octets: 0x85–0x8C, 0x8F, 0x90.
    Raw {
        /// The parameter code.
        code: ParamCode,
        /// The value octets.
        value: &'a [u8],
    },
    /// A parameter X.224 does not define for this TPDU, kept so it can be reported.
    Unknown {
        /// The parameter code.
        code: ParamCode,
        /// The value octets.
        value: &'a [u8],
    },
}

/// Which parameter codes X.224 defines for which TPDU (Tables 14–35, §13.x.4). Codes outside
/// this list are "not defined" for the TPDU: ignored in a CR, a protocol error elsewhere.
#[inline]
pub(crate) const fn is_defined(kind: TpduKind, code: ParamCode) -> bool {
    use ParamCode as P;
    match kind {
        TpduKind::Cr | TpduKind::Cc => matches!(
            code,
            P::TPDU_SIZE
                | P::PREFERRED_MAX_TPDU_SIZE
                | P::CALLING_TSAP
                | P::CALLED_TSAP
                | P::CHECKSUM
                | P::VERSION
                | P::PROTECTION
                | P::ADDITIONAL_OPTIONS
                | P::ALTERNATIVE_CLASSES
                | P::ACK_TIME
                | P::RESIDUAL_ERROR_RATE
                | P::PRIORITY
                | P::TRANSIT_DELAY
                | P::THROUGHPUT
                | P::REASSIGNMENT_TIME
                | P::INACTIVITY_TIMER
        ),
        TpduKind::Dr => matches!(code, P::ADDITIONAL_INFO | P::CHECKSUM),
        TpduKind::Er => matches!(code, P::INVALID_TPDU | P::CHECKSUM),
        TpduKind::Dt | TpduKind::Ed => matches!(code, P::CHECKSUM | P::ED_TPDU_NR),
        TpduKind::Ak => matches!(
            code,
            P::CHECKSUM | P::SUBSEQUENCE_NUMBER | P::FLOW_CONTROL_CONFIRMATION | P::SELECTIVE_ACK
        ),
        TpduKind::Dc | TpduKind::Ea | TpduKind::Rj => matches!(code, P::CHECKSUM),
        TpduKind::Unknown => false,
    }
}

/// The allowed value lengths of the fixed-length parameters this crate interprets.
const fn fixed_length(code: ParamCode) -> Option<(usize, usize)> {
    match code.0 {
        0xc0 | 0xc4 | 0xc6 => Some((1, 1)),
        0xf0 => Some((1, 4)),
        0xc3 => Some((2, 2)),
        0xf2 => Some((4, 4)),
        _ => None,
    }
}

/// Per parameter code, for the one walk of a CR/CC variable part: `[min, max - min, slot,
/// defined]`: the allowed length of a fixed-length code (`[0, 255]` for any length, so that a
/// length `len` is allowed when `len - min` (wrapping) `<= max - min`), its [`cr_slot`], and
/// whether X.224 defines it for a CR/CC.
// Indexing in the initialiser runs at compile time: an index out of range fails the build.
#[allow(clippy::indexing_slicing)]
static CR_CODES: [[u8; 4]; 256] = {
    let mut t = [[0u8, 255, 0, 0]; 256];
    let mut code = 0usize;
    while code < 256 {
        let c = ParamCode(code as u8);
        if let Some((min, max)) = fixed_length(c) {
            t[code][0] = min as u8;
            t[code][1] = (max - min) as u8;
        }
        t[code][2] = cr_slot(c) as u8;
        t[code][3] = is_defined(TpduKind::Cr, c) as u8;
        code += 1;
    }
    t
};

/// [`fixed_length`] for the parameters defined in a TPDU of `kind`.
fn length_range(kind: TpduKind, code: ParamCode) -> Option<(usize, usize)> {
    let range = fixed_length(code)?;
    is_defined(kind, code).then_some(range)
}

/// Checks a parameter's length `len` against its allowed `range`; `pos` is the parameter's
/// offset (the error names its length octet).
fn check_length(range: Option<(usize, usize)>, len: usize, pos: usize) -> Result<(), DecodeError> {
    match range {
        Some((min, max)) if !(min..=max).contains(&len) => Err(DecodeError::new(
            Layer::Cotp,
            pos.saturating_add(1),
            DecodeErrorKind::LengthOutOfRange {
                what: "parameter length",
                value: len,
                min,
                max,
            },
        )),
        _ => Ok(()),
    }
}

fn be_uint(value: &[u8]) -> u32 {
    value
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_shl(8) | u32::from(b))
}

/// One parameter as it appears on the wire, with its offset in the variable part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawParam<'a> {
    /// The parameter code.
    pub code: ParamCode,
    /// The value octets.
    pub value: &'a [u8],
    /// Offset of the code octet from the start of the variable part.
    pub offset: usize,
}

impl<'a> RawParam<'a> {
    /// The typed reading of this parameter in a TPDU of `kind`.
    pub fn typed(&self, kind: TpduKind) -> Param<'a> {
        use ParamCode as P;
        let v = self.value;
        if !is_defined(kind, self.code) {
            return Param::Unknown {
                code: self.code,
                value: v,
            };
        }
        match (self.code, v) {
            (P::TPDU_SIZE, [b]) => Param::TpduSize(TpduSize(*b)),
            (P::PREFERRED_MAX_TPDU_SIZE, _) => Param::PreferredMaxTpduSize(be_uint(v)),
            (P::CALLING_TSAP, _) if kind == TpduKind::Er => Param::InvalidTpdu(v),
            (P::CALLING_TSAP, _) => Param::CallingTsel(v),
            (P::CALLED_TSAP, _) => Param::CalledTsel(v),
            (P::ADDITIONAL_OPTIONS, [b]) => Param::AdditionalOptions(*b),
            (P::ALTERNATIVE_CLASSES, _) => Param::AlternativeClasses(v),
            (P::VERSION, [b]) => Param::Version(*b),
            (P::PROTECTION, _) => Param::Protection(v),
            (P::CHECKSUM, [a, b]) => Param::Checksum(u16::from_be_bytes([*a, *b])),
            (P::ADDITIONAL_INFO, _) => Param::AdditionalInfo(v),
            (P::INACTIVITY_TIMER, [_, _, _, _]) => Param::InactivityTimer(be_uint(v)),
            (code, value) => Param::Raw { code, value },
        }
    }
}

/// A validated variable part, borrowed from the TPDU.
///
/// Two values are equal when their octets are (the index below is derived from them).
#[derive(Clone, Copy, Default)]
pub struct Params<'a> {
    raw: &'a [u8],
    /// Where the CR/CC parameters that [`Connect`](crate::cotp::Connect) reads are, recorded
    /// by the one walk of [`Params::parse_with_trailer`].
    index: CrIndex,
}

/// For each CR/CC parameter X.224 defines with a typed accessor ([`CR_SLOTS`]), the offset of
/// the length octet of its last occurrence (X.224 §13.2.3: a repeated parameter's last value
/// counts), or 0 when absent. Only meaningful when `indexed`: the variable part was walked by
/// [`Params::split_trailer`] and is shorter than 255 octets (offsets fit an octet).
#[derive(Clone, Copy, Default)]
struct CrIndex {
    /// One entry a slot, and a last one that collects every other code.
    at: [u8; CR_SLOTS + 1],
    indexed: bool,
}

/// Number of CR/CC parameters with a slot in [`CrIndex`]: TPDU size, preferred maximum TPDU
/// size, calling and called TSAP, additional options, alternative classes, version,
/// protection, checksum (in that slot order).
pub(crate) const CR_SLOTS: usize = 9;

/// The slot of a CR/CC parameter code in [`CrIndex`] (`CR_SLOTS` for the others).
pub(crate) const fn cr_slot(code: ParamCode) -> usize {
    match code.0 {
        0xc0 => 0,
        0xf0 => 1,
        0xc1 => 2,
        0xc2 => 3,
        0xc6 => 4,
        0xc7 => 5,
        0xc4 => 6,
        0xc5 => 7,
        0xc3 => 8,
        _ => CR_SLOTS,
    }
}

impl PartialEq for Params<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Params<'_> {}

impl core::hash::Hash for Params<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|p| (p.code, p.value)))
            .finish()
    }
}

impl<'a> Params<'a> {
    /// An empty variable part.
    pub const EMPTY: Params<'static> = Params::unindexed(&[]);

    const fn unindexed(raw: &'a [u8]) -> Self {
        Params {
            raw,
            index: CrIndex {
                at: [0; CR_SLOTS + 1],
                indexed: false,
            },
        }
    }

    /// Whether this variable part carries the positions of its CR/CC parameters (decoded by
    /// [`Params::parse_with_trailer`]; not when built by hand or walked by [`Params::parse`]).
    #[inline]
    pub(crate) const fn is_indexed(&self) -> bool {
        self.index.indexed
    }

    /// The value of the CR/CC parameter in `slot` (see [`cr_slot`]) from the index: `Some(None)`
    /// when the index says it is absent, `None` when this value has no index.
    #[inline]
    pub(crate) fn indexed_value(&self, slot: usize) -> Option<Option<&'a [u8]>> {
        if !self.index.indexed {
            return None;
        }
        Some(self.value_at(slot))
    }

    /// The value the index records in `slot`; `None` when absent (or not indexed).
    #[inline]
    pub(crate) fn value_at(&self, slot: usize) -> Option<&'a [u8]> {
        let at = usize::from(*self.index.at.get(slot)?);
        if at == 0 {
            return None;
        }
        let len = usize::from(*self.raw.get(at)?);
        let start = at.saturating_add(1);
        self.raw.get(start..start.saturating_add(len))
    }

    /// Checks that `raw` is a sequence of complete parameters and that the fixed-length
    /// parameters X.224 defines for `kind` have their defined lengths. Offsets in errors are
    /// relative to `raw`.
    pub fn parse(kind: TpduKind, raw: &'a [u8]) -> Result<Self, DecodeError> {
        let mut rest = raw;
        let mut pos = 0usize;
        while !rest.is_empty() {
            let [code, len, tail @ ..] = rest else {
                return Err(DecodeError::new(
                    Layer::Cotp,
                    pos,
                    DecodeErrorKind::Truncated {
                        what: "parameter length",
                        needed: 2,
                        available: rest.len(),
                    },
                ));
            };
            let len = usize::from(*len);
            let Some(after) = tail.get(len..) else {
                return Err(DecodeError::new(
                    Layer::Cotp,
                    pos,
                    DecodeErrorKind::Overrun {
                        what: "parameter",
                        declared: len,
                        available: tail.len(),
                    },
                ));
            };
            check_length(length_range(kind, ParamCode(*code)), len, pos)?;
            pos = pos.saturating_add(2).saturating_add(len);
            rest = after;
        }
        Ok(Params::unindexed(raw))
    }

    /// Like [`Params::parse`] for a CR or CC, but stops at the first octet that cannot start an
    /// X.224 parameter and returns the octets from there on separately: a code whose bits 8–7
    /// are 00 (X.224 §13.2.3 assigns none), or a code X.224 does not define whose length runs
    /// past the variable part. RDP (MS-RDPBCGR 2.2.1.1, 2.2.1.2) puts its routing token or cookie
    /// and its negotiation request or response there. A defined parameter that runs past the
    /// variable part is still an error.
    #[inline]
    pub fn parse_with_trailer(
        kind: TpduKind,
        raw: &'a [u8],
    ) -> Result<(Self, &'a [u8]), DecodeError> {
        match Self::split_trailer(kind, raw) {
            Some(split) => Ok(split),
            None => Err(Self::trailer_error(kind, raw)),
        }
    }

    /// [`Params::parse_with_trailer`] without the error: `None` on a fault, which
    /// [`Params::trailer_error`] then names. One pass: each parameter's length against the
    /// variable part and, through a table, against X.224's length for the fixed-length codes.
    #[inline]
    pub(crate) fn split_trailer(kind: TpduKind, raw: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let cr = matches!(kind, TpduKind::Cr | TpduKind::Cc);
        let mut index = CrIndex::default();
        let mut rest = raw;
        while let [code, tail @ ..] = rest {
            let code = *code;
            if code & 0xc0 == 0 {
                break;
            }
            // Any octet indexes the 256 entries.
            let [min, span, slot, defined] =
                CR_CODES.get(usize::from(code)).copied().unwrap_or_default();
            match tail {
                [len, value @ ..] if usize::from(*len) <= value.len() => {
                    if len.wrapping_sub(min) > span {
                        return None;
                    }
                    // The offset of the length octet (wraps past 255: then not indexed).
                    let at = raw.len().wrapping_sub(tail.len()) as u8;
                    if let Some(entry) = index.at.get_mut(usize::from(slot)) {
                        *entry = at;
                    }
                    rest = value.get(usize::from(*len)..).unwrap_or_default();
                }
                _ if (cr && defined != 0) || (!cr && is_defined(kind, ParamCode(code))) => {
                    return None;
                }
                _ => break,
            }
        }
        let (params, trailer) = raw
            .split_at_checked(raw.len().saturating_sub(rest.len()))
            .unwrap_or((raw, &[]));
        index.indexed = cr && raw.len() < 255;
        Some((Params { raw: params, index }, trailer))
    }

    /// The fault [`Params::parse_with_trailer`] found, named by the step-by-step walk.
    #[cold]
    #[inline(never)]
    pub(crate) fn trailer_error(kind: TpduKind, raw: &'a [u8]) -> DecodeError {
        match Self::parse_with_trailer_checked(kind, raw) {
            Err(e) => e,
            // Not reached: both walks accept the same variable parts.
            Ok(_) => DecodeError::new(
                Layer::Cotp,
                0,
                DecodeErrorKind::Missing { what: "parameter" },
            ),
        }
    }

    /// [`Params::parse_with_trailer`] step by step, tracking the offset for the error.
    fn parse_with_trailer_checked(
        kind: TpduKind,
        raw: &'a [u8],
    ) -> Result<(Self, &'a [u8]), DecodeError> {
        let mut rest = raw;
        let mut pos = 0usize;
        while let [code, tail @ ..] = rest {
            let code = ParamCode(*code);
            if code.0 & 0xc0 == 0 {
                break;
            }
            let fits = match tail {
                [len, value @ ..] => value.len() >= usize::from(*len),
                [] => false,
            };
            if !fits {
                if !is_defined(kind, code) {
                    break;
                }
                // A defined parameter that overruns: let `parse` name the fault.
                return Err(Params::parse(kind, rest)
                    .err()
                    .unwrap_or(DecodeError::new(
                        Layer::Cotp,
                        0,
                        DecodeErrorKind::Missing { what: "parameter" },
                    ))
                    .shifted(pos));
            }
            let [len, after_len @ ..] = tail else { break };
            let len = usize::from(*len);
            // Every fixed-length parameter is defined for CR and CC.
            check_length(fixed_length(code), len, pos)?;
            pos = pos.saturating_add(2).saturating_add(len);
            rest = after_len.get(len..).unwrap_or_default();
        }
        let (params, trailer) = raw.split_at_checked(pos).unwrap_or((raw, &[]));
        Ok((Params::unindexed(params), trailer))
    }

    /// The variable part as received.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Length of the variable part in octets.
    pub const fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the variable part is empty.
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters in wire order.
    pub fn iter(&self) -> RawParams<'a> {
        RawParams {
            raw: self.raw,
            pos: 0,
        }
    }

    /// The value of the last parameter with `code` (X.224 §13.2.3: a repeated parameter's last
    /// value counts), if any.
    pub fn get(&self, code: ParamCode) -> Option<RawParam<'a>> {
        let mut found = None;
        let mut rest = self.raw;
        let mut offset = 0usize;
        while let [c, len, tail @ ..] = rest {
            let len = usize::from(*len);
            let Some((value, after)) = tail.split_at_checked(len) else {
                break;
            };
            if *c == code.0 {
                found = Some(RawParam {
                    code,
                    value,
                    offset,
                });
            }
            offset = offset.saturating_add(2).saturating_add(len);
            rest = after;
        }
        found
    }

    /// The parameters X.224 does not define for a TPDU of `kind`.
    pub fn unknown(&self, kind: TpduKind) -> impl Iterator<Item = RawParam<'a>> + 'a {
        self.iter().filter(move |p| !is_defined(kind, p.code))
    }
}

/// Iterator over the parameters of a validated [`Params`].
#[derive(Debug, Clone)]
pub struct RawParams<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for RawParams<'a> {
    type Item = RawParam<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.raw.get(self.pos..)?;
        let [code, len, tail @ ..] = rest else {
            return None;
        };
        let len = usize::from(*len);
        let value = tail.get(..len)?;
        let offset = self.pos;
        self.pos = self.pos.saturating_add(2).saturating_add(len);
        Some(RawParam {
            code: ParamCode(*code),
            value,
            offset,
        })
    }
}

/// Builds a variable part for sending. Construction allocates; decoding never does.
///
/// ```
/// use osi_stack::cotp::{ParamsBuf, TpduSize};
/// let mut p = ParamsBuf::new();
/// p.tpdu_size(TpduSize::S8192).called_tsel(&[0, 1]).unwrap().calling_tsel(&[0, 1]).unwrap();
/// assert_eq!(p.as_bytes(), &[0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamsBuf {
    raw: Vec<u8>,
}

impl ParamsBuf {
    /// An empty variable part.
    pub const fn new() -> Self {
        ParamsBuf { raw: Vec::new() }
    }

    /// Appends a parameter with any code and value.
    pub fn push(&mut self, code: ParamCode, value: &[u8]) -> Result<&mut Self, EncodeError> {
        let len = u8::try_from(value.len()).map_err(|_| {
            EncodeError::new(
                Layer::Cotp,
                EncodeErrorKind::ValueTooLarge {
                    what: "parameter length",
                    value: value.len(),
                    max: 255,
                },
            )
        })?;
        self.raw.push(code.0);
        self.raw.push(len);
        self.raw.extend_from_slice(value);
        Ok(self)
    }

    /// Appends a typed parameter.
    pub fn param(&mut self, param: &Param<'_>) -> Result<&mut Self, EncodeError> {
        use ParamCode as P;
        match *param {
            Param::TpduSize(s) => self.push(P::TPDU_SIZE, &[s.0]),
            Param::PreferredMaxTpduSize(units) => {
                let bytes = units.to_be_bytes();
                let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
                self.push(
                    P::PREFERRED_MAX_TPDU_SIZE,
                    bytes.get(skip..).unwrap_or(&bytes),
                )
            }
            Param::CallingTsel(v) => self.push(P::CALLING_TSAP, v),
            Param::CalledTsel(v) => self.push(P::CALLED_TSAP, v),
            Param::AdditionalOptions(b) => self.push(P::ADDITIONAL_OPTIONS, &[b]),
            Param::AlternativeClasses(v) => self.push(P::ALTERNATIVE_CLASSES, v),
            Param::Version(b) => self.push(P::VERSION, &[b]),
            Param::Protection(v) => self.push(P::PROTECTION, v),
            Param::Checksum(c) => self.push(P::CHECKSUM, &c.to_be_bytes()),
            Param::AdditionalInfo(v) => self.push(P::ADDITIONAL_INFO, v),
            Param::InvalidTpdu(v) => self.push(P::INVALID_TPDU, v),
            Param::InactivityTimer(t) => self.push(P::INACTIVITY_TIMER, &t.to_be_bytes()),
            Param::Raw { code, value } | Param::Unknown { code, value } => self.push(code, value),
        }
    }

    /// Appends a TPDU size (0xC0).
    pub fn tpdu_size(&mut self, size: TpduSize) -> &mut Self {
        self.raw
            .extend_from_slice(&[ParamCode::TPDU_SIZE.0, 1, size.0]);
        self
    }

    /// Appends a calling transport selector (0xC1).
    pub fn calling_tsel(&mut self, tsel: &[u8]) -> Result<&mut Self, EncodeError> {
        self.push(ParamCode::CALLING_TSAP, tsel)
    }

    /// Appends a called / responding transport selector (0xC2).
    pub fn called_tsel(&mut self, tsel: &[u8]) -> Result<&mut Self, EncodeError> {
        self.push(ParamCode::CALLED_TSAP, tsel)
    }

    /// The variable part built so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The variable part as [`Params`] for a TPDU struct.
    pub fn as_params(&self) -> Params<'_> {
        Params::unindexed(&self.raw)
    }
}

/// Writes `params` verbatim (they were validated when built or decoded).
pub(crate) fn write_params<B: BufMut + ?Sized>(
    params: &Params<'_>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    ensure_room(Layer::Cotp, buf, params.len())?;
    buf.put_slice(params.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpdu_size_codes() {
        assert_eq!(TpduSize(0x07).octets(), Some(128));
        assert_eq!(TpduSize(0x0d).octets(), Some(8192));
        assert_eq!(TpduSize(0x0e).octets(), Some(16384));
        assert_eq!(TpduSize(0x10).octets(), Some(65531));
        assert_eq!(TpduSize(0x06).octets(), None);
        assert_eq!(TpduSize(0xa2).octets(), None);
        assert_eq!(TpduSize::at_most(8192), TpduSize::S8192);
        assert_eq!(TpduSize::at_most(8191), TpduSize::S4096);
        assert_eq!(TpduSize::at_most(65531), TpduSize::S65531);
        assert_eq!(TpduSize::at_most(10), TpduSize::S128);
    }

    #[test]
    fn parse_rejects_overrun_and_bad_fixed_lengths() {
        let e = Params::parse(TpduKind::Cc, &[0xc1, 0x04, 0x00, 0x01]).unwrap_err();
        assert_eq!(e.offset(), 0);
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::Overrun {
                declared: 4,
                available: 2,
                ..
            }
        ));
        let e = Params::parse(TpduKind::Cr, &[0xc0, 0x02, 0x0d, 0x00]).unwrap_err();
        assert_eq!(e.offset(), 1);
        let e = Params::parse(TpduKind::Cr, &[0xc0]).unwrap_err();
        assert!(e.is_truncated());
        // An undefined code with any length is kept.
        let p = Params::parse(TpduKind::Cr, &[0xc9, 0x01, 0x00]).unwrap();
        let unknown: Vec<_> = p.unknown(TpduKind::Cr).collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].code, ParamCode(0xc9));
    }

    #[test]
    fn last_repeated_parameter_wins() {
        let p = Params::parse(TpduKind::Cr, &[0xc0, 1, 0x0a, 0xc0, 1, 0x0d]).unwrap();
        assert_eq!(p.get(ParamCode::TPDU_SIZE).unwrap().value, &[0x0d]);
    }

    #[test]
    fn preferred_size_encodes_minimally() {
        let mut b = ParamsBuf::new();
        b.param(&Param::PreferredMaxTpduSize(64)).unwrap();
        b.param(&Param::PreferredMaxTpduSize(0x1_0000)).unwrap();
        assert_eq!(b.as_bytes(), &[0xf0, 1, 64, 0xf0, 3, 1, 0, 0]);
        b.param(&Param::PreferredMaxTpduSize(0)).unwrap();
        assert_eq!(&b.as_bytes()[8..], &[0xf0, 1, 0]);
    }

    /// The positions recorded by the decoder's walk give what walking the variable part again
    /// gives, for every parameter, repeated ones included (the last counts).
    #[test]
    fn indexed_parameters_match_a_fresh_walk() {
        use crate::cotp::{Connect, ConnectParameters, Tpdu};
        let var: &[u8] = &[
            0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 2, 0xc2, 3, 9, 8, 7, 0xf0, 2, 1, 2, 0xc6, 1,
            1, 0xc7, 2, 0x20, 0x10, 0xc4, 1, 1, 0xc5, 0, 0xc3, 2, 0xab, 0xcd, 0x85, 1, 0,
        ];
        let mut tpdu = vec![0u8, 0xe0, 0, 0, 0, 1, 0];
        tpdu.extend_from_slice(var);
        tpdu.extend_from_slice(b"Cookie: x\r\n");
        tpdu[0] = u8::try_from(tpdu.len() - 1).unwrap();
        let Tpdu::Cr(cr) = Tpdu::decode(&tpdu).unwrap() else {
            panic!("not a CR")
        };
        assert!(cr.params.is_indexed());
        assert_eq!(cr.header_data, b"Cookie: x\r\n");
        // The same variable part without an index: every accessor walks it.
        let walked = Connect {
            params: Params::parse(TpduKind::Cr, var).unwrap(),
            ..cr
        };
        assert!(!walked.params.is_indexed());
        assert_eq!(walked.params, cr.params);
        let p = cr.parameters();
        assert_eq!(p, walked.parameters());
        assert_eq!(p.called_tsel, Some(&[9, 8, 7][..]));
        assert_eq!(p.calling_tsel, Some(&[0, 2][..]));
        assert_eq!(p.tpdu_size, Some(TpduSize::S8192));
        assert_eq!(p.preferred_max_tpdu_size, Some(0x102));
        assert_eq!(p.checksum, Some(0xabcd));
        assert_eq!(p.protection, Some(&[][..]));
        assert_eq!(
            (
                cr.called_tsel(),
                cr.calling_tsel(),
                cr.tpdu_size(),
                cr.version()
            ),
            (p.called_tsel, p.calling_tsel, p.tpdu_size, Some(1))
        );
        assert_eq!(
            (
                cr.additional_options(),
                cr.alternative_classes(),
                cr.checksum()
            ),
            (Some(1), Some(&[0x20, 0x10][..]), Some(0xabcd))
        );
        // A CR without parameters: all absent, from the index.
        let Tpdu::Cr(bare) = Tpdu::decode(&[6, 0xe0, 0, 0, 0, 1, 0]).unwrap() else {
            panic!("not a CR")
        };
        assert_eq!(bare.parameters(), ConnectParameters::default());
    }

    /// Faults found by the one-pass walk are named as the step-by-step walk names them.
    #[test]
    fn trailer_walk_faults_keep_their_offsets() {
        // TPDU size of 2 octets, after a valid called TSAP: the length octet at offset 5.
        let e = Params::parse_with_trailer(TpduKind::Cr, &[0xc2, 1, 0, 0xc0, 2, 1, 1]).unwrap_err();
        assert_eq!(e.offset(), 4);
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LengthOutOfRange { value: 2, .. }
        ));
        // A defined parameter running past the variable part.
        let e = Params::parse_with_trailer(TpduKind::Cr, &[0xc0, 1, 7, 0xc1, 5, 0]).unwrap_err();
        assert_eq!(e.offset(), 3);
        // An undefined code running past it starts the trailer.
        let (p, trailer) =
            Params::parse_with_trailer(TpduKind::Cr, &[0xc0, 1, 7, 0x43, 0x6f]).unwrap();
        assert_eq!(
            (p.as_bytes(), trailer),
            (&[0xc0, 1, 7][..], &[0x43, 0x6f][..])
        );
        // A variable part too long for octet offsets is walked, not indexed.
        let long: Vec<u8> = [0xc5, 250]
            .iter()
            .copied()
            .chain([0; 250])
            .chain([0xc1, 1, 4])
            .collect();
        let (p, _) = Params::parse_with_trailer(TpduKind::Cr, &long).unwrap();
        assert!(!p.is_indexed());
        assert_eq!(
            p.get(ParamCode::CALLING_TSAP).map(|p| p.value),
            Some(&[4][..])
        );
    }

    /// The CR/CC length-indicator faults, named as before the one-comparison check.
    #[test]
    fn connect_li_faults() {
        use crate::cotp::Tpdu;
        let e = Tpdu::decode(&[255, 0xe0, 0, 0, 0, 1, 0]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::InvalidValue { value: 255, .. }
        ));
        let e = Tpdu::decode(&[9, 0xe0, 0, 0, 0, 1, 0]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::Overrun {
                declared: 9,
                available: 6,
                ..
            }
        ));
        for li in [0, 1, 5] {
            let e = Tpdu::decode(&[li, 0xd0, 0, 0, 0, 1, 0]).unwrap_err();
            assert!(
                matches!(e.kind(), DecodeErrorKind::LengthOutOfRange { min: 6, .. }),
                "{li}"
            );
            assert_eq!(e.offset(), 0);
        }
        assert!(Tpdu::decode(&[6, 0xd0, 0, 0, 0, 1, 0]).is_ok());
    }
}
