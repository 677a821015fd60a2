//! Transport, session and presentation selectors, and presentation addresses in the string form
//! of RFC 1278 (`docs/protocol-notes.md` §1 and §2).
//!
//! # Selectors
//!
//! [`TSel`], [`SSel`] and [`PSel`] are octet strings, compared octet by octet: `00 01` and `01`
//! are different selectors, and so are an empty selector and an absent one. They are stored
//! inline (no allocation) and are `Copy`; a T-selector holds at most 32 octets, S- and
//! P-selectors at most 16 (the limits of Exchange 5.5, libiec61850 and X.225, `docs/protocol-notes.md` §2).
//!
//! `FromStr` accepts the RFC 1278 selector forms and, for configuration files, bare hex:
//!
//! | text | octets | notes |
//! |---|---|---|
//! | `"mts"` | `6d 74 73` | IA5 taken literally: printable ASCII except `"`, no escapes |
//! | `#63` | `00 3f` | US GOSIP: decimal 0..=65535 as two octets, big-endian |
//! | `'0001'H` | `00 01` | hex, an even number of digits in either case |
//! | `0001`, `00 01` | `00 01` | bare hex as IEC 61850 SCL files write it; ASCII whitespace ignored |
//! | `1` | `01` | bare hex with an odd number of digits: a `0` is put in front |
//! | (empty) | (none) | the empty selector |
//!
//! Surrounding ASCII whitespace is ignored. The bare form is a configuration convenience: it
//! is not part of RFC 1278 and [`PresentationAddress`] does not accept it (`docs/protocol-notes.md` §1, "do not
//! apply that rule to RFC 1278 strings"). An SCL value with dropped zeros such as `1` becomes
//! the one octet `01`; a peer configured with `00 01` wants `0001` written out, since the
//! crate never guesses a length. `'1'H` stays an error: RFC 1278 asks for whole octets.
//!
//! `Display` prints the RFC 1278 text form `"…"` when the selector is not empty and every
//! octet is in RFC 1278's `other` set (`0-9 a-z A-Z + - .`), and `'…'H` in lowercase hex
//! otherwise (`''H` for the empty selector), so what is printed parses back to the same
//! octets. `Debug` shows the hex digits, [`TSel::to_hex`] returns them.
//!
//! ```
//! use osi_stack::address::{PSel, TSel};
//!
//! let t: TSel = "00 01".parse()?;
//! assert_eq!(t.as_bytes(), [0x00, 0x01]);
//! assert_eq!(t.to_string(), "'0001'H");
//! assert_ne!(t, "01".parse::<TSel>()?);
//!
//! let p: PSel = "\"mts\"".parse()?;
//! assert_eq!(p.as_bytes(), b"mts");
//! assert_eq!(p.to_string(), "\"mts\"");
//! assert_eq!(format!("{p:?}"), "PSel(6d7473)");
//! # Ok::<(), osi_stack::address::AddressError>(())
//! ```
//!
//! # Presentation addresses
//!
//! [`PresentationAddress`] reads and writes RFC 1278 strings:
//! `[[[psel "/"] ssel "/"] tsel "/"] network-address ("_" network-address)*`. Selectors count
//! from the right: one is the T-selector, two are S and T, three are P, S and T; a selector
//! written as nothing between slashes is present and empty (`"p"///NS+…`). `|` is accepted
//! between network addresses as well as `_` (UCL RN/89/14 and ISODE use it); `_` is printed.
//!
//! Network addresses ([`NetworkAddress`]):
//!
//! - **RFC 1006** (`TELEX+00728722+RFC-1006+prefix+host[+port[+tset]]`, usually written with
//!   the `Internet=` macro) becomes [`NetworkAddress::Rfc1006`]; the port defaults to 102.
//!   It prints as `Internet=host[+port[+tset]]` (prefix 03), `localTCP=…` (prefix 05) or
//!   `TCP=NN+…` (any other prefix), with the port left out when it is 102 and no transport set
//!   follows.
//! - **Binary NSAPs**: `NS+hex` or `NS+dotted.decimal`, and the user-oriented forms
//!   `afi+idi`, `afi+idi+d<digits>` and `afi+idi+x<hex>` for the AFIs `X121`, `DCC`, `TELEX`,
//!   `PSTN`, `ISDN` and `ICD`, become [`NetworkAddress::Nsap`] in the preferred binary encoding
//!   of X.213 Annex A (AFI, IDI padded to its full length with `0`, or with `1` when it starts
//!   with a zero and the AFI for "leading zero" is used, decimal parts packed two digits per
//!   octet with a final `F` nibble when odd). They print as `NS+hex`.
//! - **Everything else RFC 1278 can write** (X.25(80) with CUDF or PID, ECMA-117, `LOCAL`,
//!   the `l` IA5 form and the ISO 8348 `idp+hex` form) is checked for its characters and kept
//!   verbatim, after macro expansion, as [`NetworkAddress::Other`]: the crate does not speak
//!   X.25 and the binary encoding of those forms has no second source in the spec.
//!
//! Macros (`name=rest`) are expanded from the standard table of `docs/protocol-notes.md` §1 (RN/89/14 and ISODE
//! `macros.prefix`): `Int-X25(80)`, `Janet`, `Janet-X25(80)`, `Internet-RFC-1006`, `X25(80)`,
//! `TCP`, `Internet`, `localTCP`, `localHost`, `Int-X25`, `IXI`, `realNS` and `NSAP`. Macro
//! names, `NS`, the AFI names and the keywords `RFC-1006`, `X.25(80)` and `ECMA-117-…` are
//! matched ignoring ASCII case; the one-letter `d`, `x` and `l` markers are lowercase. When
//! nothing follows the `=` the macro's trailing `+` is dropped, so `localHost=` is
//! `127.0.0.1` on port 102. An unknown macro is an error.
//!
//! ```
//! use osi_stack::address::{NetworkAddress, PresentationAddress};
//!
//! let a: PresentationAddress = "'00000001'H/'0001'H/'0001'H/Internet=192.168.1.10+102".parse()?;
//! assert_eq!(a.psel.unwrap().as_bytes(), [0, 0, 0, 1]);
//! assert_eq!(a.tsel.unwrap().as_bytes(), [0, 1]);
//! assert_eq!(a.rfc1006_endpoints(), [("192.168.1.10".to_string(), 102)]);
//! assert_eq!(a.to_string(), "'00000001'H/'0001'H/'0001'H/Internet=192.168.1.10");
//!
//! // RFC 1277: the same endpoint as a binary NSAP, and back.
//! let nsap = a.network[0].to_nsap().unwrap();
//! assert_eq!(nsap, [0x54, 0x00, 0x72, 0x87, 0x22, 0x03, 0x19, 0x21, 0x68, 0x00, 0x10, 0x10]);
//! assert_eq!(NetworkAddress::from_nsap(&nsap), a.network[0]);
//! # Ok::<(), osi_stack::address::AddressError>(())
//! ```
//!
//! # What RFC 1278 cannot say
//!
//! The string form has no way to give a P-selector without S- and T-selectors, or an
//! S-selector without a T-selector. `Display` writes a missing inner selector as an empty one,
//! which parses back as `Some` of the empty selector; the crate treats an empty selector like
//! an absent one when it connects (`docs/protocol-notes.md` §1). A `PresentationAddress` without network addresses,
//! or one built by hand with a host name holding characters outside `0-9 a-z A-Z - .`, prints
//! as a string that does not parse. Host names are not resolved here: the crate does no I/O.
//!
//! Parsing never panics; errors name the byte offset in the string and what was wrong there:
//! `address: odd number of hex digits in selector at offset 1`.

