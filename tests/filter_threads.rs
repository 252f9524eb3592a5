//! `logmux filter --threads N` on files of two or more 1 MiB chunks: the real
//! binary's output is that of `--threads 1`, byte for byte but for the
//! read time (each run reads the clock), with the same `--stats` counts;
//! for every fixture, for a mix whose tracebacks straddle the chunk cuts,
//! a line longer than a chunk, a last line without its newline, stdin
//! redirected from a file, and a file sink.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{filter_stats_args, logmux, stats_counts as counts, without_read_time};

/// A chunk, as `src/filter/parallel.rs` cuts them.
const CHUNK: usize = 1 << 20;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs `filter --output json --stats --threads N ARGS…`.
fn filter(threads: &str, args: &[&std::ffi::OsStr]) -> Output {
    let out = logmux()
        .args(filter_stats_args(threads))
        .args(args)
        .output()
        .expect("run logmux");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The counts but the chunks parsed again, which only threads have.
fn event_counts(stderr: &[u8]) -> serde_json::Value {
    let mut c = counts(stderr);
    if let Some(o) = c.as_object_mut() {
        o.remove("chunks_reparsed");
    }
    c
}

/// `--threads 1` and `--threads 3` give the same events and counts;
/// returns the number of events.
fn same_as_one_thread(path: &Path, extra: &[&str]) -> usize {
    let mut args: Vec<&std::ffi::OsStr> = extra.iter().map(|a| a.as_ref()).collect();
    args.push(path.as_os_str());
    let one = filter("1", &args);
    let many = filter("3", &args);
    let (a, b) = (
        without_read_time(&one.stdout),
        without_read_time(&many.stdout),
    );
    assert_eq!(a.len(), b.len(), "{}: event counts differ", path.display());
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("{}: event {i} differs:\n{}\n{}", path.display(), a[i], b[i]);
    }
    assert_eq!(
        event_counts(&one.stderr),
        event_counts(&many.stderr),
        "{}",
        path.display()
    );
    a.len()
}

/// `text` repeated until the file holds two chunks, the second short.
fn repeated(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let times = (CHUNK + CHUNK / 8) / text.len().max(1) + 1;
    std::fs::write(&path, text.repeat(times)).expect("write input");
    path
}

#[test]
fn every_fixture_two_chunks_long_comes_out_as_on_one_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".log").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let text = std::fs::read(fixtures().join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut extra = Vec::new();
        let format = std::fs::read_to_string(fixtures().join(format!("{name}.format")));
        if let Ok(f) = &format {
            extra.extend(["--nginx-log-format", f.trim_end()]);
        }
        let uwsgi = std::fs::read_to_string(fixtures().join(format!("{name}.uwsgi-format")));
        if let Ok(f) = &uwsgi {
            extra.extend(["--uwsgi-log-format", f.trim_end_matches('\n')]);
        }
        let path = repeated(dir.path(), &format!("{name}.log"), &text);
        let events = same_as_one_thread(&path, &extra);
        assert!(events > 300, "{name}: {events} events");
    }
}

const ACCESS: &str = "127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] \"GET /boom/ HTTP/1.1\" 500 145 \"-\" \"curl/7.88.1\"\n";
const TRACEBACK: &str = "Internal Server Error: /boom/\nTraceback (most recent call last):\n  File \"/app/views.py\", line 3, in boom\n    1 / 0\n    ~~^~~\nZeroDivisionError: division by zero\n";

/// Tracebacks in a row around each cut.
const TRACEBACKS: usize = 500;

/// nginx lines with a traceback astride each of the first chunk cuts (the
/// cuts move back by less than a line per chunk), supervisord's lines, and
/// one spliced into an access line after the first chunk.
fn mix_across_cuts() -> String {
    let mut text = String::from("2026-11-25 19:39:31,268 INFO supervisord started with pid 1\n");
    for cut in 1..4 {
        while text.len() + TRACEBACKS * TRACEBACK.len() / 2 < cut * CHUNK {
            text.push_str(ACCESS);
        }
        // More than the 64 KiB the cut looks back for a line at rest, so
        // that one straddles it.
        for _ in 0..TRACEBACKS {
            text.push_str(TRACEBACK);
        }
        if cut == 2 {
            text.push_str("127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] \"GET / HT2026-11-25 18:35:12,345 INFO success: web entered RUNNING state\n");
        }
    }
    text
}

#[test]
fn tracebacks_across_chunk_cuts_come_out_whole_and_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mix.log");
    let text = mix_across_cuts();
    std::fs::write(&path, &text).expect("write");
    let events = same_as_one_thread(&path, &[]);
    let access = text.matches(ACCESS).count();
    // Every traceback one event; the spliced supervisord line one, the
    // access line's head it cut off rejoined with the next line.
    assert_eq!(events, 1 + access + 3 * TRACEBACKS + 1);
    let out = filter("2", &[path.as_os_str()]);
    // Each cut falls inside a run of tracebacks: the chunk after it is
    // parsed again from the real state.
    assert_eq!(counts(&out.stderr)["chunks_reparsed"], 3);
    let tracebacks = without_read_time(&out.stdout)
        .iter()
        .filter(|e| e.contains("\"exception\"") && e.contains("ZeroDivisionError"))
        .count();
    assert_eq!(tracebacks, 3 * TRACEBACKS);
}

#[test]
fn a_line_longer_than_a_chunk_and_no_last_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.log");
    let long = "x".repeat(2 * CHUNK + 12345);
    let text = format!(
        "{ACCESS}{long}\n{}{TRACEBACK}{}",
        ACCESS.repeat(9000),
        "no newline at the end"
    );
    std::fs::write(&path, text).expect("write");
    // 1 MiB pieces: the long line is three of them.
    let events = same_as_one_thread(&path, &[]);
    assert_eq!(events, 1 + 3 + 9000 + 1 + 1);
}

#[test]
fn stdin_from_a_file_and_a_file_sink_come_out_as_on_one_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("mix.log");
    std::fs::write(&input, mix_across_cuts()).expect("write");
    let config = dir.path().join("logmux.toml");
    let sink = |threads: &str| {
        let out = dir.path().join(format!("out-{threads}.jsonl"));
        let toml = format!(
            "[sink.archive]\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        );
        std::fs::write(&config, toml).expect("config");
        let file = std::fs::File::open(&input).expect("open");
        let run = logmux()
            .args([
                "filter",
                "--output",
                "json",
                "--threads",
                threads,
                "--config",
            ])
            .arg(&config)
            .args(["--sink", "archive"])
            .stdin(Stdio::from(file))
            .output()
            .expect("run logmux");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        without_read_time(&std::fs::read(&out).expect("sink file"))
    };
    let (one, many) = (sink("1"), sink("2"));
    assert_eq!(
        one.len(),
        1 + mix_across_cuts().matches(ACCESS).count() + 3 * TRACEBACKS + 1
    );
    assert!(one == many, "the sink's events differ");
}
