//! Session layer (X.225): golden vectors, regressions 12 and 13, round-trip properties.
//!
//! Provenance of the vectors:
//! - S1–S12: the annotated examples of `spec/session.md` §9 (S1–S8 from captures, S9–S11
//!   constructed from the spec and marked so; all checked with tshark 4.0.17 by the spec authors).
//!   S1 is also byte-identical to frame 7 of `mms__dina__refuse.pcapng`.
//! - `CAP_*`: session TSDUs reassembled from the capture set (`testdata/captures`, see its
//!   MANIFEST) with the frame number; the expected fields are the values tshark 4.0.17 prints for
//!   `ses.*` on that frame.

use osi_stack::session::{
    ActivityReason, ConnectData, EX_USER_DATA_MAX, EnclosureItem, ParameterCode, Parameters,
    ParametersBuf, Position, Reassembler, RefuseReason, SessionUserRequirements, SessionVersion,
    Spdu, SpduKind, TokenItem, TransportDisconnect, TsduMaximumSize, VersionNumber, data_segments,
    encode_tsdu, spdus,
};
use osi_stack::{DecodeErrorKind, Layer, Limits};
use proptest::prelude::*;

/// Parses hex (spaces allowed); leaked so decoded SPDUs can borrow it for the whole test.
fn hex(s: &str) -> &'static [u8] {
    let s: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    Box::leak(v.into_boxed_slice())
}

/// Decodes a TSDU, checks that re-encoding gives the same octets, returns the SPDUs.
fn golden(tsdu: &[u8]) -> Vec<Spdu<'_>> {
    let v: Vec<Spdu<'_>> = spdus(tsdu).collect::<Result<_, _>>().unwrap();
    let mut out = Vec::new();
    encode_tsdu(&v, &mut out).unwrap();
    assert_eq!(out, tsdu, "re-encoding differs");
    let total: usize = v.iter().map(Spdu::encoded_len).sum();
    assert_eq!(total, tsdu.len());
    v
}

/// Strips TPKT (4) and the COTP DT header `02 f0 80` (3).
fn tsdu_of_tpkt(frame: &[u8]) -> &[u8] {
    assert_eq!(&frame[..4], [3, 0, 0, frame.len() as u8]);
    assert_eq!(&frame[4..7], [0x02, 0xf0, 0x80]);
    &frame[7..]
}

const S1: &str = "0d b2 05 06 13 01 00 16 01 02 14 02 00 02 33 02 00 01 34 02 00 01 c1 9c 31 81 99 a0 03 80 01 01 a2 81 91 81 04 00 00 00 01 82 04 00 00 00 01 a4 23 30 0f 02 01 01 06 04 52 01 00 01 30 04 06 02 51 01 30 10 02 01 03 06 05 28 ca 22 02 01 30 04 06 02 51 01 61 5e 30 5c 02 01 01 a0 57 60 55 a1 07 06 05 28 ca 22 02 03 a2 07 06 05 29 01 87 67 01 a3 03 02 01 0c a6 06 06 04 29 01 87 67 a7 03 02 01 0c be 2f 28 2d 02 01 03 a0 28 a8 26 80 03 00 fd e8 81 01 05 82 01 05 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03 ee 1c 00 00 04 08 00 00 79 ef 18";

const S2_TPKT: &str = "03 00 00 8f 02 f0 80 0e 86 05 06 13 01 00 16 01 02 14 02 00 02 34 02 00 01 c1 74 31 72 a0 03 80 01 01 a2 6b 83 04 00 00 00 01 a5 12 30 07 80 01 00 81 02 51 01 30 07 80 01 00 81 02 51 01 61 4f 30 4d 02 01 01 a0 48 61 46 a1 07 06 05 28 ca 22 02 03 a2 03 02 01 00 a3 05 a1 03 02 01 00 be 2f 28 2d 02 01 03 a0 28 a9 26 80 03 00 fd e8 81 01 05 82 01 05 83 01 0a a4 16 80 01 01 81 03 05 f1 00 82 0c 03 ee 1c 00 00 00 02 00 00 40 ed 18";

#[test]
fn s1_cn_libiec61850() {
    let b = hex(S1);
    let v = golden(b);
    assert_eq!(v.len(), 1);
    let cn = &v[0];
    assert_eq!(cn.kind(), SpduKind::Cn);
    assert_eq!(cn.parameters().len(), 178);
    assert!(!cn.long_length());
    let cai = cn.connect_accept_item().unwrap();
    assert_eq!(cai.protocol_options.map(|p| p.0), Some(0));
    assert_eq!(cai.version_number, Some(VersionNumber::V2));
    assert_eq!(cai.tsdu_maximum_size, None);
    assert_eq!(cn.version_number(), Some(VersionNumber::V2));
    assert_eq!(
        cn.session_user_requirements(),
        Some(SessionUserRequirements::DUPLEX)
    );
    assert_eq!(cn.calling_session_selector(), Some(&[0, 1][..]));
    assert_eq!(cn.called_session_selector(), Some(&[0, 1][..]));
    let ud = cn.user_data().unwrap();
    assert_eq!(ud.len(), 156);
    assert_eq!(&ud[..3], [0x31, 0x81, 0x99]);
    assert_eq!(cn.ss_user_data(), ud);
    assert_eq!(cn.unknown_parameters().count(), 0);
    assert_eq!(cn.connection_identifier(), None);
}

