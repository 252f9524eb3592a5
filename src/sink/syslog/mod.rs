//! The syslog sink's transports: a unix socket (datagram, or stream when
//! that is all the daemon offers), UDP, TCP, and TLS over TCP (rustls).
//!
//! The batch arrives framed by the encoder (see `output::syslog`): TCP
//! sends it as it is; a datagram transport sends one message per datagram.
//! The connection is made on the first write and made again after a
//! refusal or a disconnect, with a backoff (100 ms doubling to 10 s), while
//! the batch waits: the sink's queue then fills and its `on_full` policy
//! applies upstream. A write that fails part way resumes at the first
//! message the kernel did not take whole; what the kernel took before the
//! peer reset the connection is lost, a limit of plain TCP (RELP exists for
//! it). Before each write the sink checks whether the peer has closed, so a
//! receiver that restarts cleanly loses nothing.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use logmux_parsers::Severity;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection};

use super::spec::{SyslogAddress, SyslogSpec};
use super::Sink;
use crate::output::syslog::{next_frame, Framing, Protocol, Syslog};

/// The first wait after a failed connection; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A connection attempt (and a TLS handshake) gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most one UDP datagram carries over IPv4 (65535 - 8 - 20); a longer
/// message is cut to it, and so is one a unix socket refuses as too long.
const DATAGRAM_MAX: usize = 65_507;
/// Plaintext per TLS record: a record the peer did not get whole is
/// discarded by it, so a failed record is sent again without duplicates.
const TLS_RECORD: usize = 16 * 1024;

pub struct SyslogSink {
    name: String,
    address: SyslogAddress,
    /// How the messages in a batch are delimited.
    framing: Framing,
    tls: Option<Arc<ClientConfig>>,
    conn: Option<Conn>,
    backoff: Duration,
    /// Connection attempts that failed in a row.
    failures: u32,
    /// Messages that could not be sent at all, not yet reported to the queue.
    lost: u64,
    cut_reported: bool,
    /// A spool is in front ([`Sink::fail_fast`]): one attempt per write.
    fail_fast: bool,
}

enum Conn {
    /// The `syslog` crate's unix socket: a datagram, or a stream as a fallback.
    Unix(syslog::LoggerBackend),
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream),
    Tls(Box<(ClientConnection, TcpStream)>),
}

impl SyslogSink {
    /// Prepares the sink; the connection is made on the first write. Fails
    /// only when TLS cannot be set up (no CA certificates).
    pub fn open(name: &str, spec: &SyslogSpec) -> io::Result<SyslogSink> {
        let tls = match &spec.address {
            SyslogAddress::Tcp { tls: Some(t), .. } => Some(tls_config(t.ca.as_deref())?),
            _ => None,
        };
        Ok(SyslogSink {
            name: name.to_string(),
            address: spec.address.clone(),
            framing: batch_framing(spec),
            tls,
            conn: None,
            backoff: BACKOFF_MIN,
            failures: 0,
            lost: 0,
            cut_reported: false,
            fail_fast: false,
        })
    }

