// The COTP-pair fuzz scenario, shared by fuzz_targets/cotp_pair.rs and tests/fuzz_regressions.rs:
// two `cotp::Connection`s (initiator and responder) wired back to back, driven by operations
// built with `arbitrary` — connect, accept, refuse, TSDUs of any size on either side, delivery in
// chunks (optionally with one octet changed), raw bytes injected, time passing, TCP closing.
// Checked after every step: no panic; every octet a machine transmits is a well-formed TPKT frame
// carrying a decodable TPDU no larger than the negotiated TPDU size; buffered input stays within
// `Limits`; `Closed` is the last event and nothing follows it; and, while nothing was corrupted
// or injected, every TSDU one side sent arrives whole, in order, at the other (no data lost).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use osi_stack::Limits;
use osi_stack::address::TSel;
use osi_stack::cotp::connection::{Config, ConnectRequest, Connection, Event};
use osi_stack::cotp::{DisconnectReason, Tpdu};
use osi_stack::testing::EventLog;
use osi_stack::tpkt::{self, Tpkt};

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Side {
    Client,
    Server,
}

#[derive(Arbitrary, Debug)]
pub enum Op {
    Connect {
        called_tsel: u8,
    },
    Accept,
    Refuse(u8),
    /// A TSDU of `len` octets (at most 64 KiB) from `from`, as one buffer or in `parts` pieces.
    Send {
        from: Side,
        len: u16,
        parts: u8,
    },
    Disconnect(Side),
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
    TransportClosed,
}

#[derive(Arbitrary, Debug)]
pub struct Scenario {
    pub client_tpdu_exp: u8,
    pub server_tpdu_exp: u8,
    pub ops: Vec<Op>,
}

struct End {
    conn: Connection,
    limits: Limits,
    /// Octets sent and not yet delivered.
    wire: Vec<u8>,
    /// Octets sent that do not yet make a whole frame.
    unchecked: Vec<u8>,
    /// TSDUs this side sent that the other side has not yet received.
    in_flight: VecDeque<Bytes>,
    log: EventLog<Event>,
}

impl End {
    fn new(conn: Connection, limits: Limits) -> Self {
        End {
            conn,
            limits,
            wire: Vec::new(),
            unchecked: Vec::new(),
            in_flight: VecDeque::new(),
            log: EventLog::new(|e| *e == Event::Closed),
        }
    }

    /// Collects what the machine transmitted (a transmit may be part of a frame: header and
    /// body go out separately) and checks every complete frame.
    fn drain(&mut self) {
        let size = self.conn.tpdu_size();
        while let Some(b) = self.conn.poll_transmit() {
            self.wire.extend_from_slice(&b);
            self.unchecked.extend_from_slice(&b);
        }
        let mut rest = &self.unchecked[..];
        while rest.len() >= 4 {
            let Ok((frame, r)) = Tpkt::decode(rest) else {
                let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                assert!(
                    rest[0] == 3 && len >= 7,
                    "machine sent a bad TPKT header {:02x?}",
                    &rest[..4]
                );
                break; // incomplete: the rest follows in a later transmit
            };
            rest = r;
            let tpdu = Tpdu::decode(frame.payload).expect("machine sent an undecodable TPDU");
            if let (Tpdu::Dt(_), Some(size)) = (&tpdu, size) {
                assert!(
                    frame.payload.len() <= size,
                    "DT of {} octets over the TPDU size {size}",
                    frame.payload.len()
                );
            }
        }
        let done = self.unchecked.len() - rest.len();
        self.unchecked.drain(..done);
    }

    fn check(&mut self) {
        if let Err(e) = self.log.collect(&mut self.conn) {
            panic!("{e}: {:?}", self.log.events);
        }
        assert!(
            self.conn.buffered_input() <= self.limits.max_tsdu + tpkt::MAX_LEN,
            "buffered {} octets",
            self.conn.buffered_input()
        );
    }
}

/// What each side saw, in order.
#[derive(Debug, Default)]
pub struct Outcome {
    pub client: Vec<Event>,
    pub server: Vec<Event>,
    /// TSDUs delivered intact while the wire was clean.
    pub delivered: usize,
}

