//! The OTLP encoder: each event becomes one frame holding its resource and
//! its log record, already in the wire encoding (protobuf or OTLP/JSON), so
//! the OTLP sink's thread only groups frames by resource, wraps them in an
//! export request, compresses and sends. The costly part (walking the
//! fields) stays on the reader's thread, as for every other encoder.
//!
//! A frame is `[resource length: u32 LE][record length: u32 LE][resource]
//! [record]`: a sink gets whole frames, as other sinks get whole lines.

pub mod json;
pub mod mapping;
pub mod proto;
pub mod spans;

use super::{Event, LocalZone};

/// The OTLP encoder's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otlp {
    /// OTLP/JSON instead of protobuf.
    pub json: bool,
    /// Resource fields every event gets unless it has its own (the config's
    /// `[resource]`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
    pub resource: Vec<(String, String)>,
}

impl Otlp {
    /// Appends one frame for `event`; `statics` are the `[resource]`
    /// fields, which the pipeline added to the record as its own keys.
    pub fn encode(
        &self,
        event: &Event<'_, '_>,
        statics: &[(String, String)],
        zone: LocalZone,
        out: &mut Vec<u8>,
    ) {
        let mapped = mapping::map(event, statics, &self.resource, zone);
        let start = out.len();
        out.extend_from_slice(&[0u8; 8]);
        if self.json {
            json::resource(&mapped, out);
        } else {
            proto::resource(&mapped, out);
        }
        let resource_len = out.len() - start - 8;
        if self.json {
            json::record(&mapped, out);
        } else {
            proto::record(&mapped, out);
        }
        let record_len = out.len() - start - 8 - resource_len;
        put_u32(out, start, resource_len);
        put_u32(out, start + 4, record_len);
    }
}

fn put_u32(out: &mut [u8], at: usize, v: usize) {
    let bytes = u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes();
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&bytes);
    }
}

/// One frame: the resource and the record, each in the wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'b> {
    pub resource: &'b [u8],
    pub record: &'b [u8],
}

/// Splits encoded frames; a torn tail (never written by [`Otlp::encode`])
/// ends the walk and is returned as `Err` with its length.
pub fn frames(mut bytes: &[u8]) -> impl Iterator<Item = Result<Frame<'_>, usize>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let torn = bytes.len();
        let parsed = (|| {
            let r = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
            let l = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
            let resource = bytes.get(8..8 + r)?;
            let record = bytes.get(8 + r..8 + r + l)?;
            Some((Frame { resource, record }, 8 + r + l))
        })();
        match parsed {
            Some((frame, used)) => {
                bytes = &bytes[used..];
                Some(Ok(frame))
            }
            None => {
                bytes = &[];
                Some(Err(torn))
            }
        }
    })
}

#[cfg(test)]
mod tests;
