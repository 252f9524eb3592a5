//! Stream sockets, TCP and unix: accepting connections and reading frames.
//!
//! Each connection is read by a thread of its own ([`super::conn_reader`],
//! whose chunks come from one bounded pool per listener) and has its own
//! [`Deframer`] (RFC 6587: octet counting or LF, told by each frame's first
//! byte), which holds at most one message of `--max-message` bytes between
//! chunks. At most `--max-connections` are open at once, and at most
//! `--max-connections-per-peer` from one TCP address: further ones are
//! closed as soon as they are accepted, counted and reported (at most once
//! a second, with the count since the report before); so is a connection
//! whose reader cannot start. A connection whose frame stays unfinished for
//! `--idle-timeout` is closed (what it sent of the frame comes out), so that
//! slow senders cannot hold every slot; one that is silent between frames
//! is kept (Docker keeps one open for a container's life). With
//! `--tls-cert`, TCP connections are read through TLS ([`super::tls`]). A failing
//! accept() (out of file descriptors, say) is retried every 100 ms and
//! reported at most every 10 s, with a count. When a connection closes, its
//! held lines are emitted. When the listener stops, it accepts the
//! connections still waiting in the kernel's queue (their senders' bytes
//! were acknowledged too) and stops accepting; every connection's reader
//! reads on while bytes come (bounded), then shuts its socket and reads
//! what the kernel had accepted, to the end ([`conn_reader`]).

use std::cell::RefCell;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logmux_parsers::syslog::Deframer;
use rustls::ServerConfig;

use super::common::Common;
use super::conn_reader::{self, Chunk, Ended, Pool, Reader};
use super::hub::Hub;
use super::senders::Peer;
use super::shard::Dispatch;
use super::throttle::Throttle;
use super::tls::TlsStream;
use crate::shutdown::Shutdown;

/// Chunks parsed per wake-up of one connection before yielding to other
/// sockets (and to the shard's own tasks: its flusher, and a stop's drain).
const CHUNKS_PER_WAKE: usize = 16;

/// After a failed accept() the listener waits this long before the next.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Failed accepts are reported at most this often.
const ACCEPT_REPORT_EVERY: Duration = Duration::from_secs(10);

/// While reports wait for their period, the listener looks this often.
const REPORT_TICK: Duration = Duration::from_millis(250);

enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// An accepted connection's socket, off the runtime: its reader thread
/// reads it (still non-blocking).
enum Conn {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Conn {
    /// The socket for its reader thread; a TCP one inside a TLS session
    /// with `tls`.
    fn into_reader_conn(self, tls: Option<&Arc<ServerConfig>>) -> io::Result<conn_reader::Conn> {
        Ok(match (self, tls) {
            (Conn::Tcp(s), Some(config)) => {
                conn_reader::Conn::Tls(Box::new(TlsStream::new(Arc::clone(config), s)?))
            }
            (Conn::Tcp(s), None) => conn_reader::Conn::Tcp(s),
            (Conn::Unix(s), _) => conn_reader::Conn::Unix(s),
        })
    }
}

impl Listener {
    /// A connection and its peer's address (none for unix sockets).
    async fn accept(&self) -> io::Result<(Conn, Option<IpAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (s, a) = l.accept().await?;
                Ok((Conn::Tcp(s.into_std()?), Some(a.ip().to_canonical())))
            }
            Listener::Unix(l) => Ok((Conn::Unix(l.accept().await?.0.into_std()?), None)),
        }
    }

    /// The connections the kernel completed and no one accepted yet, once
    /// the listener stops: their senders' bytes were acknowledged too. An
    /// error ends the list (what it leaves is the kernel's, as at a close).
    /// Each is non-blocking, as its reader needs (accept does not pass the
    /// listener's mode on).
    fn waiting(self) -> Vec<(Conn, Option<IpAddr>)> {
        let mut waiting = Vec::new();
        match self {
            Listener::Tcp(l) => {
                let Ok(l) = l.into_std() else { return waiting };
                while let Ok((s, a)) = l.accept() {
                    if s.set_nonblocking(true).is_ok() {
                        waiting.push((Conn::Tcp(s), Some(a.ip().to_canonical())));
                    }
                }
            }
            Listener::Unix(l) => {
                let Ok(l) = l.into_std() else { return waiting };
                while let Ok((s, _)) = l.accept() {
                    if s.set_nonblocking(true).is_ok() {
                        waiting.push((Conn::Unix(s), None));
                    }
                }
            }
        }
        waiting
    }
}

/// Limits and settings of a stream listener.
#[derive(Clone)]
pub struct Limits {
    pub idle_timeout: Duration,
    /// TCP connections are TLS.
    pub tls: Option<Arc<ServerConfig>>,
}

