//! A session connection (X.225 over a class-0 transport connection, RFC 1006): a sans-IO
//! machine from the kernel to the functional units RTSE needs.
//!
//! [`Connection`] works on TSDUs: the owner hands it every TSDU the transport connection
//! delivers ([`Connection::handle_tsdu`]) and sends every [`Transmit`] it returns as one TSDU.
//! It never touches a socket, a clock or a random number generator. The owner:
//!
//! - tells it when the transport connection is up ([`Connection::handle_transport_connected`],
//!   a responder then waits for the CN) and when it ended
//!   ([`Connection::handle_transport_disconnected`]);
//! - sends what [`Connection::poll_transmit`] returns, each as one TSDU, in order;
//! - reads [`Connection::poll_event`] until `None` after every call;
//! - calls [`Connection::handle_timeout`] at [`Connection::poll_timeout`];
//! - releases the transport connection after [`Event::Closed`].
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use osi_stack::session::connection::{Config, ConnectRequest, Connection, Event};
//!
//! let now = Instant::now();
//! let mut client = Connection::initiator(Config::default());
//! let mut server = Connection::responder(Config::default());
//! server.handle_transport_connected(now); // the CN may come now
//! client.connect(ConnectRequest::default().with_user_data(Bytes::from_static(b"hello")), now)?;
//! let mut pump = |from: &mut Connection, to: &mut Connection| {
//!     while let Some(t) = from.poll_transmit() { to.handle_tsdu(t.to_bytes(), now); }
//! };
//! pump(&mut client, &mut server); // CN
//! let Some(Event::ConnectIndication(ind)) = server.poll_event() else { panic!() };
//! assert_eq!(&ind.user_data[..], b"hello");
//! server.accept(Bytes::new(), now)?;
//! pump(&mut server, &mut client); // AC
//! assert!(matches!(client.poll_event(), Some(Event::Connected(_))));
//! client.send_data(Bytes::from_static(b"\x30\x00"), now)?; // GT + DT
//! pump(&mut client, &mut server);
//! assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
//! assert!(matches!(server.poll_event(), Some(Event::Data(d)) if &d[..] == b"\x30\x00"));
//! # Ok::<(), osi_stack::session::connection::ServiceError>(())
//! ```
//!
//! # Connect, release, abort
//!
//! The initiator proposes version 2 (both versions on request) and the functional units of its
//! [`ConnectRequest`]; a responder selects version 2 when offered (else 1), agrees to duplex when
//! it is proposed (unless half-duplex is proposed too with a unit that needs tokens: then, as
//! ISODE does, half-duplex) and otherwise to half-duplex with whichever of minor synchronize,
//! major synchronize, resynchronize, negotiated release, activity management, exceptions, typed
//! data and capability data (with activity management, X.225 §9.2) were asked for. A CN that offers no version this machine knows is
//! refused with RF 0x84, a CN with Data Overflow (more than 10 240 octets of user data) with RF
//! 0x86; both give [`Event::Rejected`]. Orderly release is FN / DN (or NF); when FNs cross, both
//! sides get [`Event::ReleaseIndication`] with `collision: true` and each answers with
//! [`Connection::release_response`] (X.225 §7.8; the side that answers first is the user's
//! choice — ACSE lets the association-initiator answer first). The receiver of DN releases the
//! transport connection; the sender of DN, AB or RF waits [`Config::disconnect_wait`] (TIM).
//!
//! # Functional units
//!
//! With half-duplex, minor synchronize, activity management and exceptions (RTSE's `0x0249`)
//! the data, minor synchronize and activity tokens exist. The rules this machine enforces on
//! requests ([`ServiceError::TokenRule`], [`ServiceError::NotNegotiated`]) and on the peer's
//! SPDUs (a session protocol error: AB, [`AbortReason::ProtocolError`]):
//!
//! | service | SPDUs | needs |
//! |---|---|---|
//! | S-DATA | GT DT | the data token if it exists (inside an activity too, whoever started it); not once the activity's end was sent or received, nor while the peer's MAP waits for its MAA; no exception report in force |
//! | S-TYPED-DATA | TD | typed data (X.225 §7.13); any token position |
//! | S-CAPABILITY-DATA | GT CD, answered by PT CDA | capability data and activity management; no activity; the data, minor and activity tokens that exist (X.225 §7.14–7.15) |
//! | S-SYNC-MAJOR | GT MAP (Sync Type Item 1), answered by PT MAA | major synchronize; inside this side's activity when activity management is on; the data, minor and major tokens that exist; nothing else until the MAA |
//! | S-RESYNCHRONIZE | GT RS (Token Setting Item, Resync Type, Serial Number), answered by PT RA | resynchronize; an activity when activity management is on; no token; restart at most V(M), abandon at V(M), set anywhere; crossing RSs: abandon before set before restart, two restarts the lower serial number, otherwise the session initiator's |
//! | S-TOKEN-GIVE | GT (Token Item) | the tokens (the activity token inside an activity too) |
//! | S-TOKEN-PLEASE | PT (Token Item, User Data) | tokens the peer holds |
//! | S-CONTROL-GIVE | GTC, answered by GTA | activity management; no activity; every available token (all go to the peer) |
//! | S-ACTIVITY-START / -RESUME | GT AS / PT AR | activity management; no activity; every available token |
//! | S-SYNC-MINOR | GT MIP, answered by PT MIA | minor synchronize; inside this side's activity when activity management is on; the data and minor tokens |
//! | S-ACTIVITY-END | GT AE, answered by PT AEA | an activity this side started; every available token |
//! | S-ACTIVITY-INTERRUPT / -DISCARD | GT AI / GT AD, answered by PT AIA / PT ADA | an activity; the activity token; afterwards every token belongs to the side that interrupted |
//! | S-U-EXCEPTION-REPORT | PT ED | exceptions; the peer holds the data token |
//! | S-RELEASE | FN | no activity; every available token |
//!
//! Serial numbers: activity start sets V(M) to 1; each MIP and the AE carry V(M), then V(M)
//! grows by one; activity resume with serial number `n` sets V(M) to `n + 1`. A MIP from the
//! peer must carry the expected V(M); a MIA confirms every sync point up to its serial number
//! and must name one that is outstanding. The machine answers AI, AD and GTC itself (AIA, ADA,
//! GTA) and reports them. An exception report (ER from the peer's provider, ED from its user)
//! is reported ([`Event::ExceptionReport`]); while one is in force the side that sent ED drops
//! the peer's data, and the holder of the data token resolves it by giving the data token, by
//! interrupting or discarding the activity, or by aborting (X.225 §7.22).
//!
//! MAP and AE share SI 41 (MAP carries the Sync Type Item); MAA and AEA share SI 42 and are told
//! apart by what this side waits for. A MAP carries V(M) like a MIP; its MAA confirms every
//! sync point up to it.
//!
//! After RA, V(M) is the RS's serial number and the tokens lie where the RA's Token Setting Item
//! puts them; exception reports and pending exchanges are void.
//!
//! With negotiated release the release token exists (FN needs it like every other token).
//!
//! Not offered: expedited data (and PR), symmetric synchronize, segmenting (a received SPDU with an Enclosure Item other than "whole" is
//! a protocol error: this machine never proposes a TSDU maximum size), transport reuse.

use std::collections::VecDeque;
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::units::{Activity, Exception, Pending, Units, accept_token_setting};
use super::{
    ActivityReason, ConnectData, EnclosureItem, ParameterCode, ParametersBuf, RefuseReason,
    SessionUserRequirements, SessionVersion, Spdu, SpduKind, TokenItem, TokenSettingItem,
    TransportDisconnect, VersionNumber,
};
use crate::address::SSel;
use crate::cotp::connection::Disconnect;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer};
use crate::limits::Limits;

pub use super::units::{OldConnection, Resumed, ResyncType};

/// Settings of a session connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Bounds on what the peer can make this side decode.
    pub limits: Limits,
    /// How long to wait for the peer's answer: the CN (from
    /// [`Connection::handle_transport_connected`]), AC/RF after CN, DN/NF after FN, AIA/ADA/GTA.
    /// Default 30 s.
    pub response_timeout: Duration,
    /// X.225's TIM: after sending DN, AB or RF, how long to wait for the transport connection
    /// to be released by the peer. Default 5 s.
    pub disconnect_wait: Duration,
    /// How long the user may take to answer a connect or release indication before the
    /// connection is aborted. Default 30 s; `None` waits forever.
    pub user_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::DEFAULT,
            response_timeout: Duration::from_secs(30),
            disconnect_wait: Duration::from_secs(5),
            user_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What an initiator proposes in its CN.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectRequest {
    /// Calling S-selector (PI 51).
    pub calling_ssel: Option<SSel>,
    /// Called S-selector (PI 52).
    pub called_ssel: Option<SSel>,
    /// Functional units proposed (PI 20). Default duplex.
    pub requirements: SessionUserRequirements,
    /// Initial token positions (PI 26); absent: every token on the initiator's side.
    pub token_setting: Option<TokenSettingItem>,
    /// Versions proposed (PI 22). Default version 2; X.410-1984 peers want both.
    pub versions: VersionNumber,
    /// SS-user data (PGI 193 up to 512 octets, PGI 194 up to 10 240).
    pub user_data: Bytes,
}

impl Default for ConnectRequest {
    fn default() -> Self {
        ConnectRequest {
            calling_ssel: None,
            called_ssel: None,
            requirements: SessionUserRequirements::DUPLEX,
            token_setting: None,
            versions: VersionNumber::V2,
            user_data: Bytes::new(),
        }
    }
}

impl ConnectRequest {
    /// The same request with these selectors.
    #[must_use]
    pub fn with_selectors(mut self, calling: Option<SSel>, called: Option<SSel>) -> Self {
        self.calling_ssel = calling;
        self.called_ssel = called;
        self
    }

    /// The same request with other functional units and token positions.
    #[must_use]
    pub fn with_requirements(
        mut self,
        requirements: SessionUserRequirements,
        token_setting: Option<TokenSettingItem>,
    ) -> Self {
        self.requirements = requirements;
        self.token_setting = token_setting;
        self
    }

    /// The same request proposing other versions.
    #[must_use]
    pub fn with_versions(mut self, versions: VersionNumber) -> Self {
        self.versions = versions;
        self
    }

    /// The same request with SS-user data.
    #[must_use]
    pub fn with_user_data(mut self, user_data: Bytes) -> Self {
        self.user_data = user_data;
        self
    }

    /// Whether the CN can be built (selectors, user data within 10 240 octets), so that an
    /// owner can refuse a request before the transport connection is even made.
    pub fn check(&self) -> Result<(), EncodeError> {
        encode::cn(self).map(|_| ())
    }
}

/// A CN this side can answer (responder): [`Connection::accept`] or [`Connection::refuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectIndication {
    /// Calling S-selector as received.
    pub calling_ssel: Option<Bytes>,
    /// Called S-selector as received.
    pub called_ssel: Option<Bytes>,
    /// Functional units proposed (absent PI 20: the X.225 default `0x0349`).
    pub requirements: SessionUserRequirements,
    /// The functional units an accept will agree to.
    pub agreed: SessionUserRequirements,
    /// Token positions proposed.
    pub token_setting: Option<TokenSettingItem>,
    /// The version an accept will use.
    pub version: VersionNumber,
    /// SS-user data.
    pub user_data: Bytes,
}

/// The session connection is established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// Functional units in use.
    pub requirements: SessionUserRequirements,
    /// Protocol version in use.
    pub version: VersionNumber,
    /// Tokens this side holds.
    pub tokens: TokenItem,
    /// Initiator: the responding S-selector of the AC.
    pub responding_ssel: Option<Bytes>,
    /// Initiator: the AC's SS-user data; responder: the accept's.
    pub user_data: Bytes,
}

/// A wait that can run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wait {
    /// The CN, once the transport connection is up (responder).
    Connect,
    /// AC or RF after the CN.
    Accept,
    /// This side's user: the answer to a connect or release indication.
    User,
    /// DN or NF after the FN.
    Release,
    /// AIA, ADA or GTA.
    Answer,
}

impl Wait {
    /// A short name.
    pub const fn name(self) -> &'static str {
        match self {
            Wait::Connect => "connect",
            Wait::Accept => "accept",
            Wait::User => "user",
            Wait::Release => "release",
            Wait::Answer => "answer",
        }
    }
}

/// Why a session connection was aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// The peer sent AB; its Transport Disconnect parameter says whether it was its user
    /// (user abort, with user data) or its provider (protocol error, no reason …).
    Peer(TransportDisconnect),
    /// The peer broke the protocol; this side sent AB (protocol error). The error names the
    /// layer that found it (session, or presentation/ACSE when the owner aborted through
    /// [`Connection::provider_abort`]), the offset and what was wrong.
    ProtocolError(DecodeError),
    /// A wait ran out; this side sent AB.
    Timeout(Wait),
    /// The transport connection ended.
    Transport(Disconnect),
    /// This side's user aborted ([`Connection::abort`]).
    User,
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::Peer(td) => {
                write!(f, "ab from the peer (transport disconnect {:#04x})", td.0)
            }
            AbortReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            AbortReason::Timeout(w) => write!(f, "no {} within the time limit", w.name()),
            AbortReason::Transport(d) => write!(f, "transport: {d}"),
            AbortReason::User => f.write_str("aborted by this side's user"),
        }
    }
}

