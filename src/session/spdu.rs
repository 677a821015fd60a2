//! One SPDU: decode, encode and typed access to its parameters (X.225 §8.2, §8.3).

use bytes::BufMut;

use crate::error::{
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Layer, ensure_room,
};

use super::codes::{
    ActivityReason, DataOverflow, EnclosureItem, ParameterCode, Position, ProtocolOptions,
    RefuseReason, SerialNumber, SessionUserRequirements, SpduKind, SpduType, SyncTypeItem,
    TokenItem, TokenSettingItem, TransportDisconnect, TsduMaximumSize, VersionNumber,
};
use super::params::{MAX_LENGTH, Parameters, Unit, Units, length_len, put_length, too_large};

/// A session protocol data unit, borrowed from the TSDU it was decoded from (X.225 §8.2, §8.3).
///
/// ```text
///  +------+------------+----------------------------------+------------------------------+
///  | SI   | LI (1|3)   | parameter field (LI octets):     | user information field       |
///  | 1    | 00..FE or  | PI / PGI units                   | DT, EX, TD only: up to the   |
///  |      | FF hi lo   |                                  | end of the TSDU              |
///  +------+------------+----------------------------------+------------------------------+
///
///  GT + DT as libiec61850 sends every MMS PDU (X.225 §6.3.7, Table 7):
///  +----+----+----+----+------------------------------+
///  | 01 | 00 | 01 | 00 | presentation user data ...   |
///  +----+----+----+----+------------------------------+
///   GT   LI=0 DT   LI=0  user information field
/// ```
///
/// The SPDU keeps its parameter field raw ([`Parameters`]) and whether its LI used the
/// three-octet form, so [`Spdu::encode`] reproduces the decoded octets exactly. Decoding checks
/// the structure of every unit and the length of every fixed-size parameter (PI 21 must be four
/// octets, PI 20 two, …); a unit with LI = 0 stands for an absent parameter and is accepted
/// everywhere. Which parameters are allowed or mandatory in which SPDU (X.225 §8.3 tables) is
/// *not* enforced, following the receiver rules of Annex A.4.3.1.1; the typed accessors return
/// `None` for a parameter that is absent.
#[derive(Clone, Copy)]
pub struct Spdu<'a> {
    kind: SpduKind,
    /// The three-octet LI form is used although the field is shorter than 255 octets.
    forced_long: bool,
    /// Where the parameters every receiver reads are, found by the decoder's checking walk
    /// (so reading them does not walk the field again). Not part of the SPDU's value:
    /// `PartialEq` and `Hash` ignore it.
    index: Index,
    params: Parameters<'a>,
    user_information: &'a [u8],
}

impl PartialEq for Spdu<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.forced_long == other.forced_long
            && self.params == other.params
            && self.user_information == other.user_information
    }
}

impl Eq for Spdu<'_> {}

impl core::fmt::Debug for Spdu<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Spdu")
            .field("kind", &self.kind)
            .field("forced_long", &self.forced_long)
            .field("params", &self.params)
            .field("user_information", &self.user_information)
            .finish()
    }
}

impl core::hash::Hash for Spdu<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.forced_long.hash(state);
        self.params.hash(state);
        self.user_information.hash(state);
    }
}

/// Positions of the first non-empty PI 51 (calling selector), PI 52 (called or responding
/// selector) and PGI 193 or 194 (user data, extended user data) in a decoded parameter field:
/// the decoder records them during its checking walk. They fit in the padding `Spdu` has
/// anyway (its size does not change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Index {
    /// Per slot ([`SLOT_CALLING`], [`SLOT_CALLED`], [`SLOT_USER_DATA`]): 0 = absent; `n` = the
    /// unit's code octet is at offset `n - 1` (a unit starts at 65 533 at the latest);
    /// `u16::MAX` = not recorded, walk the field (an SPDU built with [`Spdu::new`], or one
    /// carrying both PGI 193 and PGI 194, which the user-data slot does not describe).
    at: [u16; 3],
}

const SLOT_CALLING: usize = 0;
const SLOT_CALLED: usize = 1;
const SLOT_USER_DATA: usize = 2;

impl Index {
    /// Nothing is present (an empty field).
    const EMPTY: Index = Index { at: [0; 3] };
    /// Not recorded (an SPDU built with [`Spdu::new`]): the accessors walk the field.
    const UNKNOWN: Index = Index { at: [u16::MAX; 3] };
}

/// The PIs inside a Connection Identifier (PGI 1, X.225 §8.3, CN/AC/RF SPDUs) or a Linking Information
/// (PGI 33, AR SPDU) group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectionIdentifier<'a> {
    /// PI 9 Called SS-user Reference (≤ 64 octets).
    pub called_ss_user_reference: Option<&'a [u8]>,
    /// PI 10 Calling SS-user Reference (≤ 64 octets).
    pub calling_ss_user_reference: Option<&'a [u8]>,
    /// PI 11 Common Reference (≤ 64 octets).
    pub common_reference: Option<&'a [u8]>,
    /// PI 12 Additional Reference Information (≤ 4 octets).
    pub additional_reference_information: Option<&'a [u8]>,
}