/// A stream listener's socket, before its acceptor takes it.
pub enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// Stack of an acceptor's thread: it accepts and starts readers only.
const ACCEPT_STACK: usize = 256 * 1024;

/// Runs [`serve`] on a thread of its own, so that accepting never waits
/// for the parsing of the shard on whose thread it would otherwise run (a
/// shard's tasks ran up to 61 parses of 256 KiB before its sockets were
/// looked at again: a new connection waited about 0.4 s to be accepted
/// while eight others flooded). The future ends when the thread does.
pub fn accept_on_own_thread(
    listener: StdListener,
    name: String,
    common: Arc<Common>,
    shutdown: Shutdown,
    (limits, dispatch): (Limits, Dispatch),
) -> io::Result<impl std::future::Future<Output = ()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = {
        // Registered with the reactor of the runtime that will run it.
        let _entered = runtime.enter();
        match listener {
            StdListener::Tcp(l) => Listener::Tcp(tokio::net::TcpListener::from_std(l)?),
            StdListener::Unix(l) => Listener::Unix(tokio::net::UnixListener::from_std(l)?),
        }
    };
    let (done, ended) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("listen-accept".into())
        .stack_size(ACCEPT_STACK)
        .spawn(move || {
            // Dropped when the thread ends, however it ends.
            let _done = done;
            runtime.block_on(serve(listener, name, common, shutdown, limits, dispatch));
        })?;
    Ok(async move {
        let _ = ended.await;
    })
}

