//! Where the listener's events go: stdout (the default), `--out-dir` (the
//! sink layer's file sink keyed by container), or a sink of the sink layer
//! (`--sink NAME`).
//!
//! Events are encoded on the listener's thread into buffers of whole
//! events (one for stdout or the sink, one per `--out-dir` file) and handed,
//! when full or a millisecond after the first event in them, to a writer
//! thread of its own (for a sink and `--out-dir`: the sink's thread, behind
//! its bounded queue and its `on_full` policy). Copying JSON into the kernel costs
//! about as much as parsing it, so the two overlap on two cores. At most
//! [`IN_FLIGHT`] buffers wait for the writer; past that the listener waits
//! too, so a slow reader of stdout slows TCP senders down rather than
//! growing memory. That wait ends once TERM or INT has come,
//! `--drain-timeout` has passed and the writer is stuck (a reader that
//! keeps reading gets what was parsed: [`super::writer_watch`]), or at a
//! second signal ([`super::stop`]): the buffers not written are then let
//! go, and counted (bytes, and lines: events, one a line in JSON and
//! logfmt) for the final report.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use indexmap::IndexMap;

use super::out_dir;
use super::writer_watch::{let_go, Progress};
use crate::shutdown::signals::StopSignals;
use crate::shutdown::Shutdown;
use crate::sink::spec::{OnFull, SinkSpec};
use crate::sink::{Batch, KeyedFiles, KeyedFilesSpec, Route, SinkHandle, StartedSinks};

/// The queue in front of `--out-dir`'s files.
const OUT_DIR_QUEUE: usize = 4 << 20;

/// stdout's buffer is handed over once it holds this much.
const STDOUT_WRITE_SIZE: usize = 128 * 1024;

/// A file's buffer is handed over once it holds this much.
const FILE_WRITE_SIZE: usize = 32 * 1024;

/// Every file buffer is handed over once they hold this much together.
const FILES_TOTAL: usize = 4 << 20;

/// Buffers handed over and not yet written, at most.
const IN_FLIGHT: usize = 8;

/// File buffers kept at most; past this, all are handed over and forgotten.
const MAX_BUFFERS: usize = 4096;

/// While stdout's writer has [`IN_FLIGHT`] buffers, the listener looks this
/// often whether it may hand over the next (or must give up, stopping).
const FULL_WAIT: Duration = Duration::from_micros(500);

/// Stopping looks this often whether stdout's writer has finished.
const FINISH_WAIT: Duration = Duration::from_millis(10);

/// What the writer thread reports back.
#[derive(Default)]
struct Shared {
    /// stdout's reader went away.
    closed: AtomicBool,
    /// Writing stdout failed.
    error: Mutex<Option<io::Error>>,
    /// Bytes of `--out-dir` events that could not be written.
    lost_bytes: Arc<AtomicU64>,
    /// Bytes handed to stdout's writer, or let go because it was stuck
    /// (a sink and `--out-dir` count their own losses), by every shard.
    handed_bytes: AtomicU64,
    /// Bytes and lines stdout's writer has written.
    written_bytes: AtomicU64,
    written_lines: AtomicU64,
    /// When stdout's writer last wrote.
    progress: Progress,
}

/// What stdout's writer did not write, at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unwritten {
    pub bytes: u64,
    /// Lines written (events, for JSON and logfmt).
    pub written_lines: u64,
}

/// One buffer of whole events for stdout's writer.
struct Chunk {
    bytes: Vec<u8>,
    /// Events in it, so that the writer counts what it wrote without
    /// counting lines (JSON and logfmt write one line an event).
    events: u64,
    /// Where the emptied buffer goes back to (the shard that filled it).
    back: SyncSender<Vec<u8>>,
}

enum Buffers {
    /// stdout, or the `--sink`.
    One(Vec<u8>),
    Files(IndexMap<Box<str>, Vec<u8>>),
}

