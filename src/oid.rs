//! Object identifiers (X.660, BER encoding X.690 §8.19), zero-copy.
//!
//! An [`Oid`] borrows the *content octets* of a BER `OBJECT IDENTIFIER` (what follows `06 LL`),
//! so decoding a presentation context list or an ACSE application-context-name copies nothing.
//! [`Oid::new`] checks the encoding once: content not empty, every subidentifier minimal (no
//! leading `0x80` octet), the last octet ends a subidentifier, and every arc fits in a `u128`
//! (which covers the 128-bit UUID arcs under `2.25`). After that, [`Oid::arcs`] and `Display`
//! cannot fail. [`OwnedOid`] builds an identifier from numbers ([`OwnedOid::from_arcs`]).
//!
//! ```
//! use osi_stack::oid::{Oid, OwnedOid};
//! assert_eq!(Oid::MMS_ABSTRACT_SYNTAX.to_string(), "1.0.9506.2.1");
//! let acse = OwnedOid::from_arcs(&[2, 2, 1, 0, 1]).unwrap();
//! assert_eq!(acse.as_oid(), Oid::ACSE_ABSTRACT_SYNTAX);
//! assert_eq!(Oid::new(&[0x51, 0x01]).unwrap(), Oid::BER);
//! ```

use core::fmt;

/// Why octets or numbers do not form an object identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum OidError {
    /// No content octets (X.690 §8.19.2 needs at least one subidentifier).
    #[error("empty object identifier")]
    Empty,
    /// A subidentifier starts with `0x80` (X.690 §8.19.2: "the leading octet … shall not be 80").
    #[error("non-minimal object identifier subidentifier")]
    NonMinimal,
    /// The last octet has its continuation bit set.
    #[error("object identifier ends inside a subidentifier")]
    Unterminated,
    /// An arc does not fit in 128 bits.
    #[error("object identifier arc larger than 128 bits")]
    ArcTooLarge,
    /// Fewer than two arcs, a first arc above 2, or a second arc above 39 under arcs 0 and 1
    /// (X.660 §7.5), given to [`OwnedOid::from_arcs`].
    #[error("invalid first arcs of object identifier")]
    InvalidFirstArcs,
}

/// A BER object identifier, borrowed as its content octets (X.690 §8.19).
///
/// ```text
///  06 | LL | subidentifier 1 = 40·arc1 + arc2 | subidentifier 2 | …
///            base-128, high bit = "more octets follow"
/// ```
///
/// Equality and hashing compare the content octets, which is value equality because
/// [`Oid::new`] accepts only the minimal (and so unique) encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid<'a> {
    content: &'a [u8],
}

/// Reads one subidentifier starting at `bytes`, returning its value and the octets it used.
fn subidentifier(bytes: &[u8]) -> Result<(u128, usize), OidError> {
    let mut value: u128 = 0;
    let mut used = 0usize;
    for &b in bytes {
        if used == 0 && b == 0x80 {
            return Err(OidError::NonMinimal);
        }
        used = used.saturating_add(1);
        if value.leading_zeros() < 7 {
            return Err(OidError::ArcTooLarge);
        }
        value = (value << 7) | u128::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok((value, used));
        }
    }
    Err(OidError::Unterminated)
}

/// Checks every subidentifier of non-empty content octets, in order.
fn check_subidentifiers(content: &[u8]) -> Result<(), OidError> {
    let mut rest = content;
    while !rest.is_empty() {
        let (_, used) = subidentifier(rest)?;
        rest = rest.get(used..).unwrap_or_default();
    }
    Ok(())
}

