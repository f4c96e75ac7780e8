//! Self-describing entities: the `{schema, data}` pairs inside `contexts`, `derived_contexts` and
//! `unstruct_event`.
//!
//! Envelopes are parsed only as deep as needed: each entity's `data` stays raw JSON until a mapper asks
//! for it, so an event pays for the entities it reads and not for the user-agent or geo contexts it
//! carries beside them. Envelope keys match case-insensitively and unknown keys are ignored, as in the
//! Go Analytics SDK.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::iglu::{IgluUri, SchemaKey};
use crate::loose::{DataValue, Loose, deserialize_cow_str};
use crate::scan;

/// One self-describing entity.
#[derive(Debug, Clone)]
pub struct Entity<'a> {
    schema: Cow<'a, str>,
    /// Valid JSON text.
    data: &'a str,
}

impl<'a> Entity<'a> {
    pub(crate) fn new(schema: Cow<'a, str>, data: &'a str) -> Entity<'a> {
        Entity { schema, data }
    }

    /// The entity's schema URI as written (it may not be a valid Iglu URI).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The parsed schema URI, or `None` when it is not a valid Iglu URI.
    pub fn uri(&self) -> Option<IgluUri<'_>> {
        IgluUri::parse(&self.schema)
    }

    /// Whether the entity's schema has this vendor, name and model.
    #[inline]
    pub fn is(&self, key: &SchemaKey<'_>) -> bool {
        key.matches(&self.schema)
    }

    /// The entity's data as raw JSON text (`null` when the entity has none).
    pub fn raw_data(&self) -> &'a str {
        self.data
    }

    /// `data().get(key)`: the value of `key` when the data is an object holding it, read without building
    /// a tree of the rest (a mapper that wants a product's id does not pay for its name and price).
    pub fn data_get(&self, key: &str) -> Option<Loose<'a>> {
        match crate::loose::Quick::get(self.data, key) {
            Some(found) => found,
            None => self.data().get(key).cloned(),
        }
    }

    /// Reads the data object on demand: `entry` is called with each key and its value in order, reads
    /// what it needs of the value, and the rest is passed over (see [`DataValue`]). `false`, with
    /// nothing read, when the data is not an object (it is then null).
    pub fn read_data(&self, entry: impl FnMut(&str, DataValue<'_, 'a>)) -> bool {
        crate::loose::read(self.data, |data| data.entries(entry))
    }

    /// The entity's data as a lenient borrowed tree.
    pub fn data(&self) -> Loose<'a> {
        // The envelope parse validated this text as JSON without a depth limit (as serde_json does
        // when it passes over a value), so only nesting past serde_json's recursion limit can fail
        // here; such data reads as null, which keeps this total.
        Loose::parse(self.data).unwrap_or(Loose::Null)
    }
}

/// What is wrong with an envelope; [`crate::EventError`] adds the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvelopeError(pub(crate) String);

/// Parses a `contexts` or `derived_contexts` field. `null`, `{}` and an absent or null `data` mean no
/// entities; anything else must be an array of objects whose `schema` is a string.
pub(crate) fn parse_contexts(text: &str) -> Result<Vec<Entity<'_>>, EnvelopeError> {
    if let Some(entities) = scan::contexts(text) {
        return Ok(entities);
    }
    // The slow path decides what the scanner left to it, and names the error when there is one.
    serde_contexts(text)
}

fn serde_contexts(text: &str) -> Result<Vec<Entity<'_>>, EnvelopeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let entities = de.deserialize_option(OptionalEnvelope(ContextsSeed)).map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(entities.unwrap_or_default())
}

/// Parses an `unstruct_event` field into its inner entity. The outer `data` must be an object with a
/// string `schema`.
pub(crate) fn parse_unstruct(text: &str) -> Result<Entity<'_>, EnvelopeError> {
    let inner = match scan::unstruct(text) {
        Some(inner) => inner,
        None => serde_unstruct(text)?,
    };
    inner.ok_or_else(|| EnvelopeError("unstruct_event has no inner {schema, data} object".into()))
}

