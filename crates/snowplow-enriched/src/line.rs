//! A line of enriched TSV with its tabs counted.

use std::cell::{Cell, Ref, RefCell};

use crate::event::{ENDS, Event, EventError};
use crate::fields::{FIELD_COUNT, Field};
use crate::{simd, tabs};

/// One line of input, without its newline, and how many tabs it holds.
///
/// Every line has its tabs counted, since one without exactly 130 is a bad row whatever the filter
/// says. A reader that finds its lines with [`Line::first`] has them counted in the pass that finds
/// each line's end, so that a line the filter drops is passed over once instead of twice. One that
/// finds them with [`Line::first_in`] may have their positions written down in that pass too, and
/// then neither the filter's field nor the split of a kept line passes over the line again.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    bytes: &'a [u8],
    tabs: usize,
    /// Where the line was found with [`Line::first_in`].
    found_in: Option<&'a TabPositions>,
    /// The [`TabPositions::generation`] that wrote the line's tab positions, 0 when none did.
    generation: u64,
    /// Whether every byte of the line was found to be ASCII as its tab positions were written; `false`
    /// when they were not (nobody looked).
    ascii: bool,
}

/// What a reader that finds its lines with [`Line::first_in`] keeps from one line to the next: room
/// for the positions of one line's tabs, and whether most of its lines have been split lately.
///
/// Writing a line's tab positions as its end is found costs every line a little, and saves a line
/// that is split the pass that would find them again. Written for every line, they took 3–5% off a
/// one-thread run of a uniform corpus (three lines in four split) and added 2–6% to one of a
/// realistic corpus (one in four; page views and pings, which the filter drops, are most of a shop's
/// stream): it pays when more than about two lines in five are split. So they are written only while
/// at least half of the recent lines were split.
#[derive(Debug)]
pub struct TabPositions {
    ends: RefCell<[u32; ENDS]>,
    /// Counts the lines whose positions were written, so that a line can tell whether `ends` still
    /// holds its own: it is this line's generation until the next line's are written.
    generation: Cell<u64>,
    /// Up by two for every line split, down by one for every line found, within
    /// [`TabPositions::SCORE_LIMIT`] of zero: at or above zero while at least half of the recent lines
    /// were split.
    score: Cell<i32>,
}

impl TabPositions {
    /// How far [`TabPositions::score`] goes either way: about how many lines a change in the share of
    /// lines split takes to show.
    const SCORE_LIMIT: i32 = 16;
}

impl Default for TabPositions {
    fn default() -> TabPositions {
        TabPositions {
            ends: RefCell::new([0; ENDS]),
            generation: Cell::new(0),
            score: Cell::new(TabPositions::SCORE_LIMIT),
        }
    }
}

