//! Python tracebacks: which lines form one multi-line event, and what it says.
//!
//! A traceback reaches logmux as many lines, interleaved with nothing else on
//! its stream (uWSGI's `PyErr_Print`, Django's console logger). The
//! [`Assembler`] is a small state machine fed every line of one stream: it
//! starts an event at `Traceback (most recent call last):` (or Django's
//! `Internal Server Error: /path` just before it), keeps indented frame lines,
//! the final `ExceptionType: message` line and chained blocks, and gives the
//! event back as soon as a line shows it has ended. [`parse`] then turns the
//! assembled text into `exception.*` fields.
//!
//! A message over several lines, and `add_note()` notes, follow the
//! exception line unindented, like the program's next line of plain text.
//! They are joined only when the engine says they came in the same burst
//! as the line before ([`Assembler::push_in`]), and only tentatively: if a
//! line that starts something of its own ([`crate::detect::starts_something`])
//! comes in that burst after them, they were not the exception's, and they
//! are handed back as lines of their own ([`Action::Unjoin`]).

use memchr::{memchr, memmem, memrchr};

use crate::field::Field;
use crate::record::{Format, Record};
use crate::severity::Severity;

/// An event is completed once it holds this many bytes…
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// …or this many lines, so a runaway stream cannot grow it without bound.
pub const MAX_EVENT_LINES: usize = 10_000;

const TRACEBACK: &str = "Traceback (most recent call last):";
const GROUP_TRACEBACK: &str = "Exception Group Traceback (most recent call last):";
const DJANGO_500: &str = "Internal Server Error: ";
const CONTEXT: &str = "During handling of the above exception, another exception occurred:";
const CAUSE: &str = "The above exception was the direct cause of the following exception:";

/// At most this many lines continue an exception's message tentatively;
/// more are the program's own (handed back, [`Action::Unjoin`]).
pub const MAX_CONTINUATION_LINES: usize = 64;
/// …and at most this many bytes.
pub const MAX_CONTINUATION_BYTES: usize = 64 * 1024;

/// How a line arrived on its stream, next to the line before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Burst {
    /// In the same burst: the same read, or a read that returned right
    /// after the one before.
    Same,
    /// After the writer paused: the reader waited for the line.
    Paused,
    /// Not known: a file, or a reader that fell behind (the bytes were
    /// waiting for it, written who knows when).
    #[default]
    Unknown,
}

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
    /// The lines taken tentatively after the exception line were not its
    /// message: emit [`Assembler::take`] (the event without them), then
    /// each line of [`Assembler::take_unjoined`] on its own, then offer
    /// the line again.
    Unjoin,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing buffered.
    #[default]
    Idle,
    /// Only Django's `Internal Server Error: /path` line; a traceback must follow.
    Django,
    /// Only a logged record at ERROR or above (`logger.exception()`): the
    /// traceback of its `exc_info` may follow, written with it.
    Record,
    /// Inside a traceback block, before its exception line.
    Frames,
    /// The block's exception line was seen; a chain may still follow.
    AfterException,
    /// Unindented lines after the exception line were taken tentatively,
    /// as the rest of its message.
    Continuing,
    /// `During handling…` / `The above exception…` seen; a blank line is next.
    ChainHeader,
    /// The blank after the chain header is held; a `Traceback` line is next.
    ChainBlank,
}

/// Collects the lines of one multi-line event (per stream).
///
/// Blank lines are never emitted on their own while an event is pending:
/// after an exception line a blank is held until the next line tells whether
/// a chained exception follows. If none does, the event completes and the
/// held blank is dropped (it only separated the traceback from what follows).
#[derive(Debug, Default)]
pub struct Assembler {
    state: State,
    buf: String,
    lines: usize,
    /// `buf`'s length before a held blank line was appended to it.
    held: Option<usize>,
    /// `buf`'s length before the first line taken tentatively, and how
    /// many lines are.
    tentative: Option<(usize, usize)>,
    /// Tentative lines handed back by [`Action::Unjoin`].
    unjoined: String,
}

impl Assembler {
    pub fn new() -> Self {
        Assembler::default()
    }

    /// Offers the next line of the stream (without its `\n`); no line is
    /// taken as the continuation of an exception's message.
    pub fn push(&mut self, line: &str) -> Action {
        self.push_in(line, Burst::Unknown)
    }

    /// Offers the next line and how it came ([`Burst`]). An unindented
    /// line in the same burst as an exception line (or as lines taken so)
    /// is taken tentatively as the rest of its message, unless it starts
    /// something of its own. Those lines are the exception's once the
    /// writer pauses after them ([`Burst::Paused`], or the end or idle
    /// flush); they are handed back when anything else comes first.
    pub fn push_in(&mut self, line: &str, burst: Burst) -> Action {
        let l = strip_cr(line);
        match self.state {
            State::Idle => self.start(line, l),
            State::Django => {
                if is_traceback_start(l) {
                    self.append(line, State::Frames)
                } else {
                    Action::Flush
                }
            }
            // Python's logging writes a record and its traceback at once:
            // one after a pause was written on its own.
            State::Record => {
                if is_traceback_start(l) && burst != Burst::Paused {
                    self.append(line, State::Frames)
                } else {
                    Action::Flush
                }
            }
            State::Frames | State::AfterException | State::Continuing if self.held.is_some() => {
                if l == CONTEXT || l == CAUSE {
                    self.tentative = None;
                    self.append(line, State::ChainHeader)
                } else if self.tentative.is_some() && burst != Burst::Paused {
                    self.unjoin()
                } else {
                    Action::Flush
                }
            }
            State::Frames | State::AfterException | State::Continuing if is_blank(l) => {
                self.hold(line, self.state)
            }
            State::Frames => {
                if is_indented(l) {
                    self.append(line, State::Frames)
                } else if split_exception_line(l).is_some() {
                    self.append(line, State::AfterException)
                } else {
                    Action::Flush
                }
            }
            State::AfterException => {
                // Indented lines after the exception line continue its
                // message. Unindented ones (a message's later lines, notes)
                // look like the program's next line of plain text: taken
                // only tentatively, and only in the same burst.
                if is_indented(l) {
                    self.append(line, State::AfterException)
                } else if burst == Burst::Same && !crate::detect::starts_something(l) {
                    self.tentatively(line)
                } else {
                    Action::Flush
                }
            }
            State::Continuing => match burst {
                // The burst ended with the message: it is the exception's.
                Burst::Paused => Action::Flush,
                Burst::Same if is_indented(l) || !crate::detect::starts_something(l) => {
                    self.tentatively(line)
                }
                // Another line of its own in the burst, or a reader that
                // cannot tell: not the exception's.
                Burst::Same | Burst::Unknown => self.unjoin(),
            },
            State::ChainHeader => {
                if is_blank(l) {
                    self.hold(line, State::ChainBlank)
                } else if is_traceback_start(l) {
                    self.append(line, State::Frames)
                } else {
                    Action::Flush
                }
            }
            State::ChainBlank => {
                if is_traceback_start(l) {
                    self.append(line, State::Frames)
                } else {
                    Action::Flush
                }
            }
        }
    }