fn payload(len: u16, fill: u8) -> Bytes {
    (0..usize::from(len))
        .map(|i| fill ^ (i as u8))
        .collect::<Vec<u8>>()
        .into()
}

pub fn run(s: Scenario) -> Outcome {
    let mut now = Instant::now();
    let limits = Limits::DEFAULT.with_max_tsdu(70_000);
    let mut client = End::new(
        Connection::initiator(
            Config::default()
                .with_tpdu_size(1usize << (7 + s.client_tpdu_exp % 7))
                .with_limits(limits)
                .with_timeouts(Duration::from_secs(5), Some(Duration::from_secs(20))),
        ),
        limits,
    );
    let mut server = End::new(
        Connection::responder(
            Config::default()
                .with_tpdu_size(1usize << (7 + s.server_tpdu_exp % 7))
                .with_limits(limits)
                .with_timeouts(Duration::from_secs(5), Some(Duration::from_secs(20))),
        ),
        limits,
    );
    server.conn.handle_transport_accepted(now);
    let mut clean = true;
    let mut delivered = 0;
    for op in s.ops.into_iter().take(64) {
        match op {
            Op::Connect { called_tsel } => {
                let req = ConnectRequest::default()
                    .with_calling_tsel(TSel::new(&[0x01, 0x00]).unwrap())
                    .with_called_tsel(TSel::new(&[called_tsel]).unwrap());
                let _ = client.conn.connect(&req, now);
            }
            Op::Accept => {
                let _ = server.conn.accept(now);
            }
            Op::Refuse(r) => {
                let _ = server.conn.refuse(DisconnectReason(r), now);
            }
            Op::Send { from, len, parts } => {
                let end = match from {
                    Side::Client => &mut client,
                    Side::Server => &mut server,
                };
                let data = payload(len, 0x5a);
                let n = usize::from(parts % 4);
                let sent = if n <= 1 {
                    end.conn.send(data.clone(), now)
                } else {
                    let step = data.len() / n + 1;
                    let pieces: Vec<Bytes> = (0..data.len())
                        .step_by(step)
                        .map(|i| data.slice(i..(i + step).min(data.len())))
                        .collect();
                    end.conn.send_parts(&pieces, now)
                };
                if sent.is_ok() {
                    end.in_flight.push_back(data);
                }
            }
            Op::Disconnect(side) => match side {
                Side::Client => client.conn.disconnect(now),
                Side::Server => server.conn.disconnect(now),
            },
            Op::Deliver {
                from,
                chunk,
                corrupt,
                at,
                value,
            } => {
                let (a, b) = match from {
                    Side::Client => (&mut client, &mut server),
                    Side::Server => (&mut server, &mut client),
                };
                let mut bytes = std::mem::take(&mut a.wire);
                if corrupt && !bytes.is_empty() {
                    let i = usize::from(at) % bytes.len();
                    if bytes[i] != value {
                        bytes[i] = value;
                        clean = false;
                    }
                }
                let chunk = usize::from(chunk).max(1);
                for piece in bytes.chunks(chunk) {
                    b.conn.handle_input(piece, now);
                }
            }
            Op::Inject { to, bytes } => {
                let end = match to {
                    Side::Client => &mut client,
                    Side::Server => &mut server,
                };
                if !bytes.is_empty() {
                    clean = false;
                }
                end.conn.handle_input(&bytes, now);
            }
            Op::Wait { side, secs } => {
                now += Duration::from_secs(u64::from(secs % 32));
                match side {
                    Side::Client => client.conn.handle_timeout(now),
                    Side::Server => server.conn.handle_timeout(now),
                }
            }
            Op::TransportClosed => {
                clean = false;
                client.conn.handle_transport_closed(now);
                server.conn.handle_transport_closed(now);
            }
        }
        client.drain();
        server.drain();
        client.check();
        server.check();
    }
    // No data lost or changed: what each side received is a prefix of what the other sent.
    if clean {
        for (rx, tx) in [(&client, &server), (&server, &client)] {
            let mut expected = tx.in_flight.iter();
            for e in &rx.log.events {
                if let Event::Tsdu(t) = e {
                    let want = expected.next().expect("a TSDU arrived that was never sent");
                    assert_eq!(t, want, "a TSDU arrived changed");
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
