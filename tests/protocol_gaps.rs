//! Issue 15's protocol gaps, each at the machine of the layer that owns it and then on the wire
//! through the tokio `Listener` (so that the standard reaction is really sent before the close):
//!
//! | gap | layer | reaction |
//! |---|---|---|
//! | a DT longer than the negotiated TPDU size | X.224 class 0 (§13.7.5, §6.22, §13.12) | ER, then disconnect |
//! | a TPKT header that is not RFC 1006 (version ≠ 3, length < 7); a TPDU that does not decode | RFC 1006 §6 / X.224 §13.12 | ER, then disconnect |
//! | a CN offering no protocol version this side knows | X.225 §7.1, §8.3 (PI 22) | RF reason 0x84 |
//! | a CN whose Version Number does not decode | X.225 A.4.1.2 | AB (protocol error) |
//! | P-DATA on a presentation context that was never negotiated | X.226 §6.4.2, §8.4 | AB carrying ARP (invalid-ppdu-parameter-value) |
//! | an X.410-1984-mode CP whose parameters are not BER | X.226 §8.2 | RF |

#![cfg_attr(not(feature = "tokio"), allow(unused_imports))] // the `wire` tests use them

mod common;
use common::cid;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::assoc::{associate, default_pair, drain, events, pair};
use osi_stack::association::{
    AbortReason, AbortSource, AcceptResponse, AssociateRequest, Config, Dispatch, Event,
    PresentationContext, RefusalReason, RejectionCause, Service,
};
use osi_stack::cotp::connection::{
    self as transport, Config as TransportConfig, Connection as Transport,
};
use osi_stack::cotp::{RejectCause, Tpdu, TpduKind};
use osi_stack::oid::Oid;
use osi_stack::presentation;
use osi_stack::session::connection::{
    self as sess, Config as SessionConfig, Connection as Session,
};
use osi_stack::session::{RefuseReason, Spdu, SpduKind, VersionNumber};
use osi_stack::tpkt::Tpkt;
use osi_stack::{DecodeErrorKind, Layer};

// -------------------------------------------------------------------------------------------
// Transport (cotp::Connection alone)

/// A responder transport connection, opened by a CR proposing `tpdu_size` (code) and accepted.
fn open_transport(size_code: u8) -> (Transport, Instant) {
    let now = Instant::now();
    let mut t = Transport::responder(TransportConfig::default());
    t.handle_transport_accepted(now);
    // CR: LI 9, CR CDT 0, DST-REF 0, SRC-REF 1, class 0, TPDU size.
    let cr = [3, 0, 0, 14, 9, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, size_code];
    t.handle_input(&cr, now);
    assert!(matches!(
        t.poll_event(),
        Some(transport::Event::ConnectIndication(_))
    ));
    t.accept(now).unwrap();
    while t.poll_transmit().is_some() {}
    assert!(matches!(
        t.poll_event(),
        Some(transport::Event::Connected(_))
    ));
    (t, now)
}

fn transport_events(t: &mut Transport) -> Vec<transport::Event> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// The one ER `t` sent, decoded: (cause, invalid-TPDU parameter).
fn sent_er(t: &mut Transport) -> (RejectCause, Vec<u8>) {
    let out: Vec<u8> = std::iter::from_fn(|| t.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect();
    let (tpkt, rest) = Tpkt::decode(&out).unwrap_or_else(|e| panic!("{e}: {out:02x?}"));
    assert!(rest.is_empty(), "more than one frame: {out:02x?}");
    match Tpdu::decode(tpkt.payload).unwrap() {
        Tpdu::Er(er) => (er.cause, er.invalid_tpdu().unwrap_or_default().to_vec()),
        other => panic!("not an ER: {other:?}"),
    }
}

fn assert_protocol_error_then_closed(ev: &[transport::Event], layer: Layer) {
    match ev {
        [
            transport::Event::Disconnected(transport::Disconnect::ProtocolError(e)),
            transport::Event::Closed,
        ] => assert_eq!(e.layer(), layer, "{e}"),
        other => panic!("{other:?}"),
    }
}

/// A DT frame carrying `data` octets of user data (EOT set).
fn dt(data: usize) -> Vec<u8> {
    let len = u16::try_from(7 + data).unwrap();
    let mut f = vec![3, 0];
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[2, 0xf0, 0x80]);
    f.resize(7 + data, 0x5a);
    f
}

