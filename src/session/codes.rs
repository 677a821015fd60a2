//! Open code types of the session protocol: SPDU identifiers, parameter codes and the values of
//! the one- and two-octet parameters (X.225 §8.3, Annex C).
//!
//! Every code is a newtype over its wire integer with named constants, so a value this crate does
//! not know survives decoding, prints, and re-encodes unchanged.

use core::fmt;

/// Defines an open `u8`/`u16` newtype with named constants and a `Debug` that prints the name.
macro_rules! open_code {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $val:expr, $label:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($val); )*

            /// The standard's abbreviation or name for this value, `None` when it is not one
            /// this crate knows.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($label), )*
                    _ => None,
                }
            }

            /// The wire value.
            pub const fn get(self) -> $int {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({}, {:#04x})", stringify!($name), n, self.0),
                    None => write!(f, "{}({:#04x})", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{:#04x}", self.0),
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self(v)
            }
        }
    };
}

open_code! {
    /// SPDU identifier (SI), the first octet of every SPDU (X.225 §8.3, Annex C Table C.1).
    ///
    /// Several codes are shared by two SPDUs (1 = GT/DT, 25 = AB/AI, 26 = AA/AIA, 41 = MAP/AE,
    /// 42 = MAA/AEA); [`SpduKind`] is the resolved type. The names printed for shared codes give
    /// both readings.
    SpduType(u8) {
        /// ER exception report (category 2).
        EXCEPTION_REPORT = 0, "ER";
        /// GT give tokens (category 0) or DT data transfer (category 2).
        GIVE_TOKENS_OR_DATA = 1, "GT/DT";
        /// PT please tokens (category 0).
        PLEASE_TOKENS = 2, "PT";
        /// EX expedited data (expedited flow).
        EXPEDITED = 5, "EX";
        /// PR prepare (expedited flow).
        PREPARE = 7, "PR";
        /// NF not finished.
        NOT_FINISHED = 8, "NF";
        /// FN finish.
        FINISH = 9, "FN";
        /// DN disconnect.
        DISCONNECT = 10, "DN";
        /// RF refuse.
        REFUSE = 12, "RF";
        /// CN connect.
        CONNECT = 13, "CN";
        /// AC accept.
        ACCEPT = 14, "AC";
        /// CDO connect data overflow.
        CONNECT_DATA_OVERFLOW = 15, "CDO";
        /// OA overflow accept.
        OVERFLOW_ACCEPT = 16, "OA";
        /// GTC give tokens confirm.
        GIVE_TOKENS_CONFIRM = 21, "GTC";
        /// GTA give tokens ack.
        GIVE_TOKENS_ACK = 22, "GTA";
        /// AB abort (category 1) or AI activity interrupt (category 2).
        ABORT_OR_ACTIVITY_INTERRUPT = 25, "AB/AI";
        /// AA abort accept (category 1) or AIA activity interrupt ack (category 2).
        ABORT_ACCEPT_OR_ACTIVITY_INTERRUPT_ACK = 26, "AA/AIA";
        /// AR activity resume.
        ACTIVITY_RESUME = 29, "AR";
        /// TD typed data.
        TYPED_DATA = 33, "TD";
        /// RA resynchronize ack.
        RESYNCHRONIZE_ACK = 34, "RA";
        /// MAP major sync point or AE activity end.
        MAJOR_SYNC_OR_ACTIVITY_END = 41, "MAP/AE";
        /// MAA major sync ack or AEA activity end ack.
        MAJOR_SYNC_ACK_OR_ACTIVITY_END_ACK = 42, "MAA/AEA";
        /// AS activity start.
        ACTIVITY_START = 45, "AS";
        /// ED exception data.
        EXCEPTION_DATA = 48, "ED";
        /// MIP minor sync point.
        MINOR_SYNC_POINT = 49, "MIP";
        /// MIA minor sync ack.
        MINOR_SYNC_ACK = 50, "MIA";
        /// RS resynchronize.
        RESYNCHRONIZE = 53, "RS";
        /// AD activity discard.
        ACTIVITY_DISCARD = 57, "AD";
        /// ADA activity discard ack.
        ACTIVITY_DISCARD_ACK = 58, "ADA";
        /// CD capability data.
        CAPABILITY_DATA = 61, "CD";
        /// CDA capability data ack.
        CAPABILITY_DATA_ACK = 62, "CDA";
    }
}

open_code! {
    /// Parameter identifier (PI) or parameter group identifier (PGI) code (X.225 §8.3 tables).
    ///
    /// Whether a code names a group is a property of the code: see [`ParameterCode::is_group`].
    ParameterCode(u8) {
        /// PGI 1 Connection Identifier (contains PI 9/10, 11, 12).
        CONNECTION_IDENTIFIER = 1, "connection identifier";
        /// PGI 5 Connect/Accept Item (contains PI 19, 21, 22, 23, 26, 55–58).
        CONNECT_ACCEPT_ITEM = 5, "connect/accept item";
        /// PI 9 Called SS-user Reference.
        CALLED_SS_USER_REFERENCE = 9, "called ss-user reference";
        /// PI 10 Calling SS-user Reference.
        CALLING_SS_USER_REFERENCE = 10, "calling ss-user reference";
        /// PI 11 Common Reference.
        COMMON_REFERENCE = 11, "common reference";
        /// PI 12 Additional Reference Information.
        ADDITIONAL_REFERENCE_INFORMATION = 12, "additional reference information";
        /// PI 15 Sync Type Item.
        SYNC_TYPE_ITEM = 15, "sync type item";
        /// PI 16 Token Item.
        TOKEN_ITEM = 16, "token item";
        /// PI 17 Transport Disconnect.
        TRANSPORT_DISCONNECT = 17, "transport disconnect";
        /// PI 19 Protocol Options.
        PROTOCOL_OPTIONS = 19, "protocol options";
        /// PI 20 Session User Requirements.
        SESSION_USER_REQUIREMENTS = 20, "session user requirements";
        /// PI 21 TSDU Maximum Size.
        TSDU_MAXIMUM_SIZE = 21, "tsdu maximum size";
        /// PI 22 Version Number.
        VERSION_NUMBER = 22, "version number";
        /// PI 23 Initial Serial Number.
        INITIAL_SERIAL_NUMBER = 23, "initial serial number";
        /// PI 24 Prepare Type.
        PREPARE_TYPE = 24, "prepare type";
        /// PI 25 Enclosure Item.
        ENCLOSURE_ITEM = 25, "enclosure item";
        /// PI 26 Token Setting Item.
        TOKEN_SETTING_ITEM = 26, "token setting item";
        /// PI 27 Resync Type.
        RESYNC_TYPE = 27, "resync type";
        /// PGI 33 Linking Information (AR; contains PI 9, 10, 11, 12, 41, 42, 54).
        LINKING_INFORMATION = 33, "linking information";
        /// PI 41 Activity Identifier.
        ACTIVITY_IDENTIFIER = 41, "activity identifier";
        /// PI 42 Serial Number.
        SERIAL_NUMBER = 42, "serial number";
        /// PI 49 Reflect Parameter Values.
        REFLECT_PARAMETER_VALUES = 49, "reflect parameter values";
        /// PI 50 Reason Code.
        REASON_CODE = 50, "reason code";
        /// PI 51 Calling Session Selector.
        CALLING_SESSION_SELECTOR = 51, "calling session selector";
        /// PI 52 Called Session Selector (CN) or Responding Session Selector (AC).
        CALLED_SESSION_SELECTOR = 52, "called/responding session selector";
        /// PI 53 Second Resync Type.
        SECOND_RESYNC_TYPE = 53, "second resync type";
        /// PI 54 Second Serial Number.
        SECOND_SERIAL_NUMBER = 54, "second serial number";
        /// PI 55 Second Initial Serial Number.
        SECOND_INITIAL_SERIAL_NUMBER = 55, "second initial serial number";
        /// PI 56 Upper Limit Serial Number.
        UPPER_LIMIT_SERIAL_NUMBER = 56, "upper limit serial number";
        /// PI 57 Large Initial Serial Number.
        LARGE_INITIAL_SERIAL_NUMBER = 57, "large initial serial number";
        /// PI 58 Large Second Initial Serial Number.
        LARGE_SECOND_INITIAL_SERIAL_NUMBER = 58, "large second initial serial number";
        /// PI 60 Data Overflow.
        DATA_OVERFLOW = 60, "data overflow";
        /// PGI 193 User Data.
        USER_DATA = 193, "user data";
        /// PGI 194 Extended User Data.
        EXTENDED_USER_DATA = 194, "extended user data";
    }
}

impl ParameterCode {
    /// PI 52 in an AC SPDU: Responding Session Selector (same code as the called selector).
    pub const RESPONDING_SESSION_SELECTOR: Self = Self::CALLED_SESSION_SELECTOR;

    /// Whether this code is one of the parameter *group* identifiers (PGI 1, 5, 33, 193, 194).
    pub const fn is_group(self) -> bool {
        matches!(self.0, 1 | 5 | 33 | 193 | 194)
    }

    /// Whether this PGI's value is a sequence of PI units (PGI 1, 5 and 33), rather than a single
    /// value (PGI 193 and 194, and every PI).
    pub const fn contains_units(self) -> bool {
        matches!(self.0, 1 | 5 | 33)
    }

    /// Whether the code is listed in X.225 §8.3 (see the constants).
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }
}