#[test]
fn s2_ac_libiec61850() {
    let frame = hex(S2_TPKT);
    let v = golden(tsdu_of_tpkt(frame));
    let ac = &v[0];
    assert_eq!(ac.kind(), SpduKind::Ac);
    assert_eq!(ac.parameters().len(), 134);
    let cai = ac.connect_accept_item().unwrap();
    assert_eq!(cai.protocol_options.map(|p| p.0), Some(0));
    assert_eq!(cai.version_number, Some(VersionNumber::V2));
    assert_eq!(
        ac.session_user_requirements(),
        Some(SessionUserRequirements::DUPLEX)
    );
    assert_eq!(ac.responding_session_selector(), Some(&[0, 1][..]));
    assert_eq!(ac.calling_session_selector(), None);
    let ud = ac.user_data().unwrap();
    assert_eq!(ud.len(), 116);
    assert_eq!(&ud[..2], [0x31, 0x72]);
}

#[test]
fn s3_gt_dt_prefix() {
    // The spec quotes only the start of this capture; the session layer does not look into the
    // user information field, so the prefix is a complete GT+DT TSDU.
    let frame = hex("03 00 00 42 02 f0 80 01 00 01 00 61 35 30 33 02 01 03 a0 2e a0 2c");
    let v = golden(&frame[7..]);
    assert_eq!(
        v.iter().map(Spdu::kind).collect::<Vec<_>>(),
        [SpduKind::Gt, SpduKind::Dt]
    );
    assert!(v[0].parameters().is_empty());
    assert!(v[1].parameters().is_empty());
    assert_eq!(&v[1].user_information()[..2], [0x61, 0x35]);
    assert_eq!(v[1].ss_user_data(), v[1].user_information());
}

#[test]
fn s4_gt_dt_conclude() {
    let frame = hex("03 00 00 16 02 f0 80 01 00 01 00 61 09 30 07 02 01 03 a0 02 8b 00");
    let v = golden(tsdu_of_tpkt(frame));
    assert_eq!(v[0].kind(), SpduKind::Gt);
    assert_eq!(v[1].kind(), SpduKind::Dt);
    assert_eq!(
        v[1].user_information(),
        hex("61 09 30 07 02 01 03 a0 02 8b 00")
    );
    assert_eq!(v[1].enclosure_item(), None);
}

#[test]
fn s5_fn_rlrq() {
    let frame = hex("03 00 00 19 02 f0 80 09 10 c1 0e 61 0c 30 0a 02 01 01 a0 05 62 03 80 01 00");
    let v = golden(tsdu_of_tpkt(frame));
    let f = &v[0];
    assert_eq!(f.kind(), SpduKind::Fn);
    assert_eq!(f.parameters().len(), 16);
    assert_eq!(f.transport_disconnect(), None);
    let ud = f.user_data().unwrap();
    assert_eq!(ud.len(), 14);
    assert_eq!(&ud[9..], [0x62, 0x03, 0x80, 0x01, 0x00]);
}

#[test]
fn s6_dn_rlre() {
    let frame = hex("03 00 00 16 02 f0 80 0a 0d c1 0b 61 09 30 07 02 01 01 a0 02 63 00");
    let v = golden(tsdu_of_tpkt(frame));
    assert_eq!(v[0].kind(), SpduKind::Dn);
    assert_eq!(
        v[0].user_data(),
        Some(hex("61 09 30 07 02 01 01 a0 02 63 00"))
    );
}

#[test]
fn s7_ab_user_abort() {
    let frame = hex(
        "03 00 00 1e 02 f0 80 19 15 11 01 0b c1 10 a0 0e 61 0c 30 0a 02 01 01 a0 05 64 03 80 01 00",
    );
    let v = golden(tsdu_of_tpkt(frame));
    let ab = &v[0];
    assert_eq!(ab.kind(), SpduKind::Ab);
    assert_eq!(ab.parameters().len(), 21);
    let td = ab.transport_disconnect().unwrap();
    assert_eq!(td, TransportDisconnect(0x0b));
    assert!(td.contains(TransportDisconnect::RELEASED));
    assert!(td.contains(TransportDisconnect::USER_ABORT));
    assert!(td.contains(TransportDisconnect::NO_REASON));
    assert!(!td.contains(TransportDisconnect::PROTOCOL_ERROR));
    assert_eq!(ab.user_data().map(<[u8]>::len), Some(16));
    assert_eq!(&ab.user_data().unwrap()[..2], [0xa0, 0x0e]);
}

#[test]
fn s8_ab_protocol_error() {
    let v = golden(hex("19 07 11 01 05 31 02 32 16"));
    let ab = &v[0];
    assert_eq!(ab.kind(), SpduKind::Ab);
    assert_eq!(
        ab.transport_disconnect(),
        Some(TransportDisconnect::RELEASED.with(TransportDisconnect::PROTOCOL_ERROR))
    );
    assert_eq!(ab.reflect_parameter_values(), Some(&[0x32, 0x16][..]));
    assert_eq!(ab.user_data(), None);
}

#[test]
fn s9_rf_user_rejection_constructed() {
    // Constructed from the spec (no capture), checked against tshark by the spec authors.
    let frame = hex("03 00 00 17 02 f0 80 0c 0e 32 0c 02 30 09 83 04 00 00 00 01 8a 01 03");
    let v = golden(tsdu_of_tpkt(frame));
    let rf = &v[0];
    assert_eq!(rf.kind(), SpduKind::Rf);
    assert_eq!(rf.refuse_reason(), Some(RefuseReason::USER_DATA));
    assert_eq!(
        rf.refuse_user_data(),
        Some(hex("30 09 83 04 00 00 00 01 8a 01 03"))
    );
    assert_eq!(rf.ss_user_data(), rf.refuse_user_data().unwrap());
    assert_eq!(rf.transport_disconnect(), None);
}

