//! A busy stream's reads parsed on two threads.
//!
//! A program that writes faster than one thread parses (a flood of access
//! lines) gets each large read cut in two at a line end. A helper thread
//! parses the second half while the stream's own thread parses the first;
//! the helper starts from a guess of the stream's state there: at rest
//! (nothing held back), supervisord seen or not as before the read. Once
//! the first half is done the guess is checked. When it holds, the
//! helper's events follow the first half's and its state becomes the
//! stream's; when it does not (a traceback or a supervisord line across
//! the cut), the second half is parsed again on the stream's thread.
//! Either way a read's events are those one thread makes of it, in order
//! (the parallel `filter` checks its chunks the same way,
//! [`crate::engine::parallel`]).
//!
//! The helpers (`threads` − 1 of them) are shared by every stream of a
//! run and started at the first large read, so an idle `run` has none. A
//! lent half comes back at the stream's next read (or before it waits for
//! one): parsed, or, when no helper has begun it yet (all busy, or asleep
//! and slow to wake), as it went, to be parsed by the stream itself. A
//! stream never waits for a helper that is not working on its half.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::engine::{LineFramer, Output, Pipeline, Stats, StreamState};
use crate::event::{Burst, Stamp};
use crate::trace::feed::Parts;

/// Reads shorter than this are parsed whole: the hand-over (two thread
/// wake-ups) would cost more than the half saves.
pub const SPLIT_AT_LEAST: usize = 128 * 1024;

/// The helper threads of one `logmux run`.
pub struct Helpers {
    count: usize,
    /// The helpers' queue of lent halves, started at the first large read.
    queue: OnceLock<SyncSender<Arc<Slot>>>,
}

impl Helpers {
    /// `count` helpers (none: `None`), started at the first large read.
    pub fn new(count: usize) -> Option<Arc<Helpers>> {
        (count > 0).then(|| {
            Arc::new(Helpers {
                count,
                queue: OnceLock::new(),
            })
        })
    }

    /// Queues `slot`'s half for a helper; false when the queue is full.
    fn give(&self, slot: &Arc<Slot>) -> bool {
        let queue = self.queue.get_or_init(|| self.start());
        queue.try_send(Arc::clone(slot)).is_ok()
    }

    fn start(&self) -> SyncSender<Arc<Slot>> {
        let (tx, rx) = mpsc::sync_channel(self.count);
        let rx = Arc::new(Mutex::new(rx));
        for i in 1..=self.count {
            let rx = Arc::clone(&rx);
            let started = std::thread::Builder::new()
                .name(format!("parse-{i}"))
                .spawn(move || serve(&rx));
            if let Err(e) = started {
                // Its halves are taken back and parsed by their streams.
                tracing::warn!(error = %e, "cannot start parsing helper {i}: {e}");
            }
        }
        tx
    }
}

/// A helper's life: one half after another until the run drops its queue.
fn serve(queue: &Mutex<Receiver<Arc<Slot>>>) {
    loop {
        let next = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(slot) = next else { return };
        slot.parse();
    }
}

/// Where a stream's job is while lent: a helper takes it out to parse it
/// and puts it back; the stream takes it back, parsed or not (a helper
/// that has not begun it would keep the stream waiting: the stream then
/// parses the half itself).
struct Slot {
    job: Mutex<Option<Box<Job>>>,
    /// A helper put the job back.
    back: Condvar,
}

impl Slot {
    fn parse(&self) {
        let taken = self.job.lock().ok().and_then(|mut j| j.take());
        // Taken back by its stream before a helper began it: nothing to do.
        let Some(mut job) = taken else {
            return;
        };
        // A panic (a bug; release builds abort instead) leaves the half
        // unparsed: its stream parses it, rather than wait for it forever.
        let parsing = AssertUnwindSafe(|| out_of_place(&mut job));
        job.parsed = std::panic::catch_unwind(parsing).is_ok();
        if let Ok(mut slot) = self.job.lock() {
            *slot = Some(job);
        }
        self.back.notify_one();
    }

    /// The job, once no helper has it; with `parsed`, once one parsed it.
    /// Also whether that was waited for.
    fn take_back(&self, parsed: bool) -> Option<(Box<Job>, bool)> {
        let mut slot = self.job.lock().ok()?;
        let mut waited = false;
        loop {
            if slot.as_ref().is_some_and(|job| job.parsed || !parsed) {
                return slot.take().map(|job| (job, waited));
            }
            waited = true;
            slot = self.back.wait(slot).ok()?;
        }
    }
}

