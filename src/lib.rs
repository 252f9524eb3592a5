//! logmux: structured JSON logs for all-in-one containers.
//!
//! The format knowledge lives in the `logmux-parsers` crate; this crate is
//! the engine around it and its three front doors. A tour, in the order a
//! byte travels:
//! - [`event`]: where a line came from ([`event::Origin`]), when it was read
//!   ([`event::Stamp`]), and the envelope rules that add both to an event;
//! - [`engine`]: [`engine::framing`] cuts bytes into lines,
//!   [`engine::unwrap`] undoes Docker's wrappers, [`engine::pipeline`]
//!   assembles multi-line events, parses and merges them, and
//!   [`engine::input`] ties the three together for a byte stream;
//! - [`output`]: encodes events as JSON, logfmt, pretty or syslog messages;
//! - [`sink`]: where encoded events go (stdout, stderr, files with rotation,
//!   syslog, null), each behind a bounded queue, with its settings type in
//!   [`sink::spec`];
//! - [`diag`]: logmux's own events, written through the same sinks;
//! - [`metrics`]: `/metrics` and `/healthz`, counted from the events and
//!   from logmux itself;
//! - [`config`] and [`units`]: config files and the one grammar of
//!   durations and sizes; [`sys`]: the system calls; [`shutdown`]: how a
//!   door tells its tasks to stop; [`exit`]: outcomes to exit codes;
//! - the front doors: [`filter`] (`logmux filter`), [`run`] (`logmux run`,
//!   PID 1) and [`listen`] (`logmux listen`, a syslog server); [`top`]
//!   (`logmux top`) is a terminal view of their metrics;
//! - [`cli`]: the flags, read only by the binary's `main`.

pub mod cli;
pub mod config;
pub mod diag;
pub mod engine;
pub mod event;
pub mod exit;
pub mod filter;
pub mod listen;
pub mod metrics;
pub mod output;
pub mod run;
pub mod shutdown;
pub mod sink;
pub mod sys;
pub mod top;
pub mod trace;
pub mod units;
