//! One direction of one TCP stream, decoded layer by layer: TPKT framing, COTP, reassembly of DT
//! TPDUs into TSDUs. Everything above the transport layer is [`crate::upper`]'s job; this module
//! hands it each complete TSDU through [`Rec::tsdu`].

use bytes::Bytes;
use osi_stack::DecodeError;
use osi_stack::Limits;
use osi_stack::cotp::{
    Param, ParamCode, Params, RawParam, Reassembler, Tpdu, TpduCode, TpduKind, Tsdu, class0,
};
use osi_stack::tpkt::{self, Tpkt};

use crate::json::{J, Obj, hex};

/// One output record before the stream adds `frame`, `stream` and `dir`.
#[derive(Debug)]
pub struct Rec {
    /// `offset`, `tpkt`, `cotp`, `tsdu`, `error`, `note` … in contract order.
    pub obj: Obj,
    /// Whether the record is a TPKT (and so gets a `frame` number).
    pub is_tpkt: bool,
    /// Whether the TPKT carried a CR (for telling the client of a stream without SYN).
    pub is_cr: bool,
    /// Whether the TPKT carried a CC.
    pub is_cc: bool,
    /// The TSDU this record completed, for the upper layers.
    pub tsdu: Option<Bytes>,
}

impl Rec {
    fn new(offset: u64) -> Self {
        let mut obj = Obj::new();
        obj.set("offset", offset);
        Rec {
            obj,
            is_tpkt: false,
            is_cr: false,
            is_cc: false,
            tsdu: None,
        }
    }

    /// A record at `offset` carrying only a `tpkt` error with `message` (which names `at`).
    fn tpkt_error(offset: u64, at: u64, message: String) -> Self {
        let mut rec = Rec::new(offset);
        rec.obj.set("error", error_obj("tpkt", at, message));
        rec
    }
}

/// The `error` object of the contract.
pub fn error_obj(layer: &str, offset: u64, message: String) -> Obj {
    let mut e = Obj::new();
    e.set("layer", layer);
    e.set("offset", offset);
    e.set("message", message);
    e
}

fn decode_error_obj(e: &DecodeError, base: u64) -> Obj {
    let offset = u64::try_from(e.offset())
        .unwrap_or(u64::MAX)
        .saturating_add(base);
    let message = if base == 0 {
        e.to_string()
    } else {
        // Stream-level TPKT errors: name the stream offset in the message too.
        e.shifted(usize::try_from(base).unwrap_or(usize::MAX))
            .to_string()
    };
    error_obj(e.layer().name(), offset, message)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Framing TPKTs.
    Framing,
    /// Skip segments until one starts with a TPKT header: the capture started in the middle of
    /// the stream, or bytes were missing from it. `report`: say so when a segment is skipped.
    Resync {
        /// Report the first skipped segment as an error.
        report: bool,
    },
    /// Framing failed; the rest of the direction is not decoded.
    Stopped,
}

/// The decoder of one direction of one stream.
#[derive(Debug)]
pub struct DirDecoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    state: State,
    reassembler: Reassembler,
    /// Skip RDP fast-path PDUs (first octet's two low bits 0) between TPKTs.
    rdp: bool,
}

/// Whether `b` starts like a TLS record (content type 20–23, version 3.x): RDP and some RFC 1006
/// deployments switch to TLS after the COTP connection.
fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [20..=23, 3, 0..=4, ..])
}

/// Whether `b` starts with a plausible TPKT header.
fn looks_like_tpkt(b: &[u8]) -> bool {
    matches!(tpkt::frame_len(b), Ok(Some(_)))
}

/// The length of the RDP fast-path PDU at the start of `b` (MS-RDPBCGR 2.2.8.1.2 / 2.2.9.1.2):
/// `Ok(None)` when more octets are needed, `Err` when the length is below its own header.
fn fastpath_len(b: &[u8]) -> Result<Option<usize>, ()> {
    match b {
        [] | [_] => Ok(None),
        [_, l1, rest @ ..] if l1 & 0x80 != 0 => match rest.first() {
            None => Ok(None),
            Some(&l2) => {
                let len = usize::from(u16::from_be_bytes([l1 & 0x7f, l2]));
                if len < 3 { Err(()) } else { Ok(Some(len)) }
            }
        },
        [_, l1, ..] => {
            let len = usize::from(*l1);
            if len < 2 { Err(()) } else { Ok(Some(len)) }
        }
    }
}

