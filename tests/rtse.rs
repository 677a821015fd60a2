//! RTSE APDUs (X.228) and X.410-1984-mode parameters: golden vectors with tshark 4.0.17's
//! values (`testdata/golden/rtse.json`, made by `testdata/golden/gen_rtse.py` from the three
//! X.400 captures and `testdata/golden/rtse-handbuilt.pcap`), round-trip properties for every
//! APDU type, and malformed inputs that must get specific `rtse` errors.

mod common;
use common::hex;

use osi_stack::presentation::{AbortPpdu, Cp, Cpa, Cpr, Mode};
use osi_stack::rtse::*;
use osi_stack::{DecodeErrorKind, EncodeErrorKind, Layer, Limits};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use serde_json::{Value, json};

const LIM: Limits = Limits::DEFAULT;

fn h(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Golden vectors

fn golden() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/golden/rtse.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn connection_data(e: &mut serde_json::Map<String, Value>, cd: &ConnectionData<'_>) {
    e.insert("connection_data".into(), json!(cd.name()));
    match cd {
        ConnectionData::Open(v) => {
            e.insert("open".into(), json!(v.map(h)));
        }
        ConnectionData::Recover(s) => {
            let (t, v) = match s.calling_ss_user_reference {
                SsUserReference::T61String(b) => ("t61String", b),
                SsUserReference::OctetString(b) => ("octetString", b),
            };
            e.insert(
                "calling_ss_user_reference".into(),
                json!({"type": t, "value": h(v)}),
            );
            e.insert("common_reference".into(), json!(h(s.common_reference)));
            if let Some(a) = s.additional_reference_information {
                e.insert("additional_reference_information".into(), json!(h(a)));
            }
        }
    }
}

/// Our decoded value in the shape of the golden `expect` objects (see
/// `testdata/golden/README.md`): the fields that are on the wire, with tshark's names.
fn as_expect(apdu: &Apdu<'_>) -> Value {
    let mut e = serde_json::Map::new();
    e.insert("type".into(), json!(apdu.name()));
    let mut int = |k: &str, v: Option<i64>| {
        if let Some(v) = v {
            e.insert(k.into(), json!(v));
        }
    };
    match apdu {
        Apdu::Rtorq(a) => {
            int("checkpoint_size", a.checkpoint_size);
            int("window_size", a.window_size);
            int("dialogue_mode", a.dialogue_mode.map(|v| v.0));
            int("application_protocol", a.application_protocol.map(|v| v.0));
            connection_data(&mut e, &a.connection_data);
        }
        Apdu::Rtoac(a) => {
            int("checkpoint_size", a.checkpoint_size);
            int("window_size", a.window_size);
            connection_data(&mut e, &a.connection_data);
        }
        Apdu::Rtorj(a) => {
            int("refuse_reason", a.refuse_reason.map(|v| v.0));
            if let Some(u) = a.user_data {
                e.insert("user_data".into(), json!(h(u)));
            }
        }
        Apdu::Rttp(a) => int("priority", Some(a.priority)),
        Apdu::Rttr(a) => {
            let data: Vec<u8> = a.segments().flatten().copied().collect();
            e.insert("data".into(), json!(h(&data)));
        }
        Apdu::Rtab(a) => {
            int("abort_reason", a.abort_reason.map(|v| v.0));
            if let Some(b) = &a.reflected_parameter {
                e.insert(
                    "reflected_parameter".into(),
                    json!({"unused_bits": b.unused_bits, "data": h(b.data)}),
                );
            }
            if let Some(u) = a.user_data {
                e.insert("user_data".into(), json!(h(u)));
            }
        }
    }
    Value::Object(e)
}

/// Where tshark 4.0.17 and this crate disagree on a golden vector: (source, frame, key of ours
/// that tshark does not show, our value, why). In each case the bytes follow X.228 and tshark's
/// dissector stops short.
const DISAGREEMENTS: &[(&str, u64, &str, &str, &str)] = &[
    (
        "rtse-handbuilt.pcap",
        10,
        "user_data",
        "\"0500\"",
        "tshark's RTSE dissector leaves RTABapdu/userdataAB unimplemented (rtse.cnf: \
         'not implemented yet') and flags the explicit [2] as an unknown SET field",
    ),
    (
        "rtse-handbuilt.pcap",
        17,
        "user_data",
        "\"0500\"",
        "tshark hands userDataRJ to ROS/X.411, which shows nothing for a NULL",
    ),
    (
        "rtse-handbuilt.pcap",
        33,
        "application_protocol",
        "1",
        "open as a bare [0] IMPLICIT NULL (80 00, the crate's encoding before it wrote \
         ISODE's a0 02 80 00; still read, flagged bare_null_open): tshark always unwraps open \
         as explicit, finds no value and dissects nothing after it",
    ),
];

/// Decodes a golden vector: an APDU, or X.410-1984-mode components of the type tshark named.
fn decode_vector<'a>(v: &'a Value, bytes: &'a [u8]) -> Apdu<'a> {
    if v.get("apdu").is_some() {
        return Apdu::decode(bytes, &LIM).unwrap();
    }
    match v["expect"]["type"].as_str().unwrap() {
        "RTORQ" => Rtorq::decode_components(bytes, &LIM).unwrap().into(),
        "RTOAC" => Rtoac::decode_components(bytes, &LIM).unwrap().into(),
        "RTORJ" => Rtorj::decode_components(bytes, &LIM).unwrap().into(),
        "RTAB" => Rtab::decode_components(bytes, &LIM).unwrap().into(),
        t => panic!("no X.410 components of type {t}"),
    }
}

/// Encodes `apdu` (components only for X.410 vectors), checks the size and decodes it again.
fn re_encode_equal(apdu: &Apdu<'_>, x410: bool) {
    let mut out = Vec::new();
    if !x410 {
        apdu.encode(&mut out).unwrap();
        assert_eq!(out.len(), apdu.encoded_len());
        assert_eq!(&Apdu::decode(&out, &LIM).unwrap(), apdu);
        return;
    }
    let back: Apdu<'_> = match apdu {
        Apdu::Rtorq(a) => {
            a.encode_components(&mut out).unwrap();
            assert_eq!(out.len(), a.components_len());
            Rtorq::decode_components(&out, &LIM).unwrap().into()
        }
        Apdu::Rtoac(a) => {
            a.encode_components(&mut out).unwrap();
            assert_eq!(out.len(), a.components_len());
            Rtoac::decode_components(&out, &LIM).unwrap().into()
        }
        Apdu::Rtorj(a) => {
            a.encode_components(&mut out).unwrap();
            assert_eq!(out.len(), a.components_len());
            Rtorj::decode_components(&out, &LIM).unwrap().into()
        }
        Apdu::Rtab(a) => {
            a.encode_components(&mut out).unwrap();
            assert_eq!(out.len(), a.components_len());
            Rtab::decode_components(&out, &LIM).unwrap().into()
        }
        other => panic!("{other:?}"),
    };
    // `==` ignores bare_null_open: the tolerated `80 00` reads back as the same value.
    assert_eq!(&back, apdu);
}

