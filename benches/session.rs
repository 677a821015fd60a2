//! Session-layer decode throughput beside minimal hand-written safe parsers of the same SPDUs.
//! Run: `cargo bench --bench session`. Figures are in BENCHMARKS.md.
//!
//! For the CN there are two references. `reference` walks the top-level units and picks three
//! values, checking nothing else: it accepts a CN whose PGI 5 holds a unit running past the
//! end of the group, or whose PI 21 is one octet long. `reference_checked` is the least a
//! hand-written parser must do to accept exactly what the session issue and X.225 require of
//! the decoder (every unit's length against its enclosing unit, nested units included, and
//! the value length of every fixed-size PI); the 1.5× target is measured against it, and both
//! ratios are reported.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use osi_stack::session::{SpduKind, SpduType, spdus};

/// libiec61850's CN (spec session.md S1): Connect/Accept Item, requirements, both selectors and
/// 156 octets of user data.
const CN: &str = "0d b2 05 06 13 01 00 16 01 02 14 02 00 02 33 02 00 01 34 02 00 01 c1 9c 31 81 99 a0 03 80 01 01 a2 81 91 81 04 00 00 00 01 82 04 00 00 00 01 a4 23 30 0f 02 01 01 06 04 52 01 00 01 30 04 06 02 51 01 30 10 02 01 03 06 05 28 ca 22 02 01 30 04 06 02 51 01 61 5e 30 5c 02 01 01 a0 57 60 55 a1 07 06 05 28 ca 22 02 03 a2 07 06 05 29 01 87 67 01 a3 03 02 01 0c a6 06 06 04 29 01 87 67 a7 03 02 01 0c be 2f 28 2d 02 01 03 a0 28 a8 26 80 03 00 fd e8 81 01 05 82 01 05 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03 ee 1c 00 00 04 08 00 00 79 ef 18";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

mod reference {
    /// GT + DT with no parameters: return the user information.
    pub fn gt_dt(t: &[u8]) -> Option<&[u8]> {
        match t {
            [0x01, 0x00, 0x01, 0x00, data @ ..] => Some(data),
            _ => None,
        }
    }

    /// One SPDU header: SI, a one- or three-octet LI, the parameter field; returns the rest.
    fn spdu(t: &[u8], si: u8) -> Option<&[u8]> {
        let [s, l0, rest @ ..] = t else { return None };
        if *s != si {
            return None;
        }
        let (len, rest) = if *l0 == 0xff {
            let [hi, lo, rest @ ..] = rest else {
                return None;
            };
            (usize::from(u16::from_be_bytes([*hi, *lo])), rest)
        } else {
            (usize::from(*l0), rest)
        };
        rest.get(len..)
    }

    /// GT + DT in general (any LI form, parameters skipped): return the user information.
    pub fn gt_dt_general(t: &[u8]) -> Option<&[u8]> {
        spdu(spdu(t, 0x01)?, 0x01)
    }

    /// `gt_dt_general`, also returning the first SPDU's SI (for `gt_dt_output_shape`).
    pub fn gt_dt_general_si(t: &[u8]) -> Option<(u8, &[u8])> {
        let si = *t.first()?;
        Some((si, gt_dt_general(t)?))
    }

    /// A CN with one-octet LIs: walk the PI/PGI units, return calling and called selectors and
    /// the user data (PGI 193, with a one- or three-octet length).
    pub fn cn(t: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let [0x0d, li, rest @ ..] = t else {
            return None;
        };
        let mut params = rest.get(..usize::from(*li))?;
        let (mut calling, mut called, mut data) = (&[][..], &[][..], &[][..]);
        while let [code, l0, more @ ..] = params {
            let (len, more) = if *l0 == 0xff {
                let [hi, lo, more @ ..] = more else {
                    return None;
                };
                (usize::from(u16::from_be_bytes([*hi, *lo])), more)
            } else {
                (usize::from(*l0), more)
            };
            let value = more.get(..len)?;
            match code {
                0x33 => calling = value,
                0x34 => called = value,
                0xc1 => data = value,
                _ => {}
            }
            params = &more[len..];
        }
        Some((calling, called, data))
    }

    /// Allowed value lengths of the PIs a CN may carry (X.225 §8.3, CN SPDU) as a table
    /// indexed by code, `(min, max)`, `(0, 0)` for any length: the rules `Spdu::decode`
    /// applies, written out by hand.
    const CN_VALUE_LEN: [(u8, u8); 256] = {
        let mut t = [(0u8, 0u8); 256];
        let mut c = 0;
        while c < 256 {
            t[c] = match c {
                9..=11 => (1, 64),
                12 => (1, 4),
                15 | 16 | 17 | 19 | 22 | 24 | 25 | 26 | 27 | 53 | 60 => (1, 1),
                20 => (2, 2),
                21 => (4, 4),
                23 | 41 | 55 | 56 => (1, 6),
                51 | 52 => (1, 16),
                _ => (0, 0),
            };
            c += 1;
        }
        t
    };

    /// One unit: (code, value, rest), with a one- or three-octet length.
    fn unit(t: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (code, len, rest) = match t {
            [code, 0xff, hi, lo, rest @ ..] => {
                (*code, usize::from(u16::from_be_bytes([*hi, *lo])), rest)
            }
            [_, 0xff, ..] => return None,
            [code, l, rest @ ..] => (*code, usize::from(*l), rest),
            _ => return None,
        };
        let (value, rest) = rest.split_at_checked(len)?;
        let (min, max) = CN_VALUE_LEN[usize::from(code)];
        if max != 0 && !value.is_empty() && !(usize::from(min)..=usize::from(max)).contains(&len) {
            return None;
        }
        Some((code, value, rest))
    }

