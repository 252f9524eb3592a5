//! The syslog sink of `logmux run` against a real rsyslogd (Debian's
//! rsyslog, with rsyslog-gnutls for TLS): each test starts its own rsyslogd
//! on free ports in a temp dir, runs `logmux run` with a program printing
//! known lines (tests/writers/syslog-lines.sh), and checks what rsyslogd
//! wrote to its file, exactly: UDP with RFC 3164, TCP with octet counting
//! and RFC 5424, TCP with LF framing, TLS, and a unix datagram socket
//! (imuxsock). Then the hard cases: a receiver that is down when logmux
//! starts, one that restarts in the middle, a full queue with
//! `on_full = "drop"` (the counts add up exactly), and a server whose
//! certificate is not trusted (what was not delivered is reported at exit).
//!
//! logmux runs with `TZ=XYZ-5:30` (a POSIX zone, no tzdata needed), so the
//! headers must show local time at +05:30.

#[path = "support/rsyslog.rs"]
mod rsyslog;
#[path = "support/run.rs"]
mod support;

use rsyslog::{free_port, Ready, Rsyslog};
use serde_json::Value;
use support::*;

const ZONE: &str = "XYZ-5:30";
const OFFSET_MINUTES: i64 = 330;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// Runs `logmux run` on `config` (in the zone above) until it exits.
fn run_logmux(config: &str) -> Finished {
    start_with(config, |c| {
        c.env("TZ", ZONE);
    })
    .finish(120)
}

/// The pid of the program `app`, from logmux's `spawned` event.
fn app_pid(stderr: &str) -> i64 {
    let events = events(stderr);
    let spawned = own_with(&events, "spawned app");
    assert_eq!(spawned.len(), 1, "{stderr}");
    spawned[0]["logmux"]["pid"].as_i64().unwrap()
}

/// A config running tests/writers/syslog-lines.sh with both streams sent
/// to the syslog sink `s`, whose keys are `sink`.
fn lines_config(sink: &str) -> String {
    format!(
        r#"control_socket = ""
drain_timeout = "30s"
[sink.s]
type = "syslog"
{sink}
[program.app]
command = ["sh", "@WRITERS@/syslog-lines.sh"]
autorestart = "never"
stdout = {{ sink = "s" }}
stderr = {{ sink = "s" }}
"#
    )
}

const TRACEBACK: &str = "Traceback (most recent call last):#012  File \"/app/x.py\", line 3, in <module>#012    1/0#012ZeroDivisionError: division by zero";
const ACCESS: &str =
    "127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] \"GET /boom/ HTTP/1.1\" 500 145 \"-\" \"curl/7.88.1\"";
const JSON_LINE: &str = r#"{"level":"warning","msg":"cache miss","key":"a]b\"c\\d"}"#;

/// The `fields.log` lines rsyslogd writes for syslog-lines.sh sent as RFC
/// 5424 (`facility` 3, daemon): PRI, HOSTNAME, TAG, APP-NAME, PROCID, MSGID,
/// SD, MSG. Severity is each event's own; the stderr line is INFO.
fn expected_5424(pid: i64, host: &str) -> Vec<String> {
    let head = |sev: u8, msgid: &str| format!("{}|{host}|app[{pid}]|app|{pid}|{msgid}|", 24 + sev);
    let sd = |stream: &str, format: &str, rest: &str| {
        format!("[logmux@32473 stream=\"{stream}\" format=\"{format}\"{rest}]")
    };
    vec![
        format!(
            "{}{}|{ACCESS}",
            head(3, "nginx.access"),
            sd(
                "stdout",
                "nginx.access",
                " client.address=\"127.0.0.1\" http.request.method=\"GET\" http.response.body.size=\"145\" \
                 http.response.status_code=\"500\" network.protocol.name=\"http\" network.protocol.version=\"1.1\" \
                 nginx.request=\"GET /boom/ HTTP/1.1\" url.original=\"/boom/\" url.path=\"/boom/\" \
                 user_agent.original=\"curl/7.88.1\""
            )
        ),
        format!(
            "{}{}|    leading spaces kept",
            head(6, "text"),
            sd("stdout", "text", "")
        ),
        format!(
            "{}{}|{TRACEBACK}",
            head(3, "python.traceback"),
            sd(
                "stdout",
                "python.traceback",
                " exception.message=\"division by zero\" exception.type=\"ZeroDivisionError\""
            )
        ),
        format!(
            "{}{}|héllo wörld ✓ 日本",
            head(6, "text"),
            sd("stdout", "text", "")
        ),
        format!(
            "{}{}|{JSON_LINE}",
            head(4, "json"),
            sd(
                "stdout",
                "json",
                // `level` and `msg` became the event's severity and message.
                r#" key="a\]b\"c\\d""#
            )
        ),
        format!(
            "{}{}|INFO: worker ready",
            head(6, "text"),
            sd("stderr", "text", "")
        ),
    ]
}

