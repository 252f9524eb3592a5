//! One-off commands: `logmux run --config FILE CMD ARGS…` (the image's
//! `docker run IMAGE python3 manage.py check`). The config's `[env]` check,
//! templates and `prepare` programs run, then CMD instead of the config's
//! programs: its lines parsed as a program's, logmux's stdin its stdin,
//! logmux's signals forwarded to it, its exit code logmux's.

#[path = "support/run.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

/// Every kind of program, with `[env]`, a template and `[oneoff]`.
const CONFIG: &str = r#"
control_socket = ""
[env]
required = ["ONEOFF_NAME"]
defaults = { GREETING = "hello" }

[[template]]
source = "@DIR@/greeting.tmpl"
target = "@DIR@/greeting.txt"

[oneoff]
directory = "@DIR@/work"
environment = { EXTRA = "extra" }

[program.prep]
command = ["sh", "-c", "echo prep ran; test -f @DIR@/greeting.txt && echo template was there"]
once = true
prepare = true

[program.later-prep]
command = ["sh", "-c", "echo later prep ran"]
once = true
prepare = true
depends_on = ["prep"]

[program.skipped-prep]
command = ["sh", "-c", "echo skipped prep ran"]
once = true
prepare = true
when = "NOT_SET_ANYWHERE"

[program.setup]
command = ["sh", "-c", "echo setup must not run"]
once = true

[program.server]
command = ["sh", "-c", "echo server must not run; exec sleep 60"]

[program.cron]
command = ["sh", "-c", "echo cron must not run"]
every = "1s"

[program.manual]
command = ["sh", "-c", "echo manual must not run"]
autostart = false
"#;

/// A temp dir holding the config (`logmux.toml`), the template's source
/// and the one-off's directory.
fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("greeting.tmpl"),
        "${GREETING}, ${ONEOFF_NAME}\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let config = write_config(dir.path(), CONFIG);
    (dir, config)
}

/// `logmux run --config CONFIG ARGS…` with `ONEOFF_NAME` set (or not).
fn oneoff(config: &std::path::Path, name: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(config)
        .args(args)
        .env_remove("ONEOFF_NAME")
        .env_remove("LOGMUX_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(name) = name {
        cmd.env("ONEOFF_NAME", name);
    }
    cmd
}

