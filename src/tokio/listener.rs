//! [`Listener`]: accepts transport connections within the service limits of a
//! [`ListenerConfig`] and gives each a responder [`Connection`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use ::tokio::task::JoinSet;

use crate::association::{Association, Config, Dispatch};

use super::connection::{Connection, MemoryBudget, Timers};

/// The service limits of a [`Listener`] (`osi listen`'s "service limits"). A listener on port
/// 102 faces the open network: every limit is on by default.
///
/// ```
/// use std::time::Duration;
/// use osi_stack::tokio::ListenerConfig;
/// let limits = ListenerConfig::default()
///     .with_max_connections(100)
///     .with_idle_timeout(Some(Duration::from_secs(60)));
/// assert_eq!(limits.max_connections_per_peer, 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Open connections at once. Beyond it a connection is accepted and closed at once
    /// ([`Incoming::Shed`]). Default 1024.
    pub max_connections: usize,
    /// Open connections from one peer IP address. Default 64.
    pub max_connections_per_peer: usize,
    /// From TCP accept to an accepted association (TLS handshake included). Default 30 s.
    pub connect_timeout: Option<Duration>,
    /// An association with no octet either way for this long is aborted. Default 300 s.
    pub idle_timeout: Option<Duration>,
    /// A started frame or TSDU not completed (the association's
    /// [`Config::receive_timeout`]), or output the peer does not read, for this long: abort.
    /// Default 30 s.
    pub io_timeout: Option<Duration>,
    /// Largest TSDU, SSDU and so P-DATA accepted ([`crate::Limits::max_tsdu`] and
    /// [`crate::Limits::max_ssdu`]). Default 1 MiB.
    pub max_message: usize,
    /// Octets of input being reassembled and output not read by the peers, all connections
    /// together; a connection that would exceed it is aborted, and new connections are shed
    /// while it is exhausted. Default 256 MiB.
    pub memory_budget: usize,
    /// TCP keep-alive on accepted sockets: idle time before the first probe. Default 60 s.
    pub keepalive: Option<Duration>,
    /// TCP_NODELAY on accepted sockets (a failure is logged, not fatal). Default true.
    pub nodelay: bool,
    /// First wait after a failed `accept` (EMFILE, ENFILE, ECONNABORTED …); doubled after each
    /// further failure up to [`ListenerConfig::accept_backoff_max`]. Default 10 ms.
    pub accept_backoff: Duration,
    /// Longest wait after failed `accept`s. Default 1 s.
    pub accept_backoff_max: Duration,
    /// X.225's TIM ([`Config::disconnect_wait`]): after sending DN, AB or RF, how long a
    /// connection waits for the peer to close the transport before closing it here (what an
    /// X.400 connector calls "disconnect"). `None` (default): the association [`Config`]'s
    /// own (5 s by default).
    pub disconnect_wait: Option<Duration>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            max_connections: 1024,
            max_connections_per_peer: 64,
            connect_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(300)),
            io_timeout: Some(Duration::from_secs(30)),
            max_message: 1 << 20,
            memory_budget: 256 << 20,
            keepalive: Some(Duration::from_secs(60)),
            nodelay: true,
            accept_backoff: Duration::from_millis(10),
            accept_backoff_max: Duration::from_secs(1),
            disconnect_wait: None,
        }
    }
}

impl ListenerConfig {
    /// With another cap on open connections.
    #[must_use]
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// With another cap on open connections per peer IP address.
    #[must_use]
    pub fn with_max_connections_per_peer(mut self, n: usize) -> Self {
        self.max_connections_per_peer = n;
        self
    }

    /// With another connect timer.
    #[must_use]
    pub fn with_connect_timeout(mut self, t: Option<Duration>) -> Self {
        self.connect_timeout = t;
        self
    }

