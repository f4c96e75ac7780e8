//! The `io.snowplow.ecomm` schemas (the "hyper-t" demo shop of Snowplow's accelerator): `view_item`
//! events name one item; `create_order` events buy what the `cart` entity holds.

use interactions::inventory;
use interactions::{
    Draft, Event, EventError, EventKind, Flavour, MapContext, Mapped, Mapper, NoSettings, SchemaKey, id_of,
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

fn view_item<'a>(event: &Event<'a>, _: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
    let Some(entity) = event.unstruct(&VIEW_ITEM)? else {
        return Ok(Mapped::Skip(NO_VIEW_ITEM_ENTITY));
    };
    // Data is an object or null; an object, even an empty one, is truthy. Of a repeated key the last
    // wins, as in the seed.
    let mut id = None;
    if !entity.read_data(|key, value| {
        if key == "item_id" {
            id = id_of(value);
        }
    }) {
        return Ok(Mapped::Skip(VIEW_ITEM_NO_DATA));
    }
    Ok(Mapped::Draft(Draft::new(EventKind::View, id.into_iter().collect())))
}

/// Reads the first cart entity: the seed's `cart.items_in_cart` on the array of carts was always
/// undefined, so every order was skipped (FIX-1).
fn create_order<'a>(event: &Event<'a>, _: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
    let carts = event.context(&CART)?;
    let Some(cart) = carts.first() else {
        return Ok(Mapped::Skip(NO_CART_ENTITY));
    };
    // The cart is read on demand, item ids and nothing else, rather than as a tree. `items_in_cart`
    // ends up absent or falsy (`None`), truthy but not an array (`Some(None)`), or the items' ids.
    let mut items = None;
    let object = cart.read_data(|key, mut value| {
        if key != "items_in_cart" {
            return;
        }
        items = if value.is_array() {
            let mut ids = Vec::new();
            value.items(|item| {
                let mut id = None;
                item.entries(|key, value| {
                    if key == "item_id" {
                        id = id_of(value);
                    }
                });
                ids.extend(id);
            });
            Some(Some(ids))
        } else {
            value.loose().is_truthy().then_some(None)
        };
    });
    // Cart data that is not an object is null, which is falsy.
    if !object {
        return Ok(Mapped::Skip(NO_CART_ENTITY));
    }
    match items {
        None => Ok(Mapped::Skip(NO_ITEMS_IN_CART)),
        Some(None) => Ok(Mapped::Skip(ITEMS_NOT_AN_ARRAY)),
        Some(Some(ids)) => Ok(Mapped::Draft(Draft::new(EventKind::Purchase, ids))),
    }
}
