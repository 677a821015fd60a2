// Fuzz oracles, shared by the cargo-fuzz targets (fuzz_targets/*.rs) and by the ordinary test
// that replays saved inputs (tests/fuzz_regressions.rs). Each takes any bytes and panics only
// when a property of the crate is broken: decoding is total (value or error, never a panic),
// a decoded value re-encodes to the bytes it came from, and memory stays within `Limits`.

#![allow(dead_code)]

use osi_stack::cotp::{Reassembler, Tpdu, TpduKind, class0};
use osi_stack::tpkt::{self, Tpkt, TpktFrames};
use osi_stack::{Layer, Limits};

/// TPKT framing: `frame_len` and `Tpkt::decode` agree, and a decoded TPKT re-encodes.
pub fn tpkt(data: &[u8]) {
    let len = tpkt::frame_len(data);
    match Tpkt::decode(data) {
        Ok((t, rest)) => {
            assert_eq!(len, Ok(Some(t.encoded_len())));
            assert_eq!(t.encoded_len() + rest.len(), data.len());
            let mut out = Vec::new();
            t.encode(&mut out).unwrap();
            assert_eq!(out[0], 3);
            assert_eq!(&out[2..], &data[2..t.encoded_len()]);
        }
        Err(e) => {
            assert_eq!(e.layer(), Layer::Tpkt);
            if let Ok(Some(n)) = len {
                assert!(data.len() < n, "frame_len accepted what decode refused");
            }
        }
    }
}

/// One TPDU: decode is total, a decoded TPDU re-encodes to the same bytes, and the class-0
/// decisions never panic and produce encodable answers.
pub fn cotp(data: &[u8]) {
    let Ok(tpdu) = Tpdu::decode(data) else {
        return;
    };
    let mut out = Vec::with_capacity(data.len());
    tpdu.encode(&mut out).unwrap();
    assert_eq!(out, data, "re-encoding changed the bytes");
    assert_eq!(tpdu.encoded_len(), data.len());
    match &tpdu {
        Tpdu::Cr(cr) => {
            for p in cr.params.iter() {
                let _ = p.typed(TpduKind::Cr);
            }
            match class0::respond(cr, &class0::Responder::default()) {
                Ok(accepted) => {
                    assert!((128..=65531).contains(&accepted.tpdu_size));
                    let params = accepted.cc_params().unwrap();
                    let mut cc = Vec::new();
                    accepted.cc(cr, 1, &params).encode(&mut cc).unwrap();
                    let Ok(Tpdu::Cc(back)) = Tpdu::decode(&cc) else {
                        panic!("our CC does not decode")
                    };
                    let confirmed = class0::check_cc(cr, &back, true).unwrap();
                    assert_eq!(confirmed.tpdu_size, accepted.tpdu_size);
                }
                Err(refusal) => {
                    let mut answer = Vec::new();
                    refusal.encode(cr, data, &mut answer).unwrap();
                    assert!(matches!(
                        Tpdu::decode(&answer),
                        Ok(Tpdu::Dr(_) | Tpdu::Er(_))
                    ));
                }
            }
        }
        Tpdu::Dt(dt) => {
            let _ = class0::check_dt(dt);
        }
        Tpdu::Er(er) => {
            let _ = class0::check_er(er);
        }
        _ => {}
    }
}

/// A byte stream: TPKT framing, COTP decode, class-0 DT checks and reassembly under small limits.
pub fn cotp_stream(data: &[u8]) {
    let limits = Limits::default().with_max_tsdu(4096).with_max_segments(16);
    let mut r = Reassembler::new(limits);
    let mut frames = TpktFrames::new(data);
    for frame in frames.by_ref() {
        let Ok(frame) = frame else { break };
        if let Ok(Tpdu::Dt(dt)) = Tpdu::decode(frame.payload) {
            if class0::check_dt(&dt).is_err() {
                continue;
            }
            match r.push(&dt) {
                Ok(Some(tsdu)) => assert!(tsdu.len() <= limits.max_tsdu),
                Ok(None) => {}
                Err(e) => assert_eq!(e.layer(), Layer::Cotp),
            }
            assert!(r.pending_len() <= limits.max_tsdu);
            assert!(r.pending_segments() <= limits.max_segments);
        }
    }
    assert!(frames.consumed() <= data.len());
}

