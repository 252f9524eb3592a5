//! `[metrics]`: the same table in every door's config file.
//!
//! ```toml
//! [metrics]
//! listen = "127.0.0.1:9145"     # or "9145": a port alone means loopback
//! route_labels = 0              # paths as a `route` label: the first N
//! max_exception_types = 100     # the rest count as `other`
//! duration_buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
//! size_buckets = [100, 1000, 10000, 100000, 1000000, 10000000]
//! ```
//!
//! Errors name the file, line and key (`metrics.size_buckets`).

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::template;
use crate::metrics::{check_buckets, parse_listen, MetricsSpec};

/// `route_labels` and `max_exception_types` at most.
pub const MAX_LABEL_LIMIT: u64 = 10_000;

/// The `[metrics]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Spanned<String>>,
    pub route_labels: Option<Spanned<u64>>,
    pub max_exception_types: Option<Spanned<u64>>,
    pub duration_buckets: Option<Spanned<Vec<f64>>>,
    pub size_buckets: Option<Spanned<Vec<f64>>>,
}

/// Checks the table; `env` fills `${VAR}`s in `listen` (`logmux run`).
pub fn resolve(
    loc: &Locator<'_>,
    raw: &RawMetrics,
    env: Option<super::run::Env<'_>>,
) -> Result<MetricsSpec, ConfigError> {
    let mut spec = MetricsSpec::default();
    if let Some(l) = &raw.listen {
        let text = match env {
            Some(env) => template::render(l.get_ref(), env)
                .map_err(|e| loc.template(l.span().start, "metrics.listen", e))?,
            None => l.get_ref().clone(),
        };
        spec.listen = Some(
            parse_listen(&text).map_err(|e| loc.invalid(l.span().start, "metrics.listen", e))?,
        );
    }
    let limit = |v: &Option<Spanned<u64>>, key: &str, default: usize| match v {
        None => Ok(default),
        Some(n) if *n.get_ref() > MAX_LABEL_LIMIT => Err(loc.invalid(
            n.span().start,
            key,
            format!(
                "{} is more than {MAX_LABEL_LIMIT}: each one is a series Prometheus keeps",
                n.get_ref()
            ),
        )),
        Some(n) => Ok(*n.get_ref() as usize),
    };
    spec.route_labels = limit(&raw.route_labels, "metrics.route_labels", 0)?;
    spec.max_exception_types = limit(
        &raw.max_exception_types,
        "metrics.max_exception_types",
        spec.max_exception_types,
    )?;
    for (v, key, out) in [
        (
            &raw.duration_buckets,
            "metrics.duration_buckets",
            &mut spec.duration_buckets,
        ),
        (
            &raw.size_buckets,
            "metrics.size_buckets",
            &mut spec.size_buckets,
        ),
    ] {
        if let Some(b) = v {
            check_buckets(b.get_ref()).map_err(|e| loc.invalid(b.span().start, key, e))?;
            out.clone_from(b.get_ref());
        }
    }
    Ok(spec)
}
