//! `filter --threads N` on a regular file: the reading thread cuts the file
//! into chunks at line ends, N workers parse them, and the reading thread
//! writes their events in input order ([`crate::engine::parallel`] keeps
//! the output byte for byte that of one thread). At most [`IN_FLIGHT`]
//! chunks per worker are read ahead, so memory stays bounded.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;

use crate::engine::parallel::{self, Chunk, Parsed, Sequencer};
use crate::engine::unwrap::Carry;
use crate::engine::{Pipeline, Settings};
use crate::event::{Origin, Stamp};

use super::{StepError, Writer, WRITE_SIZE};

/// Bytes per chunk: large enough that handing one over costs nothing next
/// to parsing it, small enough that parsing one again (a traceback across
/// the cut) costs little.
const CHUNK: usize = 1 << 20;

/// Chunks read ahead per worker (and one more for the reading thread).
const IN_FLIGHT: usize = 2;

/// A chunk to parse: its place in the input, and a buffer for its events.
type Job = (u64, Chunk, Vec<u8>);

/// Filters one regular file on `threads` workers into `out`, counting in
/// `pipeline`; false when the output was closed.
pub(super) fn filter_file(
    reader: &mut dyn Read,
    origin: &Origin,
    (max_line, threads): (usize, usize),
    settings: &Settings,
    pipeline: &mut Pipeline,
    out: &mut Writer,
) -> Result<bool, StepError> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let jobs_rx = Mutex::new(jobs_rx);
    let (done_tx, done_rx) = mpsc::channel::<(u64, Parsed)>();
    std::thread::scope(|scope| {
        let mut started = 0;
        for _ in 0..threads {
            let done = done_tx.clone();
            let jobs = &jobs_rx;
            let mut worker = Pipeline::new(settings.clone()).joining_bursts();
            let thread = std::thread::Builder::new().name("logmux-parse".into());
            match thread.spawn_scoped(scope, move || {
                work(jobs, &done, &mut worker, origin, max_line)
            }) {
                Ok(_) => started += 1,
                Err(e) if started == 0 => return Err(StepError::Read(e)),
                // Fewer workers do the same work.
                Err(_) => break,
            }
        }
        drop(done_tx);
        let mut feed = Feed {
            reader,
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
        if seq.reparsed > 0 {
            tracing::debug!(
                chunks = seq.reparsed,
                "chunks parsed again on the reading thread"
            );
        }
        result
    })
}

/// A worker: parses chunks until the reading thread stops sending them.
fn work(
    jobs: &Mutex<Receiver<Job>>,
    done: &Sender<(u64, Parsed)>,
    pipeline: &mut Pipeline,
    origin: &Origin,
    max_line: usize,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((i, chunk, buf)) = job else { return };
        let parsed = parallel::parse(pipeline, origin, max_line, chunk, buf);
        if done.send((i, parsed)).is_err() {
            return;
        }
    }
}

/// Reads chunks ahead and sends them out, and writes their events in
/// input order as they come back; false when the output was closed.
fn sequence(
    feed: &mut Feed<'_>,
    jobs: Sender<Job>,
    done: &Receiver<(u64, Parsed)>,
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
        let Ok((i, p)) = done.recv() else { break };
        parsed.insert(i, p);
        while let Some(p) = parsed.remove(&next) {
            next += 1;
            let (chunk, buf) = seq.next(p, pipeline, &mut out.buf);
            if let Some(real) = seq.carry() {
                feed.guess.catch_up(&real);
            }
            feed.chunks.push(chunk.bytes);
            feed.outs.push(buf);
            if out.buf.len() >= WRITE_SIZE && !flush(out, pipeline)? {
                return Ok(false);
            }
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

/// Writes the events so far; false when the output was closed.
fn flush(out: &mut Writer, pipeline: &Pipeline) -> Result<bool, StepError> {
    out.flush(pipeline.stats.events).map_err(StepError::Write)
}

/// The reading side: cuts the file into chunks at line ends.
struct Feed<'r> {
    reader: &'r mut dyn Read,
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
        bytes.reserve(want);
        let read = (&mut *self.reader)
            .take(want as u64)
            .read_to_end(&mut bytes);
        let stamp = Stamp::now();
        match read {
            Ok(n) if n < want => self.eof = true,
            Ok(_) => {
                if let Some(end) = memchr::memrchr(b'\n', &bytes) {
                    self.tail.extend_from_slice(&bytes[end + 1..]);
                    bytes.truncate(end + 1);
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
        Some(Chunk {
            bytes,
            stamp,
            carry,
        })
    }
}
