//! Plain files read where the page cache holds them: mapped into memory a window at a time rather
//! than copied into buffers, on one thread ([`MappedReader`]) and by the threads that map segments
//! (`segments::Window`).
//!
//! `read` copies every byte from the page cache into the reader's buffer. On one thread that copy was
//! more than a quarter of a run on the realistic corpus (the kernel's `_copy_to_iter`, `perf record -e
//! cpu-clock`), and it is all of what `wc -l` does besides finding newlines. A mapping hands the lines
//! to the mappers where they already are: 5 to 9% less time on one thread, and 4 to 9% on two, on both
//! corpora. Each window is unmapped once read, so resident memory stays a few windows' worth (the
//! pages stay in the page cache, as after `read`).
//!
//! Unmapping has a cost that reading has not: the kernel interrupts every other core running the
//! process to drop the window's pages from its TLB. With a mapping per 1 MiB segment, that cost two
//! threads what the copy did; with windows of sixteen segments shared by the threads, the copy's
//! saving shows.
//!
//! The price: a mapped file that someone truncates while it is read kills the process with `SIGBUS`
//! where `read` would have ended early. Enriched files are written whole or appended to, so that is a
//! file being destroyed under a run, which no outcome of that run survives anyway. ripgrep makes the
//! same trade for the same copy. A file named as stdin (`run - < file`) is read, never mapped, and so
//! is a file that cannot be mapped (some FUSE and network file systems).

use std::fs::File;
use std::io::{self, BufRead, Read};

use memmap2::{Mmap, MmapOptions};

use crate::input::ByteCounter;

/// Bytes mapped at a time by [`MappedReader`]: enough that mapping and unmapping (some tens of
/// microseconds) cost nothing beside reading them, little enough to add only a few megabytes to what
/// is resident.
pub(crate) const WINDOW_BYTES: usize = 4 << 20;

/// `len` bytes of `file` from `offset` (any offset; the mapping starts at the page holding it).
///
/// Pages are mapped as they are touched, and on a file not yet in the page cache the kernel reads
/// ahead of the faults while the lines before are mapped, as it does for `read`. Making each window
/// resident at once (`MAP_POPULATE`) saved about 1% on a cached file, but then every window waited for
/// the disk: the realistic corpus just dropped from the page cache took 0.51-0.57 s on one thread that
/// way, against 0.27-0.29 s now and 0.29-0.31 s read (two threads: 0.24-0.25 s, against 0.28-0.35 s
/// read). Telling the kernel that the mapping is read in order (`MADV_SEQUENTIAL`) only made those
/// runs slower and less even.
pub(crate) fn map(file: &File, offset: u64, len: usize) -> io::Result<Mmap> {
    // SAFETY: the mapping is read-only and private, and nothing here writes to the file. Its contents
    // could still change if another process wrote the file meanwhile, as with any reader of a file
    // being written; see the module's comment for truncation.
    #[allow(unsafe_code)]
    unsafe {
        MmapOptions::new().offset(offset).len(len).map(file)
    }
}

/// A plain file as a [`BufRead`] over successive mapped windows: the lines handed out by `fill_buf`
/// are the page cache's bytes, uncopied. A line across two windows is gathered by the caller, as
/// across any buffer's end.
pub(crate) struct MappedReader {
    file: File,
    /// The file's length when it was opened; bytes appended later are not read.
    len: u64,
    /// The next byte to hand out.
    pos: u64,
    /// The current window and where in the file it starts.
    window: Option<(u64, Mmap)>,
    /// Bytes mapped at a time: [`WINDOW_BYTES`], but for tests.
    window_bytes: usize,
    counter: ByteCounter,
}

impl MappedReader {
    /// Maps the first window of `file`; gives the file back when it is not a regular file or cannot be
    /// mapped (to be read instead).
    pub(crate) fn new(file: File, counter: ByteCounter) -> Result<MappedReader, File> {
        let Some(len) = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len()) else { return Err(file) };
        let mut reader = MappedReader { file, len, pos: 0, window: None, window_bytes: WINDOW_BYTES, counter };
        match reader.fill_buf() {
            Ok(_) => Ok(reader),
            Err(_) => Err(reader.file),
        }
    }
}

