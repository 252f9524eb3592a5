//! The pipeline: from a framed line to an encoded event.
//!
//! Every source (a child's pipe, stdin, a file, a syslog message) hands its
//! lines here together with where they came from. Per stream, the pipeline
//! rejoins lines that supervisord spliced apart, assembles multi-line Python
//! tracebacks, and skips (but counts) empty lines; then it parses each event
//! and encodes it into the caller's [`Output`]: one buffer, or a buffer and
//! encoder picked by the event's format. A line that is already a logmux
//! event (from a `logmux run` inside a container) is merged, not wrapped
//! again (see [`logmux_parsers::logmux_event`]). It does no I/O itself.

use std::borrow::Cow;
use std::sync::Arc;

use logmux_parsers::detect::Parser;
use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::strftime::Strftime;
use logmux_parsers::traceback::{Action, Assembler, Burst};
use logmux_parsers::uwsgi::log_format::LogFormat as UwsgiFormat;
use logmux_parsers::{ansi, supervisord, traceback, Field, Format, Record, Value};

use logmux_parsers::logmux_event as merge;

use crate::event::{self, Origin, Stamp};
use crate::metrics::{EventCache, EventMetrics};
use crate::output::{sort_fields, Encoder, Event, FieldOrders};
use crate::trace::feed::Parts;
use crate::trace::infer::Joiner;
use crate::trace::{SpanFeed, Tracer};

/// What the pipeline carries along with a line's text.
#[derive(Debug, Clone, Copy)]
struct Meta {
    stamp: Stamp,
    /// A piece of a line cut at the length limit.
    truncated: bool,
    /// Bytes were replaced with U+FFFD.
    invalid: bool,
}

/// Counters a front door can report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub lines: u64,
    pub events: u64,
    pub empty_lines: u64,
    pub truncated_pieces: u64,
    pub invalid_utf8: u64,
    pub parse_errors: u64,
    /// Lines that were logmux events, merged (see [`logmux_parsers::logmux_event`]).
    pub merged: u64,
}

impl std::ops::AddAssign for Stats {
    /// Another pipeline's counts (a door that parses on several threads).
    fn add_assign(&mut self, o: Stats) {
        self.lines += o.lines;
        self.events += o.events;
        self.empty_lines += o.empty_lines;
        self.truncated_pieces += o.truncated_pieces;
        self.invalid_utf8 += o.invalid_utf8;
        self.parse_errors += o.parse_errors;
        self.merged += o.merged;
    }
}

/// How lines are parsed and events encoded.
#[derive(Debug, Clone)]
pub struct Settings {
    pub forced: Option<Format>,
    pub nginx_format: Option<LogFormat>,
    /// uWSGI's `--logdate=FORMAT` (`--uwsgi-logdate`), when the usual ones do not fit.
    pub uwsgi_logdate: Option<Strftime>,
    /// A user's uWSGI `log-format` (`--uwsgi-log-format`, `uwsgi_log_format`).
    pub uwsgi_format: Option<UwsgiFormat>,
    pub encoder: Encoder,
}

/// Per-stream state: never shared between streams, so two programs' lines
/// can never be merged.
#[derive(Debug)]
pub struct StreamState {
    pub origin: Origin,
    assembler: Assembler,
    /// The stamp and flags of the event being assembled.
    pending: Option<Meta>,
    /// A supervisord line has been seen: from now on, look for spliced ones.
    supervisord_seen: bool,
    /// The head of a child's line that a spliced supervisord line cut off.
    splice_head: Vec<u8>,
    /// The metric handles of this stream's service.
    metrics: EventCache,
}

impl StreamState {
    pub fn new(origin: Origin) -> StreamState {
        StreamState {
            origin,
            assembler: Assembler::new(),
            pending: None,
            supervisord_seen: false,
            splice_head: Vec::new(),
            metrics: EventCache::default(),
        }
    }

