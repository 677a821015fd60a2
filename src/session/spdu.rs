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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spdu<'a> {
    kind: SpduKind,
    /// The three-octet LI form is used although the field is shorter than 255 octets.
    forced_long: bool,
    params: Parameters<'a>,
    user_information: &'a [u8],
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
fn value_length_range(kind: SpduKind, code: ParameterCode) -> Option<(usize, usize)> {
    Some(match code.0 {
        9..=11 => (1, 64),
        12 => (1, 4),
        15 | 16 | 17 | 19 | 22 | 24 | 25 | 26 | 27 | 53 | 60 => (1, 1),
        20 => (2, 2),
        21 => (4, 4),
        23 | 55 => (1, 6),
        41 | 56 => (1, 6),
        51 | 52 => (1, 16),
        49 if kind == SpduKind::Ab => (1, 9),
        50 if matches!(kind, SpduKind::Ai | SpduKind::Ad) => (1, 1),
        _ => return None,
    })
}

/// [`value_length_range`] as two tables indexed by code, for the decode loop: the smallest and
/// largest allowed length, `0` as largest = any length (or, for PI 49 and 50, a rule that
/// depends on the SPDU kind). Indexing is evaluated at compile time (`code < 256`): it cannot
/// panic at run time.
#[allow(clippy::indexing_slicing)]
const VALUE_LENGTHS: ([u8; 256], [u8; 256]) = {
    let (mut min, mut max) = ([0u8; 256], [0u8; 256]);
    let mut code = 0usize;
    while code < 256 {
        let (lo, hi) = match code {
            9..=11 => (1, 64),
            12 => (1, 4),
            15 | 16 | 17 | 19 | 22 | 24 | 25 | 26 | 27 | 53 | 60 => (1, 1),
            20 => (2, 2),
            21 => (4, 4),
            23 | 55 | 41 | 56 => (1, 6),
            51 | 52 => (1, 16),
            _ => (0, 0),
        };
        min[code] = lo;
        max[code] = hi;
        code = code.saturating_add(1);
    }
    (min, max)
};

/// Whether a value of `len` octets is allowed for `code` in `kind`, the rule of
/// [`value_length_range`]; an empty value stands for an absent parameter and is always
/// allowed.
#[inline(always)]
pub(super) fn value_length_ok(kind: SpduKind, code: ParameterCode, len: usize) -> bool {
    let at = usize::from(code.0);
    let max = VALUE_LENGTHS.1.get(at).copied().unwrap_or(0);
    if len == 0 {
        return true;
    }
    if max != 0 {
        let min = VALUE_LENGTHS.0.get(at).copied().unwrap_or(0);
        return usize::from(min) <= len && len <= usize::from(max);
    }
    match code.0 {
        49 => kind != SpduKind::Ab || len <= 9,
        50 => !matches!(kind, SpduKind::Ai | SpduKind::Ad) || len == 1,
        _ => true,
    }
}

#[cold]
fn length_out_of_range(kind: SpduKind, unit: &Unit<'_>) -> DecodeError {
    let (min, max) = value_length_range(kind, unit.code()).unwrap_or((0, MAX_LENGTH));
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

/// Whether the parameter field of an SPDU of `kind` passes [`check_field`], in one walk that
/// only answers yes or no (no offsets, no `Unit`s); when it does not, [`check_field`] walks
/// again to locate the error. Kept out of line so that its loop has the registers to itself.
#[inline(never)]
fn field_ok(kind: SpduKind, mut field: &[u8]) -> bool {
    while !field.is_empty() {
        let Some((code, value, rest)) = split_unit(field) else {
            return false;
        };
        field = rest;
        let code = ParameterCode(code);
        if !value_length_ok(kind, code, value.len()) {
            return false;
        }
        if code.contains_units() {
            let mut inner = value;
            while !inner.is_empty() {
                let Some((code, value, rest)) = split_unit(inner) else {
                    return false;
                };
                inner = rest;
                if !value_length_ok(kind, ParameterCode(code), value.len()) {
                    return false;
                }
            }
        }
    }
    true
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
        let params = if field_ok(kind, raw) {
            Parameters::checked(raw)
        } else {
            check_field(kind, raw).map_err(|e| e.shifted(base))?
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
    pub fn calling_session_selector(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::CALLING_SESSION_SELECTOR)
    }

    /// PI 52 Called Session Selector (CN).
    pub fn called_session_selector(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::CALLED_SESSION_SELECTOR)
    }

    /// PI 52 Responding Session Selector (AC; same code as the called selector).
    pub fn responding_session_selector(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::RESPONDING_SESSION_SELECTOR)
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
    pub fn user_data(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::USER_DATA)
    }

    /// PGI 194 Extended User Data (CN, version 2).
    pub fn extended_user_data(&self) -> Option<&'a [u8]> {
        self.top(ParameterCode::EXTENDED_USER_DATA)
    }

    /// The SS-user data this SPDU carries wherever it is: the user information field of DT, EX
    /// and TD, PGI 194 or else PGI 193 otherwise, the data after reason 2 in RF. Empty when
    /// there is none.
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
                        || value_length_range(kind, code)
                            .is_none_or(|(min, max)| min <= len && len <= max);
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
