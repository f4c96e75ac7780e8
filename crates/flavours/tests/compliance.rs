//! Compliance: every registered mapper, run over the same hostile inputs, returns an interaction, a
//! skip with a reason its flavour declares, or a bad row with an error; it never panics.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly on broken fixtures.

use interactions::{Outcome, Pipeline, Registry, Settings, skip};
use serde_json::{Map, Value, json};
use snowplow_enriched::tsv::line_from_fields;

use flavours as _;

/// Every entity any flavour or the shared rules read, and one nobody reads.
const SCHEMAS: &[&str] = &[
    "com.google.analytics.enhanced-ecommerce/action/jsonschema/1-0-0",
    "com.google.analytics.enhanced-ecommerce/product/jsonschema/1-0-0",
    "com.google.analytics.enhanced-ecommerce/productFieldObject/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/jsonschema/1-0-2",
    "com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0",
    "io.snowplow.ecomm/view_item/jsonschema/1-0-0",
    "io.snowplow.ecomm/cart/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/element/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/element_content/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2",
    "com.acme/unrelated/jsonschema/1-0-0",
];

/// Entity data that schemas forbid but trackers and proxies produce anyway.
fn hostile_data() -> Vec<Value> {
    let mut nested = json!("deep");
    for _ in 0..200 {
        nested = json!([nested]);
    }
    vec![
        Value::Null,
        json!(0),
        json!(""),
        json!("text"),
        json!([]),
        json!({}),
        json!([1, {"id": "P1"}]),
        json!({"id": null, "item_id": null, "action": null, "type": null}),
        json!({"id": {}, "item_id": [], "action": 5, "type": ["transaction"]}),
        json!({"id": "P1", "item_id": "P1", "action": "purchase", "type": "transaction", "sessionId": 7, "userId": {}}),
        json!({"id": 1e300, "item_id": -0.0, "action": "detail", "type": "list_view"}),
        json!({"items_in_cart": "x"}),
        json!({"items_in_cart": [null, 1, "x", {"item_id": {}}, {"item_id": "A"}]}),
        json!({"element_name": "recommendation-impression", "attributes": {}}),
        json!({"element_name": "recommendation-impression", "attributes": [null, 1, {"source": "dataset", "attribute": "recommendationId", "value": null}]}),
        json!({"element_name": "recommendation-impression", "attributes": [{"source": "dataset", "attribute": "recommendationId", "value": 42}]}),
        json!({"parent_name": "recommendation-impression", "attributes": [{"attribute": "itemId"}, {"attribute": "itemId", "value": "I1"}]}),
        json!({"id": "\u{0}\u{ffff}\u{10ffff}", "item_id": "x".repeat(10_000)}),
        nested,
    ]
}

fn contexts(entities: Vec<Value>) -> Value {
    json!({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "data": entities})
}

fn events_for(event_name: &str) -> Vec<Map<String, Value>> {
    let base = json!({
        "event_id": "c6ef3124-b53a-4b13-a233-0088f79dcbcb",
        "collector_tstamp": "2024-05-01 10:15:02.001",
        "domain_sessionid": "7f3f3f1e-0bb1-4c39-8b43-3b0a3f7f0d4a",
        "event_name": event_name,
    });
    let base = base.as_object().unwrap().clone();
    let mut events = Vec::new();
    let mut with = |changes: Vec<(&str, Value)>| {
        let mut event = base.clone();
        for (k, v) in changes {
            event.insert(k.to_owned(), v);
        }
        events.push(event);
    };
    for raw in
        ["", "null", "{}", "[]", "1", "\"s\"", "{", "{\"data\":null}", "{\"data\":[null]}", "{\"data\":{}}", "{} x"]
    {
        with(vec![("contexts", json!(raw)), ("derived_contexts", json!(raw)), ("unstruct_event", json!(raw))]);
    }
    for schema in SCHEMAS {
        for data in hostile_data() {
            let entity = json!({"schema": format!("iglu:{schema}"), "data": data});
            let unstruct = json!({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", "data": entity});
            with(vec![("contexts", contexts(vec![entity.clone(), entity.clone()]))]);
            with(vec![("derived_contexts", contexts(vec![entity.clone()])), ("domain_sessionid", Value::Null)]);
            with(vec![("unstruct_event", unstruct)]);
        }
    }
    // A plausible event of each flavour whose identity and time fields are what is broken.
    let all: Vec<Value> =
        SCHEMAS.iter().map(|s| json!({"schema": format!("iglu:{s}"), "data": {"id": "P1"}})).collect();
    for (field, value) in [
        ("collector_tstamp", json!("yesterday")),
        ("derived_tstamp", json!("2024-02-30 00:00:00")),
        ("event_id", Value::Null),
        ("domain_sessionid", Value::Null),
        ("ti_sku", json!("")),
    ] {
        with(vec![("contexts", contexts(all.clone())), (field, value)]);
    }
    events
}

#[test]
fn every_mapper_survives_hostile_input() {
    let registry = Registry::linked().unwrap();
    let pipeline = Pipeline::new(&Settings::default()).unwrap();
    let mut counts = [0usize; 4];
    for mapper in registry.mappers() {
        let flavour = registry.flavours().iter().find(|f| f.name == mapper.flavour).unwrap();
        for fields in events_for(mapper.event_name) {
            let line = line_from_fields(&fields).unwrap();
            match pipeline.process(&line) {
                Outcome::Interaction { interaction, .. } => {
                    assert!(!interaction.item_ids.is_empty() && interaction.item_ids.iter().all(|i| !i.is_empty()));
                    assert!(!interaction.session_id.is_empty() && !interaction.event_id.is_empty());
                    counts[0] += 1;
                }
                Outcome::Skipped { reason, .. } => {
                    let shared = [skip::NO_ITEM_IDS, skip::NO_SESSION_ID];
                    assert!(
                        flavour.skips.contains(&reason) || shared.contains(&reason),
                        "{}: undeclared skip reason {reason:?}",
                        mapper.event_name
                    );
                    counts[1] += 1;
                }
                Outcome::Bad { error, .. } => {
                    assert!(!error.to_string().is_empty());
                    counts[2] += 1;
                }
                Outcome::Filtered => counts[3] += 1,
            }
        }
    }
    // Each kind of verdict occurs, so the inputs reach every part of the mappers.
    assert!(counts[0] > 0 && counts[1] > 0 && counts[2] > 0, "{counts:?}");
    assert_eq!(counts[3], 0, "the default filter lets every mapped event name through");
}
