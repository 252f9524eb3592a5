//! `logmux check`'s second half: what the config file cannot show, checked
//! against this machine before `logmux run` would find it out one failed
//! start (and a whole backoff) at a time.
//!
//! Two kinds of finding. Some hold wherever the config runs: a NUL byte in
//! a command or an argument can never be passed to `exec`. Others depend on
//! the machine `check` runs on, and say so, since `check` may run on a
//! build host rather than in the image: the command must exist (on `PATH`,
//! the program's own if its `environment` sets one) and be an executable
//! file, not a directory; `user` must exist; `directory` must exist and be
//! a directory. Every enabled program is checked and every finding is
//! reported, each pointing at its key in the file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::run::{ConfigError, Locator, ProgramSpec, RunConfig};

/// Said after each finding that depends on the machine.
const HERE: &str = "(checked on this machine; `logmux run` elsewhere may differ)";

/// Every finding about `config`'s enabled programs; `text` is the file's.
pub fn check(config: &RunConfig, text: &str) -> Vec<ConfigError> {
    let loc = Locator {
        path: &config.path,
        text,
    };
    let mut found = Vec::new();
    for p in config.programs.iter().filter(|p| p.enabled) {
        let at = |key: &str| key_offset(&loc, &p.name, key);
        let key = |k: &str| format!("program.{}.{k}", p.name);
        if let Some(problem) = command_problem(p) {
            found.push(loc.invalid(at("command"), &key("command"), problem));
        }
        if let Some(name) = &p.user {
            if let Some(problem) = user_problem(name) {
                found.push(loc.invalid(at("user"), &key("user"), problem));
            }
        }
        if let Some(dir) = &p.directory {
            if let Some(problem) = directory_problem(dir) {
                found.push(loc.invalid(at("directory"), &key("directory"), problem));
            }
        }
    }
    if let Some(oneoff) = &config.oneoff {
        let table = loc.text.find("[oneoff]").unwrap_or(0);
        let at = |key: &str| key_in_table(&loc, table, key);
        if let Some(problem) = oneoff.user.as_deref().and_then(user_problem) {
            found.push(loc.invalid(at("user"), "oneoff.user", problem));
        }
        if let Some(problem) = oneoff.directory.as_deref().and_then(directory_problem) {
            found.push(loc.invalid(at("directory"), "oneoff.directory", problem));
        }
    }
    found
}

fn command_problem(p: &ProgramSpec) -> Option<String> {
    if let Some(arg) = p.command.iter().find(|a| a.contains('\0')) {
        return Some(format!(
            "{arg:?} holds a NUL byte, which no command or argument can pass to a program"
        ));
    }
    let program = p.command.first()?;
    if program.contains('/') {
        let path = match &p.directory {
            Some(dir) if !program.starts_with('/') => dir.join(program),
            _ => PathBuf::from(program),
        };
        return executable_problem(&path).map(|why| format!("`{program}` {why} {HERE}"));
    }
    let path_var = p
        .environment
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let found = std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .any(|candidate| executable_problem(&candidate).is_none());
    (!found).then(|| {
        format!("`{program}` is not an executable file in any PATH directory ({path_var}) {HERE}")
    })
}

/// Why `path` cannot be executed, if it cannot.
fn executable_problem(path: &Path) -> Option<&'static str> {
    match std::fs::metadata(path) {
        Err(_) => Some("does not exist"),
        Ok(m) if m.is_dir() => Some("is a directory, not a program"),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some("is not executable"),
        Ok(_) => None,
    }
}

fn user_problem(name: &str) -> Option<String> {
    match crate::sys::accounts::lookup(name) {
        Ok(Some(_)) => None,
        Ok(None) => Some(format!("user `{name}` does not exist {HERE}")),
        Err(e) => Some(format!("cannot look up user `{name}`: {e} {HERE}")),
    }
}

fn directory_problem(dir: &Path) -> Option<String> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("`{}` is not a directory {HERE}", dir.display())),
        Err(e) => Some(format!("`{}`: {e} {HERE}", dir.display())),
    }
}

/// Where `key` is set in program `name`'s table (TOML or INI), else the
/// table's start.
fn key_offset(loc: &Locator<'_>, name: &str, key: &str) -> usize {
    key_in_table(loc, loc.table_offset("program", name), key)
}

/// Where `key` is set in the table that starts at `table`, else `table`.
fn key_in_table(loc: &Locator<'_>, table: usize, key: &str) -> usize {
    let rest = loc.text.get(table..).unwrap_or("");
    let mut at = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        if i > 0 && line.trim_start().starts_with('[') {
            break;
        }
        let trimmed = line.trim_start();
        let is_key = trimmed
            .strip_prefix(key)
            .is_some_and(|after| after.trim_start().starts_with('='));
        if is_key {
            return table + at + (line.len() - trimmed.len());
        }
        at += line.len();
    }
    table
}
