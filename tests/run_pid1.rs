//! PID 1 duties: orphans re-parented to logmux are reaped, both as the real
//! PID 1 of a PID namespace (`unshare --pid --fork --mount-proc`, the
//! container's situation) and as a child subreaper when logmux is not PID 1.

#[path = "support/run.rs"]
mod support;

use std::process::Command;

use support::*;

/// A program that double-forks: its grandchild is orphaned and exits later,
/// so only logmux can reap it. The checker then counts zombies.
const DOUBLE_FORK: &str = r#"
control_socket = ""
[program.forker]
command = ["sh", "-c", "(sleep 0.3 & sleep 0.3 & sleep 0.3 &); echo forked; sleep 0.1"]
autorestart = "never"
[program.checker]
command = ["sh", "@WRITERS@/count-zombies.sh"]
autorestart = "never"
"#;

fn unshare_works() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn as_pid1_in_a_pid_namespace_orphans_leave_no_zombie() {
    if !unshare_works() {
        skip_or_fail(
            "as_pid1_in_a_pid_namespace_orphans_leave_no_zombie",
            "`unshare --pid --fork --mount-proc` is not permitted here (needs root)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), DOUBLE_FORK);
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let done = spawn(cmd, dir).finish(60);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "checker"), ["zombies=0", "pid1=logmux"]);
    assert_eq!(messages_of(&out, "forker"), ["forked"]);
}

/// The parent pid of `pid` (`/proc/PID/stat`, after the command's `)`).
fn ppid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

#[test]
fn as_a_subreaper_orphans_are_re_parented_to_logmux_and_reaped() {
    // Not PID 1 here: without PR_SET_CHILD_SUBREAPER the orphan would go to
    // init (or another subreaper above), never to logmux.
    let run = start(
        r#"
control_socket = ""
[program.forker]
command = ["sh", "-c", "(sleep 5 & echo $! > @DIR@/orphan.tmp; mv @DIR@/orphan.tmp @DIR@/orphan); echo forked; exec sleep 60"]
"#,
    );
    run.wait_for(20, "the fork", |out, _| out.contains("forked"));
    let orphan: i32 = std::fs::read_to_string(run.dir.path().join("orphan"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Its parent, the subshell, has ended: the orphan is logmux's now.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut parents = Vec::new();
    while ppid_of(orphan) != Some(run.pid()) {
        if parents.last() != Some(&ppid_of(orphan)) {
            parents.push(ppid_of(orphan));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the orphan's parents were {parents:?}, never logmux ({})",
            run.pid()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // When it ends, logmux reaps it: no zombie is left behind.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ppid_of(orphan).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the orphan was not reaped: {:?}",
            std::fs::read_to_string(format!("/proc/{orphan}/stat"))
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(messages_of(&events(&done.stdout), "forker"), ["forked"]);
}

#[test]
fn programs_do_not_outlive_a_killed_logmux() {
    // SIGKILL cannot be handled: the programs are told by the kernel
    // (PR_SET_PDEATHSIG), so none lives on as an orphan.
    let marker = format!("logmux-pdeathsig-{}", std::process::id());
    let run = start(&format!(
        "control_socket = \"\"\n[program.a]\ncommand = [\"python3\", \"-c\", \"import time; print('up', flush=True); time.sleep(300)\", \"{marker}\"]\n"
    ));
    run.wait_for(20, "up", |out, _| out.contains("\"up\""));
    assert_eq!(processes_with(&marker).len(), 1);
    run.signal(libc::SIGKILL);
    let done = run.finish(20);
    assert_eq!(done.code, None, "killed by a signal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !processes_with(&marker).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        processes_with(&marker).is_empty(),
        "the program outlived logmux"
    );
}

/// `logmux run` started by `sh -c SCRIPT` (`$0` is logmux), its output collected.
fn run_in_sh(script: &str) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .arg(env!("CARGO_BIN_EXE_logmux"))
        .arg(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    spawn(cmd, dir).finish(30)
}

#[test]
fn the_single_command_form_passes_stdin_to_the_program_as_tini_does() {
    // Issue 16: `echo hi | logmux run -- cat` printed nothing (the program
    // got /dev/null).
    let done = run_in_sh("printf 'hi\\nthere\\n' | exec \"$0\" run -- cat");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "cat"), ["hi", "there"]);
    // The program's stdin is logmux's own: the same pipe.
    let done = run_in_sh(
        "echo | exec \"$0\" run -- sh -c 'readlink /proc/self/fd/0; readlink /proc/$PPID/fd/0'",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    let seen = messages_of(&out, "sh");
    assert_eq!(seen.len(), 2, "{}", done.stdout);
    assert!(seen[0].starts_with("pipe:["), "{seen:?}");
    assert_eq!(seen[0], seen[1], "the program's stdin is logmux's");
}

#[test]
fn config_programs_keep_dev_null_as_stdin() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        r#"control_socket = ""
[program.reader]
command = ["sh", "-c", "readlink /proc/self/fd/0; cat; echo read-to-end"]
autorestart = "never"
"#,
    );
    let config = dir.path().join("logmux.toml");
    let script = format!(
        "printf 'not for config programs\\n' | exec \"$0\" run --config {}",
        config.display()
    );
    let done = run_in_sh(&script);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "reader"), ["/dev/null", "read-to-end"]);
}

#[test]
fn on_a_terminal_the_single_command_reads_it_in_the_foreground() {
    // `docker run -it IMAGE logmux run -- CMD`: the program has a process
    // group of its own; reading the terminal from a background group would
    // stop it (SIGTTIN). As tini does, it is made the terminal's
    // foreground group.
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let said = Command::new("python3")
        .arg(format!("{WRITERS}/on-a-tty.py"))
        .args([&out, &err])
        .arg(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--", "sh", "-c", "read x; echo \"got $x\""])
        .output()
        .unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&said.stdout).trim(),
        "0",
        "{}\n{stderr}",
        String::from_utf8_lossy(&said.stderr)
    );
    let stdout = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        messages_of(&events(&stdout), "sh"),
        ["got typed"],
        "{stderr}"
    );
}
