//! Metrics as CloudWatch Embedded Metric Format: one JSON log line per invocation, which CloudWatch
//! turns into metrics without any API call.

use delivery::MetricsSnapshot;
use serde_json::json;

/// The EMF line for what one invocation of `mode` did (the difference of two snapshots).
pub fn metrics_line(mode: &str, before: &MetricsSnapshot, after: &MetricsSnapshot, timestamp_ms: u128) -> String {
    let delta = |f: fn(&MetricsSnapshot) -> u64| f(after).saturating_sub(f(before));
    let metrics = [
        ("InteractionsIn", delta(|m| m.interactions_in)),
        ("EventsSent", delta(|m| m.events_sent)),
        ("Calls", delta(|m| m.calls)),
        ("Retries", delta(|m| m.retries)),
        ("Throttles", delta(|m| m.throttles)),
        ("DeadLetteredEvents", delta(|m| m.dead_lettered_events)),
    ];
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": "SnowplowPersonalize",
                "Dimensions": [["Mode"]],
                "Metrics": metrics.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        },
        "Mode": mode,
    });
    for (name, value) in metrics {
        line[name] = json!(value);
    }
    line.to_string()
}

pub(crate) fn emit(mode: &str, before: &MetricsSnapshot, after: &MetricsSnapshot) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    // EMF is read from the function's stdout; it is the one place this crate prints.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", metrics_line(mode, before, after, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_embedded_metric_format() {
        let before = MetricsSnapshot { calls: 2, ..MetricsSnapshot::default() };
        let after = MetricsSnapshot { calls: 5, events_sent: 12, ..MetricsSnapshot::default() };
        let line: serde_json::Value =
            serde_json::from_str(&metrics_line("kinesis", &before, &after, 1_700_000_000_000)).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "SnowplowPersonalize");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(
            (line["Calls"].as_u64(), line["EventsSent"].as_u64(), line["Mode"].as_str()),
            (Some(3), Some(12), Some("kinesis"))
        );
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(names.iter().all(|n| line.get(*n).is_some()));
    }
}
