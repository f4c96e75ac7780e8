//! `snowplow-personalize`: the local runner of snowplow-personalize.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use delivery::{Flight, Metrics, MetricsSnapshot, SdkApi, SendConfig, Sender};
use interactions::{Pipeline, Registry, Settings, Tally};
use personalize_events::{Batcher, DeliverySettings};
use snowplow_enriched::Event;

// Links every flavour crate, and with them their mapper registrations.
use flavours as _;

/// mimalloc; see `alloc` for why, and why not through the `mimalloc` crate.
#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

mod alloc;
mod checkpoint;
mod emulator;
mod input;
mod mapped;
mod output;
mod placement;
mod run;
mod segments;
mod serve;

use output::{BadRows, DeadLetters, Output};
use run::{BadRow, RunOptions, Sending, Target, Translating};

/// Feed a shop's Snowplow enriched events to Amazon Personalize.
#[derive(Parser)]
#[command(name = "snowplow-personalize", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Map enriched events to interactions and print, translate or send them; a summary goes to stderr.
    Run(RunArgs),
    /// Send the built-in demo events through the real AWS SDK to an in-process Personalize emulator and
    /// print what it accepted. Needs no AWS account.
    Demo,
    /// Run the Personalize Events emulator until interrupted, printing each event it accepts.
    Emulator(emulator::EmulatorArgs),
    /// Serve the Lambda's Snowbridge endpoint (`POST /interaction/{dataset_group}`) locally, with the
    /// same handler code, delivering to Personalize (or --endpoint-url).
    Serve(serve::ServeArgs),
    /// List the registered flavours and the event names their mappers handle.
    Mappers,
    /// Print events as the Go Analytics SDK renders them (the JSON Snowbridge hands to transforms).
    Inspect {
        #[command(flatten)]
        inputs: Inputs,
        /// Add `geo_location`, as the SDK's ToJsonWithGeo does.
        #[arg(long)]
        geo: bool,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Mapping and delivery settings (TOML); the defaults reproduce the seed system.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Print every line's outcome (interaction, skipped with reason, filtered, bad) instead of the
    /// interactions only (with `--to interactions`).
    #[arg(long)]
    outcomes: bool,
    /// Threads mapping events (default: all cores); output stays in input order.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Leave the mapping threads for the kernel to place and move, rather than keep each on a CPU of
    /// its own (which is done only where this process may use as many CPUs as it has threads).
    #[arg(long)]
    no_pin: bool,
    /// What to do with interactions: print them, print the PutEvents requests they make, or send
    /// those to Personalize (credentials and region from the usual AWS chain).
    #[arg(long, value_enum, default_value_t = To::Interactions)]
    to: To,
    /// With `--to personalize`: resume from this file where an earlier run of the same inputs stopped
    /// (killed or failed), and record progress in it. Lines after the last checkpoint may be sent
    /// again; their events keep their ids, so Personalize does not count them twice.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Lines between checkpoints: each one waits for the calls in flight, so fewer cost less.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    checkpoint_every: u64,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum To {
    Interactions,
    PutEvents,
    Personalize,
}

#[derive(clap::Args)]
pub(crate) struct DeliveryArgs {
    /// The event tracker's id; otherwise looked up for --dataset-group (or the settings' default group).
    #[arg(long, value_name = "ID")]
    tracking_id: Option<String>,
    /// The dataset group to send to, resolved to a tracking id through the settings or
    /// SNOWPLOW_PERSONALIZE_TRACKING_IDS.
    #[arg(long, value_name = "NAME")]
    dataset_group: Option<String>,
    /// Send to this endpoint instead of AWS's (the emulator, say).
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// Where requests that could not be delivered go, as JSON lines {request, error}.
    #[arg(long, value_name = "FILE", default_value = "dead-letters.jsonl")]
    dead_letters: PathBuf,
    /// PutEvents calls per second per tracking id, shared by all concurrent senders.
    #[arg(long, default_value_t = 1000.0)]
    calls_per_second: f64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Attempts per call, the first included.
    #[arg(long, default_value_t = 10)]
    max_attempts: u32,
    /// Each attempt is abandoned (and retried) after this many milliseconds.
    #[arg(long, default_value_t = 5000)]
    attempt_timeout_ms: u64,
    /// No retry of a call starts after this many milliseconds; it is dead-lettered instead.
    #[arg(long, default_value_t = 120_000)]
    operation_timeout_ms: u64,
}

impl DeliveryArgs {
    pub(crate) fn send_config(&self) -> SendConfig {
        SendConfig {
            max_attempts: self.max_attempts.max(1),
            attempt_timeout: Duration::from_millis(self.attempt_timeout_ms.max(1)),
            operation_timeout: Duration::from_millis(self.operation_timeout_ms),
            calls_per_second: self.calls_per_second,
            concurrency: self.concurrency.max(1),
            ..SendConfig::default()
        }
    }

