//! The result of parsing one log event: its format, time, severity and fields.
//!
//! A [`Record`] borrows from the line it was parsed from. The engine fills in
//! the envelope (program, stream, pid, container) and a parser fills in the
//! rest; a parser that rejects a line leaves the record as it found it, so the
//! next parser (or plain `text`) can try.

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::field::{Field, Value};
use crate::severity::Severity;
use crate::time::Timestamp;

/// The formats logmux recognises, as written in `logmux.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    NginxAccess,
    NginxError,
    UwsgiRequest,
    UwsgiLog,
    Supervisord,
    PythonTraceback,
    Django,
    Json,
    #[default]
    Text,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 9] = [
        Format::NginxAccess,
        Format::NginxError,
        Format::UwsgiRequest,
        Format::UwsgiLog,
        Format::Supervisord,
        Format::PythonTraceback,
        Format::Django,
        Format::Json,
        Format::Text,
    ];

    /// The name written in `logmux.format` and accepted by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::NginxAccess => "nginx.access",
            Format::NginxError => "nginx.error",
            Format::UwsgiRequest => "uwsgi.request",
            Format::UwsgiLog => "uwsgi.log",
            Format::Supervisord => "supervisord",
            Format::PythonTraceback => "python.traceback",
            Format::Django => "django",
            Format::Json => "json",
            Format::Text => "text",
        }
    }

    /// Looks a format up by its name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// One parsed event. The raw line itself is not stored here: the engine
/// keeps it and writes it as `message`, unless a parser set [`Record::message`].
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    pub format: Format,
    /// The line's own severity; `None` means INFO.
    pub severity: Option<Severity>,
    /// The source's own word for the severity (`warning`, `crit`, `E`),
    /// written as `severity_text` as OpenTelemetry's data model defines
    /// it; `None` writes the name of the severity's OTel range.
    pub severity_text: Option<Cow<'a, str>>,
    /// The line's own time; `None` means the time it was read.
    pub timestamp: Option<Timestamp>,
    /// Replaces the raw line as `message` (nginx error: the text before the
    /// context). The engine then keeps the raw line in `log.record.original`.
    pub message: Option<Cow<'a, str>>,
    /// Schema fields, in any order; writers sort them.
    pub fields: SmallVec<[(Field, Value<'a>); 24]>,
    /// Keys the schema does not know, such as a JSON line's own keys.
    pub extra: Vec<(Cow<'a, str>, Value<'a>)>,
    /// Some bytes were not valid UTF-8 and were replaced with U+FFFD.
    pub invalid_utf8: bool,
}

impl<'a> Record<'a> {
    /// Adds a field.
    #[inline]
    pub fn push(&mut self, field: Field, value: Value<'a>) {
        self.fields.push((field, value));
    }

    /// Adds a borrowed string field.
    #[inline]
    pub fn push_str(&mut self, field: Field, value: &'a str) {
        self.fields.push((field, Value::Str(Cow::Borrowed(value))));
    }

    /// Adds a string field unless it is nginx's "empty" marker `-` or empty.
    #[inline]
    pub fn push_str_unless_dash(&mut self, field: Field, value: &'a str) {
        if !value.is_empty() && value != "-" {
            self.push_str(field, value);
        }
    }

    /// Adds an integer field.
    #[inline]
    pub fn push_int(&mut self, field: Field, value: i64) {
        self.fields.push((field, Value::Int(value)));
    }

    /// The value of a field, if present (the first one pushed).
    pub fn get(&self, field: Field) -> Option<&Value<'a>> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    /// Sets `logmux.parse_error`, once.
    pub fn flag_parse_error(&mut self) {
        if self.get(Field::LogmuxParseError).is_none() {
            self.push(Field::LogmuxParseError, Value::Bool(true));
        }
    }

    /// Removes every occurrence of a field.
    pub fn remove(&mut self, field: Field) {
        self.fields.retain(|(f, _)| *f != field);
    }

    /// Runs a parser, rolling back whatever it added if it rejects the line.
    pub fn attempt(&mut self, parse: impl FnOnce(&mut Record<'a>) -> bool) -> bool {
        let (fields, extra) = (self.fields.len(), self.extra.len());
        let (format, severity, timestamp) = (self.format, self.severity, self.timestamp);
        let had_message = self.message.is_some();
        let had_word = self.severity_text.is_some();
        let invalid = self.invalid_utf8;
        if parse(self) {
            return true;
        }
        self.fields.truncate(fields);
        self.extra.truncate(extra);
        self.format = format;
        self.severity = severity;
        self.timestamp = timestamp;
        if !had_message {
            self.message = None;
        }
        if !had_word {
            self.severity_text = None;
        }
        self.invalid_utf8 = invalid;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("nginx"), None);
    }

    #[test]
    fn attempt_rolls_back_a_rejected_parse() {
        let mut r = Record::default();
        r.push_str(Field::ServiceName, "nginx");
        let ok = r.attempt(|r| {
            r.format = Format::NginxAccess;
            r.push_int(Field::HttpResponseStatusCode, 200);
            r.severity = Some(Severity::ERROR);
            false
        });
        assert!(!ok);
        assert_eq!(r.fields.len(), 1);
        assert_eq!(r.format, Format::Text);
        assert_eq!(r.severity, None);
    }

    #[test]
    fn dash_means_absent() {
        let mut r = Record::default();
        r.push_str_unless_dash(Field::UserName, "-");
        r.push_str_unless_dash(Field::UserName, "");
        assert!(r.fields.is_empty());
        r.push_str_unless_dash(Field::UserName, "bob");
        assert_eq!(r.get(Field::UserName).and_then(|v| v.as_str()), Some("bob"));
    }
}
