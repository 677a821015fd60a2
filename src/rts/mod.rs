//! The RTS machine (X.228 reliable transfer on an association): see [`Rts`].
//!
//! # Where it sits
//!
//! ```text
//!  rts::Rts                  this module: RT-OPEN/TRANSFER/TURN/CLOSE/ABORT on an association
//!    └─ association::Association   presentation + ACSE, session, transport machines
//!  rtse (codec)              RTORQ, RTOAC, RTORJ, RTTP, RTTR, RTAB: bytes only, no state
//! ```
//!
//! The RTSE APDU codec stays in [`crate::rtse`] beside the other codecs (tpkt, cotp, session,
//! presentation, acse): it holds no state and depends on nothing above BER. The machine that
//! uses it composes an [`Association`], so it lives one floor above `association`, in a module
//! of its own, as the association composes the session and transport machines below it.
//! [`crate::rtse`] re-exports everything here under its old paths.
//!
//! ```
//! use osi_stack::Limits;
//! use osi_stack::rts::{ConnectorProfile, RtsSettings, X400Mode};
//! use osi_stack::rtse::Rtorq;
//!
//! // An X.400 connector with Exchange's defaults, to an MTA with text selectors.
//! let profile = ConnectorProfile::new("\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9".parse()?);
//! assert_eq!(profile.mode, X400Mode::Normal1988);
//! let settings = RtsSettings::from_profile(&profile);
//! assert_eq!((settings.checkpoint_size_kb, settings.window_size), (30, 5));
//!
//! // The RTORQ it proposes (in the AARQ's user-information), without RTSE-user data.
//! let mut bytes = Vec::new();
//! profile.rtorq(None).encode(&mut bytes)?;
//! let rtorq = Rtorq::decode(&bytes, &Limits::default())?;
//! assert_eq!((rtorq.checkpoint_size, rtorq.window_size), (Some(30), Some(5)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

//!
//! # Interoperability settings learned from ISODE
//!
//! ISODE 8 (the reference OSI stack) deviates from the Recommendations in ways an X.400 MTA
//! meets; each is a documented setting with a default that interoperates
//! (`testdata/captures/isode/README.md`, replayed by `tests/isode_replay.rs`):
//!
//! | ISODE does | setting | default |
//! |---|---|---|
//! | requires the RTSE context to use abstract syntax 2.3.0 ("rtse pci version 1") instead of X.228's 2.3.2 | [`ConnectorProfile::rtse_syntax`] ([`RtseSyntax`]); on receipt all three RTSE syntaxes are recognised | id-as-mta-rtse (X.419, what X.400 MTAs use) |
//! | rejects more than 512 octets of session user data in an AC, though it writes them | [`Config::accept_user_data_limit`](crate::association::Config::accept_user_data_limit) | 512 in [`ConnectorProfile::config`], none otherwise |
//! | tags its provider-abort RTAB `36` (UNIVERSAL 22) instead of `b6` | [`RtsSettings::tolerate_isode_rtab`] ([`Rtab::decode_tolerant`]) | tolerated, and said in [`RtsEvent::Aborted`] ([`RtsAbortCause::IsodeRtab`]) |
//! | passes the turn only by S-CONTROL-GIVE while no activity is in progress | none: this is X.228's mapping ([Turns](Rts#turns)) | |
//!
//! # MTA-bind
//!
//! [`MtaBind`] and [`MtaBindError`] are a minimal X.411 MTA-bind: the connector's local MTA
//! name and password travel in the RTORQ's `open` ([`ConnectorProfile::mta_bind_argument`]),
//! a responder checks the remote ones ([`ConnectorProfile::check_mta_bind`]) and answers with
//! its own in the RTOAC, or refuses with an MTABindError in the RTORJ. Each goes on the wire
//! inside the X.880 bind operation's tag (`[16]` argument, `[17]` result, `[18]` error) as the
//! X.400 captures show; the decoders also read the bare values ([`MtaBindForm`]).

mod mta_bind;
mod profile;

pub use mta_bind::{MtaBind, MtaBindError, MtaBindForm};
pub use profile::{ConnectorProfile, RtseSyntax, X400Mode};

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::association::{
    Abort, AcceptResponse, AssociateIndication, AssociateRequest, Association, Config, Dispatch,
    Event, OldConnection, Refusal, Rejection, ServiceError,
};
use crate::error::{DecodeError, EncodeError};
use crate::limits::Limits;
use crate::oid::Oid;
use crate::presentation::ContextId;
use crate::session::{SessionUserRequirements, TokenItem, TokenSettingItem};

use crate::rtse::{
    AbortReason, ApplicationProtocol, ConnectionData, DialogueMode, RefuseReason, Rtab, Rtoac,
    Rtorj, Rtorq, Rttp, Rttr, SessionConnectionIdentifier, SsUserReference,
};

/// The RTSE context when neither side names one: 3, what ISODE and the X.400 MTAs the
/// project met propose first after ACSE.
const DEFAULT_RTSE_CONTEXT: ContextId = ContextId::known(3);

/// RTS session functional units: half-duplex, minor synchronize, activity management,
/// exceptions (`0x0249`, ISODE's `RTS_MYREQUIRE`). X.228 uses them in both dialogue modes: the
/// turn is the data token (half-duplex; in monologue the initiator simply keeps it), each
/// transfer is an activity with minor synchronization points, and exception reports end a
/// transfer (see [Exception reports](Rts#exception-reports)). The default of
/// [`RtsSettings::session_requirements`]; see [`check_session_requirements`].
pub const RTS_REQUIREMENTS: SessionUserRequirements = SessionUserRequirements(0x0249);

/// Whether an RTS association can run on the session functional units `r` (proposed by an
/// initiator, or agreed on by a responder): `Err` names the rule broken.
///
/// - Half-duplex, minor synchronize, activity management and exceptions are all needed
///   ([`RTS_REQUIREMENTS`]): the turn is the data token, a transfer is an activity with minor
///   synchronization points, exceptions interrupt or discard it. ISODE refuses anything less
///   (`rtsap/rt2psrespond.c`: "desired session requirements unavailable") and, as initiator,
///   anything else in the accept ("desired session requirements denied").
/// - Duplex is refused: with both proposed the responder may choose duplex (this crate does, as
///   X.225 allows), and a duplex connection has no data token to be the turn.
/// - Other units (typed data, capability data, expedited data, major synchronize,
///   resynchronize, negotiated release, symmetric synchronize, data separation) are allowed:
///   RTS does not use them, and a peer answering without them still satisfies the rules above;
///   an ISODE initiator, though, aborts when its accept carries anything but `0x0249`.
///
/// ```
/// use osi_stack::rts::{check_session_requirements, RTS_REQUIREMENTS};
/// use osi_stack::session::SessionUserRequirements as R;
///
/// assert!(check_session_requirements(RTS_REQUIREMENTS).is_ok());
/// assert!(check_session_requirements(RTS_REQUIREMENTS.with(R::TYPED_DATA)).is_ok());
/// assert!(check_session_requirements(R(0x0209)).is_err()); // no activity management
/// assert!(check_session_requirements(RTS_REQUIREMENTS.with(R::DUPLEX)).is_err());
/// ```
pub fn check_session_requirements(r: SessionUserRequirements) -> Result<(), &'static str> {
    type R = SessionUserRequirements;
    if r.contains(R::DUPLEX) {
        return Err(
            "rts cannot use the duplex functional unit (the turn is the data token of \
                    half-duplex)",
        );
    }
    if !r.contains(R::HALF_DUPLEX) {
        return Err("rts needs the half-duplex functional unit (the turn is the data token)");
    }
    if !r.contains(R::MINOR_SYNCHRONIZE) {
        return Err("rts needs the minor synchronize functional unit (checkpoints)");
    }
    if !r.contains(R::ACTIVITY_MANAGEMENT) {
        return Err(
            "rts needs the activity management functional unit (one activity per \
                    transfer)",
        );
    }
    if !r.contains(R::EXCEPTIONS) {
        return Err("rts needs the exceptions functional unit");
    }
    Ok(())
}

/// Largest RTTR segment without checkpoints.
const SEGMENT: usize = 64 * 1024;

/// What one side of an RTS association wants (the RT parts of a [`ConnectorProfile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RtsSettings {
    /// X.400 conformance: normal mode or one of the X.410-1984 modes (initiator; a responder
    /// follows the CP it receives).
    pub mode: X400Mode,
    /// Checkpoint size proposed (initiator) or accepted at most (responder), in KiB.
    pub checkpoint_size_kb: u32,
    /// Window proposed or accepted at most.
    pub window_size: u32,
    /// Two-way alternate (initiator's proposal).
    pub two_way_alternate: bool,
    /// The initiator holds the turn first (ignored in monologue: the initiator always does).
    pub local_initial_turn: bool,
    /// After a break, how long a transfer may be resumed from its last checkpoint.
    pub recovery_timeout: Duration,
    /// Largest APDU accepted from the peer (bounded memory). Default 16 MiB.
    pub max_apdu: usize,
    /// `callingSSuserReference` of a recovering RTORQ (and of the AR's linking information).
    pub calling_reference: Bytes,
    /// `commonReference` (UTCTime characters) of a recovering RTORQ; the machine has no clock.
    pub common_reference: Bytes,
    /// Time allowed per KiB of an APDU (at least one KiB) from activity start or resume to
    /// activity end (Exchange's "transfer timeouts", s/KB). On expiry the activity is
    /// discarded (AD), as ISODE's `rt2ss.c` does. `None` (default): no limit.
    pub transfer_timeout_per_kb: Option<Duration>,
    /// Attempts after a discarded transfer before it is given up ([`RtsEvent::TransferFailed`]).
    /// Exchange's "max transfer retries", default 2.
    pub transfer_retries: u32,
    /// Wait after a discarded transfer before it starts again (Exchange's "transfer interval",
    /// default 120 s).
    pub transfer_interval: Duration,
    /// Accept ISODE's mis-tagged RTAB (`36 …` instead of `b6 …`, see
    /// [`Rtab::decode_tolerant`]) in a received abort, and say so in
    /// [`RtsEvent::Aborted`]'s cause ([`RtsAbortCause::IsodeRtab`]). Default `true`: the abort reason of the reference
    /// implementation is worth reading; `false` treats it as an abort without RTAB.
    pub tolerate_isode_rtab: bool,
    /// Session functional units: what [`Rts::open`] proposes in the CN, and what a responder
    /// requires of the units agreed on with the peer (it refuses the RT-OPEN otherwise, as
    /// ISODE's `rt2psrespond.c` does). Default [`RTS_REQUIREMENTS`] (`0x0249`); a value that
    /// [`check_session_requirements`] rejects makes [`Rts::open`] fail with
    /// [`RtsError::NotAllowed`] naming the rule.
    pub session_requirements: SessionUserRequirements,
}

