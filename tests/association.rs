//! In-memory initiator/responder pairs (no sockets): every path of the association machine,
//! asserting events and bytes.

mod common;

use std::time::{Duration, Instant};

use osi_stack::Layer;
use osi_stack::address::{PSel, SSel, TSel};
use osi_stack::association::{
    AbortSource, AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event, Selector,
    Service, State,
};
use osi_stack::cotp::Tpdu;
use osi_stack::oid::OwnedOid;
use osi_stack::session::{self, SpduKind};
use osi_stack::tpkt::Tpkt;

/// An initiator and a responder wired back to back.
struct Pair {
    client: Association,
    server: Association,
    now: Instant,
    /// Split every transmit into pieces of this many octets before delivering (0: whole).
    chunk: usize,
}

impl Pair {
    fn new(config: Config, dispatch: Dispatch) -> Self {
        Pair {
            client: Association::initiator(config.clone()),
            server: Association::responder(config, dispatch, Some("127.0.0.1".parse().unwrap())),
            now: Instant::now(),
            chunk: 0,
        }
    }

    fn default() -> Self {
        Self::new(Config::default(), Dispatch::default())
    }

    /// Moves every pending transmit of one side to the other; returns the octets moved.
    fn flush(from: &mut Association, to: &mut Association, now: Instant, chunk: usize) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(b) = from.poll_transmit() {
            all.extend_from_slice(&b);
        }
        if chunk == 0 {
            to.handle_input(&all, now);
        } else {
            for piece in all.chunks(chunk) {
                to.handle_input(piece, now);
            }
        }
        all
    }

    fn c2s(&mut self) -> Vec<u8> {
        Self::flush(&mut self.client, &mut self.server, self.now, self.chunk)
    }

    fn s2c(&mut self) -> Vec<u8> {
        Self::flush(&mut self.server, &mut self.client, self.now, self.chunk)
    }

    /// Runs both directions until neither side has anything to send.
    fn settle(&mut self) {
        for _ in 0..64 {
            let a = self.c2s();
            let b = self.s2c();
            if a.is_empty() && b.is_empty() {
                return;
            }
        }
        panic!("pair did not settle");
    }

    /// Associates with `request`; the server accepts with `response`.
    fn associate(&mut self, request: AssociateRequest, response: AcceptResponse) {
        self.client.associate(request, self.now).unwrap();
        self.c2s(); // CR
        self.s2c(); // CC
        self.c2s(); // CN
        let ind = events(&mut self.server);
        assert!(
            matches!(
                ind.as_slice(),
                [
                    Event::TransportConnected { tpdu_size: 8192 },
                    Event::AssociateIndication(_)
                ]
            ),
            "{ind:?}"
        );
        self.server.accept(response, self.now).unwrap();
        self.s2c(); // AC
        let ev = events(&mut self.client);
        assert!(matches!(ev[0], Event::TransportConnected { .. }), "{ev:?}");
        assert!(matches!(ev[1], Event::Associated(_)), "{ev:?}");
        assert!(matches!(
            events(&mut self.server).as_slice(),
            [Event::Associated(_)]
        ));
        assert_eq!(self.client.state(), State::Associated);
        assert_eq!(self.server.state(), State::Associated);
    }
}

fn events(a: &mut Association) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

/// The SPDU kinds of every TSDU in a byte stream of whole TPKT frames, one DT per TSDU.
fn spdu_kinds(stream: &[u8]) -> Vec<SpduKind> {
    let mut kinds = Vec::new();
    let mut rest = stream;
    let mut tsdu = Vec::new();
    while !rest.is_empty() {
        let (tpkt, r) = Tpkt::decode(rest).unwrap();
        rest = r;
        if let Tpdu::Dt(dt) = Tpdu::decode(tpkt.payload).unwrap() {
            tsdu.extend_from_slice(dt.user_data);
            if dt.eot {
                for s in session::spdus(&tsdu) {
                    kinds.push(s.unwrap().kind());
                }
                tsdu.clear();
            }
        }
    }
    kinds
}

fn mms_initiate_response() -> Vec<u8> {
    common::hex("a9 0d 80 02 7d 00 81 01 05 82 01 05 83 01 0a")
}