#[test]
fn golden_vectors_match_tshark() {
    let g = golden();
    assert!(g["tshark"].as_str().unwrap().contains("4.0.17"));
    let vectors = g["vectors"].as_array().unwrap();
    let mut types = std::collections::BTreeSet::new();
    let mut disagreements = 0;
    for v in vectors {
        let source = v["source"].as_str().unwrap();
        let frame = v["frame"].as_u64().unwrap();
        let x410 = v.get("x410_components").is_some();
        let bytes = hex(v["apdu"]
            .as_str()
            .or(v["x410_components"].as_str())
            .unwrap());
        let apdu = decode_vector(v, &bytes);
        let mut ours = as_expect(&apdu);
        for (src, f, key, value, why) in DISAGREEMENTS {
            if *src == source && *f == frame {
                let removed = ours.as_object_mut().unwrap().remove(*key);
                assert_eq!(
                    removed.map(|r| r.to_string()).as_deref(),
                    Some(*value),
                    "{source} #{frame}: {why}"
                );
                assert!(v["expect"].get(*key).is_none(), "{source} #{frame} {key}");
                disagreements += 1;
            }
        }
        assert_eq!(ours, v["expect"], "{source} frame {frame}");
        re_encode_equal(&apdu, x410);
        types.insert((apdu.name(), x410));
    }
    assert_eq!(disagreements, DISAGREEMENTS.len());
    // Every APDU type in normal mode, and the four X.410-mode parameter sets.
    for t in ["RTORQ", "RTOAC", "RTORJ", "RTTP", "RTTR", "RTAB"] {
        assert!(types.contains(&(t, false)), "{t}");
    }
    for t in ["RTORQ", "RTOAC", "RTORJ", "RTAB"] {
        assert!(types.contains(&(t, true)), "x410 {t}");
    }
    // Capture vectors: 4 RTORQ, 2 RTOAC, 2 RTORJ, 1 RTTR (MANIFEST's rtse.* counts).
    let in_captures = vectors
        .iter()
        .filter(|v| v["source"].as_str().unwrap().starts_with("x400-rtse"))
        .count();
    assert_eq!(in_captures, 9);
}

