//! Span building on a machine whose every core is busy: the span
//! builder's thread (nice +10) gets little CPU and falls behind the
//! readers by far more than the parts that may wait for it. Each door then
//! waits for it (`run`'s program in its `write()`, `filter`'s reading, a
//! `listen` TCP sender's window), and no part of a trace is dropped. A
//! binary of its own: its CPU hogs must not slow other tests.

#[path = "support/listen.rs"]
mod listen;
#[path = "support/otlp.rs"]
mod otlp;

use otlp::{accept_all, image_formats, Hogs};

/// One test at a time: each keeps every core busy on its own.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Requests enough for a starved span thread to fall behind by far more
/// than the 32,768 parts that may wait for it (before waiting was added:
/// 134,539 to 160,260 dropped).
const STARVED_REQUESTS: u128 = 300_000;

/// nginx's lines of `n` static files in the image's format: no upstream,
/// so each trace is complete with its one line, one span each.
fn static_requests(n: u128) -> String {
    (0..n)
        .map(|i| format!("10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] \"GET /static/{i}.css HTTP/1.1\" 200 12 \"-\" \"test/1\" rt=0.001 urt=\"-\" us=\"-\" id={:032x} tp=\"-\" t=1796378400.{:03}\n", 0x5eed_u128 << 112 | i, i % 1000))
        .collect()
}

/// logmux's report of a run in which every one of `n` requests became one
/// complete trace of one span, and no part was dropped.
fn every_trace_whole(n: u128) -> String {
    format!("traces: {n} complete, 0 sent after the window or at the end, 0 sent early (max_pending), 0 without a span; 0 left out by sampling; {n} spans queued; 0 parts dropped")
}

/// The config of `filter` and `listen`: the image's nginx format, and a
/// traces-only OTLP sink `otel` to an endpoint that takes everything.
fn door_config(dir: &std::path::Path) -> String {
    let (nginx_format, _) = image_formats();
    let path = dir.join("logmux.toml");
    let text = format!(
        "nginx_log_format = '{nginx_format}'\n[sink.otel]\ntype = \"otlp\"\nendpoint = \"{}\"\nsignals = [\"traces\"]\n",
        accept_all()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_span_builder_starved_of_cpu_makes_the_program_wait_and_drops_no_part() {
    // Every core busy at normal priority: the span thread (nice +10) gets
    // a tenth of the reader's CPU, and the reader would outrun it by far
    // more than the 32,768 parts that may wait.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let hogs = Hogs::on_every_core();
    let files = tempfile::tempdir().unwrap();
    let (nginx_format, _) = image_formats();
    let n = STARVED_REQUESTS;
    std::fs::write(files.path().join("nginx.log"), static_requests(n)).unwrap();
    let config = format!(
        r#"control_socket = ""
drain_timeout = "120s"
[sink.otel]
type = "otlp"
endpoint = "{}"
signals = ["traces"]
[program.nginx]
command = ["cat", "{}/nginx.log"]
autorestart = "never"
stdout = {{ format = "nginx.access", sink = "otel" }}
nginx_log_format = '{nginx_format}'
"#,
        accept_all(),
        files.path().display()
    );
    std::fs::write(files.path().join("logmux.toml"), config).unwrap();
    let stderr_path = files.path().join("stderr");
    let mut run = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .arg("run")
        .arg("--config")
        .arg(files.path().join("logmux.toml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    // The reading is over (but for what is left in the pipe): the spans
    // still waiting are built and sent on a machine at rest.
    let deadline = Instant::now() + Duration::from_secs(300);
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    while !stderr().contains("nginx exited") {
        assert!(Instant::now() < deadline, "nginx's exit: {}", stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(hogs);
    let status = run.wait().unwrap();
    let done = stderr();
    assert_eq!(status.code(), Some(0), "{done}");
    // Not one part dropped: every request is one complete trace.
    assert!(done.contains(&every_trace_whole(n)), "{done}");
}

#[test]
fn a_span_builder_starved_of_cpu_makes_filter_wait_and_drops_no_part() {
    use std::io::Write;
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let hogs = Hogs::on_every_core();
    let files = tempfile::tempdir().unwrap();
    let config = door_config(files.path());
    let mut filter = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["filter", "--format", "nginx.access", "--config"])
        .arg(&config)
        .args(["--sink", "otel"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let n = STARVED_REQUESTS;
    let mut stdin = filter.stdin.take().unwrap();
    stdin.write_all(static_requests(n).as_bytes()).unwrap();
    // Written (in the pipe at most): the spans still waiting are built
    // and sent on a machine at rest.
    drop(hogs);
    drop(stdin);
    let out = filter.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&every_trace_whole(n)), "{stderr}");
}

#[test]
fn a_span_builder_starved_of_cpu_makes_a_tcp_sender_wait_and_drops_no_part() {
    // Every core busy at normal priority: the span thread (nice +10) gets
    // little CPU, and the connection would outrun it by far more than the
    // 32,768 parts that may wait.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let hogs = Hogs::on_every_core();
    let files = tempfile::tempdir().unwrap();
    let config = door_config(files.path());
    // Stopped as soon as the last byte is sent: the reading of what the
    // kernel still holds may take longer than the default 5 s on a
    // machine that is busy with other work (a CI run read 289,688 of
    // 300,000 messages). What is tested is that no part is dropped.
    let args = [
        "--tcp",
        "127.0.0.1:0",
        "--config",
        &config,
        "--sink",
        "otel",
        "--drain-timeout",
        "120s",
    ];
    let listener = listen::start(&args);
    // Sent as Docker's driver sends them (rfc5424micro, octet-counted), as
    // fast as the connection takes them.
    let n = STARVED_REQUESTS;
    let mut bytes = Vec::new();
    for (i, line) in static_requests(n).lines().enumerate() {
        let msg = format!(
            "<30>1 2026-12-04T10:00:00.{:06}+00:00 dockerhost web-nginx 4242 web-nginx - {line}\n",
            i % 1_000_000
        );
        bytes.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
    }
    listen::send_tcp(listener.tcp(), &bytes);
    // Sent (in the kernel's buffers at most): the spans still waiting are
    // built and sent on a machine at rest.
    drop(hogs);
    // Up to the drain timeout above to read and send the rest (a CI run
    // took longer than `stop()`'s 20 s on a slow machine).
    listener.signal(libc::SIGTERM);
    let stopped = listener.finish(180);
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains(&every_trace_whole(n)),
        "{}",
        stopped.stderr
    );
}
