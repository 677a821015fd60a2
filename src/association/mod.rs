//! The association: one transport connection, one session connection and the presentation and
//! ACSE association control on top, composed into one sans-IO machine for an initiator or a
//! responder.
//!
//! ```text
//!  Association (this module: the composer, a few hundred lines of wiring)
//!    ├─ control::Control          presentation + ACSE: contexts, CP/CPA/CPR + AARQ/AARE,
//!    │                            P-DATA, RLRQ/RLRE, ARU/ARP/ABRT, X.410-1984 mode, dispatch
//!    ├─ session::Connection       X.225: CN/AC/RF, GT+DT, FN/DN/NF, AB, tokens, activities
//!    └─ cotp::Connection          X.224 class 0: CR/CC/DR/ER, DT segmentation and reassembly
//! ```
//!
//! Each floor is its own machine with the same verbs; this one moves TSDUs between the
//! transport and the session machine, session user data between the session machine and the
//! association control, and turns their events into [`Event`]s. This file holds the machine
//! verbs, the P-DATA path, the pump between the machines and the session's events; the
//! other concerns of the composer have a file each: `open.rs` (A-ASSOCIATE, both roles),
//! `close.rs` (A-RELEASE and A-ABORT requests), `services.rs` (the session services passed
//! through), `lower.rs` (the transport machine's events). Every PDU on the wire comes
//! from its layer's encoder. Dispatch by selector happens at the layer that owns each
//! selector: the T-selector when the CR arrives (refused with DR), the S-selector with the CN
//! (RF), the P-selector with the CP (CPR), the AP-title and AE-qualifier with the AARQ (AARE).
//!
//! Nothing here touches a socket, a clock or a random number generator. The owner:
//!
//! - feeds bytes received from TCP to [`Association::handle_input`], and tells it when TCP was
//!   accepted (a responder, [`Association::handle_transport_accepted`]) and when it closed
//!   ([`Association::handle_transport_closed`]);
//! - sends what [`Association::poll_transmit`] returns, in order;
//! - reads [`Association::poll_event`] until `None` after every call;
//! - calls [`Association::handle_timeout`] at [`Association::poll_timeout`];
//! - closes TCP after [`Event::Closed`] (and after sending the remaining transmits).
//!
//! ```
//! use std::time::Instant;
//! use osi_stack::association::{Association, AssociateRequest, Config, Dispatch, Event, AcceptResponse};
//!
//! let now = Instant::now();
//! let mut client = Association::initiator(Config::default());
//! let mut server = Association::responder(Config::default(), Dispatch::default(), None);
//! client.associate(AssociateRequest::mms(), now)?;
//! let mut pump = |a: &mut Association, b: &mut Association| {
//!     while let Some(bytes) = a.poll_transmit() { b.handle_input(&bytes, now); }
//! };
//! pump(&mut client, &mut server); // CR
//! pump(&mut server, &mut client); // CC
//! pump(&mut client, &mut server); // CN + CP + AARQ
//! assert!(matches!(server.poll_event(), Some(Event::TransportConnected { .. })));
//! assert!(matches!(server.poll_event(), Some(Event::AssociateIndication(_))));
//! server.accept(AcceptResponse::default(), now)?;
//! pump(&mut server, &mut client); // AC + CPA + AARE
//! assert!(matches!(client.poll_event(), Some(Event::TransportConnected { .. })));
//! assert!(matches!(client.poll_event(), Some(Event::Associated(_))));
//! # Ok::<(), osi_stack::association::ServiceError>(())
//! ```
//!
//! Reactions to a peer that breaks the protocol are those of the layer that finds it: the
//! transport answers with ER or DR and closes ([`cotp::connection`]),
//! the session with AB ([`session::connection`]), presentation
//! with AB carrying ARP, ACSE with AB carrying an ABRT from the ACSE provider. The application
//! gets [`Event::Aborted`] whose [`AbortReason::ProtocolError`] names the layer, the offset and
//! what was wrong, then [`Event::Closed`]. The session functional units (tokens, activities,
//! minor synchronize, S-CONTROL-GIVE, exception reports) and their rules are the session
//! machine's; the association passes its services through.
//!
//! # X.410-1984 mode
//!
//! With [`AssociateRequest::x410_parameters`] the initiator sends an X.410-1984-mode CP
//! (`PConnect`, X.226 §8.2) instead of CP + AARQ; a responder accepts such a CP (its SET must
//! be well-formed BER), gives [`AssociateIndication::x410_parameters`] with no application
//! context, and answers with an X.410-mode CPA carrying the accept's `PAccept` parameters
//! ([`AcceptResponse::with_x410_parameters`]; RTSE builds them, and they must decode as RTOAC
//! components) or, without them, a default with the mandatory connectionDataAC. Events of an
//! X.410-1984-mode association name no application context and no presentation context. Data, PT user data and the
//! ARU of an abort carry raw octets; release is FN/DN without user data.
//!
//! Not offered: CN/AC user data beyond 10 240 octets (CDO/OA), session segmenting, transport
//! reuse.

