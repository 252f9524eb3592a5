//! One input on its way to the pipeline: a line framer and a Docker
//! unwrapper in front of it. Every door that reads a byte stream (a file,
//! stdin) uses it, and so do the property tests and fuzz targets: feed it
//! reads in any sizes, and the output does not depend on them.

use super::framing::LineFramer;
use super::pipeline::Pipeline;
use super::unwrap::{Carry, Unwrapper};
use crate::event::{Burst, Origin, Stamp};

/// One input on its way to the pipeline: its line framer and its Docker
/// unwrapper. Feed it reads in any sizes; the output does not depend on them.
#[derive(Debug)]
pub struct Input {
    framer: LineFramer,
    unwrapper: Unwrapper,
    /// Reads follow a live writer (a pipe), so their timing says where a
    /// burst of lines ends; a file's reads do not.
    live: bool,
}

impl Input {
    /// `origin` is the envelope every event of this input shares.
    pub fn new(origin: Origin, max_line: usize) -> Input {
        Input {
            framer: LineFramer::new(max_line),
            unwrapper: Unwrapper::new(origin, max_line),
            live: false,
        }
    }

    /// An input read from a live writer: `stamp.burst` of a read applies to
    /// its first line, and the read's other lines are in the same burst.
    /// Without it, every line's burst is [`Burst::Unknown`] (a file).
    pub fn live(mut self) -> Input {
        self.live = true;
        self
    }

    /// Feeds the bytes of one read; complete events are appended to `out`.
    /// `stamp.burst`, `stamp.burst_rest`: how the read's first and other
    /// lines came (see [`Input::live`]).
    pub fn push(
        &mut self,
        bytes: &[u8],
        stamp: &Stamp,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) {
        let unwrapper = &mut self.unwrapper;
        let live = self.live;
        let mut stamp = *stamp;
        self.framer
            .push_read(bytes, (stamp.burst, stamp.burst_rest), |line, burst| {
                stamp.burst = if live { burst } else { Burst::Unknown };
                unwrapper.line(line.bytes, line.truncated, &stamp, pipeline, out);
            });
    }

    /// The input ended or went idle: emits the partial last line and
    /// everything held back. The input can be fed again afterwards.
    pub fn finish(&mut self, stamp: &Stamp, pipeline: &mut Pipeline, out: &mut Vec<u8>) {
        let unwrapper = &mut self.unwrapper;
        let mut stamp = *stamp;
        if !self.live {
            stamp.burst = Burst::Unknown;
        }
        self.framer
            .finish(|line| unwrapper.line(line.bytes, line.truncated, &stamp, pipeline, out));
        self.unwrapper.flush(pipeline, out);
    }

    /// Whether a partial line or a multi-line event is held back.
    pub fn is_pending(&self) -> bool {
        self.framer.pending() > 0 || self.unwrapper.is_pending()
    }
}

/// For the parallel filter: an input split at line boundaries into
/// chunks, each parsed from a guessed [`Carry`] and checked in order.
impl Input {
    /// The carry at a line boundary with nothing held back; `None`
    /// otherwise (a partial line, a traceback, a json-file piece).
    pub fn carry(&self) -> Option<Carry> {
        if !self.framer.is_clean() {
            return None;
        }
        self.unwrapper.carry()
    }

    /// An input for the bytes that follow one whose carry was `carry` (read
    /// from a file: see [`Input::live`]).
    pub fn resume(origin: Origin, max_line: usize, carry: &Carry) -> Input {
        Input {
            framer: LineFramer::new(max_line),
            unwrapper: Unwrapper::resume(origin, max_line, carry),
            live: false,
        }
    }

    /// Takes over the state of `later`, resumed from this one's carry and
    /// fed the bytes that follow; false, with nothing changed, when it
    /// cannot stand for this one (see [`Unwrapper::adopt`]).
    pub fn adopt(&mut self, later: Input) -> bool {
        if later.live != self.live || !self.unwrapper.adopt(later.unwrapper) {
            return false;
        }
        self.framer = later.framer;
        true
    }
}
