//! Criterion benchmarks: one per parser, on real lines from `fixtures/`, plus
//! the whole per-line path (detect, parse, encode JSON).
//!
//! Run: `cargo bench --bench parsers`. Figures are in the README.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logmux::engine::{Pipeline, Settings, StreamState};
use logmux::event::{IoStream, Origin, Stamp};
use logmux::output::syslog::{Body, Framing, Protocol, Syslog};
use logmux::output::Encoder;
use logmux_parsers::detect::Parser;
use logmux_parsers::nginx::log_format::{LogFormat, COMBINED};
use logmux_parsers::syslog::{self, Deframer};
use logmux_parsers::traceback::{self, Assembler};
use logmux_parsers::{docker, json, nginx, supervisord, uwsgi, Format, Record};

const ACCESS: &str = r#"203.0.113.7 - - [05/Mar/2024:10:15:32 +0100] "GET /blog/2024/03/hello-world/?page=2&sort=desc HTTP/1.1" 200 5123 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0""#;
const ERROR: &str = r#"2026/11/25 19:39:10 [error] 4242#4242: *57 connect() to unix:/tmp/app.sock failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET /boom/ HTTP/1.1", upstream: "uwsgi://unix:/tmp/app.sock:", host: "127.0.0.1:18080""#;
const UWSGI_REQ: &str = "[pid: 4243|app: 0|req: 12/30] 127.0.0.1 () {34 vars in 512 bytes} [Wed Nov 25 19:39:04 2026] GET /missing/?q=1 => generated 179 bytes in 3 msecs (HTTP/1.1 404) 5 headers in 158 bytes (1 switches on core 0)";
// The log-format docker/uwsgi.ini uses, and a line real uWSGI wrote with it.
const UWSGI_FORMAT: &str = "[pid: %(pid)|wid: %(wid)] %(addr) (%(user)) {%(vars) vars in %(pktsize) bytes} [%(ctime)] %(method) %(uri) => generated %(rsize) bytes in %(micros) micros (%(proto) %(status)) %(headers) headers in %(hsize) bytes (%(switches) switches on core %(core)) request_id=%(var.HTTP_X_REQUEST_ID) start=%(tmicros)";
const UWSGI_FORMAT_LINE: &str = "[pid: 5862|wid: 1] 127.0.0.1 (-) {26 vars in 344 bytes} [Fri Dec  4 18:33:49 2026] GET /orders?id=7&tenant=acme => generated 4 bytes in 186 micros (HTTP/1.1 200) 2 headers in 53 bytes (1 switches on core 0) request_id=4bf92f3577b34da6a3ce929d0e0e4736 start=1796409229594854";
const UWSGI_LOG: &str =
    "DAMN ! worker 1 (pid: 4244) died, killed by signal 9 :( trying respawn ...";
const SUPERVISORD: &str = "2026-11-25 19:39:32,587 INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)";
const JSON: &str =
    r#"{"level":"warning","msg":"from app","user_id":42,"ts":"2026-11-25T19:39:04Z"}"#;
const DOCKER_T: &str = "2024-05-01T12:34:56.123456789Z [pid: 4243|app: 0|req: 12/30] 127.0.0.1 () {34 vars in 512 bytes}";
// Docker's syslog driver: the default format (no hostname) and rfc5424micro.
const SYSLOG_DOCKER: &str = "<30>May  1 12:34:56 nginx:1.25/web-1[1234]: 203.0.113.7 - - [05/Mar/2024:10:15:32 +0100] \"GET /blog/2024/03/hello-world/?page=2 HTTP/1.1\" 200 5123\n";
const SYSLOG_5424MICRO: &str = "<27>1 2024-05-01T12:34:56.123456Z dockerhost nginx:1.25/web-1 1234 nginx:1.25/web-1 - Traceback (most recent call last): File \"/app/demo/views.py\", line 12, in boom\n";
const TRACEBACK: &str = "Internal Server Error: /boom/\nTraceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/django/core/handlers/exception.py\", line 47, in inner\n    response = get_response(request)\n               ^^^^^^^^^^^^^^^^^^^^^\n  File \"/app/demo/views.py\", line 12, in boom\n    return 1 / 0\n           ~~^~~\nZeroDivisionError: division by zero";

fn one<'a>(
    c: &mut Criterion,
    name: &str,
    line: &'a str,
    parse: impl Fn(&'a str, &mut Record<'a>) -> bool,
) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut rec = Record::default();
            black_box(parse(black_box(line), &mut rec));
            black_box(rec.fields.len())
        })
    });
    group.finish();
}