#[test]
fn associate_exchange_data_and_release() {
    let mut p = Pair::default();
    let info = common::hex("a8 0a 80 02 7d 00 81 01 05 82 01 05");
    p.associate(
        AssociateRequest::mms().with_user_information(info.clone()),
        AcceptResponse::with_user_information(mms_initiate_response()),
    );
    // Data both ways, on the MMS context 3.
    let request = common::hex("a0 06 02 01 01 a1 01 00");
    p.client.send_data(3, &request, p.now).unwrap();
    let wire = p.c2s();
    assert_eq!(&wire[4..11], [0x02, 0xf0, 0x80, 0x01, 0x00, 0x01, 0x00]);
    assert_eq!(
        events(&mut p.server),
        [Event::Data(osi_stack::association::Data {
            context_id: Some(3),
            value: request.clone().into()
        })]
    );
    p.server.send_data(3, &[0x30, 0x00], p.now).unwrap();
    p.s2c();
    assert!(matches!(&events(&mut p.client)[..], [Event::Data(d)] if d.value[..] == [0x30, 0]));
    // Context 5 was never proposed.
    assert!(p.client.send_data(5, &request, p.now).is_err());
    // Release: FN (RLRQ), DN (RLRE), the receiver of DN closes.
    p.client.release(p.now).unwrap();
    let fin = p.c2s();
    assert_eq!(spdu_kinds(&fin), [SpduKind::Fn]);
    assert_eq!(events(&mut p.server), [Event::ReleaseIndication]);
    p.server.release_response(true, p.now).unwrap();
    let dn = p.s2c();
    assert_eq!(spdu_kinds(&dn), [SpduKind::Dn]);
    assert_eq!(
        events(&mut p.server),
        [Event::Released { collision: false }]
    );
    assert_eq!(p.server.state(), State::AwaitClose);
    assert_eq!(
        events(&mut p.client),
        [Event::Released { collision: false }, Event::Closed]
    );
    assert!(p.client.is_closed());
    // The client closes TCP; the server learns it and finishes.
    p.server.handle_transport_closed(p.now);
    assert_eq!(events(&mut p.server), [Event::Closed]);
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
    assert_eq!(
        cn[4..30],
        common::hex("02f0800d 64 05061301001601021402000233020001 34020001 c1")[..]
    );
}

#[test]
fn every_chunking_gives_the_same_association() {
    for chunk in [1, 2, 3, 7, 100] {
        let mut p = Pair::default();
        p.chunk = chunk;
        p.associate(AssociateRequest::mms(), AcceptResponse::default());
        p.client.send_data(3, &[0x30, 0x01, 0x07], p.now).unwrap();
        p.c2s();
        assert_eq!(events(&mut p.server).len(), 1, "chunk {chunk}");
    }
}

#[test]
fn large_p_data_is_segmented_and_reassembled() {
    let config = Config::default().with_tpdu_size(128);
    let mut p = Pair::new(config, Dispatch::default());
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.settle();
    let _ = events(&mut p.client);
    let _ = events(&mut p.server);
    p.server.accept(AcceptResponse::default(), p.now).unwrap();
    p.settle();
    let _ = events(&mut p.server);
    assert_eq!(p.client.tpdu_size(), 128);
    let mut value = vec![0x04, 0x82, 0x27, 0x10];
    value.extend((0..10_000u32).map(|i| i as u8));
    p.client.send_data(3, &value, p.now).unwrap();
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
    let ev = events(&mut p.server);
    assert_eq!(ev.len(), 1);
    let Event::Data(d) = &ev[0] else { panic!() };
    assert_eq!(d.value[..], value[..]);
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
        let mut p = Pair::new(Config::default(), two_services());
        let req = AssociateRequest::mms().with_called_selectors(
            Some(TSel::new(tsel).unwrap()),
            None,
            None,
        );
        p.client.associate(req, p.now).unwrap();
        p.settle();
        let ev = events(&mut p.server);
        let Event::AssociateIndication(ind) = &ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(ind.service_name.as_deref(), Some(service));
        assert_eq!(p.server.service().unwrap().name, service);
    }
    let mut p = Pair::new(Config::default(), two_services());
    let req = AssociateRequest::mms().with_called_selectors(
        Some(TSel::new(b"MTA-C").unwrap()),
        None,
        None,
    );
    p.client.associate(req, p.now).unwrap();
    p.c2s();
    let dr = p.s2c();
    // DR with reason 0x03 "address unknown".
    assert_eq!(dr[5], 0x80);
    assert_eq!(dr[10], 0x03);
    let ev = events(&mut p.server);
    let Event::Rejected(r) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(r.layer, Layer::Cotp);
    assert_eq!(r.code, 3);
    assert!(r.diagnostic.contains("4d54412d43"), "{}", r.diagnostic);
    assert!(
        r.diagnostic.contains("mta-a=4d54412d41"),
        "{}",
        r.diagnostic
    );
    assert_eq!(r.received.as_deref(), Some(&b"MTA-C"[..]));
    assert_eq!(ev[1], Event::Closed);
    let ev = events(&mut p.client);
    let Event::Refused(refusal) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!((refusal.layer, refusal.code), (Layer::Cotp, Some(3)));
    assert_eq!(ev[1], Event::Closed);
}

