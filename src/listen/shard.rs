//! Shards: the listener parses on every core it may use (`--threads`).
//!
//! Each shard is a thread with a single-threaded tokio runtime and a
//! [`Hub`] of its own (pipeline, senders table, output buffers), so nothing
//! on a message's path is shared and no lock is taken per message. A
//! stream connection is parsed by one shard from accept to close, so its
//! messages keep their order; the acceptor gives each new connection to
//! the shard with the fewest open ([`Dispatch`]). Shard 0 is the listener's
//! own thread; each stream listener accepts on a thread of its own
//! ([`conn::accept_on_own_thread`]), so that a busy shard never holds a new
//! connection waiting. What holds
//! over every shard (connection limits and counts, the `--max-held` budget)
//! is [`super::common::Common`]; the span builder, the join table and the
//! metrics are shared as in `run`; the output's writer or sink is one
//! ([`super::outbox::Outbox::sibling`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::conn::{self, Accepted};
use super::hub::{Counters, End, Hub};
use crate::engine::Stats;
use crate::shutdown::signals::StopSignals;
use crate::shutdown::Shutdown;

/// While lines are held back, the housekeeper looks this often.
const TICK: Duration = Duration::from_millis(50);

/// Otherwise it looks this often (to forget idle streams).
const IDLE_TICK: Duration = Duration::from_secs(30);

/// Buffered events are written at most this long after the first of them.
const FLUSH_DELAY: Duration = Duration::from_millis(1);

/// While stopping, how often a shard looks for a reason to give up.
const GIVE_UP_TICK: Duration = Duration::from_millis(50);

/// Once a shard gives up, how long its connections have to count what
/// they leave (each reader thread ends within its poll, 100 ms).
const COUNT_LEFT: Duration = Duration::from_secs(2);

/// A shard's stack: parsing needs little.
const STACK: usize = 2 << 20;

/// Where accepted connections go: one door per shard.
#[derive(Clone)]
pub struct Dispatch {
    doors: Arc<[Door]>,
}

struct Door {
    tx: mpsc::UnboundedSender<Accepted>,
    /// Connections this shard parses now.
    open: Arc<AtomicUsize>,
}

/// A shard's end of [`Dispatch`].
pub struct Intake {
    rx: mpsc::UnboundedReceiver<Accepted>,
    open: Arc<AtomicUsize>,
}

impl Dispatch {
    /// A dispatch over `shards` shards, and each shard's intake.
    pub fn new(shards: usize) -> (Dispatch, Vec<Intake>) {
        let (doors, intakes) = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let open = Arc::new(AtomicUsize::new(0));
                let intake = Intake {
                    rx,
                    open: Arc::clone(&open),
                };
                (Door { tx, open }, intake)
            })
            .unzip::<_, _, Vec<_>, Vec<_>>();
        (
            Dispatch {
                doors: doors.into(),
            },
            intakes,
        )
    }

    /// Gives a connection to the shard with the fewest open (the first of
    /// them on a tie, so one connection stays on the listener's thread).
    pub fn send(&self, accepted: Accepted) {
        let Some(door) = self.doors.get(self.pick()) else {
            return;
        };
        door.open.fetch_add(1, Ordering::Relaxed);
        // A shard ends only after every acceptor (and so every dispatch).
        let _ = door.tx.send(accepted);
    }
}

impl Dispatch {
    /// The shard with the fewest open connections, the first on a tie.
    fn pick(&self) -> usize {
        let open = |i: &usize| self.doors.get(*i).map(|d| d.open.load(Ordering::Relaxed));
        (0..self.doors.len()).min_by_key(open).unwrap_or(0)
    }
}

#[cfg(test)]
impl Intake {
    /// A connection given to this shard, if one waits.
    pub fn try_take(&mut self) -> Option<Accepted> {
        self.rx.try_recv().ok()
    }
}

