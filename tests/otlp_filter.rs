//! `logmux filter --sink NAME` to an OTLP/HTTP receiver that decodes with
//! the official OpenTelemetry definitions (tests/otlp/receiver.py): every
//! event of the fixtures arrives as one record whose resource, attributes,
//! types, severity and times are the JSON event's; OTLP/JSON and protobuf,
//! gzip and not; retries on 503 with Retry-After, none on 400; partial
//! success counted; the standard OTEL_* variables; config errors.

mod common;
#[path = "support/otlp.rs"]
mod otlp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{json_lines, logmux, run, skip_or_fail};
use otlp::{typed, Receiver};
use serde_json::Value;

const RESOURCE: [&str; 5] = [
    "service.name",
    "host.name",
    "container.id",
    "container.name",
    "process.pid",
];
const ENVELOPE: [&str; 5] = [
    "timestamp",
    "observed_timestamp",
    "severity_text",
    "severity_number",
    "message",
];

fn python(test: &str) -> Option<PathBuf> {
    let p = otlp::python();
    if p.is_none() {
        skip_or_fail(
            test,
            "no Python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
    }
    p
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name),
    )
    .unwrap()
}

/// Runs `logmux filter` to sink `otlp` of a config holding `table`.
fn filter_to(table: &str, input: &[u8], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logmux.toml");
    std::fs::write(&config, table).unwrap();
    let mut cmd = logmux();
    cmd.args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "otlp"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, input)
}

/// Runs `cmd` with `input` on stdin; its output.
fn run_command(mut cmd: std::process::Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn nanos(rfc3339: &Value) -> u64 {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap()).unwrap();
    t.timestamp_nanos_opt().unwrap() as u64
}

/// Whether an OTLP value (as the receiver writes it) is the JSON value,
/// type included.
fn same(json: &Value, otlp: &Value) -> bool {
    match json {
        Value::String(s) => otlp[0] == "string_value" && otlp[1] == *s,
        Value::Bool(b) => otlp[0] == "bool_value" && otlp[1] == *b,
        Value::Number(n) if n.is_i64() => otlp[0] == "int_value" && otlp[1].as_i64() == n.as_i64(),
        Value::Number(n) => otlp[0] == "double_value" && otlp[1].as_f64() == n.as_f64(),
        Value::Array(items) => {
            otlp[0] == "array_value"
                && otlp[1].as_array().is_some_and(|o| {
                    o.len() == items.len() && items.iter().zip(o).all(|(j, v)| same(j, v))
                })
        }
        Value::Object(map) => {
            otlp[0] == "kvlist_value"
                && otlp[1].as_object().is_some_and(|o| {
                    o.len() == map.len()
                        && map
                            .iter()
                            .all(|(k, j)| o.get(k).is_some_and(|v| same(j, v)))
                })
        }
        Value::Null => false,
    }
}

/// Asserts that `record` is the OTLP form of the dotted JSON `event`.
fn assert_maps(event: &Value, record: &Value) {
    let obj = event.as_object().unwrap();
    let ctx = || format!("\nevent:  {event}\nrecord: {record}");
    assert_eq!(
        record["body"],
        serde_json::json!(["string_value", obj["message"]]),
        "{}",
        ctx()
    );
    assert_eq!(
        record["severity_number"],
        obj["severity_number"],
        "{}",
        ctx()
    );
    assert_eq!(record["severity_text"], obj["severity_text"], "{}", ctx());
    if obj["timestamp"] == obj["observed_timestamp"] {
        // No time of its own: when it was read, which differs between runs.
        assert_eq!(record["time"], record["observed"], "{}", ctx());
    } else {
        assert_eq!(
            record["time"].as_u64().unwrap(),
            nanos(&obj["timestamp"]),
            "{}",
            ctx()
        );
    }
    assert_eq!(
        record["scope"],
        serde_json::json!(["logmux", env!("CARGO_PKG_VERSION")])
    );
    let resource = record["resource"].as_object().unwrap();
    let attrs = record["attrs"].as_object().unwrap();
    let mut expected_resource = 0;
    let mut expected_attrs = 0;
    for (k, v) in obj {
        if ENVELOPE.contains(&k.as_str()) {
            continue;
        }
        let (place, what) = if RESOURCE.contains(&k.as_str()) {
            expected_resource += 1;
            (resource, "resource")
        } else {
            expected_attrs += 1;
            (attrs, "attribute")
        };
        let got = place
            .get(k)
            .unwrap_or_else(|| panic!("{what} {k} missing{}", ctx()));
        assert!(same(v, got), "{what} {k}: {v} is not {got}{}", ctx());
    }
    if !obj.contains_key("service.name") {
        assert_eq!(
            resource["service.name"],
            serde_json::json!(["string_value", "unknown_service"])
        );
        expected_resource += 1;
    }
    assert_eq!(resource.len(), expected_resource, "{}", ctx());
    assert_eq!(attrs.len(), expected_attrs, "{}", ctx());
}

