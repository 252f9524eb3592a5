//! `logmux top` as a user runs it: in a real pseudo-terminal (tmux), with
//! `--once` for scripts, and its errors (nothing there, metrics off, no
//! terminal) with their exit codes.
//!
//! INTEGRATOR: the metrics endpoint here is a tiny HTTP server in the test
//! that serves two hand-written expositions (tests/top/scrape-1.prom, then
//! scrape-2.prom for every later request), in the names of the metrics
//! brief and with sample timestamps two seconds apart, so every rate is
//! known exactly. Once the metrics work lands, switch
//! `top_in_tmux_shows_programs_and_request_rates` (or add a twin) to a real
//! `logmux run --metrics-listen 127.0.0.1:0` (and the socket test below to
//! a run with metrics on), asserting the programs and a request rate > 0.

#[path = "support/run.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

const FIRST: &str = include_str!("top/scrape-1.prom");
const SECOND: &str = include_str!("top/scrape-2.prom");

/// Serves FIRST to the first request and SECOND to every later one, on
/// 127.0.0.1 at a free port; the URL and the count of requests served.
fn metrics_server() -> (String, Arc<AtomicUsize>) {
    metrics_server_for(usize::MAX)
}

/// As [`metrics_server`], but closes its port after `requests` requests.
fn metrics_server_for(requests: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = match count.fetch_add(1, Ordering::SeqCst) {
                0 => FIRST,
                _ => SECOND,
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, served)
}

fn top(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logmux"))
        .arg("top")
        .args(args)
        .env("TZ", "UTC")
        .env_remove("LOGMUX_CONTROL_SOCKET")
        .output()
        .unwrap()
}

/// The screen of the two known scrapes (as src/top/render.rs's test), headed by `source`.
fn expected_screen(source: &str, interval: &str) -> String {
    format!(
        "logmux top  {source}  every {interval}  22:13:22  (q quits)\n\
         \n\
         PROGRAM  STATE          RESTARTS  LINES/S\n\
         cron     down           5         -\n\
         nginx    up             0         125.0\n\
         uwsgi    up, unhealthy  3         50.0\n\
         \n\
         SERVICE  REQ/S  5XX    P50       P99\n\
         nginx    50.0   0.0%   20.0 ms   95.0 ms\n\
         uwsgi    12.5   20.0%  375.0 ms  2.31 s\n\
         \n\
         EXCEPTIONS (newest first)\n\
         22:13:22  uwsgi  ZeroDivisionError  +3\n\
         22:13:22  uwsgi  ValueError         +1\n"
    )
}

