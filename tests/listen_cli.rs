//! `logmux listen` end to end: flags and exit codes, stopping (held lines
//! are written first), a reader that goes away, `--out-dir`, Docker's 16 KiB
//! pieces, and bodies that are logmux events.

#[path = "support/listen.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::*;

fn logmux() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logmux"));
    c.env("TZ", "UTC");
    c
}

/// A line as Docker's default syslog format sends it (no hostname).
fn docker_default(severity: u8, tag: &str, msg: &str) -> Vec<u8> {
    format!("<{}>Nov 25 23:29:21 {tag}[812]: {msg}\n", 24 + severity).into_bytes()
}

#[test]
fn at_least_one_listener_is_required() {
    let out = logmux()
        .args(["listen", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--udp") && err.contains("--tcp"), "{err}");
}

#[test]
fn a_bad_address_is_a_usage_error() {
    let out = logmux()
        .args(["listen", "--udp", "nowhere:x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not an address like :5514"), "{err}");
}

#[test]
fn a_taken_address_exits_71() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let out = logmux()
        .args(["listen", "--unix"])
        .arg(&sock)
        .args(["--tcp", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(71));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on tcp://{addr}")),
        "{err}"
    );
    // The socket bound before the failure is removed again.
    assert!(!exists(&sock));
}

#[test]
fn stopping_writes_what_is_held() {
    let l = start(&["--udp", ":0", "--idle-flush", "60s"]);
    // A traceback's first lines, then INT before it ends: held, not lost.
    send_udp(
        l.udp(),
        &[
            &docker_default(3, "web-1", "Traceback (most recent call last):"),
            &docker_default(3, "web-1", "  File \"x.py\", line 1, in <module>"),
            // Another container's line comes out at once: when it is out,
            // the traceback before it was read too.
            &docker_default(6, "db-1", "marker"),
        ],
    );
    l.wait_for(1, 20);
    assert_eq!(l.count(), 1, "the traceback is held back until it ends");
    l.signal(libc::SIGINT);
    let done = l.finish(20);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.events.len(), 2, "{:#?}", done.events);
    assert_eq!(done.events[0]["message"], "marker");
    assert_eq!(
        done.events[1]["message"],
        "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>"
    );
    assert_eq!(done.events[1]["logmux"]["format"], "python.traceback");
    assert_eq!(done.events[1]["container"]["name"], "web-1");
    let own = complete_lines(done.stderr.as_bytes());
    let last = own.last().unwrap();
    assert_eq!(last["logmux"]["messages"], 3, "{last}");
    assert_eq!(last["logmux"]["events"], 2, "{last}");
}

