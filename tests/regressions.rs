//! Inputs that crashed, hung or fooled other stacks (`regressions.md`, TPKT and COTP lines 1–11
//! and 20). Each gets the specific error, or the correct handling where the input is legal.

mod common;
use common::hex;

use osi_stack::cotp::class0::{self, Refusal, Responder};
use osi_stack::cotp::{Data, DisconnectReason, Reassembler, RejectCause, Tpdu, TpduKind, TpduSize};
use osi_stack::tpkt::{Tpkt, frame_len};
use osi_stack::{DecodeErrorKind, Layer, Limits};

/// Decodes TPKT then COTP, as a receiver does.
fn tpdu(bytes: &[u8]) -> Result<Tpdu<'_>, osi_stack::DecodeError> {
    let tpkt = Tpkt::decode_exact(bytes)?;
    Tpdu::decode(tpkt.payload).map_err(|e| e.shifted(4))
}

#[test]
fn r01_tpkt_length_zero() {
    let b = hex("03 00 00 00");
    let e = frame_len(&b).unwrap_err();
    assert_eq!(e.layer(), Layer::Tpkt);
    assert_eq!(e.offset(), 2);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::LengthOutOfRange {
            what: "tpkt length",
            value: 0,
            min: 7,
            max: 65535
        }
    );
    assert_eq!(Tpkt::decode(&b).unwrap_err(), e);
}

#[test]
fn r02_tpkt_length_below_minimum() {
    let b = hex("03 00 00 06 02 f0");
    let e = frame_len(&b).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LengthOutOfRange {
            value: 6,
            min: 7,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "tpkt: tpkt length 6 outside 7..=65535 at offset 2"
    );
}

#[test]
fn r03_tpkt_version_4() {
    let b = hex("04 00 00 07 02 f0 80");
    let e = frame_len(&b).unwrap_err();
    assert_eq!((e.layer(), e.offset()), (Layer::Tpkt, 0));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::InvalidValue {
            what: "tpkt version",
            value: 4
        }
    );
}

#[test]
fn r04_dt_without_user_data_is_an_empty_tsdu() {
    let b = hex("03 00 00 07 02 f0 80");
    let Tpdu::Dt(dt) = tpdu(&b).unwrap() else {
        panic!("not a DT")
    };
    assert!(dt.eot);
    assert!(dt.user_data.is_empty());
    class0::check_dt(&dt).unwrap();
    let mut r = Reassembler::new(Limits::default());
    let tsdu = r.push(&dt).unwrap().expect("EOT completes the TSDU");
    assert!(tsdu.is_empty());
}

#[test]
fn r05_dt_with_li_3_is_refused() {
    let b = hex("03 00 00 08 03 f0 80 32");
    let e = tpdu(&b).unwrap_err();
    assert_eq!((e.layer(), e.offset()), (Layer::Cotp, 4));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::InvalidValue {
            what: "dt length indicator",
            value: 3
        }
    );
}

#[test]
fn r06_dt_tpdu_nr_bits_in_class_0_are_reported() {
    let b = hex("03 00 00 08 02 f0 81 32");
    // The decoder shows what is on the wire (an analyser sees NR 1)…
    let Tpdu::Dt(dt) = tpdu(&b).unwrap() else {
        panic!("not a DT")
    };
    assert_eq!((dt.nr, dt.eot, dt.user_data), (1, true, &[0x32][..]));
    // …and the class-0 check refuses it, naming the octet.
    let e = class0::check_dt(&dt).unwrap_err();
    assert_eq!((e.layer(), e.offset()), (Layer::Cotp, 2));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::InvalidValue {
            what: "class 0 dt tpdu-nr",
            value: 1
        }
    );
}

#[test]
fn r07_tpdu_size_code_a2_is_an_invalid_parameter_value() {
    // CR, SRC-REF 1, class 0, C0 = 0xa2, called TSAP 0001.
    let b = hex("03 00 00 12 0d e0 00 00 00 01 00 c0 01 a2 c2 02 00 01");
    let Tpdu::Cr(cr) = tpdu(&b).unwrap() else {
        panic!("not a CR")
    };
    assert_eq!(cr.tpdu_size(), Some(TpduSize(0xa2)));
    assert_eq!(cr.tpdu_size().unwrap().octets(), None);
    let refusal = class0::respond(&cr, &Responder::default()).unwrap_err();
    assert_eq!(
        refusal,
        Refusal::Reject {
            cause: RejectCause::INVALID_PARAMETER_VALUE,
            offset: 9
        }
    );
    let cr_tpdu = &b[4..];
    assert_eq!(cr_tpdu[9], 0xa2);
    let mut er = Vec::new();
    refusal.encode(&cr, cr_tpdu, &mut er).unwrap();
    let Tpdu::Er(er) = Tpdu::decode(&er).unwrap() else {
        panic!("not an ER")
    };
    assert_eq!(er.cause, RejectCause::INVALID_PARAMETER_VALUE);
    assert_eq!(er.invalid_tpdu(), Some(&cr_tpdu[..10]));
    class0::check_er(&er).unwrap();
}

