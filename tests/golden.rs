//! Golden tests: every real log sample in `fixtures/` is filtered by the
//! real binary and compared, event by event, with the JSON stored beside it
//! (`NAME.log` → `NAME.expected.jsonl`).
//!
//! The read time differs on every run, so `observed_timestamp` is dropped and
//! a `timestamp` that fell back to it becomes `"<observed>"`. Everything else
//! must match exactly. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff. Only
//! the value `1` regenerates, and never under CI (`.ci/run` unsets it).

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Filters one sample; `NAME.format` beside it holds an nginx log_format,
/// `NAME.uwsgi-format` a uWSGI log-format.
fn filter_sample(name: &str) -> Vec<Value> {
    let dir = fixtures();
    let mut cmd = common::logmux();
    cmd.current_dir(&dir).args(["filter", "--output", "json"]);
    if let Ok(format) = std::fs::read_to_string(dir.join(format!("{name}.format"))) {
        cmd.args(["--nginx-log-format", format.trim_end()]);
    }
    if let Ok(format) = std::fs::read_to_string(dir.join(format!("{name}.uwsgi-format"))) {
        cmd.args(["--uwsgi-log-format", format.trim_end_matches('\n')]);
    }
    let out = cmd.arg(format!("{name}.log")).output().expect("run logmux");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_lines(&out.stdout)
        .into_iter()
        .map(normalize)
        .collect()
}

fn normalize(mut event: Value) -> Value {
    if let Some(obj) = event.as_object_mut() {
        let observed = obj.remove("observed_timestamp");
        if observed.is_some() && obj.get("timestamp") == observed.as_ref() {
            obj.insert("timestamp".into(), Value::String("<observed>".into()));
        }
    }
    event
}

/// Whether to rewrite the golden files instead of comparing: only for
/// `UPDATE_GOLDEN=1`, and a failure under CI, where they must be compared.
fn update_golden() -> bool {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    assert!(
        !(update && common::ci()),
        "UPDATE_GOLDEN=1 under CI: golden files are compared there, not rewritten"
    );
    update
}

fn check(name: &str) {
    let actual = filter_sample(name);
    let expected_path = fixtures().join(format!("{name}.expected.jsonl"));
    if update_golden() {
        let text: String = actual.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(&expected_path, text).expect("write golden file");
        return;
    }
    let expected_text = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run UPDATE_GOLDEN=1 cargo test --test golden)",
            expected_path.display()
        )
    });
    let expected = common::json_lines(expected_text.as_bytes());
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(a, e, "{name}: event {} differs", i + 1);
    }
    assert_eq!(actual.len(), expected.len(), "{name}: number of events");
}

#[test]
fn nginx_access() {
    check("nginx-access");
}

#[test]
fn nginx_access_custom_format() {
    check("nginx-access-custom");
}

#[test]
fn nginx_error() {
    check("nginx-error");
}

#[test]
fn uwsgi() {
    check("uwsgi");
}

#[test]
fn uwsgi_logdate() {
    check("uwsgi-logdate");
}

#[test]
fn mixed_container_output() {
    check("mixed");
}

#[test]
fn supervisord() {
    check("supervisord");
}

#[test]
fn supervisord_logfile_devnull() {
    check("supervisord-devnull");
}

#[test]
fn docker_logs_timestamps() {
    check("docker-logs-t");
}

#[test]
fn docker_json_file() {
    check("docker-json-file");
}

#[test]
fn docker_compose() {
    check("docker-compose");
}

#[test]
fn docker_compose_coloured() {
    check("docker-compose-color");
}

#[test]
fn docker_compose_timestamps() {
    check("docker-compose-t");
}

/// Real output of python-json-logger and structlog
/// (`fixtures/generate/app_json.py`).
#[test]
fn app_json_loggers() {
    check("app-json");
}

/// Every sample has a golden file and a test above.
#[test]
fn no_sample_is_left_out() {
    let tested = [
        "nginx-access",
        "nginx-access-custom",
        "nginx-error",
        "uwsgi",
        "uwsgi-logdate",
        "mixed",
        "supervisord",
        "supervisord-devnull",
        "docker-logs-t",
        "docker-json-file",
        "docker-compose",
        "docker-compose-color",
        "docker-compose-t",
        "uwsgi-vhost",
        "uwsgi-http",
        "nginx-main",
        "nginx-escape-json",
        "python-exceptions",
        "django-formats",
        "app-json",
        "uwsgi-log-format",
        "uwsgi-log-format-combined",
        "uwsgi-log-format-json",
    ];
    for entry in std::fs::read_dir(fixtures())
        .expect("fixtures dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".log") {
            assert!(tested.contains(&stem), "fixtures/{name} has no golden test");
        }
    }
}

#[test]
fn uwsgi_vhost_with_port_and_strftime_logdate() {
    check("uwsgi-vhost");
}

#[test]
fn uwsgi_http_router() {
    check("uwsgi-http");
}

#[test]
fn nginx_official_image_main_format() {
    check("nginx-main");
}

#[test]
fn nginx_escape_json() {
    check("nginx-escape-json");
}

#[test]
fn python_multi_line_messages_and_notes() {
    check("python-exceptions");
}

#[test]
fn django_asctime_and_verbose_formats() {
    check("django-formats");
}

/// Real uWSGI 2.0.21 output with `--log-format` (fixtures/generate/uwsgi-log-format.sh):
/// the default line's fields plus the request id and the start in microseconds.
#[test]
fn uwsgi_log_format_of_the_image() {
    check("uwsgi-log-format");
}

/// Apache's combined shape: `%(ltime)`, an X-Forwarded-For list, quotes in a
/// User-Agent, a user logvar.
#[test]
fn uwsgi_log_format_combined() {
    check("uwsgi-log-format-combined");
}

/// A JSON-looking format: `%(tmsecs)`, `%(secs)`, `%(host)`, `%(epoch)`.
#[test]
fn uwsgi_log_format_json() {
    check("uwsgi-log-format-json");
}
