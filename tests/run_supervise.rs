//! What supervisord users reach for, against a running `logmux run`:
//! `autostart = false` with `logmux ctl start`, `numprocs` with
//! `%(process_num)02d`, groups with `logmux ctl restart GROUP:*`, and
//! `logmux ctl reload` (supervisorctl's reread + update). Real processes,
//! exact names, counts, pids and exit codes.

#[path = "support/run.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

/// `logmux ctl --json status`: each program's state and pid, by name.
fn status(socket: &Path) -> BTreeMap<String, (String, Option<i64>)> {
    let (_, json, err) = ctl(socket, &["--json", "status"]);
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("{e}: {json} {err}"));
    v["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_string();
            (
                name,
                (p["state"].as_str().unwrap().to_string(), p["pid"].as_i64()),
            )
        })
        .collect()
}

/// Polls the status until `cond` holds; panics after `secs`.
fn wait_status(
    socket: &Path,
    secs: u64,
    what: &str,
    cond: impl Fn(&BTreeMap<String, (String, Option<i64>)>) -> bool,
) -> BTreeMap<String, (String, Option<i64>)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if socket.exists() {
            let now = status(socket);
            if cond(&now) {
                return now;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}: {now:?}");
            }
        } else if Instant::now() > deadline {
            panic!("timed out waiting for {what}: no socket");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn all_running(s: &BTreeMap<String, (String, Option<i64>)>, names: &[&str]) -> bool {
    names
        .iter()
        .all(|n| s.get(*n).is_some_and(|(state, _)| state == "running"))
}

fn pid(s: &BTreeMap<String, (String, Option<i64>)>, name: &str) -> i64 {
    s[name]
        .1
        .unwrap_or_else(|| panic!("{name} has no pid: {s:?}"))
}

/// Stops logmux and returns its program events (not logmux's own).
fn stop(run: Running) -> Vec<serde_json::Value> {
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    events(&done.stdout)
        .into_iter()
        .filter(|e| e["service"]["name"] != "logmux")
        .collect()
}

/// A program with `autostart = false` waits, `stopped`, without holding up
/// the program that depends on it or counting as down; `ctl start` starts it.
fn autostart_false_then_ctl_start(config: &str) {
    let run = start(config);
    let socket = run.dir.path().join("ctl.sock");
    let s = wait_status(&socket, 30, "web running", |s| all_running(s, &["web"]));
    assert_eq!(s["later"], ("stopped".to_string(), None), "{s:?}");
    // `stopped` is not down: the HEALTHCHECK's exit code stays 0.
    let (code, table, _) = ctl(&socket, &["status"]);
    assert_eq!(code, 0, "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().take(3).eq(["later", "stopped", "-"])),
        "{table}"
    );
    assert!(!run.stdout_now().contains("later up"));

    let (code, said, err) = ctl(&socket, &["start", "later"]);
    assert_eq!(code, 0, "{said} {err}");
    assert!(said.starts_with("later started (pid "), "{said}");
    run.wait_for(20, "later up", |out, _| out.contains("later up"));
    let s = wait_status(&socket, 30, "later running", |s| {
        all_running(s, &["web", "later"])
    });
    let (code, said, _) = ctl(&socket, &["start", "later"]);
    assert_eq!(code, 1);
    assert!(said.is_empty());
    let program = stop(run);
    assert_eq!(messages_of(&program, "later"), ["later up"]);
    assert_eq!(messages_of(&program, "web"), ["web up"]);
    assert!(pid(&s, "later") > 1);
}

#[test]
fn toml_autostart_false_waits_stopped_until_ctl_start() {
    autostart_false_then_ctl_start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.later]
command = ["sh", "-c", "echo later up; exec sleep 60"]
autostart = false
[program.web]
command = ["sh", "-c", "echo web up; exec sleep 60"]
depends_on = ["later"]
startsecs = 0
"#,
    );
}

