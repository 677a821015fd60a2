#![no_main]

#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|tpdu: osi_stack::cotp::Tpdu<'_>| oracles::cotp_value(&tpdu));
