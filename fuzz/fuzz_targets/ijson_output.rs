#![no_main]
//! Fuzz target: arbitrary bytes through the filter path, with nested and
//! with dotted keys; every output line must be strict I-JSON (RFC 7493):
//! one object, no key twice in any object, numbers in double range. The
//! first byte picks the key style, the rest is the input.

#[path = "../../tests/support/strict_json.rs"]
mod strict_json;

use libfuzzer_sys::fuzz_target;
use logmux::engine::{Input, Pipeline, Settings};
use logmux::event::{Origin, Stamp};
use logmux::output::{Encoder, KeyStyle};

fuzz_target!(|data: &[u8]| {
    let Some((&style, input)) = data.split_first() else {
        return;
    };
    let keys = if style & 1 == 0 { KeyStyle::Nested } else { KeyStyle::Dotted };
    let mut pipeline = Pipeline::new(Settings {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder: Encoder { keys, ..Encoder::json() },
    });
    let mut reader = Input::new(Origin::default(), 4096);
    let stamp = Stamp::at_unix(1_700_000_000, 0);
    let mut out = Vec::new();
    reader.push(input, &stamp, &mut pipeline, &mut out);
    reader.finish(&stamp, &mut pipeline, &mut out);
    for line in String::from_utf8_lossy(&out).lines() {
        if let Err(e) = strict_json::check(line) {
            panic!("not I-JSON: {e}");
        }
    }
});
