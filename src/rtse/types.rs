//! RTSE APDU types, decoders and encoders (X.228 (11/88), module `Reliable-Transfer-APDU`).

use core::fmt;

use bytes::BufMut;

use crate::ber::{self, CONTEXT, Ctx, Reader, Tag, Tlv, UNIVERSAL};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;

const L: Layer = Layer::Rtse;

pub(crate) fn ctx(limits: &Limits) -> Ctx {
    Ctx {
        layer: L,
        max_depth: limits.max_ber_depth,
    }
}

const RTORQ: Tag = Tag::ctx_cons(16);
const RTOAC: Tag = Tag::ctx_cons(17);
const RTORJ: Tag = Tag::ctx_cons(18);
const RTAB: Tag = Tag::ctx_cons(22);
/// ISODE's RTAB tag: constructed UNIVERSAL 22 (see [`Rtab::decode_tolerant`]).
const ISODE_RTAB: Tag = Tag::new(UNIVERSAL, true, 22);
const RTTP: Tag = Tag::INTEGER;
const OCTET_STRING: Tag = Tag::new(UNIVERSAL, false, 4);
const T61_STRING: Tag = Tag::new(UNIVERSAL, false, 20);
const UTC_TIME: Tag = Tag::new(UNIVERSAL, false, 23);

/// Default of `checkpointSize` in RTORQ and RTOAC: 0, no checkpointing.
pub const DEFAULT_CHECKPOINT_SIZE: i64 = 0;
/// Default of `windowSize` in RTORQ and RTOAC: 3.
pub const DEFAULT_WINDOW_SIZE: i64 = 3;

// ---------------------------------------------------------------------------------------------
// Codes

