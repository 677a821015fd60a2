// The association fuzz scenario, shared by fuzz_targets/association.rs and by
// tests/fuzz_regressions.rs: an initiator and a responder wired back to back, driven by a
// sequence of operations built with `arbitrary` — service requests on either side, delivery of
// what one side sent (cut into chunks, optionally with one octet changed), raw bytes injected,
// time passing, the transport closing. Checked after every step: no panic; every octet either
// machine transmits is a well-formed TPKT frame with a decodable TPDU, and every TSDU its DTs
// carry decodes as SPDUs (the machine never emits an invalid PDU); buffered input stays within
// `Limits`; a closed machine stays closed and emits nothing more.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use osi_stack::address::TSel;
use osi_stack::association::{
    AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event, Selector, Service,
};
use osi_stack::cotp::Tpdu;
use osi_stack::presentation::ContextId;
use osi_stack::session;
use osi_stack::testing::EventLog;
use osi_stack::tpkt::{self, Tpkt};

/// The MMS context `AssociateRequest::mms` proposes.
const MMS_CONTEXT: ContextId = ContextId::new(3).unwrap();

#[derive(Arbitrary, Debug)]
pub enum Side {
    Client,
    Server,
}

#[derive(Arbitrary, Debug)]
pub enum Op {
    Associate {
        called_tsel: u8,
    },
    Accept,
    Reject,
    SendData {
        context: u8,
        len: u16,
    },
    Release,
    ReleaseResponse(bool),
    Abort(Side),
    ServerSend {
        len: u16,
    },
    ServerRelease,
    /// Deliver what `from` has sent to the other side in chunks of `chunk`, changing octet
    /// `at` (modulo the length) to `value` when `corrupt` is set.
    Deliver {
        from: Side,
        chunk: u16,
        corrupt: bool,
        at: u16,
        value: u8,
    },
    Inject {
        to: Side,
        bytes: Vec<u8>,
    },
    Wait {
        side: Side,
        secs: u8,
    },
    TransportClosed(Side),
}

#[derive(Arbitrary, Debug)]
pub struct Scenario {
    pub client_tpdu_exp: u8,
    pub server_tpdu_exp: u8,
    pub with_services: bool,
    pub ops: Vec<Op>,
}

/// Checks what `a` transmitted and returns it.
fn drain(a: &mut Association, reassembly: &mut Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = a.poll_transmit() {
        out.extend_from_slice(&b);
    }
    let mut rest = &out[..];
    while !rest.is_empty() {
        let (frame, r) = Tpkt::decode(rest).expect("machine sent a bad TPKT frame");
        rest = r;
        let tpdu = Tpdu::decode(frame.payload).expect("machine sent an undecodable TPDU");
        if let Tpdu::Dt(dt) = tpdu {
            reassembly.extend_from_slice(dt.user_data);
            if dt.eot {
                for s in session::spdus(reassembly) {
                    s.expect("machine sent an undecodable SPDU");
                }
                reassembly.clear();
            }
        }
    }
    out
}

fn check(a: &mut Association, log: &mut EventLog<Event>, config: &Config) {
    if let Err(e) = log.collect(a) {
        panic!("{e}: {:?}", log.events);
    }
    assert!(
        a.buffered_input() <= config.limits.max_tsdu + tpkt::MAX_LEN,
        "buffered {} octets",
        a.buffered_input()
    );
}

/// Every event each side gave, in order.
#[derive(Debug, Default)]
pub struct Outcome {
    pub client: Vec<Event>,
    pub server: Vec<Event>,
}

