//! `logmux listen` behind Docker's own syslog logging driver: a container
//! prints known lines on stdout and stderr (a traceback, a line with leading
//! spaces, a 40,000-byte line that Docker cuts into 16 KiB pieces), once
//! with `syslog-format=rfc5424micro` over TCP and once with Docker's default
//! format over UDP. Every line must arrive exactly once, with its exact
//! text, under the container's name, stdout and stderr told apart, the long
//! line joined into one event, and nothing else.
//!
//! A third container runs `logmux run` itself: its JSON events arrive at
//! the listener merged (the same events plus the container), and `docker
//! logs -t` piped through `logmux filter` gives the same events again.
//!
//! Runs when `docker info` works; otherwise it is skipped, a failure under
//! CI or `LOGMUX_LIVE=1` (tests/run-all.sh starts the engine). When Docker
//! works, the base image `logmux/debian:bookworm` must exist
//! (docker/base-image.sh builds it; tests/run-all.sh runs that first): its
//! absence fails the test rather than skipping it.

#[path = "support/docker_engine.rs"]
mod docker_engine;
#[path = "support/listen.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use docker_engine::{docker_ready, IMAGE};
use serde_json::Value;
use support::*;

/// The 16 KiB pieces of the long line: 16,384 + 16,384 + 7,231 bytes.
const LONG_PIECES: u64 = 3;

/// A line longer than two of Docker's 16 KiB buffers, different in every
/// piece so that a misordered join would show: `0000000 0000001 … 0004999`.
fn long_line() -> String {
    (0..5000)
        .map(|i| format!("{i:07}"))
        .collect::<Vec<_>>()
        .join(" ")
}

const TRACEBACK: &str = "Traceback (most recent call last):
  File \"/app/job.py\", line 9, in <module>
    main()
  File \"/app/job.py\", line 5, in main
    return 1 / 0
           ~~^~~
ZeroDivisionError: division by zero";

/// What the container runs: no Python in the minimal image, so printf
/// writes the traceback line by line as Python would; perl (in every Debian
/// image, perl-base) writes the long line.
fn script() -> String {
    let traceback = TRACEBACK.replace('\\', "\\\\").replace('\'', "'\\''");
    format!(
        "printf 'first line on stdout\\n'\n\
         printf '   three leading spaces kept\\n'\n\
         printf 'a plain line on stderr\\n' >&2\n\
         printf '%s\\n' '{traceback}' >&2\n\
         perl -e 'print join(\" \", map {{ sprintf(\"%07d\", $_) }} 0..4999), \"\\n\"'\n\
         printf 'after the traceback\\n' >&2\n\
         printf 'last line on stdout\\n'\n"
    )
}

/// The events expected from one stream, in order: (message, logmux.format).
fn expected(stream: &str) -> Vec<(String, &'static str)> {
    match stream {
        "stdout" => vec![
            ("first line on stdout".into(), "text"),
            ("   three leading spaces kept".into(), "text"),
            (long_line(), "text"),
            ("last line on stdout".into(), "text"),
        ],
        _ => vec![
            ("a plain line on stderr".into(), "text"),
            (TRACEBACK.into(), "python.traceback"),
            ("after the traceback".into(), "text"),
        ],
    }
}

/// Syslog messages the container's output makes: one per line, the long
/// line in its pieces, the traceback one per line.
fn expected_messages() -> u64 {
    let lines = 3 + 2 + TRACEBACK.lines().count() as u64;
    lines + LONG_PIECES
}

/// A container name of this test run's own; removed when dropped.
struct Container(String);

