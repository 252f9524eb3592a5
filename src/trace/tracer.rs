//! The span builder at work, shared by every stream of a door (under
//! `run`, nginx's and uWSGI's readers feed the same one): the pipelines
//! hand it the parts of their events once per read ([`super::feed`]: one
//! lock and an append, for the few events that have a trace id, nothing
//! for the others). A thread of its own, at a lower priority than the
//! readers, collects the parts per trace, builds the spans of the traces
//! complete or expired, samples them per sink and queues them to each
//! OTLP sink's traces twin, so that neither span building nor a slow
//! receiver ever holds a reader. At the end
//! ([`Tracer::close`]) the traces still waiting are sent, then the twins
//! are closed within the door's deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logmux_parsers::Record;

use super::batches::Batches;
use super::build;
use super::parts::{part_of, Part, PartCache};
use super::span::Resource;
use super::spans::{Builder, Collected};
use super::TraceSpec;
use crate::output::LocalZone;
use crate::sink::spec::{SinkKind, SinkSpec};
use crate::sink::{Batch, OpenError, Route, SinkHandle, StartedSinks};

/// One OTLP sink's traces twin.
struct Output {
    json: bool,
    defaults: Vec<(String, String)>,
    sample_below: Option<u64>,
    route: Route,
}

/// What the tracer did, for `logmux`'s own report and the tests.
#[derive(Debug, Default)]
pub struct TraceCounts {
    /// Traces handed out complete, after the window, pushed out by
    /// `max_pending`.
    pub complete: AtomicU64,
    pub expired: AtomicU64,
    pub evicted: AtomicU64,
    /// Traces with no span to make (tracebacks alone).
    pub spanless: AtomicU64,
    /// Spans queued, over all sinks; traces left out by sampling.
    pub spans_queued: AtomicU64,
    pub sampled_out: AtomicU64,
    /// Parts of traces dropped while the span builder was held by a full
    /// sink (or, under `listen`, outrun by datagrams, which never wait).
    pub dropped: AtomicU64,
}

/// How often the thread hands out what is ready, at most this late.
const TICK: Duration = Duration::from_millis(100);
/// How often an idle thread looks (nothing ready, nothing waiting).
const IDLE_TICK: Duration = Duration::from_secs(1);
/// Or as soon as this many parts wait.
const WAKE_AT: usize = 1024;

struct State {
    /// Parts handed in, not yet collected by the thread.
    incoming: Batches<([u8; 16], Part)>,
    /// The attributes' buffers of the parts spans were built from, for
    /// the readers' next parts (at most [`MAX_SPARE_BUFFERS`]).
    buffers: Vec<Vec<u8>>,
    /// At most this many wait while the thread is held by a full sink
    /// (more are dropped, and counted). While it is only behind (outrun by
    /// the readers, or given little CPU), the doors that can wait for it
    /// do ([`Tracer::room`]), and nothing is dropped below twice this.
    max_incoming: usize,
    /// Since when the thread waits for room in a full twin queue
    /// (`on_full = "block"`), if it does.
    sink_full_since: Option<Instant>,
    /// The thread sleeps on `wake` (a wake-up is a system call: only
    /// then is it made).
    thread_sleeps: bool,
    /// Threads (`filter`) sleeping on `room_blocking`.
    readers_sleeping: u32,
    closing: bool,
}

impl State {
    /// Whether the thread is held by its sink: a twin queue that took
    /// nothing for [`HELD_AFTER`] (its destination is down or hangs, not
    /// merely slow).
    fn held(&self) -> bool {
        self.sink_full_since
            .is_some_and(|since| since.elapsed() >= HELD_AFTER)
    }

    /// Whether a reader should wait before it reads more: the thread is
    /// behind, not held by its sink, and not closing.
    fn behind(&self) -> bool {
        self.incoming.len() >= self.max_incoming && !self.closing && !self.held()
    }
}

/// Spare attribute buffers kept for the readers, at most (about 300 bytes
/// each), and the largest kept (a long user agent's is freed).
const MAX_SPARE_BUFFERS: usize = 4096;
const MAX_SPARE_BUFFER_BYTES: usize = 2048;

/// A twin queue full for this long holds the span builder: the readers
/// stop waiting for it and parts past the bound are dropped, so that the
/// logs go on.
const HELD_AFTER: Duration = Duration::from_secs(5);

