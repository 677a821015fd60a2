//! Presentation + ACSE decode beside a minimal hand-written safe parser of the same bytes
//! (`reference`), on the frames of the libiec61850 transcript
//! (`testdata/transcripts/libiec61850-client-reference.hex`). Run:
//! `cargo bench --bench presentation`. Figures are in BENCHMARKS.md.
//!
//! Every bench starts from the TSDU (the data of the COTP DT) and goes the whole way the
//! association layer goes: `session::spdus` → the presentation decoder → the PDV value →
//! (for the connect PPDUs) `acse::Apdu::decode` → the application context name.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use osi_stack::Limits;
use osi_stack::acse::Apdu;
use osi_stack::oid::Oid;
use osi_stack::presentation::{ContextId, Cp, Cpa, PdvValues, UserData};
use osi_stack::session::spdus;

const TRANSCRIPT: &str = "testdata/transcripts/libiec61850-client-reference.hex";

/// The TSDUs of one direction of the transcript: each line is one TPKT holding one COTP DT with
/// EOT (`03 00 LL LL 02 f0 80` + TSDU); the CR/CC lines are skipped.
fn tsdus(direction: &str) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TRANSCRIPT);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .filter_map(|l| l.strip_prefix(direction))
        .map(|h| hex(h.trim()))
        .filter(|f| f.get(4..7) == Some(&[0x02, 0xf0, 0x80][..]))
        .map(|f| f[7..].to_vec())
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// GT + DT + fully encoded User-data with one PDV (context 3, single-ASN1-type) whose value is
/// one BER element of `n` octets in all (`a0 82 hi lo` + filler).
fn synthetic_p_data(n: usize) -> Vec<u8> {
    let inner = n - 4;
    let mut value = vec![0xa0, 0x82];
    value.extend_from_slice(&u16::try_from(inner).unwrap().to_be_bytes());
    value.extend(std::iter::repeat_n(0x5a, inner));
    let mut pdv = vec![0x02, 0x01, 0x03, 0xa0, 0x82];
    pdv.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
    pdv.extend_from_slice(&value);
    let mut list = vec![0x30, 0x82];
    list.extend_from_slice(&u16::try_from(pdv.len()).unwrap().to_be_bytes());
    list.extend_from_slice(&pdv);
    let mut tsdu = vec![0x01, 0x00, 0x01, 0x00, 0x61, 0x82];
    tsdu.extend_from_slice(&u16::try_from(list.len()).unwrap().to_be_bytes());
    tsdu.extend_from_slice(&list);
    tsdu
}

// ---- osi-stack: the path of the association layer ----------------------------------------

/// GT + DT → User-data → first PDV → its value.
fn osi_p_data<'a>(tsdu: &'a [u8], limits: &Limits) -> Option<&'a [u8]> {
    let mut it = spdus(tsdu);
    it.next()?.ok()?;
    let dt = it.next()?.ok()?;
    let ud = UserData::decode(dt.user_information(), limits).ok()?;
    match ud.pdvs().next()?.values {
        PdvValues::SingleAsn1Type(v) => Some(v),
        _ => None,
    }
}

/// CN → CP → the ACSE context's id from the definition list → its PDV → AARQ → application
/// context name.
fn osi_cp_aarq<'a>(tsdu: &'a [u8], limits: &Limits) -> Option<Oid<'a>> {
    let cn = spdus(tsdu).next()?.ok()?;
    let (cp, _) = Cp::decode(cn.user_data()?, limits).ok()?;
    let normal = cp.normal?;
    let acse = normal
        .context_definitions?
        .iter()
        .find(|d| d.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX)?
        .id;
    let pdv = normal.user_data?.pdvs().find(|p| p.context_id == acse)?;
    let PdvValues::SingleAsn1Type(v) = pdv.values else {
        return None;
    };
    match Apdu::decode(v, limits).ok()? {
        Apdu::Aarq(a) => Some(a.application_context_name),
        _ => None,
    }
}

