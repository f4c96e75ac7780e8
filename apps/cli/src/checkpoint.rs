//! `run --checkpoint FILE`: where a run that sends to Personalize may resume after being killed.
//!
//! Every `every` lines, the run flushes its open groups, waits until every request in flight is
//! delivered or dead-lettered, flushes the dead letters and bad rows, and only then records the
//! position it reached. A run killed at any moment therefore leaves a checkpoint at or before the
//! first line whose events might not have arrived; started again, it skips what the checkpoint says
//! is done and sends the rest. Lines after the checkpoint may be sent twice; their events keep their
//! ids, so Personalize does not count them twice.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// A position in the inputs: all of `inputs[..input]`, and lines `1..=line` of `inputs[input]`, are
/// done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// The inputs as named on the command line; resuming with others is refused.
    pub(crate) inputs: Vec<String>,
    pub(crate) input: usize,
    pub(crate) line: u64,
    /// The whole run finished.
    pub(crate) complete: bool,
}

#[derive(Debug)]
pub(crate) struct Checkpointing {
    pub(crate) path: PathBuf,
    /// Lines between checkpoints.
    pub(crate) every: u64,
    /// Where this run starts: the checkpoint found at start, if any.
    pub(crate) resume: Option<Checkpoint>,
}

impl Checkpointing {
    /// Reads the checkpoint at `path` if there is one, and checks it belongs to these inputs.
    pub(crate) fn open(path: &Path, every: u64, inputs: &[String]) -> anyhow::Result<Checkpointing> {
        let resume = match std::fs::read(path) {
            Ok(bytes) => {
                let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a checkpoint", path.display()))?;
                if checkpoint.inputs != inputs {
                    bail!(
                        "{} was written for the inputs {:?}, not {:?}; remove it to start over",
                        path.display(),
                        checkpoint.inputs,
                        inputs
                    );
                }
                Some(checkpoint)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Checkpointing { path: path.to_owned(), every: every.max(1), resume })
    }

    /// Whether the line at (`input`, `line`) was done by an earlier run.
    pub(crate) fn done_before(&self, input: usize, line: u64) -> bool {
        match &self.resume {
            None => false,
            Some(c) if c.complete => true,
            Some(c) => input < c.input || (input == c.input && line <= c.line),
        }
    }

    /// Replaces the checkpoint atomically: a kill during the write leaves the previous one.
    pub(crate) fn write(&self, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        let temporary = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&temporary)
            .with_context(|| format!("cannot write checkpoint {}", temporary.display()))?;
        serde_json::to_writer(&mut file, checkpoint)?;
        file.write_all(b"\n")?;
        file.sync_data()?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot write checkpoint {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_after_the_recorded_line_of_the_same_inputs_only() {
        let dir = std::env::temp_dir().join(format!("sp-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.json");
        let _ = std::fs::remove_file(&path);
        let inputs = vec!["a.tsv".to_owned(), "b.tsv".to_owned()];
        let fresh = Checkpointing::open(&path, 10, &inputs).unwrap();
        assert!(!fresh.done_before(0, 1));
        fresh.write(&Checkpoint { inputs: inputs.clone(), input: 1, line: 7, complete: false }).unwrap();
        let resumed = Checkpointing::open(&path, 10, &inputs).unwrap();
        assert!(resumed.done_before(0, 1_000_000));
        assert!(resumed.done_before(1, 7));
        assert!(!resumed.done_before(1, 8));
        let error = Checkpointing::open(&path, 10, &["c.tsv".to_owned()]).unwrap_err();
        assert!(error.to_string().contains("remove it to start over"), "{error}");
    }
}