#[test]
fn a_traceback_idle_for_idle_flush_comes_out_while_running() {
    let l = start(&["--udp", ":0", "--idle-flush", "300ms"]);
    send_udp(
        l.udp(),
        &[&docker_default(
            3,
            "web-1",
            "Traceback (most recent call last):",
        )],
    );
    l.wait_for(1, 10);
    let ev = l.events();
    assert_eq!(ev[0]["logmux"]["format"], "python.traceback");
    let done = l.stop();
    assert_eq!(done.code, Some(0));
    assert_eq!(done.events.len(), 1);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = logmux()
        .args(["listen", "--udp", ":0", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reads below block: a logmux that hangs is killed after 20 s, so
    // that they end (at EOF) and the test fails instead of hanging.
    let (read, watchdog) = std::sync::mpsc::channel::<()>();
    let pid = child.id() as i32;
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            watchdog.recv_timeout(Duration::from_secs(20))
        {
            // SAFETY: our child, not reaped before this thread is joined.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let first: Value = serde_json::from_str(&line).unwrap();
    let addr = first["logmux"]["address"].as_str().unwrap();
    let addr: std::net::SocketAddr = addr.strip_prefix("udp://").unwrap().parse().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    send_udp(addr, &[&docker_default(6, "web-1", "first")]);
    let mut event = String::new();
    stdout.read_line(&mut event).unwrap();
    assert!(event.contains("\"first\""), "{event}");
    read.send(()).unwrap();
    watchdog.join().unwrap();
    // The reader goes away, as `| head -1` does; more lines until it exits.
    drop(stdout);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        send_udp(addr, &[&docker_default(6, "web-1", "more")]);
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logmux listen did not exit within 20 s of its reader going away");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(!rest.contains("\"ERROR\""), "{rest}");
}

#[test]
fn out_dir_has_one_file_per_container() {
    let l = start(&[
        "--udp",
        ":0",
        "--out-dir",
        "@DIR@/logs",
        "--max-file-size",
        "2KiB",
        "--max-files",
        "2",
    ]);
    let port = l.udp().port().to_string();
    let udp = ["--udp", "-n", "127.0.0.1", "-P", &port];
    // Docker's rfc5424 shape: MSGID = APP-NAME, no structured data.
    let docker = |tag: &'static str| -> Vec<&str> {
        let mut a = udp.to_vec();
        a.extend([
            "--rfc5424=notq",
            "--id=812",
            "-p",
            "daemon.info",
            "-t",
            tag,
            "--msgid",
            tag,
        ]);
        a
    };
    let lines: String = (0..30).map(|i| format!("web line {i:02}\n")).collect();
    let file = l.path("web.txt");
    std::fs::write(&file, lines).unwrap();
    logger(&[&docker("web-1")[..], &["-f", file.to_str().unwrap()]].concat());
    logger(&[&docker("db-1")[..], &["db line"]].concat());
    logger(&[&docker("../../escape")[..], &["no way out"]].concat());
    logger(&[&udp[..], &["-t", "cron", "not a container"]].concat());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let logs = l.path("logs");
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    while !read("web-1.jsonl").contains("web line 29") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.events.is_empty(), "nothing on stdout");
    let logs = done.dir.path().join("logs");
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "_syslog.jsonl",
            "db-1.jsonl",
            "escape.jsonl",
            "web-1.jsonl",
            "web-1.jsonl.1",
            "web-1.jsonl.2"
        ]
    );
    let events = |name: &str| complete_lines(read(name).as_bytes());
    let db = events("db-1.jsonl");
    assert_eq!(db.len(), 1);
    assert_eq!(db[0]["message"], "db line");
    assert_eq!(db[0]["container"]["name"], "db-1");
    let other = events("_syslog.jsonl");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0]["message"], "not a container");
    assert!(other[0].get("container").is_none());
    // The container's name, not the whole tag (docs/schema.md).
    assert_eq!(events("escape.jsonl")[0]["service"]["name"], "escape");
    // Rotated by size, the newest kept, in order, none cut.
    let web: Vec<String> = ["web-1.jsonl.2", "web-1.jsonl.1", "web-1.jsonl"]
        .iter()
        .flat_map(|n| events(n))
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    let first = 30 - web.len();
    let want: Vec<String> = (first..30).map(|i| format!("web line {i:02}")).collect();
    assert_eq!(web, want);
    for n in ["web-1.jsonl", "web-1.jsonl.1", "web-1.jsonl.2"] {
        assert!(read(n).len() <= 2048, "{n}");
    }
    // Each rotated file was rotated only because the next event would
    // have passed 2 KiB: the files hold as many events as fit, no fewer.
    let first_line = |n: &str| read(n).lines().next().map_or(0, |l| l.len() + 1);
    for (full, next) in [
        ("web-1.jsonl.2", "web-1.jsonl.1"),
        ("web-1.jsonl.1", "web-1.jsonl"),
    ] {
        assert!(
            read(full).len() + first_line(next) > 2048,
            "{full} is not full"
        );
    }
}

#[test]
fn docker_pieces_of_16k_are_joined() {
    let l = start(&["--udp", ":0", "--tcp", ":0"]);
    let line: String = (0..40_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    // Docker's copier sends a long line in 16,384-byte pieces.
    let pieces: Vec<Vec<u8>> = line
        .as_bytes()
        .chunks(16 * 1024)
        .map(|p| docker_default(6, "web-1", std::str::from_utf8(p).unwrap()))
        .collect();
    let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
    send_udp(l.udp(), &refs);
    send_tcp(l.tcp(), &pieces.concat());
    // A line of exactly 16 KiB, and a next line well after it: two lines.
    let exact = "x".repeat(16 * 1024);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&docker_default(6, "db-1", &exact), l.udp())
        .unwrap();
    // It comes out alone once its join window passed: only then the next.
    l.wait_for(3, 20);
    sock.send_to(&docker_default(6, "db-1", "next"), l.udp())
        .unwrap();
    l.wait_for(4, 20);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ev = &done.events;
    assert_eq!(ev.len(), 4, "{}", ev.len());
    let joined = with_message(ev, &line);
    assert_eq!(joined.len(), 2);
    assert!(joined
        .iter()
        .all(|e| e.get("logmux").unwrap().get("truncated").is_none()));
    assert_eq!(one_with_message(ev, &exact)["container"]["name"], "db-1");
    one_with_message(ev, "next");
}

