//! What an association needs to know before it starts: timers and sizes shared by both roles
//! ([`Config`]), what an initiator asks for ([`AssociateRequest`]), and what a responder
//! answers ([`AcceptResponse`]).

use std::time::Duration;

use bytes::Bytes;

use crate::address::{PSel, PresentationAddress, SSel, TSel};
use crate::limits::Limits;
use crate::oid::{Oid, OwnedOid};
use crate::session::{SessionUserRequirements, TokenSettingItem};

/// Settings shared by initiators and responders.
///
/// The names an MTA administrator knows (Exchange's X.400 connector, `docs/protocol-notes.md` §6)
/// map as follows; "open retries" and "open interval" belong to the dialer
/// ([`crate::tokio::Dialer`] with feature `tokio`), not to one association:
///
/// | here | Exchange | default |
/// |---|---|---|
/// | [`Config::response_timeout`] | transfer/response time-outs | 30 s |
/// | [`Config::idle_lifetime`] | association lifetime (idle) | none (keep open) |
/// | [`Config::disconnect_wait`] | disconnect (wait after release) | 5 s |
/// | [`Config::tpdu_size`] | TPDU size (transport stack) | 8192 |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Bounds on what a peer can make this side hold ([`Limits::DEFAULT`]: one P-DATA, one
    /// TSDU, up to 1 MiB).
    pub limits: Limits,
    /// Largest TPDU this side proposes (initiator) or accepts (responder), in octets: a power
    /// of two from 128 to 8192 (X.224's codes; other values are rounded down). Default 8192.
    pub tpdu_size: usize,
    /// This side's transport reference (SRC-REF of the CR or CC). Default 1. The machine draws
    /// no random numbers; an adapter may count connections here.
    pub local_reference: u16,
    /// How long to wait for each answer of the peer: CC after CR, AC/RF after CN, DN/NF after
    /// FN, AIA/ADA/GTA, and the CR and CN a responder waits for. Default 30 s.
    pub response_timeout: Duration,
    /// How long the application may take to answer an associate or release indication before
    /// the association is aborted. Default 30 s; `None` waits forever.
    pub user_timeout: Option<Duration>,
    /// How long a TPKT frame or a TSDU may stay incomplete, from its first octet (trickled
    /// octets do not restart it). Default 30 s; `None` waits forever.
    pub receive_timeout: Option<Duration>,
    /// X.225's TIM: after sending DN, AB or RF, how long to wait for the peer to close the
    /// transport connection before closing it here. Default 5 s.
    pub disconnect_wait: Duration,
    /// Release the association after it carried no data for this long (an MTA's "association
    /// lifetime"). Default `None`: never. An orderly release is the application's policy (an
    /// MMS client may poll once an hour; X.228 lets only the RTS association-initiator
    /// release); a listener facing the network is protected by the tokio adapter's idle timer
    /// instead (`tokio::ListenerConfig::idle_timeout`, on by default), which aborts.
    pub idle_lifetime: Option<Duration>,
    /// Treat parameters class 0 does not use in a CR/CC as protocol errors (X.224 allows either).
    /// Default false: interoperate.
    pub strict: bool,
    /// Largest session user data (the CPA with its AARE) an accept may carry in the AC. X.225
    /// allows 512 octets in version 1 and a whole SPDU (65 539) in version 2, but ISODE's
    /// session decoder rejects more than 512 octets in an AC even in version 2, although its
    /// encoder writes them (`testdata/captures/isode`, `iso-psap-echo`). With `Some(n)` an
    /// accept whose user data would exceed `n` octets fails with
    /// [`ServiceError::AcceptTooLarge`](super::ServiceError::AcceptTooLarge) before anything is sent, so that the application can
    /// answer with less (or reject). Default `None` (X.225); the X.400 connector profile sets
    /// 512 ([`ConnectorProfile::config`](crate::rts::ConnectorProfile::config)).
    pub accept_user_data_limit: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::DEFAULT,
            tpdu_size: 8192,
            local_reference: 1,
            response_timeout: Duration::from_secs(30),
            user_timeout: Some(Duration::from_secs(30)),
            receive_timeout: Some(Duration::from_secs(30)),
            disconnect_wait: Duration::from_secs(5),
            idle_lifetime: None,
            strict: false,
            accept_user_data_limit: None,
        }
    }
}

impl Config {
    /// The settings of the transport connection these give.
    pub fn transport(&self) -> crate::cotp::connection::Config {
        crate::cotp::connection::Config::default()
            .with_tpdu_size(self.tpdu_size)
            .with_limits(self.limits)
            .with_timeouts(self.response_timeout, self.receive_timeout)
            .with_local_reference(self.local_reference)
            .with_strict(self.strict)
    }

