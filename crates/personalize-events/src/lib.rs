//! Interactions to Amazon Personalize `PutEvents` requests (API 2018-03-22).
//!
//! - [`translate`]: one interaction to Personalize events: one event per item, except a recommendation
//!   click, which is one event for the clicked item with the items shown as its impression. Event ids
//!   are deterministic, so a resent event is recognised as the same one. Every documented limit is
//!   checked here, because the SDK checks none: what cannot be made valid is an error, never a call.
//! - [`Batcher`]: events grouped by (tracking id, session id, user id), in arrival order, into requests
//!   of at most [`MAX_EVENTS_PER_CALL`] events.
//! - [`PutEventsRequest`] serialises to exactly the JSON body the service takes.
//!
//! This crate knows nothing of the SDK, of HTTP or of Lambda.

mod batch;
pub mod limits;
mod settings;
mod translate;

pub use batch::{Batcher, MAX_EVENTS_PER_CALL};
pub use limits::{Violation, validate_request};
pub use settings::{DATASET_GROUP_VAR, DeliverySettings, DeliverySettingsError, RECOMMENDERS_VAR, TRACKING_IDS_VAR};
pub use translate::{TranslateError, Translation, translate};

use serde::{Deserialize, Serialize};

/// One `PutEvents` call: the body of `POST /events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutEventsRequest {
    pub tracking_id: String,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_id: Option<String>,
    pub event_list: Vec<Event>,
}

/// One Personalize event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event_id: Option<String>,
    pub event_type: String,
    /// Seconds since the Unix epoch, milliseconds kept as the fraction.
    pub sent_at: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub item_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event_value: Option<f32>,
    /// A JSON object as a string, at most 1024 characters.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub properties: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recommendation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub impression: Option<Vec<String>>,
}
