//! The selector probe (`osi_stack::probe`, `osi probe`): against the library `Listener` with
//! two T-selector services (both found, each refusal named by layer and reason), against
//! `osi listen` as a process, and against real peers: python-snap7 answering one S7 TSAP only
//! and libiec61850's MMS server. Every wait is bounded; processes are stopped by PID.
//!
//! The peer tests need the peers' Python (`OSI_PEER_PYTHON`, or the venv `.ci/peers.sh`
//! makes). They are `#[ignore]`d, so that `cargo test` without the peers reports them as
//! ignored rather than passed; run them with the peers and `--ignored` (as `.ci/run` does),
//! and a missing peer fails them.
#![cfg(feature = "tokio")]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use osi_stack::Layer;
use osi_stack::acse::{AssociateSourceDiagnostic, UserDiagnostic};
use osi_stack::address::{PSel, SSel, TSel};
use osi_stack::association::{
    AcceptResponse, Config, Dispatch, Event, RefusalReason, Selector, Service,
};
use osi_stack::cotp::DisconnectReason;
use osi_stack::cotp::connection::Disconnect;
use osi_stack::probe::{self, Candidate, Depth, Options, Outcome, Probe, Profile, Reached};
use osi_stack::session::RefuseReason;
use osi_stack::tokio::{Connection, Listener};

fn tsel(b: &[u8]) -> TSel {
    TSel::new(b).unwrap()
}

fn ssel(b: &[u8]) -> SSel {
    SSel::new(b).unwrap()
}

/// Service a: T-selector 0001, any S-selector; service b: T-selector 0002 and S-selector 0002.
fn two_services() -> Dispatch {
    Dispatch::new(vec![
        Service::new("a").with_tsel(Selector::Is(tsel(&[0, 1]))),
        Service::new("b")
            .with_tsel(Selector::Is(tsel(&[0, 2])))
            .with_ssel(Selector::Is(ssel(&[0, 2]))),
    ])
}

async fn accept_all(mut conn: Connection) {
    while let Ok(Some(ev)) = conn.next_event().await {
        match ev {
            Event::AssociateIndication(_) => {
                let _ = conn.accept(AcceptResponse::default()).await;
            }
            Event::ReleaseIndication => {
                let _ = conn.release_response(true).await;
            }
            _ => {}
        }
    }
}

fn given(t: &[u8], s: &[u8]) -> Candidate {
    let request = probe::mms_request().with_called_selectors(Some(tsel(t)), Some(ssel(s)), None);
    Candidate::association(format!("t {t:02x?} s {s:02x?}"), request)
}

fn options() -> Options {
    Options::default()
        .with_timeout(Duration::from_secs(5))
        .with_pause(Duration::ZERO)
}

