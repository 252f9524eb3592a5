//! One child stream: read, frame, parse, encode, queue.
//!
//! Each stdout and stderr pipe gets a task of its own with its own line
//! buffer and multi-line state, so two programs' (or two streams') lines are
//! never merged or spliced. Every read becomes one batch of whole events per
//! sink: the stream's own, and the sink of each format it routes elsewhere
//! (`route = { "uwsgi.request" = "stdout" }`). A line is parsed once; its
//! event is encoded by the sink it goes to. A partial last line is emitted
//! at end of stream, or after `idle_flush` of silence, and a traceback still
//! being assembled the same way.
//!
//! At exit the supervisor may tell the readers to give up (its one
//! shutdown deadline has passed, [`ExitCounts`]): a reader then stops
//! waiting for a full sink, reads what is still in its pipe, and counts
//! every event it could not queue, so nothing leaves uncounted.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use logmux_parsers::Format;
use tokio::net::unix::pipe;

use super::helpers::{Halves, Helpers};
use super::pipe_read::{PipeReader, Read};
use super::ring::Ring;
use super::tap::Tap;
use crate::engine::LineFramer;
use crate::engine::{Output, Pipeline, Settings, StreamState};
use crate::event::{Burst, BurstClock, IoStream, Origin, Stamp};
use crate::metrics::{Counter, Metrics};
use crate::output::Encoder;
use crate::shutdown::Shutdown;
use crate::sink::Batch;
pub use crate::sink::Route;
use crate::trace::infer::Joiner;

/// Read size: large reads keep the per-line cost low under load.
const READ_SIZE: usize = 64 * 1024;

/// Read size of a stream whose reads fill [`READ_SIZE`], when helpers can
/// parse half of each (see [`super::helpers`]).
const BUSY_READ_SIZE: usize = 256 * 1024;

/// Reads of what is left in a pipe after giving up: a pipe holds 64 KiB
/// by default, so this reads it to the end unless something still writes.
const READS_AFTER_GIVING_UP: u32 = 64;

/// What the readers of one `logmux run` tell the supervisor at exit.
#[derive(Clone, Default)]
pub struct ExitCounts {
    /// Triggered at the shutdown deadline: stop waiting, count, and end.
    pub give_up: Shutdown,
    /// Events read (or still in a pipe) that no sink took in time.
    pub not_queued: Arc<AtomicU64>,
    /// Streams whose pipe was still open when told to give up (a process
    /// other than the program kept it).
    pub held_open: Arc<AtomicU64>,
}

/// The sink that the events of one format go to instead of the stream's own.
#[derive(Clone)]
pub struct FormatRoute {
    pub format: Format,
    /// The sink's index in the config: formats routed to one sink share its batch.
    pub sink: usize,
    pub encoder: Encoder,
    pub route: Route,
}

/// One stream of one run of one program.
pub struct StreamReader {
    /// The program's name, for logmux's own messages (`origin` holds its
    /// `service_name`).
    pub program: String,
    pub origin: Origin,
    pub settings: Settings,
    pub max_line: usize,
    pub idle_flush: Duration,
    /// The stream's own sink (its index in the config, and its queue; its
    /// encoder is `settings.encoder`).
    pub sink: usize,
    pub route: Route,
    /// Formats whose events go to another sink.
    pub routes: Vec<FormatRoute>,
    /// Sinks every event also goes to (the stream's `copy`), with their
    /// encoders.
    pub copies: Vec<(Encoder, Route)>,
    /// The program's `merge`: its lines that are logmux events are merged.
    pub merge: bool,
    pub exit: ExitCounts,
    /// The program's tail ring (`logmux ctl tail`); `None` when off.
    pub tail: Option<Arc<Ring>>,
    /// With `[metrics]`: lines and bytes read, and every event, are counted.
    pub metrics: Option<Arc<Metrics>>,
    /// `[trace] join = "infer"`: the join table shared by every stream.
    pub join: Option<Arc<Joiner>>,
    /// The span builder every event is shown to, when a sink sends traces.
    pub spans: Option<Arc<crate::trace::Tracer>>,
    /// The run's parsing helpers, if it has any (`threads`).
    pub helpers: Option<Arc<Helpers>>,
}