/// One TSDU at the session layer: iteration is total, and when every SPDU decodes the TSDU
/// re-encodes to the same bytes.
pub fn session(data: &[u8]) {
    let mut spdus = Vec::new();
    for spdu in osi_stack::session::spdus(data) {
        match spdu {
            Ok(s) => {
                accessors_agree(&s);
                spdus.push(s);
            }
            Err(e) => {
                assert_eq!(e.layer(), Layer::Session);
                return;
            }
        }
    }
    let mut out = Vec::with_capacity(data.len());
    osi_stack::session::encode_tsdu(&spdus, &mut out).unwrap();
    assert_eq!(out, data, "re-encoding the TSDU changed the bytes");

    // Whatever the peer sends, a reassembler under small limits stays within them.
    let limits = Limits::default().with_max_ssdu(64).with_max_segments(4);
    let mut reassembler = osi_stack::session::SsduReassembler::new(&limits);
    for spdu in &spdus {
        match reassembler.push(spdu) {
            Ok(Some(ssdu)) => assert!(ssdu.data().len() <= limits.max_ssdu),
            Ok(None) => assert!(reassembler.buffered() <= limits.max_ssdu),
            Err(e) => {
                assert_eq!(e.layer(), Layer::Session);
                assert!(reassembler.is_idle(), "{e}");
            }
        }
    }
    if let Some(last) = spdus.last() {
        segments_round_trip(last, data.first().copied().unwrap_or(0));
    }
}

/// Segments the SS-user data of `spdu` (its other parameters in the first SPDU) at a TSDU
/// maximum size picked by `size`, and checks that decoding and reassembling every TSDU gives
/// back the kind, the parameters and the data.
fn segments_round_trip(spdu: &osi_stack::session::Spdu<'_>, size: u8) {
    use osi_stack::session::{ParameterCode, ParametersBuf, SsduReassembler, segment_ssdu};
    let data = spdu.ss_user_data();
    let mut other = ParametersBuf::new();
    let raw = spdu.parameters().as_bytes();
    for unit in spdu.parameters().iter() {
        let c = unit.code();
        if c == ParameterCode::ENCLOSURE_ITEM
            || c == ParameterCode::USER_DATA
            || c == ParameterCode::EXTENDED_USER_DATA
        {
            continue;
        }
        other.raw(&raw[unit.offset()..unit.offset() + unit.encoded_len()]);
    }
    let Ok(params) = other.as_parameters() else {
        return;
    };
    let max = if size == 0 { 0 } else { usize::from(size) * 4 };
    let Ok(tsdus) = segment_ssdu(spdu.kind(), params, data, max) else {
        return;
    };
    let mut reassembler = SsduReassembler::new(&Limits::default());
    let mut done = None;
    for tsdu in tsdus {
        assert!(done.is_none(), "a TSDU after the last segment");
        let bytes = tsdu.to_vec().unwrap();
        assert!(
            max == 0 || bytes.len() <= max,
            "TSDU of {} octets, max {max}",
            bytes.len()
        );
        let last = osi_stack::session::spdus(&bytes)
            .last()
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}: {bytes:02x?}"));
        if let Some(ssdu) = reassembler.push(&last).unwrap() {
            done = Some(ssdu.into_owned());
        }
    }
    let ssdu = done.expect("the last segment completes the SSDU");
    assert_eq!(ssdu.kind(), spdu.kind());
    assert_eq!(ssdu.data(), data);
    assert_eq!(ssdu.parameters().as_bytes(), params.as_bytes());
}

/// The accessors the decoder answers from the positions it recorded give what a walk of the
/// parameter field gives (the same SPDU rebuilt with `Spdu::new` has no recorded positions).
pub fn accessors_agree(decoded: &osi_stack::session::Spdu<'_>) {
    let walked = osi_stack::session::Spdu::new(decoded.kind(), decoded.parameters())
        .with_user_information(decoded.user_information());
    assert_eq!(
        decoded.calling_session_selector(),
        walked.calling_session_selector()
    );
    assert_eq!(
        decoded.called_session_selector(),
        walked.called_session_selector()
    );
    assert_eq!(
        decoded.responding_session_selector(),
        walked.responding_session_selector()
    );
    assert_eq!(decoded.user_data(), walked.user_data());
    assert_eq!(decoded.extended_user_data(), walked.extended_user_data());
    assert_eq!(decoded.ss_user_data(), walked.ss_user_data());
}

