//! Session layer (X.225 §8.4): segmenting an SSDU of any SPDU kind that carries an Enclosure
//! Item when a TSDU maximum size was negotiated, and reassembling it under `Limits`.
//!
//! Every round trip goes encode (`segment_ssdu`) → decode each TSDU with `session::spdus()` →
//! `SsduReassembler`, and checks the SS-user data byte for byte, the first SPDU's kind and
//! other parameters, and that each TSDU fits the maximum size.

use osi_stack::session::{
    Category, ConnectData, EnclosureItem, ParameterCode, Parameters, ParametersBuf, SessionVersion,
    Spdu, SpduKind, Ssdu, SsduReassembler, SsduTsdu, data_segments, segment_ssdu, segmentable,
    spdus,
};
use osi_stack::{DecodeError, DecodeErrorKind, EncodeErrorKind, Layer, Limits};
use proptest::prelude::*;

/// Parses hex (spaces allowed).
fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every kind [`segmentable`] accepts.
fn segmentable_kinds() -> Vec<SpduKind> {
    SpduKind::ALL
        .into_iter()
        .filter(|k| segmentable(*k))
        .collect()
}

/// Plausible other parameters for the first SPDU of `kind` (X.225 §8.3, spec digest §6), in
/// increasing code order, so that PI 25 lands before, between and after them.
fn params_for(kind: SpduKind) -> ParametersBuf {
    use ParameterCode as C;
    let mut p = ParametersBuf::new();
    match kind {
        SpduKind::Ac => {
            let mut cai = ParametersBuf::new();
            cai.u8(C::PROTOCOL_OPTIONS, 0)
                .unwrap()
                .u8(C::VERSION_NUMBER, 2)
                .unwrap();
            p.group(C::CONNECT_ACCEPT_ITEM, &cai)
                .unwrap()
                .u16(C::SESSION_USER_REQUIREMENTS, 2)
                .unwrap()
                .unit(C::RESPONDING_SESSION_SELECTOR, &[0, 1])
                .unwrap();
        }
        SpduKind::Fn => {
            p.u8(C::TRANSPORT_DISCONNECT, 1).unwrap();
        }
        SpduKind::Ab => {
            p.u8(C::TRANSPORT_DISCONNECT, 0x03).unwrap();
        }
        SpduKind::Gt | SpduKind::Pt => {
            p.u8(C::TOKEN_ITEM, 0x01).unwrap();
        }
        SpduKind::Mip | SpduKind::Map => {
            p.u8(C::SYNC_TYPE_ITEM, 1)
                .unwrap()
                .unit(C::SERIAL_NUMBER, b"12")
                .unwrap();
        }
        SpduKind::Mia | SpduKind::MaaOrAea | SpduKind::Ae => {
            p.unit(C::SERIAL_NUMBER, b"12").unwrap();
        }
        SpduKind::Rs => {
            p.u8(C::TOKEN_SETTING_ITEM, 0)
                .unwrap()
                .u8(C::RESYNC_TYPE, 0)
                .unwrap()
                .unit(C::SERIAL_NUMBER, b"3")
                .unwrap();
        }
        SpduKind::Ra => {
            p.u8(C::TOKEN_SETTING_ITEM, 0)
                .unwrap()
                .unit(C::SERIAL_NUMBER, b"3")
                .unwrap();
        }
        SpduKind::Ed | SpduKind::Ai | SpduKind::Ad => {
            p.u8(C::REASON_CODE, 1).unwrap();
        }
        SpduKind::As => {
            p.unit(C::ACTIVITY_IDENTIFIER, b"a1").unwrap();
        }
        SpduKind::Ar => {
            let mut link = ParametersBuf::new();
            link.unit(C::ACTIVITY_IDENTIFIER, b"a0")
                .unwrap()
                .unit(C::SERIAL_NUMBER, b"7")
                .unwrap();
            p.group(C::LINKING_INFORMATION, &link)
                .unwrap()
                .unit(C::ACTIVITY_IDENTIFIER, b"a1")
                .unwrap();
        }
        _ => {}
    }
    p
}

/// Deterministic filler data.
fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as u8)
        .collect()
}

/// The smallest TSDU maximum size `segment_ssdu` accepts for `kind` with `params`, read from
/// the error one octet below is expected to give.
fn min_size(kind: SpduKind, params: Parameters<'_>) -> usize {
    let e = segment_ssdu(kind, params, b"x", 1).unwrap_err();
    match *e.kind() {
        EncodeErrorKind::ValueTooSmall { value: 1, min, .. } => min,
        ref k => panic!("{kind}: {k:?}"),
    }
}

