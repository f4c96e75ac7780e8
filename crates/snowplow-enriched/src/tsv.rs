//! Writing enriched events: the inverse of [`crate::Event::parse`], for fixtures and generated corpora.

use serde_json::{Map, Value};

use crate::fields::{FIELD_COUNT, Field};

/// Why a field map cannot become a TSV line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("{0:?} is not an enriched-event field")]
    UnknownField(String),
    #[error("field {0} holds a tab or a line break, which would split the event")]
    Separator(Field),
    #[error("field {0} cannot be written as Latin-1: {1}")]
    Latin1(Field, &'static str),
    #[error("{0}")]
    Directive(String),
}

/// Builds one TSV line (without a newline) from a map of field name to value.
///
/// Strings are written as they are; objects and arrays (the entity fields) as compact JSON; numbers
/// and booleans as their JSON text; null and absent fields stay empty. Two directives let fixtures
/// describe broken input: `"$field_count": N` writes N fields instead of 131 (dropping or padding at
/// the end), and `"$latin1": ["page_title", …]` writes those fields' text as Latin-1, which is invalid
/// UTF-8 wherever it holds a character above U+007F.
pub fn line_from_fields(map: &Map<String, Value>) -> Result<Vec<u8>, WriteError> {
    let mut fields: Vec<Vec<u8>> = vec![Vec::new(); FIELD_COUNT];
    let mut count = FIELD_COUNT;
    let mut latin1: Vec<Field> = Vec::new();
    for (name, value) in map {
        match name.as_str() {
            "$field_count" => {
                count = value
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| WriteError::Directive("$field_count must be a positive integer".into()))?;
            }
            "$latin1" => {
                let names = value
                    .as_array()
                    .ok_or_else(|| WriteError::Directive("$latin1 must be an array of field names".into()))?;
                for n in names {
                    let n = n.as_str().unwrap_or_default();
                    latin1.push(Field::from_name(n).ok_or_else(|| WriteError::UnknownField(n.to_owned()))?);
                }
            }
            _ => {
                let field = Field::from_name(name).ok_or_else(|| WriteError::UnknownField(name.clone()))?;
                let text = match value {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if text.contains(['\t', '\n', '\r']) {
                    return Err(WriteError::Separator(field));
                }
                fields[field.index()] = text.into_bytes();
            }
        }
    }
    for field in latin1 {
        let text = String::from_utf8(std::mem::take(&mut fields[field.index()])).unwrap_or_default();
        fields[field.index()] = text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| WriteError::Latin1(field, "a character above U+00FF")))
            .collect::<Result<_, _>>()?;
    }
    fields.resize(count, Vec::new());
    Ok(fields.join(&b'\t'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn map(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn round_trips_through_the_parser() {
        let line = line_from_fields(&map(
            r#"{"event_name":"view_item","txn_id":42,"contexts":{"schema":"s","data":[]},"page_title":"Tee"}"#,
        ))
        .unwrap();
        let event = Event::parse(&line).unwrap();
        assert_eq!(event.str(Field::EventName).unwrap(), Some("view_item"));
        assert_eq!(event.int(Field::TxnId).unwrap(), Some(42));
        assert_eq!(event.str(Field::Contexts).unwrap(), Some(r#"{"data":[],"schema":"s"}"#));
    }

    #[test]
    fn directives_describe_broken_input() {
        let line = line_from_fields(&map(r#"{"$field_count":3,"app_id":"a"}"#)).unwrap();
        assert_eq!(line, b"a\t\t");
        let line = line_from_fields(&map(r#"{"$latin1":["page_title"],"page_title":"café"}"#)).unwrap();
        let event = Event::parse(&line).unwrap();
        assert!(event.str(Field::PageTitle).is_err());
        assert!(line_from_fields(&map(r#"{"nope":1}"#)).is_err());
        assert!(line_from_fields(&map(r#"{"app_id":"a\tb"}"#)).is_err());
    }
}
