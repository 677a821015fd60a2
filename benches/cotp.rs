//! PDU throughput of the TPKT + COTP decoders, beside a minimal hand-written safe parser of the
//! same frames as the reference (`reference/…` in the report). Run:
//! `cargo bench --bench cotp`. Figures are recorded in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use osi_stack::cotp::Tpdu;
use osi_stack::tpkt::TpktFrames;

const FRAMES: usize = 64;

/// `FRAMES` back-to-back TPKT + class-0 DT frames with `n` octets of data each.
fn dt_stream(n: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for _ in 0..FRAMES {
        s.extend_from_slice(&[0x03, 0x00]);
        s.extend_from_slice(&u16::try_from(n + 7).unwrap().to_be_bytes());
        s.extend_from_slice(&[0x02, 0xf0, 0x80]);
        s.extend(std::iter::repeat_n(0x5a, n));
    }
    s
}

/// libiec61850's CR (spec example E1): TPDU size and two TSAPs.
const CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0d, 0xc2, 0x02,
    0x00, 0x01, 0xc1, 0x02, 0x00, 0x01,
];

/// The reference: the least a safe parser must do for a class-0 DT stream (frame by the TPKT
/// length, check version, length, LI, code and EOT/NR, hand out the data).
mod reference {
    pub fn dt_frames(mut s: &[u8], mut f: impl FnMut(bool, &[u8])) -> Option<()> {
        while !s.is_empty() {
            let [3, _, hi, lo, rest @ ..] = s else {
                return None;
            };
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if len < 7 {
                return None;
            }
            let body = rest.get(..len - 4)?;
            let [2, 0xf0, eot_nr, data @ ..] = body else {
                return None;
            };
            if eot_nr & 0x7f != 0 {
                return None;
            }
            f(eot_nr & 0x80 != 0, data);
            s = &rest[len - 4..];
        }
        Some(())
    }

    /// Returns (src-ref, called TSAP, calling TSAP, TPDU size code) of a CR.
    pub fn cr(s: &[u8]) -> Option<(u16, &[u8], &[u8], u8)> {
        let [3, _, hi, lo, rest @ ..] = s else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let body = rest.get(..len.checked_sub(4)?)?;
        let [li, 0xe0, _, _, sh, sl, _class, tail @ ..] = body else {
            return None;
        };
        let mut params = tail.get(..usize::from(*li).checked_sub(6)?)?;
        let (mut called, mut calling, mut size) = (&[][..], &[][..], 0);
        while let [code, plen, more @ ..] = params {
            let value = more.get(..usize::from(*plen))?;
            match code {
                0xc0 => size = *value.first()?,
                0xc1 => calling = value,
                0xc2 => called = value,
                _ => {}
            }
            params = &more[usize::from(*plen)..];
        }
        Some((u16::from_be_bytes([*sh, *sl]), called, calling, size))
    }
}

fn dt_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("dt_decode");
    for n in [0usize, 64, 1024] {
        let stream = dt_stream(n);
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_with_input(BenchmarkId::new("osi_stack", n), &stream, |b, s| {
            b.iter(|| {
                let mut total = 0usize;
                for frame in TpktFrames::new(black_box(s)) {
                    let Ok(frame) = frame else { break };
                    if let Ok(Tpdu::Dt(dt)) = Tpdu::decode(frame.payload) {
                        if dt.nr == 0 && dt.eot {
                            total += dt.user_data.len();
                        }
                    }
                }
                total
            })
        });
        g.bench_with_input(BenchmarkId::new("reference", n), &stream, |b, s| {
            b.iter(|| {
                let mut total = 0usize;
                reference::dt_frames(black_box(s), |eot, d| {
                    if eot {
                        total += d.len();
                    }
                });
                total
            })
        });
    }
    g.finish();
}

fn cr_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("cr_decode");
    g.throughput(Throughput::Bytes(CR.len() as u64));
    g.bench_function("osi_stack", |b| {
        b.iter(|| {
            let t = osi_stack::tpkt::Tpkt::decode_exact(black_box(&CR)).ok()?;
            let Ok(Tpdu::Cr(cr)) = Tpdu::decode(t.payload) else {
                return None;
            };
            Some((
                cr.src_ref,
                cr.called_tsel(),
                cr.calling_tsel(),
                cr.tpdu_size(),
            ))
        })
    });
    g.bench_function("reference", |b| b.iter(|| reference::cr(black_box(&CR))));
    g.bench_function("osi_stack_tpdu_only", |b| {
        b.iter(|| Tpdu::decode(black_box(&CR[4..])).is_ok())
    });
    g.finish();
}

criterion_group!(benches, dt_decode, cr_decode);
criterion_main!(benches);
