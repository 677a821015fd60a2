//! Selectors and RFC 1278 presentation addresses: every example of spec `addresses-rtse.md` §1
//! (byte values as given there; the ✓ ones were checked against ISODE and nsap-address), the
//! selector forms of §2, errors for bad input, and round-trip and totality properties.

mod common;
use common::hex;

use osi_stack::address::{
    AddressError, AddressErrorKind as Kind, NetworkAddress, PSel, PresentationAddress, SSel, TSel,
};
use proptest::prelude::*;

fn addr(s: &str) -> PresentationAddress {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn nsap(h: &str) -> NetworkAddress {
    NetworkAddress::Nsap(hex(h))
}

/// Parses `s`, checks the printed form (when given) and that the printed form parses back to
/// the same value.
fn parses_and_prints(s: &str, printed: Option<&str>) -> PresentationAddress {
    let a = addr(s);
    let out = a.to_string();
    if let Some(p) = printed {
        assert_eq!(out, p, "{s}");
    }
    assert_eq!(addr(&out), a, "{s} printed as {out}");
    a
}

fn err_of<T: std::fmt::Debug>(r: Result<T, AddressError>) -> (usize, Kind) {
    let e = r.unwrap_err();
    (e.offset(), *e.kind())
}

// --- spec §1 examples -------------------------------------------------------------------------

#[test]
fn rfc1278_example_text_tsel_and_two_nsaps() {
    let a = parses_and_prints(
        "\"256\"/NS+a433bb93c1_NS+aa3106",
        Some("\"256\"/NS+a433bb93c1_NS+aa3106"),
    );
    assert_eq!(a.psel, None);
    assert_eq!(a.ssel, None);
    assert_eq!(a.tsel.unwrap().as_bytes(), b"256");
    assert_eq!(a.network, [nsap("a4 33 bb 93 c1"), nsap("aa 31 06")]);
    // `|` separates network addresses too (RN/89/14, ISODE); dotted decimal NSAP octets.
    assert_eq!(addr("\"256\"/NS+164.51.187.147.193|NS+aa3106"), a);
}

/// ✓ P=00 3f, S=00 29, T=00 0c; X.121 NSAP 36 00 23 42 19 20 03 00.
#[test]
fn rfc1278_example_gosip_selectors_and_x121() {
    let a = parses_and_prints(
        "#63/#41/#12/X121+234219200300",
        Some("'003f'H/'0029'H/'000c'H/NS+3600234219200300"),
    );
    assert_eq!(a.psel.unwrap().as_bytes(), [0x00, 0x3f]);
    assert_eq!(a.ssel.unwrap().as_bytes(), [0x00, 0x29]);
    assert_eq!(a.tsel.unwrap().as_bytes(), [0x00, 0x0c]);
    assert_eq!(a.network, [nsap("36 00 23 42 19 20 03 00")]);
    assert!(a.rfc1006_endpoints().is_empty());
}

#[test]
fn rfc1278_example_x25_with_call_user_data() {
    let s = "'3a'H/TELEX+00728722+X.25(80)+02+00002340555+CUDF+\"892796\"";
    let a = parses_and_prints(s, Some(s));
    assert_eq!(a.tsel.unwrap().as_bytes(), [0x3a]);
    assert_eq!(
        a.network,
        [NetworkAddress::Other(
            "TELEX+00728722+X.25(80)+02+00002340555+CUDF+\"892796\"".into()
        )]
    );
    assert_eq!(a.network[0].to_nsap(), None);
    // The Janet macro gives the same address.
    assert_eq!(
        addr("'3a'H/Janet=00002340555+CUDF+\"892796\""),
        a,
        "Janet= expands to TELEX+00728722+X.25(80)+02+"
    );
}

/// ✓ `TELEX+00728722+RFC-1006+03+10.0.0.6` → `54 00 72 87 22 03 01 00 00 00 00 06`.
#[test]
fn rfc1278_example_rfc1006_without_selectors() {
    let a = parses_and_prints(
        "TELEX+00728722+RFC-1006+03+10.0.0.6",
        Some("Internet=10.0.0.6"),
    );
    assert_eq!((a.psel, a.ssel, a.tsel), (None, None, None));
    assert_eq!(a.network, [NetworkAddress::internet("10.0.0.6", 102)]);
    assert_eq!(a.rfc1006_endpoints(), [("10.0.0.6".to_string(), 102)]);
    let bytes = hex("54 00 72 87 22 03 01 00 00 00 00 06");
    assert_eq!(a.network[0].to_nsap(), Some(bytes.clone()));
    assert_eq!(NetworkAddress::from_nsap(&bytes), a.network[0]);
    // The binary form in a string is an NSAP that still gives the TCP endpoint.
    let b = addr("NS+540072872203010000000006");
    assert_eq!(b.network, [NetworkAddress::Nsap(bytes)]);
    assert_eq!(b.rfc1006_endpoints(), a.rfc1006_endpoints());
}

#[test]
fn quipu_dsa_entry() {
    let a = parses_and_prints(
        "'0101'H/TELEX+00728722+RFC-1006+03+192.16.186.25+17004",
        Some("'0101'H/Internet=192.16.186.25+17004"),
    );
    assert_eq!(a.tsel.unwrap().as_bytes(), [0x01, 0x01]);
    assert_eq!(
        a.network,
        [NetworkAddress::internet("192.16.186.25", 17004)]
    );
    assert_eq!(
        a.rfc1006_endpoints(),
        [("192.16.186.25".to_string(), 17004)]
    );
    // 03 192 016 186 025 17004: 19 digits, so a final F nibble.
    let bytes = hex("54 00 72 87 22 03 19 20 16 18 60 25 17 00 4f");
    assert_eq!(a.network[0].to_nsap(), Some(bytes.clone()));
    assert_eq!(NetworkAddress::from_nsap(&bytes), a.network[0]);
}

#[test]
fn iec61850_default_selectors() {
    let a = parses_and_prints(
        "'00000001'H/'0001'H/'0001'H/Internet=192.168.1.10+102",
        Some("'00000001'H/'0001'H/'0001'H/Internet=192.168.1.10"),
    );
    assert_eq!(a.psel.unwrap().as_bytes(), [0, 0, 0, 1]);
    assert_eq!(a.ssel.unwrap().as_bytes(), [0, 1]);
    assert_eq!(a.tsel.unwrap().as_bytes(), [0, 1]);
    assert_eq!(a.rfc1006_endpoints(), [("192.168.1.10".to_string(), 102)]);
}

#[test]
fn x400_mta_text_selectors() {
    let a = parses_and_prints(
        "\"mts\"/\"mts\"/\"mts\"/Internet=10.1.2.3",
        Some("\"mts\"/\"mts\"/\"mts\"/Internet=10.1.2.3"),
    );
    for sel in [
        a.psel.unwrap().as_bytes(),
        a.ssel.unwrap().as_bytes(),
        a.tsel.unwrap().as_bytes(),
    ] {
        assert_eq!(sel, b"mts");
    }
}

#[test]
fn internet_macro_is_the_telex_form() {
    let long = addr("TELEX+00728722+RFC-1006+03+mta.example.org+102");
    for s in [
        "Internet=mta.example.org+102",
        "Internet=mta.example.org",
        "Internet-RFC-1006=mta.example.org",
        "TCP=03+mta.example.org",
        "internet=mta.example.org+00102",
        "telex+00728722+rfc-1006+03+mta.example.org",
    ] {
        assert_eq!(addr(s), long, "{s}");
    }
    assert_eq!(long.to_string(), "Internet=mta.example.org");
    assert_eq!(long.network[0].to_nsap(), None, "a host name has no NSAP");
    assert_eq!(
        long.rfc1006_endpoints(),
        [("mta.example.org".to_string(), 102)]
    );
}

#[test]
fn empty_selectors_between_slashes() {
    let a = parses_and_prints("\"p\"///NS+a433bb93c1", Some("\"p\"///NS+a433bb93c1"));
    assert_eq!(a.psel.unwrap().as_bytes(), b"p");
    assert_eq!(a.ssel, Some(SSel::EMPTY));
    assert_eq!(a.tsel, Some(TSel::EMPTY));
    let t = parses_and_prints("/NS+aa3106", Some("/NS+aa3106"));
    assert_eq!((t.ssel, t.tsel), (None, Some(TSel::EMPTY)));
    let st = parses_and_prints("//Internet=h", Some("//Internet=h"));
    assert_eq!(
        (st.psel, st.ssel, st.tsel),
        (None, Some(SSel::EMPTY), Some(TSel::EMPTY))
    );
}

#[test]
fn missing_inner_selectors_print_empty() {
    let a = PresentationAddress {
        psel: Some("\"p\"".parse().unwrap()),
        ssel: None,
        tsel: None,
        network: vec![NetworkAddress::internet("h", 102)],
    };
    assert_eq!(a.to_string(), "\"p\"///Internet=h");
    let back = addr(&a.to_string());
    assert_eq!(back.psel, a.psel);
    assert_eq!(
        (back.ssel, back.tsel),
        (Some(SSel::EMPTY), Some(TSel::EMPTY))
    );
}

// --- other network address forms --------------------------------------------------------------

#[test]
fn user_oriented_nsap_forms() {
    let cases = [
        // IDI padded to 14 digits with 0; decimal DSP.
        ("X121+234219200300+d1234", "36 00 23 42 19 20 03 00 12 34"),
        // An IDI starting with 0 takes the leading-zero AFI and is padded with 1.
        ("X121+0234", "52 11 11 11 11 11 02 34"),
        ("TELEX+00728722", "54 00 72 87 22"),
        // DCC: 5 IDP digits and 5 DSP digits, each padded with F (ISODE's UK example).
        ("DCC+826+d11000", "38 82 6f 11 00 0f"),
        // Binary DSP, hex or dotted decimal.
        ("ICD+0004+x0a0b", "47 00 04 0a 0b"),
        ("ICD+4+x10.11", "47 00 04 0a 0b"),
        // 17 IDP digits: a final F before the binary DSP.
        ("ISDN+4930+x00", "45 00 00 00 00 00 04 93 0f 00"),
        ("PSTN+123", "42 00 00 00 00 01 23"),
        ("realNS=0102", "01 02"),
        ("NSAP=0102", "01 02"),
    ];
    for (s, bytes) in cases {
        let na: NetworkAddress = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(na, nsap(bytes), "{s}");
        assert_eq!(na.to_string().parse::<NetworkAddress>().unwrap(), na);
    }
}

#[test]
fn local_tcp_and_other_prefixes() {
    let na: NetworkAddress = "localHost=17000".parse().unwrap();
    assert_eq!(
        na,
        NetworkAddress::Rfc1006 {
            prefix: 5,
            host: "127.0.0.1".into(),
            port: 17000,
            tset: None
        }
    );
    assert_eq!(na.to_string(), "localTCP=127.0.0.1+17000");
    assert_eq!(
        na.to_nsap(),
        Some(hex("54 00 72 87 22 05 12 70 00 00 00 01 17 00 0f"))
    );
    let na: NetworkAddress = "TELEX+00728722+RFC-1006+7+10.0.0.1+102+2".parse().unwrap();
    assert_eq!(na.to_string(), "TCP=07+10.0.0.1+102+2");
    assert_eq!(NetworkAddress::from_nsap(&na.to_nsap().unwrap()), na);
    // Transport set 2 is UDP only: not a TCP endpoint; 3 includes TCP.
    assert_eq!(na.rfc1006_endpoint(), None);
    let both: NetworkAddress = "Internet=h+102+3".parse().unwrap();
    assert_eq!(both.rfc1006_endpoint(), Some(("h".to_string(), 102)));
}

#[test]
fn forms_kept_as_text() {
    for s in [
        "Int-X25(80)=23421920030013",
        "TELEX+00728722+X.25(80)+01+23421920030013+PID+03010100",
        "LOCAL+123",
        "X121+2342+lsomething",
        "TELEX+12345+RFC-1006+03+10.0.0.1",
        "38826+0a0b",
    ] {
        let na: NetworkAddress = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        let NetworkAddress::Other(text) = &na else {
            panic!("{s}: {na:?}")
        };
        assert_eq!(text.parse::<NetworkAddress>().unwrap(), na, "{s}");
    }
    assert_eq!(
        "IXI=12".parse::<NetworkAddress>().unwrap().to_string(),
        "TELEX+00728722+X.25(80)+06+12"
    );
}

// --- selectors --------------------------------------------------------------------------------

#[test]
fn selector_forms() {
    let cases: [(&str, &[u8]); 16] = [
        ("\"mts\"", b"mts"),
        ("\"SIMATIC-ROOT-ES\"", b"SIMATIC-ROOT-ES"),
        ("\"a b\"", b"a b"),
        ("#63", &[0x00, 0x3f]),
        ("#0", &[0x00, 0x00]),
        ("#65535", &[0xff, 0xff]),
        ("'0001'H", &[0x00, 0x01]),
        ("'ABcd'H", &[0xab, 0xcd]),
        ("''H", &[]),
        ("0001", &[0x00, 0x01]),
        ("00 01", &[0x00, 0x01]),
        ("00 00 00 01", &[0, 0, 0, 1]),
        ("1", &[0x01]),
        ("001", &[0x00, 0x01]),
        ("", &[]),
        ("  0100\n", &[0x01, 0x00]),
    ];
    for (s, bytes) in cases {
        let t: TSel = s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(t.as_bytes(), bytes, "{s:?}");
        let p: PSel = s.parse().unwrap();
        assert_eq!(p.as_bytes(), bytes, "{s:?}");
        assert_eq!(t.to_string().parse::<TSel>().unwrap(), t, "{s:?}");
    }
}

#[test]
fn selectors_are_octet_strings() {
    let a: TSel = "0001".parse().unwrap();
    let b: TSel = "01".parse().unwrap();
    assert_ne!(a, b);
    assert!(a < b, "octet-wise order, like [u8]");
    assert_ne!(TSel::EMPTY, TSel::new(&[0]).unwrap());
    assert_eq!(a.len(), 2);
    assert!(!a.is_empty() && TSel::EMPTY.is_empty());
    assert_eq!(TSel::try_from(&[0u8, 1][..]).unwrap(), a);
    assert_eq!(a.as_ref(), [0, 1]);
}

#[test]
fn selector_printing() {
    let t = |b: &[u8]| TSel::new(b).unwrap();
    assert_eq!(t(b"mts").to_string(), "\"mts\"");
    assert_eq!(t(b"a+b-c.9Z").to_string(), "\"a+b-c.9Z\"");
    assert_eq!(t(b"a b").to_string(), "'612062'H");
    assert_eq!(t(b"").to_string(), "''H");
    assert_eq!(t(&[0x00, 0x01]).to_string(), "'0001'H");
    assert_eq!(t(&[0xAB]).to_string(), "'ab'H");
    assert_eq!(format!("{:?}", t(&[0x00, 0x01])), "TSel(0001)");
    assert_eq!(format!("{:?}", SSel::EMPTY), "SSel()");
    assert_eq!(t(&[0xAB, 0x01]).to_hex(), "ab01");
}

#[test]
fn selector_capacities() {
    assert_eq!((TSel::MAX_LEN, SSel::MAX_LEN, PSel::MAX_LEN), (32, 16, 16));
    assert!(TSel::new(&[7; 32]).is_ok());
    assert_eq!(
        err_of(TSel::new(&[7; 33])),
        (
            0,
            Kind::TooLong {
                what: "t-selector",
                max: 32
            }
        )
    );
    assert!(SSel::new(&[7; 16]).is_ok());
    assert_eq!(
        err_of(SSel::new(&[7; 17])),
        (
            0,
            Kind::TooLong {
                what: "s-selector",
                max: 16
            }
        )
    );
    assert_eq!(
        err_of(format!("'{}'H", "00".repeat(17)).parse::<PSel>()),
        (
            0,
            Kind::TooLong {
                what: "p-selector",
                max: 16
            }
        )
    );
}

// --- errors -----------------------------------------------------------------------------------

#[test]
fn error_messages_name_the_place() {
    let e = "'abc'H".parse::<TSel>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "address: odd number of hex digits in selector at offset 1"
    );
    let e = "\"ab\"/'abc'H/NS+01"
        .parse::<PresentationAddress>()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "address: odd number of hex digits in selector at offset 6"
    );
    let e = "Internet=mta+99999"
        .parse::<PresentationAddress>()
        .unwrap_err();
    assert_eq!(e.to_string(), "address: port above 65535 at offset 13");
    let e = "'0g'H".parse::<SSel>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "address: unexpected 'g' in selector at offset 2"
    );
}

