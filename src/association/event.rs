//! What an association tells its owner ([`Event`]) and the errors of service requests. Every
//! reason is a typed value of the layer it comes from; `Display` renders it for people.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;

use crate::acse::{AbortDiagnostic, AssociateResult, AssociateSourceDiagnostic};
use crate::address::{PSel, SSel, TSel};
use crate::cotp::connection::{Disconnect, Wait as TransportWait};
use crate::error::{DecodeError, Layer};
use crate::oid::OwnedOid;
use crate::presentation::{
    AbortReason as PresentationAbortReason, ContextId, ContextProviderReason, ContextResultCode,
    ProviderReason,
};
use crate::session::connection::{self as sess, ExceptionReport, Resumed, Wait as SessionWait};
use crate::session::{ActivityReason, RefuseReason, TokenItem, TransportDisconnect};

use super::dispatch::Selector;

/// An indication or confirmation for the application, in the order things happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The transport connection is up: CC received (initiator) or sent (responder).
    TransportConnected {
        /// The TPDU size both sides use, in octets.
        tpdu_size: usize,
    },
    /// A peer asks for an association (responder): answer with
    /// [`Association::accept`](super::Association::accept) or
    /// [`Association::reject`](super::Association::reject).
    AssociateIndication(Box<AssociateIndication>),
    /// The association is established (accepted AARE or X.410 CPA received, or accept sent).
    Associated(Box<Associated>),
    /// The peer refused the association (initiator).
    Refused(Box<Refusal>),
    /// This side refused an incoming association: no service matched, the calling-address
    /// policy failed, the request was invalid, or the user rejected it (responder).
    Rejected(Box<Rejection>),
    /// P-DATA: one presentation data value.
    Data(Data),
    /// The peer asks for an orderly release: answer with
    /// [`Association::release_response`](super::Association::release_response).
    ReleaseIndication,
    /// The association was released in order (RLRE received, or sent after a release
    /// indication).
    Released {
        /// Both sides asked for release at the same time (release collision, X.227 §7.3.3.4).
        collision: bool,
    },
    /// The peer refused to release (NF with RLRE not-finished); the association goes on.
    ReleaseRefused,
    /// The association was aborted: by the peer, by this side's user, or by a provider because
    /// of a protocol error or a time-out.
    Aborted(Box<Abort>),
    /// The peer gave tokens (GT with a Token Item): this side holds them now.
    TokensGiven(TokenItem),
    /// The peer asks for tokens (PT with a Token Item) and may say why in its user data (RTSE:
    /// an RTTP with the priority of the turn request). Answer with
    /// [`Association::give_tokens`](super::Association::give_tokens), or not.
    TokensPlease {
        /// The tokens asked for.
        tokens: TokenItem,
        /// The first presentation data value of the PT's user data.
        data: Option<Data>,
    },
    /// The peer gave every token with S-CONTROL-GIVE (GTC); the machine answered GTA.
    ControlGiven,
    /// The peer acknowledged this side's S-CONTROL-GIVE (GTA).
    ControlGiveConfirmed,
    /// The peer started an activity (AS); the data up to its end (or interruption) belongs to
    /// it.
    ActivityStarted {
        /// Activity identifier (PI 41, ≤ 6 octets).
        id: Bytes,
    },
    /// The peer resumed an interrupted activity (AR).
    ActivityResumed(Box<Resumed>),
    /// The peer set a minor synchronization point (MIP): answer with
    /// [`Association::sync_minor_response`](super::Association::sync_minor_response) once the
    /// data before it is secured.
    SyncMinor {
        /// Its serial number.
        serial: u64,
    },
    /// The peer confirmed the minor synchronization points up to `serial` (MIA).
    SyncMinorConfirmed {
        /// The serial number confirmed.
        serial: u64,
    },
    /// The peer ended its activity (AE, a major synchronization point): answer with
    /// [`Association::activity_end_response`](super::Association::activity_end_response).
    ActivityEnd {
        /// Serial number of the AE.
        serial: u64,
    },
    /// The peer confirmed the end of this side's activity (AEA).
    ActivityEnded {
        /// Serial number of the AE confirmed.
        serial: u64,
    },
    /// The peer interrupted the activity (AI); the machine answered with AIA and every token
    /// is the peer's now.
    ActivityInterrupted {
        /// AI reason code.
        reason: ActivityReason,
    },
    /// The peer discarded the activity (AD); the machine answered with ADA and every token is
    /// the peer's now.
    ActivityDiscarded {
        /// AD reason code.
        reason: ActivityReason,
    },
    /// The peer confirmed this side's activity interrupt (AIA); every token is this side's.
    ActivityInterruptConfirmed,
    /// The peer confirmed this side's activity discard (ADA); every token is this side's.
    ActivityDiscardConfirmed,
    /// The peer reported an exception (ER from its provider, ED from its user).
    ExceptionReport(ExceptionReport),
    /// The machine is finished: send what [`poll_transmit`](super::Association::poll_transmit)
    /// still returns, then close the transport connection. Always the last event.
    Closed,
}

