//! The pretty view of real program output (fixtures/): one zone for every
//! line (the local one from TZ, or UTC with --utc), the date on lines not
//! of today, supervisord's and uWSGI's messages without their headers, and
//! a traceback followed by its stack, indented.

mod common;

fn pretty(tz: &str, args: &[&str], fixture: &str) -> Vec<String> {
    let path = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let out = common::logmux()
        .env("TZ", tz)
        .args(["filter", "-o", "pretty", "--color", "never"])
        .args(args)
        .arg(&path)
        .output()
        .expect("run logmux filter");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_time_is_in_one_zone_with_the_date_when_not_today() {
    // nginx's error log has zone-less times, read in TZ; Docker's json-file
    // log has UTC times. Both are shown in TZ, or in UTC with --utc.
    let tokyo = pretty("Asia/Tokyo", &[], "mixed.log");
    assert_eq!(
        tokyo[0],
        "2026-11-25 19:39:24.000 nginx      INFO  using the \"epoll\" event method"
    );
    let utc = pretty("Asia/Tokyo", &["--utc"], "mixed.log");
    assert_eq!(
        utc[0],
        "2026-11-25 10:39:24.000 nginx      INFO  using the \"epoll\" event method"
    );
    let docker_utc = pretty("UTC", &[], "docker-json-file.log");
    let docker_tokyo = pretty("Asia/Tokyo", &[], "docker-json-file.log");
    let (u, t) = (&docker_utc[0], &docker_tokyo[0]);
    // Same instant, nine hours apart on the clock; the rest of the line equal.
    let hour = |l: &str| l.get(11..13).and_then(|h| h.parse::<u32>().ok());
    assert_eq!(hour(u).map(|h| (h + 9) % 24), hour(t), "{u}\n{t}");
    assert_eq!(u.get(23..), t.get(23..));
    // Lines without a time of their own were read just now: today, no date.
    let today = tokyo
        .iter()
        .find(|l| l.contains(" uwsgi "))
        .expect("a uwsgi line");
    let clock = today.get(..12).unwrap_or("");
    assert!(
        clock.len() == 12 && clock.as_bytes()[2] == b':' && clock.as_bytes()[8] == b'.',
        "{today}"
    );
}

#[test]
fn headers_are_not_repeated() {
    let lines = pretty("UTC", &[], "supervisord.log");
    assert_eq!(
        lines[2],
        "2026-11-25 19:39:31.268 supervisor INFO  supervisord started with pid 14894"
    );
    let lines = pretty("UTC", &[], "uwsgi-logdate.log");
    assert_eq!(
        lines[0],
        "2026-11-25 19:39:18.000 uwsgi      INFO  *** Starting uWSGI 2.0.21-debian (64bit) on [Wed Nov 25 19:39:18 2026] ***"
    );
}

#[test]
fn a_traceback_is_followed_by_its_stack() {
    let lines = pretty("UTC", &[], "mixed.log");
    let at = lines
        .iter()
        .position(|l| l.ends_with("ERROR ZeroDivisionError: division by zero (/boom/)"))
        .expect("the ZeroDivisionError");
    assert_eq!(lines[at + 1], "    Traceback (most recent call last):");
    assert_eq!(
        lines[at + 2],
        "      File \"/usr/lib/python3/dist-packages/django/core/handlers/exception.py\", line 47, in inner"
    );
    // The stack ends before the exception line the header already shows.
    let next_event = lines[at + 1..]
        .iter()
        .position(|l| !l.starts_with("    "))
        .expect("a next event");
    assert_eq!(lines[at + next_event - 1], "        return a / b");
    assert_eq!(lines[at + next_event], "               ~~^~~");
    assert!(!lines[at + next_event + 1].contains("ZeroDivisionError: division by zero"));
}
