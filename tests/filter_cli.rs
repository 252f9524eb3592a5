//! `logmux filter` end to end: the real binary, real pipes, exact output.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;

use common::{filter_json, logmux, run};
use serde_json::json;

#[test]
fn every_line_becomes_one_event_and_empty_lines_are_counted() {
    let out = run(
        &["filter", "--output", "json", "--stats"],
        b"one\n\ntwo\r\n\n\nthree",
    );
    assert!(out.status.success());
    let events = common::json_lines(&out.stdout);
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(messages, ["one", "two", "three"]);
    let stats: serde_json::Value =
        serde_json::from_slice(out.stderr.split(|b| *b == b'\n').next().unwrap_or(b""))
            .expect("stats JSON");
    assert_eq!(stats["service"]["name"], "logmux");
    assert_eq!(stats["logmux"]["lines"], 6);
    assert_eq!(stats["logmux"]["events"], 3);
    assert_eq!(stats["logmux"]["empty_lines"], 3);
}

#[test]
fn the_envelope_is_complete() {
    let events = filter_json(&[], b"plain text\n");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    for key in [
        "timestamp",
        "observed_timestamp",
        "severity_text",
        "severity_number",
        "message",
    ] {
        assert!(e.get(key).is_some(), "missing {key}: {e}");
    }
    assert_eq!(e["timestamp"], e["observed_timestamp"]);
    assert_eq!(e["severity_text"], "INFO");
    assert_eq!(e["severity_number"], 9);
    assert_eq!(e["logmux"]["format"], "text");
}

#[test]
fn invalid_utf8_is_replaced_and_flagged() {
    let events = filter_json(&[], b"caf\xe9 ok\n");
    assert_eq!(events[0]["message"], "caf\u{FFFD} ok");
    assert_eq!(events[0]["logmux"]["invalid_utf8"], true);
}

#[test]
fn long_lines_are_cut_into_marked_pieces_and_nothing_is_lost() {
    let mut input = vec![b'a'; 100];
    input.extend_from_slice(b"\nshort\n");
    let events = filter_json(&["--max-line-bytes", "40"], &input);
    let pieces: Vec<(usize, bool)> = events
        .iter()
        .map(|e| {
            (
                e["message"].as_str().map_or(0, str::len),
                e["logmux"]["truncated"] == json!(true),
            )
        })
        .collect();
    assert_eq!(pieces, [(40, true), (40, true), (20, true), (5, false)]);
}

#[test]
fn ansi_colour_codes_are_removed() {
    let events = filter_json(&[], b"\x1b[31mERROR\x1b[0m: disk full\n");
    assert_eq!(events[0]["message"], "ERROR: disk full");
}

#[test]
fn docker_logs_timestamps_become_the_time() {
    let events = filter_json(
        &[],
        b"2024-05-01T12:34:56.123456789Z hello\n2024-05-01T12:34:57.000000001Z world\n",
    );
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["message"], "hello");
    assert_eq!(events[0]["timestamp"], "2024-05-01T12:34:56.123456789Z");
    assert_eq!(events[1]["timestamp"], "2024-05-01T12:34:57.000000001Z");
    assert_ne!(events[0]["observed_timestamp"], events[0]["timestamp"]);
}

#[test]
fn docker_logs_pieces_of_a_long_line_are_joined() {
    let body = "x".repeat(16384 + 100);
    let input = format!(
        "2024-05-01T12:34:56.000000001Z {}2024-05-01T12:34:56.000000002Z {}\n",
        &body[..16384],
        &body[16384..]
    );
    let events = filter_json(&[], input.as_bytes());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"].as_str().map(str::len), Some(16484));
}

#[test]
fn compose_prefixes_become_service_and_container() {
    let input = b"web-1  | hello\n\x1b[36mdb-1   |\x1b[0m ready\nweb-1  | bye\n";
    let events = filter_json(&[], input);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["service"]["name"], "web");
    assert_eq!(events[0]["container"]["name"], "web-1");
    assert_eq!(events[0]["message"], "hello");
    assert_eq!(events[1]["service"]["name"], "db");
    assert_eq!(events[1]["message"], "ready");
}