/// An abort: who, why, and the user data of the peer's AB.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Abort {
    /// The reason.
    pub reason: AbortReason,
    /// The SS-user data of the peer's AB (empty otherwise).
    pub user_data: Bytes,
}

/// An exception report from the peer (X.225 §7.22).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExceptionReport {
    /// S-P-EXCEPTION-REPORT: the peer's provider sent ER (with its Reflect Parameter Values).
    Provider {
        /// PI 49 of the ER.
        reflect: Bytes,
    },
    /// S-U-EXCEPTION-REPORT: the peer's user sent ED.
    User {
        /// PI 50 of the ED.
        reason: ActivityReason,
        /// The ED's user data.
        user_data: Bytes,
    },
}

/// What a session connection tells its user, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A CN arrived (responder).
    ConnectIndication(Box<ConnectIndication>),
    /// This side's provider refused a CN by itself (RF with `reason`; `cause` says why).
    Rejected {
        /// The RF's reason code.
        reason: RefuseReason,
        /// What was wrong with the CN.
        cause: DecodeError,
    },
    /// The connection is established: AC received (initiator) or sent (responder).
    Connected(Box<Connected>),
    /// The peer refused the connection (RF): its reason code and, with reason 2, its user data.
    Refused {
        /// The first octet of PI 50.
        reason: RefuseReason,
        /// The rest of PI 50 (reason 2: the SS-user data, a CPR-PPDU).
        user_data: Bytes,
    },
    /// S-DATA: the user information of a DT.
    Data(Bytes),
    /// The peer asks for an orderly release (FN): answer with [`Connection::release_response`].
    ReleaseIndication {
        /// The FN's user data.
        user_data: Bytes,
        /// This side had sent FN too (FN collision).
        collision: bool,
    },
    /// The peer accepted the release (DN).
    Released {
        /// The DN's user data.
        user_data: Bytes,
    },
    /// The peer refused the release (NF); the connection goes on.
    ReleaseRefused {
        /// The NF's user data.
        user_data: Bytes,
    },
    /// The connection was aborted.
    Aborted(Abort),
    /// The peer gave tokens (GT with a Token Item).
    TokensGiven(TokenItem),
    /// The peer asks for tokens (PT with a Token Item).
    TokensPlease {
        /// The tokens asked for.
        tokens: TokenItem,
        /// The PT's user data.
        user_data: Bytes,
    },
    /// The peer gave every token with S-CONTROL-GIVE (GTC); the machine answered GTA.
    ControlGiven,
    /// The peer acknowledged this side's GTC (GTA).
    ControlGiveConfirmed,
    /// The peer started an activity (AS).
    ActivityStarted {
        /// Activity identifier (PI 41, ≤ 6 octets).
        id: Bytes,
    },
    /// The peer resumed an interrupted activity (AR).
    ActivityResumed(Box<Resumed>),
    /// The peer set a minor synchronization point (MIP): answer with
    /// [`Connection::sync_minor_response`] once the data before it is secured.
    SyncMinor {
        /// Its serial number.
        serial: u64,
    },
    /// The peer confirmed the minor synchronization points up to `serial` (MIA).
    SyncMinorConfirmed {
        /// The serial number confirmed.
        serial: u64,
    },
    /// The peer ended its activity (AE): answer with [`Connection::activity_end_response`].
    ActivityEnd {
        /// Serial number of the AE.
        serial: u64,
    },
    /// The peer confirmed the end of this side's activity (AEA).
    ActivityEnded {
        /// Serial number of the AE confirmed.
        serial: u64,
    },
    /// The peer interrupted the activity (AI); the machine answered AIA.
    ActivityInterrupted {
        /// AI reason code.
        reason: ActivityReason,
    },
    /// The peer discarded the activity (AD); the machine answered ADA.
    ActivityDiscarded {
        /// AD reason code.
        reason: ActivityReason,
    },
    /// The peer confirmed this side's activity interrupt (AIA).
    ActivityInterruptConfirmed,
    /// The peer confirmed this side's activity discard (ADA).
    ActivityDiscardConfirmed,
    /// The peer reported an exception (ER or ED).
    ExceptionReport(ExceptionReport),
    /// Typed data from the peer (TD, X.225 §7.13): outside the data token's control.
    TypedData(Bytes),
    /// The peer sent capability data (CD, X.225 §7.14): answer with
    /// [`Connection::capability_data_response`].
    CapabilityData(Bytes),
    /// The peer acknowledged this side's capability data (CDA, X.225 §7.15), with its user data.
    CapabilityDataConfirmed(Bytes),
    /// The peer set a major synchronization point (MAP): answer with
    /// [`Connection::sync_major_response`] once the data before it is secured.
    SyncMajor {
        /// Its serial number.
        serial: u64,
        /// The MAP's user data.
        user_data: Bytes,
    },
    /// The peer confirmed this side's major synchronization point (MAA).
    SyncMajorConfirmed {
        /// The serial number confirmed.
        serial: u64,
        /// The MAA's user data.
        user_data: Bytes,
    },
    /// The peer asks to resynchronize (RS, X.225 RESYNCHRONIZE SPDU): answer with
    /// [`Connection::resynchronize_response`] (or override it with a
    /// [`Connection::resynchronize`] of higher precedence).
    Resynchronize {
        /// Restart, abandon or set.
        kind: ResyncType,
        /// The serial number the connection resumes at.
        serial: u64,
        /// The token positions the peer proposes.
        token_setting: TokenSettingItem,
        /// The RS's user data.
        user_data: Bytes,
    },
    /// The peer acknowledged this side's resynchronization (RA); the tokens are placed as it
    /// says and V(M) is `serial`.
    ResynchronizeConfirmed {
        /// The serial number now in force.
        serial: u64,
        /// The RA's user data.
        user_data: Bytes,
    },
    /// The machine is finished: release the transport connection. Always the last event.
    Closed,
}

/// A request that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is not valid in the connection's state.
    #[error("session: {request} is not allowed in state {state}")]
    WrongState {
        /// The request.
        request: &'static str,
        /// The state's name.
        state: &'static str,
    },
    /// The request breaks a token, synchronization or activity rule of X.225.
    #[error("session: {request} is not allowed: {reason}")]
    TokenRule {
        /// The request.
        request: &'static str,
        /// The rule.
        reason: &'static str,
    },
    /// The request needs a functional unit that was not negotiated.
    #[error("session: {request} needs the {unit} functional unit, which was not negotiated")]
    NotNegotiated {
        /// The request.
        request: &'static str,
        /// The functional unit.
        unit: &'static str,
    },
    /// A value does not fit its field.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

fn rule(request: &'static str, reason: &'static str) -> ServiceError {
    ServiceError::TokenRule { request, reason }
}

/// The checks S-SYNC-MINOR and S-SYNC-MAJOR share: `tokens` held (`missing` says which
/// otherwise), no exception report in force, and a run of sync points this side sends (its
/// activity; without activity management the implicit one, started here) that is not ending.
/// Returns the run and the serial number the sync point carries, V(M), at most 6 digits
/// (X.225 writes the Serial Number parameter in at most six decimal digits).
fn sync_point<'u>(
    u: &'u mut Units,
    request: &'static str,
    tokens: TokenItem,
    missing: &'static str,
) -> Result<(&'u mut Activity, u64), ServiceError> {
    if !u.holds(tokens) {
        return Err(rule(request, missing));
    }
    if u.exception.is_some() {
        return Err(rule(request, "an exception report is in force"));
    }
    if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) && u.plain.is_none() {
        u.plain = Some(Activity::new(true, 1));
    }
    let a = match u.sync_run() {
        Some(a) if a.local && a.await_end.is_none() => a,
        Some(_) => {
            return Err(rule(
                request,
                "the activity is ending or belongs to the peer",
            ));
        }
        None => return Err(rule(request, "no activity is in progress")),
    };
    let serial = a.next_serial;
    if serial > 999_999 {
        return Err(rule(request, "serial numbers have at most 6 digits"));
    }
    Ok((a, serial))
}

fn not_negotiated(request: &'static str, unit: &'static str) -> ServiceError {
    ServiceError::NotNegotiated { request, unit }
}

/// One TSDU to send: SPDU octets followed by a body that is sent as it is (the user
/// information of a DT, not copied; empty for every other TSDU).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transmit {
    /// The SPDUs, and for a DT the start of its user information.
    pub head: Bytes,
    /// The rest of the DT's user information.
    pub body: Bytes,
}

impl Transmit {
    /// Octets in the TSDU.
    pub fn len(&self) -> usize {
        self.head.len().saturating_add(self.body.len())
    }

    /// Whether the TSDU is empty (never, for a valid SPDU).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The TSDU as one buffer (copies when there is a body).
    pub fn to_bytes(&self) -> Bytes {
        if self.body.is_empty() {
            return self.head.clone();
        }
        let mut b = BytesMut::with_capacity(self.len());
        b.put_slice(&self.head);
        b.put_slice(&self.body);
        b.freeze()
    }
}

/// Initiator or responder of the session connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the CN.
    Initiator,
    /// Answers the CN.
    Responder,
}

/// Where an orderly release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    None,
    /// FN sent, waiting for DN/NF. `collision`: the peer's FN crossed ours; `answered`: this
    /// side answered it with DN.
    Sent {
        collision: bool,
        answered: bool,
    },
    /// FN received, waiting for the user's answer.
    Received,
}

/// What a responder needs to answer the CN it indicated.
#[derive(Debug)]
struct Answer {
    version: VersionNumber,
    agreed: SessionUserRequirements,
    cn_setting: Option<TokenSettingItem>,
    responding_ssel: Option<Bytes>,
}

/// What an initiator proposed.
#[derive(Debug)]
struct Proposal {
    requirements: SessionUserRequirements,
    token_setting: Option<TokenSettingItem>,
}

/// The data phase.
#[derive(Debug)]
struct Open {
    version: VersionNumber,
    units: Units,
    release: Release,
}

#[derive(Debug)]
enum State {
    /// Initiator before [`Connection::connect`]; responder before the transport is up.
    Idle,
    /// Responder: waiting for the CN.
    AwaitCn,
    /// Initiator: CN sent.
    AwaitAc(Box<Proposal>),
    /// Responder: the user decides on the CN.
    AwaitUser(Box<Answer>),
    /// Data transfer (and orderly release).
    Open(Box<Open>),
    /// DN, AB or RF sent: waiting for the transport to be released (TIM).
    AwaitClose,
    /// Finished.
    Closed,
}

/// Where a session connection is (X.225 Table A.2's states, folded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Initiator before [`Connection::connect`]; responder before the transport is up.
    Idle,
    /// Responder: waiting for the CN (STA01C).
    AwaitCn,
    /// Initiator: CN sent, waiting for AC or RF (STA02A).
    AwaitAc,
    /// Responder: the user decides on the CN (STA08).
    AwaitUser,
    /// Data transfer (STA713).
    Open,
    /// FN sent, waiting for DN or NF (STA03).
    AwaitRelease,
    /// FN received, waiting for the user's answer (STA09).
    AwaitReleaseResponse,
    /// DN, AB or RF sent: waiting for the transport to be released (STA16, TIM).
    AwaitClose,
    /// Finished.
    Closed,
}

impl Phase {
    /// A short name for logs and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::AwaitCn => "await-cn",
            Phase::AwaitAc => "await-ac",
            Phase::AwaitUser => "await-user",
            Phase::Open => "open",
            Phase::AwaitRelease => "await-dn",
            Phase::AwaitReleaseResponse => "await-release-response",
            Phase::AwaitClose => "await-close",
            Phase::Closed => "closed",
        }
    }
}

impl State {
    fn phase(&self) -> Phase {
        match self {
            State::Idle => Phase::Idle,
            State::AwaitCn => Phase::AwaitCn,
            State::AwaitAc(_) => Phase::AwaitAc,
            State::AwaitUser(_) => Phase::AwaitUser,
            State::Open(o) => match o.release {
                Release::None => Phase::Open,
                Release::Sent { .. } => Phase::AwaitRelease,
                Release::Received => Phase::AwaitReleaseResponse,
            },
            State::AwaitClose => Phase::AwaitClose,
            State::Closed => Phase::Closed,
        }
    }

    fn name(&self) -> &'static str {
        self.phase().name()
    }
}

/// One session connection (sans-IO). See the [module docs](self).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    tx: VecDeque<Transmit>,
    events: VecDeque<Event>,
    timer: Option<(Timer, Instant)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Wait(Wait),
    Tim,
}

fn deadline(config: &Config, timer: Timer, now: Instant) -> Option<(Timer, Instant)> {
    let after = match timer {
        Timer::Wait(Wait::User) => config.user_timeout,
        Timer::Wait(_) => Some(config.response_timeout),
        Timer::Tim => Some(config.disconnect_wait),
    };
    after.and_then(|d| now.checked_add(d)).map(|at| (timer, at))
}

fn unexpected(at: usize, kind: SpduKind, state: &'static str) -> Violation {
    DecodeError::new(
        Layer::Session,
        at,
        DecodeErrorKind::Unexpected {
            what: spdu_name(kind),
            state,
        },
    )
}

