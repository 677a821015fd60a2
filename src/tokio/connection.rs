//! [`Connection`]: one association driven over one byte stream (TCP, TLS, an in-memory duplex),
//! with the adapter's own timers (connect, idle, output) and an optional share of a
//! [`MemoryBudget`].

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;
use ::tokio::time::Instant as TokioInstant;
use bytes::{Buf, Bytes};

use crate::association::{
    AcceptResponse, AssociateRequest, Association, Config, Event, ServiceError, State,
};
use crate::presentation::ContextId;

use super::listener::Slot;

/// The read buffer a connection starts with; it doubles (up to [`READ_MAX`]) while reads fill it.
pub(crate) const READ_START: usize = 1024;
/// The largest read buffer.
pub(crate) const READ_MAX: usize = 64 * 1024;

/// The adapter's timers of one [`Connection`], on top of the association's own
/// ([`Config::response_timeout`], [`Config::user_timeout`], [`Config::receive_timeout`]).
///
/// Default: no connect or idle timer, output timer 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timers {
    /// From the start of the connection until the association is established (responder: TCP
    /// accept to A-ASSOCIATE accepted). When it runs out the association is aborted.
    pub connect: Option<Duration>,
    /// After the association is established: no octet either way for this long aborts it.
    pub idle: Option<Duration>,
    /// Output the peer does not read: from the moment output is queued until the stream has
    /// taken all of it. When it runs out the stream is closed (nothing more can be sent).
    pub io: Option<Duration>,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            connect: None,
            idle: None,
            io: Some(Duration::from_secs(30)),
        }
    }
}

impl Timers {
    /// No timer at all (the association's own still run).
    pub const NONE: Timers = Timers {
        connect: None,
        idle: None,
        io: None,
    };

    /// These timers with another connect timer.
    #[must_use]
    pub fn with_connect(mut self, t: Option<Duration>) -> Self {
        self.connect = t;
        self
    }

    /// These timers with another idle timer.
    #[must_use]
    pub fn with_idle(mut self, t: Option<Duration>) -> Self {
        self.idle = t;
        self
    }

    /// These timers with another output timer.
    #[must_use]
    pub fn with_io(mut self, t: Option<Duration>) -> Self {
        self.io = t;
        self
    }
}

/// Which of the adapter's timers ran out (the association's [`TimerKind`], re-exported: the
/// [`Event::Aborted`] that follows an adapter time-out names it in
/// [`Timeout::Driver`](crate::association::Timeout::Driver)).
pub use crate::association::TimerKind;

/// Something the adapter did on its own, reported before the events it causes (see
/// [`Connection::poll_notice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notice {
    /// A timer ran out: the association is aborted (connect, idle) or the stream closed (io).
    Timeout(TimerKind),
    /// Holding this connection's input or output would exceed the shared [`MemoryBudget`]: the
    /// association is aborted.
    MemoryBudget {
        /// Octets this connection would have held.
        wanted: usize,
    },
}

/// A memory budget shared by connections: the octets of input being reassembled and of
/// output the peer has not read, over all connections that hold a clone. A connection whose
/// holdings would take the total over the limit is aborted ([`Notice::MemoryBudget`]).
///
/// ```
/// let budget = osi_stack::tokio::MemoryBudget::new(1 << 20);
/// assert_eq!(budget.used(), 0);
/// assert_eq!(budget.limit(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    inner: Arc<BudgetInner>,
}

