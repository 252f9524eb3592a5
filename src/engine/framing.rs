//! Framing: turning a stream of bytes into lines.
//!
//! A [`LineFramer`] keeps the partial last line of one stream between reads,
//! so a line written in several pieces comes out whole and two streams never
//! share a buffer. A line longer than the limit is cut into pieces that are
//! each marked as truncated; nothing is dropped. Cuts land on a UTF-8
//! character boundary where one is near, so cutting adds no U+FFFD.

use memchr::memchr;

use crate::event::Burst;

/// The default line limit: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// One framed line, without its line ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub bytes: &'a [u8],
    /// This is a piece of a line longer than the limit.
    pub truncated: bool,
}

/// Splits one stream's bytes into lines.
#[derive(Debug)]
pub struct LineFramer {
    partial: Vec<u8>,
    /// The partial line already began as a cut piece of a longer line.
    partial_is_continuation: bool,
    /// How the read that brought the partial line's first bytes came.
    partial_burst: Burst,
    max_line: usize,
}

impl LineFramer {
    /// A framer that cuts lines longer than `max_line` bytes (at least 16).
    pub fn new(max_line: usize) -> Self {
        LineFramer {
            partial: Vec::new(),
            partial_is_continuation: false,
            partial_burst: Burst::Unknown,
            max_line: max_line.max(16),
        }
    }

    /// Bytes held back as the start of a line not yet ended.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// At a line's start, with nothing held: a fresh framer would frame
    /// what follows the same way.
    pub fn is_clean(&self) -> bool {
        self.partial.is_empty() && !self.partial_is_continuation
    }

