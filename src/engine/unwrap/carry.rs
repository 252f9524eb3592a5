//! What an [`Unwrapper`] at rest carries from one line to the next, for
//! the parallel filter: the wrapper the input's first line chose, and the
//! streams on which a supervisord line was seen. An unwrapper resumed from
//! its carry reads the lines that follow exactly as the one it came from
//! would; the parallel filter checks that before it keeps a chunk parsed
//! from a guessed carry (see [`crate::engine::parallel`]).

use super::{sniff, Unwrapper, Wrapper, MAX_CONTAINERS};
use crate::engine::pipeline::StreamState;
use crate::event::Origin;

/// An unwrapper's state at rest, small enough to compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carry {
    wrapper: Option<Wrapper>,
    /// supervisord seen on the plain stream and json-file's two streams.
    seen: [bool; 3],
    /// The compose containers on whose stream supervisord was seen, sorted.
    seen_containers: Vec<String>,
}

impl Carry {
    /// This carry, with the wrapper the first deciding line of `bytes`
    /// (whole lines) chooses when none is chosen yet: a guess for the
    /// input after `bytes`, checked when it is used.
    pub fn sniffed(mut self, bytes: &[u8]) -> Carry {
        if self.wrapper.is_none() {
            self.wrapper = bytes
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .find(|l| !l.is_empty() && !l.starts_with(b"Attaching to "))
                .map(sniff);
        }
        self
    }

    /// The guess for later input, once `real` is known to hold further on:
    /// its seen streams, and a wrapper already sniffed beyond it.
    pub fn catch_up(&mut self, real: &Carry) {
        self.wrapper = self.wrapper.or(real.wrapper);
        self.seen = real.seen;
        self.seen_containers.clone_from(&real.seen_containers);
    }
}

impl Unwrapper {
    /// The carry, when nothing is held back (a json-file piece, a
    /// traceback, a spliced line's head) and compose's overflow stream has
    /// never been needed; `None` otherwise.
    pub fn carry(&self) -> Option<Carry> {
        let idle = self.plain.is_idle()
            && self.overflow.is_idle()
            && self.json_streams.iter().all(StreamState::is_idle)
            && self.containers.values().all(StreamState::is_idle)
            && self
                .json_partial
                .iter()
                .all(|(b, f, c)| b.is_empty() && f.is_none() && !c);
        if !idle || self.containers.len() >= MAX_CONTAINERS {
            return None;
        }
        let mut seen_containers: Vec<String> = self
            .containers
            .iter()
            .filter(|(_, s)| s.supervisord_seen())
            .map(|(name, _)| name.clone())
            .collect();
        seen_containers.sort_unstable();
        Some(Carry {
            wrapper: self.wrapper,
            seen: [
                self.plain.supervisord_seen(),
                self.json_streams[0].supervisord_seen(),
                self.json_streams[1].supervisord_seen(),
            ],
            seen_containers,
        })
    }

    /// An unwrapper for the input that follows one whose carry was `carry`.
    pub fn resume(base: Origin, max_line: usize, carry: &Carry) -> Unwrapper {
        let mut u = Unwrapper::new(base, max_line);
        u.wrapper = carry.wrapper;
        for (state, seen) in [&mut u.plain]
            .into_iter()
            .chain(u.json_streams.iter_mut())
            .zip(carry.seen)
        {
            let fresh = StreamState::new(state.origin.clone());
            *state = fresh.with_supervisord_seen(seen);
        }
        for name in &carry.seen_containers {
            let state = StreamState::new(u.container_origin(name)).with_supervisord_seen(true);
            u.containers.insert(name.clone(), state);
        }
        u
    }

    /// Takes over the state of `later`, resumed from this one's carry and
    /// fed the input that follows. False, with nothing changed, when the
    /// two together know more containers than one unwrapper keeps streams
    /// for (then `later` may have read lines differently).
    pub fn adopt(&mut self, later: Unwrapper) -> bool {
        let new = later
            .containers
            .keys()
            .filter(|name| !self.containers.contains_key(*name))
            .count();
        if self.containers.len() + new >= MAX_CONTAINERS {
            return false;
        }
        let Unwrapper {
            wrapper,
            plain,
            containers,
            overflow,
            json_streams,
            json_partial,
            ..
        } = later;
        self.wrapper = wrapper;
        self.plain = plain;
        self.overflow = overflow;
        self.json_streams = json_streams;
        self.json_partial = json_partial;
        // Its streams replace this one's of the same name.
        self.containers.extend(containers);
        true
    }
}
