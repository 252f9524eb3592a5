//! supervisord's INI config as a drop-in: `logmux run --config
//! supervisord.conf` runs an existing supervisord config unchanged.
//!
//! The reader builds the same [`RawFile`] that the TOML path deserializes,
//! each value spanned with its byte range in the INI text, so `resolve`
//! applies the same checks and its errors point into this file. Where
//! supervisord's defaults differ from logmux's (process-group signals, log
//! rotation), the reader writes supervisord's. What logmux does not reproduce
//! is named in a warning, one line per key, and never dropped silently.
//!
//! Hand-written on purpose: no INI crate says where a value sits in the
//! file, and none follows Python's ConfigParser as supervisord sets it up
//! (indented continuation lines, `;` and `#` comments after whitespace, the
//! key ending at the first `=` or `:`), nor supervisord's `%(ENV_X)s`.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::iter::Peekable;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::CharIndices;

use indexmap::IndexMap;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::run::{
    CommandValue, DurationValue, Env, RawFile, RawProgram, RawSink, RawStream, SizeValue,
};

/// Whether a file is a supervisord config rather than TOML: any file with
/// one of supervisord's section headers (`[program:x]` is not even valid
/// TOML), or a `.conf`/`.ini` file without logmux's own TOML tables (so a
/// `logmux.conf` written in TOML stays TOML).
pub fn looks_like_ini(path: &Path, text: &str) -> bool {
    const SUPERVISORD: [&str; 9] = [
        "[program:",
        "[supervisord]",
        "[supervisorctl]",
        "[include]",
        "[group:",
        "[eventlistener:",
        "[fcgi-program:",
        "[unix_http_server]",
        "[inet_http_server]",
    ];
    const LOGMUX: [&str; 4] = ["[program.", "[sink.", "[env]", "[[template]]"];
    let headers = || text.lines().map(str::trim_start);
    if headers().any(|l| SUPERVISORD.iter().any(|s| l.starts_with(s))) {
        return true;
    }
    let ini_name = path.extension().is_some_and(|e| e == "conf" || e == "ini");
    ini_name && !headers().any(|l| LOGMUX.iter().any(|s| l.starts_with(s)))
}

/// Reads a supervisord config into the shape `resolve` checks.
pub fn parse(
    loc: &Locator<'_>,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RawFile, ConfigError> {
    let sections = read_sections(loc)?;
    let reader = Reader {
        loc,
        here: here(loc.path),
        host: OnceCell::new(),
    };
    let mut out = Out {
        path: loc.path,
        warn,
        file: RawFile::default(),
        file_sinks: HashMap::new(),
    };
    // `[supervisord] environment` reaches every program, wherever it sits.
    let global_env = match sections.iter().find(|s| s.name == "supervisord") {
        Some(s) => reader.global_env(s, env)?,
        None => IndexMap::new(),
    };
    for s in &sections {
        let (kind, name) = match s.name.split_once(':') {
            Some((kind, name)) => (kind, Some(name)),
            None => (s.name.as_str(), None),
        };
        match (kind, name) {
            ("program", Some(name)) => reader.program(&mut out, s, name, &global_env, env)?,
            ("supervisord", None) => supervisord(&mut out, s),
            // supervisorctl's side: logmux has its own `logmux ctl` socket.
            ("supervisorctl" | "unix_http_server", None)
            | ("rpcinterface" | "ctlplugin", Some(_)) => {}
            ("inet_http_server", None) => {
                if let Some(e) = s.get("port") {
                    out.warn(
                        e.line,
                        s,
                        "port: logmux serves no HTTP control port (use `logmux ctl`), ignored",
                    );
                }
            }
            ("include", None) => {
                let files = s.get("files").map(|e| e.value().text).unwrap_or_default();
                let files = files.split_whitespace().collect::<Vec<_>>().join(" ");
                let what = if files.is_empty() {
                    "includes are not followed".to_string()
                } else {
                    format!("files={files}: includes are not followed, those files are not read")
                };
                out.warn(s.line, s, &what);
            }
            ("group", Some(_)) => {
                out.warn(
                    s.line,
                    s,
                    "not supported, ignored (its programs run on their own)",
                );
            }
            ("eventlistener" | "fcgi-program", Some(_)) => {
                out.warn(s.line, s, "not supported, ignored");
            }
            _ => out.warn(s.line, s, "unknown section, ignored"),
        }
    }
    Ok(out.file)
}

// ------------------------------------------------------------------ syntax

/// One `key = value` with its continuation lines.
struct Entry<'t> {
    /// Lowercased, as ConfigParser's `optionxform` does.
    key: String,
    line: usize,
    /// Each line's text (trimmed, comment cut off) and its offset in the
    /// file; `""` for a blank line inside the value.
    parts: Vec<(&'t str, usize)>,
}

struct Section<'t> {
    /// The header between `[` and `]`, trimmed (around the `:` too).
    name: String,
    line: usize,
    /// The header line's text, where values supervisord defaults point.
    span: Range<usize>,
    entries: Vec<Entry<'t>>,
}

