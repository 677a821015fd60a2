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
//! [`replay_capture`] and [`replay_timed`] keep the capture's timing: the machine's clock follows
//! the capture's timestamps and its timers fire where the capture's pauses pass them
//! ([`replay_frames`] runs on one instant). Not replayed: the machine as initiator of a ROS
//! association in X.410-1984 mode (the association machine does not open that mode by itself,
//! and it is not RTS).
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
use crate::presentation::{AbortPpdu, ContextId, Cpr, PdvValues, UserData};
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
}

impl Unit {
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
    Data(Vec<(ContextId, Bytes)>),
    Release,
    ReleaseResponse(bool),
    Abort(Option<Bytes>),
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
    /// Every step, in order.
    pub steps: Vec<Step>,
}

impl Report {
    /// Whether every step is [`Verdict::Same`] (or [`Verdict::ClosedInstead`]).
    pub fn matches(&self) -> bool {
        self.first_difference().is_none()
    }

    /// The first step that does not match.
    pub fn first_difference(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| !matches!(s.verdict, Verdict::Same | Verdict::ClosedInstead))
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

fn pdv_values(ud: &UserData<'_>) -> Vec<(ContextId, Bytes)> {
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
    if let Some(u) = f.upper() {
        let kinds: Vec<&'static str> = u.session.iter().map(|s| s.kind().abbreviation()).collect();
        fields.push(field(Layer::Session, "type", Value::Kinds(kinds)));
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
                            let mut ids: Vec<i64> = list.iter().map(|c| c.id.get()).collect();
                            ids.sort_unstable();
                            fields.push(field(Layer::Presentation, "contexts", Value::Codes(ids)));
                        }
                    }
                    action = Some(Action::Associate(Box::new(request_from(
                        cp,
                        u.acse.as_ref(),
                    ))));
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
                        Value::Codes(values.iter().map(|(c, _)| c.get()).collect()),
                    ));
                    if u.session.iter().any(|s| s.kind() == SpduKind::Dt) {
                        action = Some(Action::Data(values));
                    }
                }
                Presentation::X410Data(raw)
                    if u.session.iter().any(|s| s.kind() == SpduKind::Dt) =>
                {
                    // The association ignores the context in X.410-1984 mode.
                    action = Some(Action::Data(vec![(
                        ContextId::MIN,
                        Bytes::copy_from_slice(raw),
                    )]));
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
    })
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

