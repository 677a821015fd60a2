//! The crate beside a minimal hand-written safe parser (`minimal`), nom 8 written plainly
//! (`nom8`) and the other Rust OSI stack (`iec61850-mms` 0.4), on identical inputs, in one
//! binary, through the API the crate's docs show. Run:
//!
//! ```text
//! cargo bench --bench compare --features tokio -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Inputs are frames of `testdata/bench/` (taken from the captures and the libiec61850
//! transcript, see testdata/README.md). Before anything is timed, every decoder of a row is run
//! once on the row's input and the values it extracted are asserted equal to the minimal
//! parser's. Figures and ratios are in BENCHMARKS.md.
//!
//! Rows (criterion group / function): `dt/0`, `dt/64`, `dt/1024` (16 TPKT + DT frames per
//! iteration, per-frame time = median / 16), `dt_reassembly/64` (16 frames, EOT every 4th),
//! `cr`, `rdp_cr`, `mms_data`, `association_request`, `dt_encode/64`, `p_data_pair/1024`,
//! `p_data_pair/65536`.

use std::hint::black_box;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use osi_stack::Limits;
use osi_stack::acse::Apdu;
use osi_stack::association::{
    AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event,
};
use osi_stack::cotp::{Reassembler, Segments, Tpdu};
use osi_stack::oid::Oid;
use osi_stack::presentation::{Cp, PdvValues, UserData};
use osi_stack::session::spdus;
use osi_stack::tpkt::Tpkt;

/// Frames per iteration in the DT rows.
const FRAMES: usize = 16;

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frame(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bench")
        .join(name);
    hex(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
}

/// `FRAMES` TPKT + class-0 DT frames of `n` octets each, built from the captured MMS data frame:
/// its TPKT/DT header with the length changed, and its TSDU octets repeated as the data. With
/// `eot_every` = k, EOT is set on every k-th frame only.
fn dt_stream(n: usize, eot_every: usize) -> Vec<u8> {
    let captured = frame("mms_data.hex");
    let tsdu = &captured[7..];
    let mut s = Vec::new();
    for i in 0..FRAMES {
        let eot = (i + 1) % eot_every == 0;
        s.extend_from_slice(&captured[..2]);
        s.extend_from_slice(&u16::try_from(n + 7).unwrap().to_be_bytes());
        s.extend_from_slice(&[0x02, 0xf0, if eot { 0x80 } else { 0 }]);
        s.extend(tsdu.iter().copied().cycle().take(n));
    }
    s
}

/// What a DT-stream decoder extracts: frames, EOT count, data octets, checksum of the data.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct DtSum {
    frames: usize,
    eots: usize,
    octets: usize,
    first_last: u32,
}

impl DtSum {
    fn add(&mut self, eot: bool, data: &[u8]) {
        self.frames += 1;
        self.eots += usize::from(eot);
        self.octets += data.len();
        self.first_last = self
            .first_last
            .wrapping_mul(31)
            .wrapping_add(u32::from(data.first().copied().unwrap_or(0)))
            .wrapping_add(u32::from(data.last().copied().unwrap_or(0)) << 8);
    }
}

/// The CR values: (src-ref, called TSAP, calling TSAP, TPDU size code).
type CrValues<'a> = (u16, &'a [u8], &'a [u8], u8);

/// The RDP CR values: (cookie, negotiation type, flags, requested protocols).
type RdpValues<'a> = (&'a [u8], u8, u8, u32);

/// What the association request decoders extract.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct AssocValues<'a> {
    called_tsel: &'a [u8],
    calling_tsel: &'a [u8],
    calling_ssel: &'a [u8],
    called_ssel: &'a [u8],
    calling_psel: &'a [u8],
    called_psel: &'a [u8],
    acse_context: i64,
    mms_context: i64,
    /// Application context name (OID content octets); empty where a decoder does not give it.
    application_context: &'a [u8],
}

const ACSE_AS: [u8; 4] = [0x52, 0x01, 0x00, 0x01];
const MMS_AS: [u8; 5] = [0x28, 0xca, 0x22, 0x02, 0x01];

/// Splits RDP's cookie line and negotiation request (MS-RDPBCGR 2.2.1.1): shared by every
/// decoder of the RDP row (only the X.224 part differs).
fn rdp_tail(h: &[u8]) -> Option<RdpValues<'_>> {
    let end = h.windows(2).position(|w| w == b"\r\n")?;
    let cookie = &h[..end];
    let [1, flags, 8, 0, p0, p1, p2, p3] = h[end + 2..] else {
        return None;
    };
    Some((cookie, 1, flags, u32::from_le_bytes([p0, p1, p2, p3])))
}

// ---- osi-stack, through the documented API ------------------------------------------------
//
// Every row's entry function, in every decoder's module, is `#[inline(never)]`: each decoder
// is then timed as one call per iteration, whatever size LLVM would have judged it. Left to
// itself, LLVM inlined the small minimal and nom functions into the timing loop and called the
// others, which charged a call and the spills around it to some decoders and not to others.
// What a decoder calls inside (its own helpers, the crate's API) is inlined or not as it would
// be in a user's program.

mod osi {
    use super::*;

    #[inline(never)]
    pub fn dt_frames(mut s: &[u8], sum: &mut DtSum) -> Option<()> {
        while !s.is_empty() {
            let (t, rest) = Tpkt::decode(s).ok()?;
            let Tpdu::Dt(dt) = Tpdu::decode(t.payload).ok()? else {
                return None;
            };
            if dt.nr != 0 {
                return None;
            }
            sum.add(dt.eot, dt.user_data);
            s = rest;
        }
        Some(())
    }