/// The second half of one read, and what a helper needs to parse it; it
/// goes back to its stream with the events.
pub struct Job {
    /// The stream's second pipeline (same settings, its own counts).
    pipeline: Pipeline,
    /// Resumed from the guess; after the half, the state the stream would
    /// have, had the guess held.
    state: StreamState,
    framer: LineFramer,
    max_line: usize,
    /// Whole lines.
    bytes: Vec<u8>,
    /// The read's stamp, and how its lines after the first came.
    stamp: Stamp,
    burst: Burst,
    /// The supervisord flag the half was parsed from.
    started_seen: bool,
    /// Its encoded events.
    out: Vec<u8>,
    stats: Stats,
    /// A helper parsed it (else it is still to be parsed).
    parsed: bool,
}

impl Job {
    /// The half's events, counts and span parts, taken out (the guess
    /// held).
    pub fn take_events(&mut self) -> (Vec<u8>, Stats, Parts) {
        (
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.stats),
            self.pipeline.take_span_parts(),
        )
    }

    /// The state the half left: the stream's, when the guess held.
    pub fn state_mut(&mut self) -> &mut StreamState {
        &mut self.state
    }

    /// `out`: the buffer for the next half's events.
    pub fn reuse(&mut self, out: Vec<u8>) {
        self.out = out;
    }

    /// Parses the half again with the stream's own `pipeline` and `stream`
    /// state (the guess did not hold), into `out`.
    pub fn parse_here(
        &mut self,
        pipeline: &mut Pipeline,
        stream: &mut StreamState,
        out: &mut dyn Output,
    ) {
        // A helper's span parts go with its events: every job comes home
        // here or through `take_events`, so the next one starts empty.
        self.pipeline.drop_span_parts();
        let mut stamp = self.stamp;
        let burst = self.burst;
        // Clean, as a helper leaves it after whole lines; made so anyway.
        self.framer = LineFramer::new(self.max_line);
        self.framer
            .push_read(&self.bytes, (burst, burst), |line, burst| {
                stamp.burst = burst;
                pipeline.line(stream, line.bytes, line.truncated, &stamp, out);
            });
    }
}

/// A helper's parse of `job`'s half, with the job's own pipeline and state.
fn out_of_place(job: &mut Job) {
    let Job {
        pipeline,
        state,
        framer,
        bytes,
        stamp,
        burst,
        out,
        stats,
        ..
    } = job;
    out.clear();
    // JSON is 2.5 to 5 times the text: no regrowth on the way.
    out.reserve(bytes.len() * 4 + 256);
    let mut stamp = *stamp;
    // The read's lines after its first: the first is in the other half.
    framer.push_read(bytes, (*burst, *burst), |line, burst| {
        stamp.burst = burst;
        pipeline.line(state, line.bytes, line.truncated, &stamp, out);
    });
    *stats = std::mem::take(&mut pipeline.stats);
}

/// One stream's way to its helpers: the job it lends them, and where it
/// comes back.
pub struct Halves {
    helpers: Arc<Helpers>,
    /// At home between reads; `None` while lent.
    job: Option<Box<Job>>,
    /// Where it is while lent.
    slot: Arc<Slot>,
    /// Reads shorter than this are parsed whole.
    split_at_least: usize,
    max_line: usize,
    /// The stream's framer was clean after the lent read's first half.
    first_clean: bool,
    /// Tests: a lent half is always the helper's to parse.
    wait_for_helper: bool,
    /// The first half's share of a read, in thousandths: moved towards
    /// where the stream does not wait for its helper (which shares a core
    /// with the program writing, and starts late when it slept).
    share: usize,
    /// Halves lent; of those, taken back before a helper began them, and
    /// parsed again here (the guess failed).
    pub lent: u64,
    pub taken_back: u64,
    pub parsed_again: u64,
}

/// How one read is cut: the first half (it ends a line) and the rest (the
/// start of a line); the second half, between them, is lent.
pub struct Cut<'b> {
    pub first: &'b [u8],
    pub rest: &'b [u8],
}

impl Halves {
    /// `pipeline` is a second one like the stream's; `state` a stream of
    /// the same origin.
    pub fn new(
        helpers: Arc<Helpers>,
        pipeline: Pipeline,
        state: StreamState,
        max_line: usize,
    ) -> Halves {
        Halves {
            helpers,
            job: Some(Box::new(Job {
                pipeline,
                state,
                framer: LineFramer::new(max_line),
                max_line,
                bytes: Vec::new(),
                stamp: Stamp::now(),
                burst: Burst::Unknown,
                started_seen: false,
                out: Vec::new(),
                stats: Stats::default(),
                parsed: false,
            })),
            slot: Arc::new(Slot {
                job: Mutex::new(None),
                back: Condvar::new(),
            }),
            split_at_least: SPLIT_AT_LEAST,
            max_line,
            first_clean: false,
            wait_for_helper: false,
            share: 500,
            lent: 0,
            taken_back: 0,
            parsed_again: 0,
        }
    }

