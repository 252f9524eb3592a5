//! RFC 6587 framing of syslog over a stream (TCP, unix stream sockets).
//!
//! The first byte of each frame decides its framing: a digit starts octet
//! counting (`LEN SP MSG`, LEN counting every byte of MSG including a
//! trailing `\n`), `<` a message that ends at `\n` (or `\r\n`, or a NUL as
//! some old senders write). Anything else is read up to the next `\n` and
//! handed on marked malformed, so the listener can keep it as text.
//!
//! Memory is bounded: a [`Deframer`] holds at most `max_message + 1` bytes
//! of a frame split over reads. A complete frame inside one read is handed
//! out as a slice of that read, without copying. A longer frame is cut to
//! `max_message` bytes and marked truncated; the rest of it is skipped (by
//! counting, or up to the next `\n`) and counted in [`Deframer::discarded`].

use memchr::memchr2;

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
    /// Discarding the rest of a truncated frame: `Some(n)` more bytes of a
    /// counted one, or `None` up to the next `\n`.
    Skip { remaining: Option<usize> },
}

/// Splits a byte stream into syslog frames; see the module docs.
#[derive(Debug, Clone)]
pub struct Deframer {
    max: usize,
    state: State,
    /// The part of the current frame that came in earlier reads.
    buf: Vec<u8>,
    discarded: u64,
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
        let mut i = 0;
        // Where this read's part of the current frame begins.
        let mut start = 0;
        while i < bytes.len() {
            match self.state {
                State::Between => {
                    match bytes[i] {
                        b' ' | b'\t' | b'\r' | b'\n' | 0 => {
                            i += 1;
                            continue;
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
                    start = i;
                }
                State::Length { value, digits } => {
                    let c = bytes[i];
                    let nonzero = value > 0 || c != b'0';
                    if c.is_ascii_digit() && nonzero && digits < MAX_LEN_DIGITS {
                        self.state = State::Length {
                            value: value * 10 + usize::from(c - b'0'),
                            digits: digits + 1,
                        };
                        i += 1;
                    } else if c == b' ' && value > 0 {
                        i += 1;
                        self.buf.clear();
                        start = i;
                        self.state = State::Counted {
                            remaining: value,
                            total: value,
                        };
                    } else {
                        // Not a length: the digits start a malformed line.
                        self.state = State::Line { malformed: true };
                    }
                }
                State::Counted { remaining, total } => {
                    let take = remaining.min(bytes.len() - i);
                    let keep = total.min(self.max);
                    let received = total - remaining;
                    i += take;
                    if received + take >= keep && received < keep {
                        let truncated = total > self.max;
                        on_frame(Frame {
                            bytes: self.prefix(&bytes[start..], keep),
                            truncated,
                            malformed: false,
                        });
                        self.buf.clear();
                        start = i;
                        self.discarded += (received + take - keep) as u64;
                    } else if received >= keep {
                        self.discarded += take as u64;
                        start = i;
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
                State::Line { malformed } => match memchr2(b'\n', 0, &bytes[i..]) {
                    Some(at) => {
                        let stop = i + at;
                        let tail = &bytes[start..stop];
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
                        i = stop + 1;
                        self.state = State::Between;
                    }
                    None => {
                        i = bytes.len();
                        // One byte over the limit may still be a `\r`.
                        let have = self.buf.len() + (bytes.len() - start);
                        if have > self.max + 1 {
                            on_frame(Frame {
                                bytes: self.prefix(&bytes[start..], self.max),
                                truncated: true,
                                malformed,
                            });
                            self.discarded += (have - self.max) as u64;
                            self.buf.clear();
                            start = i;
                            self.state = State::Skip { remaining: None };
                        }
                    }
                },
                State::Skip { remaining: Some(n) } => {
                    let take = n.min(bytes.len() - i);
                    self.discarded += take as u64;
                    i += take;
                    self.state = if take == n {
                        State::Between
                    } else {
                        State::Skip {
                            remaining: Some(n - take),
                        }
                    };
                }
                State::Skip { remaining: None } => match memchr2(b'\n', 0, &bytes[i..]) {
                    Some(at) => {
                        self.discarded += at as u64;
                        i += at + 1;
                        self.state = State::Between;
                    }
                    None => {
                        self.discarded += (bytes.len() - i) as u64;
                        i = bytes.len();
                    }
                },
            }
        }
        // Keep the unfinished frame's bytes for the next read.
        if matches!(
            self.state,
            State::Length { .. } | State::Counted { .. } | State::Line { .. }
        ) {
            let rest = bytes.get(start..).unwrap_or_default();
            let room = (self.max + 1).saturating_sub(self.buf.len());
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
            State::Length { .. } => on_frame(Frame {
                bytes: &self.buf,
                truncated: false,
                malformed: true,
            }),
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

    /// Grows the buffer for `more` bytes without ever going past
    /// `max_message + 1` bytes of capacity (plain doubling could).
    fn reserve(&mut self, more: usize) {
        let needed = self.buf.len() + more;
        if needed > self.buf.capacity() {
            let target = needed
                .max(self.buf.capacity() * 2)
                .min(self.max + 1)
                .max(needed);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }
}