impl<'t> Section<'t> {
    fn get(&self, key: &str) -> Option<&Entry<'t>> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// A value joined from its lines as ConfigParser joins them (`\n`), with
/// the way back to file offsets for messages.
struct Value {
    text: String,
    /// Where each line's part starts: (byte in `text`, byte in the file).
    starts: Vec<(usize, usize)>,
    span: Range<usize>,
}

impl Entry<'_> {
    fn value(&self) -> Value {
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
    fn offset(&self, at: usize) -> usize {
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
fn read_sections<'t>(loc: &Locator<'t>) -> Result<Vec<Section<'t>>, ConfigError> {
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

fn last_entry<'s, 't>(sections: &'s mut [Section<'t>]) -> Option<&'s mut Entry<'t>> {
    sections.last_mut().and_then(|s| s.entries.last_mut())
}

/// Where a comment starts: `;` or `#` first on the line or after
/// whitespace. Mirrors ConfigParser's search, which takes the first valid
/// position of whichever prefix finds one first, so `a#b #c ;d` keeps `#c`.
fn comment_start(line: &str) -> Option<usize> {
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
fn header(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    if close == 0 {
        return None;
    }
    inner.get(..close)
}

fn trim_at(s: &str, base: usize) -> (&str, usize) {
    let lead = s.len() - s.trim_start().len();
    (s.trim(), base + lead)
}

/// How messages name a section: `program.web` like the TOML config.
fn section_key(name: &str) -> String {
    match name.strip_prefix("program:") {
        Some(program) => format!("program.{program}"),
        None => name.to_string(),
    }
}

// ---------------------------------------------------------- interpolation

/// What `%(name)s` may name in one section.
struct Names<'a> {
    /// `%(program_name)s`, `%(group_name)s`; `None` outside `[program:x]`.
    program: Option<&'a str>,
    process_num: i64,
    numprocs: i64,
    /// `%(ENV_X)s`.
    env: &'a dyn Fn(&str) -> Option<String>,
}

enum Named {
    Text(String),
    Number(i64),
}

/// One `%(name)…` conversion after the name: flags, width, precision, type.
struct Conversion {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
    precision: Option<usize>,
    kind: char,
}

/// Python pads to any width; a typo must not ask for gigabytes.
const MAX_WIDTH: usize = 1024;

impl Conversion {
    /// Reads `02d`, `-10s`, `s`…; returns it and the bytes it took.
    fn parse(s: &str) -> Result<(Conversion, usize), String> {
        let mut c = Conversion {
            left: false,
            zero: false,
            plus: false,
            space: false,
            width: 0,
            precision: None,
            kind: 's',
        };
        let mut chars = s.char_indices().peekable();
        while let Some(&(_, ch)) = chars.peek() {
            match ch {
                '-' => c.left = true,
                '0' => c.zero = true,
                '+' => c.plus = true,
                ' ' => c.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        c.width = Self::number(&mut chars)?;
        if chars.peek().is_some_and(|&(_, ch)| ch == '.') {
            chars.next();
            c.precision = Some(Self::number(&mut chars)?);
        }
        if chars
            .peek()
            .is_some_and(|&(_, ch)| matches!(ch, 'h' | 'l' | 'L'))
        {
            chars.next();
        }
        let Some((at, kind)) = chars.next() else {
            return Err("the conversion is missing: write `s` or `d` after `)`".into());
        };
        c.kind = kind;
        Ok((c, at + kind.len_utf8()))
    }

    fn number(chars: &mut Peekable<CharIndices<'_>>) -> Result<usize, String> {
        let mut n = 0usize;
        while let Some(d) = chars.peek().and_then(|&(_, ch)| ch.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(d as usize);
            chars.next();
        }
        if n > MAX_WIDTH {
            Err(format!("a width over {MAX_WIDTH}"))
        } else {
            Ok(n)
        }
    }

    fn apply(&self, value: Named) -> Result<String, String> {
        let body = match (self.kind, value) {
            ('s', Named::Text(t)) => match self.precision {
                Some(p) => t.chars().take(p).collect(),
                None => t,
            },
            ('s', Named::Number(n)) => n.to_string(),
            ('d' | 'i' | 'u', Named::Number(n)) => {
                let mut digits = n.unsigned_abs().to_string();
                if let Some(p) = self.precision {
                    while digits.len() < p {
                        digits.insert(0, '0');
                    }
                }
                let sign = match (n < 0, self.plus, self.space) {
                    (true, _, _) => "-",
                    (false, true, _) => "+",
                    (false, false, true) => " ",
                    _ => "",
                };
                if self.zero && !self.left {
                    while sign.len() + digits.len() < self.width {
                        digits.insert(0, '0');
                    }
                }
                format!("{sign}{digits}")
            }
            ('d' | 'i' | 'u', Named::Text(_)) => {
                return Err("is text: use `s`, not a number conversion".into())
            }
            (other, _) => {
                return Err(format!(
                    "`{other}` is not a conversion supervisord configs use (s or d)"
                ))
            }
        };
        let pad = self.width.saturating_sub(body.chars().count());
        let spaces = " ".repeat(pad);
        Ok(if self.left {
            format!("{body}{spaces}")
        } else {
            format!("{spaces}{body}")
        })
    }
}

// ------------------------------------------------------------------ reader

/// supervisord's program keys; any other is warned about and ignored.
const PROGRAM_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
];

/// `[supervisord]` keys with nothing to reproduce: logmux runs in the
/// foreground and writes its own events through its sinks.
const SUPERVISORD_QUIET: &[&str] = &[
    "nodaemon",
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "childlogdir",
    "user",
    "minfds",
    "minprocs",
    "silent",
    "nocleanup",
    "identifier",
    "profile_options",
    // Applied to every program by `global_env`.
    "environment",
    // logmux strips ANSI escapes from every line anyway.
    "strip_ansi",
];

/// A value after `%(…)s` is filled, trimmed, with its place in the file.
struct Got {
    text: String,
    span: Range<usize>,
}

/// What reading needs to know; the result goes to [`Out`], kept apart so
/// that lookups can borrow the reader while results are written.
struct Reader<'a> {
    loc: &'a Locator<'a>,
    /// `%(here)s`: the config file's directory, absolute.
    here: String,
    /// `%(host_node_name)s`, looked up only when named.
    host: OnceCell<String>,
}

struct Out<'a> {
    path: &'a Path,
    warn: &'a mut dyn FnMut(String),
    file: RawFile,
    /// Each file sink's first program and rotation, to notice a second
    /// program that asks for other rotation of the same file.
    file_sinks: HashMap<String, (String, Option<u64>, u32)>,
}

impl Out<'_> {
    /// One line: file:line, the section and the key.
    fn warn(&mut self, line: usize, section: &Section<'_>, what: &str) {
        let message = format!("{}:{line}: [{}] {what}", self.path.display(), section.name);
        (self.warn)(message);
    }
}

