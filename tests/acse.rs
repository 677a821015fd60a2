//! ACSE APDUs (X.227): golden vectors from captures (session user data extracted with tshark
//! 4.0.17 from /work/main/testdata/captures; expected fields are what `tshark -V -O acse` shows)
//! and the spec's constructed examples.

mod common;
use common::cid;
use common::hex;

use osi_stack::acse::*;
use osi_stack::oid::Oid;
use osi_stack::presentation::{Cp, Cpa, Cpr, PdvValues, UserData};
use osi_stack::{DecodeErrorKind, Layer, Limits};

const LIM: Limits = Limits::DEFAULT;

fn roundtrip(a: Apdu<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    a.encode(&mut out).unwrap();
    assert_eq!(out.len(), a.encoded_len());
    assert_eq!(Apdu::decode(&out, &LIM).unwrap(), a);
    out
}

fn first_value(ud: UserData<'_>) -> &[u8] {
    match ud.pdvs().next().unwrap().values {
        PdvValues::SingleAsn1Type(v) => v,
        other => panic!("{other:?}"),
    }
}

/// mms__dina__refuse.pcapng frame 7 (= spec P1): AARQ with AP-titles/AE-qualifiers form 2.
#[test]
fn mms_aarq() {
    let b = hex(
        "318199a003800101a28191810400000001820400000001a423300f0201010604520100013004060251013010020103060528ca220201300406025101615e305c020101a0576055a107060528ca220203a20706052901876701a30302010ca606060429018767a70302010cbe2f282d020103a028a826800300fde881010582010583010aa416800101810305f100820c03ee1c00000408000079ef18",
    );
    let (cp, _) = Cp::decode(&b, &LIM).unwrap();
    let v = first_value(cp.normal.unwrap().user_data.unwrap());
    let Apdu::Aarq(a) = Apdu::decode(v, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a.application_context_name, Oid::MMS_APPLICATION_CONTEXT);
    let t = |s: &str| s.parse::<osi_stack::oid::OwnedOid>().unwrap();
    let Some(ApTitle::Form2(called)) = a.called.ap_title else {
        panic!()
    };
    assert_eq!(called, t("1.1.1.999.1").as_oid());
    assert_eq!(a.called.ae_qualifier, Some(AeQualifier::Form2(12)));
    let Some(ApTitle::Form2(calling)) = a.calling.ap_title else {
        panic!()
    };
    assert_eq!(calling.to_string(), "1.1.1.999");
    assert_eq!(a.calling.ae_qualifier, Some(AeQualifier::Form2(12)));
    let ext: Vec<_> = a.user_information.unwrap().iter().collect();
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0].indirect_reference, Some(cid(3)));
    assert_eq!(ext[0].direct_reference, None);
    let PdvValues::SingleAsn1Type(mms) = ext[0].encoding else {
        panic!()
    };
    assert_eq!(mms[0], 0xa8);
    assert_eq!(roundtrip(Apdu::Aarq(a)), v);
}

/// mms__dina__accept.pcap frame 2: CPA + AARE accepted, diagnostic service-user null.
#[test]
fn mms_aare() {
    let b = hex(
        "3176a003800101a26f830400000001a51230078001008102510130078001008102510161533051020101a04c614aa107060528ca220203a203020100a305a103020100be33283106025101020103a028a926800300fde881010a82010a830105a416800101810305f100820c03ee1c00000402000079ef18",
    );
    let cpa = Cpa::decode(&b, &LIM).unwrap();
    let v = first_value(cpa.normal.unwrap().user_data.unwrap());
    let Apdu::Aare(a) = Apdu::decode(v, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a.result, AssociateResult::ACCEPTED);
    assert_eq!(
        a.result_source_diagnostic,
        AssociateSourceDiagnostic::User(UserDiagnostic::NULL)
    );
    let e = a.user_information.unwrap().iter().next().unwrap();
    assert_eq!(e.direct_reference, Some(Oid::BER));
    assert_eq!(e.indirect_reference, Some(cid(3)));
    assert_eq!(roundtrip(Apdu::Aare(a)), v);
}

