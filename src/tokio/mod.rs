//! Tokio adapters (feature `tokio`): a framed TPKT codec, a [`Dialer`] that opens
//! associations with retries and a chosen local address, a [`Listener`] that runs one
//! [`Association`] per accepted connection with a [`Dispatch`] table, and [`Connection`], which
//! drives one association over one `TcpStream`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use osi_stack::association::{AssociateRequest, Config, Event};
//! use osi_stack::tokio::Dialer;
//!
//! let dialer = Dialer::new().with_retries(2);
//! let (mut conn, _events) = dialer
//!     .associate("127.0.0.1:102", Config::default(), AssociateRequest::mms())
//!     .await?;
//! conn.send_data(3, &[0xa0, 0x03, 0x02, 0x01, 0x01]).await?;
//! while let Some(event) = conn.next_event().await? {
//!     if let Event::Data(d) = event {
//!         println!("{} octets on context {:?}", d.value.len(), d.context_id);
//!         break;
//!     }
//! }
//! conn.release().await?;
//! # Ok(()) }
//! ```
//!
//! The same against a responder of this crate on a loopback port (every wait bounded):
//!
//! ```
//! use std::time::Duration;
//! use osi_stack::association::{AcceptResponse, AssociateRequest, Config, Dispatch, Event};
//! use osi_stack::tokio::{Dialer, Listener};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # tokio::time::timeout(Duration::from_secs(20), async {
//! let mut listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default()).await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let mut conn = listener.accept().await?;
//!     while let Some(event) = conn.next_event().await? {
//!         match event {
//!             Event::AssociateIndication(_) => conn.accept(AcceptResponse::default()).await?,
//!             Event::Data(d) => conn.send_data(d.context_id.unwrap_or(3), &d.value).await?, // echo
//!             Event::ReleaseIndication => conn.release_response(true).await?,
//!             _ => {}
//!         }
//!     }
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! let (mut conn, _events) =
//!     Dialer::new().associate(addr, Config::default(), AssociateRequest::mms()).await?;
//! conn.send_data(3, &[0xa0, 0x03, 0x02, 0x01, 0x01]).await?;
//! let echoed = loop {
//!     match conn.next_event().await? {
//!         Some(Event::Data(d)) => break d.value,
//!         Some(_) => continue,
//!         None => return Err("closed before the echo".into()),
//!     }
//! };
//! assert_eq!(echoed[..], [0xa0, 0x03, 0x02, 0x01, 0x01]);
//! assert!(conn.release().await?.released);
//! server.await??;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).await?
//! # }
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
use ::tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs, lookup_host};
use ::tokio::task::JoinSet;
use ::tokio::time::Instant as TokioInstant;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::association::{
    AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event, Refusal, ServiceError,
};
use crate::error::{DecodeError, Layer};
use crate::tpkt;

pub mod rts;
pub use rts::{RtsConnection, RtsDialer, RtsListener};

// -------------------------------------------------------------------------------------------
// Codec

/// A tokio-util codec for TPKT frames (RFC 1006 §6): decodes to the TPDU of each frame, encodes
/// a TPDU into a frame. Frames are at most 65 535 octets, so the buffer stays bounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct TpktCodec;

/// An error of the TPKT codec: I/O, or a frame header that is not TPKT.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The peer sent something that is not a TPKT frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A TPDU too long for one frame.
    #[error(transparent)]
    Encode(#[from] crate::EncodeError),
}

impl Decoder for TpktCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        match tpkt::frame_len(src)? {
            Some(n) if n <= src.len() => {
                let mut frame = src.split_to(n);
                frame.advance(tpkt::HEADER_LEN);
                Ok(Some(frame.freeze()))
            }
            Some(n) => {
                src.reserve(n.saturating_sub(src.len()));
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

impl Encoder<Bytes> for TpktCodec {
    type Error = CodecError;

    fn encode(&mut self, tpdu: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.reserve(tpdu.len().saturating_add(tpkt::HEADER_LEN));
        tpkt::encode_header(tpdu.len(), dst)?;
        dst.put_slice(&tpdu);
        Ok(())
    }
}

// -------------------------------------------------------------------------------------------
// Connection

/// One association driven over one TCP stream.
///
/// Every method flushes what the association has to send; [`Connection::next_event`] also
/// reads from the stream and runs the association's timers. After [`Event::Closed`] the stream
/// is shut down and `next_event` returns `None`.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    association: Association,
    buf: Vec<u8>,
    peer: Option<SocketAddr>,
    finished: bool,
}

/// Reads per `read` call on the stream.
const READ_CHUNK: usize = 64 * 1024;

impl Connection {
    /// Wraps a connected stream and an association (initiator or responder).
    pub fn new(stream: TcpStream, association: Association) -> Self {
        let peer = stream.peer_addr().ok();
        Connection {
            stream,
            association,
            buf: vec![0; READ_CHUNK],
            peer,
            finished: false,
        }
    }

