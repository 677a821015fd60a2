//! Finding which selectors a peer accepts, layer by layer (`osi probe`).
//!
//! A peer that does not know the selectors it is called with refuses at the layer that owns
//! them: the transport with a DR TPDU (X.224 §13.5, "address unknown" or another reason), the
//! session with an RF SPDU (X.225, reason 0x81 "session selector unknown"), presentation with a
//! CPR-PPDU (X.226, provider reason called-presentation-address-unknown), ACSE with an AARE
//! whose diagnostic names the AP-title or AE-qualifier (X.227). A probe tries one
//! [`Candidate`] set of selectors per connection, in order, and records for each the layer that
//! refused and why, or that it associated; a refusal at a higher layer says the selectors of the
//! layers below were accepted.
//!
//! The core is sans-IO: [`Probe`] hands out the candidates one at a time, bounded by
//! [`Options::max_attempts`], and turns what happened ([`outcome_of`] for association events,
//! [`transport_outcome_of`] for transport events, [`Outcome::Unreachable`] for a TCP failure)
//! into a [`Report`]. It stops early after [`Options::stop_after_unreachable`] consecutive TCP
//! failures: a port that refuses TCP does not get a hundred more connection attempts. It leaves
//! out a candidate whose selectors a layer already refused as unknown (a DR or a close after the
//! CR for its T-selectors, RF 0x81 for its S-selectors, a CPR called-presentation-address-unknown
//! for its P-selectors, each with the same selectors below): the answer would be the same. The tokio
//! runner ([`run`], feature `tokio`) makes one connection per candidate, sequentially, with
//! [`Options::timeout`] on every wait, and ends every successful attempt politely (A-RELEASE,
//! or closing the class-0 transport connection).
//!
//! The [`Profile`]s hold the well-known sets: IEC 61850 (libiec61850's defaults T `0001`,
//! S `0001`, P `00000001`, AP-titles 1.1.1.999 / 1.1.1.999.1, AE-qualifier 12, with an MMS
//! initiate-request), S7 (transport only: remote TSAP `0x0100 + 0x100 × (type − 1) + rack × 32 +
//! slot` for PG, OP and S7-basic connections, local TSAP `0100`), X.400 (text selectors "MTA",
//! "X400" with an RTORQ in 1988 normal mode).
//!
//! ```
//! use osi_stack::probe::{Candidate, Options, Outcome, Probe, Profile};
//!
//! let mut probe = Probe::new(Profile::Iec61850.candidates(), Options::default());
//! while let Some(candidate) = probe.next_candidate() {
//!     // One connection per candidate; here every attempt "times out".
//!     let _ = candidate.describe();
//!     probe.record(Outcome::Timeout, std::time::Duration::ZERO);
//! }
//! let report = probe.finish();
//! assert!(report.working().next().is_none());
//! ```

use std::fmt;
use std::time::Duration;

use crate::acse::AssociateResult;
use crate::address::{PSel, SSel, TSel};
use crate::association::{
    Abort, AbortReason, AssociateRequest, ContextOutcome, Event, Refusal, RefusalReason,
};
use crate::cotp::connection::{self as transport, Disconnect};
use crate::error::Layer;
use crate::oid::{Oid, OwnedOid};

/// A family of well-known selector sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// IEC 61850 / MMS over the full stack (libiec61850's defaults and variants).
    Iec61850,
    /// Siemens S7 (ISO-on-TCP): transport only, TSAPs by connection type, rack and slot.
    S7,
    /// X.400 P1 (1988 normal mode, RTSE): text selectors.
    X400,
}

/// An MMS initiate-request (ISO 9506-2 §8.2.1: local detail 65000, 5 outstanding each way,
/// nesting 10, version 1, the parameter CBB and services supported that libiec61850's client
/// proposes). libiec61850's server closes the transport connection when an AARQ has none.
const MMS_INITIATE_REQUEST: &[u8] = &[
    0xa8, 0x26, 0x80, 0x03, 0x00, 0xfd, 0xe8, 0x81, 0x01, 0x05, 0x82, 0x01, 0x05, 0x83, 0x01, 0x0a,
    0xa4, 0x16, 0x80, 0x01, 0x01, 0x81, 0x03, 0x05, 0xf1, 0x00, 0x82, 0x0c, 0x03, 0xee, 0x1c, 0x00,
    0x00, 0x04, 0x08, 0x00, 0x00, 0x79, 0xef, 0x18,
];

/// libiec61850's default AE-qualifier.
const IEC61850_AE_QUALIFIER: i64 = 12;

impl Profile {
    /// Every profile, in the order `osi probe --profile all` tries them.
    pub const ALL: [Profile; 3] = [Profile::Iec61850, Profile::S7, Profile::X400];

