//! Datagram sockets, UDP and unix: one message per datagram.
//!
//! Each wake-up reads the datagrams the kernel holds, up to a batch, into
//! the hub's shared buffer, so a flood on one socket cannot starve the
//! others. A datagram longer than `--max-message` is cut there and marked.
//! When the listener stops, the datagrams already received are still read.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use tokio::sync::watch;

use super::hub::Hub;
use super::streams::Peer;

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

    fn try_recv(&self, buf: &mut [u8], listener: u16) -> io::Result<(usize, Peer)> {
        match self {
            DgramSocket::Udp(s) => s
                .try_recv_from(buf)
                .map(|(n, from)| (n, Peer::Udp(listener, from))),
            DgramSocket::Unix(s) => s.try_recv_from(buf).map(|(n, from)| {
                let path = from.as_pathname().map(Box::from);
                (n, Peer::UnixDgram(listener, path))
            }),
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
        let full = receive(&sock, listener, &name, &hub, BATCH);
        if full {
            tokio::task::yield_now().await;
        }
    }
    // Stopping: what the kernel already holds is read, not lost (bounded,
    // in case senders keep it full).
    for _ in 0..DRAIN_BATCHES {
        if !receive(&sock, listener, &name, &hub, BATCH) {
            break;
        }
    }
}

/// Reads up to `batch` datagrams; true if there may be more.
fn receive(
    sock: &DgramSocket,
    listener: u16,
    name: &str,
    hub: &Rc<RefCell<Hub>>,
    batch: usize,
) -> bool {
    let mut hub = hub.borrow_mut();
    let clock = hub.clock();
    let max = hub.max_message();
    let mut buf = std::mem::take(&mut hub.read_buf);
    let limit = (max + 1).min(buf.len());
    let mut more = false;
    for i in 0..batch {
        if i % 32 == 31 {
            hub.write_full();
        }
        match sock.try_recv(&mut buf[..limit], listener) {
            Ok((n, peer)) => {
                // One byte more than the maximum came in: the datagram was longer.
                let truncated = n > max;
                let n = n.min(max);
                hub.frame(&peer, &buf[..n], truncated, false, &clock);
                more = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                more = false;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // ICMP errors and the like concern one sender, not the socket.
                tracing::debug!(socket = %name, error = %e, "{name}: receive error: {e}");
                more = false;
                break;
            }
        }
    }
    hub.read_buf = buf;
    hub.finish_batch();
    more
}
