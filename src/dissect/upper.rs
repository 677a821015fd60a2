//! The layers above the transport: session, presentation, ACSE and RTSE, with the context state
//! of one connection.
//!
//! RTSE APDUs are looked for where X.228 puts them:
//!
//! - normal mode, on the RTSE presentation context: in the user-information EXTERNALs of AARQ,
//!   AARE and ABRT, and in the PDVs of P-DATA (DT, RTTR), P-TOKEN-PLEASE (PT, RTTP) and ARU.
//!   The RTSE context is the one whose abstract syntax is `rTSE-abstract-syntax` (2.3.2) or
//!   X.400's `id-as-mta-rtse` (2.6.0.2.12), or else the context of the AARQ EXTERNAL that holds
//!   an RTORQ (`b0`). An EXTERNAL whose context is not known (no CP in the capture, or no
//!   indirect-reference) is decoded when its value has the tag expected there (`b0` in an AARQ,
//!   `b1`/`b2` in an AARE, `b6` in an ABRT); PDVs only on a known RTSE context.
//! - X.410-1984 mode (a CP or CPA with mode-value 0): the x410-mode-parameters of CP, CPA, CPR
//!   and ARU; the S-DATA user data, which is a raw transfer segment (an RTTR); the
//!   S-TOKEN-PLEASE user data, an unwrapped INTEGER (an RTTP).
//!
//! Error offsets: a session error counts from the TSDU; a presentation or ACSE error from the
//! first octet of the PPDU (the session user data; an ACSE APDU's own offset is shifted by its
//! PDV value's position); an RTSE error from the RTSE APDU for an APDU carried in a PDV or
//! EXTERNAL, from the PPDU for X.410-mode parameters.

use crate::DecodeError;
use crate::Limits;
use crate::acse::Apdu;
use crate::oid::Oid;
use crate::presentation::{AbortPpdu, Cp, Cpa, Cpr, Mode, PdvValues, Rs, Rsa, TypedData, UserData};
use crate::rtse::{self, Rtab, Rtoac, Rtorj, Rtorq, Rttp, Rttr};
use crate::session::{Spdu, SpduKind, spdus};

/// What a passive observer knows of one connection's upper layers, learnt from what it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contexts {
    /// The stream carries OSI session: a TSDU decoded cleanly as SPDUs, or began with CN, AC
    /// or RF.
    pub session: bool,
    /// The presentation context the CP proposed for ACSE (abstract syntax 2.2.1.0.1).
    pub acse_context: Option<i64>,
    /// The presentation context that carries RTSE APDUs (see the module docs).
    pub rtse_context: Option<i64>,
    /// The association runs in X.410-1984 mode (the CP or CPA said so).
    pub x410: bool,
    /// The CN's user data was not a CP (its first octet is not the SET tag `31` that starts
    /// both a normal-mode CP and an X.410-1984 PConnect, X.226 §8.2): the session is used
    /// without presentation, as ISODE's session echo does, and the SPDUs' user data is not
    /// decoded as presentation.
    pub session_only: bool,
}

