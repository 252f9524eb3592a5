//! nginx: the access log (`combined`, `common` or a user's `log_format`) and the error log.

pub mod access;
pub mod error;
pub mod escape;
pub mod log_format;
