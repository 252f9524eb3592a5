//! Encoding events for output: JSON (the default), logfmt, or a coloured
//! one-line-per-event view for people; for a syslog sink, a syslog message
//! around the line or the JSON event (see [`syslog`]).
//!
//! An encoder appends one complete event, ending in `\n` (or one framed
//! syslog message), to a byte buffer. Sinks write whole buffers, so an event
//! is never split across writes and two events never share a line.

mod cursor;
mod field_order;
mod float_text;
mod json;
mod logfmt;
pub mod otlp;
mod pretty;
pub use pretty::show_times_in_utc;
pub mod syslog;
mod zone;

use std::sync::Arc;

use logmux_parsers::{Field, Record, Timestamp, Value};

pub use field_order::FieldOrders;
pub use json::escape_json_str;
pub use zone::LocalZone;

use crate::event::Origin;

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One JSON object per line.
    Json,
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// A readable, coloured view: time, program, severity, then the gist.
    Pretty,
}

/// How schema names are written as JSON keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStyle {
    /// `{"http":{"response":{"status_code":200}}}`: what jq, Loki and
    /// Elasticsearch expect.
    #[default]
    Nested,
    /// `{"http.response.status_code":200}`.
    Dotted,
}

/// One event ready to encode.
pub struct Event<'r, 'a> {
    /// The parsed record; its fields must be sorted (see [`sort_fields`]).
    pub record: &'r Record<'a>,
    /// The line as read (or the assembled multi-line text).
    pub raw: &'r str,
    /// When the line was read, already in RFC 3339.
    pub observed: &'r [u8],
    /// The same, as seconds and nanoseconds since the Unix epoch.
    pub observed_unix: (i64, u32),
    /// Where the line came from: program, stream, pid.
    pub origin: &'r Origin,
}

/// The encoder settings.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub format: OutputFormat,
    pub keys: KeyStyle,
    pub color: bool,
    /// The zone of times printed without one, resolved per date.
    pub zone: LocalZone,
    /// Wrap each event in a syslog message (the JSON event in `format`
    /// when the syslog body is the JSON event).
    pub syslog: Option<Arc<syslog::Syslog>>,
    /// Encode OTLP frames instead of lines (an `otlp` sink).
    pub otlp: Option<Arc<otlp::Otlp>>,
    /// Static fields every event gets (`[resource]`, `--resource`); the
    /// pipeline adds them to the record, the OTLP encoder puts them in
    /// the resource.
    pub resource: Option<Arc<[(String, String)]>>,
}

impl Encoder {
    /// JSON with nested keys, no colour, times without a zone read as UTC:
    /// the plain setting tests, benchmarks and fuzz targets start from.
    pub const fn json() -> Encoder {
        Encoder {
            format: OutputFormat::Json,
            keys: KeyStyle::Nested,
            color: false,
            zone: LocalZone::Fixed(0),
            syslog: None,
            otlp: None,
            resource: None,
        }
    }

    /// Appends one event and its `\n` (or one framed syslog message) to `out`.
    pub fn encode(&self, event: &Event<'_, '_>, out: &mut Vec<u8>) {
        if let Some(s) = &self.syslog {
            return s.encode(self, event, out);
        }
        if let Some(o) = &self.otlp {
            let statics = self.resource.as_deref().unwrap_or(&[]);
            return o.encode(event, statics, self.zone, out);
        }
        self.encode_line(event, out);
    }

    /// Appends one event and its `\n` in `format`.
    fn encode_line(&self, event: &Event<'_, '_>, out: &mut Vec<u8>) {
        match self.format {
            OutputFormat::Json => json::encode(self, event, out),
            OutputFormat::Logfmt => logfmt::encode(self, event, out),
            OutputFormat::Pretty => pretty::encode(self, event, out),
        }
    }

    /// The event's `timestamp`: its own time, else when it was read.
    fn write_timestamp(&self, event: &Event<'_, '_>, out: &mut Vec<u8>) {
        match &event.record.timestamp {
            Some(ts) => {
                let local = match ts.offset {
                    logmux_parsers::Offset::Local => self.zone.minutes_at(ts),
                    _ => 0,
                };
                write_rfc3339_again(ts, local, out);
            }
            None => out.extend_from_slice(event.observed),
        }
    }
}

/// A time as RFC 3339 text, kept for the next event.
type LastTime = Option<(Timestamp, i16, [u8; 35], u8)>;

thread_local! {
    /// The last event time this thread wrote: lines in the same second
    /// (nginx's `$time_local`) repeat it, and copying it is cheaper than
    /// writing it anew. Per thread, so encoders stay `Sync`.
    static LAST_TIME: std::cell::Cell<LastTime> = const { std::cell::Cell::new(None) };
}

/// [`Timestamp::write_rfc3339`], copied from the last time written when
/// it is the same.
fn write_rfc3339_again(ts: &Timestamp, local: i16, out: &mut Vec<u8>) {
    let last = LAST_TIME.with(std::cell::Cell::get);
    if let Some((t, l, text, n)) = last {
        if t == *ts && l == local {
            out.extend_from_slice(text.get(..usize::from(n)).unwrap_or_default());
            return;
        }
    }
    let mut text = [0u8; 35];
    let n = ts.format_rfc3339(&mut text, local);
    out.extend_from_slice(text.get(..n).unwrap_or_default());
    LAST_TIME.with(|c| c.set(Some((*ts, local, text, n as u8))));
}

