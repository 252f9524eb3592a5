//! `health = { http | exec, interval, timeout, failures }` and `logmux ctl
//! health` with real programs.
//!
//! `exec_probe_health_and_ctl_health_codes` needs nothing but sh: a probe
//! command that fails while a file exists. `nginx_turns_unhealthy_when_uwsgi_stops`
//! runs the real stack (Debian's nginx in front of uWSGI and the Django app
//! in docker/app, tests/stack/health.toml) and probes Django's /healthz
//! through nginx: `ctl stop uwsgi` makes nginx answer 502, and nginx turns
//! unhealthy at exactly its `failures`-th failing probe; `ctl start uwsgi`
//! makes it healthy again. It needs root and the packages (skipped without
//! them, a failure under CI or `LOGMUX_LIVE=1`).

#[path = "support/run.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// Asks `ctl health` until its exit code is `code` and its output has
/// every one of `needles`; returns the output.
fn health_until(socket: &Path, code: i32, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (got, out, err) = ctl(socket, &["health"]);
        if got == code && needles.iter().all(|n| out.contains(n)) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "ctl health never exited {code} with {needles:?}; last: {got} {out} {err}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The HEALTH column of `name` in `ctl status`'s table.
fn health_column(socket: &Path, name: &str) -> String {
    let (_, status, _) = ctl(socket, &["status"]);
    let header: Vec<&str> = status
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let at = header
        .iter()
        .position(|h| *h == "HEALTH")
        .expect("a HEALTH column");
    status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(at))
        .unwrap_or("")
        .to_string()
}

/// logmux's own events whose message starts with `prefix`.
fn said<'e>(events: &'e [Value], prefix: &str) -> Vec<&'e Value> {
    own_with(events, prefix)
}

#[test]
fn exec_probe_health_and_ctl_health_codes() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
log_sink = "stdout"
[program.app]
command = ["sleep", "600"]
startsecs = 0
health = { exec = "test ! -e @DIR@/sick", interval = "100ms", timeout = "5s", failures = 3 }
[program.plain]
command = ["sleep", "600"]
startsecs = 0
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    let out = health_until(&socket, 0, &["healthy"]);
    assert_eq!(out.trim(), "healthy");
    assert_eq!(health_column(&socket, "app"), "healthy");
    // A program without a probe shows `-`.
    assert_eq!(health_column(&socket, "plain"), "-");

    std::fs::write(run.dir.path().join("sick"), "").unwrap();
    let out = health_until(&socket, 1, &["unhealthy"]);
    let shown = format!(
        "`test ! -e {}/sick` ended with exit code 1",
        run.dir.path().display()
    );
    // The probe goes on failing while the test reads: 3 or more.
    assert_eq!(
        counted(&out, 3),
        format!("unhealthy:\n  program app is unhealthy: {shown} (N failures in a row)")
    );
    assert_eq!(health_column(&socket, "app"), "unhealthy");
    let (code, json, _) = ctl(&socket, &["--json", "health"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["healthy"], false);
    assert_eq!(v["probes"][0]["name"], "app");
    assert_eq!(v["probes"][0]["health"], "unhealthy");
    assert_eq!(v["probes"].as_array().unwrap().len(), 1);

    std::fs::remove_file(run.dir.path().join("sick")).unwrap();
    health_until(&socket, 0, &["healthy"]);

    // A long-running program that is down makes the whole unhealthy.
    let (code, _, _) = ctl(&socket, &["stop", "plain"]);
    assert_eq!(code, 0);
    let out = health_until(&socket, 1, &["program plain is down"]);
    assert_eq!(out.trim(), "unhealthy:\n  program plain is down (exited)");
    ctl(&socket, &["start", "plain"]);
    health_until(&socket, 0, &["healthy"]);

    // A stopped program's probe stops with it: no probe command runs on.
    let (code, _, _) = ctl(&socket, &["stop", "app"]);
    assert_eq!(code, 0);
    let out = health_until(&socket, 1, &["program app is down"]);
    assert_eq!(out.trim(), "unhealthy:\n  program app is down (exited)");
    let (_, status, _) = ctl(&socket, &["status"]);
    assert!(
        !status.contains("HEALTH"),
        "no probe runs: no column\n{status}"
    );

    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stdout);
    let events = events(&done.stdout);
    // Each change said once: healthy, unhealthy, healthy again.
    let exactly = |m: &str| {
        said(&events, m)
            .iter()
            .filter(|e| e["message"] == m)
            .count()
    };
    assert_eq!(exactly("app is healthy"), 1);
    let sick = said(&events, "app is unhealthy: ");
    assert_eq!(sick.len(), 1);
    assert_eq!(sick[0]["logmux"]["failures_in_a_row"], 3);
    assert_eq!(exactly("app is healthy again"), 1);
    // Probe commands are reaped by logmux and not taken for orphans.
    assert!(said(&events, "reaped orphan").is_empty());
}

