//! Reading stream connections (TCP, unix) on threads of their own.
//!
//! Copying a fast sender's bytes out of the kernel costs about as much as
//! parsing them, so each connection is read by a thread that hands whole
//! chunks (up to [`CHUNK`] bytes) to the listener's thread, which only
//! parses. Chunks come from one [`Pool`] shared by a listener's connections:
//! at most [`POOL_CHUNKS`] exist, whatever the number of connections, so memory
//! stays bounded; when all are waiting to be parsed, readers stop reading
//! and TCP's flow control holds the senders back (nothing is lost). A
//! connection's chunks are parsed in the order they were read. When the
//! listener stops, each reader reads on while bytes keep coming (up to what
//! its socket held then and a sender's send buffer more: [`Stopping`]),
//! then shuts its socket both ways and reads what the kernel had accepted,
//! to the end: once shut, the kernel takes nothing more (a sender's next
//! write fails, or TCP answers it with a reset), so no byte is
//! acknowledged that the reader will not read. (A reader that found its
//! socket empty and closed it dropped whatever arrived in between,
//! acknowledged and uncounted.) A reader that ends before the
//! connection's end (the listener gave up waiting and took no more chunks)
//! shuts it too, and says how many bytes it left: those still in the
//! socket, and those of a chunk it could not hand over.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::tls::TlsStream;
use crate::shutdown::Shutdown;

/// Bytes read into one chunk at most.
pub const CHUNK: usize = 256 * 1024;

/// Chunks in existence at most, over a listener's connections (4 MiB).
const POOL_CHUNKS: usize = 16;

/// A reader looks this often whether the listener is stopping.
const POLL: Duration = Duration::from_millis(100);

/// A connection, in blocking-free mode.
pub enum Conn {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
    Tls(Box<TlsStream>),
}

impl Conn {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Unix(s) => s.as_fd(),
            Conn::Tls(s) => s.sock().as_fd(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => (&*s).read(buf),
            Conn::Unix(s) => (&*s).read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }

    /// Shuts the socket both ways: from now on the kernel accepts nothing
    /// more from the peer, and what it accepted stays readable, then 0.
    /// (Over TCP, data after our FIN is answered with a reset, not
    /// acknowledged: RFC 1122 4.2.2.13, as Linux does.)
    fn shut(&mut self) {
        let done = match self {
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Conn::Tls(s) => s.shut(),
        };
        // Not connected any more (the peer reset it): nothing arrives.
        if let Err(e) = done {
            tracing::debug!(error = %e, "shutting a connection that is already gone");
        }
    }

    /// Still in its TLS handshake.
    fn is_handshaking(&self) -> bool {
        matches!(self, Conn::Tls(s) if s.is_handshaking())
    }
}

/// How a reader ended, for the counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum Ended {
    /// The peer closed, or the listener stopped.
    #[default]
    Closed,
    /// The TLS handshake failed (why) or did not finish in time.
    TlsFailed(String),
    /// Reading stopped before the connection's end: these bytes were left
    /// (for TLS, encrypted bytes of the socket).
    LeftUnread(u64),
}

/// Bytes read from a connection.
pub struct Chunk {
    buf: Box<[u8]>,
    len: usize,
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// The chunks every connection's reader shares.
#[derive(Clone, Default)]
pub struct Pool(Arc<PoolInner>);

#[derive(Default)]
struct PoolInner {
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    free: Vec<Box<[u8]>>,
    made: usize,
}

impl Pool {
    /// An empty chunk, waiting at most `timeout` for one to be parsed.
    fn take(&self, timeout: Duration) -> Option<Chunk> {
        let inner = &self.0;
        let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(buf) = state.free.pop() {
                return Some(Chunk { buf, len: 0 });
            }
            if state.made < POOL_CHUNKS {
                state.made += 1;
                return Some(Chunk {
                    buf: vec![0; CHUNK].into_boxed_slice(),
                    len: 0,
                });
            }
            let (s, waited) = inner
                .freed
                .wait_timeout(state, timeout)
                .unwrap_or_else(PoisonError::into_inner);
            state = s;
            if waited.timed_out() && state.free.is_empty() {
                return None;
            }
        }
    }

    /// Returns a parsed chunk.
    pub fn give(&self, chunk: Chunk) {
        let inner = &self.0;
        let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.free.push(chunk.buf);
        drop(state);
        inner.freed.notify_one();
    }
}

/// One connection's reader thread.
pub struct Reader {
    pub chunks: mpsc::UnboundedReceiver<Chunk>,
    thread: std::thread::JoinHandle<Ended>,
}

/// Stack of a reader thread; a TLS session needs more than a plain read.
const STACK: usize = 64 * 1024;
const TLS_STACK: usize = 256 * 1024;

