//! The async RTS driver (`osi_stack::tokio::rts`) on loopback: two X.400 connectors on one
//! port told apart by T-selector, a dial whose open retries outlast a listener that opens
//! late, transfers of APDUs from 0 octets to 64 KiB with the turn passed both ways and an
//! orderly close in every X.400 mode, and refusals (wrong T-selector, wrong called AP-title,
//! an RTORJ with an MTA-bind error) reaching the application with their typed diagnostics.
//! Every wait has a deadline; ports are ephemeral.
#![cfg(feature = "tokio")]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use osi_stack::acse::{AssociateSourceDiagnostic, UserDiagnostic};
use osi_stack::address::TSel;
use osi_stack::association::{
    AbortReason as AssociationAbortReason, AbortSource, Config, Criterion, Dispatch, RefusalReason,
    RejectionCause, Selector, Service,
};
use osi_stack::cotp::DisconnectReason;
use osi_stack::cotp::connection::Disconnect;
use osi_stack::oid::OwnedOid;
use osi_stack::rtse::{
    ConnectorProfile, DialogueMode, RefuseReason, RtsAbortCause, RtsEvent, RtsSettings,
    TransferState, X400Mode,
};
use osi_stack::tokio::rts::{RtsConnection, RtsDialer, RtsListener, RtsWaitError};

const STEP: Duration = Duration::from_secs(20);

/// APDU sizes from 0 octets to 64 KiB (several checkpoints of 30 KiB at the top).
const SIZES: [usize; 8] = [0, 1, 127, 1000, 8192, 30 * 1024 + 1, 50_000, 64 * 1024];

const MODES: [X400Mode; 3] = [
    X400Mode::Normal1988,
    X400Mode::X410Mode1988,
    X400Mode::Mode1984,
];

fn apdu(size: usize, salt: u8) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
            .collect::<Vec<u8>>(),
    )
}

fn profile(port: u16, tsel: &str, mode: X400Mode) -> ConnectorProfile {
    let mut p = ConnectorProfile::new(
        format!("\"mta\"/\"mta\"/\"{tsel}\"/Internet=127.0.0.1+{port}")
            .parse()
            .unwrap(),
    );
    p.mode = mode;
    p.two_way_alternate = true;
    p.open_retries = 0;
    p.open_interval = Duration::from_millis(100);
    p
}

fn dispatch(services: &[(&str, &str)]) -> Dispatch {
    Dispatch::new(
        services
            .iter()
            .map(|(name, tsel)| {
                Service::new(*name).with_tsel(Selector::Is(TSel::new(tsel.as_bytes()).unwrap()))
            })
            .collect(),
    )
}

