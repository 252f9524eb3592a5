//! Listen addresses and opening the sockets.
//!
//! An address without a host (`5514`, `:5514`) is loopback, 127.0.0.1: a
//! syslog listener takes unauthenticated input, so it reaches beyond the
//! machine only when an address such as `0.0.0.0:5514` says so. Unix
//! sockets are created mode 0666, like `/dev/log`; a stale socket file left
//! by a dead listener is replaced, a live one or any other file is not.
//! UDP and unix datagram sockets get a large receive buffer, so bursts wait
//! in the kernel instead of being dropped; stream listeners get a long
//! accept queue, so a burst of connections (every container of a host
//! restarting at once) waits in the kernel instead of retrying its SYN a
//! second later.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The receive buffer asked for on datagram sockets.
pub const RCVBUF: usize = 8 << 20;

/// The accept queue asked for on stream listeners. std's bind sets 128;
/// the kernel caps this at `net.core.somaxconn` (4096 since Linux 5.4).
pub const BACKLOG: i32 = 4096;

/// What to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    /// A unix datagram socket, like `/dev/log`.
    UnixDgram(PathBuf),
    /// A unix stream socket (Docker's `unix://`).
    UnixStream(PathBuf),
}

impl Endpoint {
    /// How the address is written in logmux's messages, e.g. `udp://127.0.0.1:5514`.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Udp(a) => format!("udp://{a}"),
            Endpoint::Tcp(a) => format!("tcp://{a}"),
            Endpoint::UnixDgram(p) => format!("unixgram://{}", p.display()),
            Endpoint::UnixStream(p) => format!("unix://{}", p.display()),
        }
    }
}

/// Parses `PORT`, `:PORT`, `HOST:PORT` or `[V6]:PORT`; without a host the
/// address is 127.0.0.1.
pub fn parse_inet(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not an address like :5514, 127.0.0.1:5514 or 0.0.0.0:5514");
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = port_only.parse().map_err(|_| bad())?;
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A host name (`localhost:5514`): the first address it resolves to.
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("`{s}` resolves to no address")),
        Err(_) => Err(bad()),
    }
}

/// Binds a UDP socket, non-blocking, with a raised receive buffer.
pub fn udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let sock = std::net::UdpSocket::bind(addr)?;
    sock.set_nonblocking(true)?;
    let bound = sock.local_addr().unwrap_or(addr);
    raise_rcvbuf(&sock, &format!("udp://{bound}"));
    Ok(sock)
}

/// Binds a TCP listener, non-blocking.
pub fn tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    crate::sys::listen_backlog(&listener, BACKLOG)?;
    Ok(listener)
}

/// Binds a unix datagram socket at `path`, non-blocking.
pub fn unix_dgram(path: &Path) -> io::Result<std::os::unix::net::UnixDatagram> {
    clear_stale(path, true)?;
    let sock = std::os::unix::net::UnixDatagram::bind(path)?;
    world_writable(path)?;
    sock.set_nonblocking(true)?;
    raise_rcvbuf(&sock, &format!("unixgram://{}", path.display()));
    Ok(sock)
}

/// Binds a unix stream listener at `path`, non-blocking.
pub fn unix_stream(path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    clear_stale(path, false)?;
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    world_writable(path)?;
    listener.set_nonblocking(true)?;
    crate::sys::listen_backlog(&listener, BACKLOG)?;
    Ok(listener)
}

/// Any local program may log, as with `/dev/log`.
fn world_writable(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
}

/// Removes a socket file nobody listens on any more; refuses to touch a
/// live socket or anything that is not a socket.
fn clear_stale(path: &Path, datagram: bool) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        ));
    }
    let live = if datagram {
        std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.connect(path))
    } else {
        std::os::unix::net::UnixStream::connect(path).map(|_| ())
    };
    match live {
        Ok(()) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process listens on this socket",
        )),
        Err(_) => std::fs::remove_file(path),
    }
}

/// Asks for [`RCVBUF`] bytes of receive buffer (see
/// [`crate::sys::set_recv_buffer`]); the size granted is reported at debug
/// level.
fn raise_rcvbuf(sock: &impl AsFd, what: &str) {
    let _ = crate::sys::set_recv_buffer(sock, RCVBUF);
    if let Ok(got) = crate::sys::recv_buffer(sock) {
        // Linux reports twice the size asked for (its bookkeeping share).
        tracing::debug!(
            socket = what,
            requested = RCVBUF,
            granted = got,
            "{what}: receive buffer {got} bytes (asked for {RCVBUF})"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_inet(":5514"), Ok("127.0.0.1:5514".parse().unwrap()));
        assert_eq!(parse_inet("5514"), Ok("127.0.0.1:5514".parse().unwrap()));
        assert_eq!(
            parse_inet("0.0.0.0:514"),
            Ok("0.0.0.0:514".parse().unwrap())
        );
        assert_eq!(parse_inet("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        assert!(parse_inet("localhost:5514").unwrap().ip().is_loopback());
        for bad in ["", ":", "70000", ":x", "host:port", "1.2.3.4"] {
            assert!(parse_inet(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stale_sockets_are_replaced_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let first = unix_dgram(&path).unwrap();
        // Live: refused.
        assert_eq!(
            unix_dgram(&path).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(first);
        // Stale: replaced.
        let _second = unix_dgram(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666);
        // Not a socket: never removed.
        let file = dir.path().join("file");
        std::fs::write(&file, "keep").unwrap();
        assert!(unix_stream(&file).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }
}
