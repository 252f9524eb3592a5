//! The syntax of a supervisord file as Python's ConfigParser reads it with
//! supervisord's settings: `[section]` headers, `key = value` or
//! `key: value`, indented continuation lines, and `;`/`#` comments after
//! whitespace. Each value keeps the file offsets of its lines for messages.

use std::ops::Range;

use crate::config::error::{ConfigError, Locator};

/// One `key = value` with its continuation lines.
pub(super) struct Entry<'t> {
    /// Lowercased, as ConfigParser's `optionxform` does.
    pub(super) key: String,
    pub(super) line: usize,
    /// Each line's text (trimmed, comment cut off) and its offset in the
    /// file; `""` for a blank line inside the value.
    pub(super) parts: Vec<(&'t str, usize)>,
}

pub(super) struct Section<'t> {
    /// The header between `[` and `]`, trimmed (around the `:` too).
    pub(super) name: String,
    pub(super) line: usize,
    /// The header line's text, where values supervisord defaults point.
    pub(super) span: Range<usize>,
    pub(super) entries: Vec<Entry<'t>>,
}

impl<'t> Section<'t> {
    pub(super) fn get(&self, key: &str) -> Option<&Entry<'t>> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// A value joined from its lines as ConfigParser joins them (`\n`), with
/// the way back to file offsets for messages.
pub(super) struct Value {
    pub(super) text: String,
    /// Where each line's part starts: (byte in `text`, byte in the file).
    pub(super) starts: Vec<(usize, usize)>,
    pub(super) span: Range<usize>,
}

impl Entry<'_> {
    pub(super) fn value(&self) -> Value {
        // Trailing blank lines are dropped, like ConfigParser's rstrip.
        let keep = self
            .parts
            .iter()
            .rposition(|(s, _)| !s.is_empty())
            .map_or(1, |i| i + 1);
        let parts = self.parts.get(..keep).unwrap_or(&self.parts);
        let mut text = String::new();
        let mut starts = Vec::with_capacity(parts.len());
        for (i, (s, at)) in parts.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            starts.push((text.len(), *at));
            text.push_str(s);
        }
        let mut filled = parts.iter().filter(|(s, _)| !s.is_empty());
        let first = filled
            .clone()
            .next()
            .or(parts.first())
            .map_or(0, |(_, at)| *at);
        let end = filled.next_back().map_or(first, |(s, at)| at + s.len());
        Value {
            text,
            starts,
            span: first..end,
        }
    }
}

impl Value {
    /// The file offset of a byte in `text`.
    pub(super) fn offset(&self, at: usize) -> usize {
        self.starts
            .iter()
            .rev()
            .find(|(i, _)| *i <= at)
            .map_or(self.span.start, |(i, off)| off + (at - i))
    }
}

