//! Per-format routes within one stream of `logmux run`
//! (`stderr = { sink = "stderr", route = { "uwsgi.request" = "stdout" } }`):
//! each line is parsed once, and its event goes to the sink its format is
//! routed to, encoded by that sink, in order, nothing lost. A child writing
//! what a uWSGI worker writes (tests/writers/uwsgi-mix.py) at full speed;
//! the real uWSGI log of fixtures/uwsgi.log, written again and again; and
//! three sinks with three encodings (JSON, logfmt, syslog to a real
//! rsyslogd) fed by one stream.

#[path = "support/rsyslog.rs"]
mod rsyslog;
#[path = "support/run.rs"]
mod support;

use rsyslog::Rsyslog;
use serde_json::Value;
use support::*;

/// The child's own events (not logmux's) of `text`.
fn child_events(text: &str) -> Vec<Value> {
    events(text)
        .into_iter()
        .filter(|e| e["service"]["name"] != "logmux")
        .collect()
}

/// `items`, `n` times over.
fn times<T: Clone>(items: Vec<T>, n: usize) -> Vec<T> {
    (0..n).flat_map(|_| items.iter().cloned()).collect()
}

fn format_of(e: &Value) -> &str {
    e["logmux"]["format"].as_str().unwrap_or("")
}

#[test]
fn request_lines_go_to_stdout_and_the_rest_to_stderr_in_order() {
    // Not a multiple of 500: the last item ends in a request line, not a
    // traceback, so "app done" cannot continue an exception's message even
    // when a CPU-starved logmux reads it with the traceback (uwsgi-mix.py).
    const COUNT: u64 = 30_001;
    let run = start(&format!(
        r#"
control_socket = ""

[program.app]
command = ["python3", "@WRITERS@/uwsgi-mix.py", "{COUNT}"]
autorestart = "never"
stderr = {{ sink = "stderr", route = {{ "uwsgi.request" = "stdout" }} }}
"#
    ));
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);

    // stdout: every request line, in order, and nothing else.
    let out = child_events(&done.stdout);
    assert_eq!(out.len() as u64, COUNT, "request events on stdout");
    for (i, e) in out.iter().enumerate() {
        assert_eq!(format_of(e), "uwsgi.request", "stdout event {i}: {e}");
        assert_eq!(e["url"]["path"], format!("/item/{i}"), "stdout event {i}");
        let status = if i % 500 == 499 { 500 } else { 200 };
        assert_eq!(e["http"]["response"]["status_code"], status);
        assert_eq!(e["service"]["name"], "app");
        assert_eq!(e["log"]["iostream"], "stderr", "the stream it came from");
    }

    // stderr: the app's lines, Django's, each traceback as one event, in order.
    check_the_rest(&child_events(&done.stderr), COUNT);
    let own = support::events(&done.stderr);
    assert_eq!(own_with(&own, "logmux exits with 0").len(), 1);
}

/// The events uwsgi-mix.py's lines other than request lines make, in order:
/// the app's lines, Django's, each traceback as one event.
fn check_the_rest(got: &[Value], count: u64) {
    let mut want: Vec<(&str, String)> = Vec::new();
    for i in 0..count {
        want.push(("text", format!("app line {i}")));
        if i % 7 == 0 {
            want.push(("django", format!("Not Found: /missing/{i}")));
        }
        if i % 500 == 499 {
            want.push(("python.traceback", format!("ZeroDivisionError: item {i}")));
        }
    }
    want.push(("text", format!("app done {count}")));
    assert_eq!(got.len(), want.len(), "events on stderr");
    for (i, (e, (format, text))) in got.iter().zip(&want).enumerate() {
        assert_eq!(format_of(e), *format, "stderr event {i}: {e}");
        let message = e["message"].as_str().unwrap();
        if *format == "python.traceback" {
            assert!(message.starts_with("Internal Server Error: /item/"), "{e}");
            assert!(message.ends_with(text.as_str()), "stderr event {i}: {e}");
            assert_eq!(message.lines().count(), 5, "one event per traceback: {e}");
        } else {
            assert_eq!(message, text, "stderr event {i}");
        }
        assert_eq!(e["log"]["iostream"], "stderr");
    }
}

#[test]
fn a_stalled_routed_sink_drops_its_own_events_only() {
    const COUNT: u64 = 40_001; // ends in a request line, as above
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
control_socket = ""
drop_report = "1s"

[sink.stdout]
type = "stdout"
on_full = "drop"
queue = "64KiB"

[program.app]
command = ["python3", "@WRITERS@/uwsgi-mix.py", "{COUNT}"]
autorestart = "never"
stderr = {{ sink = "stderr", route = {{ "uwsgi.request" = "stdout" }} }}
"#
        ),
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = spawn_reading_stdout_after(cmd, dir, std::time::Duration::from_secs(4)).finish(120);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);

    // stderr (block, read all along): every other event, in order.
    check_the_rest(&child_events(&done.stderr), COUNT);

    // stdout (drop, stalled): what came out is in order; the rest is counted.
    let own = events(&done.stderr);
    let dropped: u64 = own_with(&own, "dropped ")
        .iter()
        .inspect(|e| assert_eq!(e["logmux"]["sink"], "stdout"))
        .map(|e| e["logmux"]["dropped"].as_u64().unwrap())
        .sum();
    assert!(dropped > 0, "nothing was dropped: the queue never filled");
    let out = child_events(&done.stdout);
    assert_eq!(out.len() as u64 + dropped, COUNT, "requests out + dropped");
    let mut last = None;
    for e in &out {
        assert_eq!(format_of(e), "uwsgi.request", "{e}");
        let path = e["url"]["path"].as_str().unwrap();
        let i: u64 = path.strip_prefix("/item/").unwrap().parse().unwrap();
        assert!(last.is_none_or(|l| i > l), "out of order at {path}");
        last = Some(i);
    }
}

