//! `logmux listen --sink NAME`: the events go to a `[sink.NAME]` of
//! `--config` instead of stdout, through the same sink layer as `logmux
//! run`. Here a syslog sink relays to a real rsyslogd (a private one on a
//! free port, tests/support/rsyslog.rs), and what rsyslogd wrote is checked
//! exactly.

#[path = "support/rsyslog.rs"]
mod rsyslog;
#[path = "support/listen.rs"]
mod support;

use rsyslog::{free_port, Rsyslog};
use support::{send_tcp, start};

#[test]
fn listen_relays_to_rsyslog_through_a_syslog_sink() {
    if !rsyslog::available("listen_relays_to_rsyslog_through_a_syslog_sink") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rsyslog = Rsyslog::tcp(dir.path(), port);
    let config = dir.path().join("listen.toml");
    std::fs::write(
        &config,
        format!(
            "[sink.syslog-forward]\ntype = \"syslog\"\naddress = \"tcp://127.0.0.1:{port}\"\n\
             format = \"rfc5424\"\nhostname = \"relay\"\nfacility = \"local3\"\nmessage = \"line\"\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let l = start(&[
        "--tcp",
        "127.0.0.1:0",
        "--config",
        &config,
        "--sink",
        "syslog-forward",
    ]);
    let access =
        "127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] \"GET /boom/ HTTP/1.1\" 500 145 \"-\" \"curl/7.88.1\"";
    let frames = format!(
        "<14>1 2026-11-25T19:39:25Z web myapp 42 - - hello one\n\
         <11>1 2026-11-25T19:39:26Z web myapp 42 - - something failed\n\
         <13>1 2026-11-25T19:39:27Z web nginx 7 - - {access}\n"
    );
    send_tcp(l.tcp(), frames.as_bytes());
    let lines = rsyslog.wait_lines("fields.log", 3, 30);
    let stopped = l.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(stopped.events.is_empty(), "nothing goes to stdout");
    assert_eq!(lines, expected(access), "{}", rsyslog.output());
}

/// `fields.log`: PRI (local3 = 19, with each event's severity: the 500 is
/// an error), HOSTNAME, TAG, APP-NAME, PROCID, MSGID (the format), the
/// structured data (the sender's host, facility and PROCID, and the parsed
/// fields), MSG (the line).
fn expected(access: &str) -> Vec<String> {
    let text = |priority: u8| {
        format!(
            r#"[logmux@32473 format="text" host.name="web" log.syslog.appname="myapp" log.syslog.facility.name="user" log.syslog.hostname="web" log.syslog.priority="{priority}" log.syslog.procid="42"]"#
        )
    };
    let nginx = concat!(
        r#"[logmux@32473 format="nginx.access" client.address="127.0.0.1" host.name="web" "#,
        r#"http.request.method="GET" http.response.body.size="145" http.response.status_code="500" "#,
        r#"log.syslog.appname="nginx" log.syslog.facility.name="user" log.syslog.hostname="web" "#,
        r#"log.syslog.priority="13" log.syslog.procid="7" "#,
        r#"network.protocol.name="http" network.protocol.version="1.1" nginx.request="GET /boom/ HTTP/1.1" "#,
        r#"url.original="/boom/" url.path="/boom/" "#,
        r#"user_agent.original="curl/7.88.1"]"#
    );
    vec![
        format!("158|relay|myapp|myapp|-|text|{}|hello one", text(14)),
        format!("155|relay|myapp|myapp|-|text|{}|something failed", text(11)),
        format!("155|relay|nginx|nginx|-|nginx.access|{nginx}|{access}"),
    ]
}
