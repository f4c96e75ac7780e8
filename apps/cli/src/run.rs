//! `snowplow-personalize run`: enriched events in; interactions, PutEvents requests or delivered events
//! out.

use std::fmt;
use std::sync::Arc;

use anyhow::Context as _;
use delivery::{Flight, Metrics, MetricsSnapshot, SdkApi};
use interactions::{Interaction, Outcome, Pipeline, Tally};
use personalize_events::{Batcher, PutEventsRequest, translate};
use serde::Serialize;

use crate::checkpoint::{Checkpoint, Checkpointing};
use crate::input::{Place, Reading, Unreadable, for_each_event};
use crate::output::{BadRows, Output};

pub(crate) struct RunOptions {
    pub(crate) inputs: Vec<String>,
    pub(crate) reading: Reading,
    pub(crate) progress: Option<indicatif::ProgressBar>,
    /// Print every line's outcome instead of the interactions only.
    pub(crate) outcomes: bool,
    /// Threads mapping events; output keeps input order whatever the number.
    pub(crate) threads: usize,
    /// Keep each mapping thread on a CPU of its own, where there are as many (`--no-pin` unsets it).
    pub(crate) pin: bool,
    /// `--checkpoint`: resume where an earlier run stopped, and record progress.
    pub(crate) checkpoint: Option<Checkpointing>,
}

impl RunOptions {
    /// Whether an earlier run finished this line already.
    fn done(&self, input: usize, line: u64) -> bool {
        self.checkpoint.as_ref().is_some_and(|c| c.done_before(input, line))
    }
}

/// A bad row: where the event was, what it was, and what is wrong with it.
#[derive(Serialize)]
pub(crate) struct BadRow<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u64,
    /// With `--record-lines`: the event's position in its compressed record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) event: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) event_id: Option<&'a str>,
    /// Rendered straight into the row's JSON: a `String` for each was an allocation, and growing it a
    /// few more, on every bad row.
    #[serde(serialize_with = "display")]
    pub(crate) error: &'a dyn fmt::Display,
}

/// Serializes a value as the string its `Display` writes, escaped as it is written.
fn display<S: serde::Serializer>(value: &&dyn fmt::Display, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl<'a> BadRow<'a> {
    pub(crate) fn new(place: Place<'a>, event_id: Option<&'a str>, error: &'a dyn fmt::Display) -> Self {
        BadRow { file: place.file, line: place.line, event: place.event, event_id, error }
    }
}

#[derive(Serialize)]
struct Traced<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<u64>,
    #[serde(flatten)]
    outcome: &'a Outcome<'a>,
}

/// What happens to interactions.
pub(crate) enum Target {
    /// Interaction JSON lines on stdout.
    Interactions,
    /// The PutEvents requests, as JSON lines on stdout, not sent.
    PutEvents(Translating),
    /// Sent to Personalize (or the emulator).
    Personalize(Translating, Sending),
}

/// Interactions to batched requests.
pub(crate) struct Translating {
    pub(crate) tracking_id: String,
    pub(crate) batcher: Batcher,
    pub(crate) metrics: Arc<Metrics>,
}

/// Requests to the service, from the synchronous read loop into the async sender.
pub(crate) struct Sending {
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) flight: Flight<SdkApi>,
    pub(crate) dead_letters: crate::output::DeadLetters,
}

impl Target {
    fn interaction(
        &mut self,
        interaction: &Interaction,
        place: Place<'_>,
        out: &mut Output,
        bad_rows: &mut BadRows,
    ) -> anyhow::Result<()> {
        let (translating, mut sending) = match self {
            Target::Interactions => return out.interaction(interaction),
            Target::PutEvents(t) => (t, None),
            Target::Personalize(t, s) => (t, Some(s)),
        };
        Metrics::add(&translating.metrics.interactions_in, 1);
        let translation = match translate(interaction) {
            Ok(t) => t,
            Err(error) => {
                return bad_rows.write(&BadRow::new(place, Some(&interaction.event_id), &error));
            }
        };
        translating.metrics.count_translation(&translation);
        if translation.recommendation_id_dropped {
            // The id itself is left out of the log on purpose: it is what was too long, and logs are not
            // the place for tracking data.
            bad_rows.note(&format!(
                "warning: {}:{}: recommendation id over 40 characters left out of event {}",
                place.file, place.line, interaction.event_id
            ))?;
        }
        for request in translating.batcher.push(&translating.tracking_id, translation) {
            emit(request, sending.as_deref_mut(), out)?;
        }
        Ok(())
    }