    fn tracking_id(&self, settings: &Settings) -> anyhow::Result<String> {
        if let Some(id) = &self.tracking_id {
            return Ok(id.clone());
        }
        let delivery = DeliverySettings::load(&settings.personalize, |k| std::env::var(k).ok())?;
        Ok(match &self.dataset_group {
            Some(group) => delivery.tracking_id(group)?,
            None => delivery
                .default_tracking_id()
                .context("give --tracking-id, or --dataset-group with a tracking id in the settings")?,
        }
        .to_owned())
    }
}

#[derive(clap::Args)]
struct Inputs {
    /// Enriched TSV files (`.gz` and `.zst` are decompressed, others mapped into memory); stdin when none
    /// is given or for `-`.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    /// Where bad rows go, as JSON lines (file, line, error); stderr by default.
    #[arg(long, value_name = "FILE")]
    bad_rows: Option<PathBuf>,
    /// Lines longer than this are bad rows, so that one runaway line cannot exhaust memory.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_line_bytes: usize,
    /// Never draw the progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Each line is one stream record in base64, as the Kinesis API returns them: a plain enriched
    /// event, or a zstd or gzip record of many (Enrich 6.11+). Caps come from the settings' `[records]`.
    #[arg(long)]
    record_lines: bool,
}

impl Inputs {
    fn names(&self) -> Vec<String> {
        if self.files.is_empty() { vec!["-".to_owned()] } else { self.files.clone() }
    }

    fn reading(&self, settings: &Settings) -> input::Reading {
        input::Reading { max_line_bytes: self.max_line_bytes, records: self.record_lines.then_some(settings.records) }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed stdout (`| head`) is the reader's choice, not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run_command(args),
        Command::Demo => demo(),
        Command::Emulator(args) => runtime()?.block_on(emulator::serve(args)),
        Command::Serve(args) => runtime()?.block_on(serve::serve(args)),
        Command::Mappers => {
            let registry = Registry::linked()?;
            let mut out = std::io::stdout().lock();
            for flavour in registry.flavours() {
                let events: Vec<_> =
                    registry.mappers().iter().filter(|m| m.flavour == flavour.name).map(|m| m.event_name).collect();
                writeln!(out, "{:<20} {:<28} {}", flavour.name, events.join(", "), flavour.summary)?;
            }
            Ok(())
        }
        Command::Inspect { inputs, geo } => inspect(&inputs, geo),
    }
}

fn run_command(args: RunArgs) -> anyhow::Result<()> {
    if args.outcomes && args.to != To::Interactions {
        bail!("--outcomes prints every line's outcome and goes with --to interactions only");
    }
    if args.checkpoint.is_some() && args.to != To::Personalize {
        bail!("--checkpoint records what was delivered and goes with --to personalize only");
    }
    let settings = match &args.settings {
        Some(path) => Settings::load(path)?,
        None => Settings::default(),
    };
    let pipeline = Pipeline::new(&settings)?;
    let names = args.inputs.names();
    let progress = input::progress(&names, !args.inputs.no_progress);
    let mut bad_rows = BadRows::open(args.inputs.bad_rows.as_deref(), progress.as_ref())?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let checkpoint = match &args.checkpoint {
        Some(path) => Some(checkpoint::Checkpointing::open(path, args.checkpoint_every, &names)?),
        None => None,
    };
    if let Some(resume) = checkpoint.as_ref().and_then(|c| c.resume.as_ref()) {
        match resume.complete {
            true => eprintln!("the checkpoint says this run finished; nothing to send"),
            false => eprintln!("resuming after line {} of {}", resume.line, names[resume.input.min(names.len() - 1)]),
        }
    }
    let options = RunOptions {
        inputs: names,
        reading: args.inputs.reading(&settings),
        progress,
        outcomes: args.outcomes,
        threads,
        pin: !args.no_pin,
        checkpoint,
    };
    let translating = |tracking_id: String| Translating {
        tracking_id,
        batcher: Batcher::new(10_000),
        metrics: Arc::new(Metrics::default()),
    };
    // Kept alive for the whole run when sending: the runtime drives the SDK's connections.
    let mut runtime_guard = None;
    let target = match args.to {
        To::Interactions => Target::Interactions,
        To::PutEvents => Target::PutEvents(translating(args.delivery.tracking_id(&settings)?)),
        To::Personalize => {
            let tracking_id = args.delivery.tracking_id(&settings)?;
            let rt = runtime()?;
            let config = args.delivery.send_config();
            let client = delivery::sdk_client(
                &rt.block_on(delivery::aws_config()),
                args.delivery.endpoint_url.as_deref(),
                config.attempt_timeout,
            );
            let t = translating(tracking_id);
            let sender = Arc::new(Sender::new(SdkApi::new(client), config, t.metrics.clone()));
            let sending = Sending {
                runtime: rt.handle().clone(),
                flight: Flight::new(sender),
                dead_letters: DeadLetters::new(&args.delivery.dead_letters),
            };
            runtime_guard = Some(rt);
            Target::Personalize(t, sending)
        }
    };
    let (tally, metrics) = run::run(&pipeline, &options, target, &mut Output::stdout(), &mut bad_rows)?;
    drop(runtime_guard);
    let mut summary = summary(&tally, metrics.as_ref());
    if metrics.is_some_and(|m| m.dead_lettered_events > 0) {
        summary += &format!("dead letters written to {}\n", args.delivery.dead_letters.display());
    }
    if tally.bad > 0 {
        summary += &format!("bad rows written to {}\n", bad_rows.destination);
    }
    eprint!("{summary}");
    Ok(())
}

