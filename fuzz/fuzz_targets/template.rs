#![no_main]
//! Fuzz target: no template text may make rendering panic, and text
//! without `${` comes out unchanged.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| match name {
        "HOST" => Some("example.org".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let rendered = logmux::config::template::render(&text, &env);
    if !text.contains("${") {
        assert_eq!(rendered.as_deref(), Ok(&*text));
    }
});
