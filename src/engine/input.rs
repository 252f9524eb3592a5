//! One input on its way to the pipeline: a line framer and a Docker
//! unwrapper in front of it. Every door that reads a byte stream (a file,
//! stdin) uses it, and so do the property tests and fuzz targets: feed it
//! reads in any sizes, and the output does not depend on them.

use super::framing::LineFramer;
use super::pipeline::Pipeline;
use super::unwrap::Unwrapper;
use crate::event::{Origin, Stamp};

/// One input on its way to the pipeline: its line framer and its Docker
/// unwrapper. Feed it reads in any sizes; the output does not depend on them.
#[derive(Debug)]
pub struct Input {
    framer: LineFramer,
    unwrapper: Unwrapper,
}

impl Input {
    /// `origin` is the envelope every event of this input shares.
    pub fn new(origin: Origin, max_line: usize) -> Input {
        Input {
            framer: LineFramer::new(max_line),
            unwrapper: Unwrapper::new(origin, max_line),
        }
    }

    /// Feeds the bytes of one read; complete events are appended to `out`.
    pub fn push(
        &mut self,
        bytes: &[u8],
        stamp: &Stamp,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) {
        let unwrapper = &mut self.unwrapper;
        self.framer.push(bytes, |line| {
            unwrapper.line(line.bytes, line.truncated, stamp, pipeline, out)
        });
    }

    /// The input ended or went idle: emits the partial last line and
    /// everything held back. The input can be fed again afterwards.
    pub fn finish(&mut self, stamp: &Stamp, pipeline: &mut Pipeline, out: &mut Vec<u8>) {
        let unwrapper = &mut self.unwrapper;
        self.framer
            .finish(|line| unwrapper.line(line.bytes, line.truncated, stamp, pipeline, out));
        self.unwrapper.flush(pipeline, out);
    }

    /// Whether a partial line or a multi-line event is held back.
    pub fn is_pending(&self) -> bool {
        self.framer.pending() > 0 || self.unwrapper.is_pending()
    }
}