/// The PPDU an SPDU carried (X.226 §8), or the raw user data of an X.410-1984-mode S-DATA or
/// S-TOKEN-PLEASE, which is not a PPDU.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Presentation<'a> {
    /// CP, in a CN.
    Cp(Cp<'a>),
    /// CPA, in an AC.
    Cpa(Cpa<'a>),
    /// CPR, in an RF.
    Cpr(Cpr<'a>),
    /// ARU or ARP, in an AB.
    Abort(AbortPpdu<'a>),
    /// AC, ACA or TTD, in a TD (context management, X.226 §7.3).
    Typed(TypedData<'a>),
    /// RS, in an RS SPDU.
    Rs(Rs<'a>),
    /// RSA, in an RA SPDU.
    Rsa(Rsa<'a>),
    /// TD user data, in a DT, FN, DN or PT.
    Data(UserData<'a>),
    /// X.410-1984 mode: the S-DATA or S-TOKEN-PLEASE user data, carried raw (the RTSE APDU is
    /// in [`Upper::rtse`]).
    X410Data(&'a [u8]),
}

impl Presentation<'_> {
    /// The PPDU's abbreviation in X.226 §8 (`CP`, `CPA`, `CPR`, `ARU`, `ARP`, `AC`, `ACA`,
    /// `TTD`, `RS`, `RSA`, `TD`; X.410-1984-mode S-DATA user data is `TD`).
    pub fn name(&self) -> &'static str {
        match self {
            Presentation::Cp(_) => "CP",
            Presentation::Cpa(_) => "CPA",
            Presentation::Cpr(_) => "CPR",
            Presentation::Abort(AbortPpdu::Arp(_)) => "ARP",
            Presentation::Abort(_) => "ARU",
            Presentation::Typed(TypedData::Ac(_)) => "AC",
            Presentation::Typed(TypedData::Aca(_)) => "ACA",
            Presentation::Typed(TypedData::Ttd(_)) => "TTD",
            Presentation::Rs(_) => "RS",
            Presentation::Rsa(_) => "RSA",
            Presentation::Data(_) | Presentation::X410Data(_) => "TD",
        }
    }
}

/// The layers above the transport in one TSDU of a session stream.
#[derive(Debug, Clone, Default)]
pub struct Upper<'a> {
    /// Every SPDU decoded, concatenated ones included (up to the first that failed).
    pub session: Vec<Spdu<'a>>,
    /// The PPDU of the first SPDU that carries user data, when it decoded.
    pub presentation: Option<Presentation<'a>>,
    /// The ACSE APDU of a connection, release or abort PPDU.
    pub acse: Option<Apdu<'a>>,
    /// The RTSE APDU found (see the module docs).
    pub rtse: Option<rtse::Apdu<'a>>,
}

/// What the layers above the session made of one SPDU.
#[derive(Default)]
struct Layers<'a> {
    presentation: Option<Presentation<'a>>,
    acse: Option<Apdu<'a>>,
    rtse: Option<rtse::Apdu<'a>>,
    error: Option<DecodeError>,
}

/// Decodes one TSDU with the connection's state: the upper layers (`None` when the stream is
/// not a session stream) and the first error.
pub(crate) fn decode<'a>(
    contexts: &mut Contexts,
    tsdu: &'a [u8],
) -> (Option<Upper<'a>>, Option<DecodeError>) {
    let mut list = Vec::new();
    let mut error = None;
    let mut layers: Option<Layers<'a>> = None;
    for spdu in spdus(tsdu) {
        match spdu {
            Ok(s) => {
                if layers.is_none() {
                    layers = presentation(contexts, &s);
                }
                list.push(s);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // CN, AC and RF open a session stream even when they are malformed.
    let connect = matches!(tsdu.first(), Some(0x0c..=0x0e));
    if error.is_none() || connect {
        contexts.session = true;
    }
    if error.is_some() && !contexts.session {
        // Not (yet) a session stream: this TSDU belongs to another protocol.
        return (None, None);
    }
    let mut upper = Upper {
        session: list,
        ..Upper::default()
    };
    if let Some(l) = layers {
        upper.presentation = l.presentation;
        upper.acse = l.acse;
        upper.rtse = l.rtse;
        error = error.or(l.error);
    }
    (Some(upper), error)
}

/// RTSE components carried by an X.410-1984-mode PPDU: the raw parameters (for the error
/// offset) and what they decoded to, or a whole user-data value.
enum X410<'a> {
    /// CP, CPA, CPR or ARU parameters.
    Connect(&'a [u8], Result<Option<rtse::Apdu<'a>>, DecodeError>),
    /// S-TOKEN-PLEASE user data.
    Whole(Result<rtse::Apdu<'a>, DecodeError>),
}

impl<'a> Layers<'a> {
    /// The RTSE APDU, or an RTSE error.
    fn set_rtse(&mut self, r: Result<rtse::Apdu<'a>, DecodeError>) {
        match r {
            Ok(apdu) => self.rtse = Some(apdu),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(e);
                }
            }
        }
    }

    /// The RTSE found in an X.410-mode PPDU; error offsets are made relative to `ppdu`.
    fn take_x410(&mut self, ppdu: &[u8], x410: Option<X410<'a>>) {
        match x410 {
            None => {}
            Some(X410::Connect(raw, r)) => match r {
                Ok(Some(apdu)) => self.rtse = Some(apdu),
                Ok(None) => {}
                Err(e) => self.error = Some(e.shifted(offset_in(ppdu, raw))),
            },
            Some(X410::Whole(r)) => self.set_rtse(r),
        }
    }
}

/// Where `inner`, a subslice of `outer`, starts in it (0 if it is not one).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i.checked_sub(o).filter(|d| *d <= outer.len()).unwrap_or(0)
}

/// PDV contexts and single-ASN1-type values.
type Values<'a> = Vec<(i64, &'a [u8])>;

/// Each PDV's context and single-ASN1-type value of fully-encoded user data (where ACSE and
/// RTSE may be).
fn values<'a>(data: Option<&UserData<'a>>) -> Option<Values<'a>> {
    let list = match data? {
        UserData::Full(list) => list,
        UserData::Simple(_) => return None,
    };
    Some(
        list.iter()
            .filter_map(|pdv| match pdv.values {
                PdvValues::SingleAsn1Type(v) => Some((pdv.context_id, v)),
                _ => None,
            })
            .collect(),
    )
}

