//! `patina-reap`: parse arguments, run the library's engine, print, exit.

mod cli;
mod exit_codes;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use owo_colors::OwoColorize;

use cli::{name_problem, Cli, ColorWhen};
use exit_codes::ExitCode;
use patina_reap::{
    escape, DurationError, Outcome, Progress, Reaper, Report, DEFAULT_THRESHOLD, THRESHOLD_ENV,
};

/// `eprintln!`/`eprint!` without the panic: a closed or full stderr (`2>/dev/full`) has
/// nowhere to report to, so a failed write is dropped.
macro_rules! to_stderr {
    ($($arg:tt)*) => {{
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

fn main() -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let colors = Colors::decide(color_flag(&args));
    let matches = match Cli::command()
        .color(colors.clap())
        .try_get_matches_from(&args)
    {
        Ok(matches) => matches,
        Err(e) => return print_clap_error(&e, &args, &colors).into(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return print_clap_error(&e, &args, &colors).into(),
    };
    let colors = Colors::decide(cli.color);
    let from_env = matches.value_source("threshold") == Some(ValueSource::EnvVariable);
    let settings = match Settings::check(&cli, from_env) {
        Ok(settings) => settings,
        Err(message) => return usage_error(&colors, &message).into(),
    };
    match run(&cli, &settings, &colors) {
        Ok(code) => code.into(),
        // A bad PATINA_REAP_BACKEND is an environment usage error, like a bad
        // PATINA_REAP_THRESHOLD: nothing was scanned or signalled.
        Err(e) => match e.downcast_ref::<patina_reap::Error>() {
            Some(inner @ patina_reap::Error::UnknownBackend(_)) => {
                usage_error(&colors, &inner.to_string()).into()
            }
            _ => {
                to_stderr!("{} {}\n", colors.err("error:", Paint::Red), error_chain(&e));
                ExitCode::Failure.into()
            }
        },
    }
}

/// The error and its causes, `: `-separated, each once: a cause whose text its parent
/// already ends with is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if last.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
        last = message;
    }
    text
}

/// Whether to color each stream.
struct Colors {
    stdout: bool,
    stderr: bool,
}

/// The styles this tool uses.
#[derive(Clone, Copy)]
enum Paint {
    Red,
    Yellow,
    Green,
    Dimmed,
    Bold,
}

impl Colors {
    /// `--color always` and `never` decide alone. With `auto`: NO_COLOR set and not
    /// empty turns color off (no-color.org); else CLICOLOR_FORCE or FORCE_COLOR set to
    /// something other than empty, `0` (or `false`) turns it on; else a stream is colored
    /// when it is a terminal and TERM is not `dumb`.
    fn decide(when: ColorWhen) -> Self {
        match when {
            ColorWhen::Always => Self::both(true),
            ColorWhen::Never => Self::both(false),
            ColorWhen::Auto => {
                if env_set("NO_COLOR", &[]) {
                    Self::both(false)
                } else if env_set("CLICOLOR_FORCE", &["0"])
                    || env_set("FORCE_COLOR", &["0", "false"])
                {
                    Self::both(true)
                } else {
                    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                    Self {
                        stdout: !dumb && std::io::stdout().is_terminal(),
                        stderr: !dumb && std::io::stderr().is_terminal(),
                    }
                }
            }
        }
    }

    fn both(on: bool) -> Self {
        Self {
            stdout: on,
            stderr: on,
        }
    }

    /// clap's setting for usage errors (on stderr) and help (on stdout).
    fn clap(&self) -> clap::ColorChoice {
        if self.stderr {
            clap::ColorChoice::Always
        } else {
            clap::ColorChoice::Never
        }
    }

    fn out(&self, text: &str, paint: Paint) -> String {
        styled(self.stdout, text, paint)
    }

    fn err(&self, text: &str, paint: Paint) -> String {
        styled(self.stderr, text, paint)
    }
}

fn styled(on: bool, text: &str, paint: Paint) -> String {
    if !on {
        return text.to_owned();
    }
    match paint {
        Paint::Red => text.red().to_string(),
        Paint::Yellow => text.yellow().to_string(),
        Paint::Green => text.green().to_string(),
        Paint::Dimmed => text.dimmed().to_string(),
        Paint::Bold => text.bold().to_string(),
    }
}

/// Whether the variable is set to something other than empty or one of `off`.
fn env_set(name: &str, off: &[&str]) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && !off.iter().any(|o| v == *o))
}

/// The last `--color WHEN` or `--color=WHEN` in the raw arguments, for the usage errors
/// clap reports before the arguments are parsed; `auto` when there is none.
fn color_flag(args: &[OsString]) -> ColorWhen {
    use clap::ValueEnum;
    let mut when = ColorWhen::Auto;
    let mut iter = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => iter.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(w) = value.and_then(|v| ColorWhen::from_str(v, false).ok()) {
            when = w;
        }
    }
    when
}

