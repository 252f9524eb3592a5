//! The heuristic join on real lines: nginx's `combined` (and a format with
//! `$request_time`) and uWSGI's default request line, parsed by the parsers.

use std::time::Duration;

use logmux_parsers::detect::Parser;
use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::trace_context::{span_id as parse_span, to_hex, trace_id as parse_trace};
use logmux_parsers::{Field, Record, Value};

use super::*;

const SECOND: u64 = 1_000_000_000;

/// `combined` plus `$request_time`, as a user's own format may have it.
const TIMED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time";

fn joiner() -> Joiner {
    Joiner::new(Duration::from_secs(5), 1_000, LocalZone::Fixed(0))
}

/// uWSGI's line for `GET uri` at 10:00:`sec` that took `ms` and answered `status`.
fn uwsgi(uri: &str, sec: u32, ms: u32, status: u16) -> String {
    format!("[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {{34 vars in 412 bytes}} [Fri Dec  4 10:00:{sec:02} 2026] GET {uri} => generated 12 bytes in {ms} msecs (HTTP/1.1 {status}) 2 headers in 79 bytes (1 switches on core 0)")
}

/// nginx's `combined` line for `method uri`, ended at 10:00:`sec`.
fn nginx(method: &str, uri: &str, sec: u32, status: u16) -> String {
    format!("127.0.0.1 - - [04/Dec/2026:10:00:{sec:02} +0000] \"{method} {uri} HTTP/1.1\" {status} 12 \"-\" \"curl/8\"")
}

/// The same with `$request_time` (seconds).
fn nginx_timed(uri: &str, sec: u32, status: u16, took: &str) -> String {
    format!("{} {took}", nginx("GET", uri, sec, status))
}

/// `line` parsed as `logmux filter` would, auto-detected.
fn parsed(line: &str) -> Record<'_> {
    let mut rec = Record::default();
    assert!(Parser::AUTO.parse(line, &mut rec), "not parsed: {line}");
    rec
}

/// What the joiner gave one line (parsed with `format` when given) at `now`.
fn offer(j: &Joiner, line: &str, format: Option<&LogFormat>, now: u64) -> Given {
    let parser = Parser {
        forced: None,
        nginx_format: format,
        uwsgi_logdate: None,
        uwsgi_format: None,
    };
    let mut rec = Record::default();
    assert!(parser.parse(line, &mut rec), "not parsed: {line}");
    j.observe_at(&mut rec, now);
    Given::of(&rec)
}

/// The fields the joiner adds.
#[derive(Debug, Clone, PartialEq)]
struct Given {
    trace: Option<String>,
    span: Option<String>,
    joined: bool,
}

impl Given {
    fn of(rec: &Record<'_>) -> Given {
        let s = |f| rec.get(f).and_then(Value::as_str).map(str::to_owned);
        let join = rec.get(Field::LogmuxTraceJoin);
        if let Some(v) = join {
            assert_eq!(v, &Value::str(INFERRED));
        }
        let trace = s(Field::TraceId);
        if let Some(t) = &trace {
            assert!(parse_trace(t).is_some(), "not a trace id: {t}");
            assert_eq!(t.len(), 32);
        }
        let span = s(Field::SpanId);
        if let Some(sp) = &span {
            assert!(parse_span(sp).is_some(), "not a span id: {sp}");
        }
        Given {
            trace,
            span,
            joined: join.is_some(),
        }
    }

    fn role_span(&self, role: SpanRole) -> String {
        let t = parse_trace(self.trace.as_deref().expect("a trace id")).expect("valid");
        to_hex(&span_id(&t, role))
    }
}

