//! `[sink.NAME]` tables: the built-in sinks (stdout, stderr, null, syslog)
//! and the ones a config defines, resolved into the settings types of the
//! sink layer ([`crate::sink::spec`]). Every door's config reads its sinks
//! here, so a sink means the same in `run`, `filter` and `listen`.

mod buffer;
mod otlp;
mod syslog;

use std::path::PathBuf;
use std::str::FromStr;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::run::{size, DurationValue, SizeValue};
use super::template;
use crate::output::{KeyStyle, OutputFormat};
use crate::sink::spec::{BufferSpec, OnFull, SinkKind, SinkSpec};

/// One `[sink.NAME]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// `VAR` or `!VAR`: the sink is opened only when it holds; otherwise it
    /// is a `null` sink (nothing opened, copies to it skipped).
    pub when: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    /// Rotate a file sink when it would grow past this size.
    pub max_size: Option<Spanned<SizeValue>>,
    /// Rotated files kept (`app.log.1` … `app.log.N`).
    pub max_files: Option<u32>,
    pub output: Option<OutputFormat>,
    pub keys: Option<KeyStyle>,
    /// block (lossless; children wait) or drop (counted).
    pub on_full: Option<Spanned<String>>,
    /// Bytes of encoded events the sink may hold before `on_full` applies.
    pub queue: Option<Spanned<SizeValue>>,
    /// Syslog: `unix:///dev/log`, `udp://host:port`, `tcp://…`, `tls://…`.
    pub address: Option<Spanned<String>>,
    /// Syslog: `rfc3164` or `rfc5424`.
    pub format: Option<Spanned<String>>,
    /// Syslog over TCP: `octet-counting` or `lf`.
    pub framing: Option<Spanned<String>>,
    /// Syslog: `user`, `daemon`, `local0` …
    pub facility: Option<Spanned<String>>,
    /// Syslog: the message is the original `line` or the `json` event.
    pub message: Option<Spanned<String>>,
    /// Syslog: HOSTNAME in the header (default: the machine's).
    pub hostname: Option<Spanned<String>>,
    /// Syslog over TLS: PEM file of the CAs to trust (default: the system's).
    pub tls_ca: Option<Spanned<String>>,
    /// Syslog over TLS: the name the server's certificate must carry.
    pub tls_server_name: Option<Spanned<String>>,
    /// OTLP: `http://host:4318` (gets `/v1/logs`) or a full URL.
    pub endpoint: Option<Spanned<String>>,
    /// OTLP: `protobuf` or `json`.
    pub encoding: Option<Spanned<String>>,
    /// OTLP: `gzip` or `none`.
    pub compression: Option<Spanned<String>>,
    /// OTLP: extra HTTP headers (`${VAR}` allowed in values).
    pub headers: Option<Spanned<IndexMap<String, String>>>,
    /// OTLP: how long one request may take.
    pub timeout: Option<Spanned<DurationValue>>,
    /// OTLP over https: a client certificate chain and its key (PEM).
    pub tls_client_cert: Option<Spanned<String>>,
    pub tls_client_key: Option<Spanned<String>>,
    /// OTLP: at most this many records, and about this many bytes, per request.
    pub batch_max_events: Option<Spanned<u64>>,
    pub batch_max_bytes: Option<Spanned<SizeValue>>,
    /// OTLP: how long a partial batch may wait for more events.
    pub batch_timeout: Option<Spanned<DurationValue>>,
    /// OTLP: how long a failing batch is retried before it is counted lost.
    pub retry_max_time: Option<Spanned<DurationValue>>,
    /// OTLP: `["logs"]` (default), `["logs", "traces"]` or `["traces"]`.
    pub signals: Option<Spanned<Vec<String>>>,
    /// OTLP with traces: the full URL spans go to (default: the
    /// endpoint's base with `/v1/traces`).
    pub traces_endpoint: Option<Spanned<String>>,
    /// OTLP with traces: the share of traces kept, 0 to 1 (errors always).
    pub trace_sample_ratio: Option<Spanned<f64>>,
    /// Network sinks: `{ type = "disk", path, max_size, when_full, sync }`.
    pub buffer: Option<buffer::RawBuffer>,
}