/// A `--sink` or `--out-dir`: its thread, and the route to its queue.
struct SinkOut {
    /// The sink's thread; a sibling ([`Outbox::sibling`]) has only the route.
    sinks: Option<StartedSinks>,
    route: Route,
    /// `--sink`: events it could not deliver make the listener's exit fail.
    strict: bool,
}

/// The buffers of encoded events, and the writer they are handed to.
pub struct Outbox {
    buffers: Buffers,
    /// A `--sink` takes the buffers instead of the writer thread.
    sink: Option<SinkOut>,
    tx: Option<SyncSender<Chunk>>,
    /// Emptied buffers coming back from the writer, to be reused.
    free: Receiver<Vec<u8>>,
    free_tx: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
    /// The writer thread, held by the first outbox, not its siblings.
    thread: Option<JoinHandle<()>>,
    /// The pipeline's event count now, and at the last hand-over of the
    /// one buffer (stdout's or the sink's).
    events: u64,
    events_handed: u64,
    /// TERM and INT: when a blocked hand-over gives up.
    stop: Option<Arc<StopSignals>>,
}

impl Outbox {
    /// stdout, written through a duplicate of fd 1 (not Rust's
    /// line-buffered `Stdout`). `shutdown` is triggered if its reader goes
    /// away or writing fails.
    pub fn stdout(shutdown: Shutdown) -> io::Result<Outbox> {
        let fd: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
        Outbox::start(std::fs::File::from(fd), shutdown)
    }

    /// `--out-dir`: the file sink keyed by container; creates the
    /// directory if needed.
    pub fn dir(spec: KeyedFilesSpec) -> io::Result<Outbox> {
        let shared = Shared::default();
        let files = KeyedFiles::new(spec, out_dir::OTHERS, Arc::clone(&shared.lost_bytes))?;
        let handle = SinkHandle::start("out-dir".into(), Box::new(files), OUT_DIR_QUEUE)?;
        let sinks = StartedSinks::adopt(handle, OnFull::Block);
        Ok(Outbox::to_sink(
            sinks,
            Buffers::Files(IndexMap::new()),
            false,
            shared,
        ))
    }

    /// `--sink NAME`: starts the sink's thread; buffers go to its queue.
    pub fn sink(spec: &SinkSpec) -> Result<Outbox, crate::sink::OpenError> {
        let sinks = StartedSinks::start(std::slice::from_ref(spec), &[true])?;
        Ok(Outbox::to_sink(
            sinks,
            Buffers::One(Vec::new()),
            true,
            Shared::default(),
        ))
    }

    /// Buffers handed to the first of `sinks`; `strict`: events it could
    /// not deliver make an error at the end.
    fn to_sink(sinks: StartedSinks, buffers: Buffers, strict: bool, shared: Shared) -> Outbox {
        let route = sinks.route(0);
        let (free_tx, free) = mpsc::sync_channel(1);
        Outbox {
            buffers,
            sink: route.map(|route| SinkOut {
                sinks: Some(sinks),
                route,
                strict,
            }),
            tx: None,
            free,
            free_tx,
            shared: Arc::new(shared),
            thread: None,
            events: 0,
            events_handed: 0,
            stop: None,
        }
    }

    fn start(file: std::fs::File, shutdown: Shutdown) -> io::Result<Outbox> {
        let (tx, rx) = mpsc::sync_channel(IN_FLIGHT);
        let (free_tx, free) = mpsc::sync_channel(IN_FLIGHT);
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("listen-writer".into())
            .spawn(move || write_loop(&rx, file, &state, &shutdown))?;
        Ok(Outbox {
            buffers: Buffers::One(Vec::new()),
            sink: None,
            tx: Some(tx),
            free,
            free_tx,
            shared,
            thread: Some(thread),
            events: 0,
            events_handed: 0,
            stop: None,
        })
    }

