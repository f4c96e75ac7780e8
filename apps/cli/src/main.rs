//! `snowplow-personalize`: the local runner of snowplow-personalize.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use interactions::{Pipeline, Registry, Settings};
use snowplow_enriched::Event;

// Links every flavour crate, and with them their mapper registrations.
use flavours as _;

mod input;
mod output;
mod run;

use output::{BadRows, Output};
use run::{BadRow, RunOptions};

/// Feed a shop's Snowplow enriched events to Amazon Personalize.
#[derive(Parser)]
#[command(name = "snowplow-personalize", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Map enriched events to interactions: one JSON line per interaction on stdout, a summary on stderr.
    Run {
        #[command(flatten)]
        inputs: Inputs,
        /// Mapping settings (TOML); the defaults reproduce the seed system.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Print every line's outcome (interaction, skipped with reason, filtered, bad) instead of the
        /// interactions only.
        #[arg(long)]
        outcomes: bool,
    },
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
struct Inputs {
    /// Enriched TSV files (`.gz` and `.zst` are decompressed); stdin when none is given or for `-`.
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
}

impl Inputs {
    fn names(&self) -> Vec<String> {
        if self.files.is_empty() {
            vec!["-".to_owned()]
        } else {
            self.files.clone()
        }
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
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            inputs,
            settings,
            outcomes,
        } => {
            let settings = match settings {
                Some(path) => Settings::load(&path)?,
                None => Settings::default(),
            };
            let pipeline = Pipeline::new(&settings)?;
            let names = inputs.names();
            let progress = input::progress(&names, !inputs.no_progress);
            let mut bad_rows = BadRows::open(inputs.bad_rows.as_deref(), progress.as_ref())?;
            let options = RunOptions {
                inputs: names,
                max_line_bytes: inputs.max_line_bytes,
                progress,
                outcomes,
            };
            let tally = run::run(&pipeline, &options, &mut Output::stdout(), &mut bad_rows)?;
            eprint!("{tally}");
            if tally.bad > 0 {
                eprintln!("bad rows written to {}", bad_rows.destination);
            }
            Ok(())
        }
        Command::Mappers => {
            let registry = Registry::linked()?;
            let mut out = std::io::stdout().lock();
            for flavour in registry.flavours() {
                let events: Vec<_> = registry
                    .mappers()
                    .iter()
                    .filter(|m| m.flavour == flavour.name)
                    .map(|m| m.event_name)
                    .collect();
                writeln!(
                    out,
                    "{:<20} {:<28} {}",
                    flavour.name,
                    events.join(", "),
                    flavour.summary
                )?;
            }
            Ok(())
        }
        Command::Inspect { inputs, geo } => {
            let mut out = Output::stdout();
            let names = inputs.names();
            let progress = input::progress(&names, !inputs.no_progress);
            let mut bad_rows = BadRows::open(inputs.bad_rows.as_deref(), progress.as_ref())?;
            let mut bad = 0u64;
            input::for_each_line(
                &names,
                inputs.max_line_bytes,
                progress.as_ref(),
                |place, line| {
                    let line = match line {
                        Ok(line) => line,
                        Err(length) => {
                            bad += 1;
                            return bad_rows.write(&BadRow::too_long(
                                place,
                                length,
                                inputs.max_line_bytes,
                            ));
                        }
                    };
                    let rendered = Event::parse(line).and_then(|e| {
                        if geo {
                            e.to_json_with_geo()
                        } else {
                            e.to_json()
                        }
                    });
                    match rendered {
                        Ok(json) => out.json_line(&json),
                        Err(error) => {
                            bad += 1;
                            bad_rows.write(&BadRow {
                                file: place.file,
                                line: place.line,
                                event_id: None,
                                error: error.to_string(),
                            })
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
    }
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