/// The sinks every config has (stdout, stderr, null, and syslog to the
/// local daemon), then each `[sink.NAME]` table, which may replace one.
pub fn resolve(
    loc: &Locator<'_>,
    raw: &IndexMap<String, RawSink>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<SinkSpec>, ConfigError> {
    let builtin = |name: &str, kind: SinkKind| SinkSpec {
        name: name.to_string(),
        kind,
        output: OutputFormat::Json,
        keys: KeyStyle::Nested,
        on_full: OnFull::Block,
        queue_bytes: DEFAULT_QUEUE,
        buffer: Default::default(),
    };
    let default_syslog = syslog::resolve(loc, "syslog", &RawSink::default(), 0, env)?;
    let mut sinks = vec![
        builtin("stdout", SinkKind::Stdout),
        builtin("stderr", SinkKind::Stderr),
        builtin("null", SinkKind::Null),
        builtin("syslog", SinkKind::Syslog(default_syslog)),
    ];
    for (name, s) in raw {
        let spec = resolve_one(loc, name, s, env)?;
        match sinks.iter_mut().find(|k| k.name == *name) {
            Some(existing) => *existing = spec,
            None => sinks.push(spec),
        }
    }
    Ok(sinks)
}

/// One `[sink.NAME]` table.
fn resolve_one(
    loc: &Locator<'_>,
    name: &str,
    s: &RawSink,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SinkSpec, ConfigError> {
    let key = |k: &str| format!("sink.{name}.{k}");
    if let Some(w) = &s.when {
        if !crate::config::template::valid_condition(w.get_ref()) {
            return Err(loc.invalid(
                w.span().start,
                &key("when"),
                format!("`{}` is not a condition: use VAR or !VAR", w.get_ref()),
            ));
        }
        if !crate::config::template::condition_holds(w.get_ref(), env) {
            // Its keys are not read: they may name the variables that are unset.
            return Ok(SinkSpec {
                name: name.to_string(),
                kind: SinkKind::Null,
                output: OutputFormat::Json,
                keys: KeyStyle::Nested,
                on_full: OnFull::Block,
                queue_bytes: DEFAULT_QUEUE,
                buffer: BufferSpec::Memory,
            });
        }
    }
    let kind = kind(loc, name, s, env)?;
    let on_full = match &s.on_full {
        None => OnFull::Block,
        Some(v) => loc.word(v, &key("on_full"))?,
    };
    let queue_bytes = match &s.queue {
        Some(v) => size(loc, v, &key("queue"))?,
        None => DEFAULT_QUEUE,
    };
    let buffer = match &s.buffer {
        Some(b) => buffer::resolve(loc, name, &kind, b, env)?,
        None => BufferSpec::Memory,
    };
    Ok(SinkSpec {
        name: name.to_string(),
        kind,
        output: s.output.unwrap_or(OutputFormat::Json),
        keys: s.keys.unwrap_or_default(),
        on_full,
        queue_bytes,
        buffer,
    })
}

/// The sink's `type` (named after the sink for the built-in names) and the
/// keys of that type; a syslog key on another type is an error.
fn kind(
    loc: &Locator<'_>,
    name: &str,
    s: &RawSink,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SinkKind, ConfigError> {
    let key = |k: &str| format!("sink.{name}.{k}");
    let start = loc.table_offset("sink", name);
    let kind_name = match &s.kind {
        Some(k) => k.get_ref().as_str(),
        None if ["stdout", "stderr", "null", "syslog"].contains(&name) => name,
        None => {
            return Err(loc.invalid(
                start,
                &key("type"),
                "missing: stdout, stderr, file, syslog, otlp or null",
            ))
        }
    };
    let kind_offset = s.kind.as_ref().map_or(start, |k| k.span().start);
    if kind_name != "syslog" {
        let used = syslog::syslog_keys(s)
            .into_iter()
            // An https OTLP endpoint has a CA file too.
            .filter(|(k, _)| !(kind_name == "otlp" && *k == "tls_ca"))
            .find_map(|(k, offset)| offset.map(|o| (k, o)));
        if let Some((k, offset)) = used {
            return Err(loc.invalid(
                offset,
                &key(k),
                format!("applies to type = \"syslog\" only, not to a {kind_name} sink"),
            ));
        }
    }
    if kind_name != "otlp" {
        let used = otlp::otlp_keys(s)
            .into_iter()
            .find_map(|(k, offset)| offset.map(|o| (k, o)));
        if let Some((k, offset)) = used {
            return Err(loc.invalid(
                offset,
                &key(k),
                format!("applies to type = \"otlp\" only, not to a {kind_name} sink"),
            ));
        }
    }
    Ok(match kind_name {
        "stdout" => SinkKind::Stdout,
        "stderr" => SinkKind::Stderr,
        "null" => SinkKind::Null,
        "file" => file(loc, name, s, kind_offset, env)?,
        "syslog" => SinkKind::Syslog(syslog::resolve(loc, name, s, start, env)?),
        "otlp" => SinkKind::Otlp(otlp::resolve(loc, name, s, start, env)?),
        other => {
            return Err(loc.invalid(
                kind_offset,
                &key("type"),
                format!("`{other}`: expected stdout, stderr, file, syslog, otlp or null"),
            ))
        }
    })
}

/// A file sink: its path (`${VAR}` allowed) and rotation.
fn file(
    loc: &Locator<'_>,
    name: &str,
    s: &RawSink,
    kind_offset: usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SinkKind, ConfigError> {
    let key = |k: &str| format!("sink.{name}.{k}");
    let path = s.path.as_ref().ok_or_else(|| {
        loc.invalid(
            kind_offset,
            &key("path"),
            "missing: a file sink needs a path",
        )
    })?;
    let rendered = template::render(path.get_ref(), env)
        .map_err(|e| loc.template(path.span().start, &key("path"), e))?;
    Ok(SinkKind::File {
        path: PathBuf::from(rendered),
        max_size: match &s.max_size {
            Some(v) => Some(size(loc, v, &key("max_size"))? as u64),
            None => None,
        },
        max_files: s.max_files.unwrap_or(5),
    })
}

/// The config's words for [`OnFull`]: the sink layer's type, spelled here
/// so that the sink layer knows no config text.
impl FromStr for OnFull {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "block" => Ok(OnFull::Block),
            "drop" => Ok(OnFull::Drop),
            other => Err(format!("`{other}`: expected block or drop")),
        }
    }
}

/// Encoded bytes a sink may hold before `on_full` applies.
pub const DEFAULT_QUEUE: usize = 4 << 20;
