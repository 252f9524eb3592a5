//! A stream's hand-off to the span builder: each pipeline keeps the parts
//! of the events it finishes (built outside any lock, with the stream's own
//! cache of resources) and hands them to the shared [`Tracer`] once per
//! read, one lock for the whole read instead of one per event. Parts are
//! also handed on when many are held, and when the feed is dropped, so a
//! caller that forgets to hand them only delays them.

use std::sync::Arc;

use logmux_parsers::Record;

use super::parts::{may_have_part, Part, PartCache};
use super::Tracer;

/// Parts held at most before they are handed on unasked.
const MAX_HELD: usize = 256;
/// Spare attribute buffers taken at once.
const BUFFERS_AT_ONCE: usize = 64;

#[derive(Debug)]
pub struct SpanFeed {
    tracer: Arc<Tracer>,
    /// The resources of this stream's events, shared by their parts, and
    /// spare buffers for their attributes.
    cache: PartCache,
    /// Parts to make before asking for spare buffers again (there were
    /// none).
    dry_parts: usize,
    held: Vec<([u8; 16], Part)>,
    /// The span builder was behind at the last hand-off.
    behind: bool,
    /// A helper's feed ([`SpanFeed::kept`]): parts wait to be taken.
    kept: bool,
}

/// The parts of a run of events, in their order.
pub type Parts = Vec<([u8; 16], Part)>;

impl SpanFeed {
    pub fn new(tracer: Arc<Tracer>) -> SpanFeed {
        SpanFeed {
            tracer,
            cache: PartCache::default(),
            dry_parts: 0,
            held: Vec::new(),
            behind: false,
            kept: false,
        }
    }

    /// A feed that never hands its parts on: a helper parsing half of a
    /// read on a guess keeps them until its stream knows whether the
    /// guess held ([`SpanFeed::take_held`], then [`SpanFeed::adopt`]) or
    /// not (they are dropped). So the builder sees each event once, in
    /// the stream's order.
    pub fn kept(tracer: Arc<Tracer>) -> SpanFeed {
        let mut feed = SpanFeed::new(tracer);
        feed.kept = true;
        feed
    }

    /// The parts held, taken out.
    pub fn take_held(&mut self) -> Parts {
        std::mem::take(&mut self.held)
    }

    /// Drops the parts held (a helper's, whose guess did not hold).
    pub fn drop_held(&mut self) {
        self.held.clear();
    }

    /// Takes `parts` after this feed's own, as if this feed had seen
    /// their events; `parts` is left empty. A feed that hands its parts
    /// on hands its own, then `parts` as one batch: moved whole, not
    /// copied part by part onto its own.
    pub fn adopt(&mut self, parts: &mut Parts) {
        if self.kept {
            self.held.append(parts);
            return;
        }
        self.hand();
        if !parts.is_empty() {
            self.behind = self.tracer.take(parts);
        }
    }

    /// Keeps the part of one finished event, if it has one; `observed` is
    /// its read time (Unix nanoseconds).
    pub fn observe(&mut self, rec: &Record<'_>, observed: u64) {
        if !may_have_part(rec) {
            return;
        }
        self.top_up_buffers();
        if let Some(part) = self.tracer.part_of(rec, observed, &mut self.cache) {
            self.held.push(part);
            if self.held.len() >= MAX_HELD && !self.kept {
                self.hand();
            }
        }
    }

    /// Takes spare attribute buffers from the span thread when this feed
    /// has none, a few at a time (one lock for [`BUFFERS_AT_ONCE`] parts);
    /// when it had none either, allocates for as many parts before it
    /// asks again.
    fn top_up_buffers(&mut self) {
        if !self.cache.buffers.is_empty() {
            return;
        }
        if self.dry_parts > 0 {
            self.dry_parts -= 1;
        } else if self
            .tracer
            .spare_buffers(&mut self.cache.buffers, BUFFERS_AT_ONCE)
            == 0
        {
            self.dry_parts = BUFFERS_AT_ONCE;
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
        if !self.kept {
            self.hand();
        }
    }
}
