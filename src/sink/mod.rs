//! Sinks: where encoded events go.
//!
//! Every sink runs on a thread of its own behind a bounded [`Queue`], so a
//! slow or stuck destination never stalls supervision (reaping, signals,
//! restarts); only the streams routed to it feel it, as the sink's `on_full`
//! policy says: `block` (lossless; the reader waits, so the child's pipe
//! fills and the child waits too) or `drop` (counted and reported).
//!
//! The reader of a stream encodes each event in the sink's own wire format
//! before queueing it (JSON, logfmt or pretty today; a syslog frame for the
//! syslog sink), so a [`Sink`] is pure transport: it gets whole events and
//! never splits one across two writes. A transport that can fail and come
//! back (a syslog TCP connection) reconnects inside `write` and keeps the
//! batch until it is delivered or the sink gives up and reports the loss.
//!
//! The doors share one output stage on top (`stage`): the encoder of each
//! sink, starting the sinks in use, routing a batch, and closing them all
//! with one report.

pub mod buffer;
mod file;
pub mod keyed_files;
pub mod otlp;
mod queue;
pub mod spec;
mod stage;
pub mod syslog;

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use file::{warn_if_shared, FileSink};
pub use keyed_files::{KeyedFiles, KeyedFilesSpec};
pub use queue::{Batch, Queue, Took};
pub use stage::{encoder_for, report_dropped, OpenError, Route, StartedSinks};
pub use syslog::SyslogSink;

use spec::{BufferSpec, SinkKind, SinkSpec};

/// A destination for encoded events.
pub trait Sink: Send {
    /// Writes whole events (each ends in `\n`).
    fn write(&mut self, events: &[u8]) -> io::Result<()>;
    /// Writes whole events for `key` (a batch's key: the container of
    /// `listen --out-dir`); a sink without keys ignores it.
    fn write_keyed(&mut self, key: Option<&str>, events: &[u8]) -> io::Result<()> {
        let _ = key;
        self.write(events)
    }
    /// Pushes out anything buffered.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Reopens the destination (SIGUSR1, after an outside log rotation).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Events the sink could not deliver since last asked, though `write`
    /// went on (a datagram too large to send).
    fn take_lost(&mut self) -> u64 {
        0
    }
    /// The stack its thread needs: little for a file, more for name
    /// lookups and TLS handshakes.
    fn stack_size(&self) -> usize {
        64 * 1024
    }
    /// A disk spool is in front: a failed delivery returns an error at
    /// once, instead of waiting and trying again inside `write`, so the
    /// spool keeps the records and hands them again after its backoff.
    fn fail_fast(&mut self) {}
    /// What it carries may lag behind the logs (spans): its threads run
    /// at a lower priority, on the CPU the readers and log sinks leave.
    fn background(&self) -> bool {
        false
    }
    /// How long the sink thread may wait for more events before it
    /// flushes a partial batch (an OTLP sink's `batch_timeout`, while it
    /// holds events); zero: flush as soon as the queue is empty.
    fn linger(&self) -> Duration {
        Duration::ZERO
    }
    /// Each `write` that returns `Ok` has sent its events (a syslog socket
    /// took them), none wait for `flush`: behind a spool, a chunk that fails
    /// part way is then handed again from the record that failed, not from
    /// its first (whose events would arrive twice).
    fn sends_each_write(&self) -> bool {
        false
    }
    /// After a failed delivery behind a spool: how long the receiver asked
    /// to be left alone (an OTLP `Retry-After`), the least the spool waits.
    fn retry_after(&mut self) -> Option<Duration> {
        None
    }
}

/// stdout or stderr of logmux itself (in a container: `docker logs`).
pub struct FdSink {
    file: std::fs::File,
}

impl FdSink {
    /// A sink writing to a duplicate of `fd`.
    pub fn new(fd: impl AsFd) -> io::Result<FdSink> {
        let owned: OwnedFd = fd.as_fd().try_clone_to_owned()?;
        Ok(FdSink {
            file: std::fs::File::from(owned),
        })
    }
}

impl Sink for FdSink {
    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        self.file.write_all(events)
    }
}

/// Discards everything.
pub struct NullSink;

