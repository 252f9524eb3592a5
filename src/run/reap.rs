//! Reaping and the last sweep: PID 1's duties, as tini does them.
//!
//! Every exited process is collected with `waitpid(-1)`: the programs, and
//! any orphan the kernel re-parented to logmux (as PID 1, or as a child
//! subreaper otherwise). At the very end, whatever is left is killed: as
//! PID 1 that is every process in the container; otherwise every process in
//! the programs' groups and every orphan re-parented to logmux.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell's convention: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => {
                let name = Signal::try_from(*s).map_or("?", |s| s.as_str());
                write!(f, "signal {s} ({name})")
            }
        }
    }
}

/// Asks the kernel to re-parent orphans to logmux when it is not PID 1.
pub fn become_subreaper() {
    if std::process::id() != 1 && crate::sys::become_subreaper().is_err() {
        tracing::warn!(
            "cannot become a child subreaper: orphans of programs will not be reaped by logmux"
        );
    }
}

/// Collects every exited child now; returns (pid, how it ended).
pub fn reap_all() -> Vec<(Pid, Exit)> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => out.push((pid, Exit::Code(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => out.push((pid, Exit::Signal(sig as i32))),
            Ok(WaitStatus::StillAlive) => break,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            // ECHILD: no children at all.
            Err(_) => break,
        }
    }
    out
}

/// Sends `sig` to a process, or to its whole group.
pub fn signal(pid: Pid, sig: Signal, group: bool) -> nix::Result<()> {
    let r = if group {
        killpg(pid, sig)
    } else {
        kill(pid, sig)
    };
    match r {
        // Already gone: nothing to do.
        Err(Errno::ESRCH) => Ok(()),
        other => other,
    }
}

/// The last sweep: TERM, a short wait, then KILL for whatever is left.
/// `groups` are the programs' process groups. Returns the leftovers reaped.
pub async fn sweep(groups: &[Pid]) -> Vec<(Pid, Exit)> {
    let mut reaped = reap_all();
    let pid1 = std::process::id() == 1;
    // Each round is repeated while it waits: a process killed in one pass
    // hands its own children to logmux, and the next pass reaches them.
    for (sig, wait) in [
        (Signal::SIGTERM, Duration::from_millis(500)),
        (Signal::SIGKILL, Duration::from_millis(1000)),
    ] {
        let deadline = Instant::now() + wait;
        while anything_left(groups, pid1) && Instant::now() < deadline {
            signal_leftovers(groups, pid1, sig);
            tokio::time::sleep(Duration::from_millis(20)).await;
            reaped.extend(reap_all());
        }
    }
    reaped
}

fn signal_leftovers(groups: &[Pid], pid1: bool, sig: Signal) {
    if pid1 {
        // Every process but logmux itself.
        let _ = kill(Pid::from_raw(-1), sig);
        return;
    }
    for g in groups {
        let _ = killpg(*g, sig);
    }
    for orphan in children() {
        let _ = kill(orphan, sig);
    }
}

fn anything_left(groups: &[Pid], pid1: bool) -> bool {
    if pid1 {
        return other_processes();
    }
    groups.iter().any(|g| killpg(*g, None).is_ok()) || !children().is_empty()
}

/// Processes whose parent is logmux (its own children and adopted orphans).
pub fn children() -> Vec<Pid> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the `)` that closes the command name: state, ppid.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let _state = fields.next();
        if fields.next() == Some(me.as_str()) {
            out.push(Pid::from_raw(pid));
        }
    }
    out
}

/// As PID 1: whether any process other than logmux is alive (zombies are
/// reaped before this is asked).
fn other_processes() -> bool {
    let me = std::process::id();
    std::fs::read_dir("/proc").is_ok_and(|dir| {
        dir.flatten().any(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| pid != me)
        })
    })
}