impl<'a> Oid<'a> {
    /// BER transfer syntax `{joint-iso-itu-t asn1(1) basic-encoding(1)}` = 2.1.1 (X.690 §8; X.227 §9.2).
    pub const BER: Oid<'static> = Oid::from_static(&[0x51, 0x01]);
    /// ACSE abstract syntax `acse-as-id` 2.2.1.0.1 (X.227 §9.1).
    pub const ACSE_ABSTRACT_SYNTAX: Oid<'static> = Oid::from_static(&[0x52, 0x01, 0x00, 0x01]);
    /// ACSE application-service-element identifier `aCSE-id` 2.2.3.1.1 (X.227 §9.1; rarely sent).
    pub const ACSE_ASE_ID: Oid<'static> = Oid::from_static(&[0x52, 0x03, 0x01, 0x01]);
    /// Password authentication mechanism 2.2.3.1 (X.227 Annex B).
    pub const PASSWORD_MECHANISM: Oid<'static> = Oid::from_static(&[0x52, 0x03, 0x01]);
    /// MMS abstract syntax `mms-abstract-syntax-version1` 1.0.9506.2.1 (ISO 9506-2).
    pub const MMS_ABSTRACT_SYNTAX: Oid<'static> = Oid::from_static(&[0x28, 0xca, 0x22, 0x02, 0x01]);
    /// MMS application context 1.0.9506.2.3 (ISO 9506-2; IEC 61850-8-1).
    pub const MMS_APPLICATION_CONTEXT: Oid<'static> =
        Oid::from_static(&[0x28, 0xca, 0x22, 0x02, 0x03]);
    /// RTSE APDUs module, "rtse pci version 1" in ISODE, 2.3.0 (X.228).
    pub const RTSE_APDUS: Oid<'static> = Oid::from_static(&[0x53, 0x00]);
    /// RTSE application-service-element identifier 2.3.1 (X.228).
    pub const RTSE_ASE_ID: Oid<'static> = Oid::from_static(&[0x53, 0x01]);
    /// RTSE abstract syntax `rTSE-abstract-syntax` 2.3.2 (X.228).
    pub const RTSE_ABSTRACT_SYNTAX: Oid<'static> = Oid::from_static(&[0x53, 0x02]);
    /// X.400 MTA transfer application context `id-ac-mts-transfer` 2.6.0.1.6 (X.419).
    pub const X400_AC_MTS_TRANSFER: Oid<'static> = Oid::from_static(&[0x56, 0x00, 0x01, 0x06]);
    /// X.400 abstract syntax `id-as-mta-rtse` 2.6.0.2.12 (RTSE APDUs with MTA-bind; X.419 as
    /// given by Wireshark's p1 dissector — one source only).
    pub const X400_AS_MTA_RTSE: Oid<'static> = Oid::from_static(&[0x56, 0x00, 0x02, 0x0c]);
    /// X.400 abstract syntax `id-as-mtse` 2.6.0.2.7 (message-transfer APDUs; X.419 as given by
    /// Wireshark's p1 dissector — one source only).
    pub const X400_AS_MTSE: Oid<'static> = Oid::from_static(&[0x56, 0x00, 0x02, 0x07]);

    /// Checks `content` (the octets after `06 LL`) and borrows it as an object identifier.
    #[inline]
    pub fn new(content: &'a [u8]) -> Result<Self, OidError> {
        if content.is_empty() {
            return Err(OidError::Empty);
        }
        // Up to 8 octets (nearly every identifier on the wire): the same octet checks on the
        // octets packed in a word, without a loop-carried state.
        if content.len() <= 8 {
            let mut w = 0u64;
            for &b in content {
                w = (w << 8) | u64::from(b);
            }
            const HI: u64 = 0x8080_8080_8080_8080;
            // Octets that start a subidentifier: the first (the octets above it are zero) and
            // every one after an octet without the continuation bit.
            let starts = !((w & HI) >> 8) & HI;
            // Octets equal to 0x80 (exact per octet: no carry crosses an octet).
            let x = w ^ HI;
            let is_80 = !(((x & !HI).wrapping_add(!HI)) | x) & HI;
            return if is_80 & starts != 0 {
                Err(OidError::NonMinimal)
            } else if w & 0x80 != 0 {
                Err(OidError::Unterminated)
            } else {
                Ok(Oid { content })
            };
        }
        // Up to 16 octets no arc can reach 121 bits, so only the octet checks remain: no
        // subidentifier starts with 0x80, the last octet ends one. Same answer as the loop
        // below (whose first fault is then a leading 0x80, else the unterminated end).
        if content.len() <= 16 {
            let mut at_start = true;
            let mut non_minimal = false;
            for &b in content {
                non_minimal |= at_start & (b == 0x80);
                at_start = b & 0x80 == 0;
            }
            return if non_minimal {
                Err(OidError::NonMinimal)
            } else if !at_start {
                Err(OidError::Unterminated)
            } else {
                Ok(Oid { content })
            };
        }
        check_subidentifiers(content)?;
        Ok(Oid { content })
    }

