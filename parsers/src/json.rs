//! Lines that are already one JSON object (structured app logs: structlog,
//! python-json-logger, logrus, zap, pino, bunyan, OpenTelemetry).
//!
//! Each top-level key goes into `Record::extra` with its value's raw JSON
//! text, borrowed from the line, so nothing is re-encoded on the way out.
//! Common level and time keys also give the record its severity and time;
//! they stay in `extra` as well.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::field::Value;
use crate::json_keys;
use crate::record::{Format, Record};
use crate::severity::Severity;
use crate::time::{self, Timestamp};

/// Keys whose string value is a level word, in order of preference.
const LEVEL_KEYS: &[&str] = &[
    "level",
    "severity",
    "levelname",
    "lvl",
    "severity_text",
    "log.level",
];

/// Keys holding the event's time, in order of preference.
const TIME_KEYS: &[&str] = &["timestamp", "time", "ts", "@timestamp"];

/// The last second `Timestamp` can write (9999-12-31T23:59:59Z).
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// Takes the well-known keys into the envelope and merges the others into
/// `rec.extra` as raw JSON values (see [`crate::json_keys`]).
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    let text = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    if !(text.starts_with('{') && text.ends_with('}')) {
        return false;
    }
    let Some(mut entries) = object(text) else {
        return false;
    };
    if crate::ijson::check(text).is_err() {
        // Valid JSON, but not safe to copy: the line stays whole in `message`.
        crate::text::parse(line, rec);
        rec.flag_parse_error();
        return true;
    }
    rec.format = Format::Json;
    let mut used = json_keys::envelope(&entries, rec);
    if let Some((severity, word, keys)) = severity(&entries) {
        rec.severity = Some(severity);
        rec.severity_text = Some(word);
        used.extend(keys);
    }
    if let Some((key, ts)) = TIME_KEYS
        .iter()
        .find_map(|k| lookup(&entries, k).and_then(timestamp).map(|t| (*k, t)))
    {
        rec.timestamp = Some(ts);
        used.push(key);
    }
    entries.retain(|(k, _)| !used.contains(&k.as_ref()));
    rec.extra.extend(
        json_keys::place_all(entries)
            .into_iter()
            .map(|(k, v)| (k, Value::RawJson(Cow::Borrowed(v.get())))),
    );
    true
}

/// The object's members, sorted by key, the last of duplicate keys kept
/// (as `JSON.parse` does). Keys borrow from the line unless escaped.
pub fn object(text: &str) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    match serde_json::from_str::<BTreeMap<&str, &RawValue>>(text) {
        Ok(map) => Some(
            map.into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), v))
                .collect(),
        ),
        // A key with an escape cannot be borrowed: decode the keys then.
        Err(e) if e.is_data() => serde_json::from_str::<BTreeMap<String, &RawValue>>(text)
            .ok()
            .map(|map| map.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect()),
        Err(_) => None,
    }
}

/// The value of `key` in sorted `entries`.
pub(crate) fn lookup<'a>(
    entries: &[(Cow<'_, str>, &'a RawValue)],
    key: &str,
) -> Option<&'a RawValue> {
    entries
        .binary_search_by(|(k, _)| k.as_ref().cmp(key))
        .ok()
        .and_then(|i| entries.get(i))
        .map(|(_, v)| *v)
}

/// OTel's `severity_number` first (it is the finer), then a level word, or
/// pino/bunyan's numeric `level` (10 trace … 60 fatal); with the source's
/// word for it and the keys it came from.
fn severity<'a>(
    entries: &[(Cow<'_, str>, &'a RawValue)],
) -> Option<(Severity, Cow<'a, str>, Vec<&'static str>)> {
    if let Some(n) = lookup(entries, "severity_number").and_then(|v| integer(v.get())) {
        if (1..=24).contains(&n) {
            let s = Severity::from_number(n as u8);
            return Some(match lookup(entries, "severity_text").and_then(string) {
                Some(word) => (s, word, vec!["severity_number", "severity_text"]),
                None => (s, Cow::Borrowed(s.text()), vec!["severity_number"]),
            });
        }
    }
    for key in LEVEL_KEYS {
        let Some(raw) = lookup(entries, key) else {
            continue;
        };
        if let Some(word) = string(raw) {
            if let Some(s) = Severity::from_level_word(word.trim().as_bytes()) {
                return Some((s, word, vec![*key]));
            }
        } else if *key == "level" {
            if let Some((s, word)) = integer(raw.get()).and_then(pino_level) {
                return Some((s, Cow::Borrowed(word), vec![*key]));
            }
        }
    }
    None
}

