//! `logmux ctl tail`, the client's side: sends the request, then prints
//! each event as it comes, as JSON (the line logmux sent, unchanged) or
//! in the pretty view (the event read back as a logmux event, as `logmux
//! filter --output pretty` does). A `!skipped N` line from logmux becomes
//! a marker: in the pretty view in place, beside JSON on stderr (stdout
//! stays one event a line).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::control::ClientError;
use super::tail::TailRequest;
use crate::engine::{Pipeline, Settings, StreamState};
use crate::event::{Origin, Stamp};
use crate::output::{Encoder, OutputFormat};

/// How `logmux ctl tail` prints.
pub struct View {
    /// Json or Pretty.
    pub format: OutputFormat,
    pub color: bool,
}

/// Asks logmux for `request` and prints what it sends until it ends (or,
/// without `follow`, until the last event). `timeout` bounds connecting
/// and the first answer (and, without `follow`, each wait after).
pub fn tail(
    path: &Path,
    request: &TailRequest,
    view: &View,
    timeout: Duration,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ClientError> {
    let io = |source| ClientError::Io {
        path: path.to_owned(),
        source,
    };
    let (stream, mut reader) = open(path, &request.line(), timeout)?;
    let wait = (!request.follow).then_some(timeout);
    stream.set_read_timeout(wait).map_err(io)?;
    let mut printer = Printer::new(view);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        }
        let shown = printer.line(&line, out, err);
        // Written in runs: flushed when nothing more has arrived yet.
        let flushed = shown.and_then(|()| match reader.buffer().is_empty() {
            true => out.flush(),
            false => Ok(()),
        });
        if flushed.is_err() {
            // stdout closed (`| head`): nothing more to do.
            return Ok(());
        }
    }
}

/// Connects and sends the request, until logmux is not busy; the stream
/// and a reader past the first answer line, which said yes.
fn open(
    path: &Path,
    line: &str,
    timeout: Duration,
) -> Result<(UnixStream, BufReader<UnixStream>), ClientError> {
    let (owned_path, owned_line) = (path.to_owned(), line.to_owned());
    super::control::within(path, timeout, move |deadline| {
        open_until(&owned_path, &owned_line, deadline)
    })
}

fn open_until(
    path: &Path,
    line: &str,
    deadline: Instant,
) -> Result<(UnixStream, BufReader<UnixStream>), ClientError> {
    let io = |source| ClientError::Io {
        path: path.to_owned(),
        source,
    };
    loop {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).map_err(io)?;
        (&stream)
            .write_all(format!("{line}\n").as_bytes())
            .map_err(io)?;
        let mut reader = BufReader::new(stream.try_clone().map_err(io)?);
        let mut first = String::new();
        reader.read_line(&mut first).map_err(io)?;
        let value: serde_json::Value = serde_json::from_str(first.trim()).map_err(|e| {
            ClientError::Refused(format!("logmux sent an answer that is not JSON: {e}"))
        })?;
        if value["ok"].as_bool() == Some(true) {
            return Ok((stream, reader));
        }
        let busy = value["busy"].as_bool() == Some(true);
        if !busy || Instant::now() + Duration::from_millis(100) >= deadline {
            let message = value["message"].as_str().unwrap_or("refused");
            return Err(ClientError::Refused(message.to_string()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Prints events and markers in one view.
struct Printer {
    /// The pretty view: each event read back as a logmux event.
    pretty: Option<(Pipeline, StreamState)>,
    buf: Vec<u8>,
}

impl Printer {
    fn new(view: &View) -> Printer {
        let pretty = (view.format == OutputFormat::Pretty).then(|| {
            let encoder = Encoder {
                format: OutputFormat::Pretty,
                color: view.color,
                zone: crate::output::LocalZone::System,
                ..Encoder::json()
            };
            let settings = Settings {
                forced: None,
                nginx_format: None,
                uwsgi_logdate: None,
                uwsgi_format: None,
                encoder,
            };
            (Pipeline::new(settings), StreamState::new(Origin::default()))
        });
        Printer {
            pretty,
            buf: Vec::new(),
        }
    }

    /// One line from logmux: an event, or a `!skipped N` marker.
    fn line(
        &mut self,
        line: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> std::io::Result<()> {
        if let Some(n) = line.strip_prefix(b"!skipped ") {
            let n = String::from_utf8_lossy(n);
            let what = format!("{} events skipped: this reader fell behind", n.trim());
            return match self.pretty {
                Some(_) => writeln!(out, "--- {what} ---"),
                None => writeln!(err, "logmux ctl tail: {what}"),
            };
        }
        let Some((pipeline, state)) = &mut self.pretty else {
            return out.write_all(line);
        };
        let event = line.strip_suffix(b"\n").unwrap_or(line);
        self.buf.clear();
        pipeline.line(state, event, false, &Stamp::now(), &mut self.buf);
        pipeline.flush(state, &mut self.buf);
        out.write_all(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_printed_as_sent_and_markers_go_to_stderr() {
        let view = View {
            format: OutputFormat::Json,
            color: false,
        };
        let mut printer = Printer::new(&view);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let event = b"{\"message\":\"hi\",\"service\":{\"name\":\"a\"}}\n";
        printer.line(event, &mut out, &mut err).unwrap();
        printer.line(b"!skipped 12\n", &mut out, &mut err).unwrap();
        assert_eq!(out, event);
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "logmux ctl tail: 12 events skipped: this reader fell behind\n"
        );
    }

    #[test]
    fn pretty_shows_the_message_and_the_marker_in_place() {
        let view = View {
            format: OutputFormat::Pretty,
            color: false,
        };
        let mut printer = Printer::new(&view);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let event = br#"{"timestamp":"2026-12-03T10:00:00.000000000Z","observed_timestamp":"2026-12-03T10:00:00.000000000Z","severity_text":"INFO","severity_number":9,"message":"hello there","service":{"name":"web"},"log":{"iostream":"stdout"},"logmux":{"format":"text"}}
"#;
        printer.line(event, &mut out, &mut err).unwrap();
        printer.line(b"!skipped 3\n", &mut out, &mut err).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("web") && lines[0].ends_with("hello there"),
            "{text}"
        );
        assert!(!lines[0].starts_with('{'), "{text}");
        assert_eq!(
            lines[1],
            "--- 3 events skipped: this reader fell behind ---"
        );
        assert!(err.is_empty());
    }
}
