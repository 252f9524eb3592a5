#![no_main]
//! Fuzz target: the span builder and the span encoder on whatever the
//! programs print. Each line is parsed as logmux parses it and given one of
//! four trace ids (so lines join into traces), its part kept by the
//! builder (a small `max_pending`, so evictions happen), every trace
//! handed out by the end, its spans built and encoded in protobuf and
//! OTLP/JSON. Nothing may panic; the frames must split, the JSON parse,
//! the resource decode, and no span end before it starts.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use logmux::output::otlp::{frames, spans::encode};
use logmux::output::LocalZone;
use logmux::sink::otlp::messages::{KeyValue, Resource};
use logmux::trace::build::{has_error, is_error, spans};
use logmux::trace::parts::{part_of, PartCache};
use logmux::trace::spans::{Builder, Collected};
use logmux_parsers::detect::Parser;
use logmux_parsers::{Field, Record, Value};
use prost::encoding::decode_key;
use prost::Message;

const IDS: [&str; 4] = [
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "00000000000000010000000000000001",
    "ffffffffffffffffffffffffffffffff",
    "0af7651916cd43dd8448eb211c80319c",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parser = Parser {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
    };
    let mut builder = Builder::new(Duration::from_millis(1), 3);
    let mut cache = PartCache::default();
    let mut out = Vec::new();
    let t0 = Instant::now();
    for (i, line) in text.lines().enumerate() {
        let mut rec = Record::default();
        parser.parse(line, &mut rec);
        rec.push(Field::TraceId, Value::str(IDS[i % 4]));
        if let Some((id, part)) = part_of(&rec, 1, LocalZone::Fixed(0), &[], &mut cache) {
            builder.add(id, part, t0 + Duration::from_millis(i as u64), &mut out);
        }
        builder.expire(t0 + Duration::from_millis(i as u64), &mut out);
        // As the span thread does: the buffers go back for the next parts.
        for mut c in out.drain(..) {
            check(&c);
            c.give_buffers(&mut cache.buffers);
        }
    }
    builder.drain(&mut out);
    out.iter().for_each(check);
});

fn check(c: &Collected) {
    let built = spans(c);
    assert_eq!(has_error(c), is_error(&built) || (built.is_empty() && !c.exceptions.is_empty()));
    for s in &built {
        assert!(s.start_unix_nano <= s.end_unix_nano);
        if let Some(http) = s.http {
            // What OTLP/JSON reads back is every attribute the protobuf has.
            let mut rest = http.encoded();
            let mut n = 0;
            while !rest.is_empty() {
                decode_key(&mut rest).expect("a key");
                KeyValue::decode_length_delimited(&mut rest).expect("a KeyValue");
                n += 1;
            }
            assert_eq!(n, http.attrs().count());
        }
        for json in [false, true] {
            let mut bytes = Vec::new();
            encode(s, json, &[("k".into(), "v".into())], &mut bytes);
            let frame = frames(&bytes).next().expect("a frame").expect("whole");
            if json {
                serde_json::from_slice::<serde_json::Value>(frame.record).expect("span JSON");
                serde_json::from_slice::<serde_json::Value>(frame.resource).expect("resource JSON");
            } else {
                Resource::decode(frame.resource).expect("resource");
            }
        }
    }
}
