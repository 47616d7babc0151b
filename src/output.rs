//! Everything the binary prints besides help: the report, the status line and errors.

use std::ffi::OsString;
use std::io::Write;

use clap::error::ErrorKind;
use clap::CommandFactory;

use patina_reap::for_cli::escape;
use patina_reap::{Outcome, Progress, Report};

use crate::cli::Cli;
use crate::color::{Colors, Paint};
use crate::exit_codes::ExitCode;

/// Print an error from a run once, with its causes, and give the status to exit with.
pub(crate) fn report_error(e: &anyhow::Error, colors: &Colors) -> ExitCode {
    match e.downcast_ref::<patina_reap::Error>() {
        // A bad PATINA_REAP_BACKEND is an environment usage error, like a bad
        // PATINA_REAP_THRESHOLD: nothing was scanned or signalled.
        Some(inner @ patina_reap::Error::UnknownBackend(_)) => {
            usage_error(colors, &inner.to_string())
        }
        _ => {
            to_stderr!("{} {}\n", colors.err("error:", Paint::Red), error_chain(e));
            ExitCode::Failure
        }
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

/// Print a clap error (or help) as clap would, but never an argument as it came: clap
/// echoes arguments, so when one holds a character that could drive a terminal the
/// error is made again from escaped arguments, which fail the same way.
pub(crate) fn print_clap_error(e: &clap::Error, args: &[OsString], colors: &Colors) -> ExitCode {
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
            to_stderr!("{}", with_usage(&escaped, colors.stderr()));
        }
        // Not the same failure: clap's text, plain, with anything left escaped.
        _ if e.use_stderr() && unsafe_args => {
            to_stderr!("{}", escape_lines(&with_usage(e, false)))
        }
        _ if e.use_stderr() => to_stderr!("{}", with_usage(e, colors.stderr())),
        // Help and version, on stdout; a closed pipe (`--help | head`) is not an error.
        _ => {
            let _ = e.print();
        }
    }
    match e.exit_code() {
        0 => ExitCode::Success,
        _ => ExitCode::Usage,
    }
}

/// clap's text for the usage error `e`, with the `Usage:` line that every usage error
/// shows: clap leaves it out of some (a missing value: `--color`, `--socket=`).
fn with_usage(e: &clap::Error, ansi: bool) -> String {
    let render = |styled: clap::builder::StyledStr| {
        if ansi {
            styled.ansi().to_string()
        } else {
            styled.to_string()
        }
    };
    let text = render(e.render());
    if text.contains("Usage:") {
        return text;
    }
    let usage = render(Cli::command().render_usage());
    match text.find("\nFor more information") {
        Some(at) => format!("{}\n{usage}\n{}", &text[..at], &text[at..]),
        None => format!("{text}\n{usage}\n"),
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
pub(crate) fn usage_error(colors: &Colors, message: &str) -> ExitCode {
    let _ = Cli::command()
        .color(colors.clap())
        .error(ErrorKind::InvalidValue, message)
        .print();
    ExitCode::Usage
}

/// Print the file `--generate` asks for on stdout. A closed pipe is not an error; any
/// other failed write is, with the status of an unwritten report.
pub(crate) fn print_generated(kind: crate::cli::Generate, colors: &Colors) -> ExitCode {
    let written = kind.render().and_then(|content| {
        let mut out = Stdout {
            lock: std::io::stdout().lock(),
            closed: crate::os::stdout_was_closed(),
        };
        out.write_all(&content)?;
        out.flush()
    });
    match written {
        Ok(()) => ExitCode::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Success,
        Err(e) => {
            to_stderr!(
                "{} could not write {} to stdout: {e}\n",
                colors.err("error:", Paint::Red),
                kind.path()
            );
            ExitCode::Output
        }
    }
}

/// Failures as warnings on stderr, then the report on stdout as `--json`, `--quiet` and
/// `--verbose` ask. A failed write of stdout (a closed pipe, a full disk) is returned;
/// stderr's are dropped.
pub(crate) fn print_report(cli: &Cli, report: &Report, colors: &Colors) -> std::io::Result<()> {
    let mut out = Stdout {
        lock: std::io::stdout().lock(),
        closed: crate::os::stdout_was_closed(),
    };
    for p in &report.processes {
        if p.outcome == Outcome::Failed {
            to_stderr!("{} {p}\n", colors.err("warning:", Paint::Yellow));
        }
    }
    if cli.verbose {
        for why in report.left_out() {
            to_stderr!("note: left out {why}\n");
        }
    }
    if cli.json {
        writeln!(out, "{}", report.to_json())?;
        return out.flush();
    }
    if cli.pids {
        // The usual lines, under --verbose, on stderr: stdout holds PIDs only.
        if cli.verbose && !report.disabled() {
            let mut err = std::io::stderr().lock();
            let _ = write_lines(&mut err, cli, report, &|text, _| text.to_owned());
        }
        for p in &report.processes {
            if p.outcome.is_reaped() || p.outcome == Outcome::WouldReap {
                if cli.full {
                    writeln!(out, "{} {}", p.pid, p.full_command())?;
                } else {
                    writeln!(out, "{}", p.pid)?;
                }
            }
        }
        return out.flush();
    }
    if cli.quiet || report.disabled() {
        return Ok(());
    }
    write_lines(&mut out, cli, report, &|text, paint| {
        colors.out(text, paint)
    })?;
    out.flush()
}

/// stdout, where a write fails with EBADF, as it would have in C, if stdout was
/// closed when the tool started: the runtime's /dev/null in its place would lose the
/// report silently.
struct Stdout {
    lock: std::io::StdoutLock<'static>,
    closed: bool,
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Err(rustix::io::Errno::BADF.into());
        }
        self.lock.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lock.flush()
    }
}

/// A line per process as `--verbose` asks, then the summary line, each painted by
/// `paint`.
fn write_lines(
    out: &mut dyn Write,
    cli: &Cli,
    report: &Report,
    paint: &dyn Fn(&str, Paint) -> String,
) -> std::io::Result<()> {
    for p in &report.processes {
        let how = match p.outcome {
            Outcome::Terminated | Outcome::Killed => Paint::Green,
            Outcome::WouldReap | Outcome::WouldFail => Paint::Yellow,
            Outcome::Skipped | Outcome::Vanished if cli.verbose => Paint::Dimmed,
            _ => continue,
        };
        let line = if cli.full {
            p.full_line()
        } else {
            p.to_string()
        };
        writeln!(out, "{}", paint(&line, how))?;
    }
    writeln!(out, "{}", paint(&report.summary_line(), Paint::Bold))
}

/// The transient status line on a terminal's stderr: shown while a wait lasts, then
/// erased.
pub(crate) fn show_status(progress: Progress) {
    let text = progress.to_string();
    // Carriage return, then erase to the end of the line.
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K{text}");
    let _ = err.flush();
}
