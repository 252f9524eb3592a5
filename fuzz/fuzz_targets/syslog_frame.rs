#![no_main]
//! Fuzz target: the RFC 6587 deframer never panics, never hands out more
//! than `max_message` bytes or holds more than it may, and gives the same
//! frames and the same count of dropped bytes however the stream is split
//! into reads.
//!
//! Input: byte 0 picks `max_message` (1..=256), byte 1 seeds the read
//! sizes, the rest is the stream.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::syslog::{Deframer, Frame};

type Owned = (Vec<u8>, bool, bool);

fn run(max: usize, wire: &[u8], mut next_read: impl FnMut() -> usize) -> (Vec<Owned>, u64) {
    let mut d = Deframer::new(max);
    let mut out = Vec::new();
    let mut collect = |f: Frame<'_>| {
        assert!(f.bytes.len() <= max);
        out.push((f.bytes.to_vec(), f.truncated, f.malformed));
    };
    let mut rest = wire;
    while !rest.is_empty() {
        let n = next_read().clamp(1, rest.len());
        d.push(&rest[..n], &mut collect);
        assert!(d.buffered() <= (max + 1).max(9));
        rest = &rest[n..];
    }
    d.finish(&mut collect);
    assert_eq!(d.buffered(), 0);
    (out, d.discarded())
}

fuzz_target!(|data: &[u8]| {
    let [m, seed, wire @ ..] = data else { return };
    let max = usize::from(*m) + 1;
    let whole = run(max, wire, || usize::MAX);
    let mut state = u32::from(*seed) | 1;
    let split = run(max, wire, || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 16) as usize % 64 + 1
    });
    assert_eq!(whole, split);
});
