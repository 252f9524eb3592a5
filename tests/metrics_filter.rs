//! `logmux filter --metrics-listen`: the metrics of a stream of generated
//! lines, read over HTTP while logmux runs, and the listener's bounds.
//!
//! - Label cardinality stays bounded: 100,000 distinct paths and 10,000
//!   distinct exception types give at most `route_labels` routes and
//!   `max_exception_types` types, the rest counted (exactly) as `other`.
//! - The listener answers /metrics, /healthz and 404, refuses a request
//!   larger than its bound (431), and serves at most 8 connections at
//!   once: a ninth is told 503 and closed, and scrapes work again after.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

/// `logmux filter` with metrics on, its stdin held open by the test.
struct Filter {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl Drop for Filter {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Filter {
    /// Starts `logmux filter ARGS --metrics-listen 127.0.0.1:0` and reads
    /// the bound port from its start-up event.
    fn start(args: &[&str]) -> Filter {
        let mut child = common::logmux()
            .arg("filter")
            .args(args)
            .args(["--metrics-listen", "127.0.0.1:0", "--output", "json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn logmux filter");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("logmux said where it listens")
                .expect("stderr line");
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON diagnostic");
            if let Some(addr) = v["logmux"]["address"].as_str() {
                break addr
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse().ok())
                    .expect("a port");
            }
        };
        // The rest of stderr is drained so that logmux never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Filter {
            stdin: child.stdin.take(),
            child,
            port,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.stdin
            .as_mut()
            .expect("stdin")
            .write_all(bytes)
            .expect("feed");
    }
}

/// One request; the status and the body.
fn request(port: u16, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(raw).expect("send");
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, body.to_string())
}

fn get(port: u16, path: &str) -> (u16, String) {
    request(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

/// `name{labels} value` lines of one family: labels → value.
fn family(text: &str, name: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once("} ")?;
            Some((labels.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Polls /metrics until `done` holds for it; returns that text.
fn scrape_until(port: u16, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, text) = get(port, "/metrics");
        assert_eq!(code, 200);
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {what} within 120 s:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn total(text: &str, name: &str) -> f64 {
    family(text, name).values().sum()
}

#[test]
fn labels_stay_bounded_under_100000_paths_and_10000_exception_types() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("logmux.toml");
    std::fs::write(
        &config,
        "[metrics]\nroute_labels = 50\nmax_exception_types = 20\n",
    )
    .expect("config");
    let mut f = Filter::start(&["--config", config.to_str().expect("utf-8")]);
    let mut input = Vec::with_capacity(16 << 20);
    for i in 0..100_000 {
        writeln!(
            input,
            "10.0.0.1 - - [03/Dec/2026:10:00:00 +0000] \"GET /p/{i}?q={i} HTTP/1.1\" 200 {i} \"-\" \"gen\""
        )
        .expect("line");
    }
    for i in 0..10_000 {
        write!(
            input,
            "Traceback (most recent call last):\n  File \"app.py\", line 1, in <module>\nError{i}: boom {i}\n"
        )
        .expect("traceback");
    }
    // A request line ends the last traceback at once. (A plain line read
    // in the same burst would continue the exception's message, the
    // documented burst rule: whether it did depended on how the 10 MB
    // were cut into reads.)
    input.extend_from_slice(
        b"10.0.0.1 - - [03/Dec/2026:10:00:01 +0000] \"GET /done HTTP/1.1\" 200 4 \"-\" \"gen\"\n",
    );
    f.feed(&input);
    let text = scrape_until(f.port, "110,001 events", |t| {
        total(t, "log_events_total") == 110_001.0
    });

    let requests = family(&text, "http_server_requests_total");
    assert_eq!(requests.len(), 51, "50 routes and other: {requests:?}");
    let other = "service=\"nginx\",method=\"GET\",status_class=\"2xx\",route=\"other\"";
    assert_eq!(requests.get(other), Some(&99_951.0));
    for i in 0..50 {
        let route =
            format!("service=\"nginx\",method=\"GET\",status_class=\"2xx\",route=\"/p/{i}\"");
        assert_eq!(requests.get(&route), Some(&1.0), "{route}");
    }
    let exceptions = family(&text, "exceptions_total");
    assert_eq!(exceptions.len(), 21, "20 types and other: {exceptions:?}");
    assert_eq!(
        exceptions.get("service=\"\",type=\"other\""),
        Some(&9_980.0)
    );
    assert_eq!(exceptions.get("service=\"\",type=\"Error0\""), Some(&1.0));
    assert_eq!(
        total(&text, "logmux_input_lines_total"),
        100_000.0 + 30_000.0 + 1.0
    );
    // One histogram per service, whatever the paths.
    assert_eq!(
        family(&text, "http_server_response_body_size_bytes_count").len(),
        1
    );
    assert!(
        text.len() < 64 * 1024,
        "the exposition grew to {} bytes",
        text.len()
    );
}

#[test]
fn without_route_labels_paths_are_not_labels() {
    let mut f = Filter::start(&[]);
    let mut input = Vec::new();
    for i in 0..1_000 {
        writeln!(
            input,
            "10.0.0.1 - - [03/Dec/2026:10:00:00 +0000] \"POST /p/{i} HTTP/1.1\" 404 10 \"-\" \"gen\""
        )
        .expect("line");
    }
    f.feed(&input);
    let text = scrape_until(f.port, "1,000 requests", |t| {
        total(t, "http_server_requests_total") == 1_000.0
    });
    assert_eq!(
        family(&text, "http_server_requests_total"),
        BTreeMap::from([(
            "service=\"nginx\",method=\"POST\",status_class=\"4xx\"".to_string(),
            1_000.0
        )])
    );
}

#[test]
fn the_listener_answers_two_paths_and_keeps_its_bounds() {
    let f = Filter::start(&[]);
    let (code, body) = get(f.port, "/healthz");
    assert_eq!((code, body.as_str()), (200, "{\"status\":\"ok\"}\n"));
    assert_eq!(get(f.port, "/").0, 404);
    assert_eq!(request(f.port, b"DELETE /metrics HTTP/1.1\r\n\r\n").0, 405);
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(request(f.port, huge.as_bytes()).0, 431);

    // Eight connections that send nothing hold every slot: a ninth is
    // told 503 (busy) at once. (Each idle one is closed after its 2 s read
    // timeout: the nine connect well within that.)
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", f.port)).expect("connect"))
        .collect();
    // The server counts a connection when it accepts it: wait until the
    // eighth has been (a request on a ninth is answered 503 then).
    let deadline = Instant::now() + Duration::from_secs(30);
    let busy = loop {
        let (code, body) = get(f.port, "/metrics");
        if code == 503 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "never busy with 8 idle connections"
        );
    };
    assert_eq!(busy, "busy\n");
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(f.port, "/metrics").0 != 200 {
        assert!(Instant::now() < deadline, "scrapes did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_metrics_port_in_use_stops_each_door_at_start_with_its_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("ctl.sock");
    for (args, code) in [
        (vec!["filter", "--metrics-listen", &addr], 74),
        (vec!["run", "--metrics-listen", &addr, "--", "true"], 73),
        (
            vec!["listen", "--udp", "127.0.0.1:0", "--metrics-listen", &addr],
            71,
        ),
    ] {
        let out = common::logmux()
            .args(&args)
            .env("LOGMUX_CONTROL_SOCKET", &socket)
            .stdin(Stdio::null())
            .output()
            .expect("logmux");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "\"message\":\"metrics: cannot listen on {addr}: Address already in use (os error 98)\""
            )),
            "{args:?}: {stderr}"
        );
    }
}
