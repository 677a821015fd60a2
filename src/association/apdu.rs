//! The ACSE APDUs an association sends (X.227), built with [`Apdu::encode`], and the ACSE
//! reading of the APDUs it receives.

use bytes::Bytes;

use crate::acse::{
    Aare, Aarq, AbortSource, Abrt, AeQualifier, ApInvocation, ApTitle, Apdu, AssociateResult,
    AssociateSourceDiagnostic, External, ExternalList, ReleaseRequestReason, ReleaseResponseReason,
    Rlre, Rlrq, UserDiagnostic,
};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;
use crate::oid::Oid;
use crate::presentation::PdvValues;

use super::config::{ApAddress, AssociateRequest};

fn encode(apdu: &Apdu<'_>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(apdu.encoded_len());
    apdu.encode(&mut out)?;
    Ok(out)
}

fn invocation(a: &ApAddress) -> ApInvocation<'_> {
    ApInvocation {
        ap_title: a.ap_title.as_ref().map(|o| ApTitle::Form2(o.as_oid())),
        ae_qualifier: a.ae_qualifier.map(AeQualifier::Form2),
        ap_invocation_id: None,
        ae_invocation_id: None,
    }
}

/// One EXTERNAL in single-ASN1-type form on presentation context `context`.
fn external(context: i64, value: &[u8]) -> External<'_> {
    External {
        direct_reference: None,
        indirect_reference: Some(context),
        data_value_descriptor: None,
        encoding: PdvValues::SingleAsn1Type(value),
    }
}

/// The AARQ of `request`; its user information goes on `user_context`.
pub(crate) fn aarq(request: &AssociateRequest, user_context: i64) -> Result<Vec<u8>, EncodeError> {
    let ext;
    let mut a = Aarq::new(request.application_context.as_oid());
    a.called = invocation(&request.called);
    a.calling = invocation(&request.calling);
    if let Some(info) = &request.user_information {
        ext = [external(user_context, info)];
        a.user_information = Some(ExternalList::from_slice(&ext));
    }
    encode(&Apdu::Aarq(a))
}

/// An AARE with `result` and `diagnostic`, the responding AP address and user information
/// `(context, value)`.
pub(crate) fn aare(
    application_context: Oid<'_>,
    result: AssociateResult,
    diagnostic: AssociateSourceDiagnostic,
    responding: &ApAddress,
    user_information: Option<(i64, &[u8])>,
) -> Result<Vec<u8>, EncodeError> {
    let mut a = Aare::new(application_context, result, diagnostic);
    a.responding = invocation(responding);
    let ext;
    if let Some((ctx, info)) = user_information {
        ext = [external(ctx, info)];
        a.user_information = Some(ExternalList::from_slice(&ext));
    }
    encode(&Apdu::Aare(a))
}

/// The user-information EXTERNALs of `list` (all but arbitrary-encoded ones) as owned values.
pub(crate) fn all_externals(
    whole: &Bytes,
    list: Option<&ExternalList<'_>>,
) -> Vec<super::config::UserInformation> {
    let Some(list) = list else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            let (value, octet_aligned) = match e.encoding {
                PdvValues::SingleAsn1Type(b) => (b, false),
                PdvValues::OctetAligned(b) => (b, true),
                _ => return None,
            };
            let mut u = super::config::UserInformation::new(
                e.indirect_reference,
                crate::util::sub(whole, value),
            );
            u.direct_reference = e.direct_reference.map(|o| o.to_owned_oid());
            u.octet_aligned = octet_aligned;
            Some(u)
        })
        .collect()
}

/// An accepting AARE with several user-information EXTERNALs: each on its own context when
/// `context_ok` accepts it, else on `fallback`.
pub(crate) fn aare_accepted_list(
    application_context: Oid<'_>,
    responding: &ApAddress,
    list: &[super::config::UserInformation],
    fallback: i64,
    context_ok: impl Fn(i64) -> bool,
) -> Result<Vec<u8>, EncodeError> {
    let mut a = Aare::new(
        application_context,
        AssociateResult::ACCEPTED,
        AssociateSourceDiagnostic::User(UserDiagnostic::NULL),
    );
    a.responding = invocation(responding);
    let ext: Vec<External<'_>> = list
        .iter()
        .map(|u| External {
            direct_reference: u.direct_reference.as_ref().map(|o| o.as_oid()),
            indirect_reference: Some(u.context.filter(|&c| context_ok(c)).unwrap_or(fallback)),
            data_value_descriptor: None,
            encoding: if u.octet_aligned {
                PdvValues::OctetAligned(&u.value)
            } else {
                PdvValues::SingleAsn1Type(&u.value)
            },
        })
        .collect();
    if !ext.is_empty() {
        a.user_information = Some(ExternalList::from_slice(&ext));
    }
    encode(&Apdu::Aare(a))
}

