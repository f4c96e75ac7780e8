//! Differential test: `snowplow-personalize run --outcomes` against the seed pipeline in Node
//! (`../shared/reference/seed-pipeline.js`, the seed transform with its four fixes and the official JS
//! Analytics SDK) over a generated corpus of mixed events. Every line must get the same verdict and
//! every interaction the same JSON.
//!
//! Needs Node and npm (`setup.sh` installs the SDK once into /tmp/sp-reference). On a machine without
//! them the test fails and says so; `SP_SKIP_DIFFERENTIAL=1` skips it deliberately.
//!
//! The corpus is 8,000 events; `SP_DIFFERENTIAL_EVENTS=N` compares N instead (400,000 take about two
//! minutes), as after a change to the scanner or a mapper.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use interactions::skip;
use serde_json::Value;
use synthetic_events::{Corpus, Mix};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}

/// The corpus's events: three quarters of the uniform mix, then the realistic mix.
fn corpus() -> impl Iterator<Item = Vec<u8>> {
    let events = match std::env::var("SP_DIFFERENTIAL_EVENTS") {
        Ok(n) => n.parse().expect("SP_DIFFERENTIAL_EVENTS is a number of events"),
        Err(_) => 8000,
    };
    let uniform = events * 3 / 4;
    Corpus::new(11, Mix::Uniform).take(uniform).chain(Corpus::new(12, Mix::Realistic).take(events - uniform))
}

/// The reference reads its whole input into one string, which Node caps at 512 MiB (about 250,000
/// events), so a larger corpus is compared in pieces of this many lines; smaller pieces also keep
/// the two sides' parsed outcomes small.
const PIECE: usize = 50_000;

/// The corpus as pieces of input of at most [`PIECE`] lines.
fn pieces() -> impl Iterator<Item = Vec<u8>> {
    let mut lines = corpus();
    std::iter::from_fn(move || {
        let mut out = Vec::new();
        for line in lines.by_ref().take(PIECE) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        (!out.is_empty()).then_some(out)
    })
}

fn run_with_stdin(command: &mut Command, input: &[u8]) -> Vec<u8> {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The reference's verdict vocabulary for one of our outcomes.
fn as_reference_would_say(ours: &Value) -> (String, Option<Value>) {
    let status = ours["status"].as_str().unwrap();
    match status {
        "interaction" => ("interaction".into(), Some(ours["interaction"].clone())),
        "filtered" => ("filtered".into(), None),
        "bad" => ("error".into(), None),
        "skipped" => {
            let reason = ours["reason"].as_str().unwrap();
            // The seed transform gives one reason for every mapper-level skip; the shared rules keep theirs.
            let reason = if reason == skip::NO_ITEM_IDS || reason == skip::NO_SESSION_ID {
                reason
            } else {
                "not a recognised interaction"
            };
            ("skipped".into(), Some(Value::String(reason.into())))
        }
        other => panic!("unknown status {other}"),
    }
}

#[test]
fn agrees_with_the_seed_pipeline() {
    if std::env::var_os("SP_SKIP_DIFFERENTIAL").is_some() {
        eprintln!("SKIPPED: differential test disabled by SP_SKIP_DIFFERENTIAL");
        return;
    }
    let reference = reference_dir();
    assert!(
        reference.join("seed-pipeline.js").exists(),
        "the reference pipeline is not at {}; clone the project beside shared/ or set SP_SKIP_DIFFERENTIAL=1",
        reference.display()
    );
    let setup = Command::new("bash").arg(reference.join("setup.sh")).output().unwrap();
    assert!(
        setup.status.success(),
        "setup.sh failed (Node and npm are needed): {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let sdk_dir = String::from_utf8(setup.stdout).unwrap().trim().to_owned();

    let mut disagreements = Vec::new();
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut flavours: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines = 0;
    for input in pieces() {
        let theirs = json_lines(&run_with_stdin(
            Command::new("node").arg(reference.join("seed-pipeline.js")).env("SP_REFERENCE_DIR", &sdk_dir),
            &input,
        ));
        let ours = json_lines(&run_with_stdin(
            Command::new(env!("CARGO_BIN_EXE_snowplow-personalize")).args([
                "run",
                "--outcomes",
                "--bad-rows",
                "/dev/null",
            ]),
            &input,
        ));
        assert_eq!(theirs.len(), ours.len(), "different numbers of outcome lines");
        for (theirs, ours) in theirs.iter().zip(&ours) {
            assert_eq!(theirs["line"], ours["line"]);
            let status = theirs["status"].as_str().unwrap().to_owned();
            let detail = match status.as_str() {
                "interaction" => Some(theirs["interaction"].clone()),
                "skipped" => Some(theirs["reason"].clone()),
                _ => None,
            };
            let (our_status, our_detail) = as_reference_would_say(ours);
            if (status.clone(), detail) != (our_status, our_detail) {
                // Line numbers restart with each piece; this is the line's number in the corpus.
                let line = lines + theirs["line"].as_u64().unwrap() as usize;
                disagreements.push(format!("line {line}:\n  reference: {theirs}\n  ours:      {ours}"));
            }
            let reason = if status == "skipped" { theirs["reason"].as_str().unwrap_or("") } else { "" };
            *verdicts.entry(format!("{status} {reason}")).or_default() += 1;
            if let Some(flavour) = ours["flavour"].as_str().filter(|_| status == "interaction") {
                *flavours.entry(flavour.to_owned()).or_default() += 1;
            }
        }
        lines += ours.len();
    }
    eprintln!("differential: {lines} lines, {} disagreements", disagreements.len());
    for (verdict, n) in &verdicts {
        eprintln!("  {n:>6}  {verdict}");
    }
    for (flavour, n) in &flavours {
        eprintln!("  {n:>6}  interactions from {flavour}");
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} lines disagree; the first ones:\n{}",
        disagreements.len(),
        lines,
        disagreements.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    // The corpus must exercise every verdict and every flavour, or agreement means little.
    for verdict in [
        "interaction ",
        "filtered ",
        "error ",
        "skipped no item ids",
        "skipped no session id",
        "skipped not a recognised interaction",
    ] {
        assert!(verdicts.get(verdict).copied().unwrap_or(0) >= 10, "too few {verdict:?}: {verdicts:?}");
    }
    assert_eq!(flavours.len(), 5, "{flavours:?}");
}
