//! `logmux ctl tail` against a running `logmux run` of real programs: every
//! line exactly once and in order across the hand-over from the ring to
//! live events, the ring's bounds (count and bytes), `--stream`, unknown
//! programs, a stalled follower that neither stalls the program nor its
//! sink, and 16 followers that leave `ctl status` and `ctl restart` free.

#[path = "support/run.rs"]
mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

/// A `logmux ctl tail` running in the background, its output collected
/// by a thread that stops reading while `paused`.
struct Follower {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    paused: Arc<AtomicBool>,
}

fn collect(mut from: impl Read + Send + 'static, paused: Arc<AtomicBool>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let to = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 65536];
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            to.lock().unwrap().extend_from_slice(&chunk[..n]);
            while paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    buf
}

impl Follower {
    fn start(socket: &Path, args: &[&str]) -> Follower {
        let mut child = Command::new(env!("CARGO_BIN_EXE_logmux"))
            .arg("ctl")
            .arg("--socket")
            .arg(socket)
            .arg("tail")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let paused = Arc::new(AtomicBool::new(false));
        let out = collect(child.stdout.take().unwrap(), Arc::clone(&paused));
        let err = collect(
            child.stderr.take().unwrap(),
            Arc::new(AtomicBool::new(false)),
        );
        Follower {
            child,
            out,
            err,
            paused,
        }
    }

