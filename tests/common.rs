//! Helpers shared by the integration tests: run the real `logmux` binary.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

// schema_fields.rs also loads it through support/listen.rs.
#[allow(clippy::duplicate_mod)]
#[path = "support/skip.rs"]
mod skip;
#[allow(unused_imports)] // not every test skips
pub use skip::{ci, skip_or_fail, strict};

/// Of root and the files in `paths`, what this machine lacks (for a skip's
/// reason; empty when a test needing them can run).
pub fn lacking(paths: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        out.push("root".to_string());
    }
    let absent = paths.iter().filter(|p| !std::path::Path::new(p).exists());
    out.extend(absent.map(|p| p.to_string()));
    out
}

/// The programs of the live stack tests (tests/run-all.sh installs them).
pub const STACK: &[&str] = &[
    "/usr/sbin/nginx",
    "/usr/bin/uwsgi",
    "/usr/lib/uwsgi/plugins/python3_plugin.so",
    "/usr/lib/python3/dist-packages/django",
    "/usr/bin/ss",
];

/// The binary under test.
pub fn logmux() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.env("TZ", "UTC").env_remove("NO_COLOR");
    cmd
}

/// Runs `logmux ARGS` with `input` on stdin.
pub fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = logmux()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logmux");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait logmux");
    writer.join().expect("writer thread");
    out
}

/// Runs `logmux filter ARGS` on `input` and parses every output line as JSON.
pub fn filter_json(args: &[&str], input: &[u8]) -> Vec<serde_json::Value> {
    let mut all = vec!["filter", "--output", "json"];
    all.extend_from_slice(args);
    let out = run(&all, input);
    assert!(
        out.status.success(),
        "logmux failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

/// Parses JSON lines, failing on any line that is not a JSON object.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

/// The status of a raw nginx access line: the first token after the
/// quoted request (-1 when there is none).
pub fn access_status(line: &str) -> i64 {
    line.split('"')
        .nth(2)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

/// Each event line with its read time (every occurrence: `timestamp` may
/// fall back to it) as `<observed>`; otherwise the bytes as they came.
pub fn without_read_time(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            match event["observed_timestamp"].as_str() {
                Some(t) => line.replace(t, "<observed>"),
                None => line.to_string(),
            }
        })
        .collect()
}

/// `filter --output json --stats --threads N`: compared with `--threads 1`.
pub fn filter_stats_args(threads: &str) -> [&str; 6] {
    [
        "filter",
        "--output",
        "json",
        "--stats",
        "--threads",
        threads,
    ]
}

/// The counts of `filter --stats`'s event on stderr.
pub fn stats_counts(stderr: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.contains("filter done"))
        .unwrap_or_else(|| panic!("no stats event: {text}"));
    let mut event: serde_json::Value = serde_json::from_str(line).expect("stats JSON");
    event["logmux"].take()
}
