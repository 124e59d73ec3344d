//! Fuzz target `definitions_json`: the body is `tocsin_fuzz::definitions_json` (fuzz/src/lib.rs), shared with the replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tocsin_fuzz::definitions_json(data));