    /// The settings of the session connection these give.
    pub fn session(&self) -> crate::session::connection::Config {
        crate::session::connection::Config {
            limits: self.limits,
            response_timeout: self.response_timeout,
            disconnect_wait: self.disconnect_wait,
            user_timeout: self.user_timeout,
        }
    }

    /// The same configuration with other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The same configuration with another maximum TPDU size.
    #[must_use]
    pub fn with_tpdu_size(mut self, octets: usize) -> Self {
        self.tpdu_size = octets;
        self
    }

    /// The same configuration with another response time-out.
    #[must_use]
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The same configuration with other time-outs for the application's answers and for an
    /// incomplete frame or TSDU.
    #[must_use]
    pub fn with_user_and_receive_timeouts(
        mut self,
        user: Option<Duration>,
        receive: Option<Duration>,
    ) -> Self {
        self.user_timeout = user;
        self.receive_timeout = receive;
        self
    }

    /// The same configuration with another disconnect wait (TIM).
    #[must_use]
    pub fn with_disconnect_wait(mut self, wait: Duration) -> Self {
        self.disconnect_wait = wait;
        self
    }

    /// The same configuration with a limit on the user data of an accept (see
    /// [`Config::accept_user_data_limit`]).
    #[must_use]
    pub fn with_accept_user_data_limit(mut self, limit: Option<usize>) -> Self {
        self.accept_user_data_limit = limit;
        self
    }

    /// The same configuration with an idle lifetime.
    #[must_use]
    pub fn with_idle_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.idle_lifetime = lifetime;
        self
    }

    /// The same configuration with another transport reference.
    #[must_use]
    pub fn with_local_reference(mut self, reference: u16) -> Self {
        self.local_reference = reference;
        self
    }
}

/// A presentation context: identifier, abstract syntax and transfer syntax (X.226 §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresentationContext {
    /// Presentation-context-identifier: odd for contexts the initiator proposes.
    pub id: i64,
    /// Abstract syntax (for MMS 1.0.9506.2.1).
    pub abstract_syntax: OwnedOid,
    /// Transfer syntax (BER, 2.1.1, unless stated).
    pub transfer_syntax: OwnedOid,
}

impl PresentationContext {
    /// A context with BER as transfer syntax.
    pub fn ber(id: i64, abstract_syntax: Oid<'_>) -> Self {
        PresentationContext {
            id,
            abstract_syntax: abstract_syntax.to_owned_oid(),
            transfer_syntax: Oid::BER.to_owned_oid(),
        }
    }
}

/// AP-title (form 2) and AE-qualifier (form 2) of one side of an association.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ApAddress {
    /// AP-title as an object identifier.
    pub ap_title: Option<OwnedOid>,
    /// AE-qualifier as an integer.
    pub ae_qualifier: Option<i64>,
}

