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
//! none. The [`Pipeline`](crate::pipeline::Pipeline) applies it to every
//! line and message, for `filter`, `listen` and `run` alike.

use std::borrow::Cow;

use logmux_parsers::json::string;
use logmux_parsers::time::parse_rfc3339;
use logmux_parsers::{Field, Format, Record, Severity, Value};
use serde_json::value::RawValue;

use crate::pipeline::Origin;

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
    if !may_be_event(text) {
        return None;
    }
    let mut leaves = Vec::with_capacity(24);
    if !flatten("", trim(text), 0, &mut leaves) {
        return None;
    }
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
            _ => match Field::from_name(&name) {
                Some(field) => rec.push(field, value(raw)),
                None => rec.extra.push((name, value(raw))),
            },
        }
    }
    rec.severity = match (severity_number, severity_text) {
        (Some(n), _) if (1..=24).contains(&n) => Some(Severity::from_number(n)),
        (_, Some(t)) => Severity::from_level_word(t.as_bytes()),
        _ => None,
    };
    Some(Parsed { message, observed })
}

/// Adds the envelope of where the event was read, as the module docs say.
pub fn add_envelope<'a>(origin: &'a Origin, rec: &mut Record<'a>) {
    let mut replace = |field: Field, value: Option<&'a str>| {
        if let Some(v) = value {
            rec.remove(field);
            rec.push_str(field, v);
        }
    };
    if origin.container_name.is_some() || origin.container_id.is_some() {
        replace(Field::ContainerName, origin.container_name.as_deref());
        replace(Field::ContainerId, origin.container_id.as_deref());
    }
    replace(Field::HostName, origin.host_name.as_deref());
    if let Some(s) = &origin.syslog {
        replace(Field::SyslogFacility, Some(s.facility));
        replace(Field::SyslogProcid, s.procid.as_deref());
        replace(Field::SyslogMsgid, s.msgid.as_deref());
    }
    let mut unless_set = |field: Field, value: Option<&'a str>| {
        if let Some(v) = value {
            if rec.get(field).is_none() {
                rec.push_str(field, v);
            }
        }
    };
    unless_set(Field::ServiceName, origin.service.as_deref());
    unless_set(Field::LogIostream, origin.iostream.map(|s| s.name()));
    unless_set(Field::LogFilePath, origin.file.as_deref());
    if let Some(pid) = origin.pid {
        if rec.get(Field::ProcessPid).is_none() {
            rec.push_int(Field::ProcessPid, i64::from(pid));
        }
    }
}

