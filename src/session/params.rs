//! Parameter units: PI and PGI units with one- and three-octet lengths (X.225 §8.2.2–8.2.6).
//!
//! ```text
//!  PI unit:   +------+------------+-------------------+
//!             | PI   | LI (1|3)   | parameter value   |
//!             +------+------------+-------------------+
//!  PGI unit:  +------+------------+----------------------------------------+
//!             | PGI  | LI (1|3)   | PI units (PGI 1, 5, 33) or a value     |
//!             +------+------------+----------------------------------------+
//!  LI:        0x00..=0xFE -> that many octets
//!             0xFF hi lo  -> 0..=65535 octets (the three-octet form)
//! ```
//!
//! A parameter field is kept as the raw octets it arrived in, checked once for structure
//! ([`Parameters::new`]) and then walked by a borrowed iterator ([`Units`]): decoding allocates
//! nothing, and re-encoding reproduces the input exactly, including a three-octet length used for a
//! value shorter than 255 octets.

use bytes::BufMut;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer};

use super::codes::ParameterCode;

/// The largest value a length indicator can carry (three-octet form).
pub const MAX_LENGTH: usize = 65_535;

/// Octets a length indicator takes.
pub(crate) const fn length_len(len: usize, long: bool) -> usize {
    if long || len > 254 { 3 } else { 1 }
}

/// Writes a length indicator; the three-octet form when `long` is set or `len > 254`.
/// The caller has checked the room and that `len <= 65535`.
pub(crate) fn put_length<B: BufMut + ?Sized>(buf: &mut B, len: usize, long: bool) {
    if long || len > 254 {
        buf.put_u8(0xff);
        buf.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
    } else {
        buf.put_u8(u8::try_from(len).unwrap_or(0xfe));
    }
}

pub(crate) fn too_large(what: &'static str, value: usize) -> EncodeError {
    EncodeError::new(
        Layer::Session,
        EncodeErrorKind::ValueTooLarge {
            what,
            value,
            max: MAX_LENGTH,
        },
    )
}

/// One PI or PGI unit, borrowed from the parameter field (X.225 §8.2.3, §8.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Unit<'a> {
    code: ParameterCode,
    value: &'a [u8],
    long_length: bool,
    offset: usize,
}

impl<'a> Unit<'a> {
    /// The PI or PGI code.
    pub const fn code(&self) -> ParameterCode {
        self.code
    }

    /// The value octets (for PGI 1, 5 and 33, the nested PI units).
    pub const fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Whether the code is a parameter group identifier (PGI 1, 5, 33, 193, 194).
    pub const fn is_group(&self) -> bool {
        self.code.is_group()
    }

    /// Whether the length used the three-octet form (`FF hi lo`), even for a short value.
    pub const fn long_length(&self) -> bool {
        self.long_length
    }

    /// Offset of the unit's code octet from the start of the parameter field it belongs to
    /// (the SPDU's, for nested units too).
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Whether the value is empty: a unit with LI = 0 stands for an absent parameter
    /// (X.225 §8.2.5).
    pub const fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The PI units inside a PGI 1, 5 or 33; an empty iterator for every other code.
    pub fn units(&self) -> Units<'a> {
        if self.code.contains_units() {
            Units::with_base(self.value, self.value_offset())
        } else {
            Units::with_base(&[], self.value_offset())
        }
    }

    /// The first nested PI unit with `code` (PGI 1, 5, 33 only).
    pub fn find(&self, code: ParameterCode) -> Option<Unit<'a>> {
        self.units().find(|u| u.code == code)
    }

    /// Offset of the value from the start of the parameter field.
    pub(crate) fn value_offset(&self) -> usize {
        self.offset
            .saturating_add(1)
            .saturating_add(length_len(self.value.len(), self.long_length))
    }

    /// The unit's encoded size.
    pub const fn encoded_len(&self) -> usize {
        1usize
            .saturating_add(length_len(self.value.len(), self.long_length))
            .saturating_add(self.value.len())
    }
}

/// A borrowed iterator over the PI/PGI units of one nesting level.
///
/// Over a field checked by [`Parameters::new`] (every `Parameters` value is), it yields every
/// unit; over malformed octets it stops at the first bad unit rather than failing.
#[derive(Debug, Clone)]
pub struct Units<'a> {
    /// The octets not read yet.
    rest: &'a [u8],
    /// Offset of `rest` from the start of the parameter field.
    pos: usize,
}

