//! The span builder's memory: per trace id, the parts of a request seen so
//! far (nginx's access line, uWSGI's request line, tracebacks). A trace is
//! handed out as soon as it is complete: nginx's line has come and, when
//! nginx had an upstream, uWSGI's too; otherwise when `window` has passed
//! since its first part, or when more than `max_pending` traces wait (the
//! oldest first), or at the end. Pure state, no threads and no clock of
//! its own: [`crate::trace::tracer`] drives it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::parts::{Exception, Http, Nginx, Part, Uwsgi};
use super::span::Resource;

/// The parts of one request, as handed out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Collected {
    pub trace_id: [u8; 16],
    pub nginx: Option<(Nginx, Resource)>,
    /// The last of uWSGI's lines (an earlier one is a retried try's).
    pub uwsgi: Option<(Uwsgi, Resource)>,
    pub exceptions: Vec<Exception>,
    /// Handed out before it was complete (window, memory bound or end).
    pub incomplete: bool,
}

impl Collected {
    /// Gives the attribute buffers of its request lines to `into`.
    pub fn give_buffers(&mut self, into: &mut Vec<Vec<u8>>) {
        let nginx = self.nginx.as_mut().map(|(n, _)| &mut n.http);
        let uwsgi = self.uwsgi.as_mut().map(|(u, _)| &mut u.http);
        into.extend(nginx.into_iter().chain(uwsgi).map(Http::take_buffer));
    }

    fn complete(&self) -> bool {
        match &self.nginx {
            Some((n, _)) => n.tries_us.is_empty() || self.uwsgi.is_some(),
            None => false,
        }
    }
}

struct Pending {
    /// Inline: a trace's parts are ~300 bytes (their text is encoded in
    /// one allocation each), cheaper to move than to box and free.
    parts: Collected,
    since: Instant,
    seq: u64,
}

/// Why traces were handed out, for the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuilderCounts {
    pub complete: u64,
    /// The window passed first.
    pub expired: u64,
    /// Pushed out by `max_pending`.
    pub evicted: u64,
}

pub struct Builder {
    window: Duration,
    max_pending: usize,
    pending: HashMap<[u8; 16], Pending, foldhash::fast::RandomState>,
    /// Arrival order: (trace id, its entry's seq); entries of traces
    /// already handed out are skipped when met.
    order: VecDeque<([u8; 16], u64)>,
    next_seq: u64,
    pub counts: BuilderCounts,
}

impl Builder {
    pub fn new(window: Duration, max_pending: usize) -> Builder {
        Builder {
            window,
            max_pending: max_pending.max(1),
            pending: HashMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
            counts: BuilderCounts::default(),
        }
    }

    /// Traces waiting for more parts.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds `part` to its trace; appends to `out` the trace if that made it
    /// complete, and the oldest ones if too many wait.
    pub fn add(&mut self, trace_id: [u8; 16], part: Part, now: Instant, out: &mut Vec<Collected>) {
        let entry = self.pending.entry(trace_id).or_insert_with(|| {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.order.push_back((trace_id, seq));
            Pending {
                parts: Collected {
                    trace_id,
                    ..Collected::default()
                },
                since: now,
                seq,
            }
        });
        let parts = &mut entry.parts;
        match part {
            Part::Nginx(n, r) => parts.nginx = Some((n, r)),
            Part::Uwsgi(u, r) => parts.uwsgi = Some((u, r)),
            Part::Exception(e) => parts.exceptions.push(e),
        }
        if parts.complete() {
            if let Some(done) = self.pending.remove(&trace_id) {
                self.counts.complete += 1;
                out.push(done.parts);
            }
        }
        while self.pending.len() > self.max_pending {
            let Some(oldest) = self.pop_oldest() else {
                break;
            };
            self.counts.evicted += 1;
            out.push(oldest);
        }
        if self.order.len() > 2 * self.max_pending + 64 {
            let pending = &self.pending;
            self.order
                .retain(|(id, seq)| pending.get(id).is_some_and(|p| p.seq == *seq));
        }
    }

    /// Hands out the traces whose window has passed.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Collected>) {
        while let Some((id, seq)) = self.order.front().copied() {
            match self.pending.get(&id) {
                Some(p) if p.seq == seq => {
                    if now.duration_since(p.since) < self.window {
                        return;
                    }
                    if let Some(p) = self.pending.remove(&id) {
                        self.counts.expired += 1;
                        out.push(Collected {
                            incomplete: true,
                            ..p.parts
                        });
                    }
                    self.order.pop_front();
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Hands out every waiting trace, oldest first (at the end).
    pub fn drain(&mut self, out: &mut Vec<Collected>) {
        while let Some(oldest) = self.pop_oldest() {
            self.counts.expired += 1;
            out.push(oldest);
        }
        self.order.clear();
    }

    fn pop_oldest(&mut self) -> Option<Collected> {
        while let Some((id, seq)) = self.order.pop_front() {
            if self.pending.get(&id).is_some_and(|p| p.seq == seq) {
                return self.pending.remove(&id).map(|p| Collected {
                    incomplete: true,
                    ..p.parts
                });
            }
        }
        None
    }

    /// When the oldest waiting trace's window ends, if any waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.order.iter().find_map(|(id, seq)| {
            self.pending
                .get(id)
                .filter(|p| p.seq == *seq)
                .map(|p| p.since + self.window)
        })
    }
}

#[cfg(test)]
#[path = "spans_tests.rs"]
mod tests;
