//! The Lambda's dispatch over the payload files in `fixtures/lambda/`, delivering to the emulator over
//! real HTTP through the SDK.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use delivery::{Metrics, SdkApi, SendConfig, Sender, sdk_client_for_endpoint};
use handlers::{App, BasicAuth, StdoutBadRecords};
use interactions::{Pipeline, Settings};
use personalize_emulator::{Config, Emulator, Faults};
use personalize_events::DeliverySettings;
use serde_json::Value;

/// What the Lambda answers to a payload given as JSON text, which it reads as the runtime does.
async fn dispatch(app: &App<SdkApi>, text: &str) -> anyhow::Result<Value> {
    lambda::dispatch(app, text.parse()?).await
}

fn payload(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/lambda").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn app(faults: Faults) -> (Emulator, App<SdkApi>) {
    let config = SendConfig {
        max_attempts: 3,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..SendConfig::default()
    };
    app_with(faults, config).await
}

async fn app_with(faults: Faults, config: SendConfig) -> (Emulator, App<SdkApi>) {
    let emulator =
        Emulator::start("127.0.0.1:0".parse().unwrap(), Config { faults, ..Config::default() }).await.unwrap();
    let metrics = Arc::new(Metrics::default());
    let client = sdk_client_for_endpoint(&emulator.endpoint_url(), config.attempt_timeout);
    let delivery = DeliverySettings::load(&toml::Table::new(), |k| match k {
        personalize_events::TRACKING_IDS_VAR => Some("shop=t-shop".into()),
        personalize_events::DATASET_GROUP_VAR => Some("shop".into()),
        _ => None,
    })
    .unwrap();
    let app = App {
        pipeline: Pipeline::new(&Settings::default()).unwrap(),
        delivery,
        auth: BasicAuth::new("snowbridge:pa55"),
        sender: Arc::new(Sender::new(SdkApi::new(client), config, metrics.clone())),
        metrics,
        max_body_bytes: 1 << 20,
        bad_records: Arc::new(StdoutBadRecords),
        recommender: None,
        record_limits: Default::default(),
    };
    (emulator, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_payloads_of_every_origin() {
    for name in ["apigw-rest-interactions.json", "apigw-http-interactions.json", "function-url-interactions.json"] {
        let (emulator, app) = app(Faults::default()).await;
        let answer = dispatch(&app, &payload(name).to_string()).await.unwrap();
        assert_eq!(answer["statusCode"], 200, "{name}: {answer}");
        assert_eq!(answer["isBase64Encoded"], false);
        let report: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(report["accepted"], 2, "{name}");
        assert_eq!(report["rejected"][0]["index"], 2, "{name}");
        let accepted = emulator.accepted();
        assert_eq!(accepted.len(), 2, "{name}: a recommendation click is one event");
        assert_eq!(accepted[1].event.recommendation_id.as_deref(), Some("rec-1"));
        assert_eq!(accepted[1].event.impression.as_ref().unwrap().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refusals() {
    let (emulator, app) = app(Faults::default()).await;
    for (name, status) in [
        ("apigw-rest-no-auth.json", 401),
        ("function-url-wrong-auth.json", 401),
        ("function-url-unknown-group.json", 404),
    ] {
        let answer = dispatch(&app, &payload(name).to_string()).await.unwrap();
        assert_eq!(answer["statusCode"], status, "{name}: {answer}");
        if status == 401 {
            assert_eq!(answer["headers"]["www-authenticate"], "Basic realm=\"snowplow-personalize\"");
        }
    }
    // Without configured credentials the endpoint is closed, not open.
    let mut open = app;
    open.auth = None;
    assert_eq!(dispatch(&open, &payload("apigw-http-interactions.json").to_string()).await.unwrap()["statusCode"], 401);
    assert!(emulator.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_batches_report_nothing_when_all_is_delivered() {
    for name in ["kinesis-enriched.json", "sqs-enriched.json"] {
        let (emulator, app) = app(Faults::default()).await;
        let answer = dispatch(&app, &payload(name).to_string()).await.unwrap();
        assert_eq!(answer, serde_json::json!({"batchItemFailures": []}), "{name}");
        // view_item (1), transaction_item (1), recommendation click (1); the page view is filtered and
        // the broken record went to the bad-record log.
        assert_eq!(emulator.accepted().len(), 3, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_batches_report_only_the_records_that_failed() {
    let (_emulator, app) = app(Faults { server_error: 1.0, ..Faults::default() }).await;
    let answer = dispatch(&app, &payload("kinesis-enriched.json").to_string()).await.unwrap();
    let failed: Vec<&str> =
        answer["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    let kinesis = payload("kinesis-enriched.json");
    let sequence = |i: usize| kinesis["Records"][i]["kinesis"]["sequenceNumber"].as_str().unwrap().to_owned();
    assert_eq!(failed, [sequence(0), sequence(3), sequence(4)]);

    let answer = dispatch(&app, &payload("sqs-enriched.json").to_string()).await.unwrap();
    let failed: Vec<&str> =
        answer["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    assert_eq!(
        failed,
        [
            "0a1b2c3d-0000-4000-8000-000000000000",
            "0a1b2c3d-0000-4000-8000-000000000003",
            "0a1b2c3d-0000-4000-8000-000000000004"
        ]
    );
}

#[tokio::test]
async fn unknown_payloads_are_errors() {
    let (_emulator, app) = app(Faults::default()).await;
    assert!(dispatch(&app, &serde_json::json!({"hello": "world"}).to_string()).await.is_err());
    assert!(dispatch(&app, &serde_json::json!({"Records": [{"eventSource": "aws:s3"}]}).to_string()).await.is_err());
    assert_eq!(
        dispatch(&app, &serde_json::json!({"Records": []}).to_string()).await.unwrap(),
        serde_json::json!({"batchItemFailures": []})
    );
    // Kinesis always sends base64 and a `kinesis` object; a batch without them is not one to half-process.
    let kinesis = |record: Value| {
        let mut record = record;
        record["eventSource"] = "aws:kinesis".into();
        serde_json::json!({ "Records": [record] }).to_string()
    };
    let error =
        dispatch(&app, &kinesis(serde_json::json!({"kinesis": {"sequenceNumber": "495", "data": "no*base64"}})))
            .await
            .unwrap_err();
    assert!(error.to_string().contains("Kinesis record 495: data is not base64"), "{error}");
    let error = dispatch(&app, &kinesis(serde_json::json!({}))).await.unwrap_err();
    assert!(error.to_string().contains("record 0 of a Kinesis batch has no `kinesis`"), "{error}");
}

/// A stand-in for SQS's JSON protocol, enough for `SendMessageBatch`: records each request body.
async fn fake_sqs() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let recorded = recorded.clone();
                    async move {
                        let body: Value =
                            serde_json::from_slice(&request.into_body().collect().await.unwrap().to_bytes()).unwrap();
                        let successful: Vec<Value> = body["Entries"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|e| serde_json::json!({"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": "0"}))
                            .collect();
                        recorded.lock().unwrap().push(body);
                        let answer = serde_json::json!({"Successful": successful, "Failed": []}).to_string();
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(answer))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}

fn sqs_client(url: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("x", "y", None, None, "test"))
        .endpoint_url(url)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_go_to_the_dead_letter_queue() {
    let (sqs_url, seen) = fake_sqs().await;
    let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/bad-records".to_owned();
    let (emulator, mut app) = app(Faults::default()).await;
    app.bad_records = Arc::new(lambda::dead_letters::SqsBadRecords::new(sqs_client(&sqs_url), queue.clone()));
    let answer = dispatch(&app, &payload("kinesis-enriched.json").to_string()).await.unwrap();
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(emulator.accepted().len(), 3);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["QueueUrl"], queue);
    let message: Value = serde_json::from_str(requests[0]["Entries"][0]["MessageBody"].as_str().unwrap()).unwrap();
    let kinesis = payload("kinesis-enriched.json");
    assert_eq!(message["record_id"], kinesis["Records"][2]["kinesis"]["sequenceNumber"]);
    assert_eq!(message["data"], "not an enriched event");
    assert!(message["error"].as_str().unwrap().contains("131 tab-separated fields"));
}

/// Plain, zstd and gzip records in one batch (fixtures/lambda/*-mixed-records.json, from `cargo xtask
/// fixtures`): a plain view_item, a zstd record of a purchase, a filtered page view and a
/// recommendation click, a gzip record of a GA purchase, an event with 130 fields and a create_order,
/// and the upstream gzip record whose stream is cut short after two events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_plain_and_compressed_records() {
    let (sqs_url, seen) = fake_sqs().await;
    let sqs = sqs_client(&sqs_url);
    for (name, id_of) in [
        (
            "kinesis-mixed-records.json",
            &(|r: &Value| r["kinesis"]["sequenceNumber"].clone()) as &dyn Fn(&Value) -> Value,
        ),
        ("sqs-mixed-records.json", &|r: &Value| r["messageId"].clone()),
    ] {
        seen.lock().unwrap().clear();
        let (emulator, mut app) = app(Faults::default()).await;
        app.bad_records = Arc::new(lambda::dead_letters::SqsBadRecords::new(sqs.clone(), "q".into()));
        let batch = payload(name);
        let answer = dispatch(&app, &batch.to_string()).await.unwrap();
        assert_eq!(answer, serde_json::json!({"batchItemFailures": []}), "{name}");
        // 1 view + 1 purchase + 1 click (one event with its impression) + 2 GA products + 2 order items.
        let mut ids: Vec<String> =
            emulator.accepted().iter().map(|a| a.event.event_id.clone().unwrap_or_default()).collect();
        ids.sort();
        assert_eq!(ids.len(), 7, "{name}: {ids:?}");
        assert_eq!(emulator.stats().duplicate_events, 0);

        let requests = seen.lock().unwrap().clone();
        let messages: Vec<Value> = requests
            .iter()
            .flat_map(|r| r["Entries"].as_array().unwrap().clone())
            .map(|e| serde_json::from_str(e["MessageBody"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(messages.len(), 2, "{name}: {messages:?}");
        let records = batch["Records"].as_array().unwrap();
        // The bad event of the gzip record, named by record and position, with its own bytes as text.
        assert_eq!(messages[0]["record_id"], id_of(&records[2]));
        assert_eq!(messages[0]["event"], 2);
        assert!(messages[0]["error"].as_str().unwrap().contains("131 tab-separated fields"), "{}", messages[0]);
        assert!(messages[0]["data"].as_str().unwrap().contains('\t'));
        // The cut-short record: its two events went on (page views, filtered), the record is kept whole.
        assert_eq!(messages[1]["record_id"], id_of(&records[3]));
        assert_eq!(messages[1]["event"], 3);
        assert!(messages[1]["error"].as_str().unwrap().starts_with("gzip record, event 3 at byte 1253"));
        assert!(messages[1]["data_base64"].as_str().unwrap().starts_with("H4sI"));
    }

    // Personalize failing: every record with an event to deliver comes back, the corrupt one does not.
    let (_emulator, app) = app(Faults { server_error: 1.0, ..Faults::default() }).await;
    let batch = payload("kinesis-mixed-records.json");
    let answer = dispatch(&app, &batch.to_string()).await.unwrap();
    let failed: Vec<&str> =
        answer["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    let sequence = |i: usize| batch["Records"][i]["kinesis"]["sequenceNumber"].as_str().unwrap().to_owned();
    assert_eq!(failed, [sequence(0), sequence(1), sequence(2)]);
}

/// The Kinesis path under every fault at once, as Lambda drives it: a batch of plain and zstd records
/// against 20% throttling, 5% server errors, answers slower than the attempt timeout and connections
/// dropped before and after the emulator accepts; the records named in `batchItemFailures` are handed
/// over again, as Lambda does, until none is. Every event arrives, each eventId is accepted once, and
/// the resends the emulator saw again are recognised by their ids.
/// The emulator draws faults by request, not by order of arrival, so this batch meets the same faults
/// on every run, and whether some records come back to be handed over again is never left to chance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_batches_lose_nothing_under_faults() {
    use base64::Engine as _;
    use snowplow_enriched::{Compression, encode_record};
    let faults = Faults {
        throttle: 0.2,
        server_error: 0.05,
        slow: 0.03,
        slow_for: Duration::from_millis(600),
        drop_before: 0.03,
        drop_after: 0.03,
        ..Faults::default()
    };
    let config = SendConfig {
        max_attempts: 4,
        attempt_timeout: Duration::from_millis(200),
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..SendConfig::default()
    };
    let (emulator, app) = app_with(faults, config).await;
    let lines: Vec<Vec<u8>> = synthetic_events::Corpus::new(9, synthetic_events::Mix::Uniform).take(600).collect();
    // The events the batch should deliver, from the same pipeline and translation.
    let mut expected = std::collections::BTreeSet::new();
    for line in &lines {
        if let interactions::Outcome::Interaction { interaction, .. } = app.pipeline.process(line) {
            for event in personalize_events::translate(&interaction).unwrap().events {
                expected.insert(event.event_id.unwrap());
            }
        }
    }
    let mut records: Vec<Value> = Vec::new();
    let (plain, compressed) = lines.split_at(300);
    let encoded = plain
        .iter()
        .map(|line| encode_record(Compression::Plain, &[line]).unwrap())
        .chain(compressed.chunks(30).map(|chunk| encode_record(Compression::Zstd, chunk).unwrap()));
    for (i, data) in encoded.enumerate() {
        records.push(serde_json::json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": format!("pk-{i}"),
                "sequenceNumber": format!("{i:056}"),
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": 1714558503.0
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{i:056}"),
            "eventName": "aws:kinesis:record",
            "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/enriched-good"
        }));
    }
    let mut pending = records;
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= 30, "{} records still failing after 30 invocations", pending.len());
        let answer = dispatch(&app, &serde_json::json!({ "Records": pending }).to_string()).await.unwrap();
        let failed: std::collections::BTreeSet<&str> = answer["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap())
            .collect();
        pending.retain(|r| failed.contains(r["kinesis"]["sequenceNumber"].as_str().unwrap()));
    }
    let accepted: Vec<String> =
        emulator.accepted().iter().map(|a| a.event.event_id.clone().unwrap_or_default()).collect();
    let distinct: std::collections::BTreeSet<String> = accepted.iter().cloned().collect();
    assert_eq!(accepted.len(), distinct.len(), "no eventId accepted twice");
    let missing = expected.difference(&distinct).count();
    assert_eq!((missing, distinct.len()), (0, expected.len()), "every event arrives, nothing else");
    let stats = emulator.stats();
    assert!(rounds > 1, "the faults made some records come back");
    assert!(stats.duplicate_events > 0, "resends after lost answers were recognised: {stats:?}");
    // The counts add up: every event was in some call answered 200, and every event in such a call
    // was counted by the emulator, as new or as a duplicate (calls whose answers were lost were
    // counted there too, not here).
    let sent = app.metrics.snapshot().events_sent;
    eprintln!(
        "{} events expected, {} accepted after {rounds} invocations, emulator {stats:?}, {sent} events in calls answered 200",
        expected.len(),
        distinct.len()
    );
    assert!(
        sent >= expected.len() as u64 && sent <= stats.accepted_events + stats.duplicate_events,
        "{sent} {stats:?}"
    );
}

/// Hostile function-URL requests through the Lambda's own decoding (base64 bodies, raw paths,
/// headers) into the shared handler: the right status every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_function_url_requests() {
    use base64::Engine as _;
    let (_emulator, app) = app(Faults::default()).await;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let good = payload("function-url-interactions.json");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut request = good.clone();
        edit(&mut request);
        request
    };
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Value, u16)> = vec![
        ("not base64", with(&|r| r["body"] = "!!! not base64 !!!".into()), 400),
        ("over the limit", with(&|r| r["body"] = encode(&vec![b'['; 3 << 20]).into()), 413),
        ("not UTF-8", with(&|r| r["body"] = encode(b"[\"\xff\xfe\"]").into()), 400),
        ("deeply nested", with(&|r| r["body"] = encode(nested.as_bytes()).into()), 400),
        ("plain text body", with(&|r| r["isBase64Encoded"] = false.into()), 400),
        ("form", with(&|r| r["headers"]["content-type"] = "application/x-www-form-urlencoded".into()), 415),
        ("path trick", with(&|r| r["rawPath"] = "/interaction/..%2F..%2Fetc%2Fpasswd".into()), 404),
        ("dot segments", with(&|r| r["rawPath"] = "/interaction/../shop".into()), 404),
        (
            "long credentials",
            with(&|r| r["headers"]["authorization"] = format!("Basic {}", "QUFB".repeat(20_000)).into()),
            401,
        ),
        ("no credentials", with(&|r| drop(r["headers"].as_object_mut().unwrap().remove("authorization"))), 401),
        ("get", with(&|r| r["requestContext"]["http"]["method"] = "GET".into()), 405),
    ];
    for (name, request, expected) in cases {
        let answer = dispatch(&app, &request.to_string()).await.unwrap();
        assert_eq!(answer["statusCode"], expected, "{name}: {answer}");
    }
}