/// The capture values spelled out (x400-ping-success, p772-transfer-success), so a reader sees
/// what the golden file holds.
#[test]
fn capture_apdus_by_hand() {
    // x400-ping-success frame 6: RTORQ, checkpointSize 63, monologue, open = ROS bind-invoke.
    let rq = hex(
        "b03080013f820100a328a026b024a1228013706572636976616c2e736d68732e636f2e756ba10b1609657863616c69627572",
    );
    let r = Rtorq::decode(&rq, &LIM).unwrap();
    assert_eq!(r.checkpoint_size, Some(63));
    assert_eq!(r.window_size, None);
    assert_eq!(r.window_size_or_default(), DEFAULT_WINDOW_SIZE);
    assert_eq!(r.dialogue_mode, Some(DialogueMode::MONOLOGUE));
    assert_eq!(r.application_protocol, None);
    let ConnectionData::Open(Some(open)) = r.connection_data else {
        panic!("{r:?}")
    };
    assert_eq!(open, &rq[12..]);
    assert_eq!(open[0], 0xb0);
    // p772 frame 6: recovery of the session "Percival" / 051001145108Z.
    let rq = hex("b02380013f820100a31ba1191408506572636976616c170d3035313030313134353130385a");
    let r = Rtorq::decode(&rq, &LIM).unwrap();
    let ConnectionData::Recover(sci) = r.connection_data else {
        panic!()
    };
    assert_eq!(
        sci.calling_ss_user_reference,
        SsUserReference::T61String(b"Percival")
    );
    assert_eq!(sci.common_reference, b"051001145108Z");
    assert_eq!(sci.additional_reference_information, None);
    // p772 frame 7: RTORJ carrying an X.411 MTA-bind error.
    let rj = hex("b207a105b203020100");
    assert_eq!(
        Rtorj::decode(&rj, &LIM).unwrap(),
        Rtorj {
            refuse_reason: None,
            user_data: Some(&rj[4..]),
        }
    );
    // p772 frame 20: RTTR as an indefinite constructed OCTET STRING of three segments.
    let g = golden();
    let tr = g["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["expect"]["type"] == "RTTR" && v["source"] != "rtse-handbuilt.pcap")
        .unwrap();
    let bytes = hex(tr["apdu"].as_str().unwrap());
    let t = Rttr::decode(&bytes, &LIM).unwrap();
    assert!(t.is_constructed());
    assert_eq!(t.as_slice(), None);
    let lens: Vec<usize> = t.segments().map(<[u8]>::len).collect();
    assert_eq!(lens, [327, 439, 8]);
    assert_eq!(t.len(), 774);
    // The transferred APDU is an EXTERNAL on context 5 (id-as-mtse).
    assert_eq!(
        t.segments().next().unwrap()[..5],
        [0x28, 0x80, 0x02, 0x01, 0x05]
    );
    // Re-encoded in the primitive form, it is the same value.
    let mut out = Vec::new();
    t.encode(&mut out).unwrap();
    assert_eq!(&out[..4], &[0x04, 0x82, 0x03, 0x06]);
    let back = Rttr::decode(&out, &LIM).unwrap();
    assert!(!back.is_constructed());
    assert_eq!(back, t);
    assert_eq!(back.as_slice().unwrap().len(), 774);
}

// ---------------------------------------------------------------------------------------------
// X.410-1984 mode through the presentation types

#[test]
fn x410_mode_ppdus() {
    // the PConnect example of docs/protocol-notes.md §5: CP with open = [0] IMPLICIT NULL.
    let p9 = hex("31 14 a0 03 80 01 00 a1 0d 80 01 1e 81 01 05 a3 02 80 00 84 01 01");
    let (cp, _) = Cp::decode(&p9, &LIM).unwrap();
    assert_eq!(cp.mode, Mode::X410_1984);
    let rq = Rtorq::from_cp(&cp, &LIM).unwrap().unwrap();
    assert_eq!(rq.checkpoint_size, Some(30));
    assert_eq!(rq.window_size, Some(5));
    assert_eq!(rq.dialogue_mode_or_default(), DialogueMode::MONOLOGUE);
    assert_eq!(rq.connection_data, ConnectionData::Open(None));
    assert_eq!(
        rq.application_protocol,
        Some(ApplicationProtocol::MTS_TRANSFER_PROTOCOL_1984)
    );
    // The variant tshark decodes cleanly: open = MTABindArgument NULL.
    let v = hex("31 16 a0 03 80 01 00 a1 0f 80 01 1e 81 01 05 a3 04 a0 02 05 00 84 01 01");
    let (cp, _) = Cp::decode(&v, &LIM).unwrap();
    let rq2 = Rtorq::from_cp(&cp, &LIM).unwrap().unwrap();
    assert_eq!(rq2.connection_data, ConnectionData::Open(Some(&[5, 0][..])));
    // CPA (PAccept), CPR (PRefuse) and ARU (AbortInformation).
    let cpa = hex("31 0e a0 03 80 01 00 a1 07 80 01 1e a2 02 80 00");
    let ac = Rtoac::from_cpa(&Cpa::decode(&cpa, &LIM).unwrap(), &LIM)
        .unwrap()
        .unwrap();
    assert_eq!(ac.checkpoint_size, Some(30));
    assert_eq!(ac.connection_data, ConnectionData::Open(None));
    let cpr_bytes = hex("31 03 80 01 03");
    let cpr = Cpr::decode(&cpr_bytes, &LIM).unwrap();
    assert_eq!(
        Rtorj::from_cpr(&cpr, &LIM).unwrap().unwrap().refuse_reason,
        Some(RefuseReason::UNACCEPTABLE_DIALOGUE_MODE)
    );
    let aru_bytes = hex("31 07 80 01 01 81 02 07 80");
    let aru = AbortPpdu::decode(&aru_bytes, &LIM).unwrap();
    let ab = Rtab::from_abort(&aru, &LIM).unwrap().unwrap();
    assert_eq!(ab.abort_reason, Some(AbortReason::INVALID_PARAMETER));
    assert_eq!(
        ab.reflected_parameter,
        Some(BitString {
            unused_bits: 7,
            data: &[0x80]
        })
    );
    // Normal-mode PPDUs carry no X.410 parameters.
    let normal = hex("31 0a a0 03 80 01 01 a2 03 81 01 01");
    let (cp, _) = Cp::decode(&normal, &LIM).unwrap();
    assert_eq!(Rtorq::from_cp(&cp, &LIM).unwrap(), None);
    let arp_bytes = hex("30 03 80 01 01");
    let arp = AbortPpdu::decode(&arp_bytes, &LIM).unwrap();
    assert_eq!(Rtab::from_abort(&arp, &LIM).unwrap(), None);
    // Errors in the parameters count from the start of the components: the length octet of
    // `81` is missing at offset 4.
    let bad = hex("31 0b a0 03 80 01 00 a1 04 80 01 1e 81");
    let (cp, _) = Cp::decode(&bad[..], &LIM).unwrap_or_else(|e| panic!("{e}"));
    let e = Rtorq::from_cp(&cp, &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Rtse);
    assert_eq!(e.offset(), 4);
    assert!(e.is_truncated());
}

// ---------------------------------------------------------------------------------------------
// Codes

#[test]
fn codes_are_open_and_print() {
    assert_eq!(DialogueMode::TWA.to_string(), "twa");
    assert_eq!(DialogueMode(7).to_string(), "7");
    assert_eq!(DialogueMode(7).name(), None);
    assert_eq!(RefuseReason::RTS_BUSY.to_string(), "rtsBusy");
    assert_eq!(
        AbortReason::TRANSFER_COMPLETED.to_string(),
        "transferCompleted"
    );
    assert_eq!(AbortReason(-3).to_string(), "-3");
    assert_eq!(
        ApplicationProtocol(1).name(),
        Some("mts-transfer-protocol-1984")
    );
    // An unknown dialogue mode survives a round trip.
    let rq = Rtorq {
        dialogue_mode: Some(DialogueMode(99)),
        ..Rtorq::new(ConnectionData::Open(None))
    };
    let mut out = Vec::new();
    rq.encode(&mut out).unwrap();
    assert_eq!(out, hex("b0 09 82 01 63 a3 04 a0 02 80 00"));
    assert_eq!(Rtorq::decode(&out, &LIM).unwrap(), rq);
}

// ---------------------------------------------------------------------------------------------
// Malformed input: specific `rtse` errors, never a panic

fn err(input: &[u8]) -> osi_stack::DecodeError {
    let e = Apdu::decode(input, &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Rtse, "{e}");
    e
}

#[test]
fn truncated_inputs() {
    let e = err(&[]);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Truncated {
            what: "rtse apdu",
            needed: 1,
            available: 0
        }
    );
    // Every proper prefix of a capture RTORQ fails, with an offset within the input (at most
    // its end, where the missing octet would be).
    let rq = hex("b02380013f820100a31ba1191408506572636976616c170d3035313030313134353130385a");
    for n in 1..rq.len() {
        let e = err(&rq[..n]);
        assert!(e.offset() <= n, "{n}: {e}");
        assert!(
            matches!(
                e.kind(),
                DecodeErrorKind::Truncated { .. } | DecodeErrorKind::Overrun { .. }
            ),
            "{n}: {e}"
        );
    }
    // The SET claims 0x23 octets, 5 are there.
    let e = err(&rq[..7]);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Overrun {
            what: "ber element",
            declared: 0x23,
            available: 5
        }
    );
    assert_eq!(e.offset(), 0);
    // Indefinite length without end-of-contents.
    let e = err(&hex("24 80 04 01 aa"));
    assert!(e.is_truncated(), "{e}");
    assert_eq!(e.offset(), 5);
    // An INTEGER field with no contents.
    let e = err(&hex("b0 06 80 00 a3 02 80 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Ber {
            what: "empty integer"
        }
    );
    assert_eq!(e.offset(), 2);
}