impl StreamReader {
    /// Reads `fd` to its end. Returns the number of lines read.
    pub async fn run(self, fd: OwnedFd) -> u64 {
        let name = self.program.clone();
        let which_stream = self.origin.iostream.unwrap_or(IoStream::Stdout);
        let which = which_stream.name();
        let mut rx = match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => PipeReader::new(rx, self.idle_flush),
            Err(e) => {
                tracing::error!(program = %name, stream = which, error = %e, "cannot read {name}'s {which}: {e}");
                return 0;
            }
        };
        let exit = self.exit.clone();
        let input = self.metrics.as_ref().map(|m| InputCounters {
            lines: m.input_lines.with(&[&name, which]),
            bytes: m.input_bytes.with(&[&name, which]),
            counted: 0,
        });
        let mut lines = self.lines(which_stream);
        let mut input = input;
        let mut buf = vec![0u8; READ_SIZE];
        let mut bursts = BurstClock::default();
        // One waiter for the whole stream, not one made and dropped per read.
        let give_up = exit.give_up.triggered();
        tokio::pin!(give_up);
        loop {
            if exit.give_up.is_triggered() {
                // What is left is counted, not parsed (below).
                break;
            }
            if lines.has_lent() && crate::sys::unread_bytes(rx.receiver().as_fd()).unwrap_or(0) == 0
            {
                // The next read would wait: the lent half's events go first.
                lines.settle();
                lines.split.send().await;
                if let Some(c) = &mut input {
                    c.count(0, lines.pipeline.stats.lines);
                }
            }
            // How the read waits for its bytes tells where a burst ends.
            let started = std::time::Instant::now();
            let read = tokio::select! {
                // A read in progress finishes first (its batch is counted
                // if no sink takes it).
                biased;
                read = lines.read(&mut rx, &mut buf) => read,
                () = &mut give_up => break,
            };
            let (n, waiting) = match read {
                None => continue,
                Some(Ok((0, _))) => break,
                Some(Ok(read)) => read,
                Some(Err(e)) => {
                    tracing::error!(program = %name, stream = which, error = %e, "reading {name}'s {which} failed: {e}");
                    break;
                }
            };
            lines.push(&buf[..n], bursts.read_returned(started, waiting));
            if n == buf.len() && buf.len() < BUSY_READ_SIZE && lines.halves.is_some() {
                // The program writes faster than one thread parses: reads
                // large enough to be cut in two.
                buf.resize(BUSY_READ_SIZE, 0);
            }
            if let Some(c) = &mut input {
                c.count(n, lines.pipeline.stats.lines);
            }
            lines.split.send().await;
            if let Some(tracer) = lines.pipeline.spans_behind() {
                // The span builder is behind (not held by a full sink):
                // the program waits, as for a full log sink, and no part
                // of a trace is dropped.
                tokio::select! {
                    biased;
                    () = tracer.room() => {}
                    () = &mut give_up => break,
                }
            }
        }
        if exit.give_up.is_triggered() {
            lines.read_what_is_left(&rx, &mut buf, &exit).await;
        }
        lines.finish();
        lines.split.send().await;
        if let Some(c) = &mut input {
            // A half taken back, and a partial last line, at the end.
            c.count(0, lines.pipeline.stats.lines);
        }
        lines.report_halves(&name, which);
        lines.pipeline.stats.lines
    }

    /// The stream's line state; with helpers when it may use them.
    fn lines(self, which_stream: IoStream) -> Lines {
        let split = Split::new(self.route, self.sink, self.routes, self.exit)
            .with_copies(self.copies)
            .with_tail(self.tail, &self.settings.encoder, which_stream);
        let events = self.metrics.as_ref().map(|m| Arc::clone(&m.events));
        let pipeline = || {
            Pipeline::new(self.settings.clone())
                .for_program(self.merge)
                .joining_bursts()
                .with_metrics(events.clone())
        };
        // The join table sees events in the order they come, and metrics
        // count each event once (a helper's half parsed again would be
        // counted twice): with either, a stream is parsed on one thread,
        // as `filter` does. A helper keeps its span parts until its guess
        // is judged: the builder still sees each event once, in order.
        let one_thread = self.join.is_some() || self.metrics.is_some();
        let halves = self
            .helpers
            .filter(|_| split.is_one_way() && !one_thread)
            .map(|helpers| {
                let state = StreamState::new(self.origin.clone());
                let kept = pipeline().with_kept_spans(self.spans.clone());
                Halves::new(helpers, kept, state, self.max_line)
            });
        Lines {
            framer: LineFramer::new(self.max_line),
            split,
            pipeline: pipeline().with_join(self.join).with_spans(self.spans),
            state: StreamState::new(self.origin),
            halves,
        }
    }
}

