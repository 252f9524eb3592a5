#![no_main]
//! Fuzz target: the syslog sink's encoding of whatever a program prints.
//! The first byte picks the header (RFC 3164 or 5424), the framing (octet
//! counting or LF), the body (line or JSON event) and whether there is a
//! hostname. The encoded batch must split back into exactly one UTF-8
//! message per event, each starting with `<PRI>`, with no LF inside an
//! LF-framed one: that is how the transports find each message.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use logmux::engine::Input;
use logmux::output::syslog::{next_frame, Body, Framing, Protocol, Syslog};
use logmux::output::Encoder;
use logmux::event::{IoStream, Origin, Stamp};
use logmux::engine::{Pipeline, Settings};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, data)) = data.split_first() else {
        return;
    };
    let framing = if sel & 2 == 0 {
        Framing::OctetCounting
    } else {
        Framing::Lf
    };
    let syslog = Syslog {
        protocol: if sel & 1 == 0 {
            Protocol::Rfc5424
        } else {
            Protocol::Rfc3164
        },
        framing,
        facility: sel >> 3,
        body: if sel & 4 == 0 { Body::Line } else { Body::Json },
        hostname: (sel & 0x80 == 0).then(|| "web-1".to_string()),
    };
    let encoder = Encoder {
        syslog: Some(Arc::new(syslog)),
        ..Encoder::json()
    };
    let mut pipeline = Pipeline::new(Settings {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder,
    });
    let origin = Origin {
        service: Some("app".into()),
        iostream: Some(IoStream::Stderr),
        pid: Some(42),
        ..Origin::default()
    };
    let mut input = Input::new(origin, 256);
    let stamp = Stamp::now();
    let mut out = Vec::new();
    input.push(data, &stamp, &mut pipeline, &mut out);
    input.finish(&stamp, &mut pipeline, &mut out);

    let mut rest = &out[..];
    let mut frames = 0u64;
    while let Some((frame, used)) = next_frame(rest, framing) {
        let text = std::str::from_utf8(frame).expect("a message is not UTF-8");
        assert!(text.starts_with('<'), "no PRI: {text:?}");
        if framing == Framing::Lf {
            assert_eq!(text.find('\n'), Some(text.len() - 1), "LF inside: {text:?}");
        }
        frames += 1;
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "bytes after the last message");
    assert_eq!(frames, pipeline.stats.events, "messages and events differ");
});
