//! A P-DATA round through an in-memory `Association` pair (send_data, poll_transmit,
//! handle_input, poll_event) allocates nothing once the buffers have grown: the frames are cut
//! from reused blocks and the reassembly buffer is reused from its front. A counting global
//! allocator, armed and counted per thread, proves it.

mod common;
use common::cid;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use osi_stack::association::{
    AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event,
};

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn counted() {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, ALLOCATIONS.with(Cell::get) - before)
}

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
    let now = Instant::now();
    let mut c = Association::initiator(Config::default());
    let mut s = Association::responder(Config::default(), Dispatch::default(), None);
    c.associate(AssociateRequest::mms(), now).unwrap();
    pump(&mut c, &mut s, now);
    pump(&mut s, &mut c, now);
    pump(&mut c, &mut s, now);
    while s.poll_event().is_some() {}
    s.accept(AcceptResponse::default(), now).unwrap();
    pump(&mut s, &mut c, now);
    while s.poll_event().is_some() {}
    while c.poll_event().is_some() {}
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