/// A protocol error of the peer, found while handling one SPDU.
type Violation = DecodeError;

fn violation(at: usize, what: &'static str) -> Violation {
    DecodeError::new(Layer::Session, at, DecodeErrorKind::BadSequence { what })
}

fn bad_value(at: usize, what: &'static str, value: u64) -> Violation {
    DecodeError::new(
        Layer::Session,
        at,
        DecodeErrorKind::InvalidValue { what, value },
    )
}

impl Connection {
    fn new(role: Role, config: Config) -> Self {
        Connection {
            role,
            config,
            state: State::Idle,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            timer: None,
        }
    }

    /// An initiator: call [`Connection::connect`] once the transport connection is up.
    pub fn initiator(config: Config) -> Self {
        Self::new(Role::Initiator, config)
    }

    /// A responder: it waits for a CN once [`Connection::handle_transport_connected`] is called.
    pub fn responder(config: Config) -> Self {
        Self::new(Role::Responder, config)
    }

    /// Initiator or responder.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the connection is.
    pub fn phase(&self) -> Phase {
        self.state.phase()
    }

    /// Whether the connection is established (data transfer or release in progress).
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// Whether the machine is finished.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether this side has sent DN, AB or RF and only waits for the transport to go.
    pub fn is_closing(&self) -> bool {
        matches!(self.state, State::AwaitClose)
    }

    fn open_ref(&self) -> Option<&Open> {
        match &self.state {
            State::Open(o) => Some(o),
            _ => None,
        }
    }

    /// The functional units in use (meaningful once connected).
    pub fn requirements(&self) -> SessionUserRequirements {
        self.open_ref()
            .map_or(SessionUserRequirements::default(), |o| o.units.requirements)
    }

    /// The protocol version in use, once connected.
    pub fn version(&self) -> Option<VersionNumber> {
        self.open_ref().map(|o| o.version)
    }

    /// The tokens that exist (none in duplex).
    pub fn available_tokens(&self) -> TokenItem {
        self.open_ref()
            .map_or(TokenItem::default(), |o| o.units.available)
    }

    /// The tokens this side holds.
    pub fn tokens(&self) -> TokenItem {
        self.open_ref()
            .map_or(TokenItem::default(), |o| o.units.tokens())
    }

    /// Whether an activity is in progress.
    pub fn in_activity(&self) -> bool {
        self.open_ref().is_some_and(|o| o.units.activity.is_some())
    }

    /// V(M): the serial number the next minor sync point (or activity end) carries.
    pub fn next_serial(&self) -> Option<u64> {
        self.open_ref().and_then(|o| o.units.next_serial())
    }

    /// Whether an exception report is in force.
    pub fn exception_in_force(&self) -> bool {
        self.open_ref().is_some_and(|o| o.units.exception.is_some())
    }

