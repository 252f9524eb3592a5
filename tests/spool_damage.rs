//! The disk spool when things go wrong around it, under `logmux run` with a
//! syslog TCP sink and a real TCP receiver: a segment damaged in the middle
//! and torn at its end (the rest is delivered, the damage cut or skipped
//! and counted to the byte), a full disk (a 1 MiB tmpfs: drops counted so
//! that delivered + dropped = written), and a spool directory that is a
//! file, read-only, or locked by another logmux (a clear error naming the
//! path, exit code 73).

#[path = "support/line_receiver.rs"]
mod line_receiver;
#[path = "support/run.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use line_receiver::{seqs, LineReceiver};
use serde_json::Value;
use support::*;

fn config(port: u16, buffer: &str, command: &str, drain: &str) -> String {
    format!(
        r#"control_socket = ""
drain_timeout = "{drain}"
[sink.s]
type = "syslog"
address = "tcp://127.0.0.1:{port}"
framing = "lf"
buffer = {{ type = "disk", {buffer} }}
[program.app]
command = {command}
autorestart = "never"
stdout = {{ sink = "s", format = "text" }}
"#
    )
}

fn writer(rate: u32, seconds: f32) -> String {
    format!("[\"python3\", \"@WRITERS@/spool_writer.py\", \"{rate}\", \"{seconds}\", \"@DIR@/stats.json\"]")
}

fn field(e: &Value, k: &str) -> u64 {
    e["logmux"][k]
        .as_u64()
        .unwrap_or_else(|| panic!("no {k} in {e}"))
}

/// One record of a segment file, read with the framing of
/// src/sink/buffer/disk/segment.rs: magic, length, crc, then the payload
/// (events, key length, key, bytes).
struct Rec {
    offset: usize,
    len: usize,
    seqs: Vec<u64>,
}

fn records(data: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= data.len() {
        assert_eq!(&data[at..at + 4], b"LMS1", "a record at {at}");
        let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
        let payload = &data[at + 12..at + 12 + len];
        let key_len = u16::from_le_bytes(payload[4..6].try_into().unwrap()) as usize;
        let text = String::from_utf8_lossy(&payload[6 + key_len..]);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        out.push(Rec {
            offset: at,
            len: 12 + len,
            seqs: seqs(&lines),
        });
        at += 12 + len;
    }
    out
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "seg") && std::fs::metadata(p).unwrap().len() > 0
        })
        .collect();
    segs.sort();
    segs
}

#[test]
fn a_damaged_record_and_a_torn_tail_are_skipped_and_counted_and_the_rest_arrives() {
    const N: u64 = 3000;
    let rx = LineReceiver::start(false);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let buffer = format!("path = \"{}\"", spool.display());
    // The receiver is down: every line stays in the spool at exit.
    let first = start(&config(rx.port, &buffer, &writer(3000, 1.0), "1s")).finish(60);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(
        first.stderr.contains(&format!("sink s: {N} events")),
        "{}",
        first.stderr
    );
    let segs = segments(&spool);
    assert_eq!(segs.len(), 1, "{segs:?}");
    let mut data = std::fs::read(&segs[0]).unwrap();
    let recs = records(&data);
    assert!(recs.len() >= 3, "{} records", recs.len());
    assert_eq!(recs.iter().map(|r| r.seqs.len() as u64).sum::<u64>(), N);
    // A byte flipped in the middle record's lines; the last record torn.
    let (mid, last) = (&recs[recs.len() / 2], &recs[recs.len() - 1]);
    data[mid.offset + 20] ^= 0x01;
    data.truncate(data.len() - 3);
    std::fs::write(&segs[0], &data).unwrap();
    let expected: Vec<u64> = recs[..recs.len() - 1]
        .iter()
        .filter(|r| r.offset != mid.offset)
        .flat_map(|r| r.seqs.iter().copied())
        .collect();

    rx.up();
    let done = start(&config(rx.port, &buffer, "[\"true\"]", "30s")).finish(60);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    rx.wait_count(expected.len(), 30);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(seqs(&rx.lines()), expected);
    let own = events(&done.stderr);
    let cut = own_with(&own, "sink s: cut ");
    assert_eq!(cut.len(), 1, "{}", done.stderr);
    assert_eq!(field(cut[0], "cut_bytes"), (last.len - 3) as u64);
    let damaged = own_with(&own, "sink s: 1 damaged regions");
    assert_eq!(damaged.len(), 1, "{}", done.stderr);
    assert_eq!(field(damaged[0], "damaged_bytes"), mid.len as u64);
    let skipped = own_with(&own, "sink s: skipped ");
    assert_eq!(skipped.len(), 1, "{}", done.stderr);
    assert_eq!(field(skipped[0], "damaged_bytes"), mid.len as u64);
}

