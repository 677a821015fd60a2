//! Decoding a GT+DT TSDU (and a CN) allocates nothing: a global allocator counts the allocations
//! made by the current thread around the decode.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use osi_stack::session::{SpduKind, spdus};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only bumps a thread-local counter besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn decoding_allocates_nothing() {
    let gt_dt = [
        0x01, 0x00, 0x01, 0x00, 0x61, 0x09, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x8b, 0x00,
    ];
    let cn = [
        0x0d, 0x18, 0x05, 0x06, 0x13, 0x01, 0x00, 0x16, 0x01, 0x02, 0x14, 0x02, 0x00, 0x02, 0x33,
        0x02, 0x00, 0x01, 0x34, 0x02, 0x00, 0x01, 0xc1, 0x02, 0x30, 0x00,
    ];
    let n = allocations_in(|| {
        let mut kinds = [None; 2];
        for (slot, s) in kinds.iter_mut().zip(spdus(&gt_dt)) {
            *slot = s.ok().map(|s| (s.kind(), s.user_information().len()));
        }
        assert_eq!(kinds, [Some((SpduKind::Gt, 0)), Some((SpduKind::Dt, 11))]);
        let cn = spdus(&cn).next().and_then(Result::ok);
        let cn = cn.as_ref();
        assert_eq!(cn.and_then(|c| c.user_data()), Some(&[0x30, 0x00][..]));
        assert!(cn.and_then(|c| c.connect_accept_item()).is_some());
        assert_eq!(cn.map(|c| c.unknown_parameters().count()), Some(0));
    });
    assert_eq!(n, 0);
}

#[test]
fn counter_sees_allocations() {
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 8]))) >= 1);
}
