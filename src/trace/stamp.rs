//! Trace ids on events: a parsed record that names its request (a valid
//! `traceparent` header, or a request id shaped like a trace id, such as
//! nginx's `$request_id`) gets `trace_id`, and the `span_id` of the span its
//! line belongs to (derived by [`super::ids`]). Stateless: each event is
//! stamped the moment it is parsed. A record that already has a `trace_id`
//! (a JSON line's own, nginx's otel module) keeps its ids.

use std::borrow::Cow;

use logmux_parsers::trace_context::{self, to_hex};
use logmux_parsers::{Field, Format, Record, Value};

use super::ids::{span_id, SpanRole};

/// Adds `trace_id` and `span_id` to `rec` when it carries a request's id.
/// `rec`'s fields are in schema order, each key once (the pipeline sorted
/// them), so the fields looked for are near the ends: `http.request.*`
/// after a few from the front, `trace_id` before a few from the back
/// (`url.*`, `user_agent.*`). Short scans from either end beat binary
/// searches here, and a pass over every field was a fortieth of
/// `filter`'s line. The ids go in their places; no allocation without one.
pub fn stamp(rec: &mut Record<'_>) {
    debug_assert!(rec.fields.windows(2).all(|w| w[0].0 < w[1].0));
    let fields = &rec.fields;
    let from_back = fields.iter().rev().map(|(f, _)| *f);
    if from_back
        .take_while(|f| *f >= Field::TraceId)
        .any(|f| f == Field::TraceId)
    {
        return;
    }
    let (mut header, mut request_id) = (None, None);
    for (i, (field, _)) in fields.iter().enumerate() {
        match field {
            Field::HttpRequestHeaderTraceparent => header = Some(i),
            Field::HttpRequestId => request_id = Some(i),
            f if *f > Field::HttpRequestId => break,
            _ => {}
        }
    }
    let Some((trace, text)) = header
        .and_then(|i| from_traceparent(rec, i))
        .or_else(|| request_id.and_then(|i| from_request_id(rec, i)))
    else {
        return;
    };
    rec.insert_sorted(Field::TraceId, Value::Str(text));
    rec.trace_id_bytes = Some(trace);
    if let Some(role) = role(rec.format) {
        rec.insert_sorted(
            Field::SpanId,
            Value::Str(Cow::Owned(to_hex(&span_id(&trace, role)))),
        );
    }
}

/// Which span an event of `format` belongs to: nginx's access line is its
/// server span; uWSGI's request line, Django's records and the traceback
/// happen inside uWSGI's span. Other formats get the trace id alone.
fn role(format: Format) -> Option<SpanRole> {
    match format {
        Format::NginxAccess => Some(SpanRole::NginxServer),
        Format::UwsgiRequest | Format::UwsgiLog | Format::Django | Format::PythonTraceback => {
            Some(SpanRole::Uwsgi)
        }
        _ => None,
    }
}

/// The trace id of the traceparent header in field `i`.
fn from_traceparent<'a>(rec: &Record<'a>, i: usize) -> Option<([u8; 16], Cow<'a, str>)> {
    let (_, Value::Str(value)) = rec.fields.get(i)? else {
        return None;
    };
    let parsed = trace_context::traceparent(value)?;
    let start = value.len() - value.trim_start().len() + 3;
    Some((parsed.trace_id, lower_slice(value, start, &parsed.trace_id)))
}

/// The request id in field `i`, when it is a valid trace id.
fn from_request_id<'a>(rec: &Record<'a>, i: usize) -> Option<([u8; 16], Cow<'a, str>)> {
    let (_, Value::Str(value)) = rec.fields.get(i)? else {
        return None;
    };
    let id = trace_context::trace_id(value)?;
    Some((id, lower_slice(value, 0, &id)))
}

