//! In-memory initiator/responder pairs (no sockets): every path of the association machine,
//! asserting typed events and the bytes on the wire.

mod common;
use common::cid;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::assoc::{associate, default_pair, drain, events, pair, spdu_kinds};
use osi_stack::DecodeErrorKind;
use osi_stack::Layer;
use osi_stack::acse::{AssociateResult, AssociateSourceDiagnostic, UserDiagnostic};
use osi_stack::address::{PSel, SSel, TSel};
use osi_stack::association::{
    AbortReason, AbortSource, AcceptResponse, AssociateRequest, Association, Config, Configured,
    Criterion, Data, Dispatch, Event, Received, RefusalReason, RejectionCause, Selector, Service,
    State, Timeout,
};
use osi_stack::cotp::connection::{Disconnect, Wait as TransportWait};
use osi_stack::cotp::{DisconnectReason, RejectCause, Segments, Tpdu, class0};
use osi_stack::oid::OwnedOid;
use osi_stack::presentation::{self, Pdv, PdvList, PdvValues, ProviderReason, UserData};
use osi_stack::session::connection::Wait as SessionWait;
use osi_stack::session::{self, ParametersBuf, RefuseReason, Spdu, SpduKind, TransportDisconnect};
use osi_stack::tpkt::Tpkt;

fn mms_initiate_response() -> Vec<u8> {
    common::hex("a9 0d 80 02 7d 00 81 01 05 82 01 05 83 01 0a")
}

#[test]
fn associate_exchange_data_and_release() {
    let mut p = default_pair();
    let info = common::hex("a8 0a 80 02 7d 00 81 01 05 82 01 05");
    associate(
        &mut p,
        AssociateRequest::mms().with_user_information(info.clone()),
        AcceptResponse::with_user_information(mms_initiate_response()),
    );
    let now = p.now;
    // Data both ways, on the MMS context 3.
    let request = common::hex("a0 06 02 01 01 a1 01 00");
    p.client.send_data(cid(3), &request, now).unwrap();
    let wire = p.c2s();
    assert_eq!(spdu_kinds(&wire), [SpduKind::Gt, SpduKind::Dt]);
    assert_eq!(
        p.server_events(),
        [Event::Data(Data {
            context_id: Some(cid(3)),
            value: request.clone().into()
        })]
    );
    p.server.send_data(cid(3), &[0x30, 0x00], now).unwrap();
    p.s2c();
    assert_eq!(
        p.client_events(),
        [Event::Data(Data {
            context_id: Some(cid(3)),
            value: Bytes::from_static(&[0x30, 0])
        })]
    );
    // Context 5 was never proposed.
    assert_eq!(
        p.client.send_data(cid(5), &request, now),
        Err(osi_stack::association::ServiceError::UnknownContext(cid(5)))
    );
    // Release: FN (RLRQ), DN (RLRE), the receiver of DN closes.
    p.client.release(now).unwrap();
    assert_eq!(spdu_kinds(&p.c2s()), [SpduKind::Fn]);
    assert_eq!(p.server_events(), [Event::ReleaseIndication]);
    p.server.release_response(true, now).unwrap();
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Dn]);
    assert_eq!(p.server_events(), [Event::Released { collision: false }]);
    assert_eq!(p.server.state(), State::AwaitClose);
    assert_eq!(
        p.client_events(),
        [Event::Released { collision: false }, Event::Closed]
    );
    assert!(p.client.is_closed());
    // The client closes TCP; the server learns it and finishes.
    p.server.handle_transport_closed(now);
    assert_eq!(p.server_events(), [Event::Closed]);
}

#[test]
fn initiator_bytes_have_the_shape_libiec61850_expects() {
    let mut c = Association::initiator(Config::default());
    let req = AssociateRequest::mms()
        .with_called_selectors(
            Some(TSel::new(&[0, 1]).unwrap()),
            Some(SSel::new(&[0, 1]).unwrap()),
            Some(PSel::new(&[0, 0, 0, 1]).unwrap()),
        )
        .with_calling_selectors(
            Some(TSel::new(&[0, 1]).unwrap()),
            Some(SSel::new(&[0, 1]).unwrap()),
            Some(PSel::new(&[0, 0, 0, 1]).unwrap()),
        );
    let now = Instant::now();
    c.associate(req, now).unwrap();
    let cr = c.poll_transmit().unwrap();
    // TPKT, CR class 0, SRC-REF 1, TPDU size 8192, calling then called TSAP.
    assert_eq!(
        cr[..],
        common::hex("0300001611e00000000100c0010dc1020001c2020001")[..]
    );
    // The CC libiec61850 sends back (transcript), then the CN.
    c.handle_input(
        &common::hex("0300001611d00001000100c0010dc2020001c1020001"),
        now,
    );
    assert_eq!(
        c.poll_event(),
        Some(Event::TransportConnected { tpdu_size: 8192 })
    );
    let cn = c.poll_transmit().unwrap();
    // DT, CN with Connect/Accept Item (options 0, version 2), requirements duplex,
    // calling/called session selectors, user data.
    let (tpkt, _) = Tpkt::decode(&cn).unwrap();
    let Tpdu::Dt(dt) = Tpdu::decode(tpkt.payload).unwrap() else {
        panic!("not a DT")
    };
    let spdu = session::spdus(dt.user_data).next().unwrap().unwrap();
    assert_eq!(spdu.kind(), SpduKind::Cn);
    assert_eq!(spdu.version_number(), Some(session::VersionNumber::V2));
    assert_eq!(
        spdu.session_user_requirements(),
        Some(session::SessionUserRequirements::DUPLEX)
    );
    assert_eq!(spdu.calling_session_selector(), Some(&[0, 1][..]));
    assert_eq!(spdu.called_session_selector(), Some(&[0, 1][..]));
    let head = common::hex("0d 64 05061301001601021402000233020001 34020001 c1");
    assert_eq!(dt.user_data[..head.len()], head[..]);
}