#[derive(Debug)]
struct BudgetInner {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` octets.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            inner: Arc::new(BudgetInner {
                limit,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// Octets held now.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    fn try_grow(&self, n: usize) -> bool {
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= self.inner.limit)
            })
            .is_ok()
    }

    fn shrink(&self, n: usize) {
        let _ = self
            .inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(n))
            });
    }
}

/// One connection's share of a [`MemoryBudget`]; given back when dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    pub(crate) budget: MemoryBudget,
    pub(crate) held: usize,
}

impl Charge {
    /// Sets the share to `now` octets; `false` (share unchanged) when the budget cannot give it.
    pub(crate) fn set(&mut self, now: usize) -> bool {
        if now > self.held {
            if !self.budget.try_grow(now.saturating_sub(self.held)) {
                return false;
            }
        } else {
            self.budget.shrink(self.held.saturating_sub(now));
        }
        self.held = now;
        true
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.shrink(self.held);
    }
}

/// Whether the association is in data transfer or releasing (the connect timer is over).
fn established(a: &Association) -> bool {
    matches!(
        a.state(),
        State::Associated | State::AwaitRelease | State::AwaitReleaseResponse
    )
}

/// One association driven over one byte stream `S`: a `TcpStream` (the default), a TLS
/// stream (feature `tls`), or `tokio::io::duplex` in tests.
///
/// Every method flushes what the association has to send; [`Connection::next_event`] also
/// reads from the stream and runs the timers (the association's and the adapter's
/// [`Timers`]). After [`Event::Closed`] the stream is shut down and `next_event` returns
/// `None`.
///
/// Every wait has a deadline: the peer's answers and the rest of a frame or TSDU (the
/// association's timers), the application's answers ([`Config::user_timeout`], checked when
/// `next_event` runs), the start of the association and idleness ([`Timers::connect`],
/// [`Timers::idle`]), and the peer reading the output ([`Timers::io`]).
///
/// # Cancel safety
///
/// Output waiting to be written is kept in the connection, so a cancelled `flush` (or any
/// method that flushes) loses nothing: the next call writes the rest. Input is handed to the
/// association as soon as a read returns. Each method says what a cancellation means for it.
#[derive(Debug)]
pub struct Connection<S = TcpStream> {
    stream: S,
    association: Association,
    buf: Vec<u8>,
    out: VecDeque<Bytes>,
    out_len: usize,
    peer: Option<SocketAddr>,
    timers: Timers,
    started: Instant,
    connect_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    last_activity: Instant,
    notices: VecDeque<Notice>,
    charge: Option<Charge>,
    /// Close the transport once the output is written (after an abort of the adapter).
    close_after_flush: bool,
    /// The adapter aborted: no more notices, the memory charge only goes down.
    given_up: bool,
    /// `Closed` was taken from the association; the stream is shut down before it is returned.
    closing: bool,
    finished: bool,
    _slot: Option<Slot>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Connection<S> {
    /// Wraps a connected stream and an association (initiator or responder), with the default
    /// [`Timers`] and no memory budget.
    pub fn new(stream: S, association: Association) -> Self {
        let now = Instant::now();
        Connection {
            stream,
            association,
            buf: vec![0; READ_START],
            out: VecDeque::new(),
            out_len: 0,
            peer: None,
            timers: Timers::default(),
            started: now,
            connect_deadline: None,
            write_deadline: None,
            last_activity: now,
            notices: VecDeque::new(),
            charge: None,
            close_after_flush: false,
            given_up: false,
            closing: false,
            finished: false,
            _slot: None,
        }
    }

    /// The same connection with these timers; the connect timer runs from when the
    /// connection was created.
    #[must_use]
    pub fn with_timers(mut self, timers: Timers) -> Self {
        self.timers = timers;
        self.connect_deadline = timers
            .connect
            .filter(|_| !established(&self.association))
            .and_then(|d| self.started.checked_add(d));
        self
    }

    /// The same connection counting its input and output against `budget`.
    #[must_use]
    pub fn with_budget(mut self, budget: MemoryBudget) -> Self {
        self.charge = Some(Charge { budget, held: 0 });
        self
    }

    /// The same connection reporting `peer` as the peer's address.
    #[must_use]
    pub fn with_peer_addr(mut self, peer: Option<SocketAddr>) -> Self {
        self.peer = peer;
        self
    }

    pub(crate) fn with_slot(mut self, slot: Slot, started: Instant) -> Self {
        self._slot = Some(slot);
        self.started = started;
        self.last_activity = started;
        self
    }

    /// Starts an initiator on a connected stream: sends the CR.
    ///
    /// Cancel safety: if cancelled, the CR may be partly written; drop the stream.
    pub async fn initiate(
        stream: S,
        config: Config,
        request: AssociateRequest,
    ) -> Result<Self, ServiceError> {
        let mut association = Association::initiator(config);
        association.associate(request, Instant::now())?;
        let mut c = Connection::new(stream, association);
        let _ = c.flush().await;
        Ok(c)
    }

    /// The association, for service requests and state. Requests made on it directly are
    /// sent by the next [`flush`](Self::flush) or [`next_event`](Self::next_event).
    pub fn association(&mut self) -> &mut Association {
        &mut self.association
    }

    /// The stream (for example the TLS session, to read the peer's certificate).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The peer's address, when known (TCP and TLS over TCP).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The timers in force.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// What the adapter did on its own since the last call (a timer ran out, the memory
    /// budget was exceeded). A notice is queued before the events it causes, so calling this
    /// before printing each event from [`next_event`](Self::next_event) keeps the order.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Octets of output queued and not yet taken by the stream.
    pub fn pending_output(&self) -> usize {
        self.out_len
    }

    /// Moves the association's output into the queue and updates the memory charge.
    /// `false`: the budget was exceeded.
    fn collect(&mut self) -> bool {
        while let Some(b) = self.association.poll_transmit() {
            if b.is_empty() {
                continue;
            }
            if self.out.is_empty() {
                self.write_deadline = self.timers.io.and_then(|d| Instant::now().checked_add(d));
            }
            self.out_len = self.out_len.saturating_add(b.len());
            self.out.push_back(b);
        }
        self.recharge()
    }

    fn recharge(&mut self) -> bool {
        if self.given_up {
            return self.recharge_release();
        }
        let held = self
            .association
            .buffered_input()
            .saturating_add(self.association.pending_transmit())
            .saturating_add(self.out_len);
        let Some(c) = &mut self.charge else {
            return true;
        };
        if c.set(held) {
            return true;
        }
        super::trace::warn!(
            peer = ?self.peer,
            wanted = held,
            used = c.budget.used(),
            limit = c.budget.limit(),
            "memory budget exceeded: aborting the association"
        );
        self.notices
            .push_back(Notice::MemoryBudget { wanted: held });
        false
    }

    /// Ends the association from the adapter: abort (AB with ARU, or a plain close before a
    /// session exists), then close the transport once that is written.
    fn abort_here(&mut self, timer: Option<TimerKind>) {
        let now = Instant::now();
        // What cannot be held any more is dropped; the abort goes out on its own.
        self.drop_output();
        let aborted = match timer {
            Some(which) => self.association.abort_on_timeout(which, now),
            // The only other reason the adapter aborts: the memory budget.
            None => self.association.abort_over_budget(now),
        };
        if aborted.is_err() && !self.association.is_closed() {
            self.association.handle_transport_closed(now);
        }
        self.close_after_flush = true;
        // From here on the charge only goes down; the AB is small.
        self.given_up = true;
        let _ = self.collect();
    }

    /// Lowers the charge to what is held, never refusing.
    fn recharge_release(&mut self) -> bool {
        let held = self
            .association
            .buffered_input()
            .saturating_add(self.out_len);
        if let Some(c) = &mut self.charge {
            let now = held.min(c.held);
            let _ = c.set(now);
        }
        true
    }

    fn drop_output(&mut self) {
        self.out.clear();
        self.out_len = 0;
        self.write_deadline = None;
        self.recharge_release();
    }

    /// The transport is gone (write failed or timed out): the association learns it.
    fn transport_lost(&mut self) {
        self.drop_output();
        if !self.association.is_closed() {
            self.association.handle_transport_closed(Instant::now());
        }
        self.close_after_flush = false;
        // Anything the machine queued after that cannot be sent.
        while self.association.poll_transmit().is_some() {}
    }

    /// Sends everything the association has to send, gathering frames into vectored writes,
    /// within [`Timers::io`] from when the output was queued.
    ///
    /// Cancel safety: cancel safe; what was not written stays queued for the next call.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.collect() {
            self.abort_here(None);
        }
        while !self.out.is_empty() {
            let write = async {
                // Up to 64 queued pieces (DT headers and, for a large value sent with
                // `send_data_bytes`, slices of the value itself) in one vectored write.
                let mut slices = [IoSlice::new(&[]); 64];
                let mut n = 0usize;
                for (slot, b) in slices.iter_mut().zip(self.out.iter()) {
                    *slot = IoSlice::new(b);
                    n = n.saturating_add(1);
                }
                self.stream
                    .write_vectored(slices.get(..n).unwrap_or_default())
                    .await
            };
            let written = match self.write_deadline {
                Some(at) => {
                    match ::tokio::time::timeout_at(TokioInstant::from_std(at), write).await {
                        Ok(r) => r,
                        Err(_) => {
                            super::trace::warn!(
                                peer = ?self.peer,
                                queued = self.out_len,
                                "io timeout: the peer does not read; closing"
                            );
                            self.notices.push_back(Notice::Timeout(TimerKind::Io));
                            self.transport_lost();
                            return Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "the peer did not read the output in time",
                            ));
                        }
                    }
                }
                None => write.await,
            };
            let mut written = match written {
                Ok(0) => {
                    self.transport_lost();
                    return Err(io::ErrorKind::WriteZero.into());
                }
                Ok(n) => n,
                Err(e) => {
                    self.transport_lost();
                    return Err(e);
                }
            };
            self.last_activity = Instant::now();
            self.out_len = self.out_len.saturating_sub(written);
            while written > 0 {
                let Some(b) = self.out.front_mut() else { break };
                if written >= b.len() {
                    written = written.saturating_sub(b.len());
                    self.out.pop_front();
                } else {
                    b.advance(written);
                    written = 0;
                }
            }
            if self.out.is_empty() {
                self.write_deadline = None;
            }
            let _ = self.recharge_release();
        }
        let _ = self.stream.flush().await;
        if self.close_after_flush {
            self.close_after_flush = false;
            if !self.association.is_closed() {
                self.association.handle_transport_closed(Instant::now());
            }
            while self.association.poll_transmit().is_some() {}
        }
        Ok(())
    }

    /// The earliest of the association's deadline and the adapter's.
    fn deadline(&self) -> Option<Instant> {
        let idle = if self.connect_deadline.is_none() && established(&self.association) {
            self.timers
                .idle
                .and_then(|d| self.last_activity.checked_add(d))
        } else {
            None
        };
        [self.association.poll_timeout(), self.connect_deadline, idle]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.connect_deadline.is_some_and(|d| now >= d) {
            self.connect_deadline = None;
            if !established(&self.association) {
                super::trace::info!(peer = ?self.peer, "connect timeout: aborting");
                self.notices.push_back(Notice::Timeout(TimerKind::Connect));
                self.abort_here(Some(TimerKind::Connect));
                return;
            }
        }
        if established(&self.association)
            && self.connect_deadline.is_none()
            && self
                .timers
                .idle
                .and_then(|d| self.last_activity.checked_add(d))
                .is_some_and(|d| now >= d)
        {
            super::trace::info!(peer = ?self.peer, "idle timeout: aborting");
            self.notices.push_back(Notice::Timeout(TimerKind::Idle));
            self.abort_here(Some(TimerKind::Idle));
            return;
        }
        if self.association.poll_timeout().is_some_and(|d| now >= d) {
            self.association.handle_timeout(now);
        }
    }

    /// The next event, reading from the stream as needed. `None` once the association is
    /// finished and its last event was returned.
    ///
    /// Cancel safety: cancel safe. Input read before the cancellation was given to the
    /// association, whose events come with the next call; queued output stays queued.
    pub async fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            if self.closing {
                if let Some(io) = self.timers.io.or(Some(Duration::from_secs(30))) {
                    let _ = ::tokio::time::timeout(io, self.stream.shutdown()).await;
                }
                self.closing = false;
                self.finished = true;
                return Ok(Some(Event::Closed));
            }
            if let Err(e) = self.flush().await {
                if let Some(ev) = self.take_event() {
                    return Ok(Some(ev));
                }
                if self.closing {
                    continue;
                }
                return Err(e);
            }
            if let Some(ev) = self.take_event() {
                return Ok(Some(ev));
            }
            if self.closing {
                continue;
            }
            if self.finished || self.association.is_closed() {
                return Ok(None);
            }
            let deadline = self.deadline();
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
                None => self.on_deadline(),
                Some(Ok(0)) | Some(Err(_)) => {
                    self.association.handle_transport_closed(Instant::now());
                }
                Some(Ok(n)) => {
                    let now = Instant::now();
                    self.last_activity = now;
                    let data = self.buf.get(..n).unwrap_or_default();
                    self.association.handle_input(data, now);
                    if n == self.buf.len() && self.buf.len() < READ_MAX {
                        let grown = self.buf.len().saturating_mul(2).min(READ_MAX);
                        self.buf.resize(grown, 0);
                    } else if n < self.buf.len() / 8 && self.buf.len() > READ_START {
                        // Small reads again: give the memory back.
                        let shrunk = (self.buf.len() / 2).max(READ_START);
                        self.buf.truncate(shrunk);
                        self.buf.shrink_to_fit();
                    }
                    if !self.recharge() {
                        self.abort_here(None);
                    }
                }
            }
        }
    }

    /// The next event of the association, marking the end of the connect timer and the
    /// stream's shutdown on `Closed`.
    fn take_event(&mut self) -> Option<Event> {
        let ev = self.association.poll_event()?;
        match ev {
            Event::Associated(_) => self.connect_deadline = None,
            Event::Closed => {
                self.closing = true;
                return None;
            }
            _ => {}
        }
        Some(ev)
    }

    /// P-DATA request (see [`Association::send_data`]), flushed.
    ///
    /// Cancel safety: the data is queued before the first await; a cancellation only stops
    /// the flush (see [`flush`](Self::flush)).
    pub async fn send_data(
        &mut self,
        context_id: ContextId,
        value: &[u8],
    ) -> Result<(), ConnectionError> {
        self.association
            .send_data(context_id, value, Instant::now())?;
        Ok(self.flush().await?)
    }

    /// P-DATA request with a value already in a [`Bytes`] (see
    /// [`Association::send_data_bytes`]), flushed: a value of 4 KiB or more is not copied,
    /// it goes to the socket from its own buffer between the DT and upper-layer headers, in
    /// vectored writes (a partial write resumes where it stopped).
    ///
    /// Cancel safety: as [`send_data`](Self::send_data).
    pub async fn send_data_bytes(
        &mut self,
        context_id: ContextId,
        value: Bytes,
    ) -> Result<(), ConnectionError> {
        self.association
            .send_data_bytes(context_id, value, Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-ASSOCIATE response accepting (responder), flushed.
    ///
    /// Cancel safety: as [`send_data`](Self::send_data).
    pub async fn accept(&mut self, response: AcceptResponse) -> Result<(), ConnectionError> {
        self.association.accept(response, Instant::now())?;
        self.connect_deadline = None;
        Ok(self.flush().await?)
    }

    /// A-ASSOCIATE response rejecting (responder), flushed.
    ///
    /// Cancel safety: as [`send_data`](Self::send_data).
    pub async fn reject(&mut self) -> Result<(), ConnectionError> {
        self.association.reject(Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-RELEASE request, then waits for the outcome (bounded by the association's response
    /// time-out): `released` true, or false when the peer refused (NF) or the association
    /// ended otherwise. Events that arrive meanwhile are returned in `events`.
    ///
    /// Cancel safety: not cancel safe: the events gathered so far are lost (the association
    /// itself stays consistent; go on with [`next_event`](Self::next_event)).
    pub async fn release(&mut self) -> Result<ReleaseOutcome, ConnectionError> {
        self.association.release(Instant::now())?;
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
    ///
    /// Cancel safety: as [`send_data`](Self::send_data).
    pub async fn release_response(&mut self, accept: bool) -> Result<(), ConnectionError> {
        self.association.release_response(accept, Instant::now())?;
        Ok(self.flush().await?)
    }

    /// A-ABORT request, flushed; the association then waits (TIM) for the peer to close.
    ///
    /// Cancel safety: as [`send_data`](Self::send_data).
    pub async fn abort(&mut self) -> Result<(), ConnectionError> {
        self.association.abort(Instant::now())?;
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
