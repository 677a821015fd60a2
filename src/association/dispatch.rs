//! Responder dispatch: the local services (service access points) one listener offers, told
//! apart by selector, and the calling-address policy of each.
//!
//! Several services (an MTA's "connectors") can share one IP address and port. An incoming
//! association is matched layer by layer as its PDUs arrive: the called T-selector of the CR,
//! then the called S-selector of the CN, the called P-selector of the CP, and the called
//! AP-title and AE-qualifier of the AARQ. The first service that matches every layer wins. When
//! none is left, the association is refused at the layer that failed, with the standard reason
//! (COTP DR 0x03 "address unknown", session RF 0x81 "session selector unknown", CPR
//! "called presentation address unknown", AARE "called AP-title / AE-qualifier not recognized")
//! and a diagnostic that names the value received and the values configured.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;

use super::event::{Configured, Criterion, Mismatch, Received};
use crate::acse::UserDiagnostic;
use crate::address::{PSel, SSel, TSel};
use crate::cotp::DisconnectReason;
use crate::oid::{Oid, OwnedOid};
use crate::presentation::ProviderReason;
use crate::session::RefuseReason;

/// How a service matches one selector of an incoming association.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Selector<S> {
    /// Any selector, or none, is accepted.
    #[default]
    Any,
    /// Only an association that names no selector (absent or empty) matches.
    Absent,
    /// Only this selector matches, compared octet by octet (`00 01` ≠ `01`).
    Is(S),
}

impl<S: AsRef<[u8]>> Selector<S> {
    /// Whether `received` (the selector in the PDU; `None` when absent) matches.
    pub fn matches(&self, received: Option<&[u8]>) -> bool {
        let received = received.filter(|r| !r.is_empty());
        match self {
            Selector::Any => true,
            Selector::Absent => received.is_none(),
            Selector::Is(s) => received == Some(s.as_ref()).filter(|s| !s.is_empty()),
        }
    }
}

impl<S: AsRef<[u8]>> fmt::Display for Selector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Any => f.write_str("any"),
            Selector::Absent => f.write_str("none"),
            Selector::Is(s) => f.write_str(&hex(s.as_ref())),
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Prints a received selector for a diagnostic: hex, and the text when it is printable.
pub(crate) fn show_selector(received: Option<&[u8]>) -> String {
    match received.filter(|r| !r.is_empty()) {
        None => "none".to_owned(),
        Some(r) if r.iter().all(|b| b.is_ascii_graphic()) => {
            format!("{} (\"{}\")", hex(r), String::from_utf8_lossy(r))
        }
        Some(r) => hex(r),
    }
}

/// One local service access point.
///
/// ```
/// use osi_stack::association::{Service, Selector};
/// use osi_stack::address::TSel;
/// let x400 = Service::new("x400")
///     .with_tsel(Selector::Is(TSel::new(b"MTA1")?))
///     .with_allowed_peer("192.0.2.7".parse().unwrap());
/// assert!(x400.tsel.matches(Some(b"MTA1")));
/// assert!(!x400.tsel.matches(Some(b"MTA2")));
/// # Ok::<(), osi_stack::address::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Service {
    /// A name for logs and events.
    pub name: String,
    /// Called T-selector to match.
    pub tsel: Selector<TSel>,
    /// Called S-selector to match.
    pub ssel: Selector<SSel>,
    /// Called P-selector to match.
    pub psel: Selector<PSel>,
    /// Called AP-title to match (`None`: any).
    pub ap_title: Option<OwnedOid>,
    /// Called AE-qualifier to match (`None`: any).
    pub ae_qualifier: Option<i64>,
    /// Calling-address policy: when not empty, only these peer IP addresses may associate.
    pub allowed_peers: Vec<IpAddr>,
    /// Calling selectors the peer must present (the policy's second half).
    pub calling_tsel: Selector<TSel>,
    /// Calling S-selector the peer must present.
    pub calling_ssel: Selector<SSel>,
    /// Calling P-selector the peer must present.
    pub calling_psel: Selector<PSel>,
    /// Abstract syntaxes accepted besides ACSE; empty accepts any proposed with BER.
    pub abstract_syntaxes: Vec<OwnedOid>,
}