    /// Whether something is held back waiting for more lines.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some() || !self.splice_head.is_empty()
    }

    /// Nothing held, and nothing of earlier lines carries over to the next
    /// but [`StreamState::supervisord_seen`]: a fresh stream with that flag
    /// would handle what follows the same way (the parallel filter's test).
    pub fn is_idle(&self) -> bool {
        !self.is_pending() && !self.assembler.is_pending()
    }

    /// A supervisord line has been seen on this stream.
    pub fn supervisord_seen(&self) -> bool {
        self.supervisord_seen
    }

    /// A stream resumed where one with this flag left off.
    pub fn with_supervisord_seen(mut self, seen: bool) -> StreamState {
        self.supervisord_seen = seen;
        self
    }

    /// Puts this stream at rest, as a fresh one with `supervisord_seen`
    /// (a helper's stream before the lines that follow one at rest), its
    /// metric handles kept.
    pub fn rest(&mut self, supervisord_seen: bool) {
        self.assembler = Assembler::new();
        self.pending = None;
        self.supervisord_seen = supervisord_seen;
        self.splice_head.clear();
    }

    /// Takes over what `later` holds back and knows, `later` having been
    /// fed the lines that follow this stream's (from its state, at rest);
    /// this stream keeps its own origin and metric handles.
    pub fn take_over(&mut self, later: &mut StreamState) {
        std::mem::swap(&mut self.assembler, &mut later.assembler);
        std::mem::swap(&mut self.splice_head, &mut later.splice_head);
        self.pending = later.pending.take();
        self.supervisord_seen = later.supervisord_seen;
    }

    /// Bytes held back waiting for more lines (for a memory budget).
    pub fn held_bytes(&self) -> usize {
        self.assembler.held_bytes() + self.splice_head.len()
    }
}

/// Parses and encodes lines; shared by all the streams of one front door.
#[derive(Debug)]
pub struct Pipeline {
    settings: Settings,
    multiline: bool,
    /// Lines that are logmux events are merged (unless another format is forced).
    merge_events: bool,
    /// Under `logmux run`: the stream's program name and pid replace what
    /// a merged event says (a child cannot pose as another program).
    origin_wins: bool,
    /// An empty line is still an event (each syslog message is one).
    keep_empty: bool,
    /// Plain lines that follow an exception line in its burst may continue
    /// its message (see [`Pipeline::joining_bursts`]).
    join_bursts: bool,
    pub stats: Stats,
    /// Counts every event into `/metrics` when metrics are on.
    metrics: Option<Arc<EventMetrics>>,
    /// The metric handles of events encoded without a stream ([`Pipeline::encode`]).
    loose: EventCache,
    /// `[trace] join = "infer"`: the join table shared across programs.
    join: Option<Arc<Joiner>>,
    /// The span builder every finished event is shown to, when a sink sends traces.
    spans: Option<SpanFeed>,
    /// How the fields of the formats seen so far are sorted.
    field_orders: FieldOrders,
}

impl Pipeline {
    pub fn new(settings: Settings) -> Pipeline {
        // Tracebacks are assembled wherever Python output can appear.
        let multiline = !matches!(
            settings.forced,
            Some(Format::NginxAccess | Format::NginxError | Format::Supervisord | Format::Json)
        );
        let merge_events = matches!(settings.forced, None | Some(Format::Json));
        Pipeline {
            settings,
            multiline,
            merge_events,
            origin_wins: false,
            keep_empty: false,
            join_bursts: false,
            stats: Stats::default(),
            metrics: None,
            loose: EventCache::default(),
            join: None,
            spans: None,
            field_orders: FieldOrders::default(),
        }
    }

    /// A pipeline that counts every event it encodes into `metrics`.
    pub fn with_metrics(mut self, metrics: Option<Arc<EventMetrics>>) -> Pipeline {
        self.metrics = metrics;
        self
    }

    /// A pipeline whose request lines without ids are joined by `join`
    /// (the heuristic of [`crate::trace::infer`]).
    pub fn with_join(mut self, join: Option<Arc<Joiner>>) -> Pipeline {
        self.join = join;
        self
    }

    /// A pipeline that shows every finished event to the span builder.
    pub fn with_spans(mut self, spans: Option<Arc<Tracer>>) -> Pipeline {
        self.spans = spans.map(SpanFeed::new);
        self
    }

    /// A helper's pipeline: the parts of its events are kept, to be
    /// taken by its stream ([`Pipeline::take_span_parts`]) or dropped.
    pub fn with_kept_spans(mut self, spans: Option<Arc<Tracer>>) -> Pipeline {
        self.spans = spans.map(SpanFeed::kept);
        self
    }

    /// The parts of the events finished since the last call, taken out
    /// (a helper's pipeline: see [`Pipeline::with_kept_spans`]).
    pub fn take_span_parts(&mut self) -> Parts {
        self.spans
            .as_mut()
            .map(SpanFeed::take_held)
            .unwrap_or_default()
    }

    /// Drops the parts kept (a helper's half that is parsed again).
    pub fn drop_span_parts(&mut self) {
        if let Some(feed) = &mut self.spans {
            feed.drop_held();
        }
    }