/// What the association sends is what the layer encoders make: a P-DATA is
/// `Segments::encode` of `Spdu::encode(GT) + Spdu::encode(DT + User-data)`, for a small value
/// (copied) and a large one (sent from its own buffer).
#[test]
fn p_data_octets_come_from_the_layer_encoders() {
    for (len, tpdu) in [(10usize, 8192usize), (5000, 1024), (70_000, 8192)] {
        let mut p = pair(Config::default().with_tpdu_size(tpdu), Dispatch::default());
        associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
        let mut value = vec![0x04, 0x83];
        value.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        value.extend((0..len).map(|i| i as u8));
        p.client.send_data(cid(3), &value, p.now).unwrap();
        let sent = drain(&mut p.client);
        // The same P-DATA built by hand from the public encoders.
        let pdv = [Pdv {
            transfer_syntax: None,
            context_id: cid(3),
            values: PdvValues::SingleAsn1Type(&value),
        }];
        let mut ud = Vec::new();
        UserData::Full(PdvList::from_slice(&pdv))
            .encode(&mut ud)
            .unwrap();
        let empty = ParametersBuf::new();
        let mut tsdu = Vec::new();
        Spdu::new(SpduKind::Gt, empty.as_parameters().unwrap())
            .encode(&mut tsdu)
            .unwrap();
        Spdu::new(SpduKind::Dt, empty.as_parameters().unwrap())
            .with_user_information(&ud)
            .encode(&mut tsdu)
            .unwrap();
        let mut expected = Vec::new();
        Segments::new(&tsdu, tpdu).encode(&mut expected).unwrap();
        assert_eq!(sent, expected, "value of {len} octets, tpdu size {tpdu}");
        // And the header-only presentation encoder agrees with the whole one.
        let mut head = Vec::new();
        UserData::encode_single_header(cid(3), value.len(), &mut head).unwrap();
        assert_eq!(head.len(), UserData::single_header_len(cid(3), value.len()));
        assert_eq!([&head[..], &value[..]].concat(), ud);
    }
}

#[test]
fn every_chunking_gives_the_same_association() {
    for chunk in [1, 2, 3, 7, 100] {
        let mut p = default_pair();
        p.chunk = chunk;
        associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
        p.client
            .send_data(cid(3), &[0x30, 0x01, 0x07], p.now)
            .unwrap();
        p.c2s();
        assert_eq!(
            p.server_events(),
            [Event::Data(Data {
                context_id: Some(cid(3)),
                value: Bytes::from_static(&[0x30, 0x01, 0x07])
            })],
            "chunk {chunk}"
        );
    }
}

#[test]
fn large_p_data_is_segmented_and_reassembled() {
    let mut p = pair(Config::default().with_tpdu_size(128), Dispatch::default());
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    assert_eq!(p.client.tpdu_size(), 128);
    let mut value = vec![0x04, 0x82, 0x27, 0x10];
    value.extend((0..10_000u32).map(|i| i as u8));
    p.client.send_data(cid(3), &value, p.now).unwrap();
    let wire = p.c2s();
    // Every frame at most 4 + 128 octets.
    let mut rest = &wire[..];
    let mut frames = 0;
    while !rest.is_empty() {
        let (t, r) = Tpkt::decode(rest).unwrap();
        assert!(t.payload.len() <= 128);
        rest = r;
        frames += 1;
    }
    assert!(frames > 80);
    assert_eq!(
        p.server_events(),
        [Event::Data(Data {
            context_id: Some(cid(3)),
            value: value.into()
        })]
    );
}

fn two_services() -> Dispatch {
    Dispatch::new(vec![
        Service::new("mta-a").with_tsel(Selector::Is(TSel::new(b"MTA-A").unwrap())),
        Service::new("mta-b").with_tsel(Selector::Is(TSel::new(b"MTA-B").unwrap())),
    ])
}

#[test]
fn dispatch_by_t_selector_and_refusal_with_address_unknown() {
    for (tsel, service) in [(&b"MTA-A"[..], "mta-a"), (&b"MTA-B"[..], "mta-b")] {
        let mut p = pair(Config::default(), two_services());
        let req = AssociateRequest::mms().with_called_selectors(
            Some(TSel::new(tsel).unwrap()),
            None,
            None,
        );
        p.client.associate(req, p.now).unwrap();
        p.settle();
        let ev = p.server_events();
        let Event::AssociateIndication(ind) = &ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(ind.service_name.as_deref(), Some(service));
        assert_eq!(ind.called_tsel.as_deref(), Some(tsel));
        assert_eq!(p.server.service().unwrap().name, service);
    }
    let mut p = pair(Config::default(), two_services());
    let req = AssociateRequest::mms().with_called_selectors(
        Some(TSel::new(b"MTA-C").unwrap()),
        None,
        None,
    );
    p.client.associate(req, p.now).unwrap();
    p.c2s();
    let dr = p.s2c();
    let (t, _) = Tpkt::decode(&dr).unwrap();
    let Tpdu::Dr(dr) = Tpdu::decode(t.payload).unwrap() else {
        panic!("not a DR")
    };
    assert_eq!(dr.reason, DisconnectReason::ADDRESS_UNKNOWN);
    let ev = p.server_events();
    let Event::Rejected(r) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(r.layer(), Layer::Cotp);
    assert_eq!(
        r.sent,
        RefusalReason::Transport(Disconnect::Refused(class0::Refusal::Disconnect(
            DisconnectReason::ADDRESS_UNKNOWN
        )))
    );
    let RejectionCause::Mismatch(m) = &r.cause else {
        panic!("{:?}", r.cause)
    };
    assert_eq!(m.criterion, Criterion::CalledTsel);
    assert_eq!(
        m.received,
        Received::Selector(Some(Bytes::from_static(b"MTA-C")))
    );
    assert_eq!(
        m.configured,
        vec![
            (
                "mta-a".into(),
                Configured::Tsel(Selector::Is(TSel::new(b"MTA-A").unwrap())),
            ),
            (
                "mta-b".into(),
                Configured::Tsel(Selector::Is(TSel::new(b"MTA-B").unwrap())),
            ),
        ]
    );
    // The text an administrator reads.
    assert_eq!(
        r.cause.to_string(),
        "called t-selector 4d54412d43 (\"MTA-C\") matches no service (configured: mta-a=4d54412d41, mta-b=4d54412d42)"
    );
    assert_eq!(r.received_selector(), Some(&b"MTA-C"[..]));
    assert_eq!(ev[1], Event::Closed);
    let ev = p.client_events();
    let Event::Refused(refusal) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        refusal.reason,
        RefusalReason::Transport(Disconnect::Dr(DisconnectReason::ADDRESS_UNKNOWN))
    );
    assert_eq!(refusal.reason.code(), Some(3));
    assert_eq!(ev[1], Event::Closed);
}