    /// Sends what is batched and waits until everything submitted is delivered or dead-lettered (the
    /// dead letters flushed), so that a checkpoint may be written.
    fn sync(&mut self, out: &mut Output) -> anyhow::Result<()> {
        let (translating, mut sending) = match self {
            Target::Interactions => return Ok(()),
            Target::PutEvents(t) => (t, None),
            Target::Personalize(t, s) => (t, Some(s)),
        };
        for request in translating.batcher.flush() {
            emit(request, sending.as_deref_mut(), out)?;
        }
        if let Some(Sending { runtime, flight, dead_letters }) = sending {
            dead_letters.write_all(&runtime.block_on(flight.drain()))?;
            dead_letters.flush()?;
        }
        Ok(())
    }

    /// Sends what is still batched and waits for deliveries in flight.
    fn finish(self, out: &mut Output) -> anyhow::Result<Option<MetricsSnapshot>> {
        let (mut translating, mut sending) = match self {
            Target::Interactions => return Ok(None),
            Target::PutEvents(t) => (t, None),
            Target::Personalize(t, s) => (t, Some(s)),
        };
        for request in translating.batcher.flush() {
            emit(request, sending.as_mut(), out)?;
        }
        if let Some(Sending { runtime, flight, mut dead_letters }) = sending {
            dead_letters.write_all(&runtime.block_on(flight.finish()))?;
            dead_letters.flush()?;
        }
        Ok(Some(translating.metrics.snapshot()))
    }
}

fn emit(request: PutEventsRequest, sending: Option<&mut Sending>, out: &mut Output) -> anyhow::Result<()> {
    match sending {
        None => out.json_line(&request),
        Some(s) => {
            let dead = s.runtime.block_on(s.flight.submit(request));
            s.dead_letters.write_all(&dead)
        }
    }
}

/// What happens to one line's outcome, in input order, whichever thread mapped it.
struct Handling<'r> {
    options: &'r RunOptions,
    target: Target,
    tally: Tally,
    /// Events handled since the last checkpoint.
    since_checkpoint: u64,
}

/// Handles an outcome where order does not matter (see [`Handling::renders_anywhere`]), as any thread
/// may: an interaction's JSON line goes to `rendered`, and every outcome but a bad one is counted.
/// Whether it was handled: a bad outcome is not, for its row to be written in input order.
fn render_unordered(outcome: &Outcome<'_>, rendered: &mut Vec<u8>, tally: &mut Tally) -> bool {
    match outcome {
        Outcome::Bad { .. } => return false,
        Outcome::Interaction { interaction, .. } => interaction.write_json_line(rendered),
        Outcome::Filtered | Outcome::Skipped { .. } => {}
    }
    tally.record(outcome);
    true
}

