//! STUB (contract): assembling multi-line Python tracebacks.
use crate::record::Record;

/// What to do with a line offered to the [`Assembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not part of a multi-line event: handle the line on its own.
    Single,
    /// Taken into the event being assembled; nothing to emit yet.
    Taken,
    /// The event being assembled is complete and did not take this line:
    /// emit [`Assembler::take`], then offer the line again.
    Flush,
}

/// Collects the lines of one multi-line event (per stream).
#[derive(Debug, Default)]
pub struct Assembler {}

impl Assembler {
    pub fn new() -> Self {
        Assembler {}
    }
    pub fn push(&mut self, _line: &str) -> Action {
        Action::Single
    }
    /// The completed event's text, lines joined with `\n`.
    pub fn take(&mut self) -> Option<String> {
        None
    }
    pub fn flush(&mut self) -> Option<String> {
        None
    }
    pub fn is_pending(&self) -> bool {
        false
    }
}

/// Parses an assembled event; sets format `python.traceback` and `exception.*`.
pub fn parse<'a>(_event: &'a str, _rec: &mut Record<'a>) -> bool {
    false
}
