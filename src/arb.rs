//! Helpers shared by the `arbitrary::Arbitrary` impls of the BER-encoded PDUs (feature
//! `arbitrary`). Every value they return borrows from the fuzzer input and is one the decoders
//! accept: a byte string is cut to its longest valid prefix rather than thrown away, so values
//! are rarely trivial.

use arbitrary::{Result, Unstructured};

use crate::Layer;
use crate::ber::{Ctx, Reader};
use crate::limits::Limits;
use crate::oid::Oid;

/// Depth at which the elements of generated `SEQUENCE OF` lists (and the BER values inside PDV
/// and EXTERNAL encodings) are checked: deeper than any list sits in a PDU this crate decodes,
/// so a value that nests within the limit here also does inside its PDU.
pub(crate) const LIST_DEPTH: usize = 12;

/// The context the generated lists are checked with: default limits.
pub(crate) const fn ctx(layer: Layer) -> Ctx {
    Ctx {
        layer,
        max_depth: Limits::DEFAULT.max_ber_depth,
    }
}

/// Object identifiers to fall back on when the input gives none.
const KNOWN_OIDS: [Oid<'static>; 6] = [
    Oid::BER,
    Oid::ACSE_ABSTRACT_SYNTAX,
    Oid::MMS_ABSTRACT_SYNTAX,
    Oid::MMS_APPLICATION_CONTEXT,
    Oid::RTSE_ABSTRACT_SYNTAX,
    Oid::X400_AC_MTS_TRANSFER,
];

/// An object identifier: the longest prefix of an arbitrary byte string made of whole, minimal
/// subidentifiers that fit the arc type, or a known identifier when that prefix is empty.
pub(crate) fn oid<'a>(u: &mut Unstructured<'a>) -> Result<Oid<'a>> {
    let raw: &'a [u8] = u.arbitrary()?;
    let (mut start, mut end) = (0, 0);
    for (i, &b) in raw.iter().enumerate() {
        if b & 0x80 != 0 {
            continue;
        }
        // One subidentifier, raw[start..=i]: valid alone iff minimal and not too large.
        if raw.get(start..=i).is_none_or(|s| Oid::new(s).is_err()) {
            break;
        }
        start = i.saturating_add(1);
        end = start;
    }
    match raw.get(..end).map(Oid::new) {
        Some(Ok(o)) if end > 0 => Ok(o),
        _ => u.choose(&KNOWN_OIDS).copied(),
    }
}

/// The longest prefix of `raw` made of complete BER elements (as the decoders read them) at
/// nesting depth `depth`.
pub(crate) fn ber_elements(raw: &[u8], layer: Layer, depth: usize) -> &[u8] {
    let mut r = Reader::at_depth(ctx(layer), raw, 0, depth);
    let mut end = 0;
    while !r.is_empty() {
        if r.read().is_err() {
            break;
        }
        end = r.pos();
    }
    raw.get(..end).unwrap_or_default()
}

/// One complete BER element (identifier, length, contents) taken from the input at depth
/// `depth`, or `05 00` (NULL) when the input's first element is not complete.
pub(crate) fn ber_element<'a>(
    u: &mut Unstructured<'a>,
    layer: Layer,
    depth: usize,
) -> Result<&'a [u8]> {
    let raw: &'a [u8] = u.arbitrary()?;
    let mut r = Reader::at_depth(ctx(layer), raw, 0, depth);
    Ok(match r.read() {
        Ok(t) => t.raw,
        Err(_) => &[0x05, 0x00],
    })
}

/// Unused bits and data of a BIT STRING as the decoders accept them: 0–7 unused bits, 0 when
/// the data is empty.
pub(crate) fn bit_string<'a>(u: &mut Unstructured<'a>) -> Result<(u8, &'a [u8])> {
    let data: &'a [u8] = u.arbitrary()?;
    let unused = if data.is_empty() {
        0
    } else {
        u.int_in_range(0..=7)?
    };
    Ok((unused, data))
}