fn serde_unstruct(text: &str) -> Result<Option<Entity<'_>>, EnvelopeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let inner = de.deserialize_option(OptionalEnvelope(UnstructSeed)).map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(inner.flatten())
}

/// For tests and fuzzing: panics unless the fast scanner agrees with serde_json on `text`, read both
/// as a contexts field and as an `unstruct_event` field (the scanner may leave text to serde_json, but
/// when it answers, it must answer what serde_json does), and unless [`Entity::data_get`] agrees with
/// [`Entity::data`] on the entities found.
#[doc(hidden)]
pub fn assert_envelope_paths_agree(text: &str) {
    fn view<'e>(entities: impl IntoIterator<Item = &'e Entity<'e>>) -> Vec<(&'e str, &'e str)> {
        entities.into_iter().map(|e| (e.schema(), e.raw_data())).collect()
    }
    // Reading one key of an entity's data answers what reading the whole tree does.
    fn lookups_agree(entities: &[Entity<'_>]) {
        for entity in entities {
            let tree = entity.data();
            let keys = match &tree {
                Loose::Object(entries) => entries.iter().map(|(k, _)| k.as_ref()).collect(),
                _ => Vec::new(),
            };
            for key in keys.into_iter().chain(["id", "missing"]) {
                let expected = format!("{:?}", tree.get(key));
                assert_eq!(format!("{:?}", entity.data_get(key).as_ref()), expected, "{key:?} in {:?}", entity.data);
            }
        }
    }
    if let Ok(entities) = parse_contexts(text) {
        lookups_agree(&entities);
    }
    if let Ok(entity) = parse_unstruct(text) {
        lookups_agree(&[entity]);
    }
    if let Some(fast) = scan::contexts(text) {
        match serde_contexts(text) {
            Ok(slow) => assert_eq!(view(&fast), view(&slow), "contexts {text:?}"),
            Err(e) => panic!("the scanner accepts contexts that serde_json rejects ({}): {text:?}", e.0),
        }
    }
    if let Some(fast) = scan::unstruct(text) {
        match serde_unstruct(text) {
            Ok(slow) => assert_eq!(view(&fast), view(&slow), "unstruct_event {text:?}"),
            Err(e) => panic!("the scanner accepts an unstruct_event that serde_json rejects ({}): {text:?}", e.0),
        }
    }
}

fn json_error(e: serde_json::Error) -> EnvelopeError {
    EnvelopeError(e.to_string())
}

/// `null` or an envelope.
struct OptionalEnvelope<S>(S);

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for OptionalEnvelope<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an envelope object or null")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// An envelope's `schema` and `data`, each absent when the object lacks it.
type EnvelopeParts<'de, T> = (Option<Cow<'de, str>>, Option<T>);

