//! The terminal part of `logmux top`: raw mode and the alternate screen
//! (restored on every way out: q, Ctrl-C, TERM, HUP, an error, a panic),
//! keys and resize through crossterm, and a fetcher thread so that a slow
//! source never makes the keys wait. No mouse capture and no colours, so
//! it works the same over `docker exec -it` and in tmux.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use super::model::{Scrape, Tracker};
use super::source::FetchError;
use super::{render, scrape, TopError, TopJob};

/// How often keys, signals and new scrapes are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Runs the live view until q, Ctrl-C, TERM or HUP.
pub fn interactive(job: &TopJob) -> Result<(), TopError> {
    if !std::io::stdout().is_terminal() {
        return Err(TopError::NoTerminal);
    }
    // The first fetch comes before the screen changes: when logmux cannot
    // be reached or has no metrics, that is said on a normal terminal.
    let first = scrape(job)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(TopError::Terminal)?;
    }
    let scrapes = fetcher(job.clone());
    let guard = Screen::enter().map_err(TopError::Terminal)?;
    let result = show(job, first, &scrapes, &stop);
    drop(guard);
    result.map_err(TopError::Terminal)
}

/// Fetches one scrape per interval on a thread of its own.
fn fetcher(job: TopJob) -> mpsc::Receiver<Result<Scrape, FetchError>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        std::thread::sleep(job.interval);
        if tx.send(scrape(&job)).is_err() {
            return;
        }
    });
    rx
}

/// The draw-and-read loop.
fn show(
    job: &TopJob,
    first: Scrape,
    scrapes: &mpsc::Receiver<Result<Scrape, FetchError>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let mut tracker = Tracker::default();
    let mut view = tracker.update(first);
    let mut header = job.header();
    // Drawn again only after a scrape, a failed fetch or a terminal event
    // (a resize): an idle view costs next to nothing.
    let mut dirty = true;
    while !stop.load(Ordering::Relaxed) {
        if std::mem::take(&mut dirty) {
            let text = render::lines(&view, &header);
            terminal.draw(|frame| render::draw(frame, &text))?;
        }
        if event::poll(TICK)? {
            if quits(&event::read()?) {
                return Ok(());
            }
            dirty = true;
        }
        while let Ok(next) = scrapes.try_recv() {
            dirty = true;
            match next {
                Ok(scrape) => {
                    view = tracker.update(scrape);
                    header.error = None;
                }
                Err(e) => header.error = Some(e.to_string()),
            }
        }
    }
    Ok(())
}

/// q, Q, Esc or Ctrl-C (a key in raw mode, not a signal).
fn quits(event: &Event) -> bool {
    let Event::Key(key) = event else {
        return false;
    };
    key.kind == KeyEventKind::Press
        && (matches!(key.code, KeyCode::Char('q' | 'Q') | KeyCode::Esc)
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)))
}

/// Raw mode and the alternate screen while it lives; restored on drop and
/// on a panic.
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        terminal::enable_raw_mode()?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        let screen = Screen;
        execute!(std::io::stdout(), EnterAlternateScreen, cursor::Hide)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}