#[test]
fn bad_selectors() {
    let cases: [(&str, usize, Kind); 8] = [
        ("'abc'H", 1, Kind::OddHexDigits { what: "selector" }),
        (
            "#70000",
            1,
            Kind::NumberTooLarge {
                what: "selector number",
                max: 65535,
            },
        ),
        (
            "#",
            1,
            Kind::Missing {
                what: "selector number",
            },
        ),
        (
            "#12a",
            3,
            Kind::UnexpectedChar {
                what: "selector number",
                found: 'a',
            },
        ),
        (
            "\"abc",
            0,
            Kind::Unterminated {
                what: "quoted selector",
            },
        ),
        (
            "'0a'",
            0,
            Kind::Unterminated {
                what: "hex selector",
            },
        ),
        (
            "mts",
            0,
            Kind::UnexpectedChar {
                what: "selector",
                found: 'm',
            },
        ),
        (
            "\"ab\"c",
            4,
            Kind::UnexpectedChar {
                what: "selector",
                found: 'c',
            },
        ),
    ];
    for (s, offset, kind) in cases {
        assert_eq!(err_of(s.parse::<TSel>()), (offset, kind), "{s}");
    }
    assert_eq!(
        err_of("\"a\u{e9}\"".parse::<TSel>()),
        (
            2,
            Kind::UnexpectedChar {
                what: "quoted selector",
                found: '\u{e9}'
            }
        )
    );
    assert_eq!(
        err_of(format!("'{}'H", "ab".repeat(33)).parse::<TSel>()),
        (
            0,
            Kind::TooLong {
                what: "t-selector",
                max: 32
            }
        )
    );
}