async fn listener(d: Dispatch) -> (RtsListener, u16) {
    let l = RtsListener::bind(
        (Ipv4Addr::LOCALHOST, 0),
        Config::default(),
        d,
        RtsSettings::default(),
    )
    .await
    .unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The responder of `exchange`: accepts, takes every APDU, then with the turn sends them back
/// (reversed order), gives the turn back when asked, and agrees to the close.
async fn echo_server(mut conn: RtsConnection, expect: usize) -> Vec<Bytes> {
    let ind = conn.wait_open_indication(STEP).await.unwrap();
    assert_eq!(ind.dialogue_mode, DialogueMode::TWA);
    conn.accept(None, None).await.unwrap();
    let opened = conn.wait_opened(STEP).await.unwrap();
    assert!(!opened.turn, "the initiator holds the turn first");
    let mut got = Vec::new();
    for _ in 0..expect {
        got.push(conn.wait_received(STEP).await.unwrap());
    }
    conn.wait_turn(STEP).await.unwrap();
    assert!(conn.has_turn());
    let mut seqs = Vec::new();
    for a in got.iter().rev() {
        seqs.push(conn.transfer(a.clone()).await.unwrap());
    }
    for s in seqs {
        conn.wait_confirmed(s, STEP).await.unwrap();
    }
    // The peer asks for the turn: give it.
    let please = conn
        .wait_event(STEP, "turn please", |e| {
            matches!(e, RtsEvent::TurnPlease { .. })
        })
        .await
        .unwrap();
    assert_eq!(please, RtsEvent::TurnPlease { priority: 7 });
    conn.turn_give().await.unwrap();
    // Then the release: the machine answers it; wait for the end.
    conn.wait_event(STEP, "released", |e| *e == RtsEvent::Released)
        .await
        .unwrap();
    conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
        .await
        .unwrap();
    assert_eq!(conn.next_event_within(STEP).await.unwrap(), None);
    got
}

async fn exchange(mode: X400Mode) {
    let (mut l, port) = listener(Dispatch::default()).await;
    let sent: Vec<Bytes> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &s)| apdu(s, i as u8))
        .collect();
    let n = sent.len();
    let server = tokio::spawn(async move {
        let conn = l.accept().await.unwrap();
        echo_server(conn, n).await
    });
    let dialer = RtsDialer::from_profile(&profile(port, "mta", mode)).unwrap();
    let (mut conn, opened) = dialer.dial(None, TransferState::new()).await.unwrap();
    assert!(opened.turn);
    assert_eq!(opened.dialogue_mode, DialogueMode::TWA);
    assert_eq!(opened.checkpoint_size_kb, 30);
    assert_eq!(
        conn.rts().association().is_x410(),
        mode != X400Mode::Normal1988
    );
    let mut seqs = Vec::new();
    for a in &sent {
        seqs.push(conn.transfer(a.clone()).await.unwrap());
    }
    for s in seqs {
        conn.wait_confirmed(s, STEP).await.unwrap();
    }
    conn.turn_give().await.unwrap();
    assert!(!conn.has_turn());
    let mut back = Vec::new();
    for _ in 0..n {
        back.push(conn.wait_received(STEP).await.unwrap());
    }
    conn.turn_please(7).await.unwrap();
    conn.wait_turn(STEP).await.unwrap();
    conn.close(STEP).await.unwrap();
    assert_eq!(conn.next_event_within(STEP).await.unwrap(), None);
    let got = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
    assert_eq!(
        got, sent,
        "{mode:?}: the responder received every APDU intact"
    );
    let mut expected = sent.clone();
    expected.reverse();
    assert_eq!(back, expected, "{mode:?}: the initiator received them back");
}

#[tokio::test]
async fn transfers_turns_and_close_in_1988_normal_mode() {
    exchange(X400Mode::Normal1988).await;
}

#[tokio::test]
async fn transfers_turns_and_close_in_x410_1988_mode() {
    exchange(X400Mode::X410Mode1988).await;
}

#[tokio::test]
async fn transfers_turns_and_close_in_1984_mode() {
    exchange(X400Mode::Mode1984).await;
}