#[test]
fn s10_rf_selector_unknown_constructed() {
    let v = golden(hex("0c 06 11 01 01 32 01 81"));
    let rf = &v[0];
    assert_eq!(rf.refuse_reason(), Some(RefuseReason::SELECTOR_UNKNOWN));
    assert_eq!(rf.refuse_user_data(), None);
    assert_eq!(
        rf.transport_disconnect(),
        Some(TransportDisconnect::RELEASED)
    );
}

fn s11_bytes() -> Vec<u8> {
    let mut b =
        hex("0d ff 01 44 05 06 13 01 00 16 01 02 14 02 00 02 33 02 00 01 34 02 00 01 c1 ff 01 2c")
            .to_vec();
    b.extend((0..300u32).map(|i| (i % 251) as u8));
    b
}

#[test]
fn s11_cn_three_octet_lengths_constructed() {
    let b = s11_bytes();
    let v = golden(&b);
    let cn = &v[0];
    assert_eq!(cn.kind(), SpduKind::Cn);
    assert!(cn.long_length());
    assert_eq!(cn.parameters().len(), 324);
    let ud_unit = cn.parameters().find(ParameterCode::USER_DATA).unwrap();
    assert!(ud_unit.long_length());
    assert_eq!(ud_unit.value().len(), 300);
    assert_eq!(cn.user_data().unwrap(), &b[28..]);
}

#[test]
fn s12_aa_and_lone_gt() {
    let v = golden(hex("1a 00"));
    assert_eq!(v[0].kind(), SpduKind::Aa);
    assert!(v[0].parameters().is_empty());
    let v = golden(hex("01 03 10 01 01"));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), SpduKind::Gt);
    assert_eq!(v[0].token_item(), Some(TokenItem::DATA));
}

// ---- vectors from the capture set --------------------------------------------------------

/// `x400-rtse__wswiki__p772-transfer-success.pcap` frame 6: CN from an X.400 MTA (RTSE).
const CAP_P772_CN: &str = "0db5011d0a0a0408506572636976616c0b0f170d3035313030313134353732345a05091301001601021a010014020249c1853180a003800101a27aa433300f020101060452010001300406025101300f02010306045600020c300406025101300f02010506045600020730040602510161433041020101a03c603aa106060456000106be30282e06025101020103a025b02380013f820100a31ba1191408506572636976616c170d3035313030313134353130385a0000";
/// Same capture, frame 7: RF with reason 2 and a CPR-PPDU.
const CAP_P772_RF: &str = "0c7d011d090a0408506572636976616c0b0f170d3035313030313134353732345a110101140202493255023052a51b30078001008102510130078001008102510130078001008102510161333031020101a02c612aa106060456000106a203020101a305a103020101be14281206025101020103a009b207a105b203020100";
/// Same capture, frame 17: AC with an empty PI 52 (LI 0 = absent).
const CAP_P772_AC: &str = "0eb1011d090a0408506572636976616c0b0f170d3035313030313134353732345a05091301001601021a0100140202493400c17f317da003800101a276a51b30078001008102510130078001008102510130078001008102510161573055020101a050614ea106060456000106a203020100a305a103020100be38283606025101020103a02db12b80013fa226a024b122a12080146775696e65766572652e736d68732e636f2e756ba10816066d65726c696e";

#[test]
fn capture_x400_cn() {
    let b = hex(CAP_P772_CN);
    let v = golden(b);
    let cn = &v[0];
    assert_eq!(cn.kind(), SpduKind::Cn);
    assert_eq!(cn.parameters().len(), 181);
    let ci = cn.connection_identifier().unwrap();
    assert_eq!(
        ci.calling_ss_user_reference,
        Some(hex("0408506572636976616c"))
    );
    assert_eq!(ci.called_ss_user_reference, None);
    assert_eq!(
        ci.common_reference,
        Some(hex("170d3035313030313134353732345a"))
    );
    assert_eq!(ci.additional_reference_information, None);
    let cai = cn.connect_accept_item().unwrap();
    assert_eq!(cai.protocol_options.map(|p| p.0), Some(0));
    assert_eq!(cai.version_number, Some(VersionNumber::V2));
    assert_eq!(cai.token_setting_item.map(|t| t.0), Some(0));
    assert_eq!(
        cn.session_user_requirements(),
        Some(SessionUserRequirements(0x0249))
    );
    assert_eq!(cn.user_data().map(<[u8]>::len), Some(133));
}

#[test]
fn capture_x400_rf() {
    let b = hex(CAP_P772_RF);
    let v = golden(b);
    let rf = &v[0];
    assert_eq!(rf.kind(), SpduKind::Rf);
    assert_eq!(rf.parameters().len(), 125);
    let ci = rf.connection_identifier().unwrap();
    assert_eq!(
        ci.called_ss_user_reference,
        Some(hex("0408506572636976616c"))
    );
    assert_eq!(
        rf.transport_disconnect(),
        Some(TransportDisconnect::RELEASED)
    );
    assert_eq!(
        rf.session_user_requirements(),
        Some(SessionUserRequirements(0x0249))
    );
    assert_eq!(rf.refuse_reason(), Some(RefuseReason::USER_DATA));
    assert_eq!(rf.reason_code().map(<[u8]>::len), Some(85));
    assert_eq!(&rf.refuse_user_data().unwrap()[..2], [0x30, 0x52]);
}