/// A presentation context as negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextOutcome {
    /// Presentation-context-identifier.
    pub id: ContextId,
    /// Abstract syntax (known to the initiator from its proposal, to the responder from the CP).
    pub abstract_syntax: Option<OwnedOid>,
    /// The result (acceptance, user-rejection, provider-rejection).
    pub result: ContextResultCode,
    /// Provider reason of a provider-rejection.
    pub provider_reason: Option<ContextProviderReason>,
}

impl ContextOutcome {
    /// Whether the context was accepted.
    pub fn accepted(&self) -> bool {
        self.result == ContextResultCode::ACCEPTANCE
    }
}

/// An incoming association request (A-ASSOCIATE indication) that matched a service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssociateIndication {
    /// Index of the matching service in the [`Dispatch`](super::Dispatch) table (`None` when
    /// the table is empty).
    pub service: Option<usize>,
    /// Its name.
    pub service_name: Option<String>,
    /// The peer's IP address, as given to [`Association::responder`](super::Association::responder).
    pub peer: Option<IpAddr>,
    /// Calling T-selector as received.
    pub calling_tsel: Option<Bytes>,
    /// Called T-selector.
    pub called_tsel: Option<Bytes>,
    /// Calling S-selector.
    pub calling_ssel: Option<Bytes>,
    /// Called S-selector.
    pub called_ssel: Option<Bytes>,
    /// Calling P-selector (normal mode).
    pub calling_psel: Option<Bytes>,
    /// Called P-selector (normal mode).
    pub called_psel: Option<Bytes>,
    /// Application context name of the AARQ; `None` in X.410-1984 mode, which has no ACSE.
    pub application_context: Option<OwnedOid>,
    /// Calling AP-title (form 2).
    pub calling_ap_title: Option<OwnedOid>,
    /// Calling AE-qualifier (form 2).
    pub calling_ae_qualifier: Option<i64>,
    /// The proposed contexts and what this side answers (empty in X.410-1984 mode).
    pub contexts: Vec<ContextOutcome>,
    /// The single-ASN1-type value of the AARQ's first user-information EXTERNAL.
    pub user_information: Option<Bytes>,
    /// The presentation context the user information came on (answer on the same one).
    pub user_information_context: Option<ContextId>,
    /// X.410-1984 mode: the octets of the CP's `[1]` SET (the RTORQ components of a
    /// `PConnect`). There is no AARQ then. Answer with
    /// [`AcceptResponse::with_x410_parameters`](super::AcceptResponse::with_x410_parameters).
    pub x410_parameters: Option<Bytes>,
    /// Every user-information EXTERNAL of the AARQ, in order (single-ASN1-type and
    /// octet-aligned ones; `user_information` is the first one's value).
    pub user_information_list: Vec<super::config::UserInformation>,
    /// The session functional units the CN proposed (PI 20; absent = the X.225 default
    /// `0x0349`).
    pub session_requirements_proposed: crate::session::SessionUserRequirements,
    /// The session functional units an accept will agree on (what this side answers in the AC).
    pub session_requirements: crate::session::SessionUserRequirements,
}

