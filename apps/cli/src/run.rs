//! `snowplow-personalize run`: enriched events in, interaction JSON lines out.

use anyhow::Context as _;
use interactions::{Outcome, Pipeline, Tally};
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
            error: format!(
                "line is {length} bytes long, over the limit of {max} (--max-line-bytes)"
            ),
        }
    }
}

#[derive(Serialize)]
struct Traced<'a> {
    line: u64,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

pub(crate) fn run(
    pipeline: &Pipeline,
    options: &RunOptions,
    out: &mut Output,
    bad_rows: &mut BadRows,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for_each_line(
        &options.inputs,
        options.max_line_bytes,
        options.progress.as_ref(),
        |place, line| {
            let line = match line {
                Ok(line) => line,
                Err(length) => {
                    tally.record_unreadable();
                    return bad_rows.write(&BadRow::too_long(
                        place,
                        length,
                        options.max_line_bytes,
                    ));
                }
            };
            let outcome = pipeline.process(line);
            tally.record(&outcome);
            if options.outcomes {
                out.json_line(&Traced {
                    line: place.line,
                    outcome: &outcome,
                })?;
            } else if let Outcome::Interaction { interaction, .. } = &outcome {
                out.json_line(interaction)?;
            }
            if let Outcome::Bad { event_id, error } = &outcome {
                let row = BadRow {
                    file: place.file,
                    line: place.line,
                    event_id: event_id.as_deref(),
                    error: error.to_string(),
                };
                bad_rows.write(&row)?;
            }
            Ok(())
        },
    )?;
    out.flush().context("cannot write output")?;
    bad_rows.flush()?;
    Ok(tally)
}
