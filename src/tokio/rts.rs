//! An async driver for the RTS machine ([`Rts`], X.228 reliable transfer as X.400 MTAs use it):
//! an [`RtsDialer`] that opens an RTS association with a connector profile's open retries,
//! open interval and local bind address, an [`RtsListener`] that accepts RTS associations for
//! the services of a [`Dispatch`] table (several X.400 connectors on one port, told apart by
//! selector), and [`RtsConnection`], which runs one [`Rts`] over one byte stream: every RTS
//! request as an async call, and the events as [`RtsConnection::next_event`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use osi_stack::rts::{ConnectorProfile, TransferState};
//! use osi_stack::tokio::rts::RtsDialer;
//!
//! let profile = ConnectorProfile::new("\"mta\"/\"mta\"/\"mta\"/Internet=127.0.0.1+10102".parse()?);
//! let dialer = RtsDialer::from_profile(&profile)?;
//! let (mut conn, opened) = dialer.dial(None, TransferState::new()).await?;
//! assert!(opened.turn);
//! let seq = conn.transfer(Bytes::from_static(b"\x04\x01\x00")).await?;
//! conn.wait_confirmed(seq, Duration::from_secs(30)).await?;
//! conn.close(Duration::from_secs(30)).await?;
//! # Ok(()) }
//! ```
//!
//! The same against an [`RtsListener`] on a loopback port (every wait bounded):
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use osi_stack::association::{Config, Dispatch};
//! use osi_stack::rts::{ConnectorProfile, RtsEvent, RtsSettings, TransferState};
//! use osi_stack::tokio::rts::{RtsDialer, RtsListener};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! const STEP: Duration = Duration::from_secs(10);
//! let mut listener = RtsListener::bind(
//!     "127.0.0.1:0", Config::default(), Dispatch::default(), RtsSettings::default(),
//! ).await?;
//! let port = listener.local_addr()?.port();
//! let server = tokio::spawn(async move {
//!     let mut conn = listener.accept().await?;
//!     conn.wait_open_indication(STEP).await?;
//!     conn.accept(None, None).await?;
//!     let message = conn.wait_received(STEP).await?;
//!     conn.wait_event(STEP, "closed", |e| *e == RtsEvent::Closed).await?;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(message)
//! });
//!
//! let address = format!("\"mta\"/\"mta\"/\"mta\"/Internet=127.0.0.1+{port}");
//! let dialer = RtsDialer::from_profile(&ConnectorProfile::new(address.parse()?))?;
//! let (mut conn, _opened) = dialer.dial(None, TransferState::new()).await?;
//! let seq = conn.transfer(Bytes::from_static(b"\x04\x01\x00")).await?;
//! conn.wait_confirmed(seq, STEP).await?;
//! conn.close(STEP).await?;
//! assert_eq!(server.await??, Bytes::from_static(b"\x04\x01\x00"));
//! # Ok(())
//! # }
//! ```
//!
//! # Design choices
//!
//! - **One task per association, no background task.** The connection is polled only while
//!   the owner awaits one of its methods, as [`Connection`](super::Connection) is. Between
//!   calls nothing is read: a peer that sends meanwhile waits in TCP's window. An owner that
//!   has to react to other sources (a queue of messages to transfer) puts
//!   [`RtsConnection::next_event`] in a `tokio::select!` with them: it is cancel safe.
//! - **Reads while writing.** Output is written from a queue, and while it is pending the
//!   stream is read too (a transfer of several windows and the peer's minor-sync
//!   confirmations cross each other), so two peers sending at once never deadlock on full
//!   TCP buffers. Writes come first, so a peer that floods cannot starve this side's output.
//! - **Every wait has a deadline.** The machine's own time-outs ([`Config`]: response,
//!   idle lifetime, disconnect) run while any method is awaited. A write that makes no
//!   progress for [`DriverOptions::write_timeout`] (default 30 s) counts as a broken transport
//!   connection. The methods that wait for something the peer does ([`RtsConnection::close`],
//!   [`RtsConnection::wait_opened`], [`RtsConnection::wait_confirmed`], …) take a time-out and
//!   return [`RtsWaitError::Timeout`] when it runs out; [`RtsConnection::next_event`] is bounded
//!   only by the machine's time-outs (and, for a connection of an [`RtsListener`], by the
//!   listener's [`ConnectionLimits`]: connect, idle and io timers, a share of the memory
//!   budget), [`RtsConnection::next_event_within`] by the caller's.
//! - **Events are never lost.** A `wait_*` method keeps every event it is not waiting for (in
//!   order, at most [`DriverOptions::max_backlog`]) and [`RtsConnection::next_event`] returns
//!   them first. A wait that ends because the association ended (refused, rejected, aborted,
//!   closed) returns the typed cause and also leaves that event in the backlog; a later wait
//!   (for [`RtsEvent::Closed`] after an abort) is not ended by it again.
//! - **Refusals are typed.** An initiator's failed open returns [`RtsWaitError::Refused`] with
//!   the [`Refusal`] of the layer that refused (COTP DR reason, session RF reason,
//!   presentation CPR reason, ACSE result and diagnostic, X.410 `PRefuse`) and the RTORJ's
//!   reason and user data; a responder whose [`Dispatch`] table matched nothing sees
//!   [`RtsEvent::Rejected`] with the [`Rejection`] it sent (the criterion, the value received
//!   and what each service had configured).
//!
//! # Cancel safety
//!
//! [`RtsConnection::next_event`], [`RtsConnection::next_event_within`], every `wait_*` method
//! and [`RtsListener::accept`] are cancel safe: when the future is dropped before it completes,
//! no event and no octet is lost (bytes read are handed to the machine before any await, output
//! stays queued, events stay in the machine or the backlog). The request methods
//! ([`RtsConnection::transfer`], [`RtsConnection::turn_please`], [`RtsConnection::turn_give`],
//! [`RtsConnection::accept`], [`RtsConnection::reject`]) hand the request to the machine when
//! they are first polled and then only flush: dropped later, the request stands and its octets
//! are written by the next call (the sequence number of a dropped `transfer` is lost to the
//! caller, but [`RtsEvent::Confirmed`] still reports it). [`RtsConnection::close`] and
//! [`RtsConnection::abort`] likewise make their request at once; dropped, the release or
//! abort goes on with the next call. [`RtsDialer::dial`] is not cancel safe: dropped, the
//! attempt in progress is abandoned (the TCP connection is closed) and the [`TransferState`]
//! given to it is lost.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use ::tokio::net::{TcpListener, TcpStream, ToSocketAddrs, lookup_host};
use ::tokio::time::Instant as TokioInstant;
use bytes::{Buf, Bytes};

