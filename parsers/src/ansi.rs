//! Removing ANSI/VT100 escape sequences (colours, cursor moves, titles).
//!
//! Programs that think they write to a terminal colour their output, and
//! compose colours its prefixes. Parsers want the plain text, so this strips
//! CSI (`ESC [` … final byte), OSC and the other string sequences (`ESC ]`,
//! `ESC P`, `ESC X`, `ESC ^`, `ESC _`, ended by BEL or `ESC \`), `ESC` +
//! intermediates + final (`ESC ( B`) and two-byte `ESC X`. A line without
//! ESC is returned borrowed, found with one memchr.
//!
//! Only ASCII bytes are ever removed, except inside a string sequence, which
//! ends on an ASCII byte; so every cut is on a char boundary and the result
//! stays valid UTF-8.

use std::borrow::Cow;

use memchr::memchr;

/// The byte that starts every escape sequence.
pub const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// Removes ANSI escape sequences (colours, cursor moves).
///
/// Like a terminal, a CSI interrupted by a byte that cannot belong to it
/// ends just before that byte (which is kept), and a string sequence with no
/// terminator runs to the end of the text. A lone ESC is removed.
pub fn strip(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(mut esc) = memchr(ESC, b) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut copy_from = 0;
    loop {
        out.push_str(s.get(copy_from..esc).unwrap_or_default());
        copy_from = sequence_end(b, esc);
        match b.get(copy_from..).and_then(|rest| memchr(ESC, rest)) {
            Some(k) => esc = copy_from + k,
            None => break,
        }
    }
    out.push_str(s.get(copy_from..).unwrap_or_default());
    Cow::Owned(out)
}

/// The index just after the escape sequence that starts with ESC at `at`.
fn sequence_end(b: &[u8], at: usize) -> usize {
    let Some(&kind) = b.get(at + 1) else {
        return b.len();
    };
    match kind {
        b'[' => {
            let mut i = at + 2;
            // Parameter bytes, then intermediate bytes, then one final byte.
            while b.get(i).is_some_and(|c| (0x30..=0x3f).contains(c)) {
                i += 1;
            }
            while b.get(i).is_some_and(|c| (0x20..=0x2f).contains(c)) {
                i += 1;
            }
            match b.get(i) {
                Some(0x40..=0x7e) => i + 1,
                _ => i,
            }
        }
        b']' | b'P' | b'X' | b'^' | b'_' => {
            let mut i = at + 2;
            loop {
                match b.get(i) {
                    None => return b.len(),
                    Some(&BEL) => return i + 1,
                    Some(&ESC) if b.get(i + 1) == Some(&b'\\') => return i + 2,
                    // Another ESC aborts the string and starts a sequence.
                    Some(&ESC) => return i,
                    Some(_) => i += 1,
                }
            }
        }
        0x20..=0x2f => {
            let mut i = at + 1;
            while b.get(i).is_some_and(|c| (0x20..=0x2f).contains(c)) {
                i += 1;
            }
            match b.get(i) {
                Some(0x30..=0x7e) => i + 1,
                _ => i,
            }
        }
        0x30..=0x7e => at + 2,
        // A control byte, another ESC or a non-ASCII char: drop the ESC only.
        _ => at + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_borrowed() {
        let s = "2026/11/25 18:35:12 [notice] 1#1: start worker process 31";
        assert!(matches!(strip(s), Cow::Borrowed(x) if x == s));
        assert!(matches!(strip(""), Cow::Borrowed("")));
    }

    #[test]
    fn colours_and_cursor_moves() {
        assert_eq!(strip("\x1b[36mweb-1  | \x1b[0mGET /"), "web-1  | GET /");
        assert_eq!(
            strip("\x1b[1;31mERROR\x1b[0m: \x1b[38;5;208mcafé\x1b[m"),
            "ERROR: café"
        );
        assert_eq!(strip("\x1b[2K\x1b[1Gprogress 50%"), "progress 50%");
        assert_eq!(strip("a\x1b[?25lb\x1b[?25hc"), "abc");
        assert_eq!(strip("x\x1b[1 qy"), "xy");
    }

    #[test]
    fn osc_and_string_sequences() {
        assert_eq!(strip("\x1b]0;title\x07text"), "text");
        assert_eq!(
            strip("\x1b]8;;https://example.org/é\x1b\\link\x1b]8;;\x1b\\ end"),
            "link end"
        );
        assert_eq!(strip("\x1bPq#0;2;0;0;0\x1b\\after"), "after");
        assert_eq!(strip("a\x1b]0;unterminated"), "a");
        assert_eq!(strip("a\x1b]0;t\x1b[31mred"), "ared");
    }

    #[test]
    fn short_and_broken_sequences() {
        assert_eq!(strip("a\x1b(Bb"), "ab");
        assert_eq!(strip("a\x1b=b\x1b>c\x1bMd"), "abcd");
        assert_eq!(strip("end\x1b"), "end");
        assert_eq!(strip("\x1b"), "");
        assert_eq!(strip("a\x1b[31"), "a");
        assert_eq!(strip("a\x1b[31\nb"), "a\nb");
        assert_eq!(strip("a\x1b[31éb"), "aéb");
        assert_eq!(strip("a\x1béb"), "aéb");
        assert_eq!(strip("a\x1b\x1b[0mb"), "ab");
        assert_eq!(strip("a\x1b\tb"), "a\tb");
    }

    proptest! {
        #[test]
        fn strips_every_escape(b in any::<Vec<u8>>()) {
            let s = String::from_utf8_lossy(&b);
            let out = strip(&s);
            prop_assert!(!out.contains('\x1b'));
            prop_assert!(out.len() <= s.len());
            if !s.contains('\x1b') {
                prop_assert!(matches!(out, Cow::Borrowed(_)));
            }
        }

        #[test]
        fn keeps_text_around_colours(parts in proptest::collection::vec(("[^\x1b]*", 0u8..110), 0..8)) {
            let mut coloured = String::new();
            let mut plain = String::new();
            for (text, code) in &parts {
                coloured.push_str(&format!("\x1b[{code};1m{text}\x1b[0m"));
                plain.push_str(text);
            }
            prop_assert_eq!(strip(&coloured), plain);
        }
    }
}
