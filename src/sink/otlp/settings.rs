//! A resolved OTLP sink: where it posts, how it encodes and compresses,
//! its headers and TLS files, how it batches and how long it retries.
//! The config layer builds it (from `[sink.NAME]` keys and the standard
//! `OTEL_EXPORTER_OTLP_*` variables); the sink never reads config text.

use std::path::PathBuf;
use std::time::Duration;

/// The OTLP/HTTP port, and the logs path the spec appends to a base endpoint.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
pub const LOGS_PATH: &str = "/v1/logs";
pub const TRACES_PATH: &str = "/v1/traces";

/// How long one request may take (the OTel SDKs' default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many records in one request.
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 8192;
/// At most about this many encoded (uncompressed) bytes in one request.
pub const DEFAULT_BATCH_MAX_BYTES: usize = 4 << 20;
/// How long a partial batch may wait for more events before it is sent:
/// long enough to fill requests at a moderate rate, short enough that an
/// event is at the receiver well within a second.
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a batch is retried (503, 429, connection refused …) before its
/// events are counted lost.
pub const DEFAULT_RETRY_MAX_TIME: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSpec {
    /// The full URL posted to (`…/v1/logs`).
    pub url: String,
    /// OTLP/JSON (`http/json`) instead of protobuf.
    pub json: bool,
    pub gzip: bool,
    /// Extra request headers (an API token), already rendered.
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// PEM file of the CAs to trust for https; `None`: the system's store.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate chain and its key (PEM), for mutual TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    /// How long a partial batch may wait for more; zero: it leaves as soon
    /// as the sink's queue is empty.
    pub batch_timeout: Duration,
    pub retry_max_time: Duration,
    /// Resource fields every record gets unless the event has its own.
    pub resource: Vec<(String, String)>,
    /// What this sink's requests carry: log records (the sink the events
    /// are routed to) or spans (its twin the span builder feeds).
    pub signal: Signal,
    /// `signals` holds `logs`: events routed here are sent.
    pub logs: bool,
    /// `signals` holds `traces`: where spans go and which are kept.
    pub traces: Option<TracesSpec>,
}

/// The two OTLP signals logmux sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signal {
    #[default]
    Logs,
    Traces,
}

/// The traces part of an OTLP sink (`signals = ["logs", "traces"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracesSpec {
    /// The full URL spans are posted to (`…/v1/traces`).
    pub url: String,
    /// `trace_sample_ratio` as a bound on the trace id's low 64 bits
    /// (see [`crate::trace::sample`]); `None`: every trace is kept.
    pub sample_below: Option<u64>,
}

impl OtlpSpec {
    /// The defaults, posting to `url`.
    pub fn new(url: String) -> OtlpSpec {
        OtlpSpec {
            url,
            json: false,
            gzip: true,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tls_ca: None,
            tls_client: None,
            batch_max_events: DEFAULT_BATCH_MAX_EVENTS,
            batch_max_bytes: DEFAULT_BATCH_MAX_BYTES,
            batch_timeout: DEFAULT_BATCH_TIMEOUT,
            retry_max_time: DEFAULT_RETRY_MAX_TIME,
            resource: Vec::new(),
            signal: Signal::Logs,
            logs: true,
            traces: None,
        }
    }

    /// The spec of the twin sink that posts this sink's spans, if it has
    /// the traces signal: same transport settings, the traces URL.
    pub fn for_traces(&self) -> Option<OtlpSpec> {
        let traces = self.traces.as_ref()?;
        Some(OtlpSpec {
            url: traces.url.clone(),
            signal: Signal::Traces,
            logs: false,
            ..self.clone()
        })
    }
}

/// The URL to post to: a base endpoint (`http://host:4318`, the form of
/// `endpoint` and `OTEL_EXPORTER_OTLP_ENDPOINT`) gets `/v1/logs`
/// appended; `full` (the form of `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`) is
/// used as is. Only http and https are accepted.
pub fn logs_url(endpoint: &str, full: bool) -> Result<String, String> {
    signal_url(endpoint, full, LOGS_PATH)
}

/// As [`logs_url`], for the signal whose path is `signal_path`.
pub fn signal_url(endpoint: &str, full: bool, signal_path: &str) -> Result<String, String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or_else(|| format!("`{endpoint}`: expected an http:// or https:// URL"))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("`{endpoint}`: no host name"));
    }
    let path = rest.get(host.len()..).unwrap_or("");
    let has_path = !path.trim_end_matches('/').is_empty();
    if full && has_path {
        return Ok(endpoint.to_string());
    }
    Ok(format!("{}{signal_path}", endpoint.trim_end_matches('/')))
}

/// `key1=value1,key2=value2` (the form of `OTEL_EXPORTER_OTLP_HEADERS` and
/// `OTEL_RESOURCE_ATTRIBUTES`), values percent-decoded as the spec says.
pub fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("`{item}`: expected key=value"))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("`{item}`: the key is empty"));
        }
        pairs.push((k.to_string(), percent_decode(v.trim())?));
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("`{text}`: a % is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{text}`: not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_endpoint_gets_the_logs_path_and_a_full_one_is_kept() {
        assert_eq!(
            logs_url("http://collector:4318", false).unwrap(),
            "http://collector:4318/v1/logs"
        );
        assert_eq!(
            logs_url("http://collector:4318/", false).unwrap(),
            "http://collector:4318/v1/logs"
        );
        assert_eq!(
            logs_url("https://in.example/otlp", false).unwrap(),
            "https://in.example/otlp/v1/logs"
        );
        assert_eq!(
            logs_url("https://in.example/custom/logs", true).unwrap(),
            "https://in.example/custom/logs"
        );
        assert_eq!(
            logs_url("http://c:4318", true).unwrap(),
            "http://c:4318/v1/logs"
        );
        assert!(logs_url("collector:4318", false).is_err());
        assert!(logs_url("http://:4318", false).is_err());
    }

    #[test]
    fn key_values_are_split_trimmed_and_percent_decoded() {
        assert_eq!(
            parse_key_values("api-key=s%3Dcret, x = 1 ,").unwrap(),
            vec![
                ("api-key".to_string(), "s=cret".to_string()),
                ("x".to_string(), "1".to_string())
            ]
        );
        assert!(parse_key_values("novalue").is_err());
        assert!(parse_key_values("=v").is_err());
        assert!(parse_key_values("k=%zz").is_err());
    }
}
