//! The OTLP test receiver (tests/otlp/receiver.py, decoding with PyPI's
//! opentelemetry-proto): started on a port, scripted answers, and the
//! records it decoded as JSON values. Its Python is `LOGMUX_OTLP_PYTHON`,
//! else the venv tests/run-all.sh makes (target/otlp-venv, then
//! /opt/logmux-venv); without one a test calls `skip_or_fail`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Python with opentelemetry-proto, if this machine has one.
pub fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("LOGMUX_OTLP_PYTHON").map(PathBuf::from),
        Some(root.join("target/otlp-venv/bin/python")),
        Some(PathBuf::from("/opt/logmux-venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|p| {
        p.exists()
            && Command::new(p)
                .args(["-c", "import opentelemetry.proto.collector.logs.v1"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

pub struct Receiver {
    child: Child,
    pub port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Starts a receiver answering `answers` first (see receiver.py), on
    /// `port` (0: any free one).
    pub fn start(python: &Path, answers: &str, port: u16) -> Receiver {
        Receiver::start_with(python, answers, port, &[])
    }

    /// The same, with more arguments for receiver.py (`--tls-cert` …).
    pub fn start_with(python: &Path, answers: &str, port: u16, extra: &[&str]) -> Receiver {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("records.jsonl");
        let port_file = dir.path().join("port");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/receiver.py");
        let child = Command::new(python)
            .arg(script)
            .arg("--port-file")
            .arg(&port_file)
            .arg("--out")
            .arg(&out)
            .args(["--answers", answers, "--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn receiver.py");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().parse().expect("port");
            }
            assert!(Instant::now() < deadline, "receiver.py did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Receiver {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    /// A base endpoint (`/v1/logs` is appended).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The log records decoded so far, in the order received.
    pub fn records(&self) -> Vec<Value> {
        self.decoded()
            .into_iter()
            .filter(|v| v["signal"] != "traces")
            .collect()
    }

    /// The spans decoded so far (posts to `/v1/traces`), in the order received.
    pub fn spans(&self) -> Vec<Value> {
        self.decoded()
            .into_iter()
            .filter(|v| v["signal"] == "traces")
            .collect()
    }

    fn decoded(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `n` spans arrived; panics after `secs`.
    pub fn wait_for_spans(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.spans();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} spans in {secs} s",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `n` records arrived; panics after `secs`.
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.records();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} records in {secs} s",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Receiver {
    /// Makes the receiver go away cleanly (SIGUSR1: every answer it owes
    /// is sent, later requests are cut unanswered, the port is closed) and
    /// waits for it to exit. Its records can still be read.
    pub fn go_away(&mut self) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A typed OTLP value as the receiver writes it: `["int_value", 42]`.
pub fn typed<'v>(v: &'v Value, kind: &str) -> &'v Value {
    assert_eq!(v[0], kind, "{v}");
    &v[1]
}

/// The span with this hex `span_id` among the receiver's spans.
pub fn find_span<'s>(spans: &'s [Value], id: &str) -> &'s Value {
    spans
        .iter()
        .find(|s| s["span_id"] == id)
        .unwrap_or_else(|| panic!("no span {id} in {spans:?}"))
}

/// A span's duration, in nanoseconds.
pub fn span_duration(s: &Value) -> u64 {
    s["end"].as_u64().unwrap() - s["start"].as_u64().unwrap()
}
