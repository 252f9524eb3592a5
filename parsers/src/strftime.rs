//! A `strftime` pattern read back: the date a program wrote with a format
//! the user gives, such as uWSGI's `--logdate=%Y-%m-%d %H:%M:%S`.
//!
//! Only the conversions that print a fixed field of a date are supported
//! (`%Y %m %d %e %H %M %S %y %b %a %T %F %z %%`); a pattern with anything
//! else is refused when it is compiled, with the conversion named, so a
//! typo is a clear error instead of lines that never match. Times without
//! `%z` are local time.

use crate::time::{month_from_abbr, Offset, Timestamp};

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(u8),
    Year4,
    Year2,
    Month,
    MonthAbbr,
    /// `%d` (`03`) or `%e` (` 3`): two bytes, a leading space allowed.
    Day,
    Hour,
    Minute,
    Second,
    WeekdayAbbr,
    Zone,
}

/// A compiled `strftime` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strftime {
    items: Vec<Item>,
}

/// The date and time parts read so far.
#[derive(Default)]
struct Parts {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    zone: Option<i16>,
}

impl Strftime {
    /// Compiles `pattern`; the error names the conversion it does not know.
    pub fn compile(pattern: &str) -> Result<Strftime, String> {
        let mut items = Vec::new();
        let mut bytes = pattern.bytes();
        while let Some(b) = bytes.next() {
            if b != b'%' {
                items.push(Item::Literal(b));
                continue;
            }
            let conv = bytes.next().ok_or("the pattern ends with a lone `%`")?;
            items.extend(match conv {
                b'Y' => vec![Item::Year4],
                b'y' => vec![Item::Year2],
                b'm' => vec![Item::Month],
                b'b' | b'h' => vec![Item::MonthAbbr],
                b'd' | b'e' => vec![Item::Day],
                b'H' => vec![Item::Hour],
                b'M' => vec![Item::Minute],
                b'S' => vec![Item::Second],
                b'a' => vec![Item::WeekdayAbbr],
                b'z' => vec![Item::Zone],
                b'T' => vec![
                    Item::Hour,
                    Item::Literal(b':'),
                    Item::Minute,
                    Item::Literal(b':'),
                    Item::Second,
                ],
                b'F' => vec![
                    Item::Year4,
                    Item::Literal(b'-'),
                    Item::Month,
                    Item::Literal(b'-'),
                    Item::Day,
                ],
                b'%' => vec![Item::Literal(b'%')],
                other => {
                    return Err(format!(
                        "`%{}` is not supported; use %Y %m %d %e %H %M %S %y %b %a %T %F %z or %%",
                        char::from(other)
                    ))
                }
            });
        }
        let has = |i: &Item| items.contains(i);
        if !(has(&Item::Year4) || has(&Item::Year2)) || !has(&Item::Day) || !has(&Item::Hour) {
            return Err("the pattern needs a year (%Y or %y), a day (%d) and an hour (%H)".into());
        }
        if !(has(&Item::Month) || has(&Item::MonthAbbr)) {
            return Err("the pattern needs a month (%m or %b)".into());
        }
        Ok(Strftime { items })
    }

    /// Reads the pattern at the start of `b`: the time and the bytes it took.
    pub fn parse_prefix(&self, b: &[u8]) -> Option<(Timestamp, usize)> {
        let mut p = Parts::default();
        let mut at = 0;
        for item in &self.items {
            at += self.item(item, b.get(at..)?, &mut p)?;
        }
        let offset = match p.zone {
            Some(minutes) => Offset::Minutes(minutes),
            None => Offset::Local,
        };
        let ts = Timestamp::new(p.year, p.month, p.day, p.hour, p.minute, p.second, offset)?;
        Some((ts, at))
    }

    /// Reads one item at the start of `b` into `p`; returns its length.
    fn item(&self, item: &Item, b: &[u8], p: &mut Parts) -> Option<usize> {
        let two = |b: &[u8]| crate::time::two_digits(b.get(..2)?);
        match item {
            Item::Literal(c) => (b.first() == Some(c)).then_some(1),
            Item::Year4 => {
                p.year = crate::time::four_digits(b.get(..4)?)?;
                Some(4)
            }
            Item::Year2 => {
                p.year = 2000 + u16::from(two(b)?);
                Some(2)
            }
            Item::Month => {
                p.month = two(b)?;
                Some(2)
            }
            Item::MonthAbbr => {
                p.month = month_from_abbr(b.get(..3)?)?;
                Some(3)
            }
            Item::Day => {
                p.day = match b.first()? {
                    b' ' => crate::time::two_digits(&[b'0', *b.get(1)?])?,
                    _ => two(b)?,
                };
                Some(2)
            }
            Item::Hour => {
                p.hour = two(b)?;
                Some(2)
            }
            Item::Minute => {
                p.minute = two(b)?;
                Some(2)
            }
            Item::Second => {
                p.second = two(b)?;
                Some(2)
            }
            Item::WeekdayAbbr => b.get(..3)?.iter().all(u8::is_ascii_alphabetic).then_some(3),
            Item::Zone => {
                p.zone = Some(crate::time::parse_numeric_offset(b.get(..5)?)?);
                Some(5)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_patterns() {
        for (pattern, line, want) in [
            (
                "%Y-%m-%d %H:%M:%S",
                "2026-12-03 14:21:34 - x",
                "2026-12-03T14:21:34+00:00",
            ),
            (
                "%d/%b/%Y:%T %z",
                "03/Dec/2026:14:21:34 +0100 - x",
                "2026-12-03T14:21:34+01:00",
            ),
            (
                "[%a %b %e %T %Y]",
                "[Thu Dec  3 14:21:34 2026] - x",
                "2026-12-03T14:21:34+00:00",
            ),
            ("%F %T", "2026-12-03 14:21:34", "2026-12-03T14:21:34+00:00"),
        ] {
            let f = Strftime::compile(pattern).unwrap();
            let (ts, n) = f
                .parse_prefix(line.as_bytes())
                .unwrap_or_else(|| panic!("{line}"));
            assert_eq!(ts.to_rfc3339(0), want, "{pattern}");
            assert_eq!(
                line.get(n..).map(|r| r.starts_with(" - ") || r.is_empty()),
                Some(true)
            );
        }
        let f = Strftime::compile("%Y-%m-%d %H:%M:%S").unwrap();
        assert!(f.parse_prefix(b"2026-13-03 14:21:34").is_none());
        assert!(f.parse_prefix(b"2026-12-03").is_none());
    }

    #[test]
    fn bad_patterns_say_why() {
        assert!(Strftime::compile("%Y-%m-%d %H:%M:%S.%f")
            .unwrap_err()
            .contains("`%f`"));
        assert!(Strftime::compile("%H:%M").unwrap_err().contains("year"));
        assert!(Strftime::compile("%Y %d %H %")
            .unwrap_err()
            .contains("lone"));
    }

    proptest! {
        #[test]
        fn never_panics(pattern in "[%a-zA-Z :/\\[\\]-]{0,20}", line in any::<Vec<u8>>()) {
            if let Ok(f) = Strftime::compile(&pattern) {
                let _ = f.parse_prefix(&line);
            }
        }
    }
}
