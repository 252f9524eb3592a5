#![no_main]
//! Fuzz target: no input may make the syslog parser or the structured-data
//! reader panic, and what parses holds only in-range values borrowed from
//! the input.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::syslog;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Ok(m) = syslog::parse(&line, 2024) {
        assert!(m.facility <= 23 && m.severity <= 7);
        assert!(m.body.len() <= line.len());
        let _ = syslog::facility_name(m.facility);
        let _ = syslog::severity(m.severity);
        if let Some(sd) = m.structured_data {
            for (id, name, _value) in syslog::sd_params(sd) {
                assert!(!id.is_empty() && !name.is_empty());
            }
        }
    }
    let _ = syslog::sd_params(&line).count();
    let _ = syslog::facility_from_name(&line);
});