use crate::address::PresentationAddress;
use crate::association::{AssociateRequest, Config, Dispatch, Refusal, Rejection};
use crate::error::{EncodeError, Layer};
use crate::rts::{
    ConnectorProfile, OpenIndication, OpenRefusal, OpenSchedule, Opened, Rts, RtsAbortCause,
    RtsError, RtsEvent, RtsSettings, TransferState, X400Mode,
};
use crate::rtse::{AbortReason, RefuseReason};
use crate::tokio::{
    AcceptGate, Admission, ConnectionLimits, Dialer, ListenerConfig, MemoryBudget, Notice,
    ShedReason, TimerKind,
};

/// The read buffer a connection starts with (an idle connection costs little); it doubles up
/// to [`READ_CHUNK`] while reads fill it.
const READ_START: usize = 1024;

/// Octets asked for per read, at most.
const READ_CHUNK: usize = 64 * 1024;

/// Buffers handed to one vectored write.
const MAX_IOSLICES: usize = 64;

/// Settings of the driver itself (the protocol's are the [`Config`] and [`RtsSettings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverOptions {
    /// Output that makes no progress for this long means the transport connection is broken
    /// (the peer does not read). Default 30 s.
    pub write_timeout: Duration,
    /// Events a `wait_*` method keeps for [`RtsConnection::next_event`] at most; one more
    /// aborts the association (bounded memory). Default 1024.
    pub max_backlog: usize,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            write_timeout: Duration::from_secs(30),
            max_backlog: 1024,
        }
    }
}

impl DriverOptions {
    /// The same options with another write time-out.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The same options with another backlog bound.
    #[must_use]
    pub fn with_max_backlog(mut self, events: usize) -> Self {
        self.max_backlog = events;
        self
    }
}

