//! What an association tells its owner ([`Event`]) and the errors of service requests.

use std::fmt;

use bytes::Bytes;

use crate::error::Layer;
use crate::oid::OwnedOid;

use super::State;

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
    /// The association is established (AARE accepted received, or accept sent).
    Associated(Box<Associated>),
    /// The peer refused the association (initiator).
    Refused(Refusal),
    /// This side refused an incoming association: no service matched, or the calling-address
    /// policy failed (responder). The diagnostic names the value received and those configured.
    Rejected(Rejection),
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
    Aborted(Abort),
    /// The peer gave tokens (GT with a Token Item): this side holds them now.
    TokensGiven(crate::session::TokenItem),
    /// The peer asks for tokens (PT with a Token Item) and may say why in its user data (RTSE:
    /// an RTTP with the priority of the turn request). Answer with
    /// [`Association::give_tokens`](super::Association::give_tokens), or not.
    TokensPlease {
        /// The tokens asked for.
        tokens: crate::session::TokenItem,
        /// The first presentation data value of the PT's user data.
        data: Option<Data>,
    },
    /// The peer started an activity (AS); the data up to its end (or interruption) belongs to
    /// it.
    ActivityStarted {
        /// Activity identifier (PI 41, ≤ 6 octets).
        id: Bytes,
    },
    /// The peer resumed an interrupted activity (AR).
    ActivityResumed(Box<super::Resumed>),
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
    /// The peer interrupted its activity (AI); the machine answered with AIA.
    ActivityInterrupted {
        /// AI reason code.
        reason: crate::session::ActivityReason,
    },
    /// The peer discarded its activity (AD); the machine answered with ADA.
    ActivityDiscarded {
        /// AD reason code.
        reason: crate::session::ActivityReason,
    },
    /// The peer confirmed this side's activity interrupt (AIA).
    ActivityInterruptConfirmed,
    /// The peer confirmed this side's activity discard (ADA).
    ActivityDiscardConfirmed,
    /// The machine is finished: send what [`poll_transmit`](super::Association::poll_transmit)
    /// still returns, then close the transport connection. Always the last event.
    Closed,
}

/// A presentation context as negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextOutcome {
    /// Presentation-context-identifier.
    pub id: i64,
    /// Abstract syntax (known to the initiator from its proposal, to the responder from the CP).
    pub abstract_syntax: Option<OwnedOid>,
    /// Result: 0 acceptance, 1 user-rejection, 2 provider-rejection.
    pub result: i64,
    /// Provider reason of a provider-rejection.
    pub provider_reason: Option<i64>,
}

impl ContextOutcome {
    /// Whether the context was accepted.
    pub fn accepted(&self) -> bool {
        self.result == 0
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
    /// Calling and called selectors as received (transport, session, presentation).
    pub calling_tsel: Option<Bytes>,
    /// Called T-selector.
    pub called_tsel: Option<Bytes>,
    /// Calling S-selector.
    pub calling_ssel: Option<Bytes>,
    /// Called S-selector.
    pub called_ssel: Option<Bytes>,
    /// Calling P-selector.
    pub calling_psel: Option<Bytes>,
    /// Called P-selector.
    pub called_psel: Option<Bytes>,
    /// Application context name of the AARQ.
    pub application_context: OwnedOid,
    /// Calling AP-title (form 2).
    pub calling_ap_title: Option<OwnedOid>,
    /// Calling AE-qualifier (form 2).
    pub calling_ae_qualifier: Option<i64>,
    /// The proposed contexts and what this side answers.
    pub contexts: Vec<ContextOutcome>,
    /// The single-ASN1-type value of the AARQ's first user-information EXTERNAL.
    pub user_information: Option<Bytes>,
    /// X.410-1984 mode: the octets of the CP's `[1]` SET (the RTORQ components of a
    /// `PConnect`). There is no AARQ then: the ACSE fields above are empty (the application
    /// context is a placeholder). Answer with
    /// [`AcceptResponse::with_x410_parameters`](super::AcceptResponse::with_x410_parameters).
    pub x410_parameters: Option<Bytes>,
}

/// An established association.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Associated {
    /// The contexts and their results.
    pub contexts: Vec<ContextOutcome>,
    /// The AARE's user information (initiator) or the one sent (responder). In X.410-1984
    /// mode: the octets of the CPA's `[1]` SET (received or sent).
    pub user_information: Option<Bytes>,
    /// The AARE's result (0).
    pub result: i64,
}

/// Why a peer refused an association, at the layer that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// `Cotp` (DR or ER), `Session` (RF), `Presentation` (CPR provider reason) or `Acse`
    /// (AARE rejected).
    pub layer: Layer,
    /// The code: DR reason, ER cause, RF reason code, CPR provider reason or AARE diagnostic.
    pub code: Option<i64>,
    /// The code in words, with the AARE result where there is one.
    pub reason: String,
    /// The AARE's user information, if any; for an X.410-1984-mode CPR the content of its SET
    /// (the RTORJ components of a `PRefuse`).
    pub user_information: Option<Bytes>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused by the peer's {} layer: {}",
            self.layer, self.reason
        )
    }
}

/// An association this side refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The layer that refused: `Cotp` (DR), `Session` (RF), `Presentation` (CPR) or `Acse`.
    pub layer: Layer,
    /// The reason code sent.
    pub code: i64,
    /// What did not match: the value received and those configured.
    pub diagnostic: String,
    /// The selector (or address) received that matched nothing, as octets.
    pub received: Option<Bytes>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.layer, self.diagnostic)
    }
}

/// One presentation data value of a P-DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// Presentation context (`None` for simply encoded data).
    pub context_id: Option<i64>,
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

/// An abort and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Abort {
    /// Who aborted.
    pub source: AbortSource,
    /// The layer the abort comes from (for a protocol error, the layer that found it).
    pub layer: Layer,
    /// What happened.
    pub reason: String,
    /// The single-ASN1-type value of the first user-information EXTERNAL of an ABRT from the
    /// peer's user (RTSE: an RTAB), if any.
    pub user_information: Option<Bytes>,
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "aborted by {} ({}): {}",
            self.source.name(),
            self.layer,
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
        state: State,
    },
    /// The request names a presentation context that was not accepted.
    #[error("association: presentation context {0} was not accepted")]
    UnknownContext(i64),
    /// The request breaks a token, synchronization or activity rule of X.225 (for example,
    /// data in half-duplex without the data token).
    #[error("association: {request} is not allowed: {reason}")]
    TokenRule {
        /// The request.
        request: &'static str,
        /// The rule.
        reason: &'static str,
    },
    /// The request needs a session functional unit that was not negotiated.
    #[error("association: {request} needs the {unit} functional unit, which was not negotiated")]
    NotNegotiated {
        /// The request.
        request: &'static str,
        /// The functional unit.
        unit: &'static str,
    },
    /// Encoding failed (a value too large for its field).
    #[error(transparent)]
    Encode(#[from] crate::error::EncodeError),
}