/// A stream's `logmux_input_*` counters.
struct InputCounters {
    lines: Arc<Counter>,
    bytes: Arc<Counter>,
    /// The pipeline's line count when last counted.
    counted: u64,
}

impl InputCounters {
    fn count(&mut self, bytes: usize, lines: u64) {
        self.bytes.add(bytes as u64);
        self.lines.add(lines.saturating_sub(self.counted));
        self.counted = lines;
    }
}

/// One stream's line state: its framer, and its pipeline and per-stream
/// state (multi-line events, parsing, encoding), and the batches being
/// filled for its sinks.
struct Lines {
    framer: LineFramer,
    split: Split,
    pipeline: Pipeline,
    state: StreamState,
    /// With helpers, and a stream whose events all go one way: large
    /// reads are parsed half on a helper.
    halves: Option<Halves>,
}

impl Lines {
    /// The next read (its length, and whether its bytes were waiting);
    /// `None` after `idle_flush` of silence with something held back (which
    /// is then emitted).
    async fn read(
        &mut self,
        rx: &mut PipeReader,
        buf: &mut [u8],
    ) -> Option<std::io::Result<(usize, bool)>> {
        match rx.read(buf, self.is_pending()).await {
            Read::Bytes(n, waiting) => Some(Ok((n, waiting))),
            Read::Failed(e) => Some(Err(e)),
            Read::Idle => {
                self.finish();
                self.split.send().await;
                None
            }
        }
    }