/// How often a waiting reader looks whether the thread is held.
const RECHECK: Duration = Duration::from_millis(250);

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Wakes the readers waiting for the thread to take their parts (for
    /// tasks, and for threads).
    room: tokio::sync::Notify,
    room_blocking: Condvar,
    outputs: Vec<Output>,
    counts: TraceCounts,
    statics: Vec<(String, String)>,
    zone: LocalZone,
}

pub struct Tracer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    sinks: Mutex<StartedSinks>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").finish_non_exhaustive()
    }
}

impl Tracer {
    /// Starts the traces twin of every OTLP sink whose `signals` hold
    /// `traces`, and the builder's thread; `None` when no sink wants spans
    /// (then nothing is collected). `statics` are the `[resource]` fields.
    pub fn start(
        specs: &[SinkSpec],
        spec: &TraceSpec,
        statics: &[(String, String)],
        zone: LocalZone,
    ) -> Result<Option<Arc<Tracer>>, OpenError> {
        let mut handles = Vec::new();
        let mut outputs = Vec::new();
        for s in specs {
            let SinkKind::Otlp(otlp) = &s.kind else {
                continue;
            };
            let (Some(twin), Some(traces)) = (otlp.for_traces(), &otlp.traces) else {
                continue;
            };
            let name = format!("{}.traces", s.name);
            let buffer = s.buffer.for_traces();
            let handle = crate::sink::otlp::OtlpSink::open(&name, &twin)
                .and_then(|sink| {
                    SinkHandle::start_buffered(name.clone(), Box::new(sink), s.queue_bytes, &buffer)
                })
                .map_err(|source| OpenError { name, source })?;
            outputs.push(Output {
                json: otlp.json,
                defaults: otlp.resource.clone(),
                sample_below: traces.sample_below,
                route: Route {
                    queue: Arc::clone(&handle.queue),
                    on_full: s.on_full,
                },
            });
            handles.push((handle, s.on_full));
        }
        if outputs.is_empty() {
            return Ok(None);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                incoming: Batches::default(),
                buffers: Vec::new(),
                max_incoming: 4 * spec.max_pending.max(8 * WAKE_AT),
                sink_full_since: None,
                thread_sleeps: false,
                readers_sleeping: 0,
                closing: false,
            }),
            wake: Condvar::new(),
            room: tokio::sync::Notify::new(),
            room_blocking: Condvar::new(),
            outputs,
            counts: TraceCounts::default(),
            statics: statics.to_vec(),
            zone,
        });
        let run = Arc::clone(&shared);
        let builder = Builder::new(spec.window, spec.max_pending);
        let thread = std::thread::Builder::new()
            .name("trace-spans".into())
            .spawn(move || run.work(builder))
            .map_err(|source| OpenError {
                name: "traces".into(),
                source,
            })?;
        Ok(Some(Arc::new(Tracer {
            shared,
            thread: Mutex::new(Some(thread)),
            sinks: Mutex::new(StartedSinks::adopt_all(handles)),
        })))
    }

    /// The trace id and part of one finished event, if it has them
    /// (no lock: the caller keeps its own `resources`).
    pub fn part_of(
        &self,
        rec: &Record<'_>,
        observed: u64,
        cache: &mut PartCache,
    ) -> Option<([u8; 16], Part)> {
        let s = &self.shared;
        part_of(rec, observed, s.zone, &s.statics, cache)
    }

    /// Moves up to `max` spare attribute buffers to `into`; how many.
    pub fn spare_buffers(&self, into: &mut Vec<Vec<u8>>, max: usize) -> usize {
        let Ok(mut state) = self.shared.state.lock() else {
            return 0;
        };
        let n = max.min(state.buffers.len());
        let from = state.buffers.len() - n;
        into.extend(state.buffers.drain(from..));
        n
    }

    /// Takes in the parts of a stream's events, in their order: one lock
    /// and one batch moved for all of them. Returns whether the thread is now
    /// behind ([`Tracer::room`]), read under the same lock.
    pub fn take(&self, parts: &mut Vec<([u8; 16], Part)>) -> bool {
        let s = &self.shared;
        let Ok(mut state) = s.state.lock() else {
            parts.clear();
            return false;
        };
        state.incoming.push(parts);
        // Held by a full sink (`on_full = "block"`): the readers never
        // wait for spans, and memory stays bounded. Only behind: the
        // readers wait before their next read (`room`), so this bound is
        // met only where nothing can wait (`listen`'s datagrams).
        let max = if state.held() {
            state.max_incoming
        } else {
            2 * state.max_incoming
        };
        let over = state.incoming.keep_newest(max);
        s.counts.dropped.fetch_add(over, Ordering::Relaxed);
        if state.incoming.len() >= WAKE_AT && state.thread_sleeps {
            state.thread_sleeps = false;
            s.wake.notify_one();
        }
        state.behind()
    }

    pub fn counts(&self) -> &TraceCounts {
        &self.shared.counts
    }

    /// Whether the span builder is behind its readers (and not held by a
    /// full sink).
    fn is_behind(&self) -> bool {
        self.shared.state.lock().is_ok_and(|s| s.behind())
    }

    /// Waits until the span builder has taken the parts waiting (or is
    /// held by its sink, or closing): a reader's back-pressure, as a full
    /// log sink's queue gives it.
    pub async fn room(&self) {
        let s = &self.shared;
        loop {
            let notified = s.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_behind() {
                return;
            }
            // Woken when the parts are taken; else looks again, to notice
            // a sink that holds the thread.
            let _ = tokio::time::timeout(RECHECK, notified).await;
        }
    }

    /// [`Tracer::room`] for a thread (`filter`).
    pub fn wait_for_room(&self) {
        let s = &self.shared;
        let Ok(mut state) = s.state.lock() else {
            return;
        };
        while state.behind() {
            state.readers_sleeping += 1;
            state = match s.room_blocking.wait_timeout(state, RECHECK) {
                Ok((state, _)) => state,
                Err(_) => return,
            };
            state.readers_sleeping -= 1;
        }
    }

    /// The traces twins' queues, named `SINK.traces`, for the metrics.
    pub fn queues(&self) -> Vec<(String, Arc<crate::sink::Queue>)> {
        self.sinks.lock().map_or_else(
            |_| Vec::new(),
            |s| {
                s.handles()
                    .iter()
                    .map(|h| (h.name.clone(), Arc::clone(&h.queue)))
                    .collect()
            },
        )
    }

    /// Sends every trace still waiting, then closes the twins by
    /// `deadline`; returns the spans not delivered.
    pub fn close(&self, deadline: Instant) -> u64 {
        if let Ok(mut state) = self.shared.state.lock() {
            state.closing = true;
            state.thread_sleeps = false;
        }
        self.shared.wake.notify_one();
        self.shared.wake_readers();
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        let c = &self.shared.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (complete, expired, evicted) = (n(&c.complete), n(&c.expired), n(&c.evicted));
        let (spanless, sampled, spans) = (n(&c.spanless), n(&c.sampled_out), n(&c.spans_queued));
        let dropped = n(&c.dropped);
        tracing::info!(
            complete, expired, evicted, spanless, sampled_out = sampled, spans, dropped,
            "traces: {complete} complete, {expired} sent after the window or at the end, {evicted} sent early (max_pending), {spanless} without a span; {sampled} left out by sampling; {spans} spans queued; {dropped} parts dropped (a traces sink that took nothing for 5 s, or datagrams faster than span building)"
        );
        self.sinks
            .lock()
            .map_or(0, |mut s| s.close_all_but(deadline, None))
    }
}

