//! The listener's senders: one [`StreamState`] (and one unfinished Docker
//! line) per sender, host, tag and stdout/stderr, so that two containers'
//! tracebacks, or a container's stdout and stderr, are never merged.
//!
//! The table is bounded: when it is full, the stream silent the longest is
//! retired (its held lines are emitted first, by the caller), and streams
//! idle for a while are retired too.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use foldhash::fast::RandomState;
use indexmap::{Equivalent, IndexMap};

use super::join::Joiner;
use crate::engine::StreamState;
use crate::event::IoStream;

/// Who sent a message: one connection, or one datagram source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A TCP or unix stream connection, numbered in accept order.
    Conn(u64),
    /// A UDP source address on listener N.
    Udp(u16, SocketAddr),
    /// A unix datagram sender on listener N: its bound path, or none
    /// (most senders, `logger` among them, bind none and share this).
    UnixDgram(u16, Option<Box<Path>>),
}

/// A stream's identity, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub peer: Peer,
    pub host: Option<Box<str>>,
    pub tag: Option<Box<str>>,
    pub stream: Option<IoStream>,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        KeyRef {
            peer: &self.peer,
            host: self.host.as_deref(),
            tag: self.tag.as_deref(),
            stream: self.stream,
        }
        .hash(h);
    }
}

/// A stream's identity, borrowed from a message: looked up without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyRef<'a> {
    pub peer: &'a Peer,
    pub host: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub stream: Option<IoStream>,
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self.peer == key.peer
            && self.host == key.host.as_deref()
            && self.tag == key.tag.as_deref()
            && self.stream == key.stream
    }
}

impl KeyRef<'_> {
    fn to_owned(self) -> Key {
        Key {
            peer: self.peer.clone(),
            host: self.host.map(Box::from),
            tag: self.tag.map(Box::from),
            stream: self.stream,
        }
    }
}

/// One stream's state.
#[derive(Debug)]
pub struct Slot {
    pub state: StreamState,
    pub joiner: Joiner,
    /// The `--out-dir` file its events go to (a container), or none.
    pub target: Option<Box<str>>,
    /// When its last message came.
    pub last: Instant,
    /// The hub's count of messages when its last came: the stream touched
    /// least recently holds the lowest (ties of `last` are common, as a
    /// batch of reads shares one time).
    pub touched: u64,
    /// The bytes it holds as `--max-held` counts them.
    pub counted: usize,
}

impl Slot {
    /// Whether lines are held back (a traceback, a Docker piece).
    pub fn is_pending(&self) -> bool {
        self.state.is_pending() || self.joiner.is_holding()
    }

    /// Bytes held back: a traceback being assembled, a Docker piece.
    pub fn held_bytes(&self) -> usize {
        self.state.held_bytes() + self.joiner.held_bytes()
    }

    /// Brings `total` (what all streams hold) up to date with this one.
    pub fn recount(&mut self, total: &mut usize) {
        let now = self.held_bytes();
        *total = total.saturating_sub(self.counted).saturating_add(now);
        self.counted = now;
    }
}

/// The bounded table of streams.
#[derive(Debug)]
pub struct Senders {
    map: IndexMap<Key, Slot, RandomState>,
    cap: usize,
}

