//! The tokio adapter on loopback: two services on one port told apart by T-selector, a third
//! selector refused with DR "address unknown" (and retried), the calling-address policy with a
//! bound local address, data, release and abort. Every test is bounded by a time-out.
#![cfg(feature = "tokio")]

mod common;
use common::cid;

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use osi_stack::address::TSel;
use osi_stack::association::{
    AbortReason, AbortSource, AcceptResponse, AssociateRequest, Association, Config, Dispatch,
    Event, RefusalReason, Selector, Service, Timeout,
};
use osi_stack::cotp::DisconnectReason;
use osi_stack::cotp::connection::Disconnect;
use osi_stack::tokio::{
    Connection, DialError, Dialer, Listener, MemoryBudget, Notice, TimerKind, Timers, TpktCodec,
    associate_stream,
};
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
            conn.send_data(cid(3), &[0x30, 0x03, 0x02, 0x01, 0x07])
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
        conn.send_data(cid(3), &big).await.unwrap();
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

/// A responder over one end of an in-memory duplex.
fn duplex_responder(
    stream: tokio::io::DuplexStream,
    timers: Timers,
) -> Connection<tokio::io::DuplexStream> {
    let mut association = Association::responder(Config::default(), Dispatch::default(), None);
    association.handle_transport_accepted(std::time::Instant::now());
    Connection::new(stream, association).with_timers(timers)
}

/// Runs a responder to its end: accepts, echoes, answers release; returns its notices and
/// events.
async fn run_responder(
    mut conn: Connection<tokio::io::DuplexStream>,
    echo: bool,
) -> (Vec<Notice>, Vec<Event>) {
    let mut notices = Vec::new();
    let mut seen = Vec::new();
    while let Ok(Some(ev)) = conn.next_event().await {
        notices.extend(std::iter::from_fn(|| conn.poll_notice()));
        match &ev {
            Event::AssociateIndication(_) => {
                let _ = conn.accept(AcceptResponse::default()).await;
            }
            Event::Data(d) if echo => {
                let _ = conn.send_data(d.context_id.unwrap(), &d.value).await;
            }
            Event::ReleaseIndication => {
                let _ = conn.release_response(true).await;
            }
            _ => {}
        }
        seen.push(ev);
    }
    notices.extend(std::iter::from_fn(|| conn.poll_notice()));
    (notices, seen)
}

/// The whole association over `tokio::io::duplex` with a 256-octet pipe: every write is
/// partial, a 100 KiB P-DATA is echoed byte-exact, the release completes.
#[tokio::test]
async fn an_association_over_an_in_memory_duplex() {
    bounded(async {
        let (a, b) = tokio::io::duplex(256);
        let server = tokio::spawn(run_responder(duplex_responder(b, Timers::default()), true));
        let (mut conn, events) =
            associate_stream(a, None, Config::default(), AssociateRequest::mms())
                .await
                .unwrap();
        assert!(
            matches!(events.last(), Some(Event::Associated(_))),
            "{events:?}"
        );
        let mut big = vec![0x04, 0x83, 0x01, 0x90, 0x00];
        big.extend((0..0x1_9000u32).map(|i| (i % 251) as u8));
        conn.send_data(cid(3), &big).await.unwrap();
        let echoed = loop {
            match conn.next_event().await.unwrap() {
                Some(Event::Data(d)) => break d.value,
                Some(_) => {}
                None => panic!("closed before the echo"),
            }
        };
        assert_eq!(echoed[..], big[..]);
        assert!(conn.release().await.unwrap().released);
        let (notices, seen) = server.await.unwrap();
        assert!(notices.is_empty(), "{notices:?}");
        assert!(
            seen.iter().any(|e| matches!(e, Event::Released { .. })),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&Event::Closed));
    })
    .await;
}

