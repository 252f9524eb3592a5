#![no_main]
//! Fuzz target: Docker's wrappers (`-t` timestamps, compose prefixes,
//! json-file lines) and ANSI stripping.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::{ansi, docker};

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let _ = docker::strip_timestamp(&line);
    if let Some((name, _)) = docker::strip_compose_prefix(&line) {
        let _ = docker::compose_service(name);
    }
    let _ = docker::parse_json_file(&line);
    let _ = docker::container_id_from_path(&line);
    let _ = ansi::strip(&line);
});