#[test]
fn overlong_inputs() {
    // A length of 5 length octets is refused, not read as a huge number.
    let e = err(&hex("b0 85 01 00 00 00 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Ber {
            what: "length of length over 4 octets"
        }
    );
    // A 4-octet length claiming 4 GiB fails at once, allocating nothing.
    let e = err(&hex("04 84 ff ff ff ff 00"));
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Overrun {
            declared: 0xffff_ffff,
            available: 1,
            ..
        }
    ));
    // An INTEGER of 9 octets.
    let e = err(&hex("02 09 01 00 00 00 00 00 00 00 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Ber {
            what: "integer longer than 8 octets"
        }
    );
    // An inner length past its SET: the window size claims 3 octets, 1 is left.
    let e = err(&hex("b1 07 a2 02 80 00 81 03 05"));
    assert_eq!(e.offset(), 6);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Overrun {
            declared: 3,
            available: 1,
            ..
        }
    ));
    // Bytes after the APDU.
    let e = err(&hex("02 01 05 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::TrailingData {
            what: "rtse apdu",
            len: 1
        }
    );
    assert_eq!(e.offset(), 3);
    // Two values inside one explicit ANY.
    let e = err(&hex("b2 06 a1 04 05 00 05 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::TrailingData {
            what: "userDataRJ",
            len: 2
        }
    );
}