/// Parses the connections given to this shard, each in a task of its own,
/// until every acceptor has ended (so none given at the last moment is
/// left unread).
pub async fn intake(mut intake: Intake, hub: Rc<RefCell<Hub>>, tasks: Tasks) {
    while let Some(accepted) = intake.rx.recv().await {
        let hub = Rc::clone(&hub);
        let open = Arc::clone(&intake.open);
        let given_up = tasks.given_up();
        tasks.spawn(async move {
            conn::read(accepted, hub, given_up).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// What a shard counted, for the listener's final report.
pub struct ShardEnd {
    pub counters: Counters,
    pub stats: Stats,
    pub end: Option<End>,
}

/// Starts shard `index` on a thread of its own: `make` builds its hub
/// there (a hub is not `Send`).
pub fn start(
    index: usize,
    runtime: tokio::runtime::Runtime,
    make: impl FnOnce() -> Hub + Send + 'static,
    shard_intake: Intake,
    (shutdown, stop): (Shutdown, Arc<StopSignals>),
    drain_timeout: Duration,
) -> std::io::Result<JoinHandle<ShardEnd>> {
    std::thread::Builder::new()
        .name(format!("listen-shard-{index}"))
        .stack_size(STACK)
        .spawn(move || {
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let hub = Rc::new(RefCell::new(make()));
                let tasks = Tasks::default();
                tasks.spawn(intake(shard_intake, Rc::clone(&hub), tasks.clone()));
                keep(&hub, &shutdown);
                shutdown.triggered().await;
                drain(&tasks, drain_timeout, &stop).await;
                let mut h = hub.borrow_mut();
                h.flush_all();
                h.flush_output();
                ShardEnd {
                    counters: h.counters,
                    stats: h.pipeline_stats(),
                    end: h.end.take(),
                }
            })
        })
}

/// Starts a hub's housekeeper and flusher on the current `LocalSet`.
pub fn keep(hub: &Rc<RefCell<Hub>>, shutdown: &Shutdown) {
    tokio::task::spawn_local(housekeeper(Rc::clone(hub), shutdown.clone()));
    tokio::task::spawn_local(flusher(Rc::clone(hub), shutdown.clone()));
}

/// After the listener stops: waits for `tasks` to read what has arrived,
/// up to `drain_timeout` (or a second signal). When they did not all end,
/// the connections stop parsing and count the bytes they leave
/// (`unread_bytes`, which the final report and the exit status tell), for
/// up to [`COUNT_LEFT`]: only sockets that did not count by then are
/// warned of. Giving up on sockets that held nothing (an idle UDP reader
/// looks for the stop only every 100 ms) is no news.
pub async fn drain(tasks: &Tasks, drain_timeout: Duration, stop: &StopSignals) {
    let done = tokio::select! {
        () = tasks.all_done() => true,
        () = tokio::time::sleep(drain_timeout) => false,
        () = given_up(stop) => false,
    };
    if done {
        return;
    }
    tasks.given_up.trigger();
    if tokio::time::timeout(COUNT_LEFT, tasks.all_done())
        .await
        .is_ok()
    {
        tracing::debug!("stopping: gave up waiting for the sockets after {drain_timeout:?}; each counted what it left (unread_bytes)");
    } else {
        tracing::warn!("stopping: some sockets were still being read {COUNT_LEFT:?} after giving up (--drain-timeout {drain_timeout:?}); what they held is missing from unread_bytes");
    }
}

/// Ends once stopping may give up waiting (a second signal, or
/// `--drain-timeout` after the first).
async fn given_up(stop: &StopSignals) {
    while !stop.give_up() {
        tokio::time::sleep(GIVE_UP_TICK).await;
    }
}

/// Emits held lines when their time has come: Docker pieces after the
/// join window, tracebacks after `--idle-flush`.
async fn housekeeper(hub: Rc<RefCell<Hub>>, shutdown: Shutdown) {
    let wake = Rc::clone(&hub.borrow().housekeeper);
    // Another shard is over `--max-held`: emit what this one holds.
    let shed = Arc::new(Notify::new());
    hub.borrow().common.add_shedder(Arc::clone(&shed));
    loop {
        let pending = hub.borrow().is_pending();
        let nap = if pending { TICK } else { IDLE_TICK };
        tokio::select! {
            biased;
            () = shutdown.triggered() => return,
            _ = wake.notified(), if !pending => {}
            _ = shed.notified() => {}
            _ = tokio::time::sleep(nap) => {}
        }
        let mut h = hub.borrow_mut();
        h.expire(std::time::Instant::now());
        h.shed();
        h.finish_batch();
    }
}

/// Writes buffered events [`FLUSH_DELAY`] after the first of them: a
/// message shows up within a few milliseconds, and the messages of a steady
/// stream (datagrams that arrive one per wake-up) share one write and one
/// wake-up of the writer thread instead of paying for one each, which
/// costs more than parsing them.
async fn flusher(hub: Rc<RefCell<Hub>>, shutdown: Shutdown) {
    let wake = Rc::clone(&hub.borrow().flusher);
    loop {
        tokio::select! {
            biased;
            () = shutdown.triggered() => return,
            _ = wake.notified() => {}
        }
        tokio::select! {
            biased;
            // Stopping writes everything anyway.
            () = shutdown.triggered() => return,
            _ = tokio::time::sleep(FLUSH_DELAY) => {}
        }
        hub.borrow_mut().flush_output();
    }
}

/// A shard's socket tasks, counted so that stopping can wait for them.
#[derive(Clone, Default)]
pub struct Tasks {
    live: Rc<Cell<usize>>,
    done: Rc<Notify>,
    /// Triggered when stopping gives up waiting for them.
    given_up: Shutdown,
}

impl Tasks {
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.live.set(self.live.get() + 1);
        let guard = TaskGuard(self.clone());
        tokio::task::spawn_local(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Triggered when stopping gives up waiting for the tasks: they stop
    /// parsing and count what they leave.
    pub fn given_up(&self) -> Shutdown {
        self.given_up.clone()
    }

    async fn all_done(&self) {
        while self.live.get() > 0 {
            self.done.notified().await;
        }
    }
}

struct TaskGuard(Tasks);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let live = &self.0.live;
        live.set(live.get().saturating_sub(1));
        self.0.done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_goes_to_the_shard_with_the_fewest_open() {
        let (d, intakes) = Dispatch::new(3);
        assert_eq!(intakes.len(), 3);
        let open = |i: usize, n: usize| d.doors[i].open.store(n, Ordering::Relaxed);
        assert_eq!(d.pick(), 0);
        open(0, 1);
        assert_eq!(d.pick(), 1);
        open(1, 1);
        assert_eq!(d.pick(), 2);
        open(2, 5);
        open(0, 0);
        assert_eq!(d.pick(), 0);
        // A shard's closed connections count no more.
        open(0, 2);
        open(1, 2);
        assert_eq!(d.pick(), 0);
        open(1, 1);
        assert_eq!(d.pick(), 1);
    }

    #[test]
    fn zero_shards_is_one() {
        let (d, intakes) = Dispatch::new(0);
        assert_eq!((d.doors.len(), intakes.len()), (1, 1));
        assert_eq!(d.pick(), 0);
    }
}
