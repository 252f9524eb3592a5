//! The metrics derived from events: what every door's pipeline counts.
//!
//! [`EventMetrics::observe`] is called once per finished event (the
//! engine's `emit`, the one place all three doors share). It reads the
//! record's fields in one pass and counts `log_events_total`, parse
//! errors, and for `nginx.access` and `uwsgi.request` events the request
//! counter and the duration and body size histograms; for events with an
//! `exception.type`, `exceptions_total`. The handles of a stream's
//! service are kept in its [`EventCache`], so the common event takes no
//! lock and allocates nothing. Label values from input are bounded:
//! services and exception types by [`Bounded`] sets, routes only when
//! `route_labels` asks for them, each family by a series limit.

use std::sync::Arc;

use logmux_parsers::{Field, Format, Record, Value};

use super::registry::{Bounded, Counter, Family, Histogram, Registry};
use super::MetricsSpec;

/// The HTTP methods that keep their name; any other is `_OTHER`.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];
const OTHER_METHOD: usize = METHODS.len();
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];
const SEVERITIES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const STREAMS: [&str; 3] = ["stdout", "stderr", ""];
/// Distinct services counted apart; the rest are `other`.
pub const MAX_SERVICES: usize = 1_000;
/// Series per family at most (a second bound, behind the label limits).
const MAX_SERIES: usize = 20_000;

/// The event metrics' families and label bounds.
pub struct EventMetrics {
    requests: Arc<Family<Counter>>,
    duration: Arc<Family<Histogram>>,
    body: Arc<Family<Histogram>>,
    exceptions: Arc<Family<Counter>>,
    log_events: Arc<Family<Counter>>,
    parse_errors: Arc<Family<Counter>>,
    services: Bounded,
    types: Bounded,
    /// `route_labels = N`: the first N paths are labels, the rest `other`.
    routes: Option<Bounded>,
}

/// The handles one stream's current service uses, kept by the stream.
#[derive(Default)]
pub struct EventCache {
    /// The service as the events name it, and as counted (maybe `other`).
    key: Option<Box<str>>,
    service: Box<str>,
    log: [[Option<Arc<Counter>>; 6]; 3],
    http: HttpCache,
}

/// The handles of a service's HTTP metrics.
#[derive(Default)]
struct HttpCache {
    requests: [[Option<Arc<Counter>>; 6]; METHODS.len() + 1],
    duration: Option<Arc<Histogram>>,
    body: Option<Arc<Histogram>>,
}

impl std::fmt::Debug for EventMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventMetrics").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EventCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventCache")
            .field("service", &self.key)
            .finish()
    }
}

/// What one pass over a record's fields finds.
#[derive(Default)]
struct Facts<'r> {
    service: Option<&'r str>,
    container: Option<&'r str>,
    stream: usize,
    method: Option<&'r str>,
    status: Option<i64>,
    duration: Option<f64>,
    body: Option<f64>,
    path: Option<&'r str>,
    exception: Option<&'r str>,
    parse_error: bool,
}

impl<'r> Facts<'r> {
    fn of(rec: &'r Record<'_>) -> Facts<'r> {
        let mut f = Facts {
            stream: 2,
            ..Facts::default()
        };
        for (field, value) in &rec.fields {
            match field {
                Field::ServiceName => f.service = value.as_str(),
                Field::ContainerName => f.container = value.as_str(),
                Field::LogIostream => {
                    f.stream = match value.as_str() {
                        Some("stdout") => 0,
                        Some("stderr") => 1,
                        _ => 2,
                    }
                }
                Field::HttpRequestMethod => f.method = value.as_str(),
                Field::HttpResponseStatusCode => f.status = int(value),
                Field::HttpServerRequestDuration => f.duration = number(value),
                Field::HttpResponseBodySize => f.body = number(value),
                Field::UrlPath => f.path = value.as_str(),
                Field::ExceptionType => f.exception = value.as_str(),
                Field::LogmuxParseError => f.parse_error = true,
                _ => {}
            }
        }
        f
    }
}

fn int(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Str(s) => s.parse().ok(),
        _ => None,
    }
}

fn number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

fn method_index(m: &str) -> usize {
    METHODS.iter().position(|k| *k == m).unwrap_or(OTHER_METHOD)
}

