//! Any bytes through the dispatcher with every flavour (see `fuzz_checks::dispatcher`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::dispatcher(data));
