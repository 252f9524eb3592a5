//! `ready = { fd | notify | exec | http }` with real programs: a dependent
//! program is held back until the signal. Each test gates the signal on a
//! file the test creates, checks (through `logmux ctl status`, after the
//! supervisor has seen the program for a while) that the dependent is still
//! `waiting`, then lets the signal go and checks the order of what logmux
//! wrote: the program's line before the signal, `svc is ready`, then
//! `spawned dep`, then the dependent's first line. Everything goes to one
//! stdout sink (`log_sink = "stdout"`), so the order is the order of events.

#[path = "support/run.rs"]
mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// Every line logmux wrote, as events; the index of the first whose
/// message is `message` (of any service).
fn index_of(events: &[Value], message: &str) -> usize {
    events
        .iter()
        .position(|e| e["message"] == message)
        .unwrap_or_else(|| panic!("no event `{message}` in {events:#?}"))
}

/// The state column of `name` in `ctl status`.
fn state_of(socket: &Path, name: &str) -> String {
    let (_, status, _) = ctl(socket, &["status"]);
    status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string()
}

/// `dep` stays `waiting` while `svc` is `starting` (its readiness not
/// given), asked five times (each answer is a turn of the supervisor's
/// loop, which probes readiness every 100 ms).
fn assert_held_back(socket: &Path) {
    for _ in 0..5 {
        assert_eq!(state_of(socket, "svc"), "starting");
        assert_eq!(state_of(socket, "dep"), "waiting");
    }
}

/// Creates the gate, waits for the dependent's first line, stops logmux
/// and checks the order of events; returns them.
fn release_and_check_order(run: Running, before_signal: &str) -> Vec<Value> {
    std::fs::write(run.dir.path().join("go"), "").unwrap();
    // The line's own event: `spawned dep`'s event already holds the text in
    // its `logmux.command`, and stopping then could kill dep before it
    // wrote (the fresh-clone CI run failed so, twice).
    run.wait_for(30, "dep's first line", |out, _| {
        out.contains(r#""message":"dep first line""#)
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let events = events(&done.stdout);
    let signal = events
        .iter()
        .position(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(before_signal))
        })
        .unwrap_or_else(|| panic!("no event `{before_signal}…`"));
    let ready = index_of(&events, "svc is ready");
    let spawned = events
        .iter()
        .position(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("spawned dep"))
        })
        .expect("spawned dep");
    let first = index_of(&events, "dep first line");
    assert!(
        signal < ready && ready < spawned && spawned < first,
        "order: signal {signal}, ready {ready}, spawned {spawned}, first line {first}"
    );
    events
}

const DEP: &str = r#"
[program.dep]
command = ["sh", "-c", "echo dep first line; exec sleep 60"]
depends_on = ["svc"]
"#;

#[test]
fn fd_readiness_holds_back_the_dependent_until_the_newline() {
    // Bytes without a newline first: not the signal (s6's rule).
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
log_sink = "stdout"
[program.svc]
command = ["sh", "-c", "printf almost >&3; echo svc waits; while [ ! -e @DIR@/go ]; do sleep 0.02; done; echo svc signals; echo >&3; exec sleep 60"]
ready = {{ fd = 3, timeout = "60s" }}
{DEP}"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "svc waits", |out, _| out.contains("svc waits"));
    assert_held_back(&socket);
    let events = release_and_check_order(run, "svc signals");
    // The fd is the program's only: `sleep` (exec'd) holds it, nothing else.
    assert_eq!(
        events
            .iter()
            .filter(|e| e["message"] == "dep first line")
            .count(),
        1
    );
}

/// A python3 sender of one datagram to `NOTIFY_SOCKET` (`@` = abstract).
/// No backslash in it: it goes into a TOML string and a shell's.
const SEND_READY: &str = "import os, socket; a = os.environ['NOTIFY_SOCKET']; a = chr(0) + a[1:] if a.startswith('@') else a; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'STATUS=up' + bytes([10]) + b'READY=1', a)";

#[test]
fn notify_readiness_holds_back_the_dependent_until_ready_1() {
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
log_sink = "stdout"
[program.svc]
command = ["sh", "-c", "echo \"svc waits $NOTIFY_SOCKET\"; while [ ! -e @DIR@/go ]; do sleep 0.02; done; echo svc signals; python3 -c \"{SEND_READY}\"; exec sleep 60"]
ready = {{ notify = true }}
{DEP}"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "svc waits", |out, _| {
        out.contains("svc waits @logmux-notify-")
    });
    assert_held_back(&socket);

    // READY=1 from a process outside the program's group (this test) is
    // refused: the kernel says who sent it.
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(SEND_READY)
        .env("NOTIFY_SOCKET", notify_socket_of(&run.stdout_now()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run.wait_for(30, "the refusal", |out, _| {
        out.contains("svc: a READY=1 from another process")
    });
    assert_held_back(&socket);
    let events = release_and_check_order(run, "svc signals");
    let refused: Vec<_> = events
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("READY=1 from another process"))
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("is not in svc's process group"),
        "{refused:#?}"
    );
}

/// The `@name` svc printed.
fn notify_socket_of(stdout: &str) -> String {
    let at = stdout.find("svc waits @").expect("svc's line") + "svc waits ".len();
    stdout[at..]
        .split(|c: char| c == '"' || c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn exec_readiness_holds_back_the_dependent_until_the_command_passes() {
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
log_sink = "stdout"
[program.svc]
command = ["sh", "-c", "echo svc waits; exec sleep 60"]
ready = {{ exec = "test -e @DIR@/go", interval = "100ms" }}
{DEP}"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "svc waits", |out, _| out.contains("svc waits"));
    assert_held_back(&socket);
    release_and_check_order(run, "svc waits");
}

#[test]
fn http_readiness_waits_for_a_2xx() {
    // python3's http.server answers 404 until the file exists, then 200.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
log_sink = "stdout"
[program.svc]
command = ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", "@DIR@", "{port}"]
stderr = {{ sink = "stdout" }}
ready = {{ http = "http://127.0.0.1:{port}/go", interval = "100ms" }}
{DEP}"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(30, "a 404 for /go", |out, _| {
        out.contains("GET /go HTTP/1.1\\\" 404")
    });
    assert_held_back(&socket);
    let events = release_and_check_order(run, "Serving HTTP on 127.0.0.1 port");
    let ok = events
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("GET /go HTTP/1.1\" 200"))
        })
        .count();
    assert_eq!(ok, 1, "one passing try, then no more");
}

#[test]
fn a_program_never_ready_is_killed_at_its_timeout_with_the_last_reason() {
    let run = start(
        r#"
log_sink = "stdout"
[program.svc]
command = ["sleep", "60"]
ready = { exec = "sh -c 'exit 7'", interval = "100ms", timeout = "1s" }
startretries = 0
on_exit = "shutdown"
"#,
    );
    let done = run.finish(60);
    let events = events(&done.stdout);
    let timeout: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains("was not ready after"))
        .collect();
    assert_eq!(
        timeout,
        ["svc was not ready after 1s (last try: `sh -c exit 7` ended with exit code 7): killing it"]
    );
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "svc gave up: it failed to start 1 times in a row"),
        "{}",
        done.stdout
    );
    assert_eq!(
        done.code,
        Some(137),
        "SIGKILL's code, as on_exit = shutdown says"
    );
}
