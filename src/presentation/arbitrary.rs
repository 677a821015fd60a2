//! `arbitrary::Arbitrary` for the presentation PPDUs (feature `arbitrary`), for structured
//! fuzzing: every value generated encodes and decodes back to an equal value.
//!
//! Lists are the longest prefix of an arbitrary byte string whose elements decode (at most
//! `Limits::default().max_contexts` or `max_pdvs` of them), object identifiers the longest valid
//! prefix of one ([`crate::arb`]); both borrow from the fuzzer input. Normalisations, each
//! because the encoding cannot carry the difference:
//! - an empty `Simple` user data and the raw X.410 parameters are taken as they come (any
//!   octets round-trip inside a definite length);
//! - a BIT STRING of `PdvValues::Arbitrary` has 0 unused bits when it has no data;
//! - `single-ASN1-type` holds exactly one complete BER element (`05 00` when the input has none).

use arbitrary::{Arbitrary, Result, Unstructured};

use super::{
    AbortPpdu, AbortReason, Ac, Aca, Arp, Aru, ContextIdList, ContextList, ContextResultCode, Cp,
    CpNormal, Cpa, CpaNormal, Cpr, CprNormal, DefaultContext, DeletionList, DeletionResultList,
    EventIdentifier, Mode, PdvList, PdvValues, PresentationRequirements, ProtocolVersion,
    ProviderReason, ResultList, Rs, Rsa, TypedData, UserData, UserSessionRequirements,
};
use crate::Layer;
use crate::arb;
use crate::limits::Limits;

const L: Layer = Layer::Presentation;
const MAX_CONTEXTS: usize = Limits::DEFAULT.max_contexts;

fn opt<'a, T>(
    u: &mut Unstructured<'a>,
    f: impl FnOnce(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Option<T>> {
    Ok(if u.arbitrary()? { Some(f(u)?) } else { None })
}

/// The values of a PDV or the encoding of an EXTERNAL, valid at BER depth `depth`.
pub(crate) fn pdv_values<'a>(
    u: &mut Unstructured<'a>,
    layer: Layer,
    depth: usize,
) -> Result<PdvValues<'a>> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => PdvValues::SingleAsn1Type(arb::ber_element(u, layer, depth.saturating_add(1))?),
        1 => PdvValues::OctetAligned(u.arbitrary()?),
        2 => {
            let raw: &'a [u8] = u.arbitrary()?;
            PdvValues::OctetAlignedSegments(arb::ber_elements(raw, layer, depth.saturating_add(1)))
        }
        _ => {
            let (unused_bits, data) = arb::bit_string(u)?;
            PdvValues::Arbitrary { unused_bits, data }
        }
    })
}

impl<'a> Arbitrary<'a> for PdvValues<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        pdv_values(u, L, arb::LIST_DEPTH)
    }
}

impl<'a> Arbitrary<'a> for UserData<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            UserData::Simple(u.arbitrary()?)
        } else {
            UserData::Full(PdvList::arbitrary_prefix(u, L, Limits::DEFAULT.max_pdvs)?)
        })
    }
}

fn contexts<'a>(u: &mut Unstructured<'a>) -> Result<Option<ContextList<'a>>> {
    opt(u, |u| ContextList::arbitrary_prefix(u, L, MAX_CONTEXTS))
}

fn results<'a>(u: &mut Unstructured<'a>) -> Result<Option<ResultList<'a>>> {
    opt(u, |u| ResultList::arbitrary_prefix(u, L, MAX_CONTEXTS))
}

fn context_ids<'a>(u: &mut Unstructured<'a>) -> Result<Option<ContextIdList<'a>>> {
    opt(u, |u| ContextIdList::arbitrary_prefix(u, L, MAX_CONTEXTS))
}

impl<'a> Arbitrary<'a> for CpNormal<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CpNormal {
            protocol_version: opt(u, |u| Ok(ProtocolVersion(u.arbitrary()?)))?,
            calling_selector: u.arbitrary()?,
            called_selector: u.arbitrary()?,
            context_definitions: contexts(u)?,
            default_context: opt(u, |u| {
                Ok(DefaultContext {
                    abstract_syntax: arb::oid(u)?,
                    transfer_syntax: arb::oid(u)?,
                })
            })?,
            presentation_requirements: opt(u, |u| Ok(PresentationRequirements(u.arbitrary()?)))?,
            user_session_requirements: opt(u, |u| Ok(UserSessionRequirements(u.arbitrary()?)))?,
            user_data: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Cp<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Cp {
            mode: Mode(u.arbitrary()?),
            x410_parameters: u.arbitrary()?,
            normal: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for CpaNormal<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CpaNormal {
            protocol_version: opt(u, |u| Ok(ProtocolVersion(u.arbitrary()?)))?,
            responding_selector: u.arbitrary()?,
            context_results: results(u)?,
            presentation_requirements: opt(u, |u| Ok(PresentationRequirements(u.arbitrary()?)))?,
            user_session_requirements: opt(u, |u| Ok(UserSessionRequirements(u.arbitrary()?)))?,
            user_data: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Cpa<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Cpa {
            mode: Mode(u.arbitrary()?),
            x410_parameters: u.arbitrary()?,
            normal: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Cpr<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            Cpr::X410(u.arbitrary()?)
        } else {
            Cpr::Normal(CprNormal {
                protocol_version: opt(u, |u| Ok(ProtocolVersion(u.arbitrary()?)))?,
                responding_selector: u.arbitrary()?,
                context_results: results(u)?,
                default_context_result: opt(u, |u| Ok(ContextResultCode(u.arbitrary()?)))?,
                provider_reason: opt(u, |u| Ok(ProviderReason(u.arbitrary()?)))?,
                user_data: u.arbitrary()?,
            })
        })
    }
}

impl<'a> Arbitrary<'a> for AbortPpdu<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=2)? {
            0 => AbortPpdu::AruX410(u.arbitrary()?),
            1 => AbortPpdu::Aru(Aru {
                context_ids: context_ids(u)?,
                user_data: u.arbitrary()?,
            }),
            _ => AbortPpdu::Arp(Arp {
                abort_reason: opt(u, |u| Ok(AbortReason(u.arbitrary()?)))?,
                event_identifier: opt(u, |u| Ok(EventIdentifier(u.arbitrary()?)))?,
            }),
        })
    }
}

impl<'a> Arbitrary<'a> for TypedData<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=2)? {
            0 => TypedData::Ac(Ac {
                additions: contexts(u)?,
                deletions: opt(u, |u| DeletionList::arbitrary_prefix(u, L, MAX_CONTEXTS))?,
                user_data: u.arbitrary()?,
            }),
            1 => TypedData::Aca(Aca {
                addition_results: results(u)?,
                deletion_results: opt(u, |u| {
                    DeletionResultList::arbitrary_prefix(u, L, MAX_CONTEXTS)
                })?,
                user_data: u.arbitrary()?,
            }),
            _ => TypedData::Ttd(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Rs<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Rs {
            context_ids: context_ids(u)?,
            user_data: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Rsa<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Rsa {
            context_ids: context_ids(u)?,
            user_data: u.arbitrary()?,
        })
    }
}