    /// `Reassembler::push_borrowed`: a single-DT TSDU is the DT's data, a reassembled one a
    /// borrow of the reassembler's reused buffer.
    #[inline(never)]
    pub fn dt_reassembly(mut s: &[u8], r: &mut Reassembler, sum: &mut DtSum) -> Option<()> {
        while !s.is_empty() {
            let (t, rest) = Tpkt::decode(s).ok()?;
            let Tpdu::Dt(dt) = Tpdu::decode(t.payload).ok()? else {
                return None;
            };
            if dt.nr != 0 {
                return None;
            }
            if let Some(tsdu) = r.push_borrowed(&dt).ok()? {
                sum.add(true, tsdu);
            }
            s = rest;
        }
        Some(())
    }

    /// Through `Connect::parameters`, the one-walk view of the CR parameters.
    #[inline(never)]
    pub fn cr(s: &[u8]) -> Option<CrValues<'_>> {
        let t = Tpkt::decode_exact(s).ok()?;
        let Tpdu::Cr(cr) = Tpdu::decode(t.payload).ok()? else {
            return None;
        };
        let p = cr.parameters();
        Some((cr.src_ref, p.called_tsel?, p.calling_tsel?, p.tpdu_size?.0))
    }

    #[inline(never)]
    pub fn rdp_cr(s: &[u8]) -> Option<RdpValues<'_>> {
        let t = Tpkt::decode_exact(s).ok()?;
        let Tpdu::Cr(cr) = Tpdu::decode(t.payload).ok()? else {
            return None;
        };
        rdp_tail(cr.header_data)
    }

    /// TPKT → DT → GT + DT → User-data → first PDV → (context id, value).
    #[inline(never)]
    pub fn mms_data<'a>(s: &'a [u8], limits: &Limits) -> Option<(i64, &'a [u8])> {
        let t = Tpkt::decode_exact(s).ok()?;
        let Tpdu::Dt(dt) = Tpdu::decode(t.payload).ok()? else {
            return None;
        };
        if !dt.eot || dt.nr != 0 {
            return None;
        }
        let mut it = spdus(dt.user_data);
        it.next()?.ok()?;
        let sdt = it.next()?.ok()?;
        let ud = UserData::decode(sdt.user_information(), limits).ok()?;
        let pdv = ud.pdvs().next()?;
        match pdv.values {
            PdvValues::SingleAsn1Type(v) => Some((i64::from(pdv.context_id), v)),
            _ => None,
        }
    }

    #[inline(never)]
    pub fn association_request<'a>(
        cr: &'a [u8],
        cn: &'a [u8],
        limits: &Limits,
    ) -> Option<AssocValues<'a>> {
        let (_, called_tsel, calling_tsel, _) = self::cr(cr)?;
        let t = Tpkt::decode_exact(cn).ok()?;
        let Tpdu::Dt(dt) = Tpdu::decode(t.payload).ok()? else {
            return None;
        };
        if !dt.eot {
            return None;
        }
        let spdu = spdus(dt.user_data).next()?.ok()?;
        let (cp, _) = Cp::decode(spdu.user_data()?, limits).ok()?;
        let normal = cp.normal?;
        let (mut acse, mut mms) = (0, 0);
        for d in normal.context_definitions?.iter() {
            if d.abstract_syntax == Oid::ACSE_ABSTRACT_SYNTAX {
                acse = d.id.get();
            } else if d.abstract_syntax.as_bytes() == MMS_AS {
                mms = d.id.get();
            }
        }
        let pdv = normal
            .user_data?
            .pdvs()
            .find(|p| p.context_id.get() == acse)?;
        let PdvValues::SingleAsn1Type(v) = pdv.values else {
            return None;
        };
        let Apdu::Aarq(aarq) = Apdu::decode(v, limits).ok()? else {
            return None;
        };
        Some(AssocValues {
            called_tsel,
            calling_tsel,
            calling_ssel: spdu.calling_session_selector()?,
            called_ssel: spdu.called_session_selector()?,
            calling_psel: normal.calling_selector?,
            called_psel: normal.called_selector?,
            acse_context: acse,
            mms_context: mms,
            application_context: aarq.application_context_name.as_bytes(),
        })
    }

    #[inline(never)]
    pub fn dt_encode(data: &[u8], out: &mut Vec<u8>) -> Option<()> {
        // The TSDU framer the cotp module docs show for sending data (one DT here).
        Segments::new(data, 8192).encode(out).ok()
    }
}

// ---- minimal: the least a safe parser must do ----------------------------------------------

mod minimal {
    use super::*;

    /// TPKT: version 3, length ≥ 7 and within the input. Returns (TPDU, rest).
    #[inline(always)]
    fn tpkt(s: &[u8]) -> Option<(&[u8], &[u8])> {
        let [3, _, hi, lo, rest @ ..] = s else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if len < 7 || rest.len() < len - 4 {
            return None;
        }
        Some(rest.split_at(len - 4))
    }

    /// Class-0 DT: LI 2, code F0, NR 0. Returns (EOT, data).
    #[inline(always)]
    fn dt(t: &[u8]) -> Option<(bool, &[u8])> {
        let [2, 0xf0, eot_nr, data @ ..] = t else {
            return None;
        };
        if eot_nr & 0x7f != 0 {
            return None;
        }
        Some((eot_nr & 0x80 != 0, data))
    }

    #[inline(never)]
    pub fn dt_frames(mut s: &[u8], sum: &mut DtSum) -> Option<()> {
        while !s.is_empty() {
            let (t, rest) = tpkt(s)?;
            let (eot, data) = dt(t)?;
            sum.add(eot, data);
            s = rest;
        }
        Some(())
    }

