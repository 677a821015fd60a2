//! ISO 8650-1 / ITU-T X.227 connection-oriented ACSE: AARQ, AARE, RLRQ, RLRE and ABRT
//! (§9.1, module ACSE-1), decoded from the single-ASN1-type value of the ACSE presentation
//! context ([`crate::presentation::PdvValues::SingleAsn1Type`]).
//!
//! ```text
//!  60 LL AARQ   61 LL AARE   62 LL RLRQ   63 LL RLRE   64 LL ABRT      [APPLICATION n]
//! ```
//!
//! Design choices, beyond what X.227 fixes:
//!
//! - **Borrowed.** Names, titles, passwords and user information are slices of the input; the
//!   user-information EXTERNALs are an iterator ([`ExternalList`]).
//! - **AP-title / AE-qualifier form 1** (a Directory Name / RDN) is kept as the raw BER element;
//!   form 2 (OBJECT IDENTIFIER / INTEGER) is decoded. The "same form" rule is not enforced.
//! - **Unknown fields** are skipped in every APDU: X.227 §7.4 asks this only of the AARQ, but
//!   being lenient is what interoperates; the association machine decides whether to abort.
//! - **user-information** must hold at least one EXTERNAL (X.227 `Association-information`,
//!   `SIZE (1, …)`): an empty `be 00` is a `Missing` error.
//! - **Offsets** in errors are relative to the APDU given to [`Apdu::decode`]; add the PDV
//!   value's position with [`crate::DecodeError::shifted`] to locate it in the PPDU.
//!
//! # Example
//!
//! Build the AARQ of an MMS client, encode it, decode it back, and read a peer's RLRQ:
//!
//! ```
//! use osi_stack::Limits;
//! use osi_stack::acse::{Aarq, Apdu, ReleaseRequestReason};
//! use osi_stack::oid::Oid;
//!
//! let aarq = Apdu::Aarq(Aarq::new(Oid::MMS_APPLICATION_CONTEXT));
//! let mut bytes = Vec::new();
//! aarq.encode(&mut bytes)?;
//! assert_eq!(bytes.len(), aarq.encoded_len());
//! // [APPLICATION 0] { [1] { OBJECT IDENTIFIER 1.0.9506.2.3 } }
//! assert_eq!(bytes[..6], [0x60, 0x09, 0xa1, 0x07, 0x06, 0x05]);
//!
//! let Apdu::Aarq(back) = Apdu::decode(&bytes, &Limits::default())? else { unreachable!() };
//! assert_eq!(back.application_context_name.to_string(), "1.0.9506.2.3");
//!
//! // An RLRQ with reason "normal" (X.227 §9.1: `62 03 80 01 00`).
//! let rlrq = Apdu::decode(&[0x62, 0x03, 0x80, 0x01, 0x00], &Limits::default())?;
//! let Apdu::Rlrq(rlrq) = rlrq else { unreachable!() };
//! assert_eq!(rlrq.reason, Some(ReleaseRequestReason(0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bytes::BufMut;

use crate::ber::{self, APPLICATION, CONTEXT, Ctx, Tag, Tlv, UNIVERSAL, bit_set, int_code, seq_of};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;
use crate::oid::Oid;
use crate::presentation::{
    ContextId, OidList, PdvValues, decode_pdv_values, pdv_values_len, put_pdv_values,
    quick_oid_list,
};

#[cfg(feature = "arbitrary")]
mod arbitrary;

const L: Layer = Layer::Acse;

// ---------------------------------------------------------------------------------------------
// Codes

bit_set! {
    /// ACSE protocol-version (X.227 §9.1); only `version1(0)` exists. Absent means version 1.
    ProtocolVersion {
        /// `version1(0)`.
        VERSION_1 = 0,
    }
}

bit_set! {
    /// ACSE-requirements (X.227 §9.1), sender or responder.
    AcseRequirements {
        /// `authentication(0)`.
        AUTHENTICATION = 0,
        /// `application-context-negotiation(1)`.
        APPLICATION_CONTEXT_NEGOTIATION = 1,
    }
}

int_code! {
    /// Associate-result of an AARE (X.227 §9.1).
    AssociateResult {
        /// `accepted(0)`.
        ACCEPTED = 0,
        /// `rejected-permanent(1)`.
        REJECTED_PERMANENT = 1,
        /// `rejected-transient(2)`.
        REJECTED_TRANSIENT = 2,
    }
}

int_code! {
    /// `acse-service-user` values of Associate-source-diagnostic (X.227 §9.1).
    UserDiagnostic {
        /// `null(0)`.
        NULL = 0,
        /// `no-reason-given(1)`.
        NO_REASON_GIVEN = 1,
        /// `application-context-name-not-supported(2)`.
        APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2,
        /// `calling-AP-title-not-recognized(3)`.
        CALLING_AP_TITLE_NOT_RECOGNIZED = 3,
        /// `calling-AP-invocation-identifier-not-recognized(4)`.
        CALLING_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 4,
        /// `calling-AE-qualifier-not-recognized(5)`.
        CALLING_AE_QUALIFIER_NOT_RECOGNIZED = 5,
        /// `calling-AE-invocation-identifier-not-recognized(6)`.
        CALLING_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 6,
        /// `called-AP-title-not-recognized(7)`.
        CALLED_AP_TITLE_NOT_RECOGNIZED = 7,
        /// `called-AP-invocation-identifier-not-recognized(8)`.
        CALLED_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 8,
        /// `called-AE-qualifier-not-recognized(9)`.
        CALLED_AE_QUALIFIER_NOT_RECOGNIZED = 9,
        /// `called-AE-invocation-identifier-not-recognized(10)`.
        CALLED_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 10,
        /// `authentication-mechanism-name-not-recognized(11)`.
        AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED = 11,
        /// `authentication-mechanism-name-required(12)`.
        AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12,
        /// `authentication-failure(13)`.
        AUTHENTICATION_FAILURE = 13,
        /// `authentication-required(14)`.
        AUTHENTICATION_REQUIRED = 14,
    }
}

int_code! {
    /// `acse-service-provider` values of Associate-source-diagnostic (X.227 §9.1).
    ProviderDiagnostic {
        /// `null(0)`.
        NULL = 0,
        /// `no-reason-given(1)`.
        NO_REASON_GIVEN = 1,
        /// `no-common-acse-version(2)`.
        NO_COMMON_ACSE_VERSION = 2,
    }
}

/// Associate-source-diagnostic of an AARE (X.227 §9.1): `a3 { a1 {02 n} | a2 {02 n} }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssociateSourceDiagnostic {
    /// `[1] acse-service-user`.
    User(UserDiagnostic),
    /// `[2] acse-service-provider`.
    Provider(ProviderDiagnostic),
}

int_code! {
    /// Release-request-reason of an RLRQ (X.227 §9.1).
    ReleaseRequestReason {
        /// `normal(0)`.
        NORMAL = 0,
        /// `urgent(1)`.
        URGENT = 1,
        /// `user-defined(30)`.
        USER_DEFINED = 30,
    }
}