    /// The next TSDU to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.pop_front()
    }

    /// Whether [`Connection::poll_transmit`] has something.
    pub(crate) fn has_transmit(&self) -> bool {
        !self.tx.is_empty()
    }

    /// Whether [`Connection::poll_event`] has something.
    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Octets waiting in [`Connection::poll_transmit`].
    pub fn pending_transmit(&self) -> usize {
        self.tx
            .iter()
            .map(Transmit::len)
            .fold(0, usize::saturating_add)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Connection::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer.map(|(_, at)| at)
    }

    fn wrong_state(&self, request: &'static str) -> ServiceError {
        ServiceError::WrongState {
            request,
            state: self.state.name(),
        }
    }

    fn set_timer(&mut self, timer: Timer, now: Instant) {
        self.timer = deadline(&self.config, timer, now);
    }

    // ---------------------------------------------------------------------------------------
    // Output

    fn push(&mut self, head: BytesMut) {
        self.tx.push_back(Transmit {
            head: head.freeze(),
            body: Bytes::new(),
        });
    }

    fn close(&mut self) {
        if !self.is_closed() {
            self.state = State::Closed;
            self.timer = None;
            self.events.push_back(Event::Closed);
        }
    }

    fn await_close(&mut self, now: Instant) {
        self.state = State::AwaitClose;
        self.set_timer(Timer::Tim, now);
    }

    /// Sends AB (transport released, `td` bits) with `user_data`, reports the abort and waits
    /// for the transport to go.
    fn send_abort(
        &mut self,
        td: TransportDisconnect,
        user_data: &[u8],
        reason: AbortReason,
        now: Instant,
    ) {
        match encode::abort(td, user_data) {
            Ok(ab) => {
                self.push(ab);
                self.events.push_back(Event::Aborted(Abort {
                    reason,
                    user_data: Bytes::new(),
                }));
                self.await_close(now);
            }
            Err(_) => {
                self.events.push_back(Event::Aborted(Abort {
                    reason,
                    user_data: Bytes::new(),
                }));
                self.close();
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Connect

    /// S-CONNECT request (initiator; the transport connection is up): sends the CN.
    pub fn connect(&mut self, request: ConnectRequest, now: Instant) -> Result<(), ServiceError> {
        if self.role != Role::Initiator || !matches!(self.state, State::Idle) {
            return Err(self.wrong_state("connect"));
        }
        let cn = encode::cn(&request)?;
        self.push(cn);
        self.state = State::AwaitAc(Box::new(Proposal {
            requirements: request.requirements,
            token_setting: request.token_setting,
        }));
        self.set_timer(Timer::Wait(Wait::Accept), now);
        Ok(())
    }

    /// S-CONNECT response, accepting (responder, after [`Event::ConnectIndication`]): sends
    /// the AC with `user_data`.
    pub fn accept(&mut self, user_data: Bytes, now: Instant) -> Result<(), ServiceError> {
        let State::AwaitUser(answer) = &self.state else {
            return Err(self.wrong_state("accept"));
        };
        let ac_setting = accept_token_setting(answer.cn_setting);
        let ac = encode::ac(
            answer.version,
            answer.agreed,
            ac_setting,
            answer.responding_ssel.as_deref(),
            &user_data,
        )?;
        let units = Units::new(answer.agreed, answer.cn_setting, false);
        let connected = Connected {
            requirements: answer.agreed,
            version: answer.version,
            tokens: units.tokens(),
            responding_ssel: answer.responding_ssel.clone(),
            user_data,
        };
        let version = answer.version;
        self.push(ac);
        self.state = State::Open(Box::new(Open {
            version,
            units,
            release: Release::None,
        }));
        self.timer = None;
        let _ = now;
        self.events.push_back(Event::Connected(Box::new(connected)));
        Ok(())
    }

    /// S-CONNECT response, refusing (responder): sends RF with `reason` (and, with
    /// [`RefuseReason::USER_DATA`], `user_data` after it: the CPR of a presentation refusal),
    /// then waits for the transport to be released.
    pub fn refuse(
        &mut self,
        reason: RefuseReason,
        user_data: &[u8],
        now: Instant,
    ) -> Result<(), ServiceError> {
        let State::AwaitUser(answer) = &self.state else {
            return Err(self.wrong_state("refuse"));
        };
        let rf = encode::rf(Some(answer.version), reason, user_data)?;
        self.push(rf);
        self.await_close(now);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Data, release, abort

    fn open_mut(&mut self, request: &'static str) -> Result<&mut Open, ServiceError> {
        let state = self.state.name();
        match &mut self.state {
            State::Open(o) => Ok(o),
            _ => Err(ServiceError::WrongState { request, state }),
        }
    }

    /// S-DATA request: GT + DT carrying `user_data`.
    pub fn send_data(&mut self, user_data: Bytes, now: Instant) -> Result<(), ServiceError> {
        self.send_data_parts(&[], user_data, now)
    }

    /// S-DATA request whose user information is `prefix` followed by `body`; `body` is sent
    /// without being copied (a presentation header and a large value, for example).
    pub fn send_data_parts(
        &mut self,
        prefix: &[u8],
        body: Bytes,
        _now: Instant,
    ) -> Result<(), ServiceError> {
        self.check_send_data()?;
        let head = encode::gt_dt(prefix)?;
        self.tx.push_back(Transmit {
            head: head.freeze(),
            body,
        });
        Ok(())
    }

    /// The SPDUs in front of the user information of an S-DATA: an empty GT (no Token Item)
    /// and a DT without parameters (X.225 §8.3.14, basic concatenation §6.3.7), as the SPDU
    /// encoder writes them and [`Connection::send_data`] sends them (`01 00 01 00`). Encoded
    /// once and kept, for a caller that frames the S-DATA TSDU itself: a change to the SPDU
    /// encoder changes what such a caller sends too.
    ///
    /// ```
    /// use osi_stack::session::Connection;
    /// assert_eq!(Connection::data_header()?, [0x01, 0x00, 0x01, 0x00]);
    /// # Ok::<(), osi_stack::EncodeError>(())
    /// ```
    pub fn data_header() -> Result<[u8; 4], EncodeError> {
        static HEADER: OnceLock<Result<[u8; 4], EncodeError>> = OnceLock::new();
        *HEADER.get_or_init(|| {
            let h = encode::gt_dt(&[])?;
            <[u8; 4]>::try_from(&h[..]).map_err(|_| {
                EncodeError::new(
                    Layer::Session,
                    EncodeErrorKind::ValueTooLarge {
                        what: "s-data header",
                        value: h.len(),
                        max: 4,
                    },
                )
            })
        })
    }

    /// Whether an S-DATA request may be sent now (the checks of [`Connection::send_data`]);
    /// a caller that frames the TSDU itself ([`Connection::data_header`] then the user
    /// information) hands it to the transport directly.
    pub fn check_send_data(&self) -> Result<(), ServiceError> {
        let o = match &self.state {
            State::Open(o) => o,
            _ => {
                return Err(ServiceError::WrongState {
                    request: "send_data",
                    state: self.state.name(),
                });
            }
        };
        if matches!(o.release, Release::Sent { .. }) {
            return Err(rule("send_data", "an orderly release is in progress"));
        }
        let u = &o.units;
        if u.data_blocked() {
            return Err(rule("send_data", "the peer holds the data token"));
        }
        if u.pending.is_some() {
            return Err(rule(
                "send_data",
                "waiting for the answer to an interrupt, discard or control give",
            ));
        }
        if u.exception.is_some() {
            return Err(rule("send_data", "an exception report is in force"));
        }
        // Inside an activity the data token decides who sends, whoever started it (the
        // ISODE echo answers in the client's activity).
        if u.activity
            .as_ref()
            .is_some_and(|a| a.await_end.is_some() || a.end_indicated.is_some())
        {
            return Err(rule("send_data", "the activity is ending"));
        }
        if u.major_indicated.is_some() {
            return Err(rule(
                "send_data",
                "the peer's major sync point waits for its answer",
            ));
        }
        Ok(())
    }

    /// S-RELEASE request: FN with `user_data`. This side must hold every available token and
    /// no activity may be in progress.
    pub fn release(&mut self, user_data: &[u8], now: Instant) -> Result<(), ServiceError> {
        let o = self.open_mut("release")?;
        if o.release != Release::None {
            return Err(rule("release", "an orderly release is in progress"));
        }
        if o.units.activity.is_some() || o.units.pending.is_some() {
            return Err(rule("release", "an activity is in progress"));
        }
        if !o.units.holds(o.units.available) {
            return Err(rule("release", "the peer holds a token"));
        }
        let fin = encode::with_user_data(SpduKind::Fn, user_data)?;
        o.release = Release::Sent {
            collision: false,
            answered: false,
        };
        self.push(fin);
        self.set_timer(Timer::Wait(Wait::Release), now);
        Ok(())
    }

    /// S-RELEASE response after [`Event::ReleaseIndication`]: `true` sends DN (the connection
    /// ends; in a collision, once the peer's DN has arrived too), `false` sends NF (the
    /// connection goes on; not in a collision).
    pub fn release_response(
        &mut self,
        accept: bool,
        user_data: &[u8],
        now: Instant,
    ) -> Result<(), ServiceError> {
        let o = self.open_mut("release_response")?;
        match (o.release, accept) {
            (Release::Received, true) => {
                let dn = encode::with_user_data(SpduKind::Dn, user_data)?;
                self.push(dn);
                self.await_close(now);
            }
            (Release::Received, false) => {
                let nf = encode::with_user_data(SpduKind::Nf, user_data)?;
                o.release = Release::None;
                self.push(nf);
                self.timer = None;
            }
            (
                Release::Sent {
                    collision: true,
                    answered: false,
                },
                true,
            ) => {
                let dn = encode::with_user_data(SpduKind::Dn, user_data)?;
                o.release = Release::Sent {
                    collision: true,
                    answered: true,
                };
                self.push(dn);
            }
            _ => return Err(rule("release_response", "no release indication to answer")),
        }
        Ok(())
    }

    /// S-U-ABORT request: AB (transport released, user abort) with `user_data` (an ARU), from
    /// any state after the CN. Before the CN there is nothing to abort at this layer: the
    /// machine just finishes.
    pub fn abort(&mut self, user_data: &[u8], now: Instant) -> Result<(), ServiceError> {
        match self.state {
            State::Closed | State::AwaitClose => Err(self.wrong_state("abort")),
            State::Idle | State::AwaitCn => {
                self.events.push_back(Event::Aborted(Abort {
                    reason: AbortReason::User,
                    user_data: Bytes::new(),
                }));
                self.close();
                Ok(())
            }
            _ => {
                let ab = encode::abort(
                    TransportDisconnect::RELEASED.with(TransportDisconnect::USER_ABORT),
                    user_data,
                )?;
                self.push(ab);
                self.events.push_back(Event::Aborted(Abort {
                    reason: AbortReason::User,
                    user_data: Bytes::new(),
                }));
                self.await_close(now);
                Ok(())
            }
        }
    }

    /// A provider abort on behalf of a layer above (presentation ARP, ACSE ABRT from the
    /// provider): AB (released, protocol error) carrying `user_data`; the abort is reported with
    /// `error`. Does nothing once the connection is ending.
    pub fn provider_abort(&mut self, error: DecodeError, user_data: &[u8], now: Instant) {
        match self.state {
            State::Closed | State::AwaitClose => {}
            State::Idle | State::AwaitCn => {
                self.events.push_back(Event::Aborted(Abort {
                    reason: AbortReason::ProtocolError(error),
                    user_data: Bytes::new(),
                }));
                self.close();
            }
            _ => self.send_abort(
                TransportDisconnect::RELEASED.with(TransportDisconnect::PROTOCOL_ERROR),
                user_data,
                AbortReason::ProtocolError(error),
                now,
            ),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Tokens, synchronization, activities, exceptions

    fn units_mut(&mut self, request: &'static str) -> Result<&mut Units, ServiceError> {
        let o = self.open_mut(request)?;
        if o.release != Release::None {
            return Err(rule(request, "an orderly release is in progress"));
        }
        if o.units.pending.is_some() {
            return Err(rule(
                request,
                "waiting for the answer to an interrupt, discard or control give",
            ));
        }
        Ok(&mut o.units)
    }

    /// S-TOKEN-GIVE: GT with a Token Item. `tokens` must exist and be held. Any token may be
    /// given, the major/activity token inside an activity too (X.215 puts no activity rule on
    /// S-TOKEN-GIVE, and ISODE's session echo gives it there); whoever holds it may then
    /// synchronize or end the activity only where this machine's other rules allow. Giving the
    /// data token resolves an exception report.
    pub fn give_tokens(&mut self, tokens: TokenItem, _now: Instant) -> Result<(), ServiceError> {
        let u = self.units_mut("give_tokens")?;
        if tokens == TokenItem::default() || !u.available.contains(tokens) {
            return Err(rule("give_tokens", "the tokens given are not available"));
        }
        if !u.owned.contains(tokens) {
            return Err(rule("give_tokens", "this side does not hold the tokens"));
        }
        if u.activity.as_ref().is_some_and(|a| a.await_end.is_some()) {
            return Err(rule("give_tokens", "waiting for the activity end answer"));
        }
        let gt = encode::token_item(SpduKind::Gt, tokens, &[])?;
        u.owned = TokenItem(u.owned.0 & !tokens.0);
        if tokens.contains(TokenItem::DATA) {
            u.exception = None;
        }
        self.push(gt);
        Ok(())
    }

    /// S-TOKEN-PLEASE: PT with a Token Item and `user_data` (RTSE: an RTTP). `tokens` must
    /// exist and lie with the peer.
    pub fn please_tokens(
        &mut self,
        tokens: TokenItem,
        user_data: &[u8],
        _now: Instant,
    ) -> Result<(), ServiceError> {
        let o = self.open_mut("please_tokens")?;
        let u = &o.units;
        if u.pending == Some(Pending::Control) {
            return Err(rule("please_tokens", "a control give is in progress"));
        }
        if tokens == TokenItem::default() || !u.available.contains(tokens) {
            return Err(rule(
                "please_tokens",
                "the tokens asked for are not available",
            ));
        }
        if TokenItem(u.owned.0 & tokens.0) != TokenItem::default() {
            return Err(rule(
                "please_tokens",
                "this side already holds a token asked for",
            ));
        }
        let pt = encode::token_item(SpduKind::Pt, tokens, user_data)?;
        self.push(pt);
        Ok(())
    }

    /// S-CONTROL-GIVE: GTC, giving every available token to the peer (which answers GTA).
    /// Needs activity management, no activity in progress, and every available token.
    pub fn give_control(&mut self, now: Instant) -> Result<(), ServiceError> {
        let u = self.units_mut("give_control")?;
        if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) {
            return Err(not_negotiated("give_control", "activity management"));
        }
        if u.activity.is_some() {
            return Err(rule("give_control", "an activity is in progress"));
        }
        if !u.holds(u.available) {
            return Err(rule("give_control", "the peer holds a token"));
        }
        let gtc = encode::bare(SpduKind::Gtc)?;
        u.owned = TokenItem::default();
        u.pending = Some(Pending::Control);
        u.exception = None;
        self.push(gtc);
        self.set_timer(Timer::Wait(Wait::Answer), now);
        Ok(())
    }

    fn check_start(u: &Units, request: &'static str, id: &[u8]) -> Result<(), ServiceError> {
        if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) {
            return Err(not_negotiated(request, "activity management"));
        }
        if id.is_empty() || id.len() > 6 {
            return Err(rule(request, "an activity identifier has 1 to 6 octets"));
        }
        if u.activity.is_some() {
            return Err(rule(request, "an activity is already in progress"));
        }
        if !u.holds(u.available) {
            return Err(rule(request, "the peer holds a token"));
        }
        Ok(())
    }

    /// S-ACTIVITY-START: GT + AS with activity identifier `id` (1–6 octets). V(M) becomes 1.
    pub fn activity_start(&mut self, id: &[u8], _now: Instant) -> Result<(), ServiceError> {
        let u = self.units_mut("activity_start")?;
        Self::check_start(u, "activity_start", id)?;
        let spdus = encode::activity_start(id)?;
        u.activity = Some(Activity::new(true, 1));
        self.push(spdus);
        Ok(())
    }

    /// S-ACTIVITY-RESUME: PT + AR resuming activity `old_id` (interrupted on
    /// `old_connection`, possibly an earlier one) after sync point `serial`, under the new
    /// identifier `id`. V(M) becomes `serial + 1`.
    pub fn activity_resume(
        &mut self,
        id: &[u8],
        old_id: &[u8],
        serial: u64,
        old_connection: &OldConnection,
        _now: Instant,
    ) -> Result<(), ServiceError> {
        let u = self.units_mut("activity_resume")?;
        Self::check_start(u, "activity_resume", id)?;
        if old_id.is_empty() || old_id.len() > 6 {
            return Err(rule(
                "activity_resume",
                "an activity identifier has 1 to 6 octets",
            ));
        }
        if serial > 999_999 {
            return Err(rule(
                "activity_resume",
                "serial numbers have at most 6 digits",
            ));
        }
        let spdus = encode::activity_resume(id, old_id, serial, old_connection)?;
        u.activity = Some(Activity::new(true, serial.saturating_add(1)));
        self.push(spdus);
        Ok(())
    }

    /// S-SYNC-MINOR (confirmation requested): GT + MIP carrying V(M); returns that serial
    /// number. Needs the minor synchronize and data tokens and, with activity management, an
    /// activity this side started.
    pub fn sync_minor(&mut self, _now: Instant) -> Result<u64, ServiceError> {
        let u = self.units_mut("sync_minor")?;
        if !u.has_unit(SessionUserRequirements::MINOR_SYNCHRONIZE) {
            return Err(not_negotiated("sync_minor", "minor synchronize"));
        }
        let (a, serial) = sync_point(
            u,
            "sync_minor",
            TokenItem::MINOR_SYNC.with(TokenItem::DATA),
            "the peer holds the minor sync or data token",
        )?;
        let spdus = encode::with_serial(SpduKind::Gt, SpduKind::Mip, serial)?;
        a.next_serial = serial.saturating_add(1);
        self.push(spdus);
        Ok(serial)
    }

    /// S-SYNC-MINOR response: PT + MIA confirming the peer's minor sync points up to `serial`.
    pub fn sync_minor_response(&mut self, serial: u64, _now: Instant) -> Result<(), ServiceError> {
        let u = self.units_mut("sync_minor_response")?;
        let a = match u.activity.as_mut().or(u.plain.as_mut()) {
            Some(a) if !a.local => a,
            _ => {
                return Err(rule(
                    "sync_minor_response",
                    "no minor sync point of the peer is outstanding",
                ));
            }
        };
        if serial <= a.confirmed || serial >= a.next_serial {
            return Err(rule(
                "sync_minor_response",
                "the serial number names no outstanding minor sync point",
            ));
        }
        let spdus = encode::with_serial(SpduKind::Pt, SpduKind::Mia, serial)?;
        a.confirmed = serial;
        self.push(spdus);
        Ok(())
    }

    /// S-ACTIVITY-END: GT + AE carrying V(M); returns that serial number.
    /// [`Event::ActivityEnded`] follows (AEA). Nothing may be sent in between.
    pub fn activity_end(&mut self, _now: Instant) -> Result<u64, ServiceError> {
        let u = self.units_mut("activity_end")?;
        if !u.holds(u.available) {
            return Err(rule("activity_end", "the peer holds a token"));
        }
        if u.exception.is_some() {
            return Err(rule("activity_end", "an exception report is in force"));
        }
        let a = match u.activity.as_mut() {
            Some(a) if a.local && a.await_end.is_none() => a,
            Some(_) => {
                return Err(rule(
                    "activity_end",
                    "the activity is ending or belongs to the peer",
                ));
            }
            None => return Err(rule("activity_end", "no activity is in progress")),
        };
        let serial = a.next_serial;
        let spdus = encode::with_serial(SpduKind::Gt, SpduKind::Ae, serial)?;
        a.await_end = Some(serial);
        self.push(spdus);
        Ok(serial)
    }

    /// S-ACTIVITY-END response after [`Event::ActivityEnd`]: PT + AEA. The activity is over.
    pub fn activity_end_response(&mut self, _now: Instant) -> Result<(), ServiceError> {
        let u = self.units_mut("activity_end_response")?;
        let Some(serial) = u.activity.as_ref().and_then(|a| a.end_indicated) else {
            return Err(rule(
                "activity_end_response",
                "no activity end of the peer is outstanding",
            ));
        };
        let spdus = encode::with_serial(SpduKind::Pt, SpduKind::MaaOrAea, serial)?;
        u.activity = None;
        self.push(spdus);
        Ok(())
    }

    fn stop_activity(
        &mut self,
        request: &'static str,
        kind: SpduKind,
        pending: Pending,
        reason: ActivityReason,
        now: Instant,
    ) -> Result<(), ServiceError> {
        let u = self.units_mut(request)?;
        if u.activity.is_none() {
            return Err(rule(request, "no activity is in progress"));
        }
        if !u.holds(TokenItem::MAJOR_ACTIVITY) {
            return Err(rule(request, "the peer holds the activity token"));
        }
        let spdus = encode::with_reason(SpduKind::Gt, kind, Some(reason))?;
        u.activity = None;
        u.pending = Some(pending);
        self.push(spdus);
        self.set_timer(Timer::Wait(Wait::Answer), now);
        Ok(())
    }

    /// S-ACTIVITY-INTERRUPT: GT + AI with `reason`; [`Event::ActivityInterruptConfirmed`]
    /// follows (AIA). Resolves an exception report.
    pub fn activity_interrupt(
        &mut self,
        reason: ActivityReason,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.stop_activity(
            "activity_interrupt",
            SpduKind::Ai,
            Pending::Interrupt,
            reason,
            now,
        )
    }

    /// S-ACTIVITY-DISCARD: GT + AD with `reason`; [`Event::ActivityDiscardConfirmed`] follows
    /// (ADA); the activity's data is void. Resolves an exception report.
    pub fn activity_discard(
        &mut self,
        reason: ActivityReason,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.stop_activity(
            "activity_discard",
            SpduKind::Ad,
            Pending::Discard,
            reason,
            now,
        )
    }

    /// S-U-EXCEPTION-REPORT: PT + ED with `reason` and `user_data`. Needs the exceptions unit
    /// and the data token on the peer's side; until the peer resolves the report, its data is
    /// discarded.
    pub fn exception_report(
        &mut self,
        reason: ActivityReason,
        user_data: &[u8],
        _now: Instant,
    ) -> Result<(), ServiceError> {
        let u = self.units_mut("exception_report")?;
        if !u.has_unit(SessionUserRequirements::EXCEPTIONS) {
            return Err(not_negotiated("exception_report", "exceptions"));
        }
        if !u.data_blocked() {
            return Err(rule(
                "exception_report",
                "only the side without the data token reports exceptions",
            ));
        }
        if u.exception.is_some() {
            return Err(rule("exception_report", "an exception report is in force"));
        }
        let spdus = encode::exception_data(reason, user_data)?;
        u.exception = Some(Exception::Sent);
        self.push(spdus);
        Ok(())
    }

    /// S-TYPED-DATA request (X.225 §7.13): a TD SPDU carrying `user_data`, sent whoever holds
    /// the data token. Needs the typed data functional unit; not once an orderly release has
    /// begun.
    pub fn send_typed_data(&mut self, user_data: Bytes, _now: Instant) -> Result<(), ServiceError> {
        let o = self.open_mut("send_typed_data")?;
        if o.release != Release::None {
            return Err(rule("send_typed_data", "an orderly release is in progress"));
        }
        if !o.units.has_unit(SessionUserRequirements::TYPED_DATA) {
            return Err(not_negotiated("send_typed_data", "typed data"));
        }
        let head = encode::typed_data()?;
        self.tx.push_back(Transmit {
            head: head.freeze(),
            body: user_data,
        });
        Ok(())
    }

    /// S-CAPABILITY-DATA request (X.225 §7.14): GT + CD with `user_data`;
    /// [`Event::CapabilityDataConfirmed`] follows (CDA), and nothing else may be requested in
    /// between. Needs the capability data and activity management units, no activity in
    /// progress, and the data, minor synchronize and major/activity tokens that exist.
    pub fn capability_data(&mut self, user_data: &[u8], now: Instant) -> Result<(), ServiceError> {
        let u = self.units_mut("capability_data")?;
        if !u.has_unit(SessionUserRequirements::CAPABILITY_DATA) {
            return Err(not_negotiated("capability_data", "capability data"));
        }
        if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) {
            return Err(not_negotiated("capability_data", "activity management"));
        }
        if u.activity.is_some() {
            return Err(rule("capability_data", "an activity is in progress"));
        }
        if !u.holds(
            TokenItem::DATA
                .with(TokenItem::MINOR_SYNC)
                .with(TokenItem::MAJOR_ACTIVITY),
        ) {
            return Err(rule(
                "capability_data",
                "the peer holds the data, minor sync or activity token",
            ));
        }
        if u.exception.is_some() || u.capability_indicated || u.major_indicated.is_some() {
            return Err(rule(
                "capability_data",
                "an exception report or a peer's request is outstanding",
            ));
        }
        let spdus = encode::with_user_data_after(SpduKind::Gt, SpduKind::Cd, user_data)?;
        u.pending = Some(Pending::Capability);
        self.push(spdus);
        self.set_timer(Timer::Wait(Wait::Answer), now);
        Ok(())
    }

    /// S-CAPABILITY-DATA response after [`Event::CapabilityData`]: PT + CDA with `user_data`.
    pub fn capability_data_response(
        &mut self,
        user_data: &[u8],
        _now: Instant,
    ) -> Result<(), ServiceError> {
        let u = self.units_mut("capability_data_response")?;
        if !u.capability_indicated {
            return Err(rule(
                "capability_data_response",
                "no capability data of the peer is outstanding",
            ));
        }
        let spdus = encode::with_user_data_after(SpduKind::Pt, SpduKind::Cda, user_data)?;
        u.capability_indicated = false;
        self.push(spdus);
        Ok(())
    }

    /// S-SYNC-MAJOR request (X.225 §7.20 and the MAJOR SYNC POINT SPDU): GT + MAP (Sync Type
    /// Item 1, serial number V(M), `user_data`); returns the serial number.
    /// [`Event::SyncMajorConfirmed`] follows (MAA); until then nothing else may be requested.
    /// Needs the major synchronize unit, the data, minor synchronize and major/activity tokens
    /// that exist, and with activity management an activity this side started.
    pub fn sync_major(&mut self, user_data: &[u8], now: Instant) -> Result<u64, ServiceError> {
        let u = self.units_mut("sync_major")?;
        if !u.has_unit(SessionUserRequirements::MAJOR_SYNCHRONIZE) {
            return Err(not_negotiated("sync_major", "major synchronize"));
        }
        let (a, serial) = sync_point(
            u,
            "sync_major",
            TokenItem::DATA
                .with(TokenItem::MINOR_SYNC)
                .with(TokenItem::MAJOR_ACTIVITY),
            "the peer holds the data, minor sync or major token",
        )?;
        let spdus = encode::major_sync(serial, user_data)?;
        a.next_serial = serial.saturating_add(1);
        u.pending = Some(Pending::Major(serial));
        self.push(spdus);
        self.set_timer(Timer::Wait(Wait::Answer), now);
        Ok(serial)
    }

    /// S-SYNC-MAJOR response after [`Event::SyncMajor`]: PT + MAA carrying its serial number
    /// and `user_data`; every earlier sync point of the peer is confirmed with it.
    pub fn sync_major_response(
        &mut self,
        user_data: &[u8],
        _now: Instant,
    ) -> Result<(), ServiceError> {
        let u = self.units_mut("sync_major_response")?;
        let Some(serial) = u.major_indicated else {
            return Err(rule(
                "sync_major_response",
                "no major sync point of the peer is outstanding",
            ));
        };
        let spdus =
            encode::with_serial_and_user_data(SpduKind::Pt, SpduKind::MaaOrAea, serial, user_data)?;
        u.major_indicated = None;
        if let Some(a) = u.sync_run() {
            a.confirmed = serial;
        }
        self.push(spdus);
        Ok(())
    }

    /// S-RESYNCHRONIZE request: GT + RS with `kind`, the serial number (restart: `serial`, at
    /// most V(M); set: `serial`; abandon: V(M), `serial` ignored), the proposed token positions
    /// and `user_data`; returns the serial number sent. [`Event::ResynchronizeConfirmed`]
    /// follows (RA). Needs the resynchronize unit and, with activity management, an activity;
    /// no token. Allowed while other exchanges are pending (they are void once it completes)
    /// and over a peer's RS of lower precedence (abandon, then set, then restart).
    pub fn resynchronize(
        &mut self,
        kind: ResyncType,
        serial: u64,
        token_setting: TokenSettingItem,
        user_data: &[u8],
        now: Instant,
    ) -> Result<u64, ServiceError> {
        let o = self.open_mut("resynchronize")?;
        if o.release != Release::None {
            return Err(rule("resynchronize", "an orderly release is in progress"));
        }
        let u = &mut o.units;
        if !u.has_unit(SessionUserRequirements::RESYNCHRONIZE) {
            return Err(not_negotiated("resynchronize", "resynchronize"));
        }
        if u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) && u.activity.is_none() {
            return Err(rule("resynchronize", "no activity is in progress"));
        }
        if matches!(u.pending, Some(Pending::Resync(..))) {
            return Err(rule("resynchronize", "a resynchronization is in progress"));
        }
        if u.resync_indicated.is_some() && kind != ResyncType::Abandon {
            return Err(rule(
                "resynchronize",
                "only an abandon overrides the peer's resynchronization",
            ));
        }
        let vm = u.next_serial().unwrap_or(1);
        let serial = match kind {
            ResyncType::Abandon => vm,
            ResyncType::Restart if serial > vm => {
                return Err(rule("resynchronize", "restart beyond V(M)"));
            }
            _ => serial,
        };
        if serial > 999_999 {
            return Err(rule(
                "resynchronize",
                "serial numbers have at most 6 digits",
            ));
        }
        let spdus = encode::resync(kind, serial, token_setting, user_data)?;
        u.resync_indicated = None;
        u.pending = Some(Pending::Resync(kind, serial, token_setting));
        self.push(spdus);
        self.set_timer(Timer::Wait(Wait::Answer), now);
        Ok(serial)
    }

    /// S-RESYNCHRONIZE response after [`Event::Resynchronize`]: PT + RA with the final token
    /// positions (`None`: as the RS proposed; a pair left to this side's choice then counts as
    /// the session initiator's side, as at connection time) and `user_data`. V(M) becomes the
    /// RS's serial number.
    pub fn resynchronize_response(
        &mut self,
        token_setting: Option<TokenSettingItem>,
        user_data: &[u8],
        _now: Instant,
    ) -> Result<(), ServiceError> {
        let o = self.open_mut("resynchronize_response")?;
        let u = &mut o.units;
        let Some((serial, proposed)) = u.resync_indicated else {
            return Err(rule(
                "resynchronize_response",
                "no resynchronization of the peer is outstanding",
            ));
        };
        let setting = token_setting.unwrap_or(proposed);
        let spdus = encode::resync_ack(serial, setting, user_data)?;
        u.resynchronized(serial, setting);
        self.push(spdus);
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Input

    /// The transport connection is up. A responder now waits for the CN (within
    /// [`Config::response_timeout`]).
    pub fn handle_transport_connected(&mut self, now: Instant) {
        if self.role == Role::Responder && matches!(self.state, State::Idle) {
            self.state = State::AwaitCn;
            self.set_timer(Timer::Wait(Wait::Connect), now);
        }
    }

    /// The transport connection ended (`why`). After DN, AB or RF this is the expected end;
    /// before, it aborts the connection.
    pub fn handle_transport_disconnected(&mut self, why: Disconnect, _now: Instant) {
        match self.state {
            State::Closed => return,
            State::AwaitClose => {}
            _ => self.events.push_back(Event::Aborted(Abort {
                reason: AbortReason::Transport(why),
                user_data: Bytes::new(),
            })),
        }
        self.close();
    }

    /// A deadline passed: `now` is at or after [`Connection::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some((timer, at)) = self.timer else {
            return;
        };
        if now < at {
            return;
        }
        self.timer = None;
        match timer {
            Timer::Tim => self.close(),
            Timer::Wait(w) => {
                // The peer (or the user) did not answer: an AB tells the peer why, and the
                // connection ends at once (waiting TIM for an unresponsive peer is pointless).
                if !matches!(self.state, State::Idle | State::AwaitCn) {
                    if let Ok(ab) = encode::abort(
                        TransportDisconnect::RELEASED.with(TransportDisconnect::NO_REASON),
                        &[],
                    ) {
                        self.push(ab);
                    }
                }
                self.events.push_back(Event::Aborted(Abort {
                    reason: AbortReason::Timeout(w),
                    user_data: Bytes::new(),
                }));
                self.close();
            }
        }
    }

    /// One TSDU from the transport connection.
    pub fn handle_tsdu(&mut self, tsdu: Bytes, now: Instant) {
        if matches!(self.state, State::Closed | State::AwaitClose | State::Idle) {
            return; // X.225: after AB, DN or RF everything but the disconnect is ignored
        }
        let result = match self.on_data_tsdu(tsdu) {
            Ok(Some(tsdu)) => self.on_tsdu(&tsdu, now),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.send_abort(
                TransportDisconnect::RELEASED.with(TransportDisconnect::PROTOCOL_ERROR),
                &[],
                AbortReason::ProtocolError(e),
                now,
            );
        }
    }

    /// The data path: an empty GT (no parameters, so no Token Item: nothing for
    /// `on_category0` to do) and a DT without parameters (no Enclosure Item) whose user
    /// information is the rest, in the data transfer phase. The checks are those `on_spdu`
    /// makes for a DT; the user information is the TSDU itself, advanced past the SPDU
    /// headers. Any other TSDU is given back for the general walk.
    fn on_data_tsdu(&mut self, tsdu: Bytes) -> Result<Option<Bytes>, Violation> {
        match self.data_tsdu(tsdu)? {
            DataTsdu::Data(d) => {
                self.events.push_back(Event::Data(d));
                Ok(None)
            }
            DataTsdu::Ignored => Ok(None),
            DataTsdu::Other(t) => Ok(Some(t)),
        }
    }

    #[inline]
    fn data_tsdu(&mut self, mut tsdu: Bytes) -> Result<DataTsdu, Violation> {
        if !matches!(tsdu[..], [0x01, 0x00, 0x01, 0x00, _, ..]) {
            return Ok(DataTsdu::Other(tsdu));
        }
        let state = self.state.name();
        let State::Open(o) = &mut self.state else {
            return Ok(DataTsdu::Other(tsdu));
        };
        if matches!(o.release, Release::Sent { answered: true, .. }) {
            return Err(unexpected(2, SpduKind::Dt, state));
        }
        if accept_peer_data(&o.units, 2)? {
            tsdu.advance(4);
            return Ok(DataTsdu::Data(tsdu));
        }
        Ok(DataTsdu::Ignored)
    }

    /// The data path for a composer that delivers S-DATA itself: what
    /// [`Connection::handle_tsdu`] does with a TSDU of an empty GT and a DT without parameters
    /// in the data transfer phase, the user information returned instead of queued as
    /// [`Event::Data`] (`Ok(None)`: handled, nothing to deliver). Any other TSDU, or any while
    /// events are queued (their order must stay), comes back as `Err` for `handle_tsdu`.
    pub(crate) fn take_data(&mut self, tsdu: Bytes, now: Instant) -> Result<Option<Bytes>, Bytes> {
        if !self.events.is_empty() {
            return Err(tsdu);
        }
        match self.data_tsdu(tsdu) {
            Ok(DataTsdu::Data(d)) => Ok(Some(d)),
            Ok(DataTsdu::Ignored) => Ok(None),
            Ok(DataTsdu::Other(t)) => Err(t),
            Err(e) => {
                self.send_abort(
                    TransportDisconnect::RELEASED.with(TransportDisconnect::PROTOCOL_ERROR),
                    &[],
                    AbortReason::ProtocolError(e),
                    now,
                );
                Ok(None)
            }
        }
    }

    fn on_tsdu(&mut self, tsdu: &Bytes, now: Instant) -> Result<(), Violation> {
        // Basic concatenation (X.225 §6.3.7): the category-0 SPDU (GT or PT) is processed after
        // the category-2 SPDU that follows it.
        let mut first: Option<(usize, Spdu<'_>)> = None;
        let mut spdus = super::spdus(tsdu);
        loop {
            let at = spdus.offset();
            let Some(spdu) = spdus.next() else { break };
            let spdu = spdu?;
            if spdu
                .enclosure_item()
                .is_some_and(|e| e != EnclosureItem::WHOLE)
            {
                return Err(violation(
                    at,
                    "ssdu segment (enclosure item) although segmenting was not selected",
                ));
            }
            if matches!(spdu.kind(), SpduKind::Gt | SpduKind::Pt) {
                first = Some((at, spdu));
                continue;
            }
            self.on_spdu(tsdu, at, &spdu, now)?;
            if matches!(self.state, State::Closed | State::AwaitClose) {
                return Ok(());
            }
        }
        if let Some((at, c0)) = first {
            self.on_category0(tsdu, at, &c0)?;
        }
        Ok(())
    }

    fn on_spdu(
        &mut self,
        tsdu: &Bytes,
        at: usize,
        spdu: &Spdu<'_>,
        now: Instant,
    ) -> Result<(), Violation> {
        let kind = spdu.kind();
        let state = self.state.name();
        let user_data = |s: &Spdu<'_>| crate::util::sub(tsdu, s.ss_user_data());
        match (&mut self.state, kind) {
            (State::AwaitCn, SpduKind::Cn) => {
                self.on_cn(tsdu, at, spdu, now);
                Ok(())
            }
            (State::AwaitAc(_), SpduKind::Ac) => {
                self.on_ac(tsdu, spdu);
                Ok(())
            }
            (State::AwaitAc(_), SpduKind::Rf) => {
                let reason = spdu.refuse_reason().unwrap_or(RefuseReason::USER_NO_REASON);
                let data = spdu.refuse_user_data().unwrap_or_default();
                self.events.push_back(Event::Refused {
                    reason,
                    user_data: crate::util::sub(tsdu, data),
                });
                // The receiver of RF releases the transport connection.
                self.close();
                Ok(())
            }
            (_, SpduKind::Ab) => {
                let td = spdu
                    .transport_disconnect()
                    .unwrap_or(TransportDisconnect::RELEASED);
                self.events.push_back(Event::Aborted(Abort {
                    reason: AbortReason::Peer(td),
                    user_data: user_data(spdu),
                }));
                // The receiver of an AB that releases the transport connection releases it.
                self.close();
                Ok(())
            }
            (_, SpduKind::Aa) => Ok(()),
            (State::Open(o), SpduKind::Dt) => {
                if matches!(o.release, Release::Sent { answered: true, .. }) {
                    return Err(unexpected(at, kind, state));
                }
                if !accept_peer_data(&o.units, at)? {
                    return Ok(());
                }
                let data = crate::util::sub(tsdu, spdu.user_information());
                self.events.push_back(Event::Data(data));
                let _ = now;
                Ok(())
            }
            (State::Open(o), SpduKind::Fn) => {
                if o.units.activity.is_some() {
                    return Err(violation(at, "fn inside an activity"));
                }
                if !o.units.peer_holds(o.units.available) {
                    return Err(violation(
                        at,
                        "fn from a peer that does not hold every token",
                    ));
                }
                let collision = match o.release {
                    Release::None => {
                        o.release = Release::Received;
                        false
                    }
                    Release::Sent {
                        collision: false, ..
                    } => {
                        o.release = Release::Sent {
                            collision: true,
                            answered: false,
                        };
                        true
                    }
                    _ => return Err(unexpected(at, kind, state)),
                };
                self.events.push_back(Event::ReleaseIndication {
                    user_data: user_data(spdu),
                    collision,
                });
                if !collision {
                    self.timer = deadline(&self.config, Timer::Wait(Wait::User), now);
                }
                Ok(())
            }
            (State::Open(o), SpduKind::Dn) => {
                let Release::Sent {
                    collision,
                    answered,
                } = o.release
                else {
                    return Err(unexpected(at, kind, state));
                };
                self.events.push_back(Event::Released {
                    user_data: user_data(spdu),
                });
                if collision && !answered {
                    // The peer answered our FN first; ours to answer now.
                    o.release = Release::Received;
                    self.timer = deadline(&self.config, Timer::Wait(Wait::User), now);
                } else {
                    // The receiver of DN releases the transport connection (X.225 §6.6, §7.7); in
                    // class 0 that is the implicit variant, TCP closed without a DR (X.224).
                    self.close();
                }
                Ok(())
            }
            (State::Open(o), SpduKind::Nf) => {
                if !matches!(
                    o.release,
                    Release::Sent {
                        collision: false,
                        ..
                    }
                ) {
                    return Err(unexpected(at, kind, state));
                }
                o.release = Release::None;
                self.timer = None;
                self.events.push_back(Event::ReleaseRefused {
                    user_data: user_data(spdu),
                });
                Ok(())
            }
            (State::Open(o), _) if o.release == Release::None && is_unit_spdu(kind) => {
                let answer = on_unit_spdu(&mut o.units, tsdu, at, spdu, &mut self.events)?;
                if let Some(head) = answer {
                    self.tx.push_back(Transmit {
                        head: head.freeze(),
                        body: Bytes::new(),
                    });
                }
                if o.units.pending.is_none()
                    && matches!(self.timer, Some((Timer::Wait(Wait::Answer), _)))
                {
                    self.timer = None;
                }
                Ok(())
            }
            _ => Err(unexpected(at, kind, state)),
        }
    }

    fn on_cn(&mut self, tsdu: &Bytes, at: usize, spdu: &Spdu<'_>, now: Instant) {
        let offered = spdu.version_number().unwrap_or(VersionNumber::V1);
        let refuse = |c: &mut Self, reason: RefuseReason, cause: DecodeError| {
            if let Ok(rf) = encode::rf(None, reason, &[]) {
                c.push(rf);
            }
            c.events.push_back(Event::Rejected { reason, cause });
            c.await_close(now);
        };
        let version = if offered.contains(VersionNumber::V2) {
            VersionNumber::V2
        } else if offered.contains(VersionNumber::V1) {
            VersionNumber::V1
        } else {
            refuse(
                self,
                RefuseReason::VERSION_NOT_SUPPORTED,
                bad_value(at, "version number", u64::from(offered.0)),
            );
            return;
        };
        if spdu.data_overflow().is_some_and(|d| d.get() != 0) {
            refuse(
                self,
                RefuseReason::SPM_IMPLEMENTATION_RESTRICTION,
                DecodeError::new(
                    Layer::Session,
                    at,
                    DecodeErrorKind::LimitExceeded {
                        limit: "connect user data (data overflow is not supported)",
                        max: super::CN_EXTENDED_USER_DATA_MAX,
                    },
                ),
            );
            return;
        }
        let requirements = spdu
            .session_user_requirements()
            .unwrap_or(SessionUserRequirements::DEFAULT);
        let agreed = super::units::answer_requirements(requirements);
        let token_setting = spdu
            .connect_accept_item()
            .and_then(|c| c.token_setting_item);
        let called = spdu.called_session_selector();
        let indication = ConnectIndication {
            calling_ssel: spdu
                .calling_session_selector()
                .map(|s| crate::util::sub(tsdu, s)),
            called_ssel: called.map(|s| crate::util::sub(tsdu, s)),
            requirements,
            agreed,
            token_setting,
            version,
            user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
        };
        self.state = State::AwaitUser(Box::new(Answer {
            version,
            agreed,
            cn_setting: token_setting,
            responding_ssel: called
                .filter(|s| !s.is_empty())
                .map(|s| crate::util::sub(tsdu, s)),
        }));
        self.set_timer(Timer::Wait(Wait::User), now);
        self.events
            .push_back(Event::ConnectIndication(Box::new(indication)));
    }

    fn on_ac(&mut self, tsdu: &Bytes, spdu: &Spdu<'_>) {
        let State::AwaitAc(proposal) = &self.state else {
            return;
        };
        let agreed = super::units::agreed_requirements(
            proposal.requirements,
            spdu.session_user_requirements(),
        );
        let setting = spdu
            .connect_accept_item()
            .and_then(|c| c.token_setting_item)
            .or(proposal.token_setting);
        let version = match spdu.version_number() {
            Some(v) if v.contains(VersionNumber::V2) => VersionNumber::V2,
            _ => VersionNumber::V1,
        };
        let units = Units::new(agreed, setting, true);
        let connected = Connected {
            requirements: agreed,
            version,
            tokens: units.tokens(),
            responding_ssel: spdu
                .responding_session_selector()
                .map(|s| crate::util::sub(tsdu, s)),
            user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
        };
        self.state = State::Open(Box::new(Open {
            version,
            units,
            release: Release::None,
        }));
        self.timer = None;
        self.events.push_back(Event::Connected(Box::new(connected)));
    }

    /// The category-0 SPDU of a TSDU: a Token Item in GT gives tokens, in PT asks for them.
    fn on_category0(&mut self, tsdu: &Bytes, at: usize, spdu: &Spdu<'_>) -> Result<(), Violation> {
        let State::Open(o) = &mut self.state else {
            return Ok(());
        };
        let u = &mut o.units;
        if u.available == TokenItem::default() {
            return Ok(()); // duplex kernel: GT and PT carry no tokens and are ignored
        }
        let Some(tokens) = spdu.token_item().filter(|t| t.0 != 0) else {
            return Ok(());
        };
        if !u.available.contains(tokens) {
            return Err(bad_value(
                at,
                "token item naming an unavailable token",
                u64::from(tokens.0),
            ));
        }
        if u.pending == Some(Pending::Control) {
            return Err(violation(
                at,
                "token item while a control give is in progress",
            ));
        }
        match spdu.kind() {
            SpduKind::Gt => {
                if !u.peer_holds(tokens) {
                    return Err(bad_value(
                        at,
                        "gt giving tokens the peer does not hold",
                        u64::from(tokens.0),
                    ));
                }
                u.owned = u.owned.with(tokens);
                if tokens.contains(TokenItem::DATA) {
                    u.exception = None;
                }
                self.events.push_back(Event::TokensGiven(tokens));
            }
            _ => {
                let data = spdu.user_data().unwrap_or_default();
                self.events.push_back(Event::TokensPlease {
                    tokens,
                    user_data: crate::util::sub(tsdu, data),
                });
            }
        }
        Ok(())
    }
}

/// What the data path made of a TSDU.
enum DataTsdu {
    /// GT + DT: the user information.
    Data(Bytes),
    /// GT + DT whose data is discarded (an interrupt or discard in progress, X.225 §7.19).
    Ignored,
    /// Not the data shape: the general walk decides.
    Other(Bytes),
}

fn is_unit_spdu(kind: SpduKind) -> bool {
    matches!(
        kind,
        SpduKind::As
            | SpduKind::Ar
            | SpduKind::Mip
            | SpduKind::Mia
            | SpduKind::Ae
            | SpduKind::MaaOrAea
            | SpduKind::Ai
            | SpduKind::Aia
            | SpduKind::Ad
            | SpduKind::Ada
            | SpduKind::Gtc
            | SpduKind::Gta
            | SpduKind::Er
            | SpduKind::Ed
            | SpduKind::Td
            | SpduKind::Cd
            | SpduKind::Cda
            | SpduKind::Map
            | SpduKind::Rs
            | SpduKind::Ra
    )
}

/// The lowercase name of an SPDU kind for messages ("gtc spdu").
fn spdu_name(kind: SpduKind) -> &'static str {
    match kind {
        SpduKind::Cn => "cn spdu",
        SpduKind::Oa => "oa spdu",
        SpduKind::Cdo => "cdo spdu",
        SpduKind::Ac => "ac spdu",
        SpduKind::Rf => "rf spdu",
        SpduKind::Fn => "fn spdu",
        SpduKind::Dn => "dn spdu",
        SpduKind::Nf => "nf spdu",
        SpduKind::Ab => "ab spdu",
        SpduKind::Aa => "aa spdu",
        SpduKind::Dt => "dt spdu",
        SpduKind::Gt => "gt spdu",
        SpduKind::Pt => "pt spdu",
        SpduKind::Ex => "ex spdu",
        SpduKind::Pr => "pr spdu",
        SpduKind::Td => "td spdu",
        SpduKind::Gtc => "gtc spdu",
        SpduKind::Gta => "gta spdu",
        SpduKind::Cd => "cd spdu",
        SpduKind::Cda => "cda spdu",
        SpduKind::Rs => "rs spdu",
        SpduKind::Ra => "ra spdu",
        SpduKind::As => "as spdu",
        SpduKind::Ar => "ar spdu",
        SpduKind::Ad => "ad spdu",
        SpduKind::Ada => "ada spdu",
        SpduKind::Ai => "ai spdu",
        SpduKind::Aia => "aia spdu",
        SpduKind::Ae => "ae spdu",
        SpduKind::Map => "map spdu",
        SpduKind::MaaOrAea => "maa/aea spdu",
        SpduKind::Mip => "mip spdu",
        SpduKind::Mia => "mia spdu",
        SpduKind::Er => "er spdu",
        SpduKind::Ed => "ed spdu",
    }
}