fn parsers(c: &mut Criterion) {
    one(c, "nginx.access", ACCESS, nginx::access::parse);
    one(c, "nginx.error", ERROR, nginx::error::parse);
    match LogFormat::compile(COMBINED) {
        Ok(custom) => one(c, "nginx.log_format(combined)", ACCESS, |l, r| {
            custom.parse(l, r)
        }),
        Err(e) => eprintln!("cannot compile combined: {e}"),
    }
    one(c, "uwsgi.request", UWSGI_REQ, uwsgi::parse_request);
    match uwsgi::log_format::LogFormat::compile(UWSGI_FORMAT) {
        Ok(custom) => one(c, "uwsgi.log_format(image)", UWSGI_FORMAT_LINE, |l, r| {
            custom.parse(l, r)
        }),
        Err(e) => eprintln!("cannot compile the uWSGI log-format: {e}"),
    }
    one(c, "uwsgi.log", UWSGI_LOG, |l, r| {
        uwsgi::parse_log(l, r, true)
    });
    one(c, "supervisord", SUPERVISORD, supervisord::parse);
    one(c, "json", JSON, json::parse);
    one(c, "python.traceback", TRACEBACK, traceback::parse);
    one(c, "detect(nginx.access)", ACCESS, |l, r| {
        Parser::AUTO.parse(l, r)
    });
    one(c, "detect(uwsgi.request)", UWSGI_REQ, |l, r| {
        Parser::AUTO.parse(l, r)
    });
    c.bench_function("docker::strip_timestamp", |b| {
        b.iter(|| black_box(docker::strip_timestamp(black_box(DOCKER_T))))
    });
    c.bench_function("traceback::Assembler::push(idle)", |b| {
        let mut asm = Assembler::new();
        b.iter(|| black_box(asm.push(black_box(ACCESS))))
    });
}

/// `logmux listen`'s per-message work in this crate: deframe and parse.
fn syslog_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("syslog");
    group.throughput(Throughput::Elements(1));
    for (name, line) in [
        ("parse(docker default)", SYSLOG_DOCKER),
        ("parse(docker rfc5424micro)", SYSLOG_5424MICRO),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(syslog::parse(black_box(line), 2024)).is_ok())
        });
    }
    // 1,000 octet-counted frames per iteration, read in 64 KiB pieces as a
    // TCP socket would hand them over.
    let mut wire = Vec::new();
    for _ in 0..1000 {
        wire.extend_from_slice(format!("{} {SYSLOG_5424MICRO}", SYSLOG_5424MICRO.len()).as_bytes());
    }
    group.throughput(Throughput::Elements(1000));
    group.bench_function("deframe+parse x1000 (octet counted)", |b| {
        let mut d = Deframer::new(64 * 1024);
        b.iter(|| {
            let mut ok = 0usize;
            for chunk in wire.chunks(64 * 1024) {
                d.push(chunk, |f| {
                    let text = std::str::from_utf8(f.bytes).unwrap_or_default();
                    ok += usize::from(syslog::parse(text, 2024).is_ok());
                });
            }
            black_box(ok)
        })
    });
    group.finish();
}

/// Everything a line costs in `logmux filter`, minus the read and write calls.
fn pipeline(c: &mut Criterion) {
    let json = Encoder::json();
    // The syslog sink's encoding: RFC 5424 with structured data, octet-counted.
    let syslog = Encoder {
        syslog: Some(std::sync::Arc::new(Syslog {
            protocol: Protocol::Rfc5424,
            framing: Framing::OctetCounting,
            facility: 1,
            body: Body::Line,
            hostname: Some("web-1".into()),
        })),
        ..Encoder::json()
    };
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    for (name, forced, encoder) in [
        ("auto", None, &json),
        ("forced nginx.access", Some(Format::NginxAccess), &json),
        ("syslog rfc5424", Some(Format::NginxAccess), &syslog),
    ] {
        let mut pipeline = Pipeline::new(Settings {
            forced,
            nginx_format: None,
            uwsgi_logdate: None,
            uwsgi_format: None,
            encoder: encoder.clone(),
        });
        // The syslog header names the program and its pid.
        let origin = match encoder.syslog {
            Some(_) => Origin {
                service: Some("nginx".into()),
                iostream: Some(IoStream::Stdout),
                pid: Some(31),
                ..Origin::default()
            },
            None => Origin::default(),
        };
        let mut stream = StreamState::new(origin);
        let stamp = Stamp::now();
        let mut out = Vec::with_capacity(1 << 20);
        group.bench_function(name, |b| {
            b.iter(|| {
                if out.len() > 1 << 19 {
                    out.clear();
                }
                pipeline.line(
                    &mut stream,
                    black_box(ACCESS.as_bytes()),
                    false,
                    &stamp,
                    &mut out,
                );
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parsers, syslog_parse, pipeline);
criterion_main!(benches);
