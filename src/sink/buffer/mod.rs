//! The buffer between a sink's readers and the sink: the memory queue alone
//! (the default), or the queue in front of a disk spool ([`disk`]) for a
//! network sink, so that events outlive an outage of the receiver and a
//! restart of logmux.
//!
//! With a spool, the queue's thread appends to disk instead of writing to
//! the sink, and a second thread delivers from disk, at least once and in
//! order: the children never wait on a down receiver while the spool has
//! room.

pub mod disk;

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logmux_parsers::Severity;

use super::spec::DiskSpec;
use super::{Queue, Sink};
use disk::Spool;

/// A sink's spool and its two threads.
pub struct Spooled {
    spool: Arc<Spool>,
    writer: Option<JoinHandle<()>>,
    delivery: Option<JoinHandle<()>>,
}

impl Spooled {
    /// Opens the spool (an error names its directory) and starts the
    /// writer on `queue` and the delivery to `sink`.
    pub fn start(
        name: &str,
        mut sink: Box<dyn Sink>,
        queue: &Arc<Queue>,
        spec: &DiskSpec,
    ) -> io::Result<Spooled> {
        let (spool, recovered) = Spool::open(name, spec)?;
        let spool = Arc::new(spool);
        sink.fail_fast();
        let (s, q) = (Arc::clone(&spool), Arc::clone(queue));
        let background = sink.background();
        let writer_label = name.to_string();
        let writer = std::thread::Builder::new()
            .name(format!("spool-{name}"))
            .spawn(move || {
                if background {
                    super::lower_priority(&writer_label);
                }
                disk::write_loop(&s, &q)
            })?;
        let (s, q) = (Arc::clone(&spool), Arc::clone(queue));
        let backlog = recovered.pending_events() > 0;
        let delivery_label = name.to_string();
        let delivery = std::thread::Builder::new()
            .name(format!("sink-{name}"))
            .stack_size(sink.stack_size())
            .spawn(move || {
                if sink.background() {
                    super::lower_priority(&delivery_label);
                }
                disk::deliver_loop(&s, sink.as_mut(), &q, recovered.acked, backlog)
            })?;
        Ok(Spooled {
            spool,
            writer: Some(writer),
            delivery: Some(delivery),
        })
    }

    /// Closes the queue, waits up to `timeout` for the writer to put it on
    /// disk and the sink to deliver the spool. What is left on disk is
    /// reported (it is sent on the next start), not counted as lost;
    /// returns the events and bytes still in the queue.
    pub fn close(&mut self, queue: &Queue, timeout: Duration) -> (u64, usize) {
        queue.close();
        let deadline = Instant::now() + timeout;
        while !queue.is_finished() && Instant::now() < deadline {
            queue.wait_finished(deadline.saturating_duration_since(Instant::now()));
        }
        let delivered = wait_thread(&mut self.delivery, &self.spool, deadline);
        {
            let mut s = self.spool.lock();
            s.stop = true;
        }
        self.spool.changed.notify_all();
        if queue.is_finished() {
            if let Some(t) = self.writer.take() {
                let _ = t.join();
            }
        }
        self.report_drops();
        if !delivered {
            let (events, bytes) = {
                let s = self.spool.lock();
                (s.events(), s.bytes())
            };
            self.spool.report(
                Severity::WARN,
                &format!("sink {}: {events} events ({bytes} bytes) stay in the spool at exit; they are sent on the next start", self.spool.name),
                &[("spooled", events)],
            );
        }
        // What the writer could not append (the spool full under `block`
        // until the deadline) is still counted by the queue.
        (queue.queued_events(), queue.queued_bytes())
    }
}

impl Spooled {
    /// The events a full spool dropped over the whole run, once at exit.
    fn report_drops(&self) {
        let (newest, oldest) = {
            let s = self.spool.lock();
            (s.dropped_newest, s.dropped_oldest)
        };
        if newest + oldest > 0 {
            self.spool.report(
                Severity::WARN,
                &format!(
                    "sink {}: the full spool dropped {} events: {newest} new ones, {oldest} of the oldest",
                    self.spool.name,
                    newest + oldest
                ),
                &[
                    ("dropped_newest", newest),
                    ("dropped_oldest", oldest),
                ],
            );
        }
    }
}

