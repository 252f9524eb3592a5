//! An exception's message over several lines, and Python 3.11's
//! `add_note()` notes, stay with the traceback when they come in the same
//! burst as its exception line, under `logmux run` and through `logmux
//! filter` from a pipe: real Python output (tests/writers/exceptions.py).
//! And the program's next line is never swallowed: not after a pause, and
//! not when it comes in the same burst but starts a line of its own (a
//! logging line); then the message's later lines are handed back as lines
//! of their own.

mod common;

use std::process::{Command, Stdio};

use serde_json::Value;

const WRITER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/writers/exceptions.py");

/// The program's events from `logmux run -- python3 exceptions.py MODE`
/// (both streams go to stderr as JSON), and logmux's exit code.
fn under_run(mode: &str) -> (Vec<Value>, Option<i32>) {
    let out = common::logmux()
        .args(["run", "--log-format", "json", "--", "python3", WRITER, mode])
        .stdin(Stdio::null())
        .output()
        .expect("run logmux run");
    let mut all = common::json_lines(&out.stdout);
    all.extend(common::json_lines(&out.stderr));
    let program = all
        .into_iter()
        .filter(|e| e["service"]["name"] != "logmux")
        .collect();
    (program, out.status.code())
}

/// The events of `python3 exceptions.py MODE 2>&1 | logmux filter`.
fn through_filter(mode: &str) -> Vec<Value> {
    let mut python = Command::new("python3")
        .args([WRITER, mode])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let pipe = python.stderr.take().expect("python3's stderr");
    let out = common::logmux()
        .args(["filter", "--output", "json"])
        .stdin(Stdio::from(pipe))
        .output()
        .expect("run logmux filter");
    let _ = python.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_lines(&out.stdout)
}

/// (format, message) of each event.
fn shapes(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or("<none>").to_string();
            (s(&e["logmux"]["format"]), s(&e["message"]))
        })
        .collect()
}

fn traceback(frame: &str, message: &str) -> String {
    format!(
        "Traceback (most recent call last):\n  File \"{WRITER}\", line {frame}\nValueError: {message}"
    )
}

fn pair(format: &str, message: &str) -> (String, String) {
    (format.to_string(), message.to_string())
}

fn check_joined(door: &str, events: &[Value], frames: &str, after: &[(String, String)]) {
    let whole = "line one\nline two\nnote a";
    let mut want = vec![pair("python.traceback", &traceback(frames, whole))];
    want.extend_from_slice(after);
    assert_eq!(shapes(events), want, "{door}");
    let tb = &events[0];
    assert_eq!(tb["exception"]["type"], "ValueError");
    assert_eq!(tb["exception"]["message"], whole);
    assert_eq!(tb["severity_number"], 17);
}

const HOOK_FRAMES: &str =
    "37, in <module>\n    fail()\n  File \"@W@\", line 28, in fail\n    raise e";
const LOG_FRAMES: &str =
    "41, in <module>\n    fail()\n  File \"@W@\", line 28, in fail\n    raise e";

fn frames(f: &str) -> String {
    f.replace("@W@", WRITER)
}

#[test]
fn the_default_excepthook_keeps_message_and_note_together() {
    let (events, code) = under_run("hook");
    assert_eq!(code, Some(1));
    check_joined("run", &events, &frames(HOOK_FRAMES), &[]);
    check_joined("filter", &through_filter("hook"), &frames(HOOK_FRAMES), &[]);
}

#[test]
fn logging_exception_then_a_pause_keeps_them_and_the_next_line_apart() {
    let after = [pair("text", "app goes on")];
    let (events, code) = under_run("log-pause");
    assert_eq!(code, Some(0));
    assert_eq!(shapes(&events[..1]), [pair("text", "ERROR:root:failed")]);
    check_joined("run", &events[1..], &frames(LOG_FRAMES), &after);
    let events = through_filter("log-pause");
    assert_eq!(shapes(&events[..1]), [pair("text", "ERROR:root:failed")]);
    check_joined("filter", &events[1..], &frames(LOG_FRAMES), &after);
}

#[test]
fn a_logging_line_in_the_same_burst_is_never_swallowed() {
    let want = [
        pair("text", "ERROR:root:failed"),
        pair(
            "python.traceback",
            &traceback(&frames(LOG_FRAMES), "line one"),
        ),
        pair("text", "line two"),
        pair("text", "note a"),
        pair("text", "INFO:root:next"),
    ];
    let (events, code) = under_run("log-burst");
    assert_eq!(code, Some(0));
    assert_eq!(shapes(&events), want);
    assert_eq!(events[1]["exception"]["message"], "line one");
    let events = through_filter("log-burst");
    assert_eq!(shapes(&events), want);
    assert_eq!(events[1]["exception"]["message"], "line one");
    assert_eq!(events[4]["severity_text"], "INFO");
}