impl<'a> Units<'a> {
    /// The units of `raw`, whose first octet is at offset `base` in the parameter field.
    #[inline]
    pub(crate) const fn with_base(raw: &'a [u8], base: usize) -> Self {
        Units {
            rest: raw,
            pos: base,
        }
    }

    /// Whether every unit was read.
    #[inline]
    pub(crate) const fn is_done(&self) -> bool {
        self.rest.is_empty()
    }

    /// Reads the next unit, or reports why it is malformed (offset from the parameter field).
    /// Reads slices directly rather than through the nom cursor: this is the inner loop of
    /// every SPDU decode and parameter lookup.
    #[inline]
    pub(crate) fn try_next(&mut self) -> Result<Unit<'a>, DecodeError> {
        let offset = self.pos;
        let (code, after_code) = match self.rest {
            [code, rest @ ..] => (*code, rest),
            [] => return Err(truncated(offset, "parameter code", 1, 0)),
        };
        let (len, long_length, value_at) = match after_code {
            [0xff, hi, lo, ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), true, 4),
            [0xff, more @ ..] => {
                return Err(truncated(
                    offset.saturating_add(2),
                    "parameter length",
                    2,
                    more.len(),
                ));
            }
            [l, ..] => (usize::from(*l), false, 2),
            [] => {
                return Err(truncated(
                    offset.saturating_add(1),
                    "parameter length",
                    1,
                    0,
                ));
            }
        };
        let after_length = self.rest.get(value_at..).unwrap_or_default();
        let Some(value) = after_length.get(..len) else {
            return Err(overrun(
                offset.saturating_add(value_at),
                len,
                after_length.len(),
            ));
        };
        let used = value_at.saturating_add(len);
        self.rest = self.rest.get(used..).unwrap_or_default();
        self.pos = offset.saturating_add(used);
        Ok(Unit {
            code: ParameterCode(code),
            value,
            long_length,
            offset,
        })
    }
}

#[cold]
fn truncated(offset: usize, what: &'static str, needed: usize, available: usize) -> DecodeError {
    DecodeError::new(
        Layer::Session,
        offset,
        DecodeErrorKind::Truncated {
            what,
            needed,
            available,
        },
    )
}

#[cold]
fn overrun(offset: usize, declared: usize, available: usize) -> DecodeError {
    DecodeError::new(
        Layer::Session,
        offset,
        DecodeErrorKind::Overrun {
            what: "parameter",
            declared,
            available,
        },
    )
}

impl<'a> Iterator for Units<'a> {
    type Item = Unit<'a>;

    #[inline]
    fn next(&mut self) -> Option<Unit<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        match self.try_next() {
            Ok(u) => Some(u),
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

impl core::iter::FusedIterator for Units<'_> {}

/// The parameter field of an SPDU: a checked, borrowed sequence of PI and PGI units
/// (X.225 §8.2.2).
///
/// Units appear in the order they arrived (senders use increasing code order, receivers accept any,
/// §8.2.6). The same code may appear more than once; the typed accessors of
/// [`Spdu`](super::Spdu) read the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Parameters<'a> {
    raw: &'a [u8],
}

impl<'a> Parameters<'a> {
    /// An empty parameter field.
    pub const EMPTY: Parameters<'static> = Parameters { raw: &[] };

    /// Checks that `raw` is a well-formed parameter field: every unit's length fits in what is
    /// left of the field, and the same holds inside PGI 1, 5 and 33. Error offsets are from the
    /// start of `raw`.
    pub fn new(raw: &'a [u8]) -> Result<Self, DecodeError> {
        let mut top = Units::with_base(raw, 0);
        while !top.is_done() {
            let unit = top.try_next()?;
            let mut inner = unit.units();
            while !inner.is_done() {
                inner.try_next()?;
            }
        }
        Ok(Parameters { raw })
    }

    /// A field whose structure the caller has just checked (the SPDU decoder, which checks
    /// structure and values in one walk).
    #[inline]
    pub(crate) const fn checked(raw: &'a [u8]) -> Self {
        Parameters { raw }
    }

