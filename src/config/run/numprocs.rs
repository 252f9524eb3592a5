//! `numprocs = N` in a TOML config: one `[program.NAME]` table becomes N
//! programs, each named by its `process_name` (default
//! `%(program_name)s_%(process_num)02d`), all in group NAME unless `group`
//! says otherwise. The same `%(…)` names as supervisord's (`program_name`,
//! `group_name`, `process_num`, `numprocs`, with its `d`/`02d`/`s`
//! conversions) are filled in the command, environment values, directory,
//! `ready`, `unless_exists`, `service_name` and `process_name`; any other
//! `%` is left as written (a `date +%s` stays). A `depends_on` naming such a
//! program waits for all its processes.
//!
//! Done on the raw file, before resolving, so that each process is checked
//! and run as a program of its own.

use indexmap::IndexMap;
use toml::Spanned;

use super::raw::{CommandValue, RawFile, RawProgram};
use crate::config::error::{ConfigError, Locator};
use crate::config::ini::interpolate::{Conversion, Named};

/// The most processes one program may ask for (the INI reader's bound).
const MAX_NUMPROCS: i64 = crate::config::ini::MAX_NUMPROCS;

/// The default name of each process when `numprocs` is over 1.
const DEFAULT_PROCESS_NAME: &str = "%(program_name)s_%(process_num)02d";

/// What `%(…)` names for one process.
struct Names<'a> {
    program: &'a str,
    group: &'a str,
    process_num: i64,
    numprocs: i64,
}

/// Replaces every program that sets `numprocs` or `process_name` by its
/// processes, and widens `depends_on` to them.
pub(super) fn expand(loc: &Locator<'_>, raw: &mut RawFile) -> Result<(), ConfigError> {
    if raw
        .program
        .values()
        .all(|p| p.numprocs.is_none() && p.process_name.is_none())
    {
        return Ok(());
    }
    let mut out: IndexMap<String, RawProgram> = IndexMap::new();
    let mut members: Vec<(String, Vec<String>)> = Vec::new();
    for (name, p) in std::mem::take(&mut raw.program) {
        if p.numprocs.is_none() && p.process_name.is_none() {
            out.insert(name, p);
            continue;
        }
        let processes = processes(loc, &name, &p)?;
        let names: Vec<String> = processes.iter().map(|(n, _)| n.clone()).collect();
        for (process, program) in processes {
            if out.contains_key(&process) {
                let at = p.process_name.as_ref().map_or(0, |s| s.span().start);
                return Err(loc.invalid(
                    at,
                    &format!("program.{name}.process_name"),
                    format!("`{process}`: two programs have this name"),
                ));
            }
            out.insert(process, program);
        }
        members.push((name, names));
    }
    for program in out.values_mut() {
        let mut wide = Vec::with_capacity(program.depends_on.len());
        for dep in &program.depends_on {
            match members.iter().find(|(n, _)| n == dep.get_ref()) {
                Some((_, m)) => wide.extend(m.iter().map(|n| Spanned::new(dep.span(), n.clone()))),
                None => wide.push(dep.clone()),
            }
        }
        program.depends_on = wide;
    }
    raw.program = out;
    Ok(())
}

/// One table's processes: `(name, table)`, in `process_num` order.
fn processes(
    loc: &Locator<'_>,
    name: &str,
    p: &RawProgram,
) -> Result<Vec<(String, RawProgram)>, ConfigError> {
    let key = |k: &str| format!("program.{name}.{k}");
    let count = match &p.numprocs {
        None => 1,
        Some(n) if (1..=MAX_NUMPROCS).contains(n.get_ref()) => *n.get_ref(),
        Some(n) => {
            return Err(loc.invalid(
                n.span().start,
                &key("numprocs"),
                format!("{}: must be 1 to {MAX_NUMPROCS}", n.get_ref()),
            ))
        }
    };
    let first = p.numprocs_start.as_ref().map_or(0, |s| *s.get_ref());
    let pattern = match &p.process_name {
        Some(s) => s.clone(),
        None if count > 1 => Spanned::new(0..0, DEFAULT_PROCESS_NAME.to_string()),
        None => Spanned::new(0..0, "%(program_name)s".to_string()),
    };
    if count > 1 && !pattern.get_ref().contains("%(process_num)") {
        return Err(loc.invalid(
            pattern.span().start,
            &key("process_name"),
            "with numprocs over 1, process_name must hold %(process_num)",
        ));
    }
    let group = p.group.as_ref().map_or(name, |g| g.get_ref().as_str());
    (0..count)
        .map(|k| {
            let names = Names {
                program: name,
                group,
                process_num: first.saturating_add(k),
                numprocs: count,
            };
            one(loc, name, p, &pattern, &names)
        })
        .collect()
}

