//! PPDU types, decoders and encoders (X.226 §8.2).

use bytes::BufMut;

use crate::ber::{
    self, APPLICATION, CONTEXT, Ctx, Reader, Tag, Tlv, UNIVERSAL, bit_set, int_code, quick_tlv,
    quick_tlv_of, seq_of, trusted_int,
};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;
use crate::oid::Oid;

use super::ContextId;

const L: Layer = Layer::Presentation;

fn ctx(limits: &Limits) -> Ctx {
    Ctx {
        layer: L,
        max_depth: limits.max_ber_depth,
    }
}

// ---------------------------------------------------------------------------------------------
// Codes and bit sets

int_code! {
    /// Mode-selector mode-value (X.226 §8.2, `Mode-selector`).
    Mode {
        /// `x410-1984-mode(0)`: the PPDUs are the X.410 (1984) RTS PDUs.
        X410_1984 = 0,
        /// `normal-mode(1)`.
        NORMAL = 1,
    }
}

int_code! {
    /// Result of one presentation context (X.226 §8.2, `Result`); also the CPR
    /// default-context-result.
    ContextResultCode {
        /// `acceptance(0)`.
        ACCEPTANCE = 0,
        /// `user-rejection(1)`.
        USER_REJECTION = 1,
        /// `provider-rejection(2)`.
        PROVIDER_REJECTION = 2,
    }
}

int_code! {
    /// Result of deleting one presentation context (X.226 §8.2,
    /// `Presentation-context-deletion-result-list`).
    DeletionResult {
        /// `acceptance(0)`.
        ACCEPTANCE = 0,
        /// `user-rejection(1)`.
        USER_REJECTION = 1,
    }
}

int_code! {
    /// Provider reason for rejecting one context (X.226 §8.2, `Result-list` provider-reason).
    ContextProviderReason {
        /// `reason-not-specified(0)`.
        REASON_NOT_SPECIFIED = 0,
        /// `abstract-syntax-not-supported(1)`.
        ABSTRACT_SYNTAX_NOT_SUPPORTED = 1,
        /// `proposed-transfer-syntaxes-not-supported(2)`.
        PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2,
        /// `local-limit-on-DCS-exceeded(3)`.
        LOCAL_LIMIT_ON_DCS_EXCEEDED = 3,
    }
}

int_code! {
    /// Provider reason of a CPR-PPDU (X.226 §8.2, `Provider-reason`).
    ProviderReason {
        /// `reason-not-specified(0)`.
        REASON_NOT_SPECIFIED = 0,
        /// `temporary-congestion(1)`.
        TEMPORARY_CONGESTION = 1,
        /// `local-limit-exceeded(2)`.
        LOCAL_LIMIT_EXCEEDED = 2,
        /// `called-presentation-address-unknown(3)`.
        CALLED_PRESENTATION_ADDRESS_UNKNOWN = 3,
        /// `protocol-version-not-supported(4)`.
        PROTOCOL_VERSION_NOT_SUPPORTED = 4,
        /// `default-context-not-supported(5)`.
        DEFAULT_CONTEXT_NOT_SUPPORTED = 5,
        /// `user-data-not-readable(6)`.
        USER_DATA_NOT_READABLE = 6,
        /// `no-PSAP-available(7)`.
        NO_PSAP_AVAILABLE = 7,
    }
}

int_code! {
    /// Abort reason of an ARP-PPDU (X.226 §8.2, `Abort-reason`).
    AbortReason {
        /// `reason-not-specified(0)`.
        REASON_NOT_SPECIFIED = 0,
        /// `unrecognized-ppdu(1)`.
        UNRECOGNIZED_PPDU = 1,
        /// `unexpected-ppdu(2)`.
        UNEXPECTED_PPDU = 2,
        /// `unexpected-session-service-primitive(3)`.
        UNEXPECTED_SESSION_SERVICE_PRIMITIVE = 3,
        /// `unrecognized-ppdu-parameter(4)`.
        UNRECOGNIZED_PPDU_PARAMETER = 4,
        /// `unexpected-ppdu-parameter(5)`.
        UNEXPECTED_PPDU_PARAMETER = 5,
        /// `invalid-ppdu-parameter-value(6)`.
        INVALID_PPDU_PARAMETER_VALUE = 6,
    }
}

int_code! {
    /// Event identifier of an ARP-PPDU (X.226 §8.2, `Event-identifier`; values 0–32, the
    /// common ones named here).
    EventIdentifier {
        /// `cp-PPDU(0)`.
        CP = 0,
        /// `cpa-PPDU(1)`.
        CPA = 1,
        /// `cpr-PPDU(2)`.
        CPR = 2,
        /// `aru-PPDU(3)`.
        ARU = 3,
        /// `arp-PPDU(4)`.
        ARP = 4,
        /// `ac-PPDU(5)`.
        AC = 5,
        /// `aca-PPDU(6)`.
        ACA = 6,
        /// `td-PPDU(7)`.
        TD = 7,
        /// `ttd-PPDU(8)`.
        TTD = 8,
        /// `rs-PPDU(12)`.
        RS = 12,
        /// `rsa-PPDU(13)`.
        RSA = 13,
        /// `s-release-indication(14)`.
        S_RELEASE_INDICATION = 14,
        /// `s-release-confirm(15)`.
        S_RELEASE_CONFIRM = 15,
    }
}

bit_set! {
    /// Protocol-version (X.226 §8.2); only `version-1(0)` exists. Absent means version 1.
    ProtocolVersion {
        /// `version-1(0)`.
        VERSION_1 = 0,
    }
}

bit_set! {
    /// Presentation-requirements (X.226 §8.2); the kernel is the empty set.
    PresentationRequirements {
        /// `context-management(0)`.
        CONTEXT_MANAGEMENT = 0,
        /// `restoration(1)`.
        RESTORATION = 1,
    }
}

bit_set! {
    /// User-session-requirements (X.226 §8.2); ASN.1 bit n is session PI 20 bit n+1.
    UserSessionRequirements {
        /// `half-duplex(0)`.
        HALF_DUPLEX = 0,
        /// `duplex(1)`.
        DUPLEX = 1,
        /// `expedited-data(2)`.
        EXPEDITED_DATA = 2,
        /// `minor-synchronize(3)`.
        MINOR_SYNCHRONIZE = 3,
        /// `major-synchronize(4)`.
        MAJOR_SYNCHRONIZE = 4,
        /// `resynchronize(5)`.
        RESYNCHRONIZE = 5,
        /// `activity-management(6)`.
        ACTIVITY_MANAGEMENT = 6,
        /// `negotiated-release(7)`.
        NEGOTIATED_RELEASE = 7,
        /// `capability-data(8)`.
        CAPABILITY_DATA = 8,
        /// `exceptions(9)`.
        EXCEPTIONS = 9,
        /// `typed-data(10)`.
        TYPED_DATA = 10,
        /// `symmetric-synchronize(11)`.
        SYMMETRIC_SYNCHRONIZE = 11,
        /// `data-separation(12)`.
        DATA_SEPARATION = 12,
    }
}

// ---------------------------------------------------------------------------------------------
// Element helpers

fn int_of(c: &Ctx, t: &Tlv<'_>) -> Result<i64, DecodeError> {
    ber::integer(c, t)
}

fn octets<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<&'a [u8], DecodeError> {
    ber::primitive(c, t, "constructed octet string not supported here")
}

fn opt_len<T>(v: &Option<T>, f: impl FnOnce(&T) -> usize) -> usize {
    v.as_ref().map_or(0, f)
}

fn prim_len(tag: Tag, bytes: &[u8]) -> usize {
    ber::tlv_len(tag, bytes.len())
}

fn put_opt_prim<B: BufMut + ?Sized>(
    buf: &mut B,
    tag: Tag,
    v: Option<&[u8]>,
) -> Result<(), EncodeError> {
    match v {
        Some(b) => ber::put_prim(L, buf, tag, b),
        None => Ok(()),
    }
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

fn put_opt_bits<B: BufMut + ?Sized>(
    buf: &mut B,
    tag: Tag,
    v: Option<u32>,
) -> Result<(), EncodeError> {
    match v {
        Some(v) => ber::put_bits(L, buf, tag, v),
        None => Ok(()),
    }
}

fn top<'a>(
    c: Ctx,
    input: &'a [u8],
    what: &'static str,
) -> Result<(Tlv<'a>, Reader<'a>), DecodeError> {
    let mut r = Reader::new(c, input, 0);
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
    Ok((t, r))
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

// ---------------------------------------------------------------------------------------------
// Lists

fn decode_oid_item<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<Oid<'a>, DecodeError> {
    if t.tag != Tag::OID {
        return Err(unexpected(c, t, "tag instead of object identifier"));
    }
    ber::oid(c, t)
}

fn oid_item_len(o: &Oid<'_>) -> usize {
    prim_len(Tag::OID, o.as_bytes())
}

fn put_oid_item<B: BufMut + ?Sized>(o: &Oid<'_>, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_prim(L, buf, Tag::OID, o.as_bytes())
}

/// [`decode_oid_item`] of an element that it already accepted (see `seq_of!`, `trusted`).
#[inline]
fn trusted_oid_item<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<Oid<'a>, DecodeError> {
    if t.tag == Tag::OID {
        return Ok(Oid::checked(t.content));
    }
    decode_oid_item(c, t)
}

/// [`trusted_oid_item`] from an element's identifier and contents (`seq_of!`, `quick`).
#[inline(always)]
fn quick_oid_item<'a>(_: &Ctx, id: u8, content: &'a [u8], _: usize, _: usize) -> Option<Oid<'a>> {
    (id == 0x06).then_some(Oid::checked(content))
}

seq_of! {
    /// `SEQUENCE OF OBJECT IDENTIFIER`: a transfer-syntax-name list (X.226 §8.2) or an ACSE
    /// application-context-name list (X.227 §9.1).
    OidList, OidIter, Oid, decode_oid_item, trusted trusted_oid_item, quick quick_oid_item, oid_item_len, put_oid_item
}

/// An `OidList` of `content` (absolute `base`, elements at `depth`) whose elements are all
/// `06 LL` in the forms of [`quick_tlv`] with contents [`Oid::new`] accepts, at most `max`:
/// what [`OidList::decode`] checks (`None` otherwise, for the general decoder to decide).
#[inline]
pub(crate) fn quick_oid_list<'a>(
    content: &'a [u8],
    base: usize,
    depth: usize,
    c: Ctx,
    max: usize,
) -> Option<OidList<'a>> {
    let mut b = content;
    let mut n = 0usize;
    while !b.is_empty() {
        let (_, oid, r) = quick_tlv_of(b, 0x06)?;
        n = n.wrapping_add(1);
        if n > max {
            return None;
        }
        Oid::new(oid).ok()?;
        b = r;
    }
    Some(OidList::checked(content, base, depth, c))
}

/// One entry of a presentation context definition list (X.226 §8.2, `Context-list`).
///
/// ```text
///  30 { 02 id   06 abstract-syntax   30 { 06 transfer-syntax … } }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextDefinition<'a> {
    /// Presentation-context-identifier (odd, chosen by the initiator, §6.2.2.7).
    pub id: ContextId,
    /// Abstract-syntax-name.
    pub abstract_syntax: Oid<'a>,
    /// Transfer-syntax-name-list.
    pub transfer_syntaxes: OidList<'a>,
}

fn decode_context_def<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<ContextDefinition<'a>, DecodeError> {
    // The common shape, every element in the forms of `quick_tlv`, checked in one pass; any
    // doubt goes to the general decoder below, which finds the same value or names the fault.
    if t.tag == Tag::SEQUENCE && t.depth.saturating_add(2) <= c.max_depth {
        if let Some(d) = quick_context_def(c, t) {
            if Oid::new(d.abstract_syntax.as_bytes()).is_ok()
                && quick_oid_items(d.transfer_syntaxes)
            {
                return Ok(d);
            }
        }
    }
    decode_context_def_general(c, t)
}

/// Whether every element of a list built by [`quick_context_def`] is `06 LL` in the forms
/// of [`quick_tlv`] with contents [`Oid::new`] accepts: what [`OidList::decode`] checks.
#[inline(always)]
fn quick_oid_items(l: OidList<'_>) -> bool {
    let ber::SeqRepr::Encoded { mut content, .. } = l.repr else {
        return false;
    };
    while !content.is_empty() {
        let Some((_, oid, rest)) = quick_tlv_of(content, 0x06) else {
            return false;
        };
        if Oid::new(oid).is_err() {
            return false;
        }
        content = rest;
    }
    true
}

