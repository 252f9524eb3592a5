#![no_main]
//! Fuzz target: a user's uWSGI log-format and a line, both arbitrary:
//! compiling and parsing may fail but never panic, and a line that is
//! taken is typed `uwsgi.request`.

use libfuzzer_sys::fuzz_target;
use logmux_parsers::uwsgi::log_format::LogFormat;
use logmux_parsers::{Format, Record};

/// The format docker/uwsgi.ini uses: the default line's fields plus the request id.
const IMAGE: &str = "[pid: %(pid)|wid: %(wid)] %(addr) (%(user)) {%(vars) vars in %(pktsize) bytes} [%(ctime)] %(method) %(uri) => generated %(rsize) bytes in %(micros) micros (%(proto) %(status)) %(headers) headers in %(hsize) bytes (%(switches) switches on core %(core)) request_id=%(var.HTTP_X_REQUEST_ID) start=%(tmicros)";

fn parse(format: &LogFormat, line: &str) {
    let mut rec = Record::default();
    if format.parse(line, &mut rec) {
        assert_eq!(rec.format, Format::UwsgiRequest);
    } else {
        assert!(rec.fields.is_empty() && rec.extra.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is the format, the rest the log line.
    let (format, line) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(compiled) = LogFormat::compile(format) {
        parse(&compiled, line);
    }
    if let Ok(image) = LogFormat::compile(IMAGE) {
        parse(&image, &text);
    }
});
