//! What a parsed syslog message says about its sender: whether it is
//! Docker's logging driver, which container and stream a line came from,
//! and the envelope (`service.name`, `container.*`, `host.name`,
//! `syslog.*`) its events carry.
//!
//! Docker's driver writes every line of a container with the same tag and
//! PID, severity `info` for stdout and `err` for stderr. A generic sender
//! (`logger`, rsyslog relaying a host's daemons) uses severities and tags
//! for what they mean. The two are told apart by the shape of the header,
//! since Docker's four formats are fixed (see [`is_docker`]).

use logmux_parsers::syslog::{self, Message, Protocol};
use logmux_parsers::Severity;

use crate::event::{Image, IoStream, Origin, SyslogOrigin};

/// Syslog severity codes Docker uses.
const SEVERITY_ERR: u8 = 3;
const SEVERITY_INFO: u8 = 6;
/// Docker's default facility.
const FACILITY_DAEMON: u8 = 3;

/// Longest container name taken from a tag; longer tags are not names.
/// It keeps `NAME.jsonl` within a file name's 255 bytes.
const MAX_NAME: usize = 200;

/// A container, as its tag names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container<'a> {
    /// `{{.Name}}`, or the part after the last `/` of `{{.ImageName}}/{{.Name}}`.
    Name(&'a str),
    /// Docker's default tag `{{.ID}}` (12 hex digits), or `{{.FullID}}` (64).
    Id(&'a str),
}

impl<'a> Container<'a> {
    /// The container a Docker tag names, if it names one.
    pub fn from_tag(tag: &'a str) -> Option<Container<'a>> {
        let last = tag.rsplit('/').next().unwrap_or(tag);
        if matches!(last.len(), 12 | 64)
            && last.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Some(Container::Id(last));
        }
        is_container_name(last).then_some(Container::Name(last))
    }

    /// The name or the id: what the container's `--out-dir` file is named after.
    pub fn as_str(self) -> &'a str {
        match self {
            Container::Name(s) | Container::Id(s) => s,
        }
    }
}

/// Docker's rule for container names, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with a
/// length limit. Such a name never holds `/` nor starts with `.`, so it is
/// safe as a file name.
pub fn is_container_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b.len() <= MAX_NAME
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Whether a message has the shape of one from Docker's syslog driver:
/// a tag, a numeric PID, severity info or err, and one of
/// - the default format: RFC 3164 without a hostname;
/// - `syslog-format=rfc3164` with the default facility `daemon`;
/// - `rfc5424` / `rfc5424micro`: MSGID equal to APP-NAME, no structured data.
pub fn is_docker(m: &Message<'_>) -> bool {
    let pid = m
        .procid
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let shaped = match m.protocol {
        Protocol::Rfc3164 => m.hostname.is_none() || m.facility == FACILITY_DAEMON,
        Protocol::Rfc5424 => {
            m.msgid.is_some() && m.msgid == m.app_name && m.structured_data.is_none()
        }
    };
    pid && m.app_name.is_some() && matches!(m.severity, SEVERITY_INFO | SEVERITY_ERR) && shaped
}

/// What the listener takes from one message's header.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub docker: bool,
    /// Docker: info is stdout, err is stderr.
    pub iostream: Option<IoStream>,
    /// Docker's tag (the container is read from it only for a new stream).
    tag: Option<&'a str>,
    /// The severity events get when their body has none: the PRI's, except
    /// for Docker, whose PRI only says which stream a line came from.
    pub severity: Option<Severity>,
    /// The PRI's own word for that severity (`notice`, `err`).
    pub severity_text: Option<&'static str>,
}

impl<'a> Sender<'a> {
    pub fn of(m: &Message<'a>) -> Sender<'a> {
        let docker = is_docker(m);
        if docker {
            Sender {
                docker,
                iostream: Some(if m.severity == SEVERITY_ERR {
                    IoStream::Stderr
                } else {
                    IoStream::Stdout
                }),
                tag: m.app_name,
                severity: None,
                severity_text: None,
            }
        } else {
            Sender {
                docker,
                iostream: None,
                tag: None,
                severity: Some(syslog::severity(m.severity)),
                severity_text: Some(syslog::severity_keyword(m.severity)),
            }
        }
    }

    /// The container a Docker tag names.
    pub fn container(&self) -> Option<Container<'a>> {
        self.tag.and_then(Container::from_tag)
    }

    /// The envelope of this sender's events.
    pub fn origin(&self, m: &Message<'_>) -> Origin {
        let (container_name, container_id) = match self.container() {
            Some(Container::Name(n)) => (Some(n.to_string()), None),
            Some(Container::Id(id)) => (None, Some(id.to_string())),
            None => (None, None),
        };
        // `{{.ImageName}}/{{.Name}}`: the image before the last `/`.
        let container_image = self
            .tag
            .filter(|_| self.container().is_some())
            .and_then(|t| t.rsplit_once('/'))
            .and_then(|(image, _)| Image::from_reference(image));
        // A Docker sender's service is its container, not the whole tag.
        let service = container_name.clone().or(m.app_name.map(str::to_string));
        Origin {
            service,
            iostream: self.iostream,
            container_name,
            container_id,
            container_image,
            host_name: m.hostname.map(str::to_string),
            syslog: Some(syslog_origin(m)),
            ..Origin::default()
        }
    }
}

