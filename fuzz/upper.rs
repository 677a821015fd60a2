// The structured round-trip input of the `upper_roundtrip` target, shared with
// tests/fuzz_regressions.rs: the first choice picks the layer, the rest builds one PDU value of
// that layer with the crate's `arbitrary` impls (feature `arbitrary`), and `check` runs the
// layer's round-trip oracle from oracles.rs.

#![allow(dead_code)]

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::oracles::{self, PresentationPdu};

/// One PDU value of one upper layer.
#[derive(Debug)]
pub enum Upper<'a> {
    Session(osi_stack::session::Spdu<'a>),
    Presentation(PresentationPdu<'a>),
    Acse(osi_stack::acse::Apdu<'a>),
    Rtse(osi_stack::rtse::Apdu<'a>),
}

impl<'a> Arbitrary<'a> for Upper<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=3)? {
            0 => Upper::Session(u.arbitrary()?),
            1 => Upper::Presentation(match u.int_in_range(0u8..=7)? {
                0 => PresentationPdu::Cp(u.arbitrary()?),
                1 => PresentationPdu::Cpa(u.arbitrary()?),
                2 => PresentationPdu::Cpr(u.arbitrary()?),
                3 => PresentationPdu::Abort(u.arbitrary()?),
                4 => PresentationPdu::TypedData(u.arbitrary()?),
                5 => PresentationPdu::Rs(u.arbitrary()?),
                6 => PresentationPdu::Rsa(u.arbitrary()?),
                _ => PresentationPdu::UserData(u.arbitrary()?),
            }),
            2 => Upper::Acse(u.arbitrary()?),
            _ => Upper::Rtse(u.arbitrary()?),
        })
    }
}

/// Runs the round-trip oracle of the value's layer.
pub fn check(v: &Upper<'_>) {
    match v {
        Upper::Session(s) => oracles::session_value(s),
        Upper::Presentation(p) => oracles::presentation_value(p),
        Upper::Acse(a) => oracles::acse_value(a),
        Upper::Rtse(a) => oracles::rtse_value(a),
    }
}