/// An established association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Associated {
    /// The contexts and their results (empty in X.410-1984 mode).
    pub contexts: Vec<ContextOutcome>,
    /// The AARE's user information (initiator) or the one sent (responder).
    pub user_information: Option<Bytes>,
    /// The AARE's result (accepted); `None` in X.410-1984 mode, which has no ACSE.
    pub result: Option<AssociateResult>,
    /// X.410-1984 mode: the octets of the CPA's `[1]` SET (received or sent).
    pub x410_parameters: Option<Bytes>,
}

/// Why the peer refused an association, at the layer that refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The transport connection was refused (DR with its reason, ER with its cause) or could
    /// not be made.
    Transport(Disconnect),
    /// The session layer refused (RF with this reason).
    Session(RefuseReason),
    /// The presentation layer refused (CPR, with its provider reason when it gives one).
    Presentation(Option<ProviderReason>),
    /// ACSE refused (AARE with this result and diagnostic).
    Acse {
        /// The AARE's result (rejected-permanent or rejected-transient).
        result: AssociateResult,
        /// Who refused and why.
        diagnostic: AssociateSourceDiagnostic,
    },
    /// An X.410-1984-mode refusal (a `PRefuse`: the RTORJ components are the user
    /// information).
    X410,
}

impl RefusalReason {
    /// The layer that refused.
    pub fn layer(&self) -> Layer {
        match self {
            RefusalReason::Transport(_) => Layer::Cotp,
            RefusalReason::Session(_) => Layer::Session,
            RefusalReason::Presentation(_) | RefusalReason::X410 => Layer::Presentation,
            RefusalReason::Acse { .. } => Layer::Acse,
        }
    }

    /// The code of the refusal in its layer's code space (DR reason, ER cause, RF reason, CPR
    /// provider reason, AARE diagnostic), for logs and the CLI.
    pub fn code(&self) -> Option<i64> {
        match *self {
            RefusalReason::Transport(Disconnect::Dr(r)) => Some(i64::from(r.0)),
            RefusalReason::Transport(Disconnect::Er(c)) => Some(i64::from(c.0)),
            RefusalReason::Transport(Disconnect::Refused(
                crate::cotp::class0::Refusal::Disconnect(r),
            )) => Some(i64::from(r.0)),
            RefusalReason::Transport(Disconnect::Refused(
                crate::cotp::class0::Refusal::Reject { cause, .. },
            )) => Some(i64::from(cause.0)),
            RefusalReason::Transport(_) | RefusalReason::X410 => None,
            RefusalReason::Session(r) => Some(i64::from(r.0)),
            RefusalReason::Presentation(p) => p.map(|p| p.0),
            RefusalReason::Acse { diagnostic, .. } => Some(match diagnostic {
                AssociateSourceDiagnostic::User(d) => d.0,
                AssociateSourceDiagnostic::Provider(d) => d.0,
            }),
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::Transport(d) => write!(f, "{d}"),
            RefusalReason::Session(r) => write!(f, "rf {:#04x}: {r}", r.0),
            RefusalReason::Presentation(Some(p)) => write!(f, "cpr provider reason {p}"),
            RefusalReason::Presentation(None) => f.write_str("cpr"),
            RefusalReason::Acse { result, diagnostic } => {
                write!(f, "aare result {result}, ")?;
                match diagnostic {
                    AssociateSourceDiagnostic::User(d) => {
                        write!(f, "diagnostic acse-service-user {d}")
                    }
                    AssociateSourceDiagnostic::Provider(d) => {
                        write!(f, "diagnostic acse-service-provider {d}")
                    }
                }
            }
            RefusalReason::X410 => f.write_str("x.410-1984 prefuse"),
        }
    }
}

