//! The layers above the transport: session, presentation, ACSE and RTSE.
//!
//! [`Upper::tsdu`] is called once for every complete TSDU of a stream, in stream order, with the
//! record of the DT that completed it. It adds the `session` key of `docs/cli.md` (and `error`
//! when the session layer fails, with the offset within the TSDU), then `presentation`, `acse`
//! and `rtse`. The state lives per TCP stream and is shared by both directions.
//!
//! RTSE APDUs are looked for where X.228 puts them (`docs/protocol-notes.md` §3, §5):
//!
//! - normal mode, on the RTSE presentation context: in the user-information EXTERNALs of AARQ,
//!   AARE and ABRT, and in the PDVs of P-DATA (DT, RTTR), P-TOKEN-PLEASE (PT, RTTP) and ARU.
//!   The RTSE context is the one whose abstract syntax is `rTSE-abstract-syntax` (2.3.2) or
//!   X.400's `id-as-mta-rtse` (2.6.0.2.12), or else the context of the AARQ EXTERNAL that holds
//!   an RTORQ (`b0`). An EXTERNAL whose context is not known (no CP in the capture, or no
//!   indirect-reference) is decoded when its value has the tag expected there (`b0` in an AARQ,
//!   `b1`/`b2` in an AARE, `b6` in an ABRT); PDVs only on a known RTSE context.
//! - X.410-1984 mode (a CP or CPA with mode-value 0): the x410-mode-parameters of CP, CPA, CPR
//!   and ARU; the S-DATA user data, which is a raw transfer segment (reported as `RTTR`); the
//!   S-TOKEN-PLEASE user data, an unwrapped INTEGER (`RTTP`).
//!
//! Error offsets: a presentation or ACSE error counts from the first octet of the PPDU (the
//! session user data; an ACSE APDU's own offset is shifted by its PDV value's position). An
//! RTSE error counts from the RTSE APDU for an APDU carried in a PDV or EXTERNAL, from the PPDU
//! for X.410-mode parameters.
//!
//! Not every RFC 1006 stream carries OSI session: S7comm, S7comm-plus and RDP put their own PDUs
//! straight into COTP. Like tshark's session heuristic, a stream is decoded as session only once
//! one of its TSDUs decodes cleanly as SPDUs; from then on every TSDU is decoded and failures are
//! reported. Until then a TSDU that does not decode is left alone (it is not session).

use osi_stack::DecodeError;
use osi_stack::Limits;
use osi_stack::acse::{
    AeQualifier, ApInvocation, ApTitle, Apdu, AssociateSourceDiagnostic, ExternalList,
};
use osi_stack::oid::Oid;
use osi_stack::presentation::{
    AbortPpdu, ContextIdList, ContextList, Cp, Cpa, Cpr, DeletionList, DeletionResultList, Mode,
    PdvList, PdvValues, ResultList, Rs, Rsa, TypedData, UserData,
};
use osi_stack::rtse::{self, Rtab, Rtoac, Rtorj, Rtorq, Rttp, Rttr};
use osi_stack::session::{Spdu, SpduKind, spdus};

use crate::json::{J, Obj, hex};
use crate::stack::error_obj;

/// Which side sent a TSDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The initiator (sender of the SYN or CR).
    Client,
    /// The responder.
    Server,
    /// Unknown (`--hex` input: one direction of one stream).
    Unknown,
}

/// Upper-layer state of one TCP stream (or of the `--hex` input).
#[derive(Debug, Default)]
pub struct Upper {
    /// The stream carries OSI session (a TSDU has decoded as SPDUs).
    session: bool,
    /// The presentation context the CP proposed for ACSE (abstract syntax 2.2.1.0.1).
    acse_context: Option<i64>,
    /// The presentation context that carries RTSE APDUs (see the module docs).
    rtse_context: Option<i64>,
    /// The association runs in X.410-1984 mode (the CP or CPA said so).
    x410: bool,
}

impl Upper {
    /// A stream with nothing seen yet.
    pub fn new() -> Self {
        Upper::default()
    }