pub fn run(s: Scenario) -> Outcome {
    let start = Instant::now();
    let mut now = start;
    let client_config = Config::default()
        .with_tpdu_size(1usize << (7 + s.client_tpdu_exp % 7))
        .with_response_timeout(Duration::from_secs(5));
    let server_config = Config::default()
        .with_tpdu_size(1usize << (7 + s.server_tpdu_exp % 7))
        .with_limits(osi_stack::Limits::DEFAULT.with_max_tsdu(100_000));
    let dispatch = if s.with_services {
        Dispatch::new(vec![
            Service::new("one").with_tsel(Selector::Is(TSel::new(&[1]).unwrap())),
            Service::new("two").with_tsel(Selector::Is(TSel::new(&[2]).unwrap())),
        ])
    } else {
        Dispatch::default()
    };
    let mut client = Association::initiator(client_config.clone());
    let mut server = Association::responder(server_config.clone(), dispatch, None);
    let closed = |e: &Event| *e == Event::Closed;
    let (mut c_log, mut s_log) = (EventLog::new(closed), EventLog::new(closed));
    let (mut c_tx, mut s_tx) = (Vec::new(), Vec::new());
    let (mut c_re, mut s_re) = (Vec::new(), Vec::new());
    for op in s.ops.into_iter().take(64) {
        match op {
            Op::Associate { called_tsel } => {
                let req = AssociateRequest::mms().with_called_selectors(
                    Some(TSel::new(&[called_tsel % 4]).unwrap()),
                    None,
                    None,
                );
                let _ = client.associate(req, now);
            }
            Op::Accept => {
                let _ = server.accept(AcceptResponse::default(), now);
            }
            Op::Reject => {
                let _ = server.reject(now);
            }
            Op::SendData { context, len } => {
                // At most 16 KiB a message: with one-octet delivery a scenario stays well under
                // libFuzzer's 1 s per input.
                let len = len & 0x3fff;
                let mut v = vec![0x04, 0x82, (len >> 8) as u8, len as u8];
                v.resize(4 + usize::from(len), 0x5a);
                // Context 0 is no identifier (the request could not be made); 1 is ACSE's, 2
                // was never proposed: both refused with `UnknownContext`.
                if let Some(context) = ContextId::new(i64::from(context % 4)) {
                    let _ = client.send_data(context, &v, now);
                }
            }
            Op::ServerSend { len } => {
                let len = len & 0x3fff;
                let mut v = vec![0x04, 0x82, (len >> 8) as u8, len as u8];
                v.resize(4 + usize::from(len), 0xa5);
                let _ = server.send_data(MMS_CONTEXT, &v, now);
            }
            Op::Release => {
                let _ = client.release(now);
            }
            Op::ServerRelease => {
                let _ = server.release(now);
            }
            Op::ReleaseResponse(accept) => {
                let _ = server.release_response(accept, now);
                let _ = client.release_response(accept, now);
            }
            Op::Abort(Side::Client) => {
                let _ = client.abort(now);
            }
            Op::Abort(Side::Server) => {
                let _ = server.abort(now);
            }
            Op::Deliver {
                from,
                chunk,
                corrupt,
                at,
                value,
            } => {
                let (buf, to) = match from {
                    Side::Client => (&mut c_tx, &mut server),
                    Side::Server => (&mut s_tx, &mut client),
                };
                let mut bytes = std::mem::take(buf);
                if corrupt && !bytes.is_empty() {
                    let i = usize::from(at) % bytes.len();
                    bytes[i] = value;
                }
                for piece in bytes.chunks(usize::from(chunk).max(1)) {
                    to.handle_input(piece, now);
                }
            }
            Op::Inject {
                to: Side::Client,
                bytes,
            } => client.handle_input(&bytes, now),
            Op::Inject {
                to: Side::Server,
                bytes,
            } => server.handle_input(&bytes, now),
            Op::Wait { side, secs } => {
                now += Duration::from_secs(u64::from(secs));
                match side {
                    Side::Client => client.handle_timeout(now),
                    Side::Server => server.handle_timeout(now),
                }
            }
            Op::TransportClosed(Side::Client) => client.handle_transport_closed(now),
            Op::TransportClosed(Side::Server) => server.handle_transport_closed(now),
        }
        c_tx.extend(drain(&mut client, &mut c_re));
        s_tx.extend(drain(&mut server, &mut s_re));
        check(&mut client, &mut c_log, &client_config);
        check(&mut server, &mut s_log, &server_config);
    }
    Outcome {
        client: c_log.events,
        server: s_log.events,
    }
}