/// Checks `actual` against `expected` line for line. The stderr line comes
/// from another pipe, so its place among the stdout lines is free: it is
/// the last expected line, and may be anywhere in `actual`.
fn assert_lines(actual: &[String], expected: &[String]) {
    let (stderr_line, stdout_lines) = expected.split_last().unwrap();
    let mut rest: Vec<&String> = actual.iter().collect();
    let at = rest.iter().position(|l| *l == stderr_line);
    assert!(
        at.is_some(),
        "no line\n{stderr_line}\nin\n{}",
        actual.join("\n")
    );
    rest.remove(at.unwrap_or(0));
    let rest: Vec<&str> = rest.iter().map(|s| s.as_str()).collect();
    let stdout_lines: Vec<&str> = stdout_lines.iter().map(|s| s.as_str()).collect();
    for (a, e) in rest.iter().zip(&stdout_lines) {
        assert_eq!(a, e);
    }
    assert_eq!(rest, stdout_lines);
}

/// Now, on the wall clock of the zone logmux runs in.
fn local_now() -> chrono::NaiveDateTime {
    (chrono::Utc::now() + chrono::Duration::minutes(OFFSET_MINUTES)).naive_utc()
}

/// Checks an RFC 3164 header time (`Nov  5 09:03:01`): local time, the day
/// padded with a space, written within the last minute.
fn assert_3164_time(raw: &str) {
    let now = local_now();
    let header = raw.get(..15).unwrap_or(raw);
    let recent = (0..60).any(|back| {
        let t = now - chrono::Duration::seconds(back);
        t.format("%b %e %H:%M:%S").to_string() == header
    });
    assert!(
        recent,
        "{header:?} is not a local time of the last minute ({now})"
    );
}

/// Checks an RFC 5424 header time: microseconds, the zone's offset, now.
fn assert_5424_time(time: &str) {
    assert_eq!(time.len(), 32, "{time}");
    assert!(time.ends_with("+05:30"), "{time}");
    let t = chrono::DateTime::parse_from_rfc3339(time).unwrap();
    let diff = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    assert!((0..60).contains(&diff), "{time} is not now");
    assert_eq!(time.as_bytes()[19], b'.');
    assert!(time[20..26].bytes().all(|b| b.is_ascii_digit()), "{time}");
}

#[test]
fn udp_rfc3164_local_time_and_the_configured_facility() {
    if !rsyslog::available("udp_rfc3164_local_time_and_the_configured_facility") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs = Rsyslog::udp(dir.path(), 0);
    let port = rs.port;
    let done = run_logmux(&lines_config(&format!(
        "address = \"udp://127.0.0.1:{port}\"\nformat = \"rfc3164\"\nfacility = \"local0\"\nhostname = \"web-1\""
    )));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let pid = app_pid(&done.stderr);
    let lines = rs.wait_lines("fields.log", 6, 20);
    // local0 is 16: PRI = 128 + severity. RFC 3164 has no SD or MSGID, and
    // rsyslog keeps the space after `TAG:` in MSG.
    let head = |pri: u8| format!("{pri}|web-1|app[{pid}]:|app|{pid}|-|-| ");
    let expected: Vec<String> = [
        (131, ACCESS),
        (134, "    leading spaces kept"),
        (131, TRACEBACK),
        (134, "héllo wörld ✓ 日本"),
        (132, JSON_LINE),
        (134, "INFO: worker ready"),
    ]
    .iter()
    .map(|(pri, msg)| format!("{}{msg}", head(*pri)))
    .collect();
    assert_lines(&lines, &expected);
    for raw in rs.lines("raw.log") {
        let rest = raw
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .unwrap()
            .1;
        assert_3164_time(rest);
        let after_time = &rest[15..];
        assert!(
            after_time.starts_with(&format!(" web-1 app[{pid}]: ")),
            "{raw}"
        );
    }
}

