//! The X.400 "ping" of the captures (`x400-ping-success.pcap`, `x400-ping-refuse.pcap`: an MTA
//! opens an RTS association with an MTA-bind, the peer accepts or refuses) as osi-stack emits
//! it, checked against tshark's verdict on the same bytes.
//!
//! Two in-memory `rtse::Rts` machines play both sides in 1988 normal mode with the capture's
//! parameters (T-selectors "X400-88", checkpoint size 63, monologue, the capture's MTA-bind
//! argument as the `open` data):
//!
//! - `success`: CR, CC, CN (CP + AARQ + RTORQ), AC (CPA + AARE + RTOAC), FN (RLRQ), DN (RLRE);
//! - `refuse`: CR, CC, CN (CP + AARQ + RTORQ), RF (CPR + AARE rejected + RTORJ).
//!
//! `testdata/golden/x400-ping-emitted.json` holds those frames and what tshark 4.0.17 made of
//! them (`testdata/golden/gen_x400_ping.py` builds `x400-ping-emitted.pcap` from the frames and
//! runs tshark once; the test never calls tshark). The test checks that the crate still emits
//! exactly those octets, so tshark's verdict applies to them, and that the verdict is clean:
//! no malformed frame, no expert information of warning or error severity, and the fields
//! tshark decoded are the ones we put in.
//!
//! After a deliberate change of the emitted bytes: `OSI_BLESS=1 cargo test --all-features
//! --test x400_ping_emitted` writes `x400-ping-emitted.frames.json`, then run
//! `python3 testdata/golden/gen_x400_ping.py`.

use std::time::Instant;

use bytes::Bytes;
use osi_stack::address::TSel;
use osi_stack::association::{Config, Dispatch};
use osi_stack::rts::{MtaBind, MtaBindError};
use osi_stack::rtse::{ConnectorProfile, RefuseReason, Rts, RtsEvent, RtsSettings, TransferState};
use serde_json::{Value, json};

/// The MTA-bind argument of `x400-ping-refuse.pcap` frame 6 (RTORQ `open`): authenticated,
/// initiator-name "percival.smhs.co.uk", initiator-credentials simple " ".
const BIND: &str = "b01ca11a8013706572636976616c2e736d68732e636f2e756ba103160120";
/// The MTA-bind result of `x400-ping-success.pcap` frame 7 (RTOAC `open`): responder-name
/// "guinevere.smhs.co.uk", responder-credentials simple "merlin".
const BIND_RESULT: &str =
    "b122a12080146775696e65766572652e736d68732e636f2e756ba10816066d65726c696e";
/// The RTORJ `userDataRJ` of `x400-ping-refuse.pcap` frame 7 (the MTA-bind error
/// authentication-error).
const BIND_ERROR: &str = "b203020102";

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/golden/x400-ping-emitted.json"
);
const FRAMES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/golden/x400-ping-emitted.frames.json"
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The connector profile of the captures' initiator.
fn profile() -> ConnectorProfile {
    let mut p = ConnectorProfile::new(
        "\"\"/\"\"/\"X400-88\"/Internet=192.168.0.4+102"
            .parse()
            .unwrap(),
    );
    p.checkpoint_size_kb = 63;
    p.two_way_alternate = false;
    p
}

/// One direction's transmits, in order: (client to server?, octets).
type Frames = Vec<(bool, Bytes)>;