#[inline(never)]
fn decode_context_def_general<'a>(
    c: &Ctx,
    t: &Tlv<'a>,
) -> Result<ContextDefinition<'a>, DecodeError> {
    if t.tag != Tag::SEQUENCE {
        return Err(unexpected(c, t, "tag instead of context definition"));
    }
    let mut r = ber::children(*c, t)?;
    let id = ContextId::decode(
        c,
        &r.expect(UNIVERSAL, 2, "presentation context identifier")?,
    )?;
    let abstract_syntax = ber::oid(c, &r.expect(UNIVERSAL, 6, "abstract syntax name")?)?;
    let ts = r.expect(UNIVERSAL, 16, "transfer syntax name list")?;
    let transfer_syntaxes = OidList::decode(c, &ts, None)?;
    r.finish("context definition")?;
    Ok(ContextDefinition {
        id,
        abstract_syntax,
        transfer_syntaxes,
    })
}

/// [`decode_context_def`] of an element that it already accepted (see `seq_of!`, `trusted`):
/// the common shape `30 { 02 id  06 oid  30 {…} }`, every element in the forms of
/// [`quick_tlv`], is read without repeating the checks; anything else is decoded again.
#[inline]
fn trusted_context_def<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<ContextDefinition<'a>, DecodeError> {
    match quick_context_def(c, t) {
        Some(d) => Ok(d),
        None => decode_context_def_general(c, t),
    }
}

#[inline(always)]
fn quick_context_def<'a>(c: &Ctx, t: &Tlv<'a>) -> Option<ContextDefinition<'a>> {
    quick_context_def_at(c, t.content, t.content_offset, t.depth)
}

/// [`trusted_context_def`] from an element's identifier, contents and place (`seq_of!`,
/// `quick`): the common shape only.
#[inline(always)]
fn quick_context_item<'a>(
    c: &Ctx,
    id: u8,
    content: &'a [u8],
    content_offset: usize,
    depth: usize,
) -> Option<ContextDefinition<'a>> {
    if id != 0x30 {
        return None;
    }
    quick_context_def_at(c, content, content_offset, depth)
}

/// The definition `30 { 02 id  06 oid  30 {…} }` whose contents `content` start at absolute
/// `content_offset`, the definition at `depth`.
#[inline(always)]
fn quick_context_def_at<'a>(
    c: &Ctx,
    content: &'a [u8],
    content_offset: usize,
    depth: usize,
) -> Option<ContextDefinition<'a>> {
    let (_, id, after_id) = quick_tlv_of(content, 0x02)?;
    let (_, abstract_syntax, ts_tlv) = quick_tlv_of(after_id, 0x06)?;
    let (ts_header, ts, []) = quick_tlv_of(ts_tlv, 0x30)? else {
        return None;
    };
    let ts_offset = content.len().checked_sub(ts_tlv.len())?;
    Some(ContextDefinition {
        id: trusted_int(id).and_then(ContextId::new)?,
        abstract_syntax: Oid::checked(abstract_syntax),
        transfer_syntaxes: OidList {
            repr: ber::SeqRepr::Encoded {
                content: ts,
                base: content_offset
                    .saturating_add(ts_offset)
                    .saturating_add(ts_header),
                // The definition's children are one level below it, the list's one more.
                depth: depth.saturating_add(2),
                ctx: *c,
                first: (),
            },
        },
    })
}

fn context_def_content_len(d: &ContextDefinition<'_>) -> usize {
    d.id.int_len(Tag::INTEGER)
        .saturating_add(oid_item_len(&d.abstract_syntax))
        .saturating_add(ber::tlv_len(
            Tag::SEQUENCE,
            d.transfer_syntaxes.content_len(),
        ))
}

fn context_def_len(d: &ContextDefinition<'_>) -> usize {
    ber::tlv_len(Tag::SEQUENCE, context_def_content_len(d))
}

fn put_context_def<B: BufMut + ?Sized>(
    d: &ContextDefinition<'_>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::SEQUENCE, context_def_content_len(d))?;
    ber::put_int(L, buf, Tag::INTEGER, d.id.get())?;
    put_oid_item(&d.abstract_syntax, buf)?;
    ber::put_header(L, buf, Tag::SEQUENCE, d.transfer_syntaxes.content_len())?;
    d.transfer_syntaxes.encode_content(buf)
}

seq_of! {
    /// Presentation-context-definition-list of a CP-PPDU (X.226 §8.2, `Context-list`).
    ContextList, ContextIter, ContextDefinition, decode_context_def, trusted trusted_context_def, quick quick_context_item, context_def_len, put_context_def
}

/// One entry of a presentation context definition result list (X.226 §8.2, `Result-list`).
///
/// ```text
///  30 { 80 result   [81 transfer-syntax]   [82 provider-reason] }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextResult<'a> {
    /// Result: acceptance, user-rejection or provider-rejection.
    pub result: ContextResultCode,
    /// Transfer-syntax-name chosen (present iff accepted).
    pub transfer_syntax: Option<Oid<'a>>,
    /// Provider-reason (only with provider-rejection).
    pub provider_reason: Option<ContextProviderReason>,
}

fn decode_context_result<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<ContextResult<'a>, DecodeError> {
    if t.tag != Tag::SEQUENCE {
        return Err(unexpected(c, t, "tag instead of context result"));
    }
    let mut r = ber::children(*c, t)?;
    let result = ContextResultCode(int_of(c, &r.expect(CONTEXT, 0, "context result")?)?);
    let mut out = ContextResult {
        result,
        transfer_syntax: None,
        provider_reason: None,
    };
    while !r.is_empty() {
        let e = r.read()?;
        match (e.tag.class, e.tag.number) {
            (CONTEXT, 1) => out.transfer_syntax = Some(ber::oid(c, &e)?),
            (CONTEXT, 2) => out.provider_reason = Some(ContextProviderReason(int_of(c, &e)?)),
            _ => {}
        }
    }
    Ok(out)
}

fn context_result_content_len(d: &ContextResult<'_>) -> usize {
    ber::int_len(Tag::ctx(0), d.result.0)
        .saturating_add(opt_len(&d.transfer_syntax, |o| {
            prim_len(Tag::ctx(1), o.as_bytes())
        }))
        .saturating_add(opt_len(&d.provider_reason, |p| {
            ber::int_len(Tag::ctx(2), p.0)
        }))
}

fn context_result_len(d: &ContextResult<'_>) -> usize {
    ber::tlv_len(Tag::SEQUENCE, context_result_content_len(d))
}

fn put_context_result<B: BufMut + ?Sized>(
    d: &ContextResult<'_>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::SEQUENCE, context_result_content_len(d))?;
    ber::put_int(L, buf, Tag::ctx(0), d.result.0)?;
    put_opt_prim(buf, Tag::ctx(1), d.transfer_syntax.map(|o| o.as_bytes()))?;
    put_opt_int(buf, Tag::ctx(2), d.provider_reason.map(|p| p.0))
}

seq_of! {
    /// Presentation-context-definition-result-list of a CPA or CPR (X.226 §8.2,
    /// `Result-list`): one entry per proposed context, in the same order.
    ResultList, ResultIter, ContextResult, decode_context_result, context_result_len, put_context_result
}

/// One entry of a presentation-context-identifier-list (X.226 §8.2, ARU-PPDU, RS-PPDU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextIdentification<'a> {
    /// Presentation-context-identifier.
    pub id: ContextId,
    /// Transfer-syntax-name in use for the context.
    pub transfer_syntax: Oid<'a>,
}

fn decode_context_id<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<ContextIdentification<'a>, DecodeError> {
    if t.tag != Tag::SEQUENCE {
        return Err(unexpected(c, t, "tag instead of context identification"));
    }
    let mut r = ber::children(*c, t)?;
    let id = ContextId::decode(
        c,
        &r.expect(UNIVERSAL, 2, "presentation context identifier")?,
    )?;
    let transfer_syntax = ber::oid(c, &r.expect(UNIVERSAL, 6, "transfer syntax name")?)?;
    r.finish("context identification")?;
    Ok(ContextIdentification {
        id,
        transfer_syntax,
    })
}

fn context_id_content_len(d: &ContextIdentification<'_>) -> usize {
    d.id.int_len(Tag::INTEGER)
        .saturating_add(oid_item_len(&d.transfer_syntax))
}

fn context_id_len(d: &ContextIdentification<'_>) -> usize {
    ber::tlv_len(Tag::SEQUENCE, context_id_content_len(d))
}

fn put_context_id<B: BufMut + ?Sized>(
    d: &ContextIdentification<'_>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::SEQUENCE, context_id_content_len(d))?;
    ber::put_int(L, buf, Tag::INTEGER, d.id.get())?;
    put_oid_item(&d.transfer_syntax, buf)
}

seq_of! {
    /// Presentation-context-identifier-list of an ARU-PPDU, RS-PPDU or RSA-PPDU (X.226 §8.2):
    /// each context in use with its transfer syntax.
    ContextIdList, ContextIdIter, ContextIdentification, decode_context_id, context_id_len, put_context_id
}

fn decode_plain_int(c: &Ctx, t: &Tlv<'_>, what: &'static str) -> Result<i64, DecodeError> {
    if t.tag != Tag::INTEGER {
        return Err(unexpected(c, t, what));
    }
    int_of(c, t)
}

fn decode_deletion(c: &Ctx, t: &Tlv<'_>) -> Result<ContextId, DecodeError> {
    if t.tag != Tag::INTEGER {
        return Err(unexpected(
            c,
            t,
            "tag instead of presentation context identifier",
        ));
    }
    ContextId::decode(c, t)
}

fn deletion_len(v: &ContextId) -> usize {
    v.int_len(Tag::INTEGER)
}

fn put_deletion<B: BufMut + ?Sized>(v: &ContextId, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_int(L, buf, Tag::INTEGER, v.get())
}

fn plain_int_len(v: &i64) -> usize {
    ber::int_len(Tag::INTEGER, *v)
}

fn put_plain_int<B: BufMut + ?Sized>(v: &i64, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_int(L, buf, Tag::INTEGER, *v)
}

seq_of! {
    /// Presentation-context-deletion-list of an AC-PPDU (X.226 §8.2): the identifiers of the
    /// contexts to delete, `SEQUENCE OF INTEGER`.
    ///
    /// ```text
    ///  a1 LL { 02 01 03   02 01 05 … }
    /// ```
    DeletionList, DeletionIter, copy ContextId, decode_deletion, deletion_len, put_deletion
}

fn decode_deletion_result(c: &Ctx, t: &Tlv<'_>) -> Result<DeletionResult, DecodeError> {
    decode_plain_int(c, t, "tag instead of deletion result").map(DeletionResult)
}

fn deletion_result_len(v: &DeletionResult) -> usize {
    plain_int_len(&v.0)
}

fn put_deletion_result<B: BufMut + ?Sized>(
    v: &DeletionResult,
    buf: &mut B,
) -> Result<(), EncodeError> {
    put_plain_int(&v.0, buf)
}

seq_of! {
    /// Presentation-context-deletion-result-list of an ACA-PPDU (X.226 §8.2): one result per
    /// context of the AC's deletion list, in the same order, `SEQUENCE OF INTEGER`.
    ///
    /// ```text
    ///  a1 LL { 02 01 00   02 01 01 … }
    /// ```
    DeletionResultList, DeletionResultIter, copy DeletionResult, decode_deletion_result, deletion_result_len, put_deletion_result
}

// ---------------------------------------------------------------------------------------------
// PDVs