#[test]
fn calling_address_policy_names_the_address() {
    let dispatch = Dispatch::new(vec![
        Service::new("x400").with_allowed_peer("127.0.0.1".parse().unwrap()),
    ]);
    let mut p = osi_stack::testing::Pair::new(
        Association::initiator(Config::default()),
        Association::responder(
            Config::default(),
            dispatch.clone(),
            Some("127.0.0.2".parse().unwrap()),
        ),
    );
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.c2s();
    let ev = p.server_events();
    let Event::Rejected(r) = &ev[0] else {
        panic!("{ev:?}")
    };
    let RejectionCause::Mismatch(m) = &r.cause else {
        panic!("{:?}", r.cause)
    };
    assert_eq!(m.criterion, Criterion::CallingAddress);
    assert_eq!(
        m.received,
        Received::Address(Some("127.0.0.2".parse().unwrap()))
    );
    assert_eq!(
        m.configured,
        vec![(
            "x400".into(),
            Configured::Peers(vec!["127.0.0.1".parse().unwrap()])
        )]
    );
    // The allowed address associates.
    let mut p = pair(Config::default(), dispatch);
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
}

fn refused(p: &mut common::assoc::AssocPair) -> osi_stack::association::Refusal {
    let ev = p.client_events();
    match &ev[..] {
        [
            Event::TransportConnected { .. },
            Event::Refused(r),
            Event::Closed,
        ] => (**r).clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusal_at_session_presentation_and_acse() {
    // Session: S-selector unknown (RF 0x81).
    let dispatch = Dispatch::new(vec![
        Service::new("s").with_ssel(Selector::Is(SSel::new(&[0, 1]).unwrap())),
    ]);
    let mut p = pair(Config::default(), dispatch);
    let req = AssociateRequest::mms().with_called_selectors(
        None,
        Some(SSel::new(&[0, 2]).unwrap()),
        None,
    );
    p.client.associate(req, p.now).unwrap();
    p.settle();
    assert_eq!(
        refused(&mut p).reason,
        RefusalReason::Session(RefuseReason::SELECTOR_UNKNOWN)
    );
    let ev = p.server_events();
    let Event::Rejected(r) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        r.sent,
        RefusalReason::Session(RefuseReason::SELECTOR_UNKNOWN)
    );
    assert!(matches!(&r.cause, RejectionCause::Mismatch(m)
        if m.criterion == Criterion::CalledSsel
            && m.received == Received::Selector(Some(Bytes::from_static(&[0, 2])))));
    assert_eq!(p.server.state(), State::AwaitClose);

    // Presentation: P-selector unknown (CPR provider reason 3).
    let dispatch = Dispatch::new(vec![
        Service::new("p").with_psel(Selector::Is(PSel::new(&[0, 0, 0, 1]).unwrap())),
    ]);
    let mut p = pair(Config::default(), dispatch);
    let req =
        AssociateRequest::mms().with_called_selectors(None, None, Some(PSel::new(&[1]).unwrap()));
    p.client.associate(req, p.now).unwrap();
    p.settle();
    assert_eq!(
        refused(&mut p).reason,
        RefusalReason::Presentation(Some(ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN))
    );

    // ACSE: called AP-title not recognized (AARE rejected-permanent, diagnostic 7).
    let mut service = Service::new("a");
    service.ap_title = Some("1.3.9999.23".parse().unwrap());
    let mut p = pair(Config::default(), Dispatch::new(vec![service]));
    let mut req = AssociateRequest::mms();
    req.called.ap_title = Some("1.3.9999.24".parse::<OwnedOid>().unwrap());
    p.client.associate(req, p.now).unwrap();
    p.settle();
    let r = refused(&mut p);
    assert_eq!(
        r.reason,
        RefusalReason::Acse {
            result: AssociateResult::REJECTED_PERMANENT,
            diagnostic: AssociateSourceDiagnostic::User(
                UserDiagnostic::CALLED_AP_TITLE_NOT_RECOGNIZED
            ),
        }
    );
    assert_eq!(r.reason.code(), Some(7));
    let ev = p.server_events();
    let Event::Rejected(rj) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(rj.sent, r.reason);
    let RejectionCause::Mismatch(m) = &rj.cause else {
        panic!("{:?}", rj.cause)
    };
    assert_eq!(m.criterion, Criterion::CalledApTitle);
    assert_eq!(
        m.received,
        Received::ApTitle(Some("1.3.9999.24".parse().unwrap()))
    );
    assert_eq!(
        m.configured,
        vec![(
            "a".into(),
            Configured::ApTitle(Some("1.3.9999.23".parse().unwrap()))
        )]
    );

    // The user rejects.
    let mut p = default_pair();
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.settle();
    let _ = p.server_events();
    p.server.reject(p.now).unwrap();
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Rf]);
    assert_eq!(
        refused(&mut p).reason,
        RefusalReason::Acse {
            result: AssociateResult::REJECTED_PERMANENT,
            diagnostic: AssociateSourceDiagnostic::User(UserDiagnostic::NO_REASON_GIVEN),
        }
    );
    // TIM: the server closes by itself when the client does not.
    assert_eq!(p.server.state(), State::AwaitClose);
    let deadline = p.server.poll_timeout().unwrap();
    p.server.handle_timeout(deadline);
    assert_eq!(p.server_events(), [Event::Closed]);
}