    /// Decodes one TSDU sent by `side` and adds its layers to `rec`.
    pub fn tsdu(&mut self, side: Side, tsdu: &[u8], rec: &mut Obj) {
        let _ = side;
        let mut list = Vec::new();
        let mut error = None;
        let mut upper_layers = None;
        for spdu in spdus(tsdu) {
            match spdu {
                Ok(s) => {
                    list.push(J::O(spdu_obj(&s)));
                    if upper_layers.is_none() {
                        upper_layers = self.presentation(&s);
                    }
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
            self.session = true;
        }
        if let Some(e) = error {
            if !self.session {
                // Not (yet) a session stream: this TSDU belongs to another protocol.
                return;
            }
            if !rec.has("error") {
                let offset = u64::try_from(e.offset()).unwrap_or(u64::MAX);
                rec.set("error", error_obj(e.layer().name(), offset, e.to_string()));
            }
        }
        if !list.is_empty() {
            rec.set("session", J::A(list));
        }
        if let Some(Layers {
            presentation,
            acse,
            rtse,
            error,
        }) = upper_layers
        {
            if !presentation.is_empty() {
                rec.set("presentation", presentation);
            }
            if let Some(a) = acse {
                rec.set("acse", a);
            }
            if let Some(r) = rtse {
                rec.set("rtse", r);
            }
            if let Some(e) = error {
                if !rec.has("error") {
                    rec.set("error", e);
                }
            }
        }
    }

    /// Decodes the presentation PDU in the user data of `s`, and ACSE and RTSE inside it.
    fn presentation(&mut self, s: &Spdu<'_>) -> Option<Layers> {
        let data = s.ss_user_data();
        let limits = Limits::default();
        let mut out = Layers::default();
        let p = &mut out.presentation;
        // RTSE found in the PPDU itself (X.410-1984 mode), decoded below.
        let mut x410 = None;
        let result = match s.kind() {
            SpduKind::Cn => Cp::decode(data, &limits).map(|(cp, _)| {
                p.set("type", "CP");
                p.set("mode", mode_name(cp.mode));
                // A new association: its own mode and contexts.
                self.x410 = cp.mode == Mode::X410_1984;
                self.rtse_context = None;
                if let Some(raw) = cp.x410_parameters {
                    x410 = Some(X410::Connect(
                        raw,
                        Rtorq::from_cp(&cp, &limits).map(|r| r.map(Into::into)),
                    ));
                }
                if let Some(n) = &cp.normal {
                    if let Some(v) = n.calling_selector {
                        p.set("calling_psel", hex(v));
                    }
                    if let Some(v) = n.called_selector {
                        p.set("called_psel", hex(v));
                    }
                    if let Some(list) = &n.context_definitions {
                        self.acse_context = list
                            .iter()
                            .find(|c| c.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX)
                            .map(|c| c.id);
                        self.rtse_context = list
                            .iter()
                            .find(|c| {
                                c.abstract_syntax == Oid::RTSE_ABSTRACT_SYNTAX
                                    || c.abstract_syntax == Oid::X400_AS_MTA_RTSE
                            })
                            .map(|c| c.id);
                        p.set("contexts", contexts(list));
                    }
                    pdvs(p, n.user_data.as_ref())
                } else {
                    None
                }
            }),
            SpduKind::Ac => Cpa::decode(data, &limits).map(|cpa| {
                p.set("type", "CPA");
                p.set("mode", mode_name(cpa.mode));
                if cpa.mode == Mode::X410_1984 {
                    self.x410 = true;
                }
                if let Some(raw) = cpa.x410_parameters {
                    x410 = Some(X410::Connect(
                        raw,
                        Rtoac::from_cpa(&cpa, &limits).map(|r| r.map(Into::into)),
                    ));
                }
                if let Some(n) = &cpa.normal {
                    if let Some(v) = n.responding_selector {
                        p.set("responding_psel", hex(v));
                    }
                    if let Some(list) = &n.context_results {
                        p.set("results", results(list));
                    }
                    pdvs(p, n.user_data.as_ref())
                } else {
                    None
                }
            }),
            SpduKind::Rf if !data.is_empty() => Cpr::decode(data, &limits).map(|cpr| {
                p.set("type", "CPR");
                match cpr {
                    Cpr::X410(raw) => {
                        p.set("mode", "x410");
                        x410 = Some(X410::Connect(
                            raw,
                            Rtorj::from_cpr(&cpr, &limits).map(|r| r.map(Into::into)),
                        ));
                        None
                    }
                    Cpr::Normal(n) => {
                        p.set("mode", "normal");
                        if let Some(v) = n.responding_selector {
                            p.set("responding_psel", hex(v));
                        }
                        if let Some(list) = &n.context_results {
                            p.set("results", results(list));
                        }
                        if let Some(r) = n.provider_reason {
                            p.set("provider_reason", J::U(r.0.unsigned_abs()));
                        }
                        pdvs(p, n.user_data.as_ref())
                    }
                }
            }),
            SpduKind::Ab if !data.is_empty() => {
                AbortPpdu::decode(data, &limits).map(|ab| match ab {
                    AbortPpdu::AruX410(raw) => {
                        p.set("type", "ARU");
                        p.set("mode", "x410");
                        x410 = Some(X410::Connect(
                            raw,
                            Rtab::from_abort(&ab, &limits).map(|r| r.map(Into::into)),
                        ));
                        None
                    }
                    AbortPpdu::Aru(aru) => {
                        p.set("type", "ARU");
                        p.set("mode", "normal");
                        if let Some(list) = &aru.context_ids {
                            p.set("context_ids", context_ids(list));
                        }
                        pdvs(p, aru.user_data.as_ref())
                    }
                    AbortPpdu::Arp(arp) => {
                        p.set("type", "ARP");
                        if let Some(r) = arp.abort_reason {
                            p.set("provider_reason", J::U(r.0.unsigned_abs()));
                        }
                        if let Some(e) = arp.event_identifier {
                            p.set("event_identifier", J::U(e.0.unsigned_abs()));
                        }
                        None
                    }
                })
            }
            // X.410-1984 mode: S-DATA carries a raw transfer segment, S-TOKEN-PLEASE an
            // unwrapped priority INTEGER; neither is presentation User-data.
            SpduKind::Dt if self.x410 && !data.is_empty() => {
                p.set("type", "TD");
                p.set("mode", "x410");
                out.rtse = Some(rtse_obj(&Rttr::new(data).into()));
                Ok(None)
            }
            SpduKind::Pt if self.x410 && !data.is_empty() => {
                p.set("type", "TD");
                p.set("mode", "x410");
                x410 = Some(X410::Whole(Rttp::decode(data, &limits).map(Into::into)));
                Ok(None)
            }
            // Context management (X.226 §7.3): S-TYPED-DATA carries AC, ACA or TTD;
            // S-RESYNCHRONIZE request and response carry RS and RSA.
            SpduKind::Td if !data.is_empty() => {
                TypedData::decode(data, &limits).map(|td| match td {
                    TypedData::Ac(ac) => {
                        p.set("type", "AC");
                        if let Some(list) = &ac.additions {
                            p.set("contexts", contexts(list));
                        }
                        if let Some(list) = &ac.deletions {
                            p.set("deleted_contexts", deleted(list));
                        }
                        pdvs(p, ac.user_data.as_ref())
                    }
                    TypedData::Aca(aca) => {
                        p.set("type", "ACA");
                        if let Some(list) = &aca.addition_results {
                            p.set("results", results(list));
                        }
                        if let Some(list) = &aca.deletion_results {
                            p.set("deletion_results", deletion_results(list));
                        }
                        pdvs(p, aca.user_data.as_ref())
                    }
                    TypedData::Ttd(ud) => {
                        p.set("type", "TTD");
                        pdvs(p, Some(&ud))
                    }
                })
            }
            SpduKind::Rs if !data.is_empty() => Rs::decode(data, &limits).map(|rs| {
                p.set("type", "RS");
                if let Some(list) = &rs.context_ids {
                    p.set("context_ids", context_ids(list));
                }
                pdvs(p, rs.user_data.as_ref())
            }),
            SpduKind::Ra if !data.is_empty() => Rsa::decode(data, &limits).map(|rsa| {
                p.set("type", "RSA");
                if let Some(list) = &rsa.context_ids {
                    p.set("context_ids", context_ids(list));
                }
                pdvs(p, rsa.user_data.as_ref())
            }),
            SpduKind::Dt | SpduKind::Fn | SpduKind::Dn | SpduKind::Pt if !data.is_empty() => {
                UserData::decode(data, &limits).map(|ud| {
                    p.set("type", "TD");
                    pdvs(p, Some(&ud))
                })
            }
            _ => return None,
        };
        out.take_x410(data, x410);
        match result {
            Err(e) => {
                out.error = Some(decode_error(&e, 0));
            }
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
                        && match self.acse_context {
                            Some(id) => *ctx == id,
                            None => matches!(v.first(), Some(0x60..=0x64)),
                        }
                });
                if let Some((_, v)) = apdu {
                    match Apdu::decode(v, &limits) {
                        Ok(apdu) => {
                            out.acse = Some(acse_obj(&apdu));
                            self.rtse_in_acse(&apdu, &limits, &mut out);
                        }
                        // ACSE counts from the APDU; report the offset within the PPDU.
                        Err(e) => out.error = Some(decode_error(&e, offset_in(data, v))),
                    }
                }
                // RTSE APDUs straight in a PDV of the RTSE context (P-DATA, PT, ARU).
                if out.rtse.is_none() {
                    if let Some(id) = self.rtse_context {
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
    fn rtse_in_acse(&mut self, apdu: &Apdu<'_>, limits: &Limits, out: &mut Layers) {
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
            let is_rtse = match (self.rtse_context, ext.indirect_reference) {
                (Some(id), Some(r)) => id == r,
                _ => looks_like,
            };
            if !is_rtse {
                continue;
            }
            // The AARQ's RTORQ names the RTSE context for the rest of the association.
            if matches!(apdu, Apdu::Aarq(_)) && self.rtse_context.is_none() {
                self.rtse_context = ext.indirect_reference;
            }
            out.set_rtse(rtse::Apdu::decode(value, limits));
            return;
        }
    }
}

/// RTSE components carried by an X.410-1984-mode PPDU: the raw parameters (for the error
/// offset) and what they decoded to, or a whole user-data value.
enum X410<'a> {
    /// CP, CPA, CPR or ARU parameters.
    Connect(&'a [u8], Result<Option<rtse::Apdu<'a>>, DecodeError>),
    /// S-TOKEN-PLEASE user data.
    Whole(Result<rtse::Apdu<'a>, DecodeError>),
}

/// What the layers above the session made of one TSDU.
#[derive(Debug, Default)]
struct Layers {
    presentation: Obj,
    acse: Option<Obj>,
    rtse: Option<Obj>,
    error: Option<Obj>,
}

impl Layers {
    /// The `rtse` key, or an `rtse` error.
    fn set_rtse(&mut self, r: Result<rtse::Apdu<'_>, DecodeError>) {
        match r {
            Ok(apdu) => self.rtse = Some(rtse_obj(&apdu)),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(decode_error(&e, 0));
                }
            }
        }
    }

    /// The RTSE found in an X.410-mode PPDU; error offsets are made relative to `ppdu`.
    fn take_x410(&mut self, ppdu: &[u8], x410: Option<X410<'_>>) {
        match x410 {
            None => {}
            Some(X410::Connect(raw, r)) => match r {
                Ok(Some(apdu)) => self.rtse = Some(rtse_obj(&apdu)),
                Ok(None) => {}
                Err(e) => self.error = Some(decode_error(&e, offset_in(ppdu, raw))),
            },
            Some(X410::Whole(r)) => self.set_rtse(r),
        }
    }
}

/// The `error` object of a decoding error, its offset moved by `base`.
fn decode_error(e: &DecodeError, base: usize) -> Obj {
    let e = e.shifted(base);
    let offset = u64::try_from(e.offset()).unwrap_or(u64::MAX);
    error_obj(e.layer().name(), offset, e.to_string())
}

/// Where `inner`, a subslice of `outer`, starts in it (0 if it is not one).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i.checked_sub(o).filter(|d| *d <= outer.len()).unwrap_or(0)
}

