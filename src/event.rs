//! Events and where they come from: the types every layer shares.
//!
//! An [`Origin`] is what the reader of a stream knows about its lines (the
//! program, its pipe, the container, the syslog sender); a [`Stamp`] is when
//! a line was read and what a wrapper said of it. The envelope rules add the
//! origin to an event. There are two, side by side below:
//! - [`add_to_parsed`]: a line logmux parsed itself gets every origin field,
//!   each in its sorted place;
//! - [`add_to_merged`]: a line that already is a logmux event (from a
//!   `logmux run` inside a container) keeps its own program, stream and pid;
//!   only the wrapper's container, host and syslog fields replace its own.

pub use logmux_parsers::traceback::Burst;
use logmux_parsers::{Added, Field, Format, Record, Severity, Timestamp, Value};

use crate::output::{sort_fields_with, FieldOrders};

/// Which of a program's streams a line came from (`log.iostream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoStream {
    Stdout,
    Stderr,
}

impl IoStream {
    pub fn name(self) -> &'static str {
        match self {
            IoStream::Stdout => "stdout",
            IoStream::Stderr => "stderr",
        }
    }
}

/// Where a stream's lines come from: the envelope of its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub service: Option<String>,
    pub iostream: Option<IoStream>,
    pub pid: Option<u32>,
    pub container_name: Option<String>,
    pub container_id: Option<String>,
    /// The image a Docker tag like `nginx:1.25/web-1` names.
    pub container_image: Option<Image>,
    pub file: Option<String>,
    /// The sending host, from a syslog header (`host.name`).
    pub host_name: Option<String>,
    /// The rest of a syslog header, for `logmux listen`.
    pub syslog: Option<SyslogOrigin>,
}

/// A container's image: `container.image.name` and `container.image.tags`
/// (a JSON array of strings, as OTel's `string[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub tags_json: Option<String>,
}

impl Image {
    /// The image part of a Docker tag (`{{.ImageName}}`): `nginx:1.25`,
    /// `registry:5000/team/app:v2`, `app@sha256:…` (a digest, no tag).
    pub fn from_reference(reference: &str) -> Option<Image> {
        let name_end = reference.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match reference.split_once('@') {
            Some((name, _digest)) => (name, None),
            None => match reference.rfind(':').filter(|&i| i >= name_end) {
                Some(i) => (&reference[..i], Some(&reference[i + 1..])),
                None => (reference, None),
            },
        };
        if name.is_empty() {
            return None;
        }
        let tags_json = tag
            .filter(|t| !t.is_empty())
            .and_then(|t| serde_json::to_string(&[t]).ok());
        Some(Image {
            name: name.to_string(),
            tags_json,
        })
    }
}

/// The syslog header fields an event keeps (`log.syslog.*`, as ECS names
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogOrigin {
    /// The facility's name (`daemon`, `local0`).
    pub facility: &'static str,
    /// PRI: facility × 8 + severity.
    pub priority: u8,
    pub appname: Option<String>,
    pub hostname: Option<String>,
    pub procid: Option<String>,
    pub msgid: Option<String>,
}

/// When a line was read, as RFC 3339 and as Unix time, and the time (and
/// severity) a wrapper (such as `docker logs -t`, or a syslog header) put on
/// it. The line's own time and severity win over the wrapper's.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    observed: [u8; 40],
    observed_len: u8,
    unix: (i64, u32),
    pub wrapper_time: Option<Timestamp>,
    pub wrapper_severity: Option<Severity>,
    /// The wrapper's own word for its severity (syslog's `notice`).
    pub wrapper_severity_text: Option<&'static str>,
    /// How the line came next to the one before it on its stream (see
    /// [`BurstClock`]).
    pub burst: Burst,
    /// For a read: how its lines after the first came.
    pub burst_rest: Burst,
}

/// A read that returns within this time of the one before brings lines of
/// the same burst ([`Burst::Same`]); one that waited longer than this for
/// its bytes comes after the writer paused ([`Burst::Paused`]); one that
/// returns later without having waited ([`Burst::Unknown`]) means the
/// reader fell behind. A traceback's message lines and notes may follow
/// its exception line in one burst (see `logmux_parsers::traceback`).
pub const BURST_GAP: std::time::Duration = std::time::Duration::from_millis(20);

/// Tells, read by read, how a stream's bytes came ([`Burst`]).
///
/// A read takes everything in the pipe. If the pipe was empty when it
/// began (the reader was waiting), its bytes are fresh: written in one
/// burst around its return. If they were waiting, they were written at any
/// time since the read before returned, so they are one burst only when
/// that was within [`BURST_GAP`].
#[derive(Debug, Default)]
pub struct BurstClock {
    last_return: Option<std::time::Instant>,
}

