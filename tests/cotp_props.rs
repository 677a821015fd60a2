//! Property tests: for any valid TPDU value, `decode(encode(x)) == x`, `encoded_len` is exact,
//! and decoding arbitrary bytes never panics (it returns a value that re-encodes to the same
//! bytes, or an error).

use osi_stack::cotp::{
    Ack, ClassOption, Connect, Data, DataFormat, Disconnect, DisconnectConfirm, DisconnectReason,
    Error, ExpeditedAck, Param, ParamCode, ParamsBuf, Reassembler, RejectCause, Segments, Tpdu,
    TpduSize,
};
use osi_stack::tpkt::Tpkt;
use osi_stack::{Limits, tpkt};
use proptest::prelude::*;

/// Parameters valid in a CR or CC, as (typed) values.
fn connect_param() -> impl Strategy<Value = (u8, Vec<u8>)> {
    prop_oneof![
        any::<u8>().prop_map(|v| (0xc0, vec![v])),
        prop::collection::vec(any::<u8>(), 1..=4).prop_map(|v| (0xf0, v)),
        prop::collection::vec(any::<u8>(), 0..=40).prop_map(|v| (0xc1, v)),
        prop::collection::vec(any::<u8>(), 0..=40).prop_map(|v| (0xc2, v)),
        any::<u8>().prop_map(|v| (0xc6, vec![v])),
        prop::collection::vec(any::<u8>(), 0..=4).prop_map(|v| (0xc7, v)),
        any::<u8>().prop_map(|v| (0xc4, vec![v])),
        prop::collection::vec(any::<u8>(), 0..=8).prop_map(|v| (0xc5, v)),
        any::<[u8; 2]>().prop_map(|v| (0xc3, v.to_vec())),
        any::<[u8; 4]>().prop_map(|v| (0xf2, v.to_vec())),
        prop::collection::vec(any::<u8>(), 0..=12).prop_map(|v| (0x87, v)),
        // Codes X.224 does not define are kept.
        (
            prop::sample::select(vec![0x42u8, 0x7f, 0xc9, 0xd5, 0xff]),
            prop::collection::vec(any::<u8>(), 0..=8)
        ),
    ]
}

fn params_buf(params: &[(u8, Vec<u8>)], max_len: usize) -> ParamsBuf {
    let mut buf = ParamsBuf::new();
    for (code, value) in params {
        if buf.as_bytes().len() + 2 + value.len() > max_len {
            break;
        }
        buf.push(ParamCode(*code), value).unwrap();
    }
    buf
}