#[test]
fn the_partner_gets_the_first_lines_trace_id_in_either_order() {
    let j = joiner();
    let u = offer(&j, &uwsgi("/hello/?name=x", 5, 3, 200), None, 0);
    assert!(u.trace.is_some() && !u.joined);
    assert_eq!(u.span, Some(u.role_span(SpanRole::Uwsgi)));
    assert_eq!(j.pending(), 1);
    let n = offer(&j, &nginx("GET", "/hello/?name=x", 5, 200), None, 1);
    assert_eq!(n.trace, u.trace);
    assert!(n.joined);
    assert_eq!(n.span, Some(n.role_span(SpanRole::NginxServer)));
    assert_ne!(n.span, u.span);
    assert_eq!(j.pending(), 0);

    // nginx's line first: uWSGI's joins it.
    let n = offer(&j, &nginx("GET", "/a", 6, 404), None, 2);
    assert!(n.trace.is_some() && !n.joined);
    assert_ne!(n.trace, u.trace, "a fresh id for each request");
    let u = offer(&j, &uwsgi("/a", 6, 1, 404), None, 3);
    assert_eq!((u.trace, u.joined), (n.trace, true));
    assert_eq!(j.pending(), 0);
}

#[test]
fn never_across_methods_statuses_paths_or_queries() {
    let j = joiner();
    let u = offer(&j, &uwsgi("/a?q=1", 5, 3, 200), None, 0);
    let others = [
        nginx("GET", "/a?q=1", 5, 500),
        nginx("GET", "/b?q=1", 5, 200),
        nginx("GET", "/a?q=2", 5, 200),
        nginx("GET", "/a", 5, 200),
        nginx("POST", "/a?q=1", 5, 200),
    ];
    let mut seen = vec![u.trace.clone()];
    for line in &others {
        let n = offer(&j, line, None, 1);
        assert!(!n.joined, "{line}");
        assert!(!seen.contains(&n.trace), "{line}");
        seen.push(n.trace);
    }
    assert_eq!(j.pending(), 6);
    // The one that fits still joins.
    let n = offer(&j, &nginx("GET", "/a?q=1", 5, 200), None, 2);
    assert_eq!((n.trace, n.joined), (u.trace, true));
}

#[test]
fn times_that_cannot_be_one_request_do_not_join() {
    let j = joiner();
    // uWSGI started at :05 and took 3 ms: nginx cannot have ended at :03.
    offer(&j, &uwsgi("/a", 5, 3, 200), None, 0);
    assert!(!offer(&j, &nginx("GET", "/a", 3, 200), None, 1).joined);
    // nginx took 10 ms by its own count: uWSGI's 40 ms cannot be inside.
    let f = LogFormat::compile(TIMED).expect("format");
    offer(&j, &uwsgi("/b", 5, 40, 200), None, 2);
    let n = offer(&j, &nginx_timed("/b", 5, 200, "0.010"), Some(&f), 3);
    assert!(!n.joined);
    // Nor, by nginx's count, did uWSGI start two seconds before nginx.
    offer(&j, &uwsgi("/c", 2, 3, 200), None, 4);
    let n = offer(&j, &nginx_timed("/c", 5, 200, "0.010"), Some(&f), 5);
    assert!(!n.joined);
}

#[test]
fn two_candidates_equally_good_join_neither() {
    let j = joiner();
    // Same second, same path and status: the combined line cannot tell.
    let a = offer(&j, &uwsgi("/a", 5, 3, 200), None, 0);
    let b = offer(&j, &uwsgi("/a", 5, 9, 200), None, 1);
    assert_ne!(a.trace, b.trace);
    let n = offer(&j, &nginx("GET", "/a", 5, 200), None, 2);
    assert!(!n.joined);
    assert!(n.trace != a.trace && n.trace != b.trace);
    assert_eq!(j.pending(), 3);

    // With $request_time, durations closer than the rounding are as good.
    let f = LogFormat::compile(TIMED).expect("format");
    offer(&j, &uwsgi("/t", 5, 10, 200), None, 3);
    offer(&j, &uwsgi("/t", 5, 11, 200), None, 4);
    assert!(!offer(&j, &nginx_timed("/t", 5, 200, "0.012"), Some(&f), 5).joined);
}

#[test]
fn durations_tell_candidates_apart() {
    let j = joiner();
    let f = LogFormat::compile(TIMED).expect("format");
    let short = offer(&j, &uwsgi("/a", 5, 3, 200), None, 0);
    let long = offer(&j, &uwsgi("/a", 5, 40, 200), None, 1);
    // 41 ms at nginx: the 40 ms request (3 ms would leave 38 ms unexplained).
    let n = offer(&j, &nginx_timed("/a", 5, 200, "0.041"), Some(&f), 2);
    assert_eq!((n.trace, n.joined), (long.trace, true));
    // 4 ms: only the 3 ms one fits.
    let n = offer(&j, &nginx_timed("/a", 5, 200, "0.004"), Some(&f), 3);
    assert_eq!((n.trace, n.joined), (short.trace, true));
    assert_eq!(j.pending(), 0);
}