/// The peer's refusal of an association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// Where and why.
    pub reason: RefusalReason,
    /// The AARE's user information, if any; for an X.410-1984-mode CPR the content of its SET
    /// (the RTORJ components of a `PRefuse`).
    pub user_information: Option<Bytes>,
}

impl Refusal {
    /// The layer that refused.
    pub fn layer(&self) -> Layer {
        self.reason.layer()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused by the peer's {} layer: {}",
            self.layer(),
            self.reason
        )
    }
}

/// What a responder checks an incoming association against, one criterion per selector or
/// address of its [`Service`](super::Service)s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Criterion {
    /// Called T-selector (CR).
    CalledTsel,
    /// The peer's IP address.
    CallingAddress,
    /// Calling T-selector (CR).
    CallingTsel,
    /// Called S-selector (CN).
    CalledSsel,
    /// Calling S-selector (CN).
    CallingSsel,
    /// Called P-selector (CP).
    CalledPsel,
    /// Calling P-selector (CP).
    CallingPsel,
    /// Called AP-title (AARQ).
    CalledApTitle,
    /// Called AE-qualifier (AARQ).
    CalledAeQualifier,
}

impl Criterion {
    /// A short name (`called t-selector`).
    pub const fn name(self) -> &'static str {
        match self {
            Criterion::CalledTsel => "called t-selector",
            Criterion::CallingAddress => "calling address",
            Criterion::CallingTsel => "calling t-selector",
            Criterion::CalledSsel => "called s-selector",
            Criterion::CallingSsel => "calling s-selector",
            Criterion::CalledPsel => "called p-selector",
            Criterion::CallingPsel => "calling p-selector",
            Criterion::CalledApTitle => "called ap-title",
            Criterion::CalledAeQualifier => "called ae-qualifier",
        }
    }

    /// Whether the criterion names what the peer called (a mismatch "matches no service")
    /// rather than who calls (a mismatch "is not allowed").
    pub const fn is_called(self) -> bool {
        matches!(
            self,
            Criterion::CalledTsel
                | Criterion::CalledSsel
                | Criterion::CalledPsel
                | Criterion::CalledApTitle
                | Criterion::CalledAeQualifier
        )
    }
}

/// A value received from the peer, as a criterion compares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Received {
    /// A selector (`None`: absent).
    Selector(Option<Bytes>),
    /// The peer's address (`None`: unknown).
    Address(Option<IpAddr>),
    /// An AP-title in form 2 (`None`: absent or another form).
    ApTitle(Option<OwnedOid>),
    /// An AE-qualifier in form 2.
    AeQualifier(Option<i64>),
}

/// What one service had configured for a criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Configured {
    /// A T-selector rule.
    Tsel(Selector<TSel>),
    /// An S-selector rule.
    Ssel(Selector<SSel>),
    /// A P-selector rule.
    Psel(Selector<PSel>),
    /// The allowed peer addresses (empty: any).
    Peers(Vec<IpAddr>),
    /// The AP-title (`None`: any).
    ApTitle(Option<OwnedOid>),
    /// The AE-qualifier (`None`: any).
    AeQualifier(Option<i64>),
}

impl fmt::Display for Configured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Configured::Tsel(s) => write!(f, "{s}"),
            Configured::Ssel(s) => write!(f, "{s}"),
            Configured::Psel(s) => write!(f, "{s}"),
            Configured::Peers(p) if p.is_empty() => f.write_str("any"),
            Configured::Peers(p) => {
                for (i, a) in p.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    write!(f, "{a}")?;
                }
                Ok(())
            }
            Configured::ApTitle(Some(t)) => write!(f, "{t}"),
            Configured::AeQualifier(Some(q)) => write!(f, "{q}"),
            Configured::ApTitle(None) | Configured::AeQualifier(None) => f.write_str("any"),
        }
    }
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Received::Selector(s) => f.write_str(&super::dispatch::show_selector(s.as_deref())),
            Received::Address(Some(a)) => write!(f, "{a}"),
            Received::Address(None) => f.write_str("unknown"),
            Received::ApTitle(Some(t)) => write!(f, "{t}"),
            Received::AeQualifier(Some(q)) => write!(f, "{q}"),
            Received::ApTitle(None) | Received::AeQualifier(None) => f.write_str("none"),
        }
    }
}