/// A structured TPDU value: when it encodes, it decodes back to itself.
pub fn cotp_value(tpdu: &Tpdu<'_>) {
    let mut out = Vec::new();
    if let Err(e) = tpdu.encode(&mut out) {
        // Refusals: a header over 254 octets, or a variable part whose length gives the LI the
        // parity of the other format (normal even, extended odd).
        let parity = e.to_string().contains("variable part length");
        assert!(tpdu.header_len() > 254 || parity, "{e}: {tpdu:?}");
        return;
    }
    assert_eq!(out.len(), tpdu.encoded_len());
    assert_eq!(Tpdu::decode(&out).as_ref(), Ok(tpdu));
}

/// Re-encodes a decoded BER value and decodes the result again: the two values must be equal
/// (BER allows several encodings of one value, so bytes are not compared), and the encoder must
/// write exactly `encoded_len` octets.
macro_rules! ber_round_trip {
    ($value:expr, $decode:expr) => {{
        let value = $value;
        let mut out = Vec::new();
        value.encode(&mut out).unwrap();
        assert_eq!(out.len(), value.encoded_len());
        let again = $decode(&out).unwrap();
        assert_eq!(again, value, "value changed through encode/decode");
    }};
}

/// Presentation: every PPDU decoder is total, and a decoded PPDU survives encode/decode.
pub fn presentation(data: &[u8]) {
    use osi_stack::presentation::{AbortPpdu, Cp, Cpa, Cpr, Rs, Rsa, TypedData, UserData};
    let limits = Limits::default();
    if let Ok((cp, _)) = Cp::decode(data, &limits) {
        ber_round_trip!(cp, |b| Cp::decode(b, &limits).map(|(v, _)| v));
    }
    if let Ok(cpa) = Cpa::decode(data, &limits) {
        ber_round_trip!(cpa, |b| Cpa::decode(b, &limits));
    }
    if let Ok(cpr) = Cpr::decode(data, &limits) {
        ber_round_trip!(cpr, |b| Cpr::decode(b, &limits));
    }
    if let Ok(ab) = AbortPpdu::decode(data, &limits) {
        ber_round_trip!(ab, |b| AbortPpdu::decode(b, &limits));
    }
    if let Ok(ud) = UserData::decode(data, &limits) {
        ber_round_trip!(ud, |b| UserData::decode(b, &limits));
        // A TTD-PPDU is User-data: the typed-data decoder must agree.
        assert_eq!(TypedData::decode(data, &limits), Ok(TypedData::Ttd(ud)));
    }
    match TypedData::decode(data, &limits) {
        Ok(td) => ber_round_trip!(td, |b| TypedData::decode(b, &limits)),
        Err(e) => assert_eq!(e.layer(), Layer::Presentation),
    }
    // RS-PPDU and RSA-PPDU share their ASN.1: the two decoders agree.
    let rs = Rs::decode(data, &limits);
    let rsa = Rsa::decode(data, &limits);
    assert_eq!(
        rs.as_ref().ok().map(|v| (v.context_ids, v.user_data)),
        rsa.as_ref().ok().map(|v| (v.context_ids, v.user_data))
    );
    match (rs, rsa) {
        (Ok(rs), Ok(rsa)) => {
            ber_round_trip!(rs, |b| Rs::decode(b, &limits));
            ber_round_trip!(rsa, |b| Rsa::decode(b, &limits));
        }
        (Err(a), Err(b)) => {
            assert_eq!((a.layer(), a.offset()), (b.layer(), b.offset()));
            assert_eq!(a.layer(), Layer::Presentation);
        }
        _ => unreachable!("checked above"),
    }
}

/// ACSE: the APDU decoder is total, and a decoded APDU survives encode/decode.
pub fn acse(data: &[u8]) {
    use osi_stack::acse::Apdu;
    let limits = Limits::default();
    if let Ok(apdu) = Apdu::decode(data, &limits) {
        ber_round_trip!(apdu, |b| Apdu::decode(b, &limits));
    }
}

/// Encodes RTSE components (the contents of an X.410-mode PPDU's SET), checks the size and
/// decodes them again: the values must be equal.
macro_rules! components_round_trip {
    ($value:expr, $ty:ty, $limits:expr) => {{
        let value = $value;
        let mut out = Vec::new();
        value.encode_components(&mut out).unwrap();
        assert_eq!(out.len(), value.components_len());
        let again = <$ty>::decode_components(&out, $limits).unwrap();
        assert_eq!(again, value, "components changed through encode/decode");
    }};
}

