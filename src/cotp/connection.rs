//! A class-0 transport connection (X.224 §6 and §8 as RFC 1006 runs them over TCP): a sans-IO
//! machine that S7 and RDP tools can use alone, and that the session layer sits on.
//!
//! [`Connection`] turns the bytes of one TCP connection into transport events and transport
//! requests into bytes: CR/CC (class and TPDU-size negotiation by [`class0`]), DT segmentation
//! (as [`Segments`](crate::cotp::Segments) cuts a TSDU, written into one reused buffer; a large
//! shared part goes out as slices of itself, see [`Connection::send_shared`]) and reassembly
//! ([`Reassembler`], bounded by [`Limits`]), DR, ER. It never
//! touches a socket, a clock or a random number generator; the owner:
//!
//! - feeds received bytes to [`Connection::handle_input`] (any chunking), tells it when TCP was
//!   accepted ([`Connection::handle_transport_accepted`], a responder) and when it closed
//!   ([`Connection::handle_transport_closed`]);
//! - sends what [`Connection::poll_transmit`] returns, in order (several at once with a
//!   vectored write, if it likes: a DT's header and its user data may be separate pieces);
//! - reads [`Connection::poll_event`] until `None` after every call;
//! - calls [`Connection::handle_timeout`] at [`Connection::poll_timeout`];
//! - closes TCP after [`Event::Closed`] (once the remaining transmits are sent).
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use osi_stack::address::TSel;
//! use osi_stack::cotp::connection::{Config, ConnectRequest, Connection, Event};
//!
//! let now = Instant::now();
//! let mut client = Connection::initiator(Config::default());
//! let mut server = Connection::responder(Config::default());
//! let request = ConnectRequest::default().with_called_tsel(TSel::new(b"\x01\x02")?);
//! client.connect(&request, now)?;
//! let mut pump = |from: &mut Connection, to: &mut Connection| {
//!     while let Some(bytes) = from.poll_transmit() { to.handle_input(&bytes, now); }
//! };
//! pump(&mut client, &mut server); // CR
//! let Some(Event::ConnectIndication(ind)) = server.poll_event() else { panic!() };
//! assert_eq!(ind.called_tsel.as_deref(), Some(&b"\x01\x02"[..]));
//! server.accept(now)?;
//! pump(&mut server, &mut client); // CC
//! assert!(matches!(client.poll_event(), Some(Event::Connected(c)) if c.tpdu_size == 8192));
//! client.send(Bytes::from(vec![0x32; 20_000]), now)?; // three DTs
//! pump(&mut client, &mut server);
//! assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
//! assert!(matches!(server.poll_event(), Some(Event::Tsdu(t)) if t.len() == 20_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reactions to a bad peer (X.224 class 0)
//!
//! | received | reaction | event |
//! |---|---|---|
//! | a TPKT header that is not RFC 1006 (version ≠ 3, length < 7) | ER cause 0 (the bytes up to the bad octet), close | [`Disconnect::ProtocolError`] |
//! | a TPDU that does not decode, or is not valid in the state (a second CR, a CC to a responder, a DT before the CC, AK/EA/RJ/DC of other classes) | ER with the cause the error suggests, close | [`Disconnect::ProtocolError`] |
//! | a CR this responder cannot accept (class, TPDU size) | DR 0x82 or ER, close | [`Disconnect::Refused`] |
//! | a CC that does not answer the CR (class, DST-REF, size) | close | [`Disconnect::ProtocolError`] |
//! | a DT longer than the negotiated TPDU size, or with class-2 fields | ER, close | [`Disconnect::ProtocolError`] |
//! | a TSDU over [`Limits::max_tsdu`] octets or [`Limits::max_segments`] DTs | ER, close | [`Disconnect::ProtocolError`] (a limit error) |
//! | DR or ER from the peer | close | [`Disconnect::Dr`] / [`Disconnect::Er`] |
//! | silence: no CR after the transport was accepted, no CC after the CR, no answer from the user to a CR, within [`Config::connect_timeout`] | close | [`Disconnect::Timeout`] |
//! | a frame or TSDU started and not finished within [`Config::receive_timeout`] (trickled octets do not restart it) | close | [`Disconnect::Timeout`] |
//!
//! Class 0 has no disconnect procedure once connected: either side releases the transport
//! connection by closing TCP ([`Connection::disconnect`]).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::address::TSel;
use crate::cotp::{
    DisconnectReason, Params, ParamsBuf, Reassembler, RejectCause, Tpdu, TpduSize, class0, segment,
};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;
use crate::tpkt;