#[test]
fn json_file_lines_are_unwrapped_and_partials_joined() {
    let input = concat!(
        r#"{"log":"first\n","stream":"stdout","time":"2024-05-01T12:34:56.1234567Z"}"#,
        "\n",
        r#"{"log":"part one, ","stream":"stderr","time":"2024-05-01T12:34:57.0000000Z"}"#,
        "\n",
        r#"{"log":"part two\n","stream":"stderr","time":"2024-05-01T12:34:57.1000000Z"}"#,
        "\n"
    );
    let events = filter_json(&[], input.as_bytes());
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["message"], "first");
    assert_eq!(events[0]["log"]["iostream"], "stdout");
    assert_eq!(events[0]["timestamp"], "2024-05-01T12:34:56.123456700Z");
    assert_eq!(events[1]["message"], "part one, part two");
    assert_eq!(events[1]["log"]["iostream"], "stderr");
    assert_eq!(events[1]["timestamp"], "2024-05-01T12:34:57.000000000Z");
}

#[test]
fn dotted_keys_and_logfmt() {
    let events = filter_json(&["--keys", "dotted"], b"x\n");
    assert_eq!(events[0]["logmux.format"], "text");
    let out = run(&["filter", "--output", "logfmt"], b"hello world\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" logmux.format=text message=\"hello world\"\n"),
        "{text}"
    );
}

#[test]
fn a_closed_reader_is_a_quiet_success() {
    let mut child = logmux()
        .args(["filter", "--output", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 10];
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let line = b"a line that repeats\n".repeat(1000);
        for _ in 0..2000 {
            if stdin.write_all(&line).is_err() {
                break;
            }
        }
    });
    stdout.read_exact(&mut first).expect("read some output");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_missing_input_file_is_named_and_exits_66() {
    let out = run(&["filter", "/nonexistent/access.log"], b"");
    assert_eq!(out.status.code(), Some(66));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/access.log"), "{err}");
}

#[test]
fn config_errors_name_file_line_and_key_and_exit_78() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logmux.toml");
    std::fs::write(&path, "output = \"json\"\nformt = \"auto\"\n").expect("write");
    let out = run(&["filter", "--config", path.to_str().unwrap_or("")], b"");
    assert_eq!(out.status.code(), Some(78));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON diagnostic");
    let msg = err["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("logmux.toml:2:1: formt: unknown field `formt`"),
        "{msg}"
    );
    assert_eq!(err["severity_text"], "ERROR");
}

