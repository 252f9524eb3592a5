//! The schema's field names and the typed values they carry.
//!
//! [`Field`] lists every key logmux itself writes, declared in byte order of
//! the dotted name. The JSON writer relies on that order: sorting a record's
//! fields by discriminant groups every dotted prefix together, so nested
//! objects can be written in one pass without a map. Keys that only a user's
//! data knows (merged JSON lines, unknown nginx variables) travel beside them
//! as `Record::extra`.

use std::borrow::Cow;

/// A key of the output schema, named after the OpenTelemetry semantic
/// conventions. The variants are in byte order of [`Field::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Field {
    /// `client.address`
    ClientAddress,
    /// `client.port`
    ClientPort,
    /// `container.id`
    ContainerId,
    /// `container.image.name`
    ContainerImageName,
    /// `container.image.tags`
    ContainerImageTags,
    /// `container.name`
    ContainerName,
    /// `exception.message`
    ExceptionMessage,
    /// `exception.stacktrace`
    ExceptionStacktrace,
    /// `exception.type`
    ExceptionType,
    /// `host.name`
    HostName,
    /// `http.request.header.host`
    HttpRequestHeaderHost,
    /// `http.request.header.referer`
    HttpRequestHeaderReferer,
    /// `http.request.header.x-forwarded-for`
    HttpRequestHeaderXForwardedFor,
    /// `http.request.id`
    HttpRequestId,
    /// `http.request.method`
    HttpRequestMethod,
    /// `http.request.size`
    HttpRequestSize,
    /// `http.response.body.size`
    HttpResponseBodySize,
    /// `http.response.size`
    HttpResponseSize,
    /// `http.response.status_code`
    HttpResponseStatusCode,
    /// `http.server.request.duration`
    HttpServerRequestDuration,
    /// `log.file.path`
    LogFilePath,
    /// `log.iostream`
    LogIostream,
    /// `log.logger`
    LogLogger,
    /// `log.record.original`
    LogRecordOriginal,
    /// `log.syslog.appname`
    LogSyslogAppname,
    /// `log.syslog.facility.name`
    LogSyslogFacilityName,
    /// `log.syslog.hostname`
    LogSyslogHostname,
    /// `log.syslog.msgid`
    LogSyslogMsgid,
    /// `log.syslog.priority`
    LogSyslogPriority,
    /// `log.syslog.procid`
    LogSyslogProcid,
    /// `logmux.format`
    LogmuxFormat,
    /// `logmux.invalid_utf8`
    LogmuxInvalidUtf8,
    /// `logmux.parse_error`
    LogmuxParseError,
    /// `logmux.truncated`
    LogmuxTruncated,
    /// `network.protocol.name`
    NetworkProtocolName,
    /// `network.protocol.version`
    NetworkProtocolVersion,
    /// `nginx.connection.id`
    NginxConnectionId,
    /// `nginx.connection.requests`
    NginxConnectionRequests,
    /// `nginx.request`
    NginxRequest,
    /// `nginx.upstream`
    NginxUpstream,
    /// `nginx.upstream_addr`
    NginxUpstreamAddr,
    /// `nginx.upstream_response_time`
    NginxUpstreamResponseTime,
    /// `nginx.upstream_status`
    NginxUpstreamStatus,
    /// `process.pid`
    ProcessPid,
    /// `server.address`
    ServerAddress,
    /// `server.port`
    ServerPort,
    /// `service.name`
    ServiceName,
    /// `span_id`
    SpanId,
    /// `supervisord.program`
    SupervisordProgram,
    /// `thread.id`
    ThreadId,
    /// `trace_id`
    TraceId,
    /// `url.original`
    UrlOriginal,
    /// `url.path`
    UrlPath,
    /// `url.query`
    UrlQuery,
    /// `url.scheme`
    UrlScheme,
    /// `user.name`
    UserName,
    /// `user_agent.original`
    UserAgentOriginal,
    /// `uwsgi.app.id`
    UwsgiAppId,
    /// `uwsgi.core`
    UwsgiCore,
    /// `uwsgi.memory.address_space`
    UwsgiMemoryAddressSpace,
    /// `uwsgi.memory.rss`
    UwsgiMemoryRss,
    /// `uwsgi.request.app_seq`
    UwsgiRequestAppSeq,
    /// `uwsgi.request.total_seq`
    UwsgiRequestTotalSeq,
    /// `uwsgi.request.vars.count`
    UwsgiRequestVarsCount,
    /// `uwsgi.request.vars.size`
    UwsgiRequestVarsSize,
    /// `uwsgi.response.headers.count`
    UwsgiResponseHeadersCount,
    /// `uwsgi.response.headers.size`
    UwsgiResponseHeadersSize,
    /// `uwsgi.switches`
    UwsgiSwitches,
    /// `uwsgi.vhost`
    UwsgiVhost,
    /// `uwsgi.via`
    UwsgiVia,
}

