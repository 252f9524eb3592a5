//! logmux's own diagnostics, as events of the program `logmux`.
//!
//! A small `tracing` layer writes each diagnostic to stderr in the same
//! schema as every other event (`service.name = "logmux"`), so a pipeline
//! reading logmux's output needs no second parser for logmux itself.
//!
//! A person at a terminal reads a sentence better than JSON: when stderr is
//! a terminal (or `--log-format text` asks), what goes to stderr is
//! `logmux: error: cannot open input x.log: … file=x.log` instead. What is
//! routed to `logmux run`'s sinks stays an event.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use logmux_parsers::Severity;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::event::Stamp;
use crate::output::escape_json_str;

/// How diagnostics written to stderr look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Text when stderr is a terminal, JSON events otherwise.
    #[default]
    Auto,
    /// One JSON event per line, in the schema of every other event.
    Json,
    /// `logmux: error: message key=value …`, for a person.
    Text,
}

/// Whether stderr gets text rather than JSON events.
static TEXT: AtomicBool = AtomicBool::new(false);

/// Installs the diagnostics layer; `verbose` adds DEBUG events; `format`
/// chooses text or JSON on stderr.
pub fn init(verbose: bool, format: LogFormat) {
    let text = match format {
        LogFormat::Auto => std::io::stderr().is_terminal(),
        LogFormat::Json => false,
        LogFormat::Text => true,
    };
    TEXT.store(text, Ordering::Relaxed);
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
        let (severity, fields) = render(event);
        match ROUTE.get() {
            Some(route) => match VIEW.get() {
                Some(encoder) => route(encode_view(encoder, severity, &fields)),
                None => {
                    let mut line = Vec::with_capacity(256);
                    encode(&mut line, severity, &fields);
                    route(line)
                }
            },
            None => to_stderr(severity, &fields),
        }
    }
}

type Route = Box<dyn Fn(Vec<u8>) + Send + Sync>;

/// The encoder of a routed sink that is not JSON (a pretty console): the
/// diagnostics look like every other line there.
static VIEW: OnceLock<crate::output::Encoder> = OnceLock::new();

/// Writes every later routed diagnostic with `encoder` (a pretty sink's)
/// instead of as a JSON event.
pub fn route_in_view(encoder: crate::output::Encoder) {
    let _ = VIEW.set(encoder);
}

/// One diagnostic encoded by a sink's own encoder.
fn encode_view(encoder: &crate::output::Encoder, severity: Severity, fields: &Fields) -> Vec<u8> {
    use logmux_parsers::{Field as SchemaField, Format, Record};
    let stamp = Stamp::now();
    let mut record = Record {
        format: Format::Text,
        severity: Some(severity),
        ..Record::default()
    };
    record.push_str(SchemaField::ServiceName, "logmux");
    let raw = format!("{}{}", fields.message, fields.text);
    let event = crate::output::Event {
        record: &record,
        raw: &raw,
        observed: stamp.observed(),
        observed_unix: stamp.observed_unix(),
        origin: &crate::event::Origin::default(),
    };
    let mut out = Vec::with_capacity(160);
    encoder.encode(&event, &mut out);
    out
}

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
    to_stderr(severity, &report_fields(message, fields));
}

/// Writes one diagnostic to stderr, as text or as a JSON event.
fn to_stderr(severity: Severity, fields: &Fields) {
    let mut line = Vec::with_capacity(256);
    if TEXT.load(Ordering::Relaxed) {
        encode_text(&mut line, severity, fields);
    } else {
        encode(&mut line, severity, fields);
    }
    write_stderr(&line);
}

/// The fields of a report.
fn report_fields(message: &str, fields: &[(&str, Detail<'_>)]) -> Fields {
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
    f
}

/// The event [`report_to_stderr`] writes as JSON, as one line.
#[cfg(test)]
fn report_line(severity: Severity, message: &str, fields: &[(&str, Detail<'_>)]) -> Vec<u8> {
    let mut line = Vec::with_capacity(256);
    encode(&mut line, severity, &report_fields(message, fields));
    line
}

/// Diagnostics must never take logmux down: a closed stderr is ignored.
pub fn write_stderr(line: &[u8]) {
    let _ = std::io::stderr().lock().write_all(line);
}

/// One diagnostic's severity and fields.
fn render(event: &Event<'_>) -> (Severity, Fields) {
    let severity = match *event.metadata().level() {
        Level::ERROR => Severity::ERROR,
        Level::WARN => Severity::WARN,
        Level::INFO => Severity::INFO,
        Level::DEBUG => Severity::DEBUG,
        Level::TRACE => Severity::TRACE,
    };
    let mut fields = Fields::default();
    event.record(&mut fields);
    (severity, fields)
}

/// One diagnostic as a line for a person: `logmux: error: message key=value`.
fn encode_text(out: &mut Vec<u8>, severity: Severity, fields: &Fields) {
    out.extend_from_slice(b"logmux: ");
    out.extend_from_slice(severity.text().to_ascii_lowercase().as_bytes());
    out.extend_from_slice(b": ");
    // Control characters (an ESC from a file name) must not drive the terminal.
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    out.extend_from_slice(clean(&fields.message).as_bytes());
    out.extend_from_slice(clean(&fields.text).as_bytes());
    out.push(b'\n');
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
    /// The same as ` key=value` text, values quoted where they hold spaces.
    text: String,
}

impl Fields {
    fn pair(&mut self, name: &str, json: &str) {
        let value = match serde_json::from_str::<String>(json) {
            Ok(decoded) => decoded,
            Err(_) => json.to_string(),
        };
        let _ = if value.is_empty() || value.contains([' ', '"', '=']) {
            write!(self.text, " {name}={value:?}")
        } else {
            write!(self.text, " {name}={value}")
        };
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

    #[test]
    fn text_is_a_sentence_with_its_fields() {
        let f = report_fields(
            "cannot open input a b.log",
            &[
                ("file", Detail::Text("a b.log")),
                ("lost", Detail::Count(2)),
            ],
        );
        let mut line = Vec::new();
        encode_text(&mut line, Severity::ERROR, &f);
        assert_eq!(
            String::from_utf8_lossy(&line),
            "logmux: error: cannot open input a b.log file=\"a b.log\" lost=2\n"
        );
    }
}
