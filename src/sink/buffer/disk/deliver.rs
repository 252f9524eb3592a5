//! The spool's delivery thread: hands chunks of records to the sink in
//! order, and moves the acknowledged position past each chunk only once
//! the sink's `flush` said it was delivered.
//!
//! Before a chunk goes out its end is persisted as `inflight`, after it as
//! `acked` ([`super::ack`]): a crash between the two sends that one chunk
//! (at most about 1 MiB) again, and the next start counts it. A failed
//! write or flush hands the same chunk again after a backoff (100 ms
//! doubling to 10 s, with jitter; longer when the receiver said so in
//! `Retry-After`, up to a minute). Logmux's own events say when the sink
//! goes down, how much is spooled while it is (every 10 s), and when the
//! spool has caught up.

use std::time::{Duration, Instant};

use logmux_parsers::Severity;

use super::ack::{AckFile, Acks, Pos};
use super::reader::{Chunk, Next, Reader};
use super::Spool;
use crate::sink::spec::SyncMode;
use crate::sink::{Queue, Sink};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// The longest a receiver's `Retry-After` holds the spool back, so that a
/// wrong header cannot stop delivery for hours.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);
/// How often a sink that stays down is reported, with what is spooled.
const DOWN_REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long the reader waits for new records before checking for a stop.
const IDLE: Duration = Duration::from_millis(500);

struct Delivery<'a> {
    spool: &'a Spool,
    sink: &'a mut dyn Sink,
    queue: &'a Queue,
    acks: AckFile,
    acked: Pos,
    /// Since when the sink has been failing, and when that was last said.
    down: Option<(Instant, Instant)>,
    /// Behind the writer (after an outage, or a backlog at start): the
    /// catching up is reported.
    behind: bool,
    delivered_since_behind: u64,
}

/// The delivery thread, from `from` (the recovered acknowledged
/// position) until the writer is done and all is delivered, or the close
/// gives up (`stop`).
pub fn deliver_loop(spool: &Spool, sink: &mut dyn Sink, queue: &Queue, from: Pos, backlog: bool) {
    let mut d = Delivery {
        spool,
        sink,
        queue,
        acks: AckFile::new(&spool.dir),
        acked: from,
        down: None,
        behind: backlog,
        delivered_since_behind: 0,
    };
    let mut reader = Reader::new(spool, from);
    d.delete_delivered();
    loop {
        match reader.next(IDLE) {
            Ok(Next::Chunk(chunk)) => {
                if !d.deliver(&chunk) {
                    break;
                }
                d.caught_up_check();
            }
            Ok(Next::Idle) if spool.lock().stop => break,
            Ok(Next::Idle) => {}
            Ok(Next::End) => {
                d.delete_delivered();
                break;
            }
            Err(e) => {
                spool.report(
                    Severity::ERROR,
                    &format!("sink {}: cannot read the spool: {e}", spool.name),
                    &[],
                );
                let s = spool.lock();
                if spool.wait(s, BACKOFF_MAX).stop {
                    break;
                }
            }
        }
    }
    let _ = d.sink.flush();
}

