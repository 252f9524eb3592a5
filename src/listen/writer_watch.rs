//! Whether stdout's writer is still writing, for a stop that has given up.
//!
//! Giving up (`--drain-timeout` after TERM) stops the reading; the events
//! already parsed still go to a stdout whose reader keeps reading. Only a
//! writer that has written nothing for [`STUCK_AFTER`] (a reader that
//! stalled), a second signal, or [`GRACE`] past the give-up lets them go,
//! counted as not written. The writer notes when it last wrote, in pieces
//! small enough that a reader's progress shows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::shutdown::signals::StopSignals;

/// A writer with bytes to write that wrote none for this long is stuck.
const STUCK_AFTER: Duration = Duration::from_secs(1);

/// The most a writer still writing is waited for after the give-up.
const GRACE: Duration = Duration::from_secs(2);

/// When stdout's writer last made progress.
#[derive(Debug)]
pub struct Progress {
    base: Instant,
    /// Nanoseconds after `base` of its last progress.
    at: AtomicU64,
    /// It holds bytes it has not written.
    busy: AtomicBool,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            base: Instant::now(),
            at: AtomicU64::new(0),
            busy: AtomicBool::new(false),
        }
    }
}

impl Progress {
    /// The writer took bytes to write (`true`) or wrote all it held.
    pub fn busy(&self, busy: bool) {
        self.made();
        self.busy.store(busy, Ordering::SeqCst);
    }

    /// The writer wrote some bytes.
    pub fn made(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.at.store(nanos, Ordering::SeqCst);
    }

    /// Holding bytes, it has written none for `after`.
    fn stuck_for(&self, after: Duration) -> bool {
        let last = Duration::from_nanos(self.at.load(Ordering::SeqCst));
        self.busy.load(Ordering::SeqCst) && self.base.elapsed().saturating_sub(last) >= after
    }
}

/// Whether what waits for stdout's writer is let go: stopping has given up
/// and the writer is stuck, or a second signal came, or [`GRACE`] passed.
pub fn let_go(stop: Option<&StopSignals>, progress: &Progress) -> bool {
    stop.and_then(StopSignals::given_up_for)
        .is_some_and(|since| since >= GRACE || progress.stuck_for(STUCK_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_is_stuck_only_while_it_holds_bytes() {
        let hour = Duration::from_secs(3600);
        let p = Progress::default();
        assert!(!p.stuck_for(Duration::ZERO));
        p.busy(true);
        assert!(p.stuck_for(Duration::ZERO));
        assert!(!p.stuck_for(hour));
        p.made();
        assert!(!p.stuck_for(hour));
        p.busy(false);
        assert!(!p.stuck_for(Duration::ZERO));
    }
}