/// Accepts connections until the listener stops, and hands each, its
/// reader started, to the shard with the fewest open ([`Dispatch`]). At
/// the stop, the connections still waiting to be accepted are handed over
/// too (their readers shut them and read what they hold).
async fn serve(
    listener: Listener,
    name: String,
    common: Arc<Common>,
    shutdown: Shutdown,
    limits: Limits,
    dispatch: Dispatch,
) {
    let door = Door {
        name: name.into(),
        common,
        shutdown,
        limits,
        dispatch,
        pool: Pool::default(),
    };
    let mut accept_errors = Throttle::every(ACCEPT_REPORT_EVERY);
    let mut last_error = String::new();
    let name = &door.name;
    loop {
        let pending = door.common.reports_pending();
        let accepted = tokio::select! {
            biased;
            () = door.shutdown.triggered() => break,
            accepted = listener.accept() => accepted,
            () = tokio::time::sleep(REPORT_TICK), if pending => {
                door.common.report_due(name, false);
                continue;
            }
        };
        let (conn, ip) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, and
                // say so without writing ten warnings a second.
                if let Some(errors) = accept_errors.hit(Instant::now()) {
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
        if let Some(errors) = accept_errors.due(Instant::now()) {
            report_unreported(name, errors, &last_error);
        }
        door.hand_over(conn, ip);
    }
    for (conn, ip) in listener.waiting() {
        door.hand_over(conn, ip);
    }
    if let Some(errors) = accept_errors.rest() {
        report_unreported(name, errors, &last_error);
    }
    door.common.report_due(name, true);
}

/// What a listener needs to hand its accepted connections over.
struct Door {
    name: Arc<str>,
    common: Arc<Common>,
    shutdown: Shutdown,
    limits: Limits,
    dispatch: Dispatch,
    /// The chunks its connections' readers share.
    pool: Pool,
}

impl Door {
    /// Admits the connection (or refuses it, counted), starts its reader
    /// and gives it to a shard.
    fn hand_over(&self, conn: Conn, ip: Option<IpAddr>) {
        let peer = match self.common.admit(ip) {
            Ok(peer) => peer,
            Err(why) => {
                self.common.refuse(&self.name, &why);
                return;
            }
        };
        let opened = Opened {
            peer,
            ip,
            socket: Arc::clone(&self.name),
        };
        if let Some(reader) = self.start_reader(conn, &opened) {
            self.dispatch.send(Accepted {
                reader,
                opened,
                pool: self.pool.clone(),
                idle_timeout: self.limits.idle_timeout,
            });
        }
    }

    /// Starts the reader thread of a connection; `None` (counted as
    /// refused) when it cannot.
    fn start_reader(&self, conn: Conn, opened: &Opened) -> Option<Reader> {
        let idle = self.limits.idle_timeout;
        let (common, ip) = (Arc::clone(&self.common), opened.ip);
        // Its place under --max-connections is given back as its socket
        // closes, not once its last bytes are parsed.
        let release = move || common.release(ip);
        let started = conn
            .into_reader_conn(self.limits.tls.as_ref())
            .and_then(|c| {
                Reader::start(c, self.pool.clone(), self.shutdown.clone(), idle, release)
            });
        match started {
            Ok(r) => Some(r),
            Err(e) => {
                self.common
                    .no_reader(&opened.socket, opened.ip, e.to_string());
                None
            }
        }
    }
}

/// Failed accepts not yet in a report, once a report is due.
fn report_unreported(name: &str, errors: u64, last_error: &str) {
    tracing::warn!(socket = %name, error = %last_error, errors, "{name}: cannot accept: {last_error} ({errors} more times since the last report)");
}

/// An accepted connection.
pub struct Opened {
    peer: Peer,
    ip: Option<IpAddr>,
    socket: Arc<str>,
}

/// A connection accepted and its reader started, for a shard to parse.
pub struct Accepted {
    reader: Reader,
    opened: Opened,
    /// Where its chunks go back once parsed.
    pool: Pool,
    idle_timeout: Duration,
}

/// Parses one connection's chunks, as its reader thread hands them over,
/// to the end of the connection (or until the listener stops, or its frame
/// stays unfinished for `--idle-timeout`). Once stopping gives up
/// (`given_up`), it parses no more and counts what it leaves.
pub async fn read(accepted: Accepted, hub: Rc<RefCell<Hub>>, given_up: Shutdown) {
    let Accepted {
        reader,
        opened,
        pool,
        idle_timeout: idle,
    } = accepted;
    let (hub, pool) = (&hub, &pool);
    // Once the listener stops, the reader reads on while bytes come
    // (bounded), shuts the socket, reads what the kernel had accepted, then
    // ends.
    let mut reader = Some(reader);
    let mut deframer = Deframer::new(hub.borrow().max_message());
    // When the frame now unfinished began.
    let mut frame_began: Option<Instant> = None;
    // Bytes of it held, as the hub counts them.
    let mut held = 0;
    let mut abandoned = false;
    // Chunks parsed since this task last yielded: a reader that keeps
    // handing chunks over must not keep the task polled for megabytes.
    let mut since_yield = 0;
    while let Some(r) = reader.as_mut() {
        let next = tokio::select! {
            biased;
            () = given_up.triggered() => {
                abandoned = true;
                break;
            }
            next = next_chunk(r, frame_began, idle) => next,
        };
        let Some(next) = next else {
            // Dropping the reader (below) closes its channel: its thread
            // ends and closes the socket.
            hub.borrow().common.idle_closed(&opened.socket, idle);
            break;
        };
        let Some(chunk) = next else {
            if let Some(r) = reader.take() {
                ended(r.join(), &opened, hub);
            }
            break;
        };
        let room = CHUNKS_PER_WAKE - since_yield;
        let (parsed, frames) = parse(chunk, room, r, &opened.peer, &mut deframer, hub, pool);
        since_yield += parsed;
        held = keep_within_budget(held, &mut deframer, &opened.peer, hub);
        frame_began = match (deframer.is_mid_frame(), frames > 0) {
            (false, _) => None,
            (true, true) => Some(Instant::now()),
            (true, false) => frame_began.or(Some(Instant::now())),
        };
        if hub.borrow().gave_up() {
            abandoned = true;
            break;
        }
        let behind = hub.borrow().spans_behind();
        if let Some(tracer) = behind {
            // No part is dropped: this connection waits (its reader thread
            // stops once the pool is spent, and the sender's window fills).
            tokio::select! {
                biased;
                () = given_up.triggered() => {
                    abandoned = true;
                    break;
                }
                () = tracer.room() => {}
            }
            // The wait was logmux's, not the sender's.
            frame_began = frame_began.map(|_| Instant::now());
        }
        if since_yield >= CHUNKS_PER_WAKE {
            tokio::task::yield_now().await;
            since_yield = 0;
        }
    }
    if abandoned {
        // What it held of an unfinished frame is left too, not cut.
        let left = leave(reader.take(), pool).await + deframer.buffered() as u64;
        hub.borrow_mut().counters.unread_bytes += left;
    }
    let mut h = hub.borrow_mut();
    h.hold(held, 0);
    if !abandoned {
        let clock = h.clock();
        let peer = &opened.peer;
        deframer.finish(|f| h.frame(peer, f.bytes, f.truncated, f.malformed, &clock));
    }
    h.counters.discarded_bytes += deframer.discarded();
    h.close_peer(&opened.peer);
    h.finish_batch();
}

/// The reader's next chunk: `None` when the frame begun at `frame_began`
/// stayed unfinished for `idle`; `Some(None)` at the reader's end.
async fn next_chunk(
    r: &mut Reader,
    frame_began: Option<Instant>,
    idle: Duration,
) -> Option<Option<Chunk>> {
    match frame_began {
        None => Some(r.chunks.recv().await),
        Some(at) => tokio::time::timeout_at((at + idle).into(), r.chunks.recv())
            .await
            .ok(),
    }
}

/// Counts how a connection's reader thread ended.
fn ended(how: Ended, opened: &Opened, hub: &Rc<RefCell<Hub>>) {
    match how {
        Ended::TlsFailed(why) => hub.borrow().common.tls_failed(&opened.socket, &why),
        // The reader's bound on reading while stopping was reached.
        Ended::LeftUnread(bytes) => hub.borrow_mut().counters.unread_bytes += bytes,
        Ended::Closed => {}
    }
}

/// Takes no more of `reader`'s chunks; returns the bytes it leaves: those
/// of chunks read and not parsed, of a chunk its thread could not hand
/// over, and those still in the socket.
async fn leave(reader: Option<Reader>, pool: &Pool) -> u64 {
    let Some(mut r) = reader else {
        return 0;
    };
    r.chunks.close();
    let mut left = 0;
    // Ends once the thread has ended (its sender is dropped).
    while let Some(chunk) = r.chunks.recv().await {
        left += chunk.bytes().len() as u64;
        pool.give(chunk);
    }
    match r.join() {
        Ended::LeftUnread(bytes) => left + bytes,
        Ended::Closed | Ended::TlsFailed(_) => left,
    }
}

/// Counts what `deframer` holds now (`held` before) toward `--max-held`;
/// past it, cuts the unfinished frame (it comes out truncated, its rest is
/// skipped). Returns what it holds after.
fn keep_within_budget(
    held: usize,
    deframer: &mut Deframer,
    peer: &Peer,
    hub: &Rc<RefCell<Hub>>,
) -> usize {
    let now = deframer.buffered();
    let mut h = hub.borrow_mut();
    if !h.hold(held, now) {
        return now;
    }
    let clock = h.clock();
    let freed = deframer.cut(|f| h.frame(peer, f.bytes, f.truncated, f.malformed, &clock));
    if freed > 0 {
        h.counters.held_cuts += 1;
    }
    let after = deframer.buffered();
    h.hold(now, after);
    h.finish_batch();
    after
}

/// Parses `first` and whatever else has arrived, up to `room` chunks, and
/// none past the one in hand once stopping has given up; returns how
/// many, and how many frames ended in them.
fn parse(
    first: Chunk,
    room: usize,
    reader: &mut Reader,
    peer: &Peer,
    deframer: &mut Deframer,
    hub: &Rc<RefCell<Hub>>,
    pool: &Pool,
) -> (usize, u64) {
    let mut h = hub.borrow_mut();
    let clock = h.clock();
    let before = h.counters.messages;
    let mut next = Some(first);
    let mut parsed = 0;
    while let Some(chunk) = next.take() {
        deframer.push(chunk.bytes(), |f| {
            h.frame(peer, f.bytes, f.truncated, f.malformed, &clock)
        });
        pool.give(chunk);
        h.write_full();
        parsed += 1;
        if parsed < room && !h.gave_up() {
            next = reader.chunks.try_recv().ok();
        }
    }
    let frames = h.counters.messages - before;
    h.finish_batch();
    (parsed, frames)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::{UnixListener, UnixStream};

    use super::*;

    /// Connections still in the kernel's queue when the listener stops are
    /// accepted and handed over, and their readers read what their senders
    /// wrote (before, the listener closed with them in its queue, and their
    /// bytes, acknowledged to the senders, were dropped uncounted).
    #[test]
    fn a_stopping_listener_hands_over_the_connections_still_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut senders: Vec<UnixStream> = (0..3)
            .map(|_| UnixStream::connect(&path).unwrap())
            .collect();
        for (i, s) in senders.iter_mut().enumerate() {
            writeln!(s, "<13>message {i}").unwrap();
        }
        let (dispatch, mut intakes) = super::super::shard::Dispatch::new(1);
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let limits = Limits {
            idle_timeout: Duration::from_secs(5),
            tls: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = Listener::Unix(tokio::net::UnixListener::from_std(listener).unwrap());
            let common = Arc::new(Common::new(16, 16, 1 << 20));
            serve(listener, "test".into(), common, shutdown, limits, dispatch).await;
        });

        let mut read = Vec::new();
        while let Some(mut accepted) = intakes[0].try_take() {
            let mut bytes = Vec::new();
            while let Some(chunk) = accepted.reader.chunks.blocking_recv() {
                bytes.extend_from_slice(chunk.bytes());
                accepted.pool.give(chunk);
            }
            assert_eq!(accepted.reader.join(), Ended::Closed);
            read.push(String::from_utf8(bytes).unwrap());
        }
        assert_eq!(
            read,
            ["<13>message 0\n", "<13>message 1\n", "<13>message 2\n"]
        );
    }
}
