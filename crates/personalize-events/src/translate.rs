//! One interaction to Personalize events.

use interactions::Interaction;

use crate::Event;
use crate::limits::{self, MAX_ID, MAX_IMPRESSION, MAX_RECOMMENDATION_ID, Violation};

/// The events of one interaction, with the session and user they belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub session_id: String,
    pub user_id: Option<String>,
    pub events: Vec<Event>,
    /// The recommendation id was longer than Personalize allows and was left out (the click still
    /// counts; only its attribution is lost).
    pub recommendation_id_dropped: bool,
    /// More items were shown than an impression may list; the first ones were kept.
    pub impression_truncated: bool,
}

/// An interaction that cannot be made valid: it goes to the bad rows and is never sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interaction cannot be sent to Personalize: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct TranslateError(pub Vec<Violation>);

/// The event id of item `index` of an interaction with several items: the Snowplow event id and the
/// position, so that the same interaction always yields the same ids.
fn derived_event_id(event_id: &str, index: usize) -> String {
    format!("{event_id}:{index}")
}

/// Translates one interaction (see the crate documentation).
pub fn translate(interaction: &Interaction<'_>) -> Result<Translation, TranslateError> {
    let sent_at = interaction.sent_at as f64 / 1000.0;
    let base = |event_id: String, item_id: &str| Event {
        event_id: Some(event_id),
        event_type: interaction.event_type.to_string(),
        sent_at,
        item_id: Some(item_id.to_owned()),
        event_value: None,
        properties: None,
        recommendation_id: None,
        impression: None,
    };
    let mut recommendation_id_dropped = false;
    let mut impression_truncated = false;
    let events = match (&interaction.impression_id, interaction.item_ids.as_slice()) {
        (_, []) => Vec::new(),
        (Some(recommendation_id), [clicked, ..]) => {
            let mut event = base(interaction.event_id.to_string(), clicked);
            let shown = &interaction.item_ids;
            impression_truncated = shown.len() > MAX_IMPRESSION;
            event.impression = Some(shown.iter().take(MAX_IMPRESSION).map(|id| id.to_string()).collect());
            if recommendation_id.chars().count() <= MAX_RECOMMENDATION_ID {
                event.recommendation_id = Some(recommendation_id.to_string());
            } else {
                recommendation_id_dropped = true;
            }
            vec![event]
        }
        (None, [only]) => vec![base(interaction.event_id.to_string(), only)],
        (None, items) => {
            items.iter().enumerate().map(|(i, item)| base(derived_event_id(&interaction.event_id, i), item)).collect()
        }
    };
    let mut violations = Vec::new();
    limits::length(|| "sessionId".into(), &interaction.session_id, 1, MAX_ID, &mut violations);
    if let Some(user) = &interaction.user_id {
        limits::length(|| "userId".into(), user, 1, MAX_ID, &mut violations);
    }
    if events.is_empty() {
        violations.push(Violation { path: "item_ids".into(), constraint: "Interaction must name an item".into() });
    }
    for (i, event) in events.iter().enumerate() {
        limits::validate_event(|| format!("event {}", i + 1), event, &mut violations);
    }
    if !violations.is_empty() {
        return Err(TranslateError(violations));
    }
    Ok(Translation {
        session_id: interaction.session_id.to_string(),
        user_id: interaction.user_id.as_deref().map(str::to_owned),
        events,
        recommendation_id_dropped,
        impression_truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction<'a>(items: &[&'a str], impression: Option<&'a str>) -> Interaction<'a> {
        Interaction {
            event_id: "e1".into(),
            event_type: if impression.is_some() { "Click" } else { "Purchase" }.into(),
            user_id: Some("u1".into()),
            session_id: "s1".into(),
            item_ids: items.iter().map(|&s| s.into()).collect(),
            sent_at: 1_714_558_501_951,
            impression_id: impression.map(Into::into),
        }
    }

    #[test]
    fn one_event_per_item_with_deterministic_ids() {
        let t = translate(&interaction(&["A"], None)).unwrap();
        assert_eq!(t.events.len(), 1);
        assert_eq!(t.events[0].event_id.as_deref(), Some("e1"));
        assert_eq!(t.events[0].sent_at, 1_714_558_501.951);
        let t = translate(&interaction(&["A", "B", "C"], None)).unwrap();
        let ids: Vec<_> = t.events.iter().map(|e| (e.event_id.clone().unwrap(), e.item_id.clone().unwrap())).collect();
        assert_eq!(ids, [("e1:0".into(), "A".into()), ("e1:1".into(), "B".into()), ("e1:2".into(), "C".into())]);
        assert_eq!(
            translate(&interaction(&["A", "B", "C"], None)).unwrap(),
            t,
            "the same interaction, the same events"
        );
    }

    #[test]
    fn a_recommendation_click_is_one_event_with_its_impression() {
        let t = translate(&interaction(&["A", "B", "C"], Some("rec-1"))).unwrap();
        assert_eq!(t.events.len(), 1);
        let e = &t.events[0];
        assert_eq!((e.event_id.as_deref(), e.item_id.as_deref()), (Some("e1"), Some("A")));
        assert_eq!(e.impression.as_deref(), Some(&["A".to_string(), "B".into(), "C".into()][..]));
        assert_eq!(e.recommendation_id.as_deref(), Some("rec-1"));
        assert!(!t.recommendation_id_dropped && !t.impression_truncated);
    }

    #[test]
    fn over_long_recommendation_ids_and_impressions_are_cut_not_fatal() {
        let many: Vec<String> = (0..30).map(|i| format!("I{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let long_id = "r".repeat(41);
        let t = translate(&interaction(&many, Some(&long_id))).unwrap();
        assert!(t.recommendation_id_dropped && t.impression_truncated);
        assert_eq!(t.events[0].recommendation_id, None);
        assert_eq!(t.events[0].impression.as_ref().unwrap().len(), 25);
        let t = translate(&interaction(&["A"], Some(&"r".repeat(40)))).unwrap();
        assert!(!t.recommendation_id_dropped);
    }

    #[test]
    fn what_cannot_be_valid_is_an_error_naming_the_field() {
        let mut i = interaction(&["A"], None);
        i.session_id = "s".repeat(257).into();
        i.item_ids = vec!["x".repeat(300).into()];
        let err = translate(&i).unwrap_err().to_string();
        assert!(err.contains("'sessionId'") && err.contains("'event 1.itemId'"), "{err}");
        assert!(translate(&interaction(&[], None)).is_err());
    }
}