impl Reader<'_> {
    /// A key's value with `%(…)s` filled; `flat` joins its lines with
    /// spaces (a command or environment split over lines).
    fn expanded(
        &self,
        e: &Entry<'_>,
        names: &Names<'_>,
        key: &str,
        flat: bool,
    ) -> Result<Got, ConfigError> {
        let value = e.value();
        let text = if flat {
            value.text.replace('\n', " ")
        } else {
            value.text.clone()
        };
        let filled = self.interpolate(&value, &text, key, names)?;
        Ok(Got {
            text: filled.trim().to_string(),
            span: value.span,
        })
    }

    fn get(
        &self,
        s: &Section<'_>,
        key: &str,
        names: &Names<'_>,
        path_key: &str,
    ) -> Result<Option<Got>, ConfigError> {
        s.get(key)
            .map(|e| self.expanded(e, names, path_key, false))
            .transpose()
    }

    /// supervisord's `%`-formatting: `%(name)s`, `%(name)02d`, `%%`.
    fn interpolate(
        &self,
        value: &Value,
        text: &str,
        key: &str,
        names: &Names<'_>,
    ) -> Result<String, ConfigError> {
        let loc = self.loc;
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(rel) = text.get(i..).and_then(|rest| rest.find('%')) {
            let at = i + rel;
            out.push_str(text.get(i..at).unwrap_or(""));
            let rest = text.get(at + 1..).unwrap_or("");
            if rest.starts_with('%') {
                out.push('%');
                i = at + 2;
                continue;
            }
            let offset = value.offset(at);
            let Some(body) = rest.strip_prefix('(') else {
                return Err(loc.invalid(offset, key, "a lone `%`: write `%%` for a percent sign"));
            };
            let Some(close) = body.find(')') else {
                return Err(loc.invalid(offset, key, "`%(` is not closed by `)`"));
            };
            let name = body.get(..close).unwrap_or("");
            let (conversion, used) = Conversion::parse(body.get(close + 1..).unwrap_or(""))
                .map_err(|m| loc.invalid(offset, key, format!("`%({name})`: {m}")))?;
            let named = self.named(name, names).map_err(|missing| match missing {
                Some(variable) => loc.missing_variable(
                    offset,
                    key,
                    &variable,
                    format!("environment variable {variable} is not set"),
                ),
                None => {
                    let mut known = "ENV_<VAR>, here, host_node_name".to_string();
                    if names.program.is_some() {
                        known.push_str(", program_name, group_name, process_num, numprocs");
                    }
                    loc.invalid(
                        offset,
                        key,
                        format!("`%({name})`: unknown name (known: {known})"),
                    )
                }
            })?;
            let filled = conversion
                .apply(named)
                .map_err(|m| loc.invalid(offset, key, format!("`%({name})`: {m}")))?;
            out.push_str(&filled);
            // `%(` + name + `)` + the conversion.
            i = at + 2 + close + 1 + used;
        }
        out.push_str(text.get(i..).unwrap_or(""));
        Ok(out)
    }

    /// The value of `%(name)`; `Err(Some(var))` for an unset variable,
    /// `Err(None)` for a name supervisord would not know either.
    fn named(&self, name: &str, names: &Names<'_>) -> Result<Named, Option<String>> {
        if let Some(var) = name.strip_prefix("ENV_") {
            return (names.env)(var)
                .map(Named::Text)
                .ok_or_else(|| Some(var.to_string()));
        }
        match (name, names.program) {
            ("here", _) => Ok(Named::Text(self.here.clone())),
            ("host_node_name", _) => Ok(Named::Text(self.host.get_or_init(host_node_name).clone())),
            ("program_name" | "group_name", Some(program)) => Ok(Named::Text(program.to_string())),
            ("process_num", Some(_)) => Ok(Named::Number(names.process_num)),
            ("numprocs", Some(_)) => Ok(Named::Number(names.numprocs)),
            _ => Err(None),
        }
    }

    fn integer(&self, got: &Got, key: &str) -> Result<i64, ConfigError> {
        got.text.parse::<i64>().map_err(|_| {
            self.loc.invalid(
                got.span.start,
                key,
                format!("`{}` is not a whole number", got.text),
            )
        })
    }

    fn count(&self, got: &Got, key: &str) -> Result<u32, ConfigError> {
        let n = self.integer(got, key)?;
        u32::try_from(n).map_err(|_| {
            self.loc.invalid(
                got.span.start,
                key,
                format!("{n} is outside 0..={}", u32::MAX),
            )
        })
    }

    fn boolean(&self, got: &Got, key: &str) -> Result<bool, ConfigError> {
        truth(&got.text).ok_or_else(|| {
            self.loc.invalid(
                got.span.start,
                key,
                format!("`{}` is not true or false", got.text),
            )
        })
    }

    /// supervisord's sizes: bytes, or `KB`, `MB`, `GB` (1024-based).
    fn byte_size(&self, got: &Got, key: &str) -> Result<u64, ConfigError> {
        let lower = got.text.to_ascii_lowercase();
        let (digits, unit) = [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)]
            .iter()
            .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|d| (d, *unit)))
            .unwrap_or((lower.as_str(), 1));
        digits
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .ok_or_else(|| {
                self.loc.invalid(
                    got.span.start,
                    key,
                    format!("`{}` is not a size like 1024, 512KB, 50MB or 1GB", got.text),
                )
            })
    }

    /// `[supervisord] environment`, which supervisord gives every program
    /// (a program's own `environment` wins).
    fn global_env(
        &self,
        s: &Section<'_>,
        env: Env<'_>,
    ) -> Result<IndexMap<String, String>, ConfigError> {
        let Some(e) = s.get("environment") else {
            return Ok(IndexMap::new());
        };
        let names = Names {
            program: None,
            process_num: 0,
            numprocs: 1,
            env,
        };
        let key = "supervisord.environment";
        let got = self.expanded(e, &names, key, true)?;
        env_pairs(&got.text)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|m| self.loc.invalid(got.span.start, key, m))
    }

    fn program(
        &self,
        out: &mut Out<'_>,
        s: &Section<'_>,
        name: &str,
        global_env: &IndexMap<String, String>,
        env: Env<'_>,
    ) -> Result<(), ConfigError> {
        let key = |k: &str| format!("program.{name}.{k}");
        for e in &s.entries {
            if !PROGRAM_KEYS.contains(&e.key.as_str()) {
                let what = format!("{}: unknown key, ignored", e.key);
                out.warn(e.line, s, &what);
            }
        }

        let outer = |var: &str| global_env.get(var).cloned().or_else(|| env(var));
        let mut names = Names {
            program: Some(name),
            process_num: 0,
            numprocs: 1,
            env: &outer,
        };
        if let Some(got) = self.get(s, "numprocs", &names, &key("numprocs"))? {
            let n = self.integer(&got, &key("numprocs"))?;
            if n != 1 {
                return Err(self.loc.invalid(
                    got.span.start,
                    &key("numprocs"),
                    format!("{n}: logmux runs one process per program; write one [program:x] section for each"),
                ));
            }
        }
        if let Some(got) = self.get(s, "numprocs_start", &names, &key("numprocs_start"))? {
            names.process_num = self.integer(&got, &key("numprocs_start"))?;
        }
        if let Some(got) = self.get(s, "autostart", &names, &key("autostart"))? {
            if !self.boolean(&got, &key("autostart"))? {
                // logmux has no stopped-but-startable state: `logmux ctl`
                // acts on the programs that run.
                let line = s.get("autostart").map_or(s.line, |e| e.line);
                out.warn(
                    line,
                    s,
                    "autostart: false, so this program is left out (it cannot be started later)",
                );
                return Ok(());
            }
        }

        // The program's own variables also fill `%(ENV_X)s` in its other keys.
        let mut own_env = IndexMap::new();
        if let Some(e) = s.get("environment") {
            let got = self.expanded(e, &names, &key("environment"), true)?;
            own_env = env_pairs(&got.text)
                .map_err(|m| self.loc.invalid(got.span.start, &key("environment"), m))?
                .into_iter()
                .collect::<IndexMap<_, _>>();
        }
        let inner = |var: &str| own_env.get(var).cloned().or_else(|| outer(var));
        let names = Names {
            env: &inner,
            ..names
        };
        let get = |k: &str| self.get(s, k, &names, &key(k));

        if let Some(got) = get("process_name")? {
            if got.text != name {
                let line = s.get("process_name").map_or(s.line, |e| e.line);
                let what = format!(
                    "process_name: logmux names the process `{name}` (the program), not `{}`",
                    got.text
                );
                out.warn(line, s, &what);
            }
        }
        if let Some(e) = s.get("umask") {
            out.warn(
                e.line,
                s,
                "umask: not reproduced, the program inherits logmux's umask",
            );
        }
        for k in ["stdout_syslog", "stderr_syslog"] {
            if let Some(got) = get(k)? {
                if self.boolean(&got, &key(k))? {
                    let line = s.get(k).map_or(s.line, |e| e.line);
                    let what = format!(
                        "{k}: a stream has one sink in logmux, so it goes to its log only (a TOML config can send it to the `syslog` sink instead)"
                    );
                    out.warn(line, s, &what);
                }
            }
        }

        // Where supervisord's defaults differ from logmux's they are written
        // out; the header's place stands in for a span.
        let header = s.span.clone();
        let command = match s.get("command") {
            Some(e) => Some(self.expanded(e, &names, &key("command"), true)?),
            None => None,
        };
        let autorestart = match get("autorestart")? {
            None => Spanned::new(header.clone(), "on-failure".to_string()),
            Some(got) => {
                let mode = match got.text.to_lowercase().as_str() {
                    "unexpected" => "on-failure",
                    t => match truth(t) {
                        Some(true) => "always",
                        Some(false) => "never",
                        None => {
                            return Err(self.loc.invalid(
                                got.span.start,
                                &key("autorestart"),
                                format!("`{}`: expected true, false or unexpected", got.text),
                            ))
                        }
                    },
                };
                Spanned::new(got.span, mode.to_string())
            }
        };
        let secs = |k: &str, default: u64| -> Result<Spanned<DurationValue>, ConfigError> {
            Ok(match get(k)? {
                None => Spanned::new(header.clone(), DurationValue::Secs(default)),
                Some(got) => {
                    let n = self.count(&got, &key(k))?;
                    Spanned::new(got.span, DurationValue::Secs(u64::from(n)))
                }
            })
        };
        let startsecs = secs("startsecs", 1)?;
        let stopwaitsecs = secs("stopwaitsecs", 10)?;
        let startretries = match get("startretries")? {
            None => 3,
            Some(got) => self.count(&got, &key("startretries"))?,
        };
        let priority = match get("priority")? {
            None => 999,
            Some(got) => self.integer(&got, &key("priority"))?,
        };
        let exitcodes = match get("exitcodes")? {
            None => vec![0],
            Some(got) => exit_codes(&got.text).ok_or_else(|| {
                self.loc.invalid(
                    got.span.start,
                    &key("exitcodes"),
                    format!(
                        "`{}` is not a list of exit codes 0-255 like `0,2`",
                        got.text
                    ),
                )
            })?,
        };
        let stop_as_group = match get("stopasgroup")? {
            None => false,
            Some(got) => self.boolean(&got, &key("stopasgroup"))?,
        };
        // supervisord: killasgroup defaults to stopasgroup and may not be
        // false when stopasgroup is true.
        let kill_as_group = match get("killasgroup")? {
            None => stop_as_group,
            Some(got) => {
                let kill = self.boolean(&got, &key("killasgroup"))?;
                if stop_as_group && !kill {
                    return Err(self.loc.invalid(
                        got.span.start,
                        &key("killasgroup"),
                        "cannot be false when stopasgroup is true",
                    ));
                }
                kill
            }
        };
        let stopsignal = get("stopsignal")?.map(|got| Spanned::new(got.span, got.text));
        let user = get("user")?.map(|got| Spanned::new(got.span, got.text));
        let directory = get("directory")?.map(|got| Spanned::new(got.span, literal(&got.text)));
        let redirect = match get("redirect_stderr")? {
            None => None,
            Some(got) => self
                .boolean(&got, &key("redirect_stderr"))?
                .then_some(got.span),
        };

        let stdout = self.log_sink(out, s, name, "stdout", &names)?;
        let stderr = match &redirect {
            None => self.log_sink(out, s, name, "stderr", &names)?,
            Some(span) => {
                // supervisord ignores stderr_logfile then; say so as it does.
                self.rotation(s, name, "stderr", &names)?;
                if let Some(got) = get("stderr_logfile")? {
                    if !matches!(got.text.to_lowercase().as_str(), "auto" | "none" | "off") {
                        let line = s.get("stderr_logfile").map_or(s.line, |e| e.line);
                        out.warn(line, s, "stderr_logfile: ignored, redirect_stderr=true sends stderr where stdout goes");
                    }
                }
                // The pipes stay apart (better framing); only the routing follows.
                let target = stdout
                    .sink
                    .as_ref()
                    .map_or("stdout", |n| n.get_ref().as_str());
                LogSink {
                    sink: Some(Spanned::new(span.clone(), target.to_string())),
                    auto_line: None,
                }
            }
        };
        if let Some(line) = stdout.auto_line.or(stderr.auto_line) {
            out.warn(
                line,
                s,
                "AUTO logs: logmux writes them to its own stdout and stderr, not to files in childlogdir",
            );
        }

        let mut environment: IndexMap<String, String> = global_env
            .iter()
            .map(|(k, v)| (k.clone(), literal(v)))
            .collect();
        for (k, v) in &own_env {
            environment.insert(k.clone(), literal(v));
        }
        let program = RawProgram {
            command: command
                .map(|got| Spanned::new(got.span, CommandValue::Line(literal(&got.text)))),
            user,
            directory,
            environment,
            stopsignal,
            stopwaitsecs: Some(stopwaitsecs),
            stop_as_group: Some(stop_as_group),
            kill_as_group: Some(kill_as_group),
            autorestart: Some(autorestart),
            startsecs: Some(startsecs),
            startretries: Some(startretries),
            exitcodes: Some(exitcodes),
            priority: Some(priority),
            stdout: Some(RawStream {
                format: None,
                sink: stdout.sink,
                route: IndexMap::new(),
            }),
            stderr: Some(RawStream {
                format: None,
                sink: stderr.sink,
                route: IndexMap::new(),
            }),
            ..RawProgram::default()
        };
        out.file.program.insert(name.to_string(), program);
        Ok(())
    }

    /// `{which}_logfile_maxbytes` (default 50MB, `0`: never rotate) and
    /// `{which}_logfile_backups` (default 10), checked even when unused as
    /// supervisord checks them.
    fn rotation(
        &self,
        s: &Section<'_>,
        name: &str,
        which: &str,
        names: &Names<'_>,
    ) -> Result<Rotation, ConfigError> {
        let key = |k: &str| format!("program.{name}.{which}_logfile_{k}");
        let (max_size, size_span) = match self.get(
            s,
            &format!("{which}_logfile_maxbytes"),
            names,
            &key("maxbytes"),
        )? {
            None => (Some(50 << 20), None),
            Some(got) => match self.byte_size(&got, &key("maxbytes"))? {
                0 => (None, None),
                n => (Some(n), Some(got.span)),
            },
        };
        let max_files = match self.get(
            s,
            &format!("{which}_logfile_backups"),
            names,
            &key("backups"),
        )? {
            None => 10,
            Some(got) => self.count(&got, &key("backups"))?,
        };
        Ok(Rotation {
            max_size,
            size_span,
            max_files,
        })
    }

    /// The sink for one stream from `{which}_logfile`.
    fn log_sink(
        &self,
        out: &mut Out<'_>,
        s: &Section<'_>,
        name: &str,
        which: &str,
        names: &Names<'_>,
    ) -> Result<LogSink, ConfigError> {
        let rotation = self.rotation(s, name, which, names)?;
        let logfile = format!("{which}_logfile");
        let Some(e) = s.get(&logfile) else {
            // supervisord's default is AUTO; unasked, logmux's own streams
            // are the useful place in a container, without a word.
            return Ok(LogSink {
                sink: None,
                auto_line: None,
            });
        };
        let got = self.expanded(e, names, &format!("program.{name}.{logfile}"), false)?;
        let sink = |n: &str| Some(Spanned::new(got.span.clone(), n.to_string()));
        let lower = got.text.to_lowercase();
        Ok(match (lower.as_str(), got.text.as_str()) {
            ("auto", _) => LogSink {
                sink: sink(which),
                auto_line: Some(e.line),
            },
            // An empty name logs nowhere in supervisord too.
            ("none" | "off" | "", _) | (_, "/dev/null") => LogSink {
                sink: sink("null"),
                auto_line: None,
            },
            (_, "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1") => LogSink {
                sink: sink("stdout"),
                auto_line: None,
            },
            (_, "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2") => LogSink {
                sink: sink("stderr"),
                auto_line: None,
            },
            (_, path) => {
                let sink_name = format!("file:{path}");
                match out.file_sinks.get(&sink_name) {
                    Some((first, size, files)) => {
                        if (*size, *files) != (rotation.max_size, rotation.max_files) {
                            let what = format!(
                                "{logfile}: {path} is shared with [program:{first}], whose rotation applies"
                            );
                            out.warn(e.line, s, &what);
                        }
                    }
                    None => {
                        out.file_sinks.insert(
                            sink_name.clone(),
                            (name.to_string(), rotation.max_size, rotation.max_files),
                        );
                        let size_span = rotation.size_span.unwrap_or(got.span.clone());
                        let raw = RawSink {
                            kind: Some(Spanned::new(got.span.clone(), "file".to_string())),
                            path: Some(Spanned::new(got.span.clone(), literal(path))),
                            max_size: rotation
                                .max_size
                                .map(|n| Spanned::new(size_span, SizeValue::Bytes(n))),
                            max_files: Some(rotation.max_files),
                            ..RawSink::default()
                        };
                        out.file.sink.insert(sink_name.clone(), raw);
                    }
                }
                LogSink {
                    sink: sink(&sink_name),
                    auto_line: None,
                }
            }
        })
    }
}

