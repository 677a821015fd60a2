//! Class-0 procedures (X.224 §8, §6.5.4, §6.22; RFC 1006 §5; RFC 2126 §6) as decisions a
//! caller can act on: what a class-0 responder answers to a CR, what an initiator accepts in a
//! CC, and which DTs are valid. Nothing here keeps state or does I/O.
//!
//! # Choices made where the standards leave room
//!
//! * **Parameters in a CR** that class 0 does not use are ignored, unknown ones too (X.224
//!   §13.2.3); the alternative-class parameter is always interpreted. In a **CC**, a parameter
//!   class 0 does not use is ignored by default (as libiec61850 does) and a protocol error under
//!   [`Responder::strict`] / [`check_cc`]'s `strict` flag (as X.224 and ISODE do).
//! * **Refusing an unsupported class** uses DR reason 0x82 "connection negotiation failed", the
//!   reason whose meaning fits; an *invalid* class proposal (a class above 4, or an alternative the
//!   preferred class does not admit) is a protocol error answered with ER cause 0x03 "invalid
//!   parameter value" (X.224 §6.6 note 1 recommends an ER for an invalid CR).
//! * **TPDU size**: codes 0x07–0x0D and the out-of-standard 0x0E–0x10 are accepted (the latter
//!   capped at 65531), any other code is an invalid parameter value. An absent size means 65531
//!   (RFC 1006). The CC always carries the size (RFC 2126 §6.4). When the CR carries a preferred
//!   maximum TPDU size (0xF0) and [`Responder::honour_preferred_size`] is set, the CC answers with
//!   0xF0 alone, as X.224 §6.5.4 k requires.
//! * **DT**: TPDU-NR bits or ROA set in class 0 are reported as errors (RFC 2126 §6.5: they must
//!   not be ignored).
//!
//! # Example
//!
//! A responder refusing two CRs, each with the TPDU X.224 asks for:
//!
//! ```
//! use osi_stack::cotp::{DisconnectReason, RejectCause, Tpdu, class0::{self, Refusal}};
//!
//! // Class 2 preferred, no alternative class: DR 0x82 "connection negotiation failed".
//! let bytes = [0x11, 0xe0, 0, 0, 0, 1, 0x20, 0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1];
//! let Tpdu::Cr(cr) = Tpdu::decode(&bytes)? else { unreachable!() };
//! let refusal = class0::respond(&cr, &class0::Responder::default()).unwrap_err();
//! assert_eq!(refusal, Refusal::Disconnect(DisconnectReason(0x82)));
//! let mut dr = Vec::new();
//! refusal.encode(&cr, &bytes, &mut dr)?;
//! assert_eq!(dr, [0x06, 0x80, 0, 1, 0, 0, 0x82]); // DST-REF = the CR's SRC-REF, SRC-REF 0
//!
//! // TPDU-size code 0xa2 (undefined): ER "invalid parameter value" pointing at that octet.
//! let bytes = [0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0xa2, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1];
//! let Tpdu::Cr(cr) = Tpdu::decode(&bytes)? else { unreachable!() };
//! let refusal = class0::respond(&cr, &class0::Responder::default()).unwrap_err();
//! assert_eq!(refusal, Refusal::Reject { cause: RejectCause::INVALID_PARAMETER_VALUE, offset: 9 });
//! let mut er = Vec::new();
//! refusal.encode(&cr, &bytes, &mut er)?;
//! assert_eq!(er[1], 0x70); // ER, carrying the CR's octets up to the offending one
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::cotp::{
    ClassOption, Connect, Data, DataFormat, DisconnectReason, Error as ErTpdu, ParamCode, Params,
    ParamsBuf, RejectCause, Tpdu, TpduKind, TpduSize,
};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};

/// Offset of the class/option octet in a CR or CC.
const CLASS_OFFSET: usize = 6;
/// Offset of the variable part in a CR or CC.
const PARAMS_OFFSET: usize = 7;

