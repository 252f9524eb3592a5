//! `logmux run --output pretty` and `LOGMUX_OUTPUT=pretty` (for `docker
//! compose up` in development): the program's lines and logmux's own events
//! in the pretty view on the console sinks.

mod common;

/// Drops the `HH:MM:SS.mmm ` clock (lines read just now: today, no date).
fn without_clock(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| {
            let clock = l.get(..12).unwrap_or("");
            assert!(
                clock.as_bytes().get(2) == Some(&b':') && clock.as_bytes().get(8) == Some(&b'.'),
                "a clock first: {l}"
            );
            l.get(13..).unwrap_or("").to_string()
        })
        .collect()
}

const PROGRAM: &str = "import sys; print('hello'); print('oops', file=sys.stderr)";

#[test]
fn run_shows_the_program_and_itself_pretty() {
    for env in [false, true] {
        let mut cmd = common::logmux();
        cmd.arg("run");
        if env {
            cmd.env("LOGMUX_OUTPUT", "pretty");
        } else {
            cmd.args(["--output", "pretty"]);
        }
        let out = cmd
            .args(["--", "python3", "-c", PROGRAM])
            .output()
            .expect("run logmux run");
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(without_clock(&out.stdout), ["python3    INFO  hello"]);
        let stderr = without_clock(&out.stderr);
        assert!(
            stderr.contains(&"python3    INFO  oops".to_string()),
            "{stderr:?}"
        );
        let own: Vec<&String> = stderr.iter().filter(|l| l.starts_with("logmux ")).collect();
        assert!(
            own.iter()
                .any(|l| l.starts_with("logmux     INFO  spawned python3 (pid ")),
            "{own:?}"
        );
        assert_eq!(
            own.last().map(|l| l.as_str()),
            Some("logmux     INFO  logmux exits with 0 exit_code=0")
        );
    }
}

#[test]
fn without_it_run_writes_json() {
    let out = common::logmux()
        .args(["run", "--", "python3", "-c", PROGRAM])
        .env_remove("LOGMUX_OUTPUT")
        .output()
        .expect("run logmux run");
    let events = common::json_lines(&out.stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], "hello");
}
