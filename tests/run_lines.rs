//! `logmux run` never loses, cuts or merges a line: writers in sh and
//! Python writing in 4 KB blocks, one line per write, and partial lines
//! without a newline; and four children bursting at full speed while
//! SIGTERM arrives mid-burst.

#[path = "support/run.rs"]
mod support;

use std::collections::HashMap;

use support::*;

#[test]
fn blocks_single_writes_and_partial_lines_come_out_whole() {
    let run = start(
        r#"
control_socket = ""

[program.block]
command = ["python3", "@WRITERS@/burst.py", "block", "20000", "block"]
autorestart = "never"

[program.line]
command = ["python3", "@WRITERS@/burst.py", "line", "5000", "line"]
autorestart = "never"

[program.partial]
command = ["python3", "@WRITERS@/burst.py", "partial", "50", "partial"]
autorestart = "never"
stdout = { format = "text" }

[program.shblock]
command = ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo \"shblock $i of a shell writer\"; i=$((i+1)); done | dd bs=4096 iflag=fullblock 2>/dev/null"]
autorestart = "never"

[program.shell]
command = ["sh", "-c", "i=0; while [ $i -lt 500 ]; do echo \"shell $i\"; i=$((i+1)); done; printf 'shell half'; sleep 0.2; printf ' and half\n'; printf 'shell no newline at exit'"]
autorestart = "never"
"#,
    );
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let events = events(&done.stdout);
    for (name, count) in [("block", 20000), ("line", 5000), ("partial", 50)] {
        let got = messages_of(&events, name);
        let mut want: Vec<String> = (0..count).map(|i| burst_line(name, i)).collect();
        if name == "partial" {
            want.push(format!("{name} tail-without-newline{name} done {count}"));
        } else {
            want.push(format!("{name} done {count}"));
        }
        assert_eq!(got.len(), want.len(), "{name}: line count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{name}: line {i}");
        }
    }
    // sh through dd: 4096-byte writes that cut lines anywhere.
    let shblock = messages_of(&events, "shblock");
    assert_eq!(shblock.len(), 3000);
    assert!(shblock
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("shblock {i} of a shell writer")));
    let shell = messages_of(&events, "shell");
    assert_eq!(shell.len(), 502);
    assert!(shell[..500]
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("shell {i}")));
    assert_eq!(shell[500], "shell half and half");
    assert_eq!(shell[501], "shell no newline at exit");
    // Every event is tagged with its program, stream and pid.
    for e in events.iter().filter(|e| e["service"]["name"] == "block") {
        assert_eq!(e["log"]["iostream"], "stdout");
        assert!(e["process"]["pid"].as_i64().is_some_and(|p| p > 1));
    }
    // stderr carries only logmux's own events.
    assert!(support::events(&done.stderr)
        .iter()
        .all(|e| e["service"]["name"] == "logmux"));
}

#[test]
fn four_bursts_stopped_by_sigterm_mid_burst_lose_nothing() {
    let mut config = String::from("control_socket = \"\"\n");
    for (name, mode) in [
        ("w1", "block"),
        ("w2", "block"),
        ("w3", "line"),
        ("w4", "block"),
    ] {
        config.push_str(&format!(
            "[program.{name}]\ncommand = [\"python3\", \"@WRITERS@/burst.py\", \"{name}\", \"1000000\", \"{mode}\"]\nstdout = {{ format = \"text\" }}\n"
        ));
    }
    let run = start(&config);
    // Mid-burst: once output flows, but long before 4 million lines.
    // (Bytes, not lines: counting the lines of the growing output on every
    // poll lagged so far behind that a faster logmux had finished all
    // 4 million before the signal.)
    run.wait_for(60, "the burst to start", |out, _| out.len() > 4 << 20);
    run.signal(libc::SIGTERM);
    let done = run.finish(120);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);

    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut reported: HashMap<&str, u64> = HashMap::new();
    let mut total = 0u64;
    for line in done.stdout.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let name = match event["service"]["name"].as_str() {
            Some(n @ ("w1" | "w2" | "w3" | "w4")) => n,
            other => panic!("unexpected program {other:?}: {line}"),
        };
        let name: &str = ["w1", "w2", "w3", "w4"]
            .into_iter()
            .find(|n| *n == name)
            .unwrap();
        let message = event["message"].as_str().unwrap();
        if let Some(n) = message.strip_prefix(&format!("{name} done ")) {
            reported.insert(name, n.parse().unwrap());
            continue;
        }
        let next = seen.entry(name).or_insert(0);
        assert_eq!(
            message,
            burst_line(name, *next),
            "{name}: line {next} cut, spliced or lost"
        );
        *next += 1;
        total += 1;
    }
    for name in ["w1", "w2", "w3", "w4"] {
        let said = reported.get(name).copied();
        assert_eq!(
            said,
            Some(seen.get(name).copied().unwrap_or(0)),
            "{name}: lines written vs lines out"
        );
    }
    assert!(total < 4_000_000, "SIGTERM came after the burst ended");
    // Every program stopped cleanly with its stop signal, none was killed.
    let own = support::events(&done.stderr);
    assert!(own_with(&own, "")
        .iter()
        .all(|e| !e["message"].as_str().unwrap().contains("SIGKILL")));
    assert_eq!(own_with(&own, "logmux exits with 0").len(), 1);
}

