//! Reading enriched events: files (plain, `.gz`, `.zst`) or stdin, line by line in bounded memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use snowplow_enriched::{Compression, Line, RecordEvents, RecordLimits, TabPositions};

use crate::mapped::MappedReader;

/// One input as the user named it.
pub(crate) struct Input {
    /// `-` for stdin, otherwise the path as given; bad rows name it.
    pub(crate) name: String,
    pub(crate) reader: Box<dyn BufRead + Send>,
}

/// Bytes read so far from the underlying file (before decompression), for the progress bar.
#[derive(Clone, Default)]
pub(crate) struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }
}

struct Counted<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.add(n as u64);
        Ok(n)
    }
}

const BUFFER: usize = 256 * 1024;

/// The name under which [`open`] yields the built-in demo events.
pub(crate) const DEMO_INPUT: &str = "demo:events.tsv";

/// `fixtures/demo/events.tsv`, built in so that `snowplow-personalize demo` runs from anywhere.
const DEMO_EVENTS: &[u8] = include_bytes!("../../../fixtures/demo/events.tsv");

/// Opens an input; `.gz` and `.zst` files are decompressed as they are read, plain files mapped.
/// `demo:` names the demo events built into the binary.
pub(crate) fn open(name: &str, counter: &ByteCounter) -> anyhow::Result<Input> {
    if name == DEMO_INPUT {
        return Ok(Input { name: name.to_owned(), reader: Box::new(DEMO_EVENTS) });
    }
    if name == "-" {
        return Ok(Input { name: name.to_owned(), reader: Box::new(BufReader::with_capacity(BUFFER, io::stdin())) });
    }
    let mut file = File::open(name).with_context(|| format!("cannot open {name}"))?;
    if compression(name).is_none() {
        // A plain file is mapped rather than copied into a buffer (see `mapped`); one that is not a
        // regular file or cannot be mapped is read.
        match MappedReader::new(file, counter.clone()) {
            Ok(mapped) => return Ok(Input { name: name.to_owned(), reader: Box::new(mapped) }),
            Err(unmapped) => file = unmapped,
        }
    }
    let counted = Counted { inner: file, counter: counter.clone() };
    let reader: Box<dyn BufRead + Send> = match compression(name) {
        Some("gz") => Box::new(BufReader::with_capacity(BUFFER, flate2::read::MultiGzDecoder::new(counted))),
        Some("zst") => Box::new(BufReader::with_capacity(
            BUFFER,
            zstd::stream::read::Decoder::new(counted).with_context(|| format!("cannot start zstd on {name}"))?,
        )),
        _ => Box::new(BufReader::with_capacity(BUFFER, counted)),
    };
    Ok(Input { name: name.to_owned(), reader })
}

/// The compression a file's name declares (`gz` or `zst`), if any.
pub(crate) fn compression(name: &str) -> Option<&str> {
    Path::new(name).extension().and_then(|e| e.to_str()).filter(|e| matches!(*e, "gz" | "zst"))
}

/// Whether `name` is read only as a stream: stdin, the built-in demo, or a compressed file.
pub(crate) fn stream_only(name: &str) -> bool {
    name == "-" || name == DEMO_INPUT || compression(name).is_some()
}

/// How a line came out of [`read_line`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Gathered {
    /// The line is in the buffer, without its newline.
    Complete,
    /// The line was longer than the limit; its bytes were discarded (the length is given).
    TooLong(u64),
}

/// Reads one line into `buf` (cleared first), holding at most `max` bytes of it in memory; `None` at
/// the end of input. A final line without a newline still counts.
pub(crate) fn read_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<Gathered>> {
    buf.clear();
    let mut length: u64 = 0;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (length, too_long) {
                (0, _) => None,
                (_, false) => Some(Gathered::Complete),
                (n, true) => Some(Gathered::TooLong(n)),
            });
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        length += chunk.len() as u64;
        if !too_long && buf.len() + chunk.len() > max {
            too_long = true;
            buf.clear();
            buf.shrink_to(BUFFER);
        }
        if !too_long {
            buf.extend_from_slice(chunk);
        }
        let consumed = done.unwrap_or(chunk.len());
        reader.consume(consumed);
        if done.is_some() {
            return Ok(Some(if too_long { Gathered::TooLong(length) } else { Gathered::Complete }));
        }
    }
}

/// A progress bar over the total size of the input files, shown only when stderr is a terminal and
/// every input is a file; otherwise nothing is drawn.
pub(crate) fn progress(names: &[String], enabled: bool) -> Option<ProgressBar> {
    if !enabled || !io::stderr().is_terminal() || names.iter().any(|n| n == "-" || n == DEMO_INPUT) {
        return None;
    }
    let total: u64 = names.iter().filter_map(|n| std::fs::metadata(n).ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Gathered, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, &mut buf, max).unwrap() {
            out.push((line, buf.clone()));
        }
        out
    }

    #[test]
    fn splits_lines_across_buffer_boundaries() {
        assert_eq!(
            lines(b"abc\ndefghij\n\nxyz", 100),
            [
                (Gathered::Complete, b"abc".to_vec()),
                (Gathered::Complete, b"defghij".to_vec()),
                (Gathered::Complete, b"".to_vec()),
                (Gathered::Complete, b"xyz".to_vec())
            ]
        );
        assert!(lines(b"", 100).is_empty());
    }

    #[test]
    fn long_lines_are_measured_and_dropped() {
        assert_eq!(
            lines(b"ok\n0123456789\nok2", 5),
            [
                (Gathered::Complete, b"ok".to_vec()),
                (Gathered::TooLong(10), Vec::new()),
                (Gathered::Complete, b"ok2".to_vec())
            ]
        );
    }
}

