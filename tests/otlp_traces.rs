//! Traces from logs, end to end: `logmux run` reads an "nginx" and a
//! "uwsgi" program's events, builds each request's spans and posts them to
//! `/v1/traces` of the receiver built on the official OpenTelemetry protobuf
//! definitions (tests/otlp/receiver.py). The programs print logmux events
//! (`merge = true`) with a `trace_id`, as the reqid stamping will give
//! nginx's and uWSGI's own lines: the real-stack test comes with it.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/run.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use logmux::trace::ids::{span_id, SpanRole};
use logmux_parsers::trace_context::{to_hex, trace_id};
use otlp::{find_span, span_duration, typed, Receiver};
use serde_json::{json, Value};
use support::*;

/// One request's lines.
struct Request {
    id: String,
    status: i64,
    /// `$request_time` and `$upstream_response_time` (none: a static file).
    rt: f64,
    urt: Vec<f64>,
    upstream_status: &'static str,
    /// uWSGI's time in seconds (micros), if uWSGI answered.
    uwsgi: Option<f64>,
    traceback: bool,
}

/// The trace id whose low 64 bits are `i`/`n` of 2^64 (for sampling).
fn spread_id(i: u128, n: u128) -> String {
    format!(
        "{:016x}{:016x}",
        0x5eed_0000_0000_0000u64 + i as u64,
        ((i << 64) / n) as u64
    )
}

fn nginx_line(r: &Request, second: usize) -> String {
    let mut e = json!({
        "timestamp": format!("2026-11-25T18:{:02}:{:02}.250Z", second / 60 % 60, second % 60),
        "severity_text": "INFO",
        "message": "GET /x",
        "logmux": {"format": "nginx.access"},
        "service": {"name": "nginx"},
        "trace_id": r.id,
        "http": {"request": {"method": "GET"}, "response": {"status_code": r.status},
                 "server": {"request": {"duration": r.rt}}},
        "url": {"path": "/x", "query": "q=1"},
        "client": {"address": "127.0.0.1"},
    });
    if !r.urt.is_empty() {
        e["nginx"] = json!({"upstream_response_time": r.urt, "upstream_status": r.upstream_status});
    }
    e.to_string()
}

fn uwsgi_lines(r: &Request, second: usize) -> Vec<String> {
    let mut out = Vec::new();
    let time = format!(
        "2026-11-25T18:{:02}:{:02}.240Z",
        second / 60 % 60,
        second % 60
    );
    if r.traceback {
        out.push(
            json!({"timestamp": time, "severity_text": "ERROR", "message": "Traceback ...",
               "logmux": {"format": "python.traceback"}, "service": {"name": "uwsgi"},
               "trace_id": r.id,
               "exception": {"type": "ZeroDivisionError", "message": "division by zero",
                             "stacktrace": "Traceback (most recent call last):\n  File \"v.py\", line 3\nZeroDivisionError: division by zero"}})
            .to_string(),
        );
    }
    if let Some(d) = r.uwsgi {
        out.push(
            json!({"timestamp": time, "severity_text": "INFO", "message": "GET /x",
               "logmux": {"format": "uwsgi.request"}, "service": {"name": "uwsgi"},
               "trace_id": r.id,
               "http": {"request": {"method": "GET"}, "response": {"status_code": r.status},
                        "server": {"request": {"duration": d}}},
               "url": {"path": "/x", "query": "q=1"}})
            .to_string(),
        );
    }
    out
}

/// Writes the two programs' files into `dir`.
fn write_programs(dir: &Path, requests: &[Request]) {
    let mut nginx = String::new();
    let mut uwsgi = String::new();
    for (i, r) in requests.iter().enumerate() {
        nginx += &nginx_line(r, i);
        nginx.push('\n');
        for l in uwsgi_lines(r, i) {
            uwsgi += &l;
            uwsgi.push('\n');
        }
    }
    std::fs::write(dir.join("nginx.jsonl"), nginx).unwrap();
    std::fs::write(dir.join("uwsgi.jsonl"), uwsgi).unwrap();
}

