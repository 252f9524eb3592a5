//! The Prometheus text exposition format, version 0.0.4.
//!
//! One `# HELP` and `# TYPE` line per family, then one line per sample:
//! `name{label="value",…} number`. In label values a backslash, a double
//! quote and a newline are escaped (`\\`, `\"`, `\n`); in HELP text a
//! backslash and a newline. Numbers are written as Rust writes an f64
//! (`0.005`, `12`), infinity as `+Inf`.

use std::fmt::Write as _;

/// The content type of the text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds the exposition text.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            out: String::with_capacity(16 * 1024),
        }
    }

    /// The `# HELP` and `# TYPE` lines of a family.
    pub fn header(&mut self, name: &str, help: &str, kind: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind);
        self.out.push('\n');
    }

    /// One sample: `name` + `suffix`, the labels, an `le` label when
    /// given (a histogram bucket), and the value.
    pub fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<f64>,
        value: f64,
    ) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        if !labels.is_empty() || le.is_some() {
            self.out.push('{');
            let mut first = true;
            for (k, v) in labels {
                if !first {
                    self.out.push(',');
                }
                first = false;
                self.label(k, v);
            }
            if let Some(le) = le {
                if !first {
                    self.out.push(',');
                }
                self.out.push_str("le=\"");
                self.number(le);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.number(value);
        self.out.push('\n');
    }

    fn label(&mut self, key: &str, value: &str) {
        self.out.push_str(key);
        self.out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '"' => self.out.push_str("\\\""),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn number(&mut self, v: f64) {
        if v == f64::INFINITY {
            self.out.push_str("+Inf");
        } else if v == f64::NEG_INFINITY {
            self.out.push_str("-Inf");
        } else if v.is_nan() {
            self.out.push_str("NaN");
        } else {
            let _ = write!(self.out, "{v}");
        }
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut w = Writer::new();
        w.sample("m", "", &[("type", "a\\b\"c\nd")], None, 1.0);
        assert_eq!(w.finish(), "m{type=\"a\\\\b\\\"c\\nd\"} 1\n");
    }

    #[test]
    fn help_escapes_backslash_and_newline_and_buckets_write_le() {
        let mut w = Writer::new();
        w.header("h", "one\\two\nthree", "histogram");
        w.sample("h", "_bucket", &[("service", "web")], Some(0.005), 3.0);
        w.sample("h", "_bucket", &[], Some(f64::INFINITY), 4.0);
        w.sample("h", "_sum", &[], None, 0.25);
        assert_eq!(
            w.finish(),
            "# HELP h one\\\\two\\nthree\n# TYPE h histogram\n\
             h_bucket{service=\"web\",le=\"0.005\"} 3\n\
             h_bucket{le=\"+Inf\"} 4\n\
             h_sum 0.25\n"
        );
    }
}
