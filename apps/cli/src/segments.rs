//! Input cut into pieces that threads read and map on their own: plain files into byte ranges
//! ([`Segment`]), streams into chunks of whole lines ([`Chunks`]).
//!
//! With one thread reading for all, that thread is the limit on two cores: it copies every line
//! once more than mapping needs. A segment's lines are taken by the thread that maps it, from a
//! mapped window of the file ([`lines_in`], see [`Window`]), or read with positioned reads
//! into its own buffer ([`lines`]) where the file cannot be mapped, so reading is spread over the
//! threads as well. Each line belongs to the segment its first byte lies in, which a thread can
//! tell from the byte before the segment; lines are numbered within their segment, and the ordered
//! side adds the lines of the segments before. A stream can only be read in order, so the threads
//! take turns: whichever is free reads the next chunk into its own buffer and maps it.

use std::fs::File;
use std::io::{self, Read};

use anyhow::Context as _;

use memmap2::Mmap;
use snowplow_enriched::{Line, TabPositions};

use crate::input::{ByteCounter, Gathered, Input, read_line};
use crate::mapped;

/// Input bytes per segment: enough that a segment's setup costs little, little enough that a thread
/// slowed in one does not hold up the output for long. Segments of 2 MiB halve each thread's
/// per-segment costs against 1 MiB (the piece's buffers, its place on the board, a write of its
/// interactions, the line reader finding its feet): with the same bytes in flight (two a thread
/// ahead, against four of 1 MiB), two threads took 37.2 → 35.7 ms and 37.7 → 36.3 ms on the
/// realistic corpus (medians of 41, 1.2-1.6 ms less CPU) and 73.7 → 72.5 ms on uniform (medians of
/// 21), and peaked at 27-29 MB, as before. How many a thread may now map ahead is
/// `run::parallel`'s `SEGMENTS_AHEAD_PER_THREAD`.
pub(crate) const SEGMENT_BYTES: u64 = 2 << 20;

const _: () = assert!(Window::BYTES.is_multiple_of(SEGMENT_BYTES), "a segment lies in one window");

/// Bytes read at a time past a segment's end, for a line that began in it.
const CONTINUATION_BYTES: usize = 64 * 1024;

/// Part of a plain file that the threads map the lines of its segments from ([`lines_in`]), shared by
/// them in an `Arc` and unmapped when the last of them is done with it: a window holds several
/// segments because each unmapping costs the other threads an interrupt (see `mapped`).
pub(crate) struct Window {
    /// Where in the file the mapping starts.
    pub(crate) base: u64,
    pub(crate) map: Mmap,
    /// Whether the mapping runs to the end of the file.
    pub(crate) to_end: bool,
}

impl Window {
    /// Bytes of the file a window covers: a whole number of segments, so that each segment lies in one
    /// window. Each unmapping interrupts the other threads (see `mapped`), and windows of 4 MiB
    /// unmapped 95 times in a two-thread realistic run, where windows of 16 MiB unmap 24 times: up to
    /// 5% off its wall time (alternating medians; one series of 41 showed no difference), and up to 4
    /// ms less kernel time. What is resident grows by the part of a window already mapped and not yet
    /// unmapped: with two segments ahead per thread, a 1 GB input peaked at 27.5 MB on two threads,
    /// against 15 MB with windows of 4 MiB (with eight ahead, up to 41 MB: see
    /// `run::parallel::SEGMENTS_AHEAD_PER_THREAD`).
    const BYTES: u64 = 16 << 20;

    /// The number of the window that holds the segment starting at `start`.
    pub(crate) fn number(start: u64) -> u64 {
        start / Window::BYTES
    }

    /// Window `number` of `file` (`len` bytes long): from the byte before its first segment (which says
    /// whether a line begins there) to [`CONTINUATION_BYTES`] past its last (where most lines begun in
    /// it end), or to the end of the file.
    pub(crate) fn new(file: &File, len: u64, number: u64) -> io::Result<Window> {
        let first = number * Window::BYTES;
        let base = first.saturating_sub(1);
        let end = (first + Window::BYTES + CONTINUATION_BYTES as u64).min(len);
        let map = mapped::map(file, base, usize::try_from(end.saturating_sub(base)).map_err(io::Error::other)?)?;
        Ok(Window { base, map, to_end: end == len })
    }
}