    /// Its stdout is not read (after at most one more read) until resumed.
    fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    fn out(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn err(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if cond(&self.out()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {what}; follower's stdout ends with:\n{}\nstderr:\n{}",
            self.out()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
            self.err()
        );
    }

    /// Its exit code, once it ended (within `secs`).
    fn finish(mut self, secs: u64) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The readers have the last bytes once the pipes close.
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.out(), self.err());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the follower did not end; stderr: {}", self.err());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages of JSON event lines.
fn messages(text: &str) -> Vec<String> {
    events(text)
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

fn numbered(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

/// Writes `n 0` … `n 2499` at once, waits for the file `go`, then writes
/// `n 2500` … `n 4999` over about two seconds, flushing each line.
const WRITER: &str = r#"
import os, sys, time
for i in range(2500):
    print(f"n {i}", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
for i in range(2500, 5000):
    print(f"n {i}", flush=True)
    if i % 10 == 0:
        time.sleep(0.004)
"#;

#[test]
fn a_follower_gets_every_line_once_in_order_from_the_ring_and_then_live() {
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
tail_buffer = {{ events = 10000, bytes = "16MiB" }}
[program.writer]
command = ["python3", "-c", '''{WRITER}''', "@DIR@/go"]
autorestart = "never"
on_exit = "shutdown"
[program.idle]
command = ["sh", "-c", "echo idle up; exec sleep 600"]
"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "the first half", |out, _| out.contains("\"n 2499\""));
    // Started with 2,500 lines in the ring: the hand-over is at a known place.
    let first = Follower::start(&socket, &["-f", "-n", "100000", "-o", "json", "writer"]);
    first.wait_for(30, "the first half from the ring", |out| {
        out.contains("\"n 2499\"")
    });
    std::fs::write(run.dir.path().join("go"), "").unwrap();
    // Started while the second half is being written.
    run.wait_for(30, "the writer half way", |out, _| {
        out.contains("\"n 3000\"")
    });
    let second = Follower::start(&socket, &["--follow", "-n", "100000", "writer"]);
    let done = run.finish(60);
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    let expected = numbered("n", 0..5000);
    let (code, first_out, first_err) = first.finish(20);
    assert_eq!(code, 0, "{first_err}");
    assert_eq!(messages(&first_out), expected);
    let (code, second_out, second_err) = second.finish(20);
    assert_eq!(code, 0, "{second_err}");
    assert_eq!(messages(&second_out), expected);
    // The very lines the stdout sink got (`idle` also writes there).
    let sink: Vec<&str> = done
        .stdout
        .lines()
        .filter(|l| l.contains("\"name\":\"writer\""))
        .collect();
    assert_eq!(first_out.lines().collect::<Vec<_>>(), sink);
    assert_eq!(second_out, first_out);
}

#[test]
fn the_ring_keeps_the_newest_events_within_its_count_and_bytes() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.many]
command = ["python3", "-c", "for i in range(10000): print(f'many {i}')\nimport time; time.sleep(600)"]
[program.wide]
command = ["python3", "-c", "for i in range(1000): print(f'wide {i} ' + 'x' * 5000)\nimport time; time.sleep(600)"]
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(60, "every line", |out, _| {
        out.contains("\"many 9999\"") && out.contains("\"wide 999 ")
    });
    let (code, many, err) = ctl(&socket, &["tail", "-n", "100000", "-o", "json", "many"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(messages(&many), numbered("many", 9000..10000));

    // The default ring: 1,000 events, as long as they fit in 1 MiB. Wide
    // events: the newest that fit, counted from the sink's own lines.
    let (code, wide, err) = ctl(&socket, &["tail", "-n", "100000", "-o", "json", "wide"]);
    assert_eq!(code, 0, "{err}");
    let stdout = run.stdout_now();
    let sink: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("\"name\":\"wide\""))
        .collect();
    assert_eq!(sink.len(), 1000);
    let mut fit = 0;
    let mut bytes = 0;
    for line in sink.iter().rev() {
        bytes += line.len() + 1;
        if bytes > 1 << 20 {
            break;
        }
        fit += 1;
    }
    assert!(fit > 100 && fit < 1000, "{fit}");
    assert_eq!(wide.lines().collect::<Vec<_>>(), sink[sink.len() - fit..]);

    // -n: the last N; without a program, every program's in read order.
    let (_, last3, _) = ctl(&socket, &["tail", "-n", "3", "-o", "json", "many"]);
    assert_eq!(messages(&last3), numbered("many", 9997..10000));
    let (_, both, _) = ctl(&socket, &["tail", "-n", "100000", "-o", "json"]);
    assert_eq!(events(&both).len(), 1000 + fit);
    run.signal(libc::SIGTERM);
    assert_eq!(run.finish(30).code, Some(0));
}

#[test]
fn stream_filters_and_an_unknown_program_is_refused() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.both]
command = ["sh", "-c", "for i in 0 1 2 3 4; do echo out $i; echo err $i >&2; done; exec sleep 600"]
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "every line", |out, err| {
        out.contains("\"out 4\"") && err.contains("\"err 4\"")
    });
    let (code, err_only, _) = ctl(
        &socket,
        &["tail", "--stream", "stderr", "-o", "json", "both"],
    );
    assert_eq!(code, 0);
    assert_eq!(messages(&err_only), numbered("err", 0..5));
    assert!(events(&err_only)
        .iter()
        .all(|e| e["log"]["iostream"] == "stderr"));
    let (_, out_only, _) = ctl(&socket, &["tail", "--stream", "stdout", "-o", "json"]);
    assert_eq!(messages(&out_only), numbered("out", 0..5));
    let (_, all, _) = ctl(&socket, &["tail", "-o", "json", "both"]);
    assert_eq!(events(&all).len(), 10);

    // Pretty: one readable line per event, not JSON.
    let (code, pretty, _) = ctl(&socket, &["tail", "-n", "2", "-o", "pretty", "both"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = pretty.lines().collect();
    assert_eq!(lines.len(), 2, "{pretty}");
    assert!(lines
        .iter()
        .all(|l| !l.starts_with('{') && l.contains("both")));
    assert!(
        lines[1].ends_with("err 4") || lines[1].ends_with("out 4"),
        "{pretty}"
    );

    let (code, out, err) = ctl(&socket, &["tail", "-f", "nosuch"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err.trim(),
        "logmux ctl: no program named `nosuch` (programs: both)"
    );
    run.signal(libc::SIGTERM);
    assert_eq!(run.finish(30).code, Some(0));
}

/// Says `ready`, waits for the file `go`, then writes `line 0` …
/// `line 19999` (200 bytes each) as fast as it can, and `done`.
const FAST: &str = r#"
import os, sys, time
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
for i in range(20000):
    sys.stdout.write(f"line {i} " + "y" * 190 + "\n")
sys.stdout.flush()
print("done", flush=True)
time.sleep(600)
"#;

#[test]
fn a_stalled_follower_stalls_neither_the_program_nor_its_sink() {
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.fast]
command = ["python3", "-c", '''{FAST}''', "@DIR@/go"]
# Running from the start: a fast machine ends the burst within the default
# startsecs (1 s), and status would rightly say "starting" (exit code 3).
startsecs = 0
"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "ready", |out, _| out.contains("\"ready\""));
    let follower = Follower::start(&socket, &["-f", "-o", "json", "fast"]);
    follower.wait_for(30, "ready from the ring", |out| out.contains("\"ready\""));
    // From now on nobody reads it (as `ctl tail -f | sleep 600`).
    follower.pause(true);
    std::fs::write(run.dir.path().join("go"), "").unwrap();
    // Every line reaches the sink, and the program ends its work.
    run.wait_for(60, "every line in the sink", |out, _| {
        out.contains("\"done\"")
    });
    let stdout = run.stdout_now();
    let sink: Vec<String> = events(&stdout)
        .iter()
        .filter(|e| e["service"]["name"] == "fast")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    let mut expected = vec!["ready".to_string()];
    expected.extend(
        numbered("line", 0..20000)
            .iter()
            .map(|l| format!("{l} {}", "y".repeat(190))),
    );
    expected.push("done".into());
    assert_eq!(sink, expected);
    let (code, status, _) = ctl(&socket, &["status"]);
    assert_eq!(code, 0, "{status}");

    // Read again, it says how many it missed, and what it got is in order.
    follower.pause(false);
    follower.wait_for(30, "the last line", |out| out.contains("\"done\""));
    let err = follower.err();
    let skipped: usize = err
        .lines()
        .filter_map(|l| {
            l.strip_prefix("logmux ctl tail: ")?
                .strip_suffix(" events skipped: this reader fell behind")?
                .parse::<usize>()
                .ok()
        })
        .sum();
    let got = messages(&follower.out());
    assert!(skipped > 0, "{err}");
    assert_eq!(got.len() + skipped, expected.len(), "{err}");
    let mut at = 0;
    for m in &got {
        at += expected[at..].iter().position(|e| e == m).unwrap() + 1;
    }
    drop(follower);
    run.signal(libc::SIGTERM);
    assert_eq!(run.finish(30).code, Some(0));
}

