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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

/// One message, always `MESSAGE_LEN` bytes with its newline.
fn message(i: u32) -> String {
    format!("<13>Nov 25 23:29:21 vm unread: message {i:08}\n")
}
const MESSAGE_LEN: u64 = 48;

/// A stdout nobody reads: a fifo opened read-write here (so that opening it
/// does not wait) and never read. Returns the end to keep open, and the
/// one to give logmux.
fn stalled_stdout(dir: &std::path::Path) -> (std::fs::File, std::fs::File) {
    let fifo = dir.join("out");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let given = held.try_clone().unwrap();
    (held, given)
}

/// Writes messages, a thousand a write, until the socket takes no more
/// for a second (the listener has stopped reading); counts in `sent` the
/// bytes the kernel took.
fn send_until_blocked(mut s: UnixStream, sent: &AtomicU64) -> UnixStream {
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    for batch in 0..10_000 {
        let text: String = (0..1000).map(|i| message(batch * 1000 + i)).collect();
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            match s.write(rest) {
                Ok(n) => {
                    sent.fetch_add(n as u64, Ordering::SeqCst);
                    rest = &rest[n..];
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // WouldBlock or TimedOut: full for a second.
                Err(_) => return s,
            }
        }
    }
    panic!("the listener read 10,000,000 messages with its stdout stalled");
}

#[test]
fn giving_up_at_a_second_term_counts_every_byte_left_unread() {
    let fifo_dir = tempfile::tempdir().unwrap();
    let (held, given) = stalled_stdout(fifo_dir.path());
    let l = start_with(
        &[
            "--unix-stream",
            "@DIR@/log.sock",
            "--output",
            "json",
            "--drain-timeout",
            "60s",
        ],
        |cmd| {
            cmd.stdout(Stdio::from(given));
        },
    );
    // Three connections on the two parsing threads (`start_with`'s
    // `--threads 2`; each goes to the one with the fewest open): both
    // give up, and both count.
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..3)
        .map(|_| {
            let conn = UnixStream::connect(l.path("log.sock")).unwrap();
            let sent = Arc::clone(&sent);
            std::thread::spawn(move || send_until_blocked(conn, &sent))
        })
        .collect();
    // Each sender stops once stdout, logmux's buffers and its socket are full.
    let conns: Vec<UnixStream> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent > 1 << 20, "only {sent} bytes went in before the stall");

    // The first TERM waits for stdout (60 s); the second gives up at once.
    l.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let second = Instant::now();
    l.signal(libc::SIGTERM);
    let stopped = l.finish(20);
    let took = second.elapsed();
    drop((conns, held));

    let report = final_report(&stopped.stderr);
    let messages = report["logmux"]["messages"].as_u64().unwrap();
    let unread = report["logmux"]["unread_bytes"].as_u64();
    assert_eq!(
        Some(sent - messages * MESSAGE_LEN),
        unread,
        "{sent} bytes sent, {messages} messages parsed: {report}"
    );
    // It did stop reading: the sender filled more than it parsed in time.
    assert!(unread.unwrap_or(0) > 0, "{report}");
    assert_eq!(stopped.code, Some(75), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("bytes left unread"),
        "{}",
        stopped.stderr
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}