/// A value that matched no service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// What was compared.
    pub criterion: Criterion,
    /// The value received.
    pub received: Received,
    /// What each service that was still a candidate had configured (service name, rule).
    pub configured: Vec<(String, Configured)>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.criterion.is_called() {
            "matches no service"
        } else {
            "is not allowed"
        };
        write!(
            f,
            "{} {} {verdict} (configured: ",
            self.criterion.name(),
            self.received
        )?;
        for (i, (name, c)) in self.configured.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={c}")?;
        }
        f.write_str(")")
    }
}

/// Why this side refused an incoming association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionCause {
    /// A selector, address, AP-title or AE-qualifier matched no configured service.
    Mismatch(Mismatch),
    /// The request was not acceptable at this layer (an undecodable CP, no ACSE context, a
    /// CN offering no version this side speaks, a CR this class-0 responder cannot accept …):
    /// the error names the layer, offset and what was wrong.
    Invalid(DecodeError),
}

impl fmt::Display for RejectionCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectionCause::Mismatch(m) => write!(f, "{m}"),
            RejectionCause::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// An association this side refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The refusal sent, at the layer that refused (DR reason, RF reason, CPR provider reason,
    /// AARE result and diagnostic).
    pub sent: RefusalReason,
    /// Why.
    pub cause: RejectionCause,
}

impl Rejection {
    /// The layer that refused.
    pub fn layer(&self) -> Layer {
        self.sent.layer()
    }

    /// The value received that matched nothing, when a selector was the cause.
    pub fn received_selector(&self) -> Option<&[u8]> {
        match &self.cause {
            RejectionCause::Mismatch(Mismatch {
                received: Received::Selector(Some(s)),
                ..
            }) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.layer(), self.cause, self.sent)
    }
}

/// One presentation data value of a P-DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// Presentation context (`None` for simply encoded data and X.410-1984 mode).
    pub context_id: Option<ContextId>,
    /// The value: for single-ASN1-type the whole BER element, for octet-aligned the octets.
    pub value: Bytes,
}

/// Who ended an association with an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbortSource {
    /// The peer's user (ABRT source acse-service-user, or an ARU).
    PeerUser,
    /// The peer's provider (ABRT source provider, ARP, a session AB without user data, DR, ER,
    /// or the transport connection closing).
    PeerProvider,
    /// This side's user (`abort()`).
    LocalUser,
    /// This side's provider: the peer broke the protocol, or a time-out expired.
    LocalProvider,
}

impl AbortSource {
    /// A short name for logs and the `osi` JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            AbortSource::PeerUser => "peer-user",
            AbortSource::PeerProvider => "peer-provider",
            AbortSource::LocalUser => "local-user",
            AbortSource::LocalProvider => "local-provider",
        }
    }
}

/// A wait of an association that can run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// A transport wait (CR, CC, the rest of a frame or TSDU).
    Transport(TransportWait),
    /// A session wait (CN, AC, DN, the user's answer …).
    Session(SessionWait),
    /// A timer of whoever drives the association (the tokio adapter's connect, idle and io
    /// timers), which aborted it with [`Association::abort_on_timeout`](super::Association::abort_on_timeout).
    Driver(TimerKind),
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timeout::Transport(w) => write!(f, "transport {} time-out", w.name()),
            Timeout::Session(w) => write!(f, "session {} time-out", w.name()),
            Timeout::Driver(k) => write!(f, "{} time-out", k.name()),
        }
    }
}

