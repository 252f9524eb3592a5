//! From two scrapes to what `logmux top` shows: rates, shares, quantiles.
//!
//! Pure: a [`Scrape`] is one exposition text read at one time; a
//! [`Tracker`] keeps the previous scrape and the exceptions seen so far,
//! and turns each new scrape into a [`View`]. Counters are compared as
//! Prometheus's `increase` does (a value below the last one is a reset: the
//! new value is the increase), except that a series new since the last
//! scrape counts from 0, so the first 5xx of a service shows at once.
//! Quantiles follow `histogram_quantile` over the buckets' increases.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use logmux_parsers::prom_text::{self, Sample};

/// How many exception rows are kept (newest first).
pub const MAX_EXCEPTIONS: usize = 8;

/// One exposition, read at one time.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// Unix time in milliseconds: the samples' own timestamp when they
    /// carry one (the newest), else when the text was fetched.
    pub at_ms: i64,
    pub samples: Vec<Sample>,
    /// Lines that were not samples (they are left out).
    pub bad_lines: usize,
    index: HashMap<String, f64>,
}

impl Scrape {
    /// Reads `text` fetched at `fetched_ms`; an error when not one line of
    /// it is a sample although some lines are something else.
    pub fn parse(text: &str, fetched_ms: i64) -> Result<Scrape, String> {
        let e = prom_text::parse(text);
        if e.samples.is_empty() {
            if let Some(first) = e.errors.first() {
                return Err(format!("not the Prometheus text format: {first}"));
            }
        }
        let at_ms = e
            .samples
            .iter()
            .filter_map(|s| s.timestamp_ms)
            .max()
            .unwrap_or(fetched_ms);
        let index = e.samples.iter().map(|s| (series_key(s), s.value)).collect();
        Ok(Scrape {
            at_ms,
            samples: e.samples,
            bad_lines: e.errors.len(),
            index,
        })
    }

    /// The samples named `name` whose label `key` is `value`.
    fn with<'a>(
        &'a self,
        name: &'a str,
        key: &'a str,
        value: &'a str,
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| s.name == name && s.label(key) == Some(value))
    }

    /// The sorted, distinct values of label `key` over the metrics `names`.
    fn label_values(&self, names: &[&str], key: &str) -> BTreeSet<String> {
        self.samples
            .iter()
            .filter(|s| names.contains(&s.name.as_str()))
            .filter_map(|s| s.label(key).map(str::to_string))
            .collect()
    }
}

/// A series' identity: its name and its labels, sorted.
fn series_key(s: &Sample) -> String {
    let mut labels: Vec<_> = s.labels.iter().collect();
    labels.sort();
    let mut key = s.name.clone();
    for (k, v) in labels {
        key.push_str(&format!("\u{0}{k}={v}"));
    }
    key
}

/// How much a counter series rose between `prev` and its sample `cur`.
fn increase(prev: &Scrape, cur: &Sample) -> f64 {
    let before = prev.index.get(&series_key(cur)).copied().unwrap_or(0.0);
    if cur.value >= before {
        cur.value - before
    } else {
        cur.value
    }
}

/// Per program: a row of the programs' table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramRow {
    pub name: String,
    /// `logmux_program_up`; None when absent.
    pub up: Option<bool>,
    /// `logmux_program_healthy`, only for programs with a probe.
    pub healthy: Option<bool>,
    pub restarts: Option<f64>,
    /// Lines read per second, both streams; None before a second scrape.
    pub lines_per_sec: Option<f64>,
}

/// Per service: a row of the services' table (None: nothing to say yet).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRow {
    pub name: String,
    pub requests_per_sec: Option<f64>,
    /// The share of 5xx answers among the interval's requests, 0..=1.
    pub error_share: Option<f64>,
    /// Latency quantiles in seconds.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

/// An exception type whose counter rose at one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionRow {
    /// Unix time in milliseconds of the scrape that saw it rise.
    pub at_ms: i64,
    pub service: String,
    pub kind: String,
    pub increase: f64,
}

/// Everything one screen shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    /// Unix time in milliseconds of the newest scrape.
    pub at_ms: i64,
    pub programs: Vec<ProgramRow>,
    pub services: Vec<ServiceRow>,
    /// Newest first.
    pub exceptions: Vec<ExceptionRow>,
    /// Lines of the last exposition that were not samples.
    pub bad_lines: usize,
}