/// Whether a DT from the peer is allowed now (`Ok(false)`: drop it, it crossed an AI or AD of
/// this side, or an exception report of this side is in force).
fn accept_peer_data(u: &Units, at: usize) -> Result<bool, Violation> {
    if matches!(u.pending, Some(Pending::Interrupt | Pending::Discard))
        || u.exception == Some(Exception::Sent)
    {
        return Ok(false);
    }
    if u.available.contains(TokenItem::DATA) && u.owned.contains(TokenItem::DATA) {
        return Err(violation(
            at,
            "dt from a peer that does not hold the data token",
        ));
    }
    // Inside an activity the data token decides who sends (checked above), whoever started it.
    match u.activity.as_ref() {
        Some(a) if a.end_indicated.is_some() || a.await_end.is_some() => {
            Err(violation(at, "dt after the end of the activity"))
        }
        _ => Ok(true),
    }
}

/// A sync point from the peer: MIP (minor) or MAP (major).
#[derive(Clone, Copy)]
enum PeerSync {
    Minor,
    Major,
}

impl PeerSync {
    /// The tokens the peer must hold to send it.
    fn tokens(self) -> TokenItem {
        match self {
            PeerSync::Minor => TokenItem::MINOR_SYNC,
            PeerSync::Major => TokenItem::DATA
                .with(TokenItem::MINOR_SYNC)
                .with(TokenItem::MAJOR_ACTIVITY),
        }
    }

