//! The layers above the transport of a dissected record as the keys of `docs/cli.md`:
//! `session`, `presentation`, `acse` and `rtse`. Decoding and context tracking are
//! [`osi_stack::dissect`]'s job; this module only prints.

use osi_stack::acse::{
    AeQualifier, ApInvocation, ApTitle, Apdu, AssociateSourceDiagnostic, ExternalList,
};
use osi_stack::dissect::{Presentation, Upper};
use osi_stack::oid::Oid;
use osi_stack::presentation::{
    AbortPpdu, ContextIdList, ContextList, Cpr, DeletionList, DeletionResultList, Mode, PdvValues,
    ResultList, TypedData, UserData,
};
use osi_stack::rtse;
use osi_stack::session::{Spdu, SpduKind};

use crate::json::{J, Obj, hex};

/// Adds the upper layers' keys to `o`.
pub fn keys(u: &Upper<'_>, o: &mut Obj) {
    if !u.session.is_empty() {
        o.set(
            "session",
            J::A(u.session.iter().map(|s| J::O(spdu_obj(s))).collect()),
        );
    }
    if let Some(p) = &u.presentation {
        o.set("presentation", presentation_obj(p));
    }
    if let Some(a) = &u.acse {
        o.set("acse", acse_obj(a));
    }
    if let Some(r) = &u.rtse {
        o.set("rtse", rtse_obj(r));
    }
}

/// The `presentation` object of the contract.
fn presentation_obj(ppdu: &Presentation<'_>) -> Obj {
    let mut p = Obj::new();
    p.set("type", ppdu.name());
    match ppdu {
        Presentation::Cp(cp) => {
            p.set("mode", mode_name(cp.mode));
            if let Some(n) = &cp.normal {
                if let Some(v) = n.calling_selector {
                    p.set("calling_psel", hex(v));
                }
                if let Some(v) = n.called_selector {
                    p.set("called_psel", hex(v));
                }
                if let Some(list) = &n.context_definitions {
                    p.set("contexts", contexts(list));
                }
                pdvs(&mut p, n.user_data.as_ref());
            }
        }
        Presentation::Cpa(cpa) => {
            p.set("mode", mode_name(cpa.mode));
            if let Some(n) = &cpa.normal {
                if let Some(v) = n.responding_selector {
                    p.set("responding_psel", hex(v));
                }
                if let Some(list) = &n.context_results {
                    p.set("results", results(list));
                }
                pdvs(&mut p, n.user_data.as_ref());
            }
        }
        Presentation::Cpr(cpr) => match cpr {
            Cpr::X410(_) => p.set("mode", "x410"),
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
                pdvs(&mut p, n.user_data.as_ref());
            }
        },
        Presentation::Abort(ab) => match ab {
            AbortPpdu::AruX410(_) => {
                p.set("mode", "x410");
            }
            AbortPpdu::Aru(aru) => {
                p.set("mode", "normal");
                if let Some(list) = &aru.context_ids {
                    p.set("context_ids", context_ids(list));
                }
                pdvs(&mut p, aru.user_data.as_ref());
            }
            AbortPpdu::Arp(arp) => {
                if let Some(r) = arp.abort_reason {
                    p.set("provider_reason", J::U(r.0.unsigned_abs()));
                }
                if let Some(e) = arp.event_identifier {
                    p.set("event_identifier", J::U(e.0.unsigned_abs()));
                }
            }
        },
        Presentation::X410Data(_) => {
            p.set("mode", "x410");
        }
        Presentation::Typed(td) => match td {
            TypedData::Ac(ac) => {
                if let Some(list) = &ac.additions {
                    p.set("contexts", contexts(list));
                }
                if let Some(list) = &ac.deletions {
                    p.set("deleted_contexts", deleted(list));
                }
                pdvs(&mut p, ac.user_data.as_ref());
            }
            TypedData::Aca(aca) => {
                if let Some(list) = &aca.addition_results {
                    p.set("results", results(list));
                }
                if let Some(list) = &aca.deletion_results {
                    p.set("deletion_results", deletion_results(list));
                }
                pdvs(&mut p, aca.user_data.as_ref());
            }
            TypedData::Ttd(ud) => {
                pdvs(&mut p, Some(ud));
            }
        },
        Presentation::Rs(rs) => {
            if let Some(list) = &rs.context_ids {
                p.set("context_ids", context_ids(list));
            }
            pdvs(&mut p, rs.user_data.as_ref());
        }
        Presentation::Rsa(rsa) => {
            if let Some(list) = &rsa.context_ids {
                p.set("context_ids", context_ids(list));
            }
            pdvs(&mut p, rsa.user_data.as_ref());
        }
        Presentation::Data(ud) => {
            pdvs(&mut p, Some(ud));
        }
        _ => {}
    }
    p
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
            bare_null_open(&mut o, a.bare_null_open);
            if let Some(p) = a.application_protocol {
                o.set("application_protocol", p.0);
            }
        }
        rtse::Apdu::Rtoac(a) => {
            o.set("checkpoint_size", a.checkpoint_size_or_default());
            o.set("window_size", a.window_size_or_default());
            o.set("connection_data", a.connection_data.name());
            bare_null_open(&mut o, a.bare_null_open);
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

/// The tolerated `open` without its explicit tag (`80 00` for `a0 02 80 00`, X.228
/// `ConnectionData`), reported as a note.
fn bare_null_open(o: &mut Obj, bare: bool) {
    if bare {
        o.set(
            "tolerated",
            "connection data open as a bare [0] NULL (80 00) instead of a0 02 80 00",
        );
    }
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

/// Adds the `pdvs` key for fully-encoded user data.
fn pdvs(p: &mut Obj, data: Option<&UserData<'_>>) {
    let Some(UserData::Full(list)) = data else {
        return;
    };
    let entries = list
        .iter()
        .map(|pdv| {
            let mut o = Obj::new();
            o.set("context", J::U(pdv.context_id.unsigned_abs()));
            let encoding = match pdv.values {
                PdvValues::SingleAsn1Type(_) => "single-asn1-type",
                PdvValues::OctetAligned(_) | PdvValues::OctetAlignedSegments(_) => "octet-aligned",
                PdvValues::Arbitrary { .. } => "arbitrary",
            };
            o.set("encoding", encoding);
            o.set("length", value_len(&pdv.values));
            J::O(o)
        })
        .collect();
    p.set("pdvs", J::A(entries));
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