/// x400-rtse__wswiki__x400-ping-success.pcap frames 6–9: AARQ (in an indefinite-length CP),
/// AARE, RLRQ, RLRE.
#[test]
fn x400_association_and_release() {
    let aarq = hex(
        "6047a106060456000106be3d283b06025101020103a032b03080013f820100a328a026b024a1228013706572636976616c2e736d68732e636f2e756ba10b1609657863616c69627572",
    );
    let Apdu::Aarq(a) = Apdu::decode(&aarq, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a.application_context_name, Oid::X400_AC_MTS_TRANSFER);
    let e = a.user_information.unwrap().iter().next().unwrap();
    assert_eq!(e.direct_reference, Some(Oid::BER));
    assert_eq!(e.indirect_reference, Some(cid(3)));
    assert_eq!(roundtrip(Apdu::Aarq(a)), aarq);

    let aare = hex(
        "614ea106060456000106a203020100a305a103020100be38283606025101020103a02db12b80013fa226a024b122a12080146775696e65766572652e736d68732e636f2e756ba10816066d65726c696e",
    );
    let Apdu::Aare(a) = Apdu::decode(&aare, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a.result, AssociateResult::ACCEPTED);
    assert_eq!(roundtrip(Apdu::Aare(a)), aare);

    let rlrq = hex("6203800100");
    assert_eq!(
        Apdu::decode(&rlrq, &LIM).unwrap(),
        Apdu::Rlrq(Rlrq {
            reason: Some(ReleaseRequestReason::NORMAL),
            user_information: None
        })
    );
    assert_eq!(roundtrip(Apdu::decode(&rlrq, &LIM).unwrap()), rlrq);
    let rlre = hex("6303800100");
    assert_eq!(
        Apdu::decode(&rlre, &LIM).unwrap(),
        Apdu::Rlre(Rlre {
            reason: Some(ReleaseResponseReason::NORMAL),
            user_information: None
        })
    );
    // spec P4 / mms__dina__accept.pcap frame 4: RLRE with no fields.
    assert_eq!(
        Apdu::decode(&[0x63, 0x00], &LIM).unwrap(),
        Apdu::Rlre(Rlre::default())
    );
}

/// x400-rtse__wswiki__x400-ping-refuse.pcap frame 7: CPR + AARE rejected-permanent,
/// service-user no-reason-given.
#[test]
fn x400_refused() {
    let b = hex(
        "3052a51b30078001008102510130078001008102510130078001008102510161333031020101a02c612aa106060456000106a203020101a305a103020101be14281206025101020103a009b207a105b203020102",
    );
    let Cpr::Normal(n) = Cpr::decode(&b, &LIM).unwrap() else {
        panic!()
    };
    let v = first_value(n.user_data.unwrap());
    let Apdu::Aare(a) = Apdu::decode(v, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a.application_context_name, Oid::X400_AC_MTS_TRANSFER);
    assert_eq!(a.result, AssociateResult::REJECTED_PERMANENT);
    assert_eq!(
        a.result_source_diagnostic,
        AssociateSourceDiagnostic::User(UserDiagnostic::NO_REASON_GIVEN)
    );
    assert_eq!(roundtrip(Apdu::Aare(a)), v);
}

/// mms__dina__refuse.pcapng frame 8: ABRT service-provider, authentication-failure.
#[test]
fn mms_abrt() {
    let b = hex("6406800101810105");
    let a = Apdu::decode(&b, &LIM).unwrap();
    assert_eq!(
        a,
        Apdu::Abrt(Abrt {
            source: AbortSource::ACSE_SERVICE_PROVIDER,
            diagnostic: Some(AbortDiagnostic::AUTHENTICATION_FAILURE),
            user_information: None
        })
    );
    assert_eq!(roundtrip(a), b);
    // spec P5 (capture): ABRT acse-service-user.
    let p5 = hex("64 03 80 01 00");
    let Apdu::Abrt(a) = Apdu::decode(&p5, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a.source, AbortSource::ACSE_SERVICE_USER);
}