    /// The raw field, as it is encoded.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Length of the field in octets (the SPDU's LI).
    pub const fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the field is empty (LI = 0).
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The top-level units.
    pub fn iter(&self) -> Units<'a> {
        Units::with_base(self.raw, 0)
    }

    /// The first top-level unit with `code`.
    pub fn find(&self, code: ParameterCode) -> Option<Unit<'a>> {
        self.iter().find(|u| u.code == code)
    }

    /// The first top-level unit with `code` that is not empty (an empty unit means "absent").
    pub fn get(&self, code: ParameterCode) -> Option<&'a [u8]> {
        // The field was checked when `self` was made: hop from unit to unit without building
        // `Unit`s or errors (a malformed tail, impossible here, ends the search as in `iter`).
        let mut rest = self.raw;
        while let [c, l0, more @ ..] = rest {
            let (len, more) = match (*l0, more) {
                (0xff, [hi, lo, more @ ..]) => (usize::from(u16::from_be_bytes([*hi, *lo])), more),
                (0xff, _) => return None,
                (l, more) => (usize::from(l), more),
            };
            let (value, next) = (more.get(..len)?, more.get(len..)?);
            if *c == code.0 && !value.is_empty() {
                return Some(value);
            }
            rest = next;
        }
        None
    }

    /// Every unit whose code this crate does not know ([`ParameterCode::is_known`]), at the top
    /// level and inside PGI 1, 5 and 33. X.225 Annex A.4.3.1.1 says a receiver ignores them;
    /// this lets it report them.
    pub fn unknown(&self) -> impl Iterator<Item = Unit<'a>> + 'a {
        self.iter()
            .flat_map(|u| core::iter::once(u).chain(u.units()))
            .filter(|u| !u.code.is_known())
    }
}

impl<'a> IntoIterator for Parameters<'a> {
    type Item = Unit<'a>;
    type IntoIter = Units<'a>;

    fn into_iter(self) -> Units<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Parameters<'a> {
    type Item = Unit<'a>;
    type IntoIter = Units<'a>;

    fn into_iter(self) -> Units<'a> {
        self.iter()
    }
}

/// An owned parameter field under construction, for encoding SPDUs.
///
/// Add units in increasing code order (X.225 §8.2.6 asks senders to); values longer than 254
/// octets get the three-octet length automatically.
///
/// ```
/// use osi_stack::session::{ParameterCode, ParametersBuf};
/// let mut cai = ParametersBuf::new();
/// cai.unit(ParameterCode::PROTOCOL_OPTIONS, &[0])?
///     .unit(ParameterCode::VERSION_NUMBER, &[2])?;
/// let mut p = ParametersBuf::new();
/// p.group(ParameterCode::CONNECT_ACCEPT_ITEM, &cai)?
///     .unit(ParameterCode::SESSION_USER_REQUIREMENTS, &[0, 2])?;
/// assert_eq!(p.as_bytes(), [5, 6, 0x13, 1, 0, 0x16, 1, 2, 0x14, 2, 0, 2]);
/// # Ok::<(), osi_stack::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ParametersBuf {
    raw: Vec<u8>,
}

impl ParametersBuf {
    /// An empty field.
    pub const fn new() -> Self {
        ParametersBuf { raw: Vec::new() }
    }

    fn push(
        &mut self,
        code: ParameterCode,
        value: &[u8],
        long: bool,
    ) -> Result<&mut Self, EncodeError> {
        if value.len() > MAX_LENGTH {
            return Err(too_large("parameter value length", value.len()));
        }
        self.raw.push(code.0);
        put_length(&mut self.raw, value.len(), long);
        self.raw.extend_from_slice(value);
        Ok(self)
    }

    /// Appends a unit (a PI, or a PGI with a single value such as User Data).
    pub fn unit(&mut self, code: ParameterCode, value: &[u8]) -> Result<&mut Self, EncodeError> {
        self.push(code, value, false)
    }

    /// Appends a unit whose length uses the three-octet form even when the value is shorter than
    /// 255 octets (some peers send it; useful to reproduce their bytes).
    pub fn unit_long(
        &mut self,
        code: ParameterCode,
        value: &[u8],
    ) -> Result<&mut Self, EncodeError> {
        self.push(code, value, true)
    }

