//! Every event logmux writes is I-JSON (RFC 7493), whatever the JSON lines
//! it reads: no key twice, numbers in double range, nesting within the
//! documented limit of 64, and schema fields with their documented types
//! (issue 14, items 9 and 10). Lines are checked with a strict reader
//! written apart from logmux's own check (`support/strict_json.rs`).

mod common;
#[path = "support/strict_json.rs"]
mod strict_json;

use common::run;
use logmux::engine::{Input, Pipeline, Settings};
use logmux::event::{Origin, Stamp};
use logmux::output::{Encoder, KeyStyle};
use proptest::prelude::*;

/// `logmux filter` on `input`: its output lines, each checked strictly.
fn filter_strict(args: &[&str], input: &[u8]) -> Vec<serde_json::Value> {
    let mut all = vec!["filter"];
    all.extend_from_slice(args);
    let out = run(&all, input);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .map(|l| {
            strict_json::check(l).unwrap_or_else(|e| panic!("not I-JSON: {e}"));
            serde_json::from_str(l).unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_line_nested_100000_deep_is_kept_as_flagged_text() {
    let deep = format!("{{\"a\":{}{}}}\n", "[".repeat(100_000), "]".repeat(100_000));
    let events = filter_strict(&[], deep.as_bytes());
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["logmux"]["format"], "text");
    assert_eq!(e["logmux"]["parse_error"], true);
    assert_eq!(e["message"].as_str().map(str::len), Some(deep.len() - 1));
    assert!(e.get("a").is_none());
}

#[test]
fn sixty_four_levels_are_merged_sixty_five_are_not() {
    let nest = |n: usize| format!("{{\"a\":{}1{}}}\n", "[".repeat(n - 1), "]".repeat(n - 1));
    let events = filter_strict(&[], format!("{}{}", nest(64), nest(65)).as_bytes());
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["logmux"]["format"], "json");
    assert!(events[0]["a"].is_array());
    assert!(events[0]["logmux"].get("parse_error").is_none());
    assert_eq!(events[1]["logmux"]["format"], "text");
    assert_eq!(events[1]["logmux"]["parse_error"], true);
}

#[test]
fn a_dotted_key_and_its_parent_give_one_key() {
    for keys in ["nested", "dotted"] {
        let events = filter_strict(
            &["--keys", keys],
            b"{\"a.b\":1,\"a\":{\"b\":2},\"c.d\":3}\n",
        );
        assert_eq!(events.len(), 1);
        let e = &events[0];
        // `--keys dotted` flattens the merged object `a` too.
        match keys {
            "nested" => {
                assert_eq!(e["a"], serde_json::json!({"b": 2}), "{keys}: {e}");
                assert!(e.get("a.b").is_none(), "{keys}: {e}");
                assert_eq!(e["c"]["d"], 3);
            }
            _ => {
                assert_eq!(e["a.b"], 2, "{keys}: {e}");
                assert!(e.get("a").is_none(), "{keys}: {e}");
                assert_eq!(e["c.d"], 3);
            }
        }
    }
}

#[test]
fn numbers_outside_double_range_keep_the_line_as_text() {
    let events = filter_strict(
        &[],
        b"{\"n\":1e999999}\n{\"n\":1.5e-400}\n{\"n\":5e-324,\"m\":1e308}\n",
    );
    assert_eq!(events.len(), 3);
    for e in &events[..2] {
        assert_eq!(e["logmux"]["format"], "text");
        assert_eq!(e["logmux"]["parse_error"], true);
    }
    assert_eq!(events[0]["message"], "{\"n\":1e999999}");
    assert_eq!(events[2]["logmux"]["format"], "json");
    assert_eq!(events[2]["m"], 1e308);
}

#[test]
fn app_json_cannot_give_schema_fields_another_type() {
    // Such keys move under `app` (docs/schema.md, "json"), kept, unflagged.
    let input = concat!(
        "{\"service\":{\"name\":[\"x\"]},\"msg\":\"a\"}\n",
        "{\"service.name\":{\"x\":1},\"msg\":\"b\"}\n",
        "{\"process\":{\"pid\":\"one\"},\"msg\":\"c\"}\n",
        "{\"service\":{\"name\":\"api\"},\"msg\":\"d\"}\n",
    );
    let events = filter_strict(&[], input.as_bytes());
    assert_eq!(events.len(), 4);
    for e in &events[..3] {
        assert_eq!(e["logmux"]["format"], "json");
        assert!(e["logmux"].get("parse_error").is_none(), "{e}");
        assert!(
            e.get("service").is_none() && e.get("process").is_none(),
            "{e}"
        );
        assert!(e["message"].is_string());
    }
    assert_eq!(
        events[0]["app"]["service"]["name"],
        serde_json::json!(["x"])
    );
    assert_eq!(events[1]["app"]["service"]["name"]["x"], 1);
    assert_eq!(events[2]["app"]["process"]["pid"], "one");
    assert_eq!(events[3]["service"]["name"], "api");
    assert!(events[3]["logmux"].get("parse_error").is_none());
}

#[test]
fn a_logmux_event_with_a_mistyped_field_is_merged_without_it() {
    let line = concat!(
        r#"{"timestamp":"2026-11-25T18:35:12Z","severity_text":"INFO","message":"m","#,
        r#""logmux":{"format":"json"},"service":{"name":["x"],"version":"1"},"process":{"pid":7}}"#,
        "\n"
    );
    let events = filter_strict(&[], line.as_bytes());
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["message"], "m");
    assert_eq!(e["process"]["pid"], 7);
    assert_eq!(e["service"]["version"], "1");
    assert!(
        e["service"].get("name").is_none_or(|n| n.is_string()),
        "{e}"
    );
    assert_eq!(e["logmux"]["parse_error"], true);
}