impl BurstClock {
    /// A read that started at `started`, with bytes already waiting or not
    /// (`waiting`), has just returned some: how its first line came, and
    /// how its other lines did.
    pub fn read_returned(&mut self, started: std::time::Instant, waiting: bool) -> (Burst, Burst) {
        let now = std::time::Instant::now();
        let first_read = self.last_return.is_none();
        let close = self
            .last_return
            .is_some_and(|t| now.saturating_duration_since(t) <= BURST_GAP);
        self.last_return = Some(now);
        let waited = now.saturating_duration_since(started) > BURST_GAP;
        let first = match (waiting, close) {
            (false, _) if waited || first_read => Burst::Paused,
            (_, true) => Burst::Same,
            _ => Burst::Unknown,
        };
        let rest = if !waiting || close {
            Burst::Same
        } else {
            Burst::Unknown
        };
        (first, rest)
    }
}

impl Stamp {
    /// The stamp for a line read now.
    pub fn now() -> Stamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        Stamp::at_unix(secs, since.subsec_nanos())
    }

    /// A stamp for a fixed observation time, `secs` and `nanos` after the
    /// Unix epoch.
    pub fn at_unix(secs: i64, nanos: u32) -> Stamp {
        let mut buf = Vec::with_capacity(40);
        Timestamp::from_unix(secs, nanos, 9).write_rfc3339(&mut buf, 0);
        let mut observed = [0u8; 40];
        let len = buf.len().min(40);
        observed[..len].copy_from_slice(&buf[..len]);
        Stamp {
            observed,
            observed_len: len as u8,
            unix: (secs, nanos.min(999_999_999)),
            wrapper_time: None,
            wrapper_severity: None,
            wrapper_severity_text: None,
            burst: Burst::Unknown,
            burst_rest: Burst::Unknown,
        }
    }

    pub fn observed(&self) -> &[u8] {
        &self.observed[..usize::from(self.observed_len)]
    }

    /// The observation time as seconds and nanoseconds since the Unix epoch.
    pub fn observed_unix(&self) -> (i64, u32) {
        self.unix
    }
}

/// Adds the fields that say where the event came from, each in its place
/// among the sorted fields, moved in together ([`Record::merge_sorted`]).
/// They are put in the schema's order, so they need no sort.
pub fn add_to_parsed<'a>(origin: &'a Origin, rec: &mut Record<'a>, orders: &mut FieldOrders) {
    sort_fields_with(rec, Some(orders));
    let mut added = Added::new();
    let mut put = |field: Field, value: Value<'a>| added.push((field, value));
    if let Some(c) = &origin.container_id {
        put(Field::ContainerId, Value::str(c));
    }
    if let Some(image) = &origin.container_image {
        put(Field::ContainerImageName, Value::str(&image.name));
        if let Some(tags) = &image.tags_json {
            put(Field::ContainerImageTags, Value::RawJson(tags.into()));
        }
    }
    if let Some(c) = &origin.container_name {
        put(Field::ContainerName, Value::str(c));
    }
    if let Some(h) = &origin.host_name {
        put(Field::HostName, Value::str(h));
    }
    if let Some(f) = &origin.file {
        put(Field::LogFilePath, Value::str(f));
    }
    if let Some(s) = origin.iostream {
        put(Field::LogIostream, Value::str(s.name()));
    }
    if let Some(s) = &origin.syslog {
        let text = |v: &'a Option<String>| v.as_deref().map(Value::str);
        let syslog = [
            (Field::LogSyslogAppname, text(&s.appname)),
            (Field::LogSyslogFacilityName, Some(Value::str(s.facility))),
            (Field::LogSyslogHostname, text(&s.hostname)),
            (Field::LogSyslogMsgid, text(&s.msgid)),
            (
                Field::LogSyslogPriority,
                Some(Value::Int(i64::from(s.priority))),
            ),
            (Field::LogSyslogProcid, text(&s.procid)),
        ];
        for (field, value) in syslog {
            if let Some(v) = value {
                put(field, v);
            }
        }
    }
    if let Some(pid) = origin.pid {
        if rec.get(Field::ProcessPid).is_none() {
            put(Field::ProcessPid, Value::Int(i64::from(pid)));
        }
    }
    if let Some(s) = service_name(origin, rec) {
        put(Field::ServiceName, Value::str(s));
    }
    debug_assert!(
        added.is_sorted_by_key(|(f, _)| *f),
        "put in the schema's order"
    );
    rec.merge_sorted(&mut added);
}