/// Defines an open integer code with ASN.1 names: a newtype over `i64`, named constants,
/// `name()` and a `Display` that prints the name or, for an unknown value, the number.
macro_rules! named_code {
    ($(#[$m:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:literal, $s:literal;)* }) => {
        $(#[$m])*
        ///
        /// Open: every value survives decoding and encoding; `Display` prints the ASN.1 name of
        /// a known value and the number of any other.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*

            /// The ASN.1 name of a known value.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some($s),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}

named_code! {
    /// `dialogueMode` of an RTORQ: who may send APDUs (X.228 `RTORQapdu`).
    DialogueMode {
        /// `monologue(0)`: only the association initiator sends (the default).
        MONOLOGUE = 0, "monologue";
        /// `twa(1)`: two-way alternate, the turn passes between the two sides.
        TWA = 1, "twa";
    }
}

named_code! {
    /// `RefuseReason` of an RTORJ, X.410-1984 mode only (X.228 `RefuseReason`; X.410 `PRefuse`).
    RefuseReason {
        /// `rtsBusy(0)`.
        RTS_BUSY = 0, "rtsBusy";
        /// `cannotRecover(1)`.
        CANNOT_RECOVER = 1, "cannotRecover";
        /// `validationFailure(2)`.
        VALIDATION_FAILURE = 2, "validationFailure";
        /// `unacceptableDialogueMode(3)`.
        UNACCEPTABLE_DIALOGUE_MODE = 3, "unacceptableDialogueMode";
    }
}

named_code! {
    /// `AbortReason` of an RTAB (X.228 `AbortReason`; X.410 `AbortInformation` uses 0–4).
    AbortReason {
        /// `localSystemProblem(0)`.
        LOCAL_SYSTEM_PROBLEM = 0, "localSystemProblem";
        /// `invalidParameter(1)`: `reflectedParameter` names the parameter.
        INVALID_PARAMETER = 1, "invalidParameter";
        /// `unrecognizedActivity(2)`.
        UNRECOGNIZED_ACTIVITY = 2, "unrecognizedActivity";
        /// `temporaryProblem(3)`.
        TEMPORARY_PROBLEM = 3, "temporaryProblem";
        /// `protocolError(4)`.
        PROTOCOL_ERROR = 4, "protocolError";
        /// `permanentProblem(5)`, normal mode only.
        PERMANENT_PROBLEM = 5, "permanentProblem";
        /// `userError(6)`, normal mode only: `userdataAB` may say more.
        USER_ERROR = 6, "userError";
        /// `transferCompleted(7)`.
        TRANSFER_COMPLETED = 7, "transferCompleted";
    }
}

named_code! {
    /// `applicationProtocol` of an RTORQ, X.410-1984 mode only: which 1984 protocol runs over
    /// RTS. Value 1 is confirmed by ISODE, Microsoft's X.400 gateway documentation and tshark;
    /// 3 only by an ISODE comment, 12 only by Wireshark; Microsoft's gateway also documents
    /// 8883 for MOTIS P1 (no constant here).
    ApplicationProtocol {
        /// 1: X.411 P1, MTS transfer, 1984 (ISODE `p1`, tshark `mts-transfer-protocol-1984`).
        MTS_TRANSFER_PROTOCOL_1984 = 1, "mts-transfer-protocol-1984";
        /// 3: P3, MTS access (ISODE comment only).
        P3 = 3, "p3";
        /// 12: `mts-transfer-protocol` (Wireshark only).
        MTS_TRANSFER_PROTOCOL = 12, "mts-transfer-protocol";
    }
}

// ---------------------------------------------------------------------------------------------
// Element helpers

fn opt_len<T>(v: &Option<T>, f: impl FnOnce(&T) -> usize) -> usize {
    v.as_ref().map_or(0, f)
}

fn put_opt_int<B: BufMut + ?Sized>(
    buf: &mut B,
    tag: Tag,
    v: Option<i64>,
) -> Result<(), EncodeError> {
    match v {
        Some(v) => ber::put_int(L, buf, tag, v),
        None => Ok(()),
    }
}

fn missing(c: &Ctx, offset: usize, what: &'static str) -> DecodeError {
    c.err(offset, DecodeErrorKind::Missing { what })
}

fn unexpected(c: &Ctx, t: &Tlv<'_>, what: &'static str) -> DecodeError {
    c.err(
        t.offset,
        DecodeErrorKind::UnexpectedCode {
            what,
            code: t.raw.first().copied().unwrap_or(0),
        },
    )
}

/// The contents of a primitive string element.
fn string<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<&'a [u8], DecodeError> {
    ber::primitive(c, t, "constructed string not supported here")
}

/// The one BER value inside an explicit tag (an `ANY` field), all its octets.
fn explicit_any<'a>(c: &Ctx, t: &Tlv<'a>, what: &'static str) -> Result<&'a [u8], DecodeError> {
    let mut r = ber::children(*c, t)?;
    if r.is_empty() {
        return Err(missing(c, t.offset, what));
    }
    let v = r.read()?;
    r.finish(what)?;
    Ok(v.raw)
}

/// Size of `[n] { value }` for an explicit `ANY` holding `raw` (one BER value).
fn explicit_any_len(raw: &[u8]) -> usize {
    ber::tlv_len(Tag::ctx_cons(0), raw.len())
}

fn put_explicit_any<B: BufMut + ?Sized>(
    buf: &mut B,
    n: u32,
    raw: Option<&[u8]>,
) -> Result<(), EncodeError> {
    if let Some(raw) = raw {
        ber::put_header(L, buf, Tag::ctx_cons(n), raw.len())?;
        ber::put_raw(L, buf, raw)?;
    }
    Ok(())
}

/// Reads the one outermost element of `input`, which must be all of it.
fn top<'a>(c: &Ctx, input: &'a [u8], what: &'static str) -> Result<Tlv<'a>, DecodeError> {
    let mut r = Reader::new(*c, input, 0);
    if r.is_empty() {
        return Err(c.err(
            0,
            DecodeErrorKind::Truncated {
                what,
                needed: 1,
                available: 0,
            },
        ));
    }
    let t = r.read()?;
    r.finish(what)?;
    Ok(t)
}

/// Reads the one outermost element of `input` and checks that it has `tag`.
fn top_tagged<'a>(
    c: &Ctx,
    input: &'a [u8],
    tag: Tag,
    what: &'static str,
    wrong: &'static str,
) -> Result<Tlv<'a>, DecodeError> {
    let t = top(c, input, what)?;
    if t.tag != tag {
        return Err(unexpected(c, &t, wrong));
    }
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// ConnectionData and SessionConnectionIdentifier

/// The calling SS-user reference of a [`SessionConnectionIdentifier`] (X.228
/// `CallingSSuserReference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsUserReference<'a> {
    /// `T61String` (`14`), X.410-1984 mode (the 1984 SSAP address).
    T61String(&'a [u8]),
    /// `OCTET STRING` (`04`), normal mode.
    OctetString(&'a [u8]),
}

impl<'a> SsUserReference<'a> {
    /// The reference's octets, whatever its type.
    pub const fn as_bytes(&self) -> &'a [u8] {
        match *self {
            SsUserReference::T61String(b) | SsUserReference::OctetString(b) => b,
        }
    }

    fn tag(&self) -> Tag {
        match self {
            SsUserReference::T61String(_) => T61_STRING,
            SsUserReference::OctetString(_) => OCTET_STRING,
        }
    }
}

/// The session connection a recovering RTORQ / RTOAC refers to (X.228
/// `SessionConnectionIdentifier`): the old connection's calling reference and common
/// reference, as in session PGI 1.
///
/// ```text
///  a1 LL { 14|04 calling-ss-user-reference   17 common-reference (UTCTime)
///          [80 additional-reference-information (T61String)] }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConnectionIdentifier<'a> {
    /// `callingSSuserReference`.
    pub calling_ss_user_reference: SsUserReference<'a>,
    /// `commonReference`: the UTCTime characters, e.g. `b"051001145108Z"`, not checked.
    pub common_reference: &'a [u8],
    /// `additionalReferenceInformation [0] IMPLICIT T61String`.
    pub additional_reference_information: Option<&'a [u8]>,
}

const ADDITIONAL_REFERENCE: Tag = Tag::ctx(0);

impl<'a> SessionConnectionIdentifier<'a> {
    fn decode(c: &Ctx, t: &Tlv<'a>) -> Result<Self, DecodeError> {
        let mut r = ber::children(*c, t)?;
        if r.is_empty() {
            return Err(missing(c, t.offset, "calling ss-user reference"));
        }
        let first = r.read()?;
        let calling_ss_user_reference = match (first.tag.class, first.tag.number) {
            (UNIVERSAL, 20) => SsUserReference::T61String(string(c, &first)?),
            (UNIVERSAL, 4) => SsUserReference::OctetString(string(c, &first)?),
            _ => return Err(unexpected(c, &first, "calling ss-user reference tag")),
        };
        let common_reference = string(c, &r.expect(UNIVERSAL, 23, "common reference")?)?;
        let mut additional_reference_information = None;
        while !r.is_empty() {
            let e = r.read()?;
            if e.tag.is(CONTEXT, 0) {
                additional_reference_information = Some(string(c, &e)?);
            }
        }
        Ok(SessionConnectionIdentifier {
            calling_ss_user_reference,
            common_reference,
            additional_reference_information,
        })
    }

    fn content_len(&self) -> usize {
        let r = self.calling_ss_user_reference;
        ber::tlv_len(r.tag(), r.as_bytes().len())
            .saturating_add(ber::tlv_len(UTC_TIME, self.common_reference.len()))
            .saturating_add(opt_len(&self.additional_reference_information, |a| {
                ber::tlv_len(ADDITIONAL_REFERENCE, a.len())
            }))
    }

    fn encode_content<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let r = self.calling_ss_user_reference;
        ber::put_prim(L, buf, r.tag(), r.as_bytes())?;
        ber::put_prim(L, buf, UTC_TIME, self.common_reference)?;
        if let Some(a) = self.additional_reference_information {
            ber::put_prim(L, buf, ADDITIONAL_REFERENCE, a)?;
        }
        Ok(())
    }
}

