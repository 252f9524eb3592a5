//! The engine: from bytes to encoded events, the same for every door.
//!
//! In the order a byte travels:
//! - [`framing`] cuts a stream of bytes into lines, one buffer per stream;
//! - [`unwrap`] undoes Docker's wrappers (`docker logs -t`, compose, json-file);
//! - [`pipeline`] assembles multi-line events, parses them, merges lines that
//!   already are logmux events, and adds the envelope;
//! - [`input`] puts the three together for a door that reads a byte stream;
//! - [`parallel`] parses one input's chunks on several threads, with the
//!   output of one.
//!
//! Nothing here does I/O: the doors read, and the sinks write.

pub mod framing;
pub mod input;
pub mod parallel;
pub mod pipeline;
#[doc(hidden)]
pub mod samples;
pub mod unwrap;

pub use framing::LineFramer;
pub use input::Input;
pub use pipeline::{LineBytes, Output, Pipeline, Settings, Stats, StreamState};
pub use unwrap::Unwrapper;
