//! Session functional units over in-memory association pairs: half-duplex with the data token,
//! give and please tokens, activities with minor synchronization, interrupt, discard, resume,
//! and the token rules on both sides (local `ServiceError`, peer protocol error).

use std::time::Instant;

use osi_stack::Layer;
use osi_stack::association::{
    AbortSource, AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event,
    OldConnection, ServiceError,
};
use osi_stack::presentation::ContextId;
use osi_stack::session::{ActivityReason, SessionUserRequirements, TokenItem, TokenSettingItem};

const RTS: SessionUserRequirements = SessionUserRequirements(0x0249);
const ALL: TokenItem = TokenItem(0x15);

mod common;
use common::cid;

use common::assoc::events;
use osi_stack::DecodeErrorKind;
use osi_stack::association::AbortReason;
use osi_stack::session::connection::ServiceError as SessionError;

type Pair = osi_stack::testing::Pair<Association, Association>;

/// An association pair associated with the given session functional units.
fn associated(requirements: SessionUserRequirements, setting: Option<TokenSettingItem>) -> Pair {
    let mut p = common::assoc::default_pair();
    common::assoc::associate(
        &mut p,
        AssociateRequest::mms().with_session(requirements, setting),
        AcceptResponse::default(),
    );
    p
}

/// The session protocol error of an `Aborted` event.
fn session_error(ev: &[Event]) -> DecodeErrorKind {
    match ev {
        [Event::Aborted(a)] => match a.reason {
            AbortReason::ProtocolError(e) => {
                assert_eq!(a.source, AbortSource::LocalProvider);
                assert_eq!(e.layer(), Layer::Session);
                *e.kind()
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

fn token_rule(e: ServiceError) -> &'static str {
    match e {
        ServiceError::Session(SessionError::TokenRule { request, .. }) => request,
        other => panic!("{other:?}"),
    }
}

fn value(n: u8) -> Vec<u8> {
    vec![0x04, 0x01, n]
}

#[test]
fn duplex_default_has_no_tokens() {
    let mut p = associated(SessionUserRequirements::DUPLEX, None);
    assert_eq!(p.client.available_tokens(), TokenItem::default());
    assert_eq!(
        p.client.session_requirements(),
        SessionUserRequirements::DUPLEX
    );
    p.server.send_data(cid(3), &value(1), p.now).unwrap();
    p.client.send_data(cid(3), &value(2), p.now).unwrap();
    p.s2c();
    p.c2s();
    assert!(matches!(events(&mut p.client).as_slice(), [Event::Data(_)]));
    assert!(matches!(events(&mut p.server).as_slice(), [Event::Data(_)]));
}

#[test]
fn negotiation_and_initial_tokens() {
    let p = associated(RTS, None);
    assert_eq!(p.client.session_requirements(), RTS);
    assert_eq!(p.server.session_requirements(), RTS);
    assert_eq!(p.client.available_tokens(), ALL);
    assert_eq!(p.client.tokens(), ALL);
    assert_eq!(p.server.tokens(), TokenItem::default());
    // Token Setting Item: every token on the responder's side.
    let p = associated(RTS, Some(TokenSettingItem(0b01_01_01_01)));
    assert_eq!(p.client.tokens(), TokenItem::default());
    assert_eq!(p.server.tokens(), ALL);
    // "Called user's choice" is settled on the initiator's side, and the AC says so.
    let p = associated(RTS, Some(TokenSettingItem(0b00_10_10_10)));
    assert_eq!(p.client.tokens(), ALL);
    assert_eq!(p.server.tokens(), TokenItem::default());
}

#[test]
fn half_duplex_data_needs_the_token() {
    let mut p = associated(SessionUserRequirements::HALF_DUPLEX, None);
    assert_eq!(p.client.available_tokens(), TokenItem::DATA);
    p.client.send_data(cid(3), &value(1), p.now).unwrap();
    p.c2s();
    assert!(matches!(events(&mut p.server).as_slice(), [Event::Data(_)]));
    let err = p.server.send_data(cid(3), &value(2), p.now).unwrap_err();
    assert_eq!(token_rule(err), "send_data");
    // The server asks for the token with user data; the client gives it.
    p.server
        .please_tokens(TokenItem::DATA, Some((cid(3), &[0x02, 0x01, 0x05])), p.now)
        .unwrap();
    p.s2c();
    match events(&mut p.client).as_slice() {
        [
            Event::TokensPlease {
                tokens,
                data: Some(d),
            },
        ] => {
            assert_eq!(*tokens, TokenItem::DATA);
            assert_eq!(d.context_id, Some(cid(3)));
            assert_eq!(&d.value[..], [0x02, 0x01, 0x05]);
        }
        other => panic!("{other:?}"),
    }
    // Asking for a token one holds, or giving one not held, are local errors.
    assert!(
        p.client
            .please_tokens(TokenItem::DATA, None, p.now)
            .is_err()
    );
    assert!(p.server.give_tokens(TokenItem::DATA, p.now).is_err());
    // Giving a token that does not exist.
    assert!(p.client.give_tokens(TokenItem::MINOR_SYNC, p.now).is_err());
    p.client.give_tokens(TokenItem::DATA, p.now).unwrap();
    let bytes = p.c2s();
    assert!(
        bytes.ends_with(&[0x01, 0x03, 0x10, 0x01, 0x01]),
        "{bytes:02x?}"
    );
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::TokensGiven(TokenItem::DATA)]
    ));
    assert_eq!(p.server.tokens(), TokenItem::DATA);
    assert!(p.client.send_data(cid(3), &value(3), p.now).is_err());
    p.server.send_data(cid(3), &value(4), p.now).unwrap();
    p.s2c();
    assert!(matches!(events(&mut p.client).as_slice(), [Event::Data(_)]));
    // Release needs every token: the client has none now.
    assert_eq!(token_rule(p.client.release(p.now).unwrap_err()), "release");
    p.server.release(p.now).unwrap();
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::ReleaseIndication]
    ));
    p.client.release_response(true, p.now).unwrap();
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::Released { .. }, Event::Closed]
    ));
}