/// Position of logmux's own event whose message starts with `prefix`.
fn own_at(events: &[serde_json::Value], prefix: &str) -> usize {
    events
        .iter()
        .position(|e| {
            e["service"]["name"] == "logmux"
                && e["message"].as_str().is_some_and(|m| m.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no logmux event starting with {prefix:?}"))
}

const SCRIPT: &str = "cat ../greeting.txt; echo \"$EXTRA in $(basename \"$(pwd)\")\"; \
                      echo '{\"level\":\"warning\",\"msg\":\"as json\"}'; echo oops >&2; exit 5";

#[test]
fn the_command_runs_after_templates_and_prepare_programs_instead_of_the_others() {
    let (dir, config) = setup();
    let out = oneoff(&config, Some("bob"), &["sh", "-c", SCRIPT])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(5), "stderr: {stderr}");
    let out_events = events(&stdout);
    let err_events = events(&stderr);
    // The command's lines, parsed as a program's, under its name.
    assert_eq!(
        messages_of(&out_events, "sh"),
        ["hello, bob", "extra in work", "as json"]
    );
    let json = out_events
        .iter()
        .find(|e| e["message"] == "as json")
        .unwrap();
    assert_eq!(json["severity_number"], 13);
    assert_eq!(json["logmux"]["format"], "json");
    assert_eq!(messages_of(&err_events, "sh"), ["oops"]);
    // The prepare programs ran, in order; nothing else of the config did.
    assert_eq!(
        messages_of(&out_events, "prep"),
        ["prep ran", "template was there"]
    );
    assert_eq!(messages_of(&out_events, "later-prep"), ["later prep ran"]);
    let services: std::collections::BTreeSet<&str> = out_events
        .iter()
        .chain(&err_events)
        .filter_map(|e| e["service"]["name"].as_str())
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["later-prep", "logmux", "prep", "sh"]
    );
    let spawned: Vec<&str> = own_with(&err_events, "spawned ")
        .iter()
        .filter_map(|e| e["logmux"]["program"].as_str())
        .collect();
    assert_eq!(spawned, ["prep", "later-prep", "sh"]);
    // Rendered, then prepared, then the command.
    let rendered = own_at(&err_events, "rendered ");
    let prep_done = own_at(&err_events, "later-prep exited: exit code 0");
    let command = own_at(&err_events, "spawned sh");
    assert!(rendered < prep_done && prep_done < command, "{stderr}");
    assert_eq!(own_with(&err_events, "logmux exits with 5").len(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("greeting.txt")).unwrap(),
        "hello, bob\n"
    );
}

#[test]
fn the_double_dash_form_is_the_same() {
    let (_dir, config) = setup();
    let out = oneoff(&config, Some("ann"), &["--", "cat", "../greeting.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(messages_of(&stdout, "cat"), ["hello, ann"]);
}

#[test]
fn a_missing_variable_exits_78_naming_it_before_the_command_runs() {
    let (dir, config) = setup();
    let marker = dir.path().join("ran");
    let touch = format!("touch {}", marker.display());
    let out = oneoff(&config, None, &["sh", "-c", &touch])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let stderr = events(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(stderr.len(), 1, "one line: {stderr:?}");
    assert_eq!(stderr[0]["logmux"]["variable"], "ONEOFF_NAME");
    let message = stderr[0]["message"].as_str().unwrap();
    assert!(
        message.ends_with("env.required: environment variable ONEOFF_NAME is required but not set"),
        "{message}"
    );
    assert!(!marker.exists(), "the command ran");
    assert!(
        !dir.path().join("greeting.txt").exists(),
        "a template was rendered"
    );
}

#[test]
fn a_failing_prepare_program_ends_it_with_its_code_before_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
control_socket = ""
[program.migrate]
command = ["sh", "-c", "echo migration failed >&2; exit 4"]
once = true
prepare = true
"#,
    );
    let out = oneoff(&config, None, &["sh", "-c", "echo command ran"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stdout = events(&String::from_utf8_lossy(&out.stdout));
    let stderr = events(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(messages_of(&stderr, "migrate"), ["migration failed"]);
    assert!(messages_of(&stdout, "sh").is_empty());
    assert!(own_with(&stderr, "spawned sh").is_empty());
}

#[test]
fn stdin_is_the_commands() {
    let (_dir, config) = setup();
    let mut child = oneoff(&config, Some("x"), &["cat"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\nsecond\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(messages_of(&stdout, "cat"), ["first", "second"]);
}

/// Starts a one-off whose first line is `up`, and waits for it.
fn running(script: &str) -> Running {
    let (dir, config) = setup();
    let cmd = oneoff(&config, Some("x"), &["sh", "-c", script]);
    let run = spawn(cmd, dir);
    run.wait_for(20, "up", |out, _| out.contains("\"up\""));
    run
}

#[test]
fn a_signal_to_logmux_is_forwarded_and_the_commands_code_is_logmuxs() {
    let run = running("trap 'echo got TERM; exit 3' TERM; echo up; while :; do sleep 0.05; done");
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(3), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "sh"), ["up", "got TERM"]);

    // Killed by the forwarded signal: 128 + 15, as under tini.
    let run = running("echo up; exec sleep 60");
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(143), "stderr: {}", done.stderr);
    let err = events(&done.stderr);
    assert_eq!(own_with(&err, "sleep exited").len(), 0);
    assert_eq!(own_with(&err, "sh exited: signal 15 (SIGTERM)").len(), 1);
}

#[test]
fn killed_by_a_signal_the_code_is_128_plus_it() {
    let (_dir, config) = setup();
    let out = oneoff(&config, Some("x"), &["sh", "-c", "echo up; kill -KILL $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137));
    let stdout = events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(messages_of(&stdout, "sh"), ["up"]);
}

#[test]
fn prepare_needs_once_and_oneoff_keys_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        (
            "[program.a]\ncommand = \"true\"\nprepare = true\n",
            "logmux.toml:3:11: program.a.prepare: only a `once` program can prepare a one-off command; add `once = true`",
        ),
        (
            "[oneoff]\nuser = \"root\"\nshell = true\n",
            "logmux.toml:3:1: oneoff.shell: unknown field `shell`, expected one of `user`, `directory`, `environment`, `stdout`, `stderr`",
        ),
        (
            "[oneoff]\nstdout = { sink = \"nowhere\" }\n",
            "logmux.toml:2:19: oneoff.stdout.sink: no sink named `nowhere`",
        ),
        // What only this machine can say, as for a program's.
        (
            "[oneoff]\nuser = \"no-such-user-here\"\n",
            "logmux.toml:2:1: oneoff.user: user `no-such-user-here` does not exist (checked on this machine",
        ),
        (
            "[oneoff]\nuser = \"root\"\ndirectory = \"/no/such/dir\"\n",
            "logmux.toml:3:1: oneoff.directory: `/no/such/dir`: No such file or directory",
        ),
    ] {
        let config = write_config(dir.path(), text);
        let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
            .args(["check", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(78), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{text}\nwant {want}\ngot {stderr}");
    }
}
