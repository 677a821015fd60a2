//! The layers above the transport: session today; presentation, ACSE and RTSE to come.
//!
//! [`Upper::tsdu`] is called once for every complete TSDU of a stream, in stream order, with the
//! record of the DT that completed it. It adds the `session` key of `spec/cli.md` (and `error`
//! when the session layer fails, with the offset within the TSDU). The state lives per TCP
//! stream and is shared by both directions.
//!
//! Not every RFC 1006 stream carries OSI session: S7comm, S7comm-plus and RDP put their own PDUs
//! straight into COTP. Like tshark's session heuristic, a stream is decoded as session only once
//! one of its TSDUs decodes cleanly as SPDUs; from then on every TSDU is decoded and failures are
//! reported. Until then a TSDU that does not decode is left alone (it is not session).

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
        for spdu in spdus(tsdu) {
            match spdu {
                Ok(s) => list.push(J::O(spdu_obj(&s))),
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
    }
}

/// The `session` entry of one SPDU (keys of `spec/cli.md`; those that do not apply are left out).
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