/// The `rtse` object of the contract.
fn rtse_obj(apdu: &rtse::Apdu<'_>) -> Obj {
    let mut o = Obj::new();
    o.set("type", apdu.name());
    match apdu {
        rtse::Apdu::Rtorq(a) => {
            o.set("checkpoint_size", a.checkpoint_size_or_default());
            o.set("window_size", a.window_size_or_default());
            o.set("dialogue_mode", a.dialogue_mode_or_default().to_string());
            o.set("connection_data", a.connection_data.name());
            if let Some(p) = a.application_protocol {
                o.set("application_protocol", p.0);
            }
        }
        rtse::Apdu::Rtoac(a) => {
            o.set("checkpoint_size", a.checkpoint_size_or_default());
            o.set("window_size", a.window_size_or_default());
            o.set("connection_data", a.connection_data.name());
        }
        rtse::Apdu::Rtorj(a) => {
            if let Some(r) = a.refuse_reason {
                o.set("refuse_reason", r.0);
            }
            if let Some(u) = a.user_data {
                o.set("user_data_len", u.len());
            }
        }
        rtse::Apdu::Rttp(a) => o.set("priority", a.priority),
        rtse::Apdu::Rttr(a) => o.set("length", a.len()),
        rtse::Apdu::Rtab(a) => {
            if let Some(r) = a.abort_reason {
                o.set("abort_reason", r.0);
            }
            if let Some(b) = &a.reflected_parameter {
                o.set("reflected_parameter", hex(b.data));
            }
            if let Some(u) = a.user_data {
                o.set("user_data_len", u.len());
            }
        }
    }
    o
}