/// The presentation-data-values of a PDV-list, or the encoding of an EXTERNAL (X.226 §8.2,
/// X.690 §8.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdvValues<'a> {
    /// `single-ASN1-type [0]`: exactly one BER value (all its octets, tag included).
    SingleAsn1Type(&'a [u8]),
    /// `octet-aligned [1] IMPLICIT OCTET STRING`, primitive.
    OctetAligned(&'a [u8]),
    /// `octet-aligned`, constructed form: the raw content octets (nested OCTET STRING segments).
    OctetAlignedSegments(&'a [u8]),
    /// `arbitrary [2] IMPLICIT BIT STRING`.
    Arbitrary {
        /// Unused bits in the last octet (0–7, 0 when `data` is empty).
        unused_bits: u8,
        /// The bit string's octets.
        data: &'a [u8],
    },
}

pub(crate) fn decode_pdv_values<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<PdvValues<'a>, DecodeError> {
    match (t.tag.class, t.tag.number, t.tag.constructed) {
        (CONTEXT, 0, _) => {
            let mut r = ber::children(*c, t)?;
            if r.is_empty() {
                return Err(c.err(
                    t.offset,
                    DecodeErrorKind::Missing {
                        what: "single-asn1-type value",
                    },
                ));
            }
            let v = r.read()?;
            r.finish("single-asn1-type value")?;
            Ok(PdvValues::SingleAsn1Type(v.raw))
        }
        (CONTEXT, 1, false) => Ok(PdvValues::OctetAligned(t.content)),
        (CONTEXT, 1, true) => {
            // Check the segments' structure now, so iterating them later cannot fail.
            let mut r = ber::children(*c, t)?;
            while !r.is_empty() {
                r.read()?;
            }
            Ok(PdvValues::OctetAlignedSegments(t.content))
        }
        (CONTEXT, 2, false) => {
            let (&unused_bits, data) = t
                .content
                .split_first()
                .ok_or_else(|| c.ber(t.offset, "empty bit string"))?;
            if unused_bits > 7 || (data.is_empty() && unused_bits != 0) {
                return Err(c.ber(t.offset, "invalid bit string unused-bit count"));
            }
            Ok(PdvValues::Arbitrary { unused_bits, data })
        }
        _ => Err(unexpected(c, t, "presentation data values tag")),
    }
}

pub(crate) fn pdv_values_len(v: &PdvValues<'_>) -> usize {
    match v {
        PdvValues::SingleAsn1Type(b) => ber::tlv_len(Tag::ctx_cons(0), b.len()),
        PdvValues::OctetAligned(b) => ber::tlv_len(Tag::ctx(1), b.len()),
        PdvValues::OctetAlignedSegments(b) => ber::tlv_len(Tag::ctx_cons(1), b.len()),
        PdvValues::Arbitrary { data, .. } => {
            ber::tlv_len(Tag::ctx(2), data.len().saturating_add(1))
        }
    }
}

pub(crate) fn put_pdv_values<B: BufMut + ?Sized>(
    layer: Layer,
    v: &PdvValues<'_>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    match v {
        PdvValues::SingleAsn1Type(b) => {
            ber::put_header(layer, buf, Tag::ctx_cons(0), b.len())?;
            ber::put_raw(layer, buf, b)
        }
        PdvValues::OctetAligned(b) => ber::put_prim(layer, buf, Tag::ctx(1), b),
        PdvValues::OctetAlignedSegments(b) => {
            ber::put_header(layer, buf, Tag::ctx_cons(1), b.len())?;
            ber::put_raw(layer, buf, b)
        }
        PdvValues::Arbitrary { unused_bits, data } => {
            ber::put_header(layer, buf, Tag::ctx(2), data.len().saturating_add(1))?;
            ber::put_raw(layer, buf, &[*unused_bits])?;
            ber::put_raw(layer, buf, data)
        }
    }
}

/// One PDV-list of fully encoded user data (X.226 §8.2, `PDV-list`).
///
/// ```text
///  30 { [06 transfer-syntax-name]  02 context-id  a0 {value} | 81 octets | 82 bits }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdv<'a> {
    /// Transfer-syntax-name (only needed in a CP when several were proposed).
    pub transfer_syntax: Option<Oid<'a>>,
    /// Presentation-context-identifier.
    pub context_id: ContextId,
    /// The values.
    pub values: PdvValues<'a>,
}

fn decode_pdv<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<Pdv<'a>, DecodeError> {
    if t.tag != Tag::SEQUENCE {
        return Err(unexpected(c, t, "tag instead of pdv-list"));
    }
    let mut r = ber::children(*c, t)?;
    let transfer_syntax = match r.next_if(UNIVERSAL, 6)? {
        Some(o) => Some(ber::oid(c, &o)?),
        None => None,
    };
    let context_id = ContextId::decode(
        c,
        &r.expect(UNIVERSAL, 2, "presentation context identifier")?,
    )?;
    if r.is_empty() {
        return Err(c.err(
            r.pos(),
            DecodeErrorKind::Missing {
                what: "presentation data values",
            },
        ));
    }
    let values = decode_pdv_values(c, &r.read()?)?;
    r.finish("pdv-list")?;
    Ok(Pdv {
        transfer_syntax,
        context_id,
        values,
    })
}

/// [`decode_pdv`] of an element that it already accepted (see `seq_of!`, `trusted`): the
/// common shape `30 { 02 id  a0 { value } }` is read without repeating the checks; anything
/// else is decoded again.
#[inline]
fn trusted_pdv<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<Pdv<'a>, DecodeError> {
    if let Some((_, id, after_id)) = quick_tlv_of(t.content, 0x02) {
        // `decode_pdv_values` checked that the `a0` contents are exactly one element.
        if let (Some((_, value, [])), Some(context_id)) = (
            quick_tlv_of(after_id, 0xa0),
            trusted_int(id).and_then(ContextId::new),
        ) {
            return Ok(Pdv {
                transfer_syntax: None,
                context_id,
                values: PdvValues::SingleAsn1Type(value),
            });
        }
    }
    decode_pdv(c, t)
}

/// [`trusted_pdv`] from an element's identifier and contents (`seq_of!`, `quick`): the
/// common shape `30 { 02 id  a0 { value } }` only.
#[inline(always)]
fn quick_pdv_item<'a>(_: &Ctx, id: u8, content: &'a [u8], _: usize, _: usize) -> Option<Pdv<'a>> {
    if id != 0x30 {
        return None;
    }
    let (_, id, after_id) = quick_tlv_of(content, 0x02)?;
    // `decode_pdv_values` checked that the `a0` contents are exactly one element.
    let (_, value, []) = quick_tlv_of(after_id, 0xa0)? else {
        return None;
    };
    Some(Pdv {
        transfer_syntax: None,
        context_id: trusted_int(id).and_then(ContextId::new)?,
        values: PdvValues::SingleAsn1Type(value),
    })
}

fn pdv_content_len(p: &Pdv<'_>) -> usize {
    opt_len(&p.transfer_syntax, oid_item_len)
        .saturating_add(p.context_id.int_len(Tag::INTEGER))
        .saturating_add(pdv_values_len(&p.values))
}

fn pdv_len(p: &Pdv<'_>) -> usize {
    ber::tlv_len(Tag::SEQUENCE, pdv_content_len(p))
}

fn put_pdv<B: BufMut + ?Sized>(p: &Pdv<'_>, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::SEQUENCE, pdv_content_len(p))?;
    if let Some(o) = &p.transfer_syntax {
        put_oid_item(o, buf)?;
    }
    ber::put_int(L, buf, Tag::INTEGER, p.context_id.get())?;
    put_pdv_values(L, &p.values, buf)
}

/// Where [`UserData::decode`]'s one-pass decoder found the only PDV of a list in the shape
/// `30 { 02 id  a0 { value } }`: the value's place in the list's contents and the context
/// identifier. Twelve octets instead of the decoded [`Pdv`], so that [`UserData`] stays small.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SinglePdvAt {
    value_start: u32,
    value_len: u32,
    context_id: ContextId,
}

impl<'a> ber::FirstCache<'a, Pdv<'a>> for Option<SinglePdvAt> {
    const NONE: Self = None;
    #[inline(always)]
    fn get(self, content: &'a [u8]) -> (Option<Pdv<'a>>, usize) {
        let Some(at) = self else {
            return (None, 0);
        };
        let start = at.value_start as usize;
        match content.get(start..start.saturating_add(at.value_len as usize)) {
            // The one PDV fills the list.
            Some(value) => (
                Some(Pdv {
                    transfer_syntax: None,
                    context_id: at.context_id,
                    values: PdvValues::SingleAsn1Type(value),
                }),
                content.len(),
            ),
            None => (None, 0),
        }
    }
}

seq_of! {
    /// Fully-encoded-data: a `SEQUENCE OF PDV-list` (X.226 §8.2, §8.4.2).
    PdvList, PdvIter, first Option<SinglePdvAt>, Pdv, decode_pdv, trusted trusted_pdv, quick quick_pdv_item, pdv_len, put_pdv
}

/// User-data (X.226 §8.2, §8.4): simply encoded (`40`) or fully encoded (`61`).
///
/// ```text
///  40 LL <values of the default context / the one DCS member, concatenated>
///  61 LL 30 {PDV-list} 30 {PDV-list} …
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserData<'a> {
    /// `simply-encoded-data [APPLICATION 0] IMPLICIT OCTET STRING`.
    Simple(&'a [u8]),
    /// `fully-encoded-data [APPLICATION 1] IMPLICIT SEQUENCE OF PDV-list`.
    Full(PdvList<'a>),
}

const SIMPLE: Tag = Tag::new(APPLICATION, false, 0);
const FULL: Tag = Tag::app_cons(1);

impl<'a> UserData<'a> {
    fn from_tlv(c: &Ctx, t: &Tlv<'a>, limits: &Limits) -> Result<Option<Self>, DecodeError> {
        Ok(match (t.tag.class, t.tag.number) {
            (APPLICATION, 0) => Some(UserData::Simple(ber::primitive(
                c,
                t,
                "constructed simply-encoded-data not supported",
            )?)),
            (APPLICATION, 1) => Some(UserData::Full(PdvList::decode(
                c,
                t,
                Some(("max_pdvs", limits.max_pdvs)),
            )?)),
            _ => None,
        })
    }

    /// Decodes the User-data carried alone by S-DATA, S-RELEASE and other session services
    /// (X.226 §7, §8.2). The whole input must be one User-data value.
    ///
    /// The common shape, fully encoded data with one PDV in single-ASN1-type form
    /// (`61 { 30 { 02 id a0 { value } } }`, what P-DATA carries on nearly every association), is
    /// decoded in one pass that makes the checks of the general decoder; where its [`Pdv`] is
    /// is kept, so [`UserData::pdvs`] hands it out without reading it again. Any other input,
    /// or any
    /// doubt (long forms, limits below what that shape needs), goes to the general decoder.
    #[inline]
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        if let Some(ud) = Self::decode_single_pdv(input, limits) {
            return Ok(ud);
        }
        Self::decode_general(input, limits)
    }

    /// The one-pass decoder of `61 { 30 { 02 id a0 { value } } }` with a one-octet context
    /// identifier, every element in the forms [`ber::Reader::read`] takes on its fast path.
    /// `None` sends the input to the general decoder, which finds the same value or names the
    /// fault.
    #[inline]
    fn decode_single_pdv(input: &'a [u8], limits: &Limits) -> Option<Self> {
        // Depths as the general decoder counts them: 61 at 1, 30 at 2, a0 at 3, the value
        // (read by `ber::children` of a0) at 4; one PDV.
        if limits.max_ber_depth < 4 || limits.max_pdvs == 0 {
            return None;
        }
        let (list_offset, list, []) = quick_tlv_of(input, 0x61)? else {
            return None;
        };
        let (_, pdv, []) = quick_tlv_of(list, 0x30)? else {
            return None;
        };
        let (_, &[id], rest) = quick_tlv_of(pdv, 0x02)? else {
            return None;
        };
        // An identifier outside 1..=127 goes to the general decoder, which refuses it.
        let context_id = ContextId::from_octet(id)?;
        let (_, value, []) = quick_tlv_of(rest, 0xa0)? else {
            return None;
        };
        let (_, _, _, []) = quick_tlv(value)? else {
            return None;
        };
        // The value ends the list's contents.
        let value_start = list.len().checked_sub(value.len())?;
        Some(UserData::Full(PdvList {
            repr: ber::SeqRepr::Encoded {
                content: list,
                base: list_offset,
                depth: 2,
                ctx: ctx(limits),
                first: Some(SinglePdvAt {
                    value_start: u32::try_from(value_start).ok()?,
                    value_len: u32::try_from(value.len()).ok()?,
                    context_id,
                }),
            },
        }))
    }

    #[inline(never)]
    fn decode_general(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let (t, r) = top(c, input, "user data")?;
        let ud = UserData::from_tlv(&c, &t, limits)?
            .ok_or_else(|| unexpected(&c, &t, "user data tag"))?;
        r.finish("user data")?;
        Ok(ud)
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        match self {
            UserData::Simple(b) => prim_len(SIMPLE, b),
            UserData::Full(l) => ber::tlv_len(FULL, l.content_len()),
        }
    }

    /// Writes the User-data (definite lengths); fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        match self {
            UserData::Simple(b) => ber::put_prim(L, buf, SIMPLE, b),
            UserData::Full(l) => {
                ber::put_header(L, buf, FULL, l.content_len())?;
                l.encode_content(buf)
            }
        }
    }

    /// The octets [`UserData::encode_single_header`] writes.
    pub fn single_header_len(context_id: ContextId, value_len: usize) -> usize {
        let pdv = context_id
            .int_len(Tag::INTEGER)
            .saturating_add(ber::tlv_len(Tag::ctx_cons(0), value_len));
        let list = ber::tlv_len(Tag::SEQUENCE, pdv);
        ber::tlv_len(FULL, list).saturating_sub(value_len)
    }

    /// Writes fully encoded User-data holding one PDV in single-ASN1-type form on
    /// `context_id`, up to (not including) the `value_len` octets of the value: the caller sends
    /// the value from its own buffer. `header + value` is exactly what [`UserData::encode`]
    /// writes for `UserData::Full` of that one [`Pdv`].
    pub fn encode_single_header<B: BufMut + ?Sized>(
        context_id: ContextId,
        value_len: usize,
        buf: &mut B,
    ) -> Result<(), EncodeError> {
        let pdv = context_id
            .int_len(Tag::INTEGER)
            .saturating_add(ber::tlv_len(Tag::ctx_cons(0), value_len));
        let list = ber::tlv_len(Tag::SEQUENCE, pdv);
        ber::put_header(L, buf, FULL, list)?;
        ber::put_header(L, buf, Tag::SEQUENCE, pdv)?;
        ber::put_int(L, buf, Tag::INTEGER, context_id.get())?;
        ber::put_header(L, buf, Tag::ctx_cons(0), value_len)
    }

    /// The PDVs of fully encoded data (empty for simply encoded data).
    pub fn pdvs(&self) -> PdvIter<'a> {
        match self {
            UserData::Full(l) => l.iter(),
            UserData::Simple(_) => PdvList::default().iter(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CP-type

/// Default-context-name of a CP (X.226 §8.2): `a6 { 80 abstract-syntax 81 transfer-syntax }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultContext<'a> {
    /// Abstract-syntax-name.
    pub abstract_syntax: Oid<'a>,
    /// Transfer-syntax-name.
    pub transfer_syntax: Oid<'a>,
}

fn decode_default_context<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<DefaultContext<'a>, DecodeError> {
    let mut r = ber::children(*c, t)?;
    let abstract_syntax = ber::oid(c, &r.expect(CONTEXT, 0, "default context abstract syntax")?)?;
    let transfer_syntax = ber::oid(c, &r.expect(CONTEXT, 1, "default context transfer syntax")?)?;
    Ok(DefaultContext {
        abstract_syntax,
        transfer_syntax,
    })
}

