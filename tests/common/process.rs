//! Child processes of the tests: the real peers (`tests/peers/*.py`, run by the Python that
//! `.ci/peers.sh` installs) and the `osi` binary. Every wait has a deadline; a process is
//! killed by PID when its [`Process`] is dropped, whatever the test's outcome.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to start listening.
pub const LISTEN_DEADLINE: Duration = Duration::from_secs(10);

/// A child process, killed by PID (and reaped) when dropped.
#[derive(Debug)]
pub struct Process {
    /// The process.
    pub child: Child,
    /// The loopback port it listens on (0 when it does not listen).
    pub port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts `command`; panics (failing the test) when it cannot.
    pub fn spawn(command: &mut Command, what: &str) -> Process {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Process { child, port: 0 }
    }

    /// Waits until something accepts TCP on 127.0.0.1:`port`, at most [`LISTEN_DEADLINE`];
    /// panics when the process exits first or the deadline passes.
    pub fn wait_listening(&mut self, port: u16, what: &str) {
        self.port = port;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + LISTEN_DEADLINE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{what} exited before listening: {status}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{what} did not listen on {addr} within {LISTEN_DEADLINE:?}");
    }

    /// Waits for the process to exit, at most `limit`; panics when it does not.
    pub fn wait(&mut self, limit: Duration, what: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The peers' Python: `OSI_PEER_PYTHON`, or the venv `.ci/peers.sh` makes; panics (failing the
/// test) when there is none, so that a peer test never passes without its peer.
pub fn python() -> PathBuf {
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

/// The directory of the peer scripts.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Starts `tests/peers/<script> PORT ARGS` on a free loopback port (in that directory, stdout
/// discarded) and waits until it listens.
pub fn peer(script: &str, args: &[&str]) -> Process {
    let python = python();
    let port = free_port();
    let dir = peers_dir();
    let mut p = Process::spawn(
        Command::new(&python)
            .arg(dir.join(script))
            .arg(port.to_string())
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
        &format!("{script} with {}", python.display()),
    );
    p.wait_listening(port, script);
    p
}
