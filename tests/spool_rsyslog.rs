//! The disk spool with a real rsyslogd (Debian's rsyslog, imtcp) as the
//! receiver: down when logmux starts, stopped in the middle and started
//! again, every line reaches its file once and in order, with the spool
//! reporting the outage and the catching up.

#[path = "support/rsyslog.rs"]
mod rsyslog;
#[path = "support/run.rs"]
mod support;

use rsyslog::{free_port, Rsyslog};
use support::*;

#[test]
fn rsyslogd_down_at_start_and_restarted_gets_every_line_once_in_order() {
    if !rsyslog::available("rsyslogd_down_at_start_and_restarted_gets_every_line_once_in_order") {
        return;
    }
    const N: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (half, go) = (dir.path().join("half"), dir.path().join("go"));
    let script = format!(
        "for i in $(seq 1 {N}); do echo \"line $i\"; [ $i != 1000 ] || touch {}; [ $i != 2000 ] || while [ ! -e {} ]; do sleep 0.05; done; done",
        half.display(),
        go.display()
    );
    let config = format!(
        r#"control_socket = ""
drain_timeout = "60s"
[sink.s]
type = "syslog"
address = "tcp://127.0.0.1:{port}"
buffer = {{ type = "disk", path = "@DIR@/spool" }}
[program.app]
command = ["sh", "-c", '{script}']
autorestart = "never"
stdout = {{ sink = "s", format = "text" }}
"#
    );
    let run = start(&config);
    run.wait_for(20, "the sink down", |_, err| {
        err.contains("sink s: down: cannot connect to tcp://127.0.0.1")
    });
    // The program is not held up by the receiver being down.
    run.wait_for(20, "line 1000 written", |_, _| half.exists());
    let mut rs = Rsyslog::tcp(dir.path(), port);
    rs.wait_lines("fields.log", 2000, 30);
    rs.stop();
    std::fs::write(&go, "").unwrap();
    run.wait_for(30, "the sink down again", |_, err| {
        err.matches("sink s: down: ").count() == 2
    });
    rs.restart();
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = rs.wait_lines("fields.log", N, 30);
    let messages: Vec<String> = lines
        .iter()
        .map(|l| l.rsplit('|').next().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=N).map(|i| format!("line {i}")).collect();
    assert_eq!(messages, expected);
    let own = events(&done.stderr);
    assert_eq!(
        own_with(&own, "sink s: delivering again after").len(),
        2,
        "{}",
        done.stderr
    );
    assert!(
        !own_with(&own, "sink s: caught up: delivered ").is_empty(),
        "{}",
        done.stderr
    );
}
