#![no_main]
//! Fuzz target: no input may make the parser panic.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::Record;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let mut rec = Record::default();
    let _ = logmux_parsers::uwsgi::parse_request(&line, &mut rec);
    let mut rec = Record::default();
    let _ = logmux_parsers::uwsgi::parse_log(&line, &mut rec, true);
});
