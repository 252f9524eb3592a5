//! Idle memory: once every program has started, `logmux run` gives back the
//! pages of its own code that start-up read (`sys::code_pages`), and the
//! code that runs afterwards (a program's first line) is read back and works.

#[path = "support/run.rs"]
mod support;

use support::*;

/// The bytes of `pid`'s private, read-only mappings of its executable
/// file (its code and constants), and how many kB of them are resident,
/// from `/proc/PID/smaps`.
fn exe_code(pid: i32) -> (u64, u64) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let exe = exe.to_str().unwrap().to_string();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let (mut in_code, mut bytes, mut resident_kib) = (false, 0, 0);
    for line in smaps.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some((start, end)) = words[0].split_once('-') {
            let perms = words[1].as_bytes();
            in_code = line.ends_with(&exe) && perms[1] == b'-' && perms[3] == b'p';
            if in_code {
                let at = |h: &str| u64::from_str_radix(h, 16).unwrap();
                bytes += at(end) - at(start);
            }
        } else if in_code && words[0] == "Rss:" {
            resident_kib += words[1].parse::<u64>().unwrap();
        }
    }
    (bytes, resident_kib)
}

#[test]
fn after_start_up_its_code_is_paged_out_and_later_lines_are_still_parsed() {
    let run = start_with(
        r#"
control_socket = ""
[program.web]
command = ["sh", "-c", "while [ ! -e @DIR@/go ]; do sleep 0.05; done; echo '10.0.0.1 - - [05/Mar/2024:10:15:32 +0000] \"GET /late HTTP/1.1\" 200 512 \"-\" \"curl/8.5\"'; sleep 300"]
"#,
        |cmd| {
            cmd.arg("--verbose");
        },
    );
    let paged_out = "start-up over: its code paged out";
    run.wait_for(20, paged_out, |_, err| err.contains(paged_out));
    let said = events(&run.stderr_now())
        .into_iter()
        .find(|e| e["message"] == paged_out)
        .unwrap();
    let (code_bytes, resident_kib) = exe_code(run.pid());
    // Every byte of its code and constants, as the kernel maps them.
    assert_eq!(said["logmux"]["bytes"].as_u64(), Some(code_bytes), "{said}");
    // What a build's idle loop reads back varies (an optimised build: about
    // 0.8 of 6.6 MB; this debug one more): README, "Idle memory".
    println!(
        "FIGURE logmux run (this build), idle: {resident_kib} kB of its {} kB of code resident",
        code_bytes / 1024
    );

    std::fs::write(run.dir.path().join("go"), "").unwrap();
    run.wait_for(20, "the late line", |out, _| out.contains("/late"));
    run.signal(libc::SIGTERM);
    let done = run.finish(20);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let events = events(&done.stdout);
    let late: Vec<_> = events
        .iter()
        .filter(|e| e["url"]["path"] == "/late")
        .collect();
    assert_eq!(late.len(), 1, "{}", done.stdout);
    assert_eq!(late[0]["logmux"]["format"], "nginx.access");
    assert_eq!(late[0]["http"]["response"]["status_code"], 200);
    assert_eq!(late[0]["http"]["response"]["body"]["size"], 512);
    assert_eq!(late[0]["service"]["name"], "web");
}
