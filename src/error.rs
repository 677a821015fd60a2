//! Errors of every layer: which layer, at which byte offset, and what was wrong.
//!
//! Errors are small, `Copy`, and carry no dependency types (no nom, no asn1-rs), so the crate can
//! change its parsing libraries without breaking users. Messages follow the Rust convention:
//! lowercase, no trailing period, composable — for example
//! `cotp: parameter 0xc1 longer than the variable part at offset 12`.
//!
//! Offsets are relative to the start of the buffer handed to the failing decoder. A decoder that
//! calls into an inner one adds the inner buffer's position with [`DecodeError::shifted`], so an
//! error from a session decoder called on a TSDU names the offset within that TSDU.
//!
//! # Example
//!
//! ```
//! use osi_stack::cotp::{Tpdu, class0};
//! use osi_stack::{DecodeErrorKind, EncodeErrorKind, Layer};
//!
//! // A CR proposing TPDU size 8192, and a CC whose TPDU-size parameter (c0 01 xx) holds 0xa2,
//! // a code X.224 does not define.
//! let Tpdu::Cr(cr) = Tpdu::decode(&[0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1])? else {
//!     unreachable!()
//! };
//! let Tpdu::Cc(cc) = Tpdu::decode(&[0x11, 0xd0, 0, 1, 0, 2, 0, 0xc0, 1, 0xa2, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1])? else {
//!     unreachable!()
//! };
//! let err = class0::check_cc(&cr, &cc, false).unwrap_err();
//! assert_eq!(err.layer(), Layer::Cotp);
//! assert_eq!(err.offset(), 9); // the value octet, counted from the LI
//! assert!(matches!(err.kind(), DecodeErrorKind::InvalidValue { value: 0xa2, .. }));
//! assert_eq!(err.to_string(), "cotp: invalid tpdu size 0xa2 at offset 9");
//!
//! // Encoders check the room first and never panic on a full buffer.
//! let mut small = [0u8; 4];
//! let dr = Tpdu::decode(&[0x06, 0x80, 0, 1, 0, 2, 0])?;
//! let err = dr.encode(&mut &mut small[..]).unwrap_err();
//! assert_eq!(err.layer(), Layer::Cotp);
//! assert!(matches!(err.kind(), EncodeErrorKind::BufferTooSmall { needed: 7, remaining: 4 }));
//! # Ok::<(), osi_stack::DecodeError>(())
//! ```

use core::fmt;

/// The protocol layer an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// RFC 1006 TPKT framing.
    Tpkt,
    /// ISO 8073 / X.224 transport (COTP), including segmentation and reassembly.
    Cotp,
    /// ISO 8327 / X.225 session.
    Session,
    /// ISO 8823 / X.226 presentation.
    Presentation,
    /// ISO 8650 / X.227 ACSE.
    Acse,
    /// X.228 RTSE.
    Rtse,
    /// The association state machine.
    Association,
}

impl Layer {
    /// The layer's name as used in messages and in `osi dump` JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Tpkt => "tpkt",
            Layer::Cotp => "cotp",
            Layer::Session => "session",
            Layer::Presentation => "presentation",
            Layer::Acse => "acse",
            Layer::Rtse => "rtse",
            Layer::Association => "association",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was wrong with the input.
///
/// `&'static str` fields name the protocol element concerned (for example `"tpdu size"`), so a
/// message reads `cotp: invalid tpdu size 0xa2 at offset 9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the element was complete.
    #[error("{what} truncated: needs {needed} octets, {available} available")]
    Truncated {
        /// The element that was cut short.
        what: &'static str,
        /// Octets the element needs from the error offset.
        needed: usize,
        /// Octets that were left from the error offset.
        available: usize,
    },
    /// A length field is outside the range the protocol allows.
    #[error("{what} {value} outside {min}..={max}")]
    LengthOutOfRange {
        /// The length field.
        what: &'static str,
        /// The value found.
        value: usize,
        /// Smallest allowed value.
        min: usize,
        /// Largest allowed value.
        max: usize,
    },
    /// An element's declared length runs past the unit that encloses it.
    #[error(
        "{what} longer than its enclosing unit: declares {declared} octets, {available} available"
    )]
    Overrun {
        /// The element.
        what: &'static str,
        /// The declared length.
        declared: usize,
        /// Octets actually left in the enclosing unit.
        available: usize,
    },
    /// A field holds a value the protocol does not allow here.
    #[error("invalid {what} {value:#04x}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u64,
    },
    /// A PDU type code that is unknown or not allowed at this point.
    #[error("unexpected {what} {code:#04x}")]
    UnexpectedCode {
        /// What kind of code (for example `"tpdu code"`).
        what: &'static str,
        /// The code found.
        code: u8,
    },
    /// A parameter that is not allowed in this PDU.
    #[error("parameter {code:#04x} not allowed in {pdu}")]
    ForbiddenParameter {
        /// The PDU.
        pdu: &'static str,
        /// The parameter code.
        code: u8,
    },
    /// A mandatory element is missing.
    #[error("missing {what}")]
    Missing {
        /// The element.
        what: &'static str,
    },
    /// Bytes were left after a complete PDU where none may follow.
    #[error("{len} octets of trailing data after {what}")]
    TrailingData {
        /// The PDU.
        what: &'static str,
        /// Number of octets left over.
        len: usize,
    },
    /// A configured limit (see [`crate::Limits`]) would be exceeded.
    #[error("{limit} limit of {max} exceeded")]
    LimitExceeded {
        /// The limit's name.
        limit: &'static str,
        /// The limit's value.
        max: usize,
    },
    /// A PDU that is valid on its own but not in the state the receiving machine is in.
    #[error("{what} unexpected in state {state}")]
    Unexpected {
        /// The PDU (for example `"gtc spdu"`).
        what: &'static str,
        /// The state's name.
        state: &'static str,
    },
    /// PDUs arrived in an order or combination the protocol forbids.
    #[error("{what}")]
    BadSequence {
        /// What was wrong.
        what: &'static str,
    },
    /// Malformed BER (tag, length or contents).
    #[error("ber: {what}")]
    Ber {
        /// What was wrong.
        what: &'static str,
    },
}

