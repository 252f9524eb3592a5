//! `filter --threads N` on a pipe (`docker logs web 2>&1 | logmux filter`).
//!
//! A reading thread takes the pipe's reads as they come, each stamped as on
//! one thread (read time, burst). The filtering thread gathers them
//! ([`Reads`]) into chunks cut at line ends, N workers parse the chunks, and
//! the filtering thread writes their events in input order
//! ([`crate::engine::parallel`]: what one thread makes of the same reads).
//! A chunk is a full 1 MiB while the writer is ahead of the workers, and
//! whatever whole lines have come as soon as a worker is free, so a slow
//! pipe's lines come out as soon as one thread's would. When nothing comes
//! for `idle_flush` while something is held back, it is emitted, as on one
//! thread. The reads not yet made into chunks are bounded ([`READ_AHEAD`]).
//!
//! The reading thread is not joined: a pipe whose output has closed may
//! never end, and `filter` exits without waiting for it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::engine::parallel::{Parsed, Reads, Sequencer};
use crate::engine::unwrap::Carry;
use crate::engine::{Pipeline, Settings};
use crate::event::{BurstClock, Origin, Stamp};

use super::parallel::{
    cut, flush, start_workers, stopped_by, write_in_order, Job, ParseThreadPanicked, CHUNK,
    IN_FLIGHT,
};
use super::{StepError, Writer, READ_SIZE};
use crate::shutdown::Shutdown;

/// The pipe's buffer asked for (Linux's default is 64 KiB; an unprivileged
/// process may ask for up to `pipe-max-size`, 1 MiB by default).
const PIPE_SIZE: i32 = 1 << 20;

/// Bytes read but not yet handed to a worker, at most (about).
const READ_AHEAD: usize = 2 * CHUNK;

/// What the filtering thread waits for.
enum Msg {
    /// One read of the pipe.
    Read(Vec<u8>, Stamp),
    /// The pipe ended (`None`) or failed.
    End(Option<io::Error>),
    /// A worker's chunk (boxed: its parsing state is large), or its panic.
    Parsed(u64, Result<Box<Parsed>, ParseThreadPanicked>),
}

/// Filters one pipe on `threads` workers into `out`; `idle`: emit what is
/// held back after this long without a byte. False when the output was
/// closed.
/// Once `stop` is triggered, the pipe ends after what it held then.
pub(super) fn filter_pipe(
    pipe: File,
    origin: &Origin,
    (max_line, threads, idle): (usize, usize, Duration),
    stop: &Shutdown,
    (settings, pipeline, out, reparsed): (&Settings, &mut Pipeline, &mut Writer, &mut u64),
) -> Result<bool, StepError> {
    let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
    let backlog = Arc::new(Backlog::default());
    let reading = std::thread::Builder::new()
        .name("logmux-read".into())
        .spawn({
            let (to, backlog, stop) = (msg_tx.clone(), Arc::clone(&backlog), stop.clone());
            move || read_pipe(pipe, &backlog, &to, &stop)
        });
    reading.map_err(StepError::Read)?;
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let jobs_rx = Mutex::new(jobs_rx);
    std::thread::scope(|scope| {
        let workers = (threads, settings, origin, max_line);
        start_workers(scope, workers, &jobs_rx, &msg_tx, |i, p| {
            Msg::Parsed(i, p.map(Box::new))
        })
        .map_err(StepError::Read)?;
        drop(msg_tx);
        let mut flow = Flow {
            reads: Reads::default(),
            guess: Carry::default(),
            parsed: BTreeMap::new(),
            sent: 0,
            next: 0,
            ended: None,
            outs: Vec::new(),
            threads,
            jobs: jobs_tx,
            backlog: &backlog,
        };
        let mut seq = Sequencer::new(origin.clone(), max_line).live();
        let result = flow.run(&msg_rx, idle, (&mut seq, pipeline, out));
        *reparsed += seq.reparsed;
        drop(flow);
        // Stopped early: the chunks still queued are not parsed for nothing.
        if let Ok(queued) = jobs_rx.lock() {
            queued.try_iter().for_each(drop);
        }
        result
    })
}

