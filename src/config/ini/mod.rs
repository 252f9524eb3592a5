//! supervisord's INI config as a drop-in: `logmux run --config
//! supervisord.conf` runs an existing supervisord config unchanged.
//!
//! The reader builds the same [`RawFile`] that the TOML path deserializes,
//! each value spanned with its byte range in the INI text, so `resolve`
//! applies the same checks and its errors point into this file. Where
//! supervisord's defaults differ from logmux's (process-group signals, log
//! rotation), the reader writes supervisord's. What logmux does not reproduce
//! is named in a warning, one line per key, and never dropped silently.
//!
//! Hand-written on purpose: no INI crate says where a value sits in the
//! file, and none follows Python's ConfigParser as supervisord sets it up
//! (indented continuation lines, `;` and `#` comments after whitespace, the
//! key ending at the first `=` or `:`), nor supervisord's `%(ENV_X)s`.
//!
//! The parts: `syntax` (sections, keys and values as ConfigParser reads
//! them), `interpolate` (`%(name)s`), `reader` (typed values and the
//! shape being built), `program` (one `[program:x]` section).

pub(crate) mod interpolate;
mod program;
mod reader;
mod syntax;
#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::error::{ConfigError, Locator};
use super::run::{Env, RawFile};
pub(crate) use program::MAX_NUMPROCS;
use reader::{here, truth, Out, Reader};
use syntax::{read_sections, Section};

/// Whether a file is a supervisord config rather than TOML: any file with
/// one of supervisord's section headers (`[program:x]` is not even valid
/// TOML), or a `.conf`/`.ini` file without logmux's own TOML tables (so a
/// `logmux.conf` written in TOML stays TOML).
pub fn looks_like_ini(path: &Path, text: &str) -> bool {
    const SUPERVISORD: [&str; 9] = [
        "[program:",
        "[supervisord]",
        "[supervisorctl]",
        "[include]",
        "[group:",
        "[eventlistener:",
        "[fcgi-program:",
        "[unix_http_server]",
        "[inet_http_server]",
    ];
    const LOGMUX: [&str; 4] = ["[program.", "[sink.", "[env]", "[[template]]"];
    let headers = || text.lines().map(str::trim_start);
    if headers().any(|l| SUPERVISORD.iter().any(|s| l.starts_with(s))) {
        return true;
    }
    let ini_name = path.extension().is_some_and(|e| e == "conf" || e == "ini");
    ini_name && !headers().any(|l| LOGMUX.iter().any(|s| l.starts_with(s)))
}

/// Reads a supervisord config into the shape `resolve` checks.
pub fn parse(
    loc: &Locator<'_>,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RawFile, ConfigError> {
    let sections = read_sections(loc)?;
    let reader = Reader {
        loc,
        here: here(loc.path),
        host: OnceCell::new(),
    };
    let mut out = Out {
        path: loc.path,
        warn,
        file: RawFile::default(),
        file_sinks: HashMap::new(),
        said: std::collections::HashSet::new(),
    };
    // `[supervisord] environment` reaches every program, wherever it sits.
    let global_env = match sections.iter().find(|s| s.name == "supervisord") {
        Some(s) => reader.global_env(s, env)?,
        None => IndexMap::new(),
    };
    for s in &sections {
        let (kind, name) = match s.name.split_once(':') {
            Some((kind, name)) => (kind, Some(name)),
            None => (s.name.as_str(), None),
        };
        match (kind, name) {
            ("program", Some(name)) => reader.program(&mut out, s, name, &global_env, env)?,
            ("supervisord", None) => supervisord(&mut out, s),
            // supervisorctl's side: logmux has its own `logmux ctl` socket.
            ("unix_http_server", None) => control_socket(&reader, &mut out, s, env)?,
            ("supervisorctl", None) | ("rpcinterface" | "ctlplugin", Some(_)) => {}
            ("inet_http_server", None) => {
                if let Some(e) = s.get("port") {
                    out.warn(
                        e.line,
                        s,
                        "port: logmux serves no HTTP control port (use `logmux ctl`), ignored",
                    );
                }
            }
            ("include", None) => {
                let files = s.get("files").map(|e| e.value().text).unwrap_or_default();
                let files = files.split_whitespace().collect::<Vec<_>>().join(" ");
                let what = if files.is_empty() {
                    "includes are not followed".to_string()
                } else {
                    format!("files={files}: includes are not followed, those files are not read")
                };
                out.warn(s.line, s, &what);
            }
            // After every program is read: a group may come first.
            ("group", Some(_)) => {}
            ("eventlistener" | "fcgi-program", Some(_)) => {
                out.warn(s.line, s, "not supported, ignored");
            }
            _ => out.warn(s.line, s, "unknown section, ignored"),
        }
    }
    for s in &sections {
        if let Some(("group", name)) = s.name.split_once(':') {
            group(&reader, &mut out, s, name)?;
        }
    }
    Ok(out.file)
}