impl Reader {
    /// Starts reading `conn`; once `shutdown` is triggered, the reader
    /// reads on while bytes come ([`Stopping`]), shuts the socket, reads
    /// what the kernel had accepted, then ends. A TLS handshake not
    /// finished within `handshake_timeout` ends the connection.
    pub fn start(
        mut conn: Conn,
        pool: Pool,
        shutdown: Shutdown,
        handshake_timeout: Duration,
        release: impl FnOnce() + Send + 'static,
    ) -> io::Result<Reader> {
        let (tx, chunks) = mpsc::unbounded_channel();
        let stack = if matches!(conn, Conn::Tls(_)) {
            TLS_STACK
        } else {
            STACK
        };
        let thread = std::thread::Builder::new()
            .name("listen-conn".into())
            .stack_size(stack)
            .spawn(move || {
                let deadline = Instant::now() + handshake_timeout;
                let ended = read_loop(&mut conn, &pool, &tx, &shutdown, deadline);
                // Before the close: whoever sees the socket closed may
                // connect again, and finds its place free.
                release();
                drop(conn);
                ended
            })?;
        Ok(Reader { chunks, thread })
    }

    /// Waits for the thread, once `chunks` has ended: how it ended.
    pub fn join(self) -> Ended {
        self.thread.join().unwrap_or_default()
    }
}

/// How filling a chunk ended.
enum Fill {
    /// The chunk is full; more may be waiting.
    Full,
    /// Everything available was read.
    Drained,
    /// End of stream or an error.
    End,
}

fn read_loop(
    conn: &mut Conn,
    pool: &Pool,
    tx: &mpsc::UnboundedSender<Chunk>,
    shutdown: &Shutdown,
    handshake_deadline: Instant,
) -> Ended {
    // After a full chunk more is likely waiting: read again without polling.
    let mut full = false;
    let mut stopping: Option<Stopping> = None;
    loop {
        if tx.is_closed() {
            // The listener's thread is gone, or closed this connection.
            return left_unread(conn, 0);
        }
        if conn.is_handshaking() && Instant::now() >= handshake_deadline {
            return Ended::TlsFailed("the handshake did not finish within --idle-timeout".into());
        }
        if stopping.is_none() && shutdown.is_triggered() {
            stopping = Some(Stopping::begin(conn));
        }
        if stopping.is_none() && !full && !crate::sys::wait_readable(conn.fd(), POLL) {
            continue;
        }
        let Some(mut chunk) = pool.take(POLL) else {
            continue;
        };
        let fill = fill(conn, &mut chunk);
        let read = chunk.len as u64;
        if read > 0 {
            // Err: the listener's thread is gone, or takes no more.
            if let Err(mpsc::error::SendError(chunk)) = tx.send(chunk) {
                let unsent = chunk.len as u64;
                pool.give(chunk);
                return left_unread(conn, unsent);
            }
        } else {
            pool.give(chunk);
        }
        let drained = match fill {
            Fill::End => return ended(conn),
            Fill::Full => false,
            Fill::Drained => true,
        };
        full = !drained;
        if let Some(s) = &mut stopping {
            if let Some(ended) = s.after_read(conn, read, drained) {
                return ended;
            }
        }
    }
}

/// Bytes a reader still reads after the stop beyond what its socket held
/// then, before it shuts the socket: a TCP sender's own send buffer at
/// the stop (Linux's default `tcp_wmem` maximum), written before the stop
/// and not yet sent. Past it, what comes was written after the stop.
const IN_FLIGHT: u64 = 4 << 20;

/// A reader once the listener stops. It reads on while bytes keep coming,
/// up to what the socket held at the stop and [`IN_FLIGHT`] more, so that
/// what a sender wrote before the stop is read. Then it shuts the socket
/// both ways and reads what the kernel had accepted, to its end: the
/// kernel takes nothing more, so every byte acknowledged is read.
struct Stopping {
    budget: u64,
    shut: bool,
}

impl Stopping {
    fn begin(conn: &Conn) -> Stopping {
        let held = crate::sys::unread_bytes(conn.fd()).unwrap_or(0) as u64;
        Stopping {
            budget: held + IN_FLIGHT,
            shut: false,
        }
    }

    /// After a read of `read` bytes that emptied the socket (`drained`) or
    /// not: `Some` when the reader ends.
    fn after_read(&mut self, conn: &mut Conn, read: u64, drained: bool) -> Option<Ended> {
        self.budget = self.budget.saturating_sub(read);
        if self.shut {
            // A shut socket reads 0 at its end; one that could not be shut
            // may still take bytes: they are counted, not dropped.
            return drained.then(|| left_unread(conn, 0));
        }
        if drained || self.budget == 0 {
            conn.shut();
            self.shut = true;
        }
        None
    }
}

