//! Format detection: which parser a line belongs to.
//!
//! Detection looks at the first bytes and tries only the parsers that can
//! start that way, most frequent first, so an nginx access line costs one
//! parse attempt. Whatever no parser takes is `text`; the line is never lost.
//! Multi-line Python tracebacks are assembled before detection (see
//! [`crate::traceback`]).

use crate::nginx::log_format::LogFormat;
use crate::record::{Format, Record};
use crate::strftime::Strftime;
use crate::uwsgi::log_format::LogFormat as UwsgiFormat;
use crate::{django, json, nginx, supervisord, text, traceback, uwsgi};

/// How lines are parsed.
#[derive(Debug, Clone, Copy)]
pub struct Parser<'f> {
    /// `None`: detect per line. `Some(f)`: every line is taken as `f`.
    pub forced: Option<Format>,
    /// A user's nginx `log_format`, tried before `combined`.
    pub nginx_format: Option<&'f LogFormat>,
    /// uWSGI's `--logdate=FORMAT`, tried before the usual date prefixes.
    pub uwsgi_logdate: Option<&'f Strftime>,
    /// A user's uWSGI `log-format`, tried before the default request line.
    pub uwsgi_format: Option<&'f UwsgiFormat>,
}

impl<'f> Parser<'f> {
    /// Auto-detection with the built-in formats only.
    pub const AUTO: Parser<'static> = Parser {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
    };

    /// Parses one line (or one assembled multi-line event) into `rec`.
    /// Returns false only when a forced format rejected the line; `rec` then
    /// holds it as `text`.
    pub fn parse<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> bool
    where
        'f: 'a,
    {
        match self.forced {
            None => {
                self.detect(line, rec);
                true
            }
            Some(format) => {
                if rec.attempt(|r| self.parse_as(format, line, r)) {
                    return true;
                }
                text::parse(line, rec);
                false
            }
        }
    }

    /// Parses `line` as `format` only.
    pub fn parse_as<'a>(&self, format: Format, line: &'a str, rec: &mut Record<'a>) -> bool
    where
        'f: 'a,
    {
        match format {
            Format::NginxAccess => match self.nginx_format {
                Some(custom) => {
                    custom.parse(line, rec) || rec.attempt(|r| nginx::access::parse(line, r))
                }
                None => nginx::access::parse(line, rec),
            },
            Format::NginxError => nginx::error::parse(line, rec),
            Format::UwsgiRequest => self.uwsgi_request(line, rec),
            Format::UwsgiLog => {
                rec.attempt(|r| self.uwsgi_request(line, r))
                    || uwsgi::parse_log_with(line, rec, false, self.uwsgi_logdate)
            }
            Format::Supervisord => supervisord::parse(line, rec),
            Format::PythonTraceback => traceback::parse(line, rec),
            Format::Django => {
                rec.attempt(|r| traceback::parse(line, r)) || django::parse(line, rec)
            }
            Format::Json => json::parse(line, rec),
            Format::Text => text::parse(line, rec),
        }
    }

    /// A uWSGI request line: the user's `log-format`, then the default line.
    fn uwsgi_request<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> bool
    where
        'f: 'a,
    {
        match self.uwsgi_format {
            Some(custom) => {
                custom.parse(line, rec) || rec.attempt(|r| uwsgi::parse_request(line, r))
            }
            None => uwsgi::parse_request(line, rec),
        }
    }

    /// Tries the parsers that fit the line's first bytes; falls back to text.
    fn detect<'a>(&self, line: &'a str, rec: &mut Record<'a>)
    where
        'f: 'a,
    {
        if let Some(custom) = self.nginx_format {
            if rec.attempt(|r| custom.parse(line, r)) {
                return;
            }
        }
        if let Some(custom) = self.uwsgi_format {
            if rec.attempt(|r| custom.parse(line, r)) {
                return;
            }
        }
        let b = line.as_bytes();
        let first = b.first().copied().unwrap_or(b' ');
        let taken = match first {
            b'0'..=b'9' => {
                // `2026/11/25 ` nginx error, `2026-11-25 18:35:12,` supervisord,
                // otherwise an IPv4 client address.
                let by_shape = match b.get(4) {
                    Some(b'/') => rec.attempt(|r| nginx::error::parse(line, r)),
                    // Or Python logging's asctime in front of a Django line.
                    // The request-id format (`ASCTIME INFO [logger] …`)
                    // before supervisord, which would take its INFO lines.
                    Some(b'-') if b.get(19) == Some(&b',') => {
                        (django::is_bracketed(line) && rec.attempt(|r| django::parse(line, r)))
                            || rec.attempt(|r| supervisord::parse(line, r))
                            || rec.attempt(|r| django::parse(line, r))
                    }
                    _ => false,
                };
                by_shape
                    || rec.attempt(|r| nginx::access::parse(line, r))
                    // `127.0.0.1:8000 [pid: …` (--vhost under --http-socket,
                    // the Host with its port) and `2026-12-03 14:21:34 - …`
                    // (a strftime --logdate).
                    || (line.contains("[pid: ") && rec.attempt(|r| uwsgi::parse_request(line, r)))
                    || rec.attempt(|r| uwsgi::parse_log_with(line, r, true, self.uwsgi_logdate))
            }
            b'[' => {
                // uWSGI's request line, Django's runserver line, or one of
                // uWSGI's own `[uWSGI] getting INI configuration from …`,
                // `[uwsgi-…]`, `[spooler…]`, `[emperor…]` lines.
                rec.attempt(|r| uwsgi::parse_request(line, r))
                    || rec.attempt(|r| django::parse(line, r))
                    || rec.attempt(|r| uwsgi::parse_log_with(line, r, true, self.uwsgi_logdate))
            }
            b'{' => {
                (b.starts_with(b"{address space usage")
                    && rec.attempt(|r| uwsgi::parse_request(line, r)))
                    || rec.attempt(|r| json::parse(line, r))
            }
            b'T' if b.starts_with(b"Traceback (most recent call last):") => {
                rec.attempt(|r| traceback::parse(line, r))
            }
            b'n' if b.starts_with(b"nginx: ") => rec.attempt(|r| nginx::error::parse(line, r)),
            b'a'..=b'f' | b'A'..=b'F' | b':' => {
                // An IPv6 client, or a uWSGI vhost prefix.
                rec.attempt(|r| nginx::access::parse(line, r))
                    || rec.attempt(|r| uwsgi::parse_request(line, r))
                    || self.words(line, rec)
            }
            _ => self.words(line, rec),
        };
        if !taken {
            text::parse(line, rec);
        }
    }

    /// Lines that start with a word: Django's, uWSGI's own, a vhost-prefixed
    /// uWSGI request.
    fn words<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> bool {
        rec.attempt(|r| django::parse(line, r))
            || rec.attempt(|r| uwsgi::parse_log_with(line, r, true, self.uwsgi_logdate))
            || (line.contains("[pid: ") && rec.attempt(|r| uwsgi::parse_request(line, r)))
            || (line.contains(" - - [") && rec.attempt(|r| nginx::access::parse(line, r)))
    }
}

