//! The class-0 transport machine alone (no session above it), as S7 and RDP tools use it: two
//! `cotp::Connection`s back to back through `testing::Pair` move TSDUs of 0 to 64 KiB byte-exact
//! for every TPDU size class 0 can negotiate and for any chunking of the TCP stream, and the wire
//! between them is checked frame by frame with the TPKT and COTP decoders (the independent check
//! against a real peer, python-snap7, is `tests/interop.rs`).

use std::time::Duration;

use bytes::Bytes;
use osi_stack::address::TSel;
use osi_stack::cotp::connection::{
    Config, ConnectRequest, Connection, Disconnect, Event, Phase, Wait,
};
use osi_stack::cotp::{Tpdu, class0};
use osi_stack::testing::Pair;
use osi_stack::tpkt::Tpkt;

type CotpPair = Pair<Connection, Connection>;

/// Opens a pair whose initiator proposes `proposed` octets and whose responder accepts at most
/// `accepted`; returns the pair and the TPDU size both sides report.
fn open(proposed: usize, accepted: usize, chunk: usize) -> (CotpPair, usize) {
    let mut p = Pair::new(
        Connection::initiator(Config::default().with_tpdu_size(proposed)),
        Connection::responder(Config::default().with_tpdu_size(accepted)),
    );
    p.chunk = chunk;
    let now = p.now;
    let request = ConnectRequest::default()
        .with_calling_tsel(TSel::new(&[0x01, 0x00]).unwrap())
        .with_called_tsel(TSel::new(&[0x01, 0x02]).unwrap());
    p.client.connect(&request, now).unwrap();
    p.c2s();
    let ind = p.server_events();
    let [Event::ConnectIndication(ind)] = ind.as_slice() else {
        panic!("{ind:?}")
    };
    assert_eq!(ind.calling_tsel.as_deref(), Some(&[0x01, 0x00][..]));
    assert_eq!(ind.called_tsel.as_deref(), Some(&[0x01, 0x02][..]));
    p.server.accept(now).unwrap();
    p.s2c();
    let ev = p.client_events();
    let [Event::Connected(c)] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    assert!(matches!(
        p.server_events().as_slice(),
        [Event::Connected(s)] if s.tpdu_size == c.tpdu_size
    ));
    assert_eq!(p.client.tpdu_size(), Some(c.tpdu_size));
    let size = c.tpdu_size;
    (p, size)
}

/// Checks every frame of `wire` with the TPKT and COTP decoders: each a DT of at most `size`
/// octets (TPKT header excluded), EOT on the last only; returns the user data joined.
fn check_dts(wire: &[u8], size: usize) -> Vec<u8> {
    let mut rest = wire;
    let mut data = Vec::new();
    let mut eot_seen = false;
    while !rest.is_empty() {
        assert!(!eot_seen, "a DT after the EOT");
        let (frame, tail) = Tpkt::decode(rest).unwrap();
        rest = tail;
        assert!(
            frame.payload.len() <= size,
            "{} > {size}",
            frame.payload.len()
        );
        let Tpdu::Dt(dt) = Tpdu::decode(frame.payload).unwrap() else {
            panic!("not a DT")
        };
        class0::check_dt(&dt).unwrap();
        data.extend_from_slice(dt.user_data);
        eot_seen = dt.eot;
    }
    assert!(eot_seen, "no EOT");
    data
}

/// A TSDU whose octets depend on their position (a misplaced segment shows).
fn tsdu(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

const SIZES: [usize; 12] = [
    0, 1, 2, 124, 125, 126, 1021, 4096, 8189, 8190, 40_000, 65_536,
];

#[test]
fn tsdus_of_0_to_64k_for_every_tpdu_size() {
    for octets in [128, 256, 512, 1024, 2048, 4096, 8192] {
        let (mut p, size) = open(octets, 8192, 0);
        assert_eq!(size, octets);
        let now = p.now;
        for &len in &SIZES {
            let sent = tsdu(len);
            p.client.send(sent.clone(), now).unwrap();
            let wire = p.c2s();
            assert_eq!(check_dts(&wire, size), sent, "{len} octets, TPDU {size}");
            let ev = p.server_events();
            assert!(
                matches!(ev.as_slice(), [Event::Tsdu(t)] if *t == sent),
                "{len} octets, TPDU {size}: {} events",
                ev.len()
            );
            // And back, as parts (a header and a body, the way a layer above sends).
            let (head, body) = sent.split_at(len.min(7));
            p.server
                .send_parts(
                    &[Bytes::copy_from_slice(head), Bytes::copy_from_slice(body)],
                    now,
                )
                .unwrap();
            let wire = p.s2c();
            assert_eq!(check_dts(&wire, size), sent);
            assert!(matches!(p.client_events().as_slice(), [Event::Tsdu(t)] if *t == sent));
        }
        assert_eq!(p.client.buffered_input(), 0);
        assert_eq!(p.server.buffered_input(), 0);
    }
}

#[test]
fn any_chunking_of_the_stream_gives_the_same_tsdus() {
    for chunk in [1, 3, 4, 5, 7, 128, 1000] {
        let (mut p, size) = open(1024, 1024, chunk);
        assert_eq!(size, 1024);
        let now = p.now;
        for &len in &[0, 1, 1021, 1022, 5000] {
            let sent = tsdu(len);
            p.client.send(sent.clone(), now).unwrap();
            p.c2s();
            let ev = p.server_events();
            assert!(
                matches!(ev.as_slice(), [Event::Tsdu(t)] if *t == sent),
                "chunk {chunk}, {len} octets"
            );
        }
    }
}

#[test]
fn the_responder_lowers_the_tpdu_size() {
    let (mut p, size) = open(8192, 1024, 0);
    assert_eq!(size, 1024);
    let now = p.now;
    p.client.send(tsdu(3000), now).unwrap();
    let wire = p.c2s();
    assert_eq!(check_dts(&wire, 1024).len(), 3000);
}

#[test]
fn a_tsdu_left_unfinished_times_out() {
    let (mut p, _) = open(128, 128, 0);
    let now = p.now;
    p.client.send(tsdu(1000), now).unwrap();
    let mut wire = Vec::new();
    while let Some(b) = p.client.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    // Deliver every DT but the last.
    let (first, _) = Tpkt::decode(&wire).unwrap();
    let whole = 4 + first.payload.len();
    p.server.handle_input(&wire[..whole * 3], now);
    assert!(p.server_events().is_empty());
    assert!(p.server.buffered_input() > 0);
    let deadline = p.server.poll_timeout().expect("a receive deadline");
    assert_eq!(deadline, now + Duration::from_secs(30));
    p.server.handle_timeout(deadline);
    assert_eq!(
        p.server_events(),
        [
            Event::Disconnected(Disconnect::Timeout(Wait::Receive)),
            Event::Closed
        ]
    );
    assert_eq!(p.server.phase(), Phase::Closed);
}
