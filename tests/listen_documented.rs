//! Documented behaviour of `logmux listen` (docs/listen.md) that the other
//! listen tests do not reach: exit 73 when `--out-dir` cannot be created,
//! 74 when stdout cannot be written, and `--max-files 0`.

#[path = "support/listen.rs"]
mod support;

use std::process::{Command, Stdio};

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
    let test = "a_stdout_that_cannot_be_written_exits_74";
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return skip_or_fail(test, "no /dev/full here");
    };
    let mut l = start_with(&["--udp", "127.0.0.1:0"], |cmd| {
        cmd.stdout(full);
    });
    send_udp(l.udp(), &[&web_line(1)]);
    let status = l
        .process
        .wait_exit(20, "logmux listen with an unwritable stdout");
    assert_eq!(status.code(), Some(74));
    let own = l.own_events();
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
    l.wait_until(20, "web line 29 in web-1.jsonl", |_| {
        std::fs::read_to_string(&file).is_ok_and(|t| t.contains("web line 29"))
    });
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
