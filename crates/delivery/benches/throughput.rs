//! Sustained delivery: full PutEvents calls through the real SDK to the emulator over loopback, with
//! the rate limit at 1,000 calls/s, for `SP_BENCH_SECONDS` (default 30). Prints calls/s and the CPU the
//! sending threads used (the emulator runs on threads of its own, not counted).
//!
//!     cargo bench -p delivery --bench throughput

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use delivery::{Flight, Metrics, SdkApi, SendConfig, Sender, sdk_client_for_endpoint};
use personalize_emulator::{Config, Emulator};
use personalize_events::{Event, PutEventsRequest};

/// CPU seconds used so far by this process's threads whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux.
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        total += fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    total as f64 / ticks
}

fn request(n: u64) -> PutEventsRequest {
    PutEventsRequest {
        tracking_id: "bench".into(),
        session_id: format!("session-{}", n % 5000),
        user_id: Some(format!("user-{}", n % 5000)),
        event_list: (0..10)
            .map(|i| Event {
                event_id: Some(format!("{n}:{i}")),
                event_type: "View".into(),
                sent_at: 1_714_558_501.951,
                item_id: Some(format!("P{}", (n * 7 + i) % 997)),
                event_value: None,
                properties: None,
                recommendation_id: None,
                impression: None,
            })
            .collect(),
    }
}

fn main() {
    let seconds: u64 = std::env::var("SP_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let emulator_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("emulator")
        .enable_all()
        .build()
        .unwrap();
    let emulator =
        emulator_runtime.block_on(Emulator::start("127.0.0.1:0".parse().unwrap(), Config::default())).unwrap();
    let sender_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sender")
        .enable_all()
        .build()
        .unwrap();
    let url = emulator.endpoint_url();
    let (calls, elapsed, cpu) = sender_runtime.block_on(async move {
        let config = SendConfig { calls_per_second: 1000.0, concurrency: 64, ..SendConfig::default() };
        let metrics = Arc::new(Metrics::default());
        let sender = Arc::new(Sender::new(
            SdkApi::new(sdk_client_for_endpoint(&url, config.attempt_timeout)),
            config,
            metrics.clone(),
        ));
        let mut flight = Flight::new(sender);
        let cpu_before = thread_cpu("sender");
        let started = Instant::now();
        let mut n = 0;
        while started.elapsed() < Duration::from_secs(seconds) {
            assert!(flight.submit(request(n)).await.is_empty());
            n += 1;
        }
        assert!(flight.finish().await.is_empty());
        (metrics.snapshot().calls, started.elapsed().as_secs_f64(), thread_cpu("sender") - cpu_before)
    });
    let stats = emulator.stats();
    println!(
        "delivery: {calls} calls ({} events) in {elapsed:.1} s = {:.0} calls/s at a 1000/s limit; sending threads used {cpu:.1} CPU s = {:.0}% of one core; emulator accepted {} events, {} duplicates",
        calls * 10,
        calls as f64 / elapsed,
        100.0 * cpu / elapsed,
        stats.accepted_events,
        stats.duplicate_events
    );
}
