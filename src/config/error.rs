//! The one error type of every config file (`filter --config`, the `run`
//! config in TOML or supervisord INI, `[sink.NAME]` tables) and the
//! [`Locator`] that builds it: a byte offset in the file's text becomes
//! `file:line:column`, followed by the key and what is wrong with it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::Spanned;

use super::template::TemplateError;

/// A config that failed to load: always names the file, and where known the
/// line, column and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file says something wrong; `key` is `None` for TOML syntax that
    /// names no key of its own (`unknown field …`).
    #[error("{path}:{line}:{column}: {}{message}", key_prefix(key.as_deref()))]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    /// Several programs have problems: each is reported, one per line.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<ConfigError>),
    /// A variable that `[env] required` or a `${VAR:?}` needs is missing.
    #[error("{path}:{line}:{column}: {key}: {message}")]
    MissingVariable {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        variable: String,
        message: String,
    },
}

/// The name the `run` config's error had before there was one config error.
pub type RunConfigError = ConfigError;

fn key_prefix(key: Option<&str>) -> String {
    key.map(|k| format!("{k}: ")).unwrap_or_default()
}

impl ConfigError {
    /// One error, or all of them.
    pub fn all(mut errors: Vec<ConfigError>) -> ConfigError {
        if errors.len() == 1 {
            if let Some(e) = errors.pop() {
                return e;
            }
        }
        ConfigError::Many(errors)
    }

    /// Whether the file could not be read at all (rather than read and
    /// found wrong).
    pub fn is_unreadable(&self) -> bool {
        matches!(self, ConfigError::Read { .. })
    }
}

/// Builds errors that point into one file's text.
pub struct Locator<'t> {
    pub path: &'t Path,
    pub text: &'t str,
}

impl Locator<'_> {
    /// Reads a config file's text; the error names the file. A file that
    /// is not UTF-8 was read but is wrong (EX_CONFIG, not EX_NOINPUT): the
    /// error points at the first byte that is not.
    pub fn read(path: &Path) -> Result<String, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        String::from_utf8(bytes).map_err(|e| {
            let good = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let text = String::from_utf8_lossy(bytes.get(..good).unwrap_or(&[]));
            let bad = bytes.get(good).copied().unwrap_or(0);
            Locator { path, text: &text }.unkeyed(
                good,
                format!("the file is not UTF-8 text (byte 0x{bad:02X}); save it as UTF-8"),
            )
        })
    }

    /// 1-based line and column of a byte offset.
    pub fn at(&self, offset: usize) -> (usize, usize) {
        line_col(self.text, offset)
    }

    pub fn invalid(&self, offset: usize, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(offset, Some(key), message)
    }

    /// An error that names no key, only the place.
    pub fn unkeyed(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        self.error(offset, None, message)
    }

    fn error(&self, offset: usize, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.at(offset);
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    /// A TOML syntax or shape error, at its place; toml's message repeats
    /// the source, so only its first line is kept. `keyed`: name the key
    /// around the place too ([`Locator::key_at`]).
    pub fn toml(&self, e: &toml::de::Error, keyed: bool) -> ConfigError {
        let message = super::toml_words::in_words(e.message());
        let offset = e.span().map_or(0, |s| s.start);
        if keyed {
            self.invalid(offset, &self.key_at(offset), message)
        } else {
            self.unkeyed(offset, message)
        }
    }

    /// A value spelled as a word, read with its type's [`FromStr`], whose
    /// error says what was expected.
    pub fn word<T: FromStr<Err = String>>(
        &self,
        v: &Spanned<String>,
        key: &str,
    ) -> Result<T, ConfigError> {
        v.get_ref()
            .parse()
            .map_err(|m: String| self.invalid(v.span().start, key, m))
    }

    /// A variable the config needs but the environment lacks.
    pub fn missing_variable(
        &self,
        offset: usize,
        key: &str,
        variable: &str,
        message: String,
    ) -> ConfigError {
        let (line, column) = self.at(offset);
        ConfigError::MissingVariable {
            path: self.path.to_owned(),
            line,
            column,
            key: key.to_string(),
            variable: variable.to_string(),
            message,
        }
    }

    /// A `${VAR}` template that could not be rendered.
    pub(crate) fn template(&self, offset: usize, key: &str, e: TemplateError) -> ConfigError {
        match e.kind.variable() {
            Some(var) => self.missing_variable(offset, key, var, e.kind.to_string()),
            None => self.invalid(offset, key, e.kind.to_string()),
        }
    }

    /// Where the table `[TABLE.NAME]` starts, for messages about a missing key.
    pub fn table_offset(&self, table: &str, name: &str) -> usize {
        // TOML `[program.x]` or `[program."x"]`; supervisord `[program:x]`.
        [
            format!("[{table}.{name}]"),
            format!("[{table}:{name}]"),
            format!("[{table}.\"{name}\"]"),
        ]
        .iter()
        .find_map(|header| self.text.find(header.as_str()))
        .unwrap_or(0)
    }

    /// The dotted key of the table around an offset, for messages about
    /// TOML syntax.
    pub fn key_at(&self, offset: usize) -> String {
        let text = self.text;
        let before = text.get(..offset.min(text.len())).unwrap_or("");
        let table = before
            .lines()
            .rev()
            .find_map(|l| {
                let l = l.trim();
                l.strip_prefix("[[")
                    .and_then(|t| t.strip_suffix("]]"))
                    .or_else(|| l.strip_prefix('[').and_then(|t| t.strip_suffix(']')))
                    .map(str::trim)
            })
            .unwrap_or("");
        // The key of the line the offset is on (the offset may point at
        // its value), if it is a plain or quoted key.
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let this = text
            .get(line_start..)
            .and_then(|rest| rest.lines().next())
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| k.trim())
            .filter(|k| is_key(k))
            .unwrap_or("");
        match (table.is_empty(), this.is_empty() || this.starts_with('[')) {
            (true, _) => this.to_string(),
            (false, true) => table.to_string(),
            (false, false) => format!("{table}.{this}"),
        }
    }
}

/// Whether `k` reads as a TOML key: bare words, quoted parts and dots.
fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' '))
}

/// 1-based line and column (in characters) of a byte offset, for messages
/// that point into a file.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("", 10), (1, 1));
    }

    #[test]
    fn unreadable_and_invalid_files_have_their_exit_codes() {
        let loc = Locator {
            path: Path::new("x.toml"),
            text: "a = 1\n",
        };
        let invalid = loc.invalid(4, "a", "bad");
        assert_eq!(invalid.to_string(), "x.toml:1:5: a: bad");
        assert!(!invalid.is_unreadable());
        assert_eq!(loc.unkeyed(0, "bad").to_string(), "x.toml:1:1: bad");
        let unreadable = Locator::read(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert!(unreadable.is_unreadable());
    }

    #[test]
    fn a_non_utf8_file_is_invalid_not_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, b"[program.a]\ncommand = \"caf\xe9\"\n").unwrap();
        let e = Locator::read(&path).unwrap_err();
        assert!(!e.is_unreadable());
        assert_eq!(crate::exit::config(&e), crate::exit::EX_CONFIG);
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2:15: the file is not UTF-8 text (byte 0xE9); save it as UTF-8",
                path.display()
            )
        );
    }
}
