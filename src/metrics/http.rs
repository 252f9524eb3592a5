//! The metrics listener: `GET /metrics` and `GET /healthz` over HTTP/1.x.
//!
//! Hand-rolled rather than hyper: it answers two GET paths with one
//! response each and closes, `filter` has no async runtime to run hyper on
//! (and `listen` runs a single-threaded one that its messages need), and
//! no crate in Cargo.toml serves HTTP. A thread accepts; each connection
//! gets a thread of its own, so a slow client never delays logmux's work.
//!
//! It cannot become a way to starve logmux: at most [`MAX_CONNECTIONS`]
//! are served at once (one more gets a 503 and is closed), a request must
//! arrive whole within [`READ_TIMEOUT`] and [`MAX_REQUEST`] bytes, and a
//! failed accept (no descriptor left) waits before the next.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::expose::CONTENT_TYPE;
use super::Metrics;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// The whole request (line and headers) must arrive within this.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// A request larger than this is refused (431).
pub const MAX_REQUEST: usize = 8 * 1024;
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds `addr` and serves on a thread of its own until the process ends.
/// Returns the bound address (the port the kernel chose for port 0).
pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || accept_loop(&listener, &metrics))?;
    tracing::info!(address = %bound, "metrics: serving /metrics and /healthz on http://{bound}");
    Ok(bound)
}

fn accept_loop(listener: &TcpListener, metrics: &Arc<Metrics>) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!(error = %e, "metrics: cannot accept: {e}");
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            let _ = stream.set_nonblocking(true);
            let _ = respond(&mut stream, 503, "text/plain", b"busy\n", false);
            continue;
        }
        let (m, a) = (Arc::clone(metrics), Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("metrics-conn".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                serve(stream, &m);
                a.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Metrics { head: bool },
    Health { head: bool },
    NotFound,
    BadMethod,
    Bad,
}

/// Reads the request line of `head` (the bytes up to the blank line).
pub fn parse_request(head: &[u8]) -> Request {
    let line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(&head[..line_end]) else {
        return Request::Bad;
    };
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") || words.next().is_some() {
        return Request::Bad;
    }
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Request::BadMethod,
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    match path {
        "/metrics" => Request::Metrics { head },
        "/healthz" => Request::Health { head },
        _ => Request::NotFound,
    }
}

fn serve(mut stream: TcpStream, metrics: &Metrics) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let head = match read_head(&mut stream) {
        Ok(Some(h)) => h,
        Ok(None) => {
            let _ = respond(
                &mut stream,
                431,
                "text/plain",
                b"request too large\n",
                false,
            );
            return;
        }
        Err(_) => return,
    };
    let _ = match parse_request(&head) {
        Request::Metrics { head } => {
            let body = metrics.render();
            respond(&mut stream, 200, CONTENT_TYPE, body.as_bytes(), head)
        }
        Request::Health { head } => {
            let (ok, body) = metrics.health.answer();
            let code = if ok { 200 } else { 503 };
            respond(&mut stream, code, "application/json", body.as_bytes(), head)
        }
        Request::NotFound => respond(
            &mut stream,
            404,
            "text/plain",
            b"not found: try /metrics or /healthz\n",
            false,
        ),
        Request::BadMethod => respond(
            &mut stream,
            405,
            "text/plain",
            b"only GET and HEAD\n",
            false,
        ),
        Request::Bad => respond(&mut stream, 400, "text/plain", b"bad request\n", false),
    };
}

/// The request up to its blank line; `None` when it is too large. An
/// error when it does not arrive within [`READ_TIMEOUT`] in all.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if memchr::memmem::find(&head, b"\r\n\r\n").is_some()
            || memchr::memmem::find(&head, b"\n\n").is_some()
        {
            return Ok(Some(head));
        }
        if head.len() > MAX_REQUEST {
            return Ok(None);
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics { head: false }
        );
        assert_eq!(
            parse_request(b"HEAD /healthz?x=1 HTTP/1.0\r\n\r\n"),
            Request::Health { head: true }
        );
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(
            parse_request(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Request::BadMethod
        );
        assert_eq!(parse_request(b"GET /metrics\r\n\r\n"), Request::Bad);
        assert_eq!(
            parse_request(b"\xff\xfe /metrics HTTP/1.1\r\n\r\n"),
            Request::Bad
        );
    }
}