open_code! {
    /// Reason Code (PI 50) of an RF SPDU, its first octet (X.225 §8.3, RF SPDU). Values marked "may be
    /// persistent" in the standard are 0x81, 0x82, 0x84 and 0x85.
    RefuseReason(u8) {
        /// 0: rejection by called SS-user, no reason given.
        USER_NO_REASON = 0, "rejected by called ss-user";
        /// 1: rejection by called SS-user due to temporary congestion.
        USER_CONGESTION = 1, "rejected by called ss-user: temporary congestion";
        /// 2: rejection by called SS-user; the following octets are SS-user data.
        USER_DATA = 2, "rejected by called ss-user with user data";
        /// 0x81: session selector unknown.
        SELECTOR_UNKNOWN = 0x81, "session selector unknown";
        /// 0x82: SS-user not attached to SSAP.
        USER_NOT_ATTACHED = 0x82, "ss-user not attached to ssap";
        /// 0x83: SPM congestion at connect time.
        SPM_CONGESTION = 0x83, "spm congestion at connect time";
        /// 0x84: proposed protocol versions not supported.
        VERSION_NOT_SUPPORTED = 0x84, "proposed protocol versions not supported";
        /// 0x85: rejection by the SPM, no reason given.
        SPM_NO_REASON = 0x85, "rejected by spm";
        /// 0x86: rejection by the SPM, implementation restriction stated in the PICS.
        SPM_IMPLEMENTATION_RESTRICTION = 0x86, "rejected by spm: implementation restriction";
    }
}

