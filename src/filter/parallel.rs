//! `filter --threads N` on a regular file: the reading thread cuts the file
//! into chunks at line ends, N workers parse them, and the reading thread
//! writes their events in input order ([`crate::engine::parallel`] keeps
//! the output byte for byte that of one thread). At most [`IN_FLIGHT`]
//! chunks per worker are read ahead, so memory stays bounded.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;

use crate::engine::parallel::{self, Chunk, Parsed, Sequencer};
use crate::engine::unwrap::Carry;
use crate::engine::{Pipeline, Settings};
use crate::event::{Origin, Stamp};
use crate::shutdown::Shutdown;

use super::{StepError, Writer, WRITE_SIZE};

/// Bytes per chunk: large enough that handing one over costs nothing next
/// to parsing it, small enough that parsing one again (a traceback across
/// the cut) costs little.
pub(super) const CHUNK: usize = 1 << 20;

/// Chunks read ahead per worker (and one more for the reading thread).
pub(super) const IN_FLIGHT: usize = 2;

/// A chunk to parse: its place in the input, and a buffer for its events.
pub(super) type Job = (u64, Chunk, Vec<u8>);

/// Filters one regular file on `threads` workers into `out`, counting in
/// `pipeline` and the chunks parsed again in `reparsed`; false when the
/// output was closed.
/// Stops reading once `stop` is triggered, as at the file's end.
pub(super) fn filter_file(
    reader: &mut dyn Read,
    origin: &Origin,
    (max_line, threads): (usize, usize),
    stop: &Shutdown,
    (settings, pipeline, out, reparsed): (&Settings, &mut Pipeline, &mut Writer, &mut u64),
) -> Result<bool, StepError> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let jobs_rx = Mutex::new(jobs_rx);
    let (done_tx, done_rx) = mpsc::channel::<(u64, Answer)>();
    std::thread::scope(|scope| {
        let workers = (threads, settings, origin, max_line);
        start_workers(scope, workers, &jobs_rx, &done_tx, |i, p| (i, p))
            .map_err(StepError::Read)?;
        drop(done_tx);
        let mut feed = Feed {
            reader,
            stop,
            tail: Vec::new(),
            eof: false,
            error: None,
            guess: Carry::default(),
            chunks: Vec::new(),
            outs: Vec::new(),
        };
        let mut seq = Sequencer::new(origin.clone(), max_line);
        let result = sequence(
            &mut feed,
            jobs_tx,
            &done_rx,
            threads,
            (&mut seq, pipeline, out),
        );
        // Stopped early (the reader went away): the chunks still queued
        // are not parsed for nothing.
        if let Ok(queued) = jobs_rx.lock() {
            queued.try_iter().for_each(drop);
        }
        *reparsed += seq.reparsed;
        result
    })
}

/// Starts up to `threads` workers in `scope` (fewer do the same work), each
/// with its own pipeline; each parsed chunk goes to `done` as `wrap` makes
/// it. An error only when none started.
pub(super) fn start_workers<'scope, 'env, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    (threads, settings, origin, max_line): (usize, &Settings, &'scope Origin, usize),
    jobs: &'scope Mutex<Receiver<Job>>,
    done: &Sender<T>,
    wrap: fn(u64, Answer) -> T,
) -> io::Result<()> {
    for n in 0..threads {
        let done = done.clone();
        let mut worker = Pipeline::new(settings.clone()).joining_bursts();
        let thread = std::thread::Builder::new().name("logmux-parse".into());
        let started = thread.spawn_scoped(scope, move || {
            work(jobs, &done, &mut worker, origin, max_line, wrap)
        });
        match started {
            Ok(_) => {}
            Err(e) if n == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(())
}

/// A worker: parses chunks until the reading thread stops sending them.
/// A panic (a bug) is caught and sent on as the chunk's answer, and the
/// worker ends: the reading thread, which waits for every chunk in turn,
/// would otherwise wait for that one forever. (Release builds abort on a
/// panic, `panic = "abort"`; this serves builds that unwind, the tests'.)
fn work<T>(
    jobs: &Mutex<Receiver<Job>>,
    done: &Sender<T>,
    pipeline: &mut Pipeline,
    origin: &Origin,
    max_line: usize,
    wrap: fn(u64, Answer) -> T,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((i, chunk, buf)) = job else { return };
        let parsing = AssertUnwindSafe(|| parse_chunk(pipeline, origin, max_line, chunk, buf));
        let answer = panic::catch_unwind(parsing).map_err(ParseThreadPanicked::from_payload);
        let panicked = answer.is_err();
        if done.send(wrap(i, answer)).is_err() || panicked {
            return;
        }
    }
}

/// A worker's answer for one chunk: its events, or the panic that stopped it.
pub(super) type Answer = Result<Parsed, ParseThreadPanicked>;

/// A parsing thread panicked: a bug in logmux, not in the input.
#[derive(Debug, thiserror::Error)]
#[error(
    "a parsing thread panicked ({0}); this is a bug in logmux, please report it with the input"
)]
pub struct ParseThreadPanicked(String);