fn default_context_content_len(d: &DefaultContext<'_>) -> usize {
    prim_len(Tag::ctx(0), d.abstract_syntax.as_bytes())
        .saturating_add(prim_len(Tag::ctx(1), d.transfer_syntax.as_bytes()))
}

fn put_default_context<B: BufMut + ?Sized>(
    d: &DefaultContext<'_>,
    tag: Tag,
    buf: &mut B,
) -> Result<(), EncodeError> {
    ber::put_header(L, buf, tag, default_context_content_len(d))?;
    ber::put_prim(L, buf, Tag::ctx(0), d.abstract_syntax.as_bytes())?;
    ber::put_prim(L, buf, Tag::ctx(1), d.transfer_syntax.as_bytes())
}

/// Normal-mode-parameters of a CP-type (X.226 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpNormal<'a> {
    /// `[0]` protocol-version (absent = version-1).
    pub protocol_version: Option<ProtocolVersion>,
    /// `[1]` calling-presentation-selector (an octet string: `00 01` ≠ `01`).
    pub calling_selector: Option<&'a [u8]>,
    /// `[2]` called-presentation-selector.
    pub called_selector: Option<&'a [u8]>,
    /// `[4]` presentation-context-definition-list.
    pub context_definitions: Option<ContextList<'a>>,
    /// `[6]` default-context-name.
    pub default_context: Option<DefaultContext<'a>>,
    /// `[8]` presentation-requirements.
    pub presentation_requirements: Option<PresentationRequirements>,
    /// `[9]` user-session-requirements.
    pub user_session_requirements: Option<UserSessionRequirements>,
    /// User-data (carries the AARQ in normal mode).
    pub user_data: Option<UserData<'a>>,
}

/// CP-type: the P-CONNECT request, user data of the session CN SPDU (X.226 §8.2).
///
/// ```text
///  31 LL                              SET
///     a0 03 80 01 01                  [0] mode-selector { [0] mode-value normal-mode(1) }
///     a1 LL …                         [1] x410-mode-parameters (X.410-1984 mode only)
///     a2 LL                           [2] normal-mode-parameters (normal mode only)
///        80 version  81 calling-sel  82 called-sel  a4 context-list  a6 default-context
///        88 presentation-reqs  89 session-reqs  61|40 user-data
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cp<'a> {
    /// Mode-selector.
    pub mode: Mode,
    /// X.410-1984-mode parameters: the raw content octets of the `[1]` SET (RTORQ components).
    pub x410_parameters: Option<&'a [u8]>,
    /// Normal-mode parameters.
    pub normal: Option<CpNormal<'a>>,
}

fn decode_mode(c: &Ctx, t: &Tlv<'_>) -> Result<Mode, DecodeError> {
    let mut r = ber::children(*c, t)?;
    Ok(Mode(int_of(c, &r.expect(CONTEXT, 0, "mode value")?)?))
}

fn mode_content_len(m: Mode) -> usize {
    ber::int_len(Tag::ctx(0), m.0)
}

fn put_mode<B: BufMut + ?Sized>(m: Mode, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::ctx_cons(0), mode_content_len(m))?;
    ber::put_int(L, buf, Tag::ctx(0), m.0)
}

fn decode_cp_normal<'a>(
    c: &Ctx,
    t: &Tlv<'a>,
    limits: &Limits,
) -> Result<CpNormal<'a>, DecodeError> {
    let mut r = ber::children(*c, t)?;
    let mut n = CpNormal::default();
    while !r.is_empty() {
        let e = r.read()?;
        if let Some(ud) = UserData::from_tlv(c, &e, limits)? {
            n.user_data = Some(ud);
            continue;
        }
        if e.tag.class != CONTEXT {
            continue;
        }
        match e.tag.number {
            0 => n.protocol_version = Some(ProtocolVersion(ber::bits(c, &e)?)),
            1 => n.calling_selector = Some(octets(c, &e)?),
            2 => n.called_selector = Some(octets(c, &e)?),
            4 => {
                n.context_definitions = Some(ContextList::decode(
                    c,
                    &e,
                    Some(("max_contexts", limits.max_contexts)),
                )?)
            }
            6 => n.default_context = Some(decode_default_context(c, &e)?),
            8 => n.presentation_requirements = Some(PresentationRequirements(ber::bits(c, &e)?)),
            9 => n.user_session_requirements = Some(UserSessionRequirements(ber::bits(c, &e)?)),
            _ => {}
        }
    }
    Ok(n)
}

impl CpNormal<'_> {
    fn content_len(&self) -> usize {
        opt_len(&self.protocol_version, |v| ber::bits_len(Tag::ctx(0), v.0))
            .saturating_add(opt_len(&self.calling_selector, |s| {
                prim_len(Tag::ctx(1), s)
            }))
            .saturating_add(opt_len(&self.called_selector, |s| prim_len(Tag::ctx(2), s)))
            .saturating_add(opt_len(&self.context_definitions, |l| {
                ber::tlv_len(Tag::ctx_cons(4), l.content_len())
            }))
            .saturating_add(opt_len(&self.default_context, |d| {
                ber::tlv_len(Tag::ctx_cons(6), default_context_content_len(d))
            }))
            .saturating_add(opt_len(&self.presentation_requirements, |v| {
                ber::bits_len(Tag::ctx(8), v.0)
            }))
            .saturating_add(opt_len(&self.user_session_requirements, |v| {
                ber::bits_len(Tag::ctx(9), v.0)
            }))
            .saturating_add(opt_len(&self.user_data, UserData::encoded_len))
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, Tag::ctx_cons(2), self.content_len())?;
        put_opt_bits(buf, Tag::ctx(0), self.protocol_version.map(|v| v.0))?;
        put_opt_prim(buf, Tag::ctx(1), self.calling_selector)?;
        put_opt_prim(buf, Tag::ctx(2), self.called_selector)?;
        if let Some(l) = &self.context_definitions {
            ber::put_header(L, buf, Tag::ctx_cons(4), l.content_len())?;
            l.encode_content(buf)?;
        }
        if let Some(d) = &self.default_context {
            put_default_context(d, Tag::ctx_cons(6), buf)?;
        }
        put_opt_bits(
            buf,
            Tag::ctx(8),
            self.presentation_requirements.map(|v| v.0),
        )?;
        put_opt_bits(
            buf,
            Tag::ctx(9),
            self.user_session_requirements.map(|v| v.0),
        )?;
        match &self.user_data {
            Some(u) => u.encode(buf),
            None => Ok(()),
        }
    }
}

fn x410_len(x: &Option<&[u8]>) -> usize {
    opt_len(x, |b| ber::tlv_len(Tag::ctx_cons(1), b.len()))
}

fn put_x410<B: BufMut + ?Sized>(x: Option<&[u8]>, buf: &mut B) -> Result<(), EncodeError> {
    if let Some(b) = x {
        ber::put_header(L, buf, Tag::ctx_cons(1), b.len())?;
        ber::put_raw(L, buf, b)?;
    }
    Ok(())
}

/// The normal-mode parameters of a CP-type or CPA-PPDU, as the shared SET encoder needs them.
trait NormalParameters {
    /// Length of the `[2]` contents.
    fn content_len(&self) -> usize;
    /// Writes the `[2]` element, header included.
    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError>;
}

impl NormalParameters for CpNormal<'_> {
    fn content_len(&self) -> usize {
        CpNormal::content_len(self)
    }
    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        CpNormal::encode(self, buf)
    }
}

impl NormalParameters for CpaNormal<'_> {
    fn content_len(&self) -> usize {
        CpaNormal::content_len(self)
    }
    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        CpaNormal::encode(self, buf)
    }
}

/// Contents length of the SET of a CP-type or CPA-PPDU: mode, `[1]` raw, `[2]` normal.
fn connect_set_content_len<N: NormalParameters>(
    mode: Mode,
    x410: &Option<&[u8]>,
    normal: &Option<N>,
) -> usize {
    ber::tlv_len(Tag::ctx_cons(0), mode_content_len(mode))
        .saturating_add(x410_len(x410))
        .saturating_add(opt_len(normal, |n| {
            ber::tlv_len(Tag::ctx_cons(2), n.content_len())
        }))
}

/// Writes the SET of a CP-type or CPA-PPDU (the twin of [`decode_connect_set`]).
fn put_connect_set<B: BufMut + ?Sized, N: NormalParameters>(
    buf: &mut B,
    mode: Mode,
    x410: Option<&[u8]>,
    normal: &Option<N>,
) -> Result<(), EncodeError> {
    ber::put_header(
        L,
        buf,
        Tag::SET,
        connect_set_content_len(mode, &x410, normal),
    )?;
    put_mode(mode, buf)?;
    put_x410(x410, buf)?;
    match normal {
        Some(n) => n.encode(buf),
        None => Ok(()),
    }
}

/// Mode, raw X.410 parameters and normal-mode parameters of a CP-type or CPA-PPDU.
type ConnectSet<'a, N> = (Mode, Option<&'a [u8]>, Option<N>);

/// Walks the SET of a CP-type or CPA-PPDU: mode, `[1]` raw, `[2]` via `normal`.
fn decode_connect_set<'a, N>(
    c: &Ctx,
    t: &Tlv<'a>,
    mut normal: impl FnMut(&Tlv<'a>) -> Result<N, DecodeError>,
) -> Result<ConnectSet<'a, N>, DecodeError> {
    if t.tag != Tag::SET {
        return Err(unexpected(c, t, "ppdu tag"));
    }
    let mut r = ber::children(*c, t)?;
    let (mut mode, mut x410, mut n) = (None, None, None);
    while !r.is_empty() {
        let e = r.read()?;
        match (e.tag.class, e.tag.number) {
            (CONTEXT, 0) => mode = Some(decode_mode(c, &e)?),
            (CONTEXT, 1) => x410 = Some(ber::children(*c, &e).map(|_| e.content)?),
            (CONTEXT, 2) => n = Some(normal(&e)?),
            _ => {}
        }
    }
    let mode = mode.ok_or_else(|| {
        c.err(
            t.offset,
            DecodeErrorKind::Missing {
                what: "mode selector",
            },
        )
    })?;
    Ok((mode, x410, n))
}

// ---------------------------------------------------------------------------------------------
// One-pass decoders of the common CP shape
//
// Each accepts a subset of what the general decoder accepts (elements as `ber::quick_tlv`
// reads them, every form the general decoder would reject sent back with `None`) and builds
// the value the general decoder builds: the lists are the same `SeqRepr::Encoded` (contents,
// absolute base, depth) that `seq_of!`'s `decode` makes. `None` is never an answer to the
// caller: it sends the input to the general decoder, which decides.

/// Depth the one-pass CP decoder needs from `max_ber_depth` (the general decoder's count):
/// CP SET 1, `[2]` 2, its elements 3, list elements 4, their children 5 (`a0`'s value and the
/// transfer-syntax names 6).
const QUICK_CP_DEPTH: usize = 6;