/// Walks an object's keys, matching `schema` and `data` case-insensitively; the last occurrence wins.
fn envelope_keys<'de, A, T>(
    mut map: A,
    mut on_data: impl FnMut(&mut A) -> Result<T, A::Error>,
) -> Result<EnvelopeParts<'de, T>, A::Error>
where
    A: MapAccess<'de>,
{
    let (mut schema, mut data) = (None, None);
    while let Some(key) = map.next_key::<KeyName>()? {
        match key {
            KeyName::Schema => {
                schema = map.next_value_seed(OptionalString)?;
            }
            KeyName::Data => data = Some(on_data(&mut map)?),
            KeyName::Other => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok((schema, data))
}

#[derive(Clone, Copy)]
struct ContextsSeed;

impl<'de> DeserializeSeed<'de> for ContextsSeed {
    type Value = Vec<Entity<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ContextsSeed {
    type Value = Vec<Entity<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a contexts object {"schema":…,"data":[…]}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let (_, data) = envelope_keys(map, |m| m.next_value_seed(OptionalEnvelope(EntityList)))?;
        Ok(data.flatten().unwrap_or_default())
    }
}

impl<'de> DeserializeSeed<'de> for OptionalEnvelope<EntityList> {
    type Value = Option<Vec<Entity<'de>>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

#[derive(Clone, Copy)]
struct EntityList;

impl<'de> DeserializeSeed<'de> for EntityList {
    type Value = Vec<Entity<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntityList {
    type Value = Vec<Entity<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of {schema, data} objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(entity) = seq.next_element_seed(EntitySeed)? {
            out.push(entity);
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
struct EntitySeed;

impl<'de> DeserializeSeed<'de> for EntitySeed {
    type Value = Entity<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntitySeed {
    type Value = Entity<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a {schema, data} object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let (schema, data) = envelope_keys(map, |m| m.next_value::<&'de RawValue>())?;
        Ok(Entity::new(schema.unwrap_or(Cow::Borrowed("")), data.map_or("null", RawValue::get)))
    }
}

#[derive(Clone, Copy)]
struct UnstructSeed;

impl<'de> DeserializeSeed<'de> for UnstructSeed {
    type Value = Option<Entity<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UnstructSeed {
    type Value = Option<Entity<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an unstruct_event object {"schema":…,"data":{schema, data}}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let (_, data) = envelope_keys(map, |m| m.next_value_seed(OptionalEntity))?;
        Ok(data.flatten())
    }
}

#[derive(Clone, Copy)]
struct OptionalEntity;

impl<'de> DeserializeSeed<'de> for OptionalEntity {
    type Value = Option<Entity<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(OptionalEnvelope(EntitySeed))
    }
}

enum KeyName {
    Schema,
    Data,
    Other,
}

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = deserialize_cow_str(d)?;
        Ok(if key.eq_ignore_ascii_case("schema") {
            KeyName::Schema
        } else if key.eq_ignore_ascii_case("data") {
            KeyName::Data
        } else {
            KeyName::Other
        })
    }
}

/// A string or null (null reads as absent, as Go leaves the field empty).
struct OptionalString;

impl<'de> DeserializeSeed<'de> for OptionalString {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<Cow<'de, str>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a schema string")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                deserialize_cow_str(d).map(Some)
            }
        }
        d.deserialize_option(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_envelopes() {
        let text = r#"{"schema":"iglu:com.snowplowanalytics.snowplow\/contexts\/jsonschema\/1-0-0","data":[
            {"schema":"iglu:a.b/c/jsonschema/1-0-0","data":{"k":1}},
            {"SCHEMA":"iglu:a.b/d/jsonschema/1-0-0","Data":[1,2],"extra":true},
            {"schema":"iglu:a.b/e/jsonschema/1-0-0"}]}"#;
        let entities = parse_contexts(text).unwrap();
        let seen: Vec<_> = entities.iter().map(|e| (e.schema(), e.raw_data())).collect();
        assert_eq!(
            seen,
            [
                ("iglu:a.b/c/jsonschema/1-0-0", r#"{"k":1}"#),
                ("iglu:a.b/d/jsonschema/1-0-0", "[1,2]"),
                ("iglu:a.b/e/jsonschema/1-0-0", "null"),
            ]
        );
        for empty in ["null", "{}", r#"{"data":null}"#, r#"{"data":[]}"#] {
            assert!(parse_contexts(empty).unwrap().is_empty(), "{empty}");
        }
        for bad in [
            "",
            "[",
            r#"{"data":[{"#,
            r#"{"data":{}}"#,
            r#"{"data":[1]}"#,
            r#"{"data":[{"schema":1}]}"#,
            "{} trailing",
            "[]",
        ] {
            assert!(parse_contexts(bad).is_err(), "{bad}");
        }
    }

    /// Valid envelopes that exercise every JSON form the scanner passes over.
    const VALID: &[&str] = &[
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:a.b/c/jsonschema/1-0-0","data":{"id":"x\"y\\z\u00e9\/","n":-0.5e+3,"m":[1,0,-2,3.25,1E9,true,false,null,[],{},[{}]],"o":{"p":{"q":[["deep"]]}},"s":"a long string with no escapes that spans more than one sixteen-byte block"}},{"Schema":null,"DATA":"text","other":[1,{"x":2}]},{"schema":"iglu:a.b/e/jsonschema/1-0-0"}]}"#,
        " { \"data\" : [ { \"schema\" : \"iglu:a/b/jsonschema/1-0-0\" , \"data\" : [ 1 , 2 ] } ] , \"data2\" : 0 } \n",
        r#"{"schema":"x","data":{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"k":"v","u":"\ud83d\ude00"}}}"#,
        r#"{"schema":"iglu:x\/y","data":[{"schema":"iglu:a.b\/c\/jsonschema\/1-0-0","data":1}],"data":[]}"#,
        // Enrich's own layout, keys in order: read by the scanner's compact path at every level.
        r#"{"data":[{"data":{"id":"a","n":[1,{"k":null}],"u":"https://e.com/a?b=c"},"schema":"iglu:a.b/c/jsonschema/1-0-0"},{"data":null,"schema":"iglu:a.b/d/jsonschema/1-0-0"}],"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"}"#,
        r#"{"data":{"data":{"elementId":"x","targetUrl":"https://e.com/a"},"schema":"iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"},"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"}"#,
        "null",
        r#"{"data":[{"schema":"iglu:a/b/jsonschema/1-0-0","data":{ "id" : 1 , "x" : { "id" : [2, {"id":3}] } , "id" : "last" , "t":true }},{"data":{"a\"b":1,"id":2}}]}"#,
        // Without a backslash, so that every stop is a quote: runs of string entries, taken by the
        // scanner's shortcut, across the stop masks' words, broken by other values and ending objects.
        r#"{"data":[{"data":{"a":"","":"b","osFamily":"Mac OS X","osMajor":"10","o":{"k":"v","l":"w"},"n":1,"x":"y","p":null,"useragentFamily":"Chrome","s":"a long value that runs across the boundary of a sixty-four byte word","t":"u"},"schema":"iglu:a.b/c/jsonschema/1-0-0"}],"schema":"iglu:x/y/jsonschema/1-0-1"}"#,
    ];

    #[test]
    fn the_scanner_reads_common_envelopes_itself() {
        for text in VALID.iter().take(6) {
            assert!(scan::contexts(text).is_some() || scan::unstruct(text).is_some(), "{text}");
            assert_envelope_paths_agree(text);
        }
        assert_eq!(scan::contexts(VALID[3]).map(|e| e.len()), Some(0));
        // Texts of many stop-mask words, envelope and data alike.
        let entity =
            r#"{"data":{"k":"a \"quoted\" value","n":[1,2,{"x":null}]},"schema":"iglu:a.b/c/jsonschema/1-0-0"}"#;
        let long = format!(r#"{{"data":[{}],"schema":"iglu:x/y/jsonschema/1-0-0"}}"#, vec![entity; 40].join(","));
        assert!(long.len() > 2048);
        assert_eq!(scan::contexts(&long).map(|e| e.len()), Some(40));
        assert_envelope_paths_agree(&long);
        crate::loose::assert_loose_paths_agree(&format!(r#"{{"list":[{}]}}"#, vec![entity; 40].join(",")));
    }

    #[test]
    fn the_scanner_agrees_with_serde_json_on_every_small_corruption() {
        for text in VALID {
            for variant in crate::testing::corruptions(text) {
                assert_envelope_paths_agree(&variant);
            }
        }
    }

    #[test]
    fn unstruct_envelopes() {
        let e =
            parse_unstruct(r#"{"schema":"x","data":{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"k":"v"}}}"#).unwrap();
        assert_eq!(e.schema(), "iglu:a/b/jsonschema/1-0-0");
        assert_eq!(e.data().get("k").and_then(Loose::as_str), Some("v"));
        let e = parse_unstruct(r#"{"data":{"schema":"iglu:a/b/jsonschema/1-0-0"}}"#).unwrap();
        assert_eq!(e.raw_data(), "null");
        for bad in ["{}", "null", r#"{"data":null}"#, r#"{"data":"str"}"#, r#"{"data":{}"#] {
            assert!(parse_unstruct(bad).is_err(), "{bad}");
        }
    }
}
