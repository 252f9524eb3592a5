//! The sink against a real HTTP endpoint on loopback: what its requests hold.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use prost::Message;

use super::messages::ExportLogsServiceRequest;
use super::{OtlpSink, OtlpSpec};
use crate::sink::Sink;

/// An endpoint that answers 200 to every request and hands each body on.
fn endpoint() -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/logs", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut conn = conn;
            loop {
                let mut length = None;
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse::<usize>().ok();
                    }
                    line.clear();
                }
                let Some(length) = length else { break };
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let _ = tx.send(body);
                let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                if conn.write_all(ok).is_err() {
                    break;
                }
            }
        }
    });
    (url, rx)
}

/// A frame with an empty resource and a log record of severity `n`.
fn frame(n: u8) -> Vec<u8> {
    let record = [0x10, n]; // severity_number, field 2, varint
    let mut f = vec![0, 0, 0, 0, record.len() as u8, 0, 0, 0];
    f.extend_from_slice(&record);
    f
}

#[test]
fn frames_written_after_a_torn_one_are_still_sent() {
    let (url, bodies) = endpoint();
    let mut spec = OtlpSpec::new(url);
    spec.gzip = false;
    let mut sink = OtlpSink::open("otlp", &spec).unwrap();
    let mut first = [frame(1), frame(2)].concat();
    first.extend_from_slice(&frame(3)[..6]); // torn in its header
    sink.write(&first).unwrap();
    sink.write(&[frame(4), frame(5)].concat()).unwrap();
    sink.flush().unwrap();
    let body = bodies.recv().unwrap();
    let request = ExportLogsServiceRequest::decode(body.as_slice()).unwrap();
    let severities: Vec<i32> = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|r| r.severity_number)
        .collect();
    assert_eq!(severities, [1, 2, 4, 5]);
    assert_eq!(sink.take_lost(), 0);
    // The resource is the default one, with no attributes.
    let resource = request.resource_logs[0].resource.as_ref();
    assert!(resource.is_none_or(|r| r.attributes.is_empty()));
}