    /// After giving up: reads what is in the pipe now, without waiting
    /// (straight from the descriptor, not the runtime's idea of readiness),
    /// so that its events are counted.
    async fn read_what_is_left(&mut self, rx: &PipeReader, buf: &mut [u8], exit: &ExitCounts) {
        use std::os::fd::AsRawFd;
        let mut left = LeftLines::default();
        for _ in 0..READS_AFTER_GIVING_UP {
            match nix::unistd::read(rx.receiver().as_raw_fd(), buf) {
                Ok(0) => return left.count(exit),
                // No sink takes more now: count the lines, without parsing
                // them (a slow machine would outlast the give-up grace and
                // the reader would be aborted before it counted), but the
                // one whose start is held: it becomes its event whole.
                Ok(n) => {
                    let rest = self.complete_held_line(&buf[..n]);
                    left.add(rest);
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(_) => return left.count(exit),
            }
        }
        left.count(exit);
        // Empty for now, or still filling: some process holds it open.
        exit.held_open.fetch_add(1, Ordering::Relaxed);
    }

    /// With the start of a line held back, the bytes up to its newline
    /// finish it (it is then encoded like any other); returns the rest.
    fn complete_held_line<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        if self.framer.pending() == 0 {
            return bytes;
        }
        let end = memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1);
        // After the deadline nothing is known of how it was written.
        self.push(&bytes[..end], (Burst::Unknown, Burst::Unknown));
        &bytes[end..]
    }

    /// A partial line or a multi-line event is held back.
    fn is_pending(&self) -> bool {
        self.framer.pending() > 0 || self.state.is_pending()
    }

    /// Encodes the events of one read; every line in it was read now.
    /// `bursts`: how the read's first line came, and its others. A large
    /// read is parsed half here and half on a helper when one is free.
    fn push(&mut self, bytes: &[u8], bursts: (Burst, Burst)) {
        self.push_at(bytes, bursts, Stamp::now());
    }

    /// [`Lines::push`] of a read made at `stamp`. A half lent to a helper
    /// comes back at the next read, or before the stream waits or ends
    /// ([`Lines::settle`]).
    fn push_at(&mut self, bytes: &[u8], bursts: (Burst, Burst), stamp: Stamp) {
        self.settle();
        let own = &mut self.split.own;
        if own.bytes.capacity() == 0 {
            own.bytes = own.route.queue.spare();
        }
        // JSON is 2.5 to 5 times the text: fewer regrowths.
        own.bytes.reserve(bytes.len() * 3 + 256);
        let seen = self.state.supervisord_seen();
        let lent = match &mut self.halves {
            Some(halves) => halves.lend(bytes, (&stamp, bursts), seen),
            None => None,
        };
        let Some(cut) = lent else {
            self.parse(bytes, bursts, &stamp);
            self.pipeline.hand_spans();
            return;
        };
        self.parse(cut.first, bursts, &stamp);
        let pending = self.framer.pending();
        if let Some(halves) = &mut self.halves {
            halves.first_done(self.framer.is_clean());
            if halves.rest_may_emit(pending, cut.rest.len()) {
                // A piece of a long line: after the lent half's events.
                self.settle();
            }
        }
        self.parse(cut.rest, (bursts.1, bursts.1), &stamp);
        self.pipeline.hand_spans();
    }

    /// Takes back the half lent to a helper, if any: its events follow
    /// those so far when its guess held, else it is parsed here.
    fn settle(&mut self) {
        let Some(halves) = &mut self.halves else {
            return;
        };
        let Some(mut job) = halves.take_back() else {
            return;
        };
        let held = halves.guess_held(&job, &self.state);
        if held {
            let (events, stats, mut parts) = job.take_events();
            self.state.take_over(job.state_mut());
            self.pipeline.stats += stats;
            // After the first half's parts, as one thread would have them.
            self.pipeline.adopt_span_parts(&mut parts);
            let spare = self.split.follow_with(events, stats.events);
            let spare = match spare.capacity() {
                0 => self.split.own.route.queue.spare(),
                _ => spare,
            };
            job.reuse(spare);
        } else {
            job.parse_here(&mut self.pipeline, &mut self.state, &mut self.split);
        }
        halves.home(job, !held);
    }

    /// At the stream's end, for `--verbose`: how many reads were parsed
    /// in halves.
    fn report_halves(&self, name: &str, which: &str) {
        let Some(h) = self.halves.as_ref().filter(|h| h.lent > 0) else {
            return;
        };
        let wrong_guesses = h.parsed_again.saturating_sub(h.taken_back);
        tracing::debug!(
            program = %name,
            stream = which,
            halves_lent = h.lent,
            halves_taken_back = h.taken_back,
            halves_parsed_again = h.parsed_again,
            "{name}'s {which}: {} reads parsed half on a helper ({} taken back before a helper began them, {wrong_guesses} parsed again after a wrong guess)",
            h.lent,
            h.taken_back,
        );
    }

    /// A half is out with a helper.
    fn has_lent(&self) -> bool {
        self.halves.as_ref().is_some_and(Halves::is_lent)
    }

    /// Parses `bytes` here, in order.
    fn parse(&mut self, bytes: &[u8], bursts: (Burst, Burst), stamp: &Stamp) {
        let mut stamp = *stamp;
        let (pipeline, state, split) = (&mut self.pipeline, &mut self.state, &mut self.split);
        self.framer.push_read(bytes, bursts, |line, line_burst| {
            stamp.burst = line_burst;
            pipeline.line(state, line.bytes, line.truncated, &stamp, split);
        });
    }

    /// Encodes the partial last line and whatever multi-line event is held:
    /// at the end of the stream, or after `idle_flush` of silence.
    fn finish(&mut self) {
        self.finish_at(Stamp::now());
    }

    /// [`Lines::finish`] at `stamp`.
    fn finish_at(&mut self, stamp: Stamp) {
        self.settle();
        let (pipeline, state, split) = (&mut self.pipeline, &mut self.state, &mut self.split);
        self.framer
            .finish(|line| pipeline.line(state, line.bytes, line.truncated, &stamp, split));
        pipeline.flush(state, split);
        pipeline.hand_spans();
    }
}