    /// Starts an initiator on a connected stream: sends the CR.
    pub async fn initiate(
        stream: TcpStream,
        config: Config,
        request: AssociateRequest,
    ) -> Result<Self, ServiceError> {
        let mut association = Association::initiator(config);
        association.associate(request, std::time::Instant::now())?;
        let mut c = Connection::new(stream, association);
        let _ = c.flush().await;
        Ok(c)
    }

    /// The association, for service requests and state.
    pub fn association(&mut self) -> &mut Association {
        &mut self.association
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sends everything the association has to send, gathering frames into vectored writes.
    pub async fn flush(&mut self) -> io::Result<()> {
        let mut pending: Vec<Bytes> =
            std::iter::from_fn(|| self.association.poll_transmit()).collect();
        let mut first = 0;
        while first < pending.len() {
            let slices: Vec<IoSlice<'_>> = pending
                .get(first..)
                .unwrap_or_default()
                .iter()
                .take(64)
                .map(|b| IoSlice::new(b))
                .collect();
            let mut written = self.stream.write_vectored(&slices).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            while let Some(b) = pending.get_mut(first) {
                if written >= b.len() {
                    written = written.saturating_sub(b.len());
                    first = first.saturating_add(1);
                } else {
                    b.advance(written);
                    break;
                }
            }
        }
        Ok(())
    }

    /// The next event, reading from the stream as needed. `None` once the association is
    /// finished and its last event was returned.
    pub async fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            if let Err(e) = self.flush().await {
                if !self.association.is_closed() {
                    self.association
                        .handle_transport_closed(std::time::Instant::now());
                }
                if let Some(ev) = self.association.poll_event() {
                    return Ok(Some(ev));
                }
                return Err(e);
            }
            if let Some(ev) = self.association.poll_event() {
                if ev == Event::Closed {
                    let _ = self.stream.shutdown().await;
                    self.finished = true;
                }
                return Ok(Some(ev));
            }
            if self.finished || self.association.is_closed() {
                return Ok(None);
            }
            let deadline = self.association.poll_timeout();
            let read = async {
                match deadline {
                    Some(at) => {
                        ::tokio::select! {
                            r = self.stream.read(&mut self.buf) => Some(r),
                            () = ::tokio::time::sleep_until(TokioInstant::from_std(at)) => None,
                        }
                    }
                    None => Some(self.stream.read(&mut self.buf).await),
                }
            };
            match read.await {
                None => self.association.handle_timeout(std::time::Instant::now()),
                Some(Ok(0)) | Some(Err(_)) => {
                    self.association
                        .handle_transport_closed(std::time::Instant::now());
                }
                Some(Ok(n)) => {
                    let data = self.buf.get(..n).unwrap_or_default();
                    self.association
                        .handle_input(data, std::time::Instant::now());
                }
            }
        }
    }

