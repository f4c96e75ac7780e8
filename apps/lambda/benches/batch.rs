//! What a 1,000-record Kinesis batch costs the Lambda before any network wait: the payload's bytes read
//! as the runtime reads them, every record decoded and mapped, interactions batched into `PutEvents`
//! requests and handed to the API, the failures worked out. Personalize is answered in-process at once,
//! so the SDK and HTTP (whose cost `deploy/measure_lambda.py` shows) are left out. `cargo bench -p
//! lambda`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use delivery::{CallError, EventsApi, Metrics, SendConfig, Sender};
use handlers::{App, StdoutBadRecords};
use interactions::{Pipeline, Settings};
use personalize_events::{DeliverySettings, PutEventsRequest};
use serde_json::json;
use synthetic_events::{Corpus, Mix};

use flavours as _;

/// Personalize answering every call at once.
struct Instant;

impl EventsApi for Instant {
    async fn put_events(&self, _: &PutEventsRequest) -> Result<(), CallError> {
        Ok(())
    }
}

fn app() -> App<Instant> {
    let metrics = Arc::new(Metrics::default());
    let delivery = DeliverySettings::load(&toml::Table::new(), |k| match k {
        personalize_events::TRACKING_IDS_VAR => Some("shop=t-shop".into()),
        personalize_events::DATASET_GROUP_VAR => Some("shop".into()),
        _ => None,
    })
    .unwrap();
    App {
        pipeline: Pipeline::new(&Settings::default()).unwrap(),
        delivery,
        auth: None,
        // No pacing: the rate limit's waits are waits, not work.
        sender: Arc::new(Sender::new(
            Instant,
            SendConfig { calls_per_second: 1e9, ..SendConfig::default() },
            metrics.clone(),
        )),
        metrics,
        max_body_bytes: handlers::DEFAULT_MAX_BODY_BYTES,
        bad_records: Arc::new(StdoutBadRecords),
        recommender: None,
        record_limits: Default::default(),
    }
}

/// `n` enriched events of `mix`, as a stream's records.
fn records(n: usize, mix: Mix) -> Vec<handlers::Record> {
    let mut corpus = Corpus::new(7, mix);
    (0..n)
        .map(|i| handlers::Record { id: format!("4959033000000000000000000{i:04}"), data: corpus.next_line().to_vec() })
        .collect()
}

/// A Kinesis batch of `records`, as the Lambda service hands it over.
fn payload(records: &[handlers::Record]) -> String {
    let records: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": i.to_string(),
                    "sequenceNumber": record.id,
                    "data": base64::engine::general_purpose::STANDARD.encode(&record.data),
                    "approximateArrivalTimestamp": 1714558503.0
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{i}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/x",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/enriched"
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// Reads a payload as lambda_runtime does: through `serde_path_to_error`, which wraps every value's
/// reader to name the path of an error.
fn read(payload: &str) -> lambda::Payload {
    let reader = &mut serde_json::Deserializer::from_slice(payload.as_bytes());
    serde_path_to_error::deserialize(reader).unwrap()
}

/// What the Lambda does with a payload, from the bytes the runtime receives up to its response (all but
/// printing the metrics line).
fn run(app: &App<Instant>, runtime: &tokio::runtime::Runtime, payload: &str) {
    let (mode, answer) = runtime.block_on(lambda::answer(app, read(payload))).unwrap();
    assert_eq!((mode, answer["batchItemFailures"].as_array().map(Vec::len)), ("kinesis", Some(0)));
}

fn kinesis_batch(c: &mut Criterion) {
    let app = app();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("lambda");
    group.throughput(Throughput::Elements(1000));
    for mix in Mix::ALL {
        let name = mix.name();
        let records = records(1000, mix);
        let payload = payload(&records);
        let before = app.metrics.snapshot();
        run(&app, &runtime, &payload);
        let after = app.metrics.snapshot();
        // Criterion times the wall clock. The batch runs on this thread alone, so it should be on the
        // CPU throughout; a wait (a timer, say) would count as cost. Both are shown to tell.
        let (wall, cpu) = (std::time::Instant::now(), thread_cpu_time());
        for _ in 0..200 {
            run(&app, &runtime, &payload);
        }
        let wall = wall.elapsed() / 200;
        let cpu = cpu.zip(thread_cpu_time()).map_or("?".into(), |(from, to)| format!("{:.2?}", (to - from) / 200));
        eprintln!(
            "{name}: {} interactions in {} PutEvents calls per batch; {wall:.2?} wall and {cpu} CPU per batch",
            after.events_sent - before.events_sent,
            after.calls - before.calls
        );
        group.bench_function(format!("kinesis batch of 1000 {name} records"), |b| {
            b.iter(|| run(&app, &runtime, &payload));
        });
        // The batch in two parts: reading the payload (dropping it included), and handling its records.
        group.bench_function(format!("reading the payload of 1000 {name} records"), |b| {
            b.iter(|| read(&payload));
        });
        group.bench_function(format!("handling 1000 decoded {name} records"), |b| {
            b.iter(|| runtime.block_on(app.handle_records(&records)));
        });
    }
    group.finish();
}

/// The CPU time of the calling thread so far, as the Linux scheduler counts it (up to a scheduler tick
/// behind, which is little against 200 batches); `None` where there is no `/proc` to ask.
fn thread_cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(std::time::Duration::from_nanos)
}

criterion_group!(benches, kinesis_batch);
criterion_main!(benches);
