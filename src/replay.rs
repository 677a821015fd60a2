//! Replay: one side of a captured association drives this crate's own
//! [`Association`] (or [`Rts`](crate::rts::Rts)) playing the other role, and what the
//! machine sends is compared, PDU by PDU and layer by layer, with what the real peer sent.
//!
//! The captured side's TPKTs are fed to the machine in capture order. Where the real peer
//! spoke on its own account, the machine's application does what the peer's application did,
//! with the captured values: accept (with the AARE's user-information and responding AP-title) or
//! refuse an association, send the same P-DATA values on the same contexts, release, answer a
//! release, abort. Everything else — CC, the CPA's context results, the AARE's result, the
//! session and transport framing, the reactions to errors — is the machine's own.
//!
//! Both sides are read with [`crate::dissect`]; the unit of comparison is a TPDU other than DT,
//! or a TSDU (so that segmentation into DTs does not count). Key fields are compared, bottom up
//! ([`Field`]): PDU types per layer, TPDU class and DR/ER codes, the session refuse reason,
//! Token Items and serial numbers, presentation context lists and results, the ACSE context
//! name, result and diagnostic, the RTSE APDU type and how many octets an RTTR carries;
//! references, selectors, release reasons and other values a peer or its user chooses freely
//! are not.
//!
//! An RTS association (the CP carries an RTORQ: in its AARQ, or as the X.410-1984 `PConnect`
//! of a CN that proposes activity management) is played by an [`Rts`](crate::rts::Rts) over the
//! association ([`Report::rts`]), in either role and mode, with an application inferred from the
//! capture: the responder accepts with the RTOAC's checkpoint size, window and `open` data, or
//! refuses with the RTORJ and the AARE's result; it gives the turn when asked (S-CONTROL-GIVE,
//! X.228 §7.4) and answers each APDU with the captured responder's next transfer (past its
//! last, an echo while the capture shows it asking for the turn), asking for the turn to send
//! it. The initiator opens with the RTORQ's proposal and `open` data, asks for the turn when
//! it lacks it, transfers the captured initiator's APDUs one per turn (in monologue: once the
//! last is confirmed) and closes when none are left. Turns, activities, checkpoints and their
//! confirmations are the RTS's own. A refusal without an RTORJ (below RTSE) is played by the
//! bare association.
//!
//! The layers played follow the capture ([`Plays`]): TSDUs that are not OSI session (S7comm,
//! RDP) are played by a [transport connection](crate::cotp::connection::Connection) alone, whose
//! application sends the captured TSDUs ([`Verdict::Carried`]: carried, not compared); a CN
//! without a CP by a [session connection](crate::session::connection::Connection) alone, whose
//! user does what the captured one did (connect, accept, refuse, data, tokens, release, abort).
//! The functional units of CN and AC are compared; an AC may choose either of half-duplex and
//! duplex when the CN proposed both (X.225 §7.1). ROS in X.410-1984 mode opens with the CN's
//! functional units and `PConnect`. A responder that answered the CR with a DR is played by a
//! machine whose [`Dispatch`] does not serve that called T-selector.
//!
//! [`replay_capture`] and [`replay_timed`] keep the capture's timing: the machine's clock follows
//! the capture's timestamps and its timers fire where the capture's pauses pass them
//! ([`replay_frames`] runs on one instant). A capture that starts with a CN, after its transport
//! connection was established, is replayed from a synthesized CR and CC ([`Start::Established`]);
//! one that starts later or holds one direction only is declined ([`ReplayError`]).
//!
//! ```
//! use osi_stack::dissect::Direction;
//! use osi_stack::replay::{Verdict, replay_frames};
//!
//! // A CR from a client and the CC a real server sent back (X.224 §13.3, §13.4).
//! let cr = [0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00];
//! let cc = [0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0x00, 0x01, 0x00, 0x02, 0x00];
//! let frames = [(Direction::Client, &cr[..]), (Direction::Server, &cc[..])];
//! let report = replay_frames(frames, Direction::Client);
//! assert!(matches!(report.steps[0].verdict, Verdict::Same));
//! assert!(report.matches());
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::Layer;
use crate::acse::{
    AeQualifier, ApTitle, Apdu, AssociateResult, AssociateSourceDiagnostic, ExternalList,
};
use crate::association::{
    AcceptResponse, ApAddress, AssociateRequest, Association, Config, Dispatch,
    PresentationContext, ServiceError,
};
use crate::cotp::Tpdu;
use crate::dissect::{Direction, Presentation, Record, RecordKind, Stream};
use crate::oid::OwnedOid;
use crate::presentation::{AbortPpdu, Cpr, PdvValues, UserData};
use crate::session::SpduKind;

/// A compared value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// A PDU type, by its abbreviation (`CC`, `AC`, `CPA`, `AARE` …).
    Kind(&'static str),
    /// The PDU types of a TSDU's SPDUs, in order.
    Kinds(Vec<&'static str>),
    /// A code or integer field.
    Code(i64),
    /// A list of codes (context results, PDV contexts).
    Codes(Vec<i64>),
    /// An object identifier.
    Oid(OwnedOid),
    /// Session functional units (PI 20, X.225 §8.3.1.16), the value in force: an absent PI 20
    /// counts as X.225's default `0x0349`.
    Units(u16),
    /// The field is not there.
    Absent,
}

/// One key field of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The layer it belongs to.
    pub layer: Layer,
    /// Its name (the `osi dump` key).
    pub name: &'static str,
    /// Its value.
    pub value: Value,
}

/// One PDU of one side: a TPDU other than DT, or a TSDU, with its key fields bottom up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Offset of its (last) TPKT in its direction's stream.
    pub offset: u64,
    /// Key fields, bottom up.
    pub fields: Vec<Field>,
    action: Option<Action>,
    /// What a session user did (a session-only play), and the TSDU a transport user sent (a
    /// transport-only play): kept until the step is made.
    session_action: Option<Action>,
    tsdu: Option<Bytes>,
}

impl Unit {
    /// The unit's PDU types, bottom up (`DT [CN] CP AARQ`): the `type` field of each layer.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        for f in self.fields.iter().filter(|f| f.name == "type") {
            parts.push(match &f.value {
                Value::Kind(k) => (*k).to_owned(),
                Value::Kinds(ks) => format!("[{}]", ks.join(" ")),
                _ => String::new(),
            });
        }
        parts.join(" ")
    }

    /// The value of `layer`'s field `name`.
    pub fn get(&self, layer: Layer, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.layer == layer && f.name == name)
            .map(|f| &f.value)
    }
}

/// What the application on the real peer did, to be done by the machine's application.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Associate(Box<AssociateRequest>),
    Accept(Box<AcceptResponse>),
    /// User information and the AARE's result (permanent or transient).
    Reject(Option<Bytes>, AssociateResult),
    Data(Vec<(i64, Bytes)>),
    Release,
    ReleaseResponse(bool),
    Abort(Option<Bytes>),
    /// Transport only: a TSDU of application data, carried as captured.
    Tsdu(Bytes),
    /// Session only: the S-CONNECT request of a CN whose user data is not a CP.
    SessionConnect(Box<crate::session::connection::ConnectRequest>),
    /// Session only: accept with this user data (AC).
    SessionAccept(Bytes),
    /// Session only: refuse with this reason and user data (RF).
    SessionRefuse(crate::session::RefuseReason, Bytes),
    /// Session only: S-DATA with this user information (DT SPDU).
    SessionData(Bytes),
    /// Session only: S-TOKEN-GIVE (GT with a Token Item).
    GiveTokens(crate::session::TokenItem),
    /// Session only: S-TOKEN-PLEASE (PT with a Token Item and user data).
    PleaseTokens(crate::session::TokenItem, Bytes),
    /// Session only: S-CONTROL-GIVE (GTC).
    GiveControl,
    /// Session only: S-ACTIVITY-START (AS) with this identifier.
    ActivityStart(Bytes),
    /// Session only: S-ACTIVITY-END (AE) and its response (AEA).
    ActivityEnd,
    ActivityEndResponse,
    /// Session only: S-SYNC-MINOR (MIP) and its response (MIA) for this serial number.
    SyncMinor,
    SyncMinorResponse(u64),
}

/// The first field in which two units differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The layer of the field.
    pub layer: Layer,
    /// The field.
    pub name: &'static str,
    /// What the real peer sent.
    pub expected: Value,
    /// What the machine sent.
    pub actual: Value,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The machine sent the same kinds and key fields.
    Same,
    /// The machine sent something else; the first differing field.
    Different(Difference),
    /// The real peer sent this unit; the machine sent nothing.
    Missing,
    /// The machine sent a unit the real peer did not.
    Extra,
    /// The machine's application could not do what the real peer's did (wrong state …).
    Refused(ServiceError),
    /// Transport only: a TSDU of application data above the layers the machine plays. Its
    /// application sent the captured octets (carried, not compared); the transport fields are
    /// the same. Counts as a match.
    Carried,
    /// The real peer sent a DR after the association had ended; the machine closed the
    /// transport connection without one, which is class 0's implicit release (X.224 §6.7, RFC
    /// 1006 §5). Counts as a match.
    ClosedInstead,
}

/// One step of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the real peer sent.
    pub expected: Option<Unit>,
    /// What the machine sent.
    pub actual: Option<Unit>,
    /// How they compare.
    pub verdict: Verdict,
}

