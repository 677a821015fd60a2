//! The session machine against ISODE's own session echo (`testdata/captures/isode/iso-ssap-echo.pcap`:
//! `isoc` and `isod` with all eleven functional units): ISODE's side of the exchange is fed to
//! the machine playing the other role, and what the machine sends is compared with the octets
//! ISODE sent there: as the client to the end (tokens, activity, major sync, the
//! resynchronization collision, exception report, activity end, control give, release); and
//! as the server to the end too (isod gives the activity token inside the activity, which
//! X.215 allows, before the client's GTC).
//! Expedited TPDUs (EX and PR SPDUs on ISODE's class-0 expedited flow) are left out: class 0 has
//! no expedited flow in X.224.

#![cfg(feature = "pcap")]

use std::time::Instant;

use bytes::Bytes;

use osi_stack::dissect::capture::for_each_segment;
use osi_stack::session::connection::{ConnectRequest, Connection, Event, ResyncType};
use osi_stack::session::{self, SessionUserRequirements as R, TokenItem, TokenSettingItem};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/captures/isode/iso-ssap-echo.pcap"
);

/// The TSDUs of each direction, in order: (client to server, TSDU), DT TPDUs only (one TPKT
/// each in this capture, EOT set).
fn tsdus() -> Vec<(bool, Bytes)> {
    let mut streams: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut order = Vec::new();
    for_each_segment(std::path::Path::new(CAPTURE), |seg| {
        if seg.payload.is_empty() {
            return;
        }
        let c2s = seg.dst.port() == 102;
        let s = &mut streams[usize::from(c2s)];
        s.extend_from_slice(seg.payload);
        while s.len() >= 4 {
            let len = usize::from(u16::from_be_bytes([s[2], s[3]]));
            if s.len() < len {
                break;
            }
            let tpkt: Vec<u8> = s.drain(..len).collect();
            // TPKT (4) | LI | code: DT 0xf0 with EOT.
            if tpkt.get(5) == Some(&0xf0) {
                order.push((c2s, Bytes::copy_from_slice(&tpkt[7..])));
            }
        }
    })
    .unwrap();
    order
}

