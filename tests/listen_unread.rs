//! `logmux listen` accounts at a stop for every byte a connection sent.
//! A stop that gives up reading: each byte was either parsed into a message
//! or is counted in the final report's `unread_bytes` (still in the
//! socket, read and not parsed, or held as an unfinished frame), and the
//! exit status is 75, events lost, as for `run`. A stop that does not
//! give up, while senders are still writing: every byte the listener's
//! kernel accepted was parsed, and the exit status is 0.
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// `logmux listen` on a unix stream socket `log.sock`, JSON to a stdout
/// nobody reads (a fifo, whose read end is returned, held), with `args`.
fn stalled_listener(args: &[&str]) -> (Listener, std::fs::File, tempfile::TempDir) {
    let fifo_dir = tempfile::tempdir().unwrap();
    let (held, given) = stalled_stdout(fifo_dir.path());
    let mut all = vec!["--unix-stream", "@DIR@/log.sock", "--output", "json"];
    all.extend_from_slice(args);
    let l = start_with(&all, |cmd| {
        cmd.stdout(Stdio::from(given));
    });
    (l, held, fifo_dir)
}

#[test]
fn giving_up_after_the_drain_timeout_counts_every_byte_left_unread() {
    let (l, held, _fifo_dir) = stalled_listener(&["--drain-timeout", "1s"]);
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

/// Bytes a connection's reader hands to parsing at once (`CHUNK` in
/// src/listen/conn_reader.rs), and the messages one of them can end.
const CHUNK: u64 = 256 * 1024;
const MESSAGES_A_CHUNK: u64 = CHUNK / MESSAGE_LEN + 1;

/// Once stopping gives up, a connection parses no chunk past the one in
/// hand: what waits is left and counted. Before, a connection with a
/// backlog parsed on through everything its reader kept handing over (a
/// task polled once could parse megabytes), so a stop that had given up
/// still parsed for as long as that took, and a debug build under load
/// did not exit within 20 s. `--drain-timeout 0s` gives up at the signal;
/// stdout stalled, parsing stands still until then, and the metrics tell
/// how far it had got.
#[test]
fn giving_up_parses_no_chunk_past_the_one_in_hand() {
    let (l, held, _fifo_dir) =
        stalled_listener(&["--drain-timeout", "0s", "--metrics-listen", "127.0.0.1:0"]);
    let conn = UnixStream::connect(l.path("log.sock")).unwrap();
    let (conn, sent) = send_until_blocked(conn);
    // Parsing waits on stdout: the count stands still (two reads agree).
    let last = std::cell::Cell::new(l.metric_total("log_events_total"));
    l.wait_until(30, "parsing to stand still", |l| {
        std::thread::sleep(Duration::from_millis(200));
        let now = l.metric_total("log_events_total");
        last.replace(now) == now
    });
    let before = last.get() as u64;

    let stopped = l.stop();
    drop((conn, held));

    let report = final_report(&stopped.stderr);
    let messages = report["logmux"]["messages"].as_u64().unwrap();
    let unread = report["logmux"]["unread_bytes"].as_u64().unwrap_or(0);
    assert!(
        messages - before <= MESSAGES_A_CHUNK,
        "{before} messages parsed before the stop, {messages} after: {report}"
    );
    assert!(adds_up(&[sent], messages, unread), "{sent} sent: {report}");
    assert_eq!(stopped.code, Some(75), "{}", stopped.stderr);
}

/// Giving up stops the reading, not the writing: the events already
/// parsed still reach a stdout whose reader keeps reading, and the report
/// counts them as written. Before, the listener left its writer behind as
/// soon as stopping gave up, and reported the events still on their way as
/// not written (exit 75), whether or not they were then written.
#[test]
fn giving_up_still_writes_what_was_parsed_to_a_stdout_that_reads() {
    let l = start_with(
        &[
            "--unix-stream",
            "@DIR@/log.sock",
            "--output",
            "json",
            "--drain-timeout",
            "0s",
        ],
        |_| {},
    );
    let going = Arc::new(AtomicU64::new(0));
    let sender = {
        let conn = UnixStream::connect(l.path("log.sock")).unwrap();
        let going = Arc::clone(&going);
        std::thread::spawn(move || send_until_refused(conn, &going))
    };
    l.wait_until(20, "50,000 messages to be sent", |_| {
        going.load(Ordering::Relaxed) >= 50_000
    });
    let stopped = l.stop();
    sender.join().unwrap();

    let report = final_report(&stopped.stderr);
    let events = report["logmux"]["events"].as_u64().unwrap();
    assert_eq!(
        report["logmux"]["unwritten_events"].as_u64(),
        Some(0),
        "{report}"
    );
    assert_eq!(stopped.events.len() as u64, events, "{report}");
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

/// Writes one message a write until the listener refuses (its end is shut
/// or closed); returns the bytes the kernel took: every write either took
/// its whole message or failed. `going` counts the messages of all senders.
fn send_until_refused(mut s: UnixStream, going: &AtomicU64) -> u64 {
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut sent = 0;
    for i in 0.. {
        match s.write(message(i).as_bytes()) {
            Ok(n) => {
                assert_eq!(n as u64, MESSAGE_LEN, "a short write");
                sent += MESSAGE_LEN;
                going.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // EPIPE or ECONNRESET: the listener stopped reading this socket.
            Err(_) => return sent,
        }
    }
    unreachable!()
}

/// A stop that does not give up parses every byte its sockets accepted,
/// while senders are still writing: each connection is shut before its
/// last read, so the kernel accepts nothing the reader will not read (a
/// write after that fails, and the sender knows), and connections still
/// waiting to be accepted are accepted and read too. Before, a reader that
/// found its socket empty closed it, and a message that arrived between
/// that read and the close was accepted and dropped, uncounted; so were
/// the messages of connections the listener had not accepted yet. Such a
/// loss takes a write landing within microseconds: four stops, sixteen
/// senders each.
#[test]
fn a_stop_parses_every_byte_accepted_from_senders_still_writing() {
    for round in 0..4 {
        let l = start_with(
            &["--unix-stream", "@DIR@/log.sock", "--output", "json"],
            |cmd| {
                cmd.stdout(Stdio::null());
            },
        );
        let going = Arc::new(AtomicU64::new(0));
        let senders: Vec<_> = (0..16)
            .map(|_| {
                let conn = UnixStream::connect(l.path("log.sock")).unwrap();
                let going = Arc::clone(&going);
                std::thread::spawn(move || send_until_refused(conn, &going))
            })
            .collect();
        l.wait_until(20, "50,000 messages to be sent", |_| {
            going.load(Ordering::Relaxed) >= 50_000
        });
        let stopped = l.stop();
        let sent: Vec<u64> = senders.into_iter().map(|s| s.join().unwrap()).collect();

        let total: u64 = sent.iter().sum();
        let report = final_report(&stopped.stderr);
        let messages = report["logmux"]["messages"].as_u64().unwrap();
        let unread = report["logmux"]["unread_bytes"].as_u64().unwrap_or(0);
        assert_eq!(
            (messages * MESSAGE_LEN, unread),
            (total, 0),
            "stop {round}: {sent:?} bytes sent: {report}"
        );
        assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    }
}

/// Writes messages over TCP until the listener refuses (a reset), or, once
/// the listener has exited (`gone`), the socket takes nothing for 3 s;
/// returns the bytes of messages the listener's kernel acknowledged
/// (`TCP_INFO`'s `tcpi_bytes_acked`, less the SYN's one): what the
/// sender's kernel still held, or lost in the reset, is not the listener's.
/// Read only once the listener has gone, so that no acknowledgement can
/// follow: a write that waited 3 s while a slow listener was still
/// reading (a debug build under load) is tried again, not taken for the end.
fn send_over_tcp_until_refused(
    mut s: std::net::TcpStream,
    going: &AtomicU64,
    gone: &AtomicBool,
) -> u64 {
    // A sender whose window stayed shut learns of the reset only from a
    // later probe: the timeout ends its wait once the listener has gone.
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let text: String = (0..100).map(message).collect();
    'sending: loop {
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            match s.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) && !gone.load(Ordering::SeqCst) => {}
                Err(_) => break 'sending,
            }
        }
        going.fetch_add(100, Ordering::Relaxed);
    }
    // SAFETY: tcp_info is plain integers, for which all zeroes are valid.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt on a socket we own, into a tcp_info of `len` bytes.
    let got = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(got, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info.tcpi_bytes_acked - 1
}