    /// Reassembly into a reused buffer bounded by `max`; a single-DT TSDU is not copied.
    #[inline(never)]
    pub fn dt_reassembly(
        mut s: &[u8],
        buf: &mut Vec<u8>,
        max: usize,
        sum: &mut DtSum,
    ) -> Option<()> {
        while !s.is_empty() {
            let (t, rest) = tpkt(s)?;
            let (eot, data) = dt(t)?;
            if eot && buf.is_empty() {
                sum.add(true, data);
            } else {
                if buf.len() + data.len() > max {
                    return None;
                }
                buf.extend_from_slice(data);
                if eot {
                    sum.add(true, buf);
                    buf.clear();
                }
            }
            s = rest;
        }
        Some(())
    }

    /// CR: LI within the TPDU, code E0, class 0, the parameters walked (each length within
    /// the variable part); the three parameters picked.
    #[inline(never)]
    pub fn cr(s: &[u8]) -> Option<CrValues<'_>> {
        let (t, []) = tpkt(s)? else { return None };
        let [li, 0xe0, _, _, s1, s0, class, rest @ ..] = t else {
            return None;
        };
        let li = usize::from(*li);
        if li < 6 || li > rest.len() + 6 || class & 0xf0 != 0 {
            return None;
        }
        let mut params = &rest[..li - 6];
        let (mut called, mut calling, mut size) = (None, None, None);
        while let [code, len, more @ ..] = params {
            let len = usize::from(*len);
            let value = more.get(..len)?;
            match code {
                0xc2 => called = Some(value),
                0xc1 => calling = Some(value),
                0xc0 => size = value.first().copied(),
                _ => {}
            }
            params = &more[len..];
        }
        if !params.is_empty() {
            return None;
        }
        Some((u16::from_be_bytes([*s1, *s0]), called?, calling?, size?))
    }

    /// RDP CR: the same X.224 checks; the variable part holds no parameter.
    #[inline(never)]
    pub fn rdp_cr(s: &[u8]) -> Option<RdpValues<'_>> {
        let (t, []) = tpkt(s)? else { return None };
        let [li, 0xe0, _, _, _, _, class, rest @ ..] = t else {
            return None;
        };
        let li = usize::from(*li);
        if li < 6 || li > rest.len() + 6 || class & 0xf0 != 0 {
            return None;
        }
        rdp_tail(&rest[..li - 6])
    }

    /// One BER element: (identifier, contents, rest); one-octet identifiers, definite lengths.
    #[inline(always)]
    pub fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let [id, l0, rest @ ..] = b else { return None };
        if id & 0x1f == 0x1f {
            return None;
        }
        let (len, rest) = match *l0 {
            n @ 0..=0x7f => (usize::from(n), rest),
            0x81 => {
                let [l, rest @ ..] = rest else { return None };
                (usize::from(*l), rest)
            }
            0x82 => {
                let [h, l, rest @ ..] = rest else { return None };
                (usize::from(u16::from_be_bytes([*h, *l])), rest)
            }
            0x83 => {
                let [a, b, c, rest @ ..] = rest else {
                    return None;
                };
                (
                    usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c),
                    rest,
                )
            }
            _ => return None,
        };
        if len > rest.len() {
            return None;
        }
        let (c, r) = rest.split_at(len);
        Some((*id, c, r))
    }

    fn int(c: &[u8]) -> Option<i64> {
        if c.is_empty() || c.len() > 8 {
            return None;
        }
        let mut v = if c[0] & 0x80 != 0 { -1i64 } else { 0 };
        for &b in c {
            v = (v << 8) | i64::from(b);
        }
        Some(v)
    }

    /// Session LI: one octet, or `ff hi lo`.
    fn li(b: &[u8]) -> Option<(usize, &[u8])> {
        match b {
            [0xff, hi, lo, rest @ ..] => Some((usize::from(u16::from_be_bytes([*hi, *lo])), rest)),
            [0xff, ..] | [] => None,
            [l, rest @ ..] => Some((usize::from(*l), rest)),
        }
    }

    /// GT + DT (any LI form, parameters skipped): the user information.
    fn gt_dt(t: &[u8]) -> Option<&[u8]> {
        let [0x01, rest @ ..] = t else { return None };
        let (n, rest) = li(rest)?;
        let [0x01, rest @ ..] = rest.get(n..)? else {
            return None;
        };
        let (n, rest) = li(rest)?;
        rest.get(n..)
    }

    /// One PDV-list: `30 { [06 ts] 02 id a0 {value} }` → (id, value).
    fn pdv(b: &[u8]) -> Option<(i64, &[u8])> {
        let (mut id, mut c, mut r) = tlv(b)?;
        if id == 0x06 {
            (id, c, r) = tlv(r)?;
        }
        if id != 0x02 {
            return None;
        }
        let ctx = int(c)?;
        let (0xa0, v, []) = tlv(r)? else { return None };
        let (_, _, []) = tlv(v)? else { return None };
        Some((ctx, v))
    }

    /// Fully encoded User-data: every PDV-list checked; the first with context `want`.
    fn pdv_lists(mut list: &[u8], want: Option<i64>) -> Option<(i64, &[u8])> {
        let mut found = None;
        while !list.is_empty() {
            let (0x30, p, r) = tlv(list)? else {
                return None;
            };
            list = r;
            let (ctx, v) = pdv(p)?;
            if found.is_none() && want.is_none_or(|w| w == ctx) {
                found = Some((ctx, v));
            }
        }
        found
    }

    pub fn p_data(tsdu: &[u8]) -> Option<(i64, &[u8])> {
        let (0x61, list, []) = tlv(gt_dt(tsdu)?)? else {
            return None;
        };
        pdv_lists(list, None)
    }

    #[inline(never)]
    pub fn mms_data(s: &[u8]) -> Option<(i64, &[u8])> {
        let (t, []) = tpkt(s)? else { return None };
        let (true, tsdu) = dt(t)? else { return None };
        p_data(tsdu)
    }

    /// A CN alone in its TSDU: walk the PI/PGI units (each length within what is left);
    /// return (calling, called, user data).
    fn cn(t: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let [0x0d, rest @ ..] = t else { return None };
        let (n, rest) = li(rest)?;
        if rest.len() != n {
            return None;
        }
        let (mut params, mut calling, mut called, mut data) = (rest, None, None, None);
        while let [code, more @ ..] = params {
            let (len, more) = li(more)?;
            let value = more.get(..len)?;
            match code {
                0x33 => calling = Some(value),
                0x34 => called = Some(value),
                0xc1 => data = Some(value),
                _ => {}
            }
            params = &more[len..];
        }
        Some((calling?, called?, data?))
    }

    /// The application context name inside an AARQ (`60`): `a1 { 06 oid }`.
    fn context_name(apdu: &[u8]) -> Option<&[u8]> {
        let (0x60, mut c, []) = tlv(apdu)? else {
            return None;
        };
        let mut name = None;
        while !c.is_empty() {
            let (id, v, r) = tlv(c)?;
            c = r;
            if id == 0xa1 {
                let (0x06, oid, []) = tlv(v)? else {
                    return None;
                };
                name = Some(oid);
            }
        }
        name
    }

    #[inline(never)]
    pub fn association_request<'a>(cr: &'a [u8], cn: &'a [u8]) -> Option<AssocValues<'a>> {
        let (_, called_tsel, calling_tsel, _) = self::cr(cr)?;
        let (t, []) = tpkt(cn)? else { return None };
        let (true, tsdu) = dt(t)? else { return None };
        let (calling_ssel, called_ssel, cp) = self::cn(tsdu)?;
        // CP: 31 { a0 {mode} a2 {normal} }
        let (0x31, mut set, []) = tlv(cp)? else {
            return None;
        };
        let (mut mode, mut normal) = (false, None);
        while !set.is_empty() {
            let (id, c, r) = tlv(set)?;
            set = r;
            match id {
                0xa0 => mode = true,
                0xa2 => normal = Some(c),
                _ => {}
            }
        }
        let mut normal = if mode { normal? } else { return None };
        let mut v = AssocValues {
            called_tsel,
            calling_tsel,
            calling_ssel,
            called_ssel,
            ..AssocValues::default()
        };
        let mut ud = None;
        while !normal.is_empty() {
            let (id, c, r) = tlv(normal)?;
            normal = r;
            match id {
                0x81 => v.calling_psel = c,
                0x82 => v.called_psel = c,
                0xa4 => {
                    let mut defs = c;
                    while !defs.is_empty() {
                        let (0x30, d, r) = tlv(defs)? else {
                            return None;
                        };
                        defs = r;
                        let (0x02, n, d) = tlv(d)? else { return None };
                        let (0x06, abs, d) = tlv(d)? else {
                            return None;
                        };
                        let (0x30, _, []) = tlv(d)? else {
                            return None;
                        };
                        if abs == ACSE_AS {
                            v.acse_context = int(n)?;
                        } else if abs == MMS_AS {
                            v.mms_context = int(n)?;
                        }
                    }
                }
                0x61 => ud = Some(c),
                _ => {}
            }
        }
        let (_, aarq) = pdv_lists(ud?, Some(v.acse_context))?;
        v.application_context = context_name(aarq)?;
        Some(v)
    }

    #[inline(never)]
    pub fn dt_encode(data: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let len = u16::try_from(data.len() + 7).ok()?;
        let [hi, lo] = len.to_be_bytes();
        out.extend_from_slice(&[3, 0, hi, lo, 2, 0xf0, 0x80]);
        out.extend_from_slice(data);
        Some(())
    }

    /// The minimal P-DATA path: GT + DT + fully encoded User-data with one PDV (context 3,
    /// single-ASN1-type) in DTs of at most `tpdu_size` octets, each in a TPKT, written into
    /// `wire`; then framed, reassembled into `rx` and decoded back to the value.
    #[inline(never)]
    pub fn p_data_pair<'a>(
        value: &[u8],
        tpdu_size: usize,
        wire: &mut Vec<u8>,
        rx: &'a mut Vec<u8>,
    ) -> Option<&'a [u8]> {
        fn ber_len(len: usize, out: &mut [u8; 4]) -> &[u8] {
            match len {
                0..=0x7f => {
                    out[0] = len as u8;
                    &out[..1]
                }
                0x80..=0xff => {
                    *out = [0x81, len as u8, 0, 0];
                    &out[..2]
                }
                0x100..=0xffff => {
                    *out = [0x82, (len >> 8) as u8, len as u8, 0];
                    &out[..3]
                }
                _ => {
                    let [_, a, b, c] = (len as u32).to_be_bytes();
                    *out = [0x83, a, b, c];
                    &out[..4]
                }
            }
        }
        let mut l = [[0u8; 4]; 3];
        let a0 = value.len();
        let pdv = 3 + 1 + ber_len(a0, &mut l[0]).len() + a0;
        let list = 1 + ber_len(pdv, &mut l[1]).len() + pdv;
        let mut head = [0u8; 32];
        let mut n = 0;
        for part in [
            &[0x01, 0x00, 0x01, 0x00, 0x61][..],
            ber_len(list, &mut l[2]),
            &[0x30],
            ber_len(pdv, &mut [0u8; 4]),
            &[0x02, 0x01, 0x03, 0xa0],
            ber_len(a0, &mut [0u8; 4]),
        ] {
            head[n..n + part.len()].copy_from_slice(part);
            n += part.len();
        }
        let tsdu_len = n + value.len();
        let max = tpdu_size - 3;
        // send
        wire.clear();
        let (mut head_left, mut value_left) = (&head[..n], value);
        let mut left = tsdu_len;
        while left > 0 {
            let take = left.min(max);
            left -= take;
            let [hi, lo] = u16::try_from(take + 7).ok()?.to_be_bytes();
            wire.extend_from_slice(&[3, 0, hi, lo, 2, 0xf0, if left == 0 { 0x80 } else { 0 }]);
            let h = take.min(head_left.len());
            wire.extend_from_slice(&head_left[..h]);
            head_left = &head_left[h..];
            wire.extend_from_slice(&value_left[..take - h]);
            value_left = &value_left[take - h..];
        }
        // receive
        rx.clear();
        let mut s = &wire[..];
        let mut single = None;
        while !s.is_empty() {
            let (t, rest) = tpkt(s)?;
            let (eot, data) = dt(t)?;
            if eot && rx.is_empty() {
                single = Some(data);
            } else {
                if rx.len() + data.len() > 1 << 20 {
                    return None;
                }
                rx.extend_from_slice(data);
            }
            s = rest;
        }
        let tsdu: &'a [u8] = match single {
            // The single-DT TSDU lives in `wire`; copy it so the result borrows `rx`.
            Some(d) => {
                rx.extend_from_slice(d);
                rx
            }
            None => rx,
        };
        let (3, v) = p_data(tsdu)? else { return None };
        Some(v)
    }
}