/// What an initiator asks for: selectors at every layer, contexts, ACSE fields.
///
/// ```
/// use osi_stack::association::AssociateRequest;
/// use osi_stack::address::{PSel, SSel, TSel};
/// let request = AssociateRequest::mms()
///     .with_called_selectors(
///         Some(TSel::new(&[0, 1])?),
///         Some(SSel::new(&[0, 1])?),
///         Some(PSel::new(&[0, 0, 0, 1])?),
///     );
/// assert_eq!(request.contexts.len(), 1);
/// # Ok::<(), osi_stack::address::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssociateRequest {
    /// Calling transport selector (CR parameter 0xC1).
    pub calling_tsel: Option<TSel>,
    /// Called transport selector (CR parameter 0xC2).
    pub called_tsel: Option<TSel>,
    /// Calling session selector (CN PI 51).
    pub calling_ssel: Option<SSel>,
    /// Called session selector (CN PI 52).
    pub called_ssel: Option<SSel>,
    /// Calling presentation selector (CP `[1]`).
    pub calling_psel: Option<PSel>,
    /// Called presentation selector (CP `[2]`).
    pub called_psel: Option<PSel>,
    /// The ACSE application context name.
    pub application_context: OwnedOid,
    /// Presentation context identifier of ACSE (abstract syntax 2.2.1.0.1). Default 1.
    pub acse_context_id: i64,
    /// The application's presentation contexts, proposed after the ACSE one.
    pub contexts: Vec<PresentationContext>,
    /// Calling AP-title and AE-qualifier.
    pub calling: ApAddress,
    /// Called AP-title and AE-qualifier.
    pub called: ApAddress,
    /// AARQ user-information: one BER value, sent as an EXTERNAL in single-ASN1-type form on
    /// [`Self::user_information_context`] (an MMS initiate-request, an RTORQ …).
    pub user_information: Option<Bytes>,
    /// The presentation context the AARQ user-information travels on; `None` (default): the
    /// first of [`Self::contexts`]. RTSE sets its own context here (the RTORQ belongs to the
    /// RTSE abstract syntax, wherever the peer lists it).
    pub user_information_context: Option<i64>,
    /// Session functional units proposed in the CN (PI 20). Default
    /// [`SessionUserRequirements::DUPLEX`] (what MMS uses). With
    /// [`SessionUserRequirements::HALF_DUPLEX`] the data token exists; with
    /// [`MINOR_SYNCHRONIZE`](SessionUserRequirements::MINOR_SYNCHRONIZE) the minor
    /// synchronize token; with [`ACTIVITY_MANAGEMENT`](SessionUserRequirements::ACTIVITY_MANAGEMENT)
    /// the major/activity token (see the [association docs](super#session-functional-units)).
    pub session_requirements: SessionUserRequirements,
    /// Initial token positions proposed in the CN (PI 26 in PGI 5). `None` (absent): every
    /// available token starts on the initiator's side (X.225 §8.3).
    pub token_setting: Option<TokenSettingItem>,
    /// X.410-1984 mode (X.226 §8.2, `docs/protocol-notes.md` §5): when set, the CP is an X.410-mode
    /// CP-type whose `[1]` SET holds these octets (the RTORQ components of a `PConnect`), and
    /// there is no ACSE and no presentation context: the AARQ fields, contexts and
    /// `user_information` are not sent, data travels as raw session user data. The CN then
    /// proposes session versions 1 and 2. Default `None`: normal mode.
    pub x410_parameters: Option<Bytes>,
}

impl AssociateRequest {
    /// A request with the given application context, the ACSE context 1 and nothing else.
    pub fn new(application_context: OwnedOid) -> Self {
        AssociateRequest {
            calling_tsel: None,
            called_tsel: None,
            calling_ssel: None,
            called_ssel: None,
            calling_psel: None,
            called_psel: None,
            application_context,
            acse_context_id: 1,
            contexts: Vec::new(),
            calling: ApAddress::default(),
            called: ApAddress::default(),
            user_information: None,
            user_information_context: None,
            session_requirements: SessionUserRequirements::DUPLEX,
            token_setting: None,
            x410_parameters: None,
        }
    }

    /// An IEC 61850 / MMS request: application context 1.0.9506.2.3 and context 3 for the MMS
    /// abstract syntax 1.0.9506.2.1, as libiec61850 proposes.
    pub fn mms() -> Self {
        let mut r = Self::new(Oid::MMS_APPLICATION_CONTEXT.to_owned_oid());
        r.contexts
            .push(PresentationContext::ber(3, Oid::MMS_ABSTRACT_SYNTAX));
        r
    }

    /// The same request with these called selectors.
    #[must_use]
    pub fn with_called_selectors(
        mut self,
        tsel: Option<TSel>,
        ssel: Option<SSel>,
        psel: Option<PSel>,
    ) -> Self {
        self.called_tsel = tsel;
        self.called_ssel = ssel;
        self.called_psel = psel;
        self
    }

    /// The same request with the called selectors of an RFC 1278 presentation address
    /// (`'00000001'H/'0001'H/'0001'H/Internet=192.0.2.1+102`); its network addresses are for
    /// the dialer.
    ///
    /// ```
    /// use osi_stack::association::AssociateRequest;
    /// let addr = "\"mts\"/\"mts\"/\"mts\"/Internet=192.0.2.1".parse().unwrap();
    /// let request = AssociateRequest::mms().with_called_address(&addr);
    /// assert_eq!(request.called_tsel.unwrap().as_bytes(), b"mts");
    /// ```
    #[must_use]
    pub fn with_called_address(self, address: &PresentationAddress) -> Self {
        self.with_called_selectors(address.tsel, address.ssel, address.psel)
    }

    /// The same request with these calling selectors.
    #[must_use]
    pub fn with_calling_selectors(
        mut self,
        tsel: Option<TSel>,
        ssel: Option<SSel>,
        psel: Option<PSel>,
    ) -> Self {
        self.calling_tsel = tsel;
        self.calling_ssel = ssel;
        self.calling_psel = psel;
        self
    }

