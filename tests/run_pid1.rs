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

#[test]
fn as_a_subreaper_orphans_leave_no_zombie() {
    // Not PID 1 here: count only zombies whose parent is logmux.
    let config = DOUBLE_FORK.replace(
        "[program.checker]\n",
        "[program.checker]\nenvironment = { SCOPE = \"children-of-parent\" }\n",
    );
    assert_ne!(config, DOUBLE_FORK);
    let done = start(&config).finish(60);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    let checker = messages_of(&out, "checker");
    assert_eq!(checker.first(), Some(&"zombies=0"));
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