/// Every field, in declaration (and byte) order.
pub const ALL: &[Field] = &[
    Field::ClientAddress,
    Field::ClientPort,
    Field::ContainerId,
    Field::ContainerImageName,
    Field::ContainerImageTags,
    Field::ContainerName,
    Field::ExceptionMessage,
    Field::ExceptionStacktrace,
    Field::ExceptionType,
    Field::HostName,
    Field::HttpRequestHeaderHost,
    Field::HttpRequestHeaderReferer,
    Field::HttpRequestHeaderXForwardedFor,
    Field::HttpRequestId,
    Field::HttpRequestMethod,
    Field::HttpRequestSize,
    Field::HttpResponseBodySize,
    Field::HttpResponseSize,
    Field::HttpResponseStatusCode,
    Field::HttpServerRequestDuration,
    Field::LogFilePath,
    Field::LogIostream,
    Field::LogLogger,
    Field::LogRecordOriginal,
    Field::LogSyslogAppname,
    Field::LogSyslogFacilityName,
    Field::LogSyslogHostname,
    Field::LogSyslogMsgid,
    Field::LogSyslogPriority,
    Field::LogSyslogProcid,
    Field::LogmuxFormat,
    Field::LogmuxInvalidUtf8,
    Field::LogmuxParseError,
    Field::LogmuxTruncated,
    Field::NetworkProtocolName,
    Field::NetworkProtocolVersion,
    Field::NginxConnectionId,
    Field::NginxConnectionRequests,
    Field::NginxRequest,
    Field::NginxUpstream,
    Field::NginxUpstreamAddr,
    Field::NginxUpstreamResponseTime,
    Field::NginxUpstreamStatus,
    Field::ProcessPid,
    Field::ServerAddress,
    Field::ServerPort,
    Field::ServiceName,
    Field::SpanId,
    Field::SupervisordProgram,
    Field::ThreadId,
    Field::TraceId,
    Field::UrlOriginal,
    Field::UrlPath,
    Field::UrlQuery,
    Field::UrlScheme,
    Field::UserName,
    Field::UserAgentOriginal,
    Field::UwsgiAppId,
    Field::UwsgiCore,
    Field::UwsgiMemoryAddressSpace,
    Field::UwsgiMemoryRss,
    Field::UwsgiRequestAppSeq,
    Field::UwsgiRequestTotalSeq,
    Field::UwsgiRequestVarsCount,
    Field::UwsgiRequestVarsSize,
    Field::UwsgiResponseHeadersCount,
    Field::UwsgiResponseHeadersSize,
    Field::UwsgiSwitches,
    Field::UwsgiVhost,
    Field::UwsgiVia,
];

