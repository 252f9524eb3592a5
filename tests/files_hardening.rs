//! What a full disk and a planted link do to `logmux run`'s file sink: the
//! file holds whole events only (every line parses), the events that did
//! not reach it are counted exactly, failure and recovery are reported; a
//! link where the file goes is refused and its target left untouched.

#[path = "support/run.rs"]
mod support;
#[path = "support/tmpfs.rs"]
mod tmpfs;

use std::process::Command;

use support::*;
use tmpfs::Tmpfs;

/// A count from the final report: a number, or (older reports) a string.
fn count(v: &serde_json::Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a count: {v}"))
}

const SENT_BEFORE: u64 = 10_000;
const SENT_AFTER: u64 = 10;

#[test]
fn a_full_disk_leaves_whole_events_and_counts_exactly_what_was_lost() {
    let holder = tempfile::tempdir().unwrap();
    let mnt = holder.path().join("disk");
    let Some(_disk) = Tmpfs::mount(&mnt) else {
        skip_or_fail(
            "a_full_disk_leaves_whole_events_and_counts_exactly_what_was_lost",
            "cannot mount a tmpfs (needs root)",
        );
        return;
    };
    // Most of the disk is taken; what is left fills within the first burst.
    std::fs::write(mnt.join("ballast"), vec![b'x'; 700 * 1024]).unwrap();
    let m = mnt.display();
    // Outside the tmpfs: the burst is over and logmux has read all of it
    // from the pipe (a slow machine's shell takes seconds for it; the disk
    // must not come back in the middle of it). The sink's queue is small,
    // so what logmux still holds then cannot fill the disk a second time.
    let burst_done = holder.path().join("burst-done");
    let burst_done = burst_done.display();
    let script = format!(
        "i=0; while [ $i -lt {SENT_BEFORE} ]; do echo \"before $i padding padding padding padding\"; i=$((i+1)); done; python3 @WRITERS@/until-read.py && : > {burst_done}; \
         while [ ! -e {m}/go ]; do sleep 0.05; done; \
         i=0; while [ $i -lt {SENT_AFTER} ]; do echo \"after $i\"; i=$((i+1)); done"
    );
    let config = format!(
        r#"control_socket = ""
log_sink = "stderr"
[sink.disk]
type = "file"
path = "{m}/app.jsonl"
queue = "4KiB"
[program.app]
command = ["sh", "-c", '{script}']
autorestart = "never"
stdout = {{ sink = "disk", format = "text" }}
"#
    );
    let run = start(&config);
    run.wait_for(60, "the write failure", |_, err| {
        err.contains("write failed")
    });
    // Wait for the child to finish its burst and logmux to read it all from
    // the pipe (written or lost but for one read and a 4 KiB queue), then
    // give the disk back.
    run.wait_for(60, "the burst read", |_, _| {
        holder.path().join("burst-done").exists()
    });
    std::fs::remove_file(mnt.join("ballast")).unwrap();
    std::fs::write(mnt.join("go"), "").unwrap();
    let done = run.finish(60);
    // The programs ended well, but events were lost: exit::EVENTS_LOST.
    assert_eq!(done.code, Some(75), "{}", done.stderr);

    let text = std::fs::read_to_string(mnt.join("app.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "the file ends mid-event");
    let written = events(&text); // panics on a line that is not JSON
    let before = written
        .iter()
        .filter(|e| e["message"].as_str().unwrap().starts_with("before "))
        .count() as u64;
    let after = written
        .iter()
        .filter(|e| e["message"].as_str().unwrap().starts_with("after "))
        .count() as u64;
    assert_eq!(after, SENT_AFTER, "the events after recovery all arrive");
    assert!(before < SENT_BEFORE, "the disk never filled");

    let own = events(&done.stderr);
    let failed = own_with(&own, &format!("{m}/app.jsonl: write failed"));
    assert_eq!(failed.len(), 1, "reported once: {}", done.stderr);
    let again = own_with(&own, &format!("{m}/app.jsonl: writing again"));
    assert_eq!(again.len(), 1, "recovery reported: {}", done.stderr);
    let report = own_with(&own, "sink disk: ");
    assert_eq!(report.len(), 1, "{}", done.stderr);
    let lost = count(&report[0]["logmux"]["lost"]) + count(&report[0]["logmux"]["undelivered"]);
    assert_eq!(before + after + lost, SENT_BEFORE + SENT_AFTER);
}

#[test]
fn a_file_sink_path_that_is_a_link_is_refused_and_its_target_untouched() {
    let holder = tempfile::tempdir().unwrap();
    let victim = holder.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let again = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&victim, again.path().join("app.jsonl")).unwrap();
    let config = write_config(
        again.path(),
        r#"control_socket = ""
[sink.app]
type = "file"
path = "@DIR@/app.jsonl"
[program.app]
command = ["echo", "hello"]
autorestart = "never"
stdout = { sink = "app" }
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(73), "{stderr}");
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}