impl ParseThreadPanicked {
    pub(crate) fn from_payload(payload: Box<dyn std::any::Any + Send>) -> ParseThreadPanicked {
        let message = match payload.downcast::<String>() {
            Ok(text) => *text,
            Err(payload) => payload
                .downcast_ref::<&str>()
                .map_or("no message", |text| text)
                .to_string(),
        };
        ParseThreadPanicked(message)
    }
}

/// Parses one chunk. In the unit tests, a chunk that starts with
/// [`tests::PANIC`] panics instead, as a bug in a parser would.
fn parse_chunk(
    pipeline: &mut Pipeline,
    origin: &Origin,
    max_line: usize,
    chunk: Chunk,
    buf: Vec<u8>,
) -> Parsed {
    #[cfg(test)]
    tests::panic_if_asked(&chunk.bytes);
    parallel::parse(pipeline, origin, max_line, chunk, buf)
}

/// Reads chunks ahead and sends them out, and writes their events in
/// input order as they come back; false when the output was closed.
fn sequence(
    feed: &mut Feed<'_>,
    jobs: Sender<Job>,
    done: &Receiver<(u64, Answer)>,
    threads: usize,
    (seq, pipeline, out): (&mut Sequencer, &mut Pipeline, &mut Writer),
) -> Result<bool, StepError> {
    let ahead = (threads * IN_FLIGHT + 1) as u64;
    let mut parsed = BTreeMap::new();
    let (mut sent, mut next) = (0u64, 0u64);
    loop {
        while !feed.eof && sent - next < ahead {
            let Some(chunk) = feed.next_chunk() else {
                break;
            };
            let buf = feed.outs.pop().unwrap_or_default();
            if jobs.send((sent, chunk, buf)).is_err() {
                break;
            }
            sent += 1;
        }
        if next == sent {
            break;
        }
        let Ok((i, answer)) = done.recv() else { break };
        let p = answer.map_err(|bug| stopped_by(bug, out, pipeline))?;
        parsed.insert(i, p);
        let ends = (&mut *seq, &mut *pipeline, &mut *out);
        let (chunks, outs) = (&mut feed.chunks, &mut feed.outs);
        let open = write_in_order(
            &mut parsed,
            &mut next,
            &mut feed.guess,
            ends,
            |chunk, buf| {
                chunks.push(chunk);
                outs.push(buf);
            },
        )?;
        if !open {
            return Ok(false);
        }
    }
    drop(jobs);
    if let Some(e) = feed.error.take() {
        // As on one thread: what was read is written, nothing is finished.
        flush(out, pipeline)?;
        return Err(StepError::Read(e));
    }
    if next != sent {
        return Err(StepError::Read(io::Error::other(
            "a parsing thread stopped",
        )));
    }
    seq.finish(&Stamp::now(), pipeline, &mut out.buf);
    flush(out, pipeline)
}

