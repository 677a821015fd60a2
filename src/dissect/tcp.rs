//! TCP streams: which segments belong together, in which order, and who is the client.
//!
//! Each direction keeps the next expected sequence number and the stream offset it stands for.
//! Segments that start at or before it are trimmed (retransmissions and overlaps), segments after
//! it wait in a map keyed by stream offset until the hole is filled. A hole is given up on — the
//! bytes are declared missing from the capture and the decoder resynchronises — when the peer
//! acknowledges data beyond it (so the capture, not the network, lost it), when the waiting data
//! exceeds [`FLOW_PENDING_MAX`] (or all directions together exceed [`TOTAL_PENDING_MAX`]), and at
//! the end of the input.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::cotp::TpduKind;

use super::transport::DirDecoder;
use super::upper::Contexts;
use super::{Direction, Record, RecordKind};

/// One TCP segment, as a capture reader hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number when the ACK flag is set.
    pub ack: Option<u32>,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// TCP payload (as much as was captured).
    pub payload: &'a [u8],
    /// When the packet was captured (since the Unix epoch), if known.
    pub time: Option<Duration>,
}

/// Most out-of-order octets one direction may hold while waiting for a hole to be filled.
pub const FLOW_PENDING_MAX: usize = 16 << 20;
/// Most out-of-order octets all directions together may hold.
pub const TOTAL_PENDING_MAX: usize = 64 << 20;