impl Default for RtsSettings {
    fn default() -> Self {
        RtsSettings {
            mode: X400Mode::Normal1988,
            checkpoint_size_kb: 30,
            window_size: 5,
            two_way_alternate: false,
            local_initial_turn: true,
            recovery_timeout: Duration::from_secs(60),
            max_apdu: 16 << 20,
            calling_reference: Bytes::from_static(b"osi-stack-rts"),
            common_reference: Bytes::from_static(b"700101000000Z"),
            transfer_timeout_per_kb: None,
            transfer_retries: 2,
            transfer_interval: Duration::from_secs(120),
            tolerate_isode_rtab: true,
            session_requirements: RTS_REQUIREMENTS,
        }
    }
}

impl RtsSettings {
    /// The RT settings of a connector profile.
    pub fn from_profile(profile: &ConnectorProfile) -> Self {
        RtsSettings {
            mode: profile.mode,
            checkpoint_size_kb: profile.checkpoint_size_kb,
            window_size: profile.window_size,
            two_way_alternate: profile.two_way_alternate,
            local_initial_turn: profile.local_initial_turn,
            recovery_timeout: profile.recovery_timeout,
            transfer_retries: profile.transfer_retries,
            transfer_interval: profile.transfer_interval,
            session_requirements: profile.session_requirements,
            ..RtsSettings::default()
        }
    }

    /// The same settings with another checkpoint size and window.
    #[must_use]
    pub fn with_checkpoints(mut self, checkpoint_size_kb: u32, window_size: u32) -> Self {
        self.checkpoint_size_kb = checkpoint_size_kb;
        self.window_size = window_size;
        self
    }

    /// The same settings with two-way alternate on or off, and the initial turn.
    #[must_use]
    pub fn with_dialogue(mut self, two_way_alternate: bool, local_initial_turn: bool) -> Self {
        self.two_way_alternate = two_way_alternate;
        self.local_initial_turn = local_initial_turn;
        self
    }

    /// The same settings with other session functional units (see
    /// [`RtsSettings::session_requirements`]).
    #[must_use]
    pub fn with_session_requirements(mut self, requirements: SessionUserRequirements) -> Self {
        self.session_requirements = requirements;
        self
    }

    /// The same settings with another X.400 conformance mode.
    #[must_use]
    pub fn with_mode(mut self, mode: X400Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The same settings with a transfer time limit per KiB, retries and retry interval.
    #[must_use]
    pub fn with_transfer_limits(
        mut self,
        timeout_per_kb: Option<Duration>,
        retries: u32,
        interval: Duration,
    ) -> Self {
        self.transfer_timeout_per_kb = timeout_per_kb;
        self.transfer_retries = retries;
        self.transfer_interval = interval;
        self
    }

    /// The same settings with another recovery timeout.
    #[must_use]
    pub fn with_recovery_timeout(mut self, timeout: Duration) -> Self {
        self.recovery_timeout = timeout;
        self
    }
}

/// When an initiator opens again: the connector's "max open retries" and "open interval"
/// (`docs/protocol-notes.md` §6) as a sans-IO schedule for the owner's dial loop.
///
/// After a broken association the first reopen is immediate ([`OpenSchedule::broken`]), so that
/// an interrupted transfer can still be resumed within the recovery timeout; each failed open
/// (transport not connected, refused, aborted before [`RtsEvent::Opened`]) waits the open
/// interval, and after `retries` failures in a row the owner gives up (non-delivery).
///
/// ```
/// use std::time::{Duration, Instant};
/// use osi_stack::rtse::OpenSchedule;
/// let now = Instant::now();
/// let mut s = OpenSchedule::new(2, Duration::from_secs(600));
/// assert_eq!(s.broken(now), now);
/// assert_eq!(s.failed(now), Some(now + Duration::from_secs(600)));
/// assert_eq!(s.failed(now), Some(now + Duration::from_secs(600)));
/// assert_eq!(s.failed(now), None); // two retries used up
/// s.opened();
/// assert_eq!(s.failed(now), Some(now + Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSchedule {
    retries: u32,
    interval: Duration,
    failures: u32,
}

impl OpenSchedule {
    /// At most `retries` failed opens in a row, `interval` apart.
    pub fn new(retries: u32, interval: Duration) -> Self {
        OpenSchedule {
            retries,
            interval,
            failures: 0,
        }
    }

    /// The connector's open retries and open interval.
    pub fn from_profile(profile: &ConnectorProfile) -> Self {
        Self::new(profile.open_retries, profile.open_interval)
    }

    /// The association broke: when to reopen (now).
    pub fn broken(&mut self, now: Instant) -> Instant {
        now
    }

    /// An open failed: when to try again, or `None` when the retries are used up.
    pub fn failed(&mut self, now: Instant) -> Option<Instant> {
        self.failures = self.failures.saturating_add(1);
        if self.failures > self.retries {
            return None;
        }
        now.checked_add(self.interval)
    }

    /// An open succeeded: the count of failures starts again.
    pub fn opened(&mut self) {
        self.failures = 0;
    }

    /// Failed opens in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A transfer this side has to make, possibly interrupted.
#[derive(Debug, Clone)]
struct Outgoing {
    seq: u64,
    apdu: Bytes,
    /// (serial number, offset after the segment it ends) of each MIP sent.
    marks: Vec<(u64, usize)>,
    /// The last serial number confirmed by MIA (0: none).
    confirmed: u64,
    /// The activity was started or resumed on some association (so a later one resumes it).
    started: bool,
    /// Transfers discarded after their time limit so far.
    discards: u32,
}

impl Outgoing {
    fn activity_id(&self) -> [u8; 6] {
        activity_id(self.seq)
    }

    fn confirmed_offset(&self) -> Option<usize> {
        offset_of(&self.marks, self.confirmed)
    }

    fn forget_checkpoints(&mut self) {
        self.marks.clear();
        self.confirmed = 0;
        self.started = false;
    }
}

fn activity_id(seq: u64) -> [u8; 6] {
    let mut id = [b'0'; 6];
    let mut n = seq % 1_000_000;
    for d in id.iter_mut().rev() {
        *d = b'0'.saturating_add(u8::try_from(n % 10).unwrap_or(0));
        n /= 10;
    }
    id
}

/// The offset after the segment that minor sync point `serial` ends (0 for serial 0), if it is
/// still known.
fn offset_of(marks: &[(u64, usize)], serial: u64) -> Option<usize> {
    if serial == 0 {
        return Some(0);
    }
    marks.iter().find(|(s, _)| *s == serial).map(|(_, o)| *o)
}

/// Minor sync points a receiver remembers (the newest); a resume from an older one is answered
/// as an unknown activity (rule 3), which restarts the transfer.
const MARKS_KEPT: usize = 256;

/// Truncates an interrupted incoming transfer to its last confirmed checkpoint (rule 1); `None`
/// when that checkpoint is no longer known.
fn keep_confirmed(mut inc: Incoming) -> Option<Incoming> {
    let keep = offset_of(&inc.marks, inc.confirmed)?;
    inc.data.truncate(keep);
    let confirmed = inc.confirmed;
    inc.marks.retain(|(s, _)| *s <= confirmed);
    Some(inc)
}

/// An incoming transfer.
#[derive(Debug, Clone)]
struct Incoming {
    id: Bytes,
    data: Vec<u8>,
    /// (serial number, octets received before it) of each MIP received.
    marks: Vec<(u64, usize)>,
    /// The last serial number confirmed with MIA.
    confirmed: u64,
    /// Already delivered (rule 4): take it through, deliver nothing.
    duplicate: bool,
}

/// What survives an association: the transfers to make (the one in progress with its
/// checkpoints first), the part of an incoming transfer up to its last confirmed checkpoint,
/// and the identifier of the last transfer delivered. See [`Rts`].
#[derive(Debug, Clone, Default)]
pub struct TransferState {
    queue: VecDeque<Outgoing>,
    next_seq: u64,
    incoming: Option<Incoming>,
    last_delivered: Option<Bytes>,
    broken_at: Option<Instant>,
}

impl TransferState {
    /// An empty state (a new peer).
    pub fn new() -> Self {
        TransferState::default()
    }

    /// APDUs waiting to be transferred (including one in progress).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Whether a transfer was interrupted after at least one confirmed checkpoint.
    pub fn has_checkpoint(&self) -> bool {
        self.queue.front().is_some_and(|o| o.confirmed > 0)
    }

    /// Whether nothing was ever queued, received or delivered with this state.
    fn is_fresh(&self) -> bool {
        self.queue.is_empty()
            && self.next_seq == 0
            && self.incoming.is_none()
            && self.last_delivered.is_none()
    }