use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt::{self, Write as _};
use core::hash::{Hash, Hasher};
use core::str::FromStr;
use std::net::Ipv4Addr;

/// The TCP port of RFC 1006, used when an RFC 1006 network address gives none.
pub const RFC1006_PORT: u16 = 102;

/// The longest NSAP ISO 8348 allows, in octets.
const MAX_NSAP_LEN: usize = 20;

/// RFC 1277's initial domain part for RFC 1006 addresses: AFI 54 (F.69 telex, decimal DSP,
/// leading zero) and IDI 00728722.
const RFC1277_IDP: [u8; 5] = [0x54, 0x00, 0x72, 0x87, 0x22];

/// RFC 1277's transport set for TCP (ISODE `NA_TSET_TCP`), the default; the sets are bits.
const TSET_TCP: u16 = 0x0001;

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a selector, network address or presentation address was rejected, and where.
///
/// The offset counts bytes from the start of the string given to `from_str`; for
/// [`TSel::new`] and its twins it is 0. Messages read
/// `address: odd number of hex digits in selector at offset 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("address: {kind} at offset {offset}")]
pub struct AddressError {
    offset: usize,
    kind: AddressErrorKind,
}

impl AddressError {
    /// Byte offset in the parsed string of the element that was wrong.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong.
    pub const fn kind(&self) -> &AddressErrorKind {
        &self.kind
    }
}

/// What was wrong with an address string or selector.
///
/// `&'static str` fields name the element concerned, so messages read
/// `unexpected 'g' in selector` or `port above 65535`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AddressErrorKind {
    /// More octets than the element holds (the offset is where the element starts).
    #[error("{what} longer than {max} octets")]
    TooLong {
        /// The element: `"t-selector"`, `"s-selector"`, `"p-selector"` or `"nsap"`.
        what: &'static str,
        /// The most octets it holds.
        max: usize,
    },
    /// More decimal digits than the field has (an IDI or an RFC 1006 prefix).
    #[error("{what} has more than {max} digits")]
    TooManyDigits {
        /// The field.
        what: &'static str,
        /// The most digits it has.
        max: usize,
    },
    /// Hex digits that do not make whole octets (the offset is the first digit).
    #[error("odd number of hex digits in {what}")]
    OddHexDigits {
        /// The element.
        what: &'static str,
    },
    /// A character that is not allowed at this point.
    #[error("unexpected {found:?} in {what}")]
    UnexpectedChar {
        /// The element being read.
        what: &'static str,
        /// The character found.
        found: char,
    },
    /// A quoted selector without its closing `"`, a hex selector without its closing `'H`, or a
    /// network address with an unbalanced `"`.
    #[error("unterminated {what}")]
    Unterminated {
        /// The element.
        what: &'static str,
    },
    /// A decimal number larger than its field allows.
    #[error("{what} above {max}")]
    NumberTooLarge {
        /// The field.
        what: &'static str,
        /// The largest allowed value.
        max: u32,
    },
    /// A mandatory part is missing (the offset is where it should start).
    #[error("missing {what}")]
    Missing {
        /// The part.
        what: &'static str,
    },
    /// Nothing where a network address should be: after the selectors, or before, between or
    /// after the `_` separators.
    #[error("empty network address")]
    EmptyNetworkAddress,
    /// A fourth selector (RFC 1278 has P, S and T).
    #[error("more than three selectors")]
    TooManySelectors,
    /// A macro, network address form or domain specific part the crate does not know.
    #[error("unknown {what}")]
    Unknown {
        /// What was not recognised.
        what: &'static str,
    },
}

use AddressErrorKind as Kind;

fn err(offset: usize, kind: AddressErrorKind) -> AddressError {
    AddressError { offset, kind }
}

fn unexpected(offset: usize, found: char, what: &'static str) -> AddressError {
    err(offset, Kind::UnexpectedChar { what, found })
}

/// The offset of position `i` in a piece of text that starts at `at`.
fn off(at: usize, i: usize) -> usize {
    at.saturating_add(i)
}

// ---------------------------------------------------------------------------------------------
// Inline octet storage and the small parsers shared by selectors and NSAPs

/// At most `N` (≤ 255) octets stored inline; the octets past `len` are always zero.
#[derive(Debug, Clone, Copy)]
struct Octets<const N: usize> {
    buf: [u8; N],
    len: u8,
}

impl<const N: usize> Octets<N> {
    const EMPTY: Self = Octets {
        buf: [0; N],
        len: 0,
    };

    fn as_slice(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut o = Self::EMPTY;
        o.buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        o.len = u8::try_from(bytes.len()).ok()?;
        Some(o)
    }

    /// Appends one octet; `false` when there is no room.
    #[must_use]
    fn push(&mut self, octet: u8) -> bool {
        match self.buf.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = octet;
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }
}

/// Reads hex digits into octets. `lenient` (bare selectors) skips ASCII whitespace and puts a `0`
/// in front of an odd number of digits; otherwise an odd count is an error. `full` is the error for
/// more than `N` octets.
fn hex_octets<const N: usize>(
    text: &str,
    at: usize,
    what: &'static str,
    lenient: bool,
    full: AddressError,
) -> Result<Octets<N>, AddressError> {
    let mut digits = 0usize;
    for (i, c) in text.char_indices() {
        if c.is_ascii_hexdigit() {
            digits = digits.saturating_add(1);
        } else if !(lenient && c.is_ascii_whitespace()) {
            return Err(unexpected(off(at, i), c, what));
        }
    }
    let odd = digits & 1 == 1;
    if odd && !lenient {
        return Err(err(at, Kind::OddHexDigits { what }));
    }
    let mut out = Octets::EMPTY;
    let mut high = odd.then_some(0u8);
    for nibble in text.chars().filter_map(|c| c.to_digit(16)) {
        let nibble = nibble as u8;
        match high.take() {
            None => high = Some(nibble),
            Some(h) => {
                if !out.push(h << 4 | nibble) {
                    return Err(full);
                }
            }
        }
    }
    Ok(out)
}

/// Reads a non-empty decimal number no larger than `max`.
fn decimal(text: &str, at: usize, what: &'static str, max: u32) -> Result<u32, AddressError> {
    if text.is_empty() {
        return Err(err(at, Kind::Missing { what }));
    }
    let mut value = 0u32;
    for (i, c) in text.char_indices() {
        let d = c
            .to_digit(10)
            .ok_or_else(|| unexpected(off(at, i), c, what))?;
        value = value.saturating_mul(10).saturating_add(d);
    }
    if value > max {
        return Err(err(at, Kind::NumberTooLarge { what, max }));
    }
    Ok(value)
}