#[tokio::test]
async fn two_connectors_on_one_port_told_apart_by_t_selector() {
    let (mut l, port) = listener(dispatch(&[("mta1", "MTA1"), ("mta2", "MTA2")])).await;
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let mut conn = l.accept().await.unwrap();
            let peer = conn.peer_addr().unwrap();
            let ind = conn.wait_open_indication(STEP).await.unwrap();
            let who = ind.associate.clone();
            assert_eq!(who.peer, Some(peer.ip()));
            conn.accept(None, None).await.unwrap();
            conn.wait_opened(STEP).await.unwrap();
            let m = conn.wait_received(STEP).await.unwrap();
            conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
                .await
                .unwrap();
            seen.push((who, peer, m));
        }
        seen
    });
    let title: OwnedOid = "1.3.6.1.4.1.9999.400".parse().unwrap();
    for (tsel, mode) in [
        ("MTA1", X400Mode::Normal1988),
        ("MTA2", X400Mode::X410Mode1988),
    ] {
        let mut dialer = RtsDialer::from_profile(&profile(port, tsel, mode)).unwrap();
        dialer.request.calling.ap_title = Some(title.clone());
        dialer.request.calling_tsel = Some(TSel::new(b"CALLER").unwrap());
        let (mut conn, _) = dialer.dial(None, TransferState::new()).await.unwrap();
        let seq = conn
            .transfer(Bytes::from(tsel.as_bytes().to_vec()))
            .await
            .unwrap();
        conn.wait_confirmed(seq, STEP).await.unwrap();
        conn.close(STEP).await.unwrap();
    }
    let seen = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
    for ((who, peer, m), (name, tsel, x410)) in seen
        .iter()
        .zip([("mta1", "MTA1", false), ("mta2", "MTA2", true)])
    {
        assert_eq!(who.service_name.as_deref(), Some(name));
        assert_eq!(who.service, Some(usize::from(x410)));
        assert_eq!(who.called_tsel.as_deref(), Some(tsel.as_bytes()));
        assert_eq!(who.calling_tsel.as_deref(), Some(&b"CALLER"[..]));
        assert_eq!(who.called_ssel.as_deref(), Some(&b"mta"[..]));
        assert!(who.calling_ssel.is_none());
        assert_eq!(peer.ip(), std::net::IpAddr::from(Ipv4Addr::LOCALHOST));
        if x410 {
            // X.410-1984 mode has no ACSE: no AP-title, no application context.
            assert_eq!(who.application_context, None);
            assert_eq!(who.calling_ap_title, None);
        } else {
            assert_eq!(who.called_psel.as_deref(), Some(&b"mta"[..]));
            assert_eq!(who.calling_ap_title.as_ref(), Some(&title));
            assert_eq!(
                who.application_context.as_ref().map(|o| o.to_string()),
                Some("2.6.0.1.6".to_owned())
            );
        }
        assert_eq!(&m[..], tsel.as_bytes());
    }
}

#[tokio::test]
async fn dial_retries_until_a_late_listener_opens() {
    let port = free_port();
    let mut p = profile(port, "mta", X400Mode::Normal1988);
    p.open_retries = 20;
    p.open_interval = Duration::from_millis(100);
    p.local_bind = Some(Ipv4Addr::LOCALHOST.into());
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut l = RtsListener::bind(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Config::default(),
            Dispatch::default(),
            RtsSettings::default(),
        )
        .await
        .unwrap();
        let mut conn = l.accept().await.unwrap();
        conn.wait_open_indication(STEP).await.unwrap();
        conn.accept(None, None).await.unwrap();
        conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
            .await
            .unwrap();
    });
    let started = std::time::Instant::now();
    let dialer = RtsDialer::from_profile(&p).unwrap();
    let (mut conn, opened) = dialer.dial(None, TransferState::new()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(opened.turn);
    conn.close(STEP).await.unwrap();
    tokio::time::timeout(STEP, server).await.unwrap().unwrap();

    // Without a listener the retries run out, and the error says how many attempts were made
    // and gives the transfer state back with its queued APDU.
    let port = free_port();
    let mut p = profile(port, "mta", X400Mode::Normal1988);
    p.open_retries = 2;
    p.open_interval = Duration::from_millis(50);
    let mut state = TransferState::new();
    state.push(Bytes::from_static(b"queued"));
    let e = RtsDialer::from_profile(&p)
        .unwrap()
        .dial(None, state)
        .await
        .unwrap_err();
    assert_eq!(e.attempts, 3);
    assert!(matches!(e.error, RtsWaitError::Io(_)), "{e}");
    assert_eq!(e.state.pending(), 1);
}

/// A listener that reports the first rejection (or open indication) it sees.
async fn refusing_server(mut l: RtsListener) -> RtsEvent {
    let mut conn = l.accept().await.unwrap();
    let ev = conn
        .wait_event(STEP, "open or rejection", |e| {
            matches!(e, RtsEvent::Rejected(_) | RtsEvent::OpenIndication(_))
        })
        .await
        .unwrap();
    if let RtsEvent::OpenIndication(_) = ev {
        // The MTA-bind error of x400-ping-refuse.pcap: authentication-error.
        conn.reject(
            RefuseReason::VALIDATION_FAILURE,
            Some(&[0xb2, 0x03, 0x02, 0x01, 0x02]),
        )
        .await
        .unwrap();
    }
    let _ = conn
        .wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
        .await;
    ev
}

