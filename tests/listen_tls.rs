//! `logmux listen --tls-cert … --tls-key …` with real TLS senders: rsyslog's
//! gtls driver (with a client certificate, under `--tls-client-ca`),
//! `openssl s_client` with no, a foreign and a good client certificate, and
//! Docker's own syslog driver over `tcp+tls://` with `syslog-tls-ca-cert`.
//! Certificates are made by openssl in a temp dir. Bad certificate and key
//! files stop `listen` at start with a message naming the file (exit 78).
//!
//! rsyslog, openssl and Docker are needed; without them the tests are
//! skipped (a failure under CI: see support/skip.rs).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/docker_engine.rs"]
mod docker_engine;
#[path = "support/rsyslog_relay.rs"]
mod rsyslog_relay;
#[path = "support/listen.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certs::make_certificates;
use docker_engine::{docker_ready, IMAGE};
use rsyslog_relay::{start_rsyslogd, Rsyslog};
use serde_json::Value;
use support::*;

fn have(test: &str, program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip_or_fail(test, &format!("{program} is not installed"));
    }
    found
}

/// A temp dir with the certificates.
fn certificates(test: &str) -> Option<tempfile::TempDir> {
    if !have(test, "openssl") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    Some(dir)
}

/// `logmux listen` over TLS with the certificates of `certs`, plus `extra`.
fn start_tls(certs: &Path, extra: &[&str]) -> Listener {
    let d = certs.display();
    let (cert, key) = (format!("{d}/server.pem"), format!("{d}/server.key"));
    let mut args = vec![
        "--tcp",
        ":0",
        "--output",
        "json",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    args.extend_from_slice(extra);
    start(&args)
}

/// Sends `line` with `openssl s_client` (and the client certificate
/// `cert`, if any); returns once s_client has ended.
fn s_client(to: std::net::SocketAddr, certs: &Path, cert: Option<&str>, line: &str) {
    let d = certs.display();
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &to.to_string(),
        "-CAfile",
        &format!("{d}/ca.pem"),
    ])
    .args(["-quiet", "-no_ign_eof", "-verify_return_error"]);
    if let Some(name) = cert {
        cmd.args([
            "-cert",
            &format!("{d}/{name}.pem"),
            "-key",
            &format!("{d}/{name}.key"),
        ]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(line.as_bytes());
    // Time for the handshake (and the server's verdict) before the close.
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    wait_child(&mut child, 10);
}

fn wait_child(child: &mut Child, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a sender did not end within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_certificate_is_required_with_tls_client_ca() {
    let Some(certs) = certificates("a_client_certificate_is_required_with_tls_client_ca") else {
        return;
    };
    let ca = certs.path().join("ca.pem").display().to_string();
    let l = start_tls(certs.path(), &["--tls-client-ca", &ca]);
    let to = l.tcp();
    s_client(
        to,
        certs.path(),
        None,
        "<13>Nov 25 23:29:21 vm nocert: refused\n",
    );
    s_client(
        to,
        certs.path(),
        Some("rogue"),
        "<13>Nov 25 23:29:21 vm rogue: refused\n",
    );
    s_client(
        to,
        certs.path(),
        Some("client"),
        "<13>Nov 25 23:29:21 vm good: accepted\n",
    );
    l.wait_for(1, 10);
    l.wait_until(10, "every connection closed", |l| l.established() == 0);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    let got: Vec<(&Value, &Value)> = s
        .events
        .iter()
        .map(|e| (&e["service"]["name"], &e["message"]))
        .collect();
    assert_eq!(got, [(&Value::from("good"), &Value::from("accepted"))]);
    let report = final_report(&s.stderr);
    assert_eq!(report["logmux"]["tls_failures"], 2, "{report}");
    assert_eq!(report["logmux"]["connections"], 3, "{report}");
    assert!(s.stderr.contains("TLS handshake(s) failed"), "{}", s.stderr);
}

#[test]
fn without_tls_client_ca_any_client_is_served() {
    let Some(certs) = certificates("without_tls_client_ca_any_client_is_served") else {
        return;
    };
    let l = start_tls(certs.path(), &[]);
    s_client(
        l.tcp(),
        certs.path(),
        None,
        "<13>Nov 25 23:29:21 vm anon: a\0b\n",
    );
    l.wait_for(1, 10);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 1, "{:?}", s.events);
    assert_eq!(s.events[0]["message"], "a\u{0}b");
    assert_eq!(final_report(&s.stderr)["logmux"]["tls_failures"], 0);
}

/// rsyslogd reading its socket (imuxsock; its path is returned) and
/// forwarding over TLS (gtls) to `port`, with the client certificate.
fn rsyslog_gtls(dir: &Path, certs: &Path, port: u16) -> (Rsyslog, String) {
    let (work, socket, c) = (dir.join("work"), dir.join("in.sock"), certs.display());
    std::fs::create_dir_all(&work).unwrap();
    let conf = format!(
        r#"global(workDirectory="{work}" defaultNetstreamDriverCAFile="{c}/ca.pem" defaultNetstreamDriverCertFile="{c}/client.pem" defaultNetstreamDriverKeyFile="{c}/client.key")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}" RateLimit.Interval="0")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
"#,
        work = work.display(),
        socket = socket.display(),
    );
    let r = start_rsyslogd(dir, &conf, &socket);
    (r, socket.display().to_string())
}

#[test]
fn rsyslog_gtls_with_a_client_certificate() {
    let test = "rsyslog_gtls_with_a_client_certificate";
    if !have(test, "rsyslogd") {
        return;
    }
    let Some(certs) = certificates(test) else {
        return;
    };
    let ca = certs.path().join("ca.pem").display().to_string();
    let l = start_tls(certs.path(), &["--tls-client-ca", &ca]);
    let dir = tempfile::tempdir().unwrap();
    let (_rsyslog, socket) = rsyslog_gtls(dir.path(), certs.path(), l.tcp().port());
    let lines: Vec<String> = (0..200).map(|i| format!("line {i:03} over gtls")).collect();
    let file = dir.path().join("lines.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    logger(&["-u", &socket, "-t", "gtls", "-f", file.to_str().unwrap()]);
    l.wait_for(lines.len(), 60);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    let got: Vec<&str> = s
        .events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    // rsyslog's RFC 5424 template keeps the space after the tag's colon in
    // its MSG (as in listen_rsyslog.rs).
    let spaced: Vec<String> = lines.iter().map(|l| format!(" {l}")).collect();
    assert_eq!(got, spaced);
    for e in &s.events {
        assert_eq!(e["service"]["name"], "gtls", "{e}");
        assert_eq!(e["host"]["name"], hostname().as_str(), "{e}");
    }
    assert_eq!(final_report(&s.stderr)["logmux"]["tls_failures"], 0);
}

#[test]
fn docker_syslog_driver_over_tcp_tls() {
    let test = "docker_syslog_driver_over_tcp_tls";
    if !docker_ready(test) {
        return;
    }
    let Some(certs) = certificates(test) else {
        return;
    };
    let l = start_tls(certs.path(), &[]);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("logmux-test-tls-{}-{nanos:x}", std::process::id());
    let ca = certs.path().join("ca.pem");
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--name",
            &name,
            "--network",
            "none",
            "--log-driver",
            "syslog",
        ])
        .args([
            "--log-opt",
            &format!("syslog-address=tcp+tls://{}", l.tcp()),
        ])
        .args(["--log-opt", &format!("syslog-tls-ca-cert={}", ca.display())])
        .args([
            "--log-opt",
            "syslog-format=rfc5424micro",
            "--log-opt",
            "tag={{.Name}}",
        ])
        .arg(IMAGE)
        .args(["bash", "-c", "echo one; echo two >&2; echo '  three'"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    l.wait_for(3, 30);
    l.wait_until(30, "the daemon's connection closed", |l| {
        l.established() == 0
    });
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    let mut got: Vec<(String, String)> = s
        .events
        .iter()
        .map(|e| {
            assert_eq!(e["container"]["name"], name.as_str(), "{e}");
            (
                e["log"]["iostream"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    let expected = [("stderr", "two"), ("stdout", "  three"), ("stdout", "one")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(final_report(&s.stderr)["logmux"]["tls_failures"], 0);
}

/// Runs `logmux listen ARGS` expecting it to fail at start.
fn fails_at_start(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .arg("listen")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_certificate_and_key_files_are_named_at_start() {
    let Some(certs) = certificates("bad_certificate_and_key_files_are_named_at_start") else {
        return;
    };
    let p = |f: &str| certs.path().join(f).display().to_string();
    let (cert, key, missing, ca_key) = (
        p("server.pem"),
        p("server.key"),
        p("missing.pem"),
        p("ca.key"),
    );
    let cases: [(Vec<&str>, String); 5] = [
        (vec!["--tls-cert", &missing, "--tls-key", &key], format!("--tls-cert {missing}: cannot read it")),
        (vec!["--tls-cert", &key, "--tls-key", &key], format!("--tls-cert {key}: no PEM certificate")),
        (vec!["--tls-cert", &cert, "--tls-key", &cert], format!("--tls-key {cert}: no PEM private key")),
        (vec!["--tls-cert", &cert, "--tls-key", &ca_key], format!("--tls-cert {cert} and --tls-key {ca_key}: the key does not go with the certificate")),
        (vec!["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &key], format!("--tls-client-ca {key}: no PEM certificate")),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["--tcp", ":0"];
        args.extend(flags);
        let (code, stderr) = fails_at_start(&args);
        assert_eq!(code, Some(78), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
    }
    // --tls-key without --tls-cert is a usage error of clap's.
    let (code, stderr) = fails_at_start(&["--tcp", ":0", "--tls-key", &key]);
    assert_eq!(code, Some(2), "{stderr}");
}
