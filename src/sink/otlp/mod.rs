//! The OTLP/HTTP logs sink. Events arrive already encoded by the reader
//! (see [`crate::output::otlp`]): one frame per event with its resource and
//! its `LogRecord`. The sink keeps frames until a batch is full
//! (`batch_max_events`, `batch_max_bytes`) or it is flushed, then builds
//! one export request, gzips it and posts it. The sink thread flushes when
//! its queue runs empty, after waiting up to `batch_timeout` for more
//! events ([`crate::sink::Sink::linger`]).
//!
//! Delivery follows the OTLP spec ([`transport`]): retryable failures are
//! retried with exponential backoff and jitter, honouring `Retry-After`,
//! for up to `retry_max_time`; then, or at once on a final refusal, the
//! batch's events are counted lost and reported. `flush` returning `Ok`
//! means the receiver acknowledged everything written so far; an `Err`
//! from `write` or `flush` means the pending events were not delivered.
//! At shutdown a sink still retrying is left behind after the drain
//! deadline, and its events are reported undelivered.

pub mod messages;
mod request;
mod retry;
mod retry_after;
mod settings;
mod transport;

use std::io::{self, Write};

pub use settings::{
    logs_url, parse_key_values, signal_url, OtlpSpec, Signal, TracesSpec, DEFAULT_BATCH_MAX_BYTES,
    DEFAULT_BATCH_MAX_EVENTS, DEFAULT_BATCH_TIMEOUT, DEFAULT_ENDPOINT, DEFAULT_RETRY_MAX_TIME,
    DEFAULT_TIMEOUT, LOGS_PATH, TRACES_PATH,
};
pub use transport::Outcome;

use crate::output::otlp::{frames, Frame};
use retry::Backoff;
use transport::Transport;

/// Posts batches of OTLP frames to one endpoint.
pub struct OtlpSink {
    name: String,
    spec: OtlpSpec,
    transport: Transport,
    /// Frames not yet sent, and where each lies in them (found once, as
    /// they are copied in: a second walk would miss the cache on every
    /// frame's header).
    pending: Vec<u8>,
    index: Vec<FrameAt>,
    /// Reused buffers: the request and its compressed form.
    request: Vec<u8>,
    compressed: Vec<u8>,
    /// Events given up on or rejected, for [`crate::sink::Sink::take_lost`].
    lost: u64,
    /// A disk spool is in front ([`crate::sink::Sink::fail_fast`]): one
    /// attempt per request, a retryable failure returned at once.
    fail_fast: bool,
    /// The receiver's `Retry-After` of the last failed attempt, for the spool.
    retry_after: Option<std::time::Duration>,
}

impl OtlpSink {
    pub fn open(name: &str, spec: &OtlpSpec) -> io::Result<OtlpSink> {
        Ok(OtlpSink {
            name: name.to_string(),
            spec: spec.clone(),
            transport: Transport::new(spec)?,
            pending: Vec::new(),
            index: Vec::new(),
            request: Vec::new(),
            compressed: Vec::new(),
            lost: 0,
            fail_fast: false,
            retry_after: None,
        })
    }

    /// Sends what is pending, in requests of at most `batch_max_events`
    /// records and about `batch_max_bytes`; on failure the events not
    /// delivered are counted lost (the caller's own batch excepted:
    /// `write`'s caller counts that one).
    fn send_pending(&mut self, counted_by_caller: usize) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let index = std::mem::take(&mut self.index);
        let total = index.len();
        let mut result = Ok(());
        let mut undelivered = 0;
        for chunk in chunks(
            &index,
            self.spec.batch_max_events,
            self.spec.batch_max_bytes,
        ) {
            let events = chunk.len();
            if matches!(&result, Err((_, true))) {
                // The receiver stayed down for retry_max_time: the rest
                // would wait as long again; they are lost with this one.
                undelivered += events;
                continue;
            }
            match self.send_one(&pending, chunk) {
                Ok(rejected) => self.lost += rejected,
                Err(failure) if self.fail_fast => {
                    // The spool keeps these and hands them again: not lost.
                    self.reuse(pending, index);
                    return Err(failure.0);
                }
                Err(failure) => {
                    undelivered += events;
                    result = Err(failure);
                }
            }
        }
        self.reuse(pending, index);
        debug_assert!(undelivered <= total);
        match result {
            Ok(()) => Ok(()),
            Err((e, _)) => {
                self.lost += undelivered.saturating_sub(counted_by_caller) as u64;
                Err(e)
            }
        }
    }

    /// Keeps the buffers, emptied, for the next batch.
    fn reuse(&mut self, mut pending: Vec<u8>, mut index: Vec<FrameAt>) {
        pending.clear();
        index.clear();
        self.pending = pending;
        self.index = index;
    }

    /// Builds, compresses and delivers one request of the frames of
    /// `pending` that `chunk` points at.
    fn send_one(&mut self, pending: &[u8], chunk: &[FrameAt]) -> Result<u64, (io::Error, bool)> {
        let events = chunk.len();
        self.request.clear();
        let frames = chunk.iter().map(|f| f.frame(pending));
        request::build(frames, self.spec.json, self.spec.signal, &mut self.request);
        let body = if self.spec.gzip {
            let mut gz = flate2::write::GzEncoder::new(
                std::mem::take(&mut self.compressed),
                flate2::Compression::fast(),
            );
            let written = gz.write_all(&self.request).and_then(|()| gz.finish());
            self.compressed = written.map_err(|e| (e, false))?;
            &self.compressed
        } else {
            &self.request
        };
        let result = if self.fail_fast {
            self.retry_after = None;
            deliver_once(
                &self.transport,
                body,
                &self.name,
                events,
                &mut self.retry_after,
            )
        } else {
            deliver(&self.transport, body, &self.spec, &self.name, events)
        };
        self.compressed.clear();
        result
    }
}