/// Decodes the presentation PDU in the user data of `s`, and ACSE and RTSE inside it.
fn presentation<'a>(c: &mut Contexts, s: &Spdu<'a>) -> Option<Layers<'a>> {
    let data = s.ss_user_data();
    let limits = Limits::default();
    let mut out = Layers::default();
    // RTSE found in the PPDU itself (X.410-1984 mode), decoded below.
    let mut x410 = None;
    if s.kind() == SpduKind::Cn {
        c.session_only = data.first() != Some(&0x31);
    }
    if c.session_only {
        return None;
    }
    let result: Result<Option<Values<'a>>, DecodeError> = match s.kind() {
        SpduKind::Cn => Cp::decode(data, &limits).map(|(cp, _)| {
            // A new association: its own mode and contexts.
            c.x410 = cp.mode == Mode::X410_1984;
            c.rtse_context = None;
            if let Some(raw) = cp.x410_parameters {
                x410 = Some(X410::Connect(
                    raw,
                    Rtorq::from_cp(&cp, &limits).map(|r| r.map(Into::into)),
                ));
            }
            let v = cp.normal.as_ref().and_then(|n| {
                if let Some(list) = &n.context_definitions {
                    c.acse_context = list
                        .iter()
                        .find(|d| d.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX)
                        .map(|d| d.id);
                    c.rtse_context = list
                        .iter()
                        .find(|d| {
                            d.abstract_syntax == Oid::RTSE_ABSTRACT_SYNTAX
                                || d.abstract_syntax == Oid::X400_AS_MTA_RTSE
                        })
                        .map(|d| d.id);
                }
                values(n.user_data.as_ref())
            });
            out.presentation = Some(Presentation::Cp(cp));
            v
        }),
        SpduKind::Ac => Cpa::decode(data, &limits).map(|cpa| {
            if cpa.mode == Mode::X410_1984 {
                c.x410 = true;
            }
            if let Some(raw) = cpa.x410_parameters {
                x410 = Some(X410::Connect(
                    raw,
                    Rtoac::from_cpa(&cpa, &limits).map(|r| r.map(Into::into)),
                ));
            }
            let v = cpa
                .normal
                .as_ref()
                .and_then(|n| values(n.user_data.as_ref()));
            out.presentation = Some(Presentation::Cpa(cpa));
            v
        }),
        SpduKind::Rf if !data.is_empty() => Cpr::decode(data, &limits).map(|cpr| {
            let v = match &cpr {
                Cpr::X410(raw) => {
                    x410 = Some(X410::Connect(
                        raw,
                        Rtorj::from_cpr(&cpr, &limits).map(|r| r.map(Into::into)),
                    ));
                    None
                }
                Cpr::Normal(n) => values(n.user_data.as_ref()),
            };
            out.presentation = Some(Presentation::Cpr(cpr));
            v
        }),
        SpduKind::Ab if !data.is_empty() => AbortPpdu::decode(data, &limits).map(|ab| {
            let v = match &ab {
                AbortPpdu::AruX410(raw) => {
                    x410 = Some(X410::Connect(
                        raw,
                        Rtab::from_abort(&ab, &limits).map(|r| r.map(Into::into)),
                    ));
                    None
                }
                AbortPpdu::Aru(aru) => values(aru.user_data.as_ref()),
                AbortPpdu::Arp(_) => None,
            };
            out.presentation = Some(Presentation::Abort(ab));
            v
        }),
        // X.410-1984 mode: S-DATA carries a raw transfer segment, S-TOKEN-PLEASE an
        // unwrapped priority INTEGER; neither is presentation User-data.
        SpduKind::Dt if c.x410 && !data.is_empty() => {
            out.presentation = Some(Presentation::X410Data(data));
            out.rtse = Some(Rttr::new(data).into());
            Ok(None)
        }
        SpduKind::Pt if c.x410 && !data.is_empty() => {
            out.presentation = Some(Presentation::X410Data(data));
            x410 = Some(X410::Whole(Rttp::decode(data, &limits).map(Into::into)));
            Ok(None)
        }
        // Context management (X.226 §7.3): S-TYPED-DATA carries AC, ACA or TTD;
        // S-RESYNCHRONIZE request and response carry RS and RSA.
        SpduKind::Td if !data.is_empty() => TypedData::decode(data, &limits).map(|td| {
            let v = match &td {
                TypedData::Ac(ac) => values(ac.user_data.as_ref()),
                TypedData::Aca(aca) => values(aca.user_data.as_ref()),
                TypedData::Ttd(ud) => values(Some(ud)),
            };
            out.presentation = Some(Presentation::Typed(td));
            v
        }),
        SpduKind::Rs if !data.is_empty() => Rs::decode(data, &limits).map(|rs| {
            let v = values(rs.user_data.as_ref());
            out.presentation = Some(Presentation::Rs(rs));
            v
        }),
        SpduKind::Ra if !data.is_empty() => Rsa::decode(data, &limits).map(|rsa| {
            let v = values(rsa.user_data.as_ref());
            out.presentation = Some(Presentation::Rsa(rsa));
            v
        }),
        SpduKind::Dt | SpduKind::Fn | SpduKind::Dn | SpduKind::Pt if !data.is_empty() => {
            UserData::decode(data, &limits).map(|ud| {
                let v = values(Some(&ud));
                out.presentation = Some(Presentation::Data(ud));
                v
            })
        }
        _ => return None,
    };
    out.take_x410(data, x410);
    match result {
        Err(e) => out.error = Some(e),
        Ok(Some(values)) => {
            // ACSE rides in the connection-phase and release PDUs.
            let acse_phase = matches!(
                s.kind(),
                SpduKind::Cn
                    | SpduKind::Ac
                    | SpduKind::Rf
                    | SpduKind::Fn
                    | SpduKind::Dn
                    | SpduKind::Ab
            );
            let apdu = values.iter().find(|(ctx, v)| {
                acse_phase
                    && match c.acse_context {
                        Some(id) => *ctx == id,
                        None => matches!(v.first(), Some(0x60..=0x64)),
                    }
            });
            if let Some((_, v)) = apdu {
                match Apdu::decode(v, &limits) {
                    Ok(apdu) => {
                        rtse_in_acse(c, &apdu, &limits, &mut out);
                        out.acse = Some(apdu);
                    }
                    // ACSE counts from the APDU; report the offset within the PPDU.
                    Err(e) => out.error = Some(e.shifted(offset_in(data, v))),
                }
            }
            // RTSE APDUs straight in a PDV of the RTSE context (P-DATA, PT, ARU).
            if out.rtse.is_none() {
                if let Some(id) = c.rtse_context {
                    if let Some((_, v)) = values.iter().find(|(ctx, _)| *ctx == id) {
                        out.set_rtse(rtse::Apdu::decode(v, &limits));
                    }
                }
            }
        }
        Ok(None) => {}
    }
    Some(out)
}

