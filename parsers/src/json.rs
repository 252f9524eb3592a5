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

use crate::field::{Field, Value};
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

/// Merges a JSON object's keys into `rec.extra` as raw JSON values.
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
    let before = entries.len();
    entries.retain(|(k, v)| fits_schema(k, v));
    if entries.len() < before {
        rec.flag_parse_error();
    }
    if let Some(severity) = severity(&entries) {
        rec.severity = Some(severity);
    }
    if let Some(ts) = TIME_KEYS
        .iter()
        .find_map(|k| lookup(&entries, k).and_then(timestamp))
    {
        rec.timestamp = Some(ts);
    }
    rec.extra.extend(
        entries
            .into_iter()
            .map(|(k, v)| (k, Value::RawJson(Cow::Borrowed(v.get())))),
    );
    true
}

/// Whether a key may be merged without giving one of the schema's own
/// fields another type: `"service.name":["x"]`, `"service":{"name":1}` and
/// `"service.name.x":1` may not; `"service":"api"` (no `service.name` in
/// it) and `"http":{"route":"/"}` may.
fn fits_schema(key: &str, raw: &RawValue) -> bool {
    if let Some(field) = Field::at_or_above(key) {
        return field.name().len() == key.len() && field.fits_raw(raw.get());
    }
    let prefix_dot = |f: &&Field| {
        f.name()
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    crate::field::ALL
        .iter()
        .filter(prefix_dot)
        .all(|f| fits_below(raw, f.name().get(key.len() + 1..).unwrap_or(""), *f))
}

/// Whether the value at dotted `path` inside the JSON object `raw`, if
/// there is one, has `field`'s type. Each step parses one level (the schema
/// is at most four deep).
fn fits_below(raw: &RawValue, path: &str, field: Field) -> bool {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let Some(members) = raw
        .get()
        .starts_with('{')
        .then(|| object(raw.get()))
        .flatten()
    else {
        return true;
    };
    match lookup(&members, head) {
        None => true,
        Some(v) if rest.is_empty() => field.fits_raw(v.get()),
        Some(v) => fits_below(v, rest, field),
    }
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

fn lookup<'v>(entries: &'v [(Cow<'_, str>, &RawValue)], key: &str) -> Option<&'v RawValue> {
    entries
        .binary_search_by(|(k, _)| k.as_ref().cmp(key))
        .ok()
        .and_then(|i| entries.get(i))
        .map(|(_, v)| *v)
}

/// OTel's `severity_number` first (it is the finer), then a level word, or
/// pino/bunyan's numeric `level` (10 trace … 60 fatal).
fn severity(entries: &[(Cow<'_, str>, &RawValue)]) -> Option<Severity> {
    if let Some(n) = lookup(entries, "severity_number").and_then(|v| integer(v.get())) {
        if (1..=24).contains(&n) {
            return Some(Severity::from_number(n as u8));
        }
    }
    for key in LEVEL_KEYS {
        let Some(raw) = lookup(entries, key) else {
            continue;
        };
        if let Some(word) = string(raw) {
            if let Some(s) = Severity::from_level_word(word.trim().as_bytes()) {
                return Some(s);
            }
        } else if *key == "level" {
            if let Some(s) = integer(raw.get()).and_then(pino_level) {
                return Some(s);
            }
        }
    }
    None
}

fn pino_level(n: u64) -> Option<Severity> {
    Some(match n {
        10 => Severity::TRACE,
        20 => Severity::DEBUG,
        30 => Severity::INFO,
        40 => Severity::WARN,
        50 => Severity::ERROR,
        60 => Severity::FATAL,
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

/// An RFC 3339 string, or a Unix time in seconds (with or without a
/// fraction), milliseconds, microseconds or nanoseconds, told apart by size.
fn timestamp(raw: &RawValue) -> Option<Timestamp> {
    if let Some(s) = string(raw) {
        let (ts, n) = time::parse_rfc3339(s.as_bytes())?;
        return (n == s.len()).then_some(ts);
    }
    unix_time(raw.get())
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
        assert_eq!(keys(&r), ["level", "msg", "n", "none", "ok", "user"]);
        assert_eq!(raw(&r, "msg"), Some(r#""user logged in""#));
        assert_eq!(raw(&r, "user"), Some(r#"{"id": 7, "roles": ["a","b"]}"#));
        assert_eq!(raw(&r, "n"), Some("1.5e3"));
        assert_eq!(raw(&r, "ok"), Some("true"));
        assert_eq!(raw(&r, "none"), Some("null"));
        assert_eq!(r.severity, Some(Severity::INFO));
        assert!(r
            .extra
            .iter()
            .all(|(k, v)| matches!(k, Cow::Borrowed(_))
                && matches!(v, Value::RawJson(Cow::Borrowed(_)))));
        assert!(r.fields.is_empty());
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
    fn keys_giving_schema_fields_another_type_are_not_merged() {
        let cases: &[(&str, &[&str])] = &[
            (r#"{"service":{"name":["x"]},"m":1}"#, &["m"]),
            (r#"{"service.name":5,"m":1}"#, &["m"]),
            (r#"{"service.name.x":"y","m":1}"#, &["m"]),
            (
                r#"{"http":{"response":{"status_code":"200"}},"m":1}"#,
                &["m"],
            ),
            (r#"{"process":{"pid":1.5}}"#, &[]),
        ];
        for (line, want) in cases {
            let r = ok(line);
            assert_eq!(keys(&r), *want, "{line}");
            assert_eq!(r.get(Field::LogmuxParseError), Some(&Value::Bool(true)));
        }
        for line in [
            r#"{"service":"api"}"#,
            r#"{"service":{"name":"x","version":2}}"#,
            r#"{"http":{"route":"/","response":{"status_code":200}}}"#,
            r#"{"service.name":"x","process.pid":7,"user":{"id":1}}"#,
        ] {
            let r = ok(line);
            assert_eq!(r.get(Field::LogmuxParseError), None, "{line}");
            assert!(!r.extra.is_empty());
        }
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
        for line in [
            r#"{"time":"yesterday"}"#,
            r#"{"time":"2024-05-01T12:34:56Z trailing"}"#,
            r#"{"time":"2024-05-01 12:34:56"}"#,
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
