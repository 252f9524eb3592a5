//! One parsing thread's state: every socket task of the thread (a shard,
//! [`super::shard`]) hands its messages here.
//!
//! A shard's runtime has one thread, so the hub lives in an `Rc<RefCell<_>>`
//! and each task borrows it for one batch of reads, never across an `.await`.
//! For each message it parses the syslog header, finds the sender's stream,
//! rejoins Docker's 16 KiB pieces, and runs every body through the same
//! [`Pipeline`] as `logmux filter` (which also merges bodies that are logmux
//! events), into the output's buffers.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logmux_parsers::Timestamp;
use logmux_parsers::{ansi, scan, syslog};
use tokio::sync::Notify;

use super::common::{Common, Held};
use super::message::{same_syslog, syslog_origin, Sender};
use super::outbox::Outbox;
use super::senders::{KeyRef, Peer, Senders, Slot};
use crate::engine::{LineBytes, Pipeline, StreamState};
use crate::event::{Origin, Stamp};
use crate::shutdown::Shutdown;

/// A stream with nothing held back is forgotten after this much silence.
const STREAM_IDLE: Duration = Duration::from_secs(60);

/// The time of one batch of reads: every message in it was read at once.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub stamp: Stamp,
    pub now: Instant,
    /// The local year and month, for RFC 3164 times, which have no year.
    pub year: i32,
    pub month: u8,
}

impl Clock {
    pub fn now(local_offset_minutes: i16) -> Clock {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(0);
        let local = Timestamp::from_unix(secs + i64::from(local_offset_minutes) * 60, 0, 0);
        Clock {
            stamp: Stamp::at_unix(secs, since.subsec_nanos()),
            now: Instant::now(),
            year: i32::from(local.year),
            month: local.month,
        }
    }
}

/// What the listener counts, reported when it stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Datagrams and stream frames.
    pub messages: u64,
    /// Not syslog: written as text with `logmux.parse_error`.
    pub malformed: u64,
    /// Longer than `--max-message`: cut.
    pub truncated: u64,
    /// Empty after the trailing newline: skipped.
    pub empty: u64,
    /// Senders retired because the table was full.
    pub evicted_streams: u64,
    /// Unfinished TCP frames cut because `--max-held` was reached.
    pub held_cuts: u64,
    /// Held tracebacks and Docker pieces emitted early (marked truncated)
    /// because `--max-held` was reached.
    pub held_flushes: u64,
    /// Bytes of over-long stream frames skipped after the cut.
    pub discarded_bytes: u64,
    /// Bytes left when stopping gave up reading: a stream connection's
    /// still in its socket, read and not parsed, or of an unfinished frame;
    /// datagrams received and not parsed.
    pub unread_bytes: u64,
}

impl std::ops::AddAssign for Counters {
    /// Another shard's counts.
    fn add_assign(&mut self, o: Counters) {
        self.messages += o.messages;
        self.malformed += o.malformed;
        self.truncated += o.truncated;
        self.empty += o.empty;
        self.evicted_streams += o.evicted_streams;
        self.held_cuts += o.held_cuts;
        self.held_flushes += o.held_flushes;
        self.discarded_bytes += o.discarded_bytes;
        self.unread_bytes += o.unread_bytes;
    }
}

/// Why the listener must stop on its own.
#[derive(Debug)]
pub enum End {
    /// stdout's reader went away: a quiet, normal end.
    OutputClosed,
    /// Writing stdout failed.
    OutputFailed(io::Error),
}

/// Limits and timings.
#[derive(Debug, Clone, Copy)]
pub struct HubSettings {
    pub max_message: usize,
    pub idle_flush: Duration,
    pub max_streams: usize,
    pub local_offset_minutes: i16,
}