    /// The completed event's text, lines joined with `\n` (no trailing
    /// newline), or `None` when nothing is pending. A held blank line is
    /// dropped. Afterwards the assembler is idle again.
    pub fn take(&mut self) -> Option<String> {
        if self.state == State::Idle {
            return None;
        }
        if let Some(at) = self.held.take() {
            self.buf.truncate(at);
        }
        self.state = State::Idle;
        self.lines = 0;
        self.tentative = None;
        Some(std::mem::take(&mut self.buf))
    }

    /// After [`Action::Unjoin`] (and [`Assembler::take`]): the lines that
    /// were taken tentatively, joined with `\n`, to be emitted one by one.
    pub fn take_unjoined(&mut self) -> String {
        std::mem::take(&mut self.unjoined)
    }

    /// End of stream or idle timeout: whatever is buffered, as one event.
    pub fn flush(&mut self) -> Option<String> {
        self.take()
    }

    /// Bytes of the event being assembled (for a memory budget).
    pub fn held_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Whether lines are buffered (the engine should flush on idle timeout).
    pub fn is_pending(&self) -> bool {
        self.state != State::Idle
    }

    /// Whether the pending event would be complete if no further line came:
    /// it already ends with its exception line, or it is a lone Django line.
    /// The engine may use a shorter idle timeout then.
    pub fn looks_complete(&self) -> bool {
        matches!(
            self.state,
            State::Django | State::Record | State::AfterException | State::Continuing
        )
    }

    fn start(&mut self, line: &str, l: &str) -> Action {
        // The hot path: most lines are rejected on their first byte.
        let starts = match l.as_bytes().first() {
            Some(b'T') => is_traceback_start(l),
            Some(b' ' | b'\t') => is_traceback_start(l) || is_syntax_error_file_line(l),
            Some(b'I') if l.starts_with(DJANGO_500) => return self.start_django(line),
            // Behind a formatter's prefix: asctime first (`2026-12-03
            // 14:34:42,885 …`, checked by its comma so that nginx access
            // lines pay one byte compare) or the level first.
            Some(b'0'..=b'9') if l.as_bytes().get(19) == Some(&b',') => {
                return self.start_prefixed(line, l)
            }
            Some(b'A'..=b'Z') => return self.start_prefixed(line, l),
            _ => false,
        };
        if !starts || line.len() > MAX_EVENT_BYTES {
            return Action::Single;
        }
        self.buf.push_str(line);
        self.lines = 1;
        self.state = State::Frames;
        Action::Taken
    }

    /// Django's `Internal Server Error: /path` line: a traceback must follow.
    fn start_django(&mut self, line: &str) -> Action {
        self.hold_first(line, State::Django)
    }

    /// A record behind a logging formatter's prefix: Django's 500 line, or
    /// one at ERROR or above, whose traceback may follow; else alone.
    fn start_prefixed(&mut self, line: &str, l: &str) -> Action {
        let Some(p) = crate::django::prefix(l) else {
            return Action::Single;
        };
        if path_of_500(p.message).is_some() {
            self.start_django(line)
        } else if p.severity >= Severity::ERROR {
            self.hold_first(line, State::Record)
        } else {
            Action::Single
        }
    }

    /// Takes `line` as an event's first, in `state`.
    fn hold_first(&mut self, line: &str, state: State) -> Action {
        if line.len() > MAX_EVENT_BYTES {
            return Action::Single;
        }
        self.buf.push_str(line);
        self.lines = 1;
        self.state = state;
        Action::Taken
    }

    /// Whether one more line of `len` bytes would break the size bound.
    fn full(&self, len: usize) -> bool {
        let lines = self.lines + usize::from(self.held.is_some());
        lines >= MAX_EVENT_LINES || self.buf.len() + 1 + len > MAX_EVENT_BYTES
    }

    /// Takes `line` (committing a held blank before it) and moves to `next`.
    fn append(&mut self, line: &str, next: State) -> Action {
        if self.full(line.len()) {
            return Action::Flush;
        }
        if self.held.take().is_some() {
            self.lines += 1;
        }
        self.buf.push('\n');
        self.buf.push_str(line);
        self.lines += 1;
        self.state = next;
        Action::Taken
    }

    /// Takes `line` as a possible continuation of the exception's message.
    fn tentatively(&mut self, line: &str) -> Action {
        let (at, lines) = self.tentative.unwrap_or((self.buf.len(), 0));
        let bytes = self.buf.len() - at + 1 + line.len();
        if lines >= MAX_CONTINUATION_LINES || bytes > MAX_CONTINUATION_BYTES {
            return if lines > 0 {
                self.unjoin()
            } else {
                Action::Flush
            };
        }
        let action = self.append(line, State::Continuing);
        if action == Action::Taken {
            self.tentative = Some((at, lines + 1));
        }
        action
    }

