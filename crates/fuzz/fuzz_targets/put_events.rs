//! Interactions from fuzz bytes, translated and batched (see `fuzz_checks::put_events`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::put_events(data));
