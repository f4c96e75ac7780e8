//! What a mapper produces and what the pipeline emits.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The three kinds of interaction the seed system sends. Their names on the wire come from
/// [`crate::settings::EventTypeNames`], so a dataset that expects `view` rather than `View` is a
/// setting away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    View,
    Click,
    Purchase,
}

/// A mapper's reading of one event, before the rules shared by every flavour (identity, timestamp,
/// dropping empty item ids) make it an [`Interaction`]. Its texts borrow from the event's line where
/// they can (see [`Interaction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft<'a> {
    pub kind: EventKind,
    /// Item ids in the order the event lists them; empty ones are dropped later.
    pub item_ids: Vec<Cow<'a, str>>,
    /// The recommendation id of a click on a recommendation widget.
    pub impression_id: Option<Cow<'a, str>>,
}

impl<'a> Draft<'a> {
    pub fn new(kind: EventKind, item_ids: Vec<Cow<'a, str>>) -> Draft<'a> {
        Draft { kind, item_ids, impression_id: None }
    }
}

/// A mapper's verdict on one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped<'a> {
    Draft(Draft<'a>),
    /// Not an interaction, with a reason a person can read. Reasons are fixed strings (never event
    /// values) so that summaries can count them and logs never carry user data.
    Skip(&'static str),
}

/// One interaction in the JSON shape the seed's Lambda receives, keys in the seed transform's order.
///
/// Its texts borrow from the line it was mapped from (and the event type from the pipeline's
/// settings) wherever they appear there as they are, which is nearly always: ids owned as `String`s
/// were about six allocations and as many frees an interaction, 5% of a uniform run's cycles, for
/// texts that are rendered once and dropped. [`Interaction::into_owned`] makes one that outlives its
/// line, for delivery; one read from JSON owns its texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction<'a> {
    pub event_id: Cow<'a, str>,
    pub event_type: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_id: Option<Cow<'a, str>>,
    pub session_id: Cow<'a, str>,
    pub item_ids: Vec<Cow<'a, str>>,
    /// Milliseconds since the Unix epoch.
    pub sent_at: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub impression_id: Option<Cow<'a, str>>,
}

impl Interaction<'_> {
    /// The interaction with texts of its own.
    pub fn into_owned(self) -> Interaction<'static> {
        let owned = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        Interaction {
            event_id: owned(self.event_id),
            event_type: owned(self.event_type),
            user_id: self.user_id.map(owned),
            session_id: owned(self.session_id),
            item_ids: self.item_ids.into_iter().map(owned).collect(),
            sent_at: self.sent_at,
            impression_id: self.impression_id.map(owned),
        }
    }

    /// Appends the interaction as a JSON line: exactly the bytes of `serde_json::to_writer` and a
    /// newline, written without serde's call per token (through serde, rendering was nearly a tenth of
    /// a run's instructions).
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"event_id\":");
        json_string(out, &self.event_id);
        out.extend_from_slice(b",\"event_type\":");
        json_string(out, &self.event_type);
        if let Some(user_id) = &self.user_id {
            out.extend_from_slice(b",\"user_id\":");
            json_string(out, user_id);
        }
        out.extend_from_slice(b",\"session_id\":");
        json_string(out, &self.session_id);
        out.extend_from_slice(b",\"item_ids\":[");
        for (i, id) in self.item_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(out, id);
        }
        out.extend_from_slice(b"],\"sent_at\":");
        // Writing into a Vec cannot fail. serde_json writes integers with itoa: through `write!` the
        // formatting machinery cost about 200 instructions an interaction.
        let _ = serde_json::to_writer(&mut *out, &self.sent_at);
        if let Some(impression_id) = &self.impression_id {
            out.extend_from_slice(b",\"impression_id\":");
            json_string(out, impression_id);
        }
        out.extend_from_slice(b"}\n");
    }

    /// The interactions of a request body as Snowbridge's HTTP target posts them: one object, or an
    /// array of them. Each item is read on its own, so one that is not an interaction (`Err` with the
    /// reason) does not sink the others; the outer `Err` says why the body as a whole is unusable.
    /// serde_json's recursion limit keeps deeply nested bodies from exhausting the stack.
    pub fn parse_body(body: &[u8]) -> Result<Vec<Result<Interaction<'static>, String>>, String> {
        let items = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Array(items)) => items,
            Ok(object @ serde_json::Value::Object(_)) => vec![object],
            Ok(_) => return Err("body must be an interaction object or an array of them".to_owned()),
            Err(e) => return Err(format!("body is not JSON: {e}")),
        };
        Ok(items
            .into_iter()
            .map(|item| serde_json::from_value(item).map_err(|e| format!("not an interaction: {e}")))
            .collect())
    }
}

/// A value of entity data read as an item id: its text when it is a string, number or boolean (the
/// seed reads `i.id` and sends `String(i.id)`).
pub fn id_of<'a>(value: snowplow_enriched::DataValue<'_, 'a>) -> Option<Cow<'a, str>> {
    value.loose().scalar_text()
}