/// The Linking Information of an AR SPDU (PGI 33, X.225 §8.3, AR SPDU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LinkingInformation<'a> {
    /// PI 9–12: the connection identifier of the connection the activity was interrupted on.
    pub connection: ConnectionIdentifier<'a>,
    /// PI 41: the old activity identifier.
    pub old_activity_identifier: Option<&'a [u8]>,
    /// PI 42: serial number.
    pub serial_number: Option<SerialNumber<'a>>,
    /// PI 54: second serial number.
    pub second_serial_number: Option<SerialNumber<'a>>,
}

/// The Connect/Accept Item of a CN or AC SPDU (PGI 5, X.225 §8.3, CN and AC SPDUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectAcceptItem<'a> {
    /// PI 19 Protocol Options (mandatory when the group is present).
    pub protocol_options: Option<ProtocolOptions>,
    /// PI 21 TSDU Maximum Size.
    pub tsdu_maximum_size: Option<TsduMaximumSize>,
    /// PI 22 Version Number (mandatory when the group is present).
    pub version_number: Option<VersionNumber>,
    /// PI 23 Initial Serial Number.
    pub initial_serial_number: Option<SerialNumber<'a>>,
    /// PI 26 Token Setting Item.
    pub token_setting_item: Option<TokenSettingItem>,
    /// PI 55 Second Initial Serial Number.
    pub second_initial_serial_number: Option<SerialNumber<'a>>,
    /// PI 56 Upper Limit Serial Number (binary, ≤ 6 octets).
    pub upper_limit_serial_number: Option<&'a [u8]>,
    /// PI 57 Large Initial Serial Number.
    pub large_initial_serial_number: Option<SerialNumber<'a>>,
    /// PI 58 Large Second Initial Serial Number.
    pub large_second_initial_serial_number: Option<SerialNumber<'a>>,
}

/// Allowed lengths of a non-empty value of a known parameter in `kind`, `None` = any length.
/// The one statement of these rules: the decoder's [`Rule`] tables are built from it.
const fn value_length_range(kind: SpduKind, code: ParameterCode) -> Option<(u16, u16)> {
    Some(match code.0 {
        9..=11 => (1, 64),
        12 => (1, 4),
        15 | 16 | 17 | 19 | 22 | 24 | 25 | 26 | 27 | 53 | 60 => (1, 1),
        20 => (2, 2),
        21 => (4, 4),
        23 | 55 => (1, 6),
        41 | 56 => (1, 6),
        51 | 52 => (1, 16),
        49 if matches!(kind, SpduKind::Ab) => (1, 9),
        50 if matches!(kind, SpduKind::Ai | SpduKind::Ad) => (1, 1),
        _ => return None,
    })
}

/// What the decoder checks and records for a unit with a given code: its allowed non-empty
/// value lengths `min ..= min + span`, whether it holds nested units (PGI 1, 5, 33), and which
/// [`Index`] slot (plus one) remembers where it is. The rule of [`value_length_range`] as a
/// table, so that the decode loop makes one lookup per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    min: u16,
    span: u16,
    group: bool,
    slot: u8,
}

/// The rule of a code with no length rule and nothing to record.
const ANY_LENGTH: Rule = Rule {
    min: 0,
    span: u16::MAX,
    group: false,
    slot: 0,
};

/// Builds the [`Rule`] table for `kind`. Indexing is evaluated at compile time (`code < 256`).
#[allow(clippy::indexing_slicing)]
const fn rules(kind: SpduKind) -> [Rule; 256] {
    let mut table = [ANY_LENGTH; 256];
    let mut code = 0usize;
    while code < 256 {
        // `code < 256`: the cast keeps its value.
        let parameter = ParameterCode(code as u8);
        let (min, max) = match value_length_range(kind, parameter) {
            Some(range) => range,
            None => (0, u16::MAX),
        };
        table[code] = Rule {
            min,
            span: max.saturating_sub(min),
            group: parameter.contains_units(),
            // The slot plus one (0 = none): SLOT_CALLING, SLOT_CALLED, SLOT_USER_DATA.
            slot: match code {
                51 => 1,
                52 => 2,
                193 | 194 => 3,
                _ => 0,
            },
        };
        code = code.saturating_add(1);
    }
    table
}

/// The rules for every SPDU but AB (PI 49 ≤ 9 octets) and AI/AD (PI 50 one octet).
static RULES: [Rule; 256] = rules(SpduKind::Cn);
static RULES_AB: [Rule; 256] = rules(SpduKind::Ab);
static RULES_AI_AD: [Rule; 256] = rules(SpduKind::Ai);

fn rules_for(kind: SpduKind) -> &'static [Rule; 256] {
    match kind {
        SpduKind::Ab => &RULES_AB,
        SpduKind::Ai | SpduKind::Ad => &RULES_AI_AD,
        _ => &RULES,
    }
}

/// The rule for `code` (a `u8` always indexes the table; the fallback is never taken).
#[inline(always)]
fn rule_of(rules: &[Rule; 256], code: u8) -> Rule {
    rules.get(usize::from(code)).copied().unwrap_or(ANY_LENGTH)
}

impl Rule {
    /// Whether a value of `len` octets is allowed; an empty value stands for an absent
    /// parameter and always is.
    #[inline(always)]
    fn allows(self, len: usize) -> bool {
        len == 0 || len.wrapping_sub(usize::from(self.min)) <= usize::from(self.span)
    }
}

