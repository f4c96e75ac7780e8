//! Google Analytics Enhanced Ecommerce tracked with Snowplow: an `action` event whose self-describing
//! event is `com.google.analytics.enhanced-ecommerce/action/1`, with the products as context entities.
//!
//! Iglu Central names the product entity `productFieldObject`; the seed script read `product`, which no
//! schema defines. Both are read, `product` first, as the reference transform's FIX-2 does.

use std::collections::BTreeMap;

use interactions::inventory;
use interactions::{
    Draft, Event, EventError, EventKind, Flavour, Loose, MapContext, Mapped, Mapper, SchemaKey, ids_of_entities,
};
use serde::Deserialize;

const VENDOR: &str = "com.google.analytics.enhanced-ecommerce";
const ACTION: SchemaKey<'static> = SchemaKey::new(VENDOR, "action", 1);
const PRODUCT: SchemaKey<'static> = SchemaKey::new(VENDOR, "product", 1);
const PRODUCT_FIELD_OBJECT: SchemaKey<'static> = SchemaKey::new(VENDOR, "productFieldObject", 1);

/// `[flavours.enhanced-ecommerce]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which values of the action entity's `action` are interactions, and of which kind. Given, it
    /// replaces the default map entirely.
    pub actions: BTreeMap<String, EventKind>,
}

impl Default for Settings {
    fn default() -> Self {
        let actions = [
            ("view", EventKind::View),
            // `detail` is the product-detail action; the seed's `view` never occurs (FIX-3).
            ("detail", EventKind::View),
            ("click", EventKind::Click),
            ("purchase", EventKind::Purchase),
        ];
        Settings { actions: actions.into_iter().map(|(a, k)| (a.to_owned(), k)).collect() }
    }
}

const NO_ACTION_ENTITY: &str = "no enhanced-ecommerce action entity";
const NO_DATA: &str = "enhanced-ecommerce action entity has no data";
const NO_ACTION: &str = "enhanced-ecommerce action entity has no action";
const NO_PRODUCTS: &str = "no enhanced-ecommerce product entities";
const UNMAPPED_ACTION: &str = "enhanced-ecommerce action not mapped to an event type";

inventory::submit! {
    Flavour {
        name: "enhanced-ecommerce",
        summary: "GA Enhanced Ecommerce: action (view, detail, click, purchase) of productFieldObject ids",
        skips: &[NO_ACTION_ENTITY, NO_DATA, NO_ACTION, NO_PRODUCTS, UNMAPPED_ACTION],
        configure: interactions::parse_flavour_settings::<Settings>,
    }
}

inventory::submit! {
    Mapper { flavour: "enhanced-ecommerce", event_name: "action", map: action }
}

fn action<'a>(event: &Event<'a>, context: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
    let Some(entity) = event.unstruct(&ACTION)? else {
        return Ok(Mapped::Skip(NO_ACTION_ENTITY));
    };
    // Data is an object or null; an object, even an empty one, is truthy. Of a repeated key the last
    // wins, as in the seed.
    let mut action = None;
    if !entity.read_data(|key, value| {
        if key == "action" {
            action = Some(value.loose());
        }
    }) {
        return Ok(Mapped::Skip(NO_DATA));
    }
    let Some(action) = action.filter(Loose::is_truthy) else {
        return Ok(Mapped::Skip(NO_ACTION));
    };
    let mut products = event.context(&PRODUCT)?;
    if products.is_empty() {
        products = event.context(&PRODUCT_FIELD_OBJECT)?;
    }
    if products.is_empty() {
        return Ok(Mapped::Skip(NO_PRODUCTS));
    }
    let settings = context.settings::<Settings>();
    let Some(kind) = action.as_str().and_then(|a| settings.actions.get(a)) else {
        return Ok(Mapped::Skip(UNMAPPED_ACTION));
    };
    Ok(Mapped::Draft(Draft::new(*kind, ids_of_entities(&products, "id"))))
}
