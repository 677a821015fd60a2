//! [`Dialer`]: opens associations with retries and a chosen local address.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::net::{TcpSocket, TcpStream, ToSocketAddrs, lookup_host};

use crate::association::{AssociateRequest, Config, Event, Refusal, ServiceError};
use crate::error::Layer;

use super::connection::Connection;

/// Opens associations: TCP connect with an optional local bind address, TCP_NODELAY and
/// keep-alive (RFC 2126 §4.1), and retries after a failed open (connection refused, time-out or
/// a transport refusal, DR/ER) every `open_interval`, as an MTA's "open retries" and
/// "open interval" ask.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dialer {
    /// Further attempts after the first one. Default 0.
    pub retries: u32,
    /// Wait between attempts. Default 10 s (Exchange uses 600 s for its MTA).
    pub open_interval: Duration,
    /// Local address to connect from (a dual-homed host's "stack address override").
    pub bind: Option<IpAddr>,
    /// Time-out of one TCP connect. Default 10 s.
    pub connect_timeout: Duration,
    /// TCP_NODELAY. Default true.
    pub nodelay: bool,
    /// SO_KEEPALIVE. Default true.
    pub keepalive: bool,
}

impl Default for Dialer {
    fn default() -> Self {
        Dialer {
            retries: 0,
            open_interval: Duration::from_secs(10),
            bind: None,
            connect_timeout: Duration::from_secs(10),
            nodelay: true,
            keepalive: true,
        }
    }
}

/// Why [`Dialer::associate`] gave up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// TCP (or TLS) could not connect (after the retries).
    #[error("connect: {0}")]
    Io(#[from] io::Error),
    /// The request could not be encoded.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The peer refused the association (after the retries for transport refusals).
    #[error("{refusal}")]
    Refused {
        /// The refusal.
        refusal: Refusal,
        /// Every event of the last attempt.
        events: Vec<Event>,
    },
    /// The association ended otherwise (abort, time-out, transport closed).
    #[error("association failed: {events:?}")]
    Failed {
        /// Every event of the last attempt.
        events: Vec<Event>,
    },
}

impl Dialer {
    /// A dialer with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The dialer of an X.400 connector: its open retries, open interval and local bind
    /// address ("stack address override"; [`ConnectorProfile`](crate::rts::ConnectorProfile)).
    pub fn from_profile(profile: &crate::rts::ConnectorProfile) -> Self {
        Self::new()
            .with_retries(profile.open_retries)
            .with_open_interval(profile.open_interval)
            .with_bind(profile.local_bind)
    }

    /// The same dialer with `retries` further attempts.
    #[must_use]
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The same dialer with another open interval.
    #[must_use]
    pub fn with_open_interval(mut self, interval: Duration) -> Self {
        self.open_interval = interval;
        self
    }

    /// The same dialer binding `addr` locally before connecting.
    #[must_use]
    pub fn with_bind(mut self, addr: Option<IpAddr>) -> Self {
        self.bind = addr;
        self
    }

    /// The same dialer with another connect time-out.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// One TCP connection (no retries), with the socket options.
    ///
    /// Cancel safety: cancel safe (nothing is connected until it returns).
    pub async fn connect_once(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = self.bind {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        socket.set_keepalive(self.keepalive)?;
        let stream = ::tokio::time::timeout(self.connect_timeout, socket.connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "tcp connect timed out"))??;
        if let Err(_e) = stream.set_nodelay(self.nodelay) {
            super::trace::warn!(error = %_e, "set_nodelay failed");
        }
        Ok(stream)
    }