/// `ConnectionData` of an RTORQ or RTOAC (X.228): RTSE-user data for a new association, or
/// the session connection to recover.
///
/// ```text
///  [3] (RTORQ) / [2] (RTOAC) explicit:  a3|a2 LL { a0 LL <one BER value>   open
///                                                 | a0 02 80 00            open, no user data
///                                                 | a1 LL {…}              recover }
/// ```
///
/// `open` is `[0] ANY` in a module without `IMPLICIT TAGS`, so its tag is always explicit; X.228's
/// comment "encoded as `[0] IMPLICIT NULL` in the case of absence of RTSE user data" names the
/// type that replaces the `ANY`, giving `a0 02 80 00`. That is what ISODE writes
/// (`rtsap/rt2psinitiat.c`: a constructed `[0]` holding an empty primitive `[0]`) and what
/// tshark's RTSE dissector expects. The bare `80 00` (the whole `open` read as
/// `[0] IMPLICIT NULL`, written by this crate up to 0.x) and an empty `a0 00` are accepted too;
/// the decoders of [`Rtorq`] and [`Rtoac`] say so in their `bare_null_open` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionData<'a> {
    /// `open [0] RTSE-user-data`: the one BER value (tag included), e.g. an X.411 MTA-bind
    /// argument or result; `None` when the peer sent no user data (`a0 02 80 00`; also read
    /// from `80 00` and `a0 00`). `Some(&[0x80, 0x00])` is written like `None` and reads back
    /// as `None`.
    Open(Option<&'a [u8]>),
    /// `recover [1] IMPLICIT SessionConnectionIdentifier`.
    Recover(SessionConnectionIdentifier<'a>),
}

impl<'a> ConnectionData<'a> {
    /// `"open"` or `"recover"`.
    pub const fn name(&self) -> &'static str {
        match self {
            ConnectionData::Open(_) => "open",
            ConnectionData::Recover(_) => "recover",
        }
    }

    /// Decodes the CHOICE inside explicit `t` (`a3` of an RTORQ, `a2` of an RTOAC); the flag
    /// is true when `open` came as the bare `80 00` (tolerated, see the type's docs).
    fn decode(c: &Ctx, t: &Tlv<'a>) -> Result<(Self, bool), DecodeError> {
        let mut r = ber::children(*c, t)?;
        if r.is_empty() {
            return Err(missing(c, t.offset, "connection data"));
        }
        let e = r.read()?;
        r.finish("connection data")?;
        match (e.tag.class, e.tag.number, e.tag.constructed) {
            (CONTEXT, 0, false) if e.content.is_empty() => Ok((ConnectionData::Open(None), true)),
            (CONTEXT, 0, false) => Err(c.ber(e.offset, "open user data: null with contents")),
            (CONTEXT, 0, true) => {
                let mut inner = ber::children(*c, &e)?;
                if inner.is_empty() {
                    return Ok((ConnectionData::Open(None), false));
                }
                let v = inner.read()?;
                inner.finish("open user data")?;
                // X.228's "[0] IMPLICIT NULL" standing for absent RTSE-user data.
                if v.tag.is(CONTEXT, 0) && !v.tag.constructed && v.content.is_empty() {
                    return Ok((ConnectionData::Open(None), false));
                }
                Ok((ConnectionData::Open(Some(v.raw)), false))
            }
            (CONTEXT, 1, true) => Ok((
                ConnectionData::Recover(SessionConnectionIdentifier::decode(c, &e)?),
                false,
            )),
            _ => Err(unexpected(c, &e, "connection data tag")),
        }
    }

    /// Size of the CHOICE element (without the explicit wrapper).
    fn choice_len(&self) -> usize {
        match self {
            ConnectionData::Open(None) => 4,
            ConnectionData::Open(Some(raw)) => explicit_any_len(raw),
            ConnectionData::Recover(s) => ber::tlv_len(Tag::ctx_cons(1), s.content_len()),
        }
    }

    /// Size of the field, wrapper included.
    fn field_len(&self) -> usize {
        ber::tlv_len(Tag::ctx_cons(0), self.choice_len())
    }

    /// Writes the field with its explicit wrapper `[n]`.
    fn encode<B: BufMut + ?Sized>(&self, n: u32, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, Tag::ctx_cons(n), self.choice_len())?;
        match self {
            ConnectionData::Open(None) => {
                ber::put_header(L, buf, Tag::ctx_cons(0), 2)?;
                ber::put_prim(L, buf, Tag::ctx(0), &[])
            }
            ConnectionData::Open(Some(raw)) => put_explicit_any(buf, 0, Some(raw)),
            ConnectionData::Recover(s) => {
                ber::put_header(L, buf, Tag::ctx_cons(1), s.content_len())?;
                s.encode_content(buf)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RTORQ

/// RT-OPEN-REQUEST (X.228 `RTORQapdu`): the initiator's RTS parameters, in the AARQ
/// user-information; in X.410-1984 mode the components are the CP-type's
/// x410-mode-parameters (X.410 `PConnect`).
///
/// ```text
///  b0 LL                                 [16] IMPLICIT SET
///     [80 checkpointSize]                [0] IMPLICIT INTEGER DEFAULT 0 (units of 1024 octets)
///     [81 windowSize]                    [1] IMPLICIT INTEGER DEFAULT 3
///     [82 dialogueMode]                  [2] IMPLICIT INTEGER {monologue(0), twa(1)} DEFAULT monologue
///     a3 LL { a0 open | a1 recover }     [3] connectionDataRQ
///     [84 applicationProtocol]           [4] IMPLICIT INTEGER OPTIONAL (X.410-1984 mode only)
/// ```
#[derive(Debug, Clone, Copy, Eq)]
pub struct Rtorq<'a> {
    /// `checkpointSize`: checkpoint every this many × 1024 octets; 0 = none.
    pub checkpoint_size: Option<i64>,
    /// `windowSize`: unacknowledged checkpoints allowed.
    pub window_size: Option<i64>,
    /// `dialogueMode`.
    pub dialogue_mode: Option<DialogueMode>,
    /// `connectionDataRQ` (mandatory).
    pub connection_data: ConnectionData<'a>,
    /// `applicationProtocol` (X.410-1984 mode; ISODE's `PConnect` makes it DEFAULT p1(1)).
    pub application_protocol: Option<ApplicationProtocol>,
    /// Set by the decoders when `connectionDataRQ` held `open` as a bare `80 00` instead of
    /// `a0 02 80 00` (tolerated; see [`ConnectionData`]); ignored by the encoders and by `==`
    /// (it says how the value was read, not what it is).
    pub bare_null_open: bool,
}

impl PartialEq for Rtorq<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.checkpoint_size == other.checkpoint_size
            && self.window_size == other.window_size
            && self.dialogue_mode == other.dialogue_mode
            && self.connection_data == other.connection_data
            && self.application_protocol == other.application_protocol
    }
}

