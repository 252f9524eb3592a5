//! logmux: structured JSON logs for all-in-one containers.
//!
//! The format knowledge lives in the `logmux-parsers` crate; this crate is
//! the engine around it. A tour, in the order a byte travels:
//! - [`framing`] cuts a stream of bytes into lines, one buffer per stream;
//! - [`unwrap`] undoes Docker's wrappers (`docker logs -t`, compose, json-file);
//! - [`pipeline`] assembles multi-line events, parses, and adds the envelope;
//!   [`merge`] takes lines that are already logmux events as they are;
//! - [`output`] encodes events as JSON, logfmt or a pretty view;
//! - [`filter`] is the `logmux filter` front door that wires these together;
//! - [`listen`] is the `logmux listen` front door, a syslog server;
//! - [`cli`] and [`config`] turn flags and files into jobs; [`diag`] reports
//!   logmux's own events.

pub mod cli;
pub mod config;
pub mod diag;
pub mod filter;
pub mod framing;
pub mod listen;
pub mod merge;
pub mod output;
pub mod pipeline;
pub mod run;
pub mod sink;
pub mod unwrap;
