//! Classic Snowplow ecommerce: each `transaction_item` event is the purchase of one item, its SKU in
//! the atomic field `ti_sku`.

use interactions::inventory;
use interactions::{Draft, Event, EventError, EventKind, Field, Flavour, MapContext, Mapped, Mapper, NoSettings};

inventory::submit! {
    Flavour {
        name: "classic-ecommerce",
        summary: "classic Snowplow ecommerce: transaction_item → Purchase of ti_sku",
        skips: &[],
        configure: interactions::parse_flavour_settings::<NoSettings>,
    }
}

inventory::submit! {
    Mapper { flavour: "classic-ecommerce", event_name: "transaction_item", map: transaction_item }
}

fn transaction_item<'a>(event: &Event<'a>, _: &MapContext<'_>) -> Result<Mapped<'a>, EventError> {
    let sku = event.str(Field::TiSku)?;
    Ok(Mapped::Draft(Draft::new(EventKind::Purchase, sku.into_iter().map(Into::into).collect())))
}
