//! `logmux ctl tail`, logmux's side: the last events of some programs from
//! their rings, then (`-f`) each new one as it is read.
//!
//! The request is one line, `tail LINES follow|once all|stdout|stderr
//! [PROGRAM…]`. The answer is a JSON line (`{"ok":true,…}`, or `ok:false`
//! with a message), then the events, each the JSON line the sinks got,
//! and, where a follower fell behind, a line `!skipped N`.
//!
//! A follower never slows a program: it copies pointers out of the rings
//! under their lock and writes without it. While a write waits for a slow
//! reader, the rings move on; what left them meanwhile is counted and
//! reported as skipped. A write that makes no progress for
//! [`STALLED_WRITE`] ends the connection. At logmux's exit, followers
//! write what is left and end.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::ring::{Entry, Ring, Rings};
use crate::event::IoStream;
use crate::shutdown::Shutdown;

/// A follower whose client has read nothing for this long is closed.
pub const STALLED_WRITE: Duration = Duration::from_secs(60);

/// What a `tail` request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRequest {
    pub lines: usize,
    pub follow: bool,
    pub stream: Option<IoStream>,
    /// None: every program.
    pub programs: Vec<String>,
}

impl TailRequest {
    /// The request line.
    pub fn line(&self) -> String {
        let mut line = format!(
            "tail {} {} {}",
            self.lines,
            if self.follow { "follow" } else { "once" },
            self.stream.map_or("all", IoStream::name)
        );
        for p in &self.programs {
            line.push(' ');
            line.push_str(p);
        }
        line
    }

    /// `None` when `line` is not a tail request at all.
    pub fn parse(line: &str) -> Option<Result<TailRequest, String>> {
        let mut words = line.split_whitespace();
        if words.next() != Some("tail") {
            return None;
        }
        let usage = || {
            format!("bad tail request `{line}`: expected tail LINES follow|once all|stdout|stderr [PROGRAM...]")
        };
        let mut parse = || -> Option<TailRequest> {
            let lines = words.next()?.parse().ok()?;
            let follow = match words.next()? {
                "follow" => true,
                "once" => false,
                _ => return None,
            };
            let stream = match words.next()? {
                "all" => None,
                "stdout" => Some(IoStream::Stdout),
                "stderr" => Some(IoStream::Stderr),
                _ => return None,
            };
            let programs = words.by_ref().map(str::to_string).collect();
            Some(TailRequest {
                lines,
                follow,
                stream,
                programs,
            })
        };
        Some(parse().ok_or_else(usage))
    }
}

/// The rings a request names, or why it cannot be answered.
fn rings_for(rings: &Rings, request: &TailRequest) -> Result<Vec<(String, Arc<Ring>)>, String> {
    if rings.limits().events == 0 {
        return Err("tail is off: the config's tail_buffer keeps 0 events".into());
    }
    if request.programs.is_empty() {
        return Ok(rings.all());
    }
    let mut found = Vec::new();
    for name in &request.programs {
        match rings.find(name) {
            Some(ring) => found.push((name.clone(), ring)),
            None => {
                let known: Vec<String> = rings.all().into_iter().map(|(n, _)| n).collect();
                return Err(format!(
                    "no program named `{name}` (programs: {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(found)
}

/// Answers one tail request on a connection.
pub async fn serve(
    request: TailRequest,
    read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
    rings: &Rings,
    shutdown: Shutdown,
) {
    let selected = match rings_for(rings, &request) {
        Ok(selected) => selected,
        Err(message) => {
            let answer = serde_json::json!({ "ok": false, "message": message });
            let _ = send(&mut write, format!("{answer}\n").into_bytes()).await;
            return;
        }
    };
    // Subscribed before the snapshot: nothing pushed after it is missed.
    let mut changed = rings.watch();
    changed.borrow_and_update();
    let (mut out, mut cursors) = snapshot(&selected, &request);
    let names: Vec<&str> = selected.iter().map(|(n, _)| n.as_str()).collect();
    let header = serde_json::json!({ "ok": true, "programs": names, "follow": request.follow });
    out.splice(0..0, format!("{header}\n").into_bytes());
    if send(&mut write, out).await.is_err() || !request.follow {
        return;
    }
    let max = rings.limits().events;
    let mut closed = std::pin::pin!(closed(read));
    loop {
        let last = tokio::select! {
            r = changed.changed() => r.is_err(),
            () = &mut closed => return,
            () = shutdown.triggered() => true,
        };
        let out = since(&selected, &mut cursors, request.stream, max);
        if send(&mut write, out).await.is_err() || last {
            return;
        }
    }
}

/// The last `lines` events of the selected rings in the order they were
/// read, and each ring's cursor after them.
fn snapshot(selected: &[(String, Arc<Ring>)], request: &TailRequest) -> (Vec<u8>, Vec<u64>) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut cursors = Vec::with_capacity(selected.len());
    for (_, ring) in selected {
        let (last, cursor) = ring.last(request.lines, request.stream);
        entries.extend(last);
        cursors.push(cursor);
    }
    entries.sort_by_key(|e| e.seq);
    let keep = entries.len().saturating_sub(request.lines);
    (concat(&entries[keep..], 0), cursors)
}

/// Every event since the cursors, in order, after a `!skipped N` line for
/// those the rings no longer hold.
fn since(
    selected: &[(String, Arc<Ring>)],
    cursors: &mut [u64],
    stream: Option<IoStream>,
    max: usize,
) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut skipped = 0;
    for ((_, ring), cursor) in selected.iter().zip(cursors.iter_mut()) {
        let taken = ring.since(cursor, stream, max);
        skipped += taken.skipped;
        entries.extend(taken.entries);
    }
    entries.sort_by_key(|e| e.seq);
    concat(&entries, skipped)
}

fn concat(entries: &[Entry], skipped: u64) -> Vec<u8> {
    let size = entries.iter().map(|e| e.event().len()).sum::<usize>() + 32;
    let mut out = Vec::with_capacity(size);
    if skipped > 0 {
        out.extend_from_slice(format!("!skipped {skipped}\n").as_bytes());
    }
    for e in entries {
        out.extend_from_slice(e.event());
    }
    out
}

/// Writes `bytes`; an error when the client is gone or stalled.
async fn send(write: &mut OwnedWriteHalf, bytes: Vec<u8>) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(STALLED_WRITE, write.write_all(&bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Ends when the client closes its side (it sends nothing after its request).
async fn closed(mut read: OwnedReadHalf) {
    let mut buf = [0u8; 64];
    while let Ok(n) = read.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r = TailRequest {
            lines: 10,
            follow: true,
            stream: Some(IoStream::Stderr),
            programs: vec!["nginx".into(), "uwsgi".into()],
        };
        assert_eq!(r.line(), "tail 10 follow stderr nginx uwsgi");
        assert_eq!(TailRequest::parse(&r.line()), Some(Ok(r)));
        let all = TailRequest::parse("tail 5 once all").unwrap().unwrap();
        assert_eq!((all.lines, all.follow, all.stream), (5, false, None));
        assert!(all.programs.is_empty());
        assert_eq!(TailRequest::parse("status"), None);
        assert!(TailRequest::parse("tail x once all").unwrap().is_err());
        assert!(TailRequest::parse("tail 5 maybe all").unwrap().is_err());
        assert!(TailRequest::parse("tail 5 once both").unwrap().is_err());
    }
}
