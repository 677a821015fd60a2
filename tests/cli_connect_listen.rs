//! `osi connect` against `osi listen` on loopback, both as processes: two services on one port
//! told apart by T-selector with echoed P-DATA, a third selector refused with DR "address
//! unknown", the calling-address policy with `--bind`, an abort, and usage errors.
//!
//! Every wait is bounded; every child process is killed by PID when its guard is dropped, on
//! every path (panics included).

#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::Value;

/// How long any one process may take before the test gives up on it.
const LIMIT: Duration = Duration::from_secs(30);
/// Polls of `try_wait` within `LIMIT`.
const POLLS: u32 = 600;

/// A child process, killed by PID when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Waits (bounded) for the process to exit; its exit code.
    fn exit_code(&mut self, what: &str) -> i32 {
        for _ in 0..POLLS {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                let code = status.code().expect("an exit code, not a signal");
                assert_ne!(code, 101, "{what} panicked");
                return code;
            }
            std::thread::sleep(LIMIT / POLLS);
        }
        panic!("{what} did not exit within {LIMIT:?}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind port 0")
        .local_addr()
        .expect("local address")
        .port()
}

fn osi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_osi"))
}

/// Lines of a child's stdout, read on a thread.
fn lines(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Every remaining line of an exited process (bounded: its stdout is at end of file).
fn drain(lines: &Receiver<String>) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        match lines.recv_timeout(LIMIT) {
            Ok(l) => all.push(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => return all,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("stdout still open after exit"),
        }
    }
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"))
}

fn event(v: &Value) -> &str {
    v["event"].as_str().unwrap_or_default()
}

/// A running `osi listen … --format json`, ready (its `listening` line was read).
struct Listen {
    proc: Proc,
    lines: Receiver<String>,
    port: u16,
}

fn listen(args: &[&str]) -> Listen {
    let port = free_port();
    let mut child = osi()
        .arg("listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start osi listen");
    let stdout = child.stdout.take().expect("piped stdout");
    let proc = Proc(child);
    let lines = lines(stdout);
    let first = lines
        .recv_timeout(LIMIT)
        .expect("osi listen printed nothing");
    let first = json(&first);
    assert_eq!(event(&first), "listening", "{first}");
    assert_eq!(first["address"], format!("127.0.0.1:{port}"));
    Listen { proc, lines, port }
}

impl Listen {
    /// Waits for the listener to exit (after --max-associations); its exit code and records.
    fn finish(mut self) -> (i32, Vec<Value>) {
        let code = self.proc.exit_code("osi listen");
        let records = drain(&self.lines).iter().map(|l| json(l)).collect();
        (code, records)
    }
}

/// The result of one `osi connect`.
struct Run {
    code: i32,
    records: Vec<Value>,
    stderr: String,
}

impl Run {
    fn events(&self) -> Vec<&str> {
        self.records.iter().map(event).collect()
    }
}

fn run(args: &[String]) -> Run {
    let mut child = osi()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start osi");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let mut proc = Proc(child);
    let out = lines(stdout);
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let code = proc.exit_code(&format!("osi {args:?}"));
    let stderr = err.join().expect("stderr reader");
    let json_output = args.iter().any(|a| a == "json");
    let records = drain(&out)
        .into_iter()
        .map(|l| {
            if json_output {
                json(&l)
            } else {
                Value::String(l)
            }
        })
        .collect();
    Run {
        code,
        records,
        stderr,
    }
}

fn connect(port: u16, args: &[&str]) -> Run {
    let mut all = vec![
        "connect".to_owned(),
        format!("127.0.0.1:{port}"),
        "--format".to_owned(),
        "json".to_owned(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run(&all)
}

/// The records of association `n` of a listener.
fn of(records: &[Value], n: u64) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["association"].as_u64() == Some(n))
        .collect()
}

/// MMS getNameList (domains) and identify requests, from the libiec61850 transcript.
const GET_NAME_LIST: &str = "a00e020101a109a003800109a1028000";
const IDENTIFY: &str = "a0050201028200";