/// One direction of a TCP stream.
#[derive(Debug)]
struct Flow {
    started: bool,
    /// Sequence number of the next expected octet.
    next: u32,
    /// Stream offset of the next expected octet.
    delivered: u64,
    /// Segments beyond a hole, by stream offset.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    dec: DirDecoder,
    /// The sequence number just after the last octet, once a FIN was seen.
    fin: Option<u32>,
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Flow {
    fn new(rdp: bool) -> Self {
        Flow {
            started: false,
            next: 0,
            delivered: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            dec: DirDecoder::new(rdp),
            fin: None,
        }
    }

    fn deliver(&mut self, data: &[u8], c: &mut Contexts, f: &mut dyn FnMut(Record<'_>)) {
        self.dec.push(data, c, f);
        self.delivered = self.delivered.saturating_add(as_u64(data.len()));
        // Sequence numbers wrap modulo 2^32.
        self.next = self.next.wrapping_add(data.len() as u32);
    }

    /// Delivers waiting segments that the stream has reached.
    fn drain(&mut self, total: &mut usize, c: &mut Contexts, f: &mut dyn FnMut(Record<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let off = *entry.key();
            if off > self.delivered {
                break;
            }
            let data = entry.remove();
            self.pending_bytes = self.pending_bytes.saturating_sub(data.len());
            *total = total.saturating_sub(data.len());
            let skip = usize::try_from(self.delivered.saturating_sub(off)).unwrap_or(usize::MAX);
            if let Some(rest) = data.get(skip..).filter(|r| !r.is_empty()) {
                self.deliver(rest, c, f);
            }
        }
    }

    /// Gives up on the hole before the first waiting segment.
    fn skip_hole(&mut self, total: &mut usize, c: &mut Contexts, f: &mut dyn FnMut(Record<'_>)) {
        let Some((&off, _)) = self.pending.first_key_value() else {
            return;
        };
        if off > self.delivered {
            let missing = off.saturating_sub(self.delivered);
            self.dec.gap(missing, f);
            self.delivered = off;
            self.next = self.next.wrapping_add(missing as u32);
        }
        self.drain(total, c, f);
    }

    fn start(&mut self, next: u32) {
        self.started = true;
        self.next = next;
    }

    fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        payload: &[u8],
        total: &mut usize,
        c: &mut Contexts,
        f: &mut dyn FnMut(Record<'_>),
    ) {
        // SYN takes one sequence number.
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if !self.started {
            if syn {
                self.start(data_seq);
            } else if payload.is_empty() {
                // A pure ACK or a keep-alive probe (one below the next octet) says nothing
                // reliable about where the data starts.
                return;
            } else {
                // Without a SYN the stream starts at the first segment with data, which may be
                // in the middle of a TPKT.
                self.start(data_seq);
                self.dec.start_mid_stream();
            }
        }
        if payload.is_empty() {
            return;
        }
        // Signed distance in sequence space (RFC 1982 style).
        let rel = data_seq.wrapping_sub(self.next) as i32;
        if rel <= 0 {
            let skip = usize::try_from(rel.unsigned_abs()).unwrap_or(usize::MAX);
            if let Some(rest) = payload.get(skip..).filter(|r| !r.is_empty()) {
                self.deliver(rest, c, f);
                self.drain(total, c, f);
            }
            return;
        }
        let off = self.delivered.saturating_add(u64::from(rel.unsigned_abs()));
        let slot = self.pending.entry(off).or_default();
        if slot.len() < payload.len() {
            let grown = payload.len().saturating_sub(slot.len());
            slot.clear();
            slot.extend_from_slice(payload);
            self.pending_bytes = self.pending_bytes.saturating_add(grown);
            *total = total.saturating_add(grown);
        }
        while self.pending_bytes > FLOW_PENDING_MAX
            || (*total > TOTAL_PENDING_MAX && self.pending_bytes > 0)
        {
            self.skip_hole(total, c, f);
        }
    }

    /// The peer acknowledged up to `ack`: a hole it acknowledged is missing from the capture.
    fn acked(
        &mut self,
        ack: u32,
        total: &mut usize,
        c: &mut Contexts,
        f: &mut dyn FnMut(Record<'_>),
    ) {
        if !self.started {
            return;
        }
        let Some((&first, _)) = self.pending.first_key_value() else {
            return;
        };
        let rel = ack.wrapping_sub(self.next) as i32;
        if rel <= 0 {
            return;
        }
        let acked = self.delivered.saturating_add(u64::from(rel.unsigned_abs()));
        if first <= acked {
            self.skip_hole(total, c, f);
        }
    }

    /// Whether this direction ended with a FIN, every octet before it delivered, and nothing is
    /// held: finishing it would report nothing.
    fn done(&self) -> bool {
        self.started && self.fin == Some(self.next) && self.pending.is_empty() && self.dec.is_idle()
    }

    /// The end of the input: gives up on every hole and reports a TPKT cut short.
    fn finish(&mut self, total: &mut usize, c: &mut Contexts, f: &mut dyn FnMut(Record<'_>)) {
        while !self.pending.is_empty() {
            self.skip_hole(total, c, f);
        }
        self.dec.finish(f);
    }
}

/// One TCP stream.
#[derive(Debug)]
struct Stream {
    id: u64,
    /// `ends[0]` sent the first packet seen.
    ends: [SocketAddr; 2],
    /// Index into `ends` of the client, once known.
    client: Option<usize>,
    /// The SYN that opened the stream: (side, sequence number).
    syn: Option<(usize, u32)>,
    /// Data, FIN or RST seen: a new SYN starts a new stream.
    active: bool,
    contexts: Contexts,
    flows: [Flow; 2],
}

/// The TCP floor of the dissector: every TCP stream of a capture to or from the ports asked for,
/// segments put in order per direction, each direction dissected as in
/// [`Stream`](super::Stream), records labelled with their stream and direction.
///
/// A hole is given up on (the bytes are declared missing from the capture and the direction
/// resynchronises) when the peer acknowledges data beyond it (so the capture, not the network,
/// lost it), when the waiting data exceeds [`FLOW_PENDING_MAX`] (or all directions together
/// exceed [`TOTAL_PENDING_MAX`]), and at the end of the input. Streams to or from port 3389 skip
/// RDP fast-path PDUs. A SYN on a stream that carried data starts a new stream.
///
/// Memory: bounded by the limits above, a few hundred octets per open stream, and the last
/// [`RETIRED_MAX`] closed ones remembered in a few dozen octets each. A stream is closed once
/// both directions sent a FIN and every octet before it was decoded: later segments of it (the
/// last ACK, retransmissions) are ignored; a new SYN opens a new stream.
#[derive(Debug)]
pub struct Tracker {
    ports: Vec<u16>,
    /// Open streams, by number.
    streams: BTreeMap<u64, Stream>,
    next_id: u64,
    index: HashMap<(SocketAddr, SocketAddr), Slot>,
    /// Closed streams still in `index`, oldest first.
    retired: VecDeque<(SocketAddr, SocketAddr)>,
    pending_total: usize,
    /// The time of the latest segment.
    time: Option<Duration>,
}

/// Closed streams remembered (their later segments are ignored rather than opening new streams).
pub const RETIRED_MAX: usize = 1 << 16;

/// What a pair of endpoints maps to.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// An open stream.
    Open(u64),
    /// A closed stream, and the SYN that had opened it (sender, sequence number).
    Closed(Option<(SocketAddr, u32)>),
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Tracker {
    /// Streams to or from one of `ports` (102 for RFC 1006; 3389 for RDP).
    pub fn new(ports: Vec<u16>) -> Self {
        Tracker {
            ports,
            streams: BTreeMap::new(),
            next_id: 0,
            index: HashMap::new(),
            retired: VecDeque::new(),
            pending_total: 0,
            time: None,
        }
    }

    fn new_stream(&mut self, seg: &Segment<'_>) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let rdp = seg.src.port() == 3389 || seg.dst.port() == 3389;
        self.streams.insert(
            id,
            Stream {
                id,
                ends: [seg.src, seg.dst],
                client: None,
                syn: None,
                active: false,
                contexts: Contexts::default(),
                flows: [Flow::new(rdp), Flow::new(rdp)],
            },
        );
        self.index.insert(key(seg.src, seg.dst), Slot::Open(id));
        id
    }

    /// Forgets a stream that has nothing more to report.
    fn retire(&mut self, id: u64) {
        let Some(stream) = self.streams.remove(&id) else {
            return;
        };
        let syn = stream
            .syn
            .and_then(|(side, seq)| stream.ends.get(side).map(|a| (*a, seq)));
        let k = key(stream.ends[0], stream.ends[1]);
        self.index.insert(k, Slot::Closed(syn));
        self.retired.push_back(k);
        while self.retired.len() > RETIRED_MAX {
            if let Some(old) = self.retired.pop_front() {
                if matches!(self.index.get(&old), Some(Slot::Closed(_))) {
                    self.index.remove(&old);
                }
            }
        }
    }

    /// Handles one TCP segment (in capture order); calls `f` for each record it completes.
    pub fn segment(&mut self, seg: &Segment<'_>, f: &mut dyn FnMut(Record<'_>)) {
        if !self.ports.contains(&seg.src.port()) && !self.ports.contains(&seg.dst.port()) {
            return;
        }
        self.time = seg.time.or(self.time);
        let opening = seg.syn && seg.ack.is_none();
        let idx = match self.index.get(&key(seg.src, seg.dst)).copied() {
            Some(Slot::Open(i)) => {
                let reused = opening
                    && self.streams.get(&i).is_some_and(|s| {
                        let side = usize::from(s.ends[0] != seg.src);
                        s.active && s.syn != Some((side, seg.seq))
                    });
                if reused {
                    self.finish_stream(i, f);
                    self.streams.remove(&i);
                    self.new_stream(seg)
                } else {
                    i
                }
            }
            Some(Slot::Closed(syn)) => {
                if opening && syn != Some((seg.src, seg.seq)) {
                    self.new_stream(seg)
                } else {
                    return;
                }
            }
            None => self.new_stream(seg),
        };
        let ports = &self.ports;
        let total = &mut self.pending_total;
        let time = self.time;
        let Some(stream) = self.streams.get_mut(&idx) else {
            return;
        };
        let side = usize::from(stream.ends[0] != seg.src);
        let other = side ^ 1;
        if seg.syn {
            if seg.ack.is_none() {
                stream.client = Some(side);
                stream.syn = Some((side, seg.seq));
            } else {
                if stream.client.is_none() {
                    stream.client = Some(other);
                }
                // The SYN-ACK acknowledges the client's SYN: the client's data starts there.
                if let (Some(flow), Some(ack)) = (stream.flows.get_mut(other), seg.ack) {
                    if !flow.started {
                        flow.start(ack);
                    }
                }
            }
        }
        if seg.fin || seg.rst || !seg.payload.is_empty() {
            stream.active = true;
        }
        if let Some(ack) = seg.ack {
            stream.with_flow(other, ports, time, f, |flow, c, f| {
                flow.acked(ack, total, c, f);
            });
        }
        stream.with_flow(side, ports, time, f, |flow, c, f| {
            flow.segment(seg.seq, seg.syn, seg.payload, total, c, f);
            if seg.fin && flow.started {
                let data_seq = if seg.syn {
                    seg.seq.wrapping_add(1)
                } else {
                    seg.seq
                };
                flow.fin = Some(data_seq.wrapping_add(seg.payload.len() as u32));
            }
        });
        if stream.flows.iter().all(Flow::done) {
            self.retire(idx);
        }
    }

    fn finish_stream(&mut self, idx: u64, f: &mut dyn FnMut(Record<'_>)) {
        let ports = &self.ports;
        let total = &mut self.pending_total;
        let time = self.time;
        let Some(stream) = self.streams.get_mut(&idx) else {
            return;
        };
        let first = stream.client.unwrap_or(0);
        for side in [first, first ^ 1] {
            stream.with_flow(side, ports, time, f, |flow, c, f| {
                flow.finish(total, c, f);
                // Free what the finished direction held.
                *flow = Flow::new(false);
            });
        }
    }

    /// The end of the capture: flushes every stream, in stream order.
    pub fn finish(&mut self, f: &mut dyn FnMut(Record<'_>)) {
        let current: Vec<u64> = {
            let mut v: Vec<u64> = self
                .index
                .values()
                .filter_map(|s| match s {
                    Slot::Open(i) => Some(*i),
                    Slot::Closed(_) => None,
                })
                .collect();
            v.sort_unstable();
            v
        };
        for idx in current {
            self.finish_stream(idx, f);
            self.streams.remove(&idx);
        }
    }
}

impl Stream {
    /// Runs `op` on the flow of `side`, labelling the records it makes with the stream and
    /// direction.
    fn with_flow(
        &mut self,
        side: usize,
        ports: &[u16],
        time: Option<Duration>,
        f: &mut dyn FnMut(Record<'_>),
        op: impl FnOnce(&mut Flow, &mut Contexts, &mut dyn FnMut(Record<'_>)),
    ) {
        let Stream {
            id,
            ends,
            client,
            flows,
            contexts,
            ..
        } = self;
        let Some(flow) = flows.get_mut(side) else {
            return;
        };
        let mut label = |mut rec: Record<'_>| {
            let c = match *client {
                Some(c) => c,
                None => {
                    let kind = match &rec.kind {
                        RecordKind::Frame(fr) => fr.tpdu().map(|t| t.kind()),
                        _ => None,
                    };
                    let c = if kind == Some(TpduKind::Cr) {
                        side
                    } else if kind == Some(TpduKind::Cc) {
                        side ^ 1
                    } else {
                        // The server is the side on a server port (the lower port if both are).
                        let p0 = ends[0].port();
                        let p1 = ends[1].port();
                        let server = match (ports.contains(&p0), ports.contains(&p1)) {
                            (true, false) => 0,
                            (false, true) => 1,
                            _ => usize::from(p1 < p0),
                        };
                        server ^ 1
                    };
                    *client = Some(c);
                    c
                }
            };
            rec.stream = Some(*id);
            rec.time = time;
            rec.direction = if side == c {
                Direction::Client
            } else {
                Direction::Server
            };
            f(rec);
        };
        op(flow, contexts, &mut label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg<'a>(
        from_client: bool,
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &'a [u8],
    ) -> Segment<'a> {
        let c: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let s: SocketAddr = "10.0.0.2:102".parse().unwrap();
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Segment {
            src,
            dst,
            seq,
            ack: flags.contains('A').then_some(ack),
            syn: flags.contains('S'),
            fin: flags.contains('F'),
            rst: false,
            payload,
            time: None,
        }
    }

    /// A stream closed by both FINs is forgotten (its last ACK opens nothing); a new SYN on the
    /// same endpoints is stream 1; records and numbering are those of a tracker that keeps
    /// every stream.
    #[test]
    fn closed_streams_are_retired() {
        let cr = [3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 1, 0];
        let cc = [3, 0, 0, 11, 6, 0xd0, 0, 1, 0, 2, 0];
        let mut t = Tracker::new(vec![102]);
        let mut seen = Vec::new();
        let mut f = |r: Record<'_>| seen.push((r.stream, r.direction, r.offset));
        for (base, _) in [(1000u32, 0), (9000, 1)] {
            t.segment(&seg(true, base, 0, "S", &[]), &mut f);
            t.segment(&seg(false, 5000, base + 1, "SA", &[]), &mut f);
            t.segment(&seg(true, base + 1, 5001, "A", &cr), &mut f);
            t.segment(&seg(false, 5001, base + 12, "A", &cc), &mut f);
            t.segment(&seg(true, base + 12, 5012, "FA", &[]), &mut f);
            t.segment(&seg(false, 5012, base + 13, "FA", &[]), &mut f);
            t.segment(&seg(true, base + 13, 5013, "A", &[]), &mut f);
            if base == 1000 {
                assert!(t.streams.is_empty(), "the closed stream is retired");
            }
        }
        t.finish(&mut f);
        assert_eq!(
            seen,
            [
                (Some(0), Direction::Client, 0),
                (Some(0), Direction::Server, 0),
                (Some(1), Direction::Client, 0),
                (Some(1), Direction::Server, 0),
            ]
        );
        assert!(t.streams.is_empty());
    }
}