#[test]
fn once_prints_one_exact_snapshot_of_two_scrapes() {
    let (url, served) = metrics_server();
    let out = top(&["--metrics", &url, "--once", "--interval", "50ms"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        expected_screen(&url, "50ms")
    );
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

/// A tmux server of its own (`-L`), killed when the test ends.
struct Tmux {
    name: String,
}

impl Tmux {
    fn new(test: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            skip_or_fail(test, "tmux is not installed (Debian package tmux)");
            return None;
        }
        let name = format!("logmux-top-{}-{}", std::process::id(), test);
        Some(Tmux { name })
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.name, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .run(&["capture-pane", "-p", "-S", "-100", "-t", "top"])
                .stdout,
        )
        .into_owned()
    }

    /// Polls the screen until `cond` holds, for up to `secs` seconds.
    fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {secs}s; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Starts `logmux top ARGS` in a 120x40 tmux pane, through a shell that
/// then prints its exit status and the terminal's mode (the pane stays).
/// The pane's shell printed top's exit code and then the terminal's
/// `icanon` or `-icanon`, its last line. (tmux's "Pane is dead" line does
/// not always show in capture-pane, so it is not waited for.)
fn shell_is_done(screen: &str) -> bool {
    screen
        .lines()
        .skip_while(|l| !l.starts_with("top exited "))
        .nth(1)
        .is_some_and(|l| matches!(l.trim_end(), "icanon" | "-icanon"))
}

fn start_in_tmux(tmux: &Tmux, args: &str) {
    let bin = env!("CARGO_BIN_EXE_logmux");
    let shell = format!("TZ=UTC {bin} top {args}; echo \"top exited $?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'");
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "120",
        "-y",
        "40",
        &shell,
    ]);
    assert!(
        out.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tmux.run(&["set-option", "-g", "remain-on-exit", "on"]);
    assert!(
        out.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn top_in_tmux_shows_programs_and_request_rates_and_q_restores_the_terminal() {
    let Some(tmux) = Tmux::new("top_in_tmux_q") else {
        return;
    };
    let (url, _) = metrics_server();
    start_in_tmux(&tmux, &format!("--metrics {url} --interval 200ms"));
    let screen = tmux.wait_for(30, "request rates", |s| s.contains("uwsgi    12.5"));
    let expected = expected_screen(&url, "200ms");
    for line in expected.lines().filter(|l| !l.is_empty()) {
        assert!(
            screen.lines().any(|s| s.trim_end() == line),
            "no line `{line}` in:\n{screen}"
        );
    }
    // q quits with 0 and leaves the terminal as it was: canonical mode, no view.
    assert!(tmux.run(&["send-keys", "-t", "top", "q"]).status.success());
    let screen = tmux.wait_for(30, "the exit", shell_is_done);
    assert!(screen.contains("top exited 0\nicanon"), "{screen}");
    assert!(
        !screen.contains("PROGRAM"),
        "the view stayed on the screen:\n{screen}"
    );
}

#[test]
fn top_in_tmux_resizes_and_quits_on_term() {
    let Some(tmux) = Tmux::new("top_in_tmux_term") else {
        return;
    };
    let (url, _) = metrics_server();
    start_in_tmux(&tmux, &format!("--metrics {url} --interval 200ms"));
    tmux.wait_for(30, "request rates", |s| s.contains("nginx    50.0"));
    // Narrower: the lines are cut at the new width.
    assert!(tmux
        .run(&["resize-window", "-t", "top", "-x", "30", "-y", "20"])
        .status
        .success());
    tmux.wait_for(30, "the cut header", |s| {
        let mut lines = s.lines();
        let first = lines.next().unwrap_or("");
        first.starts_with("logmux top  http://127.0.0.1:")
            && first.len() == 30
            && lines.next() == Some("")
    });
    let pane = tmux.run(&["display-message", "-p", "-t", "top", "#{pane_pid}"]);
    let shell: i32 = String::from_utf8_lossy(&pane.stdout)
        .trim()
        .parse()
        .unwrap();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    let top: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(unsafe { libc::kill(top, libc::SIGTERM) }, 0);
    let screen = tmux.wait_for(30, "the exit", shell_is_done);
    assert!(screen.contains("top exited 0\nicanon"), "{screen}");
}

#[test]
fn a_failing_source_keeps_the_last_view_and_says_why() {
    let Some(tmux) = Tmux::new("top_in_tmux_gone") else {
        return;
    };
    let (url, _) = metrics_server_for(2);
    start_in_tmux(&tmux, &format!("--metrics {url} --interval 200ms"));
    let screen = tmux.wait_for(30, "the error", |s| {
        s.contains(&format!("! cannot fetch {url}"))
    });
    assert!(
        screen.contains("uwsgi    12.5   20.0%  375.0 ms  2.31 s"),
        "{screen}"
    );
    assert!(tmux
        .run(&["send-keys", "-t", "top", "C-c"])
        .status
        .success());
    let screen = tmux.wait_for(30, "the exit", shell_is_done);
    assert!(screen.contains("top exited 0\nicanon"), "{screen}");
}

#[test]
fn a_logmux_run_without_metrics_is_a_clear_error_with_exit_1() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.web]
command = ["sh", "-c", "echo web up; exec sleep 60"]
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(20, "web up", |out, _| out.contains("web up"));
    let out = top(&["--socket", socket.to_str().unwrap(), "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "logmux top: logmux at {} sends no metrics: ",
            socket.display()
        )),
        "{err}"
    );
    assert!(err.contains("--metrics-listen"), "{err}");
    assert_eq!(out.stdout, b"");
    run.signal(libc::SIGTERM);
    let _ = run.finish(20);
}

#[test]
fn nothing_listening_exits_69_and_no_terminal_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let out = top(&["--socket", socket.to_str().unwrap(), "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(
        err.contains(&format!("cannot reach logmux at {}", socket.display())),
        "{err}"
    );

    let (url, _) = metrics_server();
    let out = top(&["--metrics", &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("not a terminal"), "{err}");
}

#[test]
fn an_answer_that_is_not_metrics_exits_65() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<html>hello</html>\n";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let out = top(&["--metrics", &url, "--once", "--interval", "10ms"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains("not the Prometheus text format: line 1"),
        "{err}"
    );
}
