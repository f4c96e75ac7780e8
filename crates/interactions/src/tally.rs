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

impl Tally {
    pub fn record(&mut self, outcome: &Outcome) {
        self.read += 1;
        match outcome {
            Outcome::Filtered => self.filtered += 1,
            Outcome::Interaction { flavour, interaction } => {
                // A run has a dozen kinds at most; finding one by hand spares a key allocation per event.
                let kind = &interaction.event_type;
                match self.interactions.iter_mut().find(|((f, t), _)| same(f, flavour) && t == kind) {
                    Some((_, n)) => *n += 1,
                    None => {
                        self.interactions.insert((*flavour, kind.clone()), 1);
                    }
                }
            }
            Outcome::Skipped { flavour, reason } => {
                let flavour = flavour.unwrap_or("-");
                // As for interactions; the map's own search compares the names as strings at each step.
                match self.skipped.iter_mut().find(|((f, r), _)| same(f, flavour) && same(r, reason)) {
                    Some((_, n)) => *n += 1,
                    None => *self.skipped.entry((flavour, reason)).or_default() += 1,
                }
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
