//! A borrowed JSON tree for reading entity data leniently.
//!
//! Entities in the wild do not always follow their schemas, and the seed transform reads them the way
//! JavaScript does: a missing key, a key of the wrong type and a non-object all read as "absent" rather
//! than failing the event. [`Loose`] gives mappers that reading without allocating for strings that need
//! no unescaping. Duplicate object keys resolve to the last one, as `JSON.parse` does.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// Any JSON value, borrowing strings from the input where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Loose<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array(Vec<Loose<'a>>),
    Object(Vec<(Cow<'a, str>, Loose<'a>)>),
}

impl<'a> Loose<'a> {
    /// The value of `key` when this is an object holding it (the last one when the key repeats).
    pub fn get(&self, key: &str) -> Option<&Loose<'a>> {
        match self {
            Loose::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, when this is an array.
    pub fn as_array(&self) -> Option<&[Loose<'a>]> {
        match self {
            Loose::Array(items) => Some(items),
            _ => None,
        }
    }

    /// JavaScript truthiness: `null`, `false`, `0`, `NaN` and `""` are falsy; everything else,
    /// empty arrays and objects included, is truthy.
    pub fn is_truthy(&self) -> bool {
        match self {
            Loose::Null => false,
            Loose::Bool(b) => *b,
            Loose::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Loose::Str(s) => !s.is_empty(),
            Loose::Array(_) | Loose::Object(_) => true,
        }
    }

    /// The text JavaScript's `String(value)` gives a string, number or boolean; `None` for null,
    /// arrays and objects, whose JavaScript renderings (`"a,b"`, `"[object Object]"`) are never
    /// meaningful identifiers. A string is borrowed from the JSON text when it is there as it is
    /// (without escapes), as ids nearly always are, so the text can outlive this value.
    pub fn scalar_text(&self) -> Option<Cow<'a, str>> {
        match self {
            Loose::Str(s) => Some(s.clone()),
            Loose::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Loose::Number(n) => Some(Cow::Owned(js_number_text(n))),
            Loose::Null | Loose::Array(_) | Loose::Object(_) => None,
        }
    }

    /// Parses JSON text into a borrowed tree.
    pub fn parse(json: &'a str) -> Result<Loose<'a>, serde_json::Error> {
        match Quick::parse(json) {
            Some(value) => Ok(value),
            None => serde_json::from_str(json),
        }
    }
}

/// For tests and fuzzing: panics unless the quick parser agrees with serde_json on `text`. It may leave
/// text to serde_json, but when it answers, it must answer what serde_json does.
#[doc(hidden)]
pub fn assert_loose_paths_agree(text: &str) {
    if let Some(quick) = Quick::parse(text) {
        match serde_json::from_str::<Loose<'_>>(text) {
            // Debug output tells -0.0 from 0.0 and integers from floats, which `==` does not.
            Ok(slow) => assert_eq!(format!("{quick:?}"), format!("{slow:?}"), "{text:?}"),
            Err(e) => panic!("the quick parser accepts JSON that serde_json rejects ({e}): {text:?}"),
        }
    }
    // On text serde_json reads, the tree rebuilt from what the on-demand reader hands over is its tree.
    if let Ok(slow) = serde_json::from_str::<Loose<'_>>(text) {
        let rebuilt = read(text, rebuild);
        assert_eq!(format!("{rebuilt:?}"), format!("{slow:?}"), "{text:?}");
    }
}

/// The tree of a value, read through [`DataValue`]'s methods.
fn rebuild<'a>(mut value: DataValue<'_, 'a>) -> Loose<'a> {
    if value.is_object() {
        let mut entries = Vec::new();
        value.entries(|key, value| entries.push((Cow::Owned(key.to_owned()), rebuild(value))));
        Loose::Object(entries)
    } else if value.is_array() {
        let mut items = Vec::new();
        value.items(|value| items.push(rebuild(value)));
        Loose::Array(items)
    } else if value.quick.peek() == Some(b'"') {
        value.as_str().map_or(Loose::Null, Loose::Str)
    } else {
        value.loose()
    }
}

