//! Rejoining lines Docker split into 16 KiB pieces.
//!
//! Docker's log copier reads a container's output into a 16 KiB buffer and,
//! when the buffer fills without a newline, sends what it holds as a message
//! of its own (moby `daemon/logger/copier.go`, `defaultBufSize = 16 * 1024`;
//! the syslog driver does not change it). The syslog driver marks nothing,
//! so a piece is recognised by its size: a body of exactly 16,384 bytes is
//! held, and the next message of the same stream is appended to it if it
//! comes within a short window; a piece of exactly that size again keeps the
//! line open. The joined line is bounded by the maximum message size; past
//! it, what is held goes out marked `logmux.truncated`, and so does the rest.

use std::time::{Duration, Instant};

use crate::event::Stamp;

/// Docker's split size.
pub use logmux_parsers::docker::PIECE_SIZE as DOCKER_PIECE;

/// How long a piece waits for the next one. Docker sends the pieces of a
/// line back to back, so this only decides how late a line of exactly
/// 16 KiB comes out.
pub const JOIN_WINDOW: Duration = Duration::from_millis(100);

/// The pieces of one line seen so far.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    /// The first piece's stamp: the line's time.
    stamp: Stamp,
    /// When the last piece came.
    at: Instant,
    truncated: bool,
}

/// One stream's unfinished line, if any.
#[derive(Debug, Default)]
pub struct Joiner {
    held: Option<Held>,
}