/// What a class-0 entity does with a parameter it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// The parameter is used in class 0.
    Use,
    /// The parameter is ignored (and may be reported).
    Ignore,
    /// The parameter makes the TPDU a protocol error.
    ProtocolError,
}

/// What a class-0 entity does with parameter `code` in a TPDU of `kind`. `strict` turns the
/// parameters of a CC that class 0 does not use into protocol errors.
pub fn disposition(kind: TpduKind, code: ParamCode, strict: bool) -> Disposition {
    use ParamCode as P;
    let used = matches!(
        code,
        P::TPDU_SIZE
            | P::PREFERRED_MAX_TPDU_SIZE
            | P::CALLING_TSAP
            | P::CALLED_TSAP
            | P::ADDITIONAL_OPTIONS
    );
    match kind {
        TpduKind::Cr if used || code == P::ALTERNATIVE_CLASSES => Disposition::Use,
        TpduKind::Cr => Disposition::Ignore,
        TpduKind::Cc if used => Disposition::Use,
        TpduKind::Cc if strict => Disposition::ProtocolError,
        TpduKind::Cc => Disposition::Ignore,
        TpduKind::Er if code == P::INVALID_TPDU => Disposition::Use,
        TpduKind::Dr if code == P::ADDITIONAL_INFO => Disposition::Use,
        _ if strict => Disposition::ProtocolError,
        _ => Disposition::Ignore,
    }
}

/// Why a class-0 responder refuses a CR, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Answer with a DR carrying this reason.
    Disconnect(DisconnectReason),
    /// Answer with an ER: the CR is a protocol error at `offset` (the offending octet).
    Reject {
        /// The reject cause.
        cause: RejectCause,
        /// Offset of the offending octet in the CR, counted from its LI.
        offset: usize,
    },
}

impl Refusal {
    /// Builds the refusing TPDU for the CR whose octets are `cr_tpdu` (the TPKT payload), and
    /// writes it. A DR carries SRC-REF 0 (no reference assigned, X.224 §6.6.3); an ER carries the
    /// CR's header up to and including the offending octet (X.224 §13.12.4).
    pub fn encode<B: bytes::BufMut + ?Sized>(
        &self,
        cr: &Connect<'_>,
        cr_tpdu: &[u8],
        buf: &mut B,
    ) -> Result<(), EncodeError> {
        match *self {
            Refusal::Disconnect(reason) => Tpdu::Dr(crate::cotp::Disconnect {
                dst_ref: cr.src_ref,
                src_ref: 0,
                reason,
                params: Params::EMPTY,
                user_data: &[],
            })
            .encode(buf),
            Refusal::Reject { cause, offset } => {
                // The invalid-TPDU value must fit a one-octet length and an LI of 254.
                let end = offset.saturating_add(1).min(cr_tpdu.len()).min(248);
                let invalid = cr_tpdu.get(..end).unwrap_or_default();
                let mut params = ParamsBuf::new();
                params.push(ParamCode::INVALID_TPDU, invalid)?;
                Tpdu::Er(ErTpdu {
                    dst_ref: cr.src_ref,
                    cause,
                    params: params.as_params(),
                })
                .encode(buf)
            }
        }
    }
}

/// How a class-0 responder answers CRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Responder {
    /// Largest TPDU this side accepts and sends. Default 8192, the largest X.224 code, which
    /// libiec61850 and ISODE use over TCP.
    pub max_tpdu_size: usize,
    /// Answer a CR's preferred maximum TPDU size (0xF0) with 0xF0. Default true.
    pub honour_preferred_size: bool,
    /// Treat parameters class 0 does not use as protocol errors where X.224 allows it. Default
    /// false.
    pub strict: bool,
}

impl Default for Responder {
    fn default() -> Self {
        Responder {
            max_tpdu_size: 8192,
            honour_preferred_size: true,
            strict: false,
        }
    }
}