/// AC → CPA → count the accepted contexts → the PDV of context `acse` (from the CP) → AARE →
/// application context name.
fn osi_cpa_aare<'a>(tsdu: &'a [u8], acse: ContextId, limits: &Limits) -> Option<(usize, Oid<'a>)> {
    let ac = spdus(tsdu).next()?.ok()?;
    let cpa = Cpa::decode(ac.user_data()?, limits).ok()?;
    let normal = cpa.normal?;
    let accepted = normal
        .context_results?
        .iter()
        .filter(|r| r.result.0 == 0)
        .count();
    let pdv = normal.user_data?.pdvs().find(|p| p.context_id == acse)?;
    let PdvValues::SingleAsn1Type(v) = pdv.values else {
        return None;
    };
    match Apdu::decode(v, limits).ok()? {
        Apdu::Aare(a) => Some((accepted, a.application_context_name)),
        _ => None,
    }
}

/// The reference: the least a safe parser of these PPDUs must do. Session: SI, one- or
/// three-octet LIs, every PI/PGI length against what is left. BER: one-octet identifiers,
/// definite lengths (short, `81 xx`, `82 xx xx`) checked against the enclosing element, the
/// elements on the path walked, the others skipped by their length. It knows neither
/// indefinite lengths nor high tag numbers and does not look inside the elements it skips.
mod reference {
    /// One BER element: (identifier, contents, rest).
    pub fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let [id, l0, rest @ ..] = b else { return None };
        if id & 0x1f == 0x1f {
            return None;
        }
        let (len, rest) = match *l0 {
            n @ 0..=0x7f => (usize::from(n), rest),
            0x81 => {
                let [l, rest @ ..] = rest else { return None };
                (usize::from(*l), rest)
            }
            0x82 => {
                let [h, l, rest @ ..] = rest else { return None };
                (usize::from(u16::from_be_bytes([*h, *l])), rest)
            }
            _ => return None,
        };
        if len > rest.len() {
            return None;
        }
        let (c, r) = rest.split_at(len);
        Some((*id, c, r))
    }

    fn int(c: &[u8]) -> Option<i64> {
        if c.is_empty() || c.len() > 8 {
            return None;
        }
        let mut v = if c[0] & 0x80 != 0 { -1i64 } else { 0 };
        for &b in c {
            v = (v << 8) | i64::from(b);
        }
        Some(v)
    }

    /// Session LI: one octet, or `ff hi lo`.
    fn li(b: &[u8]) -> Option<(usize, &[u8])> {
        match b {
            [0xff, hi, lo, rest @ ..] => Some((usize::from(u16::from_be_bytes([*hi, *lo])), rest)),
            [0xff, ..] | [] => None,
            [l, rest @ ..] => Some((usize::from(*l), rest)),
        }
    }

    /// GT + DT in general (any LI form, parameters skipped): the user information.
    fn gt_dt(t: &[u8]) -> Option<&[u8]> {
        let [0x01, rest @ ..] = t else { return None };
        let (n, rest) = li(rest)?;
        let [0x01, rest @ ..] = rest.get(n..)? else {
            return None;
        };
        let (n, rest) = li(rest)?;
        rest.get(n..)
    }

    /// A CN or AC alone in its TSDU: walk the PI/PGI units, return PGI 193.
    fn connect_user_data(t: &[u8], si: u8) -> Option<&[u8]> {
        let [s, rest @ ..] = t else { return None };
        if *s != si {
            return None;
        }
        let (n, rest) = li(rest)?;
        if rest.len() != n {
            return None;
        }
        let (mut params, mut data) = (rest, None);
        while let [code, more @ ..] = params {
            let (len, more) = li(more)?;
            let value = more.get(..len)?;
            if *code == 0xc1 {
                data = Some(value);
            }
            params = &more[len..];
        }
        data
    }

    /// One PDV-list: `30 { [06 ts] 02 id a0 {value} }` → (id, value).
    fn pdv(b: &[u8]) -> Option<(i64, &[u8])> {
        let (mut id, mut c, mut r) = tlv(b)?;
        if id == 0x06 {
            (id, c, r) = tlv(r)?;
        }
        if id != 0x02 {
            return None;
        }
        let ctx = int(c)?;
        let (0xa0, v, []) = tlv(r)? else { return None };
        let (_, _, []) = tlv(v)? else { return None };
        Some((ctx, v))
    }

    /// The contents of fully encoded User-data (`61`): every PDV-list checked, the value of
    /// the first with context `want` (`None`: the first).
    fn pdv_lists(mut list: &[u8], want: Option<i64>) -> Option<&[u8]> {
        let mut found = None;
        while !list.is_empty() {
            let (0x30, p, r) = tlv(list)? else {
                return None;
            };
            list = r;
            let (ctx, v) = pdv(p)?;
            if found.is_none() && want.is_none_or(|w| w == ctx) {
                found = Some(v);
            }
        }
        found
    }

    /// GT + DT + User-data: the first PDV's value.
    pub fn p_data(tsdu: &[u8]) -> Option<&[u8]> {
        let (0x61, list, []) = tlv(gt_dt(tsdu)?)? else {
            return None;
        };
        pdv_lists(list, None)
    }

    /// `31 { a0 {mode} [a1] a2 {normal} }`: the normal-mode parameters.
    fn connect_set(b: &[u8]) -> Option<&[u8]> {
        let (0x31, mut set, _) = tlv(b)? else {
            return None;
        };
        let (mut mode, mut normal) = (false, None);
        while !set.is_empty() {
            let (id, c, r) = tlv(set)?;
            set = r;
            match id {
                0xa0 => mode = true,
                0xa2 => normal = Some(c),
                _ => {}
            }
        }
        if mode { normal } else { None }
    }

    /// The application context name inside an AARQ (`60`) or AARE (`61`): `a1 { 06 oid }`.
    fn context_name(apdu: &[u8], tag: u8) -> Option<&[u8]> {
        let (id, mut c, []) = tlv(apdu)? else {
            return None;
        };
        if id != tag {
            return None;
        }
        let mut name = None;
        while !c.is_empty() {
            let (id, v, r) = tlv(c)?;
            c = r;
            if id == 0xa1 {
                let (0x06, oid, []) = tlv(v)? else {
                    return None;
                };
                name = Some(oid);
            }
        }
        name
    }

    /// CN → CP → the ACSE context's id → its PDV → AARQ → application context name.
    pub fn cp_aarq(tsdu: &[u8]) -> Option<&[u8]> {
        const ACSE: [u8; 4] = [0x52, 0x01, 0x00, 0x01];
        let mut normal = connect_set(connect_user_data(tsdu, 0x0d)?)?;
        let (mut acse, mut ud) = (None, None);
        while !normal.is_empty() {
            let (id, c, r) = tlv(normal)?;
            normal = r;
            match id {
                0xa4 => {
                    let mut defs = c;
                    while !defs.is_empty() {
                        let (0x30, d, r) = tlv(defs)? else {
                            return None;
                        };
                        defs = r;
                        let (0x02, n, d) = tlv(d)? else { return None };
                        let (0x06, abs, d) = tlv(d)? else {
                            return None;
                        };
                        let (0x30, _, []) = tlv(d)? else {
                            return None;
                        };
                        if abs == ACSE && acse.is_none() {
                            acse = Some(int(n)?);
                        }
                    }
                }
                0x61 => ud = Some(c),
                _ => {}
            }
        }
        context_name(pdv_lists(ud?, Some(acse?))?, 0x60)
    }

    /// AC → CPA → count the accepted contexts → the PDV of context `acse` → AARE →
    /// application context name.
    pub fn cpa_aare(tsdu: &[u8], acse: i64) -> Option<(usize, &[u8])> {
        let mut normal = connect_set(connect_user_data(tsdu, 0x0e)?)?;
        let (mut accepted, mut ud) = (0usize, None);
        while !normal.is_empty() {
            let (id, c, r) = tlv(normal)?;
            normal = r;
            match id {
                0xa5 => {
                    let mut results = c;
                    while !results.is_empty() {
                        let (0x30, d, r) = tlv(results)? else {
                            return None;
                        };
                        results = r;
                        let (0x80, v, _) = tlv(d)? else { return None };
                        if int(v)? == 0 {
                            accepted += 1;
                        }
                    }
                }
                0x61 => ud = Some(c),
                _ => {}
            }
        }
        Some((accepted, context_name(pdv_lists(ud?, Some(acse))?, 0x61)?))
    }
}