impl Senders {
    pub fn new(cap: usize) -> Senders {
        Senders {
            map: IndexMap::with_hasher(RandomState::default()),
            cap: cap.max(1),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The index of a stream, if it exists.
    pub fn find(&self, key: &KeyRef<'_>) -> Option<usize> {
        self.map.get_index_of(key)
    }

    /// Removes the stream silent the longest if the table is full, to make
    /// room for one more; the caller emits what it holds.
    pub fn make_room(&mut self) -> Option<Slot> {
        if self.map.len() < self.cap {
            return None;
        }
        let oldest = self
            .map
            .values()
            .enumerate()
            .min_by_key(|(_, s)| s.last)
            .map(|(i, _)| i)?;
        self.map.swap_remove_index(oldest).map(|(_, s)| s)
    }

    /// Adds a stream (after [`Senders::make_room`]); returns its index.
    pub fn insert(&mut self, key: KeyRef<'_>, slot: Slot) -> usize {
        self.map.insert_full(key.to_owned(), slot).0
    }

    /// The stream holding something that was touched least recently.
    pub fn oldest_holding(&mut self) -> Option<&mut Slot> {
        self.map
            .values_mut()
            .filter(|s| s.counted > 0)
            .min_by_key(|s| s.touched)
    }

    pub fn at(&mut self, index: usize) -> Option<&mut Slot> {
        self.map.get_index_mut(index).map(|(_, s)| s)
    }

    pub fn slots_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.map.values_mut()
    }

    /// Removes every stream `keep` rejects and returns them.
    pub fn remove_where(&mut self, mut remove: impl FnMut(&Key, &Slot) -> bool) -> Vec<Slot> {
        let mut gone = Vec::new();
        let mut i = 0;
        while i < self.map.len() {
            let hit = self.map.get_index(i).is_some_and(|(k, s)| remove(k, s));
            if hit {
                if let Some((_, s)) = self.map.swap_remove_index(i) {
                    gone.push(s);
                }
            } else {
                i += 1;
            }
        }
        gone
    }

    /// Removes and returns every stream.
    pub fn drain(&mut self) -> Vec<Slot> {
        self.map.drain(..).map(|(_, s)| s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;
    use std::collections::hash_map::DefaultHasher;
    use std::time::Duration;

    fn slot(last: Instant) -> Slot {
        Slot {
            state: StreamState::new(Origin::default()),
            joiner: Joiner::default(),
            target: None,
            last,
            touched: 0,
            counted: 0,
        }
    }

    fn hash(v: &impl Hash) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn borrowed_and_owned_keys_agree() {
        let peer = Peer::Conn(7);
        let r = KeyRef {
            peer: &peer,
            host: Some("h"),
            tag: Some("web-1"),
            stream: Some(IoStream::Stderr),
        };
        let k = r.to_owned();
        assert_eq!(hash(&r), hash(&k));
        assert!(r.equivalent(&k));
        let other = KeyRef {
            stream: Some(IoStream::Stdout),
            ..r
        };
        assert!(!other.equivalent(&k));
    }

    #[test]
    fn a_full_table_retires_the_stream_silent_longest() {
        let t0 = Instant::now();
        let mut s = Senders::new(2);
        let peers = [Peer::Conn(1), Peer::Conn(2), Peer::Conn(3)];
        let key = |p| KeyRef {
            peer: p,
            host: None,
            tag: Some("t"),
            stream: None,
        };
        assert!(s.make_room().is_none());
        s.insert(key(&peers[0]), slot(t0 + Duration::from_secs(5)));
        assert!(s.make_room().is_none());
        s.insert(key(&peers[1]), slot(t0));
        let gone = s.make_room().unwrap();
        assert_eq!(gone.last, t0);
        s.insert(key(&peers[2]), slot(t0));
        assert_eq!(s.len(), 2);
        assert!(s.find(&key(&peers[1])).is_none());
        assert!(s.find(&key(&peers[0])).is_some());
        let gone = s.remove_where(|k, _| k.peer == Peer::Conn(3));
        assert_eq!(gone.len(), 1);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_oldest_holding_stream_is_the_one_touched_least_recently() {
        let t0 = Instant::now();
        let mut s = Senders::new(8);
        let peers = [Peer::Conn(1), Peer::Conn(2), Peer::Conn(3)];
        // One time for all (one batch of reads): only `touched` tells them apart.
        for (i, (p, counted)) in peers.iter().zip([0, 10, 20]).enumerate() {
            let key = KeyRef {
                peer: p,
                host: None,
                tag: None,
                stream: None,
            };
            let at = s.insert(key, slot(t0));
            let slot = s.at(at).unwrap();
            slot.touched = i as u64;
            slot.counted = counted;
        }
        // Conn(1) holds nothing; Conn(2) is the oldest that holds something.
        assert_eq!(s.oldest_holding().unwrap().counted, 10);
        let mut total = 30;
        let held = s.oldest_holding().unwrap();
        held.recount(&mut total);
        assert_eq!((total, held.counted), (20, 0));
        assert_eq!(s.oldest_holding().unwrap().counted, 20);
    }
}
