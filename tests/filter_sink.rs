//! `logmux filter --sink NAME`: the events go to a `[sink.NAME]` of the
//! config (here a file sink with rotation) instead of stdout, through the
//! same sink layer as `logmux run`.

mod common;

use common::{json_lines, logmux, run};
use std::io::Write;
use std::process::Stdio;

/// Ten lines of the same length: every event encodes to the same size.
fn ten_lines() -> String {
    (0..10).map(|i| format!("line-{i:02}\n")).collect()
}

fn messages(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    json_lines(&bytes)
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_file_sink_gets_every_event_rotated_between_events() {
    // One event's size, as stdout gets it.
    let one = run(&["filter", "--output", "json"], b"line-00\n");
    assert!(one.status.success());
    let size = one.stdout.len();
    assert!(size > 100, "{}", String::from_utf8_lossy(&one.stdout));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs/filtered.jsonl");
    let config = dir.path().join("logmux.toml");
    // Room for three events a file, not four.
    std::fs::write(
        &config,
        format!(
            "[sink.archive]\ntype = \"file\"\npath = \"{}\"\nmax_size = {}\nmax_files = 2\n",
            out.display(),
            size * 3 + size / 2
        ),
    )
    .unwrap();
    let mut child = logmux()
        .args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "archive", "--stats"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ten_lines().as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(done.stdout.is_empty(), "nothing goes to stdout");
    let stats = json_lines(&done.stderr);
    assert_eq!(stats.len(), 1, "{stderr}");
    assert_eq!(stats[0]["logmux"]["events"], 10);

    // Ten events, three a file, two rotated files kept: 0-2 are gone.
    let rotated = |n: u32| dir.path().join(format!("logs/filtered.jsonl.{n}"));
    assert_eq!(messages(&out), ["line-09"]);
    assert_eq!(messages(&rotated(1)), ["line-06", "line-07", "line-08"]);
    assert_eq!(messages(&rotated(2)), ["line-03", "line-04", "line-05"]);
    assert!(!rotated(3).exists());
    for path in [out, rotated(1), rotated(2)] {
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(
            len <= size * 3 + size / 2,
            "{} is {len} bytes",
            path.display()
        );
    }
}

#[test]
fn an_unknown_sink_is_a_config_error() {
    let out = run(&["filter", "--sink", "archive"], b"x\n");
    assert_eq!(out.status.code(), Some(78));
    assert!(out.stdout.is_empty());
    let errors = json_lines(&out.stderr);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0]["message"],
        "--sink archive: no such sink; expected one of stdout, stderr, null, syslog (define it as [sink.archive] in --config)"
    );
}