/// The lines of what is left in a pipe after giving up, counted unparsed:
/// each newline ends one, and bytes after the last newline are one more
/// (at the end of the stream, an unfinished line is an event too).
#[derive(Default)]
struct LeftLines {
    lines: u64,
    /// The last byte seen was not a newline.
    unfinished: bool,
}

impl LeftLines {
    fn add(&mut self, bytes: &[u8]) {
        if let Some(&last) = bytes.last() {
            self.lines += memchr::memchr_iter(b'\n', bytes).count() as u64;
            self.unfinished = last != b'\n';
        }
    }

    /// Adds the lines to the events not queued.
    fn count(&self, exit: &ExitCounts) {
        let lines = self.lines + u64::from(self.unfinished);
        exit.not_queued.fetch_add(lines, Ordering::Relaxed);
    }
}

/// The batches of one read, one per sink, each with the encoder of its sink.
struct Split {
    own: Pending,
    /// Format → index into `routed`; none for formats that stay.
    formats: Vec<(Format, usize)>,
    routed: Vec<Pending>,
    /// Every event also goes to these (encoder always set).
    copies: Vec<Pending>,
    exit: ExitCounts,
    /// The program's tail ring gets every event too.
    tap: Option<Tap>,
}

/// A batch being filled for one sink.
struct Pending {
    /// `None`: the pipeline's (the stream's own sink's) encoder.
    encoder: Option<Encoder>,
    route: Route,
    bytes: Vec<u8>,
    events: u32,
}

impl Pending {
    fn new(encoder: Option<Encoder>, route: Route) -> Pending {
        Pending {
            encoder,
            route,
            bytes: Vec::new(),
            events: 0,
        }
    }

    /// Queues what was encoded since the last send, if anything; once told
    /// to give up, a batch the sink does not take at once is counted.
    async fn send(&mut self, exit: &ExitCounts) {
        if self.bytes.is_empty() {
            return;
        }
        let events = self.events;
        let batch = Batch {
            bytes: std::mem::take(&mut self.bytes),
            events: std::mem::take(&mut self.events),
            key: None,
        };
        tokio::select! {
            // A push either puts the batch in the queue within one poll or
            // waits: dropped while waiting, it was not queued.
            biased;
            () = self.route.send(batch) => {}
            () = exit.give_up.triggered() => {
                exit.not_queued.fetch_add(u64::from(events), Ordering::Relaxed);
            }
        }
    }
}

impl Split {
    /// `own_sink` is the stream's own sink: a route there changes nothing.
    fn new(own: Route, own_sink: usize, routes: Vec<FormatRoute>, exit: ExitCounts) -> Split {
        let mut split = Split {
            own: Pending::new(None, own),
            formats: Vec::new(),
            routed: Vec::new(),
            copies: Vec::new(),
            exit,
            tap: None,
        };
        let mut sinks: Vec<usize> = Vec::new();
        for r in routes {
            if r.sink == own_sink {
                continue;
            }
            let i = match sinks.iter().position(|&s| s == r.sink) {
                Some(i) => i,
                None => {
                    sinks.push(r.sink);
                    split.routed.push(Pending::new(Some(r.encoder), r.route));
                    split.routed.len() - 1
                }
            };
            split.formats.push((r.format, i));
        }
        split
    }

    fn with_copies(mut self, copies: Vec<(Encoder, Route)>) -> Split {
        self.copies = copies
            .into_iter()
            .map(|(encoder, route)| Pending::new(Some(encoder), route))
            .collect();
        self
    }

