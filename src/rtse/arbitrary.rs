//! `arbitrary::Arbitrary` for the RTSE APDUs (feature `arbitrary`), for structured fuzzing:
//! every value generated encodes, as an APDU and as X.410-mode components, and decodes back to
//! an equal value.
//!
//! Borrowed parts come from the fuzzer input. Normalisations, each because the decoder would
//! refuse the value or could not tell it apart:
//! - an `ANY` field (open user data, `userDataRJ`, `userdataAB`) is one complete BER element of
//!   the input (`05 00` when the input's first element is not complete);
//! - a constructed RTTR is an input element that `Rttr::decode` accepts (segments of OCTET
//!   STRING), else a primitive RTTR of arbitrary octets;
//! - a BIT STRING (`reflectedParameter`) has 0 unused bits when it has no data.

use arbitrary::{Arbitrary, Result, Unstructured};

use super::{
    AbortReason, Apdu, ApplicationProtocol, BitString, ConnectionData, DialogueMode, RefuseReason,
    Rtab, Rtoac, Rtorj, Rtorq, Rttp, Rttr, SessionConnectionIdentifier, SsUserReference,
};
use crate::arb;
use crate::error::Layer;
use crate::limits::Limits;

const L: Layer = Layer::Rtse;

fn opt<'a, T>(
    u: &mut Unstructured<'a>,
    f: impl FnOnce(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Option<T>> {
    Ok(if u.arbitrary()? { Some(f(u)?) } else { None })
}

fn any<'a>(u: &mut Unstructured<'a>) -> Result<&'a [u8]> {
    arb::ber_element(u, L, arb::LIST_DEPTH)
}

impl<'a> Arbitrary<'a> for ConnectionData<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            // `80 00` as the value is X.228's marker for "no RTSE-user data" and reads back
            // as `None`.
            ConnectionData::Open(opt(u, any)?.filter(|v| *v != [0x80, 0x00]))
        } else {
            ConnectionData::Recover(SessionConnectionIdentifier {
                calling_ss_user_reference: if u.arbitrary()? {
                    SsUserReference::T61String(u.arbitrary()?)
                } else {
                    SsUserReference::OctetString(u.arbitrary()?)
                },
                common_reference: u.arbitrary()?,
                additional_reference_information: u.arbitrary()?,
            })
        })
    }
}

impl<'a> Arbitrary<'a> for Rttr<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        if u.arbitrary()? {
            let raw = any(u)?;
            if let Ok(t) = Rttr::decode(raw, &Limits::DEFAULT) {
                return Ok(t);
            }
        }
        Ok(Rttr::new(u.arbitrary()?))
    }
}

impl<'a> Arbitrary<'a> for Apdu<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=5)? {
            0 => Apdu::Rtorq(Rtorq {
                checkpoint_size: u.arbitrary()?,
                window_size: u.arbitrary()?,
                dialogue_mode: opt(u, |u| Ok(DialogueMode(u.arbitrary()?)))?,
                connection_data: u.arbitrary()?,
                application_protocol: opt(u, |u| Ok(ApplicationProtocol(u.arbitrary()?)))?,
                bare_null_open: false,
            }),
            1 => Apdu::Rtoac(Rtoac {
                checkpoint_size: u.arbitrary()?,
                window_size: u.arbitrary()?,
                connection_data: u.arbitrary()?,
                bare_null_open: false,
            }),
            2 => Apdu::Rtorj(Rtorj {
                refuse_reason: opt(u, |u| Ok(RefuseReason(u.arbitrary()?)))?,
                user_data: opt(u, any)?,
            }),
            3 => Apdu::Rttp(Rttp {
                priority: u.arbitrary()?,
            }),
            4 => Apdu::Rttr(u.arbitrary()?),
            _ => Apdu::Rtab(Rtab {
                abort_reason: opt(u, |u| Ok(AbortReason(u.arbitrary()?)))?,
                reflected_parameter: opt(u, |u| {
                    let (unused_bits, data) = arb::bit_string(u)?;
                    Ok(BitString { unused_bits, data })
                })?,
                user_data: opt(u, any)?,
            }),
        })
    }
}