/// Whether `id` names a `[CONTEXT n]` element with `n` in `known` (a bit set of tag numbers
/// below 32): a form of a known element that the one-pass decoders do not take.
#[inline(always)]
fn context_in(id: u8, known: u32) -> bool {
    id & 0xc0 == 0x80 && known & (1u32 << (id & 0x1f)) != 0
}

/// [`Cp::decode`]'s one-pass path (see the section comment).
#[cfg(test)]
fn quick_cp<'a>(input: &'a [u8], limits: &Limits) -> Option<(Cp<'a>, &'a [u8])> {
    let mut cp = Cp::EMPTY;
    let rest = quick_cp_into(input, limits, &mut cp)?;
    Some((cp, rest))
}

/// [`quick_cp`] writing the CP into `out` (a [`Cp::EMPTY`]), where the caller keeps it: the
/// PPDU is built once in place instead of being moved out of the decoder. Returns the octets
/// after the CP-type.
#[inline]
fn quick_cp_into<'a>(input: &'a [u8], limits: &Limits, out: &mut Cp<'a>) -> Option<&'a [u8]> {
    if limits.max_ber_depth < QUICK_CP_DEPTH {
        return None;
    }
    let (set_hl, set, rest) = quick_tlv_of(input, 0x31)?;
    let mut mode = None;
    let mut b = set;
    while !b.is_empty() {
        let (id, hl, content, next) = quick_tlv(b)?;
        match id {
            // mode-selector { [0] IMPLICIT INTEGER }: the value is the first element.
            0xa0 => {
                let (_, v, _) = quick_tlv_of(content, 0x80)?;
                mode = Some(Mode(trusted_int(v)?));
            }
            0xa1 => out.x410_parameters = Some(content),
            0xa2 => {
                let base = set_hl
                    .wrapping_add(set.len().wrapping_sub(b.len()))
                    .wrapping_add(hl);
                quick_cp_normal(
                    content,
                    base,
                    limits,
                    out.normal.insert(CpNormal::default()),
                )?;
            }
            0x80..=0x82 => return None,
            _ => {}
        }
        b = next;
    }
    out.mode = mode?;
    Some(rest)
}

/// The normal-mode parameters (`[2]` contents at absolute `base`, elements at depth 3).
#[inline]
fn quick_cp_normal<'a>(
    content: &'a [u8],
    base: usize,
    limits: &Limits,
    n: &mut CpNormal<'a>,
) -> Option<()> {
    let mut b = content;
    while !b.is_empty() {
        let (id, hl, v, next) = quick_tlv(b)?;
        let v_at = || {
            base.wrapping_add(content.len().wrapping_sub(b.len()))
                .wrapping_add(hl)
        };
        match id {
            0x40 => n.user_data = Some(UserData::Simple(v)),
            0x61 => n.user_data = Some(UserData::Full(quick_pdv_list(v, v_at(), 4, limits)?)),
            0x41 | 0x60 => return None,
            0x80 => n.protocol_version = Some(ProtocolVersion(ber::quick_bits(v)?)),
            0x81 => n.calling_selector = Some(v),
            0x82 => n.called_selector = Some(v),
            0xa4 => n.context_definitions = Some(quick_context_list(v, v_at(), limits)?),
            0xa6 => {
                let (_, abs, r) = quick_tlv_of(v, 0x80)?;
                let (_, ts, _) = quick_tlv_of(r, 0x81)?;
                n.default_context = Some(DefaultContext {
                    abstract_syntax: Oid::new(abs).ok()?,
                    transfer_syntax: Oid::new(ts).ok()?,
                });
            }
            0x88 => {
                n.presentation_requirements = Some(PresentationRequirements(ber::quick_bits(v)?))
            }
            0x89 => {
                n.user_session_requirements = Some(UserSessionRequirements(ber::quick_bits(v)?))
            }
            _ if context_in(id, 0b11_0101_0111) => return None,
            _ => {}
        }
        b = next;
    }
    Some(())
}

/// A presentation-context-definition-list (`[4]` contents at absolute `base`, elements at
/// depth 4): what [`ContextList::decode`] with [`decode_context_def`] checks.
#[inline]
fn quick_context_list<'a>(
    content: &'a [u8],
    base: usize,
    limits: &Limits,
) -> Option<ContextList<'a>> {
    let mut b = content;
    let mut n = 0usize;
    while !b.is_empty() {
        let (_, d, next) = quick_tlv_of(b, 0x30)?;
        n = n.wrapping_add(1);
        if n > limits.max_contexts {
            return None;
        }
        let (_, id, after_id) = quick_tlv_of(d, 0x02)?;
        let (_, abs, ts_tlv) = quick_tlv_of(after_id, 0x06)?;
        let (_, mut ts, []) = quick_tlv_of(ts_tlv, 0x30)? else {
            return None;
        };
        // An identifier outside 1..=127 goes to the general decoder, which refuses it.
        trusted_int(id).and_then(ContextId::new)?;
        Oid::new(abs).ok()?;
        while !ts.is_empty() {
            let (_, oid, r) = quick_tlv_of(ts, 0x06)?;
            Oid::new(oid).ok()?;
            ts = r;
        }
        b = next;
    }
    Some(ContextList {
        repr: ber::SeqRepr::Encoded {
            content,
            base,
            depth: 4,
            ctx: ctx(limits),
            first: (),
        },
    })
}

/// Fully-encoded-data contents at absolute `base`, PDV-lists at `depth`: what
/// [`PdvList::decode`] with [`decode_pdv`] checks, for PDVs `30 { [06 ts] 02 id a0 {value} }`.
/// A list of one PDV without transfer syntax and with a one-octet identifier keeps where it
/// is ([`SinglePdvAt`]). Needs `max_ber_depth` ≥ `depth + 2`.
#[inline]
fn quick_pdv_list<'a>(
    content: &'a [u8],
    base: usize,
    depth: usize,
    limits: &Limits,
) -> Option<PdvList<'a>> {
    let mut b = content;
    let mut n = 0usize;
    let mut first = None;
    while !b.is_empty() {
        let (_, p, next) = quick_tlv_of(b, 0x30)?;
        n = n.wrapping_add(1);
        if n > limits.max_pdvs {
            return None;
        }
        let (mut q, mut plain) = (p, true);
        if let Some((_, oid, r)) = quick_tlv_of(q, 0x06) {
            Oid::new(oid).ok()?;
            (q, plain) = (r, false);
        }
        let (_, id, r) = quick_tlv_of(q, 0x02)?;
        let (_, value, []) = quick_tlv_of(r, 0xa0)? else {
            return None;
        };
        let (_, _, _, []) = quick_tlv(value)? else {
            return None;
        };
        // An identifier outside 1..=127 goes to the general decoder, which refuses it.
        let context_id = trusted_int(id).and_then(ContextId::new)?;
        if let (true, true, &[_]) = (plain && n == 1, next.is_empty(), id) {
            first = Some(SinglePdvAt {
                value_start: u32::try_from(content.len().wrapping_sub(value.len())).ok()?,
                value_len: u32::try_from(value.len()).ok()?,
                context_id,
            });
        }
        b = next;
    }
    Some(PdvList {
        repr: ber::SeqRepr::Encoded {
            content,
            base,
            depth,
            ctx: ctx(limits),
            first,
        },
    })
}

impl<'a> Cp<'a> {
    /// What the one-pass decoder fills in.
    const EMPTY: Cp<'a> = Cp {
        mode: Mode(0),
        x410_parameters: None,
        normal: None,
    };

    /// Decodes a CP-type from the user data of a CN SPDU, returning it and the octets that
    /// follow it (CPC-type values, X.226 §7.1.1; usually empty). Unknown elements are ignored
    /// (§8.5). A CP without User-data is valid (the ASN.1 makes it optional).
    ///
    /// The common shape (every element in the one-octet-identifier, short-or-two-octet-length
    /// forms, nesting within the depth bound) is decoded in one pass that makes every check of
    /// the general decoder, and keeps where a single PDV of the User-data is so that
    /// [`UserData::pdvs`] hands it out without reading it again; anything else goes to the
    /// general decoder, which finds the same value or names the fault (layer and offset).
    #[inline]
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<(Self, &'a [u8]), DecodeError> {
        let mut cp = Cp::EMPTY;
        match quick_cp_into(input, limits, &mut cp) {
            Some(rest) => Ok((cp, rest)),
            None => Self::decode_general(input, limits),
        }
    }

    #[inline(never)]
    fn decode_general(input: &'a [u8], limits: &Limits) -> Result<(Self, &'a [u8]), DecodeError> {
        let c = ctx(limits);
        let (t, _) = top(c, input, "cp-type")?;
        let (mode, x410_parameters, normal) =
            decode_connect_set(&c, &t, |e| decode_cp_normal(&c, e, limits))?;
        let rest = input.get(t.raw.len()..).unwrap_or_default();
        Ok((
            Cp {
                mode,
                x410_parameters,
                normal,
            },
            rest,
        ))
    }

    fn content_len(&self) -> usize {
        connect_set_content_len(self.mode, &self.x410_parameters, &self.normal)
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(Tag::SET, self.content_len())
    }

    /// Writes the CP-type; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_connect_set(buf, self.mode, self.x410_parameters, &self.normal)
    }
}

// ---------------------------------------------------------------------------------------------
// CPA-PPDU

/// Normal-mode-parameters of a CPA-PPDU (X.226 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpaNormal<'a> {
    /// `[0]` protocol-version.
    pub protocol_version: Option<ProtocolVersion>,
    /// `[3]` responding-presentation-selector.
    pub responding_selector: Option<&'a [u8]>,
    /// `[5]` presentation-context-definition-result-list.
    pub context_results: Option<ResultList<'a>>,
    /// `[8]` presentation-requirements.
    pub presentation_requirements: Option<PresentationRequirements>,
    /// `[9]` user-session-requirements.
    pub user_session_requirements: Option<UserSessionRequirements>,
    /// User-data (carries the AARE in normal mode).
    pub user_data: Option<UserData<'a>>,
}

impl CpaNormal<'_> {
    fn content_len(&self) -> usize {
        opt_len(&self.protocol_version, |v| ber::bits_len(Tag::ctx(0), v.0))
            .saturating_add(opt_len(&self.responding_selector, |s| {
                prim_len(Tag::ctx(3), s)
            }))
            .saturating_add(opt_len(&self.context_results, |l| {
                ber::tlv_len(Tag::ctx_cons(5), l.content_len())
            }))
            .saturating_add(opt_len(&self.presentation_requirements, |v| {
                ber::bits_len(Tag::ctx(8), v.0)
            }))
            .saturating_add(opt_len(&self.user_session_requirements, |v| {
                ber::bits_len(Tag::ctx(9), v.0)
            }))
            .saturating_add(opt_len(&self.user_data, UserData::encoded_len))
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        ber::put_header(L, buf, Tag::ctx_cons(2), self.content_len())?;
        put_opt_bits(buf, Tag::ctx(0), self.protocol_version.map(|v| v.0))?;
        put_opt_prim(buf, Tag::ctx(3), self.responding_selector)?;
        if let Some(l) = &self.context_results {
            ber::put_header(L, buf, Tag::ctx_cons(5), l.content_len())?;
            l.encode_content(buf)?;
        }
        put_opt_bits(
            buf,
            Tag::ctx(8),
            self.presentation_requirements.map(|v| v.0),
        )?;
        put_opt_bits(
            buf,
            Tag::ctx(9),
            self.user_session_requirements.map(|v| v.0),
        )?;
        match &self.user_data {
            Some(u) => u.encode(buf),
            None => Ok(()),
        }
    }
}

fn decode_cpa_normal<'a>(
    c: &Ctx,
    t: &Tlv<'a>,
    limits: &Limits,
) -> Result<CpaNormal<'a>, DecodeError> {
    let mut r = ber::children(*c, t)?;
    let mut n = CpaNormal::default();
    while !r.is_empty() {
        let e = r.read()?;
        if let Some(ud) = UserData::from_tlv(c, &e, limits)? {
            n.user_data = Some(ud);
            continue;
        }
        if e.tag.class != CONTEXT {
            continue;
        }
        match e.tag.number {
            0 => n.protocol_version = Some(ProtocolVersion(ber::bits(c, &e)?)),
            3 => n.responding_selector = Some(octets(c, &e)?),
            5 => {
                n.context_results = Some(ResultList::decode(
                    c,
                    &e,
                    Some(("max_contexts", limits.max_contexts)),
                )?)
            }
            8 => n.presentation_requirements = Some(PresentationRequirements(ber::bits(c, &e)?)),
            9 => n.user_session_requirements = Some(UserSessionRequirements(ber::bits(c, &e)?)),
            _ => {}
        }
    }
    Ok(n)
}

