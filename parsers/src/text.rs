//! Any other line: plain text, whose severity comes only from a leading
//! level word, never from the stream it arrived on.
//!
//! Recognised shapes, at the start of the line: `WARNING: ...`, `ERROR ...`,
//! `[ERROR] ...`, `error: ...`, `CRITICAL:root:...`, logfmt's `level=error`,
//! and the same after a leading timestamp (`2026-11-25 18:35:12,345 ERROR`,
//! `2026-11-25T18:35:12Z WARN`, gunicorn's `[... +0000] [7] [INFO]`,
//! Python's `... - name - ERROR - `, Celery's `[...: INFO/MainProcess]`).
//! Only full words count, and only the first token or the one after the
//! timestamp, so prose that merely mentions an error stays INFO.

use memchr::memmem;

use crate::record::{Format, Record};
use crate::severity::Severity;
use crate::time::{self, Offset, Timestamp};

/// Always succeeds.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    rec.format = Format::Text;
    if let Some((severity, timestamp)) = leading_level(line.as_bytes()) {
        rec.severity = Some(severity);
        if timestamp.is_some() {
            rec.timestamp = timestamp;
        }
    }
    true
}

/// The severity of a line's leading level word, and the timestamp printed
/// before it, if any.
pub fn leading_level(line: &[u8]) -> Option<(Severity, Option<Timestamp>)> {
    let b = skip_spaces(line);
    if let Some(sev) = logfmt_level(b) {
        return Some((sev, None));
    }
    let Some((ts, n, bracketed)) = leading_timestamp(b) else {
        return level_token(b).map(|s| (s, None));
    };
    let rest = b.get(n..).unwrap_or(&[]);
    // Celery: `[2026-11-25 18:35:12,345: INFO/MainProcess] ...`.
    if bracketed {
        if let Some(after) = rest.strip_prefix(b": ") {
            let w = word_len(after);
            if matches!(after.get(w), Some(b'/' | b']')) {
                return level_word(after.get(..w)?).map(|s| (s, Some(ts)));
            }
        }
        if rest.first() != Some(&b']') {
            return None;
        }
    }
    let mut rest = skip_spaces(rest.get(usize::from(bracketed)..).unwrap_or(&[]));
    // gunicorn: `[...] [7] [INFO] ...`.
    if let Some(after) = bracketed_number(rest) {
        rest = skip_spaces(after);
    }
    // Python's `%(asctime)s - %(name)s - %(levelname)s - %(message)s`.
    if let Some(after) = rest.strip_prefix(b"- ") {
        let name = after.iter().take_while(|&&c| c != b' ').count();
        let after = after.get(name..)?.strip_prefix(b" - ")?;
        return level_token(after).map(|s| (s, Some(ts)));
    }
    level_token(rest).map(|s| (s, Some(ts)))
}

fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    b.get(n..).unwrap_or(&[])
}

fn word_len(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_alphabetic()).count()
}

fn level_word(w: &[u8]) -> Option<Severity> {
    Severity::from_level_word(w)
}

/// `[LEVEL]`, `[LEVEL ]`, or `LEVEL` followed by `:`, a space, `]`, `|` or
/// the end of the line.
fn level_token(b: &[u8]) -> Option<Severity> {
    if let Some(inner) = b.strip_prefix(b"[") {
        let inner = skip_spaces(inner);
        let w = word_len(inner);
        let close = skip_spaces(inner.get(w..)?);
        return if close.first() == Some(&b']') {
            level_word(inner.get(..w)?)
        } else {
            None
        };
    }
    let w = word_len(b);
    match b.get(w) {
        None | Some(b':' | b' ' | b'\t' | b']' | b'|') => level_word(b.get(..w)?),
        _ => None,
    }
}

/// `[123] ` as gunicorn prints its pid; returns what follows.
fn bracketed_number(b: &[u8]) -> Option<&[u8]> {
    let inner = b.strip_prefix(b"[")?;
    let n = inner.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    inner.get(n..)?.strip_prefix(b"]")
}