/// Settings of a transport connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest TPDU this side proposes (initiator) or accepts (responder), in octets (128 to
    /// 65531; rounded down to an X.224 code). Default 8192.
    pub tpdu_size: usize,
    /// This side's reference (SRC-REF of the CR or CC). Default 1.
    pub local_reference: u16,
    /// Treat parameters class 0 does not use in a CC as protocol errors. Default false.
    pub strict: bool,
    /// Bounds on a reassembled TSDU ([`Limits::max_tsdu`], [`Limits::max_segments`]).
    pub limits: Limits,
    /// How long to wait for the CR (from [`Connection::handle_transport_accepted`]), for the
    /// CC, and for the user's answer to a CR. Default 30 s.
    pub connect_timeout: Duration,
    /// How long a TPKT frame or a TSDU may stay incomplete, from its first octet. Default 30 s;
    /// `None` waits forever.
    pub receive_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tpdu_size: 8192,
            local_reference: 1,
            strict: false,
            limits: Limits::DEFAULT,
            connect_timeout: Duration::from_secs(30),
            receive_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl Config {
    /// The same settings with another TPDU size.
    #[must_use]
    pub fn with_tpdu_size(mut self, octets: usize) -> Self {
        self.tpdu_size = octets;
        self
    }

    /// The same settings with other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The same settings with other time-outs.
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, receive: Option<Duration>) -> Self {
        self.connect_timeout = connect;
        self.receive_timeout = receive;
        self
    }

    /// The same settings with another local reference.
    #[must_use]
    pub fn with_local_reference(mut self, reference: u16) -> Self {
        self.local_reference = reference;
        self
    }

    /// The same settings with strict CC checking on or off.
    #[must_use]
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

/// What an initiator puts in its CR besides the TPDU size of its [`Config`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectRequest {
    /// Calling T-selector (CR parameter 0xC1).
    pub calling_tsel: Option<TSel>,
    /// Called T-selector (0xC2).
    pub called_tsel: Option<TSel>,
}

impl ConnectRequest {
    /// The same request with a calling T-selector.
    #[must_use]
    pub fn with_calling_tsel(mut self, tsel: TSel) -> Self {
        self.calling_tsel = Some(tsel);
        self
    }

    /// The same request with a called T-selector.
    #[must_use]
    pub fn with_called_tsel(mut self, tsel: TSel) -> Self {
        self.called_tsel = Some(tsel);
        self
    }
}

/// A CR this responder can accept, waiting for [`Connection::accept`] or
/// [`Connection::refuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectIndication {
    /// The calling T-selector as received (`None`: absent; empty: present with length 0).
    pub calling_tsel: Option<Bytes>,
    /// The called T-selector as received.
    pub called_tsel: Option<Bytes>,
    /// The TPDU size the CC will carry.
    pub tpdu_size: usize,
    /// The peer's reference (the CR's SRC-REF).
    pub peer_reference: u16,
}

/// The transport connection is open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// The TPDU size both sides use, in octets.
    pub tpdu_size: usize,
    /// The peer's reference.
    pub peer_reference: u16,
    /// Initiator: the responding T-selector of the CC, if any.
    pub responding_tsel: Option<Bytes>,
}

/// A wait that can run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wait {
    /// The CR (responder), the CC (initiator), or the user's answer to a CR.
    Connect,
    /// The rest of a TPKT frame or of a TSDU.
    Receive,
}

impl Wait {
    /// A short name: `connect`, `receive`.
    pub const fn name(self) -> &'static str {
        match self {
            Wait::Connect => "connect",
            Wait::Receive => "receive",
        }
    }
}

/// Why the transport connection ended, or was never made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disconnect {
    /// The peer sent a DR: refusing the CR, or (outside class 0's rules) later.
    Dr(DisconnectReason),
    /// The peer sent an ER.
    Er(RejectCause),
    /// The peer broke the protocol; this side answered with an ER where X.224 asks for one
    /// and closed. The error names the layer (TPKT or COTP), the offset within the frame and
    /// what was wrong.
    ProtocolError(DecodeError),
    /// This side refused the peer's CR with a DR or an ER (automatically, or by
    /// [`Connection::refuse`]).
    Refused(class0::Refusal),
    /// A wait ran out.
    Timeout(Wait),
    /// TCP closed (or was reset).
    TransportClosed,
    /// This side's user released the connection ([`Connection::disconnect`]).
    Local,
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::Dr(r) => match r.description() {
                Some(d) => write!(f, "dr {:#04x}: {d}", r.0),
                None => write!(f, "dr {:#04x}", r.0),
            },
            Disconnect::Er(c) => match c.description() {
                Some(d) => write!(f, "er cause {:#04x}: {d}", c.0),
                None => write!(f, "er cause {:#04x}", c.0),
            },
            Disconnect::ProtocolError(e) => write!(f, "protocol error: {e}"),
            Disconnect::Refused(class0::Refusal::Disconnect(r)) => {
                write!(f, "cr refused with dr {:#04x}", r.0)
            }
            Disconnect::Refused(class0::Refusal::Reject { cause, offset }) => write!(
                f,
                "cr rejected with er cause {:#04x} (octet {offset})",
                cause.0
            ),
            Disconnect::Timeout(w) => write!(f, "{} time-out", w.name()),
            Disconnect::TransportClosed => f.write_str("transport connection closed"),
            Disconnect::Local => f.write_str("released by this side"),
        }
    }
}

