//! `logmux listen` at its default `--max-connections` (1,024), started with
//! a soft open-file limit of 1,024 as systemd and many shells give: the
//! listener raises the limit itself, so all 1,024 TCP connections are
//! accepted and read at once (no EMFILE), opened in one burst that its
//! accept queue holds, the 1,025th is refused, and every
//! message of every connection comes out exactly once and in its order,
//! with one reader thread per connection and bounded memory.

#[path = "support/listen.rs"]
mod support;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// The default `--max-connections`.
const CONNECTIONS: usize = 1024;
/// Messages per connection after the first one.
const ROUNDS: usize = 20;
/// The soft limit the listener starts with.
const CHILD_SOFT_LIMIT: libc::rlim_t = 1024;
/// What the listener raises it to: connections, one listener, a margin of 64.
const RAISED_LIMIT: u64 = CONNECTIONS as u64 + 1 + 64;
/// The test itself holds 1,025 connections and the listener needs
/// `RAISED_LIMIT`: below this hard limit the test cannot run.
const HARD_LIMIT_NEEDED: libc::rlim_t = 2200;
/// `--max-message` at its default, in KiB.
const MAX_MESSAGE_KIB: u64 = 64;
/// The accept queue asked for (docs/listen.md, "Limits").
const ACCEPT_QUEUE: usize = 4096;

/// What docs/listen.md ("Limits") says a TCP listener may hold, in KiB: 16
/// chunks of 256 KiB, one unfinished message per connection and its reader
/// thread's stack (64 KiB allowed, not documented), and 8 waiting output
/// buffers of 128 KiB and the one filling.
fn documented_buffers_kib() -> u64 {
    16 * 256 + (CONNECTIONS as u64 + 1) * (MAX_MESSAGE_KIB + 1 + 64) + 9 * 128
}

/// `net.core.somaxconn`, which caps every accept queue.
fn somaxconn() -> usize {
    let text = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
    text.trim().parse().unwrap()
}

/// The accept queue of the TCP listener on 127.0.0.1:`port`, as `ss`
/// (iproute2) shows it: Send-Q of a listening socket.
fn listen_backlog(port: u16) -> usize {
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) is needed by this test");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("ss lists no listener on port {port}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|q| q.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the accept queue from ss: {line}"))
}

fn nofile() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    r
}

