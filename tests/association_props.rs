//! No data lost: random P-DATA sequences of random sizes (0 to 1 MiB) through an in-memory
//! pair with random TPDU sizes and random TCP read chunking arrive once each, in order.

mod common;
use common::cid;

use std::time::Instant;

use osi_stack::association::{
    AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event,
};
use proptest::prelude::*;

/// Octet-string values (`04 len content`) of the given content sizes.
fn value(size: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0x04];
    match size {
        0..=127 => v.push(size as u8),
        128..=255 => v.extend([0x81, size as u8]),
        256..=65535 => v.extend([0x82, (size >> 8) as u8, size as u8]),
        _ => v.extend([0x83, (size >> 16) as u8, (size >> 8) as u8, size as u8]),
    }
    v.extend((0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

/// Delivers everything `from` has to send to `to`, cut at the given chunk sizes (cycled).
fn deliver(from: &mut Association, to: &mut Association, chunks: &[usize], now: Instant) {
    let mut all = Vec::new();
    while let Some(b) = from.poll_transmit() {
        all.extend_from_slice(&b);
    }
    let mut rest = &all[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].clamp(1, rest.len());
        to.handle_input(&rest[..n], now);
        rest = &rest[n..];
        i += 1;
    }
}

fn sizes() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..300,
        3 => 300usize..20_000,
        1 => 20_000usize..=(1 << 20),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_octet_arrives_once_in_order(
        tpdu_exp in 7u32..=13,
        server_exp in 7u32..=13,
        chunks in proptest::collection::vec(1usize..9000, 1..6),
        messages in proptest::collection::vec((sizes(), any::<bool>()), 0..12),
    ) {
        let now = Instant::now();
        let mut client = Association::initiator(Config::default().with_tpdu_size(1 << tpdu_exp));
        let mut server = Association::responder(
            Config::default().with_tpdu_size(1 << server_exp),
            Dispatch::default(),
            None,
        );
        client.associate(AssociateRequest::mms(), now).unwrap();
        deliver(&mut client, &mut server, &chunks, now);
        deliver(&mut server, &mut client, &chunks, now);
        deliver(&mut client, &mut server, &chunks, now);
        let _ = std::iter::from_fn(|| server.poll_event()).count();
        server.accept(AcceptResponse::default(), now).unwrap();
        let _ = std::iter::from_fn(|| server.poll_event()).count();
        deliver(&mut server, &mut client, &chunks, now);
        let _ = std::iter::from_fn(|| client.poll_event()).count();
        prop_assert_eq!(client.tpdu_size(), 1 << tpdu_exp.min(server_exp));

        let mut to_server = Vec::new();
        let mut to_client = Vec::new();
        for (i, (size, from_client)) in messages.iter().enumerate() {
            let v = value(*size, i as u8);
            if *from_client {
                client.send_data(cid(3), &v, now).unwrap();
                to_server.push(v);
            } else {
                server.send_data(cid(3), &v, now).unwrap();
                to_client.push(v);
            }
        }
        deliver(&mut client, &mut server, &chunks, now);
        deliver(&mut server, &mut client, &chunks, now);
        let got_server: Vec<Vec<u8>> = std::iter::from_fn(|| server.poll_event())
            .map(|e| match e {
                Event::Data(d) => { assert_eq!(d.context_id, Some(cid(3))); d.value.to_vec() }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let got_client: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_event())
            .map(|e| match e {
                Event::Data(d) => d.value.to_vec(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        prop_assert!(got_server == to_server, "server got {} of {}", got_server.len(), to_server.len());
        prop_assert!(got_client == to_client, "client got {} of {}", got_client.len(), to_client.len());
    }
}
