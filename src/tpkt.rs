//! TPKT framing: RFC 1006 §6, as kept by RFC 2126 §4.3.
//!
//! ```text
//!  0          1          2          3
//! +----------+----------+----------+----------+--------------
//! | vrsn = 3 | reserved |  packet length (BE) | TPDU ...
//! +----------+----------+----------+----------+--------------
//! ```
//!
//! The length covers the whole packet, header included, so it lies in `7..=65535`: 7 is the
//! header plus the smallest TPDU (a class-0 DT with no data, `02 f0 80`). The reserved octet is
//! sent as 0 and ignored on input (RFC 2126 §6.10). Only version 3 exists.
//!
//! TPKT is the only layer that streams: [`frame_len`] tells how long the next frame in a TCP
//! byte stream is, or that more bytes are needed. Everything above parses complete buffers.
//!
//! # Example
//!
//! ```
//! use osi_stack::tpkt::{self, Tpkt};
//!
//! // One read from TCP: a whole TPKT (a class-0 DT carrying "hi") and the start of the next.
//! let stream = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, b'h', b'i', 0x03, 0x00];
//! let len = tpkt::frame_len(&stream)?.expect("a whole header");
//! assert_eq!(len, 9);
//! let (frame, rest) = Tpkt::decode(&stream[..len])?;
//! assert_eq!(frame.payload, [0x02, 0xf0, 0x80, b'h', b'i']);
//! assert!(rest.is_empty());
//! assert_eq!(tpkt::frame_len(&stream[len..])?, None); // read more
//!
//! // Sending: the header for a 5-octet TPDU, then the TPDU.
//! let mut out = Vec::new();
//! tpkt::encode_header(5, &mut out)?;
//! assert_eq!(out, stream[..4]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::BufMut;

use crate::error::{
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer, ensure_room,
};

/// The only TPKT version (RFC 1006 §6).
pub const VERSION: u8 = 3;
/// Length of the TPKT header.
pub const HEADER_LEN: usize = 4;
/// Smallest legal TPKT length: the header and a 3-octet class-0 DT.
pub const MIN_LEN: usize = 7;
/// Largest TPKT length (16-bit field).
pub const MAX_LEN: usize = 65_535;
/// Largest TPDU one TPKT can carry.
pub const MAX_TPDU_LEN: usize = MAX_LEN - HEADER_LEN;

/// One TPKT: the header fields and the TPDU it carries, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tpkt<'a> {
    /// The reserved octet as received (always 0 when sent by this crate).
    pub reserved: u8,
    /// The TPDU (COTP) octets.
    pub payload: &'a [u8],
}

#[cold]
#[inline(never)]
fn err(offset: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(Layer::Tpkt, offset, kind)
}

/// Checks a TPKT header and returns the packet length it declares.
#[inline]
fn header_len(header: [u8; 4]) -> Result<usize, DecodeError> {
    let [version, _reserved, hi, lo] = header;
    if version != VERSION {
        return Err(err(
            0,
            DecodeErrorKind::InvalidValue {
                what: "tpkt version",
                value: u64::from(version),
            },
        ));
    }
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < MIN_LEN {
        return Err(err(
            2,
            DecodeErrorKind::LengthOutOfRange {
                what: "tpkt length",
                value: len,
                min: MIN_LEN,
                max: MAX_LEN,
            },
        ));
    }
    Ok(len)
}

/// The error [`Tpkt::decode`] reports for an input its fast path refused: a short header, a
/// bad header, or a frame longer than the input.
#[cold]
#[inline(never)]
fn decode_error(input: &[u8]) -> DecodeError {
    let Some(header) = input.first_chunk::<4>() else {
        return err(
            0,
            DecodeErrorKind::Truncated {
                what: "tpkt header",
                needed: HEADER_LEN,
                available: input.len(),
            },
        );
    };
    match header_len(*header) {
        Err(e) => e,
        Ok(len) => err(
            0,
            DecodeErrorKind::Truncated {
                what: "tpkt",
                needed: len,
                available: input.len(),
            },
        ),
    }
}

/// The error [`Tpkt::decode_exact`] reports: that of [`Tpkt::decode`], or trailing octets
/// after a valid frame.
#[cold]
#[inline(never)]
fn decode_exact_error(input: &[u8]) -> DecodeError {
    match input.first_chunk::<4>().map(|h| header_len(*h)) {
        Some(Ok(len)) if len < input.len() => err(
            len,
            DecodeErrorKind::TrailingData {
                what: "tpkt",
                len: input.len().saturating_sub(len),
            },
        ),
        _ => decode_error(input),
    }
}

/// The length of the TPKT at the start of `buf`, for framing a TCP byte stream.
///
/// Returns `Ok(None)` while fewer than 4 octets are available, `Ok(Some(len))` once the header is
/// known (the frame is complete when `buf.len() >= len`), and an error when the header is invalid:
/// a version other than 3 or a length below 7. RFC 1006 defines no response to a bad header; the
/// caller should close the connection.
///
/// ```
/// use osi_stack::tpkt::frame_len;
/// assert_eq!(frame_len(&[0x03, 0x00]), Ok(None));
/// assert_eq!(frame_len(&[0x03, 0x00, 0x00, 0x07, 0x02]), Ok(Some(7)));
/// assert!(frame_len(&[0x03, 0x00, 0x00, 0x00]).is_err());
/// ```
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    match buf.first_chunk::<4>() {
        None => Ok(None),
        Some(header) => header_len(*header).map(Some),
    }
}