/// The SPDU kinds of a TSDU with their serial numbers: how an AE / AEA without user data is
/// compared with ISODE's, which carry 512 octets (this machine's activity end has none).
fn shape(tsdu: &[u8]) -> Vec<(session::SpduKind, Option<u64>)> {
    session::spdus(tsdu)
        .map(|s| {
            let s = s.unwrap();
            (s.kind(), s.serial_number().and_then(|n| n.value()))
        })
        .collect()
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn sent(c: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit() {
        out.extend_from_slice(&t.head);
        out.extend_from_slice(&t.body);
    }
    out
}

/// ISODE's session user data: 512 octets of zeros in every SPDU that carries some.
fn zeros() -> Vec<u8> {
    vec![0; 512]
}

#[test]
fn crate_responder_plays_isode_echo_server_to_the_end() {
    let t = tsdus();
    let client: Vec<&Bytes> = t.iter().filter(|(c, _)| *c).map(|(_, b)| b).collect();
    let server: Vec<&Bytes> = t.iter().filter(|(c, _)| !*c).map(|(_, b)| b).collect();
    let now = Instant::now();
    let mut s = Connection::responder(session::connection::Config::default());
    s.handle_transport_connected(now);
    // CN proposing every unit (0x07ff).
    s.handle_tsdu(client[0].clone(), now);
    let ev = events(&mut s);
    let Some(Event::ConnectIndication(ind)) = ev.first() else {
        panic!("{ev:?}")
    };
    assert_eq!(ind.requirements, R(0x07ff));
    // What this machine agrees to: half-duplex, minor and major sync, resync, negotiated
    // release, activities, capability data, exceptions, typed data (no expedited, symmetric
    // sync).
    assert_eq!(ind.agreed, R(0x07f9));
    s.accept(Bytes::from(zeros()), now).unwrap();
    let ac = sent(&mut s);
    assert_eq!(ac[0], 0x0e, "AC");
    let _ = events(&mut s);
    // GT + AS "echo".
    s.handle_tsdu(client[1].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::ActivityStarted {
            id: Bytes::from_static(b"echo")
        }]
    );
    // GT + DT "hello world\n\0".
    s.handle_tsdu(client[2].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::Data(Bytes::from_static(b"hello world\n\0"))]
    );
    // The server asks for the data token: ISODE's PT, octet for octet.
    s.please_tokens(TokenItem::DATA, &[], now).unwrap();
    assert_eq!(sent(&mut s), server[1][..]);
    s.handle_tsdu(client[3].clone(), now);
    assert_eq!(events(&mut s), [Event::TokensGiven(TokenItem::DATA)]);
    // The echo: ISODE's GT + DT.
    s.send_data(Bytes::from_static(b"hello world\n\0"), now)
        .unwrap();
    assert_eq!(sent(&mut s), server[2][..]);
    // The client asks for the data token back (PT with 512 octets), the server gives it.
    s.handle_tsdu(client[4].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::TokensPlease {
            tokens: TokenItem::DATA,
            user_data: Bytes::from(zeros())
        }]
    );
    s.give_tokens(TokenItem::DATA, now).unwrap();
    assert_eq!(sent(&mut s), server[3][..]);
    // GT + MAP serial 1 with 512 octets: S-SYNC-MAJOR indication.
    s.handle_tsdu(client[5].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::SyncMajor {
            serial: 1,
            user_data: Bytes::from(zeros())
        }]
    );
    // Nothing but the answer: data now would break the major sync rule.
    assert!(s.send_data(Bytes::from_static(b"x"), now).is_err());
    // PT + MAA serial 1 with 512 octets, as ISODE answered.
    s.sync_major_response(&zeros(), now).unwrap();
    assert_eq!(sent(&mut s), server[4][..]);
    // GT + RS "set" to 0, every token left to the acceptor's choice (0xaa).
    s.handle_tsdu(client[6].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::Resynchronize {
            kind: ResyncType::Set,
            serial: 0,
            token_setting: TokenSettingItem(0xaa),
            user_data: Bytes::from(zeros())
        }]
    );
    // isod overrides it with an abandon at V(M) = 2, every token on its side (0x55): ISODE's
    // GT + RS, octet for octet.
    assert_eq!(
        s.resynchronize(
            ResyncType::Abandon,
            0,
            TokenSettingItem(0x55),
            &zeros(),
            now
        ),
        Ok(2)
    );
    assert_eq!(sent(&mut s), server[5][..]);
    // PT + RA: the abandon wins the collision (abandon before set); all tokens here.
    s.handle_tsdu(client[7].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::ResynchronizeConfirmed {
            serial: 2,
            user_data: Bytes::from(zeros())
        }]
    );
    assert_eq!(s.tokens(), TokenItem(0x55));
    // The client asks for every token (PT 0x55, 512 octets).
    s.handle_tsdu(client[8].clone(), now);
    assert_eq!(
        events(&mut s),
        [Event::TokensPlease {
            tokens: TokenItem(0x55),
            user_data: Bytes::from(zeros())
        }]
    );
    // isod gives all four, the activity token too, inside the activity (X.215 puts no
    // activity rule on S-TOKEN-GIVE).
    s.give_tokens(TokenItem(0x55), now).unwrap();
    assert_eq!(sent(&mut s), server[6][..]);
    // The client gives the data token back and reports an exception (PT + ED).
    s.handle_tsdu(client[9].clone(), now);
    assert_eq!(events(&mut s), [Event::TokensGiven(TokenItem::DATA)]);
    s.handle_tsdu(client[10].clone(), now);
    let ev = events(&mut s);
    assert!(matches!(ev[..], [Event::ExceptionReport(_)]), "{ev:?}");
    // Resolved by giving the data token: ISODE's GT.
    s.give_tokens(TokenItem::DATA, now).unwrap();
    assert_eq!(sent(&mut s), server[7][..]);
    // GT + AE serial 2 (V(M) after the abandon), answered PT + AEA as ISODE did.
    s.handle_tsdu(client[11].clone(), now);
    assert_eq!(events(&mut s), [Event::ActivityEnd { serial: 2 }]);
    s.activity_end_response(now).unwrap();
    assert_eq!(shape(&sent(&mut s)), shape(server[8]));
    // GTC: every token comes to this side, answered GTA.
    s.handle_tsdu(client[12].clone(), now);
    assert_eq!(events(&mut s), [Event::ControlGiven]);
    assert_eq!(sent(&mut s), server[9][..]);
    // isod gives every token back.
    s.give_tokens(TokenItem(0x55), now).unwrap();
    assert_eq!(sent(&mut s), server[10][..]);
    // FN with 512 octets, answered DN with 512 octets, as isod did.
    s.handle_tsdu(client[13].clone(), now);
    let ev = events(&mut s);
    assert!(
        matches!(ev[..], [Event::ReleaseIndication { .. }]),
        "{ev:?}"
    );
    s.release_response(true, &zeros(), now).unwrap();
    assert_eq!(sent(&mut s), server[11][..]);
}