    /// With another idle timer.
    #[must_use]
    pub fn with_idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.idle_timeout = t;
        self
    }

    /// With another io timer.
    #[must_use]
    pub fn with_io_timeout(mut self, t: Option<Duration>) -> Self {
        self.io_timeout = t;
        self
    }

    /// With another largest message.
    #[must_use]
    pub fn with_max_message(mut self, octets: usize) -> Self {
        self.max_message = octets;
        self
    }

    /// With another memory budget.
    #[must_use]
    pub fn with_memory_budget(mut self, octets: usize) -> Self {
        self.memory_budget = octets;
        self
    }

    /// With another keep-alive time (`None`: no keep-alive).
    #[must_use]
    pub fn with_keepalive(mut self, t: Option<Duration>) -> Self {
        self.keepalive = t;
        self
    }

    /// With another X.225 TIM (`None`: the association [`Config`]'s own).
    #[must_use]
    pub fn with_disconnect_wait(mut self, wait: Option<Duration>) -> Self {
        self.disconnect_wait = wait;
        self
    }

    /// The timers each connection gets.
    pub fn timers(&self) -> Timers {
        Timers::NONE
            .with_connect(self.connect_timeout)
            .with_idle(self.idle_timeout)
            .with_io(self.io_timeout)
    }

    /// A transport-only service's `config` (COTP class 0 without the layers above) with these
    /// limits applied: largest TSDU, the connect timer as the wait for the CR, the io timer
    /// as the receive time-out.
    pub fn apply_transport(
        &self,
        config: crate::cotp::connection::Config,
    ) -> crate::cotp::connection::Config {
        let limits = config.limits.with_max_tsdu(self.max_message);
        let connect = self.connect_timeout.unwrap_or(config.connect_timeout);
        config
            .with_limits(limits)
            .with_timeouts(connect, self.io_timeout)
    }

    /// `config` with these limits applied: largest TSDU and SSDU, receive time-out, and
    /// X.225's TIM when [`ListenerConfig::disconnect_wait`] is set.
    ///
    /// The association's own [`Config::idle_lifetime`] (an orderly release after no data) is
    /// left as it is (off by default): the listener's protection against idle peers is
    /// [`ListenerConfig::idle_timeout`] (on by default, 300 s, as `osi listen`'s contract
    /// says), which aborts; releasing idle associations is an application's policy (an MMS
    /// client may poll once an hour), and an RTS responder may not release at all (X.228:
    /// only the association-initiator issues RT-CLOSE).
    pub fn apply(&self, config: Config) -> Config {
        let limits = config
            .limits
            .with_max_tsdu(self.max_message)
            .with_max_ssdu(self.max_message);
        let user = config.user_timeout.or(Some(Duration::from_secs(30)));
        let wait = self.disconnect_wait.unwrap_or(config.disconnect_wait);
        config
            .with_limits(limits)
            .with_user_and_receive_timeouts(user, self.io_timeout)
            .with_disconnect_wait(wait)
    }
}

/// Why a connection was shed (accepted and closed at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShedReason {
    /// [`ListenerConfig::max_connections`].
    MaxConnections,
    /// [`ListenerConfig::max_connections_per_peer`].
    PerPeer,
    /// The [`ListenerConfig::memory_budget`] is used up.
    Memory,
}

impl ShedReason {
    /// `max-connections`, `per-peer`, `memory` (the `reason` of `osi listen`'s `shed` event).
    pub const fn name(self) -> &'static str {
        match self {
            ShedReason::MaxConnections => "max-connections",
            ShedReason::PerPeer => "per-peer",
            ShedReason::Memory => "memory",
        }
    }
}

/// The open connections of a listener, in total and per peer IP address.
#[derive(Debug, Default)]
struct Slots {
    total: AtomicUsize,
    per_peer: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection's place under the connection caps; given back when dropped (keep it as
/// long as the connection runs).
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.total.fetch_sub(1, Ordering::AcqRel);
        if let Ok(mut map) = self.slots.per_peer.lock() {
            if let Some(n) = map.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&self.ip);
                }
            }
        }
    }
}

impl Slots {
    fn take(self: &Arc<Self>, ip: IpAddr, cfg: &ListenerConfig) -> Result<Slot, ShedReason> {
        if self
            .total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cfg.max_connections).then(|| n.saturating_add(1))
            })
            .is_err()
        {
            return Err(ShedReason::MaxConnections);
        }
        let Ok(mut map) = self.per_peer.lock() else {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(ShedReason::PerPeer);
        };
        let n = map.entry(ip).or_insert(0);
        if *n >= cfg.max_connections_per_peer {
            drop(map);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(ShedReason::PerPeer);
        }
        *n = n.saturating_add(1);
        Ok(Slot {
            slots: Arc::clone(self),
            ip,
        })
    }
}

