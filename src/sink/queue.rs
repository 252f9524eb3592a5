//! The bounded queue in front of a sink.
//!
//! Readers push batches of encoded events; the sink's thread takes them all
//! at once and writes them out. The bound is in bytes and covers what the
//! thread is still writing, so memory stays bounded whatever the rates.
//! Readers wait asynchronously (a tokio `Notify`), the sink thread blocks on
//! a `Condvar`: neither side spins.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

/// Whole encoded events, as one reader read them.
#[derive(Debug, Default)]
pub struct Batch {
    pub bytes: Vec<u8>,
    pub events: u32,
    /// For a keyed sink: which of its destinations (a container's file).
    pub key: Option<Box<str>>,
}

/// What the sink thread takes in one go.
pub struct Taken {
    pub batches: Vec<Batch>,
    /// SIGUSR1 asked for the files to be reopened.
    pub reopen: bool,
}

/// What [`Queue::take_within`] found.
pub enum Took {
    Work(Vec<Batch>),
    Idle,
    Closed,
}

#[derive(Default)]
struct State {
    batches: VecDeque<Batch>,
    /// Bytes queued or being written.
    bytes: usize,
    /// Events queued or being written.
    events: u64,
    closed: bool,
    finished: bool,
    reopen: bool,
    dropped: u64,
    lost: u64,
    /// Threads waiting on `work` and on `room_blocking`: a wake-up is a
    /// system call, made only when someone waits (one per batch before).
    takers_waiting: u32,
    pushers_waiting: u32,
    /// Written batches' buffers, emptied, for the next batch (see
    /// [`Queue::spare`]).
    spare: Vec<Vec<u8>>,
}

pub struct Queue {
    state: Mutex<State>,
    /// Wakes the sink thread.
    work: Condvar,
    /// Wakes `close` waiting for the thread to finish.
    done: Condvar,
    /// Wakes readers waiting for room.
    room: Notify,
    /// Wakes a reader blocked on a thread of its own (`push_blocking`).
    room_blocking: Condvar,
    capacity: usize,
    /// For the metrics: events delivered, the last delivery failed, and
    /// the bytes a disk spool holds (updated by the sink's threads).
    written: AtomicU64,
    failing: AtomicBool,
    spool_bytes: AtomicU64,
    /// A reader takes spare buffers: written ones are kept for it.
    recycling: AtomicBool,
}

