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

use super::input::Input;
use super::pipeline::{Pipeline, Stats};
use super::unwrap::Carry;
use crate::event::{Origin, Stamp};

/// A piece of the input that ends at a line end (or at the input's end,
/// or where a line longer than a chunk was cut).
#[derive(Debug)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    /// When it was read.
    pub stamp: Stamp,
    /// The guessed state of the input at its start.
    pub carry: Carry,
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
    input.push(&chunk.bytes, &chunk.stamp, pipeline, &mut out);
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
            self.input.push(&chunk.bytes, &chunk.stamp, pipeline, out);
        }
        (chunk, events)
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