/// The result of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The side whose bytes were fed to the machine.
    pub fed: Direction,
    /// The machine was an [`Rts`](crate::rts::Rts) over the association (the capture's is an
    /// RTS association), not a bare [`Association`].
    pub rts: bool,
    /// The layers the machine played (how deep the capture's association goes).
    pub plays: Plays,
    /// Where the replay began.
    pub start: Start,
    /// How the machine's connection or association ended, if it did (its last
    /// released/refused/aborted/disconnected event).
    pub end: Option<End>,
    /// The machine finished (it reported `Closed`).
    pub closed: bool,
    /// Every step, in order.
    pub steps: Vec<Step>,
}

/// The layers the machine plays, chosen from what the capture carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Plays {
    /// A [`cotp::connection::Connection`](crate::cotp::connection::Connection) alone: the TSDUs
    /// are not OSI session (S7comm, RDP, ISODE's transport echo), or the capture shows nothing
    /// above a transport connection that was accepted. Application data is carried, not
    /// compared ([`Verdict::Carried`]).
    Transport,
    /// A [`session::connection::Connection`](crate::session::connection::Connection) over a
    /// transport connection: the CN's user data is not a CP.
    Session,
    /// An [`Association`] (presentation and ACSE over session and transport).
    Association,
    /// An [`Rts`](crate::rts::Rts) over an association.
    Rts,
}

impl Plays {
    /// A short name: `transport`, `session`, `association`, `rts`.
    pub const fn name(self) -> &'static str {
        match self {
            Plays::Transport => "transport",
            Plays::Session => "session",
            Plays::Association => "association",
            Plays::Rts => "rts",
        }
    }
}

/// Where a replay began.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Start {
    /// At the captured CR (or at the first TPKT given to [`replay_frames`]).
    Connect,
    /// The capture starts after the transport connection was established, with a CN (first
    /// unit: the label): the machine's transport connection was established first by a CR and
    /// CC that are not in the capture and not compared.
    Established {
        /// The label of the capture's first unit ([`Unit::label`]).
        first: String,
    },
}

/// How the machine's connection or association ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum End {
    /// Released in order.
    Released,
    /// Refused (either side).
    Refused,
    /// Aborted (either side, or by a provider).
    Aborted,
    /// Transport only: the transport connection ended.
    Disconnected,
}

impl Report {
    /// Whether every step is [`Verdict::Same`] (or [`Verdict::ClosedInstead`],
    /// [`Verdict::Carried`]).
    pub fn matches(&self) -> bool {
        self.first_difference().is_none()
    }

    /// The first step that does not match.
    pub fn first_difference(&self) -> Option<&Step> {
        self.steps.iter().find(|s| {
            !matches!(
                s.verdict,
                Verdict::Same | Verdict::ClosedInstead | Verdict::Carried
            )
        })
    }
}

fn field(layer: Layer, name: &'static str, value: Value) -> Field {
    Field { layer, name, value }
}

fn first_value(list: Option<&ExternalList<'_>>) -> Option<Bytes> {
    list?.iter().find_map(|e| match e.encoding {
        PdvValues::SingleAsn1Type(v) | PdvValues::OctetAligned(v) => {
            Some(Bytes::copy_from_slice(v))
        }
        _ => None,
    })
}

fn ap_address(title: Option<&ApTitle<'_>>, qualifier: Option<&AeQualifier<'_>>) -> ApAddress {
    let mut a = ApAddress::default();
    if let Some(ApTitle::Form2(oid)) = title {
        a.ap_title = Some(oid.to_owned_oid());
    }
    if let Some(AeQualifier::Form2(q)) = qualifier {
        a.ae_qualifier = Some(*q);
    }
    a
}

fn pdv_values(ud: &UserData<'_>) -> Vec<(i64, Bytes)> {
    match ud {
        UserData::Full(list) => list
            .iter()
            .filter_map(|p| match p.values {
                PdvValues::SingleAsn1Type(v) => Some((p.context_id, Bytes::copy_from_slice(v))),
                _ => None,
            })
            .collect(),
        UserData::Simple(_) => Vec::new(),
    }
}

/// The unit a record completes, if it completes one.
fn unit(rec: &Record<'_>) -> Option<Unit> {
    let RecordKind::Frame(f) = &rec.kind else {
        return None;
    };
    let tpdu = f.tpdu()?;
    let mut fields = vec![field(Layer::Cotp, "type", Value::Kind(tpdu.kind().name()))];
    let mut action = None;
    match tpdu {
        Tpdu::Dt(dt) if !dt.eot => return None,
        Tpdu::Cr(x) | Tpdu::Cc(x) => {
            fields.push(field(
                Layer::Cotp,
                "class",
                Value::Code(i64::from(x.class_option.class())),
            ));
            if matches!(tpdu, Tpdu::Cr(_)) {
                action = Some(Action::Associate(Box::new(AssociateRequest::mms())));
            }
        }
        Tpdu::Dr(x) => fields.push(field(
            Layer::Cotp,
            "reason",
            Value::Code(i64::from(x.reason.0)),
        )),
        Tpdu::Er(x) => fields.push(field(
            Layer::Cotp,
            "cause",
            Value::Code(i64::from(x.cause.0)),
        )),
        _ => {}
    }
    // A TSDU: application data, for a transport user (S7comm, RDP …).
    let tsdu = f.tsdu.as_ref().map(|t| Bytes::copy_from_slice(t.octets));
    let mut session_act = None;
    if let Some(u) = f.upper() {
        let kinds: Vec<&'static str> = u.session.iter().map(|s| s.kind().abbreviation()).collect();
        fields.push(field(Layer::Session, "type", Value::Kinds(kinds)));
        // The functional units of CN and AC, as in force (absent: X.225's default).
        for s in u
            .session
            .iter()
            .filter(|s| matches!(s.kind(), SpduKind::Cn | SpduKind::Ac))
        {
            let r = s
                .session_user_requirements()
                .unwrap_or(crate::session::SessionUserRequirements::DEFAULT);
            fields.push(field(Layer::Session, "requirements", Value::Units(r.0)));
        }
        // What the session user did, for a session-only play.
        session_act = session_action(&u.session);
        // The tokens given or asked for (Token Item, X.225 §8.3.3.1) and the serial numbers of
        // the synchronization SPDUs (MIP, MIA …): what a checkpointed RTS transfer turns on.
        let tokens: Vec<i64> = u
            .session
            .iter()
            .filter_map(|s| s.token_item())
            .filter(|t| t.0 != 0)
            .map(|t| i64::from(t.0))
            .collect();
        if !tokens.is_empty() {
            fields.push(field(Layer::Session, "tokens", Value::Codes(tokens)));
        }
        let serials: Vec<i64> = u
            .session
            .iter()
            .filter_map(|s| s.serial_number()?.value())
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
            .collect();
        if !serials.is_empty() {
            fields.push(field(Layer::Session, "serial", Value::Codes(serials)));
        }
        for s in &u.session {
            match s.kind() {
                SpduKind::Rf => {
                    if let Some(r) = s.refuse_reason() {
                        fields.push(field(Layer::Session, "reason", Value::Code(i64::from(r.0))));
                    }
                }
                SpduKind::Fn => action = Some(Action::Release),
                SpduKind::Dn => action = Some(Action::ReleaseResponse(true)),
                SpduKind::Nf => action = Some(Action::ReleaseResponse(false)),
                _ => {}
            }
        }
        if let Some(p) = &u.presentation {
            fields.push(field(Layer::Presentation, "type", Value::Kind(p.name())));
            match p {
                Presentation::Cp(cp) => {
                    if let Some(n) = &cp.normal {
                        if let Some(list) = &n.context_definitions {
                            // The order of the definitions carries no meaning: compared as a set.
                            let mut ids: Vec<i64> = list.iter().map(|c| c.id).collect();
                            ids.sort_unstable();
                            fields.push(field(Layer::Presentation, "contexts", Value::Codes(ids)));
                        }
                    }
                    let mut request = request_from(cp, u.acse.as_ref());
                    // The CN's functional units and token positions, and in X.410-1984 mode the
                    // PConnect (ROS in X.410 mode opens this way).
                    if let Some(cn) = u.session.iter().find(|s| s.kind() == SpduKind::Cn) {
                        request = request.with_session(
                            cn.session_user_requirements()
                                .unwrap_or(crate::session::SessionUserRequirements::DEFAULT),
                            cn.connect_accept_item().and_then(|c| c.token_setting_item),
                        );
                    }
                    if let Some(p) = cp.x410_parameters {
                        request = request.with_x410_parameters(Bytes::copy_from_slice(p));
                    }
                    action = Some(Action::Associate(Box::new(request)));
                }
                Presentation::Cpa(cpa) => {
                    if let Some(list) = cpa.normal.as_ref().and_then(|n| n.context_results.as_ref())
                    {
                        fields.push(field(
                            Layer::Presentation,
                            "results",
                            Value::Codes(list.iter().map(|r| r.result.0).collect()),
                        ));
                    }
                    let mut r = AcceptResponse::default();
                    if let Some(Apdu::Aare(a)) = &u.acse {
                        r.user_information = first_value(a.user_information.as_ref());
                        r.responding = ap_address(
                            a.responding.ap_title.as_ref(),
                            a.responding.ae_qualifier.as_ref(),
                        );
                    }
                    r.x410_parameters = cpa.x410_parameters.map(Bytes::copy_from_slice);
                    action = Some(Action::Accept(Box::new(r)));
                }
                Presentation::Cpr(cpr) => {
                    let info = match (cpr, &u.acse) {
                        (Cpr::X410(raw), _) => Some(Bytes::copy_from_slice(raw)),
                        (_, Some(Apdu::Aare(a))) => first_value(a.user_information.as_ref()),
                        _ => None,
                    };
                    // The real peer's AARE result: rejected-transient is kept, anything else
                    // is the machine's default, rejected-permanent.
                    let result = match &u.acse {
                        Some(Apdu::Aare(a)) if a.result == AssociateResult::REJECTED_TRANSIENT => {
                            AssociateResult::REJECTED_TRANSIENT
                        }
                        _ => AssociateResult::REJECTED_PERMANENT,
                    };
                    action = Some(Action::Reject(info, result));
                }
                Presentation::Abort(ab) => {
                    let info = match (ab, &u.acse) {
                        (AbortPpdu::AruX410(raw), _) => Some(Bytes::copy_from_slice(raw)),
                        (_, Some(Apdu::Abrt(a))) => first_value(a.user_information.as_ref()),
                        _ => None,
                    };
                    action = Some(Action::Abort(info));
                }
                Presentation::Data(ud) => {
                    let values = pdv_values(ud);
                    fields.push(field(
                        Layer::Presentation,
                        "pdvs",
                        Value::Codes(values.iter().map(|(c, _)| *c).collect()),
                    ));
                    // How many octets the values carry (an RTSE transfer is measured by its
                    // RTTR instead, below).
                    if u.rtse.is_none() && u.session.iter().any(|s| s.kind() == SpduKind::Dt) {
                        let n: usize = values.iter().map(|(_, v)| v.len()).sum();
                        fields.push(field(Layer::Presentation, "octets", octets(n)));
                    }
                    if u.session.iter().any(|s| s.kind() == SpduKind::Dt) {
                        action = Some(Action::Data(values));
                    }
                }
                Presentation::X410Data(raw)
                    if u.session.iter().any(|s| s.kind() == SpduKind::Dt) =>
                {
                    fields.push(field(Layer::Presentation, "octets", octets(raw.len())));
                    action = Some(Action::Data(vec![(0, Bytes::copy_from_slice(raw))]));
                }
                _ => {}
            }
        }
        if u.session.iter().any(|s| s.kind() == SpduKind::Ab) && action.is_none() {
            action = Some(Action::Abort(None));
        }
        if let Some(a) = &u.acse {
            fields.push(field(Layer::Acse, "type", Value::Kind(acse_name(a))));
            match a {
                Apdu::Aarq(q) => fields.push(field(
                    Layer::Acse,
                    "application_context",
                    Value::Oid(q.application_context_name.to_owned_oid()),
                )),
                Apdu::Aare(r) => {
                    fields.push(field(Layer::Acse, "result", Value::Code(r.result.0)));
                    let (source, v) = match r.result_source_diagnostic {
                        AssociateSourceDiagnostic::User(v) => (1, v.0),
                        AssociateSourceDiagnostic::Provider(v) => (2, v.0),
                    };
                    fields.push(field(Layer::Acse, "diagnostic_source", Value::Code(source)));
                    fields.push(field(Layer::Acse, "diagnostic", Value::Code(v)));
                }
                // The RLRQ and RLRE reasons are the ACSE user's choice (X.227 §7.2), which the
                // machine's release services do not take: not compared.
                Apdu::Rlrq(_) | Apdu::Rlre(_) => {}
                Apdu::Abrt(r) => {
                    fields.push(field(Layer::Acse, "abort_source", Value::Code(r.source.0)));
                }
            }
        }
        if let Some(r) = &u.rtse {
            fields.push(field(Layer::Rtse, "type", Value::Kind(r.name())));
            // How much of the transfer this RTTR carries: where the RTS cut it into checkpoint
            // intervals (X.228 §7.6). X.410-1984-mode data is the raw APDU, not an RTTR.
            if let (crate::rtse::Apdu::Rttr(rttr), Some(Presentation::Data(_))) =
                (r, &u.presentation)
            {
                let n: usize = rttr.segments().map(<[u8]>::len).sum();
                fields.push(field(
                    Layer::Rtse,
                    "octets",
                    Value::Code(i64::try_from(n).unwrap_or(i64::MAX)),
                ));
            }
        }
    }
    Some(Unit {
        offset: rec.offset,
        fields,
        action,
        session_action: session_act,
        tsdu,
    })
}