/// The server sends a DT although the client holds the data token: the client aborts with a
/// session protocol error.
#[test]
fn peer_data_without_token_is_a_protocol_error() {
    let mut p = associated(SessionUserRequirements::HALF_DUPLEX, None);
    // Forge the server's GT DT (the server machine itself refuses to send it).
    let mut dm = associated(SessionUserRequirements::DUPLEX, None);
    dm.server.send_data(cid(3), &value(9), dm.now).unwrap();
    let mut forged = Vec::new();
    while let Some(b) = dm.server.poll_transmit() {
        forged.extend_from_slice(&b);
    }
    p.client.handle_input(&forged, p.now);
    assert_eq!(
        session_error(&events(&mut p.client)),
        DecodeErrorKind::BadSequence {
            what: "dt from a peer that does not hold the data token"
        }
    );
    // An AB with "protocol error" went out.
    let out = p.client.poll_transmit().unwrap();
    assert!(
        out.windows(3).any(|w| w == [0x11, 0x01, 0x05]),
        "{out:02x?}"
    );
}

#[test]
fn activity_with_minor_syncs_and_end() {
    let mut p = associated(RTS, None);
    assert_eq!(
        token_rule(p.client.sync_minor(p.now).unwrap_err()),
        "sync_minor"
    );
    assert!(p.client.activity_start(b"", p.now).is_err());
    p.client.activity_start(b"A1", p.now).unwrap();
    assert!(p.client.activity_start(b"A2", p.now).is_err());
    p.client.send_data(cid(3), &value(1), p.now).unwrap();
    assert_eq!(p.client.sync_minor(p.now).unwrap(), 1);
    p.client.send_data(cid(3), &value(2), p.now).unwrap();
    assert_eq!(p.client.sync_minor(p.now).unwrap(), 2);
    p.c2s();
    let ev = events(&mut p.server);
    assert!(
        matches!(
            ev.as_slice(),
            [
                Event::ActivityStarted { id },
                Event::Data(_),
                Event::SyncMinor { serial: 1 },
                Event::Data(_),
                Event::SyncMinor { serial: 2 },
            ] if id.as_ref() == b"A1"
        ),
        "{ev:?}"
    );
    // The receiver may not send data, nor confirm what was not indicated.
    assert!(p.server.send_data(cid(3), &value(9), p.now).is_err());
    assert!(p.server.sync_minor_response(3, p.now).is_err());
    p.server.sync_minor_response(2, p.now).unwrap();
    assert!(p.server.sync_minor_response(1, p.now).is_err());
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::SyncMinorConfirmed { serial: 2 }]
    ));
    assert_eq!(p.client.activity_end(p.now).unwrap(), 3);
    assert!(p.client.send_data(cid(3), &value(3), p.now).is_err());
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::ActivityEnd { serial: 3 }]
    ));
    p.server.activity_end_response(p.now).unwrap();
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::ActivityEnded { serial: 3 }]
    ));
    assert!(!p.client.in_activity() && !p.server.in_activity());
    // Turn: give every token to the server, which starts its own activity.
    p.client.give_tokens(ALL, p.now).unwrap();
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::TokensGiven(ALL)]
    ));
    p.server.activity_start(b"B", p.now).unwrap();
    p.server.send_data(cid(3), &value(4), p.now).unwrap();
    p.server.activity_end(p.now).unwrap();
    p.s2c();
    assert_eq!(events(&mut p.client).len(), 3);
    p.client.activity_end_response(p.now).unwrap();
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::ActivityEnded { serial: 1 }]
    ));
}