impl PartialEq for Rtoac<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.checkpoint_size == other.checkpoint_size
            && self.window_size == other.window_size
            && self.connection_data == other.connection_data
    }
}

impl<'a> Rtorq<'a> {
    /// An RTORQ with only the connection data (every other field takes its default).
    pub const fn new(connection_data: ConnectionData<'a>) -> Self {
        Rtorq {
            checkpoint_size: None,
            window_size: None,
            dialogue_mode: None,
            connection_data,
            application_protocol: None,
            bare_null_open: false,
        }
    }

    /// `checkpointSize`, or its default 0.
    pub fn checkpoint_size_or_default(&self) -> i64 {
        self.checkpoint_size.unwrap_or(DEFAULT_CHECKPOINT_SIZE)
    }

    /// `windowSize`, or its default 3.
    pub fn window_size_or_default(&self) -> i64 {
        self.window_size.unwrap_or(DEFAULT_WINDOW_SIZE)
    }

    /// `dialogueMode`, or its default monologue.
    pub fn dialogue_mode_or_default(&self) -> DialogueMode {
        self.dialogue_mode.unwrap_or(DialogueMode::MONOLOGUE)
    }

    /// Decodes an RTORQ APDU (`b0 …`, e.g. the single-ASN1-type value of an AARQ
    /// user-information EXTERNAL); the whole input must be the APDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top_tagged(&c, input, RTORQ, "rtorq-apdu", "tag instead of rtorq-apdu")?;
        Self::from_set(&c, &t)
    }

    /// Decodes the RTORQ components without their SET header: the contents of a CP-type's
    /// `[1]` x410-mode-parameters (see [`Rtorq::from_cp`]). Offsets in errors count from the
    /// first octet of `content`.
    pub fn decode_components(content: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        Self::from_reader(&c, Reader::new(c, content, 0), 0)
    }

    fn from_set(c: &Ctx, t: &Tlv<'a>) -> Result<Self, DecodeError> {
        Self::from_reader(c, ber::children(*c, t)?, t.offset)
    }

    fn from_reader(c: &Ctx, mut r: Reader<'a>, at: usize) -> Result<Self, DecodeError> {
        let mut out = Rtorq::new(ConnectionData::Open(None));
        let mut connection_data = None;
        while !r.is_empty() {
            let e = r.read()?;
            if e.tag.class != CONTEXT {
                continue;
            }
            match e.tag.number {
                0 => out.checkpoint_size = Some(ber::integer(c, &e)?),
                1 => out.window_size = Some(ber::integer(c, &e)?),
                2 => out.dialogue_mode = Some(DialogueMode(ber::integer(c, &e)?)),
                3 => {
                    let (d, bare) = ConnectionData::decode(c, &e)?;
                    connection_data = Some(d);
                    out.bare_null_open = bare;
                }
                4 => out.application_protocol = Some(ApplicationProtocol(ber::integer(c, &e)?)),
                _ => {}
            }
        }
        out.connection_data = connection_data.ok_or_else(|| missing(c, at, "connectionDataRQ"))?;
        Ok(out)
    }

    /// Size of the components (the SET's contents).
    pub fn components_len(&self) -> usize {
        opt_len(&self.checkpoint_size, |v| ber::int_len(Tag::ctx(0), *v))
            .saturating_add(opt_len(&self.window_size, |v| {
                ber::int_len(Tag::ctx(1), *v)
            }))
            .saturating_add(opt_len(&self.dialogue_mode, |v| {
                ber::int_len(Tag::ctx(2), v.0)
            }))
            .saturating_add(self.connection_data.field_len())
            .saturating_add(opt_len(&self.application_protocol, |v| {
                ber::int_len(Tag::ctx(4), v.0)
            }))
    }

    /// Writes the components without the SET header (X.410-1984 mode: the contents of the
    /// CP-type's `[1]`); fails without panicking on a short buffer.
    pub fn encode_components<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_opt_int(buf, Tag::ctx(0), self.checkpoint_size)?;
        put_opt_int(buf, Tag::ctx(1), self.window_size)?;
        put_opt_int(buf, Tag::ctx(2), self.dialogue_mode.map(|v| v.0))?;
        self.connection_data.encode(3, buf)?;
        put_opt_int(buf, Tag::ctx(4), self.application_protocol.map(|v| v.0))
    }

    /// The encoded size of the APDU.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(RTORQ, self.components_len())
    }

    /// Writes the APDU (`b0 …`, definite lengths); fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, RTORQ, self.components_len())?;
        self.encode_components(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// RTOAC

/// RT-OPEN-ACCEPT (X.228 `RTOACapdu`): the responder's RTS parameters, in the user-information
/// of an accepting AARE; in X.410-1984 mode the components are the CPA-PPDU's
/// x410-mode-parameters (X.410 `PAccept`).
///
/// ```text
///  b1 LL                                 [17] IMPLICIT SET
///     [80 checkpointSize]                [0] IMPLICIT INTEGER DEFAULT 0
///     [81 windowSize]                    [1] IMPLICIT INTEGER DEFAULT 3
///     a2 LL { a0 open | a1 recover }     [2] connectionDataAC
/// ```
#[derive(Debug, Clone, Copy, Eq)]
pub struct Rtoac<'a> {
    /// `checkpointSize` the responder accepts (at most the proposal).
    pub checkpoint_size: Option<i64>,
    /// `windowSize` the responder accepts.
    pub window_size: Option<i64>,
    /// `connectionDataAC` (mandatory).
    pub connection_data: ConnectionData<'a>,
    /// Set by the decoders when `connectionDataAC` held `open` as a bare `80 00` instead of
    /// `a0 02 80 00` (tolerated; see [`ConnectionData`]); ignored by the encoders and by `==`
    /// (it says how the value was read, not what it is).
    pub bare_null_open: bool,
}