fn p_data(c: &mut Criterion) {
    let limits = Limits::DEFAULT;
    let requests: Vec<Vec<u8>> = tsdus("C>S ")
        .into_iter()
        .filter(|t| t.starts_with(&[0x01, 0x00, 0x01, 0x00]))
        .collect();
    assert_eq!(requests.len(), 4);
    for t in &requests {
        assert!(osi_p_data(t, &limits).is_some());
        assert_eq!(osi_p_data(t, &limits), reference::p_data(t));
    }
    let synthetic = synthetic_p_data(1024);
    assert_eq!(osi_p_data(&synthetic, &limits).map(<[u8]>::len), Some(1024));
    assert_eq!(
        osi_p_data(&synthetic, &limits),
        reference::p_data(&synthetic)
    );

    let mut g = c.benchmark_group("p_data_decode");
    let total: usize = requests.iter().map(Vec::len).sum();
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_with_input(
        BenchmarkId::new("osi_stack", "transcript"),
        &requests,
        |b, rs| {
            b.iter(|| {
                let mut n = 0usize;
                for t in rs {
                    n += osi_p_data(black_box(t), &limits).map_or(0, <[u8]>::len);
                }
                n
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("reference", "transcript"),
        &requests,
        |b, rs| {
            b.iter(|| {
                let mut n = 0usize;
                for t in rs {
                    n += reference::p_data(black_box(t)).map_or(0, <[u8]>::len);
                }
                n
            })
        },
    );
    g.throughput(Throughput::Bytes(synthetic.len() as u64));
    g.bench_with_input(BenchmarkId::new("osi_stack", 1024), &synthetic, |b, t| {
        b.iter(|| osi_p_data(black_box(t), &limits).map(<[u8]>::len))
    });
    g.bench_with_input(BenchmarkId::new("reference", 1024), &synthetic, |b, t| {
        b.iter(|| reference::p_data(black_box(t)).map(<[u8]>::len))
    });
    g.finish();
}

/// The AARQ octets inside a CP (the single-ASN1-type value of its first PDV).
fn aarq_bytes<'a>(cp: &'a [u8], limits: &Limits) -> &'a [u8] {
    let (cp, _) = Cp::decode(cp, limits).unwrap();
    let pdv = cp.normal.unwrap().user_data.unwrap().pdvs().next().unwrap();
    match pdv.values {
        PdvValues::SingleAsn1Type(v) => v,
        other => panic!("{other:?}"),
    }
}

fn connect(c: &mut Criterion) {
    let limits = Limits::DEFAULT;
    let cn = tsdus("C>S ").into_iter().find(|t| t.first() == Some(&0x0d));
    let ac = tsdus("S>C ").into_iter().find(|t| t.first() == Some(&0x0e));
    let (cn, ac) = (
        cn.expect("CN in the transcript"),
        ac.expect("AC in the transcript"),
    );
    let name = osi_cp_aarq(&cn, &limits).expect("CP + AARQ");
    assert_eq!(name, Oid::MMS_APPLICATION_CONTEXT);
    assert_eq!(reference::cp_aarq(&cn), Some(name.as_bytes()));
    let (accepted, name) = osi_cpa_aare(&ac, ContextId::MIN, &limits).expect("CPA + AARE");
    assert_eq!((accepted, name), (2, Oid::MMS_APPLICATION_CONTEXT));
    assert_eq!(
        reference::cpa_aare(&ac, 1),
        Some((accepted, name.as_bytes()))
    );

    let mut g = c.benchmark_group("cp_aarq_decode");
    g.throughput(Throughput::Bytes(cn.len() as u64));
    g.bench_function("osi_stack", |b| {
        b.iter(|| osi_cp_aarq(black_box(&cn), &limits))
    });
    g.bench_function("reference", |b| {
        b.iter(|| reference::cp_aarq(black_box(&cn)))
    });
    // The steps alone: `Cp::decode` of the CN's user data, `Apdu::decode` of the AARQ.
    let cp_bytes = spdus(&cn).next().unwrap().unwrap().user_data().unwrap();
    g.bench_function("osi_stack_cp_only", |b| {
        b.iter(|| Cp::decode(black_box(cp_bytes), &limits).is_ok())
    });
    let aarq = aarq_bytes(cp_bytes, &limits);
    g.bench_function("osi_stack_aarq_only", |b| {
        b.iter(|| Apdu::decode(black_box(aarq), &limits).is_ok())
    });
    g.finish();

    let mut g = c.benchmark_group("cpa_aare_decode");
    g.throughput(Throughput::Bytes(ac.len() as u64));
    g.bench_function("osi_stack", |b| {
        b.iter(|| osi_cpa_aare(black_box(&ac), ContextId::MIN, &limits))
    });
    g.bench_function("reference", |b| {
        b.iter(|| reference::cpa_aare(black_box(&ac), 1))
    });
    g.finish();
}

criterion_group!(benches, p_data, connect);
criterion_main!(benches);
