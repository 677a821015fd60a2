//! The P-DATA data path of `Association`, sans-IO: `send_data` (value copied into the DTs) and
//! `send_data_bytes` (a large value sent as slices of itself between the headers) put the same
//! octets on the wire, checked against an independent framing (TPKT, class-0 DT, empty GT + DT,
//! fully encoded User-data with one PDV, written out here by hand from RFC 1006, X.224 §13.7,
//! X.225 §8.3.14 and X.226 §8.4); the receiver gets the value back whole, with every check kept.

mod common;
use common::cid;

use std::time::Instant;

use bytes::Bytes;
use osi_stack::association::{AcceptResponse, AssociateRequest, Association, Event};

fn pair() -> (Association, Association) {
    let mut p = common::assoc::default_pair();
    common::assoc::associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    (p.client, p.server)
}

/// An OCTET STRING of `n` contents octets: one BER value.
fn value(n: usize) -> Vec<u8> {
    let mut v = vec![0x04];
    v.extend(ber_len(n));
    v.extend((0..n).map(|i| (i % 251) as u8));
    v
}

fn ber_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        0x100..=0xffff => vec![0x82, (n >> 8) as u8, n as u8],
        _ => vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8],
    }
}

/// The wire of one P-DATA on context 3 in DTs of at most 8192 octets, framed by hand.
fn expected_wire(v: &[u8]) -> Vec<u8> {
    let a0 = v.len();
    let pdv = 3 + 1 + ber_len(a0).len() + a0;
    let list = 1 + ber_len(pdv).len() + pdv;
    let mut tsdu = vec![0x01, 0x00, 0x01, 0x00, 0x61];
    tsdu.extend(ber_len(list));
    tsdu.push(0x30);
    tsdu.extend(ber_len(pdv));
    tsdu.extend([0x02, 0x01, 0x03, 0xa0]);
    tsdu.extend(ber_len(a0));
    tsdu.extend_from_slice(v);
    let mut wire = Vec::new();
    let chunks: Vec<&[u8]> = tsdu.chunks(8192 - 3).collect();
    for (i, c) in chunks.iter().enumerate() {
        let len = (c.len() + 7) as u16;
        wire.extend([3, 0, (len >> 8) as u8, len as u8, 2, 0xf0]);
        wire.push(if i + 1 == chunks.len() { 0x80 } else { 0 });
        wire.extend_from_slice(c);
    }
    wire
}

#[test]
fn copied_and_shared_values_put_the_same_octets_on_the_wire() {
    let now = Instant::now();
    for n in [0usize, 1, 200, 4_000, 4_090, 8_170, 8_180, 20_000, 70_000] {
        let v = value(n);
        let want = expected_wire(&v);
        let (mut c, mut s) = pair();
        c.send_data(cid(3), &v, now).unwrap();
        let mut copied = Vec::new();
        while let Some(b) = c.poll_transmit() {
            copied.extend_from_slice(&b);
        }
        assert_eq!(copied, want, "send_data, value of {} octets", v.len());
        let shared = Bytes::from(v.clone());
        c.send_data_bytes(cid(3), shared.clone(), now).unwrap();
        let mut pieces = Vec::new();
        while let Some(b) = c.poll_transmit() {
            pieces.push(b);
        }
        let joined: Vec<u8> = pieces.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(joined, want, "send_data_bytes, value of {} octets", v.len());
        if v.len() >= 4096 {
            // The value went out from its own buffer, not copied.
            let inside = |b: &Bytes| {
                let (p, q) = (b.as_ptr() as usize, shared.as_ptr() as usize);
                p >= q && p + b.len() <= q + shared.len()
            };
            let from_value: usize = pieces.iter().filter(|b| inside(b)).map(Bytes::len).sum();
            assert!(
                from_value >= v.len().saturating_sub(8192),
                "{from_value} of {}",
                v.len()
            );
        }
        // The receiver gets the value back, twice, each as one event.
        for chunk in [&copied[..], &joined[..]] {
            s.handle_input(chunk, now);
            match s.poll_event() {
                Some(Event::Data(d)) => {
                    assert_eq!(d.context_id, Some(cid(3)));
                    assert_eq!(d.value[..], v[..]);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(s.poll_event(), None);
        }
    }
}

#[test]
fn input_in_any_chunking_gives_the_same_values() {
    let now = Instant::now();
    let values: Vec<Vec<u8>> = [5usize, 1_000, 9_000, 30_000].map(value).into();
    let mut wire = Vec::new();
    for v in &values {
        wire.extend(expected_wire(v));
    }
    for step in [1usize, 3, 7, 100, 4_096, 8_199, 65_536] {
        let (_c, mut s) = pair();
        for chunk in wire.chunks(step) {
            s.handle_input(chunk, now);
        }
        for v in &values {
            match s.poll_event() {
                Some(Event::Data(d)) => assert_eq!(d.value[..], v[..], "step {step}"),
                other => panic!("step {step}: {other:?}"),
            }
        }
        assert_eq!(s.poll_event(), None);
        assert_eq!(s.buffered_input(), 0);
    }
}

#[test]
fn a_pdv_on_a_context_not_negotiated_is_refused_without_delivering_data() {
    let now = Instant::now();
    let (_c, mut s) = pair();
    let mut wire = expected_wire(&value(10));
    // Context 3 -> 5 (the INTEGER contents octet of the PDV).
    let at = wire
        .windows(4)
        .position(|w| w == [0x02, 0x01, 0x03, 0xa0])
        .unwrap();
    wire[at + 2] = 5;
    s.handle_input(&wire, now);
    let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Data(_))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::Aborted(_))),
        "{events:?}"
    );
}