open_code! {
    /// Reason Code (PI 50) of an AI or AD SPDU (X.225 §8.3, AI and AD SPDUs).
    ActivityReason(u8) {
        /// 0: no specific reason stated.
        NO_REASON = 0, "no specific reason";
        /// 1: receiving ability jeopardized (temporarily unable to continue).
        TEMPORARILY_UNABLE = 1, "temporarily unable to continue";
        /// 3: SS-user sequence error.
        USER_SEQUENCE_ERROR = 3, "ss-user sequence error";
        /// 5: local SS-user error.
        LOCAL_USER_ERROR = 5, "local ss-user error";
        /// 6: unrecoverable procedural error.
        UNRECOVERABLE_PROCEDURAL_ERROR = 6, "unrecoverable procedural error";
        /// 128: demand data token (AI only).
        DEMAND_DATA_TOKEN = 128, "demand data token";
    }
}

/// Defines a bit-set newtype with named bit constants and `contains`.
macro_rules! bits {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $val:expr; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($val); )*

            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// `self` with the bits of `other` added.
            #[must_use]
            pub const fn with(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }

            /// The wire value.
            pub const fn get(self) -> $int {
                self.0
            }
        }
    };
}

bits! {
    /// Session User Requirements (PI 20), the functional units (X.225 §8.3, CN and AC SPDUs; bit n = mask
    /// `1 << (n-1)`). Absent means [`SessionUserRequirements::DEFAULT`].
    SessionUserRequirements(u16) {
        /// Bit 1: half-duplex.
        HALF_DUPLEX = 0x0001;
        /// Bit 2: duplex.
        DUPLEX = 0x0002;
        /// Bit 3: expedited data.
        EXPEDITED_DATA = 0x0004;
        /// Bit 4: minor synchronize.
        MINOR_SYNCHRONIZE = 0x0008;
        /// Bit 5: major synchronize.
        MAJOR_SYNCHRONIZE = 0x0010;
        /// Bit 6: resynchronize.
        RESYNCHRONIZE = 0x0020;
        /// Bit 7: activity management.
        ACTIVITY_MANAGEMENT = 0x0040;
        /// Bit 8: negotiated release.
        NEGOTIATED_RELEASE = 0x0080;
        /// Bit 9: capability data exchange.
        CAPABILITY_DATA = 0x0100;
        /// Bit 10: exceptions.
        EXCEPTIONS = 0x0200;
        /// Bit 11: typed data.
        TYPED_DATA = 0x0400;
        /// Bit 12: symmetric synchronize.
        SYMMETRIC_SYNCHRONIZE = 0x0800;
        /// Bit 13: data separation.
        DATA_SEPARATION = 0x1000;
        /// The value when PI 20 is absent: half-duplex, minor sync, activity management,
        /// capability data, exceptions (`0x0349`).
        DEFAULT = 0x0349;
    }
}