/// Print a clap error (or help) as clap would, but never an argument as it came: clap
/// echoes arguments, so when one holds a character that could drive a terminal the
/// error is made again from escaped arguments, which fail the same way.
fn print_clap_error(e: &clap::Error, args: &[OsString], colors: &Colors) -> ExitCode {
    let unsafe_args = args
        .iter()
        .any(|a| escape(&a.to_string_lossy()) != a.to_string_lossy());
    let again = if e.use_stderr() && unsafe_args {
        let escaped: Vec<OsString> = args
            .iter()
            .map(|a| escape(&a.to_string_lossy()).into())
            .collect();
        Cli::command()
            .color(colors.clap())
            .try_get_matches_from(escaped)
            .err()
    } else {
        None
    };
    match again {
        Some(escaped) if escaped.kind() == e.kind() => {
            let _ = escaped.print();
        }
        // Not the same failure: clap's text, plain, with anything left escaped.
        _ if e.use_stderr() && unsafe_args => {
            to_stderr!("{}", escape_lines(&e.render().to_string()))
        }
        _ => {
            let _ = e.print();
        }
    }
    match e.exit_code() {
        0 => ExitCode::Success,
        _ => ExitCode::Usage,
    }
}

/// [`escape`] line by line, keeping the line breaks.
fn escape_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| match line.strip_suffix('\n') {
            Some(body) => format!("{}\n", escape(body)),
            None => escape(line),
        })
        .collect()
}

/// Every usage error this tool finds itself, in clap's layout (with the `Usage:` line),
/// colored as clap's own are. `message` must already be escaped.
fn usage_error(colors: &Colors, message: &str) -> ExitCode {
    let _ = Cli::command()
        .color(colors.clap())
        .error(ErrorKind::InvalidValue, message)
        .print();
    ExitCode::Usage
}

/// What the threshold setting resolved to.
enum Threshold {
    After(Duration),
    Off,
}

/// The checked values of the flags and variables.
struct Settings {
    threshold: Threshold,
    grace: Duration,
    names: Vec<String>,
    /// `None` for the default socket, empty for `--socket none`.
    sockets: Option<Vec<std::path::PathBuf>>,
}

