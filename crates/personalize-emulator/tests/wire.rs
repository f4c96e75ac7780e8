//! The emulator's wire protocol, spoken by hand over TCP: limits, error shapes, duplicates, and the
//! other operations.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use personalize_emulator::{Config, Emulator, Faults};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    error_type: Option<String>,
    body: String,
}

async fn post(emulator: &Emulator, path: &str, body: &[u8]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(emulator.addr()).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let error_type =
        head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("x-amzn-errortype: ").map(str::to_owned));
    Reply { status, error_type, body: body.to_owned() }
}

fn event(id: &str) -> Value {
    json!({"eventId": id, "eventType": "View", "sentAt": 1714558501.951, "itemId": "P1"})
}

fn put(events: Vec<Value>) -> Vec<u8> {
    json!({"trackingId": "t", "sessionId": "s", "userId": "u", "eventList": events}).to_string().into_bytes()
}

async fn emulator() -> Emulator {
    Emulator::start("127.0.0.1:0".parse().unwrap(), Config { max_body_bytes: 64 * 1024, ..Config::default() })
        .await
        .unwrap()
}

#[tokio::test]
async fn accepts_valid_calls_and_counts_resent_event_ids_once() {
    let emulator = emulator().await;
    let reply = post(&emulator, "/events", &put(vec![event("a"), event("b")])).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert_eq!(post(&emulator, "/events", &put(vec![event("b"), event("c")])).await.status, 200);
    let accepted: Vec<String> = emulator.accepted().iter().map(|a| a.event.event_id.clone().unwrap()).collect();
    assert_eq!(accepted, ["a", "b", "c"]);
    let stats = emulator.stats();
    assert_eq!((stats.accepted_events, stats.duplicate_events, stats.max_events_per_call), (3, 1, 2));
}

#[tokio::test]
async fn enforces_every_documented_limit() {
    let emulator = emulator().await;
    let mut cases: Vec<(&str, Value)> = vec![
        ("eventList", json!({"trackingId": "t", "sessionId": "s", "eventList": []})),
        (
            "eventList",
            json!({"trackingId": "t", "sessionId": "s", "eventList": (0..11).map(|i| event(&i.to_string())).collect::<Vec<_>>()}),
        ),
        ("sessionId", json!({"trackingId": "t", "eventList": [event("a")]})),
        ("sessionId", json!({"trackingId": "t", "sessionId": "", "eventList": [event("a")]})),
        ("trackingId", json!({"trackingId": "x".repeat(257), "sessionId": "s", "eventList": [event("a")]})),
        ("userId", json!({"trackingId": "t", "sessionId": "s", "userId": "u".repeat(257), "eventList": [event("a")]})),
    ];
    let with = |key: &str, value: Value| {
        let mut e = event("a");
        e[key] = value;
        json!({"trackingId": "t", "sessionId": "s", "eventList": [e]})
    };
    cases.push(("recommendationId", with("recommendationId", json!("r".repeat(41)))));
    cases.push(("impression", with("impression", json!((0..26).map(|i| i.to_string()).collect::<Vec<_>>()))));
    cases.push(("impression", with("impression", json!([]))));
    cases.push(("itemId", with("itemId", json!("i".repeat(257)))));
    cases.push(("eventId", with("eventId", json!("e".repeat(257)))));
    cases.push(("eventType", with("eventType", json!(""))));
    cases.push(("properties", with("properties", json!("{\"userId\":\"x\"}"))));
    cases.push(("properties", with("properties", json!(format!("{{\"k\":\"{}\"}}", "v".repeat(1100))))));
    cases.push(("properties", with("properties", json!("not json"))));
    cases.push(("member", with("itemId", json!("i".repeat(200))).clone()));
    // One event of more than 10 KB whose fields are each within their limits: lengths count
    // characters, size counts bytes, and these characters take four each.
    let last = cases.len() - 1;
    let mut big = event("a");
    big["impression"] = json!((0..25).map(|_| "\u{1F600}".repeat(256)).collect::<Vec<_>>());
    cases[last] = ("member", json!({"trackingId": "t", "sessionId": "s", "eventList": [big]}));
    for (field, body) in cases {
        let reply = post(&emulator, "/events", body.to_string().as_bytes()).await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        assert_eq!(reply.error_type.as_deref(), Some("invalidinputexception"), "{field}");
        let message: Value = serde_json::from_str(&reply.body).unwrap();
        assert!(message["message"].as_str().unwrap().contains(field), "{field}: {}", reply.body);
    }
    assert!(emulator.accepted().is_empty());
    assert_eq!(emulator.stats().invalid_calls, 16);
}

