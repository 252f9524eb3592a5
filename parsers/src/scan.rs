//! A small cursor over a `&str` for hand-written, allocation-free parsers.
//!
//! Every delimiter the built-in formats use is ASCII, and an ASCII byte is
//! always a char boundary in UTF-8, so slices cut at them stay valid `&str`s.
//! Slicing goes through `str::get` all the same, so no input can panic here.

use memchr::{memchr, memmem, memrchr};

/// A forward-only reader over one line.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    /// The whole line.
    pub fn line(&self) -> &'a str {
        self.s
    }

    /// The byte offset reached.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// What is left to read.
    pub fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// The next byte, not consumed.
    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Consumes `lit` if the rest starts with it.
    #[inline]
    pub fn eat(&mut self, lit: &str) -> bool {
        if self.rest().as_bytes().starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Consumes one byte if it is `b`.
    #[inline]
    pub fn eat_byte(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes up to (not including) the next `b` and then `b` itself;
    /// returns what came before it.
    #[inline]
    pub fn until(&mut self, b: u8) -> Option<&'a str> {
        let rest = self.rest();
        let at = find_byte(b, rest.as_bytes())?;
        let out = rest.get(..at)?;
        self.pos += at + 1;
        Some(out)
    }

    /// Like [`Cursor::until`] for a multi-byte delimiter.
    pub fn until_str(&mut self, delim: &str) -> Option<&'a str> {
        let rest = self.rest();
        let at = memmem::find(rest.as_bytes(), delim.as_bytes())?;
        let out = rest.get(..at)?;
        self.pos += at + delim.len();
        Some(out)
    }

    /// Consumes the bytes while `pred` holds and returns them.
    pub fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let rest = self.rest();
        let n = rest.bytes().take_while(|&b| pred(b)).count();
        self.pos += n;
        rest.get(..n).unwrap_or("")
    }

    /// Consumes ASCII digits and returns their value (at most 18 digits).
    #[inline]
    pub fn number(&mut self) -> Option<u64> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        parse_u64(digits.as_bytes())
    }

    /// Consumes any spaces.
    pub fn skip_spaces(&mut self) {
        self.take_while(|b| b == b' ');
    }

    /// Consumes everything that is left.
    pub fn take_rest(&mut self) -> &'a str {
        let r = self.rest();
        self.pos = self.s.len();
        r
    }
}

/// The index of the first `needle` in `hay`, like `memchr`, for the
/// delimiters of a line's fields: nearly always within its first bytes.
/// The first 64 bytes are searched inline, 16 at a time; `memchr` itself
/// is a call through a pointer (picked at run time) whose set-up cost more
/// than a short search (callgrind: 50 to 70 instructions a call on nginx's
/// fields). Past 64 bytes, `memchr` takes over.
#[inline(always)]
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let (head, tail) = hay.split_at(hay.len().min(64));
    if let Some(at) = find_in_head(needle, head) {
        return Some(at);
    }
    memchr(needle, tail).map(|at| at + head.len())
}

/// The index of the last `needle` in `hay`, like `memrchr`: the last 16
/// bytes are searched inline (a request line's protocol), then `memrchr`.
#[inline(always)]
pub fn rfind_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let (head, tail) = hay.split_at(hay.len().saturating_sub(16));
    if let Some(at) = rfind_in_tail(needle, tail) {
        return Some(head.len() + at);
    }
    memrchr(needle, head)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rfind_in_tail(needle: u8, tail: &[u8]) -> Option<usize> {
    let found = short_matches(needle, tail);
    (found != 0).then(|| 31 - found.leading_zeros() as usize)
}

/// A bit for each byte of `hay` (under 17 bytes) that is `needle`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn short_matches(needle: u8, hay: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let len = hay.len();
    let block = load_block(hay);
    // SAFETY: SSE2 is part of every x86_64 CPU; the load reads the local
    // block and needs no alignment.
    let found = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(needle as i8))) as u32
    };
    found & ((1 << len.min(16)) - 1)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rfind_in_tail(needle: u8, tail: &[u8]) -> Option<usize> {
    tail.iter().rposition(|&b| b == needle)
}

