//! `logmux listen` against an attacker and an unlucky operator (issue 14):
//! a NUL inside a message is kept on every transport, a `--max-connections`
//! of 0 is refused (by clap, exit 2), slow and idle connections are closed
//! after `--idle-timeout` and capped per peer so a real sender still gets
//! through, refused connections are counted and reported (also one whose
//! reader thread cannot start, under RLIMIT_NPROC), a stalled stdout
//! exits 75, and one `--max-held` budget bounds unfinished frames and every
//! stream's held tracebacks and Docker pieces.

#[path = "support/listen.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::FromRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::*;

#[test]
fn a_nul_inside_a_message_is_kept_over_tcp_as_over_udp() {
    let l = start(&["--udp", ":0", "--tcp", ":0", "--output", "json"]);
    send_udp(l.udp(), &[b"<13>Nov 25 23:29:21 vm udp: a\0b"]);
    send_tcp(l.tcp(), b"<13>Nov 25 23:29:21 vm tcp: a\0b\n");
    l.wait_for(2, 10);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 2, "{:?}", s.events);
    for tag in ["udp", "tcp"] {
        let e = s
            .events
            .iter()
            .find(|e| e["service"]["name"] == tag)
            .unwrap_or_else(|| panic!("no {tag} event in {:?}", s.events));
        assert_eq!(e["message"], "a\u{0}b", "{tag}: {e}");
    }
}

#[test]
fn zero_connection_caps_and_idle_timeout_are_refused_by_clap_with_exit_2() {
    // Before: exit 64 (EX_USAGE) from logmux itself, unlike every other bad flag value.
    for (flag, value) in [
        ("--max-connections", "0"),
        ("--max-connections-per-peer", "0"),
        ("--idle-timeout", "0s"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_logmux"))
            .args(["listen", "--tcp", ":0", flag, value])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Should it run, stop it rather than hang.
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag} ")),
            "{flag} {value}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// A TCP connection to `to` from the local address `from` (127.0.0.x: a
/// peer of its own, as another host would be).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let SocketAddr::V4(to) = to else {
        panic!("{to} is not IPv4")
    };
    let sockaddr = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns, with
    // addresses that live across each call.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let src = sockaddr(SocketAddrV4::new(from, 0));
        let rc = libc::bind(fd, (&raw const src).cast(), len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let dst = sockaddr(to);
        let rc = libc::connect(fd, (&raw const dst).cast(), len);
        assert_eq!(rc, 0, "connect {to}: {}", std::io::Error::last_os_error());
        stream
    }
}

/// A real sender's 8 messages, one connection, from 127.0.0.1.
fn real_sender(to: SocketAddr) {
    let mut s = connect_from(Ipv4Addr::LOCALHOST, to);
    for i in 1..=8 {
        s.write_all(format!("<13>Nov 25 23:29:21 vm real: message {i}\n").as_bytes())
            .unwrap();
    }
}

fn assert_real_sender_arrived(events: &[Value]) {
    let real: Vec<&Value> = events
        .iter()
        .filter(|e| e["service"]["name"] == "real")
        .collect();
    let texts: Vec<&str> = real.iter().filter_map(|e| e["message"].as_str()).collect();
    let expected: Vec<String> = (1..=8).map(|i| format!("message {i}")).collect();
    assert_eq!(texts, expected);
}

#[test]
fn an_unfinished_frame_is_closed_after_idle_timeout_and_a_silent_connection_is_kept() {
    let l = start(&["--tcp", ":0", "--output", "json", "--idle-timeout", "1s"]);
    let to = l.tcp();
    let silent = TcpStream::connect(to).unwrap();
    let mut slow = TcpStream::connect(to).unwrap();
    slow.write_all(b"<13>Nov 25 23:29:21 vm slow: never")
        .unwrap();
    l.wait_until(10, "both connections accepted", |l| l.established() == 2);
    let t = Instant::now();
    l.wait_until(10, "the slow connection closed", |l| l.established() == 1);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Its peer sees the close.
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(slow.read(&mut [0; 16]).unwrap_or(0), 0);
    // The silent one stays, for well over the timeout.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(l.established(), 1);
    drop(silent);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    // What the slow one sent comes out.
    let msgs: Vec<&Value> = s.events.iter().map(|e| &e["message"]).collect();
    assert_eq!(msgs, ["never"], "{:?}", s.events);
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["idle_closed"], 1, "{report}");
    assert_eq!(report["logmux"]["connections"], 2, "{report}");
}

