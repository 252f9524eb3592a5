//! logmux