    /// TCP connections to every address `addr` resolves to, in order, until one connects.
    ///
    /// Cancel safety: cancel safe.
    pub async fn connect_any(&self, addr: &impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        for a in lookup_host(addr).await? {
            if self.bind.is_some_and(|b| b.is_ipv4() != a.is_ipv4()) {
                continue;
            }
            match self.connect_once(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Opens an association: connects, sends CR, CN with CP and AARQ, and waits until it is
    /// accepted or refused. Connection failures and transport refusals are retried. Returns the
    /// connection and the events seen (transport connected, associated).
    ///
    /// Cancel safety: cancel safe; an attempt in progress is dropped with its connection.
    pub async fn associate(
        &self,
        addr: impl ToSocketAddrs,
        config: Config,
        request: AssociateRequest,
    ) -> Result<(Connection, Vec<Event>), DialError> {
        self.associate_with(addr, config, request, |s| async move { Ok(s) })
            .await
    }

    /// [`Dialer::associate`] with the TCP stream turned into another stream first by
    /// `upgrade` (a TLS handshake, see `tls::connector` with feature `tls`), on every
    /// attempt. A failed upgrade counts as a failed connect (retried).
    ///
    /// Cancel safety: cancel safe.
    pub async fn associate_with<S, U, F>(
        &self,
        addr: impl ToSocketAddrs,
        config: Config,
        request: AssociateRequest,
        upgrade: U,
    ) -> Result<(Connection<S>, Vec<Event>), DialError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
        U: Fn(TcpStream) -> F,
        F: std::future::Future<Output = io::Result<S>>,
    {
        let mut attempt = 0u32;
        loop {
            let once = async {
                let tcp = self.connect_any(&addr).await?;
                let peer = tcp.peer_addr().ok();
                let stream = ::tokio::time::timeout(self.connect_timeout, upgrade(tcp))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "stream upgrade timed out")
                    })??;
                associate_stream(stream, peer, config.clone(), request.clone()).await
            };
            #[cfg(feature = "tracing")]
            let once = {
                use ::tracing::Instrument as _;
                once.instrument(::tracing::info_span!("dial", attempt))
            };
            let result = once.await;
            let retry = match &result {
                Err(DialError::Io(_)) => true,
                Err(DialError::Refused { refusal, .. }) => refusal.layer() == Layer::Cotp,
                _ => false,
            };
            if !retry || attempt >= self.retries {
                return result;
            }
            attempt = attempt.saturating_add(1);
            super::trace::info!(attempt, wait = ?self.open_interval, "open failed; retrying");
            ::tokio::time::sleep(self.open_interval).await;
        }
    }

    /// [`Dialer::associate`] to the RFC 1006 endpoints of an RFC 1278 presentation address, in
    /// order, with its selectors as the called selectors of `request`.
    ///
    /// Cancel safety: cancel safe.
    pub async fn associate_address(
        &self,
        address: &crate::address::PresentationAddress,
        config: Config,
        request: AssociateRequest,
    ) -> Result<(Connection, Vec<Event>), DialError> {
        let request = request.with_called_address(address);
        let mut last = DialError::Io(io::Error::new(
            io::ErrorKind::NotFound,
            "the presentation address has no rfc 1006 network address",
        ));
        for (host, port) in address.rfc1006_endpoints() {
            match self
                .associate((host.as_str(), port), config.clone(), request.clone())
                .await
            {
                Ok(ok) => return Ok(ok),
                Err(e @ DialError::Io(_)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

/// Opens an association over a connected stream (no retries): sends CR, CN with CP and AARQ,
/// and waits until it is accepted or refused (bounded by [`Config::response_timeout`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use osi_stack::association::{AssociateRequest, Config};
/// // No peer on the other end of the duplex: the CC never comes.
/// let (ours, _theirs) = tokio::io::duplex(4096);
/// let config = Config::default().with_response_timeout(std::time::Duration::from_millis(50));
/// let r = osi_stack::tokio::associate_stream(ours, None, config, AssociateRequest::mms()).await;
/// assert!(r.is_err());
/// # }
/// ```
///
/// Cancel safety: cancel safe; the stream is dropped.
pub async fn associate_stream<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: S,
    peer: Option<SocketAddr>,
    config: Config,
    request: AssociateRequest,
) -> Result<(Connection<S>, Vec<Event>), DialError> {
    let mut conn = Connection::initiate(stream, config, request)
        .await?
        .with_peer_addr(peer);
    let mut events = Vec::new();
    while let Some(ev) = conn.next_event().await? {
        match ev {
            Event::Associated(_) => {
                events.push(ev);
                return Ok((conn, events));
            }
            Event::Refused(ref r) => {
                let refusal = Refusal::clone(r);
                events.push(ev);
                while let Some(ev) = conn.next_event().await? {
                    events.push(ev);
                }
                return Err(DialError::Refused { refusal, events });
            }
            other => events.push(other),
        }
    }
    Err(DialError::Failed { events })
}
