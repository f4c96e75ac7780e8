//! Counting outcomes for run summaries and metrics.

use std::collections::BTreeMap;
use std::fmt;

use crate::pipeline::Outcome;

/// Counts of outcomes by kind, flavour, event type and skip reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub read: u64,
    pub filtered: u64,
    /// Interactions by (flavour, event type).
    pub interactions: BTreeMap<(&'static str, String), u64>,
    /// Skips by (flavour, reason); flavour `-` when no mapper looked at the event.
    pub skipped: BTreeMap<(&'static str, &'static str), u64>,
    pub bad: u64,
}

/// Flavour names and skip reasons are constants, so the same name nearly always arrives at the same
/// address, and comparing addresses first spares a call to `memcmp` per comparison.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Adds one to the count whose key `is` picks out, inserting the key `key` builds the first time. A
/// run has a dozen keys at most, so the keys are walked by hand: the map's own search would need
/// the key built first (an allocation per interaction, for its event type) and compares names as
/// strings at each step.
fn bump<K: Ord>(counts: &mut BTreeMap<K, u64>, is: impl Fn(&K) -> bool, key: impl FnOnce() -> K) {
    match counts.iter_mut().find(|(k, _)| is(k)) {
        Some((_, n)) => *n += 1,
        None => {
            counts.insert(key(), 1);
        }
    }
}

impl Tally {
    /// Counts one outcome. Most lines are filtered out, so that count is made where this is called
    /// and the rest in [`Tally::record_kept`].
    #[inline]
    pub fn record(&mut self, outcome: &Outcome) {
        self.read += 1;
        match outcome {
            Outcome::Filtered => self.filtered += 1,
            outcome => self.record_kept(outcome),
        }
    }

    fn record_kept(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Filtered => self.filtered += 1,
            Outcome::Interaction { flavour, interaction } => {
                let kind = &interaction.event_type;
                bump(
                    &mut self.interactions,
                    |(f, t)| same(f, flavour) && *t == **kind,
                    || (*flavour, kind.to_string()),
                );
            }
            Outcome::Skipped { flavour, reason } => {
                let flavour = flavour.unwrap_or("-");
                bump(&mut self.skipped, |(f, r)| same(f, flavour) && same(r, reason), || (flavour, *reason));
            }
            Outcome::Bad { .. } => self.bad += 1,
        }
    }

    /// Counts a line that never reached the pipeline (too long to read, say) as a bad row.
    pub fn record_unreadable(&mut self) {
        self.read += 1;
        self.bad += 1;
    }

    pub fn interaction_count(&self) -> u64 {
        self.interactions.values().sum()
    }

    pub fn skipped_count(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn merge(&mut self, other: &Tally) {
        self.read += other.read;
        self.filtered += other.filtered;
        self.bad += other.bad;
        for (k, v) in &other.interactions {
            *self.interactions.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.skipped {
            *self.skipped.entry(*k).or_default() += v;
        }
    }
}

/// A summary for people, one fact per line.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "events read: {}, filtered: {}, interactions: {}, skipped: {}, bad rows: {}",
            self.read,
            self.filtered,
            self.interaction_count(),
            self.skipped_count(),
            self.bad
        )?;
        for ((flavour, event_type), n) in &self.interactions {
            writeln!(f, "  {n:>10}  interactions  {flavour}: {event_type}")?;
        }
        for ((flavour, reason), n) in &self.skipped {
            writeln!(f, "  {n:>10}  skipped       {flavour}: {reason}")?;
        }
        Ok(())
    }
}