    /// An identifier from content octets known to be valid, for constants. The octets are not
    /// checked here; an invalid constant prints and iterates as far as it is readable.
    pub const fn from_static(content: &'static [u8]) -> Oid<'static> {
        Oid { content }
    }

    /// Content octets that [`Oid::new`] already accepted (a decoded list read again).
    pub(crate) const fn checked(content: &'a [u8]) -> Oid<'a> {
        Oid { content }
    }

    /// The BER content octets.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.content
    }

    /// The arcs, first to last (the first subidentifier is split into two arcs, X.690 §8.19.4).
    pub fn arcs(&self) -> Arcs<'a> {
        Arcs {
            rest: self.content,
            pending: None,
            first: true,
        }
    }

    /// Copies the identifier into an [`OwnedOid`].
    pub fn to_owned_oid(&self) -> OwnedOid {
        OwnedOid {
            content: self.content.to_vec(),
        }
    }
}

/// Iterator over the arcs of an [`Oid`], from [`Oid::arcs`].
#[derive(Debug, Clone)]
pub struct Arcs<'a> {
    rest: &'a [u8],
    pending: Option<u128>,
    first: bool,
}

impl Iterator for Arcs<'_> {
    type Item = u128;

    fn next(&mut self) -> Option<u128> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        let (value, used) = subidentifier(self.rest).ok()?;
        self.rest = self.rest.get(used..).unwrap_or_default();
        if core::mem::take(&mut self.first) {
            let (a, b) = match value {
                0..=39 => (0, value),
                40..=79 => (1, value.saturating_sub(40)),
                _ => (2, value.saturating_sub(80)),
            };
            self.pending = Some(b);
            return Some(a);
        }
        Some(value)
    }
}

impl fmt::Display for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.arcs().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// An object identifier that owns its content octets, built from arcs (X.660 §7).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnedOid {
    content: Vec<u8>,
}

fn put_base128(out: &mut Vec<u8>, mut v: u128) {
    let mut tmp = [0u8; 19];
    let mut n = 0usize;
    loop {
        if let Some(slot) = tmp.get_mut(n) {
            *slot = (v & 0x7f) as u8;
        }
        n = n.saturating_add(1);
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let b = tmp.get(i).copied().unwrap_or(0);
        out.push(if i == 0 { b } else { b | 0x80 });
    }
}

impl OwnedOid {
    /// Encodes `arcs` (at least two; the first 0, 1 or 2; the second below 40 under 0 and 1).
    pub fn from_arcs(arcs: &[u128]) -> Result<Self, OidError> {
        let (first, second, rest) = match arcs {
            [a, b, rest @ ..] => (*a, *b, rest),
            _ => return Err(OidError::InvalidFirstArcs),
        };
        let head = match first {
            0 | 1 if second < 40 => first.saturating_mul(40).saturating_add(second),
            2 => second.checked_add(80).ok_or(OidError::ArcTooLarge)?,
            _ => return Err(OidError::InvalidFirstArcs),
        };
        let mut content = Vec::new();
        put_base128(&mut content, head);
        for &arc in rest {
            put_base128(&mut content, arc);
        }
        Ok(OwnedOid { content })
    }

    /// Copies and checks BER content octets (see [`Oid::new`]).
    pub fn from_ber(content: &[u8]) -> Result<Self, OidError> {
        Oid::new(content).map(|o| o.to_owned_oid())
    }

    /// Borrows as an [`Oid`].
    pub fn as_oid(&self) -> Oid<'_> {
        Oid {
            content: &self.content,
        }
    }
}

impl fmt::Display for OwnedOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_oid(), f)
    }
}

impl fmt::Debug for OwnedOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_oid(), f)
    }
}

impl core::str::FromStr for OwnedOid {
    type Err = OidError;

