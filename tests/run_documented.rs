//! Documented behaviour of `logmux run` (docs/run.md) that the other run
//! tests do not reach: `exitcodes` at runtime, SIGQUIT, exit 73, `log_sink`,
//! `unless_exists`, an `every` program that outlives its interval, and
//! what `user` sets and drops.

#[path = "support/run.rs"]
mod support;

use std::os::unix::process::CommandExt;

use support::*;

/// The messages of logmux's own events, in order.
fn own_messages(own: &[serde_json::Value]) -> Vec<&str> {
    own_with(own, "")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect()
}

/// `NAME exited: …` messages of logmux's own events, in order.
fn exits<'e>(own: &'e [serde_json::Value], name: &str) -> Vec<(&'e str, &'e str)> {
    own_with(own, &format!("{name} exited: "))
        .iter()
        .map(|e| {
            (
                e["message"].as_str().unwrap(),
                e["severity_text"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn exitcodes_decide_what_is_a_success_at_runtime() {
    // 3 is a success: not restarted (on-failure), INFO, a clean natural end.
    let done = start(
        r#"
control_socket = ""
[program.a]
command = ["sh", "-c", "echo run; exit 3"]
exitcodes = [0, 3]
"#,
    )
    .finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(exits(&own, "a"), [("a exited: exit code 3", "INFO")]);
    assert_eq!(messages_of(&events(&done.stdout), "a"), ["run"]);

    // Only 3 is: 0 is a failure, restarted until the run that exits 3.
    let done = start(
        r#"
control_socket = ""
[program.a]
command = ["sh", "-c", "n=$(cat @DIR@/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > @DIR@/n; echo run $n; [ $n = 3 ] && exit 3; exit 0"]
exitcodes = [3]
startsecs = 0
"#,
    )
    .finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(
        exits(&own, "a"),
        [
            ("a exited: exit code 0", "WARN"),
            ("a exited: exit code 0", "WARN"),
            ("a exited: exit code 3", "INFO")
        ]
    );
    assert_eq!(
        messages_of(&events(&done.stdout), "a"),
        ["run 1", "run 2", "run 3"]
    );
}

#[test]
fn sigquit_stops_like_sigterm() {
    let run = start(
        r#"
control_socket = ""
[program.a]
command = ["sh", "-c", "trap 'echo a got TERM; exit 0' TERM; echo a up; while true; do sleep 0.05; done"]
"#,
    );
    run.wait_for(20, "a up", |out, _| out.contains("a up"));
    run.signal(libc::SIGQUIT);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let own = events(&done.stderr);
    assert_eq!(own_with(&own, "SIGQUIT: stopping all programs").len(), 1);
    assert_eq!(own_with(&own, "stopping a with SIGTERM").len(), 1);
    assert_eq!(exits(&own, "a"), [("a exited: exit code 0", "INFO")]);
    assert_eq!(
        messages_of(&events(&done.stdout), "a"),
        ["a up", "a got TERM"]
    );
}

#[test]
fn a_sink_or_template_target_that_cannot_be_created_exits_73() {
    // /dev/null is no directory: nothing can be created under it.
    let sink = r#"
control_socket = ""
[sink.f]
type = "file"
path = "/dev/null/logmux-test/app.jsonl"
[program.a]
command = ["sh", "-c", "echo must not run"]
stdout = { sink = "f" }
"#;
    let template = r#"
control_socket = ""
[[template]]
source = "/proc/version"
target = "/dev/null/logmux-test/site.conf"
[program.a]
command = ["sh", "-c", "echo must not run"]
"#;
    for (config, said) in [
        (sink, "cannot open sink f: "),
        (
            template,
            "cannot write template target /dev/null/logmux-test/site.conf: ",
        ),
    ] {
        let done = start(config).finish(30);
        assert_eq!(done.code, Some(73), "stderr: {}", done.stderr);
        let own = events(&done.stderr);
        let errors = own_with(&own, said);
        assert_eq!(errors.len(), 1, "{}", done.stderr);
        assert_eq!(errors[0]["severity_text"], "ERROR");
        assert!(own_with(&own, "spawned").is_empty(), "{}", done.stderr);
        assert!(done.stdout.is_empty());
    }
}

#[test]
fn log_sink_takes_logmux_own_events() {
    let done = start(
        r#"
control_socket = ""
log_sink = "own"
[sink.own]
type = "file"
path = "@DIR@/own.jsonl"
[program.a]
command = ["sh", "-c", "echo hi; echo oops >&2"]
autorestart = "never"
"#,
    )
    .finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    // The programs' streams stay where they were; logmux's events moved.
    assert_eq!(messages_of(&events(&done.stdout), "a"), ["hi"]);
    let stderr = events(&done.stderr);
    assert_eq!(messages_of(&stderr, "a"), ["oops"]);
    assert!(own_with(&stderr, "").is_empty(), "{}", done.stderr);
    let file = std::fs::read_to_string(done.dir.path().join("own.jsonl")).unwrap();
    let own = events(&file);
    let said = own_messages(&own);
    assert_eq!(said.len(), own.len(), "only logmux's events: {file}");
    assert!(said[0].starts_with("spawned a (pid "), "{said:?}");
    assert_eq!(
        &said[1..],
        [
            "a exited: exit code 0",
            "every program has ended and none will restart: exiting",
            "logmux exits with 0"
        ]
    );
}

#[test]
fn unless_exists_sits_a_program_out_when_its_file_exists() {
    // The file is there before logmux starts: the crate's Cargo.toml.
    let run = start(&format!(
        r#"
control_socket = "@DIR@/ctl.sock"
[program.first-time]
command = ["echo", "must not run"]
unless_exists = "{}"
[program.other]
command = ["sh", "-c", "echo other ran; exec sleep 60"]
unless_exists = "@DIR@/absent"
"#,
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")
    ));
    run.wait_for(20, "other ran", |out, _| out.contains("other ran"));
    // `logmux ctl status` says so: disabled, not waiting or exited.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_logmux"))
        .args(["ctl", "--json", "--socket"])
        .arg(run.dir.path().join("ctl.sock"))
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let states: serde_json::Value = serde_json::from_str(&text).unwrap();
    let state_of = |name: &str| {
        states["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["state"].clone())
    };
    assert_eq!(state_of("first-time"), Some("disabled".into()), "{text}");
    assert_ne!(state_of("other"), Some("disabled".into()), "{text}");
    assert!(state_of("other").is_some(), "{text}");
    let own = events(&done.stderr);
    assert!(own_with(&own, "spawned first-time").is_empty());
    assert_eq!(own_with(&own, "spawned other").len(), 1);
    let out = events(&done.stdout);
    assert_eq!(messages_of(&out, "other"), ["other ran"]);
    assert!(messages_of(&out, "first-time").is_empty());
}

#[test]
fn an_every_program_still_running_is_not_started_again() {
    // Every 1 s, but each run takes 1.5 s: a second run may only start
    // after the first has ended.
    let run = start(
        r#"
control_socket = ""
[program.renew]
command = ["sh", "-c", "echo start; sleep 1.5; echo end"]
every = "1s"
[program.web]
command = ["sleep", "60"]
"#,
    );
    run.wait_for(30, "three whole runs", |out, _| {
        out.matches("\"end\"").count() >= 3
    });
    run.signal(libc::SIGTERM);
    let done = run.finish(30);
    let own = events(&done.stderr);
    // Spawned, exited, spawned, exited, …: never two at once.
    let steps: Vec<&str> = own_messages(&own)
        .into_iter()
        .filter(|m| m.starts_with("spawned renew") || m.starts_with("renew exited"))
        .map(|m| {
            if m.starts_with("spawned") {
                "spawned"
            } else {
                "exited"
            }
        })
        .collect();
    assert!(steps.len() >= 6, "{steps:?}");
    for (i, step) in steps.iter().enumerate() {
        let want = if i % 2 == 0 { "spawned" } else { "exited" };
        assert_eq!(*step, want, "step {i} of {steps:?}");
    }
    let out = events(&done.stdout);
    let said = messages_of(&out, "renew");
    for pair in said.chunks(2) {
        assert_eq!(pair[0], "start", "{said:?}");
        if pair.len() == 2 {
            assert_eq!(pair[1], "end", "{said:?}");
        }
    }
}

#[test]
fn user_sets_home_and_logname_and_only_the_users_own_groups() {
    if unsafe { libc::geteuid() } != 0 {
        return skip_or_fail(
            "user_sets_home_and_logname_and_only_the_users_own_groups",
            "`user` needs root",
        );
    }
    let home = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("nobody:"))
        .and_then(|rest| rest.split(':').nth(4).map(str::to_string))
        .expect("a nobody user in /etc/passwd");
    // logmux starts with supplementary groups 4 and 27: `dropped` must not
    // keep them, only nobody's own groups (its primary group 65534 alone:
    // no line of /etc/group lists nobody); `kept` (no `user`) shows they
    // were there to drop.
    let run = start_with(
        r#"
control_socket = ""
[program.dropped]
command = ["sh", "-c", "echo HOME=$HOME LOGNAME=$LOGNAME USER=$USER; grep Groups /proc/self/status; id -u; id -g"]
user = "nobody"
autorestart = "never"
[program.kept]
command = ["grep", "Groups", "/proc/self/status"]
autorestart = "never"
"#,
        |cmd| {
            // SAFETY: setgroups is async-signal-safe; it runs between fork
            // and exec, as root.
            unsafe {
                cmd.pre_exec(|| {
                    let groups: [libc::gid_t; 2] = [4, 27];
                    if libc::setgroups(2, groups.as_ptr()) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        },
    );
    let done = run.finish(30);
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    let out = events(&done.stdout);
    let env = format!("HOME={home} LOGNAME=nobody USER=nobody");
    assert_eq!(
        messages_of(&out, "dropped"),
        [env.as_str(), "Groups:\t65534 ", "65534", "65534"]
    );
    assert_eq!(messages_of(&out, "kept"), ["Groups:\t4 27 "]);
}
