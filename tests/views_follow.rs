//! `logmux filter -f FILE` follows a file as `tail -F` does: what is there,
//! then appended lines, a new file at the name after a rotation (rename and
//! create), and the file again from its start after a truncation; every
//! line once, in order.

mod common;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// A `logmux filter -f` and the messages of the events it printed.
struct Follower {
    child: Child,
    events: Receiver<serde_json::Value>,
}

impl Follower {
    fn start(path: &Path) -> Follower {
        let mut child = common::logmux()
            .args(["filter", "-o", "json", "--format", "text", "-f"])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start logmux filter -f");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event: serde_json::Value = serde_json::from_str(&line).expect("JSON event");
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Follower { child, events }
    }

    /// The next event, within a few seconds.
    fn event(&self) -> serde_json::Value {
        self.events
            .recv_timeout(Duration::from_secs(5))
            .expect("a followed line within 5s")
    }

    /// The messages of the next `n` events.
    fn next(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| self.event()["message"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// No further message within a second: nothing was read twice.
    fn nothing_more(&self) {
        let extra = self.events.recv_timeout(Duration::from_secs(1));
        assert!(
            extra.is_err(),
            "a line came twice or from nowhere: {extra:?}"
        );
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

#[test]
fn follows_appends_rotation_and_truncation_with_every_line_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "first\nsecond\n");
    let f = Follower::start(&log);
    assert_eq!(f.next(2), ["first", "second"]);

    append(&log, "third\n");
    assert_eq!(f.next(1), ["third"]);
    // A line written in two pieces is one line.
    append(&log, "four");
    std::thread::sleep(Duration::from_millis(300));
    append(&log, "th\n");
    assert_eq!(f.next(1), ["fourth"]);

    // logrotate's rename and create: the old file's last line, then the new file.
    append(&log, "last of the old file\n");
    std::fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
    std::thread::sleep(Duration::from_millis(300));
    append(&log, "new file one\nnew file two\n");
    assert_eq!(
        f.next(3),
        ["last of the old file", "new file one", "new file two"]
    );

    // Truncation (copytruncate): read again from the start.
    std::fs::write(&log, "").expect("truncate");
    std::thread::sleep(Duration::from_millis(300));
    append(&log, "after truncation\n");
    assert_eq!(f.next(1), ["after truncation"]);
    f.nothing_more();
}

#[test]
fn a_writer_still_holding_the_rotated_file_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "one\n");
    let f = Follower::start(&log);
    assert_eq!(f.next(1), ["one"]);
    // As a program writes until it is told to reopen its log (logrotate's
    // `create` with a postrotate signal).
    let mut held = OpenOptions::new().append(true).open(&log).expect("open");
    std::fs::rename(&log, dir.path().join("app.log.1")).expect("rotate");
    held.write_all(b"late to the old file\n").expect("write");
    std::thread::sleep(Duration::from_millis(300));
    held.write_all(b"later still\n").expect("write");
    append(&log, "first of the new file\n");
    assert_eq!(
        f.next(3),
        [
            "late to the old file",
            "later still",
            "first of the new file"
        ]
    );
    f.nothing_more();
}

#[test]
fn a_traceback_at_the_end_of_a_followed_file_is_written_after_idle_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    append(&log, "start\n");
    let f = Follower::start(&log);
    assert_eq!(f.next(1), ["start"]);
    // Real Python 3.11 output; nothing follows it, so only the idle flush
    // (1 s) can end it.
    let python = std::process::Command::new("python3")
        .args(["-c", "1/0"])
        .output()
        .expect("run python3");
    append(&log, &String::from_utf8_lossy(&python.stderr));
    let event = f.event();
    assert_eq!(event["logmux"]["format"], "python.traceback");
    assert_eq!(event["exception"]["type"], "ZeroDivisionError");
    assert_eq!(event["exception"]["message"], "division by zero");
    f.nothing_more();
}

#[test]
fn follow_needs_exactly_one_file() {
    let out = common::run(&["filter", "-f", "a.log", "b.log"], b"");
    assert_eq!(out.status.code(), Some(78));
    let out = common::run(&["filter", "-f", "-"], b"");
    assert_eq!(out.status.code(), Some(78));
}
