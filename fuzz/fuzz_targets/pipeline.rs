#![no_main]
//! Fuzz target: arbitrary bytes through everything `logmux filter` does
//! (framing, Docker unwrapping, multi-line assembly, parsing, JSON output);
//! the output must stay one valid JSON object per line.

use libfuzzer_sys::fuzz_target;
use logmux::framing::LineFramer;
use logmux::output::{Encoder, KeyStyle, OutputFormat};
use logmux::pipeline::{Origin, Pipeline, Settings, Stamp};
use logmux::unwrap::Unwrapper;

fuzz_target!(|data: &[u8]| {
    let encoder = Encoder {
        format: OutputFormat::Json,
        keys: KeyStyle::Nested,
        color: false,
        local_offset_minutes: 0,
    };
    let mut pipeline = Pipeline::new(Settings {
        forced: None,
        nginx_format: None,
        encoder,
    });
    let mut framer = LineFramer::new(256);
    let mut unwrapper = Unwrapper::new(Origin::default(), 256);
    let stamp = Stamp::now();
    let mut out = Vec::new();
    framer.push(data, |l| {
        unwrapper.line(l.bytes, l.truncated, &stamp, &mut pipeline, &mut out)
    });
    framer.finish(|l| unwrapper.line(l.bytes, l.truncated, &stamp, &mut pipeline, &mut out));
    unwrapper.flush(&mut pipeline, &mut out);
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(line);
        assert!(
            parsed.map(|v| v.is_object()).unwrap_or(false),
            "not a JSON object: {}",
            String::from_utf8_lossy(line)
        );
    }
});
