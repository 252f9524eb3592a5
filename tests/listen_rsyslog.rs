//! `logmux listen` behind Debian's rsyslog: `logger` writes to an rsyslog
//! of our own (its imuxsock on a socket in a temp dir), which forwards
//! everything with omfwd over TCP to two listeners, one octet-counted with
//! rsyslog's RFC 5424 template, one newline-framed with its traditional
//! (RFC 3164) forwarding format. Counts and fields are checked exactly.
//!
//! Needs `rsyslogd` (Debian's `rsyslog`); `tests/run-all.sh` installs it.
//! Without it the test is skipped, a failure under CI or `LOGMUX_LIVE=1`.

#[path = "support/rsyslog_relay.rs"]
mod rsyslog_relay;
#[path = "support/listen.rs"]
mod support;

use std::time::{Duration, Instant};

use rsyslog_relay::{start_rsyslogd, Rsyslog};
use serde_json::Value;
use support::*;

const LINES: usize = 1000;

fn have_rsyslogd() -> bool {
    let found = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if !found {
        skip_or_fail(
            "listen_rsyslog",
            "rsyslogd is not installed (apt-get install rsyslog)",
        );
    }
    found
}

fn start_rsyslog(dir: &std::path::Path, octet_port: u16, lf_port: u16) -> (Rsyslog, String) {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let socket = dir.join("in.sock");
    let conf = format!(
        r#"global(workDirectory="{work}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}" RateLimit.Interval="0")
action(type="omfwd" target="127.0.0.1" port="{octet_port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="{lf_port}" protocol="tcp")
"#,
        work = work.display(),
        socket = socket.display(),
    );
    let rsyslog = start_rsyslogd(dir, &conf, &socket);
    (rsyslog, socket.display().to_string())
}

fn messages(events: &[Value], tag: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["service"]["name"] == tag)
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rsyslog_forwards_octet_counted_and_newline_framed() {
    if !have_rsyslogd() {
        return;
    }
    let octet = start(&["--tcp", ":0"]);
    let lf = start(&["--tcp", ":0"]);
    let dir = tempfile::tempdir().unwrap();
    let (mut rsyslog, socket) = start_rsyslog(dir.path(), octet.tcp().port(), lf.tcp().port());
    let host = hostname();

    let lines: Vec<String> = (0..LINES)
        .map(|i| format!("{}line {i:04} of the burst", " ".repeat(i % 3)))
        .collect();
    let file = dir.path().join("lines.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    logger(&["-u", &socket, "-t", "burst", "-f", file.to_str().unwrap()]);
    logger(&[
        "-u",
        &socket,
        "-t",
        "web-1",
        "--id=4242",
        "-p",
        "daemon.err",
        "docker-like",
    ]);
    logger(&[
        "-u",
        &socket,
        "-t",
        "nginx:1.25/web-1",
        "-p",
        "local2.warning",
        "tagged",
    ]);

    let total = LINES + 2;
    octet.wait_for(total, 60);
    lf.wait_for(total, 60);
    // rsyslogd stops (and so flushes its queues) on TERM.
    // SAFETY: kill with the pid of the rsyslogd we started.
    unsafe {
        libc::kill(rsyslog.0.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while rsyslog.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let octet = octet.stop();
    let lf = lf.stop();
    assert_eq!(octet.code, Some(0), "{}", octet.stderr);
    assert_eq!(lf.code, Some(0), "{}", lf.stderr);
    assert_eq!(octet.events.len(), total, "octet-counted");
    assert_eq!(lf.events.len(), total, "newline-framed");
    for e in octet.events.iter().chain(&lf.events) {
        assert_eq!(e["host"]["name"], host.as_str(), "{e}");
        assert!(e["logmux"].get("parse_error").is_none(), "{e}");
    }

    // rsyslog's traditional format: `<PRI>TIME HOST TAG: MSG`. Its MSG
    // starts with the space after the tag, which is the separator: every
    // body comes out as logger sent it, leading spaces kept.
    assert_eq!(messages(&lf.events, "burst"), lines);
    let burst = lf
        .events
        .iter()
        .find(|e| e["service"]["name"] == "burst")
        .unwrap();
    assert_eq!(burst["log"]["syslog"]["facility"]["name"], "user");
    assert_eq!(burst["severity_number"], 10);
    // Relayed with the shape of Docker's rfc3164 format (daemon, info/err,
    // TAG[PID]): read as a container's stderr.
    let docker = one_with_message(&lf.events, "docker-like");
    assert_eq!(docker["container"]["name"], "web-1");
    assert_eq!(docker["log"]["iostream"], "stderr");
    assert_eq!(docker["log"]["syslog"]["procid"], "4242");
    assert_eq!(docker["severity_text"], "INFO");
    let tagged = one_with_message(&lf.events, "tagged");
    assert_eq!(tagged["service"]["name"], "nginx:1.25/web-1");
    assert_eq!(tagged["severity_text"], "warning");
    assert_eq!(tagged["log"]["syslog"]["facility"]["name"], "local2");

    // rsyslog's RFC 5424 template puts its MSG (with that leading space)
    // after the header as it is, so each body has one space more; APP-NAME
    // is rsyslog's program name, the tag up to its first `:`.
    let spaced: Vec<String> = lines.iter().map(|l| format!(" {l}")).collect();
    assert_eq!(messages(&octet.events, "burst"), spaced);
    let docker = one_with_message(&octet.events, " docker-like");
    assert_eq!(docker["service"]["name"], "web-1");
    assert_eq!(docker["log"]["syslog"]["procid"], "4242");
    // No MSGID = APP-NAME: not Docker's shape, so the PRI's err counts.
    assert!(docker.get("container").is_none(), "{docker}");
    assert_eq!(docker["severity_text"], "err");
    let tagged = one_with_message(&octet.events, " tagged");
    assert_eq!(tagged["service"]["name"], "nginx");
    assert_eq!(tagged["severity_text"], "warning");
    // RFC 5424 times come with microseconds.
    let ts = tagged["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-11-25T23:43:38.696341+00:00".len(), "{ts}");
}