/// Where one frame lies in the pending bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameAt {
    at: usize,
    resource: usize,
    record: usize,
}

impl FrameAt {
    fn len(&self) -> usize {
        8 + self.resource + self.record
    }

    fn frame<'b>(&self, bytes: &'b [u8]) -> Frame<'b> {
        let resource = self.at + 8;
        let record = resource + self.resource;
        Frame {
            resource: bytes.get(resource..record).unwrap_or_default(),
            record: bytes.get(record..record + self.record).unwrap_or_default(),
        }
    }
}

/// Appends the whole frames of `events` to `pending` and `index`: copied
/// first, then walked (the copy streams the frames into the cache, where
/// the walk finds each header). A torn tail is left out, so that it never
/// reaches a request nor hides the frames appended after it. Returns the
/// frames appended and whether a tail was torn.
fn append(pending: &mut Vec<u8>, index: &mut Vec<FrameAt>, events: &[u8]) -> (usize, bool) {
    let base = pending.len();
    pending.extend_from_slice(events);
    let (mut whole, mut count, mut torn) = (base, 0, false);
    for frame in frames(pending.get(base..).unwrap_or_default()) {
        let Ok(Frame { resource, record }) = frame else {
            torn = true;
            break;
        };
        let f = FrameAt {
            at: whole,
            resource: resource.len(),
            record: record.len(),
        };
        index.push(f);
        whole += f.len();
        count += 1;
    }
    pending.truncate(whole);
    (count, torn)
}