    /// Queues an APDU for the next association; returns its sequence number.
    pub fn push(&mut self, apdu: Bytes) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.queue.push_back(Outgoing {
            seq,
            apdu,
            marks: Vec::new(),
            confirmed: 0,
            started: false,
            discards: 0,
        });
        seq
    }
}

/// An RTS association opened by the peer (responder): answer with [`Rts::accept`] or
/// [`Rts::reject`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenIndication {
    /// Checkpoint size proposed (KiB).
    pub checkpoint_size_kb: i64,
    /// Window proposed.
    pub window_size: i64,
    /// Dialogue mode proposed.
    pub dialogue_mode: DialogueMode,
    /// `open` user data (e.g. an MTA-bind), one BER value.
    pub user_data: Option<Bytes>,
    /// `recover`: the old connection's calling reference and common reference. The owner
    /// passes the [`TransferState`] it kept for that peer to [`Rts::accept`].
    pub recover: Option<(Bytes, Bytes)>,
    /// Who calls: the A-ASSOCIATE indication below (the peer's IP address, the calling and
    /// called T-, S- and P-selectors, the calling AP-title and AE-qualifier, and the
    /// [`Dispatch`] service the request matched).
    pub associate: Box<AssociateIndication>,
}

/// The negotiated RTS parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opened {
    /// Checkpoint size in KiB (0 = no checkpoints).
    pub checkpoint_size_kb: u32,
    /// Window.
    pub window_size: u32,
    /// Dialogue mode.
    pub dialogue_mode: DialogueMode,
    /// Whether this side holds the turn.
    pub turn: bool,
    /// Whether the association resumes an interrupted one (`recover`).
    pub recovering: bool,
    /// Initiator: the RTSE-user data of the peer's RTOAC (`open`, e.g. the P1 MTA-bind
    /// result); `None` when it sent none, and always on the responder.
    pub user_data: Option<Bytes>,
}

/// What an [`Rts`] tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtsEvent {
    /// Responder: a peer opens; answer with [`Rts::accept`] or [`Rts::reject`].
    OpenIndication(Box<OpenIndication>),
    /// The RTS association is open (RT-OPEN confirmation or after accepting).
    Opened(Opened),
    /// The peer refused to open (initiator).
    Refused {
        /// The RTORJ's refuseReason, if the peer's RTSE sent one (X.410-1984 mode; in normal
        /// mode RTORJ has no reason field).
        refuse_reason: Option<RefuseReason>,
        /// The RTORJ's `userDataRJ` (e.g. the P1 MTA-bind error), if any.
        user_data: Option<Bytes>,
        /// The refusal, typed: the layer that refused and its diagnostic (DR reason, RF
        /// reason, CPR provider reason, AARE result and diagnostic, X.410 `PRefuse`).
        refusal: Refusal,
    },
    /// Responder: this side refused an incoming association before RTSE saw it (no
    /// [`Dispatch`] service matched a selector or AP-title, the calling-address policy failed,
    /// or the request was invalid); [`RtsEvent::Closed`] follows.
    Rejected(Rejection),
    /// Responder: this side's RTSE refused the RT-OPEN by itself, before the user saw it,
    /// with an RTORJ whose refuse reason is `reason` (on the wire in X.410-1984 mode, where
    /// RTORJ carries one; in an AARE with result rejected-permanent in normal mode);
    /// [`RtsEvent::Closed`] follows.
    OpenRefused {
        /// The refuse reason of the RTORJ.
        reason: RefuseReason,
        /// Why.
        cause: OpenRefusal,
    },
    /// A complete APDU from the peer, exactly the octets it transferred, delivered once.
    Received(Bytes),
    /// The peer confirmed the transfer with this sequence number (AEA).
    Confirmed {
        /// The value [`Rts::transfer`] returned.
        seq: u64,
    },
    /// The transfer with this sequence number exceeded its time limit more often than
    /// [`RtsSettings::transfer_retries`] allows and was given up (non-delivery).
    TransferFailed {
        /// The value [`Rts::transfer`] returned.
        seq: u64,
    },
    /// This side holds the turn now.
    TurnGiven,
    /// The peer asks for the turn (RTTP).
    TurnPlease {
        /// The priority of the request.
        priority: i64,
    },
    /// The association was released in order.
    Released,
    /// The association was aborted or broke (by either side, a protocol error, or the transport
    /// connection closing).
    Aborted {
        /// What happened, typed; its `Display` is for people.
        cause: RtsAbortCause,
        /// The RTAB's abort reason, if the peer's RTSE sent one.
        rtab: Option<AbortReason>,
    },
    /// The machine is finished: send the remaining transmits, close the transport connection,
    /// then [`Rts::take_state`]. Always the last event.
    Closed,
}

/// Why this side's RTSE refused an RT-OPEN by itself: the cause of [`RtsEvent::OpenRefused`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenRefusal {
    /// The RT-OPEN carried no RTORQ (no ACSE user information, or an X.410-1984-mode
    /// connect without parameters).
    MissingRtorq,
    /// The RTORQ did not decode: the error names the layer, the offset and what was wrong.
    InvalidRtorq(DecodeError),
    /// The session functional units the accept would agree on cannot carry RTS (see
    /// [`check_session_requirements`]) or lack units this side requires
    /// ([`RtsSettings::session_requirements`]), as ISODE's responder refuses them too.
    SessionUnits {
        /// The units the session accept would agree on.
        agreed: SessionUserRequirements,
        /// The units this side requires.
        required: SessionUserRequirements,
    },
}

impl fmt::Display for OpenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenRefusal::MissingRtorq => f.write_str("the rt-open carried no rtorq"),
            OpenRefusal::InvalidRtorq(e) => write!(f, "the rtorq is invalid: {e}"),
            OpenRefusal::SessionUnits { agreed, required } => {
                match check_session_requirements(*agreed) {
                    Err(why) => write!(
                        f,
                        "the session units agreed ({:#06x}) cannot carry rts: {why}",
                        agreed.0
                    ),
                    Ok(()) => write!(
                        f,
                        "the session units agreed ({:#06x}) lack units this side requires ({:#06x})",
                        agreed.0, required.0
                    ),
                }
            }
        }
    }
}

/// Why an RTS association was aborted or broke: the cause of [`RtsEvent::Aborted`].
///
/// The RTAB's own abort reason (X.228 `AbortReason`), when the peer's RTSE sent one, is beside
/// it in the event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtsAbortCause {
    /// The association below ended abnormally, as its typed [`Abort`] says: the peer's
    /// RT-U-ABORT or RT-P-ABORT (ABRT, ARU, ARP), a session AB, the transport connection
    /// closing (DR, ER, TCP), a wait that ran out, a PDU a lower layer could not decode (its
    /// [`DecodeError`] names layer and offset), or this side's own abort.
    Association(Abort),
    /// As [`Self::Association`], the peer's RTAB tagged `36` (UNIVERSAL 22) as ISODE does
    /// instead of `b6`, and read anyway ([`RtsSettings::tolerate_isode_rtab`],
    /// [`Rtab::decode_tolerant`]).
    IsodeRtab(Abort),
    /// Initiator: the AARE (X.410 mode: the CPA) carries no RTOAC, or one that does not decode
    /// (the error, when there was one to decode); this side aborts with RTAB protocolError
    /// (X.228 §7.1: an RT-OPEN confirmation needs the RTOAC).
    InvalidRtoac(Option<DecodeError>),
    /// This side could not send the transfer in progress; it aborts with RTAB
    /// localSystemProblem.
    TransferFailed(RtsError),
}

impl RtsAbortCause {
    /// The association's abort, when the association below reported one.
    pub fn association_abort(&self) -> Option<&Abort> {
        match self {
            RtsAbortCause::Association(a) | RtsAbortCause::IsodeRtab(a) => Some(a),
            _ => None,
        }
    }
}

impl std::fmt::Display for RtsAbortCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RtsAbortCause::Association(a) => write!(f, "{a}"),
            RtsAbortCause::IsodeRtab(a) => write!(
                f,
                "{a} (rtab tagged 36, as isode does, instead of b6: tolerated)"
            ),
            RtsAbortCause::InvalidRtoac(_) => f.write_str("rtse: the aare carries no valid rtoac"),
            RtsAbortCause::TransferFailed(e) => write!(f, "rtse: transfer failed: {e}"),
        }
    }
}

/// Why an RTS request cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtsError {
    /// The request is not valid now.
    #[error("rtse: {request} is not allowed: {reason}")]
    NotAllowed {
        /// The request.
        request: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The association below refused the request.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Opening,
    AwaitAnswer,
    Open,
    Closing,
    Closed,
}