int_code! {
    /// Release-response-reason of an RLRE (X.227 §9.1).
    ReleaseResponseReason {
        /// `normal(0)`.
        NORMAL = 0,
        /// `not-finished(1)`.
        NOT_FINISHED = 1,
        /// `user-defined(30)`.
        USER_DEFINED = 30,
    }
}

int_code! {
    /// ABRT-source (X.227 §9.1).
    AbortSource {
        /// `acse-service-user(0)`.
        ACSE_SERVICE_USER = 0,
        /// `acse-service-provider(1)`.
        ACSE_SERVICE_PROVIDER = 1,
    }
}

int_code! {
    /// ABRT-diagnostic (X.227 §9.1, ENUMERATED).
    AbortDiagnostic {
        /// `no-reason-given(1)`.
        NO_REASON_GIVEN = 1,
        /// `protocol-error(2)`.
        PROTOCOL_ERROR = 2,
        /// `authentication-mechanism-name-not-recognized(3)`.
        AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED = 3,
        /// `authentication-mechanism-name-required(4)`.
        AUTHENTICATION_MECHANISM_NAME_REQUIRED = 4,
        /// `authentication-failure(5)`.
        AUTHENTICATION_FAILURE = 5,
        /// `authentication-required(6)`.
        AUTHENTICATION_REQUIRED = 6,
    }
}

// ---------------------------------------------------------------------------------------------
// Names and values

/// AP-title (X.227 §9.1): form 1 a Directory Name, form 2 an OBJECT IDENTIFIER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApTitle<'a> {
    /// `ap-title-form1 Name`: the raw BER element (`30 …`), not decoded.
    Form1(&'a [u8]),
    /// `ap-title-form2 OBJECT IDENTIFIER` (IEC 61850 SCL `OSI-AP-Title` "1,3,9999,23").
    Form2(Oid<'a>),
}

/// AE-qualifier (X.227 §9.1): form 1 a RelativeDistinguishedName, form 2 an INTEGER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeQualifier<'a> {
    /// `ae-qualifier-form1 RelativeDistinguishedName`: the raw BER element (`31 …`).
    Form1(&'a [u8]),
    /// `ae-qualifier-form2 INTEGER`.
    Form2(i64),
}

/// The addressing fields of one side of an association (X.227 §9.1): AP-title, AE-qualifier
/// and invocation identifiers (called or calling in an AARQ, responding in an AARE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApInvocation<'a> {
    /// AP-title.
    pub ap_title: Option<ApTitle<'a>>,
    /// AE-qualifier.
    pub ae_qualifier: Option<AeQualifier<'a>>,
    /// AP-invocation-identifier.
    pub ap_invocation_id: Option<i64>,
    /// AE-invocation-identifier.
    pub ae_invocation_id: Option<i64>,
}

/// Authentication-value (X.227 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticationValue<'a> {
    /// `[0] IMPLICIT GraphicString`: the password of the password mechanism (Annex B).
    Charstring(&'a [u8]),
    /// `[1] IMPLICIT BIT STRING`.
    BitString {
        /// Unused bits in the last octet.
        unused_bits: u8,
        /// The octets.
        data: &'a [u8],
    },
    /// `[2] IMPLICIT EXTERNAL`: the raw content octets.
    External(&'a [u8]),
    /// `[3] IMPLICIT SEQUENCE { other-mechanism-name, other-mechanism-value }`: raw content octets.
    Other(&'a [u8]),
}

/// One EXTERNAL of user-information (X.227 §9.1 `Association-information`, X.690 §8.18).
///
/// ```text
///  28 LL { [06 direct-reference] [02 indirect-reference] [07 descriptor] a0|81|82 encoding }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct External<'a> {
    /// direct-reference (the transfer syntax, sent by some peers).
    pub direct_reference: Option<Oid<'a>>,
    /// indirect-reference: the presentation context identifier (normal mode, X.227 §7.1.4.1);
    /// an integer outside [`ContextId`]'s range is refused when decoded.
    pub indirect_reference: Option<ContextId>,
    /// data-value-descriptor (ObjectDescriptor octets).
    pub data_value_descriptor: Option<&'a [u8]>,
    /// The encoding: single-ASN1-type, octet-aligned or arbitrary.
    pub encoding: PdvValues<'a>,
}

const EXTERNAL: Tag = Tag::new(UNIVERSAL, true, 8);
const DESCRIPTOR: Tag = Tag::new(UNIVERSAL, false, 7);

fn decode_external<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<External<'a>, DecodeError> {
    if t.tag != EXTERNAL {
        return Err(c.err(
            t.offset,
            DecodeErrorKind::UnexpectedCode {
                what: "tag instead of external",
                code: t.raw.first().copied().unwrap_or(0),
            },
        ));
    }
    let mut r = ber::children(*c, t)?;
    let direct_reference = match r.next_if(UNIVERSAL, 6)? {
        Some(o) => Some(ber::oid(c, &o)?),
        None => None,
    };
    let indirect_reference = match r.next_if(UNIVERSAL, 2)? {
        Some(i) => Some(ContextId::decode(c, &i)?),
        None => None,
    };
    let data_value_descriptor = match r.next_if(UNIVERSAL, 7)? {
        Some(d) => Some(ber::primitive(c, &d, "constructed object descriptor")?),
        None => None,
    };
    if r.is_empty() {
        return Err(c.err(
            r.pos(),
            DecodeErrorKind::Missing {
                what: "external encoding",
            },
        ));
    }
    let encoding = decode_pdv_values(c, &r.read()?)?;
    r.finish("external")?;
    Ok(External {
        direct_reference,
        indirect_reference,
        data_value_descriptor,
        encoding,
    })
}

fn external_content_len(e: &External<'_>) -> usize {
    opt_len(&e.direct_reference, |o| {
        ber::tlv_len(Tag::OID, o.as_bytes().len())
    })
    .saturating_add(opt_len(&e.indirect_reference, |i| i.int_len(Tag::INTEGER)))
    .saturating_add(opt_len(&e.data_value_descriptor, |d| {
        ber::tlv_len(DESCRIPTOR, d.len())
    }))
    .saturating_add(pdv_values_len(&e.encoding))
}

fn external_len(e: &External<'_>) -> usize {
    ber::tlv_len(EXTERNAL, external_content_len(e))
}

fn put_external<B: BufMut + ?Sized>(e: &External<'_>, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_header(L, buf, EXTERNAL, external_content_len(e))?;
    if let Some(o) = &e.direct_reference {
        ber::put_prim(L, buf, Tag::OID, o.as_bytes())?;
    }
    if let Some(i) = e.indirect_reference {
        ber::put_int(L, buf, Tag::INTEGER, i.get())?;
    }
    if let Some(d) = e.data_value_descriptor {
        ber::put_prim(L, buf, DESCRIPTOR, d)?;
    }
    put_pdv_values(L, &e.encoding, buf)
}

