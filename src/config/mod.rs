//! Config files: TOML (and supervisord INI) in, the settings types of the
//! layers below out. Errors name the file, line, column and key.
//!
//! - [`error`]: the one [`ConfigError`] of every config file, and the
//!   [`Locator`] that turns a place in the text into `file:line:column`;
//! - [`filter`]: the top-level keys of `logmux filter --config`;
//! - [`listen`]: `logmux listen --config`, its `[sink.NAME]` tables;
//! - [`run`]: the `logmux run` config, deserialised raw, then resolved;
//!   each sink's settings type lives with its sink ([`crate::sink::spec`]);
//! - [`metrics`]: the `[metrics]` table of every door's config;
//! - [`trace`]: the `[trace]` table (the span builder's window and bound);
//! - [`sinks`]: `[sink.NAME]` tables, shared by every door's config;
//! - [`ini`]: a supervisord INI file read into the same raw shape;
//! - [`template`]: `${VAR}` rendering and `when` conditions;
//! - [`trace`]: the `[trace]` table of `logmux run`.

pub mod error;
pub mod filter;
pub mod ini;
pub mod listen;
pub mod metrics;
pub mod resource;
pub mod run;
pub mod sinks;
pub mod template;
mod toml_words;
pub mod trace;

pub use error::{line_col, ConfigError, Locator};
pub use filter::{parse_format_name, Config, ConfigFile};