impl Sink for NullSink {
    fn write(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Opens the transport a sink spec names. A network sink connects on its
/// first write, so a receiver that is not up yet does not stop the start.
pub fn open(spec: &SinkSpec) -> io::Result<Box<dyn Sink>> {
    Ok(match &spec.kind {
        SinkKind::Stdout => Box::new(FdSink::new(io::stdout())?),
        SinkKind::Stderr => Box::new(FdSink::new(io::stderr())?),
        SinkKind::Null => Box::new(NullSink),
        SinkKind::File {
            path,
            max_size,
            max_files,
        } => Box::new(FileSink::open(path.clone(), *max_size, *max_files)?),
        SinkKind::Syslog(s) => Box::new(SyslogSink::open(&spec.name, s)?),
        // `signals = ["traces"]`: only the span builder's twin sends.
        SinkKind::Otlp(s) if !s.logs && s.signal == otlp::Signal::Logs => Box::new(NullSink),
        SinkKind::Otlp(s) => Box::new(otlp::OtlpSink::open(&spec.name, s)?),
    })
}

/// A running sink: its queue and the thread that empties it.
pub struct SinkHandle {
    pub name: String,
    pub queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
    /// With `buffer = { type = "disk" }`: the spool and its threads.
    spool: Option<buffer::Spooled>,
}

impl SinkHandle {
    /// Starts the thread that writes `sink`'s queue out.
    pub fn start(name: String, sink: Box<dyn Sink>, capacity: usize) -> io::Result<SinkHandle> {
        let queue = Arc::new(Queue::new(capacity));
        let q = Arc::clone(&queue);
        let thread_name = format!("sink-{name}");
        let label = name.clone();
        let background = sink.background();
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .stack_size(sink.stack_size())
            .spawn(move || {
                if background {
                    lower_priority(&label);
                }
                write_loop(&label, sink, &q)
            })?;
        Ok(SinkHandle {
            name,
            queue,
            thread: Some(thread),
            spool: None,
        })
    }

    /// Starts `sink` behind the buffer `buffer` names: the memory queue
    /// alone, or the queue, a disk spool and its delivery thread.
    pub fn start_buffered(
        name: String,
        sink: Box<dyn Sink>,
        capacity: usize,
        buffer: &BufferSpec,
    ) -> io::Result<SinkHandle> {
        let BufferSpec::Disk(disk) = buffer else {
            return SinkHandle::start(name, sink, capacity);
        };
        let queue = Arc::new(Queue::new(capacity));
        let spool = buffer::Spooled::start(&name, sink, &queue, disk)?;
        Ok(SinkHandle {
            name,
            queue,
            thread: None,
            spool: Some(spool),
        })
    }

    /// A sink nothing is routed to: no thread, and nothing opened.
    pub fn unused(name: String) -> SinkHandle {
        SinkHandle {
            name,
            queue: Arc::new(Queue::new(1)),
            thread: None,
            spool: None,
        }
    }

    /// Closes the queue and waits up to `timeout` for what is queued to be
    /// written. Returns the events and bytes that could not be written in
    /// time.
    pub fn close(&mut self, timeout: Duration) -> (u64, usize) {
        if let Some(spool) = &mut self.spool {
            return spool.close(&self.queue, timeout);
        }
        self.queue.close();
        let Some(thread) = self.thread.take() else {
            return (0, 0);
        };
        let deadline = Instant::now() + timeout;
        while !self.queue.is_finished() && Instant::now() < deadline {
            self.queue
                .wait_finished(deadline.saturating_duration_since(Instant::now()));
        }
        if self.queue.is_finished() {
            let _ = thread.join();
            (0, 0)
        } else {
            // Left running (stuck on a reader that never reads, or on a
            // receiver that is down): logmux is about to exit, which ends it.
            (self.queue.queued_events(), self.queue.queued_bytes())
        }
    }
}

/// The sink thread: writes batches in order until the queue is closed and
/// empty. After each take it flushes, unless the sink would rather wait
/// for more ([`Sink::linger`]): then it takes what comes within that time
/// (or until half the queue is held unflushed) and flushes after.
fn write_loop(name: &str, mut sink: Box<dyn Sink>, queue: &Queue) {
    let mut failing = false;
    while let Some(taken) = queue.take() {
        if taken.reopen {
            if let Err(e) = sink.reopen() {
                tracing::error!(sink = name, error = %e, "sink {name}: cannot reopen: {e}");
            }
        }
        // Written events stay counted as queued until the flush: a sink
        // that batches (OTLP) holds them until then, and at exit what it
        // still holds must be reported undelivered.
        let mut held = (0, 0u32);
        write_batches(
            name,
            &mut *sink,
            queue,
            taken.batches,
            &mut held,
            &mut failing,
        );
        let deadline = Instant::now() + sink.linger();
        while held.0 < queue.capacity() / 2 && !sink.linger().is_zero() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match queue.take_within(left) {
                Took::Work(batches) => {
                    write_batches(name, &mut *sink, queue, batches, &mut held, &mut failing);
                }
                Took::Idle | Took::Closed => break,
            }
        }
        let lost_before = queue.lost();
        flush_and_count(&mut *sink, queue);
        let lost = queue.lost().saturating_sub(lost_before);
        queue.count_written(u64::from(held.1).saturating_sub(lost));
        queue.set_failing(failing || lost > 0);
        queue.release(held.0, held.1);
    }
    flush_and_count(&mut *sink, queue);
    queue.mark_finished();
}

/// Writes `batches`, adding what the sink took to `held` (bytes, events);
/// a failed write counts its events lost and reports the first of a run.
fn write_batches(
    name: &str,
    sink: &mut dyn Sink,
    queue: &Queue,
    batches: Vec<Batch>,
    held: &mut (usize, u32),
    failing: &mut bool,
) {
    for batch in &batches {
        match sink.write_keyed(batch.key.as_deref(), &batch.bytes) {
            Ok(()) => {
                *failing = false;
                held.0 += batch.bytes.len();
                held.1 = held.1.saturating_add(batch.events);
            }
            Err(e) => {
                queue.count_lost(u64::from(batch.events));
                // Report the first failure of a run of failures, not each.
                if !*failing {
                    eprint_diag(name, &e);
                }
                *failing = true;
                queue.release(batch.bytes.len(), batch.events);
            }
        }
        let lost = sink.take_lost();
        if lost > 0 {
            queue.count_lost(lost);
        }
    }
    queue.recycle(batches);
}

/// Flushes; a sink that batches (OTLP) counts what a failed flush lost
/// itself, and reports it.
fn flush_and_count(sink: &mut dyn Sink, queue: &Queue) {
    let _ = sink.flush();
    let lost = sink.take_lost();
    if lost > 0 {
        queue.count_lost(lost);
    }
}

/// A failing sink cannot report through itself; logmux's own event goes to
/// the log sink, which may be this one, so it is written straight to stderr.
fn eprint_diag(name: &str, e: &io::Error) {
    crate::diag::report_to_stderr(
        logmux_parsers::Severity::ERROR,
        &format!("sink {name}: write failed: {e}; events are counted as lost until it recovers"),
        &[("sink", crate::diag::Detail::Text(name))],
    );
}

/// Makes the calling thread a background one ([`Sink::background`]); a
/// failure only costs speed, so it is reported and work goes on.
pub(crate) fn lower_priority(label: &str) {
    if let Err(e) = crate::sys::become_background_thread() {
        tracing::debug!("{label}: could not lower the thread's priority: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records how many events each flush pushed out, as an OTLP sink
    /// would send them in one request.
    struct Batching {
        linger: Duration,
        pending: u32,
        flushes: Arc<Mutex<Vec<u32>>>,
    }

    impl Sink for Batching {
        fn write(&mut self, events: &[u8]) -> io::Result<()> {
            self.pending += events.iter().filter(|b| **b == b'\n').count() as u32;
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            if self.pending > 0 {
                self.flushes.lock().unwrap().push(self.pending);
            }
            self.pending = 0;
            Ok(())
        }
        fn linger(&self) -> Duration {
            if self.pending == 0 {
                Duration::ZERO
            } else {
                self.linger
            }
        }
    }

    fn batch(n: u32) -> Batch {
        Batch {
            bytes: b"e\n".repeat(n as usize),
            events: n,
            key: None,
        }
    }

    /// Three pushes 50 ms apart; the flushes the sink saw.
    fn flushes_with(linger: Duration) -> Vec<u32> {
        let flushes = Arc::new(Mutex::new(Vec::new()));
        let sink = Batching {
            linger,
            pending: 0,
            flushes: Arc::clone(&flushes),
        };
        let mut handle = SinkHandle::start("t".into(), Box::new(sink), 1 << 20).unwrap();
        for n in [1, 2, 3] {
            handle.queue.push_blocking(batch(n));
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(handle.close(Duration::from_secs(5)), (0, 0));
        let got = flushes.lock().unwrap().clone();
        got
    }

    #[test]
    fn a_partial_batch_waits_batch_timeout_for_more_events() {
        // Within the timeout the three pushes make one request.
        assert_eq!(flushes_with(Duration::from_secs(2)), [6]);
        // Zero: each push goes out once the queue is empty.
        assert_eq!(flushes_with(Duration::ZERO), [1, 2, 3]);
    }
}