#[tokio::test]
async fn the_probe_finds_both_services_of_a_listener_and_names_each_refusal() {
    let listener = Listener::bind("127.0.0.1:0", Config::default(), two_services())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(listener.serve(
        async {
            let _ = stopped.await;
        },
        accept_all,
    ));
    let candidates = vec![
        given(&[0, 1], &[0, 9]),
        given(&[0, 2], &[0, 9]),
        given(&[0, 2], &[0, 2]),
        given(&[0, 3], &[0, 2]),
        given(&[0, 3], &[0, 9]), // left out: T-selector 0003 was refused already
    ];
    let mut seen = 0;
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        probe::run(addr, candidates, options(), |_| seen += 1),
    )
    .await
    .expect("the probe did not end");
    assert_eq!(seen, 4);
    assert_eq!(report.attempts.len(), 4);
    assert_eq!(report.pruned, 1);
    let outcomes: Vec<&Outcome> = report.attempts.iter().map(|a| &a.outcome).collect();
    // Service a (any S-selector).
    assert!(
        matches!(outcomes[0], Outcome::Associated { contexts, .. } if contexts.iter().all(|c| c.accepted())),
        "{}",
        outcomes[0]
    );
    assert_eq!(report.attempts[0].reached, Reached::Association);
    // Service b refuses S-selector 0009 at the session layer: RF 0x81.
    match outcomes[1] {
        Outcome::Refused(r) => {
            assert_eq!(r.layer(), Layer::Session);
            assert_eq!(
                r.reason,
                RefusalReason::Session(RefuseReason::SELECTOR_UNKNOWN)
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(outcomes[1].code(), Some(0x81));
    assert_eq!(outcomes[1].to_string(), "rf 0x81: session selector unknown");
    assert_eq!(report.attempts[1].reached, Reached::Transport);
    assert!(outcomes[2].is_success());
    // T-selector 0003: DR "address unknown" at the transport layer.
    match outcomes[3] {
        Outcome::Refused(r) => assert_eq!(
            r.reason,
            RefusalReason::Transport(Disconnect::Dr(DisconnectReason::ADDRESS_UNKNOWN))
        ),
        other => panic!("{other}"),
    }
    assert_eq!(outcomes[3].layer(), Some(Layer::Cotp));
    assert_eq!(outcomes[3].code(), Some(3));
    let working: Vec<Option<&[u8]>> = report
        .working()
        .map(|c| c.request.called_tsel.as_ref().map(TSel::as_bytes))
        .collect();
    assert_eq!(working, [Some(&[0u8, 1][..]), Some(&[0u8, 2][..])]);

    // The IEC 61850 profile: its default selectors reach service a; without a T-selector no
    // service matches (DR).
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        probe::run(addr, Profile::Iec61850.candidates(), options(), |_| {}),
    )
    .await
    .unwrap();
    let results: Vec<(String, bool)> = report
        .attempts
        .iter()
        .map(|a| (a.candidate.label.clone(), a.outcome.is_success()))
        .collect();
    assert_eq!(
        results,
        [
            ("iec61850 defaults".to_owned(), true),
            ("iec61850 defaults without ap-titles".to_owned(), true),
            ("iec61850 without selectors".to_owned(), false),
            ("iec61850 t-selector 0001 only".to_owned(), true),
        ]
    );
    assert_eq!(report.attempts[2].outcome.layer(), Some(Layer::Cotp));

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve did not end")
        .unwrap()
        .unwrap();
}

/// A service behind a P-selector and an AP-title: a wrong P-selector is refused with a CPR, a
/// wrong AP-title with an AARE whose diagnostic says so.
#[tokio::test]
async fn refusals_by_presentation_and_acse_are_named() {
    let mut service = Service::new("c")
        .with_tsel(Selector::Is(tsel(&[0, 4])))
        .with_psel(Selector::Is(PSel::new(&[0, 0, 0, 4]).unwrap()));
    service.ap_title = Some("1.2.3.4".parse().unwrap());
    let listener = Listener::bind(
        "127.0.0.1:0",
        Config::default(),
        Dispatch::new(vec![service]),
    )
    .await
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(listener.serve(
        async {
            let _ = stopped.await;
        },
        accept_all,
    ));
    let with = |p: &[u8], title: &str| {
        let mut request = probe::mms_request().with_called_selectors(
            Some(tsel(&[0, 4])),
            None,
            Some(PSel::new(p).unwrap()),
        );
        request.called.ap_title = Some(title.parse().unwrap());
        Candidate::association(format!("p {p:02x?} {title}"), request)
    };
    let candidates = vec![
        with(&[0, 0, 0, 9], "1.2.3.4"),
        with(&[0, 0, 0, 4], "1.2.9.9"),
        with(&[0, 0, 0, 4], "1.2.3.4"),
    ];
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        probe::run(addr, candidates, options(), |_| {}),
    )
    .await
    .unwrap();
    let o: Vec<&Outcome> = report.attempts.iter().map(|a| &a.outcome).collect();
    assert_eq!(o[0].layer(), Some(Layer::Presentation), "{}", o[0]);
    assert!(
        matches!(o[0], Outcome::Refused(r) if matches!(r.reason, RefusalReason::Presentation(_))),
        "{}",
        o[0]
    );
    assert_eq!(o[1].layer(), Some(Layer::Acse), "{}", o[1]);
    match o[1] {
        Outcome::Refused(r) => match r.reason {
            RefusalReason::Acse { diagnostic, .. } => assert_eq!(
                diagnostic,
                AssociateSourceDiagnostic::User(UserDiagnostic::CALLED_AP_TITLE_NOT_RECOGNIZED)
            ),
            other => panic!("{other}"),
        },
        other => panic!("{other}"),
    }
    assert!(o[1].to_string().contains("called-ap-title"), "{}", o[1]);
    assert!(o[2].is_success(), "{}", o[2]);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_port_stops_the_probe_after_two_attempts() {
    // A port bound but not listening: connections are refused, and it stays reserved for the
    // whole test (a port bound and then closed could be taken by a listener of another test
    // running at the same time).
    let reserved =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    reserved
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    let addr = reserved.local_addr().unwrap().as_socket().unwrap();
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        probe::run(
            addr,
            probe::candidates(&Profile::ALL, Vec::new()),
            options(),
            |_| {},
        ),
    )
    .await
    .unwrap();
    assert_eq!(report.attempts.len(), 2);
    assert!(
        report
            .attempts
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Unreachable(_)) && a.reached == Reached::Nothing)
    );
    assert_eq!(report.attempts[0].outcome.layer_name(), "tcp");
    assert!(report.skipped > 10);
}

