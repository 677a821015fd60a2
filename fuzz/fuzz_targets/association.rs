#![no_main]

#[path = "../association_ops.rs"]
mod association_ops;

libfuzzer_sys::fuzz_target!(|s: association_ops::Scenario| {
    association_ops::run(s);
});