impl Handling<'_> {
    /// Whether outcomes other than bad rows may be handled on any thread, in any order: printing
    /// interactions (without `--outcomes`) has no order-dependent state, and a run that printed them
    /// could not resume from a checkpoint (`--checkpoint` goes with `--to personalize`; checked here
    /// too, since handling outcomes out of order would ignore it).
    fn renders_anywhere(&self) -> bool {
        matches!(self.target, Target::Interactions) && !self.options.outcomes && self.options.checkpoint.is_none()
    }

    /// Handles one event's outcome. It is lent rather than handed over: an outcome is a few hundred
    /// bytes, and moving it into the call copied it, with a call to memcpy, for every line, filtered
    /// ones included.
    fn line(
        &mut self,
        place: Place<'_>,
        outcome: &Result<Outcome<'_>, Unreadable>,
        out: &mut Output,
        bad_rows: &mut BadRows,
    ) -> anyhow::Result<()> {
        self.handle(place, outcome, out, bad_rows)?;
        if let Some(checkpointing) = &self.options.checkpoint {
            self.since_checkpoint += 1;
            if self.since_checkpoint >= checkpointing.every {
                self.since_checkpoint = 0;
                self.target.sync(out)?;
                out.flush().context("cannot write output")?;
                bad_rows.flush()?;
                // The event may not be its record's last; only the lines before it are surely done.
                let line = if place.event.is_some() { place.line - 1 } else { place.line };
                checkpointing.write(&Checkpoint {
                    inputs: self.options.inputs.clone(),
                    input: place.input,
                    line,
                    complete: false,
                })?;
            }
        }
        Ok(())
    }

    fn handle(
        &mut self,
        place: Place<'_>,
        outcome: &Result<Outcome<'_>, Unreadable>,
        out: &mut Output,
        bad_rows: &mut BadRows,
    ) -> anyhow::Result<()> {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(unreadable) => {
                self.tally.record_unreadable();
                return bad_rows.write(&BadRow::new(place, None, unreadable));
            }
        };
        // As the mapping threads do (`parallel::Outcomes::push`), with the threads or without.
        if self.renders_anywhere() && out.render(|line| render_unordered(outcome, line, &mut self.tally))? {
            return Ok(());
        }
        self.tally.record(outcome);
        if self.options.outcomes {
            out.json_line(&Traced { line: place.line, event: place.event, outcome })?;
        }
        match outcome {
            Outcome::Interaction { interaction, .. } if !self.options.outcomes => {
                self.target.interaction(interaction, place, out, bad_rows)?;
            }
            Outcome::Bad { event_id, error } => {
                bad_rows.write(&BadRow::new(place, event_id.as_deref(), error))?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub(crate) fn run(
    pipeline: &Pipeline,
    options: &RunOptions,
    target: Target,
    out: &mut Output,
    bad_rows: &mut BadRows,
) -> anyhow::Result<(Tally, Option<MetricsSnapshot>)> {
    let mut handling = Handling { options, target, tally: Tally::default(), since_checkpoint: 0 };
    let done = |input, line| options.done(input, line);
    if options.threads <= 1 {
        let anywhere = handling.renders_anywhere();
        for_each_event(&options.inputs, options.reading, options.progress.as_ref(), done, |place, event| {
            let outcome = event.map(|e| pipeline.process_line(e));
            // Most lines are filtered out, and where order does not matter such a line is only
            // counted, without the ordered handling's checks (about 60 instructions a line).
            if anywhere && let Ok(filtered @ Outcome::Filtered) = &outcome {
                handling.tally.record(filtered);
                return Ok(());
            }
            handling.line(place, &outcome, out, bad_rows)
        })?;
    } else {
        parallel::run(pipeline, options, &mut handling, out, bad_rows)?;
    }
    let Handling { target, tally, .. } = handling;
    let metrics = target.finish(out)?;
    out.flush().context("cannot write output")?;
    bad_rows.flush()?;
    if let Some(checkpointing) = &options.checkpoint {
        let inputs = options.inputs.clone();
        checkpointing.write(&Checkpoint { input: inputs.len(), inputs, line: 0, complete: true })?;
    }
    Ok((tally, metrics))
}

/// Mapping on several threads with results in input order. Lines (or, with `--record-lines`, stream
/// records) are read by the threads that map them: plain files in byte segments, streams in chunks of
/// whole lines (see [`crate::segments`]); this thread, which handles the outcomes in input order, maps
/// too. Memory stays bounded by how far the threads may run ahead.
mod parallel {
    use std::collections::BTreeMap;
    use std::convert::Infallible;
    use std::fs::File;
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

    use anyhow::Context as _;
    use interactions::{Outcome, Pipeline, Tally};
    use snowplow_enriched::Line;

    use super::{Handling, RunOptions, render_unordered};
    use crate::input::{Place, Reading, Unreadable, record_events};
    use crate::output::{BadRows, Output};
    use crate::placement::Placement;
    use crate::segments::{self, Chunk, Chunks, Segment, Window};

    /// A segment to map, and the window it is mapped from.
    type Job = (Segment, Option<Arc<Window>>);

    /// What a mapping thread made of a piece's events. Either every event's outcome, in order; or,
    /// when the mapping threads render interactions (`--to interactions`, which has no order-dependent
    /// state), the JSON lines of the interactions, the count of every outcome but the bad ones, and the
    /// bad ones. Then the ordered side writes one slice and a few bad rows per piece instead of
    /// handling every outcome, and the outcomes are freed by the thread that allocated them. (This
    /// thread's share of a two-thread uniform run's CPU fell from 7.6% to 1.4%, perf.)
    struct Outcomes {
        /// Whether the mapping thread renders and counts (see [`Handling::renders_anywhere`]).
        render: bool,
        /// Events mapped.
        events: usize,
        /// Lines read.
        lines: u64,
        /// With `--record-lines`, each event's line (within the piece) and position in its record; empty
        /// when every line is one event.
        origins: Vec<(u64, Option<u64>)>,
        /// Outcomes left for the ordered side, each with its event's index.
        outcomes: Vec<(usize, Result<Outcome<'static>, Unreadable>)>,
        rendered: Vec<u8>,
        /// The outcomes counted here, when rendering.
        tally: Tally,
    }
    impl Outcomes {
        /// For a piece of about `bytes` of input; room for every outcome is taken only when every one
        /// is kept.
        fn new(render: bool, bytes: usize) -> Outcomes {
            // Room for 1,024 outcomes a MiB, and 64 bytes of interactions each: a MiB holds about 500
            // events on the benchmark corpora and renders 17-49 KB of interactions, and growing the
            // buffer from nothing copied it five or six times.
            let events = bytes / 1024;
            let outcomes = if render { Vec::new() } else { Vec::with_capacity(events) };
            let rendered = if render { Vec::with_capacity(events * 64) } else { Vec::new() };
            Outcomes { render, events: 0, lines: 0, origins: Vec::new(), outcomes, rendered, tally: Tally::default() }
        }

        /// Maps the events of one line: the line itself, or with `--record-lines` each event of the
        /// stream record it holds (decoded in `record`). A line over the limit (its length) is no event.
        fn push_line(
            &mut self,
            pipeline: &Pipeline,
            line: Result<Line<'_>, u64>,
            reading: Reading,
            record: &mut Vec<u8>,
        ) {
            let at = self.lines;
            self.lines += 1;
            let max = reading.max_line_bytes;
            match (line, reading.records) {
                (Ok(found), Some(limits)) => {
                    let Ok(()) = record_events::<Infallible>(found.bytes(), record, limits, |event, got| {
                        self.origins.push((at, event));
                        self.push(pipeline, got);
                        Ok(())
                    });
                }
                (line, records) => {
                    if records.is_some() {
                        self.origins.push((at, None));
                    }
                    self.push(pipeline, line.map_err(|length| Unreadable::TooLong { length, max }));
                }
            }
        }

        /// Maps one event (or records why there is none), rendering and counting it when rendering.
        fn push(&mut self, pipeline: &Pipeline, event: Result<Line<'_>, Unreadable>) {
            let outcome = event.map(|line| pipeline.process_line(line));
            let index = self.events;
            self.events += 1;
            match outcome {
                Ok(outcome) if self.render && render_unordered(&outcome, &mut self.rendered, &mut self.tally) => {}
                outcome => self.outcomes.push((index, outcome.map(Outcome::into_owned))),
            }
        }

        /// Hands the outcomes to `handling` in order; `place(line, event)` says where an event was, from
        /// its line within the piece and its position in a record, `None` for one an earlier run
        /// finished (never when rendering, which excludes `--checkpoint`).
        fn handle<'n>(
            self,
            mut place: impl FnMut(u64, Option<u64>) -> Option<Place<'n>>,
            handling: &mut Handling<'_>,
            out: &mut Output,
            bad_rows: &mut BadRows,
        ) -> anyhow::Result<()> {
            handling.tally.merge(&self.tally);
            out.raw(&self.rendered)?;
            for (i, outcome) in self.outcomes {
                let (line, event) = self.origins.get(i).copied().unwrap_or((i as u64, None));
                if let Some(place) = place(line, event) {
                    handling.line(place, &outcome, out, bad_rows)?;
                }
            }
            Ok(())
        }
    }

    /// Segments mapped ahead of the one being handled, per thread: how far the other threads can go on
    /// while one is slow, since the one due next must be handled before any after the reach is started.
    /// On a shared host one virtual CPU is at times taken away for milliseconds; with two ahead, the
    /// other thread soon stood waiting for the segment that CPU held, and with eight it maps on through
    /// such a gap, at no cost in quiet runs. Memory is bounded by the windows (`segments::Window`: one
    /// a thread, and the newest, which the source holds) rather than by the reach: a slow thread's
    /// window stays mapped while the others finish the next, so two threads peak at up to 41 MB on a
    /// 1 GB input, against 28-30 MB with two ahead. The measurements, of two to 24 ahead, are in
    /// docs/performance.md ("Threads").
    const SEGMENTS_AHEAD_PER_THREAD: usize = 8;

    /// Chunks of a stream read ahead of the one being handled, per thread. Each holds a buffer of its
    /// own, and a stream is read one chunk at a time in turn, so more in flight buys memory and no
    /// speed: in chunks of 1 MiB, two took as long as four (48.7 against 49.0 ms on realistic from
    /// stdin).
    const CHUNKS_AHEAD_PER_THREAD: usize = 2;

    /// Maps on the threads, which read the lines they map (see [`crate::segments`]): the segments of
    /// plain files, or chunks of streams; this thread handles the outcomes in order, numbering lines.
    pub(super) fn run(
        pipeline: &Pipeline,
        options: &RunOptions,
        handling: &mut Handling<'_>,
        out: &mut Output,
        bad_rows: &mut BadRows,
    ) -> anyhow::Result<()> {
        let max = options.reading.max_line_bytes;
        let render = handling.renders_anywhere();
        let mut lines_before = vec![0u64; options.inputs.len()];
        let mut events = 0u64;
        // One piece's outcomes: its input and what its lines gave. The progress bar is then at
        // `position`, in bytes of input.
        type Mapped = anyhow::Result<(usize, Outcomes)>;
        let mut handle = |mapped: Mapped, position: u64| -> anyhow::Result<()> {
            let (input, mapped) = mapped?;
            let (file, base) = (&options.inputs[input], lines_before[input]);
            let (lines, count) = (mapped.lines, mapped.events as u64);
            let place = |line: u64, event| {
                let line = base + line + 1;
                (!options.done(input, line)).then_some(Place { input, file, line, event })
            };
            mapped.handle(place, handling, out, bad_rows)?;
            lines_before[input] += lines;
            events += count;
            if let Some(bar) = &options.progress {
                bar.set_position(position);
                bar.set_message(format!("{events} events"));
            }
            Ok(())
        };
        match segments::plan(&options.inputs, segments::SEGMENT_BYTES) {
            Some(plan) => {
                let files = options
                    .inputs
                    .iter()
                    .map(|name| {
                        let file = File::open(name).with_context(|| format!("cannot open {name}"))?;
                        let len = file.metadata().with_context(|| format!("cannot read {name}"))?.len();
                        Ok((file, len))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let mut unread = plan.iter().copied();
                // Segments are mapped from windows of a few of them, each shared by the threads that
                // map its segments (see `segments::Window`); without a window (the file cannot be
                // mapped), a segment is read.
                let map = |pipeline: &Pipeline, buf: &mut Vec<u8>, (segment, window): Job| -> Mapped {
                    let bytes = usize::try_from(segment.end - segment.start).unwrap_or(0);
                    let (mut mapped, mut record) = (Outcomes::new(render, bytes), Vec::new());
                    let push =
                        |line: Result<Line<'_>, u64>| mapped.push_line(pipeline, line, options.reading, &mut record);
                    let file = &files[segment.input].0;
                    let read = match window {
                        Some(w) => segments::lines_in(file, &w.map, w.base, w.to_end, segment, max, push),
                        None => segments::lines(file, segment, max, buf, push),
                    };
                    read.with_context(|| format!("cannot read {}", options.inputs[segment.input]))?;
                    Ok((segment.input, mapped))
                };
                let mut current: Option<((usize, u64), Arc<Window>)> = None;
                let source = |_: &mut Vec<u8>| {
                    let segment = unread.next()?;
                    let number = (segment.input, Window::number(segment.start));
                    if current.as_ref().is_none_or(|(at, _)| *at != number) {
                        let (file, len) = &files[segment.input];
                        current = Window::new(file, *len, number.1).ok().map(|window| (number, Arc::new(window)));
                    }
                    Some((segment, current.as_ref().map(|(_, window)| Arc::clone(window))))
                };
                // Jobs are the plan's segments, in order.
                let mut bytes = 0;
                in_order(
                    options.threads,
                    SEGMENTS_AHEAD_PER_THREAD,
                    options.pin,
                    pipeline,
                    source,
                    map,
                    |index, mapped| {
                        bytes += plan[index].end - plan[index].start;
                        handle(mapped, bytes)
                    },
                )?;
            }
            None => {
                let mut chunks = Chunks::new(&options.inputs, max);
                // Streams are measured in the bytes read from their files, before decompression.
                let counter = chunks.counter();
                let map = |pipeline: &Pipeline, buf: &mut Vec<u8>, chunk: anyhow::Result<Chunk>| -> Mapped {
                    let chunk = chunk?;
                    let (mut mapped, mut record) = (Outcomes::new(render, buf.len()), Vec::new());
                    segments::chunk_lines(chunk, buf, max, |line| {
                        mapped.push_line(pipeline, line, options.reading, &mut record);
                    });
                    let (Chunk::Lines { input } | Chunk::TooLong { input, .. }) = chunk;
                    Ok((input, mapped))
                };
                let source = |buf: &mut Vec<u8>| chunks.next(buf);
                in_order(options.threads, CHUNKS_AHEAD_PER_THREAD, options.pin, pipeline, source, map, |_, mapped| {
                    handle(mapped, counter.get())
                })?;
            }
        }
        if let Some(bar) = &options.progress {
            bar.finish_and_clear();
        }
        Ok(())
    }

    /// Runs `work` on the jobs `source` gives, on `threads` threads, this one among them, and hands the
    /// results to `handle` on this thread in the order `source` gave the jobs. Each thread works with
    /// its own clone of `state` (see [`Pipeline`]) and its own scratch buffer, which `source` may fill
    /// for `work` (a stream's next chunk).
    ///
    /// Each thread takes the next job from `source` itself (one thread at a time calls it, and jobs are
    /// numbered in the order it gives them), and this thread maps jobs too whenever the result due
    /// next is not ready, so threads wait only at the end, or when they are `ahead_per_thread` jobs
    /// per thread ahead of the result due next. A coordinating thread that slept until results came
    /// back was woken for every segment, each time taking a core from a mapping thread, and on a
    /// virtual machine each wake-up is an interrupt to another virtual CPU. Two threads on the
    /// realistic corpus switched contexts about 1,000 times a run, against 10 now, and runs took 10%
    /// less time on both corpora (`perf stat`).
    ///
    /// With `pin`, each thread is kept on a CPU of its own while it maps, where there are enough
    /// (see [`crate::placement`]).
    fn in_order<S: Clone + Send, J, R: Send>(
        threads: usize,
        ahead_per_thread: usize,
        pin: bool,
        state: &S,
        source: impl FnMut(&mut Vec<u8>) -> Option<J> + Send,
        work: impl Fn(&S, &mut Vec<u8>, J) -> R + Sync,
        mut handle: impl FnMut(usize, R) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let board = Board::new(ahead_per_thread * threads.max(1), source);
        let placement = if pin { Placement::spread(threads) } else { None };
        std::thread::scope(|scope| {
            for thread in 1..threads {
                let (board, work, state, placement) = (&board, &work, state.clone(), placement.as_ref());
                scope.spawn(move || {
                    let _kept = placement.map(|p| p.keep(thread));
                    let _stop_on_panic = StopOnPanic(board);
                    let mut scratch = Vec::new();
                    while let Some((index, job)) = board.claim(&mut scratch, true) {
                        board.finish(index, work(&state, &mut scratch, job));
                    }
                });
            }
            // This thread moves only once it has started the others, so that the first of them can
            // have the CPU it was started on.
            let _kept = placement.as_ref().map(|p| p.keep(0));
            // A panic here must release the other threads too: the scope waits for them before it
            // passes the panic on.
            let _stop_on_panic = StopOnPanic(&board);
            let mut scratch = Vec::new();
            let result = (|| {
                loop {
                    for (index, result) in board.take_ready() {
                        handle(index, result)?;
                    }
                    if board.lock().finished() {
                        return Ok(());
                    }
                    if let Some((index, job)) = board.claim(&mut scratch, false) {
                        board.finish(index, work(state, &mut scratch, job));
                    } else {
                        board.wait_for_next()?;
                    }
                }
            })();
            if result.is_err() {
                board.stop();
            }
            result
        })
    }

    /// What the threads of [`in_order`] share: the source of jobs, and the results not yet handed
    /// over.
    struct Board<F, R> {
        /// Taken by one thread at a time.
        source: Mutex<F>,
        ahead: usize,
        progress: Mutex<Progress<R>>,
        changed: Condvar,
    }

    struct Progress<R> {
        /// Jobs taken from the source.
        claimed: usize,
        /// Whether the source has no more jobs.
        exhausted: bool,
        /// Results that arrived before the one due next, by job.
        done: BTreeMap<usize, R>,
        /// The job whose result is due next.
        next: usize,
        /// Threads waiting on `changed`: it is signalled only when somebody waits.
        sleepers: usize,
        /// Set when the run ends early: an error handling a result, or a mapping thread's panic.
        stopped: bool,
    }

    impl<R> Progress<R> {
        /// Whether every job the source had has been taken and its result handed over.
        fn finished(&self) -> bool {
            self.exhausted && self.next == self.claimed
        }

        /// Whether the result due next has arrived, or none is due.
        fn next_is_due(&self) -> bool {
            self.done.contains_key(&self.next) || self.finished()
        }
    }

    impl<F, R> Board<F, R> {
        fn new(ahead: usize, source: F) -> Board<F, R> {
            let progress =
                Progress { claimed: 0, exhausted: false, done: BTreeMap::new(), next: 0, sleepers: 0, stopped: false };
            Board { source: Mutex::new(source), ahead, progress: Mutex::new(progress), changed: Condvar::new() }
        }

        fn lock(&self) -> MutexGuard<'_, Progress<R>> {
            self.progress.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn wait<'a>(&self, mut progress: MutexGuard<'a, Progress<R>>) -> MutexGuard<'a, Progress<R>> {
            progress.sleepers += 1;
            let mut progress = self.changed.wait(progress).unwrap_or_else(PoisonError::into_inner);
            progress.sleepers -= 1;
            progress
        }

        /// The next job and its number, once it is within reach of the result due next; `None` when
        /// the source has no more or the run stops. With `block`, waits for the job to come within
        /// reach; without it, takes nothing beyond reach.
        fn claim<J>(&self, scratch: &mut Vec<u8>, block: bool) -> Option<(usize, J)>
        where
            F: FnMut(&mut Vec<u8>) -> Option<J>,
        {
            loop {
                {
                    let mut progress = self.lock();
                    while block && !progress.stopped && progress.claimed >= progress.next + self.ahead {
                        progress = self.wait(progress);
                    }
                    if progress.stopped || progress.exhausted || progress.claimed >= progress.next + self.ahead {
                        return None;
                    }
                }
                // The source is held only while a job is taken (a stream's chunk read), never while
                // waiting, so that waiting for it is short.
                let mut source = self.source.lock().unwrap_or_else(PoisonError::into_inner);
                let index = {
                    let progress = self.lock();
                    if progress.stopped || progress.exhausted {
                        return None;
                    }
                    if progress.claimed >= progress.next + self.ahead {
                        // Another thread took the last job within reach meanwhile.
                        continue;
                    }
                    progress.claimed
                };
                let job = source(scratch);
                let mut progress = self.lock();
                return match job {
                    Some(job) => {
                        progress.claimed = index + 1;
                        Some((index, job))
                    }
                    None => {
                        progress.exhausted = true;
                        if progress.sleepers > 0 {
                            self.changed.notify_all();
                        }
                        None
                    }
                };
            }
        }

        fn finish(&self, index: usize, result: R) {
            let mut progress = self.lock();
            progress.done.insert(index, result);
            if progress.sleepers > 0 {
                self.changed.notify_all();
            }
        }

        /// The results due next, in order, that have arrived.
        fn take_ready(&self) -> Vec<(usize, R)> {
            let mut guard = self.lock();
            let progress = &mut *guard;
            let mut ready = Vec::new();
            while let Some(result) = progress.done.remove(&progress.next) {
                ready.push((progress.next, result));
                progress.next += 1;
            }
            if !ready.is_empty() && progress.sleepers > 0 {
                self.changed.notify_all();
            }
            ready
        }

        /// Waits until the result due next has arrived, or the source is found to have no more jobs.
        fn wait_for_next(&self) -> anyhow::Result<()> {
            let mut progress = self.lock();
            while !progress.next_is_due() {
                if progress.stopped {
                    anyhow::bail!("a mapping thread stopped");
                }
                progress = self.wait(progress);
            }
            Ok(())
        }

        fn stop(&self) {
            self.lock().stopped = true;
            self.changed.notify_all();
        }
    }

    /// Stops the run when a mapping thread panics, so that this thread does not wait for its result.
    struct StopOnPanic<'a, F, R>(&'a Board<F, R>);

    impl<F, R> Drop for StopOnPanic<'_, F, R> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.stop();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use std::collections::{HashMap, HashSet};
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Barrier, mpsc};
        use std::time::{Duration, Instant};

        use super::*;

        /// A source of the jobs `0..jobs`.
        fn numbers(jobs: usize) -> impl FnMut(&mut Vec<u8>) -> Option<usize> + Send {
            let mut given = 0..jobs;
            move |_| given.next()
        }

        /// A job's result: its number, and how far it ran ahead of the results handed over when it
        /// started.
        fn run(
            threads: usize,
            ahead_per_thread: usize,
            pin: bool,
            jobs: usize,
            fail_at: Option<usize>,
        ) -> (anyhow::Result<()>, Vec<usize>, u64) {
            let handed = AtomicU64::new(0);
            let ahead = AtomicU64::new(0);
            let mut got = Vec::new();
            let work = |_: &(), _: &mut Vec<u8>, job: usize| {
                ahead.fetch_max(job as u64 - handed.load(Ordering::Relaxed).min(job as u64), Ordering::Relaxed);
                // The first job is slow: without a bound, the others would all be done before it.
                std::thread::sleep(Duration::from_micros(if job == 0 { 20_000 } else { (job as u64 * 37) % 300 }));
                job * 2
            };
            let handle = |job: usize, result: usize| {
                assert_eq!(result, job * 2);
                if Some(job) == fail_at {
                    anyhow::bail!("cannot handle job {job}");
                }
                got.push(job);
                handed.fetch_add(1, Ordering::Relaxed);
                Ok(())
            };
            let result = in_order(threads, ahead_per_thread, pin, &(), numbers(jobs), work, handle);
            (result, got, ahead.into_inner())
        }

        #[test]
        fn results_are_handed_over_in_order_and_threads_stay_within_reach() {
            for (threads, pin) in (1..=4).flat_map(|threads| [(threads, false), (threads, true)]) {
                for ahead_per_thread in [1, 2, 8] {
                    let case = format!("{threads} threads, {ahead_per_thread} ahead, pin {pin}");
                    let (result, got, ahead) = run(threads, ahead_per_thread, pin, 150, None);
                    result.unwrap();
                    assert_eq!(got, (0..150).collect::<Vec<_>>(), "{case}");
                    // Results are taken before they are handled, so a job may start up to twice the
                    // reach past the results handled.
                    let reach = (ahead_per_thread * threads) as u64;
                    assert!(ahead < 2 * reach, "{case}: a job started {ahead} past the results handled");
                }
            }
            let (result, got, _) = run(3, 2, true, 0, None);
            result.unwrap();
            assert!(got.is_empty());
        }

        #[test]
        fn while_the_job_due_next_is_slow_the_others_go_the_whole_reach_past_it_and_no_further() {
            for (threads, ahead_per_thread) in [(2, 1), (2, 8), (3, 2)] {
                let reach = threads * ahead_per_thread;
                let (reached, first_done, beyond) =
                    (AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false));
                let work = |_: &(), _: &mut Vec<u8>, job: usize| {
                    if job == 0 {
                        // The job due next holds out until the last job within reach has started (a
                        // minute at most, so that a run that does not get there while this job lasts
                        // fails rather than hangs), and a little longer, for any thread that would go
                        // past the reach.
                        let deadline = Instant::now() + Duration::from_secs(60);
                        while !reached.load(Ordering::SeqCst) && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        std::thread::sleep(Duration::from_millis(20));
                        first_done.store(true, Ordering::SeqCst);
                    } else if job == reach - 1 {
                        reached.store(!first_done.load(Ordering::SeqCst), Ordering::SeqCst);
                    } else if job >= reach && !first_done.load(Ordering::SeqCst) {
                        beyond.store(true, Ordering::SeqCst);
                    }
                };
                in_order(threads, ahead_per_thread, true, &(), numbers(4 * reach), work, |_, ()| Ok(())).unwrap();
                let case = format!("{threads} threads, {ahead_per_thread} ahead");
                assert!(reached.into_inner(), "{case}: the others stopped short of the reach");
                assert!(!beyond.into_inner(), "{case}: a job past the reach started before the slow one ended");
            }
        }

        #[test]
        fn an_error_or_a_panic_stops_every_thread() {
            for threads in 1..=3 {
                let (result, got, _) = run(threads, 2, true, 150, Some(40));
                assert_eq!(result.unwrap_err().to_string(), "cannot handle job 40");
                assert_eq!(got, (0..40).collect::<Vec<_>>());
                // Whichever thread maps the job that panics, the others stop and the panic comes
                // through. Run apart, so that a hang fails the test instead of stalling it.
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    let panicked = std::panic::catch_unwind(|| {
                        let work = |_: &(), _: &mut Vec<u8>, job| assert_ne!(job, 30, "job 30");
                        in_order(threads, 2, true, &(), numbers(150), work, |_, ()| Ok(()))
                    });
                    tx.send(panicked.is_err())
                });
                let panicked = rx.recv_timeout(Duration::from_secs(60));
                assert_eq!(panicked, Ok(true), "{threads} threads: the panic did not come through");
            }
        }

        #[test]
        fn pinned_threads_map_on_a_cpu_each_and_the_starting_thread_gets_its_cpus_back() {
            let allowed = crate::placement::allowed_cpus();
            for pin in [false, true] {
                // The first two jobs wait for each other, so that each thread maps one of them.
                let first_two = Barrier::new(2);
                let seen = Mutex::new(HashMap::new());
                let work = |_: &(), _: &mut Vec<u8>, job| {
                    if job < 2 {
                        first_two.wait();
                    }
                    let cpus = crate::placement::allowed_cpus();
                    seen.lock().unwrap().entry(std::thread::current().id()).or_insert_with(HashSet::new).insert(cpus);
                };
                in_order(2, 2, pin, &(), numbers(40), work, |_, ()| Ok(())).unwrap();
                assert_eq!(crate::placement::allowed_cpus(), allowed, "pin {pin}: the starting thread's CPUs");
                let seen = seen.into_inner().unwrap();
                assert_eq!(seen.len(), 2, "pin {pin}: threads that mapped");
                let mut cpus: Vec<_> = seen.into_values().flatten().collect();
                cpus.sort();
                match &allowed {
                    Some(all) if pin && all.len() >= 2 => {
                        assert_eq!(cpus.len(), 2, "each thread stays on one set of CPUs: {cpus:?}");
                        assert!(cpus.iter().all(|set| set.as_ref().is_some_and(|set| set.len() == 1)), "{cpus:?}");
                        assert_ne!(cpus[0], cpus[1], "both threads on one CPU");
                        assert!(cpus.iter().flatten().flatten().all(|cpu| all.contains(cpu)), "{cpus:?} of {all:?}");
                    }
                    _ => assert_eq!(cpus, [allowed.clone(), allowed.clone()], "pin {pin}: threads left to the kernel"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_row_writes_its_error_as_the_json_string_of_its_text() {
        // An error quoting a field's value holds quotes, backslashes and control characters.
        let error = "field page_url: \"a\\b\t\u{1}\u{7f}é\" is not a URL";
        let place = Place { input: 0, file: "in \"1\".tsv", line: 7, event: None };
        let row = serde_json::to_string(&BadRow::new(place, Some("e1"), &error)).unwrap();
        // As serde_json writes a string: quotes, backslashes and control characters escaped, the rest
        // (DEL and non-ASCII text among it) as it is.
        let expected = r#"{"file":"in \"1\".tsv","line":7,"event_id":"e1","error":"field page_url: \"a\\b\t\u0001"#;
        assert_eq!(row, format!("{expected}\u{7f}é\\\" is not a URL\"}}"));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&row).unwrap()["error"], error);
    }
}
