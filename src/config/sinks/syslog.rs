//! The keys of a `type = "syslog"` sink: where it sends (`address`) and what
//! its messages look like (`format`, `framing`, `facility`, `message`,
//! `hostname`, TLS). Each bad value is an error naming its place and key;
//! the TLS CA file is read here too, so that `logmux check` finds a bad one.

use std::path::PathBuf;
use std::str::FromStr;

use toml::Spanned;

use super::RawSink;
use crate::config::error::{ConfigError, Locator};
use crate::config::template;
use crate::output::syslog::{Body, Framing, Protocol};
use crate::sink::spec::{
    parse_syslog_address, SyslogAddress, SyslogSpec, TlsSpec,
    DEFAULT_SYSLOG_ADDRESS as DEFAULT_ADDRESS,
};

/// The keys only a syslog sink has, for the check that other types do not use them.
pub(super) fn syslog_keys(s: &RawSink) -> [(&'static str, Option<usize>); 8] {
    let at = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.span().start);
    [
        ("address", at(&s.address)),
        ("format", at(&s.format)),
        ("framing", at(&s.framing)),
        ("facility", at(&s.facility)),
        ("message", at(&s.message)),
        ("hostname", at(&s.hostname)),
        ("tls_ca", at(&s.tls_ca)),
        ("tls_server_name", at(&s.tls_server_name)),
    ]
}

