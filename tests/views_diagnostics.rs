//! logmux's own diagnostics: a sentence when stderr is a terminal (a real
//! pty, from util-linux's `script`), a JSON event otherwise, and
//! `--log-format json|text` (or LOGMUX_LOG_FORMAT) to choose.

mod common;

use std::process::Command;

const MISSING: &str = "/nonexistent/views/x.log";

/// Runs `logmux ARGS` with stdout and stderr on a pty; what the terminal showed.
fn on_a_terminal(args: &str) -> Option<String> {
    if !std::path::Path::new("/usr/bin/script").exists() {
        common::skip_or_fail("on_a_terminal", "no script(1) (util-linux)");
        return None;
    }
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_logmux"));
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env_remove("LOGMUX_LOG_FORMAT")
        .output()
        .expect("run script");
    assert_eq!(out.status.code(), Some(66), "filter of a missing file");
    Some(String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"))
}

#[test]
fn a_terminal_gets_a_sentence() {
    let Some(shown) = on_a_terminal(&format!("filter {MISSING}")) else {
        return;
    };
    assert_eq!(
        shown,
        format!(
            "logmux: error: cannot open input {MISSING}: No such file or directory (os error 2) \
             file={MISSING} error=\"No such file or directory (os error 2)\"\n"
        )
    );
}

#[test]
fn a_terminal_gets_json_when_asked() {
    let Some(shown) = on_a_terminal(&format!("--log-format json filter {MISSING}")) else {
        return;
    };
    let event: serde_json::Value = serde_json::from_str(shown.trim()).expect("one JSON event");
    assert_eq!(event["service"]["name"], "logmux");
    assert_eq!(event["severity_text"], "ERROR");
    assert_eq!(event["logmux"]["file"], MISSING);
}

#[test]
fn a_pipe_gets_json_unless_text_is_asked() {
    let out = common::run(&["filter", MISSING], b"");
    assert_eq!(out.status.code(), Some(66));
    let event: serde_json::Value = serde_json::from_slice(&out.stderr).expect("one JSON event");
    assert_eq!(
        event["message"],
        format!("cannot open input {MISSING}: No such file or directory (os error 2)")
    );

    for (flag, env) in [(Some("--log-format=text"), None), (None, Some("text"))] {
        let mut cmd = common::logmux();
        cmd.args(flag).args(["filter", MISSING]);
        if let Some(value) = env {
            cmd.env("LOGMUX_LOG_FORMAT", value);
        }
        let out = cmd.output().expect("run logmux");
        assert_eq!(out.status.code(), Some(66));
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.starts_with(&format!("logmux: error: cannot open input {MISSING}: ")),
            "{text}"
        );
    }
}
