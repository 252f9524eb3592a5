//! A test that cannot run on this machine says so instead of passing
//! quietly. Under CI (`CI` set, other than `false` or `0`) or with
//! `LOGMUX_LIVE=1` the machine must run everything, so a skip is a failure
//! that names the reason. Otherwise the skip is printed and, when
//! `LOGMUX_SKIP_LIST` names a file (tests/run-all.sh sets it), appended to
//! it as one `test: reason` line, which the suite lists and counts at its end.
#![allow(dead_code)]

use std::io::Write;

/// Whether this is a CI run: `CI` set, other than empty, `0` or `false`.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Whether every test must run here: under CI or with `LOGMUX_LIVE=1`.
pub fn strict() -> bool {
    ci() || std::env::var("LOGMUX_LIVE").is_ok_and(|v| v == "1")
}

/// Skips `test` because of `reason`: panics when [`strict`], otherwise
/// records the skip. The caller returns from the test right after.
pub fn skip_or_fail(test: &str, reason: &str) {
    assert!(
        !strict(),
        "{test} cannot run here (CI or LOGMUX_LIVE=1 forbids skipping it): {reason}"
    );
    let line = format!("{test}: {reason}");
    eprintln!("SKIPPED {line}");
    if let Some(path) = std::env::var_os("LOGMUX_SKIP_LIST") {
        // One write per line with O_APPEND: parallel tests do not interleave.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open LOGMUX_SKIP_LIST {path:?}: {e}"));
        f.write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("write LOGMUX_SKIP_LIST {path:?}: {e}"));
    }
}
