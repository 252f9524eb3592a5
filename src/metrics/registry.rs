//! The metric types and the registry that holds them.
//!
//! A [`Counter`], [`Gauge`] or [`Histogram`] is a few atomics: recording
//! never locks and never allocates. A [`Family`] is one metric name with
//! its label sets; looking a label set up takes a read lock and hashes the
//! values (no allocation when the series exists), so the hot paths keep
//! the handles they use ([`super::events::EventCache`]). Every family has
//! a limit on its series: past it, new label sets count in one series
//! whose labels all say `other`, so no input can grow memory without end.
//! The [`Registry`] writes every family, and what its collectors report at
//! scrape time, in the Prometheus text format ([`super::expose`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use super::expose::Writer;

/// A label set's values, in the family's label order.
type Labels = Box<[Box<str>]>;

/// A value that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

/// Observations counted into buckets by upper bound (`le`), with their
/// sum and count. Each bucket counts only its own range; the cumulative
/// counts Prometheus expects are summed when written.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    /// One per bound, and a last one for `+Inf`.
    buckets: Box<[AtomicU64]>,
    /// The sum, as the bits of an f64.
    sum: AtomicU64,
}

impl Histogram {
    /// `bounds` must be finite and strictly increasing (the config checks).
    pub fn new(bounds: Arc<[f64]>) -> Histogram {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            buckets,
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Counts `v` in the first bucket whose bound is at least `v`.
    #[inline]
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let i = self.bounds.partition_point(|b| *b < v);
        self.buckets[i].fetch_add(1, Relaxed);
        let mut old = self.sum.load(Relaxed);
        loop {
            let new = (f64::from_bits(old) + v).to_bits();
            match self.sum.compare_exchange_weak(old, new, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
    }

    /// `(bound, cumulative count)` per bucket (`+Inf` last, as infinity),
    /// the sum and the count.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut total = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            total += b.load(Relaxed);
            out.push((self.bounds.get(i).copied().unwrap_or(f64::INFINITY), total));
        }
        (out, f64::from_bits(self.sum.load(Relaxed)), total)
    }
}

/// What a family's series are and how a new one is made.
pub trait Metric: Send + Sync + 'static {
    /// The Prometheus type word.
    const KIND: &'static str;
    /// What a new series of the family is made from.
    type Init: Send + Sync;
    fn create(init: &Self::Init) -> Self;
    fn write(&self, name: &str, labels: &[(&str, &str)], out: &mut Writer);
}

impl Metric for Counter {
    const KIND: &'static str = "counter";
    type Init = ();
    fn create(_: &()) -> Counter {
        Counter::default()
    }
    fn write(&self, name: &str, labels: &[(&str, &str)], out: &mut Writer) {
        out.sample(name, "", labels, None, self.get() as f64);
    }
}

impl Metric for Gauge {
    const KIND: &'static str = "gauge";
    type Init = ();
    fn create(_: &()) -> Gauge {
        Gauge::default()
    }
    fn write(&self, name: &str, labels: &[(&str, &str)], out: &mut Writer) {
        out.sample(name, "", labels, None, self.get() as f64);
    }
}

impl Metric for Histogram {
    const KIND: &'static str = "histogram";
    type Init = Arc<[f64]>;
    fn create(bounds: &Arc<[f64]>) -> Histogram {
        Histogram::new(Arc::clone(bounds))
    }
    fn write(&self, name: &str, labels: &[(&str, &str)], out: &mut Writer) {
        let (buckets, sum, count) = self.snapshot();
        for (le, n) in buckets {
            out.sample(name, "_bucket", labels, Some(le), n as f64);
        }
        out.sample(name, "_sum", labels, None, sum);
        out.sample(name, "_count", labels, None, count as f64);
    }
}

/// The label value of the series that takes what is past a limit.
pub const OTHER: &str = "other";

/// One metric name and its series, one per label set, at most `limit`
/// of them (then one more: all labels `other`).
pub struct Family<M: Metric> {
    name: &'static str,
    help: &'static str,
    labels: Box<[&'static str]>,
    init: M::Init,
    limit: usize,
    series: RwLock<Series<M>>,
}

struct Series<M> {
    /// By the hash of the label values; a collision shares the bucket.
    by_hash: HashMap<u64, Vec<(Labels, Arc<M>)>>,
    count: usize,
    overflow: Option<Arc<M>>,
}

impl<M: Metric> Family<M> {
    pub fn new(
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
        init: M::Init,
        limit: usize,
    ) -> Family<M> {
        Family {
            name,
            help,
            labels: labels.into(),
            init,
            limit,
            series: RwLock::new(Series {
                by_hash: HashMap::new(),
                count: 0,
                overflow: None,
            }),
        }
    }

    fn hash(values: &[&str]) -> u64 {
        // Fixed seed: the label values come from input, but the limit
        // bounds what a collision could cost.
        let mut h = foldhash::fast::FixedState::with_seed(0x6c6f_676d_7578).build_hasher();
        for v in values {
            v.hash(&mut h);
        }
        h.finish()
    }

