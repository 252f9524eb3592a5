//! `logmux filter` stopped by TERM or INT, as `-f` and `docker logs -f |
//! logmux filter` always are: what was read comes out (a traceback held
//! for `--idle-flush` included), a sink delivers the batch it holds, and
//! the exit status is 0; a second signal ends it at once, by that signal.

mod common;
#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/process.rs"]
mod process;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{json_lines, logmux, skip_or_fail};
use otlp::Receiver;
use process::Process;
use serde_json::Value;

/// Three lines, then a traceback whose end has not come: it is held.
const INPUT: &str = "plain line one\nplain line two\nplain line three\n\
Traceback (most recent call last):\n  File \"/app/views.py\", line 7, in index\n";

/// `logmux filter ARGS` reading `stdin`, its stdout collected.
fn start(args: &[&str], stdin: Stdio) -> Process {
    let mut cmd = logmux();
    cmd.arg("filter")
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Process::spawn(cmd, Duration::ZERO)
}

/// Waits until `n` events are out; panics after 20 s.
fn wait_for_events(p: &Process, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.stdout_lines() < n {
        assert!(Instant::now() < deadline, "fewer than {n} events in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the exit (panics after 20 s): its status and every event.
fn finish(mut p: Process) -> (ExitStatus, Vec<Value>) {
    let status = p.wait_exit(20, "logmux filter");
    let events = json_lines(&p.stdout.lock().unwrap());
    (status, events)
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
    let f = start(&["-f", path, "--idle-flush", "60s"], Stdio::null());
    wait_for_events(&f, 3);
    f.signal(libc::SIGTERM);
    let (status, events) = finish(f);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_out(&events);
}

#[test]
fn int_on_a_pipe_read_by_two_threads_emits_what_was_read_and_exits_0() {
    let (reader, mut writer) = std::io::pipe().unwrap();
    let f = start(
        &["--threads", "2", "--idle-flush", "60s", "--output", "json"],
        Stdio::from(std::os::fd::OwnedFd::from(reader)),
    );
    writer.write_all(INPUT.as_bytes()).unwrap();
    wait_for_events(&f, 3);
    // The pipe stays open, as `docker logs -f`'s does.
    f.signal(libc::SIGINT);
    let (status, events) = finish(f);
    drop(writer);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_out(&events);
}

/// Where the followed file `path` has been read to, from /proc/PID/fdinfo.
fn read_to(pid: i32, path: &Path) -> u64 {
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

/// A config in `dir` whose sink `otlp` posts to `endpoint` and holds a
/// partial batch for up to a minute.
fn sink_config(dir: &Path, endpoint: &str) -> std::path::PathBuf {
    let config = dir.join("logmux.toml");
    std::fs::write(
        &config,
        format!(
            "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{endpoint}\"\nbatch_timeout = \"60s\"\n"
        ),
    )
    .unwrap();
    config
}

/// `filter -f FILE --sink otlp` whose sink holds a partial batch (for up
/// to a minute), to `endpoint`; returned once the file is read to its end.
fn follow_to_sink(endpoint: &str, lines: usize) -> (Process, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = sink_config(dir.path(), endpoint);
    let file = dir.path().join("app.log");
    let text: String = (0..lines).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&file, &text).unwrap();
    let mut cmd = logmux();
    cmd.args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "otlp", "-f"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let filter = Process::spawn(cmd, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(20);
    while read_to(filter.pid(), &file) < text.len() as u64 {
        assert!(Instant::now() < deadline, "the file was not read in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    (filter, dir)
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
    let (mut filter, _dir) = follow_to_sink(&receiver.endpoint(), 25);
    // Read, and waiting in the sink's batch (60 s): nothing was sent yet.
    assert_eq!(receiver.records().len(), 0);
    filter.signal(libc::SIGTERM);
    let status = filter.wait_exit(20, "logmux filter");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let records = receiver.wait_for(25, 10);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"][1].as_str().unwrap_or(""))
        .collect();
    let expected: Vec<String> = (0..25).map(|i| format!("line {i}")).collect();
    assert_eq!(bodies, expected);
}

/// Waits until a request's first byte arrives at `listener`, which never
/// answers; panics after 20 s. The connection is returned, to stay open.
fn first_request(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no request in 20 s");
        if let Ok((mut conn, _)) = listener.accept() {
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut byte = [0u8; 1];
            assert_eq!(conn.read(&mut byte).unwrap(), 1, "no request on it");
            return conn;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_term_ends_a_filter_waiting_for_its_sink_at_once() {
    // An endpoint that takes the request and never answers: after the
    // first TERM the held batch is posted there, and waited for (10 s).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (mut filter, _dir) = follow_to_sink(&endpoint, 5);
    filter.signal(libc::SIGTERM);
    // The batch is held for 60 s: its request means the TERM was seen.
    let _request = first_request(&listener);
    assert!(filter.is_running(), "it did not wait for its sink");
    filter.signal(libc::SIGTERM);
    // Ended by the signal itself, not by an exit after the sink's wait.
    let status = filter.wait_exit(20, "logmux filter");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
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
    let args = [
        "--threads",
        threads,
        "--output",
        "json",
        file.to_str().unwrap(),
    ];
    let f = start(&args, Stdio::null());
    wait_for_events(&f, 1000);
    f.signal(libc::SIGTERM);
    let (status, events) = finish(f);
    assert_eq!(status.code(), Some(0), "{status:?}");
    // Stopped before the end, and what came out is the file's start, whole
    // and in order: the line being read at the signal was read to its end.
    assert!(events.len() < lines, "{} events: not stopped", events.len());
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["message"], format!("{i:08} {pad}"));
    }
}

#[test]
fn term_on_a_pipe_read_by_one_thread_emits_every_line_the_pipe_held() {
    emits_every_line_the_pipe_held("1");
}

#[test]
fn term_on_a_pipe_read_by_two_threads_emits_every_line_the_pipe_held() {
    emits_every_line_the_pipe_held("2");
}

/// A pipe made close-on-exec (so that no other test's child holds it
/// open): its read end, for a child's stdin, and its write end.
fn new_pipe() -> (std::os::fd::OwnedFd, std::fs::File) {
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    (reader, std::fs::File::from(writer))
}

/// `logmux filter --threads THREADS --output json` reading a fresh pipe,
/// its stdout not read yet.
struct OnPipe {
    child: std::process::Child,
    stdout: std::process::ChildStdout,
    /// Set once the child is reaped: the watchdog then leaves it alone.
    reaped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The filter, with the arguments `more`, and the pipe's write end. A
/// watchdog kills the filter 60 s on, so that a hang ends the test's
/// blocking reads and fails it.
fn filter_on_pipe(threads: &str, stderr: Stdio, more: &[&str]) -> (OnPipe, std::fs::File) {
    use std::sync::atomic::Ordering;
    let (reader, writer) = new_pipe();
    let mut cmd = logmux();
    cmd.args(["filter", "--threads", threads, "--output", "json"])
        .args(more)
        .stdin(Stdio::from(reader))
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reaped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (pid, done) = (child.id() as i32, std::sync::Arc::clone(&reaped));
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done.load(Ordering::SeqCst) {
            if Instant::now() >= deadline {
                // SAFETY: kill(2) on the test's child, not yet reaped but
                // in the instant between `wait` and `done` being set.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let filter = OnPipe {
        child,
        stdout,
        reaped,
    };
    (filter, writer)
}

impl OnPipe {
    fn term(&self) {
        // SAFETY: kill(2) on the child this test started and has not reaped.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
    }

    /// Its exit; a kill by the watchdog fails the test.
    fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().unwrap();
        self.reaped.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_ne!(
            status.signal(),
            Some(libc::SIGKILL),
            "filter hung: killed after 60 s"
        );
        status
    }
}

/// Line `i` of [`fill_pipe`]'s input: 64 bytes with its newline.
fn held_line(i: usize) -> String {
    format!("held line {i:08} {}", "x".repeat(44))
}

/// Writes [`held_line`]s to `pipe` without blocking, 64 at a time (4096
/// bytes: a pipe takes such a write whole or not at all), until the pipe
/// has taken nothing for a second: the lines the pipe took.
fn fill_pipe(pipe: &mut std::fs::File) -> usize {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETFL on a descriptor this test owns.
    unsafe {
        let fd = pipe.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
    }
    let mut taken = 0;
    let mut last_taken = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_taken.elapsed() < Duration::from_secs(1) {
        assert!(Instant::now() < deadline, "the pipe never filled");
        let block: String = (taken..taken + 64).map(|i| held_line(i) + "\n").collect();
        assert_eq!(block.len(), 4096);
        match pipe.write(block.as_bytes()) {
            Ok(n) => {
                assert_eq!(n, 4096, "a write of PIPE_BUF bytes was cut");
                taken += 64;
                last_taken = Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("writing the pipe: {e}"),
        }
    }
    taken
}

/// A filter whose stdout is not read stops reading its stdin pipe, which
/// fills. TERM comes while the pipe holds lines and stays open (as
/// `docker logs -f`'s does); then stdout is read. Every line the pipe
/// took was written there before the stop: each comes out, whole, in
/// order, and the exit status is 0.
fn emits_every_line_the_pipe_held(threads: &str) {
    let (mut filter, mut writer) = filter_on_pipe(threads, Stdio::null(), &[]);
    let taken = fill_pipe(&mut writer);
    filter.term();
    let mut out = Vec::new();
    filter.stdout.read_to_end(&mut out).unwrap();
    let status = filter.wait();
    let events = json_lines(&out);
    drop(writer);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(events.len(), taken, "events out, lines the pipe took");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["message"], held_line(i), "event {i}");
    }
}

#[test]
fn after_term_a_pipe_writer_on_one_thread_is_refused_while_the_sink_delivers() {
    a_pipe_writer_is_refused_while_the_sink_delivers("1");
}

#[test]
fn after_term_a_pipe_writer_on_two_threads_is_refused_while_the_sink_delivers() {
    a_pipe_writer_is_refused_while_the_sink_delivers("2");
}

/// Bytes in a pipe, read through either end (FIONREAD).
fn in_pipe(end: &std::fs::File) -> i32 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, to `n`.
    assert_eq!(
        unsafe { libc::ioctl(end.as_raw_fd(), libc::FIONREAD, &mut n) },
        0
    );
    n
}

/// After TERM, once the pipe's bytes are read, filter stops taking more:
/// a writer's next write fails with EPIPE at once, while filter still
/// waits for its sink, instead of going into a pipe that is dropped
/// unread when filter exits.
fn a_pipe_writer_is_refused_while_the_sink_delivers(threads: &str) {
    // An endpoint that takes the request and never answers: after the
    // stop, filter posts its batch there and waits (10 s).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = sink_config(dir.path(), &endpoint);
    let (reader, mut writer) = new_pipe();
    let mut cmd = logmux();
    cmd.args(["filter", "--threads", threads, "--config"])
        .arg(&config)
        .args(["--sink", "otlp"])
        .stdin(Stdio::from(reader))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut filter = Process::spawn(cmd, Duration::ZERO);
    writer.write_all(b"line one\nline two\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while in_pipe(&writer) > 0 {
        assert!(Instant::now() < deadline, "the lines were not read in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    filter.signal(libc::SIGTERM);
    // The batch's request: the input has ended, and filter waits for it.
    let _request = first_request(&listener);
    let refused = writer.write(b"line three\n");
    assert!(filter.is_running(), "filter did not wait for its sink");
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::BrokenPipe),
        "a write after the stop was taken by a pipe no one will read"
    );
    filter.signal(libc::SIGTERM);
    let status = filter.wait_exit(20, "logmux filter");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// What comes into the pipe after the stop read what it held, and before
/// filter lets it go, is counted in a warning. Filter is held between the
/// two by its stalled stdout: once filter says it saw the signal, the test
/// reads stdout until the pipe is empty (the stop's read is done), writes
/// 64 lines more, then reads on.
#[test]
fn bytes_that_came_after_the_stop_are_counted() {
    let (mut filter, mut writer) = filter_on_pipe("1", Stdio::piped(), &["--verbose"]);
    let taken = fill_pipe(&mut writer);
    filter.term();
    // The signal is seen on a thread of its own: until it is, the pipe is
    // read as before, and so would be the lines written below.
    let mut stderr = std::io::BufReader::new(filter.child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("TERM: stopping") {
        use std::io::BufRead;
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "stderr ended before the stop was seen: {seen}");
        seen.push_str(&line);
    }
    let stdout = &mut filter.stdout;
    let mut out = Vec::new();
    let mut piece = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(60);
    while in_pipe(&writer) > 0 {
        assert!(Instant::now() < deadline, "the pipe was not read in 60 s");
        let n = stdout.read(&mut piece).unwrap();
        assert!(n > 0, "filter ended before reading its pipe");
        out.extend_from_slice(&piece[..n]);
    }
    let late: String = (taken..taken + 64).map(|i| held_line(i) + "\n").collect();
    writer.write_all(late.as_bytes()).unwrap();
    stdout.read_to_end(&mut out).unwrap();
    stderr.read_to_string(&mut seen).unwrap();
    let stderr = seen;
    let status = filter.wait();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(
        json_lines(&out).len(),
        taken,
        "events out, lines before the stop"
    );
    let warning = json_lines(stderr.as_bytes())
        .into_iter()
        .find(|e| e["logmux"]["unread_bytes"].is_u64())
        .unwrap_or_else(|| panic!("no count of the bytes left: {stderr}"));
    assert_eq!(warning["logmux"]["unread_bytes"], 4096, "{warning}");
    assert_eq!(warning["logmux"]["input"], "stdin", "{warning}");
    assert_eq!(warning["severity_text"], "WARN", "{warning}");
}