/// The SPDU of a TSDU that carries the SSDU's piece: the only one, or the category-2 SPDU after
/// an empty GT or PT.
fn carried<'t>(kind: SpduKind, tsdu: &'t [u8]) -> Spdu<'t> {
    let v: Vec<Spdu<'t>> = spdus(tsdu)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{kind}: {e} in {tsdu:02x?}"));
    match v.as_slice() {
        [one] => *one,
        [lead, two] => {
            assert!(
                matches!(lead.kind(), SpduKind::Gt | SpduKind::Pt),
                "{kind}: {lead:?}"
            );
            assert!(lead.parameters().is_empty());
            *two
        }
        _ => panic!("{kind}: {} spdus", v.len()),
    }
}

/// Encodes, checks sizes and the segment structure, decodes, reassembles; returns the TSDUs.
fn round_trip(
    kind: SpduKind,
    params: Parameters<'_>,
    ssdu: &[u8],
    max: usize,
    limits: &Limits,
) -> Vec<Vec<u8>> {
    let tsdus: Vec<SsduTsdu<'_>> = segment_ssdu(kind, params, ssdu, max)
        .unwrap_or_else(|e| panic!("{kind} {} octets, max {max}: {e}", ssdu.len()))
        .collect();
    assert!(!tsdus.is_empty());
    let octets: Vec<Vec<u8>> = tsdus.iter().map(|t| t.to_vec().unwrap()).collect();
    let mut r = SsduReassembler::new(limits);
    let mut out: Option<Ssdu<'static>> = None;
    let n = octets.len();
    for (i, (t, bytes)) in tsdus.iter().zip(&octets).enumerate() {
        assert_eq!(bytes.len(), t.encoded_len());
        if max != 0 {
            assert!(
                bytes.len() <= max,
                "{kind}: tsdu of {} > {max}",
                bytes.len()
            );
        }
        let spdu = carried(kind, bytes);
        // MAP's subsequent SPDUs have no Sync Type Item: SI 41 then reads as AE.
        if i == 0 || kind != SpduKind::Map {
            assert_eq!(spdu.kind(), kind);
        } else {
            assert_eq!(spdu.kind(), SpduKind::Ae);
        }
        if max == 0 {
            assert!(kind.has_user_information() || spdu.encoded_len() <= 65_539);
            assert_eq!(spdu.enclosure_item(), None);
        } else {
            assert!(spdu.encoded_len() <= 65_539, "{kind}: spdu over 65 539");
            let mut e = EnclosureItem::MIDDLE;
            if i == 0 {
                e = e.with(EnclosureItem::BEGINNING);
            }
            if i + 1 == n {
                e = e.with(EnclosureItem::END);
            }
            assert_eq!(spdu.enclosure_item(), Some(e), "{kind} segment {i}");
            if i > 0 {
                let codes: Vec<u8> = spdu.parameters().iter().map(|u| u.code().0).collect();
                let expected: &[u8] = match (kind.has_user_information(), t.data().is_empty()) {
                    (true, _) | (false, true) => &[0x19],
                    (false, false) => &[0x19, 0xc1],
                };
                assert_eq!(codes, expected, "{kind} segment {i}");
            }
        }
        assert_eq!(spdu.ss_user_data(), t.data());
        let got = r
            .push(&spdu)
            .unwrap_or_else(|e| panic!("{kind} segment {i}: {e}"));
        assert_eq!(got.is_some(), i + 1 == n, "{kind} segment {i}");
        if let Some(s) = got {
            out = Some(s.into_owned());
        }
    }
    let s = out.unwrap();
    assert_eq!(s.kind(), kind);
    assert_eq!(s.data(), ssdu, "{kind}");
    assert_eq!(s.parameters().as_bytes(), params.as_bytes(), "{kind}");
    assert!(r.is_idle());
    octets
}

/// The TSDUs `segment_ssdu` gives, encoded.
fn encoded(kind: SpduKind, params: Parameters<'_>, ssdu: &[u8], max: usize) -> Vec<Vec<u8>> {
    segment_ssdu(kind, params, ssdu, max)
        .unwrap()
        .map(|t| t.to_vec().unwrap())
        .collect()
}

/// The sizes of the first and of the subsequent pieces for `kind` at `max`.
fn chunks(kind: SpduKind, params: Parameters<'_>, max: usize) -> (usize, usize) {
    let big = vec![0u8; 300_000];
    let mut it = segment_ssdu(kind, params, &big, max).unwrap();
    let first = it.next().unwrap().data().len();
    let next = it.next().unwrap().data().len();
    (first, next)
}

