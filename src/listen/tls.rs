//! TLS on the TCP listeners (`--tls-cert`, `--tls-key`, `--tls-client-ca`),
//! as Docker's `syslog-address=tcp+tls://…` and rsyslog's gtls driver send
//! (RFC 5425: the same framing as plain TCP, inside TLS).
//!
//! The certificate, key and client CA are read once at start, so that a bad
//! file stops `listen` with a message naming it. Each connection's TLS
//! session lives on its reader thread ([`super::conn_reader`]): the
//! handshake runs there, never on the thread that accepts, and a handshake
//! that has not finished within `--idle-timeout` ends the connection. A
//! [`TlsStream`] reads like the non-blocking socket it wraps (plaintext,
//! `WouldBlock` when more records are needed, 0 at the end), so the reader
//! loop is the same for TLS and plain connections. With `--tls-client-ca`,
//! a client must present a certificate signed by one of its CAs; any other
//! is refused in the handshake, and counted.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};

/// Writing a handshake record may wait this long for room in the socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The files of `--tls-cert`, `--tls-key` and `--tls-client-ca`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS setup cannot be used; each names the flag and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert {}: {why}", path.display())]
    Cert { path: PathBuf, why: String },
    #[error("--tls-key {}: {why}", path.display())]
    Key { path: PathBuf, why: String },
    #[error("--tls-client-ca {}: {why}", path.display())]
    ClientCa { path: PathBuf, why: String },
    #[error("--tls-cert {} and --tls-key {}: {why}", cert.display(), key.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
}

/// The server setup every TLS connection shares.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(&files.cert).map_err(|why| TlsError::Cert {
        path: files.cert.clone(),
        why,
    })?;
    let key = read_key(&files.key).map_err(|why| TlsError::Key {
        path: files.key.clone(),
        why,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            why: e.to_string(),
        })?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let verifier = client_verifier(path, provider).map_err(|why| TlsError::ClientCa {
                path: path.clone(),
                why,
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            why: format!("the key does not go with the certificate, or cannot be used: {e}"),
        })?;
    Ok(Arc::new(config))
}

/// Clients must present a certificate signed by a CA of `path`.
fn client_verifier(
    path: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    let (_, bad) = roots.add_parsable_certificates(read_certs(path)?);
    if roots.is_empty() {
        return Err(format!(
            "none of its {bad} certificates can be used as a CA"
        ));
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("cannot verify clients with it: {e}"))
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))
}

/// The certificates of a PEM file, leaf first.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate (BEGIN CERTIFICATE) in it".into());
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS #8, PKCS #1 or SEC1).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let text = read_file(path)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            "no PEM private key (BEGIN PRIVATE KEY) in it".to_string()
        }
        e => format!("not a PEM private key file: {e}"),
    })
}

/// A TLS connection, read like a non-blocking socket.
pub struct TlsStream {
    session: ServerConnection,
    sock: TcpStream,
    /// Why the session failed (a handshake refused, a bad record).
    failure: Option<String>,
    /// The socket was shut ([`TlsStream::shut`]): nothing more is written.
    shut: bool,
}

impl TlsStream {
    /// A session on `sock` (non-blocking); the handshake starts at the
    /// first read.
    pub fn new(config: Arc<ServerConfig>, sock: TcpStream) -> io::Result<TlsStream> {
        let session = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            session,
            sock,
            failure: None,
            shut: false,
        })
    }

    pub fn sock(&self) -> &TcpStream {
        &self.sock
    }

    pub fn is_handshaking(&self) -> bool {
        self.session.is_handshaking()
    }

    /// Shuts the socket both ways (the listener is stopping): the records
    /// the kernel accepted can still be read and decrypted; nothing more
    /// is written, since a write would fail and end the reading early.
    pub fn shut(&mut self) -> io::Result<()> {
        self.shut = true;
        self.sock.shutdown(std::net::Shutdown::Both)
    }

    /// Why the session failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Plaintext into `buf`; `WouldBlock` when the socket has nothing more
    /// for now, `Ok(0)` at the end (the client's close_notify or a close).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.session.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: the end, as for plain TCP.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if !self.shut {
                self.flush()?;
            }
            match self.session.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if let Err(e) = self.session.process_new_packets() {
                // Tell the client why (an alert), as far as it listens.
                let _ = self.flush();
                self.failure = Some(e.to_string());
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }

    /// Writes the records the session has to send (handshake, alerts).
    fn flush(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !crate::sys::wait_writable(self.sock.as_fd(), WRITE_TIMEOUT) {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "client not reading",
                        ));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