    /// A short name: `iec61850`, `s7`, `x400`.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Iec61850 => "iec61850",
            Profile::S7 => "s7",
            Profile::X400 => "x400",
        }
    }

    /// The profile of a short name.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The selector sets of this profile, most likely first.
    pub fn candidates(self) -> Vec<Candidate> {
        match self {
            Profile::Iec61850 => iec61850_candidates(),
            Profile::S7 => s7_candidates(),
            Profile::X400 => x400_candidates(),
        }
    }
}

fn oid(s: &str) -> Option<OwnedOid> {
    s.parse().ok()
}

/// An MMS request with these selectors (calling = called, as libiec61850 does) and AP-titles.
fn mms(t: Option<&[u8]>, s: Option<&[u8]>, p: Option<&[u8]>, titles: bool) -> AssociateRequest {
    let tsel = t.and_then(|b| TSel::new(b).ok());
    let ssel = s.and_then(|b| SSel::new(b).ok());
    let psel = p.and_then(|b| PSel::new(b).ok());
    let mut r = AssociateRequest::mms()
        .with_calling_selectors(tsel, ssel, psel)
        .with_called_selectors(tsel, ssel, psel)
        .with_user_information(MMS_INITIATE_REQUEST);
    if titles {
        r.calling.ap_title = oid("1.1.1.999");
        r.calling.ae_qualifier = Some(IEC61850_AE_QUALIFIER);
        r.called.ap_title = oid("1.1.1.999.1");
        r.called.ae_qualifier = Some(IEC61850_AE_QUALIFIER);
    }
    r
}

fn iec61850_candidates() -> Vec<Candidate> {
    let (t, s, p) = (&[0u8, 1][..], &[0u8, 1][..], &[0u8, 0, 0, 1][..]);
    let c = |label: &str, request| Candidate {
        label: label.to_owned(),
        profile: Some(Profile::Iec61850),
        depth: Depth::Association,
        request,
    };
    vec![
        c("iec61850 defaults", mms(Some(t), Some(s), Some(p), true)),
        c(
            "iec61850 defaults without ap-titles",
            mms(Some(t), Some(s), Some(p), false),
        ),
        c("iec61850 without selectors", mms(None, None, None, true)),
        c(
            "iec61850 t-selector 0001 only",
            mms(Some(t), None, None, true),
        ),
    ]
}

/// The remote TSAPs the S7 profile tries: connection type PG (1), OP (2), S7-basic (3), rack 0,
/// slots 0 to 3 (S7-1200/1500 answer on slot 0 or 1, S7-300 on 2, S7-400 on 2 or 3), and rack 1
/// slot 0 to 3 for PG.
pub fn s7_remote_tsaps() -> Vec<u16> {
    let mut out = Vec::new();
    for (kind, racks) in [(1u16, 0..=1u16), (2, 0..=0), (3, 0..=0)] {
        for rack in racks {
            for slot in 0..=3u16 {
                let tsap = (kind << 8) | (rack << 5) | slot;
                if !out.contains(&tsap) {
                    out.push(tsap);
                }
            }
        }
    }
    out
}

fn s7_candidates() -> Vec<Candidate> {
    s7_remote_tsaps()
        .into_iter()
        .map(|tsap| {
            let [hi, lo] = tsap.to_be_bytes();
            let rack = (lo >> 5) & 0x07;
            let slot = lo & 0x1f;
            let kind = match hi {
                1 => "pg",
                2 => "op",
                _ => "s7-basic",
            };
            Candidate::transport(
                format!("s7 {kind} rack {rack} slot {slot}"),
                TSel::new(&[1, 0]).ok(),
                TSel::new(&[hi, lo]).ok(),
            )
            .with_profile(Profile::S7)
        })
        .collect()
}

fn x400_candidates() -> Vec<Candidate> {
    let mut out = Vec::new();
    for (label, t, s, p) in [
        (
            "x400 \"MTA\" at t, s and p",
            "MTA",
            Some("MTA"),
            Some("MTA"),
        ),
        ("x400 t-selector \"MTA\"", "MTA", None, None),
        (
            "x400 \"X400\" at t, s and p",
            "X400",
            Some("X400"),
            Some("X400"),
        ),
        ("x400 t-selector \"X400\"", "X400", None, None),
        (
            "x400 \"mta\" at t, s and p",
            "mta",
            Some("mta"),
            Some("mta"),
        ),
    ] {
        let address = crate::address::PresentationAddress {
            psel: p.and_then(|p| PSel::new(p.as_bytes()).ok()),
            ssel: s.and_then(|s| SSel::new(s.as_bytes()).ok()),
            tsel: TSel::new(t.as_bytes()).ok(),
            network: Vec::new(),
        };
        let profile = crate::rtse::ConnectorProfile::new(address);
        if let Ok(Some(request)) = profile.associate_request(None) {
            out.push(Candidate {
                label: label.to_owned(),
                profile: Some(Profile::X400),
                depth: Depth::Association,
                request,
            });
        }
    }
    out
}

