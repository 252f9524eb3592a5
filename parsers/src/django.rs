//! STUB (contract): Django's own log lines (`Not Found: /x`, `Internal Server Error: /x`, ...).
use crate::record::Record;

pub fn parse<'a>(_line: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}
