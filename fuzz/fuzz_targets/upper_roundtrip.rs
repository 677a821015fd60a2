#![no_main]

#[path = "../oracles.rs"]
mod oracles;
#[path = "../upper.rs"]
mod upper;

libfuzzer_sys::fuzz_target!(|v: upper::Upper<'_>| upper::check(&v));
