//! One try of an active probe ([`Check`]), for `ready` and `health` alike:
//! a command that must exit 0, or a URL that must answer 2xx or 3xx.
//!
//! A try never blocks the supervisor loop: a command is started (as the
//! program's user, in its directory, with its environment) and its exit
//! awaited; an HTTP request runs on tokio's blocking pool with ureq, whose
//! own timeout ends it. The supervisor reaps every child with
//! `waitpid(-1)`, so a probe's command is reaped there too: it hands the
//! exit over through [`claim`]. A try that outlives its timeout is killed
//! (its whole process group) and counts as a failure.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::{Pid, User};
use tokio::sync::oneshot;

use super::reap::{self, Exit};
use crate::config::run::{Check, ProgramSpec};

/// Probe commands still running, by pid: who waits for their exit.
static WAITING: Mutex<BTreeMap<i32, oneshot::Sender<Exit>>> = Mutex::new(BTreeMap::new());

/// The supervisor reaped `pid`: if it is a probe's command, its exit goes
/// to the probe and this returns true.
pub fn claim(pid: Pid, exit: Exit) -> bool {
    let Ok(mut waiting) = WAITING.lock() else {
        return false;
    };
    match waiting.remove(&pid.as_raw()) {
        Some(tx) => {
            let _ = tx.send(exit);
            true
        }
        None => false,
    }
}

/// What a probe runs as: the program's user, directory and environment.
#[derive(Clone)]
pub struct Target {
    pub spec: ProgramSpec,
    /// Variables set for every program (the control socket).
    pub extra_env: Vec<(String, String)>,
}

/// Tries `check` once; `Err` says why it failed, in words.
pub async fn try_once(check: &Check, target: &Target, timeout: Duration) -> Result<(), String> {
    match check {
        Check::Exec(argv) => exec(argv, target, timeout).await,
        Check::Http(url) => http(url.clone(), timeout).await,
    }
}

/// Kills a probe command's group if it is dropped unfinished (a timeout,
/// or the probe stopped with its program).
struct Running(Option<Pid>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = reap::signal(pid, Signal::SIGKILL, true);
        }
    }
}

async fn exec(argv: &[String], target: &Target, timeout: Duration) -> Result<(), String> {
    let shown = argv.join(" ");
    let (tx, rx) = oneshot::channel();
    let pid = {
        // Held across the spawn: the exit cannot be claimed before it is awaited.
        let mut waiting = WAITING
            .lock()
            .map_err(|_| "the probe registry is poisoned".to_string())?;
        let mut cmd = command(argv, target)?;
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        waiting.insert(pid, tx);
        Pid::from_raw(pid)
    };
    let mut running = Running(Some(pid));
    let exit = tokio::time::timeout(timeout, rx).await;
    match exit {
        Ok(Ok(exit)) => {
            running.0 = None;
            match exit {
                Exit::Code(0) => Ok(()),
                other => Err(format!("`{shown}` ended with {other}")),
            }
        }
        Ok(Err(_)) => Err(format!("`{shown}`: its exit was lost")),
        Err(_) => Err(format!(
            "`{shown}` did not finish within {timeout:?} (killed)"
        )),
    }
}

/// The probe's command: its own process group, no input, output discarded.
fn command(argv: &[String], target: &Target) -> Result<Command, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let spec = &target.spec;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    crate::sys::die_with_parent(&mut cmd, std::process::id());
    cmd.envs(target.extra_env.iter().map(|(k, v)| (k, v)));
    cmd.envs(spec.environment.iter().map(|(k, v)| (k, v)));
    if let Some(name) = &spec.user {
        let user = User::from_name(name)
            .ok()
            .flatten()
            .ok_or_else(|| format!("user `{name}` does not exist"))?;
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    if let Some(dir) = &spec.directory {
        cmd.current_dir(dir);
    }
    Ok(cmd)
}

/// One GET; redirects are not followed (a 3xx passes). ureq's timeout
/// covers the whole exchange, so the blocking thread ends by then and
/// awaiting it keeps one request in flight at most.
async fn http(url: String, timeout: Duration) -> Result<(), String> {
    let call = tokio::task::spawn_blocking(move || http_blocking(&url, timeout));
    call.await
        .unwrap_or_else(|e| Err(format!("the HTTP probe failed: {e}")))
}

fn http_blocking(url: &str, timeout: Duration) -> Result<(), String> {
    // ureq's overall timeout does not bound the connect (30 s by
    // default): every step gets the probe's limit too.
    let agent = ureq::AgentBuilder::new()
        .timeout(timeout)
        .timeout_connect(timeout)
        .timeout_read(timeout)
        .timeout_write(timeout)
        .redirects(0)
        .build();
    match agent.get(url).call() {
        Ok(response) if response.status() < 400 => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("{url} answered {code}")),
        Err(ureq::Error::Transport(t)) => Err(format!("{url}: {t}")),
    }
}