fn config(dir: &Path, sink: &str, logs_to: &str, trace: &str) -> String {
    let d = dir.display();
    format!(
        r#"control_socket = ""
{trace}
{sink}
[program.nginx]
command = ["cat", "{d}/nginx.jsonl"]
autorestart = "never"
merge = true
stdout = {{ sink = "{logs_to}" }}
[program.uwsgi]
command = ["cat", "{d}/uwsgi.jsonl"]
autorestart = "never"
merge = true
stdout = {{ sink = "{logs_to}" }}
"#
    )
}

fn sink(rx: &Receiver, extra: &str) -> String {
    format!(
        "[sink.otel]\ntype = \"otlp\"\nendpoint = \"{}\"\nsignals = [\"logs\", \"traces\"]\n{extra}\n",
        rx.endpoint()
    )
}

fn req(
    id: String,
    status: i64,
    rt: f64,
    urt: &[f64],
    us: &'static str,
    uwsgi: Option<f64>,
) -> Request {
    Request {
        id,
        status,
        rt,
        urt: urt.to_vec(),
        upstream_status: us,
        uwsgi,
        traceback: false,
    }
}

/// A receiver built on the official definitions, answering 200; `None`
/// without a Python that has opentelemetry-proto (a skip, under CI a
/// failure).
fn receiver() -> Option<Receiver> {
    let Some(py) = otlp::python() else {
        skip_or_fail("otlp_traces", "no python with opentelemetry-proto");
        return None;
    };
    Some(Receiver::start(&py, "", 0))
}

fn hex_span(t: &str, role: SpanRole) -> String {
    to_hex(&span_id(&trace_id(t).unwrap(), role))
}

fn by_trace(spans: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for s in spans {
        m.entry(s["trace_id"].as_str().unwrap().to_string())
            .or_default()
            .push(s.clone());
    }
    m
}

fn five_requests() -> Vec<Request> {
    let t = |n: u8| format!("{n:02x}{}", "a1".repeat(15));
    let mut boom = req(t(3), 500, 0.013, &[0.012], "500", Some(0.011873));
    boom.traceback = true;
    vec![
        req(t(1), 200, 0.015, &[0.012], "200", Some(0.011873)),
        req(t(2), 404, 0.004, &[0.003], "404", Some(0.003)),
        boom,
        req(t(4), 200, 0.0, &[], "", None),
        req(t(5), 200, 0.015, &[0.0, 0.012], "502, 200", Some(0.011)),
    ]
}

