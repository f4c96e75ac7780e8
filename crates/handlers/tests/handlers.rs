//! The shared handlers against the emulator over real HTTP.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use delivery::{Metrics, SdkApi, SendConfig, Sender, sdk_client_for_endpoint};
use handlers::{App, BadRecords, BasicAuth, Record};
use interactions::{Pipeline, Settings};
use personalize_emulator::{Config, Emulator, Faults};
use personalize_events::DeliverySettings;
use serde_json::{Value, json};
use synthetic_events::{Corpus, Kind, Mix};

use flavours as _;

struct Setup {
    emulator: Emulator,
    app: App<SdkApi>,
    bad: Arc<CollectedSink>,
}

#[derive(Default)]
struct CollectedSink(Mutex<Vec<(String, String)>>);

impl BadRecords for CollectedSink {
    fn send<'a>(&'a self, rows: Vec<handlers::BadRecord>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            self.0.lock().unwrap().extend(rows.into_iter().map(|r| (r.record_id, r.error)));
        })
    }
}

async fn setup(faults: Faults) -> Setup {
    let emulator =
        Emulator::start("127.0.0.1:0".parse().unwrap(), Config { faults, ..Config::default() }).await.unwrap();
    let config = SendConfig {
        max_attempts: 3,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        attempt_timeout: Duration::from_secs(2),
        ..SendConfig::default()
    };
    let metrics = Arc::new(Metrics::default());
    let client = sdk_client_for_endpoint(&emulator.endpoint_url(), config.attempt_timeout);
    let sender = Arc::new(Sender::new(SdkApi::new(client), config, metrics.clone()));
    let table: toml::Table = toml::from_str(
        "dataset_group = \"shop\"\ntracking_ids = { shop = \"t-shop\" }\nrecommenders = { popular = \"arn:aws:personalize:eu-west-1:123456789012:recommender/popular\" }",
    )
    .unwrap();
    let bad = Arc::new(CollectedSink::default());
    let app = App {
        pipeline: Pipeline::new(&Settings::default()).unwrap(),
        delivery: DeliverySettings::load(&table, |_| None).unwrap(),
        auth: BasicAuth::new("snowbridge:pa55"),
        sender,
        metrics,
        max_body_bytes: 64 * 1024,
        bad_records: bad.clone(),
        recommender: Some(Arc::new(delivery::SdkRecommender::for_endpoint(&emulator.endpoint_url()))),
        record_limits: Default::default(),
    };
    Setup { emulator, app, bad }
}

fn interaction(id: &str, items: &[&str]) -> Value {
    json!({"event_id": id, "event_type": "View", "user_id": "u1", "session_id": "s1", "item_ids": items, "sent_at": 1714558501951u64})
}

fn post(path: &str, auth: Option<&str>, body: &[u8]) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method("POST").uri(path).header("content-type", "application/json");
    if let Some(auth) = auth {
        builder = builder
            .header("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(auth)));
    }
    builder.body(body.to_vec()).unwrap()
}

const GOOD: Option<&str> = Some("snowbridge:pa55");

