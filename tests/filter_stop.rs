//! `logmux filter` stopped by TERM or INT, as `-f` and `docker logs -f |
//! logmux filter` always are: what was read comes out (a traceback held
//! for `--idle-flush` included), a sink delivers the batch it holds, and
//! the exit status is 0; a second signal ends it at once, by that signal.

mod common;
#[path = "support/otlp.rs"]
mod otlp;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{logmux, skip_or_fail};
use otlp::Receiver;
use serde_json::Value;

/// Three lines, then a traceback whose end has not come: it is held.
const INPUT: &str = "plain line one\nplain line two\nplain line three\n\
Traceback (most recent call last):\n  File \"/app/views.py\", line 7, in index\n";

/// A running filter and the JSON lines it has written so far.
struct Filter {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Filter {
    fn start(args: &[&str], stdin: Stdio) -> Filter {
        let mut child = logmux()
            .arg("filter")
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    lines
                        .lock()
                        .unwrap()
                        .push(serde_json::from_str(&l).unwrap());
                }
            })
        };
        Filter {
            child,
            lines,
            reader,
        }
    }

    /// Waits until `n` events are out; panics after 20 s.
    fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.lines.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "fewer than {n} events in 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill with the pid of the child we started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the exit (panics after 20 s): its status and every event.
    fn finish(mut self) -> (ExitStatus, Vec<Value>) {
        let status = wait_exit(&mut self.child, 20);
        self.reader.join().unwrap();
        let lines = self.lines.lock().unwrap().clone();
        (status, lines)
    }
}

fn wait_exit(child: &mut Child, secs: u64) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logmux filter did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The held traceback came out whole, after the three lines.
fn assert_all_out(events: &[Value]) {
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(
        messages[..3],
        ["plain line one", "plain line two", "plain line three"]
    );
    assert_eq!(
        messages[3],
        "Traceback (most recent call last):\n  File \"/app/views.py\", line 7, in index"
    );
}

#[test]
fn term_on_a_followed_file_emits_the_held_traceback_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    std::fs::write(&file, INPUT).unwrap();
    let path = file.to_str().unwrap();
    let f = Filter::start(&["-f", path, "--idle-flush", "60s"], Stdio::null());
    f.wait_for(3);
    f.signal(libc::SIGTERM);
    let (status, events) = f.finish();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_out(&events);
}

#[test]
fn int_on_a_pipe_read_by_two_threads_emits_what_was_read_and_exits_0() {
    let (reader, mut writer) = std::io::pipe().unwrap();
    let f = Filter::start(
        &["--threads", "2", "--idle-flush", "60s", "--output", "json"],
        Stdio::from(std::os::fd::OwnedFd::from(reader)),
    );
    writer.write_all(INPUT.as_bytes()).unwrap();
    f.wait_for(3);
    // The pipe stays open, as `docker logs -f`'s does.
    f.signal(libc::SIGINT);
    let (status, events) = f.finish();
    drop(writer);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_out(&events);
}

/// Where the followed file `path` has been read to, from /proc/PID/fdinfo.
fn read_to(pid: u32, path: &Path) -> u64 {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    for fd in fds.map_while(Result::ok) {
        if std::fs::read_link(fd.path()).ok().as_deref() != Some(path) {
            continue;
        }
        let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
        let text = std::fs::read_to_string(info).unwrap_or_default();
        let pos = text.lines().find_map(|l| l.strip_prefix("pos:"));
        return pos.and_then(|p| p.trim().parse().ok()).unwrap_or(0);
    }
    0
}

/// `filter -f FILE --sink otlp` whose sink holds a partial batch (for up
/// to a minute); with a receiver at `endpoint`.
fn follow_to_sink(endpoint: &str, lines: usize) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logmux.toml");
    std::fs::write(
        &config,
        format!(
            "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{endpoint}\"\nbatch_timeout = \"60s\"\n"
        ),
    )
    .unwrap();
    let file = dir.path().join("app.log");
    let text: String = (0..lines).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&file, &text).unwrap();
    let child = logmux()
        .args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "otlp", "-f"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while read_to(child.id(), &file) < text.len() as u64 {
        assert!(Instant::now() < deadline, "the file was not read in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, dir)
}

#[test]
fn term_delivers_the_batch_a_sink_holds_and_exits_0() {
    let test = "term_delivers_the_batch_a_sink_holds_and_exits_0";
    let Some(py) = otlp::python() else {
        return skip_or_fail(
            test,
            "no Python with opentelemetry-proto (target/otlp-venv)",
        );
    };
    let receiver = Receiver::start(&py, "", 0);
    let (mut child, _dir) = follow_to_sink(&receiver.endpoint(), 25);
    // Read, and waiting in the sink's batch: nothing was sent yet.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.records().len(), 0);
    // SAFETY: kill with the pid of the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_exit(&mut child, 20);
    assert_eq!(status.code(), Some(0), "{status:?}");
    let records = receiver.wait_for(25, 10);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"][1].as_str().unwrap_or(""))
        .collect();
    let expected: Vec<String> = (0..25).map(|i| format!("line {i}")).collect();
    assert_eq!(bodies, expected);
}

#[test]
fn a_second_term_ends_a_filter_waiting_for_its_sink_at_once() {
    // Nothing listens at the endpoint: the sink retries for 10 s at the end.
    let port = otlp::port_outside_the_ephemeral_range();
    let (mut child, _dir) = follow_to_sink(&format!("http://127.0.0.1:{port}"), 5);
    // SAFETY: kill with the pid of the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "it did not wait for its sink"
    );
    let second = Instant::now();
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_exit(&mut child, 20);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "{:?}",
        second.elapsed()
    );
}

#[test]
fn term_stops_a_long_file_on_two_threads_early_with_a_whole_prefix() {
    stops_a_long_file_early_with_a_whole_prefix("2");
}

#[test]
fn term_stops_a_long_file_on_one_thread_early_with_a_whole_prefix() {
    stops_a_long_file_early_with_a_whole_prefix("1");
}

fn stops_a_long_file_early_with_a_whole_prefix(threads: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.log");
    // 40 MB: long enough that a debug build is still reading it at the
    // signal; 100-byte lines, so that the chunks in flight are few lines.
    let lines = 400_000;
    let pad = "x".repeat(88);
    let text: String = (0..lines).map(|i| format!("{i:08} {pad}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let f = Filter::start(
        &[
            "--threads",
            threads,
            "--output",
            "json",
            file.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    f.wait_for(1000);
    f.signal(libc::SIGTERM);
    let (status, events) = f.finish();
    assert_eq!(status.code(), Some(0), "{status:?}");
    // Stopped before the end, and what came out is the file's start, whole
    // and in order: the line being read at the signal was read to its end.
    assert!(events.len() < lines, "{} events: not stopped", events.len());
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["message"], format!("{i:08} {pad}"));
    }
}
