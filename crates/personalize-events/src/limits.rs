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

/// A length in characters between `min` and `max`. The path is only written out for a violation: every
/// interaction is checked on its way to Personalize, and nearly all of them pass.
pub(crate) fn length(path: impl FnOnce() -> String, value: &str, min: usize, max: usize, out: &mut Vec<Violation>) {
    let n = value.chars().count();
    if n < min {
        out.push(Violation {
            path: path(),
            constraint: format!("Member must have length greater than or equal to {min}"),
        });
    } else if n > max {
        out.push(Violation {
            path: path(),
            constraint: format!("Member must have length less than or equal to {max}"),
        });
    }
}

/// Every violation in one event; `prefix` gives its path in the request (`eventList.1.member`).
pub(crate) fn validate_event(prefix: impl Fn() -> String, event: &Event, out: &mut Vec<Violation>) {
    let at = |field: &str| format!("{}.{field}", prefix());
    length(|| at("eventType"), &event.event_type, 1, MAX_ID, out);
    if let Some(id) = &event.event_id {
        length(|| at("eventId"), id, 1, MAX_ID, out);
    }
    if let Some(id) = &event.item_id {
        length(|| at("itemId"), id, 1, MAX_ID, out);
    }
    if let Some(id) = &event.recommendation_id {
        length(|| at("recommendationId"), id, 1, MAX_RECOMMENDATION_ID, out);
    }
    if let Some(items) = &event.impression {
        if items.is_empty() || items.len() > MAX_IMPRESSION {
            out.push(Violation {
                path: at("impression"),
                constraint: format!("Member must have length between 1 and {MAX_IMPRESSION}"),
            });
        }
        for (i, item) in items.iter().enumerate() {
            length(|| format!("{}.impression.{}.member", prefix(), i + 1), item, 1, MAX_ID, out);
        }
    }
    if !event.sent_at.is_finite() || event.sent_at < 0.0 {
        out.push(Violation { path: at("sentAt"), constraint: "Member must be a valid timestamp".into() });
    }
    if event.event_value.is_some_and(|v| !v.is_finite()) {
        out.push(Violation { path: at("eventValue"), constraint: "Member must be a finite number".into() });
    }
    if let Some(properties) = &event.properties {
        length(|| at("properties"), properties, 1, MAX_PROPERTIES, out);
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
    // The JSON is measured as it is written, not kept.
    let mut size = Measure(0);
    if serde_json::to_writer(&mut size, event).is_err() || size.0 > MAX_EVENT_BYTES {
        out.push(Violation { path: prefix(), constraint: format!("Member must be at most {MAX_EVENT_BYTES} bytes") });
    }
}

/// Every violation in a request, in the order the service reports them.
pub fn validate_request(request: &PutEventsRequest) -> Vec<Violation> {
    let mut out = Vec::new();
    length(|| "trackingId".into(), &request.tracking_id, 1, MAX_ID, &mut out);
    length(|| "sessionId".into(), &request.session_id, 1, MAX_ID, &mut out);
    if let Some(user) = &request.user_id {
        length(|| "userId".into(), user, 1, MAX_ID, &mut out);
    }
    if request.event_list.is_empty() || request.event_list.len() > crate::MAX_EVENTS_PER_CALL {
        out.push(Violation {
            path: "eventList".into(),
            constraint: format!("Member must have length between 1 and {}", crate::MAX_EVENTS_PER_CALL),
        });
    }
    for (i, event) in request.event_list.iter().enumerate() {
        validate_event(|| format!("eventList.{}.member", i + 1), event, &mut out);
    }
    out
}

/// A writer that counts the bytes written to it.
struct Measure(usize);

impl std::io::Write for Measure {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(event: Event) -> PutEventsRequest {
        PutEventsRequest {
            tracking_id: "t".into(),
            user_id: Some("u".into()),
            session_id: "s".into(),
            event_list: vec![event.clone(), event],
        }
    }

    fn event(items: usize, item: &str) -> Event {
        Event {
            event_id: Some("e".into()),
            event_type: "Click".into(),
            sent_at: 1_714_558_501.951,
            item_id: Some(item.into()),
            event_value: None,
            properties: None,
            recommendation_id: Some("r".into()),
            impression: Some(vec![item.to_owned(); items]),
        }
    }

    #[test]
    fn violations_name_the_field_and_the_event() {
        let mut broken = event(1, "A");
        broken.item_id = Some(String::new());
        broken.impression = Some(vec!["A".into(), "x".repeat(257)]);
        broken.recommendation_id = Some("r".repeat(41));
        let mut request = request(broken);
        request.session_id = String::new();
        let paths: Vec<_> = validate_request(&request).into_iter().map(|v| v.path).collect();
        assert_eq!(
            paths,
            [
                "sessionId",
                "eventList.1.member.itemId",
                "eventList.1.member.recommendationId",
                "eventList.1.member.impression.2.member",
                "eventList.2.member.itemId",
                "eventList.2.member.recommendationId",
                "eventList.2.member.impression.2.member",
            ]
        );
    }

    #[test]
    fn an_event_over_ten_kilobytes_of_json_is_refused_whatever_its_fields() {
        // Every field is within its own limit: 25 items of 256 characters, each written in JSON as a
        // six-byte escape, or as four bytes of UTF-8.
        for wide in ["\u{1}", "😀"] {
            let item = wide.repeat(256);
            let violations = validate_request(&request(event(25, &item)));
            let paths: Vec<_> = violations.iter().map(|v| (v.path.as_str(), v.constraint.as_str())).collect();
            let constraint = "Member must be at most 10240 bytes";
            assert_eq!(paths, [("eventList.1.member", constraint), ("eventList.2.member", constraint)], "{wide:?}");
        }
        // Plain text of the same length fits: 25 × 256 bytes and the rest.
        let fits = event(25, &"a".repeat(256));
        assert!(serde_json::to_vec(&fits).unwrap().len() <= MAX_EVENT_BYTES);
        assert_eq!(validate_request(&request(fits)), []);
    }
}