#[test]
fn interrupt_discard_and_resume() {
    let mut p = associated(RTS, None);
    p.client.activity_start(b"X", p.now).unwrap();
    p.client.send_data(cid(3), &value(1), p.now).unwrap();
    p.client.sync_minor(p.now).unwrap();
    p.client
        .activity_interrupt(ActivityReason::TEMPORARILY_UNABLE, p.now)
        .unwrap();
    assert!(p.client.send_data(cid(3), &value(2), p.now).is_err());
    p.c2s();
    let ev = events(&mut p.server);
    assert!(
        matches!(
            ev.last(),
            Some(Event::ActivityInterrupted {
                reason: ActivityReason::TEMPORARILY_UNABLE
            })
        ),
        "{ev:?}"
    );
    // The server's MIA for serial 1 is no longer possible: the activity is gone.
    assert!(p.server.sync_minor_response(1, p.now).is_err());
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::ActivityInterruptConfirmed]
    ));
    // Resume after serial 1: the next MIP carries 2.
    let old = OldConnection::default();
    p.client
        .activity_resume(b"Y", b"X", 1, &old, p.now)
        .unwrap();
    p.client.send_data(cid(3), &value(3), p.now).unwrap();
    assert_eq!(p.client.sync_minor(p.now).unwrap(), 2);
    p.c2s();
    let ev = events(&mut p.server);
    match ev.as_slice() {
        [
            Event::ActivityResumed(r),
            Event::Data(_),
            Event::SyncMinor { serial: 2 },
        ] => {
            assert_eq!(r.id.as_ref(), b"Y");
            assert_eq!(r.old_id.as_ref(), b"X");
            assert_eq!(r.serial, 1);
        }
        other => panic!("{other:?}"),
    }
    p.client
        .activity_discard(ActivityReason::LOCAL_USER_ERROR, p.now)
        .unwrap();
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::ActivityDiscarded {
            reason: ActivityReason::LOCAL_USER_ERROR
        }]
    ));
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::ActivityDiscardConfirmed]
    ));
    // A MIA that crossed the AD is ignored: start again and check nothing broke.
    p.client.activity_start(b"Z", p.now).unwrap();
    p.client.activity_end(p.now).unwrap();
    p.c2s();
    p.server.activity_end_response(p.now).unwrap();
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::ActivityEnded { serial: 1 }]
    ));
}

#[test]
fn not_negotiated_units_are_refused_locally() {
    let mut p = associated(SessionUserRequirements::HALF_DUPLEX, None);
    assert!(matches!(
        p.client.activity_start(b"A", p.now),
        Err(ServiceError::Session(SessionError::NotNegotiated {
            unit: "activity management",
            ..
        }))
    ));
    assert!(matches!(
        p.client.sync_minor(p.now),
        Err(ServiceError::Session(SessionError::NotNegotiated {
            unit: "minor synchronize",
            ..
        }))
    ));
}

/// A peer MIP with the wrong serial number, and an AS from a peer without the activity token,
/// are session protocol errors.
#[test]
fn peer_activity_rule_violations() {
    // The server starts an activity although the client holds every token: forge it with a
    // pair in which the server holds the tokens.
    let mut forger = associated(RTS, Some(TokenSettingItem(0b01_01_01_01)));
    forger.server.activity_start(b"Q", forger.now).unwrap();
    let mut bytes = Vec::new();
    while let Some(b) = forger.server.poll_transmit() {
        bytes.extend_from_slice(&b);
    }
    let mut p = associated(RTS, None);
    p.client.handle_input(&bytes, p.now);
    assert_eq!(
        session_error(&events(&mut p.client)),
        DecodeErrorKind::BadSequence {
            what: "activity start or resume from a peer that does not hold every token"
        }
    );
    // MIP serial numbers out of order: replay the same MIP twice.
    let mut p = associated(RTS, None);
    p.client.activity_start(b"A", p.now).unwrap();
    p.c2s();
    p.client.sync_minor(p.now).unwrap();
    let mip = p.c2s();
    events(&mut p.server);
    p.server.handle_input(&mip, p.now);
    assert_eq!(
        session_error(&events(&mut p.server)),
        DecodeErrorKind::InvalidValue {
            what: "mip serial number",
            value: 1
        }
    );
}

