//! Replays the fuzz oracles (`fuzz/oracles.rs`) over every saved input in
//! `testdata/fuzz_regression/<target>/` (what the fuzzers found) and `testdata/fuzz_seeds/<target>/`
//! (the seed corpus), and over the golden vectors, so findings stay fixed without cargo-fuzz.

#[path = "../fuzz/oracles.rs"]
mod oracles;

mod common;
use common::hex;

use std::path::Path;

/// Runs `oracle` over the saved inputs of `target`: crashes the fuzzers found
/// (`testdata/fuzz_regression/`) and the seed corpus (`testdata/fuzz_seeds/`).
fn replay(target: &str, oracle: fn(&[u8])) -> usize {
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

#[test]
fn saved_inputs_and_golden_vectors_pass_the_oracles() {
    let mut n = replay("tpkt", oracles::tpkt)
        + replay("cotp", oracles::cotp)
        + replay("cotp_stream", oracles::cotp_stream)
        + replay("session", oracles::session)
        + replay("presentation", oracles::presentation)
        + replay("acse", oracles::acse)
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
