//! The keys of a `type = "otlp"` sink, and the standard OpenTelemetry
//! variables that fill in what the table leaves out, as every OTel SDK
//! reads them: a key in the file wins over `OTEL_EXPORTER_OTLP_LOGS_*`,
//! which wins over `OTEL_EXPORTER_OTLP_*`, which wins over the default.
//! A bad value, from the file or a variable, is an error naming the key
//! (and the variable).

use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

mod traces;

use super::RawSink;
use crate::config::error::{ConfigError, Locator};
use crate::config::run::{duration_or, size};
use crate::config::template;
use crate::sink::otlp::{self, OtlpSpec};

/// The keys only an otlp sink has, for the check that other types do not use them.
pub(super) fn otlp_keys(s: &RawSink) -> [(&'static str, Option<usize>); 14] {
    let at = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.span().start);
    [
        ("endpoint", at(&s.endpoint)),
        ("encoding", at(&s.encoding)),
        ("compression", at(&s.compression)),
        ("headers", s.headers.as_ref().map(|v| v.span().start)),
        ("timeout", s.timeout.as_ref().map(|v| v.span().start)),
        ("tls_client_cert", at(&s.tls_client_cert)),
        ("tls_client_key", at(&s.tls_client_key)),
        (
            "batch_max_events",
            s.batch_max_events.as_ref().map(|v| v.span().start),
        ),
        (
            "batch_max_bytes",
            s.batch_max_bytes.as_ref().map(|v| v.span().start),
        ),
        (
            "retry_max_time",
            s.retry_max_time.as_ref().map(|v| v.span().start),
        ),
        (
            "batch_timeout",
            s.batch_timeout.as_ref().map(|v| v.span().start),
        ),
        ("signals", s.signals.as_ref().map(|v| v.span().start)),
        ("traces_endpoint", at(&s.traces_endpoint)),
        (
            "trace_sample_ratio",
            s.trace_sample_ratio.as_ref().map(|v| v.span().start),
        ),
    ]
}

/// The keys of one otlp sink, each error naming `sink.NAME.KEY`.
struct Keys<'a> {
    loc: &'a Locator<'a>,
    name: &'a str,
    start: usize,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// Resolves the otlp keys of sink `name`; `start` is where its table is.
pub(super) fn resolve(
    loc: &Locator<'_>,
    name: &str,
    s: &RawSink,
    start: usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<OtlpSpec, ConfigError> {
    let k = Keys {
        loc,
        name,
        start,
        env,
    };
    if let Some((key, offset)) = [
        ("path", s.path.as_ref().map(|v| v.span().start)),
        ("max_size", s.max_size.as_ref().map(|v| v.span().start)),
        ("output", s.output.map(|_| start)),
        ("keys", s.keys.map(|_| start)),
    ]
    .into_iter()
    .find_map(|(k, o)| o.map(|o| (k, o)))
    {
        return Err(k.invalid(
            offset,
            key,
            "does not apply to an otlp sink (it sends OTLP records)",
        ));
    }
    let mut spec = OtlpSpec::new(k.url(s)?);
    spec.json = k.encoding(s)?;
    spec.gzip = k.compression(s)?;
    spec.headers = k.headers(s)?;
    spec.timeout = match (&s.timeout, k.var("TIMEOUT")) {
        (None, Some((var, v))) => {
            v.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| {
                    k.invalid(
                        start,
                        "timeout",
                        format!("{var}=`{v}`: expected milliseconds"),
                    )
                })?
        }
        (v, _) => duration_or(loc, v, &k.key("timeout"), otlp::DEFAULT_TIMEOUT)?,
    };
    spec.tls_ca = k.path(&s.tls_ca, "tls_ca")?;
    spec.tls_client = k.client_cert(s)?;
    if let Some(v) = &s.batch_max_events {
        spec.batch_max_events = usize::try_from(*v.get_ref())
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| {
                k.invalid(v.span().start, "batch_max_events", "expected 1 to 1000000")
            })?;
    }
    if let Some(v) = &s.batch_max_bytes {
        spec.batch_max_bytes = size(loc, v, &k.key("batch_max_bytes"))?;
    }
    spec.batch_timeout = duration_or(
        loc,
        &s.batch_timeout,
        &k.key("batch_timeout"),
        otlp::DEFAULT_BATCH_TIMEOUT,
    )?;
    spec.retry_max_time = duration_or(
        loc,
        &s.retry_max_time,
        &k.key("retry_max_time"),
        otlp::DEFAULT_RETRY_MAX_TIME,
    )?;
    spec.resource = k.resource()?;
    (spec.logs, spec.traces) = k.signals(s)?;
    Ok(spec)
}

