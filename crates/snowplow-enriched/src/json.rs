//! The event as the Go Analytics SDK (v0.4) renders it: the JSON that Snowbridge's `spEnrichedToJson`
//! and `snowplow_mode` hand to transforms.
//!
//! Empty fields are left out; typed fields become JSON numbers, booleans and RFC 3339 strings; each
//! entity goes under `contexts_<vendor>_<name>_<model>` (an array of data) or
//! `unstruct_event_<vendor>_<name>_<model>` (the data), where dots in the vendor become underscores,
//! capitals in the name are preceded by an underscore and everything is lower case. The first field
//! that does not parse makes the whole rendering fail, as in the SDK.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::entity::Entity;
use crate::event::{Event, EventError};
use crate::fields::{Field, FieldKind};
use crate::iglu::IgluUri;

impl Event<'_> {
    /// Renders the event as the Go Analytics SDK's `ToJson` does (see the module documentation).
    pub fn to_json(&self) -> Result<Map<String, Value>, EventError> {
        self.render(false)
    }

    /// As [`Event::to_json`], plus `geo_location` (`"<latitude>,<longitude>"` as written in the event)
    /// when both coordinates are present, as the SDK's `ToJsonWithGeo` does.
    pub fn to_json_with_geo(&self) -> Result<Map<String, Value>, EventError> {
        self.render(true)
    }

    fn render(&self, geo: bool) -> Result<Map<String, Value>, EventError> {
        let mut out = Map::new();
        let (lat, lon) = (self.raw(Field::GeoLatitude), self.raw(Field::GeoLongitude));
        if geo && !lat.is_empty() && !lon.is_empty() {
            let location = [lat, lon].join(&b',');
            out.insert("geo_location".to_owned(), String::from_utf8_lossy(&location).into_owned().into());
        }
        for field in Field::ALL {
            let raw = self.raw(field);
            if raw.is_empty() {
                continue;
            }
            let name = field.name().to_owned();
            match field.kind() {
                // Go's encoder writes invalid UTF-8 as U+FFFD rather than failing the event.
                FieldKind::Str => {
                    out.insert(name, Value::String(String::from_utf8_lossy(raw).into_owned()));
                }
                FieldKind::Timestamp => {
                    let ts = self.timestamp(field)?.map(|t| t.to_string());
                    out.insert(name, ts.into());
                }
                FieldKind::Int => {
                    out.insert(name, self.int(field)?.into());
                }
                FieldKind::Double => {
                    out.insert(name, self.double(field)?.into());
                }
                FieldKind::Bool => {
                    out.insert(name, self.bool(field)?.into());
                }
                FieldKind::Contexts => {
                    let entities = if field == Field::Contexts { self.contexts()? } else { self.derived_contexts()? };
                    // Entities of one field that share a key are gathered in order; a key that
                    // `derived_contexts` shares with `contexts` replaces it, as the SDK's map does.
                    let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
                    for (index, entity) in entities.iter().enumerate() {
                        let (key, data) = sdk_entry("contexts", field, index, entity)?;
                        grouped.entry(key).or_default().push(data);
                    }
                    out.extend(grouped.into_iter().map(|(k, v)| (k, Value::Array(v))));
                }
                FieldKind::Unstruct => {
                    if let Some(entity) = self.unstruct_event()? {
                        let (key, data) = sdk_entry("unstruct_event", field, 0, entity)?;
                        out.insert(key, data);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn sdk_entry(prefix: &str, field: Field, index: usize, entity: &Entity<'_>) -> Result<(String, Value), EventError> {
    let uri =
        entity.uri().ok_or_else(|| EventError::InvalidSchema { field, index, schema: entity.schema().to_owned() })?;
    let data: Value = serde_json::from_str(entity.raw_data())
        .map_err(|e| EventError::InvalidEnvelope { field, detail: e.to_string() })?;
    if !(data.is_object() || data.is_null()) {
        return Err(EventError::DataNotObject { field, index, schema: entity.schema().to_owned() });
    }
    Ok((sdk_key(prefix, &uri), data))
}

/// `contexts_com_acme_a_b_test_1` for `iglu:com.acme/ABTest/jsonschema/1-0-0`: the Go SDK's spelling.
pub fn sdk_key(prefix: &str, uri: &IgluUri<'_>) -> String {
    let mut key = String::with_capacity(prefix.len() + uri.vendor.len() + uri.name.len() + 8);
    key.push_str(prefix);
    key.push('_');
    key.extend(uri.vendor.chars().map(|c| if c == '.' { '_' } else { c.to_ascii_lowercase() }));
    key.push('_');
    let mut prev = None;
    for (i, c) in uri.name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && prev != Some('_') {
            key.push('_');
        }
        key.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    key.push('_');
    key.push_str(&uri.model.to_string());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_as_the_go_sdk_spells_them() {
        let key = |uri| sdk_key("contexts", &IgluUri::parse(uri).unwrap());
        assert_eq!(key("iglu:com.acme/ABTest/jsonschema/1-0-0"), "contexts_com_acme_a_b_test_1");
        assert_eq!(
            key("iglu:com.acme.self-desc/my-schema_Name/jsonschema/2-1-0"),
            "contexts_com_acme_self-desc_my-schema_name_2"
        );
        assert_eq!(
            key("iglu:com.google.analytics.enhanced-ecommerce/productFieldObject/jsonschema/1-0-0"),
            "contexts_com_google_analytics_enhanced-ecommerce_product_field_object_1"
        );
    }
}
