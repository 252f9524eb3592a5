//! Parsing one input on several threads, with the output byte for byte
//! that of one thread.
//!
//! The door cuts the input into chunks at line ends and hands each to a
//! worker with a guess of the state the input is in where the chunk starts
//! (a [`Carry`]: the Docker wrapper, the streams where supervisord was
//! seen). The worker parses the chunk from that guess ([`parse`]). The
//! [`Sequencer`] takes the chunks back in input order and keeps one's
//! events only when the real state at its start, that of the chunks before,
//! is at rest and equal to the guess; otherwise (a traceback or a line
//! across the cut, a guess gone wrong) it parses the chunk again itself,
//! from the real state. Either way each event comes out as the one-thread
//! engine makes it, in its place. Nothing here starts threads or does I/O.
//!
//! A live input (a pipe) keeps its reads apart inside a chunk ([`Reads`]),
//! each with its own stamp, so that every line comes with the read time and
//! the burst (see [`crate::event::BurstClock`]) it has on one thread.

use super::input::Input;
use super::pipeline::{Pipeline, Stats};
use super::unwrap::Carry;
use crate::event::{Origin, Stamp};

/// A piece of the input that ends at a line end (or at the input's end,
/// or where a line longer than a chunk was cut).
#[derive(Debug)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    /// When the bytes after the last of `reads` were read (a file's chunk:
    /// all of them).
    pub stamp: Stamp,
    /// A live input's earlier reads in this chunk: where each ends in
    /// `bytes`, and its stamp. Empty for a file.
    pub reads: Vec<(usize, Stamp)>,
    /// The guessed state of the input at its start.
    pub carry: Carry,
    /// Read from a live writer: see [`Input::live`].
    pub live: bool,
}

impl Chunk {
    /// A file's chunk: one stamp for all its bytes.
    pub fn read_at(bytes: Vec<u8>, stamp: Stamp, carry: Carry) -> Chunk {
        Chunk {
            bytes,
            stamp,
            reads: Vec::new(),
            carry,
            live: false,
        }
    }

    /// Feeds its reads to `input`, each with its own stamp.
    fn feed(&self, input: &mut Input, pipeline: &mut Pipeline, out: &mut Vec<u8>) {
        let mut at = 0;
        for (end, stamp) in &self.reads {
            let read = self.bytes.get(at..*end).unwrap_or_default();
            input.push(read, stamp, pipeline, out);
            at = *end;
        }
        let last = self.bytes.get(at..).unwrap_or_default();
        input.push(last, &self.stamp, pipeline, out);
    }
}

/// A live input's reads, gathered until the door makes a chunk of them.
#[derive(Debug, Default)]
pub struct Reads {
    bytes: Vec<u8>,
    /// Where each read ends in `bytes`, and its stamp.
    reads: Vec<(usize, Stamp)>,
    /// Chunk buffers given back, for the bytes after the next cut.
    spare: Vec<Vec<u8>>,
}

