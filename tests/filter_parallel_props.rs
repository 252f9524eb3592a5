//! Property tests of the parallel filter's engine ([`logmux::engine::parallel`]):
//! an input cut into chunks anywhere, each parsed from the guessed state the
//! door would give it and taken back in order with any lag, comes out byte
//! for byte as one thread makes it, with the same counts. The inputs mix
//! every wrapper (`docker logs -t`, compose, json-file with pieces) with
//! tracebacks, supervisord lines (and one spliced into another line, found
//! only once supervisord was seen), long lines and a partial last line.
//! A live input's (a pipe's) reads, gathered and cut into chunks anywhere
//! at line ends ([`Reads`]), keep the read time and burst of every line.

use std::collections::VecDeque;

use logmux::engine::parallel::{self, Chunk, Reads, Sequencer};
use logmux::engine::samples::{self, pieces, stamp, without_now};
use logmux::engine::unwrap::Carry;
use logmux::engine::{Input, Pipeline, Stats};
use logmux::event::{Burst, Origin, Stamp};
use proptest::prelude::*;

fn pipeline() -> Pipeline {
    Pipeline::new(samples::auto_json()).joining_bursts()
}

/// One thread: the chunks as reads of one input.
fn one_thread(parts: &[Vec<u8>], max_line: usize) -> (Vec<u8>, Stats) {
    let mut pipeline = pipeline();
    let mut input = Input::new(Origin::default(), max_line);
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        input.push(part, &stamp(i), &mut pipeline, &mut out);
    }
    input.finish(&stamp(parts.len()), &mut pipeline, &mut out);
    (out, pipeline.stats)
}

/// The door's side: each chunk parsed from the guess at its dispatch,
/// taken back `lag` chunks later, the guess caught up with the real state.
struct Door {
    main: Pipeline,
    worker: Pipeline,
    origin: Origin,
    seq: Sequencer,
    guess: Carry,
    queue: VecDeque<parallel::Parsed>,
    out: Vec<u8>,
    lag: usize,
    max_line: usize,
}

impl Door {
    fn new(max_line: usize, lag: usize, live: bool) -> Door {
        let seq = Sequencer::new(Origin::default(), max_line);
        Door {
            main: pipeline(),
            worker: pipeline(),
            origin: Origin::default(),
            seq: if live { seq.live() } else { seq },
            guess: Carry::default(),
            queue: VecDeque::new(),
            out: Vec::new(),
            lag,
            max_line,
        }
    }

    /// Parses `chunk` and takes back what is `lag` behind; the buffers of
    /// the chunks taken back.
    fn send(&mut self, chunk: Chunk) -> Vec<Vec<u8>> {
        self.guess = std::mem::take(&mut self.guess).sniffed(&chunk.bytes);
        let (origin, max_line) = (&self.origin, self.max_line);
        let parsed = parallel::parse(&mut self.worker, origin, max_line, chunk, Vec::new());
        self.queue.push_back(parsed);
        let mut back = Vec::new();
        while self.queue.len() > self.lag {
            let Some(p) = self.queue.pop_front() else {
                break;
            };
            back.push(self.seq.next(p, &mut self.main, &mut self.out).0.bytes);
            if let Some(real) = self.seq.carry() {
                self.guess.catch_up(&real);
            }
        }
        back
    }

    /// The rest taken back, and the input finished at `stamp`.
    fn finish(mut self, stamp: &Stamp) -> (Vec<u8>, Stats, u64) {
        for p in std::mem::take(&mut self.queue) {
            self.seq.next(p, &mut self.main, &mut self.out);
        }
        self.seq.finish(stamp, &mut self.main, &mut self.out);
        (self.out, self.main.stats, self.seq.reparsed)
    }
}

/// As the file door does it: every part a chunk.
fn parallel(parts: &[Vec<u8>], max_line: usize, lag: usize) -> (Vec<u8>, Stats, u64) {
    let mut door = Door::new(max_line, lag, false);
    for (i, part) in parts.iter().enumerate() {
        let chunk = Chunk::read_at(part.clone(), stamp(i), door.guess.clone());
        door.send(chunk);
    }
    door.finish(&stamp(parts.len()))
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        14 => proptest::sample::select(samples::LINES).prop_map(str::to_string),
        1 => "[ -~]{0,100}",
    ]
}