fn mode_name(m: Mode) -> &'static str {
    if m == Mode::X410_1984 {
        "x410"
    } else {
        "normal"
    }
}

fn oid_str(o: &Oid<'_>) -> String {
    o.to_string()
}

fn contexts(list: &ContextList<'_>) -> J {
    J::A(
        list.iter()
            .map(|c| {
                let mut o = Obj::new();
                o.set("id", J::U(c.id.unsigned_abs()));
                o.set("abstract_syntax", oid_str(&c.abstract_syntax));
                o.set(
                    "transfer_syntaxes",
                    J::A(
                        c.transfer_syntaxes
                            .iter()
                            .map(|t| J::S(oid_str(&t)))
                            .collect(),
                    ),
                );
                J::O(o)
            })
            .collect(),
    )
}

/// The presentation-context-identifier-list of an ARU, RS or RSA.
fn context_ids(list: &ContextIdList<'_>) -> J {
    J::A(
        list.iter()
            .map(|c| {
                let mut o = Obj::new();
                o.set("id", J::U(c.id.unsigned_abs()));
                o.set("transfer_syntax", oid_str(&c.transfer_syntax));
                J::O(o)
            })
            .collect(),
    )
}

/// The deletion list of an AC: context identifiers.
fn deleted(list: &DeletionList<'_>) -> J {
    J::A(list.iter().map(|id| J::U(id.unsigned_abs())).collect())
}

