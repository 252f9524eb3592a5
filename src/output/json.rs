//! JSON output, written by hand because it is the hot path: about a third of
//! the time per line. Keys are written nested (`{"http":{"response":…}}`) in
//! one pass over the sorted fields, or flat and dotted.

use logmux_parsers::{Field, Value};
use smallvec::SmallVec;

use super::{keeps_original, message, Encoder, Event, KeyStyle};

/// Top-level keys the envelope always writes; a JSON line's own keys with
/// these names are not merged (the raw line in `message` still has them).
const ENVELOPE_KEYS: [&str; 5] = [
    "timestamp",
    "observed_timestamp",
    "severity_text",
    "severity_number",
    "message",
];

pub(super) fn encode(enc: &Encoder, event: &Event<'_, '_>, out: &mut Vec<u8>) {
    let record = event.record;
    let severity = record.severity.unwrap_or_default();
    out.extend_from_slice(b"{\"timestamp\":\"");
    enc.write_timestamp(event, out);
    out.extend_from_slice(b"\",\"observed_timestamp\":\"");
    out.extend_from_slice(event.observed);
    out.extend_from_slice(b"\",\"severity_text\":\"");
    out.extend_from_slice(severity.text().as_bytes());
    out.extend_from_slice(b"\",\"severity_number\":");
    out.extend_from_slice(itoa::Buffer::new().format(severity.number()).as_bytes());
    out.extend_from_slice(b",\"message\":");
    escape_json_str(out, message(event));

    let mut writer = KeyWriter {
        out,
        open: SmallVec::new(),
        nested: enc.keys == KeyStyle::Nested,
    };
    let original = keeps_original(event).then(|| Value::str(event.raw));
    let invalid = record.invalid_utf8.then_some(Value::Bool(true));
    let format = Value::str(record.format.name());
    // The fields the engine derives are merged in order with the sorted
    // record fields, so the record itself need not be touched.
    let mut derived: SmallVec<[(Field, &Value<'_>); 3]> = SmallVec::new();
    if let Some(v) = &original {
        derived.push((Field::LogRecordOriginal, v));
    }
    derived.push((Field::LogmuxFormat, &format));
    if let Some(v) = &invalid {
        derived.push((Field::LogmuxInvalidUtf8, v));
    }
    let mut derived = derived.into_iter().peekable();
    let mut extra = record
        .extra
        .iter()
        .filter(|(k, _)| !collides(k, record))
        .peekable();

    for (field, value) in record.fields.iter() {
        while let Some((f, v)) = derived.next_if(|(f, _)| f < field) {
            writer.static_field(f, v);
        }
        while let Some((k, v)) = extra.next_if(|(k, _)| k.as_ref() < field.name()) {
            writer.dynamic_field(k, v);
        }
        writer.static_field(*field, value);
    }
    loop {
        let next_derived = derived.peek().map(|(f, _)| f.name());
        let next_extra = extra.peek().map(|(k, _)| k.as_ref());
        match (next_derived, next_extra) {
            (Some(d), Some(e)) if d <= e => {
                if let Some((f, v)) = derived.next() {
                    writer.static_field(f, v);
                }
            }
            (Some(_), None) => {
                if let Some((f, v)) = derived.next() {
                    writer.static_field(f, v);
                }
            }
            (_, Some(_)) => {
                if let Some((k, v)) = extra.next() {
                    writer.dynamic_field(k, v);
                }
            }
            (None, None) => break,
        }
    }
    writer.close_all();
    out.extend_from_slice(b"}\n");
}

/// Whether a merged key would clash with a key logmux writes itself. A
/// plain key (`"service"`, `"log"`) would replace one of logmux's objects;
/// a dotted key (`"service.version"`, from a merged logmux event) nests
/// beside logmux's own fields unless it names one of them, or a parent or
/// child of one.
fn collides(key: &str, record: &logmux_parsers::Record<'_>) -> bool {
    let top = key.split('.').next().unwrap_or(key);
    if ENVELOPE_KEYS.contains(&top) {
        return true;
    }
    if top.len() == key.len() {
        return ["log", "logmux"].contains(&top)
            || record
                .fields
                .iter()
                .any(|(f, _)| f.path().first() == Some(&top));
    }
    DERIVED.iter().any(|d| nests(key, d)) || record.fields.iter().any(|(f, _)| nests(key, f.name()))
}

/// Fields the encoder derives from the record rather than its field list.
const DERIVED: [&str; 3] = [
    "log.record.original",
    "logmux.format",
    "logmux.invalid_utf8",
];

/// Whether two dotted names are the same, or one is a parent of the other.
fn nests(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short) && matches!(long.as_bytes().get(short.len()), None | Some(b'.'))
}

/// Writes `"key":value` pairs, opening and closing nested objects as the
/// dotted prefixes change. Relies on keys arriving in byte order.
struct KeyWriter<'o, 'k> {
    out: &'o mut Vec<u8>,
    open: SmallVec<[&'k str; 6]>,
    nested: bool,
}

impl<'k> KeyWriter<'_, 'k> {
    fn static_field(&mut self, field: Field, value: &Value<'_>) {
        if self.nested {
            self.path(field.path(), value, false);
        } else {
            self.out.push(b',');
            write_plain_key(self.out, field.name());
            write_value(self.out, value);
        }
    }

    fn dynamic_field(&mut self, key: &'k str, value: &Value<'_>) {
        if self.nested {
            let segments: SmallVec<[&'k str; 8]> = key.split('.').collect();
            self.path(&segments, value, true);
        } else {
            self.out.push(b',');
            escape_json_str(self.out, key);
            self.out.push(b':');
            write_value(self.out, value);
        }
    }

    fn path(&mut self, segments: &[&'k str], value: &Value<'_>, escape: bool) {
        let Some((leaf, parents)) = segments.split_last() else {
            return;
        };
        let common = self
            .open
            .iter()
            .zip(parents)
            .take_while(|(a, b)| same(a, b))
            .count();
        while self.open.len() > common {
            self.open.pop();
            self.out.push(b'}');
        }
        for seg in &parents[common..] {
            self.key(seg, escape);
            // The NUL marks "no key yet" so the first key takes no comma.
            self.out.extend_from_slice(b"{\x00");
            self.open.push(seg);
        }
        self.key(leaf, escape);
        write_value(self.out, value);
    }

    fn key(&mut self, key: &str, escape: bool) {
        // A NUL placeholder marks "first key of an object": replace it
        // rather than tracking a flag per depth.
        if self.out.last() == Some(&0) {
            self.out.pop();
        } else {
            self.out.push(b',');
        }
        if escape {
            escape_json_str(self.out, key);
            self.out.push(b':');
        } else {
            write_plain_key(self.out, key);
        }
    }

    fn close_all(&mut self) {
        while self.open.pop().is_some() {
            self.out.push(b'}');
        }
    }
}

/// Segment equality; the schema's own segments are usually the same
/// literal, so the pointer check answers first.
#[inline]
fn same(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// `"key":` for a schema name, which never needs escaping.
#[inline]
fn write_plain_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Str(s) => escape_json_str(out, s),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Float(f) => write_float(out, *f),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::RawJson(raw) => out.extend_from_slice(raw.as_bytes()),
        Value::FloatList(list) => {
            out.push(b'[');
            for (i, f) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_float(out, *f);
            }
            out.push(b']');
        }
    }
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `s` as a quoted JSON string.
///
/// This is the hottest loop of the program, so bytes are checked eight at a
/// time (SWAR): a word's mask marks its bytes that are control characters,
/// `"` or `\`, and the lowest mark is exact, so the loop jumps straight to
/// the next byte to escape.
pub fn escape_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if bytes.len() < 8 {
        // Short values (methods, versions, addresses): no words to skip.
        if bytes.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\') {
            out.extend_from_slice(bytes);
        } else {
            for &b in bytes {
                if b < 0x20 || b == b'"' || b == b'\\' {
                    write_escape(out, b);
                } else {
                    out.push(b);
                }
            }
        }
        out.push(b'"');
        return;
    }
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (word, n) = match bytes.get(i..i + 8) {
            Some(chunk) => (u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])), 8),
            None => {
                // The tail, padded with a plain byte.
                let mut word = [b'a'; 8];
                let n = bytes.len() - i;
                for (dst, src) in word.iter_mut().zip(&bytes[i..]) {
                    *dst = *src;
                }
                (u64::from_le_bytes(word), n)
            }
        };
        let mask = escape_mask(word);
        if mask == 0 {
            i += n;
            continue;
        }
        let at = i + (mask.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[start..at]);
        write_escape(out, bytes[at]);
        start = at + 1;
        i = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The high bit of each byte of `w` that is below 0x20, `"` or `\\`. The