#[test]
fn segmentable_kinds_are_those_with_an_enclosure_item() {
    let kinds: Vec<&str> = segmentable_kinds()
        .iter()
        .map(|k| k.abbreviation())
        .collect();
    assert_eq!(
        kinds,
        [
            "AC", "FN", "DN", "NF", "AB", "DT", "GT", "PT", "TD", "GTC", "CD", "CDA", "RS", "RA",
            "AS", "AR", "AD", "ADA", "AI", "AIA", "AE", "MAP", "MAA/AEA", "MIP", "MIA", "ED"
        ]
    );
}

/// Every segmentable kind, SSDU sizes at the boundaries of the piece sizes, TSDU maximum sizes
/// from the smallest that works to above 65 539.
#[test]
fn every_kind_round_trips_at_the_boundaries() {
    let limits = Limits::default();
    for kind in segmentable_kinds() {
        let p = params_for(kind);
        let params = p.as_parameters().unwrap();
        let min = min_size(kind, params);
        for max in [
            min,
            min + 1,
            min + 7,
            255,
            261,
            1_000,
            65_535,
            65_539,
            65_541,
            100_000,
        ] {
            let max = max.max(min);
            let (c1, c2) = chunks(kind, params, max);
            assert!(c1 >= 1 && c2 >= c1, "{kind} at {max}: {c1} {c2}");
            let mut sizes = vec![0, 1, c1 - 1, c1, c1 + 1, c1 + c2 - 1, c1 + c2, c1 + c2 + 1];
            sizes.push(c1 + 2 * c2 + 3);
            if max >= 1_000 {
                sizes.push(200_000);
            }
            for (seed, len) in sizes.into_iter().enumerate() {
                let ssdu = data(len, seed as u32);
                let tsdus = round_trip(kind, params, &ssdu, max, &limits);
                let expected = if len <= c1 {
                    1
                } else {
                    1 + (len - c1).div_ceil(c2)
                };
                assert_eq!(tsdus.len(), expected, "{kind} {len} octets at {max}");
                // Each TSDU but the last is full: one more octet of data would not fit (it
                // can cost up to 5 octets where a length indicator grows to three octets).
                let lead = if kind.category() == Category::Two {
                    2
                } else {
                    0
                };
                let budget = max.min(lead + 65_539);
                for t in &tsdus[..tsdus.len() - 1] {
                    assert!(t.len() + 4 >= budget, "{kind} at {max}: {}", t.len());
                }
            }
        }
        // Without a negotiated size: one SPDU, no Enclosure Item.
        round_trip(kind, params, &data(1_000, 9), 0, &limits);
    }
}

/// No TSDU maximum size: one SPDU without PI 25 while it fits in 65 539 octets (DT and TD: any
/// length, their user information field is outside the LI).
#[test]
fn unsegmented_ssdu_is_bounded_by_the_spdu_size() {
    let limits = Limits::default();
    let big = data(200_000, 1);
    for kind in [SpduKind::Dt, SpduKind::Td] {
        let t = round_trip(kind, Parameters::EMPTY, &big, 0, &limits);
        assert_eq!(t.len(), 1);
    }
    let p = params_for(SpduKind::Fn);
    let params = p.as_parameters().unwrap();
    // 3 (PI 17) + 4 (PGI 193 header) + 65 528 = 65 535: the largest that fits.
    round_trip(SpduKind::Fn, params, &big[..65_528], 0, &limits);
    let e = segment_ssdu(SpduKind::Fn, params, &big[..65_529], 0).unwrap_err();
    assert_eq!(e.layer(), Layer::Session);
    assert!(matches!(
        e.kind(),
        EncodeErrorKind::ValueTooLarge {
            value: 65_536,
            max: 65_535,
            ..
        }
    ));
}

