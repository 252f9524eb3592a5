//! `logmux run` against a hostile neighbour: idle connections to the
//! control socket under a low descriptor limit (the server stays quiet and
//! `logmux ctl` still steers), and the template targets' file modes.

#[path = "support/run.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

#[test]
fn idle_connections_cannot_starve_the_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"control_socket = "@DIR@/ctl.sock"
[program.web]
command = ["sh", "-c", "echo web up; exec sleep 600"]
startsecs = 0
"#,
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 128 && exec \"$0\" run --config \"$1\""])
        .arg(env!("CARGO_BIN_EXE_logmux"))
        .arg(&config)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = spawn(cmd, dir);
    run.wait_for(20, "web up", |out, _| out.contains("web up"));
    let socket = run.dir.path().join("ctl.sock");
    run.wait_for(10, "web running", |_, _| ctl(&socket, &["status"]).0 == 0);
    let first_pid = pid_of(&ctl(&socket, &["status"]).1, "web");

    // 200 connections that never send a byte, held open by this process.
    let held = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..200 {
        let (held, socket) = (Arc::clone(&held), socket.clone());
        // A connect to a full backlog blocks: one thread each.
        std::thread::spawn(move || {
            if let Ok(s) = UnixStream::connect(&socket) {
                held.lock().unwrap().push(s);
            }
        });
    }
    std::thread::sleep(Duration::from_secs(1));

    let before = cpu_ticks(run.pid());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(run.pid()) - before;
    assert!(spent < 50, "logmux spent {spent} ticks of CPU in 2 s idle");

    let (code, status, err) = ctl(&socket, &["--timeout", "10s", "status"]);
    assert_eq!(code, 0, "{status}{err}");
    assert_eq!(pid_of(&status, "web"), first_pid, "{status}");
    let (code, said, err) = ctl(&socket, &["--timeout", "10s", "restart", "web"]);
    assert_eq!((code, said.trim()), (0, "restarting web"), "{err}");
    run.wait_for(20, "web again", |out, _| out.matches("web up").count() == 2);
    drop(held);
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}

#[test]
fn ctl_gives_up_after_its_timeout_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ctl.sock");
    // A socket that accepts (the backlog) and never answers.
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let started = std::time::Instant::now();
    let (code, _, err) = ctl(&socket, &["--timeout", "500ms", "status"]);
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("no answer from logmux"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_template_keeps_its_source_mode_unless_a_mode_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("secret.conf.in");
    std::fs::write(&source, "password ${HOME}\n").unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A link planted at the temporary file's name is not written through.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("out/secret.conf.logmux-tmp")).unwrap();
    let config = write_config(
        dir.path(),
        r#"control_socket = ""
[[template]]
source = "@DIR@/secret.conf.in"
target = "@DIR@/out/secret.conf"
[[template]]
source = "@DIR@/secret.conf.in"
target = "@DIR@/out/public.conf"
mode = "0644"
[program.app]
command = ["true"]
autorestart = "never"
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--config"])
        .arg(&config)
        .env("HOME", "/root")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = dir.path().join("out/secret.conf");
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "password /root\n"
    );
    assert_eq!(mode_of(&secret), 0o600);
    assert_eq!(mode_of(&dir.path().join("out/public.conf")), 0o644);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(mode_of(&victim), 0o644);
}

#[test]
fn a_template_mode_that_is_not_octal_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"control_socket = ""
[[template]]
source = "@DIR@/a.in"
target = "@DIR@/a"
mode = "rw-r--r--"
[program.app]
command = ["true"]
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("template.mode"), "{stderr}");
    assert!(
        stderr.contains("`rw-r--r--` is not a file mode"),
        "{stderr}"
    );
}

/// The line of issue 14: a child posing as logmux itself, with pid 1.
const FORGED: &str = r#"{"timestamp":"2026-01-01T00:00:00Z","severity_text":"INFO","message":"forged","logmux":{"format":"nginx.access"},"service":{"name":"logmux"},"process":{"pid":1}}"#;

