//! The functional units of a session connection beyond the duplex kernel: tokens (half-duplex,
//! S-TOKEN-GIVE, S-TOKEN-PLEASE, S-CONTROL-GIVE), minor synchronize, activity management and
//! exceptions (X.225 §7.11–7.22; serial numbers as ISODE implements them).
//!
//! This module keeps the state and decides; [`Connection`](super::Connection) encodes and
//! sends. The rules are listed in the [connection docs](super::connection#functional-units).

use bytes::Bytes;

use super::{SessionUserRequirements, TokenItem, TokenPosition, TokenSettingItem};

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

/// An activity resumed by the peer.
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

/// The activity (or, without activity management, the run of minor sync points) in progress.
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    /// This side started (or resumed) it: it sends, the peer confirms.
    pub(crate) local: bool,
    /// V(M): the serial number of the next sync point.
    pub(crate) next_serial: u64,
    /// Sender: the highest serial number confirmed by MIA. Receiver: the highest answered.
    pub(crate) confirmed: u64,
    /// Sender: AE sent with this serial number, waiting for AEA.
    pub(crate) await_end: Option<u64>,
    /// Receiver: AE received with this serial number, waiting for the user's response.
    pub(crate) end_indicated: Option<u64>,
}

impl Activity {
    pub(crate) fn new(local: bool, next_serial: u64) -> Self {
        Activity {
            local,
            next_serial,
            confirmed: next_serial.saturating_sub(1),
            await_end: None,
            end_indicated: None,
        }
    }
}

/// A request of this side that the peer has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// AI sent, waiting for AIA.
    Interrupt,
    /// AD sent, waiting for ADA.
    Discard,
    /// GTC sent, waiting for GTA.
    Control,
    /// GT + CD sent, waiting for CDA (X.225 §7.14).
    Capability,
    /// GT + MAP with this serial number sent, waiting for MAA (X.225 §7.22 of the 1988
    /// numbering, MAJOR SYNC POINT SPDU).
    Major(u64),
    /// GT + RS sent (type, serial number, proposed token setting), waiting for RA.
    Resync(ResyncType, u64, TokenSettingItem),
}

/// The Resync Type of an RS (X.225 PI 27): restart (0), abandon (1) or set (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResyncType {
    /// Restart at a confirmed sync point (serial number at most V(M)).
    Restart,
    /// Abandon: V(M) stays, nothing is resumed.
    Abandon,
    /// Set: a new serial number of the user's choice.
    Set,
}

impl ResyncType {
    /// The PI 27 value.
    pub const fn code(self) -> u8 {
        match self {
            ResyncType::Restart => 0,
            ResyncType::Abandon => 1,
            ResyncType::Set => 2,
        }
    }

    /// The type of a PI 27 value.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(ResyncType::Restart),
            1 => Some(ResyncType::Abandon),
            2 => Some(ResyncType::Set),
            _ => None,
        }
    }

    /// Precedence in a resynchronization collision (X.225: abandon, then set, then restart).
    pub(crate) const fn precedence(self) -> u8 {
        match self {
            ResyncType::Abandon => 2,
            ResyncType::Set => 1,
            ResyncType::Restart => 0,
        }
    }
}

/// An exception report in force (X.225 §7.22): data transfer is suspended until the holder of
/// the data token resolves it (activity interrupt or discard, giving the data token, abort).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exception {
    /// This side sent ED: it discards the peer's data until the report is resolved.
    Sent,
    /// The peer sent ED or ER: this side must resolve it.
    Received,
}