    /// Cuts reads from `bytes` long (tests: many cuts in small inputs).
    #[cfg(test)]
    pub fn splitting_at_least(mut self, bytes: usize) -> Halves {
        self.split_at_least = bytes;
        self
    }

    /// Tests: lent halves are the helper's to parse, never taken back
    /// unparsed.
    #[cfg(test)]
    pub fn waiting_for_helper(mut self) -> Halves {
        self.wait_for_helper = true;
        self
    }

    /// Cuts `read` in two at a line end (near its middle, or where the
    /// share has moved), and lends the second half to the helpers, to be
    /// parsed from rest with `supervisord_seen`; `None` (nothing lent) when
    /// the read is short, has no such line end, or their queue is full.
    pub fn lend<'b>(
        &mut self,
        read: &'b [u8],
        (stamp, bursts): (&Stamp, (Burst, Burst)),
        supervisord_seen: bool,
    ) -> Option<Cut<'b>> {
        let (first, second, rest) = cut(read, self.split_at_least, self.share)?;
        let mut job = self.job.take()?;
        job.bytes.clear();
        job.bytes.extend_from_slice(second);
        job.stamp = *stamp;
        job.burst = bursts.1;
        job.started_seen = supervisord_seen;
        job.parsed = false;
        job.state.rest(supervisord_seen);
        match self.slot.job.lock() {
            Ok(mut slot) => *slot = Some(job),
            Err(_) => {
                self.job = Some(job);
                return None;
            }
        }
        if self.helpers.give(&self.slot) {
            self.lent += 1;
            return Some(Cut { first, rest });
        }
        // Taken straight back (a helper may have found it through an
        // older entry of the queue: then it is parsed here again anyway).
        let (mut job, _) = self.slot.take_back(false)?;
        job.parsed = false;
        self.job = Some(job);
        None
    }

    /// The first half of the read lent is parsed: the stream's framer is
    /// `clean` or not.
    pub fn first_done(&mut self, clean: bool) {
        self.first_clean = clean;
    }

    /// Whether the guess `job`'s half was parsed from held: after the first
    /// half, `stream` was at a line's start and at rest, with the
    /// supervisord flag the half started with.
    pub fn guess_held(&self, job: &Job, stream: &StreamState) -> bool {
        job.parsed
            && self.first_clean
            && job.framer.is_clean()
            && stream.is_idle()
            && stream.supervisord_seen() == job.started_seen
    }

    /// Whether a half is lent.
    pub fn is_lent(&self) -> bool {
        self.job.is_none()
    }

    /// Whether `rest` after the first half (the framer holding `pending`
    /// bytes) may make a piece of a long line: its event must then wait
    /// for the lent half's.
    pub fn rest_may_emit(&self, pending: usize, rest: usize) -> bool {
        pending + rest >= self.max_line / 2
    }

    /// The lent half, if any: parsed by a helper, or, when none has begun
    /// it, as it was lent (see [`Halves::guess_held`]); waits for a helper that is
    /// parsing it. Put it back home with [`Halves::home`].
    pub fn take_back(&mut self) -> Option<Box<Job>> {
        if self.job.is_some() {
            return None;
        }
        let (job, waited) = self.slot.take_back(self.wait_for_helper)?;
        if !job.parsed {
            self.taken_back += 1;
        }
        self.share = if job.parsed && !waited {
            // Back before it was needed: the helper can take more.
            self.share.saturating_sub(SHARE_STEP).max(MIN_SHARE)
        } else {
            (self.share + SHARE_STEP).min(MAX_SHARE)
        };
        Some(job)
    }

    /// The job back home; `parsed_again`: its half was parsed here.
    pub fn home(&mut self, job: Box<Job>, parsed_again: bool) {
        self.parsed_again += u64::from(parsed_again);
        self.job = Some(job);
    }
}

/// How far the first half's share moves after each read, and its bounds
/// (thousandths of the read).
const SHARE_STEP: usize = 10;
const MIN_SHARE: usize = 200;
const MAX_SHARE: usize = 800;

/// `read` cut at the first line end after `share` thousandths of it: the
/// first half, the second (to its last line end) and the rest; `None` when
/// shorter than `at_least`.
fn cut(read: &[u8], at_least: usize, share: usize) -> Option<(&[u8], &[u8], &[u8])> {
    if read.len() < at_least.max(1) {
        return None;
    }
    let middle = read.len() / 1000 * share.min(1000);
    let first_end = middle + memchr::memchr(b'\n', read.get(middle..)?)? + 1;
    let last_end = memchr::memrchr(b'\n', read)? + 1;
    if last_end <= first_end {
        return None;
    }
    Some((
        read.get(..first_end)?,
        read.get(first_end..last_end)?,
        read.get(last_end..)?,
    ))
}
