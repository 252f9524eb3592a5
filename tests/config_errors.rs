//! Config errors through the real binary (issue 14, items 13 to 15): each
//! names the file, line, column and key and says what was expected, in
//! words; each exits with its documented code (78, EX_CONFIG).

mod common;

use common::run;

/// Writes `text` as a config file and runs `logmux check` on it: its exit
/// code and stderr's first message.
fn check(name: &str, text: &[u8]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    let path_text = path.display().to_string();
    let out = run(&["check", "--config", &path_text], b"");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let message = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["message"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n");
    (
        out.status.code(),
        message.replace(&path_text, "CONFIG"),
        stderr,
    )
}

#[test]
fn a_non_utf8_config_exits_78_naming_the_place() {
    let (code, message, stderr) = check("c.toml", b"[program.a]\ncommand = \"caf\xe9\"\n");
    assert_eq!(code, Some(78), "{stderr}");
    assert_eq!(
        message,
        "CONFIG:2:15: the file is not UTF-8 text (byte 0xE9); save it as UTF-8"
    );
}