#[test]
fn capture_x400_ac_empty_responding_selector() {
    let b = hex(CAP_P772_AC);
    let v = golden(b);
    let ac = &v[0];
    assert_eq!(ac.kind(), SpduKind::Ac);
    assert_eq!(ac.parameters().len(), 177);
    // `34 00`: present with LI 0, which means absent (X.225 §8.2.5); tshark shows no selector.
    assert_eq!(ac.responding_session_selector(), None);
    assert!(
        ac.parameters()
            .find(ParameterCode::RESPONDING_SESSION_SELECTOR)
            .is_some()
    );
    assert_eq!(ac.user_data().map(<[u8]>::len), Some(127));
}

#[test]
fn capture_x400_activity_spdus() {
    // frame 18: GT + AS, activity identifier 02 01 01
    let b = hex("01002d052903020101");
    let v = golden(b);
    assert_eq!(v[1].kind(), SpduKind::As);
    assert_eq!(v[1].activity_identifier(), Some(&[2, 1, 1][..]));
    // frame 20 (second TSDU): GT + SI 41 with only a Serial Number. RTSE ends its transfer
    // activity here, so this is AE; tshark labels every SI 41 "MAP".
    let b = hex("010029032a0131");
    let v = golden(b);
    assert_eq!(v[1].kind(), SpduKind::Ae);
    assert_eq!(v[1].serial_number().and_then(|s| s.value()), Some(1));
    // frame 23: PT + SI 42 (MAA or AEA), serial number 1
    let b = hex("02002a032a0131");
    let v = golden(b);
    assert_eq!(v[0].kind(), SpduKind::Pt);
    assert_eq!(v[1].kind(), SpduKind::MaaOrAea);
    assert_eq!(v[1].serial_number().map(|s| s.as_bytes()), Some(&b"1"[..]));
    // frame 25: FN with PI 17 = 01; frame 26: DN
    let b = hex("0913110101c10e610c300a020101a0056203800100");
    let v = golden(b);
    assert_eq!(
        v[0].transport_disconnect(),
        Some(TransportDisconnect::RELEASED)
    );
    let b = hex("0a10c10e610c300a020101a0056303800100");
    assert_eq!(golden(b)[0].kind(), SpduKind::Dn);
}

#[test]
fn capture_dina_refuse() {
    // `mms__dina__refuse.pcapng` frame 7 is S1 byte for byte; frame 8 is this RF.
    let b = hex(
        "0c2d322b023028a5123007800100810251013007800100810251018a0100610f300d020101a0086406800101810105",
    );
    let v = golden(b);
    let rf = &v[0];
    assert_eq!(rf.parameters().len(), 45);
    assert_eq!(rf.refuse_reason(), Some(RefuseReason::USER_DATA));
    assert_eq!(rf.refuse_user_data().map(<[u8]>::len), Some(42));
}

#[test]
fn capture_ndpi_ac() {
    // `mms__ndpi__iso9506-1-mms.pcap` frame 8.
    let b = hex(
        "0e89050613010016010214020002c17b3179a003800101a272830400000001a5123007800100810251013007800100810251018802060061523050020101a04b614980020780a107060528ca220203a203020100a305a103020100be2e282c020103a027a92580027d0081010a820108830105a416800101810305e100820c03ee0800000400000001ed18",
    );
    let v = golden(b);
    assert_eq!(v[0].kind(), SpduKind::Ac);
    assert_eq!(v[0].parameters().len(), 137);
    assert_eq!(v[0].user_data().map(<[u8]>::len), Some(123));
}

#[test]
fn capture_malformed_ac_is_truncated() {
    // `malformed-ses__ctsamples__iec61850_read.pcap` frame 10 (tshark: malformed): the AC says
    // LI 137 but 136 octets follow (and PGI 193 has LI 0 with the CPA after it).
    let b = hex(
        "0e89050613010006010214020002c1003178a003800100a271830400000001a512300780010081025201300780010081025101880206006151304f020101a04a614880020780a107060528ca220203a203020100a305a103020100a40606042bce0f02a503020117be20281e020103a019a917800100810100820100830100a409800100810100820100",
    );
    let e = spdus(b).next().unwrap().unwrap_err();
    assert_eq!(e.layer(), Layer::Session);
    assert!(e.is_truncated());
    assert_eq!(e.offset(), 2);
}

// ---- regressions --------------------------------------------------------------------------

/// Regression 12: lengths are honoured. A PGI 193 shorter than what remains of the parameter
/// field leaves octets that are read as further units: garbage there is an error, well-formed
/// units are kept (and reported when unknown). Octets after the SPDU's LI are never user data.
#[test]
fn regression_12_pgi_193_shorter_than_rest() {
    // CN LI 8: c1 03 aa bb cc, then dd ee ff: unit 0xdd claims 238 octets, 1 left.
    let b = hex("0d 08 c1 03 aa bb cc dd ee ff");
    let e = spdus(b).next().unwrap().unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Overrun {
            declared: 238,
            available: 1,
            ..
        }
    ));
    assert_eq!(e.offset(), 9);
    // Leftover that is a single octet: truncated unit length.
    let b = hex("0d 06 c1 03 aa bb cc dd");
    let e = spdus(b).next().unwrap().unwrap_err();
    assert!(e.is_truncated());
    assert_eq!(e.offset(), 8);
    // Leftover that forms a well-formed unknown unit: kept and reported, not user data.
    let b = hex("0d 08 c1 03 aa bb cc 99 01 07");
    let v = golden(b);
    assert_eq!(v[0].user_data(), Some(&[0xaa, 0xbb, 0xcc][..]));
    let unknown: Vec<_> = v[0].unknown_parameters().collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].code(), ParameterCode(0x99));
    assert_eq!(unknown[0].value(), [7]);
    assert_eq!(unknown[0].offset(), 5);
    // CN whose LI stops before the end of the TSDU: trailing data, not user data.
    let b = hex("0d 05 c1 03 aa bb cc dd ee");
    let e = spdus(b).next().unwrap().unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TrailingData { what: "CN", len: 2 }
    ));
    assert_eq!(e.offset(), 7);
    // PGI 193 longer than the parameter field: overrun.
    let b = hex("0d 04 c1 05 aa bb");
    let e = spdus(b).next().unwrap().unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Overrun {
            declared: 5,
            available: 2,
            ..
        }
    ));
    assert_eq!(e.offset(), 4);
}

