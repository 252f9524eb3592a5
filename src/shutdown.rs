//! How a door tells its tasks and threads to stop: one [`Shutdown`], in the
//! manner of mini-redis's `src/shutdown.rs`.
//!
//! Every part that must stop holds a clone. Whoever decides that the door
//! ends (a signal, an output whose reader went away) calls
//! [`Shutdown::trigger`]; async tasks await [`Shutdown::triggered`] in their
//! `select!`, and threads that poll their socket look at
//! [`Shutdown::is_triggered`] between reads. Stopping is one-way: once
//! triggered, it stays so. Why the door stopped is the door's business, not
//! this type's.

pub mod signals;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

/// A one-way "stop now", shared by clones.
#[derive(Clone, Debug)]
pub struct Shutdown {
    inner: Arc<Inner>,
    /// Wakes the tasks waiting in [`Shutdown::triggered`].
    rx: watch::Receiver<bool>,
}

#[derive(Debug)]
struct Inner {
    /// Read by threads without a runtime, between two reads.
    flag: AtomicBool,
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            inner: Arc::new(Inner {
                flag: AtomicBool::new(false),
                tx,
            }),
            rx,
        }
    }

    /// Tells every holder to stop. True for the first call only.
    pub fn trigger(&self) -> bool {
        let first = !self.inner.flag.swap(true, Ordering::SeqCst);
        if first {
            self.inner.tx.send_replace(true);
        }
        first
    }

    /// Whether the door is stopping (for threads that poll).
    pub fn is_triggered(&self) -> bool {
        self.inner.flag.load(Ordering::Relaxed)
    }

    /// Completes once the door is stopping (at once if it already is).
    /// Cancel-safe: fit for a `select!` branch in a loop.
    pub async fn triggered(&self) {
        let mut rx = self.rx.clone();
        // The sender lives in `inner`, as long as `self`: no error to see.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trigger_reaches_every_clone_and_waiter() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let shutdown = Shutdown::new();
        let clone = shutdown.clone();
        assert!(!clone.is_triggered());
        let waiter = rt.spawn({
            let s = shutdown.clone();
            async move { s.triggered().await }
        });
        let thread = std::thread::spawn(move || {
            while !clone.is_triggered() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        assert!(shutdown.trigger());
        assert!(!shutdown.trigger(), "only the first call triggers");
        rt.block_on(waiter).unwrap();
        thread.join().unwrap();
        // Already triggered: a new wait completes at once.
        rt.block_on(shutdown.triggered());
    }
}
