//! A small cursor over a `&str` for hand-written, allocation-free parsers.
//!
//! Every delimiter the built-in formats use is ASCII, and an ASCII byte is
//! always a char boundary in UTF-8, so slices cut at them stay valid `&str`s.
//! Slicing goes through `str::get` all the same, so no input can panic here.

use memchr::{memchr, memmem};

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
        let at = memchr(b, rest.as_bytes())?;
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

#[cfg(test)]
mod tests {
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