seq_of! {
    /// User-information: `SEQUENCE OF EXTERNAL` (X.227 §9.1 `Association-information`).
    ExternalList, ExternalIter, External, decode_external, external_len, put_external
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn opt_len<T>(v: &Option<T>, f: impl FnOnce(&T) -> usize) -> usize {
    v.as_ref().map_or(0, f)
}

/// The single element inside an explicit tag.
fn explicit<'a>(c: &Ctx, t: &Tlv<'a>, what: &'static str) -> Result<Tlv<'a>, DecodeError> {
    let mut r = ber::children(*c, t)?;
    if r.is_empty() {
        return Err(c.err(t.offset, DecodeErrorKind::Missing { what }));
    }
    let inner = r.read()?;
    r.finish(what)?;
    Ok(inner)
}

fn explicit_oid<'a>(c: &Ctx, t: &Tlv<'a>, what: &'static str) -> Result<Oid<'a>, DecodeError> {
    let i = explicit(c, t, what)?;
    if i.tag != Tag::OID {
        return Err(c.ber(i.offset, "object identifier expected"));
    }
    ber::oid(c, &i)
}

fn explicit_int(c: &Ctx, t: &Tlv<'_>, what: &'static str) -> Result<i64, DecodeError> {
    let i = explicit(c, t, what)?;
    if i.tag != Tag::INTEGER {
        return Err(c.ber(i.offset, "integer expected"));
    }
    ber::integer(c, &i)
}

fn ap_title<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<ApTitle<'a>, DecodeError> {
    let i = explicit(c, t, "ap-title")?;
    if i.tag == Tag::OID {
        Ok(ApTitle::Form2(ber::oid(c, &i)?))
    } else if i.tag == Tag::SEQUENCE {
        Ok(ApTitle::Form1(i.raw))
    } else {
        Err(c.ber(i.offset, "unknown ap-title form"))
    }
}

fn ae_qualifier<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<AeQualifier<'a>, DecodeError> {
    let i = explicit(c, t, "ae-qualifier")?;
    if i.tag == Tag::INTEGER {
        Ok(AeQualifier::Form2(ber::integer(c, &i)?))
    } else if i.tag == Tag::SET {
        Ok(AeQualifier::Form1(i.raw))
    } else {
        Err(c.ber(i.offset, "unknown ae-qualifier form"))
    }
}

fn auth_value<'a>(c: &Ctx, t: &Tlv<'a>) -> Result<AuthenticationValue<'a>, DecodeError> {
    let i = explicit(c, t, "authentication value")?;
    match (i.tag.class, i.tag.number, i.tag.constructed) {
        (CONTEXT, 0, false) => Ok(AuthenticationValue::Charstring(i.content)),
        (CONTEXT, 1, false) => {
            let (&unused_bits, data) = i
                .content
                .split_first()
                .ok_or_else(|| c.ber(i.offset, "empty bit string"))?;
            if unused_bits > 7 || (data.is_empty() && unused_bits != 0) {
                return Err(c.ber(i.offset, "invalid bit string unused-bit count"));
            }
            Ok(AuthenticationValue::BitString { unused_bits, data })
        }
        (CONTEXT, 2, true) => Ok(AuthenticationValue::External(i.content)),
        (CONTEXT, 3, true) => Ok(AuthenticationValue::Other(i.content)),
        _ => Err(c.ber(i.offset, "unknown authentication value form")),
    }
}

fn auth_inner(v: &AuthenticationValue<'_>) -> (Tag, usize) {
    match v {
        AuthenticationValue::Charstring(b) => (Tag::ctx(0), b.len()),
        AuthenticationValue::BitString { data, .. } => (Tag::ctx(1), data.len().saturating_add(1)),
        AuthenticationValue::External(b) => (Tag::ctx_cons(2), b.len()),
        AuthenticationValue::Other(b) => (Tag::ctx_cons(3), b.len()),
    }
}

fn put_auth<B: BufMut + ?Sized>(
    v: &AuthenticationValue<'_>,
    n: u32,
    buf: &mut B,
) -> Result<(), EncodeError> {
    let (tag, len) = auth_inner(v);
    ber::put_header(L, buf, Tag::ctx_cons(n), ber::tlv_len(tag, len))?;
    ber::put_header(L, buf, tag, len)?;
    match v {
        AuthenticationValue::Charstring(b)
        | AuthenticationValue::External(b)
        | AuthenticationValue::Other(b) => ber::put_raw(L, buf, b),
        AuthenticationValue::BitString { unused_bits, data } => {
            ber::put_raw(L, buf, &[*unused_bits])?;
            ber::put_raw(L, buf, data)
        }
    }
}

fn auth_len(v: &AuthenticationValue<'_>) -> usize {
    let (tag, len) = auth_inner(v);
    ber::tlv_len(Tag::ctx_cons(0), ber::tlv_len(tag, len))
}

fn ap_title_inner_len(t: &ApTitle<'_>) -> usize {
    match t {
        ApTitle::Form1(raw) => raw.len(),
        ApTitle::Form2(o) => ber::tlv_len(Tag::OID, o.as_bytes().len()),
    }
}

fn ae_qualifier_inner_len(q: &AeQualifier<'_>) -> usize {
    match q {
        AeQualifier::Form1(raw) => raw.len(),
        AeQualifier::Form2(i) => ber::int_len(Tag::INTEGER, *i),
    }
}

/// Encoded size of explicit `[n] { inner }` (the tag number does not change the size below 31).
fn explicit_len(inner: usize) -> usize {
    ber::tlv_len(Tag::ctx_cons(0), inner)
}