#[test]
fn calling_address_policy_names_the_address() {
    let dispatch = Dispatch::new(vec![
        Service::new("x400").with_allowed_peer("127.0.0.1".parse().unwrap()),
    ]);
    let mut server = Association::responder(
        Config::default(),
        dispatch.clone(),
        Some("127.0.0.2".parse().unwrap()),
    );
    let mut client = Association::initiator(Config::default());
    let now = Instant::now();
    client.associate(AssociateRequest::mms(), now).unwrap();
    Pair::flush(&mut client, &mut server, now, 0);
    let ev = events(&mut server);
    let Event::Rejected(r) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert!(r.diagnostic.contains("127.0.0.2"), "{}", r.diagnostic);
    assert!(r.diagnostic.contains("x400=127.0.0.1"), "{}", r.diagnostic);
    // The allowed address associates.
    let mut p = Pair::new(Config::default(), dispatch);
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
}

#[test]
fn refusal_at_session_presentation_and_acse() {
    // Session: S-selector unknown (RF 0x81).
    let dispatch = Dispatch::new(vec![
        Service::new("s").with_ssel(Selector::Is(SSel::new(&[0, 1]).unwrap())),
    ]);
    let mut p = Pair::new(Config::default(), dispatch);
    let req = AssociateRequest::mms().with_called_selectors(
        None,
        Some(SSel::new(&[0, 2]).unwrap()),
        None,
    );
    p.client.associate(req, p.now).unwrap();
    p.settle();
    let ev = events(&mut p.client);
    let Event::Refused(r) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!((r.layer, r.code), (Layer::Session, Some(0x81)));
    let ev = events(&mut p.server);
    assert!(
        matches!(&ev[1], Event::Rejected(r) if r.layer == Layer::Session && r.diagnostic.contains("0002"))
    );
    assert_eq!(p.server.state(), State::AwaitClose);

    // Presentation: P-selector unknown (CPR provider reason 3).
    let dispatch = Dispatch::new(vec![
        Service::new("p").with_psel(Selector::Is(PSel::new(&[0, 0, 0, 1]).unwrap())),
    ]);
    let mut p = Pair::new(Config::default(), dispatch);
    let req =
        AssociateRequest::mms().with_called_selectors(None, None, Some(PSel::new(&[1]).unwrap()));
    p.client.associate(req, p.now).unwrap();
    p.settle();
    let ev = events(&mut p.client);
    let Event::Refused(r) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!((r.layer, r.code), (Layer::Presentation, Some(3)));

    // ACSE: called AP-title not recognized (AARE rejected-permanent, diagnostic 7).
    let mut service = Service::new("a");
    service.ap_title = Some("1.3.9999.23".parse().unwrap());
    let mut p = Pair::new(Config::default(), Dispatch::new(vec![service]));
    let mut req = AssociateRequest::mms();
    req.called.ap_title = Some("1.3.9999.24".parse::<OwnedOid>().unwrap());
    p.client.associate(req, p.now).unwrap();
    p.settle();
    let ev = events(&mut p.client);
    let Event::Refused(r) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!((r.layer, r.code), (Layer::Acse, Some(7)));
    assert!(r.reason.contains("result 1"), "{}", r.reason);
    let ev = events(&mut p.server);
    assert!(
        matches!(&ev[1], Event::Rejected(r) if r.diagnostic.contains("1.3.9999.24") && r.diagnostic.contains("a=1.3.9999.23"))
    );

    // The user rejects.
    let mut p = Pair::default();
    p.client.associate(AssociateRequest::mms(), p.now).unwrap();
    p.settle();
    let _ = events(&mut p.server);
    p.server.reject(p.now).unwrap();
    let rf = p.s2c();
    assert_eq!(spdu_kinds(&rf), [SpduKind::Rf]);
    let ev = events(&mut p.client);
    let Event::Refused(r) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!((r.layer, r.code), (Layer::Acse, Some(1)));
    assert_eq!(ev[2], Event::Closed);
    // TIM: the server closes by itself when the client does not.
    assert_eq!(p.server.state(), State::AwaitClose);
    let deadline = p.server.poll_timeout().unwrap();
    p.server.handle_timeout(deadline);
    assert_eq!(events(&mut p.server), [Event::Closed]);
}

