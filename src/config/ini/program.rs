//! One `[program:x]` section read into a [`RawProgram`]: supervisord's
//! keys, one function per concern (how many processes and whether it
//! starts, its environment, what logmux does not reproduce, its restart and
//! stop settings, its log files as sinks), with supervisord's defaults
//! written out where they differ from logmux's.

use std::ops::Range;

use indexmap::IndexMap;
use toml::Spanned;

use super::interpolate::Names;
use super::reader::{env_pairs, exit_codes, literal, truth, Got, Out, Reader};
use super::syntax::Section;
use crate::config::error::ConfigError;
use crate::config::run::{
    AutoRestart, CommandValue, DurationValue, Env, RawProgram, RawSink, RawStream, SizeValue,
};

/// supervisord's program keys; any other is warned about and ignored.
const PROGRAM_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
    // logmux's own: merge the logmux events of a nested `logmux run`.
    "merge",
];

impl Reader<'_> {
    /// Reads `[program:NAME]` into `out`: one program per process
    /// (`numprocs`), each named by its `process_name`.
    pub(super) fn program(
        &self,
        out: &mut Out<'_>,
        s: &Section<'_>,
        name: &str,
        global_env: &IndexMap<String, String>,
        env: Env<'_>,
    ) -> Result<(), ConfigError> {
        for e in &s.entries {
            if !PROGRAM_KEYS.contains(&e.key.as_str()) {
                let what = format!("{}: unknown key, ignored", e.key);
                out.warn(e.line, s, &what);
            }
        }
        let outer = |var: &str| global_env.get(var).cloned().or_else(|| env(var));
        let mut names = Names {
            program: Some(name),
            process_num: 0,
            numprocs: 1,
            env: &outer,
        };
        let procs = self.procs(s, name, &mut names)?;
        for k in 0..procs.count {
            names.process_num = procs.first.saturating_add(k);
            let process = self.process_name(s, name, &names, procs.count)?;
            let mut program = self.process(out, s, name, &names, global_env, k == 0)?;
            program.autostart = Some(procs.autostart);
            if process != name {
                program.group = Some(Spanned::new(s.span.clone(), name.to_string()));
            }
            if out.file.program.contains_key(&process) {
                let at = s
                    .get("process_name")
                    .map_or(s.span.start, |e| e.value().span.start);
                return Err(self.loc.invalid(
                    at,
                    &format!("program.{name}.process_name"),
                    format!("`{process}`: two processes have this name"),
                ));
            }
            out.file.program.insert(process, program);
        }
        Ok(())
    }

    /// One process of `[program:NAME]`, its `%(process_num)d` in `names`;
    /// `first` warns about what logmux does not reproduce (once a section).
    fn process(
        &self,
        out: &mut Out<'_>,
        s: &Section<'_>,
        name: &str,
        names: &Names<'_>,
        global_env: &IndexMap<String, String>,
        first: bool,
    ) -> Result<RawProgram, ConfigError> {
        // The program's own variables also fill `%(ENV_X)s` in its other keys.
        let own_env = self.own_env(s, name, names)?;
        let inner = |var: &str| own_env.get(var).cloned().or_else(|| (names.env)(var));
        let names = Names {
            env: &inner,
            program: names.program,
            process_num: names.process_num,
            numprocs: names.numprocs,
        };
        let keys = Keys {
            reader: self,
            s,
            name,
            names: &names,
        };
        if first {
            keys.warn_unreproduced(out)?;
        }
        let mut program = keys.settings()?;
        let (stdout, stderr) = keys.streams(out)?;
        program.stdout = Some(stdout);
        program.stderr = Some(stderr);
        let mut environment: IndexMap<String, String> = global_env
            .iter()
            .map(|(k, v)| (k.clone(), literal(v)))
            .collect();
        for (k, v) in &own_env {
            environment.insert(k.clone(), literal(v));
        }
        program.environment = environment;
        Ok(program)
    }

    /// `process_name` (default `%(program_name)s`) for one process; with
    /// `numprocs` over 1 it must hold `%(process_num)`, as supervisord says.
    fn process_name(
        &self,
        s: &Section<'_>,
        name: &str,
        names: &Names<'_>,
        count: i64,
    ) -> Result<String, ConfigError> {
        let key = format!("program.{name}.process_name");
        let Some(e) = s.get("process_name") else {
            if count > 1 {
                let at = s
                    .get("numprocs")
                    .map_or(s.span.start, |e| e.value().span.start);
                return Err(self.loc.invalid(
                    at,
                    &key,
                    "missing: with numprocs over 1, process_name must hold %(process_num) (e.g. %(program_name)s_%(process_num)02d)",
                ));
            }
            return Ok(name.to_string());
        };
        let got = self.expanded(e, names, &key, true)?;
        if count > 1 && !e.value().text.contains("%(process_num)") {
            return Err(self.loc.invalid(
                got.span.start,
                &key,
                "with numprocs over 1, process_name must hold %(process_num)",
            ));
        }
        if got.text.is_empty()
            || got
                .text
                .contains(|c: char| c.is_whitespace() || c == '/' || c == ':')
        {
            return Err(self.loc.invalid(
                got.span.start,
                &key,
                format!(
                    "`{}`: a process name must be non-empty, without spaces, `/` or `:`",
                    got.text
                ),
            ));
        }
        Ok(got.text)
    }

    /// `numprocs`, `numprocs_start` (the first `%(process_num)d`) and
    /// `autostart`.
    fn procs(
        &self,
        s: &Section<'_>,
        name: &str,
        names: &mut Names<'_>,
    ) -> Result<Procs, ConfigError> {
        let key = |k: &str| format!("program.{name}.{k}");
        let mut procs = Procs {
            count: 1,
            first: 0,
            autostart: true,
        };
        if let Some(got) = self.get(s, "numprocs", names, &key("numprocs"))? {
            procs.count = self.integer(&got, &key("numprocs"))?;
            if !(1..=MAX_NUMPROCS).contains(&procs.count) {
                return Err(self.loc.invalid(
                    got.span.start,
                    &key("numprocs"),
                    format!("{}: must be 1 to {MAX_NUMPROCS}", procs.count),
                ));
            }
            names.numprocs = procs.count;
        }
        if let Some(got) = self.get(s, "numprocs_start", names, &key("numprocs_start"))? {
            procs.first = self.integer(&got, &key("numprocs_start"))?;
        }
        if let Some(got) = self.get(s, "autostart", names, &key("autostart"))? {
            procs.autostart = self.boolean(&got, &key("autostart"))?;
        }
        Ok(procs)
    }

    /// The program's `environment`, `%(…)s` filled.
    fn own_env(
        &self,
        s: &Section<'_>,
        name: &str,
        names: &Names<'_>,
    ) -> Result<IndexMap<String, String>, ConfigError> {
        let Some(e) = s.get("environment") else {
            return Ok(IndexMap::new());
        };
        let key = format!("program.{name}.environment");
        let got = self.expanded(e, names, &key, true)?;
        env_pairs(&got.text)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|m| self.loc.invalid(got.span.start, &key, m))
    }
}

