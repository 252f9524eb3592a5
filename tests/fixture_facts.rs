//! Facts about the real samples in `fixtures/`, checked independently of the
//! golden files: counts taken from the raw text, and the exact fields of the
//! edge cases formats.md names (garbage requests, HTTP/0.9, chained
//! tracebacks, supervisord splices, Docker's split lines).

mod common;

use std::path::Path;

use serde_json::Value;

fn sample(name: &str) -> (Vec<u8>, Vec<Value>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let raw = std::fs::read(&path).expect("read fixture");
    let events = common::filter_json(&[path.to_str().unwrap_or_default()], b"");
    (raw, events)
}

fn raw_lines(raw: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(raw)
        .lines()
        .map(str::to_string)
        .collect()
}

fn with_format<'e>(events: &'e [Value], format: &str) -> Vec<&'e Value> {
    events
        .iter()
        .filter(|e| e["logmux"]["format"] == format)
        .collect()
}

fn find<'e>(events: &'e [Value], needle: &str) -> &'e Value {
    events
        .iter()
        .find(|e| {
            let raw = e["log"]["record"]["original"]
                .as_str()
                .or(e["message"].as_str());
            raw.is_some_and(|m| m.contains(needle))
        })
        .unwrap_or_else(|| panic!("no event contains {needle:?}"))
}

#[test]
fn every_access_line_is_one_typed_event_with_its_status() {
    let (raw, events) = sample("nginx-access.log");
    let lines = raw_lines(&raw);
    assert_eq!(events.len(), lines.len());
    for (line, event) in lines.iter().zip(&events) {
        assert_eq!(event["logmux"]["format"], "nginx.access", "{line}");
        let status = common::access_status(line);
        assert_eq!(event["http"]["response"]["status_code"], status, "{line}");
        let severity = match status {
            500.. => "ERROR",
            400..=499 => "WARN",
            _ => "INFO",
        };
        assert_eq!(event["severity_text"], severity, "{line}");
    }
}

#[test]
fn garbage_requests_keep_the_request_and_invent_nothing() {
    let (_, events) = sample("nginx-access.log");
    let tls = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("\"\\x16\\x03\\x01"))
        })
        .expect("TLS line");
    assert!(tls["nginx"]["request"]
        .as_str()
        .is_some_and(|r| r.starts_with("\u{16}\u{3}\u{1}")));
    assert!(tls["http"]["request"]["method"].is_null());
    assert!(tls["url"].is_null());
    assert_eq!(tls["logmux"]["invalid_utf8"], true);

    let empty = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("\"\" 400"))
        })
        .expect("empty request");
    assert_eq!(empty["nginx"]["request"], "");
    assert!(empty["http"]["request"]["method"].is_null());

    let http09 = find(&events, "\"GET /hello/\"");
    assert_eq!(http09["http"]["request"]["method"], "GET");
    assert_eq!(http09["url"]["path"], "/hello/");
    assert!(http09["network"]["protocol"]["version"].is_null());

    let spaces = find(&events, "\"GET /a b HTTP/1.1\"");
    assert_eq!(spaces["url"]["original"], "/a b");
    assert_eq!(spaces["network"]["protocol"]["version"], "1.1");

    let query = find(&events, "/?q=logmux&page=2");
    assert_eq!(query["url"]["path"], "/");
    assert_eq!(query["url"]["query"], "q=logmux&page=2");
}

#[test]
fn the_custom_log_format_maps_timings_and_upstream_lists() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let format = std::fs::read_to_string(path.join("nginx-access-custom.format")).expect("format");
    let log = path.join("nginx-access-custom.log");
    let events = common::filter_json(
        &[
            "--nginx-log-format",
            format.trim_end(),
            log.to_str().unwrap_or_default(),
        ],
        b"",
    );
    assert_eq!(with_format(&events, "nginx.access").len(), events.len());
    let slow = events
        .iter()
        .find(|e| e["url"]["path"] == "/slow/" && e["http"]["response"]["status_code"] == 200)
        .expect("slow");
    let duration = slow["http"]["server"]["request"]["duration"]
        .as_f64()
        .unwrap_or(0.0);
    assert_eq!(duration, 1.201);
    let failover = events
        .iter()
        .find(|e| {
            e["nginx"]["upstream_response_time"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
        })
        .expect("an upstream list");
    assert_eq!(failover["nginx"]["upstream_status"], "502, 404");
    assert!(
        events.iter().all(|e| e["server"]["address"].is_string()),
        "$host maps to server.address"
    );
}

