//! Severity on the OpenTelemetry scale.
//!
//! OTel numbers severities 1 to 24 in six ranges of four (TRACE, DEBUG, INFO,
//! WARN, ERROR, FATAL). `severity_text` is the name of the range, so that a
//! query for `ERROR` finds nginx's `crit` too, and `severity_number` keeps the
//! finer degree (OTel's own mapping for syslog levels).

/// An OpenTelemetry severity number, always within 1..=24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Severity(u8);

impl Severity {
    pub const TRACE: Severity = Severity(1);
    pub const DEBUG: Severity = Severity(5);
    pub const INFO: Severity = Severity(9);
    pub const INFO2: Severity = Severity(10);
    pub const WARN: Severity = Severity(13);
    pub const ERROR: Severity = Severity(17);
    pub const ERROR2: Severity = Severity(18);
    pub const ERROR3: Severity = Severity(19);
    pub const FATAL: Severity = Severity(21);

    /// Builds a severity from its OTel number, clamped into 1..=24.
    pub fn from_number(n: u8) -> Severity {
        Severity(n.clamp(1, 24))
    }

    /// The OTel `SeverityNumber`.
    pub fn number(self) -> u8 {
        self.0
    }

    /// The name of the OTel range this number falls in.
    pub fn text(self) -> &'static str {
        match self.0 {
            0..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            _ => "FATAL",
        }
    }

    /// Maps a syslog/nginx level name (`emerg` … `debug`) as OTel's data
    /// model appendix does for syslog.
    pub fn from_syslog_name(name: &[u8]) -> Option<Severity> {
        Some(match name {
            b"emerg" => Severity::FATAL,
            b"alert" => Severity::ERROR3,
            b"crit" => Severity::ERROR2,
            b"error" => Severity::ERROR,
            b"warn" => Severity::WARN,
            b"notice" => Severity::INFO2,
            b"info" => Severity::INFO,
            b"debug" => Severity::DEBUG,
            _ => return None,
        })
    }

    /// Maps a syslog severity code (0 = emergency … 7 = debug).
    pub fn from_syslog_code(code: u8) -> Severity {
        match code {
            0 => Severity::FATAL,
            1 => Severity::ERROR3,
            2 => Severity::ERROR2,
            3 => Severity::ERROR,
            4 => Severity::WARN,
            5 => Severity::INFO2,
            6 => Severity::INFO,
            _ => Severity::DEBUG,
        }
    }

    /// The syslog severity code (0 = emergency … 7 = debug): the inverse
    /// of [`Severity::from_syslog_code`], each OTel number going to the
    /// syslog level whose range holds it.
    pub fn syslog_code(self) -> u8 {
        match self.0 {
            21.. => 0,
            19..=20 => 1,
            18 => 2,
            17 => 3,
            13..=16 => 4,
            10..=12 => 5,
            9 => 6,
            _ => 7,
        }
    }

    /// Maps a level word as programs commonly print it (`WARNING`, `error`,
    /// `CRITICAL`, `E`…); case-insensitive, full words only.
    pub fn from_level_word(word: &[u8]) -> Option<Severity> {
        if word.is_empty() || word.len() > 9 {
            return None;
        }
        let mut buf = [0u8; 9];
        for (dst, src) in buf.iter_mut().zip(word) {
            *dst = src.to_ascii_lowercase();
        }
        Some(match &buf[..word.len()] {
            b"trace" => Severity::TRACE,
            b"debug" | b"dbg" | b"debg" => Severity::DEBUG,
            b"info" | b"information" | b"notice" => Severity::INFO,
            b"warn" | b"warning" => Severity::WARN,
            b"error" | b"err" | b"erro" => Severity::ERROR,
            b"crit" | b"critical" | b"alert" => Severity::ERROR2,
            b"fatal" | b"emerg" | b"panic" => Severity::FATAL,
            _ => return None,
        })
    }
}

impl Default for Severity {
    fn default() -> Self {
        Severity::INFO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_have_otel_names() {
        assert_eq!(Severity::from_number(1).text(), "TRACE");
        assert_eq!(Severity::from_number(8).text(), "DEBUG");
        assert_eq!(Severity::INFO2.text(), "INFO");
        assert_eq!(Severity::WARN.text(), "WARN");
        assert_eq!(Severity::ERROR3.text(), "ERROR");
        assert_eq!(Severity::from_number(200).number(), 24);
        assert_eq!(Severity::from_number(0).number(), 1);
    }

    #[test]
    fn syslog_names_follow_otel_appendix() {
        assert_eq!(Severity::from_syslog_name(b"emerg"), Some(Severity::FATAL));
        assert_eq!(
            Severity::from_syslog_name(b"crit").map(|s| s.number()),
            Some(18)
        );
        assert_eq!(
            Severity::from_syslog_name(b"notice").map(|s| s.number()),
            Some(10)
        );
        assert_eq!(Severity::from_syslog_name(b"bogus"), None);
        assert_eq!(Severity::from_syslog_code(3), Severity::ERROR);
    }

    #[test]
    fn syslog_codes_round_trip() {
        for code in 0..=7 {
            assert_eq!(Severity::from_syslog_code(code).syslog_code(), code);
        }
        assert_eq!(Severity::from_number(24).syslog_code(), 0);
        assert_eq!(Severity::from_number(16).syslog_code(), 4);
        assert_eq!(Severity::from_number(12).syslog_code(), 5);
        assert_eq!(Severity::TRACE.syslog_code(), 7);
        assert_eq!(Severity::default().syslog_code(), 6);
    }

    #[test]
    fn level_words_are_case_insensitive() {
        assert_eq!(Severity::from_level_word(b"WARNING"), Some(Severity::WARN));
        assert_eq!(Severity::from_level_word(b"Error"), Some(Severity::ERROR));
        assert_eq!(
            Severity::from_level_word(b"CRITICAL"),
            Some(Severity::ERROR2)
        );
        assert_eq!(Severity::from_level_word(b"stderr"), None);
        assert_eq!(Severity::from_level_word(b""), None);
    }
}