#[test]
fn bad_presentation_addresses() {
    let p17 = format!("'{}'H/\"s\"/\"t\"/NS+01", "00".repeat(17));
    let cases: Vec<(&str, usize, Kind)> = vec![
        ("", 0, Kind::EmptyNetworkAddress),
        ("\"a\"/", 4, Kind::EmptyNetworkAddress),
        ("NS+01_", 6, Kind::EmptyNetworkAddress),
        ("_NS+01", 0, Kind::EmptyNetworkAddress),
        ("NS+01||NS+02", 6, Kind::EmptyNetworkAddress),
        ("\"a\"", 3, Kind::EmptyNetworkAddress),
        (
            "#70000/NS+01",
            1,
            Kind::NumberTooLarge {
                what: "selector number",
                max: 65535,
            },
        ),
        (
            "\"abc/NS+01",
            0,
            Kind::Unterminated {
                what: "quoted selector",
            },
        ),
        (
            "'0a'/NS+01",
            0,
            Kind::Unterminated {
                what: "hex selector",
            },
        ),
        ("\"a\"/\"b\"/\"c\"/\"d\"/NS+01", 12, Kind::TooManySelectors),
        (
            &p17,
            0,
            Kind::TooLong {
                what: "p-selector",
                max: 16,
            },
        ),
        (
            "#12x/NS+01",
            3,
            Kind::UnexpectedChar {
                what: "presentation address",
                found: 'x',
            },
        ),
        // Bare hex is for configuration files, not for RFC 1278 strings.
        (
            "0001/NS+01",
            0,
            Kind::Unknown {
                what: "network address form",
            },
        ),
        ("NS+", 3, Kind::Missing { what: "nsap" }),
        ("NS+abc", 3, Kind::OddHexDigits { what: "nsap" }),
        (
            "NS+0g",
            4,
            Kind::UnexpectedChar {
                what: "nsap",
                found: 'g',
            },
        ),
        (
            "NS+01+02",
            5,
            Kind::UnexpectedChar {
                what: "network address",
                found: '+',
            },
        ),
        (
            "NS+1.256",
            5,
            Kind::NumberTooLarge {
                what: "nsap",
                max: 255,
            },
        ),
        (
            "NS+000000000000000000000000000000000000000000",
            3,
            Kind::TooLong {
                what: "nsap",
                max: 20,
            },
        ),
        ("Nowhere=10.0.0.1", 0, Kind::Unknown { what: "macro" }),
        (
            "FOO+1",
            0,
            Kind::Unknown {
                what: "network address form",
            },
        ),
        (
            "X121+12345678901234567",
            5,
            Kind::TooManyDigits {
                what: "idi",
                max: 14,
            },
        ),
        ("X121", 4, Kind::Missing { what: "idi" }),
        (
            "X121+12+q1",
            8,
            Kind::Unknown {
                what: "domain specific part",
            },
        ),
        (
            "X121+12+d12a",
            11,
            Kind::UnexpectedChar {
                what: "decimal dsp",
                found: 'a',
            },
        ),
        ("X121+12+x", 9, Kind::Missing { what: "binary dsp" }),
        ("Internet=", 9, Kind::Missing { what: "host" }),
        (
            "Internet=ho st",
            11,
            Kind::UnexpectedChar {
                what: "host",
                found: ' ',
            },
        ),
        (
            "Internet=mta+port",
            13,
            Kind::UnexpectedChar {
                what: "port",
                found: 'p',
            },
        ),
        (
            "Internet=mta+70000",
            13,
            Kind::NumberTooLarge {
                what: "port",
                max: 65535,
            },
        ),
        (
            "TCP=003+mta",
            4,
            Kind::TooManyDigits {
                what: "prefix",
                max: 2,
            },
        ),
        (
            "Janet=123+CUDF+\"89",
            15,
            Kind::Unterminated {
                what: "quoted string",
            },
        ),
        ("Janet=123+", 10, Kind::Missing { what: "last field" }),
    ];
    for (s, offset, kind) in cases {
        assert_eq!(
            err_of(s.parse::<PresentationAddress>()),
            (offset, kind),
            "{s}"
        );
    }
}