#[test]
fn a_forced_format_keeps_unparsed_lines_with_a_flag() {
    let events = filter_json(&["--format", "nginx.access"], b"not an access line\n");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "not an access line");
    assert_eq!(events[0]["logmux"]["format"], "text");
    assert_eq!(events[0]["logmux"]["parse_error"], true);
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let out = run(&["filter", "--format", "nginx"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `nginx`"));
}

#[test]
fn help_has_examples() {
    let out = run(&["filter", "--help"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("docker logs web 2>&1 | logmux filter"),
        "{text}"
    );
}

/// `--trace-join infer` (issue 18): uWSGI's line and nginx's `combined` line
/// of one request share a trace id, the later one marked; a line of
/// another status gets its own. Without the flag, no trace ids.
#[test]
fn trace_join_infer_joins_a_request_s_two_lines() {
    let input = b"[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Fri Dec  4 10:00:05 2026] GET /hello/?name=x => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)
127.0.0.1 - - [04/Dec/2026:10:00:05 +0000] \"GET /hello/?name=x HTTP/1.1\" 200 12 \"-\" \"curl/8\"
127.0.0.1 - - [04/Dec/2026:10:00:05 +0000] \"GET /hello/?name=x HTTP/1.1\" 404 12 \"-\" \"curl/8\"
";
    let out = logmux()
        .args(["filter", "--output", "json", "--trace-join", "infer"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(input)?;
            c.wait_with_output()
        })
        .expect("run logmux filter");
    assert!(out.status.success());
    let events = common::json_lines(&out.stdout);
    let formats: Vec<&str> = events
        .iter()
        .map(|e| e["logmux"]["format"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(formats, ["uwsgi.request", "nginx.access", "nginx.access"]);
    let trace = |i: usize| events[i]["trace_id"].as_str().expect("a trace id");
    assert_eq!(trace(0), trace(1));
    assert_ne!(trace(2), trace(0));
    assert_eq!(events[0]["logmux"].get("trace_join"), None);
    assert_eq!(events[1]["logmux"]["trace_join"], "inferred");
    assert_eq!(events[2]["logmux"].get("trace_join"), None);
    assert_ne!(events[0]["span_id"], events[1]["span_id"]);

    let plain = filter_json(&[], input);
    assert!(plain.iter().all(|e| e.get("trace_id").is_none()));
    let bad = run(&["filter", "--trace-join", "guess"], b"");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`guess` is not a join"));
}

/// `[trace] max_pending` bounds the heuristic join's waiting lines too (it
/// was fixed at 10,000): with 1, the second request's uWSGI line pushes
/// out the first's, so the first's nginx line finds no partner.
#[test]
fn trace_join_infer_keeps_at_most_max_pending_lines() {
    let uwsgi = |path: &str| {
        format!("[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {{34 vars in 412 bytes}} [Fri Dec  4 10:00:05 2026] GET {path} => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)\n")
    };
    let nginx =
        "127.0.0.1 - - [04/Dec/2026:10:00:05 +0000] \"GET /a HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n";
    let input = format!("{}{}{nginx}", uwsgi("/a"), uwsgi("/b"));
    let dir = tempfile::tempdir().expect("tempdir");
    let joined = |trace: &str| {
        let path = dir.path().join("logmux.toml");
        std::fs::write(&path, format!("[trace]\n{trace}")).expect("write config");
        let out = logmux()
            .args([
                "filter",
                "--output",
                "json",
                "--trace-join",
                "infer",
                "--config",
            ])
            .arg(&path)
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().expect("stdin").write_all(input.as_bytes())?;
                c.wait_with_output()
            })
            .expect("run logmux filter");
        assert!(out.status.success());
        let events = common::json_lines(&out.stdout);
        assert_eq!(events.len(), 3);
        assert_eq!(events[2]["logmux"]["format"], "nginx.access");
        events[2]["logmux"].get("trace_join").cloned()
    };
    assert_eq!(joined("max_pending = 2\n"), Some(json!("inferred")));
    assert_eq!(joined("max_pending = 1\n"), None);
}

/// The config's `[trace] join = "infer"` joins as the flag does; the flag
/// wins over it.
#[test]
fn the_config_s_trace_join_is_honoured_and_the_flag_wins() {
    let input = b"[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Fri Dec  4 10:00:05 2026] GET /hello/ => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)
127.0.0.1 - - [04/Dec/2026:10:00:05 +0000] \"GET /hello/ HTTP/1.1\" 200 12 \"-\" \"curl/8\"
";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("logmux.toml");
    std::fs::write(&config, "[trace]\njoin = \"infer\"\n").unwrap();
    let config = config.to_str().unwrap();
    let joined = filter_json(&["--config", config], input);
    assert_eq!(joined.len(), 2);
    assert_eq!(joined[0]["trace_id"], joined[1]["trace_id"]);
    assert_eq!(joined[1]["logmux"]["trace_join"], "inferred");
    let ids = filter_json(&["--config", config, "--trace-join", "ids"], input);
    assert!(ids.iter().all(|e| e.get("trace_id").is_none()), "{ids:?}");
}

#[test]
fn a_full_disk_is_an_io_error_not_a_success() {
    // /dev/full fails every write with ENOSPC.
    let full = match std::fs::OpenOptions::new().write(true).open("/dev/full") {
        Ok(full) => full,
        Err(e) => {
            let why = format!("cannot open /dev/full for writing: {e}");
            return common::skip_or_fail("a_full_disk_is_an_io_error_not_a_success", &why);
        }
    };
    let out = logmux()
        .args(["filter", "--output", "json"])
        .stdin(Stdio::piped())
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"one line\n");
            }
            child.wait_with_output()
        })
        .expect("run logmux");
    assert_eq!(out.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the output"));
}

