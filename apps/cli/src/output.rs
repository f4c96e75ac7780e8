//! Where results go: JSON lines on stdout, bad rows to a file or stderr.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use indicatif::ProgressBar;
use serde::Serialize;

/// Rendered lines at least this long are written past the buffer ([`Output::raw`]): a system call
/// costs about what copying this many bytes does.
const RAW_DIRECT_BYTES: usize = 8 * 1024;

/// Buffered JSON-lines output.
pub(crate) struct Output {
    writer: BufWriter<Box<dyn Write>>,
    /// Each line is rendered here first: serde_json writes a line in dozens of small pieces, each a
    /// dynamic call into the writer when written straight through.
    line: Vec<u8>,
}

impl Output {
    pub(crate) fn stdout() -> Output {
        Output::new(BufWriter::with_capacity(256 * 1024, Box::new(io::stdout().lock())))
    }

    /// Output nobody reads (the demo prints what the emulator received instead).
    pub(crate) fn null() -> Output {
        Output::new(BufWriter::with_capacity(0, Box::new(io::sink())))
    }

    fn new(writer: BufWriter<Box<dyn Write>>) -> Output {
        Output { writer, line: Vec::with_capacity(1024) }
    }

    pub(crate) fn json_line(&mut self, value: &impl Serialize) -> anyhow::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).context("cannot render output")?;
        self.line.push(b'\n');
        self.writer.write_all(&self.line).context("cannot write output")
    }

    pub(crate) fn interaction(&mut self, interaction: &interactions::Interaction) -> anyhow::Result<()> {
        self.render(|line| interaction.write_json_line(line))
    }

    /// Writes what `render` puts in the line buffer, if anything, and hands back what it returns.
    pub(crate) fn render<R>(&mut self, render: impl FnOnce(&mut Vec<u8>) -> R) -> anyhow::Result<R> {
        self.line.clear();
        let result = render(&mut self.line);
        if !self.line.is_empty() {
            self.writer.write_all(&self.line).context("cannot write output")?;
        }
        Ok(result)
    }

    /// Bytes already rendered as JSON lines: what a mapping thread rendered for a piece of input (see
    /// `run::parallel`). Those of a piece (2 MiB of a file) take tens of kilobytes, and are written
    /// after what is buffered rather than copied into the buffer first: that copy, of every byte of
    /// output, often from the other core's cache, took 1 ms of a two-thread run's 67 ms of CPU on the
    /// realistic benchmark corpus and 2 ms of 140 on uniform (alternating medians of 31).
    pub(crate) fn raw(&mut self, lines: &[u8]) -> anyhow::Result<()> {
        if lines.len() < RAW_DIRECT_BYTES {
            return self.writer.write_all(lines).context("cannot write output");
        }
        self.writer.flush().and_then(|()| self.writer.get_mut().write_all(lines)).context("cannot write output")
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Bad rows as JSON lines, to the file given or to stderr.
pub(crate) struct BadRows {
    writer: Box<dyn Write>,
    pub(crate) destination: String,
    /// Each row is rendered here first, as [`Output`] renders its lines: a new buffer for each row,
    /// grown several times as serde_json wrote into it, cost more than the rest of a row's handling.
    line: Vec<u8>,
    /// The progress bar drawn on stderr, hidden while a bad row is written there.
    bar: Option<ProgressBar>,
}

impl BadRows {
    pub(crate) fn open(path: Option<&Path>, bar: Option<&ProgressBar>) -> anyhow::Result<BadRows> {
        Ok(match path {
            Some(path) => BadRows {
                writer: Box::new(BufWriter::new(
                    File::create(path).with_context(|| format!("cannot create bad-rows file {}", path.display()))?,
                )),
                destination: path.display().to_string(),
                line: Vec::new(),
                bar: None,
            },
            // Without a progress bar to hide, stderr is buffered like any output: a bad row per write
            // call cost a tenth of the run on a corpus where one line in eleven is bad. With a bar,
            // each row is written at once, between redraws.
            None => BadRows {
                writer: match bar {
                    Some(_) => Box::new(io::stderr()),
                    None => Box::new(BufWriter::with_capacity(64 * 1024, io::stderr())),
                },
                destination: "stderr".to_owned(),
                line: Vec::new(),
                bar: bar.cloned(),
            },
        })
    }

    pub(crate) fn write(&mut self, row: &impl Serialize) -> anyhow::Result<()> {
        let line = &mut self.line;
        line.clear();
        serde_json::to_writer(&mut *line, row).context("cannot serialise a bad row")?;
        line.push(b'\n');
        let writer = &mut self.writer;
        match &self.bar {
            Some(bar) => bar.suspend(|| writer.write_all(line)),
            None => writer.write_all(line),
        }
        .context("cannot write bad rows")
    }

    /// A warning for people, on stderr whatever the bad-rows destination.
    pub(crate) fn note(&mut self, text: &str) -> anyhow::Result<()> {
        // Bad rows written before the note come before it when both go to stderr.
        self.flush()?;
        let line = format!("{text}\n");
        let mut stderr = io::stderr();
        match &self.bar {
            Some(bar) => bar.suspend(|| stderr.write_all(line.as_bytes())),
            None => stderr.write_all(line.as_bytes()),
        }
        .context("cannot write to stderr")
    }

    pub(crate) fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.flush().context("cannot write bad rows")
    }
}

