//! supervisord's INI config as a drop-in (stub: replaced by the full reader).

use std::path::Path;

use super::config::{Env, Locator, RawFile, RunConfigError};

/// Whether a file is a supervisord config rather than TOML.
pub fn looks_like_ini(path: &Path, text: &str) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    ext == "conf"
        || ext == "ini"
        || text
            .lines()
            .any(|l| l.trim_start().starts_with("[program:"))
}

pub fn parse(
    loc: &Locator<'_>,
    _env: Env<'_>,
    _warn: &mut dyn FnMut(String),
) -> Result<RawFile, RunConfigError> {
    Err(loc.invalid(0, "", "supervisord INI is not read yet"))
}