#[test]
fn ini_autostart_false_waits_stopped_until_ctl_start() {
    autostart_false_then_ctl_start(
        "[unix_http_server]\nfile=@DIR@/ctl.sock\n\
         [supervisord]\nnodaemon=true\n\
         [program:later]\ncommand=sh -c 'echo later up; exec sleep 60'\nautostart=false\n\
         [program:web]\ncommand=sh -c 'echo web up; exec sleep 60'\nstartsecs=0\n",
    );
}

/// Every process's lines carry its own name, exactly five each.
fn assert_told_apart(
    program: &[serde_json::Value],
    names: &[&str],
    text: impl Fn(&str, i32) -> String,
) {
    for name in names {
        let expected: Vec<String> = (1..=5).map(|i| text(name, i)).collect();
        assert_eq!(messages_of(program, name), expected, "{name}");
        let pids: Vec<&serde_json::Value> = program
            .iter()
            .filter(|e| e["service"]["name"] == *name)
            .map(|e| &e["process"]["pid"])
            .collect();
        assert!(
            pids.iter().all(|p| *p == pids[0] && p.is_u64()),
            "{name}: {pids:?}"
        );
    }
    assert_eq!(program.len(), 5 * names.len());
}

const FIVE_LINES: &str = "for i in 1 2 3 4 5; do echo line $i of %(program_name)s %(process_num)02d/%(numprocs)d; done; exec sleep 60";

#[test]
fn toml_numprocs_3_runs_three_processes_told_apart() {
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.web]
command = ["sh", "-c", "{FIVE_LINES}"]
numprocs = 3
numprocs_start = 1
startsecs = 0
"#
    ));
    let socket = run.dir.path().join("ctl.sock");
    let names = ["web_01", "web_02", "web_03"];
    let s = wait_status(&socket, 30, "three running", |s| all_running(s, &names));
    assert_eq!(s.len(), 3, "{s:?}");
    run.wait_for(20, "15 lines", |out, _| out.matches("line ").count() == 15);
    let program = stop(run);
    assert_told_apart(&program, &names, |name, i| {
        format!("line {i} of web {}/3", &name[4..])
    });
}

#[test]
fn ini_numprocs_3_runs_three_processes_told_apart() {
    let run = start(&format!(
        "[unix_http_server]\nfile=@DIR@/ctl.sock\n\
         [program:web]\ncommand=sh -c '{FIVE_LINES}'\n\
         process_name=%(program_name)s-%(process_num)02d\nnumprocs=3\nstartsecs=0\n"
    ));
    let socket = run.dir.path().join("ctl.sock");
    let names = ["web-00", "web-01", "web-02"];
    wait_status(&socket, 30, "three running", |s| {
        all_running(s, &names) && s.len() == 3
    });
    run.wait_for(20, "15 lines", |out, _| out.matches("line ").count() == 15);
    let program = stop(run);
    assert_told_apart(&program, &names, |name, i| {
        format!("line {i} of web {}/3", &name[4..])
    });
}

/// `restart GROUP:*`, `stop GROUP:*`, `start GROUP:*` act on exactly the
/// group's programs; the others keep their pids.
fn group_commands(config: &str, members: &[&str], others: &[&str]) {
    let run = start(config);
    let socket = run.dir.path().join("ctl.sock");
    let every: Vec<&str> = members.iter().chain(others).copied().collect();
    let before = wait_status(&socket, 30, "all running", |s| all_running(s, &every));
    assert_eq!(before.len(), every.len(), "{before:?}");

    let (code, said, err) = ctl(&socket, &["restart", "web:*"]);
    assert_eq!(code, 0, "{err}");
    let mut lines: Vec<&str> = said.lines().collect();
    lines.sort_unstable();
    let mut expected: Vec<String> = members.iter().map(|m| format!("restarting {m}")).collect();
    expected.sort();
    assert_eq!(lines, expected);
    let after = wait_status(&socket, 30, "restarted", |s| {
        all_running(s, &every) && members.iter().all(|m| pid(s, m) != pid(&before, m))
    });
    for o in others {
        assert_eq!(pid(&after, o), pid(&before, o), "{o} kept its pid");
    }

    let (code, _, err) = ctl(&socket, &["stop", "web:*"]);
    assert_eq!(code, 0, "{err}");
    let stopped = wait_status(&socket, 30, "members stopped", |s| {
        members
            .iter()
            .all(|m| s[*m] == ("exited".to_string(), None))
    });
    for o in others {
        assert_eq!(pid(&stopped, o), pid(&before, o));
    }
    let (code, _, err) = ctl(&socket, &["start", "web:*"]);
    assert_eq!(code, 0, "{err}");
    wait_status(&socket, 30, "members again", |s| all_running(s, &every));

    let (code, _, err) = ctl(&socket, &["restart", "nosuch:*"]);
    assert_eq!(
        (code, err.trim()),
        (1, "logmux ctl: no group named `nosuch`")
    );
    stop(run);
}

