//! The spool's writer thread: takes the queue's batches, appends each to
//! the current segment as one record, and makes room in the queue at once,
//! without waiting for the sink.
//!
//! A segment is sealed and a new one begun when the next record would pass
//! the segment size. The segment is forced to disk as `sync` says. When the
//! spool is full (`max_size`, or the disk: `ENOSPC`, after which the half
//! record is cut off again) `when_full` decides: wait for the sink to make
//! room, drop the new record, or delete the oldest unread segment; drops
//! are counted with the queue's and reported.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::time::{Duration, Instant};

use logmux_parsers::Severity;

use super::segment::{encode, frame_len};
use super::{Segment, Spool, State};
use crate::sink::queue::{Batch, Queue, Took};
use crate::sink::spec::{SyncMode, WhenFull};

/// `sync = "batch"`: the longest a record stays unsynced while more come.
const SYNC_EVERY: Duration = Duration::from_millis(100);

struct Writer<'a> {
    spool: &'a Spool,
    queue: &'a Queue,
    file: File,
    id: u64,
    len: u64,
    frame: Vec<u8>,
    dirty: bool,
    last_sync: Instant,
    /// A `sync = "batch"` flush running in the background.
    syncing: Option<std::thread::JoinHandle<io::Result<()>>>,
    /// A full spool is reported once, until room is made (a segment
    /// deleted): the value of [`State::deleted`] when it was.
    full_reported: Option<u64>,
}

/// What became of one batch.
enum Outcome {
    Appended,
    /// No room, and `when_full` dropped it.
    Dropped,
    /// Not appended: the close timed out while waiting for room.
    Stopped,
}

/// The writer thread: runs until the queue is closed and empty, then syncs.
pub fn write_loop(spool: &Spool, queue: &Queue) {
    let mut w = match Writer::begin(spool, queue) {
        Ok(w) => w,
        Err(e) => {
            spool.report(
                Severity::ERROR,
                &format!(
                    "sink {}: cannot create a spool segment: {e}; its events are counted as lost",
                    spool.name
                ),
                &[],
            );
            return discard(spool, queue);
        }
    };
    loop {
        let batches = match queue.take_within(SYNC_EVERY) {
            Took::Work(b) => b,
            Took::Idle => {
                w.sync_due(false);
                continue;
            }
            Took::Closed => break,
        };
        for batch in batches {
            match w.append(&batch) {
                Outcome::Appended => {}
                Outcome::Dropped => {
                    spool.lock().dropped_newest += u64::from(batch.events);
                    queue.count_dropped(u64::from(batch.events));
                }
                Outcome::Stopped => return finish(spool, queue),
            }
            queue.release(batch.bytes.len(), batch.events);
        }
        queue.set_spool_bytes(spool.lock().bytes());
        w.sync_due(spool.spec.sync == SyncMode::Always);
    }
    w.sync_due(true);
    w.reap_sync();
    finish(spool, queue);
}

/// Without a segment to append to: empties the queue, counting each
/// batch as lost, so that the programs never wait on a spool that cannot
/// take anything.
fn discard(spool: &Spool, queue: &Queue) {
    while let Some(taken) = queue.take() {
        for batch in taken.batches {
            queue.count_lost(u64::from(batch.events));
            queue.release(batch.bytes.len(), batch.events);
        }
    }
    finish(spool, queue);
}

/// Tells the delivery thread that nothing more comes, and the close that
/// the queue is written out.
fn finish(spool: &Spool, queue: &Queue) {
    let mut s = spool.lock();
    s.writer_done = true;
    if let Some(last) = s.segments.back_mut() {
        last.sealed = true;
    }
    drop(s);
    spool.changed.notify_all();
    queue.mark_finished();
}

