//! `logmux run`: the PID-1 supervisor.
pub mod config;
pub mod ini;
pub mod template;