bits! {
    /// Transport Disconnect (PI 17, X.225 §8.3, RF, FN and AB SPDUs). In RF and FN only bit 1 is used
    /// (set = release the transport connection; absent = release). In AB it is mandatory and
    /// carries the abort reason bits too.
    TransportDisconnect(u8) {
        /// Bit 1: the transport connection is released (clear = kept for reuse).
        RELEASED = 0x01;
        /// Bit 2 (AB): user abort.
        USER_ABORT = 0x02;
        /// Bit 3 (AB): protocol error.
        PROTOCOL_ERROR = 0x04;
        /// Bit 4 (AB): no reason.
        NO_REASON = 0x08;
        /// Bit 5 (AB): implementation restriction stated in the PICS.
        IMPLEMENTATION_RESTRICTION = 0x10;
    }
}

bits! {
    /// Enclosure Item (PI 25, X.225 §8.3 and §8.4): whether an SPDU begins and/or ends an SSDU that is
    /// segmented (version 2 only).
    EnclosureItem(u8) {
        /// Bit 1: beginning of SSDU.
        BEGINNING = 0x01;
        /// Bit 2: end of SSDU.
        END = 0x02;
        /// Both bits: the whole SSDU is in this SPDU.
        WHOLE = 0x03;
        /// Neither bit: a middle segment.
        MIDDLE = 0x00;
    }
}

bits! {
    /// Token Item (PI 16, in AC, GT and PT): which tokens are given or requested.
    TokenItem(u8) {
        /// Bit 1: data token.
        DATA = 0x01;
        /// Bit 3: minor synchronize token.
        MINOR_SYNC = 0x04;
        /// Bit 5: major/activity token.
        MAJOR_ACTIVITY = 0x10;
        /// Bit 7: release token.
        RELEASE = 0x40;
    }
}

bits! {
    /// Protocol Options (PI 19 in the Connect/Accept Item).
    ProtocolOptions(u8) {
        /// Bit 1: able to receive extended concatenated SPDUs.
        EXTENDED_CONCATENATION = 0x01;
    }
}

bits! {
    /// Version Number (PI 22): the proposed (CN) or selected (AC, RF, OA) protocol versions.
    /// Absent means version 1.
    VersionNumber(u8) {
        /// Bit 1: version 1.
        V1 = 0x01;
        /// Bit 2: version 2.
        V2 = 0x02;
        /// Both versions proposed.
        BOTH = 0x03;
    }
}

bits! {
    /// Sync Type Item (PI 15). In MIP bit 1 = explicit confirmation not required; in MAP bit 1 =
    /// 1 (end of activity not indicated).
    SyncTypeItem(u8) {
        /// Bit 1.
        BIT1 = 0x01;
    }
}

bits! {
    /// Data Overflow (PI 60, CN only): more than 10 240 octets of user data follow in CDO SPDUs.
    DataOverflow(u8) {
        /// Bit 1: more data follows.
        MORE_DATA = 0x01;
    }
}

/// Token Setting Item (PI 26): four bit pairs naming who initially holds each token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TokenSettingItem(pub u8);

/// Where a token initially lies, one bit pair of a [`TokenSettingItem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPosition {
    /// `00`: on the initiator's side.
    Initiator,
    /// `01`: on the responder's side.
    Responder,
    /// `10`: the called SS-user chooses (not allowed in AC).
    CalledUsersChoice,
    /// `11`: reserved.
    Reserved,
}

impl TokenSettingItem {
    fn pair(self, shift: u8) -> TokenPosition {
        match (self.0 >> shift) & 0b11 {
            0 => TokenPosition::Initiator,
            1 => TokenPosition::Responder,
            2 => TokenPosition::CalledUsersChoice,
            _ => TokenPosition::Reserved,
        }
    }

    /// Bits 2–1: the data token.
    pub fn data(self) -> TokenPosition {
        self.pair(0)
    }

    /// Bits 4–3: the minor synchronize token.
    pub fn minor_sync(self) -> TokenPosition {
        self.pair(2)
    }

