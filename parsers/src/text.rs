//! STUB (contract): any other line; severity from a leading level word.
use crate::record::{Format, Record};

/// Always succeeds.
pub fn parse<'a>(_line: &'a str, rec: &mut Record<'a>) -> bool {
    rec.format = Format::Text;
    true
}
