//! One-off mode: `logmux run --config FILE CMD ARGS…` (the image's
//! `docker run IMAGE python3 manage.py migrate`). The config is read and
//! checked whole, as for a normal run; then only what prepares a command is
//! kept: `[env]` (checked and filled by resolving), the templates, and the
//! `once` programs marked `prepare = true`. Every other program (long-running,
//! `every`, `once` without `prepare`) is left out, and CMD becomes the one
//! long-running program: shaped by `[oneoff]` (user, directory, environment,
//! streams), reading logmux's stdin, its end logmux's end, its code
//! logmux's code. No control socket and no metrics endpoint: a one-off may
//! run beside the container's main `logmux run` (`docker exec`).

use toml::Spanned;

use super::program::{ProgramSpec, Scope};
use super::raw::{CommandValue, DurationValue, RawOneoff, RawProgram};
use super::resolved::{AutoRestart, Kind, RunConfig};
use crate::config::error::ConfigError;

/// The one-off program's name and `service.name`: the command's basename.
pub fn command_name(command: &[String]) -> String {
    command
        .first()
        .and_then(|c| std::path::Path::new(c).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("main")
        .to_string()
}

/// `[oneoff]` resolved as a program would be, with `command` as its
/// command; without `command`, with a stand-in (to check the table).
pub(super) fn resolve(
    scope: &Scope<'_>,
    raw: Option<&Spanned<RawOneoff>>,
    command: Option<&[String]>,
) -> Result<Option<ProgramSpec>, ConfigError> {
    if raw.is_none() && command.is_none() {
        return Ok(None);
    }
    let at = raw.map_or(0, |r| r.span().start);
    let table = raw.map(|r| r.get_ref().clone()).unwrap_or_default();
    let name = command.map_or_else(|| "oneoff".to_string(), command_name);
    let word = |w: &str| Some(Spanned::new(at..at, w.to_string()));
    let program = RawProgram {
        // The real command is set after resolving: it is the command
        // line's, so `${VAR}` in it is not filled (a shell did that).
        command: Some(Spanned::new(
            at..at,
            CommandValue::Args(vec!["oneoff".into()]),
        )),
        user: table.user,
        directory: table.directory,
        environment: table.environment,
        stdout: table.stdout,
        stderr: table.stderr,
        autorestart: word(AutoRestart::Never.name()),
        on_exit: word("shutdown"),
        startsecs: Some(Spanned::new(at..at, DurationValue::Secs(0))),
        ..RawProgram::default()
    };
    let mut spec = ProgramSpec::resolve_as(scope, "oneoff", &name, &program)?;
    let Some(command) = command else {
        return Ok(raw.map(|_| spec));
    };
    spec.command = command.to_vec();
    spec.inherit_stdin = true;
    spec.oneoff = true;
    Ok(Some(spec))
}

/// Keeps only the `prepare` programs of `config` and adds `command`'s
/// program after them; turns the control socket and metrics off.
pub(super) fn keep_preparation(config: &mut RunConfig, mut command: ProgramSpec) {
    let programs = std::mem::take(&mut config.programs);
    let mut position = vec![None; programs.len()];
    let mut kept = Vec::new();
    for (old, p) in programs.into_iter().enumerate() {
        if p.prepare && p.kind == Kind::Once {
            position[old] = Some(kept.len());
            kept.push(p);
        }
    }
    for p in &mut kept {
        p.depends_on = p
            .depends_on
            .iter()
            .filter_map(|&d| position.get(d).copied().flatten())
            .collect();
    }
    // Programs are told apart by name (`logmux ctl`, logmux's events);
    // the service name stays the command's.
    while kept.iter().any(|p| p.name == command.name) {
        command.name.push_str("-oneoff");
    }
    command.group = command.name.clone();
    kept.push(command);
    config.programs = kept;
    config.control_socket = None;
    config.metrics = None;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn oneoff(text: &str, command: &[&str]) -> super::RunConfig {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        super::super::parse_for(
            Path::new("c.toml"),
            text,
            Some(&command),
            &|_| None,
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn only_prepare_programs_stay_renumbered_and_the_command_comes_last() {
        let config = oneoff(
            r#"
metrics = { listen = "9145" }
[program.web]
command = "sleep 60"
[program.a]
command = "true"
once = true
prepare = true
depends_on = ["web"]
[program.b]
command = "true"
once = true
[program.c]
command = "true"
once = true
prepare = true
depends_on = ["a"]
"#,
            &["/usr/bin/c", "${HOME}"],
        );
        let names: Vec<&str> = config.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "c-oneoff"]);
        assert_eq!(config.programs[0].depends_on, Vec::<usize>::new());
        assert_eq!(config.programs[1].depends_on, [0]);
        let command = &config.programs[2];
        assert_eq!(command.service_name, "c");
        assert_eq!(command.command, ["/usr/bin/c", "${HOME}"]);
        assert!(command.oneoff && command.inherit_stdin);
        assert_eq!(command.kind, super::Kind::LongRunning);
        assert!(config.control_socket.is_none() && config.metrics.is_none());
    }

    #[test]
    fn without_a_command_the_oneoff_table_is_checked_and_adds_no_program() {
        let text = "[oneoff]\nuser = \"nobody\"\n[program.web]\ncommand = \"true\"\n";
        let config =
            super::super::parse(Path::new("c.toml"), text, &|_| None, &mut |_| {}).unwrap();
        assert_eq!(config.programs.len(), 1);
        let table = config.oneoff.unwrap();
        assert_eq!(table.user.as_deref(), Some("nobody"));
        let bad = "[oneoff]\nenvironment = { A = \"${UNSET}\" }\n";
        let e = super::super::parse(Path::new("c.toml"), bad, &|_| None, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:1:1: oneoff.environment"), "{e}");
    }
}
