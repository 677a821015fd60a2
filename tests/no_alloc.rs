//! Decoding a TPKT + DT frame or a CR with TSAPs allocates nothing: a counting global allocator
//! proves it. Counting is armed per thread, so the test harness's own allocations on other
//! threads do not interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use osi_stack::cotp::{Reassembler, Tpdu, class0};
use osi_stack::tpkt::{Tpkt, TpktFrames};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, ALLOCATIONS.load(Ordering::SeqCst) - before)
}

#[test]
fn decoding_allocates_nothing() {
    // Back-to-back TPKT+DT frames with 0, 64 and 1024 octets of data, and a CR with TSAPs.
    let mut stream = Vec::new();
    for n in [0usize, 64, 1024] {
        stream.extend_from_slice(&[0x03, 0x00]);
        stream.extend_from_slice(&u16::try_from(n + 7).unwrap().to_be_bytes());
        stream.extend_from_slice(&[0x02, 0xf0, 0x80]);
        stream.extend(std::iter::repeat_n(0x5a, n));
    }
    let cr = [
        0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0d, 0xc2,
        0x02, 0x00, 0x01, 0xc1, 0x02, 0x00, 0x01,
    ];
    let mut reassembler = Reassembler::new(osi_stack::Limits::default());

    // The counter itself must work, or the zero below proves nothing.
    let (_, n) = count(|| std::hint::black_box(vec![1u8; 16]));
    assert_eq!(n, 1);

    let (total, n) = count(|| {
        let mut total = 0;
        for frame in TpktFrames::new(&stream) {
            let Ok(Tpdu::Dt(dt)) = Tpdu::decode(frame.unwrap().payload) else {
                panic!("not a DT")
            };
            class0::check_dt(&dt).unwrap();
            total += reassembler.push(&dt).unwrap().unwrap().len();
        }
        total
    });
    assert_eq!(total, 1088);
    assert_eq!(n, 0, "decoding DT frames allocated");

    let (tsel, n) = count(|| {
        let t = Tpkt::decode_exact(&cr).unwrap();
        let Ok(Tpdu::Cr(cr)) = Tpdu::decode(t.payload) else {
            panic!("not a CR")
        };
        let accepted = class0::respond(&cr, &class0::Responder::default()).unwrap();
        (cr.called_tsel(), cr.calling_tsel(), accepted.tpdu_size)
    });
    assert_eq!(tsel, (Some(&[0u8, 1][..]), Some(&[0u8, 1][..]), 8192));
    assert_eq!(n, 0, "decoding a CR allocated");

    // RTSE: an RTORQ with recovery data, and a constructed RTTR whose segments are iterated.
    let rtorq = [
        0xb0, 0x23, 0x80, 0x01, 0x3f, 0x82, 0x01, 0x00, 0xa3, 0x1b, 0xa1, 0x19, 0x14, 0x08, b'P',
        b'e', b'r', b'c', b'i', b'v', b'a', b'l', 0x17, 0x0d, b'0', b'5', b'1', b'0', b'0', b'1',
        b'1', b'4', b'5', b'1', b'0', b'8', b'Z',
    ];
    let rttr = [
        0x24, 0x80, 0x04, 0x02, 0xaa, 0xbb, 0x24, 0x03, 0x04, 0x01, 0xcc, 0x00, 0x00,
    ];
    let limits = osi_stack::Limits::default();
    let ((cp, len), n) = count(|| {
        let Ok(osi_stack::rtse::Apdu::Rtorq(rq)) = osi_stack::rtse::Apdu::decode(&rtorq, &limits)
        else {
            panic!("not an RTORQ")
        };
        let t = osi_stack::rtse::Rttr::decode(&rttr, &limits).unwrap();
        let segments: usize = t.segments().map(<[u8]>::len).sum();
        (rq.checkpoint_size, segments + t.len())
    });
    assert_eq!((cp, len), (Some(63), 6));
    assert_eq!(n, 0, "decoding RTSE APDUs allocated");
}