#[test]
fn refusals() {
    // Kinds without an Enclosure Item, and CDO and RF (their own paths).
    for kind in SpduKind::ALL.into_iter().filter(|k| !segmentable(*k)) {
        let e = segment_ssdu(kind, Parameters::EMPTY, b"x", 100).unwrap_err();
        assert_eq!(e.layer(), Layer::Session);
        assert!(
            matches!(e.kind(), EncodeErrorKind::InvalidValue { value, .. } if *value == u64::from(kind.si().0)),
            "{kind}: {e}"
        );
    }
    assert_eq!(
        SpduKind::ALL
            .into_iter()
            .filter(|k| !segmentable(*k))
            .map(|k| k.abbreviation())
            .collect::<Vec<_>>(),
        ["CN", "OA", "CDO", "RF", "AA", "EX", "PR", "GTA", "ER"]
    );
    let cn = segment_ssdu(SpduKind::Cn, Parameters::EMPTY, b"x", 100).unwrap_err();
    assert!(cn.to_string().contains("ConnectData"), "{cn}");
    // Parameters the segmenter writes itself.
    for code in [0x19u8, 0xc1, 0xc2] {
        let mut p = ParametersBuf::new();
        p.u8(ParameterCode::TRANSPORT_DISCONNECT, 1)
            .unwrap()
            .unit(ParameterCode(code), b"\x01")
            .unwrap();
        let e = segment_ssdu(SpduKind::Fn, p.as_parameters().unwrap(), b"x", 100).unwrap_err();
        assert!(
            matches!(e.kind(), EncodeErrorKind::InvalidValue { value, .. } if *value == u64::from(code)),
            "{e}"
        );
    }
    // Too small for the first SPDU's parameters, PI 25 and one octet: FN with PI 17 needs
    // 1 + 1 + 3 + 3 + 2 + 1 = 11.
    let p = params_for(SpduKind::Fn);
    let params = p.as_parameters().unwrap();
    let e = segment_ssdu(SpduKind::Fn, params, b"", 10).unwrap_err();
    assert!(matches!(
        e.kind(),
        EncodeErrorKind::ValueTooSmall {
            value: 10,
            min: 11,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "session: tsdu maximum size (the first spdu's parameters, an enclosure item and one \
         octet of data) of 10 is below the minimum 11"
    );
    assert!(segment_ssdu(SpduKind::Fn, params, b"", 11).is_ok());
    // A GT+DT needs 8 (as data_segments always said); an AS with PI 41 "a1" behind a GT 14.
    assert_eq!(min_size(SpduKind::Dt, Parameters::EMPTY), 8);
    let p = params_for(SpduKind::As);
    assert_eq!(min_size(SpduKind::As, p.as_parameters().unwrap()), 14);
    // Parameters so long that no SPDU can hold them with PI 25 and one octet.
    let mut p = ParametersBuf::new();
    p.unit(ParameterCode(0x70), &[0; 65_528]).unwrap();
    let e = segment_ssdu(SpduKind::Dn, p.as_parameters().unwrap(), b"x", 100_000).unwrap_err();
    assert!(matches!(
        e.kind(),
        EncodeErrorKind::ValueTooLarge { max: 65_535, .. }
    ));
    // A short buffer is an error, not a panic, and nothing is written.
    let t = segment_ssdu(SpduKind::Dn, Parameters::EMPTY, b"abc", 100)
        .unwrap()
        .next()
        .unwrap();
    let mut small = [0u8; 5];
    let mut buf = &mut small[..];
    assert!(matches!(
        t.encode(&mut buf).unwrap_err().kind(),
        EncodeErrorKind::BufferTooSmall {
            needed: 10,
            remaining: 5
        }
    ));
    assert_eq!(small, [0; 5]);
}

/// `data_segments` is the DT case: same pieces, same octets.
#[test]
fn data_segments_is_the_dt_case() {
    let ssdu = data(5_000, 3);
    for max in [8, 9, 100, 262, 65_535, 70_000] {
        let a: Vec<Vec<u8>> = data_segments(&ssdu, max)
            .unwrap()
            .map(|s| {
                let mut v = Vec::new();
                s.encode_data_tsdu(&mut v).unwrap();
                assert_eq!(v.len(), s.data_tsdu_len());
                v
            })
            .collect();
        let b: Vec<Vec<u8>> = encoded(SpduKind::Dt, Parameters::EMPTY, &ssdu, max);
        assert_eq!(a, b, "max {max}");
    }
    assert!(data_segments(b"x", 7).is_err());
}

/// Units of unknown codes keep their place relative to PI 25 and PGI 193 (increasing codes).
#[test]
fn enclosure_item_and_user_data_placed_by_code() {
    let mut p = ParametersBuf::new();
    p.u8(ParameterCode::TRANSPORT_DISCONNECT, 1)
        .unwrap()
        .unit(ParameterCode(0x30), b"m")
        .unwrap()
        .unit(ParameterCode(0xd0), b"z")
        .unwrap();
    let params = p.as_parameters().unwrap();
    let t: Vec<Vec<u8>> = encoded(SpduKind::Fn, params, b"data", 100);
    assert_eq!(
        t,
        [hex(
            "09 12 11 01 01 19 01 03 30 01 6d c1 04 64 61 74 61 d0 01 7a"
        )]
    );
    round_trip(SpduKind::Fn, params, b"data", 20, &Limits::default());
}

// ---- hand-written vectors -------------------------------------------------------------------
//
// Constructed from the spec (session.md §3, §4, §6, §8.4), not captured. Checked once by hand
// with tshark, TShark (Wireshark) 4.0.17: each TSDU in its own COTP DT in TPKT over TCP port
// 102, one connection per vector after CR/CC (a throw-away pcap; tshark is not run by tests).
// What tshark showed:
// - FN_16: FINISH (FN) SPDU, Length 14: Transport_Disconnect 0x01 (released), Enclosure Item
//   0x01 (beginning of SSDU), Session user data 6; then FN, Length 11: Enclosure Item 0x02
//   (end of SSDU), Session user data 6.
// - MIP_20: Give tokens PDU, Length 0, then MINOR SYNC POINT (MIP) SPDU, Length 16: Sync Type
//   Item, Enclosure Item 0x01, Serial Number 1, Session user data 5; then GT + MIP, Length 8:
//   Enclosure Item 0x02, Session user data 3.
// - MIA_14: Please tokens PDU, Length 0, then MINOR SYNC ACK (MIA) SPDU, Length 10: Enclosure
//   Item 0x01, Serial Number 1, Session user data 2; then PT + MIA, Length 7: Enclosure Item
//   0x02, Session user data 2.
// - DN_EMPTY: DISCONNECT (DN) SPDU, Length 3: Enclosure Item 0x03 (end and beginning of SSDU).
// - DT_10: Give tokens PDU + DATA TRANSFER (DT) SPDU, Length 3, Enclosure Item 0x01, "SES
//   segment data (3 bytes)"; then GT + DT, Enclosure Item 0x02, 2 bytes; "[2 SES segments
//   (5 bytes): #33(3), #34(2)]".
// No expert item from the session dissector. The only ones came from the presentation dissector
// reading the SS-user data ("abc…" is not a PPDU). tshark 4.0 joins the octets after an SPDU's
// parameter field (the user information field of DT), so for the FN, MIP and MIA segments it
// shows "SES segment data (0 bytes)": it does not reassemble PGI 193 contents.

/// FN with Transport Disconnect = 1 (PI 17) and 12 octets of user data, TSDU maximum size 16.
/// First: SI 09, LI 14, PI 17, PI 25 = 01 (beginning), PGI 193 with 6 octets (16 in all).
/// Last: SI 09, LI 11, PI 25 = 02 (end), PGI 193 with the other 6 (13).
const FN_16: [&str; 2] = [
    "09 0e 11 01 01 19 01 01 c1 06 61 62 63 64 65 66",
    "09 0b 19 01 02 c1 06 67 68 69 6a 6b 6c",
];

/// MIP (category 2, behind an empty GT) with Sync Type Item 1 (PI 15) and serial number "1"
/// (PI 42), 8 octets of user data, TSDU maximum size 20: PI 25 sits between PI 15 and PI 42.
/// First: GT, MIP LI 16, PI 15, PI 25 = 01, PI 42, PGI 193 with 5 octets (20 in all).
/// Last: GT, MIP LI 8, PI 25 = 02, PGI 193 with 3 octets (12).
const MIP_20: [&str; 2] = [
    "01 00 31 10 0f 01 01 19 01 01 2a 01 31 c1 05 41 42 43 44 45",
    "01 00 31 08 19 01 02 c1 03 46 47 48",
];

/// MIA (category 2, behind an empty PT, X.225 Table 7) with serial number "1", 4 octets of user
/// data, TSDU maximum size 14.
const MIA_14: [&str; 2] = [
    "02 00 32 0a 19 01 01 2a 01 31 c1 02 77 78",
    "02 00 32 07 19 01 02 c1 02 79 7a",
];

/// An empty DN SSDU with a TSDU maximum size: one DN with Enclosure Item 03 and no PGI 193.
const DN_EMPTY: [&str; 1] = ["0a 03 19 01 03"];

/// DT with 5 octets, TSDU maximum size 10 (the `data_segments` example): GT + DT with PI 25.
const DT_10: [&str; 2] = [
    "01 00 01 03 19 01 01 61 62 63",
    "01 00 01 03 19 01 02 64 65",
];

fn check_vector(
    kind: SpduKind,
    params: &ParametersBuf,
    ssdu: &[u8],
    max: usize,
    expected: &[&str],
) {
    let expected: Vec<Vec<u8>> = expected.iter().map(|s| hex(s)).collect();
    let got = round_trip(
        kind,
        params.as_parameters().unwrap(),
        ssdu,
        max,
        &Limits::default(),
    );
    assert_eq!(got, expected, "{kind}");
}

#[test]
fn hand_vectors() {
    use ParameterCode as C;
    let mut p = ParametersBuf::new();
    p.u8(C::TRANSPORT_DISCONNECT, 1).unwrap();
    check_vector(SpduKind::Fn, &p, b"abcdefghijkl", 16, &FN_16);
    let mut p = ParametersBuf::new();
    p.u8(C::SYNC_TYPE_ITEM, 1)
        .unwrap()
        .unit(C::SERIAL_NUMBER, b"1")
        .unwrap();
    check_vector(SpduKind::Mip, &p, b"ABCDEFGH", 20, &MIP_20);
    let mut p = ParametersBuf::new();
    p.unit(C::SERIAL_NUMBER, b"1").unwrap();
    check_vector(SpduKind::Mia, &p, b"wxyz", 14, &MIA_14);
    check_vector(SpduKind::Dn, &ParametersBuf::new(), b"", 100, &DN_EMPTY);
    check_vector(SpduKind::Dt, &ParametersBuf::new(), b"abcde", 10, &DT_10);
}

// ---- reassembly: what a peer may get wrong ---------------------------------------------------

/// Pushes the SPDU carried by each TSDU (hex); returns the last result.
fn push_all<'t>(
    r: &mut SsduReassembler,
    tsdus: &'t [Vec<u8>],
) -> Result<Option<Ssdu<'t>>, DecodeError> {
    let mut last = Ok(None);
    for t in tsdus {
        let spdu = *spdus(t)
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .last()
            .unwrap();
        last = r.push(&spdu);
        if last.is_err() {
            break;
        }
    }
    last
}

