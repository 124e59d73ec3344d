//! Fuzz target `template`: the body is `tocsin_fuzz::template` (fuzz/src/lib.rs), shared with the replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tocsin_fuzz::template(data));
