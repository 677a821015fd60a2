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

use crate::address::{PSel, SSel, TSel};
use crate::oid::OwnedOid;

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

    /// Indices of the services still possible, all of them at the start.
    pub(crate) fn all(&self) -> Vec<usize> {
        (0..self.services.len()).collect()
    }

    /// Keeps the candidates for which `keep` holds.
    pub(crate) fn filter(&self, candidates: &mut Vec<usize>, keep: impl Fn(&Service) -> bool) {
        candidates.retain(|&i| self.services.get(i).is_some_and(&keep));
    }

    /// A list of what the given candidates configure, for a diagnostic.
    pub(crate) fn describe(
        &self,
        candidates: &[usize],
        field: impl Fn(&Service) -> String,
    ) -> String {
        let parts: Vec<String> = candidates
            .iter()
            .filter_map(|&i| self.services.get(i))
            .map(|s| format!("{}={}", s.name, field(s)))
            .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}