#[test]
fn release_refused_then_accepted() {
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let now = p.now;
    p.server.release(now).unwrap();
    p.s2c();
    assert_eq!(p.client_events(), [Event::ReleaseIndication]);
    p.client.release_response(false, now).unwrap();
    assert_eq!(spdu_kinds(&p.c2s()), [SpduKind::Nf]);
    assert_eq!(p.server_events(), [Event::ReleaseRefused]);
    assert_eq!(p.server.state(), State::Associated);
    // Still associated: data flows.
    p.client.send_data(cid(3), &[0x05, 0x00], now).unwrap();
    p.c2s();
    assert_eq!(p.server_events().len(), 1);
}

#[test]
fn release_collision_ends_on_both_sides() {
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let now = p.now;
    p.client.release(now).unwrap();
    p.server.release(now).unwrap();
    // Both FNs cross; the initiator answers the responder's first.
    assert_eq!(spdu_kinds(&p.c2s()), [SpduKind::Fn]);
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Fn]);
    assert_eq!(spdu_kinds(&p.c2s()), [SpduKind::Dn]);
    assert!(p.settle());
    assert_eq!(
        p.client_events(),
        [Event::Released { collision: true }, Event::Closed]
    );
    assert_eq!(p.server_events(), [Event::Released { collision: true }]);
    assert_eq!(p.server.state(), State::AwaitClose);
}

#[test]
fn abort_from_either_side() {
    for from_client in [true, false] {
        let mut p = default_pair();
        associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
        let now = p.now;
        if from_client {
            p.client.abort(now).unwrap();
        } else {
            p.server.abort(now).unwrap();
        }
        let ab = if from_client { p.c2s() } else { p.s2c() };
        assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
        let (a, b) = if from_client {
            (&mut p.client, &mut p.server)
        } else {
            (&mut p.server, &mut p.client)
        };
        let ev = events(a);
        assert!(
            matches!(&ev[0], Event::Aborted(x) if x.source == AbortSource::LocalUser && x.reason == AbortReason::User),
            "{ev:?}"
        );
        assert_eq!(a.state(), State::AwaitClose);
        let ev = events(b);
        assert!(
            matches!(&ev[0], Event::Aborted(x) if x.source == AbortSource::PeerUser
                && x.reason == AbortReason::User && x.layer() == Layer::Acse),
            "{ev:?}"
        );
        assert_eq!(ev[1], Event::Closed);
        assert!(a.send_data(cid(3), &[5, 0], now).is_err());
    }
}

#[test]
fn silence_is_ended_by_the_response_timer() {
    let config = Config::default().with_response_timeout(Duration::from_secs(3));
    let now = Instant::now();
    // No CC.
    let mut c = Association::initiator(config.clone());
    c.associate(AssociateRequest::mms(), now).unwrap();
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(3)));
    c.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(c.state(), State::AwaitCc);
    c.handle_timeout(now + Duration::from_secs(3));
    let ev = events(&mut c);
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.source == AbortSource::LocalProvider
            && a.reason == AbortReason::Timeout(Timeout::Transport(TransportWait::Connect))),
        "{ev:?}"
    );
    assert_eq!(ev[1], Event::Closed);
    // No AC: the initiator sends AB and closes.
    let mut p = pair(config.clone(), Dispatch::default());
    p.client.associate(AssociateRequest::mms(), now).unwrap();
    p.c2s();
    p.s2c();
    p.c2s();
    let _ = p.client_events();
    let at = p.client.poll_timeout().unwrap();
    p.client.handle_timeout(at);
    assert_eq!(spdu_kinds(&drain(&mut p.client)), [SpduKind::Ab]);
    let ev = p.client_events();
    assert!(
        matches!(&ev[..], [Event::Aborted(a), Event::Closed]
            if a.source == AbortSource::LocalProvider
                && a.reason == AbortReason::Timeout(Timeout::Session(SessionWait::Accept))
                && a.user_information.is_none()),
        "{ev:?}"
    );
    // No DN after FN.
    let mut p = pair(config, Dispatch::default());
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.client.release(p.now).unwrap();
    let at = p.client.poll_timeout().unwrap();
    p.client.handle_timeout(at);
    assert!(p.client.is_closed());
}