/// A parser for what entity data is made of: objects, arrays, strings without escapes, literals and
/// small integers, read in one pass without serde's visitor machinery (a kept event builds a few trees,
/// and through serde_json they were about a tenth of a run's instructions). Other numbers and escaped
/// strings are handed to serde_json one token at a time. It returns `None` for invalid text and for
/// nesting past [`Quick::MAX_DEPTH`], and [`Loose::parse`] then asks serde_json, so that trees and
/// errors are serde_json's; the `quick_parse_agrees_with_serde_json_on_every_small_corruption` test and
/// the `enriched_line` fuzz check hold the two together.
pub(crate) struct Quick<'a> {
    text: &'a str,
    pos: usize,
    /// The text's string stops, found at once (see [`crate::simd::stop_masks`]).
    stops: crate::scan::Stops,
}

impl<'a> Quick<'a> {
    /// Nesting deeper than this is left to serde_json, whose recursion limit (128) decides it.
    const MAX_DEPTH: usize = 64;

    fn new(text: &'a str) -> Quick<'a> {
        Quick { text, pos: 0, stops: crate::scan::Stops::of(text.as_bytes()) }
    }

    fn parse(text: &'a str) -> Option<Loose<'a>> {
        let mut quick = Quick::new(text);
        let value = quick.value(0)?;
        quick.peek().is_none().then_some(value)
    }

    /// The next byte after whitespace, which is skipped.
    fn peek(&mut self) -> Option<u8> {
        crate::scan::next_byte(self.text.as_bytes(), &mut self.pos)
    }

    fn value(&mut self, depth: usize) -> Option<Loose<'a>> {
        if self.peek()? == b'"' {
            return self.string_value().map(Loose::Str);
        }
        let mut value = Loose::Null;
        self.value_into(depth, &mut value)?;
        Some(value)
    }

    /// Reads a value into `slot`, which holds `Loose::Null`. A container's elements are read into
    /// their places in its list rather than returned: a returned tree node was written in pieces and
    /// at once read back whole to be pushed, which the CPU cannot forward from its store buffer, and
    /// those reloads were 40% of this parser's time (perf, uniform).
    fn value_into(&mut self, depth: usize, slot: &mut Loose<'a>) -> Option<()> {
        *slot = match self.peek()? {
            b'{' if depth < Self::MAX_DEPTH => {
                self.pos += 1;
                if self.peek()? == b'}' {
                    self.pos += 1;
                    *slot = Loose::Object(Vec::new());
                    return Some(());
                }
                // Entity objects mostly have several keys: starting at eight spares growing from four.
                let mut entries = Vec::with_capacity(8);
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let (key, escaped) = self.string()?;
                    if escaped || self.peek()? != b':' {
                        return None;
                    }
                    self.pos += 1;
                    entries.push((Cow::Borrowed(key), Loose::Null));
                    let (_, value) = entries.last_mut()?;
                    self.value_into(depth + 1, value)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b'}' => {
                            self.pos += 1;
                            break Loose::Object(entries);
                        }
                        _ => return None,
                    }
                }
            }
            b'[' if depth < Self::MAX_DEPTH => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek()? == b']' {
                    self.pos += 1;
                    *slot = Loose::Array(items);
                    return Some(());
                }
                loop {
                    items.push(Loose::Null);
                    self.value_into(depth + 1, items.last_mut()?)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            break Loose::Array(items);
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => Loose::Str(self.string_value()?),
            b't' => self.literal("true", Loose::Bool(true))?,
            b'f' => self.literal("false", Loose::Bool(false))?,
            b'n' => self.literal("null", Loose::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        Some(())
    }

    /// A string at the current position (its opening quote): its contents and whether they hold
    /// escapes. Inlined into each reader: the mappers' reads call it for nearly every key and string
    /// value (180,000 times in the first 20,000 uniform lines), and as a call, with the checks it could not
    /// share with its callers, it cost 3.3% of those lines' instructions.
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a str, bool)> {
        let start = self.pos + 1;
        let (end, escaped) = crate::scan::string_end(self.text.as_bytes(), &self.stops, self.pos)?;
        self.pos = end;
        Some((self.text.get(start..end - 1)?, escaped))
    }

    fn literal(&mut self, word: &str, value: Loose<'a>) -> Option<Loose<'a>> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then(|| {
            self.pos = end;
            value
        })
    }

    /// A number: integers of up to 18 digits (other than `-0`, which serde_json reads as a float) are
    /// read here, the rest by serde_json.
    fn number(&mut self) -> Option<Loose<'a>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let negative = bytes[start] == b'-';
        let digits_start = start + usize::from(negative);
        let digits = bytes.get(digits_start..)?.iter().take_while(|b| b.is_ascii_digit()).count();
        let end = digits_start + digits;
        let simple = (1..=18).contains(&digits)
            && (bytes[digits_start] != b'0' || digits == 1)
            && !matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if !simple {
            let mut end = end;
            while bytes.get(end).is_some_and(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')) {
                end += 1;
            }
            self.pos = end;
            return self.token(start);
        }
        let value = bytes[digits_start..end].iter().fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
        self.pos = end;
        match (negative, i64::try_from(value)) {
            (false, _) => Some(Loose::Number(value.into())),
            (true, Ok(v)) if v != 0 => Some(Loose::Number((-v).into())),
            _ => self.token(start),
        }
    }

