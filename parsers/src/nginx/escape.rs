//! nginx's default log escaping, undone.
//!
//! With the default `escape=default`, nginx writes bytes below 0x20, `"`,
//! `\`, 0x7F and every byte ≥ 0x80 as `\xHH`. [`decode`] turns those back
//! into bytes. Because non-ASCII text arrives escaped byte by byte, the
//! decoded bytes can be invalid UTF-8 (a scanner's TLS hello, a Latin-1
//! URL); they are then replaced with U+FFFD and the caller is told so.

use std::borrow::Cow;

use memchr::memchr;

/// The value of one hex digit, upper or lower case.
#[inline]
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte a `\xHH` at `at` stands for, if there is a complete one there.
#[inline]
fn escape_at(b: &[u8], at: usize) -> Option<u8> {
    match b.get(at..at.checked_add(4)?)? {
        [b'\\', b'x', h, l] => Some(hex(*h)? << 4 | hex(*l)?),
        _ => None,
    }
}

/// The first complete `\xHH` at or after `from`: its offset and byte.
#[inline]
fn next_escape(b: &[u8], mut from: usize) -> Option<(usize, u8)> {
    loop {
        let at = from + memchr(b'\\', b.get(from..)?)?;
        if let Some(byte) = escape_at(b, at) {
            return Some((at, byte));
        }
        from = at + 1;
    }
}

/// Decodes `\xHH` escapes; the bool is true when the decoded bytes were not
/// valid UTF-8 and were replaced with U+FFFD.
///
/// Anything that is not a complete `\xHH` (a lone `\`, `\xZ1`, `\x4` at the
/// end) is kept verbatim. Without any escape, nothing is allocated.
pub fn decode(s: &str) -> (Cow<'_, str>, bool) {
    let b = s.as_bytes();
    let Some((mut at, mut byte)) = next_escape(b, 0) else {
        return (Cow::Borrowed(s), false);
    };
    let mut out = Vec::with_capacity(b.len());
    let mut copied = 0;
    loop {
        out.extend_from_slice(b.get(copied..at).unwrap_or_default());
        out.push(byte);
        copied = at + 4;
        match next_escape(b, copied) {
            Some((a, y)) => (at, byte) = (a, y),
            None => break,
        }
    }
    out.extend_from_slice(b.get(copied..).unwrap_or_default());
    match String::from_utf8(out) {
        Ok(text) => (Cow::Owned(text), false),
        Err(e) => (
            Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            true,
        ),
    }
}

/// How an access log's values were escaped: nginx's `log_format … escape=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// `\xHH` for `"`, `\`, control bytes and bytes ≥ 0x7F (nginx's default).
    #[default]
    Default,
    /// JSON string escapes: `\"`, `\\`, `\n`, `\t`, `\u0001`, ….
    Json,
    /// Nothing escaped: values are kept as written.
    None,
}

impl Escape {
    /// `json`, `default` or `none`, as in nginx's `escape=` parameter.
    pub fn from_name(name: &str) -> Option<Escape> {
        match name {
            "default" => Some(Escape::Default),
            "json" => Some(Escape::Json),
            "none" => Some(Escape::None),
            _ => None,
        }
    }
}

/// Decodes JSON string escapes (`escape=json`). A `\u` that is not four hex
/// digits, or a lone surrogate, becomes U+FFFD and the bool says so; an
/// unknown `\c` is kept verbatim. Without a backslash nothing is allocated.
pub fn decode_json(s: &str) -> (Cow<'_, str>, bool) {
    if memchr(b'\\', s.as_bytes()).is_none() {
        return (Cow::Borrowed(s), false);
    }
    let mut out = String::with_capacity(s.len());
    let mut bad = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let c = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32);
                bad |= c.is_none();
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    (Cow::Owned(out), bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_borrowed() {
        let (out, bad) = decode("GET /index.html HTTP/1.1");
        assert!(matches!(out, Cow::Borrowed("GET /index.html HTTP/1.1")));
        assert!(!bad);
        // Backslashes that are not escapes do not allocate either.
        let (out, bad) = decode(r"C:\path\xZZ\x4");
        assert!(matches!(out, Cow::Borrowed(r"C:\path\xZZ\x4")));
        assert!(!bad);
    }

    #[test]
    fn decodes_upper_and_lower_hex() {
        assert_eq!(decode(r"a\x22b\x5cc\x5Cd").0, "a\"b\\c\\d");
        assert_eq!(decode(r"\x09tab").0, "\ttab");
        // A decoded backslash does not start a new escape.
        assert_eq!(decode(r"\x5Cx41").0, r"\x41");
    }

    #[test]
    fn utf8_sequences_are_reassembled() {
        let (out, bad) = decode(r"/caf\xC3\xA9?q=\xE2\x82\xAC");
        assert_eq!(out, "/café?q=€");
        assert!(!bad);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_reported() {
        let (out, bad) = decode(r"\x16\x03\x01\x00\xA5garbage");
        assert_eq!(out, "\u{16}\u{3}\u{1}\u{0}\u{FFFD}garbage");
        assert!(bad);
        let (out, bad) = decode(r"/caf\xE9");
        assert_eq!(out, "/caf\u{FFFD}");
        assert!(bad);
    }

    #[test]
    fn incomplete_escapes_stay_verbatim() {
        assert_eq!(decode(r"\x41\x4").0, r"A\x4");
        assert_eq!(decode(r"\\x41").0, r"\A");
        assert_eq!(decode(r"\x41\").0, r"A\");
    }

    #[test]
    fn json_escapes() {
        let (out, bad) = decode_json(r#"say \"hi\" \\ tab\there \u0001 café \/ \x"#);
        assert_eq!(out, "say \"hi\" \\ tab\there \u{1} café / \\x");
        assert!(!bad);
        assert_eq!(decode_json(r"\ud800 \u12").0, "\u{FFFD} \u{FFFD}");
        assert!(matches!(decode_json("plain").0, Cow::Borrowed("plain")));
    }

    proptest! {
        #[test]
        fn json_never_panics(s in any::<String>()) {
            let (out, _) = decode_json(&s);
            prop_assert!(out.len() <= s.len() + 3);
        }

        #[test]
        fn never_panics(bytes in any::<Vec<u8>>()) {
            let s = String::from_utf8_lossy(&bytes);
            let (out, _) = decode(&s);
            // Four escaped bytes decode to one, and U+FFFD takes three.
            prop_assert!(out.len() <= s.len());
        }

        #[test]
        fn round_trips_escaped_bytes(bytes in any::<Vec<u8>>()) {
            // Escape the way nginx does, then decode.
            let mut esc = String::new();
            for &b in &bytes {
                if b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f {
                    esc.push_str(&format!("\\x{b:02X}"));
                } else {
                    esc.push(char::from(b));
                }
            }
            let (out, bad) = decode(&esc);
            let want = String::from_utf8_lossy(&bytes);
            prop_assert_eq!(out.as_ref(), want.as_ref());
            prop_assert_eq!(bad, std::str::from_utf8(&bytes).is_err());
        }
    }
}
