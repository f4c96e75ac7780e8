//! Any bytes as an enriched line (see `fuzz_checks::enriched_line`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::enriched_line(data));