    /// The words of its faults: tokens not held, no serial number, outside an activity of the
    /// peer, the serial number's name.
    fn faults(self) -> [&'static str; 4] {
        match self {
            PeerSync::Minor => [
                "mip from a peer that does not hold the minor sync token",
                "mip without a valid serial number (pi 42)",
                "mip outside an activity of the peer",
                "mip serial number",
            ],
            PeerSync::Major => [
                "map from a peer that does not hold the data, minor sync and major tokens",
                "map without a valid serial number (pi 42)",
                "map outside an activity of the peer",
                "map serial number",
            ],
        }
    }
}

/// The checks a MIP and a MAP share, the receiving side of [`sync_point`]: the peer holds the
/// tokens, the SPDU carries a serial number, a run of the peer's sync points (its activity;
/// without activity management the implicit one, started here) that is not ending, and the
/// serial number is V(M). Advances V(M) and returns the serial number.
fn peer_sync_point(
    u: &mut Units,
    spdu: &Spdu<'_>,
    at: usize,
    kind: PeerSync,
) -> Result<u64, Violation> {
    let [no_tokens, no_serial, outside, serial_name] = kind.faults();
    if !u.peer_holds(kind.tokens()) {
        return Err(violation(at, no_tokens));
    }
    let serial = serial_of(spdu, at, no_serial)?;
    if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) && u.plain.is_none() {
        u.plain = Some(Activity::new(false, 1));
    }
    let Some(a) = u
        .sync_run()
        .filter(|a| !a.local && a.end_indicated.is_none())
    else {
        return Err(violation(at, outside));
    };
    if serial != a.next_serial {
        return Err(bad_value(at, serial_name, serial));
    }
    a.next_serial = serial.saturating_add(1);
    Ok(serial)
}