#[test]
fn crate_initiator_plays_isode_client_to_the_end() {
    let t = tsdus();
    let client: Vec<&Bytes> = t.iter().filter(|(c, _)| *c).map(|(_, b)| b).collect();
    let server: Vec<&Bytes> = t.iter().filter(|(c, _)| !*c).map(|(_, b)| b).collect();
    let now = Instant::now();
    let mut c = Connection::initiator(session::connection::Config::default());
    c.connect(
        ConnectRequest::default().with_requirements(R(0x07f9), None),
        now,
    )
    .unwrap();
    c.handle_transport_connected(now);
    let _ = sent(&mut c);
    // ISODE's AC (0x07fd): the units agreed are those both name.
    c.handle_tsdu(server[0].clone(), now);
    let ev = events(&mut c);
    assert!(matches!(ev.first(), Some(Event::Connected(_))), "{ev:?}");
    assert_eq!(c.requirements(), R(0x07f9));
    c.activity_start(b"echo", now).unwrap();
    let _ = sent(&mut c);
    c.send_data(Bytes::from_static(b"hello world\n\0"), now)
        .unwrap();
    assert_eq!(sent(&mut c), client[2][..]);
    // PT for the data token, GT back, the echo.
    c.handle_tsdu(server[1].clone(), now);
    let ev = events(&mut c);
    assert!(
        matches!(ev[..], [Event::TokensPlease { tokens, .. }] if tokens == TokenItem::DATA),
        "{ev:?}"
    );
    c.give_tokens(TokenItem::DATA, now).unwrap();
    assert_eq!(sent(&mut c), client[3][..]);
    c.handle_tsdu(server[2].clone(), now);
    assert_eq!(
        events(&mut c),
        [Event::Data(Bytes::from_static(b"hello world\n\0"))]
    );
    c.please_tokens(TokenItem::DATA, &zeros(), now).unwrap();
    assert_eq!(sent(&mut c), client[4][..]);
    c.handle_tsdu(server[3].clone(), now);
    assert_eq!(events(&mut c), [Event::TokensGiven(TokenItem::DATA)]);
    // GT + MAP: ISODE's octets.
    assert_eq!(c.sync_major(&zeros(), now), Ok(1));
    assert_eq!(sent(&mut c), client[5][..]);
    // PT + MAA: confirmed.
    c.handle_tsdu(server[4].clone(), now);
    assert_eq!(
        events(&mut c),
        [Event::SyncMajorConfirmed {
            serial: 1,
            user_data: Bytes::from(zeros())
        }]
    );
    // GT + RS "set" to 0, tokens to the acceptor's choice: isoc's octets.
    assert_eq!(
        c.resynchronize(ResyncType::Set, 0, TokenSettingItem(0xaa), &zeros(), now),
        Ok(0)
    );
    assert_eq!(sent(&mut c), client[6][..]);
    // isod's RS "abandon" at 2 crosses it and wins (abandon before set): indicated, ours void.
    c.handle_tsdu(server[5].clone(), now);
    assert_eq!(
        events(&mut c),
        [Event::Resynchronize {
            kind: ResyncType::Abandon,
            serial: 2,
            token_setting: TokenSettingItem(0x55),
            user_data: Bytes::from(zeros())
        }]
    );
    // PT + RA with the tokens as proposed (all on the responder's side): isoc's octets.
    c.resynchronize_response(None, &zeros(), now).unwrap();
    assert_eq!(sent(&mut c), client[7][..]);
    assert_eq!(c.tokens(), TokenItem::default());
    assert_eq!(c.next_serial(), Some(2));
    // PT for every token (with the release token of negotiated release), GT 0x55 back.
    c.please_tokens(TokenItem(0x55), &zeros(), now).unwrap();
    assert_eq!(sent(&mut c), client[8][..]);
    c.handle_tsdu(server[6].clone(), now);
    assert_eq!(events(&mut c), [Event::TokensGiven(TokenItem(0x55))]);
    // The data token to isod, then an exception report (PT + ED, reason 0, 512 octets).
    c.give_tokens(TokenItem::DATA, now).unwrap();
    assert_eq!(sent(&mut c), client[9][..]);
    c.exception_report(session::ActivityReason::NO_REASON, &zeros(), now)
        .unwrap();
    assert_eq!(sent(&mut c), client[10][..]);
    // isod resolves it by giving the data token back.
    c.handle_tsdu(server[7].clone(), now);
    assert_eq!(events(&mut c), [Event::TokensGiven(TokenItem::DATA)]);
    assert!(!c.exception_in_force());
    // GT + AE at V(M) 2, PT + AEA.
    assert_eq!(c.activity_end(now), Ok(2));
    assert_eq!(shape(&sent(&mut c)), shape(client[11]));
    c.handle_tsdu(server[8].clone(), now);
    assert_eq!(events(&mut c), [Event::ActivityEnded { serial: 2 }]);
    // GTC / GTA, then isod gives every token back.
    c.give_control(now).unwrap();
    assert_eq!(sent(&mut c), client[12][..]);
    c.handle_tsdu(server[9].clone(), now);
    assert_eq!(events(&mut c), [Event::ControlGiveConfirmed]);
    c.handle_tsdu(server[10].clone(), now);
    assert_eq!(events(&mut c), [Event::TokensGiven(TokenItem(0x55))]);
    // FN with 512 octets (isoc also writes PI 17 "release the transport connection", which is
    // what an absent PI 17 means), DN with 512 octets: released.
    c.release(&zeros(), now).unwrap();
    let fin = sent(&mut c);
    assert_eq!(fin[0], client[13][0], "FN");
    assert_eq!(fin[fin.len() - 512..], client[13][client[13].len() - 512..]);
    c.handle_tsdu(server[11].clone(), now);
    let ev = events(&mut c);
    assert!(matches!(ev[0], Event::Released { .. }), "{ev:?}");
    assert_eq!(ev.last(), Some(&Event::Closed));
}