#[test]
fn a_line_that_another_waiting_line_fits_as_well_is_not_taken() {
    let j = joiner();
    let f = LogFormat::compile(TIMED).expect("format");
    offer(&j, &uwsgi("/a", 5, 9, 200), None, 0);
    offer(&j, &uwsgi("/a", 5, 9, 200), None, 1);
    // Two as good: nginx's line waits, with its own id.
    let n = offer(&j, &nginx_timed("/a", 5, 200, "0.010"), Some(&f), 2);
    assert!(!n.joined);
    // A third uWSGI line's only candidate is that nginx line, but the two
    // waiting uWSGI lines fit it as well: no join.
    let u = offer(&j, &uwsgi("/a", 5, 9, 200), None, 3);
    assert!(!u.joined);
    assert_eq!(j.pending(), 4);
}

#[test]
fn lines_leave_after_the_window() {
    let j = joiner();
    offer(&j, &uwsgi("/a", 5, 3, 200), None, 0);
    let late = offer(&j, &nginx("GET", "/a", 5, 200), None, 5 * SECOND + 1);
    assert!(!late.joined);
    assert_eq!(j.pending(), 1, "only the late line waits");
    // Within the window it would have joined.
    let u = offer(&j, &uwsgi("/b", 5, 3, 200), None, 6 * SECOND);
    let n = offer(&j, &nginx("GET", "/b", 5, 200), None, 11 * SECOND);
    assert_eq!((n.trace, n.joined), (u.trace, true));
}

#[test]
fn memory_is_bounded_by_the_cap() {
    let j = Joiner::new(Duration::from_secs(3600), 100, LocalZone::Fixed(0));
    let mut first = None;
    for i in 0..1_000 {
        let u = offer(&j, &uwsgi(&format!("/p{i}"), 5, 3, 200), None, i);
        first.get_or_insert(u);
        assert!(j.pending() <= 100);
    }
    assert_eq!(j.pending(), 100);
    // The oldest left first: /p0 no longer joins, /p999 does.
    assert!(!offer(&j, &nginx("GET", "/p0", 5, 200), None, 1_000).joined);
    assert!(offer(&j, &nginx("GET", "/p999", 5, 200), None, 1_001).joined);
}

#[test]
fn lines_with_ids_and_other_formats_are_left_alone() {
    let j = joiner();
    let line = uwsgi("/a", 5, 3, 200);
    let mut rec = parsed(&line);
    rec.push(
        Field::TraceId,
        Value::str("4bf92f3577b34da6a3ce929d0e0e4736"),
    );
    let before = rec.fields.clone();
    j.observe_at(&mut rec, 0);
    assert_eq!(rec.fields, before);
    let mut text = parsed("GET /a 200");
    j.observe_at(&mut text, 0);
    assert_eq!(text.get(Field::TraceId), None);
    assert_eq!(j.pending(), 0);
}

#[test]
fn hex_is_to_hex() {
    let id = [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];
    assert_eq!(hex(&id), to_hex(&id));
    assert_eq!(hex(&[0u8, 255, 16, 1, 2, 3, 4, 5]), "00ff100102030405");
}