fn decimal_u16(text: &str, at: usize, what: &'static str) -> Result<u16, AddressError> {
    decimal(text, at, what, u32::from(u16::MAX)).map(|v| u16::try_from(v).unwrap_or(u16::MAX))
}

/// Checks that `text` holds only decimal digits, at least one.
fn check_digits(text: &str, at: usize, what: &'static str) -> Result<(), AddressError> {
    match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, c)) => Err(unexpected(off(at, i), c, what)),
        None if text.is_empty() => Err(err(at, Kind::Missing { what })),
        None => Ok(()),
    }
}

/// RFC 1278 `dothexstring`: hex octets (`a433bb`) or dotted decimal octets (`164.51.187`).
fn dothex_octets<const N: usize>(
    text: &str,
    at: usize,
    what: &'static str,
    full: AddressError,
) -> Result<Octets<N>, AddressError> {
    if !text.contains('.') {
        return hex_octets(text, at, what, false, full);
    }
    let mut out = Octets::EMPTY;
    let mut start = 0usize;
    for part in text.split('.') {
        let octet = decimal(part, off(at, start), what, u32::from(u8::MAX))?;
        if !out.push(octet as u8) {
            return Err(full);
        }
        start = start.saturating_add(part.len()).saturating_add(1);
    }
    Ok(out)
}

/// Whether `b` is in RFC 1278's `other` set, the characters a quoted selector prints with.
fn is_other(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

fn write_hex(out: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(out, "{b:02x}"))
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    // Writing into a String cannot fail.
    let _ = write_hex(&mut s, bytes);
    s
}

// ---------------------------------------------------------------------------------------------
// Selectors

/// Parses the whole of `text` (found at offset `at`) as one selector of at most `N` octets.
/// `bare_hex` admits the configuration-file form (hex without quotes, spaces, odd digits).
fn parse_selector<const N: usize>(
    text: &str,
    at: usize,
    layer: &'static str,
    bare_hex: bool,
) -> Result<Octets<N>, AddressError> {
    let too_long = err(
        at,
        Kind::TooLong {
            what: layer,
            max: N,
        },
    );
    let body = text.get(1..).unwrap_or_default();
    let (octets, rest, rest_at) = match text.chars().next() {
        None => return Ok(Octets::EMPTY),
        Some('"') => {
            let (inner, rest) = body.split_once('"').ok_or(err(
                at,
                Kind::Unterminated {
                    what: "quoted selector",
                },
            ))?;
            let mut out = Octets::EMPTY;
            for (i, c) in inner.char_indices() {
                if !(c == ' ' || c.is_ascii_graphic()) {
                    return Err(unexpected(
                        off(at, i.saturating_add(1)),
                        c,
                        "quoted selector",
                    ));
                }
                if !out.push(c as u8) {
                    return Err(too_long);
                }
            }
            (out, rest, off(at, inner.len().saturating_add(2)))
        }
        Some('\'') => {
            let unterminated = err(
                at,
                Kind::Unterminated {
                    what: "hex selector",
                },
            );
            let (hex, rest) = body.split_once('\'').ok_or(unterminated)?;
            let rest = rest.strip_prefix('H').ok_or(unterminated)?;
            let out = hex_octets(hex, off(at, 1), "selector", false, too_long)?;
            (out, rest, off(at, hex.len().saturating_add(3)))
        }
        Some('#') => {
            let n = decimal_u16(body, off(at, 1), "selector number")?;
            let out = Octets::from_slice(&n.to_be_bytes()).ok_or(too_long)?;
            (out, "", at)
        }
        Some(_) if bare_hex => return hex_octets(text, at, "selector", true, too_long),
        Some(c) => return Err(unexpected(at, c, "selector")),
    };
    match rest.chars().next() {
        Some(c) => Err(unexpected(rest_at, c, "selector")),
        None => Ok(octets),
    }
}

/// Writes a selector as RFC 1278 text (`"…"`) or hex (`'…'H`), see the module docs.
fn fmt_selector(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if !bytes.is_empty() && bytes.iter().all(|&b| is_other(b)) {
        f.write_char('"')?;
        bytes
            .iter()
            .try_for_each(|&b| f.write_char(char::from(b)))?;
        f.write_char('"')
    } else {
        f.write_char('\'')?;
        write_hex(f, bytes)?;
        f.write_str("'H")
    }
}

macro_rules! selector {
    ($(#[$doc:meta])* $name:ident, $max:literal, $layer:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name(Octets<$max>);

        impl $name {
            /// The most octets the selector holds.
            pub const MAX_LEN: usize = $max;

            /// The empty selector: present, with no octets.
            pub const EMPTY: Self = $name(Octets::EMPTY);

            #[doc = concat!("Copies `bytes`; more than ", stringify!($max), " octets are an error.")]
            pub fn new(bytes: &[u8]) -> Result<Self, AddressError> {
                Octets::from_slice(bytes).map($name).ok_or(err(
                    0,
                    Kind::TooLong {
                        what: $layer,
                        max: $max,
                    },
                ))
            }

            /// The octets.
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_slice()
            }

            /// The number of octets.
            pub fn len(&self) -> usize {
                usize::from(self.0.len)
            }

            /// Whether the selector has no octets.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The octets as lowercase hex digits without separators (`"0001"`).
            pub fn to_hex(&self) -> String {
                to_hex(self.as_bytes())
            }

            /// Parses the whole of `text`, found at offset `at` of the caller's string.
            fn parse_at(text: &str, at: usize, bare_hex: bool) -> Result<Self, AddressError> {
                parse_selector(text, at, $layer, bare_hex).map($name)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::EMPTY
            }
        }

        impl FromStr for $name {
            type Err = AddressError;

            /// Parses `"text"`, `#number`, `'hex'H`, bare hex (whitespace allowed, an odd digit
            /// count gets a leading `0`) or nothing; see the module docs.
            fn from_str(s: &str) -> Result<Self, AddressError> {
                let trimmed = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
                let at = s.len().saturating_sub(trimmed.len());
                let trimmed = trimmed.trim_end_matches(|c: char| c.is_ascii_whitespace());
                Self::parse_at(trimmed, at, true)
            }
        }

        impl fmt::Display for $name {
            /// `"text"` when every octet is in RFC 1278's `other` set, else `'hex'H`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_selector(self.as_bytes(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "("))?;
                write_hex(f, self.as_bytes())?;
                f.write_char(')')
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_bytes() == other.as_bytes()
            }
        }

        impl Eq for $name {}

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            /// Octet-wise, like `[u8]`.
            fn cmp(&self, other: &Self) -> Ordering {
                self.as_bytes().cmp(other.as_bytes())
            }
        }

        impl Hash for $name {
            /// Hashes like `[u8]`, so maps keyed by selector can be searched with wire octets.
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.as_bytes().hash(state);
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                self.as_bytes()
            }
        }

        impl Borrow<[u8]> for $name {
            fn borrow(&self) -> &[u8] {
                self.as_bytes()
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = AddressError;

            fn try_from(bytes: &[u8]) -> Result<Self, AddressError> {
                Self::new(bytes)
            }
        }
    };
}

