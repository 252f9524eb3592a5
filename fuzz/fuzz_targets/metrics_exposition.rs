#![no_main]
//! Fuzz target: the metrics listener's request line and the exposition
//! writer. Reading any bytes as a request must not panic; any text as a
//! label value must come out as one line whose value, unescaped, is the
//! text again (backslash, quote and newline escaped, nothing else).

use libfuzzer_sys::fuzz_target;
use logmux::metrics::expose::Writer;
use logmux::metrics::http::parse_request;

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
    let value = String::from_utf8_lossy(data);
    let mut w = Writer::new();
    w.sample("m_total", "", &[("type", &value)], None, 1.0);
    let text = w.finish();
    assert_eq!(text.matches('\n').count(), 1, "{text:?}");
    let inner = text
        .strip_prefix("m_total{type=\"")
        .and_then(|t| t.strip_suffix("\"} 1\n"))
        .expect("one labelled sample");
    assert_eq!(unescape(inner), value);
});