/// What a transport connection tells its user, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A CR arrived (responder): answer with [`Connection::accept`] or [`Connection::refuse`].
    ConnectIndication(ConnectIndication),
    /// The connection is open: CC received (initiator) or sent (responder).
    Connected(Connected),
    /// A whole TSDU (the user data of DTs up to EOT): a slice of the frame when one DT carried
    /// it, no copy.
    Tsdu(Bytes),
    /// The connection ended, or was never made, and why. [`Event::Closed`] follows.
    Disconnected(Disconnect),
    /// The machine is finished: send what [`Connection::poll_transmit`] still returns, then
    /// close TCP. Always the last event.
    Closed,
}

/// A request that cannot be carried out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is not valid in the connection's state.
    #[error("cotp: {request} is not allowed in state {state}")]
    WrongState {
        /// The request.
        request: &'static str,
        /// The state's name.
        state: &'static str,
    },
    /// A value does not fit its field.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Initiator (sends the CR) or responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sends the CR.
    Initiator,
    /// The side that accepted TCP and answers the CR.
    Responder,
}

/// A CR that passed [`class0::respond`], kept until the user answers it.
#[derive(Debug)]
struct PendingCr {
    peer_ref: u16,
    tpdu_size: usize,
    cc_params: ParamsBuf,
}

/// Each state carries what only it needs.
#[derive(Debug)]
enum State {
    /// Initiator before [`Connection::connect`].
    Idle,
    /// Initiator: CR sent.
    AwaitCc(class0::Proposal),
    /// Responder: waiting for the CR.
    AwaitCr,
    /// Responder: the user decides on this CR.
    AwaitUser(Box<PendingCr>),
    /// Data transfer.
    Open {
        tpdu_size: usize,
        reassembler: Reassembler,
    },
    /// Finished.
    Closed,
}

/// Where a transport connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Initiator before [`Connection::connect`].
    Idle,
    /// Initiator: CR sent, waiting for CC.
    AwaitCc,
    /// Responder: waiting for the CR.
    AwaitCr,
    /// Responder: the user decides on the CR.
    AwaitUser,
    /// Data transfer.
    Open,
    /// Finished.
    Closed,
}

impl Phase {
    /// A short name for logs and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::AwaitCc => "await-cc",
            Phase::AwaitCr => "await-cr",
            Phase::AwaitUser => "await-user",
            Phase::Open => "open",
            Phase::Closed => "closed",
        }
    }
}

impl State {
    fn phase(&self) -> Phase {
        match self {
            State::Idle => Phase::Idle,
            State::AwaitCc(_) => Phase::AwaitCc,
            State::AwaitCr => Phase::AwaitCr,
            State::AwaitUser(_) => Phase::AwaitUser,
            State::Open { .. } => Phase::Open,
            State::Closed => Phase::Closed,
        }
    }

    fn name(&self) -> &'static str {
        self.phase().name()
    }
}

/// Shared parts of a TSDU shorter than this are copied next to the DT headers; longer ones go
/// out as slices of themselves.
const COPY_LIMIT: usize = 4096;

/// The TPKT and class-0 DT headers of a DT carrying `len` octets, written by
/// [`segment::encode_dt_header`] into an array: the data path copies it with one fixed-size
/// write, and a change to the encoder changes what is sent.
#[inline]
fn dt_frame_header(len: usize, eot: bool) -> Result<[u8; segment::FRAME_HEADER_LEN], EncodeError> {
    let mut h = [0u8; segment::FRAME_HEADER_LEN];
    segment::encode_dt_header(len, eot, &mut &mut h[..])?;
    Ok(h)
}

/// Small TSDUs and frames are cut from blocks of at least this size (the `BytesMut` arena
/// pattern): one reservation serves many of them, and a block is reused from its front once
/// everything cut from it was dropped.
const ARENA: usize = 8192;

/// Makes room for `n` more octets in `buf`, reserving a whole block when it must reserve.
#[inline]
fn arena_reserve(buf: &mut BytesMut, n: usize) {
    if buf.capacity().saturating_sub(buf.len()) < n {
        buf.reserve(n.max(ARENA));
    }
}

/// One piece of a TSDU to send.
#[derive(Clone, Copy)]
enum Piece<'a> {
    /// Copied into the DTs.
    Copy(&'a [u8]),
    /// Sent as slices of itself.
    Share(&'a Bytes),
}

impl<'a> Piece<'a> {
    fn of(b: &'a Bytes) -> Self {
        if b.len() < COPY_LIMIT {
            Piece::Copy(b)
        } else {
            Piece::Share(b)
        }
    }

    fn len(&self) -> usize {
        match self {
            Piece::Copy(b) => b.len(),
            Piece::Share(b) => b.len(),
        }
    }
}

/// One class-0 transport connection (sans-IO). See the [module docs](self).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    /// Received octets not yet framed.
    rx: BytesMut,
    /// Where DT headers and copied user data are written; reused once what it handed out was
    /// sent and dropped.
    txbuf: BytesMut,
    /// Holds the user data of a single-DT TSDU framed straight from the caller's input.
    whole: BytesMut,
    tx: VecDeque<Bytes>,
    events: VecDeque<Event>,
    /// The connect deadline.
    connect_deadline: Option<Instant>,
    /// When the incomplete frame or TSDU began.
    partial_since: Option<Instant>,
}