/// lowest set bit is always exact (borrows only run upwards).
#[inline(always)]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

fn write_escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use logmux_parsers::{Format, Record, Severity, Timestamp};

    use super::super::test_support::encode_with;
    use super::*;

    fn parse(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("invalid JSON {e}: {s}"))
    }

    #[test]
    fn nests_dotted_names() {
        let mut r = Record {
            format: Format::NginxAccess,
            severity: Some(Severity::WARN),
            ..Default::default()
        };
        r.push_int(Field::HttpResponseStatusCode, 404);
        r.push_str(Field::HttpRequestMethod, "GET");
        r.push_str(Field::ServiceName, "nginx");
        r.push_str(Field::ClientAddress, "::1");
        r.push(Field::HttpServerRequestDuration, Value::Float(0.035));
        let out = encode_with(Encoder::json(), &mut r, "raw \"line\"");
        assert!(out.ends_with("}\n") && out.matches('\n').count() == 1);
        let v = parse(&out);
        assert_eq!(v["http"]["response"]["status_code"], 404);
        assert_eq!(v["http"]["request"]["method"], "GET");
        assert_eq!(v["http"]["server"]["request"]["duration"], 0.035);
        assert_eq!(v["client"]["address"], "::1");
        assert_eq!(v["service"]["name"], "nginx");
        assert_eq!(v["logmux"]["format"], "nginx.access");
        assert_eq!(v["message"], "raw \"line\"");
        assert_eq!(v["severity_text"], "WARN");
        assert_eq!(v["severity_number"], 13);
        assert_eq!(v["timestamp"], "2026-11-25T18:35:12.000000000Z");
        assert_eq!(v["observed_timestamp"], "2026-11-25T18:35:12.000000000Z");
    }

    #[test]
    fn dotted_keys_are_flat() {
        let mut r = Record::default();
        r.push_int(Field::HttpResponseStatusCode, 200);
        let enc = Encoder {
            keys: KeyStyle::Dotted,
            ..Encoder::json()
        };
        let v = parse(&encode_with(enc, &mut r, "x"));
        assert_eq!(v["http.response.status_code"], 200);
        assert_eq!(v["logmux.format"], "text");
    }

    #[test]
    fn replaced_message_keeps_the_original() {
        let mut r = Record {
            message: Some(Cow::Borrowed("short")),
            ..Default::default()
        };
        r.timestamp = Timestamp::new(2026, 11, 25, 18, 35, 12, logmux_parsers::Offset::Local);
        let v = parse(&encode_with(
            Encoder::json(),
            &mut r,
            "2026/11/25 18:35:12 [error] short, client: x",
        ));
        assert_eq!(v["message"], "short");
        assert_eq!(
            v["log"]["record"]["original"],
            "2026/11/25 18:35:12 [error] short, client: x"
        );
        assert_eq!(v["timestamp"], "2026-11-25T18:35:12+00:00");
    }

    #[test]
    fn merges_extra_keys_in_order_and_skips_clashes() {
        let mut r = Record {
            format: Format::Json,
            invalid_utf8: true,
            ..Default::default()
        };
        r.push_str(Field::ServiceName, "app");
        r.extra.push((
            Cow::Borrowed("zeta"),
            Value::RawJson(Cow::Borrowed("[1,2]")),
        ));
        r.extra.push((
            Cow::Borrowed("message"),
            Value::RawJson(Cow::Borrowed("\"no\"")),
        ));
        r.extra.push((
            Cow::Borrowed("service"),
            Value::RawJson(Cow::Borrowed("\"api\"")),
        ));
        r.extra.push((
            Cow::Borrowed("alpha"),
            Value::RawJson(Cow::Borrowed("{\"a\":1}")),
        ));
        r.extra
            .push((Cow::Borrowed("nginx.custom"), Value::str("v")));
        let out = encode_with(Encoder::json(), &mut r, "{}");
        let v = parse(&out);
        assert_eq!(v["zeta"], serde_json::json!([1, 2]));
        assert_eq!(v["alpha"]["a"], 1);
        assert_eq!(v["nginx"]["custom"], "v");
        assert_eq!(v["message"], "{}");
        assert_eq!(v["service"]["name"], "app");
        assert_eq!(v["logmux"]["invalid_utf8"], true);
        assert_eq!(out.matches("\"service\"").count(), 1);
    }

    #[test]
    fn dotted_extra_keys_nest_beside_schema_fields() {
        let mut r = Record::default();
        r.push_str(Field::ServiceName, "app");
        for (k, v) in [
            ("service.version", "1.2"),
            ("logmux.program", "uwsgi"),
            // These name logmux's own fields or their parents: not merged.
            ("service.name", "other"),
            ("logmux.format", "x"),
            ("log.record", "y"),
            ("timestamp.x", "z"),
        ] {
            r.extra.push((Cow::Borrowed(k), Value::str(v)));
        }
        let out = encode_with(Encoder::json(), &mut r, "m");
        let v = parse(&out);
        assert_eq!(
            v["service"],
            serde_json::json!({"name": "app", "version": "1.2"})
        );
        assert_eq!(
            v["logmux"],
            serde_json::json!({"format": "text", "program": "uwsgi"})
        );
        assert!(v.get("log").is_none(), "{out}");
        assert!(v["timestamp"].is_string());
        assert_eq!(out.matches("\"service\"").count(), 1);
        assert_eq!(out.matches("\"logmux\"").count(), 1);
    }

    #[test]
    fn escapes_controls_and_keeps_unicode() {
        let mut out = Vec::new();
        escape_json_str(&mut out, "a\"b\\c\n\t\u{1}é\u{FFFD}");
        assert_eq!(String::from_utf8_lossy(&out), r#""a\"b\\c\n\t\u0001é�""#);
    }

    #[test]
    fn escaping_agrees_with_serde_json_at_every_position() {
        // Specials at every offset within and across 8-byte words, and
        // bytes >= 0x80 next to them (the SWAR mask must not misfire).
        let specials = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "\u{7f}", " ", "€"];
        for len in 0..20 {
            for pos in 0..len {
                for sp in specials {
                    let mut s = "x".repeat(pos);
                    s.push_str(sp);
                    s.push_str(&"y".repeat(len - pos));
                    let mut out = Vec::new();
                    escape_json_str(&mut out, &s);
                    let back: String =
                        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {s:?}"));
                    assert_eq!(back, s);
                }
            }
        }
    }

    #[test]
    fn floats_lists_and_non_finite() {
        let mut r = Record::default();
        r.push(
            Field::NginxUpstreamResponseTime,
            Value::FloatList(vec![0.004, 0.01, 0.002]),
        );
        r.push(Field::HttpServerRequestDuration, Value::Float(f64::NAN));
        let v = parse(&encode_with(Encoder::json(), &mut r, "x"));
        assert_eq!(
            v["nginx"]["upstream_response_time"],
            serde_json::json!([0.004, 0.01, 0.002])
        );
        assert!(v["http"]["server"]["request"]["duration"].is_null());
    }
}
