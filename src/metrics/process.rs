//! The standard Prometheus process metrics, read from /proc/self at each
//! scrape: CPU seconds, resident memory, open and maximum descriptors, and
//! the start time. Whatever cannot be read is left out, not made up.

use super::expose::Writer;

/// Writes the `process_*` families.
pub fn collect(out: &mut Writer) {
    let tick = ticks_per_second();
    if let Some(stat) = self_stat() {
        if let (Some(utime), Some(stime)) = (stat.get(11), stat.get(12)) {
            let cpu = (parse(utime) + parse(stime)) / tick;
            gauge(
                out,
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent, in seconds.",
                cpu,
            );
        }
        if let Some(rss) = stat.get(21) {
            let page = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096.0);
            gauge(
                out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size, in bytes.",
                parse(rss) * page,
            );
        }
        if let (Some(start), Some(boot)) = (stat.get(19), boot_time()) {
            gauge(
                out,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since the Unix epoch, in seconds.",
                boot + parse(start) / tick,
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        // The directory's own descriptor is one of them.
        let n = dir.count().saturating_sub(1);
        gauge(
            out,
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            n as f64,
        );
    }
    if let Ok((soft, _)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        gauge(
            out,
            "process_max_fds",
            "gauge",
            "The limit on open file descriptors.",
            soft as f64,
        );
    }
}

fn gauge(out: &mut Writer, name: &str, kind: &str, help: &str, v: f64) {
    out.header(name, help, kind);
    out.sample(name, "", &[], None, v);
}

fn parse(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

/// /proc/self/stat's fields after the command name: index 0 is the state
/// (field 3 of proc(5)), so field N of proc(5) is index N - 3.
fn self_stat() -> Option<Vec<String>> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn sysconf(name: libc::c_int) -> Option<f64> {
    // SAFETY: sysconf reads a system constant; no memory is passed.
    let v = unsafe { libc::sysconf(name) };
    (v > 0).then_some(v as f64)
}

fn ticks_per_second() -> f64 {
    sysconf(libc::_SC_CLK_TCK).unwrap_or(100.0)
}