#[tokio::test]
async fn a_wrong_t_selector_is_refused_with_dr_address_unknown() {
    for mode in MODES {
        let (l, port) = listener(dispatch(&[("mta1", "MTA1")])).await;
        let server = tokio::spawn(refusing_server(l));
        let e = RtsDialer::from_profile(&profile(port, "NOPE", mode))
            .unwrap()
            .dial(None, TransferState::new())
            .await
            .unwrap_err();
        assert_eq!(e.attempts, 1, "a refusal is not retried when retries are 0");
        let RtsWaitError::Refused { refusal, .. } = &e.error else {
            panic!("{mode:?}: {e}");
        };
        assert_eq!(
            refusal.reason,
            RefusalReason::Transport(Disconnect::Dr(DisconnectReason::ADDRESS_UNKNOWN)),
            "{mode:?}"
        );
        let RtsEvent::Rejected(r) = tokio::time::timeout(STEP, server).await.unwrap().unwrap()
        else {
            panic!("{mode:?}: the listener did not report a rejection");
        };
        let RejectionCause::Mismatch(m) = &r.cause else {
            panic!("{r}");
        };
        assert_eq!(m.criterion, Criterion::CalledTsel);
        assert_eq!(r.received_selector(), Some(&b"NOPE"[..]));
        assert_eq!(m.configured.len(), 1);
        assert_eq!(m.configured[0].0, "mta1");
    }
}

#[tokio::test]
async fn a_wrong_called_ap_title_is_refused_by_acse() {
    let mut service = Service::new("mta1");
    service.ap_title = Some("1.3.6.1.4.1.9999.1".parse().unwrap());
    let (l, port) = listener(Dispatch::new(vec![service])).await;
    let server = tokio::spawn(refusing_server(l));
    let mut dialer = RtsDialer::from_profile(&profile(port, "mta", X400Mode::Normal1988)).unwrap();
    dialer.request.called.ap_title = Some("1.3.6.1.4.1.9999.2".parse().unwrap());
    let e = dialer.dial(None, TransferState::new()).await.unwrap_err();
    let RtsWaitError::Refused { refusal, .. } = &e.error else {
        panic!("{e}");
    };
    let RefusalReason::Acse { diagnostic, .. } = refusal.reason else {
        panic!("{refusal}");
    };
    assert_eq!(
        diagnostic,
        AssociateSourceDiagnostic::User(UserDiagnostic::CALLED_AP_TITLE_NOT_RECOGNIZED)
    );
    assert_eq!(e.error.refused_layer(), Some(osi_stack::Layer::Acse));
    let RtsEvent::Rejected(r) = tokio::time::timeout(STEP, server).await.unwrap().unwrap() else {
        panic!("no rejection");
    };
    let RejectionCause::Mismatch(m) = &r.cause else {
        panic!("{r}");
    };
    assert_eq!(m.criterion, Criterion::CalledApTitle);
}

#[tokio::test]
async fn an_rtorj_reaches_the_initiator_with_its_reason_and_user_data() {
    for mode in MODES {
        let (l, port) = listener(Dispatch::default()).await;
        let server = tokio::spawn(refusing_server(l));
        let e = RtsDialer::from_profile(&profile(port, "mta", mode))
            .unwrap()
            .dial(None, TransferState::new())
            .await
            .unwrap_err();
        let RtsWaitError::Refused {
            refusal,
            refuse_reason,
            user_data,
        } = &e.error
        else {
            panic!("{mode:?}: {e}");
        };
        assert_eq!(
            user_data.as_deref(),
            Some(&[0xb2, 0x03, 0x02, 0x01, 0x02][..]),
            "{mode:?}"
        );
        if mode == X400Mode::Normal1988 {
            // Normal mode: RTORJ in an AARE rejected-permanent; RTORJ has no reason field.
            assert!(
                matches!(refusal.reason, RefusalReason::Acse { .. }),
                "{refusal}"
            );
            assert_eq!(*refuse_reason, None);
        } else {
            assert_eq!(refusal.reason, RefusalReason::X410, "{mode:?}");
            assert_eq!(*refuse_reason, Some(RefuseReason::VALIDATION_FAILURE));
        }
        assert!(matches!(
            tokio::time::timeout(STEP, server).await.unwrap().unwrap(),
            RtsEvent::OpenIndication(_)
        ));
    }
}

