//! `logmux listen --sink NAME` to an OTLP receiver (tests/otlp/receiver.py,
//! the official OpenTelemetry definitions): messages as Docker's syslog
//! driver sends them (`syslog-format=rfc5424micro`, `tag={{.Name}}`) come
//! out as OTLP records with `container.name` and `host.name` in the
//! resource, one `ResourceLogs` per container, each container's lines in order.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/listen.rs"]
mod support;

use otlp::{typed, Receiver};
use support::{send_tcp, start};

#[test]
fn docker_driver_messages_arrive_with_the_container_in_the_resource() {
    let Some(py) = otlp::python() else {
        support::skip_or_fail(
            "docker_driver_messages_arrive_with_the_container_in_the_resource",
            "no Python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
        return;
    };
    let receiver = Receiver::start(&py, "", 0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("listen.toml");
    std::fs::write(
        &config,
        format!(
            "[sink.otlp]\ntype = \"otlp\"\nendpoint = \"{}\"\n",
            receiver.endpoint()
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
        "otlp",
    ]);
    let access =
        "127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/7.88.1\"";
    let frames = format!(
        "<30>1 2026-11-25T23:29:21.123456+00:00 dockerhost web-1 812 web-1 - first of web-1\n\
         <27>1 2026-11-25T23:29:21.200000+00:00 dockerhost web-2 813 web-2 - first of web-2\n\
         <30>1 2026-11-25T23:29:22.000001+00:00 dockerhost web-1 812 web-1 - {access}\n\
         <30>1 2026-11-25T23:29:23.000000+00:00 dockerhost web-2 813 web-2 - second of web-2\n"
    );
    send_tcp(l.tcp(), frames.as_bytes());
    let records = receiver.wait_for(4, 20);
    let stopped = l.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(stopped.events.is_empty(), "nothing goes to stdout");
    assert_eq!(receiver.records().len(), 4);

    let of = |name: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|r| r["resource"]["container.name"][1] == name)
            .collect()
    };
    let (web1, web2) = (of("web-1"), of("web-2"));
    assert_eq!((web1.len(), web2.len()), (2, 2), "{records:?}");
    for r in &records {
        assert_eq!(
            typed(&r["resource"]["host.name"], "string_value"),
            "dockerhost"
        );
    }
    assert_eq!(typed(&web1[0]["body"], "string_value"), "first of web-1");
    // The syslog header's time, to the microsecond it carries.
    assert_eq!(web1[0]["time"], 1_795_649_361_123_456_000u64);
    assert_eq!(web1[0]["severity_number"], 9);
    assert_eq!(typed(&web1[1]["body"], "string_value"), access);
    assert_eq!(
        typed(&web1[1]["attrs"]["http.response.status_code"], "int_value"),
        200
    );
    assert_eq!(
        typed(&web1[1]["attrs"]["logmux.format"], "string_value"),
        "nginx.access"
    );
    // The line's own time wins over the header's.
    assert_eq!(web1[1]["time"], 1_795_635_565_000_000_000u64);
    assert_eq!(typed(&web2[0]["body"], "string_value"), "first of web-2");
    // Docker's err means stderr, not a severity.
    assert_eq!(
        typed(&web2[0]["attrs"]["log.iostream"], "string_value"),
        "stderr"
    );
    assert_eq!(
        typed(&web2[1]["attrs"]["log.iostream"], "string_value"),
        "stdout"
    );
    assert_eq!(typed(&web2[1]["body"], "string_value"), "second of web-2");
}
