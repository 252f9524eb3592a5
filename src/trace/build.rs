//! A request's spans from its collected parts (docs/schema.md, "Traces"):
//! - nginx's SERVER span: ends at the line's time, starts `$request_time`
//!   before; its parent is the client's traceparent's span, if any;
//! - with two or more upstream tries, one CLIENT span per try, laid end to
//!   end so that the last ends with nginx's span (nginx logs no try's start;
//!   its response goes out right after the last try's);
//! - uWSGI's SERVER span, under the last try (or nginx's span), ending with
//!   it and lasting uWSGI's own time; when that is longer than its parent
//!   (uWSGI counts its work after nginx had the whole answer) it starts
//!   with the parent instead, never before it; without nginx's line it
//!   starts at its line's time (uWSGI's line has the request's start) and
//!   is a root;
//! - each traceback an `exception` event on uWSGI's span (nginx's without it).
//!
//! Status: ERROR for a 5xx answer (server spans), for a 4xx or 5xx or no
//! answer from a try (client spans); UNSET otherwise.

use std::borrow::Cow;

use super::ids::{span_id, SpanRole};
use super::parts::{Exception, Http, Nginx, Uwsgi};
use super::span::{AttrValue, Attrs, Resource, Span, SpanEvent, SpanKind, StatusCode};
use super::spans::Collected;

/// The spans of `c`, parents first; none for a trace of tracebacks alone.
pub fn spans(c: &Collected) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    spans_into(c, &mut out);
    out
}

/// [`spans`], appended to `out` (the span thread's, reused per trace).
pub fn spans_into<'a>(c: &'a Collected, out: &mut Vec<Span<'a>>) {
    let t = c.trace_id;
    // The uWSGI span's parent: its id, start and end.
    let mut uwsgi_parent = None;
    if let Some((n, r)) = &c.nginx {
        let server = nginx_span(t, n, r);
        uwsgi_parent = Some(placed(&server));
        out.push(server);
        if n.tries_us.len() >= 2 {
            let tries = try_spans(t, n, r);
            uwsgi_parent = tries.last().map(placed).or(uwsgi_parent);
            out.extend(tries);
        }
    }
    let events: Vec<SpanEvent> = c.exceptions.iter().map(exception_event).collect();
    match &c.uwsgi {
        Some((u, r)) => {
            out.push(uwsgi_span(t, u, r, uwsgi_parent, events));
        }
        None => {
            if let Some(first) = out.first_mut() {
                first.events = events;
            }
        }
    }
    if let Some(s) = out.iter_mut().find(|s| !s.events.is_empty()) {
        if s.status == StatusCode::Error {
            s.status_message = c
                .exceptions
                .last()
                .map(|e| format!("{}: {}", e.kind, e.message))
                .unwrap_or_default();
        }
    }
}

/// Whether the spans of `c` will hold an error (as [`is_error`] says of
/// them), without building them: a trace sampled out is never built.
pub fn has_error(c: &Collected) -> bool {
    let server_error = |s: Option<i64>| server_status(s) == StatusCode::Error;
    let try_error = |n: &Nginx| {
        n.tries_us.len() >= 2
            && (0..n.tries_us.len())
                .any(|i| !matches!(n.try_status.get(i), Some(Some(s)) if *s < 400))
    };
    !c.exceptions.is_empty()
        || c.nginx
            .as_ref()
            .is_some_and(|(n, _)| server_error(n.http.status) || try_error(n))
        || c.uwsgi
            .as_ref()
            .is_some_and(|(u, _)| server_error(u.http.status))
}

/// Whether a trace is an error one, kept whatever the sample ratio.
pub fn is_error(spans: &[Span<'_>]) -> bool {
    spans
        .iter()
        .any(|s| s.status == StatusCode::Error || !s.events.is_empty())
}

fn base<'a>(
    t: [u8; 16],
    role: SpanRole,
    http: &'a Http,
    kind: SpanKind,
    r: &'a Resource,
) -> Span<'a> {
    Span {
        trace_id: t,
        span_id: span_id(&t, role),
        parent_span_id: None,
        name: span_name(http),
        kind,
        start_unix_nano: 0,
        end_unix_nano: 0,
        http: Some(http),
        attributes: Vec::new(),
        events: Vec::new(),
        status: server_status(http.status),
        status_message: String::new(),
        resource: r,
    }
}