#[test]
fn release_refused_then_accepted() {
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server.release(p.now).unwrap();
    p.s2c();
    assert_eq!(events(&mut p.client), [Event::ReleaseIndication]);
    p.client.release_response(false, p.now).unwrap();
    let nf = p.c2s();
    assert_eq!(spdu_kinds(&nf), [SpduKind::Nf]);
    assert_eq!(events(&mut p.server), [Event::ReleaseRefused]);
    assert_eq!(p.server.state(), State::Associated);
    // Still associated: data flows.
    p.client.send_data(3, &[0x05, 0x00], p.now).unwrap();
    p.c2s();
    assert_eq!(events(&mut p.server).len(), 1);
}

#[test]
fn release_collision_ends_on_both_sides() {
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.client.release(p.now).unwrap();
    p.server.release(p.now).unwrap();
    // Both FNs cross.
    let c = p.c2s();
    let s = p.s2c();
    assert_eq!(spdu_kinds(&c), [SpduKind::Fn]);
    // The initiator answered first, inside the same flush.
    assert_eq!(spdu_kinds(&s), [SpduKind::Fn]);
    p.settle();
    assert_eq!(
        events(&mut p.client),
        [Event::Released { collision: true }, Event::Closed]
    );
    assert_eq!(events(&mut p.server), [Event::Released { collision: true }]);
    assert_eq!(p.server.state(), State::AwaitClose);
}