/// Runs program `app` printing [`FORGED`] under `config_tail` (its
/// settings); returns the event of the line and the program's real pid.
fn forged_event(file: &str, config: &str) -> (serde_json::Value, i64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("forged.json"), format!("{FORGED}\n")).unwrap();
    let path = dir.path().join(file);
    std::fs::write(
        &path,
        config.replace("@DIR@", &dir.path().display().to_string()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines = events(&stdout);
    let forged: Vec<_> = lines
        .iter()
        .filter(|e| e.to_string().contains("forged"))
        .collect();
    assert_eq!(forged.len(), 1, "{stdout}");
    let own = events(&stderr);
    let spawned = own_with(&own, "spawned app");
    assert_eq!(spawned.len(), 1, "{stderr}");
    (
        forged[0].clone(),
        spawned[0]["logmux"]["pid"].as_i64().unwrap(),
    )
}

const TOML_APP: &str = r#"control_socket = ""
[program.app]
command = ["cat", "@DIR@/forged.json"]
autorestart = "never"
"#;

#[test]
fn a_child_cannot_pose_as_logmux_without_merge() {
    let (event, pid) = forged_event("logmux.toml", TOML_APP);
    assert_eq!(event["service"]["name"], "app", "{event}");
    assert_eq!(event["process"]["pid"], pid, "{event}");
    assert_eq!(event["log"]["iostream"], "stdout", "{event}");
    assert_ne!(event["logmux"]["format"], "nginx.access", "{event}");
}

#[test]
fn with_merge_the_programs_real_name_and_pid_still_win() {
    for (file, config) in [
        ("logmux.toml", format!("{TOML_APP}merge = true\n")),
        (
            "supervisord.conf",
            "[program:app]\ncommand=cat @DIR@/forged.json\nautorestart=false\nstdout_logfile=/dev/stdout\nmerge=true\n"
                .to_string(),
        ),
    ] {
        let (event, pid) = forged_event(file, &config);
        assert_eq!(event["service"]["name"], "app", "{file}: {event}");
        assert_eq!(event["process"]["pid"], pid, "{file}: {event}");
        // Merged: the nested event keeps its own format and message.
        assert_eq!(event["logmux"]["format"], "nginx.access", "{file}: {event}");
        assert_eq!(event["message"], "forged", "{file}: {event}");
    }
}

/// A pipe whose buffer is already full and that nobody reads: a stalled
/// reader of logmux's stdout. Returns (the end logmux writes, ours).
fn full_pipe() -> (std::os::fd::OwnedFd, std::fs::File) {
    use std::io::Write;
    let (read, write) = nix::unistd::pipe().unwrap();
    let flags =
        nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&write), nix::fcntl::F_GETFL).unwrap();
    let nonblocking = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&write),
        nix::fcntl::F_SETFL(nonblocking),
    )
    .unwrap();
    let mut w = std::fs::File::from(write);
    while w.write(&[b'x'; 4096]).is_ok() {}
    let blocking = nix::fcntl::OFlag::from_bits_truncate(flags);
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&w),
        nix::fcntl::F_SETFL(blocking),
    )
    .unwrap();
    (std::os::fd::OwnedFd::from(w), std::fs::File::from(read))
}

const STALLED_LINES: u64 = 5000;

/// What a `logmux run` whose stdout sink is stalled said when stopped.
struct Stalled {
    /// From the SIGTERM to logmux's exit.
    took: Duration,
    code: Option<i32>,
    /// logmux's stderr (its log sink).
    text: String,
    /// The stdout sink's `undelivered` count.
    undelivered: u64,
    /// The readers' `not_queued` count.
    not_queued: u64,
}