#[test]
fn a_logmux_event_with_a_key_both_nested_and_dotted_writes_it_once() {
    let line = concat!(
        r#"{"timestamp":"2026-11-25T18:35:12Z","severity_text":"INFO","message":"m","#,
        r#""logmux":{"format":"json"},"a":{"c":1},"a.c":2,"logmux.format":"json","#,
        r#""service":{"name":"x"},"service.name":"y"}"#,
        "\n"
    );
    let events = filter_strict(&[], line.as_bytes());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["a"], serde_json::json!({"c": 2}));
    assert_eq!(events[0]["service"]["name"], "y");
    assert_eq!(events[0]["logmux"]["format"], "json");
}

#[test]
fn the_readme_pipeline_through_jq_survives_hostile_json() {
    let Ok(jq) = std::process::Command::new("jq").arg("--version").output() else {
        return common::skip_or_fail(
            "the_readme_pipeline_through_jq_survives_hostile_json",
            "jq is not installed",
        );
    };
    assert!(jq.status.success());
    let deep = format!("{{\"a\":{}{}}}\n", "[".repeat(100_000), "]".repeat(100_000));
    let out = run(&["filter"], deep.as_bytes());
    let mut child = std::process::Command::new("jq")
        .arg("-c")
        .arg(".logmux")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn jq");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&out.stdout)
        .expect("write jq");
    let jq_out = child.wait_with_output().expect("jq");
    assert!(jq_out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&jq_out.stdout),
        "{\"format\":\"text\",\"parse_error\":true}\n"
    );
}

/// Runs lines through the library's filter path with `keys`.
fn through_pipeline(input: &[u8], keys: KeyStyle) -> Vec<u8> {
    let mut pipeline = Pipeline::new(Settings {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder: Encoder {
            keys,
            ..Encoder::json()
        },
    });
    let mut reader = Input::new(Origin::default(), 1 << 20);
    let stamp = Stamp::at_unix(1_700_000_000, 0);
    let mut out = Vec::new();
    reader.push(input, &stamp, &mut pipeline, &mut out);
    reader.finish(&stamp, &mut pipeline, &mut out);
    out
}

/// JSON objects built from keys that clash (dots, schema names, repeats)
/// and values that break lax writers.
fn hostile_object() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("a"),
        Just("a.b"),
        Just("a.b.c"),
        Just("a."),
        Just("service"),
        Just("service.name"),
        Just("service.name.x"),
        Just("process.pid"),
        Just("http"),
        Just("logmux.format"),
        Just("message"),
        Just("timestamp"),
        Just("level"),
        Just(""),
        Just("."),
        Just("\\u0061"),
        Just("user"),
    ];
    let leaf = prop_oneof![
        Just("1"),
        Just("\"s\""),
        Just("1e999999"),
        Just("1.5e-400"),
        Just("-0"),
        Just("[\"x\"]"),
        Just("{\"name\":[1]}"),
        Just("{\"b\":1,\"b\":2}"),
        Just("null"),
        Just("{\"pid\":\"x\"}"),
        Just("\"\\ud800\""),
        Just("true"),
        Just("{}"),
        Just("{\"b\":{\"c\":1}}"),
        Just("{\"name\":\"n\",\"b\":2}"),
    ];
    proptest::collection::vec((key, leaf), 0..8).prop_map(|kv| {
        let members: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", members.join(","))
    })
}

/// A logmux event around hostile members.
fn hostile_event() -> impl Strategy<Value = String> {
    hostile_object().prop_map(|o| {
        let inner = o.trim_start_matches('{').trim_end_matches('}');
        let sep = if inner.is_empty() { "" } else { "," };
        format!(
            "{{\"timestamp\":\"2026-11-25T18:35:12Z\",\"severity_text\":\"INFO\",\"message\":\"m\",\"logmux.format\":\"json\"{sep}{inner}}}"
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_output_line_is_strict_i_json(
        lines in proptest::collection::vec(prop_oneof![hostile_object(), hostile_event()], 1..12),
        dotted in any::<bool>(),
    ) {
        let input = lines.join("\n") + "\n";
        let keys = if dotted { KeyStyle::Dotted } else { KeyStyle::Nested };
        let out = through_pipeline(input.as_bytes(), keys);
        let text = String::from_utf8_lossy(&out);
        prop_assert_eq!(text.lines().count(), lines.len());
        for line in text.lines() {
            prop_assert!(strict_json::check(line).is_ok(), "{:?}", strict_json::check(line));
        }
    }
}
