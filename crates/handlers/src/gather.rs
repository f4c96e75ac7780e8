//! What both handlers do with the interactions of one request or batch: translate them, group their
//! events across the whole of it, deliver, and trace each undeliverable event back to its item.

use std::collections::HashMap;
use std::sync::Arc;

use delivery::{DeadLetter, EventsApi, Flight, Sender};
use interactions::Interaction;
use personalize_events::{Batcher, PutEventsRequest, TranslateError, translate};

/// Interactions gathered for one delivery; items are numbered by their position in the input.
pub(crate) struct Gathered<'a> {
    tracking_id: &'a str,
    batcher: Batcher,
    requests: Vec<PutEventsRequest>,
    /// Personalize event id → the item it came from.
    origin: HashMap<String, usize>,
}

/// A dead letter with the items whose events it holds.
pub(crate) struct Undelivered {
    pub(crate) letter: DeadLetter,
    pub(crate) items: Vec<usize>,
}

impl<'a> Gathered<'a> {
    pub(crate) fn new(tracking_id: &'a str) -> Self {
        // A request or batch is bounded already, so every group stays open until the end.
        Gathered { tracking_id, batcher: Batcher::new(usize::MAX), requests: Vec::new(), origin: HashMap::new() }
    }

    /// Translates item `index` and adds its events, counting in `metrics` what translation left out.
    pub(crate) fn add(
        &mut self,
        index: usize,
        interaction: &Interaction,
        metrics: &delivery::Metrics,
    ) -> Result<(), TranslateError> {
        let translation = translate(interaction)?;
        metrics.count_translation(&translation);
        if translation.recommendation_id_dropped {
            // Without the id: it is what was too long, and logs are not the place for tracking data.
            tracing::warn!(index, "recommendation id over 40 characters left out");
        }
        self.origin.extend(translation.events.iter().filter_map(|e| e.event_id.clone()).map(|id| (id, index)));
        self.requests.extend(self.batcher.push(self.tracking_id, translation));
        Ok(())
    }

    /// Delivers everything gathered: the number of events sent, and what could not be delivered.
    pub(crate) async fn deliver<A: EventsApi>(mut self, sender: &Arc<Sender<A>>) -> (usize, Vec<Undelivered>) {
        self.requests.extend(self.batcher.flush());
        let events: usize = self.requests.iter().map(|r| r.event_list.len()).sum();
        let dead = Flight::deliver_all(sender.clone(), self.requests).await;
        let undelivered: Vec<Undelivered> = dead
            .into_iter()
            .map(|letter| {
                let mut items: Vec<usize> = letter
                    .request
                    .event_list
                    .iter()
                    .filter_map(|e| e.event_id.as_ref().and_then(|id| self.origin.get(id)).copied())
                    .collect();
                items.dedup();
                Undelivered { letter, items }
            })
            .collect();
        let lost: usize = undelivered.iter().map(|u| u.letter.request.event_list.len()).sum();
        (events - lost, undelivered)
    }

    /// Whether no item gave an event.
    pub(crate) fn is_empty(&self) -> bool {
        self.origin.is_empty()
    }
}