selector!(
    /// A transport selector (TSAP-ID; COTP parameters `0xc1` calling and `0xc2` called), at most
    /// 32 octets, compared as an octet string.
    ///
    /// Hashing and ordering follow `[u8]`, and `TSel: Borrow<[u8]>`, so a responder's table keyed
    /// by `TSel` can be searched with the octets of a received CR:
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use osi_stack::address::TSel;
    ///
    /// let mut services = HashMap::new();
    /// services.insert("0001".parse::<TSel>()?, "mms");
    /// services.insert("#1".parse::<TSel>()?, "same octets, written as a GOSIP number");
    /// assert_eq!(services.len(), 1);
    /// let called_tsel: &[u8] = &[0x00, 0x01];
    /// assert!(services.contains_key(called_tsel));
    /// assert!(!services.contains_key(&[0x01][..]));
    /// # Ok::<(), osi_stack::address::AddressError>(())
    /// ```
    TSel,
    32,
    "t-selector"
);

selector!(
    /// A session selector (SSAP selector; session parameters PI 51 calling and PI 52 called), at
    /// most 16 octets (X.225), compared as an octet string.
    ///
    /// ```
    /// use osi_stack::address::SSel;
    ///
    /// assert_eq!("'0001'H".parse::<SSel>()?.as_bytes(), [0x00, 0x01]);
    /// assert_eq!("#1".parse::<SSel>()?.as_bytes(), [0x00, 0x01]);
    /// assert!(SSel::new(&[0; 17]).is_err());
    /// # Ok::<(), osi_stack::address::AddressError>(())
    /// ```
    SSel,
    16,
    "s-selector"
);

selector!(
    /// A presentation selector (CP `[1]` calling, `[2]` called, CPA `[3]` responding), at most
    /// 16 octets, compared as an octet string.
    ///
    /// ```
    /// use osi_stack::address::PSel;
    ///
    /// let p: PSel = "00 00 00 01".parse()?;
    /// assert_eq!(p.to_hex(), "00000001");
    /// assert_eq!(p.to_string().parse::<PSel>()?, p);
    /// assert_eq!(PSel::default(), PSel::EMPTY);
    /// # Ok::<(), osi_stack::address::AddressError>(())
    /// ```
    PSel,
    16,
    "p-selector"
);

// ---------------------------------------------------------------------------------------------
// Network addresses

/// One network address of a presentation address (RFC 1278 `network-address`).
///
/// Equality compares the representation: an RFC 1006 address and the binary NSAP that encodes
/// it are different values. [`NetworkAddress::from_nsap`] and [`NetworkAddress::to_nsap`]
/// convert between them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkAddress {
    /// ISO transport over TCP (RFC 1006), in RFC 1277's form
    /// `TELEX+00728722+RFC-1006+prefix+host[+port[+tset]]`.
    Rfc1006 {
        /// RFC 1277 network prefix, two decimal digits: 3 is the Internet (`Internet=`),
        /// 5 is ISODE's `localTCP=`.
        prefix: u8,
        /// Host name or IPv4 address in dotted decimal, as written (RFC 1278 `domainchar`s:
        /// `0-9 a-z A-Z - .`). Not resolved here.
        host: String,
        /// TCP port; [`RFC1006_PORT`] (102) when the string gives none.
        port: u16,
        /// RFC 1277 transport set when the string gives one (bits as in ISODE: 1 TCP, 2 UDP;
        /// absent means TCP).
        tset: Option<u16>,
    },
    /// A binary NSAP (ISO 8348 / X.213 preferred binary encoding), at most 20 octets when
    /// parsed: from `NS+…`, `realNS=`, `NSAP=` or an `afi+idi[+d…|+x…]` form.
    Nsap(Vec<u8>),
    /// Any other RFC 1278 form (X.25(80), ECMA-117, `LOCAL`, `l` IA5, ISO 8348 `idp+hex`),
    /// kept as text after macro expansion and printed as it is.
    Other(String),
}

/// The standard macros of `docs/protocol-notes.md` §1, each already expanded (RN/89/14 and ISODE `macros.prefix`;
/// ISODE defines `Internet` as `TCP=03+` and `localHost` as `localTCP=127.0.0.1+`).
const MACROS: [(&str, &str); 13] = [
    ("Int-X25(80)", "TELEX+00728722+X.25(80)+01+"),
    ("Janet", "TELEX+00728722+X.25(80)+02+"),
    ("Janet-X25(80)", "TELEX+00728722+X.25(80)+02+"),
    ("Internet-RFC-1006", "TELEX+00728722+RFC-1006+03+"),
    ("X25(80)", "TELEX+00728722+X.25(80)+"),
    ("TCP", "TELEX+00728722+RFC-1006+"),
    ("Internet", "TELEX+00728722+RFC-1006+03+"),
    ("localTCP", "TELEX+00728722+RFC-1006+05+"),
    ("localHost", "TELEX+00728722+RFC-1006+05+127.0.0.1+"),
    ("Int-X25", "TELEX+00728722+X.25(80)+01+"),
    ("IXI", "TELEX+00728722+X.25(80)+06+"),
    ("realNS", "NS+"),
    ("NSAP", "NS+"),
];

/// An authority and format identifier of X.213 Annex A that RFC 1278 names.
struct Afi {
    name: &'static str,
    /// The IDI's full length in digits.
    idi_digits: usize,
    /// AFI for a decimal and for a binary DSP.
    decimal: u8,
    binary: u8,
    /// The same for an IDI whose first digit is zero (padded with `1`), where X.213 has them.
    leading_zero: Option<(u8, u8)>,
}

const AFIS: [Afi; 6] = [
    Afi {
        name: "X121",
        idi_digits: 14,
        decimal: 0x36,
        binary: 0x37,
        leading_zero: Some((0x52, 0x53)),
    },
    Afi {
        name: "DCC",
        idi_digits: 3,
        decimal: 0x38,
        binary: 0x39,
        leading_zero: None,
    },
    Afi {
        name: "TELEX",
        idi_digits: 8,
        decimal: 0x40,
        binary: 0x41,
        leading_zero: Some((0x54, 0x55)),
    },
    Afi {
        name: "PSTN",
        idi_digits: 12,
        decimal: 0x42,
        binary: 0x43,
        leading_zero: Some((0x56, 0x57)),
    },
    Afi {
        name: "ISDN",
        idi_digits: 15,
        decimal: 0x44,
        binary: 0x45,
        leading_zero: Some((0x58, 0x59)),
    },
    Afi {
        name: "ICD",
        idi_digits: 4,
        decimal: 0x46,
        binary: 0x47,
        leading_zero: None,
    },
];

/// Keywords of RFC 1278 forms kept as [`NetworkAddress::Other`].
const OTHER_DSP_KEYWORDS: [&str; 3] = ["X.25(80)", "ECMA-117-Binary", "ECMA-117-Decimal"];

/// Where the characters of an expanded network address came from: the first `macro_len`
/// from the macro name at `macro_at`, the rest from the caller's string at `rest_at`.
#[derive(Clone, Copy)]
struct Origin {
    macro_len: usize,
    macro_at: usize,
    rest_at: usize,
}

impl Origin {
    fn at(self, i: usize) -> usize {
        match i.checked_sub(self.macro_len) {
            Some(j) => off(self.rest_at, j),
            None => self.macro_at,
        }
    }
}