#[test]
fn deep_nesting() {
    // 40 nested indefinite constructed OCTET STRINGs: over max_ber_depth (32).
    let mut deep: Vec<u8> = std::iter::repeat_n([0x24u8, 0x80], 40).flatten().collect();
    deep.extend(std::iter::repeat_n(0u8, 80));
    let e = err(&deep);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LimitExceeded {
            limit: "max_ber_depth",
            max: 32
        }
    ));
    // The same with definite lengths: refused when descending.
    let mut def = vec![0x04, 0x00];
    for _ in 0..40 {
        let mut outer = vec![0x24, def.len() as u8];
        outer.extend(&def);
        def = outer;
        if def.len() > 120 {
            break;
        }
    }
    let e = err(&def);
    assert!(
        matches!(e.kind(), DecodeErrorKind::LimitExceeded { .. }),
        "{e}"
    );
    // Within a configured limit of 4, 3 levels of segments are fine and iterate flat.
    let ok = hex("24 0b 24 06 24 04 04 02 aa bb 04 01 cc");
    let lim = Limits::default().with_max_ber_depth(4);
    let t = Rttr::decode(&ok, &lim).unwrap();
    let segs: Vec<&[u8]> = t.segments().collect();
    assert_eq!(segs, [&[0xaa, 0xbb][..], &[0xcc][..]]);
    let e = Rttr::decode(&ok, &Limits::default().with_max_ber_depth(3)).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::LimitExceeded { .. }));
    // Deep nesting inside the open ANY of an RTORQ (indefinite lengths are searched).
    let mut rq = hex("b0 80 a3 80 a0 80");
    rq.extend(std::iter::repeat_n([0x30u8, 0x80], 40).flatten());
    rq.extend(std::iter::repeat_n(0u8, 86));
    let e = err(&rq);
    assert!(matches!(e.kind(), DecodeErrorKind::LimitExceeded { .. }));
}