/// Spec P8 (constructed): AARQ with password authentication.
#[test]
fn p8_password_constructed() {
    let b = hex(
        "60 29 a1 07 06 05 28 ca 22 02 03 8a 02 07 80 8b 03 52 03 01 ac 0a 80 08 73 65 63 72 65 74 31 32 be 09 28 07 02 01 03 a0 02 a8 00",
    );
    let Apdu::Aarq(a) = Apdu::decode(&b, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(
        a.sender_requirements,
        Some(AcseRequirements::AUTHENTICATION)
    );
    assert_eq!(a.mechanism_name, Some(Oid::PASSWORD_MECHANISM));
    assert_eq!(
        a.authentication_value,
        Some(AuthenticationValue::Charstring(b"secret12"))
    );
    assert_eq!(roundtrip(Apdu::Aarq(a)), b);
    // libiec61850 sends `8a 02 04 80`: same set.
    let mut alt = b.clone();
    alt[13] = 0x04;
    let Apdu::Aarq(a2) = Apdu::decode(&alt, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(a2, a);
}

/// Spec P7 (constructed): AARE rejected-permanent, application-context-name-not-supported.
#[test]
fn p7_aare_constructed() {
    let b = hex("61 15 a1 07 06 05 28 ca 22 02 03 a2 03 02 01 01 a3 05 a1 03 02 01 02");
    let Apdu::Aare(a) = Apdu::decode(&b, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(
        a.result_source_diagnostic,
        AssociateSourceDiagnostic::User(UserDiagnostic::APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    );
    let p = hex("61 15 a1 07 06 05 28 ca 22 02 03 a2 03 02 01 01 a3 05 a2 03 02 01 02");
    let Apdu::Aare(a) = Apdu::decode(&p, &LIM).unwrap() else {
        panic!()
    };
    assert_eq!(
        a.result_source_diagnostic,
        AssociateSourceDiagnostic::Provider(ProviderDiagnostic::NO_COMMON_ACSE_VERSION)
    );
}

#[test]
fn missing_mandatory_fields() {
    let e = Apdu::decode(&hex("60 00"), &LIM).unwrap_err();
    assert_eq!(e.layer(), Layer::Acse);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "application context name"
        }
    );
    let e = Apdu::decode(&hex("64 00"), &LIM).unwrap_err();
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "abort source"
        }
    );
    let e = Apdu::decode(&hex("65 00"), &LIM).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::UnexpectedCode { code: 0x65, .. }
    ));
}

/// An EXTERNAL's indirect-reference is a presentation-context-identifier (X.227 §7.1.4.1,
/// X.226 §8.2: 1..=127): outside that range the AARQ does not decode, the error naming the
/// INTEGER by its offset (the one-pass and the general decoder agree).
#[test]
fn an_indirect_reference_outside_the_context_range_is_refused() {
    let b = hex(
        "318199a003800101a28191810400000001820400000001a423300f0201010604520100013004060251013010020103060528ca220201300406025101615e305c020101a0576055a107060528ca220203a20706052901876701a30302010ca606060429018767a70302010cbe2f282d020103a028a826800300fde881010582010583010aa416800101810305f100820c03ee1c00000408000079ef18",
    );
    let (cp, _) = Cp::decode(&b, &LIM).unwrap();
    let aarq = first_value(cp.normal.unwrap().user_data.unwrap()).to_vec();
    // 28 2d 02 01 03: the EXTERNAL and its indirect-reference 3.
    let at = aarq
        .windows(5)
        .position(|w| w == [0x28, 0x2d, 0x02, 0x01, 0x03])
        .unwrap()
        + 2;
    for (octet, value) in [(0x00, 0), (0x80, u64::MAX - 127), (0x7f, 127)] {
        let mut v = aarq.clone();
        v[at + 2] = octet;
        let got = Apdu::decode(&v, &LIM);
        if value == 127 {
            let Ok(Apdu::Aarq(a)) = got else {
                panic!("{got:?}")
            };
            let ext: Vec<_> = a.user_information.unwrap().iter().collect();
            assert_eq!(ext[0].indirect_reference, Some(cid(127)));
            continue;
        }
        let e = got.unwrap_err();
        assert_eq!(
            (e.layer(), e.offset(), *e.kind()),
            (
                Layer::Acse,
                at,
                DecodeErrorKind::InvalidValue {
                    what: "presentation context identifier",
                    value
                }
            )
        );
    }
}