/// `entities.map(e => e.data[key])`: one id per entity that has one, in order.
pub fn ids_of_entities<'a>(entities: &[&snowplow_enriched::Entity<'a>], key: &str) -> Vec<Cow<'a, str>> {
    entities.iter().filter_map(|e| e.data_get(key)?.scalar_text()).collect()
}

/// A JSON string as serde_json writes it: as is when nothing needs escaping, which is nearly always
/// the case for ids, and otherwise by serde_json itself.
fn json_string(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Whether `bytes` holds a byte that a JSON string escapes: a quote, a backslash or a control
/// character. Blocks of 16 bytes are compared without an early exit inside, which the compiler does a
/// block at a time; the bytes after the last whole block are compared as the text's last 16 (which
/// overlap the block before) rather than one at a time, which had been most of the check's
/// instructions for ids of 36 bytes. A text shorter than a block is taken the same way in words of
/// eight or four bytes: item ids and event types are mostly that short, and going through them a byte
/// at a time had been most of the time spent writing strings. Only a text shorter than four bytes
/// goes a byte at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    fn special(found: bool, b: &u8) -> bool {
        found | (*b < 0x20) | (*b == b'"') | (*b == b'\\')
    }
    fn any<const N: usize>(block: &[u8; N]) -> bool {
        block.iter().fold(false, special)
    }
    /// `None` when the text is shorter than a block of `N`.
    fn in_blocks<const N: usize>(bytes: &[u8]) -> Option<bool> {
        let last = bytes.last_chunk::<N>()?;
        Some(bytes.as_chunks::<N>().0.iter().any(any) || any(last))
    }
    in_blocks::<16>(bytes)
        .or_else(|| in_blocks::<8>(bytes))
        .or_else(|| in_blocks::<4>(bytes))
        .unwrap_or_else(|| bytes.iter().fold(false, special))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owned_interaction_has_every_text_of_the_borrowed_one() {
        let line = String::from("e1 View u1 s1 A B r1");
        let mut texts = line.split(' ').map(Cow::Borrowed);
        let mut next = || texts.next().unwrap();
        let borrowed = Interaction {
            event_id: next(),
            event_type: next(),
            user_id: Some(next()),
            session_id: next(),
            item_ids: vec![next(), next()],
            sent_at: 7,
            impression_id: Some(next()),
        };
        let owned = borrowed.into_owned();
        drop(line);
        let Interaction { event_id, event_type, user_id, session_id, item_ids, sent_at, impression_id } = owned;
        assert_eq!(sent_at, 7);
        let texts = [event_id, event_type, user_id.unwrap(), session_id, impression_id.unwrap()];
        assert_eq!(texts.iter().map(|t| &**t).collect::<Vec<_>>(), ["e1", "View", "u1", "s1", "r1"]);
        assert_eq!(item_ids, ["A", "B"]);
        assert!(texts.iter().chain(&item_ids).all(|t| matches!(t, Cow::Owned(_))));
    }

    #[test]
    fn json_lines_are_serde_json_s_bytes() {
        let texts = [
            "",
            "P1",
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{10}\u{1f}",
            "\u{1}\u{1f}\u{7f}",
            "café ☃ 😀",
            "</script>",
            // Escapes in the first block of sixteen bytes, at its end, and after it.
            "\u{1f}123456789abcdef0123456789abcdef",
            "0123456789abcde\"x",
            "0123456789abcdef\n",
        ];
        // Every text of up to 40 bytes with one byte to escape, at each position, against serde_json.
        for len in 0..=40 {
            for at in 0..=len {
                for special in [b'"', b'\\', b'\n', 0x1f, b'x'] {
                    let mut text = vec![b'a'; len];
                    if let Some(byte) = text.get_mut(at) {
                        *byte = special;
                    }
                    let text = String::from_utf8(text).unwrap();
                    let escaped = serde_json::to_string(&text).unwrap();
                    assert_eq!(needs_escape(text.as_bytes()), escaped.len() != len + 2, "{text:?}");
                }
            }
        }
        let mut n = 0;
        for (i, a) in texts.iter().enumerate() {
            for b in texts.iter().skip(i) {
                let interaction = Interaction {
                    event_id: (*a).into(),
                    event_type: (*b).into(),
                    user_id: (n % 2 == 0).then(|| (*b).into()),
                    session_id: (*a).into(),
                    item_ids: texts.iter().take(n % 4).map(|t| (*t).into()).collect(),
                    sent_at: [0, -1, i64::MIN, i64::MAX, 1_714_558_502_001][n % 5],
                    impression_id: (n % 3 == 0).then(|| (*a).into()),
                };
                let mut expected = serde_json::to_vec(&interaction).unwrap();
                expected.push(b'\n');
                let mut line = b"before".to_vec();
                interaction.write_json_line(&mut line);
                assert_eq!(String::from_utf8_lossy(&line[6..]), String::from_utf8_lossy(&expected));
                n += 1;
            }
        }
    }
}