// ---- nom 8, written plainly ----------------------------------------------------------------

mod nom_8 {
    use super::*;
    use nom8::bytes::complete::{tag, take};
    use nom8::combinator::verify;
    use nom8::multi::{fold_many0, length_data};
    use nom8::number::complete::{be_u8, be_u16};
    use nom8::{IResult, Parser};

    fn tpkt(i: &[u8]) -> IResult<&[u8], &[u8]> {
        let (i, _) = tag(&[3u8][..]).parse(i)?;
        let (i, _) = be_u8(i)?;
        let (i, len) = verify(be_u16, |l: &u16| *l >= 7).parse(i)?;
        take(len - 4).parse(i)
    }

    fn dt(i: &[u8]) -> IResult<&[u8], bool> {
        let (i, _) = tag(&[2u8, 0xf0][..]).parse(i)?;
        let (i, eot_nr) = verify(be_u8, |b: &u8| b & 0x7f == 0).parse(i)?;
        Ok((i, eot_nr & 0x80 != 0))
    }

    #[inline(never)]
    pub fn dt_frames(mut s: &[u8], sum: &mut DtSum) -> Option<()> {
        while !s.is_empty() {
            let (rest, t) = tpkt(s).ok()?;
            let (data, eot) = dt(t).ok()?;
            sum.add(eot, data);
            s = rest;
        }
        Some(())
    }