#[test]
fn two_thousand_slow_connections_from_one_peer_do_not_lock_out_a_real_sender() {
    let l = start(&["--tcp", ":0", "--output", "json"]);
    let to = l.tcp();
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let slow: Vec<TcpStream> = (0..2000)
        .map(|_| {
            let mut s = connect_from(attacker, to);
            // One byte of a frame that never ends; a refused one may
            // already be closed.
            let _ = s.write_all(b"<");
            s
        })
        .collect();
    // The default per-peer cap (256) holds; the rest are refused.
    l.wait_until(30, "256 slow connections held", |l| l.established() == 256);
    real_sender(to);
    l.wait_for(8, 20);
    l.wait_until(20, "a refusal warning", |l| {
        l.own_events()
            .iter()
            .any(|e| e["severity_text"] == "WARN" && e["logmux"]["refused"] == 1)
    });
    let s = l.stop();
    drop(slow);
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_real_sender_arrived(&s.events);
    let report = final_report(&s.stderr);
    assert_eq!(
        report["logmux"]["refused_connections"],
        2000 - 256,
        "{report}"
    );
    assert_eq!(report["logmux"]["connections"], 256 + 1, "{report}");
    // Warned at most once a second, with counts that add up.
    let warned: u64 = complete_lines(s.stderr.as_bytes())
        .iter()
        .filter(|e| e["severity_text"] == "WARN")
        .filter_map(|e| e["logmux"]["refused"].as_u64())
        .sum();
    assert_eq!(warned, 2000 - 256);
}

#[test]
fn two_thousand_slow_peers_are_held_and_closed_after_idle_timeout() {
    let l = start(&[
        "--tcp",
        ":0",
        "--output",
        "json",
        "--max-connections",
        "4096",
        "--idle-timeout",
        "4s",
    ]);
    let to = l.tcp();
    // 2,000 connections from 8 addresses (250 each: under the per-peer
    // cap), each sending one byte of a frame that never ends.
    let mut slow: Vec<TcpStream> = (0..2000)
        .map(|i| connect_from(Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8), to))
        .collect();
    for s in &mut slow {
        s.write_all(b"<").unwrap();
    }
    l.wait_until(30, "2,000 slow connections held", |l| {
        l.established() == 2000
    });
    real_sender(to);
    l.wait_for(8, 20);
    for s in &mut slow {
        let _ = s.write_all(b"1");
    }
    l.wait_until(30, "the slow connections closed", |l| l.established() == 0);
    let s = l.stop();
    drop(slow);
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_real_sender_arrived(&s.events);
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["idle_closed"], 2000, "{report}");
    assert_eq!(report["logmux"]["refused_connections"], 0, "{report}");
}

/// Whether `pid` has exited (reaped or a zombie).
fn exited(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    child.try_wait().unwrap()
}

/// How `listen` with a stalled stdout stopped: the time from the first
/// TERM to its exit, its code, and its stderr.
struct StalledStop {
    took: Duration,
    code: Option<i32>,
    stderr: String,
}

#[test]
fn a_stalled_stdout_reader_does_not_keep_listen_from_stopping() {
    let s = stop_with_stalled_stdout("1s", false);
    // Within the drain timeout (1 s) and some.
    assert!(s.took < Duration::from_secs(5), "{:?}", s.took);
    check_unwritten(&s);
}

