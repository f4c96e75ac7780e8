//! Grouping events into calls.

use std::collections::{BTreeMap, HashMap};

use crate::{Event, PutEventsRequest, Translation};

/// At most this many events go in one `PutEvents` call.
pub const MAX_EVENTS_PER_CALL: usize = 10;

type Key = (String, String, Option<String>);

/// Groups events by (tracking id, session id, user id) into requests of at most
/// [`MAX_EVENTS_PER_CALL`] events, keeping arrival order within each group. A group is sent as soon as
/// it is full; when more than `max_pending` events wait, the oldest groups go out partly filled, so that
/// memory stays bounded on endless input.
#[derive(Debug)]
pub struct Batcher {
    /// Open groups by the sequence number of their first event: iteration order is arrival order.
    groups: BTreeMap<u64, (Key, Vec<Event>)>,
    index: HashMap<Key, u64>,
    next: u64,
    pending: usize,
    max_pending: usize,
}

impl Batcher {
    pub fn new(max_pending: usize) -> Batcher {
        Batcher { groups: BTreeMap::new(), index: HashMap::new(), next: 0, pending: 0, max_pending: max_pending.max(1) }
    }

    /// Adds one interaction's events; returns the requests that are ready.
    pub fn push(&mut self, tracking_id: &str, translation: Translation) -> Vec<PutEventsRequest> {
        let key = (tracking_id.to_owned(), translation.session_id, translation.user_id);
        let mut ready = Vec::new();
        for event in translation.events {
            // The key is copied only when it opens a group: most events join one already open.
            let seq = match self.index.get(&key) {
                Some(&seq) => seq,
                None => {
                    self.next += 1;
                    self.index.insert(key.clone(), self.next);
                    self.next
                }
            };
            let (_, events) = self.groups.entry(seq).or_insert_with(|| (key.clone(), Vec::new()));
            events.push(event);
            self.pending += 1;
            if events.len() == MAX_EVENTS_PER_CALL {
                ready.push(self.take(seq));
            }
        }
        while self.pending > self.max_pending {
            let Some(&oldest) = self.groups.keys().next() else {
                break;
            };
            ready.push(self.take(oldest));
        }
        ready
    }

    /// Every waiting group, in order of first arrival.
    pub fn flush(&mut self) -> Vec<PutEventsRequest> {
        let seqs: Vec<u64> = self.groups.keys().copied().collect();
        seqs.into_iter().map(|seq| self.take(seq)).collect()
    }

    /// Events waiting in open groups.
    pub fn pending(&self) -> usize {
        self.pending
    }

    fn take(&mut self, seq: u64) -> PutEventsRequest {
        let (key, event_list) = self.groups.remove(&seq).unwrap_or_default();
        self.index.remove(&key);
        let (tracking_id, session_id, user_id) = key;
        self.pending -= event_list.len();
        PutEventsRequest { tracking_id, session_id, user_id, event_list }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translation(session: &str, user: Option<&str>, ids: &[&str]) -> Translation {
        Translation {
            session_id: session.into(),
            user_id: user.map(Into::into),
            events: ids
                .iter()
                .map(|id| Event {
                    event_id: Some((*id).into()),
                    event_type: "View".into(),
                    sent_at: 1.0,
                    item_id: Some("I".into()),
                    event_value: None,
                    properties: None,
                    recommendation_id: None,
                    impression: None,
                })
                .collect(),
            recommendation_id_dropped: false,
            impression_truncated: false,
        }
    }

    fn ids(r: &PutEventsRequest) -> Vec<&str> {
        r.event_list.iter().map(|e| e.event_id.as_deref().unwrap()).collect()
    }

    #[test]
    fn groups_by_session_and_user_in_arrival_order() {
        let mut b = Batcher::new(1000);
        assert!(b.push("t", translation("s1", Some("u"), &["a"])).is_empty());
        assert!(b.push("t", translation("s2", Some("u"), &["b"])).is_empty());
        assert!(b.push("t", translation("s1", Some("u"), &["c"])).is_empty());
        assert!(b.push("t", translation("s1", None, &["d"])).is_empty());
        assert!(b.push("t2", translation("s1", Some("u"), &["e"])).is_empty());
        let out = b.flush();
        let summary: Vec<_> =
            out.iter().map(|r| (r.tracking_id.as_str(), r.session_id.as_str(), r.user_id.as_deref(), ids(r))).collect();
        assert_eq!(
            summary,
            [
                ("t", "s1", Some("u"), vec!["a", "c"]),
                ("t", "s2", Some("u"), vec!["b"]),
                ("t", "s1", None, vec!["d"]),
                ("t2", "s1", Some("u"), vec!["e"]),
            ]
        );
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn full_groups_go_at_once_and_never_exceed_ten() {
        let mut b = Batcher::new(1000);
        let many: Vec<String> = (0..23).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let ready = b.push("t", translation("s", None, &many));
        assert_eq!(ready.iter().map(|r| r.event_list.len()).collect::<Vec<_>>(), [10, 10]);
        assert_eq!(ids(&ready[1])[0], "10");
        let rest = b.flush();
        assert_eq!(ids(&rest[0]), ["20", "21", "22"]);
    }

    #[test]
    fn pending_events_are_bounded() {
        let mut b = Batcher::new(5);
        let mut sent = 0;
        for i in 0..100 {
            sent += b.push("t", translation(&format!("s{i}"), None, &["x"])).len();
            assert!(b.pending() <= 5);
        }
        assert_eq!(sent + b.flush().len(), 100);
    }
}