/// Resolves the syslog keys of sink `name`; `start` is where its table is.
pub(super) fn resolve(
    loc: &Locator<'_>,
    name: &str,
    s: &RawSink,
    start: usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SyslogSpec, ConfigError> {
    let keys = Keys {
        loc,
        name,
        start,
        env,
    };
    keys.reject_file_keys(s)?;
    let (mut address, tls_wanted) = keys.address(s)?;
    let protocol = match &s.format {
        None if matches!(address, SyslogAddress::Unix(_)) => Protocol::Rfc3164,
        None => Protocol::Rfc5424,
        Some(v) => keys.word(v, "format")?,
    };
    let framing = match &s.framing {
        None => Framing::OctetCounting,
        Some(v) if address.is_datagram() => return Err(keys.invalid(
            v.span().start,
            "framing",
            "applies to tcp:// and tls:// only: udp:// and unix:// send one message per datagram",
        )),
        Some(v) => keys.word(v, "framing")?,
    };
    let facility = keys.facility(s)?;
    let body = match &s.message {
        None => Body::Line,
        Some(v) => keys.word(v, "message")?,
    };
    let hostname = keys.hostname(s, &address, protocol)?;
    keys.tls(s, &mut address, tls_wanted)?;
    Ok(SyslogSpec {
        address,
        protocol,
        framing,
        facility: (facility as u8) >> 3,
        body,
        hostname,
    })
}

/// The keys of one syslog sink, each error naming `sink.NAME.KEY`.
struct Keys<'a> {
    loc: &'a Locator<'a>,
    name: &'a str,
    /// Where the sink's table is, for keys without a place of their own.
    start: usize,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Keys<'_> {
    fn key(&self, k: &str) -> String {
        format!("sink.{}.{k}", self.name)
    }

    fn invalid(&self, offset: usize, k: &str, message: impl Into<String>) -> ConfigError {
        self.loc.invalid(offset, &self.key(k), message)
    }

    /// Where a key is, or the table when it is not given.
    fn at(&self, v: &Option<Spanned<String>>) -> usize {
        v.as_ref().map_or(self.start, |v| v.span().start)
    }

    /// A key spelled as a word ([`Protocol`], [`Framing`], [`Body`]).
    fn word<T: FromStr<Err = String>>(
        &self,
        v: &Spanned<String>,
        k: &str,
    ) -> Result<T, ConfigError> {
        self.loc.word(v, &self.key(k))
    }

    /// A file sink's keys mean nothing here.
    fn reject_file_keys(&self, s: &RawSink) -> Result<(), ConfigError> {
        let file_keys = [
            ("path", s.path.as_ref().map(|v| v.span().start)),
            ("max_size", s.max_size.as_ref().map(|v| v.span().start)),
            ("max_files", s.max_files.map(|_| self.start)),
            ("output", s.output.map(|_| self.start)),
        ];
        match file_keys.iter().find_map(|(k, o)| o.map(|o| (k, o))) {
            Some((k, offset)) => {
                let why = if *k == "output" {
                    "does not apply to a syslog sink: set `message = \"line\"` or `\"json\"`"
                } else {
                    "does not apply to a syslog sink"
                };
                Err(self.invalid(offset, k, why))
            }
            None => Ok(()),
        }
    }

    /// `address` (`${VAR}` allowed; default: the local daemon), and
    /// whether it asks for TLS.
    fn address(&self, s: &RawSink) -> Result<(SyslogAddress, bool), ConfigError> {
        let text = match &s.address {
            Some(a) => template::render(a.get_ref(), self.env)
                .map_err(|e| self.loc.template(a.span().start, &self.key("address"), e))?,
            None => DEFAULT_ADDRESS.to_string(),
        };
        let address = parse_syslog_address(&text)
            .map_err(|m| self.invalid(self.at(&s.address), "address", m))?;
        Ok((address, text.starts_with("tls://")))
    }

    fn facility(&self, s: &RawSink) -> Result<syslog::Facility, ConfigError> {
        let Some(v) = &s.facility else {
            return Ok(syslog::Facility::LOG_USER);
        };
        syslog::Facility::from_str(v.get_ref()).map_err(|()| {
            self.invalid(
                v.span().start,
                "facility",
                format!(
                    "`{}` is not a facility: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock_daemon, local0 … local7",
                    v.get_ref()
                ),
            )
        })
    }

    /// HOSTNAME in the header: printable ASCII, and none where the local
    /// daemon adds its own.
    fn hostname(
        &self,
        s: &RawSink,
        address: &SyslogAddress,
        protocol: Protocol,
    ) -> Result<Option<String>, ConfigError> {
        let Some(v) = &s.hostname else {
            return Ok(None);
        };
        let h = v.get_ref();
        if matches!(address, SyslogAddress::Unix(_)) && protocol == Protocol::Rfc3164 {
            return Err(self.invalid(
                v.span().start,
                "hostname",
                "an rfc3164 message to a unix socket has no hostname (the local daemon adds its own, as for glibc's syslog())",
            ));
        }
        if h.is_empty() || h.len() > 255 || !h.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(self.invalid(
                v.span().start,
                "hostname",
                format!("`{h}`: expected 1 to 255 printable ASCII characters, no spaces"),
            ));
        }
        Ok(Some(h.clone()))
    }

    /// `tls_ca` and `tls_server_name`, for tls:// addresses only; the CA
    /// file is read now so that `logmux check` finds a bad one.
    fn tls(
        &self,
        s: &RawSink,
        address: &mut SyslogAddress,
        tls_wanted: bool,
    ) -> Result<(), ConfigError> {
        for (v, k) in [
            (&s.tls_ca, "tls_ca"),
            (&s.tls_server_name, "tls_server_name"),
        ] {
            if let Some(v) = v.as_ref().filter(|_| !tls_wanted) {
                return Err(self.invalid(v.span().start, k, "applies to tls:// addresses only"));
            }
        }
        let SyslogAddress::Tcp { host, tls, .. } = address else {
            return Ok(());
        };
        if !tls_wanted {
            return Ok(());
        }
        let ca = match &s.tls_ca {
            Some(v) => {
                let path = template::render(v.get_ref(), self.env)
                    .map_err(|e| self.loc.template(v.span().start, &self.key("tls_ca"), e))?;
                crate::sink::syslog::read_ca_file(std::path::Path::new(&path))
                    .map_err(|m| self.invalid(v.span().start, "tls_ca", m))?;
                Some(PathBuf::from(path))
            }
            None => None,
        };
        let server_name = match &s.tls_server_name {
            Some(v) => v.get_ref().clone(),
            None => host.clone(),
        };
        if rustls::pki_types::ServerName::try_from(server_name.as_str()).is_err() {
            let (offset, k) = match &s.tls_server_name {
                Some(v) => (v.span().start, "tls_server_name"),
                None => (self.at(&s.address), "address"),
            };
            return Err(self.invalid(
                offset,
                k,
                format!("`{server_name}` is not a DNS name or IP address a certificate can name"),
            ));
        }
        *tls = Some(TlsSpec { ca, server_name });
        Ok(())
    }
}

