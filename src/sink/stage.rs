//! The output stage every door shares: choosing a sink's encoder, starting
//! the sinks something is routed to, queueing a batch as the sink's
//! `on_full` says, and closing them all with one report of what was
//! dropped, lost or left undelivered.
//!
//! `run` queues from tokio tasks ([`Route::send`]); `filter` and `listen`
//! queue from a thread of their own ([`Route::send_blocking`]). Either way
//! the sink's thread does the writing, so the three doors get the same
//! sinks, the same back-pressure and the same counts.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spec::{OnFull, SinkKind, SinkSpec};
use super::{Batch, Queue, SinkHandle};
use crate::output::{Encoder, OutputFormat};

/// Where a reader's batches go: a sink's queue, and what to do when it is full.
#[derive(Clone)]
pub struct Route {
    pub queue: Arc<Queue>,
    pub on_full: OnFull,
}

impl Route {
    /// Queues a batch as the sink's policy says (from a tokio task).
    pub async fn send(&self, batch: Batch) {
        match self.on_full {
            OnFull::Block => self.queue.push_wait(batch).await,
            OnFull::Drop => {
                self.queue.try_push(batch);
            }
        }
    }

    /// Queues a batch as the sink's policy says, blocking the calling
    /// thread while the queue is full under `on_full = "block"`.
    pub fn send_blocking(&self, batch: Batch) {
        self.send_blocking_noting(batch, |_| {});
    }

    /// [`Route::send_blocking`], telling `waiting` when the caller starts
    /// and stops waiting for room ([`Queue::push_blocking_noting`]).
    pub fn send_blocking_noting(&self, batch: Batch, waiting: impl Fn(bool)) {
        match self.on_full {
            OnFull::Block => self.queue.push_blocking_noting(batch, waiting),
            OnFull::Drop => {
                self.queue.try_push(batch);
            }
        }
    }
}

/// The encoder of a sink: its format and keys; colour only for pretty
/// output on a terminal; a syslog frame for a syslog sink.
pub fn encoder_for(spec: &SinkSpec) -> Encoder {
    let tty = match spec.kind {
        SinkKind::Stdout => io::stdout().is_terminal(),
        SinkKind::Stderr => io::stderr().is_terminal(),
        _ => false,
    };
    let syslog = match &spec.kind {
        SinkKind::Syslog(s) => Some(Arc::new(super::syslog::message_settings(s))),
        _ => None,
    };
    let otlp = match &spec.kind {
        SinkKind::Otlp(o) => Some(Arc::new(crate::output::otlp::Otlp {
            json: o.json,
            resource: o.resource.clone(),
        })),
        _ => None,
    };
    Encoder {
        format: spec.output,
        keys: spec.keys,
        color: spec.output == OutputFormat::Pretty && tty && !crate::output::no_color(),
        zone: crate::output::LocalZone::System,
        syslog,
        otlp,
        resource: None,
    }
}

/// A sink that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open sink {name}: {source}")]
pub struct OpenError {
    pub name: String,
    #[source]
    pub source: io::Error,
}

/// A door's sinks, started: one [`SinkHandle`] per spec, in the specs' order.
pub struct StartedSinks {
    handles: Vec<SinkHandle>,
    on_full: Vec<OnFull>,
    /// Drops already reported, per sink.
    dropped_seen: Vec<u64>,
}

