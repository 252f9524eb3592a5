//! Property tests of the whole per-line path (framing, unwrapping,
//! assembly, parsing, encoding), run through the library:
//! - no input makes it panic, and every output line is one JSON object;
//! - how the bytes are split into reads never changes the output;
//! - no line is lost, cut or merged: messages come out as the lines went in.

use logmux::engine::Input;
use logmux::engine::{Pipeline, Settings};
use logmux::event::{Origin, Stamp};
use logmux::output::Encoder;
use logmux_parsers::Format;
use proptest::prelude::*;

/// Runs `input`, split into reads at `cuts`, through the filter path.
fn filter(input: &[u8], cuts: &[usize], forced: Option<Format>, max_line: usize) -> Vec<u8> {
    let mut pipeline = Pipeline::new(Settings {
        forced,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder: Encoder::json(),
    });
    let mut reader = Input::new(Origin::default(), max_line);
    let stamp = Stamp::at_unix(1_700_000_000, 0);
    let mut out = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    points.push(input.len());
    for p in points {
        if p > at {
            reader.push(&input[at..p], &stamp, &mut pipeline, &mut out);
            at = p;
        }
    }
    reader.finish(&stamp, &mut pipeline, &mut out);
    out
}

fn events(out: &[u8]) -> Vec<serde_json::Value> {
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(l)));
            assert!(v.is_object());
            v
        })
        .collect()
}

/// Lines that look like the real thing, so detection paths get exercised.
fn realistic_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "curl/7.88.1""#.to_string()),
        Just("2026/11/25 19:39:18 [error] 1#1: *78 connect() failed, client: 127.0.0.1, server: x, request: \"GET / HTTP/1.1\"".to_string()),
        Just("[pid: 12|app: 0|req: 1/1] 127.0.0.1 () {32 vars in 351 bytes} [Wed Nov 25 19:39:19 2026] GET / => generated 24 bytes in 30 msecs (HTTP/1.1 200) 5 headers in 158 bytes (1 switches on core 0)".to_string()),
        Just("Internal Server Error: /boom/".to_string()),
        Just("Traceback (most recent call last):".to_string()),
        Just("  File \"/app/views.py\", line 3, in boom".to_string()),
        Just("ZeroDivisionError: division by zero".to_string()),
        Just(String::new()),
        Just("2026-11-25 19:39:40,240 WARN exited: crasher (exit status 3; not expected)".to_string()),
        Just("{\"level\":\"error\",\"msg\":\"x\"}".to_string()),
        "[ -~]{0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_give_valid_json_lines(input in proptest::collection::vec(any::<u8>(), 0..2048), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        events(&filter(&input, &cuts, None, 64));
    }

    #[test]
    fn realistic_lines_give_valid_json_whatever_the_reads(lines in proptest::collection::vec(realistic_line(), 0..40), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let input = lines.join("\n").into_bytes();
        let whole = filter(&input, &[], None, 1 << 20);
        let split = filter(&input, &cuts, None, 1 << 20);
        events(&whole);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn no_line_is_lost_cut_or_merged(lines in proptest::collection::vec("[ -~]{0,120}", 1..60), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        // A first line that no wrapper claims; forced `json` turns multi-line
        // assembly off, so every line must come back as its own message.
        let mut all = vec!["start".to_string()];
        all.extend(lines);
        let input = format!("{}\n", all.join("\n"));
        let out = events(&filter(input.as_bytes(), &cuts, Some(Format::Json), 1 << 20));
        let messages: Vec<&str> = out.iter().map(|e| e["message"].as_str().unwrap_or("<none>")).collect();
        let expected: Vec<&str> = all.iter().map(String::as_str).filter(|l| !l.is_empty()).collect();
        prop_assert_eq!(messages, expected);
    }

    #[test]
    fn cut_pieces_add_up_to_the_line(line in "[a-zé€]{1,400}", max in 16usize..64) {
        let input = format!("start\n{line}\n");
        let out = events(&filter(input.as_bytes(), &[], Some(Format::Json), max));
        let pieces: String = out[1..].iter().map(|e| e["message"].as_str().unwrap_or("")).collect();
        prop_assert_eq!(pieces, line.clone());
        let cut = line.len() > max;
        for e in &out[1..] {
            prop_assert_eq!(e["logmux"]["truncated"] == serde_json::json!(true), cut);
            prop_assert!(e["message"].as_str().unwrap_or("").len() <= max);
        }
    }
}
