//! The `buffer` key of a network sink: `{ type = "memory" }` (the default)
//! or `{ type = "disk", path, max_size, when_full, sync }`, resolved into
//! [`BufferSpec`]. Each bad value is an error naming `sink.NAME.buffer.KEY`.

use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use crate::config::error::{ConfigError, Locator};
use crate::config::run::{size, SizeValue};
use crate::config::template;
use crate::sink::spec::{BufferSpec, DiskSpec, SinkKind, SyncMode, WhenFull};

/// `buffer = { … }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuffer {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub path: Option<Spanned<String>>,
    pub max_size: Option<Spanned<SizeValue>>,
    pub when_full: Option<Spanned<String>>,
    pub sync: Option<Spanned<String>>,
}

/// The spool's size when `max_size` is not given.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Resolves sink `name`'s buffer; `at` is where the `buffer` key is.
pub(super) fn resolve(
    loc: &Locator<'_>,
    name: &str,
    kind: &SinkKind,
    raw: &RawBuffer,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BufferSpec, ConfigError> {
    let key = |k: &str| format!("sink.{name}.buffer.{k}");
    let type_at = raw.kind.span().start;
    match raw.kind.get_ref().as_str() {
        "memory" => {
            let given = [
                ("path", raw.path.as_ref().map(|v| v.span().start)),
                ("max_size", raw.max_size.as_ref().map(|v| v.span().start)),
                ("when_full", raw.when_full.as_ref().map(|v| v.span().start)),
                ("sync", raw.sync.as_ref().map(|v| v.span().start)),
            ];
            if let Some((k, at)) = given.iter().find_map(|(k, at)| at.map(|a| (k, a))) {
                return Err(loc.invalid(at, &key(k), "applies to type = \"disk\" only"));
            }
            return Ok(BufferSpec::Memory);
        }
        "disk" => {}
        other => {
            return Err(loc.invalid(
                type_at,
                &key("type"),
                format!("`{other}`: expected memory or disk"),
            ))
        }
    }
    if !spools(kind) {
        return Err(loc.invalid(
            type_at,
            &key("type"),
            "a disk buffer applies to network sinks only (type = \"syslog\" or \"otlp\")",
        ));
    }
    let path = raw.path.as_ref().ok_or_else(|| {
        loc.invalid(
            type_at,
            &key("path"),
            "missing: a disk buffer needs a directory",
        )
    })?;
    let rendered = template::render(path.get_ref(), env)
        .map_err(|e| loc.template(path.span().start, &key("path"), e))?;
    if rendered.is_empty() {
        return Err(loc.invalid(path.span().start, &key("path"), "is empty"));
    }
    Ok(BufferSpec::Disk(DiskSpec {
        path: PathBuf::from(rendered),
        max_size: match &raw.max_size {
            Some(v) => size(loc, v, &key("max_size"))? as u64,
            None => DEFAULT_MAX_SIZE,
        },
        when_full: match &raw.when_full {
            Some(v) => loc.word(v, &key("when_full"))?,
            None => WhenFull::Block,
        },
        sync: match &raw.sync {
            Some(v) => loc.word(v, &key("sync"))?,
            None => SyncMode::Batch,
        },
    }))
}

/// The sinks that can have a disk spool: the ones that send over a network.
fn spools(kind: &SinkKind) -> bool {
    match kind {
        SinkKind::Syslog(_) | SinkKind::Otlp(_) => true,
        SinkKind::Stdout | SinkKind::Stderr | SinkKind::File { .. } | SinkKind::Null => false,
    }
}

impl FromStr for WhenFull {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "block" => Ok(WhenFull::Block),
            "drop_newest" => Ok(WhenFull::DropNewest),
            "drop_oldest" => Ok(WhenFull::DropOldest),
            other => Err(format!(
                "`{other}`: expected block, drop_newest or drop_oldest"
            )),
        }
    }
}

