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
fn threads_out_of_range_names_its_key_and_the_range() {
    check_says(
        "threads = 0\n[program.a]\ncommand = \"x\"\n",
        "CONFIG:1:11: threads: 0 is outside 1..=1024",
    );
    check_says(
        "threads = \"two\"\n[program.a]\ncommand = \"x\"\n",
        "CONFIG:1:11: threads: expected a whole number, found string \"two\"",
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

/// `logmux check` on `text` with only `PATH` set: every message, sorted.
fn check_all(text: &str) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write config");
    let path_text = path.display().to_string();
    let out = common::logmux()
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TZ", "UTC")
        .args(["check", "--config", &path_text])
        .output()
        .expect("run logmux check");
    // Sorted as text: "CONFIG:10:…" comes before "CONFIG:2:…".
    let mut messages: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v["message"]
                .as_str()
                .map(|m| m.replace(&path_text, "CONFIG"))
        })
        .collect();
    messages.sort();
    (out.status.code(), messages)
}

#[test]
fn check_reports_every_missing_variable_at_once() {
    let (code, messages) = check_all(concat!(
        "[env]\nrequired = [\"A\", \"B\"]\n",
        "[program.a]\ncommand = \"true ${C:?}\"\ndirectory = \"${D:?}\"\n",
        "[program.b]\ncommand = \"${E}\"\n",
    ));
    assert_eq!(code, Some(78));
    assert_eq!(
        messages,
        [
            "CONFIG:2:13: env.required: environment variable A is required but not set",
            "CONFIG:2:18: env.required: environment variable B is required but not set",
            "CONFIG:4:11: program.a.command: environment variable C is required: not set or empty",
            "CONFIG:5:13: program.a.directory: environment variable D is required: not set or empty",
            "CONFIG:7:11: program.b.command: environment variable E is not set",
        ]
    );
}

#[test]
fn check_catches_what_run_would_fail_on_after_its_backoff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let (code, messages) = check_all(&format!(
        concat!(
            "[program.missing]\ncommand = \"no-such-program-xyz --flag\"\n",
            "[program.dir]\ncommand = \"{d}\"\n",
            "[program.user]\ncommand = \"true\"\nuser = \"nosuchuser\"\n",
            "[program.cwd]\ncommand = \"true\"\ndirectory = \"/nonexistent\"\n",
            "[program.nul]\ncommand = [\"true\", \"a\\u0000b\"]\n",
            "[program.fine]\ncommand = \"true\"\ndirectory = \"/\"\n",
        ),
        d = d
    ));
    assert_eq!(code, Some(78), "{messages:?}");
    let here = "(checked on this machine; `logmux run` elsewhere may differ)";
    assert_eq!(
        messages,
        [
            format!("CONFIG:10:1: program.cwd.directory: `/nonexistent`: No such file or directory (os error 2) {here}"),
            "CONFIG:12:1: program.nul.command: \"a\\0b\" holds a NUL byte, which no command or argument can pass to a program".to_string(),
            format!("CONFIG:2:1: program.missing.command: `no-such-program-xyz` is not an executable file in any PATH directory (/usr/bin:/bin) {here}"),
            format!("CONFIG:4:1: program.dir.command: `{d}` is a directory, not a program {here}"),
            format!("CONFIG:7:1: program.user.user: user `nosuchuser` does not exist {here}"),
        ]
    );
}

#[test]
fn filter_and_listen_config_errors_name_their_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.toml");
    let path_text = path.display().to_string();
    let said = |args: &[&str]| {
        let out = run(args, b"x\n");
        assert_eq!(out.status.code(), Some(78));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let first = stderr.lines().next().unwrap_or("").to_string();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
        v["message"]
            .as_str()
            .unwrap_or("")
            .replace(&path_text, "CONFIG")
    };
    std::fs::write(&path, "keys = 5\n").expect("write");
    assert_eq!(
        said(&["filter", "--config", &path_text]),
        "CONFIG:1:8: keys: expected one of this key's words, as a quoted string"
    );
    std::fs::write(&path, "[sink.s]\ntype = \"file\"\npath = 5\n").expect("write");
    assert_eq!(
        said(&["listen", "--config", &path_text, "--udp", "127.0.0.1:0"]),
        "CONFIG:3:8: sink.s.path: expected a string, found integer 5"
    );
}

/// `uwsgi_log_format`, top level and per program: a format that cannot be
/// compiled names the file, line, column, key and the byte of the format.
#[test]
fn a_bad_uwsgi_log_format_names_the_key_and_the_byte() {
    check_says(
        "uwsgi_log_format = \"%(addr) [%(ctime)] %(status\"\n[program.a]\ncommand = \"x\"\n",
        "CONFIG:1:20: uwsgi_log_format: `%(` at byte 19 has no closing `)`",
    );
    check_says(
        "[program.app]\ncommand = \"uwsgi\"\nuwsgi_log_format = \"%(method)%(uri) %(status)\"\n",
        "CONFIG:3:20: program.app.uwsgi_log_format: `%(method)` (byte 0) is directly followed by \
         `%(uri)` (byte 9): with no literal text between them their values cannot be told apart",
    );
    let (code, message, stderr) = check(
        "c.toml",
        b"uwsgi_log_format = \"%(addr) %(status) id=%(var.HTTP_X_REQUEST_ID)\"\n[program.a]\ncommand = \"true\"\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(message, "", "{stderr}");
}