    /// In `json`, which must be valid JSON: `Some` of what `Loose::parse(json)?.get(key)` gives, reading
    /// only that value and passing over the others, or `None` for text it leaves to the full parse
    /// (escaped keys, the value nested too deeply).
    pub(crate) fn get(json: &'a str, key: &str) -> Option<Option<Loose<'a>>> {
        let mut quick = Quick::new(json);
        if quick.peek()? != b'{' {
            return Some(None);
        }
        quick.pos += 1;
        let mut found = None;
        if quick.peek()? == b'}' {
            return Some(None);
        }
        loop {
            let (name, escaped) = quick.string()?;
            if escaped {
                return None;
            }
            quick.peek()?;
            quick.pos += 1; // the colon
            if name == key {
                // The last of repeated keys wins, so the search goes on.
                found = Some(quick.value(1)?);
            } else {
                quick.skip()?;
            }
            match quick.peek()? {
                b',' => {
                    quick.pos += 1;
                    quick.peek()?;
                }
                _ => return Some(found),
            }
        }
    }

    /// Passes over one value of valid JSON, however deeply nested: it keeps a count, not a stack.
    fn skip(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.pos += 1;
                }
                b',' | b':' => self.pos += 1,
                _ => {
                    // A number or literal runs to the next delimiter.
                    while bytes
                        .get(self.pos)
                        .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    {
                        self.pos += 1;
                    }
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// The token from `start` to the current position, read by serde_json as a `T` (a tree, or a
    /// string for [`Quick::string_value`]).
    fn token<T: Deserialize<'a>>(&self, start: usize) -> Option<T> {
        serde_json::from_str(self.text.get(start..self.pos)?).ok()
    }

    /// The string at the current position (its opening quote), as `Loose::parse` reads it: borrowed
    /// when it holds no escapes, and otherwise unescaped by serde_json (`None` where serde_json
    /// rejects it, lone surrogates among them).
    ///
    /// Mappers read mostly strings, and most of those without escapes. Going through
    /// [`Quick::value_into`] for them built each one in a tree node's slot and read it back whole,
    /// which the CPU cannot forward from its store buffer: that reload was 45% of `loose`'s time
    /// (perf, uniform). So [`Quick::value`], [`Quick::loose`] and [`DataValue::as_str`] take a
    /// string here, and `value_into` comes here for the strings inside a tree.
    #[inline(always)]
    fn string_value(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos;
        let (text, escaped) = self.string()?;
        if !escaped {
            return Some(Cow::Borrowed(text));
        }
        self.token::<CowStr<'a>>(start).map(|s| s.0)
    }

    /// The value at the current position as a tree, as `Loose::parse` reads it: serde_json reads what
    /// the quick parser leaves (escaped keys, deep nesting).
    fn loose(&mut self) -> Option<Loose<'a>> {
        self.peek()?;
        let start = self.pos;
        if let Some(value) = self.value(1) {
            return Some(value);
        }
        self.pos = start;
        self.skip()?;
        self.token(start)
    }

    /// Calls `entry` with each key of the object at the current position (its `{`) and the position
    /// at its value, and passes over what `entry` leaves unread.
    fn each_entry(&mut self, mut entry: impl FnMut(&mut Self, &str)) -> Option<()> {
        self.pos += 1;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let start = self.pos;
            let (key, escaped) = self.string()?;
            let key = match escaped {
                false => Cow::Borrowed(key),
                true => Cow::Owned(serde_json::from_str::<String>(self.text.get(start..self.pos)?).ok()?),
            };
            self.peek()?;
            self.pos += 1; // the colon
            self.read_or_skip(|quick| entry(quick, &key))?;
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.peek()?;
                }
                _ => {
                    self.pos += 1;
                    return Some(());
                }
            }
        }
    }

    /// Calls `item` with the position at each element of the array at the current position (its `[`),
    /// and passes over what `item` leaves unread.
    fn each_item(&mut self, mut item: impl FnMut(&mut Self)) -> Option<()> {
        self.pos += 1;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.read_or_skip(&mut item)?;
            match self.peek()? {
                b',' => self.pos += 1,
                _ => {
                    self.pos += 1;
                    return Some(());
                }
            }
        }
    }

    /// Lets `read` read the value at the current position, or passes over it when `read` did not.
    fn read_or_skip(&mut self, read: impl FnOnce(&mut Self)) -> Option<()> {
        self.peek()?;
        let at = self.pos;
        read(self);
        if self.pos == at { self.skip() } else { Some(()) }
    }
}