mod apdu;
mod close;
mod config;
mod control;
mod dispatch;
mod event;
mod lower;
mod open;
mod ppdu;
mod services;
mod state;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use bytes::Bytes;

pub use crate::presentation::ContextId;
pub use crate::session::connection::{OldConnection, Resumed};
pub use config::{
    AcceptResponse, ApAddress, AssociateRequest, Config, PresentationContext, UserInformation,
};
pub use dispatch::{Dispatch, Selector, Service};
pub use event::{
    Abort, AbortReason, AbortSource, AssociateIndication, Associated, Configured, ContextOutcome,
    Criterion, Data, Event, Mismatch, Received, Refusal, RefusalReason, Rejection, RejectionCause,
    ServiceError, Timeout, TimerKind,
};
pub use state::{Role, State};

use control::{Confirm, Control};
use dispatch::Candidates;
use event::passed_through;

use crate::cotp;
use crate::error::{DecodeError, DecodeErrorKind, Layer};
use crate::session;
use crate::session::connection::{self as sess, AbortReason as SessionAbort, Phase};

/// One association over one transport connection (sans-IO). See the [module docs](self).
#[derive(Debug)]
pub struct Association {
    role: Role,
    config: Config,
    transport: cotp::Connection,
    session: session::Connection,
    control: Control,
    dispatch: Dispatch,
    candidates: Candidates,
    peer: Option<IpAddr>,
    /// Initiator: the CN, sent once the transport connection is up.
    pending_connect: Option<Box<sess::ConnectRequest>>,
    /// Responder: what the layers below learnt for the indication.
    indication: Option<Box<AssociateIndication>>,
    events: VecDeque<Event>,
    idle_deadline: Option<Instant>,
    collision: bool,
    /// The abort [`Association::abort_on_timeout`] reports in place of a user abort.
    local_abort: Option<Abort>,
    /// A refusal, rejection or abort was reported: the rest is the machines winding down.
    ended: bool,
    closed: bool,
}

impl Association {
    fn new(role: Role, config: Config, dispatch: Dispatch, peer: Option<IpAddr>) -> Self {
        let (transport_config, session_config) = (config.transport(), config.session());
        let (transport, session) = match role {
            Role::Initiator => (
                cotp::Connection::initiator(transport_config),
                session::Connection::initiator(session_config),
            ),
            Role::Responder => (
                cotp::Connection::responder(transport_config),
                session::Connection::responder(session_config),
            ),
        };
        Association {
            role,
            candidates: dispatch.candidates(),
            control: Control::responder(config.limits),
            config,
            transport,
            session,
            dispatch,
            peer,
            pending_connect: None,
            indication: None,
            events: VecDeque::new(),
            idle_deadline: None,
            local_abort: None,
            collision: false,
            ended: false,
            closed: false,
        }
    }

    /// An initiator; start it with [`Association::associate`] once TCP is connected.
    pub fn initiator(config: Config) -> Self {
        Self::new(Role::Initiator, config, Dispatch::default(), None)
    }

    /// A responder for a transport connection accepted from `peer_ip` (used by the
    /// calling-address policy of the services in `dispatch`).
    pub fn responder(config: Config, dispatch: Dispatch, peer_ip: Option<IpAddr>) -> Self {
        Self::new(Role::Responder, config, dispatch, peer_ip)
    }

