//! Readiness of one run of a program (`ready = { … }`): what the child
//! gets before it starts ([`prepare`]: a pipe as its notification fd, or
//! a `NOTIFY_SOCKET`), and a [`Watch`] the supervisor asks, without ever
//! waiting, whether the program is ready yet.
//!
//! The passive kinds (a unix socket that accepts, a TCP port, a file) are
//! tried in place: each try is brief. The others run as a task that sets a
//! flag: reading the fd until a newline (s6), receiving `READY=1` (see
//! [`super::notify`]), or trying a command or URL every `interval` (see
//! [`super::probe`]) until one passes. Dropping the watch (the run ended)
//! stops the task, closing the pipe or socket.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

use super::child::Extras;
use super::notify;
use super::probe::{self, Target};
use crate::config::run::{Check, ProgramSpec, ReadyProbe};

/// A run's readiness plumbing, made before it is spawned.
#[derive(Default)]
pub struct Prepared {
    /// For [`super::child::spawn_with`].
    pub extras: Extras,
    /// The end logmux keeps.
    pending: Pending,
}

#[derive(Default)]
enum Pending {
    #[default]
    Nothing,
    Fd(OwnedFd),
    Notify(notify::Socket),
}

/// The pipe or socket `spec`'s readiness needs; an error leaves the
/// program unable to say it is ready (it is reported, the program still
/// starts and meets its ready timeout).
pub fn prepare(spec: &ProgramSpec) -> Prepared {
    let made = match spec.ready.as_ref().map(|r| &r.probe) {
        Some(ReadyProbe::Fd(target)) => nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(std::io::Error::from)
            .map(|(read, write)| Prepared {
                extras: Extras {
                    env: Vec::new(),
                    fd: Some((write, *target)),
                },
                pending: Pending::Fd(read),
            }),
        Some(ReadyProbe::Notify) => notify::bind_new().map(|socket| Prepared {
            extras: Extras {
                env: vec![(notify::NOTIFY_SOCKET.to_string(), socket.address.clone())],
                fd: None,
            },
            pending: Pending::Notify(socket),
        }),
        _ => Ok(Prepared::default()),
    };
    made.unwrap_or_else(|e| {
        tracing::error!(program = %spec.name, "{}: cannot make its readiness channel: {e}; it cannot say it is ready", spec.name);
        Prepared::default()
    })
}

/// Whether one run is ready yet.
pub struct Watch {
    how: How,
    /// Why the last active try failed (for the timeout's message).
    last_failure: Arc<Mutex<Option<String>>>,
}

enum How {
    /// No `ready`: ready when started.
    Always,
    /// Its channel could not be made.
    Never,
    /// Tried in place each time it is asked.
    Poll(ReadyProbe),
    /// A task sets the flag.
    Task(Arc<AtomicBool>, JoinHandle<()>),
}

impl Prepared {
    /// The run started as `pid`: closes the child's end here and watches.
    pub fn watch(self, spec: &ProgramSpec, pid: Pid, extra_env: &[(String, String)]) -> Watch {
        let Prepared { extras, pending } = self;
        drop(extras);
        let last_failure = Arc::new(Mutex::new(None));
        let name = spec.name.clone();
        let how = match (pending, spec.ready.as_ref()) {
            (_, None) => How::Always,
            (Pending::Fd(read), Some(ready)) => {
                let fd = match ready.probe {
                    ReadyProbe::Fd(fd) => fd,
                    _ => 3,
                };
                How::task(read_newline(read, name, fd))
            }
            (Pending::Notify(socket), _) => {
                let program = notify::Program {
                    uid: program_uid(spec),
                    name,
                    pid,
                };
                How::task(async move {
                    if let Err(e) = notify::wait_ready(socket, &program).await {
                        tracing::error!(program = %program.name, "{}: its notify socket failed: {e}", program.name);
                        std::future::pending::<()>().await;
                    }
                })
            }
            (Pending::Nothing, Some(ready)) => match &ready.probe {
                ReadyProbe::Check(check) => {
                    let target = Target {
                        spec: spec.clone(),
                        extra_env: extra_env.to_vec(),
                    };
                    let failure = Arc::clone(&last_failure);
                    How::task(try_until_it_passes(
                        check.clone(),
                        target,
                        ready.interval,
                        failure,
                    ))
                }
                // Fd or Notify whose channel could not be made: never ready.
                ReadyProbe::Fd(_) | ReadyProbe::Notify => How::Never,
                probe => How::Poll(probe.clone()),
            },
        };
        Watch { how, last_failure }
    }
}