    /// Hands the tentative lines back: they were not the exception's.
    fn unjoin(&mut self) -> Action {
        if let Some(at) = self.held.take() {
            self.buf.truncate(at);
        }
        if let Some((at, lines)) = self.tentative.take() {
            self.unjoined = self.buf.get(at + 1..).unwrap_or("").to_string();
            self.buf.truncate(at);
            self.lines = self.lines.saturating_sub(lines);
        }
        self.state = State::AfterException;
        Action::Unjoin
    }

    /// Holds a blank line: kept only if the next line continues the event.
    fn hold(&mut self, line: &str, next: State) -> Action {
        if self.full(line.len()) {
            return Action::Flush;
        }
        self.held = Some(self.buf.len());
        self.buf.push('\n');
        self.buf.push_str(line);
        self.state = next;
        // Counted in `lines` only once committed.
        Action::Taken
    }
}

/// Parses an assembled event; sets format `python.traceback` and `exception.*`.
///
/// Returns false when the text holds no traceback (a lone Django line: the
/// engine then tries the other parsers). Besides `Traceback (most recent
/// call last):`, an event that starts with a SyntaxError's bare
/// `  File "x", line N` block (no header, as `python x.py` prints it) is
/// accepted when it ends in an exception line.
pub fn parse<'a>(event: &'a str, rec: &mut Record<'a>) -> bool {
    let Some(start) = find_start(event) else {
        return false;
    };
    let Some(trace) = event.get(start..) else {
        return false;
    };
    let trace = trace.trim_end_matches(['\n', '\r']);
    let exception = last_exception(trace);
    if start == 0 && !is_traceback_start(strip_cr(first_line(trace))) && exception.is_none() {
        // A bare `File` line with no exception line is not a traceback.
        return false;
    }
    rec.format = Format::PythonTraceback;
    rec.severity = Some(Severity::ERROR);
    if start > 0 {
        let header = strip_cr(first_line(event));
        if let Some(path) = django_500_path(header) {
            rec.push_str(Field::UrlPath, path);
            rec.push_int(Field::HttpResponseStatusCode, 500);
        }
        if let Some(p) = crate::django::prefix(header) {
            p.fill_context(rec);
        }
    }
    if let Some((ty, msg)) = exception {
        rec.push_str(Field::ExceptionType, ty);
        if let Some(msg) = msg {
            rec.push_str(Field::ExceptionMessage, msg);
        }
    }
    rec.push_str(Field::ExceptionStacktrace, trace);
    true
}

/// The byte offset of the line that starts the traceback proper.
fn find_start(event: &str) -> Option<usize> {
    let b = event.as_bytes();
    // memmem keeps the rejection of ordinary text cheap.
    for hit in memmem::find_iter(b, TRACEBACK.as_bytes()) {
        let line_start = memrchr(b'\n', b.get(..hit)?).map_or(0, |i| i + 1);
        let line_end = memchr(b'\n', b.get(hit..)?).map_or(b.len(), |i| hit + i);
        if is_traceback_start(strip_cr(event.get(line_start..line_end)?)) {
            return Some(line_start);
        }
    }
    is_syntax_error_file_line(strip_cr(first_line(event))).then_some(0)
}

/// How the exception line of the current top-level block is printed.
#[derive(Clone, Copy)]
enum Block<'a> {
    /// A plain traceback: the exception line has the header's indentation.
    Plain(&'a str),
    /// An exception group: `  + Exception Group…` puts it after `  | `.
    Group(usize),
}

/// The type and message of the last top-level exception in `trace`. In a
/// plain block, the lines after the exception line (up to a blank or the
/// next header) are the rest of its message, notes included.
fn last_exception(trace: &str) -> Option<(&str, Option<&str>)> {
    let mut block = Block::Plain("");
    let mut found: Option<(&str, Option<&str>)> = None;
    // The message's start offset in `trace` while it may still grow.
    let mut growing: Option<usize> = None;
    let mut offset = 0;
    for line in trace.split('\n') {
        let line_start = offset;
        offset += line.len() + 1;
        let l = strip_cr(line);
        let body = l.trim_start_matches([' ', '\t']);
        let indent = l.get(..l.len() - body.len()).unwrap_or("");
        if body.trim_end() == TRACEBACK {
            block = Block::Plain(indent);
            growing = None;
            continue;
        }
        if let Some(rest) = body.strip_prefix("+ ") {
            if rest.trim_end() == GROUP_TRACEBACK {
                block = Block::Group(indent.len());
                growing = None;
                continue;
            }
        }
        if let (Some(from), Some((ty, _))) = (growing, found) {
            if !is_blank(l) {
                let msg = trace.get(from..line_start + l.len());
                found = Some((ty, msg));
                continue;
            }
            growing = None;
        }
        let candidate = match block {
            Block::Plain(ind) => (indent == ind).then_some(body),
            Block::Group(bar) => match l.as_bytes().get(bar..bar + 3) {
                Some([b'|', b' ', c]) if *c != b' ' && indent.len() == bar => l.get(bar + 2..),
                _ => None,
            },
        };
        if let Some(e) = candidate.and_then(split_exception_line) {
            found = Some(e);
            growing = match (block, e.1) {
                (Block::Plain(""), Some(msg)) => Some(offset_in(trace, msg)),
                (Block::Plain(""), None) => Some(offset),
                _ => None,
            };
        }
    }
    found
}

/// Where `part`, a slice of `whole`, starts in it.
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// The path of Django's `Internal Server Error: /path`, bare or behind a
/// logging formatter's prefix (see [`crate::django::prefix`]).
fn django_500_path(line: &str) -> Option<&str> {
    let message = match line.strip_prefix(DJANGO_500) {
        Some(_) => line,
        None => crate::django::prefix(line)?.message,
    };
    path_of_500(message)
}

/// The path of a log message `Internal Server Error: /path`.
fn path_of_500(message: &str) -> Option<&str> {
    let path = message.strip_prefix(DJANGO_500)?.trim();
    path.starts_with('/').then_some(path)
}