pub struct Hub {
    pipeline: Pipeline,
    senders: Senders,
    out: Outbox,
    settings: HubSettings,
    pub counters: Counters,
    /// Some stream holds lines back: the housekeeper should tick.
    pending: bool,
    /// Wakes the housekeeper when something starts being held back.
    pub housekeeper: Rc<Notify>,
    /// Wakes the flusher when events wait in a buffer.
    pub flusher: Rc<Notify>,
    flush_scheduled: bool,
    /// Why the listener ends on its own (`shutdown` is triggered with it).
    pub end: Option<End>,
    shutdown: Shutdown,
    /// What every shard shares: limits, connection counts, the held budget.
    pub common: Arc<Common>,
    /// Bytes of unfinished frames held by this shard's connections.
    held: usize,
    /// Bytes of tracebacks and Docker pieces held by this shard's streams.
    stream_held: usize,
    /// `held` and `stream_held` as the shared budget last counted them.
    published: Held,
}

impl Hub {
    /// `shutdown` is triggered when the output ends (by the writer, or here).
    pub fn new(
        pipeline: Pipeline,
        out: Outbox,
        settings: HubSettings,
        shutdown: Shutdown,
        common: Arc<Common>,
    ) -> Hub {
        Hub {
            pipeline,
            senders: Senders::new(settings.max_streams),
            out,
            settings,
            counters: Counters::default(),
            pending: false,
            housekeeper: Rc::new(Notify::new()),
            flusher: Rc::new(Notify::new()),
            flush_scheduled: false,
            end: None,
            shutdown,
            common,
            held: 0,
            stream_held: 0,
            published: Held::default(),
        }
    }

    pub fn max_message(&self) -> usize {
        self.settings.max_message
    }

    /// The time of a batch of reads starting now.
    pub fn clock(&self) -> Clock {
        Clock::now(self.settings.local_offset_minutes)
    }

    /// A connection now holds `now` bytes of an unfinished frame, where it
    /// held `before`: whether all that is held is over `--max-held` even
    /// after the streams' held lines were emitted (the frame must be cut).
    pub fn hold(&mut self, before: usize, now: usize) -> bool {
        self.held = self.held.saturating_sub(before).saturating_add(now);
        self.shed();
        if !self.over_budget() {
            return false;
        }
        // This shard holds no lines now (it emitted them): other shards'
        // held lines go first, and the frame is cut only when none are.
        if self.common.lines_held() {
            self.common.ask_to_shed();
            return false;
        }
        true
    }

    /// Whether what every shard holds is over `--max-held`, with this
    /// shard's count brought up to date first.
    fn over_budget(&mut self) -> bool {
        self.sync_budget();
        self.common.over_budget()
    }

    /// Tells the shared budget what this shard holds now.
    fn sync_budget(&mut self) {
        let now = Held {
            frames: self.held,
            lines: self.stream_held,
        };
        // Nearly every message holds nothing: no write to the shared counts.
        if now == self.published {
            return;
        }
        self.common.hold(self.published, now);
        self.published = now;
    }

    /// While over `--max-held`, emits the lines held by the stream touched
    /// least recently, marked truncated and counted.
    /// (Also when another shard asks: every shard together is over.)
    pub fn shed(&mut self) {
        while self.over_budget() {
            let Some(slot) = self.senders.oldest_holding() else {
                return;
            };
            let Slot {
                state,
                joiner,
                target,
                ..
            } = &mut *slot;
            let out = self.out.buffer(target.as_deref());
            let pipeline = &mut self.pipeline;
            joiner.flush_early(|b, t, s| {
                deliver(pipeline, state, LineBytes::Unchecked(b), t, s, out)
            });
            pipeline.flush_early(state, out);
            slot.recount(&mut self.stream_held);
            self.counters.held_flushes += 1;
        }
    }

    /// Whether some stream holds lines back.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// The pipeline's counters.
    pub fn pipeline_stats(&self) -> crate::engine::Stats {
        self.pipeline.stats
    }

    pub fn lost_bytes(&self) -> u64 {
        self.out.lost_bytes()
    }

    /// What stdout's writer has not written.
    pub fn unwritten(&self) -> super::outbox::Unwritten {
        self.out.unwritten()
    }

