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
    out.extend_from_slice(b" severity_text=");
    out.extend_from_slice(severity.text().as_bytes());
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
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b > b' ' && b != b'"' && b != b'=' && b != b'\\' && b != 0x7f);
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
}
