//! The real programs, live: runs Debian's nginx, uWSGI (with the Django app
//! in docker/app) and supervisord through `fixtures/generate.sh` into a
//! temporary directory, then checks what `logmux filter` makes of their
//! fresh output. The committed samples can grow stale; this cannot.
//!
//! It needs root and the Debian packages (tests/run-all.sh installs them);
//! without them it is skipped, a failure under CI or `LOGMUX_LIVE=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn generate() -> Option<PathBuf> {
    let mut needs = common::STACK.to_vec();
    needs.extend(["/usr/bin/supervisord", "/usr/bin/curl"]);
    let lacking = common::lacking(&needs);
    if !lacking.is_empty() {
        let why = format!("needs {}", lacking.join(", "));
        common::skip_or_fail("fresh_output_of_the_real_stack", &why);
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("logmux-live-{}", std::process::id()));
    // nginx binds the free port later than it is picked: exit 75 says
    // another program took it meanwhile, and the run is made again.
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let status = Command::new("bash")
            .arg(root.join("fixtures/generate.sh"))
            .env("OUT_DIR", &out)
            .env("STRICT", "0")
            .env("PORT", port.to_string())
            .status()
            .expect("run fixtures/generate.sh");
        if status.code() != Some(75) {
            assert!(status.success(), "fixtures/generate.sh failed: {status}");
            return Some(out);
        }
    }
    panic!("fixtures/generate.sh: 3 free ports were each taken before nginx bound them")
}

fn filter(path: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<&str> = extra.to_vec();
    args.push(path.to_str().unwrap_or_default());
    common::filter_json(&args, b"")
}

fn count(events: &[Value], format: &str) -> usize {
    events
        .iter()
        .filter(|e| e["logmux"]["format"] == format)
        .count()
}

/// Occurrences of a supervisord header `YYYY-MM-DD HH:MM:SS,mmm LEVEL `.
fn supervisord_headers(text: &str) -> usize {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..b.len())
        .filter(|&i| {
            let shape = [
                (4, b'-'),
                (7, b'-'),
                (10, b' '),
                (13, b':'),
                (16, b':'),
                (19, b','),
                (23, b' '),
            ];
            let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
            digits.iter().all(|&d| digit(i + d))
                && shape.iter().all(|&(o, c)| b.get(i + o) == Some(&c))
                && [
                    "CRIT ", "ERRO ", "WARN ", "INFO ", "DEBG ", "TRAC ", "BLAT ",
                ]
                .iter()
                .any(|l| b.get(i + 24..i + 29) == Some(l.as_bytes()))
        })
        .count()
}

#[test]
fn fresh_output_of_the_real_stack() {
    let Some(dir) = generate() else { return };
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(dir.join(name)).expect("sample")).into_owned()
    };

    // nginx access: every line one typed event, status as written.
    let raw = read("nginx-access.log");
    let events = filter(&dir.join("nginx-access.log"), &[]);
    assert_eq!(events.len(), raw.lines().count());
    assert_eq!(count(&events, "nginx.access"), events.len());
    for (line, e) in raw.lines().zip(&events) {
        let status = common::access_status(line);
        assert_eq!(e["http"]["response"]["status_code"], status, "{line}");
    }
    assert!(events
        .iter()
        .any(|e| e["http"]["response"]["status_code"] == 500));

    // The custom log_format, compiled from the very string nginx used.
    let format = read("nginx-access-custom.format");
    let events = filter(
        &dir.join("nginx-access-custom.log"),
        &["--nginx-log-format", format.trim_end()],
    );
    assert_eq!(count(&events, "nginx.access"), events.len());
    assert!(events
        .iter()
        .all(|e| e["http"]["server"]["request"]["duration"].is_number()));

    // nginx error: every line with a level parses, with its pid.
    let raw = read("nginx-error.log");
    let events = filter(&dir.join("nginx-error.log"), &[]);
    let with_level = raw
        .lines()
        .filter(|l| l.get(4..5) == Some("/") || l.starts_with("nginx: ["))
        .count();
    assert!(
        count(&events, "nginx.error") >= with_level,
        "{} < {with_level}",
        count(&events, "nginx.error")
    );
    assert!(events.iter().any(|e| e["message"]
        .as_str()
        .is_some_and(|m| m.contains("Connection refused"))
        && e["nginx"]["upstream"].is_string()));

    // uWSGI + Django: one event per traceback, every request line typed.
    for name in ["uwsgi.log", "uwsgi-logdate.log", "mixed.log"] {
        let raw = read(name);
        let events = filter(&dir.join(name), &[]);
        let django_500s = raw
            .lines()
            // Bare, or behind the example project's request-id format.
            .filter(|l| {
                l.starts_with("Internal Server Error: ")
                    || l.contains(" ERROR [django.request] [-] Internal Server Error: ")
            })
            .count();
        assert!(django_500s >= 1, "{name}: {django_500s}");
        assert_eq!(count(&events, "python.traceback"), django_500s, "{name}");
        let requests = raw
            .lines()
            .filter(|l| l.starts_with("[pid: ") || l.starts_with("{address space usage"))
            .count();
        assert_eq!(count(&events, "uwsgi.request"), requests, "{name}");
        for e in &events {
            let m = e["message"].as_str().unwrap_or("");
            assert!(!m.starts_with("  File \""), "{name}: orphaned frame {m}");
        }
    }

    // supervisord: each of its own lines split out, spliced or not.
    for name in ["supervisord.log", "supervisord-devnull.log"] {
        let raw = read(name);
        let events = filter(&dir.join(name), &[]);
        assert_eq!(
            count(&events, "supervisord"),
            supervisord_headers(&raw),
            "{name}"
        );
        for e in events
            .iter()
            .filter(|e| e["logmux"]["format"] != "supervisord")
        {
            assert_eq!(
                supervisord_headers(e["message"].as_str().unwrap_or("")),
                0,
                "{name}: {e}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
