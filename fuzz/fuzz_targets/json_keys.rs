#![no_main]
//! Fuzz target: the JSON key mapping (`logmux_parsers::json_keys`). Input
//! that is a JSON object line must come out with its merged keys sorted and
//! unique, none naming a schema field with another type, none a parent or
//! child of a schema field, none under an envelope key; whatever the
//! envelope took must have the schema's type.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::field::ALL;
use logmux_parsers::{Field, Record, Value};

const ENVELOPE: [&str; 6] = [
    "timestamp",
    "observed_timestamp",
    "severity_text",
    "severity_number",
    "message",
    "logmux",
];

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let mut rec = Record::default();
    if !logmux_parsers::json::parse(&line, &mut rec) {
        return;
    }
    for pair in rec.extra.windows(2) {
        assert!(pair[0].0 < pair[1].0, "not sorted or twice: {:?}", pair[0].0);
    }
    for (key, value) in &rec.extra {
        let Value::RawJson(raw) = value else {
            panic!("{key}: not raw JSON");
        };
        let top = key.split('.').next().unwrap_or("");
        assert!(!ENVELOPE.contains(&top), "{key} under the envelope");
        if let Some(f) = Field::at_or_above(key) {
            assert_eq!(f.name(), key.as_ref(), "{key} under a field");
            assert!(f.fits_raw(raw), "{key}: {raw}");
        }
        let parent = ALL
            .iter()
            .any(|f| f.name().strip_prefix(key.as_ref()).is_some_and(|r| r.starts_with('.')));
        assert!(!parent, "{key} above a field");
    }
    for (field, value) in &rec.fields {
        assert!(matches!(value, Value::Str(_) | Value::Bool(_)), "{field:?}");
    }
});