#[test]
fn a_second_term_stops_at_once_with_a_stalled_stdout() {
    let s = stop_with_stalled_stdout("60s", true);
    assert!(s.took < Duration::from_secs(5), "{:?}", s.took);
    check_unwritten(&s);
    assert!(s.stderr.contains("TERM again"), "{}", s.stderr);
}

fn check_unwritten(s: &StalledStop) {
    // Events were lost to a stalled reader: the documented code, as `run`'s.
    assert_eq!(s.code, Some(75), "{}", s.stderr);
    let report = final_report(&s.stderr);
    let unwritten = report["logmux"]["unwritten_events"].as_u64().unwrap_or(0);
    let events = report["logmux"]["events"].as_u64().unwrap_or(0);
    assert!(unwritten > 0 && unwritten <= events, "{report}");
    // Only what fitted the fifo was written: every event is 1 line of JSON.
    assert!(events - unwritten < 1000, "{report}");
    assert!(s.stderr.contains("were not written"), "{}", s.stderr);
}

// Every way out waits for the child, killing it first if it hangs (clippy
// does not see that through the loops and panics).
#[allow(clippy::zombie_processes)]
fn stop_with_stalled_stdout(drain: &str, second_term: bool) -> StalledStop {
    let dir = tempfile::tempdir().unwrap();
    let (held, stdout) = stalled_stdout(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args([
            "listen",
            "--udp",
            "127.0.0.1:0",
            "--tcp",
            "127.0.0.1:0",
            "--output",
            "json",
        ])
        .args(["--drain-timeout", drain])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let collect = {
        let lines = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut all = lines.lock().unwrap();
                all.push_str(&l);
                all.push('\n');
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let tcp: SocketAddr = loop {
        let text = lines.lock().unwrap().clone();
        let found = complete_lines(text.as_bytes()).into_iter().find_map(|e| {
            e["logmux"]["address"]
                .as_str()?
                .strip_prefix("tcp://")?
                .parse()
                .ok()
        });
        if let Some(a) = found {
            break a;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no tcp address: {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Far more than the fifo (64 KiB) and logmux's buffers hold: 20,000
    // messages from a sender that does not wait for the end.
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(tcp).unwrap();
        for i in 0..20_000 {
            let line = format!(
                "<13>Nov 25 23:29:21 vm stall: message {i:05} {}\n",
                "x".repeat(200)
            );
            if s.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id() as i32;
    // SAFETY: kill with the pid of the child we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let term_at = Instant::now();
    if second_term {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let mut status = None;
    while term_at.elapsed() < Duration::from_secs(10) {
        status = exited(&mut child);
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if status.is_none() {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        child.wait().unwrap();
        panic!("listen did not stop within 10 s of TERM with a stalled stdout");
    }
    let took = term_at.elapsed();
    collect.join().unwrap();
    drop(held);
    let _ = sender.join();
    let stderr = lines.lock().unwrap().clone();
    StalledStop {
        took,
        code: status.and_then(|s| s.code()),
        stderr,
    }
}

/// Bytes the listener's TCP sockets have received and not read yet.
fn tcp_unread(l: &Listener) -> usize {
    sockets_of(l.pid(), &["tcp"])
        .iter()
        .filter_map(|r| usize::from_str_radix(r[4].split(':').nth(1)?, 16).ok())
        .sum()
}

#[test]
fn unfinished_frames_of_many_connections_stay_under_max_held() {
    const CONNECTIONS: usize = 100;
    const FRAME: usize = 2 << 20;
    const MAX_HELD_MIB: u64 = 16;
    let l = start(&[
        "--tcp",
        ":0",
        "--output",
        "json",
        "--max-message",
        "16MiB",
        "--max-held",
        "16MiB",
    ]);
    let to = l.tcp();
    let idle_hwm = proc_status(l.pid(), "VmHWM");
    // Each connection sends 2 MiB of a message that never ends: 200 MiB
    // held without a budget.
    let body = vec![b'a'; FRAME];
    let mut conns: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(to).unwrap())
        .collect();
    for c in &mut conns {
        c.write_all(b"<13>Nov 25 23:29:21 vm held: ").unwrap();
        c.write_all(&body).unwrap();
    }
    l.wait_until(180, "every byte read", |l| tcp_unread(l) == 0);
    let hwm = proc_status(l.pid(), "VmHWM");
    drop(conns);
    l.wait_for(CONNECTIONS, 180);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    // One event per connection, cut or ended by the close.
    assert_eq!(s.events.len(), CONNECTIONS);
    let report = final_report(&s.stderr);
    let cuts = report["logmux"]["held_cuts"].as_u64().unwrap();
    let truncated = marked_truncated(&s.events);
    assert_eq!(truncated, cuts, "{report}");
    // 200 MiB sent, 16 MiB may be held: most frames were cut.
    assert!(cuts >= (CONNECTIONS as u64) * 3 / 4, "{report}");
    // The budget, the chunk pool (4 MiB), output buffers of a few events
    // of up to 2 MiB each, and a margin.
    let bound = idle_hwm + (MAX_HELD_MIB + 4 + 40) * 1024;
    println!("FIGURE listen peak RSS, {CONNECTIONS} × 2 MiB unfinished frames, --max-held 16MiB: {hwm} KiB (idle {idle_hwm} KiB)");
    assert!(hwm <= bound, "peak RSS {hwm} KiB over {bound} KiB");
}

/// The partial traceback each stream of the `--max-held` test holds: its
/// lines (the budget counts them joined by newlines).
fn partial_traceback(sender: usize) -> Vec<String> {
    let mut lines = vec!["Traceback (most recent call last):".to_string()];
    for frame in 0..12 {
        let head = format!("  File \"/app/s{sender}.py\", line {frame}, in f # ");
        lines.push(format!("{head}{}", "x".repeat(2000 - head.len())));
    }
    lines.push(format!("ValueError: boom {sender}"));
    lines
}

#[test]
fn partial_tracebacks_of_4096_udp_senders_stay_under_max_held() {
    const SENDERS: usize = 4096;
    const MAX_HELD: usize = 4 << 20;
    let l = start(&[
        "--udp",
        ":0",
        "--output",
        "json",
        "--idle-flush",
        "1h",
        "--max-held",
        "4MiB",
        "--drain-timeout",
        "60s",
    ]);
    let idle_hwm = proc_status(l.pid(), "VmHWM");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0;
    // One sender after the other, each its own stream (its own tag); about
    // 24 KiB each, 96 MiB held in all without a budget.
    for sender in 0..SENDERS {
        for line in partial_traceback(sender) {
            let dgram = format!("<11>Nov 25 23:29:21 vm s{sender}: {line}");
            sock.send_to(dgram.as_bytes(), l.udp()).unwrap();
            sent += 1;
            // Paced so that the socket's buffer never overflows (UDP
            // would drop, and every line must come out).
            if sent % 128 == 0 {
                l.wait_until(30, "the datagrams read", |l| l.udp_unread() == 0);
            }
        }
    }
    l.wait_until(30, "the datagrams read", |l| l.udp_unread() == 0);
    let report_hwm = || proc_status(l.pid(), "VmHWM");
    // The hub reads every datagram before the next batch: wait until the
    // counts say so (the report is only at the end, so look at RSS settle).
    std::thread::sleep(Duration::from_millis(300));
    let hwm = report_hwm();
    println!("FIGURE listen peak RSS, {SENDERS} UDP senders each holding a 24 KiB partial traceback, --max-held 4MiB: {hwm} KiB (idle {idle_hwm} KiB)");
    // About 200 MiB of JSON to write: more time than the usual stop.
    l.signal(libc::SIGTERM);
    let s = l.finish(120);
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["messages"], sent, "{report}");
    assert_eq!(report["logmux"]["evicted_streams"], 0, "{report}");
    // Each stream holds one traceback of `held` bytes; the budget keeps the
    // newest MAX_HELD / held of them, and every older one was flushed early,
    // whole as far as it had come, marked and counted.
    let held: usize = partial_traceback(0)
        .iter()
        .map(|l| l.len() + 1)
        .sum::<usize>()
        - 1;
    let flushed = (SENDERS - MAX_HELD / held) as u64;
    assert_eq!(report["logmux"]["held_flushes"], flushed, "{report}");
    let marked = marked_truncated(&s.events);
    assert_eq!(marked, flushed, "{report}");
    // Nothing lost: one event per sender, with every line it sent.
    assert_eq!(s.events.len(), SENDERS, "{report}");
    for e in &s.events {
        let tag = e["service"]["name"].as_str().unwrap();
        let sender: usize = tag[1..].parse().unwrap();
        let text = e["message"].as_str().unwrap_or_default();
        assert_eq!(
            text,
            partial_traceback(sender).join("\n"),
            "{tag}: {}",
            e["logmux"]
        );
    }
    // The budget and its strings' spare capacity (up to as much again), the
    // datagrams queued for the listener's thread (up to 128 batches of 192
    // KiB), output buffers (8 in flight, each up to 64 flushed tracebacks of
    // 48 KiB of JSON) and a margin: about 60 MiB, where 150 MiB were held
    // without the budget.
    let bound = idle_hwm + 2 * (MAX_HELD as u64 / 1024) + 40 * 1024;
    assert!(hwm <= bound, "peak RSS {hwm} KiB over {bound} KiB");
}

#[test]
fn a_held_docker_piece_counts_toward_max_held_and_the_oldest_goes_first() {
    let l = start(&["--tcp", ":0", "--output", "json", "--max-held", "20KiB"]);
    // Docker's default format: two containers each start a line longer
    // than its 16 KiB pieces, in one write (one batch of reads, within the
    // join window). The second piece takes the held total to 32 KiB.
    let piece = |tag: &str, c: char| {
        let body = c.to_string().repeat(16 * 1024);
        format!("<30>Nov 25 23:29:21 {tag}[812]: {body}\n")
    };
    let both = format!("{}{}", piece("web-1", 'a'), piece("web-2", 'b'));
    send_tcp(l.tcp(), both.as_bytes());
    l.wait_for(2, 20);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 2, "{:?}", s.stderr);
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["held_flushes"], 1, "{report}");
    // web-1's piece, held longest, went out at once, marked; web-2's came
    // out whole after its window.
    let web1 = one_with_message(&s.events, &"a".repeat(16 * 1024));
    assert_eq!(web1["container"]["name"], "web-1");
    assert_eq!(web1["logmux"]["truncated"], true, "{web1}");
    let web2 = one_with_message(&s.events, &"b".repeat(16 * 1024));
    assert_eq!(web2["container"]["name"], "web-2");
    assert!(web2["logmux"].get("truncated").is_none(), "{web2}");
}

#[test]
fn a_held_traceback_goes_out_before_a_connections_frame_is_cut() {
    let l = start(&[
        "--tcp",
        ":0",
        "--output",
        "json",
        "--idle-flush",
        "1h",
        "--max-held",
        "64KiB",
        // The two connections on two shards: the held lines are the other
        // shard's, and still go out first.
        "--threads",
        "2",
    ]);
    // One connection leaves a traceback open: 40 KiB held by its stream.
    let frame = |n: usize| {
        format!(
            "  File \"/app/a.py\", line {n}, in f # {}",
            "x".repeat(20_000)
        )
    };
    let mut a = TcpStream::connect(l.tcp()).unwrap();
    for line in [
        "Traceback (most recent call last):".to_string(),
        frame(1),
        frame(2),
    ] {
        a.write_all(format!("<11>Nov 25 23:29:21 vm a: {line}\n").as_bytes())
            .unwrap();
    }
    l.wait_until(10, "the traceback read", |l| tcp_unread(l) == 0);
    std::thread::sleep(Duration::from_millis(200));
    // Another sends 40 KiB of a message it has not finished: 80 KiB held.
    let mut b = TcpStream::connect(l.tcp()).unwrap();
    let body = "b".repeat(40_000);
    b.write_all(format!("<13>Nov 25 23:29:21 vm b: {body}").as_bytes())
        .unwrap();
    // The stream's traceback goes out, not a cut of the frame.
    l.wait_for(1, 10);
    b.write_all(b"\n").unwrap();
    l.wait_for(2, 10);
    let s = l.stop();
    drop((a, b));
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["held_flushes"], 1, "{report}");
    assert_eq!(report["logmux"]["held_cuts"], 0, "{report}");
    assert_eq!(s.events.len(), 2, "{report}");
    let tb = &s.events[0];
    assert_eq!(tb["service"]["name"], "a", "{tb}");
    assert_eq!(tb["logmux"]["truncated"], true, "{}", tb["logmux"]);
    let text = format!(
        "Traceback (most recent call last):\n{}\n{}",
        frame(1),
        frame(2)
    );
    assert_eq!(tb["message"], text.as_str());
    let whole = &s.events[1];
    assert_eq!(whole["message"], body.as_str());
    assert!(whole["logmux"].get("truncated").is_none(), "{whole}");
}

/// How many of `events` logmux marked truncated.
fn marked_truncated(events: &[Value]) -> u64 {
    events
        .iter()
        .filter(|e| e["logmux"]["truncated"] == true)
        .count() as u64
}

/// Sets the soft RLIMIT_NPROC of the running process `pid`, owned by
/// `uid`: as that user (root here lacks CAP_SYS_RESOURCE, so only the
/// owner may change it), with util-linux's `prlimit`.
fn set_nproc(pid: i32, uid: u32, soft: u64) {
    use std::os::unix::process::CommandExt;
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nproc={soft}:")])
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_connection_whose_reader_thread_cannot_start_is_refused_and_counted() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::Uid::effective().is_root() {
        skip_or_fail(
            "a_connection_whose_reader_thread_cannot_start_is_refused_and_counted",
            "needs root to run logmux as a user of its own under RLIMIT_NPROC",
        );
        return;
    }
    // A user with no other process: RLIMIT_NPROC counts its threads alone
    // (root is never held to it).
    let uid = 61_000 + std::process::id() % 4_000;
    let l = start_with(&["--tcp", "127.0.0.1:0", "--output", "json"], |cmd| {
        cmd.uid(uid).gid(uid);
    });
    // No thread more than it has now: a connection's reader cannot start.
    let threads = proc_status(l.pid(), "Threads");
    set_nproc(l.pid(), uid, threads);
    let mut refused = TcpStream::connect(l.tcp()).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Closed at once by the listener: end of stream or a reset.
    let mut buf = [0u8; 16];
    match refused.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection without a reader is still open: {other:?}"),
    }
    l.wait_until(20, "the refusal's warning", |l| {
        l.own_events()
            .iter()
            .any(|e| e["logmux"]["refused"] == 1 && e["severity_text"] == "WARN")
    });
    // Room again: the next connection is read.
    set_nproc(l.pid(), uid, threads + 64);
    send_tcp(l.tcp(), b"<13>Nov 25 23:29:21 vm app: read\n");
    l.wait_for(1, 20);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 1, "{:?}", s.events);
    assert_eq!(s.events[0]["message"], "read");
    let warned: Vec<Value> = complete_lines(s.stderr.as_bytes())
        .into_iter()
        .filter(|e| e["logmux"]["refused"].is_u64())
        .collect();
    assert_eq!(warned.len(), 1, "{}", s.stderr);
    let reason = warned[0]["logmux"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("its reader cannot start: ")
            && reason.contains("Resource temporarily unavailable"),
        "{}",
        warned[0]
    );
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["refused_connections"], 1, "{report}");
    assert_eq!(report["logmux"]["connections"], 1, "{report}");
}
