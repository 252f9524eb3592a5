//! The registry's numbers and text, the event metrics' labels and bounds,
//! and the checks of the `[metrics]` values.

use std::net::SocketAddr;
use std::sync::Arc;

use logmux_parsers::{Field, Format, Record, Severity, Value};

use super::registry::{Bounded, Counter, Family, Histogram, Registry, OTHER};
use super::*;

#[test]
fn a_histogram_counts_each_value_in_the_first_bucket_at_or_above_it() {
    let h = Histogram::new(Arc::from(vec![0.1, 1.0, 10.0]));
    for v in [0.05, 0.1, 0.5, 1.0, 3.0, 10.0, 11.0, f64::NAN] {
        h.observe(v);
    }
    let (buckets, sum, count) = h.snapshot();
    // le=0.1: 0.05 and 0.1 (a bound is inclusive); le=1: + 0.5, 1;
    // le=10: + 3, 10; +Inf: + 11. NaN is not counted.
    assert_eq!(
        buckets,
        vec![(0.1, 2), (1.0, 4), (10.0, 6), (f64::INFINITY, 7)]
    );
    assert_eq!(count, 7);
    assert!((sum - 25.65).abs() < 1e-9, "{sum}");
}

#[test]
fn a_histogram_is_written_cumulative_with_sum_and_count() {
    let r = Registry::new();
    let f = r.register(Family::<Histogram>::new(
        "d_seconds",
        "D.",
        &["service"],
        Arc::from(vec![0.5, 1.0]),
        10,
    ));
    f.with(&["web"]).observe(0.25);
    f.with(&["web"]).observe(0.75);
    f.with(&["web"]).observe(2.0);
    assert_eq!(
        r.render(),
        "# HELP d_seconds D.\n# TYPE d_seconds histogram\n\
         d_seconds_bucket{service=\"web\",le=\"0.5\"} 1\n\
         d_seconds_bucket{service=\"web\",le=\"1\"} 2\n\
         d_seconds_bucket{service=\"web\",le=\"+Inf\"} 3\n\
         d_seconds_sum{service=\"web\"} 3\n\
         d_seconds_count{service=\"web\"} 3\n"
    );
}

#[test]
fn a_family_past_its_limit_counts_in_one_series_labelled_other() {
    let r = Registry::new();
    let f = r.register(Family::<Counter>::new("c_total", "C.", &["a", "b"], (), 2));
    for i in 0..10 {
        f.with(&[&i.to_string(), "x"]).inc();
    }
    f.with(&["0", "x"]).inc();
    assert_eq!(f.len(), 2);
    assert_eq!(
        r.render(),
        "# HELP c_total C.\n# TYPE c_total counter\n\
         c_total{a=\"0\",b=\"x\"} 2\nc_total{a=\"1\",b=\"x\"} 1\n\
         c_total{a=\"other\",b=\"other\"} 8\n"
    );
}

#[test]
fn bounded_admits_the_first_n_values_then_other() {
    let b = Bounded::new(2);
    assert_eq!(b.admit("KeyError"), "KeyError");
    assert_eq!(b.admit("ValueError"), "ValueError");
    assert_eq!(b.admit("OSError"), OTHER);
    assert_eq!(b.admit("KeyError"), "KeyError");
}

fn access(service: &str, method: &str, status: i64, path: &str, secs: f64) -> Record<'static> {
    let mut r = Record {
        format: Format::NginxAccess,
        ..Record::default()
    };
    r.push(Field::ServiceName, Value::Str(service.to_string().into()));
    r.push(Field::LogIostream, Value::str("stdout"));
    r.push(
        Field::HttpRequestMethod,
        Value::Str(method.to_string().into()),
    );
    r.push_int(Field::HttpResponseStatusCode, status);
    r.push(Field::UrlPath, Value::Str(path.to_string().into()));
    r.push(Field::HttpServerRequestDuration, Value::Float(secs));
    r.push_int(Field::HttpResponseBodySize, 1500);
    r
}