/// Which requests meet a fault depends on the seed and on the requests, not on the order they come in
/// (concurrent senders reorder them from run to run), and the same request sent again draws afresh.
#[tokio::test]
async fn fault_draws_follow_the_request_not_its_arrival() {
    let throttled = |seed: u64, order: Vec<usize>| async move {
        let faults = Faults { throttle: 0.5, ..Faults::default() };
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), Config { faults, seed, ..Config::default() })
            .await
            .unwrap();
        let mut throttled = std::collections::BTreeSet::new();
        for i in order {
            if post(&emulator, "/events", &put(vec![event(&i.to_string())])).await.status == 429 {
                throttled.insert(i);
            }
        }
        (emulator, throttled)
    };
    let (emulator, forward) = throttled(7, (0..40).collect()).await;
    let (_, backward) = throttled(7, (0..40).rev().collect()).await;
    let (_, other_seed) = throttled(8, (0..40).collect()).await;
    assert!(!forward.is_empty() && forward.len() < 40, "{forward:?}");
    assert_eq!(forward, backward);
    assert_ne!(forward, other_seed);
    // A throttled call, retried, gets through.
    let again = put(vec![event(&forward.first().unwrap().to_string())]);
    let mut attempts = 1;
    while post(&emulator, "/events", &again).await.status == 429 {
        attempts += 1;
        assert!(attempts <= 40, "throttled 40 times in a row at a rate of 0.5");
    }
    assert_eq!(emulator.stats().accepted_events, 40 - forward.len() as u64 + 1);
}

#[tokio::test]
async fn malformed_oversized_and_unknown_requests() {
    let emulator = emulator().await;
    let reply = post(&emulator, "/events", b"{not json").await;
    assert_eq!((reply.status, reply.error_type.as_deref()), (400, Some("serializationexception")));
    let reply = post(
        &emulator,
        "/events",
        br#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"V","sentAt":"yesterday"}]}"#,
    )
    .await;
    assert_eq!(reply.status, 400);
    let reply = post(&emulator, "/events", &vec![b' '; 70 * 1024]).await;
    assert_eq!(reply.status, 413);
    let reply = post(&emulator, "/nothing", b"{}").await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn put_items_and_put_users() {
    let emulator = emulator().await;
    let arn = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";
    let ok = json!({"datasetArn": arn, "items": [{"itemId": "P1", "properties": "{\"price\": 2}"}, {"itemId": "P2"}]});
    assert_eq!(post(&emulator, "/items", ok.to_string().as_bytes()).await.status, 200);
    let ok = json!({"datasetArn": arn, "users": [{"userId": "u1"}]});
    assert_eq!(post(&emulator, "/users", ok.to_string().as_bytes()).await.status, 200);
    for bad in [
        json!({"datasetArn": "nope", "items": [{"itemId": "P1"}]}),
        json!({"datasetArn": arn, "items": []}),
        json!({"datasetArn": arn, "items": [{"itemId": ""}]}),
        json!({"datasetArn": arn, "items": [{"itemId": "P1", "properties": "[1]"}]}),
    ] {
        assert_eq!(post(&emulator, "/items", bad.to_string().as_bytes()).await.status, 400, "{bad}");
    }
    let stats = emulator.stats();
    assert_eq!((stats.items, stats.users), (2, 1));
}
