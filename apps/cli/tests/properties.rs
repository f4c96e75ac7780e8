//! Property: whatever bytes `snowplow-personalize run` is fed, stdout holds only interaction JSON lines
//! with exactly the seed's keys, the bad-rows file only well-formed bad rows, and the counts add up to
//! the lines read. Inputs mix real enriched lines, lines with bytes flipped, cut or spliced, and noise.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_json::Value;
use synthetic_events::{Corpus, Mix};

fn real_lines() -> Vec<Vec<u8>> {
    Corpus::new(11, Mix::Uniform).take(200).collect()
}

/// One input line: a real event, a damaged one, or noise.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let lines = real_lines();
    let n = lines.len();
    let real = (0..n).prop_map({
        let lines = lines.clone();
        move |i| lines[i].clone()
    });
    let damaged = (0..n, proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)).prop_map({
        let lines = lines.clone();
        move |(i, edits)| {
            let mut line = lines[i].clone();
            for (at, byte) in edits {
                let at = at.index(line.len());
                line[at] = byte;
            }
            line
        }
    });
    let cut = (0..n, any::<prop::sample::Index>()).prop_map(move |(i, at)| {
        let line = &lines[i];
        line[..at.index(line.len())].to_vec()
    });
    let noise = proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![3 => real, 3 => damaged, 1 => cut, 1 => noise]
}

fn input() -> impl Strategy<Value = (Vec<Vec<u8>>, bool, bool)> {
    (proptest::collection::vec(line(), 0..40), any::<bool>(), any::<bool>())
}

/// Lines as `run` counts them: every newline ends one, and a last line without one counts too.
fn lines_in(bytes: &[u8]) -> u64 {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'))
}

fn summary_number(summary: &str, key: &str) -> u64 {
    let first = summary.lines().next().unwrap();
    let at = first.find(key).unwrap() + key.len();
    first[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn run_gives_only_interactions_and_bad_rows((lines, final_newline, two_threads) in input()) {
        let mut bytes = lines.join(&b'\n');
        if final_newline && !bytes.is_empty() {
            bytes.push(b'\n');
        }
        let dir = std::env::temp_dir().join(format!("sp-properties-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad_rows = dir.join("bad-rows.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_snowplow-personalize"))
            .args(["run", "--threads", if two_threads { "2" } else { "1" }, "--max-line-bytes", "4000"])
            .arg("--bad-rows")
            .arg(&bad_rows)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let output = child.wait_with_output().unwrap();
        prop_assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

        let stdout = String::from_utf8(output.stdout).unwrap();
        let mut interactions = 0;
        for line in stdout.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            keys.retain(|k| !matches!(*k, "user_id" | "impression_id"));
            prop_assert_eq!(keys, ["event_id", "event_type", "item_ids", "sent_at", "session_id"]);
            prop_assert!(!value["item_ids"].as_array().unwrap().is_empty());
            interactions += 1;
        }
        let rows = std::fs::read_to_string(&bad_rows).unwrap();
        let mut bad = 0;
        for row in rows.lines() {
            let value: Value = serde_json::from_str(row).unwrap();
            prop_assert_eq!(&value["file"], "-");
            let line = value["line"].as_u64().unwrap();
            prop_assert!(line >= 1 && line <= lines_in(&bytes));
            prop_assert!(!value["error"].as_str().unwrap().is_empty());
            bad += 1;
        }

        let summary = String::from_utf8(output.stderr).unwrap();
        let read = summary_number(&summary, "events read: ");
        prop_assert_eq!(read, lines_in(&bytes));
        prop_assert_eq!(summary_number(&summary, "interactions: "), interactions);
        prop_assert_eq!(summary_number(&summary, "bad rows: "), bad);
        let (filtered, skipped) = (summary_number(&summary, "filtered: "), summary_number(&summary, "skipped: "));
        prop_assert_eq!(filtered + interactions + skipped + bad, read, "{}", summary);
    }
}