/// The reading thread: every read of the pipe, stamped, until it ends, it
/// fails, the filtering thread has gone, or `stop` (then as if it ended).
fn read_pipe(mut pipe: File, backlog: &Backlog, to: &Sender<Msg>, stop: &Shutdown) {
    // A larger pipe: fewer, larger reads, and a writer that blocks less.
    // Not a pipe, or over /proc/sys/fs/pipe-max-size: left as it is.
    let _ = crate::sys::set_pipe_size(&pipe, PIPE_SIZE);
    let mut bursts = BurstClock::default();
    let mut buf = vec![0u8; READ_SIZE];
    // The last read ended a line: a stop there cuts none.
    let mut ends_line = true;
    loop {
        backlog.wait_for_room();
        // How the read waits for its bytes tells where a burst ends.
        let started = Instant::now();
        let waiting = crate::sys::wait_readable(pipe.as_fd(), Duration::ZERO);
        if !waiting {
            // Waited on in slices, so that a stop is seen (looked at below).
            let ready = |t| Ok(crate::sys::wait_readable(pipe.as_fd(), t));
            let _ = super::wait_unless_stopped(stop, None, ready);
        }
        if stop.is_triggered() {
            // What the pipe held at the stop was written before it; then
            // the rest of a line begun, if it is in the pipe already.
            let ready = |p: &mut File| crate::sys::wait_readable(p.as_fd(), Duration::ZERO);
            let held = crate::sys::bytes_held(&pipe);
            let rest = super::read_at_stop(&mut pipe, (held, ends_line), ready, CHUNK);
            for piece in rest.chunks(READ_SIZE) {
                backlog.add(piece.len());
                let _ = to.send(Msg::Read(piece.to_vec(), Stamp::now()));
            }
            let _ = to.send(Msg::End(None));
            return;
        }
        let n = match pipe.read(&mut buf) {
            Ok(0) => {
                let _ = to.send(Msg::End(None));
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = to.send(Msg::End(Some(e)));
                return;
            }
        };
        let mut stamp = Stamp::now();
        (stamp.burst, stamp.burst_rest) = bursts.read_returned(started, waiting);
        let bytes = buf.get(..n).unwrap_or_default().to_vec();
        ends_line = bytes.last() == Some(&b'\n');
        backlog.add(bytes.len());
        if to.send(Msg::Read(bytes, stamp)).is_err() {
            return;
        }
    }
}

/// The bytes read and not yet handed to a worker: the reading thread waits
/// while there are [`READ_AHEAD`] of them.
#[derive(Default)]
struct Backlog {
    bytes: Mutex<usize>,
    room: Condvar,
}

impl Backlog {
    fn wait_for_room(&self) {
        let Ok(mut bytes) = self.bytes.lock() else {
            return;
        };
        while *bytes >= READ_AHEAD {
            match self.room.wait(bytes) {
                Ok(b) => bytes = b,
                Err(_) => return,
            }
        }
    }

    fn add(&self, n: usize) {
        if let Ok(mut bytes) = self.bytes.lock() {
            *bytes += n;
        }
    }

    fn sub(&self, n: usize) {
        if let Ok(mut bytes) = self.bytes.lock() {
            *bytes = bytes.saturating_sub(n);
        }
        self.room.notify_one();
    }
}

/// The filtering thread's state: reads gathered, chunks out and back.
struct Flow<'b> {
    reads: Reads,
    /// The input's state at the next chunk's start, as far as known.
    guess: Carry,
    /// Chunks back from the workers ahead of their turn.
    parsed: BTreeMap<u64, Parsed>,
    /// Chunks sent out, and the next to write.
    sent: u64,
    next: u64,
    /// The pipe ended: with the read error, if that is how.
    ended: Option<Option<io::Error>>,
    /// Event buffers given back, for the next chunks.
    outs: Vec<Vec<u8>>,
    threads: usize,
    jobs: Sender<Job>,
    backlog: &'b Backlog,
}

type Ends<'a> = (&'a mut Sequencer, &'a mut Pipeline, &'a mut Writer);

