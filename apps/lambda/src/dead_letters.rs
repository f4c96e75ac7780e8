//! Bad stream records to an SQS queue, so they can be inspected and replayed; they never fail the batch.

use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use handlers::{BadRecord, BadRecords, StdoutBadRecords};
use serde_json::json;

/// Sends each bad record as one message (`{record_id, event, event_id, error, data}`: the event as
/// text, or `data_base64` for a corrupt compressed record) in batches of ten. What the queue does not take is logged, without its data.
#[derive(Debug, Clone)]
pub struct SqsBadRecords {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsBadRecords {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        SqsBadRecords { client, queue_url }
    }

    async fn send_batch(&self, rows: &[BadRecord]) -> Result<Vec<usize>, String> {
        let entries = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut body = json!({
                    "record_id": row.record_id,
                    "event": row.event,
                    "event_id": row.event_id,
                    "error": row.error,
                });
                // A TSV event travels as text; a corrupt compressed record is binary, so it goes in
                // base64 rather than mangled.
                match std::str::from_utf8(&row.data) {
                    Ok(text) => body["data"] = text.into(),
                    Err(_) => body["data_base64"] = base64::engine::general_purpose::STANDARD.encode(&row.data).into(),
                }
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body.to_string())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(output.failed().iter().filter_map(|f| f.id().parse().ok()).collect())
    }
}

impl BadRecords for SqsBadRecords {
    fn send<'a>(&'a self, rows: Vec<BadRecord>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let mut unsent = Vec::new();
            for chunk in rows.chunks(10) {
                match self.send_batch(chunk).await {
                    Ok(failed) => unsent.extend(failed.into_iter().filter_map(|i| chunk.get(i).cloned())),
                    Err(error) => {
                        tracing::error!(%error, "cannot send bad records to the dead-letter queue");
                        unsent.extend(chunk.iter().cloned());
                    }
                }
            }
            if !unsent.is_empty() {
                StdoutBadRecords.send(unsent).await;
            }
        })
    }
}
