//! One POST of an export request and what its answer means, as the OTLP/HTTP
//! spec says: 2xx is delivered (perhaps with `partial_success` rejections);
//! 429, 502, 503, 504 and connection errors may be retried (after
//! `Retry-After` when the receiver gives it); any other answer is final.
//!
//! ureq: a small blocking HTTP/1.1 client (the sink has a thread of its
//! own, so no async runtime is needed), on the rustls/ring already used
//! by the syslog sink.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use rustls::ClientConfig;

use super::messages::ExportLogsServiceResponse;
use super::OtlpSpec;

/// What became of one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; `rejected` records were refused (partial success).
    Delivered { rejected: u64, message: String },
    /// May succeed later: after `after` if the receiver said so.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Will not succeed if sent again (400, 401, 413 …).
    Refused { why: String },
}

/// The HTTP side of an OTLP sink.
pub struct Transport {
    agent: ureq::Agent,
    url: String,
    content_type: &'static str,
    gzip: bool,
    json: bool,
    headers: Vec<(String, String)>,
}

impl Transport {
    pub fn new(spec: &OtlpSpec) -> io::Result<Transport> {
        let mut builder = ureq::AgentBuilder::new()
            .timeout(spec.timeout)
            .user_agent(concat!("logmux/", env!("CARGO_PKG_VERSION")));
        if spec.url.starts_with("https://") {
            builder = builder.tls_config(tls_config(spec)?);
        }
        Ok(Transport {
            agent: builder.build(),
            url: spec.url.clone(),
            content_type: if spec.json {
                "application/json"
            } else {
                "application/x-protobuf"
            },
            gzip: spec.gzip,
            json: spec.json,
            headers: spec.headers.clone(),
        })
    }

    /// Posts `body` (already compressed if the sink compresses).
    pub fn post(&self, body: &[u8]) -> Outcome {
        let mut request = self
            .agent
            .post(&self.url)
            .set("Content-Type", self.content_type);
        if self.gzip {
            request = request.set("Content-Encoding", "gzip");
        }
        for (k, v) in &self.headers {
            request = request.set(k, v);
        }
        match request.send_bytes(body) {
            Ok(response) => self.delivered(response),
            Err(ureq::Error::Status(code, response)) => status_outcome(code, response),
            Err(ureq::Error::Transport(t)) => Outcome::Retry {
                after: None,
                why: t.to_string(),
            },
        }
    }

    /// Reads `partial_success` from a 2xx answer.
    fn delivered(&self, response: ureq::Response) -> Outcome {
        let body = read_body(response);
        let (rejected, message) = if self.json {
            json_partial_success(&body)
        } else {
            match ExportLogsServiceResponse::decode(body.as_slice()) {
                Ok(r) => r.partial_success.map_or((0, String::new()), |p| {
                    (
                        u64::try_from(p.rejected_log_records).unwrap_or(0),
                        p.error_message,
                    )
                }),
                Err(_) => (0, String::new()),
            }
        };
        Outcome::Delivered { rejected, message }
    }
}

fn status_outcome(code: u16, response: ureq::Response) -> Outcome {
    let after = response
        .header("Retry-After")
        .and_then(|v| super::retry_after::parse(v, std::time::SystemTime::now()));
    let text = String::from_utf8_lossy(&read_body(response)).into_owned();
    let why = format!("HTTP {code} {}", text.chars().take(200).collect::<String>())
        .trim_end()
        .to_string();
    match code {
        429 | 502 | 503 | 504 => Outcome::Retry { after, why },
        _ => Outcome::Refused { why },
    }
}

/// A response body, up to 64 KiB (an answer is small; a proxy's error page
/// need not be read whole).
fn read_body(response: ureq::Response) -> Vec<u8> {
    let mut body = Vec::new();
    let _ = response.into_reader().take(64 << 10).read_to_end(&mut body);
    body
}

/// `{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"…"}}`
/// (`rejectedSpans` in a traces answer)
/// (the count is an int64: a string in OTLP/JSON, a number from some receivers).
fn json_partial_success(body: &[u8]) -> (u64, String) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (0, String::new());
    };
    let p = &v["partialSuccess"];
    let count = match &p["rejectedLogRecords"] {
        serde_json::Value::Null => &p["rejectedSpans"],
        n => n,
    };
    let rejected = match count {
        serde_json::Value::String(s) => s.parse().unwrap_or(0),
        n => n.as_u64().unwrap_or(0),
    };
    let message = p["errorMessage"].as_str().unwrap_or("").to_string();
    (rejected, message)
}

/// The rustls client setup: the CAs of `tls_ca` or the system's store, and
/// the client certificate when one is given.
fn tls_config(spec: &OtlpSpec) -> io::Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match &spec.tls_ca {
        Some(path) => {
            let certs = crate::sink::syslog::read_ca_file(path).map_err(io::Error::other)?;
            roots.add_parsable_certificates(certs);
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err(io::Error::other(
            "no usable CA certificate: install ca-certificates or set tls_ca",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots);
    let config = match &spec.tls_client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                crate::sink::syslog::read_ca_file(cert).map_err(io::Error::other)?,
                read_key(key)?,
            )
            .map_err(|e| io::Error::other(format!("{}: {e}", key.display())))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn read_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| io::Error::other(format!("{}: no PEM private key: {e:?}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_partial_success_takes_the_count_as_string_or_number() {
        let s = br#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"too old"}}"#;
        assert_eq!(json_partial_success(s), (3, "too old".to_string()));
        let n = br#"{"partialSuccess":{"rejectedLogRecords":2}}"#;
        assert_eq!(json_partial_success(n), (2, String::new()));
        assert_eq!(json_partial_success(b"{}"), (0, String::new()));
    }
}
