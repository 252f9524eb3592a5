//! `logmux listen` that gives up reading at a stop accounts for every byte
//! a connection sent: each one was either parsed into a message or is
//! counted in the final report's `unread_bytes` (still in the socket, read
//! and not parsed, or held as an unfinished frame), and the exit status is
//! 75, events lost, as for `run`.
//!
//! A unix stream socket, because its sender's bytes go straight into the
//! listener's receive queue: what the kernel took from the sender is
//! exactly what the listener parsed plus what it left, with no send buffer
//! on the sender's side that the listener cannot see.

#[path = "support/listen.rs"]
mod support;

use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

/// One message, always `MESSAGE_LEN` bytes with its newline.
fn message(i: u32) -> String {
    format!("<13>Nov 25 23:29:21 vm unread: message {i:08}\n")
}
const MESSAGE_LEN: u64 = 48;

/// Writes messages, a thousand a write, until the socket takes no more
/// for a second (the listener has stopped reading); returns the socket and
/// the bytes the kernel took (the last message may be cut: a write that
/// times out has written what fitted).
fn send_until_blocked(mut s: UnixStream) -> (UnixStream, u64) {
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    // 16 MiB may wait in the listener's socket (as root, past wmem_max):
    // far more than its parsing threads get through while it gives up, so
    // that bytes are left in the socket itself.
    let size: libc::c_int = 16 << 20;
    // SAFETY: setsockopt on a socket we own, with a pointer to a c_int and
    // its size. A failure (not root) leaves the default, and less waits.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let mut sent = 0;
    for batch in 0..10_000 {
        let text: String = (0..1000).map(|i| message(batch * 1000 + i)).collect();
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            match s.write(rest) {
                Ok(n) => {
                    sent += n as u64;
                    rest = &rest[n..];
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // WouldBlock or TimedOut: full for a second.
                Err(_) => return (s, sent),
            }
        }
    }
    panic!("the listener read 10,000,000 messages with its stdout stalled");
}

/// Whether the bytes add up: `sent` (per connection) is `messages` parsed
/// plus `unread`. A connection whose stream ends inside a message either
/// had it left unread (then it is in `unread`) or, read to its end before
/// stopping gave up, had it parsed as one short message: some subset of
/// those connections did the latter.
fn adds_up(sent: &[u64], messages: u64, unread: u64) -> bool {
    let short: Vec<u64> = sent
        .iter()
        .map(|s| s % MESSAGE_LEN)
        .filter(|&cut| cut > 0)
        .collect();
    let total: u64 = sent.iter().sum();
    (0..1u32 << short.len()).any(|parsed_short| {
        let missing: u64 = (0..short.len())
            .filter(|i| parsed_short & (1 << i) != 0)
            .map(|i| MESSAGE_LEN - short[i])
            .sum();
        messages * MESSAGE_LEN == total + missing - unread
    })
}

#[test]
fn giving_up_after_the_drain_timeout_counts_every_byte_left_unread() {
    let fifo_dir = tempfile::tempdir().unwrap();
    let (held, given) = stalled_stdout(fifo_dir.path());
    let l = start_with(
        &[
            "--unix-stream",
            "@DIR@/log.sock",
            "--output",
            "json",
            "--drain-timeout",
            "1s",
        ],
        |cmd| {
            cmd.stdout(Stdio::from(given));
        },
    );
    // Three connections on the two parsing threads (`start_with`'s
    // `--threads 2`; each goes to the one with the fewest open): both
    // give up, and both count.
    let senders: Vec<_> = (0..3)
        .map(|_| {
            let conn = UnixStream::connect(l.path("log.sock")).unwrap();
            std::thread::spawn(move || send_until_blocked(conn))
        })
        .collect();
    // Each sender stops once stdout, logmux's buffers and its socket are full.
    let (conns, sent): (Vec<UnixStream>, Vec<u64>) =
        senders.into_iter().map(|s| s.join().unwrap()).unzip();
    let total: u64 = sent.iter().sum();
    assert!(
        total > 1 << 20,
        "only {total} bytes went in before the stall"
    );

    // TERM: stdout is waited for up to --drain-timeout (1 s), then
    // stopping gives up.
    let stopped = l.stop();
    drop((conns, held));

    let report = final_report(&stopped.stderr);
    let messages = report["logmux"]["messages"].as_u64().unwrap();
    let unread = report["logmux"]["unread_bytes"].as_u64().unwrap_or(0);
    assert!(
        adds_up(&sent, messages, unread),
        "{sent:?} bytes sent, {messages} messages parsed, {unread} left: {report}"
    );
    // It did stop reading: the senders filled more than it parsed in time.
    assert!(unread > 0, "{report}");
    assert_eq!(stopped.code, Some(75), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("bytes left unread"),
        "{}",
        stopped.stderr
    );
}