fn tsdus(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|s| hex(s)).collect()
}

/// Pushes `bad` (all must decode), expects an error at `offset` matching `what`, and checks the
/// reassembler is idle and works again.
fn expect_error(bad: &[&str], offset: usize, what: impl Fn(&DecodeErrorKind) -> bool) {
    let mut r = SsduReassembler::new(&Limits::default());
    let t = tsdus(bad);
    let e = push_all(&mut r, &t).unwrap_err();
    assert_eq!(e.layer(), Layer::Session);
    assert_eq!(e.offset(), offset, "{e}");
    assert!(what(e.kind()), "{e}");
    assert!(r.is_idle());
    assert_eq!(r.buffered(), 0);
    let good = tsdus(&FN_16);
    let s = push_all(&mut r, &good).unwrap().unwrap();
    assert_eq!(s.data(), b"abcdefghijkl");
}

#[test]
fn kind_change_midway() {
    // FN begins, a DN continues.
    expect_error(
        &[FN_16[0], "0a 0b 19 01 02 c1 06 67 68 69 6a 6b 6c"],
        0,
        |k| matches!(k, DecodeErrorKind::UnexpectedCode { code: 0x0a, .. }),
    );
    // A DT begins, an AS (behind a GT) continues.
    expect_error(&[DT_10[0], "01 00 2d 06 19 01 02 c1 01 61"], 0, |k| {
        matches!(k, DecodeErrorKind::UnexpectedCode { code: 0x2d, .. })
    });
}