// --- properties -------------------------------------------------------------------------------

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        "[a-zA-Z0-9][a-zA-Z0-9-]{0,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}",
    ]
}

fn network_address() -> impl Strategy<Value = NetworkAddress> {
    prop_oneof![
        3 => (0u8..=99, host(), any::<u16>(), proptest::option::of(any::<u16>())).prop_map(
            |(prefix, host, port, tset)| NetworkAddress::Rfc1006 { prefix, host, port, tset }
        ),
        1 => proptest::collection::vec(any::<u8>(), 1..=20).prop_map(NetworkAddress::Nsap),
    ]
}

fn selector_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=max),
        proptest::collection::vec(
            proptest::sample::select(b"0123456789abcXYZ+-.".to_vec()),
            0..=max
        ),
    ]
}

/// Addresses RFC 1278 can write: a selector present implies the inner ones are present.
fn presentation_address() -> impl Strategy<Value = PresentationAddress> {
    (
        0usize..=3,
        selector_bytes(16),
        selector_bytes(16),
        selector_bytes(32),
        proptest::collection::vec(network_address(), 1..4),
    )
        .prop_map(|(depth, p, s, t, network)| PresentationAddress {
            psel: (depth >= 3).then(|| PSel::new(&p).unwrap()),
            ssel: (depth >= 2).then(|| SSel::new(&s).unwrap()),
            tsel: (depth >= 1).then(|| TSel::new(&t).unwrap()),
            network,
        })
}