/// A tmpfs of `size` at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_drops_newest_and_delivered_plus_dropped_is_everything() {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let Some(_tmpfs) = Tmpfs::mount(&spool, "size=1m") else {
        skip_or_fail(
            "a_full_disk_drops_newest_and_delivered_plus_dropped_is_everything",
            "cannot mount a tmpfs (not root?)",
        );
        return;
    };
    let rx = LineReceiver::start(false);
    let buffer = format!(
        "path = \"{}\", max_size = \"64MiB\", when_full = \"drop_newest\"",
        spool.display()
    );
    let first = start(&config(rx.port, &buffer, &writer(10_000, 2.0), "1s")).finish(60);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let own = events(&first.stderr);
    assert_eq!(
        own_with(
            &own,
            "sink s: spool: the disk is full; dropping new records"
        )
        .len(),
        1,
        "{}",
        first.stderr
    );
    let drops = own_with(&own, "sink s: the full spool dropped ");
    assert_eq!(drops.len(), 1, "{}", first.stderr);
    let dropped = field(drops[0], "dropped_newest");
    assert!(dropped > 0 && dropped < N, "{dropped}");

    rx.up();
    let done = start(&config(rx.port, &buffer, "[\"true\"]", "30s")).finish(60);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    rx.wait_count((N - dropped) as usize, 30);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let got = seqs(&rx.lines());
    assert_eq!(
        got.len() as u64 + dropped,
        N,
        "delivered + dropped = written"
    );
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, once each");
    assert_eq!(got[0], 0, "the oldest lines were kept");
}

/// Runs `logmux run` with a spool at `path` and returns its exit code and stderr.
fn start_error(path: &Path) -> (Option<i32>, String) {
    let rx = LineReceiver::start(false);
    let buffer = format!("path = \"{}\"", path.display());
    let done = start(&config(rx.port, &buffer, "[\"true\"]", "1s")).finish(30);
    (done.code, done.stderr)
}

#[test]
fn a_spool_path_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spool");
    std::fs::write(&file, "").unwrap();
    let (code, stderr) = start_error(&file);
    assert_eq!(code, Some(73), "{stderr}");
    let expected = format!(
        "cannot open sink s: spool directory {}: cannot use it: not a directory",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_read_only_spool_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let Some(_tmpfs) = Tmpfs::mount(&spool, "ro,size=1m") else {
        skip_or_fail(
            "a_read_only_spool_directory_is_a_clear_error",
            "cannot mount a tmpfs (not root?)",
        );
        return;
    };
    let (code, stderr) = start_error(&spool);
    assert_eq!(code, Some(73), "{stderr}");
    let expected = format!(
        "cannot open sink s: spool directory {}: not writable: Read-only file system",
        spool.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_spool_locked_by_another_logmux_is_a_clear_error() {
    let rx = LineReceiver::start(false);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let buffer = format!("path = \"{}\"", spool.display());
    let holder = start(&config(rx.port, &buffer, "[\"sleep\", \"30\"]", "1s"));
    holder.wait_for(20, "the app's start", |_, err| err.contains("spawned app"));
    let (code, stderr) = start_error(&spool);
    holder.signal(libc::SIGTERM);
    let _ = holder.finish(30);
    assert_eq!(code, Some(73), "{stderr}");
    let expected = format!("cannot open sink s: spool directory {}: locked by another logmux process (one sink per spool directory)", spool.display());
    assert!(stderr.contains(&expected), "{stderr}");
}
