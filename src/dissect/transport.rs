//! One direction of one stream: TPKT framing (RFC 1006 §6), COTP (X.224 §13) and the reassembly
//! of DT TPDUs into TSDUs; each complete TSDU goes up to [`super::upper`].

use crate::Limits;
use crate::cotp::{DataFormat, Reassembler, Tpdu, TpduCode, Tsdu, class0};
use crate::tpkt::{self, Tpkt};

use super::upper::{self, Contexts};
use super::{Cotp, Direction, Frame, Record, RecordKind, Transfer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Framing TPKTs.
    Framing,
    /// Skip pushes until one starts with a TPKT header: the capture started in the middle of
    /// the stream, or bytes were missing from it. `report`: say so when a push is skipped.
    Resync { report: bool },
    /// Framing failed; the rest of the direction is not decoded.
    Stopped,
}

/// The decoder of one direction of one stream.
#[derive(Debug)]
pub(crate) struct DirDecoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    state: State,
    reassembler: Reassembler,
    /// Skip RDP fast-path PDUs (first octet's two low bits 0) between TPKTs.
    rdp: bool,
}

/// Whether `b` starts like a TLS record (content type 20–23, version 3.x): RDP and some RFC 1006
/// deployments switch to TLS after the COTP connection.
fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [20..=23, 3, 0..=4, ..])
}

/// Whether `b` starts with a plausible TPKT header.
fn looks_like_tpkt(b: &[u8]) -> bool {
    matches!(tpkt::frame_len(b), Ok(Some(_)))
}