/// RTSE: every decoder (the APDU enum, the per-type entry points, the X.410-mode components
/// and the presentation PPDUs that carry them) is total, and a decoded value survives
/// encode/decode. The per-type decoders agree with the enum.
pub fn rtse(data: &[u8]) {
    use osi_stack::presentation::{AbortPpdu, Cp, Cpa, Cpr};
    use osi_stack::rtse::{Apdu, Rtab, Rtoac, Rtorj, Rtorq, Rttp, Rttr};
    let limits = Limits::default();
    let apdu = Apdu::decode(data, &limits);
    match &apdu {
        Ok(a) => {
            ber_round_trip!(*a, |b| Apdu::decode(b, &limits));
            if let Apdu::Rttr(t) = a {
                let total: usize = t.segments().map(<[u8]>::len).sum();
                assert_eq!(total, t.len());
                assert!(total <= data.len());
            }
        }
        Err(e) => assert_eq!(e.layer(), Layer::Rtse),
    }
    let same = |typed: Option<Apdu<'_>>| {
        if let Some(t) = typed {
            assert_eq!(
                apdu.as_ref().ok(),
                Some(&t),
                "typed decoder disagrees with Apdu"
            );
        }
    };
    same(Rtorq::decode(data, &limits).ok().map(Apdu::Rtorq));
    same(Rtoac::decode(data, &limits).ok().map(Apdu::Rtoac));
    same(Rtorj::decode(data, &limits).ok().map(Apdu::Rtorj));
    same(Rttp::decode(data, &limits).ok().map(Apdu::Rttp));
    same(Rttr::decode(data, &limits).ok().map(Apdu::Rttr));
    same(Rtab::decode(data, &limits).ok().map(Apdu::Rtab));
    if let Ok(v) = Rtorq::decode_components(data, &limits) {
        components_round_trip!(v, Rtorq, &limits);
    }
    if let Ok(v) = Rtoac::decode_components(data, &limits) {
        components_round_trip!(v, Rtoac, &limits);
    }
    if let Ok(v) = Rtorj::decode_components(data, &limits) {
        components_round_trip!(v, Rtorj, &limits);
    }
    if let Ok(v) = Rtab::decode_components(data, &limits) {
        components_round_trip!(v, Rtab, &limits);
    }
    // X.410-1984 mode: the same bytes as a presentation PPDU.
    if let Ok((cp, _)) = Cp::decode(data, &limits) {
        if let Ok(Some(v)) = Rtorq::from_cp(&cp, &limits) {
            components_round_trip!(v, Rtorq, &limits);
        }
    }
    if let Ok(cpa) = Cpa::decode(data, &limits) {
        if let Ok(Some(v)) = Rtoac::from_cpa(&cpa, &limits) {
            components_round_trip!(v, Rtoac, &limits);
        }
    }
    if let Ok(cpr) = Cpr::decode(data, &limits) {
        if let Ok(Some(v)) = Rtorj::from_cpr(&cpr, &limits) {
            components_round_trip!(v, Rtorj, &limits);
        }
    }
    if let Ok(ab) = AbortPpdu::decode(data, &limits) {
        if let Ok(Some(v)) = Rtab::from_abort(&ab, &limits) {
            components_round_trip!(v, Rtab, &limits);
        }
    }
}

