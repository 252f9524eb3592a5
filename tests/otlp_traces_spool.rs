//! The disk spool of an `otlp` sink's traces twin: with `buffer = { type =
//! "disk", path = P }` the spans (`SINK.traces`) are spooled in `P/traces`
//! and outlive an outage of the receiver and a `kill -9` of logmux, as the
//! logs do (tests/otlp_spool.rs). Under `logmux run`, a child writes
//! requests (a uWSGI line, then nginx's) whose traces are complete in
//! order; the receiver (tests/otlp/receiver.py, PyPI's opentelemetry-proto)
//! answers 503 with `Retry-After`, then goes away and comes back: every
//! span arrives exactly once, in order; after a `kill -9` in an outage, a
//! restart delivers every span, the duplicates within what the spool
//! reports as `redelivered`.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/run.rs"]
mod support;

use std::time::Duration;

use logmux::trace::ids::{span_id, SpanRole};
use logmux_parsers::trace_context::to_hex;
use otlp::Receiver;
use serde_json::Value;
use support::*;

/// A config whose program writes `RATE` requests a second for `SECONDS`
/// (`command`); its logs go to the null sink, its spans to the otlp sink
/// on `port`, spooled under `spool`.
fn config(port: u16, spool: &str, command: &str) -> String {
    format!(
        r#"control_socket = ""
drain_timeout = "60s"
[sink.o]
type = "otlp"
endpoint = "http://127.0.0.1:{port}"
signals = ["logs", "traces"]
buffer = {{ type = "disk", path = "{spool}" }}
[program.app]
command = {command}
autorestart = "never"
merge = true
stdout = {{ sink = "null" }}
"#
    )
}

fn writer(rate: u32, seconds: u32) -> String {
    format!("[\"python3\", \"@WRITERS@/traced_requests.py\", \"{rate}\", \"{seconds}\"]")
}

/// Each span as (request, 0 for nginx's span or 1 for uWSGI's), in the
/// order received; request i's trace id is i + 1.
fn sequence(spans: &[Value]) -> Vec<(u64, u8)> {
    spans
        .iter()
        .map(|s| {
            let trace = u128::from_str_radix(s["trace_id"].as_str().unwrap(), 16).unwrap();
            let id: [u8; 16] = trace.to_be_bytes();
            let span = s["span_id"].as_str().unwrap();
            let role = if span == to_hex(&span_id(&id, SpanRole::NginxServer)) {
                0
            } else {
                assert_eq!(span, to_hex(&span_id(&id, SpanRole::Uwsgi)), "{s}");
                1
            };
            (trace as u64 - 1, role)
        })
        .collect()
}

/// Every request's two spans, parent first, requests in order.
fn expected(requests: u64) -> Vec<(u64, u8)> {
    (0..requests).flat_map(|i| [(i, 0), (i, 1)]).collect()
}

fn python() -> Option<std::path::PathBuf> {
    let found = otlp::python();
    if found.is_none() {
        skip_or_fail(
            "otlp_traces_spool",
            "no python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
    }
    found
}

#[test]
fn spans_survive_503s_and_an_outage_every_one_exactly_once_in_order() {
    let Some(py) = python() else { return };
    const RATE: u32 = 500;
    const SECONDS: u32 = 12;
    let requests = u64::from(RATE * SECONDS);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut first = Receiver::start(&py, "503:1,503:1", otlp::port_outside_the_ephemeral_range());
    let port = first.port;
    let run = start(&config(
        port,
        spool.to_str().unwrap(),
        &writer(RATE, SECONDS),
    ));
    first.wait_for_spans(2 * RATE as usize, 30);
    first.go_away();
    let before = first.spans();
    std::thread::sleep(Duration::from_secs(5));
    let second = Receiver::start(&py, "", port);
    let done = run.finish(180);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let after = second.wait_for_spans((2 * requests as usize).saturating_sub(before.len()), 60);
    // Nothing more comes after the last span.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(second.spans().len(), after.len());
    let got: Vec<(u64, u8)> = sequence(&before)
        .into_iter()
        .chain(sequence(&after))
        .collect();
    assert_eq!(got.len() as u64, 2 * requests, "every span exactly once");
    assert!(got == expected(requests), "in order, no gap, no duplicate");
    // The twin's spool is its own directory, inside the sink's.
    assert!(spool.join("traces").is_dir());

    let own = events(&done.stderr);
    let down = own_with(&own, "sink o.traces: down: ");
    assert_eq!(down.len(), 2, "{}", done.stderr);
    assert!(
        down[0]["message"].as_str().unwrap().contains("HTTP 503"),
        "{}",
        down[0]
    );
    assert_eq!(
        own_with(&own, "sink o.traces: delivering again after").len(),
        2
    );
    assert!(!done.stderr.contains("not delivered"), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("; 0 parts dropped (a traces sink that took nothing"),
        "{}",
        done.stderr
    );
}

#[test]
fn kill_9_during_an_outage_then_a_restart_delivers_every_span() {
    let Some(py) = python() else { return };
    const RATE: u32 = 1000;
    const SECONDS: u32 = 4;
    let requests = u64::from(RATE * SECONDS);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let spool = spool.to_str().unwrap();
    let mut first = Receiver::start(&py, "", otlp::port_outside_the_ephemeral_range());
    let port = first.port;
    let run = start(&config(port, spool, &writer(RATE, SECONDS)));
    first.wait_for_spans(2000, 30);
    first.go_away();
    run.wait_for(30, "the app's exit", |_, err| err.contains("app exited: "));
    run.wait_for(30, "the twin down", |_, err| {
        err.contains("sink o.traces: down: ")
    });
    // The last traces are handed out within the builder's tick and put on
    // disk by the spool's writer; logmux then waits for the receiver.
    std::thread::sleep(Duration::from_millis(1000));
    run.signal(libc::SIGKILL);
    let killed = run.finish(30);
    assert_eq!(killed.code, None, "killed");
    let before = sequence(&first.spans());

    let second = Receiver::start(&py, "", port);
    let again = start(&config(port, spool, "[\"true\"]"));
    let done = again.finish(120);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    std::thread::sleep(Duration::from_millis(300));
    let after = sequence(&second.spans());
    let mut unique: Vec<(u64, u8)> = before.iter().chain(&after).copied().collect();
    unique.sort_unstable();
    unique.dedup();
    assert!(
        unique == expected(requests),
        "every span arrives ({} unique of {})",
        unique.len(),
        2 * requests
    );
    let duplicates = (before.len() + after.len()) as u64 - 2 * requests;

    let own = events(&done.stderr);
    let found = own_with(&own, "sink o.traces: the spool holds ");
    assert_eq!(found.len(), 1, "{}", done.stderr);
    let spooled = logmux_count(found[0], "spooled");
    let redelivered = logmux_count(found[0], "redelivered");
    // What the spool held came in the second run, and only that.
    assert_eq!(after.len() as u64, spooled, "{}", done.stderr);
    assert!(
        duplicates <= redelivered,
        "{duplicates} duplicates, {redelivered} redelivered"
    );
    eprintln!(
        "kill -9: {spooled} spans spooled, {redelivered} redelivered, {duplicates} duplicates"
    );
}
