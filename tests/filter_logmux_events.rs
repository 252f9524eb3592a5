//! `logmux filter` reading logmux's own events: the output of a real
//! `logmux run` (as `docker logs web 2>&1` shows it), bare, behind a
//! `docker logs -t` time and behind a compose prefix. Each event comes out
//! as the same event (JSON), or readably with its own time, program,
//! severity and message (pretty); never as a `json` event wrapping it.

mod common;

use serde_json::Value;

/// What the child under `logmux run` writes: a plain line, an nginx access
/// line, a JSON app line, text with escapes, and a traceback on stderr.
const CHILD: &str = r#"printf 'hello from the child\n'
printf '127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "curl/7.88.1"\n'
printf '{"level":"warn","msg":"app json","n":3}\n'
printf 'tab\there "quoted" caf\303\251\n'
printf 'Traceback (most recent call last):\n  File "/app/x.py", line 1, in <module>\n    1 / 0\nZeroDivisionError: division by zero\n' >&2
printf 'after the traceback\n' >&2
"#;

/// The lines `logmux run -- sh -c CHILD` writes, stdout's then stderr's
/// (both are logmux events, one per line).
fn run_output() -> Vec<String> {
    let out = common::logmux()
        .args(["run", "--", "sh", "-c", CHILD])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.extend(
        String::from_utf8(out.stderr)
            .unwrap()
            .lines()
            .map(str::to_string),
    );
    // The child's six events and logmux's own (spawned, exited, exits...).
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["service"]["name"] == "sh")
            .count(),
        6,
        "{lines:#?}"
    );
    assert!(events.iter().any(|e| e["service"]["name"] == "logmux"));
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
    assert_eq!(shown.len(), lines.len());
    for (line, text) in lines.iter().zip(&shown) {
        let e: Value = serde_json::from_str(line).unwrap();
        // `HH:MM:SS.mmm` of the event's own time (TZ=UTC), padded to 12.
        let ts = e["timestamp"].as_str().unwrap();
        let time = &ts[11..];
        let end = time.find(['Z', '+', '-']).unwrap_or(time.len()).min(12);
        let clock = format!("{:<12}", &time[..end]);
        let program = e["service"]["name"].as_str().unwrap();
        let severity = e["severity_text"].as_str().unwrap();
        let gist = match e["logmux"]["format"].as_str().unwrap() {
            "nginx.access" => "500 GET /boom/ 127.0.0.1".to_string(),
            "python.traceback" => "ZeroDivisionError: division by zero".to_string(),
            _ => e["message"].as_str().unwrap().replace('\t', " "),
        };
        assert_eq!(
            text,
            &format!("{clock} {program:<10} {severity:<5} {gist}"),
            "{line}"
        );
    }
    // The child's lines, readable.
    assert!(shown
        .iter()
        .any(|l| l.ends_with(" sh         INFO  hello from the child")));
    assert!(shown
        .iter()
        .any(|l| l.ends_with(" sh         INFO  tab here \"quoted\" café")));
    assert!(shown
        .iter()
        .any(|l| l.ends_with(" sh         ERROR ZeroDivisionError: division by zero")));
    assert!(shown
        .iter()
        .any(|l| l.contains(" logmux     INFO  spawned sh (pid ")));
}

#[test]
fn a_line_that_only_looks_like_one_is_plain_json() {
    // No logmux.format: an app's JSON, parsed as json with the line kept.
    let line = r#"{"timestamp":"2026-11-26T10:00:00Z","severity_text":"WARN","message":"mine"}"#;
    let got = common::filter_json(&[], format!("{line}\n").as_bytes());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["logmux"]["format"], "json");
    assert_eq!(got[0]["message"], line);
    // A forced other format never merges.
    let run_event = r#"{"timestamp":"2026-11-26T10:00:00Z","severity_text":"INFO","message":"m","logmux":{"format":"text"}}"#;
    let got = common::filter_json(
        &["--format", "nginx.access"],
        format!("{run_event}\n").as_bytes(),
    );
    assert_eq!(got[0]["message"], run_event);
    assert_eq!(got[0]["logmux"]["parse_error"], true);
}
