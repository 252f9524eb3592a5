//! An `otlp` sink over https to the test receiver (tests/otlp/receiver.py
//! behind Python's ssl, certificates made with openssl): the CA of
//! `tls_ca` and the client certificate of `tls_client_cert`/`tls_client_key`
//! are used; without the client certificate, or without the CA (the system
//! store does not know it), nothing is delivered and the loss is reported.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/rsyslog.rs"]
mod rsyslog;
#[path = "support/listen.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use otlp::Receiver;

/// A client certificate signed by the test CA, `client.pem` and `client.key`.
fn make_client_certificate(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=logmux client",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    std::fs::write(
        dir.join("client.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client.cnf",
        "-out",
        "client.pem",
    ]);
}

fn filter(dir: &Path, table: &str) -> Output {
    let config = dir.join("logmux.toml");
    std::fs::write(&config, table).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["filter", "--config"])
        .arg(&config)
        .args(["--sink", "otlp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"over tls\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn https_with_the_config_s_ca_and_client_certificate() {
    let Some(py) = otlp::python() else {
        support::skip_or_fail(
            "https_with_the_config_s_ca_and_client_certificate",
            "no Python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    rsyslog::make_certificates(d);
    make_client_certificate(d);
    let p = |name: &str| d.join(name).display().to_string();
    let receiver = Receiver::start_with(
        &py,
        "",
        0,
        &[
            "--tls-cert",
            &p("server.pem"),
            "--tls-key",
            &p("server.key"),
            "--client-ca",
            &p("ca.pem"),
        ],
    );
    let url = format!("https://127.0.0.1:{}", receiver.port);
    let head =
        format!("[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{url}\"\nretry_max_time = \"1s\"\n");
    let client = format!(
        "tls_client_cert = \"{}\"\ntls_client_key = \"{}\"\n",
        p("client.pem"),
        p("client.key")
    );

    let out = filter(d, &format!("{head}tls_ca = \"{}\"\n{client}", p("ca.pem")));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = receiver.wait_for(1, 5);
    assert_eq!(records[0]["body"][1], "over tls");

    // No client certificate: the receiver refuses the handshake.
    let out = filter(d, &format!("{head}tls_ca = \"{}\"\n", p("ca.pem")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    assert!(
        stderr.contains("1 events not delivered after retrying for 1s"),
        "{stderr}"
    );

    // TLS 1.3 sends the server's refusal after the client's Finished: the
    // client reads the alert, or finds the connection already closed.
    assert!(
        ["CertificateRequired", "Broken pipe", "Connection reset"]
            .iter()
            .any(|why| stderr.contains(why)),
        "{stderr}"
    );
    // The system's store does not know the test CA.
    let out = filter(d, &format!("{head}{client}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    assert!(
        stderr.contains("1 events not delivered after retrying for 1s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    assert_eq!(receiver.records().len(), 1);
}