/// Whether a value of `len` octets is allowed for `code` in `kind`, the rule of
/// [`value_length_range`]; an empty value stands for an absent parameter and is always
/// allowed.
#[inline]
pub(super) fn value_length_ok(kind: SpduKind, code: ParameterCode, len: usize) -> bool {
    rule_of(rules_for(kind), code.0).allows(len)
}

/// Whether the parameter field of an SPDU of `kind` passes [`check_field`], in one walk that
/// only answers yes or no (no offsets, no `Unit`s), recording the [`Index`] on the way; when
/// it does not, [`check_field`] walks again to locate the error. Kept out of line so that its
/// loop has the registers to itself.
#[inline(never)]
fn walk_field(kind: SpduKind, raw: &[u8]) -> Option<Index> {
    let rules = rules_for(kind);
    let mut index = Index::EMPTY;
    // Bit 1: a non-empty PGI 193 was seen, bit 2: a non-empty PGI 194.
    let mut user_data_codes = 0u8;
    let mut field = raw;
    while !field.is_empty() {
        // Offset of this unit: at most 65 533 (a field is at most 65 535 octets and a unit
        // takes two), so it and the slot value `offset + 1` fit in a `u16` below `u16::MAX`.
        let offset = raw.len().wrapping_sub(field.len());
        let (code, value, rest) = split_unit(field)?;
        field = rest;
        let rule = rule_of(rules, code);
        if !rule.allows(value.len()) {
            return None;
        }
        if rule.group {
            let mut inner = value;
            while !inner.is_empty() {
                let (code, value, rest) = split_unit(inner)?;
                inner = rest;
                if !rule_of(rules, code).allows(value.len()) {
                    return None;
                }
            }
        } else if rule.slot != 0 && !value.is_empty() {
            let slot = usize::from(rule.slot).wrapping_sub(1);
            let at = index.at.get_mut(slot)?;
            if *at == 0 {
                *at = u16::try_from(offset.wrapping_add(1)).ok()?;
            }
            if slot == SLOT_USER_DATA {
                user_data_codes |= if code == ParameterCode::USER_DATA.0 {
                    1
                } else {
                    2
                };
            }
        }
    }
    if user_data_codes == 3 {
        // Both PGI 193 and 194: leave them to a walk.
        index.at[SLOT_USER_DATA] = u16::MAX;
    }
    Some(index)
}

#[cold]
fn length_out_of_range(kind: SpduKind, unit: &Unit<'_>) -> DecodeError {
    let (min, max) = value_length_range(kind, unit.code()).map_or((0, MAX_LENGTH), |(min, max)| {
        (usize::from(min), usize::from(max))
    });
    DecodeError::new(
        Layer::Session,
        unit.offset(),
        DecodeErrorKind::LengthOutOfRange {
            what: unit.code().name().unwrap_or("parameter"),
            value: unit.value().len(),
            min,
            max,
        },
    )
}

/// One unit at the start of `field`, without offsets: (code, value, the octets after it), or
/// `None` when its length indicator or value is cut short. The decode loop's step; errors are
/// located afterwards by [`check_field`].
#[inline]
pub(super) fn split_unit(field: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (code, len, after_li) = match field {
        [code, 0xff, hi, lo, rest @ ..] => {
            (*code, usize::from(u16::from_be_bytes([*hi, *lo])), rest)
        }
        [_, 0xff, ..] => return None,
        [code, l, rest @ ..] => (*code, usize::from(*l), rest),
        _ => return None,
    };
    let (value, rest) = after_li.split_at_checked(len)?;
    Some((code, value, rest))
}

/// Checks the parameter field of an SPDU of `kind` in one walk: the structure of every unit at
/// every level (what [`Parameters::new`] checks) and the length of every fixed-size value. As
/// when these were two walks, a structure error anywhere wins over a value error, and the first
/// bad value in walk order (each unit, then the units nested in it) is reported. Offsets are
/// from the field start. MAP and AE (both SI 41) share their value-length rules, so `kind` may
/// be either.
#[cold]
fn check_field(kind: SpduKind, raw: &[u8]) -> Result<Parameters<'_>, DecodeError> {
    let mut bad_value: Option<Unit<'_>> = None;
    let mut top = Units::with_base(raw, 0);
    while !top.is_done() {
        let unit = top.try_next()?;
        if bad_value.is_none() && !value_length_ok(kind, unit.code(), unit.value().len()) {
            bad_value = Some(unit);
        }
        let mut inner = unit.units();
        while !inner.is_done() {
            let nested = inner.try_next()?;
            if bad_value.is_none() && !value_length_ok(kind, nested.code(), nested.value().len()) {
                bad_value = Some(nested);
            }
        }
    }
    match bad_value {
        Some(unit) => Err(length_out_of_range(kind, &unit)),
        None => Ok(Parameters::checked(raw)),
    }
}

/// Most octets of user information an EX SPDU carries (X.225 §8.3, EX SPDU; Annex D).
pub const EX_USER_DATA_MAX: usize = 14;

/// Refuses an EX whose user information field (at `offset`) is longer than
/// [`EX_USER_DATA_MAX`].
#[inline]
fn check_expedited(
    kind: SpduKind,
    user_information: &[u8],
    offset: usize,
) -> Result<(), DecodeError> {
    if kind == SpduKind::Ex && user_information.len() > EX_USER_DATA_MAX {
        return Err(session_error(
            offset,
            DecodeErrorKind::LengthOutOfRange {
                what: "expedited data",
                value: user_information.len(),
                min: 0,
                max: EX_USER_DATA_MAX,
            },
        ));
    }
    Ok(())
}

