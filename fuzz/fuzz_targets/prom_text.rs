#![no_main]
//! Fuzz target: the Prometheus text exposition reader of `logmux top`:
//! no input may panic it, and every non-comment line is either a sample or
//! an error, never both.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::prom_text;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let e = prom_text::parse(&text);
    assert!(e.samples.len() + e.errors.len() <= text.lines().count());
    for error in &e.errors {
        assert!(error.line >= 1 && error.line <= text.lines().count());
    }
});