/// Runs one ping; `accept` decides the responder's answer.
fn ping(accept: bool) -> Frames {
    let now = Instant::now();
    let profile = profile();
    let settings = RtsSettings::from_profile(&profile);
    let mut client = Rts::initiator(profile.config(), settings.clone(), TransferState::new());
    let mut server = Rts::responder(Config::default(), Dispatch::default(), None, settings);
    server.handle_transport_accepted(now);
    let mut request = profile
        .associate_request(None)
        .unwrap()
        .expect("1988 normal mode has an association request");
    request.calling_tsel = Some("\"X400-88\"".parse::<TSel>().unwrap());
    // The library's MTA-bind encoders write the captures' octets (the frames tshark checks).
    let bind = MtaBind::Authenticated {
        name: b"percival.smhs.co.uk",
        password: Some(b" "),
    }
    .encode_argument()
    .unwrap();
    assert_eq!(bind, unhex(BIND));
    let result = MtaBind::Authenticated {
        name: b"guinevere.smhs.co.uk",
        password: Some(b"merlin"),
    }
    .encode_result()
    .unwrap();
    assert_eq!(result, unhex(BIND_RESULT));
    let error = MtaBindError::AUTHENTICATION_ERROR.encode();
    assert_eq!(error, unhex(BIND_ERROR));
    client.open(request, Some(&bind), now).unwrap();

    let mut frames = Frames::new();
    let mut answered = false;
    let mut released = false;
    for _round in 0..20 {
        let mut moved = false;
        while let Some(b) = client.poll_transmit() {
            server.handle_input(&b, now);
            frames.push((true, b));
            moved = true;
        }
        while let Some(e) = server.poll_event() {
            if let RtsEvent::OpenIndication(ind) = e {
                assert_eq!(ind.user_data.as_deref(), Some(&bind[..]));
                assert_eq!(ind.checkpoint_size_kb, 63);
                if accept {
                    server.accept_with(None, Some(&result), now).unwrap();
                } else {
                    server
                        .reject_with(RefuseReason::VALIDATION_FAILURE, Some(&error), now)
                        .unwrap();
                }
                answered = true;
            }
        }
        while let Some(b) = server.poll_transmit() {
            client.handle_input(&b, now);
            frames.push((false, b));
            moved = true;
        }
        while let Some(e) = client.poll_event() {
            match e {
                RtsEvent::Opened(o) => {
                    assert!(accept);
                    assert_eq!(o.user_data.as_deref(), Some(&unhex(BIND_RESULT)[..]));
                    client.close(now).unwrap();
                }
                RtsEvent::Refused { user_data, .. } => {
                    assert!(!accept);
                    assert_eq!(user_data.as_deref(), Some(&unhex(BIND_ERROR)[..]));
                }
                RtsEvent::Released => released = true,
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    assert!(answered, "the responder saw the open");
    assert_eq!(released, accept, "released after accepting");
    frames
}

fn as_json(frames: &Frames) -> Value {
    Value::Array(
        frames
            .iter()
            .map(|(c2s, b)| json!({"from": if *c2s { "client" } else { "server" }, "hex": hex(b)}))
            .collect(),
    )
}

fn emitted() -> Value {
    json!({"success": as_json(&ping(true)), "refuse": as_json(&ping(false))})
}

#[test]
fn emitted_ping_is_what_tshark_checked() {
    let now = emitted();
    if std::env::var_os("OSI_BLESS").is_some() {
        std::fs::write(FRAMES, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        eprintln!("wrote {FRAMES}; now run python3 testdata/golden/gen_x400_ping.py");
        return;
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
    for name in ["success", "refuse"] {
        let ours = now[name].as_array().unwrap();
        let theirs = golden["connections"][name].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}: number of transmits");
        for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(o["from"], t["from"], "{name} #{i}");
            assert_eq!(
                o["hex"], t["hex"],
                "{name} #{i}: the crate emits other octets than tshark checked; see the module \
                 docs to regenerate"
            );
        }
    }
}

/// Every frame tshark dissected, by connection.
fn verdicts<'a>(golden: &'a Value, name: &str) -> &'a Vec<Value> {
    golden["tshark"][name].as_array().unwrap()
}

#[test]
fn tshark_found_nothing_wrong() {
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
    for name in ["success", "refuse"] {
        let v = verdicts(&golden, name);
        assert!(!v.is_empty());
        for f in v {
            assert_eq!(f["malformed"], false, "{name}: {f}");
            let serious: Vec<&Value> = f["expert"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| matches!(e["severity"].as_str(), Some("warning" | "error")))
                .collect();
            assert!(
                serious.is_empty(),
                "{name}: expert information {serious:?} in {f}"
            );
        }
    }
}

/// What tshark decoded is what the machines were given.
#[test]
fn tshark_decoded_our_values() {
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
    let find = |name: &str, key: &str| -> Vec<String> {
        verdicts(&golden, name)
            .iter()
            .filter_map(|f| f["fields"][key].as_array())
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    for name in ["success", "refuse"] {
        // The CR's called T-selector, the CP's contexts, the RTORQ and the MTA-bind inside it.
        assert!(
            find(name, "cotp.dst-tsap").iter().any(|t| t == "X400-88"),
            "{name}"
        );
        assert!(
            find(name, "cotp.src-tsap").iter().any(|t| t == "X400-88"),
            "{name}"
        );
        // RTORQ (and RTOAC, which accepts the proposal).
        let cp = find(name, "rtse.checkpointSize");
        assert!(
            !cp.is_empty() && cp.iter().all(|c| c == "63"),
            "{name}: {cp:?}"
        );
        assert!(find(name, "pres.abstract_syntax_name").contains(&"2.6.0.2.12".to_owned()));
        assert!(
            find(name, "p1.authenticated.initiator-name") == ["percival.smhs.co.uk"],
            "{name}: {:?}",
            find(name, "p1.authenticated.initiator-name")
        );
    }
    // The answers: RTOAC in an accepted AARE, RTORJ in a rejected one.
    assert_eq!(find("success", "acse.result"), ["0"]);
    assert!(!find("success", "rtse.rtoac_apdu_element").is_empty());
    assert!(matches!(find("refuse", "acse.result").as_slice(), [r] if r != "0"));
    assert!(!find("refuse", "rtse.rtorj_apdu_element").is_empty());
}
