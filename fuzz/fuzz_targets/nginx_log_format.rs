#![no_main]
//! Fuzz target: a user's log_format and a line, both arbitrary: compiling
//! and parsing may fail but never panic.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::Record;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is the format, the rest the log line.
    let (format, line) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(compiled) = LogFormat::compile(format) {
        let _ = compiled.parse(line, &mut Record::default());
    }
    if let Ok(combined) = LogFormat::compile(logmux_parsers::nginx::log_format::COMBINED) {
        let _ = combined.parse(&text, &mut Record::default());
    }
});
