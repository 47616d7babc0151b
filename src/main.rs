//! `patina-reap`: parse arguments, run the library's engine, print, exit.
#![forbid(unsafe_code)]

/// `eprintln!`/`eprint!` without the panic: a closed or full stderr (`2>/dev/full`) has
/// nowhere to report to, so a failed write is dropped.
macro_rules! to_stderr {
    ($($arg:tt)*) => {{
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod color;
mod exit_codes;
mod generate;
mod os;
mod output;
mod settings;
mod users;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use cli::Cli;
use color::Colors;
use exit_codes::ExitCode;
use patina_reap::{Preflight, Reaper, THRESHOLD_ENV};
use settings::{Parsed, PreflightSettings, Settings, Threshold};

fn main() -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (cli, settings, colors) = match settings::parse(&args) {
        Ok(Parsed::Run(cli, settings, colors)) => (cli, settings, colors),
        Ok(Parsed::Preflight(settings)) => return preflight(&settings).into(),
        Err(code) => return code.into(),
    };
    match run(&cli, &settings, &colors) {
        Ok(code) => code.into(),
        Err(e) => output::report_error(&e, &colors).into(),
    }
}

/// Reap (or list) with the checked settings, print the report and say how to exit.
fn run(cli: &Cli, settings: &Settings, colors: &Colors) -> anyhow::Result<ExitCode> {
    os::raise_fd_limit();
    let interrupt = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicUsize::new(0));
    // A dry run signals nothing: Ctrl-C may end it as it ends anything.
    if !cli.dry_run {
        os::catch_interrupts(&interrupt, &which);
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
                output::show_status(p);
            }
        });
    let reaper = match settings.users.as_slice() {
        [] => reaper,
        users => reaper.users(users.iter().copied()),
    };
    let reaper = match &settings.sockets {
        Some(sockets) => reaper.sockets(sockets.iter().cloned()),
        None => reaper,
    };
    let report = match settings.threshold {
        Threshold::Off => {
            if !cli.quiet {
                to_stderr!("Reaping is disabled by {THRESHOLD_ENV}=off; nothing was signalled\n");
            }
            reaper.disabled_report()
        }
        Threshold::After(d) => match reaper.threshold(d).run() {
            Err(patina_reap::Error::Interrupted) => {
                to_stderr!("Interrupted; nothing was signalled\n");
                return Ok(os::interrupted_status(&which));
            }
            result => {
                use anyhow::Context;
                result.context("could not look for stale processes")?
            }
        },
    };
    let interrupted = interrupt.load(Ordering::SeqCst);
    let status = if interrupted {
        os::interrupted_status(&which)
    } else if report.summary.failed > 0 {
        ExitCode::Failure
    } else {
        ExitCode::Success
    };
    // Printed only now, after every signal was sent and confirmed: a closed or full
    // stdout cannot stop or skip a reap.
    let printed = output::print_report(cli, &report, colors);
    if interrupted {
        to_stderr!(
            "Interrupted; a process listed as still running was sent SIGTERM but not SIGKILL\n"
        );
    }
    match printed {
        Ok(()) => Ok(status),
        // The reader has what it wanted (`| head -1`): end quietly, as rg and fd do, with
        // the status that says what became of the processes.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => {
            to_stderr!(
                "{} could not write the report to stdout: {e}\n",
                colors.err("error:", color::Paint::Red)
            );
            // A failed reap or an interruption says more than the lost report.
            Ok(match status {
                ExitCode::Success => ExitCode::Output,
                other => other,
            })
        }
    }
}

/// `--preflight`: the library's preflight, as `patina` linking it runs it (its lines on
/// stderr), with the flags that combine with it; whatever became of the processes, done.
/// Nothing else is set up first (no descriptor limit, no signal handler): most starts
/// only check the proof of an earlier clean scan.
fn preflight(settings: &PreflightSettings) -> ExitCode {
    // Young processes unlisted, as in the preflight's own reaper.
    let reaper = Reaper::new()
        .list_young(false)
        .names(settings.names.iter().cloned());
    let reaper = match &settings.sockets {
        Some(sockets) => reaper.sockets(sockets.iter().cloned()),
        None => reaper,
    };
    let preflight = Preflight::new().reaper(reaper);
    let preflight = match settings.threshold {
        Some(threshold) => preflight.threshold(threshold),
        None => preflight,
    };
    let _ = preflight.run();
    ExitCode::Success
}