/// One datagram of `DATAGRAM_LEN` bytes.
fn datagram(i: u32) -> Vec<u8> {
    let mut d = message(i).into_bytes();
    d.resize(DATAGRAM_LEN as usize, b'x');
    d
}
const DATAGRAM_LEN: u64 = 1000;

/// Datagrams received faster than they are parsed wait in the reader's
/// queue; when stopping gives up, they are counted, in whole datagrams, and
/// the exit status is 75. (What
/// the kernel still holds then, or dropped, is not counted: the count is a
/// floor for datagrams.)
#[test]
fn giving_up_under_a_flood_of_datagrams_counts_those_received_and_not_parsed() {
    // `--drain-timeout 0s`: stopping gives up at once.
    let l = start_with(
        &[
            "--udp",
            "127.0.0.1:0",
            "--output",
            "json",
            "--drain-timeout",
            "0s",
        ],
        |cmd| {
            cmd.stdout(Stdio::null());
        },
    );
    let to = l.udp();
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let flooding = Arc::clone(&flooding);
        std::thread::spawn(move || {
            let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let datagrams: Vec<Vec<u8>> = (0..1000).map(datagram).collect();
            while flooding.load(Ordering::Relaxed) {
                for d in &datagrams {
                    // Refused once the listener has gone: the flood ends.
                    let _ = sender.send_to(d, to);
                }
            }
        })
    };
    // The kernel holds or drops datagrams: the listener is behind, its
    // queue full.
    l.wait_until(10, "the listener to fall behind", |l| {
        l.udp_unread() > 0 || l.udp_drops() > 0
    });
    let stopped = l.stop();
    flooding.store(false, Ordering::Relaxed);
    flood.join().unwrap();

    let report = final_report(&stopped.stderr);
    let unread = report["logmux"]["unread_bytes"].as_u64();
    assert!(unread.unwrap_or(0) > 0, "{report}");
    assert_eq!(unread.unwrap_or(0) % DATAGRAM_LEN, 0, "{report}");
    assert_eq!(stopped.code, Some(75), "{}", stopped.stderr);
    let said = format!("{} bytes left unread", unread.unwrap_or(0));
    assert!(
        report["message"].as_str().unwrap().contains(&said),
        "{report}"
    );
}

/// An idle listener stopped with `--drain-timeout 0s` gives up at once, but
/// leaves nothing: it says nothing alarming (no warning), reports 0 bytes
/// left unread and exits 0. Only what was left makes a stop an error.
#[test]
fn giving_up_on_idle_sockets_leaves_nothing_and_warns_of_nothing() {
    let l = start(&[
        "--udp",
        "127.0.0.1:0",
        "--tcp",
        "127.0.0.1:0",
        "--drain-timeout",
        "0s",
    ]);
    // One connection open and idle, as Docker's driver keeps its own.
    let idle = std::net::TcpStream::connect(l.tcp()).unwrap();
    l.wait_until(10, "the connection to be accepted", |l| {
        l.established() == 1
    });
    let stopped = l.stop();
    drop(idle);

    let warnings: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|line| line.contains(r#""severity_text":"WARN""#))
        .collect();
    assert_eq!(warnings, Vec::<&str>::new(), "{}", stopped.stderr);
    let report = final_report(&stopped.stderr);
    assert_eq!(
        report["logmux"]["unread_bytes"].as_u64(),
        Some(0),
        "{report}"
    );
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
}
