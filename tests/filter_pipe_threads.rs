//! `logmux filter --threads N` on a pipe: the real binary reads the pipe on
//! a thread of its own and parses on N workers (their threads are there to
//! see); its events are those of `--threads 1` on the same bytes, with the
//! same counts; a partial line is emitted by `--idle-flush` with the pipe
//! still open; a closed output ends it though the pipe never does.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{filter_stats_args, logmux, stats_counts as counts, without_read_time};

const ACCESS: &str = "127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] \"GET /boom/ HTTP/1.1\" 500 145 \"-\" \"curl/7.88.1\"\n";
const TRACEBACK: &str = "Internal Server Error: /boom/\nTraceback (most recent call last):\n  File \"/app/views.py\", line 3, in boom\n    1 / 0\n    ~~^~~\nZeroDivisionError: division by zero\n";

/// `filter --output json --stats --threads N ARGS…` reading a pipe.
fn spawn(threads: &str, args: &[&str]) -> Child {
    logmux()
        .args(filter_stats_args(threads))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logmux")
}

/// `input` written into the pipe in pieces of `piece` bytes, then closed.
fn through_pipe(threads: &str, input: &[u8], piece: usize) -> Output {
    let mut child = spawn(threads, &[]);
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        for part in input.chunks(piece) {
            stdin.write_all(part).expect("write to logmux");
        }
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Access lines and tracebacks, several MiB: many chunks.
fn mix() -> String {
    let mut text = String::new();
    for i in 0..30_000 {
        text.push_str(ACCESS);
        if i % 100 == 0 {
            text.push_str(TRACEBACK);
        }
    }
    text
}

#[test]
fn a_large_pipe_comes_out_as_on_one_thread() {
    let input = mix();
    let one = through_pipe("1", input.as_bytes(), 64 * 1024);
    let many = through_pipe("3", input.as_bytes(), 64 * 1024);
    let (a, b) = (
        without_read_time(&one.stdout),
        without_read_time(&many.stdout),
    );
    assert_eq!(a.len(), 30_000 + 300);
    assert_eq!(a.len(), b.len());
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("event {i} differs:\n{}\n{}", a[i], b[i]);
    }
    let (mut c1, c3) = (counts(&one.stderr), counts(&many.stderr));
    assert_eq!(c3["events"], 30_300);
    assert_eq!(c3["lines"], 30_000 + 300 * 6);
    c1["chunks_reparsed"] = c3["chunks_reparsed"].clone();
    assert_eq!(c1, c3);
}

#[test]
fn nginx_lines_in_small_writes_are_never_parsed_again() {
    let input = ACCESS.repeat(20_000);
    // Writes that end mid-line: chunks are still cut at line ends.
    let out = through_pipe("2", input.as_bytes(), 1000);
    let c = counts(&out.stderr);
    assert_eq!(c["events"], 20_000);
    assert_eq!(c["chunks_reparsed"], 0, "{c}");
    let events = without_read_time(&out.stdout);
    assert!(events.iter().all(|e| e.contains("\"status_code\":500")));
}

/// The names of the threads of `pid`.
fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    let mut names: Vec<String> = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

/// Polls `f` until it is true or 20 s have passed.
fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_pipe_is_read_on_a_thread_and_parsed_on_the_workers() {
    for (threads, parsers) in [("2", 2), ("1", 0)] {
        let mut child = spawn(threads, &[]);
        let mut stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        stdin.write_all(ACCESS.as_bytes()).expect("write");
        // The first event out: the threads have started.
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).expect("an event");
        let names = thread_names(child.id());
        let count = |n: &str| names.iter().filter(|t| *t == n).count();
        assert_eq!(count("logmux-parse"), parsers, "{threads}: {names:?}");
        assert_eq!(count("logmux-read"), parsers.min(1), "{threads}: {names:?}");
        drop(stdin);
        assert!(child.wait().expect("wait").success());
    }
}

#[test]
fn a_partial_line_comes_out_after_idle_flush_with_the_pipe_open() {
    let mut child = spawn("2", &["--idle-flush", "200ms"]);
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    stdin
        .write_all(format!("{ACCESS}no newline yet").as_bytes())
        .expect("write");
    let wait = Duration::from_secs(20);
    let access = rx.recv_timeout(wait).expect("the access line's event");
    assert!(access.contains("\"status_code\":500"), "{access}");
    // Only the idle flush emits it: the pipe is still open.
    let partial = rx.recv_timeout(wait).expect("the partial line's event");
    let event: serde_json::Value = serde_json::from_str(&partial).expect("JSON");
    assert_eq!(event["message"], "no newline yet");
    // The pipe goes on after the flush.
    stdin.write_all(b" and a line\n").expect("write");
    let next = rx.recv_timeout(wait).expect("the next line's event");
    let event: serde_json::Value = serde_json::from_str(&next).expect("JSON");
    assert_eq!(event["message"], " and a line");
    drop(stdin);
    assert!(child.wait().expect("wait").success());
    reader.join().expect("reader");
}

#[test]
fn a_closed_output_ends_it_though_the_pipe_stays_open() {
    let mut child = spawn("2", &[]);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    stdin.write_all(ACCESS.as_bytes()).expect("write");
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    // More lines, to meet the closed output; stdin stays open.
    let ended = wait_until(|| {
        let _ = stdin.write_all(ACCESS.repeat(100).as_bytes());
        matches!(child.try_wait(), Ok(Some(_)))
    });
    assert!(ended, "logmux still runs with its output closed");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}