/// The deletion result list of an ACA: one code per deleted context.
fn deletion_results(list: &DeletionResultList<'_>) -> J {
    J::A(list.iter().map(|r| J::U(r.0.unsigned_abs())).collect())
}

fn results(list: &ResultList<'_>) -> J {
    J::A(
        list.iter()
            .map(|r| {
                let mut o = Obj::new();
                o.set("result", J::U(r.result.0.unsigned_abs()));
                if let Some(t) = &r.transfer_syntax {
                    o.set("transfer_syntax", oid_str(t));
                }
                if let Some(reason) = r.provider_reason {
                    o.set("reason", J::U(reason.0.unsigned_abs()));
                }
                J::O(o)
            })
            .collect(),
    )
}

/// Adds the `pdvs` key for fully-encoded user data and returns each PDV's context and
/// single-ASN1-type value (where ACSE may be).
fn pdvs<'a>(p: &mut Obj, data: Option<&UserData<'a>>) -> Option<Vec<(i64, &'a [u8])>> {
    let list: &PdvList<'a> = match data? {
        UserData::Full(list) => list,
        UserData::Simple(_) => return None,
    };
    let mut out = Vec::new();
    let mut entries = Vec::new();
    for pdv in list.iter() {
        let mut o = Obj::new();
        o.set("context", J::U(pdv.context_id.unsigned_abs()));
        let encoding = match pdv.values {
            PdvValues::SingleAsn1Type(v) => {
                out.push((pdv.context_id, v));
                "single-asn1-type"
            }
            PdvValues::OctetAligned(_) | PdvValues::OctetAlignedSegments(_) => "octet-aligned",
            PdvValues::Arbitrary { .. } => "arbitrary",
        };
        o.set("encoding", encoding);
        o.set("length", value_len(&pdv.values));
        entries.push(J::O(o));
    }
    p.set("pdvs", J::A(entries));
    Some(out)
}