#[test]
fn a_dt_longer_than_the_negotiated_tpdu_size_gets_an_er_then_disconnect() {
    // TPDU size 128 (code 7): a DT of 128 octets (3 header + 125 data) is whole and delivered.
    let (mut t, now) = open_transport(7);
    assert_eq!(t.tpdu_size(), Some(128));
    t.handle_input(&dt(125), now);
    assert!(
        matches!(transport_events(&mut t).as_slice(), [transport::Event::Tsdu(d)] if d.len() == 125)
    );
    assert!(t.poll_transmit().is_none());
    // One octet more: ER (the TPDU's header in the invalid-TPDU parameter), then closed.
    t.handle_input(&dt(126), now);
    let ev = transport_events(&mut t);
    assert_protocol_error_then_closed(&ev, Layer::Cotp);
    let transport::Event::Disconnected(transport::Disconnect::ProtocolError(e)) = &ev[0] else {
        unreachable!()
    };
    assert_eq!(
        *e.kind(),
        DecodeErrorKind::LengthOutOfRange {
            what: "dt longer than the negotiated tpdu size",
            value: 129,
            min: 3,
            max: 128
        }
    );
    let (cause, invalid) = sent_er(&mut t);
    assert_eq!(cause, RejectCause::NOT_SPECIFIED);
    assert_eq!(invalid, [0x02]);
    assert!(t.is_closed());
    // Nothing more is taken after the disconnect.
    t.handle_input(&dt(1), now);
    assert!(t.poll_event().is_none() && t.poll_transmit().is_none());
}

#[test]
fn framing_errors_get_an_er_then_disconnect() {
    // (input, layer of the error, ER cause)
    let cases: [(&str, &[u8], Layer, RejectCause); 6] = [
        (
            "tpkt version 4",
            &[4, 0, 0, 7, 2, 0xf0, 0x80],
            Layer::Tpkt,
            RejectCause::NOT_SPECIFIED,
        ),
        (
            "tpkt length 6 (< 7)",
            &[3, 0, 0, 6, 2, 0xf0],
            Layer::Tpkt,
            RejectCause::NOT_SPECIFIED,
        ),
        (
            "tpkt length 0",
            &[3, 0, 0, 0],
            Layer::Tpkt,
            RejectCause::NOT_SPECIFIED,
        ),
        (
            "li beyond the frame",
            &[3, 0, 0, 7, 9, 0xf0, 0x80],
            Layer::Cotp,
            RejectCause::NOT_SPECIFIED,
        ),
        (
            "unknown tpdu code 0x30",
            &[3, 0, 0, 7, 2, 0x30, 0x80],
            Layer::Cotp,
            RejectCause::INVALID_TPDU_TYPE,
        ),
        (
            "dt with li 0",
            &[3, 0, 0, 7, 0, 0xf0, 0x80],
            Layer::Cotp,
            RejectCause::NOT_SPECIFIED,
        ),
    ];
    for (name, input, layer, cause) in cases {
        // Once open …
        let (mut t, now) = open_transport(7);
        t.handle_input(input, now);
        let ev = transport_events(&mut t);
        assert_protocol_error_then_closed(&ev, layer);
        let (got, _) = sent_er(&mut t);
        assert_eq!(got, cause, "{name}");
        // … and in place of the CR.
        let mut t = Transport::responder(TransportConfig::default());
        t.handle_transport_accepted(now);
        t.handle_input(input, now);
        let ev = transport_events(&mut t);
        assert_protocol_error_then_closed(&ev, layer);
        let (got, _) = sent_er(&mut t);
        assert_eq!(got, cause, "{name} before the CR");
        // … and in place of the CC (an initiator).
        let mut t = Transport::initiator(TransportConfig::default());
        t.connect(&transport::ConnectRequest::default(), now)
            .unwrap();
        while t.poll_transmit().is_some() {}
        t.handle_input(input, now);
        let ev = transport_events(&mut t);
        assert_protocol_error_then_closed(&ev, layer);
        let (got, _) = sent_er(&mut t);
        assert_eq!(got, cause, "{name} before the CC");
    }
}

// -------------------------------------------------------------------------------------------
// Session (session::Connection alone)

