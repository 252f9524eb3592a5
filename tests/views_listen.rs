//! `logmux listen --output pretty`: logmux's own events (on stderr) are in
//! the pretty view too, as under `run`; with JSON output they stay JSON.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

/// Starts `logmux listen ARGS` on a free UDP port, waits for its first line
/// on stderr, stops it with TERM and returns all of its stderr lines.
fn own_lines(args: &[&str]) -> Vec<String> {
    let mut child = common::logmux()
        .args(["listen", "--udp", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start logmux listen");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = String::new();
        let _ = stderr.read_line(&mut first);
        let _ = tx.send(());
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        format!("{first}{rest}")
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("listen says it is listening");
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("listen ends");
    assert_eq!(status.code(), Some(0));
    let text = reader.join().expect("stderr reader");
    text.lines().map(str::to_string).collect()
}

/// Drops the `HH:MM:SS.mmm ` clock.
fn without_clock(line: &str) -> &str {
    let b = line.as_bytes();
    assert!(
        b.get(2) == Some(&b':') && b.get(8) == Some(&b'.'),
        "a clock first: {line}"
    );
    line.get(13..).unwrap_or("")
}

#[test]
fn listen_shows_its_own_events_pretty() {
    let lines = own_lines(&["--output", "pretty", "--color", "never"]);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let first = without_clock(&lines[0]);
    assert!(
        first.starts_with("logmux     INFO  listening on udp://127.0.0.1:"),
        "{first}"
    );
    let last = without_clock(&lines[1]);
    assert!(
        last.starts_with("logmux     INFO  listen stopped: 0 messages in, 0 events out"),
        "{last}"
    );
}

#[test]
fn with_json_output_its_own_events_stay_json() {
    let lines = own_lines(&["--output", "json", "--log-format", "json"]);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let events = common::json_lines(lines.join("\n").as_bytes());
    assert_eq!(events[0]["service"]["name"], "logmux");
    assert!(events[0]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("listening on udp://127.0.0.1:")));
}
