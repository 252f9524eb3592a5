//! `logmux filter`: any mixed log stream in, one JSON event per line out.
//!
//! Reads stdin or files with large reads, frames lines, undoes Docker's
//! wrappers, and runs every line through the pipeline into one output
//! buffer that is written in large blocks of whole events. When reading a
//! pipe, it flushes after every read (low latency for `docker logs -f`) and,
//! if a traceback or a partial line is held back and nothing more arrives
//! for the idle timeout, emits it anyway.
//!
//! With `--sink NAME` the same blocks of events go, one batch each, to that
//! sink's queue instead (see [`crate::sink`]): a file with rotation,
//! syslog, stderr or null, with the sink's `on_full` policy and counts.
//!
//! With `-f` the one file named is followed as `tail -F` does ([`follow`]).
//!
//! A regular file ([`parallel`]) or a pipe ([`pipe`]) is parsed on
//! `--threads` workers unless something must see every event in order on
//! one thread: `-f`, metrics, `--trace-join infer`, a sink that builds
//! spans; a terminal is read on one thread too.
//!
//! TERM or INT (Ctrl-C) end the input as its end would: what was read,
//! and what a pipe held at the stop (its writer wrote it before), is
//! parsed; the input is let go (its writer gets EPIPE from then on); held
//! tracebacks and lines are emitted, and the sink delivers what it holds
//! (within [`SINK_DRAIN_TIMEOUT`]) before `filter` exits 0; a second
//! signal ends it at once, by that signal. `-f` and `docker logs -f` have
//! no other end.

mod follow;
mod parallel;
mod pipe;

pub use parallel::ParseThreadPanicked;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logmux_parsers::docker;

use crate::engine::Input;
use crate::engine::{Pipeline, Settings};
use crate::event::{BurstClock, Origin, Stamp};
use crate::metrics::{http, Counter, Metrics, MetricsSpec};
use crate::shutdown::signals::{AtSecond, StopSignals};
use crate::shutdown::Shutdown;
use crate::sink::spec::SinkSpec;
use crate::sink::{Batch, Route, StartedSinks};

/// Everything `filter` needs, resolved from flags and the config file.
#[derive(Debug)]
pub struct FilterJob {
    /// Files to read in order; empty means stdin.
    pub inputs: Vec<PathBuf>,
    pub settings: Settings,
    pub max_line_bytes: usize,
    pub idle_flush: Duration,
    /// Print the counters as a logmux event on stderr at the end.
    pub stats: bool,
    /// Write to this sink instead of stdout (`--sink NAME`); its encoder is
    /// `settings.encoder`.
    pub sink: Option<SinkSpec>,
    /// Follow the files as `tail -F` does (`-f`): read on at their end,
    /// across rotation and truncation, until stopped.
    pub follow: bool,
    /// `[metrics]` or `--metrics-listen`: count into `/metrics`.
    pub metrics: Option<MetricsSpec>,
    /// `--trace-join infer`: join request lines that log no id.
    pub trace_join: crate::trace::infer::JoinMode,
    /// `[trace]`: the span builder's settings, when the sink sends traces.
    pub trace: crate::trace::TraceSpec,
    /// Threads that parse a regular file or a pipe (`--threads`; 1: the reading one).
    pub threads: usize,
}

/// How a filter run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every input was read to the end.
    Done,
    /// The reader went away (`logmux filter | head`): a graceful end.
    OutputClosed,
    /// Some inputs could not be read; the others were.
    InputErrors(usize),
}

const READ_SIZE: usize = 256 * 1024;
const WRITE_SIZE: usize = 128 * 1024;

