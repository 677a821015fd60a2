//! The association: a sans-IO state machine for one transport connection, initiator or
//! responder, through transport connect (CR/CC), session connect (CN/AC/RF), presentation and
//! ACSE (CP/CPA/CPR with AARQ/AARE), data transfer (P-DATA), orderly release (FN/DN with
//! RLRQ/RLRE, NF, release collision) and abort (AB with ARU/ARP/ABRT).
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
//! Reactions to a peer that breaks the protocol (X.224 / X.225 / X.226 / X.227 state tables):
//! an undecodable or unexpected TPDU before the session starts ends the transport connection
//! (an ER answers a bad CR); afterwards a session error is answered with AB (transport
//! disconnect "protocol error"), a presentation error with AB carrying ARP, an ACSE error with
//! AB carrying an ABRT from the ACSE provider. In every case the application gets
//! [`Event::Aborted`] naming the layer and the error (with its byte offset) and then
//! [`Event::Closed`].
//!
//! # Session functional units
//!
//! By default the session kernel is duplex, as MMS uses it: no tokens exist, and GT and PT are
//! accepted and ignored. An [`AssociateRequest`] may instead ask for half-duplex, minor
//! synchronize and activity management ([`AssociateRequest::with_session`]; RTSE does); a
//! responder agrees to duplex when it is proposed, else to half-duplex plus whichever of minor
//! synchronize, activity management and exceptions the CN asks for. Then the data, minor
//! synchronize and activity tokens exist, start where the CN's Token Setting Item puts them,
//! move with [`Association::give_tokens`] / [`Event::TokensGiven`] and are asked for with
//! [`Association::please_tokens`] / [`Event::TokensPlease`]; data travels inside activities
//! ([`Association::activity_start`], [`Association::sync_minor`], [`Association::activity_end`],
//! [`Association::activity_interrupt`], [`Association::activity_discard`],
//! [`Association::activity_resume`]).
//!
//! The rules this machine enforces, on requests (a [`ServiceError::TokenRule`] or
//! [`ServiceError::NotNegotiated`]) and on the peer's SPDUs (a session protocol error: AB,
//! [`Event::Aborted`], [`Event::Closed`]):
//!
//! | service | SPDUs | needs |
//! |---|---|---|
//! | P-DATA | GT DT | the data token if it is available (half-duplex); not inside the peer's activity nor after this side's activity end (data outside activities is not refused: ISODE's `SDataRequest` checks only the data token) |
//! | give tokens | GT (Token Item) | the tokens given; not the activity token inside an activity |
//! | please tokens | PT (Token Item, User Data) | tokens this side does not hold |
//! | activity start / resume | GT AS / PT AR | activity management; no activity; every available token |
//! | minor sync | GT MIP | minor synchronize; inside an activity when activity management is on; the data and minor tokens |
//! | activity end | GT AE | an activity this side started; every available token |
//! | activity interrupt / discard | GT AI / GT AD | an activity; the activity token |
//! | release | FN | no activity; every available token |
//!
//! Serial numbers (X.225 activity management, as ISODE implements it): activity start sets V(M) to 1; each MIP
//! and the AE carry V(M), then V(M) grows by one; activity resume with serial number `n` sets
//! V(M) to `n + 1`. A MIP from the peer must carry the expected V(M). A MIA confirms every
//! minor sync point up to its serial number and must name one that is outstanding.
//!
//! Simplifications: the answers to activity interrupt and discard (AIA, ADA) are sent by the
//! machine itself (the indication is still given); after sending AI or AD this side ignores the
//! peer's DT, MIA and AEA until the AIA or ADA arrives (they crossed); the major synchronize,
//! resynchronize, exceptions (ER, ED), capability data and typed data services are not
//! offered, and their SPDUs are protocol errors.
//!
//! # X.410-1984 mode
//!
//! With [`AssociateRequest::x410_parameters`] the initiator sends an X.410-1984-mode CP
//! (`PConnect`, X.226 §8.2) instead of CP + AARQ; a responder accepts such a CP, gives
//! [`AssociateIndication::x410_parameters`] and answers with an X.410-mode CPA
//! ([`AcceptResponse::with_x410_parameters`]); [`Association::reject`] then sends a session RF
//! (reason 0). Data, PT user data and the ARU of an abort
//! ([`Association::abort_with`]) carry raw octets; release is FN/DN without user data.
//!
//! Other simplifications, documented rather than hidden: CN/AC user data must fit
//! in one SPDU (10 240 octets: no CDO/OA overflow), session segmentation is not proposed, and in
//! a release collision both sides answer automatically (each user already asked to release).

mod activity;
mod config;
mod dispatch;
mod event;
mod pdu;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

pub use activity::{OldConnection, Resumed};
pub use config::{AcceptResponse, ApAddress, AssociateRequest, Config, PresentationContext};
pub use dispatch::{Dispatch, Selector, Service};
pub use event::{
    Abort, AbortSource, AssociateIndication, Associated, ContextOutcome, Data, Event, Refusal,
    Rejection, ServiceError,
};

use dispatch::show_selector;
use pdu::{AbortWith, ConnectAnswer, RefuseWith};

use crate::acse::{self, AeQualifier, ApTitle, Apdu, AssociateResult, AssociateSourceDiagnostic};
use crate::cotp::{self, DisconnectReason, Tpdu, class0};
use crate::error::{DecodeError, Layer};
use crate::oid::Oid;
use crate::presentation::{
    self, AbortPpdu, ContextProviderReason, ContextResultCode, Cp, Cpa, Cpr, PdvValues,
    ProviderReason, UserData,
};
use crate::session::{self, RefuseReason, SessionUserRequirements, Spdu, SpduKind, VersionNumber};
use crate::tpkt;

/// Where an association is (X.224/X.225/X.227 state tables folded into one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Initiator before [`Association::associate`].
    Idle,
    /// Initiator: CR sent, waiting for CC.
    AwaitCc,
    /// Responder: waiting for CR.
    AwaitCr,
    /// Responder: CC sent, waiting for CN.
    AwaitCn,
    /// Initiator: CN (CP, AARQ) sent, waiting for AC or RF.
    AwaitAc,
    /// Responder: associate indication given, waiting for accept or reject.
    AwaitUser,
    /// Data transfer.
    Associated,
    /// FN (RLRQ) sent, waiting for DN or NF.
    AwaitRelease,
    /// FN (RLRQ) received, waiting for the user's release response.
    AwaitReleaseResponse,
    /// DN, AB or RF sent: waiting (TIM) for the peer to close the transport connection.
    AwaitClose,
    /// Finished: the transport connection should be closed.
    Closed,
}

/// Initiator or responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sent the CR (association-initiator).
    Initiator,
    /// The side that accepted the transport connection.
    Responder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Response,
    Tim,
    Idle,
}

/// A protocol error: the layer's decode error, or a PDU that is not valid in the state.
struct Violation {
    layer: Layer,
    reason: String,
}

impl From<DecodeError> for Violation {
    fn from(e: DecodeError) -> Self {
        Violation {
            layer: e.layer(),
            reason: e.to_string(),
        }
    }
}

fn unexpected(layer: Layer, what: &str, state: State) -> Violation {
    Violation {
        layer,
        reason: format!("{} unexpected in state {state:?}", what),
    }
}

/// One association over one transport connection (sans-IO). See the [module docs](self).
#[derive(Debug)]
pub struct Association {
    role: Role,
    state: State,
    config: Config,
    dispatch: Dispatch,
    peer_ip: Option<IpAddr>,
    candidates: Vec<usize>,
    service: Option<usize>,
    cr: Vec<u8>,
    tpdu_size: usize,
    rx: BytesMut,
    reassembly: cotp::Reassembler,
    tx: VecDeque<Bytes>,
    events: VecDeque<Event>,
    timer: Option<(Timer, Instant)>,
    last_activity: Option<Instant>,
    acse_context: i64,
    contexts: Vec<ContextOutcome>,
    answer: ConnectAnswer,
    indication_user_context: Option<i64>,
    indication: Option<Box<AssociateIndication>>,
    pending_cn: Option<Vec<u8>>,
    collision: bool,
    units: activity::SessionUnits,
    /// X.410-1984 presentation mode: no ACSE, no contexts, raw user data.
    x410: bool,
}