fn samples(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn request_events_count_by_method_and_status_class() {
    let m = Metrics::new(&MetricsSpec::default());
    let mut cache = EventCache::default();
    for (method, status) in [
        ("GET", 200),
        ("GET", 204),
        ("BREW", 404),
        ("POST", 503),
        ("GET", 99),
    ] {
        m.events
            .observe(&access("web", method, status, "/x", 0.02), &mut cache);
    }
    let text = m.render();
    assert_eq!(
        samples(&text, "http_server_requests_total{"),
        [
            "http_server_requests_total{service=\"web\",method=\"GET\",status_class=\"2xx\"} 2",
            "http_server_requests_total{service=\"web\",method=\"GET\",status_class=\"other\"} 1",
            "http_server_requests_total{service=\"web\",method=\"POST\",status_class=\"5xx\"} 1",
            "http_server_requests_total{service=\"web\",method=\"_OTHER\",status_class=\"4xx\"} 1",
        ]
    );
    assert!(text
        .contains("http_server_request_duration_seconds_bucket{service=\"web\",le=\"0.025\"} 5\n"));
    assert!(text
        .contains("http_server_request_duration_seconds_bucket{service=\"web\",le=\"0.01\"} 0\n"));
    assert!(text
        .contains("http_server_response_body_size_bytes_bucket{service=\"web\",le=\"10000\"} 5\n"));
    assert_eq!(
        samples(&text, "log_events_total{"),
        ["log_events_total{service=\"web\",stream=\"stdout\",severity=\"INFO\"} 5"]
    );
}

#[test]
fn routes_are_labels_only_when_asked_and_then_bounded() {
    let spec = MetricsSpec {
        route_labels: 2,
        ..MetricsSpec::default()
    };
    let m = Metrics::new(&spec);
    let mut cache = EventCache::default();
    for path in ["/a", "/b", "/c", "/d", "/a"] {
        m.events
            .observe(&access("web", "GET", 200, path, 0.1), &mut cache);
    }
    assert_eq!(
        samples(&m.render(), "http_server_requests_total{"),
        [
            "http_server_requests_total{service=\"web\",method=\"GET\",status_class=\"2xx\",route=\"/a\"} 2",
            "http_server_requests_total{service=\"web\",method=\"GET\",status_class=\"2xx\",route=\"/b\"} 1",
            "http_server_requests_total{service=\"web\",method=\"GET\",status_class=\"2xx\",route=\"other\"} 2",
        ]
    );
}

#[test]
fn exception_types_past_the_limit_are_other_and_services_switch_in_one_stream() {
    let spec = MetricsSpec {
        max_exception_types: 1,
        ..MetricsSpec::default()
    };
    let m = Metrics::new(&spec);
    let mut cache = EventCache::default();
    for (service, ty) in [
        ("app", "KeyError"),
        ("app", "Value\"Error"),
        ("worker", "KeyError"),
    ] {
        let mut r = Record {
            format: Format::PythonTraceback,
            severity: Some(Severity::ERROR),
            ..Record::default()
        };
        r.push(Field::ServiceName, Value::Str(service.to_string().into()));
        r.push(Field::ExceptionType, Value::Str(ty.to_string().into()));
        m.events.observe(&r, &mut cache);
    }
    let text = m.render();
    assert_eq!(
        samples(&text, "exceptions_total{"),
        [
            "exceptions_total{service=\"app\",type=\"KeyError\"} 1",
            "exceptions_total{service=\"app\",type=\"other\"} 1",
            "exceptions_total{service=\"worker\",type=\"KeyError\"} 1",
        ]
    );
    assert_eq!(
        samples(&text, "log_events_total{"),
        [
            "log_events_total{service=\"app\",stream=\"\",severity=\"ERROR\"} 2",
            "log_events_total{service=\"worker\",stream=\"\",severity=\"ERROR\"} 1",
        ]
    );
}

#[test]
fn parse_errors_count_by_format() {
    let m = Metrics::new(&MetricsSpec::default());
    let mut r = Record {
        format: Format::Json,
        ..Record::default()
    };
    r.flag_parse_error();
    m.events.observe(&r, &mut EventCache::default());
    assert!(m
        .render()
        .contains("log_parse_errors_total{format=\"json\"} 1\n"));
}

#[test]
fn listen_addresses_default_to_loopback() {
    let a = |s: &str| parse_listen(s).map_err(|e| e.to_string());
    let lo: SocketAddr = "127.0.0.1:9145".parse().unwrap();
    assert_eq!(a("9145"), Ok(lo));
    assert_eq!(a(":9145"), Ok(lo));
    assert_eq!(a("0.0.0.0:80"), Ok("0.0.0.0:80".parse().unwrap()));
    assert_eq!(a("[::1]:9145"), Ok("[::1]:9145".parse().unwrap()));
    assert!(a("nope:port").unwrap_err().contains("not an address"));
}

#[test]
fn buckets_must_be_finite_and_increasing() {
    assert_eq!(
        check_buckets(&[]),
        Err("needs at least one bucket bound".into())
    );
    assert_eq!(
        check_buckets(&[0.1, 0.1]),
        Err("bucket bounds must increase: 0.1 is not above 0.1".into())
    );
    assert_eq!(
        check_buckets(&[1.0, f64::INFINITY]),
        Err("bucket bound inf is not a finite number".into())
    );
    assert_eq!(check_buckets(&[0.5, 1.0]), Ok(()));
}

#[test]
fn sinks_report_their_counts_and_a_failing_sink_is_unhealthy() {
    let m = Metrics::new(&MetricsSpec::default());
    let q = Arc::new(crate::sink::Queue::new(1024));
    m.add_sinks(vec![("otlp".into(), Arc::clone(&q))]);
    q.count_written(5);
    q.count_dropped(2);
    let text = m.render();
    assert!(
        text.contains("logmux_sink_events_written_total{sink=\"otlp\"} 5\n"),
        "{text}"
    );
    assert!(text.contains("logmux_sink_events_dropped_total{sink=\"otlp\"} 2\n"));
    assert!(text.contains("logmux_sink_up{sink=\"otlp\"} 1\n"));
    assert!(m.health.answer().0);
    q.set_failing(true);
    assert!(m.render().contains("logmux_sink_up{sink=\"otlp\"} 0\n"));
    assert_eq!(
        m.health.answer(),
        (
            false,
            "{\"status\":\"unhealthy\",\"reasons\":[\"sink otlp is failing\"]}\n".into()
        )
    );
}

#[test]
fn severities_count_by_their_otel_range_and_none_is_info() {
    let m = Metrics::new(&MetricsSpec::default());
    let mut cache = EventCache::default();
    for n in [
        None,
        Some(1),
        Some(4),
        Some(5),
        Some(13),
        Some(17),
        Some(20),
        Some(21),
        Some(24),
    ] {
        let r = Record {
            severity: n.map(Severity::from_number),
            ..Record::default()
        };
        m.events.observe(&r, &mut cache);
    }
    let text = m.render();
    let got: Vec<String> = samples(&text, "log_events_total{");
    assert_eq!(
        got,
        [
            "log_events_total{service=\"\",stream=\"\",severity=\"DEBUG\"} 1",
            "log_events_total{service=\"\",stream=\"\",severity=\"ERROR\"} 2",
            "log_events_total{service=\"\",stream=\"\",severity=\"FATAL\"} 2",
            "log_events_total{service=\"\",stream=\"\",severity=\"INFO\"} 1",
            "log_events_total{service=\"\",stream=\"\",severity=\"TRACE\"} 2",
            "log_events_total{service=\"\",stream=\"\",severity=\"WARN\"} 1",
        ]
    );
}