/// CPA-PPDU: the P-CONNECT accept, user data of the session AC SPDU (X.226 §8.2).
///
/// ```text
///  31 LL  a0 03 80 01 01   [a1 LL RTOAC components]
///         a2 LL { 80 version  83 responding-sel  a5 result-list  88  89  61|40 user-data }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpa<'a> {
    /// Mode-selector (echoes the CP's).
    pub mode: Mode,
    /// X.410-1984-mode parameters: raw content octets of the `[1]` SET (RTOAC components).
    pub x410_parameters: Option<&'a [u8]>,
    /// Normal-mode parameters.
    pub normal: Option<CpaNormal<'a>>,
}

impl<'a> Cpa<'a> {
    /// Decodes a CPA-PPDU from the user data of an AC SPDU; the whole input must be the PPDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let (t, r) = top(c, input, "cpa-ppdu")?;
        let (mode, x410_parameters, normal) =
            decode_connect_set(&c, &t, |e| decode_cpa_normal(&c, e, limits))?;
        r.finish("cpa-ppdu")?;
        Ok(Cpa {
            mode,
            x410_parameters,
            normal,
        })
    }

    fn content_len(&self) -> usize {
        connect_set_content_len(self.mode, &self.x410_parameters, &self.normal)
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(Tag::SET, self.content_len())
    }

    /// Writes the CPA-PPDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_connect_set(buf, self.mode, self.x410_parameters, &self.normal)
    }
}

// ---------------------------------------------------------------------------------------------
// CPR-PPDU

/// Normal-mode CPR-PPDU fields (X.226 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CprNormal<'a> {
    /// `[0]` protocol-version (the versions the responder supports).
    pub protocol_version: Option<ProtocolVersion>,
    /// `[3]` responding-presentation-selector.
    pub responding_selector: Option<&'a [u8]>,
    /// `[5]` presentation-context-definition-result-list.
    pub context_results: Option<ResultList<'a>>,
    /// `[7]` default-context-result.
    pub default_context_result: Option<ContextResultCode>,
    /// `[10]` provider-reason (present when the presentation provider refused).
    pub provider_reason: Option<ProviderReason>,
    /// User-data (carries a rejecting AARE when the ACSE user refused).
    pub user_data: Option<UserData<'a>>,
}

/// CPR-PPDU: the P-CONNECT reject, user data of a session RF SPDU with reason 2 (X.226 §8.2).
///
/// ```text
///  normal:  30 LL { 80 version  83 responding-sel  a5 result-list  87 default-result
///                   8a provider-reason  61|40 user-data }
///  X.410:   31 LL { RTORJ components }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpr<'a> {
    /// X.410-1984 mode: the raw content octets of the SET (RTORJ / PRefuse components).
    X410(&'a [u8]),
    /// Normal mode.
    Normal(CprNormal<'a>),
}

impl<'a> Cpr<'a> {
    /// Decodes a CPR-PPDU from the user data of an RF SPDU; the whole input must be the PPDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let (t, r) = top(c, input, "cpr-ppdu")?;
        let out = if t.tag == Tag::SET {
            Cpr::X410(ber::children(c, &t).map(|_| t.content)?)
        } else if t.tag == Tag::SEQUENCE {
            let mut s = ber::children(c, &t)?;
            let mut n = CprNormal::default();
            while !s.is_empty() {
                let e = s.read()?;
                if let Some(ud) = UserData::from_tlv(&c, &e, limits)? {
                    n.user_data = Some(ud);
                    continue;
                }
                if e.tag.class != CONTEXT {
                    continue;
                }
                match e.tag.number {
                    0 => n.protocol_version = Some(ProtocolVersion(ber::bits(&c, &e)?)),
                    3 => n.responding_selector = Some(octets(&c, &e)?),
                    5 => {
                        n.context_results = Some(ResultList::decode(
                            &c,
                            &e,
                            Some(("max_contexts", limits.max_contexts)),
                        )?)
                    }
                    7 => n.default_context_result = Some(ContextResultCode(int_of(&c, &e)?)),
                    10 => n.provider_reason = Some(ProviderReason(int_of(&c, &e)?)),
                    _ => {}
                }
            }
            Cpr::Normal(n)
        } else {
            return Err(unexpected(&c, &t, "cpr-ppdu tag"));
        };
        r.finish("cpr-ppdu")?;
        Ok(out)
    }

    fn content_len(&self) -> usize {
        match self {
            Cpr::X410(b) => b.len(),
            Cpr::Normal(n) => opt_len(&n.protocol_version, |v| ber::bits_len(Tag::ctx(0), v.0))
                .saturating_add(opt_len(&n.responding_selector, |s| {
                    prim_len(Tag::ctx(3), s)
                }))
                .saturating_add(opt_len(&n.context_results, |l| {
                    ber::tlv_len(Tag::ctx_cons(5), l.content_len())
                }))
                .saturating_add(opt_len(&n.default_context_result, |v| {
                    ber::int_len(Tag::ctx(7), v.0)
                }))
                .saturating_add(opt_len(&n.provider_reason, |v| {
                    ber::int_len(Tag::ctx(10), v.0)
                }))
                .saturating_add(opt_len(&n.user_data, UserData::encoded_len)),
        }
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        let tag = match self {
            Cpr::X410(_) => Tag::SET,
            Cpr::Normal(_) => Tag::SEQUENCE,
        };
        ber::tlv_len(tag, self.content_len())
    }

    /// Writes the CPR-PPDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        match self {
            Cpr::X410(b) => {
                ber::put_header(L, buf, Tag::SET, b.len())?;
                ber::put_raw(L, buf, b)
            }
            Cpr::Normal(n) => {
                ber::put_header(L, buf, Tag::SEQUENCE, self.content_len())?;
                put_opt_bits(buf, Tag::ctx(0), n.protocol_version.map(|v| v.0))?;
                put_opt_prim(buf, Tag::ctx(3), n.responding_selector)?;
                if let Some(l) = &n.context_results {
                    ber::put_header(L, buf, Tag::ctx_cons(5), l.content_len())?;
                    l.encode_content(buf)?;
                }
                put_opt_int(buf, Tag::ctx(7), n.default_context_result.map(|v| v.0))?;
                put_opt_int(buf, Tag::ctx(10), n.provider_reason.map(|v| v.0))?;
                match &n.user_data {
                    Some(u) => u.encode(buf),
                    None => Ok(()),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Abort-type

/// Normal-mode ARU-PPDU (X.226 §8.2): `a0 LL { a0 context-identifier-list, user-data }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Aru<'a> {
    /// `[0]` presentation-context-identifier-list.
    pub context_ids: Option<ContextIdList<'a>>,
    /// User-data (carries the ABRT in normal mode).
    pub user_data: Option<UserData<'a>>,
}

/// ARP-PPDU, the presentation provider abort (X.226 §8.2): `30 LL { 80 reason 81 event }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arp {
    /// `[0]` abort-reason.
    pub abort_reason: Option<AbortReason>,
    /// `[1]` event-identifier.
    pub event_identifier: Option<EventIdentifier>,
}

/// Abort-type: the user data of a session AB SPDU (X.226 §8.2), told apart by its first tag:
/// `31` X.410-mode ARU, `a0` normal-mode ARU, `30` ARP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortPpdu<'a> {
    /// X.410-1984-mode ARU: raw content octets of the SET (RTAB / AbortInformation components).
    AruX410(&'a [u8]),
    /// Normal-mode ARU-PPDU (P-U-ABORT).
    Aru(Aru<'a>),
    /// ARP-PPDU (P-P-ABORT).
    Arp(Arp),
}

impl<'a> AbortPpdu<'a> {
    /// Decodes an Abort-type from the user data of an AB SPDU; the whole input must be the PPDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let (t, r) = top(c, input, "abort ppdu")?;
        let out = if t.tag == Tag::SET {
            AbortPpdu::AruX410(ber::children(c, &t).map(|_| t.content)?)
        } else if t.tag == Tag::ctx_cons(0) {
            let mut s = ber::children(c, &t)?;
            let mut a = Aru::default();
            while !s.is_empty() {
                let e = s.read()?;
                if let Some(ud) = UserData::from_tlv(&c, &e, limits)? {
                    a.user_data = Some(ud);
                } else if e.tag.is(CONTEXT, 0) {
                    a.context_ids = Some(ContextIdList::decode(
                        &c,
                        &e,
                        Some(("max_contexts", limits.max_contexts)),
                    )?);
                }
            }
            AbortPpdu::Aru(a)
        } else if t.tag == Tag::SEQUENCE {
            let mut s = ber::children(c, &t)?;
            let mut a = Arp::default();
            while !s.is_empty() {
                let e = s.read()?;
                match (e.tag.class, e.tag.number) {
                    (CONTEXT, 0) => a.abort_reason = Some(AbortReason(int_of(&c, &e)?)),
                    (CONTEXT, 1) => a.event_identifier = Some(EventIdentifier(int_of(&c, &e)?)),
                    _ => {}
                }
            }
            AbortPpdu::Arp(a)
        } else {
            return Err(unexpected(&c, &t, "abort ppdu tag"));
        };
        r.finish("abort ppdu")?;
        Ok(out)
    }

    fn parts(&self) -> (Tag, usize) {
        match self {
            AbortPpdu::AruX410(b) => (Tag::SET, b.len()),
            AbortPpdu::Aru(a) => (
                Tag::ctx_cons(0),
                opt_len(&a.context_ids, |l| {
                    ber::tlv_len(Tag::ctx_cons(0), l.content_len())
                })
                .saturating_add(opt_len(&a.user_data, UserData::encoded_len)),
            ),
            AbortPpdu::Arp(a) => (
                Tag::SEQUENCE,
                opt_len(&a.abort_reason, |v| ber::int_len(Tag::ctx(0), v.0)).saturating_add(
                    opt_len(&a.event_identifier, |v| ber::int_len(Tag::ctx(1), v.0)),
                ),
            ),
        }
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        let (tag, len) = self.parts();
        ber::tlv_len(tag, len)
    }

    /// Writes the PPDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let (tag, len) = self.parts();
        ber::put_header(L, buf, tag, len)?;
        match self {
            AbortPpdu::AruX410(b) => ber::put_raw(L, buf, b),
            AbortPpdu::Aru(a) => {
                if let Some(l) = &a.context_ids {
                    ber::put_header(L, buf, Tag::ctx_cons(0), l.content_len())?;
                    l.encode_content(buf)?;
                }
                match &a.user_data {
                    Some(u) => u.encode(buf),
                    None => Ok(()),
                }
            }
            AbortPpdu::Arp(a) => {
                put_opt_int(buf, Tag::ctx(0), a.abort_reason.map(|v| v.0))?;
                put_opt_int(buf, Tag::ctx(1), a.event_identifier.map(|v| v.0))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Typed-data-type: AC-PPDU, ACA-PPDU, TTD-PPDU

/// AC-PPDU, the P-ALTER-CONTEXT request (X.226 §8.2), carried as `[0]` of a Typed-data-type
/// in the user data of a session TD SPDU (X.226 §7, context management functional unit).
///
/// ```text
///  a0 LL                              [0] IMPLICIT SEQUENCE
///     a0 LL { 30 {02 id 06 as 30 {06 ts …}} … }   [0] presentation-context-addition-list
///     a1 LL { 02 id … }                            [1] presentation-context-deletion-list
///     61|40 …                                      user-data
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ac<'a> {
    /// `[0]` presentation-context-addition-list: the contexts proposed (a `Context-list`).
    pub additions: Option<ContextList<'a>>,
    /// `[1]` presentation-context-deletion-list: identifiers of the contexts to delete.
    pub deletions: Option<DeletionList<'a>>,
    /// User-data.
    pub user_data: Option<UserData<'a>>,
}

/// ACA-PPDU, the P-ALTER-CONTEXT response (X.226 §8.2), carried as `[1]` of a
/// Typed-data-type in the user data of a session TD SPDU.
///
/// ```text
///  a1 LL                              [1] IMPLICIT SEQUENCE
///     a0 LL { 30 {80 result 81 ts 82 reason} … }   [0] presentation-context-addition-result-list
///     a1 LL { 02 result … }                        [1] presentation-context-deletion-result-list
///     61|40 …                                      user-data
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Aca<'a> {
    /// `[0]` presentation-context-addition-result-list: one result per added context, in order.
    pub addition_results: Option<ResultList<'a>>,
    /// `[1]` presentation-context-deletion-result-list: one result per deleted context.
    pub deletion_results: Option<DeletionResultList<'a>>,
    /// User-data.
    pub user_data: Option<UserData<'a>>,
}

/// Typed-data-type: the user data of a session TD SPDU (X.226 §8.2, S-TYPED-DATA), told apart by
/// its first tag.
///
/// ```text
///  a0 LL {…}   AC-PPDU     (P-ALTER-CONTEXT request)
///  a1 LL {…}   ACA-PPDU    (P-ALTER-CONTEXT response)
///  61 | 40 …   TTD-PPDU    (P-TYPED-DATA: User-data)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedData<'a> {
    /// `acPPDU [0]`.
    Ac(Ac<'a>),
    /// `acaPPDU [1]`.
    Aca(Aca<'a>),
    /// `ttdPPDU`: typed data, plain User-data.
    Ttd(UserData<'a>),
}

const AC_TAG: Tag = Tag::ctx_cons(0);
const ACA_TAG: Tag = Tag::ctx_cons(1);

/// Walks the elements of an AC-PPDU, ACA-PPDU, RS-PPDU or RSA-PPDU: `[0]` and `[1]` go to
/// `field` (with their number), User-data is returned; unknown elements are skipped.
fn walk_with_user_data<'a>(
    c: &Ctx,
    t: &Tlv<'a>,
    limits: &Limits,
    mut field: impl FnMut(u32, &Tlv<'a>) -> Result<(), DecodeError>,
) -> Result<Option<UserData<'a>>, DecodeError> {
    let mut r = ber::children(*c, t)?;
    let mut user_data = None;
    while !r.is_empty() {
        let e = r.read()?;
        if let Some(ud) = UserData::from_tlv(c, &e, limits)? {
            user_data = Some(ud);
        } else if e.tag.class == CONTEXT && e.tag.constructed {
            field(e.tag.number, &e)?;
        }
    }
    Ok(user_data)
}

fn list_len(tag: Tag, content_len: Option<usize>) -> usize {
    opt_len(&content_len, |n| ber::tlv_len(tag, *n))
}

impl Ac<'_> {
    fn content_len(&self) -> usize {
        list_len(Tag::ctx_cons(0), self.additions.map(|l| l.content_len()))
            .saturating_add(list_len(
                Tag::ctx_cons(1),
                self.deletions.map(|l| l.content_len()),
            ))
            .saturating_add(opt_len(&self.user_data, UserData::encoded_len))
    }

    fn encode_content<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        if let Some(l) = &self.additions {
            ber::put_header(L, buf, Tag::ctx_cons(0), l.content_len())?;
            l.encode_content(buf)?;
        }
        if let Some(l) = &self.deletions {
            ber::put_header(L, buf, Tag::ctx_cons(1), l.content_len())?;
            l.encode_content(buf)?;
        }
        put_opt_user_data(buf, &self.user_data)
    }
}

impl Aca<'_> {
    fn content_len(&self) -> usize {
        list_len(
            Tag::ctx_cons(0),
            self.addition_results.map(|l| l.content_len()),
        )
        .saturating_add(list_len(
            Tag::ctx_cons(1),
            self.deletion_results.map(|l| l.content_len()),
        ))
        .saturating_add(opt_len(&self.user_data, UserData::encoded_len))
    }

    fn encode_content<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        if let Some(l) = &self.addition_results {
            ber::put_header(L, buf, Tag::ctx_cons(0), l.content_len())?;
            l.encode_content(buf)?;
        }
        if let Some(l) = &self.deletion_results {
            ber::put_header(L, buf, Tag::ctx_cons(1), l.content_len())?;
            l.encode_content(buf)?;
        }
        put_opt_user_data(buf, &self.user_data)
    }
}

