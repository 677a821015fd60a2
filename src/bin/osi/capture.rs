//! Reading pcap and pcapng files and taking the TCP segment out of each packet.

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError, create_reader};

/// Initial size of the capture reader's buffer.
const BUFFER: usize = 1 << 20;
/// Largest buffer the reader may grow to for one block (pcapng blocks can be large).
const MAX_BUFFER: usize = 64 << 20;

/// One TCP segment.
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
}

/// The TCP segment in a packet of link type `linktype`, if there is one.
pub fn segment(linktype: Linktype, data: &[u8]) -> Option<Segment<'_>> {
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
    })
}

/// A short description of a reader error (without the input octets nom errors carry).
fn describe<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("parse error {kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("parse error {kind:?}"),
        PcapError::Eof => "end of file".to_owned(),
        PcapError::BufferTooSmall => "block too large".to_owned(),
        PcapError::UnexpectedEof => "unexpected end of file".to_owned(),
        PcapError::ReadError => "read error".to_owned(),
        PcapError::Incomplete(_) => "incomplete".to_owned(),
        PcapError::HeaderNotRecognized => "header not recognized".to_owned(),
    }
}

/// Reads every packet of the pcap or pcapng file at `path`, in file order, calling `on_packet`
/// with its link type and data. Stops at the first unreadable block; the error says why (the
/// packets before it have been handed over).
pub fn read(path: &Path, mut on_packet: impl FnMut(Linktype, &[u8])) -> Result<(), String> {
    let name = path.display();
    let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut reader = match create_reader(BUFFER, file) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Err(format!("{name}: empty file")),
        Err(PcapError::HeaderNotRecognized) => {
            return Err(format!("{name}: not a pcap or pcapng file"));
        }
        Err(e) => {
            return Err(format!(
                "{name}: not a pcap or pcapng file ({})",
                describe(&e)
            ));
        }
    };
    let mut capacity = BUFFER;
    let mut legacy: Option<Linktype> = None;
    let mut interfaces: Vec<Linktype> = Vec::new();
    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy = Some(h.network),
                    PcapBlockOwned::Legacy(b) => {
                        if let Some(lt) = legacy {
                            on_packet(lt, b.data);
                        }
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(idb.linktype);
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = usize::try_from(epb.if_id)
                            .ok()
                            .and_then(|i| interfaces.get(i));
                        if let Some(&lt) = lt {
                            on_packet(lt, epb.packet_data());
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        if let Some(&lt) = interfaces.first() {
                            on_packet(lt, spb.packet_data());
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
                    .map_err(|e| format!("{name}: {}", describe(&e)))?;
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity >= MAX_BUFFER || !reader.grow(capacity.saturating_mul(2)) {
                    return Err(format!("{name}: block larger than {MAX_BUFFER} octets"));
                }
                capacity = capacity.saturating_mul(2);
                reader
                    .refill()
                    .map_err(|e| format!("{name}: {}", describe(&e)))?;
            }
            Err(PcapError::UnexpectedEof) => {
                return Err(format!(
                    "{name}: capture truncated in the middle of a block"
                ));
            }
            Err(e) => return Err(format!("{name}: bad capture block ({})", describe(&e))),
        }
    }
}