/// One process: its name and its table with `%(…)` filled.
fn one(
    loc: &Locator<'_>,
    name: &str,
    p: &RawProgram,
    pattern: &Spanned<String>,
    names: &Names<'_>,
) -> Result<(String, RawProgram), ConfigError> {
    let fill_at = |text: &str, at: usize, k: &str| {
        fill(text, names).map_err(|m| loc.invalid(at, &format!("program.{name}.{k}"), m))
    };
    let process = fill_at(pattern.get_ref(), pattern.span().start, "process_name")?;
    let mut q = p.clone();
    if let Some(c) = &p.command {
        let at = c.span().start;
        let value = match c.get_ref() {
            CommandValue::Line(l) => CommandValue::Line(fill_at(l, at, "command")?),
            CommandValue::Args(a) => CommandValue::Args(
                a.iter()
                    .map(|w| fill_at(w, at, "command"))
                    .collect::<Result<_, _>>()?,
            ),
        };
        q.command = Some(Spanned::new(c.span(), value));
    }
    for v in q.environment.values_mut() {
        *v = fill_at(v, 0, "environment")?;
    }
    for (s, k) in [
        (&mut q.directory, "directory"),
        (&mut q.service_name, "service_name"),
    ] {
        if let Some(s) = s {
            *s = Spanned::new(s.span(), fill_at(s.get_ref(), s.span().start, k)?);
        }
    }
    if let Some(u) = &mut q.unless_exists {
        *u = fill_at(u, 0, "unless_exists")?;
    }
    if let Some(r) = &mut q.ready {
        let (span, mut inner) = (r.span(), r.get_ref().clone());
        for s in [&mut inner.unix_socket, &mut inner.tcp, &mut inner.file]
            .into_iter()
            .flatten()
        {
            *s = fill_at(s, span.start, "ready")?;
        }
        *r = Spanned::new(span, inner);
    }
    q.numprocs = None;
    q.numprocs_start = None;
    q.process_name = None;
    q.group = Some(Spanned::new(
        p.group.as_ref().map_or(0..0, Spanned::span),
        names.group.to_string(),
    ));
    Ok((process, q))
}

/// Fills `%(program_name)s`, `%(group_name)s`, `%(process_num)02d`,
/// `%(numprocs)d`; every other `%` stays as written.
fn fill(text: &str, names: &Names<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("%(") {
        out.push_str(&rest[..at]);
        let body = &rest[at + 2..];
        let value = body.find(')').and_then(|close| {
            let named = match &body[..close] {
                "program_name" => Named::Text(names.program.to_string()),
                "group_name" => Named::Text(names.group.to_string()),
                "process_num" => Named::Number(names.process_num),
                "numprocs" => Named::Number(names.numprocs),
                _ => return None,
            };
            Some((close, named))
        });
        let Some((close, named)) = value else {
            out.push_str("%(");
            rest = body;
            continue;
        };
        let (conversion, used) = Conversion::parse(&body[close + 1..])
            .map_err(|m| format!("`%({})`: {m}", &body[..close]))?;
        out.push_str(
            &conversion
                .apply(named)
                .map_err(|m| format!("`%({})`: {m}", &body[..close]))?,
        );
        rest = &body[close + 1 + used..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_filled_and_other_percents_stay() {
        let names = Names {
            program: "web",
            group: "web",
            process_num: 2,
            numprocs: 3,
        };
        assert_eq!(
            fill("%(program_name)s_%(process_num)02d of %(numprocs)d", &names).unwrap(),
            "web_02 of 3"
        );
        assert_eq!(
            fill("date +%s %(ENV_X)s %", &names).unwrap(),
            "date +%s %(ENV_X)s %"
        );
        assert!(fill("%(process_num)q", &names).is_err());
    }
}