    /// Takes `parts` (another pipeline's, for events that follow this
    /// one's) as if its own events had made them.
    pub fn adopt_span_parts(&mut self, parts: &mut Parts) {
        if let Some(feed) = &mut self.spans {
            feed.adopt(parts);
        }
    }

    /// Hands the span builder the parts of the events finished since the
    /// last call: once per read, after its lines.
    pub fn hand_spans(&mut self) {
        if let Some(feed) = &mut self.spans {
            feed.hand();
        }
    }

    /// The span builder, when it was behind at the last hand-off
    /// ([`Pipeline::hand_spans`]): a door that can wait ([`Tracer::room`])
    /// does so before it reads more.
    pub fn spans_behind(&self) -> Option<&Arc<Tracer>> {
        self.spans.as_ref().and_then(SpanFeed::behind)
    }

    /// A pipeline for messages rather than lines: one whose text is empty
    /// (or only ANSI codes) is still an event, not a skipped blank line.
    pub fn keeping_empty(mut self) -> Pipeline {
        self.keep_empty = true;
        self
    }

    /// A pipeline for a live stream (a pipe, not a file): plain lines that
    /// come in the same burst as a traceback's exception line, with nothing
    /// after them in that burst that starts a line of its own, continue the
    /// exception's message. Each line's [`Stamp::burst`] says how it came.
    pub fn joining_bursts(mut self) -> Pipeline {
        self.join_bursts = true;
        self
    }

    /// A pipeline for a supervised program's stream: lines that are logmux
    /// events are merged only when `merge` (a nested `logmux run`), and
    /// then the program's real name and pid win over the event's.
    pub fn for_program(mut self, merge: bool) -> Pipeline {
        self.merge_events &= merge;
        self.origin_wins = true;
        self
    }

    /// Handles one framed line of `stream`, appending any events to `out`.
    pub fn line(
        &mut self,
        stream: &mut StreamState,
        bytes: &[u8],
        truncated: bool,
        stamp: &Stamp,
        out: &mut dyn Output,
    ) {
        self.line_of(stream, LineBytes::Unchecked(bytes), truncated, stamp, out);
    }

    /// [`Pipeline::line`] for `input` that may be known to be UTF-8.
    pub fn line_of(
        &mut self,
        stream: &mut StreamState,
        input: LineBytes<'_>,
        truncated: bool,
        stamp: &Stamp,
        out: &mut dyn Output,
    ) {
        let joined;
        let input = if stream.splice_head.is_empty() {
            input
        } else {
            let mut head = std::mem::take(&mut stream.splice_head);
            head.extend_from_slice(input.bytes());
            joined = head;
            LineBytes::Unchecked(&joined[..])
        };
        let (text, meta) = self.take_in(input, truncated, stamp);
        if self.merged(stream, &text, meta, out) {
            return;
        }

        if stream.supervisord_seen && self.settings.forced.is_none() && !truncated {
            if let Some(at) = supervisord::find_spliced_header(text.as_bytes()) {
                if let (Some(head), Some(own)) = (text.get(..at), text.get(at..)) {
                    // supervisord wrote its own line into the middle of a
                    // child's: emit its line, and rejoin the child's halves.
                    stream.splice_head = head.as_bytes().to_vec();
                    self.single(stream, own, meta, out);
                    return;
                }
            }
        }
        self.offer(stream, &text, meta, out);
    }

    /// Passes a line through the multi-line assembler.
    fn offer(&mut self, stream: &mut StreamState, text: &str, meta: Meta, out: &mut dyn Output) {
        if !self.multiline {
            self.single(stream, text, meta, out);
            return;
        }
        let burst = if self.join_bursts {
            meta.stamp.burst
        } else {
            Burst::Unknown
        };
        // Bounded: a Flush hands the line back at most once per held event.
        for _ in 0..3 {
            match stream.assembler.push_in(text, burst) {
                Action::Single => {
                    self.single(stream, text, meta, out);
                    return;
                }
                Action::Taken => {
                    // The event keeps its first line's time, and any line's flags.
                    let first = stream.pending.get_or_insert(Meta {
                        truncated: false,
                        invalid: false,
                        ..meta
                    });
                    first.truncated |= meta.truncated;
                    first.invalid |= meta.invalid;
                    return;
                }
                Action::Flush => {
                    if let Some(event) = stream.assembler.take() {
                        let first = stream.pending.take().unwrap_or(meta);
                        self.event(stream, &event, first, true, out);
                    }
                }
                Action::Unjoin => self.unjoin(stream, meta, out),
            }
        }
        self.single(stream, text, meta, out);
    }