/// A CN with Version Number `version` (PI 22; `None`: absent), Protocol Options 0, session
/// user requirements 0x0002 (duplex) and empty user data.
fn cn(version: Option<u8>) -> Bytes {
    let mut item = vec![0x13, 1, 0];
    if let Some(v) = version {
        item.extend_from_slice(&[0x16, 1, v]);
    }
    let mut body = vec![0x05, item.len() as u8];
    body.extend_from_slice(&item);
    body.extend_from_slice(&[0x14, 2, 0, 2, 0xc1, 0]);
    let mut spdu = vec![0x0d, body.len() as u8];
    spdu.extend_from_slice(&body);
    Bytes::from(spdu)
}

fn session_responder() -> (Session, Instant) {
    let now = Instant::now();
    let mut s = Session::responder(SessionConfig::default());
    s.handle_transport_connected(now);
    (s, now)
}

#[test]
fn a_cn_offering_no_known_protocol_version_is_refused_with_rf_0x84() {
    // Version Number 0 (no version), 0x04 and 0xfc (only versions this side does not know).
    for version in [0x00u8, 0x04, 0xfc] {
        let (mut s, now) = session_responder();
        s.handle_tsdu(cn(Some(version)), now);
        match s.poll_event() {
            Some(sess::Event::Rejected { reason, cause }) => {
                assert_eq!(reason, RefuseReason::VERSION_NOT_SUPPORTED, "{version:#x}");
                assert_eq!(cause.layer(), Layer::Session);
            }
            other => panic!("version {version:#x}: {other:?}"),
        }
        let out = s.poll_transmit().expect("an RF").to_bytes();
        let (rf, rest) = Spdu::decode(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(rf.kind(), SpduKind::Rf);
        assert_eq!(
            rf.refuse_reason(),
            Some(RefuseReason::VERSION_NOT_SUPPORTED)
        );
        assert!(s.poll_transmit().is_none());
        // After RF nothing but the disconnect counts (X.225 §7.1.3).
        s.handle_tsdu(cn(Some(2)), now);
        assert!(s.poll_transmit().is_none());
    }
    // The boundaries that are accepted: version 1 alone, and no PI 22 (version 1 by default).
    for version in [Some(1), None] {
        let (mut s, now) = session_responder();
        s.handle_tsdu(cn(version), now);
        assert!(
            matches!(s.poll_event(), Some(sess::Event::ConnectIndication(_))),
            "{version:?}"
        );
        s.accept(Bytes::new(), now).unwrap();
        assert_eq!(s.version(), Some(VersionNumber::V1));
    }
}

#[test]
fn a_cn_whose_version_number_does_not_decode_is_answered_with_ab() {
    // PI 22 with 2 octets: a malformed CN, a session protocol error (X.225 A.4.1.2: AB, then
    // disconnect), never a silent close. (PI 22 with LI 0 is an absent parameter, X.225 §8.2:
    // version 1, accepted above.)
    for item in [&[0x16u8, 2, 2, 2][..], &[0x16, 3, 2, 2, 2]] {
        let mut body = vec![0x05, item.len() as u8];
        body.extend_from_slice(item);
        body.extend_from_slice(&[0x14, 2, 0, 2]);
        let mut spdu = vec![0x0d, body.len() as u8];
        spdu.extend_from_slice(&body);
        let (mut s, now) = session_responder();
        s.handle_tsdu(Bytes::from(spdu), now);
        let ev: Vec<sess::Event> = std::iter::from_fn(|| s.poll_event()).collect();
        let out = s.poll_transmit().map(|t| t.to_bytes());
        let kind = out.as_deref().map(|b| Spdu::decode(b).unwrap().0.kind());
        assert!(
            matches!(kind, Some(SpduKind::Ab | SpduKind::Rf)),
            "{item:02x?}: {kind:?} {ev:?}"
        );
        assert!(
            !ev.iter()
                .any(|e| matches!(e, sess::Event::ConnectIndication(_))),
            "{ev:?}"
        );
    }
}

// -------------------------------------------------------------------------------------------
// Presentation (the association's control)

#[test]
fn p_data_on_a_context_never_negotiated_is_a_presentation_abort() {
    // The MMS association negotiates contexts 1 (ACSE) and 3 (MMS); 5 and 7 were never
    // proposed. 61 09 30 07 02 01 <id> a0 02 30 00: a fully-encoded PDV list on context <id>.
    for id in [5u8, 7, 0x7f] {
        let mut p = default_pair();
        associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
        let mut frame = common::hex("0300001602f0800100 0100 6109 3007 0201ff a0023000");
        frame[17] = id;
        p.server.handle_input(&frame, p.now);
        let ev = p.server_events();
        assert!(!ev.iter().any(|e| matches!(e, Event::Data(_))), "{ev:?}");
        match ev.first() {
            Some(Event::Aborted(a)) => {
                assert_eq!(a.source, AbortSource::LocalProvider);
                let AbortReason::ProtocolError(e) = a.reason else {
                    panic!("{a:?}")
                };
                assert_eq!(e.layer(), Layer::Presentation);
                // The offset of the PDV's value (30 00) in the PPDU.
                assert_eq!(e.offset(), 9);
                assert!(
                    matches!(e.kind(), DecodeErrorKind::InvalidValue { value, .. } if *value == u64::from(id)),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        // On the wire: AB whose user data is an ARP with invalid-ppdu-parameter-value.
        p.s2c();
        assert!(
            matches!(&p.client_events()[0], Event::Aborted(a)
                if a.source == AbortSource::PeerProvider
                    && a.reason == AbortReason::Presentation(Some(
                        presentation::AbortReason::INVALID_PPDU_PARAMETER_VALUE))),
            "context {id}"
        );
    }
    // A context that was proposed but rejected by the responder (context 5, an abstract
    // syntax the service does not offer) is not negotiated either.
    let mut service = Service::new("mms");
    service.abstract_syntaxes = vec![Oid::MMS_ABSTRACT_SYNTAX.to_owned_oid()];
    let mut p = pair(Config::default(), Dispatch::new(vec![service]));
    let request = AssociateRequest::mms().with_contexts(vec![
        PresentationContext::ber(cid(3), Oid::MMS_ABSTRACT_SYNTAX),
        PresentationContext::ber(cid(5), Oid::BER),
    ]);
    associate(&mut p, request, AcceptResponse::default());
    // Rejected indeed: this side may not send on it either.
    assert_eq!(
        p.client.send_data(cid(5), &[0x30, 0], p.now),
        Err(osi_stack::association::ServiceError::UnknownContext(cid(5)))
    );
    p.server.handle_input(
        &common::hex("0300001602f0800100 0100 6109 3007 020105 a0023000"),
        p.now,
    );
    let ev = p.server_events();
    assert!(
        matches!(ev.first(), Some(Event::Aborted(a))
            if matches!(a.reason, AbortReason::ProtocolError(e) if e.layer() == Layer::Presentation)),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Data(_))), "{ev:?}");

    // The negotiated context 3 is data (the boundary).
    let mut p = default_pair();
    associate(&mut p, AssociateRequest::mms(), AcceptResponse::default());
    p.server.handle_input(
        &common::hex("0300001602f0800100 0100 6109 3007 020103 a0023000"),
        p.now,
    );
    assert!(matches!(&p.server_events()[0], Event::Data(d) if d.context_id == Some(cid(3))));
}

#[test]
fn an_x410_connect_with_garbage_parameters_is_refused() {
    // [0] declaring 5 octets with 1 present; a lone tag; a length of 0x84 + 4 octets past the end.
    for garbage in [
        &[0xa0u8, 0x05, 0x01][..],
        &[0x31],
        &[0x80, 0x84, 0xff, 0xff],
    ] {
        let mut p = pair(Config::default(), Dispatch::default());
        p.client
            .associate(
                AssociateRequest::mms().with_x410_parameters(garbage.to_vec()),
                p.now,
            )
            .unwrap();
        p.settle();
        let ev = p.server_events();
        assert!(
            ev.iter().any(|e| matches!(e, Event::Rejected(r)
                if r.sent == RefusalReason::Session(RefuseReason::USER_NO_REASON)
                    && matches!(r.cause, RejectionCause::Invalid(e) if e.layer() == Layer::Presentation))),
            "{garbage:02x?}: {ev:?}"
        );
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::AssociateIndication(_))),
            "{ev:?}"
        );
        let ev = p.client_events();
        assert!(
            ev.iter().any(|e| matches!(e, Event::Refused(r)
                if r.reason == RefusalReason::Session(RefuseReason::USER_NO_REASON))),
            "{ev:?}"
        );
    }
}