#[test]
fn toml_ctl_restart_group_star_restarts_exactly_its_members() {
    group_commands(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.web]
command = ["sleep", "60"]
numprocs = 2
startsecs = 0
[program.cron]
command = ["sleep", "61"]
group = "web"
startsecs = 0
[program.solo]
command = ["sleep", "62"]
startsecs = 0
"#,
        &["web_00", "web_01", "cron"],
        &["solo"],
    );
}

#[test]
fn ini_group_section_restart_restarts_exactly_its_members() {
    group_commands(
        "[unix_http_server]\nfile=@DIR@/ctl.sock\n\
         [group:web]\nprograms=app,cron\n\
         [program:app]\ncommand=sleep 60\nprocess_name=app_%(process_num)d\nnumprocs=2\nstartsecs=0\n\
         [program:cron]\ncommand=sleep 61\nstartsecs=0\n\
         [program:solo]\ncommand=sleep 62\nstartsecs=0\n",
        &["app_0", "app_1", "cron"],
        &["solo"],
    );
}

const BEFORE: &str = r#"
control_socket = "@DIR@/ctl.sock"
[program.keep]
command = ["sh", "-c", "echo keep up; exec sleep 60"]
startsecs = 0
[program.gone]
command = ["sh", "-c", "echo gone up; exec sleep 60"]
startsecs = 0
[program.edit]
command = ["sh", "-c", "echo edit v1; exec sleep 60"]
startsecs = 0
"#;