/// Whether `s` parses without panicking, and if it does, whether what it prints parses back
/// to the same value.
fn total_and_stable(s: &str) {
    if let Ok(a) = s.parse::<PresentationAddress>() {
        let out = a.to_string();
        assert_eq!(
            out.parse::<PresentationAddress>().as_ref(),
            Ok(&a),
            "{s:?} -> {out:?}"
        );
    }
    if let Ok(t) = s.parse::<TSel>() {
        assert_eq!(t.to_string().parse::<TSel>(), Ok(t), "{s:?}");
    }
    if let Ok(na) = s.parse::<NetworkAddress>() {
        let out = na.to_string();
        assert_eq!(
            out.parse::<NetworkAddress>().as_ref(),
            Ok(&na),
            "{s:?} -> {out:?}"
        );
    }
    let _ = s.parse::<SSel>();
    let _ = s.parse::<PSel>();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn selectors_round_trip(t in selector_bytes(32), s in selector_bytes(16)) {
        let tsel = TSel::new(&t).unwrap();
        prop_assert_eq!(tsel.as_bytes(), &t[..]);
        prop_assert_eq!(tsel.to_string().parse::<TSel>(), Ok(tsel));
        prop_assert_eq!(tsel.to_hex().parse::<TSel>(), Ok(tsel));
        let ssel = SSel::new(&s).unwrap();
        prop_assert_eq!(ssel.to_string().parse::<SSel>(), Ok(ssel));
        let psel = PSel::new(&s).unwrap();
        prop_assert_eq!(psel.to_string().parse::<PSel>(), Ok(psel));
    }

    #[test]
    fn presentation_addresses_round_trip(a in presentation_address()) {
        let s = a.to_string();
        prop_assert_eq!(s.parse::<PresentationAddress>(), Ok(a), "{}", s);
    }

    #[test]
    fn rfc1277_round_trip(
        prefix in 0u8..=99,
        ip in any::<[u8; 4]>(),
        port in any::<u16>(),
        tset in proptest::option::of(any::<u16>()),
    ) {
        let na = NetworkAddress::Rfc1006 {
            prefix,
            host: std::net::Ipv4Addr::from(ip).to_string(),
            port,
            tset,
        };
        let bytes = na.to_nsap().unwrap();
        prop_assert!(bytes.len() <= 20);
        let back = NetworkAddress::from_nsap(&bytes);
        // Transport set 1 (TCP) is the default and is not encoded.
        let expected = NetworkAddress::Rfc1006 {
            prefix,
            host: std::net::Ipv4Addr::from(ip).to_string(),
            port,
            tset: tset.filter(|&t| t != 1),
        };
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        total_and_stable(&s);
    }

    #[test]
    fn address_like_strings_never_panic(
        s in "[\"'#/_|+=.a-zA-Z0-9() -]{0,48}",
        prefix in proptest::sample::select(vec![
            "", "Internet=", "NS+", "TELEX+00728722+", "X121+", "'01'H/", "\"a\"/", "Janet=",
        ]),
    ) {
        total_and_stable(&format!("{prefix}{s}"));
    }

    #[test]
    fn edited_addresses_never_panic(
        a in presentation_address(),
        at in any::<prop::sample::Index>(),
        c in proptest::sample::select(b"\"'#/_|+=.Hx0a ".to_vec()),
        delete in any::<bool>(),
    ) {
        let mut s = a.to_string().into_bytes();
        let i = at.index(s.len() + 1);
        if delete && i < s.len() {
            s.remove(i);
        } else {
            s.insert(i, c);
        }
        total_and_stable(&String::from_utf8(s).unwrap());
    }
}