// -------------------------------------------------------------------------------------------
// On the wire: the tokio Listener sends the reaction before it closes.

#[cfg(feature = "tokio")]
mod wire {
    use super::*;
    use osi_stack::tokio::{Connection, Listener};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn responder(mut conn: Connection) {
        while let Ok(Some(ev)) = conn.next_event().await {
            if let Event::AssociateIndication(_) = ev {
                let _ = conn.accept(AcceptResponse::default()).await;
            }
        }
    }

    /// Starts a listener, sends each of `steps` in turn (reading the answers in between), and
    /// returns everything the listener sent until it closed.
    async fn exchange(steps: &[Vec<u8>]) -> Vec<u8> {
        let listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(listener.serve(
            async {
                let _ = stopped.await;
            },
            responder,
        ));
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        for step in steps {
            s.write_all(step).await.unwrap();
            // Read what the step answers (until a short pause).
            let mut buf = [0u8; 4096];
            loop {
                match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Err(_) => break,
                    Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                    Ok(Err(e)) => panic!("{e}"),
                }
            }
        }
        // The listener must have closed: EOF within the time-out.
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
            .await
            .expect("the listener did not close")
            .ok();
        got.extend_from_slice(&rest);
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve did not end")
            .unwrap()
            .unwrap();
        got
    }

    fn frames(mut b: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let (t, rest) = Tpkt::decode(b).unwrap();
            out.push(t.payload.to_vec());
            b = rest;
        }
        out
    }

    /// The CR, CN and CP + AARQ the crate's initiator sends (MMS profile).
    fn client_bytes() -> (Vec<u8>, Vec<u8>) {
        use osi_stack::association::Association;
        let now = Instant::now();
        let mut c = Association::initiator(Config::default());
        let mut s = Association::responder(Config::default(), Dispatch::default(), None);
        c.associate(AssociateRequest::mms(), now).unwrap();
        let cr = drain(&mut c);
        s.handle_input(&cr, now);
        c.handle_input(&drain(&mut s), now);
        let cn = drain(&mut c);
        let _ = events(&mut c);
        (cr, cn)
    }

    /// The kind of every TPDU in a stream of whole frames.
    fn kinds(stream: &[u8]) -> Vec<TpduKind> {
        frames(stream)
            .iter()
            .map(|f| Tpdu::decode(f).unwrap().kind())
            .collect()
    }

    /// The user data of the last TPDU of a stream, which must be a DT.
    fn last_dt(stream: &[u8]) -> Vec<u8> {
        let all = frames(stream);
        match all.last().map(|f| Tpdu::decode(f).unwrap()) {
            Some(Tpdu::Dt(dt)) => dt.user_data.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn framing_error_and_oversized_dt_get_an_er_on_the_wire() {
        let (cr, _) = client_bytes();
        for bad in [
            vec![4, 0, 0, 7, 2, 0xf0, 0x80],
            vec![3, 0, 0, 7, 9, 0xf0, 0x80],
            dt(8190), // 8193 octets of TPDU, over the 8192 negotiated
        ] {
            let got = exchange(&[cr.clone(), bad.clone()]).await;
            let tpdus = kinds(&got);
            assert_eq!(tpdus, [TpduKind::Cc, TpduKind::Er], "{:02x?}", &bad[..7]);
        }
        // In place of the CR.
        let got = exchange(&[vec![3, 0, 0, 6, 2, 0xf0]]).await;
        assert_eq!(kinds(&got), [TpduKind::Er]);
    }

    #[tokio::test]
    async fn a_cn_without_a_version_gets_rf_on_the_wire() {
        let (cr, _) = client_bytes();
        let cn = cn(Some(0));
        let mut frame = vec![3, 0, 0, (7 + cn.len()) as u8, 2, 0xf0, 0x80];
        frame.extend_from_slice(&cn);
        let got = exchange(&[cr, frame]).await;
        let tsdu = last_dt(&got);
        let (rf, _) = Spdu::decode(&tsdu).unwrap();
        assert_eq!(rf.kind(), SpduKind::Rf);
        assert_eq!(
            rf.refuse_reason(),
            Some(RefuseReason::VERSION_NOT_SUPPORTED)
        );
    }

    #[tokio::test]
    async fn p_data_on_an_unknown_context_gets_ab_with_arp_on_the_wire() {
        let (cr, cn) = client_bytes();
        let pdata = common::hex("0300001602f0800100 0100 6109 3007 020107 a0023000");
        let got = exchange(&[cr, cn, pdata]).await;
        let tsdu = last_dt(&got);
        let (ab, _) = Spdu::decode(&tsdu).unwrap();
        assert_eq!(ab.kind(), SpduKind::Ab);
        // The AB's user data is an ARP (X.226 §8.4.3: [0] abort-reason, here 6).
        let ud = ab.ss_user_data();
        assert!(ud.windows(3).any(|w| w == [0x80, 0x01, 0x06]), "{ud:02x?}");
    }
}
