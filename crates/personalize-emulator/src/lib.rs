//! A local Amazon Personalize Events emulator.
//!
//! A real HTTP server on loopback that speaks the service's REST-JSON wire protocol (`POST /events`,
//! `/items`, `/users`, and Personalize Runtime's `POST /recommendations`, answered from the items
//! accepted so far, most popular first), so the real AWS SDK can be pointed at it with `endpoint_url`. It enforces every
//! documented limit of `PutEvents` (the same checks as [`personalize_events::validate_request`]),
//! answers errors as the service does (status, `x-amzn-errortype`, `{"message"}`), records what it
//! accepted, and treats an `eventId` it has already accepted as the service does: accepted again but
//! not counted (see [`Stats::duplicate_events`]).
//!
//! Faults are injected at configured rates: throttling (429 `ThrottlingException`), server errors
//! (500), slow answers, connections dropped before the request is processed and after it was accepted,
//! and rejection of chosen items (400 `InvalidInputException`), to test senders against the failures
//! they meet in production. Authentication is not checked: any SigV4 signature is welcome.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use personalize_events::{Event, PutEventsRequest, validate_request};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Rates (0.0 to 1.0) of injected faults, drawn independently per request.
///
/// A request's draws depend on the seed, on the request itself (path and body) and on how many times
/// the same request came before, never on the order in which concurrent requests arrive. So a test
/// that sends from many tasks meets the same faults on every run, and a retry (the same request
/// again) draws afresh.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer 429 `ThrottlingException`.
    pub throttle: f64,
    /// Answer 500 `InternalFailure`.
    pub server_error: f64,
    /// Wait `slow_for` before processing.
    pub slow: f64,
    pub slow_for: Duration,
    /// Close the connection without processing the request.
    pub drop_before: f64,
    /// Process and accept the request, then close the connection without answering.
    pub drop_after: f64,
    /// Reject (400 `InvalidInputException`) any call holding an event whose itemId starts with this.
    pub reject_item_prefix: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub faults: Faults,
    /// Seed of the fault draws, so a failing test can be replayed.
    pub seed: u64,
    /// Larger bodies get 413.
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { faults: Faults::default(), seed: 1, max_body_bytes: 1 << 20 }
    }
}

/// One accepted event with the call's identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub tracking_id: String,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub event: Event,
}

/// What the emulator saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests received on any path.
    pub calls: u64,
    /// `PutEvents` calls answered 200.
    pub accepted_calls: u64,
    /// Events accepted for the first time.
    pub accepted_events: u64,
    /// Events accepted again with an `eventId` seen before (not counted by Personalize).
    pub duplicate_events: u64,
    /// Calls answered 400 for invalid input.
    pub invalid_calls: u64,
    /// The most events one accepted call carried.
    pub max_events_per_call: u64,
    pub throttled: u64,
    pub server_errors: u64,
    pub slow: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
    pub items: u64,
    pub users: u64,
    /// `GetRecommendations` calls answered.
    pub recommendations: u64,
}

struct State {
    config: Config,
    /// The faults in force; tests change them while the server runs.
    faults: Mutex<Faults>,
    /// How many times each request (by [`request_key`]) has been seen, for its draws.
    times: Mutex<HashMap<u64, u64>>,
    accepted: Mutex<Vec<Accepted>>,
    seen: Mutex<HashSet<(String, String)>>,
    stats: Mutex<Stats>,
    feed: Option<mpsc::UnboundedSender<Accepted>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated in a way that
    // matters to a test double, so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// The draws of a request, given its [`request_key`]: the n-th time a request is seen starts the
    /// n-th stream of that request under the seed.
    fn draws(&self, key: u64) -> Draws {
        let times = {
            let mut seen = lock(&self.times);
            let times = seen.entry(key).or_default();
            *times += 1;
            *times
        };
        Draws { stream: (self.config.seed, key, times), drawn: 0 }
    }
}

/// What identifies a request for its fault draws. A body too large to read counts as empty.
fn request_key(path: &str, body: Option<&Bytes>) -> u64 {
    let mut hasher = DefaultHasher::new();
    (path, body.map(|b| &b[..])).hash(&mut hasher);
    hasher.finish()
}

/// One request's stream of uniform draws: the i-th is the std hasher's over the stream and i, the
/// same hasher that keys the requests, so no generator of its own is needed.
struct Draws {
    stream: (u64, u64, u64),
    drawn: u64,
}

impl Draws {
    fn next_u64(&mut self) -> u64 {
        self.drawn += 1;
        let mut hasher = DefaultHasher::new();
        (self.stream, self.drawn).hash(&mut hasher);
        hasher.finish()
    }