    /// Emits the held traceback without the lines it took tentatively,
    /// then each of those lines on its own (with the traceback's time).
    fn unjoin(&mut self, stream: &mut StreamState, meta: Meta, out: &mut dyn Output) {
        let first = stream.pending.take().unwrap_or(meta);
        if let Some(event) = stream.assembler.take() {
            self.event(stream, &event, first, true, out);
        }
        let lines = stream.assembler.take_unjoined();
        for line in lines.split('\n') {
            self.single(stream, line, first, out);
        }
    }

    /// The stream ended or went idle: emits whatever is held back.
    pub fn flush(&mut self, stream: &mut StreamState, out: &mut dyn Output) {
        let now = Meta {
            stamp: Stamp::now(),
            truncated: false,
            invalid: false,
        };
        if let Some(event) = stream.assembler.flush() {
            let first = stream.pending.take().unwrap_or(now);
            self.event(stream, &event, first, true, out);
        }
        stream.pending = None;
        if !stream.splice_head.is_empty() {
            let head = std::mem::take(&mut stream.splice_head);
            let text = String::from_utf8_lossy(&head).into_owned();
            self.offer(stream, &text, now, out);
            if let Some(event) = stream.assembler.flush() {
                self.event(stream, &event, now, true, out);
            }
            stream.pending = None;
        }
    }

    /// Emits what the stream holds before its end has come (a memory
    /// budget was reached): the event is marked `logmux.truncated`, as it
    /// may lack lines still to come.
    pub fn flush_early(&mut self, stream: &mut StreamState, out: &mut dyn Output) {
        if let Some(first) = stream.pending.as_mut() {
            first.truncated = true;
        }
        self.flush(stream, out);
    }

    /// A line that is a logmux event: emits what the stream holds (a
    /// traceback ends before it), then the event with the stream's envelope.
    /// False, with nothing done, for any other line.
    fn merged(
        &mut self,
        stream: &mut StreamState,
        text: &str,
        meta: Meta,
        out: &mut dyn Output,
    ) -> bool {
        if !self.merge_events || meta.truncated || !merge::may_be_event(text) {
            return false;
        }
        let mut rec = Record {
            invalid_utf8: meta.invalid,
            ..Record::default()
        };
        let Some(parsed) = merge::parse(text, &mut rec) else {
            return false;
        };
        self.flush(stream, out);
        self.stats.merged += 1;
        if rec.timestamp.is_none() {
            rec.timestamp = meta.stamp.wrapper_time;
        }
        if self.origin_wins {
            event::add_program_to_merged(&stream.origin, &mut rec);
        } else {
            event::add_to_merged(&stream.origin, &mut rec);
        }
        sort_fields(&mut rec);
        let observed = parsed.observed.map(str::as_bytes);
        emit(
            &self.settings.encoder,
            &mut self.stats,
            &mut rec,
            &parsed.message,
            &meta.stamp,
            observed,
            &stream.origin,
            out,
            self.metrics.as_deref().map(|m| (m, &mut stream.metrics)),
            self.spans.as_mut(),
        );
        true
    }

    fn single(&mut self, stream: &mut StreamState, text: &str, meta: Meta, out: &mut dyn Output) {
        if text.is_empty() && !self.keep_empty {
            self.stats.empty_lines += 1;
            return;
        }
        self.event(stream, text, meta, false, out);
    }

