//! Stream sockets, TCP and unix: accepting connections and reading frames.
//!
//! Each connection is read by a thread of its own ([`super::conn_reader`],
//! whose chunks come from one bounded pool per listener) and has its own
//! [`Deframer`] (RFC 6587: octet counting or LF, told by each frame's first
//! byte), which holds at most one message of `--max-message` bytes between
//! chunks. At most `--max-connections` are open at once: further ones are
//! closed as soon as they are accepted, counted and reported. A failing
//! accept() (out of file descriptors, say) is retried every 100 ms and
//! reported at most every 10 s, with a count. When a connection closes, its
//! held lines are emitted. When the listener stops, it stops accepting, and
//! every connection reads what has already arrived before it ends.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use logmux_parsers::syslog::Deframer;
use tokio::sync::mpsc;

use super::conn_reader::{self, Chunk, Pool, Reader};
use super::hub::Hub;
use super::senders::Peer;
use super::Tasks;
use crate::shutdown::Shutdown;

/// Chunks parsed per wake-up of one connection before yielding to other sockets.
const CHUNKS_PER_WAKE: usize = 16;

/// After a failed accept() the listener waits this long before the next.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Failed accepts are reported at most this often.
const ACCEPT_REPORT_EVERY: Duration = Duration::from_secs(10);

pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Conn {
    /// The socket, off the runtime, for its reader thread (still non-blocking).
    fn into_std(self) -> io::Result<conn_reader::Conn> {
        Ok(match self {
            Conn::Tcp(s) => conn_reader::Conn::Tcp(s.into_std()?),
            Conn::Unix(s) => conn_reader::Conn::Unix(s.into_std()?),
        })
    }
}

impl Listener {
    async fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
        }
    }
}

/// Limits of a stream listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
}