#[test]
fn r08_cr_li_past_end_of_tpkt() {
    // LI 0x20 = 32, but only 13 octets follow it.
    let b = hex("03 00 00 12 20 e0 00 00 00 01 00 c0 01 0d c2 02 00 01");
    let e = tpdu(&b).unwrap_err();
    assert_eq!((e.layer(), e.offset()), (Layer::Cotp, 4));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Overrun {
            what: "length indicator",
            declared: 32,
            available: 13
        }
    );
}

#[test]
fn r09_cc_parameter_longer_than_variable_part() {
    // CC whose variable part is `c1 04 00 01`: the parameter claims 4 octets, 2 remain.
    let b = hex("03 00 00 0f 0a d0 00 01 00 01 00 c1 04 00 01");
    let e = tpdu(&b).unwrap_err();
    assert_eq!((e.layer(), e.offset()), (Layer::Cotp, 4 + 7));
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Overrun {
            what: "parameter",
            declared: 4,
            available: 2
        }
    );
}

#[test]
fn r10_cr_with_unknown_parameter_is_accepted_and_reports_it() {
    let b = hex("03 00 00 15 10 e0 00 00 00 01 00 c9 01 00 c0 01 0a c2 02 00 01");
    let Tpdu::Cr(cr) = tpdu(&b).unwrap() else {
        panic!("not a CR")
    };
    let unknown: Vec<_> = cr.unknown_params().collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!((unknown[0].code.0, unknown[0].value), (0xc9, &[0u8][..]));
    assert_eq!(
        class0::disposition(TpduKind::Cr, unknown[0].code, true),
        class0::Disposition::Ignore
    );
    let accepted = class0::respond(&cr, &Responder::default()).unwrap();
    assert_eq!(accepted.tpdu_size, 1024);
    assert_eq!(accepted.called_tsel, Some(&[0u8, 1][..]));
}

#[test]
fn r11_cr_preferring_class_2_or_4_without_class_0_is_refused() {
    for class in [0x20u8, 0x40] {
        let b = hex(&format!(
            "03 00 00 0e 09 e0 00 00 00 01 {class:02x} c0 01 0a"
        ));
        let Tpdu::Cr(cr) = tpdu(&b).unwrap() else {
            panic!("not a CR")
        };
        let refusal = class0::respond(&cr, &Responder::default()).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Disconnect(DisconnectReason::NEGOTIATION_FAILED)
        );
        let mut dr = Vec::new();
        refusal.encode(&cr, &b[4..], &mut dr).unwrap();
        assert_eq!(dr, hex("06 80 00 01 00 00 82"));
    }
    // With class 0 as an alternative, the answer is a class-0 CC, never class 2 or 4.
    let b = hex("03 00 00 11 0c e0 00 00 00 01 40 c0 01 0a c7 01 00");
    let Tpdu::Cr(cr) = tpdu(&b).unwrap() else {
        panic!("not a CR")
    };
    let accepted = class0::respond(&cr, &Responder::default()).unwrap();
    let params = accepted.cc_params().unwrap();
    let cc = accepted.cc(&cr, 9, &params);
    let Tpdu::Cc(c) = cc else { panic!("not a CC") };
    assert_eq!(c.class_option.class(), 0);
}

#[test]
fn r20_endless_eot0_segments_are_bounded() {
    let limits = Limits::default();
    let mut r = Reassembler::new(limits);
    let chunk = [0u8; 8189];
    let mut pushed = 0usize;
    let err = loop {
        match r.push(&Data::class0(&chunk, false)) {
            Ok(None) => pushed += chunk.len(),
            Ok(Some(_)) => panic!("no EOT was sent"),
            Err(e) => break e,
        }
        assert!(r.pending_len() <= limits.max_tsdu);
    };
    assert!(pushed <= limits.max_tsdu);
    assert_eq!(
        *err.kind(),
        DecodeErrorKind::LimitExceeded {
            limit: "max tsdu",
            max: 1024 * 1024
        }
    );
    assert_eq!(err.layer(), Layer::Cotp);
    assert_eq!(r.pending_len(), 0, "the partial TSDU is dropped");
}