    /// An outbox of its own for another shard, with buffers of its own,
    /// handing them to the same writer or sink queue. Events of one
    /// connection stay in one shard, so their order holds; two shards'
    /// buffers interleave whole. The first outbox's [`Outbox::finish`]
    /// waits for the writer once every sibling is dropped.
    pub fn sibling(&self) -> Outbox {
        let (free_tx, free) = mpsc::sync_channel(IN_FLIGHT);
        let buffers = match &self.buffers {
            Buffers::One(_) => Buffers::One(Vec::new()),
            Buffers::Files(_) => Buffers::Files(IndexMap::new()),
        };
        Outbox {
            buffers,
            sink: self.sink.as_ref().map(|s| SinkOut {
                sinks: None,
                route: s.route.clone(),
                strict: s.strict,
            }),
            tx: self.tx.clone(),
            free,
            free_tx,
            shared: Arc::clone(&self.shared),
            thread: None,
            events: 0,
            events_handed: 0,
            stop: self.stop.clone(),
        }
    }

    /// Hand-overs blocked by a stalled stdout give up as `stop` says.
    /// The sink's name and queue (`--sink`, `--out-dir`), for the metrics.
    pub fn queues(&self) -> Vec<(String, Arc<crate::sink::Queue>)> {
        self.sink
            .iter()
            .filter_map(|s| s.sinks.as_ref())
            .flat_map(StartedSinks::handles)
            .map(|h| (h.name.clone(), Arc::clone(&h.queue)))
            .collect()
    }

    pub fn set_stop(&mut self, stop: Arc<StopSignals>) {
        self.stop = Some(stop);
    }

    /// The buffer for events of a container (`None`: not a container).
    pub fn buffer(&mut self, container: Option<&str>) -> &mut Vec<u8> {
        let files = match &mut self.buffers {
            Buffers::One(buf) => return buf,
            Buffers::Files(files) => files,
        };
        let stem = out_dir::stem(container);
        let index = match files.get_index_of(stem) {
            Some(i) => i,
            None => {
                if files.len() >= MAX_BUFFERS {
                    // Rare (thousands of containers): hand everything over
                    // and start the table again.
                    let all: Vec<(Box<str>, Vec<u8>)> = files.drain(..).collect();
                    for (stem, bytes) in all {
                        let to = To {
                            tx: self.tx.as_ref(),
                            back: &self.free_tx,
                            stop: None,
                            progress: &self.shared.progress,
                            events: 0,
                        };
                        hand_over(&to, self.sink.as_mut(), Some(stem), bytes);
                    }
                }
                files.insert_full(Box::from(stem), Vec::new()).0
            }
        };
        &mut files[index]
    }

    /// Hands over the buffers that are full.
    pub fn write_full(&mut self) {
        let min = match &self.buffers {
            Buffers::One(_) => STDOUT_WRITE_SIZE,
            Buffers::Files(files) => {
                // Past the total, every file's buffer goes, however small.
                if files.values().map(Vec::len).sum::<usize>() >= FILES_TOTAL {
                    1
                } else {
                    FILE_WRITE_SIZE
                }
            }
        };
        self.hand_over_from(min);
    }

    /// Hands over everything buffered.
    pub fn flush(&mut self) {
        self.hand_over_from(1);
    }

    /// Hands over every buffer holding at least `min` bytes.
    fn hand_over_from(&mut self, min: usize) {
        match &mut self.buffers {
            Buffers::One(buf) => {
                if buf.len() >= min {
                    let bytes = take(buf, &self.free);
                    // Only stdout's writer counts what it wrote.
                    if self.tx.is_some() {
                        let n = bytes.len() as u64;
                        self.shared.handed_bytes.fetch_add(n, Ordering::SeqCst);
                    }
                    let events = self.events.saturating_sub(self.events_handed);
                    self.events_handed = self.events;
                    let to = To {
                        tx: self.tx.as_ref(),
                        back: &self.free_tx,
                        stop: self.stop.as_deref(),
                        progress: &self.shared.progress,
                        events,
                    };
                    hand_over(&to, self.sink.as_mut(), None, bytes);
                }
            }
            Buffers::Files(files) => {
                for (stem, buf) in files.iter_mut() {
                    if buf.len() >= min {
                        let bytes = std::mem::take(buf);
                        let key = Some(stem.clone());
                        let to = To {
                            tx: self.tx.as_ref(),
                            back: &self.free_tx,
                            stop: None,
                            progress: &self.shared.progress,
                            events: 0,
                        };
                        hand_over(&to, self.sink.as_mut(), key, bytes);
                    }
                }
            }
        }
    }