// ------------------------------------------------------------ the stack

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const STACK: &[&str] = &[
    "/usr/sbin/nginx",
    "/usr/bin/uwsgi",
    "/usr/lib/uwsgi/plugins/python3_plugin.so",
    "/usr/lib/python3/dist-packages/django",
];

/// Starts tests/stack/health.toml on a free port (again on another when
/// one was taken before nginx bound it); waits until nginx serves.
fn start_stack() -> (Running, u16) {
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::Builder::new()
            .prefix("logmux-health-")
            .tempdir()
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
        cmd.arg("run")
            .arg("--config")
            .arg(repo().join("tests/stack/health.toml"))
            .env("STACK_DIR", dir.path())
            .env("STACK_PORT", port.to_string())
            .env("APP_DIR", repo().join("docker/app"))
            .env_remove("UWSGI_PROCESSES")
            .env_remove("PYTHONHOME")
            .env_remove("PYTHONPATH")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("LC_ALL", "C.UTF-8")
            .env("TZ", "UTC")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let run = spawn(cmd, dir);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = run.stdout_now();
            if out.contains("Address already in use") {
                break;
            }
            if out.contains("spawned nginx")
                && ctl(&run.dir.path().join("ctl.sock"), &["health"]).0 == 0
            {
                return (run, port);
            }
            assert!(
                Instant::now() < deadline,
                "the stack never got healthy:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        run.signal(libc::SIGKILL);
    }
    panic!("three free ports were taken before nginx bound them");
}

#[test]
fn nginx_turns_unhealthy_when_uwsgi_stops() {
    let lacking: Vec<&&str> = STACK.iter().filter(|p| !Path::new(p).exists()).collect();
    // SAFETY: geteuid has no preconditions.
    if !lacking.is_empty() || unsafe { libc::geteuid() } != 0 {
        skip_or_fail(
            "nginx_turns_unhealthy_when_uwsgi_stops",
            &format!("needs root and {lacking:?}"),
        );
        return;
    }
    let (run, port) = start_stack();
    let socket = run.dir.path().join("ctl.sock");
    assert_eq!(health_column(&socket, "nginx"), "healthy");

    let (code, said_, _) = ctl(&socket, &["stop", "uwsgi"]);
    assert_eq!((code, said_.trim()), (0, "stopping uwsgi"));
    let url = format!("http://127.0.0.1:{port}/healthz");
    let out = health_until(
        &socket,
        1,
        &["program uwsgi is down", "program nginx is unhealthy"],
    );
    assert_eq!(
        counted(&out, 2),
        format!(
            "unhealthy:\n  program uwsgi is down (exited)\n  program nginx is unhealthy: {url} answered 502 (N failures in a row)"
        )
    );

    let (code, _, _) = ctl(&socket, &["start", "uwsgi"]);
    assert_eq!(code, 0);
    assert_eq!(health_until(&socket, 0, &["healthy"]).trim(), "healthy");
    assert_eq!(health_column(&socket, "nginx"), "healthy");

    run.signal(libc::SIGTERM);
    let done = run.finish(60);
    assert_eq!(done.code, Some(0), "{}", done.stdout);
    let events = events(&done.stdout);
    // Unhealthy at exactly the second failing probe, said once.
    let sick = said(&events, "nginx is unhealthy: ");
    assert_eq!(sick.len(), 1, "{sick:#?}");
    assert_eq!(
        sick[0]["message"],
        format!("nginx is unhealthy: {url} answered 502 (2 failures in a row)")
    );
    assert_eq!(sick[0]["logmux"]["failures_in_a_row"], 2);
    assert_eq!(said(&events, "nginx is healthy again").len(), 1);
    // nginx said 502 for the probes while uWSGI was down.
    let bad_gateway = events
        .iter()
        .filter(|e| e["http"]["response"]["status_code"] == 502)
        .count();
    assert!(bad_gateway >= 2, "{bad_gateway} 502s");
}

/// `ctl health`'s text with its count of failures in a row as `N`, after
/// checking the count is at least `min` (the probe goes on failing while
/// the test reads it).
fn counted(out: &str, min: u32) -> String {
    let at = out.rfind(" failures in a row").expect("a count");
    let open = out[..at].rfind('(').expect("(") + 1;
    let n: u32 = out[open..at].parse().expect("a number");
    assert!(n >= min, "{out}");
    format!("{}N{}", &out[..open], &out[at..])
        .trim()
        .to_string()
}