impl<'a> Rtoac<'a> {
    /// An RTOAC with only the connection data.
    pub const fn new(connection_data: ConnectionData<'a>) -> Self {
        Rtoac {
            checkpoint_size: None,
            window_size: None,
            connection_data,
            bare_null_open: false,
        }
    }

    /// `checkpointSize`, or its default 0.
    pub fn checkpoint_size_or_default(&self) -> i64 {
        self.checkpoint_size.unwrap_or(DEFAULT_CHECKPOINT_SIZE)
    }

    /// `windowSize`, or its default 3.
    pub fn window_size_or_default(&self) -> i64 {
        self.window_size.unwrap_or(DEFAULT_WINDOW_SIZE)
    }

    /// Decodes an RTOAC APDU (`b1 …`); the whole input must be the APDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top_tagged(&c, input, RTOAC, "rtoac-apdu", "tag instead of rtoac-apdu")?;
        Self::from_set(&c, &t)
    }

    /// Decodes the RTOAC components without their SET header: the contents of a CPA-PPDU's
    /// `[1]` x410-mode-parameters (see [`Rtoac::from_cpa`]). Offsets count from `content`.
    pub fn decode_components(content: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        Self::from_reader(&c, Reader::new(c, content, 0), 0)
    }

    fn from_set(c: &Ctx, t: &Tlv<'a>) -> Result<Self, DecodeError> {
        Self::from_reader(c, ber::children(*c, t)?, t.offset)
    }

    fn from_reader(c: &Ctx, mut r: Reader<'a>, at: usize) -> Result<Self, DecodeError> {
        let mut out = Rtoac::new(ConnectionData::Open(None));
        let mut connection_data = None;
        while !r.is_empty() {
            let e = r.read()?;
            if e.tag.class != CONTEXT {
                continue;
            }
            match e.tag.number {
                0 => out.checkpoint_size = Some(ber::integer(c, &e)?),
                1 => out.window_size = Some(ber::integer(c, &e)?),
                2 => {
                    let (d, bare) = ConnectionData::decode(c, &e)?;
                    connection_data = Some(d);
                    out.bare_null_open = bare;
                }
                _ => {}
            }
        }
        out.connection_data = connection_data.ok_or_else(|| missing(c, at, "connectionDataAC"))?;
        Ok(out)
    }

    /// Size of the components (the SET's contents).
    pub fn components_len(&self) -> usize {
        opt_len(&self.checkpoint_size, |v| ber::int_len(Tag::ctx(0), *v))
            .saturating_add(opt_len(&self.window_size, |v| {
                ber::int_len(Tag::ctx(1), *v)
            }))
            .saturating_add(self.connection_data.field_len())
    }

    /// Writes the components without the SET header (X.410-1984 mode: the contents of the
    /// CPA-PPDU's `[1]`).
    pub fn encode_components<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_opt_int(buf, Tag::ctx(0), self.checkpoint_size)?;
        put_opt_int(buf, Tag::ctx(1), self.window_size)?;
        self.connection_data.encode(2, buf)
    }

    /// The encoded size of the APDU.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(RTOAC, self.components_len())
    }

    /// Writes the APDU (`b1 …`); fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, RTOAC, self.components_len())?;
        self.encode_components(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// RTORJ

/// RT-OPEN-REJECT (X.228 `RTORJapdu`): in the user-information of a rejecting AARE; in
/// X.410-1984 mode the components are the CPR-PPDU (X.410 `PRefuse`).
///
/// ```text
///  b2 LL                                 [18] IMPLICIT SET
///     [80 refuseReason]                  [0] IMPLICIT RefuseReason OPTIONAL (X.410-1984 mode only)
///     [a1 LL <one BER value>]            [1] userDataRJ ANY OPTIONAL (normal mode only)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rtorj<'a> {
    /// `refuseReason`.
    pub refuse_reason: Option<RefuseReason>,
    /// `userDataRJ`: the one BER value, tag included (e.g. an X.411 MTA-bind error).
    pub user_data: Option<&'a [u8]>,
}