impl Keys<'_> {
    fn key(&self, k: &str) -> String {
        format!("sink.{}.{k}", self.name)
    }

    fn invalid(&self, offset: usize, k: &str, message: impl Into<String>) -> ConfigError {
        self.loc.invalid(offset, &self.key(k), message)
    }

    /// `OTEL_EXPORTER_OTLP_LOGS_<what>`, else `OTEL_EXPORTER_OTLP_<what>`:
    /// the variable's name and its value, if set and not empty.
    fn var(&self, what: &str) -> Option<(String, String)> {
        [
            format!("OTEL_EXPORTER_OTLP_LOGS_{what}"),
            format!("OTEL_EXPORTER_OTLP_{what}"),
        ]
        .into_iter()
        .find_map(|name| {
            (self.env)(&name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (name, v))
        })
    }

    /// A string key with `${VAR}` rendered.
    fn text(&self, v: &Spanned<String>, k: &str) -> Result<String, ConfigError> {
        template::render(v.get_ref(), self.env)
            .map_err(|e| self.loc.template(v.span().start, &self.key(k), e))
    }

    fn url(&self, s: &RawSink) -> Result<String, ConfigError> {
        if let Some(v) = &s.endpoint {
            let text = self.text(v, "endpoint")?;
            return otlp::logs_url(&text, true)
                .map_err(|m| self.invalid(v.span().start, "endpoint", m));
        }
        let (var, text, full) =
            match (self.env)("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT").filter(|v| !v.is_empty()) {
                Some(v) => ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", v, true),
                None => match (self.env)("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.is_empty()) {
                    Some(v) => ("OTEL_EXPORTER_OTLP_ENDPOINT", v, false),
                    None => {
                        return otlp::logs_url(otlp::DEFAULT_ENDPOINT, false)
                            .map_err(|m| self.invalid(self.start, "endpoint", m))
                    }
                },
            };
        let checked = otlp::logs_url(text.trim(), false);
        match checked {
            // The signal-specific variable is a whole URL, used as is.
            Ok(_) if full => Ok(text.trim().to_string()),
            Ok(url) => Ok(url),
            Err(m) => Err(self.invalid(self.start, "endpoint", format!("{var}={m}"))),
        }
    }

    fn encoding(&self, s: &RawSink) -> Result<bool, ConfigError> {
        if let Some(v) = &s.encoding {
            return match v.get_ref().as_str() {
                "protobuf" => Ok(false),
                "json" => Ok(true),
                other => Err(self.invalid(
                    v.span().start,
                    "encoding",
                    format!("`{other}`: expected protobuf or json"),
                )),
            };
        }
        match self.var("PROTOCOL") {
            None => Ok(false),
            Some((_, p)) if p.trim() == "http/protobuf" => Ok(false),
            Some((_, p)) if p.trim() == "http/json" => Ok(true),
            Some((var, p)) => Err(self.invalid(
                self.start,
                "encoding",
                format!("{var}=`{p}`: logmux sends http/protobuf or http/json (not grpc)"),
            )),
        }
    }

    fn compression(&self, s: &RawSink) -> Result<bool, ConfigError> {
        let (text, offset, label) = match (&s.compression, self.var("COMPRESSION")) {
            (Some(v), _) => (v.get_ref().clone(), v.span().start, String::new()),
            (None, Some((var, v))) => (v, self.start, format!("{var}=")),
            (None, None) => return Ok(true),
        };
        match text.trim() {
            "gzip" => Ok(true),
            "none" => Ok(false),
            other => Err(self.invalid(
                offset,
                "compression",
                format!("{label}`{other}`: expected gzip or none"),
            )),
        }
    }

    /// The variable's headers, then the table's (which replace a header of
    /// the same name); values may hold `${VAR}` (a token).
    fn headers(&self, s: &RawSink) -> Result<Vec<(String, String)>, ConfigError> {
        let mut headers = match self.var("HEADERS") {
            Some((var, text)) => otlp::parse_key_values(&text)
                .map_err(|m| self.invalid(self.start, "headers", format!("{var}: {m}")))?,
            None => Vec::new(),
        };
        if let Some(table) = &s.headers {
            for (name, value) in table.get_ref() {
                let at = table.span().start;
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                {
                    return Err(self.invalid(
                        at,
                        "headers",
                        format!("`{name}` is not an HTTP header name"),
                    ));
                }
                let rendered = template::render(value, self.env).map_err(|e| {
                    self.loc
                        .template(at, &self.key(&format!("headers.{name}")), e)
                })?;
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                headers.push((name.clone(), rendered));
            }
        }
        Ok(headers)
    }

    /// A file key (`${VAR}` allowed); the file must exist now, so that
    /// `logmux check` finds a wrong path.
    fn path(&self, v: &Option<Spanned<String>>, k: &str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        let path = PathBuf::from(self.text(v, k)?);
        if let Err(e) = std::fs::metadata(&path) {
            return Err(self.invalid(v.span().start, k, format!("{}: {e}", path.display())));
        }
        Ok(Some(path))
    }

    fn client_cert(&self, s: &RawSink) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
        match (
            self.path(&s.tls_client_cert, "tls_client_cert")?,
            self.path(&s.tls_client_key, "tls_client_key")?,
        ) {
            (Some(c), Some(k)) => Ok(Some((c, k))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(self.invalid(
                self.start,
                "tls_client_key",
                "missing: tls_client_cert needs its key",
            )),
            (None, Some(_)) => Err(self.invalid(
                self.start,
                "tls_client_cert",
                "missing: tls_client_key needs its certificate",
            )),
        }
    }

    /// `OTEL_RESOURCE_ATTRIBUTES`, and `OTEL_SERVICE_NAME` over its
    /// `service.name`: fields for records whose events lack them.
    fn resource(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let mut fields = match (self.env)("OTEL_RESOURCE_ATTRIBUTES") {
            Some(text) => otlp::parse_key_values(&text).map_err(|m| {
                self.invalid(
                    self.start,
                    "resource",
                    format!("OTEL_RESOURCE_ATTRIBUTES: {m}"),
                )
            })?,
            None => Vec::new(),
        };
        if let Some(service) = (self.env)("OTEL_SERVICE_NAME").filter(|v| !v.trim().is_empty()) {
            fields.retain(|(k, _)| k != "service.name");
            fields.push(("service.name".to_string(), service.trim().to_string()));
        }
        Ok(fields)
    }
}
