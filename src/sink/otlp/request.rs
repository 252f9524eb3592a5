//! An export request from encoded frames: one `ResourceLogs` per distinct
//! resource (in the order they first appear), each with one `ScopeLogs`
//! (scope `logmux` and its version) holding its records in order. The
//! frames are already protobuf or OTLP/JSON; this only wraps them. Spans
//! are wrapped alike (`ResourceSpans`, `ScopeSpans`): the traces messages
//! have the logs messages' field numbers, only the JSON names differ.

use indexmap::IndexMap;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use super::Signal;
use crate::output::otlp::Frame;

const SCOPE_NAME: &str = "logmux";
const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Appends the request for `frames` to `out`; returns the number of
/// records in it.
pub fn build<'b>(
    frames: impl Iterator<Item = Frame<'b>>,
    json: bool,
    signal: Signal,
    out: &mut Vec<u8>,
) -> usize {
    let mut groups: Groups<'b> = IndexMap::default();
    let mut records = 0;
    for Frame { resource, record } in frames {
        groups.entry(resource).or_default().push(record);
        records += 1;
    }
    if json {
        json_request(&groups, names(signal), out);
    } else {
        proto_request(&groups, out);
    }
    records
}

type Groups<'b> = IndexMap<&'b [u8], Vec<&'b [u8]>, foldhash::fast::RandomState>;

fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn proto_request(groups: &Groups<'_>, out: &mut Vec<u8>) {
    let scope = field_len(SCOPE_NAME.len()) + field_len(SCOPE_VERSION.len());
    for (resource, records) in groups {
        let scope_logs =
            field_len(scope) + records.iter().map(|r| field_len(r.len())).sum::<usize>();
        let resource_logs = field_len(resource.len()) + field_len(scope_logs);
        header(1, resource_logs, out);
        header(1, resource.len(), out);
        out.extend_from_slice(resource);
        header(2, scope_logs, out);
        header(1, scope, out);
        header(1, SCOPE_NAME.len(), out);
        out.extend_from_slice(SCOPE_NAME.as_bytes());
        header(2, SCOPE_VERSION.len(), out);
        out.extend_from_slice(SCOPE_VERSION.as_bytes());
        for r in records {
            header(2, r.len(), out);
            out.extend_from_slice(r);
        }
    }
}

/// A length-delimited field's key and length.
fn header(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// The OTLP/JSON names of the request's list, the scope's and the items.
fn names(signal: Signal) -> [&'static [u8]; 3] {
    match signal {
        Signal::Logs => [b"resourceLogs", b"scopeLogs", b"logRecords"],
        Signal::Traces => [b"resourceSpans", b"scopeSpans", b"spans"],
    }
}

fn json_request(groups: &Groups<'_>, [list, scopes, items]: [&[u8]; 3], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(list);
    out.extend_from_slice(b"\":[");
    for (i, (resource, records)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"resource\":");
        out.extend_from_slice(resource);
        out.extend_from_slice(b",\"");
        out.extend_from_slice(scopes);
        out.extend_from_slice(b"\":[{\"scope\":{\"name\":\"");
        out.extend_from_slice(SCOPE_NAME.as_bytes());
        out.extend_from_slice(b"\",\"version\":\"");
        out.extend_from_slice(SCOPE_VERSION.as_bytes());
        out.extend_from_slice(b"\"},\"");
        out.extend_from_slice(items);
        out.extend_from_slice(b"\":[");
        for (j, r) in records.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(r);
        }
        out.extend_from_slice(b"]}]}");
    }
    out.extend_from_slice(b"]}");
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::Signal;
    use crate::output::otlp::frames;
    use crate::sink::otlp::messages::{any_value, ExportLogsServiceRequest};

    fn build(bytes: &[u8], json: bool, signal: Signal, out: &mut Vec<u8>) -> usize {
        super::build(frames(bytes).flatten(), json, signal, out)
    }

    /// A frame of `resource` (a protobuf Resource body) and a record that
    /// holds only its severity number.
    fn frame(resource: &[u8], severity: u8) -> Vec<u8> {
        let record = [0x10, severity]; // severity_number = field 2, varint
        let mut f = (resource.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(&(record.len() as u32).to_le_bytes());
        f.extend_from_slice(resource);
        f.extend_from_slice(&record);
        f
    }

    #[test]
    fn one_resource_logs_per_resource_records_in_order() {
        // Resource A: service.name = "a"; B: service.name = "b".
        let a = {
            let mut kv = vec![0x0a, 12];
            kv.extend_from_slice(b"service.name");
            kv.extend_from_slice(&[0x12, 3, 0x0a, 1, b'a']);
            let mut r = vec![0x0a, kv.len() as u8];
            r.extend(kv);
            r
        };
        let mut b = a.clone();
        let last = b.len() - 1;
        b[last] = b'b';
        let bytes: Vec<u8> = [
            frame(&a, 1),
            frame(&b, 2),
            frame(&a, 3),
            frame(&b, 4),
            frame(&a, 5),
        ]
        .concat();
        let mut out = Vec::new();
        assert_eq!(build(&bytes, false, Signal::Logs, &mut out), 5);
        let request = ExportLogsServiceRequest::decode(out.as_slice()).unwrap();
        let got: Vec<(String, Vec<i32>)> = request
            .resource_logs
            .iter()
            .map(|rl| {
                let name = match &rl.resource.as_ref().unwrap().attributes[0]
                    .value
                    .as_ref()
                    .unwrap()
                    .value
                {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    other => panic!("{other:?}"),
                };
                assert_eq!(rl.scope_logs.len(), 1);
                let scope = rl.scope_logs[0].scope.as_ref().unwrap();
                assert_eq!(
                    (scope.name.as_str(), scope.version.as_str()),
                    ("logmux", env!("CARGO_PKG_VERSION"))
                );
                (
                    name,
                    rl.scope_logs[0]
                        .log_records
                        .iter()
                        .map(|r| r.severity_number)
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), vec![1, 3, 5]),
                ("b".to_string(), vec![2, 4])
            ]
        );

        let mut json = Vec::new();
        let jf = |r: &str, n: u8| {
            let rec = format!("{{\"severityNumber\":{n}}}");
            let mut f = (r.len() as u32).to_le_bytes().to_vec();
            f.extend_from_slice(&(rec.len() as u32).to_le_bytes());
            f.extend_from_slice(r.as_bytes());
            f.extend_from_slice(rec.as_bytes());
            f
        };
        let bytes = [jf("{\"attributes\":[]}", 1), jf("{\"attributes\":[]}", 2)].concat();
        assert_eq!(build(&bytes, true, Signal::Logs, &mut json), 2);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["resourceLogs"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1]["severityNumber"],
            2
        );
        assert_eq!(
            v["resourceLogs"][0]["scopeLogs"][0]["scope"]["name"],
            "logmux"
        );
    }
}
