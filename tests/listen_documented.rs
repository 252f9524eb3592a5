//! Documented behaviour of `logmux listen` (docs/listen.md) that the other
//! listen tests do not reach: exit 73 when `--out-dir` cannot be created,
//! 74 when stdout cannot be written, and `--max-files 0`.

#[path = "support/listen.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn logmux() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmux"));
    cmd.env("TZ", "UTC").stdin(Stdio::null());
    cmd
}

/// A Docker-shaped RFC 5424 message of container `web-1`.
fn web_line(i: usize) -> Vec<u8> {
    format!("<30>1 2026-11-25T23:29:21.123456+00:00 dockerhost web-1 812 web-1 - web line {i:02}")
        .into_bytes()
}

#[test]
fn an_out_dir_that_cannot_be_created_exits_73() {
    // /dev/null is no directory: nothing can be created under it.
    let out = logmux()
        .args([
            "listen",
            "--udp",
            "127.0.0.1:0",
            "--out-dir",
            "/dev/null/logs",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(73));
    let own = complete_lines(&out.stderr);
    assert_eq!(own.len(), 1, "{own:#?}");
    assert_eq!(
        own[0]["message"],
        "cannot use --out-dir /dev/null/logs: Not a directory (os error 20)"
    );
    assert_eq!(own[0]["severity_text"], "ERROR");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_stdout_that_cannot_be_written_exits_74() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut child = logmux()
        .args(["listen", "--udp", "127.0.0.1:0"])
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let listening: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = listening["logmux"]["address"].as_str().unwrap();
    let addr = addr.strip_prefix("udp://").unwrap().parse().unwrap();
    send_udp(addr, &[&web_line(1)]);

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("logmux listen still runs with an unwritable stdout");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(74));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let own = complete_lines(rest.as_bytes());
    let failed: Vec<_> = own
        .iter()
        .filter(|e| {
            e["message"] == "cannot write the output: No space left on device (os error 28)"
        })
        .collect();
    assert_eq!(failed.len(), 1, "{own:#?}");
    assert_eq!(failed[0]["severity_text"], "ERROR");
}

#[test]
fn max_files_0_truncates_instead_of_rotating() {
    let l = start(&[
        "--udp",
        ":0",
        "--out-dir",
        "@DIR@/logs",
        "--max-file-size",
        "2KiB",
        "--max-files",
        "0",
    ]);
    let lines: Vec<Vec<u8>> = (0..30).map(web_line).collect();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    send_udp(l.udp(), &refs);
    let file = l.path("logs").join("web-1.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains("web line 29")) {
        assert!(Instant::now() < deadline, "web line 29 never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let logs = done.dir.path().join("logs");
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["web-1.jsonl"], "no rotated file is kept");
    let text = std::fs::read_to_string(logs.join("web-1.jsonl")).unwrap();
    assert!(text.len() <= 2048, "{} bytes", text.len());
    // What was written since the last truncation: the newest lines, whole.
    let kept: Vec<String> = complete_lines(text.as_bytes())
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (30 - kept.len()..30)
        .map(|i| format!("web line {i:02}"))
        .collect();
    assert_eq!(kept, want);
    // Every event has the same size, so a file holds `per_file` of them and
    // is truncated only when the next would not fit.
    let sizes: Vec<usize> = text.lines().map(|l| l.len() + 1).collect();
    assert!(sizes.iter().all(|&n| n == sizes[0]), "{sizes:?}");
    let per_file = 2048 / sizes[0];
    assert_eq!(kept.len(), (30 - 1) % per_file + 1, "{per_file} per file");
}