/// RTSE APDUs in the user-information of an AARQ, AARE or ABRT.
fn rtse_in_acse<'a>(c: &mut Contexts, apdu: &Apdu<'a>, limits: &Limits, out: &mut Layers<'a>) {
    let (list, tags): (_, &[u8]) = match apdu {
        Apdu::Aarq(a) => (a.user_information.as_ref(), &[0xb0]),
        Apdu::Aare(a) => (a.user_information.as_ref(), &[0xb1, 0xb2]),
        Apdu::Abrt(a) => (a.user_information.as_ref(), &[0xb6]),
        Apdu::Rlrq(_) | Apdu::Rlre(_) => return,
    };
    let Some(list) = list else { return };
    for ext in list.iter() {
        let value = match ext.encoding {
            PdvValues::SingleAsn1Type(v) | PdvValues::OctetAligned(v) => v,
            PdvValues::OctetAlignedSegments(_) | PdvValues::Arbitrary { .. } => continue,
        };
        // On the RTSE context when both are known, else by the tag expected here.
        let looks_like = value.first().is_some_and(|b| tags.contains(b));
        let is_rtse = match (c.rtse_context, ext.indirect_reference) {
            (Some(id), Some(r)) => id == r,
            _ => looks_like,
        };
        if !is_rtse {
            continue;
        }
        // The AARQ's RTORQ names the RTSE context for the rest of the association.
        if matches!(apdu, Apdu::Aarq(_)) && c.rtse_context.is_none() {
            c.rtse_context = ext.indirect_reference;
        }
        out.set_rtse(rtse::Apdu::decode(value, limits));
        return;
    }
}
