//! How many CPUs this process may use: the cgroup's CPU limit (cgroup v2
//! `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, as `docker run
//! --cpus` sets them), rounded up, and never more than the CPUs it may run
//! on. nginx's `worker_processes auto` and Python's `os.cpu_count()` see
//! the host's cores instead; logmux offers this as `LOGMUX_CPUS`.

use std::path::Path;

/// The CPUs this process may use (at least 1).
pub fn available() -> u32 {
    let cores = std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1);
    match limit_in(Path::new("/sys/fs/cgroup")) {
        Some(limit) => limit.min(cores).max(1),
        None => cores,
    }
}

/// The CPU limit set in the cgroup file system mounted at `root`, if any.
pub fn limit_in(root: &Path) -> Option<u32> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    if let Some(v2) = read("cpu.max") {
        return cpu_max(&v2);
    }
    ["cpu", "cpu,cpuacct"].iter().find_map(|dir| {
        let quota = read(&format!("{dir}/cpu.cfs_quota_us"))?;
        let period = read(&format!("{dir}/cpu.cfs_period_us"))?;
        quota_over_period(quota.trim(), period.trim())
    })
}

/// cgroup v2's `cpu.max`: `QUOTA PERIOD` (microseconds), or `max PERIOD`
/// for no limit.
pub fn cpu_max(text: &str) -> Option<u32> {
    let mut words = text.split_ascii_whitespace();
    let quota = words.next()?;
    let period = words.next().unwrap_or("100000");
    quota_over_period(quota, period)
}

/// QUOTA / PERIOD rounded up; none for `max`, -1 (v1's no limit), zero or
/// anything not a number.
fn quota_over_period(quota: &str, period: &str) -> Option<u32> {
    let quota: u64 = quota.parse().ok()?;
    let period: u64 = period.parse().ok()?;
    if quota == 0 || period == 0 {
        return None;
    }
    u32::try_from(quota.div_ceil(period)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_rounds_the_quota_up() {
        assert_eq!(cpu_max("100000 100000\n"), Some(1));
        assert_eq!(cpu_max("150000 100000\n"), Some(2));
        assert_eq!(cpu_max("50000 100000"), Some(1));
        assert_eq!(cpu_max("400000 100000"), Some(4));
        assert_eq!(cpu_max("max 100000\n"), None);
        assert_eq!(cpu_max(""), None);
        assert_eq!(cpu_max("0 100000"), None);
        assert_eq!(cpu_max("100000 0"), None);
    }

    #[test]
    fn limit_in_reads_v2_then_v1() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(limit_in(dir.path()), None);
        // cgroup v1, as Docker mounts it: -1 is no limit.
        let v1 = dir.path().join("cpu,cpuacct");
        std::fs::create_dir(&v1).expect("mkdir");
        std::fs::write(v1.join("cpu.cfs_period_us"), "100000\n").expect("write");
        std::fs::write(v1.join("cpu.cfs_quota_us"), "-1\n").expect("write");
        assert_eq!(limit_in(dir.path()), None);
        std::fs::write(v1.join("cpu.cfs_quota_us"), "250000\n").expect("write");
        assert_eq!(limit_in(dir.path()), Some(3));
        // cgroup v2's file wins when there is one.
        std::fs::write(dir.path().join("cpu.max"), "100000 100000\n").expect("write");
        assert_eq!(limit_in(dir.path()), Some(1));
    }

    #[test]
    fn available_is_at_least_one_and_at_most_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = available() as usize;
        assert!(n >= 1 && n <= cores, "{n} of {cores}");
    }
}
