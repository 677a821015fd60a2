//! Replays the fuzz oracles (`fuzz/oracles.rs`) over every saved input in
//! `testdata/fuzz_regression/<target>/` (what the fuzzers found) and `testdata/fuzz_seeds/<target>/`
//! (the seed corpus), and over the golden vectors, so findings stay fixed without cargo-fuzz.

#[path = "../fuzz/oracles.rs"]
mod oracles;

#[cfg(feature = "arbitrary")]
#[path = "../fuzz/association_ops.rs"]
mod association_ops;

#[cfg(feature = "arbitrary")]
#[path = "../fuzz/cotp_pair_ops.rs"]
mod cotp_pair_ops;
#[cfg(feature = "arbitrary")]
#[path = "../fuzz/rts_ops.rs"]
mod rts_ops;
#[cfg(feature = "arbitrary")]
#[path = "../fuzz/session_pair_ops.rs"]
mod session_pair_ops;
#[cfg(feature = "arbitrary")]
#[path = "../fuzz/upper.rs"]
mod upper;

mod common;
use common::hex;

use std::path::Path;

/// Runs `oracle` over the saved inputs of `target`: crashes the fuzzers found
/// (`testdata/fuzz_regression/`) and the seed corpus (`testdata/fuzz_seeds/`).
fn replay(target: &str, mut oracle: impl FnMut(&[u8])) -> usize {
    let mut n = 0;
    for folder in ["testdata/fuzz_regression", "testdata/fuzz_seeds"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(folder)
            .join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            oracle(&data);
            n += 1;
        }
    }
    n
}

#[cfg(feature = "arbitrary")]
/// Runs `run` over `count` pseudo-random byte strings (xorshift from `seed`), the `i`-th of
/// `len(i)` octets; returns `count`.
fn pseudo_random(
    seed: u64,
    count: usize,
    len: impl Fn(usize) -> usize,
    mut run: impl FnMut(&[u8]),
) -> usize {
    let mut state = seed;
    for i in 0..count {
        let data: Vec<u8> = (0..len(i))
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        run(&data);
    }
    count
}

#[test]
fn saved_inputs_and_golden_vectors_pass_the_oracles() {
    let mut n = replay("tpkt", oracles::tpkt)
        + replay("cotp", oracles::cotp)
        + replay("cotp_stream", oracles::cotp_stream)
        + replay("session", oracles::session)
        + replay("presentation", oracles::presentation)
        + replay("acse", oracles::acse)
        + replay("stack", oracles::stack)
        + replay("dissect", oracles::dissect)
        + replay("rtse", oracles::rtse);
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/golden/cotp.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for v in golden["vectors"].as_array().unwrap() {
        let bytes = hex(v["tpkt"].as_str().unwrap());
        oracles::tpkt(&bytes);
        oracles::cotp(&bytes[4..]);
        oracles::cotp_stream(&bytes);
        n += 1;
    }
    assert!(n >= 300, "replayed {n} inputs");
}

/// Structured inputs (`arbitrary` feature): each file is the byte string libFuzzer turned into a
/// `Tpdu` value; the two saved ones once broke the round trip (a 0x00 parameter code in a CC,
/// an odd-length variable part in a normal-format RJ).
#[cfg(feature = "arbitrary")]
#[test]
fn structured_round_trip_inputs() {
    use arbitrary::{Arbitrary, Unstructured};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz_regression/cotp_roundtrip");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        // libfuzzer-sys builds the value the same way.
        let tpdu = osi_stack::cotp::Tpdu::arbitrary_take_rest(Unstructured::new(&data)).unwrap();
        oracles::cotp_value(&tpdu);
        n += 1;
    }
    assert!(n >= 2);
}