    /// Whether stopping has given up waiting (`--drain-timeout` after the
    /// first signal, or a second): connections parse no more.
    pub fn gave_up(&self) -> bool {
        self.stop.as_deref().is_some_and(StopSignals::give_up)
    }

    /// Whether events wait in a buffer.
    pub fn has_buffered(&self) -> bool {
        match &self.buffers {
            Buffers::One(buf) => !buf.is_empty(),
            Buffers::Files(files) => files.values().any(|b| !b.is_empty()),
        }
    }

    /// `Ok(false)` once stdout's reader has gone away; the error if writing
    /// stdout failed.
    pub fn state(&self) -> io::Result<bool> {
        if let Some(e) = lock(&self.shared.error).take() {
            return Err(e);
        }
        Ok(!self.shared.closed.load(Ordering::SeqCst))
    }

    /// The pipeline has encoded `events` events so far: a batch handed to
    /// a sink counts the ones since the last (for its drop and loss counts).
    pub fn count_events(&mut self, events: u64) {
        self.events = events;
    }

    /// Hands over what is buffered and waits until the writer has written
    /// everything (a sink: up to `timeout`, then its undelivered events are
    /// reported, and make an error).
    pub fn finish(&mut self, timeout: Duration) -> io::Result<bool> {
        self.flush();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            // A writer stuck on a stalled stdout is left behind once
            // stopping may give up; its buffers are counted as unwritten.
            while !t.is_finished() && !let_go(self.stop.as_deref(), &self.shared.progress) {
                std::thread::sleep(FINISH_WAIT);
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let started = self
            .sink
            .as_mut()
            .and_then(|s| s.sinks.as_mut().map(|x| (x, s.strict)));
        if let Some((sinks, strict)) = started {
            sinks.report_dropped();
            let missing = sinks.close(timeout, None);
            if missing > 0 && strict {
                return Err(io::Error::other(format!(
                    "{missing} events were not delivered to the sink"
                )));
            }
        }
        self.state()
    }

    /// Bytes of events that could not be written (`--out-dir` files).
    pub fn lost_bytes(&self) -> u64 {
        self.shared.lost_bytes.load(Ordering::SeqCst)
    }

    /// What stdout's writer has not written (so far; final after `finish`).
    pub fn unwritten(&self) -> Unwritten {
        let written = self.shared.written_bytes.load(Ordering::SeqCst);
        Unwritten {
            bytes: self
                .shared
                .handed_bytes
                .load(Ordering::SeqCst)
                .saturating_sub(written),
            written_lines: self.shared.written_lines.load(Ordering::SeqCst),
        }
    }
}

/// Takes a full buffer, leaving an emptied one from the writer (or a new one).
fn take(buf: &mut Vec<u8>, free: &Receiver<Vec<u8>>) -> Vec<u8> {
    let fresh = free
        .try_recv()
        .unwrap_or_else(|_| Vec::with_capacity(2 * STDOUT_WRITE_SIZE));
    std::mem::replace(buf, fresh)
}

/// stdout's writer, as one hand-over sees it.
struct To<'a> {
    tx: Option<&'a SyncSender<Chunk>>,
    /// Where the writer returns the emptied buffer.
    back: &'a SyncSender<Vec<u8>>,
    /// When a blocked hand-over gives up.
    stop: Option<&'a StopSignals>,
    progress: &'a Progress,
    /// Events in the buffer handed over (the one buffer's; an
    /// `--out-dir` file's are counted from its lines).
    events: u64,
}

