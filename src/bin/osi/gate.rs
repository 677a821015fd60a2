//! The service limits for the listen modes that run their own machine instead of the library's
//! `Listener` (`--transport-only`, `--rtse`): caps on open connections in total and per peer
//! address, and a back-off after a failed `accept` (EMFILE, ENFILE, ECONNABORTED …) so that
//! running out of descriptors does not become a busy loop. The limits are the same
//! `ListenerConfig` the association mode uses.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use osi_stack::tokio::ListenerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::events::Record;

/// Open connections, in total and per peer address.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// Admits connections under the caps and backs off after failed accepts.
#[derive(Debug)]
pub struct Gate {
    limits: ListenerConfig,
    open: Arc<Mutex<Open>>,
    backoff: Duration,
    retry_at: Option<Instant>,
}

/// A connection admitted by the gate; dropping it (when the connection's task ends) frees its
/// place.
#[derive(Debug)]
pub struct Permit {
    open: Arc<Mutex<Open>>,
    peer: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut o) = self.open.lock() {
            o.total = o.total.saturating_sub(1);
            if let Some(n) = o.per_peer.get_mut(&self.peer) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    o.per_peer.remove(&self.peer);
                }
            }
        }
    }
}

/// What one call of [`Gate::accept`] gives.
pub enum Admission {
    /// A connection to serve while `Permit` lives.
    Admitted(TcpStream, SocketAddr, Permit),
    /// A connection over a cap, closed at once: report it.
    Shed(Record),
    /// `accept` failed; the next call waits `retry_in` first: report it.
    Failed(Record),
}

impl Gate {
    /// A gate with the caps and back-off of `limits`.
    pub fn new(limits: ListenerConfig) -> Self {
        Gate {
            limits,
            open: Arc::default(),
            backoff: Duration::ZERO,
            retry_at: None,
        }
    }

    /// The next connection, shed connection or accept failure. Cancel safe: a pending back-off
    /// is kept for the next call, and `TcpListener::accept` is cancel safe.
    pub async fn accept(&mut self, listener: &TcpListener) -> Admission {
        if let Some(t) = self.retry_at {
            tokio::time::sleep_until(t).await;
            self.retry_at = None;
        }
        match listener.accept().await {
            Ok((stream, peer)) => {
                self.backoff = Duration::ZERO;
                self.admit(stream, peer)
            }
            Err(e) => Admission::Failed(self.failed(&e)),
        }
    }

    fn failed(&mut self, e: &io::Error) -> Record {
        self.backoff = self
            .backoff
            .saturating_mul(2)
            .max(self.limits.accept_backoff)
            .min(self.limits.accept_backoff_max);
        self.retry_at = Instant::now().checked_add(self.backoff);
        Record::error(
            "tcp",
            format!("accept: {e} (retrying in {} ms)", self.backoff.as_millis()),
        )
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) -> Admission {
        let ip = peer.ip();
        let refused = match self.open.lock() {
            Ok(mut o) => {
                let from_peer = o.per_peer.get(&ip).copied().unwrap_or(0);
                if o.total >= self.limits.max_connections {
                    Some("max-connections")
                } else if from_peer >= self.limits.max_connections_per_peer {
                    Some("max-connections-per-peer")
                } else {
                    o.total = o.total.saturating_add(1);
                    o.per_peer.insert(ip, from_peer.saturating_add(1));
                    None
                }
            }
            Err(_) => Some("internal"),
        };
        if let Some(reason) = refused {
            drop(stream);
            let mut r = Record::new(
                "shed",
                format!("connection from {peer} closed at once: {reason}"),
            );
            r.obj.set("reason", reason);
            r.obj.set("peer", peer.to_string());
            return Admission::Shed(r);
        }
        let _ = stream.set_nodelay(self.limits.nodelay);
        Admission::Admitted(
            stream,
            peer,
            Permit {
                open: Arc::clone(&self.open),
                peer: ip,
            },
        )
    }
}
