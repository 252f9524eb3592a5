//! `[sink.NAME]` tables: the built-in sinks (stdout, stderr, null, syslog)
//! and the ones a config defines, resolved into the settings types of the
//! sink layer ([`crate::sink::spec`]). Every door's config reads its sinks
//! here, so a sink means the same in `run`, `filter` and `listen`.

mod syslog;

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::run::{size, table_offset, Locator, RunConfigError, SizeValue};
use super::template;
use crate::output::{KeyStyle, OutputFormat};
use crate::sink::spec::{OnFull, SinkKind, SinkSpec};

/// One `[sink.NAME]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
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
}

pub fn resolve(
    loc: &Locator<'_>,
    raw: &IndexMap<String, RawSink>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<SinkSpec>, RunConfigError> {
    let builtin = |name: &str, kind: SinkKind| SinkSpec {
        name: name.to_string(),
        kind,
        output: OutputFormat::Json,
        keys: KeyStyle::Nested,
        on_full: OnFull::Block,
        queue_bytes: DEFAULT_QUEUE,
    };
    let default_syslog = syslog::resolve(loc, "syslog", &RawSink::default(), 0, env)?;
    let mut sinks = vec![
        builtin("stdout", SinkKind::Stdout),
        builtin("stderr", SinkKind::Stderr),
        builtin("null", SinkKind::Null),
        builtin("syslog", SinkKind::Syslog(default_syslog)),
    ];
    for (name, s) in raw {
        let key = |k: &str| format!("sink.{name}.{k}");
        let start = table_offset(loc.text, "sink", name);
        let kind_name = match &s.kind {
            Some(k) => k.get_ref().clone(),
            None if ["stdout", "stderr", "null", "syslog"].contains(&name.as_str()) => name.clone(),
            None => {
                return Err(loc.invalid(
                    start,
                    &key("type"),
                    "missing: stdout, stderr, file, syslog or null",
                ))
            }
        };
        let kind_offset = s.kind.as_ref().map_or(start, |k| k.span().start);
        if kind_name != "syslog" {
            let used = syslog::syslog_keys(s)
                .into_iter()
                .find_map(|(k, offset)| offset.map(|o| (k, o)));
            if let Some((k, offset)) = used {
                return Err(loc.invalid(
                    offset,
                    &key(k),
                    format!("applies to type = \"syslog\" only, not to a {kind_name} sink"),
                ));
            }
        }
        let kind = match kind_name.as_str() {
            "stdout" => SinkKind::Stdout,
            "stderr" => SinkKind::Stderr,
            "null" => SinkKind::Null,
            "file" => {
                let path = s.path.as_ref().ok_or_else(|| {
                    loc.invalid(
                        kind_offset,
                        &key("path"),
                        "missing: a file sink needs a path",
                    )
                })?;
                let rendered = template::render(path.get_ref(), env)
                    .map_err(|e| loc.template(path.span().start, &key("path"), e))?;
                SinkKind::File {
                    path: PathBuf::from(rendered),
                    max_size: match &s.max_size {
                        Some(v) => Some(size(loc, v, &key("max_size"))? as u64),
                        None => None,
                    },
                    max_files: s.max_files.unwrap_or(5),
                }
            }
            "syslog" => SinkKind::Syslog(syslog::resolve(loc, name, s, start, env)?),
            other => {
                return Err(loc.invalid(
                    kind_offset,
                    &key("type"),
                    format!("`{other}`: expected stdout, stderr, file, syslog or null"),
                ))
            }
        };
        let on_full = match &s.on_full {
            None => OnFull::Block,
            Some(v) => match v.get_ref().as_str() {
                "block" => OnFull::Block,
                "drop" => OnFull::Drop,
                other => {
                    return Err(loc.invalid(
                        v.span().start,
                        &key("on_full"),
                        format!("`{other}`: expected block or drop"),
                    ))
                }
            },
        };
        let queue_bytes = match &s.queue {
            Some(v) => size(loc, v, &key("queue"))?,
            None => DEFAULT_QUEUE,
        };
        let spec = SinkSpec {
            name: name.clone(),
            kind,
            output: s.output.unwrap_or(OutputFormat::Json),
            keys: s.keys.unwrap_or_default(),
            on_full,
            queue_bytes,
        };
        match sinks.iter_mut().find(|k| k.name == *name) {
            Some(existing) => *existing = spec,
            None => sinks.push(spec),
        }
    }
    Ok(sinks)
}

/// Encoded bytes a sink may hold before `on_full` applies.
pub const DEFAULT_QUEUE: usize = 4 << 20;
