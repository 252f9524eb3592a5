//! The OTLP/HTTP logs sink. Events arrive already encoded by the reader
//! (see [`crate::output::otlp`]): one frame per event with its resource and
//! its `LogRecord`. The sink keeps frames until a batch is full
//! (`batch_max_events`, `batch_max_bytes`) or its queue runs empty
//! (`flush`), then builds one export request, gzips it and posts it.
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
mod settings;
mod transport;

use std::io::{self, Write};

pub use settings::{
    logs_url, parse_key_values, OtlpSpec, DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_EVENTS,
    DEFAULT_ENDPOINT, DEFAULT_RETRY_MAX_TIME, DEFAULT_TIMEOUT, LOGS_PATH,
};
pub use transport::Outcome;

use crate::output::otlp::frames;
use retry::Backoff;
use transport::Transport;

/// Posts batches of OTLP frames to one endpoint.
pub struct OtlpSink {
    name: String,
    spec: OtlpSpec,
    transport: Transport,
    /// Frames not yet sent, and how many.
    pending: Vec<u8>,
    pending_events: usize,
    /// Reused buffers: the request and its compressed form.
    request: Vec<u8>,
    compressed: Vec<u8>,
    /// Events given up on or rejected, for [`crate::sink::Sink::take_lost`].
    lost: u64,
}

impl OtlpSink {
    pub fn open(name: &str, spec: &OtlpSpec) -> io::Result<OtlpSink> {
        Ok(OtlpSink {
            name: name.to_string(),
            spec: spec.clone(),
            transport: Transport::new(spec)?,
            pending: Vec::new(),
            pending_events: 0,
            request: Vec::new(),
            compressed: Vec::new(),
            lost: 0,
        })
    }

    /// Sends what is pending; on failure its events are counted lost (the
    /// caller's own batch excepted: `write`'s caller counts that one).
    fn send_pending(&mut self, counted_by_caller: usize) -> io::Result<()> {
        if self.pending_events == 0 {
            return Ok(());
        }
        self.request.clear();
        request::build(&self.pending, self.spec.json, &mut self.request);
        let body = if self.spec.gzip {
            self.compressed.clear();
            let mut gz = flate2::write::GzEncoder::new(
                std::mem::take(&mut self.compressed),
                flate2::Compression::fast(),
            );
            gz.write_all(&self.request)?;
            self.compressed = gz.finish()?;
            &self.compressed
        } else {
            &self.request
        };
        let events = self.pending_events;
        let result = deliver(&self.transport, body, &self.spec, &self.name, events);
        self.pending.clear();
        self.pending_events = 0;
        match result {
            Ok(rejected) => {
                self.lost += rejected;
                Ok(())
            }
            Err(e) => {
                self.lost += events.saturating_sub(counted_by_caller) as u64;
                Err(e)
            }
        }
    }
}

impl crate::sink::Sink for OtlpSink {
    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        let mut count = 0;
        for frame in frames(events) {
            if frame.is_err() {
                tracing::error!(sink = %self.name, "sink {}: a torn OTLP frame was skipped", self.name);
                break;
            }
            count += 1;
        }
        self.pending.extend_from_slice(events);
        self.pending_events += count;
        if self.pending_events >= self.spec.batch_max_events
            || self.pending.len() >= self.spec.batch_max_bytes
        {
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
) -> io::Result<u64> {
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
                return Err(io::Error::other(why));
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
                    return Err(io::Error::other(why));
                }
            },
        }
    }
}

/// A failing sink cannot report through itself (the log sink may be this
/// one), so the event goes straight to stderr.
fn report(name: &str, message: &str, lost: u64) {
    let lost = lost.to_string();
    crate::diag::report_to_stderr(
        logmux_parsers::Severity::ERROR,
        &format!("sink {name}: {message}"),
        &[("sink", name), ("lost", &lost)],
    );
}
