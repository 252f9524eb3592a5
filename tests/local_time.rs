//! Times printed without a zone are read in the zone's rules for their own
//! date (issue 14, item 12): with `TZ=Europe/Berlin`, lines on both sides of
//! the 2026 transitions (29 March 02:00 → 03:00, 25 October 03:00 → 02:00)
//! get +01:00 or +02:00 as that date had it, in one run of `logmux filter`.

mod common;

use std::io::Write;
use std::process::Stdio;

/// `logmux filter` in zone `tz`: each event's `timestamp`.
fn stamps(tz: &str, input: &str) -> Vec<String> {
    let mut child = common::logmux()
        .env("TZ", tz)
        .args(["filter"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn logmux");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    let out = child.wait_with_output().expect("wait logmux");
    assert!(out.status.success());
    common::json_lines(&out.stdout)
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn zoneless_times_take_the_offset_of_their_own_date_across_dst() {
    if !std::path::Path::new("/usr/share/zoneinfo/Europe/Berlin").exists() {
        return common::skip_or_fail(
            "zoneless_times_take_the_offset_of_their_own_date_across_dst",
            "no tz database (tzdata)",
        );
    }
    let input = concat!(
        "2026-03-29 01:59:59,000 INFO supervisord, winter\n",
        "2026-03-29 03:00:00,000 INFO supervisord, summer\n",
        "2026/10/25 01:30:00 [error] 1#1: nginx, summer\n",
        "2026/10/25 02:30:00 [error] 1#1: nginx, the repeated hour\n",
        "2026/10/25 03:30:00 [error] 1#1: nginx, winter\n",
        "2026/10/25 01:45:00 [error] 1#1: nginx, summer again\n",
        "[pid: 12|app: 0|req: 1/1] 127.0.0.1 () {32 vars in 351 bytes} [Sun Jul 12 10:00:00 2026] GET / => generated 24 bytes in 30 msecs (HTTP/1.1 200) 5 headers in 158 bytes (1 switches on core 0)\n",
        "[pid: 12|app: 0|req: 2/2] 127.0.0.1 () {32 vars in 351 bytes} [Wed Nov 25 19:39:19 2026] GET / => generated 24 bytes in 30 msecs (HTTP/1.1 200) 5 headers in 158 bytes (1 switches on core 0)\n",
        "2026-03-29 02:30:00,000 INFO supervisord, the skipped hour\n",
    );
    assert_eq!(
        stamps("Europe/Berlin", input),
        [
            "2026-03-29T01:59:59.000+01:00",
            "2026-03-29T03:00:00.000+02:00",
            "2026-10-25T01:30:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T03:30:00+01:00",
            "2026-10-25T01:45:00+02:00",
            "2026-07-12T10:00:00+02:00",
            "2026-11-25T19:39:19+01:00",
            "2026-03-29T02:30:00.000+01:00",
        ]
    );
}

#[test]
fn a_zone_without_dst_and_utc_are_unchanged() {
    let input = "2026/07/01 12:00:00 [error] 1#1: x\n2026/01/01 12:00:00 [error] 1#1: y\n";
    assert_eq!(
        stamps("UTC", input),
        ["2026-07-01T12:00:00+00:00", "2026-01-01T12:00:00+00:00"]
    );
    assert_eq!(
        stamps("Asia/Kolkata", input),
        ["2026-07-01T12:00:00+05:30", "2026-01-01T12:00:00+05:30"]
    );
}