impl Shared {
    /// The builder's thread: collects the parts handed in, hands out
    /// what is complete or expired, until told to close; then everything.
    fn work(&self, mut builder: Builder) {
        // Spans may lag behind the logs they come from: the readers and
        // the log sinks go first.
        crate::sink::lower_priority("trace-spans");
        let (mut batches, mut taken, mut spare) = (Vec::new(), Vec::new(), Vec::new());
        let mut resources = EncodedResources::default();
        loop {
            let Some(closing) = self.wait_for_parts(&builder, &mut batches, &mut spare) else {
                return;
            };
            let now = Instant::now();
            for batch in &mut batches {
                for (id, part) in batch.drain(..) {
                    builder.add(id, part, now, &mut taken);
                }
            }
            builder.expire(now, &mut taken);
            if closing {
                builder.drain(&mut taken);
            }
            let c = builder.counts;
            self.counts.complete.store(c.complete, Ordering::Relaxed);
            self.counts.expired.store(c.expired, Ordering::Relaxed);
            self.counts.evicted.store(c.evicted, Ordering::Relaxed);
            self.send(&mut taken, &mut resources, &mut spare);
            if closing {
                return;
            }
        }
    }

    /// Waits until enough parts came in, a trace's window ends or a tick
    /// passes (one wake-up per batch, not per request), then moves the
    /// batches of parts to `batches` (whose emptied ones go back to the
    /// readers first); whether the tracer is closing (`None`: poisoned).
    fn wait_for_parts(
        &self,
        builder: &Builder,
        batches: &mut Vec<Vec<([u8; 16], Part)>>,
        spare: &mut Vec<Vec<u8>>,
    ) -> Option<bool> {
        let mut state = self.state.lock().ok()?;
        for emptied in batches.drain(..) {
            state.incoming.recycle(emptied);
        }
        let room = MAX_SPARE_BUFFERS.saturating_sub(state.buffers.len());
        let kept = spare
            .drain(..)
            .filter(|b| b.capacity() <= MAX_SPARE_BUFFER_BYTES);
        state.buffers.extend(kept.take(room));
        if state.incoming.len() < WAKE_AT && !state.closing {
            let wait = match builder.next_deadline() {
                Some(d) => d.saturating_duration_since(Instant::now()).min(TICK),
                // Nothing waits: an idle logmux wakes once a second.
                None if state.incoming.is_empty() => IDLE_TICK,
                None => TICK,
            };
            state.thread_sleeps = true;
            state = self
                .wake
                .wait_timeout(state, wait.max(Duration::from_millis(1)))
                .ok()?
                .0;
            state.thread_sleeps = false;
        }
        state.incoming.take_all(batches);
        let closing = state.closing;
        let threads = state.readers_sleeping > 0;
        drop(state);
        self.room.notify_waiters();
        if threads {
            self.room_blocking.notify_all();
        }
        Some(closing)
    }