    /// Every event also goes to `ring`: the JSON a target encodes when
    /// every target is JSON (`own` is the stream's own encoder), else an
    /// encoding of its own.
    fn with_tail(mut self, ring: Option<Arc<Ring>>, own: &Encoder, stream: IoStream) -> Split {
        let targets =
            std::iter::once(own).chain(self.routed.iter().filter_map(|p| p.encoder.as_ref()));
        let all_json = targets.clone().all(Tap::reads);
        self.tap = ring.map(|ring| Tap::new(ring, stream, (!all_json).then_some(own)));
        self
    }

    /// Only the stream's own sink gets its events, and the tail ring, if
    /// any, reads them there: events encoded elsewhere can be appended.
    fn is_one_way(&self) -> bool {
        self.routed.is_empty()
            && self.copies.is_empty()
            && self.tap.as_ref().is_none_or(|t| !t.encodes())
    }

    /// `events` events encoded elsewhere for the stream's own sink follow
    /// those so far: `bytes` becomes the batch when nothing waits to be
    /// sent (the usual case: the batch before was just sent), else is
    /// appended to it. Gives back a buffer for the next ones.
    fn follow_with(&mut self, bytes: Vec<u8>, events: u64) -> Vec<u8> {
        let events = u32::try_from(events).unwrap_or(u32::MAX);
        if let Some(tap) = &mut self.tap {
            tap.mark_many(0, events);
        }
        let own = &mut self.own;
        own.events = own.events.saturating_add(events);
        if own.bytes.is_empty() {
            return std::mem::replace(&mut own.bytes, bytes);
        }
        own.bytes.extend_from_slice(&bytes);
        bytes
    }

    /// Queues each sink's batch: the stream's own first. Each sink gets its
    /// events in the order they were read; `on_full` applies per sink.
    async fn send(&mut self) {
        if let Some(tap) = &mut self.tap {
            let routed = self.routed.iter().map(|p| &p.bytes[..]);
            tap.take(&self.own.bytes, routed);
        }
        self.own.send(&self.exit).await;
        for p in self.routed.iter_mut().chain(&mut self.copies) {
            p.send(&self.exit).await;
        }
    }
}

impl Output for Split {
    #[inline]
    fn target(&mut self, format: Format) -> (Option<&Encoder>, &mut Vec<u8>) {
        let i = self
            .formats
            .iter()
            .find(|(f, _)| *f == format)
            .map(|&(_, i)| i);
        let (p, target) = match i.and_then(|i| Some((self.routed.get_mut(i)?, i + 1))) {
            Some(found) => found,
            None => (&mut self.own, 0),
        };
        if let Some(tap) = &mut self.tap {
            tap.mark(target);
        }
        p.events = p.events.saturating_add(1);
        (p.encoder.as_ref(), &mut p.bytes)
    }

    #[inline]
    fn copy(&mut self, i: usize) -> Option<(&Encoder, &mut Vec<u8>)> {
        if i == self.copies.len() {
            return self.tap.as_mut()?.own_encoding();
        }
        let p = self.copies.get_mut(i)?;
        p.events = p.events.saturating_add(1);
        Some((p.encoder.as_ref()?, &mut p.bytes))
    }
}

#[cfg(test)]
#[path = "stream_halves_tests.rs"]
mod halves_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(chunks: &[&[u8]]) -> u64 {
        let exit = ExitCounts::default();
        let mut left = LeftLines::default();
        for c in chunks {
            left.add(c);
        }
        left.count(&exit);
        exit.not_queued.load(Ordering::Relaxed)
    }

    #[test]
    fn lines_left_in_a_pipe_count_an_unfinished_one_once() {
        assert_eq!(counted(&[]), 0);
        assert_eq!(counted(&[b"a\nb\n"]), 2);
        assert_eq!(counted(&[b"a\nb"]), 2);
        // A line cut between two reads is one line.
        assert_eq!(counted(&[b"a\nbb", b"b\n"]), 2);
        assert_eq!(counted(&[b"a\nbb", b"b", b""]), 2);
        assert_eq!(counted(&[b"\n\n"]), 2);
    }
}