/// Token, synchronization, activity and exception state of one session connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Units {
    /// The functional units in use.
    pub(crate) requirements: SessionUserRequirements,
    /// Tokens that exist (half-duplex: data; minor synchronize: minor; activity: major/activity).
    pub(crate) available: TokenItem,
    /// Tokens this side holds.
    pub(crate) owned: TokenItem,
    /// The activity in progress (activity management).
    pub(crate) activity: Option<Activity>,
    /// Minor sync without activity management: V(M) and confirmations.
    pub(crate) plain: Option<Activity>,
    pub(crate) pending: Option<Pending>,
    pub(crate) exception: Option<Exception>,
    /// The peer's CD waits for this side's CDA.
    pub(crate) capability_indicated: bool,
    /// The peer's MAP with this serial number waits for this side's MAA.
    pub(crate) major_indicated: Option<u64>,
    /// The peer's RS (serial number, proposed token setting) waits for this side's RA.
    pub(crate) resync_indicated: Option<(u64, TokenSettingItem)>,
    /// This side initiated the session connection (token settings name its side "initiator").
    pub(crate) initiator: bool,
}

/// The functional units a responder agrees to, from those a CN asks for: duplex when it is
/// proposed without half-duplex, or with half-duplex but none of the token units (minor or
/// major synchronize, activity management, exceptions); otherwise half-duplex (as ISODE
/// answers a CN that names both) with whichever of minor synchronize, major synchronize,
/// resynchronize, negotiated release, activity management, exceptions, typed data and
/// capability data were asked for (capability
/// data only with activity management, exceptions only with half-duplex: X.225 §9.2).
pub(crate) fn answer_requirements(requested: SessionUserRequirements) -> SessionUserRequirements {
    type R = SessionUserRequirements;
    let token_units = R::MINOR_SYNCHRONIZE
        .with(R::MAJOR_SYNCHRONIZE)
        .with(R::ACTIVITY_MANAGEMENT)
        .with(R::EXCEPTIONS);
    if requested.contains(R::DUPLEX)
        && !(requested.contains(R::HALF_DUPLEX) && requested.0 & token_units.0 != 0)
    {
        return R::DUPLEX;
    }
    let offered = R::MINOR_SYNCHRONIZE
        .with(R::MAJOR_SYNCHRONIZE)
        .with(R::RESYNCHRONIZE)
        .with(R::NEGOTIATED_RELEASE)
        .with(R::ACTIVITY_MANAGEMENT)
        .with(R::EXCEPTIONS)
        .with(R::TYPED_DATA)
        .with(R::CAPABILITY_DATA);
    let mut agreed = SessionUserRequirements(requested.0 & offered.0).with(R::HALF_DUPLEX);
    if !agreed.contains(R::ACTIVITY_MANAGEMENT) {
        agreed = SessionUserRequirements(agreed.0 & !R::CAPABILITY_DATA.0);
    }
    agreed
}

