//! `snowplow-personalize emulator`: the Personalize Events emulator as a standalone server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use personalize_emulator::{Config, Emulator, Faults};

#[derive(clap::Args)]
pub(crate) struct EmulatorArgs {
    /// Address to listen on (loopback by default; port 0 picks a free one and prints it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Append accepted events to this file (JSON lines) instead of printing them.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Share of requests answered 429 ThrottlingException.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of requests answered late, after --slow-ms.
    #[arg(long, default_value_t = 0.0)]
    slow_rate: f64,
    #[arg(long, default_value_t = 10_000)]
    slow_ms: u64,
    /// Share of connections dropped before the request is processed.
    #[arg(long, default_value_t = 0.0)]
    drop_before_rate: f64,
    /// Share of connections dropped after the request was accepted.
    #[arg(long, default_value_t = 0.0)]
    drop_after_rate: f64,
    /// Reject calls holding an item id with this prefix (400 InvalidInputException).
    #[arg(long, value_name = "PREFIX")]
    reject_item_prefix: Option<String>,
    /// Seed of the fault draws, which follow it and each request, not the order requests arrive in.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) async fn serve(args: EmulatorArgs) -> anyhow::Result<()> {
    let faults = Faults {
        throttle: args.throttle_rate,
        server_error: args.error_rate,
        slow: args.slow_rate,
        slow_for: Duration::from_millis(args.slow_ms),
        drop_before: args.drop_before_rate,
        drop_after: args.drop_after_rate,
        reject_item_prefix: args.reject_item_prefix,
    };
    let (feed, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let emulator =
        Emulator::start_with_feed(args.listen, Config { faults, seed: args.seed, ..Config::default() }, Some(feed))
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("Personalize Events emulator listening on {} (Ctrl-C to stop)", emulator.endpoint_url());
    let mut out: Box<dyn Write + Send> = match &args.save {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    loop {
        tokio::select! {
            event = accepted.recv() => {
                let Some(event) = event else { break };
                serde_json::to_writer(&mut out, &event)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    eprintln!("{}", serde_json::to_string(&emulator.stats())?);
    emulator.shutdown().await;
    Ok(())
}