/// `[supervisord]`: nothing to apply but its environment; warn about keys
/// whose effect logmux does not reproduce.
fn supervisord(out: &mut Out<'_>, s: &Section<'_>) {
    let text = |key: &str| s.get(key).map(|e| e.value().text.trim().to_lowercase());
    // `directory` and `umask` only apply when supervisord daemonizes.
    let foreground = text("nodaemon").and_then(|v| truth(&v)).unwrap_or(false);
    for e in &s.entries {
        let key = e.key.as_str();
        if SUPERVISORD_QUIET.contains(&key) {
            continue;
        }
        let what = match key {
            "directory" | "umask" if foreground => continue,
            "directory" | "umask" => format!(
                "{key}: applies when supervisord daemonizes; logmux stays in the foreground, ignored"
            ),
            _ => format!("{key}: unknown key, ignored"),
        };
        out.warn(e.line, s, &what);
    }
}

/// A log file's rotation, supervisord's way.
struct Rotation {
    /// `None`: never rotate.
    max_size: Option<u64>,
    /// Where `maxbytes` was given, for resolve's range check.
    size_span: Option<Range<usize>>,
    max_files: u32,
}

/// A stream's sink name (`None`: the stream's own, logmux's default) and,
/// for an explicit AUTO, the line to warn about.
struct LogSink {
    sink: Option<Spanned<String>>,
    auto_line: Option<usize>,
}

