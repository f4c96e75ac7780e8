//! A line of enriched TSV with its tabs counted.

use crate::event::EventError;
use crate::fields::{FIELD_COUNT, Field};
use crate::{simd, tabs};

/// One line of input, without its newline, and how many tabs it holds.
///
/// Every line has its tabs counted, since one without exactly 130 is a bad row whatever the filter
/// says. A reader that finds its lines with [`Line::first`] has them counted in the pass that finds
/// each line's end, so that a line the filter drops is passed over once instead of twice.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    bytes: &'a [u8],
    tabs: usize,
}

impl<'a> Line<'a> {
    /// A line as it is (a trailing newline, and a `\r` before it, are tolerated), its tabs counted.
    pub fn new(bytes: &'a [u8]) -> Line<'a> {
        Line { bytes, tabs: tabs::count(bytes) }
    }

    /// The line `buf` starts with, up to its first newline; `None` when `buf` holds no newline.
    pub fn first(buf: &'a [u8]) -> Option<Line<'a>> {
        let (end, tabs) = simd::line_end(buf);
        end.map(|end| Line { bytes: &buf[..end], tabs })
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

/// One field of a line (see [`Line::field`]).
pub fn peek_field(line: &[u8], field: Field) -> Result<&[u8], EventError> {
    Line::new(line).field(field)
}

#[cfg(test)]
mod tests {
    use super::*;

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