#[test]
fn ctl_reload_adds_removes_and_changes_while_the_rest_keeps_its_pid() {
    let run = start(BEFORE);
    let socket = run.dir.path().join("ctl.sock");
    let before = wait_status(&socket, 30, "all running", |s| {
        all_running(s, &["keep", "gone", "edit"])
    });
    write_config(
        run.dir.path(),
        r#"
control_socket = "@DIR@/ctl.sock"
[program.keep]
command = ["sh", "-c", "echo keep up; exec sleep 60"]
startsecs = 0
[program.edit]
command = ["sh", "-c", "echo edit v2; exec sleep 60"]
startsecs = 0
[program.new]
command = ["sh", "-c", "echo new up; exec sleep 60"]
depends_on = ["keep"]
startsecs = 0
"#,
    );
    let (code, said, err) = ctl(&socket, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        said.trim(),
        "new: added\ngone: removed\nedit: changed\n1 unchanged"
    );
    let after = wait_status(&socket, 30, "reloaded", |s| {
        s.len() == 3
            && all_running(s, &["keep", "edit", "new"])
            && pid(s, "edit") != pid(&before, "edit")
    });
    assert_eq!(pid(&after, "keep"), pid(&before, "keep"));
    // The removed program's process is gone, not orphaned.
    let gone = i32::try_from(pid(&before, "gone")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{gone}/cmdline")).exists()
        && std::fs::read_to_string(format!("/proc/{gone}/status"))
            .is_ok_and(|s| !s.contains("State:\tZ"))
    {
        assert!(Instant::now() < deadline, "gone (pid {gone}) still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second reload of the same file changes nothing.
    let (code, said, _) = ctl(&socket, &["reload"]);
    assert_eq!((code, said.trim()), (0, "3 unchanged"));
    let again = status(&socket);
    assert_eq!(again, after);
    run.wait_for(20, "edit v2 and new", |out, _| {
        out.contains("edit v2") && out.contains("new up")
    });
    let program = stop(run);
    assert_eq!(messages_of(&program, "keep"), ["keep up"]);
    assert_eq!(messages_of(&program, "gone"), ["gone up"]);
    assert_eq!(messages_of(&program, "edit"), ["edit v1", "edit v2"]);
    assert_eq!(messages_of(&program, "new"), ["new up"]);
}

#[test]
fn a_broken_config_on_reload_changes_nothing_and_says_why() {
    let run = start(BEFORE);
    let socket = run.dir.path().join("ctl.sock");
    let before = wait_status(&socket, 30, "all running", |s| {
        all_running(s, &["keep", "gone", "edit"])
    });
    let path = run.dir.path().join("logmux.toml");
    let p = path.display();
    let cases = [
        (
            "[program.keep]\ncommand = [\"sleep\", \"60\"]\nstopsignal = \"TREM\"\n",
            format!("{p}:4:14: program.keep.stopsignal: `TREM` is not a signal name (TERM, INT, QUIT, HUP, KILL, USR1, USR2)"),
        ),
        (
            "[program.keep\ncommand = 1\n",
            format!("{p}:2:14: : a table header is a dotted name in brackets, such as `[program.web]`"),
        ),
        (
            "[program.keep]\ncommand = [\"/nonexistent/keep\"]\n",
            format!("{p}:3:1: program.keep.command: `/nonexistent/keep` does not exist (checked on this machine; `logmux run` elsewhere may differ)"),
        ),
        (
            "[program.keep]\ncommand = [\"sleep\", \"60\"]\n[sink.extra]\ntype = \"stdout\"\n",
            format!("{p}: [sink.extra] is new: sinks are opened once, at start; restart logmux to change them"),
        ),
    ];
    for (text, why) in cases {
        std::fs::write(
            &path,
            format!("control_socket = \"{}\"\n{text}", socket.display()),
        )
        .unwrap();
        let (code, said, err) = ctl(&socket, &["reload"]);
        assert_eq!((code, said.as_str()), (1, ""), "{err}");
        assert_eq!(
            err.trim_end(),
            format!("logmux ctl: reload refused, nothing changed:\n{why}")
        );
        assert_eq!(status(&socket), before, "nothing changed");
    }
    let program = stop(run);
    assert_eq!(messages_of(&program, "keep"), ["keep up"]);
}

/// `ctl restart` of an `every` program in the middle of a run starts it
/// again at once (it used to wait, `waiting`, for ever).
#[test]
fn ctl_restart_of_a_running_every_program_runs_it_again() {
    let run = start(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.tick]
command = ["sh", "-c", "echo tick; exec sleep 60"]
every = "1h"
[program.web]
command = ["sleep", "60"]
startsecs = 0
"#,
    );
    let socket = run.dir.path().join("ctl.sock");
    wait_status(&socket, 30, "web running", |s| all_running(s, &["web"]));
    // The first run of an `every` program is one period after the start.
    let (code, said, err) = ctl(&socket, &["start", "tick"]);
    assert_eq!(code, 0, "{said} {err}");
    run.wait_for(20, "the first tick", |out, _| {
        out.matches("\"message\":\"tick\"").count() == 1
    });
    let (code, said, _) = ctl(&socket, &["restart", "tick"]);
    assert_eq!((code, said.trim()), (0, "restarting tick"));
    run.wait_for(20, "the second tick", |out, _| {
        out.matches("\"message\":\"tick\"").count() == 2
    });
    let program = stop(run);
    assert_eq!(messages_of(&program, "tick"), ["tick", "tick"]);
}