    /// Handles one datagram or stream frame from `peer`.
    pub fn frame(
        &mut self,
        peer: &Peer,
        bytes: &[u8],
        truncated: bool,
        malformed: bool,
        clock: &Clock,
    ) {
        self.counters.messages += 1;
        if truncated {
            self.counters.truncated += 1;
        }
        let bytes = strip_newline(bytes);
        if bytes.is_empty() {
            self.counters.empty += 1;
            return;
        }
        if malformed {
            self.unparsed(bytes, truncated, clock);
            return;
        }
        // The header must be UTF-8; a body need not be, and its bytes go to
        // the pipeline as they are, to be replaced and flagged there.
        // The usual frame is plain ASCII on one line: one pass says so, and
        // its body is then not looked at again for UTF-8, colour or lines.
        let plain = scan::ascii_without_either(bytes, ansi::ESC, b'\n');
        let text = match plain.map_or_else(|| simdutf8::basic::from_utf8(bytes).ok(), Some) {
            Some(s) => s,
            // The rare invalid frame: std says where the valid part ends.
            None => match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
            },
        };
        let Ok(mut msg) = syslog::parse(text, clock.year) else {
            self.unparsed(bytes, truncated, clock);
            return;
        };
        // A December time read in January is last year's.
        syslog::fix_year_rollover(&mut msg, clock.month);
        let body = body_bytes(bytes, text, msg.body);
        // The whole frame was checked: its body need not be checked again.
        let checked = (text.len() == bytes.len()).then_some(match plain {
            Some(_) => LineBytes::Plain(msg.body),
            None => LineBytes::Checked(msg.body),
        });
        let sender = Sender::of(&msg);
        let key = KeyRef {
            peer,
            host: msg.hostname,
            tag: msg.app_name,
            stream: sender.iostream,
        };
        let index = match self.senders.find(&key) {
            Some(i) => i,
            None => {
                if let Some(old) = self.senders.make_room() {
                    self.counters.evicted_streams += 1;
                    self.retire(old);
                }
                let slot = Slot {
                    state: StreamState::new(sender.origin(&msg)),
                    joiner: Default::default(),
                    target: sender.container().map(|c| Box::from(c.as_str())),
                    last: clock.now,
                    touched: 0,
                    counted: 0,
                };
                self.senders.insert(key, slot)
            }
        };
        let mut stamp = clock.stamp;
        stamp.wrapper_time = msg.timestamp;
        stamp.wrapper_severity = sender.severity;
        stamp.wrapper_severity_text = sender.severity_text;
        let Some(slot) = self.senders.at(index) else {
            return;
        };
        slot.last = clock.now;
        slot.touched = self.counters.messages;
        let Slot {
            state,
            joiner,
            target,
            ..
        } = &mut *slot;
        let out = self.out.buffer(target.as_deref());
        let pipeline = &mut self.pipeline;
        if !same_syslog(&state.origin, &msg) {
            // Another process (or message id) on this stream: what is held
            // belongs to the one before.
            joiner.flush(|b, t, s| deliver(pipeline, state, LineBytes::Unchecked(b), t, s, out));
            pipeline.flush(state, out);
            state.origin.syslog = Some(syslog_origin(&msg));
        }
        if sender.docker {
            let max = self.settings.max_message;
            joiner.offer(body, truncated, &stamp, clock.now, max, |b, t, s| {
                deliver(pipeline, state, as_checked(b, checked), t, s, out)
            });
        } else {
            deliver(
                pipeline,
                state,
                as_checked(body, checked),
                truncated,
                &stamp,
                out,
            );
        }
        if (state.is_pending() || joiner.is_holding()) && !self.pending {
            self.pending = true;
            self.housekeeper.notify_one();
        }
        slot.recount(&mut self.stream_held);
        self.shed();
    }

    /// Input that is not syslog: kept as text with `logmux.parse_error`.
    fn unparsed(&mut self, bytes: &[u8], truncated: bool, clock: &Clock) {
        self.counters.malformed += 1;
        let out = self.out.buffer(None);
        self.pipeline
            .unparsed(&Origin::default(), bytes, truncated, &clock.stamp, out);
    }

    /// Emits what a stream holds back and drops it.
    fn retire(&mut self, mut slot: Slot) {
        self.stream_held = self.stream_held.saturating_sub(slot.counted);
        let out = self.out.buffer(slot.target.as_deref());
        flush_slot(&mut self.pipeline, &mut slot, out);
    }

    /// A connection closed: its streams end.
    pub fn close_peer(&mut self, peer: &Peer) {
        for slot in self.senders.remove_where(|k, _| k.peer == *peer) {
            self.retire(slot);
        }
        self.sync_budget();
    }

    /// Emits held Docker pieces whose window has passed and tracebacks idle
    /// for `--idle-flush`, and forgets streams silent for a minute.
    pub fn expire(&mut self, now: Instant) {
        let idle = self.settings.idle_flush;
        let mut pending = false;
        for slot in self.senders.slots_mut() {
            if !slot.is_pending() {
                continue;
            }
            let Slot {
                state,
                joiner,
                target,
                last,
                ..
            } = &mut *slot;
            let out = self.out.buffer(target.as_deref());
            let pipeline = &mut self.pipeline;
            joiner.expire(now, |b, t, s| {
                deliver(pipeline, state, LineBytes::Unchecked(b), t, s, out)
            });
            if state.is_pending() && now.saturating_duration_since(*last) >= idle {
                pipeline.flush(state, out);
            }
            pending |= state.is_pending() || joiner.is_holding();
            slot.recount(&mut self.stream_held);
        }
        self.pending = pending;
        let forgotten = self.senders.remove_where(|_, s| {
            !s.is_pending() && now.saturating_duration_since(s.last) >= STREAM_IDLE
        });
        for slot in forgotten {
            self.stream_held = self.stream_held.saturating_sub(slot.counted);
        }
        self.sync_budget();
    }

    /// The span builder, when it is behind: a stream connection waits for
    /// it before it parses more (its sender's window fills); datagrams
    /// never wait.
    pub fn spans_behind(&self) -> Option<std::sync::Arc<crate::trace::Tracer>> {
        self.pipeline.spans_behind().cloned()
    }

    /// Whether stopping has given up: seen from another thread's signal,
    /// so that a connection stops between two chunks without waiting for
    /// its shard's drain to run.
    pub fn gave_up(&self) -> bool {
        self.out.gave_up()
    }

    /// Emits everything held back (the listener stops).
    pub fn flush_all(&mut self) {
        for slot in self.senders.drain() {
            self.retire(slot);
        }
        self.pending = false;
        self.pipeline.hand_spans();
        self.sync_budget();
    }

    /// After a batch of reads: hands full buffers to the writer, and has
    /// the rest handed over once the listener is idle.
    pub fn finish_batch(&mut self) {
        // The parts of this batch's events go to the span builder in one
        // hand-off (the tracer's lock once per batch).
        self.pipeline.hand_spans();
        self.out.count_events(self.pipeline.stats.events);
        self.out.write_full();
        self.check(self.out.state());
        if self.out.has_buffered() && !self.flush_scheduled {
            self.flush_scheduled = true;
            self.flusher.notify_one();
        }
    }

    /// Hands full buffers to the writer (within a batch of reads, so that
    /// a batch never grows a buffer far past its size).
    pub fn write_full(&mut self) {
        self.out.count_events(self.pipeline.stats.events);
        self.out.write_full();
    }

    /// Hands every buffer to the writer now.
    pub fn flush_output(&mut self) {
        self.flush_scheduled = false;
        self.out.count_events(self.pipeline.stats.events);
        self.out.flush();
        self.check(self.out.state());
    }

    /// Writes everything and waits for the writer (the listener stops).
    pub fn finish_output(&mut self, timeout: Duration) {
        self.out.count_events(self.pipeline.stats.events);
        let state = self.out.finish(timeout);
        self.check(state);
    }

    fn check(&mut self, written: io::Result<bool>) {
        let end = match written {
            Ok(true) => return,
            Ok(false) => End::OutputClosed,
            Err(e) => End::OutputFailed(e),
        };
        if self.end.is_none() {
            self.end = Some(end);
            self.shutdown.trigger();
        }
    }
}

