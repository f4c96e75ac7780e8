//! The limits of `PutEvents`, as the API reference documents them; the emulator enforces the same ones
//! through [`validate_request`].

use crate::{Event, PutEventsRequest};

pub const MAX_ID: usize = 256;
pub const MAX_RECOMMENDATION_ID: usize = 40;
pub const MAX_IMPRESSION: usize = 25;
pub const MAX_PROPERTIES: usize = 1024;
/// 10 KB per event, measured on its JSON.
pub const MAX_EVENT_BYTES: usize = 10 * 1024;
/// Keys `properties` may not use.
pub const RESERVED_PROPERTIES: [&str; 6] =
    ["userId", "sessionId", "eventType", "timestamp", "recommendationId", "impression"];

/// One broken constraint, phrased as the service phrases validation errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Value at '{path}' failed to satisfy constraint: {constraint}")]
pub struct Violation {
    pub path: String,
    pub constraint: String,
}

/// A length in characters between `min` and `max`.
pub(crate) fn length(path: &str, value: &str, min: usize, max: usize, out: &mut Vec<Violation>) {
    let n = value.chars().count();
    if n < min {
        out.push(Violation {
            path: path.to_owned(),
            constraint: format!("Member must have length greater than or equal to {min}"),
        });
    } else if n > max {
        out.push(Violation {
            path: path.to_owned(),
            constraint: format!("Member must have length less than or equal to {max}"),
        });
    }
}

/// Every violation in one event; `prefix` is its path in the request (`eventList.1.member`).
pub(crate) fn validate_event(prefix: &str, event: &Event, out: &mut Vec<Violation>) {
    let at = |field: &str| format!("{prefix}.{field}");
    length(&at("eventType"), &event.event_type, 1, MAX_ID, out);
    if let Some(id) = &event.event_id {
        length(&at("eventId"), id, 1, MAX_ID, out);
    }
    if let Some(id) = &event.item_id {
        length(&at("itemId"), id, 1, MAX_ID, out);
    }
    if let Some(id) = &event.recommendation_id {
        length(&at("recommendationId"), id, 1, MAX_RECOMMENDATION_ID, out);
    }
    if let Some(items) = &event.impression {
        if items.is_empty() || items.len() > MAX_IMPRESSION {
            out.push(Violation {
                path: at("impression"),
                constraint: format!("Member must have length between 1 and {MAX_IMPRESSION}"),
            });
        }
        for (i, item) in items.iter().enumerate() {
            length(&format!("{prefix}.impression.{}.member", i + 1), item, 1, MAX_ID, out);
        }
    }
    if !event.sent_at.is_finite() || event.sent_at < 0.0 {
        out.push(Violation { path: at("sentAt"), constraint: "Member must be a valid timestamp".into() });
    }
    if event.event_value.is_some_and(|v| !v.is_finite()) {
        out.push(Violation { path: at("eventValue"), constraint: "Member must be a finite number".into() });
    }
    if let Some(properties) = &event.properties {
        length(&at("properties"), properties, 1, MAX_PROPERTIES, out);
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(properties) {
            Err(_) => out.push(Violation { path: at("properties"), constraint: "Member must be a JSON object".into() }),
            Ok(map) => {
                if let Some(key) = RESERVED_PROPERTIES.iter().find(|k| map.contains_key(**k)) {
                    out.push(Violation {
                        path: at("properties"),
                        constraint: format!("Member must not use the reserved key {key}"),
                    });
                }
            }
        }
    }
    let size = serde_json::to_vec(event).map_or(usize::MAX, |v| v.len());
    if size > MAX_EVENT_BYTES {
        out.push(Violation {
            path: prefix.to_owned(),
            constraint: format!("Member must be at most {MAX_EVENT_BYTES} bytes"),
        });
    }
}

/// Every violation in a request, in the order the service reports them.
pub fn validate_request(request: &PutEventsRequest) -> Vec<Violation> {
    let mut out = Vec::new();
    length("trackingId", &request.tracking_id, 1, MAX_ID, &mut out);
    length("sessionId", &request.session_id, 1, MAX_ID, &mut out);
    if let Some(user) = &request.user_id {
        length("userId", user, 1, MAX_ID, &mut out);
    }
    if request.event_list.is_empty() || request.event_list.len() > crate::MAX_EVENTS_PER_CALL {
        out.push(Violation {
            path: "eventList".into(),
            constraint: format!("Member must have length between 1 and {}", crate::MAX_EVENTS_PER_CALL),
        });
    }
    for (i, event) in request.event_list.iter().enumerate() {
        validate_event(&format!("eventList.{}.member", i + 1), event, &mut out);
    }
    out
}