/// How far one attempt goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Depth {
    /// CR / CC only (S7 and other transport-only peers); success is the CC.
    Transport,
    /// CR, then CN + CP + AARQ; success is the accepted AARE (or X.410 CPA).
    Association,
}

/// One set of selectors to try, with the request that carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// A name for people ("iec61850 defaults", "s7 pg rack 0 slot 2", "given 1").
    pub label: String,
    /// The profile it comes from (`None`: given by the user).
    pub profile: Option<Profile>,
    /// How far the attempt goes.
    pub depth: Depth,
    /// The selectors (calling and called) and the rest of the request; for
    /// [`Depth::Transport`] only the T-selectors are used.
    pub request: AssociateRequest,
}

impl Candidate {
    /// A full association attempt with `request`.
    pub fn association(label: impl Into<String>, request: AssociateRequest) -> Self {
        Candidate {
            label: label.into(),
            profile: None,
            depth: Depth::Association,
            request,
        }
    }

    /// A transport-only attempt (CR / CC) with these T-selectors.
    pub fn transport(
        label: impl Into<String>,
        calling: Option<TSel>,
        called: Option<TSel>,
    ) -> Self {
        let mut request = AssociateRequest::mms();
        request.calling_tsel = calling;
        request.called_tsel = called;
        Candidate {
            label: label.into(),
            profile: None,
            depth: Depth::Transport,
            request,
        }
    }

    /// The same candidate marked as coming from `profile`.
    #[must_use]
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// The selectors in one line, called first: `t 0001 s 0001 p 00000001 ap-title
    /// 1.1.1.999.1 ae 12`, then `calling …` when the calling selectors differ (`-`: absent;
    /// printable selectors in quotes).
    pub fn describe(&self) -> String {
        let r = &self.request;
        let assoc = self.depth == Depth::Association;
        let three = |t: Option<&TSel>, s: Option<&SSel>, p: Option<&PSel>| {
            let mut out = format!("t {}", show(t.map(TSel::as_bytes)));
            if assoc {
                out.push_str(&format!(
                    " s {} p {}",
                    show(s.map(SSel::as_bytes)),
                    show(p.map(PSel::as_bytes))
                ));
            }
            out
        };
        let mut out = three(
            r.called_tsel.as_ref(),
            r.called_ssel.as_ref(),
            r.called_psel.as_ref(),
        );
        if assoc {
            if let Some(t) = &r.called.ap_title {
                out.push_str(&format!(" ap-title {t}"));
            }
            if let Some(q) = r.called.ae_qualifier {
                out.push_str(&format!(" ae {q}"));
            }
        }
        let calling = three(
            r.calling_tsel.as_ref(),
            r.calling_ssel.as_ref(),
            r.calling_psel.as_ref(),
        );
        let differs = r.calling_tsel != r.called_tsel
            || (assoc && (r.calling_ssel != r.called_ssel || r.calling_psel != r.called_psel));
        let none = r.calling_tsel.is_none()
            && (!assoc || (r.calling_ssel.is_none() && r.calling_psel.is_none()));
        if differs && !none {
            out.push_str(&format!(", calling {calling}"));
        }
        out
    }
}

/// A selector for people: hex, or the text in quotes when it is printable ASCII.
fn show(sel: Option<&[u8]>) -> String {
    match sel {
        None => "-".to_owned(),
        Some(b) if !b.is_empty() && b.iter().all(|c| c.is_ascii_alphanumeric()) => {
            format!("\"{}\"", String::from_utf8_lossy(b))
        }
        Some(b) => b.iter().map(|o| format!("{o:02x}")).collect(),
    }
}

/// How far an attempt got before it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reached {
    /// Not even TCP.
    Nothing,
    /// TCP connected.
    Tcp,
    /// The transport connection (CC received).
    Transport,
    /// The association.
    Association,
}

/// What one attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The association was accepted (and then released).
    Associated {
        /// The contexts and their results.
        contexts: Vec<ContextOutcome>,
        /// The AARE's result (`None` in X.410-1984 mode).
        result: Option<AssociateResult>,
    },
    /// A transport-only attempt: the CC came.
    TransportConnected {
        /// The TPDU size negotiated.
        tpdu_size: usize,
    },
    /// The peer refused at a layer: DR, RF, CPR or AARE, with its reason.
    Refused(Refusal),
    /// The attempt was aborted: the peer closed the transport connection, sent ER, AB, ARP
    /// or ABRT, or broke the protocol.
    Aborted(Abort),
    /// A transport-only attempt ended without a CC (DR, ER, TCP closed, a bad CC).
    TransportFailed(Disconnect),
    /// The peer closed the transport connection without a refusal PDU: after the CR (no CC,
    /// no DR: a transport refusal, as S7 devices answer an unknown TSAP) or after the CN, CP
    /// and AARQ (no AC, RF, CPR or AARE: the session or a layer above refused silently).
    Closed {
        /// How far the attempt got before the close.
        after: Reached,
    },
    /// No answer within [`Options::timeout`].
    Timeout,
    /// TCP could not connect.
    Unreachable(String),
    /// The request could not be built or sent.
    Failed(String),
}

