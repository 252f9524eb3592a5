//! The schema, its documentation and the parsers agree: every field logmux
//! can write is documented in docs/schema.md, and each one is produced by
//! some real sample or crafted line below (so a field no parser fills any
//! more, or an undocumented one, fails here).

mod common;
#[path = "support/listen.rs"]
mod listen;

use std::collections::BTreeSet;
use std::path::Path;

use logmux_parsers::field::ALL;
use serde_json::Value;

/// Adds the dotted names of every leaf of `v` to `out`.
fn leaves(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&name, child, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn produced_fields() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("fixtures"))
        .expect("fixtures")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            // A sample's log_format sits beside it, as tests/golden.rs reads it.
            let format = std::fs::read_to_string(path.with_extension("format")).ok();
            let mut args = vec![path.to_str().unwrap_or_default()];
            if let Some(f) = &format {
                args.extend(["--nginx-log-format", f.trim_end()]);
            }
            let uwsgi = std::fs::read_to_string(path.with_extension("uwsgi-format")).ok();
            if let Some(f) = &uwsgi {
                args.extend(["--uwsgi-log-format", f.trim_end_matches('\n')]);
            }
            for e in common::filter_json(&args, b"") {
                leaves("", &e, &mut seen);
            }
        }
    }
    // Every variable the custom log_format maps, in one line.
    let format = r#"$remote_addr:$remote_port $server_name:$server_port $scheme [$time_local] "$request" $status $body_bytes_sent $bytes_sent $request_length $request_time "$http_host" "$http_x_forwarded_for" $connection $connection_requests $pid ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time" id=$request_id tp="$http_traceparent""#;
    let line = r#"10.0.0.1:51234 example.org:443 https [05/Mar/2024:10:15:32 +0100] "GET /a?b=1 HTTP/2.0" 200 512 734 310 0.012 "example.org" "203.0.113.9" 7 3 42 ua="unix:/app.sock" us="200" urt="0.004, 0.010 : 0.002" id=0af7651916cd43dd8448eb211c80319c tp="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01""#;
    for e in common::filter_json(
        &["--nginx-log-format", format],
        format!("{line}\n").as_bytes(),
    ) {
        leaves("", &e, &mut seen);
    }
    // Lines the real samples do not have: a compose prefix, a cut line,
    // a forced format that does not match, and a uWSGI vhost.
    let crafted = concat!(
        "web-1  | hello\n",
        "web-1  | example.org [pid: 9|app: 0|req: 1/1] 10.0.0.1 (bob) {30 vars in 300 bytes} [Tue Mar  5 10:15:33 2024] GET / => generated 5 bytes in 1 msecs via route() (HTTP/1.1 200) 2 headers in 60 bytes (1 switches on core 0)\n",
    );
    for e in common::filter_json(&[], crafted.as_bytes()) {
        leaves("", &e, &mut seen);
    }
    for e in common::filter_json(
        &["--max-line-bytes", "16"],
        b"a line well over sixteen bytes\n",
    ) {
        leaves("", &e, &mut seen);
    }
    for e in common::filter_json(&["--format", "supervisord"], b"not supervisord\n") {
        leaves("", &e, &mut seen);
    }
    // A request's two lines joined by the heuristic (logmux.trace_join).
    let pair = concat!(
        "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Fri Dec  4 10:00:05 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)\n",
        "127.0.0.1 - - [04/Dec/2026:10:00:05 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n",
    );
    for e in common::filter_json(&["--trace-join", "infer"], pair.as_bytes()) {
        leaves("", &e, &mut seen);
    }
    let json_file = format!(
        r#"{{"log":"x\n","stream":"stdout","time":"2024-05-01T12:34:56.1Z"}}{}"#,
        "\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let id = "a".repeat(64);
    let path = dir.path().join(&id);
    std::fs::create_dir_all(&path).expect("mkdir");
    let file = path.join(format!("{id}-json.log"));
    std::fs::write(&file, json_file).expect("write");
    for e in common::filter_json(&[file.to_str().unwrap_or_default()], b"") {
        leaves("", &e, &mut seen);
    }
    // Real `logger` datagrams through `logmux listen`: the syslog envelope.
    for e in listen_events(&root.join("fixtures/logger-udp.syslog")) {
        leaves("", &e, &mut seen);
    }
    // Docker's syslog driver with `tag={{.ImageName}}/{{.Name}}`, in the
    // shape of the sample's second line: the container's image.
    let docker = dir.path().join("docker.syslog");
    std::fs::write(
        &docker,
        "<30>Nov 25 23:54:27 vm nginx:1.25/web-1[4242]: hello\n",
    )
    .expect("write");
    for e in listen_events(&docker) {
        leaves("", &e, &mut seen);
    }
    seen
}

/// Sends each line of `path` as one datagram to `logmux listen`.
fn listen_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("syslog sample");
    let l = listen::start(&["--udp", ":0"]);
    let lines: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
    listen::send_udp(l.udp(), &lines);
    l.wait_for(lines.len(), 20);
    let done = l.stop();
    assert_eq!(done.events.len(), lines.len());
    done.events
}

#[test]
fn every_field_is_produced_and_documented() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.md"))
        .expect("docs/schema.md");
    let seen = produced_fields();
    let mut missing = Vec::new();
    for field in ALL {
        let name = field.name();
        if !doc.contains(&format!("`{name}`")) {
            missing.push(format!("{name}: not in docs/schema.md"));
        }
        if !seen.contains(name) {
            missing.push(format!("{name}: produced by no sample or crafted line"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn every_produced_key_is_documented() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.md"))
        .expect("docs/schema.md");
    let mut undocumented: Vec<String> = produced_fields()
        .into_iter()
        // A JSON line's own keys are the application's, not the schema's
        // (fixtures/app-json.log: python-json-logger and structlog).
        .filter(|k| !k.starts_with("app."))
        .filter(|k| {
            ![
                "level",
                "msg",
                "user_id",
                "amount",
                "order_id",
                "duration_ms",
                "timestamp_kind",
                "user.id",
                "http.route",
                "log.hit",
                "service.version",
            ]
            .contains(&k.as_str())
        })
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .collect();
    undocumented.dedup();
    assert!(undocumented.is_empty(), "{undocumented:#?}");
}

#[test]
fn the_crafted_lines_reach_the_rare_fields() {
    let seen = produced_fields();
    for name in [
        "client.port",
        "server.port",
        "url.scheme",
        "nginx.connection.requests",
        "uwsgi.vhost",
        "uwsgi.via",
        "container.id",
        "logmux.parse_error",
        "logmux.truncated",
        "nginx.upstream_response_time",
        "host.name",
        "log.syslog.facility.name",
        "log.syslog.procid",
        "log.syslog.msgid",
    ] {
        assert!(seen.contains(name), "{name} not produced; seen: {seen:?}");
    }
    assert!(seen.len() > 60, "{}", seen.len());
}
