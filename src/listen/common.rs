//! What the listener's shards share: the connection limits
//! (`--max-connections`, `--max-connections-per-peer`), the counts and
//! throttled reports of refused, idle-closed and failed-TLS connections,
//! and the `--max-held` budget.
//!
//! Each shard ([`super::shard`]) parses its own connections with its own
//! [`super::hub::Hub`]; these are the few things that hold over all of them.
//! Connections open and close rarely next to the messages they carry, so
//! a mutex is cheap here; the held bytes, touched per read, are one atomic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::senders::Peer;
use super::throttle::Throttle;

/// Refused connections and failed handshakes are reported at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// The connection counts, over every shard.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnCounts {
    /// Connections admitted.
    pub connections: u64,
    /// Connections closed at once: `--max-connections` or
    /// `--max-connections-per-peer` were open, or no reader could start.
    pub refused_connections: u64,
    /// Connections closed because a frame stayed unfinished for `--idle-timeout`.
    pub idle_closed: u64,
    /// TLS handshakes that failed (no or a bad client certificate, not TLS,
    /// too slow).
    pub tls_failures: u64,
}

/// Why a connection was closed as soon as it was accepted.
#[derive(Debug)]
pub enum Refusal {
    /// `--max-connections` are open.
    Full(usize),
    /// `--max-connections-per-peer` are open from this address.
    PeerFull(IpAddr, usize),
    /// Its reader could not start (a thread or descriptor limit).
    NoReader(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Full(n) => write!(f, "{n} connections are open (--max-connections)"),
            Refusal::PeerFull(ip, n) => write!(
                f,
                "{n} connections are open from {ip} (--max-connections-per-peer)"
            ),
            Refusal::NoReader(e) => write!(f, "its reader cannot start: {e}"),
        }
    }
}

/// Open connections, in all and per TCP address.
#[derive(Default)]
struct Admission {
    open: usize,
    per_peer: HashMap<IpAddr, usize>,
    next_conn: u64,
}

struct Reports {
    counts: ConnCounts,
    refusals: Throttle,
    idle_closes: Throttle,
    tls_failures: Throttle,
}

/// The limits and counts every shard shares.
pub struct Common {
    max_connections: usize,
    max_per_peer: usize,
    max_held: usize,
    admission: Mutex<Admission>,
    reports: Mutex<Reports>,
    /// Bytes of unfinished frames, over every shard.
    frames: AtomicUsize,
    /// Bytes of lines held back (tracebacks, Docker pieces), over every shard.
    lines: AtomicUsize,
    /// Each shard's housekeeper, woken to emit its held lines when another
    /// shard is over the budget.
    shedders: Mutex<Vec<Arc<Notify>>>,
}

impl Common {
    pub fn new(max_connections: usize, max_per_peer: usize, max_held: usize) -> Common {
        Common {
            max_connections,
            max_per_peer,
            max_held,
            admission: Mutex::default(),
            reports: Mutex::new(Reports {
                counts: ConnCounts::default(),
                refusals: Throttle::every(REPORT_EVERY),
                idle_closes: Throttle::every(REPORT_EVERY),
                tls_failures: Throttle::every(REPORT_EVERY),
            }),
            frames: AtomicUsize::new(0),
            lines: AtomicUsize::new(0),
            shedders: Mutex::default(),
        }
    }

    /// A peer for a new connection from `ip` (none for unix sockets), or
    /// why it must be closed at once.
    pub fn admit(&self, ip: Option<IpAddr>) -> Result<Peer, Refusal> {
        let mut a = lock(&self.admission);
        if a.open >= self.max_connections {
            return Err(Refusal::Full(self.max_connections));
        }
        if let Some(ip) = ip {
            let open = a.per_peer.entry(ip).or_insert(0);
            if *open >= self.max_per_peer {
                return Err(Refusal::PeerFull(ip, self.max_per_peer));
            }
            *open += 1;
        }
        a.next_conn += 1;
        a.open += 1;
        let peer = Peer::Conn(a.next_conn);
        drop(a);
        lock(&self.reports).counts.connections += 1;
        Ok(peer)
    }

