//! Session functional units beyond the duplex kernel: half-duplex (the data token), minor
//! synchronize and activity management (X.225; tokens and
//! serial numbers as in the spec digest `session.md` §4–6).
//!
//! The rules are listed in the [association docs](super#session-functional-units).

use bytes::Bytes;

use crate::error::Layer;
use crate::presentation::UserData;
use crate::session::{
    ActivityReason, SessionUserRequirements, Spdu, SpduKind, TokenItem, TokenPosition,
    TokenSettingItem,
};

use super::{Association, Data, Event, Role, ServiceError, State, Violation, pdu};

/// The identification of an earlier session connection, as the Linking Information of an
/// activity resume (AR, PGI 33) carries it: PI 9–12 (each ≤ 64 octets, the additional
/// reference ≤ 4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct OldConnection {
    /// PI 9 Called SS-user Reference.
    pub called_ss_user_reference: Option<Bytes>,
    /// PI 10 Calling SS-user Reference.
    pub calling_ss_user_reference: Option<Bytes>,
    /// PI 11 Common Reference.
    pub common_reference: Option<Bytes>,
    /// PI 12 Additional Reference Information.
    pub additional_reference_information: Option<Bytes>,
}

/// An activity resumed by the peer ([`Event::ActivityResumed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resumed {
    /// The new activity identifier (AR PI 41).
    pub id: Bytes,
    /// The identifier of the interrupted activity (PI 41 in the Linking Information).
    pub old_id: Bytes,
    /// The serial number to resume after (PI 42 in the Linking Information): the next minor
    /// sync point carries `serial + 1`.
    pub serial: u64,
    /// The connection the activity was interrupted on.
    pub old_connection: OldConnection,
}

/// The activity in progress.
#[derive(Debug, Clone)]
struct Activity {
    /// This side started (or resumed) it: it sends, the peer confirms.
    local: bool,
    /// V(M): the serial number of the next sync point.
    next_serial: u64,
    /// Sender: the highest serial number confirmed by MIA. Receiver: the highest answered.
    confirmed: u64,
    /// Sender: AE sent with this serial number, waiting for AEA.
    await_end: Option<u64>,
    /// Receiver: AE received with this serial number, waiting for the user's response.
    end_indicated: Option<u64>,
}

/// A request this side made that the peer has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Interrupt,
    Discard,
}

/// Token, synchronization and activity state of one association.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionUnits {
    /// What this side proposed (initiator) in the CN.
    proposed: Option<(SessionUserRequirements, Option<TokenSettingItem>)>,
    /// The functional units in use.
    requirements: SessionUserRequirements,
    /// Tokens that exist (half-duplex: data; minor synchronize: minor; activity: major/activity).
    available: TokenItem,
    /// Tokens this side holds.
    owned: TokenItem,
    activity: Option<Activity>,
    /// Minor sync without activity management: V(M) and confirmations.
    plain: Option<Activity>,
    pending: Option<Pending>,
}

/// The functional units a responder agrees to, from those a CN asks for.
pub(crate) fn answer_requirements(requested: SessionUserRequirements) -> SessionUserRequirements {
    if requested.contains(SessionUserRequirements::DUPLEX) {
        return SessionUserRequirements::DUPLEX;
    }
    let offered = SessionUserRequirements::MINOR_SYNCHRONIZE
        .with(SessionUserRequirements::ACTIVITY_MANAGEMENT)
        .with(SessionUserRequirements::EXCEPTIONS);
    SessionUserRequirements(requested.0 & offered.0).with(SessionUserRequirements::HALF_DUPLEX)
}

fn available_tokens(r: SessionUserRequirements) -> TokenItem {
    let mut t = TokenItem::default();
    if r.contains(SessionUserRequirements::HALF_DUPLEX)
        && !r.contains(SessionUserRequirements::DUPLEX)
    {
        t = t.with(TokenItem::DATA);
    }
    if r.contains(SessionUserRequirements::MINOR_SYNCHRONIZE) {
        t = t.with(TokenItem::MINOR_SYNC);
    }
    if r.contains(SessionUserRequirements::ACTIVITY_MANAGEMENT)
        || r.contains(SessionUserRequirements::MAJOR_SYNCHRONIZE)
    {
        t = t.with(TokenItem::MAJOR_ACTIVITY);
    }
    t
}

