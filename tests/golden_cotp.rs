//! Golden vectors: every distinct CR/CC/DR/DC/DT shape in `testdata/captures` and
//! `testdata/transcripts`, with the field values tshark 4.0.17 shows for the same bytes
//! (`testdata/golden/cotp.json`, generated once by `testdata/golden/gen_cotp.py`; the tests need no
//! tshark). Decoding must give tshark's values, and encoding the decoded value must give the same
//! bytes back.

mod common;
use common::hex;

use osi_stack::cotp::{Tpdu, TpduKind};
use osi_stack::tpkt::Tpkt;
use serde_json::Value;

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/golden/cotp.json");
    let text = std::fs::read_to_string(path).expect("testdata/golden/cotp.json");
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn u64_of(v: &Value, key: &str) -> Option<u64> {
    v.get(key).map(|x| x.as_u64().unwrap())
}

#[test]
fn decode_matches_tshark_and_reencodes_identically() {
    let vectors = vectors();
    assert!(vectors.len() >= 90, "expected the full vector set");
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for v in &vectors {
        let name = format!("{} frame {}", v["source"], v["frame"]);
        let exp = &v["expect"];
        let bytes = hex(v["tpkt"].as_str().unwrap());
        let tpkt = Tpkt::decode_exact(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            u64_of(exp, "tpkt_length"),
            Some(bytes.len() as u64),
            "{name}"
        );
        let tpdu = Tpdu::decode(tpkt.payload).unwrap_or_else(|e| panic!("{name}: {e}"));
        *seen.entry(tpdu.kind().name()).or_default() += 1;
        assert_eq!(tpdu.kind().name(), v["tpdu"].as_str().unwrap(), "{name}");

        // Header fields.
        assert_eq!(
            u64_of(exp, "li"),
            Some(tpdu.header_len() as u64),
            "{name}: li"
        );
        assert_eq!(
            u64_of(exp, "type"),
            Some(u64::from(tpdu.code().0 >> 4)),
            "{name}: type"
        );
        match &tpdu {
            Tpdu::Cr(c) | Tpdu::Cc(c) => {
                assert_eq!(u64_of(exp, "dst_ref"), Some(u64::from(c.dst_ref)), "{name}");
                assert_eq!(u64_of(exp, "src_ref"), Some(u64::from(c.src_ref)), "{name}");
                assert_eq!(
                    u64_of(exp, "class"),
                    Some(u64::from(c.class_option.class())),
                    "{name}"
                );
                assert_eq!(
                    exp["extended_formats"].as_bool(),
                    Some(c.class_option.extended_formats()),
                    "{name}"
                );
                assert_eq!(
                    exp["no_explicit_flow_control"].as_bool(),
                    Some(c.class_option.no_explicit_flow_control()),
                    "{name}"
                );
                assert_eq!(
                    exp.get("calling_tsap")
                        .map(|x| x.as_str().unwrap().to_owned()),
                    c.calling_tsel().map(to_hex),
                    "{name}: calling tsap"
                );
                assert_eq!(
                    exp.get("called_tsap")
                        .map(|x| x.as_str().unwrap().to_owned()),
                    c.called_tsel().map(to_hex),
                    "{name}: called tsap"
                );
                assert_eq!(
                    u64_of(exp, "tpdu_size"),
                    c.tpdu_size().and_then(|s| s.octets()).map(|n| n as u64),
                    "{name}: tpdu size"
                );
                assert_eq!(
                    u64_of(exp, "pref_max_tpdu_size"),
                    c.preferred_max_tpdu_size().map(|u| u64::from(u) * 128),
                    "{name}: preferred size"
                );
                if exp["user_data_in_li"].as_bool() == Some(true) {
                    // RDP's cookie / negotiation structure inside the LI: tshark hands it to
                    // its RDP dissector; we keep it as header data.
                    assert_eq!(
                        exp["user_data"].as_str().unwrap(),
                        to_hex(c.header_data),
                        "{name}: rdp data"
                    );
                } else if let Some(unknown) = exp.get("unknown_params") {
                    // tshark lists parameters with codes X.224 never assigns (bits 8–7 = 00);
                    // from the first of those on, we keep the octets as header data instead.
                    let first = unknown.as_array().unwrap()[0]["code"].as_u64().unwrap();
                    assert_eq!(first & 0xc0, 0, "{name}");
                    assert_eq!(c.header_data.first().map(|b| u64::from(*b)), Some(first));
                    assert_eq!(c.unknown_params().count(), 0, "{name}");
                } else {
                    assert!(c.header_data.is_empty(), "{name}");
                    assert_eq!(c.unknown_params().count(), 0, "{name}");
                }
            }
            Tpdu::Dr(d) => {
                assert_eq!(u64_of(exp, "dst_ref"), Some(u64::from(d.dst_ref)), "{name}");
                assert_eq!(u64_of(exp, "src_ref"), Some(u64::from(d.src_ref)), "{name}");
                assert_eq!(
                    u64_of(exp, "dr_reason"),
                    Some(u64::from(d.reason.0)),
                    "{name}"
                );
            }
            Tpdu::Dc(d) => {
                assert_eq!(u64_of(exp, "dst_ref"), Some(u64::from(d.dst_ref)), "{name}");
                assert_eq!(u64_of(exp, "src_ref"), Some(u64::from(d.src_ref)), "{name}");
            }
            Tpdu::Dt(d) => {
                assert_eq!(exp["eot"].as_bool(), Some(d.eot), "{name}: eot");
                assert_eq!(u64_of(exp, "tpdu_nr"), Some(u64::from(d.nr)), "{name}: nr");
                // tshark's generated dst_ref on class-0 DT is not on the wire.
                assert_eq!(d.dst_ref, None, "{name}");
            }
            Tpdu::Er(e) => {
                assert_eq!(
                    u64_of(exp, "reject_cause"),
                    Some(u64::from(e.cause.0)),
                    "{name}"
                );
            }
            other => panic!("{name}: no tshark field mapping for {:?}", other.kind()),
        }

        // Byte-exact re-encoding, TPDU and TPKT.
        let mut out = Vec::new();
        tpdu.encode(&mut out).unwrap();
        assert_eq!(
            to_hex(&out),
            to_hex(tpkt.payload),
            "{name}: re-encoded tpdu"
        );
        let mut framed = Vec::new();
        Tpkt::new(&out).encode(&mut framed).unwrap();
        assert_eq!(framed, bytes, "{name}: re-encoded tpkt");
        assert_eq!(tpdu.encoded_len(), tpkt.payload.len(), "{name}");
    }
    // Every shape the captures hold is covered.
    for kind in [
        TpduKind::Cr,
        TpduKind::Cc,
        TpduKind::Dr,
        TpduKind::Dc,
        TpduKind::Dt,
    ] {
        assert!(seen.contains_key(kind.name()), "no {} vector", kind.name());
    }
}

