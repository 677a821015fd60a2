//! A passive, direction-aware dissector for RFC 1006 streams: the decoders of this crate run
//! over captured bytes, with the state a passive observer needs, and every TPKT becomes one typed
//! [`Record`].
//!
//! This is the engine of `osi dump`, offered to analyser and IDS authors. It never answers, never
//! asks for a retransmission and never panics: whatever the bytes, it reports what it could
//! decode and, when a layer fails, a [`DecodeError`] naming the layer and the offset.
//!
//! # Floors
//!
//! - **TCP** ([`Tracker`], optional): puts the segments of each direction in order
//!   (retransmissions and overlaps trimmed), tells the client from the server (SYN, then CR/CC,
//!   then the well-known port), and gives up on a hole when the peer acknowledged past it, when the
//!   out-of-order data exceeds [`FLOW_PENDING_MAX`] / [`TOTAL_PENDING_MAX`], or at the end.
//!   With the `pcap` feature, [`capture::for_each_segment`] reads pcap and pcapng files.
//! - **TPKT** (RFC 1006 §6): framing of each direction, resynchronised after octets missing from
//!   the capture at the next segment that starts with a TPKT header; a switch to TLS is noted
//!   ([`RecordKind::Tls`]); RDP fast-path PDUs between TPKTs (MS-RDPBCGR 2.2.8.1.2) are skipped
//!   when asked for.
//! - **COTP** (X.224 §13): every TPDU decoded; DT TPDUs reassembled into TSDUs under
//!   [`Limits`](crate::Limits) (X.224 §6.3, class 0 checked per §14.4).
//! - **Session** (X.225 §8): every SPDU of a TSDU, concatenated ones included. Like tshark's
//!   heuristic, a stream is taken for OSI session once one of its TSDUs decodes cleanly as SPDUs
//!   (or starts with CN, AC or RF); TSDUs of other protocols carried straight in COTP (S7comm,
//!   RDP) are left undecoded ([`Transfer::upper`] is `None`).
//! - **Presentation** (X.226 §8): the PPDU in the first SPDU that carries user data
//!   ([`Presentation`]); the presentation contexts proposed by the CP tell which PDV carries ACSE
//!   (abstract syntax 2.2.1.0.1) and which RTSE (2.3.2, or X.400's 2.6.0.2.12).
//! - **ACSE** (X.227 §7) in the connection and release PPDUs, and **RTSE** (X.228 §9) in ACSE
//!   user-information, in PDVs of the RTSE context, or, in X.410-1984 mode (a CP or CPA with
//!   mode-value 0, X.226 §8.1), in the PPDU's X.410 parameters and the raw S-DATA and
//!   S-TOKEN-PLEASE user data.
//!
//! The context state ([`Contexts`]) is kept per TCP connection and shared by its two
//! directions: the CP the client sends sets the contexts the server's CPA and data use.
//!
//! # Memory
//!
//! A direction holds at most one partial TPKT (65 535 octets) and one partial TSDU (bounded by
//! [`Limits::max_tsdu`](crate::Limits)); the TCP floor bounds out-of-order data as above.
//! Records borrow from the dissector's buffers and live only for the call of the closure they are
//! handed to: copy out what you keep.
//!
//! # Example
//!
//! An IDS rule that flags ACSE associations refused by the responder, fed one direction at a
//! time (here, bytes as a stream reassembler would deliver them):
//!
//! ```
//! use osi_stack::acse::{Apdu, AssociateResult};
//! use osi_stack::dissect::{Direction, RecordKind, Stream};
//!
//! // A CR from the client, then a CC from the server (X.224 §13.3, §13.4).
//! let cr = [0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00];
//! let cc = [0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0x00, 0x01, 0x00, 0x02, 0x00];
//! let mut stream = Stream::new();
//! let mut seen = Vec::new();
//! let mut on_record = |r: osi_stack::dissect::Record<'_>| {
//!     if let RecordKind::Frame(f) = &r.kind {
//!         if let Some(Apdu::Aare(aare)) = f.upper().and_then(|u| u.acse.as_ref()) {
//!             if aare.result != AssociateResult::ACCEPTED {
//!                 eprintln!("association refused at offset {}", r.offset);
//!             }
//!         }
//!         seen.push((r.direction, f.tpdu().map(|t| t.kind())));
//!     }
//! };
//! stream.push(Direction::Client, &cr[..5], &mut on_record); // a TPKT split anywhere
//! stream.push(Direction::Client, &cr[5..], &mut on_record);
//! stream.push(Direction::Server, &cc, &mut on_record);
//! stream.finish(Direction::Client, &mut on_record);
//! stream.finish(Direction::Server, &mut on_record);
//! use osi_stack::cotp::TpduKind;
//! assert_eq!(
//!     seen,
//!     [(Direction::Client, Some(TpduKind::Cr)), (Direction::Server, Some(TpduKind::Cc))]
//! );
//! ```
//!
//! `examples/dissect.rs` runs such rules over a pcap file (`cargo run --example dissect
//! --features pcap -- FILE.pcap`).