fn octets(n: usize) -> Value {
    Value::Code(i64::try_from(n).unwrap_or(i64::MAX))
}

/// What the session user did in a TSDU of a session-only stream (no CP in the CN).
fn session_action(spdus: &[crate::session::Spdu<'_>]) -> Option<Action> {
    use crate::address::SSel;
    use crate::session::connection::ConnectRequest;
    let mut action = None;
    for s in spdus {
        let data = || Bytes::copy_from_slice(s.user_data().unwrap_or_default());
        match s.kind() {
            SpduKind::Cn => {
                let setting = s.connect_accept_item().and_then(|c| c.token_setting_item);
                let requirements = s
                    .session_user_requirements()
                    .unwrap_or(crate::session::SessionUserRequirements::DEFAULT);
                let request = ConnectRequest::default()
                    .with_selectors(
                        s.calling_session_selector().and_then(|v| SSel::new(v).ok()),
                        s.called_session_selector().and_then(|v| SSel::new(v).ok()),
                    )
                    .with_requirements(requirements, setting)
                    .with_user_data(data());
                action = Some(Action::SessionConnect(Box::new(request)));
            }
            SpduKind::Ac => action = Some(Action::SessionAccept(data())),
            SpduKind::Rf => {
                let reason = s.refuse_reason().unwrap_or(crate::session::RefuseReason(0));
                let d = Bytes::copy_from_slice(s.refuse_user_data().unwrap_or_default());
                action = Some(Action::SessionRefuse(reason, d));
            }
            SpduKind::Dt => {
                action = Some(Action::SessionData(Bytes::copy_from_slice(
                    s.user_information(),
                )));
            }
            SpduKind::Fn => action = Some(Action::Release),
            SpduKind::Dn => action = Some(Action::ReleaseResponse(true)),
            SpduKind::Nf => action = Some(Action::ReleaseResponse(false)),
            SpduKind::Ab => action = Some(Action::Abort(None)),
            // A GT alone gives tokens; a GT before a DT (category 0 concatenation) does not.
            SpduKind::Gt if spdus.len() == 1 => {
                if let Some(t) = s.token_item().filter(|t| t.0 != 0) {
                    action = Some(Action::GiveTokens(t));
                }
            }
            SpduKind::Pt => {
                if let Some(t) = s.token_item().filter(|t| t.0 != 0) {
                    action = Some(Action::PleaseTokens(t, data()));
                }
            }
            SpduKind::Gtc => action = Some(Action::GiveControl),
            SpduKind::As => {
                let id = s.activity_identifier().unwrap_or_default();
                action = Some(Action::ActivityStart(Bytes::copy_from_slice(id)));
            }
            SpduKind::Ae => action = Some(Action::ActivityEnd),
            // SI 42 answers an AE here (AEA); a major synchronization's MAA is not played.
            SpduKind::MaaOrAea => action = Some(Action::ActivityEndResponse),
            SpduKind::Mip => action = Some(Action::SyncMinor),
            SpduKind::Mia => {
                if let Some(n) = s.serial_number().and_then(|n| n.value()) {
                    action = Some(Action::SyncMinorResponse(n));
                }
            }
            _ => {}
        }
    }
    action
}

fn acse_name(a: &Apdu<'_>) -> &'static str {
    match a {
        Apdu::Aarq(_) => "AARQ",
        Apdu::Aare(_) => "AARE",
        Apdu::Rlrq(_) => "RLRQ",
        Apdu::Rlre(_) => "RLRE",
        Apdu::Abrt(_) => "ABRT",
    }
}

/// The A-ASSOCIATE request a captured CP (and its AARQ) stands for.
fn request_from(cp: &crate::presentation::Cp<'_>, acse: Option<&Apdu<'_>>) -> AssociateRequest {
    let mut r = match acse {
        Some(Apdu::Aarq(q)) => {
            let mut r = AssociateRequest::new(q.application_context_name.to_owned_oid());
            r.calling = ap_address(q.calling.ap_title.as_ref(), q.calling.ae_qualifier.as_ref());
            r.called = ap_address(q.called.ap_title.as_ref(), q.called.ae_qualifier.as_ref());
            r.user_information = first_value(q.user_information.as_ref());
            r
        }
        _ => AssociateRequest::mms(),
    };
    if let Some(list) = cp
        .normal
        .as_ref()
        .and_then(|n| n.context_definitions.as_ref())
    {
        let contexts: Vec<PresentationContext> = list
            .iter()
            .filter_map(|c| {
                let ts = c.transfer_syntaxes.iter().next()?;
                Some(PresentationContext {
                    id: c.id,
                    abstract_syntax: c.abstract_syntax.to_owned_oid(),
                    transfer_syntax: ts.to_owned_oid(),
                })
            })
            .collect();
        if let Some(acse_ctx) = contexts
            .iter()
            .find(|c| c.abstract_syntax.as_oid() == crate::oid::Oid::ACSE_ABSTRACT_SYNTAX)
        {
            r.acse_context_id = acse_ctx.id;
        }
        r.contexts = contexts
            .into_iter()
            .filter(|c| c.id != r.acse_context_id)
            .collect();
    }
    r
}

/// Selectors a client's record shows (CR: T-selectors, CN: S-selectors, CP: P-selectors),
/// copied into the request so that the machine's CR, CN and CP address the same peer.
fn take_selectors(rec: &Record<'_>, r: &mut AssociateRequest) {
    use crate::address::{PSel, SSel, TSel};
    let RecordKind::Frame(f) = &rec.kind else {
        return;
    };
    if let Some(Tpdu::Cr(cr)) = f.tpdu() {
        for p in cr.params.iter() {
            match p.typed(crate::cotp::TpduKind::Cr) {
                crate::cotp::Param::CallingTsel(v) => r.calling_tsel = TSel::new(v).ok(),
                crate::cotp::Param::CalledTsel(v) => r.called_tsel = TSel::new(v).ok(),
                _ => {}
            }
        }
    }
    let Some(u) = f.upper() else { return };
    for spdu in u.session.iter().filter(|s| s.kind() == SpduKind::Cn) {
        r.calling_ssel = spdu
            .calling_session_selector()
            .and_then(|v| SSel::new(v).ok());
        r.called_ssel = spdu
            .called_session_selector()
            .and_then(|v| SSel::new(v).ok());
    }
    if let Some(Presentation::Cp(cp)) = &u.presentation {
        if let Some(n) = &cp.normal {
            r.calling_psel = n.calling_selector.and_then(|v| PSel::new(v).ok());
            r.called_psel = n.called_selector.and_then(|v| PSel::new(v).ok());
        }
    }
}

/// Half-duplex and duplex (X.225 §8.3.1.16 bits 1 and 2).
const DUPLEXES: u16 = 0x0003;

/// Whether the machine's AC answers `proposal` (the CN's units) as a responder may where the CN
/// proposed both half-duplex and duplex: the responder chooses one (X.225 §7.1, ISODE takes
/// half-duplex, this crate duplex), and answers within the proposal.
fn responder_choice(unit: &Unit, value: &Value, proposal: Option<u16>) -> bool {
    let (Some(p), Value::Units(a)) = (proposal, value) else {
        return false;
    };
    let ac = matches!(unit.get(Layer::Session, "type"), Some(Value::Kinds(k)) if k.contains(&"AC"));
    ac && p & DUPLEXES == DUPLEXES && a & !p == 0 && (a & DUPLEXES).count_ones() == 1
}

/// Compares two units field by field, bottom up. `proposal`: the functional units of the
/// capture's CN.
fn compare(expected: &Unit, actual: &Unit, proposal: Option<u16>) -> Verdict {
    for e in &expected.fields {
        let a = actual
            .get(e.layer, e.name)
            .cloned()
            .unwrap_or(Value::Absent);
        if e.name == "requirements" && responder_choice(actual, &a, proposal) {
            continue;
        }
        if a != e.value {
            return Verdict::Different(Difference {
                layer: e.layer,
                name: e.name,
                expected: e.value.clone(),
                actual: a,
            });
        }
    }
    for a in &actual.fields {
        if expected.get(a.layer, a.name).is_none() {
            return Verdict::Different(Difference {
                layer: a.layer,
                name: a.name,
                expected: Value::Absent,
                actual: a.value.clone(),
            });
        }
    }
    Verdict::Same
}

/// What a captured RTS association shows (read ahead): how the RTS on each side was set up, what
/// it answered to the open and what each side transferred (X.228 §7).
#[derive(Debug, Clone, Default)]
struct RtsPlan {
    /// Initiator: X.410-1984 mode and which P1 its PConnect names.
    mode: crate::rts::X400Mode,
    /// The RTORQ's proposal.
    checkpoint_kb: i64,
    window: i64,
    two_way_alternate: bool,
    /// The CN's Token Setting Item leaves the data token (the turn) with the initiator.
    initiator_turn: bool,
    /// The RTORQ's `open` user data.
    open: Option<Bytes>,
    /// The RTOAC's checkpoint size and window (what the responder accepted at most), its `open`.
    accepted: Option<(i64, i64, Option<Bytes>)>,
    /// The RTORJ's reason and user data, and the AARE's result.
    refused: Option<(crate::rtse::RefuseReason, Option<Bytes>, AssociateResult)>,
    /// The association was refused below RTSE (an RF, CPR or AARE without an RTORJ).
    refused_below: bool,
    /// The APDUs each side transferred (one activity each), in order.
    client_transfers: std::collections::VecDeque<Bytes>,
    server_transfers: std::collections::VecDeque<Bytes>,
    /// The turn requests (RTTP) the responder sent.
    server_asks: usize,
}

/// The activity management functional unit (X.225 §8.3.1.16, bit 7 of Session User
/// Requirements counted from 1).
const ACTIVITY_MANAGEMENT: u16 = 0x0040;

/// Reads the capture ahead: `Some` when its association is an RTS one (the CP carries an
/// RTORQ, in an AARQ or as X.410-1984 `PConnect` parameters).
fn rts_plan(frames: &[(Direction, &[u8])]) -> Option<RtsPlan> {
    use crate::rtse::{Apdu as Rt, ApplicationProtocol, ConnectionData, DialogueMode};
    let mut plan: Option<RtsPlan> = None;
    // The transfer in progress, per side (client, server).
    let mut current: (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    let mut reader = Stream::new();
    for (d, o) in frames {
        reader.push(*d, o, &mut |rec| {
            let RecordKind::Frame(f) = &rec.kind else {
                return;
            };
            let Some(u) = f.upper() else { return };
            let server = rec.direction == Direction::Server;
            match (&u.presentation, &u.rtse) {
                (Some(Presentation::Cp(cp)), Some(Rt::Rtorq(rq))) if plan.is_none() => {
                    let mut p = RtsPlan {
                        checkpoint_kb: rq.checkpoint_size_or_default(),
                        window: rq.window_size_or_default(),
                        two_way_alternate: rq.dialogue_mode_or_default() == DialogueMode::TWA,
                        initiator_turn: true,
                        ..RtsPlan::default()
                    };
                    if cp.x410_parameters.is_some() {
                        p.mode = if rq.application_protocol
                            == Some(ApplicationProtocol::MTS_TRANSFER_PROTOCOL_1984)
                            || rq.application_protocol.is_none()
                        {
                            crate::rts::X400Mode::Mode1984
                        } else {
                            crate::rts::X400Mode::X410Mode1988
                        };
                    }
                    if let ConnectionData::Open(Some(o)) = rq.connection_data {
                        p.open = Some(Bytes::copy_from_slice(o));
                    }
                    let mut activities = false;
                    for spdu in u.session.iter().filter(|s| s.kind() == SpduKind::Cn) {
                        activities |= spdu
                            .session_user_requirements()
                            .is_some_and(|r| r.0 & ACTIVITY_MANAGEMENT != 0);
                        if let Some(t) = spdu
                            .connect_accept_item()
                            .and_then(|c| c.token_setting_item)
                        {
                            // Bits 0-1: the data token; 01 = the acceptor's side (X.225 §8.3.1.12).
                            p.initiator_turn = t.0 & 0x03 != 0x01;
                        }
                    }
                    // An X.410-1984 PConnect also opens ROS in X.410 mode (ISODE's ROS
                    // S-selector 0003), which transfers without activities: only a CN that
                    // proposes activity management opens an RTS (X.410 §4.3: each transfer is
                    // an activity).
                    if cp.x410_parameters.is_none() || activities {
                        plan = Some(p);
                    }
                }
                (Some(Presentation::Cpa(_)), Some(Rt::Rtoac(ac))) => {
                    if let Some(p) = plan.as_mut() {
                        let open = match ac.connection_data {
                            ConnectionData::Open(Some(o)) => Some(Bytes::copy_from_slice(o)),
                            _ => None,
                        };
                        p.accepted = Some((
                            ac.checkpoint_size_or_default(),
                            ac.window_size_or_default(),
                            open,
                        ));
                    }
                }
                (Some(Presentation::Cpr(_)), rt) => {
                    if let Some(p) = plan.as_mut() {
                        if let Some(Rt::Rtorj(rj)) = rt {
                            let result = match &u.acse {
                                Some(Apdu::Aare(a))
                                    if a.result == AssociateResult::REJECTED_TRANSIENT =>
                                {
                                    AssociateResult::REJECTED_TRANSIENT
                                }
                                _ => AssociateResult::REJECTED_PERMANENT,
                            };
                            p.refused = Some((
                                rj.refuse_reason
                                    .unwrap_or(crate::rtse::RefuseReason::VALIDATION_FAILURE),
                                rj.user_data.map(Bytes::copy_from_slice),
                                result,
                            ));
                        } else {
                            p.refused_below = true;
                        }
                    }
                }
                _ => {}
            }
            if plan.is_none() {
                return;
            }
            if server && matches!(u.rtse, Some(Rt::Rttp(_))) {
                if let Some(p) = plan.as_mut() {
                    p.server_asks = p.server_asks.saturating_add(1);
                }
            }
            let slot = if server {
                &mut current.1
            } else {
                &mut current.0
            };
            for spdu in &u.session {
                match spdu.kind() {
                    SpduKind::As => *slot = Some(Vec::new()),
                    SpduKind::Ae => {
                        if let Some(apdu) = slot.take() {
                            let transfers = match plan.as_mut() {
                                Some(p) if !server => &mut p.client_transfers,
                                Some(p) => &mut p.server_transfers,
                                None => return,
                            };
                            transfers.push_back(Bytes::from(apdu));
                        }
                    }
                    SpduKind::Dt => {
                        let Some(buf) = slot.as_mut() else {
                            continue;
                        };
                        match (&u.presentation, &u.rtse) {
                            (Some(Presentation::X410Data(raw)), _) => buf.extend_from_slice(raw),
                            (_, Some(Rt::Rttr(rttr))) => {
                                for seg in rttr.segments() {
                                    buf.extend_from_slice(seg);
                                }
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
        });
    }
    plan
}

/// The application above an [`Rts`](crate::rts::Rts): it does what the captured peer's
/// application did, as ISODE's `isoc` and `isod` test programs (and X.400 MTAs) do. The
/// initiator asks for the turn when it lacks it, transfers the APDUs the captured initiator
/// transferred, one per turn, and closes when it has none left; the responder accepts or refuses
/// the open as the capture shows, gives the turn when asked, and answers each APDU it receives
/// with the captured responder's next transfer (an echo, a ROS result …), asking for the turn
/// to send it; with none left it only receives (a sink).
struct RtsApp {
    rts: crate::rts::Rts,
    initiator: bool,
    plan: RtsPlan,
    /// Turn requests made so far (ISODE's `isoc` counts the priority up).
    asked: i64,
    /// Responder: the transfers answered so far.
    answers: usize,
}

impl RtsApp {
    fn react(&mut self, e: &crate::rts::RtsEvent, now: Instant) {
        use crate::rts::RtsEvent as E;
        // A request the machine refuses shows in what it sends (or does not): not an error here.
        match e {
            E::OpenIndication(_) => {
                let _ = match (&self.plan.refused, &self.plan.accepted) {
                    (Some((reason, data, result)), _) => {
                        self.rts
                            .reject_with_result(*reason, data.as_deref(), *result, now)
                    }
                    (None, Some((_, _, open))) => self.rts.accept_with(None, open.as_deref(), now),
                    (None, None) => self.rts.accept(None, now),
                };
            }
            E::Opened(o) if self.initiator => {
                if o.turn {
                    self.next(now);
                } else {
                    self.ask(now);
                }
            }
            E::TurnGiven if self.initiator => self.next(now),
            // In monologue the initiator keeps the turn: the next transfer once the last one
            // is confirmed (an X.400 MTA's queue), then close.
            E::Confirmed { .. } if self.initiator && !self.plan.two_way_alternate => self.next(now),
            E::TurnPlease { .. } if self.plan.two_way_alternate => {
                let _ = self.rts.turn_give(now);
            }
            E::Received(_) if self.initiator => self.ask(now),
            E::Received(apdu) => {
                // The captured responder's next transfer; past its last one, an echo of what
                // came while the capture shows it still asking for the turn (it meant to answer
                // but never got to: an echo server).
                let answer = self
                    .plan
                    .server_transfers
                    .pop_front()
                    .or_else(|| (self.answers < self.plan.server_asks).then(|| apdu.clone()));
                if let Some(answer) = answer {
                    self.answers = self.answers.saturating_add(1);
                    let _ = self.rts.transfer(answer, now);
                    if !self.rts.has_turn() {
                        let _ = self.rts.turn_please(1, now);
                    }
                }
            }
            _ => {}
        }
    }

    /// Initiator holding the turn: the next transfer, or close.
    fn next(&mut self, now: Instant) {
        let _ = match self.plan.client_transfers.pop_front() {
            Some(apdu) => self.rts.transfer(apdu, now).map(|_| ()),
            None => self.rts.close(now),
        };
    }

    fn ask(&mut self, now: Instant) {
        self.asked = self.asked.saturating_add(1);
        let _ = self.rts.turn_please(self.asked, now);
    }
}

/// A transport connection alone, for TSDUs that are not OSI session: the responder accepts
/// every CR; the application sends the captured TSDUs (X.224 class 0 over RFC 1006).
struct TransportApp {
    conn: crate::cotp::connection::Connection,
    /// Initiator: the CR's T-selectors.
    request: crate::cotp::connection::ConnectRequest,
}

/// A session connection over a transport connection (the CN's user data is not a CP).
struct SessionApp {
    conn: crate::cotp::connection::Connection,
    session: crate::session::Connection,
    request: crate::cotp::connection::ConnectRequest,
}

impl SessionApp {
    /// Moves everything between the two machines; what the transport sends goes to `out`.
    fn pump(&mut self, now: Instant, out: &mut Vec<Bytes>, end: &mut Option<End>) -> bool {
        use crate::cotp::connection::Event as T;
        use crate::session::connection::Event as S;
        let mut closed = false;
        loop {
            let mut moved = false;
            while let Some(t) = self.session.poll_transmit() {
                moved = true;
                let _ = self.conn.send(t.to_bytes(), now);
            }
            while let Some(b) = self.conn.poll_transmit() {
                out.push(b);
            }
            if let Some(e) = self.conn.poll_event() {
                moved = true;
                match e {
                    T::ConnectIndication(_) => {
                        let _ = self.conn.accept(now);
                    }
                    T::Connected(_) => self.session.handle_transport_connected(now),
                    T::Tsdu(t) => self.session.handle_tsdu(t, now),
                    T::Disconnected(d) => self.session.handle_transport_disconnected(d, now),
                    T::Closed => closed = true,
                }
            }
            if let Some(e) = self.session.poll_event() {
                moved = true;
                match e {
                    S::Released { .. } => *end = Some(End::Released),
                    S::Refused { .. } | S::Rejected { .. } => *end = Some(End::Refused),
                    S::Aborted(_) => *end = Some(End::Aborted),
                    S::Closed if !self.conn.is_closed() => self.conn.disconnect(now),
                    _ => {}
                }
            }
            if !moved {
                return closed;
            }
        }
    }
}

/// The machine replay drives: a transport connection, a session connection, a bare
/// association, or an RTS with its application.
enum Machine {
    Transport(Box<TransportApp>),
    Session(Box<SessionApp>),
    Association(Box<Association>),
    Rts(Box<RtsApp>),
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Machine {
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Machine::Transport(t) => t.conn.poll_timeout(),
            Machine::Session(s) => earliest(s.conn.poll_timeout(), s.session.poll_timeout()),
            Machine::Association(m) => m.poll_timeout(),
            Machine::Rts(a) => a.rts.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Machine::Transport(t) => t.conn.handle_timeout(now),
            Machine::Session(s) => {
                s.conn.handle_timeout(now);
                s.session.handle_timeout(now);
            }
            Machine::Association(m) => m.handle_timeout(now),
            Machine::Rts(a) => a.rts.handle_timeout(now),
        }
    }

    fn handle_input(&mut self, octets: &[u8], now: Instant) {
        match self {
            Machine::Transport(t) => t.conn.handle_input(octets, now),
            Machine::Session(s) => s.conn.handle_input(octets, now),
            Machine::Association(m) => m.handle_input(octets, now),
            Machine::Rts(a) => a.rts.handle_input(octets, now),
        }
    }

    /// Everything the machine sends now, its application reacting to its events on the way;
    /// whether it finished. `end` takes the last ending event.
    fn drain(&mut self, now: Instant, out: &mut Vec<Bytes>, end: &mut Option<End>) -> bool {
        use crate::association::Event as A;
        use crate::rts::RtsEvent as R;
        let mut closed = false;
        match self {
            Machine::Transport(t) => loop {
                use crate::cotp::connection::Event as T;
                out.extend(std::iter::from_fn(|| t.conn.poll_transmit()));
                let Some(e) = t.conn.poll_event() else { break };
                match e {
                    T::ConnectIndication(_) => {
                        let _ = t.conn.accept(now);
                    }
                    T::Disconnected(_) => *end = Some(End::Disconnected),
                    T::Closed => closed = true,
                    _ => {}
                }
            },
            Machine::Session(s) => closed |= s.pump(now, out, end),
            Machine::Association(m) => {
                let mut note = |e: &A| match e {
                    A::Released { .. } => *end = Some(End::Released),
                    A::Refused(_) | A::Rejected(_) => *end = Some(End::Refused),
                    A::Aborted(_) => *end = Some(End::Aborted),
                    A::Closed => closed = true,
                    _ => {}
                };
                while let Some(e) = m.poll_event() {
                    note(&e);
                }
                out.extend(std::iter::from_fn(|| m.poll_transmit()));
                while let Some(e) = m.poll_event() {
                    note(&e);
                }
            }
            Machine::Rts(a) => loop {
                out.extend(std::iter::from_fn(|| a.rts.poll_transmit()));
                let Some(e) = a.rts.poll_event() else { break };
                match &e {
                    R::Released => *end = Some(End::Released),
                    R::Refused { .. } | R::Rejected(_) => *end = Some(End::Refused),
                    R::Aborted { .. } => *end = Some(End::Aborted),
                    R::Closed => closed = true,
                    _ => {}
                }
                a.react(&e, now);
            },
        }
        closed
    }
}

/// The machine, its application and the two readers.
struct Player {
    machine: Machine,
    /// Reads the machine's output (and the fed side, for the contexts).
    reader: Stream,
    machine_dir: Direction,
    fed: Direction,
    produced: std::collections::VecDeque<Unit>,
    now: Instant,
    associated: bool,
    /// The machine reported [`Event::Closed`](crate::association::Event::Closed) (or
    /// [`RtsEvent::Closed`](crate::rts::RtsEvent::Closed)).
    closed: bool,
    end: Option<End>,
}

impl Player {
    fn collect(&mut self) {
        let mut out = Vec::new();
        self.closed |= self.machine.drain(self.now, &mut out, &mut self.end);
        for bytes in out {
            let produced = &mut self.produced;
            self.reader.push(self.machine_dir, &bytes, &mut |r| {
                if let Some(u) = unit(&r) {
                    produced.push_back(u);
                }
            });
        }
    }

    /// Moves the clock to `at` (never back), firing the machine's timers on the way.
    fn advance(&mut self, at: Instant) {
        if at <= self.now {
            return;
        }
        while let Some(deadline) = self.machine.poll_timeout().filter(|d| *d <= at) {
            let when = deadline.max(self.now);
            self.now = when;
            self.machine.handle_timeout(when);
            self.collect();
            if self.machine.poll_timeout() == Some(deadline) {
                break;
            }
        }
        self.now = at;
    }

    fn feed(&mut self, octets: &[u8]) {
        self.reader.push(self.fed, octets, &mut |_| {});
        self.machine.handle_input(octets, self.now);
        self.collect();
    }

    fn act(&mut self, action: &Action) -> Result<(), ServiceError> {
        let now = self.now;
        let m = match &mut self.machine {
            Machine::Transport(t) => {
                return match action {
                    Action::Associate(_) if !self.associated => {
                        self.associated = true;
                        t.conn.connect(&t.request, now).map_err(transport_error)
                    }
                    Action::Tsdu(data) => t.conn.send(data.clone(), now).map_err(transport_error),
                    _ => Ok(()),
                };
            }
            Machine::Session(s) => {
                let r = match action {
                    Action::Associate(_) if !self.associated => {
                        self.associated = true;
                        s.conn.connect(&s.request, now).map_err(transport_error)
                    }
                    Action::SessionConnect(r) => {
                        s.session.connect((**r).clone(), now).map_err(session_error)
                    }
                    Action::SessionAccept(d) => {
                        s.session.accept(d.clone(), now).map_err(session_error)
                    }
                    Action::SessionRefuse(reason, d) => {
                        s.session.refuse(*reason, d, now).map_err(session_error)
                    }
                    Action::SessionData(d) => {
                        s.session.send_data(d.clone(), now).map_err(session_error)
                    }
                    Action::Release => s.session.release(&[], now).map_err(session_error),
                    Action::ReleaseResponse(accept) => s
                        .session
                        .release_response(*accept, &[], now)
                        .map_err(session_error),
                    Action::Abort(_) => s.session.abort(&[], now).map_err(session_error),
                    Action::GiveTokens(t) => s.session.give_tokens(*t, now).map_err(session_error),
                    Action::PleaseTokens(t, d) => {
                        s.session.please_tokens(*t, d, now).map_err(session_error)
                    }
                    Action::GiveControl => s.session.give_control(now).map_err(session_error),
                    Action::ActivityStart(id) => {
                        s.session.activity_start(id, now).map_err(session_error)
                    }
                    Action::ActivityEnd => s
                        .session
                        .activity_end(now)
                        .map(|_| ())
                        .map_err(session_error),
                    Action::ActivityEndResponse => {
                        s.session.activity_end_response(now).map_err(session_error)
                    }
                    Action::SyncMinor => {
                        s.session.sync_minor(now).map(|_| ()).map_err(session_error)
                    }
                    Action::SyncMinorResponse(n) => s
                        .session
                        .sync_minor_response(*n, now)
                        .map_err(session_error),
                    _ => Ok(()),
                };
                return r;
            }
            Machine::Association(m) => m,
            Machine::Rts(app) => {
                // The RTS application reacts to the machine's events; only the open and an
                // abort are the captured peer's own initiative.
                let result = match action {
                    Action::Associate(r) if !self.associated => {
                        self.associated = true;
                        let open = app.plan.open.clone();
                        app.rts.open((**r).clone(), open.as_deref(), now)
                    }
                    Action::Abort(_) => app.rts.abort(None, now),
                    _ => Ok(()),
                };
                return result.map_err(|e| rts_service_error(e, app.rts.association().state()));
            }
        };
        match action {
            Action::Associate(r) => {
                if self.associated {
                    return Ok(());
                }
                self.associated = true;
                m.associate((**r).clone(), now)
            }
            Action::Accept(r) => m.accept((**r).clone(), now),
            Action::Reject(info, result) => m.reject_with_result(info.as_deref(), *result, now),
            Action::Data(values) => {
                for (ctx, v) in values {
                    m.send_data_bytes(*ctx, v.clone(), now)?;
                }
                Ok(())
            }
            Action::Release => m.release(now),
            Action::ReleaseResponse(accept) => m.release_response(*accept, now),
            Action::Abort(info) => m.abort_with(info.as_deref(), now),
            // Below the association: not its application's to do (the machine's own reaction
            // shows in what it sends).
            Action::Tsdu(_)
            | Action::SessionConnect(_)
            | Action::SessionAccept(_)
            | Action::SessionRefuse(..)
            | Action::SessionData(_)
            | Action::GiveTokens(_)
            | Action::PleaseTokens(..)
            | Action::GiveControl
            | Action::ActivityStart(_)
            | Action::ActivityEnd
            | Action::ActivityEndResponse
            | Action::SyncMinor
            | Action::SyncMinorResponse(_) => Ok(()),
        }
    }
}

fn transport_error(e: crate::cotp::connection::ServiceError) -> ServiceError {
    ServiceError::Transport(e)
}

fn session_error(e: crate::session::connection::ServiceError) -> ServiceError {
    ServiceError::Session(e)
}

/// The association-level error of an RTS request ([`Verdict::Refused`] carries those); an RTS
/// rule is said as the request and the association's state.
fn rts_service_error(e: crate::rts::RtsError, state: crate::association::State) -> ServiceError {
    match e {
        crate::rts::RtsError::Service(s) => s,
        crate::rts::RtsError::Encode(e) => ServiceError::Encode(e),
        crate::rts::RtsError::NotAllowed { request, .. } => {
            ServiceError::WrongState { request, state }
        }
    }
}

/// Replays captured TPKTs (`(direction, octets)` in capture order): `fed`'s are fed to the
/// machine, which plays the other role; the other side's are what the machine is expected to
/// send. Direction [`Direction::Client`] makes the machine a responder, [`Direction::Server`] an
/// initiator.
pub fn replay_frames<'a>(
    frames: impl IntoIterator<Item = (Direction, &'a [u8])>,
    fed: Direction,
) -> Report {
    replay_timed(frames.into_iter().map(|(d, o)| (d, None, o)), fed)
}

/// [`replay_frames`] with the capture's timing: each frame's capture time (since any fixed
/// origin) moves the machine's clock before the frame is handled, and the machine's timers
/// ([`Association::poll_timeout`]) fire when the capture's pauses pass them. A frame without a
/// time keeps the clock where it was.
pub fn replay_timed<'a>(
    frames: impl IntoIterator<Item = (Direction, Option<Duration>, &'a [u8])>,
    fed: Direction,
) -> Report {
    let timed: Vec<(Direction, Option<Duration>, &[u8])> = frames.into_iter().collect();
    replay_from(&timed, fed, 0, Start::Connect)
}

/// What replay reads ahead in a capture before playing it.
struct Ahead {
    /// The initiator's A-ASSOCIATE request (from the CR, CN and CP).
    request: Option<Action>,
    /// Transport reference and TPDU size of the CR.
    config: Config,
    /// The CR's selectors (and the CN's and CP's).
    selectors: AssociateRequest,
    plays: Plays,
    /// The functional units the CN proposed.
    proposal: Option<u16>,
    /// The real responder answered the CR with a DR: the called T-selector it did not serve
    /// (`Some(None)`: a CR without one).
    refused_tsel: Option<Option<Bytes>>,
}

fn read_ahead(frames: &[(Direction, &[u8])]) -> Ahead {
    let mut a = Ahead {
        request: None,
        config: Config::default(),
        selectors: AssociateRequest::mms(),
        plays: Plays::Association,
        proposal: None,
        refused_tsel: None,
    };
    // The first TSDU, and how the CR was answered.
    let mut first_tsdu: Option<Plays> = None;
    let mut cr_answer: Option<&'static str> = None;
    let mut called_tsel: Option<Bytes> = None;
    let mut r = Stream::new();
    for (d, o) in frames {
        r.push(*d, o, &mut |rec| {
            let RecordKind::Frame(f) = &rec.kind else {
                return;
            };
            let client = rec.direction == Direction::Client;
            match f.tpdu() {
                Some(Tpdu::Cr(cr)) if client && a.request.is_none() => {
                    a.config = a.config.clone().with_local_reference(cr.src_ref);
                    for p in cr.params.iter() {
                        match p.typed(crate::cotp::TpduKind::Cr) {
                            crate::cotp::Param::TpduSize(size) => {
                                if let Some(n) = size.octets() {
                                    a.config = a.config.clone().with_tpdu_size(n);
                                }
                            }
                            crate::cotp::Param::CalledTsel(v) => {
                                called_tsel = Some(Bytes::copy_from_slice(v));
                            }
                            _ => {}
                        }
                    }
                }
                Some(t @ (Tpdu::Cc(_) | Tpdu::Dr(_) | Tpdu::Er(_)))
                    if !client && cr_answer.is_none() =>
                {
                    cr_answer = Some(t.kind().name());
                }
                _ => {}
            }
            if first_tsdu.is_none() && f.tsdu.is_some() {
                first_tsdu = Some(match f.upper() {
                    None => Plays::Transport,
                    // A CN whose user data is not a CP: none, or not a SET (a CP that fails
                    // to decode is a malformed CP, not a session-only stream).
                    Some(u)
                        if u.presentation.is_none()
                            && u.session.iter().any(|s| {
                                s.kind() == SpduKind::Cn
                                    && s.user_data().and_then(|d| d.first()) != Some(&0x31)
                            }) =>
                    {
                        Plays::Session
                    }
                    Some(_) => Plays::Association,
                });
            }
            if let Some(u) = f.upper() {
                if client && a.proposal.is_none() {
                    if let Some(cn) = u.session.iter().find(|s| s.kind() == SpduKind::Cn) {
                        a.proposal = Some(
                            cn.session_user_requirements()
                                .unwrap_or(crate::session::SessionUserRequirements::DEFAULT)
                                .0,
                        );
                    }
                }
            }
            if !client || a.request.is_some() {
                return;
            }
            take_selectors(&rec, &mut a.selectors);
            if let Some(u) = unit(&rec) {
                let cp = u.get(Layer::Presentation, "type") == Some(&Value::Kind("CP"));
                if let (true, Some(Action::Associate(mut q))) = (cp, u.action) {
                    let s = &a.selectors;
                    q.calling_tsel = s.calling_tsel;
                    q.called_tsel = s.called_tsel;
                    q.calling_ssel = s.calling_ssel;
                    q.called_ssel = s.called_ssel;
                    q.calling_psel = s.calling_psel;
                    q.called_psel = s.called_psel;
                    a.request = Some(Action::Associate(q));
                }
            }
        });
    }
    a.plays = match (first_tsdu, cr_answer) {
        (Some(p), _) => p,
        // Nothing above a transport connection that was accepted (RDP before TLS …).
        (None, Some("CC")) => Plays::Transport,
        _ => Plays::Association,
    };
    if cr_answer == Some("DR") {
        a.refused_tsel = Some(called_tsel.filter(|t| !t.is_empty()));
    }
    a
}

/// [`replay_timed`] after `synthetic` frames that are not in the capture (a CR and CC that
/// establish the transport connection of a capture that starts after it): they are played, and
/// their steps dropped.
fn replay_from(
    timed: &[(Direction, Option<Duration>, &[u8])],
    fed: Direction,
    synthetic: usize,
    begin: Start,
) -> Report {
    let start = Instant::now();
    let now = start;
    let origin = timed.iter().find_map(|(_, t, _)| *t);
    let frames: Vec<(Direction, &[u8])> = timed.iter().map(|(d, _, o)| (*d, *o)).collect();
    let Ahead {
        request,
        config,
        selectors,
        mut plays,
        proposal,
        refused_tsel,
    } = read_ahead(&frames);
    let request = if fed == Direction::Server {
        request
    } else {
        None
    };
    // An RTS association is played by an RTS with its application, unless the real responder
    // refused it below RTSE (no RTORJ): the RTS user only refuses with one.
    let plan = rts_plan(&frames).filter(|p| !(fed == Direction::Client && p.refused_below));
    let machine_dir = if fed == Direction::Server {
        Direction::Client
    } else {
        Direction::Server
    };
    let rts = plan.is_some();
    if rts {
        plays = Plays::Rts;
    }
    // The real responder refused the CR: the machine serves every T-selector but that one
    // (its dispatch then refuses it with DR "address unknown", X.224 §13.5.3).
    let dispatch = match &refused_tsel {
        Some(Some(_)) => Dispatch::new(vec![
            crate::association::Service::new("replay")
                .with_tsel(crate::association::Selector::Absent),
        ]),
        Some(None) => Dispatch::new(vec![crate::association::Service::new("replay").with_tsel(
            crate::association::Selector::Is(
                crate::address::TSel::new(b"replay").unwrap_or_default(),
            ),
        )]),
        None => Dispatch::default(),
    };
    let transport_config = || {
        crate::cotp::connection::Config::default()
            .with_local_reference(config.local_reference)
            .with_tpdu_size(config.tpdu_size)
    };
    let mut transport_request = crate::cotp::connection::ConnectRequest::default();
    if let Some(t) = selectors.calling_tsel {
        transport_request = transport_request.with_calling_tsel(t);
    }
    if let Some(t) = selectors.called_tsel {
        transport_request = transport_request.with_called_tsel(t);
    }
    let machine = match plan {
        Some(plan) => {
            let initiator = fed == Direction::Server;
            let settings = if initiator {
                crate::rts::RtsSettings::default()
                    .with_mode(plan.mode)
                    .with_dialogue(plan.two_way_alternate, plan.initiator_turn)
                    .with_checkpoints(
                        u32::try_from(plan.checkpoint_kb).unwrap_or(0),
                        u32::try_from(plan.window).unwrap_or(1),
                    )
            } else {
                // What the real responder accepted is what it accepts at most.
                let (cp, w) = plan
                    .accepted
                    .as_ref()
                    .map_or((plan.checkpoint_kb, plan.window), |(c, w, _)| (*c, *w));
                crate::rts::RtsSettings::default().with_checkpoints(
                    u32::try_from(cp).unwrap_or(0),
                    u32::try_from(w).unwrap_or(1),
                )
            };
            let mut rts = if initiator {
                crate::rts::Rts::initiator(config, settings, crate::rts::TransferState::new())
            } else {
                crate::rts::Rts::responder(config, dispatch, None, settings)
            };
            if !initiator {
                rts.handle_transport_accepted(now);
            }
            Machine::Rts(Box::new(RtsApp {
                rts,
                initiator,
                plan,
                asked: 0,
                answers: 0,
            }))
        }
        None if plays == Plays::Transport => {
            let conn = if fed == Direction::Server {
                crate::cotp::connection::Connection::initiator(transport_config())
            } else {
                let mut c = crate::cotp::connection::Connection::responder(transport_config());
                c.handle_transport_accepted(now);
                c
            };
            Machine::Transport(Box::new(TransportApp {
                conn,
                request: transport_request,
            }))
        }
        None if plays == Plays::Session => {
            let (conn, session) = if fed == Direction::Server {
                (
                    crate::cotp::connection::Connection::initiator(transport_config()),
                    crate::session::Connection::initiator(Default::default()),
                )
            } else {
                let mut c = crate::cotp::connection::Connection::responder(transport_config());
                c.handle_transport_accepted(now);
                (c, crate::session::Connection::responder(Default::default()))
            };
            Machine::Session(Box::new(SessionApp {
                conn,
                session,
                request: transport_request,
            }))
        }
        None if fed == Direction::Server => {
            Machine::Association(Box::new(Association::initiator(config)))
        }
        None => {
            let mut m = Association::responder(config, dispatch, None);
            m.handle_transport_accepted(now);
            Machine::Association(Box::new(m))
        }
    };
    let mut p = Player {
        machine,
        reader: Stream::new(),
        machine_dir,
        fed,
        produced: std::collections::VecDeque::new(),
        now,
        associated: false,
        closed: false,
        end: None,
    };
    let mut expected_reader = Stream::new();
    let mut steps = Vec::new();
    // The synthetic frames' octets, per direction (client, server): the capture's offsets
    // start after them.
    let mut shift = (0u64, 0u64);
    for (i, (&(dir, octets), (_, time, _))) in frames.iter().zip(timed).enumerate() {
        if i == synthetic && synthetic > 0 {
            steps.clear();
        }
        if i < synthetic {
            let n = u64::try_from(octets.len()).unwrap_or(u64::MAX);
            if dir == Direction::Client {
                shift.0 = shift.0.saturating_add(n);
            } else {
                shift.1 = shift.1.saturating_add(n);
            }
        }
        if let (Some(t), Some(o)) = (time, origin) {
            if let Some(at) = start.checked_add(t.saturating_sub(o)) {
                p.advance(at);
            }
        }
        if dir == fed {
            // The expected reader learns the contexts the fed side sets too.
            expected_reader.push(dir, octets, &mut |_| {});
            p.feed(octets);
            continue;
        }
        let mut units = Vec::new();
        expected_reader.push(dir, octets, &mut |r| units.extend(unit(&r)));
        for mut e in units {
            if p.produced.is_empty() {
                let cr = matches!(e.action, Some(Action::Associate(_)))
                    && e.get(Layer::Cotp, "type") == Some(&Value::Kind("CR"));
                let action = match (plays, &e.action, &request) {
                    // Below the association, the CR opens the transport connection; then the
                    // session user, or the transport user, does what the capture shows.
                    (Plays::Transport | Plays::Session, _, _) if cr => e.action.clone(),
                    (Plays::Transport, _, _) => e.tsdu.clone().map(Action::Tsdu),
                    (Plays::Session, _, _) => e.session_action.clone(),
                    (_, Some(Action::Associate(_)), Some(r)) => Some(r.clone()),
                    (_, a, _) => a.clone(),
                };
                if let Some(a) = action {
                    if let Err(err) = p.act(&a) {
                        e.action = None;
                        e.session_action = None;
                        e.tsdu = None;
                        steps.push(Step {
                            expected: Some(e),
                            actual: None,
                            verdict: Verdict::Refused(err),
                        });
                        p.collect();
                        continue;
                    }
                }
                p.collect();
            }
            let carried = plays == Plays::Transport && e.tsdu.is_some();
            e.action = None;
            e.session_action = None;
            e.tsdu = None;
            let dr = e.get(Layer::Cotp, "type") == Some(&Value::Kind("DR"));
            let step = match p.produced.pop_front() {
                Some(mut a) => {
                    a.action = None;
                    a.session_action = None;
                    a.tsdu = None;
                    let verdict = match compare(&e, &a, proposal) {
                        Verdict::Same if carried => Verdict::Carried,
                        v => v,
                    };
                    Step {
                        verdict,
                        expected: Some(e),
                        actual: Some(a),
                    }
                }
                None => Step {
                    verdict: if dr && p.closed {
                        Verdict::ClosedInstead
                    } else {
                        Verdict::Missing
                    },
                    expected: Some(e),
                    actual: None,
                },
            };
            steps.push(step);
        }
    }
    while let Some(mut a) = p.produced.pop_front() {
        a.action = None;
        a.session_action = None;
        a.tsdu = None;
        steps.push(Step {
            expected: None,
            actual: Some(a),
            verdict: Verdict::Extra,
        });
    }
    if synthetic > 0 {
        // Both the expected and the machine's units are the side not fed.
        let d = if fed == Direction::Client {
            shift.1
        } else {
            shift.0
        };
        for s in &mut steps {
            for u in [s.expected.as_mut(), s.actual.as_mut()]
                .into_iter()
                .flatten()
            {
                u.offset = u.offset.saturating_sub(d);
            }
        }
    }
    Report {
        fed,
        rts,
        plays,
        start: begin,
        end: p.end,
        closed: p.closed,
        steps,
    }
}

/// Which association of a capture to replay, and which side to feed.
#[cfg(feature = "pcap")]
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The TCP stream (as numbered by [`crate::dissect::Tracker`]); `None`: the first one that
    /// carries a CR, else the first one.
    pub stream: Option<u64>,
    /// The side whose bytes are fed to the machine.
    pub fed: Direction,
    /// Ports of the streams considered (default 102 and 3389: ISO-TSAP and RDP).
    pub ports: Vec<u16>,
}

#[cfg(feature = "pcap")]
impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            stream: None,
            fed: Direction::Client,
            ports: vec![102, 3389],
        }
    }
}

/// Why a capture could not be replayed.
#[cfg(feature = "pcap")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The capture could not be read.
    #[error(transparent)]
    Capture(#[from] crate::dissect::capture::CaptureError),
    /// No such stream, or no stream with TPKTs on the ports considered.
    #[error("no association to replay")]
    NoAssociation,
    /// The stream starts after the connection was established, past its CN: the state the
    /// machine would need (presentation contexts, tokens, the association itself) is not in the
    /// capture.
    #[error(
        "stream {stream}: capture starts after the connection was established (first unit: {first}): the association's state is not in the capture, not replayed"
    )]
    MidAssociation {
        /// The stream.
        stream: u64,
        /// The label of its first unit ([`Unit::label`]).
        first: String,
    },
    /// The capture holds only one direction of the stream: nothing to feed the machine, or
    /// nothing to compare what it sends with.
    #[error(
        "stream {stream}: the capture holds only the {only} side (first unit: {first}), nothing to {what}"
    )]
    OneSided {
        /// The stream.
        stream: u64,
        /// The side the capture holds: `client` or `server`.
        only: &'static str,
        /// The label of its first unit.
        first: String,
        /// What is missing: `feed the machine` or `compare the machine with`.
        what: &'static str,
    },
}