#[test]
fn two_services_on_one_port_echo_and_a_third_selector_refused() {
    let l = listen(&[
        "--service",
        "a:41:-:-",
        "--service",
        "b:42:-:-",
        "--echo",
        "--log-data",
        "hex",
        "--max-associations",
        "3",
    ]);
    for (tsel, value) in [("41", GET_NAME_LIST), ("42", IDENTIFY)] {
        let send = format!("3={value}");
        let r = connect(l.port, &["--called-tsel", tsel, "--send", &send]);
        assert_eq!(r.code, 0, "tsel {tsel}: {}", r.stderr);
        assert_eq!(
            r.events(),
            ["transport-connected", "associated", "data", "released"],
            "{:?}",
            r.records
        );
        assert_eq!(r.records[0]["tpdu_size"], 8192);
        assert_eq!(r.records[1]["result"], 0);
        let contexts = r.records[1]["contexts"].as_array().expect("contexts");
        assert_eq!(contexts.len(), 2);
        assert_eq!(contexts[1]["id"], 3);
        assert_eq!(contexts[1]["abstract_syntax"], "1.0.9506.2.1");
        assert_eq!(contexts[1]["result"], 0);
        assert_eq!(r.records[2]["context"], 3);
        assert_eq!(r.records[2]["data"], value);
    }
    let r = connect(l.port, &["--called-tsel", "43"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.events(), ["refused"], "{:?}", r.records);
    assert_eq!(r.records[0]["layer"], "transport");
    assert_eq!(r.records[0]["code"], 3);
    assert!(r.stderr.contains("address unknown"), "{}", r.stderr);

    let (code, records) = l.finish();
    assert_eq!(code, 0);
    for (n, service, value) in [(1, "a", GET_NAME_LIST), (2, "b", IDENTIFY)] {
        let recs = of(&records, n);
        let events: Vec<&str> = recs.iter().map(|r| event(r)).collect();
        assert_eq!(
            events,
            ["transport-connected", "associated", "data", "released"],
            "{recs:?}"
        );
        for r in &recs[1..] {
            assert_eq!(r["service"], service, "{r}");
        }
        assert_eq!(recs[1]["called_tsel"], if n == 1 { "41" } else { "42" });
        assert_eq!(recs[2]["data"], value);
    }
    let third = of(&records, 3);
    assert_eq!(third.len(), 1, "{third:?}");
    assert_eq!(event(third[0]), "rejected");
    assert_eq!(third[0]["layer"], "transport");
    assert_eq!(third[0]["selector"], "43");
    assert_eq!(third[0]["code"], 3);
    assert!(third[0].get("service").is_none());
    let reason = third[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("43") && reason.contains("a=41, b=42"),
        "{reason}"
    );
}

#[test]
fn calling_address_policy_bind_and_abort() {
    let l = listen(&[
        "--service",
        "a:*:*:*",
        "--allow-calling",
        "a=127.0.0.1",
        "--accept-user-info",
        "0201ff",
        "--max-associations",
        "3",
    ]);
    let r = connect(l.port, &["--bind", "127.0.0.2"]);
    assert_eq!(r.code, 1, "{:?}", r.records);
    assert_eq!(r.events(), ["refused"]);
    assert_eq!(r.records[0]["layer"], "transport");

    let r = connect(l.port, &["--bind", "127.0.0.1", "--release"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.events(),
        ["transport-connected", "associated", "released"],
        "{:?}",
        r.records
    );
    assert_eq!(r.records[1]["user_info"], "0201ff");

    let r = connect(l.port, &["--bind", "127.0.0.1", "--abort"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.events(),
        ["transport-connected", "associated", "aborted"],
        "{:?}",
        r.records
    );
    assert_eq!(r.records[2]["source"], "local-user");

    let (code, records) = l.finish();
    assert_eq!(code, 0);
    let first = of(&records, 1);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(event(first[0]), "rejected");
    assert_eq!(first[0]["layer"], "transport");
    let reason = first[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("127.0.0.2") && reason.contains("a=127.0.0.1"),
        "{reason}"
    );
    let second: Vec<&str> = of(&records, 2).into_iter().map(event).collect();
    assert_eq!(second, ["transport-connected", "associated", "released"]);
    let third = of(&records, 3);
    let last = third.last().expect("records of the third association");
    assert_eq!(event(last), "aborted");
    assert_eq!(last["source"], "peer-user");
    assert_eq!(last["service"], "a");
}

#[test]
fn a_send_without_an_answer_times_out_then_releases() {
    // No --echo: the P-DATA gets no answer; connect reports the time-out, still releases, and
    // fails.
    let l = listen(&["--max-associations", "1"]);
    let r = connect(l.port, &["--send", "3=0500", "--timeout", "0.5"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.events(),
        ["transport-connected", "associated", "error", "released"],
        "{:?}",
        r.records
    );
    assert_eq!(r.records[2]["layer"], "presentation");
    let (code, records) = l.finish();
    assert_eq!(code, 0);
    assert!(records.iter().any(|r| event(r) == "data"));
}

#[test]
fn unreachable_peer_and_usage_errors() {
    // Nothing listens on a port just freed: exit 1 with an error record.
    let r = connect(free_port(), &["--timeout", "5"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.events(), ["error"]);
    assert_eq!(r.records[0]["layer"], "tcp");

    let usage: [&[&str]; 9] = [
        &["connect"],
        &["connect", "127.0.0.1:102", "--called-tsel", "4"],
        &["connect", "127.0.0.1:102", "--context", "2=1.0.9506.2.1"],
        &["connect", "127.0.0.1:102", "--send", "5=00"],
        &["connect", "127.0.0.1:102", "--release", "--abort"],
        &["connect", "127.0.0.1:102", "--timeout", "-1"],
        &["listen", "127.0.0.1:0", "--service", "a:41"],
        &["listen", "127.0.0.1:0", "--allow-calling", "b=127.0.0.1"],
        &["listen", "127.0.0.1:0", "--max-associations", "0"],
    ];
    for args in usage {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty());
    }
}