impl<'a> Tpkt<'a> {
    /// Decodes the TPKT at the start of `input`, returning it and the bytes after it.
    ///
    /// A short input is a `Truncated` error here; use [`frame_len`] to find frame boundaries in a
    /// stream first.
    #[inline]
    pub fn decode(input: &'a [u8]) -> Result<(Tpkt<'a>, &'a [u8]), DecodeError> {
        // Inlined into the caller: every valid input takes this path (version 3, length at
        // least 7, the whole frame there); the error is built out of line.
        if let [VERSION, reserved, hi, lo, ..] = *input {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if len >= MIN_LEN && len <= input.len() {
                let (frame, rest) = input.split_at_checked(len).unwrap_or((input, &[]));
                let payload = frame.get(HEADER_LEN..).unwrap_or_default();
                return Ok((Tpkt { reserved, payload }, rest));
            }
        }
        Err(decode_error(input))
    }

    /// Decodes exactly one TPKT that fills `input`; trailing bytes are an error.
    #[inline]
    pub fn decode_exact(input: &'a [u8]) -> Result<Tpkt<'a>, DecodeError> {
        // The checks of `decode` with the length equal to the input's, in one comparison.
        if let [VERSION, reserved, hi, lo, ref payload @ ..] = *input {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if len >= MIN_LEN && len == input.len() {
                return Ok(Tpkt { reserved, payload });
            }
        }
        Err(decode_exact_error(input))
    }

    /// A TPKT carrying `payload`, with the reserved octet 0.
    pub const fn new(payload: &'a [u8]) -> Self {
        Tpkt {
            reserved: 0,
            payload,
        }
    }

    /// The packet length this TPKT encodes to, header included.
    pub const fn encoded_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload.len())
    }

    /// Writes the TPKT (header and payload). The reserved octet is always written as 0.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        encode_header(self.payload.len(), buf)?;
        ensure_room(Layer::Tpkt, buf, self.payload.len())?;
        buf.put_slice(self.payload);
        Ok(())
    }
}

/// Writes only the 4-octet TPKT header for a TPDU of `tpdu_len` octets, for callers that write
/// the TPDU themselves (avoids assembling it in a temporary buffer).
#[inline]
pub fn encode_header<B: BufMut + ?Sized>(tpdu_len: usize, buf: &mut B) -> Result<(), EncodeError> {
    let total = tpdu_len.saturating_add(HEADER_LEN);
    let remaining = buf.remaining_mut();
    // Both checks, one out-of-line error.
    if !(MIN_LEN..=MAX_LEN).contains(&total) || remaining < HEADER_LEN {
        return Err(header_error(total, remaining));
    }
    let [hi, lo] = u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes();
    buf.put_slice(&[VERSION, 0, hi, lo]);
    Ok(())
}

/// The error of [`encode_header`]: the length first, then the room.
#[cold]
#[inline(never)]
fn header_error(total: usize, remaining: usize) -> EncodeError {
    if (MIN_LEN..=MAX_LEN).contains(&total) {
        EncodeError::new(
            Layer::Tpkt,
            EncodeErrorKind::BufferTooSmall {
                needed: HEADER_LEN,
                remaining,
            },
        )
    } else {
        length_error(total)
    }
}

/// The error for a packet length outside `7..=65535`.
#[cold]
#[inline(never)]
pub(crate) fn length_error(total: usize) -> EncodeError {
    EncodeError::new(
        Layer::Tpkt,
        if total > MAX_LEN {
            EncodeErrorKind::ValueTooLarge {
                what: "tpkt length",
                value: total,
                max: MAX_LEN,
            }
        } else {
            EncodeErrorKind::InvalidValue {
                what: "tpkt length",
                value: total as u64,
            }
        },
    )
}

/// Splits a byte stream into complete TPKT frames: an iterator over the frames at the start of
/// `buf`. It stops at the first incomplete frame; [`TpktFrames::consumed`] tells how many octets
/// the yielded frames took, so the caller can keep the rest for the next read.
#[derive(Debug, Clone)]
pub struct TpktFrames<'a> {
    buf: &'a [u8],
    consumed: usize,
    failed: bool,
}

impl<'a> TpktFrames<'a> {
    /// Iterates over the complete TPKTs at the start of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        TpktFrames {
            buf,
            consumed: 0,
            failed: false,
        }
    }

    /// Octets taken by the frames yielded so far.
    pub const fn consumed(&self) -> usize {
        self.consumed
    }
}

