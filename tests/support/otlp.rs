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

/// A free port for a receiver that is down for a while (started late, or
/// stopped and started again): below the kernel's ephemeral range, which
/// `bind(0)` and outgoing connections draw from, so that no other test or
/// connection is handed it meanwhile. (A port from `bind(0)` once was: the
/// late receiver then failed with "Address already in use".)
#[allow(dead_code)]
pub fn port_outside_the_ephemeral_range() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = low.saturating_sub(1024).clamp(1, 8192);
    // Spread by process, so that test binaries run at once differ.
    let offset = (std::process::id() % u32::from(span)) as u16;
    (0..span)
        .map(|_| NEXT.fetch_add(1, Ordering::Relaxed))
        .map(|n| low - 1 - (offset.wrapping_add(n) % span))
        .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port below the ephemeral range")
}

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

/// An OTLP endpoint that answers 200 to every request without decoding it
/// (in Rust: a test of volume needs no Python); returns its URL.
pub fn accept_all() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reply = conn.try_clone().unwrap();
                let mut conn = BufReader::new(conn);
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if conn.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    conn.read_exact(&mut body).unwrap();
                    reply
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    endpoint
}

/// Busy processes at normal priority, one per core (`yes`): the span
/// thread (nice +10) gets little CPU. Stopped when dropped.
pub struct Hogs(Vec<Child>);

impl Hogs {
    pub fn on_every_core() -> Hogs {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hogs(
            (0..cores)
                .map(|_| Command::new("yes").stdout(Stdio::null()).spawn().unwrap())
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

/// The image's nginx `log_format` and uWSGI `log-format`, read from
/// docker/logmux.toml.
/// The image's `nginx_log_format` and `uwsgi_log_format` (docker/logmux.toml).
pub fn image_formats() -> (String, String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/logmux.toml");
    let config: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let of = |program: &str, key: &str| {
        config["program"][program][key]
            .as_str()
            .unwrap_or_else(|| panic!("program.{program}.{key} in docker/logmux.toml"))
            .to_string()
    };
    (
        of("nginx", "nginx_log_format"),
        of("uwsgi", "uwsgi_log_format"),
    )
}
