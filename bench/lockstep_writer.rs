//! Child program for bench/traces.sh's `run` mix, as bench/lockstep_writer.py
//! does it, compiled: replays FILE to stdout in chunks of 64 lines, at full
//! speed but in step with the other writer of the pair (nginx's lines and
//! uWSGI's lines of the same requests): after its chunk i it waits until
//! the other has written chunk i - 16. The pair shares a 16-byte counter
//! file SHM; SLOT is 0 or 1.
//!
//! Why a compiled twin: the two Python writers take about a third of a
//! 2-core machine's CPU at full speed (0.4 CPU-s for 400,000 lines), CPU
//! that logmux's span thread and sinks would otherwise have. These take
//! 0.13-0.2 CPU-s, most of it the kernel's pipe writes:
//! `WRITER=native bash bench/traces.sh …` measures logmux nearly alone.
//!
//! Usage: lockstep_writer FILE SHM SLOT (built by
//! `cargo build --release --example lockstep_writer`).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const CHUNK: usize = 64;
const LAG: i64 = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, shm, slot] = args.as_slice() else {
        return Err("usage: lockstep_writer FILE SHM SLOT".into());
    };
    let slot: usize = slot.parse()?;
    let text = std::fs::read(path)?;
    let counters = OpenOptions::new().read(true).write(true).open(shm)?;
    // SAFETY: a shared mapping of the 16-byte file, kept for the whole
    // run; both writers only touch it through aligned atomics.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            16,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            counters.as_raw_fd(),
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: the mapping is 16 bytes, page-aligned, and lives to the end.
    let counter = |i: usize| unsafe { &*(base as *const AtomicI64).add(i) };
    let (mine, other) = (counter(slot), counter(1 - slot));
    let mut out = std::io::stdout().lock();
    let mut chunk_start = 0;
    let mut lines = 0;
    let mut written: i64 = 0;
    for (i, b) in text.iter().enumerate() {
        if *b != b'\n' {
            continue;
        }
        lines += 1;
        if lines < CHUNK && i + 1 < text.len() {
            continue;
        }
        out.write_all(&text[chunk_start..=i])?;
        out.flush()?;
        chunk_start = i + 1;
        lines = 0;
        written += 1;
        mine.store(written, Ordering::Release);
        while other.load(Ordering::Acquire) < written - LAG {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    if chunk_start < text.len() {
        out.write_all(&text[chunk_start..])?;
        out.flush()?;
    }
    // Done: the other may go on freely.
    mine.store(1 << 62, Ordering::Release);
    Ok(())
}