fn set_nofile(r: &libc::rlimit) -> io::Result<()> {
    // SAFETY: setrlimit reads one rlimit we own; async-signal-safe, so also
    // fine between fork and exec.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, r) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The soft "Max open files" of a process.
fn soft_nofile_of(pid: i32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no open-file limit in {limits}"))
}

/// One RFC 5424 octet-counted frame whose body is `c0123 s0007`.
fn frame(conn: usize, seq: usize) -> Vec<u8> {
    let msg = format!("<14>1 2026-11-25T23:29:21.000001Z testhost conn 7 - - c{conn:04} s{seq:04}");
    format!("{} {msg}", msg.len()).into_bytes()
}

/// `(connection, seq)` from a body `c0123 s0007`.
fn parse_body(body: &str) -> Option<(usize, usize)> {
    let (c, s) = body.split_once(' ')?;
    Some((
        c.strip_prefix('c')?.parse().ok()?,
        s.strip_prefix('s')?.parse().ok()?,
    ))
}

/// Polls until `cond` holds; panics with `what` after `secs`.
fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_thousand_and_twenty_four_connections_at_once_under_a_soft_limit_of_1024() {
    let started = Instant::now();
    // This process holds 1,025 connections: raise its own soft limit.
    let mut own = nofile();
    if own.rlim_max < HARD_LIMIT_NEEDED {
        skip_or_fail(
            "a_thousand_and_twenty_four_connections_at_once_under_a_soft_limit_of_1024",
            &format!(
                "the hard open-file limit is {}, below the {HARD_LIMIT_NEEDED} this test needs",
                own.rlim_max
            ),
        );
        return;
    }
    if own.rlim_cur < HARD_LIMIT_NEEDED {
        own.rlim_cur = HARD_LIMIT_NEEDED;
        set_nofile(&own).unwrap();
    }

    // The listener starts with a soft limit of 1,024 and the hard one as is.
    // Every connection comes from 127.0.0.1: lift the per-peer cap (256 by
    // default) past the total, so that the cap under test is --max-connections.
    let l = start_with(
        &["--tcp", ":0", "--max-connections-per-peer", "2048"],
        |cmd| {
            // SAFETY: the closure only calls async-signal-safe getrlimit and
            // setrlimit, between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    let mut r = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    r.rlim_cur = CHILD_SOFT_LIMIT;
                    set_nofile(&r)
                });
            }
        },
    );
    let pid = l.pid();
    let soft = soft_nofile_of(pid);
    println!("listener's soft open-file limit: {soft} (started at {CHILD_SOFT_LIMIT})");
    assert_eq!(soft, RAISED_LIMIT, "the listener raises its soft limit");

    // The accept queue asked for, as the kernel caps it (std's bind gives 128).
    let backlog = listen_backlog(l.tcp().port());
    println!("listener's accept queue: {backlog}");
    assert_eq!(backlog, ACCEPT_QUEUE.min(somaxconn()));
    // Threads and memory before any connection, to compare with after.
    let idle_threads = proc_status(pid, "Threads") as usize;
    let idle_hwm = proc_status(pid, "VmHWM");

    // 1,024 connections opened at once, each announcing itself.
    let t = Instant::now();
    let mut conns: Vec<TcpStream> = Vec::with_capacity(CONNECTIONS);
    for c in 0..CONNECTIONS {
        let mut s = TcpStream::connect(l.tcp()).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(&frame(c, 0)).unwrap();
        conns.push(s);
    }
    l.wait_for(CONNECTIONS, 60);
    println!(
        "{CONNECTIONS} connections open and read in {:.2?}",
        t.elapsed()
    );
    let threads = proc_status(pid, "Threads") as usize;
    println!("listener threads with {CONNECTIONS} connections open: {threads}");
    assert_eq!(threads, idle_threads + CONNECTIONS, "one per connection");

    // ROUNDS more messages on each, interleaved across connections.
    let t = Instant::now();
    for seq in 1..=ROUNDS {
        for (c, s) in conns.iter_mut().enumerate() {
            s.write_all(&frame(c, seq)).unwrap();
        }
    }

    // One more connection is over the cap: closed by the listener.
    let mut extra = TcpStream::connect(l.tcp()).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    match extra.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection over the cap is still open: {other:?}"),
    }
    drop(extra);

    let total = CONNECTIONS * (ROUNDS + 1);
    l.wait_for(total, 120);
    println!(
        "{} more messages out in {:.2?}",
        CONNECTIONS * ROUNDS,
        t.elapsed()
    );
    wait_until(20, "the refused connection's warning", || {
        l.own_events()
            .iter()
            .any(|e| e["logmux"]["refused"] == 1 && e["severity_text"] == "WARN")
    });
    let hwm = proc_status(pid, "VmHWM");
    let bound = idle_hwm + documented_buffers_kib();
    println!("FIGURE listen peak RSS, {CONNECTIONS} connections: {hwm} KiB (idle {idle_hwm} KiB)");
    assert!(
        hwm <= bound,
        "peak RSS {hwm} KiB over the documented {bound} KiB"
    );

    drop(conns);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    // Every message exactly once, each connection's in order.
    assert_eq!(done.events.len(), total);
    let mut seen: HashMap<usize, Vec<usize>> = HashMap::new();
    for e in &done.events {
        let body = e["message"].as_str().unwrap_or_else(|| panic!("{e}"));
        let (c, s) = parse_body(body).unwrap_or_else(|| panic!("{e}"));
        assert_eq!(e["service"]["name"], "conn", "{e}");
        seen.entry(c).or_default().push(s);
    }
    assert_eq!(seen.len(), CONNECTIONS);
    let in_order: Vec<usize> = (0..=ROUNDS).collect();
    for c in 0..CONNECTIONS {
        assert_eq!(seen[&c], in_order, "connection {c}");
    }

    // No failed accept, no warning but the one refusal, exact counters.
    let own = complete_lines(done.stderr.as_bytes());
    let warnings: Vec<&Value> = own
        .iter()
        .filter(|e| e["severity_text"] == "WARN" || e["severity_text"] == "ERROR")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0]["logmux"]["refused"], 1, "{}", warnings[0]);
    let report = own.last().unwrap();
    let counts = &report["logmux"];
    assert_eq!(counts["messages"], total, "{report}");
    assert_eq!(counts["events"], total, "{report}");
    assert_eq!(counts["connections"], CONNECTIONS, "{report}");
    assert_eq!(counts["refused_connections"], 1, "{report}");
    for zero in [
        "malformed",
        "truncated",
        "empty",
        "evicted_streams",
        "discarded_bytes",
        "lost_bytes",
    ] {
        assert_eq!(counts[zero], 0, "{zero}: {report}");
    }
    println!("whole test: {:.2?}", started.elapsed());
}