/// One RTS association: the reliable transfer procedures (X.228 RTSE as ISODE and Exchange use it,
/// `docs/protocol-notes.md` §3–4, §6) as a sans-IO machine on top of an
/// [`Association`]: open, turn management, transfer of APDUs as session activities with minor
/// synchronization points and a window, recovery after a broken association, close and abort.
///
/// [`Rts`] owns one [`Association`] and is driven like it: feed bytes with
/// [`Rts::handle_input`], send [`Rts::poll_transmit`], read [`Rts::poll_event`], call
/// [`Rts::handle_timeout`] at [`Rts::poll_timeout`]. What must survive the association (the
/// queue of APDUs to send, the checkpoints of an interrupted transfer, the data received up to
/// the last confirmed checkpoint) is a [`TransferState`]: take it with
/// [`Rts::take_state`] after [`RtsEvent::Closed`] and give it to the next `Rts` with the same
/// peer.
///
/// Two MTAs in memory, one message:
///
/// ```
/// use std::time::Instant;
/// use bytes::Bytes;
/// use osi_stack::association::{Config, Dispatch};
/// use osi_stack::rtse::{ConnectorProfile, Rts, RtsEvent, RtsSettings, TransferState};
///
/// let now = Instant::now();
/// let profile = ConnectorProfile::new("\"mta\"/\"mta\"/\"mta\"/Internet=192.0.2.9".parse()?);
/// let settings = RtsSettings::from_profile(&profile);
/// let mut a = Rts::initiator(profile.config(), settings.clone(), TransferState::new());
/// let mut b = Rts::responder(Config::default(), Dispatch::default(), None, settings);
/// a.open(profile.associate_request(None)?.expect("normal mode"), None, now)?;
/// let seq = a.transfer(Bytes::from_static(b"a message"), now)?;
/// let (mut received, mut confirmed) = (Vec::new(), false);
/// for _ in 0..10 {
///     while let Some(bytes) = a.poll_transmit() {
///         b.handle_input(&bytes, now);
///     }
///     while let Some(event) = b.poll_event() {
///         match event {
///             RtsEvent::OpenIndication(_) => b.accept(None, now)?,
///             RtsEvent::Received(m) => received.push(m),
///             _ => {}
///         }
///     }
///     while let Some(bytes) = b.poll_transmit() {
///         a.handle_input(&bytes, now);
///     }
///     while let Some(event) = a.poll_event() {
///         confirmed |= event == RtsEvent::Confirmed { seq };
///     }
/// }
/// assert_eq!(received, [Bytes::from_static(b"a message")]);
/// assert!(confirmed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Open
///
/// 1988 normal mode ([`X400Mode::Normal1988`]): the RTORQ travels as AARQ user-information on
/// the RTSE context (id-as-mta-rtse, context 3 of [`ConnectorProfile::associate_request`]), the
/// RTOAC as AARE user-information, RTTR segments as OCTET STRINGs in P-DATA on that context,
/// the RTTP as a PDV of the PT's user data, the RTAB as ABRT user-information.
/// X.410-1984 mode ([`X400Mode::Mode1984`], [`X400Mode::X410Mode1988`]; `docs/protocol-notes.md`
/// §5): the RTORQ components are the CP's `PConnect` parameters (with `applicationProtocol` 1,
/// P1 1984, or 12, mts-transfer-protocol, for 1988 P1 — the latter value has a single
/// source, Wireshark: `docs/protocol-notes.md` §3), the RTOAC components the CPA's, segments are the raw S-DATA user data, the RTTP
/// INTEGER is the raw PT user data and the RTAB components form the ARU `AbortInformation`. The session functional units are half-duplex, minor synchronize,
/// activity management and exceptions (`0x0249`, ISODE's `RTS_MYREQUIRE`). The responder
/// answers checkpoint size = min(proposal, own) and window = min(proposal, own) (ISODE
/// `rt2ssrespond.c`); the dialogue mode is the initiator's. The turn is every available session
/// token: the initiator holds it first unless `local_initial_turn` is false (Token Setting
/// Item: all tokens on the responder's side); in monologue the initiator always starts with it
/// and only the initiator transfers.
///
/// # Turns
///
/// X.228 (11/88) maps the turn services onto presentation (and so session) services in its
/// clause 8, "Mapping to used services"; the turn-please and turn-giving procedures are
/// elements of procedure in its clause 7 (clause titles from the Recommendation's table of
/// contents, CCITT Blue Book Fascicle VIII.5). The turn-please procedure is §7.4 (the RTTPapdu
/// in §7.4.2, its priority in §7.4.4.1; the transfer's RTTRapdu is §7.3.2), as a vendor's
/// X.228 PICS proforma cites them (Tandem OSI PICS Manual, "RTSE for MHS"). The sub-clause of
/// clause 8 that holds the mapping below could not be consulted for this crate, so the table
/// states it as ISODE's `rtsap/rt2ps.c` implements it and the ISODE captures show it:
///
/// | RTSE service | used service | when |
/// |---|---|---|
/// | RT-TURN-GIVE | P-CONTROL-GIVE → S-CONTROL-GIVE (GTC, answered GTA) | the activity management functional unit is selected and no activity is in progress |
/// | RT-TURN-GIVE | P-TOKEN-GIVE → S-TOKEN-GIVE (GT, Token Item) | otherwise |
/// | RT-TURN-PLEASE | P-TOKEN-PLEASE → S-TOKEN-PLEASE (PT, Token Item, RTTP in its user data) | always |
///
/// RTS always selects activity management (`0x0249`) and gives the turn only between
/// transfers, so [`Rts::turn_give`] sends GTC in practice; ISODE, in two-way alternate with
/// activity management and no activity, accepts nothing else and aborts with RTAB
/// protocolError on a GT (`testdata/captures/isode`, `osi2iso-rtse-lib-*`). [`Rts::turn_please`]
/// asks for the data token, as ISODE does (`02 11 10 01 01 c1 …`). On receipt every conformant
/// form is accepted: GTC or a GT that leaves every token on this side is
/// [`RtsEvent::TurnGiven`]; a PT for any tokens is [`RtsEvent::TurnPlease`] with the RTTP's
/// priority (0 when the PT carries none).
///
/// # Exception reports
///
/// An S-U-EXCEPTION-REPORT (ED) or S-P-EXCEPTION-REPORT (ER) during this side's transfer is
/// resolved by the sender, never by an abort: the activity is interrupted (AI) when a minor
/// synchronization point was confirmed, and resumed (AR) from it at once on the same
/// association, or discarded (AD) otherwise and started again like a transfer that ran out of
/// time (see [Time limits](Rts#time-limits)). The receiving side leaves the resolution to the
/// sender. An exception report outside a transfer has no procedure and aborts with RTAB
/// protocolError (as ISODE's `rt2ps.c` does).
///
/// # Transfer
///
/// One APDU = one activity, identified by six ASCII digits (the transfer's sequence number
/// modulo 10⁶, which stays the same when the transfer is resumed or restarted): GT AS, then
/// the APDU in RTTR segments (one P-DATA each) of checkpoint-size × 1024 octets with a MIP after
/// each segment but the last, or of at most 64 KiB without checkpoints; then GT AE. The sender
/// stops while `window` MIPs are unconfirmed. The receiver confirms each MIP (MIA) as soon as it
/// holds the data before it, delivers the APDU ([`RtsEvent::Received`]) on the AE and answers
/// AEA; the sender reports [`RtsEvent::Confirmed`] on the AEA and starts the next transfer.
///
/// # Recovery
///
/// These rules come from the protocol notes (`docs/protocol-notes.md` §4 and §6; X.228's clauses themselves
/// were not available, so they are this crate's reading, not a quotation):
///
/// 1. When the association breaks (transport closed, abort) during a transfer, the sender keeps
///    the APDU, the offsets of its minor sync points and the serial number of the last one
///    confirmed by MIA; the receiver keeps the octets up to the last minor sync point it
///    confirmed and drops the rest (§4: "discard partial data beyond the last confirmed
///    checkpoint").
/// 2. The association-initiator reopens (open retries and interval are the owner's loop,
///    [`ConnectorProfile::open_retries`] / [`ConnectorProfile::open_interval`], scheduled by
///    [`OpenSchedule`]: the first reopen after a break is immediate). Within the
///    recovery timeout of the break (§6) its RTORQ says `recover` (the old session connection
///    identifier) and the interrupted transfer is resumed with PT AR (old activity identifier,
///    serial number of the last confirmed checkpoint) from that checkpoint's offset. After the
///    timeout the RTORQ says `open`, the checkpoints are forgotten and the transfer starts again
///    from the beginning with AS (§6 "Recovery timeout").
/// 3. A responder given `open` forgets its partial data; given `recover` it keeps it (the
///    owner passes the [`TransferState`] it took from the broken association), or, having no
///    state for that connection, refuses with RTORJ `cannotRecover` ([`Rts::reject`]; §3
///    RefuseReason 1), after which the initiator forgets its checkpoints. An AR naming an
///    activity the receiver does not know, or a serial number beyond what it confirmed, is
///    answered with an RTAB `unrecognizedActivity` (§3 AbortReason 2); the sender then forgets
///    its checkpoints and starts from the beginning on the next association. (The receiver
///    remembers its newest 256 minor sync points, which bounds its memory; a sender respecting
///    a window below that never resumes from an older one.)
/// 4. Exactly once: the receiver remembers the identifier of the last activity it delivered. An
///    AS or AR for that identifier (the sender did not see the AEA before the break) is taken
///    through to its AE and answered, but not delivered again. A discarded activity (AD) is
///    dropped entirely; an interrupted one (AI) is kept as in rule 1.
///
/// Simplifications: the common reference of `recover` is a value the owner supplies
/// ([`RtsSettings::common_reference`]), since the machine has no clock; a turn asked for is
/// never given automatically (the owner decides on [`RtsEvent::TurnPlease`]).
///
/// # Time limits
///
/// With [`RtsSettings::transfer_timeout_per_kb`] a transfer that has not reached its activity
/// end in time is discarded (AD; ISODE `rt2ss.c`); after the ADA it starts again from the
/// beginning (same activity identifier) once [`RtsSettings::transfer_interval`] has passed, at
/// most [`RtsSettings::transfer_retries`] times, and is then given up with
/// [`RtsEvent::TransferFailed`]. The association's own time-outs ([`Config`]) still apply.
#[derive(Debug)]
pub struct Rts {
    assoc: Association,
    initiator: bool,
    settings: RtsSettings,
    phase: Phase,
    state: TransferState,
    rtse_context: ContextId,
    checkpoint: usize,
    window: u64,
    twa: bool,
    x410: bool,
    recovering: bool,
    /// The current outgoing activity is on this association (AS/AR sent, AE not confirmed).
    active: bool,
    /// AE sent for the current outgoing activity.
    ended: bool,
    /// The current outgoing activity must end (AE sent) before this instant.
    deadline: Option<Instant>,
    /// A discarded transfer starts again at this instant.
    retry_at: Option<Instant>,
    /// AD sent, waiting for ADA.
    discarding: bool,
    /// Octets of the current outgoing APDU sent on this association.
    offset: usize,
    /// This side aborted: what the association had still queued from the peer is dropped.
    aborted: bool,
    events: VecDeque<RtsEvent>,
    limits: Limits,
}

