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