/// The 32 hex digits of `id` at `start` in `value`: borrowed from the line
/// when they are already lower case, written anew otherwise.
fn lower_slice<'a>(value: &Cow<'a, str>, start: usize, id: &[u8; 16]) -> Cow<'a, str> {
    if let Cow::Borrowed(s) = value {
        if let Some(digits) = s.get(start..start + 32) {
            if !digits.bytes().any(|b| b.is_ascii_uppercase()) {
                return Cow::Borrowed(digits);
            }
        }
    }
    Cow::Owned(to_hex(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const R: &str = "0af7651916cd43dd8448eb211c80319c";

    fn ids(rec: &Record<'_>) -> (Option<String>, Option<String>) {
        let get = |f| rec.get(f).and_then(Value::as_str).map(str::to_owned);
        (get(Field::TraceId), get(Field::SpanId))
    }

    fn span(t: &str, role: SpanRole) -> String {
        let t = trace_context::trace_id(t).expect("trace id");
        to_hex(&span_id(&t, role))
    }

    fn record(format: Format, fields: &[(Field, &'static str)]) -> Record<'static> {
        let mut rec = Record {
            format,
            ..Record::default()
        };
        for &(f, v) in fields {
            rec.push_str(f, v);
        }
        crate::output::sort_fields(&mut rec);
        rec
    }

    #[test]
    fn the_traceparent_wins_over_the_request_id() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut rec = record(
            Format::NginxAccess,
            &[
                (Field::HttpRequestId, R),
                (Field::HttpRequestHeaderTraceparent, tp),
            ],
        );
        stamp(&mut rec);
        assert_eq!(
            ids(&rec),
            (Some(T.into()), Some(span(T, SpanRole::NginxServer)))
        );
        // Borrowed from the header: no copy of the id.
        assert!(matches!(
            rec.get(Field::TraceId),
            Some(Value::Str(Cow::Borrowed(_)))
        ));
    }

    #[test]
    fn the_request_id_when_there_is_no_valid_traceparent() {
        for header in [None, Some("00-xyz"), Some("-")] {
            let mut fields = vec![(Field::HttpRequestId, R)];
            fields.extend(header.map(|h| (Field::HttpRequestHeaderTraceparent, h)));
            let mut rec = record(Format::NginxAccess, &fields);
            stamp(&mut rec);
            assert_eq!(
                ids(&rec),
                (Some(R.into()), Some(span(R, SpanRole::NginxServer))),
                "{header:?}"
            );
        }
    }

    #[test]
    fn span_ids_by_format() {
        for (format, span_id) in [
            (Format::NginxAccess, Some(span(R, SpanRole::NginxServer))),
            (Format::UwsgiRequest, Some(span(R, SpanRole::Uwsgi))),
            (Format::UwsgiLog, Some(span(R, SpanRole::Uwsgi))),
            (Format::Django, Some(span(R, SpanRole::Uwsgi))),
            (Format::PythonTraceback, Some(span(R, SpanRole::Uwsgi))),
            (Format::Json, None),
            (Format::Text, None),
        ] {
            let mut rec = record(format, &[(Field::HttpRequestId, R)]);
            stamp(&mut rec);
            assert_eq!(ids(&rec), (Some(R.into()), span_id), "{format:?}");
        }
    }

    #[test]
    fn the_ids_bytes_are_kept_with_the_record() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let bytes = |t| trace_context::trace_id(t);
        for (fields, want) in [
            (vec![(Field::HttpRequestId, R)], bytes(R)),
            (
                vec![(Field::HttpRequestId, "0AF7651916CD43DD8448EB211C80319C")],
                bytes(R),
            ),
            (
                vec![
                    (Field::HttpRequestId, R),
                    (Field::HttpRequestHeaderTraceparent, tp),
                ],
                bytes(T),
            ),
            (vec![(Field::HttpRequestId, "req-42")], None),
            // A line's own trace id is kept, and not decoded here.
            (vec![(Field::HttpRequestId, R), (Field::TraceId, T)], None),
        ] {
            let mut rec = record(Format::NginxAccess, &fields);
            stamp(&mut rec);
            assert_eq!(rec.trace_id_bytes, want, "{fields:?}");
        }
    }

    #[test]
    fn upper_case_ids_are_written_in_lower_case() {
        let upper = "0AF7651916CD43DD8448EB211C80319C";
        let mut rec = record(Format::Django, &[(Field::HttpRequestId, upper)]);
        stamp(&mut rec);
        assert_eq!(ids(&rec).0.as_deref(), Some(R));
        assert_eq!(rec.get(Field::HttpRequestId), Some(&Value::str(upper)));
    }

    #[test]
    fn records_without_a_valid_id_are_untouched() {
        for fields in [
            vec![],
            vec![(Field::HttpRequestId, "-")],
            vec![(Field::HttpRequestId, "req-42")],
            vec![(Field::HttpRequestId, "00000000000000000000000000000000")],
            vec![(Field::HttpRequestHeaderTraceparent, "garbage")],
            vec![(Field::UrlPath, "/")],
        ] {
            let mut rec = record(Format::NginxAccess, &fields);
            let before = rec.fields.clone();
            stamp(&mut rec);
            assert_eq!(rec.fields, before);
        }
    }

    #[test]
    fn the_ids_go_in_their_places_among_the_sorted_fields() {
        let mut rec = record(
            Format::NginxAccess,
            &[
                (Field::UserAgentOriginal, "curl/8"),
                (Field::HttpRequestId, R),
                (Field::ClientAddress, "10.0.0.1"),
                (Field::UrlPath, "/"),
            ],
        );
        stamp(&mut rec);
        let order: Vec<Field> = rec.fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            order,
            [
                Field::ClientAddress,
                Field::HttpRequestId,
                Field::SpanId,
                Field::TraceId,
                Field::UrlPath,
                Field::UserAgentOriginal,
            ]
        );
    }

    #[test]
    fn a_lines_own_span_id_is_kept_and_written_once() {
        // A span id without a trace id (a JSON line's `span_id`): the
        // line's own stays, and the key is not added a second time.
        let own = "00f067aa0ba902b7";
        let mut rec = record(
            Format::NginxAccess,
            &[(Field::HttpRequestId, R), (Field::SpanId, own)],
        );
        stamp(&mut rec);
        let order: Vec<Field> = rec.fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(order, [Field::HttpRequestId, Field::SpanId, Field::TraceId]);
        assert_eq!(ids(&rec), (Some(R.into()), Some(own.into())));
    }

    #[test]
    fn an_existing_trace_id_is_kept() {
        // Fields on either side of it, as a parsed line has them.
        let mut rec = record(
            Format::Json,
            &[
                (Field::HttpRequestId, R),
                (Field::TraceId, T),
                (Field::ClientAddress, "10.0.0.1"),
                (Field::UrlPath, "/"),
                (Field::UserAgentOriginal, "curl/8"),
            ],
        );
        stamp(&mut rec);
        assert_eq!(ids(&rec), (Some(T.into()), None));
        assert_eq!(rec.fields.len(), 5);
    }
}
