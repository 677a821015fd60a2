#![no_main]

#[path = "../cotp_pair_ops.rs"]
mod cotp_pair_ops;

libfuzzer_sys::fuzz_target!(|s: cotp_pair_ops::Scenario| {
    cotp_pair_ops::run(s);
});
