//! Undoing Docker's wrappers around container output, for `logmux filter`.
//!
//! `docker logs -t` prefixes a timestamp, `docker compose logs` prefixes the
//! container name (often coloured), and json-file logs wrap each line in a
//! JSON object and split lines over 16 KiB into pieces. The first line of an
//! input decides which wrapper it uses; lines that do not carry that wrapper
//! are passed through as they are, never dropped. Each container (compose)
//! or stream (json-file) becomes a stream of its own in the pipeline, so
//! tracebacks are assembled per program.

use std::borrow::Cow;
use std::collections::HashMap;

use logmux_parsers::docker::{self, Stream, PIECE_SIZE as DOCKER_PIECE};

use super::pipeline::{Pipeline, StreamState};
use crate::event::{IoStream, Origin, Stamp};

mod carry;
pub use carry::Carry;

/// At most this many compose containers get a stream of their own; memory
/// stays bounded whatever the input. Lines of further names still come out,
/// through one shared stream.
const MAX_CONTAINERS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrapper {
    Plain,
    /// `docker logs -t`.
    Timestamps,
    /// `docker compose logs`, with or without `-t`.
    Compose,
    /// `/var/lib/docker/containers/*/*-json.log`.
    JsonFile,
}

/// Unwraps one input and feeds its lines to the pipeline.
#[derive(Debug)]
pub struct Unwrapper {
    wrapper: Option<Wrapper>,
    base: Origin,
    plain: StreamState,
    containers: HashMap<String, StreamState>,
    /// The stream for containers past [`MAX_CONTAINERS`].
    overflow: StreamState,
    /// json-file: the stdout and stderr streams, and their unfinished pieces.
    json_streams: [StreamState; 2],
    json_partial: [(Vec<u8>, Option<Stamp>, bool); 2],
    max_line: usize,
}

impl Unwrapper {
    /// `base` is the envelope every event of this input shares (e.g. the file).
    pub fn new(base: Origin, max_line: usize) -> Unwrapper {
        let with_stream = |s| {
            StreamState::new(Origin {
                iostream: Some(s),
                ..base.clone()
            })
        };
        Unwrapper {
            wrapper: None,
            plain: StreamState::new(base.clone()),
            containers: HashMap::new(),
            overflow: StreamState::new(base.clone()),
            json_streams: [with_stream(IoStream::Stdout), with_stream(IoStream::Stderr)],
            json_partial: Default::default(),
            base,
            max_line,
        }
    }

    /// Whether any stream holds back lines (for the idle flush).
    pub fn is_pending(&self) -> bool {
        self.plain.is_pending()
            || self.containers.values().any(StreamState::is_pending)
            || self.overflow.is_pending()
            || self.json_streams.iter().any(StreamState::is_pending)
            || self.json_partial.iter().any(|(b, _, _)| !b.is_empty())
    }

    /// Handles one framed input line.
    pub fn line(
        &mut self,
        bytes: &[u8],
        truncated: bool,
        stamp: &Stamp,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) {
        let wrapper = match self.wrapper {
            Some(w) => w,
            // Compose opens with its own unprefixed `Attaching to …` line:
            // decide on the first line after it.
            None if bytes.is_empty() || bytes.starts_with(b"Attaching to ") => Wrapper::Plain,
            None => {
                let w = sniff(bytes);
                self.wrapper = Some(w);
                w
            }
        };
        let handled = match wrapper {
            Wrapper::Plain => false,
            Wrapper::Timestamps => self.timestamps(bytes, truncated, stamp, pipeline, out),
            Wrapper::Compose => self.compose(bytes, truncated, stamp, pipeline, out),
            Wrapper::JsonFile => self.json_file(bytes, truncated, stamp, pipeline, out),
        };
        if !handled {
            pipeline.line(&mut self.plain, bytes, truncated, stamp, out);
        }
    }

    fn timestamps(
        &mut self,
        bytes: &[u8],
        truncated: bool,
        stamp: &Stamp,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) -> bool {
        let text = ascii_head(bytes);
        let Some((time, rest)) = docker::strip_timestamp(text) else {
            return false;
        };
        let inner = &bytes[text.len() - rest.len()..];
        let inner = rejoin_pieces(inner);
        let mut stamp = *stamp;
        stamp.wrapper_time = Some(time);
        pipeline.line(&mut self.plain, &inner, truncated, &stamp, out);
        true
    }

