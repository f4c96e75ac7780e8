//! The Snowplow ecommerce plugin: a `snowplow_ecommerce_action` event whose self-describing event is
//! `com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/1`, with `product/1` entities.

use std::collections::BTreeMap;

use interactions::inventory;
use interactions::{
    Draft, Event, EventError, EventKind, Flavour, Loose, MapContext, Mapped, Mapper, SchemaKey, ids_of_entities,
};
use serde::Deserialize;

const VENDOR: &str = "com.snowplowanalytics.snowplow.ecommerce";
const ACTION: SchemaKey<'static> = SchemaKey::new(VENDOR, "snowplow_ecommerce_action", 1);
const PRODUCT: SchemaKey<'static> = SchemaKey::new(VENDOR, "product", 1);

/// `[flavours.snowplow-ecommerce]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which action `type`s are interactions, and of which kind. Given, it replaces the default map
    /// entirely.
    pub actions: BTreeMap<String, EventKind>,
}

impl Default for Settings {
    fn default() -> Self {
        let actions = [
            ("product_view", EventKind::View),
            ("list_view", EventKind::View),
            ("list_click", EventKind::Click),
            ("transaction", EventKind::Purchase),
        ];
        Settings { actions: actions.into_iter().map(|(a, k)| (a.to_owned(), k)).collect() }
    }
}

const NO_ACTION_ENTITY: &str = "no snowplow_ecommerce_action entity";
const NO_DATA: &str = "snowplow_ecommerce_action entity has no data";
const NO_TYPE: &str = "snowplow_ecommerce_action entity has no type";
const NO_PRODUCTS: &str = "no snowplow ecommerce product entities";
const UNMAPPED_TYPE: &str = "snowplow ecommerce action type not mapped to an event type";

inventory::submit! {
    Flavour {
        name: "snowplow-ecommerce",
        summary: "Snowplow ecommerce: snowplow_ecommerce_action (product_view, list_view, list_click, transaction) of product ids",
        skips: &[NO_ACTION_ENTITY, NO_DATA, NO_TYPE, NO_PRODUCTS, UNMAPPED_TYPE],
        configure: interactions::parse_flavour_settings::<Settings>,
    }
}

inventory::submit! {
    Mapper { flavour: "snowplow-ecommerce", event_name: "snowplow_ecommerce_action", map: snowplow_ecommerce_action }
}

fn snowplow_ecommerce_action<'a>(event: &Event<'a>, context: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
    let Some(entity) = event.unstruct(&ACTION)? else {
        return Ok(Mapped::Skip(NO_ACTION_ENTITY));
    };
    // Data is an object or null; an object, even an empty one, is truthy. Of a repeated key the last
    // wins, as in the seed.
    let mut action = None;
    if !entity.read_data(|key, value| {
        if key == "type" {
            action = Some(value.loose());
        }
    }) {
        return Ok(Mapped::Skip(NO_DATA));
    }
    let Some(action) = action.filter(Loose::is_truthy) else {
        return Ok(Mapped::Skip(NO_TYPE));
    };
    let products = event.context(&PRODUCT)?;
    if products.is_empty() {
        return Ok(Mapped::Skip(NO_PRODUCTS));
    }
    let settings = context.settings::<Settings>();
    let Some(kind) = action.as_str().and_then(|a| settings.actions.get(a)) else {
        return Ok(Mapped::Skip(UNMAPPED_TYPE));
    };
    Ok(Mapped::Draft(Draft::new(*kind, ids_of_entities(&products, "id"))))
}