#[test]
fn the_sans_io_probe_is_bounded() {
    let all = probe::candidates(&Profile::ALL, Vec::new());
    assert!(all.len() > 20, "{}", all.len());
    let mut p = Probe::new(all.clone(), Options::default().with_max_attempts(3));
    let mut tried = Vec::new();
    while let Some(c) = p.next_candidate() {
        tried.push(c.label.clone());
        p.record(Outcome::Timeout, Duration::ZERO);
    }
    let report = p.finish();
    assert_eq!(tried.len(), 3);
    assert_eq!(report.skipped, all.len() - 3);
    // The S7 TSAPs: 0x0100 + rack × 32 + slot for PG, then OP and S7-basic.
    let tsaps = probe::s7_remote_tsaps();
    for t in [0x0100, 0x0101, 0x0102, 0x0200, 0x0300, 0x0120] {
        assert!(tsaps.contains(&t), "{t:#06x}");
    }
    let s7 = Profile::S7.candidates();
    assert!(s7.iter().all(|c| c.depth == Depth::Transport));
    assert_eq!(s7[2].describe(), "t 0102, calling t 0100");
    let x400 = Profile::X400.candidates();
    assert_eq!(
        x400[0].request.called_tsel.as_ref().map(TSel::as_bytes),
        Some(&b"MTA"[..])
    );
    assert_eq!(x400[0].request.application_context.to_string(), "2.6.0.1.6");
    assert_eq!(
        Profile::Iec61850.candidates()[0].describe(),
        "t 0001 s 0001 p 00000001 ap-title 1.1.1.999.1 ae 12"
    );
}

// -------------------------------------------------------------------------------------------
// Processes: `osi probe` against `osi listen`, and the real peers.

const LIMIT: Duration = Duration::from_secs(60);