impl Rts {
    fn new(
        limits: Limits,
        assoc: Association,
        initiator: bool,
        settings: RtsSettings,
        state: TransferState,
    ) -> Self {
        Rts {
            assoc,
            initiator,
            settings,
            phase: Phase::Idle,
            state,
            rtse_context: DEFAULT_RTSE_CONTEXT,
            checkpoint: 0,
            window: 1,
            twa: false,
            x410: false,
            recovering: false,
            active: false,
            ended: false,
            offset: 0,
            aborted: false,
            deadline: None,
            retry_at: None,
            discarding: false,
            events: VecDeque::new(),
            limits,
        }
    }

    /// An initiator carrying `state` (a new one, or the one taken from a broken association
    /// with the same peer). Start it with [`Rts::open`] once TCP is connected.
    pub fn initiator(config: Config, settings: RtsSettings, state: TransferState) -> Self {
        Self::new(
            config.limits,
            Association::initiator(config),
            true,
            settings,
            state,
        )
    }

    /// A responder for one accepted transport connection. `state` is what this side keeps for
    /// the peer (pass [`TransferState::new`] until the peer is known: [`Rts::accept`] may
    /// replace it).
    pub fn responder(
        config: Config,
        dispatch: Dispatch,
        peer_ip: Option<std::net::IpAddr>,
        settings: RtsSettings,
    ) -> Self {
        Self::new(
            config.limits,
            Association::responder(config, dispatch, peer_ip),
            false,
            settings,
            TransferState::new(),
        )
    }

    /// Octets this machine holds from the peer: the association's input being reassembled
    /// and the part of an incoming transfer received so far (at most
    /// [`RtsSettings::max_apdu`]). A driver counts them against a memory budget.
    pub fn buffered_input(&self) -> usize {
        self.assoc
            .buffered_input()
            .saturating_add(self.state.incoming.as_ref().map_or(0, |i| i.data.len()))
    }

    /// The association below (read-only).
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// Whether the RTS association is open.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Whether the machine is finished.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether this side holds the turn.
    pub fn has_turn(&self) -> bool {
        let available = self.assoc.available_tokens();
        available != TokenItem::default() && self.assoc.tokens() == available
    }

    /// The transfer state (queue, checkpoints, partial input).
    pub fn state(&self) -> &TransferState {
        &self.state
    }

    /// Takes the transfer state out (after [`RtsEvent::Closed`]) for the next association
    /// with the same peer; `now` marks when the association broke, for the recovery timeout.
    pub fn take_state(&mut self, now: Instant) -> TransferState {
        let mut s = core::mem::take(&mut self.state);
        if s.broken_at.is_none() {
            s.broken_at = Some(now);
        }
        s
    }

    /// RT-OPEN request (initiator, after TCP connected): A-ASSOCIATE with the RTORQ, built
    /// from `request` (e.g. [`ConnectorProfile::associate_request`]'s, whose user information
    /// is replaced). `open` is the RTSE-user data (the MTA-bind). Recovers when the state holds
    /// an interrupted transfer broken less than the recovery timeout ago (rule 2).
    pub fn open(
        &mut self,
        mut request: AssociateRequest,
        open: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), RtsError> {
        if self.phase != Phase::Idle || !self.initiator {
            return Err(RtsError::NotAllowed {
                request: "open",
                reason: "only a new initiator opens",
            });
        }
        check_session_requirements(self.settings.session_requirements).map_err(|reason| {
            RtsError::NotAllowed {
                request: "open",
                reason,
            }
        })?;
        let within = self.state.broken_at.is_none_or(|at| {
            now.checked_duration_since(at)
                .is_none_or(|d| d <= self.settings.recovery_timeout)
        });
        let resumable =
            self.state.queue.front().is_some_and(|o| o.started) || self.state.incoming.is_some();
        self.recovering = resumable && within;
        if !self.recovering {
            if let Some(o) = self.state.queue.front_mut() {
                o.forget_checkpoints();
            }
            self.state.incoming = None;
        }
        self.state.broken_at = None;
        let recover = SessionConnectionIdentifier {
            calling_ss_user_reference: SsUserReference::OctetString(
                &self.settings.calling_reference,
            ),
            common_reference: &self.settings.common_reference,
            additional_reference_information: None,
        };
        let mut rq = Rtorq::new(if self.recovering {
            ConnectionData::Recover(recover)
        } else {
            ConnectionData::Open(open)
        });
        rq.checkpoint_size = Some(i64::from(self.settings.checkpoint_size_kb));
        rq.window_size = Some(i64::from(self.settings.window_size));
        if self.settings.two_way_alternate {
            rq.dialogue_mode = Some(DialogueMode::TWA);
        }
        self.x410 = self.settings.mode != X400Mode::Normal1988;
        let mut info = Vec::with_capacity(rq.encoded_len());
        if self.x410 {
            rq.application_protocol = Some(if self.settings.mode == X400Mode::Mode1984 {
                ApplicationProtocol::MTS_TRANSFER_PROTOCOL_1984
            } else {
                ApplicationProtocol::MTS_TRANSFER_PROTOCOL
            });
            rq.encode_components(&mut info)?;
        } else {
            rq.encode(&mut info)?;
        }
        self.twa = self.settings.two_way_alternate;
        let setting = if self.twa && !self.settings.local_initial_turn {
            Some(TokenSettingItem(0b00_01_01_01))
        } else {
            None
        };
        self.rtse_context = request
            .contexts
            .iter()
            .find(|c| RtseSyntax::recognises(c.abstract_syntax.as_oid()))
            .or(request
                .contexts
                .iter()
                .find(|c| c.abstract_syntax.as_oid() != Oid::ACSE_ABSTRACT_SYNTAX))
            .map_or(DEFAULT_RTSE_CONTEXT, |c| c.id);
        if self.x410 {
            request.x410_parameters = Some(Bytes::from(info));
            request.user_information = None;
        } else {
            request.user_information = Some(Bytes::from(info));
            request.user_information_context = Some(self.rtse_context);
        }
        request.session_requirements = self.settings.session_requirements;
        request.token_setting = setting;
        self.assoc.associate(request, now)?;
        self.phase = Phase::Opening;
        Ok(())
    }

    /// RT-OPEN response, accepting (responder, after [`RtsEvent::OpenIndication`]). `state` is
    /// what this side kept for the peer (rule 3: with `open` its partial input is dropped, with
    /// `recover` it is kept); `None` keeps the current one. The RTOAC carries no RTSE-user
    /// data (`open` is `[0] IMPLICIT NULL`); see [`Rts::accept_with`]. When no open indication
    /// is outstanding (the association broke first) the request fails, and a `state` passed
    /// stays with the machine if it held none of its own: [`Rts::take_state`] gives it back.
    pub fn accept(&mut self, state: Option<TransferState>, now: Instant) -> Result<(), RtsError> {
        self.accept_with(state, None, now)
    }

    /// [`Rts::accept`] with RTSE-user data in the RTOAC's `connectionDataAC` (`open`: one BER
    /// value, e.g. the P1 MTA-bind result an X.400 responder returns).
    pub fn accept_with(
        &mut self,
        state: Option<TransferState>,
        user_data: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), RtsError> {
        if self.phase != Phase::AwaitAnswer {
            // Do not lose the owner's queued transfers with the refused request: a machine that
            // holds no state of its own keeps the one given, for `take_state`.
            if let Some(s) = state {
                if self.state.is_fresh() {
                    self.state = s;
                }
            }
            return Err(RtsError::NotAllowed {
                request: "accept",
                reason: "no open indication is outstanding",
            });
        }
        if let Some(s) = state {
            self.state = s;
        }
        self.state.broken_at = None;
        if !self.recovering {
            self.state.incoming = None;
            for o in &mut self.state.queue {
                o.forget_checkpoints();
            }
        }
        let mut ac = Rtoac::new(ConnectionData::Open(user_data));
        ac.checkpoint_size = Some(i64::try_from(self.checkpoint / 1024).unwrap_or(0));
        ac.window_size = Some(i64::try_from(self.window).unwrap_or(1));
        let mut info = Vec::with_capacity(ac.encoded_len());
        let response = if self.x410 {
            ac.encode_components(&mut info)?;
            AcceptResponse::with_x410_parameters(info)
        } else {
            ac.encode(&mut info)?;
            AcceptResponse::with_user_information(info)
        };
        self.assoc.accept(response, now)?;
        self.drain(now);
        Ok(())
    }

    /// RT-OPEN response, refusing (responder): the association is rejected with an RTORJ — in
    /// the AARE (normal mode, where RTORJ carries no reason) or as the CPR's `PRefuse`
    /// (X.410-1984 mode, with `reason`). Use [`RefuseReason::CANNOT_RECOVER`] for a `recover`
    /// this side has no state for.
    pub fn reject(&mut self, reason: RefuseReason, now: Instant) -> Result<(), RtsError> {
        self.reject_with(reason, None, now)
    }

    /// [`Rts::reject`] with RTSE-user data in the RTORJ's `userDataRJ` (one BER value, e.g. the
    /// P1 MTA-bind error an X.400 responder returns).
    pub fn reject_with(
        &mut self,
        reason: RefuseReason,
        user_data: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), RtsError> {
        self.reject_with_result(
            reason,
            user_data,
            crate::acse::AssociateResult::REJECTED_PERMANENT,
            now,
        )
    }

