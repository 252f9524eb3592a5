//! systemd's readiness protocol (`sd_notify`) for `ready = { notify = true }`.
//!
//! Each run of such a program gets its own unix datagram socket, bound in
//! the abstract namespace (nothing to clean up, no directory the program's
//! user must reach) and named in its `NOTIFY_SOCKET` as `@name`, which
//! `sd_notify(3)`, `systemd-notify` and the Python helpers understand. The
//! socket has `SO_PASSCRED`, so the kernel tells who sent each datagram:
//! `READY=1` counts when it comes from the program's main process or its
//! process group; a sender that has already exited (`systemd-notify` from a
//! script) counts when its uid is the program's (or root). Anything else is
//! ignored with a warning.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::socket::{
    bind, recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr, UnixCredentials,
};
use nix::unistd::Pid;

/// The environment variable `sd_notify` reads.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// One run's notification socket.
pub struct Socket {
    fd: OwnedFd,
    /// `NOTIFY_SOCKET`'s value: `@` and the abstract name.
    pub address: String,
}

/// Binds a new socket with a name no other run uses.
pub fn bind_new() -> std::io::Result<Socket> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("logmux-notify-{}-{n}", std::process::id());
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    setsockopt(&fd, sockopt::PassCred, &true)?;
    bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name.as_bytes())?)?;
    Ok(Socket {
        fd,
        address: format!("@{name}"),
    })
}

/// Who may say the program is ready.
pub struct Program {
    pub name: String,
    pub pid: Pid,
    /// The uid the program runs as.
    pub uid: u32,
}

/// Returns once an accepted sender has sent `READY=1`; `Err` when the
/// socket fails.
pub async fn wait_ready(socket: Socket, program: &Program) -> std::io::Result<()> {
    let std = std::os::unix::net::UnixDatagram::from(socket.fd);
    let dgram = tokio::net::UnixDatagram::from_std(std)?;
    loop {
        dgram.readable().await?;
        let got = dgram.try_io(tokio::io::Interest::READABLE, || {
            receive(&dgram).map_err(std::io::Error::from)
        });
        match got {
            Ok(Some(message)) => {
                if is_ready(&message.text) && accepted(&message, program) {
                    return Ok(());
                }
            }
            Ok(None) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// One datagram and who sent it.
struct Message {
    text: String,
    /// (pid, uid), when the kernel said.
    sender: Option<(i32, u32)>,
}

/// Reads one datagram; `None` for one with nothing in it.
fn receive(fd: &impl AsFd) -> nix::Result<Option<Message>> {
    let mut buf = [0u8; 4096];
    let mut space = nix::cmsg_space!(UnixCredentials);
    let (len, sender) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            fd.as_fd().as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT,
        )?;
        let mut sender = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmCredentials(c) = c {
                sender = Some((c.pid(), c.uid()));
            }
        }
        (msg.bytes, sender)
    };
    if len == 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    Ok(Some(Message { text, sender }))
}

/// `READY=1` on a line of its own (the protocol's assignments are lines).
fn is_ready(text: &str) -> bool {
    text.lines().any(|l| l.trim_end() == "READY=1")
}

fn accepted(message: &Message, program: &Program) -> bool {
    let Some((pid, uid)) = message.sender else {
        tracing::warn!(program = %program.name, "{}: a READY=1 without the sender's credentials: ignored", program.name);
        return false;
    };
    if pid == program.pid.as_raw() {
        return true;
    }
    let why = match nix::unistd::getpgid(Some(Pid::from_raw(pid))) {
        Ok(group) if group == program.pid => return true,
        Ok(_) => format!("pid {pid} is not in {}'s process group", program.name),
        // Gone already (`systemd-notify` from a script): its uid must match.
        Err(_) if uid == program.uid || uid == 0 => return true,
        Err(_) => format!("pid {pid} (uid {uid}) has exited and is not the program's user"),
    };
    tracing::warn!(program = %program.name, sender_pid = pid, "{}: a READY=1 from another process ({why}): ignored", program.name);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_a_line_of_its_own() {
        assert!(is_ready("READY=1"));
        assert!(is_ready("STATUS=up\nREADY=1\n"));
        assert!(!is_ready("READY=0"));
        assert!(!is_ready("NOTREADY=1"));
        assert!(!is_ready("STATUS=READY=1"));
    }
}