/// supervisord's booleans.
fn truth(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `0,2`; empty means none (supervisord's own reading).
fn exit_codes(text: &str) -> Option<Vec<i32>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|code| {
            code.trim()
                .parse::<i32>()
                .ok()
                .filter(|c| (0..=255).contains(c))
        })
        .collect()
}

/// supervisord's `environment`: `A="1",B=2,C='x,y'`. Quotes keep commas in
/// a value and are removed.
fn env_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for ch in text.chars() {
        match (quote, ch) {
            (None, ',') => entries.push(std::mem::take(&mut current)),
            (None, '"' | '\'') => {
                quote = Some(ch);
                current.push(ch);
            }
            (Some(q), _) if q == ch => {
                quote = None;
                current.push(ch);
            }
            _ => current.push(ch),
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed".into());
    }
    entries.push(current);
    let mut pairs = Vec::new();
    for entry in entries {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, value)) = entry.split_once('=') else {
            return Err(format!("`{entry}` is not KEY=value"));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            return Err(format!("`{entry}`: `{name}` is not a variable name"));
        }
        pairs.push((name.to_string(), unquote(value.trim())));
    }
    Ok(pairs)
}

/// Removes quotes the way a shell would: `"a,b"` → `a,b`, `x'y'` → `xy`.
fn unquote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut quote = None;
    for ch in value.chars() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(q), _) if q == ch => quote = None,
            _ => out.push(ch),
        }
    }
    out
}