impl Delivery<'_> {
    /// Delivers one chunk, trying again until it is delivered; false if
    /// the close gave up first.
    fn deliver(&mut self, chunk: &Chunk) -> bool {
        self.store(chunk.end);
        let mut backoff = BACKOFF_MIN;
        // Records of the chunk a sink that sends each write has taken.
        let mut taken = 0;
        loop {
            let result = self.hand(chunk, &mut taken);
            let lost = self.sink.take_lost();
            if lost > 0 {
                self.queue.count_lost(lost);
            }
            match result {
                Ok(()) => break,
                Err(e) => {
                    self.queue.set_failing(true);
                    self.went_down(&e);
                    let asked = self
                        .sink
                        .retry_after()
                        .unwrap_or_default()
                        .min(RETRY_AFTER_MAX);
                    let s = self.spool.lock();
                    if self.spool.wait(s, jitter(backoff).max(asked)).stop {
                        return false;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        if let Some((since, _)) = self.down.take() {
            self.spool.report(
                Severity::INFO,
                &format!(
                    "sink {}: delivering again after {:.1} s down",
                    self.spool.name,
                    since.elapsed().as_secs_f64()
                ),
                &[],
            );
        }
        self.queue.set_failing(false);
        self.queue.count_written(chunk.events);
        self.queue.set_spool_bytes(self.spool.lock().bytes());
        self.acked = chunk.end;
        self.store(chunk.end);
        self.delivered_since_behind += chunk.events;
        self.release(chunk);
        true
    }

    /// Hands the chunk's records from `taken` on; a sink that sends each
    /// write counts the ones it took, so that a retry does not send them
    /// twice (others are handed the whole chunk again).
    fn hand(&mut self, chunk: &Chunk, taken: &mut usize) -> std::io::Result<()> {
        let counts = self.sink.sends_each_write();
        for r in chunk.records.iter().skip(*taken) {
            self.sink.write_keyed(r.key.as_deref(), &r.bytes)?;
            if counts {
                *taken += 1;
            }
        }
        self.sink.flush()
    }

    /// Persists `acked` and the end of the delivery in progress.
    fn store(&self, inflight: Pos) {
        let acks = Acks {
            acked: self.acked,
            inflight,
        };
        let sync = self.spool.spec.sync == SyncMode::Always;
        if let Err(e) = self.acks.store(&acks, sync) {
            self.spool.report(Severity::ERROR, &format!("sink {}: cannot write the spool's ack file: {e}; after a restart more records are sent again", self.spool.name), &[]);
        }
    }

    /// Counts the chunk as delivered and deletes the segments behind it.
    fn release(&self, chunk: &Chunk) {
        {
            let mut s = self.spool.lock();
            if let Some(seg) = s
                .segments
                .iter_mut()
                .find(|seg| seg.id == chunk.end.segment)
            {
                seg.events = seg.events.saturating_sub(chunk.events);
            }
        }
        self.delete_delivered();
    }

    /// Deletes the segments wholly before the acknowledged position, and
    /// the one it ends once no more is appended to it.
    fn delete_delivered(&self) {
        let mut gone = Vec::new();
        {
            let mut s = self.spool.lock();
            while let Some(first) = s.segments.front() {
                let done = first.id < self.acked.segment
                    || (first.sealed
                        && first.id == self.acked.segment
                        && self.acked.offset >= first.bytes);
                if !done {
                    break;
                }
                gone.extend(s.segments.pop_front().map(|seg| seg.id));
                s.deleted += 1;
            }
        }
        for id in gone {
            if let Err(e) = std::fs::remove_file(self.spool.segment_path(id)) {
                self.spool.report(
                    Severity::ERROR,
                    &format!(
                        "sink {}: cannot delete a delivered segment: {e}",
                        self.spool.name
                    ),
                    &[],
                );
            }
        }
        self.spool.changed.notify_all();
    }

    fn went_down(&mut self, e: &std::io::Error) {
        let now = Instant::now();
        let (events, bytes) = {
            let s = self.spool.lock();
            (s.events(), s.bytes())
        };
        let fields = [("spooled", events), ("spooled_bytes", bytes)];
        let name = &self.spool.name;
        match &mut self.down {
            None => {
                self.down = Some((now, now));
                self.behind = true;
                self.delivered_since_behind = 0;
                self.spool.report(
                    Severity::ERROR,
                    &format!("sink {name}: down: {e}; spooling to {} ({events} events, {bytes} bytes so far) and trying again", self.spool.dir.display()),
                    &fields,
                );
            }
            Some((since, last)) if last.elapsed() >= DOWN_REPORT_EVERY => {
                *last = now;
                self.spool.report(
                    Severity::WARN,
                    &format!("sink {name}: still down after {} s: {e}; {events} events ({bytes} bytes) spooled", since.elapsed().as_secs()),
                    &fields,
                );
            }
            Some(_) => {}
        }
    }

    /// Reports once the reader has reached the writer after being behind.
    fn caught_up_check(&mut self) {
        if !self.behind {
            return;
        }
        let s = self.spool.lock();
        let at_end = s
            .segments
            .back()
            .is_none_or(|last| last.id == self.acked.segment && last.bytes <= self.acked.offset);
        drop(s);
        if at_end {
            self.behind = false;
            self.spool.report(
                Severity::INFO,
                &format!(
                    "sink {}: caught up: delivered {} spooled events; the spool is empty",
                    self.spool.name, self.delivered_since_behind
                ),
                &[("delivered", self.delivered_since_behind)],
            );
        }
    }
}

/// `d` plus or minus a quarter, so that many senders do not retry in step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let quarter = d / 4;
    let spread = quarter.as_nanos().max(1) as u64 * 2;
    d - quarter + Duration::from_nanos(u64::from(nanos) % spread)
}