fn serial_of(spdu: &Spdu<'_>, at: usize, what: &'static str) -> Result<u64, Violation> {
    spdu.serial_number()
        .and_then(|s| s.value())
        .ok_or(violation(at, what))
}

/// Activity, synchronization, control and exception SPDUs from the peer (data phase). Returns
/// the answer the machine sends itself (AIA, ADA, GTA).
fn on_unit_spdu(
    u: &mut Units,
    tsdu: &Bytes,
    at: usize,
    spdu: &Spdu<'_>,
    events: &mut VecDeque<Event>,
) -> Result<Option<BytesMut>, Violation> {
    let kind = spdu.kind();
    let pending = u.pending;
    let dropping = matches!(pending, Some(Pending::Interrupt | Pending::Discard));
    let encode_failed = |_| violation(at, "answer could not be encoded");
    match kind {
        SpduKind::As | SpduKind::Ar => {
            if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) {
                return Err(violation(
                    at,
                    "activity start or resume without activity management",
                ));
            }
            if pending.is_some() || u.activity.is_some() {
                return Err(violation(at, "activity start or resume inside an activity"));
            }
            if !u.peer_holds(u.available) {
                return Err(violation(
                    at,
                    "activity start or resume from a peer that does not hold every token",
                ));
            }
            let id = spdu
                .activity_identifier()
                .filter(|i| i.len() <= 6)
                .ok_or(violation(at, "activity without a valid identifier (pi 41)"))?;
            let id = crate::util::sub(tsdu, id);
            let next_serial = if kind == SpduKind::As {
                events.push_back(Event::ActivityStarted { id });
                1
            } else {
                let link = spdu
                    .linking_information()
                    .ok_or(violation(at, "ar without linking information (pgi 33)"))?;
                let old_id = link.old_activity_identifier.ok_or(violation(
                    at,
                    "ar without the old activity identifier (pi 41 in pgi 33)",
                ))?;
                let serial = link.serial_number.and_then(|s| s.value()).ok_or(violation(
                    at,
                    "ar without a valid serial number (pi 42 in pgi 33)",
                ))?;
                let c = link.connection;
                let own = |v: Option<&[u8]>| v.map(|v| crate::util::sub(tsdu, v));
                events.push_back(Event::ActivityResumed(Box::new(Resumed {
                    id,
                    old_id: crate::util::sub(tsdu, old_id),
                    serial,
                    old_connection: OldConnection {
                        called_ss_user_reference: own(c.called_ss_user_reference),
                        calling_ss_user_reference: own(c.calling_ss_user_reference),
                        common_reference: own(c.common_reference),
                        additional_reference_information: own(c.additional_reference_information),
                    },
                })));
                serial.saturating_add(1)
            };
            u.activity = Some(Activity::new(false, next_serial));
            Ok(None)
        }
        SpduKind::Mip => {
            if !u.has_unit(SessionUserRequirements::MINOR_SYNCHRONIZE) {
                return Err(violation(at, "mip without minor synchronize"));
            }
            if dropping || u.exception == Some(Exception::Sent) {
                return Ok(None); // crossed our AI / AD, or our exception report is in force
            }
            let serial = peer_sync_point(u, spdu, at, PeerSync::Minor)?;
            events.push_back(Event::SyncMinor { serial });
            Ok(None)
        }
        SpduKind::Mia => {
            if dropping {
                return Ok(None);
            }
            let serial = serial_of(spdu, at, "mia without a valid serial number (pi 42)")?;
            let a = match u.activity.as_mut().or(u.plain.as_mut()) {
                Some(a) if a.local => a,
                _ => return Err(violation(at, "mia without a minor sync point outstanding")),
            };
            if serial <= a.confirmed || serial >= a.next_serial {
                return Err(bad_value(at, "mia serial number", serial));
            }
            a.confirmed = serial;
            events.push_back(Event::SyncMinorConfirmed { serial });
            Ok(None)
        }
        SpduKind::Ae => {
            let serial = serial_of(spdu, at, "ae without a valid serial number (pi 42)")?;
            if u.exception == Some(Exception::Sent) {
                return Ok(None);
            }
            let Some(a) = u
                .activity
                .as_mut()
                .filter(|a| !a.local && a.end_indicated.is_none())
            else {
                return Err(violation(at, "ae outside an activity of the peer"));
            };
            if serial != a.next_serial {
                return Err(bad_value(at, "ae serial number", serial));
            }
            a.next_serial = serial.saturating_add(1);
            a.end_indicated = Some(serial);
            events.push_back(Event::ActivityEnd { serial });
            Ok(None)
        }
        SpduKind::MaaOrAea => {
            if dropping {
                return Ok(None);
            }
            if let Some(Pending::Major(sent)) = pending {
                // 42 after this side's MAP is the MAA (the same encoding as AEA).
                let serial = serial_of(spdu, at, "maa without a valid serial number (pi 42)")?;
                if serial != sent {
                    return Err(bad_value(at, "maa serial number", serial));
                }
                u.pending = None;
                if let Some(a) = u.sync_run() {
                    a.confirmed = serial;
                }
                events.push_back(Event::SyncMajorConfirmed {
                    serial,
                    user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
                });
                return Ok(None);
            }
            let serial = serial_of(spdu, at, "aea without a valid serial number (pi 42)")?;
            match u.activity.as_ref().and_then(|a| a.await_end) {
                Some(s) if s == serial => {
                    u.activity = None;
                    events.push_back(Event::ActivityEnded { serial });
                    Ok(None)
                }
                Some(_) => Err(bad_value(at, "aea serial number", serial)),
                None => Err(violation(
                    at,
                    "aea (or maa) without an activity end outstanding",
                )),
            }
        }
        SpduKind::Ai | SpduKind::Ad => {
            if u.activity.is_none() {
                return Err(violation(
                    at,
                    "activity interrupt or discard outside an activity",
                ));
            }
            if !u.peer_holds(TokenItem::MAJOR_ACTIVITY) {
                return Err(violation(
                    at,
                    "activity interrupt or discard from a peer that does not hold the activity token",
                ));
            }
            let reason = spdu.activity_reason().unwrap_or(ActivityReason::NO_REASON);
            let (answer, event) = if kind == SpduKind::Ai {
                (SpduKind::Aia, Event::ActivityInterrupted { reason })
            } else {
                (SpduKind::Ada, Event::ActivityDiscarded { reason })
            };
            let tx = encode::with_reason(SpduKind::Pt, answer, None).map_err(encode_failed)?;
            u.interrupted(false);
            events.push_back(event);
            Ok(Some(tx))
        }
        SpduKind::Aia | SpduKind::Ada => {
            let (want, event) = if kind == SpduKind::Aia {
                (Pending::Interrupt, Event::ActivityInterruptConfirmed)
            } else {
                (Pending::Discard, Event::ActivityDiscardConfirmed)
            };
            if pending != Some(want) {
                return Err(violation(
                    at,
                    "activity interrupt or discard ack without a request",
                ));
            }
            u.pending = None;
            u.interrupted(true);
            events.push_back(event);
            Ok(None)
        }
        SpduKind::Gtc => {
            if !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) {
                return Err(violation(at, "gtc without activity management"));
            }
            if u.activity.is_some() || pending.is_some() {
                return Err(violation(at, "gtc inside an activity"));
            }
            if !u.peer_holds(u.available) {
                return Err(violation(
                    at,
                    "gtc from a peer that does not hold every token",
                ));
            }
            let tx = encode::bare(SpduKind::Gta).map_err(encode_failed)?;
            u.owned = u.available;
            u.exception = None;
            events.push_back(Event::ControlGiven);
            Ok(Some(tx))
        }
        SpduKind::Gta => {
            if pending != Some(Pending::Control) {
                return Err(violation(at, "gta without a control give outstanding"));
            }
            u.pending = None;
            events.push_back(Event::ControlGiveConfirmed);
            Ok(None)
        }
        SpduKind::Er | SpduKind::Ed => {
            if !u.has_unit(SessionUserRequirements::EXCEPTIONS) {
                return Err(violation(
                    at,
                    "exception report without the exceptions unit",
                ));
            }
            let report = if kind == SpduKind::Er {
                ExceptionReport::Provider {
                    reflect: spdu
                        .reflect_parameter_values()
                        .map_or(Bytes::new(), |r| crate::util::sub(tsdu, r)),
                }
            } else {
                ExceptionReport::User {
                    reason: spdu.activity_reason().unwrap_or(ActivityReason::NO_REASON),
                    user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
                }
            };
            if u.exception.is_none() {
                u.exception = Some(Exception::Received);
            }
            events.push_back(Event::ExceptionReport(report));
            Ok(None)
        }
        SpduKind::Td => {
            if !u.has_unit(SessionUserRequirements::TYPED_DATA) {
                return Err(violation(at, "td without the typed data unit"));
            }
            events.push_back(Event::TypedData(crate::util::sub(
                tsdu,
                spdu.user_information(),
            )));
            Ok(None)
        }
        SpduKind::Cd => {
            if !u.has_unit(SessionUserRequirements::CAPABILITY_DATA)
                || !u.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT)
            {
                return Err(violation(
                    at,
                    "cd without the capability data and activity management units",
                ));
            }
            if u.activity.is_some() || pending.is_some() || u.capability_indicated {
                return Err(violation(at, "cd inside an activity or a pending exchange"));
            }
            if !u.peer_holds(
                TokenItem::DATA
                    .with(TokenItem::MINOR_SYNC)
                    .with(TokenItem::MAJOR_ACTIVITY),
            ) {
                return Err(violation(
                    at,
                    "cd from a peer that does not hold the data, minor sync and activity tokens",
                ));
            }
            u.capability_indicated = true;
            events.push_back(Event::CapabilityData(crate::util::sub(
                tsdu,
                spdu.ss_user_data(),
            )));
            Ok(None)
        }
        SpduKind::Cda => {
            if pending != Some(Pending::Capability) {
                return Err(violation(at, "cda without capability data outstanding"));
            }
            u.pending = None;
            events.push_back(Event::CapabilityDataConfirmed(crate::util::sub(
                tsdu,
                spdu.ss_user_data(),
            )));
            Ok(None)
        }
        SpduKind::Map => {
            if !u.has_unit(SessionUserRequirements::MAJOR_SYNCHRONIZE) {
                return Err(violation(at, "map without the major synchronize unit"));
            }
            if dropping || u.exception == Some(Exception::Sent) {
                return Ok(None); // crossed our AI / AD, or our exception report is in force
            }
            let serial = peer_sync_point(u, spdu, at, PeerSync::Major)?;
            u.major_indicated = Some(serial);
            events.push_back(Event::SyncMajor {
                serial,
                user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
            });
            Ok(None)
        }
        SpduKind::Rs => {
            if !u.has_unit(SessionUserRequirements::RESYNCHRONIZE) {
                return Err(violation(at, "rs without the resynchronize unit"));
            }
            let kind = spdu
                .resync_type()
                .and_then(ResyncType::from_code)
                .ok_or(violation(at, "rs without a valid resync type (pi 27)"))?;
            let serial = serial_of(spdu, at, "rs without a valid serial number (pi 42)")?;
            let setting = spdu
                .token_setting()
                .ok_or(violation(at, "rs without a token setting item (pi 26)"))?;
            if let Some(Pending::Resync(ours, our_serial, _)) = pending {
                // Collision: the higher precedence wins; between two restarts the lower serial
                // number; otherwise the session connection initiator's.
                let theirs_wins = match kind.precedence().cmp(&ours.precedence()) {
                    std::cmp::Ordering::Greater => true,
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Equal if kind == ResyncType::Restart => serial < our_serial,
                    std::cmp::Ordering::Equal => !u.initiator,
                };
                if !theirs_wins {
                    return Ok(None);
                }
                u.pending = None;
            }
            u.resync_indicated = Some((serial, setting));
            events.push_back(Event::Resynchronize {
                kind,
                serial,
                token_setting: setting,
                user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
            });
            Ok(None)
        }
        SpduKind::Ra => {
            let Some(Pending::Resync(_, sent, proposed)) = pending else {
                return Err(violation(at, "ra without a resynchronization outstanding"));
            };
            let serial = serial_of(spdu, at, "ra without a valid serial number (pi 42)")?;
            if serial != sent {
                return Err(bad_value(at, "ra serial number", serial));
            }
            let setting = spdu.token_setting().unwrap_or(proposed);
            u.resynchronized(serial, setting);
            events.push_back(Event::ResynchronizeConfirmed {
                serial,
                user_data: crate::util::sub(tsdu, spdu.ss_user_data()),
            });
            Ok(None)
        }
        _ => Err(violation(at, "spdu not supported by this machine")),
    }
}

