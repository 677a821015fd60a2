//! The transport floors of a dissected record as the JSON object of `spec/cli.md`: `offset`,
//! `tpkt`, `cotp`, `tsdu`, then [`crate::upper`]'s keys, `error` and `note`. Decoding is
//! [`osi_stack::dissect`]'s job; this module only prints.

use osi_stack::cotp::{Param, ParamCode, Params, RawParam, Tpdu, TpduKind};
use osi_stack::dissect::{Cotp, Record, RecordError, RecordKind};

use crate::json::{J, Obj, hex};

/// The `error` object of the contract.
pub fn error_obj(e: &RecordError) -> Obj {
    let mut o = Obj::new();
    o.set("layer", e.layer().name());
    o.set("offset", e.offset());
    o.set("message", e.to_string());
    o
}

/// The record's keys after `frame`, `stream` and `dir`, in contract order.
pub fn body(rec: &Record<'_>) -> Obj {
    let mut o = Obj::new();
    o.set("offset", rec.offset);
    if let RecordKind::Frame(f) = &rec.kind {
        let mut t = Obj::new();
        t.set(
            "version",
            f.octets
                .first()
                .copied()
                .unwrap_or(osi_stack::tpkt::VERSION),
        );
        t.set("length", f.octets.len());
        o.set("tpkt", t);
        match &f.cotp {
            Cotp::Decoded { li, tpdu } => o.set("cotp", cotp_obj(tpdu, *li)),
            Cotp::Malformed { li, code } => {
                // What can be read of the header.
                let mut c = Obj::new();
                if let Some(code) = code {
                    c.set("type", code.kind().name());
                    c.set("code", code.0);
                }
                if let Some(li) = li {
                    c.set("li", *li);
                }
                if !c.is_empty() {
                    o.set("cotp", c);
                }
            }
        }
        if let Some(t) = &f.tsdu {
            let mut x = Obj::new();
            x.set("length", t.octets.len());
            x.set("segments", t.segments);
            o.set("tsdu", x);
            if let Some(u) = &t.upper {
                crate::upper::keys(u, &mut o);
            }
        }
    }
    if let Some(e) = rec.error() {
        o.set("error", error_obj(&e));
    }
    match &rec.kind {
        RecordKind::Tls => o.set("note", "tls records from here on: not decoded"),
        RecordKind::Missing { at, octets } => o.set(
            "note",
            format!(
                "{octets} octet{} missing from the capture at offset {at}",
                if *octets == 1 { "" } else { "s" }
            ),
        ),
        _ => {}
    }
    o
}

/// The `cotp` object of the contract for a decoded TPDU whose LI octet is `li`.
fn cotp_obj(tpdu: &Tpdu<'_>, li: u8) -> Obj {
    let kind = tpdu.kind();
    let mut c = Obj::new();
    c.set("type", kind.name());
    c.set("code", tpdu.code().0);
    c.set("li", li);
    let mut params = Params::EMPTY;
    let mut user_data: Option<&[u8]> = None;
    let mut header_data: Option<&[u8]> = None;
    match tpdu {
        Tpdu::Cr(x) | Tpdu::Cc(x) => {
            c.set("dst_ref", x.dst_ref);
            c.set("src_ref", x.src_ref);
            c.set("class", x.class_option.class());
            c.set("options", x.class_option.0 & 0x0f);
            if x.cdt != 0 {
                c.set("credit", x.cdt);
            }
            params = x.params;
            user_data = Some(x.user_data);
            if !x.header_data.is_empty() {
                // RDP's cookie or routing token and negotiation structure, inside the LI.
                header_data = Some(x.header_data);
            }
        }
        Tpdu::Dr(x) => {
            c.set("dst_ref", x.dst_ref);
            c.set("src_ref", x.src_ref);
            c.set("reason", x.reason.0);
            params = x.params;
            user_data = Some(x.user_data);
        }
        Tpdu::Dc(x) => {
            c.set("dst_ref", x.dst_ref);
            c.set("src_ref", x.src_ref);
            params = x.params;
        }
        Tpdu::Dt(x) | Tpdu::Ed(x) => {
            if let Some(r) = x.dst_ref {
                c.set("dst_ref", r);
            }
            c.set("eot", x.eot);
            c.set("nr", x.nr);
            if x.roa {
                c.set("roa", true);
            }
            params = x.params;
            c.set("user_data_len", x.user_data.len());
        }
        Tpdu::Ak(x) | Tpdu::Rj(x) => {
            c.set("dst_ref", x.dst_ref);
            c.set("nr", x.nr);
            c.set("credit", x.cdt);
            params = x.params;
        }
        Tpdu::Ea(x) => {
            c.set("dst_ref", x.dst_ref);
            c.set("nr", x.nr);
            params = x.params;
        }
        Tpdu::Er(x) => {
            c.set("dst_ref", x.dst_ref);
            c.set("cause", x.cause.0);
            params = x.params;
            user_data = Some(&[]);
        }
        Tpdu::Unknown(x) => {
            c.set("header", hex(x.header));
            c.set("user_data_len", x.user_data.len());
        }
    }
    let (known, unknown) = params_objs(kind, params);
    if !known.is_empty() {
        c.set("params", known);
    }
    if !unknown.is_empty() {
        c.set("unknown_params", J::A(unknown));
    }
    if let Some(h) = header_data {
        c.set("header_data", hex(h));
    }
    if let Some(ud) = user_data.filter(|u| !u.is_empty()) {
        c.set("user_data", hex(ud));
    }
    c
}

