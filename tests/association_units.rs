//! Session functional units over in-memory association pairs: half-duplex with the data token,
//! give and please tokens, activities with minor synchronization, interrupt, discard, resume,
//! and the token rules on both sides (local `ServiceError`, peer protocol error).

use std::time::Instant;

use osi_stack::Layer;
use osi_stack::association::{
    AbortSource, AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event,
    OldConnection, ServiceError, State,
};
use osi_stack::session::{ActivityReason, SessionUserRequirements, TokenItem, TokenSettingItem};

const RTS: SessionUserRequirements = SessionUserRequirements(0x0249);
const ALL: TokenItem = TokenItem(0x15);

struct Pair {
    client: Association,
    server: Association,
    now: Instant,
}

fn events(a: &mut Association) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

fn flush(from: &mut Association, to: &mut Association, now: Instant) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(b) = from.poll_transmit() {
        all.extend_from_slice(&b);
    }
    to.handle_input(&all, now);
    all
}

impl Pair {
    fn new(requirements: SessionUserRequirements, setting: Option<TokenSettingItem>) -> Self {
        let now = Instant::now();
        let mut p = Pair {
            client: Association::initiator(Config::default()),
            server: Association::responder(Config::default(), Dispatch::default(), None),
            now,
        };
        p.client
            .associate(
                AssociateRequest::mms().with_session(requirements, setting),
                now,
            )
            .unwrap();
        p.c2s();
        p.s2c();
        p.c2s();
        events(&mut p.server);
        p.server.accept(AcceptResponse::default(), now).unwrap();
        events(&mut p.server);
        p.s2c();
        events(&mut p.client);
        assert_eq!(p.client.state(), State::Associated);
        p
    }

    fn c2s(&mut self) -> Vec<u8> {
        flush(&mut self.client, &mut self.server, self.now)
    }

    fn s2c(&mut self) -> Vec<u8> {
        flush(&mut self.server, &mut self.client, self.now)
    }
}

fn value(n: u8) -> Vec<u8> {
    vec![0x04, 0x01, n]
}

#[test]
fn duplex_default_has_no_tokens() {
    let mut p = Pair::new(SessionUserRequirements::DUPLEX, None);
    assert_eq!(p.client.available_tokens(), TokenItem::default());
    assert_eq!(
        p.client.session_requirements(),
        SessionUserRequirements::DUPLEX
    );
    p.server.send_data(3, &value(1), p.now).unwrap();
    p.client.send_data(3, &value(2), p.now).unwrap();
    p.s2c();
    p.c2s();
    assert!(matches!(events(&mut p.client).as_slice(), [Event::Data(_)]));
    assert!(matches!(events(&mut p.server).as_slice(), [Event::Data(_)]));
}

#[test]
fn negotiation_and_initial_tokens() {
    let p = Pair::new(RTS, None);
    assert_eq!(p.client.session_requirements(), RTS);
    assert_eq!(p.server.session_requirements(), RTS);
    assert_eq!(p.client.available_tokens(), ALL);
    assert_eq!(p.client.tokens(), ALL);
    assert_eq!(p.server.tokens(), TokenItem::default());
    // Token Setting Item: every token on the responder's side.
    let p = Pair::new(RTS, Some(TokenSettingItem(0b01_01_01_01)));
    assert_eq!(p.client.tokens(), TokenItem::default());
    assert_eq!(p.server.tokens(), ALL);
    // "Called user's choice" is settled on the initiator's side, and the AC says so.
    let p = Pair::new(RTS, Some(TokenSettingItem(0b00_10_10_10)));
    assert_eq!(p.client.tokens(), ALL);
    assert_eq!(p.server.tokens(), TokenItem::default());
}

#[test]
fn half_duplex_data_needs_the_token() {
    let mut p = Pair::new(SessionUserRequirements::HALF_DUPLEX, None);
    assert_eq!(p.client.available_tokens(), TokenItem::DATA);
    p.client.send_data(3, &value(1), p.now).unwrap();
    p.c2s();
    assert!(matches!(events(&mut p.server).as_slice(), [Event::Data(_)]));
    let err = p.server.send_data(3, &value(2), p.now).unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::TokenRule {
                request: "send_data",
                ..
            }
        ),
        "{err}"
    );
    // The server asks for the token with user data; the client gives it.
    p.server
        .please_tokens(TokenItem::DATA, Some((3, &[0x02, 0x01, 0x05])), p.now)
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
            assert_eq!(d.context_id, Some(3));
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
    assert!(p.client.send_data(3, &value(3), p.now).is_err());
    p.server.send_data(3, &value(4), p.now).unwrap();
    p.s2c();
    assert!(matches!(events(&mut p.client).as_slice(), [Event::Data(_)]));
    // Release needs every token: the client has none now.
    assert!(matches!(
        p.client.release(p.now),
        Err(ServiceError::TokenRule {
            request: "release",
            ..
        })
    ));
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
    let mut p = Pair::new(SessionUserRequirements::HALF_DUPLEX, None);
    // Forge the server's GT DT (the server machine itself refuses to send it).
    let mut dm = Pair::new(SessionUserRequirements::DUPLEX, None);
    dm.server.send_data(3, &value(9), dm.now).unwrap();
    let mut forged = Vec::new();
    while let Some(b) = dm.server.poll_transmit() {
        forged.extend_from_slice(&b);
    }
    p.client.handle_input(&forged, p.now);
    let ev = events(&mut p.client);
    match ev.as_slice() {
        [Event::Aborted(a)] => {
            assert_eq!(a.source, AbortSource::LocalProvider);
            assert_eq!(a.layer, Layer::Session);
            assert!(a.reason.contains("data token"), "{}", a.reason);
        }
        other => panic!("{other:?}"),
    }
    // An AB with "protocol error" went out.
    let out = p.client.poll_transmit().unwrap();
    assert!(
        out.windows(3).any(|w| w == [0x11, 0x01, 0x05]),
        "{out:02x?}"
    );
}