/// The state between scrapes.
#[derive(Debug, Default)]
pub struct Tracker {
    prev: Option<Scrape>,
    last: View,
    exceptions: VecDeque<ExceptionRow>,
}

impl Tracker {
    /// Takes a new scrape and returns the view of it against the last one.
    /// A scrape no newer than the last (samples with the same timestamps,
    /// served again) changes nothing: the last view stays.
    pub fn update(&mut self, cur: Scrape) -> View {
        if self.prev.as_ref().is_some_and(|p| p.at_ms >= cur.at_ms) {
            return self.last.clone();
        }
        let prev = self.prev.as_ref();
        if let Some(prev) = prev {
            for row in risen_exceptions(prev, &cur).into_iter().rev() {
                self.exceptions.push_front(row);
            }
            self.exceptions.truncate(MAX_EXCEPTIONS);
        }
        let view = View {
            at_ms: cur.at_ms,
            programs: programs(prev, &cur),
            services: services(prev, &cur),
            exceptions: self.exceptions.iter().cloned().collect(),
            bad_lines: cur.bad_lines,
        };
        self.prev = Some(cur);
        self.last = view.clone();
        view
    }
}

/// Seconds between two scrapes (positive: [`Tracker::update`] checks).
fn seconds(prev: &Scrape, cur: &Scrape) -> f64 {
    (cur.at_ms - prev.at_ms) as f64 / 1000.0
}

fn programs(prev: Option<&Scrape>, cur: &Scrape) -> Vec<ProgramRow> {
    let names = [
        "logmux_program_up",
        "logmux_program_restarts_total",
        "logmux_input_lines_total",
    ];
    let gauge =
        |name: &str, program: &str| cur.with(name, "program", program).next().map(|s| s.value);
    cur.label_values(&names, "program")
        .into_iter()
        .map(|name| {
            let lines_per_sec = prev.and_then(|prev| {
                let mut lines = cur
                    .with("logmux_input_lines_total", "program", &name)
                    .peekable();
                lines.peek()?;
                Some(lines.map(|s| increase(prev, s)).sum::<f64>() / seconds(prev, cur))
            });
            ProgramRow {
                up: gauge("logmux_program_up", &name).map(|v| v == 1.0),
                healthy: gauge("logmux_program_healthy", &name).map(|v| v == 1.0),
                restarts: gauge("logmux_program_restarts_total", &name),
                lines_per_sec,
                name,
            }
        })
        .collect()
}

const REQUESTS: &str = "http_server_requests_total";
const DURATION_BUCKET: &str = "http_server_request_duration_seconds_bucket";

fn services(prev: Option<&Scrape>, cur: &Scrape) -> Vec<ServiceRow> {
    cur.label_values(&[REQUESTS, DURATION_BUCKET], "service")
        .into_iter()
        .map(|name| match prev {
            None => ServiceRow {
                name,
                requests_per_sec: None,
                error_share: None,
                p50: None,
                p99: None,
            },
            Some(prev) => service(prev, cur, name),
        })
        .collect()
}

fn service(prev: &Scrape, cur: &Scrape, name: String) -> ServiceRow {
    let (mut total, mut errors) = (0.0, 0.0);
    for s in cur.with(REQUESTS, "service", &name) {
        let inc = increase(prev, s);
        total += inc;
        if s.label("status_class") == Some("5xx") {
            errors += inc;
        }
    }
    let buckets = bucket_increases(prev, cur, &name);
    ServiceRow {
        requests_per_sec: Some(total / seconds(prev, cur)),
        error_share: (total > 0.0).then(|| errors / total),
        p50: histogram_quantile(0.5, &buckets),
        p99: histogram_quantile(0.99, &buckets),
        name,
    }
}

