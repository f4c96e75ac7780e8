//! `Event::to_json` against every Go Analytics SDK vector in `fixtures/upstream/`.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::path::{Path, PathBuf};

use serde_json::Value;
use snowplow_enriched::Event;

fn upstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/upstream")
}

/// Equality of JSON values with every number compared as f64: the Go SDK decodes entity numbers into
/// float64 and prints `4000.0` as `4000`, which is the same value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn first_difference(ours: &Value, theirs: &Value) -> String {
    let (Value::Object(o), Value::Object(t)) = (ours, theirs) else {
        return format!("{ours} vs {theirs}");
    };
    for key in o.keys().chain(t.keys()) {
        if !o.get(key).zip(t.get(key)).is_some_and(|(a, b)| same(a, b)) {
            return format!("key {key}: ours {:?}, Go {:?}", o.get(key), t.get(key));
        }
    }
    String::new()
}

#[test]
fn to_json_matches_every_go_sdk_vector() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(upstream_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    folders.sort();
    for folder in folders.iter().filter(|p| p.is_dir()) {
        let mut files: Vec<_> = std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for tsv in files.iter().filter(|p| p.extension().is_some_and(|e| e == "tsv")) {
            let stem = tsv.file_stem().unwrap().to_str().unwrap();
            let lines: Vec<String> = std::fs::read_to_string(tsv).unwrap().lines().map(str::to_owned).collect();
            for (suffix, geo) in [("expected_go_sdk", false), ("expected_go_sdk_with_geo", true)] {
                let Some(expected) = ["json", "jsonl"]
                    .iter()
                    .map(|ext| folder.join(format!("{stem}.{suffix}.{ext}")))
                    .find(|p| p.exists())
                else {
                    continue;
                };
                let expected = std::fs::read_to_string(&expected).unwrap();
                let expected: Vec<&str> = expected.lines().collect();
                assert_eq!(expected.len(), lines.len(), "{}: line counts differ", tsv.display());
                for (n, (line, want)) in lines.iter().zip(expected).enumerate() {
                    let place = format!("{}:{} ({suffix})", tsv.display(), n + 1);
                    let ours = Event::parse(line.as_bytes())
                        .and_then(|e| if geo { e.to_json_with_geo() } else { e.to_json() });
                    match (ours, want.strip_prefix("ERROR: ")) {
                        (Err(_), Some(_)) => {}
                        (Ok(json), Some(message)) => failures
                            .push(format!("{place}: Go failed ({message}), we rendered {}", Value::Object(json))),
                        (Err(e), None) => failures.push(format!("{place}: we failed ({e}), Go rendered it")),
                        (Ok(json), None) => {
                            let theirs: Value = serde_json::from_str(want).unwrap();
                            let ours = Value::Object(json);
                            if !same(&ours, &theirs) {
                                failures.push(format!("{place}: {}", first_difference(&ours, &theirs)));
                            }
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} vectors differ:\n{}", failures.len(), failures.join("\n"));
    // Six single-event files (the Go SDK's own also with geo) and 37 synthetic lines, 27 also with geo.
    assert_eq!(checked, 7 + 37 + 27, "the set of vectors changed; update this count deliberately");
}