fn first_line(s: &str) -> &str {
    match memchr(b'\n', s.as_bytes()) {
        Some(i) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

fn strip_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

fn is_blank(l: &str) -> bool {
    l.bytes().all(|b| b.is_ascii_whitespace())
}

fn is_indented(l: &str) -> bool {
    matches!(l.as_bytes().first(), Some(b' ' | b'\t'))
}

/// Whether `line` starts a multi-line event: a traceback header, a
/// SyntaxError's bare `File` line, or Django's `Internal Server Error`.
pub fn starts_event(line: &str) -> bool {
    let l = strip_cr(line);
    is_traceback_start(l)
        || is_syntax_error_file_line(l)
        || l.starts_with(DJANGO_500)
        || django_500_path(l).is_some()
}

/// `Traceback (most recent call last):`, indented or not, and the exception
/// group headers (`  + Exception Group Traceback…`, `    | Traceback…`).
fn is_traceback_start(l: &str) -> bool {
    let t = l
        .trim_start_matches([' ', '\t', '+', '|'])
        .trim_end_matches([' ', '\t']);
    t == TRACEBACK || t == GROUP_TRACEBACK
}

/// `  File "x.py", line 3` with nothing after the number: the first line a
/// SyntaxError prints when there is no traceback header (a module that does
/// not compile). Frame lines end in `, in func` and never match.
fn is_syntax_error_file_line(l: &str) -> bool {
    let Some(rest) = l.strip_prefix("  File \"") else {
        return false;
    };
    let Some((_, tail)) = rest.rsplit_once("\", line ") else {
        return false;
    };
    !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())
}

/// `pkg.module.ErrorType: message` → (`pkg.module.ErrorType`, `Some("message")`);
/// a bare `KeyboardInterrupt` → (`KeyboardInterrupt`, `None`).
fn split_exception_line(l: &str) -> Option<(&str, Option<&str>)> {
    let (name, msg) = match memchr(b':', l.as_bytes()) {
        Some(i) => (l.get(..i)?, Some(l.get(i + 1..)?)),
        None => (l.trim_end(), None),
    };
    if !is_qualified_name(name) {
        return None;
    }
    match msg {
        None => {
            // A lone word is only taken for a class name (`KeyboardInterrupt`),
            // so a stray `starting` line does not pass as an exception.
            let last = name.rsplit('.').next()?;
            last.starts_with(|c: char| c.is_uppercase())
                .then_some((name, None))
        }
        Some(m) if m.trim().is_empty() => Some((name, None)),
        Some(m) if m.starts_with(' ') => Some((name, Some(m.trim()))),
        Some(_) => None,
    }
}

/// A dotted Python name, as `traceback` prints a type: `module.Qual.Name`,
/// including `f.<locals>.Error` for classes defined in functions.
fn is_qualified_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 512 {
        return false;
    }
    name.split('.').all(|seg| {
        seg == "<locals>"
            || (seg.starts_with(|c: char| c == '_' || c.is_alphabetic())
                && seg.chars().all(|c| c == '_' || c.is_alphanumeric()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds lines through an assembler the way the engine does and returns
    /// the emitted events (multi-line ones joined with `\n`).
    fn run(lines: &[&str]) -> Vec<String> {
        let bursts: Vec<(&str, Burst)> = lines.iter().map(|l| (*l, Burst::Unknown)).collect();
        run_bursts(&bursts)
    }

    /// [`run`], each line with how it came.
    fn run_bursts(lines: &[(&str, Burst)]) -> Vec<String> {
        let mut a = Assembler::new();
        let mut out = Vec::new();
        for (line, burst) in lines {
            loop {
                match a.push_in(line, *burst) {
                    Action::Single => out.push(line.to_string()),
                    Action::Taken => {}
                    Action::Flush => {
                        out.push(a.take().expect("flush with nothing pending"));
                        continue;
                    }
                    Action::Unjoin => {
                        out.push(a.take().expect("unjoin with nothing pending"));
                        let back = a.take_unjoined();
                        out.extend(back.split('\n').map(str::to_string));
                        continue;
                    }
                }
                break;
            }
        }
        out.extend(a.flush());
        out
    }

    /// All lines in one burst.
    fn burst<'a>(lines: &[&'a str]) -> Vec<(&'a str, Burst)> {
        lines.iter().map(|l| (*l, Burst::Same)).collect()
    }

    /// A cause with a two-line message, then the exception it caused.
    const CHAINED: [&str; 11] = [
        "Traceback (most recent call last):",
        "  File \"/tmp/chained.py\", line 2, in <module>",
        "OSError: disk says:",
        "no space left",
        "",
        CAUSE,
        "",
        "Traceback (most recent call last):",
        "  File \"/tmp/chained.py\", line 4, in <module>",
        "RuntimeError: could not save",
        "Details",
    ];

    const MULTI: [&str; 6] = [
        "Traceback (most recent call last):",
        "  File \"/tmp/multi.py\", line 1, in <module>",
        "    raise ValueError(\"line one\\nline two\")",
        "ValueError: line one",
        "line two",
        "note a",
    ];

    #[test]
    fn a_burst_ending_with_plain_lines_joins_them_to_the_message() {
        let out = run_bursts(&burst(&MULTI));
        assert_eq!(out, vec![MULTI.join("\n")]);
        let rec = parsed(&out[0]).unwrap();
        assert_eq!(
            get(&rec, Field::ExceptionMessage),
            Some("line one\nline two\nnote a")
        );
        // The next line after a pause is not the exception's.
        let mut lines = burst(&MULTI);
        lines.push(("app goes on", Burst::Paused));
        assert_eq!(
            run_bursts(&lines),
            vec![MULTI.join("\n"), "app goes on".into()]
        );
        // Nor is a line after a pause that would otherwise be taken.
        let mut lines = burst(&MULTI[..4]);
        lines.push(("line two", Burst::Paused));
        assert_eq!(
            run_bursts(&lines),
            vec![MULTI[..4].join("\n"), "line two".into()]
        );
    }

    #[test]
    fn a_line_of_its_own_in_the_burst_hands_the_plain_lines_back() {
        for own in [
            "INFO:root:next",
            "2026-12-03 14:34:42,884 INFO next",
            "{\"msg\":\"next\"}",
            "Traceback (most recent call last):",
        ] {
            let mut lines = burst(&MULTI);
            lines.push((own, Burst::Same));
            let out = run_bursts(&lines);
            assert_eq!(
                out[..3],
                [MULTI[..4].join("\n"), "line two".into(), "note a".into()],
                "{own}"
            );
            // The line itself is offered again (a traceback header starts one).
            assert_eq!(out.len(), 4, "{own}");
            assert_eq!(out[3], own);
        }
        // Straight after the exception line: a flush, as without bursts.
        let mut lines = burst(&MULTI[..4]);
        lines.push(("INFO:root:next", Burst::Same));
        assert_eq!(
            run_bursts(&lines),
            vec![MULTI[..4].join("\n"), "INFO:root:next".into()]
        );
    }

    #[test]
    fn a_reader_that_fell_behind_never_joins() {
        // The next line's bytes were waiting: the burst may not have ended.
        let mut lines = burst(&MULTI);
        lines.push(("app line 500", Burst::Unknown));
        let out = run_bursts(&lines);
        let want = [
            MULTI[..4].join("\n"),
            "line two".into(),
            "note a".into(),
            "app line 500".into(),
        ];
        assert_eq!(out, want);
        // Nor is a line joined that did not come in the exception's burst.
        let mut lines = burst(&MULTI[..4]);
        lines.push(("line two", Burst::Unknown));
        assert_eq!(
            run_bursts(&lines),
            vec![MULTI[..4].join("\n"), "line two".into()]
        );
    }

    #[test]
    fn a_chain_after_a_multi_line_message_keeps_it() {
        let chained = CHAINED;
        assert_eq!(run_bursts(&burst(&chained)), vec![chained.join("\n")]);
        // A blank, then plain text in the burst: handed back, blank dropped.
        let mut lines = burst(&MULTI);
        lines.push(("", Burst::Same));
        lines.push(("more", Burst::Same));
        let out = run_bursts(&lines);
        assert_eq!(
            out,
            vec![
                MULTI[..4].join("\n"),
                "line two".into(),
                "note a".into(),
                "more".into()
            ]
        );
    }

    #[test]
    fn too_many_plain_lines_are_not_a_message() {
        let mut lines = burst(&MULTI[..4]);
        let plain: Vec<String> = (0..=MAX_CONTINUATION_LINES)
            .map(|i| format!("plain {i}"))
            .collect();
        lines.extend(plain.iter().map(|l| (l.as_str(), Burst::Same)));
        let out = run_bursts(&lines);
        assert_eq!(out.len(), 1 + plain.len());
        assert_eq!(out[0], MULTI[..4].join("\n"));
        assert_eq!(out[1..], plain[..]);
        // Exactly the limit is still a message.
        lines.pop();
        assert_eq!(run_bursts(&lines).len(), 1);
    }

    fn parsed(event: &str) -> Option<Record<'_>> {
        let mut rec = Record::default();
        parse(event, &mut rec).then_some(rec)
    }

    fn get<'r>(rec: &'r Record<'_>, f: Field) -> Option<&'r str> {
        rec.get(f).and_then(|v| v.as_str())
    }

    const DJANGO_311: &str = "\
Internal Server Error: /boom/
Traceback (most recent call last):
  File \"/app/shop/views.py\", line 14, in boom
    order = Order.objects.get(pk=pk)
            ^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.11/site-packages/django/db/models/manager.py\", line 87, in manager_method
    return getattr(self.get_queryset(), name)(*args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.11/site-packages/django/db/models/query.py\", line 637, in get
    raise self.model.DoesNotExist(
shop.models.Order.DoesNotExist: Order matching query does not exist.

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/usr/local/lib/python3.11/site-packages/django/core/handlers/exception.py\", line 55, in inner
    response = get_response(request)
               ^^^^^^^^^^^^^^^^^^^^^
  File \"/usr/local/lib/python3.11/site-packages/django/core/handlers/base.py\", line 197, in _get_response
    response = wrapped_callback(request, *callback_args, **callback_kwargs)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/app/shop/views.py\", line 16, in boom
    return 1 / 0
           ~~^~~
ZeroDivisionError: division by zero";

    const UWSGI_REQ: &str = "[pid: 12|app: 0|req: 3/3] 127.0.0.1 () {38 vars in 612 bytes} [Tue Mar  5 10:15:33 2024] GET /boom/ => generated 145 bytes in 23 msecs (HTTP/1.1 500) 7 headers in 239 bytes (1 switches on core 0)";

    #[test]
    fn django_500_with_chain_then_uwsgi_line() {
        let mut lines: Vec<&str> = DJANGO_311.split('\n').collect();
        lines.push(UWSGI_REQ);
        let out = run(&lines);
        assert_eq!(out, vec![DJANGO_311.to_string(), UWSGI_REQ.to_string()]);

        let rec = parsed(&out[0]).unwrap();
        assert_eq!(rec.format, Format::PythonTraceback);
        assert_eq!(rec.severity, Some(Severity::ERROR));
        assert_eq!(get(&rec, Field::UrlPath), Some("/boom/"));
        assert_eq!(get(&rec, Field::ExceptionType), Some("ZeroDivisionError"));
        assert_eq!(get(&rec, Field::ExceptionMessage), Some("division by zero"));
        let trace = get(&rec, Field::ExceptionStacktrace).unwrap();
        assert!(trace.starts_with("Traceback (most recent call last):\n  File"));
        assert!(trace.ends_with("ZeroDivisionError: division by zero"));
        assert_eq!(
            trace.len(),
            DJANGO_311.len() - "Internal Server Error: /boom/\n".len()
        );
    }

    #[test]
    fn the_engine_protocol_step_by_step() {
        let mut a = Assembler::new();
        assert_eq!(a.push("Traceback (most recent call last):"), Action::Taken);
        assert!(a.is_pending());
        assert_eq!(a.push("  File \"/app/x.py\", line 3, in f"), Action::Taken);
        assert_eq!(a.push("    return d[k]"), Action::Taken);
        assert!(!a.looks_complete());
        assert_eq!(a.push("KeyError: 'k'"), Action::Taken);
        assert!(a.looks_complete());
        assert_eq!(a.push(UWSGI_REQ), Action::Flush);
        assert_eq!(
            a.take().as_deref(),
            Some("Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in f\n    return d[k]\nKeyError: 'k'")
        );
        assert!(!a.is_pending());
        assert_eq!(a.push(UWSGI_REQ), Action::Single);
        assert_eq!(a.take(), None);
    }

    #[test]
    fn blank_after_exception_without_chain_is_dropped() {
        let out = run(&[
            "Traceback (most recent call last):",
            "  File \"/app/manage.py\", line 22, in <module>",
            "    main()",
            "KeyboardInterrupt",
            "",
            "spawned uWSGI worker 1 (pid: 8, cores: 1)",
        ]);
        assert_eq!(
            out,
            vec![
                "Traceback (most recent call last):\n  File \"/app/manage.py\", line 22, in <module>\n    main()\nKeyboardInterrupt".to_string(),
                "spawned uWSGI worker 1 (pid: 8, cores: 1)".to_string(),
            ]
        );
        let rec = parsed(&out[0]).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("KeyboardInterrupt"));
        assert_eq!(rec.get(Field::ExceptionMessage), None);
        assert_eq!(rec.get(Field::UrlPath), None);
    }

    #[test]
    fn held_blank_at_end_of_stream_is_dropped() {
        let out = run(&["Traceback (most recent call last):", "ValueError: x", ""]);
        assert_eq!(
            out,
            vec!["Traceback (most recent call last):\nValueError: x"]
        );
    }

    /// `logger.exception()` in a view: the record line, then its exc_info,
    /// written by Python's logging in one write.
    const LOGGED: [&str; 4] = [
        "2026-12-05 04:00:00,123 ERROR [demo] [4bf92f3577b34da6a3ce929d0e0e4736] boom",
        "Traceback (most recent call last):",
        "  File \"/app/demo/views.py\", line 9, in cause",
        "ZeroDivisionError: division by zero",
    ];

    #[test]
    fn an_error_record_and_the_traceback_it_logged_are_one_event() {
        for how in [Burst::Same, Burst::Unknown] {
            let lines: Vec<_> = LOGGED.iter().map(|l| (*l, how)).collect();
            let out = run_bursts(&lines);
            assert_eq!(out, vec![LOGGED.join("\n")], "{how:?}");
        }
        let event = LOGGED.join("\n");
        let mut rec = Record::default();
        assert!(parse(&event, &mut rec));
        assert_eq!(rec.format, Format::PythonTraceback);
        assert_eq!(
            rec.get(Field::ExceptionType).and_then(|v| v.as_str()),
            Some("ZeroDivisionError")
        );
        assert_eq!(
            rec.get(Field::HttpRequestId).and_then(|v| v.as_str()),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn a_record_and_a_traceback_apart_or_below_error_stay_two() {
        // The traceback came after the writer paused: written on its own.
        let mut paused: Vec<_> = LOGGED.iter().map(|l| (*l, Burst::Same)).collect();
        paused[1].1 = Burst::Paused;
        assert_eq!(run_bursts(&paused).len(), 2);
        // An INFO record is not held for a traceback.
        let info = LOGGED[0].replace(" ERROR ", " INFO ");
        let mut lines = vec![info.as_str()];
        lines.extend(&LOGGED[1..]);
        assert_eq!(run(&lines), vec![info.clone(), LOGGED[1..].join("\n")]);
        // An error record followed by a line of its own: both alone.
        let out = run(&[LOGGED[0], "2026-12-05 04:00:01,000 INFO [demo] [-] next"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], LOGGED[0]);
        // The basic format (`logging.basicConfig`, a Django logger) too.
        let basic = [
            "ERROR:django.template:boom",
            LOGGED[1],
            LOGGED[2],
            LOGGED[3],
        ];
        assert_eq!(run(&basic), vec![basic.join("\n")]);
    }

    #[test]
    fn lone_django_line_is_emitted_alone() {
        let out = run(&[
            "Internal Server Error: /boom/",
            "Not Found: /favicon.ico",
            "Internal Server Error: /x/",
        ]);
        assert_eq!(
            out,
            vec![
                "Internal Server Error: /boom/",
                "Not Found: /favicon.ico",
                "Internal Server Error: /x/"
            ]
        );
        let mut rec = Record::default();
        assert!(!parse("Internal Server Error: /boom/", &mut rec));
        assert!(rec.fields.is_empty());
    }

    #[test]
    fn dotted_types_and_cause_chains() {
        let ev = "\
Traceback (most recent call last):
  File \"/app/settings.py\", line 3, in <module>
    import missing
ModuleNotFoundError: No module named 'missing'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File \"/app/apps.py\", line 9, in ready
    raise ImproperlyConfigured(\"x: y\") from e
django.core.exceptions.ImproperlyConfigured: x: y";
        let lines: Vec<&str> = ev.split('\n').collect();
        assert_eq!(run(&lines), vec![ev]);
        let rec = parsed(ev).unwrap();
        assert_eq!(
            get(&rec, Field::ExceptionType),
            Some("django.core.exceptions.ImproperlyConfigured")
        );
        assert_eq!(get(&rec, Field::ExceptionMessage), Some("x: y"));
    }

    #[test]
    fn syntax_error_without_header() {
        let ev = "  File \"/app/shop/urls.py\", line 5\n    path('x' views.x),\n         ^\nSyntaxError: invalid syntax";
        let mut lines: Vec<&str> = ev.split('\n').collect();
        lines.push("*** Starting uWSGI 2.0.21-debian (64bit) on [Wed Nov 25 18:34:21 2026] ***");
        let out = run(&lines);
        assert_eq!(out[0], ev);
        assert_eq!(out.len(), 2);
        let rec = parsed(ev).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("SyntaxError"));
        assert_eq!(get(&rec, Field::ExceptionStacktrace), Some(ev));
        // An ordinary frame line does not start an event.
        assert_eq!(run(&["  File \"/x.py\", line 1, in f"]).len(), 1);
        assert!(parsed("  File \"/app/x.py\", line 5\n    x").is_none());
    }

    #[test]
    fn syntax_error_inside_a_traceback() {
        let ev = "Traceback (most recent call last):\n  File \"/app/manage.py\", line 22, in <module>\n    main()\n  File \"/app/shop/urls.py\", line 5\n    path('x' views.x),\n         ^\nSyntaxError: invalid syntax";
        let lines: Vec<&str> = ev.split('\n').collect();
        assert_eq!(run(&lines), vec![ev]);
    }

    #[test]
    fn exception_groups() {
        let ev = "  + Exception Group Traceback (most recent call last):
  |   File \"/app/jobs.py\", line 8, in <module>
  |     asyncio.run(main())
  | ExceptionGroup: unhandled errors in a TaskGroup (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File \"/app/jobs.py\", line 3, in one
    | ValueError: bad value
    +---------------- 2 ----------------
    | TypeError: bad type
    +------------------------------------";
        let mut lines: Vec<&str> = ev.split('\n').collect();
        lines.push("");
        lines.push("next");
        let out = run(&lines);
        assert_eq!(out, vec![ev, "next"]);
        let rec = parsed(ev).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("ExceptionGroup"));
        assert_eq!(
            get(&rec, Field::ExceptionMessage),
            Some("unhandled errors in a TaskGroup (2 sub-exceptions)")
        );
    }

    #[test]
    fn interrupted_traceback_does_not_swallow_lines() {
        let out = run(&[
            "Traceback (most recent call last):",
            "  File \"/app/x.py\", line 1, in f",
            "2026/11/25 18:35:12 [notice] 1#1: start worker process 31",
            "  not part of anything",
        ]);
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0],
            "Traceback (most recent call last):\n  File \"/app/x.py\", line 1, in f"
        );
        // A new header right after an exception line starts a new event.
        let out = run(&[
            "Traceback (most recent call last):",
            "OSError: one",
            "Traceback (most recent call last):",
            "OSError: two",
        ]);
        assert_eq!(out.len(), 2);
    }

    /// Python 3.11.2's own output (fixtures/python-exceptions.log): a
    /// message over several lines, and add_note() notes, follow the
    /// exception line unindented; all of it belongs to the exception.
    #[test]
    fn multi_line_messages_and_notes_in_one_message() {
        let multi = [
            "Traceback (most recent call last):",
            "  File \"/tmp/multi.py\", line 1, in <module>",
            "    raise ValueError(\"line one\\nline two\\nthe last line\")",
            "ValueError: line one",
            "line two",
            "the last line",
        ];
        let notes = [
            "Traceback (most recent call last):",
            "  File \"/tmp/notes.py\", line 2, in <module>",
            "    {}[\"key\"]",
            "    ~~^^^^^^^",
            "KeyError: 'key'",
            "while loading settings.toml",
            "hint: run with --init",
            "to create it",
        ];
        // Line by line, the assembler cannot tell a message's later lines
        // from the program's next plain line: they stay events of their own.
        let out = run(&multi);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], multi[..4].join("\n"));
        // One message holding the whole traceback (syslog, OTLP, a forced
        // format) keeps them in exception.message.
        let out = [multi.join("\n"), notes.join("\n")];
        let rec = parsed(&out[0]).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("ValueError"));
        assert_eq!(
            get(&rec, Field::ExceptionMessage),
            Some("line one\nline two\nthe last line")
        );
        let rec = parsed(&out[1]).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("KeyError"));
        assert_eq!(
            get(&rec, Field::ExceptionMessage),
            Some("'key'\nwhile loading settings.toml\nhint: run with --init\nto create it")
        );
        // A chained cause with a two-line message; the last block's wins.
        let chained = CHAINED;
        let joined = chained.join("\n");
        let rec = parsed(&joined).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("RuntimeError"));
        assert_eq!(
            get(&rec, Field::ExceptionMessage),
            Some("could not save\nDetails")
        );
    }

    /// Django 3.2.25's `Internal Server Error` header in the asctime and the
    /// docs' verbose formats (fixtures/django-formats.log) joins the traceback.
    #[test]
    fn django_header_with_a_formatter_prefix_joins_its_traceback() {
        for header in [
            "2026-12-03 14:34:42,885 ERROR django.request Internal Server Error: /boom/",
            "ERROR 2026-12-03 14:34:43,304 log 16414 140380256527040 Internal Server Error: /boom/",
            "ERROR:django.request:Internal Server Error: /boom/",
        ] {
            let lines = [
                header,
                "Traceback (most recent call last):",
                "  File \"/tmp/run.py\", line 14, in boom",
                "    return 1 / 0",
                "           ~~^~~",
                "ZeroDivisionError: division by zero",
                "2026-12-03 14:34:42,890 WARNING django.request Not Found: /nope/",
            ];
            let out = run(&lines);
            assert_eq!(out.len(), 2, "{header}");
            assert_eq!(out[0], lines[..6].join("\n"));
            let rec = parsed(&out[0]).unwrap();
            assert_eq!(rec.format, Format::PythonTraceback);
            assert_eq!(get(&rec, Field::UrlPath), Some("/boom/"), "{header}");
            assert_eq!(get(&rec, Field::ExceptionType), Some("ZeroDivisionError"));
            assert_eq!(
                rec.get(Field::HttpResponseStatusCode)
                    .and_then(crate::field::Value::as_int),
                Some(500)
            );
            if !header.starts_with("ERROR:") {
                assert!(rec.timestamp.is_some(), "{header}");
            }
        }
    }

    /// The example project's request-id format (docs/django.md): the
    /// header still joins its traceback, whose event takes the header's
    /// logger and request id (a `-` id is none).
    #[test]
    fn django_header_with_a_request_id_joins_its_traceback() {
        for (header, id) in [
            (
                "2026-12-04 18:33:46,123 ERROR [django.request] [4bf92f3577b34da6a3ce929d0e0e4736] Internal Server Error: /boom/",
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            ),
            (
                "2026-12-04 18:33:46,123 ERROR [django.request] [-] Internal Server Error: /boom/",
                None,
            ),
        ] {
            let lines = [
                header,
                "Traceback (most recent call last):",
                "  File \"/tmp/run.py\", line 14, in boom",
                "    return 1 / 0",
                "ZeroDivisionError: division by zero",
                "2026-12-04 18:33:46,130 INFO [demo] [-] next",
            ];
            let out = run(&lines);
            assert_eq!(out.len(), 2, "{header}");
            assert_eq!(out[0], lines[..5].join("\n"));
            let rec = parsed(&out[0]).unwrap();
            assert_eq!(rec.format, Format::PythonTraceback);
            assert_eq!(get(&rec, Field::UrlPath), Some("/boom/"));
            assert_eq!(get(&rec, Field::LogLogger), Some("django.request"));
            assert_eq!(get(&rec, Field::HttpRequestId), id);
            assert_eq!(
                rec.timestamp.map(|t| t.to_rfc3339(0)).as_deref(),
                Some("2026-12-04T18:33:46.123+00:00")
            );
        }
    }

    #[test]
    fn chain_header_without_traceback_ends_the_event() {
        let out = run(&[
            "Traceback (most recent call last):",
            "ValueError: x",
            "",
            CONTEXT,
            "",
            "hello",
        ]);
        assert_eq!(
            out,
            vec![
                format!("Traceback (most recent call last):\nValueError: x\n\n{CONTEXT}"),
                "hello".to_string()
            ]
        );
    }

    #[test]
    fn size_bound_completes_the_event() {
        let mut a = Assembler::new();
        assert_eq!(a.push(TRACEBACK), Action::Taken);
        let frame = "  File \"/app/x.py\", line 1, in f";
        let mut taken = 1;
        loop {
            match a.push(frame) {
                Action::Taken => taken += 1,
                Action::Flush => break,
                Action::Single | Action::Unjoin => panic!("single while pending"),
            }
        }
        assert_eq!(taken, MAX_EVENT_LINES);
        let ev = a.take().unwrap();
        assert_eq!(ev.split('\n').count(), MAX_EVENT_LINES);
        assert_eq!(a.push(frame), Action::Single);

        let big = format!("  {}", "x".repeat(600_000));
        assert_eq!(a.push(TRACEBACK), Action::Taken);
        assert_eq!(a.push(&big), Action::Taken);
        assert_eq!(a.push(&big), Action::Flush);
        assert!(a.take().unwrap().len() <= MAX_EVENT_BYTES);
    }

    #[test]
    fn exception_line_shapes() {
        assert_eq!(
            split_exception_line("ZeroDivisionError: division by zero"),
            Some(("ZeroDivisionError", Some("division by zero")))
        );
        assert_eq!(
            split_exception_line("socket.timeout: timed out"),
            Some(("socket.timeout", Some("timed out")))
        );
        assert_eq!(
            split_exception_line("__main__.f.<locals>.Oops: no"),
            Some(("__main__.f.<locals>.Oops", Some("no")))
        );
        assert_eq!(
            split_exception_line("StopIteration"),
            Some(("StopIteration", None))
        );
        assert_eq!(
            split_exception_line("Exception:"),
            Some(("Exception", None))
        );
        assert_eq!(split_exception_line("starting"), None);
        assert_eq!(split_exception_line("http://x"), None);
        assert_eq!(split_exception_line(CONTEXT), None);
        assert_eq!(split_exception_line(UWSGI_REQ), None);
        assert_eq!(split_exception_line(""), None);
    }

    #[test]
    fn crlf_lines() {
        let out = run(&[
            "Traceback (most recent call last):\r",
            "  File \"a\", line 1, in f\r",
            "OSError: x\r",
            "\r",
            "next\r",
        ]);
        assert_eq!(out.len(), 2);
        let rec = parsed(&out[0]).unwrap();
        assert_eq!(get(&rec, Field::ExceptionType), Some("OSError"));
        assert_eq!(get(&rec, Field::ExceptionMessage), Some("x"));
    }

    fn line_strategy() -> impl Strategy<Value = String> {
        let lossy = any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).replace('\n', " "));
        prop_oneof![
            3 => lossy,
            1 => Just(String::new()),
            1 => Just(TRACEBACK.to_string()),
            1 => Just("  + Exception Group Traceback (most recent call last):".to_string()),
            1 => Just("Internal Server Error: /boom/".to_string()),
            2 => Just("  File \"/app/x.py\", line 3, in f".to_string()),
            1 => Just("  File \"/app/x.py\", line 3".to_string()),
            1 => Just("    ^^^^".to_string()),
            1 => Just("  | ValueError: x".to_string()),
            2 => Just("ValueError: bad".to_string()),
            1 => Just("KeyboardInterrupt".to_string()),
            1 => Just(CONTEXT.to_string()),
            1 => Just(CAUSE.to_string()),
            1 => Just(UWSGI_REQ.to_string()),
        ]
    }

    proptest! {
        #[test]
        fn no_non_blank_line_is_lost(lines in proptest::collection::vec(line_strategy(), 0..60)) {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let out = run(&refs);
            let mut emitted: Vec<&str> = Vec::new();
            for ev in &out {
                let mut rec = Record::default();
                let _ = parse(ev, &mut rec);
                emitted.extend(ev.split('\n'));
            }
            // The emitted lines are the input in order, less some blank lines.
            let mut j = 0;
            for line in &refs {
                if emitted.get(j) == Some(line) {
                    j += 1;
                } else {
                    prop_assert!(is_blank(strip_cr(line)), "lost line {:?}", line);
                }
            }
            prop_assert_eq!(j, emitted.len());
        }

        #[test]
        fn parse_never_panics(s in any::<Vec<u8>>()) {
            let s = String::from_utf8_lossy(&s);
            let mut rec = Record::default();
            let _ = parse(&s, &mut rec);
            let with_header = format!("Internal Server Error: {s}\n{TRACEBACK}\n{s}");
            let mut rec = Record::default();
            prop_assert!(parse(&with_header, &mut rec));
        }
    }
}