async fn call(app: &App<SdkApi>, request: http::Request<Vec<u8>>) -> (u16, Value, http::HeaderMap) {
    let response = app.handle_http(request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, serde_json::from_str(response.body()).unwrap(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snowbridge_batches_are_delivered_and_reported() {
    let s = setup(Faults::default()).await;
    let body =
        json!([interaction("a", &["P1"]), interaction("b", &["P2", "P3"]), {"event_id": "c"}, interaction("d", &[])]);
    let (status, report, _) = call(&s.app, post("/interaction/shop", GOOD, body.to_string().as_bytes())).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 2);
    assert_eq!(report["events"], 3);
    let rejected: Vec<u64> =
        report["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(rejected, [2, 3]);
    assert!(report["rejected"][0]["error"].as_str().unwrap().contains("not an interaction"));
    // Snowbridge v2 sends one bare object; REST APIs put the stage in front of the path.
    let (status, report, _) =
        call(&s.app, post("/Prod/interaction/shop", GOOD, interaction("e", &["P4"]).to_string().as_bytes())).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)));
    let ids: Vec<String> = s.emulator.accepted().iter().map(|a| a.event.event_id.clone().unwrap()).collect();
    assert_eq!(ids, ["a", "b:0", "b:1", "e"]);
    assert!(s.emulator.accepted().iter().all(|a| a.tracking_id == "t-shop"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_the_right_status() {
    let s = setup(Faults::default()).await;
    let body = interaction("a", &["P1"]).to_string().into_bytes();
    let (status, _, headers) = call(&s.app, post("/interaction/shop", None, &body)).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Basic realm=\"snowplow-personalize\"");
    for wrong in ["snowbridge:pa56", "snowbridge:pa55x", "", "x", &"y".repeat(10_000)] {
        assert_eq!(call(&s.app, post("/interaction/shop", Some(wrong), &body)).await.0, 401, "{wrong}");
    }
    for path in
        ["/interaction/other", "/interaction/..%2fshop", "/interaction/sh.op", "/x/y/interaction/shop", "/interaction"]
    {
        assert_eq!(call(&s.app, post(path, GOOD, &body)).await.0, 404, "{path}");
    }
    assert_eq!(call(&s.app, post("/interaction/shop", GOOD, &vec![b' '; 65 * 1024])).await.0, 413);
    for bad_body in [&b"{not json"[..], b"42", b"[]", br#"[{"event_id":1}]"#] {
        assert_eq!(
            call(&s.app, post("/interaction/shop", GOOD, bad_body)).await.0,
            400,
            "{}",
            String::from_utf8_lossy(bad_body)
        );
    }
    let get = http::Request::builder()
        .method("GET")
        .uri("/interaction/shop")
        .header("authorization", "Basic c25vd2JyaWRnZTpwYTU1")
        .body(Vec::new())
        .unwrap();
    assert_eq!(call(&s.app, get).await.0, 405);
    assert!(s.emulator.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_that_outlasts_retries_asks_snowbridge_to_resend() {
    let s = setup(Faults { throttle: 1.0, ..Faults::default() }).await;
    let (status, _, headers) =
        call(&s.app, post("/interaction/shop", GOOD, interaction("a", &["P1"]).to_string().as_bytes())).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_the_service_rejects_are_reported_not_retried() {
    let s = setup(Faults { reject_item_prefix: Some("BAD".into()), ..Faults::default() }).await;
    let body = json!([interaction("a", &["P1"]), interaction("b", &["BAD-1"]), interaction("c", &["P3"])]);
    let (status, report, _) = call(&s.app, post("/interaction/shop", GOOD, body.to_string().as_bytes())).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 2);
    assert_eq!(report["rejected"][0]["index"], 1);
    assert!(report["rejected"][0]["error"].as_str().unwrap().contains("InvalidInputException"));
}

fn records(kinds: &[Kind]) -> Vec<Record> {
    let mut corpus = Corpus::new(3, Mix::Uniform);
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let fields = corpus.event(*kind);
            Record { id: format!("seq-{i}"), data: snowplow_enriched::tsv::line_from_fields(&fields).unwrap() }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_batches_deliver_and_send_bad_records_aside() {
    let s = setup(Faults::default()).await;
    let mut batch =
        records(&[Kind::ViewItem, Kind::PageView, Kind::CreateOrder, Kind::RecommendationClick, Kind::TransactionItem]);
    batch.push(Record { id: "seq-bad".into(), data: b"not an event".to_vec() });
    let failed = s.app.handle_records(&batch).await;
    assert!(failed.is_empty(), "{failed:?}");
    let bad = s.bad.0.lock().unwrap().clone();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, "seq-bad");
    assert!(bad[0].1.contains("131 tab-separated fields"));
    assert!(!s.emulator.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_records_whose_events_failed_are_reported() {
    let s = setup(Faults { server_error: 1.0, ..Faults::default() }).await;
    let batch = records(&[Kind::PageView, Kind::ViewItem, Kind::PagePing, Kind::TransactionItem]);
    let failed = s.app.handle_records(&batch).await;
    // The page view and ping have nothing to deliver; they must not come back.
    assert_eq!(failed, ["seq-1", "seq-3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_recommendations_gives_the_id_that_clicks_carry_back() {
    let s = setup(Faults::default()).await;
    let body = json!([interaction("a", &["P1"]), interaction("b", &["P2", "P1"])]);
    assert_eq!(call(&s.app, post("/interaction/shop", GOOD, body.to_string().as_bytes())).await.0, 200);
    let ask = json!({"method": "get_recommendations", "user_id": "u1", "recommender": "popular"}).to_string();
    let (status, answer, _) = call(&s.app, post("/", GOOD, ask.as_bytes())).await;
    assert_eq!(status, 200, "{answer}");
    let items: Vec<&str> =
        answer["itemList"].as_array().unwrap().iter().map(|i| i["itemId"].as_str().unwrap()).collect();
    assert_eq!(items, ["P1", "P2"]);
    let recommendation_id = answer["recommendationId"].as_str().unwrap().to_owned();
    assert!(recommendation_id.len() <= 40);
    // The click on that widget, tracked with the id, is delivered with its attribution.
    let click = json!({"event_id": "c", "event_type": "Click", "session_id": "s1", "item_ids": items, "sent_at": 1714558509000u64, "impression_id": recommendation_id});
    assert_eq!(call(&s.app, post("/Prod/interaction/shop", GOOD, click.to_string().as_bytes())).await.0, 200);
    let last = s.emulator.accepted().pop().unwrap();
    assert_eq!(last.event.recommendation_id.as_deref(), Some(recommendation_id.as_str()));

    assert_eq!(call(&s.app, post("/", None, ask.as_bytes())).await.0, 401);
    let unknown = json!({"method": "get_recommendations", "user_id": "u1", "recommender": "nope"}).to_string();
    assert_eq!(call(&s.app, post("/Prod", GOOD, unknown.as_bytes())).await.0, 404);
    for bad in [json!({"method": "other", "user_id": "u1", "recommender": "popular"}), json!({"user_id": "u1"})] {
        assert_eq!(call(&s.app, post("/", GOOD, bad.to_string().as_bytes())).await.0, 400, "{bad}");
    }
}

/// A `tracing` writer into memory, to read what the handlers log.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hostile requests get the right status every time, nothing panics, and the log (everything the
/// handlers say, at every level) holds neither the credentials nor a user id.
#[tokio::test(flavor = "current_thread")]
async fn hostile_requests_get_the_right_status_and_leak_nothing() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,aws=info,hyper=info,h2=info,rustls=info"))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut s = setup(Faults { reject_item_prefix: Some("REJECT".into()), ..Faults::default() }).await;
    s.app.bad_records = Arc::new(handlers::StdoutBadRecords);
    let user = "user-7f3a9c-secret-id";
    let good = |id: &str| {
        json!({"event_id": id, "event_type": "Click", "user_id": user, "session_id": "s", "item_ids": ["P1"], "sent_at": 1,
               "impression_id": "x".repeat(50)})
    };
    let limit = s.app.max_body_bytes;
    let nested = format!("{}{}", "[".repeat(limit / 2 - 10), "]".repeat(limit / 2 - 10));
    let mut cases: Vec<(http::Request<Vec<u8>>, u16)> = vec![
        (post("/interaction/shop", GOOD, &vec![b'['; limit * 40]), 413),
        (post("/interaction/shop", GOOD, &vec![b' '; limit + 1]), 413),
        (post("/interaction/shop", GOOD, nested.as_bytes()), 400),
        (post("/interaction/shop", GOOD, b"{\"event_id\": \"\xff\xfe\"}"), 400),
        (post("/interaction/shop", GOOD, b"\xc3\x28 not utf-8"), 400),
        (post("/interaction/shop", GOOD, b""), 400),
        (post("/interaction/shop", GOOD, b"null"), 400),
        (post("/interaction/shop", GOOD, json!({"user_id": user}).to_string().as_bytes()), 400),
        (post("/interaction/shop", GOOD, json!([good("h1"), {"item_ids": user}]).to_string().as_bytes()), 200),
        (
            post(
                "/interaction/shop",
                GOOD,
                json!([{"event_id": "r", "event_type": "View", "user_id": user, "session_id": "s",
            "item_ids": ["REJECT-1"], "sent_at": 1}])
                .to_string()
                .as_bytes(),
            ),
            200,
        ),
        (
            post(
                "/",
                GOOD,
                json!({"method": "get_recommendations", "user_id": user, "recommender": "nope"}).to_string().as_bytes(),
            ),
            404,
        ),
    ];
    for path in [
        "/interaction/..",
        "/interaction/%2e%2e",
        "/interaction/shop%2F..%2Fx",
        "/interaction/../../etc/passwd",
        "/interaction/shop/extra/x",
        "/interaction/SHOP",
        "/interaction/sh%00op",
        "/interaction/-shop",
    ] {
        cases.push((post(path, GOOD, good("p").to_string().as_bytes()), 404));
    }
    for content_type in
        ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]
    {
        let mut request = post("/interaction/shop", GOOD, good("c").to_string().as_bytes());
        request.headers_mut().insert("content-type", http::HeaderValue::from_static(content_type));
        cases.push((request, 415));
    }
    let mut get = post("/interaction/shop", GOOD, b"");
    *get.method_mut() = http::Method::GET;
    cases.push((get, 405));
    // Wrong credentials of every length, right user with wrong passwords, and malformed headers.
    for length in (0..300).step_by(7).chain([1024, 8192, 60_000]) {
        cases.push((post("/interaction/shop", Some(&"p".repeat(length)), b"[]"), 401));
        cases.push((post("/interaction/shop", Some(&format!("snowbridge:{}", "5".repeat(length))), b"[]"), 401));
    }
    for header in ["Basic", "Basic !!!not-base64!!!", "Bearer c25vd2JyaWRnZTpwYTU1", "basic c25vd2JyaWRnZTpwYTU1x", ""]
    {
        let mut request = post("/interaction/shop", None, b"[]");
        request.headers_mut().insert("authorization", http::HeaderValue::from_str(header).unwrap());
        cases.push((request, 401));
    }
    let mut latin1 = post("/interaction/shop", None, b"[]");
    latin1.headers_mut().insert("authorization", http::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap());
    cases.push((latin1, 401));

    for (i, (request, expected)) in cases.into_iter().enumerate() {
        let path = request.uri().to_string();
        let response = s.app.handle_http(request).await;
        assert_eq!(response.status().as_u16(), expected, "case {i} ({path}): {}", response.body());
        assert!(serde_json::from_str::<Value>(response.body()).is_ok(), "case {i}: answers are JSON");
    }
    // Stream records with the user id inside broken events: bad rows are logged without their data.
    let mut records = records(&[Kind::ViewItem]);
    for (i, broken) in [format!("{user}\t{user}"), format!("shop\t{}", "\t".repeat(129) + user)].iter().enumerate() {
        records.push(Record { id: format!("broken-{i}"), data: broken.clone().into_bytes() });
    }
    assert!(s.app.handle_records(&records).await.is_empty());

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("bad record") && log.contains("recommendation id over 40"), "the handlers did log: {log}");
    for secret in ["pa55", user, "c25vd2JyaWRnZTpwYTU1"] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}