/// The TPKTs tshark could not dissect (the malformed-cotp captures: a TPKT length of 5, two short
/// of what was sent, around a TPDU with LI 0) are errors here that name the layer and the offset.
#[test]
fn undissected_tpkts_are_clean_errors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/golden/cotp.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let list = doc["undissected_tpkts"].as_array().unwrap();
    assert!(!list.is_empty());
    for v in list {
        let payload = hex(v["tcp_payload"].as_str().unwrap());
        let note = v["note"].as_str().unwrap();
        match Tpkt::decode(&payload) {
            // A TPKT length of 5 is below the minimum of 7.
            Err(e) => {
                assert_eq!(
                    (e.layer(), e.offset()),
                    (osi_stack::Layer::Tpkt, 2),
                    "{note}"
                );
                assert!(
                    matches!(
                        e.kind(),
                        osi_stack::DecodeErrorKind::LengthOutOfRange { value: 5, .. }
                    ),
                    "{note}: {e}"
                );
            }
            // Otherwise the TPDU inside has LI 0: no code.
            Ok((tpkt, _)) => {
                let e = Tpdu::decode(tpkt.payload).unwrap_err();
                assert_eq!(
                    (e.layer(), e.offset()),
                    (osi_stack::Layer::Cotp, 0),
                    "{note}"
                );
                assert_eq!(
                    e.to_string(),
                    "cotp: length indicator 0 outside 1..=254 at offset 0"
                );
            }
        }
    }
}
