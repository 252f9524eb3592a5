//! Reading one child pipe with as few system calls and timer operations as
//! the stream needs.
//!
//! A read first asks the descriptor itself: bytes already waiting come in
//! one `read(2)`, and its answer is also what the burst clock wants to know
//! (were the bytes waiting when the read began?), which a zero-timeout
//! `poll(2)` asked before every read. Only an empty pipe waits on the
//! runtime. The idle timer (`idle_flush`: emit a held partial line after
//! that much silence) is one `Sleep` for the stream's life, pushed back
//! lazily: when it fires before the silence is long enough it is re-armed
//! once, instead of a timer armed and cancelled around every 4 KiB read.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::time::Duration;

use nix::errno::Errno;
use tokio::net::unix::pipe;
use tokio::time::{Instant, Sleep};

/// What one read brought.
pub enum Read {
    /// `n` bytes (0: the end of the stream), and whether they were already
    /// in the pipe when the read began.
    Bytes(usize, bool),
    /// `idle_flush` passed without a byte (only when watching for it).
    Idle,
    Failed(io::Error),
}

/// One child pipe and its idle timer.
pub struct PipeReader {
    rx: pipe::Receiver,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// When the silence being waited out reaches `idle`.
    due: Instant,
    /// No read yet: the first waits for the runtime (below).
    fresh: bool,
}

impl PipeReader {
    pub fn new(rx: pipe::Receiver, idle: Duration) -> PipeReader {
        let due = Instant::now() + idle;
        PipeReader {
            rx,
            idle,
            timer: Box::pin(tokio::time::sleep_until(due)),
            due,
            fresh: true,
        }
    }

    pub fn receiver(&self) -> &pipe::Receiver {
        &self.rx
    }

    /// The next read into `buf`; with `watch_idle`, [`Read::Idle`] after
    /// `idle_flush` of silence.
    pub async fn read(&mut self, buf: &mut [u8], watch_idle: bool) -> Read {
        if self.fresh {
            // A new program's first bytes wait for the runtime's next look
            // at every pipe, as before: read at once, they would overtake
            // those another program wrote earlier and the runtime has not
            // yet reported (a `once` program's last lines, then the next
            // program's first: tests/run_lines.rs, service_name_tags_…).
            self.fresh = false;
            let waiting = crate::sys::wait_readable(self.rx.as_fd(), Duration::ZERO);
            return match self.wait_and_read(buf, watch_idle).await {
                Read::Bytes(n, _) => Read::Bytes(n, waiting),
                other => other,
            };
        }
        loop {
            match nix::unistd::read(self.rx.as_raw_fd(), buf) {
                Ok(n) => return Read::Bytes(n, true),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => break,
                Err(e) => return Read::Failed(e.into()),
            }
        }
        // The pipe is empty (the read above said so): the runtime may still
        // hold it readable from the last read, which would make the wait
        // below return at once.
        let _ = self
            .rx
            .try_io(|| Err::<(), _>(io::ErrorKind::WouldBlock.into()));
        self.wait_and_read(buf, watch_idle).await
    }

    /// Waits until the runtime reports the pipe readable (or `idle_flush`
    /// passes), then reads.
    async fn wait_and_read(&mut self, buf: &mut [u8], watch_idle: bool) -> Read {
        if watch_idle {
            self.due = Instant::now() + self.idle;
        }
        loop {
            let ready = if watch_idle {
                tokio::select! {
                    biased;
                    r = self.rx.readable() => Some(r),
                    () = self.timer.as_mut() => None,
                }
            } else {
                Some(self.rx.readable().await)
            };
            match ready {
                None if Instant::now() >= self.due => return Read::Idle,
                // Armed for an earlier silence: wait out the rest of this one.
                None => self.timer.as_mut().reset(self.due),
                Some(Err(e)) => return Read::Failed(e),
                Some(Ok(())) => match self.rx.try_read(buf) {
                    Ok(n) => return Read::Bytes(n, false),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Read::Failed(e),
                },
            }
        }
    }
}