/// `name` and `rest` of `name=rest` when `name` looks like a macro name.
fn split_macro(text: &str) -> Option<(&str, &str)> {
    let (name, rest) = text.split_once('=')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '(' | ')'));
    is_name.then_some((name, rest))
}

/// Packs ASCII decimal digits two to an octet, with a final `F` nibble when their number is odd.
fn pack_bcd(digits: &[u8], out: &mut Vec<u8>) {
    // The low nibble of an ASCII digit is its value.
    out.extend(digits.chunks(2).map(|pair| match pair {
        [hi, lo] => (hi & 0x0f) << 4 | (lo & 0x0f),
        [hi] => (hi & 0x0f) << 4 | 0x0f,
        _ => 0xff,
    }));
}

impl NetworkAddress {
    /// An Internet RFC 1006 address (prefix 03, TCP): what `Internet=host+port` means.
    ///
    /// ```
    /// use osi_stack::address::NetworkAddress;
    ///
    /// let na = NetworkAddress::internet("mta.example.org", 102);
    /// assert_eq!(na.to_string(), "Internet=mta.example.org");
    /// assert_eq!("TELEX+00728722+RFC-1006+03+mta.example.org+102".parse(), Ok(na));
    /// ```
    pub fn internet(host: impl Into<String>, port: u16) -> Self {
        NetworkAddress::Rfc1006 {
            prefix: 3,
            host: host.into(),
            port,
            tset: None,
        }
    }

    /// The TCP endpoint to connect to: the host and port of an RFC 1006 address whose
    /// transport set includes TCP (or is absent), also when it is written as an RFC 1277
    /// binary NSAP. `None` for every other address.
    ///
    /// ```
    /// use osi_stack::address::NetworkAddress;
    ///
    /// let na: NetworkAddress = "NS+540072872203010000000006".parse()?;
    /// assert_eq!(na.rfc1006_endpoint(), Some(("10.0.0.6".to_string(), 102)));
    /// # Ok::<(), osi_stack::address::AddressError>(())
    /// ```
    pub fn rfc1006_endpoint(&self) -> Option<(String, u16)> {
        match self {
            NetworkAddress::Rfc1006 {
                host, port, tset, ..
            } if tset.is_none_or(|t| t & TSET_TCP != 0) => Some((host.clone(), *port)),
            NetworkAddress::Nsap(nsap) => Self::decode_rfc1277(nsap)?.rfc1006_endpoint(),
            _ => None,
        }
    }

    /// The binary NSAP: a copy for [`NetworkAddress::Nsap`], and RFC 1277's encoding for an
    /// RFC 1006 address whose host is an IPv4 address in dotted decimal (as [`Ipv4Addr`]
    /// parses it) and whose prefix is at most 99. `None` for host names and
    /// [`NetworkAddress::Other`].
    ///
    /// RFC 1277: AFI 54 and IDI 00728722 (`54 00 72 87 22`), then decimal digits two to an
    /// octet: the prefix (2 digits), the IPv4 address (4 × 3 digits), the port (5 digits) if it
    /// is not 102 or a transport set follows, the transport set (5 digits) if it is not 1 (TCP),
    /// and a final `F` nibble when the number of digits is odd.
    ///
    /// ```
    /// use osi_stack::address::NetworkAddress;
    ///
    /// let na: NetworkAddress = "TELEX+00728722+RFC-1006+03+10.0.0.6".parse()?;
    /// assert_eq!(
    ///     na.to_nsap(),
    ///     Some(vec![0x54, 0x00, 0x72, 0x87, 0x22, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x06])
    /// );
    /// assert_eq!(NetworkAddress::internet("mta.example.org", 102).to_nsap(), None);
    /// # Ok::<(), osi_stack::address::AddressError>(())
    /// ```
    pub fn to_nsap(&self) -> Option<Vec<u8>> {
        match self {
            NetworkAddress::Nsap(nsap) => Some(nsap.clone()),
            NetworkAddress::Rfc1006 {
                prefix,
                host,
                port,
                tset,
            } => {
                if *prefix > 99 {
                    return None;
                }
                let [a, b, c, d] = host.parse::<Ipv4Addr>().ok()?.octets();
                let mut dsp = format!("{prefix:02}{a:03}{b:03}{c:03}{d:03}");
                match tset.filter(|&t| t != TSET_TCP) {
                    Some(t) => dsp.push_str(&format!("{port:05}{t:05}")),
                    None if *port != RFC1006_PORT => dsp.push_str(&format!("{port:05}")),
                    None => {}
                }
                let mut nsap = RFC1277_IDP.to_vec();
                pack_bcd(dsp.as_bytes(), &mut nsap);
                Some(nsap)
            }
            NetworkAddress::Other(_) => None,
        }
    }

    /// Reads a binary NSAP: an RFC 1277 encoding of an RFC 1006 address (see
    /// [`NetworkAddress::to_nsap`]) becomes [`NetworkAddress::Rfc1006`] with the IPv4 address
    /// as host, anything else [`NetworkAddress::Nsap`].
    ///
    /// ```
    /// use osi_stack::address::NetworkAddress;
    ///
    /// let nsap = [0x54, 0x00, 0x72, 0x87, 0x22, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x06];
    /// assert_eq!(NetworkAddress::from_nsap(&nsap), NetworkAddress::internet("10.0.0.6", 102));
    /// assert_eq!(NetworkAddress::from_nsap(&[0xaa, 0x31, 0x06]).to_string(), "NS+aa3106");
    /// ```
    pub fn from_nsap(nsap: &[u8]) -> Self {
        Self::decode_rfc1277(nsap).unwrap_or_else(|| NetworkAddress::Nsap(nsap.to_vec()))
    }

    fn decode_rfc1277(nsap: &[u8]) -> Option<Self> {
        let dsp = nsap.strip_prefix(&RFC1277_IDP[..])?;
        let mut digits = Vec::with_capacity(dsp.len().saturating_mul(2));
        let mut nibbles = dsp.iter().flat_map(|b| [b >> 4, b & 0x0f]).peekable();
        while let Some(n) = nibbles.next() {
            match n {
                0..=9 => digits.push(u32::from(n)),
                // The pad nibble, allowed only last and only after an odd number of digits.
                0x0f if nibbles.peek().is_none() && digits.len() & 1 == 1 => {}
                _ => return None,
            }
        }
        let number = |ds: &[u32]| {
            ds.iter()
                .fold(0u32, |v, &d| v.saturating_mul(10).saturating_add(d))
        };
        let (prefix, rest) = digits.split_at_checked(2)?;
        let mut ip = [0u8; 4];
        let mut rest = rest;
        for octet in &mut ip {
            let (ds, r) = rest.split_at_checked(3)?;
            *octet = u8::try_from(number(ds)).ok()?;
            rest = r;
        }
        let (port, tset) = match rest.len() {
            0 => (RFC1006_PORT, None),
            5 => (u16::try_from(number(rest)).ok()?, None),
            10 => {
                let (p, t) = rest.split_at_checked(5)?;
                (
                    u16::try_from(number(p)).ok()?,
                    Some(u16::try_from(number(t)).ok()?),
                )
            }
            _ => return None,
        };
        Some(NetworkAddress::Rfc1006 {
            prefix: u8::try_from(number(prefix)).ok()?,
            host: Ipv4Addr::from(ip).to_string(),
            port,
            tset,
        })
    }

