//! `arbitrary::Arbitrary` for [`Spdu`] (feature `arbitrary`), for structured fuzzing: every
//! value generated encodes, and decodes back to itself at the position its kind needs
//! (`Position::Concatenated` for category-2 SPDUs, `Position::First` otherwise: GT/DT, AB/AI
//! and AA/AIA share SI 1, 25 and 26).
//!
//! The parameter field borrows from the fuzzer input: it is the longest prefix of an arbitrary
//! byte string that is a well-formed parameter field for the SPDU's kind (every unit fits, the
//! units inside PGI 1, 5 and 33 fit, and every fixed-size value has an allowed length), so it
//! is never trivially empty when the input has bytes to spare.
//!
//! Normalisations, each because two values share one encoding:
//! - SI 41 is MAP when the field holds a non-empty Sync Type Item (PI 15) and AE otherwise, so
//!   the kind is chosen from the field, not from the input.
//! - The three-octet LI form is kept only for fields shorter than 255 octets (longer ones always
//!   use it), as [`Spdu::with_long_length`] does.
//! - Only DT, EX and TD carry a user information field (others would be refused by the
//!   encoder).

use arbitrary::{Arbitrary, Result, Unstructured};

use super::spdu::{split_unit, value_length_ok};
use super::{MAX_LENGTH, ParameterCode, Parameters, Spdu, SpduKind};

/// Whether `value`, the value of a PGI 1, 5 or 33, is a sequence of units that fit and whose
/// values have allowed lengths.
fn group_ok(kind: SpduKind, mut value: &[u8]) -> bool {
    while !value.is_empty() {
        let Some((code, v, rest)) = split_unit(value) else {
            return false;
        };
        if !value_length_ok(kind, ParameterCode(code), v.len()) {
            return false;
        }
        value = rest;
    }
    true
}

/// The longest prefix of `raw` (at most [`MAX_LENGTH`] octets) made of whole units that the
/// decoder accepts in an SPDU of `kind`.
pub(crate) fn valid_parameter_prefix(kind: SpduKind, raw: &[u8]) -> &[u8] {
    let mut end = 0;
    while let Some((code, value, rest)) = raw.get(end..).and_then(split_unit) {
        let used = raw.len().saturating_sub(end).saturating_sub(rest.len());
        if end.saturating_add(used) > MAX_LENGTH
            || !value_length_ok(kind, ParameterCode(code), value.len())
            || (ParameterCode(code).contains_units() && !group_ok(kind, value))
        {
            break;
        }
        end = end.saturating_add(used);
    }
    raw.get(..end).unwrap_or_default()
}

impl<'a> Arbitrary<'a> for Spdu<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut kind = *u.choose(&SpduKind::ALL)?;
        let raw: &'a [u8] = u.arbitrary()?;
        let params = Parameters::new(valid_parameter_prefix(kind, raw))
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        if matches!(kind, SpduKind::Map | SpduKind::Ae) {
            kind = if params.get(ParameterCode::SYNC_TYPE_ITEM).is_some() {
                SpduKind::Map
            } else {
                SpduKind::Ae
            };
        }
        let user_information: &'a [u8] = if kind == SpduKind::Ex {
            // EX carries at most 14 octets (the encoder refuses more).
            let ui: &'a [u8] = u.arbitrary()?;
            ui.get(..super::EX_USER_DATA_MAX).unwrap_or(ui)
        } else if kind.has_user_information() {
            u.arbitrary()?
        } else {
            &[]
        };
        Ok(Spdu::new(kind, params)
            .with_user_information(user_information)
            .with_long_length(u.arbitrary()?))
    }
}
