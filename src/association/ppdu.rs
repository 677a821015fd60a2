//! The presentation PPDUs an association sends (X.226), built with the presentation encoders,
//! and the presentation reading of what it receives. ACSE APDUs arrive here as finished octets
//! ([`super::apdu`]).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};
use crate::limits::Limits;
use crate::oid::Oid;
use crate::presentation::{
    AbortPpdu, AbortReason, Arp, Aru, ContextDefinition, ContextId, ContextList,
    ContextProviderReason, ContextResult, ContextResultCode, Cp, CpNormal, Cpa, CpaNormal, Cpr,
    CprNormal, Mode, OidList, Pdv, PdvList, PdvValues, ProviderReason, ResultList, UserData,
};

use super::config::PresentationContext;

const L: Layer = Layer::Presentation;

/// The octets of a PDV's values (the whole BER value for single-ASN1-type).
pub(crate) fn pdv_value<'a>(v: &PdvValues<'a>) -> &'a [u8] {
    match *v {
        PdvValues::SingleAsn1Type(b)
        | PdvValues::OctetAligned(b)
        | PdvValues::OctetAlignedSegments(b) => b,
        PdvValues::Arbitrary { data, .. } => data,
    }
}

fn to_bytes(
    encode: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<Bytes, EncodeError> {
    let mut out = BytesMut::new();
    encode(&mut out)?;
    Ok(out.freeze())
}

fn one_pdv(context: ContextId, value: &[u8]) -> [Pdv<'_>; 1] {
    [Pdv {
        transfer_syntax: None,
        context_id: context,
        values: PdvValues::SingleAsn1Type(value),
    }]
}

/// Fully encoded User-data with one single-ASN1-type PDV of `value` on `context`.
pub(crate) fn user_data(context: ContextId, value: &[u8]) -> Result<Bytes, EncodeError> {
    let pdv = one_pdv(context, value);
    to_bytes(|b| UserData::Full(PdvList::from_slice(&pdv)).encode(b))
}

/// The header of a P-DATA's User-data in front of a value (built on the stack; the value
/// itself is sent from the caller's buffer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataHeader {
    buf: [u8; DataHeader::MAX],
    len: usize,
}

impl DataHeader {
    /// [1] + SEQUENCE + INTEGER context + [0] headers: 4 identifiers, 3 lengths of at most
    /// 9 octets, an INTEGER of at most 9 contents octets and its length octet.
    const MAX: usize = 48;

    /// No header: X.410-1984 mode sends the value as the session user data.
    pub(crate) const EMPTY: DataHeader = DataHeader {
        buf: [0; DataHeader::MAX],
        len: 0,
    };

    /// The header of fully encoded User-data with one single-ASN1-type PDV on `context`
    /// in front of `value_len` octets: `61 L { 30 L { 02 01 id a0 L { value } } }`, what
    /// [`UserData::encode_single_header`] writes (a unit test compares them). A context
    /// identifier of one contents octet (0..=127, every context this crate proposes) is
    /// written here directly; any other by the encoder.
    pub(crate) fn new(context: ContextId, value_len: usize) -> Result<DataHeader, EncodeError> {
        if let Ok(id @ 0..=127) = u8::try_from(context.get()) {
            let (l3, n3) = ber_len(value_len);
            let pdv = 4usize.saturating_add(n3).saturating_add(value_len);
            let (l2, n2) = ber_len(pdv);
            let list = 1usize.saturating_add(n2).saturating_add(pdv);
            let (l1, n1) = ber_len(list);
            let mut h = DataHeader::EMPTY;
            h.push(&[0x61], 1);
            h.push(&l1, n1);
            h.push(&[0x30], 1);
            h.push(&l2, n2);
            h.push(&[0x02, 0x01, id, 0xa0], 4);
            h.push(&l3, n3);
            return Ok(h);
        }
        Self::encoded(context, value_len)
    }