/// The length of the RDP fast-path PDU at the start of `b` (MS-RDPBCGR 2.2.8.1.2 / 2.2.9.1.2):
/// `Ok(None)` when more octets are needed, `Err` when the length is below its own header.
fn fastpath_len(b: &[u8]) -> Result<Option<usize>, ()> {
    match b {
        [] | [_] => Ok(None),
        [_, l1, rest @ ..] if l1 & 0x80 != 0 => match rest.first() {
            None => Ok(None),
            Some(&l2) => {
                let len = usize::from(u16::from_be_bytes([l1 & 0x7f, l2]));
                if len < 3 { Err(()) } else { Ok(Some(len)) }
            }
        },
        [_, l1, ..] => {
            let len = usize::from(*l1);
            if len < 2 { Err(()) } else { Ok(Some(len)) }
        }
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn record(offset: u64, kind: RecordKind<'_>) -> Record<'_> {
    Record {
        stream: None,
        direction: Direction::Unknown,
        offset,
        time: None,
        kind,
    }
}

impl DirDecoder {
    /// A decoder at stream offset 0; `rdp` enables skipping RDP fast-path PDUs.
    pub(crate) fn new(rdp: bool) -> Self {
        DirDecoder {
            buf: Vec::new(),
            base: 0,
            state: State::Framing,
            reassembler: Reassembler::new(Limits::default()),
            rdp,
        }
    }

    /// Adds in-order stream bytes; hands `f` a record for every TPKT they complete.
    pub(crate) fn push(
        &mut self,
        data: &[u8],
        contexts: &mut Contexts,
        f: &mut dyn FnMut(Record<'_>),
    ) {
        let len = as_u64(data.len());
        match self.state {
            State::Stopped => {
                self.base = self.base.saturating_add(len);
                return;
            }
            State::Resync { report } => {
                if looks_like_tpkt(data) {
                    self.state = State::Framing;
                } else {
                    if report {
                        let at = self.base;
                        f(record(at, RecordKind::Unsynchronised { at }));
                        self.state = State::Resync { report: false };
                    }
                    self.base = self.base.saturating_add(len);
                    return;
                }
            }
            State::Framing => {}
        }
        // Frames are decoded straight from `data` while nothing is held; only a partial TPKT is
        // copied, so a direction holds at most one TPKT.
        let mut pos = 0usize;
        let mut stop = false;
        {
            let held = std::mem::take(&mut self.buf);
            let joined;
            let input: &[u8] = if held.is_empty() {
                data
            } else {
                let mut v = held;
                v.extend_from_slice(data);
                joined = v;
                &joined
            };
            while let Some(rest) = input.get(pos..) {
                if rest.is_empty() {
                    break;
                }
                let at = self.base.saturating_add(as_u64(pos));
                if self.rdp && rest.first().is_some_and(|b| b & 0x03 == 0) {
                    match fastpath_len(rest) {
                        Ok(Some(n)) if rest.len() >= n => {
                            pos = pos.saturating_add(n);
                            continue;
                        }
                        Ok(_) => break,
                        Err(()) => {
                            f(record(at, RecordKind::NotFastPath { at }));
                            stop = true;
                            break;
                        }
                    }
                }
                match tpkt::frame_len(rest) {
                    Ok(Some(n)) if rest.len() >= n => {
                        let frame = rest.get(..n).unwrap_or_default();
                        decode_frame(at, frame, &mut self.reassembler, contexts, f);
                        pos = pos.saturating_add(n);
                    }
                    Ok(_) => break,
                    Err(e) => {
                        let kind = if looks_like_tls(rest) {
                            RecordKind::Tls
                        } else {
                            RecordKind::Framing(
                                e.shifted(usize::try_from(at).unwrap_or(usize::MAX)),
                            )
                        };
                        f(record(at, kind));
                        stop = true;
                        break;
                    }
                }
            }
            if !stop {
                if let Some(rest) = input.get(pos..) {
                    self.buf.extend_from_slice(rest);
                }
            }
            if stop {
                let consumed = as_u64(pos);
                let held = as_u64(input.len().saturating_sub(pos));
                self.base = self.base.saturating_add(consumed).saturating_add(held);
            } else {
                self.base = self.base.saturating_add(as_u64(pos));
            }
        }
        if stop {
            self.stop_here();
        }
    }

    /// Stops decoding; `base` already counts what was held.
    fn stop_here(&mut self) {
        self.state = State::Stopped;
        self.buf = Vec::new();
        self.reassembler.reset();
    }

    fn stop(&mut self) {
        let held = as_u64(self.buf.len());
        self.base = self.base.saturating_add(held);
        self.stop_here();
    }

    /// Whether nothing is held: finishing now would report nothing.
    pub(crate) fn is_idle(&self) -> bool {
        self.buf.is_empty()
    }

    /// The capture starts in the middle of the stream: skip to the first push that starts with
    /// a TPKT header, silently.
    pub(crate) fn start_mid_stream(&mut self) {
        if self.state == State::Framing && self.buf.is_empty() {
            self.state = State::Resync { report: false };
        }
    }

    /// `missing` octets of the stream are not in the capture: drop the partial TPKT and TSDU and
    /// resynchronise at the next push that starts with a TPKT header.
    pub(crate) fn gap(&mut self, missing: u64, f: &mut dyn FnMut(Record<'_>)) {
        if self.state == State::Stopped {
            self.base = self.base.saturating_add(missing);
            return;
        }
        let held = as_u64(self.buf.len());
        let at = self.base.saturating_add(held);
        let kind = if held > 0 || self.reassembler.pending_segments() > 0 {
            RecordKind::Dropped {
                at,
                octets: missing,
            }
        } else {
            RecordKind::Missing {
                at,
                octets: missing,
            }
        };
        f(record(self.base, kind));
        self.base = at.saturating_add(missing);
        self.buf = Vec::new();
        self.reassembler.reset();
        self.state = State::Resync { report: true };
    }

    /// The end of the input: reports a TPKT cut short and frees what the direction held.
    pub(crate) fn finish(&mut self, f: &mut dyn FnMut(Record<'_>)) {
        if self.state == State::Framing && !self.buf.is_empty() {
            let at = self.base;
            let error = Tpkt::decode(&self.buf)
                .err()
                .map(|e| e.shifted(usize::try_from(at).unwrap_or(usize::MAX)));
            f(record(at, RecordKind::Truncated { at, error }));
        }
        self.stop();
    }
}

/// Decodes one complete TPKT at stream offset `at` and hands its record to `f`.
fn decode_frame(
    at: u64,
    frame: &[u8],
    reassembler: &mut Reassembler,
    contexts: &mut Contexts,
    f: &mut dyn FnMut(Record<'_>),
) {
    let tpkt = match Tpkt::decode(frame) {
        Ok((t, _)) => t,
        Err(e) => {
            let e = e.shifted(usize::try_from(at).unwrap_or(usize::MAX));
            f(record(at, RecordKind::Framing(e)));
            return;
        }
    };
    let payload = tpkt.payload;
    let mut error = None;
    let mut whole: Option<(Tsdu<'_>, usize)> = None;
    let cotp = match Tpdu::decode(payload) {
        Err(e) => {
            error = Some(e);
            Cotp::Malformed {
                li: payload.first().copied(),
                code: payload
                    .get(1)
                    .filter(|_| payload.first() != Some(&0))
                    .map(|&c| TpduCode(c)),
            }
        }
        Ok(tpdu) => {
            match &tpdu {
                Tpdu::Dt(dt) => {
                    if dt.format == DataFormat::Short {
                        if let Err(e) = class0::check_dt(dt) {
                            error = Some(e);
                        }
                    }
                    let segments = reassembler.pending_segments().saturating_add(1);
                    match reassembler.push(dt) {
                        Ok(Some(tsdu)) => whole = Some((tsdu, segments)),
                        Ok(None) => {}
                        Err(e) => {
                            error = error.or(Some(e));
                        }
                    }
                }
                Tpdu::Cr(_) | Tpdu::Cc(_) | Tpdu::Dr(_) | Tpdu::Dc(_) => reassembler.reset(),
                _ => {}
            }
            Cotp::Decoded {
                li: payload.first().copied().unwrap_or(0),
                tpdu,
            }
        }
    };
    let tsdu = whole.as_ref().map(|(t, segments)| {
        let octets = t.as_slice();
        let (up, e) = upper::decode(contexts, octets);
        if error.is_none() {
            error = e;
        }
        Transfer {
            octets,
            segments: *segments,
            upper: up,
        }
    });
    f(record(
        at,
        RecordKind::Frame(Box::new(Frame {
            octets: frame,
            tpkt,
            cotp,
            tsdu,
            error,
        })),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastpath_lengths() {
        assert_eq!(fastpath_len(&[0x00]), Ok(None));
        assert_eq!(fastpath_len(&[0x00, 0x05]), Ok(Some(5)));
        assert_eq!(fastpath_len(&[0x00, 0x81]), Ok(None));
        assert_eq!(fastpath_len(&[0x00, 0x81, 0x00]), Ok(Some(256)));
        assert_eq!(fastpath_len(&[0x00, 0x01]), Err(()));
    }

    #[test]
    fn frames_split_anywhere() {
        let stream = [
            0x03, 0x00, 0x00, 0x08, 0x02, 0xf0, 0x00, 0xaa, 0x03, 0x00, 0x00, 0x08, 0x02, 0xf0,
            0x80, 0xbb,
        ];
        for cut in 0..stream.len() {
            let mut d = DirDecoder::new(false);
            let mut c = Contexts::default();
            let mut out = Vec::new();
            let mut f = |r: Record<'_>| {
                if let RecordKind::Frame(fr) = &r.kind {
                    out.push(fr.tsdu.as_ref().map(|t| t.octets.to_vec()));
                }
            };
            d.push(&stream[..cut], &mut c, &mut f);
            d.push(&stream[cut..], &mut c, &mut f);
            assert_eq!(out.len(), 2);
            assert_eq!(out[1].as_deref(), Some(&[0xaa, 0xbb][..]));
        }
    }
}
