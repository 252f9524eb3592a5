#![no_main]
//! Fuzz target: a user's strftime pattern (`--uwsgi-logdate`) and any line:
//! neither compiling nor reading may panic, and a date read back lies
//! within the line.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::strftime::Strftime;
use logmux_parsers::Record;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, line) = text.split_once('\n').unwrap_or(("%Y-%m-%d %H:%M:%S", &text));
    let Ok(f) = Strftime::compile(pattern) else {
        return;
    };
    if let Some((_, n)) = f.parse_prefix(line.as_bytes()) {
        assert!(n <= line.len());
    }
    let mut rec = Record::default();
    let _ = logmux_parsers::uwsgi::parse_log_with(line, &mut rec, true, Some(&f));
});
