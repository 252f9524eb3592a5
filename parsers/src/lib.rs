//! Pure, synchronous parsers for the log lines of an all-in-one web container.
//!
//! Every function here takes one line (or one framed message) that is already
//! valid UTF-8 and fills a [`Record`]: the format, the line's own time and
//! severity, and typed fields named after the OpenTelemetry semantic
//! conventions. Nothing here does I/O, allocates per field where a borrowed
//! slice will do, or panics on any input; the engine in the `logmux` crate
//! does the reading, framing and writing.
//!
//! A tour, in the order a line meets them:
//! - [`docker`] unwraps `docker logs -t`, `docker compose logs` and json-file lines;
//! - [`detect`] picks the format of a line and calls its parser;
//! - [`nginx`], [`uwsgi`], [`supervisord`], [`django`], [`json`] and [`text`] parse one line each
//!   ([`json_keys`]: the well-known keys of JSON loggers, and where an app's other keys go);
//! - [`logmux_event`] recognises lines that already are logmux events (to merge, not wrap);
//! - [`traceback`] decides which lines belong to one multi-line Python event;
//! - [`syslog`] reads RFC 3164 and RFC 5424 messages and deframes RFC 6587 streams (`logmux listen`);
//! - [`ijson`] checks that JSON copied into an event is I-JSON (depth, keys, numbers);
//! - [`record`], [`field`], [`severity`] and [`time`] are the shared vocabulary;
//! - [`prom_text`] reads the Prometheus text exposition format (`logmux top`);
//! - [`strftime`] reads back a date printed with a user's `strftime` pattern (uWSGI's `--logdate`);
//!
//! Writing records out (JSON, logfmt, pretty) is the engine's job, in the `logmux` crate.

pub mod ansi;
pub mod detect;
pub mod django;
pub mod docker;
pub mod field;
pub mod ijson;
pub mod json;
pub mod json_keys;
pub mod logmux_event;
pub mod nginx;
pub mod prom_text;
pub mod record;
pub mod scan;
pub mod severity;
pub mod strftime;
pub mod supervisord;
pub mod syslog;
#[cfg(test)]
mod testing;
pub mod text;
pub mod time;
pub mod trace_context;
pub mod traceback;
pub mod uwsgi;

pub use field::{Field, Value};
pub use record::{Added, Format, Record};
pub use severity::Severity;
pub use time::{Offset, Timestamp};