/// [`find_byte`] within at most 64 bytes: whole 16-byte loads, the last
/// one overlapping the one before; under 16 bytes, one padded block.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn find_in_head(needle: u8, hay: &[u8]) -> Option<usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let len = hay.len();
    // SAFETY: SSE2 is part of every x86_64 CPU. Each load reads 16 bytes
    // at `i` or at `len - 16` with `len >= 16`, so within `hay`, and needs
    // no alignment.
    unsafe {
        let wanted = _mm_set1_epi8(needle as i8);
        let mask = |v: __m128i| _mm_movemask_epi8(_mm_cmpeq_epi8(v, wanted)) as u32;
        if len < 16 {
            let found = short_matches(needle, hay);
            return (found != 0).then(|| found.trailing_zeros() as usize);
        }
        let mut i = 0;
        while i + 16 <= len {
            let found = mask(_mm_loadu_si128(hay.as_ptr().add(i).cast()));
            if found != 0 {
                return Some(i + found.trailing_zeros() as usize);
            }
            i += 16;
        }
        if i < len {
            let last = len - 16;
            let found = mask(_mm_loadu_si128(hay.as_ptr().add(last).cast())) >> (i - last);
            if found != 0 {
                return Some(i + found.trailing_zeros() as usize);
            }
        }
    }
    None
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn find_in_head(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// The first 16 bytes of `bytes`; a shorter `bytes` is padded with spaces
/// (which JSON need not escape; a search masks them off). Short copies are
/// done as two overlapping fixed-size ones, not a `memcpy` call.
#[inline(always)]
pub fn load_block(bytes: &[u8]) -> [u8; 16] {
    let mut block = [b' '; 16];
    let take = bytes.len().min(16);
    match take {
        16 => block.copy_from_slice(&bytes[..16]),
        8..=15 => {
            block[..8].copy_from_slice(&bytes[..8]);
            block[take - 8..take].copy_from_slice(&bytes[take - 8..take]);
        }
        4..=7 => {
            block[..4].copy_from_slice(&bytes[..4]);
            block[take - 4..take].copy_from_slice(&bytes[take - 4..take]);
        }
        // The first, middle and last byte cover 1 to 3 bytes; a loop of
        // unknown length here was a `memcpy` call.
        1..=3 => {
            block[0] = bytes[0];
            block[take / 2] = bytes[take / 2];
            block[take - 1] = bytes[take - 1];
        }
        _ => {}
    }
    block
}

/// Parses 1 to 18 ASCII digits.
#[inline]
pub fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
    }
    Some(n)
}

/// Parses an optionally signed integer of at most 18 digits.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    match s.split_first() {
        Some((b'-', digits)) => parse_u64(digits).map(|n| -(n as i64)),
        _ => parse_u64(s).map(|n| n as i64),
    }
}