#[test]
fn extra_parameter_in_a_subsequent_segment() {
    // The last FN repeats PI 17.
    expect_error(
        &[FN_16[0], "09 0e 11 01 01 19 01 02 c1 06 67 68 69 6a 6b 6c"],
        2,
        |k| {
            matches!(
                k,
                DecodeErrorKind::ForbiddenParameter {
                    pdu: "FN",
                    code: 0x11
                }
            )
        },
    );
    // The last MIP repeats its serial number after PI 25 (offset 5 in the MIP).
    expect_error(
        &[MIP_20[0], "01 00 31 0b 19 01 02 2a 01 31 c1 03 46 47 48"],
        5,
        |k| matches!(k, DecodeErrorKind::ForbiddenParameter { code: 0x2a, .. }),
    );
    // A subsequent DT carries its data in the user information field, never in PGI 193.
    expect_error(&[DT_10[0], "01 00 01 06 19 01 02 c1 01 64 65"], 5, |k| {
        matches!(
            k,
            DecodeErrorKind::ForbiddenParameter {
                pdu: "DT",
                code: 0xc1
            }
        )
    });
    // Error offsets follow a three-octet LI.
    expect_error(
        &[FN_16[0], "09 ff 00 0b 19 01 02 11 01 01 c1 03 67 68 69"],
        7,
        |k| matches!(k, DecodeErrorKind::ForbiddenParameter { code: 0x11, .. }),
    );
    // An empty unit (LI 0) is an absent parameter, not an extra one.
    let mut r = SsduReassembler::new(&Limits::default());
    let t = tsdus(&[FN_16[0], "09 0d 11 00 19 01 02 c1 06 67 68 69 6a 6b 6c"]);
    let s = push_all(&mut r, &t).unwrap().unwrap();
    assert_eq!(s.data(), b"abcdefghijkl");
}

