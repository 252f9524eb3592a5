//! A stream's `copy`: every event goes to its own sink and also to the
//! sinks listed, each in its own encoding. With an otlp sink whose `when`
//! names `OTEL_EXPORTER_OTLP_ENDPOINT` (what docker/logmux.toml does), the
//! events go to stdout and, only when the variable is set, to the
//! receiver; unset, nothing about OTLP is opened, tried or reported.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/run.rs"]
mod support;

use otlp::{typed, Receiver};
use support::*;

const CONFIG: &str = r#"control_socket = ""
[resource]
"deployment.environment.name" = "${APP_ENV:-production}"
[sink.otel]
type = "otlp"
when = "OTEL_EXPORTER_OTLP_ENDPOINT"
[program.app]
command = ["sh", "-c", "for i in 1 2 3; do echo line $i; done"]
autorestart = "never"
stdout = { sink = "stdout", format = "text", copy = ["otel"] }
"#;

fn lines_on_stdout(stdout: &str) -> Vec<String> {
    events(stdout)
        .iter()
        .filter(|e| e["service"]["name"] == "app")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn copies_go_to_stdout_and_to_the_otlp_receiver_when_its_variable_is_set() {
    let Some(py) = otlp::python() else {
        skip_or_fail("otlp_copy", "no python with opentelemetry-proto");
        return;
    };
    let rx = Receiver::start(&py, "", 0);
    let endpoint = rx.endpoint();
    let run = start_with(CONFIG, |c| {
        c.env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("APP_ENV", "staging");
    });
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(
        lines_on_stdout(&done.stdout),
        ["line 1", "line 2", "line 3"]
    );
    let records = rx.wait_for(3, 10);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| typed(&r["body"], "string_value").as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["line 1", "line 2", "line 3"]);
    for r in &records {
        let env = &r["resource"]["deployment.environment.name"];
        assert_eq!(typed(env, "string_value"), "staging", "{r}");
        assert_eq!(typed(&r["resource"]["service.name"], "string_value"), "app");
    }
}

#[test]
fn without_the_variable_nothing_about_otlp_is_started() {
    let run = start_with(CONFIG, |c| {
        c.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
    });
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(
        lines_on_stdout(&done.stdout),
        ["line 1", "line 2", "line 3"]
    );
    // Not one word about the sink: no connection tried, nothing lost.
    assert!(!done.stderr.contains("otel"), "{}", done.stderr);
    assert!(!done.stdout.contains("sink otel"), "{}", done.stdout);
}