/// How the TPDU size was agreed, i.e. which parameter the CC carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeAnswer {
    /// A TPDU size parameter (0xC0).
    TpduSize(TpduSize),
    /// A preferred maximum TPDU size parameter (0xF0), in units of 128 octets.
    Preferred(u32),
}

/// A CR that a class-0 responder can accept, with what was negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accepted<'a> {
    /// The TPDU size both sides use, in octets.
    pub tpdu_size: usize,
    /// The size parameter the CC carries.
    pub size_answer: SizeAnswer,
    /// The calling transport selector of the CR.
    pub calling_tsel: Option<&'a [u8]>,
    /// The called transport selector of the CR.
    pub called_tsel: Option<&'a [u8]>,
}

impl Accepted<'_> {
    /// The variable part of the CC: the size answer, then the calling and responding
    /// selectors echoed as the CR gave them (the order libiec61850 and the S7 PLCs use).
    pub fn cc_params(&self) -> Result<ParamsBuf, EncodeError> {
        let mut p = ParamsBuf::new();
        match self.size_answer {
            SizeAnswer::TpduSize(s) => {
                p.tpdu_size(s);
            }
            SizeAnswer::Preferred(units) => {
                p.param(&crate::cotp::Param::PreferredMaxTpduSize(units))?;
            }
        }
        if let Some(t) = self.called_tsel {
            p.called_tsel(t)?;
        }
        if let Some(t) = self.calling_tsel {
            p.calling_tsel(t)?;
        }
        Ok(p)
    }

    /// The CC answering `cr`, with `src_ref` as this side's reference and `params` from
    /// [`Accepted::cc_params`].
    pub fn cc<'p>(&self, cr: &Connect<'_>, src_ref: u16, params: &'p ParamsBuf) -> Tpdu<'p> {
        cc(cr.src_ref, src_ref, params)
    }
}

/// The class-0 CC answering the CR whose SRC-REF is `peer_ref`, with `src_ref` as this side's
/// reference and `params` from [`Accepted::cc_params`].
pub fn cc(peer_ref: u16, src_ref: u16, params: &ParamsBuf) -> Tpdu<'_> {
    Tpdu::Cc(Connect {
        cdt: 0,
        dst_ref: peer_ref,
        src_ref,
        class_option: ClassOption::CLASS0,
        params: params.as_params(),
        header_data: &[],
        user_data: &[],
    })
}

/// What an initiator proposed in its CR, as far as checking the CC needs it: kept by a
/// [`Connection`](crate::cotp::Connection) instead of the CR's octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The CR's SRC-REF, which the CC's DST-REF must echo.
    pub src_ref: u16,
    /// The TPDU size parameter of the CR (`None`: absent, 65531 octets over RFC 1006).
    pub tpdu_size: Option<TpduSize>,
    /// The preferred maximum TPDU size of the CR, in units of 128 octets.
    pub preferred_max_tpdu_size: Option<u32>,
}

impl Proposal {
    /// What `cr` proposes.
    pub fn of(cr: &Connect<'_>) -> Self {
        Proposal {
            src_ref: cr.src_ref,
            tpdu_size: cr.tpdu_size(),
            preferred_max_tpdu_size: cr.preferred_max_tpdu_size(),
        }
    }
}

/// Offset of the value of the last `code` parameter in a CR/CC.
fn value_offset(params: &Params<'_>, code: ParamCode) -> usize {
    params.get(code).map_or(PARAMS_OFFSET, |p| {
        PARAMS_OFFSET.saturating_add(p.offset).saturating_add(2)
    })
}