    /// Appends a one-octet PI.
    pub fn u8(&mut self, code: ParameterCode, value: u8) -> Result<&mut Self, EncodeError> {
        self.push(code, &[value], false)
    }

    /// Appends a two-octet big-endian PI (Session User Requirements).
    pub fn u16(&mut self, code: ParameterCode, value: u16) -> Result<&mut Self, EncodeError> {
        self.push(code, &value.to_be_bytes(), false)
    }

    /// Appends a PGI whose value is the units of `inner` (PGI 1, 5, 33).
    pub fn group(
        &mut self,
        code: ParameterCode,
        inner: &ParametersBuf,
    ) -> Result<&mut Self, EncodeError> {
        self.push(code, &inner.raw, false)
    }

    /// Appends PGI 193 User Data.
    pub fn user_data(&mut self, data: &[u8]) -> Result<&mut Self, EncodeError> {
        self.push(ParameterCode::USER_DATA, data, false)
    }

    /// Appends PGI 194 Extended User Data.
    pub fn extended_user_data(&mut self, data: &[u8]) -> Result<&mut Self, EncodeError> {
        self.push(ParameterCode::EXTENDED_USER_DATA, data, false)
    }

    /// Appends units already encoded (for instance another field's [`Parameters::as_bytes`]).
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.raw.extend_from_slice(encoded);
        self
    }

    /// The encoded field.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Length in octets.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The field as borrowed [`Parameters`], checked for structure (units added with
    /// [`ParametersBuf::raw`] or a malformed [`ParametersBuf::group`] value can break it).
    pub fn as_parameters(&self) -> Result<Parameters<'_>, DecodeError> {
        Parameters::new(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    #[test]
    fn iterates_nested_and_long_forms() {
        let raw = [
            0x05, 0x06, 0x13, 0x01, 0x00, 0x16, 0x01, 0x02, 0x14, 0x02, 0x00, 0x02, 0xc1, 0xff,
            0x00, 0x02, 0xaa, 0xbb,
        ];
        let p = Parameters::new(&raw).unwrap();
        let units: Vec<_> = p.iter().collect();
        assert_eq!(units.len(), 3);
        assert!(units[0].is_group());
        let inner: Vec<_> = units[0].units().collect();
        assert_eq!(inner.len(), 2);
        assert_eq!(inner[1].code(), ParameterCode::VERSION_NUMBER);
        assert_eq!(inner[1].offset(), 5);
        assert_eq!(units[2].value(), [0xaa, 0xbb]);
        assert!(units[2].long_length());
        assert_eq!(units[2].encoded_len(), 6);
        assert_eq!(
            p.get(ParameterCode::SESSION_USER_REQUIREMENTS),
            Some(&[0, 2][..])
        );
    }

    #[test]
    fn rejects_overruns() {
        let e = Parameters::new(&[0x14, 0x03, 0x00, 0x02]).unwrap_err();
        assert_eq!(e.offset(), 2);
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::Overrun {
                declared: 3,
                available: 2,
                ..
            }
        ));
        // Nested overrun inside PGI 5: offset names the inner unit's value.
        let e = Parameters::new(&[0x05, 0x03, 0x13, 0x05, 0x00]).unwrap_err();
        assert_eq!(e.offset(), 4);
        let e = Parameters::new(&[0x05, 0xff, 0x00]).unwrap_err();
        assert!(e.is_truncated());
        assert_eq!(e.offset(), 2);
    }

    #[test]
    fn unknown_units_reported() {
        let raw = [0x99, 0x01, 0x00, 0x05, 0x03, 0x98, 0x01, 0x07];
        let p = Parameters::new(&raw).unwrap();
        let codes: Vec<u8> = p.unknown().map(|u| u.code().0).collect();
        assert_eq!(codes, [0x99, 0x98]);
    }

    #[test]
    fn buf_uses_long_form_over_254() {
        let mut b = ParametersBuf::new();
        b.user_data(&[7; 255]).unwrap();
        assert_eq!(&b.as_bytes()[..4], [0xc1, 0xff, 0x00, 0xff]);
        let mut b = ParametersBuf::new();
        b.user_data(&[7; 254]).unwrap();
        assert_eq!(&b.as_bytes()[..2], [0xc1, 0xfe]);
        assert!(b.user_data(&vec![0; 65_536]).is_err());
    }
}
