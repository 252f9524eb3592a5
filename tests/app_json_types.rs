//! Application JSON merged beside logmux's own fields, checked as
//! Elasticsearch would map it: over one stream mixing every real sample in
//! `fixtures/` (nginx, uWSGI, supervisord, Django, Docker) with the real
//! output of python-json-logger and structlog (`fixtures/app-json.log`) and
//! app lines whose keys clash with the schema, every field name has one
//! JSON type in every event (an object counts as a type, so `http` being a
//! number in one event and an object in another fails). Keys moved under
//! `app` are what each application says; two apps may disagree there (the
//! clashing lines below do, on purpose), so that subtree is left out.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// App lines whose keys name logmux's own fields with other types.
const CLASHING: &[&str] = &[
    r#"{"msg":"a","http":200,"service":"api","client":"10.0.0.1","url":"/x"}"#,
    r#"{"msg":"b","http":{"response":{"status_code":"200"}},"process":{"pid":"7"}}"#,
    r#"{"msg":"c","timestamp":"not a time","severity_text":5,"message":{"x":1}}"#,
    r#"{"msg":"d","exception":{"type":1},"container":{"name":["x"]},"log":"plain"}"#,
    r#"{"msg":"e","service.name":5,"log.file.path":{"a":1},"trace_id":7,"app":"shop"}"#,
    r#"{"msg":"f","logmux":{"format":1},"user":{"name":{"first":"x"}}}"#,
];

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every dotted path of `v` (objects included) with its JSON type.
fn types(prefix: &str, v: &Value, out: &mut Vec<(String, &'static str)>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push((path.clone(), json_type(child)));
            types(&path, child, out);
        }
    }
}

fn mixed_events(keys: &str) -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut input = Vec::new();
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 10, "{logs:?}");
    for log in logs {
        input.extend(std::fs::read(log).expect("read fixture"));
    }
    for line in CLASHING {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    common::filter_json(&["--keys", keys], &input)
}

fn conflicts(events: &[Value]) -> BTreeMap<String, Vec<&'static str>> {
    let mut seen: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for event in events {
        let mut found = Vec::new();
        types("", event, &mut found);
        for (path, ty) in found {
            if path == "app" || path.starts_with("app.") {
                continue;
            }
            let entry = seen.entry(path).or_default();
            if !entry.contains(&ty) {
                entry.push(ty);
            }
        }
    }
    seen.retain(|_, tys| tys.len() > 1);
    seen
}

#[test]
fn every_field_has_one_type_across_a_mixed_stream() {
    let events = mixed_events("nested");
    assert!(events.len() > 100, "{}", events.len());
    assert_eq!(conflicts(&events), BTreeMap::new());
    // The clashing keys are kept, moved under `app`.
    let a = events
        .iter()
        .find(|e| e["message"] == "a")
        .expect("event a");
    assert_eq!(a["app"]["http"], 200);
    assert_eq!(a["app"]["service"], "api");
    assert_eq!(a["app"]["client"], "10.0.0.1");
    assert_eq!(a["app"]["url"], "/x");
    let e = events
        .iter()
        .find(|e| e["message"] == "e")
        .expect("event e");
    assert_eq!(e["app"]["service"]["name"], 5);
    assert_eq!(e["app"]["app"], "shop");
    assert_eq!(e["app"]["trace_id"], 7);
}

#[test]
fn dotted_keys_have_one_type_too() {
    let events = mixed_events("dotted");
    assert_eq!(conflicts(&events), BTreeMap::new());
    let b = events
        .iter()
        .find(|e| e["message"] == "b")
        .expect("event b");
    assert_eq!(b["app.http.response.status_code"], "200");
    assert_eq!(b["app.process.pid"], "7");
    // No merged object is left unflattened.
    for event in &events {
        let obj = event.as_object().expect("object");
        assert!(
            obj.values()
                .all(|v| !v.is_object() || v == &serde_json::json!({})),
            "{event}"
        );
    }
}
