//! Every fuzz target's check over its seeds and over every input a fuzzer ever found
//! (`fixtures/fuzz/<target>/`), in the ordinary test suite: what libFuzzer once broke stays fixed.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use fuzz_checks::TARGETS;
use fuzz_checks::seeds::seeds;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

#[test]
fn every_target_holds_on_its_seeds() {
    for (name, check) in TARGETS {
        let seeds = seeds(name, fixtures()).unwrap();
        assert!(seeds.len() >= 10, "{name}: only {} seeds", seeds.len());
        for seed in &seeds {
            check(seed);
        }
    }
}

#[test]
fn every_past_finding_stays_fixed() {
    let dir = fixtures().join("fuzz");
    for (name, check) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            check(&std::fs::read(&path).unwrap());
        }
    }
}