/// Admission of TCP connections under a [`ListenerConfig`]'s connection caps (in total and
/// per peer address), with the back-off after a failed `accept` (EMFILE, ENFILE,
/// ECONNABORTED …) and the socket options (TCP_NODELAY, keep-alive). [`Listener`] and
/// [`RtsListener`](super::rts::RtsListener) accept through one; an owner that runs another
/// machine on the connections (a transport-only service) uses one directly, with a
/// [`ConnectionLimits`](super::ConnectionLimits) per connection.
#[derive(Debug)]
pub struct AcceptGate {
    limits: ListenerConfig,
    slots: Arc<Slots>,
    backoff: Duration,
    retry_at: Option<Instant>,
}

/// What [`AcceptGate::accept`] gives.
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// A connection within the caps; keep `slot` while it runs.
    Admitted {
        /// The connection.
        stream: TcpStream,
        /// The peer.
        peer: SocketAddr,
        /// Its place under the caps.
        slot: Slot,
    },
    /// A connection over a cap, closed at once.
    Shed {
        /// The peer.
        peer: SocketAddr,
        /// Which cap.
        reason: ShedReason,
    },
    /// `accept` failed; the next call waits `retry_in` first.
    Error {
        /// The error.
        error: io::Error,
        /// The back-off before the next `accept`.
        retry_in: Duration,
    },
}

impl AcceptGate {
    /// A gate with the caps, back-off and socket options of `limits` (the memory budget is the
    /// owner's: [`Listener`] sheds connections while it is used up).
    pub fn new(limits: ListenerConfig) -> Self {
        AcceptGate {
            limits,
            slots: Arc::default(),
            backoff: Duration::ZERO,
            retry_at: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ListenerConfig {
        &self.limits
    }

    /// Open connections now (slots not yet given back).
    pub fn open_connections(&self) -> usize {
        self.slots.total.load(Ordering::Acquire)
    }

    /// Accepts the next connection from `listener`: within the caps (TCP_NODELAY and
    /// keep-alive set, failures logged), over a cap (closed at once), or a failed `accept`
    /// (after which the next call first waits, 10 ms doubling up to 1 s by default).
    ///
    /// Cancel safety: cancel safe (the back-off is remembered; `accept` is cancel safe).
    pub async fn accept(&mut self, listener: &TcpListener) -> Admission {
        if let Some(at) = self.retry_at {
            ::tokio::time::sleep_until(at.into()).await;
            self.retry_at = None;
        }
        let (stream, peer) = match listener.accept().await {
            Ok(ok) => ok,
            Err(error) => {
                self.backoff = (self.backoff.saturating_mul(2))
                    .max(self.limits.accept_backoff)
                    .min(self.limits.accept_backoff_max);
                self.retry_at = Instant::now().checked_add(self.backoff);
                super::trace::warn!(%error, retry_in = ?self.backoff, "accept failed");
                return Admission::Error {
                    error,
                    retry_in: self.backoff,
                };
            }
        };
        self.backoff = Duration::ZERO;
        let slot = match self.slots.take(peer.ip(), &self.limits) {
            Ok(s) => s,
            Err(reason) => {
                super::trace::info!(%peer, reason = reason.name(), "connection shed");
                drop(stream);
                return Admission::Shed { peer, reason };
            }
        };
        if let Err(_e) = stream.set_nodelay(self.limits.nodelay) {
            super::trace::warn!(%peer, error = %_e, "set_nodelay failed");
        }
        if let Some(time) = self.limits.keepalive {
            let ka = socket2::TcpKeepalive::new().with_time(time);
            if let Err(_e) = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka) {
                super::trace::warn!(%peer, error = %_e, "setting tcp keep-alive failed");
            }
        }
        Admission::Admitted { stream, peer, slot }
    }
}

/// What [`Listener::next_incoming`] saw.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// A connection within the limits, to be run (in its own task).
    Accepted(Box<Accepted>),
    /// A connection over a limit, closed at once.
    Shed {
        /// The peer.
        peer: SocketAddr,
        /// The limit.
        reason: ShedReason,
    },
    /// `accept` failed (descriptors exhausted, connection aborted …). The listener waits
    /// `retry_in` before accepting again; it never gives up.
    Error {
        /// The failure.
        error: io::Error,
        /// The back-off before the next attempt.
        retry_in: Duration,
    },
}