/// A run's summary for stderr: its tally, then delivery's metrics when it sent. It is formatted here
/// and written at once because stderr is not buffered: formatting the tally straight to it wrote each
/// piece on its own, 356 writes for a realistic run's (strace), each a system call on the path of the
/// run's wall time.
fn summary(tally: &Tally, metrics: Option<&MetricsSnapshot>) -> String {
    let mut summary = tally.to_string();
    if let Some(metrics) = metrics {
        summary += &metrics.to_string();
    }
    summary
}

/// The README's first command: the demo events, through the real SDK over HTTP, into the emulator.
fn demo() -> anyhow::Result<()> {
    let rt = runtime()?;
    let emulator = rt
        .block_on(personalize_emulator::Emulator::start(SocketAddr::from(([127, 0, 0, 1], 0)), Default::default()))
        .context("cannot start the emulator")?;
    let config = SendConfig::default();
    let client = delivery::sdk_client_for_endpoint(&emulator.endpoint_url(), config.attempt_timeout);
    let metrics = Arc::new(Metrics::default());
    let sender = Arc::new(Sender::new(SdkApi::new(client), config, metrics.clone()));
    let dead_letters = std::env::temp_dir().join("snowplow-personalize-demo-dead-letters.jsonl");
    let target = Target::Personalize(
        Translating { tracking_id: "demo-tracking-id".into(), batcher: Batcher::new(10_000), metrics },
        Sending {
            runtime: rt.handle().clone(),
            flight: Flight::new(sender),
            dead_letters: DeadLetters::new(&dead_letters),
        },
    );
    let pipeline = Pipeline::new(&Settings::default())?;
    let options = RunOptions {
        inputs: vec![input::DEMO_INPUT.to_owned()],
        reading: input::Reading { max_line_bytes: 1 << 20, records: None },
        progress: None,
        outcomes: false,
        threads: 1,
        pin: false,
        checkpoint: None,
    };
    let mut bad_rows = BadRows::open(None, None)?;
    let (tally, metrics) = run::run(&pipeline, &options, target, &mut Output::null(), &mut bad_rows)?;
    let mut out = Output::stdout();
    for accepted in emulator.accepted() {
        out.json_line(&accepted)?;
    }
    out.flush()?;
    eprint!("{}", summary(&tally, metrics.as_ref()));
    let stats = emulator.stats();
    eprintln!(
        "emulator at {}: {} calls accepted, {} events accepted, {} duplicates, largest call {} events",
        emulator.endpoint_url(),
        stats.accepted_calls,
        stats.accepted_events,
        stats.duplicate_events,
        stats.max_events_per_call
    );
    rt.block_on(emulator.shutdown());
    Ok(())
}

fn inspect(inputs: &Inputs, geo: bool) -> anyhow::Result<()> {
    let mut out = Output::stdout();
    let names = inputs.names();
    let progress = input::progress(&names, !inputs.no_progress);
    let mut bad_rows = BadRows::open(inputs.bad_rows.as_deref(), progress.as_ref())?;
    let mut bad = 0u64;
    input::for_each_event(
        &names,
        inputs.reading(&Settings::default()),
        progress.as_ref(),
        |_, _| false,
        |place, event| {
            let event = match event {
                Ok(event) => event,
                Err(unreadable) => {
                    bad += 1;
                    return bad_rows.write(&BadRow::new(place, None, &unreadable));
                }
            };
            match Event::parse(event.bytes()).and_then(|e| if geo { e.to_json_with_geo() } else { e.to_json() }) {
                Ok(json) => out.json_line(&json),
                Err(error) => {
                    bad += 1;
                    bad_rows.write(&BadRow::new(place, None, &error))
                }
            }
        },
    )?;
    out.flush().context("cannot write output")?;
    bad_rows.flush()?;
    if bad > 0 {
        eprintln!("{bad} bad rows written to {}", bad_rows.destination);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact set of mappers this binary links: a flavour that silently drops out of the link (or
    /// one added without a decision) fails here.
    #[test]
    fn registered_mappers() {
        let registry = Registry::linked().unwrap();
        assert_eq!(
            registry.listing(),
            [
                ("classic-ecommerce", "transaction_item"),
                ("element-tracking", "link_click"),
                ("enhanced-ecommerce", "action"),
                ("hyper-t", "create_order"),
                ("hyper-t", "view_item"),
                ("snowplow-ecommerce", "snowplow_ecommerce_action"),
            ]
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
