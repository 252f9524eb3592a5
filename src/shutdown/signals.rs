//! TERM and INT for `listen` and `filter`, watched on a thread of their own.
//!
//! The door's thread may be blocked (`listen` handing events to a stdout
//! whose reader stalled, which is what slows TCP senders down instead of
//! growing memory; `filter` reading a pipe), so it cannot be the one to
//! notice a signal. A small runtime on its own thread counts TERM and INT:
//! the first asks the door to stop, and from then on a blocked hand-over
//! waits at most the drain timeout; a second gives up at once (as `logmux
//! run` does), or, for a door that has nothing to count, ends the process
//! by that signal, as if it had not been caught ([`AtSecond::Die`]).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::signal::unix::{signal, SignalKind};

use crate::shutdown::Shutdown;

/// What a second signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtSecond {
    /// [`StopSignals::give_up`] turns true: the door stops waiting and
    /// counts what it leaves.
    GiveUp,
    /// The process ends by the signal at once.
    Die,
}

/// What the signal thread has seen.
#[derive(Debug)]
pub struct StopSignals {
    /// TERM and INT so far.
    count: AtomicUsize,
    /// When the first came, and which it was.
    first: Mutex<Option<(Instant, &'static str)>>,
    /// Triggered by the first.
    pub requested: Shutdown,
    drain_timeout: Duration,
    at_second: AtSecond,
}

impl StopSignals {
    /// Starts watching TERM and INT; returns once both are watched.
    pub fn start(drain_timeout: Duration, at_second: AtSecond) -> io::Result<Arc<StopSignals>> {
        let stop = Arc::new(StopSignals {
            count: AtomicUsize::new(0),
            first: Mutex::new(None),
            requested: Shutdown::new(),
            drain_timeout,
            at_second,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Registered here, so that a signal right after start is not missed.
        let (term, int) = runtime.block_on(async {
            Ok::<_, io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })?;
        let watched = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("logmux-signals".into())
            .stack_size(64 * 1024)
            .spawn(move || runtime.block_on(watch(term, int, &watched)))?;
        Ok(stop)
    }

    /// The first signal's name, once one came.
    pub fn first(&self) -> Option<&'static str> {
        let first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
        first.map(|(_, name)| name)
    }

    /// Whether a blocked hand-over of output should give up: a second
    /// signal came, or `--drain-timeout` has passed since the first.
    pub fn give_up(&self) -> bool {
        self.given_up_for().is_some()
    }

    /// How long ago stopping gave up (`--drain-timeout` after the first
    /// signal; [`Duration::MAX`] once a second came); `None` before.
    pub fn given_up_for(&self) -> Option<Duration> {
        if self.count.load(Ordering::SeqCst) >= 2 {
            return Some(Duration::MAX);
        }
        let first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, _) = (*first)?;
        at.elapsed().checked_sub(self.drain_timeout)
    }

    fn seen(&self, (name, signal): (&'static str, Signal)) {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            let mut first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
            *first = Some((Instant::now(), name));
            drop(first);
            self.requested.trigger();
            // After the trigger: whoever reads this knows the stop is seen.
            tracing::debug!(signal = name, "{name}: stopping");
        } else if n == 2 && self.at_second == AtSecond::Die {
            crate::sys::die_by(signal);
        } else if n == 2 {
            tracing::warn!(
                signal = name,
                "{name} again: not waiting for the output any longer"
            );
        }
    }
}

async fn watch(
    mut term: tokio::signal::unix::Signal,
    mut int: tokio::signal::unix::Signal,
    stop: &StopSignals,
) {
    loop {
        let name = tokio::select! {
            got = term.recv() => got.map(|()| ("TERM", Signal::SIGTERM)),
            got = int.recv() => got.map(|()| ("INT", Signal::SIGINT)),
        };
        match name {
            Some(seen) => stop.seen(seen),
            None => return,
        }
    }
}