impl Association {
    fn new(
        role: Role,
        state: State,
        config: Config,
        dispatch: Dispatch,
        peer_ip: Option<IpAddr>,
    ) -> Self {
        let candidates = dispatch.all();
        Association {
            role,
            state,
            reassembly: cotp::Reassembler::new(config.limits),
            config,
            dispatch,
            peer_ip,
            candidates,
            service: None,
            cr: Vec::new(),
            tpdu_size: 128,
            rx: BytesMut::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            timer: None,
            last_activity: None,
            acse_context: 1,
            contexts: Vec::new(),
            answer: ConnectAnswer::default(),
            indication_user_context: None,
            indication: None,
            pending_cn: None,
            collision: false,
            units: activity::SessionUnits::default(),
            x410: false,
        }
    }

    /// An initiator; start it with [`Association::associate`] once TCP is connected.
    pub fn initiator(config: Config) -> Self {
        Self::new(
            Role::Initiator,
            State::Idle,
            config,
            Dispatch::default(),
            None,
        )
    }

    /// A responder for a transport connection accepted from `peer_ip` (used by the
    /// calling-address policy of the services in `dispatch`).
    pub fn responder(config: Config, dispatch: Dispatch, peer_ip: Option<IpAddr>) -> Self {
        let mut a = Self::new(Role::Responder, State::AwaitCr, config, dispatch, peer_ip);
        a.timer = None;
        a
    }

    /// Initiator or responder.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the machine is finished (the transport connection should be closed).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The TPDU size in use (meaningful once the transport is connected).
    pub fn tpdu_size(&self) -> usize {
        self.tpdu_size
    }

    /// The matching service of a responder (index into the dispatch table), once known.
    pub fn service(&self) -> Option<&Service> {
        self.service.and_then(|i| self.dispatch.get(i))
    }

    /// The contexts negotiated so far.
    pub fn contexts(&self) -> &[ContextOutcome] {
        &self.contexts
    }