impl Connection {
    fn new(role: Role, config: Config, state: State) -> Self {
        Connection {
            role,
            config,
            state,
            rx: BytesMut::new(),
            txbuf: BytesMut::new(),
            whole: BytesMut::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            connect_deadline: None,
            partial_since: None,
        }
    }

    /// An initiator: start it with [`Connection::connect`] once TCP is connected.
    pub fn initiator(config: Config) -> Self {
        Self::new(Role::Initiator, config, State::Idle)
    }

    /// A responder: it waits for a CR.
    pub fn responder(config: Config) -> Self {
        Self::new(Role::Responder, config, State::AwaitCr)
    }

    /// Initiator or responder.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The negotiated TPDU size, once open.
    pub fn tpdu_size(&self) -> Option<usize> {
        match &self.state {
            State::Open { tpdu_size, .. } => Some(*tpdu_size),
            _ => None,
        }
    }

    /// Whether data can be sent and received.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// Whether the machine is finished.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Where the connection is.
    pub fn phase(&self) -> Phase {
        self.state.phase()
    }

    /// Octets of peer input held: an incomplete frame plus the DTs of an incomplete TSDU.
    /// Bounded by 65 535 plus [`Limits::max_tsdu`].
    pub fn buffered_input(&self) -> usize {
        let held = match &self.state {
            State::Open { reassembler, .. } => reassembler.pending_len(),
            _ => 0,
        };
        self.rx.len().saturating_add(held)
    }

    /// Octets waiting in [`Connection::poll_transmit`].
    pub fn pending_transmit(&self) -> usize {
        self.tx
            .iter()
            .map(Bytes::len)
            .fold(0, usize::saturating_add)
    }