fn put_opt_user_data<B: BufMut + ?Sized>(
    buf: &mut B,
    ud: &Option<UserData<'_>>,
) -> Result<(), EncodeError> {
    match ud {
        Some(u) => u.encode(buf),
        None => Ok(()),
    }
}

fn max_contexts(limits: &Limits) -> Option<(&'static str, usize)> {
    Some(("max_contexts", limits.max_contexts))
}

impl<'a> TypedData<'a> {
    /// Decodes a Typed-data-type from the user data of a TD SPDU; the whole input must be the
    /// PPDU. The lists count against [`Limits::max_contexts`], the PDVs against
    /// [`Limits::max_pdvs`].
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = ctx(limits);
        let (t, r) = top(c, input, "typed data ppdu")?;
        let out = if t.tag == AC_TAG {
            let mut ac = Ac::default();
            ac.user_data = walk_with_user_data(&c, &t, limits, |n, e| {
                match n {
                    0 => ac.additions = Some(ContextList::decode(&c, e, max_contexts(limits))?),
                    1 => ac.deletions = Some(DeletionList::decode(&c, e, max_contexts(limits))?),
                    _ => {}
                }
                Ok(())
            })?;
            TypedData::Ac(ac)
        } else if t.tag == ACA_TAG {
            let mut aca = Aca::default();
            aca.user_data = walk_with_user_data(&c, &t, limits, |n, e| {
                match n {
                    0 => {
                        aca.addition_results =
                            Some(ResultList::decode(&c, e, max_contexts(limits))?)
                    }
                    1 => {
                        aca.deletion_results =
                            Some(DeletionResultList::decode(&c, e, max_contexts(limits))?)
                    }
                    _ => {}
                }
                Ok(())
            })?;
            TypedData::Aca(aca)
        } else {
            let ud = UserData::from_tlv(&c, &t, limits)?
                .ok_or_else(|| unexpected(&c, &t, "typed data ppdu tag"))?;
            TypedData::Ttd(ud)
        };
        r.finish("typed data ppdu")?;
        Ok(out)
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        match self {
            TypedData::Ac(a) => ber::tlv_len(AC_TAG, a.content_len()),
            TypedData::Aca(a) => ber::tlv_len(ACA_TAG, a.content_len()),
            TypedData::Ttd(u) => u.encoded_len(),
        }
    }

    /// Writes the PPDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        match self {
            TypedData::Ac(a) => {
                ber::put_header(L, buf, AC_TAG, a.content_len())?;
                a.encode_content(buf)
            }
            TypedData::Aca(a) => {
                ber::put_header(L, buf, ACA_TAG, a.content_len())?;
                a.encode_content(buf)
            }
            TypedData::Ttd(u) => u.encode(buf),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RS-PPDU, RSA-PPDU

/// The SEQUENCE shared by RS-PPDU and RSA-PPDU (X.226 §8.2).
fn decode_resync<'a>(
    input: &'a [u8],
    limits: &Limits,
    what: &'static str,
) -> Result<(Option<ContextIdList<'a>>, Option<UserData<'a>>), DecodeError> {
    let c = ctx(limits);
    let (t, r) = top(c, input, what)?;
    if t.tag != Tag::SEQUENCE {
        return Err(unexpected(&c, &t, what));
    }
    let mut context_ids = None;
    let user_data = walk_with_user_data(&c, &t, limits, |n, e| {
        if n == 0 {
            context_ids = Some(ContextIdList::decode(&c, e, max_contexts(limits))?);
        }
        Ok(())
    })?;
    r.finish(what)?;
    Ok((context_ids, user_data))
}

fn resync_content_len(ids: &Option<ContextIdList<'_>>, ud: &Option<UserData<'_>>) -> usize {
    list_len(Tag::ctx_cons(0), ids.map(|l| l.content_len()))
        .saturating_add(opt_len(ud, UserData::encoded_len))
}

fn put_resync<B: BufMut + ?Sized>(
    buf: &mut B,
    ids: &Option<ContextIdList<'_>>,
    ud: &Option<UserData<'_>>,
) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::SEQUENCE, resync_content_len(ids, ud))?;
    if let Some(l) = ids {
        ber::put_header(L, buf, Tag::ctx_cons(0), l.content_len())?;
        l.encode_content(buf)?;
    }
    put_opt_user_data(buf, ud)
}

/// RS-PPDU, the P-RESYNCHRONIZE request: user data of a session RS SPDU (X.226 §8.2; context
/// management with restoration, §6.5).
///
/// ```text
///  30 LL                               SEQUENCE
///     a0 LL { 30 {02 id 06 ts} … }     [0] presentation-context-identifier-list
///     61|40 …                          user-data
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rs<'a> {
    /// `[0]` presentation-context-identifier-list: the contexts to restore, each with its
    /// transfer syntax.
    pub context_ids: Option<ContextIdList<'a>>,
    /// User-data.
    pub user_data: Option<UserData<'a>>,
}

impl<'a> Rs<'a> {
    /// Decodes an RS-PPDU from the user data of an RS SPDU; the whole input must be the PPDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let (context_ids, user_data) = decode_resync(input, limits, "rs-ppdu")?;
        Ok(Rs {
            context_ids,
            user_data,
        })
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(
            Tag::SEQUENCE,
            resync_content_len(&self.context_ids, &self.user_data),
        )
    }

    /// Writes the RS-PPDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_resync(buf, &self.context_ids, &self.user_data)
    }
}

/// RSA-PPDU, the P-RESYNCHRONIZE response: user data of a session RA SPDU (X.226 §8.2).
///
/// ```text
///  30 LL                               SEQUENCE
///     a0 LL { 30 {02 id 06 ts} … }     [0] presentation-context-identifier-list
///     61|40 …                          user-data
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rsa<'a> {
    /// `[0]` presentation-context-identifier-list.
    pub context_ids: Option<ContextIdList<'a>>,
    /// User-data.
    pub user_data: Option<UserData<'a>>,
}