#[cold]
fn session_error(offset: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(Layer::Session, offset, kind)
}

fn first_octet(v: Option<&[u8]>) -> Option<u8> {
    v.and_then(|v| v.first().copied())
}

impl<'a> Spdu<'a> {
    /// An SPDU of `kind` with the given parameter field, no user information and the shortest
    /// LI form.
    pub const fn new(kind: SpduKind, params: Parameters<'a>) -> Self {
        Spdu {
            kind,
            forced_long: false,
            index: Index::UNKNOWN,
            params,
            user_information: &[],
        }
    }

    /// The same SPDU with a user information field (DT, EX and TD only; [`Spdu::encode`] refuses
    /// it elsewhere).
    #[must_use]
    pub const fn with_user_information(mut self, user_information: &'a [u8]) -> Self {
        self.user_information = user_information;
        self
    }

    /// The same SPDU with its LI in the three-octet form even when the parameter field is shorter
    /// than 255 octets (`false`: the shortest form, which is the three-octet one from 255 on).
    #[must_use]
    pub const fn with_long_length(mut self, long: bool) -> Self {
        self.forced_long = long && self.params.len() <= 254;
        self
    }

    /// Decodes the first SPDU of a TSDU (SI 1 = GT, 25 = AB, 26 = AA) and returns it with the
    /// octets that follow it. For DT, EX and TD the user information field takes everything, so
    /// the rest is empty. Concatenation rules are checked by [`spdus`](super::spdus), not here.
    pub fn decode(input: &'a [u8]) -> Result<(Spdu<'a>, &'a [u8]), DecodeError> {
        Self::decode_at(input, Position::First)
    }