/// The most processes one section may ask for: a typo must not fork a
/// thousand programs.
pub(crate) const MAX_NUMPROCS: i64 = 256;

/// How many processes a section runs, and whether they start with logmux.
struct Procs {
    count: i64,
    first: i64,
    autostart: bool,
}

/// The keys of one `[program:x]` section, with the names `%(…)s` may use.
struct Keys<'k> {
    reader: &'k Reader<'k>,
    s: &'k Section<'k>,
    name: &'k str,
    names: &'k Names<'k>,
}

impl Keys<'_> {
    /// `program.NAME.KEY`, as the TOML config names it.
    fn key(&self, k: &str) -> String {
        format!("program.{}.{k}", self.name)
    }

    fn get(&self, k: &str) -> Result<Option<Got>, ConfigError> {
        self.reader.get(self.s, k, self.names, &self.key(k))
    }

    /// The line of a key, for warnings.
    fn line(&self, k: &str) -> usize {
        self.s.get(k).map_or(self.s.line, |e| e.line)
    }

    fn invalid(&self, offset: usize, k: &str, message: impl Into<String>) -> ConfigError {
        self.reader.loc.invalid(offset, &self.key(k), message)
    }

    /// Keys whose effect logmux does not reproduce, each named in a warning.
    fn warn_unreproduced(&self, out: &mut Out<'_>) -> Result<(), ConfigError> {
        let s = self.s;
        if let Some(e) = s.get("umask") {
            out.warn(
                e.line,
                s,
                "umask: not reproduced, the program inherits logmux's umask",
            );
        }
        for k in ["stdout_syslog", "stderr_syslog"] {
            if let Some(got) = self.get(k)? {
                if self.reader.boolean(&got, &self.key(k))? {
                    let what = format!(
                        "{k}: a stream has one sink in logmux, so it goes to its log only (a TOML config can send it to the `syslog` sink instead)"
                    );
                    out.warn(self.line(k), s, &what);
                }
            }
        }
        Ok(())
    }

    /// Everything but the streams and environment. Where supervisord's
    /// defaults differ from logmux's they are written out; the header's
    /// place stands in for a span.
    fn settings(&self) -> Result<RawProgram, ConfigError> {
        let command = match self.s.get("command") {
            Some(e) => Some(
                self.reader
                    .expanded(e, self.names, &self.key("command"), true)?,
            ),
            None => None,
        };
        let autorestart = self.autorestart()?;
        let startsecs = self.secs("startsecs", 1)?;
        let stopwaitsecs = self.secs("stopwaitsecs", 10)?;
        let startretries = match self.get("startretries")? {
            None => 3,
            Some(got) => self.reader.count(&got, &self.key("startretries"))?,
        };
        let priority = match self.get("priority")? {
            None => 999,
            Some(got) => self.reader.integer(&got, &self.key("priority"))?,
        };
        let exitcodes = self.exitcodes()?;
        let (stop_as_group, kill_as_group) = self.as_group()?;
        let merge = match self.get("merge")? {
            None => None,
            Some(got) => Some(self.reader.boolean(&got, &self.key("merge"))?),
        };
        let text = |k: &str| Ok::<_, ConfigError>(self.get(k)?.map(|got| (got.span, got.text)));
        let stopsignal = text("stopsignal")?.map(|(span, t)| Spanned::new(span, t));
        let user = text("user")?.map(|(span, t)| Spanned::new(span, t));
        let directory = text("directory")?.map(|(span, t)| Spanned::new(span, literal(&t)));
        Ok(RawProgram {
            command: command
                .map(|got| Spanned::new(got.span, CommandValue::Line(literal(&got.text)))),
            user,
            directory,
            stopsignal,
            stopwaitsecs: Some(stopwaitsecs),
            stop_as_group: Some(stop_as_group),
            kill_as_group: Some(kill_as_group),
            autorestart: Some(autorestart),
            startsecs: Some(startsecs),
            startretries: Some(startretries),
            exitcodes: Some(exitcodes),
            priority: Some(priority),
            merge,
            ..RawProgram::default()
        })
    }

    /// supervisord's `true`, `false` or `unexpected`, as logmux's word.
    fn autorestart(&self) -> Result<Spanned<String>, ConfigError> {
        let Some(got) = self.get("autorestart")? else {
            let default = AutoRestart::OnFailure.name().to_string();
            return Ok(Spanned::new(self.s.span.clone(), default));
        };
        let mode = match got.text.to_lowercase().as_str() {
            "unexpected" => AutoRestart::OnFailure,
            t => match truth(t) {
                Some(true) => AutoRestart::Always,
                Some(false) => AutoRestart::Never,
                None => {
                    return Err(self.invalid(
                        got.span.start,
                        "autorestart",
                        format!("`{}`: expected true, false or unexpected", got.text),
                    ))
                }
            },
        };
        Ok(Spanned::new(got.span, mode.name().to_string()))
    }

    /// Whole seconds.
    fn secs(&self, k: &str, default: u64) -> Result<Spanned<DurationValue>, ConfigError> {
        Ok(match self.get(k)? {
            None => Spanned::new(self.s.span.clone(), DurationValue::Secs(default)),
            Some(got) => {
                let n = self.reader.count(&got, &self.key(k))?;
                Spanned::new(got.span, DurationValue::Secs(u64::from(n)))
            }
        })
    }

    fn exitcodes(&self) -> Result<Vec<i32>, ConfigError> {
        let Some(got) = self.get("exitcodes")? else {
            return Ok(vec![0]);
        };
        exit_codes(&got.text).ok_or_else(|| {
            self.invalid(
                got.span.start,
                "exitcodes",
                format!(
                    "`{}` is not a list of exit codes 0-255 like `0,2`",
                    got.text
                ),
            )
        })
    }

    /// `stopasgroup` and `killasgroup`. supervisord: killasgroup defaults
    /// to stopasgroup and may not be false when stopasgroup is true.
    fn as_group(&self) -> Result<(bool, bool), ConfigError> {
        let stop_as_group = match self.get("stopasgroup")? {
            None => false,
            Some(got) => self.reader.boolean(&got, &self.key("stopasgroup"))?,
        };
        let kill_as_group = match self.get("killasgroup")? {
            None => stop_as_group,
            Some(got) => {
                let kill = self.reader.boolean(&got, &self.key("killasgroup"))?;
                if stop_as_group && !kill {
                    return Err(self.invalid(
                        got.span.start,
                        "killasgroup",
                        "cannot be false when stopasgroup is true",
                    ));
                }
                kill
            }
        };
        Ok((stop_as_group, kill_as_group))
    }

    /// stdout and stderr, each to its log file's sink; with
    /// `redirect_stderr`, stderr goes where stdout goes.
    fn streams(&self, out: &mut Out<'_>) -> Result<(RawStream, RawStream), ConfigError> {
        let (reader, s, name, names) = (self.reader, self.s, self.name, self.names);
        let redirect = match self.get("redirect_stderr")? {
            None => None,
            Some(got) => reader
                .boolean(&got, &self.key("redirect_stderr"))?
                .then_some(got.span),
        };
        let stdout = reader.log_sink(out, s, name, "stdout", names)?;
        let stderr = match redirect {
            None => reader.log_sink(out, s, name, "stderr", names)?,
            Some(span) => self.redirected(out, &stdout, span)?,
        };
        if let Some(line) = stdout.auto_line.or(stderr.auto_line) {
            out.warn(
                line,
                s,
                "AUTO logs: logmux writes them to its own stdout and stderr, not to files in childlogdir",
            );
        }
        let stream = |sink| RawStream {
            format: None,
            sink,
            route: IndexMap::new(),
            copy: Vec::new(),
        };
        Ok((stream(stdout.sink), stream(stderr.sink)))
    }

    /// stderr with `redirect_stderr=true`: routed with stdout.
    fn redirected(
        &self,
        out: &mut Out<'_>,
        stdout: &LogSink,
        span: Range<usize>,
    ) -> Result<LogSink, ConfigError> {
        // supervisord ignores stderr_logfile then; say so as it does.
        self.reader
            .rotation(self.s, self.name, "stderr", self.names)?;
        if let Some(got) = self.get("stderr_logfile")? {
            if !matches!(got.text.to_lowercase().as_str(), "auto" | "none" | "off") {
                out.warn(
                    self.line("stderr_logfile"),
                    self.s,
                    "stderr_logfile: ignored, redirect_stderr=true sends stderr where stdout goes",
                );
            }
        }
        // The pipes stay apart (better framing); only the routing follows.
        let target = stdout
            .sink
            .as_ref()
            .map_or("stdout", |n| n.get_ref().as_str());
        Ok(LogSink {
            sink: Some(Spanned::new(span, target.to_string())),
            auto_line: None,
        })
    }
}

