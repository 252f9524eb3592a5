//! A slow reader: logmux's stdout is not read (until the test says so)
//! while a child writes 20 MB. With `on_full = "block"` (the default)
//! nothing is lost and the child is held in its `write()`; with `"drop"`
//! the child ends while nobody reads, and every dropped line is counted in
//! a `dropped N lines` event. In both, nobody is killed. How long the
//! writer took is printed as a FIGURE, not asserted.

#[path = "support/run.rs"]
mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

const LINES: u64 = 200_000;

/// Runs the writer under logmux, whose stdout nobody reads until
/// `release(stderr so far)` holds; then reads it to the end.
fn run_with_stalled_stdout(on_full: &str, release: impl Fn(&str) -> bool) -> Finished {
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&stderr);
    let err_reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = err_pipe.read(&mut buf) {
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let err_now = || String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // A failed check in `release` must not leave logmux running.
        let err = err_now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| release(&err))) {
            Ok(true) => break,
            Ok(false) => {}
            Err(panic) => {
                let _ = child.kill();
                std::panic::resume_unwind(panic);
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("not released within 120 s; stderr:\n{}", err_now());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = Vec::new();
    stdout.read_to_end(&mut out).unwrap();
    let code = child.wait().unwrap().code();
    err_reader.join().unwrap();
    Finished {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: err_now(),
        dir,
    }
}

/// The writer's pid, from logmux's `spawned writer` event.
fn writer_pid(stderr: &str) -> Option<u64> {
    let own = support::events(&stderr[..stderr.rfind('\n').map_or(0, |i| i + 1)]);
    own_with(&own, "spawned writer")
        .first()
        .and_then(|e| e["logmux"]["pid"].as_u64())
}

/// Whether the writer sleeps in a pipe write (`/proc/PID/wchan`:
/// `pipe_write`, `anon_pipe_write` on newer kernels).
fn blocked_in_write(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pipe_write"))
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
    // Released once the writer has been seen held in write() 10 times in
    // a row, 50 ms apart, and has not ended: it waits for the reader.
    let held = std::cell::Cell::new(0);
    let done = run_with_stalled_stdout("block", |err| {
        assert!(
            !err.contains("writer exited"),
            "the writer ended unread: {err}"
        );
        let blocked = writer_pid(err).is_some_and(blocked_in_write);
        held.set(if blocked { held.get() + 1 } else { 0 });
        held.get() == 10
    });
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(
        own_with(&own, "writer exited: exit code 0").len(),
        1,
        "the writer was not left alone"
    );
    assert!(own_with(&own, "dropped").is_empty());
    println!(
        "FIGURE block, reader stalled: the writer took {}s",
        writer_seconds(&own)
    );
    // Every line came out, in order.
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
    // Released only once the writer has ended: it never waited.
    let done = run_with_stalled_stdout("drop", |err| err.contains("writer exited: exit code 0"));
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(own_with(&own, "writer exited: exit code 0").len(), 1);
    println!(
        "FIGURE drop, reader stalled: the writer took {}s",
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
