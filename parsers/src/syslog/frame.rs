//! RFC 6587 framing of syslog over a stream (TCP, unix stream sockets).
//!
//! The first byte of each frame decides its framing: a digit starts octet
//! counting (`LEN SP MSG`, LEN counting every byte of MSG including a
//! trailing `\n`), `<` a message that ends at `\n` (or `\r\n`). A NUL
//! inside a frame is kept, as a datagram keeps it: TCP and UDP agree. Anything else is read up to the next `\n` and
//! handed on marked malformed, so the listener can keep it as text.
//!
//! Memory is bounded: a [`Deframer`] holds at most `max_message + 1` bytes
//! of a frame split over reads (the extra byte may be the `\r` of `\r\n`),
//! or 9 for a length prefix if `max_message` is smaller. A complete frame
//! inside one read is handed out as a slice of that read, without copying.
//! A longer frame is cut to `max_message` bytes and marked truncated; the
//! rest of it is skipped (by counting, or up to the next `\n`) and counted
//! in [`Deframer::discarded`]. Whitespace and NULs between frames are
//! skipped.

use memchr::memchr;

/// Longest length prefix accepted, in digits: 999,999,999 bytes. A longer
/// one is not a length but junk.
const MAX_LEN_DIGITS: usize = 9;

/// One frame taken from the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The message: for octet counting exactly the counted bytes, else the
    /// bytes before the `\n` (without a `\r` before it).
    pub bytes: &'a [u8],
    /// The frame was longer than `max_message` (only its start is here), or
    /// the connection closed inside an octet-counted frame.
    pub truncated: bool,
    /// The frame started with neither a digit nor `<`, or had a bad length
    /// prefix; it was read up to the next `\n`.
    pub malformed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames, skipping whitespace.
    Between,
    /// Reading the digits of a length prefix.
    Length { value: usize, digits: usize },
    /// Reading an octet-counted message: `remaining` of `total` bytes.
    Counted { remaining: usize, total: usize },
    /// Reading a message that ends at `\n`.
    Line { malformed: bool },
    /// Discarding the rest of a truncated line up to its `\n`; `cr` if the
    /// last byte discarded was a `\r` (framing, if a `\n` follows).
    SkipLine { cr: bool },
    /// Discarding the rest of an octet-counted frame that was cut.
    SkipCounted { remaining: usize },
}

/// A buffer emptied with more capacity than this is let go, so that one
/// long frame does not keep its memory for the connection's life.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Splits a byte stream into syslog frames; see the module docs.
#[derive(Debug, Clone)]
pub struct Deframer {
    max: usize,
    state: State,
    /// The part of the current frame that came in earlier reads.
    buf: Vec<u8>,
    discarded: u64,
}

/// Where [`Deframer::push`] is in the current read: the next byte, and
/// where this read's part of the current frame begins.
struct Cursor {
    i: usize,
    start: usize,
}

impl Deframer {
    /// A deframer that hands out frames of at most `max_message` bytes
    /// (at least 1).
    pub fn new(max_message: usize) -> Deframer {
        Deframer {
            max: max_message.max(1),
            state: State::Between,
            buf: Vec::new(),
            discarded: 0,
        }
    }

    /// Whether a frame has begun and not yet ended (the listener closes a
    /// connection that stays so for too long).
    pub fn is_mid_frame(&self) -> bool {
        self.state != State::Between
    }

    /// Bytes of the current, incomplete frame held from earlier reads.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of truncated frames that were dropped, in all.
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Feeds the next bytes read from the stream; calls `on_frame` for each
    /// frame they complete.
    pub fn push(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        let mut at = Cursor { i: 0, start: 0 };
        while at.i < bytes.len() {
            match self.state {
                State::Between => self.between(bytes, &mut at),
                State::Length { value, digits } => self.length(bytes, &mut at, value, digits),
                State::Counted { remaining, total } => {
                    self.counted(bytes, &mut at, remaining, total, &mut on_frame)
                }
                State::Line { malformed } => self.line(bytes, &mut at, malformed, &mut on_frame),
                State::SkipLine { cr } => self.skip_line(bytes, &mut at, cr),
                State::SkipCounted { remaining } => {
                    let take = remaining.min(bytes.len() - at.i);
                    self.discarded += take as u64;
                    at.i += take;
                    at.start = at.i;
                    self.state = match remaining - take {
                        0 => State::Between,
                        remaining => State::SkipCounted { remaining },
                    };
                }
            }
        }
        self.keep_unfinished(bytes, at.start);
        if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }

