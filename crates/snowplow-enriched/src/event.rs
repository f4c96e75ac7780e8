//! One enriched event as a borrowed view of its 131 fields.

use std::cell::{OnceCell, Ref};

use crate::entity::{self, Entity};
use crate::fields::{FIELD_COUNT, Field};
use crate::iglu::SchemaKey;
use crate::line::Line;
use crate::timestamp::Timestamp;
use crate::{simd, tabs};

/// What is wrong with an event, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("expected {FIELD_COUNT} tab-separated fields, found {found}")]
    FieldCount { found: usize },
    #[error("the line is {len} bytes long; an event's fields are addressed with 32 bits")]
    LineTooLong { len: usize },
    #[error("field {field} is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 { field: Field, offset: usize },
    #[error("field {field}: {value:?} is not {expected}")]
    InvalidValue { field: Field, value: String, expected: &'static str },
    #[error("field {field}: {value:?} is not a timestamp: {reason}")]
    InvalidTimestamp { field: Field, value: String, reason: &'static str },
    #[error("field {field}: {detail}")]
    InvalidEnvelope { field: Field, detail: String },
    #[error("field {field}: entity {index} has schema {schema:?}, which is not an Iglu URI")]
    InvalidSchema { field: Field, index: usize, schema: String },
    #[error("field {field}: entity {index} ({schema}) has data that is neither an object nor null")]
    DataNotObject { field: Field, index: usize, schema: String },
}

/// Field values are echoed in errors to say what was wrong; long ones are cut so a bad row stays
/// readable.
pub(crate) fn excerpt(raw: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(raw);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// An enriched event: 131 borrowed fields, each parsed only when asked for.
///
/// Entity fields (`contexts`, `derived_contexts`, `unstruct_event`) are parsed at most once, on first
/// access, and the result (or the error) is kept for later lookups.
#[derive(Debug)]
pub struct Event<'a> {
    line: &'a [u8],
    /// Where each field ends: the tabs in order, then the end of the line. A position takes a quarter of
    /// the room of a slice, and writing them is most of the cost of splitting a line.
    ends: Ends<'a>,
    /// Whether every byte of the line is known to be ASCII, so that every field is text as it is.
    ascii: bool,
    contexts: OnceCell<Result<Vec<Entity<'a>>, EventError>>,
    derived_contexts: OnceCell<Result<Vec<Entity<'a>>, EventError>>,
    unstruct: OnceCell<Result<Option<Entity<'a>>, EventError>>,
}

/// An event's field ends: found by splitting its line, or lent by the reader that wrote them down as it
/// found the line ([`Line::first_in`]). Copying those into the event took a `memmove` of 584 bytes
/// for every kept line whose positions were written as it was found: 78 MB in 133,000 calls on the
/// uniform benchmark corpus, and 0.5% of a one-thread run's time (alternating medians of 31).
#[derive(Debug)]
// An event lives on the stack; boxing the ends it found itself would allocate for each.
#[allow(clippy::large_enum_variant)]
enum Ends<'a> {
    /// The slots past the last field's are room for [`simd::tab_positions`] to write past a line's
    /// last tab.
    Own([u32; ENDS]),
    /// Borrowed for as long as the event lives; the reader finds the lines after it without writing
    /// positions down meanwhile.
    Lent(Ref<'a, [u32; ENDS]>),
}

/// The length of [`Event`]'s field ends: the positions of a line's 130 tabs, then its end, and room
/// for [`simd::tab_positions`] to write past the last tab.
pub(crate) const ENDS: usize = FIELD_COUNT - 1 + simd::POSITIONS_SLACK;

impl<'a> Event<'a> {
    /// Splits one line (without its newline; a trailing `\r` is tolerated) into its fields.
    pub fn parse(line: &'a [u8]) -> Result<Event<'a>, EventError> {
        let mut event = Event::unsplit(line);
        event.split()?;
        Ok(event)
    }

    /// [`Event::parse`] of a line a reader found, handing the event to `read` where it was split. An
    /// event returned by value is copied out, and its field ends take 584 bytes; on the hot path,
    /// where every kept line is parsed, that copy was 1.5% of a uniform run. Where the line's tab
    /// positions were written down as it was found ([`Line::first_in`]), they are taken as they are.
    #[inline(always)]
    pub fn parse_line<R>(line: Line<'a>, read: impl FnOnce(Result<&Event<'a>, EventError>) -> R) -> R {
        line.note_split();
        // The line's end is among the positions written down (a line too long for that has none).
        if let Some(ends) = line.tab_positions() {
            let mut event = Event::unsplit_with(line.bytes(), Ends::Lent(ends));
            event.ascii = line.known_ascii();
            return read(Ok(&event));
        }
        let mut event = Event::unsplit(line.bytes());
        match event.split() {
            Ok(()) => read(Ok(&event)),
            Err(error) => read(Err(error)),
        }
    }

    /// The event of `line`, stripped of its line ending, before its fields are found.
    #[inline(always)]
    fn unsplit(line: &'a [u8]) -> Event<'a> {
        Event::unsplit_with(line, Ends::Own([0; ENDS]))
    }

    /// [`Event::unsplit`] with its field ends as given.
    #[inline(always)]
    fn unsplit_with(line: &'a [u8], ends: Ends<'a>) -> Event<'a> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Event {
            line,
            ends,
            ascii: false,
            contexts: OnceCell::new(),
            derived_contexts: OnceCell::new(),
            unstruct: OnceCell::new(),
        }
    }

    /// Finds where each field ends.
    #[inline(always)]
    fn split(&mut self) -> Result<(), EventError> {
        let line = self.line;
        let Ok(len) = u32::try_from(line.len()) else {
            return Err(EventError::LineTooLong { len: line.len() });
        };
        // Lent ends were found with the line.
        let Ends::Own(ends) = &mut self.ends else { return Ok(()) };
        let Some(found) = simd::tab_positions(line, ends) else {
            return Err(EventError::FieldCount { found: tabs::count(line) + 1 });
        };
        if found.tabs + 1 != FIELD_COUNT {
            return Err(EventError::FieldCount { found: found.tabs + 1 });
        }
        ends[found.tabs] = len;
        self.ascii = found.ascii;
        Ok(())
    }

    /// The field's bytes, empty when the field is absent.
    pub fn raw(&self, field: Field) -> &'a [u8] {
        let ends: &[u32; ENDS] = match &self.ends {
            Ends::Own(ends) => ends,
            Ends::Lent(ends) => ends,
        };
        let index = field.index();
        let start = match index {
            0 => 0,
            _ => ends[index - 1] as usize + 1,
        };
        &self.line[start..ends[index] as usize]
    }

    /// The field as text, `None` when it is empty.
    pub fn str(&self, field: Field) -> Result<Option<&'a str>, EventError> {
        let raw = self.raw(field);
        if raw.is_empty() {
            return Ok(None);
        }
        // Nearly every line is all ASCII, and where the CPU has AVX-512 that was seen as it was split
        // (see `simd::Positions`), so that a kept event's ~1.4 KB of entity JSON is not read again.
        if self.ascii {
            // SAFETY: every byte of the line is ASCII, and ASCII is valid UTF-8.
            #[allow(unsafe_code)]
            return Ok(Some(unsafe { std::str::from_utf8_unchecked(raw) }));
        }
        // Otherwise a field that is ASCII is found so at a block a step (see `simd::ascii_str`). Other
        // text goes to simdutf8, 16 or 32 bytes at a time; its error does not say where, so std's
        // check, which does, runs only when it fails.
        if let Some(text) = simd::ascii_str(raw) {
            return Ok(Some(text));
        }
        match simdutf8::basic::from_utf8(raw) {
            Ok(text) => Ok(Some(text)),
            Err(_) => std::str::from_utf8(raw)
                .map(Some)
                .map_err(|e| EventError::InvalidUtf8 { field, offset: e.valid_up_to() }),
        }
    }

    /// A timestamp field, `None` when it is empty.
    pub fn timestamp(&self, field: Field) -> Result<Option<Timestamp>, EventError> {
        let raw = self.raw(field);
        if raw.is_empty() {
            return Ok(None);
        }
        Timestamp::parse(raw).map(Some).map_err(|e| EventError::InvalidTimestamp {
            field,
            value: excerpt(raw),
            reason: e.0,
        })
    }

    /// An integer field (an optional sign and decimal digits), `None` when it is empty.
    pub fn int(&self, field: Field) -> Result<Option<i64>, EventError> {
        self.typed(field, "an integer", |s| s.parse().ok())
    }

    /// A floating-point field, `None` when it is empty. NaN and infinities are rejected because JSON
    /// cannot carry them.
    pub fn double(&self, field: Field) -> Result<Option<f64>, EventError> {
        self.typed(field, "a finite number", |s| s.parse::<f64>().ok().filter(|f| f.is_finite()))
    }

    /// A boolean field in any of the spellings Go's `strconv.ParseBool` accepts (`1`, `t`, `true`, …),
    /// `None` when it is empty.
    pub fn bool(&self, field: Field) -> Result<Option<bool>, EventError> {
        self.typed(field, "a boolean", |s| match s {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => None,
        })
    }

    fn typed<T>(
        &self,
        field: Field,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, EventError> {
        let invalid = || EventError::InvalidValue { field, value: excerpt(self.raw(field)), expected };
        match self.str(field) {
            Ok(None) => Ok(None),
            Ok(Some(text)) => parse(text).map(Some).ok_or_else(invalid),
            Err(EventError::InvalidUtf8 { .. }) => Err(invalid()),
            Err(e) => Err(e),
        }
    }

    /// The entities of the `contexts` field, in order.
    pub fn contexts(&self) -> Result<&[Entity<'a>], EventError> {
        self.entity_list(Field::Contexts, &self.contexts)
    }

    /// The entities of the `derived_contexts` field, in order.
    pub fn derived_contexts(&self) -> Result<&[Entity<'a>], EventError> {
        self.entity_list(Field::DerivedContexts, &self.derived_contexts)
    }

    fn entity_list<'s>(
        &'s self,
        field: Field,
        cell: &'s OnceCell<Result<Vec<Entity<'a>>, EventError>>,
    ) -> Result<&'s [Entity<'a>], EventError> {
        let parsed = cell.get_or_init(|| match self.str(field)? {
            None => Ok(Vec::new()),
            Some(text) => entity::parse_contexts(text).map_err(|e| EventError::InvalidEnvelope { field, detail: e.0 }),
        });
        parsed.as_deref().map_err(Clone::clone)
    }

    /// The self-describing event inside `unstruct_event`, `None` when the field is empty.
    pub fn unstruct_event(&self) -> Result<Option<&Entity<'a>>, EventError> {
        let field = Field::UnstructEvent;
        let parsed = self.unstruct.get_or_init(|| match self.str(field)? {
            None => Ok(None),
            Some(text) => {
                entity::parse_unstruct(text).map(Some).map_err(|e| EventError::InvalidEnvelope { field, detail: e.0 })
            }
        });
        parsed.as_ref().map(Option::as_ref).map_err(Clone::clone)
    }

    /// The context entities with this vendor, name and model, as the Analytics SDKs present them: the
    /// ones in `derived_contexts` when there are any (enrichment output replaces what the tracker sent
    /// under the same key), otherwise the ones in `contexts`.
    pub fn context(&self, key: &SchemaKey<'_>) -> Result<Vec<&Entity<'a>>, EventError> {
        let derived: Vec<_> = self.derived_contexts()?.iter().filter(|e| e.is(key)).collect();
        if !derived.is_empty() {
            return Ok(derived);
        }
        Ok(self.contexts()?.iter().filter(|e| e.is(key)).collect())
    }

    /// The self-describing event when its schema has this vendor, name and model.
    pub fn unstruct(&self, key: &SchemaKey<'_>) -> Result<Option<&Entity<'a>>, EventError> {
        Ok(self.unstruct_event()?.filter(|e| e.is(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::peek_field;

    fn line(set: &[(Field, &str)]) -> String {
        let mut fields = vec![""; FIELD_COUNT];
        for (f, v) in set {
            fields[f.index()] = v;
        }
        fields.join("\t")
    }

    #[test]
    fn field_count_is_exact() {
        let ok = line(&[(Field::EventName, "page_view")]);
        assert_eq!(Event::parse(ok.as_bytes()).unwrap().str(Field::EventName).unwrap(), Some("page_view"));
        let with_cr = format!("{ok}\r");
        assert!(Event::parse(with_cr.as_bytes()).is_ok());
        for (text, found) in [(String::new(), 1), (format!("{ok}\tx"), 132), (ok.replacen('\t', "", 1), 130)] {
            assert_eq!(Event::parse(text.as_bytes()).unwrap_err(), EventError::FieldCount { found });
        }
    }

    #[test]
    fn peek_field_agrees_with_parse() {
        // Every field read from a line of these values (in field order), ending as given.
        let agree = |values: Vec<String>, ending: &str| {
            let text = values.join("\t") + ending;
            let event = Event::parse(text.as_bytes()).unwrap();
            for field in Field::ALL {
                assert_eq!(peek_field(text.as_bytes(), field).unwrap(), event.raw(field), "{field} {text:?}");
            }
        };
        agree((0..FIELD_COUNT).map(|i| format!("v{i}")).collect(), "\r");
        // Fields of every length up to a few blocks, so that a field's two tabs fall in the same
        // block, in neighbouring blocks and blocks apart, at every offset.
        for shift in 0..64 {
            agree((0..FIELD_COUNT).map(|i| "x".repeat((i * 37 + shift * 11) % 150)).collect(), "");
            // Mostly empty fields, as most of an event's are: blocks of up to 64 tabs, and every count
            // of tabs a block can hold around them.
            agree((0..FIELD_COUNT).map(|i| "y".repeat(usize::from((i * 13 + shift) % 7 == 0) * (i % 5))).collect(), "");
        }
        agree(vec![String::new(); FIELD_COUNT], "");
        let sparse = line(&[(Field::EventName, "view_item")]);
        assert_eq!(peek_field(sparse.as_bytes(), Field::EventName).unwrap(), b"view_item");
        assert_eq!(peek_field(sparse.as_bytes(), Field::AppId).unwrap(), b"");
        assert_eq!(peek_field(sparse.as_bytes(), Field::TrueTstamp).unwrap(), b"");
        for (bad, found) in [("", 1), ("a\tb", 2)] {
            assert_eq!(peek_field(bad.as_bytes(), Field::EventName).unwrap_err(), EventError::FieldCount { found });
        }
        assert_eq!(
            peek_field(format!("{sparse}\tx").as_bytes(), Field::EventName).unwrap_err(),
            EventError::FieldCount { found: 132 }
        );
    }

    #[test]
    fn invalid_utf8_only_hurts_the_field_it_is_in() {
        let mut bytes = line(&[(Field::EventName, "view_item"), (Field::PageTitle, "X")]).into_bytes();
        let title = bytes.iter().position(|&b| b == b'X').unwrap();
        bytes[title] = 0xff;
        let event = Event::parse(&bytes).unwrap();
        assert_eq!(event.str(Field::EventName).unwrap(), Some("view_item"));
        assert_eq!(
            event.str(Field::PageTitle).unwrap_err().to_string(),
            "field page_title is not valid UTF-8 (invalid byte at offset 0)"
        );
    }

    #[test]
    fn text_fields_short_and_long_are_checked_as_utf8() {
        // Short fields that are all ASCII take a shortcut; the rest, and every long field, the full check.
        let long = "é".repeat(40);
        let fields = [(Field::AppId, "P1"), (Field::PageTitle, "café"), (Field::PageUrlpath, long.as_str())];
        let text = line(&fields);
        let event = Event::parse(text.as_bytes()).unwrap();
        for (field, value) in fields {
            assert_eq!(event.str(field).unwrap(), Some(value));
        }
        // Invalid bytes in a short field, at the end of a long one (a sequence cut short), and in a
        // short field that is not ASCII.
        let long = [&[b'a'; 70][..], b"\xc3"].concat();
        for (value, offset) in [(&b"ab\x80"[..], 2), (&long[..], 70), (&b"\xe9t\xe9"[..], 0)] {
            let mut bytes = line(&[(Field::PageTitle, "T")]).into_bytes();
            let at = bytes.iter().position(|&b| b == b'T').unwrap();
            bytes.splice(at..=at, value.iter().copied());
            let event = Event::parse(&bytes).unwrap();
            assert_eq!(event.str(Field::PageTitle), Err(EventError::InvalidUtf8 { field: Field::PageTitle, offset }));
        }
    }

    #[test]
    fn typed_fields() {
        let text = line(&[
            (Field::TxnId, "0042"),
            (Field::PageUrlport, "+80"),
            (Field::TiQuantity, "1.5"),
            (Field::GeoLatitude, "51.50"),
            (Field::TrTotal, "NaN"),
            (Field::BrCookies, "T"),
            (Field::DvceIsmobile, "yes"),
            (Field::CollectorTstamp, "2024-05-01 10:15:02.001"),
            (Field::DerivedTstamp, "2024-05-01T10:15:02Z"),
        ]);
        let e = Event::parse(text.as_bytes()).unwrap();
        assert_eq!(e.int(Field::TxnId).unwrap(), Some(42));
        assert_eq!(e.int(Field::PageUrlport).unwrap(), Some(80));
        assert_eq!(e.int(Field::DomainSessionidx).unwrap(), None);
        assert_eq!(e.int(Field::TiQuantity).unwrap_err().to_string(), r#"field ti_quantity: "1.5" is not an integer"#);
        assert_eq!(e.double(Field::GeoLatitude).unwrap(), Some(51.5));
        assert!(e.double(Field::TrTotal).is_err());
        assert_eq!(e.bool(Field::BrCookies).unwrap(), Some(true));
        assert!(e.bool(Field::DvceIsmobile).is_err());
        assert_eq!(e.timestamp(Field::CollectorTstamp).unwrap().unwrap().epoch_millis(), 1_714_558_502_001);
        assert_eq!(
            e.timestamp(Field::DerivedTstamp).unwrap_err().to_string(),
            r#"field derived_tstamp: "2024-05-01T10:15:02Z" is not a timestamp: expected YYYY-MM-DD hh:mm:ss[.fraction]"#
        );
    }

    #[test]
    fn derived_contexts_replace_contexts_under_the_same_key() {
        let ctx = |entities: &str| {
            format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{entities}]}}"#
            )
        };
        let a = r#"{"schema":"iglu:x.y/a/jsonschema/1-0-0","data":{"n":1}}"#;
        let a2 = r#"{"schema":"iglu:x.y/a/jsonschema/1-0-1","data":{"n":2}}"#;
        let b = r#"{"schema":"iglu:x.y/b/jsonschema/1-0-0","data":{"n":3}}"#;
        let text = line(&[(Field::Contexts, &ctx(&format!("{a},{b},{a2}"))), (Field::DerivedContexts, &ctx(b))]);
        let e = Event::parse(text.as_bytes()).unwrap();
        let n = |key| -> Vec<String> { e.context(&key).unwrap().iter().map(|e| e.raw_data().to_owned()).collect() };
        assert_eq!(n(SchemaKey::new("x.y", "a", 1)), [r#"{"n":1}"#, r#"{"n":2}"#]);
        assert_eq!(n(SchemaKey::new("x.y", "b", 1)), [r#"{"n":3}"#]);
        assert!(n(SchemaKey::new("x.y", "a", 2)).is_empty());
    }

    #[test]
    fn entity_errors_name_the_field_and_are_remembered() {
        let text = line(&[(Field::Contexts, r#"{"data":[{"#), (Field::UnstructEvent, "{}")]);
        let e = Event::parse(text.as_bytes()).unwrap();
        let first = e.contexts().unwrap_err();
        assert!(first.to_string().starts_with("field contexts: "), "{first}");
        assert_eq!(e.contexts().unwrap_err(), first);
        let key = SchemaKey::new("a", "b", 1);
        assert!(e.context(&key).is_err());
        assert!(e.unstruct(&key).unwrap_err().to_string().starts_with("field unstruct_event: "));
    }
}
