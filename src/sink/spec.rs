//! The settings of every sink, as the config layer resolves them and the
//! sink layer opens them. Each door (and each config file) builds these;
//! the sinks never see raw config text.

use std::path::PathBuf;

use crate::output::syslog::{Body, Framing, Protocol};
use crate::output::{KeyStyle, OutputFormat};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    Stdout,
    Stderr,
    File {
        path: PathBuf,
        max_size: Option<u64>,
        max_files: u32,
    },
    Null,
    Syslog(SyslogSpec),
    Otlp(crate::sink::otlp::OtlpSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    Block,
    Drop,
}

#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub name: String,
    pub kind: SinkKind,
    pub output: OutputFormat,
    pub keys: KeyStyle,
    pub on_full: OnFull,
    pub queue_bytes: usize,
    /// What holds the events the sink has not delivered yet.
    pub buffer: BufferSpec,
}

/// The buffer between the readers and a sink: the memory queue alone, or
/// the queue in front of a spool on disk (network sinks only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BufferSpec {
    #[default]
    Memory,
    Disk(DiskSpec),
}

impl BufferSpec {
    /// The buffer of an OTLP sink's traces twin (`NAME.traces`): the same
    /// kind and limits, its spool in `traces` inside the sink's directory
    /// (a spool directory belongs to one sink; the logs' spool ignores it).
    pub fn for_traces(&self) -> BufferSpec {
        match self {
            BufferSpec::Memory => BufferSpec::Memory,
            BufferSpec::Disk(d) => BufferSpec::Disk(DiskSpec {
                path: d.path.join(TRACES_SPOOL),
                ..d.clone()
            }),
        }
    }
}

/// The traces twin's spool directory, inside its sink's.
pub const TRACES_SPOOL: &str = "traces";

/// `buffer = { type = "disk", path, max_size, when_full, sync }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    /// The spool directory, owned by this one sink (it is locked).
    pub path: PathBuf,
    /// Segment files on disk may not pass this many bytes together.
    pub max_size: u64,
    pub when_full: WhenFull,
    pub sync: SyncMode,
}

/// What a full spool does with a new record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room (the memory queue fills, then the children wait).
    Block,
    /// Drop the new record, counted.
    DropNewest,
    /// Delete the oldest segment not being read, counted.
    DropOldest,
}

/// When the spool's segment files are forced to the disk (fsync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// At most every 100 ms.
    Batch,
    /// After every append.
    Always,
    /// Never: the kernel writes back when it likes.
    Never,
}

/// Where the built-in `syslog` sink sends: the local syslog daemon.
pub const DEFAULT_SYSLOG_ADDRESS: &str = "unix:///dev/log";

/// A resolved syslog sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogSpec {
    pub address: SyslogAddress,
    pub protocol: Protocol,
    /// On TCP; datagram transports send one message per datagram.
    pub framing: Framing,
    /// 0 (kern) … 23 (local7).
    pub facility: u8,
    pub body: Body,
    /// Given in the config; `None`: the machine's hostname (left out of
    /// RFC 3164 on a unix socket, as the local daemon adds its own).
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogAddress {
    Unix(PathBuf),
    Udp {
        host: String,
        port: u16,
    },
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsSpec>,
    },
}

impl SyslogAddress {
    /// One message per datagram (UDP, and a unix socket, which is a
    /// datagram socket unless the daemon only offers a stream).
    pub fn is_datagram(&self) -> bool {
        !matches!(self, SyslogAddress::Tcp { .. })
    }
}

impl std::fmt::Display for SyslogAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host_port = |f: &mut std::fmt::Formatter<'_>, scheme: &str, host: &str, port: u16| {
            if host.contains(':') {
                write!(f, "{scheme}://[{host}]:{port}")
            } else {
                write!(f, "{scheme}://{host}:{port}")
            }
        };
        match self {
            SyslogAddress::Unix(p) => write!(f, "unix://{}", p.display()),
            SyslogAddress::Udp { host, port } => host_port(f, "udp", host, *port),
            SyslogAddress::Tcp {
                host, port, tls, ..
            } => host_port(f, if tls.is_some() { "tls" } else { "tcp" }, host, *port),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    /// PEM file of the CAs to trust; `None`: the system's store.
    pub ca: Option<PathBuf>,
    /// The name the server's certificate must carry.
    pub server_name: String,
}

/// `unix:///dev/log`, `udp://host:port`, `tcp://host:port`, `tls://host:port`
/// (`[v6]:port`; the port defaults to 514, and to 6514 for TLS).
pub fn parse_syslog_address(text: &str) -> Result<SyslogAddress, String> {
    let expected = || {
        format!(
            "`{text}`: expected unix:///path, udp://host:port, tcp://host:port or tls://host:port"
        )
    };
    let (scheme, rest) = text.split_once("://").ok_or_else(expected)?;
    if scheme == "unix" {
        if rest.is_empty() {
            return Err(format!("`{text}`: the unix socket path is empty"));
        }
        return Ok(SyslogAddress::Unix(PathBuf::from(rest)));
    }
    let default_port = match scheme {
        "udp" | "tcp" => 514,
        "tls" => 6514,
        _ => return Err(expected()),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(expected)?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or_else(expected)?)),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => {
                return Err(format!(
                    "`{text}`: write an IPv6 address in brackets, [::1]:514"
                ))
            }
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return Err(format!("`{text}`: no host name"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{text}`: `{p}` is not a port number (1-65535)"))?,
    };
    let host = host.to_string();
    Ok(match scheme {
        "udp" => SyslogAddress::Udp { host, port },
        _ => SyslogAddress::Tcp {
            host,
            port,
            tls: None,
        },
    })
}