#[test]
fn a_partial_line_is_emitted_after_the_idle_timeout() {
    let run = start(
        r#"
control_socket = ""
idle_flush = "300ms"
[program.prompt]
command = ["sh", "-c", "printf 'waiting for input> '; sleep 30"]
"#,
    );
    // Long before the program ends, the half line comes out on its own.
    run.wait_for(10, "the idle flush", |out, _| {
        out.contains("waiting for input>")
    });
    let alive = run.stderr_now().contains("prompt exited");
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert!(!alive, "the line came out only because the program ended");
    assert_eq!(done.code, Some(0));
    assert_eq!(
        messages_of(&events(&done.stdout), "prompt"),
        ["waiting for input> "]
    );
}

#[test]
fn a_line_written_in_pieces_for_longer_than_the_idle_timeout_comes_out_whole() {
    // Pieces every 0.5 s for 3 s with a 2 s idle timeout: the silence never
    // reaches it until the last piece, held alone, is emitted by it. One
    // timer serves the whole stream; armed at the first piece, it must not
    // cut the line when it fires 2 s later.
    let run = start(
        r#"
control_socket = ""
idle_flush = "2s"
[program.slow]
command = ["sh", "-c", "for p in a b c d e f; do printf \"$p\"; sleep 0.5; done; printf '\\n'; printf 'tail'; sleep 30"]
"#,
    );
    run.wait_for(20, "the idle flush of the last piece", |out, _| {
        out.contains("\"tail\"")
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(0));
    assert_eq!(
        messages_of(&events(&done.stdout), "slow"),
        ["abcdef", "tail"]
    );
}

#[test]
fn service_name_tags_the_events_of_programs_that_share_one() {
    let run = start(
        r#"
control_socket = ""

[program.certbot-first]
command = ["sh", "-c", "echo 'Requesting a certificate'; echo 'Saving debug log' >&2"]
once = true
service_name = "certbot"

[program.certbot-renew]
command = ["sh", "-c", "echo 'No renewals were attempted.'; echo 'Processing renewal' >&2"]
autorestart = "never"
service_name = "certbot"

[program.web]
command = ["sh", "-c", "echo 'web line'"]
autorestart = "never"
"#,
    );
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    let err = events(&done.stderr);
    // Both programs' lines, on both streams, under the one service name.
    assert_eq!(
        messages_of(&out, "certbot"),
        ["Requesting a certificate", "No renewals were attempted."]
    );
    assert_eq!(
        messages_of(&err, "certbot"),
        ["Saving debug log", "Processing renewal"]
    );
    assert!(messages_of(&out, "certbot-first").is_empty());
    assert!(messages_of(&out, "certbot-renew").is_empty());
    for e in out
        .iter()
        .chain(&err)
        .filter(|e| e["service"]["name"] == "certbot")
    {
        assert!(e["process"]["pid"].as_i64().is_some_and(|p| p > 1), "{e}");
    }
    // A program without one keeps its name; logmux's own events name programs.
    assert_eq!(messages_of(&out, "web"), ["web line"]);
    assert_eq!(own_with(&err, "spawned certbot-first").len(), 1);
    assert_eq!(own_with(&err, "spawned certbot-renew").len(), 1);
}
