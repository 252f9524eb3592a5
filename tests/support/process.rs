//! A logmux process under test, shared by the `run` and `listen` helpers:
//! spawned with its stdout and stderr piped, both collected by threads of
//! their own while it runs (so it never blocks on a full pipe unless a test
//! asks for a slow reader), signalled, waited for with a deadline, and
//! killed if a test ends without stopping it.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Process {
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<u8>>>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
    /// Lines written to stdout so far (newlines counted as they arrive).
    stdout_lines: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

/// Copies `from` into `into` until its end, counting newlines in `lines`.
fn collect(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
    lines: Arc<AtomicUsize>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    into.lock().unwrap().extend_from_slice(&buf[..n]);
                    lines.fetch_add(newlines(&buf[..n]), Ordering::SeqCst);
                }
            }
        }
    })
}

fn newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

impl Process {
    /// Spawns `cmd` (whose stderr must be piped; stdout is collected when
    /// piped); nobody reads its stdout for the first `stall`: a slow reader.
    pub fn spawn(mut cmd: Command, stall: Duration) -> Process {
        let mut child = cmd.spawn().unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stdout_lines = Arc::new(AtomicUsize::new(0));
        let mut threads = vec![collect(
            child.stderr.take().unwrap(),
            Arc::clone(&stderr),
            Arc::new(AtomicUsize::new(0)),
        )];
        if let Some(out) = child.stdout.take() {
            let (into, lines) = (Arc::clone(&stdout), Arc::clone(&stdout_lines));
            threads.push(std::thread::spawn(move || {
                std::thread::sleep(stall);
                collect(out, into, lines).join().unwrap();
            }));
        }
        Process {
            child,
            stdout,
            stderr,
            stdout_lines,
            threads,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with a pid we started.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn stdout_now(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr_now(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Lines written to stdout so far.
    pub fn stdout_lines(&self) -> usize {
        self.stdout_lines.load(Ordering::SeqCst)
    }

    /// Waits for the exit, then for both pipes to be read to their end. After
    /// `secs` it kills `what` and panics with the tail of its stderr.
    pub fn wait_exit(&mut self, secs: u64, what: &str) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{what} did not exit within {secs}s\n--- stderr:\n{}",
                    tail(&self.stderr_now(), 20)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        status
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The rows of /proc/PID/net/TABLE (each of `tables`: tcp, udp6, …) that
/// are sockets of process `pid` (column 9, the inode, among its fds), split
/// into columns: column 1 is the local address (hex port after `:`), 3 the
/// state, 4 `tx_queue:rx_queue`.
pub fn sockets_of(pid: i32, tables: &[&str]) -> Vec<Vec<String>> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut rows = Vec::new();
    for t in tables {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).unwrap_or_default();
        for row in table.lines().skip(1) {
            let cols: Vec<String> = row.split_whitespace().map(str::to_string).collect();
            if cols.len() > 9 && inodes.contains(&cols[9]) {
                rows.push(cols);
            }
        }
    }
    rows
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