    fn compose(
        &mut self,
        bytes: &[u8],
        truncated: bool,
        stamp: &Stamp,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) -> bool {
        let text = ascii_head(bytes);
        let Some((container, rest)) = docker::strip_compose_prefix(text) else {
            return false;
        };
        let mut inner = &bytes[text.len() - rest.len()..];
        let mut stamp = *stamp;
        // `docker compose logs -t` puts the time after the prefix.
        let inner_text = ascii_head(inner);
        let mut pieces = false;
        if let Some((time, rest)) = docker::strip_timestamp(inner_text) {
            stamp.wrapper_time = Some(time);
            inner = &inner[inner_text.len() - rest.len()..];
            pieces = true;
        }
        let inner = if pieces {
            rejoin_pieces(inner)
        } else {
            Cow::Borrowed(inner)
        };
        if !self.containers.contains_key(container) {
            let origin = self.container_origin(container);
            if self.containers.len() < MAX_CONTAINERS {
                self.containers
                    .insert(container.to_string(), StreamState::new(origin));
            } else {
                self.overflow.origin = origin;
            }
        }
        let state = match self.containers.get_mut(container) {
            Some(state) => state,
            None => &mut self.overflow,
        };
        pipeline.line(state, &inner, truncated, &stamp, out);
        true
    }

    fn json_file(
        &mut self,
        bytes: &[u8],
        truncated: bool,
        stamp: &Stamp,
        pipeline: &mut Pipeline,
        out: &mut Vec<u8>,
    ) -> bool {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return false;
        };
        if truncated {
            return false;
        }
        let Some(entry) = docker::parse_json_file(text) else {
            return false;
        };
        let which = usize::from(entry.stream == Stream::Stderr);
        let mut stamp = *stamp;
        stamp.wrapper_time = entry.time;
        let (held, first, continuing) = &mut self.json_partial[which];
        if entry.partial || !held.is_empty() || *continuing {
            if held.is_empty() {
                *first = Some(stamp);
            }
            held.extend_from_slice(entry.log.as_bytes());
            if entry.partial && held.len() < self.max_line {
                return true;
            }
            let line = std::mem::take(held);
            let first_stamp = first.take().unwrap_or(stamp);
            // Pieces joined past the limit go out cut, and marked so.
            let cut = entry.partial || *continuing || line.len() > self.max_line;
            *continuing = entry.partial;
            for piece in line.chunks(self.max_line) {
                pipeline.line(&mut self.json_streams[which], piece, cut, &first_stamp, out);
            }
            return true;
        }
        pipeline.line(
            &mut self.json_streams[which],
            entry.log.as_bytes(),
            false,
            &stamp,
            out,
        );
        true
    }

    /// The envelope of a compose container's stream.
    fn container_origin(&self, container: &str) -> Origin {
        Origin {
            service: Some(docker::compose_service(container).to_string()),
            container_name: Some(container.to_string()),
            ..self.base.clone()
        }
    }

    /// The input ended or went idle: emits everything held back.
    pub fn flush(&mut self, pipeline: &mut Pipeline, out: &mut Vec<u8>) {
        for which in 0..2 {
            let (held, first, continuing) = &mut self.json_partial[which];
            if !held.is_empty() {
                let line = std::mem::take(held);
                let stamp = first.take().unwrap_or_else(Stamp::now);
                pipeline.line(
                    &mut self.json_streams[which],
                    &line,
                    *continuing,
                    &stamp,
                    out,
                );
            }
            *continuing = false;
            pipeline.flush(&mut self.json_streams[which], out);
        }
        pipeline.flush(&mut self.plain, out);
        pipeline.flush(&mut self.overflow, out);
        let mut names: Vec<&String> = self.containers.keys().collect();
        names.sort();
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            if let Some(state) = self.containers.get_mut(&name) {
                pipeline.flush(state, out);
            }
        }
    }
}

/// Picks the wrapper from an input's first non-empty line.
fn sniff(bytes: &[u8]) -> Wrapper {
    let text = ascii_head(bytes);
    if bytes.starts_with(b"{\"log\":")
        && std::str::from_utf8(bytes)
            .ok()
            .and_then(docker::parse_json_file)
            .is_some()
    {
        Wrapper::JsonFile
    } else if docker::strip_timestamp(text).is_some() {
        Wrapper::Timestamps
    } else if docker::strip_compose_prefix(text).is_some() {
        Wrapper::Compose
    } else {
        Wrapper::Plain
    }
}

/// The longest valid UTF-8 start of a line: wrappers are ASCII, so they can
/// be read even when the wrapped text is not valid UTF-8.
fn ascii_head(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// `docker logs -t` prints each 16 KiB piece of a long line with its own
/// timestamp and no newline between: cut those inner timestamps out again.
fn rejoin_pieces(inner: &[u8]) -> Cow<'_, [u8]> {
    if inner.len() <= DOCKER_PIECE
        || docker::strip_timestamp(ascii_head(&inner[DOCKER_PIECE..])).is_none()
    {
        return Cow::Borrowed(inner);
    }
    let mut joined = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while rest.len() > DOCKER_PIECE {
        let (piece, after) = rest.split_at(DOCKER_PIECE);
        let head = ascii_head(after);
        match docker::strip_timestamp(head) {
            Some((_, next)) => {
                joined.extend_from_slice(piece);
                rest = &after[head.len() - next.len()..];
            }
            None => break,
        }
    }
    joined.extend_from_slice(rest);
    Cow::Owned(joined)
}