impl Joiner {
    /// Whether a piece is held.
    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }

    /// Offers one message's body; `deliver` gets every finished line (with
    /// its truncated flag and stamp), in order: none, one or two.
    pub fn offer(
        &mut self,
        body: &[u8],
        truncated: bool,
        stamp: &Stamp,
        now: Instant,
        max: usize,
        mut deliver: impl FnMut(&[u8], bool, &Stamp),
    ) {
        let mut continues = false;
        if let Some(mut held) = self.held.take() {
            if now.saturating_duration_since(held.at) > JOIN_WINDOW {
                deliver(&held.bytes, held.truncated, &held.stamp);
            } else if held.bytes.len() + body.len() > max {
                // Too long: what is held goes out cut, and this piece
                // continues a cut line.
                deliver(&held.bytes, true, &held.stamp);
                continues = true;
            } else {
                held.bytes.extend_from_slice(body);
                held.truncated |= truncated;
                held.at = now;
                if body.len() == DOCKER_PIECE {
                    self.held = Some(held);
                } else {
                    deliver(&held.bytes, held.truncated, &held.stamp);
                }
                return;
            }
        }
        let truncated = truncated || continues;
        if body.len() == DOCKER_PIECE {
            self.held = Some(Held {
                bytes: body.to_vec(),
                stamp: *stamp,
                at: now,
                truncated,
            });
        } else {
            deliver(body, truncated, stamp);
        }
    }

    /// Bytes of the line held (for `--max-held`).
    pub fn held_bytes(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.bytes.len())
    }

    /// Delivers a held line before its end came (`--max-held` was
    /// reached), marked truncated; true if there was one.
    pub fn flush_early(&mut self, deliver: impl FnOnce(&[u8], bool, &Stamp)) -> bool {
        match self.held.take() {
            Some(h) => {
                deliver(&h.bytes, true, &h.stamp);
                true
            }
            None => false,
        }
    }

    /// Delivers a held line whose window has passed; true if it did.
    pub fn expire(&mut self, now: Instant, deliver: impl FnOnce(&[u8], bool, &Stamp)) -> bool {
        match &self.held {
            Some(h) if now.saturating_duration_since(h.at) > JOIN_WINDOW => self.flush(deliver),
            _ => false,
        }
    }

    /// Delivers a held line now (the stream ends); true if there was one.
    pub fn flush(&mut self, deliver: impl FnOnce(&[u8], bool, &Stamp)) -> bool {
        match self.held.take() {
            Some(h) => {
                deliver(&h.bytes, h.truncated, &h.stamp);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Out = Vec<(Vec<u8>, bool)>;

    fn offer(j: &mut Joiner, body: &[u8], at: Instant, max: usize, out: &mut Out) {
        j.offer(body, false, &Stamp::now(), at, max, |b, t, _| {
            out.push((b.to_vec(), t))
        });
    }

    #[test]
    fn pieces_of_16k_are_joined() {
        let t0 = Instant::now();
        let mut j = Joiner::default();
        let mut out = Out::new();
        let a = vec![b'a'; DOCKER_PIECE];
        let b = vec![b'b'; DOCKER_PIECE];
        offer(&mut j, &a, t0, 65536, &mut out);
        offer(&mut j, &b, t0 + Duration::from_millis(1), 65536, &mut out);
        assert!(out.is_empty() && j.is_holding());
        offer(
            &mut j,
            b"tail",
            t0 + Duration::from_millis(2),
            65536,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.len(), 2 * DOCKER_PIECE + 4);
        assert!(out[0].0.ends_with(b"btail"));
        assert!(!out[0].1);
        assert!(!j.is_holding());
        offer(
            &mut j,
            b"next",
            t0 + Duration::from_millis(3),
            65536,
            &mut out,
        );
        assert_eq!(out[1], (b"next".to_vec(), false));
    }

    #[test]
    fn a_late_message_is_not_joined() {
        let t0 = Instant::now();
        let mut j = Joiner::default();
        let mut out = Out::new();
        offer(&mut j, &vec![b'a'; DOCKER_PIECE], t0, 65536, &mut out);
        offer(
            &mut j,
            b"late",
            t0 + Duration::from_millis(500),
            65536,
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.len(), DOCKER_PIECE);
        assert_eq!(out[1].0, b"late");
    }

    #[test]
    fn expiry_delivers_a_line_of_exactly_16k() {
        let t0 = Instant::now();
        let mut j = Joiner::default();
        let mut out = Out::new();
        offer(&mut j, &vec![b'a'; DOCKER_PIECE], t0, 65536, &mut out);
        assert!(!j.expire(t0 + Duration::from_millis(50), |_, _, _| {}));
        assert!(j.expire(t0 + Duration::from_millis(101), |b, _, _| {
            out.push((b.to_vec(), false))
        }));
        assert_eq!(out.len(), 1);
        assert!(!j.is_holding());
    }

    #[test]
    fn past_the_maximum_both_parts_are_marked() {
        let t0 = Instant::now();
        let mut j = Joiner::default();
        let mut out = Out::new();
        let piece = vec![b'p'; DOCKER_PIECE];
        // A maximum of two pieces: the third starts a cut continuation.
        for i in 0..3 {
            offer(
                &mut j,
                &piece,
                t0 + Duration::from_millis(i),
                2 * DOCKER_PIECE,
                &mut out,
            );
        }
        offer(
            &mut j,
            b"end",
            t0 + Duration::from_millis(4),
            2 * DOCKER_PIECE,
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].0.len(), out[0].1), (2 * DOCKER_PIECE, true));
        assert_eq!((out[1].0.len(), out[1].1), (DOCKER_PIECE + 3, true));
    }

    #[test]
    fn a_piece_flushed_early_is_counted_and_marked() {
        let t0 = Instant::now();
        let mut j = Joiner::default();
        let mut out = Out::new();
        assert_eq!(j.held_bytes(), 0);
        offer(&mut j, &vec![b'a'; DOCKER_PIECE], t0, 65536, &mut out);
        assert_eq!(j.held_bytes(), DOCKER_PIECE);
        assert!(j.flush_early(|b, t, _| out.push((b.to_vec(), t))));
        assert_eq!(out, vec![(vec![b'a'; DOCKER_PIECE], true)]);
        assert_eq!(j.held_bytes(), 0);
        assert!(!j.flush_early(|_, _, _| {}));
    }
}