    #[derive(Default)]
    struct Acc<'a> {
        called: Option<&'a [u8]>,
        calling: Option<&'a [u8]>,
        size: Option<u8>,
    }

    #[inline(never)]
    pub fn cr(s: &[u8]) -> Option<CrValues<'_>> {
        let (rest, t) = tpkt(s).ok()?;
        if !rest.is_empty() {
            return None;
        }
        let parsed: IResult<&[u8], CrValues<'_>> = (|| {
            let (i, li) = verify(be_u8, |l: &u8| *l >= 6).parse(t)?;
            let (_, header) = take(li).parse(i)?;
            let (h, _) = tag(&[0xe0u8][..]).parse(header)?;
            let (h, _dst) = be_u16(h)?;
            let (h, src) = be_u16(h)?;
            let (h, _class) = verify(be_u8, |c: &u8| c & 0xf0 == 0).parse(h)?;
            let (h, acc) = fold_many0(
                (be_u8, length_data(be_u8)),
                Acc::default,
                |mut acc: Acc<'_>, (code, value): (u8, &[u8])| {
                    match code {
                        0xc2 => acc.called = Some(value),
                        0xc1 => acc.calling = Some(value),
                        0xc0 => acc.size = value.first().copied(),
                        _ => {}
                    }
                    acc
                },
            )
            .parse(h)?;
            let fail =
                || nom8::Err::Error(nom8::error::Error::new(h, nom8::error::ErrorKind::Verify));
            if !h.is_empty() {
                return Err(fail());
            }
            Ok((
                h,
                (
                    src,
                    acc.called.ok_or_else(fail)?,
                    acc.calling.ok_or_else(fail)?,
                    acc.size.ok_or_else(fail)?,
                ),
            ))
        })();
        parsed.ok().map(|(_, v)| v)
    }
}

// ---- iec61850-mms 0.4 ----------------------------------------------------------------------

mod iec {
    use super::*;
    use iec61850_mms::iso::acse::AcseConnection;
    use iec61850_mms::iso::cotp::{parse_cr, parse_dt};
    use iec61850_mms::iso::presentation::{IsoPresentation, parse_connect, parse_user_data};
    use iec61850_mms::iso::session::{IsoSession, SessionIndication};
    use iec61850_mms::iso::tpkt::TpktHeader;

