//! One grammar for durations and sizes: a flag and the same key in a TOML
//! config accept the same values (`2h`, `1.5s`, `64MB`) and refuse the same
//! ones with the same words.

mod common;

#[path = "support/listen.rs"]
mod support;

use std::path::Path;

/// Runs `logmux check` on a config file of `text`; its exit code and stderr.
fn check(dir: &Path, text: &str) -> (i32, String) {
    let path = dir.join("logmux.toml");
    std::fs::write(&path, text).unwrap();
    let out = common::logmux()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

const PROGRAM: &str = "[program.a]\ncommand = \"true\"\nstdout = { sink = \"f\" }\n\n";

#[test]
fn toml_takes_hours_fractions_and_decimal_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        // A top-level key goes before the tables.
        "idle_flush = \"2h\"\nmax_line_bytes = \"64KB\"\n[program.a]\ncommand = \"true\"\n".to_string(),
        format!("{PROGRAM}[sink.f]\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\nmax_size = \"64MB\"\n"),
        format!("{PROGRAM}[sink.f]\ntype = \"stdout\"\n\n[program.b]\ncommand = \"true\"\nstartsecs = \"1.5s\"\n"),
    ] {
        let (code, stderr) = check(dir.path(), &text);
        assert_eq!(code, 0, "{text}: {stderr}");
    }
}

#[test]
fn flags_take_the_same_values() {
    // filter: --idle-flush 2h and --max-line-bytes 64KB, on a real input.
    let out = common::run(
        &[
            "filter",
            "--output",
            "json",
            "--idle-flush",
            "2h",
            "--max-line-bytes",
            "64KB",
        ],
        b"hello\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = common::json_lines(&out.stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "hello");

    // listen: --max-file-size 64MB and --idle-flush 1.5s start a listener.
    let l = support::start(&[
        "--udp",
        "127.0.0.1:0",
        "--out-dir",
        "@DIR@/out",
        "--max-file-size",
        "64MB",
        "--idle-flush",
        "1.5s",
    ]);
    let to = l.udp();
    support::send_udp(to, &[b"<30>Nov 25 23:29:21 web-1[812]: hello"]);
    let file = l.dir.path().join("out").join("web-1.jsonl");
    l.wait_until(20, "an event in web-1.jsonl", |_| {
        std::fs::read(&file).is_ok_and(|b| b.ends_with(b"\n"))
    });
    let stopped = l.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let text = std::fs::read_to_string(stopped.dir.path().join("out/web-1.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn a_bad_value_gets_the_same_words_in_both() {
    let out = common::run(&["filter", "--idle-flush", "2x"], b"");
    assert_eq!(out.status.code(), Some(2));
    let flag = String::from_utf8_lossy(&out.stderr).into_owned();
    let expected = "`2x`: unknown unit `x` (use ms, s, m, h or d)";
    assert!(flag.contains(expected), "{flag}");

    let dir = tempfile::tempdir().unwrap();
    let (code, toml) = check(
        dir.path(),
        "idle_flush = \"2x\"\n[program.a]\ncommand = \"true\"\n",
    );
    assert_eq!(code, 78);
    assert!(toml.contains("logmux.toml:1:14: idle_flush: "), "{toml}");
    assert!(toml.contains(expected), "{toml}");
}