/// The SPDUs this machine sends, each built with [`Spdu::encode`] from a [`ParametersBuf`].
mod encode {
    use super::*;

    fn spdu(
        kind: SpduKind,
        params: &ParametersBuf,
        info: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let p = params.as_parameters().map_err(|_| {
            EncodeError::new(
                Layer::Session,
                EncodeErrorKind::InvalidValue {
                    what: "parameter field",
                    value: 0,
                },
            )
        })?;
        let s = Spdu::new(kind, p).with_user_information(info);
        out.reserve(s.encoded_len());
        s.encode(out)
    }

    fn one(kind: SpduKind, params: &ParametersBuf) -> Result<BytesMut, EncodeError> {
        let mut out = BytesMut::new();
        spdu(kind, params, &[], &mut out)?;
        Ok(out)
    }

    /// An SPDU with no parameters (GTC, GTA; the empty GT/PT in front of category 2).
    pub(super) fn bare(kind: SpduKind) -> Result<BytesMut, EncodeError> {
        one(kind, &ParametersBuf::new())
    }

    fn connect_accept_item(
        version: VersionNumber,
        token_setting: Option<TokenSettingItem>,
    ) -> Result<ParametersBuf, EncodeError> {
        let mut cai = ParametersBuf::new();
        cai.u8(ParameterCode::PROTOCOL_OPTIONS, 0)?
            .u8(ParameterCode::VERSION_NUMBER, version.get())?;
        if let Some(t) = token_setting {
            cai.u8(ParameterCode::TOKEN_SETTING_ITEM, t.0)?;
        }
        Ok(cai)
    }

    /// The CN: Connect/Accept Item (options, versions, token setting), PI 20, the selectors,
    /// the user data (PGI 193 or 194; more than 10 240 octets would need CDO: refused).
    pub(super) fn cn(r: &ConnectRequest) -> Result<BytesMut, EncodeError> {
        let sv = if r.versions.contains(VersionNumber::V2) {
            SessionVersion::V2
        } else {
            SessionVersion::V1
        };
        let data = ConnectData::new(sv, &r.user_data)?;
        if data.needs_overflow() {
            return Err(EncodeError::new(
                Layer::Session,
                EncodeErrorKind::ValueTooLarge {
                    what: "connect user data (cdo overflow not supported)",
                    value: r.user_data.len(),
                    max: super::super::CN_EXTENDED_USER_DATA_MAX,
                },
            ));
        }
        let mut p = ParametersBuf::new();
        p.group(
            ParameterCode::CONNECT_ACCEPT_ITEM,
            &connect_accept_item(r.versions, r.token_setting)?,
        )?
        .u16(
            ParameterCode::SESSION_USER_REQUIREMENTS,
            r.requirements.get(),
        )?;
        if let Some(s) = &r.calling_ssel {
            p.unit(ParameterCode::CALLING_SESSION_SELECTOR, s.as_bytes())?;
        }
        if let Some(s) = &r.called_ssel {
            p.unit(ParameterCode::CALLED_SESSION_SELECTOR, s.as_bytes())?;
        }
        data.append_connect_parameters(&mut p)?;
        one(SpduKind::Cn, &p)
    }

    /// The AC.
    pub(super) fn ac(
        version: VersionNumber,
        requirements: SessionUserRequirements,
        token_setting: Option<TokenSettingItem>,
        responding_ssel: Option<&[u8]>,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let sv = if version == VersionNumber::V1 {
            SessionVersion::V1
        } else {
            SessionVersion::V2
        };
        let data = ConnectData::new(sv, user_data)?;
        if data.needs_overflow() {
            return Err(EncodeError::new(
                Layer::Session,
                EncodeErrorKind::ValueTooLarge {
                    what: "accept user data",
                    value: user_data.len(),
                    max: super::super::CN_EXTENDED_USER_DATA_MAX,
                },
            ));
        }
        let mut p = ParametersBuf::new();
        p.group(
            ParameterCode::CONNECT_ACCEPT_ITEM,
            &connect_accept_item(version, token_setting)?,
        )?
        .u16(ParameterCode::SESSION_USER_REQUIREMENTS, requirements.get())?;
        if let Some(s) = responding_ssel {
            p.unit(ParameterCode::RESPONDING_SESSION_SELECTOR, s)?;
        }
        data.append_connect_parameters(&mut p)?;
        one(SpduKind::Ac, &p)
    }

    /// The RF (transport released): version, reason code and, after it, the user data.
    pub(super) fn rf(
        version: Option<VersionNumber>,
        reason: RefuseReason,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(
            ParameterCode::TRANSPORT_DISCONNECT,
            TransportDisconnect::RELEASED.get(),
        )?;
        if let Some(v) = version {
            p.u8(ParameterCode::VERSION_NUMBER, v.get())?;
        }
        let mut code = Vec::with_capacity(user_data.len().saturating_add(1));
        code.push(reason.get());
        code.extend_from_slice(user_data);
        p.unit(ParameterCode::REASON_CODE, &code)?;
        one(SpduKind::Rf, &p)
    }

    /// FN, DN or NF with user data (PGI 193 when not empty).
    pub(super) fn with_user_data(
        kind: SpduKind,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        one(kind, &p)
    }

    /// AB: Transport Disconnect `td`, user data when not empty.
    pub(super) fn abort(
        td: TransportDisconnect,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::TRANSPORT_DISCONNECT, td.get())?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        one(SpduKind::Ab, &p)
    }

    /// GT + DT, the header of every S-DATA, followed by `prefix` (the start of the user
    /// information).
    pub(super) fn gt_dt(prefix: &[u8]) -> Result<BytesMut, EncodeError> {
        let mut out = BytesMut::with_capacity(prefix.len().saturating_add(4));
        let empty = ParametersBuf::new();
        spdu(SpduKind::Gt, &empty, &[], &mut out)?;
        spdu(SpduKind::Dt, &empty, prefix, &mut out)?;
        Ok(out)
    }

    /// GT or PT alone with a Token Item (and, for PT, user data).
    pub(super) fn token_item(
        kind: SpduKind,
        tokens: TokenItem,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::TOKEN_ITEM, tokens.get())?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        one(kind, &p)
    }

    /// A category-2 SPDU behind an empty GT or PT (X.225 Table 7).
    fn concatenated(
        first: SpduKind,
        kind: SpduKind,
        params: &ParametersBuf,
    ) -> Result<BytesMut, EncodeError> {
        let mut out = BytesMut::with_capacity(params.len().saturating_add(8));
        spdu(first, &ParametersBuf::new(), &[], &mut out)?;
        spdu(kind, params, &[], &mut out)?;
        Ok(out)
    }

    /// The serial number `n` as PI 42 digits (X.225 §8.3: ASCII decimal, most significant
    /// first).
    fn serial_digits(n: u64) -> Vec<u8> {
        n.to_string().into_bytes()
    }

    /// GT + AS with the activity identifier.
    pub(super) fn activity_start(id: &[u8]) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.unit(ParameterCode::ACTIVITY_IDENTIFIER, id)?;
        concatenated(SpduKind::Gt, SpduKind::As, &p)
    }

    /// PT + AR: linking information and the new activity identifier.
    pub(super) fn activity_resume(
        id: &[u8],
        old_id: &[u8],
        serial: u64,
        old: &OldConnection,
    ) -> Result<BytesMut, EncodeError> {
        let mut link = ParametersBuf::new();
        for (code, value) in [
            (
                ParameterCode::CALLED_SS_USER_REFERENCE,
                &old.called_ss_user_reference,
            ),
            (
                ParameterCode::CALLING_SS_USER_REFERENCE,
                &old.calling_ss_user_reference,
            ),
            (ParameterCode::COMMON_REFERENCE, &old.common_reference),
            (
                ParameterCode::ADDITIONAL_REFERENCE_INFORMATION,
                &old.additional_reference_information,
            ),
        ] {
            if let Some(v) = value {
                link.unit(code, v)?;
            }
        }
        link.unit(ParameterCode::ACTIVITY_IDENTIFIER, old_id)?
            .unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
        let mut p = ParametersBuf::new();
        p.group(ParameterCode::LINKING_INFORMATION, &link)?
            .unit(ParameterCode::ACTIVITY_IDENTIFIER, id)?;
        concatenated(SpduKind::Pt, SpduKind::Ar, &p)
    }

    /// `first` + an SPDU whose only parameter is the serial number (MIP, MIA, AE, AEA).
    pub(super) fn with_serial(
        first: SpduKind,
        kind: SpduKind,
        serial: u64,
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
        concatenated(first, kind, &p)
    }

    /// `first` + AI or AD with a reason code, or + AIA / ADA (no parameters).
    pub(super) fn with_reason(
        first: SpduKind,
        kind: SpduKind,
        reason: Option<ActivityReason>,
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        if let Some(r) = reason {
            p.u8(ParameterCode::REASON_CODE, r.get())?;
        }
        concatenated(first, kind, &p)
    }

    /// TD with no parameters: the user information follows (X.225 §8.3.13).
    pub(super) fn typed_data() -> Result<BytesMut, EncodeError> {
        one(SpduKind::Td, &ParametersBuf::new())
    }

    /// `first` + a category-2 SPDU carrying only user data (CD, CDA).
    pub(super) fn with_user_data_after(
        first: SpduKind,
        kind: SpduKind,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        concatenated(first, kind, &p)
    }

    /// GT + MAP: Sync Type Item 1 (PI 15, mandatory in MAP; what ISODE sends), serial number,
    /// user data.
    pub(super) fn major_sync(serial: u64, user_data: &[u8]) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::SYNC_TYPE_ITEM, 1)?
            .unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        concatenated(SpduKind::Gt, SpduKind::Map, &p)
    }

    /// `first` + a serial-numbered SPDU with user data (PT + MAA).
    pub(super) fn with_serial_and_user_data(
        first: SpduKind,
        kind: SpduKind,
        serial: u64,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        concatenated(first, kind, &p)
    }

    /// GT + RS: Token Setting Item, Resync Type, Serial Number, user data (X.225 order).
    pub(super) fn resync(
        kind: ResyncType,
        serial: u64,
        setting: TokenSettingItem,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::TOKEN_SETTING_ITEM, setting.0)?
            .u8(ParameterCode::RESYNC_TYPE, kind.code())?
            .unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        concatenated(SpduKind::Gt, SpduKind::Rs, &p)
    }

    /// PT + RA: Token Setting Item, Serial Number, user data.
    pub(super) fn resync_ack(
        serial: u64,
        setting: TokenSettingItem,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::TOKEN_SETTING_ITEM, setting.0)?
            .unit(ParameterCode::SERIAL_NUMBER, &serial_digits(serial))?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        concatenated(SpduKind::Pt, SpduKind::Ra, &p)
    }

    /// PT + ED with a reason code and user data.
    pub(super) fn exception_data(
        reason: ActivityReason,
        user_data: &[u8],
    ) -> Result<BytesMut, EncodeError> {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::REASON_CODE, reason.get())?;
        if !user_data.is_empty() {
            p.user_data(user_data)?;
        }
        concatenated(SpduKind::Pt, SpduKind::Ed, &p)
    }
}
