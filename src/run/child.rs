//! Starting one program: its own process group, its own stdout and stderr
//! pipes, its user, directory and environment.
//!
//! Nothing here waits for the child: the supervisor reaps every pid itself
//! (see [`super::reap`]), so std's `Child` is only used to start the process
//! and hand over its pipes.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::unistd::Pid;

use crate::config::run::ProgramSpec;

/// A started program: its pid (also its process group id) and its pipes.
pub struct Spawned {
    pub pid: Pid,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Why a program could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("user `{0}` does not exist")]
    NoSuchUser(String),
    #[error("cannot look up user `{0}`: {1}")]
    UserLookup(String, crate::sys::accounts::LookupError),
    #[error("cannot enter directory `{}`: {source}", dir.display())]
    Directory {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run `{command}`: {source}")]
    Exec {
        command: String,
        source: std::io::Error,
    },
}

/// Pipes as large as the kernel allows unprivileged (1 MiB): fewer wakeups
/// for logmux and fewer stalls for a child writing in bursts.
const PIPE_SIZE: i32 = 1 << 20;

/// What one run of a program gets besides its spec: readiness plumbing
/// (see [`super::ready`]).
#[derive(Default)]
pub struct Extras {
    /// Variables for this run (`NOTIFY_SOCKET`).
    pub env: Vec<(String, String)>,
    /// A descriptor the child gets as the given number (s6's notification-fd).
    pub fd: Option<(OwnedFd, i32)>,
}

/// Starts `spec`; `extra_env` is set for every program (the control socket).
pub fn spawn(spec: &ProgramSpec, extra_env: &[(String, String)]) -> Result<Spawned, SpawnError> {
    spawn_with(spec, extra_env, &Extras::default())
}

/// [`spawn`], with this run's [`Extras`].
pub fn spawn_with(
    spec: &ProgramSpec,
    extra_env: &[(String, String)],
    extras: &Extras,
) -> Result<Spawned, SpawnError> {
    let (program, args) = match spec.command.split_first() {
        Some(split) => split,
        None => {
            return Err(SpawnError::Exec {
                command: String::new(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
            })
        }
    };
    let mut cmd = Command::new(program);
    let stdin = match spec.inherit_stdin {
        true => Stdio::inherit(),
        false => Stdio::null(),
    };
    cmd.args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so that a stop reaches its workers and grandchildren.
        .process_group(0);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    if let Some(name) = &spec.user {
        let account = crate::sys::accounts::lookup(name)
            .map_err(|e| SpawnError::UserLookup(name.clone(), e))?
            .ok_or_else(|| SpawnError::NoSuchUser(name.clone()))?;
        // Its supplementary groups too (std's uid() would drop them all).
        crate::sys::become_user(&mut cmd, &account);
        cmd.env("HOME", &account.home)
            .env("USER", name)
            .env("LOGNAME", name);
    }
    // If logmux itself is killed outright (SIGKILL, a crash), its programs
    // must not live on as orphans: as PID 1 the kernel would end them
    // anyway, elsewhere nobody would. After become_user: a change of
    // credentials clears the parent-death signal.
    crate::sys::die_with_parent(&mut cmd, std::process::id());
    if spec.inherit_stdin {
        crate::sys::foreground_on_terminal(&mut cmd);
    }
    for (k, v) in &spec.environment {
        cmd.env(k, v);
    }
    for (k, v) in &extras.env {
        cmd.env(k, v);
    }
    if let Some((fd, target)) = &extras.fd {
        use std::os::fd::AsRawFd;
        crate::sys::give_fd(&mut cmd, fd.as_raw_fd(), *target);
    }
    if let Some(dir) = &spec.directory {
        // std reports a bad directory as the command's failure (`cannot
        // run`): check it first so the message names the directory.
        let usable = std::fs::metadata(dir).and_then(|m| match m.is_dir() {
            true => Ok(()),
            false => Err(std::io::Error::from(std::io::ErrorKind::NotADirectory)),
        });
        if let Err(source) = usable {
            return Err(SpawnError::Directory {
                dir: dir.clone(),
                source,
            });
        }
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|source| SpawnError::Exec {
        command: spec.command.join(" "),
        source,
    })?;
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(SpawnError::Exec {
            command: spec.command.join(" "),
            source: std::io::Error::other("no pipes"),
        });
    };
    let stdout = OwnedFd::from(stdout);
    let stderr = OwnedFd::from(stderr);
    for fd in [&stdout, &stderr] {
        grow_pipe(fd);
    }
    // `child` is dropped without waiting: the reaper owns the pid.
    Ok(Spawned {
        pid,
        stdout,
        stderr,
    })
}

fn grow_pipe(fd: &OwnedFd) {
    // Failure is harmless: the pipe keeps the default size.
    let _ = crate::sys::set_pipe_size(fd, PIPE_SIZE);
}