    /// Decodes an SPDU that sits at `position` in its TSDU; see [`Spdu::decode`]. Error offsets
    /// are from the start of `input`.
    #[inline(always)]
    pub fn decode_at(
        input: &'a [u8],
        position: Position,
    ) -> Result<(Spdu<'a>, &'a [u8]), DecodeError> {
        // Fast path for an empty parameter field (`01 00` GT, `01 00` DT in front of every MMS
        // and RTSE PDU): nothing to validate.
        if let [si, 0, rest @ ..] = input {
            if let Some(kind) = SpduKind::resolve(SpduType(*si), position) {
                let kind = if kind == SpduKind::Map {
                    SpduKind::Ae
                } else {
                    kind
                };
                let (user_information, rest) = if kind.has_user_information() {
                    check_expedited(kind, rest, 2)?;
                    (rest, &[][..])
                } else {
                    (&[][..], rest)
                };
                return Ok((
                    Spdu {
                        kind,
                        forced_long: false,
                        index: Index::EMPTY,
                        params: Parameters::EMPTY,
                        user_information,
                    },
                    rest,
                ));
            }
        }
        let Some((&si, after_si)) = input.split_first() else {
            return Err(session_error(
                0,
                DecodeErrorKind::Truncated {
                    what: "spdu identifier",
                    needed: 1,
                    available: 0,
                },
            ));
        };
        let Some(kind) = SpduKind::resolve(SpduType(si), position) else {
            return Err(session_error(
                0,
                DecodeErrorKind::UnexpectedCode {
                    what: "spdu identifier",
                    code: si,
                },
            ));
        };
        let (li, long_length, base) = match after_si {
            [0xff, hi, lo, ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), true, 4),
            [0xff, more @ ..] => {
                return Err(session_error(
                    2,
                    DecodeErrorKind::Truncated {
                        what: "spdu length indicator",
                        needed: 2,
                        available: more.len(),
                    },
                ));
            }
            [l, ..] => (usize::from(*l), false, 2),
            [] => {
                return Err(session_error(
                    1,
                    DecodeErrorKind::Truncated {
                        what: "spdu length indicator",
                        needed: 1,
                        available: 0,
                    },
                ));
            }
        };
        let after_li = input.get(base..).unwrap_or_default();
        let Some(raw) = after_li.get(..li) else {
            return Err(session_error(
                base,
                DecodeErrorKind::Truncated {
                    what: "spdu parameter field",
                    needed: li,
                    available: after_li.len(),
                },
            ));
        };
        let after_params = after_li.get(li..).unwrap_or_default();
        let (params, index) = match walk_field(kind, raw) {
            Some(index) => (Parameters::checked(raw), index),
            None => (
                check_field(kind, raw).map_err(|e| e.shifted(base))?,
                Index::UNKNOWN,
            ),
        };
        let kind = if kind == SpduKind::Map && params.get(ParameterCode::SYNC_TYPE_ITEM).is_none() {
            SpduKind::Ae
        } else {
            kind
        };
        let (user_information, rest) = if kind.has_user_information() {
            check_expedited(kind, after_params, base.saturating_add(li))?;
            (after_params, &[][..])
        } else {
            (&[][..], after_params)
        };
        Ok((
            Spdu {
                kind,
                forced_long: long_length && li <= 254,
                index,
                params,
                user_information,
            },
            rest,
        ))
    }

    /// An SPDU of `kind` with an empty parameter field (LI 0) and `user_information`.
    pub(crate) const fn empty(kind: SpduKind, user_information: &'a [u8]) -> Self {
        Spdu {
            kind,
            forced_long: false,
            index: Index::EMPTY,
            params: Parameters::EMPTY,
            user_information,
        }
    }

    /// The SPDU type, with shared SI codes resolved.
    #[inline]
    pub const fn kind(&self) -> SpduKind {
        self.kind
    }

    /// The SPDU identifier as sent.
    #[inline]
    pub const fn si(&self) -> SpduType {
        self.kind.si()
    }

    /// Whether the LI uses the three-octet form (always for a parameter field of 255 octets or
    /// more; below that only when decoded so or asked for with [`Spdu::with_long_length`]).
    pub const fn long_length(&self) -> bool {
        self.forced_long || self.params.len() > 254
    }

    /// The parameter field.
    #[inline]
    pub const fn parameters(&self) -> Parameters<'a> {
        self.params
    }

    /// The user information field (DT, EX, TD); empty for other SPDUs.
    #[inline]
    pub const fn user_information(&self) -> &'a [u8] {
        self.user_information
    }

    /// Octets [`Spdu::encode`] writes.
    pub const fn encoded_len(&self) -> usize {
        1usize
            .saturating_add(length_len(self.params.len(), self.forced_long))
            .saturating_add(self.params.len())
            .saturating_add(self.user_information.len())
    }

    /// Writes the SPDU. Fails, writing nothing, when `buf` has less room than
    /// [`Spdu::encoded_len`], when the parameter field is longer than 65 535 octets, when an
    /// SPDU other than DT, EX or TD has a user information field, or when an EX carries more
    /// than [`EX_USER_DATA_MAX`] octets.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        if self.params.len() > MAX_LENGTH {
            return Err(too_large("spdu parameter field", self.params.len()));
        }
        if !self.user_information.is_empty() && !self.kind.has_user_information() {
            return Err(EncodeError::new(
                Layer::Session,
                EncodeErrorKind::InvalidValue {
                    what: "spdu with a user information field",
                    value: u64::from(self.si().0),
                },
            ));
        }
        if self.kind == SpduKind::Ex && self.user_information.len() > EX_USER_DATA_MAX {
            return Err(EncodeError::new(
                Layer::Session,
                EncodeErrorKind::ValueTooLarge {
                    what: "expedited data",
                    value: self.user_information.len(),
                    max: EX_USER_DATA_MAX,
                },
            ));
        }
        ensure_room(Layer::Session, buf, self.encoded_len())?;
        buf.put_u8(self.si().0);
        put_length(buf, self.params.len(), self.forced_long);
        buf.put_slice(self.params.as_bytes());
        buf.put_slice(self.user_information);
        Ok(())
    }

    /// The encoding as a new vector (a convenience over [`Spdu::encode`]).
    pub fn to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        Ok(v)
    }

    // ---- typed accessors ------------------------------------------------------------------

    fn top(&self, code: ParameterCode) -> Option<&'a [u8]> {
        self.params.get(code)
    }

    /// The parameter of an [`Index`] slot: where the decoder saw it, or a walk when it did not
    /// record it.
    #[inline]
    fn indexed(&self, slot: usize, code: ParameterCode) -> Option<&'a [u8]> {
        let at = self.index.at.get(slot).copied().unwrap_or(u16::MAX);
        if at == u16::MAX {
            return self.top(code);
        }
        let start = usize::from(at).checked_sub(1)?;
        let (found, value, _) = split_unit(self.params.as_bytes().get(start..)?)?;
        // The user-data slot holds PGI 193 or PGI 194, whichever the SPDU carries.
        (found == code.0).then_some(value)
    }

    fn top_u8(&self, code: ParameterCode) -> Option<u8> {
        first_octet(self.top(code))
    }

    fn group(&self, code: ParameterCode) -> Option<Unit<'a>> {
        self.params
            .iter()
            .find(|u| u.code() == code && !u.is_empty())
    }

    /// A PI inside PGI 5, falling back to the top level (OA and RF carry PI 21/22 there).
    fn connect_or_top(&self, code: ParameterCode) -> Option<&'a [u8]> {
        self.group(ParameterCode::CONNECT_ACCEPT_ITEM)
            .and_then(|g| nested(g.value(), code))
            .or_else(|| self.top(code))
    }

    /// PGI 1 Connection Identifier (CN, AC, RF).
    pub fn connection_identifier(&self) -> Option<ConnectionIdentifier<'a>> {
        self.group(ParameterCode::CONNECTION_IDENTIFIER)
            .map(|g| connection_identifier(g.value()))
    }

    /// PGI 5 Connect/Accept Item (CN, AC).
    pub fn connect_accept_item(&self) -> Option<ConnectAcceptItem<'a>> {
        self.group(ParameterCode::CONNECT_ACCEPT_ITEM)
            .map(|g| connect_accept_item(g.value()))
    }

    /// PI 22 Version Number, from PGI 5 (CN, AC) or the top level (OA, RF). Absent means v1.
    pub fn version_number(&self) -> Option<VersionNumber> {
        first_octet(self.connect_or_top(ParameterCode::VERSION_NUMBER)).map(VersionNumber)
    }

    /// PI 21 TSDU Maximum Size, from PGI 5 (CN, AC) or the top level (OA).
    pub fn tsdu_maximum_size(&self) -> Option<TsduMaximumSize> {
        self.connect_or_top(ParameterCode::TSDU_MAXIMUM_SIZE)
            .and_then(TsduMaximumSize::from_bytes)
    }

    /// PI 20 Session User Requirements (CN, AC, RF). `None` when absent: the value is then
    /// [`SessionUserRequirements::DEFAULT`].
    pub fn session_user_requirements(&self) -> Option<SessionUserRequirements> {
        match self.top(ParameterCode::SESSION_USER_REQUIREMENTS)? {
            [a, b] => Some(SessionUserRequirements(u16::from_be_bytes([*a, *b]))),
            _ => None,
        }
    }

    /// PI 51 Calling Session Selector (CN, AC), at most 16 octets.
    #[inline]
    pub fn calling_session_selector(&self) -> Option<&'a [u8]> {
        self.indexed(SLOT_CALLING, ParameterCode::CALLING_SESSION_SELECTOR)
    }

    /// PI 52 Called Session Selector (CN).
    #[inline]
    pub fn called_session_selector(&self) -> Option<&'a [u8]> {
        self.indexed(SLOT_CALLED, ParameterCode::CALLED_SESSION_SELECTOR)
    }

    /// PI 52 Responding Session Selector (AC; same code as the called selector).
    #[inline]
    pub fn responding_session_selector(&self) -> Option<&'a [u8]> {
        self.indexed(SLOT_CALLED, ParameterCode::RESPONDING_SESSION_SELECTOR)
    }

    /// PI 50 Reason Code, the whole value (RF: reason octet and, for reason 2, user data;
    /// AI/AD: one octet).
    pub fn reason_code(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::REASON_CODE)
    }

    /// The RF reason: the first octet of PI 50.
    pub fn refuse_reason(&self) -> Option<RefuseReason> {
        self.top_u8(ParameterCode::REASON_CODE).map(RefuseReason)
    }

    /// The SS-user data after an RF reason 2 (for example a CPR-PPDU); `None` for other reasons.
    pub fn refuse_user_data(&self) -> Option<&'a [u8]> {
        match self.reason_code()? {
            [2, rest @ ..] => Some(rest),
            _ => None,
        }
    }

    /// The AI or AD reason: PI 50.
    pub fn activity_reason(&self) -> Option<ActivityReason> {
        self.top_u8(ParameterCode::REASON_CODE).map(ActivityReason)
    }

    /// PI 17 Transport Disconnect (RF, FN; mandatory in AB).
    pub fn transport_disconnect(&self) -> Option<TransportDisconnect> {
        self.top_u8(ParameterCode::TRANSPORT_DISCONNECT)
            .map(TransportDisconnect)
    }

    /// PI 25 Enclosure Item (segmented SSDUs, version 2).
    pub fn enclosure_item(&self) -> Option<EnclosureItem> {
        self.top_u8(ParameterCode::ENCLOSURE_ITEM)
            .map(EnclosureItem)
    }

    /// PI 16 Token Item (AC, GT, PT).
    pub fn token_item(&self) -> Option<TokenItem> {
        self.top_u8(ParameterCode::TOKEN_ITEM).map(TokenItem)
    }

    /// PI 15 Sync Type Item (MIP, MAP).
    pub fn sync_type_item(&self) -> Option<SyncTypeItem> {
        self.top_u8(ParameterCode::SYNC_TYPE_ITEM).map(SyncTypeItem)
    }

    /// PI 60 Data Overflow (CN).
    pub fn data_overflow(&self) -> Option<DataOverflow> {
        self.top_u8(ParameterCode::DATA_OVERFLOW).map(DataOverflow)
    }

    /// PI 24 Prepare Type (PR).
    pub fn prepare_type(&self) -> Option<u8> {
        self.top_u8(ParameterCode::PREPARE_TYPE)
    }

    /// PI 26 Token Setting Item at the top level (RS, RA).
    pub fn token_setting(&self) -> Option<TokenSettingItem> {
        self.top_u8(ParameterCode::TOKEN_SETTING_ITEM)
            .map(TokenSettingItem)
    }

    /// PI 27 Resync Type (RS).
    pub fn resync_type(&self) -> Option<u8> {
        self.top_u8(ParameterCode::RESYNC_TYPE)
    }

    /// PI 53 Second Resync Type (RS, RA).
    pub fn second_resync_type(&self) -> Option<u8> {
        self.top_u8(ParameterCode::SECOND_RESYNC_TYPE)
    }

    /// PI 42 Serial Number (MIP, MIA, MAP, MAA, AE, AEA, RS, RA).
    pub fn serial_number(&self) -> Option<SerialNumber<'a>> {
        self.top(ParameterCode::SERIAL_NUMBER).map(SerialNumber)
    }

    /// PI 54 Second Serial Number (RS, RA).
    pub fn second_serial_number(&self) -> Option<SerialNumber<'a>> {
        self.top(ParameterCode::SECOND_SERIAL_NUMBER)
            .map(SerialNumber)
    }

    /// PI 41 Activity Identifier at the top level (AS; the new identifier of AR), ≤ 6 octets.
    pub fn activity_identifier(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::ACTIVITY_IDENTIFIER)
    }

    /// PGI 33 Linking Information (AR).
    pub fn linking_information(&self) -> Option<LinkingInformation<'a>> {
        let g = self.group(ParameterCode::LINKING_INFORMATION)?;
        Some(LinkingInformation {
            connection: connection_identifier(g.value()),
            old_activity_identifier: nested(g.value(), ParameterCode::ACTIVITY_IDENTIFIER),
            serial_number: nested(g.value(), ParameterCode::SERIAL_NUMBER).map(SerialNumber),
            second_serial_number: nested(g.value(), ParameterCode::SECOND_SERIAL_NUMBER)
                .map(SerialNumber),
        })
    }

    /// PI 49 Reflect Parameter Values (AB with protocol error, ER).
    pub fn reflect_parameter_values(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::REFLECT_PARAMETER_VALUES)
    }

    /// PGI 193 User Data.
    #[inline]
    pub fn user_data(&self) -> Option<&'a [u8]> {
        self.indexed(SLOT_USER_DATA, ParameterCode::USER_DATA)
    }

    /// PGI 194 Extended User Data (CN, version 2).
    #[inline]
    pub fn extended_user_data(&self) -> Option<&'a [u8]> {
        self.indexed(SLOT_USER_DATA, ParameterCode::EXTENDED_USER_DATA)
    }

    /// The SS-user data this SPDU carries wherever it is: the user information field of DT, EX
    /// and TD, PGI 194 or else PGI 193 otherwise, the data after reason 2 in RF. Empty when
    /// there is none.
    #[inline]
    pub fn ss_user_data(&self) -> &'a [u8] {
        if self.kind.has_user_information() {
            return self.user_information;
        }
        if self.kind == SpduKind::Rf {
            return self.refuse_user_data().unwrap_or(&[]);
        }
        self.extended_user_data()
            .or_else(|| self.user_data())
            .unwrap_or(&[])
    }

    /// Units whose code this crate does not know, at the top level and nested (kept, never
    /// dropped, and re-encoded as they came).
    pub fn unknown_parameters(&self) -> impl Iterator<Item = Unit<'a>> + 'a {
        self.params.unknown()
    }
}

