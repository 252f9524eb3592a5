//! A stream's tap into its program's tail ring.
//!
//! The ring holds JSON events. When every sink a stream's events go to is
//! a JSON sink (the usual case), the tap encodes nothing: it notes which
//! sink's batch each event went to, in the order they were encoded, and
//! hands the ring those very bytes, one line per event. When one of them
//! is not (a pretty console, logfmt, syslog, OTLP), the tap is one more
//! copy with a JSON encoder of its own, so each event is encoded once for
//! the ring and nothing is ever parsed again.

use std::sync::Arc;

use super::ring::Ring;
use crate::event::IoStream;
use crate::output::{Encoder, OutputFormat};

pub struct Tap {
    ring: Arc<Ring>,
    stream: IoStream,
    /// The tap's own JSON encoding (when a target is not JSON), and the
    /// events encoded since the last read.
    own: Option<(Encoder, Vec<u8>)>,
    /// Otherwise, for each event since the last read, the batch it went
    /// to: 0 the stream's own, `i` the `i - 1`th routed one.
    marks: Vec<usize>,
    /// Where the next event starts in each batch (kept to reuse).
    cursors: Vec<usize>,
}

impl Tap {
    /// Whether `encoder` writes the plain JSON line the ring keeps.
    pub fn reads(encoder: &Encoder) -> bool {
        encoder.format == OutputFormat::Json && encoder.syslog.is_none() && encoder.otlp.is_none()
    }

    /// `not_json`: a target is not JSON; the tap encodes JSON itself, in
    /// the zone and keys of that encoder.
    pub fn new(ring: Arc<Ring>, stream: IoStream, not_json: Option<&Encoder>) -> Tap {
        let own = not_json.map(|e| {
            let encoder = Encoder {
                format: OutputFormat::Json,
                color: false,
                syslog: None,
                otlp: None,
                // The pipeline has put the static fields in the record.
                resource: None,
                ..e.clone()
            };
            (encoder, Vec::new())
        });
        Tap {
            ring,
            stream,
            own,
            marks: Vec::new(),
            cursors: Vec::new(),
        }
    }

    /// The next event goes to batch `target`.
    #[inline]
    pub fn mark(&mut self, target: usize) {
        if self.own.is_none() {
            self.marks.push(target);
        }
    }

    /// The next `events` events go to batch `target`.
    pub fn mark_many(&mut self, target: usize, events: u32) {
        if self.own.is_none() {
            let events = usize::try_from(events).unwrap_or(usize::MAX);
            self.marks.extend(std::iter::repeat_n(target, events));
        }
    }

    /// Whether it encodes events itself (a target is not JSON), rather
    /// than reading the targets' JSON.
    pub fn encodes(&self) -> bool {
        self.own.is_some()
    }

    /// The tap's own encoder and buffer, when it encodes.
    #[inline]
    pub fn own_encoding(&mut self) -> Option<(&Encoder, &mut Vec<u8>)> {
        let (encoder, buf) = self.own.as_mut()?;
        Some((&*encoder, buf))
    }

    /// Hands the ring the events encoded since the last call: from the
    /// batches (the stream's own, then the routed ones) before they are
    /// sent, or from the tap's own buffer.
    pub fn take<'a>(&mut self, own: &'a [u8], routed: impl Iterator<Item = &'a [u8]>) {
        if let Some((_, buf)) = &mut self.own {
            if !buf.is_empty() {
                self.ring
                    .push(self.stream, buf.split_inclusive(|&b| b == b'\n'));
                buf.clear();
            }
            return;
        }
        if self.marks.is_empty() {
            return;
        }
        let batches: Vec<&[u8]> = std::iter::once(own).chain(routed).collect();
        self.cursors.clear();
        self.cursors.resize(batches.len(), 0);
        let cursors = &mut self.cursors;
        let events = self.marks.iter().filter_map(|&t| {
            let batch = batches.get(t)?;
            let start = *cursors.get(t)?;
            let end = start + memchr::memchr(b'\n', batch.get(start..)?)? + 1;
            cursors[t] = end;
            batch.get(start..end)
        });
        self.ring.push(self.stream, events);
        self.marks.clear();
    }
}
