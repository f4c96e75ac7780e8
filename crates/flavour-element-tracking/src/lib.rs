//! Clicks on recommendation widgets, tracked with the element-tracking plugin.
//!
//! The site renders Personalize's `recommendationId` into the widget (`data-recommendation-id`) and each
//! item's id into its children (`data-item-id`). A `link_click` inside the widget carries an `element`
//! entity for the widget, whose dataset attributes hold the recommendation id, and `element_content`
//! entities for the items shown, in order. The click becomes a Click interaction whose first item
//! stands for the clicked one and whose `impression_id` attributes it to the recommendation.

use std::borrow::Cow;

use interactions::inventory;
use interactions::{
    DataValue, Draft, Event, EventError, EventKind, Flavour, Loose, MapContext, Mapped, Mapper, SchemaKey,
};
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

fn link_click<'a>(event: &Event<'a>, context: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
    let settings = context.settings::<Settings>();
    let elements = event.context(&ELEMENT)?;
    if elements.is_empty() {
        return Ok(Mapped::Skip(NO_ELEMENT_ENTITY));
    }
    let contents = event.context(&ELEMENT_CONTENT)?;
    if contents.is_empty() {
        return Ok(Mapped::Skip(NO_ELEMENT_CONTENT_ENTITIES));
    }
    // The entities are read on demand rather than as trees: a click carries a widget and an entity
    // per item shown, and building their trees was most of a click's mapping. The readings keep the
    // seed's: of a repeated key the last wins, and a value of the wrong kind reads as absent.
    //
    // The last matching attribute of any widget element wins, as in the seed.
    let mut recommendation_id = None;
    for element in &elements {
        let (mut name, mut found) = (None, None);
        element.read_data(|key, value| match key {
            "element_name" => name = value.as_str(),
            "attributes" => found = recommendation_attribute(value, settings),
            _ => {}
        });
        if name.as_deref() == Some(&settings.element_name)
            && let Some(value) = found
        {
            recommendation_id = value;
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
        .filter_map(|content| {
            let (mut parent, mut id) = (None, None);
            content.read_data(|key, value| match key {
                "parent_name" => parent = value.as_str(),
                "attributes" => id = item_id(value, settings),
                _ => {}
            });
            id.filter(|_| parent.as_deref() == Some(&settings.element_name))
        })
        .collect();
    Ok(Mapped::Draft(Draft { kind: EventKind::Click, item_ids, impression_id: Some(recommendation_id) }))
}

/// In a widget's `attributes`, the value of the last attribute with the configured source and name
/// (`Some(None)` when that attribute has no value); `None` when none has them or the list is not an
/// array.
fn recommendation_attribute<'a>(attributes: DataValue<'_, 'a>, settings: &Settings) -> Option<Option<Loose<'a>>> {
    let mut found = None;
    attributes.items(|attribute| {
        let (mut source, mut name, mut value) = (None, None, None);
        attribute.entries(|key, v| match key {
            "source" => source = v.as_str(),
            "attribute" => name = v.as_str(),
            "value" => value = Some(v.loose()),
            _ => {}
        });
        if source.as_deref() == Some(&settings.attribute_source)
            && name.as_deref() == Some(&settings.recommendation_id_attribute)
        {
            found = Some(value);
        }
    });
    found
}

/// In an item's `attributes`, the value of the first attribute with the configured name, as an id
/// (`None` when it has none, or is not text, a number or a boolean).
fn item_id<'a>(attributes: DataValue<'_, 'a>, settings: &Settings) -> Option<Cow<'a, str>> {
    let mut first = None;
    attributes.items(|attribute| {
        if first.is_some() {
            return;
        }
        let (mut name, mut value) = (None, None);
        attribute.entries(|key, v| match key {
            "attribute" => name = v.as_str(),
            "value" => value = Some(v.loose()),
            _ => {}
        });
        if name.as_deref() == Some(&settings.item_id_attribute) {
            first = Some(value.as_ref().and_then(Loose::scalar_text));
        }
    });
    first.flatten()
}