impl<'a> Line<'a> {
    /// A line as it is (a trailing newline, and a `\r` before it, are tolerated), its tabs counted.
    pub fn new(bytes: &'a [u8]) -> Line<'a> {
        Line { bytes, tabs: tabs::count(bytes), found_in: None, generation: 0, ascii: false }
    }

    /// The line `buf` starts with, up to its first newline; `None` when `buf` holds no newline.
    pub fn first(buf: &'a [u8]) -> Option<Line<'a>> {
        let (end, tabs) = simd::line_end(buf);
        end.map(|end| Line { bytes: &buf[..end], tabs, found_in: None, generation: 0, ascii: false })
    }

    /// [`Line::first`], with the positions of the line's tabs written into `positions` in the same pass
    /// (for a line with the 130 tabs of an event) while at least half of the lines found before were
    /// split, and where the CPU writes them at one step a block (see
    /// `simd::line_end_and_positions`). Lines found before with the same `positions` no longer read
    /// them.
    pub fn first_in(buf: &'a [u8], positions: &'a TabPositions) -> Option<Line<'a>> {
        let score = positions.score.get() - 1;
        positions.score.set(score.max(-TabPositions::SCORE_LIMIT));
        if score >= 0
            && let Ok(mut ends) = positions.ends.try_borrow_mut()
        {
            // Whatever is in `ends` from here on belongs to no line found before.
            let generation = positions.generation.get() + 1;
            positions.generation.set(generation);
            if let Some((end, found)) = simd::line_end_and_positions(buf, &mut ends) {
                let (end, tabs) = (end?, found.tabs);
                // Positions are written as 32 bits; a line longer than that is not split from them.
                let written = tabs + 1 == FIELD_COUNT && u32::try_from(end).is_ok();
                let generation = if written {
                    // The last field ends where the line does, before a `\r` that ends it, as in the
                    // `Event` the positions are lent to.
                    ends[FIELD_COUNT - 1] = (end - usize::from(buf[..end].ends_with(b"\r"))) as u32;
                    generation
                } else {
                    0
                };
                let ascii = found.ascii && generation != 0;
                return Some(Line { bytes: &buf[..end], tabs, found_in: Some(positions), generation, ascii });
            }
        }
        let (end, tabs) = simd::line_end(buf);
        end.map(|end| Line { bytes: &buf[..end], tabs, found_in: Some(positions), generation: 0, ascii: false })
    }

    /// The positions of the line's tabs, in order, then where its last field ends (before a `\r` that
    /// ends the line), then slots nobody should read, when they were written with the line found and
    /// nothing has overwritten them since (see [`Line::first_in`]).
    pub(crate) fn tab_positions(&self) -> Option<Ref<'a, [u32; ENDS]>> {
        if self.generation == 0 {
            return None;
        }
        let positions = self.found_in.filter(|p| p.generation.get() == self.generation)?;
        positions.ends.try_borrow().ok()
    }

    /// Whether the line's tab positions were written as it was found and every byte of it is ASCII.
    pub(crate) fn known_ascii(&self) -> bool {
        self.ascii
    }

    /// Notes that the line is being split, for [`Line::first_in`] to decide whether to write the next
    /// lines' tab positions.
    pub(crate) fn note_split(&self) {
        if let Some(positions) = self.found_in {
            positions.score.set((positions.score.get() + 2).min(TabPositions::SCORE_LIMIT));
        }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// How many tabs the line holds.
    pub fn tabs(&self) -> usize {
        self.tabs
    }

    /// The line's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes of one field, after checking that the line has exactly 131 fields, without indexing
    /// the others: what a filter needs, at a fraction of [`crate::Event::parse`]'s cost. The field is
    /// found from whichever end of the line is nearer.
    pub fn field(&self, field: Field) -> Result<&'a [u8], EventError> {
        if self.tabs + 1 != FIELD_COUNT {
            return Err(EventError::FieldCount { found: self.tabs + 1 });
        }
        let line = self.bytes.strip_suffix(b"\n").unwrap_or(self.bytes);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let index = field.index();
        if let Some(ends) = self.tab_positions() {
            // The tabs numbered index - 1 and index, and the line's end after the last field.
            let start = index.checked_sub(1).map_or(0, |tab| ends[tab] as usize + 1);
            let end = if index + 1 == FIELD_COUNT { line.len() } else { ends[index] as usize };
            if let Some(field) = line.get(start..end) {
                return Ok(field);
            }
        }
        // The field lies between the tabs numbered index - 1 and index; count from the nearer end.
        let (start, end) = if index < FIELD_COUNT / 2 {
            let start = index.checked_sub(1).and_then(|n| tabs::nth(line, n)).map_or(0, |tab| tab + 1);
            (start, memchr::memchr(b'\t', &line[start..]).map_or(line.len(), |i| start + i))
        } else {
            // Tab number `index` from the start is number `FIELD_COUNT - 2 - index` from the end.
            let end = match (FIELD_COUNT - 2).checked_sub(index) {
                Some(n) => tabs::nth_back(line, n).unwrap_or(line.len()),
                None => line.len(),
            };
            (memchr::memrchr(b'\t', &line[..end]).map_or(0, |i| i + 1), end)
        };
        Ok(&line[start..end])
    }
}