/// `send_data_bytes` over a 256-octet pipe (every vectored write partial): a 100 KiB value
/// goes out from its own buffer between the headers and is echoed byte-exact, the echo itself
/// sent from the received `Bytes` without a copy.
#[tokio::test]
async fn a_large_value_sent_from_its_own_buffer_survives_partial_writes() {
    bounded(async {
        let (a, b) = tokio::io::duplex(256);
        let server = tokio::spawn(async move {
            let mut conn = duplex_responder(b, Timers::default());
            while let Ok(Some(ev)) = conn.next_event().await {
                match ev {
                    Event::AssociateIndication(_) => {
                        let _ = conn.accept(AcceptResponse::default()).await;
                    }
                    Event::Data(d) => {
                        let _ = conn.send_data_bytes(d.context_id.unwrap(), d.value).await;
                    }
                    Event::ReleaseIndication => {
                        let _ = conn.release_response(true).await;
                    }
                    _ => {}
                }
            }
        });
        let (mut conn, _) = associate_stream(a, None, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        let mut big = vec![0x04, 0x83, 0x01, 0x90, 0x00];
        big.extend((0..0x1_9000u32).map(|i| (i % 253) as u8));
        conn.send_data_bytes(cid(3), Bytes::from(big.clone()))
            .await
            .unwrap();
        let echoed = loop {
            match conn.next_event().await.unwrap() {
                Some(Event::Data(d)) => break d.value,
                Some(_) => {}
                None => panic!("closed before the echo"),
            }
        };
        assert_eq!(echoed[..], big[..]);
        assert!(conn.release().await.unwrap().released);
        server.await.unwrap();
    })
    .await;
}

/// The idle timer aborts an association that carries nothing (AB reaches the peer).
#[tokio::test]
async fn the_idle_timer_aborts_a_silent_association() {
    bounded(async {
        let (a, b) = tokio::io::duplex(4096);
        let timers = Timers::default().with_idle(Some(Duration::from_millis(150)));
        let server = tokio::spawn(run_responder(duplex_responder(b, timers), false));
        let (mut conn, _) = associate_stream(a, None, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        let mut mine = Vec::new();
        while let Some(ev) = conn.next_event().await.unwrap() {
            mine.push(ev);
        }
        let (notices, seen) = server.await.unwrap();
        assert_eq!(notices, [Notice::Timeout(TimerKind::Idle)]);
        // Typed: this side's provider, the idle timer (not a user abort).
        assert!(
            seen.iter().any(|e| matches!(e, Event::Aborted(a)
                if a.source == AbortSource::LocalProvider
                    && a.reason == AbortReason::Timeout(Timeout::Driver(TimerKind::Idle)))),
            "{seen:?}"
        );
        // The peer reads an ABRT from the ACSE provider (X.227 abort-source 1).
        assert!(
            mine.iter().any(|e| matches!(e, Event::Aborted(a)
                if a.source == AbortSource::PeerProvider
                    && matches!(a.reason, AbortReason::AcseProvider(_)))),
            "{mine:?}"
        );
    })
    .await;
}

/// The connect timer aborts a peer that sends its CR and nothing more.
#[tokio::test]
async fn the_connect_timer_aborts_a_stalled_setup() {
    bounded(async {
        let (mut a, b) = tokio::io::duplex(4096);
        let timers = Timers::default().with_connect(Some(Duration::from_millis(150)));
        let server = tokio::spawn(run_responder(duplex_responder(b, timers), false));
        // A CR (class 0, no parameters) and then silence.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        a.write_all(&[3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 1, 0])
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let (notices, seen) = server.await.unwrap();
        assert_eq!(notices, [Notice::Timeout(TimerKind::Connect)]);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(seen.last(), Some(&Event::Closed));
        // The CC came, then the stream closed.
        let mut rest = Vec::new();
        a.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest.get(5), Some(&0xd0), "{rest:02x?}");
    })
    .await;
}

/// A peer that never reads: the io timer closes the stream.
#[tokio::test]
async fn the_io_timer_closes_a_peer_that_does_not_read() {
    bounded(async {
        let (a, b) = tokio::io::duplex(1024);
        let timers = Timers::default().with_io(Some(Duration::from_millis(200)));
        let mut server = duplex_responder(b, timers);
        let client = tokio::spawn(async move {
            let (conn, _) = associate_stream(a, None, Config::default(), AssociateRequest::mms())
                .await
                .unwrap();
            // Holds the stream and never reads again.
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(conn);
        });
        let mut notices = Vec::new();
        while let Ok(Some(ev)) = server.next_event().await {
            notices.extend(std::iter::from_fn(|| server.poll_notice()));
            if let Event::AssociateIndication(_) = ev {
                server.accept(AcceptResponse::default()).await.unwrap();
                let mut big = vec![0x04, 0x82, 0xff, 0xf0];
                big.extend(std::iter::repeat_n(7u8, 0xfff0));
                let r = server.send_data(cid(3), &big).await;
                assert!(r.is_err(), "the write should time out");
            }
        }
        notices.extend(std::iter::from_fn(|| server.poll_notice()));
        assert_eq!(notices, [Notice::Timeout(TimerKind::Io)]);
        client.abort();
    })
    .await;
}

/// Input past the memory budget aborts the connection holding it; the budget is given back.
#[tokio::test]
async fn input_past_the_memory_budget_aborts() {
    bounded(async {
        let (a, b) = tokio::io::duplex(4096);
        let budget = MemoryBudget::new(16 * 1024);
        let server = tokio::spawn(run_responder(
            duplex_responder(b, Timers::default()).with_budget(budget.clone()),
            false,
        ));
        let (mut conn, _) = associate_stream(a, None, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        let mut big = vec![0x04, 0x82, 0xff, 0xf0];
        big.extend(std::iter::repeat_n(7u8, 0xfff0));
        let _ = conn.send_data(cid(3), &big).await;
        while let Ok(Some(_)) = conn.next_event().await {}
        let (notices, seen) = server.await.unwrap();
        assert!(
            matches!(notices.as_slice(), [Notice::MemoryBudget { wanted }] if *wanted > 16 * 1024),
            "{notices:?}"
        );
        // Typed: this side's provider, over the budget (not a user abort).
        assert!(
            seen.iter().any(|e| matches!(e, Event::Aborted(a)
                if a.source == AbortSource::LocalProvider && a.reason == AbortReason::MemoryBudget)),
            "{seen:?}"
        );
        assert_eq!(budget.used(), 0);
    })
    .await;
}

/// The connection caps of a `Listener`: over the total cap and the per-peer cap a connection is
/// shed (closed at once, reported by `next_incoming`); a freed place is taken again.
#[tokio::test]
async fn listener_caps_shed_and_free_places() {
    use osi_stack::tokio::{Incoming, ListenerConfig, ShedReason};
    use tokio::io::AsyncReadExt;
    bounded(async {
        let limits = ListenerConfig::default()
            .with_max_connections(3)
            .with_max_connections_per_peer(2);
        let mut listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default())
            .await
            .unwrap()
            .with_limits(limits);
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            match listener.next_incoming().await {
                Incoming::Accepted(a) => held.push(a.into_connection()),
                other => panic!("{other:?}"),
            }
        }
        // A third from the same address: per-peer cap.
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(matches!(
            listener.next_incoming().await,
            Incoming::Shed {
                reason: ShedReason::PerPeer,
                ..
            }
        ));
        let mut buf = [0u8; 8];
        assert_eq!(third.read(&mut buf).await.unwrap_or(0), 0);
        // From another address: accepted (3 of 3), then the total cap.
        let other = Dialer::new().with_bind(Some("127.0.0.2".parse().unwrap()));
        let _c = other.connect_once(addr).await.unwrap();
        assert!(matches!(
            listener.next_incoming().await,
            Incoming::Accepted(_)
        ));
        let _d = other.connect_once(addr).await.unwrap();
        // The accepted one above was dropped at once, so this one fits again.
        assert!(matches!(
            listener.next_incoming().await,
            Incoming::Accepted(_)
        ));
        assert_eq!(listener.open_connections(), 2);
        held.clear();
        assert_eq!(listener.open_connections(), 0);
        let _e = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(matches!(
            listener.next_incoming().await,
            Incoming::Accepted(_)
        ));
    })
    .await;
}

