//! The tokio adapter on loopback: two services on one port told apart by T-selector, a third
//! selector refused with DR "address unknown" (and retried), the calling-address policy with a
//! bound local address, data, release and abort. Every test is bounded by a time-out.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use osi_stack::address::TSel;
use osi_stack::association::{
    AbortSource, AcceptResponse, AssociateRequest, Config, Dispatch, Event, RefusalReason,
    Selector, Service,
};
use osi_stack::cotp::DisconnectReason;
use osi_stack::cotp::connection::Disconnect;
use osi_stack::tokio::{Connection, DialError, Dialer, Listener, TpktCodec};
use tokio_util::codec::{Decoder, Encoder};

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out")
}

/// A responder task: accepts, echoes every P-DATA, answers release.
async fn echo(mut conn: Connection) {
    while let Ok(Some(ev)) = conn.next_event().await {
        match ev {
            Event::AssociateIndication(_) => conn.accept(AcceptResponse::default()).await.unwrap(),
            Event::Data(d) => conn
                .send_data(d.context_id.unwrap(), &d.value)
                .await
                .unwrap(),
            Event::ReleaseIndication => conn.release_response(true).await.unwrap(),
            _ => {}
        }
    }
}

fn tsel(s: &[u8]) -> TSel {
    TSel::new(s).unwrap()
}

async fn start(
    dispatch: Dispatch,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<usize>,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = Listener::bind("127.0.0.1:0", Config::default(), dispatch)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        listener
            .serve(
                async {
                    let _ = rx.await;
                },
                echo,
            )
            .await
            .unwrap()
    });
    (addr, task, tx)
}

#[tokio::test]
async fn two_services_on_one_port_and_a_refused_third() {
    bounded(async {
        let dispatch = Dispatch::new(vec![
            Service::new("a").with_tsel(Selector::Is(tsel(b"A"))),
            Service::new("b").with_tsel(Selector::Is(tsel(b"B"))),
        ]);
        let (addr, task, stop) = start(dispatch).await;
        for t in [&b"A"[..], b"B"] {
            let req = AssociateRequest::mms().with_called_selectors(Some(tsel(t)), None, None);
            let (mut conn, events) = Dialer::new()
                .associate(addr, Config::default(), req)
                .await
                .unwrap();
            assert!(matches!(events.last(), Some(Event::Associated(_))));
            conn.send_data(3, &[0x30, 0x03, 0x02, 0x01, 0x07])
                .await
                .unwrap();
            let ev = conn.next_event().await.unwrap().unwrap();
            assert!(
                matches!(&ev, Event::Data(d) if d.value[..] == [0x30, 3, 2, 1, 7]),
                "{ev:?}"
            );
            let outcome = conn.release().await.unwrap();
            assert!(outcome.released, "{:?}", outcome.events);
        }
        // A third selector: DR 0x03, retried once, then reported.
        let req = AssociateRequest::mms().with_called_selectors(Some(tsel(b"C")), None, None);
        let dialer = Dialer::new()
            .with_retries(1)
            .with_open_interval(Duration::from_millis(50));
        match dialer.associate(addr, Config::default(), req).await {
            Err(DialError::Refused { refusal, .. }) => {
                assert_eq!(
                    refusal.reason,
                    RefusalReason::Transport(Disconnect::Dr(DisconnectReason::ADDRESS_UNKNOWN))
                );
            }
            other => panic!("{other:?}"),
        }
        stop.send(()).unwrap();
        assert_eq!(task.await.unwrap(), 4);
    })
    .await;
}

