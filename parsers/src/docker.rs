//! STUB (contract): Docker's wrappers around a line.
use std::borrow::Cow;

use crate::time::Timestamp;

/// Which stream a json-file line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a json-file log.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonFileLine<'a> {
    pub log: Cow<'a, str>,
    pub stream: Stream,
    pub time: Option<Timestamp>,
    /// `log` did not end in `\n`: a piece of a line Docker split.
    pub partial: bool,
}

/// `2024-05-01T12:34:56.123456789Z rest` → the time and `rest`.
pub fn strip_timestamp(_line: &str) -> Option<(Timestamp, &str)> {
    None
}

/// `web-1  | rest`, coloured or not → (`web-1`, `rest`).
pub fn strip_compose_prefix(_line: &str) -> Option<(&str, &str)> {
    None
}

/// `web-1` → `web`: the compose service of a container name.
pub fn compose_service(container: &str) -> &str {
    container
}

pub fn parse_json_file(_line: &str) -> Option<JsonFileLine<'_>> {
    None
}

/// `/var/lib/docker/containers/<id>/<id>-json.log` → `<id>`.
pub fn container_id_from_path(_path: &str) -> Option<&str> {
    None
}