impl Outcome {
    /// Whether the selectors worked: associated, or (transport-only) connected.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Outcome::Associated { .. } | Outcome::TransportConnected { .. }
        )
    }

    /// The layer that refused or failed (`None` on success, for a time-out and when TCP did
    /// not connect).
    pub fn layer(&self) -> Option<Layer> {
        match self {
            Outcome::Refused(r) => Some(r.layer()),
            Outcome::Aborted(a) => Some(a.layer()),
            Outcome::TransportFailed(Disconnect::ProtocolError(e)) => Some(e.layer()),
            Outcome::TransportFailed(_) => Some(Layer::Cotp),
            Outcome::Closed { after } if *after <= Reached::Tcp => Some(Layer::Cotp),
            _ => None,
        }
    }

    /// A short name of the layer for reports: `tcp`, `tpkt`, `cotp`, `session`,
    /// `presentation`, `acse`, `upper` (the peer closed after the CN: session or above), or
    /// `-`.
    pub fn layer_name(&self) -> &'static str {
        match self {
            Outcome::Unreachable(_) => "tcp",
            Outcome::Closed { after } if *after >= Reached::Transport => "upper",
            _ => self.layer().map_or("-", Layer::name),
        }
    }

    /// The code of a refusal in its layer's code space (DR reason, RF reason, CPR provider
    /// reason, AARE diagnostic).
    pub fn code(&self) -> Option<i64> {
        match self {
            Outcome::Refused(r) => r.reason.code(),
            Outcome::TransportFailed(d) => RefusalReason::Transport(*d).code(),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Associated { contexts, .. } => {
                let accepted = contexts.iter().filter(|c| c.accepted()).count();
                write!(
                    f,
                    "associated ({accepted} of {} contexts accepted)",
                    contexts.len()
                )
            }
            Outcome::TransportConnected { tpdu_size } => {
                write!(f, "transport connected (tpdu size {tpdu_size})")
            }
            Outcome::Refused(r) => write!(f, "{}", r.reason),
            Outcome::Aborted(a) => write!(f, "{} aborted: {}", a.source.name(), a.reason),
            Outcome::TransportFailed(d) => write!(f, "{d}"),
            Outcome::Closed { after } if *after >= Reached::Transport => f.write_str(
                "the peer closed the transport connection after the cn, cp and aarq \
                 without ac, rf, cpr or aare (refused silently above the transport)",
            ),
            Outcome::Closed { .. } => f.write_str(
                "the peer closed the transport connection after the cr without cc or dr",
            ),
            Outcome::Timeout => f.write_str("no answer within the time-out"),
            Outcome::Unreachable(e) => write!(f, "tcp connect failed: {e}"),
            Outcome::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// How far association events show an attempt got.
pub fn reached_of(events: &[Event]) -> Reached {
    if events.iter().any(|e| matches!(e, Event::Associated(_))) {
        Reached::Association
    } else if events
        .iter()
        .any(|e| matches!(e, Event::TransportConnected { .. }))
    {
        Reached::Transport
    } else {
        Reached::Tcp
    }
}

/// The outcome association events give, once they give one: associated, refused, aborted, or
/// closed by the peer without a refusal PDU. `None` while the attempt goes on.
pub fn outcome_of(events: &[Event]) -> Option<Outcome> {
    events.iter().find_map(|e| match e {
        Event::Associated(a) => Some(Outcome::Associated {
            contexts: a.contexts.clone(),
            result: a.result,
        }),
        Event::Refused(r) => Some(Outcome::Refused(Refusal::clone(r))),
        Event::Aborted(a) if a.reason == AbortReason::Transport(Disconnect::TransportClosed) => {
            Some(Outcome::Closed {
                after: reached_of(events),
            })
        }
        Event::Aborted(a) => Some(Outcome::Aborted(Abort::clone(a))),
        _ => None,
    })
}

/// The outcome transport events give, once they give one: connected or disconnected.
pub fn transport_outcome_of(events: &[transport::Event]) -> Option<Outcome> {
    events.iter().find_map(|e| match e {
        transport::Event::Connected(c) => Some(Outcome::TransportConnected {
            tpdu_size: c.tpdu_size,
        }),
        transport::Event::Disconnected(Disconnect::TransportClosed) => Some(Outcome::Closed {
            after: Reached::Tcp,
        }),
        transport::Event::Disconnected(d) => Some(Outcome::TransportFailed(*d)),
        _ => None,
    })
}

/// How far an outcome shows the attempt got.
fn reached(outcome: &Outcome) -> Reached {
    match outcome {
        Outcome::Associated { .. } => Reached::Association,
        Outcome::TransportConnected { .. } => Reached::Transport,
        Outcome::Refused(r) if r.layer() == Layer::Cotp => Reached::Tcp,
        Outcome::Refused(_) => Reached::Transport,
        Outcome::Aborted(a) => match a.reason {
            AbortReason::Transport(_) | AbortReason::Timeout(_) => Reached::Tcp,
            _ => Reached::Transport,
        },
        Outcome::Closed { after } => *after,
        Outcome::TransportFailed(_) | Outcome::Timeout | Outcome::Failed(_) => Reached::Tcp,
        Outcome::Unreachable(_) => Reached::Nothing,
    }
}

/// Bounds of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Time-out of every wait of one attempt (TCP connect, each answer, the release). Default
    /// 5 s.
    pub timeout: Duration,
    /// Attempts at most; candidates beyond are not tried. Default 64.
    pub max_attempts: usize,
    /// Stop after this many TCP failures in a row. Default 2.
    pub stop_after_unreachable: usize,
    /// Pause between attempts (politeness towards small devices). Default 50 ms.
    pub pause: Duration,
    /// Local address to connect from.
    pub bind: Option<std::net::IpAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(5),
            max_attempts: 64,
            stop_after_unreachable: 2,
            pause: Duration::from_millis(50),
            bind: None,
        }
    }
}