/// A decoding error: the layer, the byte offset of the offending element, and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{layer}: {kind} at offset {offset}")]
pub struct DecodeError {
    layer: Layer,
    offset: usize,
    kind: DecodeErrorKind,
}

impl DecodeError {
    /// Creates an error at `offset` in the buffer given to a `layer` decoder.
    pub const fn new(layer: Layer, offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError {
            layer,
            offset,
            kind,
        }
    }

    /// The layer the error was found in.
    pub const fn layer(&self) -> Layer {
        self.layer
    }

    /// Byte offset of the offending element, from the start of the decoder's input (see the
    /// module docs for how nested decoders adjust it).
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong.
    pub const fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The same error with `base` added to its offset, for an inner buffer that starts at `base`
    /// in the outer one. Saturates instead of overflowing.
    #[must_use]
    pub const fn shifted(mut self, base: usize) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }

    /// Whether this is a `Truncated` error.
    pub const fn is_truncated(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Truncated { .. })
    }
}

/// What prevented encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// The destination buffer has less room than the encoding needs.
    #[error("buffer too small: needs {needed} octets, {remaining} available")]
    BufferTooSmall {
        /// Octets the encoding needs.
        needed: usize,
        /// Octets of room in the buffer.
        remaining: usize,
    },
    /// A value cannot be represented in its field (too long, out of range).
    #[error("{what} of {value} exceeds the maximum {max}")]
    ValueTooLarge {
        /// The field.
        what: &'static str,
        /// The value or length given.
        value: usize,
        /// The largest the field can carry.
        max: usize,
    },
    /// A value is below the smallest that works (for example a TSDU maximum size too small for
    /// an SPDU's parameters and one octet of data).
    #[error("{what} of {value} is below the minimum {min}")]
    ValueTooSmall {
        /// The field.
        what: &'static str,
        /// The value given.
        value: usize,
        /// The smallest value that works.
        min: usize,
    },
    /// A value the protocol forbids in this PDU.
    #[error("invalid {what} {value:#04x}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value given.
        value: u64,
    },
}

/// An encoding error: the layer and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{layer}: {kind}")]
pub struct EncodeError {
    layer: Layer,
    kind: EncodeErrorKind,
}

impl EncodeError {
    /// Creates an encoding error for `layer`.
    pub const fn new(layer: Layer, kind: EncodeErrorKind) -> Self {
        EncodeError { layer, kind }
    }

    /// The layer whose encoder failed.
    pub const fn layer(&self) -> Layer {
        self.layer
    }

    /// What was wrong.
    pub const fn kind(&self) -> &EncodeErrorKind {
        &self.kind
    }
}

/// Checks that `buf` has room for `needed` octets, the guard every encoder runs before writing
/// (`BufMut::put_*` would panic on a full fixed-size buffer).
#[inline]
pub(crate) fn ensure_room<B: bytes::BufMut + ?Sized>(
    layer: Layer,
    buf: &B,
    needed: usize,
) -> Result<(), EncodeError> {
    let remaining = buf.remaining_mut();
    if remaining < needed {
        Err(buffer_too_small(layer, needed, remaining))
    } else {
        Ok(())
    }
}

/// The error of [`ensure_room`], built out of line.
#[cold]
#[inline(never)]
fn buffer_too_small(layer: Layer, needed: usize, remaining: usize) -> EncodeError {
    EncodeError::new(layer, EncodeErrorKind::BufferTooSmall { needed, remaining })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        let e = DecodeError::new(
            Layer::Cotp,
            9,
            DecodeErrorKind::InvalidValue {
                what: "tpdu size",
                value: 0xa2,
            },
        );
        assert_eq!(e.to_string(), "cotp: invalid tpdu size 0xa2 at offset 9");
        assert_eq!(e.shifted(4).offset(), 13);
        assert_eq!(e.shifted(usize::MAX).offset(), usize::MAX);
        let t = DecodeError::new(
            Layer::Tpkt,
            0,
            DecodeErrorKind::LengthOutOfRange {
                what: "tpkt length",
                value: 6,
                min: 7,
                max: 65535,
            },
        );
        assert_eq!(
            t.to_string(),
            "tpkt: tpkt length 6 outside 7..=65535 at offset 0"
        );
    }

    #[test]
    fn errors_are_small_and_shareable() {
        fn assert_traits<T: Clone + Copy + Eq + Send + Sync + 'static>() {}
        assert_traits::<DecodeError>();
        assert_traits::<EncodeError>();
        assert!(core::mem::size_of::<DecodeError>() <= 64);
    }
}