/// How a reader that stops before the connection's end ended: the bytes
/// still in the socket, and `unsent` read and not handed over. The socket
/// is shut first, so that nothing arrives after it was counted.
fn left_unread(conn: &mut Conn, unsent: u64) -> Ended {
    conn.shut();
    // A socket whose count cannot be read (closed by the peer's reset, say)
    // holds nothing that could still be read.
    let in_socket = crate::sys::unread_bytes(conn.fd()).unwrap_or(0) as u64;
    match unsent + in_socket {
        0 => Ended::Closed,
        n => Ended::LeftUnread(n),
    }
}

/// How a connection that read its end ended.
fn ended(conn: &Conn) -> Ended {
    match conn {
        Conn::Tls(s) => match s.failure() {
            Some(why) => Ended::TlsFailed(why.to_string()),
            None if s.is_handshaking() => {
                Ended::TlsFailed("the client closed the connection during the handshake".into())
            }
            None => Ended::Closed,
        },
        Conn::Tcp(_) | Conn::Unix(_) => Ended::Closed,
    }
}

fn fill(conn: &mut Conn, chunk: &mut Chunk) -> Fill {
    loop {
        let Some(spare) = chunk.buf.get_mut(chunk.len..).filter(|s| !s.is_empty()) else {
            return Fill::Full;
        };
        match conn.read(spare) {
            Ok(0) => return Fill::End,
            Ok(n) => chunk.len += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Fill::Drained,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A reset connection ends like a closed one.
            Err(_) => return Fill::End,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_never_makes_more_than_its_chunks() {
        let pool = Pool::default();
        let taken: Vec<Chunk> = (0..POOL_CHUNKS).map(|_| pool.take(POLL).unwrap()).collect();
        assert!(pool.take(Duration::from_millis(10)).is_none());
        let mut taken = taken.into_iter();
        pool.give(taken.next().unwrap());
        let again = pool.take(Duration::from_millis(10)).unwrap();
        assert_eq!(again.len, 0);
        assert_eq!(again.buf.len(), CHUNK);
        assert!(pool.take(Duration::from_millis(10)).is_none());
    }

    #[test]
    fn a_reader_that_is_given_up_on_counts_what_its_socket_still_holds() {
        use std::io::Write;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        a.write_all(&[b'x'; 1000]).unwrap();
        // Every chunk taken: the reader cannot read before it is given up on.
        let pool = Pool::default();
        let taken: Vec<Chunk> = (0..POOL_CHUNKS).map(|_| pool.take(POLL).unwrap()).collect();
        let stopping = Shutdown::new();
        stopping.trigger();
        let mut reader = Reader::start(Conn::Unix(b), pool.clone(), stopping, POLL, || {}).unwrap();
        reader.chunks.close();
        assert!(reader.chunks.blocking_recv().is_none());
        assert_eq!(reader.join(), Ended::LeftUnread(1000));
        drop(taken);
    }

    /// The connection's place under `--max-connections` is given back
    /// before its socket closes: a client that sees its connection closed
    /// and connects again is not refused for it (before, the slot waited for
    /// the parsing task, which under load lagged behind the close).
    #[test]
    fn a_reader_gives_its_place_back_before_its_socket_closes() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let peer = a.try_clone().unwrap();
        peer.set_nonblocking(true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // The client's read waits while the reader's socket is open, and
        // reads the end once it is closed.
        let release = move || {
            let read = (&peer).read(&mut [0u8; 1]);
            let _ = tx.send(matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock));
        };
        let pool = Pool::default();
        let reader = Reader::start(Conn::Unix(b), pool, Shutdown::new(), POLL, release).unwrap();
        // The client is done sending: the reader reads the end and ends.
        a.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(reader.join(), Ended::Closed);
        assert_eq!(rx.recv(), Ok(true));
    }

    #[test]
    fn a_reader_hands_over_every_byte_in_order_and_ends_at_eof() {
        use std::io::Write;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let pool = Pool::default();
        let mut reader =
            Reader::start(Conn::Unix(b), pool.clone(), Shutdown::new(), POLL, || {}).unwrap();
        let sent: Vec<u8> = (0..3 * CHUNK as u32 + 7).map(|i| (i % 251) as u8).collect();
        let writer = {
            let sent = sent.clone();
            std::thread::spawn(move || {
                a.write_all(&sent).unwrap();
            })
        };
        let mut got = Vec::new();
        while let Some(chunk) = reader.chunks.blocking_recv() {
            got.extend_from_slice(chunk.bytes());
            pool.give(chunk);
        }
        writer.join().unwrap();
        reader.join();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent);
    }
}
