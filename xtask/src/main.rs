//! `cargo xtask <task>`: automation that is easier to read in Rust than in shell.
//!
//! - `fixtures`: rewrites every generated fixture: the demo events and, through the golden test with
//!   `UPDATE_FIXTURES=1`, each case's `event.tsv` and `expected.json`. Review the diff before committing.
//! - `corpus --events N [--mix realistic|uniform] [--seed S] [--out FILE]`: writes a synthetic corpus of
//!   enriched events (stdout by default).
//! - `bench [--events N] [--runs R] [--mix realistic|uniform]`: on one corpus, alternating runs of
//!   `snowplow-personalize run`, the seed pipeline (`node ../shared/reference/seed-pipeline.js --bench`)
//!   and `wc -l`; prints medians, events/s, MB/s, the ratios and peak memory.
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
        "bench" => bench(&rest),
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

/// One timed run of a command: wall seconds and peak resident memory (KB, when `/usr/bin/time` is there).
fn timed(
    program: &str,
    args: &[&str],
    stdin: Option<&Path>,
    env: &[(&str, &str)],
) -> anyhow::Result<(f64, Option<u64>, String)> {
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "%M"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = stdin {
        command.stdin(File::open(path)?);
    }
    let started = std::time::Instant::now();
    let output = command.output().with_context(|| format!("cannot run {program}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("{program} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let peak = if time.exists() { stderr.lines().last().and_then(|l| l.trim().parse().ok()) } else { None };
    Ok((seconds, peak, stderr))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    let mut events = 200_000;
    let mut runs = 5;
    let mut mixes = vec![Mix::Realistic, Mix::Uniform];
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => events = value()?.parse().context("--events")?,
            "--runs" => runs = value()?.parse::<usize>().context("--runs")?.max(1),
            "--mix" => mixes = vec![value()?.parse().map_err(anyhow::Error::msg)?],
            other => bail!("unknown flag {other}"),
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status =
        Command::new(&cargo).current_dir(root()).args(["build", "--release", "--quiet", "-p", "cli"]).status()?;
    if !status.success() {
        bail!("cannot build the release binary");
    }
    let ours = root().join("target/release/snowplow-personalize");
    let reference = root().join("../shared/reference");
    let setup = Command::new("bash").arg(reference.join("setup.sh")).output().context("cannot run setup.sh")?;
    let sdk_dir = String::from_utf8_lossy(&setup.stdout).trim().to_owned();
    let script = reference.join("seed-pipeline.js");
    for mix in mixes {
        let name = format!("{}-{events}.tsv", if mix == Mix::Realistic { "realistic" } else { "uniform" });
        let corpus = root().join("target/bench").join(&name);
        if !corpus.exists() {
            std::fs::create_dir_all(corpus.parent().unwrap_or(&root()))?;
            write_corpus(&mut BufWriter::new(File::create(&corpus)?), events, mix, 1)?;
        }
        let megabytes = std::fs::metadata(&corpus)?.len() as f64 / 1e6;
        let corpus_arg = corpus.to_str().context("corpus path")?;
        let (mut t_ours, mut t_ref, mut t_wc, mut ref_rate) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut m_ours, mut m_ref) = (0, 0);
        // Runs alternate, so a change in the machine's load hits all three alike.
        let script = script.to_str().context("path")?;
        for _ in 0..runs {
            let (s, m, _) = timed(ours.to_str().context("path")?, &["run", "--no-progress", corpus_arg], None, &[])?;
            t_ours.push(s);
            m_ours = m_ours.max(m.unwrap_or(0));
            let (s, m, stderr) = timed("node", &[script, "--bench"], Some(&corpus), &[("SP_REFERENCE_DIR", &sdk_dir)])?;
            t_ref.push(s);
            m_ref = m_ref.max(m.unwrap_or(0));
            if let Some(rate) = stderr.split_whitespace().find_map(|w| w.strip_prefix("events_per_s=")) {
                ref_rate.push(rate.parse::<f64>().unwrap_or(0.0));
            }
            let (s, _, _) = timed("wc", &["-l", corpus_arg], None, &[])?;
            t_wc.push(s);
        }
        let (ours_s, ref_s, wc_s) = (median(&mut t_ours), median(&mut t_ref), median(&mut t_wc));
        let ref_processing = if ref_rate.is_empty() { 0.0 } else { median(&mut ref_rate) };
        let rate = |s: f64| events as f64 / s;
        println!("{name}: {events} events, {megabytes:.0} MB, median of {runs} alternating runs");
        println!(
            "  snowplow-personalize run  {ours_s:>7.3} s  {:>10.0} events/s  {:>7.0} MB/s  peak {} KB",
            rate(ours_s),
            megabytes / ours_s,
            m_ours
        );
        println!(
            "  seed pipeline (node)      {ref_s:>7.3} s  {:>10.0} events/s  {:>7.0} MB/s  peak {} KB  (its own processing-only figure: {ref_processing:.0} events/s)",
            rate(ref_s),
            megabytes / ref_s,
            m_ref
        );
        println!(
            "  wc -l                     {wc_s:>7.3} s  {:>10.0} events/s  {:>7.0} MB/s",
            rate(wc_s),
            megabytes / wc_s
        );
        println!(
            "  ratios: {:.1}x the seed pipeline's wall time, {:.1}x its processing-only events/s; {:.2}x the time of wc -l",
            ref_s / ours_s,
            rate(ours_s) / ref_processing.max(1.0),
            ours_s / wc_s
        );
    }
    Ok(())
}