    /// Feeds the next bytes of the stream; calls `emit` for every complete
    /// line (and every cut piece) in order.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(Line<'_>)) {
        while !data.is_empty() {
            let room = self.max_line.saturating_sub(self.partial.len());
            let window = &data[..data.len().min(room + 1)];
            match memchr(b'\n', window) {
                Some(nl) => {
                    let truncated = self.partial_is_continuation;
                    if self.partial.is_empty() {
                        emit(Line {
                            bytes: strip_cr(&data[..nl]),
                            truncated,
                        });
                    } else {
                        self.partial.extend_from_slice(&data[..nl]);
                        emit(Line {
                            bytes: strip_cr(&self.partial),
                            truncated,
                        });
                        self.partial.clear();
                    }
                    self.partial_is_continuation = false;
                    data = &data[nl + 1..];
                }
                None if data.len() <= room => {
                    self.partial.extend_from_slice(data);
                    return;
                }
                None => {
                    // Over the limit: fill the held piece up to `max_line`
                    // bytes and emit it, backing off to a char boundary.
                    self.partial.extend_from_slice(&data[..room]);
                    data = &data[room..];
                    let at = cut_point(&self.partial, data.first().copied());
                    emit(Line {
                        bytes: &self.partial[..at],
                        truncated: true,
                    });
                    self.partial.drain(..at);
                    self.partial_is_continuation = true;
                }
            }
        }
    }

    /// [`LineFramer::push`] for one read whose first line came as `first`
    /// says and its others as `rest`; `emit` also gets how each line came.
    /// A line begun in an earlier read came as that read said for it.
    pub fn push_read(
        &mut self,
        data: &[u8],
        (first, rest): (Burst, Burst),
        mut emit: impl FnMut(Line<'_>, Burst),
    ) {
        let had_partial = !self.partial.is_empty();
        let mut next = if had_partial {
            self.partial_burst
        } else {
            first
        };
        let mut completed = false;
        self.push(data, |line| {
            emit(line, next);
            next = rest;
            completed = true;
        });
        self.partial_burst = match (completed, had_partial) {
            (true, _) => rest,
            (false, true) => self.partial_burst,
            (false, false) => first,
        };
    }

    /// The stream ended (or went idle): emits the partial last line, if any.
    pub fn finish(&mut self, mut emit: impl FnMut(Line<'_>)) {
        if !self.partial.is_empty() {
            emit(Line {
                bytes: strip_cr(&self.partial),
                truncated: self.partial_is_continuation,
            });
            self.partial.clear();
        }
        self.partial_is_continuation = false;
    }
}

/// The line without its `\r` of `\r\n`; a line of nothing but `\r`
/// (`\r\r\n`, a terminal's stray carriage return) is empty, so it is
/// skipped and counted like any empty line.
fn strip_cr(line: &[u8]) -> &[u8] {
    if line.iter().all(|&b| b == b'\r') {
        return &[];
    }
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where to cut a full piece so that the next piece does not start inside
/// a UTF-8 character: at most 3 bytes before its end. `after` is the byte
/// that follows the piece in the stream.
fn cut_point(piece: &[u8], after: Option<u8>) -> usize {
    let is_continuation = |b: Option<u8>| matches!(b, Some(b) if b & 0xC0 == 0x80);
    let mut at = piece.len();
    for _ in 0..3 {
        let next = if at < piece.len() {
            piece.get(at).copied()
        } else {
            after
        };
        if at > 1 && is_continuation(next) {
            at -= 1;
        } else {
            break;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_after_a_pause_when_its_start_is() {
        let mut f = LineFramer::new(64);
        let mut got = Vec::new();
        let mut read = |f: &mut LineFramer, data: &[u8], burst: Burst| {
            f.push_read(data, (burst, Burst::Same), |l, p| {
                got.push((String::from_utf8_lossy(l.bytes).into_owned(), p))
            });
        };
        read(&mut f, b"a\nb\nhalf", Burst::Paused);
        read(&mut f, b" and half\nc\n", Burst::Same);
        read(&mut f, b"app goes on", Burst::Paused);
        read(&mut f, b"\n", Burst::Same);
        read(&mut f, b"d\npart", Burst::Unknown);
        read(&mut f, b"ial\n", Burst::Paused);
        let want = [
            ("a", Burst::Paused),
            ("b", Burst::Same),
            ("half and half", Burst::Same),
            ("c", Burst::Same),
            ("app goes on", Burst::Paused),
            ("d", Burst::Unknown),
            ("partial", Burst::Same),
        ];
        let want: Vec<(String, Burst)> = want.iter().map(|(l, p)| (l.to_string(), *p)).collect();
        assert_eq!(got, want);
        // A read whose bytes were waiting long: none of its lines is known
        // to be in one burst.
        let mut got = Vec::new();
        f.push_read(b"x\ny\nz", (Burst::Unknown, Burst::Unknown), |l, p| {
            got.push((String::from_utf8_lossy(l.bytes).into_owned(), p))
        });
        f.push_read(b"\n", (Burst::Same, Burst::Same), |l, p| {
            got.push((String::from_utf8_lossy(l.bytes).into_owned(), p))
        });
        let want = [
            ("x", Burst::Unknown),
            ("y", Burst::Unknown),
            ("z", Burst::Unknown),
        ];
        let want: Vec<(String, Burst)> = want.iter().map(|(l, p)| (l.to_string(), *p)).collect();
        assert_eq!(got, want);
    }

    fn frame(max: usize, chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut f = LineFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |l| {
                out.push((String::from_utf8_lossy(l.bytes).into_owned(), l.truncated))
            });
        }
        f.finish(|l| out.push((String::from_utf8_lossy(l.bytes).into_owned(), l.truncated)));
        out
    }

    #[test]
    fn joins_lines_split_across_reads() {
        let out = frame(1024, &[b"hel", b"lo\nwor", b"ld\r\n", b"tail"]);
        assert_eq!(
            out,
            vec![
                ("hello".into(), false),
                ("world".into(), false),
                ("tail".into(), false)
            ]
        );
    }

    #[test]
    fn lines_of_only_cr_are_empty() {
        let out = frame(1024, &[b"a\n\r\r\n\r\n\r\r\r\nb\r\r\n\r"]);
        let lines: Vec<&str> = out.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(lines, ["a", "", "", "", "b\r", ""]);
    }

    #[test]
    fn empty_lines_are_framed() {
        let out = frame(1024, &[b"\n\na\n"]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].0, "a");
    }

    #[test]
    fn cuts_long_lines_into_marked_pieces() {
        let line = vec![b'x'; 40];
        let mut input = line.clone();
        input.extend_from_slice(b"\nshort\n");
        let out = frame(16, &[&input[..10], &input[10..]]);
        let pieces: Vec<usize> = out.iter().map(|(s, _)| s.len()).collect();
        assert_eq!(pieces, vec![16, 16, 8, 5]);
        assert_eq!(out.iter().filter(|(_, t)| *t).count(), 3);
        assert!(!out[3].1);
        let total: usize = pieces[..3].iter().sum();
        assert_eq!(total, 40);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_not_cut() {
        let mut input = vec![b'y'; 16];
        input.push(b'\n');
        assert_eq!(frame(16, &[&input]), vec![("y".repeat(16), false)]);
    }

    #[test]
    fn cuts_do_not_split_characters() {
        let text = "é".repeat(20); // 40 bytes of 2-byte characters
        let out = frame(17, &[text.as_bytes()]);
        assert!(out.iter().all(|(s, _)| !s.contains('\u{FFFD}')));
        assert_eq!(
            out.iter().map(|(s, _)| s.chars().count()).sum::<usize>(),
            20
        );
    }
}