    /// Parses dotted decimal (`"2.2.1.0.1"`).
    fn from_str(s: &str) -> Result<Self, OidError> {
        let mut arcs = Vec::new();
        for part in s.split('.') {
            let v: u128 = part.parse().map_err(|_| OidError::InvalidFirstArcs)?;
            arcs.push(v);
        }
        OwnedOid::from_arcs(&arcs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short-identifier check of `Oid::new` answers as the subidentifier loop does, on
    /// every string of up to 5 octets over the octets that matter (up to 9, the word check's
    /// bound and one past it, over fewer) and on long arcs.
    #[test]
    fn short_check_matches_the_subidentifier_loop() {
        let (full, small) = (
            [0x00u8, 0x01, 0x7f, 0x80, 0x81, 0xff],
            [0x00u8, 0x7f, 0x80, 0x81],
        );
        let mut buf = Vec::new();
        for len in 1..=9u32 {
            let alphabet = if len <= 5 { &full[..] } else { &small[..] };
            for n in 0..alphabet.len().pow(len) {
                buf.clear();
                let mut k = n;
                for _ in 0..len {
                    buf.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                let want = check_subidentifiers(&buf).map(|()| buf.as_slice());
                assert_eq!(Oid::new(&buf).map(|o| o.as_bytes()), want, "{buf:02x?}");
            }
        }
        for len in 1..=20usize {
            let mut arc = vec![0xffu8; len];
            arc[len - 1] = 0x7f;
            let want = check_subidentifiers(&arc).map(|()| arc.as_slice());
            assert_eq!(Oid::new(&arc).map(|o| o.as_bytes()), want, "{len}");
        }
    }

    #[test]
    fn constants_print_as_in_the_spec() {
        let cases = [
            (Oid::BER, "2.1.1"),
            (Oid::ACSE_ABSTRACT_SYNTAX, "2.2.1.0.1"),
            (Oid::ACSE_ASE_ID, "2.2.3.1.1"),
            (Oid::PASSWORD_MECHANISM, "2.2.3.1"),
            (Oid::MMS_ABSTRACT_SYNTAX, "1.0.9506.2.1"),
            (Oid::MMS_APPLICATION_CONTEXT, "1.0.9506.2.3"),
            (Oid::RTSE_APDUS, "2.3.0"),
            (Oid::RTSE_ASE_ID, "2.3.1"),
            (Oid::RTSE_ABSTRACT_SYNTAX, "2.3.2"),
            (Oid::X400_AC_MTS_TRANSFER, "2.6.0.1.6"),
            (Oid::X400_AS_MTA_RTSE, "2.6.0.2.12"),
            (Oid::X400_AS_MTSE, "2.6.0.2.7"),
        ];
        for (oid, s) in cases {
            assert_eq!(oid.to_string(), s);
            assert_eq!(Oid::new(oid.as_bytes()).unwrap(), oid);
            let owned: OwnedOid = s.parse().unwrap();
            assert_eq!(owned.as_oid(), oid, "{s}");
        }
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(Oid::new(&[]), Err(OidError::Empty));
        assert_eq!(Oid::new(&[0x51, 0x80, 0x01]), Err(OidError::NonMinimal));
        assert_eq!(Oid::new(&[0x51, 0x81]), Err(OidError::Unterminated));
        let mut big = vec![0x51];
        big.extend(std::iter::repeat_n(0xff, 19));
        big.push(0x7f);
        assert_eq!(Oid::new(&big), Err(OidError::ArcTooLarge));
        assert_eq!(
            OwnedOid::from_arcs(&[3, 1]),
            Err(OidError::InvalidFirstArcs)
        );
        assert_eq!(
            OwnedOid::from_arcs(&[1, 40]),
            Err(OidError::InvalidFirstArcs)
        );
        assert_eq!(OwnedOid::from_arcs(&[1]), Err(OidError::InvalidFirstArcs));
    }

    #[test]
    fn large_arcs() {
        let uuid = u128::MAX;
        let o = OwnedOid::from_arcs(&[2, 25, uuid]).unwrap();
        assert_eq!(o.as_oid().arcs().collect::<Vec<_>>(), vec![2, 25, uuid]);
        assert_eq!(Oid::new(o.as_oid().as_bytes()).unwrap(), o.as_oid());
        let o = OwnedOid::from_arcs(&[2, 999, 3]).unwrap();
        assert_eq!(o.to_string(), "2.999.3");
    }
}