/// The `upper_roundtrip` target's inputs (`fuzz/upper.rs`): each file is the byte string
/// libFuzzer turned into a session, presentation, ACSE or RTSE value; every saved one, and a
/// fixed set of pseudo-random byte strings, must pass the layer's round-trip oracle. The seeds
/// must reach every layer.
#[cfg(feature = "arbitrary")]
#[test]
fn upper_round_trip_inputs() {
    use arbitrary::{Arbitrary, Unstructured};

    let mut layers = [0usize; 4];
    // The layer index of the value checked, `None` for an input too short for a value
    // (libfuzzer-sys builds the value the same way and skips those too).
    let run = |data: &[u8]| {
        let v = upper::Upper::arbitrary_take_rest(Unstructured::new(data)).ok()?;
        upper::check(&v);
        Some(match v {
            upper::Upper::Session(_) => 0,
            upper::Upper::Presentation(_) => 1,
            upper::Upper::Acse(_) => 2,
            upper::Upper::Rtse(_) => 3,
        })
    };
    let n = replay("upper_roundtrip", |data| {
        if let Some(i) = run(data) {
            layers[i] += 1;
        }
    });
    assert!(n >= 20, "replayed {n} inputs");
    assert!(layers.iter().all(|&k| k > 0), "seeds per layer: {layers:?}");
    pseudo_random(
        0x9e37_79b9_7f4a_7c15,
        2000,
        |i| 8 + i % 600,
        |data| {
            run(data);
        },
    );
}

/// The association scenario (`fuzz/association_ops.rs`) over saved inputs and over a fixed set of
/// pseudo-random byte strings, so the machine's invariants are checked without cargo-fuzz too.
#[cfg(feature = "arbitrary")]
#[test]
fn association_scenarios() {
    use arbitrary::{Arbitrary, Unstructured};

    let run = |data: &[u8]| {
        if let Ok(s) = association_ops::Scenario::arbitrary_take_rest(Unstructured::new(data)) {
            let _ = association_ops::run(s);
        }
    };
    let n = replay("association", run)
        + pseudo_random(0x2545_f491_4f6c_dd1d, 2000, |i| 16 + i % 400, run);
    assert!(n >= 2000);
}

/// The scenario checker on a hand-written happy path (association, data both ways, release),
/// then the same with one octet changed in each delivery, so deep states are checked too.
#[cfg(feature = "arbitrary")]
#[test]
fn association_scenario_happy_path_and_corruptions() {
    use association_ops::{Op, Scenario, Side};

    let deliver = |from, corrupt, at| Op::Deliver {
        from,
        chunk: 7,
        corrupt,
        at,
        value: 0xff,
    };
    for at in 0..40u16 {
        for corrupt_step in 0..6 {
            let c = |step| corrupt_step == step && at > 0;
            let ops = vec![
                Op::Associate { called_tsel: 1 },
                deliver(Side::Client, c(0), at),
                deliver(Side::Server, c(1), at),
                deliver(Side::Client, c(2), at),
                Op::Accept,
                deliver(Side::Server, c(3), at),
                Op::SendData {
                    context: 3,
                    len: 3000,
                },
                Op::ServerSend { len: 20 },
                deliver(Side::Client, c(4), at),
                deliver(Side::Server, false, 0),
                Op::Release,
                deliver(Side::Client, c(5), at),
                Op::ReleaseResponse(true),
                deliver(Side::Server, false, 0),
                Op::Wait {
                    side: Side::Server,
                    secs: 10,
                },
                Op::TransportClosed(Side::Server),
            ];
            let out = association_ops::run(Scenario {
                client_tpdu_exp: 1,
                server_tpdu_exp: 6,
                with_services: true,
                ops,
            });
            if at == 0 {
                use osi_stack::association::Event;
                let kinds = |v: &[Event]| {
                    v.iter()
                        .map(|e| {
                            format!("{e:?}")
                                .split(['(', ' '])
                                .next()
                                .unwrap()
                                .to_owned()
                        })
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    kinds(&out.client),
                    [
                        "TransportConnected",
                        "Associated",
                        "Data",
                        "Released",
                        "Closed"
                    ]
                );
                assert_eq!(
                    kinds(&out.server),
                    [
                        "TransportConnected",
                        "AssociateIndication",
                        "Associated",
                        "Data",
                        "ReleaseIndication",
                        "Released",
                        "Closed"
                    ]
                );
            }
        }
    }
}