#[cfg(feature = "pcap")]
pub mod capture;
mod tcp;
mod transport;
mod upper;

pub use tcp::{FLOW_PENDING_MAX, RETIRED_MAX, Segment, TOTAL_PENDING_MAX, Tracker};
pub use upper::{Contexts, Presentation, Upper};

use crate::DecodeError;
use crate::cotp::{Tpdu, TpduCode};
use crate::tpkt::Tpkt;

use transport::DirDecoder;

/// Which side sent a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The initiator: the sender of the SYN, else of the CR, else the side not on a server port.
    Client,
    /// The responder.
    Server,
    /// Not known: one direction of one stream given alone.
    Unknown,
}

/// One record: a TPKT, or an event of the stream (octets missing, TLS, a framing error).
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// The TCP stream, numbered from 0 in the order streams appear ([`Tracker`] only).
    pub stream: Option<u64>,
    /// Who sent it.
    pub direction: Direction,
    /// Offset in the direction's byte stream where the record starts.
    pub offset: u64,
    /// When the packet that completed the record was captured (since the Unix epoch), when
    /// the input says ([`Tracker`] over timestamped segments).
    pub time: Option<std::time::Duration>,
    /// What was found there.
    pub kind: RecordKind<'a>,
}

impl Record<'_> {
    /// The error this record reports, if any: for a frame, the first layer that failed; for a
    /// stream event, the TPKT floor's error (see each [`RecordKind`]). Offsets are those of the
    /// failing layer's input (the TPDU for COTP, the TSDU for session, the PPDU for
    /// presentation and ACSE, the RTSE APDU or PPDU for RTSE); a stream-level TPKT error counts
    /// from the start of the direction's stream.
    pub fn error(&self) -> Option<RecordError> {
        match &self.kind {
            RecordKind::Frame(f) => f.error.map(RecordError::Decode),
            RecordKind::Missing { .. } | RecordKind::Tls => None,
            RecordKind::Dropped { at, octets } => Some(RecordError::Dropped {
                at: *at,
                octets: *octets,
            }),
            RecordKind::Unsynchronised { at } => Some(RecordError::Unsynchronised { at: *at }),
            RecordKind::NotFastPath { at } => Some(RecordError::NotFastPath { at: *at }),
            RecordKind::Framing(e) => Some(RecordError::Decode(*e)),
            RecordKind::Truncated { at, error } => Some(match error {
                Some(e) => RecordError::Decode(*e),
                None => RecordError::Truncated { at: *at },
            }),
        }
    }
}

