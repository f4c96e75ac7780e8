//! Nothing lost under attack, end to end through the binary: `run --to personalize` against the
//! emulator injecting throttling, server errors, answers slower than the attempt timeout and
//! connections dropped before and after it accepts; and runs killed with SIGKILL at arbitrary moments,
//! resumed from their checkpoint. Every event must arrive; a resent one carries the original's eventId
//! (the emulator recognises it and does not accept it twice).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use synthetic_events::{Corpus, Mix};

mod common;
use common::{command, start_server_with_stderr, temp};

type Server = (std::process::Child, std::io::BufReader<std::process::ChildStderr>);

/// A realistic corpus, and the eventIds its PutEvents requests hold (from a dry run).
fn corpus(name: &str, events: usize) -> (std::path::PathBuf, BTreeSet<String>) {
    let path = temp(name);
    let mut bytes = Vec::new();
    for line in Corpus::new(21, Mix::Realistic).take(events) {
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
    }
    std::fs::write(&path, bytes).unwrap();
    let dry = command()
        .args(["run", "--to", "put-events", "--tracking-id", "t", "--bad-rows", "/dev/null"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(dry.status.success());
    let ids = String::from_utf8(dry.stdout)
        .unwrap()
        .lines()
        .flat_map(|l| {
            let request: Value = serde_json::from_str(l).unwrap();
            request["eventList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["eventId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    (path, ids)
}

/// The emulator with these faults, saving what it accepts to a fresh file: the process, its address,
/// its stderr, and the file.
fn start_emulator(
    save: &str,
    faults: &[&str],
) -> (std::process::Child, String, std::io::BufReader<std::process::ChildStderr>, std::path::PathBuf) {
    let save = temp(save);
    let _ = std::fs::remove_file(&save);
    let mut args = vec!["emulator", "--listen", "127.0.0.1:0", "--save", save.to_str().unwrap()];
    args.extend_from_slice(faults);
    let (child, url, stderr) = start_server_with_stderr(&args);
    (child, url, stderr, save)
}

/// eventId → how often the emulator accepted it (it saves only events it had not seen), waiting until
/// `expected` distinct ids arrived or a minute passed.
fn accepted(save: &Path, expected: usize) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut counts = BTreeMap::new();
        for line in std::fs::read_to_string(save).unwrap_or_default().lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
            *counts.entry(event["event"]["eventId"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
        if counts.len() >= expected || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every expected event arrived, and nothing else did.
fn assert_same_ids(counts: &BTreeMap<String, usize>, expected: &BTreeSet<String>) {
    let got: BTreeSet<String> = counts.keys().cloned().collect();
    let missing: Vec<&String> = expected.difference(&got).collect();
    let unexpected: Vec<&String> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{} of {} events missing (first: {:?}), {} unexpected (first: {:?})",
        missing.len(),
        expected.len(),
        missing.first(),
        unexpected.len(),
        unexpected.first()
    );
}

/// Interrupts the emulator and reads the statistics it prints on the way out.
fn stop((mut emulator, mut stderr_reader): Server) -> Value {
    use std::io::Read;
    let status = std::process::Command::new("kill").args(["-INT", &emulator.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    stderr_reader.read_to_string(&mut stderr).unwrap();
    emulator.wait().unwrap();
    let stats = stderr.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no stats in {stderr:?}"));
    serde_json::from_str(stats).unwrap()
}

#[test]
fn faults_lose_nothing_and_duplicates_keep_their_ids() {
    let (input, expected) = corpus("faults.tsv", 3000);
    let (emulator, url, stderr, save) = start_emulator(
        "faults-accepted.jsonl",
        &[
            "--throttle-rate",
            "0.2",
            "--error-rate",
            "0.05",
            "--slow-rate",
            "0.03",
            "--slow-ms",
            "900",
            "--drop-before-rate",
            "0.03",
            "--drop-after-rate",
            "0.03",
        ],
    );
    let dead = temp("faults-dead.jsonl");
    let output = command()
        .args(["run", "--to", "personalize", "--tracking-id", "t", "--endpoint-url", &url, "--bad-rows", "/dev/null"])
        .args(["--attempt-timeout-ms", "300", "--max-attempts", "30", "--dead-letters", dead.to_str().unwrap()])
        .arg(&input)
        .output()
        .unwrap();
    let summary = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{summary}");
    let counts = accepted(&save, expected.len());
    let stats = stop((emulator, stderr));

    assert_same_ids(&counts, &expected);
    assert!(counts.values().all(|&n| n == 1), "the emulator accepts no eventId twice");
    assert!(!dead.exists() && summary.contains("dead-lettered events: 0"), "{summary}");
    assert!(summary.contains(&format!("events sent: {}", expected.len())), "{summary}");
    // The faults did happen: calls were retried, and answers lost after acceptance were resent and
    // recognised by their eventIds.
    assert!(stats["duplicate_events"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["accepted_events"].as_u64().unwrap(), expected.len() as u64, "{stats}");
    let retries: u64 = summary.split("retries: ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(retries > 0, "{summary}");
    eprintln!("{} events expected, {} accepted, emulator {stats}, {summary}", expected.len(), counts.len());
}

#[test]
fn runs_killed_at_any_moment_resume_from_their_checkpoint() {
    let (input, expected) = corpus("checkpoint.tsv", 3000);
    let checkpoint = temp("run.checkpoint");
    let _ = std::fs::remove_file(&checkpoint);
    let (emulator, url, stderr, save) = start_emulator("checkpoint-accepted.jsonl", &["--throttle-rate", "0.1"]);
    let run = || {
        let mut run = command();
        run.args([
            "run",
            "--to",
            "personalize",
            "--tracking-id",
            "t",
            "--endpoint-url",
            &url,
            "--bad-rows",
            "/dev/null",
        ])
        .args(["--calls-per-second", "150", "--checkpoint", checkpoint.to_str().unwrap(), "--checkpoint-every", "97"])
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        run
    };
    // Killed (SIGKILL) after different times: before the first checkpoint, between checkpoints, and
    // while one may be written.
    let mut killed_midway = 0;
    for millis in [150, 450, 700, 330, 900] {
        let mut child = run().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(millis));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed_midway += 1;
        }
        child.wait().unwrap();
    }
    assert!(killed_midway >= 3, "the runs must be killed before they finish");
    let before_last: Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(before_last["complete"], false, "{before_last}");
    assert!(before_last["line"].as_u64().unwrap() > 0, "{before_last}");

    let last = run().output().unwrap();
    let summary = String::from_utf8(last.stderr).unwrap();
    assert!(last.status.success(), "{summary}");
    assert!(summary.contains("resuming after line"), "{summary}");
    let counts = accepted(&save, expected.len());
    let stats = stop((emulator, stderr));
    assert_same_ids(&counts, &expected);
    assert!(counts.values().all(|&n| n == 1));
    assert_eq!(stats["accepted_events"].as_u64().unwrap(), expected.len() as u64, "{stats}");

    eprintln!(
        "{killed_midway} runs killed; {} events expected, {} accepted; emulator {stats}",
        expected.len(),
        counts.len()
    );
    // Finished: running again sends nothing.
    let again = run().output().unwrap();
    assert!(String::from_utf8(again.stderr).unwrap().contains("nothing to send"));
}