    /// Parses one network address found at offset `at` of the caller's string.
    fn parse_at(text: &str, at: usize) -> Result<Self, AddressError> {
        if text.is_empty() {
            return Err(err(at, Kind::EmptyNetworkAddress));
        }
        let Some((name, rest)) = split_macro(text) else {
            let origin = Origin {
                macro_len: 0,
                macro_at: at,
                rest_at: at,
            };
            return Self::parse_expanded(text, origin);
        };
        let &(_, value) = MACROS
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(name))
            .ok_or(err(at, Kind::Unknown { what: "macro" }))?;
        let value = match rest {
            "" => value.strip_suffix('+').unwrap_or(value),
            _ => value,
        };
        let origin = Origin {
            macro_len: value.len(),
            macro_at: at,
            rest_at: off(at, name.len().saturating_add(1)),
        };
        Self::parse_expanded(&format!("{value}{rest}"), origin)
    }

    /// Parses a network address without a macro.
    fn parse_expanded(text: &str, origin: Origin) -> Result<Self, AddressError> {
        let mut fields = Vec::new();
        let mut start = 0usize;
        for field in text.split('+') {
            fields.push((start, field));
            start = start.saturating_add(field.len()).saturating_add(1);
        }
        let end = origin.at(text.len());
        let [(_, kind), rest @ ..] = fields.as_slice() else {
            return Err(err(origin.at(0), Kind::EmptyNetworkAddress));
        };
        // The offset of the `+` in front of a field that should not be there.
        let extra = |i: usize| unexpected(origin.at(i.saturating_sub(1)), '+', "network address");

        if kind.eq_ignore_ascii_case("NS") {
            return match rest {
                [] => Err(err(end, Kind::Missing { what: "nsap" })),
                [(i, value)] => Self::parse_nsap(value, origin.at(*i)),
                [_, (i, _), ..] => Err(extra(*i)),
            };
        }
        if let Some(afi) = AFIS.iter().find(|a| a.name.eq_ignore_ascii_case(kind)) {
            let [(idi_i, idi), dsp @ ..] = rest else {
                return Err(err(end, Kind::Missing { what: "idi" }));
            };
            let idi_at = origin.at(*idi_i);
            check_digits(idi, idi_at, "idi")?;
            if idi.len() > afi.idi_digits {
                return Err(err(
                    idi_at,
                    Kind::TooManyDigits {
                        what: "idi",
                        max: afi.idi_digits,
                    },
                ));
            }
            let Some(&(dsp_i, dsp_kind)) = dsp.first() else {
                return Self::encode_nsap(afi, idi, Dsp::None, origin.at(0));
            };
            let dsp_at = origin.at(dsp_i);
            if dsp_kind.eq_ignore_ascii_case("RFC-1006")
                && afi.name == "TELEX"
                && *idi == "00728722"
            {
                return Self::parse_rfc1006(dsp.get(1..).unwrap_or_default(), origin, end);
            }
            if dsp_kind.eq_ignore_ascii_case("RFC-1006")
                || OTHER_DSP_KEYWORDS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(dsp_kind))
                || dsp_kind.starts_with('l')
            {
                return Self::other(text, origin);
            }
            if let Some(&(i, _)) = dsp.get(1) {
                return Err(extra(i));
            }
            let at = off(dsp_at, 1);
            return if let Some(ds) = dsp_kind.strip_prefix('d') {
                check_digits(ds, at, "decimal dsp")?;
                Self::encode_nsap(afi, idi, Dsp::Decimal(ds), origin.at(0))
            } else if let Some(hex) = dsp_kind.strip_prefix('x') {
                let full = err(
                    origin.at(0),
                    Kind::TooLong {
                        what: "nsap",
                        max: MAX_NSAP_LEN,
                    },
                );
                let octets = dothex_octets::<MAX_NSAP_LEN>(hex, at, "binary dsp", full)?;
                if octets.is_empty() {
                    return Err(err(at, Kind::Missing { what: "binary dsp" }));
                }
                Self::encode_nsap(afi, idi, Dsp::Binary(octets.as_slice()), origin.at(0))
            } else {
                Err(err(
                    dsp_at,
                    Kind::Unknown {
                        what: "domain specific part",
                    },
                ))
            };
        }
        if kind.eq_ignore_ascii_case("LOCAL") {
            return Self::other(text, origin);
        }
        if !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_digit()) {
            // ISO 8348 compatibility form: idp "+" hexstring.
            return match rest {
                [] => Err(err(end, Kind::Missing { what: "dsp" })),
                [(i, hex)] => {
                    let at = origin.at(*i);
                    let full = err(
                        origin.at(0),
                        Kind::TooLong {
                            what: "nsap",
                            max: MAX_NSAP_LEN,
                        },
                    );
                    hex_octets::<MAX_NSAP_LEN>(hex, at, "dsp", false, full)?;
                    Self::other(text, origin)
                }
                [_, (i, _), ..] => Err(extra(*i)),
            };
        }
        Err(err(
            origin.at(0),
            Kind::Unknown {
                what: "network address form",
            },
        ))
    }

    /// `NS+` dothexstring, 1 to 20 octets.
    fn parse_nsap(text: &str, at: usize) -> Result<Self, AddressError> {
        let full = err(
            at,
            Kind::TooLong {
                what: "nsap",
                max: MAX_NSAP_LEN,
            },
        );
        let octets = dothex_octets::<MAX_NSAP_LEN>(text, at, "nsap", full)?;
        if octets.is_empty() {
            return Err(err(at, Kind::Missing { what: "nsap" }));
        }
        Ok(NetworkAddress::Nsap(octets.as_slice().to_vec()))
    }

    /// The fields after `RFC-1006`: prefix, host, optional port and transport set.
    fn parse_rfc1006(
        fields: &[(usize, &str)],
        origin: Origin,
        end: usize,
    ) -> Result<Self, AddressError> {
        let [(prefix_i, prefix), rest @ ..] = fields else {
            return Err(err(end, Kind::Missing { what: "prefix" }));
        };
        let prefix_at = origin.at(*prefix_i);
        if prefix.len() > 2 {
            return Err(err(
                prefix_at,
                Kind::TooManyDigits {
                    what: "prefix",
                    max: 2,
                },
            ));
        }
        let prefix = decimal(prefix, prefix_at, "prefix", 99)? as u8;
        let [(host_i, host), rest @ ..] = rest else {
            return Err(err(end, Kind::Missing { what: "host" }));
        };
        let host_at = origin.at(*host_i);
        if host.is_empty() {
            return Err(err(host_at, Kind::Missing { what: "host" }));
        }
        if let Some((i, c)) = host
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            return Err(unexpected(off(host_at, i), c, "host"));
        }
        let (port, tset) = match rest {
            [] => (RFC1006_PORT, None),
            [(i, port)] => (decimal_u16(port, origin.at(*i), "port")?, None),
            [(i, port), (j, tset)] => (
                decimal_u16(port, origin.at(*i), "port")?,
                Some(decimal_u16(tset, origin.at(*j), "transport set")?),
            ),
            [_, _, (i, _), ..] => {
                return Err(unexpected(
                    origin.at(i.saturating_sub(1)),
                    '+',
                    "network address",
                ));
            }
        };
        Ok(NetworkAddress::Rfc1006 {
            prefix,
            host: (*host).to_string(),
            port,
            tset,
        })
    }

    /// Encodes `afi+idi[+dsp]` as a binary NSAP (X.213 Annex A preferred binary encoding).
    fn encode_nsap(afi: &Afi, idi: &str, dsp: Dsp<'_>, at: usize) -> Result<Self, AddressError> {
        let zero_led = idi.starts_with('0');
        let (decimal, binary, pad) = match afi.leading_zero {
            Some((d, b)) if zero_led => (d, b, b'1'),
            _ => (afi.decimal, afi.binary, b'0'),
        };
        let code = match dsp {
            Dsp::Binary(_) => binary,
            Dsp::None | Dsp::Decimal(_) => decimal,
        };
        let mut idp = vec![b'0' | code >> 4, b'0' | (code & 0x0f)];
        idp.resize(
            afi.idi_digits
                .saturating_sub(idi.len())
                .saturating_add(idp.len()),
            pad,
        );
        idp.extend_from_slice(idi.as_bytes());
        let mut nsap = Vec::with_capacity(MAX_NSAP_LEN);
        pack_bcd(&idp, &mut nsap);
        match dsp {
            Dsp::None => {}
            Dsp::Decimal(ds) => pack_bcd(ds.as_bytes(), &mut nsap),
            Dsp::Binary(octets) => nsap.extend_from_slice(octets),
        }
        if nsap.len() > MAX_NSAP_LEN {
            return Err(err(
                at,
                Kind::TooLong {
                    what: "nsap",
                    max: MAX_NSAP_LEN,
                },
            ));
        }
        Ok(NetworkAddress::Nsap(nsap))
    }

    /// Keeps a form the crate does not interpret, after checking that it can be printed and
    /// read back: visible ASCII only, no empty `+` field, balanced `"`.
    fn other(text: &str, origin: Origin) -> Result<Self, AddressError> {
        let mut quoted = None;
        let mut field_start = true;
        for (i, c) in text.char_indices() {
            if !c.is_ascii_graphic() {
                return Err(unexpected(origin.at(i), c, "network address"));
            }
            match c {
                '"' if quoted.is_some() => quoted = None,
                '"' => quoted = Some(i),
                '+' if quoted.is_none() && field_start => {
                    return Err(unexpected(origin.at(i), c, "network address"));
                }
                _ => {}
            }
            field_start = c == '+' && quoted.is_none();
        }
        if let Some(i) = quoted {
            return Err(err(
                origin.at(i),
                Kind::Unterminated {
                    what: "quoted string",
                },
            ));
        }
        if field_start {
            return Err(err(
                origin.at(text.len()),
                Kind::Missing { what: "last field" },
            ));
        }
        Ok(NetworkAddress::Other(text.to_string()))
    }
}

