#![no_main]
//! Fuzz target: the OTLP encoder on whatever a program prints. The first
//! byte picks protobuf or OTLP/JSON and whether `[resource]` fields are set.
//! The output must split into exactly one frame per event, each frame's
//! resource and record must decode (protobuf with the prost messages of the
//! OTLP definitions, JSON as JSON), and the body must be a string.

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use logmux::engine::{Input, Pipeline, Settings};
use logmux::event::{IoStream, Origin, Stamp};
use logmux::output::otlp::{frames, Otlp};
use logmux::output::Encoder;
use logmux::sink::otlp::messages::{any_value, LogRecord, Resource};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, data)) = data.split_first() else {
        return;
    };
    let json = sel & 1 == 1;
    let resource: Option<Arc<[(String, String)]>> = (sel & 2 == 2).then(|| {
        vec![(
            "deployment.environment.name".to_string(),
            "fuzz".to_string(),
        )]
        .into()
    });
    let encoder = Encoder {
        otlp: Some(Arc::new(Otlp {
            json,
            resource: vec![("service.name".into(), "x".into())],
        })),
        resource,
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

    let mut count = 0u64;
    for frame in frames(&out) {
        let frame = frame.expect("a torn frame");
        if json {
            let r: serde_json::Value = serde_json::from_slice(frame.record).expect("record JSON");
            assert!(r["body"]["stringValue"].is_string(), "{r}");
            serde_json::from_slice::<serde_json::Value>(frame.resource).expect("resource JSON");
        } else {
            let r = LogRecord::decode(frame.record).expect("record protobuf");
            let body = r.body.and_then(|b| b.value);
            assert!(
                matches!(body, Some(any_value::Value::StringValue(_))),
                "{body:?}"
            );
            Resource::decode(frame.resource).expect("resource protobuf");
        }
        count += 1;
    }
    assert_eq!(count, pipeline.stats.events, "frames and events differ");
});
