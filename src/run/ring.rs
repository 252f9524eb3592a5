//! The tail rings: each program's last events, for `logmux ctl tail`.
//!
//! Every program has one bounded ring, by count and by bytes
//! (`tail_buffer`), of the JSON events its stream readers produced: the
//! very bytes a JSON sink gets, one event a line. The events of one read
//! are copied once, into one shared (`Arc`) buffer that each of their
//! entries points into, so that a push costs one allocation per read, not
//! per event, and a follower copies pointers, never events. (A read's
//! buffer lives until its last event leaves the ring: the bytes bound
//! counts events, and memory may exceed it by up to one read's events.)
//! A push takes one short lock per read and ticks a `watch` channel that
//! followers wait on; a follower never holds the lock across a write, so
//! no client can slow a reader.
//!
//! Each event gets the program's next index (to find where a follower is,
//! and how many it missed when the ring moved on without it) and a
//! sequence number shared by all rings (to put several programs' events in
//! the order they were read).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::event::IoStream;

/// How much each program's ring keeps (`tail_buffer` in the run config).
pub use crate::config::run::TailBuffer as Limits;

/// One event in a ring.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The program's count of events before this one.
    pub index: u64,
    /// The order among every program's events.
    pub seq: u64,
    pub stream: IoStream,
    /// The read's events; this one is `range` of them.
    batch: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl Entry {
    /// The JSON event and its `\n`.
    pub fn event(&self) -> &[u8] {
        self.batch.get(self.range.clone()).unwrap_or_default()
    }
}

/// What a follower found in one ring since its cursor.
#[derive(Debug, Default)]
pub struct Taken {
    pub entries: Vec<Entry>,
    /// Events that left the ring before the follower read them.
    pub skipped: u64,
}

/// One program's ring.
#[derive(Debug)]
pub struct Ring {
    inner: Mutex<Inner>,
    limits: Limits,
    hub: Arc<Hub>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Events ever pushed: the next one's index.
    pushed: u64,
    /// The buffer of a read whose last event has left the ring, for the
    /// next read's events: a new one per read (a few hundred KiB at full
    /// speed) cost page faults every time.
    spare: Vec<u8>,
}

/// What every ring of one run shares.
#[derive(Debug)]
struct Hub {
    seq: AtomicU64,
    changed: watch::Sender<()>,
}