/// Requests that could not be delivered, as JSON lines `{request, error}`; the file is created when the
/// first one arrives, so a clean run leaves nothing behind.
pub(crate) struct DeadLetters {
    path: std::path::PathBuf,
    writer: Option<BufWriter<File>>,
    pub(crate) count: u64,
}

impl DeadLetters {
    pub(crate) fn new(path: &Path) -> DeadLetters {
        DeadLetters { path: path.to_owned(), writer: None, count: 0 }
    }

    pub(crate) fn write_all(&mut self, letters: &[delivery::DeadLetter]) -> anyhow::Result<()> {
        for letter in letters {
            if self.writer.is_none() {
                let file = File::create(&self.path)
                    .with_context(|| format!("cannot create dead-letter file {}", self.path.display()))?;
                self.writer = Some(BufWriter::new(file));
            }
            if let Some(writer) = &mut self.writer {
                serde_json::to_writer(&mut *writer, letter).context("cannot write dead letters")?;
                writer.write_all(b"\n").context("cannot write dead letters")?;
            }
            self.count += letter.request.event_list.len() as u64;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> anyhow::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush().context("cannot write dead letters"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// A writer whose bytes the test reads back, counting the writes that reach it.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<(Vec<u8>, usize)>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut inner = self.0.borrow_mut();
            inner.0.extend_from_slice(buf);
            inner.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rendered_pieces_keep_their_place_among_buffered_lines() {
        let shared = Shared::default();
        let mut out = Output::new(BufWriter::with_capacity(64 * 1024, Box::new(shared.clone())));
        let big = "{\"piece\":1}\n".repeat(RAW_DIRECT_BYTES / 12 + 1);
        out.render(|line| line.extend_from_slice(b"{\"line\":1}\n")).unwrap();
        out.raw(b"{\"small\":1}\n").unwrap();
        out.raw(big.as_bytes()).unwrap();
        // The buffered lines went out before the piece, which went out whole, past the buffer.
        assert_eq!(shared.0.borrow().1, 2);
        out.render(|line| line.extend_from_slice(b"{\"line\":2}\n")).unwrap();
        out.flush().unwrap();
        let expected = format!("{{\"line\":1}}\n{{\"small\":1}}\n{big}{{\"line\":2}}\n");
        assert_eq!(String::from_utf8(shared.0.borrow().0.clone()).unwrap(), expected);
    }
}