/// Why a request or a wait on an [`RtsConnection`] did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtsWaitError {
    /// TCP could not connect.
    #[error("connect: {0}")]
    Io(#[from] io::Error),
    /// The machine refused the request (wrong state, no turn …).
    #[error(transparent)]
    Rts(#[from] RtsError),
    /// A request could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// What was waited for did not happen in time.
    #[error("rtse: no {waiting_for} within {} s", after.as_secs_f64())]
    Timeout {
        /// What was waited for.
        waiting_for: &'static str,
        /// The time-out.
        after: Duration,
    },
    /// The peer refused the RTS association (initiator).
    #[error("rtse: open {refusal}{}", refuse_reason.map(|r| format!(", rtorj {r}")).unwrap_or_default())]
    Refused {
        /// The layer that refused and its diagnostic.
        refusal: Refusal,
        /// The RTORJ's refuseReason (X.410-1984 mode).
        refuse_reason: Option<RefuseReason>,
        /// The RTORJ's user data (e.g. a P1 MTA-bind error), one BER value.
        user_data: Option<Bytes>,
    },
    /// This side refused the incoming association (responder: no service matched, or the
    /// calling-address policy failed).
    #[error("rtse: incoming association rejected: {0}")]
    Rejected(Rejection),
    /// This side's RTSE refused the incoming RT-OPEN by itself (responder;
    /// [`RtsEvent::OpenRefused`]).
    #[error("rtse: incoming rt-open refused: {cause}")]
    OpenRefused {
        /// The RTORJ's refuse reason.
        reason: RefuseReason,
        /// Why.
        cause: OpenRefusal,
    },
    /// The association was aborted or the transport connection broke.
    #[error("rtse: {cause}")]
    Aborted {
        /// What happened, typed (the event's cause).
        cause: RtsAbortCause,
        /// The RTAB's abort reason, when the peer's RTSE sent one.
        rtab: Option<AbortReason>,
    },
    /// The transfer waited for was given up after [`RtsSettings::transfer_retries`] attempts
    /// ([`RtsEvent::TransferFailed`]; non-delivery).
    #[error("rtse: transfer {seq} was given up after its retries")]
    TransferFailed {
        /// The value [`RtsConnection::transfer`] returned.
        seq: u64,
    },
    /// The association ended (released or closed) before what was waited for happened.
    #[error("rtse: the association ended while waiting for {0}")]
    Ended(&'static str),
    /// More events arrived during a wait than [`DriverOptions::max_backlog`] allows; the
    /// association was aborted.
    #[error("rtse: more than {0} events arrived while waiting")]
    Backlog(usize),
}

impl RtsWaitError {
    /// The layer that refused, for a refusal or a rejection.
    pub fn refused_layer(&self) -> Option<Layer> {
        match self {
            RtsWaitError::Refused { refusal, .. } => Some(refusal.layer()),
            RtsWaitError::Rejected(r) => Some(r.layer()),
            RtsWaitError::OpenRefused { .. } => Some(Layer::Rtse),
            _ => None,
        }
    }

    /// The error an event that ends the association means for a wait.
    fn from_end(ev: &RtsEvent, waiting_for: &'static str) -> Option<Self> {
        Some(match ev {
            RtsEvent::Refused {
                refuse_reason,
                user_data,
                refusal,
                ..
            } => RtsWaitError::Refused {
                refusal: refusal.clone(),
                refuse_reason: *refuse_reason,
                user_data: user_data.clone(),
            },
            RtsEvent::Rejected(r) => RtsWaitError::Rejected(r.clone()),
            RtsEvent::OpenRefused { reason, cause } => RtsWaitError::OpenRefused {
                reason: *reason,
                cause: cause.clone(),
            },
            RtsEvent::Aborted { cause, rtab } => RtsWaitError::Aborted {
                cause: cause.clone(),
                rtab: *rtab,
            },
            RtsEvent::Closed => RtsWaitError::Ended(waiting_for),
            _ => return None,
        })
    }
}

/// What one I/O step did.
enum Step {
    Read(usize),
    ReadFailed(io::Error),
    Wrote(usize),
    WriteFailed(io::Error),
    Timer,
}

/// One [`Rts`] driven over one byte stream (a `TcpStream`, or TLS over one).
///
/// Requests: [`accept`](Self::accept) / [`reject`](Self::reject) (responder),
/// [`transfer`](Self::transfer), [`turn_please`](Self::turn_please),
/// [`turn_give`](Self::turn_give), [`close`](Self::close), [`abort`](Self::abort). Events:
/// [`next_event`](Self::next_event), or one of the `wait_*` methods. After
/// [`RtsEvent::Closed`] the stream is shut down and `next_event` returns `None`; then
/// [`take_state`](Self::take_state) gives the [`TransferState`] for the next association with
/// the same peer. See the [module docs](self) for deadlines and cancel safety.
#[derive(Debug)]
pub struct RtsConnection<S = TcpStream> {
    stream: S,
    rts: Rts,
    buf: Vec<u8>,
    out: VecDeque<Bytes>,
    /// Since when queued output has made no progress.
    stalled_since: Option<Instant>,
    /// Events kept by a wait, and whether a wait already reported each as its end.
    backlog: VecDeque<(RtsEvent, bool)>,
    peer: Option<SocketAddr>,
    /// Nothing more is read (EOF or a read error).
    read_closed: bool,
    /// Nothing more can be written (write error or time-out).
    write_broken: bool,
    /// The machine was told the transport connection is gone.
    transport_closed: bool,
    /// The machine reported Closed and the stream is being flushed and shut down.
    closing: bool,
    /// The stream is shut down; `next_event` returns the backlog, then `None`.
    finished: bool,
    io_error: Option<io::Error>,
    options: DriverOptions,
    /// Octets in `out`.
    out_len: usize,
    /// The service limits, when a listener gave them ([`RtsConnection::with_limits`]).
    limits: Option<ConnectionLimits>,
    /// What the driver did on its own (a timer ran out, the budget was exceeded).
    notices: VecDeque<Notice>,
    /// Close the transport once the output is written (after an abort of the driver's own).
    close_after_flush: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RtsConnection<S> {
    /// Runs `rts` over a connected `stream`. An initiator's [`Rts::open`] may have been called
    /// already (its octets are sent by the first call); a responder's
    /// [`Rts::handle_transport_accepted`] should have been.
    pub fn new(stream: S, rts: Rts, peer: Option<SocketAddr>, options: DriverOptions) -> Self {
        let mut c = RtsConnection {
            stream,
            rts,
            buf: vec![0; READ_START],
            out: VecDeque::new(),
            stalled_since: None,
            backlog: VecDeque::new(),
            peer,
            read_closed: false,
            write_broken: false,
            transport_closed: false,
            closing: false,
            finished: false,
            io_error: None,
            options,
            out_len: 0,
            limits: None,
            notices: VecDeque::new(),
            close_after_flush: false,
        };
        c.collect();
        c
    }

    /// The same connection within `limits` (timers, a share of a memory budget, a place under
    /// the connection caps), as [`RtsListener`] gives its connections. A connect or idle timer
    /// that runs out aborts the association ([`Rts::abort_on_timeout`]: the
    /// [`RtsEvent::Aborted`] names the timer), an io timer (the peer does not read) or a
    /// refused memory share ends the transport connection; each is reported first by
    /// [`poll_notice`](Self::poll_notice).
    #[must_use]
    pub fn with_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = Some(limits);
        self.account(Instant::now());
        self
    }

    /// What the driver did on its own since the last call (a timer of its
    /// [`ConnectionLimits`] ran out, the memory budget was exceeded), in order; the events it
    /// causes follow.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Octets of output queued and not yet written.
    pub fn pending_output(&self) -> usize {
        self.out_len
    }

    /// Tells the limits what is held and queued; aborts when the budget refuses it.
    fn account(&mut self, now: Instant) {
        let Some(limits) = &mut self.limits else {
            return;
        };
        limits.output(self.out_len, now);
        let held = self
            .rts
            .buffered_input()
            .saturating_add(self.rts.association().pending_transmit())
            .saturating_add(self.out_len);
        if let Err(wanted) = limits.hold(held) {
            self.notices.push_back(Notice::MemoryBudget { wanted });
            self.give_up(None);
        }
    }

    /// Ends the association from the driver: an abort (a provider abort naming the timer,
    /// or RTAB localSystemProblem for the budget), then the transport once that is written.
    fn give_up(&mut self, timer: Option<TimerKind>) {
        let now = Instant::now();
        self.out.clear();
        self.out_len = 0;
        self.stalled_since = None;
        let aborted = match timer {
            Some(which) => self.rts.abort_on_timeout(which, now).is_ok(),
            None => self
                .rts
                .abort(Some(AbortReason::LOCAL_SYSTEM_PROBLEM), now)
                .is_ok(),
        };
        self.close_after_flush = true;
        self.collect();
        if !aborted || self.out.is_empty() {
            self.close_after_flush = false;
            self.read_closed = true;
            self.transport_gone(None);
        }
    }

    /// A timer of the limits ran out at `now`.
    fn on_limit(&mut self, now: Instant) {
        let Some(which) = self.limits.as_mut().and_then(|l| l.expired(now)) else {
            return;
        };
        self.notices.push_back(Notice::Timeout(which));
        match which {
            TimerKind::Io => self.write_broke(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer did not read the output within the io time-out",
            )),
            other => self.give_up(Some(other)),
        }
    }

    /// The machine (read-only: state, turn, association below).
    pub fn rts(&self) -> &Rts {
        &self.rts
    }

    /// The peer's address, when the stream has one.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Whether this side holds the turn.
    pub fn has_turn(&self) -> bool {
        self.rts.has_turn()
    }

    /// The I/O error that broke the transport connection, if one did.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.io_error.as_ref()
    }

    /// Events kept by the `wait_*` methods, not yet returned by `next_event`.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Takes the transfer state out (after [`RtsEvent::Closed`]) for the next association with
    /// the same peer (see [`Rts::take_state`]).
    pub fn take_state(&mut self) -> TransferState {
        self.rts.take_state(Instant::now())
    }

    /// Gives back the stream and the machine.
    pub fn into_parts(self) -> (S, Rts) {
        (self.stream, self.rts)
    }

    // --- requests ------------------------------------------------------------------------

    /// RT-OPEN response accepting the [`RtsEvent::OpenIndication`] (responder), with
    /// RTSE-user data for the RTOAC (e.g. the P1 MTA-bind result) and the state kept for this
    /// peer (see [`Rts::accept_with`]); [`RtsEvent::Opened`] follows.
    pub async fn accept(
        &mut self,
        state: Option<TransferState>,
        user_data: Option<&[u8]>,
    ) -> Result<(), RtsWaitError> {
        self.rts.accept_with(state, user_data, Instant::now())?;
        self.flush().await;
        Ok(())
    }

    /// RT-OPEN response refusing (responder), with `user_data` for the RTORJ (e.g. the P1
    /// MTA-bind error; see [`Rts::reject_with`]).
    pub async fn reject(
        &mut self,
        reason: RefuseReason,
        user_data: Option<&[u8]>,
    ) -> Result<(), RtsWaitError> {
        self.rts.reject_with(reason, user_data, Instant::now())?;
        self.flush().await;
        Ok(())
    }

    /// RT-TRANSFER request: queues `apdu` and returns its sequence number;
    /// [`RtsEvent::Confirmed`] with it follows (see [`wait_confirmed`](Self::wait_confirmed)).
    /// What the turn and the window allow is sent before this returns.
    pub async fn transfer(&mut self, apdu: Bytes) -> Result<u64, RtsWaitError> {
        let seq = self.rts.transfer(apdu, Instant::now())?;
        self.flush().await;
        Ok(seq)
    }

    /// RT-TURN-PLEASE request with `priority` (two-way alternate, without the turn).
    pub async fn turn_please(&mut self, priority: i64) -> Result<(), RtsWaitError> {
        self.rts.turn_please(priority, Instant::now())?;
        self.flush().await;
        Ok(())
    }

    /// RT-TURN-GIVE request (two-way alternate, with the turn, no transfer in progress).
    pub async fn turn_give(&mut self) -> Result<(), RtsWaitError> {
        self.rts.turn_give(Instant::now())?;
        self.flush().await;
        Ok(())
    }

    /// RT-CLOSE: releases the association (with the turn, no transfer in progress) and waits
    /// up to `timeout` for [`RtsEvent::Released`] and [`RtsEvent::Closed`]; other events are
    /// kept for [`next_event`](Self::next_event). `Ok` only for an orderly release.
    pub async fn close(&mut self, timeout: Duration) -> Result<(), RtsWaitError> {
        self.rts.close(Instant::now())?;
        self.wait_event(timeout, "released", |e| *e == RtsEvent::Released)
            .await?;
        self.wait_event(timeout, "closed", |e| *e == RtsEvent::Closed)
            .await?;
        Ok(())
    }

    /// RT-U-ABORT with an RTAB of `reason` (userError when `None`), then waits up to `timeout`
    /// for the machine to finish ([`RtsEvent::Closed`]). The own abort's
    /// [`RtsEvent::Aborted`] is kept for [`next_event`](Self::next_event).
    pub async fn abort(
        &mut self,
        reason: Option<AbortReason>,
        timeout: Duration,
    ) -> Result<(), RtsWaitError> {
        self.rts.abort(reason, Instant::now())?;
        match self
            .wait_inner(timeout, "closed", |e| *e == RtsEvent::Closed, false)
            .await
        {
            Ok(_) | Err(RtsWaitError::Ended(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // --- events --------------------------------------------------------------------------

    /// The next event: kept ones first, then the machine's, reading and writing the stream
    /// and running the machine's timers as needed. `None` once the stream is shut down after
    /// [`RtsEvent::Closed`] and every event was returned. Cancel safe.
    pub async fn next_event(&mut self) -> Option<RtsEvent> {
        if let Some((ev, _)) = self.backlog.pop_front() {
            return Some(ev);
        }
        self.fetch(None).await.unwrap_or(None)
    }

    /// [`next_event`](Self::next_event), waiting at most `timeout`
    /// ([`RtsWaitError::Timeout`]; the connection stays usable). Cancel safe.
    pub async fn next_event_within(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<RtsEvent>, RtsWaitError> {
        if let Some((ev, _)) = self.backlog.pop_front() {
            return Ok(Some(ev));
        }
        let deadline = Instant::now().checked_add(timeout);
        self.fetch(deadline)
            .await
            .map_err(|()| RtsWaitError::Timeout {
                waiting_for: "event",
                after: timeout,
            })
    }

    /// Waits up to `timeout` for the first event `wanted` accepts and returns it; every other
    /// event is kept for [`next_event`](Self::next_event). When the association ends first,
    /// the error says how (refused, rejected, aborted, ended). Cancel safe.
    pub async fn wait_event(
        &mut self,
        timeout: Duration,
        waiting_for: &'static str,
        wanted: impl FnMut(&RtsEvent) -> bool,
    ) -> Result<RtsEvent, RtsWaitError> {
        self.wait_inner(timeout, waiting_for, wanted, true).await
    }

    /// [`wait_event`](Self::wait_event); with `stop_at_end` false only the end of the
    /// machine (or the time-out) ends the wait early.
    async fn wait_inner(
        &mut self,
        timeout: Duration,
        waiting_for: &'static str,
        mut wanted: impl FnMut(&RtsEvent) -> bool,
        stop_at_end: bool,
    ) -> Result<RtsEvent, RtsWaitError> {
        let end_of = |ev: &RtsEvent| match ev {
            RtsEvent::Closed => Some(RtsWaitError::Ended(waiting_for)),
            _ if stop_at_end => RtsWaitError::from_end(ev, waiting_for),
            _ => None,
        };
        if let Some(i) = self.backlog.iter().position(|(ev, _)| wanted(ev)) {
            if let Some((ev, _)) = self.backlog.remove(i) {
                return Ok(ev);
            }
        }
        // An end kept in the backlog ends this wait too, once: a later wait (for the close
        // after an abort) goes on.
        for (ev, reported) in self.backlog.iter_mut() {
            if let Some(e) = end_of(ev).filter(|_| !*reported) {
                *reported = true;
                return Err(e);
            }
        }
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let ev = match self.fetch(deadline).await {
                Ok(Some(ev)) => ev,
                Ok(None) => return Err(RtsWaitError::Ended(waiting_for)),
                Err(()) => {
                    return Err(RtsWaitError::Timeout {
                        waiting_for,
                        after: timeout,
                    });
                }
            };
            if wanted(&ev) {
                return Ok(ev);
            }
            let end = end_of(&ev);
            if self.backlog.len() >= self.options.max_backlog {
                let _ = self
                    .rts
                    .abort(Some(AbortReason::LOCAL_SYSTEM_PROBLEM), Instant::now());
                self.collect();
                return Err(RtsWaitError::Backlog(self.options.max_backlog));
            }
            self.backlog.push_back((ev, end.is_some()));
            if let Some(e) = end {
                return Err(e);
            }
        }
    }

    /// Initiator: waits for the RT-OPEN confirmation ([`RtsEvent::Opened`]); responder:
    /// for the opening to complete after [`accept`](Self::accept).
    pub async fn wait_opened(&mut self, timeout: Duration) -> Result<Opened, RtsWaitError> {
        match self
            .wait_event(timeout, "rt-open confirmation", |e| {
                matches!(e, RtsEvent::Opened(_))
            })
            .await?
        {
            RtsEvent::Opened(o) => Ok(o),
            _ => Err(RtsWaitError::Ended("rt-open confirmation")),
        }
    }

    /// Responder: waits for the peer's RT-OPEN ([`RtsEvent::OpenIndication`], with who calls:
    /// [`OpenIndication::associate`]). A [`Dispatch`] table that matched nothing gives
    /// [`RtsWaitError::Rejected`].
    pub async fn wait_open_indication(
        &mut self,
        timeout: Duration,
    ) -> Result<Box<OpenIndication>, RtsWaitError> {
        match self
            .wait_event(timeout, "rt-open indication", |e| {
                matches!(e, RtsEvent::OpenIndication(_))
            })
            .await?
        {
            RtsEvent::OpenIndication(o) => Ok(o),
            _ => Err(RtsWaitError::Ended("rt-open indication")),
        }
    }

    /// Waits for the next APDU transferred by the peer.
    pub async fn wait_received(&mut self, timeout: Duration) -> Result<Bytes, RtsWaitError> {
        match self
            .wait_event(timeout, "rt-transfer indication", |e| {
                matches!(e, RtsEvent::Received(_))
            })
            .await?
        {
            RtsEvent::Received(b) => Ok(b),
            _ => Err(RtsWaitError::Ended("rt-transfer indication")),
        }
    }

    /// Waits until the transfer `seq` is confirmed. A transfer given up
    /// ([`RtsEvent::TransferFailed`]) is reported as [`RtsWaitError::TransferFailed`].
    pub async fn wait_confirmed(
        &mut self,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), RtsWaitError> {
        let ev = self
            .wait_event(timeout, "rt-transfer confirmation", |e| {
                matches!(e, RtsEvent::Confirmed { seq: s } | RtsEvent::TransferFailed { seq: s } if *s == seq)
            })
            .await?;
        match ev {
            RtsEvent::Confirmed { .. } => Ok(()),
            _ => Err(RtsWaitError::TransferFailed { seq }),
        }
    }

    /// Waits until this side holds the turn (at once when it does).
    pub async fn wait_turn(&mut self, timeout: Duration) -> Result<(), RtsWaitError> {
        if self.rts.has_turn() {
            return Ok(());
        }
        self.wait_event(timeout, "turn", |e| *e == RtsEvent::TurnGiven)
            .await
            .map(|_| ())
    }

    // --- I/O -----------------------------------------------------------------------------

    /// Moves what the machine has to send into the output queue.
    fn collect(&mut self) {
        while let Some(b) = self.rts.poll_transmit() {
            if self.write_broken || b.is_empty() {
                continue;
            }
            if self.out.is_empty() {
                self.stalled_since = Some(Instant::now());
            }
            self.out_len = self.out_len.saturating_add(b.len());
            self.out.push_back(b);
        }
        if self.limits.is_some() {
            self.account(Instant::now());
        }
    }

    /// The transport connection is gone: tell the machine once.
    fn transport_gone(&mut self, error: Option<io::Error>) {
        if self.io_error.is_none() {
            self.io_error = error;
        }
        if !self.transport_closed {
            self.transport_closed = true;
            self.rts.handle_transport_closed(Instant::now());
        }
    }

    fn write_broke(&mut self, error: io::Error) {
        self.write_broken = true;
        self.read_closed = true;
        self.out.clear();
        self.out_len = 0;
        self.close_after_flush = false;
        self.stalled_since = None;
        self.transport_gone(Some(error));
    }

    /// Writes queued output until it is all written or cannot be (reading meanwhile).
    async fn flush(&mut self) {
        self.collect();
        while !self.out.is_empty() && !self.write_broken {
            let _ = self.step(None).await;
            self.collect();
        }
    }

    /// One I/O operation or timer; `Err` when `deadline` passed.
    async fn step(&mut self, deadline: Option<Instant>) -> Result<(), ()> {
        let write_deadline = if self.out.is_empty() || self.write_broken {
            None
        } else {
            self.stalled_since
                .and_then(|s| s.checked_add(self.options.write_timeout))
        };
        let machine = if self.closing {
            None
        } else {
            self.rts.poll_timeout()
        };
        let limit = self.limits.as_ref().and_then(ConnectionLimits::deadline);
        let timer = [machine, write_deadline, deadline, limit]
            .into_iter()
            .flatten()
            .min();
        let mut sleep =
            timer.map(|t| Box::pin(::tokio::time::sleep_until(TokioInstant::from_std(t))));
        let reading = !self.read_closed;
        let writing = !self.write_broken && !self.out.is_empty();
        if !reading && !writing && sleep.is_none() {
            // Nothing can happen any more: the transport is gone and no timer runs.
            self.transport_gone(None);
            return Ok(());
        }
        let RtsConnection {
            stream, buf, out, ..
        } = self;
        let step = poll_fn(|cx| {
            if writing {
                let slices: Vec<IoSlice<'_>> = out
                    .iter()
                    .take(MAX_IOSLICES)
                    .map(|b| IoSlice::new(b))
                    .collect();
                match Pin::new(&mut *stream).poll_write_vectored(cx, &slices) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Step::WriteFailed(io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => return Poll::Ready(Step::Wrote(n)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Step::WriteFailed(e)),
                    Poll::Pending => {}
                }
            }
            if reading {
                let mut rb = ReadBuf::new(buf.as_mut_slice());
                match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Step::Read(rb.filled().len())),
                    Poll::Ready(Err(e)) => return Poll::Ready(Step::ReadFailed(e)),
                    Poll::Pending => {}
                }
            }
            if let Some(s) = sleep.as_mut() {
                if s.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Step::Timer);
                }
            }
            Poll::Pending
        })
        .await;
        let now = Instant::now();
        match step {
            Step::Read(0) => {
                self.read_closed = true;
                self.transport_gone(None);
            }
            Step::Read(n) => {
                if !self.transport_closed {
                    let data = self.buf.get(..n).unwrap_or_default();
                    self.rts.handle_input(data, now);
                    if n == self.buf.len() && self.buf.len() < READ_CHUNK {
                        let grown = self.buf.len().saturating_mul(2).min(READ_CHUNK);
                        self.buf.resize(grown, 0);
                    }
                    if let Some(l) = &mut self.limits {
                        l.activity(now);
                    }
                }
            }
            Step::ReadFailed(e) => {
                self.read_closed = true;
                self.transport_gone(Some(e));
            }
            Step::Wrote(mut n) => {
                self.out_len = self.out_len.saturating_sub(n);
                if let Some(l) = &mut self.limits {
                    l.activity(now);
                }
                while let Some(b) = self.out.front_mut() {
                    if n >= b.len() {
                        n = n.saturating_sub(b.len());
                        self.out.pop_front();
                    } else {
                        b.advance(n);
                        break;
                    }
                }
                self.stalled_since = if self.out.is_empty() { None } else { Some(now) };
                if self.out.is_empty() && self.close_after_flush {
                    // The driver's abort is written: the transport connection ends.
                    self.close_after_flush = false;
                    self.read_closed = true;
                    self.transport_gone(None);
                }
            }
            Step::WriteFailed(e) => self.write_broke(e),
            Step::Timer => {
                if write_deadline.is_some_and(|d| now >= d) {
                    self.write_broke(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the peer read none of the output within the write time-out",
                    ));
                }
                if machine.is_some_and(|d| now >= d) {
                    self.rts.handle_timeout(now);
                }
                if limit.is_some_and(|d| now >= d) {
                    self.on_limit(now);
                }
            }
        }
        self.collect();
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(());
        }
        Ok(())
    }

    /// The machine's next event, stepping I/O until there is one; `Ok(None)` once finished,
    /// `Err` when `deadline` passed. On [`RtsEvent::Closed`] the output is flushed and the
    /// stream shut down first (resumed by the next call when cancelled meanwhile).
    async fn fetch(&mut self, deadline: Option<Instant>) -> Result<Option<RtsEvent>, ()> {
        loop {
            if self.closing {
                self.finish().await;
                self.closing = false;
                return Ok(Some(RtsEvent::Closed));
            }
            if self.finished {
                return Ok(None);
            }
            self.collect();
            if let Some(ev) = self.rts.poll_event() {
                if let (RtsEvent::Opened(_), Some(l)) = (&ev, &mut self.limits) {
                    l.established(Instant::now());
                }
                if ev == RtsEvent::Closed {
                    self.closing = true;
                    continue;
                }
                return Ok(Some(ev));
            }
            if self.rts.is_closed() && self.transport_closed && self.out.is_empty() {
                // Closed without a Closed event left (taken earlier): nothing more will come.
                self.finished = true;
                return Ok(None);
            }
            self.step(deadline).await?;
        }
    }

    /// Flushes the output (bounded by the write time-out) and shuts the stream down.
    async fn finish(&mut self) {
        self.read_closed = true;
        self.flush().await;
        if !self.write_broken {
            let _ =
                ::tokio::time::timeout(self.options.write_timeout, self.stream.shutdown()).await;
        }
        self.finished = true;
    }
}

