//! The well-known keys of common JSON loggers, and where an application's
//! other keys go.
//!
//! Python's logging (python-json-logger), structlog, Go's slog, zap and
//! logrus, Node's pino and bunyan and Rust's tracing each name the message,
//! level, time, logger and trace context their own way. [`envelope`] takes
//! the first of each that it understands into the record (`message`,
//! `severity_*`, `timestamp`, `log.logger`, `trace_id`, `span_id`,
//! `exception.*`); the key is then consumed, the raw line keeping it in
//! `log.record.original`. [`place`] puts every other key where it cannot give
//! one of logmux's own fields another type: keys outside the schema's
//! namespaces stay as they are; an object under a schema namespace (`http`,
//! `service`, `log`) is merged member by member beside logmux's own fields;
//! anything else there (`"http":200`, `"service.name":5`, `"timestamp"` that
//! is not a time) moves under `app.`, the application's own namespace.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::field::{Field, Value};
use crate::json::{object, string};
use crate::record::Record;

/// One member of the line's object: its key and raw JSON value.
pub type Entry<'a> = (Cow<'a, str>, &'a RawValue);

/// Where keys that would clash with logmux's own fields go.
pub const APP_NAMESPACE: &str = "app";

/// Keys holding the event's message, in order of preference
/// (python-json-logger; slog, zap, logrus, pino, bunyan; structlog).
pub const MESSAGE_KEYS: &[&str] = &["message", "msg", "event"];

/// Keys holding the logger's name (structlog and log4j; logstash; Python's
/// `%(name)s` and bunyan; ECS; Rust's tracing).
pub const LOGGER_KEYS: &[&str] = &["logger", "logger_name", "name", "log.logger", "target"];

/// Keys holding a W3C trace id (OTel; camel case; the OTel logging
/// instrumentations for Python and Java; ECS).
pub const TRACE_ID_KEYS: &[&str] = &["trace_id", "traceId", "otelTraceID", "trace.id"];

/// Keys holding a W3C span id, as for [`TRACE_ID_KEYS`].
pub const SPAN_ID_KEYS: &[&str] = &["span_id", "spanId", "otelSpanID", "span.id"];

/// Keys holding a formatted stack trace (python-json-logger; structlog's
/// `format_exc_info`; logstash; ECS; zap).
pub const STACK_KEYS: &[&str] = &[
    "exc_info",
    "exception",
    "stack_trace",
    "error.stack_trace",
    "stacktrace",
];

/// Keys holding an error: a string is its message (zap's and logrus's
/// `error`, slog's `err`); an object with `message`, `name` and `stack`
/// is bunyan's serialised `err` (and Node's `Error` in general).
pub const ERROR_KEYS: &[&str] = &["error", "err"];

/// Top-level keys logmux writes itself that are not schema fields.
const ENVELOPE_KEYS: &[&str] = &[
    "timestamp",
    "observed_timestamp",
    "severity_text",
    "severity_number",
    "message",
    "logmux",
    APP_NAMESPACE,
];

/// Takes the message, logger, trace context and stack trace into `rec`;
/// returns the keys it consumed. Level and time are [`crate::json`]'s.
pub fn envelope<'a>(entries: &[Entry<'a>], rec: &mut Record<'a>) -> Vec<&'static str> {
    let mut used = Vec::new();
    if let Some((key, msg)) = first(entries, MESSAGE_KEYS, string) {
        rec.message = Some(msg);
        used.push(key);
    } else if let Some(msg) = tracing_message(entries) {
        // The object stays as it is, its other members with it.
        rec.message = Some(msg);
    }
    if let Some((key, name)) = first(entries, LOGGER_KEYS, string) {
        rec.push(Field::LogLogger, Value::Str(name));
        used.push(key);
    }
    if let Some((key, id)) = first(entries, TRACE_ID_KEYS, |raw| hex_id(raw, 32)) {
        rec.push(Field::TraceId, Value::Str(id));
        used.push(key);
    }
    if let Some((key, id)) = first(entries, SPAN_ID_KEYS, |raw| hex_id(raw, 16)) {
        rec.push(Field::SpanId, Value::Str(id));
        used.push(key);
    }
    if let Some((key, stack)) = first(entries, STACK_KEYS, string) {
        exception(stack, rec);
        used.push(key);
    }
    if let Some((key, message)) = first(entries, ERROR_KEYS, string) {
        if rec.get(Field::ExceptionMessage).is_none() {
            rec.push(Field::ExceptionMessage, Value::Str(message));
            used.push(key);
        }
    } else if let Some((key, raw)) = first(entries, ERROR_KEYS, Some) {
        if error_object(raw, rec).is_some() {
            used.push(key);
        }
    }
    process(entries, rec, &mut used);
    used
}

/// Rust's tracing-subscriber JSON puts the message in `fields.message`.
fn tracing_message<'a>(entries: &[Entry<'a>]) -> Option<Cow<'a, str>> {
    let fields = members(crate::json::lookup(entries, "fields")?)?;
    crate::json::lookup(&fields, "message").and_then(string)
}