/// The increase of each latency bucket of `service` (summed over any other
/// labels), sorted by upper bound.
fn bucket_increases(prev: &Scrape, cur: &Scrape, service: &str) -> Vec<(f64, f64)> {
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for s in cur.with(DURATION_BUCKET, "service", service) {
        let Some(le) = s.label("le").and_then(parse_le) else {
            continue;
        };
        let inc = increase(prev, s);
        match by_le.iter_mut().find(|(bound, _)| *bound == le) {
            Some((_, count)) => *count += inc,
            None => by_le.push((le, inc)),
        }
    }
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_le
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        _ => s.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// Prometheus's `histogram_quantile(q, …)` over cumulative `buckets`
/// (upper bound, count), sorted by bound: linear interpolation inside the
/// bucket the rank falls in; the first bucket starts at 0 (when its bound
/// is positive); a rank in the `+Inf` bucket answers the highest finite
/// bound. None without a `+Inf` bucket, with fewer than two buckets, or
/// without observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let last = buckets.last()?;
    if buckets.len() < 2 || last.0 != f64::INFINITY || !(0.0..=1.0).contains(&q) {
        return None;
    }
    // Counts must not fall from one bucket to the next (increases over a
    // reset can make them): as Prometheus, take the running maximum.
    let mut counts: Vec<f64> = Vec::with_capacity(buckets.len());
    for (_, c) in buckets {
        let floor = counts.last().copied().unwrap_or(0.0);
        counts.push(c.max(floor));
    }
    let observations = *counts.last()?;
    if observations <= 0.0 {
        return None;
    }
    let rank = q * observations;
    let b = counts.iter().position(|&c| c >= rank)?;
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    let end = buckets[b].0;
    if b == 0 && end <= 0.0 {
        return Some(end);
    }
    let (start, below) = match b {
        0 => (0.0, 0.0),
        _ => (buckets[b - 1].0, counts[b - 1]),
    };
    let in_bucket = counts[b] - below;
    if in_bucket <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * (rank - below) / in_bucket)
}