/// A CR and a CC (X.224 §13.3, §13.4, class 0, TPDU size 8192) that establish the transport
/// connection of a capture that starts after it.
#[cfg(feature = "pcap")]
const SYNTHETIC_CR: [u8; 14] = [
    0x03, 0x00, 0x00, 0x0e, 0x09, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0d,
];
#[cfg(feature = "pcap")]
const SYNTHETIC_CC: [u8; 14] = [
    0x03, 0x00, 0x00, 0x0e, 0x09, 0xd0, 0x00, 0x01, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0d,
];

/// Replays one association of the pcap or pcapng file at `path` (see [`replay_frames`]);
/// returns the stream replayed and the report.
///
/// Without [`CaptureOptions::stream`] the first stream with a CR is replayed, else the first
/// stream. A stream that starts after its transport connection was established, with a CN, is
/// replayed from a synthesized transport connection ([`Start::Established`]); one that starts
/// later ([`ReplayError::MidAssociation`]) or holds one direction only
/// ([`ReplayError::OneSided`]) is not.
#[cfg(feature = "pcap")]
pub fn replay_capture(
    path: &std::path::Path,
    options: &CaptureOptions,
) -> Result<(u64, Report), ReplayError> {
    use crate::dissect::Tracker;
    // Each stream's TPKTs, in capture order, whether it carried a CR, and its first unit.
    type Frames = Vec<(Direction, Option<std::time::Duration>, Vec<u8>)>;
    #[derive(Default)]
    struct Seen {
        cr: bool,
        first: Option<(Direction, String, bool)>,
        frames: Frames,
    }
    let mut streams: std::collections::BTreeMap<u64, Seen> = std::collections::BTreeMap::new();
    let mut tracker = Tracker::new(options.ports.clone());
    let mut keep = |r: Record<'_>| {
        let (Some(id), RecordKind::Frame(f)) = (r.stream, &r.kind) else {
            return;
        };
        if options.stream.is_some_and(|s| s != id) {
            return;
        }
        let entry = streams.entry(id).or_default();
        entry.cr |= matches!(f.tpdu(), Some(Tpdu::Cr(_)));
        if entry.first.is_none() {
            if let Some(u) = unit(&r) {
                let cn = f
                    .upper()
                    .is_some_and(|u| u.session.first().is_some_and(|s| s.kind() == SpduKind::Cn));
                entry.first = Some((r.direction, u.label(), cn));
            }
        }
        entry.frames.push((r.direction, r.time, f.octets.to_vec()));
    };
    crate::dissect::capture::for_each_segment(path, |seg| tracker.segment(&seg, &mut keep))?;
    tracker.finish(&mut keep);
    let (id, seen) = match streams.iter().find(|(_, s)| s.cr).map(|(id, _)| *id) {
        Some(id) => streams.remove_entry(&id),
        None => streams.pop_first(),
    }
    .ok_or(ReplayError::NoAssociation)?;
    let timed: Vec<(Direction, Option<Duration>, &[u8])> = seen
        .frames
        .iter()
        .map(|(d, t, o)| (*d, *t, o.as_slice()))
        .collect();
    let first_tpdu = seen.frames.first().and_then(|(_, _, o)| o.get(5)).copied();
    let starts_with_cr = first_tpdu.is_some_and(|c| c & 0xf0 == 0xe0);
    let (first_dir, first, cn) =
        seen.first
            .clone()
            .unwrap_or((Direction::Client, String::new(), false));
    // The machine needs the other side to compare with, and a responder needs the fed side
    // (an initiator starts by itself).
    let has = |side: Direction| seen.frames.iter().any(|(d, _, _)| *d == side);
    let other = if options.fed == Direction::Client {
        Direction::Server
    } else {
        Direction::Client
    };
    let missing = if !has(other) {
        Some("compare the machine with")
    } else if !has(options.fed) && options.fed == Direction::Client {
        Some("feed the machine")
    } else {
        None
    };
    if let Some(what) = missing {
        let only = if has(Direction::Client) {
            "client"
        } else {
            "server"
        };
        return Err(ReplayError::OneSided {
            stream: id,
            only,
            first,
            what,
        });
    }
    if starts_with_cr || seen.cr {
        return Ok((id, replay_from(&timed, options.fed, 0, Start::Connect)));
    }
    if !(cn && first_dir == Direction::Client) {
        return Err(ReplayError::MidAssociation { stream: id, first });
    }
    // The transport connection was established before the capture began: a CR and a CC first.
    let mut with_transport: Vec<(Direction, Option<Duration>, &[u8])> = vec![
        (Direction::Client, None, &SYNTHETIC_CR[..]),
        (Direction::Server, None, &SYNTHETIC_CC[..]),
    ];
    with_transport.extend(timed);
    let report = replay_from(
        &with_transport,
        options.fed,
        2,
        Start::Established { first },
    );
    Ok((id, report))
}