/// Appends the leaves of the JSON object `text` to `out`, their names
/// joined with dots under `prefix`. False if `text` is not an object.
fn flatten<'a>(prefix: &str, text: &'a str, depth: usize, out: &mut Vec<Leaf<'a>>) -> bool {
    let Some(members) = logmux_parsers::json::object(text) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Encoder;
    use crate::pipeline::{IoStream, Pipeline, Settings, Stamp, StreamState, SyslogOrigin};

    fn pipeline() -> Pipeline {
        Pipeline::new(Settings {
            forced: None,
            nginx_format: None,
            encoder: Encoder::json(),
        })
    }

    fn origin() -> Origin {
        Origin {
            service: Some("nginx:1.25/web-1".into()),
            iostream: Some(IoStream::Stdout),
            container_name: Some("web-1".into()),
            host_name: Some("dockerhost".into()),
            syslog: Some(SyslogOrigin {
                facility: "daemon",
                procid: Some("812".into()),
                msgid: Some("nginx:1.25/web-1".into()),
            }),
            ..Origin::default()
        }
    }

    /// The event `body` becomes through the pipeline, if it is merged.
    fn merged(body: &str) -> Option<serde_json::Value> {
        let mut rec = Record::default();
        if parse(body, &mut rec).is_none() {
            assert!(rec.fields.is_empty() && rec.extra.is_empty() && rec.timestamp.is_none());
            return None;
        }
        let mut out = Vec::new();
        let mut p = pipeline();
        let mut stream = StreamState::new(origin());
        p.line(&mut stream, body.as_bytes(), false, &Stamp::now(), &mut out);
        assert_eq!(p.stats.merged, 1);
        assert_eq!(p.stats.events, 1);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        Some(serde_json::from_slice(&out).unwrap())
    }

    const RUN_EVENT: &str = r#"{"timestamp":"2026-11-25T19:39:25+00:00","observed_timestamp":"2026-11-25T19:39:25.381685361Z","severity_text":"ERROR","severity_number":17,"message":"127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] \"GET /boom/ HTTP/1.1\" 500 145 \"-\" \"curl/7.88.1\"","client":{"address":"127.0.0.1"},"http":{"request":{"method":"GET"},"response":{"body":{"size":145},"status_code":500}},"log":{"iostream":"stderr"},"logmux":{"format":"nginx.access"},"process":{"pid":31},"service":{"name":"nginx"},"url":{"original":"/boom/","path":"/boom/"}}"#;

    #[test]
    fn a_logmux_run_event_keeps_its_fields_and_gains_the_envelope() {
        let v = merged(RUN_EVENT).unwrap();
        let inner: serde_json::Value = serde_json::from_str(RUN_EVENT).unwrap();
        for key in [
            "timestamp",
            "observed_timestamp",
            "severity_text",
            "severity_number",
            "message",
            "client",
            "http",
            "process",
            "url",
        ] {
            assert_eq!(v[key], inner[key], "{key}");
        }
        assert_eq!(v["service"]["name"], "nginx");
        assert_eq!(v["log"]["iostream"], "stderr");
        assert_eq!(v["logmux"]["format"], "nginx.access");
        assert_eq!(v["container"]["name"], "web-1");
        assert_eq!(v["host"]["name"], "dockerhost");
        assert_eq!(v["syslog"]["facility"], "daemon");
        assert_eq!(v["syslog"]["procid"], "812");
        assert_eq!(v["syslog"]["msgid"], "nginx:1.25/web-1");
    }

    #[test]
    fn logmux_own_events_keep_their_details() {
        let body = r#"{"timestamp":"2026-11-25T19:39:25.1Z","observed_timestamp":"2026-11-25T19:39:25.1Z","severity_text":"INFO","severity_number":9,"message":"uwsgi: exited with 0","service":{"name":"logmux"},"logmux":{"format":"text","program":"uwsgi","exit_code":0,"ran_ms":15.5}}"#;
        let v = merged(body).unwrap();
        assert_eq!(v["service"]["name"], "logmux");
        assert_eq!(v["logmux"]["program"], "uwsgi");
        assert_eq!(v["logmux"]["exit_code"], 0);
        assert_eq!(v["logmux"]["ran_ms"], 15.5);
        assert_eq!(v["logmux"]["format"], "text");
        assert_eq!(v["message"], "uwsgi: exited with 0");
        // No stream inside: the envelope's.
        assert_eq!(v["log"]["iostream"], "stdout");
    }

    #[test]
    fn dotted_keys_work_too() {
        let body = r#"{"timestamp":"2026-11-25T19:39:25Z","observed_timestamp":"2026-11-25T19:39:25Z","severity_text":"WARN","severity_number":13,"message":"Not Found: /x","logmux.format":"django","service.name":"django","url.path":"/x"}"#;
        let v = merged(body).unwrap();
        assert_eq!(v["severity_text"], "WARN");
        assert_eq!(v["service"]["name"], "django");
        assert_eq!(v["url"]["path"], "/x");
        assert_eq!(v["logmux"]["format"], "django");
    }

    #[test]
    fn other_bodies_are_left_alone() {
        for body in [
            "plain text",
            r#"{"level":"info","msg":"app json"}"#,
            // Looks like ours but lacks logmux.format.
            r#"{"timestamp":"2026-11-25T19:39:25Z","severity_text":"INFO","message":"x"}"#,
            // Not a string message.
            r#"{"timestamp":"t","severity_text":"INFO","message":5,"logmux":{"format":"text"}}"#,
            r#"{"timestamp":"t","severity_text":"INFO","message":"x","logmux":{"format":"text"}"#,
        ] {
            assert!(merged(body).is_none(), "{body}");
        }
    }

    #[test]
    fn a_held_traceback_comes_out_first_and_cut_lines_are_not_merged() {
        let mut out = Vec::new();
        let mut p = pipeline();
        let mut stream = StreamState::new(origin());
        let stamp = Stamp::now();
        for line in [
            "Traceback (most recent call last):",
            "  File \"x.py\", line 1, in <module>",
            "ZeroDivisionError: division by zero",
        ] {
            p.line(&mut stream, line.as_bytes(), false, &stamp, &mut out);
        }
        assert!(out.is_empty(), "the traceback is held");
        p.line(&mut stream, RUN_EVENT.as_bytes(), false, &stamp, &mut out);
        // A piece cut at the length limit is not an event of its own.
        p.line(&mut stream, RUN_EVENT.as_bytes(), true, &stamp, &mut out);
        let events: Vec<serde_json::Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0]["logmux"]["format"], "python.traceback");
        assert_eq!(events[1]["logmux"]["format"], "nginx.access");
        assert_eq!(events[1]["http"]["response"]["status_code"], 500);
        assert_eq!(events[2]["logmux"]["format"], "json");
        assert_eq!(events[2]["logmux"]["truncated"], true);
        assert_eq!(p.stats.merged, 1);
    }

    #[test]
    fn escapes_survive() {
        let body = r#"{"timestamp":"2026-11-25T19:39:25Z","severity_text":"INFO","message":"tab\there \"q\" \u00e9","logmux":{"format":"text"},"caf\u00e9":{"x":"\n"}}"#;
        let v = merged(body).unwrap();
        assert_eq!(v["message"], "tab\there \"q\" é");
        assert_eq!(v["café"]["x"], "\n");
    }
}