/// Cuts the frames into requests of at most `max_events` frames and
/// about `max_bytes` (a single larger frame goes alone).
fn chunks(index: &[FrameAt], max_events: usize, max_bytes: usize) -> Vec<&[FrameAt]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, frame) in index.iter().enumerate() {
        let events = i - start;
        if events > 0 && (events == max_events || bytes + frame.len() > max_bytes) {
            out.push(&index[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += frame.len();
    }
    if start < index.len() {
        out.push(&index[start..]);
    }
    out
}

impl crate::sink::Sink for OtlpSink {
    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        let (count, torn) = append(&mut self.pending, &mut self.index, events);
        if torn {
            tracing::error!(sink = %self.name, "sink {}: a torn OTLP frame was skipped", self.name);
        }
        if self.fail_fast {
            // The spool's chunk (about 1 MiB) goes out at its flush, so
            // that flush's answer covers all of it.
            return Ok(());
        }
        if self.index.len() >= self.spec.batch_max_events
            || self.pending.len() >= self.spec.batch_max_bytes
        {
            // Only whole requests now; the rest waits for more or a flush.
            return self.send_pending(count);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_pending(0)
    }

    fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    fn fail_fast(&mut self) {
        self.fail_fast = true;
    }

    /// A traces twin: spans wait while the logs go first.
    fn background(&self) -> bool {
        self.spec.signal == Signal::Traces
    }

    /// Behind a spool the spool's chunk is the batch: no waiting.
    fn linger(&self) -> std::time::Duration {
        if self.fail_fast || self.index.is_empty() {
            return std::time::Duration::ZERO;
        }
        self.spec.batch_timeout
    }

    fn retry_after(&mut self) -> Option<std::time::Duration> {
        self.retry_after.take()
    }

    /// Name lookups and TLS handshakes.
    fn stack_size(&self) -> usize {
        512 * 1024
    }
}

/// Posts `body` until it is delivered, refused, or retried for
/// `retry_max_time`; returns the records the receiver rejected.
fn deliver(
    transport: &Transport,
    body: &[u8],
    spec: &OtlpSpec,
    name: &str,
    events: usize,
) -> Result<u64, (io::Error, bool)> {
    let mut backoff = Backoff::new(spec.retry_max_time);
    loop {
        match transport.post(body) {
            Outcome::Delivered { rejected, message } => {
                if rejected > 0 {
                    report(
                        name,
                        &format!("the receiver rejected {rejected} of {events} records: {message}"),
                        rejected,
                    );
                }
                return Ok(rejected);
            }
            Outcome::Refused { why } => {
                report(
                    name,
                    &format!("{why}: {events} events not delivered (not retried)"),
                    events as u64,
                );
                return Err((io::Error::other(why), false));
            }
            Outcome::Retry { after, why } => match backoff.next_wait(after) {
                Some(wait) => {
                    tracing::debug!(sink = %name, "sink {name}: {why}; retrying in {wait:?}");
                    std::thread::sleep(wait);
                }
                None => {
                    let msg = format!(
                        "{why}: {events} events not delivered after retrying for {:?}",
                        spec.retry_max_time
                    );
                    report(name, &msg, events as u64);
                    return Err((io::Error::other(why), true));
                }
            },
        }
    }
}

/// Behind a spool: posts `body` once. A refusal is final (counted lost and
/// reported, `Ok`: the spool must move past it, sending it again cannot
/// help); a retryable failure is an `Err` with the receiver's
/// `Retry-After` kept in `retry_after`, and the spool tries again.
fn deliver_once(
    transport: &Transport,
    body: &[u8],
    name: &str,
    events: usize,
    retry_after: &mut Option<std::time::Duration>,
) -> Result<u64, (io::Error, bool)> {
    match transport.post(body) {
        Outcome::Delivered { rejected, message } => {
            if rejected > 0 {
                report(
                    name,
                    &format!("the receiver rejected {rejected} of {events} records: {message}"),
                    rejected,
                );
            }
            Ok(rejected)
        }
        Outcome::Refused { why } => {
            report(
                name,
                &format!("{why}: {events} events not delivered (not retried)"),
                events as u64,
            );
            Ok(events as u64)
        }
        Outcome::Retry { after, why } => {
            *retry_after = after;
            Err((io::Error::other(why), false))
        }
    }
}

/// A failing sink cannot report through itself (the log sink may be this
/// one), so the event goes straight to stderr.
fn report(name: &str, message: &str, lost: u64) {
    use crate::diag::Detail;
    crate::diag::report_to_stderr(
        logmux_parsers::Severity::ERROR,
        &format!("sink {name}: {message}"),
        &[("sink", Detail::Text(name)), ("lost", Detail::Count(lost))],
    );
}

#[cfg(test)]
mod sink_tests;

#[cfg(test)]
mod tests {
    use super::{append, chunks, FrameAt};

    /// Frames with an empty resource and records of these lengths, one
    /// after another.
    fn index(records: &[usize]) -> Vec<FrameAt> {
        let mut at = 0;
        records
            .iter()
            .map(|&record| {
                let f = FrameAt {
                    at,
                    resource: 0,
                    record,
                };
                at += f.len();
                f
            })
            .collect()
    }

    /// A frame of `resource` and `record` bytes.
    fn frame(resource: &[u8], record: &[u8]) -> Vec<u8> {
        let mut f = (resource.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(&(record.len() as u32).to_le_bytes());
        f.extend_from_slice(resource);
        f.extend_from_slice(record);
        f
    }

    #[test]
    fn a_torn_tail_is_left_out_and_the_frames_after_it_still_go() {
        let (mut pending, mut index) = (Vec::new(), Vec::new());
        let mut first = [frame(b"r", b"one"), frame(b"r", b"two")].concat();
        first.extend_from_slice(&frame(b"r", b"three")[..7]);
        assert_eq!(append(&mut pending, &mut index, &first), (2, true));
        let second = frame(b"rr", b"four");
        assert_eq!(append(&mut pending, &mut index, &second), (1, false));
        let records: Vec<&[u8]> = index.iter().map(|f| f.frame(&pending).record).collect();
        assert_eq!(records, [&b"one"[..], b"two", b"four"]);
        assert_eq!(index[2].frame(&pending).resource, b"rr");
        assert_eq!(pending.len(), 2 * 12 + 14);
    }

    fn sizes(chunks: &[&[FrameAt]]) -> Vec<usize> {
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn requests_are_cut_at_whole_frames_by_count_and_size() {
        let five = index(&[12; 5]);
        assert_eq!(sizes(&chunks(&five, 2, 1 << 20)), [2, 2, 1]);
        // 20 bytes a frame: 45 bytes hold two.
        let by_size = chunks(&five, 100, 45);
        assert_eq!(sizes(&by_size), [2, 2, 1]);
        assert_eq!(by_size[1][0].at, 40);
        // A frame larger than the limit goes alone.
        assert_eq!(sizes(&chunks(&index(&[100]), 10, 45)), [1]);
        assert_eq!(sizes(&chunks(&index(&[12, 100, 12]), 10, 45)), [1, 1, 1]);
    }
}
