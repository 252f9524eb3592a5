//! Templates: `${VAR}` substitution for config files and program commands.
//!
//! This replaces the `envsubst` + `cmd.sh` step of the old container. Only
//! the braced form is substituted, so nginx's own `$host` or `$remote_addr`
//! pass through untouched (envsubst would have blanked them). The forms are
//! the shell's: `${VAR}` (an error when unset), `${VAR:-default}` (the default
//! when unset or empty), `${VAR-default}` (when unset), `${VAR:?message}` (an
//! error with that message when unset or empty); `$${` writes a literal `${`.
//! No shell ever runs.

/// Why a template could not be rendered, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct TemplateError {
    /// 1-based line of the `${`.
    pub line: usize,
    /// 1-based column (in characters) of the `${`.
    pub column: usize,
    pub kind: TemplateErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateErrorKind {
    #[error("environment variable {0} is not set")]
    Unset(String),
    #[error("environment variable {var} is required: {message}")]
    Required { var: String, message: String },
    #[error("`${{` is not closed by `}}`")]
    Unclosed,
    #[error("`{0}` is not a variable name (letters, digits and _)")]
    BadName(String),
}

impl TemplateErrorKind {
    /// The variable the error is about, if any.
    pub fn variable(&self) -> Option<&str> {
        match self {
            TemplateErrorKind::Unset(v) | TemplateErrorKind::Required { var: v, .. } => Some(v),
            _ => None,
        }
    }
}

/// Renders `text`, looking variables up with `env`.
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            // `$${` is an escaped `${`.
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let offset = text.len() - rest.len() + at;
        let fail = |kind| {
            let (line, column) = crate::config::line_col(text, offset);
            TemplateError { line, column, kind }
        };
        let close = body_start
            .find('}')
            .ok_or_else(|| fail(TemplateErrorKind::Unclosed))?;
        let body = &body_start[..close];
        out.push_str(&expand(body, env).map_err(fail)?);
        rest = &body_start[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One `${...}` body.
fn expand(body: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateErrorKind> {
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let (name, op) = body.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(TemplateErrorKind::BadName(body.to_string()));
    }
    let value = env(name);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    if op.is_empty() {
        return value.ok_or_else(|| TemplateErrorKind::Unset(name.to_string()));
    }
    if let Some(default) = op.strip_prefix(":-") {
        return Ok(if set_nonempty {
            value.unwrap_or_default()
        } else {
            default.to_string()
        });
    }
    if let Some(default) = op.strip_prefix('-') {
        return Ok(value.unwrap_or_else(|| default.to_string()));
    }
    if let Some(message) = op.strip_prefix(":?") {
        if set_nonempty {
            return Ok(value.unwrap_or_default());
        }
        let message = if message.is_empty() {
            "not set or empty".to_string()
        } else {
            message.to_string()
        };
        return Err(TemplateErrorKind::Required {
            var: name.to_string(),
            message,
        });
    }
    Err(TemplateErrorKind::BadName(body.to_string()))
}

/// Whether a `when` condition holds: `VAR` is set and non-empty; `!VAR` is
/// unset or empty.
pub fn condition_holds(condition: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let (negate, name) = match condition.trim().strip_prefix('!') {
        Some(name) => (true, name.trim()),
        None => (false, condition.trim()),
    };
    let set = env(name).is_some_and(|v| !v.is_empty());
    set != negate
}

/// Whether `condition` is a valid `when` value.
pub fn valid_condition(condition: &str) -> bool {
    let name = condition.trim();
    let name = name.strip_prefix('!').unwrap_or(name).trim();
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.org".into()),
            "EMPTY" => Some(String::new()),
            "N" => Some("4".into()),
            _ => None,
        }
    }

    fn r(text: &str) -> Result<String, TemplateError> {
        render(text, &env)
    }

    #[test]
    fn substitutes_the_braced_forms_only() {
        assert_eq!(
            r("server_name ${HOST}; return 301 https://$host$request_uri;").unwrap(),
            "server_name example.org; return 301 https://$host$request_uri;"
        );
        assert_eq!(r("processes = ${N}").unwrap(), "processes = 4");
        assert_eq!(r("a $ b $$ c").unwrap(), "a $ b $$ c");
        assert_eq!(r("literal $${HOST}").unwrap(), "literal ${HOST}");
        assert_eq!(r("").unwrap(), "");
    }

    #[test]
    fn defaults_follow_the_shell() {
        assert_eq!(r("${UWSGI_PROCESSES:-2}").unwrap(), "2");
        assert_eq!(r("${EMPTY:-2}").unwrap(), "2");
        assert_eq!(r("${EMPTY-2}").unwrap(), "");
        assert_eq!(r("${MISSING-x y}").unwrap(), "x y");
        assert_eq!(r("${N:-2}").unwrap(), "4");
        assert_eq!(r("${HOST:?needed}").unwrap(), "example.org");
    }

    #[test]
    fn errors_name_the_variable_and_place() {
        let e = r("a\n  b ${MISSING} c").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5));
        assert_eq!(e.kind, TemplateErrorKind::Unset("MISSING".into()));
        assert_eq!(
            e.to_string(),
            "2:5: environment variable MISSING is not set"
        );
        let e = r("${EMAIL_ADDRESS:?needed for Let's Encrypt}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "1:1: environment variable EMAIL_ADDRESS is required: needed for Let's Encrypt"
        );
        assert_eq!(e.kind.variable(), Some("EMAIL_ADDRESS"));
        assert_eq!(r("x ${HOST").unwrap_err().kind, TemplateErrorKind::Unclosed);
        assert_eq!(
            r("${1X}").unwrap_err().kind,
            TemplateErrorKind::BadName("1X".into())
        );
        assert_eq!(
            r("${A:+b}").unwrap_err().kind,
            TemplateErrorKind::BadName("A:+b".into())
        );
    }

    #[test]
    fn conditions() {
        assert!(condition_holds("HOST", &env));
        assert!(!condition_holds("EMPTY", &env));
        assert!(!condition_holds("MISSING", &env));
        assert!(condition_holds("!MISSING", &env));
        assert!(condition_holds("! EMPTY", &env));
        assert!(!condition_holds("!HOST", &env));
        assert!(valid_condition("USE_SSL") && valid_condition("!USE_SSL"));
        assert!(!valid_condition("") && !valid_condition("A B") && !valid_condition("$A"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = render(&text, &env);
        }

        #[test]
        fn text_without_braces_is_unchanged(text in "[^{]{0,200}") {
            proptest::prop_assert_eq!(render(&text, &env).unwrap(), text);
        }
    }
}