/// An accepting AARE.
pub(crate) fn aare_accepted(
    application_context: Oid<'_>,
    responding: &ApAddress,
    user_information: Option<(i64, &[u8])>,
) -> Result<Vec<u8>, EncodeError> {
    aare(
        application_context,
        AssociateResult::ACCEPTED,
        AssociateSourceDiagnostic::User(UserDiagnostic::NULL),
        responding,
        user_information,
    )
}

/// RLRQ, reason normal.
pub(crate) fn rlrq() -> Result<Vec<u8>, EncodeError> {
    encode(&Apdu::Rlrq(Rlrq {
        reason: Some(ReleaseRequestReason::NORMAL),
        user_information: None,
    }))
}

/// RLRE, reason normal (`true`) or not-finished.
pub(crate) fn rlre(accept: bool) -> Result<Vec<u8>, EncodeError> {
    encode(&Apdu::Rlre(Rlre {
        reason: Some(if accept {
            ReleaseResponseReason::NORMAL
        } else {
            ReleaseResponseReason::NOT_FINISHED
        }),
        user_information: None,
    }))
}

/// ABRT from the ACSE service user, with user information `(context, value)`.
pub(crate) fn abrt_user(user_information: Option<(i64, &[u8])>) -> Result<Vec<u8>, EncodeError> {
    let ext;
    let list = match user_information {
        Some((ctx, value)) => {
            ext = [external(ctx, value)];
            Some(ExternalList::from_slice(&ext))
        }
        None => None,
    };
    encode(&Apdu::Abrt(Abrt {
        source: AbortSource::ACSE_SERVICE_USER,
        diagnostic: None,
        user_information: list,
    }))
}

/// ABRT from the ACSE service provider, diagnostic protocol error.
pub(crate) fn abrt_provider() -> Result<Vec<u8>, EncodeError> {
    encode(&Apdu::Abrt(Abrt {
        source: AbortSource::ACSE_SERVICE_PROVIDER,
        diagnostic: Some(crate::acse::AbortDiagnostic::PROTOCOL_ERROR),
        user_information: None,
    }))
}

/// The lowercase name of an APDU for messages.
pub(crate) fn name(apdu: &Apdu<'_>) -> &'static str {
    match apdu {
        Apdu::Aarq(_) => "aarq",
        Apdu::Aare(_) => "aare",
        Apdu::Rlrq(_) => "rlrq",
        Apdu::Rlre(_) => "rlre",
        Apdu::Abrt(_) => "abrt",
    }
}

/// Decodes the ACSE APDU `value` (a PDV value inside the PPDU `ppdu`); an error's offset counts
/// from the start of the PPDU.
pub(crate) fn decode<'a>(
    ppdu: &[u8],
    value: &'a [u8],
    limits: &Limits,
) -> Result<Apdu<'a>, DecodeError> {
    Apdu::decode(value, limits).map_err(|e| e.shifted(offset_in(ppdu, value)))
}

/// An ACSE APDU of the wrong type for the state, at `value`'s offset in `ppdu`.
pub(crate) fn unexpected(
    ppdu: &[u8],
    value: &[u8],
    apdu: &Apdu<'_>,
    state: &'static str,
) -> DecodeError {
    DecodeError::new(
        Layer::Acse,
        offset_in(ppdu, value),
        DecodeErrorKind::Unexpected {
            what: name(apdu),
            state,
        },
    )
}

/// The single-ASN1-type value of the first user-information EXTERNAL, as a slice of `whole`.
pub(crate) fn first_external(whole: &Bytes, list: Option<&ExternalList<'_>>) -> Option<Bytes> {
    let e = list?.iter().next()?;
    Some(crate::util::sub(whole, super::ppdu::pdv_value(&e.encoding)))
}

/// The presentation context of the first user-information EXTERNAL.
pub(crate) fn first_external_context(list: Option<&ExternalList<'_>>) -> Option<i64> {
    list?.iter().next()?.indirect_reference
}

/// Offset of `inner` within `outer` (both from the same buffer), 0 when it is not inside.
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .checked_sub(outer.as_ptr() as usize)
        .filter(|&o| o <= outer.len())
        .unwrap_or(0)
}
