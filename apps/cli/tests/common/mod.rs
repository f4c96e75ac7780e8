//! Helpers shared by the binary's integration tests.

#![allow(dead_code, unreachable_pub)] // Each test crate uses its own subset.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn demo() -> PathBuf {
    root().join("fixtures/demo/events.tsv")
}

pub fn bin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowplow-personalize"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sp-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The binary, with AWS settings that keep the SDK off the network.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_snowplow-personalize"));
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// Starts a long-running subcommand and returns it with the `http://…` address its first stderr line
/// announces.
pub fn start_server(args: &[&str]) -> (std::process::Child, String) {
    let (child, url, _) = start_server_with_stderr(args);
    (child, url)
}

/// As [`start_server`], also handing back the rest of the server's stderr.
pub fn start_server_with_stderr(
    args: &[&str],
) -> (std::process::Child, String, std::io::BufReader<std::process::ChildStderr>) {
    use std::io::{BufRead, BufReader};
    let mut child = command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "server ended before announcing its address");
    }
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap();
    let base = url.trim_end_matches("/interaction/{dataset_group}").to_owned();
    (child, base, reader)
}

/// The first `n` events a running `emulator` prints. The emulator runs until it is killed, so a run
/// that sent fewer would leave a plain read waiting forever; this fails the test after a minute
/// instead, saying how many came.
pub fn accepted_lines(emulator: &mut std::process::Child, n: usize) -> Vec<Value> {
    use std::io::{BufRead, BufReader};
    let mut reader = BufReader::new(emulator.stdout.take().unwrap());
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..n {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || lines.send(line).is_err() {
                break;
            }
        }
    });
    (0..n)
        .map(|i| {
            let line = received
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("the emulator accepted {i} of {n} events ({e})"));
            serde_json::from_str(&line).unwrap()
        })
        .collect()
}

/// `serve` with basic auth `snowbridge:pa55`, delivering to `emulator_url`, with `extra` arguments;
/// the process, its address and its stderr.
pub fn serve_with(
    emulator_url: &str,
    extra: &[&str],
) -> (std::process::Child, String, std::io::BufReader<std::process::ChildStderr>) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--basic-auth", "snowbridge:pa55"];
    args.extend(["--endpoint-url", emulator_url]);
    args.extend_from_slice(extra);
    start_server_with_stderr(&args)
}

/// [`serve_with`] the dataset group `shop` configured.
pub fn serve_shop(emulator_url: &str) -> (std::process::Child, String, std::io::BufReader<std::process::ChildStderr>) {
    let settings = temp("serve-shop.toml");
    std::fs::write(&settings, "[personalize]\ntracking_ids = { shop = \"t-shop\" }\n").unwrap();
    serve_with(emulator_url, &["--settings", settings.to_str().unwrap()])
}