    /// Parses and encodes one event.
    fn event(
        &mut self,
        stream: &mut StreamState,
        text: &str,
        meta: Meta,
        assembled: bool,
        out: &mut dyn Output,
    ) {
        let parser = Parser {
            forced: self.settings.forced,
            nginx_format: self.settings.nginx_format.as_ref(),
            uwsgi_logdate: self.settings.uwsgi_logdate.as_ref(),
            uwsgi_format: self.settings.uwsgi_format.as_ref(),
        };
        let mut rec = Record {
            invalid_utf8: meta.invalid,
            ..Record::default()
        };
        let parsed = if assembled && rec.attempt(|r| traceback::parse(text, r)) {
            true
        } else {
            parser.parse(text, &mut rec)
        };
        if !parsed {
            rec.flag_parse_error();
        }
        if rec.format == Format::Supervisord {
            stream.supervisord_seen = true;
        }
        if meta.truncated {
            rec.push(Field::LogmuxTruncated, Value::Bool(true));
        }
        if rec.timestamp.is_none() {
            rec.timestamp = meta.stamp.wrapper_time;
        }
        if rec.severity.is_none() {
            rec.severity = meta.stamp.wrapper_severity;
            if rec.severity_text.is_none() {
                rec.severity_text = meta.stamp.wrapper_severity_text.map(Cow::Borrowed);
            }
        }
        // Sorts the fields, which the rest finds by binary search.
        event::add_to_parsed(&stream.origin, &mut rec, &mut self.field_orders);
        // Also a JSON line kept as text because it is not I-JSON.
        if rec.get_sorted(Field::LogmuxParseError).is_some() {
            self.stats.parse_errors += 1;
        }
        crate::trace::stamp::stamp(&mut rec);
        // After the ids the line logs are stamped: only lines left without
        // a trace id are joined.
        if let Some(join) = &self.join {
            join.observe(&mut rec, meta.stamp.observed_unix());
        }
        emit(
            &self.settings.encoder,
            &mut self.stats,
            &mut rec,
            text,
            &meta.stamp,
            None,
            &stream.origin,
            out,
            self.metrics.as_deref().map(|m| (m, &mut stream.metrics)),
            self.spans.as_mut(),
        );
    }

    /// A message that is one whole event already (a syslog message): emits
    /// what `stream` holds back, then parses `bytes` as one event, a
    /// traceback if it spans lines. Unlike a line, an empty message is
    /// still an event: its envelope says something.
    pub fn whole(
        &mut self,
        stream: &mut StreamState,
        input: LineBytes<'_>,
        truncated: bool,
        stamp: &Stamp,
        out: &mut dyn Output,
    ) {
        self.flush(stream, out);
        let (text, meta) = self.take_in(input, truncated, stamp);
        if self.merged(stream, &text, meta, out) {
            return;
        }
        let multiline = memchr::memchr(b'\n', text.as_bytes()).is_some();
        self.event(stream, &text, meta, multiline, out);
    }

    /// Input that is not in its expected wire format (a datagram that is
    /// not syslog): written as `text` with `logmux.parse_error`, the raw
    /// bytes kept in `message` (invalid UTF-8 replaced and flagged).
    pub fn unparsed(
        &mut self,
        origin: &Origin,
        bytes: &[u8],
        truncated: bool,
        stamp: &Stamp,
        out: &mut Vec<u8>,
    ) {
        let (text, meta) = self.take_in(LineBytes::Unchecked(bytes), truncated, stamp);
        self.stats.parse_errors += 1;
        let mut rec = Record {
            invalid_utf8: meta.invalid,
            ..Record::default()
        };
        rec.push(Field::LogmuxParseError, Value::Bool(true));
        if truncated {
            rec.push(Field::LogmuxTruncated, Value::Bool(true));
        }
        event::add_to_parsed(origin, &mut rec, &mut self.field_orders);
        self.encode(&mut rec, &text, stamp, None, origin, out);
    }

    /// Encodes a finished record into `out` and counts it. `raw` is the
    /// text written as `message` unless the record has its own; `observed`
    /// replaces the stamp's RFC 3339 observation time when given.
    pub fn encode(
        &mut self,
        rec: &mut Record<'_>,
        raw: &str,
        stamp: &Stamp,
        observed: Option<&[u8]>,
        origin: &Origin,
        out: &mut Vec<u8>,
    ) {
        emit(
            &self.settings.encoder,
            &mut self.stats,
            rec,
            raw,
            stamp,
            observed,
            origin,
            out,
            self.metrics.as_deref().map(|m| (m, &mut self.loose)),
            self.spans.as_mut(),
        );
    }

    /// Counts one line (or message) read and decodes it: its text and
    /// what travels with it.
    fn take_in<'b>(
        &mut self,
        input: LineBytes<'b>,
        truncated: bool,
        stamp: &Stamp,
    ) -> (Cow<'b, str>, Meta) {
        self.stats.lines += 1;
        if truncated {
            self.stats.truncated_pieces += 1;
        }
        let (text, invalid) = self.decode(input);
        let meta = Meta {
            stamp: *stamp,
            truncated,
            invalid,
        };
        (text, meta)
    }

    /// UTF-8 text of `bytes` (invalid bytes replaced, and counted), ANSI
    /// colour codes removed.
    fn decode<'b>(&mut self, input: LineBytes<'b>) -> (Cow<'b, str>, bool) {
        let (text, invalid) = match input {
            LineBytes::Plain(s) => return (Cow::Borrowed(s), false),
            LineBytes::Checked(s) => (Cow::Borrowed(s), false),
            LineBytes::Unchecked(bytes) => {
                // The usual line: plain ASCII, no colour. One pass says so.
                if let Some(text) = logmux_parsers::scan::ascii_without(bytes, ansi::ESC) {
                    return (Cow::Borrowed(text), false);
                }
                match simdutf8::basic::from_utf8(bytes) {
                    Ok(s) => (Cow::Borrowed(s), false),
                    Err(_) => (String::from_utf8_lossy(bytes), true),
                }
            }
        };
        if invalid {
            self.stats.invalid_utf8 += 1;
        }
        let text = if memchr::memchr(ansi::ESC, text.as_bytes()).is_some() {
            Cow::Owned(ansi::strip(&text).into_owned())
        } else {
            text
        };
        (text, invalid)
    }
}