impl BufRead for MappedReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let within = |(start, map): &(u64, Mmap)| self.pos - start < map.len() as u64;
        if self.pos < self.len && !self.window.as_ref().is_some_and(within) {
            // The old window is unmapped first, so that no more than one is ever resident.
            self.window = None;
            let len =
                usize::try_from(self.len - self.pos).map_or(self.window_bytes, |rest| rest.min(self.window_bytes));
            self.window = Some((self.pos, map(&self.file, self.pos, len)?));
            self.counter.add(len as u64);
        }
        Ok(match &self.window {
            Some((start, map)) if self.pos < self.len => {
                // `pos - start` is within the window, as checked above.
                &map[usize::try_from(self.pos - start).unwrap_or(usize::MAX).min(map.len())..]
            }
            _ => &[],
        })
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount as u64).min(self.len);
    }
}

impl Read for MappedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Gathered, read_line};

    /// A reader over a file holding `bytes`, mapping `window_bytes` at a time.
    fn reader(name: &str, bytes: &[u8], window_bytes: usize, counter: ByteCounter) -> MappedReader {
        let path = std::env::temp_dir().join(format!("mapped-{name}-{}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        // The mapping outlives the file's name.
        std::fs::remove_file(&path).unwrap();
        let mut reader = MappedReader::new(file, ByteCounter::default()).ok().unwrap();
        // The first window is mapped again at the size asked for, and counted from there.
        (reader.window, reader.window_bytes, reader.counter) = (None, window_bytes, counter);
        reader
    }

    #[test]
    fn windows_hand_out_the_file_in_order() {
        // Every byte tells its position; the default window three times and a bit, and small windows,
        // a page and not.
        let bytes: Vec<u8> = (0..3 * WINDOW_BYTES + 4099).map(|i| (i % 251) as u8).collect();
        for window_bytes in [WINDOW_BYTES, 4096, 5000, 7, 1] {
            let bytes = if window_bytes == WINDOW_BYTES { &bytes[..] } else { &bytes[..3 * window_bytes + 4099] };
            let counter = ByteCounter::default();
            let mut reader = reader("order", bytes, window_bytes, counter.clone());
            let mut got = Vec::new();
            // Uneven reads, so that some cross a window's end.
            let mut buf = vec![0; 1_000_003.min(window_bytes + 3)];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                assert!(reader.window.as_ref().is_some_and(|(_, map)| map.len() <= WINDOW_BYTES.max(window_bytes)));
            }
            assert!(got == bytes, "{} bytes read of {} in windows of {window_bytes}", got.len(), bytes.len());
            assert_eq!(counter.get(), bytes.len() as u64);
            assert!(reader.fill_buf().unwrap().is_empty());
        }
    }

    #[test]
    fn lines_across_windows_are_the_lines_a_buffer_gives() {
        // Short lines, empty ones and long ones, some longer than a window, some over the limit.
        let mut state = 3u32;
        let bytes: Vec<u8> = (0..20_000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                match state >> 24 {
                    0..=7 => b'\n',
                    8..=9 if state & 1 == 0 => b'\n',
                    _ => b'a' + (state >> 28) as u8,
                }
            })
            .collect();
        let lines = |reader: &mut dyn BufRead, max: usize| {
            let (mut buf, mut out) = (Vec::new(), Vec::new());
            while let Some(line) = read_line(reader, &mut buf, max).unwrap() {
                out.push(match line {
                    Gathered::Complete => Ok(buf.clone()),
                    Gathered::TooLong(n) => Err(n),
                });
            }
            out
        };
        for max in [40, 1000, 100_000] {
            let expected = lines(&mut io::BufReader::new(&bytes[..]), max);
            for window_bytes in [1, 13, 64, 4096, 5000] {
                let got = lines(&mut reader("lines", &bytes, window_bytes, ByteCounter::default()), max);
                assert!(got == expected, "max {max}, windows of {window_bytes}");
            }
        }
    }

    #[test]
    fn an_empty_file_has_nothing_to_hand_out() {
        let mut reader = reader("empty", b"", WINDOW_BYTES, ByteCounter::default());
        assert!(reader.fill_buf().unwrap().is_empty());
        assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0);
    }
}