/// The application that never answers an associate indication: the responder aborts after
/// the user time-out.
#[test]
fn an_unanswered_indication_is_aborted_after_the_user_timeout() {
    let config =
        Config::default().with_user_and_receive_timeouts(Some(Duration::from_secs(4)), None);
    let mut p = pair(config, Dispatch::default());
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.settle();
    assert!(matches!(
        p.server_events().last(),
        Some(Event::AssociateIndication(_))
    ));
    let at = p.server.poll_timeout().unwrap();
    assert_eq!(at, p.now + Duration::from_secs(4));
    p.advance(Duration::from_secs(4));
    let ev = p.server_events();
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.reason == AbortReason::Timeout(Timeout::Session(SessionWait::User))),
        "{ev:?}"
    );
    p.s2c();
    assert!(matches!(p.client_events().last(), Some(Event::Closed)));
}

/// A responder told that TCP was accepted waits for the CR no longer than the response timer.
#[test]
fn a_silent_peer_is_dropped_by_the_responder_after_the_response_timer() {
    let config = Config::default().with_response_timeout(Duration::from_secs(3));
    let now = Instant::now();
    let mut s = Association::responder(config.clone(), Dispatch::default(), None);
    assert_eq!(s.poll_timeout(), None);
    s.handle_transport_accepted(now);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(3)));
    s.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(s.state(), State::AwaitCr);
    s.handle_timeout(now + Duration::from_secs(3));
    let ev = events(&mut s);
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.source == AbortSource::LocalProvider && a.layer() == Layer::Cotp),
        "{ev:?}"
    );
    assert_eq!(ev[1], Event::Closed);
    // An initiator, and a responder past the CR, are not affected.
    let mut c = Association::initiator(config);
    c.handle_transport_accepted(now);
    assert_eq!(c.poll_timeout(), None);
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_transport_accepted(p.now);
    assert_eq!(p.server.state(), State::Associated);
    assert_eq!(p.server.poll_timeout(), None);
}

/// A frame or TSDU that stops half-way is dropped after the receive time-out, counted from
/// its first octet (trickling does not restart it).
#[test]
fn a_trickled_frame_is_dropped_after_the_receive_timeout() {
    let config =
        Config::default().with_user_and_receive_timeouts(None, Some(Duration::from_secs(5)));
    let mut p = pair(config, Dispatch::default());
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let frame = common::hex("0300001002f0800100010061073005020103");
    let start = p.now;
    for (i, b) in frame[..10].iter().enumerate() {
        p.server
            .handle_input(&[*b], start + Duration::from_secs(i as u64 / 3));
    }
    assert_eq!(
        p.server.poll_timeout(),
        Some(start + Duration::from_secs(5))
    );
    p.server.handle_timeout(start + Duration::from_secs(5));
    let ev = p.server_events();
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.reason == AbortReason::Timeout(Timeout::Transport(TransportWait::Receive))),
        "{ev:?}"
    );
    assert_eq!(ev.last(), Some(&Event::Closed));
}

#[test]
fn idle_lifetime_releases_the_association() {
    let config = Config::default().with_idle_lifetime(Some(Duration::from_secs(60)));
    let mut p = pair(config, Dispatch::default());
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let at = p.client.poll_timeout().unwrap();
    assert_eq!(at, p.now + Duration::from_secs(60));
    p.client.handle_timeout(at);
    assert_eq!(p.client.state(), State::AwaitRelease);
    p.c2s();
    assert_eq!(p.server_events(), [Event::ReleaseIndication]);
}