// The config's words for the syslog encoder's settings: the output layer's
// types, spelled here so that it knows no config text.

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rfc3164" => Ok(Protocol::Rfc3164),
            "rfc5424" => Ok(Protocol::Rfc5424),
            other => Err(format!("`{other}`: expected rfc3164 or rfc5424")),
        }
    }
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "octet-counting" => Ok(Framing::OctetCounting),
            "lf" => Ok(Framing::Lf),
            other => Err(format!("`{other}`: expected octet-counting or lf")),
        }
    }
}

impl FromStr for Body {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "line" => Ok(Body::Line),
            "json" => Ok(Body::Json),
            other => Err(format!("`{other}`: expected line or json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::run::{parse, RunConfig};
    use crate::sink::spec::{SinkKind, SinkSpec};

    const PROGRAM: &str = "[program.a]\ncommand = \"x\"\nstdout = { sink = \"s\" }\n";

    fn load(sink: &str) -> Result<RunConfig, ConfigError> {
        let env = |name: &str| (name == "LOGHOST").then(|| "logs.example.org".to_string());
        let text = format!("{PROGRAM}[sink.s]\n{sink}");
        parse(Path::new("/etc/logmux.toml"), &text, &env, &mut |_| {})
    }

    fn spec(sink: &str) -> SyslogSpec {
        let config = load(sink).unwrap();
        let found: Option<&SinkSpec> = config.sinks.iter().find(|s| s.name == "s");
        match found.map(|s| &s.kind) {
            Some(SinkKind::Syslog(s)) => s.clone(),
            other => panic!("not a syslog sink: {other:?}"),
        }
    }

    fn err(sink: &str) -> String {
        match load(sink) {
            Ok(_) => panic!("expected an error for {sink:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_builtin_sink_is_the_local_daemon() {
        let config = parse(Path::new("/x.toml"), PROGRAM, &|_| None, &mut |_| {});
        // `s` is not defined: the error lists the built-in sinks.
        assert!(config.is_err());
        let text = "[program.a]\ncommand = \"x\"\nstdout = { sink = \"syslog\" }\n";
        let config = parse(Path::new("/x.toml"), text, &|_| None, &mut |_| {}).unwrap();
        let sink = &config.sinks[config.programs[0].streams[0].sink];
        assert_eq!(sink.name, "syslog");
        assert_eq!(
            sink.kind,
            SinkKind::Syslog(SyslogSpec {
                address: SyslogAddress::Unix("/dev/log".into()),
                protocol: Protocol::Rfc3164,
                framing: Framing::OctetCounting,
                facility: 1,
                body: Body::Line,
                hostname: None,
            })
        );
    }

    #[test]
    fn every_key_resolves() {
        let s = spec(
            "type = \"syslog\"\naddress = \"tcp://${LOGHOST}:1514\"\nformat = \"rfc3164\"\nframing = \"lf\"\nfacility = \"local3\"\nmessage = \"json\"\nhostname = \"web-1\"\non_full = \"drop\"\n",
        );
        assert_eq!(
            s,
            SyslogSpec {
                address: SyslogAddress::Tcp {
                    host: "logs.example.org".into(),
                    port: 1514,
                    tls: None
                },
                protocol: Protocol::Rfc3164,
                framing: Framing::Lf,
                facility: 19,
                body: Body::Json,
                hostname: Some("web-1".into()),
            }
        );
        let s = spec("type = \"syslog\"\naddress = \"tls://[::1]\"\ntls_server_name = \"logs.example.org\"\n");
        assert_eq!(
            s.address,
            SyslogAddress::Tcp {
                host: "::1".into(),
                port: 6514,
                tls: Some(TlsSpec {
                    ca: None,
                    server_name: "logs.example.org".into()
                })
            }
        );
        assert_eq!(s.protocol, Protocol::Rfc5424);
        let s = spec("type = \"syslog\"\naddress = \"udp://10.0.0.9\"\n");
        assert_eq!(
            s.address,
            SyslogAddress::Udp {
                host: "10.0.0.9".into(),
                port: 514
            }
        );
    }

    #[test]
    fn bad_values_name_their_place() {
        let cases = [
            (
                "type = \"syslog\"\nfacility = \"locall0\"\n",
                "/etc/logmux.toml:6:12: sink.s.facility: `locall0` is not a facility: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock_daemon, local0 … local7",
            ),
            (
                "type = \"syslog\"\naddress = \"udp://h:514\"\nframing = \"lf\"\n",
                "/etc/logmux.toml:7:11: sink.s.framing: applies to tcp:// and tls:// only: udp:// and unix:// send one message per datagram",
            ),
            (
                "type = \"syslog\"\naddress = \"tcp://h:514\"\nframing = \"newline\"\n",
                "/etc/logmux.toml:7:11: sink.s.framing: `newline`: expected octet-counting or lf",
            ),
            (
                "type = \"syslog\"\naddress = \"http://h\"\n",
                "/etc/logmux.toml:6:11: sink.s.address: `http://h`: expected unix:///path, udp://host:port, tcp://host:port or tls://host:port",
            ),
            (
                "type = \"syslog\"\naddress = \"tcp://h:0\"\n",
                "/etc/logmux.toml:6:11: sink.s.address: `tcp://h:0`: `0` is not a port number (1-65535)",
            ),
            (
                "type = \"syslog\"\naddress = \"tcp://::1:514\"\n",
                "/etc/logmux.toml:6:11: sink.s.address: `tcp://::1:514`: write an IPv6 address in brackets, [::1]:514",
            ),
            (
                "type = \"syslog\"\nformat = \"rfc5425\"\n",
                "/etc/logmux.toml:6:10: sink.s.format: `rfc5425`: expected rfc3164 or rfc5424",
            ),
            (
                "type = \"syslog\"\nmessage = \"event\"\n",
                "/etc/logmux.toml:6:11: sink.s.message: `event`: expected line or json",
            ),
            (
                "type = \"syslog\"\nhostname = \"web 1\"\n",
                "/etc/logmux.toml:6:12: sink.s.hostname: an rfc3164 message to a unix socket has no hostname (the local daemon adds its own, as for glibc's syslog())",
            ),
            (
                "type = \"syslog\"\naddress = \"udp://h\"\nhostname = \"web 1\"\n",
                "/etc/logmux.toml:7:12: sink.s.hostname: `web 1`: expected 1 to 255 printable ASCII characters, no spaces",
            ),
            (
                "type = \"syslog\"\naddress = \"tcp://h\"\ntls_ca = \"/etc/ca.pem\"\n",
                "/etc/logmux.toml:7:10: sink.s.tls_ca: applies to tls:// addresses only",
            ),
            (
                "type = \"syslog\"\naddress = \"tls://h\"\ntls_ca = \"/nonexistent/ca.pem\"\n",
                "/etc/logmux.toml:7:10: sink.s.tls_ca: /nonexistent/ca.pem: No such file or directory (os error 2)",
            ),
            (
                "type = \"syslog\"\naddress = \"tls://h\"\ntls_server_name = \"a b\"\n",
                "/etc/logmux.toml:7:19: sink.s.tls_server_name: `a b` is not a DNS name or IP address a certificate can name",
            ),
            (
                "type = \"syslog\"\npath = \"/var/log/x\"\n",
                "/etc/logmux.toml:6:8: sink.s.path: does not apply to a syslog sink",
            ),
            (
                "type = \"syslog\"\noutput = \"logfmt\"\n",
                "/etc/logmux.toml:4:1: sink.s.output: does not apply to a syslog sink: set `message = \"line\"` or `\"json\"`",
            ),
            (
                "type = \"file\"\npath = \"/var/log/x\"\nfacility = \"user\"\n",
                "/etc/logmux.toml:7:12: sink.s.facility: applies to type = \"syslog\" only, not to a file sink",
            ),
        ];
        for (sink, expected) in cases {
            assert_eq!(err(sink), expected, "for {sink:?}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate\n").unwrap();
        let e = err(&format!(
            "type = \"syslog\"\naddress = \"tls://h\"\ntls_ca = \"{}\"\n",
            ca.display()
        ));
        assert_eq!(
            e,
            format!(
                "/etc/logmux.toml:7:10: sink.s.tls_ca: {}: no PEM certificate in it",
                ca.display()
            )
        );
    }
}