#[test]
fn regression_12_tsdu_maximum_size_length() {
    for (len, ok) in [
        (0usize, true),
        (1, false),
        (3, false),
        (4, true),
        (5, false),
    ] {
        // CN { PGI 5 { PI 19 = 0, PI 21 (len), PI 22 = 2 } }
        let mut cai = vec![0x13, 0x01, 0x00, 0x15, len as u8];
        cai.extend(std::iter::repeat_n(0x10, len));
        cai.extend([0x16, 0x01, 0x02]);
        let mut b = vec![0x0d, (cai.len() + 2) as u8, 0x05, cai.len() as u8];
        b.extend(&cai);
        let r = spdus(&b).next().unwrap();
        if ok {
            let cn = r.unwrap();
            let expect = (len == 4).then_some(TsduMaximumSize {
                initiator_to_responder: 0x1010,
                responder_to_initiator: 0x1010,
            });
            assert_eq!(cn.tsdu_maximum_size(), expect);
            assert_eq!(cn.connect_accept_item().unwrap().tsdu_maximum_size, expect);
        } else {
            let e = r.unwrap_err();
            assert_eq!(
                *e.kind(),
                DecodeErrorKind::LengthOutOfRange {
                    what: "tsdu maximum size",
                    value: len,
                    min: 4,
                    max: 4
                },
                "len {len}"
            );
            // offset of PI 21 from the TSDU start: SI, LI, PGI, LI, PI 19 (3 octets)
            assert_eq!(e.offset(), 7);
        }
    }
    // At the top level (OA) too.
    let e = spdus(hex("10 08 15 03 00 00 00 16 01 02"))
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LengthOutOfRange { value: 3, .. }
    ));
    assert_eq!(e.offset(), 2);
    let oa = golden(hex("10 09 15 04 00 00 01 00 16 01 02"));
    assert_eq!(oa[0].kind(), SpduKind::Oa);
    assert_eq!(
        oa[0].tsdu_maximum_size().map(|t| t.responder_to_initiator),
        Some(256)
    );
    assert_eq!(oa[0].version_number(), Some(VersionNumber::V2));
}

/// Regression 13: user data over 254 octets is encoded with the three-octet LI `ff hi lo`, in the
/// PGI and in the SPDU header, and decodes back.
#[test]
fn regression_13_long_user_data() {
    for n in [254usize, 255, 300, 512, 65_000] {
        let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let mut p = ParametersBuf::new();
        let mut cai = ParametersBuf::new();
        cai.u8(ParameterCode::PROTOCOL_OPTIONS, 0).unwrap();
        cai.u8(ParameterCode::VERSION_NUMBER, 2).unwrap();
        p.group(ParameterCode::CONNECT_ACCEPT_ITEM, &cai).unwrap();
        p.user_data(&data).unwrap();
        let params = p.as_parameters().unwrap();
        let cn = Spdu::new(SpduKind::Cn, params);
        let bytes = cn.to_vec().unwrap();
        assert_eq!(bytes.len(), cn.encoded_len());
        let li = params.len();
        if li > 254 {
            assert_eq!(&bytes[..4], [0x0d, 0xff, (li >> 8) as u8, li as u8]);
        } else {
            assert_eq!(&bytes[..2], [0x0d, li as u8]);
        }
        let ud_at = bytes.len() - n;
        if n > 254 {
            assert_eq!(
                &bytes[ud_at - 4..ud_at],
                [0xc1, 0xff, (n >> 8) as u8, n as u8]
            );
        } else {
            assert_eq!(&bytes[ud_at - 2..ud_at], [0xc1, n as u8]);
        }
        let v = golden(&bytes);
        assert_eq!(v[0], cn);
        assert_eq!(v[0].user_data(), Some(&data[..]));
    }
    // S11 rebuilt from parts gives S11's bytes.
    let s11 = s11_bytes();
    let mut p = ParametersBuf::new();
    p.raw(hex(
        "05 06 13 01 00 16 01 02 14 02 00 02 33 02 00 01 34 02 00 01",
    ));
    p.user_data(&s11[28..]).unwrap();
    let cn = Spdu::new(SpduKind::Cn, p.as_parameters().unwrap());
    assert_eq!(cn.to_vec().unwrap(), s11);
}

#[test]
fn non_minimal_lengths_round_trip() {
    // SPDU LI and a PI in the three-octet form for short values.
    let b = hex("0e ff 00 08 14 ff 00 02 00 02 c1 00");
    let v = golden(b);
    assert!(v[0].long_length());
    assert_eq!(
        v[0].session_user_requirements(),
        Some(SessionUserRequirements::DUPLEX)
    );
    assert_eq!(v[0].user_data(), None);
}