/// `[unix_http_server] file=PATH`: where supervisorctl would talk to
/// supervisord is where `logmux ctl` talks to logmux.
fn control_socket(
    reader: &Reader<'_>,
    out: &mut Out<'_>,
    s: &Section<'_>,
    env: Env<'_>,
) -> Result<(), ConfigError> {
    let Some(e) = s.get("file") else {
        return Ok(());
    };
    let names = interpolate::Names {
        program: None,
        process_num: 0,
        numprocs: 1,
        env,
    };
    let got = reader.expanded(e, &names, "unix_http_server.file", false)?;
    out.file.control_socket = Some(toml::Spanned::new(got.span, reader::literal(&got.text)));
    Ok(())
}

/// `[group:NAME] programs=a,b`: every process of those programs is in
/// group NAME, for `logmux ctl restart NAME:*`.
fn group(
    reader: &Reader<'_>,
    out: &mut Out<'_>,
    s: &Section<'_>,
    name: &str,
) -> Result<(), ConfigError> {
    let key = format!("group.{name}.programs");
    let Some(e) = s.get("programs") else {
        return Err(reader.loc.invalid(
            s.span.start,
            &key,
            "missing: list the group's programs, e.g. programs=web,worker",
        ));
    };
    let value = e.value();
    for e in &s.entries {
        if e.key != "programs" && e.key != "priority" {
            let what = format!("{}: unknown key, ignored", e.key);
            out.warn(e.line, s, &what);
        }
    }
    for member in value
        .text
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        let mut found = false;
        for (process, program) in out.file.program.iter_mut() {
            let section = program
                .group
                .as_ref()
                .map_or(process.as_str(), |g| g.get_ref().as_str());
            if section == member {
                program.group = Some(toml::Spanned::new(value.span.clone(), name.to_string()));
                found = true;
            }
        }
        if !found {
            return Err(reader.loc.invalid(
                value.span.start,
                &key,
                format!("no [program:{member}] section"),
            ));
        }
    }
    Ok(())
}

/// `[supervisord]` keys with nothing to reproduce: logmux runs in the
/// foreground and writes its own events through its sinks.
const SUPERVISORD_QUIET: &[&str] = &[
    "nodaemon",
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "childlogdir",
    "user",
    "minfds",
    "minprocs",
    "silent",
    "nocleanup",
    "identifier",
    "profile_options",
    // Applied to every program by `global_env`.
    "environment",
    // logmux strips ANSI escapes from every line anyway.
    "strip_ansi",
];

/// `[supervisord]`: nothing to apply but its environment; warn about keys
/// whose effect logmux does not reproduce.
fn supervisord(out: &mut Out<'_>, s: &Section<'_>) {
    let text = |key: &str| s.get(key).map(|e| e.value().text.trim().to_lowercase());
    // `directory` and `umask` only apply when supervisord daemonizes.
    let foreground = text("nodaemon").and_then(|v| truth(&v)).unwrap_or(false);
    for e in &s.entries {
        let key = e.key.as_str();
        if SUPERVISORD_QUIET.contains(&key) {
            continue;
        }
        let what = match key {
            "directory" | "umask" if foreground => continue,
            "directory" | "umask" => format!(
                "{key}: applies when supervisord daemonizes; logmux stays in the foreground, ignored"
            ),
            _ => format!("{key}: unknown key, ignored"),
        };
        out.warn(e.line, s, &what);
    }
}
