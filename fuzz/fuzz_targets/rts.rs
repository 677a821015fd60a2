#![no_main]

#[path = "../rts_ops.rs"]
mod rts_ops;

libfuzzer_sys::fuzz_target!(|s: rts_ops::Scenario| {
    rts_ops::run(s);
});