/// Whether `line` starts something of its own: a format logmux knows, a
/// leading level word or timestamp (a logging prefix), JSON or anything in
/// brackets, a traceback or Django's 500 header, or a logmux event. A line
/// that does not is plain text, which may continue an exception's message
/// (see [`crate::traceback::Assembler::push_in`]).
pub fn starts_something(line: &str) -> bool {
    let b = line.trim_start_matches([' ', '\t']).as_bytes();
    if matches!(b.first(), Some(b'{' | b'[' | b'<')) {
        return true;
    }
    if text::leading_level(b).is_some() || text::leading_timestamp(b).is_some() {
        return true;
    }
    let mut rec = Record::default();
    Parser::AUTO.detect(line, &mut rec);
    rec.format != Format::Text || traceback::starts_event(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_starts_something_of_its_own() {
        for line in [
            "INFO:root:next",
            "2026-12-03 14:34:42,884 INFO app next",
            "ERROR something",
            "{\"level\":\"info\"}",
            "[INFO] x",
            "Traceback (most recent call last):",
            "Internal Server Error: /x",
            "127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"c\"",
            "2026-11-25 19:39:40,240 WARN exited: crasher (exit status 3; not expected)",
            "Not Found: /x",
            "2026-12-03T10:00:00Z started",
        ] {
            assert!(starts_something(line), "{line}");
        }
        for line in [
            "line two",
            "note a",
            "app line 500",
            "to create it",
            "hint: run with --init",
        ] {
            assert!(!starts_something(line), "{line}");
        }
    }

    #[test]
    fn unknown_lines_are_text() {
        let mut rec = Record::default();
        assert!(Parser::AUTO.parse("hello world", &mut rec));
        assert_eq!(rec.format, Format::Text);
    }

    #[test]
    fn uwsgi_own_lines_in_brackets_are_detected() {
        // The first line of every uWSGI started with --ini (seen live under
        // `logmux run`): it used to come out as `text`.
        for line in [
            "[uWSGI] getting INI configuration from /app/dockerable/uwsgi.ini",
            "[uwsgi-http key: 127.0.0.1:8080 client_addr: 127.0.0.1 client_port: 50000] hr_read(): Connection reset by peer [plugins/http/http.c line 917]",
            "[spooler /var/spool/uwsgi pid: 12] managing request uwsgi_spoolfile_on_app_31_1_1",
        ] {
            let mut rec = Record::default();
            assert!(Parser::AUTO.parse(line, &mut rec), "{line}");
            assert_eq!(rec.format, Format::UwsgiLog, "{line}");
        }
        for line in [
            "[INFO] starting",
            "[25/Nov/2026 18:35:12] \"GET / HTTP/1.1\" 200 24",
        ] {
            let mut rec = Record::default();
            Parser::AUTO.parse(line, &mut rec);
            assert_ne!(rec.format, Format::UwsgiLog, "{line}");
        }
    }

    /// Lines of `fixtures/uwsgi-vhost.log` and `uwsgi-http.log` (real uWSGI
    /// 2.0.21 output, `fixtures/generate/uwsgi-variants.sh`): each was `text`.
    #[test]
    fn uwsgi_variants_from_real_output_are_typed() {
        for (line, format) in [
            ("127.0.0.1:57457 {address space usage: 60858368 bytes/58MB} {rss usage: 11362304 bytes/10MB} [pid: 23174|app: 0|req: 1/1] 127.0.0.1 () {26 vars in 277 bytes} [Thu Dec  3 14:21:33 2026] GET / => generated 3 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)", Format::UwsgiRequest),
            ("example.org:8080 {address space usage: 60858368 bytes/58MB} {rss usage: 11362304 bytes/10MB} [pid: 23174|app: 0|req: 2/2] 127.0.0.1 () {26 vars in 288 bytes} [Thu Dec  3 14:21:33 2026] GET /y?a=1 => generated 3 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)", Format::UwsgiRequest),
            ("gateway \"uWSGI http 1\" has been buried (pid: 21214)", Format::UwsgiLog),
            ("uwsgi socket 0 inherited INET address 127.0.0.1:57457 fd 3", Format::UwsgiLog),
            ("uwsgi socket 0 inherited UNIX address /tmp/app.sock fd 3", Format::UwsgiLog),
            ("running /usr/bin/uwsgi-core", Format::UwsgiLog),
            ("2026-12-03 14:21:34 - running /usr/bin/uwsgi-core", Format::UwsgiLog),
        ] {
            let mut rec = Record::default();
            Parser::AUTO.parse(line, &mut rec);
            assert_eq!(rec.format, format, "{line}");
        }
    }

    /// `uwsgi --logdate='%d/%b/%Y %H:%M:%S'` wrote `03/Dec/2026 14:40:12 - …`;
    /// with the pattern given, the line is uWSGI's and has its time.
    #[test]
    fn a_given_uwsgi_logdate_is_read() {
        let line = "03/Dec/2026 14:40:12 - spawned uWSGI worker 1 (pid: 5, cores: 1)";
        let mut rec = Record::default();
        Parser::AUTO.parse(line, &mut rec);
        assert_eq!(rec.format, Format::Text);
        let f = Strftime::compile("%d/%b/%Y %H:%M:%S").unwrap();
        let p = Parser {
            uwsgi_logdate: Some(&f),
            ..Parser::AUTO
        };
        let mut rec = Record::default();
        p.parse(line, &mut rec);
        assert_eq!(rec.format, Format::UwsgiLog);
        let ts = rec.timestamp.map(|t| t.to_rfc3339(0));
        assert_eq!(ts.as_deref(), Some("2026-12-03T14:40:12+00:00"));
    }

    #[test]
    fn a_forced_format_that_rejects_falls_back_to_text() {
        let mut rec = Record::default();
        let p = Parser {
            forced: Some(Format::Supervisord),
            nginx_format: None,
            uwsgi_logdate: None,
            uwsgi_format: None,
        };
        assert!(!p.parse("hello world", &mut rec));
        assert_eq!(rec.format, Format::Text);
    }
}