/// Tokens of `available` that lie on the initiator's side according to `setting` (absent:
/// all; "called user's choice" and reserved values: the initiator's side too).
fn initiator_tokens(available: TokenItem, setting: Option<TokenSettingItem>) -> TokenItem {
    let Some(s) = setting else {
        return available;
    };
    let mut t = TokenItem::default();
    for (token, pos) in [
        (TokenItem::DATA, s.data()),
        (TokenItem::MINOR_SYNC, s.minor_sync()),
        (TokenItem::MAJOR_ACTIVITY, s.major_activity()),
        (TokenItem::RELEASE, s.release()),
    ] {
        if pos != TokenPosition::Responder {
            t = t.with(token);
        }
    }
    TokenItem(t.0 & available.0)
}

/// A Token Setting Item naming concrete positions (`10`, called user's choice, becomes `00`).
fn concrete_setting(s: TokenSettingItem) -> TokenSettingItem {
    let mut v = s.0;
    for shift in [0u8, 2, 4, 6] {
        if (v >> shift) & 0b11 != 0b01 {
            v &= !(0b11 << shift);
        }
    }
    TokenSettingItem(v)
}

fn session_error(reason: impl Into<String>) -> Violation {
    Violation {
        layer: Layer::Session,
        reason: reason.into(),
    }
}

fn serial_of(spdu: &Spdu<'_>, what: &str) -> Result<u64, Violation> {
    spdu.serial_number()
        .and_then(|s| s.value())
        .ok_or_else(|| session_error(format!("{what} without a valid serial number (pi 42)")))
}

impl SessionUnits {
    pub(crate) fn propose(
        &mut self,
        requirements: SessionUserRequirements,
        setting: Option<TokenSettingItem>,
    ) {
        self.proposed = Some((requirements, setting));
    }

    /// Responder: the units agreed and the AC's Token Setting Item (present when the CN left a
    /// token to the called user's choice).
    pub(crate) fn responder_agree(
        &mut self,
        requested: SessionUserRequirements,
        setting: Option<TokenSettingItem>,
    ) -> (SessionUserRequirements, Option<TokenSettingItem>) {
        let agreed = answer_requirements(requested);
        self.set(agreed, setting, Role::Responder);
        let ac_setting = setting
            .filter(|s| [0u8, 2, 4, 6].iter().any(|&i| (s.0 >> i) & 0b11 == 0b10))
            .map(concrete_setting);
        (agreed, ac_setting)
    }

    /// Initiator: the units of the AC (PI 20, absent = the X.225 default) and its Token Setting
    /// Item.
    pub(crate) fn initiator_agree(
        &mut self,
        ac: Option<SessionUserRequirements>,
        ac_setting: Option<TokenSettingItem>,
    ) {
        let (proposed, setting) = self
            .proposed
            .unwrap_or((SessionUserRequirements::DUPLEX, None));
        let ac = ac.unwrap_or(SessionUserRequirements::DEFAULT);
        let mut agreed = SessionUserRequirements(ac.0 & proposed.0);
        if !agreed.contains(SessionUserRequirements::DUPLEX)
            && !agreed.contains(SessionUserRequirements::HALF_DUPLEX)
        {
            // A peer answering outside what was proposed: keep the kernel that was proposed.
            agreed = if proposed.contains(SessionUserRequirements::DUPLEX) {
                SessionUserRequirements::DUPLEX
            } else {
                agreed.with(SessionUserRequirements::HALF_DUPLEX)
            };
        }
        self.set(agreed, ac_setting.or(setting), Role::Initiator);
    }

    fn set(
        &mut self,
        requirements: SessionUserRequirements,
        setting: Option<TokenSettingItem>,
        role: Role,
    ) {
        self.requirements = requirements;
        self.available = available_tokens(requirements);
        let at_initiator = initiator_tokens(self.available, setting);
        self.owned = match role {
            Role::Initiator => at_initiator,
            Role::Responder => TokenItem(self.available.0 & !at_initiator.0),
        };
        self.activity = None;
        self.plain = None;
        self.pending = None;
    }