/// A line or message as it reaches the pipeline: bytes, or text a
/// listener already checked as part of its whole frame (it is not checked
/// again: the body's second UTF-8 pass was about 1 % of `listen`).
#[derive(Clone, Copy)]
pub enum LineBytes<'b> {
    /// Bytes not yet looked at.
    Unchecked(&'b [u8]),
    /// Valid UTF-8.
    Checked(&'b str),
    /// ASCII, with no ANSI escape and no newline: one line, as it is.
    Plain(&'b str),
}

impl<'b> LineBytes<'b> {
    pub fn bytes(self) -> &'b [u8] {
        match self {
            LineBytes::Unchecked(b) => b,
            LineBytes::Checked(s) | LineBytes::Plain(s) => s.as_bytes(),
        }
    }
}

/// Where the pipeline appends encoded events: one buffer for all of them
/// (a `Vec<u8>`, with the pipeline's encoder), or a buffer and encoder
/// picked by each event's format (`logmux run`'s per-format routes).
/// Passed as `&mut dyn Output`: one indirect call per event, where a generic
/// parameter made a second copy of the pipeline whose parser calls the
/// compiler no longer inlined (callgrind: 28 against 48 instructions more a
/// line than before routes, on 1,000-instruction lines).
pub trait Output {
    /// The encoder (`None`: the pipeline's own) and the buffer for the next
    /// event, whose format is `format`.
    fn target(&mut self, format: Format) -> (Option<&Encoder>, &mut Vec<u8>);
    /// The `i`th sink every event is copied to besides its target (a
    /// stream's `copy`), with its encoder; `None` past the last.
    fn copy(&mut self, i: usize) -> Option<(&Encoder, &mut Vec<u8>)> {
        let _ = i;
        None
    }
}

impl Output for Vec<u8> {
    #[inline]
    fn target(&mut self, _format: Format) -> (Option<&Encoder>, &mut Vec<u8>) {
        (None, self)
    }
}

/// Sorts, counts and encodes one finished record.
#[allow(clippy::too_many_arguments)]
fn emit(
    encoder: &Encoder,
    stats: &mut Stats,
    rec: &mut Record<'_>,
    raw: &str,
    stamp: &Stamp,
    observed: Option<&[u8]>,
    origin: &Origin,
    out: &mut dyn Output,
    metrics: Option<(&EventMetrics, &mut EventCache)>,
    spans: Option<&mut SpanFeed>,
) {
    let (own, buf) = out.target(rec.format);
    let encoder = own.unwrap_or(encoder);
    // The callers sorted the fields (a second pass here was a fortieth of
    // `filter`'s line); the resource's keys join the merged ones.
    debug_assert!(rec.fields.windows(2).all(|w| w[0].0 < w[1].0));
    if let Some(fields) = &encoder.resource {
        crate::output::add_static_fields(rec, fields);
        crate::output::sort_extra(rec);
    }
    stats.events += 1;
    if let Some((m, cache)) = metrics {
        m.observe(rec, cache);
    }
    if let Some(t) = spans {
        let (secs, nanos) = stamp.observed_unix();
        let observed = u64::try_from(secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(nanos));
        t.observe(rec, observed);
    }
    let event = Event {
        record: rec,
        raw,
        observed: observed.unwrap_or(stamp.observed()),
        observed_unix: stamp.observed_unix(),
        origin,
    };
    encoder.encode(&event, buf);
    let mut i = 0;
    while let Some((encoder, buf)) = out.copy(i) {
        encoder.encode(&event, buf);
        i += 1;
    }
}

#[cfg(test)]
#[path = "pipeline_merge_tests.rs"]
mod merge_tests;
