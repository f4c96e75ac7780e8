//! Stream records, plain, zstd and gzip (see `fuzz_checks::record_decoder`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::record_decoder(data));