/// `level=error` (or `lvl=`, `severity=`, quoted or not) in a line whose
/// first token is a logfmt `key=value`.
fn logfmt_level(b: &[u8]) -> Option<Severity> {
    let first = b.iter().take_while(|&&c| c != b' ').count();
    let eq = b.get(..first)?.iter().position(|&c| c == b'=')?;
    if eq == 0
        || !b
            .get(..eq)?
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'@'))
    {
        return None;
    }
    for key in [&b"level="[..], b"lvl=", b"severity="] {
        let at = memmem::find_iter(b, key).find(|&at| at == 0 || b.get(at - 1) == Some(&b' '));
        if let Some(at) = at {
            let v = b.get(at + key.len()..)?;
            let v = v.strip_prefix(b"\"").unwrap_or(v);
            return level_word(v.get(..word_len(v))?);
        }
    }
    None
}

/// A timestamp at the start of the line: `YYYY-MM-DD[ T]HH:MM:SS` (or with
/// `/`), an optional `,fff`/`.fff` fraction and an optional zone (`Z`,
/// `+01:00`, `+0100`, ` +0000`), possibly inside `[...]`. Returns it, its
/// length (up to, not including, a closing `]`), and whether it was opened
/// with `[`.
pub(crate) fn leading_timestamp(b: &[u8]) -> Option<(Timestamp, usize, bool)> {
    let bracketed = b.first() == Some(&b'[');
    let start = usize::from(bracketed);
    let s = b.get(start..)?;
    let date_sep = *s.get(4)?;
    let mid = *s.get(10)?;
    if !matches!(date_sep, b'-' | b'/') || !matches!(mid, b' ' | b'T') {
        return None;
    }
    let mut ts = time::parse_ymd_hms(s, date_sep, mid)?;
    let mut n = 19;
    if matches!(s.get(n), Some(b',' | b'.')) {
        let digits = s
            .get(n + 1..)?
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 {
            ts = ts.with_fraction(s.get(n + 1..n + 1 + digits.min(9))?)?;
            n += 1 + digits;
        }
    }
    match s.get(n) {
        Some(b'Z' | b'z') => {
            ts.offset = Offset::Utc;
            n += 1;
        }
        Some(b'+' | b'-') => {
            if let Some((m, len)) = zone(s.get(n..)?) {
                ts.offset = Offset::Minutes(m);
                n += len;
            }
        }
        Some(b' ') if matches!(s.get(n + 1), Some(b'+' | b'-')) => {
            if let Some((m, len)) = zone(s.get(n + 1..)?) {
                ts.offset = Offset::Minutes(m);
                n += 1 + len;
            }
        }
        _ => {}
    }
    Some((ts, start + n, bracketed))
}

