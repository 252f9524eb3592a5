//! `logmux ctl` against a running `logmux run`: status table, stop, start,
//! restart and signal, over a 0600 unix socket; and the config front doors
//! `logmux check` and templates with their exit codes.

#[path = "support/run.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use support::*;

#[test]
fn ctl_steers_programs_through_the_socket() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.web]
command = ["sh", "-c", "trap 'echo web got USR1' USR1; echo web up; while true; do sleep 0.05; done"]
[program.worker]
command = ["sh", "-c", "echo worker up; exec sleep 60"]
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(20, "both up", |out, _| {
        out.contains("web up") && out.contains("worker up")
    });
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Until both are up for startsecs, status says so with exit code 3.
    let (code, status, _) = ctl(&socket, &["status"]);
    assert!(
        code == 3 && status.contains("starting") || code == 0,
        "{code}: {status}"
    );
    run.wait_for(10, "both running", |_, _| ctl(&socket, &["status"]).0 == 0);
    let (code, status, _) = ctl(&socket, &["status"]);
    assert_eq!(code, 0);
    let header: Vec<&str> = status.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "EXIT"]
    );
    assert!(status
        .lines()
        .any(|l| l.starts_with("web ") && l.contains("starting")
            || l.starts_with("web ") && l.contains("running")));
    let worker_pid = pid_of(&status, "worker");
    assert!(worker_pid.parse::<i32>().is_ok_and(|p| p > 1), "{status}");

    let (code, said, _) = ctl(&socket, &["signal", "web", "USR1"]);
    assert_eq!(code, 0, "{said}");
    run.wait_for(10, "the signal", |out, _| out.contains("web got USR1"));

    let (code, said, _) = ctl(&socket, &["stop", "worker"]);
    assert_eq!((code, said.trim()), (0, "stopping worker"));
    run.wait_for(10, "worker stopped", |_, err| err.contains("worker exited"));
    let (code, status, _) = ctl(&socket, &["status"]);
    assert_eq!(code, 3, "a long-running program is down: {status}");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("worker ") && l.contains("exited")),
        "{status}"
    );

    let (code, said, _) = ctl(&socket, &["start", "worker"]);
    assert_eq!(code, 0, "{said}");
    run.wait_for(10, "worker again", |out, _| {
        out.matches("worker up").count() == 2
    });
    let (_, status, _) = ctl(&socket, &["status"]);
    let new_pid = pid_of(&status, "worker");
    assert_ne!(new_pid, worker_pid);

    let (code, said, _) = ctl(&socket, &["restart", "worker"]);
    assert_eq!((code, said.trim()), (0, "restarting worker"));
    run.wait_for(10, "worker restarted", |out, _| {
        out.matches("worker up").count() == 3
    });

    let (code, _, err) = ctl(&socket, &["stop", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no program named `nosuch`"), "{err}");
    let (code, json, _) = ctl(&socket, &["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let programs = v["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 2);
    // The restarted worker may still be starting: the code says which.
    let all_running = programs.iter().all(|p| p["state"] == "running");
    assert_eq!(code, if all_running { 0 } else { 3 }, "{json}");

    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert!(!socket.exists(), "the socket is removed at exit");
    let (code, _, err) = ctl(&socket, &["status"]);
    assert_eq!(code, 69);
    assert!(err.contains("cannot reach logmux"), "{err}");
}

#[test]
fn missing_variables_stop_start_up_with_exit_78_and_one_line() {
    let run = start_with(
        r#"
control_socket = ""
[env]
required = ["DJANGO_SETTINGS_MODULE", "NGINX_SERVER_NAME"]
[program.a]
command = ["true"]
"#,
        |cmd| {
            cmd.env("DJANGO_SETTINGS_MODULE", "project.settings")
                .env_remove("NGINX_SERVER_NAME");
        },
    );
    let done = run.finish(20);
    assert_eq!(done.code, Some(78));
    let lines: Vec<&str> = done.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", done.stderr);
    let e: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(e["severity_text"], "ERROR");
    assert_eq!(e["logmux"]["variable"], "NGINX_SERVER_NAME");
    assert!(e["message"].as_str().unwrap().ends_with(
        "logmux.toml:4:39: env.required: environment variable NGINX_SERVER_NAME is required but not set"
    ));
}

#[test]
fn templates_render_before_programs_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.conf.in"),
        "server_name ${NGINX_SERVER_NAME};\nprocesses = ${UWSGI_PROCESSES}\nreturn 301 https://$host$request_uri;\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ssl.conf.in"), "ssl on\n").unwrap();
    std::fs::write(
        dir.path().join("plain.conf.in"),
        "plain ${NGINX_SERVER_NAME}\n",
    )
    .unwrap();
    let config = write_config(dir.path(), TEMPLATE_CONFIG);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("NGINX_SERVER_NAME", "example.org")
        .env("USE_SSL", "")
        .env_remove("UWSGI_PROCESSES")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = spawn(cmd, dir).finish(20);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(
        messages_of(&out, "show"),
        [
            "server_name example.org;",
            "processes = 2",
            "return 301 https://$host$request_uri;"
        ]
    );
    let rendered = done.dir.path().join("out");
    assert!(!rendered.join("ssl.conf").exists());
    assert_eq!(
        std::fs::read_to_string(rendered.join("plain.conf")).unwrap(),
        "plain example.org\n"
    );

    // A variable a template needs, missing: exit 78, naming file and variable.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.conf.in"),
        "a\nserver_name ${NGINX_SERVER_NAME:?the site's name};\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("plain.conf.in"), "").unwrap();
    let config = write_config(dir.path(), TEMPLATE_CONFIG);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .env_remove("NGINX_SERVER_NAME")
        .env_remove("USE_SSL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = spawn(cmd, dir).finish(20);
    assert_eq!(done.code, Some(78));
    let own = events(&done.stderr);
    let errors: Vec<_> = own
        .iter()
        .filter(|e| e["severity_text"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["message"].as_str().unwrap().ends_with(
        "site.conf.in:2:13: environment variable NGINX_SERVER_NAME is required: the site's name"
    ));
    assert!(done.stdout.is_empty(), "no program ran");
}

const TEMPLATE_CONFIG: &str = r#"
control_socket = ""
[env]
defaults = { UWSGI_PROCESSES = "2" }
[[template]]
source = "@DIR@/site.conf.in"
target = "@DIR@/out/site.conf"
[[template]]
source = "@DIR@/ssl.conf.in"
target = "@DIR@/out/ssl.conf"
when = "USE_SSL"
[[template]]
source = "@DIR@/plain.conf.in"
target = "@DIR@/out/plain.conf"
when = "!USE_SSL"
[program.show]
command = ["cat", "@DIR@/out/site.conf"]
autorestart = "never"
"#;

#[test]
fn check_reports_the_first_error_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), "[program.a]\ncommand = \"sleep 1\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["check", "-c"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 programs"));
    let bad = write_config(
        dir.path(),
        "[program.a]\ncommand = \"sleep 1\"\nstopsignal = \"TREM\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["check", "-c"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("logmux.toml:3:14: program.a.stopsignal: `TREM` is not a signal name"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["check", "-c", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66));
}

#[test]
fn file_sinks_rotate_and_reopen_on_sigusr1() {
    let run = start(
        r#"
control_socket = ""
[sink.app]
type = "file"
path = "@DIR@/logs/app.jsonl"
[program.ticker]
command = ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.02; done"]
stdout = { sink = "app" }
"#,
    );
    let log = run.dir.path().join("logs/app.jsonl");
    let moved = run.dir.path().join("logs/app.jsonl.old");
    run.wait_for(20, "ticks in the file", |_, _| {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 5)
    });
    std::fs::rename(&log, &moved).unwrap();
    run.signal(libc::SIGUSR1);
    run.wait_for(20, "a new file", |_, _| {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 5)
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert!(done.stdout.is_empty(), "routed to the file, not stdout");
    // Old file then new file: every tick exactly once, in order.
    let mut ticks = Vec::new();
    for path in [
        done.dir.path().join("logs/app.jsonl.old"),
        done.dir.path().join("logs/app.jsonl"),
    ] {
        ticks.extend(
            events(&std::fs::read_to_string(path).unwrap())
                .iter()
                .map(|e| e["message"].as_str().unwrap().to_string()),
        );
    }
    assert!(ticks.len() >= 10);
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(*t, format!("tick {i}"));
    }
}
