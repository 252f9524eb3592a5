//! `logmux run` with `threads`: a program that writes faster than one
//! thread parses has its large reads parsed half on a helper thread
//! (`src/run/helpers.rs`). The real binary, a real pipe filled by `cat`:
//! every line comes out once, whole, in order, typed as on one thread,
//! tracebacks and a first supervisord line among the access lines, with
//! `ctl tail`'s ring on; and the helper did parse halves. With a sink
//! that sends traces, the spans are those of one thread, also when most
//! halves begin inside a traceback and are parsed again (the helper's span
//! parts of them dropped).

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/run.rs"]
mod support;

use std::fmt::Write as _;

use support::*;

const ACCESS_LINES: usize = 60_000;
const TRACEBACK_EVERY: usize = 500;

/// The program's output: access lines, a traceback after every 500th, and
/// one supervisord line halfway (the first: it changes how the stream is
/// read from there on). Also the messages the events must have, in order.
fn output() -> (String, Vec<String>) {
    let (mut text, mut want) = (String::new(), Vec::new());
    for i in 0..ACCESS_LINES {
        let line = format!(
            "10.0.{}.{} - - [25/Nov/2026:19:39:04 +0000] \"GET /items/{i}?page={} HTTP/1.1\" {} {} \"-\" \"curl/7.88.1\"",
            i % 250,
            i % 200,
            i % 7,
            [200, 404, 500, 304][i % 4],
            i * 3
        );
        let _ = writeln!(text, "{line}");
        want.push(line);
        if i % TRACEBACK_EVERY == TRACEBACK_EVERY - 1 {
            let traceback = format!(
                "Traceback (most recent call last):\n  File \"/app/views.py\", line 3, in boom\n    1 / 0\nZeroDivisionError: request {i}"
            );
            let _ = writeln!(text, "{traceback}");
            want.push(traceback);
        }
        if i == ACCESS_LINES / 2 {
            let line = "2026-11-25 19:39:40,240 WARN exited: crasher (exit status 3; not expected)";
            let _ = writeln!(text, "{line}");
            want.push(line.to_string());
        }
    }
    (text, want)
}