impl Container {
    fn new(what: &str) -> Container {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Container(format!(
            "logmux-test-{what}-{}-{nanos:x}",
            std::process::id()
        ))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs the script in `name` with the syslog driver and `log_opts`, and
/// waits for it to exit 0.
fn run_container(name: &Container, log_opts: &[String]) {
    run_in_container(name, log_opts, &[], &["bash", "-c", &script()]);
}

/// Runs `command` in `name` with the syslog driver, `log_opts` and `extra`
/// flags for docker run, and waits for it to exit 0.
fn run_in_container(name: &Container, log_opts: &[String], extra: &[&str], command: &[&str]) {
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--name", &name.0, "--network", "none"])
        .args(["--log-driver", "syslog"])
        .args(extra);
    for o in log_opts {
        cmd.args(["--log-opt", o]);
    }
    let out = cmd
        .arg(IMAGE)
        .args(command)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker run failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One stream's events, in the order they were written.
fn stream<'e>(events: &'e [Value], which: &str) -> Vec<&'e Value> {
    events
        .iter()
        .filter(|e| e["log"]["iostream"] == which)
        .collect()
}

/// Checks every event of one container run: the exact lines per stream, in
/// order, the envelope, and the listener's counts.
fn check(
    stopped: &Stopped,
    container: &str,
    tag: &str,
    host: Option<&str>,
    msgid: Option<&str>,
    times: (DateTime<Utc>, DateTime<Utc>),
) {
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let events = &stopped.events;
    let shown = || {
        events
            .iter()
            .map(|e| {
                let m = e["message"].as_str().unwrap_or("");
                format!("{} {:.80}", e["log"]["iostream"], m)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(events.len(), 7, "exactly seven events:\n{}", shown());
    for which in ["stdout", "stderr"] {
        let got: Vec<(String, String)> = stream(events, which)
            .iter()
            .map(|e| {
                (
                    e["message"].as_str().unwrap().to_string(),
                    e["logmux"]["format"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = expected(which)
            .into_iter()
            .map(|(m, f)| (m, f.to_string()))
            .collect();
        assert_eq!(got, want, "{which}:\n{}", shown());
    }
    let pid = events[0]["log"]["syslog"]["procid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(pid.bytes().all(|b| b.is_ascii_digit()), "{pid}");
    for e in events {
        assert_eq!(e["container"]["name"], container, "{e}");
        assert!(e["container"].get("id").is_none(), "{e}");
        // The service is the container, not the whole tag.
        assert_eq!(e["service"]["name"], container, "{e}");
        assert_eq!(e["log"]["syslog"]["appname"], tag, "{e}");
        // `{{.ImageName}}/{{.Name}}`: the image and its tag.
        if let Some((image, _)) = tag.rsplit_once('/') {
            let (image_name, image_tag) = image.rsplit_once(':').unwrap();
            assert_eq!(e["container"]["image"]["name"], image_name, "{e}");
            assert_eq!(
                e["container"]["image"]["tags"],
                serde_json::json!([image_tag]),
                "{e}"
            );
        } else {
            assert!(e["container"].get("image").is_none(), "{e}");
        }
        // Docker's facility; the PID is dockerd's, the same for every line.
        assert_eq!(e["log"]["syslog"]["facility"]["name"], "daemon", "{e}");
        assert_eq!(e["log"]["syslog"]["procid"], pid.as_str(), "{e}");
        assert_eq!(e["log"]["syslog"]["msgid"].as_str(), msgid, "{e}");
        assert_eq!(e["host"]["name"].as_str(), host, "{e}");
        assert!(e["logmux"].get("truncated").is_none(), "{e}");
        assert!(e["logmux"].get("parse_error").is_none(), "{e}");
        // The line's time is the header's: within the run.
        let ts = DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap();
        let (from, to) = times;
        assert!(ts >= from && ts <= to, "{ts} not in {from}..{to}: {e}");
    }
    // stderr is not an error in itself; the traceback is.
    for e in stream(events, "stderr") {
        let want = if e["logmux"]["format"] == "python.traceback" {
            "ERROR"
        } else {
            "INFO"
        };
        assert_eq!(e["severity_text"], want, "{e}");
    }
    let tb = stream(events, "stderr")[1];
    assert_eq!(tb["exception"]["type"], "ZeroDivisionError");
    assert_eq!(tb["exception"]["message"], "division by zero");

    // Nothing else arrived: every syslog message is accounted for.
    let report = stopped
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["logmux"].get("messages").is_some())
        .unwrap_or_else(|| panic!("no final report:\n{}", stopped.stderr));
    let counts = &report["logmux"];
    assert_eq!(counts["messages"], expected_messages(), "{report}");
    assert_eq!(counts["events"], 7, "{report}");
    for zero in ["malformed", "truncated", "empty", "merged", "lost_bytes"] {
        assert_eq!(counts[zero], 0, "{zero}: {report}");
    }
}

#[test]
fn docker_rfc5424micro_over_tcp() {
    if !docker_ready("docker_rfc5424micro_over_tcp") {
        return;
    }
    let l = start(&["--tcp", ":0", "--output", "json"]);
    let name = Container::new("tcp");
    // Times in rfc5424micro are UTC with microseconds.
    let from = Utc::now() - Duration::from_secs(1);
    run_container(
        &name,
        &[
            format!("syslog-address=tcp://{}", l.tcp()),
            "syslog-format=rfc5424micro".into(),
            "tag={{.Name}}".into(),
        ],
    );
    // The daemon closes the connection when the container ends, which
    // writes what is held; wait for every event and for that close (all it
    // sent read), so that an extra event would be among the stopped ones.
    l.wait_for(7, 30);
    l.wait_until(30, "the daemon's connection closed", |l| {
        l.established() == 0
    });
    let to = Utc::now() + Duration::from_secs(1);
    let stopped = l.stop();
    check(
        &stopped,
        &name.0,
        &name.0,
        Some(&hostname()),
        Some(&name.0),
        (from, to),
    );
    for e in &stopped.events {
        // Microseconds from the header.
        let ts = e["timestamp"].as_str().unwrap();
        let frac = ts.split('.').nth(1).unwrap_or("");
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        assert_eq!(digits, 6, "{ts}");
    }
}

#[test]
fn docker_default_format_over_udp() {
    if !docker_ready("docker_default_format_over_udp") {
        return;
    }
    let l = start(&["--udp", ":0", "--output", "json"]);
    let name = Container::new("udp");
    // `{{.ImageName}}/{{.Name}}`: a tag with `/` and `:`; the container's
    // name is its last part. RFC 3164 times have whole seconds and no zone
    // (the daemon's local time, read as logmux's): allow a day either way.
    let from = Utc::now() - Duration::from_secs(86_400);
    run_container(
        &name,
        &[
            format!("syslog-address=udp://{}", l.udp()),
            "tag={{.ImageName}}/{{.Name}}".into(),
        ],
    );
    // The traceback waits for --idle-flush (1 s) once stderr goes quiet.
    // `docker run` returns after the daemon closed its logger, so all it
    // sent is here once the socket is read empty: extras are then among
    // the stopped events.
    l.wait_for(7, 30);
    l.wait_until(30, "every datagram read", |l| l.udp_unread() == 0);
    let to = Utc::now() + Duration::from_secs(86_400);
    let stopped = l.stop();
    let tag = format!("{IMAGE}/{}", name.0);
    check(&stopped, &name.0, &tag, None, None, (from, to));
}

/// What the program under `logmux run` in the container writes.
const RUN_CHILD: &str = r#"printf 'hello from the child\n'
printf '   indented\n'
printf 'Traceback (most recent call last):\n  File "/app/x.py", line 1, in <module>\n    1 / 0\nZeroDivisionError: division by zero\n' >&2
printf 'WARNING: after it\n' >&2
"#;

#[test]
fn logmux_run_in_a_container_is_merged_and_read_back() {
    if !docker_ready("logmux_run_in_a_container_is_merged_and_read_back") {
        return;
    }
    let l = start(&["--tcp", ":0", "--output", "json"]);
    let name = Container::new("run");
    let binary = format!("{}:/usr/local/bin/logmux:ro", env!("CARGO_BIN_EXE_logmux"));
    run_in_container(
        &name,
        &[
            format!("syslog-address=tcp://{}", l.tcp()),
            "syslog-format=rfc5424micro".into(),
            "tag={{.Name}}".into(),
        ],
        &["-v", &binary, "-e", "TZ=UTC"],
        &["logmux", "run", "--", "sh", "-c", RUN_CHILD],
    );
    // logmux's own: spawned, exited, stopping, exits; the child's four.
    l.wait_for(8, 30);
    l.wait_until(30, "the daemon's connection closed", |l| {
        l.established() == 0
    });
    // Docker's `logs` (its local cache beside the syslog driver) opens the
    // driver's connection too: read them while the listener is up.
    let logs = Command::new("docker")
        .args(["logs", "-t", &name.0])
        .output()
        .unwrap();
    assert!(logs.status.success(), "{logs:?}");
    let stopped = l.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let listened = &stopped.events;
    assert_eq!(listened.len(), 8, "{listened:#?}");
    let child: Vec<&Value> = listened
        .iter()
        .filter(|e| e["service"]["name"] == "sh")
        .collect();
    let got: Vec<(&str, &str, &str, &str)> = child
        .iter()
        .map(|e| {
            (
                e["message"].as_str().unwrap(),
                e["log"]["iostream"].as_str().unwrap(),
                e["severity_text"].as_str().unwrap(),
                e["logmux"]["format"].as_str().unwrap(),
            )
        })
        .collect();
    let traceback = "Traceback (most recent call last):\n  File \"/app/x.py\", line 1, in <module>\n    1 / 0\nZeroDivisionError: division by zero";
    let mut want = vec![
        ("hello from the child", "stdout", "INFO", "text"),
        ("   indented", "stdout", "INFO", "text"),
        (traceback, "stderr", "ERROR", "python.traceback"),
        ("WARNING: after it", "stderr", "WARN", "text"),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want);
    for e in listened {
        // Merged: the event's own fields, the container from the tag.
        assert_eq!(e["container"]["name"], name.0.as_str(), "{e}");
        assert_eq!(e["log"]["syslog"]["msgid"], name.0.as_str(), "{e}");
        assert!(e["logmux"]["format"] != "json", "{e}");
        assert!(!e["message"].as_str().unwrap().starts_with('{'), "{e}");
    }
    assert_eq!(
        listened
            .iter()
            .filter(|e| e["service"]["name"] == "logmux")
            .count(),
        4
    );
    let report = stopped
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["logmux"].get("merged").is_some())
        .unwrap();
    // The traceback's four lines are merged as the one event they are.
    assert_eq!(report["logmux"]["merged"], 8, "{report}");

    // `docker logs -t NAME 2>&1 | logmux filter`: the same events.
    let mut text = logs.stdout;
    text.extend_from_slice(&logs.stderr);
    let mut filter = Command::new(env!("CARGO_BIN_EXE_logmux"));
    filter
        .args(["filter", "--output", "json"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child_proc = filter.spawn().unwrap();
    {
        use std::io::Write;
        child_proc.stdin.take().unwrap().write_all(&text).unwrap();
    }
    let out = child_proc.wait_with_output().unwrap();
    assert!(out.status.success());
    let filtered = complete_lines(&out.stdout);
    assert_eq!(filtered.len(), 8, "{filtered:#?}");
    // Each one is the listened event without what the syslog envelope added.
    let strip = |e: &Value| {
        let mut e = e.clone();
        let o = e.as_object_mut().unwrap();
        for k in ["container", "host"] {
            o.remove(k);
        }
        if let Some(log) = o.get_mut("log").and_then(Value::as_object_mut) {
            log.remove("syslog");
            if log.is_empty() {
                o.remove("log");
            }
        }
        if o["service"]["name"] == "logmux" {
            // logmux's own events carry no stream; the envelope's was added.
            o.remove("log");
        }
        e
    };
    let key = |e: &Value| (e["timestamp"].to_string(), e["message"].to_string());
    let mut a: Vec<Value> = listened.iter().map(strip).collect();
    let mut b: Vec<Value> = filtered.iter().map(strip).collect();
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a, b);
}
