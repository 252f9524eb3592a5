//! Raising the open-file limit to what `--max-connections` needs.
//!
//! Every stream connection is a file descriptor, and so are the listening
//! sockets, the `--out-dir` files, stdio and the runtime's own. Under
//! systemd, and in many shells, the soft `RLIMIT_NOFILE` is 1,024 (the hard
//! one often 524,288): at the default `--max-connections` of 1,024,
//! accept() would fail with EMFILE a little before the cap. So at start the
//! soft limit is raised to what is needed, never past the hard limit and
//! never lowered (Go raises it to the hard limit since 1.19; nginx sets
//! `worker_rlimit_nofile`; asking for just what is needed keeps a smaller
//! limit where one was set on purpose). When even the hard limit is too
//! small, one warning says so and the listener goes on: connections past
//! the limit wait in the kernel's backlog until others close.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors besides connections, listeners and `--out-dir` files: stdio,
/// the runtime's epoll and wake-up descriptors, signal pipes, and a
/// connection over the cap, accepted only to be closed.
const MARGIN: u64 = 64;

/// Descriptors `listen` may hold at once.
pub fn needed(max_connections: usize, listeners: usize, out_dir_files: usize) -> u64 {
    let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
    n(max_connections)
        .saturating_add(n(listeners))
        .saturating_add(n(out_dir_files))
        .saturating_add(MARGIN)
}

/// The new soft limit: `needed`, capped at `hard`; `None` when `soft`
/// already reaches that (it is never lowered).
pub fn raise_to(soft: u64, hard: u64, needed: u64) -> Option<u64> {
    let target = needed.min(hard);
    (target > soft).then_some(target)
}

/// Raises the soft open-file limit to `needed` (or as near as the hard limit
/// allows); warns once if it stays below. `max_connections` is only named in
/// the warning.
pub fn raise(needed: u64, max_connections: usize) {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the open-file limit: {e}");
            return;
        }
    };
    let mut now = soft;
    let mut failed = String::new();
    if let Some(to) = raise_to(soft, hard, needed) {
        match setrlimit(Resource::RLIMIT_NOFILE, to, hard) {
            Ok(()) => {
                tracing::debug!(
                    from = soft,
                    to,
                    hard,
                    "raised the open-file limit from {soft} to {to} (hard {hard})"
                );
                now = to;
            }
            Err(e) => failed = format!(" (raising it failed: {e})"),
        }
    }
    if now < needed {
        tracing::warn!(
            soft = now,
            hard,
            needed,
            max_connections,
            "open-file limit {now} (hard {hard}) is below what --max-connections {max_connections} needs ({needed}){failed}; connections past that will wait"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_counts_connections_listeners_files_and_a_margin() {
        assert_eq!(needed(1024, 2, 0), 1024 + 2 + 64);
        assert_eq!(needed(1024, 1, 256), 1024 + 1 + 256 + 64);
        assert_eq!(needed(usize::MAX, 1, 0), u64::MAX);
    }

    #[test]
    fn raises_the_soft_limit_to_what_is_needed() {
        assert_eq!(raise_to(1024, 524_288, 1089), Some(1089));
        // RLIM_INFINITY: still just what is needed.
        assert_eq!(raise_to(1024, u64::MAX, 1089), Some(1089));
    }

    #[test]
    fn never_lowers_a_soft_limit_that_is_enough() {
        for soft in [1089, 1090, 1_048_576, u64::MAX] {
            assert_eq!(raise_to(soft, u64::MAX, 1089), None, "{soft}");
        }
        assert_eq!(raise_to(u64::MAX, u64::MAX, 1089), None);
    }

    #[test]
    fn stops_at_the_hard_limit() {
        assert_eq!(raise_to(1024, 1050, 1089), Some(1050));
        assert_eq!(raise_to(1024, 1024, 1089), None);
        // A soft limit above a (lowered) hard limit is left alone too.
        assert_eq!(raise_to(2000, 1050, 4000), None);
    }
}