impl Options {
    /// The same options with another time-out.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same options with another attempt bound.
    #[must_use]
    pub fn with_max_attempts(mut self, n: usize) -> Self {
        self.max_attempts = n;
        self
    }

    /// The same options with another local address.
    #[must_use]
    pub fn with_bind(mut self, bind: Option<std::net::IpAddr>) -> Self {
        self.bind = bind;
        self
    }

    /// The same options with another pause between attempts.
    #[must_use]
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}

/// One attempt and what it ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// 1-based.
    pub number: usize,
    /// The selectors tried.
    pub candidate: Candidate,
    /// What happened.
    pub outcome: Outcome,
    /// How far it got.
    pub reached: Reached,
    /// How long it took.
    pub elapsed: Duration,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match &self.outcome {
            o if o.is_success() => "ok".to_owned(),
            Outcome::Unreachable(_) => "unreachable".to_owned(),
            Outcome::Timeout => "no answer".to_owned(),
            Outcome::Failed(_) => "failed".to_owned(),
            o => format!("refused at {}", o.layer_name()),
        };
        write!(
            f,
            "#{} {} [{}]: {verdict}: {}",
            self.number,
            self.candidate.label,
            self.candidate.describe(),
            self.outcome
        )
    }
}

/// Every attempt of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Report {
    /// In order.
    pub attempts: Vec<Attempt>,
    /// Candidates not tried ([`Options::max_attempts`], or the peer stopped answering TCP).
    pub skipped: usize,
    /// Candidates not tried because a layer refused their selectors (up to that layer) as
    /// unknown already: T-selectors (DR, or a close after the CR), S-selectors (RF 0x81),
    /// P-selectors (CPR called-presentation-address-unknown).
    pub pruned: usize,
}

impl Report {
    /// The candidates that worked, in order.
    pub fn working(&self) -> impl Iterator<Item = &Candidate> {
        self.attempts
            .iter()
            .filter(|a| a.outcome.is_success())
            .map(|a| &a.candidate)
    }
}

/// The sans-IO probe: hands out candidates one at a time and collects the outcomes.
#[derive(Debug)]
pub struct Probe {
    candidates: std::collections::VecDeque<Candidate>,
    options: Options,
    report: Report,
    current: Option<Candidate>,
    unreachable_in_a_row: usize,
    /// Selectors a layer refused as unknown (DR or a close after the CR; RF 0x81; CPR
    /// called-presentation-address-unknown), with those of the layers below: later candidates
    /// with the same selectors up to that layer are not tried (they would be refused again).
    refused: Vec<(Layer, SelectorKey)>,
}

impl Probe {
    /// A probe of `candidates`, in order, bounded by `options`.
    pub fn new(candidates: Vec<Candidate>, options: Options) -> Self {
        let candidates: std::collections::VecDeque<Candidate> = candidates.into();
        Probe {
            candidates,
            options,
            report: Report {
                attempts: Vec::new(),
                skipped: 0,
                pruned: 0,
            },
            current: None,
            unreachable_in_a_row: 0,
            refused: Vec::new(),
        }
    }