/// A line in the wrapper `w` chooses: 0 none, 1 `docker logs -t`,
/// 2 compose (three containers), 3 json-file (some lines in two pieces).
fn wrap(w: u8, i: usize, line: &str) -> String {
    match w {
        1 => format!("2026-11-25T19:44:35.{i:09}Z {line}"),
        2 => format!("{}   | {line}", ["web_1", "worker_1", "worker_2"][i % 3]),
        3 => {
            let stream = if i % 4 == 0 { "stderr" } else { "stdout" };
            let piece = |s: &str, end: &str| {
                let log = serde_json::to_string(&format!("{s}{end}")).unwrap_or_default();
                format!(
                    "{{\"log\":{log},\"stream\":\"{stream}\",\"time\":\"2026-11-25T19:44:35.1Z\"}}"
                )
            };
            match line.len() / 2 {
                half if i % 5 == 0 && line.is_char_boundary(half) => {
                    format!(
                        "{}\n{}",
                        piece(&line[..half], ""),
                        piece(&line[half..], "\n")
                    )
                }
                _ => piece(line, "\n"),
            }
        }
        _ => line.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn chunks_in_parallel_give_what_one_thread_gives(
        lines in proptest::collection::vec(line(), 0..80),
        wrapper in 0u8..4,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        at_line_ends in any::<bool>(),
        lag in 0usize..4,
        max_line in prop_oneof![Just(1usize << 20), 16usize..200],
        end in prop_oneof![Just("\n"), Just("")],
    ) {
        let text: Vec<String> = lines.iter().enumerate().map(|(i, l)| wrap(wrapper, i, l)).collect();
        let input = format!("{}{end}", text.join("\n")).into_bytes();
        // The door cuts at line ends; the engine must hold wherever a cut falls.
        let cuts: Vec<usize> = if at_line_ends {
            let ends: Vec<usize> = memchr::memchr_iter(b'\n', &input).map(|i| i + 1).collect();
            cuts.iter().filter_map(|c| ends.get(c % ends.len().max(1)).copied()).collect()
        } else {
            cuts
        };
        let parts = pieces(&input, &cuts);
        let (one, one_stats) = one_thread(&parts, max_line);
        let (many, many_stats, _) = parallel(&parts, max_line, lag);
        prop_assert_eq!(without_now(&many), without_now(&one));
        prop_assert_eq!(many_stats, one_stats);
    }
}

/// A traceback across every cut is parsed again from the real state, and
/// its event is whole; chunks that start at rest are kept.
#[test]
fn a_traceback_across_a_cut_is_parsed_again_whole() {
    let traceback = "Traceback (most recent call last):\n  File \"/app/views.py\", line 3, in boom\n    1 / 0\nZeroDivisionError: division by zero\n";
    let access =
        "127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\"\n";
    let input = format!("{access}{traceback}{access}{access}{traceback}{access}");
    let at = |n: usize, within: usize| {
        input
            .match_indices("Traceback")
            .nth(n)
            .map_or(0, |(i, _)| i + within)
    };
    // Cut inside the first traceback, and just before the second.
    let parts = pieces(input.as_bytes(), &[at(0, 40), at(1, 0)]);
    assert_eq!(parts.len(), 3);
    let (one, one_stats) = one_thread(&parts, 1 << 20);
    let (many, many_stats, reparsed) = parallel(&parts, 1 << 20, 2);
    assert_eq!(
        String::from_utf8_lossy(&many),
        String::from_utf8_lossy(&one)
    );
    assert_eq!(many_stats, one_stats);
    assert_eq!(many_stats.events, 6, "{}", String::from_utf8_lossy(&many));
    assert_eq!(
        reparsed, 1,
        "only the chunk after the cut inside the traceback"
    );
}

/// A pipe's read `i`: its own time, and how its first and other lines came.
fn live_stamp(i: usize, (first, rest): (Burst, Burst)) -> Stamp {
    let mut s = stamp(i);
    s.burst = first;
    s.burst_rest = rest;
    s
}

/// One thread: the reads of one live input, each with its stamp.
fn one_thread_live(reads: &[(Vec<u8>, Stamp)], max_line: usize) -> (Vec<u8>, Stats) {
    let mut pipeline = pipeline();
    let mut input = Input::new(Origin::default(), max_line).live();
    let mut out = Vec::new();
    for (bytes, stamp) in reads {
        input.push(bytes, stamp, &mut pipeline, &mut out);
    }
    input.finish(&stamp(reads.len()), &mut pipeline, &mut out);
    (out, pipeline.stats)
}

/// As the pipe door does it: reads gathered; after read `i`, when
/// `takes[i]` says so, a chunk taken at one of the line ends so far (or
/// at the end: a long line, the pipe's end), its buffer given back once
/// the chunk is taken back.
fn parallel_live(
    reads: &[(Vec<u8>, Stamp)],
    takes: &[Option<usize>],
    max_line: usize,
    lag: usize,
) -> (Vec<u8>, Stats) {
    let mut door = Door::new(max_line, lag, true);
    let mut gathered = Reads::default();
    let last = reads.len().saturating_sub(1);
    for (i, (bytes, stamp)) in reads.iter().enumerate() {
        gathered.push(bytes, *stamp);
        let mut ends: Vec<usize> = memchr::memchr_iter(b'\n', gathered.bytes())
            .map(|e| e + 1)
            .collect();
        ends.push(gathered.bytes().len());
        let at = match takes.get(i % takes.len().max(1)).copied().flatten() {
            _ if i == last => Some(gathered.bytes().len()),
            Some(x) => ends.get(x % ends.len()).copied(),
            None => None,
        };
        if let Some(chunk) = at.and_then(|at| gathered.take(at, door.guess.clone())) {
            door.send(chunk)
                .into_iter()
                .for_each(|b| gathered.recycle(b));
        }
    }
    let (out, stats, _) = door.finish(&stamp(reads.len()));
    (out, stats)
}

/// The lines above, and whole tracebacks whose message goes on over plain
/// lines: whether those continue it depends on the bursts they came in.
fn live_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => line(),
        1 => Just(samples::TRACEBACK_GOING_ON.to_string()),
    ]
}