/// A value in an entity's data, read on demand ([`crate::Entity::read_data`]): a mapper takes what it
/// needs, and the rest is passed over without a tree being built of it. Building trees of whole
/// entities, objects and arrays in their own allocations, was a tenth of a uniform run's instructions,
/// most of them for a mapper that reads two keys of each.
///
/// Reading consumes the value. Entity data is valid JSON (the envelope parse checked it), so reading
/// cannot fail; a value read as the wrong kind reads as absent, as in [`Loose`].
pub struct DataValue<'r, 'a> {
    quick: &'r mut Quick<'a>,
}

impl fmt::Debug for DataValue<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataValue").field("at", &self.quick.pos).finish_non_exhaustive()
    }
}

impl<'a> DataValue<'_, 'a> {
    /// The value as a tree, as [`Loose::parse`] reads it.
    pub fn loose(self) -> Loose<'a> {
        self.quick.loose().unwrap_or(Loose::Null)
    }

    /// The string, when the value is one.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        if self.quick.peek()? != b'"' {
            return None;
        }
        self.quick.string_value()
    }

    /// Whether the value is an object; nothing is read.
    pub fn is_object(&mut self) -> bool {
        self.quick.peek() == Some(b'{')
    }

    /// Whether the value is an array; nothing is read.
    pub fn is_array(&mut self) -> bool {
        self.quick.peek() == Some(b'[')
    }

    /// When the value is an object, calls `entry` with each key and its value in order (every one of
    /// a repeated key, so a reading that should agree with [`Loose::get`] lets the last win) and
    /// answers `true`; otherwise `false`.
    pub fn entries(mut self, mut entry: impl FnMut(&str, DataValue<'_, 'a>)) -> bool {
        self.is_object() && self.quick.each_entry(|quick, key| entry(key, DataValue { quick })).is_some()
    }

    /// When the value is an array, calls `item` with each element in order and answers `true`;
    /// otherwise `false`.
    pub fn items(mut self, mut item: impl FnMut(DataValue<'_, 'a>)) -> bool {
        self.is_array() && self.quick.each_item(|quick| item(DataValue { quick })).is_some()
    }
}

/// Reads `json`, which must be valid JSON, with `read` (see [`crate::Entity::read_data`]).
pub(crate) fn read<'a, T>(json: &'a str, read: impl FnOnce(DataValue<'_, 'a>) -> T) -> T {
    let mut quick = Quick::new(json);
    read(DataValue { quick: &mut quick })
}