#[test]
fn missing_enclosure_item_in_a_subsequent_segment() {
    expect_error(&[FN_16[0], "09 08 c1 06 67 68 69 6a 6b 6c"], 2, |k| {
        matches!(k, DecodeErrorKind::Missing { .. })
    });
}

#[test]
fn segment_without_beginning_and_beginning_twice() {
    // An end with nothing begun: at the Enclosure Item.
    expect_error(&[FN_16[1]], 2, |k| {
        matches!(k, DecodeErrorKind::BadSequence { .. })
    });
    // A middle MIP with nothing begun: the Enclosure Item is at offset 2 of the MIP.
    expect_error(&["01 00 31 08 19 01 00 c1 03 46 47 48"], 2, |k| {
        matches!(k, DecodeErrorKind::BadSequence { .. })
    });
    // Two beginnings: the second FN's PI 25 is at offset 5 (after PI 17).
    expect_error(&[FN_16[0], FN_16[0]], 5, |k| {
        matches!(k, DecodeErrorKind::BadSequence { .. })
    });
    // A CDO with no CN announcing data overflow.
    expect_error(&["0f 06 19 01 02 c1 01 61"], 0, |k| {
        matches!(k, DecodeErrorKind::BadSequence { .. })
    });
    // A kind without Enclosure Item that claims a beginning (CN with PI 25 = 01).
    expect_error(&["0d 05 19 01 01 c1 00"], 2, |k| {
        matches!(
            k,
            DecodeErrorKind::ForbiddenParameter {
                pdu: "CN",
                code: 0x19
            }
        )
    });
}

#[test]
fn over_limits() {
    let big = data(3_000, 5);
    let p = params_for(SpduKind::Fn);
    let t: Vec<Vec<u8>> = encoded(SpduKind::Fn, p.as_parameters().unwrap(), &big, 1_000);
    assert_eq!(t.len(), 4);
    // max_ssdu: the third FN would pass 2 500 octets; the error names its PGI 193 (offset 7,
    // after a three-octet LI and PI 25).
    let mut r = SsduReassembler::new(&Limits::default().with_max_ssdu(2_500));
    let e = push_all(&mut r, &t).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LimitExceeded {
            limit: "max_ssdu",
            max: 2_500
        }
    ));
    assert_eq!(e.offset(), 7);
    assert!(r.is_idle());
    assert_eq!(r.buffered(), 0);
    // max_segments.
    let mut r = SsduReassembler::new(&Limits::default().with_max_segments(3));
    let e = push_all(&mut r, &t).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LimitExceeded {
            limit: "max_segments",
            max: 3
        }
    ));
    assert!(r.is_idle());
    // A whole SSDU over max_ssdu (PGI 193 at offset 7 of the FN, after PI 17).
    let w: Vec<Vec<u8>> = encoded(SpduKind::Fn, p.as_parameters().unwrap(), &big, 0);
    let mut r = SsduReassembler::new(&Limits::default().with_max_ssdu(2_999));
    let e = push_all(&mut r, &w).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::LimitExceeded { .. }));
    assert_eq!(e.offset(), 7);
    // Within the limits all is well, and a whole SSDU comes back borrowed.
    let mut r = SsduReassembler::new(&Limits::default().with_max_ssdu(3_000));
    assert_eq!(push_all(&mut r, &t).unwrap().unwrap().data(), &big[..]);
    let s = push_all(&mut r, &w).unwrap().unwrap();
    assert!(matches!(s.into_data(), std::borrow::Cow::Borrowed(_)));
}