impl Flow<'_> {
    /// Until the pipe has ended and every chunk is written; false when the
    /// output was closed.
    fn run(
        &mut self,
        rx: &Receiver<Msg>,
        idle: Duration,
        (seq, pipeline, out): Ends<'_>,
    ) -> Result<bool, StepError> {
        loop {
            let in_flight = self.sent - self.next;
            let held = !self.reads.bytes().is_empty() || seq.is_pending();
            let msg = if self.ended.is_some() && in_flight == 0 {
                break;
            } else if self.ended.is_none() && in_flight == 0 && held {
                match rx.recv_timeout(idle) {
                    Err(RecvTimeoutError::Timeout) => {
                        if !self.idle(seq, pipeline, out)? {
                            return Ok(false);
                        }
                        continue;
                    }
                    msg => msg.ok(),
                }
            } else {
                rx.recv().ok()
            };
            let Some(msg) = msg else {
                return Err(StepError::Read(io::Error::other(
                    "the reading or a parsing thread stopped",
                )));
            };
            if !self.take_in(msg, (seq, pipeline, out))? {
                return Ok(false);
            }
            // What else has come meanwhile, before deciding what to send.
            while let Ok(msg) = rx.try_recv() {
                if !self.take_in(msg, (seq, pipeline, out))? {
                    return Ok(false);
                }
            }
            self.send(true)?;
            if self.sent == self.next && !flush(out, pipeline)? {
                return Ok(false);
            }
        }
        if let Some(Some(e)) = self.ended.take() {
            // As on one thread: what was read is written, nothing is finished.
            flush(out, pipeline)?;
            return Err(StepError::Read(e));
        }
        seq.finish(&Stamp::now(), pipeline, &mut out.buf);
        flush(out, pipeline)
    }

    /// One message; false when the output was closed.
    fn take_in(&mut self, msg: Msg, (seq, pipeline, out): Ends<'_>) -> Result<bool, StepError> {
        match msg {
            Msg::Read(bytes, stamp) => {
                self.reads.push(&bytes, stamp);
                self.send(false)?;
            }
            Msg::End(error) => {
                self.ended = Some(error);
                self.send(false)?;
            }
            Msg::Parsed(i, answer) => {
                let parsed = answer.map_err(|bug| stopped_by(bug, out, pipeline))?;
                self.parsed.insert(i, *parsed);
                let (reads, outs) = (&mut self.reads, &mut self.outs);
                let ends = (seq, pipeline, out);
                return write_in_order(
                    &mut self.parsed,
                    &mut self.next,
                    &mut self.guess,
                    ends,
                    |chunk, buf| {
                        reads.recycle(chunk);
                        outs.push(buf);
                    },
                );
            }
        }
        Ok(true)
    }

    /// Sends out the chunks there are room for: full ones, all that is
    /// left once the pipe has ended, and, when nothing more is waiting
    /// (`drained`) and a worker is free, the whole lines read so far.
    fn send(&mut self, drained: bool) -> Result<(), StepError> {
        let ahead = (self.threads * IN_FLIGHT + 1) as u64;
        while self.sent - self.next < ahead {
            let bytes = self.reads.bytes();
            let at = if bytes.len() >= CHUNK {
                let full = bytes.get(..CHUNK).unwrap_or_default();
                // No line end in a whole chunk: a long line, cut (the
                // sequencer carries it over).
                cut(full).unwrap_or(CHUNK)
            } else if self.ended.is_some() {
                bytes.len()
            } else if drained && self.sent - self.next < self.threads as u64 {
                memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1)
            } else {
                0
            };
            let Some(chunk) = self.reads.take(at, self.guess.clone()) else {
                return Ok(());
            };
            self.backlog.sub(chunk.bytes.len());
            self.guess = std::mem::take(&mut self.guess).sniffed(&chunk.bytes);
            let buf = self.outs.pop().unwrap_or_default();
            if self.jobs.send((self.sent, chunk, buf)).is_err() {
                return Err(StepError::Read(io::Error::other(
                    "the parsing threads stopped",
                )));
            }
            self.sent += 1;
        }
        Ok(())
    }

    /// Nothing came for `idle_flush`, nothing is in flight, and something
    /// is held back: the whole lines and the partial last one are parsed
    /// here, and everything held back is emitted. False when the output
    /// was closed.
    fn idle(
        &mut self,
        seq: &mut Sequencer,
        pipeline: &mut Pipeline,
        out: &mut Writer,
    ) -> Result<bool, StepError> {
        let len = self.reads.bytes().len();
        if let Some(chunk) = self.reads.take(len, self.guess.clone()) {
            self.backlog.sub(chunk.bytes.len());
            seq.parse_here(&chunk, pipeline, &mut out.buf);
            self.reads.recycle(chunk.bytes);
        }
        seq.finish(&Stamp::now(), pipeline, &mut out.buf);
        if let Some(real) = seq.carry() {
            self.guess = real;
        }
        flush(out, pipeline)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use super::filter_pipe;
    use crate::engine::Pipeline;
    use crate::event::Origin;
    use crate::filter::parallel::tests::{ends_within_a_minute, settings, PANIC};
    use crate::filter::Writer;
    use crate::shutdown::Shutdown;

    #[test]
    fn a_parsing_thread_that_panics_ends_the_pipe_with_an_error_not_a_hang() {
        let result = ends_within_a_minute(|| {
            let (reader, mut writer) = std::io::pipe()?;
            writer.write_all(PANIC)?;
            writer.write_all(b" a line\n")?;
            drop(writer);
            let mut pipeline = Pipeline::new(settings());
            let mut out = Writer::stdout();
            let result = filter_pipe(
                File::from(OwnedFd::from(reader)),
                &Origin::default(),
                (1 << 20, 2, Duration::from_millis(100)),
                &Shutdown::new(),
                (&settings(), &mut pipeline, &mut out, &mut 0),
            );
            Ok::<_, std::io::Error>((result.map_err(|e| e.to_string()), out.buf))
        });
        let Some(Ok((result, written))) = result else {
            panic!("filter_pipe hung after a parsing thread panicked, or no pipe: {result:?}");
        };
        assert!(
            matches!(&result, Err(e) if e.contains("a parsing thread panicked")),
            "{result:?}"
        );
        assert!(written.is_empty(), "{}", String::from_utf8_lossy(&written));
    }
}