impl How {
    /// A task that sets the flag when `work` returns.
    fn task(work: impl std::future::Future<Output = ()> + Send + 'static) -> How {
        let flag = Arc::new(AtomicBool::new(false));
        let set = Arc::clone(&flag);
        let handle = tokio::spawn(async move {
            work.await;
            set.store(true, Ordering::Release);
        });
        How::Task(flag, handle)
    }
}

impl Watch {
    /// Ready now? Never waits.
    pub fn is_ready(&self) -> bool {
        match &self.how {
            How::Always => true,
            How::Never => false,
            How::Poll(probe) => poll(probe),
            How::Task(flag, _) => flag.load(Ordering::Acquire),
        }
    }

    /// Why the last try of a command or URL failed, if one did.
    pub fn last_failure(&self) -> Option<String> {
        self.last_failure.lock().ok().and_then(|f| f.clone())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let How::Task(_, handle) = &self.how {
            handle.abort();
        }
    }
}

/// s6: ready at the first newline written on the notification fd.
async fn read_newline(read: OwnedFd, name: String, fd: i32) {
    let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(read) {
        Ok(pipe) => pipe,
        Err(e) => {
            tracing::error!(program = %name, "{name}: cannot read its notification fd: {e}");
            return std::future::pending().await;
        }
    };
    let mut buf = [0u8; 512];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => {
                tracing::warn!(program = %name, "{name} closed its notification fd {fd} without writing a newline: it cannot be ready in this run");
                return std::future::pending().await;
            }
            Ok(n) if buf[..n].contains(&b'\n') => return,
            Ok(_) => {}
        }
    }
}

/// Tries `check` every `every` (each try limited to as long, at least a
/// second) until it passes.
async fn try_until_it_passes(
    check: Check,
    target: Target,
    every: Duration,
    last_failure: Arc<Mutex<Option<String>>>,
) {
    let limit = every.max(Duration::from_secs(1));
    loop {
        let began = tokio::time::Instant::now();
        match probe::try_once(&check, &target, limit).await {
            Ok(()) => return,
            Err(why) => {
                tracing::debug!(program = %target.spec.name, "{}: not ready yet: {why}", target.spec.name);
                if let Ok(mut last) = last_failure.lock() {
                    *last = Some(why);
                }
            }
        }
        tokio::time::sleep_until(began + every).await;
    }
}

/// The uid the program runs as: its `user`'s, else logmux's.
fn program_uid(spec: &ProgramSpec) -> u32 {
    spec.user
        .as_ref()
        .and_then(|u| nix::unistd::User::from_name(u).ok().flatten())
        .map_or_else(|| nix::unistd::geteuid().as_raw(), |u| u.uid.as_raw())
}

/// Tries a passive probe once, briefly.
fn poll(probe: &ReadyProbe) -> bool {
    match probe {
        ReadyProbe::UnixSocket(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
        ReadyProbe::File(path) => path.exists(),
        ReadyProbe::Tcp(addr) => {
            use std::net::ToSocketAddrs;
            addr.to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .is_some_and(|a| {
                    std::net::TcpStream::connect_timeout(&a, Duration::from_millis(100)).is_ok()
                })
        }
        ReadyProbe::Fd(_) | ReadyProbe::Notify | ReadyProbe::Check(_) => false,
    }
}