fn round_trip(tpdu: &Tpdu<'_>) {
    let mut out = Vec::new();
    tpdu.encode(&mut out).unwrap();
    assert_eq!(out.len(), tpdu.encoded_len());
    let decoded = Tpdu::decode(&out).unwrap();
    assert_eq!(&decoded, tpdu);
    // And inside a TPKT.
    if out.len() <= tpkt::MAX_TPDU_LEN {
        let mut framed = Vec::new();
        Tpkt::new(&out).encode(&mut framed).unwrap();
        let t = Tpkt::decode_exact(&framed).unwrap();
        assert_eq!(Tpdu::decode(t.payload).unwrap(), *tpdu);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cr_and_cc(
        cc in any::<bool>(),
        cdt in 0u8..16,
        dst_ref in any::<u16>(),
        src_ref in any::<u16>(),
        class in any::<u8>(),
        params in prop::collection::vec(connect_param(), 0..8),
        header_data in prop::option::of((0u8..0x40, prop::collection::vec(any::<u8>(), 0..30))),
        user_data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let p = params_buf(&params, 200);
        // RDP-style data inside the LI starts with an octet that cannot begin a parameter.
        let header_data: Vec<u8> = header_data.map(|(first, rest)| std::iter::once(first).chain(rest).collect()).unwrap_or_default();
        let c = Connect { cdt, dst_ref, src_ref, class_option: ClassOption(class), params: p.as_params(), header_data: &header_data, user_data: &user_data };
        round_trip(&if cc { Tpdu::Cc(c) } else { Tpdu::Cr(c) });
    }

    #[test]
    fn dr(
        dst_ref in any::<u16>(),
        src_ref in any::<u16>(),
        reason in any::<u8>(),
        info in prop::option::of(prop::collection::vec(any::<u8>(), 0..100)),
        user_data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut p = ParamsBuf::new();
        if let Some(i) = &info {
            p.param(&Param::AdditionalInfo(i)).unwrap();
        }
        round_trip(&Tpdu::Dr(Disconnect { dst_ref, src_ref, reason: DisconnectReason(reason), params: p.as_params(), user_data: &user_data }));
    }

    #[test]
    fn dc(dst_ref in any::<u16>(), src_ref in any::<u16>(), checksum in prop::option::of(any::<u16>())) {
        let mut p = ParamsBuf::new();
        if let Some(c) = checksum {
            p.param(&Param::Checksum(c)).unwrap();
        }
        round_trip(&Tpdu::Dc(DisconnectConfirm { dst_ref, src_ref, params: p.as_params() }));
    }

    #[test]
    fn dt_and_ed(
        ed in any::<bool>(),
        format in 0u8..3,
        roa in any::<bool>(),
        dst_ref in any::<u16>(),
        eot in any::<bool>(),
        nr in any::<u32>(),
        checksum in prop::option::of(any::<u16>()),
        user_data in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let format = [DataFormat::Short, DataFormat::Normal, DataFormat::Extended][usize::from(format)];
        let mut p = ParamsBuf::new();
        if format != DataFormat::Short {
            if let Some(c) = checksum {
                p.param(&Param::Checksum(c)).unwrap();
            }
        }
        let d = Data {
            format,
            roa: roa && !ed,
            dst_ref: (format != DataFormat::Short).then_some(dst_ref),
            eot,
            nr: if format == DataFormat::Extended { nr & 0x7fff_ffff } else { nr & 0x7f },
            params: p.as_params(),
            user_data: &user_data,
        };
        round_trip(&if ed { Tpdu::Ed(d) } else { Tpdu::Dt(d) });
    }

    #[test]
    fn ak_rj_ea(
        which in 0u8..3,
        extended in any::<bool>(),
        dst_ref in any::<u16>(),
        nr in any::<u32>(),
        cdt in any::<u16>(),
        checksum in prop::option::of(any::<u16>()),
    ) {
        let format = if extended { DataFormat::Extended } else { DataFormat::Normal };
        let mut p = ParamsBuf::new();
        if let Some(c) = checksum {
            p.param(&Param::Checksum(c)).unwrap();
        }
        let (nr, cdt) = if extended { (nr, cdt) } else { (nr & 0xff, cdt & 0x0f) };
        let tpdu = match which {
            0 => Tpdu::Ak(Ack { format, dst_ref, nr, cdt, params: p.as_params() }),
            1 => Tpdu::Rj(Ack { format, dst_ref, nr, cdt, params: p.as_params() }),
            _ => Tpdu::Ea(ExpeditedAck { format, dst_ref, nr, params: p.as_params() }),
        };
        round_trip(&tpdu);
    }

    #[test]
    fn er(dst_ref in any::<u16>(), cause in any::<u8>(), invalid in prop::collection::vec(any::<u8>(), 0..=200)) {
        let mut p = ParamsBuf::new();
        p.param(&Param::InvalidTpdu(&invalid)).unwrap();
        round_trip(&Tpdu::Er(Error { dst_ref, cause: RejectCause(cause), params: p.as_params() }));
    }

    /// Decoding is total: any bytes give an error or a value that re-encodes to those bytes.
    #[test]
    fn decode_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(tpdu) = Tpdu::decode(&bytes) {
            let mut out = Vec::new();
            tpdu.encode(&mut out).unwrap();
            prop_assert_eq!(out, bytes);
        }
    }

    #[test]
    fn tpkt_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match Tpkt::decode(&bytes) {
            Ok((t, rest)) => {
                prop_assert_eq!(t.encoded_len() + rest.len(), bytes.len());
                prop_assert_eq!(tpkt::frame_len(&bytes).unwrap(), Some(t.encoded_len()));
            }
            Err(e) => prop_assert_eq!(e.layer(), osi_stack::Layer::Tpkt),
        }
    }

    /// A TSDU of any size survives segment → encode → decode → reassemble unchanged.
    #[test]
    fn segmentation(len in 0usize..5000, size in prop::sample::select(vec![128usize, 256, 1024, 8192, 65531])) {
        let tsdu: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut wire = Vec::new();
        Segments::new(&tsdu, size).encode(&mut wire).unwrap();
        prop_assert_eq!(wire.len(), Segments::encoded_len(len, size));
        let mut r = Reassembler::new(Limits::default());
        let mut got = None;
        let mut frames = 0;
        for t in tpkt::TpktFrames::new(&wire) {
            let t = t.unwrap();
            prop_assert!(t.payload.len() <= size.min(tpkt::MAX_TPDU_LEN));
            let Tpdu::Dt(dt) = Tpdu::decode(t.payload).unwrap() else { panic!("not a DT") };
            prop_assert!(got.is_none(), "data after EOT");
            got = r.push(&dt).unwrap().map(|t| t.as_slice().to_vec());
            frames += 1;
        }
        prop_assert_eq!(frames, Segments::count(len, size));
        prop_assert_eq!(got.unwrap(), tsdu);
    }
}