/// ECMAScript's Number::toString: integers below 1e21 without a fraction, exponent form below 1e-6
/// and from 1e21 on, and otherwise the shortest digits that round-trip.
fn js_number_text(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let Some(f) = n.as_f64() else {
        return n.to_string();
    };
    if f == 0.0 {
        return "0".to_owned();
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddde±x`; lay them out the way ECMAScript does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let n_exp = exp + 1; // the position of the decimal point relative to the digits
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if k <= n_exp && n_exp <= 21 {
        format!("{digits}{}", "0".repeat((n_exp - k) as usize))
    } else if 0 < n_exp && n_exp <= 21 {
        format!("{}.{}", &digits[..n_exp as usize], &digits[n_exp as usize..])
    } else if -6 < n_exp && n_exp <= 0 {
        format!("0.{}{digits}", "0".repeat((-n_exp) as usize))
    } else {
        let e = n_exp - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{e_sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{e_sign}{}", e.abs())
        }
    };
    format!("{sign}{body}")
}

/// A string that borrows from the input when it holds no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

pub(crate) fn deserialize_cow_str<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    CowStr::deserialize(d).map(|s| s.0)
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Loose::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Loose::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Loose::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Loose::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Number::from_f64(v).map_or(Loose::Null, Loose::Number))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Loose::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Loose::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    entries.push((key.0, map.next_value()?));
                }
                Ok(Loose::Object(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_javascript() {
        let v = Loose::parse(r#"{"id":"a","id":"b","n":0,"s":"","arr":[],"esc":"x\"y"}"#).unwrap();
        assert_eq!(v.get("id").and_then(Loose::as_str), Some("b"));
        assert!(!v.get("n").unwrap().is_truthy());
        assert!(!v.get("s").unwrap().is_truthy());
        assert!(v.get("arr").unwrap().is_truthy());
        assert_eq!(v.get("esc").and_then(Loose::as_str), Some("x\"y"));
        assert_eq!(v.get("missing"), None);
        assert_eq!(Loose::parse("[1]").unwrap().get("id"), None);
    }

    const DATA: &[&str] = &[
        r#"{"id":"P1","name":"Shirt","price":19.99,"quantity":2,"list_price":-3,"on_sale":true,"tags":[]}"#,
        r#" { "a" : [ 1 , -0 , 0 , 12345678901234567890 , 1e3 , -1.5E-2 , null , false ] , "b" : { } } "#,
        r#"{"esc":"x\"y\u00e9\/","k":"café","n":{"n":{"n":[[["deep"]]]}},"dup":1,"dup":"2"}"#,
        r#"[{"attribute":"data-rec-id","source":"dataset","value":"r-42"}]"#,
        "7",
    ];

    #[test]
    fn quick_parse_reads_common_data_itself() {
        for text in [DATA[0], DATA[1], DATA[3]] {
            assert!(Quick::parse(text).is_some(), "{text}");
            assert_loose_paths_agree(text);
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(Quick::parse(&deep).is_none());
        assert!(Loose::parse(&deep).is_ok());
    }

    #[test]
    fn the_reader_hands_over_what_the_tree_holds() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let texts = [
            format!(r#"{{"deep":{deep},"after":{{"k\u0065y":[{deep},"v"]}},"big":1.5e300,"id":"x\"y"}}"#),
            r#"{"id":1,"id":"2","id":{"id":3}}"#.to_owned(),
        ];
        for text in texts.iter().map(String::as_str).chain(DATA.iter().copied()) {
            assert_loose_paths_agree(text);
        }
        // A reading that takes only some values passes over the rest, whatever they hold.
        let mut seen = Vec::new();
        let object = read(&texts[0], |data| data.entries(|key, value| seen.push((key.to_owned(), value.as_str()))));
        assert!(object);
        let expected = [("deep", None), ("after", None), ("big", None), ("id", Some(Cow::Borrowed("x\"y")))];
        assert_eq!(seen, expected.map(|(k, v)| (k.to_owned(), v)));
        assert!(!read("[1]", |data| data.entries(|_, _| panic!("not an object"))));
        assert!(!read("null", |data| data.items(|_| panic!("not an array"))));
    }

    #[test]
    fn quick_parse_agrees_with_serde_json_on_every_small_corruption() {
        for text in DATA {
            for variant in crate::testing::corruptions(text) {
                assert_loose_paths_agree(&variant);
                // Whichever path it takes, parsing answers what serde_json answers.
                assert_eq!(
                    Loose::parse(&variant).map(|v| format!("{v:?}")).map_err(|e| e.to_string()),
                    serde_json::from_str::<Loose<'_>>(&variant).map(|v| format!("{v:?}")).map_err(|e| e.to_string()),
                );
            }
        }
    }

    #[test]
    fn scalar_text_follows_ecmascript_number_to_string() {
        let cases = [
            ("1", "1"),
            ("-7", "-7"),
            ("1.0", "1"),
            ("1.5", "1.5"),
            ("100.25", "100.25"),
            ("1e21", "1e+21"),
            ("1.5e21", "1.5e+21"),
            ("123456789012345600000", "123456789012345600000"),
            ("123456789012345680000", "123456789012345680000"),
            ("1.5e300", "1.5e+300"),
            ("1e-7", "1e-7"),
            ("0.000001", "0.000001"),
            ("-0.5", "-0.5"),
            ("0.0", "0"),
            ("true", "true"),
            ("\"P1\"", "P1"),
        ];
        for (json, text) in cases {
            let v = Loose::parse(json).unwrap();
            assert_eq!(v.scalar_text().as_deref(), Some(text), "{json}");
        }
        for json in ["null", "[1]", "{}"] {
            assert_eq!(Loose::parse(json).unwrap().scalar_text(), None, "{json}");
        }
    }
}