    /// The next bytes to send on TCP, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.tx.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether [`Connection::poll_event`] has something.
    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`Connection::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let receive = self
            .partial_since
            .zip(self.config.receive_timeout)
            .and_then(|(t, d)| t.checked_add(d));
        match (self.connect_deadline, receive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn wrong_state(&self, request: &'static str) -> ServiceError {
        ServiceError::WrongState {
            request,
            state: self.state.name(),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Requests

    /// Sends the CR (initiator, TCP connected): class 0, [`Config::tpdu_size`], the selectors.
    pub fn connect(&mut self, request: &ConnectRequest, now: Instant) -> Result<(), ServiceError> {
        if !matches!(self.state, State::Idle) {
            return Err(self.wrong_state("connect"));
        }
        let size = TpduSize::at_most(self.config.tpdu_size.clamp(128, 8192));
        let mut params = ParamsBuf::new();
        params.tpdu_size(size);
        if let Some(t) = &request.calling_tsel {
            params.calling_tsel(t.as_bytes())?;
        }
        if let Some(t) = &request.called_tsel {
            params.called_tsel(t.as_bytes())?;
        }
        let cr = Tpdu::Cr(crate::cotp::Connect {
            cdt: 0,
            dst_ref: 0,
            src_ref: self.config.local_reference,
            class_option: crate::cotp::ClassOption::CLASS0,
            params: params.as_params(),
            header_data: &[],
            user_data: &[],
        });
        self.push_tpdu(&cr)?;
        self.state = State::AwaitCc(class0::Proposal {
            src_ref: self.config.local_reference,
            tpdu_size: Some(size),
            preferred_max_tpdu_size: None,
        });
        self.connect_deadline = now.checked_add(self.config.connect_timeout);
        Ok(())
    }

    /// Accepts the CR of [`Event::ConnectIndication`]: sends the CC.
    pub fn accept(&mut self, _now: Instant) -> Result<(), ServiceError> {
        let State::AwaitUser(pending) = &self.state else {
            return Err(self.wrong_state("accept"));
        };
        let cc = class0::cc(
            pending.peer_ref,
            self.config.local_reference,
            &pending.cc_params,
        );
        let mut frame = BytesMut::with_capacity(cc.encoded_len().saturating_add(4));
        tpkt::encode_header(cc.encoded_len(), &mut frame)?;
        cc.encode(&mut frame)?;
        let connected = Connected {
            tpdu_size: pending.tpdu_size,
            peer_reference: pending.peer_ref,
            responding_tsel: None,
        };
        self.tx.push_back(frame.freeze());
        self.open(connected);
        Ok(())
    }

    /// Refuses the CR of [`Event::ConnectIndication`] with a DR carrying `reason` (for example
    /// [`DisconnectReason::ADDRESS_UNKNOWN`] for an unknown called T-selector), then closes.
    pub fn refuse(&mut self, reason: DisconnectReason, _now: Instant) -> Result<(), ServiceError> {
        let State::AwaitUser(pending) = &self.state else {
            return Err(self.wrong_state("refuse"));
        };
        let dr = Tpdu::Dr(crate::cotp::Disconnect {
            dst_ref: pending.peer_ref,
            src_ref: 0,
            reason,
            params: Params::EMPTY,
            user_data: &[],
        });
        self.push_tpdu(&dr)?;
        self.finish(Disconnect::Refused(class0::Refusal::Disconnect(reason)));
        Ok(())
    }

    /// Sends one TSDU as DTs of the negotiated size (one empty DT for an empty TSDU).
    pub fn send(&mut self, tsdu: Bytes, now: Instant) -> Result<(), ServiceError> {
        self.send_parts(&[tsdu], now)
    }

    /// Sends one TSDU given as consecutive parts (for example a header and a body), without
    /// first joining them: DTs that fall inside a large part carry a slice of it.
    pub fn send_parts(&mut self, parts: &[Bytes], _now: Instant) -> Result<(), ServiceError> {
        let mut pieces = [Piece::Copy(&[]); 4];
        if parts.len() <= pieces.len() {
            for (slot, p) in pieces.iter_mut().zip(parts) {
                *slot = Piece::of(p);
            }
            let n = parts.len();
            return self.send_pieces(pieces.get(..n).unwrap_or_default());
        }
        let pieces: Vec<Piece<'_>> = parts.iter().map(Piece::of).collect();
        self.send_pieces(&pieces)
    }

    /// Sends one TSDU that is `head` (small pieces: headers, copied) followed by `value`, which
    /// is copied into the DTs: the data path of a caller holding a borrowed value. Nothing is
    /// allocated once the transmit buffer has grown and the previous output was sent.
    pub fn send_copied(
        &mut self,
        head: &[&[u8]],
        value: &[u8],
        _now: Instant,
    ) -> Result<(), ServiceError> {
        if let State::Open { tpdu_size, .. } = self.state {
            let total = head
                .iter()
                .map(|h| h.len())
                .fold(value.len(), usize::saturating_add);
            if total <= segment::max_dt_data(tpdu_size) {
                // One DT: its header, the pieces, the value.
                return self.push_one_dt(total, 0, |buf| {
                    for h in head {
                        buf.put_slice(h);
                    }
                    buf.put_slice(value);
                });
            }
        }
        self.send_head_and(head, Piece::Copy(value))
    }

    /// [`Connection::send_copied`] with one header given as the first `head_len` octets of a
    /// fixed-size array: the header is written with a fixed-size copy (no `memcpy` call for a
    /// piece of a few octets).
    pub(crate) fn send_copied_fixed<const N: usize>(
        &mut self,
        head: &[u8; N],
        head_len: usize,
        value: &[u8],
        now: Instant,
    ) -> Result<(), ServiceError> {
        let head_len = head_len.min(N);
        if let State::Open { tpdu_size, .. } = self.state {
            let total = head_len.saturating_add(value.len());
            if total <= segment::max_dt_data(tpdu_size) {
                // The whole array is copied (room for it reserved), then cut to `head_len`.
                return self.push_one_dt(total, N, |buf| {
                    let at = buf.len();
                    buf.put_slice(head);
                    buf.truncate(at.saturating_add(head_len));
                    buf.put_slice(value);
                });
            }
        }
        self.send_copied(&[head.get(..head_len).unwrap_or_default()], value, now)
    }

    /// Queues one DT, the whole TSDU of `total` octets: its TPKT and DT headers, then what
    /// `body` writes (exactly `total` octets), in the reused transmit buffer with room for
    /// `slack` octets more than the frame.
    #[inline]
    fn push_one_dt(
        &mut self,
        total: usize,
        slack: usize,
        body: impl FnOnce(&mut BytesMut),
    ) -> Result<(), ServiceError> {
        let header = dt_frame_header(total, true)?;
        arena_reserve(
            &mut self.txbuf,
            total
                .saturating_add(segment::FRAME_HEADER_LEN)
                .saturating_add(slack),
        );
        self.txbuf.put_slice(&header);
        body(&mut self.txbuf);
        self.tx.push_back(self.txbuf.split().freeze());
        Ok(())
    }

    /// Sends one TSDU that is `head` (small pieces, copied) followed by `value`: a large value
    /// goes out as slices of itself between the DT headers (no copy; see
    /// [`Connection::poll_transmit`]), a small one is copied next to its headers.
    pub fn send_shared(
        &mut self,
        head: &[&[u8]],
        value: &Bytes,
        _now: Instant,
    ) -> Result<(), ServiceError> {
        self.send_head_and(head, Piece::of(value))
    }

    /// `head` (copied) then `last`, through [`Connection::send_pieces`].
    fn send_head_and(&mut self, head: &[&[u8]], last: Piece<'_>) -> Result<(), ServiceError> {
        let mut pieces = [Piece::Copy(&[]); 4];
        if head.len() < pieces.len() {
            for (slot, h) in pieces.iter_mut().zip(head) {
                *slot = Piece::Copy(h);
            }
            let n = head.len();
            if let Some(slot) = pieces.get_mut(n) {
                *slot = last;
            }
            return self.send_pieces(pieces.get(..=n).unwrap_or_default());
        }
        let mut pieces: Vec<Piece<'_>> = head.iter().map(|h| Piece::Copy(h)).collect();
        pieces.push(last);
        self.send_pieces(&pieces)
    }

    /// The segmentation of every send: DT headers and copied pieces are written into one
    /// reused buffer; a shared piece's octets go out as slices of it.
    fn send_pieces(&mut self, pieces: &[Piece<'_>]) -> Result<(), ServiceError> {
        let State::Open { tpdu_size, .. } = self.state else {
            return Err(self.wrong_state("send"));
        };
        let total = pieces.iter().map(Piece::len).fold(0, usize::saturating_add);
        let max = segment::max_dt_data(tpdu_size);
        if total <= max && pieces.iter().all(|p| matches!(p, Piece::Copy(_))) {
            // One DT: its header, then the pieces.
            return self.push_one_dt(total, 0, |buf| {
                for p in pieces {
                    if let Piece::Copy(b) = p {
                        buf.put_slice(b);
                    }
                }
            });
        }
        let dts = total.div_ceil(max).max(1);
        let copied = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Copy(b) => Some(b.len()),
                Piece::Share(_) => None,
            })
            .fold(0, usize::saturating_add);
        arena_reserve(
            &mut self.txbuf,
            dts.saturating_mul(segment::FRAME_HEADER_LEN)
                .saturating_add(copied),
        );
        // Every earlier send left `txbuf` empty (split into the queue); should anything be
        // there, it goes first. Then a header that cannot be written takes back what this TSDU
        // queued and wrote.
        if !self.txbuf.is_empty() {
            self.tx.push_back(self.txbuf.split().freeze());
        }
        let queued = self.tx.len();
        let mut left = total;
        let (mut part, mut at) = (0usize, 0usize);
        loop {
            let take = left.min(max);
            left = left.saturating_sub(take);
            let header = match dt_frame_header(take, left == 0) {
                Ok(h) => h,
                Err(e) => {
                    // Nothing of this TSDU stays behind (not reached: `take` fits a DT).
                    self.tx.truncate(queued);
                    self.txbuf.clear();
                    return Err(e.into());
                }
            };
            self.txbuf.put_slice(&header);
            let mut need = take;
            while need > 0 {
                let Some(p) = pieces.get(part) else { break };
                let (whole, shared) = match p {
                    Piece::Copy(b) => (*b, None),
                    Piece::Share(b) => (&b[..], Some(*b)),
                };
                let avail = whole.len().saturating_sub(at);
                if avail == 0 {
                    part = part.saturating_add(1);
                    at = 0;
                    continue;
                }
                let n = avail.min(need);
                let end = at.saturating_add(n);
                match shared {
                    Some(b) => {
                        if !self.txbuf.is_empty() {
                            self.tx.push_back(self.txbuf.split().freeze());
                        }
                        self.tx.push_back(b.slice(at..end));
                    }
                    None => self.txbuf.put_slice(whole.get(at..end).unwrap_or_default()),
                }
                at = end;
                need = need.saturating_sub(n);
            }
            if left == 0 {
                break;
            }
        }
        if !self.txbuf.is_empty() {
            self.tx.push_back(self.txbuf.split().freeze());
        }
        Ok(())
    }

    /// Releases the connection: class 0 has no disconnect TPDU once open, so this ends the
    /// machine ([`Disconnect::Local`], [`Event::Closed`]); the owner closes TCP.
    pub fn disconnect(&mut self, _now: Instant) {
        if !self.is_closed() {
            self.finish(Disconnect::Local);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Input

    /// TCP was accepted (responder): the CR must arrive within [`Config::connect_timeout`].
    /// Without this call the responder waits for the CR without a time-out (it has no clock).
    pub fn handle_transport_accepted(&mut self, now: Instant) {
        if matches!(self.state, State::AwaitCr) {
            self.connect_deadline = now.checked_add(self.config.connect_timeout);
        }
    }

    /// TCP closed or was reset.
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        if !self.is_closed() {
            self.finish(Disconnect::TransportClosed);
        }
    }

    /// A deadline passed: `now` is at or after [`Connection::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self.connect_deadline.is_some_and(|d| now >= d) {
            self.finish(Disconnect::Timeout(Wait::Connect));
            return;
        }
        let receive = self
            .partial_since
            .zip(self.config.receive_timeout)
            .and_then(|(t, d)| t.checked_add(d));
        if receive.is_some_and(|d| now >= d) {
            self.finish(Disconnect::Timeout(Wait::Receive));
        }
    }

    /// Bytes received on TCP (any chunking).
    ///
    /// Frames that lie whole in `data` are decoded where they are; only an incomplete frame
    /// is kept (copied) until the rest arrives. The user data of DTs is copied once: into
    /// the reassembly buffer, or for a TSDU that one DT carries into the buffer its
    /// [`Event::Tsdu`] shares.
    pub fn handle_input(&mut self, mut data: &[u8], now: Instant) {
        if matches!(self.state, State::Closed | State::Idle) || data.is_empty() {
            return;
        }
        if !self.rx.is_empty() {
            // Complete the frame held from earlier input first.
            let head = tpkt::HEADER_LEN
                .saturating_sub(self.rx.len())
                .min(data.len());
            let (h, rest) = data.split_at(head);
            self.rx.extend_from_slice(h);
            data = rest;
            let n = match tpkt::frame_len(&self.rx) {
                Ok(Some(n)) => n,
                Ok(None) => return self.track_partial(now),
                Err(e) => {
                    let mut bad = self.rx.split();
                    bad.extend_from_slice(data);
                    self.protocol_error(e, &bad, RejectCause::NOT_SPECIFIED);
                    return self.track_partial(now);
                }
            };
            let more = n.saturating_sub(self.rx.len()).min(data.len());
            let (m, rest) = data.split_at(more);
            self.rx.extend_from_slice(m);
            data = rest;
            if self.rx.len() < n {
                return self.track_partial(now);
            }
            let frame = self.rx.split().freeze();
            self.on_frame(&frame, Some(&frame));
        }
        while !self.is_closed() && !data.is_empty() {
            match tpkt::frame_len(data) {
                Ok(Some(n)) if n <= data.len() => {
                    let (frame, rest) = data.split_at(n);
                    self.on_frame(frame, None);
                    data = rest;
                }
                Ok(_) => {
                    self.rx.extend_from_slice(data);
                    break;
                }
                Err(e) => {
                    self.protocol_error(e, data, RejectCause::NOT_SPECIFIED);
                    break;
                }
            }
        }
        self.track_partial(now);
    }

    /// Starts or stops the receive clock: it runs while a frame or a TSDU is incomplete.
    fn track_partial(&mut self, now: Instant) {
        if self.is_closed() || self.buffered_input() == 0 {
            self.partial_since = None;
        } else if self.partial_since.is_none() {
            self.partial_since = Some(now);
        }
    }

    /// One whole TPKT frame; `owner` is the buffer it lies in, if it is shared.
    fn on_frame(&mut self, frame: &[u8], owner: Option<&Bytes>) {
        let payload = frame.get(tpkt::HEADER_LEN..).unwrap_or_default();
        let tpdu = match Tpdu::decode(payload) {
            Ok(t) => t,
            Err(e) => {
                let cause = reject_cause(&e);
                self.protocol_error(e.shifted(tpkt::HEADER_LEN), frame, cause);
                return;
            }
        };
        match (&mut self.state, tpdu) {
            (State::AwaitCr, Tpdu::Cr(cr)) => self.on_cr(&cr, payload),
            (State::AwaitCc(proposal), Tpdu::Cc(cc)) => {
                match class0::check_cc_proposal(proposal, &cc, self.config.strict) {
                    Ok(confirmed) => {
                        let connected = Connected {
                            tpdu_size: confirmed.tpdu_size,
                            peer_reference: confirmed.peer_ref,
                            responding_tsel: confirmed.responding_tsel.map(Bytes::copy_from_slice),
                        };
                        self.open(connected);
                    }
                    // A CC that does not answer the CR: X.224 leaves the connection to be
                    // released; there is nothing to reject on an unconnected class-0 link.
                    Err(e) => self.finish(Disconnect::ProtocolError(e.shifted(tpkt::HEADER_LEN))),
                }
            }
            (
                State::Open {
                    tpdu_size,
                    reassembler,
                },
                Tpdu::Dt(dt),
            ) => {
                if let Err(e) = class0::check_dt(&dt) {
                    self.protocol_error(e.shifted(tpkt::HEADER_LEN), frame, reject_cause(&e));
                    return;
                }
                if payload.len() > *tpdu_size {
                    let e = DecodeError::new(
                        Layer::Cotp,
                        tpkt::HEADER_LEN,
                        DecodeErrorKind::LengthOutOfRange {
                            what: "dt longer than the negotiated tpdu size",
                            value: payload.len(),
                            min: 3,
                            max: *tpdu_size,
                        },
                    );
                    self.protocol_error(e, frame, RejectCause::NOT_SPECIFIED);
                    return;
                }
                match reassembler.push(&dt) {
                    Ok(None) => {}
                    Ok(Some(crate::cotp::Tsdu::Whole(s))) => {
                        let tsdu = match owner {
                            Some(b) => crate::util::sub(b, s),
                            None => {
                                arena_reserve(&mut self.whole, s.len());
                                self.whole.put_slice(s);
                                self.whole.split().freeze()
                            }
                        };
                        self.events.push_back(Event::Tsdu(tsdu));
                    }
                    Ok(Some(crate::cotp::Tsdu::Reassembled(b))) => {
                        self.events.push_back(Event::Tsdu(b));
                    }
                    Err(e) => self.protocol_error(e, frame, RejectCause::NOT_SPECIFIED),
                }
            }
            (_, Tpdu::Dr(dr)) => self.finish(Disconnect::Dr(dr.reason)),
            (_, Tpdu::Er(er)) => self.finish(Disconnect::Er(er.cause)),
            (state, other) => {
                let e = DecodeError::new(
                    Layer::Cotp,
                    tpkt::HEADER_LEN.saturating_add(1),
                    DecodeErrorKind::Unexpected {
                        what: tpdu_name(other.kind()),
                        state: state.name(),
                    },
                );
                self.protocol_error(e, frame, RejectCause::INVALID_TPDU_TYPE);
            }
        }
    }

    fn on_cr(&mut self, cr: &crate::cotp::Connect<'_>, raw: &[u8]) {
        let responder = class0::Responder {
            max_tpdu_size: self.config.tpdu_size,
            ..class0::Responder::default()
        };
        let accepted = class0::respond(cr, &responder).and_then(|a| {
            a.cc_params()
                .map(|p| (a, p))
                .map_err(|_| class0::Refusal::Disconnect(DisconnectReason::NOT_SPECIFIED))
        });
        match accepted {
            Ok((accepted, cc_params)) => {
                self.events
                    .push_back(Event::ConnectIndication(ConnectIndication {
                        calling_tsel: accepted.calling_tsel.map(Bytes::copy_from_slice),
                        called_tsel: accepted.called_tsel.map(Bytes::copy_from_slice),
                        tpdu_size: accepted.tpdu_size,
                        peer_reference: cr.src_ref,
                    }));
                self.state = State::AwaitUser(Box::new(PendingCr {
                    peer_ref: cr.src_ref,
                    tpdu_size: accepted.tpdu_size,
                    cc_params,
                }));
            }
            Err(refusal) => {
                let mut out = BytesMut::new();
                let mut tpdu = Vec::new();
                if refusal.encode(cr, raw, &mut tpdu).is_ok()
                    && tpkt::encode_header(tpdu.len(), &mut out).is_ok()
                {
                    out.put_slice(&tpdu);
                    self.tx.push_back(out.freeze());
                }
                self.finish(Disconnect::Refused(refusal));
            }
        }
    }

    fn open(&mut self, connected: Connected) {
        self.state = State::Open {
            tpdu_size: connected.tpdu_size,
            reassembler: Reassembler::new(self.config.limits),
        };
        self.connect_deadline = None;
        self.events.push_back(Event::Connected(connected));
    }

    /// Answers a protocol error with an ER carrying the offending TPDU's octets up to the error
    /// (X.224 §6.22, §13.12.4), then ends the connection.
    fn protocol_error(&mut self, error: DecodeError, frame: &[u8], cause: RejectCause) {
        let tpdu = frame.get(tpkt::HEADER_LEN..).unwrap_or_default();
        let upto = error
            .offset()
            .saturating_sub(tpkt::HEADER_LEN)
            .saturating_add(1)
            .min(tpdu.len())
            .min(248);
        let invalid = if tpdu.is_empty() {
            frame.get(..frame.len().min(248)).unwrap_or_default()
        } else {
            tpdu.get(..upto).unwrap_or_default()
        };
        let dst_ref = match &self.state {
            State::AwaitUser(p) => p.peer_ref,
            _ => 0,
        };
        let mut params = ParamsBuf::new();
        if params
            .push(crate::cotp::ParamCode::INVALID_TPDU, invalid)
            .is_ok()
        {
            let er = Tpdu::Er(crate::cotp::Error {
                dst_ref,
                cause,
                params: params.as_params(),
            });
            let _ = self.push_tpdu(&er);
        }
        self.finish(Disconnect::ProtocolError(error));
    }

    fn push_tpdu(&mut self, tpdu: &Tpdu<'_>) -> Result<(), EncodeError> {
        let mut frame = BytesMut::with_capacity(tpdu.encoded_len().saturating_add(4));
        tpkt::encode_header(tpdu.encoded_len(), &mut frame)?;
        tpdu.encode(&mut frame)?;
        self.tx.push_back(frame.freeze());
        Ok(())
    }

    fn finish(&mut self, why: Disconnect) {
        self.state = State::Closed;
        self.connect_deadline = None;
        self.partial_since = None;
        self.rx = BytesMut::new();
        self.whole = BytesMut::new();
        self.txbuf = BytesMut::new();
        self.events.push_back(Event::Disconnected(why));
        self.events.push_back(Event::Closed);
    }
}

