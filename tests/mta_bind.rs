//! The minimal X.411 MTA-bind of `ConnectorProfile`: the local MTA name and password go on the
//! wire in the RTORQ's `open`, a responder checks them against its remote name and password and
//! answers with its own (RTOAC) or with an MTABindError (RTORJ `userDataRJ`).

use std::time::Instant;

use bytes::Bytes;
use osi_stack::Limits;
use osi_stack::association::{Config, Dispatch};
use osi_stack::rts::{
    ConnectorProfile, MtaBind, MtaBindError, MtaBindForm, Rts, RtsEvent, RtsSettings,
    TransferState, X400Mode,
};
use osi_stack::rtse::RefuseReason;

fn profile(mode: X400Mode) -> ConnectorProfile {
    let mut p = ConnectorProfile::new(
        "\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9"
            .parse()
            .unwrap(),
    );
    p.mode = mode;
    p
}

/// Vectors written from the ASN.1 (X.411 `MTABindArgument`, IMPLICIT TAGS; Credentials is a
/// CHOICE, so its `[1]` is explicit; X.880 `Bind` wraps it in `[16]`), not from the encoder.
#[test]
fn vectors() {
    assert_eq!(
        MtaBind::Unauthenticated.encode_bare().unwrap(),
        [0x05, 0x00]
    );
    assert_eq!(
        MtaBind::Unauthenticated.encode_argument().unwrap(),
        [0xb0, 0x02, 0x05, 0x00]
    );
    assert_eq!(
        MtaBind::Unauthenticated.encode_result().unwrap(),
        [0xb1, 0x02, 0x05, 0x00]
    );
    let arg = MtaBind::Authenticated {
        name: b"mta-a",
        password: Some(b"secret"),
    };
    let bytes = [
        0xa1, 0x11, // authenticated [1] SET
        0x80, 0x05, b'm', b't', b'a', b'-', b'a', // initiator-name [0] IMPLICIT IA5String
        0xa1, 0x08, 0x16, 0x06, b's', b'e', b'c', b'r', b'e', b't', // [1] { IA5String }
    ];
    assert_eq!(arg.encode_bare().unwrap(), bytes);
    assert_eq!(
        MtaBind::decode_with_form(&bytes, &Limits::DEFAULT).unwrap(),
        (arg, MtaBindForm::Bare)
    );
    let mut wrapped = vec![0xb0, 0x13];
    wrapped.extend_from_slice(&bytes);
    assert_eq!(arg.encode_argument().unwrap(), wrapped);
    assert_eq!(arg.encode(MtaBindForm::Argument).unwrap(), wrapped);
    assert_eq!(
        MtaBind::decode_with_form(&wrapped, &Limits::DEFAULT).unwrap(),
        (arg, MtaBindForm::Argument)
    );
    // An OCTET STRING password and a security context are read too.
    let other = [
        0xa1, 0x0d, 0x80, 0x01, b'x', 0xa1, 0x04, 0x04, 0x02, 0x01, 0x02, 0xa2, 0x02, 0x31, 0x00,
    ];
    assert_eq!(
        MtaBind::decode(&other, &Limits::DEFAULT).unwrap(),
        MtaBind::Authenticated {
            name: b"x",
            password: Some(&[1, 2])
        }
    );
    assert_eq!(
        MtaBindError::AUTHENTICATION_ERROR.encode_bare(),
        [0x02, 0x01, 0x02]
    );
    assert_eq!(
        MtaBindError::AUTHENTICATION_ERROR.encode(),
        [0xb2, 0x03, 0x02, 0x01, 0x02]
    );
    assert_eq!(
        MtaBindError::decode_with_form(&[0x02, 0x01, 0x00], &Limits::DEFAULT).unwrap(),
        (MtaBindError::BUSY, MtaBindForm::Bare)
    );
    assert_eq!(
        MtaBindError::AUTHENTICATION_ERROR.to_string(),
        "authentication-error(2)"
    );
    assert!(MtaBind::decode(&[0xa1, 0x02, 0x80, 0x00], &Limits::DEFAULT).is_err());
    // Something after the wrapped value, an error tag around a bind, a bind tag around an error.
    assert!(MtaBind::decode(&[0xb0, 0x04, 0x05, 0x00, 0x05, 0x00], &Limits::DEFAULT).is_err());
    assert!(MtaBind::decode(&[0xb2, 0x02, 0x05, 0x00], &Limits::DEFAULT).is_err());
    assert!(MtaBindError::decode(&[0xb0, 0x03, 0x02, 0x01, 0x02], &Limits::DEFAULT).is_err());
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The MTA-bind values of the Wireshark wiki captures, copied from the RTSE `open` /
/// `userDataRJ` (tshark: P1 Bind-Argument, Bind-Result, Bind-Error):
/// `testdata/captures/x400-rtse__wswiki__x400-ping-success.pcap` frames 6 (RTORQ) and 7
/// (RTOAC), `x400-rtse__wswiki__x400-ping-refuse.pcap` frames 6 (RTORQ) and 7 (RTORJ).
#[test]
fn mta_bind_byte_for_byte_as_in_the_captures() {
    let l = &Limits::DEFAULT;
    // x400-ping-success.pcap frame 6: bind-invoke [16] { authenticated [1] { … } }.
    let success_arg =
        unhex("b024a1228013706572636976616c2e736d68732e636f2e756ba10b1609657863616c69627572");
    let bind = MtaBind::Authenticated {
        name: b"percival.smhs.co.uk",
        password: Some(b"excalibur"),
    };
    assert_eq!(bind.encode_argument().unwrap(), success_arg);
    assert_eq!(
        MtaBind::decode_with_form(&success_arg, l).unwrap(),
        (bind, MtaBindForm::Argument)
    );
    let mut p = profile(X400Mode::Normal1988);
    p.local_mta_name = Some("percival.smhs.co.uk".into());
    p.local_mta_password = Some("excalibur".into());
    assert_eq!(p.mta_bind_argument().unwrap(), success_arg);
    // x400-ping-success.pcap frame 7: bind-result [17].
    let success_result =
        unhex("b122a12080146775696e65766572652e736d68732e636f2e756ba10816066d65726c696e");
    let result = MtaBind::Authenticated {
        name: b"guinevere.smhs.co.uk",
        password: Some(b"merlin"),
    };
    assert_eq!(result.encode_result().unwrap(), success_result);
    assert_eq!(
        MtaBind::decode_with_form(&success_result, l).unwrap(),
        (result, MtaBindForm::Result)
    );
    // The responder's profile answers with that result and the initiator accepts it.
    let mut g = profile(X400Mode::Normal1988);
    g.local_mta_name = Some("guinevere.smhs.co.uk".into());
    g.local_mta_password = Some("merlin".into());
    g.remote_mta_name = Some("percival.smhs.co.uk".into());
    g.remote_mta_password = Some("excalibur".into());
    assert_eq!(
        g.check_mta_bind(Some(&success_arg), l),
        Ok(success_result.clone())
    );
    p.remote_mta_name = Some("guinevere.smhs.co.uk".into());
    assert_eq!(p.check_mta_bind_result(Some(&success_result), l), Ok(()));
    // A result is not an argument, nor the other way round.
    assert_eq!(
        g.check_mta_bind(Some(&success_result), l),
        Err(MtaBindError::AUTHENTICATION_ERROR)
    );
    // x400-ping-refuse.pcap frame 6: the argument with the password " ".
    let refuse_arg = unhex("b01ca11a8013706572636976616c2e736d68732e636f2e756ba103160120");
    let bind = MtaBind::Authenticated {
        name: b"percival.smhs.co.uk",
        password: Some(b" "),
    };
    assert_eq!(bind.encode_argument().unwrap(), refuse_arg);
    assert_eq!(
        g.check_mta_bind(Some(&refuse_arg), l),
        Err(MtaBindError::AUTHENTICATION_ERROR)
    );
    // x400-ping-refuse.pcap frame 7: the RTORJ's userDataRJ, bind-error [18] authentication-error.
    let refuse_error = unhex("b203020102");
    assert_eq!(MtaBindError::AUTHENTICATION_ERROR.encode(), refuse_error);
    assert_eq!(
        MtaBindError::decode_with_form(&refuse_error, l).unwrap(),
        (MtaBindError::AUTHENTICATION_ERROR, MtaBindForm::Error)
    );
}

struct Run {
    opened: Option<Option<Bytes>>,
    refused: Option<(Option<RefuseReason>, Option<Bytes>)>,
    server_saw: Option<Option<Bytes>>,
}

fn run(client: &ConnectorProfile, server: &ConnectorProfile) -> Run {
    let now = Instant::now();
    let mut c = Rts::initiator(
        client.config(),
        RtsSettings::from_profile(client),
        TransferState::new(),
    );
    let mut s = Rts::responder(
        Config::default(),
        Dispatch::default(),
        None,
        RtsSettings::from_profile(server),
    );
    s.handle_transport_accepted(now);
    let request = client.associate_request(None).unwrap().unwrap_or_else(|| {
        osi_stack::association::AssociateRequest::new(
            osi_stack::oid::Oid::X400_AC_MTS_TRANSFER.to_owned_oid(),
        )
    });
    let arg = client.mta_bind_argument().unwrap();
    c.open(request, Some(&arg), now).unwrap();
    let mut run = Run {
        opened: None,
        refused: None,
        server_saw: None,
    };
    for _ in 0..20 {
        while let Some(b) = c.poll_transmit() {
            s.handle_input(&b, now);
        }
        while let Some(e) = s.poll_event() {
            if let RtsEvent::OpenIndication(ind) = e {
                run.server_saw = Some(ind.user_data.clone());
                match server.check_mta_bind(ind.user_data.as_deref(), &Limits::DEFAULT) {
                    Ok(result) => s.accept_with(None, Some(&result), now).unwrap(),
                    Err(e) => s
                        .reject_with(RefuseReason::VALIDATION_FAILURE, Some(&e.encode()), now)
                        .unwrap(),
                }
            }
        }
        while let Some(b) = s.poll_transmit() {
            c.handle_input(&b, now);
        }
        while let Some(e) = c.poll_event() {
            match e {
                RtsEvent::Opened(o) => run.opened = Some(o.user_data.clone()),
                RtsEvent::Refused {
                    refuse_reason,
                    user_data,
                    ..
                } => run.refused = Some((refuse_reason, user_data)),
                _ => {}
            }
        }
    }
    run
}

#[test]
fn names_and_passwords_are_checked_both_ways() {
    for mode in [
        X400Mode::Normal1988,
        X400Mode::Mode1984,
        X400Mode::X410Mode1988,
    ] {
        let mut a = profile(mode);
        a.local_mta_name = Some("mta-a".into());
        a.local_mta_password = Some("secret-a".into());
        a.remote_mta_name = Some("mta-b".into());
        a.remote_mta_password = Some("secret-b".into());
        let mut b = profile(mode);
        b.local_mta_name = Some("mta-b".into());
        b.local_mta_password = Some("secret-b".into());
        b.remote_mta_name = Some("mta-a".into());
        b.remote_mta_password = Some("secret-a".into());
        let r = run(&a, &b);
        // What went on the wire is the argument with a's name and password.
        let saw = r.server_saw.clone().flatten().expect("open data");
        assert_eq!(
            MtaBind::decode(&saw, &Limits::DEFAULT).unwrap(),
            MtaBind::Authenticated {
                name: b"mta-a",
                password: Some(b"secret-a")
            },
            "{mode:?}"
        );
        let result = r.opened.expect("opened").expect("bind result");
        assert_eq!(
            a.check_mta_bind_result(Some(&result), &Limits::DEFAULT),
            Ok(()),
            "{mode:?}"
        );
        // The initiator checks the responder's result too.
        let mut wrong = a.clone();
        wrong.remote_mta_password = Some("other".into());
        assert_eq!(
            wrong.check_mta_bind_result(Some(&result), &Limits::DEFAULT),
            Err(MtaBindError::AUTHENTICATION_ERROR)
        );
    }
}

#[test]
fn a_wrong_password_is_refused_with_an_authentication_error() {
    let mut a = profile(X400Mode::Normal1988);
    a.local_mta_name = Some("mta-a".into());
    a.local_mta_password = Some("guess".into());
    let mut b = profile(X400Mode::Normal1988);
    b.remote_mta_name = Some("mta-a".into());
    b.remote_mta_password = Some("secret-a".into());
    let r = run(&a, &b);
    assert!(r.opened.is_none());
    let (_, user_data) = r.refused.expect("refused");
    // The error went on the wire as the captures show it: bind-error [18].
    assert_eq!(
        MtaBindError::decode_with_form(&user_data.expect("userDataRJ"), &Limits::DEFAULT).unwrap(),
        (MtaBindError::AUTHENTICATION_ERROR, MtaBindForm::Error)
    );
    // Without a configured remote name anything is accepted (unauthenticated result).
    let open = profile(X400Mode::Normal1988);
    let r = run(&a, &open);
    assert_eq!(
        r.opened,
        Some(Some(Bytes::from_static(&[0xb1, 0x02, 0x05, 0x00])))
    );
}