    /// [`Rts::reject_with`] with the AARE's associate-result chosen (normal mode):
    /// rejected-transient invites the initiator to open again later (X.227 §7.1.4.3); see
    /// [`Association::reject_with_result`]. X.410-1984 mode has no AARE: `result` is not sent.
    pub fn reject_with_result(
        &mut self,
        reason: RefuseReason,
        user_data: Option<&[u8]>,
        result: crate::acse::AssociateResult,
        now: Instant,
    ) -> Result<(), RtsError> {
        if self.phase != Phase::AwaitAnswer {
            return Err(RtsError::NotAllowed {
                request: "reject",
                reason: "no open indication is outstanding",
            });
        }
        self.refuse(reason, user_data, result, now)?;
        self.drain(now);
        Ok(())
    }

    /// Refuses an RT-OPEN this side's RTSE cannot accept (validation failure) and says why.
    fn refuse_open(&mut self, cause: OpenRefusal, now: Instant) {
        let reason = RefuseReason::VALIDATION_FAILURE;
        let result = crate::acse::AssociateResult::REJECTED_PERMANENT;
        if self.refuse(reason, None, result, now).is_ok() {
            self.events
                .push_back(RtsEvent::OpenRefused { reason, cause });
        }
    }

    fn refuse(
        &mut self,
        reason: RefuseReason,
        user_data: Option<&[u8]>,
        result: crate::acse::AssociateResult,
        now: Instant,
    ) -> Result<(), RtsError> {
        let mut info = Vec::new();
        if self.x410 {
            let rj = Rtorj {
                refuse_reason: Some(reason),
                user_data,
            };
            rj.encode_components(&mut info)?;
        } else {
            Rtorj {
                refuse_reason: None,
                user_data,
            }
            .encode(&mut info)?;
        }
        self.assoc.reject_with_result(Some(&info), result, now)?;
        self.phase = Phase::Closing;
        Ok(())
    }

    /// RT-TRANSFER request: queues `apdu` (one complete APDU, any octets) and returns its
    /// sequence number; [`RtsEvent::Confirmed`] follows when the peer confirmed it. Queued
    /// transfers survive a broken association in the [`TransferState`].
    pub fn transfer(&mut self, apdu: Bytes, now: Instant) -> Result<u64, RtsError> {
        if self.phase == Phase::Open && !self.twa && !self.initiator {
            return Err(RtsError::NotAllowed {
                request: "transfer",
                reason: "in monologue only the association-initiator transfers",
            });
        }
        let seq = self.state.push(apdu);
        self.pump(now);
        Ok(seq)
    }

    /// RT-TURN-PLEASE: S-TOKEN-PLEASE (PT) for the data token, carrying an RTTP of `priority`
    /// (two-way alternate, without the turn). See [Turns](Rts#turns).
    pub fn turn_please(&mut self, priority: i64, now: Instant) -> Result<(), RtsError> {
        if self.phase != Phase::Open || !self.twa {
            return Err(RtsError::NotAllowed {
                request: "turn_please",
                reason: "needs an open two-way-alternate association",
            });
        }
        if self.has_turn() {
            return Err(RtsError::NotAllowed {
                request: "turn_please",
                reason: "this side holds the turn",
            });
        }
        let mut rttp = Vec::new();
        Rttp { priority }.encode(&mut rttp)?;
        let peer_holds = TokenItem(self.assoc.available_tokens().0 & !self.assoc.tokens().0);
        // The data token stands for the turn (ISODE asks for it alone); should the peer hold
        // only other tokens, ask for those.
        let wanted = if peer_holds.0 & TokenItem::DATA.0 != 0 {
            TokenItem::DATA
        } else {
            peer_holds
        };
        self.assoc
            .please_tokens(wanted, Some((self.rtse_context, &rttp)), now)?;
        Ok(())
    }

    /// RT-TURN-GIVE (two-way alternate, with the turn, between transfers): S-CONTROL-GIVE (GTC,
    /// every token) where the activity management functional unit is selected and no activity
    /// is in progress, else S-TOKEN-GIVE (GT) of every token this side holds. See
    /// [Turns](Rts#turns).
    pub fn turn_give(&mut self, now: Instant) -> Result<(), RtsError> {
        if self.phase != Phase::Open || !self.twa {
            return Err(RtsError::NotAllowed {
                request: "turn_give",
                reason: "needs an open two-way-alternate association",
            });
        }
        if self.active || self.discarding {
            return Err(RtsError::NotAllowed {
                request: "turn_give",
                reason: "a transfer is in progress",
            });
        }
        if !self.has_turn() {
            return Err(RtsError::NotAllowed {
                request: "turn_give",
                reason: "this side does not hold the turn",
            });
        }
        let activities = self
            .assoc
            .session_requirements()
            .contains(SessionUserRequirements::ACTIVITY_MANAGEMENT);
        if activities && !self.assoc.in_activity() {
            self.assoc.give_control(now)?;
        } else {
            let held = self.assoc.tokens();
            self.assoc.give_tokens(held, now)?;
        }
        Ok(())
    }

    /// RT-CLOSE: A-RELEASE (needs the turn and no transfer in progress).
    pub fn close(&mut self, now: Instant) -> Result<(), RtsError> {
        if self.phase != Phase::Open || self.active {
            return Err(RtsError::NotAllowed {
                request: "close",
                reason: "needs an open association and no transfer in progress",
            });
        }
        self.assoc.release(now)?;
        self.phase = Phase::Closing;
        Ok(())
    }

    /// RT-U-ABORT: A-ABORT carrying an RTAB (`reason`, default userError when `None`).
    pub fn abort(&mut self, reason: Option<AbortReason>, now: Instant) -> Result<(), RtsError> {
        let rtab = Rtab {
            abort_reason: Some(reason.unwrap_or(AbortReason::USER_ERROR)),
            reflected_parameter: None,
            user_data: None,
        };
        let mut info = Vec::with_capacity(rtab.encoded_len());
        if self.x410 {
            rtab.encode_components(&mut info)?;
        } else {
            rtab.encode(&mut info)?;
        }
        // Set first: also when the association cannot send the abort any more (it is closing),
        // what it still has queued from the peer belongs to an association this user gave up.
        self.aborted = true;
        self.assoc.abort_with(Some(&info), now)?;
        if self.phase != Phase::Closed {
            self.phase = Phase::Closing;
        }
        self.drain(now);
        Ok(())
    }

    /// Aborts because a timer of the driver ran out (the tokio adapter's connect, idle or io
    /// timer; see [`Association::abort_on_timeout`]): an RT-P-ABORT, on the wire an ABRT from
    /// the ACSE provider (no RTAB). [`RtsEvent::Aborted`] follows with
    /// [`RtsAbortCause::Association`] naming the timer
    /// ([`Timeout::Driver`](crate::association::Timeout::Driver)).
    pub fn abort_on_timeout(
        &mut self,
        which: crate::association::TimerKind,
        now: Instant,
    ) -> Result<(), RtsError> {
        self.aborted = true;
        self.assoc.abort_on_timeout(which, now)?;
        if self.phase != Phase::Closed {
            self.phase = Phase::Closing;
        }
        self.drain(now);
        Ok(())
    }