/// The lowercase name of a TPDU for messages ("dt tpdu").
fn tpdu_name(kind: crate::cotp::TpduKind) -> &'static str {
    use crate::cotp::TpduKind as K;
    match kind {
        K::Cr => "cr tpdu",
        K::Cc => "cc tpdu",
        K::Dr => "dr tpdu",
        K::Dc => "dc tpdu",
        K::Dt => "dt tpdu",
        K::Ed => "ed tpdu",
        K::Ak => "ak tpdu",
        K::Ea => "ea tpdu",
        K::Rj => "rj tpdu",
        K::Er => "er tpdu",
        _ => "tpdu of unknown type",
    }
}

/// The ER cause a decode error of a TPDU calls for (X.224 §13.12.3).
fn reject_cause(e: &DecodeError) -> RejectCause {
    match e.kind() {
        DecodeErrorKind::UnexpectedCode { .. } => RejectCause::INVALID_TPDU_TYPE,
        DecodeErrorKind::ForbiddenParameter { .. } => RejectCause::INVALID_PARAMETER_CODE,
        DecodeErrorKind::InvalidValue { .. } => RejectCause::INVALID_PARAMETER_VALUE,
        _ => RejectCause::NOT_SPECIFIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dt_frame_header_is_what_the_encoder_writes() {
        for len in [0usize, 1, 127, 128, 4089, 8185, 65524] {
            for eot in [false, true] {
                let mut want = BytesMut::new();
                segment::encode_dt_header(len, eot, &mut want).unwrap();
                assert_eq!(
                    &dt_frame_header(len, eot).unwrap()[..],
                    &want[..],
                    "{len} {eot}"
                );
            }
        }
    }
}