#[test]
fn logmux_events_in_bodies_are_merged_not_wrapped() {
    // Real events: what `logmux filter` makes of real nginx and Django lines.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mixed.log");
    let out = logmux()
        .args(["filter", "--output", "json", fixture])
        .output()
        .unwrap();
    assert!(out.status.success());
    let inner: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(inner.len(), 116, "the events of fixtures/mixed.log");
    let l = start(&["--udp", ":0"]);
    let datagrams: Vec<Vec<u8>> = inner
        .iter()
        .map(|e| {
            format!("<30>1 2026-11-25T23:29:21.123456+00:00 dockerhost nginx:1.25/web-1 812 nginx:1.25/web-1 - {e}\n")
                .into_bytes()
        })
        .collect();
    let refs: Vec<&[u8]> = datagrams.iter().map(Vec::as_slice).collect();
    send_udp(l.udp(), &refs);
    l.wait_for(inner.len(), 20);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.events.len(), inner.len());
    for (got, want) in done.events.iter().zip(&inner) {
        let mut want: Value = serde_json::from_str(want).unwrap();
        let w = want.as_object_mut().unwrap();
        // The envelope is added; everything else is as the container wrote it.
        // The tag `{{.ImageName}}/{{.Name}}` gives the container and its image.
        w.insert(
            "container".into(),
            serde_json::json!({"name": "web-1", "image": {"name": "nginx", "tags": ["1.25"]}}),
        );
        w.insert("host".into(), serde_json::json!({"name": "dockerhost"}));
        if !w.contains_key("service") {
            w.insert("service".into(), serde_json::json!({"name": "web-1"}));
        }
        let log = w.entry("log").or_insert_with(|| serde_json::json!({}));
        if log.get("iostream").is_none() {
            log["iostream"] = "stdout".into();
        }
        // ECS's log.syslog.* from the RFC 5424 header.
        log["syslog"] = serde_json::json!({
            "appname": "nginx:1.25/web-1",
            "facility": {"name": "daemon"},
            "hostname": "dockerhost",
            "msgid": "nginx:1.25/web-1",
            "priority": 30,
            "procid": "812"
        });
        assert_eq!(got, &want);
    }
    let own = complete_lines(done.stderr.as_bytes());
    assert_eq!(own.last().unwrap()["logmux"]["merged"], inner.len());
}

/// Issue 18 under `listen`: a Django record with its request's id (the
/// example project's format) gets the request's trace id and uWSGI's span
/// id, as under `filter` and `run`; one with `-` gets none.
#[test]
fn request_ids_become_trace_ids() {
    let l = start(&["--udp", ":0"]);
    let t = "b7ad6b7169203331b7ad6b7169203331";
    send_udp(
        l.udp(),
        &[
            &docker_default(
                4,
                "web-1",
                &format!("2026-12-04 18:36:00,866 WARNING [demo] [{t}] demo warning"),
            ),
            &docker_default(
                4,
                "web-1",
                "2026-12-04 18:36:00,867 WARNING [demo] [-] no request",
            ),
        ],
    );
    l.wait_for(2, 20);
    l.signal(libc::SIGINT);
    let done = l.finish(20);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.events.len(), 2, "{:#?}", done.events);
    let e = &done.events[0];
    assert_eq!(e["logmux"]["format"], "django", "{e}");
    assert_eq!(e["log"]["logger"], "demo", "{e}");
    assert_eq!(e["trace_id"], t, "{e}");
    let id = logmux_parsers::trace_context::trace_id(t).unwrap();
    let span = logmux::trace::ids::span_id(&id, logmux::trace::ids::SpanRole::Uwsgi);
    assert_eq!(
        e["span_id"],
        logmux_parsers::trace_context::to_hex(&span),
        "{e}"
    );
    assert!(done.events[1]["trace_id"].is_null(), "{}", done.events[1]);
    assert!(done.events[1]["span_id"].is_null(), "{}", done.events[1]);
}