/// The `log.syslog.*` fields of a message.
pub fn syslog_origin(m: &Message<'_>) -> SyslogOrigin {
    SyslogOrigin {
        facility: syslog::facility_name(m.facility),
        priority: priority(m),
        appname: m.app_name.map(str::to_string),
        hostname: m.hostname.map(str::to_string),
        procid: m.procid.map(str::to_string),
        msgid: m.msgid.map(str::to_string),
    }
}

/// The PRI value, facility × 8 + severity (both in range once parsed).
fn priority(m: &Message<'_>) -> u8 {
    m.facility.saturating_mul(8).saturating_add(m.severity)
}

/// Whether `origin` already carries these `log.syslog.*` values (so a
/// stream's held lines and this message share one envelope).
pub fn same_syslog(origin: &Origin, m: &Message<'_>) -> bool {
    origin.syslog.as_ref().is_some_and(|s| {
        s.facility == syslog::facility_name(m.facility)
            && s.priority == priority(m)
            && s.appname.as_deref() == m.app_name
            && s.hostname.as_deref() == m.hostname
            && s.procid.as_deref() == m.procid
            && s.msgid.as_deref() == m.msgid
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Message<'_> {
        syslog::parse(line, 2024).unwrap()
    }

    #[test]
    fn containers_from_tags() {
        assert_eq!(
            Container::from_tag("3f4e5d6c7b8a"),
            Some(Container::Id("3f4e5d6c7b8a"))
        );
        let full = "a".repeat(64);
        assert_eq!(Container::from_tag(&full), Some(Container::Id(&full)));
        assert_eq!(
            Container::from_tag("nginx:1.25/web-1"),
            Some(Container::Name("web-1"))
        );
        assert_eq!(
            Container::from_tag("docker/3f4e5d6c7b8a"),
            Some(Container::Id("3f4e5d6c7b8a"))
        );
        assert_eq!(
            Container::from_tag("web_1.x"),
            Some(Container::Name("web_1.x"))
        );
        // Not Docker names: too short, a leading dot or dash, a colon, empty.
        for tag in ["a", ".hidden", "-x", "a:b", "", "web/", "..", "a b"] {
            assert_eq!(Container::from_tag(tag), None, "{tag}");
        }
        // Upper-case hex is a name, not an id.
        assert_eq!(
            Container::from_tag("3F4E5D6C7B8A"),
            Some(Container::Name("3F4E5D6C7B8A"))
        );
        assert_eq!(Container::from_tag(&"x".repeat(201)), None);
    }

    #[test]
    fn dockers_four_formats_are_docker() {
        for line in [
            "<30>May  1 12:34:56 3f4e5d6c7b8a[1234]: hello",
            "<27>May  1 12:34:56 myhost web-1[1234]: oops",
            "<30>1 2024-05-01T12:34:56+00:00 myhost web-1 1234 web-1 - hello",
            "<27>1 2024-05-01T12:34:56.123456+00:00 myhost nginx:1.25/web-1 1234 nginx:1.25/web-1 - oops",
        ] {
            assert!(is_docker(&parse(line)), "{line}");
        }
        let m = parse(
            "<27>1 2024-05-01T12:34:56.123456+00:00 h nginx:1.25/web-1 1234 nginx:1.25/web-1 - x",
        );
        let s = Sender::of(&m);
        assert_eq!(s.iostream, Some(IoStream::Stderr));
        assert_eq!(s.container(), Some(Container::Name("web-1")));
        assert_eq!(s.severity, None);
    }

    #[test]
    fn other_senders_are_not() {
        for line in [
            // logger: user.notice, no PID.
            "<13>Nov 25 23:29:21 vm tag: hello",
            // logger -i, but notice.
            "<13>Nov 25 23:29:21 vm tag[42]: hello",
            // rfc3164 with a host, facility user.
            "<14>Nov 25 23:29:21 vm tag[42]: hello",
            // logger --rfc5424 --id: MSGID differs from APP-NAME.
            "<27>1 2026-11-25T23:29:21.637935+00:00 vm tag 42 M1 - x",
            "<30>1 2026-11-25T23:29:21.637935+00:00 vm tag 42 tag [a@1 b=\"c\"] x",
            // daemon.info without a PID.
            "<30>Nov 25 23:29:21 vm systemd: Started",
        ] {
            assert!(!is_docker(&parse(line)), "{line}");
        }
        let m = parse("<11>Nov 25 23:29:21 vm tag: x");
        let s = Sender::of(&m);
        assert_eq!(s.iostream, None);
        assert_eq!(s.container(), None);
        assert_eq!(s.severity, Some(Severity::ERROR));
        assert_eq!(s.severity_text, Some("err"));
    }

    #[test]
    fn origin_carries_the_header() {
        let m = parse("<30>1 2024-05-01T12:34:56+00:00 myhost web-1 1234 web-1 - hello");
        let o = Sender::of(&m).origin(&m);
        assert_eq!(o.service.as_deref(), Some("web-1"));
        assert_eq!(o.container_name.as_deref(), Some("web-1"));
        assert_eq!(o.host_name.as_deref(), Some("myhost"));
        assert_eq!(o.iostream, Some(IoStream::Stdout));
        let s = o.syslog.as_ref().unwrap();
        assert_eq!(s.facility, "daemon");
        assert_eq!(s.procid.as_deref(), Some("1234"));
        assert_eq!(s.msgid.as_deref(), Some("web-1"));
        assert!(same_syslog(&o, &m));
        let other = parse("<30>1 2024-05-01T12:34:56+00:00 myhost web-1 99 web-1 - hello");
        assert!(!same_syslog(&o, &other));
    }
}