// -------------------------------------------------------------------------------------------
// Dialer

/// A failed [`RtsDialer::dial`]: the last attempt's error, the attempts made, and the
/// [`TransferState`] given to the dialer (with its queued transfers), for the next try.
#[derive(Debug, thiserror::Error)]
#[error("{error} (after {attempts} attempt(s))")]
#[non_exhaustive]
pub struct RtsDialError {
    /// Why the last attempt failed.
    pub error: RtsWaitError,
    /// Attempts made (the first one and the retries).
    pub attempts: u32,
    /// The transfer state, back to the caller.
    pub state: TransferState,
}

/// Opens RTS associations as an X.400 connector does: TCP to each RFC 1006 endpoint of the
/// peer's presentation address (from the local bind address), A-ASSOCIATE with the RTORQ, and
/// after a failed open another attempt every open interval, as many times as the open retries
/// say (the [`OpenSchedule`] of the profile).
///
/// Which failures are retried: TCP not connected, a transport refusal (DR, ER), an RTORJ
/// `rtsBusy`, an abort or a broken connection before the open completed, and no answer within
/// [`RtsDialer::open_timeout`]. A refusal by the peer's session, presentation, ACSE or RTSE
/// for any other reason (a selector, AP-title or MTA-bind it does not know) is returned at
/// once: Exchange retries every failed open, but a configuration mismatch does not go away in
/// an open interval, and the caller sees the typed diagnostic without waiting for the retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RtsDialer {
    /// TCP: open retries, open interval, local bind address, connect time-out.
    pub dialer: Dialer,
    /// The association settings.
    pub config: Config,
    /// The RTS settings (mode, checkpoints, window, dialogue mode, initial turn …).
    pub settings: RtsSettings,
    /// The association request the RTORQ travels in (selectors, AP-titles, contexts). In the
    /// X.410 modes only its selectors and session settings are used.
    pub request: AssociateRequest,
    /// Where the peer is: the RFC 1006 endpoints of its network addresses, tried in order.
    pub address: PresentationAddress,
    /// From TCP connected to the RT-OPEN confirmation, per attempt. Default 60 s.
    pub open_timeout: Duration,
    /// The driver's options for the connection.
    pub options: DriverOptions,
}