impl<'a> ApInvocation<'a> {
    /// Decodes the element if its tag number is one of the four from `first`; returns whether
    /// it was.
    fn take(&mut self, c: &Ctx, e: &Tlv<'a>, first: u32) -> Result<bool, DecodeError> {
        if e.tag.class != CONTEXT {
            return Ok(false);
        }
        match e.tag.number.checked_sub(first) {
            Some(0) => self.ap_title = Some(ap_title(c, e)?),
            Some(1) => self.ae_qualifier = Some(ae_qualifier(c, e)?),
            Some(2) => {
                self.ap_invocation_id = Some(explicit_int(c, e, "ap-invocation-identifier")?)
            }
            Some(3) => {
                self.ae_invocation_id = Some(explicit_int(c, e, "ae-invocation-identifier")?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn encoded_len(&self) -> usize {
        opt_len(&self.ap_title, |t| explicit_len(ap_title_inner_len(t)))
            .saturating_add(opt_len(&self.ae_qualifier, |q| {
                explicit_len(ae_qualifier_inner_len(q))
            }))
            .saturating_add(opt_len(&self.ap_invocation_id, |i| {
                explicit_len(ber::int_len(Tag::INTEGER, *i))
            }))
            .saturating_add(opt_len(&self.ae_invocation_id, |i| {
                explicit_len(ber::int_len(Tag::INTEGER, *i))
            }))
    }

    fn encode<B: BufMut + ?Sized>(&self, first: u32, buf: &mut B) -> Result<(), EncodeError> {
        if let Some(t) = &self.ap_title {
            ber::put_header(L, buf, Tag::ctx_cons(first), ap_title_inner_len(t))?;
            match t {
                ApTitle::Form1(raw) => ber::put_raw(L, buf, raw)?,
                ApTitle::Form2(o) => ber::put_prim(L, buf, Tag::OID, o.as_bytes())?,
            }
        }
        if let Some(q) = &self.ae_qualifier {
            ber::put_header(
                L,
                buf,
                Tag::ctx_cons(first.saturating_add(1)),
                ae_qualifier_inner_len(q),
            )?;
            match q {
                AeQualifier::Form1(raw) => ber::put_raw(L, buf, raw)?,
                AeQualifier::Form2(i) => ber::put_int(L, buf, Tag::INTEGER, *i)?,
            }
        }
        for (k, v) in [(2u32, self.ap_invocation_id), (3, self.ae_invocation_id)] {
            if let Some(i) = v {
                ber::put_header(
                    L,
                    buf,
                    Tag::ctx_cons(first.saturating_add(k)),
                    ber::int_len(Tag::INTEGER, i),
                )?;
                ber::put_int(L, buf, Tag::INTEGER, i)?;
            }
        }
        Ok(())
    }
}

fn put_explicit_oid<B: BufMut + ?Sized>(
    n: u32,
    o: &Oid<'_>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    let inner = ber::tlv_len(Tag::OID, o.as_bytes().len());
    ber::put_header(L, buf, Tag::ctx_cons(n), inner)?;
    ber::put_prim(L, buf, Tag::OID, o.as_bytes())
}

fn put_explicit_int<B: BufMut + ?Sized>(n: u32, v: i64, buf: &mut B) -> Result<(), EncodeError> {
    ber::put_header(L, buf, Tag::ctx_cons(n), ber::int_len(Tag::INTEGER, v))?;
    ber::put_int(L, buf, Tag::INTEGER, v)
}

fn oid_explicit_len(o: &Oid<'_>) -> usize {
    explicit_len(ber::tlv_len(Tag::OID, o.as_bytes().len()))
}

const IMPL_INFO: Tag = Tag::ctx(29);
const USER_INFO: Tag = Tag::ctx_cons(30);

fn user_info_len(u: &Option<ExternalList<'_>>) -> usize {
    opt_len(u, |l| ber::tlv_len(USER_INFO, l.content_len()))
}

fn put_user_info<B: BufMut + ?Sized>(
    u: &Option<ExternalList<'_>>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    if let Some(l) = u {
        ber::put_header(L, buf, USER_INFO, l.content_len())?;
        l.encode_content(buf)?;
    }
    Ok(())
}

fn decode_user_info<'a>(c: &Ctx, e: &Tlv<'a>) -> Result<ExternalList<'a>, DecodeError> {
    let l = ExternalList::decode(c, e, None)?;
    if l.is_empty() {
        return Err(c.err(
            e.offset,
            DecodeErrorKind::Missing {
                what: "user-information external",
            },
        ));
    }
    Ok(l)
}

fn decode_ctx_list<'a>(c: &Ctx, e: &Tlv<'a>, limits: &Limits) -> Result<OidList<'a>, DecodeError> {
    OidList::decode(c, e, Some(("max_contexts", limits.max_contexts)))
}

/// The fields AARQ and AARE share after their own ones: ACSE requirements, mechanism name,
/// authentication value and application-context-name list at four consecutive tags from
/// `first_tag` (AARQ `[10]`, AARE `[8]`), then implementation information and user information.
struct AssociationTail<'s, 'a> {
    first_tag: u32,
    requirements: Option<AcseRequirements>,
    mechanism_name: Option<Oid<'a>>,
    authentication_value: &'s Option<AuthenticationValue<'a>>,
    application_context_name_list: &'s Option<OidList<'a>>,
    implementation_information: Option<&'a [u8]>,
    user_information: &'s Option<ExternalList<'a>>,
}

impl AssociationTail<'_, '_> {
    fn encoded_len(&self) -> usize {
        let n = self.first_tag;
        opt_len(&self.requirements, |v| ber::bits_len(Tag::ctx(n), v.0))
            .saturating_add(opt_len(&self.mechanism_name, |o| {
                ber::tlv_len(Tag::ctx(n.saturating_add(1)), o.as_bytes().len())
            }))
            .saturating_add(opt_len(self.authentication_value, auth_len))
            .saturating_add(ctx_list_len(self.application_context_name_list))
            .saturating_add(opt_len(&self.implementation_information, |b| {
                ber::tlv_len(IMPL_INFO, b.len())
            }))
            .saturating_add(user_info_len(self.user_information))
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let n = self.first_tag;
        put_opt_bits(Tag::ctx(n), self.requirements.map(|v| v.0), buf)?;
        put_opt_prim(
            Tag::ctx(n.saturating_add(1)),
            self.mechanism_name.map(|o| o.as_bytes()),
            buf,
        )?;
        if let Some(a) = self.authentication_value {
            put_auth(a, n.saturating_add(2), buf)?;
        }
        put_ctx_list(n.saturating_add(3), self.application_context_name_list, buf)?;
        put_opt_prim(IMPL_INFO, self.implementation_information, buf)?;
        put_user_info(self.user_information, buf)
    }
}

fn put_ctx_list<B: BufMut + ?Sized>(
    n: u32,
    l: &Option<OidList<'_>>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    if let Some(l) = l {
        ber::put_header(L, buf, Tag::ctx_cons(n), l.content_len())?;
        l.encode_content(buf)?;
    }
    Ok(())
}

fn ctx_list_len(l: &Option<OidList<'_>>) -> usize {
    opt_len(l, |l| ber::tlv_len(Tag::ctx_cons(0), l.content_len()))
}

fn put_opt_bits<B: BufMut + ?Sized>(
    tag: Tag,
    v: Option<u32>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    match v {
        Some(v) => ber::put_bits(L, buf, tag, v),
        None => Ok(()),
    }
}

fn put_opt_prim<B: BufMut + ?Sized>(
    tag: Tag,
    v: Option<&[u8]>,
    buf: &mut B,
) -> Result<(), EncodeError> {
    match v {
        Some(b) => ber::put_prim(L, buf, tag, b),
        None => Ok(()),
    }
}

fn missing(c: &Ctx, t: &Tlv<'_>, what: &'static str) -> DecodeError {
    c.err(t.offset, DecodeErrorKind::Missing { what })
}

// ---------------------------------------------------------------------------------------------
// APDUs

