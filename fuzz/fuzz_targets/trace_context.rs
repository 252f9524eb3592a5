#![no_main]
//! Fuzz target: W3C trace context values (`traceparent`, trace and span
//! ids) from any text: never a panic, and what is read writes back to the
//! same lower-case hex and is never all zero.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::trace_context::{span_id, to_hex, trace_id, traceparent};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(id) = trace_id(&text) {
        assert_ne!(id, [0; 16]);
        assert_eq!(to_hex(&id), text.to_ascii_lowercase());
    }
    if let Some(id) = span_id(&text) {
        assert_ne!(id, [0; 8]);
        assert_eq!(to_hex(&id), text.to_ascii_lowercase());
    }
    if let Some(tp) = traceparent(&text) {
        assert_eq!(trace_id(&to_hex(&tp.trace_id)), Some(tp.trace_id));
        assert_eq!(span_id(&to_hex(&tp.parent_id)), Some(tp.parent_id));
        let t = text.trim().to_ascii_lowercase();
        assert_eq!(t.get(3..35), Some(to_hex(&tp.trace_id).as_str()));
    }
});