/// Decides what a class-0-only responder answers to a CR (X.224 §6.5.4 i and Table 3, RFC 2126
/// §6.3): class 0 when the CR prefers it, prefers class 1 with nothing but 0 or 1 as
/// alternatives, or prefers class 2, 3 or 4 with class 0 (or, for 3 and 4, class 1) among the
/// alternatives. A valid proposal that excludes class 0 is refused with DR 0x82; an invalid one
/// is rejected with an ER.
pub fn negotiate_class(cr: &Connect<'_>) -> Result<(), Refusal> {
    let preferred = cr.class_option.class();
    let reject = |offset| Refusal::Reject {
        cause: RejectCause::INVALID_PARAMETER_VALUE,
        offset,
    };
    if preferred > 4 {
        return Err(reject(CLASS_OFFSET));
    }
    let alts = cr.alternative_classes().unwrap_or_default();
    let alt_offset = value_offset(&cr.params, ParamCode::ALTERNATIVE_CLASSES);
    let mut class0_reachable = preferred == 0 || preferred == 1;
    for (i, &alt) in alts.iter().enumerate() {
        let alt_class = alt >> 4;
        // Alternatives each preferred class admits (Table 3).
        let valid = match preferred {
            // Class 0 admits no alternative; a CR that sends one anyway still gets class 0,
            // which is what it asked for.
            0 => true,
            1 => alt_class <= 1,
            2 => alt_class == 0 || alt_class == 2,
            3 => alt_class <= 3,
            _ => alt_class <= 4,
        };
        if !valid {
            return Err(reject(alt_offset.saturating_add(i)));
        }
        if alt_class == 0 || (alt_class == 1 && preferred >= 3) {
            class0_reachable = true;
        }
    }
    if class0_reachable {
        Ok(())
    } else {
        Err(Refusal::Disconnect(DisconnectReason::NEGOTIATION_FAILED))
    }
}

/// The size a CR's TPDU size parameter proposes: 65531 when absent (RFC 1006 §5), an error at
/// the parameter's value octet when its code is not a size.
pub fn proposed_tpdu_size(cr: &Connect<'_>) -> Result<usize, Refusal> {
    match cr.tpdu_size() {
        None => Ok(crate::tpkt::MAX_TPDU_LEN),
        Some(code) => code.octets().ok_or(Refusal::Reject {
            cause: RejectCause::INVALID_PARAMETER_VALUE,
            offset: value_offset(&cr.params, ParamCode::TPDU_SIZE),
        }),
    }
}

/// Negotiates the TPDU size a CC answers with (X.224 §6.5.4 j, k; RFC 1006 §5; RFC 2126 §6.4).
pub fn negotiate_tpdu_size(
    cr: &Connect<'_>,
    config: &Responder,
) -> Result<(usize, SizeAnswer), Refusal> {
    let local = config.max_tpdu_size.clamp(128, crate::tpkt::MAX_TPDU_LEN);
    let proposed = proposed_tpdu_size(cr)?;
    if config.honour_preferred_size {
        if let Some(units) = cr.preferred_max_tpdu_size().filter(|&u| u >= 1) {
            let wanted = usize::try_from(units)
                .unwrap_or(usize::MAX)
                .saturating_mul(128);
            let units = (wanted.min(local) / 128).max(1);
            let size = units.saturating_mul(128);
            return Ok((
                size,
                SizeAnswer::Preferred(u32::try_from(units).unwrap_or(u32::MAX)),
            ));
        }
    }
    let mut code = TpduSize::at_most(proposed.min(local));
    // Answer an absent size with a code X.224 knows.
    if cr.tpdu_size().is_none() && !code.is_standard() {
        code = TpduSize::S8192;
    }
    let size = code.octets().unwrap_or(128);
    Ok((size, SizeAnswer::TpduSize(code)))
}

