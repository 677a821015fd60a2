// The session-pair fuzz scenario, shared by fuzz_targets/session_pair.rs and
// tests/fuzz_regressions.rs: two `session::Connection`s joined by an in-memory transport (one
// TSDU at a time), driven by operations built with `arbitrary` — connect with any functional
// units, accept or refuse, data, tokens, S-CONTROL-GIVE, activities, minor synchronization,
// exception reports, release, abort, delivery of the next TSDU (optionally with one octet
// changed), arbitrary TSDUs injected, time passing, the transport failing.
// Checked after every step: no panic; every TSDU a machine transmits decodes as SPDUs;
// `Closed` is the last event and nothing follows it; while nothing was corrupted or injected,
// no token is held by both sides at once once the wire is empty, and every S-DATA one side sent
// arrives unchanged and in order at the other.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use osi_stack::cotp::connection::Disconnect;
use osi_stack::session::connection::{Config, ConnectRequest, Connection, Event};
use osi_stack::session::{
    self, ActivityReason, RefuseReason, SessionUserRequirements, TokenItem, TokenSettingItem,
};
use osi_stack::testing::EventLog;

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Side {
    Client,
    Server,
}

#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Connect proposing the functional units `units` (masked to the defined bits) and the token
    /// positions `setting`.
    Connect {
        units: u16,
        setting: u8,
        v1: bool,
    },
    Accept,
    Refuse(u8),
    Data {
        from: Side,
        len: u16,
    },
    GiveTokens {
        from: Side,
        tokens: u8,
    },
    PleaseTokens {
        from: Side,
        tokens: u8,
    },
    GiveControl(Side),
    ActivityStart(Side),
    ActivityEnd(Side),
    ActivityEndResponse(Side),
    ActivityInterrupt(Side),
    ActivityDiscard(Side),
    SyncMinor(Side),
    SyncMinorResponse {
        side: Side,
        serial: u8,
    },
    ExceptionReport(Side),
    Release(Side),
    ReleaseResponse {
        side: Side,
        accept: bool,
    },
    Abort(Side),
    /// Deliver the next `count` TSDUs `from` sent, changing octet `at` of the first to `value`
    /// when `corrupt` is set.
    Deliver {
        from: Side,
        count: u8,
        corrupt: bool,
        at: u16,
        value: u8,
    },
    Inject {
        to: Side,
        tsdu: Vec<u8>,
    },
    Wait {
        secs: u8,
    },
    TransportFailed,
}

#[derive(Arbitrary, Debug)]
pub struct Scenario {
    pub ops: Vec<Op>,
}

struct End {
    conn: Connection,
    wire: VecDeque<Bytes>,
    sent_data: Vec<Bytes>,
    log: EventLog<Event>,
}

impl End {
    fn new(conn: Connection) -> Self {
        End {
            conn,
            wire: VecDeque::new(),
            sent_data: Vec::new(),
            log: EventLog::new(|e| *e == Event::Closed),
        }
    }

    fn drain(&mut self) {
        while let Some(t) = self.conn.poll_transmit() {
            let tsdu = t.to_bytes();
            for s in session::spdus(&tsdu) {
                s.expect("machine sent an undecodable SPDU");
            }
            self.wire.push_back(tsdu);
        }
    }

    fn check(&mut self) {
        // Not a `Machine` (it takes TSDUs): the events are polled here.
        let batch: Vec<Event> = std::iter::from_fn(|| self.conn.poll_event()).collect();
        if let Err(e) = self.log.record(batch, self.conn.is_closed()) {
            panic!("{e}: {:?}", self.log.events);
        }
    }
}

/// What each side saw, in order, and how many S-DATA were checked.
#[derive(Debug, Default)]
pub struct Outcome {
    pub client: Vec<Event>,
    pub server: Vec<Event>,
    pub delivered: usize,
}

const UNITS: u16 = 0x1fff;