/// The same over TCP, where the sender's kernel keeps sending whatever its
/// thread does: each message the listener's kernel acknowledged was
/// parsed (a connection's last one may be cut, and is parsed short), and
/// nothing more; unacknowledged bytes are the sender's to resend. (The
/// receive buffers grow to megabytes: a long `--drain-timeout` lets a
/// debug build parse them.) Before, the readers went on reading what the
/// senders went on sending, up to 256 MiB a connection, and the listener
/// did not stop within 20 s.
#[test]
fn a_stop_parses_every_byte_acknowledged_over_tcp() {
    for round in 0..2 {
        let args = [
            "--tcp",
            "127.0.0.1:0",
            "--output",
            "json",
            "--drain-timeout",
            "120s",
        ];
        let l = start_with(&args, |cmd| {
            cmd.stdout(Stdio::null());
        });
        let going = Arc::new(AtomicU64::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let conn = std::net::TcpStream::connect(l.tcp()).unwrap();
                let (going, gone) = (Arc::clone(&going), Arc::clone(&gone));
                std::thread::spawn(move || send_over_tcp_until_refused(conn, &going, &gone))
            })
            .collect();
        l.wait_until(20, "50,000 messages to be sent", |_| {
            going.load(Ordering::Relaxed) >= 50_000
        });
        // Up to 120 s: a debug build parses what the buffers hold slowly.
        l.signal(libc::SIGTERM);
        let stopped = l.finish(120);
        gone.store(true, Ordering::SeqCst);
        let acked: Vec<u64> = senders.into_iter().map(|s| s.join().unwrap()).collect();

        let expected: u64 = acked.iter().map(|a| a.div_ceil(MESSAGE_LEN)).sum();
        let report = final_report(&stopped.stderr);
        let messages = report["logmux"]["messages"].as_u64().unwrap();
        let unread = report["logmux"]["unread_bytes"].as_u64().unwrap_or(0);
        assert_eq!(
            (messages, unread),
            (expected, 0),
            "stop {round}: {acked:?} bytes acknowledged: {report}"
        );
        assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    }
}