fn protocol_error(ev: &[Event]) -> osi_stack::DecodeError {
    match ev.first() {
        Some(Event::Aborted(a)) => match a.reason {
            AbortReason::ProtocolError(e) => {
                assert_eq!(a.source, AbortSource::LocalProvider);
                e
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_pdu_for_the_state_gets_the_standard_reaction() {
    let now = Instant::now();
    // A DT before the CR: the responder answers with an ER and closes.
    let mut s = Association::responder(Config::default(), Dispatch::default(), None);
    s.handle_input(&common::hex("0300000702f080"), now);
    let ev = events(&mut s);
    let e = protocol_error(&ev);
    assert_eq!(e.layer(), Layer::Cotp);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Unexpected {
            what: "dt tpdu",
            state: "await-cr"
        }
    );
    assert_eq!(ev[1], Event::Closed);
    let er = drain(&mut s);
    let (t, _) = Tpkt::decode(&er).unwrap();
    let Tpdu::Er(er) = Tpdu::decode(t.payload).unwrap() else {
        panic!("no ER")
    };
    assert_eq!(er.cause, RejectCause::INVALID_TPDU_TYPE);
    assert_eq!(er.invalid_tpdu(), Some(&[0x02, 0xf0][..]));

    // A second CN while associated: session protocol error, AB with transport disconnect
    // "protocol error".
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server
        .handle_input(&common::hex("0300000d02f0800d04 14020002"), p.now);
    let e = protocol_error(&p.server_events());
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Unexpected {
            what: "cn spdu",
            state: "open"
        }
    );
    let ab = p.s2c();
    assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
    assert_eq!(ab[7..12], [0x19, 0x03, 0x11, 0x01, 0x05]);
    assert!(matches!(&p.client_events()[0], Event::Aborted(a)
        if a.source == AbortSource::PeerProvider
            && a.reason == AbortReason::Session(TransportDisconnect(0x05))));

    // A segment of an SSDU (GT + DT with Enclosure Item "beginning") although no TSDU
    // maximum size was negotiated: session protocol error, nothing delivered.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_input(
        &common::hex("0300001802f0800100 0103 190101 6108 3006 020103 810100"),
        p.now,
    );
    let ev = p.server_events();
    let e = protocol_error(&ev);
    assert_eq!((e.layer(), e.offset()), (Layer::Session, 2));
    assert!(matches!(e.kind(), DecodeErrorKind::BadSequence { .. }));
    assert!(!ev.iter().any(|e| matches!(e, Event::Data(_))), "{ev:?}");
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Ab]);
    // The same DT with Enclosure Item "whole" (03) is data.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_input(
        &common::hex("0300001802f0800100 0103 190103 6108 3006 020103 810100"),
        p.now,
    );
    assert!(matches!(&p.server_events()[0], Event::Data(_)));

    // Undecodable presentation data in a P-DATA: AB carrying an ARP.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server
        .handle_input(&common::hex("0300000d02f08001000100 61 05 30"), p.now);
    let e = protocol_error(&p.server_events());
    assert_eq!(e.layer(), Layer::Presentation);
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Ab]);
    assert!(matches!(&p.client_events()[0], Event::Aborted(a)
        if a.source == AbortSource::PeerProvider
            && matches!(a.reason, AbortReason::Presentation(Some(_)))));

    // An RLRQ that does not decode, in an FN: AB with ABRT from the ACSE provider; the
    // error's offset counts from the start of the PPDU (the FN's user data), not the APDU.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let apdu = common::hex("62 02 80 05"); // reason [0] declares 5 octets, has none
    let inner = osi_stack::acse::Apdu::decode(&apdu, &osi_stack::Limits::DEFAULT)
        .unwrap_err()
        .offset();
    // 61 0b 30 09 02 01 01 a0 04 <apdu>: the APDU starts at octet 9 of the PPDU.
    let ppdu = [&common::hex("61 0b 30 09 02 01 01 a0 04")[..], &apdu].concat();
    let fn_spdu = [
        &[0x09, 2 + ppdu.len() as u8, 0xc1, ppdu.len() as u8][..],
        &ppdu,
    ]
    .concat();
    let tpkt = [
        &[3, 0, 0, (7 + fn_spdu.len()) as u8, 0x02, 0xf0, 0x80][..],
        &fn_spdu,
    ]
    .concat();
    p.server.handle_input(&tpkt, p.now);
    let e = protocol_error(&p.server_events());
    assert_eq!((e.layer(), e.offset()), (Layer::Acse, 9 + inner));
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Ab]);
    assert!(matches!(&p.client_events()[0], Event::Aborted(a)
        if a.reason == AbortReason::AcseProvider(Some(osi_stack::acse::AbortDiagnostic::PROTOCOL_ERROR))));

    // A truncated TPKT frame followed by close: an abort, not a hang.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server
        .handle_input(&common::hex("0300002002f080010001"), p.now);
    assert!(p.server_events().is_empty());
    p.server.handle_transport_closed(p.now);
    let ev = p.server_events();
    assert!(matches!(&ev[0], Event::Aborted(a)
        if a.source == AbortSource::PeerProvider
            && a.reason == AbortReason::Transport(Disconnect::TransportClosed)));
    assert_eq!(ev[1], Event::Closed);

    // A TPKT with a bad version: ER, close.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.client.handle_input(&common::hex("0400000702f080"), p.now);
    let e = protocol_error(&p.client_events());
    assert_eq!(e.layer(), Layer::Tpkt);
    assert!(p.client.is_closed());
    let er = drain(&mut p.client);
    let (t, _) = Tpkt::decode(&er).unwrap();
    assert!(matches!(Tpdu::decode(t.payload).unwrap(), Tpdu::Er(_)));

    // Service requests in the wrong state.
    let mut c = Association::initiator(Config::default());
    assert!(c.release(now).is_err());
    assert!(c.accept(AcceptResponse::default(), now).is_err());
    assert!(c.send_data(cid(3), &[], now).is_err());
}

