//! `logmux completions SHELL` and `logmux man [COMMAND]` come from the clap
//! definitions: bash completes real commands and flags from the script, and
//! man(1) (groff) renders the page with the flags of `--help`.

mod common;

use std::process::Command;

/// What bash's completion offers for the words typed so far, from the
/// script `logmux completions bash` prints.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = common::run(&["completions", "bash"], b"");
    assert!(script.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logmux.bash");
    std::fs::write(&path, &script.stdout).expect("write the script");
    let line = words.join(" ");
    let program = format!(
        "source {path}; COMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE='{line}'; \
         COMP_POINT=${{#COMP_LINE}}; _logmux logmux {cur} {prev}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path = path.display(),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    words.sort();
    words
}

#[test]
fn bash_completes_commands_and_flags() {
    assert_eq!(bash_completes(&["logmux", "fil"]), ["filter"]);
    assert_eq!(bash_completes(&["logmux", "com"]), ["completions"]);
    assert_eq!(
        bash_completes(&["logmux", "filter", "--fo"]),
        ["--follow", "--format"]
    );
    assert_eq!(bash_completes(&["logmux", "completions", "z"]), ["zsh"]);
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    for shell in ["zsh", "fish"] {
        let out = common::run(&["completions", shell], b"");
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for command in [
            "filter",
            "run",
            "check",
            "ctl",
            "listen",
            "completions",
            "man",
        ] {
            assert!(text.contains(command), "{shell} lacks {command}");
        }
        assert!(text.contains("follow"), "{shell} lacks --follow");
    }
}

/// The page rendered by groff as man(1) shows it, as plain text.
fn rendered(page: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logmux.1");
    std::fs::write(&path, page).expect("write the page");
    let out = Command::new("man")
        .arg("-l")
        .arg(&path)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("GROFF_NO_SGR", "1")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run man");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bold and underline by overstrike, which `col -b` would remove.
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        plain.push(c);
    }
    plain
}

#[test]
fn man_renders_the_pages_of_logmux_and_its_commands() {
    if !std::path::Path::new("/usr/bin/man").exists() {
        common::skip_or_fail(
            "man_renders_the_pages_of_logmux_and_its_commands",
            "no man(1) (Debian's man-db; tests/run-all.sh installs it)",
        );
        return;
    }
    let top = common::run(&["man"], b"");
    assert!(top.status.success());
    let text = rendered(&top.stdout);
    assert!(text.contains("logmux - "), "{text}");
    assert!(text.contains("logmux-filter(1)"), "{text}");

    let filter = common::run(&["man", "filter"], b"");
    assert!(filter.status.success());
    let text = rendered(&filter.stdout);
    assert!(
        text.contains("logmux-filter - Turn a mixed log stream"),
        "{text}"
    );
    assert!(text.contains("-f, --follow"), "{text}");
    assert!(text.contains("tail -F"), "{text}");

    let unknown = common::run(&["man", "nope"], b"");
    assert_eq!(unknown.status.code(), Some(64));
}