/// The RTS scenario (`fuzz/rts_ops.rs`) over saved inputs and over a fixed set of pseudo-random
/// byte strings.
#[cfg(feature = "arbitrary")]
#[test]
fn rts_scenarios() {
    use arbitrary::{Arbitrary, Unstructured};

    let run = |data: &[u8]| {
        if let Ok(s) = rts_ops::Scenario::arbitrary_take_rest(Unstructured::new(data)) {
            let _ = rts_ops::run(s);
        }
    };
    let n = replay("rts", run) + pseudo_random(0x9e37_79b9_7f4a_7c15, 300, |i| 16 + i % 300, run);
    assert!(n >= 300);
}

/// The RTS scenario checker on hand-written paths in every mode: open, transfers both ways with
/// checkpoints, a cut in the middle and a recovering reopen, close; every message arrives.
#[cfg(feature = "arbitrary")]
#[test]
fn rts_scenario_transfers_and_recovery() {
    use rts_ops::{Op, Scenario, Side};

    for mode in 0..3u8 {
        for cut in [false, true] {
            let mut ops = vec![
                Op::Open,
                Op::Pump,
                Op::Accept,
                Op::Pump,
                Op::Transfer {
                    side: Side::Client,
                    len: 3000,
                    fill: 1,
                },
                Op::Transfer {
                    side: Side::Client,
                    len: 10,
                    fill: 2,
                },
            ];
            if cut {
                ops.extend([
                    Op::Deliver {
                        from: Side::Client,
                        max: 100,
                        corrupt: false,
                        at: 0,
                        value: 0,
                    },
                    Op::Pump,
                    Op::Cut { pause_secs: 1 },
                    Op::Open,
                    Op::Pump,
                    Op::Accept,
                ]);
            }
            ops.extend([
                Op::Pump,
                Op::Pump,
                Op::TurnGive(Side::Client),
                Op::Pump,
                Op::Transfer {
                    side: Side::Server,
                    len: 2500,
                    fill: 3,
                },
                Op::Pump,
                Op::Pump,
            ]);
            let out = rts_ops::run(Scenario {
                mode,
                checkpoint_kb: 1,
                window: 1,
                two_way_alternate: true,
                local_initial_turn: true,
                transfer_timeout: false,
                ops,
            });
            assert_eq!(out, [(2, 2), (1, 1)], "mode {mode}, cut {cut}");
        }
    }
}

/// The transport-pair scenario (`fuzz/cotp_pair_ops.rs`) over saved inputs and pseudo-random
/// byte strings.
#[cfg(feature = "arbitrary")]
#[test]
fn cotp_pair_scenarios() {
    use arbitrary::{Arbitrary, Unstructured};

    let run = |data: &[u8]| {
        if let Ok(s) = cotp_pair_ops::Scenario::arbitrary_take_rest(Unstructured::new(data)) {
            let _ = cotp_pair_ops::run(s);
        }
    };
    let n =
        replay("cotp_pair", run) + pseudo_random(0x9e37_79b9_7f4a_7c15, 2000, |i| 8 + i % 300, run);
    assert!(n >= 2000);
}

/// The transport-pair checker on a hand-written run: connect, TSDUs of 0 to 64 KiB both ways in
/// one buffer and in parts, delivered whole and in odd chunks; then the same run with one octet
/// of the second delivery changed, which must end the connection, never panic.
#[cfg(feature = "arbitrary")]
#[test]
fn cotp_pair_scenario_transfers_and_corruption() {
    use cotp_pair_ops::{Op, Scenario, Side};

    let ops = |corrupt: bool| {
        let mut ops = vec![
            Op::Connect { called_tsel: 2 },
            Op::Deliver {
                from: Side::Client,
                chunk: 0,
                corrupt: false,
                at: 0,
                value: 0,
            },
            Op::Accept,
            Op::Deliver {
                from: Side::Server,
                chunk: 3,
                corrupt,
                at: 9,
                value: 0xee,
            },
        ];
        for (i, len) in [0u16, 1, 125, 1000, 8192, 65_535].into_iter().enumerate() {
            let from = if i % 2 == 0 {
                Side::Client
            } else {
                Side::Server
            };
            ops.push(Op::Send {
                from,
                len,
                parts: (i % 3) as u8,
            });
            ops.push(Op::Deliver {
                from,
                chunk: 7 * i as u16,
                corrupt: false,
                at: 0,
                value: 0,
            });
        }
        ops
    };
    let clean = cotp_pair_ops::run(Scenario {
        client_tpdu_exp: 3,
        server_tpdu_exp: 6,
        ops: ops(false),
    });
    assert_eq!(clean.delivered, 6, "{:?} {:?}", clean.client, clean.server);
    let bad = cotp_pair_ops::run(Scenario {
        client_tpdu_exp: 3,
        server_tpdu_exp: 6,
        ops: ops(true),
    });
    assert!(bad.delivered < 6);
}

