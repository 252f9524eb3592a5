//! What a planted link and a full disk do to `logmux listen --out-dir`:
//! a link where a container's file goes is refused and its target left
//! untouched (with `--max-files 0` too); a full disk leaves whole events
//! only, reported once, the bytes that did not reach the file counted.

#[path = "support/listen.rs"]
mod support;
#[path = "support/tmpfs.rs"]
mod tmpfs;

use serde_json::Value;
use support::*;
use tmpfs::Tmpfs;

/// Every line as a JSON object; panics on a line that is not one.
fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_link_planted_in_the_out_dir_is_refused_and_its_target_untouched() {
    for max_files in ["2", "0"] {
        let l = start(&[
            "--udp",
            ":0",
            "--out-dir",
            "@DIR@/logs",
            "--max-file-size",
            "1KiB",
            "--max-files",
            max_files,
        ]);
        let victim = l.path("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, l.path("logs/evil-2.jsonl")).unwrap();
        let port = l.udp().port().to_string();
        let docker = |tag: &str, text: &str| {
            logger(&[
                "--udp",
                "-n",
                "127.0.0.1",
                "-P",
                &port,
                "--rfc5424=notq",
                "--id=812",
                "-p",
                "daemon.info",
                "-t",
                tag,
                "--msgid",
                tag,
                text,
            ]);
        };
        for i in 0..20 {
            docker(
                "evil-2",
                &format!("evil {i:02} padding padding padding padding"),
            );
        }
        docker("web-1", "web line");
        let web = l.path("logs/web-1.jsonl");
        l.wait_until(20, "web-1's line", |_| {
            std::fs::read_to_string(&web).is_ok_and(|t| t.contains("web line"))
        });
        let done = l.stop();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(
            done.stderr.contains("is a symbolic link"),
            "{max_files}: {}",
            done.stderr
        );
        let evil = done.dir.path().join("logs/evil-2.jsonl");
        assert!(std::fs::symlink_metadata(&evil).unwrap().is_symlink());
    }
}

#[test]
fn a_full_disk_under_the_out_dir_leaves_whole_events() {
    let holder = tempfile::tempdir().unwrap();
    let mnt = holder.path().join("disk");
    let Some(_disk) = Tmpfs::mount(&mnt) else {
        skip_or_fail(
            "a_full_disk_under_the_out_dir_leaves_whole_events",
            "cannot mount a tmpfs (needs root)",
        );
        return;
    };
    std::fs::write(mnt.join("ballast"), vec![b'x'; 700 * 1024]).unwrap();
    let out_dir = mnt.join("logs");
    let l = start(&["--tcp", ":0", "--out-dir", out_dir.to_str().unwrap()]);
    let sent = 3000;
    let frames: String = (0..sent)
        .map(|i| format!("<30>1 2026-12-03T00:00:00Z host web-1 812 web-1 - line {i:05} padding padding padding\n"))
        .collect();
    send_tcp(l.tcp(), frames.as_bytes());
    l.wait_until(30, "the write failure", |l| {
        let said = l.stderr_now();
        said.contains("write failed") || said.contains("cannot write")
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    let done = l.stop();
    let text = std::fs::read_to_string(out_dir.join("web-1.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "the file ends mid-event");
    let written = events(&text); // panics on a line that is not JSON
    assert!(
        !written.is_empty() && written.len() < sent,
        "{}",
        written.len()
    );
    assert_eq!(
        done.stderr.matches("write failed").count(),
        1,
        "{}",
        done.stderr
    );
    let own = events(&done.stderr);
    let report: Vec<_> = own
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listen stopped"))
        })
        .collect();
    assert_eq!(report.len(), 1, "{}", done.stderr);
    let lost = &report[0]["logmux"]["lost_bytes"];
    assert!(
        lost.as_u64()
            .or_else(|| lost.as_str()?.parse().ok())
            .unwrap_or(0)
            > 0,
        "{}",
        done.stderr
    );
}