impl<'a> Rtorj<'a> {
    /// Decodes an RTORJ APDU (`b2 …`); the whole input must be the APDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top_tagged(&c, input, RTORJ, "rtorj-apdu", "tag instead of rtorj-apdu")?;
        Self::from_reader(&c, ber::children(c, &t)?)
    }

    /// Decodes the RTORJ components without their SET header: the contents of an X.410-mode
    /// CPR-PPDU (see [`Rtorj::from_cpr`]). Offsets count from `content`.
    pub fn decode_components(content: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        Self::from_reader(&c, Reader::new(c, content, 0))
    }

    fn from_reader(c: &Ctx, mut r: Reader<'a>) -> Result<Self, DecodeError> {
        let mut out = Rtorj::default();
        while !r.is_empty() {
            let e = r.read()?;
            match (e.tag.class, e.tag.number) {
                (CONTEXT, 0) => out.refuse_reason = Some(RefuseReason(ber::integer(c, &e)?)),
                (CONTEXT, 1) => out.user_data = Some(explicit_any(c, &e, "userDataRJ")?),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Size of the components (the SET's contents).
    pub fn components_len(&self) -> usize {
        opt_len(&self.refuse_reason, |v| ber::int_len(Tag::ctx(0), v.0))
            .saturating_add(opt_len(&self.user_data, |raw| explicit_any_len(raw)))
    }

    /// Writes the components without the SET header (X.410-1984 mode: the contents of the
    /// CPR-PPDU's SET).
    pub fn encode_components<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_opt_int(buf, Tag::ctx(0), self.refuse_reason.map(|v| v.0))?;
        put_explicit_any(buf, 1, self.user_data)
    }

    /// The encoded size of the APDU.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(RTORJ, self.components_len())
    }

    /// Writes the APDU (`b2 …`); fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, RTORJ, self.components_len())?;
        self.encode_components(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// RTAB

/// The octets of a BIT STRING (X.690 §8.6), as carried: unused-bit count and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BitString<'a> {
    /// Unused bits in the last octet (0–7; 0 when `data` is empty).
    pub unused_bits: u8,
    /// The octets; bit 0 is the most significant bit of the first one.
    pub data: &'a [u8],
}

impl<'a> BitString<'a> {
    fn decode(c: &Ctx, t: &Tlv<'a>) -> Result<Self, DecodeError> {
        let content = ber::primitive(c, t, "constructed bit string not supported here")?;
        let (&unused_bits, data) = content
            .split_first()
            .ok_or_else(|| c.ber(t.offset, "empty bit string"))?;
        if unused_bits > 7 || (data.is_empty() && unused_bits != 0) {
            return Err(c.ber(t.offset, "invalid bit string unused-bit count"));
        }
        Ok(BitString { unused_bits, data })
    }

    fn encoded_len(&self, tag: Tag) -> usize {
        ber::tlv_len(tag, self.data.len().saturating_add(1))
    }

    fn encode<B: BufMut + ?Sized>(&self, tag: Tag, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, tag, self.data.len().saturating_add(1))?;
        ber::put_raw(L, buf, &[self.unused_bits])?;
        ber::put_raw(L, buf, self.data)
    }
}

/// RT-ABORT (X.228 `RTABapdu`): in ABRT user-information (or the user data of a normal-mode
/// ARU); in X.410-1984 mode the components are the ARU-PPDU (X.410 `AbortInformation`).
///
/// ```text
///  b6 LL                                 [22] IMPLICIT SET
///     [80 abortReason]                   [0] IMPLICIT AbortReason OPTIONAL
///     [81 reflectedParameter]            [1] IMPLICIT BIT STRING OPTIONAL (≤ 8 bits, with invalidParameter)
///     [a2 LL <one BER value>]            [2] userdataAB ANY OPTIONAL (normal mode, with userError)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rtab<'a> {
    /// `abortReason`.
    pub abort_reason: Option<AbortReason>,
    /// `reflectedParameter`: which parameter was invalid. Longer than 8 bits is accepted.
    pub reflected_parameter: Option<BitString<'a>>,
    /// `userdataAB`: the one BER value, tag included.
    pub user_data: Option<&'a [u8]>,
}