/// Hands a buffer over: to the sink's queue (as its `on_full` says; `key`
/// names an `--out-dir` file), or to stdout's writer thread.
fn hand_over(to: &To<'_>, sink: Option<&mut SinkOut>, key: Option<Box<str>>, bytes: Vec<u8>) {
    match sink {
        Some(s) => s.send(key, bytes, to.events),
        None => send(to, bytes),
    }
}

impl SinkOut {
    /// `events`: the one buffer's events since the last hand-over.
    fn send(&mut self, key: Option<Box<str>>, bytes: Vec<u8>, events: u64) {
        let events = match key {
            // One of several files' buffers: its events are its lines.
            Some(_) => bytes.iter().filter(|&&b| b == b'\n').count() as u64,
            None => events,
        };
        self.route.send_blocking(Batch {
            bytes,
            events: u32::try_from(events).unwrap_or(u32::MAX),
            key,
        });
    }
}

/// Hands a buffer to stdout's writer, waiting while [`IN_FLIGHT`] are
/// pending, unless `stop` has given up and the writer is stuck ([`let_go`]:
/// then the bytes are let go, and counted as unwritten at the end). If the writer is gone (it only ends
/// once `tx` is dropped), the bytes go with it.
fn send(to: &To<'_>, bytes: Vec<u8>) {
    let (Some(tx), stop) = (to.tx, to.stop) else {
        return;
    };
    let mut chunk = Chunk {
        bytes,
        events: to.events,
        back: to.back.clone(),
    };
    loop {
        match tx.try_send(chunk) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(c)) => {
                if let_go(stop, to.progress) {
                    return;
                }
                chunk = c;
                std::thread::sleep(FULL_WAIT);
            }
        }
    }
}

/// Bytes a write to stdout takes at most: a pipe's default capacity, so
/// that a reader's progress shows between writes ([`Progress`]) and what a
/// stuck write leaves is known to within one.
const WRITE_PIECE: usize = 64 * 1024;

/// `write_all` in pieces, counting the bytes and lines written as they go,
/// so that what a stuck write leaves is known. A chunk written to its end
/// counts its events as its lines; one cut short, the lines written.
fn write_counted(file: &mut std::fs::File, chunk: &Chunk, shared: &Shared) -> io::Result<()> {
    let mut bytes = &chunk.bytes[..];
    // This chunk's lines counted as written so far.
    let mut lines = 0;
    while !bytes.is_empty() {
        let piece = bytes.get(..WRITE_PIECE).unwrap_or(bytes);
        match file.write(piece) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                let (done, rest) = bytes.split_at(n);
                bytes = rest;
                let now = if rest.is_empty() {
                    chunk.events
                } else {
                    lines + memchr::memchr_iter(b'\n', done).count() as u64
                };
                shared.written_bytes.fetch_add(n as u64, Ordering::SeqCst);
                // Wrapping: a chunk of multi-line events, written to its
                // end, counts fewer events than the lines counted so far.
                let more = now.wrapping_sub(lines);
                shared.written_lines.fetch_add(more, Ordering::SeqCst);
                lines = now;
                shared.progress.made();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The writer thread: writes chunks in order until the listener lets go.
fn write_loop(rx: &Receiver<Chunk>, mut file: std::fs::File, shared: &Shared, shutdown: &Shutdown) {
    let mut done = false;
    while let Ok(mut chunk) = rx.recv() {
        shared.progress.busy(true);
        if !done {
            if let Err(e) = write_counted(&mut file, &chunk, shared) {
                // Nothing more can be written; the rest is let go.
                done = true;
                if e.kind() == io::ErrorKind::BrokenPipe {
                    shared.closed.store(true, Ordering::SeqCst);
                } else {
                    *lock(&shared.error) = Some(e);
                }
                shutdown.trigger();
            }
        }
        shared.progress.busy(false);
        chunk.bytes.clear();
        let _ = chunk.back.try_send(chunk.bytes);
    }
}
