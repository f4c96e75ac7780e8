//! The fast path for entity envelopes: one pass over the JSON text that validates it and finds each
//! entity's schema and the extent of its `data`, without building anything else.
//!
//! A kept event carries ~1.3 KB of entity JSON, nearly all of it entity data that no mapper reads
//! (user agents, geo, sessions), yet all of it must be valid JSON, as the Analytics SDKs require. Going
//! through serde's visitors for every key and value cost a quarter of a run; here strings are passed
//! over by following a bit mask of the text's string stops, found for the whole text at once
//! ([`simd::stop_masks`]), and structure is checked with a bit stack.
//!
//! Every function answers `None` both for invalid JSON and for the rare valid text it leaves to
//! serde_json (keys with escapes, nesting deeper than 64); the caller then parses with serde_json, which
//! decides and names the error. So this module must never accept what serde_json rejects, nor read
//! valid text differently; `entity::tests` and the fuzz checks hold it to that.

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Deref;

use crate::entity::Entity;
use crate::simd::{self, BLOCK};

/// The entities of a `contexts` or `derived_contexts` field (see `entity::parse_contexts`).
pub(crate) fn contexts(text: &str) -> Option<Vec<Entity<'_>>> {
    let mut s = Scan::new(text);
    let entities = match s.peek()? {
        b'n' => s.literal(b"null").map(|()| Vec::new())?,
        _ => {
            if let Some((_, entities)) = s.compact(Scan::entity_list) {
                return s.end().then_some(entities);
            }
            let mut data = Vec::new();
            s.object(|s, key| match key {
                Key::Schema => s.optional_string().map(drop),
                Key::Data => s.entity_list().map(|list| data = list),
                Key::Other => s.skip_value(),
            })?;
            data
        }
    };
    s.end().then_some(entities)
}

/// The inner entity of an `unstruct_event` field, `None` inside when there is none (see
/// `entity::parse_unstruct`).
pub(crate) fn unstruct(text: &str) -> Option<Option<Entity<'_>>> {
    let mut s = Scan::new(text);
    let inner = match s.peek()? {
        b'n' => s.literal(b"null").map(|()| None)?,
        _ => {
            if let Some((_, inner)) = s.compact(Scan::optional_entity) {
                return s.end().then_some(inner);
            }
            let mut inner = None;
            s.object(|s, key| match key {
                Key::Schema => s.optional_string().map(drop),
                Key::Data => s.optional_entity().map(|entity| inner = entity),
                Key::Other => s.skip_value(),
            })?;
            inner
        }
    };
    s.end().then_some(inner)
}

/// An envelope key, matched case-insensitively as the Go Analytics SDK does.
#[derive(Clone, Copy)]
enum Key {
    Schema,
    Data,
    Other,
}

