//! Fuzz target `inbound`: the body is `tocsin_fuzz::inbound` (fuzz/src/lib.rs), shared with the replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tocsin_fuzz::inbound(data));