    fn has_unit(&self, unit: SessionUserRequirements) -> bool {
        self.requirements.contains(unit)
    }

    fn holds(&self, tokens: TokenItem) -> bool {
        self.owned.contains(TokenItem(tokens.0 & self.available.0))
    }

    fn peer_holds(&self, tokens: TokenItem) -> bool {
        TokenItem(tokens.0 & self.available.0 & self.owned.0) == TokenItem::default()
    }

    /// Whether the data token exists and lies with the peer.
    fn data_blocked(&self) -> bool {
        self.available.contains(TokenItem::DATA) && !self.owned.contains(TokenItem::DATA)
    }
}

fn rule(request: &'static str, reason: &'static str) -> ServiceError {
    ServiceError::TokenRule { request, reason }
}

fn not_negotiated(request: &'static str, unit: &'static str) -> ServiceError {
    ServiceError::NotNegotiated { request, unit }
}

fn check_activity_id(request: &'static str, id: &[u8]) -> Result<(), ServiceError> {
    if id.is_empty() || id.len() > 6 {
        return Err(rule(request, "an activity identifier has 1 to 6 octets"));
    }
    Ok(())
}

impl Association {
    fn units_state(&self, request: &'static str) -> Result<(), ServiceError> {
        if self.state != State::Associated {
            return Err(self.wrong_state(request));
        }
        if self.units.pending.is_some() {
            return Err(rule(
                request,
                "waiting for the answer to an activity interrupt or discard",
            ));
        }
        Ok(())
    }

    /// The session functional units in use (PI 20 as agreed; meaningful once associated).
    pub fn session_requirements(&self) -> SessionUserRequirements {
        self.units.requirements
    }

    /// The tokens that exist on this association (none in duplex).
    pub fn available_tokens(&self) -> TokenItem {
        self.units.available
    }

    /// The tokens this side holds.
    pub fn tokens(&self) -> TokenItem {
        TokenItem(self.units.owned.0 & self.units.available.0)
    }

    /// Whether an activity is in progress (started by either side and not yet ended,
    /// interrupted or discarded).
    pub fn in_activity(&self) -> bool {
        self.units.activity.is_some()
    }

    /// The serial number the next minor sync point (or activity end) will carry, V(M).
    pub fn next_serial(&self) -> Option<u64> {
        self.units
            .activity
            .as_ref()
            .or(self.units.plain.as_ref())
            .map(|a| a.next_serial)
    }

    /// Checks a P-DATA request against the token rules.
    pub(crate) fn check_send_data(&self) -> Result<(), ServiceError> {
        if self.units.data_blocked() {
            return Err(rule("send_data", "the peer holds the data token"));
        }
        if self.units.pending.is_some() {
            return Err(rule(
                "send_data",
                "waiting for the answer to an activity interrupt or discard",
            ));
        }
        if self
            .units
            .activity
            .as_ref()
            .is_some_and(|a| !a.local || a.await_end.is_some())
        {
            return Err(rule(
                "send_data",
                "the activity is ending or belongs to the peer",
            ));
        }
        Ok(())
    }

    /// Checks a release request: in half-duplex the requester must hold every available token
    /// and no activity may be in progress.
    pub(crate) fn check_release(&self) -> Result<(), ServiceError> {
        if self.units.activity.is_some() || self.units.pending.is_some() {
            return Err(rule("release", "an activity is in progress"));
        }
        if !self.units.holds(self.units.available) {
            return Err(rule("release", "the peer holds a token"));
        }
        Ok(())
    }