#[test]
fn activity_with_minor_syncs_and_end() {
    let mut p = Pair::new(RTS, None);
    assert!(matches!(
        p.client.sync_minor(p.now),
        Err(ServiceError::TokenRule { .. })
    ));
    assert!(p.client.activity_start(b"", p.now).is_err());
    p.client.activity_start(b"A1", p.now).unwrap();
    assert!(p.client.activity_start(b"A2", p.now).is_err());
    p.client.send_data(3, &value(1), p.now).unwrap();
    assert_eq!(p.client.sync_minor(p.now).unwrap(), 1);
    p.client.send_data(3, &value(2), p.now).unwrap();
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
    assert!(p.server.send_data(3, &value(9), p.now).is_err());
    assert!(p.server.sync_minor_response(3, p.now).is_err());
    p.server.sync_minor_response(2, p.now).unwrap();
    assert!(p.server.sync_minor_response(1, p.now).is_err());
    p.s2c();
    assert!(matches!(
        events(&mut p.client).as_slice(),
        [Event::SyncMinorConfirmed { serial: 2 }]
    ));
    assert_eq!(p.client.activity_end(p.now).unwrap(), 3);
    assert!(p.client.send_data(3, &value(3), p.now).is_err());
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
    p.server.send_data(3, &value(4), p.now).unwrap();
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
    let mut p = Pair::new(RTS, None);
    p.client.activity_start(b"X", p.now).unwrap();
    p.client.send_data(3, &value(1), p.now).unwrap();
    p.client.sync_minor(p.now).unwrap();
    assert!(
        p.client
            .give_tokens(TokenItem::MAJOR_ACTIVITY, p.now)
            .is_err()
    );
    p.client
        .activity_interrupt(ActivityReason::TEMPORARILY_UNABLE, p.now)
        .unwrap();
    assert!(p.client.send_data(3, &value(2), p.now).is_err());
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
    p.client.send_data(3, &value(3), p.now).unwrap();
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
    let mut p = Pair::new(SessionUserRequirements::HALF_DUPLEX, None);
    assert!(matches!(
        p.client.activity_start(b"A", p.now),
        Err(ServiceError::NotNegotiated { .. })
    ));
    assert!(matches!(
        p.client.sync_minor(p.now),
        Err(ServiceError::NotNegotiated { .. })
    ));
}

/// A peer MIP with the wrong serial number, and an AS from a peer without the activity token,
/// are session protocol errors.
#[test]
fn peer_activity_rule_violations() {
    // The server starts an activity although the client holds every token: forge it with a
    // pair in which the server holds the tokens.
    let mut forger = Pair::new(RTS, Some(TokenSettingItem(0b01_01_01_01)));
    forger.server.activity_start(b"Q", forger.now).unwrap();
    let mut bytes = Vec::new();
    while let Some(b) = forger.server.poll_transmit() {
        bytes.extend_from_slice(&b);
    }
    let mut p = Pair::new(RTS, None);
    p.client.handle_input(&bytes, p.now);
    match events(&mut p.client).as_slice() {
        [Event::Aborted(a)] => {
            assert_eq!(a.layer, Layer::Session);
            assert!(a.reason.contains("token"), "{}", a.reason);
        }
        other => panic!("{other:?}"),
    }
    // MIP serial numbers out of order: replay the same MIP twice.
    let mut p = Pair::new(RTS, None);
    p.client.activity_start(b"A", p.now).unwrap();
    p.c2s();
    p.client.sync_minor(p.now).unwrap();
    let mip = p.c2s();
    events(&mut p.server);
    p.server.handle_input(&mip, p.now);
    match events(&mut p.server).as_slice() {
        [Event::Aborted(a)] => {
            assert!(
                a.reason.contains("serial number 1, expected 2"),
                "{}",
                a.reason
            );
        }
        other => panic!("{other:?}"),
    }
}
