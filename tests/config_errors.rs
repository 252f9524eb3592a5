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

/// `logmux check` on a TOML config: exit 78 and exactly `want`.
fn check_says(text: &str, want: &str) {
    let (code, message, stderr) = check("c.toml", text.as_bytes());
    assert_eq!(code, Some(78), "{stderr}");
    assert_eq!(message, want);
}

#[test]
fn a_command_of_the_wrong_type_says_what_a_command_is() {
    check_says(
        "[program.a]\ncommand = 5\n",
        "CONFIG:2:11: program.a.command: expected a command: a string (`\"gunicorn app:wsgi\"`) or an array of strings (`[\"gunicorn\", \"app:wsgi\"]`)",
    );
}

#[test]
fn a_number_too_large_names_its_key_and_the_limit() {
    check_says(
        "[program.a]\ncommand = \"x\"\nstartsecs = 99999999999999999999\n",
        "CONFIG:3:13: program.a.startsecs: the number is too large: TOML integers stop at 9223372036854775807",
    );
    check_says(
        "[program.a]\ncommand = \"x\"\nstartretries = -1\n",
        "CONFIG:3:16: program.a.startretries: expected a whole number, 0 or more, found integer -1",
    );
}

#[test]
fn a_duplicate_table_or_key_is_named() {
    check_says(
        "[program.a]\ncommand = \"x\"\n[program.a]\ncommand = \"y\"\n",
        "CONFIG:3:1: program.a: the table [program.a] appears twice; write each table once and put all its keys there",
    );
    check_says(
        "[program.a]\ncommand = \"x\"\ncommand = \"y\"\n",
        "CONFIG:3:1: program.a.command: `command` is set twice; set each key once",
    );
}

#[test]
fn a_syntax_error_names_the_table_not_an_empty_key() {
    check_says(
        "[program.a]\ncommand = \"x\"\n: = 1\n",
        "CONFIG:3:1: program.a: expected a key before `=`: letters, digits, `_` and `-`, or a quoted string",
    );
    check_says(
        "[program.a]\ncommand = \n",
        "CONFIG:2:11: program.a.command: expected a value after `=`: a quoted string, a number, true or false, or an array",
    );
    check_says(
        "[program.a]\ncommand = \"x\"\nautorestart = 5\n",
        "CONFIG:3:15: program.a.autorestart: expected a string, found integer 5",
    );
}
