//! STUB (contract): lines that are already a JSON object.
use crate::record::Record;

/// Merges a JSON object's keys into `rec.extra` as raw JSON values.
pub fn parse<'a>(_line: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}