/// A-ASSOCIATE-REQUEST APDU (X.227 §9.1): `60 LL { 80 version, a1 {06 context}, a2..a5 called,
/// a6..a9 calling, 8a requirements, 8b mechanism, ac {auth}, ad {names}, 9d impl, be {EXTERNAL…} }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aarq<'a> {
    /// `[0]` protocol-version (absent = version1).
    pub protocol_version: Option<ProtocolVersion>,
    /// `[1]` application-context-name (mandatory).
    pub application_context_name: Oid<'a>,
    /// `[2]`–`[5]` called AP-title, AE-qualifier, AP- and AE-invocation-identifier.
    pub called: ApInvocation<'a>,
    /// `[6]`–`[9]` calling AP-title, AE-qualifier, AP- and AE-invocation-identifier.
    pub calling: ApInvocation<'a>,
    /// `[10]` sender-acse-requirements.
    pub sender_requirements: Option<AcseRequirements>,
    /// `[11]` mechanism-name (2.2.3.1 = password, Annex B).
    pub mechanism_name: Option<Oid<'a>>,
    /// `[12]` calling-authentication-value.
    pub authentication_value: Option<AuthenticationValue<'a>>,
    /// `[13]` application-context-name-list.
    pub application_context_name_list: Option<OidList<'a>>,
    /// `[29]` implementation-information (GraphicString octets).
    pub implementation_information: Option<&'a [u8]>,
    /// `[30]` user-information.
    pub user_information: Option<ExternalList<'a>>,
}

impl<'a> Aarq<'a> {
    /// An AARQ with only the application context name.
    pub fn new(application_context_name: Oid<'a>) -> Self {
        Aarq {
            protocol_version: None,
            application_context_name,
            called: ApInvocation::default(),
            calling: ApInvocation::default(),
            sender_requirements: None,
            mechanism_name: None,
            authentication_value: None,
            application_context_name_list: None,
            implementation_information: None,
            user_information: None,
        }
    }

    fn content_len(&self) -> usize {
        opt_len(&self.protocol_version, |v| ber::bits_len(Tag::ctx(0), v.0))
            .saturating_add(oid_explicit_len(&self.application_context_name))
            .saturating_add(self.called.encoded_len())
            .saturating_add(self.calling.encoded_len())
            .saturating_add(self.tail().encoded_len())
    }

    /// Fields `[10]`–`[13]`, implementation information and user information.
    fn tail(&self) -> AssociationTail<'_, 'a> {
        AssociationTail {
            first_tag: 10,
            requirements: self.sender_requirements,
            mechanism_name: self.mechanism_name,
            authentication_value: &self.authentication_value,
            application_context_name_list: &self.application_context_name_list,
            implementation_information: self.implementation_information,
            user_information: &self.user_information,
        }
    }

    fn encode_content<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_opt_bits(Tag::ctx(0), self.protocol_version.map(|v| v.0), buf)?;
        put_explicit_oid(1, &self.application_context_name, buf)?;
        self.called.encode(2, buf)?;
        self.calling.encode(6, buf)?;
        self.tail().encode(buf)
    }

    fn decode(c: &Ctx, t: &Tlv<'a>, limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = ber::children(*c, t)?;
        let mut out = Aarq::new(Oid::BER);
        let mut name = None;
        while !r.is_empty() {
            let e = r.read()?;
            if e.tag.class != CONTEXT || out.called.take(c, &e, 2)? || out.calling.take(c, &e, 6)? {
                continue;
            }
            match e.tag.number {
                0 => out.protocol_version = Some(ProtocolVersion(ber::bits(c, &e)?)),
                1 => name = Some(explicit_oid(c, &e, "application context name")?),
                10 => out.sender_requirements = Some(AcseRequirements(ber::bits(c, &e)?)),
                11 => out.mechanism_name = Some(ber::oid(c, &e)?),
                12 => out.authentication_value = Some(auth_value(c, &e)?),
                13 => out.application_context_name_list = Some(decode_ctx_list(c, &e, limits)?),
                29 => {
                    out.implementation_information = Some(ber::primitive(
                        c,
                        &e,
                        "constructed implementation information",
                    )?)
                }
                30 => out.user_information = Some(decode_user_info(c, &e)?),
                _ => {}
            }
        }
        out.application_context_name =
            name.ok_or_else(|| missing(c, t, "application context name"))?;
        Ok(out)
    }
}

/// A-ASSOCIATE-RESPONSE APDU (X.227 §9.1): `61 LL { 80 version, a1 {06 context}, a2 {02 result},
/// a3 {diagnostic}, a4..a7 responding, 88 requirements, 89 mechanism, aa {auth}, ab {names},
/// 9d impl, be {EXTERNAL…} }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aare<'a> {
    /// `[0]` protocol-version.
    pub protocol_version: Option<ProtocolVersion>,
    /// `[1]` application-context-name (mandatory).
    pub application_context_name: Oid<'a>,
    /// `[2]` result (mandatory).
    pub result: AssociateResult,
    /// `[3]` result-source-diagnostic (mandatory).
    pub result_source_diagnostic: AssociateSourceDiagnostic,
    /// `[4]`–`[7]` responding AP-title, AE-qualifier, AP- and AE-invocation-identifier.
    pub responding: ApInvocation<'a>,
    /// `[8]` responder-acse-requirements.
    pub responder_requirements: Option<AcseRequirements>,
    /// `[9]` mechanism-name.
    pub mechanism_name: Option<Oid<'a>>,
    /// `[10]` responding-authentication-value.
    pub authentication_value: Option<AuthenticationValue<'a>>,
    /// `[11]` application-context-name-list.
    pub application_context_name_list: Option<OidList<'a>>,
    /// `[29]` implementation-information.
    pub implementation_information: Option<&'a [u8]>,
    /// `[30]` user-information.
    pub user_information: Option<ExternalList<'a>>,
}

fn diagnostic_inner(d: &AssociateSourceDiagnostic) -> (u32, i64) {
    match d {
        AssociateSourceDiagnostic::User(v) => (1, v.0),
        AssociateSourceDiagnostic::Provider(v) => (2, v.0),
    }
}

impl<'a> Aare<'a> {
    /// An AARE with the mandatory fields only.
    pub fn new(
        application_context_name: Oid<'a>,
        result: AssociateResult,
        result_source_diagnostic: AssociateSourceDiagnostic,
    ) -> Self {
        Aare {
            protocol_version: None,
            application_context_name,
            result,
            result_source_diagnostic,
            responding: ApInvocation::default(),
            responder_requirements: None,
            mechanism_name: None,
            authentication_value: None,
            application_context_name_list: None,
            implementation_information: None,
            user_information: None,
        }
    }