/// Decides the answer of a class-0 responder to a CR: class, TPDU size and the selectors. The
/// caller checks the selectors against its services and refuses with DR 0x03 "address unknown"
/// (or 0x02 "session entity not attached") when none matches.
///
/// ```
/// use osi_stack::cotp::{Tpdu, class0};
/// let bytes = [0x11, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1];
/// let Tpdu::Cr(cr) = Tpdu::decode(&bytes)? else { unreachable!() };
/// let accepted = class0::respond(&cr, &class0::Responder::default()).unwrap();
/// assert_eq!(accepted.tpdu_size, 8192);
/// let params = accepted.cc_params().unwrap();
/// let mut cc = Vec::new();
/// accepted.cc(&cr, 1, &params).encode(&mut cc).unwrap();
/// assert_eq!(cc, [0x11, 0xd0, 0, 1, 0, 1, 0, 0xc0, 1, 0x0d, 0xc2, 2, 0, 1, 0xc1, 2, 0, 1]);
/// # Ok::<(), osi_stack::DecodeError>(())
/// ```
pub fn respond<'a>(cr: &Connect<'a>, config: &Responder) -> Result<Accepted<'a>, Refusal> {
    negotiate_class(cr)?;
    let (tpdu_size, size_answer) = negotiate_tpdu_size(cr, config)?;
    Ok(Accepted {
        tpdu_size,
        size_answer,
        calling_tsel: cr.calling_tsel(),
        called_tsel: cr.called_tsel(),
    })
}

/// What an initiator learns from an acceptable CC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Confirmed<'a> {
    /// The TPDU size to use for sending, in octets.
    pub tpdu_size: usize,
    /// The responding transport selector, if the CC carried one (length 0 = nil selector).
    pub responding_tsel: Option<&'a [u8]>,
    /// The responder's reference.
    pub peer_ref: u16,
}

fn cc_error(offset: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(Layer::Cotp, offset, kind)
}

/// Checks the CC answering a class-0 `cr` (X.224 §6.5.4, Table A.6 "CC unacceptable"; RFC 2126
/// §7): the class must be 0, DST-REF must echo the CR's SRC-REF, the size may not exceed the
/// proposal and 0xF0 may only answer a CR that carried it. With `strict`, parameters class 0
/// does not use are errors too. Offsets in errors count from the CC's LI.
pub fn check_cc<'a>(
    cr: &Connect<'_>,
    cc: &Connect<'a>,
    strict: bool,
) -> Result<Confirmed<'a>, DecodeError> {
    check_cc_proposal(&Proposal::of(cr), cc, strict)
}

/// [`check_cc`] against what the CR proposed.
pub fn check_cc_proposal<'a>(
    cr: &Proposal,
    cc: &Connect<'a>,
    strict: bool,
) -> Result<Confirmed<'a>, DecodeError> {
    if cc.class_option.class() != 0 {
        return Err(cc_error(
            CLASS_OFFSET,
            DecodeErrorKind::InvalidValue {
                what: "class in cc",
                value: u64::from(cc.class_option.0),
            },
        ));
    }
    if cc.dst_ref != cr.src_ref {
        return Err(cc_error(
            2,
            DecodeErrorKind::InvalidValue {
                what: "cc dst-ref",
                value: u64::from(cc.dst_ref),
            },
        ));
    }
    if strict && !cc.header_data.is_empty() {
        return Err(cc_error(
            PARAMS_OFFSET.saturating_add(cc.params.len()),
            DecodeErrorKind::InvalidValue {
                what: "parameter code",
                value: u64::from(cc.header_data.first().copied().unwrap_or_default()),
            },
        ));
    }
    for p in cc.params.iter() {
        if disposition(TpduKind::Cc, p.code, strict) == Disposition::ProtocolError {
            return Err(cc_error(
                PARAMS_OFFSET.saturating_add(p.offset),
                DecodeErrorKind::ForbiddenParameter {
                    pdu: "class 0 cc",
                    code: p.code.0,
                },
            ));
        }
    }
    let proposed = match cr.tpdu_size.and_then(|s| s.octets()) {
        Some(n) => n,
        None => crate::tpkt::MAX_TPDU_LEN,
    };
    let proposed = match cr.preferred_max_tpdu_size {
        Some(units) if units >= 1 => proposed.max(
            usize::try_from(units)
                .unwrap_or(usize::MAX)
                .saturating_mul(128),
        ),
        _ => proposed,
    };
    let tpdu_size = if let Some(units) = cc.preferred_max_tpdu_size() {
        let offset = value_offset(&cc.params, ParamCode::PREFERRED_MAX_TPDU_SIZE);
        if cr.preferred_max_tpdu_size.is_none() || units == 0 {
            return Err(cc_error(
                offset,
                DecodeErrorKind::InvalidValue {
                    what: "preferred maximum tpdu size in cc",
                    value: u64::from(units),
                },
            ));
        }
        usize::try_from(units)
            .unwrap_or(usize::MAX)
            .saturating_mul(128)
    } else if let Some(code) = cc.tpdu_size() {
        let offset = value_offset(&cc.params, ParamCode::TPDU_SIZE);
        code.octets().ok_or(cc_error(
            offset,
            DecodeErrorKind::InvalidValue {
                what: "tpdu size",
                value: u64::from(code.0),
            },
        ))?
    } else {
        proposed
    };
    if tpdu_size > proposed {
        return Err(cc_error(
            PARAMS_OFFSET,
            DecodeErrorKind::LengthOutOfRange {
                what: "tpdu size in cc",
                value: tpdu_size,
                min: 128,
                max: proposed,
            },
        ));
    }
    Ok(Confirmed {
        tpdu_size: tpdu_size.min(crate::tpkt::MAX_TPDU_LEN),
        responding_tsel: cc.called_tsel(),
        peer_ref: cc.src_ref,
    })
}