/// The session-pair scenario (`fuzz/session_pair_ops.rs`) over saved inputs and pseudo-random
/// byte strings.
#[cfg(feature = "arbitrary")]
#[test]
fn session_pair_scenarios() {
    use arbitrary::{Arbitrary, Unstructured};

    let run = |data: &[u8]| {
        if let Ok(s) = session_pair_ops::Scenario::arbitrary_take_rest(Unstructured::new(data)) {
            let _ = session_pair_ops::run(s);
        }
    };
    let n = replay("session_pair", run)
        + pseudo_random(0xd1b5_4a32_d192_ed03, 2000, |i| 8 + i % 300, run);
    assert!(n >= 2000);
}

/// The session-pair checker on a hand-written run: connect with half-duplex and activity
/// management, data, the data token given, S-CONTROL-GIVE, an activity with a minor
/// synchronisation point, and an orderly release (the responder, having sent DN, waits for the
/// transport to close: no `Closed` yet).
#[cfg(feature = "arbitrary")]
#[test]
fn session_pair_scenario_tokens_activities_release() {
    use session_pair_ops::{Op, Scenario, Side};

    let deliver = |from| Op::Deliver {
        from,
        count: 7,
        corrupt: false,
        at: 0,
        value: 0,
    };
    let ops = vec![
        // Half duplex (0x0001), minor sync (0x0008), activity management (0x0040); no token
        // setting item: every token starts on the initiator's side.
        Op::Connect {
            units: 0x0049,
            setting: 0,
            v1: false,
        },
        deliver(Side::Client),
        Op::Accept,
        deliver(Side::Server),
        Op::Data {
            from: Side::Client,
            len: 100,
        },
        deliver(Side::Client),
        Op::GiveTokens {
            from: Side::Client,
            tokens: 0x15,
        },
        deliver(Side::Client),
        Op::Data {
            from: Side::Server,
            len: 5000,
        },
        deliver(Side::Server),
        Op::GiveControl(Side::Server),
        deliver(Side::Server),
        Op::ActivityStart(Side::Client),
        deliver(Side::Client),
        Op::Data {
            from: Side::Client,
            len: 10,
        },
        Op::SyncMinor(Side::Client),
        deliver(Side::Client),
        Op::SyncMinorResponse {
            side: Side::Server,
            serial: 1,
        },
        deliver(Side::Server),
        Op::ActivityEnd(Side::Client),
        deliver(Side::Client),
        Op::ActivityEndResponse(Side::Server),
        deliver(Side::Server),
        Op::Release(Side::Client),
        deliver(Side::Client),
        Op::ReleaseResponse {
            side: Side::Server,
            accept: true,
        },
        deliver(Side::Server),
    ];
    let out = session_pair_ops::run(Scenario { ops });
    use osi_stack::session::connection::Event;
    let kinds = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                format!("{e:?}")
                    .split(['(', ' '])
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(out.delivered, 3, "{:?}\n{:?}", out.client, out.server);
    assert_eq!(
        kinds(&out.client),
        [
            "Connected",
            "Data",
            "ControlGiven",
            "SyncMinorConfirmed",
            "ActivityEnded",
            "Released",
            "Closed"
        ]
    );
    assert_eq!(
        kinds(&out.server),
        [
            "ConnectIndication",
            "Connected",
            "Data",
            "TokensGiven",
            "ControlGiveConfirmed",
            "ActivityStarted",
            "Data",
            "SyncMinor",
            "ActivityEnd",
            "ReleaseIndication"
        ]
    );
}