/// With every place taken, the next connection is shed for the total cap.
#[tokio::test]
async fn listener_total_cap() {
    use osi_stack::tokio::{Incoming, ListenerConfig, ShedReason};
    bounded(async {
        let mut listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default())
            .await
            .unwrap()
            .with_limits(ListenerConfig::default().with_max_connections(1));
        let addr = listener.local_addr().unwrap();
        let _a = tokio::net::TcpStream::connect(addr).await.unwrap();
        let Incoming::Accepted(first) = listener.next_incoming().await else {
            panic!("not accepted")
        };
        let _b = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(matches!(
            listener.next_incoming().await,
            Incoming::Shed {
                reason: ShedReason::MaxConnections,
                ..
            }
        ));
        drop(first);
        let _c = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(matches!(
            listener.next_incoming().await,
            Incoming::Accepted(_)
        ));
    })
    .await;
}

/// `next_event` and `flush` cancelled over and over (each call polled once and dropped, a
/// 64-octet pipe so writes are partial) lose nothing: 200 echoed P-DATA come back in order.
#[tokio::test]
async fn cancelled_calls_lose_nothing() {
    bounded(async {
        let (a, b) = tokio::io::duplex(64);
        let server = tokio::spawn(run_responder(duplex_responder(b, Timers::default()), true));
        let (mut conn, _) = associate_stream(a, None, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        // 300 octets through a 64-octet pipe: every write is partial.
        let value = |hi: u8, lo: u8| {
            let mut v = vec![0x04, 0x82, 0x01, 0x28, hi, lo];
            v.resize(300, 0x5a);
            v
        };
        let mut cancelled = 0u32;
        let mut got = Vec::new();
        for i in 0..200u16 {
            let [hi, lo] = i.to_be_bytes();
            conn.association()
                .send_data(cid(3), &value(hi, lo), std::time::Instant::now())
                .unwrap();
            // Each call is polled once and dropped unless it finished at once.
            loop {
                tokio::select! {
                    biased;
                    r = conn.flush() => { r.unwrap(); break; }
                    () = std::future::ready(()) => cancelled += 1,
                }
                tokio::task::yield_now().await;
            }
            loop {
                let polled = tokio::select! {
                    biased;
                    r = conn.next_event() => Some(r),
                    () = std::future::ready(()) => None,
                };
                match polled {
                    None => {
                        cancelled += 1;
                        tokio::task::yield_now().await;
                    }
                    Some(Ok(Some(Event::Data(d)))) => {
                        got.push(u16::from_be_bytes([d.value[4], d.value[5]]));
                        break;
                    }
                    Some(Ok(Some(_))) => {}
                    Some(other) => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(got, (0..200u16).collect::<Vec<_>>());
        assert!(cancelled > 200, "only {cancelled} calls were cancelled");
        assert!(conn.release().await.unwrap().released);
        let (notices, _) = server.await.unwrap();
        assert!(notices.is_empty());
    })
    .await;
}