    /// The bounds.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The next candidate to try, or `None` when the probe is over. Each must be followed by
    /// [`Probe::record`] before the next call (an unrecorded candidate counts as a time-out).
    pub fn next_candidate(&mut self) -> Option<&Candidate> {
        if self.current.is_some() {
            self.record(Outcome::Timeout, Duration::ZERO);
        }
        let unreachable = self.options.stop_after_unreachable > 0
            && self.unreachable_in_a_row >= self.options.stop_after_unreachable;
        if unreachable || self.report.attempts.len() >= self.options.max_attempts {
            self.report.skipped = self.report.skipped.saturating_add(self.candidates.len());
            self.candidates.clear();
            return None;
        }
        while let Some(c) = self.candidates.pop_front() {
            if self
                .refused
                .iter()
                .any(|(layer, key)| selector_key(&c, *layer).as_ref() == Some(key))
            {
                self.report.pruned = self.report.pruned.saturating_add(1);
                continue;
            }
            self.current = Some(c);
            break;
        }
        self.current.as_ref()
    }

    /// What the current candidate's attempt ended with.
    pub fn record(&mut self, outcome: Outcome, elapsed: Duration) -> Option<&Attempt> {
        let reached = reached(&outcome);
        self.record_reached(outcome, reached, elapsed)
    }

    /// [`Probe::record`] when the owner knows how far the attempt got (it saw the CC).
    pub fn record_reached(
        &mut self,
        outcome: Outcome,
        reached: Reached,
        elapsed: Duration,
    ) -> Option<&Attempt> {
        let candidate = self.current.take()?;
        if matches!(outcome, Outcome::Unreachable(_)) {
            self.unreachable_in_a_row = self.unreachable_in_a_row.saturating_add(1);
        } else {
            self.unreachable_in_a_row = 0;
        }
        if let Some(layer) = refused_as_unknown(&outcome) {
            if let Some(key) = selector_key(&candidate, layer) {
                if !self.refused.contains(&(layer, key.clone())) {
                    self.refused.push((layer, key));
                }
            }
        }
        let number = self.report.attempts.len().saturating_add(1);
        self.report.attempts.push(Attempt {
            number,
            reached,
            candidate,
            outcome,
            elapsed,
        });
        self.report.attempts.last()
    }

    /// The report so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Ends the probe and returns its report.
    pub fn finish(mut self) -> Report {
        if self.current.is_some() {
            self.record(Outcome::Timeout, Duration::ZERO);
        }
        self.report.skipped = self.report.skipped.saturating_add(self.candidates.len());
        self.report
    }
}

/// The calling and called selectors of a candidate up to `layer`, as octets.
type SelectorKey = Vec<Option<Vec<u8>>>;

fn selector_key(c: &Candidate, layer: Layer) -> Option<SelectorKey> {
    let r = &c.request;
    let v = |b: Option<&[u8]>| b.map(<[u8]>::to_vec);
    let mut key = vec![
        v(r.calling_tsel.as_ref().map(TSel::as_bytes)),
        v(r.called_tsel.as_ref().map(TSel::as_bytes)),
    ];
    if layer == Layer::Cotp {
        return Some(key);
    }
    if c.depth != Depth::Association {
        return None;
    }
    key.push(v(r.calling_ssel.as_ref().map(SSel::as_bytes)));
    key.push(v(r.called_ssel.as_ref().map(SSel::as_bytes)));
    if layer == Layer::Session {
        return Some(key);
    }
    key.push(v(r.calling_psel.as_ref().map(PSel::as_bytes)));
    key.push(v(r.called_psel.as_ref().map(PSel::as_bytes)));
    (layer == Layer::Presentation).then_some(key)
}

/// The layer whose selectors an outcome says are unknown to the peer.
fn refused_as_unknown(outcome: &Outcome) -> Option<Layer> {
    use crate::presentation::ProviderReason;
    use crate::session::RefuseReason;
    match outcome {
        Outcome::Refused(r) => match r.reason {
            // Congestion (DR reason 1) is no verdict on the selectors.
            RefusalReason::Transport(Disconnect::Dr(crate::cotp::DisconnectReason(1))) => None,
            RefusalReason::Transport(_) => Some(Layer::Cotp),
            RefusalReason::Session(RefuseReason::SELECTOR_UNKNOWN) => Some(Layer::Session),
            RefusalReason::Presentation(Some(
                ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN,
            )) => Some(Layer::Presentation),
            _ => None,
        },
        Outcome::TransportFailed(_)
        | Outcome::Closed {
            after: Reached::Tcp,
        } => Some(Layer::Cotp),
        _ => None,
    }
}

/// The candidates of `profiles`, in order, then `given`.
pub fn candidates(profiles: &[Profile], given: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = profiles.iter().flat_map(|p| p.candidates()).collect();
    out.extend(given);
    out
}

