//! Helpers for the `logmux listen` tests: start the real binary on
//! ephemeral ports (port 0; the bound addresses are read from its
//! `listening on` events), collect its output while it runs, send it
//! messages, stop it with a signal, and read the events back.
#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "process.rs"]
mod process;
pub use process::sockets_of;
use process::{tail, Process};
#[path = "skip.rs"]
mod skip;
#[allow(unused_imports)] // not every test skips
pub use skip::skip_or_fail;

/// A running `logmux listen`.
pub struct Listener {
    pub process: Process,
    pub dir: tempfile::TempDir,
    /// The bound addresses, in the order of the flags: `udp://…`, `tcp://…`, …
    pub addresses: Vec<String>,
}

/// What a stopped listener left.
pub struct Stopped {
    pub code: Option<i32>,
    pub events: Vec<Value>,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

/// Starts `logmux listen ARGS` in a fresh temp dir; `@DIR@` in an argument
/// is replaced by that dir. Waits until every listener is bound.
pub fn start(args: &[&str]) -> Listener {
    start_with(args, |_| {})
}

pub fn start_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Listener {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("@DIR@", &d)).collect();
    let endpoints = args
        .iter()
        .filter(|a| {
            matches!(
                a.as_str(),
                "--udp" | "--tcp" | "--unix" | "--unix-stream" | "--metrics-listen"
            )
        })
        .count();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.arg("listen").args(&args);
    // Two parsing threads unless a test says otherwise, whatever the
    // machine's CPUs: every test with two or more connections then has
    // them on two shards.
    if !args.iter().any(|a| a == "--threads") {
        cmd.args(["--threads", "2"]);
    }
    cmd.env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    adjust(&mut cmd);
    let mut l = Listener {
        process: Process::spawn(cmd, Duration::ZERO),
        dir,
        addresses: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let addresses: Vec<String> = l
            .own_events()
            .iter()
            .filter_map(|e| e["logmux"]["address"].as_str().map(str::to_string))
            .collect();
        if addresses.len() == endpoints {
            l.addresses = addresses;
            return l;
        }
        if Instant::now() > deadline || !l.process.is_running() {
            panic!("logmux listen did not start:\n{}", l.stderr_now());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Listener {
    /// The Nth bound address of a kind (`udp`, `tcp`) as a socket address.
    pub fn addr(&self, kind: &str, n: usize) -> SocketAddr {
        let prefix = format!("{kind}://");
        self.addresses
            .iter()
            .filter_map(|a| a.strip_prefix(&prefix))
            .nth(n)
            .unwrap_or_else(|| panic!("no {kind} address #{n} in {:?}", self.addresses))
            .parse()
            .unwrap()
    }

    /// `--metrics-listen`'s bound address (its event names no scheme).
    pub fn metrics(&self) -> SocketAddr {
        self.addresses
            .iter()
            .find(|a| !a.contains("://"))
            .unwrap_or_else(|| panic!("no metrics address in {:?}", self.addresses))
            .parse()
            .unwrap()
    }

    /// The sum of one metric family's samples, read from /metrics.
    pub fn metric_total(&self, name: &str) -> f64 {
        let mut s = TcpStream::connect(self.metrics()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut text);
        text.lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
            .filter_map(|l| l.rsplit_once("} ")?.1.parse::<f64>().ok())
            .sum()
    }

    pub fn udp(&self) -> SocketAddr {
        self.addr("udp", 0)
    }

    pub fn tcp(&self) -> SocketAddr {
        self.addr("tcp", 0)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    pub fn signal(&self, sig: i32) {
        self.process.signal(sig)
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    pub fn stderr_now(&self) -> String {
        self.process.stderr_now()
    }

    /// The TCP connections the listener has accepted and not closed yet
    /// (state 01, established).
    pub fn established(&self) -> usize {
        let rows = sockets_of(self.pid(), &["tcp", "tcp6"]);
        rows.iter().filter(|r| r[3] == "01").count()
    }

    /// TCP connections the listener still holds open, in any state but
    /// LISTEN (one whose client has closed stays, CLOSE_WAIT, until the
    /// listener closes it).
    pub fn open_connections(&self) -> usize {
        let rows = sockets_of(self.pid(), &["tcp", "tcp6"]);
        rows.iter().filter(|r| r[3] != "0A").count()
    }

    /// Bytes waiting in the listener's UDP sockets, not read yet (the hex
    /// rx_queue of column 4, `tx_queue:rx_queue`).
    pub fn udp_unread(&self) -> usize {
        let rows = sockets_of(self.pid(), &["udp", "udp6"]);
        let rx = |r: &Vec<String>| {
            r[4].split(':')
                .nth(1)
                .and_then(|h| usize::from_str_radix(h, 16).ok())
        };
        rows.iter().map(|r| rx(r).unwrap_or(0)).sum()
    }

    /// Datagrams the kernel dropped on the listener's UDP sockets (the
    /// last column of /proc/net/udp).
    pub fn udp_drops(&self) -> u64 {
        let rows = sockets_of(self.pid(), &["udp", "udp6"]);
        rows.iter()
            .filter_map(|r| r.last()?.parse::<u64>().ok())
            .sum()
    }

    /// Waits until `cond` holds (a condition, where a sleep would guess);
    /// panics after `secs`, naming `what`.
    pub fn wait_until(&self, secs: u64, what: &str, cond: impl Fn(&Listener) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {secs}s waiting for {what}\n--- stderr:\n{}",
                tail(&self.stderr_now(), 20)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// logmux's own events so far (stderr).
    pub fn own_events(&self) -> Vec<Value> {
        complete_lines(&self.process.stderr.lock().unwrap())
    }

    /// The events written so far (whole lines only).
    pub fn events(&self) -> Vec<Value> {
        complete_lines(&self.process.stdout.lock().unwrap())
    }

    /// How many events have been written so far.
    pub fn count(&self) -> usize {
        self.process.stdout_lines()
    }

    /// Waits until at least `n` events are out; panics after `secs`.
    pub fn wait_for(&self, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.count() >= n {
                return;
            }
            if Instant::now() > deadline {
                // The lock is let go before panicking, so that the reader
                // thread is not poisoned into a second panic.
                let out = tail(&self.process.stdout_now(), 20);
                panic!(
                    "timed out waiting for {n} events; got {}:\n{out}\n--- stderr:\n{}",
                    self.count(),
                    tail(&self.stderr_now(), 20)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit (panics after `secs`).
    pub fn stop(self) -> Stopped {
        self.signal(libc::SIGTERM);
        self.finish(20)
    }

    /// Waits for logmux to exit.
    pub fn finish(mut self, secs: u64) -> Stopped {
        let status = self.process.wait_exit(secs, "logmux listen");
        let stdout = self.process.stdout.lock().unwrap().clone();
        Stopped {
            code: status.code(),
            events: complete_lines(&stdout),
            stderr: self.stderr_now(),
            dir: std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()),
        }
    }
}

/// A stdout nobody reads: a fifo opened read-write here (so that opening it
/// does not wait) and never read. Returns the end to keep open, and the
/// one to give logmux.
pub fn stalled_stdout(dir: &std::path::Path) -> (std::fs::File, std::fs::File) {
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

/// Every complete line as a JSON object; panics on a line that is not one.
pub fn complete_lines(b: &[u8]) -> Vec<Value> {
    let end = b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    String::from_utf8_lossy(&b[..end])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Runs util-linux `logger` with `args`; panics if it fails.
pub fn logger(args: &[&str]) {
    let out = Command::new("logger")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("util-linux logger (bsdutils) must be installed");
    assert!(
        out.status.success(),
        "logger {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends each datagram from one UDP socket (one sender, one stream).
pub fn send_udp(to: SocketAddr, datagrams: &[&[u8]]) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in datagrams {
        sock.send_to(d, to).unwrap();
    }
}

/// Writes `bytes` on one TCP connection, then closes it.
pub fn send_tcp(to: SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(to).unwrap();
    s.write_all(bytes).unwrap();
}

/// The machine's host name, as logger and rsyslog write it.
pub fn hostname() -> String {
    let out = Command::new("hostname").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The events whose message is `text`.
pub fn with_message<'e>(events: &'e [Value], text: &str) -> Vec<&'e Value> {
    events.iter().filter(|e| e["message"] == text).collect()
}

/// The one event whose message is `text`.
pub fn one_with_message<'e>(events: &'e [Value], text: &str) -> &'e Value {
    let found = with_message(events, text);
    assert_eq!(found.len(), 1, "{text:?} in {events:#?}");
    found[0]
}

/// Whether a path exists (for sockets).
pub fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// The final report (`listen stopped`) among logmux's own events.
pub fn final_report(stderr: &str) -> Value {
    complete_lines(stderr.as_bytes())
        .into_iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listen stopped"))
        })
        .unwrap_or_else(|| panic!("no final report in {stderr}"))
}

/// A line of /proc/PID/status (`Threads`, `VmHWM`, `VmRSS`) as a number (KiB
/// for the memory ones).
pub fn proc_status(pid: i32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}