    /// Appends the first `n` octets of `octets` (a fixed-size copy: no call on the data
    /// path; `MAX` leaves room for the whole array after the longest header).
    #[inline(always)]
    fn push<const N: usize>(&mut self, octets: &[u8; N], n: usize) {
        let end = self.len.saturating_add(N);
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(octets);
            self.len = self.len.saturating_add(n.min(N));
        }
    }

    /// The same header from the presentation encoder.
    fn encoded(context: ContextId, value_len: usize) -> Result<DataHeader, EncodeError> {
        let mut buf = [0u8; DataHeader::MAX];
        let mut w = &mut buf[..];
        UserData::encode_single_header(context, value_len, &mut w)?;
        let len = DataHeader::MAX.saturating_sub(w.len());
        Ok(DataHeader { buf, len })
    }

    #[cfg(test)]
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// `prefix` (the session's SPDU headers) followed by this header, as one piece: built
    /// with fixed-size copies, so the data path writes one header piece before the value.
    pub(crate) fn behind(&self, prefix: &[u8; 4]) -> TsduHeader {
        let mut buf = [0u8; 4 + DataHeader::MAX];
        let (p, h) = buf.split_at_mut(4);
        p.copy_from_slice(prefix);
        h.copy_from_slice(&self.buf);
        TsduHeader {
            buf,
            len: self.len.saturating_add(4),
        }
    }
}

/// The octets of a P-DATA's TSDU in front of the value: SPDU headers and User-data header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TsduHeader {
    buf: [u8; 4 + DataHeader::MAX],
    len: usize,
}

impl TsduHeader {
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The whole array and how many of its octets are the header.
    pub(crate) fn as_array(&self) -> (&[u8; 4 + DataHeader::MAX], usize) {
        (&self.buf, self.len)
    }
}

/// A BER definite length in its shortest form (X.690 §8.1.3): the octets and how many.
fn ber_len(len: usize) -> ([u8; 9], usize) {
    let mut out = [0u8; 9];
    if len < 0x80 {
        out[0] = len as u8;
        return (out, 1);
    }
    let len = len as u64;
    // Octets of the length (1..=8), written left-aligned with one fixed-size copy (no call).
    let n = 8usize.saturating_sub(len.leading_zeros() as usize / 8);
    let shift = 8u32.saturating_mul(8u32.saturating_sub(n as u32));
    let aligned = len.checked_shl(shift).unwrap_or(0);
    out[0] = 0x80 | n as u8;
    if let Some(dst) = out.get_mut(1..9) {
        dst.copy_from_slice(&aligned.to_be_bytes());
    }
    (out, n.saturating_add(1))
}

/// The normal-mode CP-type: selectors, the ACSE context and the request's contexts (BER), the
/// AARQ on the ACSE context.
pub(crate) fn cp(
    calling_psel: Option<&[u8]>,
    called_psel: Option<&[u8]>,
    acse_context: ContextId,
    contexts: &[PresentationContext],
    aarq: &[u8],
) -> Result<Bytes, EncodeError> {
    let ber = [Oid::BER];
    let transfer: Vec<[Oid<'_>; 1]> = contexts
        .iter()
        .map(|c| [c.transfer_syntax.as_oid()])
        .collect();
    let mut defs = Vec::with_capacity(contexts.len().saturating_add(1));
    defs.push(ContextDefinition {
        id: acse_context,
        abstract_syntax: Oid::ACSE_ABSTRACT_SYNTAX,
        transfer_syntaxes: OidList::from_slice(&ber),
    });
    for (c, t) in contexts.iter().zip(&transfer) {
        defs.push(ContextDefinition {
            id: c.id,
            abstract_syntax: c.abstract_syntax.as_oid(),
            transfer_syntaxes: OidList::from_slice(t),
        });
    }
    let pdv = one_pdv(acse_context, aarq);
    let cp = Cp {
        mode: Mode::NORMAL,
        x410_parameters: None,
        normal: Some(CpNormal {
            calling_selector: calling_psel,
            called_selector: called_psel,
            context_definitions: Some(ContextList::from_slice(&defs)),
            user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
            ..CpNormal::default()
        }),
    };
    to_bytes(|b| cp.encode(b))
}

/// An X.410-1984-mode CP-type (`PConnect`) with these `[1]` SET contents.
pub(crate) fn cp_x410(parameters: &[u8]) -> Result<Bytes, EncodeError> {
    let cp = Cp {
        mode: Mode::X410_1984,
        x410_parameters: Some(parameters),
        normal: None,
    };
    to_bytes(|b| cp.encode(b))
}

/// An X.410-1984-mode CPA-PPDU (`PAccept`) with these `[1]` SET contents.
pub(crate) fn cpa_x410(parameters: &[u8]) -> Result<Bytes, EncodeError> {
    let cpa = Cpa {
        mode: Mode::X410_1984,
        x410_parameters: Some(parameters),
        normal: None,
    };
    to_bytes(|b| cpa.encode(b))
}

/// An X.410-1984-mode CPR-PPDU (`PRefuse`) with these SET contents.
pub(crate) fn cpr_x410(components: &[u8]) -> Result<Bytes, EncodeError> {
    to_bytes(|b| Cpr::X410(components).encode(b))
}

/// One answer to a proposed context.
pub(crate) type ContextAnswer = (ContextResultCode, Option<ContextProviderReason>);

fn result_list<'a>(
    answers: &[ContextAnswer],
    out: &'a mut Vec<ContextResult<'static>>,
) -> Option<ResultList<'a>> {
    out.clear();
    for (result, reason) in answers {
        out.push(ContextResult {
            result: *result,
            transfer_syntax: (*result == ContextResultCode::ACCEPTANCE).then_some(Oid::BER),
            provider_reason: *reason,
        });
    }
    Some(ResultList::from_slice(out))
}