/// The exception types whose counter rose, largest rise first, then by name.
fn risen_exceptions(prev: &Scrape, cur: &Scrape) -> Vec<ExceptionRow> {
    let mut rows: BTreeMap<(String, String), f64> = BTreeMap::new();
    for s in cur.samples.iter().filter(|s| s.name == "exceptions_total") {
        let inc = increase(prev, s);
        if inc > 0.0 {
            let service = s.label("service").unwrap_or("").to_string();
            let kind = s.label("type").unwrap_or("").to_string();
            *rows.entry((service, kind)).or_default() += inc;
        }
    }
    let mut rows: Vec<ExceptionRow> = rows
        .into_iter()
        .map(|((service, kind), increase)| ExceptionRow {
            at_ms: cur.at_ms,
            service,
            kind,
            increase,
        })
        .collect();
    rows.sort_by(|a, b| b.increase.total_cmp(&a.increase));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: &str = include_str!("../../tests/top/scrape-1.prom");
    const SECOND: &str = include_str!("../../tests/top/scrape-2.prom");

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn histogram_quantile_interpolates_as_prometheus_does() {
        let b = [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (f64::INFINITY, 40.0)];
        // rank 20: in (0.1, 0.5], 10 of 20 into the bucket: 0.1 + 0.4 * 0.5.
        assert!(close(histogram_quantile(0.5, &b), 0.3));
        // rank 2: in the first bucket, from 0: 0.1 * 2 / 10.
        assert!(close(histogram_quantile(0.05, &b), 0.02));
        assert!(close(histogram_quantile(1.0, &b), 1.0));
        // A rank in +Inf: the highest finite bound.
        let inf = [(0.1, 1.0), (f64::INFINITY, 4.0)];
        assert_eq!(histogram_quantile(0.99, &inf), Some(0.1));
        // No +Inf bucket, one bucket, no observations, a bad q: nothing.
        assert_eq!(histogram_quantile(0.5, &[(0.1, 1.0), (1.0, 2.0)]), None);
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 2.0)]), None);
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(histogram_quantile(1.5, &b), None);
        // A count that falls is taken as the running maximum.
        let bumpy = [(0.1, 10.0), (0.5, 5.0), (1.0, 20.0), (f64::INFINITY, 20.0)];
        assert!(close(histogram_quantile(0.5, &bumpy), 0.1));
    }

    #[test]
    fn counters_rise_reset_and_start_from_zero() {
        let prev = Scrape::parse("a_total 10\nb_total 10\n", 0).unwrap();
        let cur = Scrape::parse("a_total 25\nb_total 4\nc_total 3\n", 1000).unwrap();
        let incs: Vec<f64> = cur.samples.iter().map(|s| increase(&prev, s)).collect();
        assert_eq!(incs, vec![15.0, 4.0, 3.0]);
    }

    #[test]
    fn the_first_scrape_has_states_but_no_rates() {
        let mut t = Tracker::default();
        let v = t.update(Scrape::parse(FIRST, 0).unwrap());
        assert_eq!(v.at_ms, 1_700_000_000_000);
        let nginx = &v.programs[1];
        assert_eq!(
            (nginx.name.as_str(), nginx.up, nginx.restarts),
            ("nginx", Some(true), Some(0.0))
        );
        assert_eq!(nginx.lines_per_sec, None);
        assert_eq!(v.services[0].requests_per_sec, None);
        assert_eq!(v.exceptions, vec![]);
    }

    #[test]
    fn two_scrapes_give_exact_rates_shares_and_quantiles() {
        let mut t = Tracker::default();
        t.update(Scrape::parse(FIRST, 0).unwrap());
        let v = t.update(Scrape::parse(SECOND, 0).unwrap());
        assert_eq!(v.at_ms, 1_700_000_002_000);
        let rows: Vec<_> = v
            .programs
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.up,
                    p.healthy,
                    p.restarts,
                    p.lines_per_sec,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("cron", Some(false), None, Some(5.0), None),
                ("nginx", Some(true), None, Some(0.0), Some(125.0)),
                ("uwsgi", Some(true), Some(false), Some(3.0), Some(50.0)),
            ]
        );
        let (nginx, uwsgi) = (&v.services[0], &v.services[1]);
        assert_eq!(
            (
                nginx.name.as_str(),
                nginx.requests_per_sec,
                nginx.error_share
            ),
            ("nginx", Some(50.0), Some(0.0))
        );
        assert!(close(nginx.p50, 0.02) && close(nginx.p99, 0.095));
        assert_eq!(
            (
                uwsgi.name.as_str(),
                uwsgi.requests_per_sec,
                uwsgi.error_share
            ),
            ("uwsgi", Some(12.5), Some(0.2))
        );
        assert!(close(uwsgi.p50, 0.375) && close(uwsgi.p99, 2.3125));
        let ex: Vec<_> = v
            .exceptions
            .iter()
            .map(|e| (e.at_ms, e.kind.as_str(), e.increase))
            .collect();
        assert_eq!(
            ex,
            vec![
                (1_700_000_002_000, "ZeroDivisionError", 3.0),
                (1_700_000_002_000, "ValueError", 1.0)
            ]
        );
    }

    #[test]
    fn a_scrape_served_again_keeps_the_last_view() {
        let mut t = Tracker::default();
        t.update(Scrape::parse(FIRST, 0).unwrap());
        let v = t.update(Scrape::parse(SECOND, 0).unwrap());
        assert_eq!(t.update(Scrape::parse(SECOND, 0).unwrap()), v);
        assert_eq!(t.update(Scrape::parse(FIRST, 0).unwrap()), v);
        assert_eq!(v.services[0].requests_per_sec, Some(50.0));
    }

    #[test]
    fn newer_exceptions_come_first_and_the_list_is_bounded() {
        let mut t = Tracker::default();
        t.update(Scrape::parse("exceptions_total{service=\"s\",type=\"A\"} 0\n", 0).unwrap());
        let mut v = View::default();
        for i in 1..=10 {
            let text = format!(
                "exceptions_total{{service=\"s\",type=\"A\"}} {i}\nexceptions_total{{service=\"s\",type=\"T{i}\"}} 1\n"
            );
            v = t.update(Scrape::parse(&text, i * 1000).unwrap());
        }
        assert_eq!(v.exceptions.len(), MAX_EXCEPTIONS);
        let top: Vec<_> = v.exceptions[..3]
            .iter()
            .map(|e| (e.at_ms, e.kind.as_str()))
            .collect();
        assert_eq!(top, vec![(10_000, "A"), (10_000, "T10"), (9_000, "A")]);
    }

    #[test]
    fn text_that_is_not_metrics_is_an_error_and_empty_text_is_not() {
        let e = Scrape::parse("<html>nope</html>\n", 0).unwrap_err();
        assert_eq!(e, "not the Prometheus text format: line 1: expected a metric name at the start of `<html>nope</html>`");
        assert_eq!(Scrape::parse("", 5).unwrap().samples.len(), 0);
    }
}
