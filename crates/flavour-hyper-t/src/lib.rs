//! The `io.snowplow.ecomm` schemas (the "hyper-t" demo shop of Snowplow's accelerator): `view_item`
//! events name one item; `create_order` events buy what the `cart` entity holds.

use interactions::inventory;
use interactions::{
    Draft, Event, EventError, EventKind, Flavour, MapContext, Mapped, Mapper, NoSettings, SchemaKey, id_at,
};

const VIEW_ITEM: SchemaKey<'static> = SchemaKey::new("io.snowplow.ecomm", "view_item", 1);
const CART: SchemaKey<'static> = SchemaKey::new("io.snowplow.ecomm", "cart", 1);

const NO_VIEW_ITEM_ENTITY: &str = "no view_item entity";
const VIEW_ITEM_NO_DATA: &str = "view_item entity has no data";
const NO_CART_ENTITY: &str = "no cart entity";
const NO_ITEMS_IN_CART: &str = "cart has no items_in_cart";
const ITEMS_NOT_AN_ARRAY: &str = "cart items_in_cart is not an array";

inventory::submit! {
    Flavour {
        name: "hyper-t",
        summary: "io.snowplow.ecomm: view_item → View of item_id; create_order → Purchase of the cart's items",
        skips: &[NO_VIEW_ITEM_ENTITY, VIEW_ITEM_NO_DATA, NO_CART_ENTITY, NO_ITEMS_IN_CART, ITEMS_NOT_AN_ARRAY],
        configure: interactions::parse_flavour_settings::<NoSettings>,
    }
}

inventory::submit! {
    Mapper { flavour: "hyper-t", event_name: "view_item", map: view_item }
}

inventory::submit! {
    Mapper { flavour: "hyper-t", event_name: "create_order", map: create_order }
}

fn view_item(event: &Event<'_>, _: &MapContext<'_>) -> Result<Mapped, EventError> {
    let Some(entity) = event.unstruct(&VIEW_ITEM)? else {
        return Ok(Mapped::Skip(NO_VIEW_ITEM_ENTITY));
    };
    let payload = entity.data();
    if !payload.is_truthy() {
        return Ok(Mapped::Skip(VIEW_ITEM_NO_DATA));
    }
    Ok(Mapped::Draft(Draft::new(EventKind::View, id_at(&payload, "item_id").into_iter().collect())))
}

/// Reads the first cart entity: the seed's `cart.items_in_cart` on the array of carts was always
/// undefined, so every order was skipped (FIX-1).
fn create_order(event: &Event<'_>, _: &MapContext<'_>) -> Result<Mapped, EventError> {
    let carts = event.context(&CART)?;
    let Some(cart) = carts.first().map(|c| c.data()).filter(|c| c.is_truthy()) else {
        return Ok(Mapped::Skip(NO_CART_ENTITY));
    };
    let Some(items) = cart.get("items_in_cart").filter(|i| i.is_truthy()) else {
        return Ok(Mapped::Skip(NO_ITEMS_IN_CART));
    };
    let Some(items) = items.as_array() else {
        return Ok(Mapped::Skip(ITEMS_NOT_AN_ARRAY));
    };
    let ids = items.iter().filter_map(|item| id_at(item, "item_id")).collect();
    Ok(Mapped::Draft(Draft::new(EventKind::Purchase, ids)))
}