struct Scan<'a> {
    text: &'a str,
    pos: usize,
    /// Where the text's string stops are (quotes, backslashes, control characters): a bit a byte.
    stops: Stops,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        Scan { text, pos: 0, stops: Stops::of(text.as_bytes()) }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace, which is skipped.
    fn peek(&mut self) -> Option<u8> {
        next_byte(self.bytes(), &mut self.pos)
    }

    /// Takes `b` as the next byte after whitespace.
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// Whether only whitespace is left.
    fn end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let found = self.bytes().get(self.pos..self.pos + word.len())?;
        (found == word).then(|| self.pos += word.len())
    }

    /// A string at the current position (its opening quote); the range of its contents and whether it
    /// holds escapes.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        let start = self.pos + 1;
        let (end, escaped) = string_end(self.bytes(), &self.stops, self.pos)?;
        self.pos = end;
        Some((start, end - 1, escaped))
    }

    /// A string or null, as `entity::OptionalString` reads it.
    fn optional_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => {
                let (start, end, escaped) = self.string()?;
                if escaped {
                    // Escapes in a schema URI are rare; serde_json unescapes them (and rejects what
                    // it would reject on the slow path, lone surrogates among them).
                    serde_json::from_str::<String>(self.text.get(start - 1..end + 1)?).ok().map(|s| Some(Cow::Owned(s)))
                } else {
                    self.text.get(start..end).map(|s| Some(Cow::Borrowed(s)))
                }
            }
            _ => None,
        }
    }

    /// An object whose values `value` reads by key; it is called with the position at the value.
    fn object(&mut self, mut value: impl FnMut(&mut Self, Key) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let (start, end, escaped) = self.string()?;
            if escaped {
                return None;
            }
            let name = self.bytes().get(start..end)?;
            let key = if name.eq_ignore_ascii_case(b"schema") {
                Key::Schema
            } else if name.eq_ignore_ascii_case(b"data") {
                Key::Data
            } else {
                Key::Other
            };
            self.eat(b':')?;
            value(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` (no entities) or an array of entities.
    fn entity_list(&mut self) -> Option<Vec<Entity<'a>>> {
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|()| Vec::new());
        }
        self.eat(b'[')?;
        // Events carry a handful of entities in each field; room for eight spares growing the list
        // from four, which reallocated 20,454 times in the first 20,000 uniform events.
        let mut entities = Vec::with_capacity(8);
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(entities);
        }
        loop {
            entities.push(self.entity()?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(entities);
                }
                _ => return None,
            }
        }
    }

    /// `null` (no entity) or one entity.
    fn optional_entity(&mut self) -> Option<Option<Entity<'a>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            _ => self.entity().map(Some),
        }
    }

    /// One `{schema, data}` object.
    fn entity(&mut self) -> Option<Entity<'a>> {
        if let Some((schema, data)) = self.compact(Scan::raw_value) {
            return Some(Entity::new(Cow::Borrowed(schema), data));
        }
        let (mut schema, mut data) = (None, None);
        self.object(|s, key| match key {
            Key::Schema => s.optional_string().map(|found| schema = found),
            Key::Data => s.raw_value().map(|raw| data = Some(raw)),
            Key::Other => s.skip_value(),
        })?;
        Some(Entity::new(schema.unwrap_or(Cow::Borrowed("")), data.unwrap_or("null")))
    }

    /// An envelope as Enrich and the trackers write it: `{"data":…,"schema":"…"}` or
    /// `{"schema":"…","data":…}`, without whitespace, other keys or escapes in the schema, with the
    /// data read by `data`. The general loop reads each key as a string, compares it without regard
    /// to case and dispatches to the value's reader, and for an entity that cost as much again as
    /// passing over its data; here the text around the two values is compared as it is (callgrind,
    /// first 40,000 realistic lines: 12% fewer instructions in all). `None` for any other layout, with
    /// the position where it was, for the caller to read the envelope with the general loop.
    #[inline(always)]
    fn compact<T>(&mut self, data: impl FnOnce(&mut Self) -> Option<T>) -> Option<(&'a str, T)> {
        let start = self.pos;
        let found = self.compact_at(data);
        if found.is_none() {
            self.pos = start;
        }
        found
    }

    /// [`Scan::compact`], leaving the position wherever the layout stopped matching.
    #[inline(always)]
    fn compact_at<T>(&mut self, data: impl FnOnce(&mut Self) -> Option<T>) -> Option<(&'a str, T)> {
        const DATA_FIRST: &[u8] = b"{\"data\":";
        const THEN_SCHEMA: &[u8] = b",\"schema\":\"";
        const SCHEMA_FIRST: &[u8] = b"{\"schema\":\"";
        const THEN_DATA: &[u8] = b",\"data\":";
        let found = if self.exact(DATA_FIRST) {
            let data = data(self)?;
            self.exact(THEN_SCHEMA).then_some(())?;
            (self.compact_schema()?, data)
        } else if self.exact(SCHEMA_FIRST) {
            let schema = self.compact_schema()?;
            self.exact(THEN_DATA).then_some(())?;
            (schema, data(self)?)
        } else {
            return None;
        };
        self.exact(b"}").then_some(found)
    }

    /// Takes `text` when it comes next, as it is.
    #[inline(always)]
    fn exact(&mut self, text: &[u8]) -> bool {
        let found = self.bytes().get(self.pos..self.pos + text.len()) == Some(text);
        if found {
            self.pos += text.len();
        }
        found
    }

    /// A value of any kind, as raw text from its first byte.
    #[inline(always)]
    fn raw_value(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.skip_value()?;
        self.text.get(start..self.pos)
    }

    /// The rest of a string whose opening quote was just taken, when it holds no escapes.
    #[inline(always)]
    fn compact_schema(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let (end, escaped) = string_end(self.bytes(), &self.stops, start - 1)?;
        self.pos = end;
        if escaped { None } else { self.text.get(start..end - 1) }
    }

    /// Validates and passes over one value of any kind; the position is left just after it.
    ///
    /// Nearly all of an event's entity JSON goes through here, token by token, so the loop keeps the
    /// position in a local and calls only functions that inline, rather than going through `peek`
    /// and the other methods for every token; and it reads each token's first byte once
    /// ([`next_byte`]), passing over whitespace only where there is some.
    fn skip_value(&mut self) -> Option<()> {
        let (bytes, stops) = (self.bytes(), &self.stops);
        // Bit `d` of `objects` says whether the container at depth `d` (0 the outermost) is an object.
        let (mut objects, mut depth) = (0u64, 0u32);
        let mut at = self.pos;
        loop {
            // A value starts at `at`; containers are entered, scalars passed over.
            match next_byte(bytes, &mut at)? {
                b'"' => at = string_end(bytes, stops, at)?.0,
                open @ (b'{' | b'[') => {
                    if depth == u64::BITS {
                        return None;
                    }
                    at += 1;
                    // `}` and `]` are two code points after `{` and `[`.
                    if next_byte(bytes, &mut at)? == open + 2 {
                        at += 1;
                    } else {
                        objects = objects & !(1 << depth) | u64::from(open == b'{') << depth;
                        depth += 1;
                        if open == b'[' {
                            continue;
                        }
                        match string_entries(bytes, stops, at) {
                            Entries::Key(first) => {
                                at = key(bytes, stops, first)?;
                                continue;
                            }
                            // Every entry was taken: the loop below closes the object.
                            Entries::End(close) => at = close,
                        }
                    }
                }
                b't' => at = literal_end(bytes, at, b"true")?,
                b'f' => at = literal_end(bytes, at, b"false")?,
                b'n' => at = literal_end(bytes, at, b"null")?,
                b'-' | b'0'..=b'9' => at = number_end(bytes, at)?,
                _ => return None,
            }
            // After a value: close containers until one takes a comma, or finish (before any
            // whitespace, which is not part of the value).
            loop {
                let Some(inner) = depth.checked_sub(1) else {
                    self.pos = at;
                    return Some(());
                };
                let in_object = objects >> inner & 1 == 1;
                match next_byte(bytes, &mut at)? {
                    b',' => {
                        at += 1;
                        if in_object {
                            match string_entries(bytes, stops, at) {
                                Entries::Key(next) => at = key(bytes, stops, next)?,
                                Entries::End(close) => {
                                    at = close;
                                    continue;
                                }
                            }
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                at += 1;
                depth = inner;
            }
        }
    }
}

/// A text's string stops ([`simd::stop_masks`]), in a buffer that goes back to its thread when
/// dropped, for the next text. A kept event has three or four texts scanned, and allocating a buffer
/// for each was 44,000 allocations and as many frees in the first 20,000 uniform events (callgrind).
pub(crate) struct Stops {
    masks: Vec<u64>,
    /// Whether every stop is a quote (see [`simd::stop_masks`]).
    plain: bool,
}

thread_local! {
    static SPARE: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

impl Stops {
    /// A buffer of more words than this (the masks of a 1 MiB text) is freed rather than kept for the
    /// rest of its thread's life.
    const MAX_KEPT: usize = 1 << 14;

    pub(crate) fn of(bytes: &[u8]) -> Stops {
        // A thread being torn down has no spare to lend; a new buffer does as well.
        let mut masks = SPARE.try_with(Cell::take).unwrap_or_default();
        let plain = simd::stop_masks(bytes, &mut masks);
        Stops { masks, plain }
    }
}

impl Deref for Stops {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        &self.masks
    }
}

impl Drop for Stops {
    fn drop(&mut self) {
        if self.masks.capacity() <= Stops::MAX_KEPT {
            let masks = std::mem::take(&mut self.masks);
            let _ = SPARE.try_with(|spare| spare.set(masks));
        }
    }
}

/// The first position at or after `at` that is not JSON whitespace.
#[inline(always)]
pub(crate) fn whitespace(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        at += 1;
    }
    at
}

/// After a string whose opening quote is at `at`, and whether it holds escapes (checked only as far as
/// JSON's grammar goes), in a text whose [`simd::stop_masks`] are `stops`.
#[inline(always)]
pub(crate) fn string_end(bytes: &[u8], stops: &Stops, at: usize) -> Option<(usize, bool)> {
    if stops.plain {
        // Every stop is a quote, so the string ends at the next one, if the text has one. Not reading
        // the byte there takes a load out of the chain the scanner waits on from token to token.
        let end = next_stop(stops, at + 1);
        return (end < bytes.len()).then_some((end + 1, false));
    }
    let (mut at, mut escaped) = (at + 1, false);
    loop {
        at = next_stop(stops, at);
        match *bytes.get(at)? {
            b'"' => return Some((at + 1, escaped)),
            b'\\' => {
                escaped = true;
                at = escape_end(bytes, at + 1)?;
            }
            _ => return None,
        }
    }
}

/// Passes over object entries whose key and value are both strings, `"key":"value"`, from `at` where
/// the first key opens, when every stop of the text is a quote: either up to the first entry it does
/// not take, whose key the caller reads ([`Entries::Key`]; `at` when it took none), or through the
/// object's last entry, to its `}` ([`Entries::End`]). An entry not written this way (another kind of
/// value, whitespace) is left to the scanner's loop.
///
/// Most entity data is such entries (a user agent's parts, a product's names), and the loop waits on
/// each token: it reads the token's first byte at a position the string before it gave, then finds
/// the next string's end from that position. Here, with every quote a stop, an entry's quotes are the
/// next set bits of the stop masks, taken in turn from a word held in a register, and the bytes
/// between them are checked beside that chain rather than in it. (Taking numbers and literals as
/// values too, which puts a branch on the value's first byte back in the loop, was no faster.)
#[inline(always)]
fn string_entries(bytes: &[u8], stops: &Stops, mut at: usize) -> Entries {
    if !stops.plain || bytes.get(at) != Some(&b'"') {
        return Entries::Key(at);
    }
    let mut quotes = Quotes::after(stops, at);
    loop {
        let key_end = quotes.next();
        let value_start = quotes.next();
        let value_end = quotes.next();
        if value_start != key_end + 2 || bytes.get(key_end + 1) != Some(&b':') {
            return Entries::Key(at);
        }
        match bytes.get(value_end + 1) {
            Some(b',') => {
                let next_key = quotes.next();
                if next_key != value_end + 2 {
                    return Entries::Key(at);
                }
                at = next_key;
            }
            Some(b'}') => return Entries::End(value_end + 1),
            _ => return Entries::Key(at),
        }
    }
}

/// Where [`string_entries`] stopped.
enum Entries {
    /// At the opening quote of a key, for the scanner's loop to read.
    Key(usize),
    /// At the `}` that closes the object, all of whose entries were taken.
    End(usize),
}

/// The stops after a position, in order, from a word of the masks held at a time (see
/// [`string_entries`]).
struct Quotes<'s> {
    masks: &'s [u64],
    word: usize,
    /// The stops of `masks[word]` not yet taken.
    bits: u64,
}

impl<'s> Quotes<'s> {
    /// The stops at or after `at`.
    #[inline(always)]
    fn from(masks: &'s [u64], at: usize) -> Quotes<'s> {
        let word = at / BLOCK;
        let bits = masks.get(word).map_or(0, |&bits| bits & (u64::MAX << (at % BLOCK)));
        Quotes { masks, word, bits }
    }

    /// The stops after `at`.
    #[inline(always)]
    fn after(stops: &'s Stops, at: usize) -> Quotes<'s> {
        Quotes::from(stops, at + 1)
    }

    /// The next stop; at or past the text's end when there is none.
    #[inline(always)]
    fn next(&mut self) -> usize {
        while self.bits == 0 {
            self.word += 1;
            match self.masks.get(self.word) {
                Some(&bits) => self.bits = bits,
                None => return self.word * BLOCK,
            }
        }
        let at = self.word * BLOCK + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        at
    }
}

/// The first stop at or after `at`; at or past the text's end when there is none.
#[inline(always)]
fn next_stop(stops: &[u64], at: usize) -> usize {
    Quotes::from(stops, at).next()
}

/// The byte at `at`, or when that is whitespace the first byte after it, with `at` moved there. Enrich
/// writes entity JSON without whitespace, so a token's first byte is read and checked once, where
/// passing over whitespace first and then reading the byte had read it twice.
#[inline(always)]
pub(crate) fn next_byte(bytes: &[u8], at: &mut usize) -> Option<u8> {
    let b = *bytes.get(*at)?;
    if b > b' ' {
        return Some(b);
    }
    *at = whitespace(bytes, *at);
    bytes.get(*at).copied()
}

/// An object key, after any whitespace at `at`, and its colon: where the value (or whitespace before
/// it) starts.
#[inline(always)]
fn key(bytes: &[u8], stops: &Stops, mut at: usize) -> Option<usize> {
    if next_byte(bytes, &mut at)? != b'"' {
        return None;
    }
    at = string_end(bytes, stops, at)?.0;
    if next_byte(bytes, &mut at)? != b':' {
        return None;
    }
    Some(at + 1)
}

/// After `word` when it is at `at`.
#[inline(always)]
fn literal_end(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    (bytes.get(at..at + word.len())? == word).then_some(at + word.len())
}

/// After the number at `at`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[inline(always)]
fn number_end(bytes: &[u8], at: usize) -> Option<usize> {
    let digits = |at: usize| bytes.get(at..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
    let mut at = at + usize::from(bytes.get(at) == Some(&b'-'));
    match bytes.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at += digits(at),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        let n = digits(at + 1);
        if n == 0 {
            return None;
        }
        at += 1 + n;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let n = digits(at);
        if n == 0 {
            return None;
        }
        at += n;
    }
    Some(at)
}

/// After a backslash at `at - 1`: the end of a valid escape. Like serde_json when it passes over a
/// string, `\u` needs four hex digits and nothing more (a lone surrogate is not an error there).
fn escape_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => bytes.get(at + 1..at + 5)?.iter().all(u8::is_ascii_hexdigit).then_some(at + 5),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The capacity of the buffer this thread holds for its next text.
    fn spare_capacity() -> usize {
        SPARE.with(|spare| {
            let masks = spare.take();
            let capacity = masks.capacity();
            spare.set(masks);
            capacity
        })
    }

    #[test]
    fn a_thread_keeps_its_stop_buffer_unless_it_grew_huge() {
        let text = "x".repeat(1000);
        let stops = Stops::of(text.as_bytes());
        let words = stops.len();
        drop(stops);
        assert!(spare_capacity() >= words);
        let huge = vec![b'x'; (Stops::MAX_KEPT + 1) * BLOCK];
        let stops = Stops::of(&huge);
        assert_eq!(stops.len(), Stops::MAX_KEPT + 2);
        drop(stops);
        assert!(spare_capacity() <= Stops::MAX_KEPT);
        // Quotes at 0 and 2, then the padding, which is all stops.
        assert_eq!(*Stops::of(b"\"a\""), [!0b10]);
    }
}
