#![no_main]

#[path = "../session_pair_ops.rs"]
mod session_pair_ops;

libfuzzer_sys::fuzz_target!(|s: session_pair_ops::Scenario| {
    session_pair_ops::run(s);
});
