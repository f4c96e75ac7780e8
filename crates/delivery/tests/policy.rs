//! The sending policy against an in-memory `EventsApi`, in tokio's paused virtual time: pacing,
//! retries, giving up, and which errors are retried.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use delivery::{CallError, EventsApi, Flight, Metrics, SendConfig, Sender};
use personalize_events::{Event, PutEventsRequest};
use tokio::time::Instant;

/// Answers from a script (then success), recording when each call came.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<(), CallError>>>,
    calls: Mutex<Vec<(Instant, usize)>>,
}

impl EventsApi for Scripted {
    async fn put_events(&self, request: &PutEventsRequest) -> Result<(), CallError> {
        self.calls.lock().unwrap().push((Instant::now(), request.event_list.len()));
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}

fn request(events: usize) -> PutEventsRequest {
    PutEventsRequest {
        tracking_id: "t".into(),
        session_id: "s".into(),
        user_id: None,
        event_list: (0..events)
            .map(|i| Event {
                event_id: Some(format!("e{i}")),
                event_type: "View".into(),
                sent_at: 1.0,
                item_id: Some(format!("i{i}")),
                event_value: None,
                properties: None,
                recommendation_id: None,
                impression: None,
            })
            .collect(),
    }
}

fn new_sender(api: Arc<Scripted>, config: SendConfig) -> (Arc<Sender<Arc<Scripted>>>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    (Arc::new(Sender::new(api, config, metrics.clone())), metrics)
}

#[tokio::test(start_paused = true)]
async fn calls_are_paced_by_the_shared_rate_limit() {
    let api = Arc::new(Scripted::default());
    let config = SendConfig { calls_per_second: 200.0, concurrency: 16, ..SendConfig::default() };
    let (sender, metrics) = new_sender(api.clone(), config);
    let started = Instant::now();
    let mut flight = Flight::new(sender);
    for _ in 0..100 {
        assert!(flight.submit(request(1)).await.is_empty());
    }
    assert!(flight.finish().await.is_empty());
    assert_eq!(metrics.snapshot().calls, 100);
    // 100 calls at 200 per second, concurrent or not: the last starts 99 intervals after the first.
    let calls = api.calls.lock().unwrap();
    let last = calls.iter().map(|(t, _)| *t).max().unwrap();
    assert!(last - started >= Duration::from_millis(495), "{:?}", last - started);
    assert!(last - started < Duration::from_millis(520), "{:?}", last - started);
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_slot_is_due_does_not_wait() {
    // tokio rounds a sleep up to its timer's next millisecond, even a sleep that is already due, so
    // every call whose slot had come waited up to 1 ms all the same (the Lambda bench, whose rate limit
    // is out of reach, lost 4.5 ms a batch to it). Virtual time starts on a tick; this test runs between
    // ticks.
    let api = Arc::new(Scripted::default());
    let (sender, _) = new_sender(api.clone(), SendConfig { calls_per_second: 1000.0, ..SendConfig::default() });
    tokio::time::advance(Duration::from_micros(300)).await;
    let started = Instant::now();
    assert!(sender.deliver(request(1)).await.is_empty());
    // The second call's slot, 1 ms after the first's, has passed when it comes.
    tokio::time::advance(Duration::from_micros(2500)).await;
    assert!(sender.deliver(request(1)).await.is_empty());
    let calls = api.calls.lock().unwrap();
    let offsets: Vec<_> = calls.iter().map(|(t, _)| *t - started).collect();
    assert_eq!(offsets, [Duration::ZERO, Duration::from_micros(2500)]);
}

#[tokio::test(start_paused = true)]
async fn retryable_errors_are_retried_and_others_are_not() {
    let api = Arc::new(Scripted::default());
    api.answers.lock().unwrap().extend([
        Err(CallError::Throttled("slow down".into())),
        Err(CallError::Server("500".into())),
        Err(CallError::Timeout),
        Err(CallError::Connection("reset".into())),
    ]);
    let (sender, metrics) = new_sender(api.clone(), SendConfig::default());
    assert!(sender.deliver(request(3)).await.is_empty());
    let m = metrics.snapshot();
    assert_eq!((m.calls, m.retries, m.throttles, m.events_sent), (1, 4, 1, 3));

    api.answers.lock().unwrap().push_back(Err(CallError::Permanent("AccessDenied".into())));
    let dead = sender.deliver(request(2)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].request.event_list.len(), 2);
    assert!(dead[0].error.contains("AccessDenied"));
    assert_eq!(metrics.snapshot().retries, 4, "a permanent error is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_never_succeeds_is_dead_lettered_within_its_limits() {
    let api = Arc::new(Scripted::default());
    api.answers.lock().unwrap().extend((0..1000).map(|_| Err(CallError::Throttled("no".into()))));
    let config = SendConfig { max_attempts: 5, ..SendConfig::default() };
    let (sender, metrics) = new_sender(api.clone(), config);
    let dead = sender.deliver(request(1)).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].error.contains("gave up after 5 attempts"), "{}", dead[0].error);
    assert_eq!(api.calls.lock().unwrap().len(), 5);

    let config = SendConfig { max_attempts: 1000, operation_timeout: Duration::from_secs(2), ..SendConfig::default() };
    let (patient, _) = new_sender(api.clone(), config);
    let started = Instant::now();
    let dead = patient.deliver(request(1)).await;
    assert_eq!(dead.len(), 1);
    assert!(started.elapsed() <= Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(metrics.snapshot().dead_lettered_events, 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_times_out_and_is_retried() {
    struct Slow(Mutex<u32>);
    impl EventsApi for Slow {
        async fn put_events(&self, _: &PutEventsRequest) -> Result<(), CallError> {
            let first = {
                let mut n = self.0.lock().unwrap();
                *n += 1;
                *n == 1
            };
            if first {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(())
        }
    }
    let api = Arc::new(Slow(Mutex::new(0)));
    let metrics = Arc::new(Metrics::default());
    let config = SendConfig { attempt_timeout: Duration::from_secs(1), ..SendConfig::default() };
    let sender = Sender::new(api.clone(), config, metrics.clone());
    assert!(sender.deliver(request(1)).await.is_empty());
    assert_eq!(*api.0.lock().unwrap(), 2);
    assert_eq!(metrics.snapshot().retries, 1);
}