    /// S-TOKEN-GIVE: GT with a Token Item. `tokens` must be available and held, and the
    /// activity token cannot be given inside an activity.
    pub fn give_tokens(
        &mut self,
        tokens: TokenItem,
        _now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.units_state("give_tokens")?;
        let u = &self.units;
        if tokens == TokenItem::default() || !u.available.contains(tokens) {
            return Err(rule("give_tokens", "the tokens given are not available"));
        }
        if !u.owned.contains(tokens) {
            return Err(rule("give_tokens", "this side does not hold the tokens"));
        }
        if u.activity.is_some() && tokens.contains(TokenItem::MAJOR_ACTIVITY) {
            return Err(rule(
                "give_tokens",
                "the activity token cannot be given inside an activity",
            ));
        }
        if u.activity.as_ref().is_some_and(|a| a.await_end.is_some()) {
            return Err(rule("give_tokens", "waiting for the activity end answer"));
        }
        let tsdu = pdu::give_tokens(tokens)?;
        self.send_tsdu(tsdu);
        self.units.owned = TokenItem(self.units.owned.0 & !tokens.0);
        Ok(())
    }

    /// S-TOKEN-PLEASE: PT with a Token Item, optionally carrying one BER value as presentation
    /// user data on context `data.0` (RTSE puts its RTTP there; in X.410-1984 mode the value is
    /// the raw session user data and the context is ignored). `tokens` must be available and
    /// held by the peer.
    pub fn please_tokens(
        &mut self,
        tokens: TokenItem,
        data: Option<(i64, &[u8])>,
        _now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        if self.state != State::Associated {
            return Err(self.wrong_state("please_tokens"));
        }
        let u = &self.units;
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
        let ud = match data {
            Some((_, value)) if self.x410 => Some(value.to_vec()),
            Some((ctx, value)) => {
                self.check_context(ctx)?;
                Some(pdu::user_data_pdv(ctx, value)?)
            }
            None => None,
        };
        let tsdu = pdu::please_tokens(tokens, ud.as_deref())?;
        self.send_tsdu(tsdu);
        Ok(())
    }

