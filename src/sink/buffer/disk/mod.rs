//! The disk spool: a directory of append-only segment files between a
//! sink's memory queue and the sink.
//!
//! Two threads share it. The writer ([`writer`]) takes the queue's batches
//! and appends each as one record, never waiting for the sink, so the
//! children only wait when the spool is full and `when_full = "block"`.
//! The delivery thread ([`deliver`]) reads records back in order ([`reader`]),
//! hands them to the sink, and persists how far the sink has delivered
//! ([`ack`]); fully delivered segments are deleted. The state they share is
//! here: the segments on disk, their sizes and pending events, under one
//! lock with one condition variable.
//!
//! One sink owns a directory: it is locked (flock) while logmux runs.

pub mod ack;
mod deliver;
mod reader;
pub mod recover;
pub mod segment;
mod writer;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use logmux_parsers::Severity;
use nix::fcntl::{Flock, FlockArg};

use super::super::spec::DiskSpec;
use recover::{segment_path, Recovered};

pub use deliver::deliver_loop;
pub use writer::write_loop;

/// The largest segment file; smaller for a small spool, so that whole
/// segments can be deleted long before it is full.
const SEGMENT_MAX: u64 = 64 << 20;
const SEGMENT_MIN: u64 = 16 << 10;

/// One segment file in the shared state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: u64,
    /// Bytes written whole and readable.
    pub bytes: u64,
    /// Events in it not yet delivered.
    pub events: u64,
    /// No more appends: the writer has moved on.
    pub sealed: bool,
}

#[derive(Debug, Default)]
pub struct State {
    /// Oldest first; the last one is the writer's unless `writer_done`.
    pub segments: VecDeque<Segment>,
    /// The segment the reader is in: never dropped by `drop_oldest`.
    pub read_segment: u64,
    /// The writer has taken and appended its last batch.
    pub writer_done: bool,
    /// The close timed out: waiting threads give up.
    pub stop: bool,
    /// The number of the next segment: after every one on disk and after
    /// the acknowledged one, which may have been deleted already.
    pub next_segment: u64,
    /// Events dropped to make room (`drop_oldest`).
    pub dropped_oldest: u64,
    /// New events dropped for want of room (`drop_newest`, and a batch
    /// that could not be appended at all).
    pub dropped_newest: u64,
    /// Segments deleted so far (delivered or dropped): room was made.
    pub deleted: u64,
}

impl State {
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    pub fn events(&self) -> u64 {
        self.segments.iter().map(|s| s.events).sum()
    }
}

/// What the two threads share.
pub struct Spool {
    pub name: String,
    pub dir: PathBuf,
    pub spec: DiskSpec,
    pub segment_max: u64,
    state: Mutex<State>,
    /// Data appended, room made, or the end.
    pub changed: Condvar,
    /// Held while the spool is open: one sink per directory.
    _lock: Flock<File>,
}

/// A spool that cannot be used, naming its directory.
fn spool_error(dir: &Path, what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("spool directory {}: {what}: {e}", dir.display()))
}

impl Spool {
    /// Opens (creating if need be) and locks the directory, and recovers
    /// what it holds. Every failure names the directory.
    pub fn open(name: &str, spec: &DiskSpec) -> io::Result<(Spool, Recovered)> {
        let dir = spec.path.clone();
        match fs::metadata(&dir) {
            Ok(m) if !m.is_dir() => {
                return Err(spool_error(&dir, "cannot use it", "not a directory"))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir).map_err(|e| spool_error(&dir, "cannot create it", e))?;
            }
            Err(e) => return Err(spool_error(&dir, "cannot use it", e)),
        }
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(|e| spool_error(&dir, "not writable", e))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            spool_error(
                &dir,
                "locked by another logmux process (one sink per spool directory)",
                e,
            )
        })?;
        let recovered =
            recover::recover(&dir).map_err(|e| spool_error(&dir, "cannot read it", e))?;
        let last = recovered.segments.last().map_or(0, |f| f.id + 1);
        let mut state = State {
            read_segment: recovered.acked.segment,
            next_segment: last.max(recovered.acked.segment + 1),
            ..State::default()
        };
        for f in &recovered.segments {
            state.segments.push_back(Segment {
                id: f.id,
                bytes: f.bytes,
                events: f.events,
                sealed: true,
            });
        }
        let spool = Spool {
            name: name.to_string(),
            segment_max: (spec.max_size / 8).clamp(SEGMENT_MIN, SEGMENT_MAX),
            dir,
            spec: spec.clone(),
            state: Mutex::new(state),
            changed: Condvar::new(),
            _lock: lock,
        };
        spool.report_recovered(&recovered);
        Ok((spool, recovered))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a spool thread panicked mid-update; the
        // counters are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a change, at most `timeout`.
    pub fn wait<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }

    pub fn segment_path(&self, id: u64) -> PathBuf {
        segment_path(&self.dir, id)
    }

    /// Logmux's own event about this spool, straight to stderr: the sink
    /// it describes may be the one logmux's events go to.
    pub fn report(&self, severity: Severity, message: &str, fields: &[(&str, u64)]) {
        use crate::diag::Detail;
        let dir = self.dir.display().to_string();
        let mut all = vec![
            ("sink", Detail::Text(&self.name)),
            ("spool", Detail::Text(&dir)),
        ];
        all.extend(fields.iter().map(|(k, v)| (*k, Detail::Count(*v))));
        crate::diag::report_to_stderr(severity, message, &all);
    }

    fn report_recovered(&self, r: &Recovered) {
        let name = &self.name;
        if r.ack_damaged {
            self.report(Severity::WARN, &format!("sink {name}: the spool's ack file was damaged; every record in the spool is sent again"), &[]);
        }
        if r.cut_bytes > 0 {
            self.report(
                Severity::WARN,
                &format!("sink {name}: cut {} bytes of torn records off the spool's segments (appends a crash or a full disk cut short)", r.cut_bytes),
                &[("cut_bytes", r.cut_bytes)],
            );
        }
        if r.damaged > 0 {
            self.report(
                Severity::ERROR,
                &format!("sink {name}: {} damaged regions ({} bytes) in the spool's segments are skipped", r.damaged, r.damaged_bytes),
                &[("damaged", r.damaged), ("damaged_bytes", r.damaged_bytes)],
            );
        }
        let pending = r.pending_events();
        if pending > 0 || r.redelivered > 0 {
            self.report(
                Severity::INFO,
                &format!(
                    "sink {name}: the spool holds {pending} events from before; {} of them may have been delivered already and are sent again (redelivered)",
                    r.redelivered
                ),
                &[("spooled", pending), ("redelivered", r.redelivered)],
            );
        }
    }
}