impl Reader<'_> {
    /// `{which}_logfile_maxbytes` (default 50MB, `0`: never rotate) and
    /// `{which}_logfile_backups` (default 10), checked even when unused as
    /// supervisord checks them.
    pub(super) fn rotation(
        &self,
        s: &Section<'_>,
        name: &str,
        which: &str,
        names: &Names<'_>,
    ) -> Result<Rotation, ConfigError> {
        let key = |k: &str| format!("program.{name}.{which}_logfile_{k}");
        let (max_size, size_span) = match self.get(
            s,
            &format!("{which}_logfile_maxbytes"),
            names,
            &key("maxbytes"),
        )? {
            None => (Some(50 << 20), None),
            Some(got) => match self.byte_size(&got, &key("maxbytes"))? {
                0 => (None, None),
                n => (Some(n), Some(got.span)),
            },
        };
        let max_files = match self.get(
            s,
            &format!("{which}_logfile_backups"),
            names,
            &key("backups"),
        )? {
            None => 10,
            Some(got) => self.count(&got, &key("backups"))?,
        };
        Ok(Rotation {
            max_size,
            size_span,
            max_files,
        })
    }

    /// The sink for one stream from `{which}_logfile`.
    pub(super) fn log_sink(
        &self,
        out: &mut Out<'_>,
        s: &Section<'_>,
        name: &str,
        which: &str,
        names: &Names<'_>,
    ) -> Result<LogSink, ConfigError> {
        let rotation = self.rotation(s, name, which, names)?;
        let logfile = format!("{which}_logfile");
        let Some(e) = s.get(&logfile) else {
            // supervisord's default is AUTO; unasked, logmux's own streams
            // are the useful place in a container, without a word.
            return Ok(LogSink {
                sink: None,
                auto_line: None,
            });
        };
        let got = self.expanded(e, names, &format!("program.{name}.{logfile}"), false)?;
        let sink = |n: &str| Some(Spanned::new(got.span.clone(), n.to_string()));
        let lower = got.text.to_lowercase();
        Ok(match (lower.as_str(), got.text.as_str()) {
            ("auto", _) => LogSink {
                sink: sink(which),
                auto_line: Some(e.line),
            },
            // An empty name logs nowhere in supervisord too.
            ("none" | "off" | "", _) | (_, "/dev/null") => LogSink {
                sink: sink("null"),
                auto_line: None,
            },
            (_, "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1") => LogSink {
                sink: sink("stdout"),
                auto_line: None,
            },
            (_, "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2") => LogSink {
                sink: sink("stderr"),
                auto_line: None,
            },
            (_, path) => {
                let sink_name = format!("file:{path}");
                match out.file_sinks.get(&sink_name) {
                    Some((first, size, files)) => {
                        if (*size, *files) != (rotation.max_size, rotation.max_files) {
                            let what = format!(
                                "{logfile}: {path} is shared with [program:{first}], whose rotation applies"
                            );
                            out.warn(e.line, s, &what);
                        }
                    }
                    None => {
                        out.file_sinks.insert(
                            sink_name.clone(),
                            (name.to_string(), rotation.max_size, rotation.max_files),
                        );
                        let size_span = rotation.size_span.unwrap_or(got.span.clone());
                        let raw = RawSink {
                            kind: Some(Spanned::new(got.span.clone(), "file".to_string())),
                            path: Some(Spanned::new(got.span.clone(), literal(path))),
                            max_size: rotation
                                .max_size
                                .map(|n| Spanned::new(size_span, SizeValue::Bytes(n))),
                            max_files: Some(rotation.max_files),
                            ..RawSink::default()
                        };
                        out.file.sink.insert(sink_name.clone(), raw);
                    }
                }
                LogSink {
                    sink: sink(&sink_name),
                    auto_line: None,
                }
            }
        })
    }
}

/// A log file's rotation, supervisord's way.
pub(super) struct Rotation {
    /// `None`: never rotate.
    pub(super) max_size: Option<u64>,
    /// Where `maxbytes` was given, for resolve's range check.
    pub(super) size_span: Option<Range<usize>>,
    pub(super) max_files: u32,
}

/// A stream's sink name (`None`: the stream's own, logmux's default) and,
/// for an explicit AUTO, the line to warn about.
pub(super) struct LogSink {
    pub(super) sink: Option<Spanned<String>>,
    pub(super) auto_line: Option<usize>,
}