fn burst() -> impl Strategy<Value = Burst> {
    prop_oneof![Just(Burst::Same), Just(Burst::Paused), Just(Burst::Unknown)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn a_pipes_reads_in_chunks_give_what_one_thread_gives(
        lines in proptest::collection::vec(live_line(), 0..60),
        wrapper in 0u8..4,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
        bursts in proptest::collection::vec((burst(), burst()), 1..8),
        takes in proptest::collection::vec(proptest::option::of(any::<usize>()), 1..8),
        lag in 0usize..4,
        max_line in prop_oneof![Just(1usize << 20), 16usize..200],
        end in prop_oneof![Just("\n"), Just("")],
    ) {
        let text: Vec<String> = lines.iter().enumerate().map(|(i, l)| wrap(wrapper, i, l)).collect();
        let input = format!("{}{end}", text.join("\n")).into_bytes();
        let reads: Vec<(Vec<u8>, Stamp)> = pieces(&input, &cuts)
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| (bytes, live_stamp(i, bursts[i % bursts.len()])))
            .collect();
        let (one, one_stats) = one_thread_live(&reads, max_line);
        let (many, many_stats) = parallel_live(&reads, &takes, max_line, lag);
        prop_assert_eq!(without_now(&many), without_now(&one));
        prop_assert_eq!(many_stats, one_stats);
    }
}

/// A chunk taken inside a read keeps that read's stamp on both sides, and
/// the rest's first line comes as the read's later lines did.
#[test]
fn a_read_cut_by_a_chunk_keeps_its_stamp_and_bursts() {
    let mut reads = Reads::default();
    reads.push(b"a\nb", live_stamp(0, (Burst::Paused, Burst::Same)));
    reads.push(b"c\nd\ne", live_stamp(1, (Burst::Unknown, Burst::Same)));
    // Inside the second read, after `c` and `d`.
    let chunk = reads.take(7, Carry::default()).expect("a chunk");
    assert_eq!(chunk.bytes, b"a\nbc\nd\n");
    assert_eq!(chunk.reads.len(), 1);
    assert_eq!(chunk.reads[0].0, 3);
    assert_eq!(chunk.reads[0].1.burst, Burst::Paused);
    assert_eq!(chunk.stamp.observed_unix(), (1_700_000_001, 0));
    assert_eq!(chunk.stamp.burst, Burst::Unknown);
    assert!(chunk.live);
    let rest = reads.take(1, Carry::default()).expect("the rest");
    assert_eq!(rest.bytes, b"e");
    assert!(rest.reads.is_empty());
    assert_eq!(rest.stamp.observed_unix(), (1_700_000_001, 0));
    assert_eq!(rest.stamp.burst, Burst::Same, "a later line of its read");
    assert!(reads.take(1, Carry::default()).is_none());
    assert!(reads.bytes().is_empty());
}
