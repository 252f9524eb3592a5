//! Timestamps as log lines print them, and RFC 3339 as logmux writes them.
//!
//! Parsing goes field by field into a [`Timestamp`] without a calendar
//! library: the hot path (nginx's `$time_local`) must cost a few
//! nanoseconds. A time printed without a zone (nginx's error log, uWSGI,
//! supervisord) is [`Offset::Local`]; the engine resolves it with the local
//! zone, since this crate does no I/O.

use std::cell::Cell;
use std::thread::LocalKey;

/// The zone a timestamp was printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// `Z`.
    Utc,
    /// A fixed offset east of UTC, in minutes (`+0100` is 60).
    Minutes(i16),
    /// No zone printed: the writer's local time.
    Local,
}

/// A calendar time as printed in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
    /// How many fraction digits to write (0, 3, 6 or 9).
    pub frac_digits: u8,
    pub offset: Offset,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Jan` → 1 … `Dec` → 12.
#[inline]
pub fn month_from_abbr(b: &[u8]) -> Option<u8> {
    let pos = MONTHS.iter().position(|m| m.as_slice() == b)?;
    Some(pos as u8 + 1)
}

/// Two ASCII digits.
#[inline]
pub fn two_digits(b: &[u8]) -> Option<u8> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some((a - b'0') * 10 + (c - b'0')),
        _ => None,
    }
}

/// Four ASCII digits.
#[inline]
pub fn four_digits(b: &[u8]) -> Option<u16> {
    match b {
        [a, c, d, e] if b.iter().all(u8::is_ascii_digit) => Some(
            u16::from(a - b'0') * 1000
                + u16::from(c - b'0') * 100
                + u16::from(d - b'0') * 10
                + u16::from(e - b'0'),
        ),
        _ => None,
    }
}

/// Days in a month of a year of the Gregorian calendar.
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Timestamp {
    /// A timestamp with whole seconds; `None` if any part is out of range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        offset: Offset,
    ) -> Option<Timestamp> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second <= 60;
        valid.then_some(Timestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos: 0,
            frac_digits: 0,
            offset,
        })
    }

    /// Adds a fraction of a second given as its digits (`"123"` is 123 ms).
    pub fn with_fraction(mut self, digits: &[u8]) -> Option<Timestamp> {
        // Nanoseconds per unit of the last digit, by the number of digits.
        const SCALE: [u32; 10] = [
            0,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        let scale = *SCALE.get(digits.len()).filter(|s| **s != 0)?;
        // One pass: each byte checked and added (a syslog header's time is
        // parsed once a message).
        let mut n = 0u32;
        for d in digits {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n * 10 + u32::from(digit);
        }
        self.nanos = n * scale;
        self.frac_digits = match digits.len() {
            1..=3 => 3,
            4..=6 => 6,
            _ => 9,
        };
        Some(self)
    }

    /// The UTC time `secs` seconds and `nanos` nanoseconds after the Unix
    /// epoch, written with `frac_digits` fraction digits.
    pub fn from_unix(secs: i64, nanos: u32, frac_digits: u8) -> Timestamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999) as u16;
        Timestamp {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            nanos: nanos.min(999_999_999),
            frac_digits,
            offset: Offset::Utc,
        }
    }

    /// Writes RFC 3339, e.g. `2024-03-05T10:15:32+01:00`. A
    /// [`Offset::Local`] time is written with `local_offset_minutes`.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>, local_offset_minutes: i16) {
        let mut buf = [0u8; 35];
        let n = self.format_rfc3339(&mut buf, local_offset_minutes);
        out.extend_from_slice(&buf[..n]);
    }

    /// RFC 3339 as a `String`.
    pub fn to_rfc3339(&self, local_offset_minutes: i16) -> String {
        let mut out = Vec::with_capacity(35);
        self.write_rfc3339(&mut out, local_offset_minutes);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Writes RFC 3339 into `buf`; returns its length.
    pub fn format_rfc3339(&self, buf: &mut [u8; 35], local_offset_minutes: i16) -> usize {
        fn put2(buf: &mut [u8], at: usize, v: u8) {
            buf[at] = b'0' + v / 10 % 10;
            buf[at + 1] = b'0' + v % 10;
        }
        let y = self.year.min(9999);
        buf[0] = b'0' + (y / 1000) as u8;
        buf[1] = b'0' + (y / 100 % 10) as u8;
        buf[2] = b'0' + (y / 10 % 10) as u8;
        buf[3] = b'0' + (y % 10) as u8;
        buf[4] = b'-';
        put2(buf, 5, self.month);
        buf[7] = b'-';
        put2(buf, 8, self.day);
        buf[10] = b'T';
        put2(buf, 11, self.hour);
        buf[13] = b':';
        put2(buf, 14, self.minute);
        buf[16] = b':';
        put2(buf, 17, self.second);
        let mut n = 19;
        let digits = usize::from(self.frac_digits.min(9));
        if digits > 0 {
            buf[n] = b'.';
            n += 1;
            let mut frac = self.nanos.min(999_999_999) / 10u32.pow(9 - digits as u32);
            for i in (0..digits).rev() {
                buf[n + i] = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            n += digits;
        }
        let minutes = match self.offset {
            Offset::Utc => {
                buf[n] = b'Z';
                return n + 1;
            }
            Offset::Minutes(m) => m,
            Offset::Local => local_offset_minutes,
        };
        buf[n] = if minutes < 0 { b'-' } else { b'+' };
        let abs = minutes.unsigned_abs();
        put2(buf, n + 1, (abs / 60).min(99) as u8);
        buf[n + 3] = b':';
        put2(buf, n + 4, (abs % 60) as u8);
        n + 6
    }
}

/// The last time text a parser of this thread read, and the time it gave.
pub type LastParsed<const N: usize> = Cell<([u8; N], Option<Timestamp>)>;

thread_local! {
    static LAST_YMD_HMS: LastParsed<19> = const { Cell::new(([0; 19], None)) };
}

/// `parse(text)`, unless `text` is the text `last` holds: then the time it
/// gave. Lines come in bursts that share their second (nginx's access log
/// under load, a syslog sender's header), and checking and converting each
/// field again cost 150 to 400 instructions a line where comparing the
/// text costs a few. Only times that parsed are kept, so a result is
/// always the one `parse` gives for that text.
#[inline(always)]
pub fn remembered<const N: usize>(
    last: &'static LocalKey<LastParsed<N>>,
    text: &[u8; N],
    parse: impl Fn() -> Option<Timestamp>,
) -> Option<Timestamp> {
    let looked_up = last.try_with(|cell| {
        let (seen, time) = cell.get();
        if time.is_some() && seen == *text {
            return time;
        }
        let time = parse();
        if time.is_some() {
            cell.set((*text, time));
        }
        time
    });
    // `try_with` fails only while the thread is being torn down.
    looked_up.unwrap_or_else(|_| parse())
}

/// Parses a numeric zone such as `+0100` or `-0530` into minutes.
pub fn parse_numeric_offset(b: &[u8]) -> Option<i16> {
    let (sign, rest) = match b.split_first()? {
        (b'+', r) => (1, r),
        (b'-', r) => (-1, r),
        _ => return None,
    };
    let (h, m) = match rest {
        [h1, h2, m1, m2] => ([*h1, *h2], [*m1, *m2]),
        [h1, h2, b':', m1, m2] => ([*h1, *h2], [*m1, *m2]),
        _ => return None,
    };
    let (h, m) = (two_digits(&h)?, two_digits(&m)?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (i16::from(h) * 60 + i16::from(m)))
}

/// Parses `YYYY?MM?DD?HH:MM:SS` where `?` are the given separators, as the
/// first 19 bytes of `b` (nginx error: `2026/11/25 18:35:12`; supervisord:
/// `2026-11-25 18:35:12`). The result is local time.
pub fn parse_ymd_hms(b: &[u8], date_sep: u8, mid_sep: u8) -> Option<Timestamp> {
    let b: &[u8; 19] = b.get(..19)?.try_into().ok()?;
    if b[4] != date_sep || b[7] != date_sep || b[10] != mid_sep || b[13] != b':' || b[16] != b':' {
        return None;
    }
    remembered(&LAST_YMD_HMS, b, || ymd_hms_fields(b))
}

/// [`parse_ymd_hms`]'s fields, its separators already checked.
fn ymd_hms_fields(b: &[u8; 19]) -> Option<Timestamp> {
    Timestamp::new(
        four_digits(&b[0..4])?,
        two_digits(&b[5..7])?,
        two_digits(&b[8..10])?,
        two_digits(&b[11..13])?,
        two_digits(&b[14..16])?,
        two_digits(&b[17..19])?,
        Offset::Local,
    )
}

/// Parses C's `ctime` shape `Tue Mar  5 10:15:33 2024` (24 bytes, the day
/// padded with a space), as uWSGI prints it. The result is local time.
pub fn parse_ctime(b: &[u8]) -> Option<Timestamp> {
    let b = b.get(..24)?;
    if b[3] != b' '
        || b[7] != b' '
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b' '
    {
        return None;
    }
    if !matches!(
        &b[0..3],
        b"Mon" | b"Tue" | b"Wed" | b"Thu" | b"Fri" | b"Sat" | b"Sun"
    ) {
        return None;
    }
    let day = match &b[8..10] {
        [b' ', d @ b'1'..=b'9'] => d - b'0',
        d => two_digits(d)?,
    };
    Timestamp::new(
        four_digits(&b[20..24])?,
        month_from_abbr(&b[4..7])?,
        day,
        two_digits(&b[11..13])?,
        two_digits(&b[14..16])?,
        two_digits(&b[17..19])?,
        Offset::Local,
    )
}

/// Parses RFC 3339 as Docker and syslog print it:
/// `2024-05-01T12:34:56.123456789Z` or `2024-05-01T12:34:56+00:00`.
/// Returns the timestamp and the number of bytes it took.
pub fn parse_rfc3339(b: &[u8]) -> Option<(Timestamp, usize)> {
    let base = parse_ymd_hms(b, b'-', b'T')?;
    let mut n = 19;
    let mut ts = base;
    if b.get(n) == Some(&b'.') {
        let digits = b[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        ts = ts.with_fraction(&b[n + 1..n + 1 + digits])?;
        n += 1 + digits;
    }
    match b.get(n)? {
        b'Z' | b'z' => {
            ts.offset = Offset::Utc;
            n += 1;
        }
        b'+' | b'-' => {
            ts.offset = Offset::Minutes(parse_numeric_offset(b.get(n..n + 6)?)?);
            n += 6;
        }
        _ => return None,
    }
    Some((ts, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// [`parse_ymd_hms`] as it was before it remembered its last text.
    fn ymd_hms_afresh(b: &[u8], date_sep: u8, mid_sep: u8) -> Option<Timestamp> {
        let b: &[u8; 19] = b.get(..19)?.try_into().ok()?;
        let seps = [b[4], b[7], b[10], b[13], b[16]];
        (seps == [date_sep, date_sep, mid_sep, b':', b':'])
            .then(|| ymd_hms_fields(b))
            .flatten()
    }

    proptest! {
        /// The same text asked for with other separators, changed by a
        /// byte or repeated: each result is the one parsed afresh.
        #[test]
        fn a_remembered_time_is_the_texts_own(
            picks in proptest::collection::vec((0usize..4, 0usize..3, 0usize..19, any::<u8>()), 1..40),
        ) {
            let pool: [&[u8]; 4] = [
                b"2026-11-25T12:00:00.000001+00:00",
                b"2026-11-25 12:00:01,123",
                b"2024/02/29 23:59:60",
                b"2023-02-29T23:59:59Z",
            ];
            let seps = [(b'-', b'T'), (b'-', b' '), (b'/', b' ')];
            for (pick, sep, at, byte) in picks {
                let mut text = pool[pick].to_vec();
                if byte % 3 == 0 {
                    text[at] = byte;
                }
                let (date, mid) = seps[sep];
                prop_assert_eq!(parse_ymd_hms(&text, date, mid), ymd_hms_afresh(&text, date, mid));
            }
        }
    }

    #[test]
    fn writes_rfc3339_with_offsets() {
        let t = Timestamp::new(2024, 3, 5, 10, 15, 32, Offset::Minutes(60)).unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32+01:00");
        let t = Timestamp {
            offset: Offset::Minutes(-330),
            ..t
        };
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32-05:30");
        let t = Timestamp {
            offset: Offset::Local,
            ..t
        };
        assert_eq!(t.to_rfc3339(120), "2024-03-05T10:15:32+02:00");
        let t = t.with_fraction(b"5").unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32.500+00:00");
    }

    #[test]
    fn a_fraction_is_one_to_nine_digits() {
        let t = Timestamp::new(2024, 3, 5, 10, 15, 32, Offset::Utc).unwrap();
        let nanos = |d: &[u8]| t.with_fraction(d).map(|t| (t.nanos, t.frac_digits));
        assert_eq!(nanos(b"5"), Some((500_000_000, 3)));
        assert_eq!(nanos(b"000001"), Some((1_000, 6)));
        assert_eq!(nanos(b"123456789"), Some((123_456_789, 9)));
        assert_eq!(nanos(b"1234"), Some((123_400_000, 6)));
        assert_eq!(nanos(b""), None);
        assert_eq!(nanos(b"1234567890"), None);
        assert_eq!(nanos(b"12a"), None);
        assert_eq!(nanos(b"1/"), None);
        assert_eq!(nanos(b":"), None);
    }

    #[test]
    fn unix_epoch_to_civil() {
        assert_eq!(
            Timestamp::from_unix(0, 0, 0).to_rfc3339(0),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix(1_709_633_732, 123_456_789, 9).to_rfc3339(0),
            "2024-03-05T10:15:32.123456789Z"
        );
        assert_eq!(
            Timestamp::from_unix(951_782_400, 0, 0).to_rfc3339(0),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn parses_the_common_shapes() {
        let t = parse_ymd_hms(b"2026/11/25 18:35:12 [notice]", b'/', b' ').unwrap();
        assert_eq!((t.year, t.month, t.day, t.second), (2026, 11, 25, 12));
        assert_eq!(t.offset, Offset::Local);
        assert!(parse_ymd_hms(b"2026/13/25 18:35:12", b'/', b' ').is_none());
        assert!(parse_ymd_hms(b"2026/02/30 18:35:12", b'/', b' ').is_none());
        let t = parse_ctime(b"Tue Mar  5 10:15:33 2024").unwrap();
        assert_eq!((t.month, t.day, t.hour), (3, 5, 10));
        assert!(parse_ctime(b"Tue Max  5 10:15:33 2024").is_none());
        let (t, n) = parse_rfc3339(b"2024-05-01T12:34:56.123456789Z rest").unwrap();
        assert_eq!(n, 30);
        assert_eq!(t.nanos, 123_456_789);
        assert_eq!(t.to_rfc3339(0), "2024-05-01T12:34:56.123456789Z");
        let (t, n) = parse_rfc3339(b"2024-05-01T12:34:56+02:00").unwrap();
        assert_eq!((n, t.offset), (25, Offset::Minutes(120)));
        assert_eq!(parse_numeric_offset(b"+0100"), Some(60));
        assert_eq!(parse_numeric_offset(b"-0530"), Some(-330));
        assert_eq!(parse_numeric_offset(b"0100"), None);
    }
}