/// Runs `command` (a TOML array) as the only program, its stdout to a sink
/// whose reader never reads; once the program has written `written` on
/// stderr, stops logmux with SIGTERM.
fn stalled(command: &str, drain_timeout: &str) -> Stalled {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"control_socket = ""
drain_timeout = "{drain_timeout}"
log_sink = "stderr"
[sink.stdout]
type = "stdout"
queue = "64KiB"
[program.app]
command = {command}
stderr = {{ sink = "stderr" }}
"#
        ),
    );
    let (stdout, _ours) = full_pipe();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let collected = Arc::new(Mutex::new(String::new()));
    let c = Arc::clone(&collected);
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut all = c.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !collected.lock().unwrap().contains("\"written\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            collected.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopped = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let took = stopped.elapsed();
    reader.join().unwrap();
    let text = collected.lock().unwrap().clone();

    let own = events(&text);
    let count = |v: &serde_json::Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| panic!("not a count: {v}"))
    };
    let sink = own_with(&own, "sink stdout: ");
    assert_eq!(sink.len(), 1, "{text}");
    let undelivered = count(&sink[0]["logmux"]["undelivered"]);
    let not_queued: u64 = own
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("events were lost at exit"))
        })
        .map(|e| count(&e["logmux"]["not_queued"]))
        .sum();
    // The log sink wrote all of logmux's own words, the last one included.
    assert_eq!(own_with(&own, "sink stderr: ").len(), 0, "{text}");
    assert_eq!(own_with(&own, "logmux exits with 75").len(), 1, "{text}");
    Stalled {
        took,
        code: status.code(),
        text,
        undelivered,
        not_queued,
    }
}

#[test]
fn a_stalled_sink_costs_one_deadline_and_every_event_is_counted() {
    let run = stalled(
        &format!(
            r#"["sh", "-c", "i=0; while [ $i -lt {STALLED_LINES} ]; do echo \"line $i\"; i=$((i+1)); done; echo written >&2; exec sleep 60"]"#
        ),
        "4s",
    );
    let text = &run.text;
    // One budget of 4 s (not two), with a generous margin for a busy machine.
    assert!(
        run.took < Duration::from_millis(7000),
        "took {:?}\n{text}",
        run.took
    );
    assert_eq!(run.code, Some(75), "{text}");
    assert!(!text.contains("kept the pipe"), "{text}");
    // Nothing reached the full pipe, so every line is in one count or the
    // other, exactly. (Issue 14, item 7: on a loaded machine the sum once
    // fell to 822 and 2,138 of 5,000 with no `not_queued` report. The
    // readers had counted every line, but the report saying so is one of
    // logmux's own events, queued to the log sink after the deadline had
    // passed; the log sink was closed with no time left and logmux exited
    // before its thread wrote the report. The log sink now gets a short
    // grace of its own for these last words; `stalled` checks that it
    // reported nothing undelivered itself.)
    assert!(run.undelivered > 0, "{text}");
    assert_eq!(run.undelivered + run.not_queued, STALLED_LINES, "{text}");
}

#[test]
fn a_line_split_at_the_deadline_is_counted_once() {
    // The reader stops in the middle of a line (`partial-` read, `line\n`
    // still in the pipe): the line is one event, counted once. Before, it
    // was counted twice (the held head as an event, and the newline left
    // in the pipe): 1,503 of 1,502.
    let run = stalled(
        r#"["python3", "@WRITERS@/stalled-writer.py", "split"]"#,
        "2s",
    );
    assert_eq!(run.code, Some(75), "{}", run.text);
    assert_eq!(run.undelivered + run.not_queued, 1502, "{}", run.text);
}

#[test]
fn an_unfinished_last_line_left_in_the_pipe_is_counted() {
    // What is left in the pipe ends without a newline: at the end of the
    // stream that is an event too. Before, it was not counted: 1,502 of 1,503.
    let run = stalled(
        r#"["python3", "@WRITERS@/stalled-writer.py", "unfinished"]"#,
        "2s",
    );
    assert_eq!(run.code, Some(75), "{}", run.text);
    assert_eq!(run.undelivered + run.not_queued, 1503, "{}", run.text);
}