impl RtsDialer {
    /// The dialer of a connector profile: its open retries, open interval, local bind
    /// address, association and RTS settings, and the request of
    /// [`ConnectorProfile::associate_request`] (for the X.410 modes, the same request: the
    /// machine turns it into an X.410-mode CP).
    pub fn from_profile(profile: &ConnectorProfile) -> Result<Self, EncodeError> {
        let mut normal = profile.clone();
        normal.mode = X400Mode::Normal1988;
        let request = normal.associate_request(None)?.unwrap_or_else(|| {
            AssociateRequest::new(crate::oid::Oid::X400_AC_MTS_TRANSFER.to_owned_oid())
        });
        Ok(RtsDialer {
            dialer: Dialer::new()
                .with_retries(profile.open_retries)
                .with_open_interval(profile.open_interval)
                .with_bind(profile.local_bind),
            config: profile.config(),
            settings: RtsSettings::from_profile(profile),
            request,
            address: profile.remote.clone(),
            open_timeout: Duration::from_secs(60),
            options: DriverOptions::default(),
        })
    }

    /// The same dialer with another association request (calling selectors, AP-titles …).
    #[must_use]
    pub fn with_request(mut self, request: AssociateRequest) -> Self {
        self.request = request;
        self
    }

    /// The same dialer with another open time-out.
    #[must_use]
    pub fn with_open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// The same dialer with other driver options.
    #[must_use]
    pub fn with_options(mut self, options: DriverOptions) -> Self {
        self.options = options;
        self
    }

