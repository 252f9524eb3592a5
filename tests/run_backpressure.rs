//! A slow reader: logmux's stdout stops being read for 5 s while a child
//! writes 20 MB. With `on_full = "block"` (the default) nothing is lost and
//! the child waits; with `"drop"` the child never waits and every dropped
//! line is counted in a `dropped N lines` event. In both, nobody is killed.

#[path = "support/run.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const LINES: u64 = 200_000;

fn run_with_stalled_stdout(on_full: &str) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
control_socket = ""
drop_report = "1s"
[sink.stdout]
type = "stdout"
on_full = "{on_full}"
queue = "1MiB"
[program.writer]
command = ["python3", "@WRITERS@/burst.py", "writer", "{LINES}", "block"]
environment = {{ REPORT_TIME = "1" }}
autorestart = "never"
stdout = {{ format = "text" }}
"#
        ),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn_reading_stdout_after(cmd, dir, Duration::from_secs(5)).finish(120)
}

/// How long the writer said its writing took.
fn writer_seconds(stderr_events: &[serde_json::Value]) -> f64 {
    let said = messages_of(stderr_events, "writer");
    let line = said
        .iter()
        .find(|m| m.starts_with("writer wrote"))
        .unwrap_or_else(|| panic!("no timing line in {said:?}"));
    line.rsplit(' ')
        .next()
        .and_then(|t| t.trim_end_matches('s').parse().ok())
        .unwrap()
}

#[test]
fn block_waits_for_the_reader_and_loses_nothing() {
    let done = run_with_stalled_stdout("block");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(
        own_with(&own, "writer exited: exit code 0").len(),
        1,
        "the writer was not left alone"
    );
    assert!(own_with(&own, "dropped").is_empty());
    // The writer was held up by the stalled reader…
    assert!(
        writer_seconds(&own) >= 3.0,
        "the writer did not wait: {}s",
        writer_seconds(&own)
    );
    // …and every line came out, in order.
    let out = events(&done.stdout);
    let lines = messages_of(&out, "writer");
    assert_eq!(lines.len() as u64, LINES + 1);
    for (i, line) in lines.iter().take(LINES as usize).enumerate() {
        assert_eq!(*line, burst_line("writer", i as u64));
    }
    assert_eq!(lines[LINES as usize], format!("writer done {LINES}"));
}

#[test]
fn drop_never_waits_and_counts_every_dropped_line() {
    let done = run_with_stalled_stdout("drop");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(own_with(&own, "writer exited: exit code 0").len(), 1);
    assert!(
        writer_seconds(&own) < 3.0,
        "the writer waited: {}s",
        writer_seconds(&own)
    );
    let dropped: u64 = own_with(&own, "dropped ")
        .iter()
        .map(|e| e["logmux"]["dropped"].as_u64().unwrap())
        .sum();
    let out = events(&done.stdout);
    let lines = messages_of(&out, "writer");
    assert!(
        dropped > 0,
        "nothing was dropped: the test did not fill the queue"
    );
    assert_eq!(
        lines.len() as u64 + dropped,
        LINES + 1,
        "lines out + dropped"
    );
    // What did come out is whole and in order.
    let mut last = None;
    for line in lines.iter().filter(|l| !l.contains("done")) {
        let i: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(*line, burst_line("writer", i));
        assert!(last.is_none_or(|l| i > l));
        last = Some(i);
    }
}