    /// Whether a fault of this rate strikes, from a uniform draw in [0, 1).
    fn hit(&mut self, rate: f64) -> bool {
        rate > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts serving on `listen` (port 0 picks a free one).
    pub async fn start(listen: SocketAddr, config: Config) -> std::io::Result<Emulator> {
        Emulator::start_with_feed(listen, config, None).await
    }

    /// As [`Emulator::start`], also sending every newly accepted event to `feed` as it arrives.
    pub async fn start_with_feed(
        listen: SocketAddr,
        config: Config,
        feed: Option<mpsc::UnboundedSender<Accepted>>,
    ) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            times: Mutex::new(HashMap::new()),
            faults: Mutex::new(config.faults.clone()),
            config,
            accepted: Mutex::new(Vec::new()),
            seen: Mutex::new(HashSet::new()),
            stats: Mutex::new(Stats::default()),
            feed,
        });
        let (stop, mut stopped) = watch::channel(false);
        let served = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = stopped.changed() => break,
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    // Errors here are the connections the emulator drops on purpose, or clients going
                    // away; neither concerns the server.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Emulator { addr, state, stop, task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give the SDK as `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every event accepted for the first time, in order of acceptance.
    pub fn accepted(&self) -> Vec<Accepted> {
        lock(&self.state.accepted).clone()
    }

    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// Replaces the injected faults from the next request on.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.state.faults) = faults;
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The connection is dropped on purpose.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = kind.parse() {
        headers.insert("x-amzn-errortype", value);
    }
    if let Ok(value) = "application/json".parse() {
        headers.insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn invalid(message: String) -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, "InvalidInputException", &message)
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let faults = lock(&state.faults).clone();
    let faults = &faults;
    lock(&state.stats).calls += 1;
    // The body is read before any fault is drawn, because the draws are keyed by the request.
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, state.config.max_body_bytes).collect().await.map(|body| body.to_bytes());
    let mut draws = state.draws(request_key(parts.uri.path(), body.as_ref().ok()));
    if draws.hit(faults.drop_before) {
        lock(&state.stats).dropped_before += 1;
        return Err(Dropped);
    }
    if draws.hit(faults.throttle) {
        lock(&state.stats).throttled += 1;
        return Ok(error(StatusCode::TOO_MANY_REQUESTS, "ThrottlingException", "Rate exceeded"));
    }
    if draws.hit(faults.server_error) {
        lock(&state.stats).server_errors += 1;
        return Ok(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        ));
    }
    if draws.hit(faults.slow) {
        lock(&state.stats).slow += 1;
        tokio::time::sleep(faults.slow_for).await;
    }
    let Ok(body) = body else {
        return Ok(error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException", "Request body too large"));
    };
    let response = match (parts.method, parts.uri.path()) {
        (Method::POST, "/events") => put_events(&state, &body, faults.reject_item_prefix.as_deref()),
        (Method::POST, "/items") => put_list(&state, &body, "items", "itemId"),
        (Method::POST, "/users") => put_list(&state, &body, "users", "userId"),
        (Method::POST, "/recommendations") => recommendations(&state, &body, draws.next_u64()),
        _ => error(StatusCode::NOT_FOUND, "UnknownOperationException", "Unknown operation"),
    };
    if response.status() == StatusCode::OK && draws.hit(faults.drop_after) {
        lock(&state.stats).dropped_after += 1;
        return Err(Dropped);
    }
    Ok(response)
}

/// `reject_item_prefix` is the request's draw of [`Faults::reject_item_prefix`], taken with the others.
fn put_events(state: &State, body: &Bytes, reject_item_prefix: Option<&str>) -> Response<Full<Bytes>> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "SerializationException", &format!("Malformed JSON: {e}"));
        }
    };
    for required in ["trackingId", "sessionId", "eventList"] {
        if value.get(required).is_none_or(serde_json::Value::is_null) {
            lock(&state.stats).invalid_calls += 1;
            return invalid(format!(
                "1 validation error detected: Value null at '{required}' failed to satisfy constraint: Member must not be null"
            ));
        }
    }
    let request: PutEventsRequest = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "SerializationException", &format!("Unexpected field type: {e}"));
        }
    };
    let mut violations: Vec<String> = validate_request(&request).iter().map(ToString::to_string).collect();
    if let Some(prefix) = reject_item_prefix {
        for (i, event) in request.event_list.iter().enumerate() {
            if event.item_id.as_deref().is_some_and(|id| id.starts_with(prefix)) {
                violations.push(format!("Value at 'eventList.{}.member.itemId' was rejected by the emulator", i + 1));
            }
        }
    }
    if !violations.is_empty() {
        lock(&state.stats).invalid_calls += 1;
        return invalid(format!(
            "{} validation error{} detected: {}",
            violations.len(),
            if violations.len() == 1 { "" } else { "s" },
            violations.join("; ")
        ));
    }
    let mut fresh = Vec::new();
    let mut duplicates = 0;
    {
        let mut seen = lock(&state.seen);
        for event in &request.event_list {
            let new = match &event.event_id {
                Some(id) => seen.insert((request.tracking_id.clone(), id.clone())),
                None => true,
            };
            if new {
                fresh.push(Accepted {
                    tracking_id: request.tracking_id.clone(),
                    session_id: request.session_id.clone(),
                    user_id: request.user_id.clone(),
                    event: event.clone(),
                });
            } else {
                duplicates += 1;
            }
        }
    }
    {
        let mut stats = lock(&state.stats);
        stats.accepted_calls += 1;
        stats.accepted_events += fresh.len() as u64;
        stats.duplicate_events += duplicates;
        stats.max_events_per_call = stats.max_events_per_call.max(request.event_list.len() as u64);
    }
    if let Some(feed) = &state.feed {
        for accepted in &fresh {
            let _ = feed.send(accepted.clone());
        }
    }
    lock(&state.accepted).extend(fresh);
    Response::new(Full::new(Bytes::new()))
}