pub fn run(s: Scenario) -> Outcome {
    let mut now = Instant::now();
    let config = Config::default();
    let mut client = End::new(Connection::initiator(config.clone()));
    let mut server = End::new(Connection::responder(config));
    client.conn.handle_transport_connected(now);
    server.conn.handle_transport_connected(now);
    let mut clean = true;
    for op in s.ops.into_iter().take(96) {
        match op {
            Op::Connect { units, setting, v1 } => {
                let mut req = ConnectRequest::default().with_requirements(
                    SessionUserRequirements(units & UNITS),
                    Some(TokenSettingItem(setting)).filter(|_| setting != 0),
                );
                if v1 {
                    req = req.with_versions(session::VersionNumber::BOTH);
                }
                let _ = client.conn.connect(req, now);
            }
            Op::Accept => {
                let _ = server.conn.accept(Bytes::new(), now);
            }
            Op::Refuse(r) => {
                let _ = server.conn.refuse(RefuseReason(r), &[], now);
            }
            Op::Data { from, len } => {
                let end = pick(&mut client, &mut server, from);
                let data: Bytes = (0..usize::from(len & 0x3fff))
                    .map(|i| i as u8)
                    .collect::<Vec<u8>>()
                    .into();
                if end.conn.send_data(data.clone(), now).is_ok() {
                    end.sent_data.push(data);
                }
            }
            Op::GiveTokens { from, tokens } => {
                let _ = pick(&mut client, &mut server, from)
                    .conn
                    .give_tokens(TokenItem(tokens & 0x55), now);
            }
            Op::PleaseTokens { from, tokens } => {
                let _ = pick(&mut client, &mut server, from).conn.please_tokens(
                    TokenItem(tokens & 0x55),
                    &[],
                    now,
                );
            }
            Op::GiveControl(from) => {
                let _ = pick(&mut client, &mut server, from).conn.give_control(now);
            }
            Op::ActivityStart(from) => {
                let _ = pick(&mut client, &mut server, from)
                    .conn
                    .activity_start(b"act1", now);
            }
            Op::ActivityEnd(from) => {
                let _ = pick(&mut client, &mut server, from).conn.activity_end(now);
            }
            Op::ActivityEndResponse(from) => {
                let _ = pick(&mut client, &mut server, from)
                    .conn
                    .activity_end_response(now);
            }
            Op::ActivityInterrupt(from) => {
                let _ = pick(&mut client, &mut server, from)
                    .conn
                    .activity_interrupt(ActivityReason(0), now);
            }
            Op::ActivityDiscard(from) => {
                let _ = pick(&mut client, &mut server, from)
                    .conn
                    .activity_discard(ActivityReason(0), now);
            }
            Op::SyncMinor(from) => {
                let _ = pick(&mut client, &mut server, from).conn.sync_minor(now);
            }
            Op::SyncMinorResponse { side, serial } => {
                let _ = pick(&mut client, &mut server, side)
                    .conn
                    .sync_minor_response(u64::from(serial), now);
            }
            Op::ExceptionReport(from) => {
                let _ = pick(&mut client, &mut server, from).conn.exception_report(
                    ActivityReason(0),
                    &[],
                    now,
                );
            }
            Op::Release(from) => {
                let _ = pick(&mut client, &mut server, from).conn.release(&[], now);
            }
            Op::ReleaseResponse { side, accept } => {
                let _ =
                    pick(&mut client, &mut server, side)
                        .conn
                        .release_response(accept, &[], now);
            }
            Op::Abort(from) => {
                let _ = pick(&mut client, &mut server, from).conn.abort(&[], now);
            }
            Op::Deliver {
                from,
                count,
                corrupt,
                at,
                value,
            } => {
                let (a, b) = match from {
                    Side::Client => (&mut client, &mut server),
                    Side::Server => (&mut server, &mut client),
                };
                for i in 0..usize::from(count % 8).max(1) {
                    let Some(tsdu) = a.wire.pop_front() else {
                        break;
                    };
                    let tsdu = if i == 0 && corrupt && !tsdu.is_empty() {
                        let mut v = tsdu.to_vec();
                        let j = usize::from(at) % v.len();
                        if v[j] != value {
                            v[j] = value;
                            clean = false;
                        }
                        Bytes::from(v)
                    } else {
                        tsdu
                    };
                    b.conn.handle_tsdu(tsdu, now);
                }
            }
            Op::Inject { to, tsdu } => {
                clean = false;
                pick(&mut client, &mut server, to)
                    .conn
                    .handle_tsdu(Bytes::from(tsdu), now);
            }
            Op::Wait { secs } => {
                now += Duration::from_secs(u64::from(secs % 64));
                client.conn.handle_timeout(now);
                server.conn.handle_timeout(now);
            }
            Op::TransportFailed => {
                clean = false;
                client
                    .conn
                    .handle_transport_disconnected(Disconnect::TransportClosed, now);
                server
                    .conn
                    .handle_transport_disconnected(Disconnect::TransportClosed, now);
            }
        }
        client.drain();
        server.drain();
        client.check();
        server.check();
        if clean
            && client.wire.is_empty()
            && server.wire.is_empty()
            && client.conn.is_open()
            && server.conn.is_open()
        {
            let (a, b) = (client.conn.tokens(), server.conn.tokens());
            assert_eq!(a.0 & b.0, 0, "both sides hold tokens {:#04x}", a.0 & b.0);
        }
    }
    let mut delivered = 0;
    if clean {
        for (rx, tx) in [(&client, &server), (&server, &client)] {
            let mut expected = tx.sent_data.iter();
            for e in &rx.log.events {
                if let Event::Data(d) = e {
                    assert_eq!(
                        Some(d),
                        expected.next(),
                        "S-DATA arrived changed or was never sent"
                    );
                    delivered += 1;
                }
            }
        }
    }
    Outcome {
        client: client.log.events,
        server: server.log.events,
        delivered,
    }
}

fn pick<'a>(client: &'a mut End, server: &'a mut End, side: Side) -> &'a mut End {
    match side {
        Side::Client => client,
        Side::Server => server,
    }
}