#[test]
fn structural_errors() {
    // Unknown APDU tag (a ROSE invoke, [1]).
    let e = err(&hex("a1 03 02 01 01"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::UnexpectedCode {
            what: "rtse apdu tag",
            code: 0xa1
        }
    );
    // The per-type entry points want their own tag.
    let e = Rtorq::decode(&hex("b1 04 a2 02 80 00"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::UnexpectedCode {
            what: "tag instead of rtorq-apdu",
            code: 0xb1
        }
    );
    assert!(Rttp::decode(&hex("04 00"), &LIM).is_err());
    assert!(Rttr::decode(&hex("02 01 00"), &LIM).is_err());
    assert!(Rtab::decode(&hex("b2 00"), &LIM).is_err());
    assert!(Rtoac::decode(&hex("b0 00"), &LIM).is_err());
    assert!(Rtorj::decode(&hex("b6 00"), &LIM).is_err());
    // Mandatory connection data.
    let e = err(&hex("b0 03 80 01 01"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "connectionDataRQ"
        }
    );
    let e = err(&hex("b1 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "connectionDataAC"
        }
    );
    // An empty connection data wrapper, an unknown choice, NULL with contents.
    let e = err(&hex("b0 02 a3 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "connection data"
        }
    );
    let e = err(&hex("b0 04 a3 02 82 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::UnexpectedCode {
            what: "connection data tag",
            code: 0x82
        }
    );
    assert_eq!(e.offset(), 4);
    let e = err(&hex("b0 05 a3 03 80 01 00"));
    assert!(matches!(e.kind(), DecodeErrorKind::Ber { .. }));
    // A primitive connection data wrapper.
    let e = err(&hex("b0 02 83 00"));
    assert!(matches!(e.kind(), DecodeErrorKind::Ber { .. }));
    // Recover without its common reference; a constructed T61String.
    let e = err(&hex("b0 07 a3 05 a1 03 14 01 41"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "common reference"
        }
    );
    let e = err(&hex("b0 0a a3 08 a1 06 34 04 14 02 41 42"));
    assert!(matches!(e.kind(), DecodeErrorKind::Ber { .. }));
    let e = err(&hex("b0 07 a3 05 a1 03 02 01 00"));
    assert!(matches!(e.kind(), DecodeErrorKind::UnexpectedCode { .. }));
    // A constructed RTTR with a segment of another type.
    let e = err(&hex("24 05 04 01 aa 02 00"));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Ber {
            what: "octet string segment of another type"
        }
    );
    assert_eq!(e.offset(), 5);
    // Bad bit strings in reflectedParameter.
    assert!(matches!(
        err(&hex("b6 02 81 00")).kind(),
        DecodeErrorKind::Ber { .. }
    ));
    assert!(matches!(
        err(&hex("b6 03 81 01 08")).kind(),
        DecodeErrorKind::Ber { .. }
    ));
    // An empty userdataAB.
    let e = err(&hex("b6 02 a2 00"));
    assert_eq!(*e.kind(), DecodeErrorKind::Missing { what: "userdataAB" });
}

#[test]
fn lenient_where_peers_differ() {
    // Unknown SET elements (ISODE's X.410 protocolVersion [5]) are skipped.
    let c = hex("a3 04 a0 02 80 00 85 01 01 9f 20 00");
    let rq = Rtorq::decode_components(&c, &LIM).unwrap();
    assert_eq!(rq, Rtorq::new(ConnectionData::Open(None)));
    // open as a bare [0] NULL (the crate's encoding before): tolerated and flagged.
    let c = hex("a3 02 80 00");
    let rq = Rtorq::decode_components(&c, &LIM).unwrap();
    assert_eq!(rq.connection_data, ConnectionData::Open(None));
    assert!(rq.bare_null_open);
    let rq_flagged = Rtorq {
        bare_null_open: true,
        ..Rtorq::new(ConnectionData::Open(None))
    };
    assert_eq!(rq, rq_flagged);
    // An empty explicit open reads as no user data, and is written as ISODE writes it
    // (rt2psinitiat.c: [0] around [0] IMPLICIT NULL).
    let ac = hex("b1 04 a2 02 a0 00");
    let e = Rtoac::decode(&ac, &LIM).unwrap();
    assert_eq!(e.connection_data, ConnectionData::Open(None));
    assert!(!e.bare_null_open);
    let mut out = Vec::new();
    e.encode(&mut out).unwrap();
    assert_eq!(out, hex("b1 06 a2 04 a0 02 80 00"));
    // The flag is not written: a flagged RTOAC encodes the standard way.
    let bare = hex("b1 04 a2 02 80 00");
    let flagged = Rtoac::decode(&bare, &LIM).unwrap();
    assert!(flagged.bare_null_open);
    let mut out2 = Vec::new();
    flagged.encode(&mut out2).unwrap();
    assert_eq!(out2, out);
    // Indefinite lengths everywhere.
    let ind = hex("b6 80 80 01 04 a2 80 05 00 00 00 00 00");
    let ab = Rtab::decode(&ind, &LIM).unwrap();
    assert_eq!(ab.abort_reason, Some(AbortReason::PROTOCOL_ERROR));
    assert_eq!(ab.user_data, Some(&[5, 0][..]));
    // An empty RTTR, and the empty constructed form, are the same value.
    let (pa, pb) = (hex("04 00"), hex("24 80 00 00"));
    let a = Rttr::decode(&pa, &LIM).unwrap();
    let b = Rttr::decode(&pb, &LIM).unwrap();
    assert!(a.is_empty() && b.is_empty());
    assert_eq!(a, b);
    assert_eq!(b.segments().count(), 0);
}

#[test]
fn encoders_refuse_short_buffers() {
    let rq = Rtorq {
        checkpoint_size: Some(30),
        window_size: Some(5),
        dialogue_mode: Some(DialogueMode::TWA),
        connection_data: ConnectionData::Recover(SessionConnectionIdentifier {
            calling_ss_user_reference: SsUserReference::OctetString(b"ref"),
            common_reference: b"991231235959Z",
            additional_reference_information: Some(b"x"),
        }),
        application_protocol: Some(ApplicationProtocol(1)),
        bare_null_open: false,
    };
    let apdus: [Apdu<'_>; 6] = [
        rq.into(),
        Rtoac::new(ConnectionData::Open(Some(&[5, 0]))).into(),
        Rtorj {
            refuse_reason: Some(RefuseReason::RTS_BUSY),
            user_data: Some(&[5, 0]),
        }
        .into(),
        Rttp { priority: -1 }.into(),
        Rttr::new(b"data").into(),
        Rtab {
            abort_reason: Some(AbortReason::USER_ERROR),
            reflected_parameter: Some(BitString {
                unused_bits: 0,
                data: &[0xff],
            }),
            user_data: Some(&[5, 0]),
        }
        .into(),
    ];
    for a in apdus {
        let n = a.encoded_len();
        for room in 0..n {
            let mut buf = vec![0u8; room];
            let e = a.encode(&mut &mut buf[..]).unwrap_err();
            assert_eq!(e.layer(), Layer::Rtse);
            assert!(matches!(e.kind(), EncodeErrorKind::BufferTooSmall { .. }));
        }
        let mut buf = vec![0u8; n];
        a.encode(&mut &mut buf[..]).unwrap();
        assert_eq!(Apdu::decode(&buf, &LIM).unwrap(), a);
    }
}

// ---------------------------------------------------------------------------------------------
// Round-trip properties: encode a value, decode it, compare values

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// A BER value for the ANY fields: one element (an OCTET STRING or a constructed wrapper).
fn any_value() -> impl Strategy<Value = Vec<u8>> {
    (bytes(40), any::<bool>()).prop_map(|(b, wrap)| {
        let mut v = vec![0x04, b.len() as u8];
        v.extend(&b);
        if wrap {
            let mut w = vec![0x30, v.len() as u8];
            w.extend(&v);
            w
        } else {
            v
        }
    })
}

/// (open: Some(None) = no user data, Some(Some(v)) = value; None = recover) and the recover
/// material.
type CdSeed = (
    Option<Option<Vec<u8>>>,
    bool,
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
);

fn cd_seed() -> impl Strategy<Value = CdSeed> {
    (
        of(of(any_value())),
        any::<bool>(),
        bytes(20),
        bytes(16),
        of(bytes(10)),
    )
}

fn cd(s: &CdSeed) -> ConnectionData<'_> {
    match &s.0 {
        Some(open) => ConnectionData::Open(open.as_deref()),
        None => ConnectionData::Recover(SessionConnectionIdentifier {
            calling_ss_user_reference: if s.1 {
                SsUserReference::T61String(&s.2)
            } else {
                SsUserReference::OctetString(&s.2)
            },
            common_reference: &s.3,
            additional_reference_information: s.4.as_deref(),
        }),
    }
}