impl Ring {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding it leaves whole entries behind.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds the events of one read (each a line with its `\n`), dropping
    /// the oldest beyond the limits, and wakes the followers.
    pub fn push<'a>(&self, stream: IoStream, events: impl IntoIterator<Item = &'a [u8]>) {
        let mut bytes = std::mem::take(&mut self.lock().spare);
        bytes.clear();
        let mut ranges = Vec::new();
        for event in events {
            ranges.push(bytes.len()..bytes.len() + event.len());
            bytes.extend_from_slice(event);
        }
        if ranges.is_empty() {
            self.lock().spare = bytes;
            return;
        }
        let batch = Arc::new(bytes);
        let mut inner = self.lock();
        let first = self
            .hub
            .seq
            .fetch_add(ranges.len() as u64, Ordering::Relaxed);
        for (seq, range) in (first..).zip(ranges) {
            let index = inner.pushed;
            inner.pushed += 1;
            inner.bytes += range.len();
            inner.entries.push_back(Entry {
                index,
                seq,
                stream,
                batch: Arc::clone(&batch),
                range,
            });
        }
        while inner.entries.len() > 1
            && (inner.entries.len() > self.limits.events || inner.bytes > self.limits.bytes)
        {
            if let Some(old) = inner.entries.pop_front() {
                inner.bytes -= old.range.len();
                // Its read's last event, and no follower holds it.
                if let Ok(spare) = Arc::try_unwrap(old.batch) {
                    if spare.capacity() <= self.limits.bytes.saturating_mul(2) {
                        inner.spare = spare;
                    }
                }
            }
        }
        drop(inner);
        self.hub.changed.send_replace(());
    }

    /// The last `n` events (of `stream`, if given), and the index a
    /// follower starts from to get every later one exactly once.
    pub fn last(&self, n: usize, stream: Option<IoStream>) -> (Vec<Entry>, u64) {
        let inner = self.lock();
        let mut found: Vec<Entry> = inner
            .entries
            .iter()
            .rev()
            .filter(|e| stream.is_none_or(|s| s == e.stream))
            .take(n)
            .cloned()
            .collect();
        found.reverse();
        (found, inner.pushed)
    }

    /// The events from index `cursor` on (of `stream`, if given), at most
    /// `max`; moves the cursor past them and counts those already gone.
    pub fn since(&self, cursor: &mut u64, stream: Option<IoStream>, max: usize) -> Taken {
        let inner = self.lock();
        let first = inner.entries.front().map_or(inner.pushed, |e| e.index);
        let mut taken = Taken::default();
        if *cursor < first {
            taken.skipped = first - *cursor;
            *cursor = first;
        }
        let start = usize::try_from(*cursor - first).unwrap_or(usize::MAX);
        for e in inner.entries.iter().skip(start).take(max) {
            *cursor = e.index + 1;
            if stream.is_none_or(|s| s == e.stream) {
                taken.entries.push(e.clone());
            }
        }
        taken
    }

    /// (events, bytes) held now.
    pub fn held(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

/// Every program's ring, by name.
#[derive(Debug)]
pub struct Rings {
    limits: Limits,
    hub: Arc<Hub>,
    by_name: Mutex<BTreeMap<String, Arc<Ring>>>,
}

impl Rings {
    /// Rings for `programs` (more are added as programs appear).
    pub fn new<'a>(limits: Limits, programs: impl IntoIterator<Item = &'a str>) -> Rings {
        let rings = Rings {
            limits,
            hub: Arc::new(Hub {
                seq: AtomicU64::new(0),
                changed: watch::Sender::new(()),
            }),
            by_name: Mutex::new(BTreeMap::new()),
        };
        for name in programs {
            let _ = rings.ring(name);
        }
        rings
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Ring>>> {
        self.by_name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ring of `program`, made on first use; `None` when rings are off.
    pub fn ring(&self, program: &str) -> Option<Arc<Ring>> {
        if self.limits.events == 0 {
            return None;
        }
        let mut map = self.map();
        let ring = map.entry(program.to_string()).or_insert_with(|| {
            Arc::new(Ring {
                inner: Mutex::new(Inner::default()),
                limits: self.limits,
                hub: Arc::clone(&self.hub),
            })
        });
        Some(Arc::clone(ring))
    }

    /// The ring of a program that exists (or was configured), if any.
    pub fn find(&self, program: &str) -> Option<Arc<Ring>> {
        self.map().get(program).cloned()
    }

    /// Every program's name and ring, by name.
    pub fn all(&self) -> Vec<(String, Arc<Ring>)> {
        self.map()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// A receiver that sees a change after every push to any ring.
    pub fn watch(&self) -> watch::Receiver<()> {
        self.hub.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: std::ops::Range<u32>) -> Vec<Vec<u8>> {
        n.map(|i| format!("{{\"n\":{i}}}\n").into_bytes()).collect()
    }

    #[test]
    fn the_ring_keeps_the_newest_by_count() {
        let rings = Rings::new(
            Limits {
                events: 3,
                bytes: 1 << 20,
            },
            ["a"],
        );
        let ring = rings.ring("a").unwrap();
        let events = lines(0..10);
        ring.push(IoStream::Stdout, events.iter().map(Vec::as_slice));
        let (last, next) = ring.last(100, None);
        let texts: Vec<&[u8]> = last.iter().map(Entry::event).collect();
        assert_eq!(texts, [&events[7][..], &events[8][..], &events[9][..]]);
        assert_eq!(next, 10);
        assert_eq!(ring.held(), (3, events[7..].iter().map(Vec::len).sum()));
    }

    #[test]
    fn the_ring_keeps_the_newest_by_bytes_and_at_least_one() {
        // Each event is 8 bytes ({"n":0}\n): 20 bytes hold two.
        let rings = Rings::new(
            Limits {
                events: 100,
                bytes: 20,
            },
            ["a"],
        );
        let ring = rings.ring("a").unwrap();
        ring.push(IoStream::Stdout, lines(0..5).iter().map(Vec::as_slice));
        assert_eq!(ring.held(), (2, 16));
        let big = [b'x'; 100];
        ring.push(IoStream::Stdout, [&big[..]]);
        assert_eq!(ring.held(), (1, 100));
    }

    #[test]
    fn a_read_whose_events_all_left_lends_its_buffer_to_the_next_unless_followed() {
        let rings = Rings::new(
            Limits {
                events: 2,
                bytes: 1 << 20,
            },
            ["a"],
        );
        let ring = rings.ring("a").unwrap();
        ring.push(IoStream::Stdout, lines(0..2).iter().map(Vec::as_slice));
        // A follower holds the first read's events: its buffer stays theirs.
        let (held, _) = ring.last(2, None);
        ring.push(IoStream::Stdout, lines(2..4).iter().map(Vec::as_slice));
        assert_eq!(ring.lock().spare.capacity(), 0);
        drop(held);
        // Nobody holds the second read's: the third gets its buffer, and
        // the ring's events are the newest, whole.
        ring.push(IoStream::Stdout, lines(4..6).iter().map(Vec::as_slice));
        assert!(ring.lock().spare.capacity() >= 16);
        ring.push(IoStream::Stdout, lines(6..8).iter().map(Vec::as_slice));
        let (last, next) = ring.last(10, None);
        let texts: Vec<&[u8]> = last.iter().map(Entry::event).collect();
        assert_eq!(texts, [&b"{\"n\":6}\n"[..], &b"{\"n\":7}\n"[..]]);
        assert_eq!(next, 8);
    }

    #[test]
    fn a_follower_gets_every_event_once_and_counts_what_it_missed() {
        let rings = Rings::new(
            Limits {
                events: 4,
                bytes: 1 << 20,
            },
            ["a"],
        );
        let ring = rings.ring("a").unwrap();
        ring.push(IoStream::Stdout, lines(0..2).iter().map(Vec::as_slice));
        let (_, mut cursor) = ring.last(10, None);
        ring.push(IoStream::Stderr, lines(2..3).iter().map(Vec::as_slice));
        let taken = ring.since(&mut cursor, None, 100);
        assert_eq!((taken.entries.len(), taken.skipped, cursor), (1, 0, 3));
        assert_eq!(taken.entries[0].event(), b"{\"n\":2}\n");
        // Seven more while the follower waits: the ring holds the last four.
        ring.push(IoStream::Stdout, lines(3..10).iter().map(Vec::as_slice));
        let taken = ring.since(&mut cursor, Some(IoStream::Stdout), 100);
        assert_eq!((taken.entries.len(), taken.skipped, cursor), (4, 3, 10));
        assert_eq!(taken.entries[0].index, 6);
        let taken = ring.since(&mut cursor, None, 100);
        assert_eq!((taken.entries.len(), taken.skipped), (0, 0));
    }

    #[test]
    fn a_follower_takes_at_most_max_and_the_stream_filter_moves_past_others() {
        let rings = Rings::new(
            Limits {
                events: 100,
                bytes: 1 << 20,
            },
            ["a"],
        );
        let ring = rings.ring("a").unwrap();
        ring.push(IoStream::Stdout, lines(0..5).iter().map(Vec::as_slice));
        let mut cursor = 0;
        let taken = ring.since(&mut cursor, Some(IoStream::Stderr), 2);
        assert_eq!((taken.entries.len(), cursor), (0, 2));
        let taken = ring.since(&mut cursor, None, 100);
        assert_eq!((taken.entries.len(), cursor), (3, 5));
    }

    #[test]
    fn rings_off_make_none_and_the_sequence_orders_programs() {
        let off = Rings::new(
            Limits {
                events: 0,
                bytes: 1 << 20,
            },
            ["a"],
        );
        assert!(off.ring("a").is_none());
        assert!(off.find("a").is_none());
        let rings = Rings::new(Limits::default(), ["a", "b"]);
        let (a, b) = (rings.find("a").unwrap(), rings.find("b").unwrap());
        a.push(IoStream::Stdout, [&b"1\n"[..]]);
        b.push(IoStream::Stdout, [&b"2\n"[..]]);
        a.push(IoStream::Stdout, [&b"3\n"[..]]);
        let seqs: Vec<u64> = [a.last(9, None).0, b.last(9, None).0]
            .concat()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [0, 2, 1]);
    }
}
