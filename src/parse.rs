//! A private, position-tracking reader over a complete buffer. Every failure becomes a
//! [`DecodeError`] that names the layer, the element and the offset from the start of the
//! buffer.
//!
//! This was built on nom's complete-input primitives until the measurement recorded in
//! BENCHMARKS.md ("nom") showed that nom gave nothing here: two integer reads, each a slice
//! pattern, and the fast paths never used it. See the crate docs, "Why no parser combinators".

use crate::error::{DecodeError, DecodeErrorKind, Layer};

/// Reads big-endian fields from a complete buffer, tracking the offset for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
    pos: usize,
    layer: Layer,
}

impl<'a> Cursor<'a> {
    pub(crate) const fn new(layer: Layer, input: &'a [u8]) -> Self {
        Cursor {
            rest: input,
            pos: 0,
            layer,
        }
    }

    /// Offset of the next unread octet from the start of the buffer.
    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }

    /// The unread octets.
    #[allow(dead_code)]
    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.layer, self.pos, kind)
    }

    #[cold]
    fn truncated(&self, what: &'static str, needed: usize) -> DecodeError {
        self.error(DecodeErrorKind::Truncated {
            what,
            needed,
            available: self.rest.len(),
        })
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        match self.rest {
            [b, rest @ ..] => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(1);
                Ok(*b)
            }
            [] => Err(self.truncated(what, 1)),
        }
    }

    #[inline]
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        match self.rest {
            [h, l, rest @ ..] => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(2);
                Ok(u16::from_be_bytes([*h, *l]))
            }
            _ => Err(self.truncated(what, 2)),
        }
    }

    /// Takes everything that is left.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.rest;
        self.pos = self.pos.saturating_add(rest.len());
        self.rest = &[];
        rest
    }
}