    /// Opens the RTS association to the profile's address, with `open` as the RTORQ's
    /// RTSE-user data (the P1 MTA-bind) and `state` (a new one, or the one taken from a broken
    /// association with this peer: an interrupted transfer is recovered). Returns the open
    /// connection and the negotiated parameters.
    pub async fn dial(
        &self,
        open: Option<&[u8]>,
        state: TransferState,
    ) -> Result<(RtsConnection, Opened), RtsDialError> {
        let endpoints = self.address.rfc1006_endpoints();
        self.dial_endpoints(&endpoints, open, state).await
    }

    /// [`dial`](Self::dial) to another TCP address (the selectors stay the request's).
    pub async fn dial_to(
        &self,
        host: &str,
        port: u16,
        open: Option<&[u8]>,
        state: TransferState,
    ) -> Result<(RtsConnection, Opened), RtsDialError> {
        self.dial_endpoints(&[(host.to_owned(), port)], open, state)
            .await
    }

    async fn dial_endpoints(
        &self,
        endpoints: &[(String, u16)],
        open: Option<&[u8]>,
        mut state: TransferState,
    ) -> Result<(RtsConnection, Opened), RtsDialError> {
        let mut schedule = OpenSchedule::new(self.dialer.retries, self.dialer.open_interval);
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            let (error, back) = match self.attempt(endpoints, open, state).await {
                Ok(ok) => return Ok(ok),
                Err(e) => e,
            };
            state = back;
            let retry = match &error {
                RtsWaitError::Io(_)
                | RtsWaitError::Timeout { .. }
                | RtsWaitError::Aborted { .. }
                | RtsWaitError::Ended(_) => true,
                RtsWaitError::Refused {
                    refusal,
                    refuse_reason,
                    ..
                } => {
                    refusal.layer() == Layer::Cotp || *refuse_reason == Some(RefuseReason::RTS_BUSY)
                }
                _ => false,
            };
            let next = if retry {
                schedule.failed(Instant::now())
            } else {
                None
            };
            match next {
                Some(at) => ::tokio::time::sleep_until(TokioInstant::from_std(at)).await,
                None => {
                    return Err(RtsDialError {
                        error,
                        attempts,
                        state,
                    });
                }
            }
        }
    }

    async fn connect(&self, endpoints: &[(String, u16)]) -> io::Result<TcpStream> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            "the presentation address has no rfc 1006 network address",
        );
        for (host, port) in endpoints {
            let addrs = match lookup_host((host.as_str(), *port)).await {
                Ok(a) => a,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            for a in addrs {
                if self.dialer.bind.is_some_and(|b| b.is_ipv4() != a.is_ipv4()) {
                    continue;
                }
                match self.dialer.connect_once(a).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }

    /// One attempt; on failure the state comes back.
    async fn attempt(
        &self,
        endpoints: &[(String, u16)],
        open: Option<&[u8]>,
        state: TransferState,
    ) -> Result<(RtsConnection, Opened), (RtsWaitError, TransferState)> {
        let mut rts = Rts::initiator(self.config.clone(), self.settings.clone(), state);
        let stream = match self.connect(endpoints).await {
            Ok(s) => s,
            Err(e) => return Err((e.into(), rts.take_state(Instant::now()))),
        };
        if let Err(e) = rts.open(self.request.clone(), open, Instant::now()) {
            return Err((e.into(), rts.take_state(Instant::now())));
        }
        let peer = stream.peer_addr().ok();
        let mut conn = RtsConnection::new(stream, rts, peer, self.options);
        match conn.wait_opened(self.open_timeout).await {
            Ok(opened) => Ok((conn, opened)),
            Err(e) => {
                // No answer in time: abort. A refusal or an abort ends the machine by itself
                // (an abort after an RF or a DR would be a protocol error).
                if matches!(e, RtsWaitError::Timeout { .. }) && !conn.rts.is_closed() {
                    let _ = conn.rts.abort(None, Instant::now());
                }
                // Let the machine finish (DR after a refusal, AB after an abort), bounded.
                let grace = self.options.write_timeout.min(Duration::from_secs(5));
                let _ = ::tokio::time::timeout(grace, async {
                    while conn.next_event().await.is_some() {}
                })
                .await;
                Err((e, conn.take_state()))
            }
        }
    }
}

// -------------------------------------------------------------------------------------------
// Listener

/// Accepts RTS associations on one address for the services of a [`Dispatch`] table (several
/// X.400 connectors on one port, told apart by T-, S-, P-selector and AP-title): each accepted
/// TCP connection becomes a responder [`RtsConnection`]. Wait for its
/// [`RtsEvent::OpenIndication`] ([`RtsConnection::wait_open_indication`]: who calls, and
/// which service matched), then [`RtsConnection::accept`] or [`RtsConnection::reject`]. An
/// association that matches no service is refused by the layer that failed and reported as
/// [`RtsEvent::Rejected`].
///
/// The listener has the service limits of a [`Listener`](super::Listener) (a
/// [`ListenerConfig`], the defaults unless [`RtsListener::with_limits`] is used): connections
/// over the caps are accepted and closed at once, failed `accept`s back off (an
/// [`AcceptGate`]), and each connection runs within [`ConnectionLimits`]: the connect timer
/// until the RTS association is open, the idle timer after it, the io timer on output the
/// peer does not read, the largest message and the receive time-out
/// ([`ListenerConfig::apply`]: a P-DATA, so one checkpoint's worth of a transfer) and a share
/// of the memory budget all connections use ([`RtsListener::budget`]: input being reassembled,
/// the unfinished incoming transfer, at most [`RtsSettings::max_apdu`], and output not read).
#[derive(Debug)]
pub struct RtsListener {
    listener: TcpListener,
    config: Config,
    dispatch: Dispatch,
    settings: RtsSettings,
    options: DriverOptions,
    next_reference: u16,
    gate: AcceptGate,
    budget: MemoryBudget,
}

/// What [`RtsListener::next_incoming`] saw.
#[derive(Debug)]
#[non_exhaustive]
pub enum RtsIncoming {
    /// A connection within the limits: its responder, to be run (in its own task).
    Accepted(Box<RtsConnection>),
    /// A connection over a limit, closed at once.
    Shed {
        /// The peer.
        peer: SocketAddr,
        /// The limit.
        reason: ShedReason,
    },
    /// `accept` failed; the listener waits `retry_in` before accepting again.
    Error {
        /// The failure.
        error: io::Error,
        /// The back-off before the next attempt.
        retry_in: Duration,
    },
}

impl RtsListener {
    /// Binds `addr`, with the default [`ListenerConfig`].
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        dispatch: Dispatch,
        settings: RtsSettings,
    ) -> io::Result<Self> {
        let limits = ListenerConfig::default();
        Ok(RtsListener {
            listener: TcpListener::bind(addr).await?,
            config,
            dispatch,
            settings,
            options: DriverOptions::default(),
            next_reference: 1,
            budget: MemoryBudget::new(limits.memory_budget),
            gate: AcceptGate::new(limits),
        })
    }

    /// The same listener with other driver options for its connections.
    #[must_use]
    pub fn with_options(mut self, options: DriverOptions) -> Self {
        self.options = options;
        self
    }

    /// The same listener with these service limits (a new memory budget of their size).
    #[must_use]
    pub fn with_limits(mut self, limits: ListenerConfig) -> Self {
        self.budget = MemoryBudget::new(limits.memory_budget);
        self.gate = AcceptGate::new(limits);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &ListenerConfig {
        self.gate.limits()
    }

    /// The memory budget all connections share.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Open connections now (under the caps).
    pub fn open_connections(&self) -> usize {
        self.gate.open_connections()
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts the next connection: within the limits (its responder, the connect timer
    /// running), over a limit (closed at once; also while the memory budget is used up), or
    /// a failed `accept` (after which the next call first waits, 10 ms doubling up to 1 s by
    /// default).
    ///
    /// Cancel safety: cancel safe.
    pub async fn next_incoming(&mut self) -> RtsIncoming {
        let (stream, peer, slot) = match self.gate.accept(&self.listener).await {
            Admission::Admitted { stream, peer, slot } => (stream, peer, slot),
            Admission::Shed { peer, reason } => return RtsIncoming::Shed { peer, reason },
            Admission::Error { error, retry_in } => return RtsIncoming::Error { error, retry_in },
        };
        if self.budget.used() >= self.budget.limit() {
            super::trace::info!(%peer, reason = "memory", "connection shed");
            return RtsIncoming::Shed {
                peer,
                reason: ShedReason::Memory,
            };
        }
        let conn = self.responder(stream, peer, Some(slot));
        RtsIncoming::Accepted(Box::new(conn))
    }

    /// Accepts one connection within the limits and returns its responder (connections over
    /// a limit are closed and skipped). A failed `accept` is returned; the next call waits
    /// the back-off first. The machine's response time-out and the connect timer run from
    /// now: a peer that sends no CR is dropped.
    ///
    /// Cancel safety: cancel safe.
    pub async fn accept(&mut self) -> io::Result<RtsConnection> {
        loop {
            match self.next_incoming().await {
                RtsIncoming::Accepted(c) => return Ok(*c),
                RtsIncoming::Shed { .. } => {}
                RtsIncoming::Error { error, .. } => return Err(error),
            }
        }
    }

    /// The TCP listener, for an owner that accepts under its own admission control and then
    /// calls [`RtsListener::responder_for`].
    pub fn tcp_listener(&self) -> &TcpListener {
        &self.listener
    }

    /// The responder for a connection accepted from [`RtsListener::tcp_listener`]: what
    /// [`RtsListener::accept`] returns (this listener's configuration, dispatch table,
    /// settings, timers and memory budget), without a place under the connection caps. The
    /// machine's response time-out and the connect timer run from now.
    pub fn responder_for(&mut self, stream: TcpStream, peer: SocketAddr) -> RtsConnection {
        self.responder(stream, peer, None)
    }

    fn responder(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        slot: Option<super::Slot>,
    ) -> RtsConnection {
        let reference = self.next_reference;
        self.next_reference = self.next_reference.checked_add(1).unwrap_or(1);
        let limits = self.gate.limits();
        let config = limits
            .apply(self.config.clone())
            .with_local_reference(reference);
        let now = Instant::now();
        let mut rts = Rts::responder(
            config,
            self.dispatch.clone(),
            Some(peer.ip()),
            self.settings.clone(),
        );
        rts.handle_transport_accepted(now);
        let mut guard =
            ConnectionLimits::new(limits.timers(), now).with_budget(self.budget.clone());
        if let Some(slot) = slot {
            guard = guard.with_slot(slot);
        }
        let mut options = self.options;
        if let Some(io) = limits.io_timeout {
            options.write_timeout = options.write_timeout.min(io);
        }
        RtsConnection::new(stream, rts, Some(peer), options).with_limits(guard)
    }
}