#[test]
fn the_fields_go_in_their_sorted_places() {
    let j = joiner();
    let line = uwsgi("/a", 5, 3, 200);
    let mut rec = parsed(&line);
    crate::output::sort_fields(&mut rec);
    j.observe_at(&mut rec, 0);
    assert!(rec.fields.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn a_lines_own_span_id_gives_way_to_the_joins_once() {
    // A span id without a trace id (a custom format's `$otel_span_id`):
    // the join's span id replaces it, and the key is written once.
    let j = joiner();
    let line = uwsgi("/a", 5, 3, 200);
    let mut rec = parsed(&line);
    rec.push(Field::SpanId, Value::str("00f067aa0ba902b7"));
    crate::output::sort_fields(&mut rec);
    j.observe_at(&mut rec, 0);
    assert!(rec.fields.windows(2).all(|w| w[0].0 < w[1].0));
    let trace = rec.get(Field::TraceId).and_then(Value::as_str).unwrap();
    let trace = logmux_parsers::trace_context::trace_id(trace).unwrap();
    let span = to_hex(&span_id(&trace, SpanRole::Uwsgi));
    assert_eq!(rec.get(Field::SpanId), Some(&Value::str(&span)));
}

#[test]
fn fresh_ids_are_distinct_and_valid() {
    let j = joiner();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let id = j.fresh();
        assert_ne!(id, [0; 16]);
        assert!(seen.insert(id));
    }
}

#[test]
fn past_max_candidates_of_one_key_nothing_is_scanned_or_joined() {
    let j = Joiner::new(Duration::from_secs(3600), 1_000, LocalZone::Fixed(0));
    let f = LogFormat::compile(TIMED).expect("format");
    // 65 lines of one path whose durations all differ: each alone would be
    // told apart by nginx's $request_time.
    for i in 0..=table::MAX_CANDIDATES as u32 {
        offer(&j, &uwsgi("/hot", 5, 10 * i + 5, 200), None, u64::from(i));
    }
    let n = offer(&j, &nginx_timed("/hot", 5, 200, "0.016"), Some(&f), 100);
    assert!(!n.joined);
    // One fewer, and the 15 ms line is found.
    let j = Joiner::new(Duration::from_secs(3600), 1_000, LocalZone::Fixed(0));
    let mut fifteen = None;
    for i in 0..table::MAX_CANDIDATES as u32 {
        let u = offer(&j, &uwsgi("/hot", 5, 10 * i + 5, 200), None, u64::from(i));
        if i == 1 {
            fifteen = u.trace;
        }
    }
    let n = offer(&j, &nginx_timed("/hot", 5, 200, "0.016"), Some(&f), 100);
    assert_eq!((n.trace, n.joined), (fifteen, true));
}

mod props {
    use proptest::prelude::*;

    use super::table::{Key, Side, Table, Timing, Verdict};

    const PATHS: [&str; 3] = ["/a", "/b", "/a/"];
    const STATUSES: [i64; 2] = [200, 404];

    /// One line: side, path, status, time (ms), duration (ms, or none).
    fn line() -> impl Strategy<Value = (bool, usize, usize, i64, Option<i64>)> {
        (
            any::<bool>(),
            0..PATHS.len(),
            0..STATUSES.len(),
            0i64..4_000,
            prop::option::of(0i64..50),
        )
    }

    proptest! {
        /// Whatever the times, a join ties lines of one key, one of each
        /// program, and the table never holds more than its cap.
        #[test]
        fn joins_only_equal_keys_of_the_two_programs(lines in prop::collection::vec(line(), 1..200)) {
            let mut table = Table::new(2_000_000_000, 16);
            let mut owner = std::collections::HashMap::new();
            for (n, (nginx, p, st, ms, dur)) in lines.into_iter().enumerate() {
                let side = if nginx { Side::Nginx } else { Side::Uwsgi };
                let key = Key { method: "GET", path: PATHS[p], query: "", status: STATUSES[st] };
                let timing = Timing {
                    at: ms / 1000 * 1_000_000_000,
                    res: 1_000_000_000,
                    dur: if nginx { dur.map(|d| d * 1_000_000) } else { Some(dur.unwrap_or(1) * 1_000_000) },
                };
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&(n as u64 + 1).to_be_bytes());
                match table.offer(side, key, timing, n as u64 * 10_000_000, || id) {
                    Verdict::Waits(t) => {
                        prop_assert_eq!(t, id);
                        owner.insert(t, (side, p, st));
                    }
                    Verdict::Joined(t) => {
                        let (first, fp, fst) = owner.remove(&t).expect("joined to a line that waited");
                        prop_assert_ne!(first, side);
                        prop_assert_eq!((fp, fst), (p, st));
                    }
                }
                prop_assert!(table.len() <= 16);
            }
        }
    }
}