// --- Beyond the capture: typed data and capability data (iso-ssap-echo uses neither) -------

/// An open initiator/responder pair with `units` proposed (all tokens on the initiator's side).
fn open_pair(units: R) -> (Connection, Connection, Instant) {
    let now = Instant::now();
    let mut c = Connection::initiator(session::connection::Config::default());
    let mut s = Connection::responder(session::connection::Config::default());
    c.connect(
        ConnectRequest::default().with_requirements(units, None),
        now,
    )
    .unwrap();
    c.handle_transport_connected(now);
    s.handle_transport_connected(now);
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let _ = events(&mut s);
    s.accept(Bytes::new(), now).unwrap();
    let _ = events(&mut s);
    c.handle_tsdu(Bytes::from(sent(&mut s)), now);
    let _ = events(&mut c);
    assert!(c.is_open() && s.is_open());
    (c, s, now)
}

fn aborted_with(ev: &[Event], what: &str) -> bool {
    ev.iter()
        .any(|e| matches!(e, Event::Aborted(a) if format!("{:?}", a.reason).contains(what)))
}

#[test]
fn typed_data_goes_whoever_holds_the_data_token() {
    let (mut c, mut s, now) = open_pair(R(0x0401)); // half-duplex + typed data
    // The responder lacks the data token: S-DATA is refused, S-TYPED-DATA goes (X.225 §7.13).
    assert!(s.send_data(Bytes::from_static(b"x"), now).is_err());
    s.send_typed_data(Bytes::from_static(b"typed"), now)
        .unwrap();
    let td = sent(&mut s);
    assert_eq!(
        td, b"\x21\x00typed",
        "TD, no parameters, then the user information"
    );
    c.handle_tsdu(Bytes::from(td), now);
    assert_eq!(
        events(&mut c),
        [Event::TypedData(Bytes::from_static(b"typed"))]
    );
    // Without the unit: refused locally, and a TD received is a protocol error (AB).
    let (mut c, mut s, now) = open_pair(R(0x0001));
    assert!(s.send_typed_data(Bytes::from_static(b"t"), now).is_err());
    c.handle_tsdu(Bytes::from_static(b"\x21\x00t"), now);
    let ev = events(&mut c);
    assert!(aborted_with(&ev, "typed data"), "{ev:?}");
    assert_eq!(sent(&mut c)[0], 0x19, "AB sent");
}