#[test]
fn error_lines_split_message_and_context() {
    let (raw, events) = sample("nginx-error.log");
    assert_eq!(events.len(), raw_lines(&raw).len());
    let refused = find(&events, "(111: Connection refused)");
    assert_eq!(refused["logmux"]["format"], "nginx.error");
    // nginx's own word; the number says ERROR.
    assert_eq!(refused["severity_text"], "error");
    assert_eq!(refused["severity_number"], 17);
    assert!(refused["message"]
        .as_str()
        .is_some_and(|m| m.ends_with("while connecting to upstream")));
    assert_eq!(refused["client"]["address"], "127.0.0.1");
    assert_eq!(refused["http"]["request"]["method"], "GET");
    assert!(refused["nginx"]["upstream"]
        .as_str()
        .is_some_and(|u| u.starts_with("uwsgi://unix:")));
    assert!(refused["log"]["record"]["original"]
        .as_str()
        .is_some_and(|o| o.contains(", client: 127.0.0.1")));
    let emerg = find(&events, "nginx: [emerg] bind()");
    assert_eq!(emerg["logmux"]["format"], "nginx.error");
    assert_eq!(emerg["severity_text"], "emerg");
    assert_eq!(emerg["severity_number"], 21);
    for e in with_format(&events, "nginx.error") {
        if e["log"]["record"]["original"]
            .as_str()
            .is_some_and(|m| !m.starts_with("nginx: "))
        {
            assert!(e["process"]["pid"].is_number(), "{e}");
        }
    }
}

#[test]
fn django_tracebacks_are_one_event_each() {
    let (raw, events) = sample("uwsgi.log");
    let text = String::from_utf8_lossy(&raw);
    let traces = with_format(&events, "python.traceback");
    // /boom/, /chain/ (two chained blocks) and /cause/ (two chained blocks).
    assert_eq!(text.matches("Internal Server Error: ").count(), 3);
    assert_eq!(traces.len(), 3);
    let paths: Vec<&str> = traces
        .iter()
        .map(|t| t["url"]["path"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(paths, ["/boom/", "/chain/", "/cause/"]);
    assert_eq!(traces[0]["exception"]["type"], "ZeroDivisionError");
    assert_eq!(traces[0]["exception"]["message"], "division by zero");
    assert_eq!(traces[0]["severity_text"], "ERROR");
    let chained = traces[1]["exception"]["stacktrace"].as_str().unwrap_or("");
    assert_eq!(
        chained
            .matches("Traceback (most recent call last):")
            .count(),
        2
    );
    assert!(chained.contains("During handling of the above exception, another exception occurred:"));
    assert_eq!(traces[2]["exception"]["type"], "demo.views.ConfigError");
    assert!(traces[2]["message"]
        .as_str()
        .is_some_and(|m| m.contains("direct cause")));
    // No line of a traceback escaped as an event of its own.
    for e in &events {
        let m = e["message"].as_str().unwrap_or("");
        assert!(!m.starts_with("  File \""), "orphaned frame: {m}");
        assert!(!m.starts_with("Traceback") || e["logmux"]["format"] == "python.traceback");
    }
}

#[test]
fn uwsgi_request_lines_match_nginx_statuses() {
    let (_, events) = sample("uwsgi.log");
    let requests = with_format(&events, "uwsgi.request");
    assert_eq!(requests.len(), 29);
    for r in &requests {
        assert!(r["http"]["response"]["status_code"].is_number(), "{r}");
        assert!(r["process"]["pid"].is_number());
        assert!(r["http"]["server"]["request"]["duration"].is_number());
    }
    let boom = requests
        .iter()
        .find(|r| r["url"]["path"] == "/boom/")
        .expect("boom");
    assert_eq!(boom["http"]["response"]["status_code"], 500);
    let died = find(&events, "DAMN ! worker 1");
    assert_eq!(died["severity_text"], "ERROR");
    assert_eq!(died["logmux"]["format"], "uwsgi.log");
}

#[test]
fn uwsgi_logdate_micros_and_memory_report() {
    let (_, events) = sample("uwsgi-logdate.log");
    let started = find(&events, "*** Starting uWSGI");
    assert_eq!(started["timestamp"], "2026-11-25T19:39:18+00:00");
    let report = events
        .iter()
        .find(|e| e["uwsgi"]["memory"]["rss"].is_number())
        .expect("memory report");
    assert_eq!(report["logmux"]["format"], "uwsgi.request");
    assert_eq!(report["uwsgi"]["memory"]["address_space"], 154_378_240);
    assert!(events.iter().any(|e| e["uwsgi"]["via"] == "offload"));
}

#[test]
fn supervisord_splices_are_split_out_and_rejoined() {
    let (raw, events) = sample("supervisord-devnull.log");
    let text = String::from_utf8_lossy(&raw);
    // Every supervisord header in the raw text, at a line start or spliced.
    let own = with_format(&events, "supervisord");
    let raw_headers = text
        .lines()
        .map(|l| {
            l.match_indices(" INFO ")
                .chain(l.match_indices(" WARN "))
                .chain(l.match_indices(" CRIT "))
                .count()
        })
        .sum::<usize>();
    assert_eq!(own.len(), raw_headers);
    for e in &events {
        let m = e["message"].as_str().unwrap_or("");
        if e["logmux"]["format"] != "supervisord" {
            assert!(
                !m.contains(" INFO ") && !m.contains(" WARN "),
                "unsplit: {m}"
            );
        }
    }
    // A child's line cut by a spliced header comes out whole again.
    let rejoined = find(&events, "writer-a line 000114 ");
    assert_eq!(
        rejoined["message"],
        format!("writer-a line 000114 {}", "abcdefghij".repeat(5))
    );
    let exited = own
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("exited: crasher"))
        })
        .expect("exited");
    assert_eq!(exited["supervisord"]["program"], "crasher");
    assert_eq!(exited["severity_text"], "WARN");
}

