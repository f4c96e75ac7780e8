//! Delivery through the real SDK to the emulator over real HTTP, with and without injected faults.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use delivery::{DeadLetter, Flight, Metrics, MetricsSnapshot, SdkApi, SendConfig, Sender, sdk_client_for_endpoint};
use interactions::{Outcome, Pipeline, Settings};
use personalize_emulator::{Config, Emulator, Faults, Stats};
use personalize_events::{Batcher, Event, MAX_EVENTS_PER_CALL, PutEventsRequest, translate};
use synthetic_events::{Corpus, Mix};

use flavours as _;

const TRACKING_ID: &str = "tracking-1";

/// The requests a mixed corpus gives, in the order the batcher emits them.
fn requests(events: usize, seed: u64) -> Vec<PutEventsRequest> {
    let pipeline = Pipeline::new(&Settings::default()).unwrap();
    let mut batcher = Batcher::new(500);
    let mut out = Vec::new();
    for line in Corpus::new(seed, Mix::Uniform).take(events) {
        if let Outcome::Interaction { interaction, .. } = pipeline.process(&line) {
            out.extend(batcher.push(TRACKING_ID, translate(&interaction).unwrap()));
        }
    }
    out.extend(batcher.flush());
    out
}

fn fast_config() -> SendConfig {
    SendConfig {
        max_attempts: 30,
        base_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(50),
        attempt_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(60),
        calls_per_second: 20_000.0,
        concurrency: 16,
    }
}

async fn deliver(
    faults: Faults,
    requests: &[PutEventsRequest],
) -> (Vec<DeadLetter>, MetricsSnapshot, Stats, Vec<personalize_emulator::Accepted>) {
    let emulator =
        Emulator::start("127.0.0.1:0".parse().unwrap(), Config { faults, seed: 7, ..Config::default() }).await.unwrap();
    let client = sdk_client_for_endpoint(&emulator.endpoint_url(), fast_config().attempt_timeout);
    let metrics = Arc::new(Metrics::default());
    let sender = Arc::new(Sender::new(SdkApi::new(client), fast_config(), metrics.clone()));
    let dead = Flight::deliver_all(sender, requests.iter().cloned()).await;
    let result = (dead, metrics.snapshot(), emulator.stats(), emulator.accepted());
    emulator.shutdown().await;
    result
}

/// Each event as the emulator should have it: (eventId → (session, user, event)).
fn expected(requests: &[PutEventsRequest]) -> BTreeMap<String, (String, Option<String>, Event)> {
    requests
        .iter()
        .flat_map(|r| {
            r.event_list
                .iter()
                .map(move |e| (e.event_id.clone().unwrap(), (r.session_id.clone(), r.user_id.clone(), e.clone())))
        })
        .collect()
}

fn arrived(accepted: &[personalize_emulator::Accepted]) -> BTreeMap<String, (String, Option<String>, Event)> {
    accepted
        .iter()
        .map(|a| (a.event.event_id.clone().unwrap(), (a.session_id.clone(), a.user_id.clone(), a.event.clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_with_its_fields() {
    let requests = requests(3000, 21);
    let events: usize = requests.iter().map(|r| r.event_list.len()).sum();
    assert!(events > 1000, "{events}");
    assert!(requests.iter().all(|r| (1..=MAX_EVENTS_PER_CALL).contains(&r.event_list.len())));
    let (dead, metrics, stats, accepted) = deliver(Faults::default(), &requests).await;
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(arrived(&accepted), expected(&requests));
    assert_eq!(accepted.len(), events, "no event twice");
    assert_eq!((metrics.calls, metrics.events_sent, metrics.retries), (requests.len() as u64, events as u64, 0));
    assert_eq!(stats.accepted_calls, requests.len() as u64);
    assert!(stats.max_events_per_call <= 10);
    // Recommendation clicks keep their attribution on the wire.
    assert!(
        accepted
            .iter()
            .any(|a| a.event.recommendation_id.is_some() && a.event.impression.as_ref().is_some_and(|i| !i.is_empty()))
    );
    // sentAt survives the SDK's timestamp serialisation to the millisecond.
    let want = expected(&requests);
    assert!(accepted.iter().all(|a| a.event.sent_at == want[a.event.event_id.as_deref().unwrap()].2.sent_at));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_lose_nothing_and_duplicate_nothing() {
    let requests = requests(2000, 22);
    let faults = Faults { throttle: 0.20, server_error: 0.05, ..Faults::default() };
    let (dead, metrics, stats, accepted) = deliver(faults, &requests).await;
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(arrived(&accepted), expected(&requests));
    assert_eq!(stats.duplicate_events, 0);
    assert!(stats.throttled > 0 && stats.server_errors > 0, "{stats:?}");
    assert_eq!(metrics.throttles, stats.throttled);
    assert_eq!(metrics.retries, stats.throttled + stats.server_errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_and_slow_answers_are_retried_under_the_same_event_ids() {
    let requests = requests(1000, 23);
    let faults = Faults {
        drop_before: 0.05,
        drop_after: 0.05,
        slow: 0.03,
        slow_for: Duration::from_millis(800),
        ..Faults::default()
    };
    let (dead, metrics, stats, accepted) = deliver(faults, &requests).await;
    assert!(dead.is_empty(), "{dead:?}");
    // Every event arrived once as new; the ones resent after a lost answer were recognised by eventId.
    assert_eq!(arrived(&accepted), expected(&requests));
    assert!(stats.dropped_after > 0 && stats.dropped_before > 0, "{stats:?}");
    assert!(metrics.retries >= stats.dropped_before + stats.dropped_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_is_split_down_to_the_rejected_events() {
    let mut requests = requests(1000, 24);
    // Poison one item in a few calls of several events.
    let mut poisoned = BTreeSet::new();
    for request in requests.iter_mut().filter(|r| r.event_list.len() >= 3).take(5) {
        let event = &mut request.event_list[2];
        event.item_id = Some(format!("REJECT-{}", event.item_id.as_deref().unwrap()));
        event.impression = None;
        event.recommendation_id = None;
        poisoned.insert(event.event_id.clone().unwrap());
    }
    assert_eq!(poisoned.len(), 5);
    let faults = Faults { reject_item_prefix: Some("REJECT-".into()), ..Faults::default() };
    let (dead, metrics, stats, accepted) = deliver(faults, &requests).await;
    let dead_ids: BTreeSet<String> =
        dead.iter().flat_map(|d| d.request.event_list.iter().map(|e| e.event_id.clone().unwrap())).collect();
    assert_eq!(dead_ids, poisoned);
    assert!(dead.iter().all(|d| d.request.event_list.len() == 1 && d.error.contains("InvalidInputException")));
    let mut want = expected(&requests);
    want.retain(|id, _| !poisoned.contains(id));
    assert_eq!(arrived(&accepted), want);
    assert_eq!(metrics.dead_lettered_events, 5);
    assert!(metrics.split_calls >= 5 && stats.invalid_calls >= 5);
}
