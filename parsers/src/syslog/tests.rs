//! Wire samples recorded from real senders, and the never-panic properties.
//!
//! `logger` lines were captured from util-linux 2.38.1 on Debian bookworm
//! (`logger --rfc3164|--rfc5424 --udp|--tcp [--octet-count] -n 127.0.0.1 -P
//! PORT ...` into a Python socket), rsyslog's from rsyslogd 8.2302 relaying
//! them, and Docker's from a container run with `--log-driver syslog` and
//! each `syslog-format` (see `real_docker_driver_samples`). Other Docker
//! lines follow moby's templates (srslog's `UnixFormatter` and
//! `RFC3164Formatter`, moby's `rfc5424formatterWithAppNameAsTag`).

use std::borrow::Cow;

use super::*;
use crate::time::Offset;

fn ok(line: &str) -> Message<'_> {
    match parse(line, 2024) {
        Ok(m) => m,
        Err(e) => panic!("{line:?}: {e}"),
    }
}

fn ymd_hms(m: &Message<'_>) -> (u16, u8, u8, u8, u8, u8) {
    let t = m.timestamp.expect("a timestamp");
    (t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// Recorded from Docker's syslog driver (dockerd pid 1431, host `vm`):
/// `docker run --log-driver syslog --log-opt syslog-address=udp://..
/// [--log-opt syslog-format=F] --log-opt tag={{.ImageName}}/{{.Name}}
/// logmux/debian:bookworm sh -c 'echo out line; echo "    indented out";
/// echo err line >&2; printf "  tb\n\n"'`; the empty line is not sent.
#[test]
fn real_docker_driver_samples() {
    let tag = "logmux/debian:bookworm/p-sys-default";
    let m = ok("<30>Nov 25 23:49:37 logmux/debian:bookworm/p-sys-default[1431]: out line\n");
    assert_eq!(
        (m.hostname, m.app_name, m.procid),
        (None, Some(tag), Some("1431"))
    );
    assert_eq!((m.severity, m.body), (6, "out line"));
    let m =
        ok("<30>Nov 25 23:49:37 logmux/debian:bookworm/p-sys-default[1431]:     indented out\n");
    assert_eq!(m.body, "    indented out");
    let m = ok("<27>Nov 25 23:49:37 logmux/debian:bookworm/p-sys-default[1431]: err line\n");
    assert_eq!((m.severity, m.app_name, m.body), (3, Some(tag), "err line"));
    let m = ok("<30>Nov 25 23:49:37 vm logmux/debian:bookworm/p-sys-rfc3164[1431]:   tb\n");
    assert_eq!(m.hostname, Some("vm"));
    assert_eq!(m.app_name, Some("logmux/debian:bookworm/p-sys-rfc3164"));
    assert_eq!(m.body, "  tb");
    // The default tag is the short container id.
    let m = ok("<30>Nov 25 23:49:38 da3bdfa0db1f[1431]: default tag\n");
    assert_eq!((m.hostname, m.app_name), (None, Some("da3bdfa0db1f")));
    // rfc5424 over TCP is LF-framed; Go writes `Z` for UTC.
    let wire = b"<27>1 2026-11-25T23:49:38Z vm p-sys-5424 1431 p-sys-5424 - err line\n<30>1 2026-11-25T23:49:38Z vm p-sys-5424 1431 p-sys-5424 -     indented out\n";
    let mut got = Vec::new();
    Deframer::new(65536).push(wire, |f| {
        let m = ok(std::str::from_utf8(f.bytes).unwrap());
        assert_eq!(
            (m.hostname, m.app_name, m.procid, m.msgid),
            (
                Some("vm"),
                Some("p-sys-5424"),
                Some("1431"),
                Some("p-sys-5424")
            )
        );
        assert_eq!(m.timestamp.map(|t| t.offset), Some(Offset::Utc));
        got.push((m.severity, m.body.to_string()));
    });
    assert_eq!(
        got,
        [
            (3, "err line".to_string()),
            (6, "    indented out".to_string())
        ]
    );
    // rfc5424micro; a 20,000-byte line arrives as a 16 KiB piece and the
    // rest, each a message of its own.
    let header = "<30>1 2026-11-25T23:49:44.732157Z vm logmux/debian:bookworm/p-sys-micro 1431 logmux/debian:bookworm/p-sys-micro - ";
    let wire = format!(
        "{header}{}\n{header}{}\n",
        "x".repeat(16384),
        "x".repeat(3616)
    );
    let mut sizes = Vec::new();
    let mut d = Deframer::new(64 * 1024);
    for chunk in wire.as_bytes().chunks(4096) {
        d.push(chunk, |f| {
            let m = ok(std::str::from_utf8(f.bytes).unwrap());
            assert_eq!(m.timestamp.map(|t| t.nanos), Some(732_157_000));
            sizes.push(m.body.len());
        });
    }
    assert_eq!(sizes, [16384, 3616]);
}

#[test]
fn docker_default_format_has_no_hostname() {
    let m = ok("<30>May  1 12:34:56 3f4e5d6c7b8a[1234]: hello world\n");
    assert_eq!(m.protocol, Protocol::Rfc3164);
    assert_eq!((m.facility, m.severity), (3, 6));
    assert_eq!(ymd_hms(&m), (2024, 5, 1, 12, 34, 56));
    assert_eq!(m.timestamp.map(|t| t.offset), Some(Offset::Local));
    assert_eq!(m.hostname, None);
    assert_eq!(m.app_name, Some("3f4e5d6c7b8a"));
    assert_eq!(m.procid, Some("1234"));
    assert_eq!(m.body, "hello world");
    // stderr arrives as err.
    let m = ok("<27>May 10 01:02:03 web-1[99]: Traceback (most recent call last):\n");
    assert_eq!((m.facility, m.severity), (3, 3));
    assert_eq!(m.app_name, Some("web-1"));
    assert_eq!(m.body, "Traceback (most recent call last):");
}

#[test]
fn docker_tags_with_colons_and_slashes() {
    let m = ok("<30>May  1 12:34:56 nginx:1.25/web-1[123]:   indented\n");
    assert_eq!(m.hostname, None);
    assert_eq!(m.app_name, Some("nginx:1.25/web-1"));
    assert_eq!(m.procid, Some("123"));
    assert_eq!(m.body, "  indented");
    // Docker's rfc3164 format: with HOST.
    let m = ok("<30>May  1 12:34:56 dockerhost nginx:1.25/web-1[123]: x\n");
    assert_eq!(m.hostname, Some("dockerhost"));
    assert_eq!(m.app_name, Some("nginx:1.25/web-1"));
    assert_eq!(m.procid, Some("123"));
    assert_eq!(m.body, "x");
    // A tag without PID ends at the colon that ends its token.
    let m = ok("<13>May  1 12:34:56 web-1: a: b\n");
    assert_eq!(
        (m.hostname, m.app_name, m.procid),
        (None, Some("web-1"), None)
    );
    assert_eq!(m.body, "a: b");
    let m = ok("<13>May  1 12:34:56 h nginx:1.25/web-1: a: b");
    assert_eq!(m.hostname, Some("h"));
    assert_eq!(m.app_name, Some("nginx:1.25/web-1"));
    assert_eq!(m.body, "a: b");
}

#[test]
fn logger_rfc3164_samples() {
    let m = ok("<13>Nov 25 23:30:13 vm nginx:1.25/web-1:   indented line");
    assert_eq!(ymd_hms(&m), (2024, 11, 25, 23, 30, 13));
    assert_eq!(m.hostname, Some("vm"));
    assert_eq!(m.app_name, Some("nginx:1.25/web-1"));
    assert_eq!(m.procid, None);
    assert_eq!(m.body, "  indented line");
    let m = ok("<27>Nov 25 23:30:13 vm web-1[15607]: with pid");
    assert_eq!((m.facility, m.severity), (3, 3));
    assert_eq!((m.app_name, m.procid), (Some("web-1"), Some("15607")));
    assert_eq!(m.body, "with pid");
    let m = ok("<13>Nov 25 23:30:13 vm root: no tag given");
    assert_eq!((m.facility, m.severity), (1, 5));
    assert_eq!(m.app_name, Some("root"));
    // Over TCP without octet counting, logger ends the line with \n.
    let m = ok("<13>Nov 25 23:30:19 vm nginx:1.25/web-1:   indented\n");
    assert_eq!(m.body, "  indented");
}

/// `logger -u SOCKET` (the local format, as to /dev/log) has no hostname,
/// like Docker's default.
#[test]
fn logger_unix_socket_samples() {
    let m = ok("<13>Nov 25 23:47:18 nginx:1.25/web-1:   via unix socket");
    assert_eq!(
        (m.hostname, m.app_name, m.procid),
        (None, Some("nginx:1.25/web-1"), None)
    );
    assert_eq!(m.body, "  via unix socket");
    let m = ok("<13>Nov 25 23:47:18 web-1[28613]: with pid");
    assert_eq!(
        (m.hostname, m.app_name, m.procid),
        (None, Some("web-1"), Some("28613"))
    );
    let m = ok("<13>Nov 25 23:47:18 vm web-1: 3164 local");
    assert_eq!((m.hostname, m.app_name), (Some("vm"), Some("web-1")));
}

#[test]
fn rfc3164_header_variants() {
    // The day padded with a zero, or not at all; a fraction of a second.
    for line in [
        "<30>May 01 12:34:56 h t: x",
        "<30>May 1 12:34:56 h t: x",
        "<30>May  1 12:34:56.250 h t: x",
    ] {
        let m = ok(line);
        assert_eq!(ymd_hms(&m), (2024, 5, 1, 12, 34, 56), "{line}");
        assert_eq!(
            (m.hostname, m.app_name, m.body),
            (Some("h"), Some("t"), "x")
        );
    }
    assert_eq!(
        ok("<30>May  1 12:34:56.250 h t: x")
            .timestamp
            .unwrap()
            .nanos,
        250_000_000
    );
    // The year comes from the caller.
    assert_eq!(
        parse("<30>Feb 29 00:00:00 t: x", 2024).map(|m| m.timestamp.map(|t| t.year)),
        Ok(Some(2024))
    );
    assert_eq!(
        parse("<30>Feb 29 00:00:00 t: x", 2023).unwrap_err().what,
        "RFC 3164 timestamp out of range"
    );
    // A tag glued to its message.
    let m = ok("<30>May  1 12:34:56 web-1[7]:glued");
    assert_eq!(
        (m.hostname, m.app_name, m.procid, m.body),
        (None, Some("web-1"), Some("7"), "glued")
    );
    // No timestamp: RFC 3164 says the whole is content (a tag if shaped so).
    let m = ok("<13>hello world\n");
    assert_eq!(
        (m.timestamp, m.hostname, m.app_name, m.body),
        (None, None, None, "hello world")
    );
    let m = ok("<13>web-1: hi");
    assert_eq!((m.app_name, m.body), (Some("web-1"), "hi"));
    assert_eq!(ok("<13>\n").body, "");
    assert_eq!(ok("<0>").body, "");
    // Only HOST and no tag: the rest is body.
    let m = ok("<13>May  1 12:34:56 host just words here");
    assert_eq!(
        (m.hostname, m.app_name, m.body),
        (Some("host"), None, "just words here")
    );
    // A BOM after the tag goes.
    assert_eq!(ok("<13>May  1 12:34:56 t: \u{feff} x").body, " x");
    // A hostname never has `[`; a pid-less `[]` is no pid.
    let m = ok("<13>May  1 12:34:56 t[]: x");
    assert_eq!((m.app_name, m.procid), (Some("t"), None));
    // A started but broken timestamp is an error, not a body.
    assert_eq!(
        parse("<13>May  1 12:3x:56 t: x", 2024).unwrap_err().what,
        "invalid time of day in RFC 3164 timestamp"
    );
    assert_eq!(
        parse("<13>2024-05-01 12:00 t: x", 2024).unwrap_err().what,
        "invalid RFC 3339 timestamp"
    );
}

#[test]
fn logger_rfc5424_samples() {
    let m = ok("<13>1 2026-11-25T23:30:13.845420+00:00 vm nginx:1.25/web-1 - - [timeQuality tzKnown=\"1\" isSynced=\"0\"]   indented line");
    assert_eq!(m.protocol, Protocol::Rfc5424);
    let t = m.timestamp.unwrap();
    assert_eq!(
        (t.year, t.month, t.day, t.nanos),
        (2026, 11, 25, 845_420_000)
    );
    assert_eq!(t.offset, Offset::Minutes(0));
    assert_eq!(m.hostname, Some("vm"));
    assert_eq!(m.app_name, Some("nginx:1.25/web-1"));
    assert_eq!((m.procid, m.msgid), (None, None));
    assert_eq!(
        m.structured_data,
        Some("[timeQuality tzKnown=\"1\" isSynced=\"0\"]")
    );
    assert_eq!(m.body, "  indented line");
    let m = ok("<13>1 - vm web-1 - - - hello");
    assert_eq!(m.timestamp, None);
    assert_eq!(m.structured_data, None);
    assert_eq!(m.body, "hello");
    let m = ok(
        r#"<13>1 2026-11-25T23:30:19.446686+00:00 vm app 16538 REQ [timeQuality tzKnown="1" isSynced="0"][meta@32473 k="v\\\"q\]" n="2"] sd msg"#,
    );
    assert_eq!((m.procid, m.msgid), (Some("16538"), Some("REQ")));
    assert_eq!(m.body, "sd msg");
    let params: Vec<_> = sd_params(m.structured_data.unwrap()).collect();
    assert_eq!(
        params,
        vec![
            ("timeQuality", "tzKnown", Cow::Borrowed("1")),
            ("timeQuality", "isSynced", Cow::Borrowed("0")),
            ("meta@32473", "k", Cow::Owned(r#"v\"q]"#.to_string())),
            ("meta@32473", "n", Cow::Borrowed("2")),
        ]
    );
}

/// rsyslog 8.2302 (Debian bookworm) relaying logger and Docker messages
/// received on imudp with omfwd: RSYSLOG_TraditionalForwardFormat (UDP,
/// TCP LF and octet-counted), RSYSLOG_ForwardFormat and
/// RSYSLOG_SyslogProtocol23Format.
#[test]
fn rsyslog_forwarding_samples() {
    // An RFC 5424 message relayed as 3164: `APP[PROCID]` with no colon.
    let m = ok("<13>Nov 25 23:46:41 vm web-1[27246] from 5424");
    assert_eq!(m.hostname, Some("vm"));
    assert_eq!((m.app_name, m.procid), (Some("web-1"), Some("27246")));
    assert_eq!(m.body, "from 5424");
    let m = ok("<13>2026-11-25T23:46:41.668084+00:00 vm web-1[27246] from 5424");
    assert_eq!(m.protocol, Protocol::Rfc3164);
    assert_eq!(
        m.timestamp.map(|t| (t.year, t.nanos)),
        Some((2026, 668_084_000))
    );
    assert_eq!((m.hostname, m.app_name), (Some("vm"), Some("web-1")));
    assert_eq!(m.body, "from 5424");
    // Docker's default format relayed: rsyslog fills in a hostname.
    let m = ok("<30>May  1 12:34:56 localhost 3f4e5d6c7b8a[1234]: docker default");
    assert_eq!(
        (m.hostname, m.app_name, m.procid),
        (Some("localhost"), Some("3f4e5d6c7b8a"), Some("1234"))
    );
    assert_eq!(m.body, "docker default");
    let m = ok("<27>May  1 12:34:56 localhost web-1[1234]:     indented four\n");
    assert_eq!(m.body, "    indented four");
    // rsyslog's own parser cuts a tag at its first colon and relays
    // `nginx: 1.25/web-1:`; that is what arrives, and what we read.
    let m = ok("<13>Nov 25 23:46:41 vm nginx: 1.25/web-1:   indented line");
    assert_eq!(
        (m.app_name, m.body),
        (Some("nginx"), "1.25/web-1:   indented line")
    );
    // As RFC 5424, rsyslog keeps the space it read before MSG: one space is
    // removed, the other kept.
    let m = ok("<30>1 2026-05-01T12:34:56+00:00 localhost 3f4e5d6c7b8a 1234 - -  docker default\n");
    assert_eq!(
        (m.app_name, m.procid, m.msgid),
        (Some("3f4e5d6c7b8a"), Some("1234"), None)
    );
    assert_eq!(m.body, " docker default");
    let m = ok("<13>1 2026-11-25T23:46:41+00:00 vm nginx - - - 1.25/web-1:   indented line\n");
    assert_eq!(m.body, "1.25/web-1:   indented line");
    // octet-counted omfwd, three frames in one read.
    let wire = b"57 <13>Nov 25 23:46:41 vm nginx: 1.25/web-1:   indented line45 <13>Nov 25 23:46:41 vm web-1[27246] from 542464 <30>May  1 12:34:56 localhost 3f4e5d6c7b8a[1234]: docker default";
    let mut d = Deframer::new(1024);
    let mut apps = Vec::new();
    d.push(wire, |f| {
        let m = ok(std::str::from_utf8(f.bytes).unwrap());
        apps.push((m.app_name.unwrap().to_string(), m.body.to_string()));
    });
    assert_eq!(
        apps,
        [
            (
                "nginx".to_string(),
                "1.25/web-1:   indented line".to_string()
            ),
            ("web-1".to_string(), "from 5424".to_string()),
            ("3f4e5d6c7b8a".to_string(), "docker default".to_string()),
        ]
    );
}

#[test]
fn docker_rfc5424_and_micro() {
    let m = ok("<30>1 2024-05-01T12:34:56.123456+00:00 host web-1 1234 web-1 - msg\n");
    assert_eq!(m.protocol, Protocol::Rfc5424);
    assert_eq!(ymd_hms(&m), (2024, 5, 1, 12, 34, 56));
    assert_eq!(m.timestamp.unwrap().nanos, 123_456_000);
    assert_eq!(m.hostname, Some("host"));
    assert_eq!(
        (m.app_name, m.procid, m.msgid),
        (Some("web-1"), Some("1234"), Some("web-1"))
    );
    assert_eq!(m.structured_data, None);
    assert_eq!(m.body, "msg");
    // Go's time.RFC3339 writes Z for UTC.
    let m =
        ok("<27>1 2024-05-01T12:34:56Z host nginx:1.25/web-1 1234 nginx:1.25/web-1 -     at x\n");
    assert_eq!(m.timestamp.unwrap().offset, Offset::Utc);
    assert_eq!(m.severity, 3);
    assert_eq!(m.app_name, Some("nginx:1.25/web-1"));
    assert_eq!(m.body, "    at x");
}

#[test]
fn bodies_keep_whitespace_but_not_bom_or_newline() {
    assert_eq!(ok("<13>1 - - - - - - \u{feff}  x\r\n").body, "  x");
    assert_eq!(ok("<13>1 - - - - - -").body, "");
    assert_eq!(ok("<13>1 - - - - - - ").body, "");
    assert_eq!(ok("<30>May  1 12:34:56 t[1]: \tx\n\n").body, "\tx\n");
    assert_eq!(ok("<30>May  1 12:34:56 t[1]:").body, "");
    // A leading [..] in a 3164 body is body.
    let m = ok("<30>May  1 12:34:56 t[1]: [notice] x");
    assert_eq!((m.structured_data, m.body), (None, "[notice] x"));
}

#[test]
fn malformed_input_says_what_and_where() {
    let e = |s: &str| parse(s, 2024).unwrap_err();
    assert_eq!(e("hello").offset, 0);
    assert_eq!(e("<>x").what, "PRI is not a number");
    assert_eq!(e("<192>x").what, "PRI above 191");
    assert_eq!(e("<1234>x").what, "PRI has more than 3 digits");
    assert_eq!(e("<13 x").what, "missing '>' after PRI");
    assert_eq!(
        e("<13>1 2024-13-01T00:00:00Z h a p m - x").what,
        "invalid TIMESTAMP"
    );
    let err = e("<13>1 - h a p m [x y=\"z] q");
    assert_eq!(err.what, "unterminated SD-PARAM value");
    assert_eq!(
        err.to_string(),
        "syslog: unterminated SD-PARAM value at byte 21"
    );
    assert_eq!(e("<13>1 - h a p").what, "expected a space before MSGID");
    assert_eq!(e("<13>1 - h  a p m - x").what, "empty APP-NAME");
    assert_eq!(
        e("<13>May 32 12:34:56 h t: x").what,
        "RFC 3164 timestamp out of range"
    );
}

#[test]
fn facility_names_round_trip() {
    for f in 0..24 {
        assert_eq!(facility_from_name(facility_name(f)), Some(f));
    }
    assert_eq!(facility_name(3), "daemon");
    assert_eq!(facility_name(23), "local7");
    assert_eq!(facility_from_name("security"), Some(4));
    assert_eq!(facility_from_name("17"), Some(17));
    assert_eq!(facility_from_name("24"), None);
    assert_eq!(facility_from_name("bogus"), None);
    assert_eq!(severity(6), Severity::INFO);
    assert_eq!(severity(3), Severity::ERROR);
    let words: Vec<_> = (0..8).map(severity_keyword).collect();
    assert_eq!(
        words,
        ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
    );
}

#[test]
fn deframes_logger_octet_counting() {
    let wire = b"99 <13>1 2026-11-25T23:30:19.453002+00:00 vm multi - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] line one103 <13>1 2026-11-25T23:30:19.453040+00:00 vm multi - - [timeQuality tzKnown=\"1\" isSynced=\"0\"]     line two";
    let mut d = Deframer::new(65536);
    let mut bodies = Vec::new();
    d.push(wire, |f| {
        assert!(!f.truncated && !f.malformed);
        bodies.push(ok(std::str::from_utf8(f.bytes).unwrap()).body.to_string());
    });
    assert_eq!(bodies, ["line one", "    line two"]);
    assert_eq!(d.buffered(), 0);
}

mod properties {
    use super::*;
    use crate::testing::{edits, for_every_cut, mutate};
    use proptest::prelude::*;

    const SAMPLES: &[&str] = &[
        "<30>May  1 12:34:56 3f4e5d6c7b8a[1234]: hello world\n",
        "<30>May  1 12:34:56 dockerhost nginx:1.25/web-1[123]:   indented\n",
        "<13>Nov 25 23:30:13 vm root: no tag given",
        "<30>1 2024-05-01T12:34:56.123456+00:00 host web-1 1234 web-1 - msg\n",
        r#"<13>1 2026-11-25T23:30:19.446686+00:00 vm app 16538 REQ [timeQuality tzKnown="1" isSynced="0"][meta@32473 k="v\\\"q\]" n="2"] sd msg"#,
        "<13>1 - - - - - - \u{feff}  x\r\n",
    ];

    /// Parses and, when it succeeds, checks what must hold of any result.
    fn check(line: &str) {
        let Ok(m) = parse(line, 2024) else { return };
        assert!(m.facility <= 23 && m.severity <= 7);
        let range = line.as_bytes().as_ptr_range();
        for s in [
            m.hostname,
            m.app_name,
            m.procid,
            m.msgid,
            m.structured_data,
            Some(m.body),
        ]
        .into_iter()
        .flatten()
        {
            assert!(
                range.contains(&s.as_ptr()) || s.is_empty(),
                "{s:?} not borrowed from {line:?}"
            );
        }
        if let Some(sd) = m.structured_data {
            // Validated SD reads back as whole parameters, none dropped.
            let n = sd_params(sd).count();
            let quotes = sd.matches("=\"").count();
            assert!(n <= quotes, "{sd:?}");
        }
    }

    #[test]
    fn never_panics_on_cut_samples() {
        for_every_cut(SAMPLES, check);
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            let line = String::from_utf8_lossy(&bytes);
            check(&line);
            let _ = sd_params(&line).count();
        }

        #[test]
        fn never_panics_on_mutated_samples(which in 0..SAMPLES.len(), edits in edits()) {
            let line = mutate(SAMPLES[which], &edits);
            check(&line);
            let _ = sd_params(&line).count();
        }

        /// Docker's default and rfc3164 formats give back the tag, pid and
        /// body exactly, for any tag `{{.ImageName}}/{{.Name}}` can make.
        #[test]
        fn docker_3164_tags_and_bodies_round_trip(
            tag in "[a-zA-Z0-9][a-zA-Z0-9:/._-]{0,60}",
            host in proptest::option::of("[a-z0-9][a-z0-9.-]{0,20}"),
            pid in 1u32..4_000_000,
            body in "[ \t]{0,4}[^\n\r]{0,40}",
            day in 1u8..=28,
        ) {
            let host_part = host.as_ref().map(|h| format!("{h} ")).unwrap_or_default();
            let line = format!("<30>Feb {day:>2} 01:02:03 {host_part}{tag}[{pid}]: {body}\n");
            let m = parse(&line, 2024).map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
            prop_assert_eq!(m.hostname, host.as_deref());
            prop_assert_eq!(m.app_name, Some(tag.as_str()));
            let pid = pid.to_string();
            prop_assert_eq!(m.procid, Some(pid.as_str()));
            prop_assert_eq!(m.body, body.strip_prefix('\u{feff}').unwrap_or(&body));
            prop_assert_eq!(m.timestamp.map(|t| t.day), Some(day));
        }

        /// Docker's rfc5424(micro) format, likewise.
        #[test]
        fn docker_5424_round_trips(
            tag in "[a-zA-Z0-9][a-zA-Z0-9:/._-]{0,60}",
            micros in proptest::option::of(0u32..1_000_000),
            body in "[ \t]{0,4}[^\n\r]{0,40}",
        ) {
            let frac = micros.map(|u| format!(".{u:06}")).unwrap_or_default();
            let line = format!("<27>1 2024-05-01T12:34:56{frac}Z dockerhost {tag} 4242 {tag} - {body}\n");
            let m = parse(&line, 2024).map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
            prop_assert_eq!(m.app_name, Some(tag.as_str()));
            prop_assert_eq!(m.msgid, Some(tag.as_str()));
            prop_assert_eq!(m.procid, Some("4242"));
            prop_assert_eq!(m.timestamp.map(|t| t.nanos), Some(micros.unwrap_or(0) * 1000));
            prop_assert_eq!(m.body, body.strip_prefix('\u{feff}').unwrap_or(&body));
        }
    }
}

#[test]
fn structured_data_elements_and_escapes() {
    let m = ok(
        r#"<165>1 2003-10-11T22:14:15.003000009-07:00 mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"][empty@1]"#,
    );
    assert_eq!((m.facility, m.severity), (20, 5));
    let t = m.timestamp.unwrap();
    assert_eq!((t.nanos, t.offset), (3_000_009, Offset::Minutes(-420)));
    assert_eq!(m.msgid, Some("ID47"));
    assert_eq!(m.body, "");
    let sd = m.structured_data.unwrap();
    assert!(sd.ends_with("[empty@1]"));
    let params: Vec<_> = sd_params(sd)
        .map(|(id, n, v)| format!("{id}/{n}={v}"))
        .collect();
    assert_eq!(
        params,
        [
            "exampleSDID@32473/iut=3",
            "exampleSDID@32473/eventSource=Application",
            "exampleSDID@32473/eventID=1011",
            "examplePriority@32473/class=high",
        ]
    );
    // Escapes: \" \\ \] are undone, any other backslash kept; UTF-8 kept.
    let v: Vec<_> = sd_params(r#"[a b="x\"y\\z\]w\n é" c=""]"#)
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(
        v,
        [
            Cow::<str>::Owned(r#"x"y\z]w\n é"#.into()),
            Cow::Borrowed("")
        ]
    );
    // A `]` inside quotes does not end the element.
    let m = ok(r#"<13>1 - - - - - [a b="]"] x"#);
    assert_eq!((m.structured_data, m.body), (Some(r#"[a b="]"]"#), "x"));
    // Junk reads as far as it is well formed, then stops.
    assert_eq!(sd_params(r#"[a b="1" c=2]"#).count(), 1);
    assert_eq!(sd_params("junk").count(), 0);
    assert_eq!(sd_params(r#"[a b="1"][ c="2"]"#).count(), 1);
    for bad in [r#"[a b="1"x]"#, "[]", "[a b]", r#"[a b="1"#, r#"[a ="1"]"#] {
        let line = format!("<13>1 - - - - - {bad} msg");
        assert!(parse(&line, 2024).is_err(), "{line}");
    }
    assert_eq!(
        parse(r#"<13>1 - - - - - [a b="1"]msg"#, 2024)
            .unwrap_err()
            .what,
        "expected a space after STRUCTURED-DATA"
    );
}

#[test]
fn year_rolls_over_at_new_year() {
    let year = |line: &str, now_month| {
        let mut m = ok(line);
        fix_year_rollover(&mut m, now_month);
        m.timestamp.map(|t| t.year)
    };
    assert_eq!(year("<13>Dec 31 23:59:59 t: x", 1), Some(2023));
    assert_eq!(year("<13>Jan  1 00:00:01 t: x", 12), Some(2025));
    assert_eq!(year("<13>Dec 31 23:59:59 t: x", 12), Some(2024));
    assert_eq!(
        year("<13>1 2024-12-31T23:59:59Z h a - - - x", 1),
        Some(2024)
    );
    assert_eq!(year("<13>2024-12-31T23:59:59Z h t: x", 1), Some(2024));
}