    /// Hands out the unfinished frame held so far, marked truncated, and
    /// skips the rest of it (counted in [`Deframer::discarded`]); its buffer
    /// is freed. For a listener over its memory budget. Returns the bytes
    /// let go (0 when nothing was held).
    pub fn cut(&mut self, mut on_frame: impl FnMut(Frame<'_>)) -> usize {
        let held = self.buf.len();
        if held == 0 {
            return 0;
        }
        match self.state {
            State::Line { malformed } => {
                on_frame(Frame {
                    bytes: &self.buf,
                    truncated: true,
                    malformed,
                });
                let cr = self.buf.last() == Some(&b'\r');
                self.state = State::SkipLine { cr };
            }
            State::Counted { remaining, .. } => {
                on_frame(Frame {
                    bytes: &self.buf,
                    truncated: true,
                    malformed: false,
                });
                self.state = State::SkipCounted { remaining };
            }
            // A length prefix (at most 9 bytes) or nothing held.
            _ => return 0,
        }
        self.buf = Vec::new();
        held
    }

    /// Between frames: skips blank bytes; the first other byte picks the
    /// framing (a digit: octet-counted; `<`: a line; else a malformed line).
    #[inline]
    fn between(&mut self, bytes: &[u8], at: &mut Cursor) {
        match bytes[at.i] {
            b' ' | b'\t' | b'\r' | b'\n' | 0 => {
                at.i += 1;
                return;
            }
            b'0'..=b'9' => {
                self.state = State::Length {
                    value: 0,
                    digits: 0,
                }
            }
            b'<' => self.state = State::Line { malformed: false },
            _ => self.state = State::Line { malformed: true },
        }
        at.start = at.i;
    }

    /// Reading an octet count: digits, then one space.
    #[inline]
    fn length(&mut self, bytes: &[u8], at: &mut Cursor, value: usize, digits: usize) {
        let c = bytes[at.i];
        let nonzero = value > 0 || c != b'0';
        if c.is_ascii_digit() && nonzero && digits < MAX_LEN_DIGITS {
            self.state = State::Length {
                value: value * 10 + usize::from(c - b'0'),
                digits: digits + 1,
            };
            at.i += 1;
        } else if c == b' ' && value > 0 {
            at.i += 1;
            self.buf.clear();
            at.start = at.i;
            self.state = State::Counted {
                remaining: value,
                total: value,
            };
        } else {
            // Not a length: the digits start a malformed line.
            self.state = State::Line { malformed: true };
        }
    }

    /// Inside an octet-counted frame: hands it out once `max` bytes (or all
    /// of it) arrived, and discards the rest of a longer one.
    #[inline]
    fn counted(
        &mut self,
        bytes: &[u8],
        at: &mut Cursor,
        remaining: usize,
        total: usize,
        on_frame: &mut impl FnMut(Frame<'_>),
    ) {
        let take = remaining.min(bytes.len() - at.i);
        let keep = total.min(self.max);
        let received = total - remaining;
        at.i += take;
        if received + take >= keep && received < keep {
            let truncated = total > self.max;
            on_frame(Frame {
                bytes: self.prefix(&bytes[at.start..], keep),
                truncated,
                malformed: false,
            });
            self.buf.clear();
            at.start = at.i;
            self.discarded += (received + take - keep) as u64;
        } else if received >= keep {
            self.discarded += take as u64;
            at.start = at.i;
        }
        self.state = if take == remaining {
            State::Between
        } else {
            State::Counted {
                remaining: remaining - take,
                total,
            }
        };
    }

    /// Inside a newline-ended frame: hands it out at its `\n` (without a
    /// `\r` before it), or cut at `max` bytes when it grows longer.
    #[inline]
    fn line(
        &mut self,
        bytes: &[u8],
        at: &mut Cursor,
        malformed: bool,
        on_frame: &mut impl FnMut(Frame<'_>),
    ) {
        let i = at.i;
        match memchr(b'\n', &bytes[i..]) {
            Some(found) => {
                let stop = i + found;
                let tail = &bytes[at.start..stop];
                let len = self.buf.len() + tail.len();
                let last = tail.last().or(self.buf.last());
                let cr = bytes[stop] == b'\n' && last == Some(&b'\r');
                let len = len - usize::from(cr);
                let cut = len.min(self.max);
                self.discarded += (len - cut) as u64;
                on_frame(Frame {
                    bytes: self.prefix(tail, cut),
                    truncated: len > cut,
                    malformed,
                });
                self.buf.clear();
                at.i = stop + 1;
                self.state = State::Between;
            }
            None => {
                at.i = bytes.len();
                // One byte over the limit may still be a `\r`.
                let have = self.buf.len() + (bytes.len() - at.start);
                if have > self.max + 1 {
                    on_frame(Frame {
                        bytes: self.prefix(&bytes[at.start..], self.max),
                        truncated: true,
                        malformed,
                    });
                    self.discarded += (have - self.max) as u64;
                    self.buf.clear();
                    at.start = at.i;
                    self.state = State::SkipLine {
                        cr: bytes.last() == Some(&b'\r'),
                    };
                }
            }
        }
    }

    /// Discarding the rest of a line that was cut, up to its `\n`.
    #[inline]
    fn skip_line(&mut self, bytes: &[u8], at: &mut Cursor, cr: bool) {
        let i = at.i;
        match memchr(b'\n', &bytes[i..]) {
            Some(found) => {
                let last_cr = if found > 0 {
                    bytes[i + found - 1] == b'\r'
                } else {
                    cr
                };
                let cr = bytes[i + found] == b'\n' && last_cr;
                // The \r before a \n is framing, not a dropped byte.
                self.discarded = self.discarded + found as u64 - u64::from(cr);
                at.i += found + 1;
                self.state = State::Between;
            }
            None => {
                self.discarded += (bytes.len() - i) as u64;
                self.state = State::SkipLine {
                    cr: bytes.last() == Some(&b'\r'),
                };
                at.i = bytes.len();
            }
        }
    }

    /// Keeps the unfinished frame's bytes (from `start`) for the next read.
    fn keep_unfinished(&mut self, bytes: &[u8], start: usize) {
        if matches!(
            self.state,
            State::Length { .. } | State::Counted { .. } | State::Line { .. }
        ) {
            let rest = bytes.get(start..).unwrap_or_default();
            let room = self.cap().saturating_sub(self.buf.len());
            let rest = &rest[..rest.len().min(room)];
            if !rest.is_empty() {
                self.reserve(rest.len());
                self.buf.extend_from_slice(rest);
            }
        }
    }

    /// The connection closed: hands out what is left of an unfinished frame
    /// (a line without its `\n` is complete; a counted frame short of its
    /// length is truncated; a lone length prefix is malformed).
    pub fn finish(&mut self, mut on_frame: impl FnMut(Frame<'_>)) {
        let state = std::mem::replace(&mut self.state, State::Between);
        match state {
            State::Length { .. } => {
                let cut = self.buf.len().min(self.max);
                self.discarded += (self.buf.len() - cut) as u64;
                on_frame(Frame {
                    bytes: &self.buf[..cut],
                    truncated: self.buf.len() > cut,
                    malformed: true,
                });
            }
            State::Counted { .. } if !self.buf.is_empty() => on_frame(Frame {
                bytes: &self.buf,
                truncated: true,
                malformed: false,
            }),
            State::Line { malformed } => {
                let frame = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
                let cut = frame.len().min(self.max);
                self.discarded += (frame.len() - cut) as u64;
                on_frame(Frame {
                    bytes: &frame[..cut],
                    truncated: frame.len() > self.max,
                    malformed,
                });
            }
            _ => {}
        }
        self.buf.clear();
    }

    /// The first `n` bytes of the buffered bytes followed by `tail`
    /// (`n` is at most their sum): a slice of `tail` itself when nothing is
    /// buffered, so a frame within one read is never copied.
    fn prefix<'s>(&'s mut self, tail: &'s [u8], n: usize) -> &'s [u8] {
        let held = self.buf.len();
        if held == 0 {
            return &tail[..n.min(tail.len())];
        }
        if n > held {
            let more = &tail[..(n - held).min(tail.len())];
            self.reserve(more.len());
            self.buf.extend_from_slice(more);
        }
        &self.buf[..n.min(self.buf.len())]
    }

    /// The most bytes ever held: a frame's first `max_message` bytes and
    /// one more, which may be the `\r` of its `\r\n`, or a length prefix.
    fn cap(&self) -> usize {
        (self.max + 1).max(MAX_LEN_DIGITS)
    }

    /// Grows the buffer for `more` bytes without ever going past
    /// [`Self::cap`] bytes of capacity (plain doubling could).
    fn reserve(&mut self, more: usize) {
        let needed = self.buf.len() + more;
        if needed > self.buf.capacity() {
            let target = needed
                .max(self.buf.capacity() * 2)
                .min(self.cap())
                .max(needed);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A frame as owned data, for comparing runs.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        bytes: Vec<u8>,
        truncated: bool,
        malformed: bool,
    }

    /// Deframes `input` fed in reads of the given sizes (cycled), then
    /// closes; checks the memory bound after every read.
    fn run(max: usize, input: &[u8], reads: &[usize]) -> (Vec<Owned>, u64) {
        let mut d = Deframer::new(max);
        let mut out = Vec::new();
        let mut collect = |f: Frame<'_>| {
            assert!(f.bytes.len() <= max);
            out.push(Owned {
                bytes: f.bytes.to_vec(),
                truncated: f.truncated,
                malformed: f.malformed,
            })
        };
        let mut rest = input;
        let mut k = 0;
        while !rest.is_empty() {
            let n = reads
                .get(k % reads.len().max(1))
                .copied()
                .unwrap_or(rest.len());
            let n = n.clamp(1, rest.len());
            d.push(&rest[..n], &mut collect);
            assert!(d.buffered() <= d.cap(), "buffered {}", d.buffered());
            assert!(
                d.buf.capacity() <= (max + 1).max(9),
                "capacity {}",
                d.buf.capacity()
            );
            rest = &rest[n..];
            k += 1;
        }
        d.finish(&mut collect);
        assert_eq!(d.buffered(), 0);
        (out, d.discarded())
    }

    fn frame(bytes: &[u8]) -> Owned {
        Owned {
            bytes: bytes.to_vec(),
            truncated: false,
            malformed: false,
        }
    }

    fn all(input: &[u8], max: usize) -> Vec<Owned> {
        run(max, input, &[]).0
    }

    #[test]
    fn octet_counted_frames_include_their_newline() {
        // Docker's tcp+tls rfc5424 framing: LEN counts the trailing \n.
        let msg = b"<30>1 2024-05-01T12:34:56.123456Z host web-1 1234 web-1 - hi\n";
        let wire = [format!("{} ", msg.len()).as_bytes(), msg, b"3 <1>"].concat();
        assert_eq!(all(&wire, 1024), vec![frame(msg), frame(b"<1>")]);
    }

    #[test]
    fn lf_frames_end_at_lf_or_crlf() {
        let wire = b"<13>a\n<13>b\r\n\n\n  <13>c\n\0<13>d";
        assert_eq!(
            all(wire, 1024),
            vec![
                frame(b"<13>a"),
                frame(b"<13>b"),
                frame(b"<13>c"),
                frame(b"<13>d")
            ]
        );
    }

    #[test]
    fn mid_frame_from_the_first_byte_to_the_end_of_the_frame() {
        let mut d = Deframer::new(1024);
        assert!(!d.is_mid_frame());
        d.push(b"<13>a\n  ", |_| {});
        assert!(!d.is_mid_frame());
        d.push(b"<1", |_| {});
        assert!(d.is_mid_frame());
        d.push(b"3>b\n", |_| {});
        assert!(!d.is_mid_frame());
        d.push(b"12 <1", |_| {});
        assert!(d.is_mid_frame());
    }

    #[test]
    fn a_cut_frame_comes_out_truncated_and_its_rest_is_skipped() {
        let mut d = Deframer::new(1024);
        let mut got = Vec::new();
        d.push(b"<13>abc", |f| got.push(f.bytes.to_vec()));
        let mut cut = Vec::new();
        assert_eq!(d.cut(|f| cut.push((f.bytes.to_vec(), f.truncated))), 7);
        assert_eq!(cut, vec![(b"<13>abc".to_vec(), true)]);
        d.push(b"def\n<13>next\n", |f| got.push(f.bytes.to_vec()));
        assert_eq!(got, vec![b"<13>next".to_vec()]);
        assert_eq!(d.discarded(), 3);
        // Octet counted: the rest of the count is skipped.
        let mut d = Deframer::new(1024);
        let mut got = Vec::new();
        d.push(b"10 <13>ab", |f| got.push(f.bytes.to_vec()));
        assert_eq!(d.cut(|f| got.push(f.bytes.to_vec())), 6);
        d.push(b"cdef4 <1>x", |f| got.push(f.bytes.to_vec()));
        assert_eq!(got, vec![b"<13>ab".to_vec(), b"<1>x".to_vec()]);
        assert_eq!(d.discarded(), 4);
        assert_eq!(d.cut(|_| panic!("nothing held")), 0);
    }

    #[test]
    fn a_nul_inside_a_frame_is_kept_as_a_datagram_keeps_it() {
        // UDP keeps a NUL inside a message; TCP must agree (issue 14.11).
        let wire = b"<13>a\0b\n<13>c\0\0\r\n";
        assert_eq!(
            all(wire, 1024),
            vec![frame(b"<13>a\0b"), frame(b"<13>c\0\0")]
        );
        // Split anywhere, the same.
        for cut in 1..wire.len() {
            let (a, b) = wire.split_at(cut);
            let mut d = Deframer::new(1024);
            let mut got = Vec::new();
            for part in [a, b] {
                d.push(part, |f| got.push(f.bytes.to_vec()));
            }
            assert_eq!(
                got,
                vec![b"<13>a\0b".to_vec(), b"<13>c\0\0".to_vec()],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn the_first_byte_of_each_frame_decides() {
        let wire = b"4 <1>x<13>lf\n4 <2>y";
        assert_eq!(
            all(wire, 1024),
            vec![frame(b"<1>x"), frame(b"<13>lf"), frame(b"<2>y")]
        );
    }

    #[test]
    fn junk_is_a_malformed_line_and_resyncs() {
        let junk = |b: &[u8]| Owned {
            bytes: b.to_vec(),
            truncated: false,
            malformed: true,
        };
        let wire = b"hello\n12x4 <1>\n0 <1>\n1234567890 x\n007 <13>ok\n<13>fine\n";
        assert_eq!(
            all(wire, 1024),
            vec![
                junk(b"hello"),
                junk(b"12x4 <1>"),
                junk(b"0 <1>"),
                junk(b"1234567890 x"),
                junk(b"007 <13>ok"),
                frame(b"<13>fine"),
            ]
        );
    }

    #[test]
    fn long_frames_are_cut_and_the_rest_skipped() {
        let cut = |b: &[u8]| Owned {
            bytes: b.to_vec(),
            truncated: true,
            malformed: false,
        };
        // Counted: the count still finds the next frame.
        let wire = b"10 <1>abcdefg3 <2>";
        assert_eq!(run(5, wire, &[]), (vec![cut(b"<1>ab"), frame(b"<2>")], 5));
        // LF: skipped up to the next \n.
        let wire = b"<1>abcdefg\n<2>\n";
        assert_eq!(run(5, wire, &[]), (vec![cut(b"<1>ab"), frame(b"<2>")], 5));
        // Exactly max bytes before \r\n is not cut, one more is.
        assert_eq!(all(b"<1>ab\r\n", 5), vec![frame(b"<1>ab")]);
        assert_eq!(all(b"<1>abc\r\n", 5), vec![cut(b"<1>ab")]);
        for reads in [[1], [2], [3], [4]] {
            assert_eq!(
                run(5, b"<1>ab\r\n<1>abc\r\n", &reads).0,
                vec![frame(b"<1>ab"), cut(b"<1>ab")]
            );
        }
    }

    #[test]
    fn closing_hands_out_the_pending_frame() {
        assert_eq!(all(b"<13>no newline", 64), vec![frame(b"<13>no newline")]);
        let short = Owned {
            bytes: b"<13>sh".to_vec(),
            truncated: true,
            malformed: false,
        };
        assert_eq!(all(b"20 <13>sh", 64), vec![short]);
        let digits = Owned {
            bytes: b"42".to_vec(),
            truncated: false,
            malformed: true,
        };
        assert_eq!(all(b"42", 64), vec![digits]);
        assert_eq!(all(b" \n\r\n", 64), vec![]);
    }

    #[test]
    fn a_frame_within_one_read_is_not_copied() {
        let mut d = Deframer::new(64);
        let wire = b"4 <1>x<2>y\n";
        let mut starts = Vec::new();
        d.push(wire, |f| {
            starts.push(f.bytes.as_ptr() as usize - wire.as_ptr() as usize)
        });
        assert_eq!(starts, [2, 6]);
        assert_eq!(d.buf.capacity(), 0);
    }

    /// One message and how it goes on the wire.
    #[derive(Debug, Clone)]
    enum Sent {
        /// Octet counted; any bytes.
        Counted(Vec<u8>),
        /// LF-terminated (`\n` or `\r\n`); starts with `<`, holds no `\n`
        /// (a NUL is kept inside).
        Line(Vec<u8>, bool),
    }

    fn sent() -> impl Strategy<Value = Sent> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 1..40).prop_map(Sent::Counted),
            (
                proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..40),
                any::<bool>()
            )
                .prop_map(|(mut b, crlf)| {
                    while b.last() == Some(&b'\r') {
                        b.pop();
                    }
                    b.insert(0, b'<');
                    Sent::Line(b, crlf)
                }),
        ]
    }

    proptest! {
        /// Every message sent comes out exactly once, in order, cut to
        /// `max` (and every cut byte is counted), however the stream is
        /// split into reads and whatever blank space lies between frames.
        #[test]
        fn every_message_comes_out_however_it_is_read(
            msgs in proptest::collection::vec((sent(), proptest::sample::select(vec!["", "\n", " ", "\r\n", "\0"])), 0..12),
            max in 1usize..48,
            reads in proptest::collection::vec(1usize..20, 1..6),
        ) {
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            let mut discarded = 0u64;
            for (m, gap) in &msgs {
                wire.extend_from_slice(gap.as_bytes());
                let body = match m {
                    Sent::Counted(b) => {
                        wire.extend_from_slice(format!("{} ", b.len()).as_bytes());
                        wire.extend_from_slice(b);
                        b
                    }
                    Sent::Line(b, crlf) => {
                        wire.extend_from_slice(b);
                        wire.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
                        b
                    }
                };
                let cut = body.len().min(max);
                discarded += (body.len() - cut) as u64;
                expected.push(Owned { bytes: body[..cut].to_vec(), truncated: body.len() > max, malformed: false });
            }
            let (whole, whole_discarded) = run(max, &wire, &[]);
            prop_assert_eq!(&whole, &expected);
            prop_assert_eq!(whole_discarded, discarded);
            let (split, split_discarded) = run(max, &wire, &reads);
            prop_assert_eq!(&split, &expected);
            prop_assert_eq!(split_discarded, discarded);
        }

        /// On any bytes at all: the same frames whatever the reads, never
        /// more than `max` bytes held.
        #[test]
        fn any_bytes_deframe_the_same_however_read(
            wire in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b' '), Just(b'<'), Just(b'1'), Just(b'9')], 0..300),
            max in 1usize..64,
            reads in proptest::collection::vec(1usize..40, 1..6),
        ) {
            let whole = run(max, &wire, &[]);
            let split = run(max, &wire, &reads);
            prop_assert_eq!(whole, split);
        }
    }
}
