//! `--output logfmt` read back by a real logfmt parser (go-logfmt, the one
//! Go kit and Grafana Loki use, from Debian's packages): every field of the
//! JSON output of the same input comes back with the same text, and strings
//! carry no extra quotes (`level=info`, never `level="\"info\""`).

mod common;
#[path = "support/go.rs"]
mod go;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Builds the go-logfmt decoder (tests/views/logfmt_decode.go) with
/// Debian's Go and golang-github-go-logfmt-logfmt-dev, offline (GOPATH
/// mode); `None` when this machine lacks them.
fn decoder() -> Option<PathBuf> {
    go::build(
        "tests/views/logfmt_decode.go",
        "logfmt-decode",
        "github.com/go-logfmt/logfmt",
    )
}

/// Parses logfmt lines with the real decoder: one map per line.
fn parse_logfmt(decoder: &Path, text: &[u8]) -> Vec<Value> {
    let mut child = Command::new(decoder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the logfmt decoder");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text)
        .expect("feed the decoder");
    let out = child.wait_with_output().expect("decoder output");
    assert!(out.status.success(), "go-logfmt rejected the output");
    common::json_lines(&out.stdout)
}

/// The text logfmt should carry for a JSON scalar.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Real program output (the mixed fixture) plus application JSON lines
/// whose strings hold quotes, spaces, `=`, non-ASCII and nothing at all.
fn input() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut input = std::fs::read(root.join("fixtures/mixed.log")).expect("fixtures/mixed.log");
    input.extend_from_slice(
        br#"{"level":"info","msg":"user login","user_id":5,"ok":true}
{"level":"warning","msg":"say \"hi\" a=b\\c\n\tnext","empty":"","city":"Z\u00fcrich","ratio":0.5,"odd key=x":1}
"#,
    );
    input
}

#[test]
fn a_real_logfmt_parser_reads_back_every_field() {
    let Some(decoder) = decoder() else {
        common::skip_or_fail(
            "a_real_logfmt_parser_reads_back_every_field",
            "no Go with go-logfmt (tests/run-all.sh installs golang-go and \
             golang-github-go-logfmt-logfmt-dev)",
        );
        return;
    };
    let input = input();
    let json = common::run(&["filter", "-o", "json", "--keys", "dotted"], &input);
    let logfmt = common::run(&["filter", "-o", "logfmt"], &input);
    assert!(json.status.success() && logfmt.status.success());
    let expected = common::json_lines(&json.stdout);
    let parsed = parse_logfmt(&decoder, &logfmt.stdout);
    assert_eq!(parsed.len(), expected.len());
    assert!(expected.len() > 10, "the fixture gives many events");
    let mut compared = 0;
    for (want, got) in expected.iter().zip(&parsed) {
        let (want, got) = (
            want.as_object().expect("event"),
            got.as_object().expect("pairs"),
        );
        for (key, value) in want {
            // Lines without a time of their own are stamped when read, and
            // the two runs read at different times.
            if key == "timestamp" || key == "observed_timestamp" {
                continue;
            }
            // logfmt keys are bare words: the encoder writes `_` for the rest.
            let bare: String = key
                .chars()
                .map(|c| if matches!(c, ' ' | '=' | '"') { '_' } else { c })
                .collect();
            let text = got.get(&bare).and_then(Value::as_str);
            match value {
                // `0.0` in JSON may be `0` in logfmt: the same number.
                Value::Number(n) => assert_eq!(
                    text.and_then(|t| t.parse::<f64>().ok()),
                    n.as_f64(),
                    "{key}"
                ),
                _ => assert_eq!(text, Some(as_text(value).as_str()), "{key}"),
            }
            compared += 1;
        }
        assert_eq!(got.len(), want.len(), "same keys: {got:?} vs {want:?}");
    }
    assert!(compared > 100, "compared {compared} values");
}

#[test]
fn application_strings_carry_no_extra_quotes() {
    let out = common::run(
        &["filter", "-o", "logfmt"],
        br#"{"level":"info","msg":"hi there","customer":"alice","note":"a b","n":3}"#,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // `level` and `msg` are the envelope's (the source's word kept).
    assert!(text.contains(" severity_text=info "), "{text}");
    assert!(text.contains(" message=\"hi there\""), "{text}");
    assert!(text.contains(" customer=alice "), "{text}");
    assert!(text.contains(" note=\"a b\" "), "{text}");
    assert!(text.contains(" n=3 "), "{text}");
}
