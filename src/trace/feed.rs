//! A stream's hand-off to the span builder: each pipeline keeps the parts
//! of the events it finishes (built outside any lock, with the stream's own
//! cache of resources) and hands them to the shared [`Tracer`] once per
//! read, one lock for the whole read instead of one per event. Parts are
//! also handed on when many are held, and when the feed is dropped, so a
//! caller that forgets to hand them only delays them.

use std::sync::Arc;

use logmux_parsers::Record;

use super::parts::{may_have_part, Part};
use super::span::Resource;
use super::Tracer;

/// Parts held at most before they are handed on unasked.
const MAX_HELD: usize = 256;

#[derive(Debug)]
pub struct SpanFeed {
    tracer: Arc<Tracer>,
    /// The resources of this stream's events, shared by their parts.
    resources: Vec<Resource>,
    held: Vec<([u8; 16], Part)>,
    /// The span builder was behind at the last hand-off.
    behind: bool,
}

impl SpanFeed {
    pub fn new(tracer: Arc<Tracer>) -> SpanFeed {
        SpanFeed {
            tracer,
            resources: Vec::new(),
            held: Vec::new(),
            behind: false,
        }
    }

    /// Keeps the part of one finished event, if it has one; `observed` is
    /// its read time (Unix nanoseconds).
    pub fn observe(&mut self, rec: &Record<'_>, observed: u64) {
        if !may_have_part(rec) {
            return;
        }
        if let Some(part) = self.tracer.part_of(rec, observed, &mut self.resources) {
            self.held.push(part);
            if self.held.len() >= MAX_HELD {
                self.hand();
            }
        }
    }

    /// The span builder, when it was behind at the last hand-off: a
    /// reader should wait for [`Tracer::room`] before it reads more, so
    /// that no part is dropped.
    pub fn behind(&self) -> Option<&Arc<Tracer>> {
        self.behind.then_some(&self.tracer)
    }

    /// Hands the parts held to the span builder.
    pub fn hand(&mut self) {
        // Without parts the flag stays: [`Tracer::room`] looks again.
        if !self.held.is_empty() {
            self.behind = self.tracer.take(&mut self.held);
        }
    }
}

impl Drop for SpanFeed {
    fn drop(&mut self) {
        self.hand();
    }
}