/// For tests and fuzzing: panics unless a line a reader found has the tabs, the fields and the event
/// (or the error) that the same bytes have found on their own, whether or not its tab positions were
/// written as it was found ([`Line::first_in`]) and are still its own, and unless each field is the
/// text, or the UTF-8 error, that std's check finds in its bytes, whether or not the line was seen to
/// be ASCII as it was split.
#[doc(hidden)]
pub fn assert_split_paths_agree(found: Line<'_>) {
    let alone = Line::new(found.bytes());
    assert_eq!(found.tabs(), alone.tabs());
    let parsed = Event::parse(found.bytes());
    let assert_text = |event: &Event<'_>, field: Field| {
        let expected = match std::str::from_utf8(event.raw(field)) {
            Ok("") => Ok(None),
            Ok(text) => Ok(Some(text)),
            Err(e) => Err(EventError::InvalidUtf8 { field, offset: e.valid_up_to() }),
        };
        assert_eq!(event.str(field), expected, "{field:?}");
    };
    Event::parse_line(found, |event| match (event, &parsed) {
        (Ok(event), Ok(parsed)) => {
            for field in Field::ALL {
                assert_eq!(event.raw(field), parsed.raw(field), "{field:?}");
                assert_eq!(found.field(field).ok(), Some(parsed.raw(field)), "{field:?}");
                assert_text(event, field);
                assert_text(parsed, field);
            }
        }
        (Err(error), Err(expected)) => {
            assert_eq!(error.to_string(), expected.to_string());
            assert_eq!(found.field(Field::EventName).err().map(|e| e.to_string()), Some(expected.to_string()));
        }
        (event, parsed) => panic!("{:?} against {parsed:?}", event.map(|_| ())),
    });
}

