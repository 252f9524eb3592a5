//! The Prometheus text exposition format (version 0.0.4), read back.
//!
//! `logmux top` reads what a logmux `/metrics` endpoint (or the control
//! socket's `metrics` request) writes. Hand-rolled for the subset that
//! matters there, instead of a crate: sample lines `name{label="value",…}
//! value [timestamp]`, with the label escapes `\\`, `\"` and `\n`, values
//! as Go's ParseFloat writes them (`+Inf`, `-Inf`, `NaN` included), and
//! `#` lines (HELP, TYPE, comments) skipped, since a reader of known names
//! does not need the types. OpenMetrics' extras (`# EOF`, exemplars) are
//! not read: a line with one is reported, the rest still count.
//!
//! Never panics: a line that does not parse becomes a [`LineError`] with
//! its number, and the other lines are still read.

/// One sample: a metric name, its labels in the order written, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
    /// The optional timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The value of label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A line that is not a sample: its number (from 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// What a whole exposition text holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub errors: Vec<LineError>,
}

/// Reads every line of `text`; blank and `#` lines are skipped.
pub fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_sample(line) {
            Ok(sample) => out.samples.push(sample),
            Err(message) => out.errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    out
}

/// One sample line (already trimmed, not a comment).
pub fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "expected a metric name at the start of `{}`",
            clip(line)
        ));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, tail) = parse_labels(after)?;
        labels = parsed;
        rest = tail;
    }
    let mut words = rest.split_ascii_whitespace();
    let value = words
        .next()
        .ok_or_else(|| format!("metric {name} has no value"))?;
    let value = parse_value(value)
        .ok_or_else(|| format!("metric {name}: `{}` is not a number", clip(value)))?;
    let timestamp_ms = match words.next() {
        None => None,
        Some(ts) => Some(
            ts.parse::<i64>()
                .map_err(|_| format!("metric {name}: `{}` is not a timestamp", clip(ts)))?,
        ),
    };
    if words.next().is_some() {
        return Err(format!("metric {name}: unexpected text after the value"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Labels in the order written: (name, value).
type Labels = Vec<(String, String)>;

/// `a="x",b="y"}` (after the `{`): the labels and the text after the `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(tail) = s.strip_prefix('}') {
            return Ok((labels, tail));
        }
        let key_end = s.find(|c: char| !is_label_char(c)).unwrap_or(s.len());
        let key = &s[..key_end];
        if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected a label name at `{}`", clip(s)));
        }
        s = s[key_end..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix("=\"")
            .ok_or_else(|| format!("label {key}: expected =\""))?;
        let (value, tail) =
            parse_quoted(s).ok_or_else(|| format!("label {key}: unterminated value"))?;
        labels.push((key.to_string(), value));
        s = tail.trim_start_matches([' ', '\t']);
        if let Some(tail) = s.strip_prefix(',') {
            s = tail;
        } else if !s.starts_with('}') {
            return Err(format!("label {key}: expected , or }} after the value"));
        }
    }
}

/// A label value up to its closing quote, unescaped; the text after it.
fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

/// A value: a float as Go writes it, including `+Inf`, `-Inf` and `NaN`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust also reads `inf`, `infinity` and `nan` in any case: fine.
        _ => s.parse().ok(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// At most 40 characters of `s`, for an error message.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn samples_with_labels_escapes_and_special_values() {
        let text = "# HELP x_total Things.\n# TYPE x_total counter\n\
            x_total{service=\"web\",path=\"a\\\"b\\\\c\\nd\"} 42\n\
            up 1 1700000000000\n\
            h_bucket{le=\"+Inf\"} +Inf\n\
            g -Inf\n  n NaN\n\n\
            e{} 1.5e-3\n";
        let e = parse(text);
        assert_eq!(e.errors, vec![]);
        assert_eq!(e.samples.len(), 6);
        assert_eq!(e.samples[0].name, "x_total");
        assert_eq!(
            e.samples[0].labels,
            vec![
                ("service".to_string(), "web".to_string()),
                ("path".to_string(), "a\"b\\c\nd".to_string())
            ]
        );
        assert_eq!(e.samples[0].value, 42.0);
        assert_eq!(e.samples[0].label("service"), Some("web"));
        assert_eq!(e.samples[1].value, 1.0);
        assert_eq!(e.samples[1].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(e.samples[0].timestamp_ms, None);
        assert_eq!(e.samples[2].label("le"), Some("+Inf"));
        assert_eq!(e.samples[2].value, f64::INFINITY);
        assert_eq!(e.samples[3].value, f64::NEG_INFINITY);
        assert!(e.samples[4].value.is_nan());
        assert_eq!(e.samples[5].labels, vec![]);
        assert_eq!(e.samples[5].value, 0.0015);
    }

    #[test]
    fn bad_lines_are_reported_by_number_and_the_rest_is_read() {
        let e = parse("a 1\nb{x=\"1} 2\n9c 3\nd\ne{x=\"1\"} one\nf 1 2 3\ng{x=1} 1\nh 7\n");
        let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7]);
        let names: Vec<&str> = e.samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["a", "h"]);
        assert_eq!(
            e.errors[3].to_string(),
            "line 5: metric e: `one` is not a number"
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panicking(text in "\\PC*") {
            let e = parse(&text);
            prop_assert!(e.samples.len() + e.errors.len() <= text.lines().count());
        }

        #[test]
        fn near_valid_lines_parse_without_panicking(
            text in "[a-z_{}=\",\\\\ +.0-9InfNa#\n]{0,80}"
        ) {
            let _ = parse(&text);
        }

        #[test]
        fn written_samples_read_back(
            name in "[a-z_][a-z0-9_]{0,10}",
            key in "[a-z_][a-z0-9_]{0,6}",
            value_text in "[ -~]{0,12}",
            value in -1e12f64..1e12,
        ) {
            let escaped = value_text.replace('\\', "\\\\").replace('"', "\\\"");
            let line = format!("{name}{{{key}=\"{escaped}\"}} {value}");
            let s = parse_sample(&line).map_err(TestCaseError::fail)?;
            prop_assert_eq!(s.name, name);
            prop_assert_eq!(s.labels, vec![(key, value_text)]);
            prop_assert_eq!(s.value, value);
        }
    }
}
