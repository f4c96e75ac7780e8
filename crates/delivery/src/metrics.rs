//! Delivery counters, shared by every task.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Metrics {
    pub interactions_in: AtomicU64,
    pub events_sent: AtomicU64,
    pub calls: AtomicU64,
    pub retries: AtomicU64,
    pub throttles: AtomicU64,
    pub split_calls: AtomicU64,
    pub dead_lettered_events: AtomicU64,
    pub recommendation_ids_dropped: AtomicU64,
    pub impressions_truncated: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    pub interactions_in: u64,
    pub events_sent: u64,
    /// Calls answered 200.
    pub calls: u64,
    pub retries: u64,
    pub throttles: u64,
    /// Calls answered 400 and split in two.
    pub split_calls: u64,
    pub dead_lettered_events: u64,
    pub recommendation_ids_dropped: u64,
    pub impressions_truncated: u64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts what translation had to leave out of an interaction.
    pub fn count_translation(&self, translation: &personalize_events::Translation) {
        if translation.recommendation_id_dropped {
            Metrics::add(&self.recommendation_ids_dropped, 1);
        }
        if translation.impression_truncated {
            Metrics::add(&self.impressions_truncated, 1);
        }
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            interactions_in: get(&self.interactions_in),
            events_sent: get(&self.events_sent),
            calls: get(&self.calls),
            retries: get(&self.retries),
            throttles: get(&self.throttles),
            split_calls: get(&self.split_calls),
            dead_lettered_events: get(&self.dead_lettered_events),
            recommendation_ids_dropped: get(&self.recommendation_ids_dropped),
            impressions_truncated: get(&self.impressions_truncated),
        }
    }
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "delivery: interactions in: {}, events sent: {}, calls: {}, retries: {}, throttles: {}, split calls: {}, dead-lettered events: {}",
            self.interactions_in,
            self.events_sent,
            self.calls,
            self.retries,
            self.throttles,
            self.split_calls,
            self.dead_lettered_events
        )?;
        if self.recommendation_ids_dropped > 0 || self.impressions_truncated > 0 {
            writeln!(
                f,
                "delivery: recommendation ids over 40 characters left out: {}, impressions cut to 25 items: {}",
                self.recommendation_ids_dropped, self.impressions_truncated
            )?;
        }
        Ok(())
    }
}