/// Sends one message a datagram to a unix datagram socket until the
/// listener refuses; returns the datagrams it took (a unix datagram sender
/// is told, and waits when the receiver's queue is full: nothing is
/// dropped on the way).
fn send_datagrams_until_refused(to: &std::path::Path, going: &AtomicU64) -> u64 {
    let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut sent = 0;
    for i in 0.. {
        match s.send_to(message(i).as_bytes(), to) {
            Ok(_) => {
                sent += 1;
                going.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // EPIPE (shut), ECONNREFUSED or ENOENT (closed, removed).
            Err(_) => return sent,
        }
    }
    unreachable!()
}

/// The same for a unix datagram socket (`--unix`, as /dev/log): the
/// socket is shut for reading before its last reads, so a sender is
/// refused (EPIPE) instead of having a datagram taken and dropped at the
/// close. Four stops, eight senders each.
#[test]
fn a_stop_parses_every_datagram_a_unix_socket_took() {
    for round in 0..4 {
        let l = start_with(&["--unix", "@DIR@/dev-log", "--output", "json"], |cmd| {
            cmd.stdout(Stdio::null());
        });
        let going = Arc::new(AtomicU64::new(0));
        let senders: Vec<_> = (0..8)
            .map(|_| {
                let to = l.path("dev-log");
                let going = Arc::clone(&going);
                std::thread::spawn(move || send_datagrams_until_refused(&to, &going))
            })
            .collect();
        l.wait_until(20, "20,000 datagrams to be sent", |_| {
            going.load(Ordering::Relaxed) >= 20_000
        });
        let stopped = l.stop();
        let sent: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();

        let report = final_report(&stopped.stderr);
        let messages = report["logmux"]["messages"].as_u64().unwrap();
        let unread = report["logmux"]["unread_bytes"].as_u64().unwrap_or(0);
        assert_eq!(
            (messages, unread),
            (sent, 0),
            "stop {round}: {sent} datagrams sent: {report}"
        );
        assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    }
}
