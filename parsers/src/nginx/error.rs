//! STUB (contract): nginx error-log lines and `nginx: [emerg] ...` startup lines.
use crate::record::Record;

/// Parses one error-log line; on success sets format `nginx.error`.
pub fn parse<'a>(_line: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}