/// An accepted TCP connection with its responder, before it becomes a [`Connection`]
/// (plain with [`Accepted::into_connection`], or over another stream with
/// [`Accepted::upgrade`], e.g. TLS). Holds its place in the connection caps until dropped.
#[derive(Debug)]
pub struct Accepted {
    stream: TcpStream,
    peer: SocketAddr,
    association: Association,
    timers: Timers,
    budget: MemoryBudget,
    slot: Slot,
    at: Instant,
}

impl Accepted {
    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The connection over the TCP stream itself.
    pub fn into_connection(self) -> Connection<TcpStream> {
        Connection::new(self.stream, self.association)
            .with_slot(self.slot, self.at)
            .with_timers(self.timers)
            .with_budget(self.budget)
            .with_peer_addr(Some(self.peer))
    }

    /// The connection over the stream `upgrade` makes of the TCP stream (a TLS handshake),
    /// within what is left of the connect timer.
    ///
    /// Cancel safety: cancel safe; the connection is dropped.
    pub async fn upgrade<S, U, F>(self, upgrade: U) -> io::Result<Connection<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
        U: FnOnce(TcpStream) -> F,
        F: Future<Output = io::Result<S>>,
    {
        let handshake = upgrade(self.stream);
        let stream = match self.timers.connect.and_then(|d| self.at.checked_add(d)) {
            Some(at) => ::tokio::time::timeout_at(at.into(), handshake)
                .await
                .map_err(|_| {
                    super::trace::info!(peer = %self.peer, "connect timeout in the stream upgrade");
                    io::Error::new(io::ErrorKind::TimedOut, "stream upgrade timed out")
                })??,
            None => handshake.await?,
        };
        Ok(Connection::new(stream, self.association)
            .with_slot(self.slot, self.at)
            .with_timers(self.timers)
            .with_budget(self.budget)
            .with_peer_addr(Some(self.peer)))
    }
}

/// Accepts transport connections and gives each a responder [`Connection`] with the dispatch
/// table (several services on one address and port, told apart by selector), within the
/// limits of a [`ListenerConfig`] (the defaults unless [`Listener::with_limits`] is used).
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    config: Config,
    dispatch: Dispatch,
    next_reference: u16,
    gate: AcceptGate,
    budget: MemoryBudget,
}