impl Service {
    /// A service that matches any selectors and any peer.
    pub fn new(name: impl Into<String>) -> Self {
        Service {
            name: name.into(),
            tsel: Selector::Any,
            ssel: Selector::Any,
            psel: Selector::Any,
            ap_title: None,
            ae_qualifier: None,
            allowed_peers: Vec::new(),
            calling_tsel: Selector::Any,
            calling_ssel: Selector::Any,
            calling_psel: Selector::Any,
            abstract_syntaxes: Vec::new(),
        }
    }

    /// The same service with a called T-selector.
    #[must_use]
    pub fn with_tsel(mut self, tsel: Selector<TSel>) -> Self {
        self.tsel = tsel;
        self
    }

    /// The same service with a called S-selector.
    #[must_use]
    pub fn with_ssel(mut self, ssel: Selector<SSel>) -> Self {
        self.ssel = ssel;
        self
    }

    /// The same service with a called P-selector.
    #[must_use]
    pub fn with_psel(mut self, psel: Selector<PSel>) -> Self {
        self.psel = psel;
        self
    }

    /// The same service, accepting associations from `peer` (call again for more).
    #[must_use]
    pub fn with_allowed_peer(mut self, peer: IpAddr) -> Self {
        self.allowed_peers.push(peer);
        self
    }

    /// Whether `peer` may associate with this service.
    pub fn allows_peer(&self, peer: Option<IpAddr>) -> bool {
        self.allowed_peers.is_empty()
            || peer.is_some_and(|p| self.allowed_peers.iter().any(|a| same_ip(*a, p)))
    }
}

/// IPv4 addresses compare equal to their IPv4-mapped IPv6 form (a dual-stack listener).
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// The services of one responder. An empty table accepts any selectors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dispatch {
    services: Vec<Service>,
}

impl Dispatch {
    /// A table with these services, matched in order.
    pub fn new(services: Vec<Service>) -> Self {
        Dispatch { services }
    }

    /// The services.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Adds a service after the others.
    pub fn push(&mut self, service: Service) {
        self.services.push(service);
    }

    /// Whether the table is empty (every association is accepted).
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Service> {
        self.services.get(index)
    }

    /// Every service is a candidate at the start of an association.
    pub(crate) fn candidates(&self) -> Candidates {
        Candidates {
            left: (0..self.services.len()).collect(),
        }
    }

    /// Keeps the candidates `keep` accepts; when none is left, says what was received and what
    /// the candidates had configured. An empty table accepts everything.
    fn narrow(
        &self,
        candidates: &mut Candidates,
        criterion: Criterion,
        received: impl FnOnce() -> Received,
        keep: impl Fn(&Service) -> bool,
        configured: impl Fn(&Service) -> Configured,
    ) -> Result<(), Mismatch> {
        if self.services.is_empty() {
            return Ok(());
        }
        let before = candidates.left.clone();
        candidates
            .left
            .retain(|&i| self.services.get(i).is_some_and(&keep));
        if !candidates.left.is_empty() {
            return Ok(());
        }
        Err(Mismatch {
            criterion,
            received: received(),
            configured: before
                .iter()
                .filter_map(|&i| self.services.get(i))
                .map(|s| (s.name.clone(), configured(s)))
                .collect(),
        })
    }

    /// The transport layer's checks of a CR: called T-selector (refused with DR 0x03 "address
    /// unknown"), the peer's address and the calling T-selector (DR 0x00).
    pub(crate) fn check_transport(
        &self,
        c: &mut Candidates,
        called: Option<&Bytes>,
        peer: Option<IpAddr>,
        calling: Option<&Bytes>,
    ) -> Result<(), (Mismatch, DisconnectReason)> {
        self.narrow(
            c,
            Criterion::CalledTsel,
            || Received::Selector(called.cloned()),
            |s| s.tsel.matches(called.map(|b| &b[..])),
            |s| Configured::Tsel(s.tsel.clone()),
        )
        .map_err(|m| (m, DisconnectReason::ADDRESS_UNKNOWN))?;
        self.narrow(
            c,
            Criterion::CallingAddress,
            || Received::Address(peer),
            |s| s.allows_peer(peer),
            |s| Configured::Peers(s.allowed_peers.clone()),
        )
        .map_err(|m| (m, DisconnectReason::NOT_SPECIFIED))?;
        self.narrow(
            c,
            Criterion::CallingTsel,
            || Received::Selector(calling.cloned()),
            |s| s.calling_tsel.matches(calling.map(|b| &b[..])),
            |s| Configured::Tsel(s.calling_tsel.clone()),
        )
        .map_err(|m| (m, DisconnectReason::NOT_SPECIFIED))
    }