/// `logmux filter ARGS` on a terminal (util-linux `script` gives it one),
/// with `NO_COLOR` set to `no_color` or unset; what it wrote there.
fn on_a_terminal(args: &str, no_color: Option<&str>) -> String {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/nginx-access.log");
    let command = format!("{} filter {args} {fixture}", env!("CARGO_BIN_EXE_logmux"));
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TZ", "UTC");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd
        .output()
        .expect("util-linux script (bsdutils) must be installed");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_color_turns_off_the_terminal_default_but_not_an_explicit_always() {
    let coloured = |s: &str| s.contains("\x1b[");
    let plain = on_a_terminal("--output pretty", Some("1"));
    assert!(!coloured(&plain), "{plain:?}");
    // The same lines, only without the escapes.
    let default = on_a_terminal("--output pretty", None);
    assert!(coloured(&default), "{default:?}");
    let mut stripped = String::new();
    let mut rest = default.as_str();
    while let Some(at) = rest.find("\x1b[") {
        stripped.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = &rest[rest.find('m').unwrap() + 1..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, plain);
    assert!(coloured(&on_a_terminal(
        "--output pretty --color always",
        Some("1")
    )));
}

/// no-color.org: colour is off when `NO_COLOR` is present *and not empty*.
#[test]
fn an_empty_no_color_keeps_the_colour() {
    let out = on_a_terminal("--output pretty", Some(""));
    assert!(out.contains("\x1b["), "{out:?}");
}

/// `uwsgi --logdate='%d/%b/%Y %H:%M:%S'` (uWSGI 2.0.21's own output): read
/// with `--uwsgi-logdate`, text without; a pattern it cannot read is refused
/// with exit 78 and the conversion named.
#[test]
fn uwsgi_logdate_flag_reads_a_custom_date_prefix() {
    let line: &[u8] =
        b"03/Dec/2026 14:39:33 - compiled with version: 12.2.0 on 19 May 2023 13:59:29\n";
    let plain = filter_json(&[], line);
    assert_eq!(plain[0]["logmux"]["format"], "text");
    let events = filter_json(&["--uwsgi-logdate", "%d/%b/%Y %H:%M:%S"], line);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["logmux"]["format"], "uwsgi.log");
    let ts = events[0]["timestamp"].as_str().unwrap_or("");
    assert!(ts.starts_with("2026-12-03T14:39:33"), "{ts}");
    let out = run(&["filter", "--uwsgi-logdate", "%Y %d %H %q"], b"x\n");
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`%q`"));
}

/// `--nginx-escape json` decodes a log_format given without `escape=`
/// (the line is nginx 1.22's, fixtures/nginx-escape-json.log).
#[test]
fn nginx_escape_flag_decodes_json_escapes() {
    let format = r#"{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"http_referer":"$http_referer","http_user_agent":"$http_user_agent"}"#;
    let line = br#"{"time":"2026-12-03T14:25:38+00:00","remote_addr":"127.0.0.1","request":"GET /esc HTTP/1.1","status":200,"body_bytes_sent":3,"http_referer":"http://ref.example/a\"b","http_user_agent":"say \"hi\" \\ tab\there \u0001 caf"}
"#;
    let events = filter_json(
        &["--nginx-log-format", format, "--nginx-escape", "json"],
        line,
    );
    assert_eq!(events[0]["logmux"]["format"], "nginx.access");
    assert_eq!(
        events[0]["user_agent"]["original"],
        "say \"hi\" \\ tab\there \u{1} caf"
    );
    let events = filter_json(
        &["--nginx-log-format", format, "--nginx-escape", "none"],
        line,
    );
    assert_eq!(
        events[0]["user_agent"]["original"],
        r#"say \"hi\" \\ tab\there \u0001 caf"#
    );
}

/// Issue 18: real lines of nginx with the image's `log_format` (request id,
/// traceparent) and of the example Django project's request-id format get
/// the request's `trace_id`, and the `span_id` of their part of it; lines
/// without an id (or with `-`) get none.
#[test]
fn request_ids_become_trace_and_span_ids() {
    use logmux::trace::ids::{span_id, SpanRole};
    use logmux_parsers::trace_context::{to_hex, trace_id};
    let format = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time urt="$upstream_response_time" us="$upstream_status" id=$trace_id tp="$http_traceparent""#;
    // nginx 1.22.1 with tests/stack/nginx.conf.in (no upstream: 502), then
    // Django 3.2 with docker/app's LOGGING, by its test client.
    let input = concat!(
        "127.0.0.1 - - [04/Dec/2026:18:33:46 +0000] \"GET /a?b=1 HTTP/1.1\" 502 157 \"-\" \"curl/7.88.1\" rt=0.000 urt=\"0.000\" us=\"502\" id=cf28ecd1bf142c92d1fce6a4c370b259 tp=\"-\"\n",
        "127.0.0.1 - - [04/Dec/2026:18:33:46 +0000] \"GET /x HTTP/1.1\" 502 157 \"-\" \"curl \\x22q\\x22\" rt=0.000 urt=\"0.000\" us=\"502\" id=4bf92f3577b34da6a3ce929d0e0e4736 tp=\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"\n",
        "127.0.0.1 - - [04/Dec/2026:18:33:46 +0000] \"GET /z HTTP/1.1\" 502 157 \"-\" \"curl/7.88.1\" rt=0.000 urt=\"0.000\" us=\"502\" id=d3808a0c5a0d0be5817fb850509c5a34 tp=\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\"\n",
        "127.0.0.1 - - [04/Dec/2026:18:33:47 +0000] \"GET / HTTP/1.1\" 200 24 \"-\" \"curl/7.88.1\"\n",
        "2026-12-04 18:36:00,856 WARNING [django.request] [0af7651916cd43dd8448eb211c80319c] Not Found: /nope/\n",
        "2026-12-04 18:36:00,857 ERROR [django.request] [4bf92f3577b34da6a3ce929d0e0e4736] Internal Server Error: /boom/\n",
        "Traceback (most recent call last):\n",
        "  File \"/usr/lib/python3/dist-packages/django/core/handlers/exception.py\", line 47, in inner\n",
        "    response = get_response(request)\n",
        "               ^^^^^^^^^^^^^^^^^^^^^\n",
        "  File \"/work/wt-reqid/docker/app/demo/views.py\", line 24, in _divide\n",
        "    return a / b\n",
        "           ~~^~~\n",
        "ZeroDivisionError: division by zero\n",
        "2026-12-04 18:36:00,866 WARNING [demo] [b7ad6b7169203331b7ad6b7169203331] demo warning: disk almost full (97% used)\n",
        "print to stdout from /warn/\n",
        "2026-12-04 18:36:00,867 WARNING [django.request] [-] Not Found: /nope/\n",
    );
    let events = filter_json(&["--nginx-log-format", format], input.as_bytes());
    let span = |t: &str, role| to_hex(&span_id(&trace_id(t).expect("trace id"), role));
    let nginx = |t: &str| (Some(t.to_string()), Some(span(t, SpanRole::NginxServer)));
    let uwsgi = |t: &str| (Some(t.to_string()), Some(span(t, SpanRole::Uwsgi)));
    let none = (None, None);
    let want = [
        ("nginx.access", nginx("cf28ecd1bf142c92d1fce6a4c370b259")),
        // The traceparent's trace id, and an all-zero one is no traceparent.
        ("nginx.access", nginx("4bf92f3577b34da6a3ce929d0e0e4736")),
        ("nginx.access", nginx("d3808a0c5a0d0be5817fb850509c5a34")),
        ("nginx.access", none.clone()),
        ("django", uwsgi("0af7651916cd43dd8448eb211c80319c")),
        (
            "python.traceback",
            uwsgi("4bf92f3577b34da6a3ce929d0e0e4736"),
        ),
        ("django", uwsgi("b7ad6b7169203331b7ad6b7169203331")),
        ("text", none.clone()),
        ("django", none),
    ];
    // (format, (trace_id, span_id)) of each event.
    type Ids = (String, (Option<String>, Option<String>));
    let got: Vec<Ids> = events
        .iter()
        .map(|e| {
            let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
            (
                e["logmux"]["format"].as_str().unwrap_or("").to_string(),
                (s(&e["trace_id"]), s(&e["span_id"])),
            )
        })
        .collect();
    let want: Vec<Ids> = want
        .into_iter()
        .map(|(f, ids)| (f.to_string(), ids))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        span("4bf92f3577b34da6a3ce929d0e0e4736", SpanRole::NginxServer),
        "2a21eddbca58e1b1"
    );
    // The fields the ids came from, and the rest of the line as before.
    assert_eq!(
        events[1]["http"]["request"]["header"]["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(
        events[1]["http"]["request"]["id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(events[1]["user_agent"]["original"], "curl \"q\"");
    assert_eq!(events[1]["nginx"]["upstream_status"], "502");
    assert_eq!(events[1]["nginx"]["upstream_response_time"], json!([0.0]));
    assert_eq!(events[1]["http"]["server"]["request"]["duration"], 0.0);
    assert_eq!(events[3]["url"]["path"], "/");
    assert!(events[3]["http"]["request"]["id"].is_null());
    assert_eq!(events[5]["log"]["logger"], "django.request");
    assert_eq!(events[5]["exception"]["type"], "ZeroDivisionError");
    assert_eq!(events[6]["severity_text"], "WARNING");
    assert_eq!(events[6]["severity_number"], 13);
    assert_eq!(events[6]["log"]["logger"], "demo");
    assert_eq!(events[8]["log"]["logger"], "django.request");
    assert!(events[8]["http"]["request"]["id"].is_null());
}

/// `--uwsgi-log-format` on a line real uWSGI 2.0.21 wrote with the image's
/// `log-format` (fixtures/uwsgi-log-format.log): exact fields and JSON
/// types; other lines still come out; a bad format exits 78 naming the byte.
#[test]
fn uwsgi_log_format_flag_types_every_field() {
    let format = "[pid: %(pid)|wid: %(wid)] %(addr) (%(user)) {%(vars) vars in %(pktsize) bytes} [%(ctime)] %(method) %(uri) => generated %(rsize) bytes in %(micros) micros (%(proto) %(status)) %(headers) headers in %(hsize) bytes (%(switches) switches on core %(core)) request_id=%(var.HTTP_X_REQUEST_ID) start=%(tmicros)";
    let line = "[pid: 5862|wid: 1] 127.0.0.1 (-) {28 vars in 359 bytes} [Fri Dec  4 18:33:49 2026] GET /missing?x=1 => generated 3 bytes in 158 micros (HTTP/1.1 404) 1 headers in 52 bytes (1 switches on core 0) request_id=req-7f3a start=1796409229602530";
    let input = format!("{line}\nspawned uWSGI worker 1 (pid: 5862, cores: 1)\nhello\n");
    let events = filter_json(
        &["--uwsgi-log-format", format, "--keys", "dotted"],
        input.as_bytes(),
    );
    assert_eq!(events.len(), 3);
    let e = events[0].as_object().expect("an object");
    let mut keys: Vec<&str> = e.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let want = json!({
        "timestamp": "2026-12-04T18:33:49.602530Z",
        "severity_text": "WARN",
        "severity_number": 13,
        "message": line,
        "logmux.format": "uwsgi.request",
        "process.pid": 5862,
        "uwsgi.wid": 1,
        "client.address": "127.0.0.1",
        "uwsgi.request.vars.count": 28,
        "uwsgi.request.vars.size": 359,
        "http.request.method": "GET",
        "url.original": "/missing?x=1",
        "url.path": "/missing",
        "url.query": "x=1",
        "http.response.body.size": 3,
        "http.server.request.duration": 0.000158,
        "network.protocol.name": "http",
        "network.protocol.version": "1.1",
        "http.response.status_code": 404,
        "uwsgi.response.headers.count": 1,
        "uwsgi.response.headers.size": 52,
        "uwsgi.switches": 1,
        "uwsgi.core": 0,
        "http.request.id": "req-7f3a",
    });
    for (k, v) in want.as_object().expect("an object") {
        assert_eq!(e.get(k), Some(v), "{k}");
    }
    let mut expected: Vec<&str> = want
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    expected.extend(["observed_timestamp", "service.name"]);
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(events[1]["logmux.format"], "uwsgi.log");
    assert_eq!(events[2]["logmux.format"], "text");

    let out = run(
        &["filter", "--uwsgi-log-format", "%(status) %(msecs"],
        b"x\n",
    );
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--uwsgi-log-format: `%(` at byte 10 has no closing `)`"),
        "{stderr}"
    );
}

#[test]
fn a_logged_exception_is_one_event_on_its_request() {
    // `logger.exception()` in a view, in the image's request-id format:
    // the record and its traceback, then an error record without one.
    let input = b"2026-12-05 04:00:00,123 ERROR [demo] [4bf92f3577b34da6a3ce929d0e0e4736] boom
Traceback (most recent call last):
  File \"/app/demo/views.py\", line 9, in cause
ZeroDivisionError: division by zero
2026-12-05 04:00:00,124 ERROR [demo] [4bf92f3577b34da6a3ce929d0e0e4736] no traceback
";
    let events = filter_json(&[], input);
    assert_eq!(events.len(), 2, "{events:?}");
    let first = &events[0];
    assert_eq!(first["logmux"]["format"], "python.traceback");
    assert_eq!(first["exception"]["type"], "ZeroDivisionError");
    assert_eq!(first["log"]["logger"], "demo");
    assert_eq!(first["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(events[1]["logmux"]["format"], "django");
    assert_eq!(
        events[1]["message"]
            .as_str()
            .map(|m| m.ends_with("no traceback")),
        Some(true)
    );
}

#[test]
fn a_lines_own_span_id_is_written_once_beside_the_stamped_trace_id() {
    // `$request_id` becomes the trace id; the line's own `$otel_span_id`
    // stays its span id, and the key is written once (a JSON object with
    // a key twice is not I-JSON, and readers disagree on which wins).
    let format = r#"$remote_addr $request_id $otel_span_id "$request" $status"#;
    let line =
        b"10.0.0.1 0af7651916cd43dd8448eb211c80319c 00f067aa0ba902b7 \"GET / HTTP/1.1\" 200\n";
    let args = [
        "filter",
        "--output",
        "json",
        "--format",
        "nginx.access",
        "--nginx-log-format",
        format,
    ];
    let out = run(&args, line);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("\"span_id\":").count(), 1, "{text}");
    assert_eq!(text.matches("\"trace_id\":").count(), 1, "{text}");
    let events = common::json_lines(&out.stdout);
    assert_eq!(events[0]["span_id"], "00f067aa0ba902b7");
    assert_eq!(events[0]["trace_id"], "0af7651916cd43dd8448eb211c80319c");
}