impl Field {
    /// The dotted name, as written with `--keys dotted`.
    pub fn name(self) -> &'static str {
        match self {
            Field::ClientAddress => "client.address",
            Field::ClientPort => "client.port",
            Field::ContainerId => "container.id",
            Field::ContainerImageName => "container.image.name",
            Field::ContainerImageTags => "container.image.tags",
            Field::ContainerName => "container.name",
            Field::ExceptionMessage => "exception.message",
            Field::ExceptionStacktrace => "exception.stacktrace",
            Field::ExceptionType => "exception.type",
            Field::HostName => "host.name",
            Field::HttpRequestHeaderHost => "http.request.header.host",
            Field::HttpRequestHeaderReferer => "http.request.header.referer",
            Field::HttpRequestHeaderXForwardedFor => "http.request.header.x-forwarded-for",
            Field::HttpRequestId => "http.request.id",
            Field::HttpRequestMethod => "http.request.method",
            Field::HttpRequestSize => "http.request.size",
            Field::HttpResponseBodySize => "http.response.body.size",
            Field::HttpResponseSize => "http.response.size",
            Field::HttpResponseStatusCode => "http.response.status_code",
            Field::HttpServerRequestDuration => "http.server.request.duration",
            Field::LogFilePath => "log.file.path",
            Field::LogIostream => "log.iostream",
            Field::LogLogger => "log.logger",
            Field::LogRecordOriginal => "log.record.original",
            Field::LogSyslogAppname => "log.syslog.appname",
            Field::LogSyslogFacilityName => "log.syslog.facility.name",
            Field::LogSyslogHostname => "log.syslog.hostname",
            Field::LogSyslogMsgid => "log.syslog.msgid",
            Field::LogSyslogPriority => "log.syslog.priority",
            Field::LogSyslogProcid => "log.syslog.procid",
            Field::LogmuxFormat => "logmux.format",
            Field::LogmuxInvalidUtf8 => "logmux.invalid_utf8",
            Field::LogmuxParseError => "logmux.parse_error",
            Field::LogmuxTruncated => "logmux.truncated",
            Field::NetworkProtocolName => "network.protocol.name",
            Field::NetworkProtocolVersion => "network.protocol.version",
            Field::NginxConnectionId => "nginx.connection.id",
            Field::NginxConnectionRequests => "nginx.connection.requests",
            Field::NginxRequest => "nginx.request",
            Field::NginxUpstream => "nginx.upstream",
            Field::NginxUpstreamAddr => "nginx.upstream_addr",
            Field::NginxUpstreamResponseTime => "nginx.upstream_response_time",
            Field::NginxUpstreamStatus => "nginx.upstream_status",
            Field::ProcessPid => "process.pid",
            Field::ServerAddress => "server.address",
            Field::ServerPort => "server.port",
            Field::ServiceName => "service.name",
            Field::SpanId => "span_id",
            Field::SupervisordProgram => "supervisord.program",
            Field::ThreadId => "thread.id",
            Field::TraceId => "trace_id",
            Field::UrlOriginal => "url.original",
            Field::UrlPath => "url.path",
            Field::UrlQuery => "url.query",
            Field::UrlScheme => "url.scheme",
            Field::UserName => "user.name",
            Field::UserAgentOriginal => "user_agent.original",
            Field::UwsgiAppId => "uwsgi.app.id",
            Field::UwsgiCore => "uwsgi.core",
            Field::UwsgiMemoryAddressSpace => "uwsgi.memory.address_space",
            Field::UwsgiMemoryRss => "uwsgi.memory.rss",
            Field::UwsgiRequestAppSeq => "uwsgi.request.app_seq",
            Field::UwsgiRequestTotalSeq => "uwsgi.request.total_seq",
            Field::UwsgiRequestVarsCount => "uwsgi.request.vars.count",
            Field::UwsgiRequestVarsSize => "uwsgi.request.vars.size",
            Field::UwsgiResponseHeadersCount => "uwsgi.response.headers.count",
            Field::UwsgiResponseHeadersSize => "uwsgi.response.headers.size",
            Field::UwsgiSwitches => "uwsgi.switches",
            Field::UwsgiVhost => "uwsgi.vhost",
            Field::UwsgiVia => "uwsgi.via",
        }
    }

    /// The name split at its dots, for nested output.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Field::ClientAddress => &["client", "address"],
            Field::ClientPort => &["client", "port"],
            Field::ContainerId => &["container", "id"],
            Field::ContainerImageName => &["container", "image", "name"],
            Field::ContainerImageTags => &["container", "image", "tags"],
            Field::ContainerName => &["container", "name"],
            Field::ExceptionMessage => &["exception", "message"],
            Field::ExceptionStacktrace => &["exception", "stacktrace"],
            Field::ExceptionType => &["exception", "type"],
            Field::HostName => &["host", "name"],
            Field::HttpRequestHeaderHost => &["http", "request", "header", "host"],
            Field::HttpRequestHeaderReferer => &["http", "request", "header", "referer"],
            Field::HttpRequestHeaderXForwardedFor => {
                &["http", "request", "header", "x-forwarded-for"]
            }
            Field::HttpRequestId => &["http", "request", "id"],
            Field::HttpRequestMethod => &["http", "request", "method"],
            Field::HttpRequestSize => &["http", "request", "size"],
            Field::HttpResponseBodySize => &["http", "response", "body", "size"],
            Field::HttpResponseSize => &["http", "response", "size"],
            Field::HttpResponseStatusCode => &["http", "response", "status_code"],
            Field::HttpServerRequestDuration => &["http", "server", "request", "duration"],
            Field::LogFilePath => &["log", "file", "path"],
            Field::LogIostream => &["log", "iostream"],
            Field::LogLogger => &["log", "logger"],
            Field::LogRecordOriginal => &["log", "record", "original"],
            Field::LogSyslogAppname => &["log", "syslog", "appname"],
            Field::LogSyslogFacilityName => &["log", "syslog", "facility", "name"],
            Field::LogSyslogHostname => &["log", "syslog", "hostname"],
            Field::LogSyslogMsgid => &["log", "syslog", "msgid"],
            Field::LogSyslogPriority => &["log", "syslog", "priority"],
            Field::LogSyslogProcid => &["log", "syslog", "procid"],
            Field::LogmuxFormat => &["logmux", "format"],
            Field::LogmuxInvalidUtf8 => &["logmux", "invalid_utf8"],
            Field::LogmuxParseError => &["logmux", "parse_error"],
            Field::LogmuxTruncated => &["logmux", "truncated"],
            Field::NetworkProtocolName => &["network", "protocol", "name"],
            Field::NetworkProtocolVersion => &["network", "protocol", "version"],
            Field::NginxConnectionId => &["nginx", "connection", "id"],
            Field::NginxConnectionRequests => &["nginx", "connection", "requests"],
            Field::NginxRequest => &["nginx", "request"],
            Field::NginxUpstream => &["nginx", "upstream"],
            Field::NginxUpstreamAddr => &["nginx", "upstream_addr"],
            Field::NginxUpstreamResponseTime => &["nginx", "upstream_response_time"],
            Field::NginxUpstreamStatus => &["nginx", "upstream_status"],
            Field::ProcessPid => &["process", "pid"],
            Field::ServerAddress => &["server", "address"],
            Field::ServerPort => &["server", "port"],
            Field::ServiceName => &["service", "name"],
            Field::SpanId => &["span_id"],
            Field::SupervisordProgram => &["supervisord", "program"],
            Field::ThreadId => &["thread", "id"],
            Field::TraceId => &["trace_id"],
            Field::UrlOriginal => &["url", "original"],
            Field::UrlPath => &["url", "path"],
            Field::UrlQuery => &["url", "query"],
            Field::UrlScheme => &["url", "scheme"],
            Field::UserName => &["user", "name"],
            Field::UserAgentOriginal => &["user_agent", "original"],
            Field::UwsgiAppId => &["uwsgi", "app", "id"],
            Field::UwsgiCore => &["uwsgi", "core"],
            Field::UwsgiMemoryAddressSpace => &["uwsgi", "memory", "address_space"],
            Field::UwsgiMemoryRss => &["uwsgi", "memory", "rss"],
            Field::UwsgiRequestAppSeq => &["uwsgi", "request", "app_seq"],
            Field::UwsgiRequestTotalSeq => &["uwsgi", "request", "total_seq"],
            Field::UwsgiRequestVarsCount => &["uwsgi", "request", "vars", "count"],
            Field::UwsgiRequestVarsSize => &["uwsgi", "request", "vars", "size"],
            Field::UwsgiResponseHeadersCount => &["uwsgi", "response", "headers", "count"],
            Field::UwsgiResponseHeadersSize => &["uwsgi", "response", "headers", "size"],
            Field::UwsgiSwitches => &["uwsgi", "switches"],
            Field::UwsgiVhost => &["uwsgi", "vhost"],
            Field::UwsgiVia => &["uwsgi", "via"],
        }
    }

    /// Looks a field up by its dotted name.
    pub fn from_name(name: &str) -> Option<Field> {
        // ALL is in byte order of names (a unit test holds it so).
        ALL.binary_search_by(|f| f.name().cmp(name))
            .ok()
            .and_then(|i| ALL.get(i).copied())
    }
}