    /// Connects, waiting and trying again until it works.
    fn ensure_connected(&mut self, waiting: usize) {
        while self.conn.is_none() {
            match self.connect() {
                Ok(conn) => {
                    if self.failures > 0 {
                        self.report(
                            Severity::INFO,
                            format!(
                                "sink {}: connected to {} after {} failed attempts",
                                self.name, self.address, self.failures
                            ),
                        );
                    }
                    self.failures = 0;
                    self.backoff = BACKOFF_MIN;
                    self.conn = Some(conn);
                }
                Err(e) => {
                    if self.failures == 0 {
                        self.report(
                            Severity::ERROR,
                            format!(
                                "sink {}: cannot connect to {}: {e}; holding {waiting} bytes of messages and trying again (after {} ms, doubling to {} s)",
                                self.name,
                                self.address,
                                BACKOFF_MIN.as_millis(),
                                BACKOFF_MAX.as_secs()
                            ),
                        );
                    }
                    self.failures = self.failures.saturating_add(1);
                    std::thread::sleep(self.backoff);
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        match &self.address {
            SyslogAddress::Unix(path) => syslog::unix_custom((), path)
                .map(|logger| Conn::Unix(logger.backend))
                .map_err(unix_error),
            SyslogAddress::Udp { host, port } => {
                let to = resolve(host, *port)?;
                let local: SocketAddr = if to.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                Ok(Conn::Udp(UdpSocket::bind(local)?, to))
            }
            SyslogAddress::Tcp { host, port, tls } => {
                let sock = tcp_connect(host, *port)?;
                match (tls, &self.tls) {
                    (Some(spec), Some(config)) => {
                        let server_name = ServerName::try_from(spec.server_name.clone())
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                        let conn = ClientConnection::new(Arc::clone(config), server_name)
                            .map_err(io::Error::other)?;
                        Ok(Conn::Tls(Box::new(handshake(conn, sock)?)))
                    }
                    _ => Ok(Conn::Tcp(sock)),
                }
            }
        }
    }

    fn report(&self, severity: Severity, message: String) {
        let address = self.address.to_string();
        crate::diag::report_to_stderr(
            severity,
            &message,
            &[
                ("sink", crate::diag::Detail::Text(&self.name)),
                ("address", crate::diag::Detail::Text(&address)),
            ],
        );
    }

    /// Sends the whole of `rest`; on failure, how much of it was delivered
    /// (whole messages) and the error.
    fn send(&mut self, rest: &[u8]) -> Result<(), (usize, io::Error)> {
        let framing = self.framing;
        let mut cut = None;
        let mut lost = 0;
        self.ensure_connected(rest.len());
        let Some(conn) = self.conn.as_mut() else {
            return Err((0, io::ErrorKind::NotConnected.into()));
        };
        let result = match conn {
            Conn::Unix(syslog::LoggerBackend::UnixStream(w)) => send_datagrams(rest, |frame| {
                // As glibc's syslog() does on a stream: each message ends in NUL.
                w.write_all(frame)?;
                w.write_all(&[0])?;
                w.flush()
            }),
            Conn::Unix(backend) => send_datagrams(rest, |frame| {
                let sent = send_cut(frame, |d| match &mut *backend {
                    syslog::LoggerBackend::Unix(sock) => sock.send(d).map(drop),
                    other => other.write_all(d),
                });
                tally(sent, frame.len(), &mut cut, &mut lost)
            }),
            Conn::Udp(sock, to) => send_datagrams(rest, |frame| {
                let sent = send_cut(frame, |d| sock.send_to(d, *to).map(drop));
                tally(sent, frame.len(), &mut cut, &mut lost)
            }),
            Conn::Tcp(sock) => send_stream(sock, rest, framing),
            Conn::Tls(tls) => send_tls(tls, rest, framing),
        };
        self.lost += lost;
        if let (Some(len), false) = (cut, self.cut_reported) {
            self.cut_reported = true;
            self.report(
                Severity::WARN,
                format!(
                    "sink {}: a message of {len} bytes was cut to {DATAGRAM_MAX} bytes to fit one datagram (later cuts are not reported)",
                    self.name
                ),
            );
        }
        result
    }

    /// Whether the peer of a TCP or TLS connection has closed it (or sent
    /// something a syslog receiver never sends).
    fn peer_closed(&mut self) -> bool {
        match &mut self.conn {
            Some(Conn::Tcp(sock)) => readable(sock) && crate::sys::peer_closed(&*sock),
            Some(Conn::Tls(tls)) => {
                let (conn, sock) = &mut **tls;
                if !readable(sock) {
                    return false;
                }
                // A TLS 1.3 server sends session tickets: read and process
                // them; an end of stream or close_notify means it is gone.
                if sock.set_nonblocking(true).is_err() {
                    return true;
                }
                let closed = loop {
                    match conn.read_tls(sock) {
                        Ok(0) => break true,
                        Ok(_) => match conn.process_new_packets() {
                            Ok(state) if state.peer_has_closed() => break true,
                            Ok(_) => {}
                            Err(_) => break true,
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break true,
                    }
                };
                sock.set_nonblocking(false).is_err() || closed
            }
            _ => false,
        }
    }
}

impl SyslogSink {
    /// One attempt: connect if need be, send the batch; any failure is
    /// returned (the connection is dropped) for the spool to hand the
    /// batch again. A batch that failed part way is sent again whole: the
    /// messages before the failure may arrive twice (at least once).
    fn write_once(&mut self, events: &[u8]) -> io::Result<()> {
        if self.peer_closed() {
            self.conn = None;
        }
        if self.conn.is_none() {
            let conn = self.connect().map_err(|e| {
                io::Error::new(e.kind(), format!("cannot connect to {}: {e}", self.address))
            })?;
            self.conn = Some(conn);
        }
        self.send(events).map_err(|(_, e)| {
            self.conn = None;
            io::Error::new(e.kind(), format!("sending to {} failed: {e}", self.address))
        })
    }
}

impl Sink for SyslogSink {
    fn fail_fast(&mut self) {
        self.fail_fast = true;
    }

    /// Every write goes to the socket at once; `flush` has nothing to do.
    fn sends_each_write(&self) -> bool {
        true
    }

    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        if self.fail_fast {
            return self.write_once(events);
        }
        let mut rest = events;
        while !rest.is_empty() {
            if self.peer_closed() {
                self.report(
                    Severity::WARN,
                    format!(
                        "sink {}: {} closed the connection; reconnecting",
                        self.name, self.address
                    ),
                );
                self.conn = None;
            }
            match self.send(rest) {
                Ok(()) => break,
                Err((done, e)) => {
                    rest = &rest[done..];
                    self.conn = None;
                    self.report(
                        Severity::WARN,
                        format!(
                            "sink {}: sending to {} failed: {e}; reconnecting",
                            self.name, self.address
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    /// getaddrinfo and a TLS handshake (unoptimised, in a debug build)
    /// take far more than a file sink's 64 KiB.
    fn stack_size(&self) -> usize {
        1 << 20
    }
}

/// How the encoder frames messages for this sink's batches: datagram
/// transports strip octet counting to find each message.
pub fn batch_framing(spec: &SyslogSpec) -> Framing {
    if spec.address.is_datagram() {
        Framing::OctetCounting
    } else {
        spec.framing
    }
}

/// What the stream readers write for this sink: the configured header and
/// body, framed for the transport, with the machine's hostname unless the
/// config gives one (none in RFC 3164 on a unix socket, as glibc writes).
pub fn message_settings(spec: &SyslogSpec) -> Syslog {
    let local_3164 =
        matches!(spec.address, SyslogAddress::Unix(_)) && spec.protocol == Protocol::Rfc3164;
    let hostname = match &spec.hostname {
        Some(h) => Some(h.clone()),
        None if local_3164 => None,
        None => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty()),
    };
    Syslog {
        protocol: spec.protocol,
        framing: batch_framing(spec),
        facility: spec.facility,
        body: spec.body,
        hostname,
    }
}

/// Sends each message of an octet-counted batch as one datagram. A rest
/// that is not a frame (the encoder never writes one) goes as it is, so
/// nothing vanishes unseen.
fn send_datagrams(
    batch: &[u8],
    mut send: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), (usize, io::Error)> {
    let mut at = 0;
    while at < batch.len() {
        let rest = &batch[at..];
        let (frame, used) = next_frame(rest, Framing::OctetCounting).unwrap_or((rest, rest.len()));
        loop {
            match send(frame) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((at, e)),
            }
        }
        at += used;
    }
    Ok(())
}

/// What became of one datagram.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Whole,
    /// Cut to this many bytes to fit.
    Cut(usize),
    /// Too long even when cut.
    TooLong,
}

/// Sends one message as one datagram; one the socket refuses as too long
/// (`EMSGSIZE`: over 65,507 bytes on UDP, over the send buffer on a unix
/// socket) is cut to [`DATAGRAM_MAX`] bytes and sent again.
fn send_cut(frame: &[u8], mut send: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<Sent> {
    let too_long = |e: &io::Error| e.raw_os_error() == Some(libc::EMSGSIZE);
    match send(frame) {
        Ok(()) => return Ok(Sent::Whole),
        Err(e) if too_long(&e) && frame.len() > DATAGRAM_MAX => {}
        Err(e) if too_long(&e) => return Ok(Sent::TooLong),
        Err(e) => return Err(e),
    }
    let short = cut_at_char(frame, DATAGRAM_MAX);
    match send(short) {
        Ok(()) => Ok(Sent::Cut(short.len())),
        Err(e) if too_long(&e) => Ok(Sent::TooLong),
        Err(e) => Err(e),
    }
}

/// Counts a cut or lost datagram; passes errors on.
fn tally(
    sent: io::Result<Sent>,
    len: usize,
    cut: &mut Option<usize>,
    lost: &mut u64,
) -> io::Result<()> {
    match sent? {
        Sent::Whole => {}
        Sent::Cut(_) => *cut = Some(len),
        Sent::TooLong => *lost += 1,
    }
    Ok(())
}

/// Writes a batch to a stream; on failure, resumes at the first message
/// that was not written whole.
fn send_stream(
    sock: &mut TcpStream,
    batch: &[u8],
    framing: Framing,
) -> Result<(), (usize, io::Error)> {
    let mut sent = 0;
    while sent < batch.len() {
        match sock.write(&batch[sent..]) {
            Ok(0) => {
                return Err((
                    frame_start(batch, sent, framing),
                    io::ErrorKind::WriteZero.into(),
                ))
            }
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((frame_start(batch, sent, framing), e)),
        }
    }
    Ok(())
}

/// Writes a batch over TLS, whole messages at most one record at a time,
/// each record flushed to the socket before the next.
fn send_tls(
    tls: &mut (ClientConnection, TcpStream),
    batch: &[u8],
    framing: Framing,
) -> Result<(), (usize, io::Error)> {
    let (conn, sock) = tls;
    let mut at = 0;
    while at < batch.len() {
        let mut end = at;
        while let Some((_, used)) = next_frame(&batch[end..], framing) {
            if end > at && end + used - at > TLS_RECORD {
                break;
            }
            end += used;
        }
        if end == at {
            end = batch.len();
        }
        conn.writer()
            .write_all(&batch[at..end])
            .map_err(|e| (at, e))?;
        while conn.wants_write() {
            match conn.write_tls(sock) {
                Ok(0) => return Err((at, io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((at, e)),
            }
        }
        at = end;
    }
    Ok(())
}

/// Where the message holding byte `offset` of the batch starts.
fn frame_start(batch: &[u8], offset: usize, framing: Framing) -> usize {
    let mut at = 0;
    while let Some((_, used)) = next_frame(&batch[at..], framing) {
        if at + used > offset {
            break;
        }
        at += used;
    }
    at
}

/// At most `max` bytes of `frame`, not splitting a UTF-8 character.
fn cut_at_char(frame: &[u8], max: usize) -> &[u8] {
    if frame.len() <= max {
        return frame;
    }
    let mut end = max;
    while end > 0 && (frame[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &frame[..end]
}

/// Whether reading would not block (data, an end of stream, or an error).
fn readable(sock: &TcpStream) -> bool {
    crate::sys::wait_readable(sock.as_fd(), Duration::ZERO)
}

/// The I/O error inside the `syslog` crate's wrapping of it.
fn unix_error(e: syslog::Error) -> io::Error {
    match e {
        syslog::Error::Initialization(inner) => match inner.downcast::<syslog::Error>() {
            Ok(inner) => unix_error(*inner),
            Err(other) => io::Error::other(other),
        },
        syslog::Error::Io(e) | syslog::Error::Write(e) => e,
    }
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")))
}

/// Connects to the first address of `host` that answers.
fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Completes the TLS handshake, so that a certificate problem shows as a
/// connection failure (and is retried) rather than as a lost write.
fn handshake(
    mut conn: ClientConnection,
    mut sock: TcpStream,
) -> io::Result<(ClientConnection, TcpStream)> {
    sock.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    sock.set_write_timeout(Some(CONNECT_TIMEOUT))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    sock.set_read_timeout(None)?;
    sock.set_write_timeout(None)?;
    Ok((conn, sock))
}

/// The rustls client setup: the CAs of `ca`, or the system's store
/// (rustls-native-certs: the certificates an admin installed, which an
/// internal syslog server's CA usually is, rather than a compiled-in list).
fn tls_config(ca: Option<&Path>) -> io::Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = read_ca_file(path).map_err(io::Error::other)?;
            let (_, bad) = roots.add_parsable_certificates(certs);
            if roots.is_empty() {
                return Err(io::Error::other(format!(
                    "{}: none of the {bad} certificates can be used as a CA",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(io::Error::other(
                    "no CA certificates in the system store: install ca-certificates or set tls_ca",
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM file; an error names the file and the problem.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(|e| format!("{shown}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown}: not a PEM certificate file: {e:?}"))?;
    if certs.is_empty() {
        return Err(format!("{shown}: no PEM certificate in it"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_resumes_at_the_cut_message() {
        let batch = b"3 abc5 hello2 hi";
        assert_eq!(frame_start(batch, 0, Framing::OctetCounting), 0);
        assert_eq!(frame_start(batch, 4, Framing::OctetCounting), 0);
        assert_eq!(frame_start(batch, 5, Framing::OctetCounting), 5);
        assert_eq!(frame_start(batch, 12, Framing::OctetCounting), 12);
        assert_eq!(frame_start(batch, 16, Framing::OctetCounting), 16);
        let lf = b"a\nbc\nd\n";
        assert_eq!(frame_start(lf, 3, Framing::Lf), 2);
        assert_eq!(frame_start(lf, 5, Framing::Lf), 5);
    }

    #[test]
    fn cuts_never_split_a_character() {
        let text = "aé✓".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(cut_at_char(text, 10), text);
        assert_eq!(cut_at_char(text, 5), "aé".as_bytes());
        assert_eq!(cut_at_char(text, 2), b"a");
    }

    #[test]
    fn datagrams_go_one_message_each() {
        let mut sent = Vec::new();
        let r = send_datagrams(b"1 a3 b\nc", |f| {
            sent.push(f.to_vec());
            Ok(())
        });
        assert!(r.is_ok());
        assert_eq!(sent, [b"a".to_vec(), b"b\nc".to_vec()]);
        let r = send_datagrams(b"1 a1 b", |f| {
            if f == b"b" {
                Err(io::ErrorKind::ConnectionRefused.into())
            } else {
                Ok(())
            }
        });
        assert_eq!(r.map_err(|(at, _)| at), Err(3));
        let mut sent = Vec::new();
        let r = send_datagrams(b"1 a9 bc", |f| {
            sent.push(f.to_vec());
            Ok(())
        });
        assert!(r.is_ok());
        assert_eq!(
            sent,
            [b"a".to_vec(), b"9 bc".to_vec()],
            "a bad rest goes as it is"
        );
    }

    fn spec(address: &str) -> SyslogSpec {
        SyslogSpec {
            address: crate::sink::spec::parse_syslog_address(address).unwrap(),
            protocol: Protocol::Rfc3164,
            framing: Framing::OctetCounting,
            facility: 1,
            body: crate::output::syslog::Body::Line,
            hostname: None,
        }
    }

    #[test]
    fn a_unix_datagram_socket_gets_one_datagram_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let receiver = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut sink = SyslogSink::open("t", &spec(&format!("unix://{}", path.display()))).unwrap();
        sink.write(b"5 hello10 two\nlines!").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"two\nlines!");
        assert_eq!(sink.take_lost(), 0);
    }

    #[test]
    fn a_unix_datagram_too_long_for_the_socket_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let receiver = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut sink = SyslogSink::open("t", &spec(&format!("unix://{}", path.display()))).unwrap();
        // Far over a socket's default send buffer (net.core.wmem_default).
        let message = "x".repeat(4 << 20);
        sink.write(format!("{} {message}", message.len()).as_bytes())
            .unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(n, DATAGRAM_MAX);
        assert!(sink.cut_reported);
        assert_eq!(sink.take_lost(), 0);
    }

    #[test]
    fn a_unix_stream_socket_gets_nul_terminated_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let reader = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            got
        });
        let mut sink = SyslogSink::open("t", &spec(&format!("unix://{}", path.display()))).unwrap();
        sink.write(b"5 hello10 two\nlines!").unwrap();
        drop(sink);
        assert_eq!(reader.join().unwrap(), b"hello\0two\nlines!\0");
    }

    #[test]
    fn a_missing_socket_is_the_plain_io_error() {
        let sink = SyslogSink::open("t", &spec("unix:///nonexistent/log")).unwrap();
        let e = sink.connect().err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(e.to_string(), "No such file or directory (os error 2)");
    }

    #[test]
    fn a_socket_that_appears_later_gets_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let later = path.clone();
        let receiver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let sock = std::os::unix::net::UnixDatagram::bind(&later).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut buf = [0u8; 64];
            let n = sock.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        let mut sink = SyslogSink::open("t", &spec(&format!("unix://{}", path.display()))).unwrap();
        // Blocks, trying again with backoff, until the socket exists.
        sink.write(b"4 late").unwrap();
        assert_eq!(receiver.join().unwrap(), b"late");
        assert!(sink.failures == 0 && sink.backoff == BACKOFF_MIN);
    }

    #[test]
    fn an_oversized_udp_message_is_cut_to_one_datagram() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let port = receiver.local_addr().unwrap().port();
        let mut sink = SyslogSink::open("t", &spec(&format!("udp://127.0.0.1:{port}"))).unwrap();
        let message = "é".repeat(40_000);
        let batch = format!("{} {message}2 ok", message.len());
        sink.write(batch.as_bytes()).unwrap();
        let mut buf = vec![0u8; 100_000];
        let n = receiver.recv(&mut buf).unwrap();
        // 65507 would split an `é`: the cut is one byte earlier.
        assert_eq!(n, 65_506);
        assert!(std::str::from_utf8(&buf[..n]).is_ok());
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ok");
        assert!(sink.cut_reported);
    }

    #[test]
    fn a_datagram_too_long_is_cut_once_then_counted() {
        let emsgsize = || io::Error::from_raw_os_error(libc::EMSGSIZE);
        let big = vec![b'x'; DATAGRAM_MAX + 10];
        let mut tries = Vec::new();
        let sent = send_cut(&big, |d| {
            tries.push(d.len());
            if d.len() > DATAGRAM_MAX {
                Err(emsgsize())
            } else {
                Ok(())
            }
        });
        assert_eq!(sent.unwrap(), Sent::Cut(DATAGRAM_MAX));
        assert_eq!(tries, [DATAGRAM_MAX + 10, DATAGRAM_MAX]);
        let sent = send_cut(b"small", |_| Err(emsgsize()));
        assert_eq!(sent.unwrap(), Sent::TooLong);
        let sent = send_cut(b"small", |_| Err(io::ErrorKind::ConnectionRefused.into()));
        assert!(sent.is_err(), "other errors reconnect");
    }

    #[test]
    fn addresses_print_as_written() {
        use crate::sink::spec::parse_syslog_address;
        for a in ["udp://127.0.0.1:514", "tcp://[::1]:601", "unix:///dev/log"] {
            assert_eq!(parse_syslog_address(a).unwrap().to_string(), a);
        }
    }
}
