//! supervisord's `%`-interpolation: `%(name)s`, `%(name)02d` and `%%`,
//! following Python's `%` formatting for the conversions configs use.

use std::iter::Peekable;
use std::str::CharIndices;

use super::reader::{host_node_name, Reader};
use super::syntax::Value;
use crate::config::error::ConfigError;

/// What `%(name)s` may name in one section.
pub(super) struct Names<'a> {
    /// `%(program_name)s`, `%(group_name)s`; `None` outside `[program:x]`.
    pub(super) program: Option<&'a str>,
    pub(super) process_num: i64,
    pub(super) numprocs: i64,
    /// `%(ENV_X)s`.
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

pub(crate) enum Named {
    Text(String),
    Number(i64),
}

/// One `%(name)…` conversion after the name: flags, width, precision, type.
pub(crate) struct Conversion {
    pub(super) left: bool,
    pub(super) zero: bool,
    pub(super) plus: bool,
    pub(super) space: bool,
    pub(super) width: usize,
    pub(super) precision: Option<usize>,
    pub(super) kind: char,
}

/// Python pads to any width; a typo must not ask for gigabytes.
const MAX_WIDTH: usize = 1024;

impl Conversion {
    /// Reads `02d`, `-10s`, `s`…; returns it and the bytes it took.
    pub(crate) fn parse(s: &str) -> Result<(Conversion, usize), String> {
        let mut c = Conversion {
            left: false,
            zero: false,
            plus: false,
            space: false,
            width: 0,
            precision: None,
            kind: 's',
        };
        let mut chars = s.char_indices().peekable();
        while let Some(&(_, ch)) = chars.peek() {
            match ch {
                '-' => c.left = true,
                '0' => c.zero = true,
                '+' => c.plus = true,
                ' ' => c.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        c.width = Self::number(&mut chars)?;
        if chars.peek().is_some_and(|&(_, ch)| ch == '.') {
            chars.next();
            c.precision = Some(Self::number(&mut chars)?);
        }
        if chars
            .peek()
            .is_some_and(|&(_, ch)| matches!(ch, 'h' | 'l' | 'L'))
        {
            chars.next();
        }
        let Some((at, kind)) = chars.next() else {
            return Err("the conversion is missing: write `s` or `d` after `)`".into());
        };
        c.kind = kind;
        Ok((c, at + kind.len_utf8()))
    }

    pub(super) fn number(chars: &mut Peekable<CharIndices<'_>>) -> Result<usize, String> {
        let mut n = 0usize;
        while let Some(d) = chars.peek().and_then(|&(_, ch)| ch.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(d as usize);
            chars.next();
        }
        if n > MAX_WIDTH {
            Err(format!("a width over {MAX_WIDTH}"))
        } else {
            Ok(n)
        }
    }

    pub(crate) fn apply(&self, value: Named) -> Result<String, String> {
        let body = match (self.kind, value) {
            ('s', Named::Text(t)) => match self.precision {
                Some(p) => t.chars().take(p).collect(),
                None => t,
            },
            ('s', Named::Number(n)) => n.to_string(),
            ('d' | 'i' | 'u', Named::Number(n)) => {
                let mut digits = n.unsigned_abs().to_string();
                if let Some(p) = self.precision {
                    while digits.len() < p {
                        digits.insert(0, '0');
                    }
                }
                let sign = match (n < 0, self.plus, self.space) {
                    (true, _, _) => "-",
                    (false, true, _) => "+",
                    (false, false, true) => " ",
                    _ => "",
                };
                if self.zero && !self.left {
                    while sign.len() + digits.len() < self.width {
                        digits.insert(0, '0');
                    }
                }
                format!("{sign}{digits}")
            }
            ('d' | 'i' | 'u', Named::Text(_)) => {
                return Err("is text: use `s`, not a number conversion".into())
            }
            (other, _) => {
                return Err(format!(
                    "`{other}` is not a conversion supervisord configs use (s or d)"
                ))
            }
        };
        let pad = self.width.saturating_sub(body.chars().count());
        let spaces = " ".repeat(pad);
        Ok(if self.left {
            format!("{body}{spaces}")
        } else {
            format!("{spaces}{body}")
        })
    }
}

impl Reader<'_> {
    /// supervisord's `%`-formatting: `%(name)s`, `%(name)02d`, `%%`.
    pub(super) fn interpolate(
        &self,
        value: &Value,
        text: &str,
        key: &str,
        names: &Names<'_>,
    ) -> Result<String, ConfigError> {
        let loc = self.loc;
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(rel) = text.get(i..).and_then(|rest| rest.find('%')) {
            let at = i + rel;
            out.push_str(text.get(i..at).unwrap_or(""));
            let rest = text.get(at + 1..).unwrap_or("");
            if rest.starts_with('%') {
                out.push('%');
                i = at + 2;
                continue;
            }
            let offset = value.offset(at);
            let Some(body) = rest.strip_prefix('(') else {
                return Err(loc.invalid(offset, key, "a lone `%`: write `%%` for a percent sign"));
            };
            let Some(close) = body.find(')') else {
                return Err(loc.invalid(offset, key, "`%(` is not closed by `)`"));
            };
            let name = body.get(..close).unwrap_or("");
            let (conversion, used) = Conversion::parse(body.get(close + 1..).unwrap_or(""))
                .map_err(|m| loc.invalid(offset, key, format!("`%({name})`: {m}")))?;
            let named = self.named(name, names).map_err(|missing| match missing {
                Some(variable) => loc.missing_variable(
                    offset,
                    key,
                    &variable,
                    format!("environment variable {variable} is not set"),
                ),
                None => {
                    let mut known = "ENV_<VAR>, here, host_node_name".to_string();
                    if names.program.is_some() {
                        known.push_str(", program_name, group_name, process_num, numprocs");
                    }
                    loc.invalid(
                        offset,
                        key,
                        format!("`%({name})`: unknown name (known: {known})"),
                    )
                }
            })?;
            let filled = conversion
                .apply(named)
                .map_err(|m| loc.invalid(offset, key, format!("`%({name})`: {m}")))?;
            out.push_str(&filled);
            // `%(` + name + `)` + the conversion.
            i = at + 2 + close + 1 + used;
        }
        out.push_str(text.get(i..).unwrap_or(""));
        Ok(out)
    }

    /// The value of `%(name)`; `Err(Some(var))` for an unset variable,
    /// `Err(None)` for a name supervisord would not know either.
    pub(super) fn named(&self, name: &str, names: &Names<'_>) -> Result<Named, Option<String>> {
        if let Some(var) = name.strip_prefix("ENV_") {
            return (names.env)(var)
                .map(Named::Text)
                .ok_or_else(|| Some(var.to_string()));
        }
        match (name, names.program) {
            ("here", _) => Ok(Named::Text(self.here.clone())),
            ("host_node_name", _) => Ok(Named::Text(self.host.get_or_init(host_node_name).clone())),
            ("program_name" | "group_name", Some(program)) => Ok(Named::Text(program.to_string())),
            ("process_num", Some(_)) => Ok(Named::Number(names.process_num)),
            ("numprocs", Some(_)) => Ok(Named::Number(names.numprocs)),
            _ => Err(None),
        }
    }
}