/// The JSON type a schema field always has in logmux's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// An integer.
    Int,
    /// Any number.
    Number,
    Bool,
    /// An array of numbers.
    NumberList,
    /// An array of strings (OTel's `string[]`).
    StrList,
}

impl Field {
    /// The type of this field's value, as docs/schema.md lists it.
    pub fn kind(self) -> Kind {
        use Field::*;
        match self {
            ClientPort
            | HttpRequestSize
            | HttpResponseBodySize
            | HttpResponseSize
            | HttpResponseStatusCode
            | LogSyslogPriority
            | NginxConnectionId
            | NginxConnectionRequests
            | ProcessPid
            | ServerPort
            | ThreadId
            | UwsgiAppId
            | UwsgiCore
            | UwsgiMemoryAddressSpace
            | UwsgiMemoryRss
            | UwsgiRequestAppSeq
            | UwsgiRequestTotalSeq
            | UwsgiRequestVarsCount
            | UwsgiRequestVarsSize
            | UwsgiResponseHeadersCount
            | UwsgiResponseHeadersSize
            | UwsgiSwitches => Kind::Int,
            HttpServerRequestDuration => Kind::Number,
            NginxUpstreamResponseTime => Kind::NumberList,
            LogmuxInvalidUtf8 | LogmuxParseError | LogmuxTruncated => Kind::Bool,
            ContainerImageTags => Kind::StrList,
            _ => Kind::Str,
        }
    }