    /// The session layer's checks of a CN: called S-selector (RF 0x81 "session selector
    /// unknown") and calling S-selector (RF 0x00).
    pub(crate) fn check_session(
        &self,
        c: &mut Candidates,
        called: Option<&Bytes>,
        calling: Option<&Bytes>,
    ) -> Result<(), (Mismatch, RefuseReason)> {
        self.narrow(
            c,
            Criterion::CalledSsel,
            || Received::Selector(called.cloned()),
            |s| s.ssel.matches(called.map(|b| &b[..])),
            |s| Configured::Ssel(s.ssel.clone()),
        )
        .map_err(|m| (m, RefuseReason::SELECTOR_UNKNOWN))?;
        self.narrow(
            c,
            Criterion::CallingSsel,
            || Received::Selector(calling.cloned()),
            |s| s.calling_ssel.matches(calling.map(|b| &b[..])),
            |s| Configured::Ssel(s.calling_ssel.clone()),
        )
        .map_err(|m| (m, RefuseReason::USER_NO_REASON))
    }

    /// The presentation layer's checks of a CP: called P-selector (CPR
    /// "called-presentation-address-unknown") and calling P-selector (CPR
    /// "reason-not-specified").
    pub(crate) fn check_presentation(
        &self,
        c: &mut Candidates,
        called: Option<&[u8]>,
        calling: Option<&[u8]>,
    ) -> Result<(), (Mismatch, ProviderReason)> {
        self.narrow(
            c,
            Criterion::CalledPsel,
            || Received::Selector(called.map(Bytes::copy_from_slice)),
            |s| s.psel.matches(called),
            |s| Configured::Psel(s.psel.clone()),
        )
        .map_err(|m| (m, ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN))?;
        self.narrow(
            c,
            Criterion::CallingPsel,
            || Received::Selector(calling.map(Bytes::copy_from_slice)),
            |s| s.calling_psel.matches(calling),
            |s| Configured::Psel(s.calling_psel.clone()),
        )
        .map_err(|m| (m, ProviderReason::REASON_NOT_SPECIFIED))
    }

    /// ACSE's checks of an AARQ: called AP-title and AE-qualifier (AARE rejected-permanent,
    /// acse-service-user diagnostic 7 / 9).
    pub(crate) fn check_acse(
        &self,
        c: &mut Candidates,
        ap_title: Option<Oid<'_>>,
        ae_qualifier: Option<i64>,
    ) -> Result<(), (Mismatch, UserDiagnostic)> {
        self.narrow(
            c,
            Criterion::CalledApTitle,
            || Received::ApTitle(ap_title.map(|t| t.to_owned_oid())),
            |s| {
                s.ap_title
                    .as_ref()
                    .is_none_or(|t| Some(t.as_oid()) == ap_title)
            },
            |s| Configured::ApTitle(s.ap_title.clone()),
        )
        .map_err(|m| (m, UserDiagnostic::CALLED_AP_TITLE_NOT_RECOGNIZED))?;
        self.narrow(
            c,
            Criterion::CalledAeQualifier,
            || Received::AeQualifier(ae_qualifier),
            |s| s.ae_qualifier.is_none_or(|q| Some(q) == ae_qualifier),
            |s| Configured::AeQualifier(s.ae_qualifier),
        )
        .map_err(|m| (m, UserDiagnostic::CALLED_AE_QUALIFIER_NOT_RECOGNIZED))
    }
}

/// The services an incoming association can still reach, narrowed layer by layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Candidates {
    left: Vec<usize>,
}

impl Candidates {
    /// The first candidate left: the service an association is for.
    pub(crate) fn first(&self) -> Option<usize> {
        self.left.first().copied()
    }
}