    fn tpkt(s: &[u8]) -> Option<(&[u8], &[u8])> {
        let h = TpktHeader::decode(s.first_chunk::<4>()?).ok()?;
        let len = usize::from(h.packet_len);
        if len < 7 || s.len() < len {
            return None;
        }
        Some((&s[4..len], &s[len..]))
    }

    /// Non-empty DTs only: `parse_dt` refuses a DT without data.
    #[inline(never)]
    pub fn dt_frames(mut s: &[u8], sum: &mut DtSum) -> Option<()> {
        while !s.is_empty() {
            let (t, rest) = tpkt(s)?;
            let (data, eot) = parse_dt(t).ok()?;
            sum.add(eot, data);
            s = rest;
        }
        Some(())
    }

    #[inline(never)]
    pub fn cr(s: &[u8]) -> Option<(Vec<u8>, Vec<u8>, u8)> {
        let (t, []) = tpkt(s)? else { return None };
        let (_src, opts) = parse_cr(t).ok()?;
        Some((
            opts.tsel_dst.as_slice().to_vec(),
            opts.tsel_src.as_slice().to_vec(),
            opts.tpdu_size.encoded(),
        ))
    }

    #[inline(never)]
    pub fn mms_data<'a>(s: &'a [u8], pres: &mut IsoPresentation) -> Option<(i64, &'a [u8])> {
        let (t, []) = tpkt(s)? else { return None };
        let (spdu, true) = parse_dt(t).ok()? else {
            return None;
        };
        let mut session = IsoSession::new();
        let SessionIndication::Data = session.parse_message(spdu).ok()? else {
            return None;
        };
        let ud = session.user_data(spdu);
        let r = parse_user_data(pres, ud).ok()?;
        Some((i64::from(r.context_id), r.payload(ud)))
    }

    /// What iec61850-mms gives of an association request: T-selectors, S-selectors,
    /// P-selectors and the two context ids (owned: its types own them), and the MMS
    /// initiate-request's length.
    #[allow(clippy::type_complexity)]
    #[inline(never)]
    pub fn association_request(cr: &[u8], cn: &[u8]) -> Option<([Vec<u8>; 6], i64, i64, usize)> {
        let (t, []) = tpkt(cr)? else { return None };
        let (_src, opts) = parse_cr(t).ok()?;
        let (t, []) = tpkt(cn)? else { return None };
        let (spdu, true) = parse_dt(t).ok()? else {
            return None;
        };
        let mut session = IsoSession::new();
        let SessionIndication::Connect = session.parse_message(spdu).ok()? else {
            return None;
        };
        let cp = session.user_data(spdu);
        let mut pres = IsoPresentation::new();
        let r = parse_connect(&mut pres, cp).ok()?;
        let mut acse = AcseConnection::new(None);
        let (_, mms) = acse.parse_message(r.payload(cp)).ok()?;
        Some((
            [
                opts.tsel_dst.as_slice().to_vec(),
                opts.tsel_src.as_slice().to_vec(),
                session.calling_selector.as_slice().to_vec(),
                session.called_selector.as_slice().to_vec(),
                pres.calling_p_sel.as_slice().to_vec(),
                pres.called_p_sel.as_slice().to_vec(),
            ],
            i64::from(pres.acse_context_id),
            i64::from(pres.mms_context_id),
            mms.len(),
        ))
    }

    #[inline(never)]
    pub fn dt_encode(data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&TpktHeader::new(data.len() + 7).encode());
        out.extend_from_slice(&iec61850_mms::iso::cotp::encode_dt(data, true));
    }
}

// ---- the pair --------------------------------------------------------------------------------

/// An octet string of `n` octets in all (tag and length included): one BER value.
fn message(n: usize) -> Vec<u8> {
    let inner = n - 4;
    let mut v = vec![0x04, 0x82, (inner >> 8) as u8, inner as u8];
    v.extend((0..inner).map(|i| i as u8));
    v
}

fn pump(from: &mut Association, to: &mut Association, now: Instant) {
    while let Some(b) = from.poll_transmit() {
        to.handle_input(&b, now);
    }
}

fn associated_pair() -> (Association, Association) {
    let now = Instant::now();
    let mut c = Association::initiator(Config::default());
    let mut s = Association::responder(Config::default(), Dispatch::default(), None);
    c.associate(AssociateRequest::mms(), now).unwrap();
    pump(&mut c, &mut s, now);
    pump(&mut s, &mut c, now);
    pump(&mut c, &mut s, now);
    while s.poll_event().is_some() {}
    s.accept(AcceptResponse::default(), now).unwrap();
    pump(&mut s, &mut c, now);
    while s.poll_event().is_some() {}
    while c.poll_event().is_some() {}
    (c, s)
}

/// The MMS context id of `AssociateRequest::mms()`.
const PAIR_CONTEXT: osi_stack::presentation::ContextId =
    osi_stack::presentation::ContextId::new(3).unwrap();

fn pair_round(c: &mut Association, s: &mut Association, msg: &[u8], now: Instant) -> usize {
    c.send_data(PAIR_CONTEXT, msg, now).unwrap();
    pump(c, s, now);
    match s.poll_event() {
        Some(Event::Data(d)) => d.value.len(),
        other => panic!("{other:?}"),
    }
}

// ---- the harness: criterion, or an instruction count under valgrind -----------------------

