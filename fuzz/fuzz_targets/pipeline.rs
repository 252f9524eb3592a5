#![no_main]
//! Fuzz target: arbitrary bytes through everything `logmux filter` does
//! (framing, Docker unwrapping, multi-line assembly, parsing, JSON output);
//! the output must stay one valid JSON object per line.

use libfuzzer_sys::fuzz_target;
use logmux::engine::Input;
use logmux::output::Encoder;
use logmux::event::{Origin, Stamp};
use logmux::engine::{Pipeline, Settings};

fuzz_target!(|data: &[u8]| {
    let mut pipeline = Pipeline::new(Settings {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder: Encoder::json(),
    });
    let mut input = Input::new(Origin::default(), 256);
    let stamp = Stamp::now();
    let mut out = Vec::new();
    input.push(data, &stamp, &mut pipeline, &mut out);
    input.finish(&stamp, &mut pipeline, &mut out);
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(line);
        assert!(
            parsed.map(|v| v.is_object()).unwrap_or(false),
            "not a JSON object: {}",
            String::from_utf8_lossy(line)
        );
    }
});
