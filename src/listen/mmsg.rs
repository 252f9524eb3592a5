//! Reading many datagrams with one system call (`recvmmsg`).
//!
//! At hundreds of thousands of datagrams a second, one `recvfrom` per
//! datagram costs as much as parsing it. `recvmmsg` fills [`SLOTS`]
//! buffers at once and says, per datagram, its length, its sender and
//! whether it was longer than its buffer (`MSG_TRUNC`). Neither std nor
//! tokio offers it, hence the few lines of `libc` here.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Datagrams per call.
pub const SLOTS: usize = 16;

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
    names: Vec<libc::sockaddr_storage>,
    /// Per slot: its length and flags after a call.
    got: Vec<(usize, u32, libc::socklen_t)>,
}

impl MultiRecv {
    pub fn new(size: usize) -> MultiRecv {
        let size = size.max(1);
        MultiRecv {
            size,
            bufs: vec![0; SLOTS * size],
            // SAFETY: sockaddr_storage is plain old data; zero is valid.
            names: vec![unsafe { std::mem::zeroed() }; SLOTS],
            got: vec![(0, 0, 0); SLOTS],
        }
    }

    /// Receives up to [`SLOTS`] datagrams from `fd` without blocking;
    /// `WouldBlock` when there are none.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
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
                h.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen =
                    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        // SAFETY: every pointer in `hdrs` points into `iovs`, `self.bufs`
        // and `self.names`, which outlive the call and are not moved.
        let n = unsafe {
            libc::recvmmsg(
                fd,
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

/// Decodes a sender's address.
fn source(name: &libc::sockaddr_storage, len: libc::socklen_t) -> Source {
    let len = len as usize;
    match i32::from(name.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET).
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Source::Inet(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6).
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Source::Inet(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        libc::AF_UNIX => {
            // SAFETY: the kernel wrote a sockaddr_un (family AF_UNIX).
            let a =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
            let offset = std::mem::size_of::<libc::sa_family_t>();
            let path_len = len.saturating_sub(offset).min(a.sun_path.len());
            let raw: Vec<u8> = a.sun_path[..path_len].iter().map(|&c| c as u8).collect();
            // A path ends at its NUL; an abstract name starts with one.
            let path = raw.split(|&b| b == 0).next().unwrap_or(&[]);
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
    use std::os::fd::AsRawFd;

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
        let n = m.recv(rx.as_raw_fd()).unwrap();
        assert_eq!(n, SLOTS);
        for i in 0..n {
            let (bytes, truncated, from) = m.datagram(i).unwrap();
            let want = 10 + i;
            assert_eq!(bytes.len(), want.min(16));
            assert_eq!(truncated, want > 16);
            assert!(bytes.iter().all(|&b| b == b'a' + i as u8));
            assert_eq!(from, Source::Inet(tx.local_addr().unwrap()));
        }
        assert_eq!(m.recv(rx.as_raw_fd()).unwrap(), 4);
        let e = m.recv(rx.as_raw_fd()).unwrap_err();
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
        assert_eq!(m.recv(rx.as_raw_fd()).unwrap(), 2);
        let (b, _, from) = m.datagram(0).unwrap();
        assert_eq!(b, b"from a path");
        assert_eq!(from, Source::Unix(Some(Box::from(named.as_path()))));
        let (b, _, from) = m.datagram(1).unwrap();
        assert_eq!(b, b"from nowhere");
        assert_eq!(from, Source::Unix(None));
    }
}