/// Issue 15's protocol gaps: each gets the standard reaction of its layer.
#[test]
fn protocol_gaps_get_the_standard_reaction() {
    // P-DATA on a context that was never negotiated: ARP (invalid-ppdu-parameter-value).
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    // GT DT + 61 09 30 07 02 01 07 a0 02 30 00 — context 7.
    p.server.handle_input(
        &common::hex("0300001602f0800100 0100 6109 3007 020107 a0023000"),
        p.now,
    );
    let e = protocol_error(&p.server_events());
    assert_eq!(e.layer(), Layer::Presentation);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::InvalidValue { value: 7, .. }
    ));
    p.s2c();
    assert!(matches!(&p.client_events()[0], Event::Aborted(a)
        if a.reason == AbortReason::Presentation(Some(presentation::AbortReason::INVALID_PPDU_PARAMETER_VALUE))));

    // P-DATA on an identifier outside 1..=127 (X.226 §8.2), 0 and 128: refused by the
    // decoder, the same ARP; the error names the identifier at its offset in the PPDU.
    for (pdv, value) in [("3007 020100 a0023000", 0), ("3008 02020080 a0023000", 128)] {
        let mut p = default_pair();
        associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
        let ud = common::hex(&format!("61{:02x}{pdv}", common::hex(pdv).len()));
        let frame = [
            &[3, 0, 0, (11 + ud.len()) as u8, 2, 0xf0, 0x80, 1, 0, 1, 0][..],
            &ud,
        ]
        .concat();
        p.server.handle_input(&frame, p.now);
        let e = protocol_error(&p.server_events());
        assert_eq!(e.layer(), Layer::Presentation);
        assert_eq!(
            *e.kind(),
            DecodeErrorKind::InvalidValue {
                what: "presentation context identifier",
                value
            }
        );
        assert_eq!(e.offset(), 4, "the INTEGER after 61 LL 30 LL");
        p.s2c();
        assert!(matches!(&p.client_events()[0], Event::Aborted(a)
            if a.reason == AbortReason::Presentation(Some(presentation::AbortReason::INVALID_PPDU_PARAMETER_VALUE))));
    }

    // A CN offering no protocol version (PI 22 = 00): RF 0x84.
    let mut p = default_pair();
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.c2s();
    p.s2c();
    let _ = drain(&mut p.client); // the client's own CN is replaced by a crafted one
    let cn = common::hex("0d0e 0506 130100 160100 14020002 c100");
    let frame = [&[3, 0, 0, (7 + cn.len()) as u8, 2, 0xf0, 0x80][..], &cn].concat();
    p.server.handle_input(&frame, p.now);
    let ev = p.server_events();
    assert!(
        matches!(&ev[1], Event::Rejected(r)
            if r.sent == RefusalReason::Session(RefuseReason::VERSION_NOT_SUPPORTED)
                && matches!(r.cause, RejectionCause::Invalid(e) if e.layer() == Layer::Session)),
        "{ev:?}"
    );
    p.s2c();
    assert_eq!(
        refused(&mut p).reason,
        RefusalReason::Session(RefuseReason::VERSION_NOT_SUPPORTED)
    );

    // A DT longer than the negotiated TPDU size: ER, close.
    let mut p = pair(Config::default().with_tpdu_size(128), Dispatch::default());
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let mut dt = vec![3, 0, 0, 0, 2, 0xf0, 0x80, 1, 0, 1, 0];
    dt.extend(std::iter::repeat_n(0u8, 130));
    let len = dt.len() as u16;
    dt[2..4].copy_from_slice(&len.to_be_bytes());
    p.server.handle_input(&dt, p.now);
    let e = protocol_error(&p.server_events());
    assert_eq!(e.layer(), Layer::Cotp);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LengthOutOfRange { max: 128, .. }
    ));
    let er = drain(&mut p.server);
    let (t, _) = Tpkt::decode(&er).unwrap();
    assert!(matches!(Tpdu::decode(t.payload).unwrap(), Tpdu::Er(_)));
    assert!(p.server.is_closed());

    // An X.410-1984-mode CP whose parameters are not BER: RF reason 0.
    let mut p = default_pair();
    p.client
        .associate(
            AssociateRequest::mms().with_x410_parameters(vec![0xa0, 0x05, 0x01]),
            p.now,
        )
        .unwrap();
    p.settle();
    let ev = p.server_events();
    assert!(
        matches!(&ev[1], Event::Rejected(r)
            if r.sent == RefusalReason::Session(RefuseReason::USER_NO_REASON)
                && matches!(r.cause, RejectionCause::Invalid(e) if e.layer() == Layer::Presentation)),
        "{ev:?}"
    );
    assert_eq!(
        refused(&mut p).reason,
        RefusalReason::Session(RefuseReason::USER_NO_REASON)
    );
}

/// A CPA without its mandatory result list (an echoed CP, as a misbehaving peer sends) is
/// refused at presentation with an ARP, not passed up to ACSE.
#[test]
fn a_cpa_missing_its_result_list_is_a_presentation_error() {
    let mut p = default_pair();
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.c2s();
    p.s2c();
    let _ = p.client_events();
    let _ = drain(&mut p.client); // the CN; the server never sees it
    // An AC whose user data is a normal-mode CPA with no result list but an AARE accepted on
    // context 1, built with the crate's encoders.
    let aare = common::hex("61 13 a1 05 06 03 28 ca 22 a2 03 02 01 00 a3 05 a1 03 02 01 00");
    let pdv = [Pdv {
        transfer_syntax: None,
        context_id: cid(1),
        values: PdvValues::SingleAsn1Type(&aare),
    }];
    let cpa = presentation::Cpa {
        mode: presentation::Mode::NORMAL,
        x410_parameters: None,
        normal: Some(presentation::CpaNormal {
            user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
            ..presentation::CpaNormal::default()
        }),
    };
    let mut cpa_bytes = Vec::new();
    cpa.encode(&mut cpa_bytes).unwrap();
    let mut params = ParametersBuf::new();
    params
        .u16(session::ParameterCode::SESSION_USER_REQUIREMENTS, 2)
        .unwrap()
        .user_data(&cpa_bytes)
        .unwrap();
    let mut ac = Vec::new();
    Spdu::new(SpduKind::Ac, params.as_parameters().unwrap())
        .encode(&mut ac)
        .unwrap();
    let mut frame = Vec::new();
    Segments::new(&ac, 8192).encode(&mut frame).unwrap();
    p.client.handle_input(&frame, p.now);
    let e = protocol_error(&p.client_events());
    assert_eq!(e.layer(), Layer::Presentation);
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::Missing {
            what: "presentation-context-definition-result-list"
        }
    );
    // AB carrying ARP (invalid-ppdu-parameter-value).
    let ab = drain(&mut p.client);
    assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
    p.server.handle_input(&ab, p.now);
    assert!(p.server_events().iter().any(|e| matches!(e, Event::Aborted(a)
        if a.reason == AbortReason::Presentation(Some(presentation::AbortReason::INVALID_PPDU_PARAMETER_VALUE)))));
}

#[test]
fn displays_read_well() {
    let r = RefusalReason::Acse {
        result: AssociateResult::REJECTED_PERMANENT,
        diagnostic: AssociateSourceDiagnostic::User(UserDiagnostic::CALLED_AP_TITLE_NOT_RECOGNIZED),
    };
    assert_eq!(
        r.to_string(),
        "aare result rejected-permanent(1), diagnostic acse-service-user called-ap-title-not-recognized(7)"
    );
    assert_eq!(
        RefusalReason::Session(RefuseReason::SELECTOR_UNKNOWN).to_string(),
        "rf 0x81: session selector unknown"
    );
}