/// Name of a parameter kept as raw octets.
fn raw_param_name(code: ParamCode) -> Option<&'static str> {
    Some(match code {
        ParamCode::ACK_TIME => "ack_time",
        ParamCode::RESIDUAL_ERROR_RATE => "residual_error_rate",
        ParamCode::PRIORITY => "priority",
        ParamCode::TRANSIT_DELAY => "transit_delay",
        ParamCode::THROUGHPUT => "throughput",
        ParamCode::SUBSEQUENCE_NUMBER => "subsequence_number",
        ParamCode::REASSIGNMENT_TIME => "reassignment_time",
        ParamCode::FLOW_CONTROL_CONFIRMATION => "flow_control_confirmation",
        ParamCode::SELECTIVE_ACK => "selective_ack",
        ParamCode::ED_TPDU_NR => "ed_tpdu_nr",
        _ => return None,
    })
}

fn unknown_param(p: &RawParam<'_>) -> J {
    let mut u = Obj::new();
    u.set("code", p.code.0);
    u.set("value", hex(p.value));
    J::O(u)
}

/// The `params` object and the `unknown_params` list of a variable part. A repeated parameter
/// shows its last value (X.224 §13.2.3).
fn params_objs(kind: TpduKind, params: Params<'_>) -> (Obj, Vec<J>) {
    let mut known = Obj::new();
    let mut unknown = Vec::new();
    for p in params.iter() {
        match p.typed(kind) {
            Param::TpduSize(s) => match s.octets() {
                Some(n) => known.set("tpdu_size", n),
                None => known.set("tpdu_size_code", s.0),
            },
            Param::PreferredMaxTpduSize(units) => {
                known.set("pref_max_tpdu_size", u64::from(units).saturating_mul(128));
            }
            Param::CallingTsel(v) => known.set("calling_tsel", hex(v)),
            Param::CalledTsel(v) => known.set("called_tsel", hex(v)),
            Param::AdditionalOptions(v) => known.set("additional_options", v),
            Param::AlternativeClasses(v) => known.set(
                "alt_classes",
                J::A(v.iter().map(|b| J::from(b >> 4)).collect()),
            ),
            Param::Version(v) => known.set("version", v),
            Param::Protection(v) => known.set("protection", hex(v)),
            Param::Checksum(v) => known.set("checksum", v),
            Param::AdditionalInfo(v) => known.set("additional_info", hex(v)),
            Param::InvalidTpdu(v) => known.set("invalid_tpdu", hex(v)),
            Param::InactivityTimer(v) => known.set("inactivity_timer", v),
            Param::Raw { code, value } => match raw_param_name(code) {
                Some(name) => known.set(name, hex(value)),
                None => unknown.push(unknown_param(&p)),
            },
            _ => unknown.push(unknown_param(&p)),
        }
    }
    (known, unknown)
}
