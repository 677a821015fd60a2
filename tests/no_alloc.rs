//! Decoding a TPKT + DT frame or a CR with TSAPs allocates nothing: a counting global allocator
//! proves it. Counting is armed and counted per thread, so the harness's allocations and the
//! other tests running beside this one on other threads do not interfere.

mod common;
use common::alloc::count;
use common::cid;

use osi_stack::cotp::{Reassembler, Tpdu, class0};
use osi_stack::tpkt::{Tpkt, TpktFrames};

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

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

fn bench_frame(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/bench")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The DT stream of `benches/compare.rs`: 16 frames of `n` octets, EOT on every `eot_every`-th.
fn dt_stream(n: usize, eot_every: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..16 {
        s.extend_from_slice(&[0x03, 0x00]);
        s.extend_from_slice(&u16::try_from(n + 7).unwrap().to_be_bytes());
        s.extend_from_slice(&[0x02, 0xf0, if (i + 1) % eot_every == 0 { 0x80 } else { 0 }]);
        s.extend(std::iter::repeat_n(0xa5, n));
    }
    s
}

/// Every decode row of `benches/compare.rs`, through the same calls, on the same frames
/// (`testdata/bench/`), and the single-DT TSDU path of both reassembler calls: 0 allocations.
#[test]
fn every_compare_row_allocates_nothing() {
    use osi_stack::acse::Apdu;
    use osi_stack::cotp::Data;
    use osi_stack::presentation::{Cp, PdvValues, UserData};
    use osi_stack::session::spdus;

    let limits = osi_stack::Limits::default();
    let (_, n) = count(|| std::hint::black_box(vec![1u8; 16]));
    assert_eq!(n, 1, "the counter counts");

    // DT rows.
    for size in [0usize, 64, 1024] {
        let s = dt_stream(size, 1);
        let (octets, n) = count(|| {
            let (mut rest, mut octets) = (&s[..], 0);
            while !rest.is_empty() {
                let (t, r) = Tpkt::decode(rest).unwrap();
                let Ok(Tpdu::Dt(dt)) = Tpdu::decode(t.payload) else {
                    panic!("not a DT")
                };
                octets += dt.user_data.len();
                rest = r;
            }
            octets
        });
        assert_eq!((octets, n), (16 * size, 0), "dt/{size}");
    }

    // DT + reassembly, EOT every 4th: the reassembler's buffer grows on the first TSDU only.
    let s = dt_stream(64, 4);
    let mut r = Reassembler::new(limits);
    let run = |r: &mut Reassembler| {
        let (mut rest, mut tsdus) = (&s[..], 0);
        while !rest.is_empty() {
            let (t, next) = Tpkt::decode(rest).unwrap();
            let Ok(Tpdu::Dt(dt)) = Tpdu::decode(t.payload) else {
                panic!("not a DT")
            };
            if let Some(tsdu) = r.push_borrowed(&dt).unwrap() {
                assert_eq!(tsdu.len(), 256);
                tsdus += 1;
            }
            rest = next;
        }
        tsdus
    };
    run(&mut r);
    assert_eq!(count(|| run(&mut r)), (4, 0), "dt_reassembly/64");

    // The single-DT TSDU, through push and push_borrowed.
    let data = [7u8; 100];
    let dt = Data::class0(&data, true);
    let (len, n) = count(|| {
        r.push(&dt).unwrap().unwrap().len() + r.push_borrowed(&dt).unwrap().unwrap().len()
    });
    assert_eq!((len, n), (200, 0), "single-DT TSDU");

    // CR through the one-walk view.
    let cr = bench_frame("cr.hex");
    let (v, n) = count(|| {
        let t = Tpkt::decode_exact(&cr).unwrap();
        let Ok(Tpdu::Cr(cr)) = Tpdu::decode(t.payload) else {
            panic!("not a CR")
        };
        let p = cr.parameters();
        (p.called_tsel, p.calling_tsel, p.tpdu_size.map(|s| s.0))
    });
    assert_eq!(v, (Some(&[0u8, 1][..]), Some(&[0u8, 1][..]), Some(0x0d)));
    assert_eq!(n, 0, "cr");

    // RDP CR.
    let rdp = bench_frame("rdp_cr.hex");
    let (len, n) = count(|| {
        let t = Tpkt::decode_exact(&rdp).unwrap();
        let Ok(Tpdu::Cr(cr)) = Tpdu::decode(t.payload) else {
            panic!("not a CR")
        };
        cr.header_data.len()
    });
    assert_eq!((len, n), (36, 0), "rdp_cr");

    // MMS data frame.
    let frame = bench_frame("mms_data.hex");
    let (v, n) = count(|| {
        let t = Tpkt::decode_exact(&frame).unwrap();
        let Ok(Tpdu::Dt(dt)) = Tpdu::decode(t.payload) else {
            panic!("not a DT")
        };
        let mut it = spdus(dt.user_data);
        it.next().unwrap().unwrap();
        let sdt = it.next().unwrap().unwrap();
        let ud = UserData::decode(sdt.user_information(), &limits).unwrap();
        let pdv = ud.pdvs().next().unwrap();
        let PdvValues::SingleAsn1Type(v) = pdv.values else {
            panic!("not single-ASN1-type")
        };
        (pdv.context_id, v.len())
    });
    assert_eq!((v, n), ((cid(3), 16), 0), "mms_data");

    // Association request: CN → CP → contexts → AARQ.
    let cn = bench_frame("cn.hex");
    let (v, n) = count(|| {
        let t = Tpkt::decode_exact(&cn).unwrap();
        let Ok(Tpdu::Dt(dt)) = Tpdu::decode(t.payload) else {
            panic!("not a DT")
        };
        let spdu = spdus(dt.user_data).next().unwrap().unwrap();
        let (cp, _) = Cp::decode(spdu.user_data().unwrap(), &limits).unwrap();
        let normal = cp.normal.unwrap();
        let contexts = normal.context_definitions.unwrap().iter().count();
        let pdv = normal.user_data.unwrap().pdvs().next().unwrap();
        let PdvValues::SingleAsn1Type(v) = pdv.values else {
            panic!("not single-ASN1-type")
        };
        let Ok(Apdu::Aarq(aarq)) = Apdu::decode(v, &limits) else {
            panic!("not an AARQ")
        };
        (contexts, aarq.application_context_name.as_bytes().len())
    });
    assert_eq!((v, n), ((2, 5), 0), "association_request");

    // DT encode into a buffer with room.
    let mut out = Vec::with_capacity(128);
    let payload = [0x5au8; 64];
    let (len, n) = count(|| {
        let dt = Tpdu::Dt(Data::class0(&payload, true));
        osi_stack::tpkt::encode_header(dt.encoded_len(), &mut out).unwrap();
        dt.encode(&mut out).unwrap();
        out.len()
    });
    assert_eq!((len, n), (71, 0), "dt_encode/64");
}