/// `bytes` as the body already checked with its frame (`Checked`, or
/// `Plain`), when they are that body itself (the joiner hands back a
/// Docker body as it came when it holds nothing).
fn as_checked<'b>(bytes: &'b [u8], checked: Option<LineBytes<'b>>) -> LineBytes<'b> {
    match checked {
        Some(body) if std::ptr::eq(bytes, body.bytes()) => body,
        _ => LineBytes::Unchecked(bytes),
    }
}

/// One finished body into the stream: parsed as a line (tracebacks are
/// assembled across messages), or as one event if it holds several lines
/// or none; either way merged if it is a logmux event.
fn deliver(
    pipeline: &mut Pipeline,
    state: &mut StreamState,
    body: LineBytes<'_>,
    truncated: bool,
    stamp: &Stamp,
    out: &mut Vec<u8>,
) {
    let bytes = body.bytes();
    let multiline = match body {
        LineBytes::Plain(_) => false,
        _ => memchr::memchr(b'\n', bytes).is_some(),
    };
    if bytes.is_empty() || multiline {
        pipeline.whole(state, body, truncated, stamp, out);
    } else {
        pipeline.line_of(state, body, truncated, stamp, out);
    }
}

/// Emits a stream's held piece and held lines.
fn flush_slot(pipeline: &mut Pipeline, slot: &mut Slot, out: &mut Vec<u8>) {
    let Slot { state, joiner, .. } = slot;
    joiner.flush(|b, t, s| deliver(pipeline, state, LineBytes::Unchecked(b), t, s, out));
    pipeline.flush(state, out);
}

