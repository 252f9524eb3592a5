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

/// Fields to add to a record's sorted ones with [`Record::merge_sorted`]:
/// room for every envelope field without a heap allocation.
pub type Added<'a> = SmallVec<[(Field, Value<'a>); 16]>;

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
    /// Schema fields, in any order as parsers push them; the engine sorts
    /// them, one of each key, before the writers see them.
    pub fields: SmallVec<[(Field, Value<'a>); 24]>,
    /// Keys the schema does not know, such as a JSON line's own keys.
    pub extra: Vec<(Cow<'a, str>, Value<'a>)>,
    /// Some bytes were not valid UTF-8 and were replaced with U+FFFD.
    pub invalid_utf8: bool,
    /// The `trace_id` field's 16 bytes, when whoever pushed the field had
    /// them at hand (the engine's stamp decodes them to check the id):
    /// the OTLP writer and the span builder then read them here instead
    /// of decoding the hex again, each for every event of a request.
    pub trace_id_bytes: Option<[u8; 16]>,
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

    /// [`Record::get`] for fields already in schema order, each key once
    /// (as the engine leaves them): a binary search, not a pass.
    pub fn get_sorted(&self, field: Field) -> Option<&Value<'a>> {
        let at = self.fields.binary_search_by(|(f, _)| f.cmp(&field)).ok()?;
        self.fields.get(at).map(|(_, v)| v)
    }

    /// Adds a field in its place among fields already in schema order,
    /// each key once, unless the record has that key: its own value stays
    /// (what the sort's dedup did when added fields were sorted in).
    pub fn insert_sorted(&mut self, field: Field, value: Value<'a>) {
        if let Err(at) = self.fields.binary_search_by(|(f, _)| f.cmp(&field)) {
            self.fields.insert(at, (field, value));
        }
    }

    /// [`Record::insert_sorted`], but a value the record has for that key
    /// is replaced.
    pub fn set_sorted(&mut self, field: Field, value: Value<'a>) {
        match self.fields.binary_search_by(|(f, _)| f.cmp(&field)) {
            Ok(at) => {
                if let Some(slot) = self.fields.get_mut(at) {
                    slot.1 = value;
                }
            }
            Err(at) => self.fields.insert(at, (field, value)),
        }
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

    /// Moves `added` into [`Record::fields`], which must be sorted, each
    /// after the fields that sort before it or equal it: what inserting
    /// them one by one in the order given makes, but in one merge from the
    /// back that moves each field once. (One insert each, every one moving
    /// the fields after it, was an eighth of `listen`'s instructions: ten
    /// envelope fields a message.) `added` is left empty.
    pub fn merge_sorted(&mut self, added: &mut Added<'a>) {
        // Stable: added fields of one key keep their order.
        if !added.is_sorted_by_key(|(f, _)| *f) {
            added.sort_by_key(|(f, _)| *f);
        }
        let (n, k) = (self.fields.len(), added.len());
        self.fields.reserve(k);
        // SAFETY: `added`'s length is set to 0 first, so the fields read out
        // of it below are owned by `self.fields` alone. `reserve` made room
        // for `n + k` fields. With old fields `[0, i)` and added ones
        // `[0, j)` left, the next place from the back is `i + j - 1`: the
        // greater of the last old field (strictly: an equal added field
        // goes after it) and the last added one moves there, one field at a
        // time. An old field moves from `i - 1` to `i - 1 + j` with `j >= 1`,
        // so source and destination never overlap, and a place is written
        // only once the field in it has moved. When `j` is 0, the old
        // fields left are in place; `[0, n + k)` then holds each field
        // exactly once. Nothing in the loop can panic (comparing two
        // `Field`s), so no field is ever dropped twice.
        unsafe {
            let src = added.as_ptr();
            added.set_len(0);
            let dst = self.fields.as_mut_ptr();
            let (mut i, mut j) = (n, k);
            while j > 0 {
                let last_added = src.add(j - 1);
                if i > 0 && (*dst.add(i - 1)).0 > (*last_added).0 {
                    i -= 1;
                    std::ptr::copy_nonoverlapping(dst.add(i), dst.add(i + j), 1);
                } else {
                    j -= 1;
                    std::ptr::copy_nonoverlapping(last_added, dst.add(i + j), 1);
                }
            }
            self.fields.set_len(n + k);
        }
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

    /// What [`Record::merge_sorted`] must equal: each added field inserted
    /// after the fields that sort before it or equal it.
    fn insert_one_by_one<'a>(fields: &mut Vec<(Field, Value<'a>)>, added: &[(Field, Value<'a>)]) {
        for (field, value) in added {
            let at = fields.partition_point(|(f, _)| f <= field);
            fields.insert(at, (*field, value.clone()));
        }
    }

    proptest::proptest! {
        #[test]
        fn merging_sorted_fields_is_inserting_them_one_by_one(
            old in proptest::collection::vec(0..crate::field::ALL.len(), 0..30),
            added in proptest::collection::vec(0..crate::field::ALL.len(), 0..20),
        ) {
            // Values tell equal keys apart: the order among them is checked too.
            let field = |i: usize| crate::field::ALL[i];
            let mut old: Vec<(Field, Value<'static>)> = old
                .into_iter()
                .enumerate()
                .map(|(n, i)| (field(i), Value::Str(Cow::Owned(format!("old {n}")))))
                .collect();
            old.sort_by_key(|(f, _)| *f);
            let added: Vec<(Field, Value<'static>)> = added
                .into_iter()
                .enumerate()
                .map(|(n, i)| (field(i), Value::Str(Cow::Owned(format!("added {n}")))))
                .collect();
            let mut want = old.clone();
            insert_one_by_one(&mut want, &added);
            let mut r = Record::default();
            r.fields.extend(old);
            let mut added: Added<'static> = added.into_iter().collect();
            r.merge_sorted(&mut added);
            proptest::prop_assert!(added.is_empty());
            proptest::prop_assert_eq!(r.fields.into_vec(), want);
        }
    }

    #[test]
    fn sorted_fields_are_found_and_kept_in_order() {
        let mut r = Record::default();
        r.push_str(Field::ClientAddress, "a");
        r.push_str(Field::UrlPath, "p");
        r.insert_sorted(Field::TraceId, Value::str("t"));
        r.insert_sorted(Field::UrlPath, Value::str("second"));
        r.insert_sorted(Field::ClientAddress, Value::str("b"));
        r.insert_sorted(Field::UserAgentOriginal, Value::str("u"));
        r.set_sorted(Field::UserAgentOriginal, Value::str("set"));
        r.set_sorted(Field::HttpRequestId, Value::str("id"));
        let order: Vec<(Field, &str)> = r
            .fields
            .iter()
            .map(|(f, v)| (*f, v.as_str().unwrap_or("")))
            .collect();
        // The record's own values stay for `insert_sorted`, not `set_sorted`.
        assert_eq!(
            order,
            [
                (Field::ClientAddress, "a"),
                (Field::HttpRequestId, "id"),
                (Field::TraceId, "t"),
                (Field::UrlPath, "p"),
                (Field::UserAgentOriginal, "set"),
            ]
        );
        assert_eq!(r.get_sorted(Field::TraceId), Some(&Value::str("t")));
        assert_eq!(r.get_sorted(Field::UrlPath), Some(&Value::str("p")));
        assert_eq!(r.get_sorted(Field::SpanId), None);
        assert_eq!(r.get_sorted(Field::LogmuxFormat), None);
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