#[test]
fn the_real_uwsgi_log_splits_exactly_as_its_golden_events() {
    const TIMES: usize = 40;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/uwsgi.log");
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/uwsgi.expected.jsonl");
    let run = start(&format!(
        r#"
control_socket = ""

[program.uwsgi]
command = ["sh", "-c", "i=0; while [ $i -lt {TIMES} ]; do cat {fixture}; i=$((i+1)); done >&2"]
autorestart = "never"

[program.uwsgi.stderr]
sink = "stderr"

[program.uwsgi.stderr.route]
"uwsgi.request" = "stdout"
"#
    ));
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let expected = events(&std::fs::read_to_string(golden).unwrap());
    let pairs = |events: &[Value]| -> Vec<(String, String)> {
        events
            .iter()
            .map(|e| (format_of(e).to_string(), e["message"].to_string()))
            .collect()
    };
    let (requests, rest): (Vec<Value>, Vec<Value>) = expected
        .into_iter()
        .partition(|e| format_of(e) == "uwsgi.request");
    assert!(requests.len() >= 10, "the fixture has request lines");
    same_in_order(
        "stdout: the request lines",
        &pairs(&child_events(&done.stdout)),
        &times(pairs(&requests), TIMES),
    );
    same_in_order(
        "stderr: everything else",
        &pairs(&child_events(&done.stderr)),
        &times(pairs(&rest), TIMES),
    );
}

/// The same items in the same order; names the first difference.
fn same_in_order<T: PartialEq + std::fmt::Debug>(what: &str, got: &[T], want: &[T]) {
    assert_eq!(got.len(), want.len(), "{what}: count");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{what}: item {i} is {:?}, expected {:?}", got[i], want[i]);
    }
}

#[test]
fn each_sink_encodes_its_own_events_json_logfmt_and_syslog() {
    if !rsyslog::available("each_sink_encodes_its_own_events_json_logfmt_and_syslog") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs = Rsyslog::udp(dir.path(), 0);
    let port = rs.port;
    let run = start(&format!(
        r#"
control_socket = ""

[program.app]
command = ["sh", "@WRITERS@/syslog-lines.sh"]
autorestart = "never"
stdout = {{ route = {{ "nginx.access" = "access", "python.traceback" = "errors" }} }}

[sink.access]
type = "file"
path = "@DIR@/access.log"
output = "logfmt"

[sink.errors]
type = "syslog"
address = "udp://127.0.0.1:{port}"
format = "rfc3164"
hostname = "web-1"
facility = "local3"
"#
    ));
    let done = run.finish(60);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);

    // stdout (JSON): what was not routed, in order.
    let out = child_events(&done.stdout);
    let messages: Vec<&str> = out.iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "    leading spaces kept",
            "héllo wörld ✓ 日本",
            // Application JSON: its `msg` is the message (docs/schema.md, json).
            "cache miss"
        ]
    );
    let app_json = &out[2];
    assert_eq!(app_json["severity_text"], "warning");
    assert_eq!(app_json["key"], r#"a]b"c\d"#);
    // The stderr line is on stderr, untouched by stdout's routes.
    assert_eq!(
        messages_of(&child_events(&done.stderr), "app"),
        ["INFO: worker ready"]
    );

    // The access sink (logfmt): the access line, one line.
    let access = std::fs::read_to_string(done.dir.path().join("access.log")).unwrap();
    let lines: Vec<&str> = access.lines().collect();
    assert_eq!(lines.len(), 1, "{access}");
    for pair in [
        "logmux.format=nginx.access",
        "http.response.status_code=500",
        "service.name=app",
        "log.iostream=stdout",
    ] {
        assert!(
            lines[0].split(' ').any(|p| p == pair),
            "{pair} in {}",
            lines[0]
        );
    }
    assert!(!lines[0].starts_with('{'), "logfmt, not JSON: {}", lines[0]);

    // The syslog sink: the traceback, one message (local3 = 19; ERROR = 3).
    let got = rs.wait_lines("fields.log", 1, 20);
    assert_eq!(got.len(), 1, "{}", got.join("\n"));
    let fields: Vec<&str> = got[0].splitn(8, '|').collect();
    assert_eq!(fields[0], (19 * 8 + 3).to_string(), "{}", got[0]);
    assert_eq!(fields[1], "web-1");
    assert!(fields[2].starts_with("app["), "{}", got[0]);
    assert_eq!(
        fields[7],
        " Traceback (most recent call last):#012  File \"/app/x.py\", line 3, in <module>#012    1/0#012ZeroDivisionError: division by zero"
    );
}