/// Where an event came from, for bad rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'n> {
    /// The input's position on the command line (the same file may be named twice).
    pub(crate) input: usize,
    pub(crate) file: &'n str,
    /// 1-based, per file.
    pub(crate) line: u64,
    /// With `--record-lines`, the event's 1-based position in a compressed record.
    pub(crate) event: Option<u64>,
}

/// How the input is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    /// Longer lines are not kept in memory; they become bad rows.
    pub(crate) max_line_bytes: usize,
    /// `Some`: each line is one base64 stream record (plain, zstd or gzip), decoded with these caps.
    pub(crate) records: Option<RecordLimits>,
}

/// Input that yields no event to map.
#[derive(Debug, Clone)]
pub(crate) enum Unreadable {
    TooLong {
        length: u64,
        max: usize,
    },
    /// A stream record that is not base64, or whose decoding stopped at a fault.
    Record(String),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::TooLong { length, max } => {
                write!(f, "line is {length} bytes long, over the limit of {max} (--max-line-bytes)")
            }
            Unreadable::Record(error) => f.write_str(error),
        }
    }
}

/// Calls `each` with every event of every input in order: `Ok(bytes)` for an event, `Err` for input
/// that yields none (a line over the limit, a broken record). Lines for which `done(input, line)` holds
/// are read past without a call (a resumed run). Drives the progress bar when there is one, and
/// clears it at the end.
pub(crate) fn for_each_event(
    names: &[String],
    reading: Reading,
    bar: Option<&ProgressBar>,
    done: impl Fn(usize, u64) -> bool,
    mut each: impl FnMut(Place<'_>, Result<Line<'_>, Unreadable>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let counter = ByteCounter::default();
    let mut events: u64 = 0;
    let started = std::time::Instant::now();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut record = Vec::new();
    let positions = TabPositions::default();
    for (index, name) in names.iter().enumerate() {
        let mut input = open(name, &counter)?;
        let mut line = 0;
        // One line: `Ok(line)`, or `Err(length)` for a line over the limit.
        let mut handle = |line: u64, got: Result<Line<'_>, u64>, record: &mut Vec<u8>| -> anyhow::Result<()> {
            if done(index, line) {
                return Ok(());
            }
            events += 1;
            let place = Place { input: index, file: &input.name, line, event: None };
            match (got, reading.records) {
                (Ok(found), None) => each(place, Ok(found))?,
                (Ok(found), Some(limits)) => {
                    record_events(found.bytes(), record, limits, |event, got| each(Place { event, ..place }, got))?;
                }
                (Err(length), _) => each(place, Err(Unreadable::TooLong { length, max: reading.max_line_bytes }))?,
            }
            if let Some(bar) = bar
                && events.is_multiple_of(4096)
            {
                bar.set_position(counter.get());
                let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{events} events ({rate:.0}/s)"));
            }
            Ok(())
        };
        let reader = input.reader.as_mut();
        loop {
            // Most lines lie whole in the reader's buffer: they are handed over from there, uncopied, with
            // their tabs counted (and where the CPU allows, their positions written down) in the search
            // for their end.
            let available = match reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
            };
            if let Some(found) =
                Line::first_in(available, &positions).filter(|found| found.len() <= reading.max_line_bytes)
            {
                let end = found.len();
                line += 1;
                handle(line, Ok(found), &mut record)?;
                reader.consume(end + 1);
                continue;
            }
            // A line across the buffer's end, or a long one: read_line gathers (or measures) it.
            match read_line(reader, &mut buf, reading.max_line_bytes).with_context(|| format!("cannot read {name}"))? {
                None => break,
                Some(Gathered::Complete) => {
                    line += 1;
                    handle(line, Ok(Line::new(&buf)), &mut record)?;
                }
                Some(Gathered::TooLong(length)) => {
                    line += 1;
                    handle(line, Err(length), &mut record)?;
                }
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}

/// One `--record-lines` line: base64 of a stream record, whose events go to `each` one by one, with
/// their 1-based position in a compressed record; it stops at the first error `each` returns.
pub(crate) fn record_events<E>(
    line: &[u8],
    record: &mut Vec<u8>,
    limits: RecordLimits,
    mut each: impl FnMut(Option<u64>, Result<Line<'_>, Unreadable>) -> Result<(), E>,
) -> Result<(), E> {
    use base64::Engine as _;
    record.clear();
    let text = line.strip_suffix(b"\r").unwrap_or(line);
    if let Err(e) = base64::engine::general_purpose::STANDARD.decode_vec(text, record) {
        return each(None, Err(Unreadable::Record(format!("the line is not a base64 stream record: {e}"))));
    }
    let mut events = RecordEvents::new(record, limits);
    let compressed = events.compression() != Compression::Plain;
    let mut position = 0;
    while let Some(next) = events.next_event() {
        position += 1;
        match next {
            Ok(event) => each(compressed.then_some(position), Ok(Line::new(event)))?,
            Err(e) => each(Some(e.event), Err(Unreadable::Record(e.to_string())))?,
        }
    }
    Ok(())
}