/// How long the end of a run waits for a sink to write what it holds.
const SINK_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// An input that may stall is waited on this long at a time, so that a
/// stop (TERM, INT) is seen while nothing comes.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Why one input stopped early.
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// Reading this input failed: report it and go on with the next.
    #[error("cannot read {0}")]
    Read(#[source] io::Error),
    /// Writing the output failed (not a closed reader): stop.
    #[error("cannot write the output")]
    Write(#[source] io::Error),
    /// A parsing thread panicked: stop.
    #[error(transparent)]
    Bug(ParseThreadPanicked),
}

/// Runs a filter job to the end of its inputs.
pub fn run(mut job: FilterJob) -> anyhow::Result<Outcome> {
    let signals = StopSignals::start(SINK_DRAIN_TIMEOUT, AtSecond::Die)
        .map_err(|e| anyhow::anyhow!("cannot watch TERM and INT: {e}"))?;
    let mut out = match job.sink.take() {
        None => Writer::stdout(),
        Some(spec) => Writer::sink(&spec)?,
    };
    let metrics = match job.metrics.take() {
        Some(spec) => Some(start_metrics(&spec, &out)?),
        None => None,
    };
    let tracer = match &out.to {
        Destination::Sink { spec, .. } => {
            let statics = job.settings.encoder.resource.as_deref().unwrap_or(&[]);
            let zone = job.settings.encoder.zone;
            crate::trace::Tracer::start(std::slice::from_ref(spec), &job.trace, statics, zone)?
        }
        Destination::Stdout(_) => None,
    };
    let stop = &signals.requested;
    let result = filter_all(job, &mut out, metrics.as_deref(), tracer.clone(), stop);
    // The traces still waiting are sent before the sink closes.
    let spans_missing = tracer.map_or(0, |t| {
        t.close(std::time::Instant::now() + SINK_DRAIN_TIMEOUT)
    });
    let missing = out.close() + spans_missing;
    let outcome = result?;
    if missing > 0 {
        anyhow::bail!("{missing} events were not written to the sink");
    }
    Ok(outcome)
}

/// The metrics of this run, with the sink (if any) and the listener.
fn start_metrics(spec: &MetricsSpec, out: &Writer) -> anyhow::Result<Arc<Metrics>> {
    let metrics = Metrics::new(spec);
    if let Destination::Sink { sinks, .. } = &out.to {
        let queues = sinks
            .handles()
            .iter()
            .map(|h| (h.name.clone(), Arc::clone(&h.queue)))
            .collect();
        metrics.add_sinks(queues);
    }
    if let Some(addr) = spec.listen {
        http::start(addr, Arc::clone(&metrics))
            .map_err(|e| anyhow::anyhow!("metrics: cannot listen on {addr}: {e}"))?;
    }
    Ok(metrics)
}

/// Filters every input of `job` in order into `out`.
fn filter_all(
    job: FilterJob,
    out: &mut Writer,
    metrics: Option<&Metrics>,
    spans: Option<Arc<crate::trace::Tracer>>,
    stop: &Shutdown,
) -> anyhow::Result<Outcome> {
    // Metrics, the join and spans see events as they are parsed: in order
    // only on one thread.
    let threads = if job.follow
        || metrics.is_some()
        || spans.is_some()
        || job.trace_join == crate::trace::infer::JoinMode::Infer
    {
        1
    } else {
        job.threads
    };
    let settings = job.settings.clone();
    let mut pipeline = Pipeline::new(job.settings)
        .joining_bursts()
        .with_metrics(metrics.map(|m| Arc::clone(&m.events)))
        .with_join(
            (job.trace_join == crate::trace::infer::JoinMode::Infer)
                .then(|| Arc::new(crate::trace::infer::Joiner::from_spec(&job.trace))),
        )
        .with_spans(spans);
    let mut failed = 0;
    // Chunks whose guess did not hold, parsed again (`--stats`).
    let mut reparsed = 0;
    let inputs: Vec<Option<PathBuf>> = if job.inputs.is_empty() {
        vec![None]
    } else {
        // `-` names stdin, as for cat.
        job.inputs
            .into_iter()
            .map(|p| (p.as_os_str() != "-").then_some(p))
            .collect()
    };
    for input in inputs {
        if stop.is_triggered() {
            break;
        }
        let (mut reader, origin, name): (Box<dyn ReadFd>, Origin, String) = match &input {
            None => (
                Box::new(io::stdin()),
                Origin::default(),
                "stdin".to_string(),
            ),
            Some(path) => match open(path, job.follow) {
                Ok(file) => {
                    let shown = path.display().to_string();
                    let origin = Origin {
                        container_id: docker::container_id_from_path(&shown).map(str::to_string),
                        file: Some(shown.clone()),
                        ..Origin::default()
                    };
                    (file, origin, shown)
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot open input {}: {e}", path.display());
                    failed += 1;
                    continue;
                }
            },
        };
        let counters = metrics.map(|m| {
            let labels = [name.as_str(), ""];
            (m.input_lines.with(&labels), m.input_bytes.with(&labels))
        });
        let limits = (job.max_line_bytes, threads, job.idle_flush, stop);
        let ends = (&settings, &mut pipeline, &mut *out, &mut reparsed);
        let step = filter_input(reader.as_mut(), origin, limits, ends, counters);
        if stop.is_triggered() {
            let_go(reader, &name, input.is_none());
        }
        match step {
            Ok(true) => {}
            Ok(false) => {
                return Ok(finish(
                    &pipeline,
                    job.stats,
                    Outcome::OutputClosed,
                    reparsed,
                ))
            }
            Err(StepError::Read(e)) => {
                tracing::error!(file = %name, error = %e, "cannot read {name}: {e}");
                failed += 1;
            }
            Err(e @ StepError::Write(_)) => return Err(e.into()),
            // Kept as itself: its exit code tells it apart.
            Err(StepError::Bug(bug)) => return Err(bug.into()),
        }
    }
    let outcome = if failed > 0 {
        Outcome::InputErrors(failed)
    } else {
        Outcome::Done
    };
    Ok(finish(&pipeline, job.stats, outcome, reparsed))
}

/// After a stop, the input is let go at once (stdin pointed at
/// `/dev/null`; a file closed), before a sink's last delivery, which may
/// take seconds: a pipe's writers then get EPIPE instead of writing into a
/// pipe that is dropped unread at the exit. What came into the pipe after
/// what the stop read is warned of: a floor, as a write can still land in
/// the moment before the close.
fn let_go(reader: Box<dyn ReadFd>, name: &str, stdin: bool) {
    let left = reader.bytes_held();
    if left > 0 {
        tracing::warn!(input = %name, unread_bytes = left, "{left} bytes came into {name} after the stop and were not read");
    }
    drop(reader);
    if stdin {
        if let Err(e) = crate::sys::stdin_to_dev_null() {
            tracing::warn!(error = %e, "cannot close stdin after the stop: {e}");
        }
    }
}

/// Filters one input on `threads` workers where it can be cut (a regular
/// file, a pipe), else on this thread; false when the output was closed.
fn filter_input(
    reader: &mut dyn ReadFd,
    origin: Origin,
    (max_line, threads, idle, stop): (usize, usize, Duration, &Shutdown),
    (settings, pipeline, out, reparsed): (&Settings, &mut Pipeline, &mut Writer, &mut u64),
    counters: Option<(Arc<Counter>, Arc<Counter>)>,
) -> Result<bool, StepError> {
    if threads > 1 && !reader.may_stall() {
        let sizes = (max_line, threads);
        let ends = (settings, pipeline, out, reparsed);
        return parallel::filter_file(reader, &origin, sizes, stop, ends);
    }
    if let Some(pipe) = (threads > 1).then(|| reader.pipe()).flatten() {
        let sizes = (max_line, threads, idle);
        let ends = (settings, pipeline, out, reparsed);
        return pipe::filter_pipe(pipe, &origin, sizes, stop, ends);
    }
    let limits = (max_line, idle, stop);
    filter_one(reader, origin, limits, pipeline, out, counters)
}

/// `reparsed`: chunks parsed again on the reading thread (`--threads`).
fn finish(pipeline: &Pipeline, stats: bool, outcome: Outcome, reparsed: u64) -> Outcome {
    let s = pipeline.stats;
    if stats {
        tracing::info!(
            lines = s.lines,
            chunks_reparsed = reparsed,
            events = s.events,
            empty_lines = s.empty_lines,
            truncated_pieces = s.truncated_pieces,
            invalid_utf8 = s.invalid_utf8,
            parse_errors = s.parse_errors,
            merged = s.merged,
            "filter done: {} lines in, {} events out, {} empty lines skipped",
            s.lines,
            s.events,
            s.empty_lines
        );
    }
    outcome
}

/// Waits for `ready` (asked with how long it may wait) in slices of
/// [`STOP_POLL`], so that a stop is seen while nothing comes, for up to
/// `limit` (`None`: until ready or stopped); false when the limit passed
/// or the input stops.
fn wait_unless_stopped(
    stop: &Shutdown,
    limit: Option<Duration>,
    mut ready: impl FnMut(Duration) -> io::Result<bool>,
) -> io::Result<bool> {
    // A limit past what the clock can hold is none.
    let deadline = limit.and_then(|l| Instant::now().checked_add(l));
    loop {
        let left = deadline.map_or(STOP_POLL, |d| d.saturating_duration_since(Instant::now()));
        if stop.is_triggered() || left.is_zero() {
            return Ok(false);
        }
        if ready(left.min(STOP_POLL))? {
            return Ok(true);
        }
    }
}

/// The next read; `None` once `stop` is triggered. An input that may stall
/// is read only once it is readable (`ready`: it was just now), so that a
/// stop is seen while it is silent.
fn read_unless_stopped(
    reader: &mut dyn ReadFd,
    buf: &mut [u8],
    (stalls, mut ready): (bool, bool),
    stop: &Shutdown,
) -> io::Result<Option<usize>> {
    loop {
        let readable = ready || !stalls || wait_unless_stopped(stop, None, |t| reader.wait(t))?;
        if !readable || stop.is_triggered() {
            return Ok(None);
        }
        ready = false;
        match reader.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// What a stop reads of an input: the `held` bytes its pipe held then
/// (written before the stop), and, if they or the reads before them
/// (`ends_line`: they ended a line) stop inside a line, the rest of it.
pub(crate) fn read_at_stop<R: Read + ?Sized>(
    reader: &mut R,
    (held, ends_line): (usize, bool),
    mut ready: impl FnMut(&mut R) -> bool,
    max_line: usize,
) -> Vec<u8> {
    let mut bytes = read_held(reader, &mut ready, held);
    if !bytes.last().map_or(ends_line, |&b| b == b'\n') {
        bytes.extend(rest_of_line(reader, ready, max_line));
    }
    bytes
}

/// At a stop: the `held` bytes a pipe held (see [`crate::sys::bytes_held`]),
/// fewer if it ends or fails first, or if `ready` says a read would wait
/// (another reader of the same pipe took them). A writer that goes on
/// writing does not hold the stop up: no more than was there is read.
fn read_held<R: Read + ?Sized>(
    reader: &mut R,
    mut ready: impl FnMut(&mut R) -> bool,
    held: usize,
) -> Vec<u8> {
    let mut bytes = vec![0u8; held];
    let mut got = 0;
    while got < held && ready(reader) {
        let Some(into) = bytes.get_mut(got..) else {
            break;
        };
        match reader.read(into) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    bytes.truncate(got);
    bytes
}

/// At a stop inside a line: the rest of it, read in small pieces while
/// `ready` says a read would not wait, up to its newline (kept; what the
/// last piece holds after it is not) or `max` bytes or the end. So a stop
/// cuts no line that could be read whole.
pub(crate) fn rest_of_line<R: Read + ?Sized>(
    reader: &mut R,
    mut ready: impl FnMut(&mut R) -> bool,
    max: usize,
) -> Vec<u8> {
    let mut line = Vec::new();
    let mut piece = [0u8; 512];
    while line.len() < max && ready(reader) {
        let n = match reader.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let got = piece.get(..n).unwrap_or_default();
        match memchr::memchr(b'\n', got) {
            Some(end) => {
                line.extend_from_slice(got.get(..=end).unwrap_or_default());
                break;
            }
            None => line.extend_from_slice(got),
        }
    }
    line
}

/// Opens a file to read to its end, or to follow (`-f`).
fn open(path: &std::path::Path, follow: bool) -> io::Result<Box<dyn ReadFd>> {
    Ok(if follow {
        Box::new(follow::Follow::open(path)?)
    } else {
        Box::new(File::open(path)?)
    })
}

/// A readable input that can be waited on.
trait ReadFd: Read {
    /// Waits up to `idle` for bytes to read; false when none came.
    fn wait(&mut self, idle: Duration) -> io::Result<bool>;
    /// Pipes, terminals and followed files can stall; regular files cannot.
    fn may_stall(&self) -> bool;
    /// Bytes a pipe or socket holds for its reader (0 for files).
    fn bytes_held(&self) -> usize {
        0
    }
    /// Whether bytes are waiting to be read right now.
    fn ready_now(&mut self) -> bool {
        self.wait(Duration::ZERO).unwrap_or(true)
    }
    /// A pipe (or socket) to read on a thread of its own for `--threads`:
    /// not a terminal (typed lines gain nothing), not a followed file.
    fn pipe(&self) -> Option<File> {
        None
    }
}

/// The descriptor again, unless it is a terminal.
fn pipe_of(fd: std::os::fd::BorrowedFd<'_>) -> Option<File> {
    use std::io::IsTerminal;
    if fd.is_terminal() {
        return None;
    }
    fd.try_clone_to_owned().ok().map(File::from)
}

impl ReadFd for io::Stdin {
    fn wait(&mut self, idle: Duration) -> io::Result<bool> {
        Ok(crate::sys::wait_readable(self.as_fd(), idle))
    }
    fn may_stall(&self) -> bool {
        !crate::sys::is_regular_file(self)
    }
    fn bytes_held(&self) -> usize {
        crate::sys::bytes_held(self)
    }
    fn pipe(&self) -> Option<File> {
        pipe_of(self.as_fd())
    }
}

impl ReadFd for File {
    fn wait(&mut self, idle: Duration) -> io::Result<bool> {
        Ok(crate::sys::wait_readable(self.as_fd(), idle))
    }
    fn may_stall(&self) -> bool {
        !crate::sys::is_regular_file(self)
    }
    fn bytes_held(&self) -> usize {
        crate::sys::bytes_held(self)
    }
    fn pipe(&self) -> Option<File> {
        pipe_of(self.as_fd())
    }
}

impl ReadFd for follow::Follow {
    fn wait(&mut self, idle: Duration) -> io::Result<bool> {
        self.wait_for(idle)
    }
    fn may_stall(&self) -> bool {
        true
    }
}

/// Filters one input; false when the output was closed.
/// `counters`: the input's lines and bytes, when metrics are on.
fn filter_one(
    reader: &mut dyn ReadFd,
    origin: Origin,
    (max_line, idle, stop): (usize, Duration, &Shutdown),
    pipeline: &mut Pipeline,
    out: &mut Writer,
    counters: Option<(Arc<Counter>, Arc<Counter>)>,
) -> Result<bool, StepError> {
    let mut lines_counted = pipeline.stats.lines;
    let stalls = reader.may_stall();
    let mut input = Input::new(origin, max_line);
    if stalls {
        input = input.live();
    }
    let mut buf = vec![0u8; READ_SIZE];
    let mut bursts = BurstClock::default();
    // The last read ended a line: a stop there cuts none.
    let mut ends_line = true;
    loop {
        // How the read waits for its bytes tells where a burst ends.
        let started = Instant::now();
        let waiting = reader.ready_now();
        if stalls
            && input.is_pending()
            && !wait_unless_stopped(stop, Some(idle), |t| reader.wait(t))
                .map_err(StepError::Read)?
        {
            // Idle: nothing more is coming soon, so emit what is held back.
            input.finish(&Stamp::now(), pipeline, &mut out.buf);
            pipeline.hand_spans();
            if !out.flush(pipeline.stats.events).map_err(StepError::Write)? {
                return Ok(false);
            }
        }
        let n = match read_unless_stopped(reader, &mut buf, (stalls, waiting), stop) {
            Ok(Some(0)) => break,
            Ok(Some(n)) => n,
            Ok(None) => {
                let held = reader.bytes_held();
                let stop_at = (held, ends_line);
                let rest = read_at_stop(reader, stop_at, |r| !stalls || r.ready_now(), max_line);
                input.push(&rest, &Stamp::now(), pipeline, &mut out.buf);
                break;
            }
            Err(e) => return Err(StepError::Read(e)),
        };
        ends_line = buf.get(n.wrapping_sub(1)) == Some(&b'\n');
        // One clock read per read(): every line in it was read at once.
        let mut stamp = Stamp::now();
        (stamp.burst, stamp.burst_rest) = bursts.read_returned(started, waiting);
        input.push(&buf[..n], &stamp, pipeline, &mut out.buf);
        pipeline.hand_spans();
        if let Some(tracer) = pipeline.spans_behind() {
            // The span builder is behind: wait for it, nothing dropped.
            tracer.wait_for_room();
        }
        if let Some((lines, bytes)) = &counters {
            bytes.add(n as u64);
            lines.add(pipeline.stats.lines - lines_counted);
            lines_counted = pipeline.stats.lines;
        }
        let open = if stalls || out.buf.len() >= WRITE_SIZE {
            out.flush(pipeline.stats.events).map_err(StepError::Write)?
        } else {
            true
        };
        if !open {
            return Ok(false);
        }
    }
    input.finish(&Stamp::now(), pipeline, &mut out.buf);
    pipeline.hand_spans();
    out.flush(pipeline.stats.events).map_err(StepError::Write)
}

/// Encoded events, written in blocks of whole events: to stdout, or
/// queued to a sink.
struct Writer {
    buf: Vec<u8>,
    to: Destination,
    /// The pipeline's event count at the last flush: the next batch holds
    /// the events since.
    events_flushed: u64,
}

enum Destination {
    Stdout(io::Stdout),
    Sink {
        sinks: StartedSinks,
        route: Route,
        spec: Box<SinkSpec>,
    },
}

impl Writer {
    fn stdout() -> Writer {
        Writer {
            buf: Vec::with_capacity(WRITE_SIZE * 2),
            to: Destination::Stdout(io::stdout()),
            events_flushed: 0,
        }
    }

    /// Starts the sink's thread.
    fn sink(spec: &SinkSpec) -> anyhow::Result<Writer> {
        let sinks = StartedSinks::start(std::slice::from_ref(spec), &[true])?;
        let route = sinks
            .route(0)
            .ok_or_else(|| anyhow::anyhow!("sink {} did not start", spec.name))?;
        Ok(Writer {
            buf: Vec::with_capacity(WRITE_SIZE * 2),
            to: Destination::Sink {
                sinks,
                route,
                spec: Box::new(spec.clone()),
            },
            events_flushed: 0,
        })
    }

    /// Writes the buffer, which holds the events up to the pipeline's
    /// `events` count; false when stdout's reader has gone away.
    fn flush(&mut self, events: u64) -> io::Result<bool> {
        let batch_events = events.saturating_sub(self.events_flushed);
        self.events_flushed = events;
        if self.buf.is_empty() {
            return Ok(true);
        }
        let stdout = match &mut self.to {
            Destination::Stdout(stdout) => stdout,
            Destination::Sink { route, .. } => {
                let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(WRITE_SIZE * 2));
                route.send_blocking(Batch {
                    bytes,
                    events: u32::try_from(batch_events).unwrap_or(u32::MAX),
                    key: None,
                });
                return Ok(true);
            }
        };
        let mut lock = stdout.lock();
        let result = lock.write_all(&self.buf).and_then(|()| lock.flush());
        self.buf.clear();
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Closes the sink, if any, reporting drops (`on_full = "drop"`, by
    /// choice) and what it could not write; returns the number of the latter.
    fn close(&mut self) -> u64 {
        match &mut self.to {
            Destination::Stdout(_) => 0,
            Destination::Sink { sinks, .. } => {
                sinks.report_dropped();
                sinks.close(SINK_DRAIN_TIMEOUT, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{read_held, rest_of_line};
    use std::time::Duration;

    #[test]
    fn the_rest_of_a_line_ends_at_its_newline_and_leaves_the_next() {
        let text = format!("{} end\nnext line\n", "a".repeat(700));
        let mut reader = text.as_bytes();
        let rest = rest_of_line(&mut reader, |_| true, 1 << 20);
        assert_eq!(rest, format!("{} end\n", "a".repeat(700)).as_bytes());
    }

    #[test]
    fn the_rest_of_a_line_stops_when_nothing_is_at_hand_or_at_the_bound() {
        let mut reader = "no newline yet".as_bytes();
        assert_eq!(
            rest_of_line(&mut reader, |_| true, 1 << 20),
            b"no newline yet"
        );
        let mut reader = "waiting\n".as_bytes();
        assert!(rest_of_line(&mut reader, |_| false, 1 << 20).is_empty());
        let long = "b".repeat(2000);
        let mut reader = long.as_bytes();
        // Pieces of 512 bytes: the bound is passed by less than one.
        assert_eq!(rest_of_line(&mut reader, |_| true, 1000).len(), 1024);
    }

    #[test]
    fn what_a_pipe_held_is_read_and_no_more() {
        use std::fs::File;
        use std::io::Write;
        use std::os::fd::AsFd;
        let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut reader = File::from(reader);
        let mut writer = File::from(writer);
        writer.write_all(b"one\ntwo\nthr").unwrap();
        let held = crate::sys::bytes_held(&reader);
        assert_eq!(held, 11);
        // Written after the stop: not read.
        writer.write_all(b"ee\nfour\n").unwrap();
        let ready = |r: &mut File| crate::sys::wait_readable(r.as_fd(), Duration::ZERO);
        assert_eq!(read_held(&mut reader, ready, held), b"one\ntwo\nthr");
        // A read that would wait (another reader took the bytes) is not made.
        assert!(read_held(&mut reader, |_| false, 5).is_empty());
        assert_eq!(crate::sys::bytes_held(&reader), 8);
    }
}
