//! `[resource]`: static fields every event gets, in every door's config
//! (`service.version = "1.4.2"`, `deployment.environment.name =
//! "${APP_ENV}"`), and `--resource KEY=VALUE` on the command line, which
//! replaces a key of the file. They go into each event's JSON (dotted keys
//! nested as the sink's key style says) and into the OTLP resource.

use indexmap::IndexMap;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::template;

/// The `[resource]` table as written.
pub type RawResource = IndexMap<String, Spanned<String>>;

/// The table's fields, `${VAR}` rendered; a bad key or value names it.
pub fn resolve(
    loc: &Locator<'_>,
    raw: &RawResource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut fields = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        let at = value.span().start;
        let name = format!("resource.{key}");
        check_key(key).map_err(|m| loc.invalid(at, &name, m))?;
        let rendered =
            template::render(value.get_ref(), env).map_err(|e| loc.template(at, &name, e))?;
        fields.push((key.clone(), rendered));
    }
    Ok(fields)
}

/// `--resource KEY=VALUE`.
pub fn parse_flag(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE"))?;
    check_key(k)?;
    Ok((k.to_string(), v.to_string()))
}

/// The file's fields with the command line's on top (a key given on both
/// takes the command line's value, in the file's place).
pub fn merge(mut file: Vec<(String, String)>, flags: &[(String, String)]) -> Vec<(String, String)> {
    for (k, v) in flags {
        match file.iter_mut().find(|(fk, _)| fk == k) {
            Some(slot) => slot.1 = v.clone(),
            None => file.push((k.clone(), v.clone())),
        }
    }
    file
}

/// A dotted name of ASCII letters, digits, `_` and `-`, that is not one of
/// the envelope's own keys.
fn check_key(key: &str) -> Result<(), String> {
    let segments_ok = key.split('.').all(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if !segments_ok {
        return Err(format!(
            "`{key}`: expected a dotted name of letters, digits, _ and - (service.version)"
        ));
    }
    let reserved = [
        "timestamp",
        "observed_timestamp",
        "severity_text",
        "severity_number",
        "message",
    ];
    if reserved.contains(&key) {
        return Err(format!("`{key}` is written by logmux itself"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_replace_the_file_s_value() {
        assert_eq!(
            parse_flag("service.version=1.2=3").unwrap(),
            ("service.version".into(), "1.2=3".into())
        );
        assert!(parse_flag("novalue").is_err());
        assert!(parse_flag("bad key=x").is_err());
        assert!(parse_flag("a..b=x").is_err());
        assert!(parse_flag("message=x").is_err());
        let file = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ];
        let merged = merge(file, &[("b".into(), "3".into()), ("c".into(), "4".into())]);
        assert_eq!(
            merged,
            [
                ("a".into(), "1".into()),
                ("b".into(), "3".into()),
                ("c".into(), "4".into())
            ]
        );
    }
}
