//! Kinesis and SQS triggers: enriched records in, partial batch failures out.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use delivery::{EventsApi, Metrics};
use interactions::Outcome;
use serde::Serialize;

use crate::App;
use crate::gather::{Gathered, Undelivered};

/// One stream record: its id for `batchItemFailures` (the Kinesis sequence number or the SQS message
/// id) and its bytes (one enriched TSV event).
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub data: Vec<u8>,
}

/// A record that cannot be processed, for the dead-letter target.
#[derive(Debug, Clone, Serialize)]
pub struct BadRecord {
    pub record_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub error: String,
    /// The record's bytes, lossily as text: for targets that keep data (a queue, a bucket), never for
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
                tracing::warn!(record = %row.record_id, event_id = row.event_id.as_deref().unwrap_or(""), error = %row.error, "bad record");
            }
        })
    }
}

impl<A: EventsApi> App<A> {
    /// Processes a batch; returns the ids of the records to report in `batchItemFailures`, in batch order.
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
            let bad_record = |event_id: Option<String>, error: String| BadRecord {
                record_id: record.id.clone(),
                event_id,
                error,
                data: record.data.clone(),
            };
            match self.pipeline.process(&record.data) {
                Outcome::Interaction { interaction, .. } => {
                    Metrics::add(&self.metrics.interactions_in, 1);
                    if let Err(e) = gathered.add(index, &interaction, &self.metrics) {
                        bad.push(bad_record(Some(interaction.event_id.clone()), e.to_string()));
                    }
                }
                Outcome::Bad { event_id, error } => bad.push(bad_record(event_id, error.to_string())),
                Outcome::Filtered | Outcome::Skipped { .. } => {}
            }
        }
        let (_, undelivered) = gathered.deliver(&self.sender).await;
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        for Undelivered { letter, items } in undelivered {
            if letter.retryable {
                // Lambda hands these records over again; their events keep their ids, so whatever did
                // arrive is not counted twice.
                failed.extend(items);
            } else {
                bad.extend(items.into_iter().map(|index| BadRecord {
                    record_id: records[index].id.clone(),
                    event_id: None,
                    error: letter.error.clone(),
                    data: records[index].data.clone(),
                }));
            }
        }
        if !bad.is_empty() {
            self.bad_records.send(bad).await;
        }
        failed.into_iter().map(|i| records[i].id.clone()).collect()
    }
}