    fn content_len(&self) -> usize {
        let (_, d) = diagnostic_inner(&self.result_source_diagnostic);
        opt_len(&self.protocol_version, |v| ber::bits_len(Tag::ctx(0), v.0))
            .saturating_add(oid_explicit_len(&self.application_context_name))
            .saturating_add(explicit_len(ber::int_len(Tag::INTEGER, self.result.0)))
            .saturating_add(explicit_len(explicit_len(ber::int_len(Tag::INTEGER, d))))
            .saturating_add(self.responding.encoded_len())
            .saturating_add(self.tail().encoded_len())
    }

    /// Fields `[8]`–`[11]`, implementation information and user information.
    fn tail(&self) -> AssociationTail<'_, 'a> {
        AssociationTail {
            first_tag: 8,
            requirements: self.responder_requirements,
            mechanism_name: self.mechanism_name,
            authentication_value: &self.authentication_value,
            application_context_name_list: &self.application_context_name_list,
            implementation_information: self.implementation_information,
            user_information: &self.user_information,
        }
    }

    fn encode_content<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        put_opt_bits(Tag::ctx(0), self.protocol_version.map(|v| v.0), buf)?;
        put_explicit_oid(1, &self.application_context_name, buf)?;
        put_explicit_int(2, self.result.0, buf)?;
        let (n, d) = diagnostic_inner(&self.result_source_diagnostic);
        ber::put_header(
            L,
            buf,
            Tag::ctx_cons(3),
            explicit_len(ber::int_len(Tag::INTEGER, d)),
        )?;
        put_explicit_int(n, d, buf)?;
        self.responding.encode(4, buf)?;
        self.tail().encode(buf)
    }

    fn decode(c: &Ctx, t: &Tlv<'a>, limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = ber::children(*c, t)?;
        let mut out = Aare::new(
            Oid::BER,
            AssociateResult::ACCEPTED,
            AssociateSourceDiagnostic::User(UserDiagnostic::NULL),
        );
        let (mut name, mut result, mut diag) = (None, None, None);
        while !r.is_empty() {
            let e = r.read()?;
            if e.tag.class != CONTEXT || out.responding.take(c, &e, 4)? {
                continue;
            }
            match e.tag.number {
                0 => out.protocol_version = Some(ProtocolVersion(ber::bits(c, &e)?)),
                1 => name = Some(explicit_oid(c, &e, "application context name")?),
                2 => result = Some(AssociateResult(explicit_int(c, &e, "result")?)),
                3 => {
                    let i = explicit(c, &e, "result source diagnostic")?;
                    let v = explicit_int(c, &i, "result source diagnostic")?;
                    diag = Some(match (i.tag.class, i.tag.number) {
                        (CONTEXT, 1) => AssociateSourceDiagnostic::User(UserDiagnostic(v)),
                        (CONTEXT, 2) => AssociateSourceDiagnostic::Provider(ProviderDiagnostic(v)),
                        _ => return Err(c.ber(i.offset, "unknown result source diagnostic")),
                    });
                }
                8 => out.responder_requirements = Some(AcseRequirements(ber::bits(c, &e)?)),
                9 => out.mechanism_name = Some(ber::oid(c, &e)?),
                10 => out.authentication_value = Some(auth_value(c, &e)?),
                11 => out.application_context_name_list = Some(decode_ctx_list(c, &e, limits)?),
                29 => {
                    out.implementation_information = Some(ber::primitive(
                        c,
                        &e,
                        "constructed implementation information",
                    )?)
                }
                30 => out.user_information = Some(decode_user_info(c, &e)?),
                _ => {}
            }
        }
        out.application_context_name =
            name.ok_or_else(|| missing(c, t, "application context name"))?;
        out.result = result.ok_or_else(|| missing(c, t, "associate result"))?;
        out.result_source_diagnostic =
            diag.ok_or_else(|| missing(c, t, "result source diagnostic"))?;
        Ok(out)
    }
}

/// A-RELEASE-REQUEST APDU (X.227 §9.1): `62 LL { [80 reason] [be {EXTERNAL…}] }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rlrq<'a> {
    /// `[0]` reason.
    pub reason: Option<ReleaseRequestReason>,
    /// `[30]` user-information.
    pub user_information: Option<ExternalList<'a>>,
}

/// A-RELEASE-RESPONSE APDU (X.227 §9.1): `63 LL { [80 reason] [be {EXTERNAL…}] }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rlre<'a> {
    /// `[0]` reason.
    pub reason: Option<ReleaseResponseReason>,
    /// `[30]` user-information.
    pub user_information: Option<ExternalList<'a>>,
}

/// A-ABORT APDU (X.227 §9.1): `64 LL { 80 source [81 diagnostic] [be {EXTERNAL…}] }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abrt<'a> {
    /// `[0]` abort-source (mandatory).
    pub source: AbortSource,
    /// `[1]` abort-diagnostic.
    pub diagnostic: Option<AbortDiagnostic>,
    /// `[30]` user-information.
    pub user_information: Option<ExternalList<'a>>,
}

// ---------------------------------------------------------------------------------------------
// One-pass AARQ decoder
//
// It accepts a subset of what the general decoder accepts (elements as `ber::quick_tlv` reads
// them, every form the general decoder would reject sent back with `None`) and builds the value
// the general decoder builds (lists as the same `SeqRepr::Encoded`). `None` is never an answer
// to the caller: it sends the input to the general decoder, which decides.

/// Depth the one-pass AARQ decoder needs from `max_ber_depth` (the general decoder's count):
/// AARQ 1, its fields 2, explicit contents and list elements 3, EXTERNAL children 4, the
/// single-ASN1-type value 5.
const QUICK_AARQ_DEPTH: usize = 5;

/// The one element inside an explicit tag's contents `v`: (identifier, contents, whole
/// element), as [`explicit`] reads it.
#[inline(always)]
fn quick_explicit(v: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (id, _, content, []) = ber::quick_tlv(v)? else {
        return None;
    };
    Some((id, content, v))
}

/// [`ap_title`] of explicit contents `v`.
#[inline(always)]
fn quick_ap_title(v: &[u8]) -> Option<ApTitle<'_>> {
    match quick_explicit(v)? {
        (0x06, oid, _) => Some(ApTitle::Form2(Oid::new(oid).ok()?)),
        (0x30, _, raw) => Some(ApTitle::Form1(raw)),
        _ => None,
    }
}

/// [`ae_qualifier`] of explicit contents `v`.
#[inline(always)]
fn quick_ae_qualifier(v: &[u8]) -> Option<AeQualifier<'_>> {
    match quick_explicit(v)? {
        (0x02, i, _) => Some(AeQualifier::Form2(ber::trusted_int(i)?)),
        (0x31, _, raw) => Some(AeQualifier::Form1(raw)),
        _ => None,
    }
}

/// [`explicit_int`] of explicit contents `v`.
#[inline(always)]
fn quick_explicit_int(v: &[u8]) -> Option<i64> {
    let (0x02, i, _) = quick_explicit(v)? else {
        return None;
    };
    ber::trusted_int(i)
}