/// The MMS application context and abstract syntax, for given candidates.
pub fn mms_request() -> AssociateRequest {
    AssociateRequest::new(Oid::MMS_APPLICATION_CONTEXT.to_owned_oid())
        .with_contexts(vec![crate::association::PresentationContext::ber(
            const { crate::presentation::ContextId::known(3) },
            Oid::MMS_ABSTRACT_SYNTAX,
        )])
        .with_user_information(MMS_INITIATE_REQUEST)
}

#[cfg(feature = "tokio")]
pub use self::runner::run;

#[cfg(feature = "tokio")]
mod runner {
    use std::net::SocketAddr;
    use std::time::Instant;

    use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ::tokio::net::TcpStream;
    use ::tokio::time::timeout;

    use super::{
        Candidate, Depth, Options, Outcome, Probe, Reached, Report, outcome_of, reached_of,
    };
    use crate::association::Config;
    use crate::cotp::connection as transport;
    use crate::tokio::{Connection, Dialer};

    /// Probes `addr` with `candidates`, one TCP connection each, in order; calls `on_attempt`
    /// after each (for output as it happens) and returns the report.
    pub async fn run(
        addr: SocketAddr,
        candidates: Vec<Candidate>,
        options: Options,
        mut on_attempt: impl FnMut(&super::Attempt),
    ) -> Report {
        let mut probe = Probe::new(candidates, options.clone());
        let dialer = Dialer::new()
            .with_bind(options.bind)
            .with_connect_timeout(options.timeout);
        let mut first = true;
        while let Some(candidate) = probe.next_candidate() {
            let candidate = candidate.clone();
            if !first && !options.pause.is_zero() {
                ::tokio::time::sleep(options.pause).await;
            }
            first = false;
            let started = Instant::now();
            let (outcome, reached) = match dialer.connect_once(addr).await {
                Err(e) => (Outcome::Unreachable(e.to_string()), Reached::Nothing),
                Ok(stream) => match candidate.depth {
                    Depth::Transport => transport_attempt(stream, &candidate, &options).await,
                    Depth::Association => association_attempt(stream, &candidate, &options).await,
                },
            };
            if let Some(a) = probe.record_reached(outcome, reached, started.elapsed()) {
                on_attempt(a);
            }
        }
        probe.finish()
    }

    async fn association_attempt(
        stream: TcpStream,
        candidate: &Candidate,
        options: &Options,
    ) -> (Outcome, Reached) {
        let config = Config::default()
            .with_response_timeout(options.timeout)
            .with_disconnect_wait(options.timeout);
        let mut conn = match Connection::initiate(stream, config, candidate.request.clone()).await {
            Ok(c) => c,
            Err(e) => return (Outcome::Failed(e.to_string()), Reached::Tcp),
        };
        let mut events = Vec::new();
        let waited = timeout(options.timeout, async {
            loop {
                match conn.next_event().await {
                    Err(e) => break Outcome::Failed(e.to_string()),
                    Ok(None) => break Outcome::Timeout,
                    Ok(Some(ev)) => {
                        events.push(ev);
                        if let Some(o) = outcome_of(&events) {
                            break o;
                        }
                    }
                }
            }
        })
        .await;
        let outcome = waited.unwrap_or(Outcome::Timeout);
        let reached = reached_of(&events);
        // Politely: release what was accepted (abort when the release gets no answer); let a
        // refused or aborted association finish its disconnect.
        if outcome.is_success() {
            let released = timeout(options.timeout, conn.release()).await;
            if !matches!(released, Ok(Ok(ref r)) if r.released) {
                let _ = conn.abort().await;
            }
        }
        let _ = timeout(options.timeout, async {
            while let Ok(Some(_)) = conn.next_event().await {}
        })
        .await;
        (outcome, reached)
    }