    /// Whether raw JSON text `raw` (one valid JSON value) has this field's type.
    pub fn fits_raw(self, raw: &str) -> bool {
        let raw = raw.trim();
        let is_number = |s: &str| s.trim().parse::<f64>().is_ok_and(f64::is_finite);
        match self.kind() {
            Kind::Str => raw.starts_with('"'),
            Kind::Bool => raw == "true" || raw == "false",
            Kind::Int => raw.parse::<i64>().is_ok(),
            Kind::Number => is_number(raw),
            Kind::NumberList => raw
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .is_some_and(|inner| inner.trim().is_empty() || inner.split(',').all(is_number)),
            Kind::StrList => serde_json::from_str::<Vec<std::borrow::Cow<'_, str>>>(raw).is_ok(),
        }
    }

    /// The schema field named `name`, or the nearest one that is a dotted
    /// parent of it (`service.name` for `service.name.x`).
    pub fn at_or_above(name: &str) -> Option<Field> {
        let mut end = name.len();
        loop {
            let prefix = name.get(..end)?;
            if let Ok(i) = ALL.binary_search_by(|f| f.name().cmp(prefix)) {
                return ALL.get(i).copied();
            }
            end = prefix.rfind('.')?;
        }
    }
}

/// A typed field value. Strings borrow from the line where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    /// A list of numbers, such as nginx's `$upstream_response_time`.
    FloatList(Vec<f64>),
    Bool(bool),
    /// Text that is already one valid JSON value, written verbatim.
    RawJson(Cow<'a, str>),
}

impl<'a> Value<'a> {
    /// A borrowed string value.
    pub fn str(s: &'a str) -> Value<'a> {
        Value::Str(Cow::Borrowed(s))
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer inside, if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_order_is_byte_order_of_names() {
        for pair in ALL.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(
                pair[0].name() < pair[1].name(),
                "{} !< {}",
                pair[0].name(),
                pair[1].name()
            );
        }
    }

    #[test]
    fn no_name_is_both_a_leaf_and_an_object() {
        for a in ALL {
            for b in ALL {
                let prefix = format!("{}.", a.name());
                assert!(
                    !b.name().starts_with(&prefix),
                    "{} is a leaf and a parent of {}",
                    a.name(),
                    b.name()
                );
            }
        }
    }

    #[test]
    fn path_joins_back_to_name() {
        for f in ALL {
            assert_eq!(f.path().join("."), f.name());
            assert_eq!(Field::from_name(f.name()), Some(*f));
        }
    }
}
