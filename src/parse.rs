//! A private, position-tracking reader over a complete buffer, built on nom's complete-input
//! primitives. Every failure becomes a [`DecodeError`] that names the layer, the element and the
//! offset from the start of the buffer, so no nom type escapes the crate.

use nom::IResult;
use nom::number::complete::{be_u8, be_u16};

use crate::error::{DecodeError, DecodeErrorKind, Layer};

type NomResult<'a, T> = IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

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

    fn step<T>(
        &mut self,
        what: &'static str,
        needed: usize,
        parser: impl FnOnce(&'a [u8]) -> NomResult<'a, T>,
    ) -> Result<T, DecodeError> {
        match parser(self.rest) {
            Ok((rest, value)) => {
                let used = self.rest.len().saturating_sub(rest.len());
                self.pos = self.pos.saturating_add(used);
                self.rest = rest;
                Ok(value)
            }
            Err(_) => Err(self.error(DecodeErrorKind::Truncated {
                what,
                needed,
                available: self.rest.len(),
            })),
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.step(what, 1, be_u8)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.step(what, 2, be_u16)
    }

    /// Takes everything that is left.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.rest;
        self.pos = self.pos.saturating_add(rest.len());
        self.rest = &[];
        rest
    }
}