/// The units an initiator ends up with from its proposal and the AC's PI 20 (absent: the X.225
/// default); a peer answering outside what was proposed keeps the proposed kernel.
pub(crate) fn agreed_requirements(
    proposed: SessionUserRequirements,
    ac: Option<SessionUserRequirements>,
) -> SessionUserRequirements {
    let ac = ac.unwrap_or(SessionUserRequirements::DEFAULT);
    let agreed = SessionUserRequirements(ac.0 & proposed.0);
    if agreed.contains(SessionUserRequirements::DUPLEX)
        || agreed.contains(SessionUserRequirements::HALF_DUPLEX)
    {
        agreed
    } else if proposed.contains(SessionUserRequirements::DUPLEX) {
        SessionUserRequirements::DUPLEX
    } else {
        agreed.with(SessionUserRequirements::HALF_DUPLEX)
    }
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
    if r.contains(SessionUserRequirements::NEGOTIATED_RELEASE) {
        t = t.with(TokenItem::RELEASE);
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

/// The AC's Token Setting Item answering a CN's: present when the CN left a token to the called
/// user's choice, with every such pair set to the initiator's side (`10` becomes `00`).
pub(crate) fn accept_token_setting(cn: Option<TokenSettingItem>) -> Option<TokenSettingItem> {
    let s = cn?;
    if ![0u8, 2, 4, 6].iter().any(|&i| (s.0 >> i) & 0b11 == 0b10) {
        return None;
    }
    let mut v = s.0;
    for shift in [0u8, 2, 4, 6] {
        if (v >> shift) & 0b11 != 0b01 {
            v &= !(0b11 << shift);
        }
    }
    Some(TokenSettingItem(v))
}

impl Units {
    /// The units of a connection with `requirements`, tokens placed by `setting`, seen from the
    /// initiator (`initiator = true`) or the responder.
    pub(crate) fn new(
        requirements: SessionUserRequirements,
        setting: Option<TokenSettingItem>,
        initiator: bool,
    ) -> Self {
        let available = available_tokens(requirements);
        let at_initiator = initiator_tokens(available, setting);
        let owned = if initiator {
            at_initiator
        } else {
            TokenItem(available.0 & !at_initiator.0)
        };
        Units {
            requirements,
            available,
            owned,
            initiator,
            ..Units::default()
        }
    }

    /// The tokens this side holds under Token Setting Item `setting` (pairs set to "called
    /// user's choice" count as the initiator's side, as at connection time).
    pub(crate) fn owned_under(&self, setting: TokenSettingItem) -> TokenItem {
        let at_initiator = initiator_tokens(self.available, Some(setting));
        if self.initiator {
            at_initiator
        } else {
            TokenItem(self.available.0 & !at_initiator.0)
        }
    }

    /// After a resynchronization to `serial` with tokens placed by `setting`: V(M) = `serial`,
    /// every sync point before it settled, exception reports and pending exchanges void.
    pub(crate) fn resynchronized(&mut self, serial: u64, setting: TokenSettingItem) {
        self.owned = self.owned_under(setting);
        if let Some(a) = self.sync_run() {
            a.next_serial = serial;
            a.confirmed = serial.saturating_sub(1);
            a.await_end = None;
            a.end_indicated = None;
        }
        self.exception = None;
        self.pending = None;
        self.capability_indicated = false;
        self.major_indicated = None;
        self.resync_indicated = None;
    }

    pub(crate) fn has_unit(&self, unit: SessionUserRequirements) -> bool {
        self.requirements.contains(unit)
    }

    /// Whether this side holds every one of `tokens` that exists.
    pub(crate) fn holds(&self, tokens: TokenItem) -> bool {
        self.owned.contains(TokenItem(tokens.0 & self.available.0))
    }

    /// Whether the peer holds every one of `tokens` that exists.
    pub(crate) fn peer_holds(&self, tokens: TokenItem) -> bool {
        TokenItem(tokens.0 & self.available.0 & self.owned.0) == TokenItem::default()
    }

    /// The tokens this side holds.
    pub(crate) fn tokens(&self) -> TokenItem {
        TokenItem(self.owned.0 & self.available.0)
    }

    /// Whether the data token exists and lies with the peer.
    pub(crate) fn data_blocked(&self) -> bool {
        self.available.contains(TokenItem::DATA) && !self.owned.contains(TokenItem::DATA)
    }

    /// The activity (or plain minor-sync run) that serial numbers refer to.
    pub(crate) fn sync_run(&mut self) -> Option<&mut Activity> {
        if self.has_unit(SessionUserRequirements::ACTIVITY_MANAGEMENT) {
            self.activity.as_mut()
        } else {
            self.plain.as_mut()
        }
    }

    /// The serial number the next minor sync point (or activity end) carries, V(M).
    pub(crate) fn next_serial(&self) -> Option<u64> {
        self.activity
            .as_ref()
            .or(self.plain.as_ref())
            .map(|a| a.next_serial)
    }

    /// After this side's AI/AD is answered (or it answered the peer's): all tokens go to the
    /// side that interrupted or discarded (X.225 §7.19, §7.20; ISODE does the same).
    pub(crate) fn interrupted(&mut self, by_this_side: bool) {
        self.activity = None;
        self.plain = None;
        self.exception = None;
        self.owned = if by_this_side {
            self.available
        } else {
            TokenItem::default()
        };
    }
}