impl<'a> Rsa<'a> {
    /// Decodes an RSA-PPDU from the user data of an RA SPDU; the whole input must be the PPDU.
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let (context_ids, user_data) = decode_resync(input, limits, "rsa-ppdu")?;
        Ok(Rsa {
            context_ids,
            user_data,
        })
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        ber::tlv_len(
            Tag::SEQUENCE,
            resync_content_len(&self.context_ids, &self.user_data),
        )
    }

    /// Writes the RSA-PPDU; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_resync(buf, &self.context_ids, &self.user_data)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .filter_map(|i| s.get(2 * i..2 * i + 2))
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// Limits around the bounds the one-pass decoders check.
    pub(crate) fn limit_variants() -> Vec<Limits> {
        let mut v = vec![Limits::default()];
        for max_ber_depth in 0..=7 {
            v.push(Limits {
                max_ber_depth,
                ..Limits::default()
            });
        }
        for n in 0..=2 {
            v.push(Limits {
                max_contexts: n,
                max_pdvs: n,
                ..Limits::default()
            });
        }
        v
    }

    /// `Cp::decode`'s one-pass path takes only what the general decoder accepts, and gives its
    /// value with the lists in the same place (contents, base, depth): on CP vectors of
    /// captures and every single-octet mutation of them, under limits around its bounds.
    #[test]
    fn quick_cp_matches_general_decoder() {
        let vectors = [
            // mms__dina__refuse.pcapng frame 7 (CP + AARQ, the bench's CN)
            "318199a003800101a28191810400000001820400000001a423300f0201010604520100013004060251013010020103060528ca220201300406025101615e305c020101a0576055a107060528ca220203a20706052901876701a30302010ca606060429018767a70302010cbe2f282d020103a028a826800300fde881010582010583010aa416800101810305f100820c03ee1c00000408000079ef18",
            // version, requirements, default context, simple user data, x410 and unknown elements
            "3136a003800101a1020500a228800207808802068089020640a60a8003510101810351010183010040060102030405068701000500840100",
            // two PDVs, one with a transfer syntax name; a two-octet context id (11, not
            // minimal: identifiers are 1..=127, X.226 §8.2)
            "314ba003800101a244810101820102a4153013020101060452010001300806025101060251026125300d0202000ba0073005020107800030140602510102010ba00b3009020105800301020300",
        ];
        let parts = |l: Option<ContextList<'_>>| l.and_then(|l| l.encoded_parts());
        let pdv_parts = |u: Option<UserData<'_>>| match u {
            Some(UserData::Full(l)) => l.encoded_parts(),
            _ => None,
        };
        let mut quick = 0usize;
        for v in vectors {
            let base = hex(v);
            assert!(quick_cp(&base, &Limits::default()).is_some(), "{v}");
            for x in ber::mutations(&base) {
                for limits in limit_variants() {
                    let general = Cp::decode_general(&x, &limits);
                    assert_eq!(Cp::decode(&x, &limits), general, "{x:02x?}");
                    let Some((q, rest)) = quick_cp(&x, &limits) else {
                        continue;
                    };
                    quick += 1;
                    let (g, g_rest) = general.unwrap();
                    assert_eq!((q, rest), (g, g_rest), "{x:02x?}");
                    let (qn, gn) = (q.normal.unwrap_or_default(), g.normal.unwrap_or_default());
                    assert_eq!(parts(qn.context_definitions), parts(gn.context_definitions));
                    assert_eq!(pdv_parts(qn.user_data), pdv_parts(gn.user_data));
                    assert!(
                        qn.user_data.map(|u| u.pdvs()).into_iter().flatten().eq(gn
                            .user_data
                            .map(|u| u.pdvs())
                            .into_iter()
                            .flatten())
                    );
                }
            }
        }
        assert!(quick > 1000, "{quick}");
    }

    /// The one-pass P-DATA decoder gives what the general decoder gives, value for value, and
    /// leaves every input it does not take to it.
    #[test]
    fn single_pdv_fast_path_matches_general_decoder() {
        let limits = Limits::default();
        let inputs: [&[u8]; 7] = [
            // 61 { 30 { 02 01 03  a0 { a0 03 02 01 07 } } }
            &[
                0x61, 0x0c, 0x30, 0x0a, 0x02, 0x01, 0x03, 0xa0, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x07,
            ],
            // a negative one-octet context id
            &[
                0x61, 0x09, 0x30, 0x07, 0x02, 0x01, 0x81, 0xa0, 0x02, 0x05, 0x00,
            ],
            // two values inside a0: an error in both
            &[
                0x61, 0x0b, 0x30, 0x09, 0x02, 0x01, 0x03, 0xa0, 0x04, 0x05, 0x00, 0x05, 0x00,
            ],
            // trailing octets after the User-data
            &[
                0x61, 0x09, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00, 0x00,
            ],
            // two PDVs: general decoder
            &[
                0x61, 0x12, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00, 0x30, 0x07, 0x02,
                0x01, 0x05, 0xa0, 0x02, 0x05, 0x00,
            ],
            // long-form length on the list: general decoder
            &[
                0x61, 0x81, 0x09, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00,
            ],
            // value overruns a0
            &[
                0x61, 0x09, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x01,
            ],
        ];
        for input in inputs {
            let fast = UserData::decode(input, &limits);
            let general = UserData::decode_general(input, &limits);
            assert_eq!(fast, general, "{input:02x?}");
            if let (Ok(f), Ok(g)) = (fast, general) {
                assert!(f.pdvs().eq(g.pdvs()));
            }
        }
        // Limits below what the shape needs go to the general decoder, which refuses: at
        // every depth limit both decoders agree (the value is read at depth 4).
        for max_ber_depth in 0..=6 {
            let l = Limits {
                max_ber_depth,
                ..Limits::default()
            };
            let (fast, general) = (
                UserData::decode(inputs[0], &l),
                UserData::decode_general(inputs[0], &l),
            );
            assert_eq!(fast, general, "max_ber_depth {max_ber_depth}");
            assert_eq!(
                fast.is_ok(),
                max_ber_depth >= 4,
                "max_ber_depth {max_ber_depth}"
            );
        }
        let no_pdvs = Limits {
            max_pdvs: 0,
            ..Limits::default()
        };
        assert!(UserData::decode(inputs[0], &no_pdvs).is_err());
    }

    /// The trusted readers of checked list elements give what the full decoders give, on the
    /// common shape and on the shapes they hand back (long forms, other values, a transfer
    /// syntax).
    #[test]
    fn trusted_readers_match_the_decoders() {
        let c = ctx(&Limits::default());
        let defs: [&[u8]; 4] = [
            // 30 { 02 01 01  06 04 52 01 00 01  30 { 06 02 51 01 } }
            &[
                0x30, 0x0f, 0x02, 0x01, 0x01, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30, 0x04, 0x06,
                0x02, 0x51, 0x01,
            ],
            // a two-octet id (127, not minimal) and two transfer syntaxes
            &[
                0x30, 0x13, 0x02, 0x02, 0x00, 0x7f, 0x06, 0x03, 0x28, 0xca, 0x22, 0x30, 0x08, 0x06,
                0x02, 0x51, 0x01, 0x06, 0x02, 0x51, 0x02,
            ],
            // long-form length on the transfer-syntax list
            &[
                0x30, 0x10, 0x02, 0x01, 0x03, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30, 0x81, 0x04,
                0x06, 0x02, 0x51, 0x01,
            ],
            // an empty transfer-syntax list
            &[
                0x30, 0x0b, 0x02, 0x01, 0x05, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30, 0x00,
            ],
        ];
        for d in defs {
            let t = Reader::new(c, d, 7).read().unwrap();
            let full = decode_context_def_general(&c, &t).unwrap();
            assert_eq!(decode_context_def(&c, &t).unwrap(), full, "{d:02x?}");
            let trusted = trusted_context_def(&c, &t).unwrap();
            assert_eq!(trusted, full, "{d:02x?}");
            assert!(
                trusted
                    .transfer_syntaxes
                    .iter()
                    .eq(full.transfer_syntaxes.iter())
            );
            let (
                ContextDefinition {
                    transfer_syntaxes: a,
                    ..
                },
                ContextDefinition {
                    transfer_syntaxes: b,
                    ..
                },
            ) = (trusted, full);
            assert_eq!(format!("{:?}", a.repr), format!("{:?}", b.repr), "{d:02x?}");
            // The iterators' reader from contents alone: the same value, or none.
            let id = t.raw.first().copied().unwrap_or(0);
            if let Some(q) = quick_context_item(&c, id, t.content, t.content_offset, t.depth) {
                assert_eq!(q, full, "{d:02x?}");
                let (
                    ContextDefinition {
                        transfer_syntaxes: q,
                        ..
                    },
                    _,
                ) = (q, ());
                assert_eq!(format!("{:?}", q.repr), format!("{:?}", b.repr), "{d:02x?}");
            }
        }
        // The PDV-list reader from contents alone gives `decode_pdv`'s value or none.
        let pdvs: [&[u8]; 4] = [
            &[0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00],
            &[0x30, 0x08, 0x02, 0x02, 0x00, 0x0b, 0xa0, 0x02, 0x05, 0x00],
            &[
                0x30, 0x0b, 0x06, 0x02, 0x51, 0x01, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00,
            ],
            &[0x30, 0x07, 0x02, 0x01, 0x03, 0x81, 0x02, 0x05, 0x00],
        ];
        let mut quick = 0;
        for p in pdvs {
            let t = Reader::new(c, p, 3).read().unwrap();
            let full = decode_pdv(&c, &t).unwrap();
            let id = t.raw.first().copied().unwrap_or(0);
            if let Some(q) = quick_pdv_item(&c, id, t.content, t.content_offset, t.depth) {
                assert_eq!(q, full, "{p:02x?}");
                quick += 1;
            }
            let o = quick_oid_item(&c, 0x06, &[0x51, 0x01], 0, 0);
            assert_eq!(o, Some(Oid::new(&[0x51, 0x01]).unwrap()));
            assert_eq!(quick_oid_item(&c, 0x26, &[0x51, 0x01], 0, 0), None);
        }
        assert_eq!(quick, 2);
        // The one-pass check defers to the general decoder at every depth limit and on
        // every fault (a non-minimal abstract syntax, a transfer syntax that is no OID).
        for max_depth in 0..=4 {
            let tight = Ctx { max_depth, ..c };
            let t = Reader::new(tight, defs[0], 0).read().unwrap();
            assert_eq!(
                decode_context_def(&tight, &t),
                decode_context_def_general(&tight, &t),
                "{max_depth}"
            );
        }
        let bad: [&[u8]; 2] = [
            &[
                0x30, 0x0f, 0x02, 0x01, 0x01, 0x06, 0x04, 0x80, 0x01, 0x00, 0x01, 0x30, 0x04, 0x06,
                0x02, 0x51, 0x01,
            ],
            &[
                0x30, 0x0f, 0x02, 0x01, 0x01, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30, 0x04, 0x04,
                0x02, 0x51, 0x01,
            ],
        ];
        for d in bad {
            let t = Reader::new(c, d, 7).read().unwrap();
            let e = decode_context_def(&c, &t);
            assert!(e.is_err(), "{d:02x?}");
            assert_eq!(e, decode_context_def_general(&c, &t), "{d:02x?}");
        }
        let pdvs: [&[u8]; 4] = [
            &[0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00],
            // a two-octet id (5, not minimal)
            &[0x30, 0x08, 0x02, 0x02, 0x00, 0x05, 0xa0, 0x02, 0x05, 0x00],
            // with a transfer syntax
            &[
                0x30, 0x0b, 0x06, 0x02, 0x51, 0x01, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00,
            ],
            // octet-aligned
            &[0x30, 0x07, 0x02, 0x01, 0x03, 0x81, 0x02, 0x05, 0x00],
        ];
        for p in pdvs {
            let t = Reader::new(c, p, 3).read().unwrap();
            assert_eq!(
                trusted_pdv(&c, &t).unwrap(),
                decode_pdv(&c, &t).unwrap(),
                "{p:02x?}"
            );
        }
    }

    /// A presentation-context-identifier outside 1..=127 (X.226 §8.2) is refused by every
    /// decoder that reads one, the one-pass paths included, as an invalid value at the
    /// integer's offset.
    #[test]
    fn context_identifiers_outside_the_range_are_refused() {
        let limits = Limits::default();
        let invalid = |at: usize, value: u64| {
            Some(DecodeError::new(
                Layer::Presentation,
                at,
                DecodeErrorKind::InvalidValue {
                    what: "presentation context identifier",
                    value,
                },
            ))
        };
        // One PDV: 61 { 30 { 02 .. id  a0 { 05 00 } } }; the id at offset 4.
        for (id, value) in [
            (&[0x00][..], 0),
            (&[0x80], u64::MAX - 127),
            (&[0xff], u64::MAX),
            (&[0x00, 0x80], 128),
            (&[0x01, 0x00], 256),
        ] {
            let mut pdv = vec![0x02, id.len() as u8];
            pdv.extend_from_slice(id);
            pdv.extend_from_slice(&[0xa0, 0x02, 0x05, 0x00]);
            let mut ud = vec![0x61, (pdv.len() + 2) as u8, 0x30, pdv.len() as u8];
            ud.extend_from_slice(&pdv);
            assert_eq!(
                UserData::decode(&ud, &limits).err(),
                invalid(4, value),
                "{ud:02x?}"
            );
        }
        // The bounds themselves are identifiers.
        for id in [0x01, 0x7f] {
            let ud = [
                0x61, 0x09, 0x30, 0x07, 0x02, 0x01, id, 0xa0, 0x02, 0x05, 0x00,
            ];
            let got = UserData::decode(&ud, &limits).unwrap();
            let ids: Vec<i64> = got.pdvs().map(|p| p.context_id.get()).collect();
            assert_eq!(ids, [i64::from(id)]);
        }
        // A context definition of a CP (a4 { 30 { 02 01 00 … } }), quick and general paths.
        let c = ctx(&limits);
        let def = [
            0x30, 0x0f, 0x02, 0x01, 0x00, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30, 0x04, 0x06,
            0x02, 0x51, 0x01,
        ];
        let t = Reader::new(c, &def, 7).read().unwrap();
        assert_eq!(decode_context_def(&c, &t).err(), invalid(9, 0));
        assert_eq!(trusted_context_def(&c, &t).err(), invalid(9, 0));
        // A context identification of an ARU (30 { 02 01 80 … }).
        let ident = [0x30, 0x08, 0x02, 0x02, 0x00, 0x80, 0x06, 0x02, 0x51, 0x01];
        let t = Reader::new(c, &ident, 0).read().unwrap();
        assert_eq!(decode_context_id(&c, &t).err(), invalid(2, 128));
        // A deletion list entry of an AC.
        let del = [0x02, 0x01, 0x00];
        let t = Reader::new(c, &del, 0).read().unwrap();
        assert_eq!(decode_deletion(&c, &t).err(), invalid(0, 0));
    }

    /// The one-pass P-DATA decoder keeps where its PDV is, not the decoded PDV: User-data
    /// stays the size of a list (it was 104 octets when it held the decoded PDV).
    #[test]
    fn user_data_stays_small() {
        assert!(
            core::mem::size_of::<UserData<'_>>() <= 64,
            "{}",
            core::mem::size_of::<UserData<'_>>()
        );
    }

    /// A decoded list reads its elements in order, the second after the first.
    #[test]
    fn list_iteration_after_the_recorded_first_element() {
        let limits = Limits::default();
        let two = [
            0x61, 0x12, 0x30, 0x07, 0x02, 0x01, 0x03, 0xa0, 0x02, 0x05, 0x00, 0x30, 0x07, 0x02,
            0x01, 0x05, 0xa0, 0x02, 0x04, 0x00,
        ];
        let ud = UserData::decode(&two, &limits).unwrap();
        let ids: Vec<i64> = ud.pdvs().map(|p| p.context_id.get()).collect();
        assert_eq!(ids, [3, 5]);
        assert_eq!(
            ud.pdvs().nth(1).map(|p| p.values),
            Some(PdvValues::SingleAsn1Type(&[0x04, 0x00]))
        );
    }
}
