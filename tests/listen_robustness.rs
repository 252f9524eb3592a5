//! `logmux listen` under 100,000 random and malformed messages (a seeded
//! generator, so a failure replays): UDP and unix datagrams, and TCP frames
//! over many connections, some cut mid-frame. Every non-empty datagram and
//! every frame gives exactly one event, nothing crashes or stalls, memory
//! stays bounded, the connection cap holds, and afterwards a correct
//! message still comes out exactly right.

#[path = "support/listen.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use support::*;

const MAX_MESSAGE: usize = 4096;
const UDP_DATAGRAMS: usize = 50_000;
const UNIX_DATAGRAMS: usize = 10_000;
const TCP_FRAMES: usize = 40_000;
const CONNECTIONS: usize = 40;
const MAX_CONNECTIONS: usize = 16;

/// xorshift64*: small, seeded, good enough to make garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const TEMPLATES: &[&str] = &[
    "<30>Nov 25 23:29:21 3f4e5d6c7b8a[812]: hello from a container",
    "<27>Nov 25 23:29:21 myhost nginx:1.25/web-1[812]:   indented stderr",
    "<30>1 2026-11-25T23:29:21.123456+00:00 host web-1 812 web-1 - 127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/7.88.1\"",
    "<13>1 2026-11-25T23:29:21.637935+00:00 vm tag 42 M1 [timeQuality tzKnown=\"1\" isSynced=\"0\"] five",
    "<13>Nov 25 23:29:21 vm tag: plain",
    "<30>1 2026-11-25T23:29:21Z h web-1 812 web-1 - {\"timestamp\":\"2026-11-25T19:39:25Z\",\"severity_text\":\"INFO\",\"message\":\"x\",\"logmux\":{\"format\":\"text\"}}",
    "<191>1 - - - - - -",
    "<0>",
    "12 <13>x: octet",
];

/// A message to throw at the listener: random bytes, a mangled real
/// message, or one longer than the maximum.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0..=2 => {
            let n = 1 + rng.below(600);
            rng.bytes(n)
        }
        3 => {
            let n = MAX_MESSAGE + 1 + rng.below(4000);
            let mut m = TEMPLATES[rng.below(TEMPLATES.len())].as_bytes().to_vec();
            m.extend((0..n).map(|i| b'a' + (i % 26) as u8));
            m
        }
        4 => TEMPLATES[rng.below(TEMPLATES.len())].as_bytes().to_vec(),
        _ => {
            let mut m = TEMPLATES[rng.below(TEMPLATES.len())].as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len() + 1);
                match rng.below(4) {
                    0 => m.truncate(at),
                    1 => m.insert(at.min(m.len()), rng.next() as u8),
                    2 if at < m.len() => {
                        m.remove(at);
                    }
                    _ if at < m.len() => m[at] = rng.next() as u8,
                    _ => {}
                }
            }
            m
        }
    }
}

/// Appends one random frame to `stream` and returns its message: octet
/// counted (`LEN SP MSG`, any bytes; a length is never 0), or a line made
/// to start with `<` and to hold no `\n`, `\r` or NUL, so that it ends at
/// its own LF.
fn tcp_frame(rng: &mut Rng, stream: &mut Vec<u8>) -> Vec<u8> {
    let mut m = garbage(rng);
    if rng.below(2) == 0 && !m.is_empty() {
        stream.extend_from_slice(format!("{} ", m.len()).as_bytes());
        stream.extend_from_slice(&m);
        return m;
    }
    m.retain(|&b| !matches!(b, b'\n' | b'\r' | 0));
    if m.first() != Some(&b'<') {
        m.insert(0, b'<');
    }
    stream.extend_from_slice(&m);
    stream.push(b'\n');
    m
}