/// `resolve` fills `${VAR}` in commands, paths and environment values;
/// supervisord does not, so a `${` from the INI file must reach the program
/// as written (`sh -c 'echo ${HOME}'`). `$${` is the template's escape.
fn literal(text: &str) -> String {
    text.replace("${", "$${")
}

/// `%(here)s`: the config file's directory, absolute as supervisord makes it.
fn here(path: &Path) -> String {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let absolute = match dir {
        Some(d) if d.is_absolute() => d.to_path_buf(),
        Some(d) => std::env::current_dir().map_or_else(|_| d.to_path_buf(), |cwd| cwd.join(d)),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    // Drops `.` components, as os.path.abspath does.
    absolute
        .components()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

/// `%(host_node_name)s`: the node name, as Python's platform.node().
fn host_node_name() -> String {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| u.nodename().to_str().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::run::{self as config, AutoRestart, RunConfig, SinkKind};
    use std::time::Duration;

    const SEED: &str = include_str!("../../fixtures/supervisord/seed-supervisor-app.conf");

    fn env(name: &str) -> Option<String> {
        match name {
            "APP_DIR" => Some("/srv/app".into()),
            "WORKERS" => Some("4".into()),
            "SPACED" => Some("a b".into()),
            _ => None,
        }
    }

    /// Parses and resolves through `config::parse`, collecting warnings.
    fn load(text: &str) -> (Result<RunConfig, ConfigError>, Vec<String>) {
        let mut warnings = Vec::new();
        let result = config::parse(Path::new("x.conf"), text, &env, &mut |w| warnings.push(w));
        (result, warnings)
    }

    fn ok(text: &str) -> RunConfig {
        match load(text).0 {
            Ok(c) => c,
            Err(e) => panic!("{e}\nfor:\n{text}"),
        }
    }

    fn err(text: &str) -> String {
        match load(text).0 {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    fn warnings(text: &str) -> Vec<String> {
        let (result, warnings) = load(text);
        if let Err(e) = result {
            panic!("{e}");
        }
        warnings
    }

    fn sink_names(c: &RunConfig, program: usize) -> [&str; 2] {
        let p = &c.programs[program];
        [
            c.sinks[p.streams[0].sink].name.as_str(),
            c.sinks[p.streams[1].sink].name.as_str(),
        ]
    }

    #[test]
    fn the_seed_config_runs_unchanged() {
        let (result, warnings) = load(SEED);
        let c = result.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["app-uwsgi", "nginx-app"]);
        assert_eq!(
            c.programs[0].command,
            ["/usr/local/bin/uwsgi", "--ini", "/app/dockerable/uwsgi.ini"]
        );
        assert_eq!(c.programs[1].command, ["/usr/sbin/nginx"]);
        for i in 0..2 {
            assert_eq!(sink_names(&c, i), ["stdout", "stderr"]);
        }
        assert_eq!(
            c.sinks.len(),
            4,
            "no file sinks (stdout, stderr, null, syslog)"
        );
    }

    #[test]
    fn supervisord_defaults_apply() {
        let c = ok("[program:a]\ncommand=/bin/a\n");
        let a = &c.programs[0];
        assert_eq!(a.autorestart, AutoRestart::OnFailure);
        assert_eq!(a.startretries, 3);
        assert_eq!(a.startsecs, Duration::from_secs(1));
        assert_eq!(a.stopwait, Duration::from_secs(10));
        assert!(!a.stop_as_group && !a.kill_as_group);
        assert_eq!(a.exitcodes, [0]);
        assert_eq!(a.priority, 999);
        assert_eq!(sink_names(&c, 0), ["stdout", "stderr"]);

        let c = ok("[program:a]\ncommand=/bin/a\nautorestart=true\nstopasgroup=true\n\
                    startsecs=0\nstartretries=7\nstopwaitsecs=30\nexitcodes=0, 2\nstopsignal=quit\n");
        let a = &c.programs[0];
        assert_eq!(a.autorestart, AutoRestart::Always);
        assert!(
            a.stop_as_group && a.kill_as_group,
            "stopasgroup implies killasgroup"
        );
        assert_eq!((a.startsecs, a.startretries), (Duration::ZERO, 7));
        assert_eq!(a.stopwait, Duration::from_secs(30));
        assert_eq!(a.exitcodes, [0, 2]);
        assert_eq!(a.stopsignal, nix::sys::signal::Signal::SIGQUIT);
        let c = ok("[program:a]\ncommand=/bin/a\nautorestart=false\nkillasgroup=true\n");
        assert_eq!(c.programs[0].autorestart, AutoRestart::Never);
        assert!(!c.programs[0].stop_as_group && c.programs[0].kill_as_group);
    }

    #[test]
    fn interpolation_fills_supervisord_names() {
        let text = "[program:web]\n\
                    command=%(ENV_APP_DIR)s/run --name %(program_name)s-%(process_num)02d --pct 5%% %(ENV_SPACED)s\n\
                    directory=%(here)s/app\n";
        let mut warn = |w: String| panic!("{w}");
        let c = config::parse(Path::new("/etc/supervisor/x.conf"), text, &env, &mut warn).unwrap();
        assert_eq!(
            c.programs[0].command,
            ["/srv/app/run", "--name", "web-00", "--pct", "5%", "a", "b"]
        );
        assert_eq!(c.programs[0].directory, Some("/etc/supervisor/app".into()));
        // A `${` is not logmux's template here: it reaches the program as written.
        let c = ok("[program:a]\ncommand=sh -c 'echo ${HOME} $PATH'\n");
        assert_eq!(c.programs[0].command, ["sh", "-c", "echo ${HOME} $PATH"]);
        let c = ok("[program:a]\ncommand=/bin/a\nenvironment=X=\"${Y}\"\n");
        assert_eq!(c.programs[0].environment, [("X".into(), "${Y}".into())]);
    }

    #[test]
    fn conversions_follow_python() {
        // Each expected value is what Python's `%` gives for the same format.
        let cases = [
            ("%(process_num)02d", "00"),
            ("%(process_num)3d|", "  0|"),
            ("%(program_name)-5s|", "web  |"),
            ("%(program_name).2s", "we"),
            ("%(process_num)+d", "+0"),
            ("%(numprocs)-3d|", "1  |"),
            ("%(process_num).3d", "000"),
            ("%(program_name)5s", "  web"),
        ];
        let loc = Locator {
            path: Path::new("x.conf"),
            text: "",
        };
        let reader = Reader {
            loc: &loc,
            here: "/".into(),
            host: OnceCell::new(),
        };
        let names = Names {
            program: Some("web"),
            process_num: 0,
            numprocs: 1,
            env: &env,
        };
        for (format, expected) in cases {
            let value = Value {
                text: format.to_string(),
                starts: vec![(0, 0)],
                span: 0..format.len(),
            };
            let filled = reader.interpolate(&value, format, "k", &names);
            assert_eq!(filled.ok().as_deref(), Some(expected), "{format}");
        }
    }

    #[test]
    fn missing_variables_name_file_line_and_key() {
        let (result, _) = load("[program:a]\n\ncommand = /bin/a --to %(ENV_NOPE)s\n");
        let e = result.unwrap_err();
        assert!(matches!(&e, ConfigError::MissingVariable { variable, .. } if variable == "NOPE"));
        assert_eq!(e.exit_code(), 78);
        assert_eq!(
            e.to_string(),
            "x.conf:3:23: program.a.command: environment variable NOPE is not set"
        );
        // On a continuation line, the column is that line's.
        assert_eq!(
            err("[program:a]\ncommand = /bin/a\n    --to %(ENV_NOPE)s\n"),
            "x.conf:3:10: program.a.command: environment variable NOPE is not set"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a %(nope)s\n"),
            "x.conf:2:16: program.a.command: `%(nope)`: unknown name (known: ENV_<VAR>, here, \
             host_node_name, program_name, group_name, process_num, numprocs)"
        );
        assert!(err("[program:a]\ncommand=date +%s\n")
            .contains("x.conf:2:15: program.a.command: a lone `%`"));
        assert!(err("[program:a]\ncommand=/bin/a %(here)d\n").contains("is text"));
        assert!(err("[program:a]\ncommand=/bin/a %(here\n").contains("not closed"));
        assert!(err("[program:a]\ncommand=/bin/a %(here)\n").contains("conversion is missing"));
    }

    #[test]
    fn redirect_stderr_routes_stderr_with_stdout() {
        let c = ok("[program:a]\ncommand=/bin/a\nredirect_stderr=true\n");
        assert_eq!(sink_names(&c, 0), ["stdout", "stdout"]);
        let text =
            "[program:a]\ncommand=/bin/a\nredirect_stderr=yes\nstdout_logfile=/var/log/a.log\n";
        let c = ok(text);
        assert_eq!(
            sink_names(&c, 0),
            ["file:/var/log/a.log", "file:/var/log/a.log"]
        );
        assert!(warnings(text).is_empty());
        let w = warnings(
            "[program:a]\ncommand=/bin/a\nredirect_stderr=true\nstderr_logfile=/var/log/e.log\n",
        );
        assert_eq!(
            w,
            ["x.conf:4: [program:a] stderr_logfile: ignored, redirect_stderr=true sends stderr where stdout goes"]
        );
    }

    #[test]
    fn log_files_become_file_sinks() {
        let text = "[program:a]\ncommand=/bin/a\n\
                    stdout_logfile=/var/log/a.log\nstdout_logfile_maxbytes=1KB\nstdout_logfile_backups=3\n\
                    stderr_logfile=/var/log/a.err\n\
                    [program:b]\ncommand=/bin/b\nstdout_logfile=/var/log/a.log\n\
                    stdout_logfile_maxbytes=1KB\nstdout_logfile_backups=3\n\
                    stderr_logfile=/var/log/b.err\nstderr_logfile_maxbytes=0\n\
                    [program:c]\ncommand=/bin/c\nstdout_logfile=NONE\nstderr_logfile=/dev/null\n";
        let (result, warnings) = load(text);
        let c = result.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let kind = |name: &str| {
            c.sinks
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.kind.clone())
        };
        assert_eq!(
            kind("file:/var/log/a.log"),
            Some(SinkKind::File {
                path: "/var/log/a.log".into(),
                max_size: Some(1024),
                max_files: 3
            })
        );
        assert_eq!(
            kind("file:/var/log/a.err"),
            Some(SinkKind::File {
                path: "/var/log/a.err".into(),
                max_size: Some(50 << 20),
                max_files: 10
            })
        );
        assert_eq!(
            kind("file:/var/log/b.err"),
            Some(SinkKind::File {
                path: "/var/log/b.err".into(),
                max_size: None,
                max_files: 10
            })
        );
        // Two programs on one path share one sink.
        assert_eq!(
            c.sinks
                .iter()
                .filter(|s| s.name == "file:/var/log/a.log")
                .count(),
            1
        );
        assert_eq!(
            sink_names(&c, 0),
            ["file:/var/log/a.log", "file:/var/log/a.err"]
        );
        assert_eq!(
            sink_names(&c, 1),
            ["file:/var/log/a.log", "file:/var/log/b.err"]
        );
        assert_eq!(sink_names(&c, 2), ["null", "null"]);

        let w = load("[program:a]\ncommand=/bin/a\nstdout_logfile=/l\n[program:b]\ncommand=/bin/b\nstdout_logfile=/l\nstdout_logfile_backups=1\n").1;
        assert_eq!(w, ["x.conf:6: [program:b] stdout_logfile: /l is shared with [program:a], whose rotation applies"]);
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nstdout_logfile_maxbytes=50 MiB\n"),
            "x.conf:3:25: program.a.stdout_logfile_maxbytes: `50 MiB` is not a size like 1024, 512KB, 50MB or 1GB"
        );
        // resolve's own checks see the INI position.
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nstdout_logfile=/l\nstdout_logfile_maxbytes=2GB\n"),
            "x.conf:4:25: sink.file:/l.max_size: 2147483648 is outside 16..=1073741824"
        );
    }

    #[test]
    fn auto_logs_go_to_logmux_streams() {
        let text = "[program:a]\ncommand=/bin/a\nstdout_logfile=AUTO\nstderr_logfile=auto\n";
        let (result, w) = load(text);
        assert_eq!(sink_names(&result.unwrap(), 0), ["stdout", "stderr"]);
        assert_eq!(
            w,
            ["x.conf:3: [program:a] AUTO logs: logmux writes them to its own stdout and stderr, not to files in childlogdir"]
        );
    }

    #[test]
    fn environment_values_may_quote_commas() {
        let c = ok("[supervisord]\nenvironment=G=1,B=global\n\
                    [program:a]\ncommand=/bin/a %(ENV_C)s %(ENV_G)s\n\
                    environment=A=\"1\",B=2,C='x,y', D=%(ENV_WORKERS)s\n");
        assert_eq!(
            c.programs[0].environment,
            [
                ("G".into(), "1".into()),
                ("B".into(), "2".into()),
                ("A".into(), "1".into()),
                ("C".into(), "x,y".into()),
                ("D".into(), "4".into()),
            ]
        );
        assert_eq!(c.programs[0].command, ["/bin/a", "x,y", "1"]);
        assert!(err("[program:a]\ncommand=/bin/a\nenvironment=A=\"1\n")
            .contains("a quote is not closed"));
        assert!(
            err("[program:a]\ncommand=/bin/a\nenvironment=A\n").contains("`A` is not KEY=value")
        );
    }

    #[test]
    fn priority_orders_the_start() {
        let c = ok("[program:late]\ncommand=/bin/a\npriority=20\n\
                    [program:early]\ncommand=/bin/b\npriority=-1\n\
                    [program:default]\ncommand=/bin/c\n");
        let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["early", "late", "default"]);
    }

    #[test]
    fn continuation_lines_and_comments() {
        let text = "; full-line comment\n# another\n[program:a]\n\
                    command = /bin/a ; an inline comment\n\
                    \x20   --flag=x;y   # another\n\
                    \x20 ; a comment line inside the value\n\
                    \n\
                    \x20   last\n\
                    environment =\n    A=1,\n    B=\"2 3\"\n\
                    stopsignal: INT\n\
                    USER = nobody\n";
        let c = ok(text);
        let a = &c.programs[0];
        assert_eq!(a.command, ["/bin/a", "--flag=x;y", "last"]);
        assert_eq!(
            a.environment,
            [("A".into(), "1".into()), ("B".into(), "2 3".into())]
        );
        assert_eq!(a.stopsignal, nix::sys::signal::Signal::SIGINT);
        assert_eq!(a.user.as_deref(), Some("nobody"));
        // Python's quirk: the first prefix to find a valid start wins.
        assert_eq!(comment_start("x = a#b #c ;d"), Some(11));
        assert_eq!(comment_start("x = a#b #c"), Some(8));
        assert_eq!(comment_start("  ; all"), Some(0));
        assert_eq!(comment_start("x = a;b"), None);
    }

    #[test]
    fn warnings_name_file_line_and_key() {
        let w = warnings(
            "[unix_http_server]\nfile=/run/s.sock\n[supervisorctl]\nserverurl=unix:///run/s.sock\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = x:y\n\
             [supervisord]\nnodaemon=false\numask=022\nfrobnicate=1\n\
             [program:a]\ncommand=/bin/a\ncolour=blue\nserverurl=AUTO\numask=002\nprocess_name=%(program_name)s\n\
             [program:b]\ncommand=/bin/b\nautostart=false\n\
             [group:x]\nprograms=a\n\
             [eventlistener:m]\ncommand=/bin/m\n\
             [include]\nfiles = conf.d/*.conf\n   more/*.ini\n\
             [fcgi-program:f]\n[weird]\n",
        );
        assert_eq!(
            w,
            [
                "x.conf:9: [supervisord] umask: applies when supervisord daemonizes; logmux stays in the foreground, ignored",
                "x.conf:10: [supervisord] frobnicate: unknown key, ignored",
                "x.conf:13: [program:a] colour: unknown key, ignored",
                "x.conf:15: [program:a] umask: not reproduced, the program inherits logmux's umask",
                "x.conf:19: [program:b] autostart: false, so this program is left out (it cannot be started later)",
                "x.conf:20: [group:x] not supported, ignored (its programs run on their own)",
                "x.conf:22: [eventlistener:m] not supported, ignored",
                "x.conf:24: [include] files=conf.d/*.conf more/*.ini: includes are not followed, those files are not read",
                "x.conf:27: [fcgi-program:f] not supported, ignored",
                "x.conf:28: [weird] unknown section, ignored",
            ]
        );
        let c = ok("[program:a]\ncommand=/bin/a\n[program:b]\ncommand=/bin/b\nautostart=false\n");
        assert_eq!(c.programs.len(), 1);
    }

    #[test]
    fn errors_point_at_the_value() {
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nnumprocs = 2\n"),
            "x.conf:3:12: program.a.numprocs: 2: logmux runs one process per program; write one [program:x] section for each"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nCommand=/bin/b\n"),
            "x.conf:3:1: program.a.command: duplicate key (first at line 2)"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\n[program: a ]\n"),
            "x.conf:3:1: program.a: duplicate section (first at line 1)"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nstartretries=many\n"),
            "x.conf:3:14: program.a.startretries: `many` is not a whole number"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nstartsecs=-1\n"),
            "x.conf:3:11: program.a.startsecs: -1 is outside 0..=4294967295"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nautorestart=sometimes\n"),
            "x.conf:3:13: program.a.autorestart: `sometimes`: expected true, false or unexpected"
        );
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nstopasgroup=true\nkillasgroup=false\n"),
            "x.conf:4:13: program.a.killasgroup: cannot be false when stopasgroup is true"
        );
        assert!(
            err("[program:a]\ncommand=/bin/a\nexitcodes=0,256\n").contains("program.a.exitcodes")
        );
        assert!(err("[program:a]\ncommand=/bin/a\nredirect_stderr=maybe\n")
            .contains("`maybe` is not true or false"));
        // resolve's checks point into the INI text too.
        assert_eq!(
            err("[program:a]\ncommand=/bin/a\nstopsignal = TERMM\n"),
            "x.conf:3:14: program.a.stopsignal: `TERMM` is not a signal name (TERM, INT, QUIT, HUP, KILL, USR1, USR2)"
        );
        assert_eq!(
            err("[program:a]\nuser=nobody\n"),
            "x.conf:1:1: program.a.command: missing: every program needs a command"
        );
        assert_eq!(
            err("command=/bin/a\n"),
            "x.conf:1:1: command: a key before the first [section]"
        );
        assert_eq!(
            err("[program:a]\njust words\n"),
            "x.conf:2:1: program.a: `just words` is neither `key = value` nor a [section]"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in ".{0,300}") {
            let loc = Locator { path: Path::new("x.conf"), text: &text };
            let _ = parse(&loc, &env, &mut |_| {});
        }

        #[test]
        fn never_panics_on_ini_like_text(text in "[\\[\\]a-z:=%()_ \n;#\"',.]{0,300}") {
            let loc = Locator { path: Path::new("x.conf"), text: &text };
            let _ = parse(&loc, &env, &mut |_| {});
            let _ = config::parse(Path::new("x.conf"), &text, &env, &mut |_| {});
        }
    }
}