impl Listener {
    /// Binds `addr`, with the default [`ListenerConfig`].
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        dispatch: Dispatch,
    ) -> io::Result<Self> {
        let limits = ListenerConfig::default();
        Ok(Listener {
            listener: TcpListener::bind(addr).await?,
            config,
            dispatch,
            next_reference: 1,
            budget: MemoryBudget::new(limits.memory_budget),
            gate: AcceptGate::new(limits),
        })
    }

    /// The same listener with these limits.
    #[must_use]
    pub fn with_limits(mut self, limits: ListenerConfig) -> Self {
        self.budget = MemoryBudget::new(limits.memory_budget);
        self.gate.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &ListenerConfig {
        &self.gate.limits
    }

    /// The memory budget all connections share.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Open connections now.
    pub fn open_connections(&self) -> usize {
        self.gate.open_connections()
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts the next connection: within the limits, over a limit (closed at once), or a
    /// failed `accept` (after which the next call first waits, 10 ms doubling up to 1 s by
    /// default). Sets TCP_NODELAY and keep-alive on the socket (failures are logged).
    ///
    /// Cancel safety: cancel safe (the back-off is remembered; `accept` is cancel safe).
    pub async fn next_incoming(&mut self) -> Incoming {
        let (stream, peer, slot) = match self.gate.accept(&self.listener).await {
            Admission::Admitted { stream, peer, slot } => (stream, peer, slot),
            Admission::Shed { peer, reason } => return Incoming::Shed { peer, reason },
            Admission::Error { error, retry_in } => return Incoming::Error { error, retry_in },
        };
        if self.budget.used() >= self.budget.limit() {
            super::trace::info!(%peer, reason = "memory", "connection shed");
            drop(stream);
            drop(slot);
            return Incoming::Shed {
                peer,
                reason: ShedReason::Memory,
            };
        }
        let reference = self.next_reference;
        self.next_reference = self.next_reference.checked_add(1).unwrap_or(1);
        let config = self
            .gate
            .limits
            .apply(self.config.clone())
            .with_local_reference(reference);
        let mut association =
            Association::responder(config, self.dispatch.clone(), Some(peer.ip()));
        let at = Instant::now();
        // A peer that connects and sends no CR is dropped after the response time-out.
        association.handle_transport_accepted(at);
        super::trace::debug!(%peer, reference, "connection accepted");
        Incoming::Accepted(Box::new(Accepted {
            stream,
            peer,
            association,
            timers: self.gate.limits.timers(),
            budget: self.budget.clone(),
            slot,
            at,
        }))
    }

    /// Accepts one connection within the limits and returns its responder (connections over
    /// a limit are closed and skipped). A failed `accept` is returned; the next call waits
    /// the back-off first.
    ///
    /// Cancel safety: cancel safe.
    pub async fn accept(&mut self) -> io::Result<Connection> {
        loop {
            match self.next_incoming().await {
                Incoming::Accepted(a) => return Ok(a.into_connection()),
                Incoming::Shed { .. } => {}
                Incoming::Error { error, .. } => return Err(error),
            }
        }
    }

    /// Runs `handler` on every accepted connection, each in its own task, until `shutdown`
    /// completes; then stops accepting and waits for the running handlers to finish (graceful
    /// shutdown). Failed `accept`s are logged and backed off; they never end the server.
    /// Returns the number of connections served.
    pub async fn serve<H, F>(
        mut self,
        shutdown: impl Future<Output = ()>,
        handler: H,
    ) -> io::Result<usize>
    where
        H: Fn(Connection) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let mut tasks = JoinSet::new();
        let mut served = 0usize;
        ::tokio::pin!(shutdown);
        loop {
            ::tokio::select! {
                () = &mut shutdown => break,
                incoming = self.next_incoming() => {
                    if let Incoming::Accepted(accepted) = incoming {
                        served = served.saturating_add(1);
                        let _peer = accepted.peer_addr();
                        let task = handler(accepted.into_connection());
                        #[cfg(feature = "tracing")]
                        let task = {
                            use ::tracing::Instrument as _;
                            task.instrument(::tracing::info_span!("connection", n = served, peer = %_peer))
                        };
                        tasks.spawn(task);
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(served)
    }

    /// [`Listener::serve`] over the stream `upgrade` makes of each TCP stream (a TLS
    /// handshake, bounded by the connect timer), in the connection's own task. A connection
    /// whose upgrade fails is dropped.
    pub async fn serve_with<S, U, UF, H, F>(
        mut self,
        shutdown: impl Future<Output = ()>,
        upgrade: U,
        handler: H,
    ) -> io::Result<usize>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        U: Fn(TcpStream) -> UF + Clone + Send + 'static,
        UF: Future<Output = io::Result<S>> + Send + 'static,
        H: Fn(Connection<S>) -> F + Clone + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let mut tasks = JoinSet::new();
        let mut served = 0usize;
        ::tokio::pin!(shutdown);
        loop {
            ::tokio::select! {
                () = &mut shutdown => break,
                incoming = self.next_incoming() => {
                    if let Incoming::Accepted(accepted) = incoming {
                        served = served.saturating_add(1);
                        let _peer = accepted.peer_addr();
                        let upgrade = upgrade.clone();
                        let handler = handler.clone();
                        let task = async move {
                            match (*accepted).upgrade(upgrade).await {
                                Ok(conn) => handler(conn).await,
                                Err(_e) => {
                                    super::trace::info!(error = %_e, "stream upgrade failed");
                                }
                            }
                        };
                        #[cfg(feature = "tracing")]
                        let task = {
                            use ::tracing::Instrument as _;
                            task.instrument(::tracing::info_span!("connection", n = served, peer = %_peer))
                        };
                        tasks.spawn(task);
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(served)
    }
}