    /// P-DATA request (see [`Association::send_data`]), flushed.
    pub async fn send_data(
        &mut self,
        context_id: i64,
        value: &[u8],
    ) -> Result<(), ConnectionError> {
        self.association
            .send_data(context_id, value, std::time::Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-ASSOCIATE response accepting (responder), flushed.
    pub async fn accept(&mut self, response: AcceptResponse) -> Result<(), ConnectionError> {
        self.association
            .accept(response, std::time::Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-ASSOCIATE response rejecting (responder), flushed.
    pub async fn reject(&mut self) -> Result<(), ConnectionError> {
        self.association.reject(std::time::Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-RELEASE request, then waits for the outcome: [`ReleaseOutcome::released`] is `true`
    /// when the association was released (collisions included) and `false` when the peer
    /// refused (NF), aborted or closed the connection first. Every event that arrived meanwhile
    /// (data indications, the release or abort itself) is in [`ReleaseOutcome::events`].
    pub async fn release(&mut self) -> Result<ReleaseOutcome, ConnectionError> {
        self.association.release(std::time::Instant::now())?;
        let mut events = Vec::new();
        while let Some(ev) = self.next_event().await? {
            match ev {
                Event::Released { .. } => {
                    events.push(ev);
                    // Let the machine finish (the receiver of DN closes).
                    while let Some(ev) = self.next_event().await? {
                        events.push(ev);
                    }
                    return Ok(ReleaseOutcome {
                        released: true,
                        events,
                    });
                }
                Event::ReleaseRefused => {
                    return Ok(ReleaseOutcome {
                        released: false,
                        events,
                    });
                }
                Event::ReleaseIndication => {
                    // Release collision answered by the machine; keep waiting.
                    events.push(ev);
                }
                Event::Aborted(_) | Event::Closed => {
                    events.push(ev);
                    return Ok(ReleaseOutcome {
                        released: false,
                        events,
                    });
                }
                other => events.push(other),
            }
        }
        Ok(ReleaseOutcome {
            released: false,
            events,
        })
    }

    /// A-RELEASE response (after [`Event::ReleaseIndication`]), flushed.
    pub async fn release_response(&mut self, accept: bool) -> Result<(), ConnectionError> {
        self.association
            .release_response(accept, std::time::Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-ABORT request, flushed; the association then waits (TIM) for the peer to close.
    pub async fn abort(&mut self) -> Result<(), ConnectionError> {
        self.association.abort(std::time::Instant::now())?;
        Ok(self.flush().await?)
    }
}

/// What [`Connection::release`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOutcome {
    /// The association was released in order.
    pub released: bool,
    /// Every event up to the end, in order.
    pub events: Vec<Event>,
}

/// A service request that failed on a [`Connection`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The association refused the request.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

// -------------------------------------------------------------------------------------------
// Dialer

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
    /// TCP could not connect (after the retries).
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
        stream.set_nodelay(self.nodelay)?;
        Ok(stream)
    }

    async fn connect_any(&self, addr: &impl ToSocketAddrs) -> io::Result<TcpStream> {
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
    pub async fn associate(
        &self,
        addr: impl ToSocketAddrs,
        config: Config,
        request: AssociateRequest,
    ) -> Result<(Connection, Vec<Event>), DialError> {
        let mut attempt = 0u32;
        loop {
            let result = self.attempt(&addr, config.clone(), request.clone()).await;
            let retry = match &result {
                Err(DialError::Io(_)) => true,
                Err(DialError::Refused { refusal, .. }) => refusal.layer() == Layer::Cotp,
                _ => false,
            };
            if !retry || attempt >= self.retries {
                return result;
            }
            attempt = attempt.saturating_add(1);
            ::tokio::time::sleep(self.open_interval).await;
        }
    }

    /// [`Dialer::associate`] to the RFC 1006 endpoints of an RFC 1278 presentation address, in
    /// order, with its selectors as the called selectors of `request`.
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

    async fn attempt(
        &self,
        addr: &impl ToSocketAddrs,
        config: Config,
        request: AssociateRequest,
    ) -> Result<(Connection, Vec<Event>), DialError> {
        let stream = self.connect_any(addr).await?;
        let mut conn = Connection::initiate(stream, config, request).await?;
        let mut events = Vec::new();
        while let Some(ev) = conn.next_event().await? {
            match ev {
                Event::Associated(_) => {
                    events.push(ev);
                    return Ok((conn, events));
                }
                Event::Refused(ref r) => {
                    let refusal = r.clone();
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
}

// -------------------------------------------------------------------------------------------
// Listener

/// Accepts transport connections and gives each a responder [`Connection`] with the dispatch
/// table (several services on one address and port, told apart by selector).
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    config: Config,
    dispatch: Dispatch,
    next_reference: u16,
}

impl Listener {
    /// Binds `addr`.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        dispatch: Dispatch,
    ) -> io::Result<Self> {
        Ok(Listener {
            listener: TcpListener::bind(addr).await?,
            config,
            dispatch,
            next_reference: 1,
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts one connection and returns its responder, with TCP_NODELAY set. Each responder
    /// gets its own transport reference.
    pub async fn accept(&mut self) -> io::Result<Connection> {
        let (stream, peer) = self.listener.accept().await?;
        stream.set_nodelay(true)?;
        let reference = self.next_reference;
        self.next_reference = self.next_reference.checked_add(1).unwrap_or(1);
        let config = self.config.clone().with_local_reference(reference);
        let mut association =
            Association::responder(config, self.dispatch.clone(), Some(peer.ip()));
        // A peer that connects and sends no CR is dropped after the response time-out.
        association.handle_transport_accepted(std::time::Instant::now());
        Ok(Connection::new(stream, association))
    }

    /// Runs `handler` on every accepted connection, each in its own task, until `shutdown`
    /// completes; then stops accepting and waits for the running handlers to finish (graceful
    /// shutdown). Returns the number of connections served.
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
                accepted = self.accept() => {
                    let conn = accepted?;
                    served = served.saturating_add(1);
                    tasks.spawn(handler(conn));
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(served)
    }
}
