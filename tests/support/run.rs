//! Helpers for the `logmux run` tests: start the real binary on a config in
//! a temp dir, collect its stdout and stderr while it runs, signal it, and
//! read the events back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "process.rs"]
mod process;
#[allow(unused_imports)] // for support/rsyslog.rs
pub use process::sockets_of;
use process::{tail, Process};
#[path = "skip.rs"]
mod skip;
#[allow(unused_imports)] // not every test skips
pub use skip::skip_or_fail;

pub const WRITERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/writers");

/// A running `logmux run`.
pub struct Running {
    pub process: Process,
    pub dir: tempfile::TempDir,
}

/// What a finished run left.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

/// Writes `config` (with `@DIR@` replaced by the temp dir and `@WRITERS@`
/// by tests/writers) and starts `logmux run` on it.
pub fn start(config: &str) -> Running {
    start_with(config, |_| {})
}

pub fn start_with(config: &str, adjust: impl FnOnce(&mut Command)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), config);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.args(["run", "--config"])
        .arg(&path)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    adjust(&mut cmd);
    spawn(cmd, dir)
}

pub fn write_config(dir: &Path, config: &str) -> PathBuf {
    let text = config
        .replace("@DIR@", &dir.display().to_string())
        .replace("@WRITERS@", WRITERS);
    let path = dir.join("logmux.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn spawn(cmd: Command, dir: tempfile::TempDir) -> Running {
    spawn_reading_stdout_after(cmd, dir, Duration::ZERO)
}

/// Like [`spawn`], but nobody reads logmux's stdout for `stall`: a slow reader.
pub fn spawn_reading_stdout_after(
    cmd: Command,
    dir: tempfile::TempDir,
    stall: Duration,
) -> Running {
    Running {
        process: Process::spawn(cmd, stall),
        dir,
    }
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.process.pid()
    }

    pub fn signal(&self, sig: i32) {
        self.process.signal(sig)
    }

    pub fn stdout_now(&self) -> String {
        self.process.stdout_now()
    }

    /// The address `[metrics] listen` bound (`127.0.0.1:0` gets a free
    /// port), from logmux's event; waits up to 30 s for it.
    pub fn metrics_address(&self) -> std::net::SocketAddr {
        const SERVING: &str = "metrics: serving /metrics and /healthz on http://";
        self.wait_for(30, "the metrics endpoint", |_, err| err.contains(SERVING));
        let err = self.stderr_now();
        let at = err.find(SERVING).map(|i| i + SERVING.len()).unwrap();
        err[at..]
            .split(|c: char| c == '"' || c.is_whitespace())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn stderr_now(&self) -> String {
        self.process.stderr_now()
    }

    /// Waits until `cond(stdout, stderr)` holds; panics after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if cond(&self.stdout_now(), &self.stderr_now()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {what}\n--- stdout:\n{}\n--- stderr:\n{}",
            tail(&self.stdout_now(), 40),
            tail(&self.stderr_now(), 40)
        );
    }

    /// Waits for logmux to exit (at most `secs`, then kills it and panics).
    pub fn finish(mut self, secs: u64) -> Finished {
        let status = self.process.wait_exit(secs, "logmux");
        Finished {
            code: status.code(),
            stdout: self.stdout_now(),
            stderr: self.stderr_now(),
            dir: std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()),
        }
    }
}

/// Every line as a JSON object; panics on a line that is not one.
pub fn events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// logmux's own events (service.name = "logmux").
pub fn own(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events
        .iter()
        .filter(|e| e["service"]["name"] == "logmux")
        .collect()
}

/// Messages of the events of one program.
pub fn messages_of<'e>(events: &'e [serde_json::Value], program: &str) -> Vec<&'e str> {
    events
        .iter()
        .filter(|e| e["service"]["name"] == program)
        .filter_map(|e| e["message"].as_str())
        .collect()
}

/// Own events whose message starts with `prefix`.
pub fn own_with<'e>(events: &'e [serde_json::Value], prefix: &str) -> Vec<&'e serde_json::Value> {
    events
        .iter()
        .filter(|e| e["service"]["name"] == "logmux")
        .filter(|e| e["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
        .collect()
}

/// The expected text of line `i` of tests/writers/burst.py's `name`.
pub fn burst_line(name: &str, i: u64) -> String {
    let payload = (i * 7919 % 1_000_003)
        .to_string()
        .repeat(1 + (i % 5) as usize);
    format!("{name} {i} {payload}")
}

/// Processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// `logmux ctl ARGS`, bounded from outside so that a client without a
/// timeout of its own fails the test instead of hanging it.
pub fn ctl(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("timeout")
        .arg("30")
        .arg(env!("CARGO_BIN_EXE_logmux"))
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `GET /metrics` from `addr`; `None` while nothing answers there.
pub fn metrics_text(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The pid column of `name`'s row in `logmux ctl status`'s table ("" if none).
pub fn pid_of(status: &str, name: &str) -> String {
    status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("")
        .to_string()
}

/// User plus system CPU time of `pid` so far, in clock ticks (1/100 s).
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// `logmux.KEY` of a logmux event as a number (a count may be written as
/// a string).
pub fn logmux_count(e: &serde_json::Value, k: &str) -> u64 {
    let v = &e["logmux"][k];
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{k} in {e}"))
}
