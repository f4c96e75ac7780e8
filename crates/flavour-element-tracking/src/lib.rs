//! Clicks on recommendation widgets, tracked with the element-tracking plugin.
//!
//! The site renders Personalize's `recommendationId` into the widget (`data-recommendation-id`) and each
//! item's id into its children (`data-item-id`). A `link_click` inside the widget carries an `element`
//! entity for the widget, whose dataset attributes hold the recommendation id, and `element_content`
//! entities for the items shown, in order. The click becomes a Click interaction whose first item
//! stands for the clicked one and whose `impression_id` attributes it to the recommendation.

use interactions::inventory;
use interactions::{Draft, Event, EventError, EventKind, Flavour, Loose, MapContext, Mapped, Mapper, SchemaKey};
use serde::Deserialize;

const ELEMENT: SchemaKey<'static> = SchemaKey::new("com.snowplowanalytics.snowplow", "element", 1);
const ELEMENT_CONTENT: SchemaKey<'static> = SchemaKey::new("com.snowplowanalytics.snowplow", "element_content", 1);

/// `[flavours.element-tracking]`: names chosen in the tracker's element-tracking configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The `name` of the element-tracking rule for the widget.
    pub element_name: String,
    /// The attribute source the recommendation id is read from.
    pub attribute_source: String,
    /// The widget attribute holding the recommendation id.
    pub recommendation_id_attribute: String,
    /// The item attribute holding the item id.
    pub item_id_attribute: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            element_name: "recommendation-impression".to_owned(),
            attribute_source: "dataset".to_owned(),
            recommendation_id_attribute: "recommendationId".to_owned(),
            item_id_attribute: "itemId".to_owned(),
        }
    }
}

const NO_ELEMENT_ENTITY: &str = "no element entity";
const NO_ELEMENT_CONTENT_ENTITIES: &str = "no element_content entities";
const NO_RECOMMENDATION_ID: &str = "no recommendation id on the widget element";
const RECOMMENDATION_ID_NOT_TEXT: &str = "recommendation id is not text";

inventory::submit! {
    Flavour {
        name: "element-tracking",
        summary: "element tracking: link_click on a recommendation widget → Click with impression_id",
        skips: &[NO_ELEMENT_ENTITY, NO_ELEMENT_CONTENT_ENTITIES, NO_RECOMMENDATION_ID, RECOMMENDATION_ID_NOT_TEXT],
        configure: interactions::parse_flavour_settings::<Settings>,
    }
}

inventory::submit! {
    Mapper { flavour: "element-tracking", event_name: "link_click", map: link_click }
}

fn attributes<'v, 'a>(entity: &'v Loose<'a>) -> &'v [Loose<'a>] {
    entity.get("attributes").and_then(Loose::as_array).unwrap_or_default()
}

fn text<'v>(value: &'v Loose<'_>, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Loose::as_str)
}

fn link_click(event: &Event<'_>, context: &MapContext<'_>) -> Result<Mapped, EventError> {
    let settings = context.settings::<Settings>();
    let elements = event.context(&ELEMENT)?;
    if elements.is_empty() {
        return Ok(Mapped::Skip(NO_ELEMENT_ENTITY));
    }
    let contents = event.context(&ELEMENT_CONTENT)?;
    if contents.is_empty() {
        return Ok(Mapped::Skip(NO_ELEMENT_CONTENT_ENTITIES));
    }
    // The last matching attribute of any widget element wins, as in the seed.
    let mut recommendation_id = None;
    for element in elements.iter().map(|e| e.data()) {
        if text(&element, "element_name") != Some(&settings.element_name) {
            continue;
        }
        for attribute in attributes(&element) {
            if text(attribute, "source") == Some(&settings.attribute_source)
                && text(attribute, "attribute") == Some(&settings.recommendation_id_attribute)
            {
                recommendation_id = attribute.get("value").cloned();
            }
        }
    }
    let Some(recommendation_id) = recommendation_id.filter(Loose::is_truthy) else {
        return Ok(Mapped::Skip(NO_RECOMMENDATION_ID));
    };
    let Some(recommendation_id) = recommendation_id.scalar_text() else {
        return Ok(Mapped::Skip(RECOMMENDATION_ID_NOT_TEXT));
    };
    let item_ids = contents
        .iter()
        .map(|c| c.data())
        .filter(|content| text(content, "parent_name") == Some(&settings.element_name))
        .filter_map(|content| {
            let attribute =
                attributes(&content).iter().find(|a| text(a, "attribute") == Some(&settings.item_id_attribute))?;
            interactions::id_at(attribute, "value")
        })
        .collect();
    Ok(Mapped::Draft(Draft { kind: EventKind::Click, item_ids, impression_id: Some(recommendation_id.into_owned()) }))
}