/// Events grouped by resource (OTLP groups a request's records by
/// resource; within one, the order is the events' order).
fn by_resource(
    items: &[Value],
    resource: impl Fn(&Value) -> String,
) -> BTreeMap<String, Vec<&Value>> {
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for v in items {
        groups.entry(resource(v)).or_default().push(v);
    }
    groups
}

fn json_resource(e: &Value) -> String {
    let o = e.as_object().unwrap();
    let mut parts: Vec<String> = RESOURCE
        .iter()
        .filter_map(|k| o.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    if !o.contains_key("service.name") {
        parts.push("service.name=\"unknown_service\"".into());
    }
    parts.sort();
    parts.join(",")
}

fn otlp_resource(r: &Value) -> String {
    let mut parts: Vec<String> = r["resource"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v[1]))
        .collect();
    parts.sort();
    parts.join(",")
}

fn every_event_arrives_as_its_record(test: &str, encoding: &str, compression: &str) {
    let Some(py) = python(test) else { return };
    let receiver = Receiver::start(&py, "", 0);
    let mut input = fixture("mixed.log");
    input.extend(fixture("docker-logs-t.log"));
    input.extend(fixture("uwsgi.log"));
    let reference = run(&["filter", "--output", "json", "--keys", "dotted"], &input);
    assert!(reference.status.success());
    let events = json_lines(&reference.stdout);
    assert!(events.len() > 300, "{}", events.len());

    let table = format!(
        "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\nencoding = \"{encoding}\"\ncompression = \"{compression}\"\n",
        receiver.endpoint()
    );
    let out = filter_to(&table, &input, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = receiver.wait_for(events.len(), 10);
    assert_eq!(records.len(), events.len());
    let content_type = if encoding == "json" {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    for r in &records {
        assert_eq!(r["content_type"], content_type);
        assert_eq!(r["gzip"], compression == "gzip");
        assert!(r["observed"].as_u64().unwrap() > 1_700_000_000_000_000_000);
    }
    let want = by_resource(&events, json_resource);
    let got = by_resource(&records, otlp_resource);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (resource, events) in &want {
        let records = &got[resource];
        assert_eq!(records.len(), events.len(), "{resource}");
        for (e, r) in events.iter().zip(records) {
            assert_maps(e, r);
        }
    }
    // A traceback is one record, its frames in the body.
    let tracebacks: Vec<_> = records
        .iter()
        .filter(|r| r["attrs"]["logmux.format"][1] == "python.traceback")
        .collect();
    assert!(!tracebacks.is_empty());
    for t in tracebacks {
        assert!(
            t["body"][1].as_str().unwrap().contains("\n  File \""),
            "{t}"
        );
    }
}

#[test]
fn protobuf_gzip_every_event_arrives_as_its_record() {
    every_event_arrives_as_its_record(
        "protobuf_gzip_every_event_arrives_as_its_record",
        "protobuf",
        "gzip",
    );
}

#[test]
fn otlp_json_uncompressed_every_event_arrives_as_its_record() {
    every_event_arrives_as_its_record(
        "otlp_json_uncompressed_every_event_arrives_as_its_record",
        "json",
        "none",
    );
}

#[test]
fn json_gzip_every_event_arrives_as_its_record() {
    every_event_arrives_as_its_record(
        "json_gzip_every_event_arrives_as_its_record",
        "json",
        "gzip",
    );
}

fn numbered(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("line {i:05}\n"))
        .collect::<String>()
        .into_bytes()
}

fn bodies(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["body"][1].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn after_503_with_retry_after_every_event_arrives_once_in_order() {
    let Some(py) = python("after_503_with_retry_after_every_event_arrives_once_in_order") else {
        return;
    };
    let receiver = Receiver::start(&py, "503:1,503:1", 0);
    let table = format!(
        "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\nbatch_max_events = 100\n",
        receiver.endpoint()
    );
    let started = std::time::Instant::now();
    let out = filter_to(&table, &numbered(1000), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "Retry-After: 1 was honoured twice"
    );
    let records = receiver.wait_for(1000, 10);
    let want: Vec<String> = (0..1000).map(|i| format!("line {i:05}")).collect();
    assert_eq!(bodies(&records), want);
    // Batches of at most 100: at least 10 accepted requests after the 2 refused.
    let last = records
        .iter()
        .map(|r| r["request"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(last >= 12, "{last} requests");
    let first = records
        .iter()
        .map(|r| r["request"].as_u64().unwrap())
        .min()
        .unwrap();
    assert_eq!(first, 3, "the first two answers were 503");
}

#[test]
fn a_400_is_not_retried_and_its_events_are_counted_lost() {
    let Some(py) = python("a_400_is_not_retried_and_its_events_are_counted_lost") else {
        return;
    };
    let receiver = Receiver::start(&py, "400", 0);
    let table = format!(
        "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\n",
        receiver.endpoint()
    );
    let out = filter_to(&table, &numbered(10), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("HTTP 400 not now: 10 events not delivered (not retried)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("10 events were not written to the sink"),
        "{stderr}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(receiver.records().is_empty());
}

#[test]
fn partial_success_rejections_are_counted_and_reported() {
    let Some(py) = python("partial_success_rejections_are_counted_and_reported") else {
        return;
    };
    for encoding in ["protobuf", "json"] {
        let receiver = Receiver::start(&py, "partial:3", 0);
        let table = format!(
            "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\nencoding = \"{encoding}\"\n",
            receiver.endpoint()
        );
        let out = filter_to(&table, &numbered(10), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("the receiver rejected 3 of 10 records: rejected by the test"),
            "{encoding}: {stderr}"
        );
        assert!(
            stderr.contains("3 events were not written to the sink"),
            "{encoding}: {stderr}"
        );
        assert_ne!(out.status.code(), Some(0));
        assert_eq!(receiver.wait_for(10, 5).len(), 10);
    }
}

#[test]
fn the_standard_otel_variables_are_honoured() {
    let Some(py) = python("the_standard_otel_variables_are_honoured") else {
        return;
    };
    let receiver = Receiver::start(&py, "", 0);
    let endpoint = receiver.endpoint();
    let out = filter_to(
        "[sink.otlp]\ntype = \"otlp\"\n",
        b"plain text line\n",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20s3cret",
            ),
            ("OTEL_SERVICE_NAME", "shop"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=staging,service.name=ignored",
            ),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = receiver.wait_for(1, 5);
    let r = &records[0];
    assert_eq!(r["content_type"], "application/json");
    assert_eq!(r["auth"], "Bearer s3cret");
    assert_eq!(
        typed(&r["resource"]["service.name"], "string_value"),
        "shop"
    );
    assert_eq!(
        typed(
            &r["resource"]["deployment.environment.name"],
            "string_value"
        ),
        "staging"
    );
    assert_eq!(r["resource"].as_object().unwrap().len(), 2);

    // The signal's own variable is a whole URL; a key in the file wins over both.
    let out = filter_to(
        "[sink.otlp]\ntype = \"otlp\"\nencoding = \"protobuf\"\n",
        b"second\n",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                &format!("{endpoint}/v1/logs"),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = receiver.wait_for(2, 5);
    assert_eq!(records[1]["content_type"], "application/x-protobuf");
    assert_eq!(records[1]["body"][1], "second");
}

/// A config error: exit 78 and one message naming the place and key.
fn config_error(table: &str, env: &[(&str, &str)]) -> String {
    let out = filter_to(table, b"x\n", env);
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out.stderr);
    events[0]["message"].as_str().unwrap().to_string()
}

#[test]
fn bad_otlp_settings_are_config_errors_naming_the_key() {
    let head = "[sink.otlp]\ntype = \"otlp\"\n";
    type Case<'a> = (String, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 11] = [
        (format!("{head}encoding = \"xml\"\n"), &[], ":3:12: sink.otlp.encoding: `xml`: expected protobuf or json"),
        (format!("{head}compression = \"zstd\"\n"), &[], ":3:15: sink.otlp.compression: `zstd`: expected gzip or none"),
        (format!("{head}endpoint = \"collector:4318\"\n"), &[], ":3:12: sink.otlp.endpoint: `collector:4318`: expected an http:// or https:// URL"),
        (format!("{head}address = \"udp://x:514\"\n"), &[], ":3:11: sink.otlp.address: applies to type = \"syslog\" only, not to a otlp sink"),
        (format!("{head}batch_max_events = 0\n"), &[], ":3:20: sink.otlp.batch_max_events: expected 1 to 1000000"),
        (format!("{head}batch_timeout = \"soon\"\n"), &[], ":3:17: sink.otlp.batch_timeout: `soon` is not a duration like 500ms"),
        ("[sink.f]\ntype = \"file\"\npath = \"/tmp/x\"\nbatch_timeout = \"1s\"\n".into(), &[], ":4:17: sink.f.batch_timeout: applies to type = \"otlp\" only, not to a file sink"),
        (format!("{head}tls_client_cert = \"/nonexistent.pem\"\n"), &[], ":3:19: sink.otlp.tls_client_cert: /nonexistent.pem: No such file or directory"),
        ("[sink.f]\ntype = \"file\"\npath = \"/tmp/x\"\nendpoint = \"http://c:4318\"\n".into(), &[], ":4:12: sink.f.endpoint: applies to type = \"otlp\" only, not to a file sink"),
        (head.to_string(), &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")], ": sink.otlp.encoding: OTEL_EXPORTER_OTLP_PROTOCOL=`grpc`: logmux sends http/protobuf or http/json (not grpc)"),
        (head.to_string(), &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")], ": sink.otlp.headers: OTEL_EXPORTER_OTLP_HEADERS: `novalue`: expected key=value"),
    ];
    for (table, env, want) in cases {
        let got = config_error(&table, env);
        assert!(got.contains(want), "{table}\n{got}\nwants {want}");
    }
}

#[test]
fn resource_fields_reach_the_json_envelope_and_the_otlp_resource() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logmux.toml");
    std::fs::write(
        &config,
        "[resource]\n\"deployment.environment.name\" = \"${APP_ENV}\"\n\"service.version\" = \"1.0\"\n",
    )
    .unwrap();
    // JSON on stdout: nested, beside the event's own service.name; the flag
    // replaces the file's service.version and adds team.
    let mut cmd = logmux();
    cmd.env("APP_ENV", "prod")
        .args(["filter", "--config"])
        .arg(&config)
        .args([
            "--resource",
            "service.version=2.0",
            "--resource",
            "team=payments",
        ]);
    let line =
        b"127.0.0.1 - - [25/Nov/2026:19:39:24 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\"\n";
    let out = run_command(cmd, line);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["deployment"]["environment"]["name"], "prod");
    assert_eq!(
        e["service"],
        serde_json::json!({"name": "nginx", "version": "2.0"})
    );
    assert_eq!(e["team"], "payments");

    let Some(py) = python("resource_fields_reach_the_json_envelope_and_the_otlp_resource") else {
        return;
    };
    let receiver = Receiver::start(&py, "", 0);
    std::fs::write(
        &config,
        format!(
            "[resource]\n\"deployment.environment.name\" = \"${{APP_ENV}}\"\n[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\n",
            receiver.endpoint()
        ),
    )
    .unwrap();
    let mut cmd = logmux();
    cmd.env("APP_ENV", "prod")
        .args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "otlp", "--resource", "team=payments"]);
    let out = run_command(cmd, line);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = &receiver.wait_for(1, 5)[0];
    let resource = r["resource"].as_object().unwrap();
    let keys: Vec<&str> = resource.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["deployment.environment.name", "service.name", "team"]
    );
    assert_eq!(
        typed(&resource["deployment.environment.name"], "string_value"),
        "prod"
    );
    assert_eq!(typed(&resource["team"], "string_value"), "payments");
    assert!(r["attrs"].get("team").is_none(), "{r}");
    assert_eq!(
        typed(&r["attrs"]["http.response.status_code"], "int_value"),
        200
    );
}

#[test]
fn a_bad_resource_key_is_a_config_error() {
    let got = config_error("[resource]\n\"bad key\" = \"x\"\n", &[]);
    assert!(
        got.contains(":2:13: resource.bad key: `bad key`: expected a dotted name"),
        "{got}"
    );
    let out = run(&["filter", "--resource", "novalue"], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("`novalue`: expected KEY=VALUE"));
}

#[test]
fn a_receiver_that_is_not_up_yet_gets_every_event_once_it_is() {
    let Some(py) = python("a_receiver_that_is_not_up_yet_gets_every_event_once_it_is") else {
        return;
    };
    // Down for 1.5 s: a port no one else is handed meanwhile.
    let port = otlp::port_outside_the_ephemeral_range();
    let table = format!("[sink.otlp]\ntype = \"otlp\"\nendpoint = \"http://127.0.0.1:{port}\"\n");
    let filter = std::thread::spawn(move || filter_to(&table, &numbered(500), &[]));
    // Connection refused meanwhile: retried with backoff.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let receiver = Receiver::start(&py, "", port);
    let out = filter.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = receiver.wait_for(500, 10);
    let want: Vec<String> = (0..500).map(|i| format!("line {i:05}")).collect();
    assert_eq!(bodies(&records), want);
}

#[test]
fn a_receiver_that_stays_down_does_not_hold_the_exit_past_the_drain_deadline() {
    let test = "a_receiver_that_stays_down_does_not_hold_the_exit_past_the_drain_deadline";
    let Some(py) = python(test) else { return };
    // Retry-After: 30 every time: the sink would wait far past filter's
    // 10 s drain deadline.
    let receiver = Receiver::start(&py, &["503:30"; 5].join(","), 0);
    let table = format!(
        "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\n",
        receiver.endpoint()
    );
    let started = std::time::Instant::now();
    let out = filter_to(&table, &numbered(20), &[]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    assert!(took >= std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    assert!(
        stderr.contains("20 events (") && stderr.contains("not delivered by the shutdown deadline"),
        "{stderr}"
    );
    assert!(receiver.records().is_empty());
}

#[test]
fn the_resource_flag_works_on_run_and_listen_too() {
    let out = run(
        &[
            "run",
            "--resource",
            "team=payments",
            "--resource",
            "service.version=3",
            "--",
            "echo",
            "hello",
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["message"], "hello");
    assert_eq!(events[0]["team"], "payments");
    assert_eq!(
        events[0]["service"],
        serde_json::json!({"name": "echo", "version": "3"})
    );

    // listen: a datagram, then SIGTERM; the event carries the field.
    let mut child = logmux()
        .args([
            "listen",
            "--udp",
            "127.0.0.1:0",
            "--resource",
            "team=payments",
            "--verbose",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        use std::io::BufRead;
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "listen ended before binding"
        );
        let e: Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(a) = e["logmux"]["address"].as_str() {
            break a.trim_start_matches("udp://").to_string();
        }
    };
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"<14>1 2026-11-25T19:39:25Z web myapp 42 - - hi", &addr)
        .unwrap();
    // Read before the stop (a slow, shared machine: generous).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill has no preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["message"], "hi");
    assert_eq!(events[0]["team"], "payments");
}
