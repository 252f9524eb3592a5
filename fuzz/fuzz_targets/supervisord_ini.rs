#![no_main]
//! Fuzz target: no supervisord INI text may make loading panic.

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "HOST").then(|| "example.org".to_string());
    let _ = logmux::config::run::parse(Path::new("supervisord.conf"), &text, &env, &mut |_| {});
});