#[test]
fn capability_data_outside_activities_with_every_token() {
    // Half-duplex, minor sync, activity management, capability data.
    let units = R(0x0149);
    let (mut c, mut s, now) = open_pair(units);
    assert_eq!(c.requirements(), units);
    // The responder holds no token: refused.
    assert!(s.capability_data(b"cap", now).is_err());
    c.capability_data(b"cap", now).unwrap();
    let cd = sent(&mut c);
    // GT (empty) + CD with PGI 193.
    assert_eq!(cd, b"\x01\x00\x3d\x05\xc1\x03cap");
    // Nothing else until the CDA.
    assert!(c.send_data(Bytes::from_static(b"x"), now).is_err());
    s.handle_tsdu(Bytes::from(cd), now);
    assert_eq!(
        events(&mut s),
        [Event::CapabilityData(Bytes::from_static(b"cap"))]
    );
    s.capability_data_response(b"ok", now).unwrap();
    let cda = sent(&mut s);
    assert_eq!(cda, b"\x02\x00\x3e\x04\xc1\x02ok");
    c.handle_tsdu(Bytes::from(cda), now);
    assert_eq!(
        events(&mut c),
        [Event::CapabilityDataConfirmed(Bytes::from_static(b"ok"))]
    );
    // Inside an activity: refused locally; a CD from the peer then is a protocol error.
    c.activity_start(b"1", now).unwrap();
    let as_ = sent(&mut c);
    s.handle_tsdu(Bytes::from(as_), now);
    let _ = events(&mut s);
    assert!(c.capability_data(b"cap", now).is_err());
    s.handle_tsdu(Bytes::from_static(b"\x01\x00\x3d\x00"), now);
    let ev = events(&mut s);
    assert!(aborted_with(&ev, "cd inside an activity"), "{ev:?}");
    // A CDA nobody asked for is a protocol error too.
    let (mut c, _s, now) = open_pair(units);
    c.handle_tsdu(Bytes::from_static(b"\x02\x00\x3e\x00"), now);
    let ev = events(&mut c);
    assert!(aborted_with(&ev, "cda without"), "{ev:?}");
}

