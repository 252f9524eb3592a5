//! One grammar for durations and sizes, used by flags and config files alike,
//! so that `--idle-flush 2h` and `idle_flush = "2h"` mean the same.
//!
//! - Durations: a number (fractions allowed) and a unit: `500ms`, `1.5s`,
//!   `10s`, `5m`, `2h`, `1d`; a bare number is seconds.
//! - Sizes: a whole number and a unit: `4096` (bytes), `64KiB`, `1MiB`,
//!   `1GiB` (powers of 1024, also written `K`, `M`, `G`), or `64KB`, `64MB`,
//!   `1GB` (powers of 1000, as the SI says).
//!
//! Hand-written because no well-kept crate reads both fractions and days
//! (humantime rejects `1.5s`) and the size crates disagree on whether `1M`
//! is 10^6 or 2^20; ours keeps the meaning logmux has always given it.

use std::time::Duration;

/// A duration that must not be zero (`--idle-timeout`: a connection needs
/// some time to send a message).
pub fn parse_nonzero_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    Ok(d)
}

/// Parses a duration such as `500ms`, `1.5s`, `2h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("`{t}` is not a duration like 500ms, 1.5s, 10s, 5m, 2h or 1d");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(format!(
                "`{t}`: unknown unit `{other}` (use ms, s, m, h or d)"
            ))
        }
    };
    // Whole milliseconds and seconds stay exact (no float rounding).
    if !number.contains('.') {
        let n: u64 = number.parse().map_err(|_| bad())?;
        return Ok(match unit.trim() {
            "ms" => Duration::from_millis(n),
            _ => Duration::from_secs(n.saturating_mul(unit_secs as u64)),
        });
    }
    Duration::try_from_secs_f64(value * unit_secs).map_err(|_| format!("`{t}` is too long"))
}

/// Parses a size such as `4096`, `64KiB`, `64MB` or `1G`, in bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{t}` is not a size like 4096, 64KiB, 64MB or 1GiB"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{t}`: unknown size unit `{other}` (use KiB, MiB, GiB, or KB, MB, GB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{t}` is too large"))
}

/// The sizes of buffers and files: between 16 bytes and 1 GiB.
pub fn parse_buffer_size(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    check_buffer_size(size).map_err(|e| format!("`{}` {e}", text.trim()))
}

/// Whether `size` bytes is a valid buffer or file size (16 B to 1 GiB).
pub fn check_buffer_size(size: u64) -> Result<usize, String> {
    if (16..=1 << 30).contains(&size) {
        Ok(size as usize)
    } else {
        Err("must be between 16 bytes and 1GiB".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("1d"), Duration::from_secs(86400));
        assert_eq!(ok("0.5h"), Duration::from_secs(1800));
        for bad in ["", "h", "2x", "1.s", ".5s", "-1s", "1e3s", "2 hours"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_nonzero_duration("1ms"), Ok(Duration::from_millis(1)));
        assert!(parse_nonzero_duration("0s").is_err());
        assert!(parse_nonzero_duration("0").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert_eq!(parse_buffer_size("64MB"), Ok(64_000_000));
        assert!(parse_buffer_size("3").is_err());
        assert!(parse_buffer_size("2GiB").is_err());
    }
}
