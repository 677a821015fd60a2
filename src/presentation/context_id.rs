//! [`ContextId`]: a presentation-context-identifier (X.226 §6.2.2.7, §8.2).

use core::fmt;
use core::num::NonZeroU8;

use crate::ber::{self, Ctx, Tag, Tlv};
use crate::error::{DecodeError, DecodeErrorKind};

/// A presentation-context-identifier (X.226 §8.2, `Presentation-context-identifier`): names one
/// member of the defined context set in a CP, CPA result list, P-DATA PDV-list, ARU, AC or RS,
/// and in the `indirect-reference` of an ACSE EXTERNAL (X.227 §7.1.4.1).
///
/// X.226 §8.2 types it `INTEGER (1..127, ..., 128..MAX)`; this type holds the root range
/// `1..=127`, which is what every implementation the project has met uses (ISODE, libiec61850,
/// Siemens and the captures in `testdata/`). An identifier outside it is refused when decoded,
/// with [`DecodeErrorKind::InvalidValue`] naming `"presentation context identifier"` at the
/// integer's offset, so the machine reacts to it as to any other invalid PPDU parameter value
/// (ARP, X.226 §6.4.4.1). The values of the extension addition `128..MAX` are refused the same
/// way; none has been seen.
///
/// X.226 §6.2.2.7 also fixes who chooses which: the initiator proposes odd identifiers (in the
/// CP and in its own AC-PPDUs), the responder even ones (in its AC-PPDUs, context management
/// only). That rule belongs to the negotiation, not to the value, so both parities are valid
/// here; see [`ContextId::is_odd`].
///
/// ```
/// use osi_stack::presentation::ContextId;
///
/// let mms = ContextId::new(3).expect("1..=127");
/// assert_eq!(mms.get(), 3);
/// assert_eq!(i64::from(mms), 3);
/// assert_eq!(mms.to_string(), "3");
/// assert!(mms.is_odd());
/// assert_eq!(ContextId::new(0), None);
/// assert_eq!(ContextId::new(128), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContextId(NonZeroU8);

impl ContextId {
    /// The smallest identifier, 1.
    pub const MIN: ContextId = ContextId(NonZeroU8::MIN);
    /// The largest identifier of the root range, 127.
    pub const MAX: ContextId = ContextId::known(127);

    /// The identifier `n`, or `None` outside `1..=127`.
    #[must_use]
    pub const fn new(n: i64) -> Option<ContextId> {
        if n < 1 || n > 127 {
            return None;
        }
        // In range, so the cast keeps the value.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        match NonZeroU8::new(n as u8) {
            Some(n) => Some(ContextId(n)),
            None => None,
        }
    }

    /// The identifier's value, in `1..=127`.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0.get() as i64
    }

    /// Whether the identifier is odd: a context the initiator proposed (X.226 §6.2.2.7).
    #[must_use]
    pub const fn is_odd(self) -> bool {
        self.0.get() & 1 == 1
    }

    /// The identifier `n`, for the crate's own constants, always evaluated at compile time
    /// (`const X: ContextId = ContextId::known(3);` or `const { ContextId::known(3) }`), where
    /// a value outside `1..=127` fails the build instead of panicking.
    #[allow(clippy::panic)]
    pub(crate) const fn known(n: u8) -> ContextId {
        match ContextId::from_octet(n) {
            Some(c) => c,
            None => panic!("presentation context identifier outside 1..=127"),
        }
    }

    /// The identifier held by the one-octet contents of an INTEGER, if it is one.
    #[inline(always)]
    pub(crate) const fn from_octet(b: u8) -> Option<ContextId> {
        if b > 127 {
            return None;
        }
        match NonZeroU8::new(b) {
            Some(n) => Some(ContextId(n)),
            None => None,
        }
    }

    /// Decodes an INTEGER element holding a presentation-context-identifier; a value outside
    /// `1..=127` is [`DecodeErrorKind::InvalidValue`] at the element's offset.
    pub(crate) fn decode(c: &Ctx, t: &Tlv<'_>) -> Result<ContextId, DecodeError> {
        let v = ber::integer(c, t)?;
        ContextId::new(v).ok_or_else(|| {
            c.err(
                t.offset,
                DecodeErrorKind::InvalidValue {
                    what: "presentation context identifier",
                    // Two's complement for a negative value, as the octets read.
                    value: u64::from_ne_bytes(v.to_ne_bytes()),
                },
            )
        })
    }

    /// The size of the INTEGER element with tag `tag` holding this identifier.
    pub(crate) fn int_len(self, tag: Tag) -> usize {
        ber::int_len(tag, self.get())
    }
}

impl fmt::Display for ContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<ContextId> for i64 {
    fn from(c: ContextId) -> i64 {
        c.get()
    }
}

impl TryFrom<i64> for ContextId {
    type Error = InvalidContextId;

    fn try_from(n: i64) -> Result<ContextId, InvalidContextId> {
        ContextId::new(n).ok_or(InvalidContextId(n))
    }
}

/// The value [`ContextId::try_from`] refused: outside `1..=127`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("presentation context identifier {0} outside 1..=127")]
pub struct InvalidContextId(pub i64);

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ContextId {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(ContextId::from_octet(u.int_in_range(1u8..=127)?).unwrap_or(ContextId::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_the_x226_root() {
        for n in [i64::MIN, -1, 0, 128, 255, 256, i64::MAX] {
            assert_eq!(ContextId::new(n), None, "{n}");
            assert_eq!(ContextId::try_from(n), Err(InvalidContextId(n)));
        }
        for n in 1..=127 {
            let c = ContextId::new(n).unwrap();
            assert_eq!(c.get(), n);
            assert_eq!(i64::from(c), n);
            assert_eq!(c.to_string(), n.to_string());
            assert_eq!(c.is_odd(), n % 2 == 1);
            assert_eq!(ContextId::from_octet(n as u8), Some(c));
        }
        assert_eq!(ContextId::from_octet(0), None);
        assert_eq!(ContextId::from_octet(0x80), None);
        assert_eq!(ContextId::MIN.get(), 1);
        assert_eq!(ContextId::MAX.get(), 127);
    }
}
