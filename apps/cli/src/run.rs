//! `snowplow-personalize run`: enriched events in; interactions, PutEvents requests or delivered events
//! out.

use std::sync::Arc;

use anyhow::Context as _;
use delivery::{Flight, Metrics, MetricsSnapshot, SdkApi};
use interactions::{Interaction, Outcome, Pipeline, Tally};
use personalize_events::{Batcher, PutEventsRequest, translate};
use serde::Serialize;

use crate::input::{Place, for_each_line};
use crate::output::{BadRows, Output};

pub(crate) struct RunOptions {
    pub(crate) inputs: Vec<String>,
    pub(crate) max_line_bytes: usize,
    pub(crate) progress: Option<indicatif::ProgressBar>,
    /// Print every line's outcome instead of the interactions only.
    pub(crate) outcomes: bool,
}

/// A bad row: where the event was, what it was, and what is wrong with it.
#[derive(Serialize)]
pub(crate) struct BadRow<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) event_id: Option<&'a str>,
    pub(crate) error: String,
}

impl<'a> BadRow<'a> {
    pub(crate) fn too_long(place: Place<'a>, length: u64, max: usize) -> Self {
        BadRow {
            file: place.file,
            line: place.line,
            event_id: None,
            error: format!("line is {length} bytes long, over the limit of {max} (--max-line-bytes)"),
        }
    }
}

#[derive(Serialize)]
struct Traced<'a> {
    line: u64,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

/// What happens to interactions.
pub(crate) enum Target {
    /// Interaction JSON lines on stdout.
    Interactions,
    /// The PutEvents requests, as JSON lines on stdout, not sent.
    PutEvents(Translating),
    /// Sent to Personalize (or the emulator).
    Personalize(Translating, Sending),
}

/// Interactions to batched requests.
pub(crate) struct Translating {
    pub(crate) tracking_id: String,
    pub(crate) batcher: Batcher,
    pub(crate) metrics: Arc<Metrics>,
}

/// Requests to the service, from the synchronous read loop into the async sender.
pub(crate) struct Sending {
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) flight: Flight<SdkApi>,
    pub(crate) dead_letters: crate::output::DeadLetters,
}

impl Target {
    fn interaction(
        &mut self,
        interaction: &Interaction,
        place: Place<'_>,
        out: &mut Output,
        bad_rows: &mut BadRows,
    ) -> anyhow::Result<()> {
        let (translating, mut sending) = match self {
            Target::Interactions => return out.json_line(interaction),
            Target::PutEvents(t) => (t, None),
            Target::Personalize(t, s) => (t, Some(s)),
        };
        Metrics::add(&translating.metrics.interactions_in, 1);
        let translation = match translate(interaction) {
            Ok(t) => t,
            Err(error) => {
                let row = BadRow {
                    file: place.file,
                    line: place.line,
                    event_id: Some(&interaction.event_id),
                    error: error.to_string(),
                };
                return bad_rows.write(&row);
            }
        };
        if translation.recommendation_id_dropped {
            Metrics::add(&translating.metrics.recommendation_ids_dropped, 1);
            // The id itself is left out of the log on purpose: it is what was too long, and logs are not
            // the place for tracking data.
            bad_rows.note(&format!(
                "warning: {}:{}: recommendation id over 40 characters left out of event {}",
                place.file, place.line, interaction.event_id
            ))?;
        }
        if translation.impression_truncated {
            Metrics::add(&translating.metrics.impressions_truncated, 1);
        }
        for request in translating.batcher.push(&translating.tracking_id, translation) {
            emit(request, sending.as_deref_mut(), out)?;
        }
        Ok(())
    }

    /// Sends what is still batched and waits for deliveries in flight.
    fn finish(self, out: &mut Output) -> anyhow::Result<Option<MetricsSnapshot>> {
        let (mut translating, mut sending) = match self {
            Target::Interactions => return Ok(None),
            Target::PutEvents(t) => (t, None),
            Target::Personalize(t, s) => (t, Some(s)),
        };
        for request in translating.batcher.flush() {
            emit(request, sending.as_mut(), out)?;
        }
        if let Some(Sending { runtime, flight, mut dead_letters }) = sending {
            dead_letters.write_all(&runtime.block_on(flight.finish()))?;
            dead_letters.flush()?;
        }
        Ok(Some(translating.metrics.snapshot()))
    }
}

fn emit(request: PutEventsRequest, sending: Option<&mut Sending>, out: &mut Output) -> anyhow::Result<()> {
    match sending {
        None => out.json_line(&request),
        Some(s) => {
            let dead = s.runtime.block_on(s.flight.submit(request));
            s.dead_letters.write_all(&dead)
        }
    }
}

pub(crate) fn run(
    pipeline: &Pipeline,
    options: &RunOptions,
    mut target: Target,
    out: &mut Output,
    bad_rows: &mut BadRows,
) -> anyhow::Result<(Tally, Option<MetricsSnapshot>)> {
    let mut tally = Tally::default();
    for_each_line(&options.inputs, options.max_line_bytes, options.progress.as_ref(), |place, line| {
        let line = match line {
            Ok(line) => line,
            Err(length) => {
                tally.record_unreadable();
                return bad_rows.write(&BadRow::too_long(place, length, options.max_line_bytes));
            }
        };
        let outcome = pipeline.process(line);
        tally.record(&outcome);
        if options.outcomes {
            out.json_line(&Traced { line: place.line, outcome: &outcome })?;
        }
        match &outcome {
            Outcome::Interaction { interaction, .. } if !options.outcomes => {
                target.interaction(interaction, place, out, bad_rows)?;
            }
            Outcome::Bad { event_id, error } => {
                let row = BadRow {
                    file: place.file,
                    line: place.line,
                    event_id: event_id.as_deref(),
                    error: error.to_string(),
                };
                bad_rows.write(&row)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    let metrics = target.finish(out)?;
    out.flush().context("cannot write output")?;
    bad_rows.flush()?;
    Ok((tally, metrics))
}