/// With `COMPARE_ICOUNT=<group>/<decoder>` (e.g. `mms_data/osi-stack`) and `COMPARE_ITERS=n`,
/// the binary runs that one decoder `n` times on its row's input (after the cross-checks) and
/// exits, without criterion: `(Ir(n) − Ir(0)) / n` under `valgrind --tool=cachegrind
/// --cache-sim=no` is its instruction count per iteration, a figure the load of a shared
/// machine does not move (see BENCHMARKS.md).
fn icount_spec() -> Option<(String, u64)> {
    let spec = std::env::var("COMPARE_ICOUNT").ok()?;
    let n = std::env::var("COMPARE_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    Some((spec, n))
}

struct Group<'c> {
    inner: BenchmarkGroup<'c, WallTime>,
    name: String,
}

enum Bench<'a, 'b> {
    Timed(&'a mut Bencher<'b>),
    Count(u64),
}

impl Bench<'_, '_> {
    #[inline(always)]
    fn iter<O>(&mut self, mut f: impl FnMut() -> O) {
        match self {
            Bench::Timed(b) => b.iter(f),
            Bench::Count(n) => {
                for _ in 0..*n {
                    black_box(f());
                }
            }
        }
    }
}

fn group<'c>(c: &'c mut Criterion, name: impl Into<String>) -> Group<'c> {
    let name = name.into();
    Group {
        inner: c.benchmark_group(name.clone()),
        name,
    }
}

impl Group<'_> {
    fn throughput(&mut self, t: Throughput) {
        self.inner.throughput(t);
    }

    fn bench_function(&mut self, id: &str, mut f: impl FnMut(&mut Bench<'_, '_>)) {
        match icount_spec() {
            Some((spec, n)) => {
                if spec == format!("{}/{id}", self.name) {
                    eprintln!("icount: running {spec} {n} times");
                    f(&mut Bench::Count(n));
                    std::process::exit(0);
                }
            }
            None => {
                self.inner.bench_function(id, |b| f(&mut Bench::Timed(b)));
            }
        }
    }

    fn finish(self) {
        self.inner.finish();
    }
}

// ---- the benches -----------------------------------------------------------------------------

fn dt_rows(c: &mut Criterion) {
    for n in [0usize, 64, 1024] {
        let s = dt_stream(n, 1);
        let mut want = DtSum::default();
        minimal::dt_frames(&s, &mut want).unwrap();
        assert_eq!(
            (want.frames, want.eots, want.octets),
            (FRAMES, FRAMES, FRAMES * n)
        );
        let check = |name: &str, f: &dyn Fn(&[u8], &mut DtSum) -> Option<()>| {
            let mut got = DtSum::default();
            f(&s, &mut got).unwrap_or_else(|| panic!("{name} failed on dt/{n}"));
            assert_eq!(got, want, "{name} dt/{n}");
        };
        check("osi-stack", &osi::dt_frames);
        check("nom8", &nom_8::dt_frames);
        if n > 0 {
            check("iec61850-mms", &iec::dt_frames);
        }
        let mut g = group(c, format!("dt/{n}"));
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_function("osi-stack", |b| {
            b.iter(|| {
                let mut sum = DtSum::default();
                osi::dt_frames(black_box(&s), &mut sum);
                sum
            })
        });
        g.bench_function("minimal", |b| {
            b.iter(|| {
                let mut sum = DtSum::default();
                minimal::dt_frames(black_box(&s), &mut sum);
                sum
            })
        });
        g.bench_function("nom8", |b| {
            b.iter(|| {
                let mut sum = DtSum::default();
                nom_8::dt_frames(black_box(&s), &mut sum);
                sum
            })
        });
        if n > 0 {
            g.bench_function("iec61850-mms", |b| {
                b.iter(|| {
                    let mut sum = DtSum::default();
                    iec::dt_frames(black_box(&s), &mut sum);
                    sum
                })
            });
        }
        g.finish();
    }
}

fn reassembly_row(c: &mut Criterion) {
    let s = dt_stream(64, 4);
    let limits = Limits::default();
    let mut want = DtSum::default();
    let mut buf = Vec::new();
    minimal::dt_reassembly(&s, &mut buf, limits.max_tsdu, &mut want).unwrap();
    assert_eq!((want.frames, want.octets), (FRAMES / 4, FRAMES * 64));
    let mut r = Reassembler::new(limits);
    let mut got = DtSum::default();
    osi::dt_reassembly(&s, &mut r, &mut got).unwrap();
    assert_eq!(got, want, "osi-stack dt_reassembly");

    let mut g = group(c, "dt_reassembly/64");
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.bench_function("osi-stack", |b| {
        b.iter(|| {
            let mut sum = DtSum::default();
            osi::dt_reassembly(black_box(&s), &mut r, &mut sum);
            sum
        })
    });
    g.bench_function("minimal", |b| {
        b.iter(|| {
            let mut sum = DtSum::default();
            minimal::dt_reassembly(black_box(&s), &mut buf, limits.max_tsdu, &mut sum);
            sum
        })
    });
    g.finish();
}

fn cr_rows(c: &mut Criterion) {
    let cr = frame("cr.hex");
    let want = minimal::cr(&cr).unwrap();
    assert_eq!(osi::cr(&cr), Some(want), "osi-stack cr");
    assert_eq!(nom_8::cr(&cr), Some(want), "nom8 cr");
    assert_eq!(
        iec::cr(&cr),
        Some((want.1.to_vec(), want.2.to_vec(), want.3)),
        "iec61850-mms cr"
    );
    let mut g = group(c, "cr");
    g.throughput(Throughput::Bytes(cr.len() as u64));
    g.bench_function("osi-stack", |b| b.iter(|| osi::cr(black_box(&cr))));
    g.bench_function("minimal", |b| b.iter(|| minimal::cr(black_box(&cr))));
    g.bench_function("nom8", |b| b.iter(|| nom_8::cr(black_box(&cr))));
    g.bench_function("iec61850-mms", |b| b.iter(|| iec::cr(black_box(&cr))));
    g.finish();

    let rdp = frame("rdp_cr.hex");
    let want = minimal::rdp_cr(&rdp).unwrap();
    assert_eq!(want.0, b"Cookie: mstshash=JOHN-PC  ");
    assert_eq!(osi::rdp_cr(&rdp), Some(want), "osi-stack rdp_cr");
    let mut g = group(c, "rdp_cr");
    g.throughput(Throughput::Bytes(rdp.len() as u64));
    g.bench_function("osi-stack", |b| b.iter(|| osi::rdp_cr(black_box(&rdp))));
    g.bench_function("minimal", |b| b.iter(|| minimal::rdp_cr(black_box(&rdp))));
    g.finish();
}