/// Waits for the delivery thread to end until `deadline`; true if it did.
fn wait_thread(thread: &mut Option<JoinHandle<()>>, spool: &Spool, deadline: Instant) -> bool {
    while thread.as_ref().is_some_and(|t| !t.is_finished()) {
        if Instant::now() >= deadline {
            return false;
        }
        let s = spool.lock();
        drop(spool.wait(s, Duration::from_millis(20)));
    }
    if let Some(t) = thread.take() {
        let _ = t.join();
    }
    true
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::sink::spec::{SyncMode, WhenFull};
    use crate::sink::Batch;

    /// A receiver that is up or down, keeping what it was given.
    #[derive(Default)]
    struct Receiver {
        up: bool,
        got: Vec<u8>,
    }

    struct ToReceiver(Arc<Mutex<Receiver>>);

    impl Sink for ToReceiver {
        fn write(&mut self, events: &[u8]) -> io::Result<()> {
            let mut r = self.0.lock().unwrap();
            if !r.up {
                return Err(io::ErrorKind::ConnectionRefused.into());
            }
            r.got.extend_from_slice(events);
            Ok(())
        }
    }

    /// A receiver that takes each write as it comes (a syslog socket), and
    /// refuses once the first write that follows another of the same chunk
    /// (the spool flushes after each chunk): the chunk fails part way,
    /// however the spool cut its chunks.
    struct Flaky {
        got: Arc<Mutex<Vec<u8>>>,
        since_flush: u32,
        failed: Arc<AtomicU64>,
    }

    impl Sink for Flaky {
        fn write(&mut self, events: &[u8]) -> io::Result<()> {
            self.since_flush += 1;
            if self.since_flush == 2 && self.failed.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            self.got.lock().unwrap().extend_from_slice(events);
            Ok(())
        }

        fn flush(&mut self) -> io::Result<()> {
            self.since_flush = 0;
            Ok(())
        }

        fn sends_each_write(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_chunk_that_fails_part_way_resumes_at_the_record_that_failed() {
        let dir = tempfile::tempdir().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let failed = Arc::new(AtomicU64::new(0));
        let queue = Arc::new(Queue::new(1 << 20));
        let sink = Box::new(Flaky {
            got: Arc::clone(&got),
            since_flush: 0,
            failed: Arc::clone(&failed),
        });
        for i in 0..50 {
            queue.push_blocking(line(i));
        }
        let mut spooled =
            Spooled::start("s", sink, &queue, &spool(dir.path(), WhenFull::Block)).unwrap();
        assert_eq!(spooled.close(&queue, Duration::from_secs(10)), (0, 0));
        // A chunk of two or more records came, and its second write failed.
        assert!(
            failed.load(Ordering::SeqCst) >= 1,
            "no chunk failed part way"
        );
        assert_eq!(numbers(&got.lock().unwrap()), (0..50).collect::<Vec<_>>());
    }

    fn spool(dir: &std::path::Path, when_full: WhenFull) -> DiskSpec {
        DiskSpec {
            path: dir.join("spool"),
            max_size: 64 << 10,
            when_full,
            sync: SyncMode::Never,
        }
    }

    fn line(i: u32) -> Batch {
        Batch {
            bytes: format!("line {i:05} {}\n", "x".repeat(80)).into_bytes(),
            events: 1,
            key: None,
        }
    }

    fn numbers(got: &[u8]) -> Vec<u32> {
        String::from_utf8_lossy(got)
            .lines()
            .map(|l| l[5..10].parse().unwrap())
            .collect()
    }

    #[test]
    fn drop_oldest_drops_whole_unread_segments_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let rx = Arc::new(Mutex::new(Receiver::default()));
        let queue = Arc::new(Queue::new(1 << 20));
        let sink = Box::new(ToReceiver(Arc::clone(&rx)));
        let mut spooled =
            Spooled::start("s", sink, &queue, &spool(dir.path(), WhenFull::DropOldest)).unwrap();
        // 2,000 records of 115 bytes: 230 KB into a spool of 64 KiB.
        for i in 0..2000 {
            queue.push_blocking(line(i));
        }
        while queue.queued_events() > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        rx.lock().unwrap().up = true;
        assert_eq!(spooled.close(&queue, Duration::from_secs(10)), (0, 0));
        let got = numbers(&rx.lock().unwrap().got);
        let dropped = spooled.spool.lock().dropped_oldest;
        assert_eq!(queue.dropped(), dropped);
        assert!(dropped > 1000, "dropped {dropped}");
        assert_eq!(got.len() as u64 + dropped, 2000, "delivered + dropped");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, once each");
        assert_eq!(got.last(), Some(&1999), "the newest are kept");
    }

    /// A blocking spool of 64 KiB behind a 4 KiB queue, a receiver that is
    /// down, and a thread pushing 2,000 lines into it, counting each line
    /// the queue took.
    struct Pushing {
        rx: Arc<Mutex<Receiver>>,
        queue: Arc<Queue>,
        spooled: Spooled,
        pusher: std::thread::JoinHandle<()>,
        pushed: Arc<AtomicU64>,
    }

    fn pushing_2000_into_a_small_spool(dir: &std::path::Path) -> Pushing {
        let rx = Arc::new(Mutex::new(Receiver::default()));
        let queue = Arc::new(Queue::new(4096));
        let sink = Box::new(ToReceiver(Arc::clone(&rx)));
        let spooled = Spooled::start("s", sink, &queue, &spool(dir, WhenFull::Block)).unwrap();
        let (q, pushed) = (Arc::clone(&queue), Arc::new(AtomicU64::new(0)));
        let counter = Arc::clone(&pushed);
        let pusher = std::thread::spawn(move || {
            for i in 0..2000 {
                q.push_blocking(line(i));
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Pushing {
            rx,
            queue,
            spooled,
            pusher,
            pushed,
        }
    }

    impl Pushing {
        /// Waits (polling, 30 s at most) until nothing can move any more:
        /// the spool has no room for another record, the queue none for
        /// another line, and every line pushed is on disk or in the queue.
        /// Returns the lines pushed: where the pusher stopped.
        fn blocked_at_capacity(&self) -> u64 {
            let record_len = |s: &disk::State| s.bytes().checked_div(s.events()).unwrap_or(0);
            let line_len = line(0).bytes.len();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let (on_disk, spool_full) = {
                    let s = self.spooled.spool.lock();
                    let full = s.events() > 0 && s.bytes() + record_len(&s) > 64 << 10;
                    (s.events(), full)
                };
                let queue_full = self.queue.queued_bytes() + line_len > self.queue.capacity();
                let pushed = self.pushed.load(Ordering::SeqCst);
                if spool_full && queue_full && pushed == on_disk + self.queue.queued_events() {
                    return pushed;
                }
                assert!(
                    Instant::now() < deadline,
                    "never blocked: {pushed} pushed, {on_disk} on disk"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn block_waits_for_room_and_then_everything_arrives_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = pushing_2000_into_a_small_spool(dir.path());
        // A full spool makes the readers wait: the pusher stopped where
        // the spool and the queue are full, short of its 2,000 lines.
        let stopped = p.blocked_at_capacity();
        assert!(stopped < 2000, "{stopped}");
        assert!(!p.pusher.is_finished());
        assert_eq!(p.pushed.load(Ordering::SeqCst), stopped);
        let on_disk = p.spooled.spool.lock().bytes();
        assert!(
            on_disk <= 64 << 10,
            "the spool keeps to max_size: {on_disk}"
        );
        let Pushing {
            rx,
            queue,
            mut spooled,
            pusher,
            ..
        } = p;
        rx.lock().unwrap().up = true;
        pusher.join().unwrap();
        assert_eq!(spooled.close(&queue, Duration::from_secs(10)), (0, 0));
        assert_eq!(
            numbers(&rx.lock().unwrap().got),
            (0..2000).collect::<Vec<_>>()
        );
        assert_eq!(queue.dropped(), 0);
    }

    #[test]
    fn a_second_start_on_a_delivered_spool_delivers_its_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let rx = Arc::new(Mutex::new(Receiver {
            up: true,
            got: Vec::new(),
        }));
        for run in 0..3 {
            let queue = Arc::new(Queue::new(1 << 20));
            let sink = Box::new(ToReceiver(Arc::clone(&rx)));
            let mut spooled =
                Spooled::start("s", sink, &queue, &spool(dir.path(), WhenFull::Block)).unwrap();
            for i in 0..10 {
                queue.push_blocking(line(run * 10 + i));
            }
            assert_eq!(spooled.close(&queue, Duration::from_secs(10)), (0, 0));
            let got = numbers(&rx.lock().unwrap().got);
            assert_eq!(
                got,
                (0..run * 10 + 10).collect::<Vec<_>>(),
                "after run {run}"
            );
        }
    }

    #[test]
    fn a_close_while_the_spool_is_full_counts_what_was_not_appended() {
        let dir = tempfile::tempdir().unwrap();
        let p = pushing_2000_into_a_small_spool(dir.path());
        let stopped = p.blocked_at_capacity();
        assert!(stopped < 2000, "{stopped}");
        let Pushing {
            rx,
            queue,
            mut spooled,
            pusher,
            ..
        } = p;
        let (events, bytes) = spooled.close(&queue, Duration::from_millis(200));
        pusher.join().unwrap();
        assert!(events > 0 && bytes > 0, "{events} events, {bytes} bytes");
        let on_disk = spooled.spool.lock().events();
        assert_eq!(
            on_disk + queue.queued_events(),
            2000,
            "on disk + not appended = written"
        );
        assert!(rx.lock().unwrap().got.is_empty());
    }
}