    async fn transport_attempt(
        mut stream: TcpStream,
        candidate: &Candidate,
        options: &Options,
    ) -> (Outcome, Reached) {
        let config =
            transport::Config::default().with_timeouts(options.timeout, Some(options.timeout));
        let mut t = transport::Connection::initiator(config);
        let mut request = transport::ConnectRequest::default();
        request.calling_tsel = candidate.request.calling_tsel;
        request.called_tsel = candidate.request.called_tsel;
        if let Err(e) = t.connect(&request, Instant::now()) {
            return (Outcome::Failed(e.to_string()), Reached::Tcp);
        }
        let mut events = Vec::new();
        let mut buf = vec![0u8; 4096];
        let outcome = loop {
            while let Some(out) = t.poll_transmit() {
                if stream.write_all(&out).await.is_err() {
                    t.handle_transport_closed(Instant::now());
                    events.extend(std::iter::from_fn(|| t.poll_event()));
                    break;
                }
            }
            events.extend(std::iter::from_fn(|| t.poll_event()));
            if let Some(o) = super::transport_outcome_of(&events) {
                break o;
            }
            let wait = t.poll_timeout().map_or(options.timeout, |at| {
                at.saturating_duration_since(Instant::now())
            });
            match timeout(wait, stream.read(&mut buf)).await {
                Err(_) => t.handle_timeout(Instant::now()),
                Ok(Ok(0)) | Ok(Err(_)) => t.handle_transport_closed(Instant::now()),
                Ok(Ok(n)) => t.handle_input(buf.get(..n).unwrap_or_default(), Instant::now()),
            }
        };
        // Class 0 releases by closing TCP (X.224 §6.7.1.4).
        t.disconnect(Instant::now());
        let _ = stream.shutdown().await;
        let reached = if outcome.is_success() {
            Reached::Transport
        } else {
            Reached::Tcp
        };
        (outcome, reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::RefuseReason;

    fn given(t: &[u8], s: &[u8], p: &[u8]) -> Candidate {
        let request = mms_request().with_called_selectors(
            TSel::new(t).ok(),
            SSel::new(s).ok(),
            PSel::new(p).ok(),
        );
        Candidate::association("given", request)
    }

    fn refused(reason: RefusalReason) -> Outcome {
        Outcome::Refused(Refusal {
            reason,
            user_information: None,
        })
    }

    #[test]
    fn selectors_refused_as_unknown_are_not_tried_again() {
        let mut p = Probe::new(
            vec![
                given(&[1], &[9], &[1]),
                given(&[1], &[9], &[2]), // same T and S: pruned after RF 0x81
                given(&[1], &[8], &[3]),
                given(&[1], &[8], &[4]), // T, S and P 3 refused by CPR 3; P 4 is tried
                given(&[2], &[8], &[4]),
                given(&[2], &[7], &[4]), // T 2 refused by DR 3: pruned
            ],
            Options::default(),
        );
        let answers = [
            refused(RefusalReason::Session(RefuseReason::SELECTOR_UNKNOWN)),
            refused(RefusalReason::Presentation(Some(
                crate::presentation::ProviderReason::CALLED_PRESENTATION_ADDRESS_UNKNOWN,
            ))),
            Outcome::Timeout,
            refused(RefusalReason::Transport(Disconnect::Dr(
                crate::cotp::DisconnectReason::ADDRESS_UNKNOWN,
            ))),
        ];
        let mut tried = Vec::new();
        let mut answers = answers.into_iter();
        while let Some(c) = p.next_candidate() {
            tried.push(c.request.called_psel.map(|p| p.as_bytes().to_vec()));
            p.record(answers.next().unwrap(), Duration::ZERO);
        }
        let report = p.finish();
        assert_eq!(
            tried,
            [Some(vec![1]), Some(vec![3]), Some(vec![4]), Some(vec![4])]
        );
        assert_eq!(report.pruned, 2);
        assert_eq!(report.attempts[3].outcome.code(), Some(3));
        // A congested transport (DR 1) is no verdict on the selectors.
        assert_eq!(
            refused_as_unknown(&refused(RefusalReason::Transport(Disconnect::Dr(
                crate::cotp::DisconnectReason(1)
            )))),
            None
        );
    }

    fn initiator_events(close_after_cc: bool) -> Vec<Event> {
        use crate::association::{Association, Config, Dispatch};
        let now = std::time::Instant::now();
        let mut c = Association::initiator(Config::default());
        let mut s = Association::responder(Config::default(), Dispatch::default(), None);
        c.associate(AssociateRequest::mms(), now).unwrap();
        if close_after_cc {
            while let Some(b) = c.poll_transmit() {
                s.handle_input(&b, now);
            }
            while let Some(b) = s.poll_transmit() {
                c.handle_input(&b, now);
            }
        }
        c.handle_transport_closed(now);
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    #[test]
    fn a_close_without_a_refusal_pdu_says_how_far_the_attempt_got() {
        let ev = initiator_events(false);
        assert_eq!(reached_of(&ev), Reached::Tcp);
        let o = outcome_of(&ev).unwrap();
        assert_eq!(
            o,
            Outcome::Closed {
                after: Reached::Tcp
            }
        );
        assert_eq!((o.layer(), o.layer_name()), (Some(Layer::Cotp), "cotp"));
        let ev = initiator_events(true);
        assert_eq!(reached_of(&ev), Reached::Transport);
        let o = outcome_of(&ev).unwrap();
        assert_eq!(
            o,
            Outcome::Closed {
                after: Reached::Transport
            }
        );
        assert_eq!((o.layer(), o.layer_name()), (None, "upper"));
        assert!(o.to_string().contains("after the cn"), "{o}");
        assert_eq!(refused_as_unknown(&o), None);
    }
}
