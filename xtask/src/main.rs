//! `cargo xtask <task>`: automation that is easier to read in Rust than in shell.
//!
//! - `fixtures`: rewrites every generated fixture: the demo events, the Lambda batches of mixed plain and
//!   compressed records and, through the golden test with `UPDATE_FIXTURES=1`, each case's `event.tsv`
//!   and `expected.json`. Review the diff before committing.
//! - `corpus --events N [--mix realistic|uniform] [--seed S] [--out FILE] [--records zstd|gzip|plain]
//!   [--per-record K]`: writes a synthetic corpus of enriched events (stdout by default): TSV lines, or
//!   with `--records` one base64 stream record per line holding K events each (default 100), as
//!   `snowplow-personalize run --record-lines` reads them.
//! - `bench [--events N] [--runs R] [--mix realistic|uniform] [--threads N]`: on one corpus, cached
//!   as a file read from disk is, alternating runs of `snowplow-personalize run`, the seed pipeline
//!   (`node ../shared/reference/seed-pipeline.js --bench`) and `wc -l`; prints medians, events/s,
//!   MB/s, the ratios of the medians, the lowest and highest of each round's own ratios, and peak
//!   memory. Without `--threads` (all cores), `run --threads 1` joins the alternation, and the scaling
//!   from one thread to all is printed beside the machine's own: the corpus cut into as many parts as
//!   there are cores, a one-thread run on each, started together.
//! - `fuzz TARGET|all [--seconds N]`: runs a cargo-fuzz target (`crates/fuzz`; `cargo install
//!   cargo-fuzz`, stable toolchain through `RUSTC_BOOTSTRAP=1`) for N seconds (default 60) from seeds
//!   made of `fixtures/` and the corpus kept in `target/fuzz/corpus/`, and prints executions and time.
//!   A crash is saved under `target/fuzz/artifacts/`; copy it into `fixtures/fuzz/<target>/` so the
//!   replay test keeps it fixed.
//! - `lambda`: builds the Lambda's deployment zip with cargo-lambda (`pip install cargo-lambda`), for
//!   `deploy/template.yaml`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use snowplow_enriched::{Compression, encode_record};
use synthetic_events::{Corpus, DEMO_EVENTS, DEMO_SEED, Mix};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    // `cargo xtask bench --help` is how one asks a task's flags; the usage lists every task's.
    if rest.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    match task.as_str() {
        "fixtures" => fixtures(),
        "corpus" => corpus(&rest),
        "lambda" => lambda(),
        "bench" => bench(&rest),
        "fuzz" => fuzz(&rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task {task:?}")
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>
  fixtures                      regenerate fixtures/ (review the diff)
  corpus --events N [--mix realistic|uniform] [--seed S] [--out FILE]
         [--records zstd|gzip|plain] [--per-record K]
                                a synthetic corpus of enriched events
  bench [--runs N] [--threads N] [--events N] [--mix M]
                                snowplow-personalize against the seed pipeline and wc -l
  lambda                        build the Lambda zip (cargo-lambda)
  fuzz <target|all> [--seconds N]
                                run the fuzz targets (cargo-fuzz)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn fixtures() -> anyhow::Result<()> {
    let demo = root().join("fixtures/demo/events.tsv");
    std::fs::create_dir_all(demo.parent().unwrap_or(&root()))?;
    write_corpus(&mut BufWriter::new(File::create(&demo)?), DEMO_EVENTS, Mix::Realistic, DEMO_SEED)?;
    eprintln!("wrote {}", demo.display());
    mixed_record_batches()?;
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
    let (mut records, mut per_record) = (None, 100);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => events = Some(value()?.parse().context("--events")?),
            "--mix" => mix = value()?.parse().map_err(anyhow::Error::msg)?,
            "--seed" => seed = value()?.parse().context("--seed")?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--records" => {
                records = Some(match value()?.as_str() {
                    "zstd" => Compression::Zstd,
                    "gzip" => Compression::Gzip,
                    "plain" => Compression::Plain,
                    other => bail!("--records: {other:?} is not zstd, gzip or plain"),
                })
            }
            "--per-record" => per_record = value()?.parse::<usize>().context("--per-record")?.max(1),
            other => bail!("unknown flag {other}"),
        }
    }
    let events = events.context("--events N is required")?;
    let mut writer: BufWriter<Box<dyn Write>> = BufWriter::new(match out {
        Some(path) => Box::new(File::create(&path)?),
        None => Box::new(io::stdout().lock()),
    });
    match records {
        None => write_corpus(&mut writer, events, mix, seed),
        Some(compression) => write_records(&mut writer, events, mix, seed, compression, per_record),
    }
}