    /// The next bytes to send on the transport connection, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.tx.pop_front()
    }

    /// Octets waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmit(&self) -> usize {
        self.tx
            .iter()
            .map(Bytes::len)
            .fold(0, usize::saturating_add)
    }

    /// Octets of peer input held: an incomplete TPKT frame plus the DTs of an incomplete TSDU.
    /// Bounded by 65 535 plus [`Limits::max_tsdu`](crate::Limits::max_tsdu).
    pub fn buffered_input(&self) -> usize {
        self.rx.len().saturating_add(self.reassembly.pending_len())
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer.map(|(_, at)| at)
    }

    fn wrong_state(&self, request: &'static str) -> ServiceError {
        ServiceError::WrongState {
            request,
            state: self.state,
        }
    }

    // ------------------------------------------------------------------------------------
    // Output helpers

    fn send_tpdu(&mut self, tpdu: &[u8]) {
        let mut frame = Vec::with_capacity(tpdu.len().saturating_add(tpkt::HEADER_LEN));
        if tpkt::encode_header(tpdu.len(), &mut frame).is_ok() {
            frame.extend_from_slice(tpdu);
            self.tx.push_back(Bytes::from(frame));
        }
    }

    /// Frames a TSDU into class-0 DTs of the negotiated size.
    fn send_tsdu(&mut self, tsdu: Vec<u8>) {
        let tsdu = Bytes::from(tsdu);
        let max = cotp::segment::max_dt_data(self.tpdu_size);
        let mut rest = tsdu;
        loop {
            let take = rest.len().min(max);
            let chunk = rest.split_to(take);
            let eot = rest.is_empty();
            let len = chunk.len().saturating_add(cotp::segment::DT_HEADER_LEN);
            let mut header =
                Vec::with_capacity(tpkt::HEADER_LEN.saturating_add(cotp::segment::DT_HEADER_LEN));
            if tpkt::encode_header(len, &mut header).is_err() {
                return;
            }
            header.extend_from_slice(&[0x02, 0xf0, if eot { 0x80 } else { 0x00 }]);
            if chunk.len() <= 1024 {
                header.extend_from_slice(&chunk);
                self.tx.push_back(Bytes::from(header));
            } else {
                self.tx.push_back(Bytes::from(header));
                self.tx.push_back(chunk);
            }
            if eot {
                return;
            }
        }
    }

    fn set_timer(&mut self, timer: Timer, now: Instant) {
        let after = match timer {
            Timer::Response => Some(self.config.response_timeout),
            Timer::Tim => Some(self.config.disconnect_wait),
            Timer::Idle => self.config.idle_lifetime,
        };
        self.timer = after.and_then(|d| now.checked_add(d)).map(|at| (timer, at));
    }

    fn close(&mut self) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.timer = None;
            self.rx.clear();
            self.reassembly.reset();
            self.events.push_back(Event::Closed);
        }
    }

    fn await_close(&mut self, now: Instant) {
        self.state = State::AwaitClose;
        self.set_timer(Timer::Tim, now);
    }

    fn abort_event(&mut self, source: AbortSource, layer: Layer, reason: String) {
        self.events.push_back(Event::Aborted(Abort {
            source,
            layer,
            reason,
            user_information: None,
        }));
    }

    /// Reacts to a protocol error of the peer, at the layer that found it.
    fn violation(&mut self, v: Violation, now: Instant) {
        let session_up = matches!(
            self.state,
            State::AwaitAc
                | State::AwaitUser
                | State::Associated
                | State::AwaitRelease
                | State::AwaitReleaseResponse
        ) || (self.state == State::AwaitCn && v.layer != Layer::Cotp);
        self.abort_event(AbortSource::LocalProvider, v.layer, v.reason);
        if !session_up || matches!(v.layer, Layer::Tpkt | Layer::Cotp) {
            self.close();
            return;
        }
        let with = match v.layer {
            _ if self.x410 => AbortWith::Session,
            Layer::Presentation => {
                AbortWith::Presentation(presentation::AbortReason::REASON_NOT_SPECIFIED)
            }
            Layer::Acse => AbortWith::AcseProvider(self.acse_context),
            _ => AbortWith::Session,
        };
        if let Ok(tsdu) = pdu::abort(with) {
            self.send_tsdu(tsdu);
        }
        self.await_close(now);
    }

    // ------------------------------------------------------------------------------------
    // Service requests

    /// A-ASSOCIATE request (initiator, after TCP connected): sends the CR; the CN with CP and
    /// AARQ follows the CC.
    pub fn associate(
        &mut self,
        request: AssociateRequest,
        now: Instant,
    ) -> Result<(), ServiceError> {
        if self.role != Role::Initiator || self.state != State::Idle {
            return Err(self.wrong_state("associate"));
        }
        // Build everything now so that a request too large fails here, not after the CC.
        self.x410 = request.x410_parameters.is_some();
        let cp = match &request.x410_parameters {
            Some(params) => pdu::x410_connect(false, params)?,
            None => {
                let aarq = pdu::aarq(&request)?;
                pdu::cp(&request, &aarq)?
            }
        };
        let cn = pdu::cn(&request, &cp)?;
        self.cr = pdu::cr(&request, self.config.tpdu_size, self.config.local_reference)?;
        self.acse_context = request.acse_context_id;
        self.contexts = core::iter::once(ContextOutcome {
            id: request.acse_context_id,
            abstract_syntax: Some(Oid::ACSE_ABSTRACT_SYNTAX.to_owned_oid()),
            result: 2,
            provider_reason: None,
        })
        .chain(request.contexts.iter().map(|c| ContextOutcome {
            id: c.id,
            abstract_syntax: Some(c.abstract_syntax.clone()),
            result: 2,
            provider_reason: None,
        }))
        .collect();
        if self.x410 {
            self.contexts.clear();
        }
        self.answer.acse_context = Some(request.acse_context_id);
        self.units
            .propose(request.session_requirements, request.token_setting);
        let cr = core::mem::take(&mut self.cr);
        self.send_tpdu(&cr);
        self.cr = cr;
        self.pending_cn = Some(cn);
        self.state = State::AwaitCc;
        self.set_timer(Timer::Response, now);
        Ok(())
    }

    /// A-ASSOCIATE response, accepting (responder, after [`Event::AssociateIndication`]).
    pub fn accept(&mut self, response: AcceptResponse, now: Instant) -> Result<(), ServiceError> {
        if self.state != State::AwaitUser {
            return Err(self.wrong_state("accept"));
        }
        if self.x410 {
            let params = response.x410_parameters.clone().unwrap_or_default();
            let ac = pdu::ac_x410(&self.answer, &params)?;
            self.send_tsdu(ac);
            self.state = State::Associated;
            self.events
                .push_back(Event::Associated(Box::new(Associated {
                    contexts: Vec::new(),
                    user_information: Some(params),
                    result: 0,
                })));
            self.idle_from(now);
            return Ok(());
        }
        let info = response
            .user_information
            .as_deref()
            .map(|i| (self.indication_user_context.unwrap_or(self.acse_context), i));
        let ac = pdu::ac(&self.answer, info, &response.responding)?;
        self.send_tsdu(ac);
        self.state = State::Associated;
        self.events
            .push_back(Event::Associated(Box::new(Associated {
                contexts: self.contexts.clone(),
                user_information: response.user_information,
                result: 0,
            })));
        self.idle_from(now);
        Ok(())
    }

    /// A-ASSOCIATE response, rejecting (responder): RF with CPR carrying an AARE
    /// rejected-permanent, diagnostic no-reason-given.
    pub fn reject(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.reject_with(None, now)
    }

    /// A-ASSOCIATE response, rejecting, with `user_information` (one BER value, e.g. an RTORJ)
    /// in the AARE on the first application context. In X.410-1984 mode `user_information` is
    /// the content of the CPR's SET (the RTORJ components of a `PRefuse`), sent as RF reason 2;
    /// without it the RF has reason 0 (rejected by the called SS-user, no reason).
    pub fn reject_with(
        &mut self,
        user_information: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), ServiceError> {
        if self.state != State::AwaitUser {
            return Err(self.wrong_state("reject"));
        }
        if self.x410 {
            let rf = match user_information {
                Some(c) => pdu::rf_x410(&self.answer, c)?,
                None => pdu::rf(
                    &self.answer,
                    RefuseWith::Session(RefuseReason::USER_NO_REASON),
                )?,
            };
            self.send_tsdu(rf);
            self.await_close(now);
            return Ok(());
        }
        let info = user_information
            .map(|i| (self.indication_user_context.unwrap_or(self.acse_context), i));
        let rf = pdu::rf_with(
            &self.answer,
            RefuseWith::Acse(
                AssociateResult::REJECTED_PERMANENT,
                AssociateSourceDiagnostic::User(acse::UserDiagnostic::NO_REASON_GIVEN),
            ),
            info,
        )?;
        self.send_tsdu(rf);
        self.await_close(now);
        Ok(())
    }

    /// P-DATA request: `value` (one complete BER value) on presentation context `context_id`,
    /// sent as fully encoded data with one PDV in single-ASN1-type form, in as many DTs as the
    /// TPDU size asks. In X.410-1984 mode ([`AssociateRequest::x410_parameters`]) `value` is
    /// the raw session user data (any octets) and `context_id` is ignored.
    pub fn send_data(
        &mut self,
        context_id: i64,
        value: &[u8],
        now: Instant,
    ) -> Result<(), ServiceError> {
        if !matches!(self.state, State::Associated | State::AwaitReleaseResponse) {
            return Err(self.wrong_state("send_data"));
        }
        self.check_send_data()?;
        let tsdu = if self.x410 {
            pdu::raw_data(value)
        } else {
            self.check_context(context_id)?;
            pdu::p_data(context_id, value)?
        };
        self.send_tsdu(tsdu);
        self.idle_from(now);
        Ok(())
    }

    fn check_context(&self, context_id: i64) -> Result<(), ServiceError> {
        if self
            .contexts
            .iter()
            .any(|c| c.id == context_id && c.accepted())
        {
            Ok(())
        } else {
            Err(ServiceError::UnknownContext(context_id))
        }
    }

    /// A-RELEASE request: FN carrying RLRQ. In half-duplex this side must hold every available
    /// token and no activity may be in progress.
    pub fn release(&mut self, now: Instant) -> Result<(), ServiceError> {
        if self.state != State::Associated {
            return Err(self.wrong_state("release"));
        }
        self.check_release()?;
        let tsdu = if self.x410 {
            pdu::bare(SpduKind::Fn)?
        } else {
            pdu::finish(self.acse_context)?
        };
        self.send_tsdu(tsdu);
        self.state = State::AwaitRelease;
        self.set_timer(Timer::Response, now);
        Ok(())
    }

    /// A-RELEASE response after [`Event::ReleaseIndication`]: `true` sends DN with RLRE
    /// normal and ends the association; `false` sends NF with RLRE not-finished and goes on.
    pub fn release_response(&mut self, accept: bool, now: Instant) -> Result<(), ServiceError> {
        if self.state != State::AwaitReleaseResponse {
            return Err(self.wrong_state("release_response"));
        }
        if accept {
            let tsdu = if self.x410 {
                pdu::bare(SpduKind::Dn)?
            } else {
                pdu::disconnect(self.acse_context)?
            };
            self.send_tsdu(tsdu);
            self.events.push_back(Event::Released { collision: false });
            self.await_close(now);
        } else {
            let tsdu = if self.x410 {
                pdu::bare(SpduKind::Nf)?
            } else {
                pdu::not_finished(self.acse_context)?
            };
            self.send_tsdu(tsdu);
            self.state = State::Associated;
            self.idle_from(now);
        }
        Ok(())
    }

    /// A-ABORT request: AB carrying ARU with an ABRT (source service user) once a session
    /// connection is being set up; before that, the transport connection is simply closed.
    pub fn abort(&mut self, now: Instant) -> Result<(), ServiceError> {
        self.abort_with(None, now)
    }

    /// A-ABORT request whose ABRT carries `user_information` (one BER value, e.g. an RTAB) as
    /// an EXTERNAL on the first application context. Note that a session version 1 AB carries
    /// at most 9 octets of user data; this machine always negotiates version 2 when offered.
    pub fn abort_with(
        &mut self,
        user_information: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), ServiceError> {
        match self.state {
            State::Closed | State::AwaitClose => Err(self.wrong_state("abort")),
            State::Idle | State::AwaitCc | State::AwaitCr | State::AwaitCn => {
                self.abort_event(
                    AbortSource::LocalUser,
                    Layer::Cotp,
                    "aborted before the session connection".into(),
                );
                self.close();
                Ok(())
            }
            _ => {
                let user_context = self
                    .contexts
                    .iter()
                    .find(|c| c.id != self.acse_context && c.accepted())
                    .map_or(self.acse_context, |c| c.id);
                let info = user_information.map(|i| (user_context, i));
                let tsdu = if self.x410 {
                    pdu::user_abort_x410(user_information)?
                } else {
                    pdu::user_abort(self.acse_context, info)?
                };
                self.send_tsdu(tsdu);
                self.abort_event(
                    AbortSource::LocalUser,
                    Layer::Acse,
                    "a-abort requested".into(),
                );
                self.await_close(now);
                Ok(())
            }
        }
    }

    fn idle_from(&mut self, now: Instant) {
        self.last_activity = Some(now);
        if self.state == State::Associated {
            self.set_timer(Timer::Idle, now);
        }
    }

    // ------------------------------------------------------------------------------------
    // Input

    /// The transport connection was accepted (responder): starts waiting for the CR, for at
    /// most [`Config::response_timeout`]. Without this call a responder waits for the CR
    /// without a time-out, since it has no clock. Does nothing in any other state.
    pub fn handle_transport_accepted(&mut self, now: Instant) {
        if self.role == Role::Responder && self.state == State::AwaitCr {
            self.set_timer(Timer::Response, now);
        }
    }

    /// The transport connection closed (or was reset).
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        match self.state {
            State::Closed => return,
            State::AwaitClose | State::Idle => {}
            State::AwaitCr => {}
            _ => self.abort_event(
                AbortSource::PeerProvider,
                Layer::Cotp,
                format!("transport connection closed in state {:?}", self.state),
            ),
        }
        self.close();
    }

    /// A timer expired: `now` is at or after [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some((timer, at)) = self.timer else {
            return;
        };
        if now < at {
            return;
        }
        self.timer = None;
        match (timer, self.state) {
            (Timer::Idle, State::Associated) => {
                // An idle association's lifetime is over: release it.
                let _ = self.release(now);
            }
            (Timer::Tim, _) => self.close(),
            (Timer::Response, State::AwaitAc | State::AwaitRelease) => {
                self.abort_event(
                    AbortSource::LocalProvider,
                    Layer::Session,
                    format!(
                        "no answer within {:?} in state {:?}",
                        self.config.response_timeout, self.state
                    ),
                );
                if let Ok(t) = pdu::abort(AbortWith::Session) {
                    self.send_tsdu(t);
                }
                self.close();
            }
            (Timer::Response, state) => {
                self.abort_event(
                    AbortSource::LocalProvider,
                    Layer::Cotp,
                    format!(
                        "no answer within {:?} in state {state:?}",
                        self.config.response_timeout
                    ),
                );
                self.close();
            }
            _ => {}
        }
    }

    /// Bytes received from the transport connection (any chunking).
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if matches!(self.state, State::Closed | State::Idle) {
            return;
        }
        self.rx.extend_from_slice(data);
        while !matches!(self.state, State::Closed) {
            let n = match tpkt::frame_len(&self.rx) {
                Ok(Some(n)) if n <= self.rx.len() => n,
                Ok(_) => break,
                Err(e) => {
                    self.violation(e.into(), now);
                    break;
                }
            };
            let frame = self.rx.split_to(n).freeze();
            if self.state == State::AwaitClose {
                continue; // X.225: after AB / DN / RF everything but the disconnect is ignored.
            }
            if let Err(v) = self.on_frame(&frame, now) {
                self.violation(v, now);
            }
        }
        if self.state == State::Closed {
            self.rx.clear();
        }
    }

    fn on_frame(&mut self, frame: &Bytes, now: Instant) -> Result<(), Violation> {
        let tpkt = tpkt::Tpkt::decode_exact(frame)?;
        let payload = tpkt.payload;
        let tpdu = Tpdu::decode(payload).map_err(|e| e.shifted(tpkt::HEADER_LEN))?;
        match (self.state, tpdu) {
            (State::AwaitCc, Tpdu::Cc(cc)) => self.on_cc(&cc, now),
            (State::AwaitCr, Tpdu::Cr(cr)) => {
                self.on_cr(&cr, payload, now);
                Ok(())
            }
            (_, Tpdu::Dt(dt)) if !matches!(self.state, State::AwaitCc | State::AwaitCr) => {
                class0::check_dt(&dt).map_err(|e| e.shifted(tpkt::HEADER_LEN))?;
                match self.reassembly.push(&dt)? {
                    None => Ok(()),
                    Some(cotp::Tsdu::Whole(slice)) => self.on_tsdu(&frame.slice_ref(slice), now),
                    Some(cotp::Tsdu::Reassembled(bytes)) => self.on_tsdu(&bytes, now),
                }
            }
            (State::AwaitCc, Tpdu::Dr(dr)) => {
                let reason = dr.reason;
                self.events.push_back(Event::Refused(Refusal {
                    layer: Layer::Cotp,
                    code: Some(i64::from(reason.0)),
                    reason: format!("dr: {}", reason.description().unwrap_or("unknown reason")),
                    user_information: None,
                }));
                self.close();
                Ok(())
            }
            (State::AwaitCc, Tpdu::Er(er)) => {
                self.events.push_back(Event::Refused(Refusal {
                    layer: Layer::Cotp,
                    code: Some(i64::from(er.cause.0)),
                    reason: format!("er: reject cause {}", er.cause.0),
                    user_information: None,
                }));
                self.close();
                Ok(())
            }
            (_, Tpdu::Dr(dr)) => {
                self.abort_event(
                    AbortSource::PeerProvider,
                    Layer::Cotp,
                    format!(
                        "dr: {}",
                        dr.reason.description().unwrap_or("unknown reason")
                    ),
                );
                self.close();
                Ok(())
            }
            (_, Tpdu::Er(er)) => {
                self.abort_event(
                    AbortSource::PeerProvider,
                    Layer::Cotp,
                    format!("er: reject cause {}", er.cause.0),
                );
                self.close();
                Ok(())
            }
            (state, other) => Err(unexpected(
                Layer::Cotp,
                &format!("{:?} tpdu", other.code()),
                state,
            )),
        }
    }

    // ------------------------------------------------------------------------------------
    // Transport connection

    fn on_cc(&mut self, cc: &cotp::Connect<'_>, now: Instant) -> Result<(), Violation> {
        let Ok(Tpdu::Cr(cr)) = Tpdu::decode(&self.cr) else {
            return Err(Violation {
                layer: Layer::Cotp,
                reason: "own cr lost".into(),
            });
        };
        let confirmed = class0::check_cc(&cr, cc, self.config.strict)?;
        self.tpdu_size = confirmed.tpdu_size;
        self.events.push_back(Event::TransportConnected {
            tpdu_size: self.tpdu_size,
        });
        if let Some(cn) = self.pending_cn.take() {
            self.send_tsdu(cn);
        }
        self.state = State::AwaitAc;
        self.set_timer(Timer::Response, now);
        Ok(())
    }

    fn rejected(&mut self, layer: Layer, code: i64, diagnostic: String, received: Option<&[u8]>) {
        self.events.push_back(Event::Rejected(Rejection {
            layer,
            code,
            diagnostic,
            received: received.map(Bytes::copy_from_slice),
        }));
    }

    /// Narrows the candidate services to those `keep` accepts (nothing to do with an empty
    /// table). When none is left, reports the rejection with the value received (`what`, its
    /// octets when it is a selector, how to print it) and what the candidates had configured, and
    /// returns `false`: the caller refuses at its layer.
    fn narrow(
        &mut self,
        layer: Layer,
        code: i64,
        (what, received, shown): (&str, Option<&[u8]>, String),
        keep: impl Fn(&Service) -> bool,
        configured: impl Fn(&Service) -> String,
    ) -> bool {
        if self.dispatch.is_empty() {
            return true;
        }
        let before = self.candidates.clone();
        self.dispatch.filter(&mut self.candidates, keep);
        if !self.candidates.is_empty() {
            return true;
        }
        let configured = self.dispatch.describe(&before, configured);
        let verdict = if what.starts_with("called") {
            "matches no service"
        } else {
            "is not allowed"
        };
        self.rejected(
            layer,
            code,
            format!("{what} {shown} {verdict} (configured: {configured})"),
            received,
        );
        false
    }

    fn on_cr(&mut self, cr: &cotp::Connect<'_>, raw: &[u8], now: Instant) {
        let refuse = |a: &mut Self, refusal: class0::Refusal| {
            let mut out = Vec::new();
            if refusal.encode(cr, raw, &mut out).is_ok() {
                a.send_tpdu(&out);
            }
            a.close();
        };
        let responder = class0::Responder {
            max_tpdu_size: self.config.tpdu_size,
            ..class0::Responder::default()
        };
        let accepted = match class0::respond(cr, &responder) {
            Ok(a) => a,
            Err(r) => {
                self.rejected(Layer::Cotp, 0, format!("cr refused: {r:?}"), None);
                refuse(self, r);
                return;
            }
        };
        let called = cr.called_tsel();
        if !self.narrow(
            Layer::Cotp,
            i64::from(DisconnectReason::ADDRESS_UNKNOWN.0),
            ("called t-selector", called, show_selector(called)),
            |s| s.tsel.matches(called),
            |s| s.tsel.to_string(),
        ) {
            refuse(
                self,
                class0::Refusal::Disconnect(DisconnectReason::ADDRESS_UNKNOWN),
            );
            return;
        }
        let peer = self.peer_ip;
        let shown = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
        if !self.narrow(
            Layer::Cotp,
            i64::from(DisconnectReason::NOT_SPECIFIED.0),
            ("calling address", None, shown),
            |s| s.allows_peer(peer),
            |s| {
                let allowed: Vec<String> =
                    s.allowed_peers.iter().map(ToString::to_string).collect();
                allowed.join("|")
            },
        ) {
            refuse(
                self,
                class0::Refusal::Disconnect(DisconnectReason::NOT_SPECIFIED),
            );
            return;
        }
        let calling = cr.calling_tsel();
        if !self.narrow(
            Layer::Cotp,
            i64::from(DisconnectReason::NOT_SPECIFIED.0),
            ("calling t-selector", calling, show_selector(calling)),
            |s| s.calling_tsel.matches(calling),
            |s| s.calling_tsel.to_string(),
        ) {
            refuse(
                self,
                class0::Refusal::Disconnect(DisconnectReason::NOT_SPECIFIED),
            );
            return;
        }
        let Ok(params) = accepted.cc_params() else {
            self.close();
            return;
        };
        let mut out = Vec::new();
        if accepted
            .cc(cr, self.config.local_reference, &params)
            .encode(&mut out)
            .is_err()
        {
            self.close();
            return;
        }
        self.send_tpdu(&out);
        self.tpdu_size = accepted.tpdu_size;
        let mut indication = Box::new(empty_indication());
        indication.calling_tsel = accepted.calling_tsel.map(Bytes::copy_from_slice);
        indication.called_tsel = accepted.called_tsel.map(Bytes::copy_from_slice);
        self.indication = Some(indication);
        self.events.push_back(Event::TransportConnected {
            tpdu_size: self.tpdu_size,
        });
        self.state = State::AwaitCn;
        self.set_timer(Timer::Response, now);
    }

    // ------------------------------------------------------------------------------------
    // Session and above

    fn on_tsdu(&mut self, tsdu: &Bytes, now: Instant) -> Result<(), Violation> {
        // Basic concatenation (X.225 §6.3.7): the category-0 SPDU (GT or PT) is processed after
        // the category-2 SPDU that follows it.
        let mut first = None;
        let mut spdus = session::spdus(tsdu);
        loop {
            let at = spdus.offset();
            let Some(spdu) = spdus.next() else { break };
            let spdu = spdu?;
            // This machine never selects segmenting (it proposes no TSDU maximum size, X.225
            // §8.4), so every SSDU must come whole: a piece would otherwise be handed up as if
            // it were the whole SSDU.
            if spdu
                .enclosure_item()
                .is_some_and(|e| e != session::EnclosureItem::WHOLE)
            {
                return Err(DecodeError::new(
                    Layer::Session,
                    at,
                    crate::error::DecodeErrorKind::BadSequence {
                        what: "ssdu segment (enclosure item) although segmenting was not selected",
                    },
                )
                .into());
            }
            if matches!(spdu.kind(), SpduKind::Gt | SpduKind::Pt) {
                first = Some(spdu);
                continue;
            }
            self.on_spdu(tsdu, &spdu, now)?;
            if matches!(self.state, State::Closed | State::AwaitClose) {
                return Ok(());
            }
        }
        if let Some(c0) = first {
            self.on_category0(tsdu, &c0)?;
        }
        Ok(())
    }

    fn on_spdu(&mut self, tsdu: &Bytes, spdu: &Spdu<'_>, now: Instant) -> Result<(), Violation> {
        let state = self.state;
        match (state, spdu.kind()) {
            (State::AwaitCn, SpduKind::Cn) => self.on_cn(spdu, now),
            (State::AwaitAc, SpduKind::Ac) => self.on_ac(spdu, now),
            (State::AwaitAc, SpduKind::Rf) => {
                self.on_rf(spdu);
                Ok(())
            }
            (State::Associated | State::AwaitRelease, SpduKind::Dt) => {
                if !self.accept_peer_data()? {
                    return Ok(());
                }
                self.on_data(tsdu, spdu.ss_user_data())?;
                self.idle_from(now);
                if self.state == State::AwaitRelease {
                    self.set_timer(Timer::Response, now);
                }
                Ok(())
            }
            (State::Associated, SpduKind::Fn) => {
                self.accept_peer_release()?;
                self.expect_release_pdu(spdu, ReleasePdu::Rlrq)?;
                self.state = State::AwaitReleaseResponse;
                self.timer = None;
                self.events.push_back(Event::ReleaseIndication);
                Ok(())
            }
            (State::AwaitRelease, SpduKind::Fn) => {
                // Release collision (X.227 §7.3.3.4): the association-initiator answers first.
                self.expect_release_pdu(spdu, ReleasePdu::Rlrq)?;
                self.collision = true;
                if self.role == Role::Initiator {
                    let dn = self.dn_pdu().map_err(|e| Violation {
                        layer: Layer::Session,
                        reason: e.to_string(),
                    })?;
                    self.send_tsdu(dn);
                }
                Ok(())
            }
            (State::AwaitRelease, SpduKind::Dn) => {
                self.expect_release_pdu(spdu, ReleasePdu::Rlre)?;
                self.events.push_back(Event::Released {
                    collision: self.collision,
                });
                if self.collision && self.role == Role::Responder {
                    // The initiator answered our RLRQ; now answer its RLRQ.
                    if let Ok(dn) = self.dn_pdu() {
                        self.send_tsdu(dn);
                    }
                    self.await_close(now);
                } else {
                    // The receiver of DN disconnects the transport (X.225 §7.8.3).
                    self.close();
                }
                Ok(())
            }
            (State::AwaitRelease, SpduKind::Nf) => {
                self.expect_release_pdu(spdu, ReleasePdu::Rlre)?;
                self.state = State::Associated;
                self.events.push_back(Event::ReleaseRefused);
                self.idle_from(now);
                Ok(())
            }
            (_, SpduKind::Ab) => {
                self.on_ab(spdu);
                Ok(())
            }
            (_, SpduKind::Aa) => Ok(()),
            (
                State::Associated,
                SpduKind::As
                | SpduKind::Ar
                | SpduKind::Mip
                | SpduKind::Mia
                | SpduKind::Ae
                | SpduKind::MaaOrAea
                | SpduKind::Ai
                | SpduKind::Aia
                | SpduKind::Ad
                | SpduKind::Ada,
            ) => {
                self.on_unit_spdu(spdu)?;
                self.idle_from(now);
                Ok(())
            }
            (state, kind) => Err(unexpected(Layer::Session, &format!("{kind:?} spdu"), state)),
        }
    }

    fn dn_pdu(&self) -> Result<Vec<u8>, crate::error::EncodeError> {
        if self.x410 {
            pdu::bare(SpduKind::Dn)
        } else {
            pdu::disconnect(self.acse_context)
        }
    }

    /// Whether the association runs in X.410-1984 presentation mode (no ACSE, raw data).
    pub fn is_x410(&self) -> bool {
        self.x410
    }

    fn limits(&self) -> crate::Limits {
        self.config.limits
    }

    /// Delivers the PDVs of a P-DATA as `Data` events (values split from the TSDU, no copy).
    fn on_data(&mut self, tsdu: &Bytes, user_data: &[u8]) -> Result<(), Violation> {
        if self.x410 {
            self.events.push_back(Event::Data(Data {
                context_id: None,
                value: tsdu.slice_ref(user_data),
            }));
            return Ok(());
        }
        let ud = UserData::decode(user_data, &self.limits())
            .map_err(|e| e.shifted(offset_in(tsdu, user_data)))?;
        match ud {
            UserData::Simple(v) => self.events.push_back(Event::Data(Data {
                context_id: None,
                value: tsdu.slice_ref(v),
            })),
            UserData::Full(list) => {
                for pdv in list.iter() {
                    let v = pdv_value(&pdv.values);
                    self.events.push_back(Event::Data(Data {
                        context_id: Some(pdv.context_id),
                        value: tsdu.slice_ref(v),
                    }));
                }
            }
        }
        Ok(())
    }

    /// Checks that a FN/DN/NF carries the expected ACSE APDU on the ACSE context.
    fn expect_release_pdu(&self, spdu: &Spdu<'_>, want: ReleasePdu) -> Result<(), Violation> {
        let data = spdu.ss_user_data();
        if data.is_empty() || self.x410 {
            return Ok(()); // session-only release (no ACSE user, or X.410-1984 mode): accepted
        }
        let ud = UserData::decode(data, &self.limits())?;
        let acse = acse_value(&ud, self.acse_context)?;
        let apdu = decode_apdu(data, acse, &self.limits())?;
        match (want, apdu) {
            (ReleasePdu::Rlrq, Apdu::Rlrq(_)) | (ReleasePdu::Rlre, Apdu::Rlre(_)) => Ok(()),
            (_, other) => Err(Violation {
                layer: Layer::Acse,
                reason: format!("{} instead of {:?}", apdu_name(&other), want),
            }),
        }
    }

    fn on_ab(&mut self, spdu: &Spdu<'_>) {
        let data = spdu.ss_user_data();
        let mut user_information = None;
        let (source, layer, reason) = if data.is_empty() {
            let td = spdu.transport_disconnect().map_or(0, |t| t.get());
            (
                AbortSource::PeerProvider,
                Layer::Session,
                format!("session ab, transport disconnect {td:#04x}"),
            )
        } else {
            match AbortPpdu::decode(data, &self.limits()) {
                Ok(AbortPpdu::Arp(arp)) => (
                    AbortSource::PeerProvider,
                    Layer::Presentation,
                    format!(
                        "arp: {}",
                        arp.abort_reason.map_or_else(
                            || "no reason".to_owned(),
                            |r| format!("abort reason {}", r.0)
                        )
                    ),
                ),
                Ok(AbortPpdu::Aru(aru)) => {
                    let abrt = aru
                        .user_data
                        .as_ref()
                        .and_then(|ud| acse_value(ud, self.acse_context).ok())
                        .and_then(|v| Apdu::decode(v, &self.limits()).ok());
                    match abrt {
                        Some(Apdu::Abrt(a))
                            if a.source == acse::AbortSource::ACSE_SERVICE_PROVIDER =>
                        {
                            (
                                AbortSource::PeerProvider,
                                Layer::Acse,
                                format!(
                                    "abrt from the acse provider, diagnostic {:?}",
                                    a.diagnostic.map(|d| d.0)
                                ),
                            )
                        }
                        Some(Apdu::Abrt(a)) => {
                            user_information = first_external(a.user_information.as_ref())
                                .map(Bytes::copy_from_slice);
                            (
                                AbortSource::PeerUser,
                                Layer::Acse,
                                "abrt from the acse user".to_owned(),
                            )
                        }
                        _ => (AbortSource::PeerUser, Layer::Presentation, "aru".to_owned()),
                    }
                }
                Ok(AbortPpdu::AruX410(components)) => {
                    user_information = Some(Bytes::copy_from_slice(components));
                    (
                        AbortSource::PeerUser,
                        Layer::Presentation,
                        "x.410 aru".to_owned(),
                    )
                }
                Err(e) => (
                    AbortSource::PeerProvider,
                    Layer::Session,
                    format!("ab with undecodable user data ({e})"),
                ),
            }
        };
        self.events.push_back(Event::Aborted(Abort {
            source,
            layer,
            reason,
            user_information,
        }));
        // The receiver of an AB that releases the transport connection disconnects it.
        self.close();
    }

    fn on_rf(&mut self, spdu: &Spdu<'_>) {
        let reason = spdu.refuse_reason().unwrap_or(RefuseReason::USER_NO_REASON);
        let refusal = if reason == RefuseReason::USER_DATA {
            self.cpr_refusal(spdu.refuse_user_data().unwrap_or_default())
        } else {
            Refusal {
                layer: Layer::Session,
                code: Some(i64::from(reason.0)),
                reason: format!("rf: {reason}"),
                user_information: None,
            }
        };
        self.events.push_back(Event::Refused(refusal));
        self.close();
    }

    fn cpr_refusal(&self, data: &[u8]) -> Refusal {
        let limits = self.limits();
        let cpr = match Cpr::decode(data, &limits) {
            Ok(Cpr::Normal(n)) => n,
            Ok(Cpr::X410(components)) => {
                return Refusal {
                    layer: Layer::Presentation,
                    code: None,
                    reason: "x.410 cpr".into(),
                    user_information: Some(Bytes::copy_from_slice(components)),
                };
            }
            Err(e) => {
                return Refusal {
                    layer: Layer::Presentation,
                    code: None,
                    reason: format!("undecodable cpr: {e}"),
                    user_information: None,
                };
            }
        };
        if let Some(ud) = &cpr.user_data {
            if let Ok(Apdu::Aare(aare)) = acse_value(ud, self.acse_context)
                .and_then(|v| Apdu::decode(v, &limits).map_err(Violation::from))
            {
                let (source, code) = match aare.result_source_diagnostic {
                    AssociateSourceDiagnostic::User(d) => ("acse-service-user", d.0),
                    AssociateSourceDiagnostic::Provider(d) => ("acse-service-provider", d.0),
                };
                return Refusal {
                    layer: Layer::Acse,
                    code: Some(code),
                    reason: format!("aare result {}, diagnostic {source} {code}", aare.result.0),
                    user_information: first_external(aare.user_information.as_ref())
                        .map(Bytes::copy_from_slice),
                };
            }
        }
        let reason = cpr.provider_reason.map_or(0, |p| p.0);
        Refusal {
            layer: Layer::Presentation,
            code: Some(reason),
            reason: format!("cpr provider reason {reason}"),
            user_information: None,
        }
    }

    fn on_ac(&mut self, spdu: &Spdu<'_>, now: Instant) -> Result<(), Violation> {
        self.units.initiator_agree(
            spdu.session_user_requirements(),
            spdu.connect_accept_item()
                .and_then(|c| c.token_setting_item),
        );
        let limits = self.limits();
        let ppdu = spdu.ss_user_data();
        let cpa = Cpa::decode(ppdu, &limits)?;
        if self.x410 {
            let Some(params) = cpa.x410_parameters else {
                return Err(Violation {
                    layer: Layer::Presentation,
                    reason: "normal-mode cpa answering an x.410-1984-mode cp".into(),
                });
            };
            self.state = State::Associated;
            self.timer = None;
            self.events
                .push_back(Event::Associated(Box::new(Associated {
                    contexts: Vec::new(),
                    user_information: Some(Bytes::copy_from_slice(params)),
                    result: 0,
                })));
            self.idle_from(now);
            return Ok(());
        }
        let Some(normal) = cpa.normal else {
            return Err(Violation {
                layer: Layer::Presentation,
                reason: "cpa without normal-mode parameters".into(),
            });
        };
        if let Some(results) = &normal.context_results {
            for (outcome, r) in self.contexts.iter_mut().zip(results.iter()) {
                outcome.result = r.result.0;
                outcome.provider_reason = r.provider_reason.map(|p| p.0);
            }
        }
        let ud = normal.user_data.ok_or(Violation {
            layer: Layer::Presentation,
            reason: "cpa without user data".into(),
        })?;
        let aare = match decode_apdu(ppdu, acse_value(&ud, self.acse_context)?, &limits)? {
            Apdu::Aare(a) => a,
            other => {
                return Err(Violation {
                    layer: Layer::Acse,
                    reason: format!("{} instead of aare", apdu_name(&other)),
                });
            }
        };
        let user_information =
            first_external(aare.user_information.as_ref()).map(Bytes::copy_from_slice);
        if aare.result != AssociateResult::ACCEPTED {
            // X.227 forbids a rejecting AARE in an AC; treat it as a refusal and end.
            self.events.push_back(Event::Refused(Refusal {
                layer: Layer::Acse,
                code: Some(aare.result.0),
                reason: format!("aare result {} inside an ac", aare.result.0),
                user_information,
            }));
            if let Ok(t) = pdu::abort(AbortWith::AcseProvider(self.acse_context)) {
                self.send_tsdu(t);
            }
            self.close();
            return Ok(());
        }
        self.state = State::Associated;
        self.timer = None;
        self.events
            .push_back(Event::Associated(Box::new(Associated {
                contexts: self.contexts.clone(),
                user_information,
                result: aare.result.0,
            })));
        self.idle_from(now);
        Ok(())
    }

    fn refuse_cn(&mut self, with: RefuseWith, now: Instant) {
        match pdu::rf(&self.answer, with) {
            Ok(rf) => {
                self.send_tsdu(rf);
                self.await_close(now);
            }
            Err(_) => self.close(),
        }
    }

    fn on_cn(&mut self, spdu: &Spdu<'_>, now: Instant) -> Result<(), Violation> {
        // Version: 2 when offered, else 1 (X.225 §7.1.1).
        let offered = spdu.version_number().unwrap_or(VersionNumber::V1);
        self.answer.version = Some(if offered.contains(VersionNumber::V2) {
            VersionNumber::V2
        } else {
            VersionNumber::V1
        });
        let requested = spdu
            .session_user_requirements()
            .unwrap_or(SessionUserRequirements::DEFAULT);
        let setting = spdu
            .connect_accept_item()
            .and_then(|c| c.token_setting_item);
        let (agreed, ac_setting) = self.units.responder_agree(requested, setting);
        self.answer.requirements = Some(agreed);
        self.answer.token_setting = ac_setting;
        let called_ssel = spdu.called_session_selector();
        self.answer.responding_ssel = called_ssel.filter(|s| !s.is_empty()).map(<[u8]>::to_vec);
        if spdu.data_overflow().is_some_and(|d| d.get() != 0) {
            self.rejected(
                Layer::Session,
                i64::from(RefuseReason::SPM_IMPLEMENTATION_RESTRICTION.0),
                "connect data overflow (cdo) is not supported".into(),
                None,
            );
            self.refuse_cn(
                RefuseWith::Session(RefuseReason::SPM_IMPLEMENTATION_RESTRICTION),
                now,
            );
            return Ok(());
        }
        if !self.narrow(
            Layer::Session,
            i64::from(RefuseReason::SELECTOR_UNKNOWN.0),
            ("called s-selector", called_ssel, show_selector(called_ssel)),
            |s| s.ssel.matches(called_ssel),
            |s| s.ssel.to_string(),
        ) {
            self.refuse_cn(RefuseWith::Session(RefuseReason::SELECTOR_UNKNOWN), now);
            return Ok(());
        }
        let calling = spdu.calling_session_selector();
        if !self.narrow(
            Layer::Session,
            i64::from(RefuseReason::USER_NO_REASON.0),
            ("calling s-selector", calling, show_selector(calling)),
            |s| s.calling_ssel.matches(calling),
            |s| s.calling_ssel.to_string(),
        ) {
            self.refuse_cn(RefuseWith::Session(RefuseReason::USER_NO_REASON), now);
            return Ok(());
        }
        if let Some(ind) = self.indication.as_mut() {
            ind.calling_ssel = spdu.calling_session_selector().map(Bytes::copy_from_slice);
            ind.called_ssel = called_ssel.map(Bytes::copy_from_slice);
        }
        let data = spdu.ss_user_data();
        let limits = self.limits();
        let cp = match Cp::decode(data, &limits) {
            Ok((cp, _)) => cp,
            Err(e) => {
                self.rejected(
                    Layer::Presentation,
                    ProviderReason::REASON_NOT_SPECIFIED.0,
                    format!("undecodable cp: {e}"),
                    None,
                );
                self.refuse_cn(
                    RefuseWith::Presentation(ProviderReason::REASON_NOT_SPECIFIED),
                    now,
                );
                return Ok(());
            }
        };
        let Some(normal) = cp.normal else {
            let Some(params) = cp.x410_parameters else {
                self.rejected(
                    Layer::Presentation,
                    ProviderReason::REASON_NOT_SPECIFIED.0,
                    "cp with neither normal-mode nor x.410-1984-mode parameters".into(),
                    None,
                );
                self.refuse_cn(RefuseWith::Session(RefuseReason::USER_NO_REASON), now);
                return Ok(());
            };
            // X.410-1984 mode: no presentation selectors, contexts or ACSE to check.
            self.x410 = true;
            self.contexts.clear();
            self.service = self.candidates.first().copied();
            let service_name = self.service().map(|s| s.name.clone());
            let mut ind = self
                .indication
                .take()
                .unwrap_or_else(|| Box::new(empty_indication()));
            ind.service = self.service;
            ind.service_name = service_name;
            ind.x410_parameters = Some(Bytes::copy_from_slice(params));
            self.events.push_back(Event::AssociateIndication(ind));
            self.state = State::AwaitUser;
            self.timer = None;
            return Ok(());
        };
        let called_psel = normal.called_selector;
        self.answer.responding_psel = called_psel.filter(|s| !s.is_empty()).map(<[u8]>::to_vec);
        if !self.narrow(
            Layer::Presentation,
            ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN.0,
            ("called p-selector", called_psel, show_selector(called_psel)),
            |s| s.psel.matches(called_psel),
            |s| s.psel.to_string(),
        ) {
            self.refuse_cn(
                RefuseWith::Presentation(ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN),
                now,
            );
            return Ok(());
        }
        let calling = normal.calling_selector;
        if !self.narrow(
            Layer::Presentation,
            ProviderReason::REASON_NOT_SPECIFIED.0,
            ("calling p-selector", calling, show_selector(calling)),
            |s| s.calling_psel.matches(calling),
            |s| s.calling_psel.to_string(),
        ) {
            self.refuse_cn(
                RefuseWith::Presentation(ProviderReason::REASON_NOT_SPECIFIED),
                now,
            );
            return Ok(());
        }
        // Contexts: ACSE and, for the application, what the first candidate service accepts.
        let accepts: Vec<crate::oid::OwnedOid> = self
            .candidates
            .first()
            .and_then(|&i| self.dispatch.get(i))
            .map(|s| s.abstract_syntaxes.clone())
            .unwrap_or_default();
        let mut acse_context = None;
        let mut first_user_context = None;
        self.contexts.clear();
        self.answer.results.clear();
        if let Some(list) = &normal.context_definitions {
            for def in list.iter() {
                let mut ber = false;
                for t in def.transfer_syntaxes.iter() {
                    ber |= t == Oid::BER;
                }
                let is_acse = def.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX;
                let known = is_acse
                    || accepts.is_empty()
                    || accepts.iter().any(|a| a.as_oid() == def.abstract_syntax);
                let (result, reason) = if !known {
                    (
                        ContextResultCode::PROVIDER_REJECTION,
                        Some(ContextProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED),
                    )
                } else if !ber {
                    (
                        ContextResultCode::PROVIDER_REJECTION,
                        Some(ContextProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED),
                    )
                } else {
                    if is_acse && acse_context.is_none() {
                        acse_context = Some(def.id);
                    } else if !is_acse && first_user_context.is_none() {
                        first_user_context = Some(def.id);
                    }
                    (ContextResultCode::ACCEPTANCE, None)
                };
                self.answer.results.push((def.id, result, reason));
                self.contexts.push(ContextOutcome {
                    id: def.id,
                    abstract_syntax: Some(def.abstract_syntax.to_owned_oid()),
                    result: result.0,
                    provider_reason: reason.map(|r| r.0),
                });
            }
        }
        let Some(acse_context) = acse_context else {
            self.rejected(
                Layer::Presentation,
                ProviderReason::REASON_NOT_SPECIFIED.0,
                "the cp proposes no acse context with ber".into(),
                None,
            );
            self.refuse_cn(
                RefuseWith::Presentation(ProviderReason::REASON_NOT_SPECIFIED),
                now,
            );
            return Ok(());
        };
        self.acse_context = acse_context;
        self.answer.acse_context = Some(acse_context);
        self.indication_user_context = first_user_context;
        let aarq = normal
            .user_data
            .as_ref()
            .ok_or(Violation {
                layer: Layer::Presentation,
                reason: "cp without user data".into(),
            })
            .and_then(|ud| acse_value(ud, acse_context))
            .and_then(|v| decode_apdu(data, v, &limits).map_err(Violation::from));
        let aarq = match aarq {
            Ok(Apdu::Aarq(a)) => a,
            other => {
                let why = match other {
                    Ok(o) => format!("{} instead of aarq", apdu_name(&o)),
                    Err(v) => v.reason,
                };
                self.rejected(
                    Layer::Acse,
                    acse::ProviderDiagnostic::NO_REASON_GIVEN.0,
                    why,
                    None,
                );
                self.refuse_cn(
                    RefuseWith::Acse(
                        AssociateResult::REJECTED_PERMANENT,
                        AssociateSourceDiagnostic::Provider(
                            acse::ProviderDiagnostic::NO_REASON_GIVEN,
                        ),
                    ),
                    now,
                );
                return Ok(());
            }
        };
        self.answer.application_context = Some(aarq.application_context_name.to_owned_oid());
        let called_title = match aarq.called.ap_title {
            Some(ApTitle::Form2(o)) => Some(o),
            _ => None,
        };
        let called_qualifier = match aarq.called.ae_qualifier {
            Some(AeQualifier::Form2(q)) => Some(q),
            _ => None,
        };
        let refuse_acse = |a: &mut Self, diag| {
            a.refuse_cn(
                RefuseWith::Acse(
                    AssociateResult::REJECTED_PERMANENT,
                    AssociateSourceDiagnostic::User(diag),
                ),
                now,
            );
        };
        let diag = acse::UserDiagnostic::CALLED_AP_TITLE_NOT_RECOGNIZED;
        if !self.narrow(
            Layer::Acse,
            diag.0,
            (
                "called ap-title",
                None,
                called_title.map_or_else(|| "none".to_owned(), |t| t.to_string()),
            ),
            |s| {
                s.ap_title
                    .as_ref()
                    .is_none_or(|t| Some(t.as_oid()) == called_title)
            },
            |s| {
                s.ap_title
                    .as_ref()
                    .map_or_else(|| "any".to_owned(), ToString::to_string)
            },
        ) {
            refuse_acse(self, diag);
            return Ok(());
        }
        let diag = acse::UserDiagnostic::CALLED_AE_QUALIFIER_NOT_RECOGNIZED;
        if !self.narrow(
            Layer::Acse,
            diag.0,
            (
                "called ae-qualifier",
                None,
                called_qualifier.map_or_else(|| "none".to_owned(), |q| q.to_string()),
            ),
            |s| s.ae_qualifier.is_none_or(|q| Some(q) == called_qualifier),
            |s| {
                s.ae_qualifier
                    .map_or_else(|| "any".to_owned(), |q| q.to_string())
            },
        ) {
            refuse_acse(self, diag);
            return Ok(());
        }
        self.service = self.candidates.first().copied();
        let service_name = self.service().map(|s| s.name.clone());
        let mut ind = self
            .indication
            .take()
            .unwrap_or_else(|| Box::new(empty_indication()));
        ind.service = self.service;
        ind.service_name = service_name;
        ind.calling_psel = normal.calling_selector.map(Bytes::copy_from_slice);
        ind.called_psel = called_psel.map(Bytes::copy_from_slice);
        ind.application_context = aarq.application_context_name.to_owned_oid();
        ind.calling_ap_title = match aarq.calling.ap_title {
            Some(ApTitle::Form2(o)) => Some(o.to_owned_oid()),
            _ => None,
        };
        ind.calling_ae_qualifier = match aarq.calling.ae_qualifier {
            Some(AeQualifier::Form2(q)) => Some(q),
            _ => None,
        };
        ind.contexts = self.contexts.clone();
        ind.user_information =
            first_external(aarq.user_information.as_ref()).map(Bytes::copy_from_slice);
        self.events.push_back(Event::AssociateIndication(ind));
        self.state = State::AwaitUser;
        self.timer = None;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReleasePdu {
    Rlrq,
    Rlre,
}

fn empty_indication() -> AssociateIndication {
    AssociateIndication {
        service: None,
        service_name: None,
        calling_tsel: None,
        called_tsel: None,
        calling_ssel: None,
        called_ssel: None,
        calling_psel: None,
        called_psel: None,
        application_context: Oid::MMS_APPLICATION_CONTEXT.to_owned_oid(),
        calling_ap_title: None,
        calling_ae_qualifier: None,
        contexts: Vec::new(),
        user_information: None,
        x410_parameters: None,
    }
}

fn apdu_name(apdu: &Apdu<'_>) -> &'static str {
    match apdu {
        Apdu::Aarq(_) => "aarq",
        Apdu::Aare(_) => "aare",
        Apdu::Rlrq(_) => "rlrq",
        Apdu::Rlre(_) => "rlre",
        Apdu::Abrt(_) => "abrt",
    }
}

fn pdv_value<'a>(v: &PdvValues<'a>) -> &'a [u8] {
    match *v {
        PdvValues::SingleAsn1Type(b)
        | PdvValues::OctetAligned(b)
        | PdvValues::OctetAlignedSegments(b) => b,
        PdvValues::Arbitrary { data, .. } => data,
    }
}

