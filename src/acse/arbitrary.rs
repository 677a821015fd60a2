//! `arbitrary::Arbitrary` for the ACSE APDUs (feature `arbitrary`), for structured fuzzing:
//! every value generated encodes and decodes back to an equal value.
//!
//! Borrowed parts come from the fuzzer input ([`crate::arb`]): object identifiers are the
//! longest valid prefix of a byte string, the user-information and application-context-name
//! lists the longest prefix whose elements decode. Normalisations, each because the decoder
//! would refuse or could not tell the value apart:
//! - an AP-title form 1 or AE-qualifier form 1 is a complete SEQUENCE / SET element of the
//!   input (`30 00` / `31 00` when the input's first element is not one);
//! - an empty user-information list is `None` (the decoder requires at least one EXTERNAL);
//! - a BIT STRING authentication value has 0 unused bits when it has no data.

use arbitrary::{Arbitrary, Result, Unstructured};

use super::{
    Aare, Aarq, AbortDiagnostic, AbortSource, Abrt, AcseRequirements, AeQualifier, ApInvocation,
    ApTitle, Apdu, AssociateResult, AssociateSourceDiagnostic, AuthenticationValue, ExternalList,
    ProtocolVersion, ProviderDiagnostic, ReleaseRequestReason, ReleaseResponseReason, Rlre, Rlrq,
    UserDiagnostic,
};
use crate::arb;
use crate::ber::{Reader, Tag};
use crate::error::Layer;
use crate::limits::Limits;
use crate::presentation::OidList;

const L: Layer = Layer::Acse;

fn opt<'a, T>(
    u: &mut Unstructured<'a>,
    f: impl FnOnce(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Option<T>> {
    Ok(if u.arbitrary()? { Some(f(u)?) } else { None })
}

/// A complete element of the input with tag `tag`, else `fallback`.
fn element_with_tag<'a>(
    u: &mut Unstructured<'a>,
    tag: Tag,
    fallback: &'static [u8],
) -> Result<&'a [u8]> {
    let raw: &'a [u8] = u.arbitrary()?;
    let mut r = Reader::at_depth(arb::ctx(L), raw, 0, arb::LIST_DEPTH);
    Ok(match r.read() {
        Ok(t) if t.tag == tag => t.raw,
        _ => fallback,
    })
}

impl<'a> Arbitrary<'a> for ApTitle<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            ApTitle::Form1(element_with_tag(u, Tag::SEQUENCE, &[0x30, 0x00])?)
        } else {
            ApTitle::Form2(arb::oid(u)?)
        })
    }
}

impl<'a> Arbitrary<'a> for AeQualifier<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            AeQualifier::Form1(element_with_tag(u, Tag::SET, &[0x31, 0x00])?)
        } else {
            AeQualifier::Form2(u.arbitrary()?)
        })
    }
}

impl<'a> Arbitrary<'a> for ApInvocation<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ApInvocation {
            ap_title: u.arbitrary()?,
            ae_qualifier: u.arbitrary()?,
            ap_invocation_id: u.arbitrary()?,
            ae_invocation_id: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for AuthenticationValue<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=3)? {
            0 => AuthenticationValue::Charstring(u.arbitrary()?),
            1 => {
                let (unused_bits, data) = arb::bit_string(u)?;
                AuthenticationValue::BitString { unused_bits, data }
            }
            2 => AuthenticationValue::External(u.arbitrary()?),
            _ => AuthenticationValue::Other(u.arbitrary()?),
        })
    }
}

/// User information: `None`, or a non-empty list of EXTERNALs taken from the input.
fn user_information<'a>(u: &mut Unstructured<'a>) -> Result<Option<ExternalList<'a>>> {
    Ok(opt(u, |u| ExternalList::arbitrary_prefix(u, L, usize::MAX))?.filter(|l| !l.is_empty()))
}

fn context_name_list<'a>(u: &mut Unstructured<'a>) -> Result<Option<OidList<'a>>> {
    opt(u, |u| {
        OidList::arbitrary_prefix(u, L, Limits::DEFAULT.max_contexts)
    })
}

impl<'a> Arbitrary<'a> for Aarq<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Aarq {
            protocol_version: opt(u, |u| Ok(ProtocolVersion(u.arbitrary()?)))?,
            application_context_name: arb::oid(u)?,
            called: u.arbitrary()?,
            calling: u.arbitrary()?,
            sender_requirements: opt(u, |u| Ok(AcseRequirements(u.arbitrary()?)))?,
            mechanism_name: opt(u, arb::oid)?,
            authentication_value: u.arbitrary()?,
            application_context_name_list: context_name_list(u)?,
            implementation_information: u.arbitrary()?,
            user_information: user_information(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Aare<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Aare {
            protocol_version: opt(u, |u| Ok(ProtocolVersion(u.arbitrary()?)))?,
            application_context_name: arb::oid(u)?,
            result: AssociateResult(u.arbitrary()?),
            result_source_diagnostic: if u.arbitrary()? {
                AssociateSourceDiagnostic::User(UserDiagnostic(u.arbitrary()?))
            } else {
                AssociateSourceDiagnostic::Provider(ProviderDiagnostic(u.arbitrary()?))
            },
            responding: u.arbitrary()?,
            responder_requirements: opt(u, |u| Ok(AcseRequirements(u.arbitrary()?)))?,
            mechanism_name: opt(u, arb::oid)?,
            authentication_value: u.arbitrary()?,
            application_context_name_list: context_name_list(u)?,
            implementation_information: u.arbitrary()?,
            user_information: user_information(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Apdu<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=4)? {
            0 => Apdu::Aarq(u.arbitrary()?),
            1 => Apdu::Aare(u.arbitrary()?),
            2 => Apdu::Rlrq(Rlrq {
                reason: opt(u, |u| Ok(ReleaseRequestReason(u.arbitrary()?)))?,
                user_information: user_information(u)?,
            }),
            3 => Apdu::Rlre(Rlre {
                reason: opt(u, |u| Ok(ReleaseResponseReason(u.arbitrary()?)))?,
                user_information: user_information(u)?,
            }),
            _ => Apdu::Abrt(Abrt {
                source: AbortSource(u.arbitrary()?),
                diagnostic: opt(u, |u| Ok(AbortDiagnostic(u.arbitrary()?)))?,
                user_information: user_information(u)?,
            }),
        })
    }
}