/// The typed PGI 5 whose value (checked nested units) is `g`.
fn connect_accept_item(g: &[u8]) -> ConnectAcceptItem<'_> {
    let one = |code| first_octet(nested(g, code));
    ConnectAcceptItem {
        protocol_options: one(ParameterCode::PROTOCOL_OPTIONS).map(ProtocolOptions),
        tsdu_maximum_size: nested(g, ParameterCode::TSDU_MAXIMUM_SIZE)
            .and_then(TsduMaximumSize::from_bytes),
        version_number: one(ParameterCode::VERSION_NUMBER).map(VersionNumber),
        initial_serial_number: nested(g, ParameterCode::INITIAL_SERIAL_NUMBER).map(SerialNumber),
        token_setting_item: one(ParameterCode::TOKEN_SETTING_ITEM).map(TokenSettingItem),
        second_initial_serial_number: nested(g, ParameterCode::SECOND_INITIAL_SERIAL_NUMBER)
            .map(SerialNumber),
        upper_limit_serial_number: nested(g, ParameterCode::UPPER_LIMIT_SERIAL_NUMBER),
        large_initial_serial_number: nested(g, ParameterCode::LARGE_INITIAL_SERIAL_NUMBER)
            .map(SerialNumber),
        large_second_initial_serial_number: nested(
            g,
            ParameterCode::LARGE_SECOND_INITIAL_SERIAL_NUMBER,
        )
        .map(SerialNumber),
    }
}