    /// Bits 6–5: the major/activity token.
    pub fn major_activity(self) -> TokenPosition {
        self.pair(4)
    }

    /// Bits 8–7: the release token.
    pub fn release(self) -> TokenPosition {
        self.pair(6)
    }
}

/// TSDU Maximum Size (PI 21, four octets): the largest TSDU each direction accepts; 0 means
/// unlimited (X.225 §8.3, CN, AC and OA SPDUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TsduMaximumSize {
    /// First two octets: TSDUs from the initiator to the responder.
    pub initiator_to_responder: u16,
    /// Last two octets: TSDUs from the responder to the initiator.
    pub responder_to_initiator: u16,
}

impl TsduMaximumSize {
    /// The four-octet wire form.
    pub const fn to_bytes(self) -> [u8; 4] {
        let a = self.initiator_to_responder.to_be_bytes();
        let b = self.responder_to_initiator.to_be_bytes();
        [a[0], a[1], b[0], b[1]]
    }

    /// Reads the four-octet wire form; `None` unless `value` is exactly four octets.
    pub fn from_bytes(value: &[u8]) -> Option<Self> {
        match value {
            [a, b, c, d] => Some(TsduMaximumSize {
                initiator_to_responder: u16::from_be_bytes([*a, *b]),
                responder_to_initiator: u16::from_be_bytes([*c, *d]),
            }),
            _ => None,
        }
    }
}

/// A serial number as carried on the wire (PI 23, 42, 54, 55, 57, 58): ASCII decimal digits,
/// most significant first (X.225 §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SerialNumber<'a>(pub &'a [u8]);

impl<'a> SerialNumber<'a> {
    /// The digits as a number; `None` if a non-digit is present, the field is empty, or the value
    /// does not fit in a `u64`.
    pub fn value(self) -> Option<u64> {
        if self.0.is_empty() {
            return None;
        }
        self.0.iter().try_fold(0u64, |acc, &b| {
            if b.is_ascii_digit() {
                acc.checked_mul(10)?
                    .checked_add(u64::from(b.wrapping_sub(b'0')))
            } else {
                None
            }
        })
    }

    /// The raw digits.
    pub const fn as_bytes(self) -> &'a [u8] {
        self.0
    }
}

/// Which version of the session protocol is in use (X.225 §7.1, Annex D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionVersion {
    /// Version 1: at most 512 octets of user data in most SPDUs, no segmentation.
    V1,
    /// Version 2: extended user data, data overflow and segmentation.
    V2,
}

impl SessionVersion {
    /// The version selected from a Version Number value: v2 if bit 2 is set, else v1 (absent
    /// PI 22 means v1).
    pub const fn from_version_number(v: Option<VersionNumber>) -> Self {
        match v {
            Some(v) if v.0 & 0x02 != 0 => SessionVersion::V2,
            _ => SessionVersion::V1,
        }
    }
}

/// Category of an SPDU for concatenation (X.225 §6.3.7; `docs/protocol-notes.md` §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Category 0 (GT, PT): alone, or first followed by category-2 SPDUs.
    Zero,
    /// Category 1: always alone in its TSDU.
    One,
    /// Category 2: never alone, always after a category-0 SPDU.
    Two,
    /// Sent on the transport expedited flow (EX), alone in its TSDU there.
    Expedited,
}

