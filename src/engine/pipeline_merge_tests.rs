//! The merge rule through the whole pipeline: a line that already is a
//! logmux event keeps its fields and gains the envelope.

use logmux_parsers::logmux_event::parse;
use logmux_parsers::Record;

use super::{Pipeline, Settings, StreamState};
use crate::event::{IoStream, Origin, Stamp, SyslogOrigin};
use crate::output::Encoder;

fn pipeline() -> Pipeline {
    Pipeline::new(Settings {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
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
            priority: 30,
            appname: Some("nginx:1.25/web-1".into()),
            hostname: Some("dockerhost".into()),
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
    assert_eq!(v["log"]["syslog"]["facility"]["name"], "daemon");
    assert_eq!(v["log"]["syslog"]["procid"], "812");
    assert_eq!(v["log"]["syslog"]["msgid"], "nginx:1.25/web-1");
    assert_eq!(v["log"]["syslog"]["priority"], 30);
    assert_eq!(v["log"]["syslog"]["appname"], "nginx:1.25/web-1");
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