/// What the listener strips before deciding a message is empty.
fn strip_newline(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Events a datagram must give: one, unless it is empty.
fn events_of_datagram(d: &[u8]) -> usize {
    usize::from(!strip_newline(d).is_empty())
}

/// What docs/listen.md ("Limits") says the listener may hold, for this
/// test's settings, in KiB: per datagram socket 16 receive buffers of
/// `--max-message` and a queue of 128 batches of up to 128 KiB; 16 chunks
/// of 256 KiB for the stream listener; one unfinished message per
/// connection and its reader thread's stack (64 KiB allowed, not
/// documented); 8 waiting output buffers of 128 KiB and the one filling.
fn documented_buffers_kib() -> u64 {
    let max_message = MAX_MESSAGE as u64 / 1024;
    let datagram = 16 * max_message + 128 * 128;
    let stream = 16 * 256;
    let connection = max_message + 1 + 64;
    let output = 9 * 128;
    2 * datagram + stream + (MAX_CONNECTIONS as u64 + 1) * connection + output
}

fn vm_hwm_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn random_and_malformed_input_gives_one_event_each_and_breaks_nothing() {
    let mut l = start(&[
        "--udp",
        ":0",
        "--tcp",
        ":0",
        "--unix",
        "@DIR@/dgram.sock",
        "--max-message",
        "4KiB",
        "--max-connections",
        &MAX_CONNECTIONS.to_string(),
    ]);
    // What the listener holds before any input: its code, libraries, stacks.
    let baseline = vm_hwm_kib(l.pid());
    let mut rng = Rng(0x5eed_1094_0000_0001);
    let mut expected = 0;
    let mut messages = 0;
    let mut truncated = 0;
    let mut invalid_utf8 = 0;

    // Datagrams, paced so the kernel's buffer never overflows: each batch
    // must be out before the next goes.
    let senders: Vec<UdpSocket> = (0..8)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let unix = UnixDatagram::unbound().unwrap();
    let dgram_path = l.path("dgram.sock");
    for batch in 0..(UDP_DATAGRAMS + UNIX_DATAGRAMS) / 500 {
        for _ in 0..500 {
            let d = garbage(&mut rng);
            if batch < UDP_DATAGRAMS / 500 {
                let s = &senders[rng.below(senders.len())];
                s.send_to(&d, l.udp()).unwrap();
            } else {
                unix.send_to(&d, &dgram_path).unwrap();
            }
            expected += events_of_datagram(&d);
            truncated += usize::from(strip_newline(&d).len() > MAX_MESSAGE);
            invalid_utf8 += usize::from(std::str::from_utf8(&d).is_err());
            messages += 1;
        }
        l.wait_for(expected, 60);
    }
    assert_eq!(l.count(), expected, "one event per non-empty datagram");

    // TCP: each connection a stream of frames, octet-counted or ending in
    // LF, cut where the generator cut them: a cut connection ends in the
    // middle of a counted frame. Each frame is one event (none if empty).
    let per_conn = TCP_FRAMES / CONNECTIONS;
    for c in 0..CONNECTIONS {
        let mut stream = Vec::new();
        for _ in 0..per_conn {
            let body = tcp_frame(&mut rng, &mut stream);
            messages += 1;
            expected += events_of_datagram(&body);
            truncated += usize::from(body.len() > MAX_MESSAGE);
            invalid_utf8 += usize::from(std::str::from_utf8(&body).is_err());
        }
        if c % 4 == 0 {
            // `100 ` promises more than comes: one truncated event.
            stream.extend_from_slice(b"100 <13>cut short");
            messages += 1;
            expected += 1;
            truncated += 1;
        }
        let mut conn = TcpStream::connect(l.tcp()).unwrap();
        for chunk in stream.chunks(1 + rng.below(8192)) {
            conn.write_all(chunk).unwrap();
        }
        drop(conn);
        l.wait_for(expected, 60);
    }
    assert_eq!(l.count(), expected, "one event per frame");
    assert!(l.is_running());

    // The connection cap: MAX_CONNECTIONS idle ones, and one more is closed.
    // The listener has closed the connections above first (their places
    // are given back as each closes).
    l.wait_until(20, "the connections above closed", |l| {
        l.open_connections() == 0
    });
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(l.tcp()).unwrap())
        .collect();
    l.wait_until(20, "the idle connections accepted", |l| {
        l.established() == MAX_CONNECTIONS
    });
    let mut extra = TcpStream::connect(l.tcp()).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    // Closed by the listener: end of stream or a reset, not a timeout.
    match extra.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection over the cap is still open: {other:?}"),
    }
    drop(idle);
    l.wait_until(20, "the idle connections closed", |l| l.established() == 0);

    // Still up, and still right.
    let good =
        "<27>1 2026-11-25T23:29:21.123456+00:00 dockerhost web-1 812 web-1 - ERROR: still fine";
    send_udp(l.udp(), &[good.as_bytes()]);
    send_tcp(l.tcp(), format!("{} {good}", good.len()).as_bytes());
    l.wait_for(expected + 2, 30);
    let events = l.events();
    let tail = &events[expected..];
    for e in tail {
        assert_eq!(e["message"], "ERROR: still fine", "{e}");
        assert_eq!(e["severity_text"], "ERROR");
        assert_eq!(e["container"]["name"], "web-1");
        assert_eq!(e["log"]["iostream"], "stderr");
        assert_eq!(e["host"]["name"], "dockerhost");
        assert_eq!(e["log"]["syslog"]["procid"], "812");
        assert_eq!(e["timestamp"], "2026-11-25T23:29:21.123456+00:00");
        assert!(e["logmux"].get("parse_error").is_none());
    }
    // Bounded memory: no buffer grew with the input.
    let hwm = vm_hwm_kib(l.pid());
    let bound = baseline + documented_buffers_kib();
    println!("FIGURE listen peak RSS: {hwm} KiB (at start {baseline} KiB, bound {bound} KiB)");
    assert!(hwm <= bound, "peak RSS {hwm} KiB over {bound} KiB");

    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(done.events.len(), expected + 2);
    for e in &done.events {
        assert!(e["message"].is_string() && e["logmux"]["format"].is_string());
    }
    let flagged = |k: &str| {
        done.events
            .iter()
            .filter(|e| e["logmux"][k] == true)
            .count()
    };
    // The seeded generator always makes the same messages: exact counts.
    assert_eq!(flagged("truncated"), truncated);
    // Pinned from the seeded run: a change means garbage is parsed
    // differently. Invalid UTF-8 in a header field that the parser takes
    // apart is not the message's, so fewer than the messages that hold some.
    assert_eq!(flagged("parse_error"), 66_411);
    assert_eq!(flagged("invalid_utf8"), 50_498);
    assert_eq!(invalid_utf8, 50_540);
    let report = complete_lines(done.stderr.as_bytes()).pop().unwrap();
    assert_eq!(report["logmux"]["messages"], messages + 2, "{report}");
    assert_eq!(report["logmux"]["events"], expected + 2, "{report}");
    assert_eq!(report["logmux"]["refused_connections"], 1, "{report}");
}