/// An SPDU type with the shared SI codes resolved (X.225 §8.3, Annex C).
///
/// SI 1, 25 and 26 are resolved by position in the TSDU (first = GT/AB/AA, after a category-0
/// SPDU = DT/AI/AIA); SI 41 by the presence of the Sync Type Item (present = MAP, absent = AE).
/// SI 42 (MAA and AEA) has identical encodings and is resolved only by the state machine, so it
/// decodes as [`SpduKind::MaaOrAea`].
///
/// Every SPDU has the header `SI | LI (1|3) | parameter field`; the parameters each carries
/// (X.225 §8.3, `m` = mandatory; user information field only in DT, EX, TD; SPDUs shown without
/// a list: see the SPDU's table in §8.3):
///
/// ```text
///  cat 1  CN  0d | PGI 1{10,11,12} PGI 5{19m,21,22m,23,26,55-58} 20 51 52 60 PGI 193|194
///         AC  0e | PGI 1{9,11,12} PGI 5{..} 16 20 25 51 52 PGI 193
///         RF  0c | PGI 1{9,11,12} 17 20 22 25 50
///         OA  10 | 21 22m            CDO 0f | 25m PGI 193
///         FN  09 | 17 25 PGI 193     DN  0a | 25 PGI 193      NF 08 | 25 PGI 193
///         AB  19 | 17m 25 49 PGI 193 AA  1a | (none)
///         TD  21 | 25 | user info    PR  07 | 24              GTC 15 / GTA 16 | (none)
///  cat 0  GT  01 | 16 25 PGI 193     PT  02 | 16 25 PGI 193
///  cat 2  DT  01 | 25 | user information field (to the end of the TSDU)
///         AS  2d | 25 41m PGI 193    AR  1d | 25 PGI 33m{9-12,41m,42m,54} 41m PGI 193
///         AI  19 / AD 39 | 25 50 PGI 193       AIA 1a / ADA 3a
///         MIP 31 | 15 25 42m PGI 193 MIA 32 | 25 42m PGI 193
///         MAP 29 | 15m 25 42m PGI 193          AE  29 | 25 42m PGI 193
///         MAA/AEA 2a | 25 42m PGI 193          RS  35 / RA 22 (27, 42, 53, 54 …)
///         CD  3d / CDA 3e / ER 00 (49) / ED 30
///  exp.   EX  05 | user information field (at most 14 octets)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpduKind {
    /// CN connect (SI 13).
    Cn,
    /// OA overflow accept (SI 16).
    Oa,
    /// CDO connect data overflow (SI 15).
    Cdo,
    /// AC accept (SI 14).
    Ac,
    /// RF refuse (SI 12).
    Rf,
    /// FN finish (SI 9).
    Fn,
    /// DN disconnect (SI 10).
    Dn,
    /// NF not finished (SI 8).
    Nf,
    /// AB abort (SI 25, category 1).
    Ab,
    /// AA abort accept (SI 26, category 1).
    Aa,
    /// DT data transfer (SI 1, category 2).
    Dt,
    /// GT give tokens (SI 1, category 0).
    Gt,
    /// PT please tokens (SI 2, category 0).
    Pt,
    /// EX expedited data (SI 5).
    Ex,
    /// PR prepare (SI 7).
    Pr,
    /// TD typed data (SI 33).
    Td,
    /// GTC give tokens confirm (SI 21).
    Gtc,
    /// GTA give tokens ack (SI 22).
    Gta,
    /// CD capability data (SI 61).
    Cd,
    /// CDA capability data ack (SI 62).
    Cda,
    /// RS resynchronize (SI 53).
    Rs,
    /// RA resynchronize ack (SI 34).
    Ra,
    /// AS activity start (SI 45).
    As,
    /// AR activity resume (SI 29).
    Ar,
    /// AD activity discard (SI 57).
    Ad,
    /// ADA activity discard ack (SI 58).
    Ada,
    /// AI activity interrupt (SI 25, category 2).
    Ai,
    /// AIA activity interrupt ack (SI 26, category 2).
    Aia,
    /// AE activity end (SI 41 without Sync Type Item).
    Ae,
    /// MAP major sync point (SI 41 with Sync Type Item).
    Map,
    /// MAA major sync ack or AEA activity end ack (SI 42; identical encodings).
    MaaOrAea,
    /// MIP minor sync point (SI 49).
    Mip,
    /// MIA minor sync ack (SI 50).
    Mia,
    /// ER exception report (SI 0).
    Er,
    /// ED exception data (SI 48).
    Ed,
}

/// Where an SPDU sits in its TSDU, which decides the shared SI codes 1, 25 and 26.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// First SPDU of the TSDU (SI 1 = GT, 25 = AB, 26 = AA).
    First,
    /// After a category-0 SPDU (SI 1 = DT, 25 = AI, 26 = AIA).
    Concatenated,
}

impl SpduKind {
    /// Every kind, for tests and tables.
    pub const ALL: [SpduKind; 35] = [
        SpduKind::Cn,
        SpduKind::Oa,
        SpduKind::Cdo,
        SpduKind::Ac,
        SpduKind::Rf,
        SpduKind::Fn,
        SpduKind::Dn,
        SpduKind::Nf,
        SpduKind::Ab,
        SpduKind::Aa,
        SpduKind::Dt,
        SpduKind::Gt,
        SpduKind::Pt,
        SpduKind::Ex,
        SpduKind::Pr,
        SpduKind::Td,
        SpduKind::Gtc,
        SpduKind::Gta,
        SpduKind::Cd,
        SpduKind::Cda,
        SpduKind::Rs,
        SpduKind::Ra,
        SpduKind::As,
        SpduKind::Ar,
        SpduKind::Ad,
        SpduKind::Ada,
        SpduKind::Ai,
        SpduKind::Aia,
        SpduKind::Ae,
        SpduKind::Map,
        SpduKind::MaaOrAea,
        SpduKind::Mip,
        SpduKind::Mia,
        SpduKind::Er,
        SpduKind::Ed,
    ];