    /// Wakes the readers waiting for room: the tracer closes. (The thread
    /// wakes them when it takes the parts; a sink that holds it is noticed
    /// by their own look every [`RECHECK`].)
    fn wake_readers(&self) {
        self.room.notify_waiters();
        self.room_blocking.notify_all();
    }

    /// Notes that the thread waits for room in a full twin queue (or no
    /// longer does).
    fn note_sink_full(&self, full: bool) {
        if let Ok(mut state) = self.state.lock() {
            state.sink_full_since = full.then(Instant::now);
        }
    }

    /// Builds, samples, encodes and queues the spans of `traces`; their
    /// parts' attribute buffers go to `spare`.
    fn send(
        &self,
        traces: &mut Vec<Collected>,
        resources: &mut EncodedResources,
        spare: &mut Vec<Vec<u8>>,
    ) {
        if traces.is_empty() {
            return;
        }
        // Sized for the spans to come (about 2 of ~300 bytes a trace), so
        // a batch is not copied again and again as it grows.
        let want = traces
            .len()
            .saturating_mul(BYTES_PER_TRACE)
            .min(BATCH_BYTES + (BATCH_BYTES >> 3));
        let mut bufs: Vec<(Vec<u8>, u32)> = self
            .outputs
            .iter()
            .map(|_| (Vec::with_capacity(want), 0))
            .collect();
        let mut spans = Vec::new();
        for c in traces.iter() {
            let kept_by_id = |o: &Output| super::sample::keeps(o.sample_below, &c.trace_id);
            if !self.outputs.iter().any(kept_by_id) && !build::has_error(c) {
                // Sampled out everywhere: no span is built.
                let n = self.outputs.len() as u64;
                self.counts.sampled_out.fetch_add(n, Ordering::Relaxed);
                continue;
            }
            spans.clear();
            build::spans_into(c, &mut spans);
            if spans.is_empty() {
                self.counts.spanless.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let error = build::is_error(&spans);
            for (i, (o, (buf, n))) in self.outputs.iter().zip(bufs.iter_mut()).enumerate() {
                if !error && !super::sample::keeps(o.sample_below, &c.trace_id) {
                    self.counts.sampled_out.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                for s in &spans {
                    let resource = resources.get(i, o, s.resource);
                    crate::output::otlp::spans::encode_with(resource, s, o.json, buf);
                    *n += 1;
                }
                if buf.len() >= BATCH_BYTES {
                    self.queue(o, buf, n);
                    buf.reserve(want);
                }
            }
        }
        drop(spans);
        for mut c in traces.drain(..) {
            c.give_buffers(spare);
        }
        for (o, (buf, n)) in self.outputs.iter().zip(bufs.iter_mut()) {
            self.queue(o, buf, n);
        }
    }

    /// Queues the spans encoded in `buf` to `o`'s twin.
    fn queue(&self, o: &Output, buf: &mut Vec<u8>, n: &mut u32) {
        if *n == 0 {
            return;
        }
        self.counts
            .spans_queued
            .fetch_add(u64::from(*n), Ordering::Relaxed);
        let batch = Batch {
            bytes: std::mem::take(buf),
            events: std::mem::take(n),
            key: None,
        };
        o.route
            .send_blocking_noting(batch, |full| self.note_sink_full(full));
    }
}

/// Spans are queued in batches of about this size (a burst at the end,
/// or of evictions, must not make one batch larger than a sink's queue).
const BATCH_BYTES: usize = 256 << 10;

/// About what one trace's spans take encoded (nginx's and uWSGI's, with
/// their resource): a first guess at a batch's size.
const BYTES_PER_TRACE: usize = 640;

/// Each resource encoded once per sink: a program's spans all share its
/// resource (one `Arc`), so the encoding is found by pointer.
#[derive(Default)]
struct EncodedResources {
    known: Vec<(Resource, usize, Vec<u8>)>,
}

impl EncodedResources {
    /// `resource` as output `sink`, `o`, writes it.
    fn get(&mut self, sink: usize, o: &Output, resource: &Resource) -> &[u8] {
        let at = match self
            .known
            .iter()
            .position(|(r, s, _)| *s == sink && Arc::ptr_eq(r, resource))
        {
            Some(at) => at,
            None => {
                if self.known.len() >= MAX_ENCODED_RESOURCES {
                    self.known.remove(0);
                }
                let mut bytes = Vec::new();
                let (json, defaults) = (o.json, &o.defaults);
                crate::output::otlp::spans::encode_resource(resource, json, defaults, &mut bytes);
                self.known.push((Arc::clone(resource), sink, bytes));
                self.known.len() - 1
            }
        };
        self.known.get(at).map_or(&[], |(_, _, b)| b.as_slice())
    }
}

/// Encoded resources kept (a door has one per program and sink).
const MAX_ENCODED_RESOURCES: usize = 64;

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Batches, State, HELD_AFTER};
    use crate::trace::parts::{Exception, Part};