impl<'a> Writer<'a> {
    /// A new segment after the ones recovered.
    fn begin(spool: &'a Spool, queue: &'a Queue) -> io::Result<Writer<'a>> {
        let id = spool.lock().next_segment;
        let file = create(spool, id)?;
        spool.lock().segments.push_back(Segment {
            id,
            bytes: 0,
            events: 0,
            sealed: false,
        });
        Ok(Writer {
            spool,
            queue,
            file,
            id,
            len: 0,
            frame: Vec::new(),
            dirty: false,
            last_sync: Instant::now(),
            syncing: None,
            full_reported: None,
        })
    }

    fn append(&mut self, batch: &Batch) -> Outcome {
        let size = frame_len(batch.key.as_deref(), &batch.bytes);
        if size > self.spool.spec.max_size {
            self.report_full(&format!(
                "a batch of {size} bytes is larger than the whole spool"
            ));
            return Outcome::Dropped;
        }
        loop {
            if let Some(outcome) = self.wait_for_room(size) {
                return outcome;
            }
            if let Err(e) = self.rotate_if_needed(size) {
                self.report_full(&format!("cannot start a new segment: {e}"));
                return Outcome::Dropped;
            }
            match self.write_record(batch) {
                Ok(()) => return Outcome::Appended,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                    self.report_full("the disk is full");
                    if let Some(outcome) = self.on_full() {
                        return outcome;
                    }
                }
                Err(e) => {
                    self.report_full(&format!("cannot append: {e}"));
                    return Outcome::Dropped;
                }
            }
        }
    }

    /// `None` once `size` more bytes fit under `max_size`; otherwise what
    /// `when_full` made of the batch.
    fn wait_for_room(&mut self, size: u64) -> Option<Outcome> {
        loop {
            let s = self.spool.lock();
            if s.bytes() + size <= self.spool.spec.max_size {
                return None;
            }
            drop(s);
            self.report_full(&format!(
                "the spool is full (max_size = {} bytes)",
                self.spool.spec.max_size
            ));
            if let Some(outcome) = self.on_full() {
                return Some(outcome);
            }
        }
    }

    /// Applies `when_full` once: `Some` ends the batch, `None` tries again.
    fn on_full(&mut self) -> Option<Outcome> {
        match self.spool.spec.when_full {
            WhenFull::DropNewest => Some(Outcome::Dropped),
            WhenFull::DropOldest => {
                (!drop_oldest(self.spool, self.queue)).then_some(Outcome::Dropped)
            }
            WhenFull::Block => {
                self.sync_due(false);
                let s = self.spool.lock();
                let s = self.spool.wait(s, SYNC_EVERY);
                s.stop.then_some(Outcome::Stopped)
            }
        }
    }

    fn report_full(&mut self, why: &str) {
        let deleted = self.spool.lock().deleted;
        if self.full_reported == Some(deleted) {
            return;
        }
        self.full_reported = Some(deleted);
        let policy = match self.spool.spec.when_full {
            WhenFull::Block => "waiting for the sink to make room (when_full = \"block\")",
            WhenFull::DropNewest => "dropping new records, counted (when_full = \"drop_newest\")",
            WhenFull::DropOldest => {
                "dropping the oldest unsent records, counted (when_full = \"drop_oldest\")"
            }
        };
        self.spool.report(
            Severity::WARN,
            &format!("sink {}: spool: {why}; {policy}", self.spool.name),
            &[],
        );
    }

    /// Seals the segment and begins the next when `size` would pass the
    /// segment size.
    fn rotate_if_needed(&mut self, size: u64) -> io::Result<()> {
        if self.len == 0 || self.len + size <= self.spool.segment_max {
            return Ok(());
        }
        self.reap_sync();
        if self.spool.spec.sync != SyncMode::Never {
            self.file.sync_data()?;
        }
        let id = self.id + 1;
        let file = create(self.spool, id)?;
        {
            let mut s = self.spool.lock();
            if let Some(last) = s.segments.back_mut() {
                last.sealed = true;
            }
            s.segments.push_back(Segment {
                id,
                bytes: 0,
                events: 0,
                sealed: false,
            });
        }
        self.spool.changed.notify_all();
        (self.file, self.id, self.len, self.dirty) = (file, id, 0, false);
        Ok(())
    }

    /// Appends one record and makes it visible to the reader; a failed
    /// append is cut off again, so the file holds whole records only.
    fn write_record(&mut self, batch: &Batch) -> io::Result<()> {
        self.frame.clear();
        encode(
            &mut self.frame,
            batch.events,
            batch.key.as_deref(),
            &batch.bytes,
        );
        if let Err(e) = self.file.write_all(&self.frame) {
            self.file.set_len(self.len)?;
            return Err(e);
        }
        self.len += self.frame.len() as u64;
        self.dirty = true;
        if self.frame.capacity() > 1 << 20 {
            self.frame = Vec::new();
        }
        {
            let mut s = self.spool.lock();
            if let Some(seg) = s.segments.iter_mut().rev().find(|seg| seg.id == self.id) {
                seg.bytes = self.len;
                seg.events += u64::from(batch.events);
            }
        }
        self.spool.changed.notify_all();
        Ok(())
    }

    /// Forces the segment to disk when `sync` asks: `force`, or 100 ms
    /// after the last time under `sync = "batch"`. A batch sync runs on a
    /// thread of its own, so appends (and the programs) never wait for the
    /// disk to flush; a forced one (`always`, the end) waits.
    fn sync_due(&mut self, force: bool) {
        let due = match self.spool.spec.sync {
            SyncMode::Never => false,
            SyncMode::Always => force,
            SyncMode::Batch => force || self.last_sync.elapsed() >= SYNC_EVERY,
        };
        if !self.dirty || !due {
            return;
        }
        if !force && self.syncing.as_ref().is_some_and(|t| !t.is_finished()) {
            // The last one is still flushing: this one comes next time.
            return;
        }
        self.reap_sync();
        self.dirty = false;
        self.last_sync = Instant::now();
        if !force {
            let spawned = self.file.try_clone().and_then(|f| {
                std::thread::Builder::new()
                    .name(format!("spool-sync-{}", self.spool.name))
                    .stack_size(64 * 1024)
                    .spawn(move || f.sync_data())
            });
            match spawned {
                Ok(t) => {
                    self.syncing = Some(t);
                    return;
                }
                Err(e) => self.report_sync_error(&e),
            }
        }
        if let Err(e) = self.file.sync_data() {
            self.report_sync_error(&e);
        }
    }

    /// Waits for the sync in the background, if any, and reports its error.
    fn reap_sync(&mut self) {
        if let Some(Ok(Err(e))) = self.syncing.take().map(|t| t.join()) {
            self.report_sync_error(&e);
        }
    }

    fn report_sync_error(&self, e: &io::Error) {
        self.spool.report(
            Severity::ERROR,
            &format!("sink {}: cannot sync the spool: {e}", self.spool.name),
            &[],
        );
    }
}

fn create(spool: &Spool, id: u64) -> io::Result<File> {
    let path = spool.segment_path(id);
    // Append mode: after a failed append is cut off, the next one starts
    // at the new end rather than past a hole.
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|f| f.set_len(0).map(|()| f));
    file.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Deletes the oldest sealed segment the reader has not reached, counting
/// its events as dropped. False if there is none.
fn drop_oldest(spool: &Spool, queue: &Queue) -> bool {
    let mut s = spool.lock();
    let Some(i) = oldest_unread(&s) else {
        return false;
    };
    let Some(seg) = s.segments.remove(i) else {
        return false;
    };
    s.dropped_oldest += seg.events;
    s.deleted += 1;
    drop(s);
    queue.count_dropped(seg.events);
    if let Err(e) = std::fs::remove_file(spool.segment_path(seg.id)) {
        spool.report(
            Severity::ERROR,
            &format!("sink {}: cannot delete a dropped segment: {e}", spool.name),
            &[],
        );
    }
    true
}

fn oldest_unread(s: &State) -> Option<usize> {
    s.segments
        .iter()
        .position(|seg| seg.sealed && seg.id > s.read_segment)
}