/// Both encodings of a value: the APDU and, for the SET types, the X.410 components.
fn check(a: &Apdu<'_>) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    a.encode(&mut out).unwrap();
    prop_assert_eq!(out.len(), a.encoded_len());
    prop_assert_eq!(&Apdu::decode(&out, &LIM).unwrap(), a);
    let mut c = Vec::new();
    let back: Option<Apdu<'_>> = match a {
        Apdu::Rtorq(v) => {
            v.encode_components(&mut c).unwrap();
            Some(Rtorq::decode_components(&c, &LIM).unwrap().into())
        }
        Apdu::Rtoac(v) => {
            v.encode_components(&mut c).unwrap();
            Some(Rtoac::decode_components(&c, &LIM).unwrap().into())
        }
        Apdu::Rtorj(v) => {
            v.encode_components(&mut c).unwrap();
            Some(Rtorj::decode_components(&c, &LIM).unwrap().into())
        }
        Apdu::Rtab(v) => {
            v.encode_components(&mut c).unwrap();
            Some(Rtab::decode_components(&c, &LIM).unwrap().into())
        }
        Apdu::Rttp(_) | Apdu::Rttr(_) => None,
    };
    if let Some(b) = back {
        prop_assert_eq!(&b, a);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rtorq_roundtrip(
        ints in (of(any::<i64>()), of(any::<i64>()), of(any::<i64>()), of(any::<i64>())),
        seed in cd_seed(),
    ) {
        let a = Rtorq {
            checkpoint_size: ints.0,
            window_size: ints.1,
            dialogue_mode: ints.2.map(DialogueMode),
            connection_data: cd(&seed),
            application_protocol: ints.3.map(ApplicationProtocol),
            bare_null_open: false,
        };
        check(&a.into())?;
        // The typed entry point agrees with the enum.
        let mut out = Vec::new();
        a.encode(&mut out).unwrap();
        prop_assert_eq!(Rtorq::decode(&out, &LIM).unwrap(), a);
    }

    #[test]
    fn rtoac_roundtrip(ints in (of(any::<i64>()), of(any::<i64>())), seed in cd_seed()) {
        let a = Rtoac {
            checkpoint_size: ints.0,
            window_size: ints.1,
            connection_data: cd(&seed),
            bare_null_open: false,
        };
        check(&a.into())?;
        let mut out = Vec::new();
        a.encode(&mut out).unwrap();
        prop_assert_eq!(Rtoac::decode(&out, &LIM).unwrap(), a);
    }

    #[test]
    fn rtorj_roundtrip(reason in of(any::<i64>()), ud in of(any_value())) {
        let a = Rtorj { refuse_reason: reason.map(RefuseReason), user_data: ud.as_deref() };
        check(&a.into())?;
        let mut out = Vec::new();
        a.encode(&mut out).unwrap();
        prop_assert_eq!(Rtorj::decode(&out, &LIM).unwrap(), a);
    }

    #[test]
    fn rtab_roundtrip(
        reason in of(any::<i64>()),
        reflected in of((0u8..8, bytes(3))),
        ud in of(any_value()),
    ) {
        let reflected_parameter = reflected.as_ref().map(|(u, d)| BitString {
            unused_bits: if d.is_empty() { 0 } else { *u },
            data: d,
        });
        let a = Rtab { abort_reason: reason.map(AbortReason), reflected_parameter, user_data: ud.as_deref() };
        check(&a.into())?;
        let mut out = Vec::new();
        a.encode(&mut out).unwrap();
        prop_assert_eq!(Rtab::decode(&out, &LIM).unwrap(), a);
    }

    #[test]
    fn rttp_roundtrip(priority in any::<i64>()) {
        let a = Rttp { priority };
        check(&a.into())?;
        let mut out = Vec::new();
        a.encode(&mut out).unwrap();
        prop_assert_eq!(Rttp::decode(&out, &LIM).unwrap(), a);
    }

    #[test]
    fn rttr_roundtrip(data in bytes(300), cut in vec(0usize..300, 0..4)) {
        let a = Rttr::new(&data);
        check(&a.into())?;
        prop_assert_eq!(a.len(), data.len());
        // The same octets as a constructed string cut at arbitrary points: the same value.
        let mut cuts: Vec<usize> = cut.into_iter().map(|c| c.min(data.len())).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut content = Vec::new();
        for w in cuts.windows(2) {
            let seg = &data[w[0]..w[1]];
            content.push(0x04);
            content.extend(der_len(seg.len()));
            content.extend(seg);
        }
        let mut cons = vec![0x24, 0x80];
        cons.extend(&content);
        cons.extend([0, 0]);
        let b = Rttr::decode(&cons, &LIM).unwrap();
        prop_assert!(b.is_constructed());
        prop_assert_eq!(b, a);
        prop_assert_eq!(b.segments().count(), cuts.len() - 1);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in bytes(64)) {
        if let Ok(a) = Apdu::decode(&data, &LIM) {
            check(&a)?;
        }
        for f in [
            |d| Rtorq::decode_components(d, &LIM).is_ok(),
            |d| Rtoac::decode_components(d, &LIM).is_ok(),
            |d| Rtorj::decode_components(d, &LIM).is_ok(),
            |d| Rtab::decode_components(d, &LIM).is_ok(),
        ] as [fn(&[u8]) -> bool; 4] {
            let _ = f(&data);
        }
    }
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}
