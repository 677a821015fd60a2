//! Regressions 14–19 of `regressions.md` (presentation, ACSE, BER): each input gets a specific
//! error, or the correct handling where the input is legal.

mod common;
use common::hex;

use osi_stack::acse::Apdu;
use osi_stack::presentation::{Cp, PdvValues, UserData};
use osi_stack::session::Spdu;
use osi_stack::{DecodeErrorKind, Layer, Limits};

const LIM: Limits = Limits::DEFAULT;

/// The P1 CP-type (mms__dina__refuse.pcapng frame 7).
fn p1() -> Vec<u8> {
    hex(
        "318199a003800101a28191810400000001820400000001a423300f0201010604520100013004060251013010020103060528ca220201300406025101615e305c020101a0576055a107060528ca220203a20706052901876701a30302010ca606060429018767a70302010cbe2f282d020103a028a826800300fde881010582010583010aa416800101810305f100820c03ee1c00000408000079ef18",
    )
}

#[test]
fn r14_cp_normal_parameters_with_only_an_unknown_tag() {
    let frame = hex("03 00 00 17 02 f0 80 0d 0e c1 0c 31 0a a2 08 ff 06 bb bb bb bb bb bb");
    let (spdu, _) = Spdu::decode(&frame[7..]).unwrap();
    let ppdu = spdu.user_data().unwrap();
    assert_eq!(ppdu[0], 0x31);
    let e = Cp::decode(ppdu, &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Presentation);
    // `ff 06` is a high-tag-number identifier, then `bb` claims 59 length octets.
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Ber {
            what: "length of length over 4 octets"
        }
    );
    assert_eq!(e.offset(), 6);
    // The same unknown element with a sane length is ignored (X.226 §8.5).
    let ok = hex("31 0c a0 03 80 01 01 a2 05 ff 06 02 bb bb");
    let (cp, _) = Cp::decode(&ok, &LIM).unwrap();
    assert_eq!(cp.normal.unwrap().user_data, None);
}

#[test]
fn r15_cp_without_user_data_is_valid() {
    let b = hex("31 12 a0 03 80 01 01 a2 0b 81 04 00 00 00 01 82 03 00 00 01");
    let (cp, rest) = Cp::decode(&b, &LIM).unwrap();
    assert!(rest.is_empty());
    let n = cp.normal.unwrap();
    assert_eq!(n.user_data, None);
    assert_eq!(n.called_selector, Some(&[0, 0, 1][..]));
}

#[test]
fn r16_bad_context_definition() {
    // Unknown abstract syntax: just an OID, decoded.
    let b =
        hex("31 1a a0 03 80 01 01 a2 13 a4 11 30 0f 02 01 01 06 04 2a 03 04 05 30 04 06 02 51 01");
    let (cp, _) = Cp::decode(&b, &LIM).unwrap();
    let c = cp
        .normal
        .unwrap()
        .context_definitions
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(c.abstract_syntax.to_string(), "1.2.3.4.5");
    // Bad inner length: the OID claims 0x14 octets inside a 15-octet entry.
    let mut bad = b.clone();
    bad[17] = 0x14;
    let e = Cp::decode(&bad, &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Presentation);
    assert_eq!(e.offset(), 16);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Overrun {
            declared: 0x14,
            available: 10,
            ..
        }
    ));
    // Missing transfer-syntax list.
    let short = hex("31 14 a0 03 80 01 01 a2 0d a4 0b 30 09 02 01 01 06 04 2a 03 04 05");
    let e = Cp::decode(&short, &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "transfer syntax name list"
        }
    );
}

#[test]
fn r17_empty_acse_payload() {
    let e = UserData::decode(&hex("61 05 30 03 02 01 01"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "presentation data values"
        }
    );
    assert_eq!(e.offset(), 7);
    let e = UserData::decode(&hex("61 07 30 05 02 01 01 a0 00"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "single-asn1-type value"
        }
    );
    assert_eq!(e.offset(), 7);
    // A zero-length octet-aligned value is legal at presentation; ACSE then reports it.
    let b = hex("61 07 30 05 02 01 01 81 00");
    let ud = UserData::decode(&b, &LIM).unwrap();
    let PdvValues::OctetAligned(v) = ud.pdvs().next().unwrap().values else {
        panic!()
    };
    let e = Apdu::decode(v, &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Acse);
    assert!(e.is_truncated());
}

#[test]
fn r18_aarq_ending_with_empty_tag() {
    let e = Apdu::decode(&hex("60 0b a1 07 06 05 28 ca 22 02 03 a7 00"), &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Acse);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "ae-qualifier"
        }
    );
    assert_eq!(e.offset(), 11);
    let e = Apdu::decode(&hex("60 0b a1 07 06 05 28 ca 22 02 03 be 00"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "user-information external"
        }
    );
    assert_eq!(e.offset(), 11);
    let e = Apdu::decode(&hex("60 02 a1 00"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "application context name"
        }
    );
    // A tag with no length octet at all.
    let e = Apdu::decode(&hex("60 0a a1 07 06 05 28 ca 22 02 03 a7"), &LIM).unwrap_err();
    assert!(e.is_truncated());
    assert_eq!(e.offset(), 12);
}

#[test]
fn r19_ber_nesting_indefinite_and_long_lengths() {
    // Deeply nested indefinite lengths (never terminated).
    let mut deep = vec![0x61, 0x80];
    for _ in 0..100 {
        deep.extend([0x30, 0x80]);
    }
    let e = UserData::decode(&deep, &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::LimitExceeded {
            limit: "max_ber_depth",
            max: 32
        }
    );
    // Indefinite length without end-of-contents.
    let e = UserData::decode(&hex("61 80 30 03 02 01 01"), &LIM).unwrap_err();
    assert!(e.is_truncated());
    assert_eq!(e.offset(), 7);
    assert_eq!(e.layer(), Layer::Presentation);
    // Lengths of 5 octets.
    let e = UserData::decode(&hex("61 85 00 00 00 00 05"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Ber {
            what: "length of length over 4 octets"
        }
    );
    assert_eq!(e.offset(), 1);
    // A 4-octet length claiming 4 GiB is an overrun, nothing is allocated.
    let e = UserData::decode(&hex("61 84 ff ff ff ff 30"), &LIM).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::Overrun { .. }));
    // Structural depth: the P1 CP nests 6 deep, so a limit of 3 stops it.
    let mut lim = Limits::DEFAULT;
    lim.max_ber_depth = 3;
    let e = Cp::decode(&p1(), &lim).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LimitExceeded { max: 3, .. }
    ));
    // Deep nesting inside an ACSE APDU.
    let mut a = vec![0x64, 0x80];
    for _ in 0..40 {
        a.extend([0xbe, 0x80]);
    }
    let e = Apdu::decode(&a, &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Acse);
    assert!(matches!(e.kind(), DecodeErrorKind::LimitExceeded { .. }));
}