/// The corpus as stream records, one base64 record per line (as the Kinesis API returns them).
fn write_records(
    out: &mut impl Write,
    events: usize,
    mix: Mix,
    seed: u64,
    compression: Compression,
    per_record: usize,
) -> anyhow::Result<()> {
    use base64::Engine as _;
    let per_record = if compression == Compression::Plain { 1 } else { per_record };
    let lines: Vec<Vec<u8>> = Corpus::new(seed, mix).take(events).collect();
    for chunk in lines.chunks(per_record) {
        let record = encode_record(compression, chunk)?;
        out.write_all(base64::engine::general_purpose::STANDARD.encode(record).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `fixtures/lambda/{kinesis,sqs}-mixed-records.json`: one batch of a plain record, a zstd and a gzip
/// record of several events (one of them bad), and a gzip record whose stream is cut short (the upstream
/// vector), made from the golden cases so that what each should give is known.
fn mixed_record_batches() -> anyhow::Result<()> {
    use base64::Engine as _;
    let case = |name: &str| -> anyhow::Result<Vec<u8>> {
        let path = root().join("fixtures").join(name).join("event.tsv");
        let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(text.strip_suffix(b"\n").unwrap_or(&text).to_vec())
    };
    let records = [
        encode_record(Compression::Plain, &[case("hyper-t/view-item")?])?,
        encode_record(
            Compression::Zstd,
            &[
                case("classic-ecommerce/purchase")?,
                case("core/filtered-page-view")?,
                case("element-tracking/recommendation-click")?,
            ],
        )?,
        encode_record(
            Compression::Gzip,
            &[case("enhanced-ecommerce/purchase")?, case("core/wrong-field-count-130")?, case("hyper-t/create-order")?],
        )?,
        std::fs::read(root().join("fixtures/upstream/compressed-records/gzip_truncated_stream.bin"))?,
    ];
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let kinesis: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let sequence = format!("4959033000000000000000000000000000000000000000000000010{i}");
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("pk-{i}"),
                    "sequenceNumber": sequence,
                    "data": base64(record),
                    "approximateArrivalTimestamp": 1714558503.0
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/snowplow-personalize",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/enriched-good"
            })
        })
        .collect();
    let sqs: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            // SQS bodies are text: a plain event as it is, a compressed record in base64.
            let body = match Compression::sniff(record) {
                Compression::Plain => String::from_utf8_lossy(record).into_owned(),
                _ => base64(record),
            };
            serde_json::json!({
                "messageId": format!("0a1b2c3d-0000-4000-8000-00000000010{i}"),
                "receiptHandle": format!("AQEB1{i}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1714558503000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1714558503001"
                },
                "messageAttributes": {},
                "md5OfBody": "00000000000000000000000000000000",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:enriched-good",
                "awsRegion": "eu-west-1"
            })
        })
        .collect();
    for (name, records) in [("kinesis-mixed-records.json", kinesis), ("sqs-mixed-records.json", sqs)] {
        let path = root().join("fixtures/lambda").join(name);
        let text = serde_json::to_string_pretty(&serde_json::json!({ "Records": records }))?;
        std::fs::write(&path, text + "\n")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn write_corpus(out: &mut impl Write, events: usize, mix: Mix, seed: u64) -> anyhow::Result<()> {
    for line in Corpus::new(seed, mix).take(events) {
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// One timed run of a command: wall seconds, peak resident memory (KB) and what it wrote to stderr.
///
/// The child is reaped with `wait4`, which gives its peak memory with its exit: timing it through
/// `/usr/bin/time` added 0.8 ms of that program's own start-up to every run, enough to pull the
/// ratios of short runs towards 1 (a two-thread realistic run takes about 40 ms).
#[allow(unsafe_code)]
fn timed(
    program: &str,
    args: &[&str],
    stdin: Option<&Path>,
    env: &[(&str, &str)],
) -> anyhow::Result<(f64, u64, String)> {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = stdin {
        command.stdin(File::open(path)?);
    }
    let started = std::time::Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot run {program}"))?;
    // Read to its end, which comes when the child exits, so that a child writing much is never held up.
    let mut stderr = Vec::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_end(&mut stderr)?;
    }
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let pid = libc::pid_t::try_from(child.id()).context("process id")?;
    let (mut status, mut usage) = (0, std::mem::MaybeUninit::<libc::rusage>::zeroed());
    // SAFETY: `wait4` writes the status and usage of the child `pid`, which has not been waited for,
    // into the two places given; a zeroed `rusage` is a valid one.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    let seconds = started.elapsed().as_secs_f64();
    if reaped != pid {
        return Err(io::Error::last_os_error()).with_context(|| format!("cannot wait for {program}"));
    }
    let status = std::process::ExitStatus::from_raw(status);
    if !status.success() {
        bail!("{program} failed ({status}): {stderr}");
    }
    // SAFETY: zeroed, then written by `wait4`.
    let usage = unsafe { usage.assume_init() };
    Ok((seconds, u64::try_from(usage.ru_maxrss).unwrap_or(0), stderr))
}

/// Puts `corpus` in the page cache as a file read from disk is: dropped from the cache, then read
/// through once. How a file's pages came into the cache changes how fast every command reads it. The
/// cache holds a written file in pieces the size of its writes, and the kernel works on every piece
/// each time the file is read or mapped: a copy written 8 KiB at a time, as the generator writes,
/// takes `wc -l` 0.062 s, and one written or read back 1 MiB at a time 0.049 s (realistic). A
/// one-thread `run` of the corpus as generated spent 35% of its time in the kernel, read back 7%
/// (0.153 against 0.110 s). Without this step the figures depended on whether the corpus had been
/// generated since the machine started.
fn recache(corpus: &Path) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd as _;
    let mut file = File::open(corpus)?;
    // The cache keeps pages not yet written to disk.
    file.sync_data()?;
    // SAFETY: posix_fadvise reads nothing through its arguments; the descriptor is open for the call.
    #[allow(unsafe_code)]
    let error = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if error != 0 {
        bail!("cannot drop {} from the page cache: {}", corpus.display(), io::Error::from_raw_os_error(error));
    }
    io::copy(&mut file, &mut io::sink())?;
    Ok(())
}

/// Seconds taken by runs of `program` started together, one for each of `runs`' argument lists, each
/// on its own: how fast the machine gets through that much independent work, whatever the program
/// does to share it out.
fn together(program: &str, runs: &[Vec<&str>]) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let children = runs
        .iter()
        .map(|args| {
            Command::new(program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .with_context(|| format!("cannot run {program}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let all_succeeded = wait_for_all(children)?;
    let seconds = started.elapsed().as_secs_f64();
    if !all_succeeded {
        bail!("{program} failed");
    }
    Ok(seconds)
}

/// Whether every child succeeded; each is waited for whatever the ones before it did, so that none is
/// left running into the next measurement.
fn wait_for_all(children: Vec<std::process::Child>) -> io::Result<bool> {
    let mut all = true;
    for mut child in children {
        all &= child.wait()?.success();
    }
    Ok(all)
}

/// `corpus` cut into `n` files of about equal size at line ends, in its order, for the machine's own
/// scaling: kept in [`parts_dir`], and cut again only when a part is missing; for one part, the
/// corpus itself. One-thread runs started together on parts read as many different bytes as one run
/// on all cores does; on one shared file they had read the same bytes at the same moments, which the
/// processor's shared cache served once to both, and that ceiling stood above what any way of
/// sharing out one corpus could reach (docs/performance.md, "Threads").
fn corpus_parts(corpus: &Path, n: usize) -> anyhow::Result<Vec<PathBuf>> {
    use std::io::{BufRead as _, BufReader, Read as _};
    if n <= 1 {
        return Ok(vec![corpus.to_owned()]);
    }
    let dir = parts_dir(corpus).context("corpus name")?;
    let paths: Vec<PathBuf> = (1..=n).map(|k| dir.join(format!("{k}-of-{n}.tsv"))).collect();
    if paths.iter().all(|path| path.exists()) {
        return Ok(paths);
    }
    // Parts cut for another number of cores, or left unfinished, go.
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let len = std::fs::metadata(corpus)?.len();
    let mut input = BufReader::with_capacity(1 << 20, File::open(corpus)?);
    let (mut line, mut copied) = (Vec::new(), 0);
    for (k, path) in (1..=n as u64).zip(&paths) {
        // Written under another name first, so that a cut stopped halfway leaves no short part behind
        // that a later bench would take for whole.
        let unfinished = path.with_extension("tsv.partial");
        let mut out = BufWriter::new(File::create(&unfinished)?);
        // Up to the part's share of the bytes, then on to the end of the line it stopped in.
        copied += io::copy(&mut (&mut input).take((len * k / n as u64).saturating_sub(copied)), &mut out)?;
        line.clear();
        copied += input.read_until(b'\n', &mut line)? as u64;
        out.write_all(&line)?;
        // Not synced here: `recache` syncs each part before it drops it from the cache.
        out.flush()?;
        std::fs::rename(&unfinished, path)?;
    }
    Ok(paths)
}

/// The file name `bench` keeps a corpus under: its mix, its size and a digest of its first thousand
/// events, so that a corpus an older generator wrote is not timed as if it were this one's. A change
/// to the generator that shows in none of those events goes unseen.
fn corpus_name(mix: Mix, events: usize) -> anyhow::Result<String> {
    use std::hash::{Hash as _, Hasher as _};
    let mut head = Vec::new();
    write_corpus(&mut head, events.min(1000), mix, 1)?;
    let mut digest = std::hash::DefaultHasher::new();
    head.hash(&mut digest);
    Ok(format!("{}-{events}-{:016x}.tsv", mix.name(), digest.finish()))
}

/// The corpora in `dir` of the mix and size of `keep` (a [`corpus_name`]) that an older generator
/// wrote, under an older digest or under the name they had before names carried one: the bench
/// removes them when it writes `keep`, so that a changed generator does not leave 400 MB behind for
/// every corpus it had written.
fn stale_corpora(dir: &Path, keep: &str) -> io::Result<Vec<PathBuf>> {
    let Some((stem, _)) = keep.rsplit_once('-') else { return Ok(Vec::new()) };
    let digest = |rest: &str| {
        rest.strip_suffix(".tsv").is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let older = name == format!("{stem}.tsv")
            || name.strip_prefix(stem).and_then(|r| r.strip_prefix('-')).is_some_and(digest);
        if older && name != keep {
            stale.push(entry.path());
        }
    }
    stale.sort();
    Ok(stale)
}

/// Where [`corpus_parts`] keeps the parts of `corpus`: `<dir>/parts/<corpus stem>/`.
fn parts_dir(corpus: &Path) -> Option<PathBuf> {
    Some(corpus.with_file_name("parts").join(corpus.file_stem()?))
}

/// The arguments of `snowplow-personalize run` on `file` as the bench times it, on `threads` threads
/// (all cores when `None`).
fn run_args<'a>(file: &'a str, threads: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec!["run", "--no-progress", "--bad-rows", "/dev/null", file];
    args.extend(threads.into_iter().flat_map(|n| ["--threads", n]));
    args
}

/// Removes a corpus and the parts [`corpus_parts`] cut from it.
fn remove_corpus(corpus: &Path) -> anyhow::Result<()> {
    std::fs::remove_file(corpus).with_context(|| format!("cannot remove {}", corpus.display()))?;
    if let Some(parts) = parts_dir(corpus).filter(|parts| parts.exists()) {
        std::fs::remove_dir_all(&parts).with_context(|| format!("cannot remove {}", parts.display()))?;
    }
    Ok(())
}

/// The lowest and highest of `ratio(i)` over the rounds `0..rounds`.
fn spread(rounds: usize, ratio: impl Fn(usize) -> f64) -> (f64, f64) {
    (0..rounds).map(ratio).fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(v), high.max(v)))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    let mut events = 200_000;
    let mut runs = 5;
    let mut mixes = Mix::ALL.to_vec();
    let mut threads: Option<String> = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => events = value()?.parse().context("--events")?,
            "--runs" => runs = value()?.parse::<usize>().context("--runs")?.max(1),
            "--mix" => mixes = vec![value()?.parse().map_err(anyhow::Error::msg)?],
            "--threads" => threads = Some(value()?.to_owned()),
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
    let ours = ours.to_str().context("path")?;
    let reference = root().join("../shared/reference");
    let setup = Command::new("bash").arg(reference.join("setup.sh")).output().context("cannot run setup.sh")?;
    let sdk_dir = String::from_utf8_lossy(&setup.stdout).trim().to_owned();
    let script = reference.join("seed-pipeline.js");
    for mix in mixes {
        let name = corpus_name(mix, events)?;
        let dir = root().join("target/bench");
        let corpus = dir.join(&name);
        if !corpus.exists() {
            std::fs::create_dir_all(&dir)?;
            for stale in stale_corpora(&dir, &name)? {
                remove_corpus(&stale)?;
            }
            write_corpus(&mut BufWriter::new(File::create(&corpus)?), events, mix, 1)?;
        }
        let megabytes = std::fs::metadata(&corpus)?.len() as f64 / 1e6;
        let corpus_arg = corpus.to_str().context("corpus path")?;
        let (mut t_ours, mut t_ref, mut t_wc, mut ref_rate) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut t_one, mut t_together) = (Vec::new(), Vec::new());
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let parts = if threads.is_none() { corpus_parts(&corpus, cores)? } else { Vec::new() };
        let part_runs = parts
            .iter()
            .map(|part| Ok(run_args(part.to_str().context("part path")?, Some("1"))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (mut m_ours, mut m_ref) = (0, 0);
        // Runs alternate, so a change in the machine's load hits all three alike. Each command
        // finds the corpus cached as a file read from disk is, dropped and read back just before
        // it: memory reclaim may page parts of it out even while it is being benched, and pages
        // read back into those holes are cached in smaller pieces that every later read pays for
        // (measured in docs/performance.md, "Plain files and the page cache").
        let script = script.to_str().context("path")?;
        for _ in 0..runs {
            recache(&corpus)?;
            let (s, m, _) = timed(ours, &run_args(corpus_arg, threads.as_deref()), None, &[])?;
            t_ours.push(s);
            m_ours = m_ours.max(m);
            if threads.is_none() {
                recache(&corpus)?;
                t_one.push(timed(ours, &run_args(corpus_arg, Some("1")), None, &[])?.0);
                // A one-thread run on each of as many parts of the corpus as there are cores,
                // started together: the scaling the machine itself allows (shared caches, memory
                // bandwidth, and on a virtual machine whatever else the host runs on the same cores).
                for part in &parts {
                    recache(part)?;
                }
                t_together.push(together(ours, &part_runs)?);
            }
            recache(&corpus)?;
            let (s, m, stderr) = timed("node", &[script, "--bench"], Some(&corpus), &[("SP_REFERENCE_DIR", &sdk_dir)])?;
            t_ref.push(s);
            m_ref = m_ref.max(m);
            if let Some(rate) = stderr.split_whitespace().find_map(|w| w.strip_prefix("events_per_s=")) {
                ref_rate.push(rate.parse::<f64>().unwrap_or(0.0));
            }
            recache(&corpus)?;
            let (s, _, _) = timed("wc", &["-l", corpus_arg], None, &[])?;
            t_wc.push(s);
        }
        // Each round's own ratios, before the medians sort the times: the runs of a round follow each
        // other within seconds, so a round's ratio is spared the drift of a shared machine from one
        // minute to the next, which the medians of the whole series are not.
        let vs_ref =
            (ref_rate.len() == runs).then(|| spread(runs, |i| events as f64 / t_ours[i] / ref_rate[i].max(1.0)));
        let vs_wc = spread(runs, |i| t_ours[i] / t_wc[i]);
        // Each round's own scaling, and the machine's.
        let scaling = (t_one.len() == runs)
            .then(|| (spread(runs, |i| t_one[i] / t_ours[i]), spread(runs, |i| t_one[i] / t_together[i])));
        let (ours_s, ref_s, wc_s) = (median(&mut t_ours), median(&mut t_ref), median(&mut t_wc));
        let ref_processing = if ref_rate.is_empty() { 0.0 } else { median(&mut ref_rate) };
        let rate = |s: f64| events as f64 / s;
        let threads_used = threads.clone().unwrap_or_else(|| "all cores".into());
        println!(
            "{name}: {events} events, {megabytes:.0} MB, median of {runs} alternating runs, run --threads {threads_used}"
        );
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
        let vs_ref = vs_ref.map(|(low, high)| format!("{low:.1}-{high:.1}x the seed's processing-only events/s; "));
        println!("  each round's own: {}{:.2}-{:.2}x the time of wc -l", vs_ref.unwrap_or_default(), vs_wc.0, vs_wc.1);
        if let Some(((low, high), machine)) = scaling {
            let (one_s, together_s) = (median(&mut t_one), median(&mut t_together));
            println!(
                "  scaling: run --threads 1 {one_s:.3} s, {:.2}x faster on all {cores} cores (each round's own: {low:.2}-{high:.2}x)",
                one_s / ours_s
            );
            println!(
                "  the machine's own: the corpus cut in {cores}, a run --threads 1 on each part, started together {together_s:.3} s, {:.2}x faster than one on the whole (each round's own: {:.2}-{:.2}x)",
                one_s / together_s,
                machine.0,
                machine.1
            );
        }
    }
    Ok(())
}

/// `cargo xtask fuzz TARGET|all [--seconds N]`.
fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let mut seconds: u64 = 60;
    let mut target = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().context("--seconds needs a value")?.parse().context("--seconds")?,
            name if target.is_none() => target = Some(name.to_owned()),
            other => bail!("unexpected argument {other}"),
        }
    }
    let known: Vec<&str> = fuzz_checks::TARGETS.iter().map(|(name, _)| *name).collect();
    let targets = match target.as_deref() {
        Some("all") => known.clone(),
        Some(name) if known.contains(&name) => vec![name],
        _ => bail!("usage: cargo xtask fuzz <{}|all> [--seconds N]", known.join("|")),
    };
    for target in targets {
        let work = root().join("target/fuzz");
        let (seeds, corpus, artifacts) =
            (work.join("seeds").join(target), work.join("corpus").join(target), work.join("artifacts").join(target));
        for dir in [&seeds, &corpus, &artifacts] {
            std::fs::create_dir_all(dir)?;
        }
        for (i, seed) in fuzz_checks::seeds::seeds(target, &root().join("fixtures"))?.iter().enumerate() {
            std::fs::write(seeds.join(format!("seed-{i:04}")), seed)?;
        }
        let path = |p: &Path| p.to_str().map(str::to_owned).context("a non-UTF-8 path");
        let started = std::time::Instant::now();
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--fuzz-dir", "crates/fuzz", "-O", target, &path(&corpus)?, &path(&seeds)?, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", path(&artifacts)?))
            .args(["-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"])
            .stderr(std::process::Stdio::piped())
            .output()
            .context("cannot run cargo fuzz (cargo install cargo-fuzz)")?;
        let log = String::from_utf8_lossy(&output.stderr);
        let stat = |name: &str| {
            log.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned())).unwrap_or_else(|| "?".into())
        };
        let line = format!(
            "{target}: {} executions in {:.0} s (build included), corpus {} inputs, peak RSS {} MB",
            stat("stat::number_of_executed_units:"),
            started.elapsed().as_secs_f64(),
            std::fs::read_dir(&corpus)?.count(),
            stat("stat::peak_rss_mb:"),
        );
        if !output.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            bail!("{target} failed; the input is in {} (copy it into fixtures/fuzz/{target}/)", artifacts.display());
        }
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corpus_is_named_by_its_mix_size_and_events() {
        let name = |mix, events| corpus_name(mix, events).unwrap();
        let digest = |name: String| name.rsplit('-').next().unwrap().to_owned();
        let uniform = name(Mix::Uniform, 2000);
        assert!(uniform.starts_with("uniform-2000-") && uniform.ends_with(".tsv"), "{uniform}");
        assert_eq!(name(Mix::Uniform, 2000), uniform);
        assert_ne!(digest(name(Mix::Realistic, 2000)), digest(uniform));
        // Up to a thousand events, the digest covers the whole corpus.
        assert_ne!(digest(name(Mix::Uniform, 999)), digest(name(Mix::Uniform, 998)));
    }

    #[test]
    fn a_corpus_an_older_generator_wrote_is_stale_and_no_other_file_is() {
        let dir = std::env::temp_dir().join(format!("xtask-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keep = "uniform-2000-00000000000000aa.tsv";
        let names = [
            keep,
            "uniform-2000.tsv",
            "uniform-2000-0123456789abcdef.tsv",
            "uniform-20000-0123456789abcdef.tsv",
            "uniform-2000-notes.tsv",
            "realistic-2000.tsv",
            "uniform-2000-0123456789abcdef.txt",
        ];
        for name in names {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let stale = stale_corpora(&dir, keep).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(stale, [dir.join("uniform-2000-0123456789abcdef.tsv"), dir.join("uniform-2000.tsv")]);
    }

    #[test]
    fn a_spread_is_the_lowest_and_highest_ratio_of_any_round() {
        let (ours, seed) = ([1.0, 2.0, 4.0], [3.0, 2.0, 2.0]);
        assert_eq!(spread(3, |i| seed[i] / ours[i]), (0.5, 3.0));
    }

    #[test]
    fn runs_started_together_are_all_waited_for_and_any_failure_fails_them() {
        assert!(together("true", &[vec![], vec![], vec![]]).is_ok());
        assert!(together("false", &[vec![], vec![]]).is_err());
        // Each run has its own arguments: one that fails fails them all.
        assert!(together("test", &[vec!["1", "=", "1"], vec!["1", "=", "2"]]).is_err());
        // The first child fails at once; the one after it is still running then, and is waited for.
        let done = std::env::temp_dir().join(format!("xtask-wait-{}", std::process::id()));
        let _ = std::fs::remove_file(&done);
        let mut slow = Command::new("sh");
        slow.args(["-c", "sleep 0.2; touch \"$0\"", done.to_str().unwrap()]);
        let children = vec![Command::new("false").spawn().unwrap(), slow.spawn().unwrap()];
        let all_succeeded = wait_for_all(children).unwrap();
        let waited = done.exists();
        let _ = std::fs::remove_file(&done);
        assert!(!all_succeeded);
        assert!(waited, "the child still running when the first failed was waited for");
    }

    #[test]
    fn a_corpus_is_cut_at_line_ends_into_parts_of_about_equal_size_and_cut_once() {
        let dir = std::env::temp_dir().join(format!("xtask-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let corpus = dir.join("uniform-60-00000000000000aa.tsv");
        // Lines of 1 to 60 bytes, so that no cut falls where a line happens to end.
        let text: String = (1..=60).map(|n| format!("{}\n", "x".repeat(n - 1))).collect();
        std::fs::write(&corpus, &text).unwrap();
        let paths = corpus_parts(&corpus, 3).unwrap();
        let parts: Vec<String> = paths.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect();
        // Cut again only when a part is missing: a part changed by hand stays as it is.
        std::fs::write(&paths[0], "kept").unwrap();
        let kept = std::fs::read_to_string(&corpus_parts(&corpus, 3).unwrap()[0]).unwrap();
        std::fs::remove_file(&paths[1]).unwrap();
        let recut = std::fs::read_to_string(&corpus_parts(&corpus, 3).unwrap()[0]).unwrap();
        let leftovers = std::fs::read_dir(paths[0].parent().unwrap()).unwrap().count();
        // Cut for another number of cores, the parts for three go; one part is the corpus itself.
        let halves = corpus_parts(&corpus, 2).unwrap();
        let after_halves = std::fs::read_dir(paths[0].parent().unwrap()).unwrap().count();
        let whole = corpus_parts(&corpus, 1).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let expected = dir.join("parts").join("uniform-60-00000000000000aa");
        assert_eq!(paths, (1..=3).map(|k| expected.join(format!("{k}-of-3.tsv"))).collect::<Vec<_>>());
        assert_eq!(parts.concat(), text);
        let third = text.len() / 3;
        for (k, part) in parts.iter().enumerate() {
            assert!(part.ends_with('\n'), "part {k} ends mid-line");
            // Each cut is at the first line end after its share, so within a line (60 bytes) of it.
            assert!(part.len().abs_diff(third) <= 2 * 60, "part {k}: {} bytes of {}", part.len(), text.len());
        }
        assert_eq!(kept, "kept");
        assert_eq!(recut, parts[0]);
        assert_eq!(leftovers, 3, "no unfinished part is left behind");
        assert_eq!(halves.len(), 2);
        assert_eq!(after_halves, 2, "the parts cut for three cores are left");
        assert_eq!(whole, [corpus]);
    }

    #[test]
    fn a_timed_run_reads_its_file_on_the_threads_asked_for_or_on_all_cores() {
        assert_eq!(run_args("c.tsv", None), ["run", "--no-progress", "--bad-rows", "/dev/null", "c.tsv"]);
        assert_eq!(run_args("c.tsv", Some("1"))[4..], ["c.tsv", "--threads", "1"]);
    }

    #[test]
    fn a_removed_corpus_takes_its_parts_and_no_other_corpus_s_with_it() {
        let dir = std::env::temp_dir().join(format!("xtask-remove-{}", std::process::id()));
        let (old, other) = (dir.join("uniform-60-00000000000000aa.tsv"), dir.join("uniform-60-00000000000000bb.tsv"));
        std::fs::create_dir_all(&dir).unwrap();
        for corpus in [&old, &other] {
            std::fs::write(corpus, "a\nb\n").unwrap();
            corpus_parts(corpus, 2).unwrap();
        }
        remove_corpus(&old).unwrap();
        let parts = |corpus: &Path| parts_dir(corpus).unwrap();
        let (old_gone, old_parts_gone) = (!old.exists(), !parts(&old).exists());
        let others_kept = other.exists() && parts(&other).join("2-of-2.tsv").exists();
        // A corpus never cut into parts is removed all the same.
        std::fs::write(&old, "").unwrap();
        let uncut = remove_corpus(&old);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(old_gone && old_parts_gone, "the stale corpus or its parts are left");
        assert!(others_kept, "another corpus's parts went too");
        assert!(uncut.is_ok(), "{uncut:?}");
    }

    #[test]
    fn a_timed_run_gives_its_peak_memory_and_all_it_wrote_to_stderr() {
        // 64 MB held, and 1 MB written to stderr, more than a pipe holds while nobody reads it.
        let script = "import sys; held = bytearray(64_000_000); sys.stderr.write('x' * 1_000_000 + 'end')";
        let (seconds, peak, stderr) = timed("python3", &["-c", script], None, &[]).unwrap();
        assert!(seconds > 0.0);
        assert!(peak >= 64_000, "{peak} KB");
        assert_eq!(stderr.len(), 1_000_003);
        assert!(stderr.ends_with("end"));
        let failed = timed("sh", &["-c", "echo why >&2; exit 3"], None, &[]).unwrap_err();
        assert!(failed.to_string().contains("why"), "{failed}");
    }
}