/// The connect overflow path: CN (PGI 194 + Data Overflow) then CDO segments, reassembled with
/// the CN's other parameters.
#[test]
fn connect_with_cdo_overflow() {
    let big = data(10_240 + 70_000, 11);
    let cd = ConnectData::new(SessionVersion::V2, &big).unwrap();
    let mut cai = ParametersBuf::new();
    cai.u8(ParameterCode::PROTOCOL_OPTIONS, 0)
        .unwrap()
        .u8(ParameterCode::VERSION_NUMBER, 2)
        .unwrap();
    let mut head = ParametersBuf::new();
    head.group(ParameterCode::CONNECT_ACCEPT_ITEM, &cai)
        .unwrap()
        .u16(ParameterCode::SESSION_USER_REQUIREMENTS, 2)
        .unwrap();
    let mut p = head.clone();
    cd.append_connect_parameters(&mut p).unwrap();
    let mut tsdus = vec![
        Spdu::new(SpduKind::Cn, p.as_parameters().unwrap())
            .to_vec()
            .unwrap(),
    ];
    for seg in cd.cdo_segments() {
        let p = seg.user_data_parameters().unwrap();
        tsdus.push(
            Spdu::new(SpduKind::Cdo, p.as_parameters().unwrap())
                .to_vec()
                .unwrap(),
        );
    }
    assert_eq!(tsdus.len(), 3);
    let mut r = SsduReassembler::new(&Limits::default());
    let s = push_all(&mut r, &tsdus).unwrap().unwrap();
    assert_eq!(s.kind(), SpduKind::Cn);
    assert_eq!(s.data(), &big[..]);
    // PGI 5, PI 20 and PI 60 stay; PGI 194 goes.
    let mut expected = head.clone();
    expected.u8(ParameterCode::DATA_OVERFLOW, 1).unwrap();
    assert_eq!(s.parameters().as_bytes(), expected.as_bytes());
    assert_eq!(s.spdu().data_overflow().map(|d| d.get()), Some(1));
    // A CN is continued by CDOs only.
    let mut r = SsduReassembler::new(&Limits::default());
    let t = [tsdus[0].clone(), hex(FN_16[1])];
    let e = push_all(&mut r, &t).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::UnexpectedCode { code: 0x09, .. }
    ));
}

/// A MAP begins with its Sync Type Item; the subsequent SPDUs (SI 41 without it) decode as AE
/// and continue it; the SSDU is a MAP.
#[test]
fn map_continues_as_ae() {
    let p = params_for(SpduKind::Map);
    let params = p.as_parameters().unwrap();
    let t = round_trip(SpduKind::Map, params, &data(100, 2), 30, &Limits::default());
    assert!(t.len() > 2);
    // But an AE cannot continue an AS.
    let p = params_for(SpduKind::As);
    let a: Vec<Vec<u8>> = encoded(SpduKind::As, p.as_parameters().unwrap(), b"0123456789", 20);
    let t = [a[0].clone(), t[1].clone()];
    let mut r = SsduReassembler::new(&Limits::default());
    assert!(push_all(&mut r, &t).is_err());
    assert!(r.is_idle());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any segmentable kind, any SSDU up to 6 000 octets, any TSDU maximum size from the
    /// smallest that works (or 0): every TSDU fits, and the SSDU comes back.
    #[test]
    fn any_kind_round_trips(
        k in 0usize..26,
        ssdu in prop::collection::vec(any::<u8>(), 0..6_000),
        extra in prop_oneof![0usize..64, 0usize..2_000, 60_000usize..70_000],
        unsegmented in prop::bool::weighted(0.1),
    ) {
        let kind = segmentable_kinds()[k];
        let p = params_for(kind);
        let params = p.as_parameters().unwrap();
        let max = if unsegmented { 0 } else { min_size(kind, params) + extra };
        round_trip(kind, params, &ssdu, max, &Limits::default());
    }

    /// Reassembly is total: random SPDUs pushed in any order give SSDUs or errors, never a
    /// panic, never more buffered than `max_ssdu`, and idle after every error.
    #[test]
    fn reassembly_is_bounded_whatever_arrives(
        pieces in prop::collection::vec((0usize..26, 0u8..4, 0usize..300, any::<bool>()), 1..40),
    ) {
        let limits = Limits::default().with_max_ssdu(1_000).with_max_segments(8);
        let mut r = SsduReassembler::new(&limits);
        let kinds = segmentable_kinds();
        for (k, enclosure, len, extra) in pieces {
            let kind = kinds[k];
            let mut p = ParametersBuf::new();
            if extra {
                p.u8(ParameterCode::TRANSPORT_DISCONNECT, 1).unwrap();
            }
            p.u8(ParameterCode::ENCLOSURE_ITEM, enclosure).unwrap();
            let body = data(len, k as u32);
            if !kind.has_user_information() {
                p.user_data(&body).unwrap();
            }
            let mut spdu = Spdu::new(kind, p.as_parameters().unwrap());
            if kind.has_user_information() {
                spdu = spdu.with_user_information(&body);
            }
            match r.push(&spdu) {
                Ok(_) => {}
                Err(e) => {
                    prop_assert_eq!(e.layer(), Layer::Session);
                    prop_assert!(r.is_idle());
                }
            }
            prop_assert!(r.buffered() <= 1_000);
        }
    }
}