    /// A connection admitted from `ip` closed.
    pub fn release(&self, ip: Option<IpAddr>) {
        let mut a = lock(&self.admission);
        a.open = a.open.saturating_sub(1);
        if let Some(ip) = ip {
            if let Some(open) = a.per_peer.get_mut(&ip) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    a.per_peer.remove(&ip);
                }
            }
        }
    }

    /// An admitted connection whose reader could not start: refused, and
    /// not counted as a connection.
    pub fn no_reader(&self, socket: &str, ip: Option<IpAddr>, why: String) {
        self.release(ip);
        {
            let mut r = lock(&self.reports);
            r.counts.connections = r.counts.connections.saturating_sub(1);
        }
        self.refuse(socket, &Refusal::NoReader(why));
    }

    /// Counts a refused connection; warns at most once a [`REPORT_EVERY`].
    pub fn refuse(&self, socket: &str, why: &Refusal) {
        let mut r = lock(&self.reports);
        r.counts.refused_connections += 1;
        let total = r.counts.refused_connections;
        if let Some(n) = r.refusals.hit(Instant::now()) {
            tracing::warn!(socket, refused = n, refused_total = total, reason = %why, "{socket}: refused {n} connection(s) since the last report, {total} in all; the last because {why}");
        }
    }

    /// Counts a connection closed by `--idle-timeout`.
    pub fn idle_closed(&self, socket: &str, timeout: Duration) {
        let mut r = lock(&self.reports);
        r.counts.idle_closed += 1;
        let total = r.counts.idle_closed;
        if let Some(n) = r.idle_closes.hit(Instant::now()) {
            tracing::warn!(socket, closed = n, closed_total = total, "{socket}: closed {n} connection(s) whose message stayed unfinished for --idle-timeout {timeout:?} since the last report, {total} in all");
        }
    }

    /// Counts a failed TLS handshake.
    pub fn tls_failed(&self, socket: &str, why: &str) {
        let mut r = lock(&self.reports);
        r.counts.tls_failures += 1;
        let total = r.counts.tls_failures;
        if let Some(n) = r.tls_failures.hit(Instant::now()) {
            tracing::warn!(socket, failed = n, failed_total = total, reason = why, "{socket}: {n} TLS handshake(s) failed since the last report, {total} in all; the last: {why}");
        }
    }

    /// Whether reports wait for their period to pass.
    pub fn reports_pending(&self) -> bool {
        let r = lock(&self.reports);
        r.refusals.is_pending() || r.idle_closes.is_pending() || r.tls_failures.is_pending()
    }

    /// Writes the reports that are due (`all`: every one, at the end).
    pub fn report_due(&self, socket: &str, all: bool) {
        let now = Instant::now();
        let mut r = lock(&self.reports);
        let Reports {
            counts,
            refusals,
            idle_closes,
            tls_failures,
        } = &mut *r;
        let take = |t: &mut Throttle| if all { t.rest() } else { t.due(now) };
        if let Some(n) = take(refusals) {
            let total = counts.refused_connections;
            tracing::warn!(
                socket,
                refused = n,
                refused_total = total,
                "{socket}: refused {n} more connection(s), {total} in all"
            );
        }
        if let Some(n) = take(idle_closes) {
            let total = counts.idle_closed;
            tracing::warn!(
                socket,
                closed = n,
                closed_total = total,
                "{socket}: closed {n} more connection(s) for --idle-timeout, {total} in all"
            );
        }
        if let Some(n) = take(tls_failures) {
            let total = counts.tls_failures;
            tracing::warn!(
                socket,
                failed = n,
                failed_total = total,
                "{socket}: {n} more TLS handshake(s) failed, {total} in all"
            );
        }
    }

    /// The connection counts so far.
    pub fn counts(&self) -> ConnCounts {
        lock(&self.reports).counts
    }

    /// A shard now holds `now` bytes of unfinished frames and held lines,
    /// where it held `before`.
    pub fn hold(&self, before: Held, now: Held) {
        change(&self.frames, before.frames, now.frames);
        change(&self.lines, before.lines, now.lines);
    }

    /// Whether what every shard holds is over `--max-held`.
    pub fn over_budget(&self) -> bool {
        let frames = self.frames.load(Ordering::Relaxed);
        frames.saturating_add(self.lines.load(Ordering::Relaxed)) > self.max_held
    }

    /// Whether some shard holds lines back.
    pub fn lines_held(&self) -> bool {
        self.lines.load(Ordering::Relaxed) > 0
    }

    /// A shard's housekeeper, to wake when lines must be emitted.
    pub fn add_shedder(&self, wake: Arc<Notify>) {
        lock(&self.shedders).push(wake);
    }

    /// Over the budget: every shard emits held lines until it is not
    /// (held lines go before a connection's unfinished frame is cut).
    pub fn ask_to_shed(&self) {
        for wake in lock(&self.shedders).iter() {
            wake.notify_one();
        }
    }
}

/// What one shard holds, as the shared budget counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub frames: usize,
    pub lines: usize,
}

fn change(total: &AtomicUsize, before: usize, now: usize) {
    if now >= before {
        total.fetch_add(now - before, Ordering::Relaxed);
    } else {
        total.fetch_sub(before - now, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_limited_in_all_and_per_address() {
        let c = Common::new(3, 2, 0);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(matches!(c.admit(Some(a)), Ok(Peer::Conn(1))));
        assert!(matches!(c.admit(Some(a)), Ok(Peer::Conn(2))));
        assert!(matches!(c.admit(Some(a)), Err(Refusal::PeerFull(ip, 2)) if ip == a));
        assert!(matches!(c.admit(Some(b)), Ok(Peer::Conn(3))));
        assert!(matches!(c.admit(None), Err(Refusal::Full(3))));
        c.release(Some(a));
        assert!(matches!(c.admit(Some(a)), Ok(Peer::Conn(4))));
        c.no_reader("tcp", Some(a), "no threads".into());
        let n = c.counts();
        assert_eq!((n.connections, n.refused_connections), (3, 1));
        assert!(matches!(c.admit(None), Ok(Peer::Conn(5))));
    }

    #[test]
    fn the_budget_sums_every_shard() {
        let c = Common::new(1, 1, 100);
        let frames = |frames| Held { frames, lines: 0 };
        let lines = |lines| Held { frames: 0, lines };
        c.hold(Held::default(), frames(60));
        assert!(!c.over_budget());
        assert!(!c.lines_held());
        c.hold(Held::default(), lines(41));
        assert!(c.over_budget());
        assert!(c.lines_held());
        c.hold(frames(60), frames(59));
        assert!(!c.over_budget());
        c.hold(lines(41), lines(0));
        assert!(!c.lines_held());
    }
}