/// Accepts connections until the listener stops.
pub async fn serve(
    listener: Listener,
    name: String,
    hub: Rc<RefCell<Hub>>,
    shutdown: Shutdown,
    limits: Limits,
    tasks: Tasks,
) {
    let pool = Pool::default();
    let mut accept_errors = AcceptErrors::default();
    let mut last_error = String::new();
    loop {
        let conn = tokio::select! {
            biased;
            () = shutdown.triggered() => break,
            accepted = listener.accept() => accepted,
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, and
                // say so without writing ten warnings a second.
                if let Some(errors) = accept_errors.failed(Instant::now()) {
                    if errors == 1 {
                        tracing::warn!(socket = %name, error = %e, "{name}: cannot accept: {e}");
                    } else {
                        tracing::warn!(socket = %name, error = %e, errors, "{name}: cannot accept: {e} ({errors} times since the last report)");
                    }
                }
                last_error = e.to_string();
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        if let Some(errors) = accept_errors.accepted(Instant::now()) {
            report_unreported(&name, errors, &last_error);
        }
        let peer = {
            let mut h = hub.borrow_mut();
            if h.connections >= limits.max_connections {
                h.counters.refused_connections += 1;
                let refused = h.counters.refused_connections;
                // Reported on the first and then every 1000th, not each.
                if refused % 1000 == 1 {
                    tracing::warn!(socket = %name, max_connections = limits.max_connections, refused, "{name}: {} connections are open, the most allowed; closing new ones ({refused} so far)", limits.max_connections);
                }
                continue;
            }
            h.new_connection()
        };
        let hub = Rc::clone(&hub);
        tasks.spawn(read(conn, peer, hub, shutdown.clone(), pool.clone()));
    }
    if let Some(errors) = accept_errors.stopped() {
        report_unreported(&name, errors, &last_error);
    }
}

/// Failed accepts not yet in a report, once a report is due.
fn report_unreported(name: &str, errors: u64, last_error: &str) {
    tracing::warn!(socket = %name, error = %last_error, errors, "{name}: cannot accept: {last_error} ({errors} more times since the last report)");
}

/// Counts failed accepts so that the first is reported at once and later
/// ones at most every [`ACCEPT_REPORT_EVERY`], each report with the count
/// since the one before; none goes unreported.
#[derive(Debug, Default)]
struct AcceptErrors {
    last_report: Option<Instant>,
    /// Failures since `last_report`, not yet reported.
    unreported: u64,
}

impl AcceptErrors {
    fn due(&self, now: Instant) -> bool {
        self.last_report
            .is_none_or(|at| now.saturating_duration_since(at) >= ACCEPT_REPORT_EVERY)
    }

    /// An accept failed: `Some(failures to report, this one included)`
    /// when a report is due.
    fn failed(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        self.report(now)
    }

    /// An accept worked: `Some(failures)` left unreported, once due.
    fn accepted(&mut self, now: Instant) -> Option<u64> {
        if self.unreported == 0 {
            return None;
        }
        self.report(now)
    }

    /// The listener stops: whatever is left, due or not.
    fn stopped(&mut self) -> Option<u64> {
        (self.unreported > 0).then(|| std::mem::take(&mut self.unreported))
    }

    fn report(&mut self, now: Instant) -> Option<u64> {
        if !self.due(now) {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Parses one connection's chunks, as its reader thread hands them over,
/// to the end of the connection (or until the listener stops).
async fn read(conn: Conn, peer: Peer, hub: Rc<RefCell<Hub>>, shutdown: Shutdown, pool: Pool) {
    let conn = match conn.into_std() {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a connection: {e}");
            None
        }
    };
    // Once the listener stops, the reader reads what has arrived, then ends.
    let reader = conn.map(|c| Reader::start(c, pool.clone(), shutdown));
    let mut reader = match reader {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            tracing::error!(error = %e, "cannot start a connection's reader: {e}; closing it");
            None
        }
        None => None,
    };
    let mut deframer = Deframer::new(hub.borrow().max_message());
    while let Some(r) = reader.as_mut() {
        let chunk = r.chunks.recv().await;
        let Some(chunk) = chunk else {
            if let Some(r) = reader.take() {
                r.join();
            }
            break;
        };
        let parsed = parse(chunk, &mut r.chunks, &peer, &mut deframer, &hub, &pool);
        if parsed == CHUNKS_PER_WAKE {
            tokio::task::yield_now().await;
        }
    }
    let mut h = hub.borrow_mut();
    let clock = h.clock();
    deframer.finish(|f| h.frame(&peer, f.bytes, f.truncated, f.malformed, &clock));
    h.counters.discarded_bytes += deframer.discarded();
    h.close_peer(&peer);
    h.finish_batch();
}

/// Parses `first` and whatever else has arrived, up to [`CHUNKS_PER_WAKE`]
/// chunks; returns how many.
fn parse(
    first: Chunk,
    chunks: &mut mpsc::UnboundedReceiver<Chunk>,
    peer: &Peer,
    deframer: &mut Deframer,
    hub: &Rc<RefCell<Hub>>,
    pool: &Pool,
) -> usize {
    let mut h = hub.borrow_mut();
    let clock = h.clock();
    let mut next = Some(first);
    let mut parsed = 0;
    while let Some(chunk) = next.take() {
        deframer.push(chunk.bytes(), |f| {
            h.frame(peer, f.bytes, f.truncated, f.malformed, &clock)
        });
        pool.give(chunk);
        h.write_full();
        parsed += 1;
        if parsed < CHUNKS_PER_WAKE {
            next = chunks.try_recv().ok();
        }
    }
    h.finish_batch();
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failed_accept_is_reported_then_one_report_per_period() {
        let t0 = Instant::now();
        let mut a = AcceptErrors::default();
        assert_eq!(a.failed(t0), Some(1));
        // Ten a second for a minute: one report every 10 s, each with the
        // count since the one before.
        let mut reports = Vec::new();
        for i in 1..=600 {
            if let Some(n) = a.failed(t0 + ACCEPT_RETRY * i) {
                reports.push(n);
            }
        }
        assert_eq!(reports, vec![100; 6]);
        assert_eq!(a.stopped(), None);
    }

    #[test]
    fn failures_left_unreported_come_out_once_due_or_at_stop() {
        let t0 = Instant::now();
        let mut a = AcceptErrors::default();
        assert_eq!(a.failed(t0), Some(1));
        assert_eq!(a.failed(t0 + Duration::from_secs(1)), None);
        assert_eq!(a.failed(t0 + Duration::from_secs(2)), None);
        // Accepting again: not yet due.
        assert_eq!(a.accepted(t0 + Duration::from_secs(3)), None);
        assert_eq!(a.accepted(t0 + ACCEPT_REPORT_EVERY), Some(2));
        assert_eq!(a.accepted(t0 + ACCEPT_REPORT_EVERY * 5), None);
        // A failure long after the last report is reported at once.
        assert_eq!(a.failed(t0 + ACCEPT_REPORT_EVERY * 5), Some(1));
        assert_eq!(a.failed(t0 + ACCEPT_REPORT_EVERY * 5 + ACCEPT_RETRY), None);
        assert_eq!(a.stopped(), Some(1));
        assert_eq!(a.stopped(), None);
    }
}
