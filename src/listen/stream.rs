//! Stream sockets, TCP and unix: accepting connections and reading frames.
//!
//! Each connection is read by a thread of its own ([`super::stream_reader`],
//! whose chunks come from one bounded pool per listener) and has its own
//! [`Deframer`] (RFC 6587: octet counting or LF, told by each frame's first
//! byte), which holds at most one message of `--max-message` bytes between
//! chunks. At most `--max-connections` are open at once: further ones are
//! closed as soon as they are accepted, counted and reported. When a
//! connection closes, its held lines are emitted. When the listener stops,
//! it stops accepting, and every connection reads what has already arrived
//! before it ends.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use logmux_parsers::syslog::Deframer;
use tokio::sync::{mpsc, watch};

use super::hub::Hub;
use super::stream_reader::{self, Chunk, Pool, Reader};
use super::streams::Peer;
use super::Tasks;

/// Chunks parsed per wake-up of one connection before yielding to other sockets.
const CHUNKS_PER_WAKE: usize = 16;

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
    fn into_std(self) -> io::Result<stream_reader::Conn> {
        Ok(match self {
            Conn::Tcp(s) => stream_reader::Conn::Tcp(s.into_std()?),
            Conn::Unix(s) => stream_reader::Conn::Unix(s.into_std()?),
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
    stop: watch::Receiver<bool>,
    limits: Limits,
    tasks: Tasks,
) {
    let mut stopping = stop.clone();
    let pool = Pool::default();
    loop {
        let conn = tokio::select! {
            biased;
            _ = stopping.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little.
                tracing::warn!(socket = %name, error = %e, "{name}: cannot accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
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
        let stop = stop.clone();
        tasks.spawn(read(conn, peer, hub, stop, pool.clone()));
    }
}

/// Parses one connection's chunks, as its reader thread hands them over,
/// to the end of the connection (or until the listener stops).
async fn read(
    conn: Conn,
    peer: Peer,
    hub: Rc<RefCell<Hub>>,
    mut stop: watch::Receiver<bool>,
    pool: Pool,
) {
    let conn = match conn.into_std() {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a connection: {e}");
            None
        }
    };
    let reader = conn.map(|c| Reader::start(c, pool.clone()));
    let mut reader = match reader {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            tracing::error!(error = %e, "cannot start a connection's reader: {e}; closing it");
            None
        }
        None => None,
    };
    let mut deframer = Deframer::new(hub.borrow().max_message());
    let mut stopped = false;
    while let Some(r) = reader.as_mut() {
        let chunk = tokio::select! {
            biased;
            _ = stop.changed(), if !stopped => {
                // The reader reads what has arrived, then ends.
                r.stop();
                stopped = true;
                continue;
            }
            chunk = r.chunks.recv() => chunk,
        };
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