fn mms_rows(c: &mut Criterion) {
    let limits = Limits::default();
    let data = frame("mms_data.hex");
    let want = minimal::mms_data(&data).unwrap();
    assert_eq!(
        osi::mms_data(&data, &limits),
        Some(want),
        "osi-stack mms_data"
    );
    let mut pres = iec61850_mms::iso::presentation::IsoPresentation::new();
    assert_eq!(iec::mms_data(&data, &mut pres), Some(want), "iec mms_data");
    let mut g = group(c, "mms_data");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("osi-stack", |b| {
        b.iter(|| osi::mms_data(black_box(&data), &limits))
    });
    g.bench_function("minimal", |b| {
        b.iter(|| minimal::mms_data(black_box(&data)))
    });
    g.bench_function("iec61850-mms", |b| {
        b.iter(|| iec::mms_data(black_box(&data), &mut pres))
    });
    g.finish();

    let cr = frame("cr.hex");
    let cn = frame("cn.hex");
    let want = minimal::association_request(&cr, &cn).unwrap();
    assert_eq!(want.application_context, [0x28, 0xca, 0x22, 0x02, 0x03]);
    assert_eq!(
        osi::association_request(&cr, &cn, &limits),
        Some(want),
        "osi-stack association_request"
    );
    let (sels, acse, mms, initiate_len) = iec::association_request(&cr, &cn).unwrap();
    assert_eq!(
        sels,
        [
            want.called_tsel,
            want.calling_tsel,
            want.calling_ssel,
            want.called_ssel,
            want.calling_psel,
            want.called_psel
        ]
        .map(<[u8]>::to_vec),
        "iec61850-mms association_request selectors"
    );
    assert_eq!(
        (acse, mms),
        (want.acse_context, want.mms_context),
        "iec61850-mms contexts"
    );
    assert!(initiate_len > 0);
    let mut g = group(c, "association_request");
    g.throughput(Throughput::Bytes((cr.len() + cn.len()) as u64));
    g.bench_function("osi-stack", |b| {
        b.iter(|| osi::association_request(black_box(&cr), black_box(&cn), &limits))
    });
    g.bench_function("minimal", |b| {
        b.iter(|| minimal::association_request(black_box(&cr), black_box(&cn)))
    });
    g.bench_function("iec61850-mms", |b| {
        b.iter(|| iec::association_request(black_box(&cr), black_box(&cn)))
    });
    g.finish();
}

fn encode_rows(c: &mut Criterion) {
    let captured = frame("mms_data.hex");
    let data: Vec<u8> = captured[7..].iter().copied().cycle().take(64).collect();
    let mut want = Vec::new();
    minimal::dt_encode(&data, &mut want).unwrap();
    let mut out = Vec::with_capacity(256);
    osi::dt_encode(&data, &mut out).unwrap();
    assert_eq!(out, want, "osi-stack dt_encode");
    out.clear();
    iec::dt_encode(&data, &mut out);
    assert_eq!(out, want, "iec61850-mms dt_encode");
    let mut g = group(c, "dt_encode/64");
    g.throughput(Throughput::Bytes(want.len() as u64));
    g.bench_function("osi-stack", |b| {
        b.iter(|| {
            out.clear();
            osi::dt_encode(black_box(&data), &mut out);
            out.len()
        })
    });
    g.bench_function("minimal", |b| {
        b.iter(|| {
            out.clear();
            minimal::dt_encode(black_box(&data), &mut out);
            out.len()
        })
    });
    g.bench_function("iec61850-mms", |b| {
        b.iter(|| {
            out.clear();
            iec::dt_encode(black_box(&data), &mut out);
            out.len()
        })
    });
    g.finish();
}

fn pair_rows(c: &mut Criterion) {
    let tpdu_size = Config::default().tpdu_size;
    for size in [1024usize, 64 * 1024] {
        let msg = message(size);
        let now = Instant::now();
        let (mut client, mut server) = associated_pair();
        let (mut wire, mut rx) = (Vec::new(), Vec::new());
        let want = minimal::p_data_pair(&msg, tpdu_size, &mut wire, &mut rx).unwrap();
        assert_eq!(want, &msg[..]);
        assert_eq!(pair_round(&mut client, &mut server, &msg, now), msg.len());
        let mut g = group(c, format!("p_data_pair/{size}"));
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function("osi-stack", |b| {
            b.iter(|| pair_round(&mut client, &mut server, black_box(&msg), now))
        });
        g.bench_function("minimal", |b| {
            b.iter(|| {
                minimal::p_data_pair(black_box(&msg), tpdu_size, &mut wire, &mut rx)
                    .map(<[u8]>::len)
            })
        });
        g.finish();
    }
}

criterion_group!(
    benches,
    dt_rows,
    reassembly_row,
    cr_rows,
    mms_rows,
    encode_rows,
    pair_rows
);
criterion_main!(benches);