/// The whole stack over one direction of a TCP stream: TPKT framing, class-0 DT checks and
/// reassembly, the SPDUs of every TSDU, the PPDU each SPDU carries (chosen by the SPDU type as a
/// receiver would), the ACSE APDUs in the ACSE-looking PDVs and the RTSE APDUs in EXTERNALs.
/// Every layer is total; every error names a layer at or above the one decoding; the
/// reassembly stays within `Limits`.
pub fn stack(data: &[u8]) {
    use osi_stack::acse::Apdu;
    use osi_stack::cotp::Tsdu;
    use osi_stack::presentation::{AbortPpdu, Cp, Cpa, Cpr, PdvValues, Rs, TypedData, UserData};
    use osi_stack::session::{SpduKind, spdus};

    let limits = Limits::default()
        .with_max_tsdu(16 * 1024)
        .with_max_segments(64);
    let mut r = Reassembler::new(limits);
    let mut frames = TpktFrames::new(data);
    fn value_of<'a>(v: &PdvValues<'a>) -> Option<&'a [u8]> {
        match *v {
            PdvValues::SingleAsn1Type(b) | PdvValues::OctetAligned(b) => Some(b),
            _ => None,
        }
    }
    let upper = |bytes: &[u8]| {
        // ACSE and RTSE inside the value, whichever it is.
        if let Ok(apdu) = Apdu::decode(bytes, &limits) {
            let info = match apdu {
                Apdu::Aarq(a) => a.user_information,
                Apdu::Aare(a) => a.user_information,
                Apdu::Abrt(a) => a.user_information,
                Apdu::Rlrq(a) => a.user_information,
                Apdu::Rlre(a) => a.user_information,
            };
            for ext in info.iter().flat_map(|l| l.iter()) {
                if let Some(v) = value_of(&ext.encoding) {
                    let _ = osi_stack::rtse::Apdu::decode(v, &limits);
                }
            }
        }
    };
    let user_data = |ud: Option<UserData<'_>>| {
        for pdv in ud.iter().flat_map(|u| u.pdvs()) {
            if let Some(v) = value_of(&pdv.values) {
                upper(v);
            }
        }
    };
    for frame in frames.by_ref() {
        let Ok(frame) = frame else { break };
        let Ok(Tpdu::Dt(dt)) = Tpdu::decode(frame.payload) else {
            continue;
        };
        if class0::check_dt(&dt).is_err() {
            continue;
        }
        let tsdu = match r.push(&dt) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                assert_eq!(e.layer(), Layer::Cotp);
                continue;
            }
        };
        assert!(r.pending_len() <= limits.max_tsdu);
        let bytes: &[u8] = match &tsdu {
            Tsdu::Whole(b) => b,
            Tsdu::Reassembled(b) => b,
        };
        for spdu in spdus(bytes) {
            let spdu = match spdu {
                Ok(s) => s,
                Err(e) => {
                    assert_eq!(e.layer(), Layer::Session);
                    break;
                }
            };
            let ud = spdu.ss_user_data();
            match spdu.kind() {
                SpduKind::Cn => {
                    if let Ok((cp, _)) = Cp::decode(ud, &limits) {
                        user_data(cp.normal.and_then(|n| n.user_data));
                    }
                }
                SpduKind::Ac => {
                    if let Ok(cpa) = Cpa::decode(ud, &limits) {
                        user_data(cpa.normal.and_then(|n| n.user_data));
                    }
                }
                SpduKind::Rf => {
                    if let Some(Ok(Cpr::Normal(n))) =
                        spdu.refuse_user_data().map(|d| Cpr::decode(d, &limits))
                    {
                        user_data(n.user_data);
                    }
                }
                SpduKind::Ab => {
                    if let Ok(AbortPpdu::Aru(aru)) = AbortPpdu::decode(ud, &limits) {
                        user_data(aru.user_data);
                    }
                }
                SpduKind::Td => {
                    let _ = TypedData::decode(ud, &limits);
                }
                SpduKind::Rs | SpduKind::Ra => {
                    let _ = Rs::decode(ud, &limits);
                }
                _ => match UserData::decode(ud, &limits) {
                    Ok(u) => user_data(Some(u)),
                    Err(e) => assert_eq!(e.layer(), Layer::Presentation),
                },
            }
        }
    }
    assert!(frames.consumed() <= data.len());
}

/// A structured SPDU value: it encodes, `encoded_len` is what it writes, and it decodes back to
/// itself at the position its kind needs (SI 1, 25 and 26 are GT/AB/AA first in a TSDU and
/// DT/AI/AIA after a category-0 SPDU), with nothing left over.
pub fn session_value(spdu: &osi_stack::session::Spdu<'_>) {
    use osi_stack::session::{Category, Position, Spdu};
    let mut out = Vec::new();
    spdu.encode(&mut out).unwrap();
    assert_eq!(out.len(), spdu.encoded_len());
    let position = if spdu.kind().category() == Category::Two {
        Position::Concatenated
    } else {
        Position::First
    };
    let (back, rest) = Spdu::decode_at(&out, position).unwrap();
    assert!(rest.is_empty(), "octets left after {spdu:?}");
    accessors_agree(&back);
    assert_eq!(back, *spdu, "value changed through encode/decode");
}

