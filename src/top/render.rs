//! A [`View`] as lines of plain text, and those lines as a ratatui widget.
//!
//! The same lines are the screen of `logmux top` and the snapshot of
//! `logmux top --once`, so a script sees what a person sees. No colours:
//! columns are padded with spaces, which every terminal (and `docker exec
//! -it`, and `tmux capture-pane`) shows the same.

use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::model::{ExceptionRow, ProgramRow, ServiceRow, View};

/// What the header line says besides the view.
#[derive(Debug, Clone)]
pub struct Header {
    /// Where the metrics come from: a socket path or a URL.
    pub source: String,
    /// The refresh interval, as given (`1s`).
    pub interval: String,
    /// Show times in UTC instead of the local zone.
    pub utc: bool,
    /// The last fetch's error, when it failed (the view is the last good one).
    pub error: Option<String>,
}

/// The whole screen, line by line.
pub fn lines(view: &View, header: &Header) -> Vec<String> {
    let mut out = vec![format!(
        "logmux top  {}  every {}  {}  (q quits)",
        header.source,
        header.interval,
        clock(view.at_ms, header.utc)
    )];
    if let Some(error) = &header.error {
        out.push(format!("! {error}"));
    }
    if view.bad_lines > 0 {
        out.push(format!(
            "! {} lines of the metrics were not understood",
            view.bad_lines
        ));
    }
    out.push(String::new());
    out.extend(table(
        ["PROGRAM", "STATE", "RESTARTS", "LINES/S"]
            .map(String::from)
            .to_vec(),
        view.programs.iter().map(program_cells).collect(),
    ));
    out.push(String::new());
    out.extend(table(
        ["SERVICE", "REQ/S", "5XX", "P50", "P99"]
            .map(String::from)
            .to_vec(),
        view.services.iter().map(service_cells).collect(),
    ));
    out.push(String::new());
    out.push("EXCEPTIONS (newest first)".to_string());
    let rows: Vec<Vec<String>> = view
        .exceptions
        .iter()
        .map(|e| exception_cells(e, header.utc))
        .collect();
    if rows.is_empty() {
        out.push("none seen since logmux top started".to_string());
    }
    out.extend(table(Vec::new(), rows));
    out
}

/// Draws `lines` on the whole frame; what does not fit is cut.
pub fn draw(frame: &mut Frame, lines: &[String]) {
    frame.render_widget(Paragraph::new(lines.join("\n")), frame.area());
}

fn program_cells(p: &ProgramRow) -> Vec<String> {
    let state = match (p.up, p.healthy) {
        (Some(true), Some(false)) => "up, unhealthy",
        (Some(true), _) => "up",
        (Some(false), _) => "down",
        (None, _) => "-",
    };
    vec![
        p.name.clone(),
        state.to_string(),
        p.restarts.map_or("-".into(), |r| format!("{r}")),
        p.lines_per_sec.map_or("-".into(), rate),
    ]
}

fn service_cells(s: &ServiceRow) -> Vec<String> {
    vec![
        s.name.clone(),
        s.requests_per_sec.map_or("-".into(), rate),
        s.error_share
            .map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
        s.p50.map_or("-".into(), latency),
        s.p99.map_or("-".into(), latency),
    ]
}

fn exception_cells(e: &ExceptionRow, utc: bool) -> Vec<String> {
    vec![
        clock(e.at_ms, utc),
        e.service.clone(),
        e.kind.clone(),
        format!("+{}", e.increase),
    ]
}

/// A per-second rate, one decimal.
fn rate(r: f64) -> String {
    format!("{r:.1}")
}

/// Seconds as `12.3 ms` below one second, `1.23 s` from there.
fn latency(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// `HH:MM:SS` of a Unix time in milliseconds, local or UTC.
fn clock(ms: i64, utc: bool) -> String {
    use chrono::{Local, TimeZone, Utc};
    let Some(t) = Utc.timestamp_millis_opt(ms).single() else {
        return "--:--:--".to_string();
    };
    match utc {
        true => t.format("%H:%M:%S").to_string(),
        false => t.with_timezone(&Local).format("%H:%M:%S").to_string(),
    }
}

/// Rows padded into columns two spaces apart; the header first when given.
fn table(header: Vec<String>, rows: Vec<Vec<String>>) -> Vec<String> {
    let all: Vec<&Vec<String>> = std::iter::once(&header)
        .filter(|h| !h.is_empty())
        .chain(rows.iter())
        .collect();
    let columns = all.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            all.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    all.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, &w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::model::{Scrape, Tracker};
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;

    fn known_view() -> View {
        let mut t = Tracker::default();
        t.update(Scrape::parse(include_str!("../../tests/top/scrape-1.prom"), 0).unwrap());
        t.update(Scrape::parse(include_str!("../../tests/top/scrape-2.prom"), 0).unwrap())
    }

    fn header() -> Header {
        Header {
            source: "/run/logmux.sock".into(),
            interval: "2s".into(),
            utc: true,
            error: None,
        }
    }

    #[test]
    fn the_screen_of_two_known_scrapes() {
        assert_eq!(
            lines(&known_view(), &header()),
            vec![
                "logmux top  /run/logmux.sock  every 2s  22:13:22  (q quits)",
                "",
                "PROGRAM  STATE          RESTARTS  LINES/S",
                "cron     down           5         -",
                "nginx    up             0         125.0",
                "uwsgi    up, unhealthy  3         50.0",
                "",
                "SERVICE  REQ/S  5XX    P50       P99",
                "nginx    50.0   0.0%   20.0 ms   95.0 ms",
                "uwsgi    12.5   20.0%  375.0 ms  2.31 s",
                "",
                "EXCEPTIONS (newest first)",
                "22:13:22  uwsgi  ZeroDivisionError  +3",
                "22:13:22  uwsgi  ValueError         +1",
            ]
        );
    }

    #[test]
    fn an_empty_view_and_a_failed_fetch_say_so() {
        let mut h = header();
        h.error = Some("cannot reach logmux".into());
        let v = View {
            bad_lines: 2,
            ..View::default()
        };
        assert_eq!(
            lines(&v, &h),
            vec![
                "logmux top  /run/logmux.sock  every 2s  00:00:00  (q quits)",
                "! cannot reach logmux",
                "! 2 lines of the metrics were not understood",
                "",
                "PROGRAM  STATE  RESTARTS  LINES/S",
                "",
                "SERVICE  REQ/S  5XX  P50  P99",
                "",
                "EXCEPTIONS (newest first)",
                "none seen since logmux top started",
            ]
        );
    }

    #[test]
    fn the_terminal_shows_exactly_those_cells_cut_to_its_size() {
        let mut terminal = Terminal::new(TestBackend::new(40, 11)).unwrap();
        let text = lines(&known_view(), &header());
        terminal.draw(|f| draw(f, &text)).unwrap();
        terminal.backend().assert_buffer(&Buffer::with_lines([
            "logmux top  /run/logmux.sock  every 2s  ",
            "                                        ",
            "PROGRAM  STATE          RESTARTS  LINES/",
            "cron     down           5         -     ",
            "nginx    up             0         125.0 ",
            "uwsgi    up, unhealthy  3         50.0  ",
            "                                        ",
            "SERVICE  REQ/S  5XX    P50       P99    ",
            "nginx    50.0   0.0%   20.0 ms   95.0 ms",
            "uwsgi    12.5   20.0%  375.0 ms  2.31 s ",
            "                                        ",
        ]));
    }
}