/// A CP proposing an identifier outside 1..=127 (X.226 §8.2) is a CP that does not decode: the
/// responder refuses the connection as for any such CP, and the rejection names the identifier
/// with its offset in the CP.
#[test]
fn a_cp_proposing_context_zero_is_refused() {
    let mut p = default_pair();
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.c2s(); // CR
    p.s2c(); // CC
    let mut cn = drain(&mut p.client);
    // The ACSE context definition: 30 LL 02 01 01 06 04 52 01 00 01 …
    let at = cn
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x06, 0x04])
        .unwrap();
    cn[at + 2] = 0;
    // Where the CP starts in the frame: the CN's user data.
    let cp_start = {
        let (tpkt, _) = Tpkt::decode(&cn).unwrap();
        let Tpdu::Dt(dt) = Tpdu::decode(tpkt.payload).unwrap() else {
            panic!("not a DT")
        };
        let spdu = session::spdus(dt.user_data).next().unwrap().unwrap();
        spdu.user_data().unwrap().as_ptr() as usize - cn.as_ptr() as usize
    };
    p.server.handle_input(&cn, p.now);
    let ev = p.server_events();
    let [Event::TransportConnected { .. }, Event::Rejected(r)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        r.sent,
        RefusalReason::Presentation(Some(ProviderReason::REASON_NOT_SPECIFIED))
    );
    let RejectionCause::Invalid(e) = &r.cause else {
        panic!("{r:?}")
    };
    assert_eq!(
        (e.layer(), e.offset(), *e.kind()),
        (
            Layer::Presentation,
            at - cp_start,
            DecodeErrorKind::InvalidValue {
                what: "presentation context identifier",
                value: 0
            }
        )
    );
    // The initiator hears the CPR.
    p.s2c();
    assert!(
        p.client_events()
            .iter()
            .any(|e| matches!(e, Event::Refused(_))),
        "the client was not refused"
    );
}

/// Who releases the transport connection after an orderly release (X.225 §6.6 and §7.7, the
/// DISCONNECT SPDU: the receiver of DN issues T-DISCONNECT, the sender of DN waits TIM; X.224
/// class 0 releases implicitly, by closing the network connection, so no DR TPDU is sent).
/// ISODE, receiving DN, also sends a class-0 DR before it closes TCP
/// (`testdata/captures/isode/iso-rtsap-rtse-echo.pcap`, frame 71): the DN sender takes it as
/// the expected end.
#[test]
fn after_dn_the_receiver_closes_and_a_dr_from_it_ends_the_sender_cleanly() {
    // Crate as the releasing initiator: DN received, nothing more sent, the machine asks the
    // owner to close TCP (Closed).
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let now = p.now;
    p.client.release(now).unwrap();
    p.c2s();
    assert_eq!(p.server_events(), [Event::ReleaseIndication]);
    p.server.release_response(true, now).unwrap();
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Dn]);
    assert_eq!(
        p.client_events(),
        [Event::Released { collision: false }, Event::Closed]
    );
    assert!(p.client.is_closed());
    assert!(
        drain(&mut p.client).is_empty(),
        "no DR in class 0 after DN: the release is implicit (TCP close)"
    );
    // Crate as the DN sender: ISODE's DR (class 0, reason 0 "normal") ends it cleanly.
    assert_eq!(p.server_events(), [Event::Released { collision: false }]);
    assert_eq!(p.server.state(), State::AwaitClose);
    p.server
        .handle_input(&common::hex("03 00 00 0b 06 80 5a 88 5a 87 80"), now);
    let ev = p.server_events();
    assert_eq!(ev.last(), Some(&Event::Closed), "{ev:?}");
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Aborted(_))),
        "a DR after DN is the expected end, not an abort: {ev:?}"
    );
    assert!(p.server.is_closed());

    // Without anything from the peer, the DN sender closes when TIM runs out.
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    let now = p.now;
    p.client.release(now).unwrap();
    p.c2s();
    p.server_events();
    p.server.release_response(true, now).unwrap();
    let _ = drain(&mut p.server);
    p.server_events();
    let tim = p.server.poll_timeout().expect("TIM runs after DN");
    assert!(tim > now);
    p.server.handle_timeout(tim);
    assert_eq!(p.server_events().last(), Some(&Event::Closed));
    assert!(p.server.is_closed());
}

/// X.226 §6.2.2.7: the initiator proposes odd presentation context identifiers, each once. A
/// request breaking that is refused before anything is sent.
#[test]
fn the_initiator_proposes_odd_context_identifiers_once() {
    use osi_stack::association::{PresentationContext, ServiceError};
    use osi_stack::oid::Oid;
    let now = Instant::now();
    let cases = [
        (cid(1), vec![cid(4)], cid(4), "odd"),
        (cid(2), vec![cid(3)], cid(2), "odd"),
        (cid(1), vec![cid(3), cid(3)], cid(3), "twice"),
        (cid(1), vec![cid(1)], cid(1), "twice"),
    ];
    for (acse, ids, bad, why) in cases {
        let mut req = AssociateRequest::mms().with_contexts(
            ids.iter()
                .map(|&id| PresentationContext::ber(id, Oid::MMS_ABSTRACT_SYNTAX))
                .collect(),
        );
        req.acse_context_id = acse;
        let mut c = Association::initiator(Config::default());
        match c.associate(req, now) {
            Err(ServiceError::InvalidContextProposal { id, reason }) => {
                assert_eq!(id, bad);
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("{acse} {ids:?}: {other:?}"),
        }
        assert!(c.poll_transmit().is_none(), "nothing sent");
    }
    // Odd and distinct: the CR goes out.
    let mut c = Association::initiator(Config::default());
    c.associate(AssociateRequest::mms(), now).unwrap();
    assert!(c.poll_transmit().is_some());
}