/// HTTP semconv: `{method}` (`{method} {route}` needs a route), `HTTP`
/// when unknown.
fn span_name(http: &Http) -> Cow<'_, str> {
    Cow::Borrowed(http.method().unwrap_or("HTTP"))
}

fn server_status(status: Option<i64>) -> StatusCode {
    match status {
        Some(s) if s >= 500 => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

fn nginx_span<'a>(t: [u8; 16], n: &'a Nginx, r: &'a Resource) -> Span<'a> {
    let mut s = base(t, SpanRole::NginxServer, &n.http, SpanKind::Server, r);
    s.parent_span_id = n.parent;
    s.end_unix_nano = n.end;
    s.start_unix_nano = n.end.saturating_sub(n.duration_us.saturating_mul(1000));
    s
}

fn try_spans<'a>(t: [u8; 16], n: &'a Nginx, r: &'a Resource) -> Vec<Span<'a>> {
    let server = span_id(&t, SpanRole::NginxServer);
    let mut end = n.end;
    let mut out = Vec::with_capacity(n.tries_us.len());
    for (i, us) in n.tries_us.iter().enumerate().rev() {
        let status = n.try_status.get(i).copied().flatten();
        let mut attrs: Attrs<'a> = Vec::new();
        if let Some(m) = n.http.method() {
            attrs.push(("http.request.method", AttrValue::Str(Cow::Borrowed(m))));
        }
        if let Some(code) = status {
            attrs.push(("http.response.status_code", AttrValue::Int(code)));
        }
        if let Some(addr) = n.try_addr.get(i).filter(|a| !a.is_empty() && *a != "-") {
            attrs.push(("server.address", AttrValue::Str(Cow::Borrowed(addr))));
        }
        if i > 0 {
            attrs.push(("http.request.resend_count", AttrValue::Int(i as i64)));
        }
        let role = SpanRole::UpstreamTry(u16::try_from(i).unwrap_or(u16::MAX));
        out.push(Span {
            trace_id: t,
            span_id: span_id(&t, role),
            parent_span_id: Some(server),
            name: span_name(&n.http),
            kind: SpanKind::Client,
            start_unix_nano: end.saturating_sub(us.saturating_mul(1000)),
            end_unix_nano: end,
            http: None,
            attributes: attrs,
            events: Vec::new(),
            status: match status {
                Some(s) if s < 400 => StatusCode::Unset,
                _ => StatusCode::Error,
            },
            status_message: String::new(),
            resource: r,
        });
        end = end.saturating_sub(us.saturating_mul(1000));
    }
    out.reverse();
    out
}

/// A span's id, start and end: where a child is placed.
fn placed(s: &Span<'_>) -> ([u8; 8], u64, u64) {
    (s.span_id, s.start_unix_nano, s.end_unix_nano)
}

fn uwsgi_span<'a>(
    t: [u8; 16],
    u: &'a Uwsgi,
    r: &'a Resource,
    parent: Option<([u8; 8], u64, u64)>,
    events: Vec<SpanEvent<'a>>,
) -> Span<'a> {
    let mut s = base(t, SpanRole::Uwsgi, &u.http, SpanKind::Server, r);
    s.parent_span_id = parent.map(|(id, _, _)| id);
    let d = u.duration_us.saturating_mul(1000);
    (s.start_unix_nano, s.end_unix_nano) = match parent {
        // Ends with its parent; a longer uWSGI time starts with it instead
        // (a child never starts before its parent) and ends after it.
        Some((_, start, end)) if end.saturating_sub(start) < d => (start, start.saturating_add(d)),
        Some((_, _, end)) => (end.saturating_sub(d), end),
        None => (u.time, u.time.saturating_add(d)),
    };
    s.events = events;
    s
}

fn exception_event(e: &Exception) -> SpanEvent<'_> {
    fn text(t: &str) -> AttrValue<'_> {
        AttrValue::Str(Cow::Borrowed(t))
    }
    let mut attributes: Attrs<'_> = vec![("exception.type", text(&e.kind))];
    if !e.message.is_empty() {
        attributes.push(("exception.message", text(&e.message)));
    }
    if !e.stacktrace.is_empty() {
        attributes.push(("exception.stacktrace", text(&e.stacktrace)));
    }
    SpanEvent {
        time_unix_nano: e.time,
        name: "exception",
        attributes,
    }
}
