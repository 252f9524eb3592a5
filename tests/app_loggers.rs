//! Application JSON from the real loggers Debian ships, through `logmux
//! filter` (stdin, a pipe): Go's zap, logrus and x/exp/slog, Node's bunyan
//! and winston (tests/loggers/). Each event's message, level, time, logger
//! name, trace context and error come out in the envelope; the logger's
//! other keys stay beside them. pino is not packaged for Debian (and npm is
//! not reachable here), so it is tested on documented lines only
//! (parsers/src/json.rs).

mod common;
#[path = "support/go.rs"]
mod go;

use std::path::Path;
use std::process::Command;

use chrono::DateTime;
use serde_json::Value;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

/// Runs `program` and filters what it wrote (stdout, then stderr); also
/// returns its pid.
fn filtered(program: &mut Command) -> (Vec<Value>, u32) {
    let child = program
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the logger");
    let pid = child.id();
    let out = child.wait_with_output().expect("the logger's output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    let events = common::filter_json(&[], &text);
    for e in &events {
        assert_eq!(e["logmux"]["format"], "json", "{e}");
    }
    (events, pid)
}

/// The line as the logger wrote it (kept in `log.record.original`).
fn original(e: &Value) -> Value {
    let raw = e["log"]["record"]["original"]
        .as_str()
        .expect("the raw line");
    serde_json::from_str(raw).expect("the logger wrote JSON")
}

/// The event's time, in microseconds since the epoch.
fn micros(e: &Value) -> i64 {
    let ts = e["timestamp"].as_str().expect("timestamp");
    DateTime::parse_from_rfc3339(ts)
        .expect("RFC 3339")
        .timestamp_micros()
}

/// Asserts message, level word and number, and that the time is the
/// logger's own (`time_key`, an RFC 3339 string) to the microsecond.
fn envelope(e: &Value, message: &str, word: &str, number: u64, time_key: &str) {
    assert_eq!(e["message"], message, "{e}");
    assert_eq!(e["severity_text"], word, "{e}");
    assert_eq!(e["severity_number"], number, "{e}");
    if let Some(own) = original(e)[time_key].as_str() {
        let own = DateTime::parse_from_rfc3339(own).expect("the logger's time");
        assert_eq!(micros(e), own.timestamp_micros(), "{e}");
    }
}

fn built(source: &str, name: &str, needs: &str, test: &str) -> Option<std::path::PathBuf> {
    let bin = go::build(source, name, needs);
    if bin.is_none() {
        common::skip_or_fail(
            test,
            "no Go or no Go library (tests/run-all.sh installs golang-go, \
             golang-go.uber-zap-dev, golang-github-sirupsen-logrus-dev, golang-golang-x-exp-dev)",
        );
    }
    bin
}

#[test]
fn zap_production_json() {
    let Some(bin) = built(
        "tests/loggers/zap.go",
        "zap",
        "go.uber.org/zap",
        "zap_production_json",
    ) else {
        return;
    };
    let (ev, _) = filtered(&mut Command::new(bin));
    assert_eq!(ev.len(), 3, "{ev:#?}");
    for e in &ev {
        // `ts` is float seconds since the epoch.
        let ts = original(e)["ts"].as_f64().expect("zap's ts");
        assert!((micros(e) - (ts * 1e6).round() as i64).abs() <= 1, "{e}");
        assert!(
            e["caller"]
                .as_str()
                .is_some_and(|c| c.starts_with("loggers/zap.go:")),
            "{e}"
        );
    }
    envelope(&ev[0], "user login", "info", 9, "");
    assert_eq!(ev[0]["log"]["logger"], "shop");
    assert_eq!(
        (ev[0]["trace_id"].as_str(), ev[0]["span_id"].as_str()),
        (Some(TRACE), Some(SPAN))
    );
    assert_eq!(ev[0]["user_id"], 5);
    envelope(&ev[1], "slow request", "warn", 13, "");
    assert_eq!(ev[1]["took"], 1.5);
    envelope(&ev[2], "save failed", "error", 17, "");
    assert_eq!(ev[2]["exception"]["message"], "disk full");
    let stack = ev[2]["exception"]["stacktrace"]
        .as_str()
        .expect("zap's stacktrace");
    assert!(stack.starts_with("main.main\n\t"), "{stack}");
    assert!(
        ev[2].get("stacktrace").is_none() && ev[2].get("error").is_none(),
        "{}",
        ev[2]
    );
}

#[test]
fn logrus_json_formatter() {
    let Some(bin) = built(
        "tests/loggers/logrus.go",
        "logrus",
        "github.com/sirupsen/logrus",
        "logrus_json_formatter",
    ) else {
        return;
    };
    let (ev, _) = filtered(&mut Command::new(bin));
    assert_eq!(ev.len(), 3, "{ev:#?}");
    envelope(&ev[0], "user login", "info", 9, "time");
    assert_eq!(ev[0]["trace_id"], TRACE);
    assert_eq!(ev[0]["user_id"], 5);
    envelope(&ev[1], "slow request", "warning", 13, "time");
    envelope(&ev[2], "save failed", "error", 17, "time");
    assert_eq!(ev[2]["log"]["logger"], "shop");
    assert_eq!(ev[2]["exception"]["message"], "disk full");
    for e in &ev {
        assert!(
            e.get("msg").is_none() && e.get("level").is_none() && e.get("time").is_none(),
            "{e}"
        );
    }
}

#[test]
fn x_exp_slog_json_handler() {
    let Some(bin) = built(
        "tests/loggers/slog.go",
        "slog",
        "golang.org/x/exp/slog",
        "x_exp_slog_json_handler",
    ) else {
        return;
    };
    let (ev, _) = filtered(&mut Command::new(bin));
    assert_eq!(ev.len(), 3, "{ev:#?}");
    envelope(&ev[0], "user login", "INFO", 9, "time");
    assert_eq!(ev[0]["trace_id"], TRACE);
    assert_eq!(ev[0]["user_id"], 5);
    // Nanoseconds kept: the same instant as slog wrote it, to the
    // nanosecond (Go trims a fraction's trailing zeros; logmux writes it in
    // groups of three digits, so the text may differ).
    let nanos = |t: &Value| {
        DateTime::parse_from_rfc3339(t.as_str().expect("a time"))
            .expect("RFC 3339")
            .timestamp_nanos_opt()
    };
    assert_eq!(nanos(&ev[0]["timestamp"]), nanos(&original(&ev[0])["time"]));
    envelope(&ev[1], "slow request", "WARN", 13, "time");
    envelope(&ev[2], "save failed", "ERROR", 17, "time");
    assert_eq!(ev[2]["exception"]["message"], "file does not exist");
}

/// `node` with Debian's packaged modules; `None` (skipped) without them.
fn node(script: &str, module: &str, test: &str) -> Option<Command> {
    let modules = Path::new("/usr/share/nodejs");
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_node || !modules.join(module).exists() {
        common::skip_or_fail(
            test,
            &format!("no node or no node-{module} (tests/run-all.sh installs it)"),
        );
        return None;
    }
    let mut cmd = Command::new("node");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .env("NODE_PATH", modules);
    Some(cmd)
}

#[test]
fn bunyan_records() {
    let Some(mut cmd) = node("tests/loggers/bunyan.js", "bunyan", "bunyan_records") else {
        return;
    };
    let (ev, pid) = filtered(&mut cmd);
    assert_eq!(ev.len(), 3, "{ev:#?}");
    envelope(&ev[0], "user login", "info", 9, "time");
    envelope(&ev[1], "slow request", "warn", 13, "time");
    envelope(&ev[2], "save failed", "error", 17, "time");
    for e in &ev {
        assert_eq!(e["log"]["logger"], "shop");
        assert_eq!(e["process"]["pid"], pid, "{e}");
        assert_eq!(e["host"]["name"], original(e)["hostname"]);
        for consumed in ["name", "hostname", "pid", "v", "level", "msg", "time"] {
            assert!(e.get(consumed).is_none(), "{consumed}: {e}");
        }
    }
    assert_eq!(
        (ev[0]["trace_id"].as_str(), ev[0]["span_id"].as_str()),
        (Some(TRACE), Some(SPAN))
    );
    assert_eq!(ev[0]["user_id"], 5);
    let err = &ev[2]["exception"];
    assert_eq!(
        (err["type"].as_str(), err["message"].as_str()),
        (Some("Error"), Some("disk full"))
    );
    let stack = err["stacktrace"].as_str().expect("the stack");
    assert!(stack.starts_with("Error: disk full\n    at "), "{stack}");
    assert!(ev[2].get("err").is_none(), "{}", ev[2]);
}

#[test]
fn winston_json_format() {
    let Some(mut cmd) = node("tests/loggers/winston.js", "winston", "winston_json_format") else {
        return;
    };
    let (ev, _) = filtered(&mut cmd);
    assert_eq!(ev.len(), 3, "{ev:#?}");
    envelope(&ev[0], "user login", "info", 9, "timestamp");
    assert_eq!(ev[0]["trace_id"], TRACE);
    assert_eq!(ev[0]["user_id"], 5);
    envelope(&ev[1], "slow request", "warn", 13, "timestamp");
    envelope(&ev[2], "save failed", "error", 17, "timestamp");
    for e in &ev {
        // winston's defaultMeta `service` is a string where logmux has the
        // `service` object: moved aside under `app`.
        assert_eq!(e["app"]["service"], "shop", "{e}");
        assert_eq!(e.get("service"), None, "{e}");
    }
}

/// A writer into a shared buffer, for tracing-subscriber.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Rust's tracing-subscriber JSON formatter (logmux's own dependency; its
/// own diagnostics are written by src/diag.rs in logmux's schema instead):
/// the message is `fields.message`, the logger `target`.
#[test]
fn rust_tracing_subscriber_json() {
    let buf = Shared::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", path = "/x");
        let _entered = span.enter();
        tracing::info!(user_id = 5, "user login");
        tracing::warn!(target: "shop::cache", "slow request");
        tracing::error!(error = "disk full", "save failed");
    });
    let text = buf.0.lock().expect("buffer").clone();
    let ev = common::filter_json(&[], &text);
    assert_eq!(ev.len(), 3, "{ev:#?}");
    envelope(&ev[0], "user login", "INFO", 9, "timestamp");
    assert_eq!(ev[0]["log"]["logger"], "app_loggers");
    assert_eq!(ev[0]["fields"]["user_id"], 5);
    assert_eq!(ev[0]["span"]["name"], "request");
    envelope(&ev[1], "slow request", "WARN", 13, "timestamp");
    assert_eq!(ev[1]["log"]["logger"], "shop::cache");
    envelope(&ev[2], "save failed", "ERROR", 17, "timestamp");
}
