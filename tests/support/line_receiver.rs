//! A TCP receiver of LF-framed syslog messages for the spool tests, which
//! keeps every line it got, in order, so a test can count them exactly.
//!
//! It can go down and come back on the same port, as a receiver restarting
//! cleanly does: going down, it stops listening (taking the connections
//! still in the backlog first) and ends each connection gracefully: it
//! shuts its sending side, then reads what the sender still had in flight
//! until the sender closes. So every line a sender's kernel took reaches
//! the test: a line missing or twice is logmux's doing, not the network's.
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct LineReceiver {
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    up: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl LineReceiver {
    /// Listens on a free port of 127.0.0.1; `up`: at once.
    pub fn start(up: bool) -> LineReceiver {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let r = LineReceiver {
            port,
            lines: Arc::default(),
            up: Arc::new(AtomicBool::new(up)),
            quit: Arc::default(),
            acceptor: None,
        };
        let (lines, up, quit) = (Arc::clone(&r.lines), Arc::clone(&r.up), Arc::clone(&r.quit));
        let acceptor = std::thread::spawn(move || accept_loop(port, &lines, &up, &quit));
        let mut r = r;
        r.acceptor = Some(acceptor);
        if r.up.load(Ordering::SeqCst) {
            r.wait_listening();
        }
        r
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "receiver did not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        // Let the acceptor drop the listener before the test goes on.
        std::thread::sleep(Duration::from_millis(100));
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until at least `n` lines came; panics after `secs`.
    pub fn wait_count(&self, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "receiver got {} lines of {n} in {secs} s",
                self.count()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LineReceiver {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    port: u16,
    lines: &Arc<Mutex<Vec<String>>>,
    up: &Arc<AtomicBool>,
    quit: &AtomicBool,
) {
    let mut listener: Option<TcpListener> = None;
    while !quit.load(Ordering::SeqCst) {
        let want = up.load(Ordering::SeqCst);
        if want && listener.is_none() {
            listener = TcpListener::bind(("127.0.0.1", port)).ok();
            if let Some(l) = &listener {
                l.set_nonblocking(true).unwrap();
            }
        }
        if let Some(l) = &listener {
            loop {
                match l.accept() {
                    Ok((sock, _)) => {
                        let (lines, up) = (Arc::clone(lines), Arc::clone(up));
                        std::thread::spawn(move || read_conn(sock, &lines, &up));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
        if !want {
            listener = None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads lines until the sender closes; once the receiver is down, shuts
/// its own side first and drains what is still in flight.
fn read_conn(mut sock: TcpStream, lines: &Mutex<Vec<String>>, up: &AtomicBool) {
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial = Vec::new();
    let mut shut = false;
    loop {
        if !shut && !up.load(Ordering::SeqCst) {
            let _ = sock.shutdown(Shutdown::Write);
            shut = true;
        }
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                partial.extend_from_slice(&buf[..n]);
                let mut got = lines.lock().unwrap();
                let mut start = 0;
                while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
                    got.push(String::from_utf8_lossy(&partial[start..start + i]).into_owned());
                    start += i + 1;
                }
                partial.drain(..start);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}

/// The numbers of the `seq N …` lines, in the order they came.
pub fn seqs(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| {
            let at = l.find("seq ")? + 4;
            l[at..].split(' ').next()?.parse().ok()
        })
        .collect()
}