impl Settings {
    /// Check every value, in one layout: `invalid value 'V' for 'WHERE': WHY`.
    fn check(cli: &Cli, threshold_from_env: bool) -> Result<Self, String> {
        let threshold = resolve_threshold(cli, threshold_from_env)?;
        let grace = duration_value(&cli.grace, "--grace <DURATION>", "5s, 30s or 1m")?;
        let mut names: Vec<String> = Vec::with_capacity(cli.names.len());
        for name in &cli.names {
            if let Some(why) = name_problem(name) {
                return Err(format!(
                    "invalid value '{}' for '--name <NAME>': {why}",
                    escape(name)
                ));
            }
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let sockets = cli.socket_list()?;
        Ok(Self {
            threshold,
            grace,
            names,
            sockets,
        })
    }
}

fn resolve_threshold(cli: &Cli, from_env: bool) -> Result<Threshold, String> {
    let Some(text) = cli.threshold.as_deref() else {
        return Ok(Threshold::After(DEFAULT_THRESHOLD));
    };
    let origin = if from_env {
        THRESHOLD_ENV
    } else {
        "--threshold <DURATION>"
    };
    match text.trim() {
        "off" if from_env => Ok(Threshold::Off),
        "" if from_env => Ok(Threshold::After(DEFAULT_THRESHOLD)),
        "off" => Err(format!(
            "invalid value 'off' for '{origin}': 'off' is only understood in {THRESHOLD_ENV}; \
             to send no signal use --dry-run"
        )),
        _ => duration_value(text, origin, "24h, 90m or 2d3h").map(Threshold::After),
    }
}

/// Parse a DURATION for `origin`; the error names the value (escaped) and gives
/// examples that fit `origin`.
fn duration_value(text: &str, origin: &str, examples: &str) -> Result<Duration, String> {
    let value = text.trim();
    patina_reap::parse_duration(value).map_err(|e| {
        let why = if value.starts_with('-') {
            format!("a DURATION cannot be negative; use e.g. {examples}")
        } else {
            match e {
                DurationError::Empty => format!("empty DURATION; use e.g. {examples}"),
                DurationError::MissingUnit(n) => {
                    let n = escape(&n);
                    format!(
                        "'{n}' has no unit; say {n}s, {n}m, {n}h, {n}d or {n}w (e.g. {examples})"
                    )
                }
                DurationError::UnknownUnit(u) => format!(
                    "unknown unit '{}'; use s, m, h, d or w (e.g. {examples})",
                    escape(&u)
                ),
                DurationError::Overflow => "the DURATION is too large".to_owned(),
                _ => format!(
                    "not a DURATION; use <integer><unit> with s, m, h, d or w (e.g. {examples})"
                ),
            }
        };
        format!("invalid value '{}' for '{origin}': {why}", escape(value))
    })
}

fn run(cli: &Cli, settings: &Settings, colors: &Colors) -> anyhow::Result<ExitCode> {
    raise_fd_limit();
    let interrupt = Arc::new(AtomicBool::new(false));
    // A dry run signals nothing: Ctrl-C may end it as it ends anything.
    if !cli.dry_run {
        catch_interrupts(&interrupt);
    }
    let status = !cli.quiet && !cli.json && std::io::stderr().is_terminal();
    let reaper = Reaper::new()
        .grace(settings.grace)
        .names(settings.names.iter().cloned())
        .dry_run(cli.dry_run)
        .all_users(cli.all_users)
        .list_young(cli.verbose || cli.json)
        .interrupt(interrupt.clone())
        .on_progress(move |p| {
            if status {
                show_status(p);
            }
        });
    let reaper = match &settings.sockets {
        Some(sockets) => reaper.sockets(sockets.iter().cloned()),
        None => reaper,
    };
    let report = match settings.threshold {
        Threshold::Off => {
            if !cli.quiet {
                let _ = writeln!(
                    std::io::stderr(),
                    "Reaping is disabled by {THRESHOLD_ENV}=off; nothing was signalled"
                );
            }
            reaper.disabled_report()
        }
        Threshold::After(d) => match reaper.threshold(d).run() {
            Err(patina_reap::Error::Interrupted) => {
                to_stderr!("Interrupted; nothing was signalled\n");
                return Ok(ExitCode::Interrupted);
            }
            result => {
                use anyhow::Context;
                result.context("could not look for stale processes")?
            }
        },
    };
    print_report(cli, &report, colors)?;
    if interrupt.load(Ordering::SeqCst) {
        to_stderr!(
            "Interrupted; a process listed as still running was sent SIGTERM but not SIGKILL\n"
        );
        return Ok(ExitCode::Interrupted);
    }
    Ok(if report.summary.failed > 0 {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

fn print_report(cli: &Cli, report: &Report, colors: &Colors) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for p in &report.processes {
        if p.outcome == Outcome::Failed {
            to_stderr!("{} {p}\n", colors.err("warning:", Paint::Yellow));
        }
    }
    if cli.verbose {
        for why in report.left_out() {
            eprintln!("note: left out {why}");
        }
    }
    if cli.json {
        writeln!(out, "{}", report.to_json())?;
        return Ok(());
    }
    if cli.quiet || report.disabled {
        return Ok(());
    }
    for p in &report.processes {
        let paint = match p.outcome {
            Outcome::Terminated | Outcome::Killed => Paint::Green,
            Outcome::WouldReap => Paint::Yellow,
            Outcome::Skipped | Outcome::Vanished if cli.verbose => Paint::Dimmed,
            _ => continue,
        };
        writeln!(out, "{}", colors.out(&p.to_string(), paint))?;
    }
    writeln!(out, "{}", colors.out(&report.summary_line(), Paint::Bold))?;
    Ok(())
}

/// On SIGINT or SIGTERM, set `flag`: the library then sends no further signal, stops
/// waiting and reports what became of each process so far. A second one ends the tool
/// at once, with status 130.
fn catch_interrupts(flag: &Arc<AtomicBool>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so that it sees the flag as the previous signal left it.
        let _ = flag::register_conditional_shutdown(signal, 130, Arc::clone(flag));
        let _ = flag::register(signal, Arc::clone(flag));
    }
}

/// The transient status line on a terminal's stderr: shown while a wait lasts, then
/// erased.
fn show_status(progress: Progress) {
    let text = match progress {
        Progress::WaitingForTurn { up_to } => format!(
            "waiting up to {} for another patina-reap of these names to finish...",
            short_duration(up_to)
        ),
        Progress::WaitingForExit {
            count,
            signal,
            up_to,
        } if !up_to.is_zero() => format!(
            "waiting up to {} for {count} {} to exit after {signal}...",
            short_duration(up_to),
            if count == 1 { "process" } else { "processes" }
        ),
        _ => String::new(),
    };
    // Carriage return, then erase to the end of the line.
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K{text}");
    let _ = err.flush();
}

/// `5s`, `1m30s`, `2h5m`: a wait as people read it.
fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Reaping hundreds of processes holds one pidfd each: lift the soft descriptor limit
/// to the hard one (the library also copes in batches when it cannot).
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
}