    fn waiting(parts: usize, max: usize, full_for: Option<Duration>) -> State {
        let part = Part::Exception(Exception {
            time: 0,
            kind: String::new(),
            message: String::new(),
            stacktrace: String::new(),
        });
        let mut incoming = Batches::default();
        incoming.push(&mut vec![([0; 16], part); parts]);
        State {
            incoming,
            buffers: Vec::new(),
            max_incoming: max,
            sink_full_since: full_for.and_then(|d| Instant::now().checked_sub(d)),
            thread_sleeps: false,
            readers_sleeping: 0,
            closing: false,
        }
    }

    #[test]
    fn readers_wait_for_a_thread_behind_but_not_for_one_its_sink_holds() {
        // Below the bound: nobody waits.
        assert!(!waiting(3, 4, None).behind());
        // At the bound, the thread only behind (or its sink full for less
        // than HELD_AFTER, a slow destination): the readers wait.
        assert!(waiting(4, 4, None).behind());
        let slow = waiting(4, 4, Some(Duration::from_millis(10)));
        assert!(!slow.held() && slow.behind());
        // Full for HELD_AFTER: held, the readers go on (and parts drop).
        let held = waiting(4, 4, Some(HELD_AFTER + Duration::from_millis(10)));
        assert!(held.held() && !held.behind());
        // Closing: nobody waits.
        let mut closing = waiting(4, 4, None);
        closing.closing = true;
        assert!(!closing.behind());
    }
}