#[test]
fn error_offsets_are_from_the_tsdu_start() {
    // GT, then DT whose parameter field holds a bad Enclosure Item (2 octets).
    let b = hex("01 00 01 04 19 02 01 02 aa");
    let e = spdus(b).nth(1).unwrap().unwrap_err();
    assert_eq!(e.offset(), 4);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LengthOutOfRange {
            what: "enclosure item",
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "session: enclosure item 2 outside 1..=1 at offset 4"
    );
}

#[test]
fn position_resolves_shared_codes() {
    let (ab, _) = Spdu::decode(hex("19 03 11 01 01")).unwrap();
    assert_eq!(ab.kind(), SpduKind::Ab);
    let (ai, _) = Spdu::decode_at(hex("19 03 32 01 80"), Position::Concatenated).unwrap();
    assert_eq!(ai.kind(), SpduKind::Ai);
    assert_eq!(
        ai.activity_reason(),
        Some(ActivityReason::DEMAND_DATA_TOKEN)
    );
    let v = golden(hex("02 00 19 03 32 01 03"));
    assert_eq!(v[1].kind(), SpduKind::Ai);
    // AI/AD reason code is one octet.
    assert!(
        spdus(hex("02 00 19 04 32 02 03 03"))
            .nth(1)
            .unwrap()
            .is_err()
    );
}

#[test]
fn gt_dt_decoding_borrows() {
    let b = hex("01 00 01 00 61 02 30 00");
    let mut it = spdus(b);
    let _gt = it.next().unwrap().unwrap();
    let dt = it.next().unwrap().unwrap();
    // The user information is a slice of the input, not a copy.
    assert!(std::ptr::eq(
        dt.user_information().as_ptr(),
        b[4..].as_ptr()
    ));
}

// ---- limits, overflow, segmentation -------------------------------------------------------

#[test]
fn cn_v2_ten_thousand_octets() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let cd = ConnectData::new(SessionVersion::V2, &data).unwrap();
    assert_eq!(cd.code(), ParameterCode::EXTENDED_USER_DATA);
    assert!(!cd.needs_overflow());
    let mut p = ParametersBuf::new();
    let mut cai = ParametersBuf::new();
    cai.u8(ParameterCode::PROTOCOL_OPTIONS, 0).unwrap();
    cai.u8(ParameterCode::VERSION_NUMBER, VersionNumber::V2.0)
        .unwrap();
    p.group(ParameterCode::CONNECT_ACCEPT_ITEM, &cai).unwrap();
    cd.append_connect_parameters(&mut p).unwrap();
    let cn = Spdu::new(SpduKind::Cn, p.as_parameters().unwrap());
    let bytes = cn.to_vec().unwrap();
    let v = golden(&bytes);
    assert_eq!(v[0].extended_user_data(), Some(&data[..]));
    assert_eq!(v[0].ss_user_data(), &data[..]);
    osi_stack::session::check_user_data(&v[0], SessionVersion::V2).unwrap();
    let e = osi_stack::session::check_user_data(&v[0], SessionVersion::V1).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::ForbiddenParameter { code: 194, .. }
    ));
    assert!(ConnectData::new(SessionVersion::V1, &data).is_err());
}

#[test]
fn user_data_limits_checked() {
    use osi_stack::session::check_user_data;
    // v1 AB may carry 9 octets.
    let ab = |n: usize| {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::TRANSPORT_DISCONNECT, 0x03).unwrap();
        p.user_data(&vec![0; n]).unwrap();
        p
    };
    let p = ab(9);
    let s = Spdu::new(SpduKind::Ab, p.as_parameters().unwrap());
    assert!(check_user_data(&s, SessionVersion::V1).is_ok());
    let p = ab(10);
    let s = Spdu::new(SpduKind::Ab, p.as_parameters().unwrap());
    assert!(matches!(
        check_user_data(&s, SessionVersion::V1).unwrap_err().kind(),
        DecodeErrorKind::LimitExceeded { max: 9, .. }
    ));
    assert!(check_user_data(&s, SessionVersion::V2).is_ok());
    // CN PGI 193 is at most 512 octets in both versions.
    let mut p = ParametersBuf::new();
    p.user_data(&[0; 513]).unwrap();
    let s = Spdu::new(SpduKind::Cn, p.as_parameters().unwrap());
    assert!(check_user_data(&s, SessionVersion::V2).is_err());
    // GT carries no user data in v1.
    let mut p = ParametersBuf::new();
    p.u8(ParameterCode::TOKEN_ITEM, 1)
        .unwrap()
        .user_data(b"x")
        .unwrap();
    let s = Spdu::new(SpduKind::Gt, p.as_parameters().unwrap());
    assert!(check_user_data(&s, SessionVersion::V1).is_err());
    assert!(check_user_data(&s, SessionVersion::V2).is_ok());
}

#[test]
fn segmented_data_has_enclosure_items() {
    let data = vec![0x5a; 100];
    let segs: Vec<_> = data_segments(&data, 57).unwrap().collect();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].enclosure, Some(EnclosureItem::BEGINNING));
    assert_eq!(segs[1].enclosure, Some(EnclosureItem::END));
    let mut tsdu = Vec::new();
    segs[0].encode_data_tsdu(&mut tsdu).unwrap();
    assert_eq!(tsdu.len(), 57);
    assert_eq!(&tsdu[..7], hex("01 00 01 03 19 01 01"));
    let v = golden(&tsdu);
    assert_eq!(v[1].enclosure_item(), Some(EnclosureItem::BEGINNING));
    // A short buffer is an error, not a panic.
    let mut small = [0u8; 10];
    assert!(segs[0].encode_data_tsdu(&mut &mut small[..]).is_err());
}