#[test]
fn sixteen_followers_leave_status_and_restart_free_and_a_seventeenth_is_refused() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.ticker]
command = ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "ticker running", |_, _| {
        ctl(&socket, &["status"]).0 == 0
    });
    let followers: Vec<Follower> = (0..16)
        .map(|_| Follower::start(&socket, &["-f", "-n", "1", "-o", "json"]))
        .collect();
    for f in &followers {
        f.wait_for(30, "its first tick", |out| out.contains("tick"));
    }
    let (code, out, err) = ctl(&socket, &["tail", "-f", "-o", "json"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        err.trim(),
        "logmux ctl: too many `logmux ctl tail` clients (16); try again later"
    );
    let (code, status, _) = ctl(&socket, &["status"]);
    assert_eq!(code, 0, "{status}");
    let (code, said, _) = ctl(&socket, &["restart", "ticker"]);
    assert_eq!((code, said.trim()), (0, "restarting ticker"));
    // The followers see the restarted program's lines too.
    run.wait_for(30, "the restart", |_, err| {
        err.matches("spawned ticker").count() == 2
    });
    for f in &followers {
        f.wait_for(30, "a tick of the new run", |out| {
            out.lines().filter(|l| l.contains("\"tick 0\"")).count() == 1
        });
    }
    // A follower that leaves gives its slot back.
    drop(followers);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, out, err) = ctl(&socket, &["tail", "-n", "1", "-o", "json", "ticker"]);
        if code == 0 {
            assert_eq!(events(&out).len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "{err}");
        std::thread::sleep(Duration::from_millis(50));
    }
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}

/// uWSGI-like stderr: request lines (routed to stdout) between plain ones.
const MIXED: &str = r#"
import sys, time
for i in range(50):
    sys.stderr.write(f"plain {i}\n")
    sys.stderr.write(f"[pid: 12|app: 0|req: {i}/{i}] 127.0.0.1 () {{32 vars in 351 bytes}} [Sun Jul 12 10:00:00 2026] GET /{i} => generated 24 bytes in 30 msecs (HTTP/1.1 200) 5 headers in 158 bytes (1 switches on core 0)\n")
sys.stderr.flush()
print("done", flush=True)
time.sleep(600)
"#;

/// The ring has every event in the order read, whatever sinks they went to
/// and whatever those sinks write: a route to another sink (the batches'
/// own JSON) and a pretty console (the ring's own JSON encoding).
fn routed_and_pretty_events_reach_the_ring_in_order(output: &str) {
    let run = start_with(
        &format!(
            r#"
control_socket = "@DIR@/ctl.sock"
[program.app]
command = ["python3", "-c", '''{MIXED}''']
stderr = {{ sink = "stderr", route = {{ "uwsgi.request" = "stdout" }} }}
"#
        ),
        |cmd| {
            cmd.args(["--output", output]);
        },
    );
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "done", |out, _| out.contains("done"));
    let (code, json, err) = ctl(&socket, &["tail", "-n", "1000", "-o", "json", "app"]);
    assert_eq!(code, 0, "{err}");
    let got = events(&json);
    assert_eq!(got.len(), 101);
    for (i, pair) in got.chunks(2).take(50).enumerate() {
        assert_eq!(pair[0]["message"], format!("plain {i}"));
        assert_eq!(pair[1]["logmux"]["format"], "uwsgi.request");
        assert_eq!(pair[1]["url"]["path"], format!("/{i}"), "{}", pair[1]);
        assert!(pair.iter().all(|e| e["log"]["iostream"] == "stderr"));
    }
    assert_eq!(got[100]["message"], "done");
    if output == "json" {
        // Byte for byte what the sinks wrote.
        let (stdout, stderr) = (run.stdout_now(), run.stderr_now());
        for line in json.lines() {
            assert!(stdout.contains(line) || stderr.contains(line), "{line}");
        }
    }
    run.signal(libc::SIGTERM);
    assert_eq!(run.finish(30).code, Some(0));
}

#[test]
fn routed_events_reach_the_ring_in_order() {
    routed_and_pretty_events_reach_the_ring_in_order("json");
}

#[test]
fn a_pretty_console_still_gives_the_ring_json() {
    routed_and_pretty_events_reach_the_ring_in_order("pretty");
}
