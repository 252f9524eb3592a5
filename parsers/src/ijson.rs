//! The I-JSON rule (RFC 7493) for JSON that logmux copies into its output.
//!
//! A JSON line's values are written out verbatim, so whatever they hold ends
//! up in logmux's own events. Downstream tools are stricter than RFC 8259:
//! `jq` stops at 10,000 levels of nesting, Go's `encoding/json` rejects
//! `1e999999`, and a JavaScript consumer keeps only one of two equal keys.
//! [`check`] tells whether a JSON text is safe to copy: nested at most
//! [`MAX_DEPTH`] deep, no object with the same key twice (below the top
//! level, whose duplicates the JSON parser resolves: the last wins), every
//! number finite and in IEEE double range, and no `\u` escape that is a lone
//! surrogate. The scan is one iterative pass (no recursion, so no input can
//! exhaust the stack) that stops at the first violation; it assumes the text
//! is otherwise well-formed JSON (serde_json validates that).

use std::borrow::Cow;
use std::fmt;

/// The deepest nesting (objects and arrays, the outer object being 1) that
/// a JSON line may have to be merged.
pub const MAX_DEPTH: usize = 64;

/// Why a JSON text was not copied, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    TooDeep,
    DuplicateKey(String),
    NumberOutOfRange(String),
    LoneSurrogate,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} levels"),
            Violation::DuplicateKey(k) => write!(f, "the key {k:?} appears twice in one object"),
            Violation::NumberOutOfRange(n) => {
                write!(f, "the number {n} is outside the range of a double")
            }
            Violation::LoneSurrogate => write!(f, "a \\u escape is a lone surrogate"),
        }
    }
}

/// Checks a well-formed JSON text against the rule above.
pub fn check(text: &str) -> Result<(), Violation> {
    let b = text.as_bytes();
    // One entry per open container: `Some(keys)` for an object below the
    // top level, `None` for an array or the top-level object.
    let mut open: Vec<Option<Vec<Cow<'_, str>>>> = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'{' | b'[' => {
                if open.len() >= MAX_DEPTH {
                    return Err(Violation::TooDeep);
                }
                let keyed = c == b'{' && !open.is_empty();
                open.push(keyed.then(Vec::new));
                i += 1;
            }
            b'}' | b']' => {
                open.pop();
                i += 1;
            }
            b'"' => {
                let end = string_end(b, i)?;
                let raw = text.get(i..end).unwrap_or("");
                i = end;
                if is_key(b, i) {
                    if let Some(Some(keys)) = open.last_mut() {
                        let key = decode(raw);
                        if keys.contains(&key) {
                            return Err(Violation::DuplicateKey(key.into_owned()));
                        }
                        keys.push(key);
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(b, i);
                let number = text.get(i..end).unwrap_or("");
                if !in_range(number) {
                    return Err(Violation::NumberOutOfRange(number.to_owned()));
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The index just past the string starting at `start`; checks its `\u`
/// escapes pair up.
fn string_end(b: &[u8], start: usize) -> Result<usize, Violation> {
    let mut i = start + 1;
    let mut pending_high = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' if !pending_high => return Ok(i + 1),
            b'\\' if b.get(i + 1) == Some(&b'u') => {
                let unit = b
                    .get(i + 2..i + 6)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u16::from_str_radix(h, 16).ok())
                    .unwrap_or(0);
                let high = (0xD800..0xDC00).contains(&unit);
                let low = (0xDC00..0xE000).contains(&unit);
                if low != pending_high {
                    return Err(Violation::LoneSurrogate);
                }
                pending_high = high;
                i += 6;
            }
            _ if pending_high => return Err(Violation::LoneSurrogate),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Ok(b.len())
}

/// Whether the string just ended at `i` is an object key (a `:` follows).
fn is_key(b: &[u8], i: usize) -> bool {
    b.get(i..).and_then(|rest| {
        rest.iter()
            .find(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
    }) == Some(&b':')
}

/// A quoted JSON string's contents, unescaped only if it has escapes.
fn decode(raw: &str) -> Cow<'_, str> {
    match raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
        _ => serde_json::from_str::<String>(raw).map_or(Cow::Borrowed(raw), Cow::Owned),
    }
}

fn number_end(b: &[u8], start: usize) -> usize {
    let len = b
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        .count();
    start + len
}

/// Finite, and not a non-zero number that a double rounds to zero.
fn in_range(number: &str) -> bool {
    let Ok(f) = number.parse::<f64>() else {
        return false;
    };
    if !f.is_finite() {
        return false;
    }
    if f != 0.0 {
        return true;
    }
    let mantissa = number.split(['e', 'E']).next().unwrap_or("");
    !mantissa.bytes().any(|c| matches!(c, b'1'..=b'9'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_json() {
        for ok in [
            r#"{"a":1,"b":{"c":[1,2,{"d":null}],"e":"x"},"f":-0.0,"g":1e308,"h":5e-324}"#,
            r#"{"a":{"k":1},"b":{"k":2}}"#,
            r#"{"a":[{"k":1},{"k":2}]}"#,
            r#"{"s":"\ud83d\ude00 \" \\u0000 [{","t":0e999999}"#,
            r#"{"a":1,"a":2}"#,
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(check(&at_limit), Ok(()));
    }

    #[test]
    fn names_each_violation() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(check(&deep), Err(Violation::TooDeep));
        let over = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(check(&over), Err(Violation::TooDeep));
        assert_eq!(
            check(r#"{"x":{"a":1, "a" :2}}"#),
            Err(Violation::DuplicateKey("a".into()))
        );
        assert_eq!(
            check(r#"{"x":{"\u0061":1,"a":2}}"#),
            Err(Violation::DuplicateKey("a".into()))
        );
        assert_eq!(
            check(r#"{"n":1e999999}"#),
            Err(Violation::NumberOutOfRange("1e999999".into()))
        );
        assert_eq!(
            check(r#"{"n":[-1.5e-400]}"#),
            Err(Violation::NumberOutOfRange("-1.5e-400".into()))
        );
        assert_eq!(check(r#"{"s":"\ud800"}"#), Err(Violation::LoneSurrogate));
        assert_eq!(check(r#"{"s":"\ude00x"}"#), Err(Violation::LoneSurrogate));
        assert_eq!(
            check(r#"{"s":"\ud800\u0041"}"#),
            Err(Violation::LoneSurrogate)
        );
        assert_eq!(
            Violation::TooDeep.to_string(),
            "nested deeper than 64 levels"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[\\[\\]{}\":,0-9eE.+\\-a\\\\u ]{0,64}") {
            let _ = check(&s);
        }
    }
}
