//! STUB (contract): nginx access lines in `combined` or `common` format.
use crate::record::Record;

/// Parses one access line; on success sets format `nginx.access`, the
/// timestamp from `$time_local`, severity from the status, and the fields.
pub fn parse<'a>(_line: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}