/// What a record holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RecordKind<'a> {
    /// A complete TPKT and what its layers decoded to.
    Frame(Box<Frame<'a>>),
    /// `octets` are missing from the capture at stream offset `at`, between two TPKTs: nothing
    /// was lost but the missing TPKTs themselves (a note, not an error).
    Missing {
        /// Where the hole starts.
        at: u64,
        /// Its length.
        octets: u64,
    },
    /// `octets` are missing from the capture at `at`, inside a TPKT or a TSDU: the partial TPKT
    /// or TSDU before them is dropped (an error of the TPKT floor).
    Dropped {
        /// Where the hole starts.
        at: u64,
        /// Its length.
        octets: u64,
    },
    /// After octets missing from the capture, a segment did not start with a TPKT header: it is
    /// skipped, and so are the following ones until one does (reported once, an error).
    Unsynchronised {
        /// Where the skipped segment starts.
        at: u64,
    },
    /// On an RDP stream, octets that are neither a TPKT nor a fast-path PDU: the direction is
    /// not decoded further (an error).
    NotFastPath {
        /// Where they start.
        at: u64,
    },
    /// TLS records from here on (RDP, RFC 1006 over TLS): the direction is not decoded further.
    Tls,
    /// The TPKT header is invalid (RFC 1006 §6); offset counted in the stream. The direction is
    /// not decoded further.
    Framing(DecodeError),
    /// The input ended inside a TPKT that starts at `at`; `error` is what the TPKT decoder said
    /// of the partial packet, when it said something.
    Truncated {
        /// Where the partial TPKT starts.
        at: u64,
        /// The TPKT decoder's error on the partial packet.
        error: Option<DecodeError>,
    },
}

/// The error of a [`Record`]: a layer's [`DecodeError`], or an event of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A decoder failed.
    #[error(transparent)]
    Decode(DecodeError),
    /// See [`RecordKind::Dropped`].
    #[error(
        "tpkt: {octets} octet{} missing from the capture at offset {at}: the partial tpkt or tsdu before them is dropped",
        plural(*octets)
    )]
    Dropped {
        /// Where the hole starts.
        at: u64,
        /// Its length.
        octets: u64,
    },
    /// See [`RecordKind::Unsynchronised`].
    #[error(
        "tpkt: no tpkt header after the octets missing from the capture at offset {at}, skipping to the next segment that starts with one"
    )]
    Unsynchronised {
        /// Where the skipped segment starts.
        at: u64,
    },
    /// See [`RecordKind::NotFastPath`].
    #[error("tpkt: neither a tpkt nor an rdp fast-path pdu at offset {at}")]
    NotFastPath {
        /// Where the octets start.
        at: u64,
    },
    /// See [`RecordKind::Truncated`].
    #[error("tpkt: unexpected end at offset {at}")]
    Truncated {
        /// Where the partial TPKT starts.
        at: u64,
    },
}

impl RecordError {
    /// The layer the error belongs to (the TPKT floor for stream events).
    pub fn layer(&self) -> crate::Layer {
        match self {
            RecordError::Decode(e) => e.layer(),
            _ => crate::Layer::Tpkt,
        }
    }

    /// The offset of the error (see [`Record::error`]).
    pub fn offset(&self) -> u64 {
        match *self {
            RecordError::Decode(e) => u64::try_from(e.offset()).unwrap_or(u64::MAX),
            RecordError::Dropped { at, .. }
            | RecordError::Unsynchronised { at }
            | RecordError::NotFastPath { at }
            | RecordError::Truncated { at } => at,
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One complete TPKT.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// The TPKT's octets, header included.
    pub octets: &'a [u8],
    /// The decoded TPKT.
    pub tpkt: Tpkt<'a>,
    /// The TPDU it carries.
    pub cotp: Cotp<'a>,
    /// The TSDU this DT completed (only on the DT with EOT that ends it).
    pub tsdu: Option<Transfer<'a>>,
    /// The first layer that failed, bottom up (see [`Record::error`]).
    pub error: Option<DecodeError>,
}

impl<'a> Frame<'a> {
    /// The TPDU, when it decoded.
    pub fn tpdu(&self) -> Option<&Tpdu<'a>> {
        match &self.cotp {
            Cotp::Decoded { tpdu, .. } => Some(tpdu),
            Cotp::Malformed { .. } => None,
        }
    }

    /// The layers above the transport, when this frame completed a TSDU of a session stream.
    pub fn upper(&self) -> Option<&Upper<'a>> {
        self.tsdu.as_ref().and_then(|t| t.upper.as_ref())
    }
}

