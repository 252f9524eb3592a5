//! The system calls logmux makes, through `nix` where it has them.
//!
//! Each is a small safe function named for what logmux wants from it
//! (wait until readable, become a subreaper, lengthen an accept queue), so
//! that the doors hold no `unsafe` and no `libc` structs. Only what nix
//! cannot express stays `unsafe`, with its reason: the code a child runs
//! between fork and exec ([`die_with_parent`], [`foreground_on_terminal`]), `recvmmsg` batches
//! ([`mmsg`]), whose nix form does not fit, `MADV_PAGEOUT`
//! ([`code_pages`]), which nix does not name, `FIONREAD`
//! ([`unread_bytes`]), whose nix form needs a feature for one call, and
//! putting back a signal's default action ([`die_by`]).
//!
//! Failures are returned, or folded into the answer where a caller could
//! only guess anyway (a descriptor whose type cannot be read may stall).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::socket::{self, sockopt, Backlog, MsgFlags};
use nix::sys::stat::{fstat, SFlag};

pub mod accounts;
pub mod code_pages;
pub mod cpus;
pub mod mmsg;

/// Waits until `fd` is readable or `timeout` passes; true if readable.
///
/// Readable also means an end of stream, a peer that hung up, or an error
/// (and true when polling itself fails), so that the next read reports it
/// instead of the caller waiting again. A signal does not end the wait.
/// The timeout counts in whole milliseconds, rounded down.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        // POLLRDHUP (which nix does not name): a TCP peer's close counts
        // even before its last bytes are read.
        let events = PollFlags::POLLIN | PollFlags::from_bits_retain(libc::POLLRDHUP);
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, left) {
            Ok(n) => return n > 0,
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Waits until `fd` can be written or `timeout` passes; true if it can
/// (or polling itself fails, so that the next write reports the error).
pub fn wait_writable(fd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        match poll(&mut fds, left) {
            Ok(n) => return n > 0,
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Whether `fd` is a regular file (reads never wait for a writer); false
/// when its type cannot be read.
pub fn is_regular_file(fd: impl AsFd) -> bool {
    file_type(fd) == Some(SFlag::S_IFREG)
}

/// The type bits of `fd`'s mode (`S_IFREG`, `S_IFIFO` …), if it can be read.
fn file_type(fd: impl AsFd) -> Option<SFlag> {
    let st = fstat(fd.as_fd().as_raw_fd()).ok()?;
    Some(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// Bytes a pipe or stream socket holds for its reader right now
/// ([`unread_bytes`]); 0 for anything else (a regular file's FIONREAD is
/// what is left of the file, which a stop does not read).
pub fn bytes_held(fd: impl AsFd) -> usize {
    if matches!(file_type(&fd), Some(SFlag::S_IFIFO | SFlag::S_IFSOCK)) {
        unread_bytes(fd).unwrap_or(0)
    } else {
        0
    }
}

/// Points fd 0 at `/dev/null`, closing what it was: once no other process
/// holds a pipe's read end, its writers get EPIPE instead of writing into
/// a pipe that no one will read.
pub fn stdin_to_dev_null() -> io::Result<()> {
    let null = std::fs::File::open("/dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0)?;
    Ok(())
}

/// Whether a connected socket's peer has closed it: a peek (without
/// waiting) finds the end of the stream, or an error other than "nothing
/// to read yet".
pub fn peer_closed(sock: impl AsFd) -> bool {
    let mut byte = [0u8; 1];
    let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
    match socket::recv(sock.as_fd().as_raw_fd(), &mut byte, flags) {
        Ok(n) => n == 0,
        Err(e) => e != Errno::EAGAIN,
    }
}

/// Sets a pipe's capacity to `bytes` (F_SETPIPE_SZ).
pub fn set_pipe_size(pipe: impl AsFd, bytes: i32) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg};
    fcntl(pipe.as_fd().as_raw_fd(), FcntlArg::F_SETPIPE_SZ(bytes))?;
    Ok(())
}

/// How much lower a background thread's priority is (as `nice -n 10`):
/// it gets about a tenth of a core that a normal thread also wants, and
/// every cycle nobody else wants.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority by [`BACKGROUND_NICE`]
/// (at most to 19), for work that may lag behind the readers and the log
/// sinks (spans, which are derived from the logs): it takes the CPU they
/// leave. On Linux the nice value belongs to each thread, so the rest of
/// the process keeps its own.
pub fn become_background_thread() -> io::Result<()> {
    Errno::clear();
    // nix has no nice(); it only takes a number. -1 is also a valid nice
    // value: errno tells a failure.
    if unsafe { libc::nice(BACKGROUND_NICE) } == -1 && Errno::last_raw() != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks the kernel to re-parent orphaned descendants to this process
/// (PR_SET_CHILD_SUBREAPER), as it does to PID 1.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(())
}

/// Makes `cmd`'s child die with SIGKILL when its parent (`parent`, the
/// pid of this process) dies (PR_SET_PDEATHSIG), also when the parent is
/// already gone by the time the child asks.
pub fn die_with_parent(cmd: &mut Command, parent: u32) {
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe calls (prctl, getppid, raise), allocating
    // nothing and taking no lock.
    unsafe {
        cmd.pre_exec(move || {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if u32::try_from(nix::unistd::getppid().as_raw()).ok() != Some(parent) {
                // The parent died before the line above: too late to ask.
                let _ = nix::sys::signal::raise(Signal::SIGKILL);
            }
            Ok(())
        });
    }
}

/// For a program that reads logmux's own stdin when that is a terminal
/// (`docker run -it IMAGE logmux run -- CMD`): as tini does, the program's
/// process group becomes the terminal's foreground group, so that reading
/// it does not stop the program (SIGTTIN). logmux, then in the background,
/// ignores SIGTTOU so that writing to the terminal never stops it; the
/// program gets the default back. Nothing changes when stdin is no terminal.
pub fn foreground_on_terminal(cmd: &mut Command) {
    use nix::sys::signal::{signal, SigHandler};
    use std::io::IsTerminal;
    if !io::stdin().is_terminal() {
        return;
    }
    // SAFETY: ignoring a signal installs no handler: nothing can run at an
    // unexpected time. The closure runs in the child between fork and exec
    // and only makes async-signal-safe calls (tcsetpgrp, getpgrp,
    // sigaction), allocating nothing and taking no lock.
    unsafe {
        let _ = signal(Signal::SIGTTOU, SigHandler::SigIgn);
        cmd.pre_exec(|| {
            // Its own group exists by now (std sets it before these
            // calls); SIGTTOU, still ignored, lets a background group ask.
            let stdin = BorrowedFd::borrow_raw(0);
            let _ = nix::unistd::tcsetpgrp(stdin, nix::unistd::getpgrp());
            let _ = signal(Signal::SIGTTOU, SigHandler::SigDfl);
            Ok(())
        });
    }
}

/// Gives the child `fd` as descriptor `target` (s6's notification-fd):
/// after fork, `dup2` puts it there without close-on-exec. `fd` itself
/// stays close-on-exec, so the child holds exactly one copy.
pub fn give_fd(cmd: &mut Command, fd: std::os::fd::RawFd, target: std::os::fd::RawFd) {
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe calls (dup2, fcntl), allocating nothing.
    unsafe {
        cmd.pre_exec(move || {
            if fd == target {
                // dup2 would do nothing: clear close-on-exec by hand.
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes `cmd`'s child take `account`'s groups (primary and supplementary),
/// gid and uid before exec. Registered before [`die_with_parent`], since a
/// change of credentials clears the parent-death signal. As with std's
/// `uid()`, groups are only set by root; anyone else can only become
/// themselves (setgid/setuid fail otherwise, and so does the start).
pub fn become_user(cmd: &mut Command, account: &accounts::Account) {
    let (uid, gid) = (account.uid, account.gid);
    let groups: Vec<libc::gid_t> = account.groups.clone();
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe calls (getuid, setgroups, setgid, setuid) on memory
    // allocated before the fork, allocating nothing and taking no lock.
    unsafe {
        cmd.pre_exec(move || {
            let root = libc::getuid() == 0;
            if (root && libc::setgroups(groups.len(), groups.as_ptr()) != 0)
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Calls listen(2) on a listening socket again with `backlog`: it only
/// changes the length of its accept queue. The kernel caps the length at
/// `net.core.somaxconn`.
pub fn listen_backlog(sock: &impl AsFd, backlog: i32) -> io::Result<()> {
    // nix's range excludes SOMAXCONN itself: asking for it (or more) gets
    // exactly SOMAXCONN.
    let backlog = Backlog::new(backlog).unwrap_or(Backlog::MAXCONN);
    socket::listen(sock, backlog)?;
    Ok(())
}

/// Asks for `bytes` of receive buffer on a socket: SO_RCVBUFFORCE (a
/// privileged process can pass `net.core.rmem_max`), else SO_RCVBUF
/// (capped by it).
pub fn set_recv_buffer(sock: &impl AsFd, bytes: usize) -> io::Result<()> {
    if socket::setsockopt(sock, sockopt::RcvBufForce, &bytes).is_err() {
        socket::setsockopt(sock, sockopt::RcvBuf, &bytes)?;
    }
    Ok(())
}

/// A socket's receive buffer size as the kernel reports it (Linux: twice
/// the size granted, its bookkeeping share included).
pub fn recv_buffer(sock: &impl AsFd) -> io::Result<usize> {
    Ok(socket::getsockopt(sock, sockopt::RcvBuf)?)
}

/// Ends the process by `signal` (TERM, INT), as if it had not been
/// caught: the default action is put back, then the signal is raised.
pub fn die_by(signal: Signal) -> ! {
    // SAFETY: putting back the default action installs no handler of ours;
    // no other code runs on this thread in between.
    let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
    let _ = nix::sys::signal::raise(signal);
    // The signal is blocked on this thread (a runtime's mask): end the same way.
    std::process::exit(128 + signal as i32)
}

/// Bytes a stream socket has received and not yet been read (FIONREAD):
/// for TCP and unix stream sockets, everything in the receive queue; for
/// a pipe, what its writers wrote and no one has read.
pub fn unread_bytes(sock: impl AsFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points
    // at `n`; the descriptor is borrowed, so it stays open for the call.
    let rc = unsafe { libc::ioctl(sock.as_fd().as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn unread_bytes_counts_what_was_sent_and_not_read() {
        use std::io::Read;
        let (mut a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(unread_bytes(&b).unwrap(), 0);
        a.write_all(&[7; 1000]).unwrap();
        assert_eq!(unread_bytes(&b).unwrap(), 1000);
        b.read_exact(&mut [0; 400]).unwrap();
        assert_eq!(unread_bytes(&b).unwrap(), 600);
    }

    #[test]
    fn bytes_held_counts_a_pipe_and_not_a_regular_file() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(&[7; 300]).unwrap();
        assert_eq!(bytes_held(&reader), 300);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7; 300]).unwrap();
        use std::io::Seek;
        file.rewind().unwrap();
        assert_eq!(bytes_held(&file), 0);
    }

    /// The nice value of the calling thread (/proc's stat, field 19).
    fn thread_nice() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn a_background_thread_is_lowered_and_its_process_is_not() {
        let before = thread_nice();
        let lowered = std::thread::spawn(|| {
            become_background_thread().unwrap();
            thread_nice()
        })
        .join()
        .unwrap();
        // nice +10 (docs/run.md), at most 19.
        assert_eq!(lowered, (before + 10).min(19));
        assert_eq!(thread_nice(), before);
    }

    #[test]
    fn wait_readable_sees_data_and_times_out_without() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let start = Instant::now();
        assert!(!wait_readable(b.as_fd(), Duration::from_millis(30)));
        // Whole milliseconds, rounded down.
        assert!(start.elapsed() >= Duration::from_millis(29));
        a.write_all(b"x").unwrap();
        assert!(wait_readable(b.as_fd(), Duration::ZERO));
    }

    #[test]
    fn a_hang_up_is_readable_and_a_closed_peer() {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(!peer_closed(&b));
        drop(a);
        assert!(wait_readable(b.as_fd(), Duration::ZERO));
        assert!(peer_closed(&b));
    }

    #[test]
    fn regular_files_and_pipes() {
        let file = std::fs::File::open("Cargo.toml").unwrap();
        assert!(is_regular_file(&file));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(!is_regular_file(&r));
    }

    #[test]
    fn a_pipe_grows() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        set_pipe_size(&r, 1 << 17).unwrap();
        let size = nix::fcntl::fcntl(r.as_raw_fd(), nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap();
        assert_eq!(size, 1 << 17);
    }

    #[test]
    fn receive_buffer_and_backlog() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        set_recv_buffer(&udp, 64 << 10).unwrap();
        // Linux reports twice the size granted.
        assert_eq!(recv_buffer(&udp).unwrap(), 128 << 10);
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listen_backlog(&tcp, 4096).unwrap();
        listen_backlog(&tcp, 16).unwrap();
    }
}