#[test]
fn tcp_octet_counting_rfc5424_with_structured_data() {
    if !rsyslog::available("tcp_octet_counting_rfc5424_with_structured_data") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs = Rsyslog::tcp(dir.path(), 0);
    let port = rs.port;
    let done = run_logmux(&lines_config(&format!(
        "address = \"tcp://127.0.0.1:{port}\"\nfacility = \"daemon\""
    )));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let pid = app_pid(&done.stderr);
    let lines = rs.wait_lines("fields.log", 6, 20);
    assert_lines(&lines, &expected_5424(pid, &hostname()));
    for raw in rs.lines("raw.log") {
        let mut parts = raw.splitn(3, ' ');
        assert!(parts.next().unwrap().ends_with(">1"), "{raw}");
        assert_5424_time(parts.next().unwrap());
    }
}

#[test]
fn tcp_lf_framing_keeps_a_traceback_one_message() {
    if !rsyslog::available("tcp_lf_framing_keeps_a_traceback_one_message") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs = Rsyslog::tcp(dir.path(), 0);
    let port = rs.port;
    let done = run_logmux(&lines_config(&format!(
        "address = \"tcp://127.0.0.1:{port}\"\nframing = \"lf\"\nfacility = \"daemon\""
    )));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let pid = app_pid(&done.stderr);
    // Six messages, not nine: the traceback's LFs went as #012.
    let lines = rs.wait_lines("fields.log", 6, 20);
    assert_lines(&lines, &expected_5424(pid, &hostname()));
}

