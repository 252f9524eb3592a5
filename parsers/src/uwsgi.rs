//! STUB (contract): uWSGI request lines and uWSGI's own info lines.
use crate::record::Record;

/// Parses a request log line (with optional vhost and memory-report prefixes).
pub fn parse_request<'a>(_line: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}

/// Parses one of uWSGI's own lines. With `known_only`, only lines that are
/// recognisably uWSGI's are taken; without it, any line is (forced format).
pub fn parse_log<'a>(_line: &'a str, _rec: &mut Record<'a>, _known_only: bool) -> bool {
    false
}