impl FromStr for SyncMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "batch" => Ok(SyncMode::Batch),
            "always" => Ok(SyncMode::Always),
            "never" => Ok(SyncMode::Never),
            other => Err(format!("`{other}`: expected batch, always or never")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::run::parse;
    use crate::sink::spec::{BufferSpec, DiskSpec, SyncMode, WhenFull};

    const PROGRAM: &str = "[program.a]\ncommand = \"x\"\nstdout = { sink = \"s\" }\n";

    fn load(sink: &str) -> Result<BufferSpec, String> {
        let env = |name: &str| (name == "SPOOL").then(|| "/var/spool/logmux".to_string());
        let text = format!("{PROGRAM}[sink.s]\n{sink}");
        let config = parse(Path::new("/etc/logmux.toml"), &text, &env, &mut |_| {})
            .map_err(|e| e.to_string())?;
        let spec = config
            .sinks
            .iter()
            .find(|s| s.name == "s")
            .map(|s| s.buffer.clone());
        spec.ok_or_else(|| "no sink s".to_string())
    }

    #[test]
    fn a_disk_buffer_resolves_with_its_defaults() {
        let b = load("type = \"syslog\"\naddress = \"tcp://h:514\"\nbuffer = { type = \"disk\", path = \"${SPOOL}/s\" }\n");
        assert_eq!(
            b,
            Ok(BufferSpec::Disk(DiskSpec {
                path: "/var/spool/logmux/s".into(),
                max_size: 1 << 30,
                when_full: WhenFull::Block,
                sync: SyncMode::Batch,
            }))
        );
        let b = load("type = \"syslog\"\naddress = \"tcp://h:514\"\nbuffer = { type = \"disk\", path = \"/s\", max_size = \"64MiB\", when_full = \"drop_oldest\", sync = \"always\" }\n");
        assert_eq!(
            b,
            Ok(BufferSpec::Disk(DiskSpec {
                path: "/s".into(),
                max_size: 64 << 20,
                when_full: WhenFull::DropOldest,
                sync: SyncMode::Always,
            }))
        );
        assert_eq!(load("type = \"syslog\"\n"), Ok(BufferSpec::Memory));
    }

    #[test]
    fn bad_buffers_name_their_key() {
        let cases = [
            (
                "type = \"file\"\npath = \"/x\"\nbuffer = { type = \"disk\", path = \"/s\" }\n",
                "/etc/logmux.toml:7:19: sink.s.buffer.type: a disk buffer applies to network sinks only (type = \"syslog\" or \"otlp\")",
            ),
            (
                "type = \"syslog\"\nbuffer = { type = \"disk\" }\n",
                "/etc/logmux.toml:6:19: sink.s.buffer.path: missing: a disk buffer needs a directory",
            ),
            (
                "type = \"syslog\"\nbuffer = { type = \"disk\", path = \"/s\", when_full = \"drop\" }\n",
                "/etc/logmux.toml:6:52: sink.s.buffer.when_full: `drop`: expected block, drop_newest or drop_oldest",
            ),
            (
                "type = \"syslog\"\nbuffer = { type = \"disk\", path = \"/s\", sync = \"sometimes\" }\n",
                "/etc/logmux.toml:6:47: sink.s.buffer.sync: `sometimes`: expected batch, always or never",
            ),
            (
                "type = \"syslog\"\nbuffer = { type = \"ram\" }\n",
                "/etc/logmux.toml:6:19: sink.s.buffer.type: `ram`: expected memory or disk",
            ),
            (
                "type = \"syslog\"\nbuffer = { type = \"memory\", path = \"/s\" }\n",
                "/etc/logmux.toml:6:36: sink.s.buffer.path: applies to type = \"disk\" only",
            ),
        ];
        for (sink, expected) in cases {
            assert_eq!(load(sink), Err(expected.to_string()), "for {sink:?}");
        }
    }
}
