//! The disk spool of an `otlp` sink (`buffer = { type = "disk" }`) under
//! `logmux run`, against the test receiver (tests/otlp/receiver.py, which
//! decodes with PyPI's opentelemetry-proto): the receiver answers 503 with
//! `Retry-After`, then goes away for 20 s while the child writes 5,000
//! lines a second (every line arrives exactly once, in order, and the
//! child's writes never wait); and a `kill -9` of logmux in the middle of an
//! outage (every line arrives after the restart, the duplicates stay within
//! the documented bound, and the redelivered count is reported).

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/run.rs"]
mod support;

use std::time::Duration;

use otlp::{typed, Receiver};
use serde_json::Value;
use support::*;

/// A config whose program runs `command`, its stdout to an otlp sink on
/// `port` spooled to `spool`.
fn spool_config(port: u16, spool: &str, command: &str) -> String {
    format!(
        r#"control_socket = ""
drain_timeout = "60s"
drop_report = "1s"
[sink.o]
type = "otlp"
endpoint = "http://127.0.0.1:{port}"
buffer = {{ type = "disk", path = "{spool}" }}
[program.app]
command = {command}
autorestart = "never"
stdout = {{ sink = "o", format = "text" }}
"#
    )
}

fn writer(rate: u32, seconds: u32, stats: &str) -> String {
    format!("[\"python3\", \"@WRITERS@/spool_writer.py\", \"{rate}\", \"{seconds}\", \"{stats}\"]")
}

/// The sequence numbers of records whose body is `seq N …`, in order.
fn seqs(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| {
            let body = typed(&r["body"], "string_value").as_str()?;
            body.strip_prefix("seq ")?.split(' ').next()?.parse().ok()
        })
        .collect()
}

fn python() -> Option<std::path::PathBuf> {
    let found = otlp::python();
    if found.is_none() {
        skip_or_fail(
            "otlp_spool",
            "no python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
    }
    found
}

#[test]
fn a_503_then_a_20s_outage_at_5000_lines_a_second_loses_nothing_and_the_child_never_waits() {
    let Some(py) = python() else { return };
    const RATE: u32 = 5000;
    const SECONDS: u32 = 30;
    let total = u64::from(RATE * SECONDS);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let mut first = Receiver::start(&py, "503:1,503:1", otlp::port_outside_the_ephemeral_range());
    let port = first.port;
    let run = start(&spool_config(
        port,
        spool.to_str().unwrap(),
        &writer(RATE, SECONDS, "@DIR@/stats.json"),
    ));
    first.wait_for(2 * RATE as usize, 30);
    first.go_away();
    let before = first.records();
    std::thread::sleep(Duration::from_secs(20));
    let during = run.stderr_now();
    let second = Receiver::start(&py, "", port);
    let done = run.finish(180);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let after = second.wait_for((total as usize).saturating_sub(before.len()), 60);
    // Nothing more comes after the last line.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(second.records().len(), after.len());
    let got: Vec<u64> = seqs(&before).into_iter().chain(seqs(&after)).collect();
    assert_eq!(got.len() as u64, total, "every line exactly once");
    assert!(
        got.iter().copied().eq(0..total),
        "in order, no gap and no duplicate"
    );

    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(done.dir.path().join("stats.json")).unwrap())
            .unwrap();
    eprintln!("the child's write times during the otlp outage test: {stats}");
    let p99 = stats["p99_us"].as_f64().unwrap();
    assert!(
        p99 <= 1000.0,
        "the child's writes waited {p99} µs at p99: {stats}"
    );

    let own = events(&done.stderr);
    // Down twice: the 503s at the start, then the receiver gone.
    let down = own_with(&own, "sink o: down: ");
    assert_eq!(down.len(), 2, "{during}");
    assert!(
        down[0]["message"].as_str().unwrap().contains("HTTP 503"),
        "{}",
        down[0]
    );
    assert!(!own_with(&own, "sink o: still down after").is_empty());
    assert_eq!(own_with(&own, "sink o: delivering again after").len(), 2);
    assert!(!own_with(&own, "sink o: caught up: delivered ").is_empty());
    // Nothing was counted lost: a retried batch is the spool's, not lost.
    assert!(!done.stderr.contains("not delivered"), "{}", done.stderr);
}

#[test]
fn kill_9_during_an_outage_then_a_restart_delivers_every_line() {
    let Some(py) = python() else { return };
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let spool = spool.to_str().unwrap();
    let mut first = Receiver::start(&py, "", otlp::port_outside_the_ephemeral_range());
    let port = first.port;
    let run = start(&spool_config(
        port,
        spool,
        &writer(5000, 4, "@DIR@/stats.json"),
    ));
    first.wait_for(2000, 30);
    first.go_away();
    run.wait_for(30, "the app's exit", |_, err| err.contains("app exited: "));
    run.wait_for(30, "the sink down", |_, err| err.contains("sink o: down: "));
    // Everything the child wrote is on disk once the app has exited and
    // the queue is empty; logmux is then waiting for the receiver.
    std::thread::sleep(Duration::from_millis(500));
    run.signal(libc::SIGKILL);
    let killed = run.finish(30);
    assert_eq!(killed.code, None, "killed");
    let before = seqs(&first.records());

    let second = Receiver::start(&py, "", port);
    let again = start(&spool_config(port, spool, "[\"true\"]"));
    let done = again.finish(120);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    std::thread::sleep(Duration::from_millis(300));
    let after = seqs(&second.records());
    let mut unique: Vec<u64> = before.iter().chain(&after).copied().collect();
    unique.sort_unstable();
    unique.dedup();
    assert!(
        unique.iter().copied().eq(0..N),
        "every line arrives ({} unique of {N})",
        unique.len()
    );
    let duplicates = (before.len() + after.len()) as u64 - N;

    let own = events(&done.stderr);
    let found = own_with(&own, "sink o: the spool holds ");
    assert_eq!(found.len(), 1, "{}", done.stderr);
    let spooled = logmux_count(found[0], "spooled");
    let redelivered = logmux_count(found[0], "redelivered");
    // Everything the spool held came in the second run, and only that.
    assert_eq!(after.len() as u64, spooled, "{}", done.stderr);
    // The bound: one delivery chunk (1 MiB of records) was in flight.
    assert!(redelivered * 100 <= 1 << 20, "redelivered {redelivered}");
    assert!(
        duplicates <= redelivered,
        "{duplicates} duplicates, {redelivered} redelivered"
    );
    eprintln!("kill -9: {spooled} spooled, {redelivered} redelivered, {duplicates} duplicates");
}
