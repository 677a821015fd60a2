//! A P-DATA round through an in-memory `Association` pair (send_data, poll_transmit,
//! handle_input, poll_event) allocates nothing once the buffers have grown: the frames are cut
//! from reused blocks and the reassembly buffer is reused from its front. A counting global
//! allocator, armed and counted per thread, proves it.

mod common;
use common::alloc::count;
use common::assoc::{associate, default_pair};
use common::cid;

use std::time::Instant;

use osi_stack::association::{AcceptResponse, AssociateRequest, Association, Event};

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

fn pump(from: &mut Association, to: &mut Association, now: Instant) {
    while let Some(b) = from.poll_transmit() {
        to.handle_input(&b, now);
    }
}

fn round(c: &mut Association, s: &mut Association, msg: &[u8], now: Instant) -> usize {
    c.send_data(cid(3), msg, now).unwrap();
    pump(c, s, now);
    match s.poll_event() {
        Some(Event::Data(d)) => d.value.len(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_p_data_round_allocates_nothing_once_warm() {
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let (mut c, mut s, now) = (p.client, p.server, p.now);
    for size in [1024usize, 64 * 1024] {
        let inner = size - 4;
        let mut msg = vec![0x04, 0x82, (inner >> 8) as u8, inner as u8];
        msg.extend((0..inner).map(|i| i as u8));
        for _ in 0..3 {
            assert_eq!(round(&mut c, &mut s, &msg, now), size);
        }
        let (lens, allocations) = count(|| {
            (0..20)
                .map(|_| round(&mut c, &mut s, &msg, now))
                .sum::<usize>()
        });
        assert_eq!(lens, 20 * size);
        assert_eq!(allocations, 0, "P-DATA of {size} octets");
    }
}