/// Checks a DT received on a class-0 connection: short format, no ROA, TPDU-NR 0 (RFC 2126 §6.5,
/// X.224 §13.7). Offsets count from the DT's LI.
pub fn check_dt(dt: &Data<'_>) -> Result<(), DecodeError> {
    if dt.format != DataFormat::Short {
        return Err(cc_error(
            0,
            DecodeErrorKind::InvalidValue {
                what: "class 0 dt length indicator",
                value: dt
                    .params
                    .len()
                    .saturating_add(if dt.format == DataFormat::Normal {
                        4
                    } else {
                        7
                    }) as u64,
            },
        ));
    }
    if dt.roa {
        return Err(cc_error(
            1,
            DecodeErrorKind::InvalidValue {
                what: "class 0 dt code",
                value: 0xf1,
            },
        ));
    }
    if dt.nr != 0 {
        return Err(cc_error(
            2,
            DecodeErrorKind::InvalidValue {
                what: "class 0 dt tpdu-nr",
                value: u64::from(dt.nr),
            },
        ));
    }
    Ok(())
}

/// Checks a received ER for class 0: the invalid-TPDU parameter is mandatory (X.224 §13.12.4).
pub fn check_er(er: &ErTpdu<'_>) -> Result<(), DecodeError> {
    if er.invalid_tpdu().is_none() {
        return Err(cc_error(
            5,
            DecodeErrorKind::Missing {
                what: "invalid tpdu parameter in class 0 er",
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cr_with(class: u8, alts: Option<&[u8]>) -> (Vec<u8>, ParamsBuf) {
        let mut p = ParamsBuf::new();
        p.tpdu_size(TpduSize::S1024);
        if let Some(a) = alts {
            p.push(ParamCode::ALTERNATIVE_CLASSES, a).unwrap();
        }
        let mut out = Vec::new();
        Tpdu::Cr(Connect {
            cdt: 0,
            dst_ref: 0,
            src_ref: 7,
            class_option: ClassOption(class << 4),
            params: p.as_params(),
            header_data: &[],
            user_data: &[],
        })
        .encode(&mut out)
        .unwrap();
        (out, p)
    }

    fn decide(class: u8, alts: Option<&[u8]>) -> Result<(), Refusal> {
        let (bytes, _) = cr_with(class, alts);
        let Tpdu::Cr(cr) = Tpdu::decode(&bytes).unwrap() else {
            panic!()
        };
        negotiate_class(&cr)
    }

    #[test]
    fn class_negotiation_table() {
        let nf = Err(Refusal::Disconnect(DisconnectReason::NEGOTIATION_FAILED));
        assert_eq!(decide(0, None), Ok(()));
        assert_eq!(decide(1, None), Ok(()));
        assert_eq!(decide(1, Some(&[0x00])), Ok(()));
        assert_eq!(decide(2, Some(&[0x00])), Ok(()));
        assert_eq!(decide(2, None), nf);
        assert_eq!(decide(2, Some(&[0x20])), nf);
        assert_eq!(decide(3, Some(&[0x10])), Ok(()));
        assert_eq!(decide(3, Some(&[0x20])), nf);
        assert_eq!(decide(4, None), nf);
        assert_eq!(decide(4, Some(&[0x30])), nf);
        assert_eq!(decide(4, Some(&[0x20, 0x00])), Ok(()));
        assert_eq!(decide(4, Some(&[0x10])), Ok(()));
        // Invalid combinations are protocol errors pointing at the offending octet.
        let (bytes, _) = cr_with(2, Some(&[0x10]));
        let r = decide(2, Some(&[0x10])).unwrap_err();
        let Refusal::Reject { cause, offset } = r else {
            panic!()
        };
        assert_eq!(cause, RejectCause::INVALID_PARAMETER_VALUE);
        assert_eq!(bytes[offset], 0x10);
        assert!(matches!(
            decide(3, Some(&[0x40])),
            Err(Refusal::Reject { .. })
        ));
        assert!(matches!(
            decide(1, Some(&[0x20])),
            Err(Refusal::Reject { .. })
        ));
        assert!(matches!(
            decide(5, None),
            Err(Refusal::Reject { offset: 6, .. })
        ));
    }

    #[test]
    fn size_negotiation() {
        let cfg = Responder::default();
        let decode = |b: &'static [u8]| match Tpdu::decode(b).unwrap() {
            Tpdu::Cr(c) => c,
            _ => panic!(),
        };
        // 0x0D proposed, local 8192 → 8192.
        let cr = decode(&[0x09, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0d]);
        assert_eq!(
            negotiate_tpdu_size(&cr, &cfg),
            Ok((8192, SizeAnswer::TpduSize(TpduSize::S8192)))
        );
        // 0x0E proposed: out of standard, capped by the local maximum.
        let cr = decode(&[0x09, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0e]);
        assert_eq!(negotiate_tpdu_size(&cr, &cfg).unwrap().0, 8192);
        let big = Responder {
            max_tpdu_size: 65531,
            ..cfg
        };
        assert_eq!(negotiate_tpdu_size(&cr, &big).unwrap().0, 16384);
        let cr = decode(&[0x09, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x10]);
        assert_eq!(negotiate_tpdu_size(&cr, &big).unwrap().0, 65531);
        // Absent: RFC 1006 default 65531, answered with a standard code.
        let cr = decode(&[0x06, 0xe0, 0, 0, 0, 1, 0]);
        assert_eq!(
            negotiate_tpdu_size(&cr, &big),
            Ok((8192, SizeAnswer::TpduSize(TpduSize::S8192)))
        );
        // Preferred maximum: answered with 0xF0 alone.
        let cr = decode(&[0x0d, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0d, 0xf0, 2, 0, 0x40]);
        assert_eq!(
            negotiate_tpdu_size(&cr, &cfg),
            Ok((8192, SizeAnswer::Preferred(64)))
        );
        let small = Responder {
            max_tpdu_size: 1000,
            ..cfg
        };
        assert_eq!(
            negotiate_tpdu_size(&cr, &small),
            Ok((896, SizeAnswer::Preferred(7)))
        );
        // Invalid code: ER pointing at the value octet.
        let cr = decode(&[0x09, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0xa2]);
        assert_eq!(
            negotiate_tpdu_size(&cr, &cfg),
            Err(Refusal::Reject {
                cause: RejectCause::INVALID_PARAMETER_VALUE,
                offset: 9
            })
        );
    }

    #[test]
    fn er_for_invalid_size_matches_spec_example() {
        // spec tpkt-cotp.md E7: ER for a CR with TPDU size code 0x05.
        let cr_bytes = [0x0e, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x05, 0xc2, 3, 0, 0, 1];
        let Tpdu::Cr(cr) = Tpdu::decode(&cr_bytes).unwrap() else {
            panic!()
        };
        let refusal = respond(&cr, &Responder::default()).unwrap_err();
        let mut out = Vec::new();
        refusal.encode(&cr, &cr_bytes, &mut out).unwrap();
        assert_eq!(
            out,
            [
                0x10, 0x70, 0x00, 0x01, 0x03, 0xc1, 0x0a, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00,
                0xc0, 0x01, 0x05
            ]
        );
    }

    #[test]
    fn cc_checks() {
        let cr_b = [0x09, 0xe0, 0, 0, 0, 5, 0, 0xc0, 1, 0x0a];
        let Tpdu::Cr(cr) = Tpdu::decode(&cr_b).unwrap() else {
            panic!()
        };
        let ok = [0x0d, 0xd0, 0, 5, 0, 9, 0, 0xc0, 1, 0x09, 0xc2, 2, 0, 1];
        let Tpdu::Cc(cc) = Tpdu::decode(&ok).unwrap() else {
            panic!()
        };
        let c = check_cc(&cr, &cc, true).unwrap();
        assert_eq!(
            (c.tpdu_size, c.peer_ref, c.responding_tsel),
            (512, 9, Some(&[0u8, 1][..]))
        );
        // class 4 echoed (libiec61850 behaviour) is refused.
        let bad = [0x09, 0xd0, 0, 5, 0, 9, 0x40, 0xc0, 1, 0x0a];
        let Tpdu::Cc(cc) = Tpdu::decode(&bad).unwrap() else {
            panic!()
        };
        assert_eq!(check_cc(&cr, &cc, false).unwrap_err().offset(), 6);
        // larger than proposed.
        let big = [0x09, 0xd0, 0, 5, 0, 9, 0, 0xc0, 1, 0x0d];
        let Tpdu::Cc(cc) = Tpdu::decode(&big).unwrap() else {
            panic!()
        };
        assert!(check_cc(&cr, &cc, false).is_err());
        // unused parameter: ignored by default, error when strict.
        let extra = [0x0d, 0xd0, 0, 5, 0, 9, 0, 0xc0, 1, 0x0a, 0x87, 2, 0, 1];
        let Tpdu::Cc(cc) = Tpdu::decode(&extra).unwrap() else {
            panic!()
        };
        assert!(check_cc(&cr, &cc, false).is_ok());
        let e = check_cc(&cr, &cc, true).unwrap_err();
        assert_eq!(e.offset(), 10);
        // wrong DST-REF.
        let wrong = [0x09, 0xd0, 0, 6, 0, 9, 0, 0xc0, 1, 0x0a];
        let Tpdu::Cc(cc) = Tpdu::decode(&wrong).unwrap() else {
            panic!()
        };
        assert_eq!(check_cc(&cr, &cc, false).unwrap_err().offset(), 2);
    }

    #[test]
    fn dt_checks() {
        let Tpdu::Dt(dt) = Tpdu::decode(&[0x02, 0xf0, 0x81, 0x32]).unwrap() else {
            panic!()
        };
        let e = check_dt(&dt).unwrap_err();
        assert_eq!(e.offset(), 2);
        assert!(e.to_string().contains("tpdu-nr"));
        let Tpdu::Dt(dt) = Tpdu::decode(&[0x02, 0xf0, 0x80]).unwrap() else {
            panic!()
        };
        assert!(check_dt(&dt).is_ok());
        let Tpdu::Dt(dt) = Tpdu::decode(&[0x02, 0xf1, 0x80]).unwrap() else {
            panic!()
        };
        assert_eq!(check_dt(&dt).unwrap_err().offset(), 1);
        let Tpdu::Dt(dt) = Tpdu::decode(&[0x04, 0xf0, 0, 7, 0x80, 0x41]).unwrap() else {
            panic!()
        };
        assert_eq!(check_dt(&dt).unwrap_err().offset(), 0);
    }
}