impl DirDecoder {
    /// A decoder at stream offset 0; `rdp` enables skipping RDP fast-path PDUs.
    pub fn new(rdp: bool) -> Self {
        DirDecoder {
            buf: Vec::new(),
            base: 0,
            state: State::Framing,
            reassembler: Reassembler::new(Limits::default()),
            rdp,
        }
    }

    /// Adds in-order stream bytes; appends a record for every TPKT they complete.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Rec>) {
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        match self.state {
            State::Stopped => {
                self.base = self.base.saturating_add(len);
                return;
            }
            State::Resync { report } => {
                if looks_like_tpkt(data) {
                    self.state = State::Framing;
                } else {
                    if report {
                        let at = self.base;
                        out.push(Rec::tpkt_error(
                            at,
                            at,
                            format!(
                                "tpkt: no tpkt header after the octets missing from the capture \
                                 at offset {at}, skipping to the next segment that starts with one"
                            ),
                        ));
                        self.state = State::Resync { report: false };
                    }
                    self.base = self.base.saturating_add(len);
                    return;
                }
            }
            State::Framing => {}
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0usize;
        while let Some(rest) = self.buf.get(pos..) {
            if rest.is_empty() {
                break;
            }
            let at = self
                .base
                .saturating_add(u64::try_from(pos).unwrap_or(u64::MAX));
            if self.rdp && rest.first().is_some_and(|b| b & 0x03 == 0) {
                match fastpath_len(rest) {
                    Ok(Some(n)) if rest.len() >= n => {
                        pos = pos.saturating_add(n);
                        continue;
                    }
                    Ok(_) => break,
                    Err(()) => {
                        out.push(Rec::tpkt_error(
                            at,
                            at,
                            format!("tpkt: neither a tpkt nor an rdp fast-path pdu at offset {at}"),
                        ));
                        self.stop();
                        return;
                    }
                }
            }
            match tpkt::frame_len(rest) {
                Ok(Some(n)) if rest.len() >= n => {
                    let frame = rest.get(..n).unwrap_or_default();
                    out.push(decode_frame(at, frame, &mut self.reassembler));
                    pos = pos.saturating_add(n);
                }
                Ok(_) => break,
                Err(e) => {
                    let mut rec = Rec::new(at);
                    if looks_like_tls(rest) {
                        rec.obj
                            .set("note", "tls records from here on: not decoded".to_owned());
                    } else {
                        rec.obj.set("error", decode_error_obj(&e, at));
                    }
                    out.push(rec);
                    self.stop();
                    return;
                }
            }
        }
        self.buf.drain(..pos.min(self.buf.len()));
        self.base = self
            .base
            .saturating_add(u64::try_from(pos).unwrap_or(u64::MAX));
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        let held = u64::try_from(self.buf.len()).unwrap_or(u64::MAX);
        self.base = self.base.saturating_add(held);
        self.buf = Vec::new();
        self.reassembler.reset();
    }

    /// The capture starts in the middle of the stream: skip to the first segment that starts
    /// with a TPKT header, silently.
    pub fn start_mid_stream(&mut self) {
        if self.state == State::Framing && self.buf.is_empty() {
            self.state = State::Resync { report: false };
        }
    }

    /// `missing` octets of the stream are not in the capture: drop the partial TPKT and TSDU and
    /// resynchronise at the next segment that starts with a TPKT header. Whole TPKTs missing
    /// (nothing held) are a `note`; a TPKT or TSDU cut by the hole is an `error`.
    pub fn gap(&mut self, missing: u64, out: &mut Vec<Rec>) {
        if self.state == State::Stopped {
            self.base = self.base.saturating_add(missing);
            return;
        }
        let held = u64::try_from(self.buf.len()).unwrap_or(u64::MAX);
        let at = self.base.saturating_add(held);
        let plural = if missing == 1 { "" } else { "s" };
        if held > 0 || self.reassembler.pending_segments() > 0 {
            out.push(Rec::tpkt_error(
                self.base,
                at,
                format!(
                    "tpkt: {missing} octet{plural} missing from the capture at offset {at}: \
                     the partial tpkt or tsdu before them is dropped"
                ),
            ));
        } else {
            let mut rec = Rec::new(self.base);
            rec.obj.set(
                "note",
                format!("{missing} octet{plural} missing from the capture at offset {at}"),
            );
            out.push(rec);
        }
        self.base = at.saturating_add(missing);
        self.buf = Vec::new();
        self.reassembler.reset();
        self.state = State::Resync { report: true };
    }