#[test]
fn major_sync_needs_its_unit_and_the_tokens() {
    // Without the major synchronize unit: refused, and a MAP received aborts.
    let (mut c, mut s, now) = open_pair(R(0x0049));
    c.activity_start(b"1", now).unwrap();
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let _ = events(&mut s);
    assert!(c.sync_major(&[], now).is_err());
    s.handle_tsdu(
        Bytes::from_static(b"\x01\x00\x29\x06\x0f\x01\x01\x2a\x01\x31"),
        now,
    );
    let ev = events(&mut s);
    assert!(aborted_with(&ev, "major synchronize"), "{ev:?}");
    // With it, a MAP with the wrong serial number aborts (X.225: V(M)).
    let (mut c, mut s, now) = open_pair(R(0x0059));
    c.activity_start(b"1", now).unwrap();
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let _ = events(&mut s);
    s.handle_tsdu(
        Bytes::from_static(b"\x01\x00\x29\x06\x0f\x01\x01\x2a\x01\x37"),
        now,
    );
    let ev = events(&mut s);
    assert!(aborted_with(&ev, "map serial number"), "{ev:?}");
}

#[test]
fn resynchronize_needs_its_unit_and_an_answer_needs_a_request() {
    // Without the resynchronize unit: refused, and an RS received aborts.
    let (mut c, mut s, now) = open_pair(R(0x0049));
    c.activity_start(b"1", now).unwrap();
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let _ = events(&mut s);
    assert!(
        c.resynchronize(ResyncType::Restart, 1, TokenSettingItem(0), &[], now)
            .is_err()
    );
    s.handle_tsdu(
        Bytes::from_static(b"\x01\x00\x35\x09\x1a\x01\x00\x1b\x01\x00\x2a\x01\x31"),
        now,
    );
    let ev = events(&mut s);
    assert!(aborted_with(&ev, "resynchronize unit"), "{ev:?}");
    // With it: restart beyond V(M) is refused; an RA nobody asked for aborts.
    let (mut c, mut s, now) = open_pair(R(0x0069));
    c.activity_start(b"1", now).unwrap();
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let _ = events(&mut s);
    assert!(
        c.resynchronize(ResyncType::Restart, 5, TokenSettingItem(0), &[], now)
            .is_err()
    );
    s.handle_tsdu(
        Bytes::from_static(b"\x02\x00\x22\x06\x1a\x01\x00\x2a\x01\x31"),
        now,
    );
    let ev = events(&mut s);
    assert!(aborted_with(&ev, "ra without"), "{ev:?}");
    // Restart at 1 both ways: RS, RA, V(M) = 1 and the tokens where the RA puts them.
    let (mut c, mut s, now) = open_pair(R(0x0069));
    c.activity_start(b"1", now).unwrap();
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let _ = events(&mut s);
    assert_eq!(
        c.resynchronize(ResyncType::Restart, 1, TokenSettingItem(0), &[], now),
        Ok(1)
    );
    s.handle_tsdu(Bytes::from(sent(&mut c)), now);
    let ev = events(&mut s);
    assert!(
        matches!(
            ev[..],
            [Event::Resynchronize {
                kind: ResyncType::Restart,
                serial: 1,
                ..
            }]
        ),
        "{ev:?}"
    );
    s.resynchronize_response(None, &[], now).unwrap();
    c.handle_tsdu(Bytes::from(sent(&mut s)), now);
    assert!(matches!(
        events(&mut c)[..],
        [Event::ResynchronizeConfirmed { serial: 1, .. }]
    ));
    assert_eq!(c.next_serial(), Some(1));
    assert_eq!(
        c.tokens(),
        TokenItem(0x15),
        "token setting 0: all at the initiator"
    );
}
