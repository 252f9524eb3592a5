//! STUB (contract): nginx's `\xHH` escapes.
use std::borrow::Cow;

/// Decodes `\xHH` escapes; the bool is true when the decoded bytes were not
/// valid UTF-8 and were replaced with U+FFFD.
pub fn decode(s: &str) -> (Cow<'_, str>, bool) {
    (Cow::Borrowed(s), false)
}