/// The domain specific part of an `afi+idi` form.
enum Dsp<'a> {
    None,
    Decimal(&'a str),
    Binary(&'a [u8]),
}

impl FromStr for NetworkAddress {
    type Err = AddressError;

    /// Parses one RFC 1278 network address (see the module docs).
    fn from_str(s: &str) -> Result<Self, AddressError> {
        NetworkAddress::parse_at(s, 0)
    }
}

impl fmt::Display for NetworkAddress {
    /// `Internet=host[+port[+tset]]`, `localTCP=…` or `TCP=NN+…` for RFC 1006, `NS+hex` for an
    /// NSAP, the text as it is for the other forms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkAddress::Rfc1006 {
                prefix,
                host,
                port,
                tset,
            } => {
                match prefix {
                    3 => write!(f, "Internet={host}")?,
                    5 => write!(f, "localTCP={host}")?,
                    p => write!(f, "TCP={p:02}+{host}")?,
                }
                match tset {
                    Some(t) => write!(f, "+{port}+{t}"),
                    None if *port != RFC1006_PORT => write!(f, "+{port}"),
                    None => Ok(()),
                }
            }
            NetworkAddress::Nsap(nsap) => {
                f.write_str("NS+")?;
                write_hex(f, nsap)
            }
            NetworkAddress::Other(text) => f.write_str(text),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Presentation addresses

/// A presentation address: optional P-, S- and T-selectors and a list of network addresses,
/// with the RFC 1278 string form as `FromStr` and `Display` (see the module docs).
///
/// ```
/// use osi_stack::address::{NetworkAddress, PresentationAddress, TSel};
///
/// let a: PresentationAddress = "\"mts\"/\"mts\"/\"mts\"/Internet=10.1.2.3".parse()?;
/// assert_eq!(a.ssel.unwrap().as_bytes(), b"mts");
/// assert_eq!(a.network, [NetworkAddress::internet("10.1.2.3", 102)]);
///
/// let b = PresentationAddress {
///     psel: None,
///     ssel: None,
///     tsel: Some("0101".parse::<TSel>()?),
///     network: vec![NetworkAddress::internet("192.16.186.25", 17004)],
/// };
/// assert_eq!(b.to_string(), "'0101'H/Internet=192.16.186.25+17004");
/// assert_eq!(
///     "'0101'H/TELEX+00728722+RFC-1006+03+192.16.186.25+17004".parse(),
///     Ok(b)
/// );
/// # Ok::<(), osi_stack::address::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresentationAddress {
    /// The presentation selector.
    pub psel: Option<PSel>,
    /// The session selector.
    pub ssel: Option<SSel>,
    /// The transport selector.
    pub tsel: Option<TSel>,
    /// The network addresses, in order of preference; RFC 1278 needs at least one.
    pub network: Vec<NetworkAddress>,
}

impl PresentationAddress {
    /// The TCP endpoints to try, in order: every RFC 1006 network address, including RFC 1277
    /// binary NSAPs, as `(host, port)` (see [`NetworkAddress::rfc1006_endpoint`]). Host names
    /// are returned as written, for the caller to resolve.
    pub fn rfc1006_endpoints(&self) -> Vec<(String, u16)> {
        self.network
            .iter()
            .filter_map(NetworkAddress::rfc1006_endpoint)
            .collect()
    }
}

/// The length of the selector at the start of `s` (up to the `/` that should follow it), or
/// `None` when `s` does not start with a selector. The selector is checked when it is parsed.
fn selector_len(s: &str) -> Option<usize> {
    let body = s.get(1..).unwrap_or_default();
    let len = match s.as_bytes().first()? {
        b'/' => 0,
        b'"' => body.find('"').map_or(s.len(), |i| i.saturating_add(2)),
        b'\'' => body
            .find('\'')
            .map_or(s.len(), |i| i.saturating_add(3).min(s.len())),
        b'#' => body
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count()
            .saturating_add(1),
        _ => return None,
    };
    Some(len)
}