#[test]
fn docker_json_file_joins_the_split_40k_line() {
    let (_, events) = sample("docker-json-file.log");
    let long = find(&events, "LONGLINE: ");
    let message = long["message"].as_str().unwrap_or("");
    assert_eq!(message.len(), 40_000);
    assert!(message.ends_with(":LONG-END:"));
    assert_eq!(long["log"]["iostream"], "stderr");
    assert!(long["logmux"]["truncated"].is_null());
    assert_eq!(
        events
            .iter()
            .filter(|e| e["message"].as_str().is_some_and(|m| m.contains("LONG")))
            .count(),
        1
    );
}

#[test]
fn docker_logs_t_output_parses_like_the_raw_output() {
    let (raw, wrapped) = sample("docker-logs-t.log");
    let (_, plain) = sample("mixed.log");
    let formats = |events: &[Value]| {
        let mut counts = std::collections::BTreeMap::new();
        for e in events {
            if e["message"]
                .as_str()
                .is_some_and(|m| !m.contains("logmux-docker") && !m.contains("LONGLINE"))
            {
                *counts.entry(e["logmux"]["format"].to_string()).or_insert(0) += 1;
            }
        }
        counts
    };
    assert_eq!(formats(&wrapped), formats(&plain));
    // A line's own time wins; a line without one takes docker's.
    let raw = raw_lines(&raw);
    let docker_times: Vec<&str> = raw.iter().filter_map(|l| l.split(' ').next()).collect();
    let no_marker = |e: &&Value| {
        e["message"]
            .as_str()
            .is_some_and(|m| !m.contains("logmux-docker") && !m.contains("LONGLINE"))
    };
    let (w, p): (Vec<&Value>, Vec<&Value>) = (
        wrapped.iter().filter(no_marker).collect(),
        plain.iter().filter(no_marker).collect(),
    );
    assert_eq!(w.len(), 116);
    assert_eq!(p.len(), 116);
    let mut took_dockers = 0;
    for (w, p) in w.iter().zip(&p) {
        let ts = w["timestamp"].as_str().unwrap_or_else(|| panic!("{w}"));
        if ts == p["timestamp"] {
            continue;
        }
        assert!(docker_times.contains(&ts), "{w}");
        took_dockers += 1;
    }
    assert_eq!(took_dockers, 52);
}

#[test]
fn compose_logs_name_every_container() {
    for name in [
        "docker-compose.log",
        "docker-compose-color.log",
        "docker-compose-t.log",
    ] {
        let (_, events) = sample(name);
        assert_eq!(
            events[0]["message"]
                .as_str()
                .map(|m| m.starts_with("Attaching to")),
            Some(true)
        );
        for e in &events[1..] {
            let container = e["container"]["name"].as_str().unwrap_or("");
            let service = e["service"]["name"].as_str().unwrap_or("");
            assert!(
                ["web_1", "worker_1", "worker_2"].contains(&container),
                "{name}: {e}"
            );
            assert!(
                container.starts_with(service) && !service.is_empty(),
                "{name}: {e}"
            );
            assert!(
                !e["message"].as_str().unwrap_or("").contains('|'),
                "{name}: prefix left in {e}"
            );
        }
    }
}