/// `text` in a file `name` of a fresh temp dir (kept while the dir is).
fn written(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

/// Halves were lent with `--threads 2` (`lent`), none with 1 (`none`).
fn assert_lent_only_with_two(lent: Option<u64>, none: Option<u64>) {
    assert!(
        lent.is_some_and(|n| n > 0),
        "no read was parsed in halves: {lent:?}"
    );
    assert_eq!(none, None, "threads = 1 lent halves");
}

/// The events' messages and formats, and the helper's count of halves.
fn run_with(threads: &str, file: &std::path::Path) -> (Vec<(String, String)>, Option<u64>) {
    let config = format!(
        r#"
control_socket = "@DIR@/ctl.sock"

[program.flood]
command = ["cat", "{}"]
autorestart = "never"
"#,
        file.display()
    );
    let run = start_with(&config, |cmd| {
        cmd.args(["--threads", threads, "--verbose"]);
    });
    let done = run.finish(300);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let events = events(&done.stdout);
    let flood: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["service"]["name"] == "flood")
        .map(|e| {
            (
                e["message"].as_str().unwrap_or_default().to_string(),
                e["logmux"]["format"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    (flood, halves_lent(&done.stderr))
}

#[test]
fn a_flood_parsed_in_halves_comes_out_as_on_one_thread() {
    let (text, want) = output();
    let (_dir, file) = written("flood.log", &text);

    let (two, lent) = run_with("2", &file);
    let (one, none) = run_with("1", &file);

    let messages: Vec<&str> = two.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        messages.len(),
        ACCESS_LINES + ACCESS_LINES / TRACEBACK_EVERY + 1
    );
    for (i, (got, wanted)) in messages.iter().zip(&want).enumerate() {
        assert_eq!(got, wanted, "event {i}");
    }
    let formats =
        |events: &[(String, String)], f: &str| events.iter().filter(|(_, g)| g == f).count();
    assert_eq!(formats(&two, "nginx.access"), ACCESS_LINES);
    assert_eq!(
        formats(&two, "python.traceback"),
        ACCESS_LINES / TRACEBACK_EVERY
    );
    assert_eq!(formats(&two, "supervisord"), 1);
    assert!(two == one, "threads 2 and threads 1 differ");
    assert_lent_only_with_two(lent, none);
}

/// With `[metrics]` a flood stays on one thread (each event is counted
/// once: a helper's half parsed again would be counted twice), and
/// `logmux_input_lines_total` counts every line while the program still
/// runs, its pipe open and nothing more coming.
#[test]
fn with_metrics_a_flood_stays_on_one_thread_and_every_line_is_counted() {
    let (text, _) = output();
    let (_dir, file) = written("flood.log", &text);
    let lines = text.lines().count();
    let config = format!(
        r#"
control_socket = "@DIR@/ctl.sock"
threads = 2

[metrics]

[program.flood]
command = ["sh", "-c", "cat '{}'; exec sleep 120"]
autorestart = "never"
"#,
        file.display()
    );
    let run = start_with(&config, |cmd| {
        cmd.arg("--verbose");
    });
    let last = input_lines_reaching(&run, "flood", lines as f64, 60);
    run.signal(libc::SIGTERM);
    let done = run.finish(60);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(last as usize, lines, "lines counted while the program ran");
    assert!(
        !done.stderr.contains("halves_lent"),
        "a read was parsed in halves"
    );
    let events = events(&done.stdout);
    let flood = events
        .iter()
        .filter(|e| e["service"]["name"] == "flood")
        .count();
    assert_eq!(flood, ACCESS_LINES + ACCESS_LINES / TRACEBACK_EVERY + 1);
}

/// A program's unfinished last line is an event at the end of its stream,
/// and `logmux_input_lines_total` counts it (it was left out before).
#[test]
fn the_input_line_counter_counts_an_unfinished_last_line() {
    let run = start_with(
        r#"
control_socket = "@DIR@/ctl.sock"

[metrics]

[program.short]
command = ["sh", "-c", "printf 'one\ntwo\nthree without a newline'"]
autorestart = "never"

[program.keeper]
command = ["sleep", "120"]
autorestart = "never"
"#,
        |_| {},
    );
    run.wait_for(60, "the unfinished line", |out, _| {
        out.contains("three without a newline")
    });
    // The counter is set after the event is queued: give it a moment too.
    let last = input_lines_reaching(&run, "short", 3.0, 30);
    run.signal(libc::SIGTERM);
    let done = run.finish(60);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(last, 3.0, "lines of `short` counted");
}

/// `logmux_input_lines_total` of `program`'s stdout, read with `logmux ctl
/// metrics` until it reaches `want` or `secs` pass; its last value.
fn input_lines_reaching(run: &Running, program: &str, want: f64, secs: u64) -> f64 {
    let socket = run.dir.path().join("ctl.sock");
    let series = format!("\"{program}\"");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut last = 0.0;
    while std::time::Instant::now() < deadline {
        // Under load an answer may take more than ctl's 5 s.
        let (code, text, stderr) = ctl(&socket, &["--timeout", "25s", "metrics"]);
        if code == 0 {
            last = text
                .lines()
                .filter(|l| l.starts_with("logmux_input_lines_total{"))
                .filter(|l| l.contains(&series) && l.contains("stdout"))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum();
            if last >= want {
                return last;
            }
        } else {
            // Only before the control socket is up.
            assert!(
                stderr.contains("cannot reach"),
                "ctl metrics: {code} {stderr}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    last
}

/// Requests of the traced flood: each one nginx line with its id.
const TRACED: usize = 40_000;

/// nginx's access lines in the image's `log_format`, each request with
/// its own trace id (`i` in hex) and one upstream try.
fn traced_flood() -> String {
    let mut text = String::new();
    for i in 0..TRACED {
        let _ = writeln!(
            text,
            "10.0.{}.{} - - [25/Nov/2026:19:39:04 +0000] \"GET /items/{i} HTTP/1.1\" {} 12 \"-\" \"curl/7.88.1\" rt=0.{:03} urt=\"0.001\" us=\"200\" id={:032x} tp=\"-\" t=1796378400.{:03}",
            i % 250,
            i % 200,
            [200, 404, 500, 304][i % 4],
            2 + i % 900,
            0xabc0_0000_0000_0000_0000_0000_0000_0000u128 + i as u128,
            i % 1000
        );
    }
    text
}

/// The spans built from `program` (`[program.*]` of `logmux run`, its
/// stdout to the sink `otel`, which sends traces) as (trace id, span id,
/// parent, start end name, status, events' names), sorted; waits for
/// `want`; and logmux's stderr (`--verbose`: the helper's counts).
fn spans_with(threads: &str, program: &str, want: usize) -> Option<(Vec<[String; 6]>, String)> {
    let Some(py) = otlp::python() else {
        skip_or_fail("spans_of_a_flood", "no python with opentelemetry-proto");
        return None;
    };
    let rx = otlp::Receiver::start(&py, "", 0);
    let config = format!(
        "control_socket = \"\"\ndrain_timeout = \"120s\"\n[trace]\nwindow = \"1h\"\nmax_pending = 100000\n[sink.otel]\ntype = \"otlp\"\nendpoint = \"{}\"\nsignals = [\"traces\"]\n{program}",
        rx.endpoint(),
    );
    let run = start_with(&config, |cmd| {
        cmd.args(["--threads", threads, "--verbose"]);
    });
    let done = run.finish(300);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let spans = rx.wait_for_spans(want, 120);
    let field = |s: &serde_json::Value, k: &str| s[k].as_str().unwrap_or("").to_string();
    let mut got: Vec<[String; 6]> = spans
        .iter()
        .map(|s| {
            let events: Vec<&str> = s["events"]
                .as_array()
                .map(|e| e.iter().filter_map(|e| e["name"].as_str()).collect())
                .unwrap_or_default();
            [
                field(s, "trace_id"),
                field(s, "span_id"),
                field(s, "parent_span_id"),
                format!("{} {} {}", s["start"], s["end"], s["name"]),
                s["status"].to_string(),
                events.join(" "),
            ]
        })
        .collect();
    got.sort();
    Some((got, done.stderr))
}

/// `[program.nginx]` reading `file`: access lines in the image's format.
fn nginx_program(file: &std::path::Path) -> String {
    let (nginx_format, _) = otlp::image_formats();
    format!(
        "[program.nginx]\ncommand = [\"cat\", \"{}\"]\nautorestart = \"never\"\nstdout = {{ format = \"nginx.access\", sink = \"otel\" }}\nnginx_log_format = {}\n",
        file.display(),
        serde_json::to_string(&nginx_format).unwrap()
    )
}

/// The helper's count of halves lent, from `--verbose`'s report.
fn halves_lent(stderr: &str) -> Option<u64> {
    halves_count(stderr, "halves_lent")
}

/// One of the helper's counts from `--verbose`'s report.
fn halves_count(stderr: &str, name: &str) -> Option<u64> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|e| e["logmux"][name].as_u64().or(e[name].as_u64()))
}

/// With a sink that sends traces, a flood is still parsed in halves, and
/// the span builder gets every event's part once: the same spans as on
/// one thread, one per request (nginx's: no uWSGI line, one try).
#[test]
fn a_traced_flood_parsed_in_halves_builds_the_spans_of_one_thread() {
    let (_dir, file) = written("traced.log", &traced_flood());
    let program = nginx_program(&file);
    let Some((two, stderr)) = spans_with("2", &program, TRACED) else {
        return;
    };
    let Some((one, stderr_one)) = spans_with("1", &program, TRACED) else {
        return;
    };
    let (lent, none) = (halves_lent(&stderr), halves_lent(&stderr_one));
    assert_eq!(two.len(), TRACED);
    let traces: std::collections::BTreeSet<&str> = two.iter().map(|s| s[0].as_str()).collect();
    assert_eq!(traces.len(), TRACED);
    assert!(two.iter().all(|s| s[2].is_empty()), "a span with a parent");
    assert_eq!(
        traces.first().copied(),
        Some("abc00000000000000000000000000000")
    );
    assert!(two == one, "threads 2 and threads 1 built different spans");
    assert_lent_only_with_two(lent, none);
}

const FAILING: usize = 6_000;

/// uWSGI's stdout as the image's Django and uWSGI write it, for requests
/// that all fail: Django's `ERROR` record with the request id and its
/// traceback, then uWSGI's request line with the same id (in the image's
/// `log-format`); each request its own trace. Nine lines of ten are inside
/// a traceback, so most halves begin in one and the helper's guess (at
/// rest) is wrong.
fn failing_requests() -> String {
    let mut text = String::new();
    for i in 0..FAILING {
        let id = format!(
            "{:032x}",
            0xdef0_0000_0000_0000_0000_0000_0000_0000u128 + i as u128
        );
        let _ = write!(
            text,
            "2026-12-04 18:36:00,857 ERROR [django.request] [{id}] Internal Server Error: /boom/{i}/\n\
             Traceback (most recent call last):\n  \
             File \"/usr/lib/python3/dist-packages/django/core/handlers/exception.py\", line 47, in inner\n    \
             response = get_response(request)\n  \
             File \"/app/demo/views.py\", line 24, in _divide\n    \
             return a / b\n           \
             ~~^~~\n\
             ZeroDivisionError: division by zero ({i})\n\
             [pid: 8|wid: 1] 10.0.{}.{} (-) {{34 vars in 412 bytes}} [Fri Dec  4 10:00:00 2026] GET /boom/{i}/ => generated 145 bytes in {} micros (HTTP/1.1 500) 2 headers in 79 bytes (1 switches on core 0) request_id={id} start={}\n",
            i / 250 % 250,
            i % 250,
            1000 + i % 900,
            1_796_378_400_000_000u64 + i as u64 * 2000
        );
    }
    text
}

/// A half whose guess was wrong is parsed again on the stream's thread,
/// and the span parts the helper made of it are dropped: every request is
/// one uWSGI span with its traceback's one `exception` event, as on one
/// thread, though most halves were parsed twice.
#[test]
fn a_wrong_guess_parsed_again_gives_each_span_its_parts_once() {
    let (_dir, file) = written("uwsgi.log", &failing_requests());
    let (_, uwsgi_format) = otlp::image_formats();
    let program = format!(
        "[program.uwsgi]\ncommand = [\"cat\", \"{}\"]\nautorestart = \"never\"\nstdout = {{ format = \"auto\", sink = \"otel\" }}\nuwsgi_log_format = {}\n",
        file.display(),
        serde_json::to_string(&uwsgi_format).unwrap()
    );
    let Some((two, stderr)) = spans_with("2", &program, FAILING) else {
        return;
    };
    let Some((one, stderr_one)) = spans_with("1", &program, FAILING) else {
        return;
    };
    assert_eq!(two.len(), FAILING);
    let traces: std::collections::BTreeSet<&str> = two.iter().map(|s| s[0].as_str()).collect();
    assert_eq!(traces.len(), FAILING);
    assert!(
        two.iter().all(|s| s[5] == "exception"),
        "a span without its one exception event: {:?}",
        two.iter().find(|s| s[5] != "exception")
    );
    assert!(two == one, "threads 2 and threads 1 built different spans");
    assert_lent_only_with_two(halves_lent(&stderr), halves_lent(&stderr_one));
    let again = halves_count(&stderr, "halves_parsed_again").unwrap_or(0);
    let taken_back = halves_count(&stderr, "halves_taken_back").unwrap_or(0);
    assert!(again > taken_back, "no wrong guess: {stderr}");
}