/// One segment of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) input: usize,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// The segments of `names` when every one is a plain regular file (not stdin, the demo or a compressed
/// file), otherwise `None`: those are read as a stream.
pub(crate) fn plan(names: &[String], segment_bytes: u64) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    for (input, name) in names.iter().enumerate() {
        if crate::input::stream_only(name) || !cfg!(unix) {
            return None;
        }
        let meta = std::fs::metadata(name).ok().filter(std::fs::Metadata::is_file)?;
        let len = meta.len();
        segments.extend((0..len.div_ceil(segment_bytes)).map(|i| Segment {
            input,
            start: i * segment_bytes,
            end: ((i + 1) * segment_bytes).min(len),
        }));
    }
    Some(segments)
}

/// Reading at a position, without moving a shared cursor (so threads may share a file).
pub(crate) trait ReadAt {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

#[cfg(unix)]
impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

#[cfg(not(unix))]
impl ReadAt for File {
    fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
        // `plan` never offers segments off Unix.
        Err(io::Error::new(io::ErrorKind::Unsupported, "positioned reads"))
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let rest = usize::try_from(offset).ok().and_then(|at| self.get(at..)).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

/// Fills `buf` from `offset`: how many bytes were read, fewer than asked only at the end of the source.
fn read_into(source: &(impl ReadAt + ?Sized), offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match source.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Appends up to `len` bytes from `offset` to `buf`; fewer only at the end of the source.
fn read_full(source: &(impl ReadAt + ?Sized), offset: u64, buf: &mut Vec<u8>, len: usize) -> io::Result<usize> {
    let old = buf.len();
    buf.resize(old + len, 0);
    let mut got = 0;
    while got < len {
        match source.read_at(&mut buf[old + got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        }
    }
    buf.truncate(old + got);
    Ok(got)
}

/// Calls `each` with every line that begins in `segment`, in order and without its newline: `Ok(bytes)`,
/// or `Err(length)` for a line over `max` bytes, which is measured but not kept. Exactly the lines, and
/// the verdicts, that reading the whole source as a stream gives (a final line without a newline counts;
/// an empty source has none).
pub(crate) fn lines(
    source: &(impl ReadAt + ?Sized),
    segment: Segment,
    max: usize,
    buf: &mut Vec<u8>,
    each: impl FnMut(Result<Line<'_>, u64>),
) -> io::Result<()> {
    // The byte before the segment says whether a line begins at its start.
    let from = segment.start.saturating_sub(1);
    let want = usize::try_from(segment.end - from).map_err(io::Error::other)?;
    // The buffer only grows, and is read into over what earlier segments left: clearing it and growing
    // it again zeroed every segment before its read, a pass over the whole input.
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let got = read_into(source, from, &mut buf[..want])?;
    // The segment's bytes are a window that ends where the source does when fewer came than asked.
    lines_in(source, &buf[..got], from, got < want, segment, max, each)
}

/// [`lines`] from a window of the source in memory (a mapped file, see [`Window`], or the
/// segment's bytes as [`lines`] read them): `window` holds the source's bytes from `base` on, from the
/// byte before the segment at the latest, and runs to the source's end when `to_end` holds. Lines are
/// handed over where they lie in the window; only a last line that runs on past the window is read
/// from `source`.
pub(crate) fn lines_in(
    source: &(impl ReadAt + ?Sized),
    window: &[u8],
    base: u64,
    to_end: bool,
    segment: Segment,
    max: usize,
    mut each: impl FnMut(Result<Line<'_>, u64>),
) -> io::Result<()> {
    let mut line = |line: Line<'_>| each(if line.len() > max { Err(line.len() as u64) } else { Ok(line) });
    debug_assert!(base <= segment.start.saturating_sub(1), "the window starts after the segment's first byte");
    let at = |offset: u64| usize::try_from(offset.saturating_sub(base)).map_or(window.len(), |at| at.min(window.len()));
    let (from, end) = (at(segment.start.saturating_sub(1)), at(segment.end));
    let mut pos = match segment.start {
        0 => from,
        _ => match memchr::memchr(b'\n', &window[from..end]) {
            Some(i) => from + i + 1,
            None => return Ok(()),
        },
    };
    // Every line that begins before the segment's end; the last one may end past it.
    let positions = TabPositions::default();
    while pos < end {
        let Some(found) = Line::first_in(&window[pos..], &positions) else { break };
        pos += found.len() + 1;
        line(found);
    }
    if pos >= end {
        return Ok(());
    }
    if to_end {
        line(Line::new(&window[pos..]));
        return Ok(());
    }
    let (tail, length) = line_past(source, base + window.len() as u64, &window[pos..], max)?;
    if length > max as u64 {
        each(Err(length));
    } else {
        line(Line::new(&tail));
    }
    Ok(())
}

/// A line whose first bytes, `head`, end where the source goes on at `offset`: read on to its newline
/// (or the end of the source), keeping no more of it than the limit allows. Its bytes (none when over
/// the limit) and its length.
fn line_past(source: &(impl ReadAt + ?Sized), mut offset: u64, head: &[u8], max: usize) -> io::Result<(Vec<u8>, u64)> {
    let mut tail = head.to_vec();
    let mut length = tail.len() as u64;
    loop {
        if length > max as u64 {
            tail.clear();
        }
        let scanned = tail.len();
        let got = read_full(source, offset, &mut tail, CONTINUATION_BYTES)?;
        offset += got as u64;
        if let Some(i) = memchr::memchr(b'\n', &tail[scanned..]) {
            length += i as u64;
            tail.truncate(scanned + i);
            break;
        }
        length += got as u64;
        if got < CONTINUATION_BYTES {
            break;
        }
    }
    Ok((tail, length))
}

/// Calls `line` with every line of `data` that ends in a newline, without it; returns where the rest
/// begins.
fn whole_lines(data: &[u8], line: &mut impl FnMut(Line<'_>)) -> usize {
    let positions = TabPositions::default();
    let mut pos = 0;
    while let Some(found) = Line::first_in(&data[pos..], &positions) {
        pos += found.len() + 1;
        line(found);
    }
    pos
}

/// Stream bytes per chunk (not measured at a segment's [`SEGMENT_BYTES`]).
const CHUNK_BYTES: usize = 1 << 20;

/// A piece of a stream that [`Chunks::next`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Whole lines of input `input`, in the buffer.
    Lines { input: usize },
    /// One line of input `input` over the limit, measured but not kept: its length.
    TooLong { input: usize, length: u64 },
}

/// Streams (stdin, compressed files, the demo) read one after another in chunks of whole lines.
pub(crate) struct Chunks<'a> {
    names: &'a [String],
    max: usize,
    /// Bytes read at a time: [`CHUNK_BYTES`], but for tests.
    chunk_bytes: usize,
    counter: ByteCounter,
    /// The input being read, and its reader once opened.
    input: usize,
    reader: Option<Input>,
    /// The start of a line that the last chunk read cut off.
    carry: Vec<u8>,
    /// A read error, reported once the whole lines read before it are mapped.
    pending: Option<anyhow::Error>,
}

impl<'a> Chunks<'a> {
    /// Lines over `max` bytes are measured, not kept.
    pub(crate) fn new(names: &'a [String], max: usize) -> Chunks<'a> {
        let counter = ByteCounter::default();
        Chunks {
            names,
            max,
            chunk_bytes: CHUNK_BYTES,
            counter,
            input: 0,
            reader: None,
            carry: Vec::new(),
            pending: None,
        }
    }

    /// Bytes read so far from the files (before decompression), for the progress bar.
    pub(crate) fn counter(&self) -> ByteCounter {
        self.counter.clone()
    }

    /// Reads the next chunk into `buf`; `None` after the last input, or after an error. Exactly the
    /// lines, and the verdicts, that reading the inputs line by line gives.
    pub(crate) fn next(&mut self, buf: &mut Vec<u8>) -> Option<anyhow::Result<Chunk>> {
        let chunk = match self.pending.take() {
            Some(error) => Some(Err(error)),
            None => self.read(buf).transpose(),
        };
        if let Some(Err(_)) = chunk {
            // Nothing is read after an error: the inputs count as all read.
            (self.input, self.reader) = (self.names.len(), None);
            self.carry.clear();
        }
        chunk
    }

    fn read(&mut self, buf: &mut Vec<u8>) -> anyhow::Result<Option<Chunk>> {
        buf.clear();
        buf.append(&mut self.carry);
        loop {
            let input = self.input;
            let Some(name) = self.names.get(input) else { return Ok(None) };
            let reader = match &mut self.reader {
                Some(reader) => reader,
                None => self.reader.insert(crate::input::open(name, &self.counter)?),
            };
            let old = buf.len();
            let got = match read_more(&mut reader.reader, buf, self.chunk_bytes) {
                Ok(got) => got,
                Err(e) => {
                    let error = anyhow::Error::new(e).context(format!("cannot read {name}"));
                    // The whole lines read before the fault go first, as when reading line by line.
                    let Some(i) = memchr::memrchr(b'\n', buf) else { return Err(error) };
                    buf.truncate(i + 1);
                    self.pending = Some(error);
                    return Ok(Some(Chunk::Lines { input }));
                }
            };
            if got < self.chunk_bytes {
                // The end of this input: what is left are whole lines (a last one without a newline
                // counts), if anything.
                (self.reader, self.input) = (None, input + 1);
                if buf.is_empty() {
                    continue;
                }
                return Ok(Some(Chunk::Lines { input }));
            }
            // What was carried over holds no newline.
            if let Some(i) = memchr::memrchr(b'\n', &buf[old..]).map(|i| old + i) {
                let end = i + 1;
                self.carry.extend_from_slice(&buf[end..]);
                buf.truncate(end);
                return Ok(Some(Chunk::Lines { input }));
            }
            if buf.len() > self.max {
                // A line over the limit: the line reader measures the rest of it without keeping it,
                // and leaves the reader at the next line.
                let rest = read_line(reader.reader.as_mut(), &mut Vec::new(), 0)
                    .with_context(|| format!("cannot read {name}"))?;
                let rest = match rest {
                    Some(Gathered::TooLong(length)) => length,
                    None | Some(Gathered::Complete) => 0,
                };
                let length = buf.len() as u64 + rest;
                buf.clear();
                return Ok(Some(Chunk::TooLong { input, length }));
            }
            // A line longer than a chunk but within the limit: read on.
        }
    }
}

/// Calls `each` with every line of a chunk that [`Chunks::next`] read into `buf`, as [`lines`] does.
pub(crate) fn chunk_lines(chunk: Chunk, buf: &[u8], max: usize, mut each: impl FnMut(Result<Line<'_>, u64>)) {
    if let Chunk::TooLong { length, .. } = chunk {
        return each(Err(length));
    }
    let mut line = |line: Line<'_>| each(if line.len() > max { Err(line.len() as u64) } else { Ok(line) });
    let pos = whole_lines(buf, &mut line);
    if pos < buf.len() {
        line(Line::new(&buf[pos..]));
    }
}

/// Appends up to `len` bytes from a stream to `buf`; fewer only at its end.
fn read_more(reader: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> io::Result<usize> {
    reader.take(len as u64).read_to_end(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Gathered, read_line};

    /// A line's bytes (or its length when over the limit), after checking that the tabs its reader
    /// counted are the line's own.
    fn kept(line: Result<Line<'_>, u64>) -> Result<Vec<u8>, u64> {
        line.map(|line| {
            assert_eq!(line.tabs(), Line::new(line.bytes()).tabs(), "{:?}", line.bytes());
            line.bytes().to_vec()
        })
    }

    /// What the stream reader makes of `source`.
    fn streamed(source: &[u8], max: usize) -> Vec<Result<Vec<u8>, u64>> {
        let mut reader = io::BufReader::with_capacity(7, source);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, &mut buf, max).unwrap() {
            out.push(match line {
                Gathered::Complete => Ok(buf.clone()),
                Gathered::TooLong(n) => Err(n),
            });
        }
        out
    }

    #[test]
    fn segments_give_the_lines_a_stream_gives() {
        let alphabet = [b'\n', b'\n', b'a', b'b', b'\r', b'\t'];
        let mut state = 11u32;
        for len in 0..120usize {
            for round in 0..12 {
                let source: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        // Later rounds make long lines rare-newline runs.
                        let pick = (state >> 28) as usize % if round > 6 { 12 } else { alphabet.len() };
                        alphabet.get(pick).copied().unwrap_or(b'z')
                    })
                    .collect();
                for max in [0, 3, 9, 1000] {
                    let expected = streamed(&source, max);
                    for segment_bytes in [1, 2, 5, 16, 64] {
                        let (mut got, mut windowed) = (Vec::new(), vec![Vec::new(); 4]);
                        let mut buf = Vec::new();
                        let len = source.len() as u64;
                        for i in 0..len.div_ceil(segment_bytes) {
                            let segment =
                                Segment { input: 0, start: i * segment_bytes, end: ((i + 1) * segment_bytes).min(len) };
                            lines(&source[..], segment, max, &mut buf, |l| got.push(kept(l))).unwrap();
                            // Windows of one or three segments, from the byte before their first, with a
                            // tail of a few bytes or none past their last.
                            for (w, (segments, tail)) in [(1, 0), (1, 2), (3, 0), (3, 5)].into_iter().enumerate() {
                                let first = i / segments * segments * segment_bytes;
                                let base = first.saturating_sub(1);
                                let end = (first + segments * segment_bytes + tail).min(len);
                                let window = &source[base as usize..end as usize];
                                let push = |l: Result<Line<'_>, u64>| windowed[w].push(kept(l));
                                lines_in(&source[..], window, base, end == len, segment, max, push).unwrap();
                            }
                        }
                        assert_eq!(got, expected, "{source:?} max {max} segments of {segment_bytes}");
                        for (w, got) in windowed.iter().enumerate() {
                            assert_eq!(got, &expected, "{source:?} max {max} segments of {segment_bytes}, windows {w}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn chunks_give_the_lines_a_stream_gives() {
        let alphabet = [b'\n', b'\n', b'a', b'b', b'\r', b'\t'];
        let mut state = 7u32;
        let dir = std::env::temp_dir().join(format!("chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in 0..90usize {
            for round in 0..8 {
                let mut source = || -> Vec<u8> {
                    (0..len)
                        .map(|_| {
                            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                            // Later rounds make long lines rare-newline runs.
                            let pick = (state >> 28) as usize % if round > 4 { 12 } else { alphabet.len() };
                            alphabet.get(pick).copied().unwrap_or(b'z')
                        })
                        .collect()
                };
                // Two inputs, so that chunks also end where an input does.
                let sources = [source(), source()];
                let names: Vec<String> = sources
                    .iter()
                    .enumerate()
                    .map(|(i, bytes)| {
                        let path = dir.join(format!("{i}.tsv"));
                        std::fs::write(&path, bytes).unwrap();
                        path.to_str().unwrap().to_owned()
                    })
                    .collect();
                for max in [0, 3, 9, 1000] {
                    let expected: Vec<_> = sources
                        .iter()
                        .enumerate()
                        .flat_map(|(input, bytes)| streamed(bytes, max).into_iter().map(move |line| (input, line)))
                        .collect();
                    for chunk_bytes in [1, 2, 5, 16, 64] {
                        let mut chunks = Chunks { chunk_bytes, ..Chunks::new(&names, max) };
                        let (mut got, mut buf) = (Vec::new(), Vec::new());
                        while let Some(chunk) = chunks.next(&mut buf) {
                            let chunk = chunk.unwrap();
                            let (Chunk::Lines { input } | Chunk::TooLong { input, .. }) = chunk;
                            chunk_lines(chunk, &buf, max, |l| got.push((input, kept(l))));
                            // Memory stays bounded by the limit and the chunk size, whatever the lines: a
                            // cut-off line is carried over (less than a read), a long one skipped.
                            assert!(buf.len() <= max + 2 * chunk_bytes, "a chunk of {} bytes", buf.len());
                        }
                        assert_eq!(got, expected, "{sources:?} max {max} chunks of {chunk_bytes}");
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_lines_past_a_segment_are_measured_not_kept() {
        let mut source = b"ab\n".to_vec();
        source.extend(std::iter::repeat_n(b'x', 200_000));
        source.extend(b"\ncd");
        let segment = Segment { input: 0, start: 0, end: 10 };
        let mut got = Vec::new();
        lines(&source[..], segment, 1000, &mut Vec::new(), |l| got.push(kept(l))).unwrap();
        assert_eq!(got, [Ok(b"ab".to_vec()), Err(200_000)]);
        let mut got = Vec::new();
        lines(&source[..], segment, 300_000, &mut Vec::new(), |l| got.push(kept(l).map(|l| l.len()))).unwrap();
        assert_eq!(got, [Ok(2), Ok(200_000)]);
    }
}