/// A timer of the driver of a connection (the tokio adapter's
/// [`Timers`](crate::tokio::Timers) when the feature is on), as opposed to the protocol
/// machines' own waits.
///
/// X.224 class 0, X.225 and X.227 define no code for such a local time-out: the abort that
/// follows is a provider abort on the wire (an AB whose ARU carries an ABRT with
/// abort-source acse-service-provider, X.227 §7.3.3.4), and the time-out is only known locally,
/// in the [`Abort`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimerKind {
    /// From the start of the connection until the association is established.
    Connect,
    /// No octet either way for this long.
    Idle,
    /// A started frame or TSDU not completed, or output the peer does not read.
    Io,
}

impl TimerKind {
    /// `connect`, `idle`, `io` (the `which` of `osi listen`'s `timeout` event).
    pub const fn name(self) -> &'static str {
        match self {
            TimerKind::Connect => "connect",
            TimerKind::Idle => "idle",
            TimerKind::Io => "io",
        }
    }
}

/// Why an association was aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// A PDU that does not decode or is not valid in the state; the error names the layer
    /// that found it, the offset and what was wrong.
    ProtocolError(DecodeError),
    /// A wait ran out.
    Timeout(Timeout),
    /// The transport connection ended (DR, ER, TCP closed …).
    Transport(Disconnect),
    /// A session AB without user data from the peer's provider (its Transport Disconnect
    /// parameter).
    Session(TransportDisconnect),
    /// A presentation provider abort (ARP) with its reason.
    Presentation(Option<PresentationAbortReason>),
    /// An ABRT from the peer's ACSE provider with its diagnostic.
    AcseProvider(Option<AbortDiagnostic>),
    /// A user abort (ABRT from the ACSE user, an ARU, an X.410 ARU; this side's `abort()`).
    User,
    /// This side's driver aborted because holding what the peer sent (or did not read) would
    /// exceed its memory budget (the tokio adapter's `MemoryBudget`;
    /// [`Association::abort_over_budget`](super::Association::abort_over_budget)).
    MemoryBudget,
}

impl AbortReason {
    /// The layer the abort comes from.
    pub fn layer(&self) -> Layer {
        match self {
            AbortReason::ProtocolError(e) => e.layer(),
            AbortReason::Timeout(Timeout::Transport(_)) | AbortReason::Transport(_) => Layer::Cotp,
            AbortReason::Timeout(Timeout::Session(_)) | AbortReason::Session(_) => Layer::Session,
            AbortReason::Presentation(_) => Layer::Presentation,
            AbortReason::Timeout(Timeout::Driver(_))
            | AbortReason::AcseProvider(_)
            | AbortReason::MemoryBudget
            | AbortReason::User => Layer::Acse,
        }
    }
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::ProtocolError(e) => write!(f, "{e}"),
            AbortReason::Timeout(t) => write!(f, "{t}"),
            AbortReason::Transport(d) => write!(f, "{d}"),
            AbortReason::Session(td) => write!(f, "session ab, transport disconnect {:#04x}", td.0),
            AbortReason::Presentation(Some(r)) => write!(f, "arp: abort reason {r}"),
            AbortReason::Presentation(None) => f.write_str("arp: no reason"),
            AbortReason::AcseProvider(Some(d)) => {
                write!(f, "abrt from the acse provider, diagnostic {d}")
            }
            AbortReason::AcseProvider(None) => f.write_str("abrt from the acse provider"),
            AbortReason::User => f.write_str("a-abort by the user"),
            AbortReason::MemoryBudget => f.write_str("memory budget exceeded"),
        }
    }
}

/// An abort and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Abort {
    /// Who aborted.
    pub source: AbortSource,
    /// Why.
    pub reason: AbortReason,
    /// The single-ASN1-type value of the first user-information EXTERNAL of an ABRT from the
    /// peer's user (RTSE: an RTAB), or the components of an X.410 ARU, if any.
    pub user_information: Option<Bytes>,
}