/// bunyan's (and pino's) `pid` and `hostname` as `process.pid` and
/// `host.name`; bunyan's format version `v` beside them is consumed too.
fn process<'a>(entries: &[Entry<'a>], rec: &mut Record<'a>, used: &mut Vec<&'static str>) {
    let pid = crate::json::lookup(entries, "pid").and_then(|raw| raw.get().parse::<i64>().ok());
    if let Some(pid) = pid.filter(|p| *p > 0) {
        rec.push(Field::ProcessPid, Value::Int(pid));
        used.push("pid");
    }
    if let Some(host) = crate::json::lookup(entries, "hostname").and_then(string) {
        rec.push(Field::HostName, Value::Str(host));
        used.push("hostname");
        if crate::json::lookup(entries, "v").is_some_and(|v| v.get() == "0") {
            used.push("v");
        }
    }
}

/// A serialised error object (`{"message":…,"name":…,"stack":…}`, as
/// bunyan's `err` serializer writes a Node `Error`) as `exception.*`;
/// `None`, with nothing added, for any other value.
fn error_object<'a>(raw: &'a RawValue, rec: &mut Record<'a>) -> Option<()> {
    let members = members(raw)?;
    let field = |key: &str| crate::json::lookup(&members, key).and_then(string);
    let message = field("message")?;
    if rec.get(Field::ExceptionMessage).is_some() {
        return None;
    }
    if let Some(name) = field("name").or_else(|| field("type")) {
        rec.push(Field::ExceptionType, Value::Str(name));
    }
    rec.push(Field::ExceptionMessage, Value::Str(message));
    if let Some(stack) = field("stack") {
        if rec.get(Field::ExceptionStacktrace).is_none() {
            rec.push(Field::ExceptionStacktrace, Value::Str(stack));
        }
    }
    Some(())
}

/// The first of `keys` present whose value `take` accepts.
fn first<'a, T>(
    entries: &[Entry<'a>],
    keys: &[&'static str],
    take: impl Fn(&'a RawValue) -> Option<T>,
) -> Option<(&'static str, T)> {
    keys.iter().find_map(|key| {
        let raw = crate::json::lookup(entries, key)?;
        take(raw).map(|v| (*key, v))
    })
}

/// A W3C id: `len` hex digits, not all zero (the invalid id), lower-cased
/// as OTel writes it.
fn hex_id(raw: &RawValue, len: usize) -> Option<Cow<'_, str>> {
    let s = string(raw)?;
    let valid =
        s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0');
    if !valid {
        return None;
    }
    Some(if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        s
    })
}

/// A stack trace as the logger formatted it; a Python traceback's last
/// line also gives the exception's type and message.
fn exception<'a>(stack: Cow<'a, str>, rec: &mut Record<'a>) {
    if stack.starts_with("Traceback (most recent call last):") {
        let last = stack.lines().rev().find(|l| !l.trim().is_empty());
        if let Some((ty, msg)) = last.and_then(|l| l.split_once(": ")) {
            let is_type = !ty.is_empty()
                && ty
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            if is_type {
                let (ty, msg) = (ty.to_owned(), msg.to_owned());
                rec.push(Field::ExceptionType, Value::Str(Cow::Owned(ty)));
                rec.push(Field::ExceptionMessage, Value::Str(Cow::Owned(msg)));
            }
        }
    }
    rec.push(Field::ExceptionStacktrace, Value::Str(stack));
}

/// Places the line's other keys (see the module doc), sorted by key, each
/// key once.
pub fn place_all<'a>(entries: Vec<Entry<'a>>) -> Vec<Entry<'a>> {
    let mut out = Vec::with_capacity(entries.len());
    for (key, raw) in entries {
        place(key, raw, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|later, earlier| later.0 == earlier.0);
    out
}

fn place<'a>(key: Cow<'a, str>, raw: &'a RawValue, out: &mut Vec<Entry<'a>>) {
    let top = key.split('.').next().unwrap_or("");
    if top == APP_NAMESPACE && key.len() == top.len() {
        return app_object(raw, out);
    }
    if ENVELOPE_KEYS.contains(&top) && top != APP_NAMESPACE {
        return out.push((moved(&key), raw));
    }
    if !crate::field::ALL
        .iter()
        .any(|f| f.path().first() == Some(&top))
    {
        return out.push((key, raw));
    }
    match Field::at_or_above(&key) {
        Some(f) if f.name().len() == key.len() && f.fits_raw(raw.get()) => out.push((key, raw)),
        Some(_) => out.push((moved(&key), raw)),
        None if is_parent(&key) => match members(raw) {
            Some(members) => {
                for (k, v) in members {
                    place(Cow::Owned(format!("{key}.{k}")), v, out);
                }
            }
            None => out.push((moved(&key), raw)),
        },
        None => out.push((key, raw)),
    }
}

/// The application's own `app` key: an object's members are merged into
/// `app.*`; any other value becomes `app.app`.
fn app_object<'a>(raw: &'a RawValue, out: &mut Vec<Entry<'a>>) {
    match members(raw) {
        Some(members) => out.extend(
            members
                .into_iter()
                .map(|(k, v)| (Cow::Owned(format!("{APP_NAMESPACE}.{k}")), v)),
        ),
        None => out.push((moved(APP_NAMESPACE), raw)),
    }
}

/// A non-empty object's members.
fn members(raw: &RawValue) -> Option<Vec<Entry<'_>>> {
    let text = raw.get();
    if !text.starts_with('{') {
        return None;
    }
    object(text).filter(|m| !m.is_empty())
}

fn moved(key: &str) -> Cow<'static, str> {
    Cow::Owned(format!("{APP_NAMESPACE}.{key}"))
}

/// Whether `key` is a dotted parent of a schema field (`http.response`).
fn is_parent(key: &str) -> bool {
    crate::field::ALL.iter().any(|f| {
        f.name()
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}
