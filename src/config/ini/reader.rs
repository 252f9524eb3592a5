//! What reading a supervisord file needs ([`Reader`]) and where its result
//! goes ([`Out`]): values with `%(…)s` filled, read as numbers, booleans and
//! sizes the way supervisord reads them, and the small grammars of its
//! values (exit codes, `environment`).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::interpolate::Names;
use super::syntax::{Entry, Section};
use crate::config::error::{ConfigError, Locator};
use crate::config::run::{Env, RawFile};

/// A value after `%(…)s` is filled, trimmed, with its place in the file.
pub(super) struct Got {
    pub(super) text: String,
    pub(super) span: Range<usize>,
}

/// What reading needs to know; the result goes to [`Out`], kept apart so
/// that lookups can borrow the reader while results are written.
pub(super) struct Reader<'a> {
    pub(super) loc: &'a Locator<'a>,
    /// `%(here)s`: the config file's directory, absolute.
    pub(super) here: String,
    /// `%(host_node_name)s`, looked up only when named.
    pub(super) host: OnceCell<String>,
}

pub(super) struct Out<'a> {
    pub(super) path: &'a Path,
    pub(super) warn: &'a mut dyn FnMut(String),
    pub(super) file: RawFile,
    /// Each file sink's first program and rotation, to notice a second
    /// program that asks for other rotation of the same file.
    pub(super) file_sinks: HashMap<String, (String, Option<u64>, u32)>,
    /// Warnings given so far: each is said once, not once per process of
    /// a `numprocs` section.
    pub(super) said: std::collections::HashSet<String>,
}

impl Out<'_> {
    /// One line: file:line, the section and the key.
    pub(super) fn warn(&mut self, line: usize, section: &Section<'_>, what: &str) {
        let message = format!("{}:{line}: [{}] {what}", self.path.display(), section.name);
        if self.said.insert(message.clone()) {
            (self.warn)(message);
        }
    }
}

impl Reader<'_> {
    /// A key's value with `%(…)s` filled; `flat` joins its lines with
    /// spaces (a command or environment split over lines).
    pub(super) fn expanded(
        &self,
        e: &Entry<'_>,
        names: &Names<'_>,
        key: &str,
        flat: bool,
    ) -> Result<Got, ConfigError> {
        let value = e.value();
        let text = if flat {
            value.text.replace('\n', " ")
        } else {
            value.text.clone()
        };
        let filled = self.interpolate(&value, &text, key, names)?;
        Ok(Got {
            text: filled.trim().to_string(),
            span: value.span,
        })
    }

    pub(super) fn get(
        &self,
        s: &Section<'_>,
        key: &str,
        names: &Names<'_>,
        path_key: &str,
    ) -> Result<Option<Got>, ConfigError> {
        s.get(key)
            .map(|e| self.expanded(e, names, path_key, false))
            .transpose()
    }

    pub(super) fn integer(&self, got: &Got, key: &str) -> Result<i64, ConfigError> {
        got.text.parse::<i64>().map_err(|_| {
            self.loc.invalid(
                got.span.start,
                key,
                format!("`{}` is not a whole number", got.text),
            )
        })
    }

    pub(super) fn count(&self, got: &Got, key: &str) -> Result<u32, ConfigError> {
        let n = self.integer(got, key)?;
        u32::try_from(n).map_err(|_| {
            self.loc.invalid(
                got.span.start,
                key,
                format!("{n} is outside 0..={}", u32::MAX),
            )
        })
    }

    pub(super) fn boolean(&self, got: &Got, key: &str) -> Result<bool, ConfigError> {
        truth(&got.text).ok_or_else(|| {
            self.loc.invalid(
                got.span.start,
                key,
                format!("`{}` is not true or false", got.text),
            )
        })
    }

    /// supervisord's sizes: bytes, or `KB`, `MB`, `GB` (1024-based).
    pub(super) fn byte_size(&self, got: &Got, key: &str) -> Result<u64, ConfigError> {
        let lower = got.text.to_ascii_lowercase();
        let (digits, unit) = [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)]
            .iter()
            .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|d| (d, *unit)))
            .unwrap_or((lower.as_str(), 1));
        digits
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .ok_or_else(|| {
                self.loc.invalid(
                    got.span.start,
                    key,
                    format!("`{}` is not a size like 1024, 512KB, 50MB or 1GB", got.text),
                )
            })
    }

    /// `[supervisord] environment`, which supervisord gives every program
    /// (a program's own `environment` wins).
    pub(super) fn global_env(
        &self,
        s: &Section<'_>,
        env: Env<'_>,
    ) -> Result<IndexMap<String, String>, ConfigError> {
        let Some(e) = s.get("environment") else {
            return Ok(IndexMap::new());
        };
        let names = Names {
            program: None,
            process_num: 0,
            numprocs: 1,
            env,
        };
        let key = "supervisord.environment";
        let got = self.expanded(e, &names, key, true)?;
        env_pairs(&got.text)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|m| self.loc.invalid(got.span.start, key, m))
    }
}

/// supervisord's booleans.
pub(super) fn truth(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `0,2`; empty means none (supervisord's own reading).
pub(super) fn exit_codes(text: &str) -> Option<Vec<i32>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|code| {
            code.trim()
                .parse::<i32>()
                .ok()
                .filter(|c| (0..=255).contains(c))
        })
        .collect()
}

/// supervisord's `environment`: `A="1",B=2,C='x,y'`. Quotes keep commas in
/// a value and are removed.
pub(super) fn env_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for ch in text.chars() {
        match (quote, ch) {
            (None, ',') => entries.push(std::mem::take(&mut current)),
            (None, '"' | '\'') => {
                quote = Some(ch);
                current.push(ch);
            }
            (Some(q), _) if q == ch => {
                quote = None;
                current.push(ch);
            }
            _ => current.push(ch),
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed".into());
    }
    entries.push(current);
    let mut pairs = Vec::new();
    for entry in entries {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, value)) = entry.split_once('=') else {
            return Err(format!("`{entry}` is not KEY=value"));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            return Err(format!("`{entry}`: `{name}` is not a variable name"));
        }
        pairs.push((name.to_string(), unquote(value.trim())));
    }
    Ok(pairs)
}

/// Removes quotes the way a shell would: `"a,b"` → `a,b`, `x'y'` → `xy`.
pub(super) fn unquote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut quote = None;
    for ch in value.chars() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(q), _) if q == ch => quote = None,
            _ => out.push(ch),
        }
    }
    out
}

/// `resolve` fills `${VAR}` in commands, paths and environment values;
/// supervisord does not, so a `${` from the INI file must reach the program
/// as written (`sh -c 'echo ${HOME}'`). `$${` is the template's escape.
pub(super) fn literal(text: &str) -> String {
    text.replace("${", "$${")
}

/// `%(here)s`: the config file's directory, absolute as supervisord makes it.
pub(super) fn here(path: &Path) -> String {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let absolute = match dir {
        Some(d) if d.is_absolute() => d.to_path_buf(),
        Some(d) => std::env::current_dir().map_or_else(|_| d.to_path_buf(), |cwd| cwd.join(d)),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    // Drops `.` components, as os.path.abspath does.
    absolute
        .components()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

/// `%(host_node_name)s`: the node name, as Python's platform.node().
pub(super) fn host_node_name() -> String {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| u.nodename().to_str().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