/// The TPDU of a frame.
#[derive(Debug, Clone)]
pub enum Cotp<'a> {
    /// The TPDU decoded.
    Decoded {
        /// The length indicator (X.224 §13.2.1).
        li: u8,
        /// The TPDU.
        tpdu: Tpdu<'a>,
    },
    /// The TPDU did not decode ([`Frame::error`] says why); what its header shows.
    Malformed {
        /// The length indicator, when there is one.
        li: Option<u8>,
        /// The TPDU code octet, when the LI is not 0 and there is one.
        code: Option<TpduCode>,
    },
}

/// A complete TSDU.
#[derive(Debug, Clone)]
pub struct Transfer<'a> {
    /// Its octets.
    pub octets: &'a [u8],
    /// How many DT TPDUs carried it.
    pub segments: usize,
    /// The session and upper layers, when the stream carries OSI session (see the module docs).
    pub upper: Option<Upper<'a>>,
}

/// Both directions of one TCP connection, fed in-order bytes; records are handed to a closure as
/// they are decoded.
///
/// [`Direction::Unknown`] shares the client's half: use it for one direction given alone.
#[derive(Debug)]
pub struct Stream {
    halves: [DirDecoder; 2],
    contexts: Contexts,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

fn half(dir: Direction) -> usize {
    usize::from(dir == Direction::Server)
}

impl Stream {
    /// A connection with nothing seen yet.
    pub fn new() -> Self {
        Stream::with_rdp(false)
    }

    /// The same; `rdp` skips RDP fast-path PDUs between TPKTs (streams to or from port 3389).
    pub fn with_rdp(rdp: bool) -> Self {
        Stream {
            halves: [DirDecoder::new(rdp), DirDecoder::new(rdp)],
            contexts: Contexts::default(),
        }
    }

    /// The context state learnt so far (presentation contexts, X.410 mode).
    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// Adds in-order bytes of `dir`'s stream; calls `f` for every record they complete.
    ///
    /// Segment boundaries matter only after [`Stream::gap`] or [`Stream::start_mid_stream`]:
    /// framing then resumes at the first push that starts with a TPKT header.
    pub fn push(&mut self, dir: Direction, data: &[u8], f: &mut dyn FnMut(Record<'_>)) {
        self.half(dir, |h, c, f| h.push(data, c, f), f);
    }

    /// `missing` octets of `dir`'s stream are not in the capture: drops the partial TPKT and
    /// TSDU and resynchronises at the next push that starts with a TPKT header.
    pub fn gap(&mut self, dir: Direction, missing: u64, f: &mut dyn FnMut(Record<'_>)) {
        self.half(dir, |h, _, f| h.gap(missing, f), f);
    }

    /// `dir`'s bytes start in the middle of its stream: skip silently to the first push that
    /// starts with a TPKT header. No effect once bytes were pushed.
    pub fn start_mid_stream(&mut self, dir: Direction) {
        if let Some(h) = self.halves.get_mut(half(dir)) {
            h.start_mid_stream();
        }
    }

    /// The end of `dir`'s stream: reports a TPKT cut short and frees what the direction held.
    pub fn finish(&mut self, dir: Direction, f: &mut dyn FnMut(Record<'_>)) {
        self.half(dir, |h, _, f| h.finish(f), f);
    }

    fn half(
        &mut self,
        dir: Direction,
        op: impl FnOnce(&mut DirDecoder, &mut Contexts, &mut dyn FnMut(Record<'_>)),
        f: &mut dyn FnMut(Record<'_>),
    ) {
        let Stream { halves, contexts } = self;
        if let Some(h) = halves.get_mut(half(dir)) {
            op(h, contexts, &mut |mut r: Record<'_>| {
                r.direction = dir;
                f(r);
            });
        }
    }
}