    /// The SPDU identifier this kind is sent with.
    #[inline]
    pub const fn si(self) -> SpduType {
        SpduType(match self {
            SpduKind::Er => 0,
            SpduKind::Dt | SpduKind::Gt => 1,
            SpduKind::Pt => 2,
            SpduKind::Ex => 5,
            SpduKind::Pr => 7,
            SpduKind::Nf => 8,
            SpduKind::Fn => 9,
            SpduKind::Dn => 10,
            SpduKind::Rf => 12,
            SpduKind::Cn => 13,
            SpduKind::Ac => 14,
            SpduKind::Cdo => 15,
            SpduKind::Oa => 16,
            SpduKind::Gtc => 21,
            SpduKind::Gta => 22,
            SpduKind::Ab | SpduKind::Ai => 25,
            SpduKind::Aa | SpduKind::Aia => 26,
            SpduKind::Ar => 29,
            SpduKind::Td => 33,
            SpduKind::Ra => 34,
            SpduKind::Map | SpduKind::Ae => 41,
            SpduKind::MaaOrAea => 42,
            SpduKind::As => 45,
            SpduKind::Ed => 48,
            SpduKind::Mip => 49,
            SpduKind::Mia => 50,
            SpduKind::Rs => 53,
            SpduKind::Ad => 57,
            SpduKind::Ada => 58,
            SpduKind::Cd => 61,
            SpduKind::Cda => 62,
        })
    }

    /// Resolves an SI at a position in the TSDU. SI 41 resolves to [`SpduKind::Map`] here;
    /// the decoder turns it into [`SpduKind::Ae`] when there is no Sync Type Item. `None` for
    /// an SI this crate does not know.
    pub const fn resolve(si: SpduType, position: Position) -> Option<SpduKind> {
        let concatenated = matches!(position, Position::Concatenated);
        Some(match si.0 {
            0 => SpduKind::Er,
            1 if concatenated => SpduKind::Dt,
            1 => SpduKind::Gt,
            2 => SpduKind::Pt,
            5 => SpduKind::Ex,
            7 => SpduKind::Pr,
            8 => SpduKind::Nf,
            9 => SpduKind::Fn,
            10 => SpduKind::Dn,
            12 => SpduKind::Rf,
            13 => SpduKind::Cn,
            14 => SpduKind::Ac,
            15 => SpduKind::Cdo,
            16 => SpduKind::Oa,
            21 => SpduKind::Gtc,
            22 => SpduKind::Gta,
            25 if concatenated => SpduKind::Ai,
            25 => SpduKind::Ab,
            26 if concatenated => SpduKind::Aia,
            26 => SpduKind::Aa,
            29 => SpduKind::Ar,
            33 => SpduKind::Td,
            34 => SpduKind::Ra,
            41 => SpduKind::Map,
            42 => SpduKind::MaaOrAea,
            45 => SpduKind::As,
            48 => SpduKind::Ed,
            49 => SpduKind::Mip,
            50 => SpduKind::Mia,
            53 => SpduKind::Rs,
            57 => SpduKind::Ad,
            58 => SpduKind::Ada,
            61 => SpduKind::Cd,
            62 => SpduKind::Cda,
            _ => return None,
        })
    }

    /// The concatenation category (X.225 §6.3.7).
    pub const fn category(self) -> Category {
        match self {
            SpduKind::Gt | SpduKind::Pt => Category::Zero,
            SpduKind::Cn
            | SpduKind::Oa
            | SpduKind::Cdo
            | SpduKind::Ac
            | SpduKind::Rf
            | SpduKind::Fn
            | SpduKind::Dn
            | SpduKind::Nf
            | SpduKind::Ab
            | SpduKind::Aa
            | SpduKind::Gtc
            | SpduKind::Gta
            | SpduKind::Pr
            | SpduKind::Td => Category::One,
            SpduKind::Ex => Category::Expedited,
            SpduKind::Dt
            | SpduKind::Cd
            | SpduKind::Cda
            | SpduKind::Rs
            | SpduKind::Ra
            | SpduKind::As
            | SpduKind::Ar
            | SpduKind::Ad
            | SpduKind::Ada
            | SpduKind::Ai
            | SpduKind::Aia
            | SpduKind::Ae
            | SpduKind::Map
            | SpduKind::MaaOrAea
            | SpduKind::Mip
            | SpduKind::Mia
            | SpduKind::Er
            | SpduKind::Ed => Category::Two,
        }
    }