/// [`auth_value`] of explicit contents `v`.
#[inline(always)]
fn quick_auth_value(v: &[u8]) -> Option<AuthenticationValue<'_>> {
    match quick_explicit(v)? {
        (0x80, s, _) => Some(AuthenticationValue::Charstring(s)),
        (0x81, b, _) => {
            let (&unused_bits, data) = b.split_first()?;
            if unused_bits > 7 || (data.is_empty() && unused_bits != 0) {
                return None;
            }
            Some(AuthenticationValue::BitString { unused_bits, data })
        }
        (0xa2, e, _) => Some(AuthenticationValue::External(e)),
        (0xa3, o, _) => Some(AuthenticationValue::Other(o)),
        _ => None,
    }
}

/// User-information contents (`[30]` at absolute `base`, EXTERNALs at depth 3): what
/// [`decode_user_info`] checks, for EXTERNALs `28 { [06] [02] [07] a0 {value} | 81 | 82 }`.
#[inline]
fn quick_user_info(content: &[u8], base: usize, c: Ctx) -> Option<ExternalList<'_>> {
    if content.is_empty() {
        return None;
    }
    let mut b = content;
    while !b.is_empty() {
        let (_, mut e, next) = ber::quick_tlv_of(b, 0x28)?;
        if let Some((_, oid, r)) = ber::quick_tlv_of(e, 0x06) {
            Oid::new(oid).ok()?;
            e = r;
        }
        if let Some((_, i, r)) = ber::quick_tlv_of(e, 0x02) {
            // An indirect-reference outside 1..=127 goes to the general decoder, which
            // refuses it.
            ber::trusted_int(i).and_then(ContextId::new)?;
            e = r;
        }
        if let Some((_, _, r)) = ber::quick_tlv_of(e, 0x07) {
            e = r;
        }
        let (id, _, v, []) = ber::quick_tlv(e)? else {
            return None;
        };
        match id {
            0xa0 => {
                let (_, _, _, []) = ber::quick_tlv(v)? else {
                    return None;
                };
            }
            0x81 => {}
            0x82 => {
                let (&unused, data) = v.split_first()?;
                if unused > 7 || (data.is_empty() && unused != 0) {
                    return None;
                }
            }
            _ => return None,
        }
        b = next;
    }
    Some(ExternalList::checked(content, base, 3, c))
}

/// [`Apdu::decode`]'s one-pass path for an AARQ (see the section comment).
#[inline]
#[cfg(test)]
fn quick_aarq<'a>(input: &'a [u8], limits: &Limits) -> Option<Aarq<'a>> {
    let mut out = Aarq::new(Oid::BER);
    quick_aarq_into(input, limits, &mut out)?;
    Some(out)
}

/// [`quick_aarq`] writing the fields into `out` (an `Aarq::new`), where the caller keeps it:
/// the APDU is built once in place instead of being moved out of the decoder.
#[inline]
fn quick_aarq_into<'a>(input: &'a [u8], limits: &Limits, out: &mut Aarq<'a>) -> Option<()> {
    let (hl, content, []) = ber::quick_tlv_of(input, 0x60)? else {
        return None;
    };
    if limits.max_ber_depth < QUICK_AARQ_DEPTH {
        return None;
    }
    let c = Ctx {
        layer: L,
        max_depth: limits.max_ber_depth,
    };
    let mut name = None;
    let mut b = content;
    while !b.is_empty() {
        let (id, ehl, v, next) = ber::quick_tlv(b)?;
        let v_at = || {
            hl.wrapping_add(content.len().wrapping_sub(b.len()))
                .wrapping_add(ehl)
        };
        match id {
            0x80 => out.protocol_version = Some(ProtocolVersion(ber::quick_bits(v)?)),
            0xa1 => {
                let (0x06, oid, _) = quick_explicit(v)? else {
                    return None;
                };
                name = Some(Oid::new(oid).ok()?);
            }
            0xa2 => out.called.ap_title = Some(quick_ap_title(v)?),
            0xa3 => out.called.ae_qualifier = Some(quick_ae_qualifier(v)?),
            0xa4 => out.called.ap_invocation_id = Some(quick_explicit_int(v)?),
            0xa5 => out.called.ae_invocation_id = Some(quick_explicit_int(v)?),
            0xa6 => out.calling.ap_title = Some(quick_ap_title(v)?),
            0xa7 => out.calling.ae_qualifier = Some(quick_ae_qualifier(v)?),
            0xa8 => out.calling.ap_invocation_id = Some(quick_explicit_int(v)?),
            0xa9 => out.calling.ae_invocation_id = Some(quick_explicit_int(v)?),
            0x8a => out.sender_requirements = Some(AcseRequirements(ber::quick_bits(v)?)),
            0x8b => out.mechanism_name = Some(Oid::new(v).ok()?),
            0xac => out.authentication_value = Some(quick_auth_value(v)?),
            0xad => {
                out.application_context_name_list =
                    Some(quick_oid_list(v, v_at(), 3, c, limits.max_contexts)?)
            }
            0x9d => out.implementation_information = Some(v),
            0xbe => out.user_information = Some(quick_user_info(v, v_at(), c)?),
            // Other forms of the fields above: errors the general decoder names.
            _ if id & 0xc0 == 0x80 && matches!(id & 0x1f, 0..=13 | 29 | 30) => return None,
            _ => {}
        }
        b = next;
    }
    out.application_context_name = name?;
    Some(())
}

