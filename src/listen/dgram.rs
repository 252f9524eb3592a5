//! Datagram sockets, UDP and unix: one message per datagram.
//!
//! Each wake-up reads the datagrams the kernel holds, up to a batch, with
//! `recvmmsg` ([`super::mmsg`]), so a flood on one socket cannot starve the
//! others. A datagram longer than `--max-message` is cut there and marked.
//! When the listener stops, the datagrams already received are still read.

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use tokio::io::Interest;
use tokio::sync::watch;

use super::hub::Hub;
use super::mmsg::{MultiRecv, Source};
use super::streams::Peer;

/// No datagram is longer: UDP's limit is 64 KiB, and unix datagrams are
/// bounded by the sender's socket buffer (208 KiB by default).
const MAX_DATAGRAM: usize = 256 * 1024;

/// Datagrams read per wake-up before yielding to other sockets.
const BATCH: usize = 256;

/// Batches read at most once the listener stops: more than a raised
/// receive buffer holds.
const DRAIN_BATCHES: usize = 1024;

pub enum DgramSocket {
    Udp(tokio::net::UdpSocket),
    Unix(tokio::net::UnixDatagram),
}

impl DgramSocket {
    async fn readable(&self) -> io::Result<()> {
        match self {
            DgramSocket::Udp(s) => s.readable().await,
            DgramSocket::Unix(s) => s.readable().await,
        }
    }

    /// One `recvmmsg`; `WouldBlock` (and the readiness cleared) when the
    /// socket is empty.
    fn try_recv(&self, m: &mut MultiRecv) -> io::Result<usize> {
        match self {
            DgramSocket::Udp(s) => s.try_io(Interest::READABLE, || m.recv(s.as_raw_fd())),
            DgramSocket::Unix(s) => s.try_io(Interest::READABLE, || m.recv(s.as_raw_fd())),
        }
    }
}

/// Reads `sock` until the listener stops.
pub async fn serve(
    sock: DgramSocket,
    listener: u16,
    name: String,
    hub: Rc<RefCell<Hub>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut m = MultiRecv::new(hub.borrow().max_message().min(MAX_DATAGRAM));
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            ready = sock.readable() => {
                if let Err(e) = ready {
                    tracing::error!(socket = %name, error = %e, "{name}: {e}; no longer reading it");
                    return;
                }
            }
        }
        let full = receive(&sock, &mut m, listener, &name, &hub, BATCH);
        if full {
            tokio::task::yield_now().await;
        }
    }
    // Stopping: what the kernel already holds is read, not lost (bounded,
    // in case senders keep it full).
    for _ in 0..DRAIN_BATCHES {
        if !receive(&sock, &mut m, listener, &name, &hub, BATCH) {
            break;
        }
    }
}

/// Reads up to about `batch` datagrams; true if there may be more.
fn receive(
    sock: &DgramSocket,
    m: &mut MultiRecv,
    listener: u16,
    name: &str,
    hub: &Rc<RefCell<Hub>>,
    batch: usize,
) -> bool {
    let mut hub = hub.borrow_mut();
    let clock = hub.clock();
    let mut read = 0;
    let more = loop {
        if read >= batch {
            break true;
        }
        match sock.try_recv(m) {
            Ok(n) => {
                for i in 0..n {
                    if let Some((bytes, truncated, from)) = m.datagram(i) {
                        let peer = match from {
                            Source::Inet(a) => Peer::Udp(listener, a),
                            Source::Unix(p) => Peer::UnixDgram(listener, p),
                        };
                        hub.frame(&peer, bytes, truncated, false, &clock);
                    }
                }
                read += n.max(1);
                hub.write_full();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // ICMP errors and the like concern one sender, not the socket.
                tracing::debug!(socket = %name, error = %e, "{name}: receive error: {e}");
                break false;
            }
        }
    };
    hub.finish_batch();
    more
}