    /// `cn` doing the checks `Spdu::decode` does: one- or three-octet LI, every unit's length
    /// against what is left, the units nested in PGI 1, 5 and 33, and the value-length rule of
    /// every known PI. Returns the same three values.
    pub fn cn_checked(t: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let (li, rest) = match t {
            [0x0d, 0xff, hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            [0x0d, li, rest @ ..] if *li != 0xff => (usize::from(*li), rest),
            _ => return None,
        };
        let mut params = rest.get(..li)?;
        if rest.len() != li {
            return None; // a CN is alone in its TSDU
        }
        let (mut calling, mut called, mut data) = (None, None, None);
        while !params.is_empty() {
            let (code, value, more) = unit(params)?;
            params = more;
            match code {
                1 | 5 | 33 => {
                    let mut inner = value;
                    while !inner.is_empty() {
                        inner = unit(inner)?.2;
                    }
                }
                51 if calling.is_none() && !value.is_empty() => calling = Some(value),
                52 if called.is_none() && !value.is_empty() => called = Some(value),
                193 if data.is_none() && !value.is_empty() => data = Some(value),
                _ => {}
            }
        }
        Some((calling?, called?, data?))
    }
}

fn gt_dt(c: &mut Criterion) {
    let mut g = c.benchmark_group("gt_dt_decode");
    for n in [64usize, 1024] {
        let mut tsdu = vec![0x01, 0x00, 0x01, 0x00];
        tsdu.extend(std::iter::repeat_n(0x5a, n));
        g.throughput(Throughput::Bytes(tsdu.len() as u64));
        // Every closure returns the same shape, `Option<usize>`: see `gt_dt_output_shape`.
        g.bench_with_input(BenchmarkId::new("osi_stack", n), &tsdu, |b, t| {
            b.iter(|| {
                let mut it = spdus(black_box(t));
                let gt = it.next()?.ok()?;
                let dt = it.next()?.ok()?;
                (gt.kind() == SpduKind::Gt).then_some(dt.user_information().len())
            })
        });
        g.bench_with_input(BenchmarkId::new("reference", n), &tsdu, |b, t| {
            b.iter(|| reference::gt_dt(black_box(t)).map(<[u8]>::len))
        });
        g.bench_with_input(BenchmarkId::new("reference_general", n), &tsdu, |b, t| {
            b.iter(|| reference::gt_dt_general(black_box(t)).map(<[u8]>::len))
        });
    }
    g.finish();

    // What returning `(SpduType, usize)` instead of `usize` costs, in both decoders: criterion
    // `black_box`es the output, and the spilled one-octet field read back as a word stalls
    // store-to-load forwarding. The `gt_dt_decode` closures all return `Option<usize>`.
    let mut tsdu = vec![0x01, 0x00, 0x01, 0x00];
    tsdu.extend(std::iter::repeat_n(0x5a, 64));
    let mut g = c.benchmark_group("gt_dt_output_shape");
    g.throughput(Throughput::Bytes(tsdu.len() as u64));
    g.bench_with_input(BenchmarkId::new("osi_stack", 64), &tsdu, |b, t| {
        b.iter(|| {
            let mut it = spdus(black_box(t));
            let gt = it.next()?.ok()?;
            let dt = it.next()?.ok()?;
            Some((gt.si(), dt.user_information().len()))
        })
    });
    g.bench_with_input(BenchmarkId::new("reference_general", 64), &tsdu, |b, t| {
        b.iter(|| reference::gt_dt_general_si(black_box(t)).map(|(si, d)| (SpduType(si), d.len())))
    });
    g.finish();
}

fn cn(c: &mut Criterion) {
    let cn = hex(CN);
    assert_eq!(cn.len(), 180);
    assert!(reference::cn(&cn).is_some());
    assert_eq!(reference::cn_checked(&cn), reference::cn(&cn));
    let mut g = c.benchmark_group("cn_decode");
    g.throughput(Throughput::Bytes(cn.len() as u64));
    // Decode, then three accessors, each walking the parameter field.
    g.bench_function("osi_stack", |b| {
        b.iter(|| {
            let s = spdus(black_box(&cn)).next()?.ok()?;
            Some((
                s.calling_session_selector(),
                s.called_session_selector(),
                s.user_data().map(<[u8]>::len),
            ))
        })
    });
    g.bench_function("reference", |b| {
        b.iter(|| reference::cn(black_box(&cn)).map(|(a, b, d)| (a, b, d.len())))
    });
    // The same lookups after the checks `Spdu::decode` makes, written by hand.
    g.bench_function("reference_checked", |b| {
        b.iter(|| reference::cn_checked(black_box(&cn)).map(|(a, b, d)| (a, b, d.len())))
    });
    // The decode alone (every unit checked, nested ones included), without the accessors.
    g.bench_function("osi_stack_decode_only", |b| {
        b.iter(|| spdus(black_box(&cn)).next().is_some_and(|r| r.is_ok()))
    });
    g.finish();
}

criterion_group!(benches, gt_dt, cn);
criterion_main!(benches);