/// Adds the static fields (`[resource]`) to a record as its own keys,
/// unless the line has a key of that name already.
pub fn add_static_fields(record: &mut Record<'_>, fields: &[(String, String)]) {
    for (k, v) in fields {
        if !record.extra.iter().any(|(own, _)| own == k) {
            record.extra.push((
                std::borrow::Cow::Owned(k.clone()),
                Value::Str(std::borrow::Cow::Owned(v.clone())),
            ));
        }
    }
}

/// Puts a record's fields in schema order, which nested output relies on,
/// and keeps one of each key. Parsers push fields mostly in order already,
/// so this is nearly free.
pub fn sort_fields(record: &mut Record<'_>) {
    sort_fields_with(record, None);
}

/// [`sort_fields`], replaying the sorts of the field sequences `orders`
/// has seen (a custom format's lines, whose fields come in its order).
pub fn sort_fields_with(record: &mut Record<'_>, orders: Option<&mut FieldOrders>) {
    let fields = record.fields.as_mut_slice();
    // Strictly increasing: sorted, and no key twice (one pass, the usual case).
    let mut repeats = !fields.windows(2).all(|w| w[0].0 < w[1].0);
    if repeats && !fields.windows(2).all(|w| w[0].0 <= w[1].0) {
        repeats = match orders {
            Some(orders) => orders.sort(fields),
            None => {
                fields.sort_by_key(|(f, _)| *f);
                true
            }
        };
    }
    sort_extra(record);
    if repeats {
        record.fields.dedup_by_key(|(f, _)| *f);
    }
}

/// Puts a record's merged keys in byte order, one of each.
pub fn sort_extra(record: &mut Record<'_>) {
    if record.extra.len() > 1 {
        record.extra.sort_by(|a, b| a.0.cmp(&b.0));
        // A key written twice is invalid I-JSON: the first pushed stays.
        record.extra.dedup_by(|later, first| later.0 == first.0);
    }
}

/// The message to write: a parser's own message, else the raw line.
fn message<'e>(event: &'e Event<'_, '_>) -> &'e str {
    event.record.message.as_deref().unwrap_or(event.raw)
}

/// Whether the raw line must be kept in `log.record.original` because the
/// parser replaced `message`.
fn keeps_original(event: &Event<'_, '_>) -> bool {
    event.record.message.is_some()
}

/// A field value as plain text (logfmt and pretty output).
fn value_text(value: &Value<'_>, out: &mut String) {
    use std::fmt::Write;
    match value {
        Value::Str(s) => out.push_str(s),
        // A JSON line's string value is the string it holds, not its JSON
        // text with quotes and escapes (`level=info`, not `level="\"info\""`);
        // numbers, objects and arrays stay JSON text.
        Value::RawJson(s) if s.starts_with('"') => match serde_json::from_str::<String>(s) {
            Ok(decoded) => out.push_str(&decoded),
            Err(_) => out.push_str(s),
        },
        Value::RawJson(s) => out.push_str(s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::FloatList(list) => {
            for (i, f) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{f}");
            }
        }
    }
}

/// The string value of a field, if present.
fn field_str<'r>(record: &'r Record<'_>, field: Field) -> Option<&'r str> {
    record.get(field).and_then(|v| v.as_str())
}

/// Whether the user asked for no colour: `NO_COLOR` set and not empty,
/// as no-color.org defines it.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Encodes a record the way the pipeline would, for tests.
    pub fn encode_with(encoder: Encoder, record: &mut Record<'_>, raw: &str) -> String {
        sort_fields(record);
        let mut out = Vec::new();
        let event = Event {
            record,
            raw,
            observed: b"2026-11-25T18:35:12.000000000Z",
            observed_unix: (1_795_631_712, 0),
            origin: &Origin::default(),
        };
        encoder.encode(&event, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use logmux_parsers::{Offset, Timestamp};

    use super::write_rfc3339_again;

    /// What the kept text must equal: the time written anew.
    fn fresh(ts: &Timestamp, local: i16) -> String {
        let mut out = Vec::new();
        ts.write_rfc3339(&mut out, local);
        String::from_utf8(out).unwrap_or_default()
    }

    fn again(ts: &Timestamp, local: i16) -> String {
        let mut out = b"before ".to_vec();
        write_rfc3339_again(ts, local, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn a_time_written_again_is_the_time_written_anew() {
        let ts = Timestamp {
            year: 2026,
            month: 11,
            day: 25,
            hour: 19,
            minute: 39,
            second: 4,
            nanos: 0,
            frac_digits: 0,
            offset: Offset::Local,
        };
        let later = Timestamp { second: 5, ..ts };
        let finer = Timestamp {
            nanos: 123_000_000,
            frac_digits: 3,
            ..ts
        };
        let utc = Timestamp {
            offset: Offset::Minutes(0),
            ..ts
        };
        // Each in turn, and each again right after itself: the kept text
        // is used only for the same time printed in the same zone.
        for (t, local) in [
            (ts, 60),
            (ts, 60),
            (ts, -90),
            (later, -90),
            (finer, -90),
            (utc, -90),
            (utc, 0),
            (ts, 60),
        ] {
            let want = format!("before {}", fresh(&t, local));
            assert_eq!(again(&t, local), want, "{t:?} at {local}");
        }
        assert_eq!(again(&ts, 60), "before 2026-11-25T19:39:04+01:00");
    }
}