#[test]
fn every_kind_round_trips_in_place() {
    use osi_stack::session::Category;
    for kind in SpduKind::ALL {
        let mut p = ParametersBuf::new();
        if kind == SpduKind::Map {
            p.u8(ParameterCode::SYNC_TYPE_ITEM, 1).unwrap();
        }
        p.u8(ParameterCode::ENCLOSURE_ITEM, 3).unwrap();
        p.user_data(&[0xab; 300]).unwrap();
        let ui: &[u8] = if kind == SpduKind::Ex {
            b"14 octets, max" // EX carries at most 14 (X.225 §8.3, EX SPDU)
        } else if kind.has_user_information() {
            b"user information"
        } else {
            b""
        };
        let spdu = Spdu::new(kind, p.as_parameters().unwrap()).with_user_information(ui);
        let mut tsdu = Vec::new();
        if kind.category() == Category::Two {
            tsdu.extend([0x02, 0x00]); // PT
        }
        spdu.encode(&mut tsdu).unwrap();
        let v: Vec<Spdu<'_>> = spdus(&tsdu).collect::<Result<_, _>>().unwrap();
        assert_eq!(*v.last().unwrap(), spdu, "{kind}");
        assert_eq!(v.last().unwrap().si(), kind.si());
        let mut again = Vec::new();
        encode_tsdu(&v, &mut again).unwrap();
        assert_eq!(again, tsdu, "{kind}");
    }
}

// ---- properties ---------------------------------------------------------------------------

/// Known parameters with values of a valid length for `kind` (so decoding accepts them).
fn known_unit(kind: SpduKind) -> impl Strategy<Value = (u8, Vec<u8>)> {
    let ab = kind == SpduKind::Ab;
    let one_octet_reason = matches!(kind, SpduKind::Ai | SpduKind::Ad);
    prop_oneof![
        (
            prop::sample::select(vec![16u8, 17, 19, 22, 24, 25, 26, 27, 53, 60]),
            any::<u8>()
        )
            .prop_map(|(c, v)| (c, vec![v])),
        any::<u16>().prop_map(|v| (20u8, v.to_be_bytes().to_vec())),
        prop::collection::vec(any::<u8>(), 4).prop_map(|v| (21u8, v)),
        prop::collection::vec(any::<u8>(), 0..=16).prop_map(|v| (51u8, v)),
        prop::collection::vec(any::<u8>(), 0..=16).prop_map(|v| (52u8, v)),
        prop::collection::vec(any::<u8>(), 0..=6).prop_map(|v| (41u8, v)),
        prop::collection::vec(b'0'..=b'9', 1..=6).prop_map(|v| (42u8, v)),
        prop::collection::vec(any::<u8>(), if ab { 0..=9 } else { 0..=40 }).prop_map(|v| (49u8, v)),
        prop::collection::vec(any::<u8>(), if one_octet_reason { 1..=1 } else { 1..=30 })
            .prop_map(|v| (50u8, v)),
    ]
}

/// Codes this crate does not know (kept and reported).
fn unknown_code() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("unknown", |c| !ParameterCode(*c).is_known())
}

#[derive(Debug, Clone)]
struct Built {
    kind: SpduKind,
    params: ParametersBuf,
    user_information: Vec<u8>,
    long: bool,
}

fn group(code: u8) -> impl Strategy<Value = ParametersBuf> {
    let inner_codes: Vec<u8> = match code {
        1 => vec![9, 10, 11, 12],
        5 => vec![19, 21, 22, 23, 26, 55, 56, 57, 58],
        _ => vec![9, 10, 11, 12, 41, 42, 54],
    };
    prop::collection::vec(
        (
            prop::sample::select(inner_codes),
            any::<u8>(),
            1usize..=4,
            any::<bool>(),
        ),
        0..5,
    )
    .prop_map(|items| {
        let mut g = ParametersBuf::new();
        for (c, b, n, long) in items {
            let v: Vec<u8> = match c {
                19 | 22 | 26 => vec![b],
                21 => vec![b; 4],
                23 | 55 | 42 => vec![b'1'; n],
                _ => vec![b; n],
            };
            if long {
                g.unit_long(ParameterCode(c), &v).unwrap();
            } else {
                g.unit(ParameterCode(c), &v).unwrap();
            }
        }
        g
    })
}