    /// The end of the input: reports a TPKT cut short and frees what the direction held.
    pub fn finish(&mut self, out: &mut Vec<Rec>) {
        if self.state == State::Framing && !self.buf.is_empty() {
            let at = self.base;
            let mut rec = Rec::new(at);
            let error = match Tpkt::decode(&self.buf) {
                Err(e) => decode_error_obj(&e, at),
                Ok(_) => error_obj("tpkt", at, format!("tpkt: unexpected end at offset {at}")),
            };
            rec.obj.set("error", error);
            out.push(rec);
        }
        self.stop();
    }
}

/// Decodes one complete TPKT at stream offset `at`.
fn decode_frame(at: u64, frame: &[u8], reassembler: &mut Reassembler) -> Rec {
    let mut rec = Rec::new(at);
    let tpkt = match Tpkt::decode(frame) {
        Ok((t, _)) => t,
        Err(e) => {
            rec.obj.set("error", decode_error_obj(&e, at));
            return rec;
        }
    };
    rec.is_tpkt = true;
    let mut t = Obj::new();
    t.set("version", frame.first().copied().unwrap_or(tpkt::VERSION));
    t.set("length", frame.len());
    rec.obj.set("tpkt", t);
    let payload = tpkt.payload;
    match Tpdu::decode(payload) {
        Err(e) => {
            // Show what can be read of the header, then the error.
            let mut c = Obj::new();
            if let Some(&code) = payload.get(1).filter(|_| payload.first() != Some(&0)) {
                c.set("type", TpduCode(code).kind().name());
                c.set("code", code);
            }
            if let Some(&li) = payload.first() {
                c.set("li", li);
            }
            if !c.is_empty() {
                rec.obj.set("cotp", c);
            }
            rec.obj.set("error", decode_error_obj(&e, 0));
        }
        Ok(tpdu) => {
            let li = payload.first().copied().unwrap_or(0);
            rec.is_cr = tpdu.kind() == TpduKind::Cr;
            rec.is_cc = tpdu.kind() == TpduKind::Cc;
            rec.obj.set("cotp", cotp_obj(&tpdu, li));
            match &tpdu {
                Tpdu::Dt(dt) => {
                    if dt.format == osi_stack::cotp::DataFormat::Short {
                        if let Err(e) = class0::check_dt(dt) {
                            rec.obj.set("error", decode_error_obj(&e, 0));
                        }
                    }
                    let segments = reassembler.pending_segments().saturating_add(1);
                    match reassembler.push(dt) {
                        Ok(Some(tsdu)) => {
                            let mut o = Obj::new();
                            o.set("length", tsdu.len());
                            o.set("segments", segments);
                            rec.obj.set("tsdu", o);
                            rec.tsdu = Some(match tsdu {
                                Tsdu::Whole(s) => Bytes::copy_from_slice(s),
                                Tsdu::Reassembled(b) => b,
                            });
                        }
                        Ok(None) => {}
                        Err(e) => {
                            if !rec.obj.has("error") {
                                rec.obj.set("error", decode_error_obj(&e, 0));
                            }
                        }
                    }
                }
                Tpdu::Cr(_) | Tpdu::Cc(_) | Tpdu::Dr(_) | Tpdu::Dc(_) => reassembler.reset(),
                _ => {}
            }
        }
    }
    rec
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastpath_lengths() {
        assert_eq!(fastpath_len(&[0x00]), Ok(None));
        assert_eq!(fastpath_len(&[0x00, 0x05]), Ok(Some(5)));
        assert_eq!(fastpath_len(&[0x00, 0x81]), Ok(None));
        assert_eq!(fastpath_len(&[0x00, 0x81, 0x00]), Ok(Some(256)));
        assert_eq!(fastpath_len(&[0x00, 0x01]), Err(()));
    }

    #[test]
    fn frames_split_anywhere() {
        let stream = [
            0x03, 0x00, 0x00, 0x08, 0x02, 0xf0, 0x00, 0xaa, 0x03, 0x00, 0x00, 0x08, 0x02, 0xf0,
            0x80, 0xbb,
        ];
        for cut in 0..stream.len() {
            let mut d = DirDecoder::new(false);
            let mut out = Vec::new();
            d.push(&stream[..cut], &mut out);
            d.push(&stream[cut..], &mut out);
            assert_eq!(out.len(), 2);
            assert_eq!(out[1].tsdu.as_deref(), Some(&[0xaa, 0xbb][..]));
        }
    }
}
