//! Sending one request until it is delivered or dead-lettered.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use personalize_events::PutEventsRequest;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::api::{CallError, EventsApi};
use crate::metrics::Metrics;

/// Retry, timeout, rate and concurrency settings.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Each attempt is abandoned after this long (and retried).
    pub attempt_timeout: Duration,
    /// No retry starts after this long since the first attempt; the request is dead-lettered instead.
    pub operation_timeout: Duration,
    /// Calls per second per tracking id, shared by every concurrent sender (Personalize's default
    /// quota is 1000 per dataset group).
    pub calls_per_second: f64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for SendConfig {
    fn default() -> Self {
        SendConfig {
            max_attempts: 10,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(120),
            calls_per_second: 1000.0,
            concurrency: 32,
        }
    }
}

/// A request, or part of one, that could not be delivered, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub request: PutEventsRequest,
    pub error: String,
    /// The service may accept it later: the attempts ran out on throttling, server errors, timeouts or
    /// dropped connections. A sender that can ask its own source to retry (a stream trigger, an HTTP
    /// client) should, rather than park the events.
    pub retryable: bool,
}

/// Paces calls per tracking id: each call takes the next free slot, `1 / rate` apart.
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    async fn acquire(&self, key: &str) {
        let wait_until = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = match next.get_mut(key) {
                Some(free) => {
                    let slot = (*free).max(now);
                    *free = slot + self.interval;
                    slot
                }
                None => {
                    next.insert(key.to_owned(), now + self.interval);
                    now
                }
            };
            // tokio's timer rounds every sleep up to its next millisecond, one already due included: a
            // call whose slot has come goes at once instead.
            (slot > now).then_some(slot)
        };
        if let Some(slot) = wait_until {
            tokio::time::sleep_until(slot).await;
        }
    }
}

/// Delivers requests through an [`EventsApi`]; share it between tasks with an `Arc`.
#[derive(Debug)]
pub struct Sender<A> {
    api: A,
    config: SendConfig,
    limiter: RateLimiter,
    jitter: AtomicU64,
    pub metrics: Arc<Metrics>,
}

impl<A: EventsApi> Sender<A> {
    pub fn new(api: A, config: SendConfig, metrics: Arc<Metrics>) -> Self {
        let interval = Duration::from_secs_f64(1.0 / config.calls_per_second.max(0.001));
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Sender {
            api,
            limiter: RateLimiter { interval, next: Mutex::new(HashMap::new()) },
            config,
            jitter: AtomicU64::new(seed),
            metrics,
        }
    }

    pub fn config(&self) -> &SendConfig {
        &self.config
    }

    /// A uniform draw in [0, 1) for backoff jitter (SplitMix64 over an atomic counter).
    fn random(&self) -> f64 {
        let mut z = self.jitter.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Full jitter: a uniform wait up to the exponential backoff for this retry.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.config.base_backoff.saturating_mul(1u32 << retry.min(16)).min(self.config.max_backoff);
        ceiling.mul_f64(self.random())
    }

    /// Sends the request; returns what could not be delivered (nothing, normally).
    pub fn deliver(&self, request: PutEventsRequest) -> Pin<Box<dyn Future<Output = Vec<DeadLetter>> + Send + '_>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut attempt = 0;
            loop {
                attempt += 1;
                self.limiter.acquire(&request.tracking_id).await;
                let result =
                    match tokio::time::timeout(self.config.attempt_timeout, self.api.put_events(&request)).await {
                        Ok(result) => result,
                        Err(_) => Err(CallError::Timeout),
                    };
                let error = match result {
                    Ok(()) => {
                        Metrics::add(&self.metrics.calls, 1);
                        Metrics::add(&self.metrics.events_sent, request.event_list.len() as u64);
                        return Vec::new();
                    }
                    Err(error) => error,
                };
                if let CallError::Throttled(_) = error {
                    Metrics::add(&self.metrics.throttles, 1);
                }
                if error.is_retryable() && attempt < self.config.max_attempts {
                    let wait = self.backoff(attempt - 1);
                    if started.elapsed() + wait < self.config.operation_timeout {
                        Metrics::add(&self.metrics.retries, 1);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                }
                if let CallError::Invalid(_) = error
                    && request.event_list.len() > 1
                {
                    // The service rejects a whole call for one bad event: halve until the bad ones
                    // stand alone, so that every good event is still delivered.
                    Metrics::add(&self.metrics.split_calls, 1);
                    let mut first = request.clone();
                    let second_events = first.event_list.split_off(first.event_list.len() / 2);
                    let second = PutEventsRequest { event_list: second_events, ..request.clone() };
                    let mut dead = self.deliver(first).await;
                    dead.extend(self.deliver(second).await);
                    return dead;
                }
                Metrics::add(&self.metrics.dead_lettered_events, request.event_list.len() as u64);
                let retryable = error.is_retryable();
                let error =
                    if retryable { format!("{error} (gave up after {attempt} attempts)") } else { error.to_string() };
                return vec![DeadLetter { request, error, retryable }];
            }
        })
    }
}

/// Deliveries in flight, at most `limit` at once.
#[derive(Debug)]
pub struct Flight<A: EventsApi> {
    sender: Arc<Sender<A>>,
    tasks: JoinSet<Vec<DeadLetter>>,
    limit: usize,
}

impl<A: EventsApi> Flight<A> {
    pub fn new(sender: Arc<Sender<A>>) -> Self {
        let limit = sender.config.concurrency.max(1);
        Flight { sender, tasks: JoinSet::new(), limit }
    }

    /// Starts delivering `request`, first waiting for a free place; returns the dead letters of the
    /// deliveries that finished meanwhile.
    pub async fn submit(&mut self, request: PutEventsRequest) -> Vec<DeadLetter> {
        let mut dead = Vec::new();
        while self.tasks.len() >= self.limit {
            dead.extend(self.next().await);
        }
        let sender = self.sender.clone();
        self.tasks.spawn(async move { sender.deliver(request).await });
        dead
    }

    /// Delivers every request, at most `concurrency` at once; returns what could not be delivered.
    pub async fn deliver_all(
        sender: Arc<Sender<A>>,
        requests: impl IntoIterator<Item = PutEventsRequest>,
    ) -> Vec<DeadLetter> {
        let mut flight = Flight::new(sender);
        let mut dead = Vec::new();
        for request in requests {
            dead.extend(flight.submit(request).await);
        }
        dead.extend(flight.finish().await);
        dead
    }

    /// Waits for every delivery in flight.
    pub async fn finish(mut self) -> Vec<DeadLetter> {
        self.drain().await
    }

    /// Waits for every delivery in flight and stays usable: after it, everything submitted so far is
    /// either delivered or in the returned dead letters (a checkpoint may be written).
    pub async fn drain(&mut self) -> Vec<DeadLetter> {
        let mut dead = Vec::new();
        while !self.tasks.is_empty() {
            dead.extend(self.next().await);
        }
        dead
    }

    async fn next(&mut self) -> Vec<DeadLetter> {
        match self.tasks.join_next().await {
            Some(Ok(dead)) => dead,
            // A delivery task cannot panic short of a bug; say so rather than lose its events silently.
            Some(Err(e)) => vec![DeadLetter {
                request: PutEventsRequest {
                    tracking_id: String::new(),
                    session_id: String::new(),
                    user_id: None,
                    event_list: Vec::new(),
                },
                error: format!("delivery task failed: {e}"),
                retryable: false,
            }],
            None => Vec::new(),
        }
    }
}
