//! Datagram sockets, UDP and unix: one message per datagram.
//!
//! A datagram that finds the kernel's receive buffer full is lost, so each
//! socket is drained by a thread of its own, as fast as datagrams come and
//! whatever the listener's thread is doing: many per call (`recvmmsg`,
//! [`crate::sys::mmsg`]), copied into batches that a bounded queue hands to the
//! listener's thread, where they are parsed like any message. A burst
//! faster than parsing waits in the queue ([`QUEUE`] batches of about
//! [`BATCH_BYTES`], so memory stays bounded) instead of overflowing the
//! kernel's buffer; past that, the reader waits and the kernel drops, as
//! before. A datagram longer than `--max-message` is cut there and marked.
//! When the listener stops, the datagrams already received are still read
//! (a unix socket is shut for reading first, so that it takes none it
//! would drop); if stopping gives up first, the bytes of those received and not parsed
//! are counted (`unread_bytes`). What the kernel still holds then is not:
//! a datagram socket tells only the size of its next datagram.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::hub::Hub;
use super::senders::Peer;
use crate::shutdown::Shutdown;
use crate::sys::mmsg::{MultiRecv, Source, SLOTS};

/// No datagram is longer: UDP's limit is 64 KiB, and unix datagrams are
/// bounded by the sender's socket buffer (208 KiB by default).
const MAX_DATAGRAM: usize = 256 * 1024;

/// A batch is handed over once it holds this many bytes (or [`LINGER`]
/// after its first datagram).
const BATCH_BYTES: usize = 128 * 1024;

/// Batches waiting for the listener's thread, at most (with the batch
/// being filled and the one being parsed: about 16 MiB at most).
const QUEUE: usize = 128;

/// The reader looks this often whether the listener is stopping.
const POLL: Duration = Duration::from_millis(100);

/// A batch is handed over at most this long after its first datagram.
const LINGER: Duration = Duration::from_millis(1);

/// After a call that found few datagrams, the reader waits this long.
const GATHER: Duration = Duration::from_micros(50);

/// Calls made at most once the listener stops: more than a raised receive
/// buffer holds.
const DRAIN_CALLS: usize = 64 * 1024;

/// The listener's thread hands over full buffers after this many messages
/// of a batch, so that a batch never grows an output buffer far past its size.
const WRITE_EVERY: usize = 64;

pub enum DgramSocket {
    Udp(std::net::UdpSocket),
    Unix(std::os::unix::net::UnixDatagram),
}

impl DgramSocket {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            DgramSocket::Udp(s) => s.as_fd(),
            DgramSocket::Unix(s) => s.as_fd(),
        }
    }

    /// At the stop: a unix datagram socket shut for reading takes no more
    /// (a sender is refused with EPIPE, where it had been told its
    /// datagram was taken and then lost it at the close); what it took
    /// stays readable. UDP has no such refusal: its senders are never
    /// told anyway.
    fn shut_for_reading(&self) {
        if let DgramSocket::Unix(s) = self {
            if let Err(e) = s.shutdown(std::net::Shutdown::Read) {
                tracing::debug!(error = %e, "shutting a unix datagram socket: {e}");
            }
        }
    }
}

/// Datagrams received together, copied into one buffer.
struct Datagrams {
    bytes: Vec<u8>,
    /// Per datagram: where it ends in `bytes`, whether it was cut, its sender.
    items: Vec<(usize, bool, Source)>,
}

impl Datagrams {
    fn new() -> Datagrams {
        Datagrams {
            bytes: Vec::with_capacity(BATCH_BYTES + 64 * 1024),
            items: Vec::with_capacity(1024),
        }
    }

    fn push(&mut self, bytes: &[u8], truncated: bool, from: Source) {
        self.bytes.extend_from_slice(bytes);
        self.items.push((self.bytes.len(), truncated, from));
    }

    fn datagrams(&self) -> impl Iterator<Item = (&[u8], bool, &Source)> {
        let mut start = 0;
        self.items.iter().map(move |(end, truncated, from)| {
            let bytes = self.bytes.get(start..*end).unwrap_or(&[]);
            start = *end;
            (bytes, *truncated, from)
        })
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }
}