/// The normal-mode CPA-PPDU: responding selector, one result per proposed context, the AARE on
/// the ACSE context.
pub(crate) fn cpa(
    responding_psel: Option<&[u8]>,
    answers: &[ContextAnswer],
    acse_context: ContextId,
    aare: &[u8],
) -> Result<Bytes, EncodeError> {
    let pdv = one_pdv(acse_context, aare);
    let mut results = Vec::new();
    let cpa = Cpa {
        mode: Mode::NORMAL,
        x410_parameters: None,
        normal: Some(CpaNormal {
            responding_selector: responding_psel,
            context_results: result_list(answers, &mut results),
            user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
            ..CpaNormal::default()
        }),
    };
    to_bytes(|b| cpa.encode(b))
}

/// The normal-mode CPR-PPDU: a provider refusal (`provider_reason`) or an AARE on the ACSE
/// context.
pub(crate) fn cpr(
    responding_psel: Option<&[u8]>,
    answers: &[ContextAnswer],
    provider_reason: Option<ProviderReason>,
    aare: Option<(ContextId, &[u8])>,
) -> Result<Bytes, EncodeError> {
    let mut results = Vec::new();
    let pdv;
    let mut cpr = CprNormal {
        responding_selector: responding_psel,
        context_results: if answers.is_empty() {
            None
        } else {
            result_list(answers, &mut results)
        },
        provider_reason,
        ..CprNormal::default()
    };
    if let Some((ctx, value)) = aare {
        pdv = one_pdv(ctx, value);
        cpr.user_data = Some(UserData::Full(PdvList::from_slice(&pdv)));
    }
    to_bytes(|b| Cpr::Normal(cpr).encode(b))
}

/// An ARU carrying `apdu` (an ABRT) on the ACSE context.
pub(crate) fn aru(acse_context: ContextId, apdu: &[u8]) -> Result<Bytes, EncodeError> {
    let pdv = one_pdv(acse_context, apdu);
    to_bytes(|b| {
        AbortPpdu::Aru(Aru {
            context_ids: None,
            user_data: Some(UserData::Full(PdvList::from_slice(&pdv))),
        })
        .encode(b)
    })
}

/// An X.410-1984-mode ARU with these SET contents.
pub(crate) fn aru_x410(components: &[u8]) -> Result<Bytes, EncodeError> {
    to_bytes(|b| AbortPpdu::AruX410(components).encode(b))
}

/// An ARP with `reason`.
pub(crate) fn arp(reason: AbortReason) -> Result<Bytes, EncodeError> {
    to_bytes(|b| {
        AbortPpdu::Arp(Arp {
            abort_reason: Some(reason),
            event_identifier: None,
        })
        .encode(b)
    })
}

/// The value of the PDV on `context`, or a presentation error at `at` naming what is missing.
pub(crate) fn value_on<'a>(
    ud: &UserData<'a>,
    context: ContextId,
    at: usize,
) -> Result<&'a [u8], DecodeError> {
    for pdv in ud.pdvs() {
        if pdv.context_id == context {
            return Ok(pdv_value(&pdv.values));
        }
    }
    Err(DecodeError::new(
        L,
        at,
        DecodeErrorKind::Missing {
            what: "presentation data value on the acse context",
        },
    ))
}

/// A presentation error: `what` is missing at `at`.
pub(crate) fn missing(at: usize, what: &'static str) -> DecodeError {
    DecodeError::new(L, at, DecodeErrorKind::Missing { what })
}

/// A presentation error: an element this PPDU may not carry here.
pub(crate) fn unexpected_element(at: usize, what: &'static str) -> DecodeError {
    DecodeError::new(L, at, DecodeErrorKind::BadSequence { what })
}