#[tokio::test]
async fn calling_address_policy_and_bind() {
    bounded(async {
        let dispatch = Dispatch::new(vec![
            Service::new("mta").with_allowed_peer("127.0.0.1".parse().unwrap()),
        ]);
        let (addr, task, stop) = start(dispatch).await;
        let wrong = Dialer::new().with_bind(Some("127.0.0.2".parse().unwrap()));
        match wrong
            .associate(addr, Config::default(), AssociateRequest::mms())
            .await
        {
            Err(DialError::Refused { refusal, .. }) => assert_eq!(
                refusal.reason,
                RefusalReason::Transport(Disconnect::Dr(DisconnectReason::NOT_SPECIFIED))
            ),
            other => panic!("{other:?}"),
        }
        let right = Dialer::new().with_bind(Some("127.0.0.1".parse().unwrap()));
        let (mut conn, _) = right
            .associate(addr, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        assert!(conn.release().await.unwrap().released);
        stop.send(()).unwrap();
        task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn abort_reaches_the_peer_and_large_data_survives() {
    bounded(async {
        let listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut listener = listener;
            let mut conn = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            while let Ok(Some(ev)) = conn.next_event().await {
                if matches!(ev, Event::AssociateIndication(_)) {
                    conn.accept(AcceptResponse::default()).await.unwrap();
                }
                seen.push(ev);
            }
            seen
        });
        let (mut conn, _) = Dialer::new()
            .associate(addr, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        let mut big = vec![0x04, 0x83, 0x01, 0x00, 0x00];
        big.extend((0..65_536u32).map(|i| i as u8));
        conn.send_data(3, &big).await.unwrap();
        conn.abort().await.unwrap();
        // The aborting side waits for the peer to close.
        let mut mine = Vec::new();
        while let Some(ev) = conn.next_event().await.unwrap() {
            mine.push(ev);
        }
        assert!(
            matches!(mine.first(), Some(Event::Aborted(a)) if a.source == AbortSource::LocalUser)
        );
        assert_eq!(mine.last(), Some(&Event::Closed));
        let seen = server.await.unwrap();
        let data: Vec<_> = seen
            .iter()
            .filter_map(|e| match e {
                Event::Data(d) => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(data.len(), 1);
        assert_eq!(data[0].value[..], big[..]);
        assert!(
            seen.iter()
                .any(|e| matches!(e, Event::Aborted(a) if a.source == AbortSource::PeerUser))
        );
    })
    .await;
}

/// A peer that connects and never sends a CR is dropped after the response time-out (before,
/// the listener's responder waited for the CR forever).
#[tokio::test]
async fn a_silent_peer_is_dropped_after_the_response_timeout() {
    bounded(async {
        let config = Config::default().with_response_timeout(Duration::from_millis(100));
        let mut listener = Listener::bind("127.0.0.1:0", config, Dispatch::default())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        while let Some(ev) = conn.next_event().await.unwrap() {
            seen.push(ev);
        }
        assert!(
            matches!(&seen[0], Event::Aborted(a) if a.source == AbortSource::LocalProvider),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&Event::Closed));
    })
    .await;
}

#[test]
fn codec_frames_and_unframes() {
    let mut codec = TpktCodec;
    let mut buf = BytesMut::new();
    codec
        .encode(Bytes::from_static(&[0x02, 0xf0, 0x80]), &mut buf)
        .unwrap();
    assert_eq!(buf[..], [3, 0, 0, 7, 2, 0xf0, 0x80]);
    let mut partial = BytesMut::from(&buf[..5]);
    assert_eq!(codec.decode(&mut partial).unwrap(), None);
    partial.extend_from_slice(&buf[5..]);
    assert_eq!(
        codec.decode(&mut partial).unwrap().unwrap()[..],
        [2, 0xf0, 0x80]
    );
    assert!(partial.is_empty());
    let mut bad = BytesMut::from(&[4u8, 0, 0, 7, 2, 0xf0, 0x80][..]);
    assert!(codec.decode(&mut bad).is_err());
}

#[tokio::test]
async fn dial_an_rfc1278_presentation_address() {
    bounded(async {
        let dispatch = Dispatch::new(vec![Service::new("a").with_tsel(Selector::Is(tsel(b"A")))]);
        let (addr, task, stop) = start(dispatch).await;
        let paddr: osi_stack::address::PresentationAddress =
            format!("\"A\"/Internet=127.0.0.1+{}", addr.port())
                .parse()
                .unwrap();
        let (mut conn, _) = Dialer::new()
            .associate_address(&paddr, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        assert!(conn.release().await.unwrap().released);
        stop.send(()).unwrap();
        assert_eq!(task.await.unwrap(), 1);
    })
    .await;
}
