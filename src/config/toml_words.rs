//! toml's and serde's error messages, said in words for a person editing a
//! config file. Their own wording names Rust types (`untagged enum
//! CommandValue`, `u32`, `target type`) and parser states (`invalid table
//! header`); each known shape is rewritten to say what was expected, and
//! anything else keeps toml's first line.

/// What each value type of the config accepts, by its Rust name.
const TYPES: &[(&str, &str)] = &[
    (
        "CommandValue",
        "a command: a string (`\"gunicorn app:wsgi\"`) or an array of strings (`[\"gunicorn\", \"app:wsgi\"]`)",
    ),
    (
        "DurationValue",
        "a duration: whole seconds (`10`) or text such as `\"500ms\"`, `\"1.5s\"` or `\"12h\"`",
    ),
    (
        "SizeValue",
        "a size: a number of bytes (`1048576`) or text such as `\"10MiB\"`",
    ),
];

/// The largest integer a TOML file can hold.
const TOML_MAX: &str = "9223372036854775807";

/// A toml error message (all its lines) in words.
pub fn in_words(message: &str) -> String {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("invalid TOML").trim();
    let second = lines.next().unwrap_or("").trim();
    if let Some(rest) = first.split("untagged enum ").nth(1) {
        let name = rest.trim();
        let what = TYPES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("a value of another type", |(_, w)| w);
        return format!("expected {what}");
    }
    if first == "number too large to fit in target type" {
        return format!("the number is too large: TOML integers stop at {TOML_MAX}");
    }
    let header = first == "invalid table header";
    if let Some(dup) = duplicate(first, header).or_else(|| duplicate(second, header)) {
        return dup;
    }
    match (first, second) {
        ("invalid key", _) => {
            "expected a key before `=`: letters, digits, `_` and `-`, or a quoted string".into()
        }
        ("invalid table header", _) => {
            "a table header is a dotted name in brackets, such as `[program.web]`".into()
        }
        ("invalid string", s) if s.starts_with("expected `\"`") => {
            "expected a value after `=`: a quoted string, a number, true or false, or an array"
                .into()
        }
        // toml's word for an enum given a number or a boolean.
        ("wanted string or table", _) => {
            "expected one of this key's words, as a quoted string".into()
        }
        ("invalid basic string", _) => {
            "a string must end with `\"` on the same line (`\"\"\"…\"\"\"` spans lines)".into()
        }
        _ => expected_found(first).unwrap_or_else(|| first.to_string()),
    }
}

/// `duplicate key `a` in table `program``: on a table header, the table
/// `[program.a]` twice; elsewhere, a key set twice.
fn duplicate(line: &str, header: bool) -> Option<String> {
    let rest = line.strip_prefix("duplicate key `")?;
    let (key, place) = rest.split_once('`')?;
    let table = place
        .trim()
        .strip_prefix("in table `")
        .and_then(|t| t.strip_suffix('`'));
    let full = table.map_or(key.to_string(), |t| format!("{t}.{key}"));
    Some(if header {
        format!(
            "the table [{full}] appears twice; write each table once and put all its keys there"
        )
    } else {
        format!("`{key}` is set twice; set each key once")
    })
}

/// serde's `invalid type: integer `5`, expected a string` (or `invalid
/// value`): what was expected first, then what was found.
fn expected_found(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("invalid type: ")
        .or_else(|| line.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "u32 less than 4294967296" => "a whole number below 4294967296".to_string(),
        other => other.to_string(),
    };
    Some(format!(
        "expected {expected}, found {}",
        found.replace('`', "")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_internals_become_words() {
        assert_eq!(
            in_words("data did not match any variant of untagged enum CommandValue"),
            "expected a command: a string (`\"gunicorn app:wsgi\"`) or an array of strings (`[\"gunicorn\", \"app:wsgi\"]`)"
        );
        assert_eq!(
            in_words("invalid type: integer `5`, expected a string"),
            "expected a string, found integer 5"
        );
        assert_eq!(
            in_words("invalid value: integer `-1`, expected u32"),
            "expected a whole number, 0 or more, found integer -1"
        );
        assert_eq!(
            in_words("invalid table header\nduplicate key `a` in table `program`"),
            "the table [program.a] appears twice; write each table once and put all its keys there"
        );
        assert_eq!(in_words("unknown field `x`"), "unknown field `x`");
    }
}