/// Splits the text into sections the way Python's ConfigParser does with
/// supervisord's settings, except that a repeated section or key is an
/// error here (supervisord's `strict=False` silently merges them).
pub(super) fn read_sections<'t>(loc: &Locator<'t>) -> Result<Vec<Section<'t>>, ConfigError> {
    let mut sections: Vec<Section<'t>> = Vec::new();
    // ConfigParser's state: whether the last key line opened a value that
    // more-indented lines continue, and that line's indent.
    let mut in_value = false;
    let mut indent_level = usize::MAX;
    // A byte-order mark is no part of the first line.
    let body = loc.text.strip_prefix('\u{feff}').unwrap_or(loc.text);
    let mut line_start = loc.text.len() - body.len();
    for (index, raw) in body.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let start = line_start;
        line_start += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let comment = comment_start(line);
        let content = line.get(..comment.unwrap_or(line.len())).unwrap_or(line);
        let (value, at) = trim_at(content, start);
        if value.is_empty() {
            // A blank line may sit inside a value; a comment line adds none.
            if comment.is_none() && in_value {
                if let Some(e) = last_entry(&mut sections) {
                    e.parts.push(("", at));
                }
            }
            continue;
        }
        // Python counts the indent in characters.
        let indent = line.chars().take_while(|c| c.is_whitespace()).count();
        if in_value && indent > indent_level {
            if let Some(e) = last_entry(&mut sections) {
                e.parts.push((value, at));
            }
            continue;
        }
        indent_level = indent;
        if let Some(header) = header(value) {
            let name = match header.split_once(':') {
                Some((kind, rest)) => format!("{}:{}", kind.trim(), rest.trim()),
                None => header.trim().to_string(),
            };
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                return Err(loc.invalid(
                    at,
                    &section_key(&name),
                    format!("duplicate section (first at line {})", first.line),
                ));
            }
            sections.push(Section {
                name,
                line: line_no,
                span: at..at + value.len(),
                entries: Vec::new(),
            });
            in_value = false;
            continue;
        }
        let Some(section) = sections.last_mut() else {
            let key = value
                .split(['=', ':'])
                .next()
                .unwrap_or("")
                .trim()
                .to_lowercase();
            return Err(loc.invalid(at, &key, "a key before the first [section]"));
        };
        let Some(delim) = value.find(['=', ':']) else {
            return Err(loc.invalid(
                at,
                &section_key(&section.name),
                format!("`{value}` is neither `key = value` nor a [section]"),
            ));
        };
        let key = value.get(..delim).unwrap_or("").trim_end().to_lowercase();
        let path_key = format!("{}.{key}", section_key(&section.name));
        if key.is_empty() {
            return Err(loc.invalid(at, &path_key, "a value without a key"));
        }
        if let Some(first) = section.get(&key) {
            return Err(loc.invalid(
                at,
                &path_key,
                format!("duplicate key (first at line {})", first.line),
            ));
        }
        // `=` and `:` are one byte each.
        let (v, v_at) = trim_at(value.get(delim + 1..).unwrap_or(""), at + delim + 1);
        section.entries.push(Entry {
            key,
            line: line_no,
            parts: vec![(v, v_at)],
        });
        in_value = true;
    }
    Ok(sections)
}

pub(super) fn last_entry<'s, 't>(sections: &'s mut [Section<'t>]) -> Option<&'s mut Entry<'t>> {
    sections.last_mut().and_then(|s| s.entries.last_mut())
}

/// Where a comment starts: `;` or `#` first on the line or after
/// whitespace. Mirrors ConfigParser's search, which takes the first valid
/// position of whichever prefix finds one first, so `a#b #c ;d` keeps `#c`.
pub(super) fn comment_start(line: &str) -> Option<usize> {
    const PREFIXES: [char; 2] = [';', '#'];
    // Per prefix: where to search next, or `None` once it is not found.
    let mut next = [Some(0usize); 2];
    let mut found = None;
    while found.is_none() && next.iter().any(Option::is_some) {
        for (prefix, next) in PREFIXES.iter().zip(next.iter_mut()) {
            let Some(from) = *next else {
                continue;
            };
            match line.get(from..).and_then(|rest| rest.find(*prefix)) {
                None => *next = None,
                Some(rel) => {
                    let i = from + rel;
                    *next = Some(i + 1);
                    let after_space = line
                        .get(..i)
                        .and_then(|before| before.chars().next_back())
                        .is_none_or(char::is_whitespace);
                    if after_space {
                        found = Some(found.map_or(i, |f: usize| f.min(i)));
                    }
                }
            }
        }
    }
    if line.trim_start().starts_with(PREFIXES) {
        return Some(0);
    }
    found
}

/// `[name]`: the text between the first `[` and the last `]`, as Python's
/// permissive section pattern takes it.
pub(super) fn header(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    if close == 0 {
        return None;
    }
    inner.get(..close)
}

pub(super) fn trim_at(s: &str, base: usize) -> (&str, usize) {
    let lead = s.len() - s.trim_start().len();
    (s.trim(), base + lead)
}

/// How messages name a section: `program.web` like the TOML config.
pub(super) fn section_key(name: &str) -> String {
    match name.strip_prefix("program:") {
        Some(program) => format!("program.{program}"),
        None => name.to_string(),
    }
}