impl StartedSinks {
    /// Starts the sinks that `used` marks; the others get no thread and
    /// nothing is opened for them (a file sink nobody writes to is not created).
    pub fn start(specs: &[SinkSpec], used: &[bool]) -> Result<StartedSinks, OpenError> {
        let mut handles = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let handle = if used.get(i).copied().unwrap_or(false) {
                super::open(spec)
                    .and_then(|s| {
                        SinkHandle::start_buffered(
                            spec.name.clone(),
                            s,
                            spec.queue_bytes,
                            &spec.buffer,
                        )
                    })
                    .map_err(|source| OpenError {
                        name: spec.name.clone(),
                        source,
                    })?
            } else {
                SinkHandle::unused(spec.name.clone())
            };
            handles.push(handle);
        }
        Ok(StartedSinks {
            handles,
            on_full: specs.iter().map(|s| s.on_full).collect(),
            dropped_seen: vec![0; specs.len()],
        })
    }

    /// One sink started by the door itself (a sink without a spec:
    /// `listen --out-dir`'s files keyed by container).
    pub fn adopt(handle: SinkHandle, on_full: OnFull) -> StartedSinks {
        StartedSinks {
            handles: vec![handle],
            on_full: vec![on_full],
            dropped_seen: vec![0],
        }
    }

    /// Sinks started by the door itself, each with its `on_full`.
    pub fn adopt_all(handles: Vec<(SinkHandle, OnFull)>) -> StartedSinks {
        let n = handles.len();
        let (handles, on_full) = handles.into_iter().unzip();
        StartedSinks {
            handles,
            on_full,
            dropped_seen: vec![0; n],
        }
    }

    pub fn handles(&self) -> &[SinkHandle] {
        &self.handles
    }

    /// The route to sink `i` (its index in the specs).
    pub fn route(&self, i: usize) -> Option<Route> {
        let handle = self.handles.get(i)?;
        Some(Route {
            queue: Arc::clone(&handle.queue),
            on_full: self.on_full.get(i).copied().unwrap_or(OnFull::Block),
        })
    }

    /// Reports, as one logmux event per sink, the events `on_full = "drop"`
    /// dropped since the last report.
    pub fn report_dropped(&mut self) {
        for (h, seen) in self.handles.iter().zip(self.dropped_seen.iter_mut()) {
            report_dropped(&h.name, &h.queue, seen);
        }
    }

    /// Closes every sink, `last` after the others (logmux's own log sink,
    /// so that their reports reach it), waiting up to `timeout` for each;
    /// reports what was not delivered. Returns the events not delivered or
    /// lost to write errors, over all sinks.
    pub fn close(&mut self, timeout: Duration, last: Option<usize>) -> u64 {
        let deadline = Instant::now() + timeout;
        let missing = self.close_all_but(deadline, last);
        match last {
            Some(i) => missing + self.close_one(deadline, i),
            None => missing,
        }
    }

    /// Closes every sink but `last`, all within one `deadline` (a stuck
    /// sink does not give the next one a fresh wait); reports and returns
    /// the events not delivered or lost to write errors.
    pub fn close_all_but(&mut self, deadline: Instant, last: Option<usize>) -> u64 {
        let mut missing = 0;
        for (i, h) in self.handles.iter_mut().enumerate() {
            if Some(i) != last {
                let left = deadline.saturating_duration_since(Instant::now());
                missing += close_and_report(h, left);
            }
        }
        missing
    }

    /// Closes sink `i` (logmux's own log sink, last), waiting until `deadline`.
    pub fn close_one(&mut self, deadline: Instant, i: usize) -> u64 {
        let left = deadline.saturating_duration_since(Instant::now());
        self.handles
            .get_mut(i)
            .map_or(0, |h| close_and_report(h, left))
    }
}

/// Reports the events a sink dropped (`on_full = "drop"`) since `seen`.
pub fn report_dropped(name: &str, queue: &Queue, seen: &mut u64) {
    let dropped = queue.dropped();
    if dropped > *seen {
        let new = dropped - *seen;
        *seen = dropped;
        tracing::warn!(sink = %name, dropped = new, dropped_total = dropped, "dropped {new} lines: sink {name} was full (on_full = \"drop\")");
    }
}

/// Closes one sink; reports (on stderr: the log sink may be this one) the
/// events it could not deliver in time or lost to write errors.
fn close_and_report(h: &mut SinkHandle, timeout: Duration) -> u64 {
    let (events, bytes) = h.close(timeout);
    let lost = h.queue.lost();
    if events > 0 || bytes > 0 || lost > 0 {
        crate::diag::report_to_stderr(
            logmux_parsers::Severity::ERROR,
            &format!(
                "sink {}: {events} events ({bytes} bytes) not delivered by the shutdown deadline; {lost} events lost to write errors",
                h.name
            ),
            &[
                ("sink", crate::diag::Detail::Text(&h.name)),
                ("undelivered", crate::diag::Detail::Count(events)),
                ("lost", crate::diag::Detail::Count(lost)),
            ],
        );
    }
    events + lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::KeyStyle;

    fn file_spec(name: &str, path: std::path::PathBuf, on_full: OnFull) -> SinkSpec {
        SinkSpec {
            name: name.to_string(),
            kind: SinkKind::File {
                path,
                max_size: None,
                max_files: 1,
            },
            output: OutputFormat::Json,
            keys: KeyStyle::Nested,
            on_full,
            queue_bytes: 1 << 20,
            buffer: Default::default(),
        }
    }

    #[test]
    fn only_used_sinks_open_and_close_writes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let (used, unused) = (dir.path().join("used.log"), dir.path().join("unused.log"));
        let specs = [
            file_spec("used", used.clone(), OnFull::Block),
            file_spec("unused", unused.clone(), OnFull::Block),
        ];
        let mut sinks = StartedSinks::start(&specs, &[true, false]).unwrap();
        assert!(
            !unused.exists(),
            "a sink nothing is routed to is not opened"
        );
        let route = sinks.route(0).unwrap();
        for i in 0..3 {
            route.send_blocking(Batch {
                bytes: format!("event {i}\n").into_bytes(),
                events: 1,
                key: None,
            });
        }
        assert_eq!(sinks.close(Duration::from_secs(5), Some(1)), 0);
        let written = std::fs::read_to_string(&used).unwrap();
        assert_eq!(written, "event 0\nevent 1\nevent 2\n");
    }

    #[test]
    fn a_sink_that_cannot_open_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be.
        let spec = file_spec("archive", dir.path().to_path_buf(), OnFull::Drop);
        let e = StartedSinks::start(&[spec], &[true]).err().unwrap();
        assert_eq!(e.name, "archive");
        assert!(
            e.to_string().starts_with("cannot open sink archive: "),
            "{e}"
        );
    }
}