    /// The next bytes to send on the transport connection, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transport.poll_transmit()
    }

    /// Octets waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmit(&self) -> usize {
        self.transport
            .pending_transmit()
            .saturating_add(self.session.pending_transmit())
    }

    /// Octets of peer input held: an incomplete TPKT frame plus the DTs of an incomplete TSDU.
    /// Bounded by 65 535 plus [`Limits::max_tsdu`](crate::Limits::max_tsdu).
    pub fn buffered_input(&self) -> usize {
        self.transport.buffered_input()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.transport.poll_timeout(),
            self.session.poll_timeout(),
            self.idle_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn wrong_state(&self, request: &'static str) -> ServiceError {
        ServiceError::WrongState {
            request,
            state: self.state(),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Requests: A-ASSOCIATE in `open`, A-RELEASE and A-ABORT in `close`, the session services
    // in `services`; P-DATA here.

    /// P-DATA request: `value` (one complete BER value) on presentation context `context_id`,
    /// sent as fully encoded data with one PDV in single-ASN1-type form, in as many DTs as the
    /// TPDU size asks. In X.410-1984 mode `value` is the raw session user data (any octets)
    /// and `context_id` is ignored.
    ///
    /// The empty GT and the DT (X.225 §8.3.14, §6.3.7), the User-data header (X.226 §8.4) and
    /// the TPKT and DT headers are written straight into the transport's frame buffer, and
    /// `value` is copied once, next to them; once the frames handed out before were sent and
    /// dropped, the buffer is reused and nothing is allocated. To send a large value without
    /// that copy, use [`send_data_bytes`](Self::send_data_bytes).
    pub fn send_data(
        &mut self,
        context_id: ContextId,
        value: &[u8],
        now: Instant,
    ) -> Result<(), ServiceError> {
        let head = self
            .data_header(context_id, value.len(), now)?
            .behind(&session::Connection::data_header()?);
        let (array, len) = head.as_array();
        self.transport.send_copied_fixed(array, len, value, now)?;
        self.sent_data(now);
        Ok(())
    }

    /// [`send_data`](Self::send_data) for a value already in a [`Bytes`]: a value of 4 KiB
    /// or more is not copied; [`poll_transmit`](Self::poll_transmit) hands out the DT and
    /// upper-layer headers and slices of `value` in turn (write them with one vectored
    /// write, as the tokio adapter does).
    pub fn send_data_bytes(
        &mut self,
        context_id: ContextId,
        value: Bytes,
        now: Instant,
    ) -> Result<(), ServiceError> {
        let head = self
            .data_header(context_id, value.len(), now)?
            .behind(&session::Connection::data_header()?);
        self.transport
            .send_shared(&[head.as_slice()], &value, now)?;
        self.sent_data(now);
        Ok(())
    }

    /// The checks of a P-DATA request (state, session tokens and rules, presentation
    /// context) and its User-data header. The session's earlier output goes to the transport
    /// first, so that the order on the wire stays the order of the requests.
    fn data_header(
        &mut self,
        context_id: ContextId,
        value_len: usize,
        now: Instant,
    ) -> Result<ppdu::DataHeader, ServiceError> {
        if !matches!(
            self.session.phase(),
            Phase::Open | Phase::AwaitReleaseResponse
        ) {
            return Err(self.wrong_state("send_data"));
        }
        self.session.check_send_data()?;
        let head = self.control.data_header(context_id, value_len)?;
        if self.session.has_transmit() {
            self.flush_session(now);
        }
        Ok(head)
    }

    /// After a P-DATA went to the transport.
    fn sent_data(&mut self, now: Instant) {
        self.touch(now);
    }

    fn flush_session(&mut self, now: Instant) {
        while let Some(t) = self.session.poll_transmit() {
            // Fails only once the transport is gone; then nothing can be sent anyway.
            let _ = self.transport.send_parts(&[t.head, t.body], now);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Input and time

    /// The transport connection was accepted (responder): starts waiting for the CR, for at
    /// most [`Config::response_timeout`]. Without this call a responder waits for the CR
    /// without a time-out, since it has no clock.
    pub fn handle_transport_accepted(&mut self, now: Instant) {
        self.transport.handle_transport_accepted(now);
    }

    /// The transport connection closed (or was reset).
    pub fn handle_transport_closed(&mut self, now: Instant) {
        self.transport.handle_transport_closed(now);
        self.pump(now);
    }

    /// A timer expired: `now` is at or after [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.transport.handle_timeout(now);
        self.session.handle_timeout(now);
        if self.idle_deadline.is_some_and(|d| now >= d) {
            self.idle_deadline = None;
            // An idle association's lifetime is over: release it.
            let _ = self.release(now);
        }
        self.pump(now);
    }

    /// Bytes received from the transport connection (any chunking).
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        self.transport.handle_input(data, now);
        self.pump(now);
    }

    fn touch(&mut self, now: Instant) {
        self.idle_deadline = self
            .config
            .idle_lifetime
            .filter(|_| self.session.phase() == Phase::Open)
            .and_then(|d| now.checked_add(d));
    }

    /// Moves TSDUs and events between the machines until none has anything left.
    fn pump(&mut self, now: Instant) {
        loop {
            if self.session.has_transmit() {
                self.flush_session(now);
            }
            while let Some(e) = self.transport.poll_event() {
                self.on_transport(e, now);
            }
            while let Some(e) = self.session.poll_event() {
                self.on_session(e, now);
            }
            // Whatever the handlers queued goes round again; nothing queued, nothing to move.
            if !self.session.has_transmit()
                && !self.transport.has_events()
                && !self.session.has_events()
            {
                break;
            }
        }
    }

    fn end(&mut self, event: Event) {
        let event = match (event, self.local_abort.take()) {
            (Event::Aborted(_), Some(local)) => Event::Aborted(Box::new(local)),
            (event, _) => event,
        };
        if !self.ended {
            self.ended = true;
            self.events.push_back(event);
        }
    }

    /// A protocol error found above the session layer: AB with ARP (presentation) or with an
    /// ABRT from the ACSE provider.
    fn violation(&mut self, error: DecodeError, now: Instant) {
        let data = self.control.provider_abort(&error);
        self.session.provider_abort(error, &data, now);
    }

    fn on_session(&mut self, event: sess::Event, now: Instant) {
        match event {
            sess::Event::ConnectIndication(ind) => self.on_connect(*ind, now),
            sess::Event::Rejected { reason, cause } => {
                self.end(Event::Rejected(Box::new(Rejection {
                    sent: RefusalReason::Session(reason),
                    cause: RejectionCause::Invalid(cause),
                })))
            }
            sess::Event::Connected(c) if self.role == Role::Initiator => {
                match self.control.on_accept(&c.user_data) {
                    Ok(Confirm::Associated(a)) => {
                        self.events.push_back(Event::Associated(a));
                        self.touch(now);
                    }
                    Ok(Confirm::RejectedInAccept(refusal)) => {
                        // X.227 forbids a rejecting AARE in an AC: report it, then abort.
                        self.end(Event::Refused(Box::new(refusal)));
                        let e = DecodeError::new(
                            Layer::Acse,
                            0,
                            DecodeErrorKind::BadSequence {
                                what: "aare rejecting the association inside an ac",
                            },
                        );
                        self.violation(e, now);
                    }
                    Err(e) => self.violation(e, now),
                }
            }
            sess::Event::Connected(_) => {}
            sess::Event::Refused { reason, user_data } => {
                let refusal = self.control.on_refuse(reason, &user_data);
                self.end(Event::Refused(Box::new(refusal)));
            }
            sess::Event::Data(data) => self.on_data(data, now),
            sess::Event::ReleaseIndication {
                user_data,
                collision,
            } => {
                if let Err(e) = self.control.check_release(&user_data, true) {
                    return self.violation(e, now);
                }
                self.idle_deadline = None;
                if !collision {
                    self.events.push_back(Event::ReleaseIndication);
                } else {
                    // Release collision (X.227 §7.3.3.4): the association-initiator answers
                    // first; the responder answers once the initiator's RLRE is in.
                    self.collision = true;
                    if self.role == Role::Initiator {
                        self.answer_release(now);
                    }
                }
            }
            sess::Event::Released { user_data } => {
                if let Err(e) = self.control.check_release(&user_data, false) {
                    return self.violation(e, now);
                }
                self.end(Event::Released {
                    collision: self.collision,
                });
                if self.collision && self.role == Role::Responder {
                    self.answer_release(now);
                }
            }
            sess::Event::ReleaseRefused { user_data } => {
                if let Err(e) = self.control.check_release(&user_data, false) {
                    return self.violation(e, now);
                }
                self.events.push_back(Event::ReleaseRefused);
                self.touch(now);
            }
            sess::Event::Aborted(a) => {
                let abort = match a.reason {
                    SessionAbort::Peer(td) => self.control.on_peer_abort(td, &a.user_data),
                    other => event::session_abort(other),
                };
                self.end(Event::Aborted(Box::new(abort)));
            }
            sess::Event::TokensPlease { tokens, user_data } => {
                match self.control.on_token_data(&user_data) {
                    Ok(data) => self.events.push_back(Event::TokensPlease { tokens, data }),
                    Err(e) => self.violation(e, now),
                }
            }
            sess::Event::Closed => {
                self.idle_deadline = None;
                self.transport.disconnect(now);
            }
            other => {
                if let Some(e) = passed_through(other) {
                    self.events.push_back(e);
                    self.touch(now);
                }
            }
        }
    }

    /// S-DATA indication: the P-DATA's values, each an [`Event::Data`]; none of them if one
    /// PDV is wrong (then the ARP).
    fn on_data(&mut self, data: Bytes, now: Instant) {
        let before = self.events.len();
        let events = &mut self.events;
        match self
            .control
            .on_data(data, |d| events.push_back(Event::Data(d)))
        {
            Ok(()) => self.touch(now),
            Err(e) => {
                self.events.truncate(before);
                self.violation(e, now);
            }
        }
    }
}
