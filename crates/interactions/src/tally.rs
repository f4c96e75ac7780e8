//! Counting outcomes for run summaries and metrics.

use std::fmt;

use crate::pipeline::Outcome;

/// Counts of outcomes by kind, flavour, event type and skip reason.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub read: u64,
    pub filtered: u64,
    /// Interactions by (flavour, event type), in the order first seen.
    interactions: Vec<((&'static str, String), u64)>,
    /// Skips by (flavour, reason), in the order first seen; flavour `-` when no mapper looked at the
    /// event.
    skipped: Vec<((&'static str, &'static str), u64)>,
    pub bad: u64,
}

/// Flavour names and skip reasons are constants, so the same name nearly always arrives at the same
/// address, and comparing addresses first spares a call to `memcmp` per comparison.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Adds `n` to the count whose key `is` picks out, inserting the key `key` builds the first time. A
/// run has a few dozen keys at most, and every kept line is counted: the keys are a list walked in
/// order, where a search of a `BTreeMap` (ordered only for the summary) walked its nodes and compared
/// names as strings at each step, 1.6% of a uniform run. The key is built only when it is new: an
/// interaction's event type is borrowed, and its key owns it.
fn bump<K>(counts: &mut Vec<(K, u64)>, n: u64, is: impl Fn(&K) -> bool, key: impl FnOnce() -> K) {
    match counts.iter_mut().find(|(k, _)| is(k)) {
        Some((_, count)) => *count += n,
        None => counts.push((key(), n)),
    }
}

/// The counts in the order of their keys, for the summary.
fn sorted<K: Ord>(counts: &[(K, u64)]) -> Vec<&(K, u64)> {
    let mut sorted: Vec<_> = counts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
}

impl Tally {
    /// Counts one outcome. Most lines are filtered out, so that count is made where this is called
    /// and the rest in `Tally::record_kept`.
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
            Outcome::Interaction { flavour, interaction } => self.interaction(flavour, &interaction.event_type, 1),
            Outcome::Skipped { flavour, reason } => self.skip(flavour.unwrap_or("-"), reason, 1),
            Outcome::Bad { .. } => self.bad += 1,
        }
    }

    fn interaction(&mut self, flavour: &'static str, event_type: &str, n: u64) {
        bump(
            &mut self.interactions,
            n,
            |(f, t)| same(f, flavour) && t == event_type,
            || (flavour, event_type.to_owned()),
        );
    }

    fn skip(&mut self, flavour: &'static str, reason: &'static str, n: u64) {
        bump(&mut self.skipped, n, |(f, r)| same(f, flavour) && same(r, reason), || (flavour, reason));
    }

    /// Counts a line that never reached the pipeline (too long to read, say) as a bad row.
    pub fn record_unreadable(&mut self) {
        self.read += 1;
        self.bad += 1;
    }

    pub fn interaction_count(&self) -> u64 {
        self.interactions.iter().map(|(_, n)| n).sum()
    }

    pub fn skipped_count(&self) -> u64 {
        self.skipped.iter().map(|(_, n)| n).sum()
    }

    /// Interactions by flavour and event type, in that order.
    fn interactions(&self) -> impl Iterator<Item = (&'static str, &str, u64)> {
        sorted(&self.interactions).into_iter().map(|((flavour, event_type), n)| (*flavour, event_type.as_str(), *n))
    }

    /// Skips by flavour and reason, in that order.
    fn skipped(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> {
        sorted(&self.skipped).into_iter().map(|((flavour, reason), n)| (*flavour, *reason, *n))
    }

    pub fn merge(&mut self, other: &Tally) {
        self.read += other.read;
        self.filtered += other.filtered;
        self.bad += other.bad;
        for ((flavour, event_type), n) in &other.interactions {
            self.interaction(flavour, event_type, *n);
        }
        for ((flavour, reason), n) in &other.skipped {
            self.skip(flavour, reason, *n);
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
        for (flavour, event_type, n) in self.interactions() {
            writeln!(f, "  {n:>10}  interactions  {flavour}: {event_type}")?;
        }
        for (flavour, reason, n) in self.skipped() {
            writeln!(f, "  {n:>10}  skipped       {flavour}: {reason}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::model::Interaction;

    fn interaction(flavour: &'static str, event_type: &str) -> Outcome<'static> {
        let interaction = Interaction {
            event_id: Cow::Borrowed("e"),
            event_type: Cow::Owned(event_type.to_owned()),
            user_id: None,
            session_id: Cow::Borrowed("s"),
            item_ids: vec![Cow::Borrowed("i")],
            sent_at: 0,
            impression_id: None,
        };
        Outcome::Interaction { flavour, interaction }
    }

    fn skipped(flavour: Option<&'static str>, reason: &'static str) -> Outcome<'static> {
        Outcome::Skipped { flavour, reason }
    }

    #[test]
    fn counts_are_kept_by_key_and_summed_in_order_of_keys() {
        let mut first = Tally::default();
        for outcome in [
            interaction("b", "View"),
            interaction("a", "View"),
            interaction("b", "View"),
            Outcome::Filtered,
            skipped(None, "no mapper"),
            interaction("a", "Click"),
            skipped(Some("a"), "no item ids"),
            skipped(None, "no mapper"),
        ] {
            first.record(&outcome);
        }
        first.record_unreadable();
        let mut second = Tally::default();
        for outcome in [interaction("c", "View"), interaction("b", "View"), skipped(Some("a"), "no item ids")] {
            second.record(&outcome);
        }
        first.merge(&second);
        assert_eq!((first.read, first.filtered, first.bad), (12, 1, 1));
        assert_eq!((first.interaction_count(), first.skipped_count()), (6, 4));
        assert_eq!(
            first.to_string(),
            "events read: 12, filtered: 1, interactions: 6, skipped: 4, bad rows: 1\n\
             \x20\x20         1  interactions  a: Click\n\
             \x20\x20         1  interactions  a: View\n\
             \x20\x20         3  interactions  b: View\n\
             \x20\x20         1  interactions  c: View\n\
             \x20\x20         2  skipped       -: no mapper\n\
             \x20\x20         2  skipped       a: no item ids\n"
        );
    }
}