/// The ARP reason X.226 gives for a presentation protocol error (§8.4, Abort-reason).
pub(crate) fn abort_reason_for(e: &DecodeError) -> AbortReason {
    match e.kind() {
        DecodeErrorKind::Missing { .. } | DecodeErrorKind::InvalidValue { .. } => {
            AbortReason::INVALID_PPDU_PARAMETER_VALUE
        }
        DecodeErrorKind::BadSequence { .. } => AbortReason::UNEXPECTED_PPDU_PARAMETER,
        DecodeErrorKind::Unexpected { .. } => AbortReason::UNEXPECTED_PPDU,
        DecodeErrorKind::UnexpectedCode { .. } => AbortReason::UNRECOGNIZED_PPDU_PARAMETER,
        _ => AbortReason::UNRECOGNIZED_PPDU,
    }
}

/// Fully or simply encoded User-data from a session user data field, bounded by `limits`.
pub(crate) fn decode_user_data<'a>(
    data: &'a [u8],
    limits: &Limits,
) -> Result<UserData<'a>, DecodeError> {
    UserData::decode(data, limits)
}

/// Context tags of the normal-mode parameters of a CP-type that a CPA-PPDU or CPR-PPDU may not
/// carry (X.226 §8.2): calling `[1]` and called `[2]` presentation selectors, the context
/// definition list `[4]`, the default context name `[6]`, the initiator's nominated context
/// `[12]` and extensions `[14]`. An AC answering a CP with a CP (an echo, as ISODE's session
/// echo server sends, `osi2iso-ssap-echo`) has them.
const CP_ONLY: [u32; 6] = [1, 2, 4, 6, 12, 14];

/// Checks that the normal-mode parameters `[2]` of a CPA or CPR SET (`input`, the session user
/// data) carry none of the CP-only elements; the error names the first one and its offset
/// (an unexpected PPDU parameter, X.226 §8.4 Abort-reason 5).
pub(crate) fn check_no_cp_elements(input: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    use crate::ber::{Ctx, Reader, Tag};
    let ctx = Ctx {
        layer: L,
        max_depth: limits.max_ber_depth,
    };
    let check = |params: &mut Reader<'_>| -> Result<(), DecodeError> {
        while !params.is_empty() {
            let p = params.read()?;
            if p.tag.is(crate::ber::CONTEXT, p.tag.number) && CP_ONLY.contains(&p.tag.number) {
                return Err(unexpected_element(
                    p.offset,
                    "cp-ppdu parameter in a cpa or cpr (calling/called selector, context definition list, default context, nominated context or extensions)",
                ));
            }
        }
        Ok(())
    };
    let mut top = Reader::new(ctx, input, 0);
    let outer = top.read()?;
    if outer.tag == Tag::SEQUENCE {
        // A normal-mode CPR: the parameters are the SEQUENCE's members.
        return check(&mut crate::ber::children(ctx, &outer)?);
    }
    if outer.tag != Tag::SET {
        return Ok(()); // the PPDU decoder judges anything else
    }
    let mut members = crate::ber::children(ctx, &outer)?;
    while !members.is_empty() {
        let m = members.read()?;
        if m.tag == Tag::ctx_cons(2) {
            check(&mut crate::ber::children(ctx, &m)?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_single_pdv_decodes_in_one_pass_to_what_was_sent() {
        // An OCTET STRING of 70 000 octets: three length octets at every level.
        let n = 70_000usize;
        let mut value = vec![0x04, 0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        value.extend((0..n).map(|i| i as u8));
        let mut ppdu = DataHeader::new(ContextId::known(3), value.len())
            .unwrap()
            .as_slice()
            .to_vec();
        ppdu.extend_from_slice(&value);
        let ud = UserData::decode(&ppdu, &Limits::default()).unwrap();
        let pdvs: Vec<_> = ud.pdvs().collect();
        assert_eq!(pdvs.len(), 1);
        assert_eq!(pdvs[0].context_id.get(), 3);
        assert_eq!(pdv_value(&pdvs[0].values), &value[..]);
        // One octet short: the general decoder names the fault.
        assert!(UserData::decode(&ppdu[..ppdu.len() - 1], &Limits::default()).is_err());
    }

    #[test]
    fn data_header_is_what_the_presentation_encoder_writes() {
        // Every identifier (a ContextId is 1..=127).
        for context in (1..=127).filter_map(ContextId::new) {
            for len in [
                0usize,
                1,
                127,
                128,
                255,
                256,
                65_535,
                65_536,
                1 << 24,
                usize::MAX >> 8,
            ] {
                let mut want = BytesMut::new();
                UserData::encode_single_header(context, len, &mut want).unwrap();
                let got = DataHeader::new(context, len).unwrap();
                assert_eq!(got.as_slice(), &want[..], "context {context} len {len}");
            }
        }
    }
}