impl<'a> Iterator for TpktFrames<'a> {
    type Item = Result<Tpkt<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.consumed..)?;
        match frame_len(rest) {
            Ok(Some(len)) => {
                let frame = rest.get(..len)?;
                self.consumed = self.consumed.saturating_add(len);
                Some(Ok(Tpkt {
                    reserved: frame.get(1).copied().unwrap_or_default(),
                    payload: frame.get(HEADER_LEN..).unwrap_or_default(),
                }))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e.shifted(self.consumed)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_encode_round_trip() {
        let bytes = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0xaa, 0xbb, 0xcc];
        let (tpkt, rest) = Tpkt::decode(&bytes).unwrap();
        assert_eq!(tpkt.payload, &[0x02, 0xf0, 0x80, 0xaa, 0xbb]);
        assert_eq!(rest, &[0xcc]);
        let mut out = Vec::new();
        tpkt.encode(&mut out).unwrap();
        assert_eq!(out, &bytes[..9]);
    }

    #[test]
    fn reserved_octet_is_ignored_on_input_and_zero_on_output() {
        let bytes = [0x03, 0x5a, 0x00, 0x07, 0x02, 0xf0, 0x80];
        let tpkt = Tpkt::decode_exact(&bytes).unwrap();
        assert_eq!(tpkt.reserved, 0x5a);
        let mut out = Vec::new();
        tpkt.encode(&mut out).unwrap();
        assert_eq!(out[1], 0);
    }

    #[test]
    fn encode_refuses_short_buffer_and_bad_lengths() {
        let payload = [0x02, 0xf0, 0x80];
        let mut small = [0u8; 5];
        let e = Tpkt::new(&payload).encode(&mut &mut small[..]).unwrap_err();
        assert!(matches!(e.kind(), EncodeErrorKind::BufferTooSmall { .. }));
        let e = Tpkt::new(&payload[..2])
            .encode(&mut Vec::new())
            .unwrap_err();
        assert!(matches!(e.kind(), EncodeErrorKind::InvalidValue { .. }));
        let big = vec![0u8; MAX_TPDU_LEN + 1];
        let e = Tpkt::new(&big).encode(&mut Vec::new()).unwrap_err();
        assert!(matches!(e.kind(), EncodeErrorKind::ValueTooLarge { .. }));
        let max = vec![0u8; MAX_TPDU_LEN];
        let mut out = Vec::new();
        Tpkt::new(&max).encode(&mut out).unwrap();
        assert_eq!(&out[..4], &[3, 0, 0xff, 0xff]);
    }

    #[test]
    fn frames_iterator_stops_at_partial_frame() {
        let stream = [
            0x03, 0x00, 0x00, 0x07, 0x02, 0xf0, 0x80, // frame 1
            0x03, 0x00, 0x00, 0x08, 0x02, 0xf0, 0x80, 0x01, // frame 2
            0x03, 0x00, 0x00, 0x09, 0x02, // partial
        ];
        let mut frames = TpktFrames::new(&stream);
        assert_eq!(frames.next().unwrap().unwrap().payload.len(), 3);
        assert_eq!(frames.next().unwrap().unwrap().payload.len(), 4);
        assert!(frames.next().is_none());
        assert_eq!(frames.consumed(), 15);
    }

    #[test]
    fn frames_iterator_reports_bad_header_once_with_stream_offset() {
        let stream = [
            0x03, 0x00, 0x00, 0x07, 0x02, 0xf0, 0x80, 0x04, 0x00, 0x00, 0x07,
        ];
        let mut frames = TpktFrames::new(&stream);
        assert!(frames.next().unwrap().is_ok());
        let e = frames.next().unwrap().unwrap_err();
        assert_eq!(e.offset(), 7);
        assert!(frames.next().is_none());
    }

    /// The errors of the out-of-line paths: layer, offset and kind as before the fast paths.
    #[test]
    fn decode_errors_name_the_fault() {
        let e = Tpkt::decode(&[3, 0]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::Truncated {
                needed: 4,
                available: 2,
                ..
            }
        ));
        let e = Tpkt::decode(&[4, 0, 0, 7, 2, 0xf0, 0x80]).unwrap_err();
        assert_eq!((e.layer(), e.offset()), (Layer::Tpkt, 0));
        let e = Tpkt::decode(&[3, 0, 0, 6, 2, 0xf0]).unwrap_err();
        assert_eq!(e.offset(), 2);
        let e = Tpkt::decode(&[3, 0, 0, 9, 2, 0xf0, 0x80]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::Truncated {
                needed: 9,
                available: 7,
                ..
            }
        ));
        let e = Tpkt::decode_exact(&[3, 0, 0, 7, 2, 0xf0, 0x80, 0xaa, 0xbb]).unwrap_err();
        assert_eq!(e.offset(), 7);
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::TrailingData { len: 2, .. }
        ));
        let e = Tpkt::decode_exact(&[3, 0, 0, 9, 2, 0xf0, 0x80]).unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::Truncated { .. }));
        let mut room = [0u8; 3];
        let e = encode_header(5, &mut &mut room[..]).unwrap_err();
        assert!(matches!(
            e.kind(),
            EncodeErrorKind::BufferTooSmall {
                needed: 4,
                remaining: 3
            }
        ));
    }
}