/// Forges one TSDU (TPKT + COTP DT + `spdus`) as a peer would send it.
fn frame(tsdu: &[u8]) -> Vec<u8> {
    let len = tsdu.len() + 7;
    let mut out = vec![0x03, 0x00, (len >> 8) as u8, len as u8, 0x02, 0xf0, 0x80];
    out.extend_from_slice(tsdu);
    out
}

#[test]
fn peer_gives_tokens_it_does_not_hold() {
    let mut p = associated(RTS, None);
    // The server holds nothing, yet gives the data token.
    p.client
        .handle_input(&frame(&[0x01, 0x03, 0x10, 0x01, 0x01]), p.now);
    assert_eq!(
        session_error(&events(&mut p.client)),
        DecodeErrorKind::InvalidValue {
            what: "gt giving tokens the peer does not hold",
            value: 1
        }
    );
    // A token that does not exist on a half-duplex-only association.
    let mut p = associated(SessionUserRequirements::HALF_DUPLEX, None);
    p.client
        .handle_input(&frame(&[0x02, 0x03, 0x10, 0x01, 0x04]), p.now);
    assert_eq!(
        session_error(&events(&mut p.client)),
        DecodeErrorKind::InvalidValue {
            what: "token item naming an unavailable token",
            value: 4
        }
    );
}

/// X.410-1984 mode at the association level: PConnect/PAccept parameters, raw data, raw PT
/// user data, an abort carrying AbortInformation, and a bare FN/DN release.
#[test]
fn x410_mode_association() {
    let now = Instant::now();
    let setup = || {
        let mut p = Pair::at(
            Association::initiator(Config::default()),
            Association::responder(Config::default(), Dispatch::default(), None),
            now,
        );
        p.client
            .associate(
                AssociateRequest::mms()
                    .with_session(RTS, None)
                    .with_x410_parameters(&[0x80, 0x01, 0x01][..]),
                now,
            )
            .unwrap();
        p.c2s();
        p.s2c();
        let cn = p.c2s();
        // CP-type: mode x410-1984 and the parameters, no AARQ.
        assert!(
            cn.windows(10)
                .any(|w| w == [0xa0, 0x03, 0x80, 0x01, 0x00, 0xa1, 0x03, 0x80, 0x01, 0x01]),
            "{cn:02x?}"
        );
        let ind = events(&mut p.server);
        match ind.last() {
            Some(Event::AssociateIndication(i)) => {
                assert_eq!(i.x410_parameters.as_deref(), Some(&[0x80, 0x01, 0x01][..]));
                assert_eq!(i.application_context, None);
            }
            other => panic!("{other:?}"),
        }
        p.server
            .accept(
                // checkpointSize 0 and the mandatory connectionDataAC (open, no user data).
                AcceptResponse::with_x410_parameters(
                    &[0x80, 0x01, 0x00, 0xa2, 0x02, 0x80, 0x00][..],
                ),
                now,
            )
            .unwrap();
        events(&mut p.server);
        p.s2c();
        match events(&mut p.client).last() {
            Some(Event::Associated(a)) => {
                assert_eq!(
                    a.x410_parameters.as_deref(),
                    Some(&[0x80, 0x01, 0x00, 0xa2, 0x02, 0x80, 0x00][..])
                );
                // No ACSE in X.410-1984 mode: no result, no application context, no contexts.
                assert_eq!((a.result, a.user_information.as_ref()), (None, None));
                assert!(a.contexts.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(p.client.is_x410() && p.server.is_x410());
        p
    };
    let mut p = setup();
    p.client.activity_start(b"1", now).unwrap();
    // X.410-1984 mode has no presentation context: the identifier is ignored.
    p.client
        .send_data(ContextId::MIN, b"any octets", now)
        .unwrap();
    p.client.activity_end(now).unwrap();
    let bytes = p.c2s();
    assert!(
        bytes
            .windows(14)
            .any(|w| w == b"\x01\x00\x01\x00any octets")
    );
    let ev = events(&mut p.server);
    assert!(
        ev.iter().any(|e| matches!(e, Event::Data(d) if d.context_id.is_none() && &d.value[..] == b"any octets")),
        "{ev:?}"
    );
    p.server.activity_end_response(now).unwrap();
    p.server
        .please_tokens(ALL, Some((ContextId::MIN, &[0x02, 0x01, 0x07])), now)
        .unwrap();
    p.s2c();
    match events(&mut p.client).as_slice() {
        [
            Event::ActivityEnded { .. },
            Event::TokensPlease { data: Some(d), .. },
        ] => {
            assert_eq!(&d.value[..], [0x02, 0x01, 0x07]);
        }
        other => panic!("{other:?}"),
    }
    // Release: FN and DN without user data.
    let fin = {
        p.client.release(now).unwrap();
        p.c2s()
    };
    assert!(fin.ends_with(&[0x09, 0x00]), "{fin:02x?}");
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::ReleaseIndication]
    ));
    p.server.release_response(true, now).unwrap();
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::Released { .. }, Event::Closed]
    ));
    // Abort with AbortInformation (RTAB components).
    let mut p = setup();
    p.client.abort_with(Some(&[0x80, 0x01, 0x03]), now).unwrap();
    p.c2s();
    match events(&mut p.server).as_slice() {
        [Event::Aborted(a), Event::Closed] => {
            assert_eq!(a.source, AbortSource::PeerUser);
            assert_eq!(a.user_information.as_deref(), Some(&[0x80, 0x01, 0x03][..]));
        }
        other => panic!("{other:?}"),
    }
}