fn spdu_strategy(kind: SpduKind) -> impl Strategy<Value = Built> {
    let units = prop::collection::vec(
        prop_oneof![
            3 => known_unit(kind).prop_map(|(c, v)| (c, v, false)),
            1 => (unknown_code(), prop::collection::vec(any::<u8>(), 0..20), any::<bool>()),
        ],
        0..6,
    );
    let groups = prop::collection::vec(
        prop::sample::select(vec![1u8, 5, 33])
            .prop_flat_map(|c| group(c).prop_map(move |g| (c, g))),
        0..3,
    );
    let ud = prop_oneof![
        2 => Just(None),
        2 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Some),
        1 => prop::collection::vec(any::<u8>(), 9_000..10_241).prop_map(Some),
    ];
    let ui = if kind == SpduKind::Ex {
        prop::collection::vec(any::<u8>(), 0..=EX_USER_DATA_MAX).boxed()
    } else if kind.has_user_information() {
        prop::collection::vec(any::<u8>(), 0..400).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (groups, units, ud, ui, any::<bool>()).prop_map(move |(groups, units, ud, ui, long)| {
        let mut p = ParametersBuf::new();
        if kind == SpduKind::Map {
            p.u8(ParameterCode::SYNC_TYPE_ITEM, 1).unwrap();
        }
        for (c, g) in groups {
            p.group(ParameterCode(c), &g).unwrap();
        }
        for (c, v, long) in units {
            // The Sync Type Item decides MAP/AE: only MAP carries it.
            let c = if c == 15 { 16 } else { c };
            if long {
                p.unit_long(ParameterCode(c), &v).unwrap();
            } else {
                p.unit(ParameterCode(c), &v).unwrap();
            }
        }
        if let Some(d) = ud {
            let code = if d.len() > 512 { 194 } else { 193 };
            p.unit(ParameterCode(code), &d).unwrap();
        }
        Built {
            kind,
            params: p,
            user_information: ui,
            long,
        }
    })
}

fn any_spdu() -> impl Strategy<Value = Built> {
    prop::sample::select(SpduKind::ALL.to_vec()).prop_flat_map(spdu_strategy)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every SPDU type: encode, decode in its place in a TSDU (category 2 after a GT), compare
    /// the value, re-encode, compare the octets.
    #[test]
    fn every_spdu_round_trips(b in any_spdu()) {
        let params = b.params.as_parameters().unwrap();
        let spdu = Spdu::new(b.kind, params)
            .with_user_information(&b.user_information)
            .with_long_length(b.long);
        let mut tsdu = Vec::new();
        let gt = Spdu::new(SpduKind::Gt, Parameters::EMPTY);
        let needs_gt = b.kind.category() == osi_stack::session::Category::Two;
        if needs_gt {
            gt.encode(&mut tsdu).unwrap();
        }
        spdu.encode(&mut tsdu).unwrap();
        prop_assert_eq!(tsdu.len(), spdu.encoded_len() + if needs_gt { 2 } else { 0 });
        let decoded: Vec<Spdu<'_>> = spdus(&tsdu).collect::<Result<_, _>>().unwrap();
        let last = *decoded.last().unwrap();
        prop_assert_eq!(decoded.len(), if needs_gt { 2 } else { 1 });
        prop_assert_eq!(last, spdu);
        prop_assert_eq!(last.kind(), b.kind);
        let mut again = Vec::new();
        encode_tsdu(&decoded, &mut again).unwrap();
        prop_assert_eq!(again, tsdu);
    }

    /// Decoding is total: any octets give SPDUs that re-encode to the same octets, or an error.
    #[test]
    fn decoding_is_total(prefix in prop::sample::select(vec![vec![], vec![1u8, 0], vec![2u8, 0]]),
                         body in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut tsdu = prefix;
        tsdu.extend(body);
        let r: Result<Vec<Spdu<'_>>, _> = spdus(&tsdu).collect();
        if let Ok(v) = r {
            let mut again = Vec::new();
            encode_tsdu(&v, &mut again).unwrap();
            prop_assert_eq!(again, tsdu);
        }
    }

    /// Segmentation then reassembly gives the SSDU back, every TSDU within the maximum size.
    #[test]
    fn segmentation_round_trips(data in prop::collection::vec(any::<u8>(), 0..3000), max in 8usize..600) {
        let mut r = Reassembler::new(&Limits::default());
        let mut out = None;
        for seg in data_segments(&data, max).unwrap() {
            prop_assert!(out.is_none());
            let mut tsdu = Vec::new();
            seg.encode_data_tsdu(&mut tsdu).unwrap();
            prop_assert!(tsdu.len() <= max);
            let v: Vec<Spdu<'_>> = spdus(&tsdu).collect::<Result<_, _>>().unwrap();
            out = r.push_spdu(&v[1]).unwrap().map(|c| c.into_owned());
        }
        prop_assert_eq!(out, Some(data));
    }
}

/// EX carries at most 14 octets of user information (X.225 §8.3, EX SPDU): 14 decode and
/// encode, 15 are refused on both sides with the offset of the user information field.
#[test]
fn expedited_data_limited_to_14_octets() {
    use osi_stack::EncodeErrorKind;
    // EX (SI 5) with an empty parameter field, then with an Enclosure Item.
    for header in [&[0x05u8, 0x00][..], &[0x05, 0x03, 0x19, 0x01, 0x03][..]] {
        let ok = [header, &[0x42; 14][..]].concat();
        let (ex, rest) = Spdu::decode(&ok).unwrap();
        assert_eq!(
            (ex.kind(), ex.user_information().len(), rest.len()),
            (SpduKind::Ex, 14, 0)
        );
        assert_eq!(ex.to_vec().unwrap(), ok);

        let long = [header, &[0x42; 15][..]].concat();
        let e = Spdu::decode(&long).unwrap_err();
        assert_eq!((e.layer(), e.offset()), (Layer::Session, header.len()));
        assert!(
            matches!(
                e.kind(),
                DecodeErrorKind::LengthOutOfRange {
                    what: "expedited data",
                    value: 15,
                    max: 14,
                    ..
                }
            ),
            "{e}"
        );
        let e = ex
            .with_user_information(&long[header.len()..])
            .to_vec()
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                EncodeErrorKind::ValueTooLarge {
                    value: 15,
                    max: 14,
                    ..
                }
            ),
            "{e}"
        );
    }
}