/// An ACSE APDU (X.227 §9.1), told apart by its `[APPLICATION n]` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apdu<'a> {
    /// `[APPLICATION 0]` A-ASSOCIATE-REQUEST.
    Aarq(Aarq<'a>),
    /// `[APPLICATION 1]` A-ASSOCIATE-RESPONSE.
    Aare(Aare<'a>),
    /// `[APPLICATION 2]` A-RELEASE-REQUEST.
    Rlrq(Rlrq<'a>),
    /// `[APPLICATION 3]` A-RELEASE-RESPONSE.
    Rlre(Rlre<'a>),
    /// `[APPLICATION 4]` A-ABORT.
    Abrt(Abrt<'a>),
}

impl<'a> Apdu<'a> {
    /// Decodes one APDU; the whole input must be the APDU (typically the
    /// [`PdvValues::SingleAsn1Type`] value of the ACSE presentation context).
    ///
    /// An AARQ in the common shape (every element in the one-octet-identifier,
    /// short-or-two-octet-length forms, nesting within the depth bound) is decoded in one pass
    /// that makes every check of the general decoder; any other input goes to the general
    /// decoder, which finds the same value or names the fault (layer and offset).
    #[inline]
    pub fn decode(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let mut a = Aarq::new(Oid::BER);
        match quick_aarq_into(input, limits, &mut a) {
            Some(()) => Ok(Apdu::Aarq(a)),
            None => Self::decode_general(input, limits),
        }
    }

    #[inline(never)]
    fn decode_general(input: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        let c = Ctx {
            layer: L,
            max_depth: limits.max_ber_depth,
        };
        let mut r = ber::Reader::new(c, input, 0);
        if r.is_empty() {
            return Err(c.err(
                0,
                DecodeErrorKind::Truncated {
                    what: "acse apdu",
                    needed: 1,
                    available: 0,
                },
            ));
        }
        let t = r.read()?;
        let out = match (t.tag.class, t.tag.number, t.tag.constructed) {
            (APPLICATION, 0, true) => Apdu::Aarq(Aarq::decode(&c, &t, limits)?),
            (APPLICATION, 1, true) => Apdu::Aare(Aare::decode(&c, &t, limits)?),
            (APPLICATION, n @ 2..=4, true) => {
                let mut s = ber::children(c, &t)?;
                let (mut v0, mut v1, mut ui) = (None, None, None);
                while !s.is_empty() {
                    let e = s.read()?;
                    match (e.tag.class, e.tag.number) {
                        (CONTEXT, 0) => v0 = Some(ber::integer(&c, &e)?),
                        (CONTEXT, 1) => v1 = Some(ber::integer(&c, &e)?),
                        (CONTEXT, 30) => ui = Some(decode_user_info(&c, &e)?),
                        _ => {}
                    }
                }
                match n {
                    2 => Apdu::Rlrq(Rlrq {
                        reason: v0.map(ReleaseRequestReason),
                        user_information: ui,
                    }),
                    3 => Apdu::Rlre(Rlre {
                        reason: v0.map(ReleaseResponseReason),
                        user_information: ui,
                    }),
                    _ => Apdu::Abrt(Abrt {
                        source: AbortSource(v0.ok_or_else(|| missing(&c, &t, "abort source"))?),
                        diagnostic: v1.map(AbortDiagnostic),
                        user_information: ui,
                    }),
                }
            }
            _ => {
                return Err(c.err(
                    t.offset,
                    DecodeErrorKind::UnexpectedCode {
                        what: "acse apdu tag",
                        code: input.first().copied().unwrap_or(0),
                    },
                ));
            }
        };
        r.finish("acse apdu")?;
        Ok(out)
    }

    fn parts(&self) -> (Tag, usize) {
        let simple = |reason: Option<i64>, ui: &Option<ExternalList<'_>>| {
            opt_len(&reason, |v| ber::int_len(Tag::ctx(0), *v)).saturating_add(user_info_len(ui))
        };
        match self {
            Apdu::Aarq(a) => (Tag::app_cons(0), a.content_len()),
            Apdu::Aare(a) => (Tag::app_cons(1), a.content_len()),
            Apdu::Rlrq(a) => (
                Tag::app_cons(2),
                simple(a.reason.map(|r| r.0), &a.user_information),
            ),
            Apdu::Rlre(a) => (
                Tag::app_cons(3),
                simple(a.reason.map(|r| r.0), &a.user_information),
            ),
            Apdu::Abrt(a) => (
                Tag::app_cons(4),
                simple(Some(a.source.0), &a.user_information)
                    .saturating_add(opt_len(&a.diagnostic, |d| ber::int_len(Tag::ctx(1), d.0))),
            ),
        }
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        let (tag, len) = self.parts();
        ber::tlv_len(tag, len)
    }

    /// Writes the APDU with definite lengths; fails without panicking on a short buffer.
    pub fn encode<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        let (tag, len) = self.parts();
        ber::put_header(L, buf, tag, len)?;
        let put_reason = |buf: &mut B, n: u32, v: Option<i64>| match v {
            Some(v) => ber::put_int(L, buf, Tag::ctx(n), v),
            None => Ok(()),
        };
        match self {
            Apdu::Aarq(a) => a.encode_content(buf),
            Apdu::Aare(a) => a.encode_content(buf),
            Apdu::Rlrq(a) => {
                put_reason(buf, 0, a.reason.map(|r| r.0))?;
                put_user_info(&a.user_information, buf)
            }
            Apdu::Rlre(a) => {
                put_reason(buf, 0, a.reason.map(|r| r.0))?;
                put_user_info(&a.user_information, buf)
            }
            Apdu::Abrt(a) => {
                put_reason(buf, 0, Some(a.source.0))?;
                put_reason(buf, 1, a.diagnostic.map(|d| d.0))?;
                put_user_info(&a.user_information, buf)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presentation::tests::{hex, limit_variants};

    /// `Apdu::decode`'s one-pass AARQ path takes only what the general decoder accepts, and
    /// gives its value with the lists in the same place (contents, base, depth): on AARQ
    /// vectors (a capture's and ones with every field) and every single-octet mutation of
    /// them, under limits around its bounds.
    #[test]
    fn quick_aarq_matches_general_decoder() {
        let vectors: [&str; 5] = [
            // mms__dina__refuse.pcapng frame 7 (the bench's AARQ)
            "6055a107060528ca220203a20706052901876701a30302010ca606060429018767a70302010cbe2f282d020103a028a826800300fde881010582010583010aa416800101810305f100820c03ee1c00000408000079ef18",
            // every field; EXTERNALs with references, descriptor, octet-aligned, arbitrary
            "60819880020780a107060528ca220203a20e300c310a30080603550403130178a30431020500a403020105a5040202ff01a60706052901876701a70302010ca803020107a9030201088a0207808b055203000301ac088006736563726574ad0e060528ca220203060528ca2202029d04696d706c8e0100be22281106025101020103070164a005a803800100280702010381020102280482020780",
            // the other authentication-value forms
            "601da107060528ca220203ac0481020780be0c280a020103a005a803800100",
            "600fa107060528ca220203ac04a3020500",
            // a two-octet length
            &format!(
                "6081e6a107060528ca220203ac04a2020500be81d42881d1020103a081cba881c8{}",
                "00".repeat(200)
            ),
        ];
        let mut quick = 0usize;
        for v in vectors {
            let base = hex(v);
            assert!(quick_aarq(&base, &Limits::default()).is_some(), "{v}");
            for x in ber::mutations(&base) {
                for limits in limit_variants() {
                    let general = Apdu::decode_general(&x, &limits);
                    assert_eq!(Apdu::decode(&x, &limits), general, "{x:02x?}");
                    let Some(q) = quick_aarq(&x, &limits) else {
                        continue;
                    };
                    quick += 1;
                    let Ok(Apdu::Aarq(g)) = general else {
                        panic!("{x:02x?}: {general:?}");
                    };
                    assert_eq!(q, g, "{x:02x?}");
                    assert_eq!(
                        q.application_context_name_list
                            .and_then(|l| l.encoded_parts()),
                        g.application_context_name_list
                            .and_then(|l| l.encoded_parts())
                    );
                    assert_eq!(
                        q.user_information.and_then(|l| l.encoded_parts()),
                        g.user_information.and_then(|l| l.encoded_parts())
                    );
                }
            }
        }
        assert!(quick > 1000, "{quick}");
    }
}