/// Random sequences of well-formed token, activity and sync SPDUs from the peer: the machine
/// never panics, and every violation ends in an abort.
#[test]
fn random_unit_spdus_never_panic() {
    let vocabulary: [&[u8]; 16] = [
        &[0x01, 0x03, 0x10, 0x01, 0x15],             // GT all tokens
        &[0x01, 0x03, 0x10, 0x01, 0x01],             // GT data
        &[0x02, 0x03, 0x10, 0x01, 0x15],             // PT all tokens
        &[0x01, 0x00, 0x2d, 0x03, 0x29, 0x01, 0x41], // GT AS "A"
        &[0x01, 0x00, 0x01, 0x00, 0x61, 0x00],       // GT DT
        &[0x01, 0x00, 0x31, 0x03, 0x2a, 0x01, 0x31], // GT MIP 1
        &[0x01, 0x00, 0x31, 0x03, 0x2a, 0x01, 0x32], // GT MIP 2
        &[0x02, 0x00, 0x32, 0x03, 0x2a, 0x01, 0x31], // PT MIA 1
        &[0x01, 0x00, 0x29, 0x03, 0x2a, 0x01, 0x31], // GT AE 1
        &[0x02, 0x00, 0x2a, 0x03, 0x2a, 0x01, 0x31], // PT AEA 1
        &[0x01, 0x00, 0x19, 0x03, 0x32, 0x01, 0x00], // GT AI
        &[0x02, 0x00, 0x1a, 0x00],                   // PT AIA
        &[0x01, 0x00, 0x39, 0x03, 0x32, 0x01, 0x00], // GT AD
        &[0x02, 0x00, 0x3a, 0x00],                   // PT ADA
        &[
            0x02, 0x00, 0x1d, 0x0d, 0x21, 0x06, 0x29, 0x01, 0x41, 0x2a, 0x01, 0x31, 0x29, 0x01,
            0x42,
        ],
        &[0x01, 0x00, 0x31, 0x06, 0x2a, 0x04, 0x39, 0x39, 0x39, 0x39], // MIP 9999
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut aborted = 0;
    for round in 0..300 {
        let setting = if round % 2 == 0 {
            None
        } else {
            Some(TokenSettingItem(0x15))
        };
        let mut p = associated(RTS, setting);
        for _ in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let spdu = vocabulary[(x % vocabulary.len() as u64) as usize];
            p.client.handle_input(&frame(spdu), p.now);
            // The client's own requests interleave.
            match (x >> 8) % 6 {
                0 => drop(p.client.activity_start(b"C", p.now)),
                1 => drop(p.client.sync_minor(p.now)),
                2 => drop(p.client.activity_end(p.now)),
                3 => drop(p.client.give_tokens(ALL, p.now)),
                4 => drop(p.client.sync_minor_response(1, p.now)),
                _ => drop(p.client.activity_end_response(p.now)),
            }
            while p.client.poll_transmit().is_some() {}
        }
        if events(&mut p.client)
            .iter()
            .any(|e| matches!(e, Event::Aborted(_)))
        {
            aborted += 1;
        }
    }
    assert!(aborted > 0);
}