/// Splits a network address list at `_` and `|` outside double quotes, with each part's offset.
fn split_network_list(s: &str) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let mut start = 0usize;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '_' | '|' if !quoted => {
                parts.push((start, s.get(start..i).unwrap_or_default()));
                start = i.saturating_add(1);
            }
            _ => {}
        }
    }
    parts.push((start, s.get(start..).unwrap_or_default()));
    parts
}

impl FromStr for PresentationAddress {
    type Err = AddressError;

    /// Parses an RFC 1278 presentation address (see the module docs).
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let mut selectors: Vec<(&str, usize)> = Vec::with_capacity(3);
        let mut rest = s;
        let mut pos = 0usize;
        while let Some(len) = selector_len(rest) {
            let (token, after) = rest.split_at_checked(len).unwrap_or((rest, ""));
            let Some(after) = after.strip_prefix('/') else {
                // Not followed by `/`: say what is wrong with the selector, or after it.
                TSel::parse_at(token, pos, false)?;
                let next = off(pos, token.len());
                return Err(match after.chars().next() {
                    Some(c) => unexpected(next, c, "presentation address"),
                    None => err(next, Kind::EmptyNetworkAddress),
                });
            };
            if selectors.len() == 3 {
                return Err(err(pos, Kind::TooManySelectors));
            }
            selectors.push((token, pos));
            pos = off(pos, len.saturating_add(1));
            rest = after;
        }
        let (p, s, t) = match selectors.as_slice() {
            [] => (None, None, None),
            [t] => (None, None, Some(t)),
            [s, t] => (None, Some(s), Some(t)),
            [p, s, t, ..] => (Some(p), Some(s), Some(t)),
        };
        let psel = p
            .map(|&(text, at)| PSel::parse_at(text, at, false))
            .transpose()?;
        let ssel = s
            .map(|&(text, at)| SSel::parse_at(text, at, false))
            .transpose()?;
        let tsel = t
            .map(|&(text, at)| TSel::parse_at(text, at, false))
            .transpose()?;
        let network = split_network_list(rest)
            .into_iter()
            .map(|(i, text)| NetworkAddress::parse_at(text, off(pos, i)))
            .collect::<Result<_, _>>()?;
        Ok(PresentationAddress {
            psel,
            ssel,
            tsel,
            network,
        })
    }
}

/// Writes a selector inside a presentation address: nothing for the empty or absent one.
fn fmt_address_selector(bytes: Option<&[u8]>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match bytes {
        Some(b) if !b.is_empty() => fmt_selector(b, f)?,
        _ => {}
    }
    f.write_char('/')
}

impl fmt::Display for PresentationAddress {
    /// The RFC 1278 string: selectors from the outermost present one inwards, missing inner
    /// selectors written empty, network addresses separated by `_`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.psel.as_ref().map(PSel::as_bytes);
        let s = self.ssel.as_ref().map(SSel::as_bytes);
        let t = self.tsel.as_ref().map(TSel::as_bytes);
        if p.is_some() {
            fmt_address_selector(p, f)?;
        }
        if p.is_some() || s.is_some() {
            fmt_address_selector(s, f)?;
        }
        if p.is_some() || s.is_some() || t.is_some() {
            fmt_address_selector(t, f)?;
        }
        for (i, na) in self.network.iter().enumerate() {
            if i > 0 {
                f.write_char('_')?;
            }
            write!(f, "{na}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_at<T: fmt::Debug>(r: Result<T, AddressError>) -> (usize, AddressErrorKind) {
        let e = r.unwrap_err();
        (e.offset(), *e.kind())
    }

    #[test]
    fn octets_stay_within_capacity() {
        let mut o = Octets::<2>::EMPTY;
        assert!(o.push(1) && o.push(2));
        assert!(!o.push(3));
        assert_eq!(o.as_slice(), [1, 2]);
        assert!(Octets::<2>::from_slice(&[1, 2, 3]).is_none());
    }

    #[test]
    fn bcd_packing_pads_odd_digit_counts() {
        let mut out = Vec::new();
        pack_bcd(b"0301", &mut out);
        pack_bcd(b"123", &mut out);
        assert_eq!(out, [0x03, 0x01, 0x12, 0x3f]);
    }

    #[test]
    fn hex_reader() {
        let full = err(99, Kind::Missing { what: "x" });
        let h = hex_octets::<4>("0A bc", 0, "selector", true, full).unwrap();
        assert_eq!(h.as_slice(), [0x0a, 0xbc]);
        let h = hex_octets::<4>("abc", 0, "selector", true, full).unwrap();
        assert_eq!(h.as_slice(), [0x0a, 0xbc]);
        assert_eq!(
            kind_at(hex_octets::<4>("abc", 5, "selector", false, full)),
            (5, Kind::OddHexDigits { what: "selector" })
        );
        assert_eq!(
            kind_at(hex_octets::<4>("0a bc", 5, "nsap", false, full)),
            (
                7,
                Kind::UnexpectedChar {
                    what: "nsap",
                    found: ' '
                }
            )
        );
        assert_eq!(
            hex_octets::<1>("0102", 0, "selector", false, full).unwrap_err(),
            full
        );
    }

    #[test]
    fn origin_maps_expanded_text_back() {
        let o = Origin {
            macro_len: 27,
            macro_at: 10,
            rest_at: 19,
        };
        assert_eq!(o.at(0), 10);
        assert_eq!(o.at(26), 10);
        assert_eq!(o.at(27), 19);
        assert_eq!(o.at(30), 22);
    }

    #[test]
    fn errors_point_at_the_fault() {
        // `Internet=` is 9 characters: the host starts at 9.
        assert_eq!(
            kind_at("Internet=a_b+1".parse::<PresentationAddress>()),
            (
                11,
                Kind::Unknown {
                    what: "network address form"
                }
            )
        );
        assert_eq!(
            kind_at("Internet=ho*st".parse::<NetworkAddress>()),
            (
                11,
                Kind::UnexpectedChar {
                    what: "host",
                    found: '*'
                }
            )
        );
        assert_eq!(
            kind_at("Internet=".parse::<NetworkAddress>()),
            (9, Kind::Missing { what: "host" })
        );
        assert_eq!(
            kind_at("Internet=h+1+2+3".parse::<NetworkAddress>()),
            (
                14,
                Kind::UnexpectedChar {
                    what: "network address",
                    found: '+'
                }
            )
        );
        assert_eq!(
            kind_at("Nowhere=h".parse::<NetworkAddress>()),
            (0, Kind::Unknown { what: "macro" })
        );
    }

    #[test]
    fn macros_expand_to_known_forms() {
        for (name, _) in MACROS {
            let text = format!("{name}=12");
            // Every macro leads somewhere the parser knows; errors only concern the rest.
            match text.parse::<NetworkAddress>() {
                Ok(_) => {}
                Err(e) => assert!(!matches!(e.kind(), Kind::Unknown { .. }), "{text}: {e}"),
            }
        }
        assert_eq!(
            "localHost=".parse::<NetworkAddress>().unwrap(),
            NetworkAddress::Rfc1006 {
                prefix: 5,
                host: "127.0.0.1".into(),
                port: 102,
                tset: None
            }
        );
        assert_eq!(
            "localHost=17000"
                .parse::<NetworkAddress>()
                .unwrap()
                .to_string(),
            "localTCP=127.0.0.1+17000"
        );
    }
}