/// Octets of a PDV's or EXTERNAL's value (for a bit string, its data octets).
fn value_len(v: &PdvValues<'_>) -> usize {
    match *v {
        PdvValues::SingleAsn1Type(b)
        | PdvValues::OctetAligned(b)
        | PdvValues::OctetAlignedSegments(b) => b.len(),
        PdvValues::Arbitrary { data, .. } => data.len(),
    }
}

fn ap_title(o: &mut Obj, key: &'static str, t: Option<&ApTitle<'_>>) {
    match t {
        Some(ApTitle::Form2(oid)) => o.set(key, oid_str(oid)),
        Some(ApTitle::Form1(raw)) => o.set(key, hex(raw)),
        None => {}
    }
}

fn ae_qualifier(o: &mut Obj, key: &'static str, q: Option<&AeQualifier<'_>>) {
    match q {
        Some(AeQualifier::Form2(n)) => o.set(key, J::U(n.unsigned_abs())),
        Some(AeQualifier::Form1(raw)) => o.set(key, hex(raw)),
        None => {}
    }
}

/// AP-title, AE-qualifier and invocation identifiers of one side, under the four `keys`.
fn invocation(o: &mut Obj, keys: [&'static str; 4], who: &ApInvocation<'_>) {
    let [title, qualifier, ap_id, ae_id] = keys;
    ap_title(o, title, who.ap_title.as_ref());
    ae_qualifier(o, qualifier, who.ae_qualifier.as_ref());
    if let Some(v) = who.ap_invocation_id {
        o.set(ap_id, J::I(v));
    }
    if let Some(v) = who.ae_invocation_id {
        o.set(ae_id, J::I(v));
    }
}

fn user_information(o: &mut Obj, list: Option<&ExternalList<'_>>) {
    if let Some(list) = list {
        let len: usize = list.iter().map(|e| value_len(&e.encoding)).sum();
        o.set("user_information_len", len);
    }
}

/// The `acse` object of the contract.
fn acse_obj(apdu: &Apdu<'_>) -> Obj {
    let mut o = Obj::new();
    match apdu {
        Apdu::Aarq(a) => {
            o.set("type", "AARQ");
            o.set("application_context", oid_str(&a.application_context_name));
            invocation(
                &mut o,
                [
                    "called_ap_title",
                    "called_ae_qualifier",
                    "called_ap_invocation_id",
                    "called_ae_invocation_id",
                ],
                &a.called,
            );
            invocation(
                &mut o,
                [
                    "calling_ap_title",
                    "calling_ae_qualifier",
                    "calling_ap_invocation_id",
                    "calling_ae_invocation_id",
                ],
                &a.calling,
            );
            if let Some(m) = &a.mechanism_name {
                o.set("mechanism", oid_str(m));
            }
            user_information(&mut o, a.user_information.as_ref());
        }
        Apdu::Aare(a) => {
            o.set("type", "AARE");
            o.set("application_context", oid_str(&a.application_context_name));
            invocation(
                &mut o,
                [
                    "responding_ap_title",
                    "responding_ae_qualifier",
                    "responding_ap_invocation_id",
                    "responding_ae_invocation_id",
                ],
                &a.responding,
            );
            o.set("result", J::U(a.result.0.unsigned_abs()));
            let mut d = Obj::new();
            match a.result_source_diagnostic {
                AssociateSourceDiagnostic::User(v) => {
                    d.set("source", "acse-service-user");
                    d.set("value", J::U(v.0.unsigned_abs()));
                }
                AssociateSourceDiagnostic::Provider(v) => {
                    d.set("source", "acse-service-provider");
                    d.set("value", J::U(v.0.unsigned_abs()));
                }
            }
            o.set("diagnostic", d);
            if let Some(m) = &a.mechanism_name {
                o.set("mechanism", oid_str(m));
            }
            user_information(&mut o, a.user_information.as_ref());
        }
        Apdu::Rlrq(r) => {
            o.set("type", "RLRQ");
            if let Some(reason) = r.reason {
                o.set("reason", J::U(reason.0.unsigned_abs()));
            }
            user_information(&mut o, r.user_information.as_ref());
        }
        Apdu::Rlre(r) => {
            o.set("type", "RLRE");
            if let Some(reason) = r.reason {
                o.set("reason", J::U(reason.0.unsigned_abs()));
            }
            user_information(&mut o, r.user_information.as_ref());
        }
        Apdu::Abrt(a) => {
            o.set("type", "ABRT");
            o.set("abort_source", J::U(a.source.0.unsigned_abs()));
            if let Some(d) = a.diagnostic {
                o.set("abort_diagnostic", J::U(d.0.unsigned_abs()));
            }
            user_information(&mut o, a.user_information.as_ref());
        }
    }
    o
}

/// The `session` entry of one SPDU (keys of `docs/cli.md`; those that do not apply are left out).
fn spdu_obj(s: &Spdu<'_>) -> Obj {
    let mut o = Obj::new();
    o.set("type", s.kind().abbreviation());
    o.set("si", s.si().0);
    if let Some(v) = s.calling_session_selector() {
        o.set("calling_ssel", hex(v));
    }
    // PI 52 is the called selector in a CN and the responding one in an AC.
    if let Some(v) = s.called_session_selector() {
        let key = if s.kind() == SpduKind::Ac {
            "responding_ssel"
        } else {
            "called_ssel"
        };
        o.set(key, hex(v));
    }
    if let Some(cai) = s.connect_accept_item() {
        if let Some(v) = cai.version_number {
            o.set("version", v.0);
        }
        if let Some(v) = cai.protocol_options {
            o.set("protocol_options", v.0);
        }
        if let Some(t) = cai.tsdu_maximum_size {
            o.set(
                "tsdu_max",
                J::A(vec![
                    J::from(t.initiator_to_responder),
                    J::from(t.responder_to_initiator),
                ]),
            );
        }
    }
    if let Some(r) = s.session_user_requirements() {
        o.set("requirements", r.0);
    }
    match s.kind() {
        SpduKind::Rf => {
            if let Some(r) = s.refuse_reason() {
                o.set("reason", r.0);
            }
        }
        SpduKind::Ab | SpduKind::Fn | SpduKind::Dn => {
            if let Some(t) = s.transport_disconnect() {
                o.set("reason", t.0);
            }
        }
        _ => {}
    }
    let data = s.ss_user_data();
    if !data.is_empty() || s.kind() == SpduKind::Dt {
        o.set("user_data_len", data.len());
    }
    o
}
