//! `logmux filter` reading logmux's own events: what a `logmux run` of a
//! small child wrote (tests/filter_logmux_events.jsonl, with fixed times
//! and pids), bare (as `docker logs web 2>&1` shows it), behind a `docker
//! logs -t` time and behind a compose prefix. Each event comes out as the
//! same event (JSON), or readably with its own time, program, severity and
//! message (pretty); never as a `json` event wrapping it.

mod common;

use serde_json::Value;

/// What `logmux run -- sh -c CHILD` wrote, stdout's lines then stderr's,
/// where CHILD writes a plain line, an nginx access line, a JSON app line,
/// text with escapes, and a traceback on stderr: six events of `sh` and
/// four of logmux.
const RUN_OUTPUT: &str = include_str!("filter_logmux_events.jsonl");

fn run_output() -> Vec<String> {
    let lines: Vec<String> = RUN_OUTPUT.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 10);
    lines
}

fn input(lines: &[String], prefix: impl Fn(usize) -> String) -> Vec<u8> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{}{l}\n", prefix(i)))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn json_output_is_the_same_event() {
    let lines = run_output();
    let original: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Bare (`docker logs web 2>&1`) and behind `docker logs -t`'s time: the
    // event's own time wins, and nothing is added.
    for prefix in [(|_| String::new()) as fn(usize) -> String, |i| {
        format!("2026-11-26T10:00:{:02}.123456789Z ", i % 60)
    }] {
        let got = common::filter_json(&[], &input(&lines, prefix));
        assert_eq!(got.len(), original.len());
        for (g, o) in got.iter().zip(&original) {
            assert_eq!(g, o);
        }
    }
    // Typed fields stay typed: the nginx line's status is a number.
    let nginx = original
        .iter()
        .find(|e| e["logmux"]["format"] == "nginx.access")
        .unwrap();
    assert_eq!(nginx["http"]["response"]["status_code"], 500);
    let tb = original
        .iter()
        .find(|e| e["logmux"]["format"] == "python.traceback")
        .unwrap();
    assert_eq!(tb["exception"]["type"], "ZeroDivisionError");
}

#[test]
fn compose_prefix_adds_the_container() {
    let lines = run_output();
    let got = common::filter_json(&[], &input(&lines, |_| "web-1  | ".to_string()));
    assert_eq!(got.len(), lines.len());
    for (g, line) in got.iter().zip(&lines) {
        let mut want: Value = serde_json::from_str(line).unwrap();
        // The inner program wins over compose's service; the container is compose's.
        want["container"] = serde_json::json!({"name": "web-1"});
        assert_eq!(g, &want);
    }
}

#[test]
fn pretty_output_shows_time_program_severity_and_message() {
    let lines = run_output();
    let out = common::run(
        &["filter", "--output", "pretty", "--color", "never"],
        &input(&lines, |_| String::new()),
    );
    assert!(out.status.success());
    let shown: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // The event's own time in one zone (TZ=UTC), with its date: not today.
    // A traceback's stack follows it, indented.
    let want = [
        "2026-11-26 10:00:00.100 sh         INFO  hello from the child",
        "2026-11-25 19:39:25.000 sh         ERROR 500 GET /boom/ 127.0.0.1",
        r#"2026-11-26 10:00:02.102 sh         WARN  {"level":"warn","msg":"app json","n":3}"#,
        "2026-11-26 10:00:03.103 sh         INFO  tab here \"quoted\" café",
        "2026-11-26 10:00:04.104 logmux     INFO  spawned sh (pid 812)",
        "2026-11-26 10:00:05.105 logmux     INFO  sh exited: exit code 0",
        "2026-11-26 10:00:06.106 logmux     INFO  sh ended and its on_exit is shutdown: stopping all programs; logmux will exit with 0",
        "2026-11-26 10:00:07.107 sh         ERROR ZeroDivisionError: division by zero",
        "    Traceback (most recent call last):",
        "      File \"/app/x.py\", line 1, in <module>",
        "        1 / 0",
        "2026-11-26 10:00:08.108 sh         INFO  after the traceback",
        "2026-11-26 10:00:09.109 logmux     INFO  logmux exits with 0",
    ];
    assert_eq!(shown, want);
}

#[test]
fn a_line_that_only_looks_like_one_is_plain_json() {
    // No logmux.format: an app's JSON, parsed as json (its well-known keys
    // taken into the envelope) with the line kept.
    let line = r#"{"timestamp":"2026-11-26T10:00:00Z","severity_text":"WARN","message":"mine"}"#;
    let got = common::filter_json(&[], format!("{line}\n").as_bytes());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["logmux"]["format"], "json");
    assert_eq!(got[0]["message"], "mine");
    assert_eq!(got[0]["severity_text"], "WARN");
    assert_eq!(got[0]["log"]["record"]["original"], line);
    // A forced other format never merges.
    let run_event = r#"{"timestamp":"2026-11-26T10:00:00Z","severity_text":"INFO","message":"m","logmux":{"format":"text"}}"#;
    let got = common::filter_json(
        &["--format", "nginx.access"],
        format!("{run_event}\n").as_bytes(),
    );
    assert_eq!(got[0]["message"], run_event);
    assert_eq!(got[0]["logmux"]["parse_error"], true);
}