/// A pino/bunyan level number, with pino's label for it.
fn pino_level(n: u64) -> Option<(Severity, &'static str)> {
    Some(match n {
        10 => (Severity::TRACE, "trace"),
        20 => (Severity::DEBUG, "debug"),
        30 => (Severity::INFO, "info"),
        40 => (Severity::WARN, "warn"),
        50 => (Severity::ERROR, "error"),
        60 => (Severity::FATAL, "fatal"),
        _ => return None,
    })
}

/// A JSON string's contents, borrowed when it has no escapes.
pub fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(s).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// An unsigned JSON integer (no fraction, no exponent).
fn integer(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// An RFC 3339 string, Python logging's `asctime` (`2024-05-01
/// 12:34:56,123`, local time), or a Unix time in seconds (with or without a
/// fraction), milliseconds, microseconds or nanoseconds, told apart by size.
fn timestamp(raw: &RawValue) -> Option<Timestamp> {
    if let Some(s) = string(raw) {
        if let Some((ts, n)) = time::parse_rfc3339(s.as_bytes()) {
            return (n == s.len()).then_some(ts);
        }
        return asctime(s.as_bytes());
    }
    unix_time(raw.get())
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `,mmm` or `.mmm`.
fn asctime(b: &[u8]) -> Option<Timestamp> {
    let ts = time::parse_ymd_hms(b, b'-', b' ')?;
    match b.get(19..) {
        Some([]) => Some(ts),
        Some([b',' | b'.', frac @ ..]) if frac.len() <= 9 => ts.with_fraction(frac),
        _ => None,
    }
}

fn unix_time(s: &str) -> Option<Timestamp> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let i = integer(int)?;
    // Fraction digits beyond nanoseconds are dropped.
    let frac = frac.get(..frac.len().min(9)).unwrap_or("");
    let scaled = |width: u32| -> u64 {
        let digits = frac.get(..frac.len().min(width as usize)).unwrap_or("");
        integer(digits).map_or(0, |v| v * 10u64.pow(width - digits.len() as u32))
    };
    let digits_for = |len: usize| -> u8 {
        match len {
            0 => 0,
            1..=3 => 3,
            4..=6 => 6,
            _ => 9,
        }
    };
    let (secs, nanos, digits) = if i < 100_000_000_000 {
        (i, scaled(9), digits_for(frac.len()))
    } else if i < 100_000_000_000_000 {
        let extra = if frac.is_empty() { 3 } else { 6 };
        (i / 1000, (i % 1000) * 1_000_000 + scaled(6), extra)
    } else if i < 100_000_000_000_000_000 {
        (i / 1_000_000, (i % 1_000_000) * 1000 + scaled(3), 6)
    } else {
        (i / 1_000_000_000, i % 1_000_000_000, 9)
    };
    if secs > MAX_UNIX_SECS {
        return None;
    }
    Some(Timestamp::from_unix(
        secs as i64,
        nanos.min(999_999_999) as u32,
        digits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;
    use crate::time::Offset;
    use proptest::prelude::*;

    fn ok(line: &str) -> Record<'_> {
        let mut r = Record::default();
        assert!(parse(line, &mut r), "rejected: {line}");
        assert_eq!(r.format, Format::Json);
        r
    }

    fn keys<'r>(r: &'r Record<'_>) -> Vec<&'r str> {
        r.extra.iter().map(|(k, _)| k.as_ref()).collect()
    }

    fn raw<'r>(r: &'r Record<'_>, key: &str) -> Option<&'r str> {
        r.extra
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                Value::RawJson(s) => Some(s.as_ref()),
                _ => None,
            })
    }

    #[test]
    fn keys_are_sorted_and_values_raw() {
        let line = r#"  {"msg": "user logged in", "user": {"id": 7, "roles": ["a","b"]}, "level": "info", "n": 1.5e3, "ok": true, "none": null}  "#;
        let r = ok(line);
        assert_eq!(keys(&r), ["n", "none", "ok", "user.id", "user.roles"]);
        assert_eq!(r.message.as_deref(), Some("user logged in"));
        assert_eq!(r.severity_text.as_deref(), Some("info"));
        assert_eq!(raw(&r, "user.roles"), Some(r#"["a","b"]"#));
        assert_eq!(raw(&r, "n"), Some("1.5e3"));
        assert_eq!(raw(&r, "ok"), Some("true"));
        assert_eq!(raw(&r, "none"), Some("null"));
        assert_eq!(r.severity, Some(Severity::INFO));
        assert!(r
            .extra
            .iter()
            .all(|(_, v)| matches!(v, Value::RawJson(Cow::Borrowed(_)))));
        assert!(r.fields.is_empty());
    }

    #[test]
    fn well_known_keys_go_into_the_envelope() {
        let r = ok(
            r#"{"event":"login","level":"warning","logger":"api","timestamp":"2024-05-01T12:00:00Z","otelTraceID":"4BF92F3577B34DA6A3CE929D0E0E4736","otelSpanID":"00f067aa0ba902b7","user_id":5}"#,
        );
        assert_eq!(r.message.as_deref(), Some("login"));
        assert_eq!(r.severity, Some(Severity::WARN));
        assert_eq!(r.severity_text.as_deref(), Some("warning"));
        assert_eq!(r.timestamp.unwrap().to_rfc3339(0), "2024-05-01T12:00:00Z");
        assert_eq!(r.get(Field::LogLogger), Some(&Value::str("api")));
        assert_eq!(
            r.get(Field::TraceId),
            Some(&Value::str("4bf92f3577b34da6a3ce929d0e0e4736"))
        );
        assert_eq!(r.get(Field::SpanId), Some(&Value::str("00f067aa0ba902b7")));
        assert_eq!(keys(&r), ["user_id"]);
        // `message` wins over `msg`, which then stays the app's own key.
        let r = ok(r#"{"message":"a","msg":"b","level":30,"name":"shop"}"#);
        assert_eq!(r.message.as_deref(), Some("a"));
        assert_eq!(r.severity_text.as_deref(), Some("info"));
        assert_eq!(r.get(Field::LogLogger), Some(&Value::str("shop")));
        assert_eq!(keys(&r), ["msg"]);
        // Ids that are not W3C ids stay the app's.
        let r = ok(r#"{"trace_id":"abc","span_id":"0000000000000000"}"#);
        assert_eq!(r.get(Field::TraceId), None);
        assert_eq!(keys(&r), ["span_id", "trace_id"]);
    }

    #[test]
    fn a_python_traceback_string_gives_the_exception() {
        let r = ok(
            r#"{"msg":"x","exc_info":"Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nKeyError: 'missing'"}"#,
        );
        assert_eq!(r.get(Field::ExceptionType), Some(&Value::str("KeyError")));
        assert_eq!(
            r.get(Field::ExceptionMessage),
            Some(&Value::str("'missing'"))
        );
        let stack = r.get(Field::ExceptionStacktrace).and_then(|v| v.as_str());
        assert!(stack.is_some_and(|s| s.ends_with("KeyError: 'missing'")));
        assert!(r.extra.is_empty());
    }

    fn kept_as_text(line: &str) -> Record<'_> {
        let mut r = Record::default();
        assert!(parse(line, &mut r), "rejected: {line}");
        assert_eq!(r.format, Format::Text, "{line}");
        assert_eq!(
            r.get(Field::LogmuxParseError),
            Some(&Value::Bool(true)),
            "{line}"
        );
        r
    }

    #[test]
    fn lines_that_are_not_i_json_stay_text() {
        let at_limit = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(crate::ijson::MAX_DEPTH - 1),
            "]".repeat(crate::ijson::MAX_DEPTH - 1)
        );
        assert_eq!(keys(&ok(&at_limit)), ["a"]);
        let over = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(crate::ijson::MAX_DEPTH),
            "]".repeat(crate::ijson::MAX_DEPTH)
        );
        kept_as_text(&over);
        kept_as_text(r#"{"n":1e999999}"#);
        kept_as_text(r#"{"n":1.5e-400}"#);
        kept_as_text(r#"{"a":{"b":1,"b":2}}"#);
        let r = kept_as_text(r#"{"level":"error","s":"\ud800"}"#);
        assert_eq!(r.severity, None);
    }

    #[test]
    fn keys_giving_schema_fields_another_type_move_under_app() {
        let cases: &[(&str, &[&str])] = &[
            (
                r#"{"service":{"name":["x"]},"m":1}"#,
                &["app.service.name", "m"],
            ),
            (r#"{"service.name":5,"m":1}"#, &["app.service.name", "m"]),
            (
                r#"{"service.name.x":"y","m":1}"#,
                &["app.service.name.x", "m"],
            ),
            (
                r#"{"http":{"response":{"status_code":"200"}},"m":1}"#,
                &["app.http.response.status_code", "m"],
            ),
            (r#"{"process":{"pid":1.5}}"#, &["app.process.pid"]),
            (
                r#"{"http":200,"client":"10.0.0.1"}"#,
                &["app.client", "app.http"],
            ),
            (
                r#"{"timestamp":"yesterday","logmux":1}"#,
                &["app.logmux", "app.timestamp"],
            ),
            (r#"{"app":"shop","http":{}}"#, &["app.app", "app.http"]),
            (r#"{"app":{"v":1},"url":"/x"}"#, &["app.url", "app.v"]),
        ];
        for (line, want) in cases {
            let r = ok(line);
            assert_eq!(keys(&r), *want, "{line}");
            assert_eq!(r.get(Field::LogmuxParseError), None, "{line}");
        }
        let cases: &[(&str, &[&str])] = &[
            (r#"{"service":"api"}"#, &["app.service"]),
            (
                r#"{"service":{"name":"x","version":2}}"#,
                &["service.name", "service.version"],
            ),
            (
                r#"{"http":{"route":"/","response":{"status_code":200}}}"#,
                &["http.response.status_code", "http.route"],
            ),
            (
                r#"{"service.name":"x","process.pid":7,"user":{"id":1}}"#,
                &["process.pid", "service.name", "user.id"],
            ),
        ];
        for (line, want) in cases {
            assert_eq!(keys(&ok(line)), *want, "{line}");
        }
    }

    #[test]
    fn a_key_merged_twice_is_written_once() {
        let r = ok(r#"{"user":{"id":1},"user.id":2}"#);
        assert_eq!(keys(&r), ["user.id"]);
    }

    #[test]
    fn duplicate_keys_keep_the_last() {
        let r = ok(r#"{"a":1,"b":2,"a":3}"#);
        assert_eq!(keys(&r), ["a", "b"]);
        assert_eq!(raw(&r, "a"), Some("3"));
    }

    #[test]
    fn escaped_keys_are_decoded() {
        let r = ok(r#"{"caf\u00e9":1,"a\"b":"x","plain":2}"#);
        assert_eq!(keys(&r), ["a\"b", "café", "plain"]);
        assert_eq!(raw(&r, "café"), Some("1"));
    }

    #[test]
    fn severities() {
        let words: &[(&str, &str)] = &[
            (r#"{"levelname":"WARNING"}"#, "WARNING"),
            (r#"{"level":"crit"}"#, "crit"),
            (r#"{"level":60}"#, "fatal"),
            (r#"{"severity_number":10}"#, "INFO"),
            (
                r#"{"severity_number":10,"severity_text":"notice"}"#,
                "notice",
            ),
        ];
        for (line, want) in words {
            let r = ok(line);
            assert_eq!(r.severity_text.as_deref(), Some(*want), "{line}");
            assert!(r.extra.is_empty(), "{line}");
        }
        let cases: &[(&str, Option<Severity>)] = &[
            (r#"{"level":"error"}"#, Some(Severity::ERROR)),
            (r#"{"severity":"WARNING"}"#, Some(Severity::WARN)),
            (r#"{"levelname":"CRITICAL"}"#, Some(Severity::ERROR2)),
            (r#"{"lvl":"dbg"}"#, Some(Severity::DEBUG)),
            (r#"{"severity_text":"FATAL"}"#, Some(Severity::FATAL)),
            (
                r#"{"severity_text":"INFO","severity_number":10}"#,
                Some(Severity::INFO2),
            ),
            (r#"{"severity_number":17}"#, Some(Severity::ERROR)),
            (r#"{"severity_number":99}"#, None),
            (r#"{"log.level":"warn"}"#, Some(Severity::WARN)),
            (r#"{"level":50,"msg":"pino"}"#, Some(Severity::ERROR)),
            (r#"{"level":30}"#, Some(Severity::INFO)),
            (r#"{"level":3}"#, None),
            (r#"{"level":"\u0065rror"}"#, Some(Severity::ERROR)),
            (r#"{"level":"loud"}"#, None),
            (
                r#"{"level":"nope","severity":"warning"}"#,
                Some(Severity::WARN),
            ),
            (r#"{"msg":"no level"}"#, None),
        ];
        for (line, want) in cases {
            assert_eq!(ok(line).severity, *want, "{line}");
        }
    }

    #[test]
    fn timestamps() {
        let t = ok(r#"{"time":"2024-05-01T12:34:56.123Z","msg":"x"}"#)
            .timestamp
            .unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-05-01T12:34:56.123Z");
        let t = ok(r#"{"@timestamp":"2024-05-01T12:34:56+02:00"}"#)
            .timestamp
            .unwrap();
        assert_eq!(t.offset, Offset::Minutes(120));
        let t = ok(r#"{"ts":1709633732}"#).timestamp.unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32Z");
        let t = ok(r#"{"ts":1709633732.1234567}"#).timestamp.unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32.123456700Z");
        let t = ok(r#"{"time":1709633732123}"#).timestamp.unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32.123Z");
        let t = ok(r#"{"timestamp":1709633732123456}"#).timestamp.unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32.123456Z");
        let t = ok(r#"{"timestamp":1709633732123456789}"#)
            .timestamp
            .unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32.123456789Z");
        // `timestamp` wins over `time`.
        let t = ok(r#"{"time":"2024-05-01T00:00:00Z","timestamp":"2025-05-01T00:00:00Z"}"#)
            .timestamp
            .unwrap();
        assert_eq!(t.year, 2025);
        let t = ok(r#"{"timestamp":"2024-05-01 12:34:56,123"}"#)
            .timestamp
            .unwrap();
        assert_eq!(
            (t.offset, t.nanos, t.second),
            (Offset::Local, 123_000_000, 56)
        );
        for line in [
            r#"{"time":"2024-05-01 12:34:56,"}"#,
            r#"{"time":"2024-05-01 12:34:56 x"}"#,
            r#"{"time":"yesterday"}"#,
            r#"{"time":"2024-05-01T12:34:56Z trailing"}"#,
            r#"{"time":-5}"#,
            r#"{"time":1e9}"#,
            r#"{"time":true}"#,
            r#"{"time":99999999999999999999}"#,
        ] {
            assert_eq!(ok(line).timestamp, None, "{line}");
        }
    }

    #[test]
    fn rejects_non_objects() {
        for line in [
            "",
            "{",
            "{}x",
            "[1,2]",
            "\"str\"",
            "42",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} {\"b\":2}",
            "{not json}",
            "{\"a\":\"\\x\"}",
        ] {
            let mut r = Record::default();
            assert!(!parse(line, &mut r), "accepted: {line}");
            assert!(r.extra.is_empty());
            assert_eq!(r.format, Format::Text);
        }
        let r = ok("{}");
        assert!(r.extra.is_empty());
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // serde_json skips a raw value without recursing, and the I-JSON
        // check is iterative: the line is kept as text, flagged.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let r = kept_as_text(&deep);
        assert!(r.extra.is_empty());
        let unbalanced = format!("{{\"a\":{}}}", "[".repeat(100_000));
        assert!(!parse(&unbalanced, &mut Record::default()));
    }

    const SAMPLES: &[&str] = &[
        r#"{"time":"2024-05-01T12:34:56.123Z","level":"info","msg":"hello","n":[1,2,{"x":null}]}"#,
        r#"{"ts":1709633732.123,"level":50,"caf\u00e9":"\"q\""}"#,
        r#"{"severity_number":17,"severity_text":"ERROR","timestamp":1709633732123}"#,
    ];

    use crate::testing::{edits, for_every_cut, mutate};

    #[test]
    fn every_prefix_of_the_samples() {
        for_every_cut(SAMPLES, |line| {
            let _ = parse(line, &mut Record::default());
        });
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            let _ = parse(&String::from_utf8_lossy(&bytes), &mut Record::default());
        }

        #[test]
        fn never_panics_on_mutated_lines(
            which in 0..SAMPLES.len(),
            edits in edits(),
        ) {
            let _ = parse(&mutate(SAMPLES[which], &edits), &mut Record::default());
        }

        #[test]
        fn any_unix_number_is_safe(n in any::<u64>(), frac in "[0-9]{0,20}") {
            let s = if frac.is_empty() { n.to_string() } else { format!("{n}.{frac}") };
            let _ = unix_time(&s);
        }
    }
}