/// Writes the parsed chunks that come next in input order (from `next`
/// on), catching `guess` up with the real state; each chunk's buffers
/// (its bytes, its events') go to `give_back`. False when the output was
/// closed.
pub(super) fn write_in_order(
    parsed: &mut BTreeMap<u64, Parsed>,
    next: &mut u64,
    guess: &mut Carry,
    (seq, pipeline, out): (&mut Sequencer, &mut Pipeline, &mut Writer),
    mut give_back: impl FnMut(Vec<u8>, Vec<u8>),
) -> Result<bool, StepError> {
    while let Some(p) = parsed.remove(next) {
        *next += 1;
        let (chunk, buf) = seq.next(p, pipeline, &mut out.buf);
        if let Some(real) = seq.carry() {
            guess.catch_up(&real);
        }
        give_back(chunk.bytes, buf);
        if out.buf.len() >= WRITE_SIZE && !flush(out, pipeline)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Ends the input on a parsing thread's panic; the events already written
/// in order go out first (a write error then is not what went wrong).
pub(super) fn stopped_by(
    bug: ParseThreadPanicked,
    out: &mut Writer,
    pipeline: &Pipeline,
) -> StepError {
    let _ = flush(out, pipeline);
    StepError::Bug(bug)
}

/// Writes the events so far; false when the output was closed.
pub(super) fn flush(out: &mut Writer, pipeline: &Pipeline) -> Result<bool, StepError> {
    out.flush(pipeline.stats.events).map_err(StepError::Write)
}

/// The reading side: cuts the file into chunks at line ends.
struct Feed<'r> {
    reader: &'r mut dyn Read,
    /// Once triggered, the file ends where it was read to.
    stop: &'r Shutdown,
    /// The start of a line the last chunk read but did not end.
    tail: Vec<u8>,
    eof: bool,
    /// The read error that ended the input early.
    error: Option<io::Error>,
    /// The input's state at the next chunk's start, as far as known.
    guess: Carry,
    /// Buffers given back, for chunks and for events.
    chunks: Vec<Vec<u8>>,
    outs: Vec<Vec<u8>>,
}

impl Feed<'_> {
    /// The next chunk: up to [`CHUNK`] bytes, to its last line end unless
    /// the file ends there or no line ends in it (a line longer than a
    /// chunk, then cut: the sequencer carries it over). `None` at the end.
    /// A read error ends the input: the bytes read before it still count.
    fn next_chunk(&mut self) -> Option<Chunk> {
        let mut bytes = self.chunks.pop().unwrap_or_default();
        bytes.clear();
        bytes.append(&mut self.tail);
        let want = CHUNK.saturating_sub(bytes.len());
        let stopped = self.stop.is_triggered();
        let read = if stopped {
            // The line begun (in the tail) is read to its end: none is cut.
            if !bytes.is_empty() {
                let rest = super::rest_of_line(&mut *self.reader, |_| true, CHUNK);
                bytes.extend_from_slice(&rest);
            }
            Ok(0)
        } else {
            bytes.reserve(want);
            (&mut *self.reader)
                .take(want as u64)
                .read_to_end(&mut bytes)
        };
        let stamp = Stamp::now();
        match read {
            Ok(n) if stopped || n < want => self.eof = true,
            Ok(_) => {
                if let Some(end) = cut(&bytes) {
                    self.tail.extend_from_slice(&bytes[end..]);
                    bytes.truncate(end);
                }
            }
            Err(e) => {
                self.eof = true;
                self.error = Some(e);
            }
        }
        if bytes.is_empty() {
            return None;
        }
        let carry = self.guess.clone();
        self.guess = std::mem::take(&mut self.guess).sniffed(&bytes);
        Some(Chunk::read_at(bytes, stamp, carry))
    }
}

/// How far back [`cut`] looks for a line that ends any traceback.
const CUT_SEARCH: usize = 64 * 1024;