#[test]
fn abort_from_either_side() {
    for from_client in [true, false] {
        let mut p = Pair::default();
        p.associate(AssociateRequest::mms(), AcceptResponse::default());
        let (a, b) = if from_client {
            (&mut p.client, &mut p.server)
        } else {
            (&mut p.server, &mut p.client)
        };
        a.abort(p.now).unwrap();
        let ab = Pair::flush(a, b, p.now, 0);
        assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
        let ev = events(a);
        assert!(matches!(&ev[0], Event::Aborted(x) if x.source == AbortSource::LocalUser));
        assert_eq!(a.state(), State::AwaitClose);
        let ev = events(b);
        assert!(
            matches!(&ev[0], Event::Aborted(x) if x.source == AbortSource::PeerUser && x.layer == Layer::Acse),
            "{ev:?}"
        );
        assert_eq!(ev[1], Event::Closed);
        assert!(a.send_data(3, &[5, 0], p.now).is_err());
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
    assert!(matches!(&ev[0], Event::Aborted(a) if a.source == AbortSource::LocalProvider));
    assert_eq!(ev[1], Event::Closed);
    // No AC: the initiator sends AB and closes.
    let mut p = Pair::new(config.clone(), Dispatch::default());
    p.client.associate(AssociateRequest::mms(), now).unwrap();
    p.c2s();
    p.s2c();
    p.c2s();
    let _ = events(&mut p.client);
    let at = p.client.poll_timeout().unwrap();
    p.client.handle_timeout(at);
    let ab = std::iter::from_fn(|| p.client.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect::<Vec<_>>();
    assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
    assert!(p.client.is_closed());
    // No DN after FN.
    let mut p = Pair::new(config, Dispatch::default());
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.client.release(p.now).unwrap();
    let at = p.client.poll_timeout().unwrap();
    p.client.handle_timeout(at);
    assert!(p.client.is_closed());
}

/// A responder told that TCP was accepted waits for the CR no longer than the response timer
/// (before `handle_transport_accepted` a silent peer held it forever).
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
        matches!(&ev[0], Event::Aborted(a) if a.source == AbortSource::LocalProvider && a.layer == Layer::Cotp),
        "{ev:?}"
    );
    assert_eq!(ev[1], Event::Closed);
    // An initiator, and a responder past the CR, are not affected.
    let mut c = Association::initiator(config);
    c.handle_transport_accepted(now);
    assert_eq!(c.poll_timeout(), None);
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_transport_accepted(p.now);
    assert_eq!(p.server.state(), State::Associated);
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn idle_lifetime_releases_the_association() {
    let config = Config::default().with_idle_lifetime(Some(Duration::from_secs(60)));
    let mut p = Pair::new(config, Dispatch::default());
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    let at = p.client.poll_timeout().unwrap();
    assert_eq!(at, p.now + Duration::from_secs(60));
    p.client.handle_timeout(at);
    assert_eq!(p.client.state(), State::AwaitRelease);
    p.c2s();
    assert_eq!(events(&mut p.server), [Event::ReleaseIndication]);
}

#[test]
fn wrong_pdu_for_the_state_gets_the_standard_reaction() {
    let now = Instant::now();
    // A DT before the CR: the responder closes the transport connection.
    let mut s = Association::responder(Config::default(), Dispatch::default(), None);
    s.handle_input(&common::hex("0300000702f080"), now);
    let ev = events(&mut s);
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.layer == Layer::Cotp && a.reason.contains("AwaitCr")),
        "{ev:?}"
    );
    assert_eq!(ev[1], Event::Closed);

    // A second CN while associated: session protocol error, AB with transport disconnect
    // "protocol error".
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server
        .handle_input(&common::hex("0300000b02f0800d02 1401 00"), p.now);
    let ev = events(&mut p.server);
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.layer == Layer::Session),
        "{ev:?}"
    );
    let ab = p.s2c();
    assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
    assert_eq!(ab[7..12], [0x19, 0x03, 0x11, 0x01, 0x05]);
    assert!(
        matches!(&events(&mut p.client)[0], Event::Aborted(a) if a.source == AbortSource::PeerProvider)
    );

    // A segment of an SSDU (GT + DT with Enclosure Item "beginning") although no TSDU
    // maximum size was negotiated: session protocol error, nothing delivered.
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_input(
        &common::hex("0300001802f0800100 0103 190101 6108 3006 020103 810100"),
        p.now,
    );
    let ev = events(&mut p.server);
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.layer == Layer::Session
            && a.reason.contains("segmenting was not selected") && a.reason.contains("offset 2")),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Data(_))), "{ev:?}");
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Ab]);
    // The same DT with Enclosure Item "whole" (03) is data.
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_input(
        &common::hex("0300001802f0800100 0103 190103 6108 3006 020103 810100"),
        p.now,
    );
    let ev = events(&mut p.server);
    assert!(matches!(&ev[0], Event::Data(_)), "{ev:?}");

    // Undecodable presentation data in a P-DATA: AB carrying an ARP.
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server
        .handle_input(&common::hex("0300000d02f08001000100 61 05 30"), p.now);
    let ev = events(&mut p.server);
    let Event::Aborted(a) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(a.layer, Layer::Presentation);
    assert!(a.reason.contains("offset"), "{}", a.reason);
    let ab = p.s2c();
    assert_eq!(spdu_kinds(&ab), [SpduKind::Ab]);
    assert!(
        matches!(&events(&mut p.client)[0], Event::Aborted(a) if a.layer == Layer::Presentation)
    );

    // An RLRQ that does not decode, in an FN: AB with ABRT from the ACSE provider; the
    // error's offset counts from the start of the PPDU (the FN's user data), not the APDU.
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
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
    let ev = events(&mut p.server);
    let Event::Aborted(a) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(a.layer, Layer::Acse);
    assert!(a.reason.starts_with("acse: "), "{}", a.reason);
    assert!(
        a.reason.ends_with(&format!(" at offset {}", 9 + inner)),
        "{} (apdu offset {inner})",
        a.reason
    );
    assert_eq!(spdu_kinds(&p.s2c()), [SpduKind::Ab]);

    // A truncated TPKT frame followed by close: an abort, not a hang.
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.server
        .handle_input(&common::hex("0300002002f080010001"), p.now);
    assert!(events(&mut p.server).is_empty());
    p.server.handle_transport_closed(p.now);
    let ev = events(&mut p.server);
    assert!(matches!(&ev[0], Event::Aborted(a) if a.source == AbortSource::PeerProvider));
    assert_eq!(ev[1], Event::Closed);

    // A TPKT with a bad version.
    let mut p = Pair::default();
    p.associate(AssociateRequest::mms(), AcceptResponse::default());
    p.client.handle_input(&common::hex("0400000702f080"), p.now);
    let ev = events(&mut p.client);
    assert!(
        matches!(&ev[0], Event::Aborted(a) if a.layer == Layer::Tpkt),
        "{ev:?}"
    );
    assert!(p.client.is_closed());

    // Service requests in the wrong state.
    let mut c = Association::initiator(Config::default());
    assert!(c.release(now).is_err());
    assert!(c.accept(AcceptResponse::default(), now).is_err());
    assert!(c.send_data(3, &[], now).is_err());
}