/// `PutItems` and `PutUsers`: `{"datasetArn": …, "<list>": [{"<id>": …, "properties"?: "{…}"}]}`, 1 to 10
/// entries, ids of 1 to 256 characters, properties a JSON object of at most 24262 characters.
fn put_list(state: &State, body: &Bytes, list: &str, id: &str) -> Response<Full<Bytes>> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "SerializationException", &format!("Malformed JSON: {e}"));
        }
    };
    let mut violations = Vec::new();
    if !value.get("datasetArn").and_then(|v| v.as_str()).is_some_and(|a| a.starts_with("arn:") && a.len() <= 256) {
        violations.push("Value at 'datasetArn' failed to satisfy constraint: Member must be an ARN".to_owned());
    }
    let entries = value.get(list).and_then(|v| v.as_array()).cloned().unwrap_or_default();
    if entries.is_empty() || entries.len() > 10 {
        violations
            .push(format!("Value at '{list}' failed to satisfy constraint: Member must have length between 1 and 10"));
    }
    for (i, entry) in entries.iter().enumerate() {
        let ok = entry.get(id).and_then(|v| v.as_str()).is_some_and(|s| (1..=256).contains(&s.chars().count()));
        if !ok {
            violations.push(format!("Value at '{list}.{}.member.{id}' failed to satisfy constraint: Member must have length between 1 and 256", i + 1));
        }
        if let Some(properties) = entry.get("properties") {
            let valid = properties.as_str().is_some_and(|p| {
                p.len() <= 24_262 && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(p).is_ok()
            });
            if !valid {
                violations.push(format!("Value at '{list}.{}.member.properties' failed to satisfy constraint: Member must be a JSON object string", i + 1));
            }
        }
    }
    if !violations.is_empty() {
        lock(&state.stats).invalid_calls += 1;
        return invalid(format!("{} validation errors detected: {}", violations.len(), violations.join("; ")));
    }
    let mut stats = lock(&state.stats);
    if list == "items" {
        stats.items += entries.len() as u64;
    } else {
        stats.users += entries.len() as u64;
    }
    Response::new(Full::new(Bytes::new()))
}

/// `GetRecommendations`: the most popular items among the events accepted so far, with a fresh
/// recommendation id (at most 40 characters, as `PutEvents` requires when it comes back on a click),
/// made of a serial number and the request's `draw`.
fn recommendations(state: &State, body: &Bytes, draw: u64) -> Response<Full<Bytes>> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, "SerializationException", &format!("Malformed JSON: {e}")),
    };
    let source = ["recommenderArn", "campaignArn"].iter().find_map(|k| value.get(*k).and_then(|v| v.as_str()));
    if !source.is_some_and(|arn| arn.starts_with("arn:")) {
        return invalid(
            "Value at 'recommenderArn' failed to satisfy constraint: a recommender or campaign ARN is required".into(),
        );
    }
    if !value.get("userId").and_then(|v| v.as_str()).is_some_and(|u| (1..=256).contains(&u.chars().count())) {
        return invalid(
            "Value at 'userId' failed to satisfy constraint: Member must have length between 1 and 256".into(),
        );
    }
    let wanted = value.get("numResults").and_then(serde_json::Value::as_u64).unwrap_or(25).clamp(1, 500) as usize;
    let mut popularity: HashMap<String, u64> = HashMap::new();
    for accepted in lock(&state.accepted).iter() {
        if let Some(item) = &accepted.event.item_id {
            *popularity.entry(item.clone()).or_default() += 1;
        }
    }
    let total: u64 = popularity.values().sum::<u64>().max(1);
    let mut ranked: Vec<(String, u64)> = popularity.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let items: Vec<serde_json::Value> = ranked
        .into_iter()
        .take(wanted)
        .map(|(item, n)| serde_json::json!({"itemId": item, "score": n as f64 / total as f64}))
        .collect();
    let serial = {
        let mut stats = lock(&state.stats);
        stats.recommendations += 1;
        stats.recommendations
    };
    let id = format!("RID-{serial:08x}-{draw:016x}");
    let body = serde_json::json!({ "itemList": items, "recommendationId": id }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    if let Ok(value) = "application/json".parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