fn status_class(status: Option<i64>) -> usize {
    match status {
        Some(s @ 100..=599) => (s / 100 - 1) as usize,
        _ => 5,
    }
}

/// The OTel range of the severity (as `Severity::text` names it): 1–4
/// TRACE, 5–8 DEBUG, … 21–24 FATAL; none is INFO, as the output says.
fn severity_index(rec: &Record<'_>) -> usize {
    let n = rec.severity.map_or(9, |s| s.number());
    (usize::from(n.saturating_sub(1)) / 4).min(5)
}

impl EventMetrics {
    /// Registers the event families in `registry`.
    pub fn register(registry: &Registry, spec: &MetricsSpec) -> EventMetrics {
        let labels: &[&str] = if spec.route_labels > 0 {
            &["service", "method", "status_class", "route"]
        } else {
            &["service", "method", "status_class"]
        };
        let dur: Arc<[f64]> = spec.duration_buckets.clone().into();
        let size: Arc<[f64]> = spec.size_buckets.clone().into();
        EventMetrics {
            requests: registry.register(Family::new(
                "http_server_requests_total",
                "HTTP requests, from nginx.access and uwsgi.request events.",
                labels,
                (),
                MAX_SERIES,
            )),
            duration: registry.register(Family::new(
                "http_server_request_duration_seconds",
                "HTTP request durations, from the events that carry one.",
                &["service"],
                dur,
                MAX_SERIES,
            )),
            body: registry.register(Family::new(
                "http_server_response_body_size_bytes",
                "HTTP response body sizes.",
                &["service"],
                size,
                MAX_SERIES,
            )),
            exceptions: registry.register(Family::new(
                "exceptions_total",
                "Exceptions (Python tracebacks and events with exception.type).",
                &["service", "type"],
                (),
                MAX_SERIES,
            )),
            log_events: registry.register(Family::new(
                "log_events_total",
                "Events, by service, stream and severity range.",
                &["service", "stream", "severity"],
                (),
                MAX_SERIES,
            )),
            parse_errors: registry.register(Family::new(
                "log_parse_errors_total",
                "Events that did not parse as their format.",
                &["format"],
                (),
                64,
            )),
            services: Bounded::new(MAX_SERVICES),
            types: Bounded::new(spec.max_exception_types),
            routes: (spec.route_labels > 0).then(|| Bounded::new(spec.route_labels)),
        }
    }

    /// Counts one finished event.
    pub fn observe(&self, rec: &Record<'_>, cache: &mut EventCache) {
        let f = Facts::of(rec);
        let service = f.service.or(f.container).unwrap_or("");
        if cache.key.as_deref() != Some(service) {
            *cache = EventCache {
                key: Some(service.into()),
                service: self.services.admit(service).into(),
                ..EventCache::default()
            };
        }
        let svc = &*cache.service;
        let sev = severity_index(rec);
        cache.log[f.stream][sev]
            .get_or_insert_with(|| {
                self.log_events
                    .with(&[svc, STREAMS[f.stream], SEVERITIES[sev]])
            })
            .inc();
        if f.parse_error {
            self.parse_errors.with(&[rec.format.name()]).inc();
        }
        if let Some(ty) = f.exception {
            self.exceptions.with(&[svc, self.types.admit(ty)]).inc();
        }
        if matches!(rec.format, Format::NginxAccess | Format::UwsgiRequest) {
            self.request(&f, svc, &mut cache.http);
        }
    }

    fn request(&self, f: &Facts<'_>, svc: &str, cache: &mut HttpCache) {
        let m = f.method.map_or(OTHER_METHOD, method_index);
        let c = status_class(f.status);
        let method = METHODS.get(m).copied().unwrap_or("_OTHER");
        match &self.routes {
            Some(routes) => {
                let route = routes.admit(f.path.unwrap_or(""));
                self.requests
                    .with(&[svc, method, STATUS_CLASSES[c], route])
                    .inc();
            }
            None => cache.requests[m][c]
                .get_or_insert_with(|| self.requests.with(&[svc, method, STATUS_CLASSES[c]]))
                .inc(),
        }
        if let Some(d) = f.duration {
            cache
                .duration
                .get_or_insert_with(|| self.duration.with(&[svc]))
                .observe(d);
        }
        if let Some(b) = f.body {
            cache
                .body
                .get_or_insert_with(|| self.body.with(&[svc]))
                .observe(b);
        }
    }
}
