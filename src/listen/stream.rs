//! Stream sockets, TCP and unix: accepting connections and reading frames.
//!
//! Each connection has its own [`Deframer`] (RFC 6587: octet counting or
//! LF, told by each frame's first byte), which holds at most one message
//! of `--max-message` bytes between reads; reads go into the hub's shared
//! buffer. At most `--max-connections` are open at once: further ones are
//! closed as soon as they are accepted, counted and reported. When a
//! connection closes, its held lines are emitted. When the listener stops,
//! it stops accepting, and every connection reads what has already arrived
//! before it ends.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use logmux_parsers::syslog::Deframer;
use tokio::sync::watch;

use super::hub::Hub;
use super::streams::Peer;
use super::Tasks;

/// Reads per wake-up of one connection before yielding to other sockets.
const READS_PER_WAKE: usize = 16;

/// Wake-ups' worth of reads a connection gets once the listener stops.
const DRAIN_STEPS: usize = 64;

pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl Conn {
    async fn readable(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.readable().await,
            Conn::Unix(s) => s.readable().await,
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.try_read(buf),
            Conn::Unix(s) => s.try_read(buf),
        }
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
        tasks.spawn(read(conn, peer, hub, stop));
    }
}

/// Reads one connection to its end (or until the listener stops).
async fn read(conn: Conn, peer: Peer, hub: Rc<RefCell<Hub>>, mut stop: watch::Receiver<bool>) {
    let mut deframer = Deframer::new(hub.borrow().max_message());
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                // Stopping: read what has arrived (bounded, in case the
                // sender keeps sending), then end.
                for _ in 0..DRAIN_STEPS {
                    if !matches!(step(&conn, &peer, &mut deframer, &hub), Step::More) {
                        break;
                    }
                }
                break;
            }
            ready = conn.readable() => {
                if ready.is_err() {
                    break;
                }
            }
        }
        match step(&conn, &peer, &mut deframer, &hub) {
            Step::More => tokio::task::yield_now().await,
            Step::Idle => {}
            Step::End => break,
        }
    }
    let mut h = hub.borrow_mut();
    let clock = h.clock();
    deframer.finish(|f| h.frame(&peer, f.bytes, f.truncated, f.malformed, &clock));
    h.counters.discarded_bytes += deframer.discarded();
    h.close_peer(&peer);
    h.finish_batch();
}

enum Step {
    /// Read a full share; more may be waiting.
    More,
    /// Everything available was read.
    Idle,
    /// End of stream or an error.
    End,
}

fn step(conn: &Conn, peer: &Peer, deframer: &mut Deframer, hub: &Rc<RefCell<Hub>>) -> Step {
    let mut h = hub.borrow_mut();
    let clock = h.clock();
    let mut buf = std::mem::take(&mut h.read_buf);
    let mut result = Step::More;
    for _ in 0..READS_PER_WAKE {
        match conn.try_read(&mut buf) {
            Ok(0) => {
                result = Step::End;
                break;
            }
            Ok(n) => {
                deframer.push(&buf[..n], |f| {
                    h.frame(peer, f.bytes, f.truncated, f.malformed, &clock)
                });
                h.write_full();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                result = Step::Idle;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // A reset connection ends like a closed one.
                result = Step::End;
                break;
            }
        }
    }
    h.read_buf = buf;
    h.finish_batch();
    result
}