/// One presentation PPDU of any type, for [`presentation_value`].
#[derive(Debug)]
pub enum PresentationPdu<'a> {
    Cp(osi_stack::presentation::Cp<'a>),
    Cpa(osi_stack::presentation::Cpa<'a>),
    Cpr(osi_stack::presentation::Cpr<'a>),
    Abort(osi_stack::presentation::AbortPpdu<'a>),
    TypedData(osi_stack::presentation::TypedData<'a>),
    Rs(osi_stack::presentation::Rs<'a>),
    Rsa(osi_stack::presentation::Rsa<'a>),
    UserData(osi_stack::presentation::UserData<'a>),
}

/// Encodes `a` and `b`, which differ only in how their lists are held (decoded, or built with
/// `from_slice` from the same elements): the octets must be the same, and `b`'s `encoded_len`
/// must be what it writes. This checks the encoder's `Slice` path, which a round trip of
/// decoded lists does not reach.
macro_rules! same_encoding {
    ($a:expr, $b:expr) => {{
        let (mut x, mut y) = (Vec::new(), Vec::new());
        $a.encode(&mut x).unwrap();
        $b.encode(&mut y).unwrap();
        assert_eq!(y.len(), $b.encoded_len());
        assert_eq!(x, y, "a list built from a slice encodes differently");
    }};
}

/// When `$list` (an `Option` of a list) is present, rebuilds it with `from_slice` in a copy of
/// `$value` (through `$set`) and compares the encodings.
macro_rules! slice_variant {
    ($value:expr, $list:expr, $ty:ty, |$w:ident, $l:ident| $set:expr) => {{
        if let Some(list) = $list {
            let items: Vec<_> = list.iter().collect();
            let mut $w = $value;
            let $l = Some(<$ty>::from_slice(&items));
            $set;
            same_encoding!($value, $w);
        }
    }};
}

/// User data with a PDV list: the same PDVs from a slice encode the same.
fn user_data_slices(ud: Option<osi_stack::presentation::UserData<'_>>) {
    use osi_stack::presentation::{PdvList, UserData};
    if let Some(UserData::Full(l)) = ud {
        let pdvs: Vec<_> = l.iter().collect();
        same_encoding!(
            UserData::Full(l),
            UserData::Full(PdvList::from_slice(&pdvs))
        );
    }
}

/// A PPDU's lists rebuilt from slices (one at a time, nested transfer-syntax lists too) encode
/// the same as the decoded ones.
fn presentation_slices(ppdu: &PresentationPdu<'_>) {
    use osi_stack::presentation::{
        AbortPpdu, ContextDefinition, ContextIdList, ContextList, Cpr, DeletionList,
        DeletionResultList, OidList, ResultList, TypedData,
    };
    match *ppdu {
        PresentationPdu::Cp(v) => {
            if let Some(n) = v.normal {
                slice_variant!(v, n.context_definitions, ContextList, |w, l| w
                    .normal
                    .as_mut()
                    .unwrap()
                    .context_definitions =
                    l);
                if let Some(defs) = n.context_definitions {
                    // Each definition's transfer-syntax list from a slice, then the list too.
                    let syntaxes: Vec<Vec<_>> = defs
                        .iter()
                        .map(|d| d.transfer_syntaxes.iter().collect())
                        .collect();
                    let rebuilt: Vec<ContextDefinition<'_>> = defs
                        .iter()
                        .zip(&syntaxes)
                        .map(|(d, s)| ContextDefinition {
                            transfer_syntaxes: OidList::from_slice(s),
                            ..d
                        })
                        .collect();
                    let mut w = v;
                    w.normal.as_mut().unwrap().context_definitions =
                        Some(ContextList::from_slice(&rebuilt));
                    same_encoding!(v, w);
                }
                user_data_slices(n.user_data);
            }
        }
        PresentationPdu::Cpa(v) => {
            if let Some(n) = v.normal {
                slice_variant!(v, n.context_results, ResultList, |w, l| w
                    .normal
                    .as_mut()
                    .unwrap()
                    .context_results =
                    l);
                user_data_slices(n.user_data);
            }
        }
        PresentationPdu::Cpr(v) => {
            if let Cpr::Normal(n) = v {
                slice_variant!(
                    v,
                    n.context_results,
                    ResultList,
                    |w, l| if let Cpr::Normal(m) = &mut w {
                        m.context_results = l
                    }
                );
                user_data_slices(n.user_data);
            }
        }
        PresentationPdu::Abort(v) => {
            if let AbortPpdu::Aru(a) = v {
                slice_variant!(
                    v,
                    a.context_ids,
                    ContextIdList,
                    |w, l| if let AbortPpdu::Aru(m) = &mut w {
                        m.context_ids = l
                    }
                );
                user_data_slices(a.user_data);
            }
        }
        PresentationPdu::TypedData(v) => match v {
            TypedData::Ac(a) => {
                slice_variant!(
                    v,
                    a.additions,
                    ContextList,
                    |w, l| if let TypedData::Ac(m) = &mut w {
                        m.additions = l
                    }
                );
                slice_variant!(
                    v,
                    a.deletions,
                    DeletionList,
                    |w, l| if let TypedData::Ac(m) = &mut w {
                        m.deletions = l
                    }
                );
                user_data_slices(a.user_data);
            }
            TypedData::Aca(a) => {
                slice_variant!(
                    v,
                    a.addition_results,
                    ResultList,
                    |w, l| if let TypedData::Aca(m) = &mut w {
                        m.addition_results = l
                    }
                );
                slice_variant!(v, a.deletion_results, DeletionResultList, |w, l| {
                    if let TypedData::Aca(m) = &mut w {
                        m.deletion_results = l
                    }
                });
                user_data_slices(a.user_data);
            }
            TypedData::Ttd(u) => user_data_slices(Some(u)),
        },
        PresentationPdu::Rs(v) => {
            slice_variant!(v, v.context_ids, ContextIdList, |w, l| w.context_ids = l);
            user_data_slices(v.user_data);
        }
        PresentationPdu::Rsa(v) => {
            slice_variant!(v, v.context_ids, ContextIdList, |w, l| w.context_ids = l);
            user_data_slices(v.user_data);
        }
        PresentationPdu::UserData(u) => user_data_slices(Some(u)),
    }
}

/// A structured PPDU value: it encodes, `encoded_len` is what it writes, and its type's decoder
/// (default `Limits`) gives back an equal value (lists compare by elements).
pub fn presentation_value(ppdu: &PresentationPdu<'_>) {
    use osi_stack::presentation::{AbortPpdu, Cp, Cpa, Cpr, Rs, Rsa, TypedData, UserData};
    let limits = Limits::default();
    match *ppdu {
        PresentationPdu::Cp(v) => ber_round_trip!(v, |b| {
            let (cp, rest) = Cp::decode(b, &limits)?;
            assert!(rest.is_empty());
            Ok::<_, osi_stack::DecodeError>(cp)
        }),
        PresentationPdu::Cpa(v) => ber_round_trip!(v, |b| Cpa::decode(b, &limits)),
        PresentationPdu::Cpr(v) => ber_round_trip!(v, |b| Cpr::decode(b, &limits)),
        PresentationPdu::Abort(v) => ber_round_trip!(v, |b| AbortPpdu::decode(b, &limits)),
        PresentationPdu::TypedData(v) => ber_round_trip!(v, |b| TypedData::decode(b, &limits)),
        PresentationPdu::Rs(v) => ber_round_trip!(v, |b| Rs::decode(b, &limits)),
        PresentationPdu::Rsa(v) => ber_round_trip!(v, |b| Rsa::decode(b, &limits)),
        PresentationPdu::UserData(v) => ber_round_trip!(v, |b| UserData::decode(b, &limits)),
    }
    presentation_slices(ppdu);
}

/// A structured ACSE APDU value: it encodes, `encoded_len` is what it writes, and it decodes
/// (default `Limits`) back to an equal value.
pub fn acse_value(apdu: &osi_stack::acse::Apdu<'_>) {
    let limits = Limits::default();
    ber_round_trip!(*apdu, |b| osi_stack::acse::Apdu::decode(b, &limits));
    // The lists again, built from slices: the same encoding.
    use osi_stack::acse::{Apdu, ExternalList};
    use osi_stack::presentation::OidList;
    let v = *apdu;
    match v {
        Apdu::Aarq(a) => {
            slice_variant!(
                v,
                a.user_information,
                ExternalList,
                |w, l| if let Apdu::Aarq(m) = &mut w {
                    m.user_information = l
                }
            );
            slice_variant!(
                v,
                a.application_context_name_list,
                OidList,
                |w, l| if let Apdu::Aarq(m) = &mut w {
                    m.application_context_name_list = l
                }
            );
        }
        Apdu::Aare(a) => {
            slice_variant!(
                v,
                a.user_information,
                ExternalList,
                |w, l| if let Apdu::Aare(m) = &mut w {
                    m.user_information = l
                }
            );
            slice_variant!(
                v,
                a.application_context_name_list,
                OidList,
                |w, l| if let Apdu::Aare(m) = &mut w {
                    m.application_context_name_list = l
                }
            );
        }
        Apdu::Rlrq(a) => {
            slice_variant!(
                v,
                a.user_information,
                ExternalList,
                |w, l| if let Apdu::Rlrq(m) = &mut w {
                    m.user_information = l
                }
            );
        }
        Apdu::Rlre(a) => {
            slice_variant!(
                v,
                a.user_information,
                ExternalList,
                |w, l| if let Apdu::Rlre(m) = &mut w {
                    m.user_information = l
                }
            );
        }
        Apdu::Abrt(a) => {
            slice_variant!(
                v,
                a.user_information,
                ExternalList,
                |w, l| if let Apdu::Abrt(m) = &mut w {
                    m.user_information = l
                }
            );
        }
    }
}

/// A structured RTSE APDU value: it encodes, `encoded_len` is what it writes, and it decodes
/// (default `Limits`) back to an equal value; RTORQ, RTOAC, RTORJ and RTAB also round-trip as
/// X.410-mode components (the contents of the PPDU's SET).
pub fn rtse_value(apdu: &osi_stack::rtse::Apdu<'_>) {
    use osi_stack::rtse::{Apdu, Rtab, Rtoac, Rtorj, Rtorq};
    let limits = Limits::default();
    ber_round_trip!(*apdu, |b| Apdu::decode(b, &limits));
    match *apdu {
        Apdu::Rtorq(v) => components_round_trip!(v, Rtorq, &limits),
        Apdu::Rtoac(v) => components_round_trip!(v, Rtoac, &limits),
        Apdu::Rtorj(v) => components_round_trip!(v, Rtorj, &limits),
        Apdu::Rtab(v) => components_round_trip!(v, Rtab, &limits),
        Apdu::Rttp(_) | Apdu::Rttr(_) => {}
    }
}

/// The passive dissector (`osi_stack::dissect::Stream`): the input (after a first control
/// octet) is cut at each `ff fe` into pieces given alternately to the client and the server
/// direction; no panic, and the records do not depend on how each piece is split further.
pub fn dissect(data: &[u8]) {
    use osi_stack::dissect::{Direction, Record, RecordKind, Stream};

    fn summary(r: &Record<'_>) -> String {
        let what = match &r.kind {
            RecordKind::Frame(f) => format!(
                "{:?} {:?} {:?}",
                f.tpdu().map(|t| t.kind()),
                f.tsdu.as_ref().map(|t| (t.octets.len(), t.segments)),
                f.upper().map(|u| (
                    u.session.iter().map(|s| s.kind()).collect::<Vec<_>>(),
                    u.presentation.as_ref().map(|p| p.name()),
                    u.acse.is_some(),
                    u.rtse.as_ref().map(|a| a.name())
                )),
            ),
            other => format!("{other:?}"),
        };
        format!("{:?} {} {what} {:?}", r.direction, r.offset, r.error())
    }

    fn run(pieces: &[(Direction, &[u8])], split: Option<u8>) -> Vec<String> {
        let mut out = Vec::new();
        let mut stream = Stream::new();
        let mut f = |r: Record<'_>| out.push(summary(&r));
        for (dir, piece) in pieces {
            match split {
                Some(k) => {
                    let cut = piece.len() * usize::from(k) / 255;
                    stream.push(*dir, &piece[..cut], &mut f);
                    stream.push(*dir, &piece[cut..], &mut f);
                }
                None => stream.push(*dir, piece, &mut f),
            }
        }
        stream.finish(Direction::Client, &mut f);
        stream.finish(Direction::Server, &mut f);
        out
    }

    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    // Pieces are separated by 0xff 0xfe (not part of either piece).
    let mut pieces = Vec::new();
    let mut start = 0;
    for i in 1..rest.len() {
        if rest[i - 1] == 0xff && rest[i] == 0xfe {
            pieces.push(&rest[start..i - 1]);
            start = i + 1;
        }
    }
    pieces.push(&rest[start..]);
    let pieces: Vec<(Direction, &[u8])> = pieces
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let dir = if i % 2 == 0 {
                Direction::Client
            } else {
                Direction::Server
            };
            (dir, p)
        })
        .collect();
    let whole = run(&pieces, None);
    assert_eq!(run(&pieces, Some(k)), whole);
}
