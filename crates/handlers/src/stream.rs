//! Kinesis and SQS triggers: enriched records in, partial batch failures out.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use delivery::{EventsApi, Metrics};
use interactions::Outcome;
use serde::Serialize;
use snowplow_enriched::{Compression, RecordEvents};

use crate::App;
use crate::gather::{Gathered, Undelivered};

/// One stream record: its id for `batchItemFailures` (the Kinesis sequence number or the SQS message
/// id) and its bytes: one enriched TSV event, or a zstd or gzip record of many.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub data: Vec<u8>,
}

impl Record {
    /// An SQS message. Its body is text: the TSV event itself, or a compressed record in base64 (how
    /// binary travels through SQS, as Snowplow's own SQS sinks do). Only a body whose base64 starts with
    /// zstd's or gzip's magic number is decoded; anything else is taken as it is.
    pub fn from_sqs(id: String, body: String) -> Record {
        use base64::Engine as _;
        let data = if body.starts_with("KLUv/") || body.starts_with("H4sI") {
            base64::engine::general_purpose::STANDARD.decode(body.trim_end()).unwrap_or_else(|_| body.into_bytes())
        } else {
            body.into_bytes()
        };
        Record { id, data }
    }
}

/// A record that cannot be processed, for the dead-letter target.
#[derive(Debug, Clone, Serialize)]
pub struct BadRecord {
    pub record_id: String,
    /// The event's 1-based position in a compressed record, or where a corrupt one went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub error: String,
    /// The bad event's bytes (the whole record when the record itself is corrupt), lossily as text: for targets that keep data (a queue, a bucket), never for
    /// logs.
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// Where bad records go. Sending must not fail the batch: an implementation that cannot deliver logs
/// the rows (without their data) instead.
pub trait BadRecords: Send + Sync {
    fn send<'a>(&'a self, rows: Vec<BadRecord>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// Bad records as JSON log lines on stdout, without the records' data (logs carry no user data).
#[derive(Debug, Default)]
pub struct StdoutBadRecords;

impl BadRecords for StdoutBadRecords {
    fn send<'a>(&'a self, rows: Vec<BadRecord>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            for row in rows {
                tracing::warn!(record = %row.record_id, event = row.event, event_id = row.event_id.as_deref().unwrap_or(""), error = %row.error, "bad record");
            }
        })
    }
}

impl<A: EventsApi> App<A> {
    /// Processes a batch; returns the ids of the records to report in `batchItemFailures`, in batch order.
    ///
    /// A record is one plain event or a compressed record of many (Enrich 6.11+); both may come in the
    /// same batch. A record is reported failed when any of its events could not be delivered for a
    /// reason that may pass (Lambda hands the whole record over again; its events keep their ids, so
    /// whatever did arrive is not counted twice). Bad events, undeliverable ones and corrupt records go
    /// to the bad-records sink instead: retrying cannot mend them.
    pub async fn handle_records(&self, records: &[Record]) -> Vec<String> {
        let tracking_id = match self.delivery.default_tracking_id() {
            Ok(id) => id.to_owned(),
            Err(e) => {
                // Settings are checked at start-up; if they are wrong anyway, nothing may be lost.
                tracing::error!(error = %e, "no tracking id for the stream's dataset group");
                return records.iter().map(|r| r.id.clone()).collect();
            }
        };
        let mut bad = Vec::new();
        let mut gathered = Gathered::new(&tracking_id);
        for (index, record) in records.iter().enumerate() {
            let mut events = RecordEvents::new(&record.data, self.record_limits);
            // Positions are given for the events of compressed records only: a plain record is one.
            let compressed = events.compression() != Compression::Plain;
            let mut position = 0u64;
            while let Some(next) = events.next_event() {
                position += 1;
                let bad_event = |event_id: Option<String>, error: String, data: &[u8]| BadRecord {
                    record_id: record.id.clone(),
                    event: compressed.then_some(position),
                    event_id,
                    error,
                    data: data.to_vec(),
                };
                let event = match next {
                    Ok(event) => event,
                    Err(e) => {
                        // The events before the fault are on their way; the record itself is kept whole.
                        bad.push(BadRecord { event: Some(e.event), ..bad_event(None, e.to_string(), &record.data) });
                        break;
                    }
                };
                match self.pipeline.process(event) {
                    Outcome::Interaction { interaction, .. } => {
                        Metrics::add(&self.metrics.interactions_in, 1);
                        if let Err(e) = gathered.add(index, &interaction, &self.metrics) {
                            bad.push(bad_event(Some(interaction.event_id.to_string()), e.to_string(), event));
                        }
                    }
                    Outcome::Bad { event_id, error } => bad.push(bad_event(event_id, error.to_string(), event)),
                    Outcome::Filtered | Outcome::Skipped { .. } => {}
                }
            }
        }
        let (_, undelivered) = gathered.deliver(&self.sender).await;
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        let mut lost: BTreeSet<usize> = BTreeSet::new();
        for Undelivered { letter, items } in undelivered {
            if letter.retryable {
                failed.extend(items);
            } else {
                for index in items {
                    if lost.insert(index) {
                        bad.push(BadRecord {
                            record_id: records[index].id.clone(),
                            event: None,
                            event_id: None,
                            error: letter.error.clone(),
                            data: records[index].data.clone(),
                        });
                    }
                }
            }
        }
        if !bad.is_empty() {
            self.bad_records.send(bad).await;
        }
        failed.into_iter().map(|i| records[i].id.clone()).collect()
    }
}
