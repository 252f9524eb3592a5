//! Format detection: filled in by the engine author.
