//! Reading many datagrams with one system call (`recvmmsg`).
//!
//! At hundreds of thousands of datagrams a second, one `recvfrom` per
//! datagram costs as much as parsing it. `recvmmsg` fills [`SLOTS`]
//! buffers at once and says, per datagram, its length, its sender and
//! whether it was longer than its buffer (`MSG_TRUNC`). Neither std nor
//! tokio offers it, and nix's `recvmmsg` keeps each sender-address length
//! from the previous call (a long unix path after a short one is cut) and
//! reads addresses the kernel did not write; hence the few lines of `libc`
//! here. Sender addresses are kept as bytes and decoded without `unsafe`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Datagrams per call.
pub const SLOTS: usize = 16;

/// Room for any sender address (a `sockaddr_storage`), as the kernel
/// writes it.
type Name = [u8; std::mem::size_of::<libc::sockaddr_storage>()];

/// Who sent a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Inet(SocketAddr),
    /// A unix sender's bound path; `None` for an unbound (or abstract) one.
    Unix(Option<Box<Path>>),
}

/// Buffers for [`SLOTS`] datagrams of up to `size` bytes each.
pub struct MultiRecv {
    size: usize,
    bufs: Vec<u8>,
    names: Vec<Name>,
    /// Per slot: its length and flags after a call.
    got: Vec<(usize, u32, libc::socklen_t)>,
}

impl MultiRecv {
    pub fn new(size: usize) -> MultiRecv {
        let size = size.max(1);
        MultiRecv {
            size,
            bufs: vec![0; SLOTS * size],
            names: vec![[0; std::mem::size_of::<Name>()]; SLOTS],
            got: vec![(0, 0, 0); SLOTS],
        }
    }

    /// Receives up to [`SLOTS`] datagrams from `fd` without blocking;
    /// `WouldBlock` when there are none.
    pub fn recv(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        let mut iovs: Vec<libc::iovec> = self
            .bufs
            .chunks_mut(self.size)
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(self.names.iter_mut())
            .map(|(iov, name)| {
                // SAFETY: msghdr is plain old data; zero is valid.
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_name = name.as_mut_ptr().cast();
                h.msg_hdr.msg_namelen = std::mem::size_of::<Name>() as libc::socklen_t;
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        // SAFETY: every pointer in `hdrs` points into `iovs`, `self.bufs`
        // and `self.names`, which outlive the call and are not moved.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                hdrs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).unwrap_or(0).min(SLOTS);
        for (got, h) in self.got.iter_mut().zip(&hdrs).take(n) {
            *got = (
                h.msg_len as usize,
                h.msg_hdr.msg_flags as u32,
                h.msg_hdr.msg_namelen,
            );
        }
        Ok(n)
    }

    /// Datagram `i` of the last call: its bytes (at most the buffer size),
    /// whether it was longer, and its sender.
    pub fn datagram(&self, i: usize) -> Option<(&[u8], bool, Source)> {
        let &(len, flags, namelen) = self.got.get(i)?;
        let start = i * self.size;
        let bytes = self.bufs.get(start..start + len.min(self.size))?;
        let truncated = flags & (libc::MSG_TRUNC as u32) != 0 || len > self.size;
        let source = source(self.names.get(i)?, namelen);
        Some((bytes, truncated, source))
    }
}

/// Decodes a sender's address from the bytes of its `sockaddr`: the
/// family (native order), then per family the port (network order) and
/// address, or a unix path.
fn source(name: &Name, len: libc::socklen_t) -> Source {
    let name = &name[..(len as usize).min(name.len())];
    let Some((family, rest)) = name.split_first_chunk::<2>() else {
        return Source::Unix(None);
    };
    let port = |rest: &[u8]| rest.first_chunk::<2>().map(|p| u16::from_be_bytes(*p));
    match i32::from(u16::from_ne_bytes(*family)) {
        libc::AF_INET => {
            // sin_port, sin_addr.
            let (Some(port), Some(ip)) = (port(rest), rest.get(2..6)) else {
                return Source::Unix(None);
            };
            let ip = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
            Source::Inet(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        libc::AF_INET6 => {
            // sin6_port, sin6_flowinfo, sin6_addr, sin6_scope_id.
            let field = |at: usize| rest.get(at..at + 4).and_then(|b| b.first_chunk::<4>());
            let ip = rest.get(6..22).and_then(|b| b.first_chunk::<16>());
            let (Some(port), Some(flow), Some(ip), Some(scope)) =
                (port(rest), field(2), ip, field(22))
            else {
                return Source::Unix(None);
            };
            Source::Inet(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(*ip),
                port,
                u32::from_ne_bytes(*flow),
                u32::from_ne_bytes(*scope),
            )))
        }
        libc::AF_UNIX => {
            // A path ends at its NUL; an abstract name starts with one.
            let path = rest.split(|&b| b == 0).next().unwrap_or(&[]);
            if path.is_empty() {
                Source::Unix(None)
            } else {
                Source::Unix(Some(Box::from(Path::new(std::ffi::OsStr::from_bytes(
                    path,
                )))))
            }
        }
        _ => Source::Unix(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn many_udp_datagrams_in_one_call() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..20u8 {
            tx.send_to(
                &vec![b'a' + i; 10 + usize::from(i)],
                rx.local_addr().unwrap(),
            )
            .unwrap();
        }
        let mut m = MultiRecv::new(16);
        let n = m.recv(rx.as_fd()).unwrap();
        assert_eq!(n, SLOTS);
        for i in 0..n {
            let (bytes, truncated, from) = m.datagram(i).unwrap();
            let want = 10 + i;
            assert_eq!(bytes.len(), want.min(16));
            assert_eq!(truncated, want > 16);
            assert!(bytes.iter().all(|&b| b == b'a' + i as u8));
            assert_eq!(from, Source::Inet(tx.local_addr().unwrap()));
        }
        assert_eq!(m.recv(rx.as_fd()).unwrap(), 4);
        let e = m.recv(rx.as_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn unix_senders_named_and_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rx.sock");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let named = dir.path().join("tx.sock");
        let tx = std::os::unix::net::UnixDatagram::bind(&named).unwrap();
        tx.send_to(b"from a path", &path).unwrap();
        let anon = std::os::unix::net::UnixDatagram::unbound().unwrap();
        anon.send_to(b"from nowhere", &path).unwrap();
        let mut m = MultiRecv::new(64);
        assert_eq!(m.recv(rx.as_fd()).unwrap(), 2);
        let (b, _, from) = m.datagram(0).unwrap();
        assert_eq!(b, b"from a path");
        assert_eq!(from, Source::Unix(Some(Box::from(named.as_path()))));
        let (b, _, from) = m.datagram(1).unwrap();
        assert_eq!(b, b"from nowhere");
        assert_eq!(from, Source::Unix(None));
    }

    #[test]
    fn udp_over_ipv6() {
        let Ok(rx) = std::net::UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 here
        };
        let tx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        tx.send_to(b"six", rx.local_addr().unwrap()).unwrap();
        let mut m = MultiRecv::new(16);
        assert_eq!(m.recv(rx.as_fd()).unwrap(), 1);
        let (b, truncated, from) = m.datagram(0).unwrap();
        assert_eq!((b, truncated), (&b"six"[..], false));
        assert_eq!(from, Source::Inet(tx.local_addr().unwrap()));
    }
}