/// Without one trailing `\n`, and a `\r` before it or alone (a TTY's
/// line end, which Docker passes on).
fn strip_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// The body's own bytes in the frame. `text` is the frame, or its valid
/// UTF-8 start when the frame has invalid bytes; then the body runs to the
/// frame's end, invalid bytes and all.
fn body_bytes<'b>(bytes: &'b [u8], text: &'b str, body: &'b str) -> &'b [u8] {
    let base = text.as_ptr() as usize;
    let at = (body.as_ptr() as usize)
        .checked_sub(base)
        .filter(|&at| at <= text.len());
    match at {
        // An empty body may be a literal "" not within the frame.
        None => body.as_bytes(),
        Some(at) if text.len() == bytes.len() => {
            bytes.get(at..at + body.len()).unwrap_or(body.as_bytes())
        }
        Some(at) => bytes.get(at..).map_or(body.as_bytes(), strip_newline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_found_in_the_frame() {
        let frame = b"<13>Nov 25 23:29:21 vm tag:   three spaces";
        let text = std::str::from_utf8(frame).unwrap();
        let m = syslog::parse(text, 2026).unwrap();
        assert_eq!(body_bytes(frame, text, m.body), b"  three spaces");
        // Invalid bytes in the body: the header still parses from the valid start.
        let frame: &[u8] = &[b"<13>Nov 25 23:29:21 vm tag: caf".as_slice(), b"\xe9 ok"].concat();
        let text = std::str::from_utf8(&frame[..31]).unwrap();
        assert!(std::str::from_utf8(frame).is_err());
        let m = syslog::parse(text, 2026).unwrap();
        assert_eq!(body_bytes(frame, text, m.body), b"caf\xe9 ok");
    }

    #[test]
    fn one_newline_is_stripped() {
        assert_eq!(strip_newline(b"a\n"), b"a");
        assert_eq!(strip_newline(b"a\r\n"), b"a");
        assert_eq!(strip_newline(b"a\n\n"), b"a\n");
        assert_eq!(strip_newline(b"a"), b"a");
    }
}
