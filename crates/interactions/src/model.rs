//! What a mapper produces and what the pipeline emits.

use serde::{Deserialize, Serialize};

/// The three kinds of interaction the seed system sends. Their names on the wire come from
/// [`crate::EventTypeNames`], so a dataset that expects `view` rather than `View` is a setting away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    View,
    Click,
    Purchase,
}

/// A mapper's reading of one event, before the rules shared by every flavour (identity, timestamp,
/// dropping empty item ids) make it an [`Interaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: EventKind,
    /// Item ids in the order the event lists them; empty ones are dropped later.
    pub item_ids: Vec<String>,
    /// The recommendation id of a click on a recommendation widget.
    pub impression_id: Option<String>,
}

impl Draft {
    pub fn new(kind: EventKind, item_ids: Vec<String>) -> Draft {
        Draft { kind, item_ids, impression_id: None }
    }
}

/// A mapper's verdict on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    Draft(Draft),
    /// Not an interaction, with a reason a person can read. Reasons are fixed strings (never event
    /// values) so that summaries can count them and logs never carry user data.
    Skip(&'static str),
}

/// One interaction in the JSON shape the seed's Lambda receives, keys in the seed transform's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub event_id: String,
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_id: Option<String>,
    pub session_id: String,
    pub item_ids: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub impression_id: Option<String>,
}

impl Interaction {
    /// The interactions of a request body as Snowbridge's HTTP target posts them: one object, or an
    /// array of them. Each item is read on its own, so one that is not an interaction (`Err` with the
    /// reason) does not sink the others; the outer `Err` says why the body as a whole is unusable.
    /// serde_json's recursion limit keeps deeply nested bodies from exhausting the stack.
    pub fn parse_body(body: &[u8]) -> Result<Vec<Result<Interaction, String>>, String> {
        let items = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Array(items)) => items,
            Ok(object @ serde_json::Value::Object(_)) => vec![object],
            Ok(_) => return Err("body must be an interaction object or an array of them".to_owned()),
            Err(e) => return Err(format!("body is not JSON: {e}")),
        };
        Ok(items
            .into_iter()
            .map(|item| serde_json::from_value(item).map_err(|e| format!("not an interaction: {e}")))
            .collect())
    }
}

/// The text of `value[key]` as an item id, when `value` is an object holding a string, number or
/// boolean there (the seed reads `i.id` and sends `String(i.id)`).
pub fn id_at(value: &snowplow_enriched::Loose<'_>, key: &str) -> Option<String> {
    value.get(key).and_then(snowplow_enriched::Loose::scalar_text).map(|s| s.into_owned())
}

/// `entities.map(e => e.data[key])`: one id per entity that has one, in order.
pub fn ids_of_entities(entities: &[&snowplow_enriched::Entity<'_>], key: &str) -> Vec<String> {
    entities.iter().filter_map(|e| id_at(&e.data(), key)).collect()
}