/// Reads `sock` until the listener stops (and then what has arrived, or
/// until stopping gives up: `given_up`).
pub async fn serve(
    sock: DgramSocket,
    listener: u16,
    name: String,
    hub: Rc<RefCell<Hub>>,
    (shutdown, given_up): (Shutdown, Shutdown),
) {
    let size = hub.borrow().max_message().min(MAX_DATAGRAM);
    let (tx, mut rx) = mpsc::channel::<Datagrams>(QUEUE);
    // Parsed batches go back to the reader, to be filled again.
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Datagrams>();
    // Once the listener stops, the reader reads what has arrived, then
    // ends the queue.
    let reader = {
        let name = name.clone();
        std::thread::Builder::new()
            .name("listen-dgram".into())
            .spawn(move || read_loop(&sock, size, &tx, &free_rx, &shutdown, &name))
    };
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(socket = %name, error = %e, "{name}: cannot start its reader: {e}; not reading it");
            return;
        }
    };
    loop {
        let next = tokio::select! {
            biased;
            () = given_up.triggered() => break,
            next = rx.recv() => next,
        };
        let Some(mut batch) = next else {
            let _ = reader.join();
            return;
        };
        deliver(&batch, listener, &hub);
        batch.clear();
        let _ = free_tx.send(batch);
    }
    // Given up: the batches waiting, and the one the reader could not hand
    // over once the queue closed, are left.
    rx.close();
    let mut left = 0;
    while let Some(batch) = rx.recv().await {
        left += batch.bytes.len() as u64;
    }
    left += reader.join().unwrap_or(0);
    hub.borrow_mut().counters.unread_bytes += left;
}

/// Hands one batch's datagrams to the hub.
fn deliver(batch: &Datagrams, listener: u16, hub: &Rc<RefCell<Hub>>) {
    let mut hub = hub.borrow_mut();
    let clock = hub.clock();
    for (i, (bytes, truncated, from)) in batch.datagrams().enumerate() {
        let peer = match from {
            Source::Inet(a) => Peer::Udp(listener, *a),
            Source::Unix(p) => Peer::UnixDgram(listener, p.clone()),
        };
        hub.frame(&peer, bytes, truncated, false, &clock);
        if i % WRITE_EVERY == WRITE_EVERY - 1 {
            hub.write_full();
        }
    }
    hub.finish_batch();
}

/// The reader thread: drains the socket into batches until the listener
/// stops, then reads what the kernel still holds (bounded, in case senders
/// keep it full) and ends.
///
/// System calls and wake-ups of the listener's thread cost more than the
/// datagrams themselves, so a batch gathers for up to [`LINGER`], and after
/// a call that found only a few datagrams the reader naps for [`GATHER`]
/// to let more arrive for the next call. Returns the bytes of datagrams it
/// could not hand over (the listener took no more).
fn read_loop(
    sock: &DgramSocket,
    size: usize,
    tx: &mpsc::Sender<Datagrams>,
    free: &std::sync::mpsc::Receiver<Datagrams>,
    shutdown: &Shutdown,
    name: &str,
) -> u64 {
    let fd = sock.fd();
    let mut m = MultiRecv::new(size);
    let mut batch = Datagrams::new();
    let mut started = Instant::now();
    let mut drain_calls = 0;
    // Err: the listener's thread is gone or takes no more: the bytes left.
    let hand_over = |batch: &mut Datagrams| {
        let next = free.try_recv().unwrap_or_else(|_| Datagrams::new());
        tx.blocking_send(std::mem::replace(batch, next))
            .map_err(|e| e.0.bytes.len() as u64)
    };
    loop {
        let stop = shutdown.is_triggered();
        if stop && drain_calls == 0 {
            sock.shut_for_reading();
        }
        if stop {
            drain_calls += 1;
            if drain_calls > DRAIN_CALLS {
                break;
            }
        } else if batch.items.is_empty() {
            if !crate::sys::wait_readable(fd, POLL) {
                continue;
            }
            started = Instant::now();
        } else {
            let left = LINGER.saturating_sub(started.elapsed());
            if left.is_zero() || !crate::sys::wait_readable(fd, left) {
                if let Err(left) = hand_over(&mut batch) {
                    return left;
                }
                continue;
            }
        }
        let drained = match m.recv(fd) {
            Ok(n) => {
                for i in 0..n {
                    if let Some((bytes, truncated, from)) = m.datagram(i) {
                        batch.push(bytes, truncated, from);
                    }
                }
                if n < SLOTS / 2 && !stop {
                    std::thread::sleep(GATHER);
                }
                false
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => {
                // ICMP errors and the like concern one sender, not the socket.
                tracing::debug!(socket = %name, error = %e, "{name}: receive error: {e}");
                false
            }
        };
        if batch.bytes.len() >= BATCH_BYTES {
            if let Err(left) = hand_over(&mut batch) {
                return left;
            }
        }
        if stop && drained {
            break;
        }
    }
    if batch.items.is_empty() {
        return 0;
    }
    tx.blocking_send(batch)
        .map_or_else(|e| e.0.bytes.len() as u64, |()| 0)
}
