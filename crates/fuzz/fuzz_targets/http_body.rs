//! Any bytes as an interaction request body (see `fuzz_checks::http_body`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::http_body(data));