    fn check_start(&self, request: &'static str, id: &[u8]) -> Result<(), ServiceError> {
        self.units_state(request)?;
        if !self
            .units
            .has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT)
        {
            return Err(not_negotiated(request, "activity management"));
        }
        check_activity_id(request, id)?;
        if self.units.activity.is_some() {
            return Err(rule(request, "an activity is already in progress"));
        }
        if !self.units.holds(self.units.available) {
            return Err(rule(request, "the peer holds a token"));
        }
        Ok(())
    }

    fn begin(&mut self, next_serial: u64) {
        self.units.activity = Some(Activity {
            local: true,
            next_serial,
            confirmed: next_serial.saturating_sub(1),
            await_end: None,
            end_indicated: None,
        });
    }

    /// S-ACTIVITY-START: GT + AS with activity identifier `id` (1–6 octets). V(M) becomes 1.
    pub fn activity_start(
        &mut self,
        id: &[u8],
        now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.check_start("activity_start", id)?;
        let tsdu = pdu::activity_start(id)?;
        self.send_tsdu(tsdu);
        self.begin(1);
        self.idle_from(now);
        Ok(())
    }

    /// S-ACTIVITY-RESUME: PT + AR resuming activity `old_id` (interrupted on `old_connection`,
    /// possibly an earlier association) after sync point `serial`, under the new identifier
    /// `id`. V(M) becomes `serial + 1`.
    pub fn activity_resume(
        &mut self,
        id: &[u8],
        old_id: &[u8],
        serial: u64,
        old_connection: &OldConnection,
        now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.check_start("activity_resume", id)?;
        check_activity_id("activity_resume", old_id)?;
        if serial > 999_999 {
            return Err(rule(
                "activity_resume",
                "serial numbers have at most 6 digits",
            ));
        }
        let tsdu = pdu::activity_resume(id, old_id, serial, old_connection)?;
        self.send_tsdu(tsdu);
        self.begin(serial.saturating_add(1));
        self.idle_from(now);
        Ok(())
    }

    fn local_activity(&mut self, request: &'static str) -> Result<&mut Activity, ServiceError> {
        let activity_unit = self
            .units
            .has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT);
        let a = if activity_unit {
            self.units.activity.as_mut()
        } else {
            if self.units.plain.is_none() {
                self.units.plain = Some(Activity {
                    local: true,
                    next_serial: 1,
                    confirmed: 0,
                    await_end: None,
                    end_indicated: None,
                });
            }
            self.units.plain.as_mut()
        };
        match a {
            Some(a) if a.local && a.await_end.is_none() => Ok(a),
            Some(_) => Err(rule(
                request,
                "the activity is ending or belongs to the peer",
            )),
            None => Err(rule(request, "no activity is in progress")),
        }
    }

    /// S-SYNC-MINOR (confirmation requested): GT + MIP carrying V(M); returns that serial
    /// number. Needs the minor synchronize and data tokens and, with activity management, an
    /// activity this side started.
    pub fn sync_minor(&mut self, now: std::time::Instant) -> Result<u64, ServiceError> {
        self.units_state("sync_minor")?;
        if !self
            .units
            .has_unit(SessionUserRequirements::MINOR_SYNCHRONIZE)
        {
            return Err(not_negotiated("sync_minor", "minor synchronize"));
        }
        if !self
            .units
            .holds(TokenItem::MINOR_SYNC.with(TokenItem::DATA))
        {
            return Err(rule(
                "sync_minor",
                "the peer holds the minor sync or data token",
            ));
        }
        let a = self.local_activity("sync_minor")?;
        let serial = a.next_serial;
        if serial > 999_999 {
            return Err(rule("sync_minor", "serial numbers have at most 6 digits"));
        }
        let tsdu = pdu::with_serial(SpduKind::Gt, SpduKind::Mip, serial)?;
        if let Ok(a) = self.local_activity("sync_minor") {
            a.next_serial = serial.saturating_add(1);
        }
        self.send_tsdu(tsdu);
        self.idle_from(now);
        Ok(serial)
    }

    /// S-SYNC-MINOR response: PT + MIA confirming the peer's minor sync points up to `serial`
    /// (indicated by [`Event::SyncMinor`] and not yet confirmed).
    pub fn sync_minor_response(
        &mut self,
        serial: u64,
        now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.units_state("sync_minor_response")?;
        let a = match self.units.activity.as_mut().or(self.units.plain.as_mut()) {
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
        let tsdu = pdu::with_serial(SpduKind::Pt, SpduKind::Mia, serial)?;
        a.confirmed = serial;
        self.send_tsdu(tsdu);
        self.idle_from(now);
        Ok(())
    }

    /// S-ACTIVITY-END: GT + AE carrying V(M) (a major sync point); returns that serial number.
    /// [`Event::ActivityEnded`] follows when the peer answers (AEA). Nothing may be sent in
    /// between.
    pub fn activity_end(&mut self, now: std::time::Instant) -> Result<u64, ServiceError> {
        self.units_state("activity_end")?;
        if !self.units.holds(self.units.available) {
            return Err(rule("activity_end", "the peer holds a token"));
        }
        let a = match self.units.activity.as_mut() {
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
        let tsdu = pdu::with_serial(SpduKind::Gt, SpduKind::Ae, serial)?;
        a.await_end = Some(serial);
        self.send_tsdu(tsdu);
        self.idle_from(now);
        Ok(serial)
    }

    /// S-ACTIVITY-END response after [`Event::ActivityEnd`]: PT + AEA. The activity is over.
    pub fn activity_end_response(&mut self, now: std::time::Instant) -> Result<(), ServiceError> {
        self.units_state("activity_end_response")?;
        let Some(serial) = self.units.activity.as_ref().and_then(|a| a.end_indicated) else {
            return Err(rule(
                "activity_end_response",
                "no activity end of the peer is outstanding",
            ));
        };
        let tsdu = pdu::with_serial(SpduKind::Pt, SpduKind::MaaOrAea, serial)?;
        self.send_tsdu(tsdu);
        self.units.activity = None;
        self.idle_from(now);
        Ok(())
    }

    fn stop_activity(
        &mut self,
        request: &'static str,
        kind: SpduKind,
        pending: Pending,
        reason: ActivityReason,
        now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.units_state(request)?;
        if self.units.activity.is_none() {
            return Err(rule(request, "no activity is in progress"));
        }
        if !self.units.holds(TokenItem::MAJOR_ACTIVITY) {
            return Err(rule(request, "the peer holds the activity token"));
        }
        let tsdu = pdu::with_reason(SpduKind::Gt, kind, Some(reason))?;
        self.send_tsdu(tsdu);
        self.units.activity = None;
        self.units.pending = Some(pending);
        self.idle_from(now);
        Ok(())
    }

    /// S-ACTIVITY-INTERRUPT: GT + AI with `reason`. [`Event::ActivityInterruptConfirmed`]
    /// follows (AIA); what was received up to the last confirmed sync point stays valid for a
    /// later [`activity_resume`](Self::activity_resume).
    pub fn activity_interrupt(
        &mut self,
        reason: ActivityReason,
        now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.stop_activity(
            "activity_interrupt",
            SpduKind::Ai,
            Pending::Interrupt,
            reason,
            now,
        )
    }

    /// S-ACTIVITY-DISCARD: GT + AD with `reason`. [`Event::ActivityDiscardConfirmed`] follows
    /// (ADA); the activity's data is void.
    pub fn activity_discard(
        &mut self,
        reason: ActivityReason,
        now: std::time::Instant,
    ) -> Result<(), ServiceError> {
        self.stop_activity(
            "activity_discard",
            SpduKind::Ad,
            Pending::Discard,
            reason,
            now,
        )
    }

    // ------------------------------------------------------------------------------------
    // Input

    /// Whether a DT from the peer is allowed now (`Ok(false)`: drop it silently, it crossed an
    /// AI or AD of this side).
    pub(super) fn accept_peer_data(&self) -> Result<bool, Violation> {
        if self.units.pending.is_some() {
            return Ok(false);
        }
        if self.units.available.contains(TokenItem::DATA)
            && self.units.owned.contains(TokenItem::DATA)
        {
            return Err(session_error(
                "dt from a peer that does not hold the data token",
            ));
        }
        match self.units.activity.as_ref() {
            Some(a) if a.local => Err(session_error("dt inside an activity this side started")),
            Some(a) if a.end_indicated.is_some() => {
                Err(session_error("dt after the end of the activity"))
            }
            _ => Ok(true),
        }
    }

    /// Checks a FN from the peer: it must hold every available token, outside activities.
    pub(super) fn accept_peer_release(&self) -> Result<(), Violation> {
        if self.units.activity.is_some() {
            return Err(session_error("fn inside an activity"));
        }
        if !self.units.peer_holds(self.units.available) {
            return Err(session_error(
                "fn from a peer that does not hold every token",
            ));
        }
        Ok(())
    }

    /// The category-0 SPDU of a TSDU, processed after the category-2 one (basic concatenation,
    /// X.225 §6.3.7): a Token Item in GT gives tokens, in PT asks for them.
    pub(super) fn on_category0(&mut self, tsdu: &Bytes, spdu: &Spdu<'_>) -> Result<(), Violation> {
        if self.units.available == TokenItem::default() || self.state != State::Associated {
            return Ok(()); // duplex kernel: GT and PT are accepted and ignored
        }
        let Some(tokens) = spdu.token_item().filter(|t| t.0 != 0) else {
            return Ok(());
        };
        if !self.units.available.contains(tokens) {
            return Err(session_error(format!(
                "token item {:#04x} names a token that is not available",
                tokens.0
            )));
        }
        match spdu.kind() {
            SpduKind::Gt => {
                if !self.units.peer_holds(tokens) {
                    return Err(session_error(format!(
                        "gt gives token(s) {:#04x} the peer does not hold",
                        tokens.0
                    )));
                }
                self.units.owned = self.units.owned.with(tokens);
                self.events.push_back(Event::TokensGiven(tokens));
            }
            _ => {
                let raw = spdu.user_data().unwrap_or(&[]);
                let data = if raw.is_empty() {
                    None
                } else if self.x410 {
                    Some(Data {
                        context_id: None,
                        value: tsdu.slice_ref(raw),
                    })
                } else {
                    let ud = UserData::decode(raw, &self.limits())
                        .map_err(|e| e.shifted(super::offset_in(tsdu, raw)))?;
                    match ud {
                        UserData::Simple(v) => Some(Data {
                            context_id: None,
                            value: tsdu.slice_ref(v),
                        }),
                        UserData::Full(list) => list.iter().next().map(|pdv| Data {
                            context_id: Some(pdv.context_id),
                            value: tsdu.slice_ref(super::pdv_value(&pdv.values)),
                        }),
                    }
                };
                self.events.push_back(Event::TokensPlease { tokens, data });
            }
        }
        Ok(())
    }

    /// Activity and synchronization SPDUs from the peer (state `Associated`).
    pub(super) fn on_unit_spdu(&mut self, spdu: &Spdu<'_>) -> Result<(), Violation> {
        let kind = spdu.kind();
        let pending = self.units.pending;
        match kind {
            SpduKind::As | SpduKind::Ar => {
                if !self
                    .units
                    .has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT)
                {
                    return Err(session_error(format!(
                        "{} without activity management",
                        kind.abbreviation().to_ascii_lowercase()
                    )));
                }
                if pending.is_some() || self.units.activity.is_some() {
                    return Err(session_error(format!(
                        "{} while an activity is in progress",
                        kind.abbreviation().to_ascii_lowercase()
                    )));
                }
                if !self.units.peer_holds(self.units.available) {
                    return Err(session_error(format!(
                        "{} from a peer that does not hold every token",
                        kind.abbreviation().to_ascii_lowercase()
                    )));
                }
                let id = spdu
                    .activity_identifier()
                    .filter(|i| i.len() <= 6)
                    .ok_or_else(|| {
                        session_error(format!(
                            "{} without a valid activity identifier (pi 41)",
                            kind.abbreviation().to_ascii_lowercase()
                        ))
                    })?;
                let id = Bytes::copy_from_slice(id);
                let next_serial = if kind == SpduKind::As {
                    self.events.push_back(Event::ActivityStarted { id });
                    1
                } else {
                    let link = spdu
                        .linking_information()
                        .ok_or_else(|| session_error("ar without linking information (pgi 33)"))?;
                    let old_id = link.old_activity_identifier.ok_or_else(|| {
                        session_error("ar without the old activity identifier (pi 41 in pgi 33)")
                    })?;
                    let serial = link.serial_number.and_then(|s| s.value()).ok_or_else(|| {
                        session_error("ar without a valid serial number (pi 42 in pgi 33)")
                    })?;
                    let c = link.connection;
                    let own = |v: Option<&[u8]>| v.map(Bytes::copy_from_slice);
                    self.events
                        .push_back(Event::ActivityResumed(Box::new(Resumed {
                            id,
                            old_id: Bytes::copy_from_slice(old_id),
                            serial,
                            old_connection: OldConnection {
                                called_ss_user_reference: own(c.called_ss_user_reference),
                                calling_ss_user_reference: own(c.calling_ss_user_reference),
                                common_reference: own(c.common_reference),
                                additional_reference_information: own(
                                    c.additional_reference_information
                                ),
                            },
                        })));
                    serial.saturating_add(1)
                };
                self.units.activity = Some(Activity {
                    local: false,
                    next_serial,
                    confirmed: next_serial.saturating_sub(1),
                    await_end: None,
                    end_indicated: None,
                });
                Ok(())
            }
            SpduKind::Mip => {
                if !self
                    .units
                    .has_unit(SessionUserRequirements::MINOR_SYNCHRONIZE)
                {
                    return Err(session_error("mip without minor synchronize"));
                }
                if pending.is_some() {
                    return Ok(()); // crossed our AI / AD
                }
                if !self.units.peer_holds(TokenItem::MINOR_SYNC) {
                    return Err(session_error(
                        "mip from a peer that does not hold the minor sync token",
                    ));
                }
                let serial = serial_of(spdu, "mip")?;
                let activity_unit = self
                    .units
                    .has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT);
                if !activity_unit && self.units.plain.is_none() {
                    self.units.plain = Some(Activity {
                        local: false,
                        next_serial: 1,
                        confirmed: 0,
                        await_end: None,
                        end_indicated: None,
                    });
                }
                let a = if activity_unit {
                    self.units.activity.as_mut()
                } else {
                    self.units.plain.as_mut()
                };
                let Some(a) = a.filter(|a| !a.local && a.end_indicated.is_none()) else {
                    return Err(session_error("mip outside an activity of the peer"));
                };
                if serial != a.next_serial {
                    return Err(session_error(format!(
                        "mip serial number {serial}, expected {}",
                        a.next_serial
                    )));
                }
                a.next_serial = serial.saturating_add(1);
                self.events.push_back(Event::SyncMinor { serial });
                Ok(())
            }
            SpduKind::Mia => {
                if pending.is_some() {
                    return Ok(());
                }
                let serial = serial_of(spdu, "mia")?;
                let a = match self.units.activity.as_mut().or(self.units.plain.as_mut()) {
                    Some(a) if a.local => a,
                    _ => return Err(session_error("mia without a minor sync point outstanding")),
                };
                if serial <= a.confirmed || serial >= a.next_serial {
                    return Err(session_error(format!(
                        "mia serial number {serial} names no outstanding minor sync point"
                    )));
                }
                a.confirmed = serial;
                self.events.push_back(Event::SyncMinorConfirmed { serial });
                Ok(())
            }
            SpduKind::Ae => {
                let serial = serial_of(spdu, "ae")?;
                let Some(a) = self
                    .units
                    .activity
                    .as_mut()
                    .filter(|a| !a.local && a.end_indicated.is_none())
                else {
                    return Err(session_error("ae outside an activity of the peer"));
                };
                if serial != a.next_serial {
                    return Err(session_error(format!(
                        "ae serial number {serial}, expected {}",
                        a.next_serial
                    )));
                }
                a.next_serial = serial.saturating_add(1);
                a.end_indicated = Some(serial);
                self.events.push_back(Event::ActivityEnd { serial });
                Ok(())
            }
            SpduKind::MaaOrAea => {
                if pending.is_some() {
                    return Ok(());
                }
                let serial = serial_of(spdu, "aea")?;
                match self.units.activity.as_ref().and_then(|a| a.await_end) {
                    Some(s) if s == serial => {
                        self.units.activity = None;
                        self.events.push_back(Event::ActivityEnded { serial });
                        Ok(())
                    }
                    Some(s) => Err(session_error(format!(
                        "aea serial number {serial}, expected {s}"
                    ))),
                    None => Err(session_error(
                        "aea (or maa) without an activity end outstanding",
                    )),
                }
            }
            SpduKind::Ai | SpduKind::Ad => {
                if self.units.activity.is_none() {
                    return Err(session_error(format!(
                        "{} outside an activity",
                        kind.abbreviation().to_ascii_lowercase()
                    )));
                }
                if !self.units.peer_holds(TokenItem::MAJOR_ACTIVITY) {
                    return Err(session_error(format!(
                        "{} from a peer that does not hold the activity token",
                        kind.abbreviation().to_ascii_lowercase()
                    )));
                }
                let reason = spdu.activity_reason().unwrap_or(ActivityReason::NO_REASON);
                let (answer, event) = if kind == SpduKind::Ai {
                    (SpduKind::Aia, Event::ActivityInterrupted { reason })
                } else {
                    (SpduKind::Ada, Event::ActivityDiscarded { reason })
                };
                let tsdu = pdu::with_reason(SpduKind::Pt, answer, None)
                    .map_err(|e| session_error(e.to_string()))?;
                self.send_tsdu(tsdu);
                self.units.activity = None;
                self.events.push_back(event);
                Ok(())
            }
            SpduKind::Aia | SpduKind::Ada => {
                let (want, event) = if kind == SpduKind::Aia {
                    (Pending::Interrupt, Event::ActivityInterruptConfirmed)
                } else {
                    (Pending::Discard, Event::ActivityDiscardConfirmed)
                };
                if pending != Some(want) {
                    return Err(session_error(format!(
                        "{} without a request outstanding",
                        kind.abbreviation().to_ascii_lowercase()
                    )));
                }
                self.units.pending = None;
                self.events.push_back(event);
                Ok(())
            }
            _ => Err(session_error(format!(
                "{} spdu is not supported",
                kind.abbreviation().to_ascii_lowercase()
            ))),
        }
    }
}