#[test]
fn a_bad_frame_after_data_is_found_in_any_chunking() {
    let now = Instant::now();
    let mut wire = expected_wire(&value(300));
    // A TPKT header of version 4 (RFC 1006 §6: version 3), then a data frame that must not be
    // delivered.
    wire.extend([
        0x04, 0x00, 0x00, 0x0b, 0x02, 0xf0, 0x80, 0x01, 0x00, 0x01, 0x00,
    ]);
    wire.extend(expected_wire(&value(5)));
    for step in [1usize, 2, 5, 320, wire.len()] {
        let (_c, mut s) = pair();
        for chunk in wire.chunks(step) {
            s.handle_input(chunk, now);
        }
        // An ER (TPKT, then LI and the ER code 0111 0000, X.224 §13.12), whatever the chunking.
        let sent: Vec<u8> = std::iter::from_fn(|| s.poll_transmit())
            .flat_map(|b| b.to_vec())
            .collect();
        assert_eq!(sent.get(..2), Some(&[3, 0][..]), "step {step}");
        assert_eq!(sent.get(5), Some(&0x70), "step {step}: {sent:?}");
        let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
        let data: Vec<usize> = events
            .iter()
            .filter_map(|e| match e {
                Event::Data(d) => Some(d.value.len()),
                _ => None,
            })
            .collect();
        assert_eq!(data, vec![value(300).len()], "step {step}: {events:?}");
        assert!(
            events.iter().any(|e| matches!(e, Event::Aborted(_))),
            "step {step}: {events:?}"
        );
        assert_eq!(events.last(), Some(&Event::Closed), "step {step}");
    }
}

#[test]
fn the_transport_sends_header_pieces_and_a_value_as_one_tsdu() {
    use osi_stack::cotp::connection::{Config as TConfig, ConnectRequest, Connection, Event as T};
    let now = Instant::now();
    let config = TConfig::default().with_tpdu_size(128);
    let mut client = Connection::initiator(config.clone());
    let mut server = Connection::responder(config);
    client.connect(&ConnectRequest::default(), now).unwrap();
    let pump = |from: &mut Connection, to: &mut Connection| {
        while let Some(b) = from.poll_transmit() {
            to.handle_input(&b, now);
        }
    };
    pump(&mut client, &mut server);
    assert!(matches!(server.poll_event(), Some(T::ConnectIndication(_))));
    server.accept(now).unwrap();
    pump(&mut server, &mut client);
    assert!(matches!(client.poll_event(), Some(T::Connected(_))));
    assert!(matches!(server.poll_event(), Some(T::Connected(_))));
    let heads: [&[u8]; 5] = [b"a", b"bc", b"", b"def", &[7; 200]];
    for n in [0usize, 10, 5_000] {
        let value: Vec<u8> = (0..n).map(|i| (i % 13) as u8).collect();
        let mut want: Vec<u8> = heads.concat();
        want.extend_from_slice(&value);
        client.send_copied(&heads, &value, now).unwrap();
        client
            .send_shared(&heads, &Bytes::from(value.clone()), now)
            .unwrap();
        pump(&mut client, &mut server);
        for _ in 0..2 {
            match server.poll_event() {
                Some(T::Tsdu(t)) => assert_eq!(t[..], want[..], "value of {n}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