impl Abort {
    /// The layer the abort comes from.
    pub fn layer(&self) -> Layer {
        self.reason.layer()
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "aborted by {} ({}): {}",
            self.source.name(),
            self.layer(),
            self.reason
        )
    }
}

/// A service request that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is not valid in the association's current state.
    #[error("association: {request} is not allowed in state {state:?}")]
    WrongState {
        /// The request.
        request: &'static str,
        /// The state.
        state: super::State,
    },
    /// The request names a presentation context that was not accepted.
    #[error("association: presentation context {0} was not accepted")]
    UnknownContext(ContextId),
    /// An X.410-1984-mode accept needs the `PAccept` parameters (the RTOAC components): RTSE
    /// knows them, the association does not invent them.
    #[error("association: an x.410-1984-mode accept needs its paccept parameters")]
    MissingX410Parameters,
    /// The `PAccept` parameters given to an X.410-1984-mode accept are not valid RTOAC
    /// components (they must carry the mandatory connectionDataAC `[2]`).
    #[error("association: invalid x.410-1984 paccept parameters: {0}")]
    InvalidX410Parameters(DecodeError),
    /// The accept's user data (CPA with AARE) is longer than
    /// [`Config::accept_user_data_limit`](super::Config::accept_user_data_limit).
    #[error("association: the accept's user data ({len} octets) exceeds the limit of {limit}")]
    AcceptTooLarge {
        /// Octets the AC would carry.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A-ASSOCIATE request: a proposed presentation context identifier is even or proposed
    /// twice (the initiator proposes odd identifiers, each once: X.226 §6.2.2.7).
    #[error("association: presentation context {id} cannot be proposed: {reason}")]
    InvalidContextProposal {
        /// The identifier.
        id: ContextId,
        /// Why.
        reason: &'static str,
    },
    /// A rejection was asked with an associate-result that is not a rejection
    /// (X.227 §7.1.4.3: an AARE that refuses carries rejected-permanent or rejected-transient).
    #[error("association: reject with associate-result {0:?}, which is not a rejection")]
    NotARejection(crate::acse::AssociateResult),
    /// The session layer refused the request (a token, synchronization or activity rule).
    #[error(transparent)]
    Session(#[from] crate::session::connection::ServiceError),
    /// The transport layer refused the request.
    #[error(transparent)]
    Transport(#[from] crate::cotp::connection::ServiceError),
    /// Encoding failed (a value too large for its field).
    #[error(transparent)]
    Encode(#[from] crate::error::EncodeError),
}

impl AssociateIndication {
    pub(crate) fn new(
        peer: Option<IpAddr>,
        calling_tsel: Option<Bytes>,
        called_tsel: Option<Bytes>,
    ) -> Self {
        AssociateIndication {
            service: None,
            service_name: None,
            peer,
            calling_tsel,
            called_tsel,
            calling_ssel: None,
            called_ssel: None,
            calling_psel: None,
            called_psel: None,
            application_context: None,
            calling_ap_title: None,
            calling_ae_qualifier: None,
            contexts: Vec::new(),
            user_information: None,
            user_information_context: None,
            x410_parameters: None,
            user_information_list: Vec::new(),
            session_requirements_proposed: crate::session::SessionUserRequirements::DEFAULT,
            session_requirements: crate::session::SessionUserRequirements::DEFAULT,
        }
    }
}

/// The abort a transport disconnect means for the association.
pub(crate) fn transport_abort(d: Disconnect) -> Abort {
    let (source, reason) = match d {
        Disconnect::ProtocolError(e) => (AbortSource::LocalProvider, AbortReason::ProtocolError(e)),
        Disconnect::Timeout(w) => (
            AbortSource::LocalProvider,
            AbortReason::Timeout(Timeout::Transport(w)),
        ),
        Disconnect::Local | Disconnect::Refused(_) => {
            (AbortSource::LocalProvider, AbortReason::Transport(d))
        }
        _ => (AbortSource::PeerProvider, AbortReason::Transport(d)),
    };
    Abort {
        source,
        reason,
        user_information: None,
    }
}

/// The session events the association passes through unchanged.
pub(crate) fn passed_through(event: sess::Event) -> Option<Event> {
    Some(match event {
        sess::Event::TokensGiven(t) => Event::TokensGiven(t),
        sess::Event::ControlGiven => Event::ControlGiven,
        sess::Event::ControlGiveConfirmed => Event::ControlGiveConfirmed,
        sess::Event::ActivityStarted { id } => Event::ActivityStarted { id },
        sess::Event::ActivityResumed(r) => Event::ActivityResumed(r),
        sess::Event::SyncMinor { serial } => Event::SyncMinor { serial },
        sess::Event::SyncMinorConfirmed { serial } => Event::SyncMinorConfirmed { serial },
        sess::Event::ActivityEnd { serial } => Event::ActivityEnd { serial },
        sess::Event::ActivityEnded { serial } => Event::ActivityEnded { serial },
        sess::Event::ActivityInterrupted { reason } => Event::ActivityInterrupted { reason },
        sess::Event::ActivityDiscarded { reason } => Event::ActivityDiscarded { reason },
        sess::Event::ActivityInterruptConfirmed => Event::ActivityInterruptConfirmed,
        sess::Event::ActivityDiscardConfirmed => Event::ActivityDiscardConfirmed,
        sess::Event::ExceptionReport(r) => Event::ExceptionReport(r),
        _ => return None,
    })
}

/// What the end of the transport connection before the session connection began tells the
/// application: a refusal (DR or ER answering the CR), this side's rejection of a CR, or an
/// abort (a time-out, a protocol error, TCP closed while waiting for the CC).
pub(crate) fn before_session(role: super::Role, d: Disconnect) -> Option<Event> {
    use super::Role;
    use crate::cotp::class0;
    use crate::error::DecodeErrorKind;
    let event = match (role, d) {
        (Role::Initiator, Disconnect::Dr(_) | Disconnect::Er(_)) => {
            Event::Refused(Box::new(Refusal {
                reason: RefusalReason::Transport(d),
                user_information: None,
            }))
        }
        (Role::Responder, Disconnect::Refused(r)) => {
            let (offset, what, value) = match r {
                class0::Refusal::Reject { offset, cause } => {
                    (offset, "cr parameter value", u64::from(cause.0))
                }
                class0::Refusal::Disconnect(reason) => {
                    (6, "cr class proposal", u64::from(reason.0))
                }
            };
            Event::Rejected(Box::new(Rejection {
                sent: RefusalReason::Transport(d),
                cause: RejectionCause::Invalid(DecodeError::new(
                    Layer::Cotp,
                    offset.saturating_add(crate::tpkt::HEADER_LEN),
                    DecodeErrorKind::InvalidValue { what, value },
                )),
            }))
        }
        (Role::Responder, Disconnect::TransportClosed | Disconnect::Local) => return None,
        _ => Event::Aborted(Box::new(transport_abort(d))),
    };
    Some(event)
}

/// The abort a session abort of this side (or the transport under it) means for the
/// association; the peer's AB is read by the association control.
pub(crate) fn session_abort(reason: sess::AbortReason) -> Abort {
    let (source, reason) = match reason {
        sess::AbortReason::Transport(d) => return transport_abort(d),
        sess::AbortReason::ProtocolError(e) => {
            (AbortSource::LocalProvider, AbortReason::ProtocolError(e))
        }
        sess::AbortReason::Timeout(w) => (
            AbortSource::LocalProvider,
            AbortReason::Timeout(Timeout::Session(w)),
        ),
        sess::AbortReason::Peer(td) => (AbortSource::PeerProvider, AbortReason::Session(td)),
        sess::AbortReason::User => (AbortSource::LocalUser, AbortReason::User),
    };
    Abort {
        source,
        reason,
        user_information: None,
    }
}
