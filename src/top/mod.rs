//! `logmux top`: a live terminal view of a running `logmux run` or of any
//! logmux metrics endpoint: per program its state, restarts and line rate;
//! per service its request rate, 5xx share and p50/p99 latency; the last
//! exceptions.
//!
//! [`source`] fetches the Prometheus text, [`model`] (pure) turns two
//! scrapes into a view, [`render`] (pure) turns the view into lines and a
//! ratatui widget, and [`term`] is the thin terminal part: raw mode, keys,
//! resize, signals. `--once` skips the terminal and prints one snapshot.

pub mod model;
pub mod render;
pub mod source;
mod term;

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use model::{Scrape, Tracker};
use render::Header;
use source::{FetchError, Source};

/// What `logmux top` was asked to do.
#[derive(Debug, Clone)]
pub struct TopJob {
    pub source: Source,
    pub interval: Duration,
    /// The interval as the user wrote it, for the header.
    pub interval_text: String,
    /// Print one snapshot (after two scrapes, one interval apart) and exit.
    pub once: bool,
    pub utc: bool,
}

impl TopJob {
    /// How long one fetch may take: the interval, within 2 to 10 seconds.
    fn fetch_timeout(&self) -> Duration {
        self.interval
            .clamp(Duration::from_secs(2), Duration::from_secs(10))
    }

    fn header(&self) -> Header {
        Header {
            source: self.source.describe(),
            interval: self.interval_text.clone(),
            utc: self.utc,
            error: None,
        }
    }
}

/// Why `logmux top` stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("the terminal: {0}")]
    Terminal(std::io::Error),
    #[error("standard output is not a terminal: run `logmux top` in one (`docker exec -it`), or use --once")]
    NoTerminal,
}

/// Runs `logmux top` until q, Ctrl-C, TERM or HUP (or one snapshot).
pub fn run(job: TopJob) -> Result<(), TopError> {
    if job.once {
        return once(&job);
    }
    term::interactive(&job)
}

/// `--once`: two scrapes one interval apart, the screen's lines on stdout.
fn once(job: &TopJob) -> Result<(), TopError> {
    let mut tracker = Tracker::default();
    tracker.update(scrape(job)?);
    std::thread::sleep(job.interval);
    let view = tracker.update(scrape(job)?);
    let mut text = render::lines(&view, &job.header()).join("\n");
    text.push('\n');
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(TopError::Terminal(e)),
        _ => Ok(()),
    }
}

/// One fetch, read as a scrape.
fn scrape(job: &TopJob) -> Result<Scrape, FetchError> {
    let text = source::fetch(&job.source, job.fetch_timeout())?;
    Scrape::parse(&text, now_ms()).map_err(|message| FetchError::NotMetrics {
        source_name: job.source.describe(),
        message,
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