/// A child process, killed by PID when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (bounded) until something accepts TCP on `port`.
fn wait_listening(p: &mut Proc, port: u16, what: &str) {
    for _ in 0..100 {
        if let Some(status) = p.0.try_wait().unwrap() {
            panic!("{what} exited before listening: {status}");
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port}");
}

#[cfg(feature = "cli")]
/// Runs `osi probe 127.0.0.1:PORT ARGS --format json` (bounded) and returns its exit code
/// and records.
fn osi_probe(port: u16, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_osi"))
        .arg("probe")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .args(["--format", "json", "--timeout", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start osi probe");
    let stdout = child.stdout.take().unwrap();
    let mut p = Proc(child);
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let mut stdout = stdout;
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        assert!(start.elapsed() < LIMIT, "osi probe did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().unwrap();
    let records = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    (code, records)
}

#[cfg(feature = "cli")]
fn attempts(records: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    records.iter().filter(|r| r["event"] == "attempt").collect()
}

#[cfg(feature = "cli")]
#[test]
fn osi_probe_finds_both_services_of_osi_listen() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_osi"))
        .args(["listen", &format!("127.0.0.1:{port}")])
        .args(["--service", "a:0001:*:*", "--service", "b:0002:0002:*"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start osi listen");
    let mut listen = Proc(child);
    wait_listening(&mut listen, port, "osi listen");
    let (code, records) = osi_probe(
        port,
        &[
            "--tsel", "0001", "--tsel", "0002", "--tsel", "0003", "--ssel", "0002", "--ssel",
            "0009",
        ],
    );
    assert_eq!(code, 0, "{records:?}");
    let a = attempts(&records);
    let row = |r: &serde_json::Value| {
        (
            r["selectors"]["called_tsel"].as_str().unwrap().to_owned(),
            r["selectors"]["called_ssel"].as_str().unwrap().to_owned(),
            r["result"].as_str().unwrap().to_owned(),
            r["layer"].as_str().unwrap_or("").to_owned(),
            r["code"].as_i64(),
        )
    };
    let rows: Vec<_> = a.iter().map(|r| row(r)).collect();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        rows,
        [
            (s("0001"), s("0002"), s("ok"), s(""), None),
            (s("0001"), s("0009"), s("ok"), s(""), None),
            (s("0002"), s("0002"), s("ok"), s(""), None),
            (s("0002"), s("0009"), s("refused"), s("session"), Some(0x81)),
            (s("0003"), s("0002"), s("refused"), s("transport"), Some(3)),
        ]
    );
    assert_eq!(a[3]["reason"], "rf 0x81: session selector unknown");
    assert_eq!(a[4]["reason"], "dr 0x03: address unknown");
    let summary = records.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["pruned"], 1);
    let working: Vec<&str> = summary["working"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["selectors"]["called_tsel"].as_str().unwrap())
        .collect();
    assert_eq!(working, ["0001", "0001", "0002"]);

    // No set works: exit status 1.
    let (code, _) = osi_probe(port, &["--tsel", "0009"]);
    assert_eq!(code, 1);

    // Transport only (CR / CC): the T-selectors alone.
    let (code, records) = osi_probe(
        port,
        &["--transport-only", "--tsel", "0002", "--tsel", "0003"],
    );
    assert_eq!(code, 0);
    let a = attempts(&records);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["depth"], "transport");
    assert_eq!(a[0]["result"], "ok");
    assert_eq!(a[0]["reason"], "transport connected (tpdu size 8192)");
    assert_eq!(a[1]["result"], "refused");
    assert_eq!(a[1]["layer"], "transport");
    assert_eq!(a[1]["code"], 3);
}

/// The peers' Python; panics (failing the test) when there is none.
fn python() -> PathBuf {
    const WHY: &str = "no peer python: run `bash .ci/peers.sh` (or set OSI_PEER_PYTHON)";
    if let Some(p) = std::env::var_os("OSI_PEER_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "OSI_PEER_PYTHON={} does not exist: {WHY}",
            p.display()
        );
        return p;
    }
    let home = std::env::var_os("HOME").expect(WHY);
    let p = PathBuf::from(home).join(".cache/osi-stack-peers/venv/bin/python");
    assert!(p.exists(), "{WHY}");
    p
}

/// Starts `tests/peers/<script> PORT ARGS`; panics when it cannot.
fn peer(script: &str, args: &[&str]) -> (Proc, u16) {
    let python = python();
    let port = free_port();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    let child = Command::new(&python)
        .arg(dir.join(script))
        .arg(port.to_string())
        .args(args)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {script} with {}: {e}", python.display()));
    let mut p = Proc(child);
    wait_listening(&mut p, port, script);
    (p, port)
}

/// python-snap7 answering only TSAP 0102 (rack 0, slot 2): the S7 profile finds that one
/// set and reports every other TSAP as refused at the transport layer (closed after the CR).
///
/// python-snap7 itself (3.3.0, the latest release) cannot be started with a TSAP of its own:
/// its server parses the CR's TSAPs only to copy them into the CC, and `Server.set_param`
/// takes no TSAP. `tests/peers/snap7_tsap_server.py` therefore wraps that CR parsing to refuse
/// the other TSAPs, as a CPU does.
#[test]
#[ignore = "needs python-snap7/libiec61850 peers: run with .ci/peers.sh + --ignored"]
fn the_s7_profile_finds_the_one_tsap_of_a_snap7_server() {
    let (_peer, port) = peer("snap7_tsap_server.py", &["0102"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let report = rt.block_on(async {
        tokio::time::timeout(
            LIMIT,
            probe::run(addr, Profile::S7.candidates(), options(), |_| {}),
        )
        .await
        .unwrap()
    });
    assert_eq!(report.attempts.len(), Profile::S7.candidates().len());
    let working: Vec<&str> = report.working().map(|c| c.label.as_str()).collect();
    assert_eq!(working, ["s7 pg rack 0 slot 2"]);
    for a in report.attempts.iter().filter(|a| !a.outcome.is_success()) {
        assert_eq!(
            a.outcome,
            Outcome::Closed {
                after: Reached::Tcp
            },
            "{a}"
        );
        assert_eq!(a.outcome.layer(), Some(Layer::Cotp));
    }
    let ok = report
        .attempts
        .iter()
        .find(|a| a.outcome.is_success())
        .unwrap();
    assert_eq!(ok.outcome, Outcome::TransportConnected { tpdu_size: 8192 });
}

/// libiec61850's MMS server (which accepts any selectors: its `IsoServer` keeps no local
/// selectors and `IedServer` offers `setLocalIpAddress` only, in pyiec61850-ng 1.6.1.10, the
/// latest, as in libiec61850's sources): the IEC 61850 profile and a given non-default set
/// associate, so no refusal by selector can be shown with it; the X.400 sets are
/// refused silently above the transport (the server closes after an AARQ without an MMS
/// initiate-request).
#[cfg(feature = "cli")]
#[test]
#[ignore = "needs python-snap7/libiec61850 peers: run with .ci/peers.sh + --ignored"]
fn osi_probe_finds_the_working_sets_of_libiec61850() {
    let (_peer, port) = peer("iec61850_server.py", &[]);
    let (code, records) = osi_probe(
        port,
        &[
            "--profile",
            "iec61850",
            "--profile",
            "x400",
            "--tsel",
            "0042",
            "--ssel",
            "0043",
            "--psel",
            "00000044",
        ],
    );
    assert_eq!(code, 0, "{records:?}");
    let a = attempts(&records);
    let n_iec = Profile::Iec61850.candidates().len();
    let n_x400 = Profile::X400.candidates().len();
    assert_eq!(a.len(), n_iec + n_x400 + 1);
    for r in &a[..n_iec] {
        assert_eq!(r["result"], "ok", "{r}");
    }
    for r in &a[n_iec..n_iec + n_x400] {
        assert_eq!(r["profile"], "x400");
        assert_eq!(r["result"], "refused", "{r}");
        assert_eq!(r["layer"], "upper", "{r}");
    }
    let last = a.last().unwrap();
    assert_eq!(last["result"], "ok", "{last}");
    assert_eq!(last["selectors"]["called_psel"], "00000044");
    let summary = records.last().unwrap();
    assert_eq!(
        summary["working"].as_array().unwrap().len(),
        n_iec + 1,
        "{summary}"
    );
}
