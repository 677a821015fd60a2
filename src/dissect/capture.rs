//! Reading pcap and pcapng files and taking the TCP segment out of each packet (feature `pcap`).
//!
//! ```no_run
//! use osi_stack::dissect::{Tracker, capture};
//! let mut tracker = Tracker::new(vec![102]);
//! let mut print = |r: osi_stack::dissect::Record<'_>| println!("{} {:?}", r.offset, r.error());
//! capture::for_each_segment("mms.pcap".as_ref(), |seg| tracker.segment(&seg, &mut print))?;
//! tracker.finish(&mut print);
//! # Ok::<(), osi_stack::dissect::capture::CaptureError>(())
//! ```

use core::fmt;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError, create_reader};

use super::Segment;

/// Initial size of the capture reader's buffer.
pub const BUFFER: usize = 1 << 20;
/// Largest buffer the reader may grow to for one block (pcapng blocks can be large).
pub const MAX_BUFFER: usize = 64 << 20;

/// The TCP segment in a packet of link type `linktype`, if there is one.
fn segment(linktype: Linktype, data: &[u8], time: Option<Duration>) -> Option<Segment<'_>> {
    let packet = match linktype {
        Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok()?,
        // BSD loopback: a 4-octet address family in host (NULL) or network (LOOP) order.
        Linktype::NULL | Linktype::LOOP => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        Linktype::LINUX_SLL => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?)
        }
        Linktype::LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?)
        }
        // RAW, IPV4, IPV6, and the BSD values of DLT_RAW.
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 | Linktype(12) | Linktype(14) => {
            LaxSlicedPacket::from_ip(data).ok()?
        }
        _ => return None,
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match packet.net.as_ref()? {
        LaxNetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        LaxNetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
    };
    let Some(TransportSlice::Tcp(tcp)) = packet.transport.as_ref() else {
        return None;
    };
    Some(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
        time,
    })
}

/// What was wrong with a capture block, as the reader said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockProblem {
    /// The block did not parse (the parser's error kind).
    Parse(pcap_parser::nom::error::ErrorKind),
    /// The end of the file.
    Eof,
    /// A block larger than the reader's buffer.
    TooLarge,
    /// The file ended inside a block.
    UnexpectedEof,
    /// Reading the file failed.
    Read,
    /// More octets were needed.
    Incomplete,
    /// The file header is not that of a pcap or pcapng file.
    HeaderNotRecognized,
}

impl fmt::Display for BlockProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockProblem::Parse(kind) => write!(f, "parse error {kind:?}"),
            BlockProblem::Eof => f.write_str("end of file"),
            BlockProblem::TooLarge => f.write_str("block too large"),
            BlockProblem::UnexpectedEof => f.write_str("unexpected end of file"),
            BlockProblem::Read => f.write_str("read error"),
            BlockProblem::Incomplete => f.write_str("incomplete"),
            BlockProblem::HeaderNotRecognized => f.write_str("header not recognized"),
        }
    }
}

fn describe<I>(e: &PcapError<I>) -> BlockProblem {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            BlockProblem::Parse(*kind)
        }
        PcapError::Eof => BlockProblem::Eof,
        PcapError::BufferTooSmall => BlockProblem::TooLarge,
        PcapError::UnexpectedEof => BlockProblem::UnexpectedEof,
        PcapError::ReadError => BlockProblem::Read,
        PcapError::Incomplete(_) => BlockProblem::Incomplete,
        PcapError::HeaderNotRecognized => BlockProblem::HeaderNotRecognized,
    }
}

/// Why a capture could not be read (to the end). The messages do not name the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Opening the file failed.
    #[error("{0}")]
    Open(#[from] std::io::Error),
    /// The file is empty.
    #[error("empty file")]
    Empty,
    /// The file is not a pcap or pcapng file.
    #[error("not a pcap or pcapng file{}", match .0 { Some(p) => format!(" ({p})"), None => String::new() })]
    NotACapture(Option<BlockProblem>),
    /// A block is larger than [`MAX_BUFFER`] octets.
    #[error("block larger than {MAX_BUFFER} octets")]
    BlockTooLarge,
    /// Refilling the reader's buffer failed.
    #[error("{0}")]
    Refill(BlockProblem),
    /// The file ends inside a block.
    #[error("capture truncated in the middle of a block")]
    Truncated,
    /// A block could not be read.
    #[error("bad capture block ({0})")]
    BadBlock(BlockProblem),
}