#[tokio::test]
async fn waits_end_at_their_deadline_and_the_connection_stays_usable() {
    let (mut l, port) = listener(Dispatch::default()).await;
    let server = tokio::spawn(async move {
        let mut conn = l.accept().await.unwrap();
        conn.wait_open_indication(STEP).await.unwrap();
        conn.accept(None, None).await.unwrap();
        // Nothing is sent for a while: the peer's wait runs out first.
        let e = conn.wait_received(Duration::from_millis(200)).await;
        assert!(matches!(e, Err(RtsWaitError::Timeout { .. })), "{e:?}");
        let m = conn.wait_received(STEP).await.unwrap();
        conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
            .await
            .unwrap();
        m
    });
    let dialer = RtsDialer::from_profile(&profile(port, "mta", X400Mode::Normal1988)).unwrap();
    let (mut conn, _) = dialer.dial(None, TransferState::new()).await.unwrap();
    let e = conn
        .next_event_within(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(e, RtsWaitError::Timeout { .. }), "{e}");
    // A cancelled next_event loses nothing.
    let _ = tokio::time::timeout(Duration::from_millis(50), conn.next_event()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seq = conn.transfer(Bytes::from_static(b"late")).await.unwrap();
    conn.wait_confirmed(seq, STEP).await.unwrap();
    conn.close(STEP).await.unwrap();
    let m = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
    assert_eq!(&m[..], b"late");
}

/// A figure, not a check: 1988 normal mode, checkpoints of 30 KiB, window 5, 512 APDUs of
/// 64 KiB (32 MiB) from the initiator to a sinking responder over loopback.
/// `cargo test --release --all-features --test rts_driver -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement"]
async fn measure_throughput() {
    let (mut l, port) = listener(Dispatch::default()).await;
    const N: usize = 512;
    let server = tokio::spawn(async move {
        let mut conn = l.accept().await.unwrap();
        conn.wait_open_indication(STEP).await.unwrap();
        conn.accept(None, None).await.unwrap();
        let mut octets = 0usize;
        for _ in 0..N {
            octets += conn.wait_received(STEP).await.unwrap().len();
        }
        conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
            .await
            .unwrap();
        octets
    });
    let dialer = RtsDialer::from_profile(&profile(port, "mta", X400Mode::Normal1988)).unwrap();
    let (mut conn, _) = dialer.dial(None, TransferState::new()).await.unwrap();
    let m = apdu(64 * 1024, 1);
    let started = std::time::Instant::now();
    let mut last = 0;
    for _ in 0..N {
        last = conn.transfer(m.clone()).await.unwrap();
    }
    conn.wait_confirmed(last, STEP).await.unwrap();
    let elapsed = started.elapsed();
    conn.close(STEP).await.unwrap();
    let octets = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
    assert_eq!(octets, N * 64 * 1024);
    let mib = octets as f64 / f64::from(1 << 20);
    println!(
        "rts driver: {mib:.0} MiB in {N} APDUs of 64 KiB in {:.3} s = {:.1} MiB/s",
        elapsed.as_secs_f64(),
        mib / elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn an_abort_reaches_the_peer_with_its_rtab() {
    for mode in MODES {
        let (mut l, port) = listener(Dispatch::default()).await;
        let server = tokio::spawn(async move {
            let mut conn = l.accept().await.unwrap();
            conn.wait_open_indication(STEP).await.unwrap();
            conn.accept(None, None).await.unwrap();
            let e = conn.wait_received(STEP).await.unwrap_err();
            conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed)
                .await
                .unwrap();
            e
        });
        let dialer = RtsDialer::from_profile(&profile(port, "mta", mode)).unwrap();
        let (mut conn, _) = dialer.dial(None, TransferState::new()).await.unwrap();
        conn.abort(Some(osi_stack::rtse::AbortReason::PERMANENT_PROBLEM), STEP)
            .await
            .unwrap();
        // The own abort was kept; then the connection is finished.
        let own = conn.next_event_within(STEP).await.unwrap();
        let Some(RtsEvent::Aborted {
            cause: RtsAbortCause::Association(abort),
            ..
        }) = &own
        else {
            panic!("{mode:?}: {own:?}");
        };
        assert_eq!(
            (abort.source, &abort.reason),
            (AbortSource::LocalUser, &AssociationAbortReason::User),
            "{mode:?}"
        );
        assert_eq!(conn.next_event_within(STEP).await.unwrap(), None);
        let e = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
        let RtsWaitError::Aborted {
            rtab,
            cause: RtsAbortCause::Association(abort),
        } = e
        else {
            panic!("{mode:?}: {e}");
        };
        assert_eq!(
            (abort.source, abort.reason),
            (AbortSource::PeerUser, AssociationAbortReason::User),
            "{mode:?}"
        );
        assert_eq!(
            rtab,
            Some(osi_stack::rtse::AbortReason::PERMANENT_PROBLEM),
            "{mode:?}"
        );
    }
}

/// `next_event` is cancel safe: the responder polls it under a 1 ms time-out, cancelling it
/// hundreds of times in the middle of reads and of the MIA/AEA writes, and still receives
/// every APDU intact and in order.
#[tokio::test]
async fn next_event_cancelled_at_any_point_loses_nothing() {
    let (mut l, port) = listener(Dispatch::default()).await;
    let sent: Vec<Bytes> = (0..24).map(|i| apdu(1000 + i * 2731, i as u8)).collect();
    let n = sent.len();
    let server = tokio::spawn(async move {
        let mut conn = l.accept().await.unwrap();
        let (mut got, mut cancelled) = (Vec::new(), 0u32);
        let deadline = tokio::time::Instant::now() + STEP;
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(1), conn.next_event()).await {
                Err(_) => cancelled += 1,
                Ok(Some(RtsEvent::OpenIndication(_))) => conn.accept(None, None).await.unwrap(),
                Ok(Some(RtsEvent::Received(b))) => got.push(b),
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        (got, cancelled)
    });
    let mut p = profile(port, "mta", X400Mode::Normal1988);
    p.checkpoint_size_kb = 4;
    p.window_size = 2;
    let dialer = RtsDialer::from_profile(&p).unwrap();
    let (mut conn, _) = dialer.dial(None, TransferState::new()).await.unwrap();
    for a in &sent {
        let seq = conn.transfer(a.clone()).await.unwrap();
        // Slow the sender down a little so that the receiver's polls are cancelled mid-way.
        tokio::time::sleep(Duration::from_millis(2)).await;
        conn.wait_confirmed(seq, STEP).await.unwrap();
    }
    conn.close(STEP).await.unwrap();
    let (got, cancelled) = tokio::time::timeout(STEP * 2, server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), n);
    assert_eq!(got, sent);
    assert!(cancelled > 10, "only {cancelled} cancellations");
}

/// A wrong S-selector is refused by the session layer (RF "session selector unknown"), a wrong
/// P-selector by the presentation layer (CPR "called presentation address unknown"); the
/// initiator gets the typed reason, the listener the criterion that failed.
#[tokio::test]
async fn wrong_s_and_p_selectors_are_refused_by_their_layers() {
    use osi_stack::address::{PSel, SSel};
    use osi_stack::presentation::ProviderReason;
    let service = Service::new("mta")
        .with_ssel(Selector::Is(SSel::new(b"mta").unwrap()))
        .with_psel(Selector::Is(PSel::new(b"mta").unwrap()));
    for (ssel, psel, criterion) in [
        (&b"xxx"[..], &b"mta"[..], Criterion::CalledSsel),
        (&b"mta"[..], &b"xxx"[..], Criterion::CalledPsel),
    ] {
        let (l, port) = listener(Dispatch::new(vec![service.clone()])).await;
        let server = tokio::spawn(refusing_server(l));
        let mut dialer =
            RtsDialer::from_profile(&profile(port, "mta", X400Mode::Normal1988)).unwrap();
        dialer.request.called_ssel = Some(SSel::new(ssel).unwrap());
        dialer.request.called_psel = Some(PSel::new(psel).unwrap());
        let e = dialer.dial(None, TransferState::new()).await.unwrap_err();
        let RtsWaitError::Refused { refusal, .. } = &e.error else {
            panic!("{e}");
        };
        match criterion {
            Criterion::CalledSsel => assert_eq!(
                refusal.reason,
                RefusalReason::Session(osi_stack::session::RefuseReason::SELECTOR_UNKNOWN)
            ),
            _ => assert_eq!(
                refusal.reason,
                RefusalReason::Presentation(Some(
                    ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN
                ))
            ),
        }
        let RtsEvent::Rejected(r) = tokio::time::timeout(STEP, server).await.unwrap().unwrap()
        else {
            panic!("no rejection");
        };
        let RejectionCause::Mismatch(m) = &r.cause else {
            panic!("{r}");
        };
        assert_eq!(m.criterion, criterion);
    }
}

/// `RtsListener` has a `Listener`'s admission and limits: a connection over the per-peer cap
/// is shed (closed at once), and the idle timer aborts a silent RTS association with a typed
/// cause (this side's provider, the idle time-out) after a notice.
#[tokio::test]
async fn the_rts_listener_sheds_over_its_caps_and_aborts_a_silent_association() {
    use osi_stack::association::{Timeout, TimerKind};
    use osi_stack::tokio::rts::RtsIncoming;
    use osi_stack::tokio::{ListenerConfig, Notice, ShedReason};
    use tokio::io::AsyncReadExt;

    tokio::time::timeout(STEP, async {
        let limits = ListenerConfig::default()
            .with_max_connections_per_peer(1)
            .with_idle_timeout(Some(Duration::from_millis(300)));
        let (l, port) = listener(Dispatch::default()).await;
        let mut l = l.with_limits(limits);
        assert_eq!(l.limits().max_connections_per_peer, 1);
        let server = tokio::spawn(async move {
            let mut conn = match l.next_incoming().await {
                RtsIncoming::Accepted(c) => *c,
                other => panic!("{other:?}"),
            };
            conn.wait_open_indication(STEP).await.unwrap();
            conn.accept(None, None).await.unwrap();
            // The second connection, from the same address: shed while this one runs.
            let shed = l.next_incoming().await;
            assert!(
                matches!(shed, RtsIncoming::Shed { reason: ShedReason::PerPeer, .. }),
                "{shed:?}"
            );
            assert_eq!(l.open_connections(), 1);
            let mut notices = Vec::new();
            let mut events = Vec::new();
            while let Some(ev) = conn.next_event().await {
                while let Some(n) = conn.poll_notice() {
                    notices.push(n);
                }
                events.push(ev);
            }
            (notices, events)
        });
        let dialer = RtsDialer::from_profile(&profile(port, "mta", X400Mode::Normal1988)).unwrap();
        let (mut conn, _opened) = dialer.dial(None, TransferState::new()).await.unwrap();
        let mut over = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(over.read(&mut buf).await, Ok(0) | Err(_)), "not shed");
        // Silent: the listener's idle timer aborts.
        let ended = async { while conn.next_event().await.is_some() {} };
        tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("the silent association was not aborted");
        let (notices, events) = server.await.unwrap();
        assert_eq!(notices, [Notice::Timeout(TimerKind::Idle)]);
        assert!(
            events.iter().any(|e| matches!(e, RtsEvent::Aborted { cause, .. }
                if cause.association_abort().is_some_and(|a| a.source == AbortSource::LocalProvider
                    && a.reason == AssociationAbortReason::Timeout(Timeout::Driver(TimerKind::Idle))))),
            "{events:?}"
        );
    })
    .await
    .expect("bounded");
}
