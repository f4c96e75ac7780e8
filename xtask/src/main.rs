//! `cargo xtask <task>`: automation that is easier to read in Rust than in shell.
//!
//! - `fixtures`: rewrites every generated fixture: the demo events and, through the golden test with
//!   `UPDATE_FIXTURES=1`, each case's `event.tsv` and `expected.json`. Review the diff before committing.
//! - `corpus --events N [--mix realistic|uniform] [--seed S] [--out FILE]`: writes a synthetic corpus of
//!   enriched events (stdout by default).
//! - `lambda`: builds the Lambda's deployment zip with cargo-lambda (`pip install cargo-lambda`), for
//!   `deploy/template.yaml`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use synthetic_events::{Corpus, DEMO_EVENTS, DEMO_SEED, Mix};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "fixtures" => fixtures(),
        "corpus" => corpus(&rest),
        "lambda" => lambda(),
        _ => {
            eprintln!(
                "usage: cargo xtask fixtures | cargo xtask corpus --events N [--mix realistic|uniform] [--seed S] [--out FILE]"
            );
            bail!("unknown task {task:?}")
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn fixtures() -> anyhow::Result<()> {
    let demo = root().join("fixtures/demo/events.tsv");
    std::fs::create_dir_all(demo.parent().unwrap_or(&root()))?;
    write_corpus(&mut BufWriter::new(File::create(&demo)?), DEMO_EVENTS, Mix::Realistic, DEMO_SEED)?;
    eprintln!("wrote {}", demo.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["test", "--quiet", "-p", "flavours", "--test", "golden"])
        .env("UPDATE_FIXTURES", "1")
        .status()
        .context("cannot run cargo test")?;
    if !status.success() {
        bail!("the golden test failed while updating fixtures");
    }
    eprintln!("fixtures rewritten; review them with `git diff fixtures/`");
    Ok(())
}

fn lambda() -> anyhow::Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["lambda", "build", "--release", "--bin", "snowplow-personalize-lambda", "--output-format", "zip"])
        .status()
        .context("cannot run cargo lambda (pip install cargo-lambda)")?;
    if !status.success() {
        bail!("cargo lambda build failed");
    }
    let zip = root().join("target/lambda/snowplow-personalize-lambda/bootstrap.zip");
    let size = std::fs::metadata(&zip).with_context(|| format!("{} was not written", zip.display()))?.len();
    eprintln!("wrote {} ({:.1} MB); deploy with deploy/template.yaml", zip.display(), size as f64 / 1e6);
    Ok(())
}

fn corpus(args: &[String]) -> anyhow::Result<()> {
    let mut events = None;
    let mut mix = Mix::Realistic;
    let mut seed = 1;
    let mut out = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => events = Some(value()?.parse().context("--events")?),
            "--mix" => mix = value()?.parse().map_err(anyhow::Error::msg)?,
            "--seed" => seed = value()?.parse().context("--seed")?,
            "--out" => out = Some(PathBuf::from(value()?)),
            other => bail!("unknown flag {other}"),
        }
    }
    let events = events.context("--events N is required")?;
    match out {
        Some(path) => write_corpus(&mut BufWriter::new(File::create(&path)?), events, mix, seed),
        None => write_corpus(&mut BufWriter::new(io::stdout().lock()), events, mix, seed),
    }
}

fn write_corpus(out: &mut impl Write, events: usize, mix: Mix, seed: u64) -> anyhow::Result<()> {
    for line in Corpus::new(seed, mix).take(events) {
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
