//! `/metrics` and `/healthz` of the live stack, read by a real Prometheus
//! (Debian's `prometheus`, scraping every second) and checked by
//! `promtool check metrics`. Included in tests/run_stack.rs, whose
//! helpers start the stack.

use super::*;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
/// 7 × 200, 3 × 404, 2 × 500, in that order.
const METRICS_TRAFFIC: [(&str, u16, usize); 3] =
    [("/", 200, 7), ("/nope/", 404, 3), ("/boom/", 500, 2)];

/// One HTTP/1.0 GET to 127.0.0.1:`port`: the status and the body.
fn fetch(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status in {head:?}"));
    (code, body.to_string())
}

/// Percent-encodes a PromQL query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping 127.0.0.1:`target` every second.
    fn start(dir: &Path, target: u16) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: logmux\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .expect("prometheus.yml");
        let port = free_port();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, port };
        poll("Prometheus ready", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok() && fetch(port, "/-/ready").0 == 200
        });
        p
    }

    /// `query`'s result: each series' labels (as `k=v,…`) and value.
    fn query(&self, query: &str) -> BTreeMap<String, f64> {
        let (code, body) = fetch(self.port, &format!("/api/v1/query?query={}", encode(query)));
        assert_eq!(code, 200, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).expect("Prometheus answers JSON");
        let mut out = BTreeMap::new();
        for r in v["data"]["result"].as_array().into_iter().flatten() {
            let labels = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let value = r["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            out.insert(labels, value);
        }
        out
    }
}

/// Polls `ready` every 100 ms, failing after a generous minute.
fn poll(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "no {what} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls until `query` answers exactly `want`; fails with the last answer.
fn until_exactly(p: &Prometheus, query: &str, want: &[(&str, f64)]) {
    let want: BTreeMap<String, f64> = want.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = p.query(query);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: {got:?}, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ctl(socket: &Path, args: &[&str]) -> std::process::Output {
    common::logmux()
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("logmux ctl")
}

#[test]
fn prometheus_counts_every_request_and_healthz_follows_the_programs() {
    if !live("prometheus_counts_every_request_and_healthz_follows_the_programs") {
        return;
    }
    if !std::path::Path::new(PROMETHEUS).exists() || !std::path::Path::new(PROMTOOL).exists() {
        common::skip_or_fail(
            "prometheus_counts_every_request…",
            "needs prometheus and promtool",
        );
        return;
    }
    let dir = stack_dir();
    let metrics_port = free_port();
    let listen = format!("127.0.0.1:{metrics_port}");
    let (run, port) = start_stack(&dir, "logmux.toml", &[("LOGMUX_METRICS_LISTEN", &listen)]);
    let prom = Prometheus::start(dir.path(), metrics_port);
    for (path, status, times) in METRICS_TRAFFIC {
        for _ in 0..times {
            assert_eq!(http_get(port, path), status, "GET {path}");
        }
    }
    let by_class = [
        ("service=nginx,status_class=2xx", 7.0),
        ("service=nginx,status_class=4xx", 3.0),
        ("service=nginx,status_class=5xx", 2.0),
        ("service=uwsgi,status_class=2xx", 7.0),
        ("service=uwsgi,status_class=4xx", 3.0),
        ("service=uwsgi,status_class=5xx", 2.0),
    ];
    until_exactly(
        &prom,
        "sum by (service, status_class) (http_server_requests_total)",
        &by_class,
    );
    until_exactly(
        &prom,
        "sum by (service, type) (exceptions_total)",
        &[(&format!("service=uwsgi,type={BOOM_EXCEPTION}") as &str, 2.0)],
    );
    // nginx's combined format has no $request_time; uWSGI's line has msecs.
    until_exactly(
        &prom,
        "sum(http_server_request_duration_seconds_count{service=\"uwsgi\"})",
        &[("", 12.0)],
    );
    until_exactly(
        &prom,
        "sum(http_server_response_body_size_bytes_count{service=\"nginx\"})",
        &[("", 12.0)],
    );
    until_exactly(
        &prom,
        "sum by (program) (logmux_program_up)",
        &[("program=nginx", 1.0), ("program=uwsgi", 1.0)],
    );

    // promtool accepts the exposition as logmux serves it.
    let (code, text) = fetch(metrics_port, "/metrics");
    assert_eq!(code, 200);
    let mut promtool = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("to promtool");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // The control socket answers the same families.
    let socket = dir.path().join("ctl.sock");
    let over_ctl = ctl(&socket, &["metrics"]);
    assert!(over_ctl.status.success());
    let over_ctl = String::from_utf8_lossy(&over_ctl.stdout);
    assert!(
        over_ctl.contains(
            "http_server_requests_total{service=\"nginx\",method=\"GET\",status_class=\"2xx\"} 7\n"
        ),
        "{over_ctl}"
    );

    // /healthz: 200, then 503 while uWSGI is stopped, then 200 again.
    assert_eq!(
        fetch(metrics_port, "/healthz"),
        (200, "{\"status\":\"ok\"}\n".to_string())
    );
    assert!(ctl(&socket, &["stop", "uwsgi"]).status.success());
    let mut last = (0, String::new());
    poll("503 from /healthz after `ctl stop uwsgi`", || {
        last = fetch(metrics_port, "/healthz");
        last.0 == 503
    });
    let body: Value = serde_json::from_str(&last.1).expect("JSON health");
    assert_eq!(body["status"], "unhealthy");
    // `stopping`, then `exited`: the state is named, the program is down.
    let reasons = body["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "{}", last.1);
    assert!(
        reasons[0]
            .as_str()
            .is_some_and(|r| r.starts_with("program uwsgi is down (")),
        "{}",
        last.1
    );
    // `ctl start` refuses a program still stopping: wait for its exit.
    poll("uWSGI exited", || {
        fetch(metrics_port, "/healthz")
            .1
            .contains("program uwsgi is down (exited)")
    });
    assert!(ctl(&socket, &["start", "uwsgi"]).status.success());
    poll("200 from /healthz after `ctl start uwsgi`", || {
        fetch(metrics_port, "/healthz").0 == 200
    });
    // The stop shows in the program families too: uWSGI's exit (0 on
    // SIGINT) and, by now, up again.
    until_exactly(
        &prom,
        "sum by (program) (logmux_program_exit_code)",
        &[("program=uwsgi", 0.0)],
    );
    until_exactly(
        &prom,
        "sum by (program) (logmux_program_up)",
        &[("program=nginx", 1.0), ("program=uwsgi", 1.0)],
    );
    drop(prom);
    drop(run);
}