/// Compares two units field by field, bottom up.
fn compare(expected: &Unit, actual: &Unit) -> Verdict {
    for e in &expected.fields {
        let a = actual
            .get(e.layer, e.name)
            .cloned()
            .unwrap_or(Value::Absent);
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

/// The machine replay drives: a bare association, or an RTS with its application.
enum Machine {
    Association(Box<Association>),
    Rts(Box<RtsApp>),
}

impl Machine {
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Machine::Association(m) => m.poll_timeout(),
            Machine::Rts(a) => a.rts.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Machine::Association(m) => m.handle_timeout(now),
            Machine::Rts(a) => a.rts.handle_timeout(now),
        }
    }

    fn handle_input(&mut self, octets: &[u8], now: Instant) {
        match self {
            Machine::Association(m) => m.handle_input(octets, now),
            Machine::Rts(a) => a.rts.handle_input(octets, now),
        }
    }

    /// Everything the machine sends now, its application reacting to its events on the way;
    /// whether it finished.
    fn drain(&mut self, now: Instant, out: &mut Vec<Bytes>) -> bool {
        let mut closed = false;
        match self {
            Machine::Association(m) => {
                while let Some(e) = m.poll_event() {
                    closed |= matches!(e, crate::association::Event::Closed);
                }
                out.extend(std::iter::from_fn(|| m.poll_transmit()));
                while let Some(e) = m.poll_event() {
                    closed |= matches!(e, crate::association::Event::Closed);
                }
            }
            Machine::Rts(a) => loop {
                out.extend(std::iter::from_fn(|| a.rts.poll_transmit()));
                let Some(e) = a.rts.poll_event() else { break };
                closed |= matches!(e, crate::rts::RtsEvent::Closed);
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
}

impl Player {
    fn collect(&mut self) {
        let mut out = Vec::new();
        self.closed |= self.machine.drain(self.now, &mut out);
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
        }
    }
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
    let start = Instant::now();
    let now = start;
    let timed: Vec<(Direction, Option<Duration>, &[u8])> = frames.into_iter().collect();
    let origin = timed.iter().find_map(|(_, t, _)| *t);
    let frames: Vec<(Direction, &[u8])> = timed.iter().map(|(d, _, o)| (*d, *o)).collect();
    // The initiator's A-ASSOCIATE request comes from the captured CR, CN and CP, its transport
    // reference and TPDU size from the CR: read ahead.
    let mut request: Option<Action> = None;
    let mut config = Config::default();
    if fed == Direction::Server {
        let mut r = Stream::new();
        let mut selectors = AssociateRequest::mms();
        for (d, o) in &frames {
            r.push(*d, o, &mut |rec| {
                if rec.direction != Direction::Client || request.is_some() {
                    return;
                }
                if let RecordKind::Frame(f) = &rec.kind {
                    if let Some(Tpdu::Cr(cr)) = f.tpdu() {
                        config = config.clone().with_local_reference(cr.src_ref);
                        for p in cr.params.iter() {
                            if let crate::cotp::Param::TpduSize(size) =
                                p.typed(crate::cotp::TpduKind::Cr)
                            {
                                if let Some(n) = size.octets() {
                                    config = config.clone().with_tpdu_size(n);
                                }
                            }
                        }
                    }
                }
                take_selectors(&rec, &mut selectors);
                if let Some(u) = unit(&rec) {
                    let cp = u.get(Layer::Presentation, "type") == Some(&Value::Kind("CP"));
                    if let (true, Some(Action::Associate(mut a))) = (cp, u.action) {
                        a.calling_tsel = selectors.calling_tsel;
                        a.called_tsel = selectors.called_tsel;
                        a.calling_ssel = selectors.calling_ssel;
                        a.called_ssel = selectors.called_ssel;
                        a.calling_psel = selectors.calling_psel;
                        a.called_psel = selectors.called_psel;
                        request = Some(Action::Associate(a));
                    }
                }
            });
        }
    }
    // An RTS association is played by an RTS with its application, unless the real responder
    // refused it below RTSE (no RTORJ): the RTS user only refuses with one.
    let plan = rts_plan(&frames).filter(|p| !(fed == Direction::Client && p.refused_below));
    let machine_dir = if fed == Direction::Server {
        Direction::Client
    } else {
        Direction::Server
    };
    let rts = plan.is_some();
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
                crate::rts::Rts::responder(config, Dispatch::default(), None, settings)
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
        None if fed == Direction::Server => {
            Machine::Association(Box::new(Association::initiator(config)))
        }
        None => {
            let mut m = Association::responder(config, Dispatch::default(), None);
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
    };
    let mut expected_reader = Stream::new();
    let mut steps = Vec::new();
    for (&(dir, octets), (_, time, _)) in frames.iter().zip(&timed) {
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
                let action = match (&e.action, &request) {
                    (Some(Action::Associate(_)), Some(r)) => Some(r.clone()),
                    (a, _) => a.clone(),
                };
                if let Some(a) = action {
                    if let Err(err) = p.act(&a) {
                        e.action = None;
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
            e.action = None;
            let dr = e.get(Layer::Cotp, "type") == Some(&Value::Kind("DR"));
            let step = match p.produced.pop_front() {
                Some(mut a) => {
                    a.action = None;
                    Step {
                        verdict: compare(&e, &a),
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
        steps.push(Step {
            expected: None,
            actual: Some(a),
            verdict: Verdict::Extra,
        });
    }
    Report { fed, rts, steps }
}

/// Which association of a capture to replay, and which side to feed.
#[cfg(feature = "pcap")]
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The TCP stream (as numbered by [`crate::dissect::Tracker`]); `None`: the first one that
    /// carries a CR.
    pub stream: Option<u64>,
    /// The side whose bytes are fed to the machine.
    pub fed: Direction,
    /// Ports of the streams considered.
    pub ports: Vec<u16>,
}

#[cfg(feature = "pcap")]
impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            stream: None,
            fed: Direction::Client,
            ports: vec![102],
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
    /// No such stream, or no stream with a CR.
    #[error("no association to replay")]
    NoAssociation,
}

/// Replays one association of the pcap or pcapng file at `path` (see [`replay_frames`]);
/// returns the stream replayed and the report.
#[cfg(feature = "pcap")]
pub fn replay_capture(
    path: &std::path::Path,
    options: &CaptureOptions,
) -> Result<(u64, Report), ReplayError> {
    use crate::dissect::Tracker;
    // Each stream's TPKTs, in capture order, and whether it carried a CR.
    type Frames = Vec<(Direction, Option<std::time::Duration>, Vec<u8>)>;
    let mut streams: std::collections::BTreeMap<u64, (bool, Frames)> =
        std::collections::BTreeMap::new();
    let mut tracker = Tracker::new(options.ports.clone());
    let mut keep = |r: Record<'_>| {
        let (Some(id), RecordKind::Frame(f)) = (r.stream, &r.kind) else {
            return;
        };
        if options.stream.is_some_and(|s| s != id) {
            return;
        }
        let entry = streams.entry(id).or_default();
        entry.0 |= matches!(f.tpdu(), Some(Tpdu::Cr(_)));
        entry.1.push((r.direction, r.time, f.octets.to_vec()));
    };
    crate::dissect::capture::for_each_segment(path, |seg| tracker.segment(&seg, &mut keep))?;
    tracker.finish(&mut keep);
    let (id, frames) = streams
        .into_iter()
        .find(|(_, (cr, _))| *cr || options.stream.is_some())
        .map(|(id, (_, frames))| (id, frames))
        .ok_or(ReplayError::NoAssociation)?;
    let report = replay_timed(
        frames.iter().map(|(d, t, o)| (*d, *t, o.as_slice())),
        options.fed,
    );
    Ok((id, report))
}