/// The program that wrote the line: the origin's, else its format's.
fn service_name<'a>(origin: &'a Origin, rec: &Record<'_>) -> Option<&'a str> {
    origin.service.as_deref().or(match rec.format {
        // Without a supervisor or wrapper to say which program wrote a
        // line, its format does.
        Format::NginxAccess | Format::NginxError => Some("nginx"),
        Format::UwsgiRequest | Format::UwsgiLog => Some("uwsgi"),
        Format::Supervisord => Some("supervisord"),
        Format::Django => Some("django"),
        // Django's `Internal Server Error: /path` leads the traceback.
        Format::PythonTraceback if rec.get(Field::UrlPath).is_some() => Some("django"),
        _ => None,
    })
}

/// Under `logmux run`, for a program that merges (`merge = true`): the
/// supervisor knows the program's `service.name` and pid, and they replace
/// whatever the event claims; the rest is [`add_to_merged`].
pub fn add_program_to_merged<'a>(origin: &'a Origin, rec: &mut Record<'a>) {
    if let Some(service) = origin.service.as_deref() {
        rec.remove(Field::ServiceName);
        rec.push_str(Field::ServiceName, service);
    }
    if let Some(pid) = origin.pid {
        rec.remove(Field::ProcessPid);
        rec.push_int(Field::ProcessPid, i64::from(pid));
    }
    add_to_merged(origin, rec);
}

/// Adds the envelope of where the event was read, as the merge rule says (see [`logmux_parsers::logmux_event`]).
pub fn add_to_merged<'a>(origin: &'a Origin, rec: &mut Record<'a>) {
    if origin.container_name.is_some() || origin.container_id.is_some() {
        replace(rec, Field::ContainerName, origin.container_name.as_deref());
        replace(rec, Field::ContainerId, origin.container_id.as_deref());
        rec.remove(Field::ContainerImageName);
        rec.remove(Field::ContainerImageTags);
        if let Some(image) = &origin.container_image {
            rec.push_str(Field::ContainerImageName, &image.name);
            if let Some(tags) = &image.tags_json {
                rec.push(Field::ContainerImageTags, Value::RawJson(tags.into()));
            }
        }
    }
    replace(rec, Field::HostName, origin.host_name.as_deref());
    if let Some(s) = &origin.syslog {
        replace(rec, Field::LogSyslogFacilityName, Some(s.facility));
        replace(rec, Field::LogSyslogAppname, s.appname.as_deref());
        replace(rec, Field::LogSyslogHostname, s.hostname.as_deref());
        replace(rec, Field::LogSyslogProcid, s.procid.as_deref());
        replace(rec, Field::LogSyslogMsgid, s.msgid.as_deref());
        rec.remove(Field::LogSyslogPriority);
        rec.push_int(Field::LogSyslogPriority, i64::from(s.priority));
    }
    unless_set(rec, Field::ServiceName, origin.service.as_deref());
    unless_set(rec, Field::LogIostream, origin.iostream.map(|s| s.name()));
    unless_set(rec, Field::LogFilePath, origin.file.as_deref());
    if let Some(pid) = origin.pid {
        if rec.get(Field::ProcessPid).is_none() {
            rec.push_int(Field::ProcessPid, i64::from(pid));
        }
    }
}

/// Sets `field` to `value`, replacing the event's own, when there is a value.
fn replace<'a>(rec: &mut Record<'a>, field: Field, value: Option<&'a str>) {
    if let Some(v) = value {
        rec.remove(field);
        rec.push_str(field, v);
    }
}

/// Sets `field` to `value` unless the event has its own.
fn unless_set<'a>(rec: &mut Record<'a>, field: Field, value: Option<&'a str>) {
    if let Some(v) = value {
        if rec.get(field).is_none() {
            rec.push_str(field, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(reference: &str) -> Option<(String, Option<String>)> {
        Image::from_reference(reference).map(|i| (i.name, i.tags_json))
    }

    #[test]
    fn image_references_split_into_name_and_tags() {
        let some = |n: &str, t: Option<&str>| Some((n.to_string(), t.map(str::to_string)));
        assert_eq!(image("nginx:1.25"), some("nginx", Some(r#"["1.25"]"#)));
        assert_eq!(image("nginx"), some("nginx", None));
        assert_eq!(
            image("registry:5000/team/app:v2"),
            some("registry:5000/team/app", Some(r#"["v2"]"#))
        );
        assert_eq!(
            image("registry:5000/team/app"),
            some("registry:5000/team/app", None)
        );
        assert_eq!(image("app@sha256:abcd"), some("app", None));
        assert_eq!(image("nginx:"), some("nginx", None));
        assert_eq!(image(""), None);
        assert_eq!(image(":1"), None);
    }
}
