//! logfmt output: `key=value` pairs with dotted keys, one event per line,
//! as Loki's and Grafana's logfmt parsers read it.

use super::{keeps_original, message, value_text, Encoder, Event};

pub(super) fn encode(enc: &Encoder, event: &Event<'_, '_>, out: &mut Vec<u8>) {
    let record = event.record;
    let severity = record.severity.unwrap_or_default();
    out.extend_from_slice(b"timestamp=");
    enc.write_timestamp(event, out);
    out.extend_from_slice(b" observed_timestamp=");
    out.extend_from_slice(event.observed);
    // The source's own word, as the JSON envelope writes it.
    match &record.severity_text {
        Some(word) => pair(out, "severity_text", word),
        None => {
            out.extend_from_slice(b" severity_text=");
            out.extend_from_slice(severity.text().as_bytes());
        }
    }
    out.extend_from_slice(b" severity_number=");
    out.extend_from_slice(itoa::Buffer::new().format(severity.number()).as_bytes());
    pair(out, "logmux.format", record.format.name());
    if record.invalid_utf8 {
        pair(out, "logmux.invalid_utf8", "true");
    }
    let mut text = String::new();
    for (field, value) in &record.fields {
        text.clear();
        value_text(value, &mut text);
        pair(out, field.name(), &text);
    }
    for (key, value) in &record.extra {
        text.clear();
        value_text(value, &mut text);
        pair(out, key, &text);
    }
    if keeps_original(event) {
        pair(out, "log.record.original", event.raw);
    }
    pair(out, "message", message(event));
    out.push(b'\n');
}

fn pair(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b' ');
    // A key is one bare word in logfmt: an application's JSON key with a
    // space, `=` or `"` in it gets `_` there, so the line still parses.
    out.extend(key.bytes().map(|b| if plain_byte(b) { b } else { b'_' }));
    if key.is_empty() {
        out.push(b'_');
    }
    out.push(b'=');
    let plain = !value.is_empty() && value.bytes().all(plain_byte);
    if plain {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    out.push(b'"');
    for c in value.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if c.is_control() => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A byte that needs no quotes in a logfmt key or value.
fn plain_byte(b: u8) -> bool {
    b > b' ' && b != b'"' && b != b'=' && b != b'\\' && b != 0x7f
}

#[cfg(test)]
mod tests {
    use logmux_parsers::{Field, Format, Record};

    use super::super::test_support::encode_with;
    use super::super::{Encoder, OutputFormat};

    #[test]
    fn writes_pairs_and_quotes_when_needed() {
        let mut r = Record {
            format: Format::NginxAccess,
            ..Default::default()
        };
        r.push_int(Field::HttpResponseStatusCode, 200);
        r.push_str(Field::UserAgentOriginal, "curl/8.0 (x)");
        let enc = Encoder {
            format: OutputFormat::Logfmt,
            ..Encoder::json()
        };
        let out = encode_with(enc, &mut r, "a \"b\"\tc");
        assert_eq!(
            out,
            "timestamp=2026-11-25T18:35:12.000000000Z observed_timestamp=2026-11-25T18:35:12.000000000Z \
             severity_text=INFO severity_number=9 logmux.format=nginx.access http.response.status_code=200 \
             user_agent.original=\"curl/8.0 (x)\" message=\"a \\\"b\\\"\\tc\"\n"
        );
    }

    #[test]
    fn json_strings_are_their_text_and_keys_stay_bare_words() {
        use std::borrow::Cow;
        let mut r = Record {
            format: Format::Json,
            ..Default::default()
        };
        for (key, raw) in [
            ("level", "\"info\""),
            ("odd key=x", "1"),
            ("obj", "{\"a\":1}"),
        ] {
            r.extra.push((
                Cow::Borrowed(key),
                logmux_parsers::Value::RawJson(raw.into()),
            ));
        }
        let enc = Encoder {
            format: OutputFormat::Logfmt,
            ..Encoder::json()
        };
        let out = encode_with(enc, &mut r, "{}");
        assert!(out.contains(" level=info "), "{out}");
        assert!(out.contains(" odd_key_x=1 "), "{out}");
        assert!(out.contains(" obj=\"{\\\"a\\\":1}\" "), "{out}");
    }
}