/// A pcapng timestamp: `units` per second since `offset` seconds after the epoch.
fn ng_time(high: u32, low: u32, units: u64, offset: i64) -> Option<Duration> {
    let ts = u64::from(high) << 32 | u64::from(low);
    let secs = ts.checked_div(units)?;
    let frac = u128::from(ts.checked_rem(units)?);
    let nanos = frac
        .checked_mul(1_000_000_000)?
        .checked_div(u128::from(units))?;
    let secs = secs.checked_add_signed(offset)?;
    Some(Duration::new(secs, u32::try_from(nanos).ok()?))
}

/// Reads every packet of the pcap or pcapng file at `path`, in file order, and calls `on_segment`
/// with the TCP segment of each packet that has one (link types Ethernet, Linux cooked v1/v2,
/// BSD loopback, raw IP). Stops at the first unreadable block; the error says why (the packets
/// before it have been handed over). Memory: one reader buffer of at most [`MAX_BUFFER`] octets.
pub fn for_each_segment(
    path: &Path,
    mut on_segment: impl FnMut(Segment<'_>),
) -> Result<(), CaptureError> {
    for_each_packet(path, |linktype, data, time| {
        if let Some(seg) = segment(linktype, data, time) {
            on_segment(seg);
        }
    })
}

/// [`for_each_segment`] over a capture read from `input` (standard input, a pipe …), in one
/// pass.
pub fn for_each_segment_in(
    input: impl std::io::Read,
    mut on_segment: impl FnMut(Segment<'_>),
) -> Result<(), CaptureError> {
    for_each_packet_in(input, |linktype, data, time| {
        if let Some(seg) = segment(linktype, data, time) {
            on_segment(seg);
        }
    })
}

fn for_each_packet(
    path: &Path,
    on_packet: impl FnMut(Linktype, &[u8], Option<Duration>),
) -> Result<(), CaptureError> {
    for_each_packet_in(File::open(path)?, on_packet)
}

fn for_each_packet_in(
    input: impl std::io::Read,
    mut on_packet: impl FnMut(Linktype, &[u8], Option<Duration>),
) -> Result<(), CaptureError> {
    let mut reader = match create_reader(BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Err(CaptureError::Empty),
        Err(PcapError::HeaderNotRecognized) => return Err(CaptureError::NotACapture(None)),
        Err(e) => return Err(CaptureError::NotACapture(Some(describe(&e)))),
    };
    let mut capacity = BUFFER;
    let mut legacy: Option<Linktype> = None;
    let mut nanos = false;
    // Per interface: link type, timestamp units per second, offset in seconds.
    let mut interfaces: Vec<(Linktype, Option<u64>, i64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = Some(h.network);
                        nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        if let Some(lt) = legacy {
                            let sub = if nanos {
                                b.ts_usec
                            } else {
                                b.ts_usec.saturating_mul(1000)
                            };
                            let time = (sub < 1_000_000_000)
                                .then(|| Duration::new(u64::from(b.ts_sec), sub));
                            on_packet(lt, b.data, time);
                        }
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push((idb.linktype, idb.ts_resolution(), idb.ts_offset()));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = usize::try_from(epb.if_id)
                            .ok()
                            .and_then(|i| interfaces.get(i));
                        if let Some(&(lt, res, off)) = lt {
                            let time = res.and_then(|r| ng_time(epb.ts_high, epb.ts_low, r, off));
                            on_packet(lt, epb.packet_data(), time);
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        if let Some(&(lt, _, _)) = interfaces.first() {
                            on_packet(lt, spb.packet_data(), None);
                        }
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(consumed);
            }
            Err(PcapError::Eof) => return Ok(()),
            Err(PcapError::Incomplete(_)) => {
                reader
                    .refill()
                    .map_err(|e| CaptureError::Refill(describe(&e)))?;
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity >= MAX_BUFFER || !reader.grow(capacity.saturating_mul(2)) {
                    return Err(CaptureError::BlockTooLarge);
                }
                capacity = capacity.saturating_mul(2);
                reader
                    .refill()
                    .map_err(|e| CaptureError::Refill(describe(&e)))?;
            }
            Err(PcapError::UnexpectedEof) => {
                return Err(CaptureError::Truncated);
            }
            Err(e) => return Err(CaptureError::BadBlock(describe(&e))),
        }
    }
}
