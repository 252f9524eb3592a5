//! STUB (contract): supervisord's own lines.
use crate::record::Record;

/// Parses `YYYY-MM-DD HH:MM:SS,mmm LEVEL message`.
pub fn parse<'a>(_line: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}

/// The byte offset (> 0) where a supervisord header starts in the middle of
/// another program's line, spliced in by supervisord's block copies.
pub fn find_spliced_header(_line: &[u8]) -> Option<usize> {
    None
}