impl<'a> Rtab<'a> {
    /// Decodes an RTAB APDU (`b6 …`); the whole input must be the APDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top_tagged(&c, input, RTAB, "rtab-apdu", "tag instead of rtab-apdu")?;
        Self::from_reader(&c, ber::children(c, &t)?)
    }

    /// [`Rtab::decode`], also accepting ISODE's mis-tagged RTAB: ISODE 8 (`rtsap/rt2ps.c`,
    /// `rt2pslose`) builds its provider-abort RTAB as a constructed UNIVERSAL 22 (`36 …`)
    /// instead of `[22] IMPLICIT SET` (`b6 …`), e.g. `36 03 80 01 04` (protocolError,
    /// `osi2iso-rtse-lib-*` captures). Returns the RTAB and whether it carried ISODE's tag, so
    /// that the caller can report the deviation ([`Rtab::is_isode_mistagged`]).
    ///
    /// ```
    /// use osi_stack::{Limits, rtse::{AbortReason, Rtab}};
    /// let (rtab, isode) = Rtab::decode_tolerant(&[0x36, 0x03, 0x80, 0x01, 0x04], &Limits::DEFAULT)?;
    /// assert_eq!((rtab.abort_reason, isode), (Some(AbortReason::PROTOCOL_ERROR), true));
    /// assert!(Rtab::decode(&[0x36, 0x03, 0x80, 0x01, 0x04], &Limits::DEFAULT).is_err());
    /// # Ok::<(), osi_stack::DecodeError>(())
    /// ```
    pub fn decode_tolerant(input: &'a [u8], limits: &Limits) -> Result<(Self, bool), DecodeError> {
        if !Self::is_isode_mistagged(input) {
            return Self::decode(input, limits).map(|r| (r, false));
        }
        let c = ctx(limits);
        let t = top_tagged(
            &c,
            input,
            ISODE_RTAB,
            "rtab-apdu",
            "tag instead of rtab-apdu",
        )?;
        Self::from_reader(&c, ber::children(c, &t)?).map(|r| (r, true))
    }

    /// Whether `input` starts with ISODE's RTAB tag (`36`, constructed UNIVERSAL 22) rather
    /// than X.228's `b6`.
    pub fn is_isode_mistagged(input: &[u8]) -> bool {
        input.first() == Some(&0x36)
    }

    /// Decodes the RTAB components without their SET header: the contents of an X.410-mode
    /// ARU-PPDU (see [`Rtab::from_abort`]). Offsets count from `content`.
    pub fn decode_components(content: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        Self::from_reader(&c, Reader::new(c, content, 0))
    }

    fn from_reader(c: &Ctx, mut r: Reader<'a>) -> Result<Self, DecodeError> {
        let mut out = Rtab::default();
        while !r.is_empty() {
            let e = r.read()?;
            match (e.tag.class, e.tag.number) {
                (CONTEXT, 0) => out.abort_reason = Some(AbortReason(ber::integer(c, &e)?)),
                (CONTEXT, 1) => out.reflected_parameter = Some(BitString::decode(c, &e)?),
                (CONTEXT, 2) => out.user_data = Some(explicit_any(c, &e, "userdataAB")?),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Size of the components (the SET's contents).
    pub fn components_len(&self) -> usize {
        opt_len(&self.abort_reason, |v| ber::int_len(Tag::ctx(0), v.0))
            .saturating_add(opt_len(&self.reflected_parameter, |b| {
                b.encoded_len(Tag::ctx(1))
            }))
            .saturating_add(opt_len(&self.user_data, |raw| explicit_any_len(raw)))
    }

    /// Writes the components without the SET header (X.410-1984 mode: the contents of the
    /// ARU-PPDU's SET).
    pub fn encode_components<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_opt_int(buf, Tag::ctx(0), self.abort_reason.map(|v| v.0))?;
        if let Some(b) = &self.reflected_parameter {
            b.encode(Tag::ctx(1), buf)?;
        }
        put_explicit_any(buf, 2, self.user_data)
    }

    /// The encoded size of the APDU.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(RTAB, self.components_len())
    }

    /// Writes the APDU (`b6 …`); fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, RTAB, self.components_len())?;
        self.encode_components(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// RTTP

/// RT-TURN-PLEASE (X.228 `RTTPapdu ::= INTEGER`): asks for the turn with a priority, as the
/// User-data of P-TOKEN-PLEASE (session PT). X.410-1984 mode sends the same INTEGER
/// (`Priority`) as the raw S-TOKEN-PLEASE user data.
///
/// ```text
///  02 LL priority
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rttp {
    /// The priority of the request (0 is the highest in X.228's service definition).
    pub priority: i64,
}

impl Rttp {
    /// Decodes an RTTP APDU (`02 …`); the whole input must be the APDU.
    pub fn decode(input: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top_tagged(&c, input, RTTP, "rttp-apdu", "tag instead of rttp-apdu")?;
        Ok(Rttp {
            priority: ber::integer(&c, &t)?,
        })
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        ber::int_len(RTTP, self.priority)
    }

    /// Writes the APDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_int(L, buf, RTTP, self.priority)
    }
}

// ---------------------------------------------------------------------------------------------
// RTTR

#[derive(Clone, Copy)]
enum RttrRepr<'a> {
    /// A primitive OCTET STRING's contents.
    Primitive(&'a [u8]),
    /// A constructed OCTET STRING's contents, segments checked.
    Constructed(&'a [u8]),
}

/// RT-TRANSFER segment (X.228 `RTTRapdu ::= OCTET STRING`): one piece of a transferred APDU,
/// carried by P-DATA on the RTSE context. The receiver concatenates the segments of one
/// activity and decodes the result as one EXTERNAL-wrapped APDU (not done here).
///
/// ```text
///  04 LL <octets>                        primitive
///  24 LL|80 { 04 LL <octets> … } [00 00] constructed (X.690 §8.7.3; segments may nest)
/// ```
///
/// Peers use both forms (the Wireshark-wiki X.400 capture sends `24 80` with three segments).
/// A decoded constructed string keeps its segments ([`Rttr::segments`]); equality compares the
/// concatenated octets, and encoding always writes the primitive form. In X.410-1984 mode the
/// S-DATA user data is the segment itself without an OCTET STRING header: wrap it with
/// [`Rttr::new`].
#[derive(Clone, Copy)]
pub struct Rttr<'a> {
    repr: RttrRepr<'a>,
}

impl<'a> Rttr<'a> {
    /// A segment of the given octets (primitive form).
    pub const fn new(data: &'a [u8]) -> Self {
        Rttr {
            repr: RttrRepr::Primitive(data),
        }
    }

    /// Decodes an RTTR APDU (`04 …` or `24 …`); the whole input must be the APDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top(&c, input, "rttr-apdu")?;
        if !t.tag.is(UNIVERSAL, 4) {
            return Err(unexpected(&c, &t, "tag instead of rttr-apdu"));
        }
        Self::from_tlv(&c, &t)
    }

    fn from_tlv(c: &Ctx, t: &Tlv<'a>) -> Result<Self, DecodeError> {
        ber::check_string_segments(c, t, 4, "octet string segment of another type")?;
        Ok(Rttr {
            repr: if t.tag.constructed {
                RttrRepr::Constructed(t.content)
            } else {
                RttrRepr::Primitive(t.content)
            },
        })
    }

    /// Whether the string arrived in the constructed form.
    pub const fn is_constructed(&self) -> bool {
        matches!(self.repr, RttrRepr::Constructed(_))
    }

    /// The octets as one slice, when they are one on the wire (the primitive form).
    pub const fn as_slice(&self) -> Option<&'a [u8]> {
        match self.repr {
            RttrRepr::Primitive(b) => Some(b),
            RttrRepr::Constructed(_) => None,
        }
    }

    /// The octets, in order, as the slices they arrived in (one for the primitive form).
    pub fn segments(&self) -> RttrSegments<'a> {
        RttrSegments {
            inner: match self.repr {
                RttrRepr::Primitive(b) => SegmentsInner::One(Some(b)),
                RttrRepr::Constructed(b) => SegmentsInner::Many(ber::Segments::new(b)),
            },
        }
    }

    /// Number of octets of the transferred data.
    pub fn len(&self) -> usize {
        self.segments()
            .fold(0usize, |acc, s| acc.saturating_add(s.len()))
    }

    /// Whether the segment carries no octets.
    pub fn is_empty(&self) -> bool {
        self.segments().all(<[u8]>::is_empty)
    }

    /// The encoded size (primitive form).
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(OCTET_STRING, self.len())
    }

    /// Writes the APDU as a primitive OCTET STRING; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, OCTET_STRING, self.len())?;
        for s in self.segments() {
            ber::put_raw(L, buf, s)?;
        }
        Ok(())
    }
}

impl PartialEq for Rttr<'_> {
    fn eq(&self, other: &Self) -> bool {
        let a = self.segments().flat_map(|s| s.iter());
        let b = other.segments().flat_map(|s| s.iter());
        a.eq(b)
    }
}

impl Eq for Rttr<'_> {}

impl fmt::Debug for Rttr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rttr")
            .field("constructed", &self.is_constructed())
            .field("segments", &SegmentList(self.segments()))
            .finish()
    }
}

