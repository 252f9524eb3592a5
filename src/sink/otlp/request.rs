//! An export request from encoded frames: one `ResourceLogs` per distinct
//! resource (in the order they first appear), each with one `ScopeLogs`
//! (scope `logmux` and its version) holding its records in order. The
//! frames are already protobuf or OTLP/JSON; this only wraps them.

use indexmap::IndexMap;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use crate::output::otlp::{frames, Frame};

const SCOPE_NAME: &str = "logmux";
const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Appends the request for `bytes` (whole frames) to `out`; returns the
/// number of records in it.
pub fn build(bytes: &[u8], json: bool, out: &mut Vec<u8>) -> usize {
    let mut groups: IndexMap<&[u8], Vec<&[u8]>, foldhash::fast::RandomState> = IndexMap::default();
    let mut records = 0;
    for Frame { resource, record } in frames(bytes).flatten() {
        groups.entry(resource).or_default().push(record);
        records += 1;
    }
    if json {
        json_request(&groups, out);
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

fn json_request(groups: &Groups<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"resourceLogs\":[");
    for (i, (resource, records)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"resource\":");
        out.extend_from_slice(resource);
        out.extend_from_slice(b",\"scopeLogs\":[{\"scope\":{\"name\":\"");
        out.extend_from_slice(SCOPE_NAME.as_bytes());
        out.extend_from_slice(b"\",\"version\":\"");
        out.extend_from_slice(SCOPE_VERSION.as_bytes());
        out.extend_from_slice(b"\"},\"logRecords\":[");
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