    /// Bytes received from the transport connection.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        self.assoc.handle_input(data, now);
        self.drain(now);
    }

    /// The transport connection was accepted (responder).
    pub fn handle_transport_accepted(&mut self, now: Instant) {
        self.assoc.handle_transport_accepted(now);
    }

    /// The transport connection closed or was cut.
    pub fn handle_transport_closed(&mut self, now: Instant) {
        self.assoc.handle_transport_closed(now);
        self.drain(now);
    }

    /// A timer expired: the association's, the transfer time limit (the activity is discarded)
    /// or the wait before a discarded transfer starts again.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.assoc.handle_timeout(now);
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
        }
        if self.deadline.is_some_and(|at| now >= at) && self.active && !self.ended {
            self.deadline = None;
            match self
                .assoc
                .activity_discard(crate::session::ActivityReason::LOCAL_USER_ERROR, now)
            {
                Ok(()) => self.discarding = true,
                Err(_) => self.fail(AbortReason::LOCAL_SYSTEM_PROBLEM, now),
            }
        }
        self.drain(now);
    }

    /// When to call [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.assoc.poll_timeout(), self.deadline, self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.assoc.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RtsEvent> {
        self.events.pop_front()
    }

    // ------------------------------------------------------------------------------------

    fn fail(&mut self, reason: AbortReason, now: Instant) {
        let _ = self.abort(Some(reason), now);
    }

    /// Processes the association's events.
    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.assoc.poll_event() {
            self.on_event(e, now);
        }
        self.pump(now);
        // Sending may have produced events (none today) or errors reported as aborts.
        while let Some(e) = self.assoc.poll_event() {
            self.on_event(e, now);
        }
    }

    fn on_event(&mut self, e: Event, now: Instant) {
        if self.aborted && !matches!(e, Event::Aborted(_) | Event::Closed) {
            // Queued before this side aborted (e.g. a PT behind an AC without a valid RTOAC):
            // the association is gone, so nothing more is reported.
            return;
        }
        match e {
            Event::TransportConnected { .. } => {}
            Event::Rejected(r) => self.events.push_back(RtsEvent::Rejected(*r)),
            Event::AssociateIndication(ind) => self.on_indication(&ind, now),
            Event::Associated(a) => {
                let info = a
                    .x410_parameters
                    .as_deref()
                    .or(a.user_information.as_deref());
                self.on_associated(info, now)
            }
            Event::Refused(r) => {
                // A refused recovery is not retried (rule 3).
                if self.recovering {
                    if let Some(o) = self.state.queue.front_mut() {
                        o.forget_checkpoints();
                    }
                }
                self.phase = Phase::Closing;
                let rj = r.user_information.as_deref().and_then(|u| {
                    if self.x410 {
                        Rtorj::decode_components(u, &self.limits).ok()
                    } else {
                        Rtorj::decode(u, &self.limits).ok()
                    }
                });
                self.events.push_back(RtsEvent::Refused {
                    refuse_reason: rj.and_then(|rj| rj.refuse_reason),
                    user_data: rj.and_then(|rj| rj.user_data).map(Bytes::copy_from_slice),
                    refusal: *r,
                });
            }
            Event::Data(d) => self.on_data(d.context_id, &d.value, now),
            // Turns exist only on an open RTS association (not while opening or closing).
            Event::TokensGiven(_) | Event::TokensPlease { .. } if self.phase != Phase::Open => {}
            // The turn arrives by S-CONTROL-GIVE (GTC, answered GTA by the session machine) or
            // by S-TOKEN-GIVE (GT); both are accepted whatever this side would send.
            Event::TokensGiven(_) | Event::ControlGiven => {
                if self.has_turn() {
                    self.events.push_back(RtsEvent::TurnGiven);
                }
                self.pump(now);
            }
            Event::TokensPlease { data, .. } => {
                let priority = data
                    .and_then(|d| Rttp::decode(&d.value, &self.limits).ok())
                    .map_or(0, |r| r.priority);
                self.events.push_back(RtsEvent::TurnPlease { priority });
            }
            Event::ActivityStarted { id } => self.on_start(id, None, now),
            Event::ActivityResumed(r) => {
                self.on_start(r.id.clone(), Some((r.old_id, r.serial)), now)
            }
            Event::SyncMinor { serial } => {
                let Some(inc) = self.state.incoming.as_mut() else {
                    return;
                };
                inc.marks.push((serial, inc.data.len()));
                if inc.marks.len() > 2 * MARKS_KEPT {
                    let old = inc.marks.len().saturating_sub(MARKS_KEPT);
                    inc.marks.drain(..old);
                }
                inc.confirmed = serial;
                if self.assoc.sync_minor_response(serial, now).is_err() {
                    self.fail(AbortReason::PROTOCOL_ERROR, now);
                }
            }
            Event::ActivityEnd { .. } => {
                if let Some(inc) = self.state.incoming.take() {
                    if !inc.duplicate {
                        self.events
                            .push_back(RtsEvent::Received(Bytes::from(inc.data)));
                    }
                    self.state.last_delivered = Some(inc.id);
                }
                if self.assoc.activity_end_response(now).is_err() {
                    self.fail(AbortReason::PROTOCOL_ERROR, now);
                }
            }
            Event::SyncMinorConfirmed { serial } => {
                if let Some(o) = self.state.queue.front_mut() {
                    o.confirmed = o.confirmed.max(serial);
                }
            }
            Event::ActivityEnded { .. } => {
                self.active = false;
                self.ended = false;
                self.offset = 0;
                if let Some(o) = self.state.queue.pop_front() {
                    self.events.push_back(RtsEvent::Confirmed { seq: o.seq });
                }
            }
            Event::ActivityInterrupted { .. } => {
                // Keep what was confirmed (rule 1).
                self.state.incoming = self.state.incoming.take().and_then(keep_confirmed);
            }
            Event::ActivityDiscarded { .. } => self.state.incoming = None,
            Event::ActivityInterruptConfirmed => {
                // The transfer resumes from its last confirmed checkpoint (AR) on this
                // association, as after a break (rule 1).
                self.active = false;
                self.ended = false;
                self.offset = 0;
                self.deadline = None;
                if let Some(o) = self.state.queue.front_mut() {
                    let confirmed = o.confirmed;
                    o.marks.retain(|(s, _)| *s <= confirmed);
                }
            }
            Event::ControlGiveConfirmed => {}
            Event::ExceptionReport(report) => self.on_exception(&report, now),
            Event::ActivityDiscardConfirmed => self.on_discarded(now),
            Event::ReleaseIndication => {
                let ok = self.state.incoming.is_none();
                if self.assoc.release_response(ok, now).is_err() {
                    self.fail(AbortReason::PROTOCOL_ERROR, now);
                }
            }
            Event::Released { .. } => {
                self.phase = Phase::Closing;
                self.events.push_back(RtsEvent::Released);
            }
            Event::ReleaseRefused => self.phase = Phase::Open,
            Event::Aborted(a) => {
                let decoded = a.user_information.as_deref().and_then(|u| {
                    if self.x410 {
                        Rtab::decode_components(u, &self.limits)
                            .ok()
                            .map(|r| (r, false))
                    } else if self.settings.tolerate_isode_rtab {
                        Rtab::decode_tolerant(u, &self.limits).ok()
                    } else {
                        Rtab::decode(u, &self.limits).ok().map(|r| (r, false))
                    }
                });
                let isode_tag = decoded.is_some_and(|(_, t)| t);
                let rtab = decoded.and_then(|(r, _)| r.abort_reason);
                if rtab == Some(AbortReason::UNRECOGNIZED_ACTIVITY) {
                    // The receiver cannot resume: start from the beginning next time (rule 3).
                    if let Some(o) = self.state.queue.front_mut() {
                        o.forget_checkpoints();
                    }
                }
                if self.phase != Phase::Closed {
                    self.phase = Phase::Closing;
                }
                let cause = if isode_tag {
                    RtsAbortCause::IsodeRtab(*a)
                } else {
                    RtsAbortCause::Association(*a)
                };
                self.events.push_back(RtsEvent::Aborted { cause, rtab });
            }
            Event::Closed => self.on_closed(now),
        }
    }

    fn on_closed(&mut self, now: Instant) {
        // Rule 1: the receiver keeps what it confirmed.
        self.state.incoming = self.state.incoming.take().and_then(keep_confirmed);
        if let Some(o) = self.state.queue.front_mut() {
            o.marks.retain(|(s, _)| *s <= o.confirmed);
        }
        self.active = false;
        self.ended = false;
        self.offset = 0;
        self.deadline = None;
        self.retry_at = None;
        self.discarding = false;
        self.state.broken_at = Some(now);
        self.phase = Phase::Closed;
        self.events.push_back(RtsEvent::Closed);
    }

    fn on_indication(&mut self, ind: &crate::association::AssociateIndication, now: Instant) {
        // The RTORQ's own context first (the EXTERNAL's indirect-reference), then a context
        // whose abstract syntax names RTSE (2.6.0.2.12, 2.3.2 or ISODE's 2.3.0), then the
        // first accepted one that is not ACSE's.
        fn syntax(c: &crate::association::ContextOutcome) -> Option<Oid<'_>> {
            c.abstract_syntax.as_ref().map(|o| o.as_oid())
        }
        self.rtse_context = ind
            .user_information_context
            .filter(|id| ind.contexts.iter().any(|c| c.id == *id && c.accepted()))
            .or(ind
                .contexts
                .iter()
                .find(|c| c.accepted() && syntax(c).is_some_and(RtseSyntax::recognises))
                .map(|c| c.id))
            .or(ind
                .contexts
                .iter()
                .find(|c| c.accepted() && syntax(c) != Some(Oid::ACSE_ABSTRACT_SYNTAX))
                .map(|c| c.id))
            .unwrap_or(DEFAULT_RTSE_CONTEXT);
        self.x410 = ind.x410_parameters.is_some();
        let rq = match ind.x410_parameters.as_deref() {
            Some(p) => Some(Rtorq::decode_components(p, &self.limits)),
            None => ind
                .user_information
                .as_deref()
                .map(|u| Rtorq::decode(u, &self.limits)),
        };
        let rq = match rq {
            Some(Ok(rq)) => rq,
            Some(Err(e)) => return self.refuse_open(OpenRefusal::InvalidRtorq(e), now),
            None => return self.refuse_open(OpenRefusal::MissingRtorq, now),
        };
        // The units the accept would agree on must carry RTS (check_session_requirements) and
        // include what this side requires; otherwise refuse, as ISODE's rt2psrespond.c does
        // ("desired session requirements unavailable"), with an RTORJ the initiator can read.
        let agreed = ind.session_requirements;
        let own = self.settings.session_requirements;
        if check_session_requirements(agreed).is_err() || !agreed.contains(own) {
            let cause = OpenRefusal::SessionUnits {
                agreed,
                required: own,
            };
            return self.refuse_open(cause, now);
        }
        let own_cp = i64::from(self.settings.checkpoint_size_kb);
        let cp = rq.checkpoint_size_or_default().clamp(0, own_cp);
        let own_w = i64::from(self.settings.window_size.max(1));
        let w = rq.window_size_or_default().clamp(1, own_w);
        self.checkpoint = usize::try_from(cp).unwrap_or(0).saturating_mul(1024);
        self.window = u64::try_from(w).unwrap_or(1);
        self.twa = rq.dialogue_mode_or_default() == DialogueMode::TWA;
        let (user_data, recover) = match rq.connection_data {
            ConnectionData::Open(o) => (o.map(Bytes::copy_from_slice), None),
            ConnectionData::Recover(r) => (
                None,
                Some((
                    Bytes::copy_from_slice(r.calling_ss_user_reference.as_bytes()),
                    Bytes::copy_from_slice(r.common_reference),
                )),
            ),
        };
        self.recovering = recover.is_some();
        self.phase = Phase::AwaitAnswer;
        self.events
            .push_back(RtsEvent::OpenIndication(Box::new(OpenIndication {
                checkpoint_size_kb: rq.checkpoint_size_or_default(),
                window_size: rq.window_size_or_default(),
                dialogue_mode: rq.dialogue_mode_or_default(),
                user_data,
                recover,
                associate: Box::new(ind.clone()),
            })));
    }

    fn on_associated(&mut self, info: Option<&[u8]>, now: Instant) {
        let mut user_data = None;
        if self.initiator {
            let ac = match info.map(|u| {
                if self.x410 {
                    Rtoac::decode_components(u, &self.limits)
                } else {
                    Rtoac::decode(u, &self.limits)
                }
            }) {
                Some(Ok(ac)) => ac,
                other => {
                    self.events.push_back(RtsEvent::Aborted {
                        cause: RtsAbortCause::InvalidRtoac(other.and_then(Result::err)),
                        rtab: None,
                    });
                    self.fail(AbortReason::PROTOCOL_ERROR, now);
                    return;
                }
            };
            let own_cp = i64::from(self.settings.checkpoint_size_kb);
            let cp = ac.checkpoint_size_or_default().clamp(0, own_cp);
            let w = ac
                .window_size_or_default()
                .clamp(1, i64::from(self.settings.window_size.max(1)));
            self.checkpoint = usize::try_from(cp).unwrap_or(0).saturating_mul(1024);
            self.window = u64::try_from(w).unwrap_or(1);
            if let ConnectionData::Open(Some(d)) = ac.connection_data {
                user_data = Some(Bytes::copy_from_slice(d));
            }
        }
        self.phase = Phase::Open;
        self.events.push_back(RtsEvent::Opened(Opened {
            checkpoint_size_kb: u32::try_from(self.checkpoint / 1024).unwrap_or(0),
            window_size: u32::try_from(self.window).unwrap_or(1),
            dialogue_mode: if self.twa {
                DialogueMode::TWA
            } else {
                DialogueMode::MONOLOGUE
            },
            turn: self.has_turn(),
            recovering: self.recovering,
            user_data,
        }));
    }

    fn on_start(&mut self, id: Bytes, resume: Option<(Bytes, u64)>, now: Instant) {
        let delivered = self.state.last_delivered.as_ref();
        match resume {
            None => {
                let duplicate = delivered == Some(&id);
                self.state.incoming = Some(Incoming {
                    id,
                    data: Vec::new(),
                    marks: Vec::new(),
                    confirmed: 0,
                    duplicate,
                });
            }
            Some((old_id, serial)) => {
                if delivered == Some(&old_id) {
                    self.state.incoming = Some(Incoming {
                        id,
                        data: Vec::new(),
                        marks: Vec::new(),
                        confirmed: serial,
                        duplicate: true,
                    });
                    return;
                }
                let ok = match self.state.incoming.as_mut() {
                    Some(inc) if inc.id == old_id && serial <= inc.confirmed => {
                        match offset_of(&inc.marks, serial) {
                            Some(keep) => {
                                inc.data.truncate(keep);
                                inc.marks.retain(|(s, _)| *s <= serial);
                                inc.confirmed = serial;
                                inc.id = id;
                                true
                            }
                            None => false,
                        }
                    }
                    _ => false,
                };
                if !ok {
                    self.state.incoming = None;
                    self.fail(AbortReason::UNRECOGNIZED_ACTIVITY, now);
                }
            }
        }
    }

    fn on_data(&mut self, context: Option<ContextId>, value: &Bytes, now: Instant) {
        if !self.x410 && context != Some(self.rtse_context) {
            self.fail(AbortReason::PROTOCOL_ERROR, now);
            return;
        }
        let max = self.settings.max_apdu;
        let Some(inc) = self.state.incoming.as_mut() else {
            self.fail(AbortReason::PROTOCOL_ERROR, now);
            return;
        };
        let rttr = if self.x410 {
            Rttr::new(value)
        } else {
            match Rttr::decode(value, &self.limits) {
                Ok(r) => r,
                Err(_) => {
                    self.fail(AbortReason::PROTOCOL_ERROR, now);
                    return;
                }
            }
        };
        if inc.duplicate {
            return;
        }
        if inc.data.len().saturating_add(rttr.len()) > max {
            self.fail(AbortReason::PERMANENT_PROBLEM, now);
            return;
        }
        for seg in rttr.segments() {
            inc.data.extend_from_slice(seg);
        }
    }

    /// S-U-EXCEPTION-REPORT (ED) or S-P-EXCEPTION-REPORT (ER) from the peer. Inside this side's
    /// transfer the sender resolves it as X.228's exception reporting asks: the activity is
    /// interrupted (AI) when a checkpoint was confirmed, so that it resumes from there, and
    /// discarded (AD, then retried like a transfer that ran out of time) otherwise. The
    /// receiving side waits for the sender to resolve it. An exception report outside a
    /// transfer is a protocol error (RTAB protocolError; ISODE `rt2ps.c` does the same).
    fn on_exception(&mut self, report: &crate::session::connection::ExceptionReport, now: Instant) {
        let _ = report;
        if self.phase != Phase::Open {
            return;
        }
        if !self.has_turn() {
            // The peer holds the data token and resolves it (X.225 §7.22).
            if self.state.incoming.is_none() {
                self.fail(AbortReason::PROTOCOL_ERROR, now);
            }
            return;
        }
        if !self.active || self.ended || self.discarding {
            if !self.active {
                self.fail(AbortReason::PROTOCOL_ERROR, now);
            }
            return;
        }
        self.deadline = None;
        let confirmed = self.state.queue.front().is_some_and(|o| o.confirmed > 0);
        let reason = crate::session::ActivityReason::LOCAL_USER_ERROR;
        let result = if confirmed {
            self.assoc.activity_interrupt(reason, now)
        } else {
            self.assoc.activity_discard(reason, now).map(|()| {
                self.discarding = true;
            })
        };
        if result.is_err() {
            self.fail(AbortReason::LOCAL_SYSTEM_PROBLEM, now);
        }
    }

    /// The peer confirmed the discard of a transfer that ran out of time: retry it after the
    /// transfer interval, or give it up.
    fn on_discarded(&mut self, now: Instant) {
        self.discarding = false;
        self.active = false;
        self.ended = false;
        self.offset = 0;
        let retries = self.settings.transfer_retries;
        let Some(o) = self.state.queue.front_mut() else {
            return;
        };
        o.forget_checkpoints();
        o.discards = o.discards.saturating_add(1);
        if o.discards > retries {
            let seq = o.seq;
            self.state.queue.pop_front();
            self.events.push_back(RtsEvent::TransferFailed { seq });
        } else {
            self.retry_at = now.checked_add(self.settings.transfer_interval);
        }
    }

    /// Sends as much of the current transfer as the turn and the window allow.
    fn pump(&mut self, now: Instant) {
        if self.phase != Phase::Open
            || !self.has_turn()
            || self.ended
            || self.discarding
            || self.retry_at.is_some()
        {
            return;
        }
        if !self.twa && !self.initiator {
            return;
        }
        if let Err(e) = self.pump_inner(now) {
            self.events.push_back(RtsEvent::Aborted {
                cause: RtsAbortCause::TransferFailed(e),
                rtab: None,
            });
            self.fail(AbortReason::LOCAL_SYSTEM_PROBLEM, now);
        }
    }

    fn pump_inner(&mut self, now: Instant) -> Result<(), RtsError> {
        let Some(o) = self.state.queue.front_mut() else {
            return Ok(());
        };
        if !self.active {
            let id = o.activity_id();
            let resume_at = o
                .confirmed_offset()
                .filter(|_| o.started && o.confirmed > 0);
            if let Some(offset) = resume_at {
                let old = OldConnection {
                    calling_ss_user_reference: Some(self.settings.calling_reference.clone()),
                    common_reference: Some(self.settings.common_reference.clone()),
                    ..OldConnection::default()
                };
                self.assoc
                    .activity_resume(&id, &id, o.confirmed, &old, now)?;
                self.offset = offset;
            } else if o.started {
                // Resume after no confirmed checkpoint = start again (same identifier, rule 4).
                o.marks.clear();
                o.confirmed = 0;
                self.assoc.activity_start(&id, now)?;
                self.offset = 0;
            } else {
                self.assoc.activity_start(&id, now)?;
                self.offset = 0;
            }
            o.started = true;
            self.active = true;
            self.deadline = self.settings.transfer_timeout_per_kb.and_then(|per_kb| {
                let kib = u32::try_from(o.apdu.len().div_ceil(1024).max(1)).unwrap_or(u32::MAX);
                now.checked_add(per_kb.saturating_mul(kib))
            });
        }
        let len = o.apdu.len();
        loop {
            let last_mip = o.marks.last().map_or(0, |(s, _)| *s);
            if self.checkpoint > 0 && last_mip.saturating_sub(o.confirmed) >= self.window {
                return Ok(()); // window full: wait for a MIA
            }
            if self.offset >= len {
                break;
            }
            let step = if self.checkpoint > 0 {
                self.checkpoint
            } else {
                SEGMENT
            };
            let end = self.offset.saturating_add(step).min(len);
            let segment = o.apdu.slice(self.offset..end);
            if self.x410 {
                // X.226 §8.4.3.2: the segment itself is the S-DATA user data.
                self.assoc.send_data(self.rtse_context, &segment, now)?;
            } else {
                let mut rttr = Vec::with_capacity(segment.len().saturating_add(6));
                Rttr::new(&segment).encode(&mut rttr)?;
                self.assoc.send_data(self.rtse_context, &rttr, now)?;
            }
            self.offset = end;
            if self.checkpoint > 0 && end < len {
                let serial = self.assoc.sync_minor(now)?;
                o.marks.push((serial, end));
            }
        }
        self.assoc.activity_end(now)?;
        self.ended = true;
        self.deadline = None;
        Ok(())
    }
}