    /// Whether the SPDU has a user information field after its parameter field (DT, EX, TD):
    /// it runs to the end of the TSDU, so such an SPDU is always the last one.
    pub const fn has_user_information(self) -> bool {
        matches!(self, SpduKind::Dt | SpduKind::Ex | SpduKind::Td)
    }

    /// The standard's abbreviation ("CN", "GT", "MAA/AEA", …).
    pub const fn abbreviation(self) -> &'static str {
        match self {
            SpduKind::Cn => "CN",
            SpduKind::Oa => "OA",
            SpduKind::Cdo => "CDO",
            SpduKind::Ac => "AC",
            SpduKind::Rf => "RF",
            SpduKind::Fn => "FN",
            SpduKind::Dn => "DN",
            SpduKind::Nf => "NF",
            SpduKind::Ab => "AB",
            SpduKind::Aa => "AA",
            SpduKind::Dt => "DT",
            SpduKind::Gt => "GT",
            SpduKind::Pt => "PT",
            SpduKind::Ex => "EX",
            SpduKind::Pr => "PR",
            SpduKind::Td => "TD",
            SpduKind::Gtc => "GTC",
            SpduKind::Gta => "GTA",
            SpduKind::Cd => "CD",
            SpduKind::Cda => "CDA",
            SpduKind::Rs => "RS",
            SpduKind::Ra => "RA",
            SpduKind::As => "AS",
            SpduKind::Ar => "AR",
            SpduKind::Ad => "AD",
            SpduKind::Ada => "ADA",
            SpduKind::Ai => "AI",
            SpduKind::Aia => "AIA",
            SpduKind::Ae => "AE",
            SpduKind::Map => "MAP",
            SpduKind::MaaOrAea => "MAA/AEA",
            SpduKind::Mip => "MIP",
            SpduKind::Mia => "MIA",
            SpduKind::Er => "ER",
            SpduKind::Ed => "ED",
        }
    }
}

impl fmt::Display for SpduKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.abbreviation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_resolution_round_trips() {
        for k in SpduKind::ALL {
            let pos = if k.category() == Category::Two {
                Position::Concatenated
            } else {
                Position::First
            };
            let r = SpduKind::resolve(k.si(), pos);
            match k {
                SpduKind::Ae => assert_eq!(r, Some(SpduKind::Map)),
                _ => assert_eq!(r, Some(k), "{k}"),
            }
        }
        assert_eq!(SpduKind::resolve(SpduType(0x63), Position::First), None);
    }

    #[test]
    fn codes_print() {
        assert_eq!(format!("{:?}", SpduType(13)), "SpduType(CN, 0x0d)");
        assert_eq!(format!("{}", SpduType(0x63)), "0x63");
        assert_eq!(ParameterCode(0x99).name(), None);
        assert!(ParameterCode::USER_DATA.is_group());
        assert!(!ParameterCode::USER_DATA.contains_units());
    }

    #[test]
    fn values() {
        assert_eq!(SerialNumber(b"000123").value(), Some(123));
        assert_eq!(SerialNumber(b"12a").value(), None);
        let t = TsduMaximumSize::from_bytes(&[1, 0, 0, 2]);
        assert_eq!(
            t,
            Some(TsduMaximumSize {
                initiator_to_responder: 256,
                responder_to_initiator: 2
            })
        );
        assert_eq!(t.map(TsduMaximumSize::to_bytes), Some([1, 0, 0, 2]));
        let ts = TokenSettingItem(0b01_10_00_01);
        assert_eq!(ts.data(), TokenPosition::Responder);
        assert_eq!(ts.minor_sync(), TokenPosition::Initiator);
        assert_eq!(ts.major_activity(), TokenPosition::CalledUsersChoice);
        assert_eq!(ts.release(), TokenPosition::Responder);
        assert_eq!(
            SessionVersion::from_version_number(Some(VersionNumber::BOTH)),
            SessionVersion::V2
        );
        assert_eq!(
            SessionVersion::from_version_number(None),
            SessionVersion::V1
        );
    }
}