/// The first non-empty PI with `code` among the nested units `g` (the value of a PGI 1, 5 or
/// 33 of a decoded SPDU, whose structure was checked).
fn nested(g: &[u8], code: ParameterCode) -> Option<&[u8]> {
    Parameters::checked(g).get(code)
}

fn connection_identifier(g: &[u8]) -> ConnectionIdentifier<'_> {
    ConnectionIdentifier {
        called_ss_user_reference: nested(g, ParameterCode::CALLED_SS_USER_REFERENCE),
        calling_ss_user_reference: nested(g, ParameterCode::CALLING_SS_USER_REFERENCE),
        common_reference: nested(g, ParameterCode::COMMON_REFERENCE),
        additional_reference_information: nested(
            g,
            ParameterCode::ADDITIONAL_REFERENCE_INFORMATION,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fn_and_reencodes() {
        let b = [
            0x09, 0x10, 0xc1, 0x0e, 0x61, 0x0c, 0x30, 0x0a, 0x02, 0x01, 0x01, 0xa0, 0x05, 0x62,
            0x03, 0x80, 0x01, 0x00,
        ];
        let (s, rest) = Spdu::decode(&b).unwrap();
        assert!(rest.is_empty());
        assert_eq!(s.kind(), SpduKind::Fn);
        assert_eq!(s.user_data().map(<[u8]>::len), Some(14));
        assert_eq!(s.transport_disconnect(), None);
        assert_eq!(s.to_vec().unwrap(), b);
    }

    #[test]
    fn length_table_matches_the_rule() {
        for kind in SpduKind::ALL {
            for code in 0..=255u8 {
                let code = ParameterCode(code);
                for len in 0..300 {
                    let rule = len == 0
                        || value_length_range(kind, code).is_none_or(|(min, max)| {
                            usize::from(min) <= len && len <= usize::from(max)
                        });
                    assert_eq!(
                        value_length_ok(kind, code, len),
                        rule,
                        "{kind:?} {code:?} {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn recorded_positions_answer_like_a_walk() {
        // Each case: a CN parameter field, and the calling selector, called selector, user
        // data and extended user data a walk finds (the first non-empty unit of each code).
        let long_user_data = [&[0xc1, 0xff, 0x00, 0x03][..], b"xyz"].concat();
        type Expected<'a> = [Option<&'a [u8]>; 4];
        let cases: [(&[u8], Expected<'_>); 7] = [
            (&[], [None, None, None, None]),
            // An empty unit stands for an absent parameter: the second PI 51 is the one.
            (
                &[0x33, 0x00, 0x33, 0x01, 0x07, 0x34, 0x02, 1, 2],
                [Some(&[7]), Some(&[1, 2]), None, None],
            ),
            // Duplicates: the first non-empty wins.
            (
                &[
                    0x33, 0x01, 0x01, 0x33, 0x01, 0x02, 0xc1, 0x01, 0xaa, 0xc1, 0x01, 0xbb,
                ],
                [Some(&[1]), None, Some(&[0xaa]), None],
            ),
            // A three-octet length.
            (&long_user_data, [None, None, Some(b"xyz"), None]),
            // PGI 194 alone, and after PGI 193.
            (&[0xc2, 0x01, 0x09], [None, None, None, Some(&[9])]),
            (
                &[0xc1, 0x01, 0x08, 0xc2, 0x01, 0x09],
                [None, None, Some(&[8]), Some(&[9])],
            ),
            // A PI 51 nested in a group is not the top-level selector.
            (&[0x01, 0x03, 0x33, 0x01, 0x05], [None, None, None, None]),
        ];
        for (field, [calling, called, user_data, extended]) in cases {
            let mut cn = vec![0x0d, u8::try_from(field.len()).unwrap()];
            cn.extend_from_slice(field);
            let (decoded, _) = Spdu::decode(&cn).unwrap();
            let walked = Spdu::new(SpduKind::Cn, decoded.parameters());
            for s in [decoded, walked] {
                assert_eq!(s.calling_session_selector(), calling, "{field:02x?}");
                assert_eq!(s.called_session_selector(), called, "{field:02x?}");
                assert_eq!(s.responding_session_selector(), called, "{field:02x?}");
                assert_eq!(s.user_data(), user_data, "{field:02x?}");
                assert_eq!(s.extended_user_data(), extended, "{field:02x?}");
                assert_eq!(
                    s.ss_user_data(),
                    extended.or(user_data).unwrap_or_default(),
                    "{field:02x?}"
                );
            }
            assert_eq!(decoded, walked);
        }
        // The positions live in what was padding: recording them did not make `Spdu` larger.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<Spdu<'_>>(), 40);
    }

    #[test]
    fn one_walk_reports_like_two() {
        // A structure error after a bad value wins, as when structure was checked first.
        let e = Spdu::decode(&[0x0d, 0x05, 0x14, 0x01, 0x00, 0x33, 0x05]).unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::Overrun { .. }));
        assert_eq!(e.offset(), 7);
        // Otherwise the first bad value in walk order: each unit, then the units nested in it.
        let group = [0x05, 0x04, 0x16, 0x02, 0x02, 0x02];
        let e = Spdu::decode(&[[0x0d, 0x09].as_slice(), &group, &[0x14, 0x01, 0x00]].concat())
            .unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LengthOutOfRange { value: 2, .. }
        ));
        assert_eq!(e.offset(), 4);
        let e = Spdu::decode(&[[0x0d, 0x09, 0x14, 0x01, 0x00].as_slice(), &group].concat())
            .unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::LengthOutOfRange { value: 1, .. }
        ));
        assert_eq!(e.offset(), 2);
    }

    #[test]
    fn map_versus_ae() {
        let (s, _) = Spdu::decode_at(
            &[0x29, 0x06, 0x0f, 0x01, 0x01, 0x2a, 0x01, 0x31],
            Position::Concatenated,
        )
        .unwrap();
        assert_eq!(s.kind(), SpduKind::Map);
        let (s, _) =
            Spdu::decode_at(&[0x29, 0x03, 0x2a, 0x01, 0x31], Position::Concatenated).unwrap();
        assert_eq!(s.kind(), SpduKind::Ae);
        assert_eq!(s.serial_number().and_then(SerialNumber::value), Some(1));
    }

    #[test]
    fn short_buffer_is_an_error() {
        let s = Spdu::new(SpduKind::Aa, Parameters::EMPTY);
        let mut small = [0u8; 1];
        let e = s.encode(&mut &mut small[..]).unwrap_err();
        assert!(matches!(
            e.kind(),
            EncodeErrorKind::BufferTooSmall {
                needed: 2,
                remaining: 1
            }
        ));
    }

    #[test]
    fn truncated_and_unknown() {
        let e = Spdu::decode(&[0x0d, 0x05, 0x14]).unwrap_err();
        assert!(e.is_truncated());
        assert_eq!(e.offset(), 2);
        let e = Spdu::decode(&[0x0d, 0xff, 0x01]).unwrap_err();
        assert!(e.is_truncated());
        let e = Spdu::decode(&[0x63, 0x00]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::UnexpectedCode { code: 0x63, .. }
        ));
        let e = Spdu::decode(&[]).unwrap_err();
        assert!(e.is_truncated());
    }

    #[test]
    fn user_information_only_where_allowed() {
        let s = Spdu::new(SpduKind::Cn, Parameters::EMPTY).with_user_information(b"x");
        assert!(s.to_vec().is_err());
    }
}