/// At most this many spare buffers are kept, each of at most
/// [`SPARE_BYTES`]: enough for a reader filling one while the sink writes
/// others, and a bound on the memory they hold.
const SPARES: usize = 4;
const SPARE_BYTES: usize = 1 << 20;

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            room: Notify::new(),
            room_blocking: Condvar::new(),
            capacity: capacity.max(1),
            written: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            spool_bytes: AtomicU64::new(0),
            recycling: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a sink thread panicked mid-update; the
        // counters are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a batch, waiting for room (`on_full = "block"`). A batch
    /// larger than the whole queue still goes in once the queue is empty.
    pub async fn push_wait(&self, batch: Batch) {
        if batch.bytes.is_empty() {
            return;
        }
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.bytes == 0 || s.bytes + batch.bytes.len() <= self.capacity || s.closed {
                    self.put(&mut s, batch);
                    return;
                }
            }
            notified.await;
        }
    }

    /// Queues a batch, blocking the calling thread until there is room
    /// (`on_full = "block"` for a door without a runtime: `filter`).
    pub fn push_blocking(&self, batch: Batch) {
        self.push_blocking_noting(batch, |_| {});
    }

    /// [`Queue::push_blocking`], telling `waiting` when the caller starts
    /// to wait for room (`true`, before it waits) and when it stops.
    pub fn push_blocking_noting(&self, batch: Batch, waiting: impl Fn(bool)) {
        if batch.bytes.is_empty() {
            return;
        }
        let mut s = self.lock();
        let full =
            |s: &State| !(s.bytes == 0 || s.bytes + batch.bytes.len() <= self.capacity || s.closed);
        let waited = full(&s);
        if waited {
            waiting(true);
        }
        while full(&s) {
            s.pushers_waiting += 1;
            s = self
                .room_blocking
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
            s.pushers_waiting -= 1;
        }
        self.put(&mut s, batch);
        if waited {
            waiting(false);
        }
    }

    /// Queues a batch if there is room (`on_full = "drop"`); otherwise
    /// counts its events as dropped. True if queued.
    pub fn try_push(&self, batch: Batch) -> bool {
        if batch.bytes.is_empty() {
            return true;
        }
        let mut s = self.lock();
        if s.bytes == 0 || s.bytes + batch.bytes.len() <= self.capacity {
            self.put(&mut s, batch);
            true
        } else {
            s.dropped += u64::from(batch.events);
            false
        }
    }

    /// Queues a batch whatever the room: for logmux's own rare events,
    /// which must not be lost or wait. Once the queue is closed, the batch
    /// is handed back.
    pub fn push_force(&self, batch: Batch) -> Result<(), Batch> {
        let mut s = self.lock();
        if s.closed {
            return Err(batch);
        }
        self.put(&mut s, batch);
        Ok(())
    }

    fn put(&self, s: &mut State, batch: Batch) {
        s.bytes += batch.bytes.len();
        s.events += u64::from(batch.events);
        s.batches.push_back(batch);
        if s.takers_waiting > 0 {
            self.work.notify_one();
        }
    }

    /// For the sink thread: waits for work; `None` once closed and empty.
    pub fn take(&self) -> Option<Taken> {
        let mut s = self.lock();
        loop {
            if !s.batches.is_empty() || s.reopen {
                let reopen = std::mem::take(&mut s.reopen);
                return Some(Taken {
                    batches: s.batches.drain(..).collect(),
                    reopen,
                });
            }
            if s.closed {
                return None;
            }
            s.takers_waiting += 1;
            s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
            s.takers_waiting -= 1;
        }
    }

    /// For a spool's writer, which also has timed work (syncing the disk):
    /// waits at most `timeout` for batches.
    pub fn take_within(&self, timeout: Duration) -> Took {
        let mut s = self.lock();
        if s.batches.is_empty() && !s.closed {
            s.takers_waiting += 1;
            s = match self.work.wait_timeout(s, timeout) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
            s.takers_waiting -= 1;
        }
        if !s.batches.is_empty() {
            s.reopen = false;
            return Took::Work(s.batches.drain(..).collect());
        }
        if s.closed {
            Took::Closed
        } else {
            Took::Idle
        }
    }

    /// Events dropped past the queue (a full disk spool), reported as the
    /// queue's own drops are.
    pub fn count_dropped(&self, events: u64) {
        self.lock().dropped += events;
    }

    /// For the sink thread: a batch of `bytes` and `events` was written
    /// (or given up); make room.
    pub fn release(&self, bytes: usize, events: u32) {
        let blocked = {
            let mut s = self.lock();
            s.bytes = s.bytes.saturating_sub(bytes);
            s.events = s.events.saturating_sub(u64::from(events));
            s.pushers_waiting > 0
        };
        self.room.notify_waiters();
        if blocked {
            self.room_blocking.notify_all();
        }
    }

    pub fn request_reopen(&self) {
        let mut s = self.lock();
        s.reopen = true;
        self.work.notify_one();
    }

    /// No more batches will come; the thread ends once it has written all.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        self.work.notify_one();
        drop(s);
        self.room.notify_waiters();
        self.room_blocking.notify_all();
    }

    pub fn mark_finished(&self) {
        let mut s = self.lock();
        s.finished = true;
        self.done.notify_all();
    }

    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    pub fn wait_finished(&self, timeout: Duration) {
        let s = self.lock();
        if !s.finished {
            let _ = self.done.wait_timeout(s, timeout);
        }
    }

    /// The bound, in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Events queued or being written.
    pub fn queued_events(&self) -> u64 {
        self.lock().events
    }

    /// Events dropped by `on_full = "drop"` so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Events the destination refused (write errors) so far.
    pub fn lost(&self) -> u64 {
        self.lock().lost
    }

    pub fn count_lost(&self, events: u64) {
        self.lock().lost += events;
    }

    /// Events the destination took (`logmux_sink_events_written_total`).
    /// An empty buffer for the next batch: one the sink has written, when
    /// there is one. A batch of a few hundred KiB allocated per read and
    /// freed on the sink's thread costs page faults each time (the
    /// allocator hands its pages back); a reused one is already mapped.
    pub fn spare(&self) -> Vec<u8> {
        self.recycling.store(true, Relaxed);
        self.lock().spare.pop().unwrap_or_default()
    }

    /// Keeps the buffers of written batches for [`Queue::spare`], when a
    /// reader takes them, up to the bound.
    pub fn recycle(&self, batches: Vec<Batch>) {
        if !self.recycling.load(Relaxed) {
            return;
        }
        let mut kept: Vec<Vec<u8>> = batches
            .into_iter()
            .map(|b| b.bytes)
            .filter(|b| b.capacity() <= SPARE_BYTES)
            .take(SPARES)
            .collect();
        let mut s = self.lock();
        while s.spare.len() < SPARES {
            let Some(mut bytes) = kept.pop() else { break };
            bytes.clear();
            s.spare.push(bytes);
        }
        drop(s);
        // The rest are freed after the lock.
    }

    pub fn count_written(&self, events: u64) {
        self.written.fetch_add(events, Relaxed);
    }

    pub fn written(&self) -> u64 {
        self.written.load(Relaxed)
    }

    /// Whether the last delivery failed (`logmux_sink_up` 0, `/healthz`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Relaxed);
    }

    pub fn is_failing(&self) -> bool {
        self.failing.load(Relaxed)
    }

    /// What the disk spool holds, in bytes (`logmux_sink_spool_bytes`).
    pub fn set_spool_bytes(&self, bytes: u64) {
        self.spool_bytes.store(bytes, Relaxed);
    }

    pub fn spool_bytes(&self) -> u64 {
        self.spool_bytes.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::Poll;

    fn batch(n: usize) -> Batch {
        Batch {
            bytes: vec![b'x'; n],
            events: 1,
            key: None,
        }
    }

    #[test]
    fn written_buffers_come_back_empty_only_to_a_reader_that_takes_them() {
        let q = Queue::new(1 << 20);
        // Nobody has asked: nothing is kept.
        q.recycle(vec![batch(100)]);
        assert_eq!(q.spare().capacity(), 0);
        // Now a reader takes spares: at most SPARES, none too large.
        let big = Batch {
            bytes: Vec::with_capacity(SPARE_BYTES + 1),
            ..Batch::default()
        };
        q.recycle((0..SPARES + 2).map(|_| batch(100)).chain([big]).collect());
        let spares: Vec<Vec<u8>> = (0..SPARES + 1).map(|_| q.spare()).collect();
        let kept: Vec<(usize, bool)> = spares
            .iter()
            .map(|b| (b.len(), b.capacity() >= 100))
            .collect();
        let mut expected = vec![(0, true); SPARES];
        expected.push((0, false));
        assert_eq!(kept, expected);
    }

    #[test]
    fn drop_counts_when_full_and_room_comes_back() {
        let q = Queue::new(100);
        assert!(q.try_push(batch(60)));
        assert!(q.try_push(batch(40)));
        assert!(!q.try_push(batch(1)));
        assert_eq!(q.dropped(), 1);
        let taken = q.take().map(|t| t.batches.len());
        assert_eq!(taken, Some(2));
        // Taken but not yet written still counts against the bound.
        assert!(!q.try_push(batch(1)));
        assert_eq!(q.queued_events(), 2);
        q.release(60, 1);
        q.release(40, 1);
        assert_eq!(q.queued_events(), 0);
        assert!(q.try_push(batch(1)));
        assert_eq!(q.dropped(), 2);
    }

    #[test]
    fn an_oversized_batch_fits_an_empty_queue() {
        let q = Queue::new(10);
        assert!(q.try_push(batch(50)));
        assert!(!q.try_push(batch(50)));
    }

    #[test]
    fn close_ends_take_after_the_last_batch() {
        let q = Queue::new(10);
        let _ = q.push_force(batch(5));
        q.close();
        assert!(q.take().is_some());
        assert!(q.take().is_none());
    }

    #[test]
    fn a_blocking_push_waits_for_the_writer() {
        let q = std::sync::Arc::new(Queue::new(10));
        q.push_blocking(batch(10));
        let writer = std::sync::Arc::clone(&q);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let n = writer.take().map_or(0, |t| t.batches.len());
            writer.release(10, 1);
            n
        });
        q.push_blocking(batch(10));
        assert_eq!(thread.join().unwrap(), 1);
        assert_eq!(q.queued_events(), 1);
    }

    #[test]
    fn a_blocked_push_resumes_when_room_is_made() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let q = std::sync::Arc::new(Queue::new(10));
        let _ = q.push_force(batch(10));
        rt.block_on(async {
            let mut push = std::pin::pin!(q.push_wait(batch(10)));
            // Polled once, not slept on: the push is known to wait.
            let first = std::future::poll_fn(|cx| Poll::Ready(push.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "a full queue makes the push wait");
            let writer = std::sync::Arc::clone(&q);
            let thread = std::thread::spawn(move || {
                let n = writer.take().map_or(0, |t| t.batches.len());
                writer.release(10, 1);
                n
            });
            push.await;
            assert_eq!(thread.join().unwrap(), 1);
        });
        assert_eq!(q.queued_bytes(), 10);
    }
}