/// The value of the PDV on the ACSE context.
fn acse_value<'a>(ud: &UserData<'a>, context: i64) -> Result<&'a [u8], Violation> {
    for pdv in ud.pdvs() {
        if pdv.context_id == context {
            return Ok(pdv_value(&pdv.values));
        }
    }
    Err(Violation {
        layer: Layer::Presentation,
        reason: format!("no presentation data value on the acse context {context}"),
    })
}

/// Decodes the ACSE APDU `value`, the value of a PDV of the presentation PPDU `ppdu`; an
/// error's offset counts from the start of the PPDU (the session user data), not the APDU.
fn decode_apdu<'a>(
    ppdu: &[u8],
    value: &'a [u8],
    limits: &crate::Limits,
) -> Result<Apdu<'a>, DecodeError> {
    Apdu::decode(value, limits).map_err(|e| e.shifted(offset_in(ppdu, value)))
}

/// The value of the first user-information EXTERNAL.
fn first_external<'a>(list: Option<&acse::ExternalList<'a>>) -> Option<&'a [u8]> {
    list?.iter().next().map(|e| pdv_value(&e.encoding))
}

/// Offset of `inner` within `outer` (both from the same buffer), 0 when it is not inside.
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .checked_sub(outer.as_ptr() as usize)
        .filter(|&o| o <= outer.len())
        .unwrap_or(0)
}
