//! Lines that are already logmux events. A container running `logmux run`
//! writes JSON events; read back (`docker logs web | logmux filter`, or
//! through Docker's syslog driver into `logmux listen`), encoding such a line
//! again, as a `json` event whose message is the whole line, would bury every
//! field one level down and lose its time, program and severity. Instead the
//! event is taken as it is, and the envelope of where it was read is added.
//!
//! The rule: a line is a logmux event when it is one JSON object with a
//! string `timestamp`, `severity_text` and `message`, and a string
//! `logmux.format` (nested `{"logmux":{"format":…}}` or dotted). Its fields
//! are kept as they are, `observed_timestamp` and `service.name` (the
//! program inside the container) included. From the envelope come
//! `container.name` / `container.id` (the wrapper names the container, and
//! wins over any inside), `host.name` and `syslog.*`; `service.name`,
//! `log.iostream`, `process.pid` and `log.file.path` only when the event has
//! none (that envelope rule is the engine's, in `logmux::event`). The
//! engine's pipeline applies it to every line and message, for `filter`,
//! `listen` and `run` alike. This module only recognises such lines.

use std::borrow::Cow;

use crate::json::string;
use crate::time::parse_rfc3339;
use crate::{Field, Format, Record, Severity, Value};
use serde_json::value::RawValue;

/// Nested objects deeper than this are kept whole, as raw JSON.
const MAX_DEPTH: usize = 8;

/// One leaf of the event: its dotted name and raw JSON value.
type Leaf<'a> = (Cow<'a, str>, &'a RawValue);

/// What a logmux event holds besides its record's fields.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// Its `message`, unescaped.
    pub message: Cow<'a, str>,
    /// Its `observed_timestamp` as written, when it is RFC 3339.
    pub observed: Option<&'a str>,
}

/// A cheap first test: most lines are not JSON, and most JSON is not ours.
pub fn may_be_event(text: &str) -> bool {
    let text = trim(text);
    text.starts_with('{')
        && text.ends_with('}')
        && memchr::memmem::find(text.as_bytes(), b"\"severity_text\"").is_some()
}

fn trim(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// If `text` is a logmux event, fills `rec` with its fields (time,
/// severity, format and the rest) and returns its message; otherwise
/// returns `None` and leaves `rec` untouched.
pub fn parse<'a>(text: &'a str, rec: &mut Record<'a>) -> Option<Parsed<'a>> {
    if !may_be_event(text) || crate::ijson::check(trim(text)).is_err() {
        // Not I-JSON: the JSON parser keeps it as flagged text.
        return None;
    }
    let mut leaves = Vec::with_capacity(24);
    if !flatten("", trim(text), 0, &mut leaves) {
        return None;
    }
    last_of_each(&mut leaves);
    let is_string = |name: &str| {
        leaves
            .iter()
            .any(|(k, v): &Leaf<'_>| k == name && v.get().starts_with('"'))
    };
    if !["timestamp", "severity_text", "message", "logmux.format"]
        .iter()
        .all(|k| is_string(k))
    {
        return None;
    }

    let mut message = Cow::Borrowed("");
    let mut observed = None;
    let mut severity_text = None;
    let mut severity_number = None;
    for (name, raw) in leaves {
        match name.as_ref() {
            "timestamp" => {
                rec.timestamp = string(raw).and_then(|s| match parse_rfc3339(s.as_bytes()) {
                    Some((ts, n)) if n == s.len() => Some(ts),
                    _ => None,
                });
            }
            "observed_timestamp" => {
                // Kept as written: an RFC 3339 string needs no unescaping.
                observed = match string(raw) {
                    Some(Cow::Borrowed(s)) => parse_rfc3339(s.as_bytes())
                        .filter(|(_, n)| *n == s.len())
                        .map(|_| s),
                    _ => None,
                };
            }
            "severity_text" => severity_text = string(raw),
            "severity_number" => severity_number = raw.get().parse::<u8>().ok(),
            "message" => message = string(raw).unwrap_or_default(),
            "logmux.format" => {
                rec.format = string(raw)
                    .and_then(|s| Format::from_name(&s))
                    .unwrap_or(Format::Json);
            }
            "logmux.invalid_utf8" => rec.invalid_utf8 |= raw.get() == "true",
            _ => match Field::at_or_above(&name) {
                Some(field) if field.name() == name && field.fits_raw(raw.get()) => {
                    rec.push(field, value(raw))
                }
                // A schema field of another type, or something inside one:
                // not kept as such (the line keeps it), and flagged.
                Some(_) => rec.flag_parse_error(),
                None => rec.extra.push((name, value(raw))),
            },
        }
    }
    rec.severity = match (severity_number, &severity_text) {
        (Some(n), _) if (1..=24).contains(&n) => Some(Severity::from_number(n)),
        (_, Some(t)) => Severity::from_level_word(t.as_bytes()),
        _ => None,
    };
    // The source's own word (`notice`) stays as the event wrote it.
    if let (Some(severity), Some(word)) = (rec.severity, severity_text) {
        if word != severity.text() {
            rec.severity_text = Some(word);
        }
    }
    Some(Parsed { message, observed })
}

/// Appends the leaves of the JSON object `text` to `out`, their names
/// joined with dots under `prefix`. False if `text` is not an object.
fn flatten<'a>(prefix: &str, text: &'a str, depth: usize, out: &mut Vec<Leaf<'a>>) -> bool {
    let Some(members) = crate::json::object(text) else {
        return false;
    };
    if members.is_empty() && !prefix.is_empty() {
        // An empty object is a value of its own.
        return false;
    }
    for (key, raw) in members {
        let name = if prefix.is_empty() {
            key
        } else {
            Cow::Owned(format!("{prefix}.{key}"))
        };
        let nested = raw.get().starts_with('{') && depth < MAX_DEPTH;
        if !(nested && flatten(&name, raw.get(), depth + 1, out)) {
            out.push((name, raw));
        }
    }
    true
}

/// `{"a":{"c":1},"a.c":2}` flattens to `a.c` twice: as `JSON.parse`
/// would with one key, the later one is kept, so no key is written twice.
fn last_of_each(leaves: &mut Vec<Leaf<'_>>) {
    let mut seen = std::collections::HashSet::with_capacity(leaves.len());
    let mut kept: Vec<Leaf<'_>> = leaves
        .drain(..)
        .rev()
        .filter(|(name, _)| seen.insert(name.clone()))
        .collect();
    kept.reverse();
    *leaves = kept;
}

/// A leaf as a typed value: strings, integers, floats and booleans as
/// themselves (so logfmt and pretty output show them plainly), anything
/// else as its raw JSON.
fn value(raw: &RawValue) -> Value<'_> {
    let s = raw.get();
    if let Some(text) = string(raw) {
        return Value::Str(text);
    }
    match s {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::Int(i);
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::RawJson(Cow::Borrowed(s))
}
