//! STUB (contract): a user's nginx `log_format` compiled into a parser.
use crate::record::Record;

/// A compiled `log_format`.
#[derive(Debug, Clone)]
pub struct LogFormat {}

/// Why a `log_format` string could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormatError {
    pub message: String,
}

impl std::fmt::Display for LogFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LogFormatError {}

impl LogFormat {
    pub fn compile(_format: &str) -> Result<LogFormat, LogFormatError> {
        Err(LogFormatError {
            message: "not implemented".into(),
        })
    }

    /// Parses one line; on success sets format `nginx.access`.
    pub fn parse<'a>(&self, _line: &'a str, _rec: &mut Record<'a>) -> bool {
        false
    }
}
