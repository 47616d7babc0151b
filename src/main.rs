//! `patina-reap`: parse arguments, run the library's engine, print, exit.

mod cli;
mod exit_codes;

use std::io::Write;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use owo_colors::{OwoColorize, Stream};

use cli::{Cli, ColorWhen};
use exit_codes::ExitCode;
use patina_reap::{Outcome, Reaper, Report, DEFAULT_THRESHOLD, THRESHOLD_ENV};

fn main() -> std::process::ExitCode {
    let matches = Cli::command().get_matches();
    let result = Cli::from_arg_matches(&matches)
        .map_err(|e| e.exit())
        .and_then(|cli| {
            let from_env = matches.value_source("threshold") == Some(ValueSource::EnvVariable);
            run(cli, from_env)
        });
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!(
                "{} {e:#}",
                "error:".if_supports_color(Stream::Stderr, |t| t.red())
            );
            // A bad PATINA_REAP_BACKEND is an environment usage error, like a bad
            // PATINA_REAP_THRESHOLD: nothing was scanned or signalled.
            match e.downcast_ref::<patina_reap::Error>() {
                Some(patina_reap::Error::UnknownBackend(_)) => ExitCode::Usage.into(),
                _ => ExitCode::Failure.into(),
            }
        }
    }
}

/// What the threshold setting resolved to.
enum Threshold {
    After(std::time::Duration),
    Off,
}

fn resolve_threshold(cli: &Cli, from_env: bool) -> Threshold {
    let Some(text) = cli.threshold.as_deref() else {
        return Threshold::After(DEFAULT_THRESHOLD);
    };
    let origin = if from_env {
        THRESHOLD_ENV.to_owned()
    } else {
        "--threshold <DURATION>".to_owned()
    };
    match text.trim() {
        "off" if from_env => Threshold::Off,
        "" if from_env => Threshold::After(DEFAULT_THRESHOLD),
        "off" => usage_error(format!(
            "invalid value 'off' for '{origin}': 'off' is only understood in {THRESHOLD_ENV}; \
             to send no signal use --dry-run"
        )),
        value => match patina_reap::parse_duration(value) {
            Ok(d) => Threshold::After(d),
            Err(e) => usage_error(format!("invalid value '{value}' for '{origin}': {e}")),
        },
    }
}

fn usage_error(message: String) -> ! {
    let _ = Cli::command()
        .error(clap::error::ErrorKind::InvalidValue, message)
        .print();
    std::process::exit(ExitCode::Usage.into())
}

fn run(cli: Cli, threshold_from_env: bool) -> anyhow::Result<ExitCode> {
    match cli.color {
        ColorWhen::Always => owo_colors::set_override(true),
        ColorWhen::Never => owo_colors::set_override(false),
        ColorWhen::Auto => {}
    }
    let threshold = resolve_threshold(&cli, threshold_from_env);
    raise_fd_limit();
    let reaper = Reaper::new()
        .grace(cli.grace)
        .names(cli.names.iter().cloned())
        .dry_run(cli.dry_run)
        .all_users(cli.all_users)
        .list_young(cli.verbose || cli.json);
    let report = match threshold {
        Threshold::Off => {
            if !cli.quiet {
                eprintln!("Reaping is disabled by {THRESHOLD_ENV}=off; nothing was signalled");
            }
            reaper.disabled_report()
        }
        Threshold::After(d) => reaper
            .threshold(d)
            .run()
            .context("could not look for stale processes")?,
    };
    print_report(&cli, &report)?;
    Ok(if report.summary.failed > 0 {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

fn print_report(cli: &Cli, report: &Report) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for p in &report.processes {
        if p.outcome == Outcome::Failed {
            eprintln!(
                "{} {p}",
                "warning:".if_supports_color(Stream::Stderr, |t| t.yellow())
            );
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
        let line = p.to_string();
        match p.outcome {
            Outcome::Terminated | Outcome::Killed => writeln!(
                out,
                "{}",
                line.if_supports_color(Stream::Stdout, |t| t.green())
            )?,
            Outcome::WouldReap => writeln!(
                out,
                "{}",
                line.if_supports_color(Stream::Stdout, |t| t.yellow())
            )?,
            Outcome::Skipped | Outcome::Vanished if cli.verbose => writeln!(
                out,
                "{}",
                line.if_supports_color(Stream::Stdout, |t| t.dimmed())
            )?,
            _ => {}
        }
    }
    writeln!(
        out,
        "{}",
        report
            .summary_line()
            .if_supports_color(Stream::Stdout, |t| t.bold())
    )?;
    Ok(())
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