    /// The series of `values` (one per label, in order), made if new.
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        let hash = Self::hash(values);
        {
            let s = self.series.read().unwrap_or_else(|e| e.into_inner());
            if let Some(m) = find(&s.by_hash, hash, values) {
                return m;
            }
        }
        let mut s = self.series.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = find(&s.by_hash, hash, values) {
            return m;
        }
        if s.count >= self.limit {
            return Arc::clone(
                s.overflow
                    .get_or_insert_with(|| Arc::new(M::create(&self.init))),
            );
        }
        let m = Arc::new(M::create(&self.init));
        let key: Labels = values.iter().map(|v| Box::<str>::from(*v)).collect();
        s.by_hash
            .entry(hash)
            .or_default()
            .push((key, Arc::clone(&m)));
        s.count += 1;
        m
    }

    /// Series in use, not counting the overflow one.
    pub fn len(&self) -> usize {
        self.series.read().unwrap_or_else(|e| e.into_inner()).count
    }

    /// Whether no series has been made yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn find<M>(
    map: &HashMap<u64, Vec<(Labels, Arc<M>)>>,
    hash: u64,
    values: &[&str],
) -> Option<Arc<M>> {
    let bucket = map.get(&hash)?;
    bucket
        .iter()
        .find(|(k, _)| k.len() == values.len() && k.iter().zip(values).all(|(a, b)| &**a == *b))
        .map(|(_, m)| Arc::clone(m))
}

/// A family, whatever its metric type, as the registry writes it.
pub trait Collect: Send + Sync {
    fn collect(&self, out: &mut Writer);
}

impl<M: Metric> Collect for Family<M> {
    fn collect(&self, out: &mut Writer) {
        let s = self.series.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<(&Labels, &Arc<M>)> = s
            .by_hash
            .values()
            .flat_map(|b| b.iter().map(|(k, m)| (k, m)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        out.header(self.name, self.help, M::KIND);
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(self.labels.len());
        for (values, m) in all {
            pairs.clear();
            pairs.extend(self.labels.iter().copied().zip(values.iter().map(|v| &**v)));
            m.write(self.name, &pairs, out);
        }
        if let Some(m) = &s.overflow {
            pairs.clear();
            pairs.extend(self.labels.iter().map(|l| (*l, OTHER)));
            m.write(self.name, &pairs, out);
        }
    }
}

/// Label values admitted up to a limit; past it, [`OTHER`]. For the
/// values that come from input: exception types, routes, services.
pub struct Bounded {
    limit: usize,
    seen: RwLock<std::collections::HashSet<Box<str>>>,
}

impl Bounded {
    pub fn new(limit: usize) -> Bounded {
        Bounded {
            limit,
            seen: RwLock::new(std::collections::HashSet::new()),
        }
    }

    /// `value` if it is admitted (seen before, or room for it), else `other`.
    pub fn admit<'v>(&self, value: &'v str) -> &'v str {
        if self
            .seen
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(value)
        {
            return value;
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.contains(value) {
            return value;
        }
        if seen.len() >= self.limit {
            return OTHER;
        }
        seen.insert(value.into());
        value
    }
}

/// Writes metrics that are read, not counted: called at each scrape.
pub type Collector = Box<dyn Fn(&mut Writer) + Send + Sync>;

/// Every family of one logmux process, and its scrape-time collectors.
#[derive(Default)]
pub struct Registry {
    families: Mutex<Vec<Arc<dyn Collect>>>,
    collectors: Mutex<Vec<Collector>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a family; it is written in the order registered.
    pub fn register<M: Metric>(&self, family: Family<M>) -> Arc<Family<M>> {
        let f = Arc::new(family);
        let dynamic: Arc<dyn Collect> = Arc::clone(&f) as Arc<dyn Collect>;
        self.families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dynamic);
        f
    }

    /// Adds a collector, called at every scrape after the families.
    pub fn add_collector(&self, c: Collector) {
        self.collectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(c);
    }

    /// The exposition text (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Writer::new();
        let families: Vec<Arc<dyn Collect>> = self
            .families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for f in families {
            f.collect(&mut out);
        }
        for c in self
            .collectors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            c(&mut out);
        }
        out.finish()
    }
}

/// A counter whose total is kept elsewhere and copied in (a program's
/// restarts, counted by the supervisor): written as a counter.
#[derive(Debug, Default)]
pub struct CopiedCounter(AtomicU64);

impl CopiedCounter {
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }
}

impl Metric for CopiedCounter {
    const KIND: &'static str = "counter";
    type Init = ();
    fn create(_: &()) -> CopiedCounter {
        CopiedCounter::default()
    }
    fn write(&self, name: &str, labels: &[(&str, &str)], out: &mut Writer) {
        out.sample(name, "", labels, None, self.0.load(Relaxed) as f64);
    }
}