/// Where a full chunk ends: between two lines near its end that start
/// with a digit, `[` or `{` (timestamped or JSON lines, but not Python
/// logging's) and follow another such line, so that the state there is at
/// rest (the first of the three ended any traceback) and the next chunk's
/// guess holds; else after its last line end. `None` when no line ends in
/// it.
pub(super) fn cut(bytes: &[u8]) -> Option<usize> {
    let last = memchr::memrchr(b'\n', bytes)? + 1;
    let floor = bytes.len().saturating_sub(CUT_SEARCH);
    // Not Python logging's `2026-11-25 19:39:34,022 …`: supervisord's
    // lines are written so, and their splices hold a line's head.
    let at_rest = |at: usize| {
        matches!(bytes.get(at), Some(b'0'..=b'9' | b'[' | b'{'))
            && bytes.get(at + 19) != Some(&b',')
    };
    // `end`: the newline ending the line looked at; `run`: how many lines
    // from it on start at rest; `second`: where the line after it starts.
    let (mut end, mut run, mut second) = (last - 1, 0, last);
    while end > floor {
        let start = memchr::memrchr(b'\n', &bytes[..end]).map_or(0, |i| i + 1);
        run = if at_rest(start) { run + 1 } else { 0 };
        if run >= 3 {
            return Some(second);
        }
        if start == 0 {
            break;
        }
        second = end + 1;
        end = start - 1;
    }
    Some(last)
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::{cut, filter_file, Writer};
    use crate::engine::{Pipeline, Settings};
    use crate::event::Origin;
    use crate::shutdown::Shutdown;

    /// A chunk that starts with this makes its worker panic.
    pub(in crate::filter) const PANIC: &[u8] = b"\0logmux test: panic here\0";

    pub(in crate::filter) fn panic_if_asked(chunk: &[u8]) {
        if chunk.starts_with(PANIC) {
            panic!("a test asked this parsing thread to panic");
        }
    }

    pub(in crate::filter) fn settings() -> Settings {
        crate::engine::samples::auto_json()
    }

    /// Runs `job` on its own thread: its result, or `None` when it has not
    /// ended within 60 s (hung).
    pub(in crate::filter) fn ends_within_a_minute<R: Send + 'static>(
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(job());
        });
        rx.recv_timeout(Duration::from_secs(60)).ok()
    }

    #[test]
    fn a_parsing_thread_that_panics_ends_the_file_with_an_error_not_a_hang() {
        let mut input = PANIC.to_vec();
        input.extend_from_slice(b" a line\n");
        let result = ends_within_a_minute(move || {
            let mut pipeline = Pipeline::new(settings());
            let mut out = Writer::stdout();
            let mut reparsed = 0;
            let result = filter_file(
                &mut input.as_slice(),
                &Origin::default(),
                (1 << 20, 2),
                &Shutdown::new(),
                (&settings(), &mut pipeline, &mut out, &mut reparsed),
            );
            (result.map_err(|e| e.to_string()), out.buf)
        });
        let Some((result, written)) = result else {
            panic!("filter_file hung after a parsing thread panicked");
        };
        assert!(
            matches!(&result, Err(e) if e.contains("a parsing thread panicked")),
            "{result:?}"
        );
        assert!(written.is_empty(), "{}", String::from_utf8_lossy(&written));
    }

    #[test]
    fn a_chunk_is_cut_between_lines_at_rest_before_a_traceback() {
        let chunk = b"1 a\n2 b\n3 c\n4 d\nTraceback (most recent call last):\n  File \"x\"\nValueError: x\nno end";
        // Between `3 c` and `4 d`: three lines at rest from `2 b` on.
        assert_eq!(cut(chunk), Some(12));
    }

    #[test]
    fn without_lines_at_rest_it_is_cut_after_the_last_line_end() {
        let chunk = b"2026-11-25 19:39:34,022 INFO a\n2026-11-25 19:39:34,022 INFO b\n2026-11-25 19:39:34,022 INFO c\nplain\npart";
        assert_eq!(cut(chunk), Some(chunk.len() - 4));
        assert_eq!(cut(b"no line end"), None);
        // Three lines at rest: between the second and the third.
        assert_eq!(cut(b"1\n2\n3\n"), Some(4));
    }
}
