//! `--out-dir DIR`: one JSON-lines file per container, rotated by size,
//! written by the sink layer's file sink keyed by name
//! ([`crate::sink::KeyedFiles`]) with the container as the key.
//!
//! A container's events go to `DIR/NAME.jsonl` (its name, or its id when
//! the tag is Docker's default), every other sender's to
//! `DIR/_syslog.jsonl`; a container name never starts with `_`, so the two
//! cannot meet. Names come from [`super::message::is_container_name`]
//! (letters, digits, `_`, `.`, `-`, not starting with `.`), and the keyed
//! sink checks them again, so no tag can name a path outside `DIR`.

use super::message::is_container_name;

/// The file of senders that are not containers.
pub const OTHERS: &str = "_syslog";

/// The file stem for a container's events (`None`: not a container).
pub fn stem(container: Option<&str>) -> &str {
    match container {
        Some(name) if is_container_name(name) => name,
        _ => OTHERS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_name_or_the_others() {
        assert_eq!(stem(Some("web-1")), "web-1");
        assert_eq!(stem(Some("../../etc/passwd")), OTHERS);
        assert_eq!(stem(Some(".hidden")), OTHERS);
        assert_eq!(stem(None), OTHERS);
    }
}
