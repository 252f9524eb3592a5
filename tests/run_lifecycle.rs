//! How `logmux run` starts, restarts and stops programs, and the exit code
//! it ends with: crash loops with backoff, `on_exit = "shutdown"`, natural
//! ends, `once` and `every` programs, dependency order at start and stop,
//! SIGKILL after `stopwaitsecs`, and the last sweep of escaped processes.

#[path = "support/run.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;

#[test]
fn a_crash_loop_backs_off_then_shuts_down_with_its_code() {
    let run = start(
        r#"
control_socket = ""

[program.crasher]
command = ["sh", "-c", "echo trying; exit 3"]
startsecs = 1
startretries = 2
backoff = "100ms"
on_exit = "shutdown"

[program.bystander]
command = ["sleep", "60"]
"#,
    );
    let done = run.finish(30);
    assert_eq!(done.code, Some(3), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(own_with(&own, "spawned crasher").len(), 3);
    let delays: Vec<i64> = own_with(&own, "crasher failed to start")
        .iter()
        .map(|e| e["logmux"]["delay_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(delays, [100, 200]);
    assert_eq!(
        own_with(&own, "crasher gave up: it failed to start 3 times in a row").len(),
        1
    );
    assert_eq!(own_with(&own, "stopping bystander with SIGTERM").len(), 1);
    assert_eq!(messages_of(&events(&done.stdout), "crasher"), ["trying"; 3]);
}

#[test]
fn a_natural_end_exits_with_the_first_failure() {
    let run = start(
        r#"
control_socket = ""
[program.fine]
command = ["true"]
autorestart = "never"
[program.fails]
command = ["sh", "-c", "sleep 0.3; exit 5"]
autorestart = "never"
[program.later]
command = ["sh", "-c", "sleep 0.6; exit 6"]
autorestart = "never"
"#,
    );
    let done = run.finish(30);
    assert_eq!(done.code, Some(5), "stderr: {}", done.stderr);

    let run = start(
        "control_socket = \"\"\n[program.a]\ncommand = [\"true\"]\nautorestart = \"never\"\n[program.b]\ncommand = [\"sh\", \"-c\", \"sleep 0.2\"]\nautorestart = \"never\"\n",
    );
    assert_eq!(run.finish(30).code, Some(0));

    // `on_exit = "ignore"`: its failure changes nothing.
    let run = start(
        "control_socket = \"\"\n[program.a]\ncommand = [\"true\"]\nautorestart = \"never\"\n[program.b]\ncommand = [\"sh\", \"-c\", \"exit 9\"]\non_exit = \"ignore\"\n",
    );
    assert_eq!(run.finish(30).code, Some(0));

    // A command that cannot run is 127, as a shell says…
    let run = start("control_socket = \"\"\n[program.a]\ncommand = [\"/nonexistent/program\"]\nautorestart = \"never\"\nstartretries = 0\n");
    let done = run.finish(30);
    assert_eq!(done.code, Some(127));
    assert_eq!(
        own_with(
            &events(&done.stderr),
            "cannot start a: cannot run `/nonexistent/program`: No such file or directory"
        )
        .len(),
        1
    );

    // …and a signal is 128 + its number.
    let run = start("control_socket = \"\"\n[program.a]\ncommand = [\"sh\", \"-c\", \"kill -9 $$\"]\nautorestart = \"never\"\n");
    assert_eq!(run.finish(30).code, Some(137));
}

#[test]
fn once_programs_run_first_and_a_failure_aborts_start_up() {
    let run = start(
        r#"
control_socket = ""
[program.server]
command = ["sh", "-c", "cat @DIR@/made-by-setup; echo server up"]
autorestart = "never"
depends_on = ["setup"]
[program.setup]
command = ["sh", "-c", "echo setting up; echo ready-file > @DIR@/made-by-setup"]
once = true
"#,
    );
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "setup"), ["setting up"]);
    assert_eq!(messages_of(&out, "server"), ["ready-file", "server up"]);

    let run = start(
        r#"
control_socket = ""
[program.server]
command = ["sh", "-c", "echo must not run"]
[program.migrate]
command = ["sh", "-c", "echo 'migration 0042 failed' >&2; exit 4"]
once = true
"#,
    );
    let done = run.finish(30);
    assert_eq!(done.code, Some(4));
    let out = events(&done.stdout);
    assert!(messages_of(&out, "server").is_empty());
    let own = events(&done.stderr);
    // The failed program's own output is shown, tagged, before the error.
    assert_eq!(messages_of(&own, "migrate"), ["migration 0042 failed"]);
    assert_eq!(
        own_with(
            &own,
            "start-up failed: the once program migrate ended with exit code 4"
        )
        .len(),
        1
    );
    assert!(own_with(&own, "spawned server").is_empty());
}

#[test]
fn every_programs_run_periodically_with_tagged_output() {
    let run = start(
        r#"
control_socket = ""
[program.renew]
command = ["sh", "-c", "echo renewing"]
every = "1s"
[program.web]
command = ["sleep", "60"]
"#,
    );
    run.wait_for(20, "three renewals", |out, _| {
        out.matches("renewing").count() >= 3
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert!(messages_of(&out, "renew").iter().all(|m| *m == "renewing"));
    assert!(messages_of(&out, "renew").len() >= 3);
}

#[test]
fn stops_go_in_reverse_dependency_order() {
    // Each program says when it got TERM; `web` depends on `app`, so it
    // must be told (and be gone) before `app` is told.
    let trap = |name: &str| {
        format!(
            "[\"sh\", \"-c\", \"trap 'echo {name} got TERM; sleep 0.3; echo {name} leaving; exit 0' TERM; echo {name} up; while true; do sleep 0.05; done\"]"
        )
    };
    let run = start(&format!(
        r#"
control_socket = ""
[program.web]
command = {web}
depends_on = ["app"]
[program.app]
command = {app}
ready = {{ file = "@DIR@/app.ready" }}
[program.marker]
command = ["sh", "-c", "sleep 0.5; touch @DIR@/app.ready; sleep 60"]
"#,
        web = trap("web"),
        app = trap("app")
    ));
    run.wait_for(20, "both up", |out, _| {
        out.contains("web up") && out.contains("app up")
    });
    let own = events(&run.stderr_now());
    let order: Vec<&str> = own_with(&own, "")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| *m == "app is ready" || m.starts_with("spawned web"))
        .collect();
    assert_eq!(
        order.first(),
        Some(&"app is ready"),
        "web started before app was ready"
    );
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let lines: Vec<String> = events(&done.stdout)
        .iter()
        .filter_map(|e| e["message"].as_str().map(String::from))
        .filter(|m| m.contains("TERM") || m.contains("leaving"))
        .collect();
    assert_eq!(
        lines,
        ["web got TERM", "web leaving", "app got TERM", "app leaving"]
    );
}

#[test]
fn a_program_that_ignores_its_stop_signal_is_killed_and_leftovers_are_swept() {
    let marker = format!("logmux-sweep-{}", std::process::id());
    let run = start(&format!(
        r#"
control_socket = ""
[program.stubborn]
command = ["sh", "-c", "trap 'echo stubborn ignores TERM' TERM; echo stubborn up; while true; do sleep 0.1; done"]
stopwaitsecs = 1
[program.escaper]
command = ["sh", "-c", "setsid python3 -c 'import time; time.sleep(300)' $MARK & echo escaped; exec sleep 60"]
environment = {{ MARK = "{marker}" }}
[program.nested]
command = ["sh", "-c", "sh -c 'python3 -c \"import time; time.sleep(300)\" $MARK & wait' & echo nested; exec sleep 60"]
environment = {{ MARK = "{marker}" }}
stop_as_group = false
kill_as_group = false
"#
    ));
    run.wait_for(20, "all up", |out, _| {
        out.contains("stubborn up") && out.contains("escaped") && out.contains("nested")
    });
    // One escaped into its own session, one left in a group nobody signals
    // (started in the background: wait for both to be python, as a
    // wrapper such as pyenv's shim runs under the same command line first).
    let pythons = || {
        let comm = |p: i32| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        let all = processes_with(&marker);
        all.len() == 2 && all.iter().all(|&p| comm(p).starts_with("python"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pythons() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        processes_with(&marker).len(),
        2,
        "the escaped and nested processes run"
    );
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    // Stopped by a signal, but one program had to be killed: not clean.
    assert_eq!(done.code, Some(137), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    // TERM first, which it caught and outlived; SIGKILL only after that.
    let order: Vec<&str> = own_with(&own, "")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("stopping stubborn") || m.starts_with("stubborn "))
        .collect();
    assert_eq!(
        order,
        [
            "stopping stubborn with SIGTERM",
            "stubborn did not stop within 1s: SIGKILL",
            "stubborn exited: signal 9 (SIGKILL)"
        ]
    );
    let said = messages_of(&events(&done.stdout), "stubborn").join("|");
    assert_eq!(said, "stubborn up|stubborn ignores TERM");
    assert!(
        processes_with(&marker).is_empty(),
        "the escaped process survived the sweep"
    );
}

#[test]
fn sighup_is_forwarded_or_restarts_as_configured() {
    let run = start(
        r#"
control_socket = ""
[program.reloader]
command = ["sh", "-c", "trap 'echo reloading' HUP; echo started; while true; do sleep 0.05; done"]
[program.restarter]
command = ["sh", "-c", "echo restarter started; exec sleep 60"]
sighup = "restart"
[program.deaf]
command = ["sh", "-c", "echo deaf started; exec sleep 60"]
sighup = "ignore"
"#,
    );
    run.wait_for(20, "all up", |out, _| {
        out.contains("\"started\"")
            && out.contains("restarter started")
            && out.contains("deaf started")
    });
    run.signal(libc::SIGHUP);
    run.wait_for(20, "the reload and the restart", |out, _| {
        out.contains("reloading") && out.matches("restarter started").count() == 2
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "deaf"), ["deaf started"]);
    assert_eq!(messages_of(&out, "reloader"), ["started", "reloading"]);
}

#[test]
fn one_command_without_a_config_works_like_tini() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--", "sh", "-c", "echo hi; echo oops >&2; exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    let stdout = events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(messages_of(&stdout, "sh"), ["hi"]);
    let stderr = events(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(messages_of(&stderr, "sh"), ["oops"]);
    assert_eq!(own_with(&stderr, "spawned sh").len(), 1, "no restart");

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--", "sh", "-c", "echo up; exec sleep 60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let run = spawn(cmd, dir);
    run.wait_for(20, "up", |out, _| out.contains("up"));
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(0), "stopped by its stop signal: clean");
}

#[test]
fn a_program_never_ready_is_a_failed_start_and_its_dependents_wait() {
    let run = start(
        r#"
control_socket = ""
[program.web]
command = ["sh", "-c", "echo web must not start"]
depends_on = ["app"]
[program.app]
command = ["sleep", "60"]
ready = { file = "@DIR@/never", timeout = "300ms" }
startretries = 1
backoff = "100ms"
on_exit = "shutdown"
"#,
    );
    let done = run.finish(30);
    assert_eq!(
        done.code,
        Some(137),
        "killed at its ready timeout: {}",
        done.stderr
    );
    let own = events(&done.stderr);
    assert_eq!(
        own_with(&own, "app was not ready after 300ms: killing it").len(),
        2
    );
    assert_eq!(
        own_with(&own, "app failed to start; trying again in 100ms").len(),
        1
    );
    assert!(own_with(&own, "spawned web").is_empty());
    assert!(done.stdout.is_empty());
}

#[test]
fn a_second_sigterm_kills_without_waiting() {
    let run = start(
        r#"
control_socket = ""
[program.stubborn]
command = ["sh", "-c", "trap '' TERM INT; echo up; while true; do sleep 0.1; done"]
stopwaitsecs = 60
"#,
    );
    run.wait_for(20, "up", |out, _| out.contains("up"));
    run.signal(libc::SIGTERM);
    run.wait_for(20, "the stop", |_, err| err.contains("stopping stubborn"));
    run.signal(libc::SIGINT);
    let done = run.finish(30);
    assert_eq!(done.code, Some(137));
    let own = events(&done.stderr);
    assert_eq!(
        own_with(
            &own,
            "SIGINT again while stopping: killing what is left now"
        )
        .len(),
        1
    );
}

#[test]
fn a_dependent_says_when_its_dependency_has_given_up() {
    let run = start(
        r#"
control_socket = ""
[program.web]
command = ["sh", "-c", "echo web must not start"]
depends_on = ["app"]
[program.app]
command = ["sleep", "60"]
ready = { file = "@DIR@/never", timeout = "200ms" }
startretries = 0
"#,
    );
    run.wait_for(20, "the warning", |_, err| {
        err.contains("web waits for app")
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(0), "nothing was running at the stop: clean");
    let own = events(&done.stderr);
    let said = own_with(
        &own,
        "web waits for app, which has ended and will not restart by itself",
    );
    assert_eq!(said.len(), 1);
    assert_eq!(said[0]["severity_text"], "WARN");
    assert!(done.stdout.is_empty());
}

#[test]
fn user_directory_and_environment_are_applied() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        skip_or_fail(
            "user_directory_and_environment_are_applied",
            "not root: the switch to user nobody is not checked",
        );
    }
    let user = if root { "user = \"nobody\"\n" } else { "" };
    let run = start(&format!(
        r#"
control_socket = ""
[env]
defaults = {{ GREETING = "hello" }}
[program.who]
command = ["sh", "-c", "echo uid=$(id -u) user=$USER; pwd; echo $GREETING $EXTRA; echo ctl=$LOGMUX_CONTROL_SOCKET"]
directory = "@DIR@"
environment = {{ EXTRA = "world" }}
autorestart = "never"
{user}"#
    ));
    let done = run.finish(20);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let said = messages_of(&events(&done.stdout), "who")
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    if root {
        assert_eq!(said[0], "uid=65534 user=nobody");
    }
    let dir = done.dir.path().canonicalize().unwrap();
    assert_eq!(said[1], dir.display().to_string());
    assert_eq!(said[2], "hello world");
    // No control socket configured: nothing to point programs at.
    assert_eq!(said[3], "ctl=");
}

#[test]
fn a_missing_directory_is_named_as_such() {
    let run = start("control_socket = \"\"\n[program.a]\ncommand = [\"true\"]\ndirectory = \"/nonexistent\"\nautorestart = \"never\"\nstartretries = 0\n");
    let done = run.finish(30);
    assert_eq!(done.code, Some(127));
    assert_eq!(
        own_with(
            &events(&done.stderr),
            "cannot start a: cannot enter directory `/nonexistent`: No such file or directory"
        )
        .len(),
        1,
        "{}",
        done.stderr
    );
}

/// While a `once` or `every` program runs, logmux waits for it instead of
/// polling: its start left a timer in the past, so the loop spun on
/// `wait4` (88,445 calls in 7 s, a whole core). Two seconds of `sleep`
/// under a spinning logmux cost it well over a second of CPU; waiting
/// costs a few ticks.
#[test]
fn logmux_sleeps_while_a_once_or_every_program_runs() {
    for kind in ["every = \"1s\"", "once = true"] {
        let run = start(&format!(
            r#"
control_socket = ""
[program.setup]
command = ["sleep", "2"]
{kind}
[program.web]
command = ["sleep", "60"]
"#
        ));
        run.wait_for(10, "setup spawned", |_, err| err.contains("spawned setup"));
        let before = cpu_ticks(run.pid());
        std::thread::sleep(Duration::from_millis(1500));
        let spent = cpu_ticks(run.pid()) - before;
        run.signal(15);
        let done = run.finish(30);
        assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
        assert!(
            spent < 30,
            "{kind}: logmux used {spent} ticks of CPU in 1.5 s while waiting"
        );
    }
}