/// The exhaustive case: every TSDU size from 0 to 3 × TPDU size + 1.
#[test]
fn segmentation_every_size_up_to_three_tpdus() {
    for size in [128usize, 256] {
        let max_data = size - 3;
        let tsdu: Vec<u8> = (0..3 * size + 1).map(|i| (i * 7 % 256) as u8).collect();
        for len in 0..=3 * size + 1 {
            let tsdu = &tsdu[..len];
            let dts: Vec<Data<'_>> = Segments::new(tsdu, size).collect();
            assert_eq!(dts.len(), Segments::count(len, size));
            assert!(dts.iter().all(|d| d.user_data.len() <= max_data));
            assert!(
                dts[..dts.len() - 1]
                    .iter()
                    .all(|d| !d.eot && !d.user_data.is_empty())
            );
            assert!(dts.last().unwrap().eot);
            let mut r = Reassembler::new(Limits::default());
            let mut out = None;
            for dt in &dts {
                let mut enc = Vec::new();
                Tpdu::Dt(*dt).encode(&mut enc).unwrap();
                assert!(enc.len() <= size);
                let Tpdu::Dt(back) = Tpdu::decode(&enc).unwrap() else {
                    panic!("not a DT")
                };
                out = r.push(&back).unwrap().map(|t| t.as_slice().to_vec());
            }
            assert_eq!(out.as_deref(), Some(tsdu), "size {size}, len {len}");
        }
    }
}

#[test]
fn typed_params_round_trip_through_the_builder() {
    let cases = [
        Param::TpduSize(TpduSize::S2048),
        Param::PreferredMaxTpduSize(64),
        Param::CallingTsel(b"SIMATIC-ROOT-ES"),
        Param::CalledTsel(&[]),
        Param::AdditionalOptions(1),
        Param::AlternativeClasses(&[0x00, 0x20]),
        Param::Version(1),
        Param::Protection(&[1, 2, 3]),
        Param::Checksum(0xbeef),
        Param::InactivityTimer(120_000),
        Param::Raw {
            code: ParamCode::THROUGHPUT,
            value: &[0; 12],
        },
        Param::Unknown {
            code: ParamCode(0xc9),
            value: &[0],
        },
    ];
    let mut b = ParamsBuf::new();
    for p in &cases {
        b.param(p).unwrap();
    }
    let cr = Connect {
        cdt: 0,
        dst_ref: 0,
        src_ref: 1,
        class_option: ClassOption::CLASS0,
        params: b.as_params(),
        header_data: &[],
        user_data: &[],
    };
    let mut out = Vec::new();
    Tpdu::Cr(cr).encode(&mut out).unwrap();
    let Tpdu::Cr(back) = Tpdu::decode(&out).unwrap() else {
        panic!("not a CR")
    };
    let typed: Vec<_> = back
        .params
        .iter()
        .map(|p| p.typed(osi_stack::cotp::TpduKind::Cr))
        .collect();
    assert_eq!(typed, cases);
}