/// Parses a plain decimal such as `0.004` or `12` (no sign, no exponent),
/// as nginx and uWSGI print durations.
pub fn parse_decimal(s: &[u8]) -> Option<f64> {
    let (int, frac) = match memchr(b'.', s) {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &b""[..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let whole = if int.is_empty() { 0 } else { parse_u64(int)? };
    if frac.is_empty() {
        return Some(whole as f64);
    }
    let f = parse_u64(frac)?;
    Some(whole as f64 + f as f64 / 10f64.powi(frac.len() as i32))
}

/// `bytes` as text when every byte is ASCII and none is `byte`: one pass,
/// 16 bytes at a time, that answers both of a line's usual questions (is
/// it UTF-8, does it hold an ANSI escape) for the common line, where a
/// UTF-8 check and a `memchr` were two passes and two calls.
#[inline]
pub fn ascii_without(bytes: &[u8], byte: u8) -> Option<&str> {
    ascii_without_either(bytes, byte, byte)
}

/// [`ascii_without`] for two bytes at once (a listener's frame: no ANSI
/// escape, and no newline that would make it several lines).
#[inline]
pub fn ascii_without_either(bytes: &[u8], a: u8, b: u8) -> Option<&str> {
    if !blocks_ascii_without(bytes, a, b) {
        return None;
    }
    // SAFETY: every byte is ASCII, and ASCII is valid UTF-8.
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn blocks_ascii_without(bytes: &[u8], a: u8, b: u8) -> bool {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut blocks = bytes.chunks_exact(16);
    // SAFETY: SSE2 is part of every x86_64 CPU; each load reads one
    // 16-byte chunk (or the local padded block) and needs no alignment.
    unsafe {
        let (wanted_a, wanted_b) = (_mm_set1_epi8(a as i8), _mm_set1_epi8(b as i8));
        // The high bit of a byte that is not ASCII, or that is `a` or `b`.
        let bad = |v: __m128i| {
            let either = _mm_or_si128(_mm_cmpeq_epi8(v, wanted_a), _mm_cmpeq_epi8(v, wanted_b));
            _mm_movemask_epi8(_mm_or_si128(v, either)) != 0
        };
        for block in blocks.by_ref() {
            if bad(_mm_loadu_si128(block.as_ptr().cast())) {
                return false;
            }
        }
        let rest = blocks.remainder();
        if rest.is_empty() || a == b' ' || b == b' ' {
            return rest.iter().all(|&c| c.is_ascii() && c != a && c != b);
        }
        // The padding is spaces: ASCII, and neither `a` nor `b`.
        !bad(_mm_loadu_si128(load_block(rest).as_ptr().cast()))
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn blocks_ascii_without(bytes: &[u8], a: u8, b: u8) -> bool {
    bytes.iter().all(|&c| c.is_ascii() && c != a && c != b)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// `find_byte` answers as `memchr` does, at every length and
        /// position around the 16- and 64-byte edges.
        #[test]
        fn find_byte_is_memchr(
            hay in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'['), any::<u8>()], 0..200),
            needle in prop_oneof![Just(b' '), Just(b'['), any::<u8>()],
        ) {
            prop_assert_eq!(find_byte(needle, &hay), memchr(needle, &hay));
            prop_assert_eq!(rfind_byte(needle, &hay), memrchr(needle, &hay));
        }

        /// `ascii_without` is text exactly when the bytes are ASCII and hold
        /// no `byte`: plain ASCII of every length around the 16-byte edges,
        /// with one byte put at any place (the one looked for, a space, a
        /// byte that is not ASCII, any byte), or none.
        #[test]
        fn ascii_without_is_ascii_and_no_such_byte(
            len in 0usize..70,
            put in proptest::option::of((0usize..70, prop_oneof![Just(0x1b), Just(b' '), Just(0x80), any::<u8>()])),
            byte in prop_oneof![Just(0x1b), Just(b' '), any::<u8>()],
        ) {
            let hay = plain_with(len, put);
            let expected = hay.iter().all(|&b| b.is_ascii() && b != byte);
            let got = ascii_without(&hay, byte);
            prop_assert_eq!(got.is_some(), expected);
            if let Some(text) = got {
                prop_assert_eq!(text.as_bytes(), &hay[..]);
            }
        }

        /// The same for two bytes: neither may appear.
        #[test]
        fn ascii_without_either_is_ascii_and_neither_byte(
            len in 0usize..70,
            put in proptest::option::of((0usize..70, prop_oneof![Just(0x1b), Just(b'\n'), Just(0x80), any::<u8>()])),
            a in prop_oneof![Just(0x1b), Just(b' '), any::<u8>()],
            b in prop_oneof![Just(b'\n'), any::<u8>()],
        ) {
            let hay = plain_with(len, put);
            let expected = hay.iter().all(|&c| c.is_ascii() && c != a && c != b);
            prop_assert_eq!(ascii_without_either(&hay, a, b).is_some(), expected);
        }
    }

    /// `len` bytes of plain ASCII text, with `put`'s byte at its place
    /// (when the place is within them).
    fn plain_with(len: usize, put: Option<(usize, u8)>) -> Vec<u8> {
        let mut hay: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        if let Some((at, byte)) = put {
            if let Some(slot) = hay.get_mut(at) {
                *slot = byte;
            }
        }
        hay
    }

    #[test]
    fn find_byte_at_every_place_of_short_and_long_haystacks() {
        for len in 0..140 {
            for at in 0..len {
                let mut hay = vec![b'a'; len];
                hay[at] = b'x';
                if at + 1 < len {
                    hay[len - 1] = b'x';
                }
                assert_eq!(find_byte(b'x', &hay), Some(at), "len {len} at {at}");
            }
            assert_eq!(find_byte(b'x', &vec![b'a'; len]), None, "len {len}");
            assert_eq!(rfind_byte(b'x', &vec![b'a'; len]), None, "len {len}");
            for at in 0..len {
                let mut hay = vec![b'a'; len];
                hay[at] = b'x';
                hay[0] = b'x';
                assert_eq!(rfind_byte(b'x', &hay), Some(at), "len {len} at {at}");
            }
        }
    }

    use super::*;

    #[test]
    fn cursor_walks_a_line() {
        let mut c = Cursor::new("[pid: 12|app: 0] rest");
        assert!(c.eat("[pid: "));
        assert_eq!(c.number(), Some(12));
        assert!(c.eat_byte(b'|'));
        assert_eq!(c.until(b']'), Some("app: 0"));
        c.skip_spaces();
        assert_eq!(c.take_rest(), "rest");
        assert!(c.is_empty());
        assert_eq!(c.until(b'x'), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0042"), Some(42));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_u64(b"9999999999999999999"), None);
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_decimal(b"0.004"), Some(0.004));
        assert_eq!(parse_decimal(b"12"), Some(12.0));
        assert_eq!(parse_decimal(b"."), None);
        assert_eq!(parse_decimal(b"1.2.3"), None);
    }
}