/// X.410-1984 mode: an accept without parameters sends the default PAccept with the
/// mandatory connectionDataAC (not the empty SET ISODE refused, `iso2osi-rtse-x410-echo`), and
/// parameters that lack it are refused before anything is sent.
#[test]
fn x410_accept_always_carries_connection_data() {
    let now = Instant::now();
    for params in [None, Some(&[0x80, 0x01, 0x00][..])] {
        let mut p = Pair::at(
            Association::initiator(Config::default()),
            Association::responder(Config::default(), Dispatch::default(), None),
            now,
        );
        let req = AssociateRequest::mms()
            .with_session(RTS, None)
            .with_x410_parameters(&[0x80, 0x01, 0x01][..]);
        p.client.associate(req, now).unwrap();
        p.settle();
        assert!(matches!(
            p.server_events().last(),
            Some(Event::AssociateIndication(_))
        ));
        let response = match params {
            None => AcceptResponse::default(),
            Some(b) => AcceptResponse::with_x410_parameters(b),
        };
        let result = p.server.accept(response, now);
        if params.is_some() {
            assert!(matches!(
                result,
                Err(ServiceError::InvalidX410Parameters(_))
            ));
            continue;
        }
        result.unwrap();
        p.settle();
        match p.client_events().last() {
            Some(Event::Associated(a)) => {
                assert_eq!(
                    a.x410_parameters.as_deref(),
                    Some(&[0xa2, 0x04, 0xa0, 0x02, 0x05, 0x00][..])
                );
                assert_eq!(a.result, None);
                assert!(a.contexts.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}

/// An accept whose AC user data would exceed `Config::accept_user_data_limit` (512 for
/// ISODE-based peers) fails before anything is sent; the indication stays answerable, and a
/// smaller answer goes through.
#[test]
fn accept_user_data_limit_is_checked_before_sending() {
    let now = Instant::now();
    let mut p = Pair::at(
        Association::initiator(Config::default()),
        Association::responder(
            Config::default().with_accept_user_data_limit(Some(512)),
            Dispatch::default(),
            None,
        ),
        now,
    );
    p.client.associate(AssociateRequest::mms(), now).unwrap();
    p.settle();
    assert!(matches!(
        p.server_events().last(),
        Some(Event::AssociateIndication(_))
    ));
    let mut big = vec![0x04, 0x82, 0x02, 0x58];
    big.extend(std::iter::repeat_n(0x55, 600));
    match p
        .server
        .accept(AcceptResponse::with_user_information(big), now)
    {
        Err(ServiceError::AcceptTooLarge { len, limit: 512 }) => assert!(len > 600),
        other => panic!("{other:?}"),
    }
    assert!(p.server.poll_transmit().is_none());
    p.server
        .accept(
            AcceptResponse::with_user_information(&[0x04, 0x01, 0x00][..]),
            now,
        )
        .unwrap();
    p.settle();
    assert!(matches!(
        p.client_events().last(),
        Some(Event::Associated(_))
    ));
}

/// X.215 puts no activity rule on S-TOKEN-GIVE: the major/activity token may be given inside
/// an activity (ISODE's session echo does). Whoever lacks it cannot end the activity until it
/// comes back.
#[test]
fn the_activity_token_may_be_given_inside_an_activity() {
    let mut p = associated(RTS, None);
    p.client.activity_start(b"X", p.now).unwrap();
    p.c2s();
    drop(events(&mut p.server));
    p.client
        .give_tokens(TokenItem::MAJOR_ACTIVITY, p.now)
        .unwrap();
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::TokensGiven(t)] if *t == TokenItem::MAJOR_ACTIVITY
    ));
    assert!(
        p.client.activity_end(p.now).is_err(),
        "the peer holds the token"
    );
    p.server
        .give_tokens(TokenItem::MAJOR_ACTIVITY, p.now)
        .unwrap();
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::TokensGiven(t)] if *t == TokenItem::MAJOR_ACTIVITY
    ));
    p.client.activity_end(p.now).unwrap();
    p.c2s();
    assert!(matches!(
        events(&mut p.server).as_slice(),
        [Event::ActivityEnd { .. }]
    ));
}