/// One field of a line (see [`Line::field`]).
pub fn peek_field(line: &[u8], field: Field) -> Result<&[u8], EventError> {
    Line::new(line).field(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line of `fields` fields, field `i` being `i * width % 37` bytes long (some empty, some long
    /// enough that a 64-byte block holds no tab), ending in `ending`.
    fn line(fields: usize, width: usize, ending: &str) -> String {
        let text: Vec<String> = (0..fields).map(|i| "x".repeat(i * width % 37)).collect();
        text.join("\t") + ending
    }

    #[test]
    fn tab_positions_are_written_while_at_least_half_the_lines_are_split() {
        let buf = line(131, 3, "\n").repeat(200);
        let positions = TabPositions::default();
        let mut pos = 0;
        // The first hundred lines are dropped, the next hundred split.
        let written: Vec<bool> = (0..200)
            .map(|i| {
                let found = Line::first_in(&buf.as_bytes()[pos..], &positions).unwrap();
                pos += found.len() + 1;
                let written = found.tab_positions().is_some();
                if i >= 100 {
                    Event::parse_line(found, |event| assert!(event.is_ok()));
                }
                written
            })
            .collect();
        // Whether this CPU writes them at all (see `simd::line_end_and_positions`).
        let writes = simd::line_end_and_positions(b"\n", &mut [0; ENDS]).is_some();
        if writes {
            // Written for the first few, until the share of lines split falls below half; then again
            // once it is back above.
            assert!(written[..10].iter().all(|&w| w) && written[20..110].iter().all(|&w| !w), "{written:?}");
            assert!(written[130..].iter().all(|&w| w), "{written:?}");
        } else {
            assert!(written.iter().all(|&w| !w));
        }
    }

    #[test]
    fn lines_found_with_their_tab_positions_have_the_fields_of_lines_found_without() {
        let lines = [
            line(131, 1, "\n"),
            line(131, 5, "\r\n"),
            line(131, 0, "\n"),
            line(131, 11, "\n"),
            // Text that is not ASCII, valid and not.
            line(131, 4, "\n").replacen('x', "é", 1),
            line(131, 4, "\n").replacen("xx", "\u{fffd}", 1),
            line(130, 3, "\n"),
            line(132, 3, "\n"),
            line(200, 2, "\n"),
            "\n".to_owned(),
            line(131, 7, ""),
        ];
        let mut buf = lines.concat().into_bytes();
        // The replacement character's last byte, cut off: its first two are not valid UTF-8 then.
        let replacement = buf.windows(3).position(|w| w == "\u{fffd}".as_bytes()).unwrap();
        buf[replacement + 2] = b'x';
        let positions = TabPositions::default();
        let (mut pos, mut found, mut current) = (0, Vec::new(), Vec::new());
        while let Some(line) = Line::first_in(&buf[pos..], &positions) {
            current.push(line.tab_positions().is_some());
            let first = Line::first(&buf[pos..]).unwrap();
            assert_eq!((line.bytes(), line.tabs()), (first.bytes(), first.tabs()));
            // The fields as soon as the line is found, and again after the next one has overwritten its
            // positions.
            assert_split_paths_agree(line);
            found.push(line);
            pos += line.len() + 1;
        }
        assert_eq!(found.len(), lines.len() - 1, "the last line has no newline");
        let writes = simd::line_end_and_positions(b"\n", &mut [0; ENDS]).is_some();
        assert_eq!(
            current,
            [writes, writes, writes, writes, writes, writes, false, false, false, false],
            "of events, where the CPU writes them"
        );
        assert!(
            found.iter().rev().skip(1).all(|line| line.tab_positions().is_none()),
            "only the last line's are current"
        );
        found.into_iter().for_each(assert_split_paths_agree);
    }

    #[test]
    fn an_event_keeps_the_positions_it_was_lent_while_the_next_lines_are_found() {
        let buf = [line(131, 3, "\n"), line(131, 9, "\r\n"), line(131, 1, "\n")].concat();
        let buf = buf.as_bytes();
        let positions = TabPositions::default();
        let first = Line::first_in(buf, &positions).unwrap();
        let writes = first.tab_positions().is_some();
        Event::parse_line(first, |event| {
            let event = event.unwrap();
            let before: Vec<&[u8]> = Field::ALL.iter().map(|&field| event.raw(field)).collect();
            // Found while the event holds the positions: no positions are written over them.
            let second = Line::first_in(&buf[first.len() + 1..], &positions).unwrap();
            assert!(second.tab_positions().is_none());
            assert_split_paths_agree(second);
            let after: Vec<&[u8]> = Field::ALL.iter().map(|&field| event.raw(field)).collect();
            assert_eq!(before, after);
            assert_eq!(
                before,
                Field::ALL.iter().map(|&field| peek_field(first.bytes(), field).unwrap()).collect::<Vec<_>>()
            );
        });
        // Once the event is gone, the next line's are written again, where the CPU writes them.
        let third = Line::first_in(&buf[buf.len() - line(131, 1, "\n").len()..], &positions).unwrap();
        assert_eq!(third.tab_positions().is_some(), writes);
        assert_split_paths_agree(third);
    }

    #[test]
    fn first_takes_the_line_up_to_its_newline_with_its_tabs() {
        let long = format!("{}\n{}", "a\tb".repeat(40), "\t".repeat(70));
        for (buf, expected) in [
            ("", None),
            ("a\tb", None),
            ("\n\t", Some(("", 0))),
            ("a\tb\r\nc\t\t\n", Some(("a\tb\r", 1))),
            (long.as_str(), Some((&long[..120], 40))),
        ] {
            let first = Line::first(buf.as_bytes());
            assert_eq!(first.map(|l| (l.bytes(), l.tabs)), expected.map(|(l, t)| (l.as_bytes(), t)), "{buf:?}");
            if let Some(line) = first {
                assert_eq!(Line::new(line.bytes()).tabs, line.tabs);
            }
        }
    }
}