/// `+01:00` or `+0100`, and its length.
fn zone(b: &[u8]) -> Option<(i16, usize)> {
    let len = if b.get(3) == Some(&b':') { 6 } else { 5 };
    let m = time::parse_numeric_offset(b.get(..len)?)?;
    Some((m, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sev(line: &str) -> Option<Severity> {
        let mut r = Record::default();
        assert!(parse(line, &mut r));
        assert_eq!(r.format, Format::Text);
        r.severity
    }

    fn ts(line: &str) -> Option<Timestamp> {
        let mut r = Record::default();
        parse(line, &mut r);
        r.timestamp
    }

    #[test]
    fn leading_level_words() {
        let cases: &[(&str, Option<Severity>)] = &[
            ("WARNING: deprecated setting", Some(Severity::WARN)),
            ("ERROR something broke", Some(Severity::ERROR)),
            ("[ERROR] something broke", Some(Severity::ERROR)),
            ("[INFO ]: Running SATOSA", Some(Severity::INFO)),
            ("error: could not open file", Some(Severity::ERROR)),
            ("  warn: indented", Some(Severity::WARN)),
            ("CRITICAL:root:disk full", Some(Severity::ERROR2)),
            (
                "DEBUG:urllib3.connectionpool:Starting new HTTPS connection",
                Some(Severity::DEBUG),
            ),
            ("level=error msg=\"boom\"", Some(Severity::ERROR)),
            (
                "time=\"2026-11-25T18:35:12Z\" level=warning msg=\"slow\"",
                Some(Severity::WARN),
            ),
            ("ts=1700000000 lvl=\"info\" msg=ok", Some(Severity::INFO)),
            ("FATAL", Some(Severity::FATAL)),
            ("Hello world", None),
            ("Errors were found in 3 files", None),
            ("E1125 18:35:12.000000 1 main.go:1] glog", None),
            ("Warnings: none", None),
            ("an error happened", None),
            ("ERROR-ish but not a word", None),
            ("x level=error", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(sev(line), *want, "{line}");
        }
    }

    #[test]
    fn timestamp_then_level() {
        let line = "2026-11-25 18:35:12,345 ERROR django.request boom";
        assert_eq!(sev(line), Some(Severity::ERROR));
        let t = ts(line).unwrap();
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2026, 11, 25, 18, 35, 12)
        );
        assert_eq!((t.nanos, t.offset), (345_000_000, Offset::Local));

        let line = "2026-11-25T18:35:12Z WARN slow request";
        assert_eq!(sev(line), Some(Severity::WARN));
        assert_eq!(ts(line).unwrap().offset, Offset::Utc);

        let line = "2026-11-25T18:35:12.123456+01:00 INFO started";
        let t = ts(line).unwrap();
        assert_eq!(
            (t.nanos, t.frac_digits, t.offset),
            (123_456_000, 6, Offset::Minutes(60))
        );

        let line = "[2026-11-25 18:35:12 +0000] [7] [INFO] Starting gunicorn 21.2.0";
        assert_eq!(sev(line), Some(Severity::INFO));
        assert_eq!(ts(line).unwrap().offset, Offset::Minutes(0));

        let line = "2026-11-25 18:35:12,345 - myapp.views - ERROR - payment failed";
        assert_eq!(sev(line), Some(Severity::ERROR));
        assert!(ts(line).is_some());

        let line = "[2026-11-25 18:35:12,345: WARNING/MainProcess] Task retry";
        assert_eq!(sev(line), Some(Severity::WARN));
        assert!(ts(line).is_some());

        let line = "[2026-11-25 18:35:12,345] ERROR in app: Exception on / [GET]";
        assert_eq!(sev(line), Some(Severity::ERROR));

        let line = "2026/11/25 18:35:12 [error] 7#7: *1 connect() failed";
        assert_eq!(sev(line), Some(Severity::ERROR));
    }

    #[test]
    fn no_level_means_no_timestamp_either() {
        for line in [
            "2026-11-25 18:35:12 no error found",
            "2026-11-25 18:35:12,345 Starting server",
            "2026-13-25 18:35:12 ERROR bad month",
            "[2026-11-25 18:35:12 ERROR unclosed",
        ] {
            let mut r = Record::default();
            assert!(parse(line, &mut r));
            assert_eq!(r.severity, None, "{line}");
            assert_eq!(r.timestamp, None, "{line}");
        }
    }

    const SAMPLES: &[&str] = &[
        "[2026-11-25 18:35:12 +0000] [7] [INFO] Starting gunicorn 21.2.0",
        "2026-11-25 18:35:12,345 - myapp.views - ERROR - payment failed",
        "[2026-11-25 18:35:12,345: WARNING/MainProcess] Task retry",
        "2026-11-25T18:35:12.123456+01:00 INFO started",
        "time=\"2026-11-25T18:35:12Z\" level=warning msg=\"slow\"",
    ];

    use crate::testing::{edits, for_every_cut, mutate};

    #[test]
    fn every_prefix_of_the_samples() {
        for_every_cut(SAMPLES, |line| {
            assert!(parse(line, &mut Record::default()));
        });
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            prop_assert!(parse(&String::from_utf8_lossy(&bytes), &mut Record::default()));
        }

        #[test]
        fn never_panics_on_mutated_lines(
            which in 0..SAMPLES.len(),
            edits in edits(),
        ) {
            prop_assert!(parse(&mutate(SAMPLES[which], &edits), &mut Record::default()));
        }
    }
}
