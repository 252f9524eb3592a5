//! `logmux listen --threads N`: stream connections are parsed by N shards,
//! one thread each. Every message of every connection comes out exactly
//! once and in its connection's order, the connections are spread over the
//! shards (the second shard's thread does parse), and the counts of the
//! final report add up over all of them. (`--max-held` across shards is in
//! `listen_hardening.rs`; `--max-connections` in `listen_hardening.rs` and
//! `listen_connections.rs`, at the default of one shard per CPU.)

#[path = "support/listen.rs"]
mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::TcpStream;

use serde_json::Value;
use support::*;

/// Connections sending at once.
const CONNECTIONS: usize = 8;
/// Messages each connection sends.
const MESSAGES: usize = 5_000;

/// `CONNECTIONS` senders at once, each `MESSAGES` numbered messages
/// under its own tag (`app0`, `app1`, …), sent in slices so that the
/// connections interleave.
fn send_all(l: &Listener, connections: usize, messages: usize) {
    let addr = l.tcp();
    let senders: Vec<_> = (0..connections)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let mut text = String::new();
                for i in 0..messages {
                    writeln!(text, "<13>Nov 25 23:29:21 vm app{c}: conn {c} message {i}").unwrap();
                    if i % 500 == 499 {
                        s.write_all(text.as_bytes()).unwrap();
                        text.clear();
                    }
                }
                s.write_all(text.as_bytes()).unwrap();
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
}

/// Every connection's messages, each exactly once and in the order sent.
fn assert_each_whole_and_in_order(events: &[Value], connections: usize, messages: usize) {
    assert_eq!(events.len(), connections * messages);
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for e in events {
        let tag = e["service"]["name"].as_str().unwrap().to_string();
        let message = e["message"].as_str().unwrap().to_string();
        seen.entry(tag).or_default().push(message);
    }
    assert_eq!(seen.len(), connections);
    for c in 0..connections {
        let want: Vec<String> = (0..messages)
            .map(|i| format!("conn {c} message {i}"))
            .collect();
        assert!(
            seen[&format!("app{c}")] == want,
            "connection {c} out of order or incomplete"
        );
    }
}

#[test]
fn every_connection_keeps_its_order_across_shards() {
    let l = start(&["--tcp", ":0", "--output", "json", "--threads", "4"]);
    send_all(&l, CONNECTIONS, MESSAGES);
    l.wait_for(CONNECTIONS * MESSAGES, 60);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_each_whole_and_in_order(&s.events, CONNECTIONS, MESSAGES);
    let report = final_report(&s.stderr);
    let counts = &report["logmux"];
    assert_eq!(counts["messages"], CONNECTIONS * MESSAGES, "{report}");
    assert_eq!(counts["events"], CONNECTIONS * MESSAGES, "{report}");
    assert_eq!(counts["connections"], CONNECTIONS, "{report}");
    assert_eq!(counts["refused_connections"], 0, "{report}");
}

/// Thread `name`'s CPU time (user + system) in clock ticks, if it exists.
fn thread_ticks(pid: i32, name: &str) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    for task in tasks {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        return Some(f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap());
    }
    None
}

#[test]
fn the_second_connection_is_parsed_on_the_second_shard() {
    let l = start(&["--tcp", ":0", "--output", "json", "--threads", "2"]);
    // A thread takes its name once it runs: wait for it.
    let shard = |l: &Listener| thread_ticks(l.pid(), "listen-shard-1");
    l.wait_until(20, "the second shard's thread", |l| shard(l).is_some());
    let before = shard(&l).unwrap();
    // 2 connections: one per shard; 200,000 messages take the second
    // shard's thread well past one clock tick (10 ms).
    send_all(&l, 2, 100_000);
    l.wait_for(200_000, 60);
    let ticks = shard(&l).unwrap();
    assert!(ticks > before, "the second shard did not parse");
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 200_000);
}

#[test]
fn one_thread_starts_no_shard() {
    let l = start(&["--tcp", ":0", "--output", "json", "--threads", "1"]);
    send_all(&l, 2, 10);
    l.wait_for(20, 10);
    assert_eq!(thread_ticks(l.pid(), "listen-shard-1"), None);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_eq!(s.events.len(), 20);
}

#[test]
fn a_sink_gets_every_shards_events() {
    // The built-in `stdout` sink: the sink layer's queue, not the writer thread.
    let l = start(&["--tcp", ":0", "--sink", "stdout", "--threads", "3"]);
    send_all(&l, 3, 2_000);
    l.wait_for(6_000, 60);
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_each_whole_and_in_order(&s.events, 3, 2_000);
}

#[test]
fn out_dir_files_get_every_shards_events() {
    let l = start(&["--tcp", ":0", "--out-dir", "@DIR@/out", "--threads", "3"]);
    send_all(&l, 3, 2_000);
    let dir = l.path("out");
    let read_all = || -> Vec<Value> {
        let mut events = Vec::new();
        for f in std::fs::read_dir(&dir).into_iter().flatten() {
            let text = std::fs::read(f.unwrap().path()).unwrap();
            events.extend(complete_lines(&text));
        }
        events
    };
    l.wait_until(60, "6,000 events in the files", |_| {
        read_all().len() >= 6_000
    });
    let s = l.stop();
    assert_eq!(s.code, Some(0), "{}", s.stderr);
    assert_each_whole_and_in_order(&read_all(), 3, 2_000);
}