impl Reads {
    /// Adds the bytes of one read.
    pub fn push(&mut self, bytes: &[u8], stamp: Stamp) {
        if !bytes.is_empty() {
            self.bytes.extend_from_slice(bytes);
            self.reads.push((self.bytes.len(), stamp));
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A chunk's buffer, done with: it takes the bytes after a later cut
    /// (a chunk's buffer is large, and growing a new one costs page faults).
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.spare.push(buf);
    }

    /// The reads up to byte `at` (a line end, or the end) as a live chunk
    /// parsed from `carry`; `None` when `at` is 0. A read cut at `at` keeps
    /// its rest here, whose first line comes as the read's lines after the
    /// first (`burst_rest`), as it does on one thread.
    pub fn take(&mut self, at: usize, carry: Carry) -> Option<Chunk> {
        let at = at.min(self.bytes.len());
        if at == 0 {
            return None;
        }
        let whole = self.reads.partition_point(|(end, _)| *end <= at);
        let mut pieces: Vec<(usize, Stamp)> = self.reads.drain(..whole).collect();
        let start = pieces.last().map_or(0, |(end, _)| *end);
        if let Some((_, across)) = self.reads.first_mut().filter(|_| start < at) {
            pieces.push((at, *across));
            across.burst = across.burst_rest;
        }
        let (_, stamp) = pieces.pop()?;
        for (end, _) in &mut self.reads {
            *end -= at;
        }
        let mut rest = self.spare.pop().unwrap_or_default();
        rest.clear();
        rest.extend_from_slice(self.bytes.get(at..).unwrap_or_default());
        self.bytes.truncate(at);
        Some(Chunk {
            bytes: std::mem::replace(&mut self.bytes, rest),
            stamp,
            reads: pieces,
            carry,
            live: true,
        })
    }
}

/// A chunk parsed from its guess.
#[derive(Debug)]
pub struct Parsed {
    pub chunk: Chunk,
    /// Its encoded events.
    pub out: Vec<u8>,
    /// The input's state after it, had the guess been right.
    input: Input,
    stats: Stats,
}

/// Parses `chunk` from its guess into `out` (cleared first), counting with
/// `pipeline`, a worker's own.
pub fn parse(
    pipeline: &mut Pipeline,
    origin: &Origin,
    max_line: usize,
    chunk: Chunk,
    mut out: Vec<u8>,
) -> Parsed {
    out.clear();
    pipeline.stats = Stats::default();
    let mut input = Input::resume(origin.clone(), max_line, &chunk.carry);
    if chunk.live {
        input = input.live();
    }
    chunk.feed(&mut input, pipeline, &mut out);
    Parsed {
        chunk,
        out,
        input,
        stats: std::mem::take(&mut pipeline.stats),
    }
}

/// Takes parsed chunks in input order and puts out their events as one
/// thread would have.
#[derive(Debug)]
pub struct Sequencer {
    /// The input's real state after the chunks so far.
    input: Input,
    /// Chunks parsed again because their guess did not hold.
    pub reparsed: u64,
}

impl Sequencer {
    pub fn new(origin: Origin, max_line: usize) -> Sequencer {
        Sequencer {
            input: Input::new(origin, max_line),
            reparsed: 0,
        }
    }

    /// For a live input's chunks (see [`Chunk::live`]).
    pub fn live(mut self) -> Sequencer {
        self.input = self.input.live();
        self
    }

    /// The real carry after the chunks so far; `None` while something is
    /// held back across the last cut.
    pub fn carry(&self) -> Option<Carry> {
        self.input.carry()
    }

    /// The next chunk in input order: appends its events to `out`, counted
    /// in `pipeline`'s stats, parsing it again with `pipeline` when its
    /// guess did not hold. Gives back the chunk and a buffer for a worker.
    pub fn next(
        &mut self,
        parsed: Parsed,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) -> (Chunk, Vec<u8>) {
        let Parsed {
            chunk,
            out: mut events,
            input,
            stats,
        } = parsed;
        let holds = self.input.carry().is_some_and(|real| real == chunk.carry);
        if holds && self.input.adopt(input) {
            // Mostly `out` was just written: take the events without a copy.
            if out.is_empty() {
                std::mem::swap(out, &mut events);
            } else {
                out.extend_from_slice(&events);
            }
            add(&mut pipeline.stats, &stats);
        } else {
            self.reparsed += 1;
            chunk.feed(&mut self.input, pipeline, out);
        }
        (chunk, events)
    }

    /// Parses `chunk` here, in its place (a live input gone idle: nothing
    /// is in flight, and what is held back is about to be emitted).
    pub fn parse_here(&mut self, chunk: &Chunk, pipeline: &mut Pipeline, out: &mut Vec<u8>) {
        chunk.feed(&mut self.input, pipeline, out);
    }

    /// Whether a partial line or a multi-line event is held back.
    pub fn is_pending(&self) -> bool {
        self.input.is_pending()
    }

    /// The input ended: emits the partial last line and what is held back.
    pub fn finish(&mut self, stamp: &Stamp, pipeline: &mut Pipeline, out: &mut Vec<u8>) {
        self.input.finish(stamp, pipeline, out);
    }
}

/// Adds a chunk's counts to the run's (every field: a new one must be
/// added here, or this does not compile).
fn add(to: &mut Stats, chunk: &Stats) {
    let Stats {
        lines,
        events,
        empty_lines,
        truncated_pieces,
        invalid_utf8,
        parse_errors,
        merged,
    } = *chunk;
    to.lines += lines;
    to.events += events;
    to.empty_lines += empty_lines;
    to.truncated_pieces += truncated_pieces;
    to.invalid_utf8 += invalid_utf8;
    to.parse_errors += parse_errors;
    to.merged += merged;
}