    /// The same request with AARQ user-information.
    #[must_use]
    pub fn with_user_information(mut self, value: impl Into<Bytes>) -> Self {
        self.user_information = Some(value.into());
        self
    }

    /// The same request with these session functional units and initial token positions
    /// (RTSE asks for half-duplex, minor synchronize, activity management and exceptions,
    /// `0x0249`; `docs/protocol-notes.md` §4).
    #[must_use]
    pub fn with_session(
        mut self,
        requirements: SessionUserRequirements,
        token_setting: Option<TokenSettingItem>,
    ) -> Self {
        self.session_requirements = requirements;
        self.token_setting = token_setting;
        self
    }

    /// The same request in X.410-1984 mode with these `PConnect` parameters (see
    /// [`AssociateRequest::x410_parameters`]).
    #[must_use]
    pub fn with_x410_parameters(mut self, parameters: impl Into<Bytes>) -> Self {
        self.x410_parameters = Some(parameters.into());
        self
    }

    /// The same request with another context list (besides ACSE).
    #[must_use]
    pub fn with_contexts(mut self, contexts: Vec<PresentationContext>) -> Self {
        self.contexts = contexts;
        self
    }
}

/// How a responder answers an associate indication it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AcceptResponse {
    /// AARE user-information: one BER value, sent as an EXTERNAL in single-ASN1-type form on
    /// the first accepted application context (an MMS initiate-response …).
    pub user_information: Option<Bytes>,
    /// Responding AP-title and AE-qualifier.
    pub responding: ApAddress,
    /// X.410-1984 mode only: the octets of the CPA's `[1]` SET (the RTOAC components of a
    /// `PAccept`), checked to decode as such. `None`: the default `a2 04 a0 02 05 00`
    /// (connectionDataAC `open` holding NULL, the unauthenticated X.411 MTA-bind result;
    /// checkpointSize 0, windowSize 3), so an X.410-mode accept always carries the mandatory
    /// connectionDataAC.
    pub x410_parameters: Option<Bytes>,
    /// AARE user-information as several EXTERNALs, in order (X.227 `Association-information`
    /// is a SEQUENCE OF EXTERNAL). When not empty it replaces `user_information`. Each goes on
    /// its own context when that context was accepted (else on the one `user_information`
    /// would use), with its direct-reference when given. See [`AcceptResponse::echoing`].
    pub user_information_list: Vec<UserInformation>,
}

/// One user-information EXTERNAL of an AARQ or AARE (X.227 `Association-information`), in
/// single-ASN1-type or octet-aligned form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserInformation {
    /// indirect-reference: the presentation context (`None`: absent).
    pub context: Option<i64>,
    /// direct-reference: the transfer syntax (ISODE names BER, 2.1.1, in every EXTERNAL).
    pub direct_reference: Option<crate::oid::OwnedOid>,
    /// The value: one BER value (single-ASN1-type), or the octets (octet-aligned).
    pub value: Bytes,
    /// Octet-aligned (`true`) rather than single-ASN1-type.
    pub octet_aligned: bool,
}

impl UserInformation {
    /// A single-ASN1-type EXTERNAL holding `value` on `context`.
    pub fn new(context: Option<i64>, value: impl Into<Bytes>) -> Self {
        UserInformation {
            context,
            direct_reference: None,
            value: value.into(),
            octet_aligned: false,
        }
    }
}

impl AcceptResponse {
    /// An answer carrying `user_information`.
    pub fn with_user_information(value: impl Into<Bytes>) -> Self {
        AcceptResponse {
            user_information: Some(value.into()),
            ..AcceptResponse::default()
        }
    }

    /// An X.410-1984-mode answer carrying these `PAccept` parameters.
    pub fn with_x410_parameters(value: impl Into<Bytes>) -> Self {
        AcceptResponse {
            x410_parameters: Some(value.into()),
            ..AcceptResponse::default()
        }
    }

    /// An answer that returns every user-information EXTERNAL of the request
    /// ([`AssociateIndication::user_information_list`](super::AssociateIndication::user_information_list)),
    /// each on its context with its direct-reference: what ISODE's ACSE echo server (`isod`)
    /// sends and its client (`isoc`) checks ("expecting 3 hellos",
    /// `testdata/captures/isode/iso-acse-echo.pcap`). An application echo, not an ACSE rule:
    /// X.227 leaves the AARE's user-information to the accepting user.
    pub fn echoing(indication: &super::AssociateIndication) -> Self {
        AcceptResponse {
            user_information_list: indication.user_information_list.clone(),
            ..AcceptResponse::default()
        }
    }
}
