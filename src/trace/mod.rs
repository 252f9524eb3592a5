//! Request tracing from log lines: the ids that tie one request's events
//! together ([`ids`]), and put on every event that names its request
//! ([`stamp`]). A request's trace id comes from its log lines (nginx's
//! `$request_id`, or the trace id of the client's `traceparent`); the span
//! ids of the spans logmux builds for it are derived from that trace id, so
//! that every event can carry its span's id without waiting for the others.

pub mod ids;
pub mod infer;
pub mod stamp;