fn check_five(spans: &[Value], requests: &[Request]) {
    let traces = by_trace(spans);
    // Exactly one trace per request, and its spans: nginx + uWSGI, the
    // static file nginx's alone, the retried one two tries more.
    assert_eq!(traces.len(), 5, "{spans:?}");
    let counts: Vec<usize> = requests.iter().map(|r| traces[&r.id].len()).collect();
    assert_eq!(counts, [2, 2, 2, 1, 4]);
    for r in requests {
        let s = &traces[&r.id];
        let n = find_span(s, &hex_span(&r.id, SpanRole::NginxServer));
        assert_eq!(
            (n["name"].as_str(), n["kind"].as_i64()),
            (Some("GET"), Some(2))
        );
        assert_eq!(n["parent_span_id"], "");
        assert_eq!(span_duration(n), (r.rt * 1e9).round() as u64, "{n}");
        assert_eq!(
            typed(&n["resource"]["service.name"], "string_value"),
            "nginx"
        );
        assert_eq!(
            typed(&n["attrs"]["http.response.status_code"], "int_value"),
            r.status
        );
        assert_eq!(typed(&n["attrs"]["url.query"], "string_value"), "q=1");
        assert_eq!(n["scope"][0], "logmux");
        let want_status = if r.status >= 500 { 2 } else { 0 };
        assert_eq!(n["status"][0], want_status);
        let Some(d) = r.uwsgi else { continue };
        let u = find_span(s, &hex_span(&r.id, SpanRole::Uwsgi));
        assert_eq!(
            typed(&u["resource"]["service.name"], "string_value"),
            "uwsgi"
        );
        // To the microsecond: 11873 micros is 11,873,000 ns.
        assert_eq!(span_duration(u), (d * 1e6).round() as u64 * 1000, "{u}");
        assert_eq!(u["end"], n["end"]);
        assert_eq!(u["status"][0], want_status);
        let parent = if r.urt.len() >= 2 {
            hex_span(&r.id, SpanRole::UpstreamTry(1))
        } else {
            n["span_id"].as_str().unwrap().to_string()
        };
        assert_eq!(u["parent_span_id"], parent.as_str());
        if r.traceback {
            let events = u["events"].as_array().unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0]["name"], "exception");
            assert_eq!(
                typed(&events[0]["attrs"]["exception.type"], "string_value"),
                "ZeroDivisionError"
            );
            assert_eq!(
                typed(&events[0]["attrs"]["exception.message"], "string_value"),
                "division by zero"
            );
            assert!(
                typed(&events[0]["attrs"]["exception.stacktrace"], "string_value")
                    .as_str()
                    .unwrap()
                    .starts_with("Traceback")
            );
            assert_eq!(u["status"][1], "ZeroDivisionError: division by zero");
        } else {
            assert_eq!(u["events"], json!([]));
        }
    }
    // The retried request: two client spans end to end under nginx's.
    let e = &requests[4];
    let s = &traces[&e.id];
    let t0 = find_span(s, &hex_span(&e.id, SpanRole::UpstreamTry(0)));
    let t1 = find_span(s, &hex_span(&e.id, SpanRole::UpstreamTry(1)));
    let n = hex_span(&e.id, SpanRole::NginxServer);
    assert_eq!(
        (t0["kind"].as_i64(), t1["kind"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (t0["parent_span_id"].as_str(), t1["parent_span_id"].as_str()),
        (Some(n.as_str()), Some(n.as_str()))
    );
    assert_eq!((span_duration(t0), span_duration(t1)), (0, 12_000_000));
    assert_eq!(t0["end"], t1["start"]);
    assert_eq!(
        (t0["status"][0].as_i64(), t1["status"][0].as_i64()),
        (Some(2), Some(0))
    );
}

#[test]
fn run_builds_one_trace_per_request_with_its_structure_and_exact_durations() {
    for encoding in ["protobuf", "json"] {
        let Some(rx) = receiver() else {
            return;
        };
        let files = tempfile::tempdir().unwrap();
        let requests = five_requests();
        write_programs(files.path(), &requests);
        let sink = sink(&rx, &format!("encoding = \"{encoding}\""));
        let run = start(&config(files.path(), &sink, "otel", ""));
        let done = run.finish(30);
        assert_eq!(done.code, Some(0), "{}", done.stderr);
        let spans = rx.wait_for_spans(11, 10);
        assert_eq!(spans.len(), 11, "{encoding}");
        check_five(&spans, &requests);
        // The log records still go to /v1/logs: 5 + 4 + 1 events.
        assert_eq!(rx.wait_for(10, 10).len(), 10);
        // All five were complete: nothing waited for the window.
        assert!(
            done.stderr.contains(
                "traces: 5 complete, 0 sent after the window or at the end, 0 sent early"
            ),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn sampling_keeps_every_error_and_the_ratio_of_the_rest_by_trace_id() {
    let Some(rx) = receiver() else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    // 100 requests spread evenly over the ids; every tenth (7, 17 … 97) a 500.
    let requests: Vec<Request> = (0..100)
        .map(|i| {
            let status = if i % 10 == 7 { 500 } else { 200 };
            req(
                spread_id(i, 100),
                status,
                0.002,
                &[0.001],
                "200",
                Some(0.001),
            )
        })
        .collect();
    write_programs(files.path(), &requests);
    let sink = sink(&rx, "trace_sample_ratio = 0.25");
    let run = start(&config(files.path(), &sink, "null", ""));
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    // Ids 0–24 by the ratio, and the 8 errors above 24: 33 traces of 2 spans.
    let spans = rx.wait_for_spans(66, 10);
    let traces = by_trace(&spans);
    let want: Vec<String> = (0..100u128)
        .filter(|i| *i < 25 || i % 10 == 7)
        .map(|i| spread_id(i, 100))
        .collect();
    assert_eq!(traces.keys().cloned().collect::<Vec<_>>(), want);
    assert!(traces.values().all(|s| s.len() == 2));
    assert!(
        done.stderr.contains("67 left out by sampling"),
        "{}",
        done.stderr
    );
}

#[test]
fn ten_thousand_traces_in_flight_stay_within_max_pending_and_none_is_lost() {
    let Some(rx) = receiver() else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    // nginx's lines only, each with an upstream: every trace waits for a
    // uWSGI line that never comes.
    let requests: Vec<Request> = (0..10_000)
        .map(|i| req(spread_id(i, 10_000), 200, 0.002, &[0.001], "200", None))
        .collect();
    write_programs(files.path(), &requests);
    let sink = format!(
        "[sink.otel]\ntype = \"otlp\"\nendpoint = \"{}\"\nsignals = [\"traces\"]\n",
        rx.endpoint()
    );
    let trace = "[trace]\nwindow = \"1h\"\nmax_pending = 100\n";
    let run = start(&config(files.path(), &sink, "otel", trace));
    let done = run.finish(60);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let spans = rx.wait_for_spans(10_000, 30);
    assert_eq!(spans.len(), 10_000);
    assert_eq!(by_trace(&spans).len(), 10_000);
    // No log record: signals = ["traces"] sends spans only.
    assert!(rx.records().is_empty());
    assert!(
        done.stderr.contains("traces: 0 complete, 100 sent after the window or at the end, 9900 sent early (max_pending), 0 without a span; 0 left out by sampling; 10000 spans queued; 0 parts dropped"),
        "{}",
        done.stderr
    );
}

/// The number before `what` in logmux's `traces:` report.
fn reported(stderr: &str, what: &str) -> Option<u64> {
    // The report's line: not the traces sink's own (`otel.traces: …`).
    let line = stderr.lines().find(|l| l.contains(what))?;
    let at = line.find(what)?;
    line[..at]
        .split([' ', ';', ','])
        .rev()
        .find(|w| !w.is_empty())?
        .parse()
        .ok()
}

#[test]
fn a_held_traces_sink_never_holds_the_logs_and_the_parts_waiting_stay_bounded() {
    // A receiver that takes connections and never answers: the traces
    // twin's sink waits on its first request, its queue fills, and the
    // span thread waits on the queue.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", held.local_addr().unwrap());
    std::thread::spawn(move || {
        let kept: Vec<_> = held.incoming().map_while(Result::ok).collect();
        drop(kept);
    });
    let files = tempfile::tempdir().unwrap();
    // nginx's lines of static files (no upstream): each trace is complete
    // with its one line, one span each.
    let n = 60_000;
    let requests: Vec<Request> = (0..n)
        .map(|i| req(spread_id(i, n), 200, 0.001, &[], "", None))
        .collect();
    write_programs(files.path(), &requests);
    let sink = format!(
        "[sink.otel]\ntype = \"otlp\"\nendpoint = \"{endpoint}\"\nsignals = [\"traces\"]\nqueue = \"1MiB\"\n"
    );
    let run = start(&config(
        files.path(),
        &sink,
        "stdout",
        "[trace]\nmax_pending = 100\n",
    ));
    // Every log line comes out: the readers never wait for spans.
    run.wait_for(120, "every nginx line on stdout", |out, _| {
        out.matches("\"nginx.access\"").count() == n as usize
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(60);
    // Parts beyond four times max(max_pending, 8192) were dropped and
    // counted: at least the 60,000 less the bound and what the span thread
    // took before its sink held it (its 1 MiB queue, ~4,000 spans, and
    // the sink's first requests), at most the 60,000 less the bound.
    let dropped =
        reported(&done.stderr, " parts dropped").unwrap_or_else(|| panic!("{}", done.stderr));
    let bound = 4 * 8192;
    assert!(dropped > 0, "{}", done.stderr);
    assert!(dropped <= n as u64 - bound, "{dropped}: {}", done.stderr);
}

#[test]
fn filter_to_an_otlp_sink_with_traces_builds_the_same_spans() {
    let Some(rx) = receiver() else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let requests = five_requests();
    write_programs(files.path(), &requests);
    let config = files.path().join("logmux.toml");
    let table = format!(
        "[trace]\nwindow = \"2s\"\n{}",
        sink(&rx, "encoding = \"json\"")
    );
    std::fs::write(&config, table).unwrap();
    // One input: nginx's and uWSGI's events, one stream as from a file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "otel"])
        .arg(files.path().join("uwsgi.jsonl"))
        .arg(files.path().join("nginx.jsonl"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = rx.wait_for_spans(11, 10);
    assert_eq!(spans.len(), 11);
    check_five(&spans, &requests);
}

#[test]
fn bad_traces_settings_are_config_errors_naming_the_key() {
    let head = "[sink.otel]\ntype = \"otlp\"\n";
    let cases = [
        (
            format!("{head}signals = []\n"),
            ":3:11: sink.otel.signals: is empty: expected \"logs\", \"traces\" or both",
        ),
        (
            format!("{head}signals = [\"metrics\"]\n"),
            ":3:11: sink.otel.signals: `metrics`: expected \"logs\" or \"traces\"",
        ),
        (
            format!("{head}signals = [\"logs\", \"logs\"]\n"),
            ":3:11: sink.otel.signals: `logs` is listed twice",
        ),
        (
            format!("{head}trace_sample_ratio = 0.5\n"),
            ":3:22: sink.otel.trace_sample_ratio: applies only when signals holds \"traces\"",
        ),
        (
            format!("{head}signals = [\"traces\"]\ntrace_sample_ratio = 1.5\n"),
            ":4:22: sink.otel.trace_sample_ratio: 1.5 is not between 0 and 1",
        ),
        (
            format!("{head}signals = [\"traces\"]\ntraces_endpoint = \"c:4318\"\n"),
            ":4:19: sink.otel.traces_endpoint: `c:4318`: expected an http:// or https:// URL",
        ),
        (
            "[sink.f]\ntype = \"file\"\npath = \"/tmp/x\"\nsignals = [\"traces\"]\n".to_string(),
            ":4:11: sink.f.signals: applies to type = \"otlp\" only, not to a file sink",
        ),
        (
            "[trace]\nwindow = \"0s\"\n".to_string(),
            ":2:10: trace.window: must be more than 0",
        ),
        (
            "[trace]\nmax_pending = 0\n".to_string(),
            ":2:15: trace.max_pending: 0: expected 1 to 10000000",
        ),
        (
            "[trace]\nspan = 1\n".to_string(),
            ":2:1: trace.span: unknown field `span`",
        ),
    ];
    for (table, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{table}[program.a]\ncommand = [\"true\"]\n");
        let path = dir.path().join("logmux.toml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err: String = events(&String::from_utf8_lossy(&out.stderr))
            .iter()
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(out.status.code(), Some(78), "{table}\n{err}");
        assert!(err.contains(want), "{table}\n{err}\nwants {want}");
    }
}

#[test]
fn the_traces_url_follows_the_endpoint_or_its_own_variable() {
    let spec = |table: &str, env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logmux.toml");
        std::fs::write(&path, format!("{table}[program.a]\ncommand = [\"true\"]\n")).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let c = logmux::config::run::load(&path, &lookup, &mut |_| {}).unwrap();
        let s = c.sinks.iter().find(|s| s.name == "otel").unwrap().clone();
        match s.kind {
            logmux::sink::spec::SinkKind::Otlp(o) => (o.url.clone(), o.traces.map(|t| t.url)),
            _ => unreachable!(),
        }
    };
    let head = "[sink.otel]\ntype = \"otlp\"\nsignals = [\"logs\", \"traces\"]\n";
    assert_eq!(
        spec(&format!("{head}endpoint = \"http://c:4318\"\n"), &[]),
        (
            "http://c:4318/v1/logs".into(),
            Some("http://c:4318/v1/traces".into())
        )
    );
    assert_eq!(
        spec(head, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://e:4318")]),
        (
            "http://e:4318/v1/logs".into(),
            Some("http://e:4318/v1/traces".into())
        )
    );
    assert_eq!(
        spec(
            head,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://e:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "https://t.example/in/spans"
                )
            ]
        ),
        (
            "http://e:4318/v1/logs".into(),
            Some("https://t.example/in/spans".into())
        )
    );
    assert_eq!(
        spec(
            &format!("{head}traces_endpoint = \"https://t.example/x\"\n"),
            &[]
        ),
        (
            "http://localhost:4318/v1/logs".into(),
            Some("https://t.example/x".into())
        )
    );
    assert_eq!(spec("[sink.otel]\ntype = \"otlp\"\n", &[]).1, None);
}

/// `logmux run` on the five requests into `rx`, with `extra` in its
/// config; the programs stay up after their lines, so that logmux can be
/// looked at while it runs.
fn five_requests_staying_up(rx: &Receiver, extra: &str) -> (tempfile::TempDir, Running) {
    let files = tempfile::tempdir().unwrap();
    write_programs(files.path(), &five_requests());
    let text = config(files.path(), &sink(rx, ""), "otel", extra).replace(
        "command = [\"cat\", ",
        "command = [\"sh\", \"-c\", \"cat $0; exec sleep 60\", ",
    );
    (files, start(&text))
}

/// Each thread of `pid`: its name and nice value (/proc's stat, field 19).
fn threads_nice(pid: i32) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let stat = std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap();
        let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
        let nice = stat[close + 2..]
            .split(' ')
            .nth(16)
            .unwrap()
            .parse()
            .unwrap();
        out.insert(stat[open + 1..close].to_string(), nice);
    }
    out
}

#[test]
fn spans_are_built_and_sent_on_background_threads_and_logs_are_not() {
    let Some(rx) = receiver() else {
        return;
    };
    let (_files, run) = five_requests_staying_up(&rx, "");
    rx.wait_for_spans(11, 20);
    let nice = threads_nice(run.pid());
    // The span builder and the traces twin's sink at nice 10; the readers
    // (logmux's main thread) and the logs' sink as logmux itself.
    assert_eq!(nice.get("trace-spans"), Some(&10), "{nice:?}");
    assert_eq!(nice.get("sink-otel.trace"), Some(&10), "{nice:?}");
    assert_eq!(nice.get("sink-otel"), Some(&0), "{nice:?}");
    assert_eq!(nice.get("logmux"), Some(&0), "{nice:?}");
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}

#[test]
fn the_traces_twin_is_counted_as_a_sink_in_the_metrics() {
    let Some(rx) = receiver() else {
        return;
    };
    let metrics = "[metrics]\nlisten = \"127.0.0.1:0\"\n";
    let (_files, run) = five_requests_staying_up(&rx, metrics);
    let addr = run.metrics_address();
    rx.wait_for_spans(11, 20);
    let want = "logmux_sink_events_written_total{sink=\"otel.traces\"} 11";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = metrics_text(addr).unwrap_or_default();
        if got.contains(want) {
            assert!(
                got.contains("logmux_sink_events_written_total{sink=\"otel\"} 10"),
                "{got}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{got}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}
