//! Where `logmux top` gets its metrics: the control socket of a running
//! `logmux run` (request `metrics`) or an HTTP metrics endpoint.
//!
//! Both answer the Prometheus text format. The socket may instead answer
//! with logmux's JSON error (metrics are off, or a logmux too old to have
//! them): that is [`FetchError::MetricsOff`], with logmux's own words.

use std::path::PathBuf;
use std::time::Duration;

use crate::run::control::{self, ClientError};

/// Where the metrics come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `logmux run` control socket.
    Socket(PathBuf),
    /// A metrics endpoint, `http://127.0.0.1:9145/metrics`.
    Url(String),
}

impl Source {
    /// The socket path or the URL, for the header and messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Socket(path) => path.display().to_string(),
            Source::Url(url) => url.clone(),
        }
    }
}

/// Why one fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Nothing answers there, or not in time.
    #[error("{0}")]
    Unreachable(String),
    /// logmux answers but has no metrics to give.
    #[error("logmux at {path} sends no metrics: {message} (turn them on with `[metrics] listen = \"127.0.0.1:9145\"` in its config or `logmux run --metrics-listen ADDR`)")]
    MetricsOff { path: String, message: String },
    /// The answer is not the Prometheus text format.
    #[error("{source_name}: {message}")]
    NotMetrics {
        source_name: String,
        message: String,
    },
}

/// One exposition text from `source`, within `timeout`.
pub fn fetch(source: &Source, timeout: Duration) -> Result<String, FetchError> {
    match source {
        Source::Socket(path) => from_socket(path, timeout),
        Source::Url(url) => from_url(url, timeout),
    }
}

fn from_socket(path: &std::path::Path, timeout: Duration) -> Result<String, FetchError> {
    let answer = control::request_raw(path, "metrics", timeout).map_err(|e| match e {
        ClientError::Refused(message) => FetchError::MetricsOff {
            path: path.display().to_string(),
            message,
        },
        other => FetchError::Unreachable(other.to_string()),
    })?;
    if !answer.trim_start().starts_with('{') {
        return Ok(answer);
    }
    // A JSON answer: an error (`{"ok":false,"message":…}`), or the text
    // wrapped in a string field.
    let not_metrics = |message: String| FetchError::NotMetrics {
        source_name: path.display().to_string(),
        message,
    };
    let value: serde_json::Value = serde_json::from_str(answer.trim()).map_err(|e| {
        not_metrics(format!(
            "logmux sent a JSON answer that does not parse: {e}"
        ))
    })?;
    if !value["ok"].as_bool().unwrap_or(false) {
        return Err(FetchError::MetricsOff {
            path: path.display().to_string(),
            message: value["message"].as_str().unwrap_or("refused").to_string(),
        });
    }
    ["metrics", "text", "message"]
        .iter()
        .find_map(|key| value[key].as_str())
        .map(str::to_string)
        .ok_or_else(|| not_metrics("logmux's answer holds no metrics text".to_string()))
}

fn from_url(url: &str, timeout: Duration) -> Result<String, FetchError> {
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    match agent.get(url).call() {
        Ok(response) => response
            .into_string()
            .map_err(|e| FetchError::Unreachable(format!("reading {url}: {e}"))),
        Err(ureq::Error::Status(code, response)) => Err(FetchError::NotMetrics {
            source_name: url.to_string(),
            message: format!("HTTP {code} {}", response.status_text()),
        }),
        Err(e) => Err(FetchError::Unreachable(format!("cannot fetch {url}: {e}"))),
    }
}
