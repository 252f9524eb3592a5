//! logmux's own diagnostics, as events of the program `logmux`.
//!
//! A small `tracing` layer writes each diagnostic to stderr in the same
//! schema as every other event (`service.name = "logmux"`), so a pipeline
//! reading logmux's output needs no second parser for logmux itself.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

use logmux_parsers::Severity;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::event::Stamp;
use crate::output::escape_json_str;

/// Installs the diagnostics layer; `verbose` adds DEBUG events.
pub fn init(verbose: bool) {
    let max = if verbose { Level::DEBUG } else { Level::INFO };
    let layer = JsonDiagnostics { max };
    // A second init (in tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

struct JsonDiagnostics {
    max: Level,
}

impl<S: Subscriber> Layer<S> for JsonDiagnostics {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *metadata.level() <= self.max
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let line = render(event);
        match ROUTE.get() {
            Some(route) => route(line),
            None => write_stderr(&line),
        }
    }
}

type Route = Box<dyn Fn(Vec<u8>) + Send + Sync>;

/// Where diagnostics go once `logmux run` has its sinks; stderr until then.
static ROUTE: OnceLock<Route> = OnceLock::new();

/// Sends every later diagnostic (one encoded JSON line) to `route`.
pub fn route_to(route: impl Fn(Vec<u8>) + Send + Sync + 'static) {
    let _ = ROUTE.set(Box::new(route));
}

/// A field of a report written past `tracing`: counts stay JSON numbers
/// (`"lost":199999`, not `"lost":"199999"`), so a query can add them up.
#[derive(Debug, Clone, Copy)]
pub enum Detail<'a> {
    Text(&'a str),
    Count(u64),
}

/// Writes one logmux event straight to stderr, past `tracing` and the
/// route: for a sink reporting its own failure, or a last word after the
/// sinks have closed.
pub fn report_to_stderr(severity: Severity, message: &str, fields: &[(&str, Detail<'_>)]) {
    write_stderr(&report_line(severity, message, fields));
}

/// The event [`report_to_stderr`] writes, as one JSON line.
fn report_line(severity: Severity, message: &str, fields: &[(&str, Detail<'_>)]) -> Vec<u8> {
    let mut f = Fields {
        message: message.to_string(),
        ..Fields::default()
    };
    for (k, v) in fields {
        match v {
            Detail::Text(text) => {
                let mut json = Vec::new();
                escape_json_str(&mut json, text);
                f.pair(k, &String::from_utf8_lossy(&json));
            }
            Detail::Count(n) => f.pair(k, &n.to_string()),
        }
    }
    let mut line = Vec::with_capacity(256);
    encode(&mut line, severity, &f);
    line
}

/// Diagnostics must never take logmux down: a closed stderr is ignored.
pub fn write_stderr(line: &[u8]) {
    let _ = std::io::stderr().lock().write_all(line);
}

/// One diagnostic as a JSON line.
fn render(event: &Event<'_>) -> Vec<u8> {
    let severity = match *event.metadata().level() {
        Level::ERROR => Severity::ERROR,
        Level::WARN => Severity::WARN,
        Level::INFO => Severity::INFO,
        Level::DEBUG => Severity::DEBUG,
        Level::TRACE => Severity::TRACE,
    };
    let mut fields = Fields::default();
    event.record(&mut fields);
    let mut out = Vec::with_capacity(256);
    encode(&mut out, severity, &fields);
    out
}

fn encode(out: &mut Vec<u8>, severity: Severity, fields: &Fields) {
    let stamp = Stamp::now();
    out.extend_from_slice(b"{\"timestamp\":\"");
    out.extend_from_slice(stamp.observed());
    out.extend_from_slice(b"\",\"observed_timestamp\":\"");
    out.extend_from_slice(stamp.observed());
    out.extend_from_slice(b"\",\"severity_text\":\"");
    out.extend_from_slice(severity.text().as_bytes());
    out.extend_from_slice(b"\",\"severity_number\":");
    out.extend_from_slice(severity.number().to_string().as_bytes());
    out.extend_from_slice(b",\"message\":");
    escape_json_str(out, &fields.message);
    // The diagnostic's own fields sit beside `logmux.format`.
    out.extend_from_slice(b",\"service\":{\"name\":\"logmux\"},\"logmux\":{\"format\":\"text\"");
    if !fields.rest.is_empty() {
        out.push(b',');
        out.extend_from_slice(fields.rest.as_bytes());
    }
    out.extend_from_slice(b"}}\n");
}

#[derive(Default)]
struct Fields {
    message: String,
    /// The other fields, already as `"key":value` JSON pairs.
    rest: String,
}

impl Fields {
    fn pair(&mut self, name: &str, json: &str) {
        if !self.rest.is_empty() {
            self.rest.push(',');
        }
        let mut key = Vec::new();
        escape_json_str(&mut key, name);
        self.rest.push_str(&String::from_utf8_lossy(&key));
        self.rest.push(':');
        self.rest.push_str(json);
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            let mut json = Vec::new();
            escape_json_str(&mut json, &text);
            self.pair(field.name(), &String::from_utf8_lossy(&json));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            let mut json = Vec::new();
            escape_json_str(&mut json, value);
            self.pair(field.name(), &String::from_utf8_lossy(&json));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pair(field.name(), &value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pair(field.name(), &value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pair(field.name(), if value { "true" } else { "false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // A number where JSON can hold it; NaN and infinities as text.
        if value.is_finite() {
            self.pair(field.name(), &value.to_string());
        } else {
            self.record_debug(field, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_are_json_numbers() {
        let line = report_line(
            Severity::ERROR,
            "sink out: 3 events not delivered",
            &[
                ("sink", Detail::Text("out")),
                ("undelivered", Detail::Count(3)),
                ("lost", Detail::Count(199_999)),
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
        assert_eq!(v["logmux"]["lost"], serde_json::json!(199_999));
        assert_eq!(v["logmux"]["undelivered"], serde_json::json!(3));
        assert_eq!(v["logmux"]["sink"], "out");
        assert_eq!(v["message"], "sink out: 3 events not delivered");
    }
}