#[test]
fn tls_with_rsyslog_gtls() {
    if !rsyslog::available("tls_with_rsyslog_gtls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    rsyslog::make_certificates(dir.path());
    let d = dir.path().display();
    let rs = Rsyslog::tls(dir.path(), 0);
    let port = rs.port;
    let done = run_logmux(&lines_config(&format!(
        "address = \"tls://127.0.0.1:{port}\"\ntls_ca = \"{d}/ca.pem\"\nfacility = \"daemon\"\nhostname = \"web-1\""
    )));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let pid = app_pid(&done.stderr);
    let lines = rs.wait_lines("fields.log", 6, 20);
    assert_lines(&lines, &expected_5424(pid, "web-1"));
    // By name, too: the certificate names localhost.
    let done = run_logmux(&lines_config(&format!(
        "address = \"tls://localhost:{port}\"\ntls_ca = \"{d}/ca.pem\"\nfacility = \"daemon\"\nhostname = \"web-1\""
    )));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(rs.wait_lines("fields.log", 12, 20).len(), 12);
}

#[test]
fn unix_datagram_socket_with_the_json_event() {
    if !rsyslog::available("unix_datagram_socket_with_the_json_event") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log.sock");
    let rs = Rsyslog::start(
        dir.path(),
        "",
        r#"module(load="imuxsock" sysSock.use="off")"#,
        &format!(
            r#"input(type="imuxsock" socket="{}" rateLimit.interval="0" ruleset="in")"#,
            socket.display()
        ),
        Ready::Socket("log.sock"),
    );
    let done = run_logmux(&lines_config(&format!(
        "address = \"unix://{}\"\nfacility = \"local7\"\nmessage = \"json\"",
        socket.display()
    )));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let pid = app_pid(&done.stderr);
    let lines = rs.wait_lines("fields.log", 6, 20);
    assert_eq!(lines.len(), 6, "{}", lines.join("\n"));
    // No HOSTNAME is sent on a local socket (rsyslog puts its own), as
    // glibc's syslog() does; the body is the JSON event.
    let host = hostname();
    let mut seen = Vec::new();
    for line in &lines {
        let fields: Vec<&str> = line.splitn(8, '|').collect();
        let head = format!("{host}|app[{pid}]:|app|{pid}|-|-");
        assert_eq!(fields[1..7].join("|"), head, "{line}");
        let event: Value = serde_json::from_str(fields[7].trim_start()).unwrap();
        assert_eq!(event["service"]["name"], "app");
        assert_eq!(event["process"]["pid"], pid);
        // local7 is 23: PRI = 184 + the event's severity.
        // (By number: severity_text is the source's own word, `warning`.)
        let severity = match event["severity_number"].as_u64().unwrap() {
            17.. => 3,
            13..=16 => 4,
            _ => 6,
        };
        assert_eq!(fields[0], (184 + severity).to_string(), "{line}");
        seen.push((
            event["log"]["iostream"].as_str().unwrap().to_string(),
            event["message"].as_str().unwrap().to_string(),
        ));
    }
    seen.sort();
    let mut expected: Vec<(String, String)> = [
        ("stdout", ACCESS),
        ("stdout", "    leading spaces kept"),
        ("stdout", &TRACEBACK.replace("#012", "\n")),
        ("stdout", "héllo wörld ✓ 日本"),
        ("stdout", "cache miss"), // JSON_LINE's msg
        ("stderr", "INFO: worker ready"),
    ]
    .iter()
    .map(|(s, m)| (s.to_string(), m.to_string()))
    .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

/// A config whose program `app` prints `line 1` … `line N` as `script` says.
fn counting_config(sink: &str, script: &str) -> String {
    format!(
        r#"control_socket = ""
drain_timeout = "60s"
drop_report = "1s"
[sink.s]
type = "syslog"
{sink}
[program.app]
command = ["sh", "-c", '{script}']
autorestart = "never"
stdout = {{ sink = "s", format = "text" }}
"#
    )
}

/// The MSGs of `fields.log` lines.
fn messages(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.rsplit('|').next().unwrap().to_string())
        .collect()
}

fn numbered(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

#[test]
fn a_receiver_down_at_start_gets_every_line_once_in_order() {
    if !rsyslog::available("a_receiver_down_at_start_gets_every_line_once_in_order") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The receiver is down at first: its port is picked now and bound
    // later (rsyslogd fails loudly if another program took it meanwhile).
    let port = free_port();
    let half = dir.path().join("half");
    let run = start_with(
        &counting_config(
            &format!("address = \"tcp://127.0.0.1:{port}\""),
            &format!(
                "for i in $(seq 1 300); do echo \"line $i\"; [ $i != 100 ] || touch {}; sleep 0.01; done",
                half.display()
            ),
        ),
        |c| {
            c.env("TZ", ZONE);
        },
    );
    run.wait_for(20, "the refused connection", |_, err| {
        err.contains("sink s: cannot connect to tcp://127.0.0.1")
    });
    // The receiver starts when a third of the lines waited for it.
    run.wait_for(20, "line 100 written", |_, _| half.exists());
    let rs = Rsyslog::tcp(dir.path(), port);
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = rs.wait_lines("fields.log", 300, 30);
    assert_eq!(messages(&lines), numbered(1..=300));
    let own = events(&done.stderr);
    assert_eq!(own_with(&own, "sink s: cannot connect").len(), 1);
    assert_eq!(own_with(&own, "sink s: connected to").len(), 1);
    assert!(own_with(&own, "sink s: ")
        .iter()
        .all(|e| !e["message"].as_str().unwrap().contains("not delivered")));
}

#[test]
fn a_receiver_that_restarts_loses_nothing() {
    if !rsyslog::available("a_receiver_that_restarts_loses_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::tcp(dir.path(), 0);
    let port = rs.port;
    let go = dir.path().join("go");
    let run = start_with(
        &counting_config(
            &format!("address = \"tcp://127.0.0.1:{port}\""),
            &format!(
                "for i in $(seq 1 50); do echo \"line $i\"; done; while [ ! -e {} ]; do sleep 0.05; done; for i in $(seq 51 100); do echo \"line $i\"; done",
                go.display()
            ),
        ),
        |c| {
            c.env("TZ", ZONE);
        },
    );
    rs.wait_lines("fields.log", 50, 30);
    rs.stop();
    std::fs::write(&go, "").unwrap();
    run.wait_for(20, "the closed connection", |_, err| {
        err.contains("closed the connection")
    });
    // The receiver is back only after logmux found it down.
    run.wait_for(20, "a refused reconnection", |_, err| {
        err.contains("sink s: cannot connect to tcp://127.0.0.1")
    });
    rs.restart();
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = rs.wait_lines("fields.log", 100, 30);
    assert_eq!(messages(&lines), numbered(1..=100));
}

#[test]
fn drop_policy_counts_add_up_exactly() {
    if !rsyslog::available("drop_policy_counts_add_up_exactly") {
        return;
    }
    const N: u32 = 2000;
    let dir = tempfile::tempdir().unwrap();
    // Nobody listens at first: as in the test above.
    let port = free_port();
    let run = start_with(
        &counting_config(
            &format!("address = \"tcp://127.0.0.1:{port}\"\non_full = \"drop\"\nqueue = \"4KiB\""),
            // 2000 lines of 110 bytes: more than a pipe holds, so several
            // reads, and every batch after the first finds the queue full.
            &format!(
                "pad=$(printf %0100d 0); for i in $(seq 1 {N}); do echo \"line $i $pad\"; done"
            ),
        ),
        |c| {
            c.env("TZ", ZONE);
        },
    );
    // The program has printed everything while nobody listened.
    run.wait_for(30, "the program's end", |_, err| err.contains("app exited"));
    let rs = Rsyslog::tcp(dir.path(), port);
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let own = events(&done.stderr);
    let dropped = own_with(&own, "dropped ")
        .iter()
        .filter(|e| e["logmux"]["sink"] == "s")
        .map(|e| e["logmux"]["dropped_total"].as_u64().unwrap())
        .max()
        .unwrap_or(0);
    let delivered = N as u64 - dropped;
    assert!(dropped > 0 && delivered > 0, "dropped {dropped}");
    let lines = rs.wait_lines("fields.log", delivered as usize, 30);
    // Exactly the lines not dropped: distinct, in order, none invented.
    let got: Vec<u32> = messages(&lines)
        .iter()
        .map(|m| {
            let rest = m.strip_prefix("line ").unwrap();
            rest.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(got.len() as u64 + dropped, N as u64);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    assert_eq!(got[0], 1, "the first batch waits in the queue");
}

#[test]
fn an_untrusted_server_gets_nothing_and_the_loss_is_reported() {
    if !rsyslog::available("an_untrusted_server_gets_nothing_and_the_loss_is_reported") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    rsyslog::make_certificates(dir.path());
    let d = dir.path().display();
    let rs = Rsyslog::tls(dir.path(), 0);
    let port = rs.port;
    let config = counting_config(
        &format!("address = \"tls://127.0.0.1:{port}\"\ntls_ca = \"{d}/other-ca.pem\""),
        "for i in 1 2 3; do echo \"line $i\"; done",
    )
    .replace("drain_timeout = \"60s\"", "drain_timeout = \"1s\"");
    let done = run_logmux(&config);
    // The program ended well, but its events were lost: exit::EVENTS_LOST.
    assert_eq!(done.code, Some(75), "{}", done.stderr);
    let own = events(&done.stderr);
    let refused = own_with(&own, "sink s: cannot connect");
    assert_eq!(refused.len(), 1, "{}", done.stderr);
    let why = refused[0]["message"].as_str().unwrap();
    assert!(
        why.contains("invalid peer certificate: UnknownIssuer"),
        "{why}"
    );
    let lost = own_with(&own, "sink s: 3 events (");
    assert_eq!(lost.len(), 1, "{}", done.stderr);
    assert_eq!(lost[0]["logmux"]["undelivered"], 3);
    assert_eq!(lost[0]["logmux"]["lost"], 0);
    assert!(rs.lines("fields.log").is_empty());
}

#[test]
fn tls_server_name_is_the_name_the_certificate_must_carry() {
    if !rsyslog::available("tls_server_name_is_the_name_the_certificate_must_carry") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    rsyslog::make_certificates(dir.path());
    let port = free_port();
    let d = dir.path().display();
    let rs = Rsyslog::tls(dir.path(), port);
    // The certificate carries 127.0.0.1 and localhost: by IP it would pass,
    // so a refusal can only come from the name asked for.
    let sink = |name: &str| {
        format!("address = \"tls://127.0.0.1:{port}\"\ntls_ca = \"{d}/ca.pem\"\ntls_server_name = \"{name}\"")
    };
    let config = counting_config(&sink("logs.example.org"), "echo line 1")
        .replace("drain_timeout = \"60s\"", "drain_timeout = \"1s\"");
    let done = run_logmux(&config);
    // The program ended well, but its events were lost: exit::EVENTS_LOST.
    assert_eq!(done.code, Some(75), "{}", done.stderr);
    let own = events(&done.stderr);
    let refused = own_with(&own, "sink s: cannot connect");
    assert_eq!(refused.len(), 1, "{}", done.stderr);
    let why = refused[0]["message"].as_str().unwrap();
    assert!(
        why.contains("certificate not valid for name \"logs.example.org\""),
        "{why}"
    );
    assert_eq!(
        own_with(&own, "sink s: 1 events (").len(),
        1,
        "{}",
        done.stderr
    );
    assert!(rs.lines("fields.log").is_empty());

    let done = run_logmux(&counting_config(&sink("localhost"), "echo line 1"));
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(messages(&rs.wait_lines("fields.log", 1, 20)), ["line 1"]);
}

#[test]
fn check_reports_a_bad_syslog_value_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &lines_config("address = \"tcp://127.0.0.1:514\"\nfacility = \"local9\""),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let said = events(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(said.len(), 1);
    assert_eq!(
        said[0]["message"],
        format!(
            "{}:6:12: sink.s.facility: `local9` is not a facility: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock_daemon, local0 … local7",
            config.display()
        )
    );
}
