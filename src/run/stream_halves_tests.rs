//! A busy stream's reads cut in two, the second half parsed on a helper
//! ([`super::super::helpers`]), give byte for byte the events and counts
//! one thread gives the same reads: any read sizes and bursts, tracebacks
//! (whose message goes on over plain lines of the same burst), supervisord
//! lines (and one spliced into another line, found only once supervisord
//! was seen), long lines cut at `max_line`, empty lines, a partial last line.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::engine::samples::{self, stamp, without_now};
use crate::output::Encoder;
use crate::sink::spec::OnFull;
use crate::sink::Queue;

/// A stream's lines; with `helpers`, its reads lent in halves, which a
/// helper always parses when `wait`.
fn lines(helpers: Option<Arc<Helpers>>, max_line: usize, wait: bool) -> Lines {
    let route = Route {
        queue: Arc::new(Queue::new(1 << 30)),
        on_full: OnFull::Block,
    };
    let origin = Origin {
        service: Some("app".into()),
        iostream: Some(IoStream::Stdout),
        pid: Some(42),
        ..Origin::default()
    };
    let pipeline = || {
        Pipeline::new(samples::auto_json())
            .for_program(false)
            .joining_bursts()
    };
    Lines {
        framer: LineFramer::new(max_line),
        split: Split::new(route, 0, Vec::new(), ExitCounts::default()),
        pipeline: pipeline(),
        state: StreamState::new(origin.clone()),
        halves: helpers.map(|h| {
            let halves = Halves::new(h, pipeline(), StreamState::new(origin), max_line)
                .splitting_at_least(1);
            if wait {
                halves.waiting_for_helper()
            } else {
                halves
            }
        }),
    }
}

/// `reads` pushed with their bursts, then the end: the events, counts,
/// and the halves lent and parsed again.
fn feed(
    mut lines: Lines,
    reads: &[(Vec<u8>, (Burst, Burst))],
) -> (Vec<u8>, u32, crate::engine::Stats, (u64, u64)) {
    for (i, (bytes, bursts)) in reads.iter().enumerate() {
        lines.push_at(bytes, *bursts, stamp(i));
    }
    lines.finish_at(stamp(reads.len()));
    let halves = lines
        .halves
        .as_ref()
        .map_or((0, 0), |h| (h.lent, h.parsed_again));
    let own = &lines.split.own;
    (own.bytes.clone(), own.events, lines.pipeline.stats, halves)
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        14 => proptest::sample::select(samples::LINES).prop_map(str::to_string),
        2 => Just(samples::TRACEBACK_GOING_ON.to_string()),
        1 => "[ -~]{0,100}",
    ]
}

fn burst() -> impl Strategy<Value = Burst> {
    prop_oneof![Just(Burst::Same), Just(Burst::Paused), Just(Burst::Unknown)]
}

/// `input` cut at `cuts` into reads, each with bursts from `bursts` in turn.
fn reads(
    input: &[u8],
    cuts: &[usize],
    bursts: &[(Burst, Burst)],
) -> Vec<(Vec<u8>, (Burst, Burst))> {
    let pieces = samples::pieces(input, cuts);
    let bursts = bursts.iter().copied().cycle();
    pieces.into_iter().zip(bursts).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reads_parsed_in_halves_give_what_one_thread_gives(
        picked in proptest::collection::vec(line(), 0..60),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
        bursts in proptest::collection::vec((burst(), burst()), 1..6),
        max_line in prop_oneof![Just(1usize << 20), 16usize..200],
        ends_line in any::<bool>(),
        wait in any::<bool>(),
    ) {
        let mut input = picked.join("\n");
        if ends_line {
            input.push('\n');
        }
        let reads = reads(input.as_bytes(), &cuts, &bursts);
        let helpers = Helpers::new(1);
        let (one, one_events, one_stats, _) = feed(lines(None, max_line, false), &reads);
        let (two, two_events, two_stats, _) = feed(lines(helpers, max_line, wait), &reads);
        prop_assert_eq!(without_now(&two), without_now(&one));
        prop_assert_eq!(two_events, one_events);
        prop_assert_eq!(two_stats, one_stats);
    }
}

/// Long enough inputs of plain request lines are lent, and kept: the
/// helper's events are the ones written.
#[test]
fn halves_of_request_lines_are_parsed_by_the_helper() {
    let line = "127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] \"GET / HTTP/1.1\" 200 24 \"-\" \"curl/7.88.1\"\n";
    let input = line.repeat(1000);
    let reads = reads(
        input.as_bytes(),
        &[30_000, 60_000],
        &[(Burst::Same, Burst::Same)],
    );
    let (one, one_events, _, _) = feed(lines(None, 1 << 20, false), &reads);
    let (two, two_events, _, (lent, parsed_again)) =
        feed(lines(Helpers::new(1), 1 << 20, true), &reads);
    assert_eq!((lent, parsed_again), (3, 0));
    assert_eq!(one_events, 1000);
    assert_eq!(two_events, 1000);
    assert!(two == one, "the events differ");
}

/// `ctl tail`'s ring gets every event of reads parsed in halves, once, in
/// order, as the sink does.
#[tokio::test]
async fn the_tail_ring_gets_the_helpers_events_in_order() {
    use crate::config::run::TailBuffer;
    use crate::run::ring::Rings;
    let rings = Rings::new(
        TailBuffer {
            events: 10_000,
            bytes: 1 << 30,
        },
        ["app"],
    );
    let ring = rings.ring("app");
    // Lines near `max_line`: a read's unfinished last line may become a
    // piece, so the lent half's events are put before it, in the same batch.
    let mut lines = lines(Helpers::new(1), 100, true);
    lines.split = Split::new(
        lines.split.own.route.clone(),
        0,
        Vec::new(),
        ExitCounts::default(),
    )
    .with_tail(ring.clone(), &Encoder::json(), IoStream::Stdout);
    let line = |i: usize| format!("GET /{i:05} a plain line of sixty bytes or so, number {i:05}");
    let input: String = (0..3000).map(|i| line(i) + "\n").collect();
    let cuts: Vec<usize> = (1..40).map(|i| i * 5_001).collect();
    let reads = reads(input.as_bytes(), &cuts, &[(Burst::Same, Burst::Same)]);
    for (i, (bytes, bursts)) in reads.iter().enumerate() {
        lines.push_at(bytes, *bursts, stamp(i));
        lines.split.send().await;
    }
    lines.finish_at(stamp(reads.len()));
    lines.split.send().await;
    let lent = lines.halves.as_ref().map_or(0, |h| h.lent);
    assert_eq!(lent, 40);
    let (tail, _) = ring
        .as_ref()
        .map(|r| r.last(10_000, None))
        .unwrap_or_default();
    let messages: Vec<String> = tail
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(e.event()).unwrap_or_default();
            v["message"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let want: Vec<String> = (0..3000).map(line).collect();
    assert_eq!(messages, want);
}
