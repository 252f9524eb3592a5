#![no_main]
//! Fuzz target: the whole `logmux filter` path with every encoder setting:
//! the first byte picks the output format, key style, colour, local offset
//! and forced parser; with a forced nginx format, the first line is its
//! log_format. JSON output must stay one JSON object per line; logfmt and
//! pretty one line per event, valid UTF-8.

use libfuzzer_sys::fuzz_target;
use logmux::engine::Input;
use logmux::output::{Encoder, KeyStyle, LocalZone, OutputFormat};
use logmux::event::{Origin, Stamp};
use logmux::engine::{Pipeline, Settings};
use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::Format;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&sel2, mut data)) = rest.split_first() else {
        return;
    };
    let format = match sel % 3 {
        0 => OutputFormat::Json,
        1 => OutputFormat::Logfmt,
        _ => OutputFormat::Pretty,
    };
    let keys = if sel & 4 == 0 {
        KeyStyle::Nested
    } else {
        KeyStyle::Dotted
    };
    let color = sel & 8 != 0;
    let zone = match (sel >> 4) & 3 {
        0 => LocalZone::Fixed(0),
        1 => LocalZone::Fixed(330),
        2 => LocalZone::System,
        _ => LocalZone::Fixed(i16::from(sel2) * 7 - 900),
    };
    let forced = match sel2 % 12 {
        n @ 0..=8 => Some(Format::ALL[n as usize]),
        _ => None,
    };
    let mut nginx_format = None;
    if sel2 % 12 == 9 {
        let text = std::str::from_utf8(data).unwrap_or("");
        if let Some((f, _)) = text.split_once('\n') {
            if let Ok(c) = LogFormat::compile(f) {
                nginx_format = Some(c);
                data = &data[f.len() + 1..];
            }
        }
    }
    let encoder = Encoder {
        format,
        keys,
        color,
        zone,
        syslog: None,
        otlp: None,
        resource: None,
    };
    let mut pipeline = Pipeline::new(Settings {
        forced,
        nginx_format,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder,
    });
    let max = if sel2 & 0x80 != 0 { 64 } else { 256 };
    let mut input = Input::new(Origin::default(), max);
    let stamp = Stamp::now();
    let mut out = Vec::new();
    input.push(data, &stamp, &mut pipeline, &mut out);
    input.finish(&stamp, &mut pipeline, &mut out);
    assert!(std::str::from_utf8(&out).is_ok(), "output is not UTF-8");
    if matches!(format, OutputFormat::Json) {
        for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(line);
            assert!(
                parsed.map(|v| v.is_object()).unwrap_or(false),
                "not a JSON object: {}",
                String::from_utf8_lossy(line)
            );
        }
    }
});