/// Debug helper: prints segments without allocating.
struct SegmentList<'a>(RttrSegments<'a>);

impl fmt::Debug for SegmentList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

#[derive(Debug, Clone)]
enum SegmentsInner<'a> {
    One(Option<&'a [u8]>),
    Many(ber::Segments<'a>),
}

/// Iterator over the segments of an [`Rttr`].
#[derive(Debug, Clone)]
pub struct RttrSegments<'a> {
    inner: SegmentsInner<'a>,
}

impl<'a> Iterator for RttrSegments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match &mut self.inner {
            SegmentsInner::One(b) => b.take(),
            SegmentsInner::Many(s) => s.next(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RTSE-apdus

/// Any RTSE APDU (X.228 `RTSE-apdus`), told apart by its tag.
///
/// ```
/// use osi_stack::Limits;
/// use osi_stack::rtse::{Apdu, ConnectionData, DialogueMode};
///
/// // The RTORQ of the Wireshark wiki's x400-ping-refuse capture, MTA-bind shortened to NULL.
/// let bytes = [0xb0, 0x0c, 0x80, 0x01, 0x3f, 0x82, 0x01, 0x00, 0xa3, 0x04, 0xa0, 0x02, 0x05, 0x00];
/// let Apdu::Rtorq(rq) = Apdu::decode(&bytes, &Limits::default())? else { panic!() };
/// assert_eq!(rq.checkpoint_size, Some(63));
/// assert_eq!(rq.window_size_or_default(), 3);
/// assert_eq!(rq.dialogue_mode_or_default(), DialogueMode::MONOLOGUE);
/// assert_eq!(rq.connection_data, ConnectionData::Open(Some(&[0x05, 0x00][..])));
/// let mut out = Vec::new();
/// rq.encode(&mut out)?;
/// assert_eq!(out, bytes);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apdu<'a> {
    /// `rtorq-apdu [16]` (`b0`).
    Rtorq(Rtorq<'a>),
    /// `rtoac-apdu [17]` (`b1`).
    Rtoac(Rtoac<'a>),
    /// `rtorj-apdu [18]` (`b2`).
    Rtorj(Rtorj<'a>),
    /// `rttp-apdu` INTEGER (`02`).
    Rttp(Rttp),
    /// `rttr-apdu` OCTET STRING (`04` / `24`).
    Rttr(Rttr<'a>),
    /// `rtab-apdu [22]` (`b6`).
    Rtab(Rtab<'a>),
}

impl<'a> Apdu<'a> {
    /// Decodes one APDU of any type; the whole input must be the APDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let t = top(&c, input, "rtse apdu")?;
        match (t.tag.class, t.tag.number, t.tag.constructed) {
            (CONTEXT, 16, true) => Ok(Apdu::Rtorq(Rtorq::from_set(&c, &t)?)),
            (CONTEXT, 17, true) => Ok(Apdu::Rtoac(Rtoac::from_set(&c, &t)?)),
            (CONTEXT, 18, true) => Ok(Apdu::Rtorj(Rtorj::from_reader(&c, ber::children(c, &t)?)?)),
            (CONTEXT, 22, true) => Ok(Apdu::Rtab(Rtab::from_reader(&c, ber::children(c, &t)?)?)),
            (UNIVERSAL, 2, false) => Ok(Apdu::Rttp(Rttp {
                priority: ber::integer(&c, &t)?,
            })),
            (UNIVERSAL, 4, _) => Ok(Apdu::Rttr(Rttr::from_tlv(&c, &t)?)),
            _ => Err(unexpected(&c, &t, "rtse apdu tag")),
        }
    }

    /// The APDU's abbreviation: `"RTORQ"`, `"RTOAC"`, `"RTORJ"`, `"RTTP"`, `"RTTR"` or `"RTAB"`.
    pub const fn name(&self) -> &'static str {
        match self {
            Apdu::Rtorq(_) => "RTORQ",
            Apdu::Rtoac(_) => "RTOAC",
            Apdu::Rtorj(_) => "RTORJ",
            Apdu::Rttp(_) => "RTTP",
            Apdu::Rttr(_) => "RTTR",
            Apdu::Rtab(_) => "RTAB",
        }
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        match self {
            Apdu::Rtorq(a) => a.encoded_len(),
            Apdu::Rtoac(a) => a.encoded_len(),
            Apdu::Rtorj(a) => a.encoded_len(),
            Apdu::Rttp(a) => a.encoded_len(),
            Apdu::Rttr(a) => a.encoded_len(),
            Apdu::Rtab(a) => a.encoded_len(),
        }
    }

    /// Writes the APDU with definite lengths; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        match self {
            Apdu::Rtorq(a) => a.encode(buf),
            Apdu::Rtoac(a) => a.encode(buf),
            Apdu::Rtorj(a) => a.encode(buf),
            Apdu::Rttp(a) => a.encode(buf),
            Apdu::Rttr(a) => a.encode(buf),
            Apdu::Rtab(a) => a.encode(buf),
        }
    }
}

impl<'a> From<Rtorq<'a>> for Apdu<'a> {
    fn from(v: Rtorq<'a>) -> Self {
        Apdu::Rtorq(v)
    }
}

impl<'a> From<Rtoac<'a>> for Apdu<'a> {
    fn from(v: Rtoac<'a>) -> Self {
        Apdu::Rtoac(v)
    }
}

impl<'a> From<Rtorj<'a>> for Apdu<'a> {
    fn from(v: Rtorj<'a>) -> Self {
        Apdu::Rtorj(v)
    }
}

impl From<Rttp> for Apdu<'_> {
    fn from(v: Rttp) -> Self {
        Apdu::Rttp(v)
    }
}

impl<'a> From<Rttr<'a>> for Apdu<'a> {
    fn from(v: Rttr<'a>) -> Self {
        Apdu::Rttr(v)
    }
}

impl<'a> From<Rtab<'a>> for Apdu<'a> {
    fn from(v: Rtab<'a>) -> Self {
        Apdu::Rtab(v)
    }
}
