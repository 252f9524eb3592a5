//! `[trace]`: how `logmux run` ties one request's events together.
//!
//! ```toml
//! [trace]
//! join = "infer"   # default "ids": only the ids the lines log
//! ```
//!
//! `join = "infer"` also joins nginx's access line and uWSGI's request line
//! of configs that log no id ([`crate::trace::infer`]). Errors name the
//! file, line and key (`trace.join`).

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use crate::trace::infer::JoinMode;

/// The `[trace]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    pub join: Option<Spanned<String>>,
}

/// `trace.join`, checked; `"ids"` when the table or key is absent.
pub fn resolve_join(loc: &Locator<'_>, raw: Option<&RawTrace>) -> Result<JoinMode, ConfigError> {
    match raw.and_then(|t| t.join.as_ref()) {
        Some(join) => loc.word(join, "trace.join"),
        None => Ok(JoinMode::default()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::run::{parse, RunConfig, RunConfigError};

    fn load(text: &str) -> Result<RunConfig, RunConfigError> {
        let text = format!("[program.a]\ncommand = \"x\"\n{text}");
        parse(Path::new("/etc/logmux.toml"), &text, &|_| None, &mut |_| {})
    }

    fn join(text: &str) -> JoinMode {
        load(text).unwrap_or_else(|e| panic!("{e}")).trace_join
    }

    #[test]
    fn join_is_ids_unless_the_table_says_infer() {
        assert_eq!(join(""), JoinMode::Ids);
        assert_eq!(join("[trace]\n"), JoinMode::Ids);
        assert_eq!(join("[trace]\njoin = \"ids\"\n"), JoinMode::Ids);
        assert_eq!(join("[trace]\njoin = \"infer\"\n"), JoinMode::Infer);
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let err = |text: &str| match load(text) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err("[trace]\njoin = \"guess\"\n"),
            "/etc/logmux.toml:4:8: trace.join: `guess` is not a join: expected \"ids\" or \"infer\""
        );
        assert!(err("[trace]\njoin = 1\n").starts_with("/etc/logmux.toml:4:8: trace.join: "));
    }
}
