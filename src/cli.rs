//! The command-line definition. Also compiled into the man page and completion
//! generator (`examples/generate.rs`), so it depends only on clap and the library.

use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};

/// When to color human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorWhen {
    /// Color when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

const ABOUT: &str = "Find, list and safely reap stale patina processes";

const LONG_ABOUT: &str = "\
Find, list and safely reap stale patina processes.

A process is a patina process when its program name, the basename of the first word of \
argv[0], is exactly one of the --name values (default: patina). It is stale when it has \
been running for at least --threshold. Stale processes get SIGTERM, then SIGKILL after \
--grace, and are confirmed gone.

Never touched: this process and its ancestors; other users' processes (unless \
--all-users); zombies; a process in the foreground process group of a live terminal. \
Each process is identified by pid and start time, so a reused PID is never signalled.";

const AFTER_LONG_HELP: &str = "\
DURATION is one or more <integer><unit> with units s, m, h, d, w, optionally separated by \
spaces: 90s, 45m, 24h, 2d3h, '1h 30m'. A bare number is an error.

Environment:
  PATINA_REAP_THRESHOLD  default for --threshold; 'off' disables reaping
  PATINA_REAP_BACKEND    process source: proc (Linux default) or ps
  NO_COLOR               disables color with --color auto

Exit status: 0 done (also when nothing was stale), 1 a stale process could not be reaped \
or the process table could not be read, 2 usage error.

Examples:
  patina-reap --dry-run
  patina-reap --threshold 2d --json | jq '.processes[] | select(.outcome == \"killed\")'";

/// patina-reap: find, list and safely reap stale patina processes.
#[derive(Debug, Parser)]
#[command(
    name = "patina-reap",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
pub(crate) struct Cli {
    /// Minimum age of a stale process [default: 24h]
    #[arg(
        short,
        long,
        value_name = "DURATION",
        env = "PATINA_REAP_THRESHOLD",
        hide_env_values = true
    )]
    pub(crate) threshold: Option<String>,

    /// List what would be reaped; send no signal
    #[arg(short = 'n', long)]
    pub(crate) dry_run: bool,

    /// Print one JSON document on stdout instead of lines
    #[arg(long)]
    pub(crate) json: bool,

    /// Wait between SIGTERM and SIGKILL
    #[arg(short, long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub(crate) grace: Duration,

    /// Program name to match exactly; repeatable
    #[arg(long = "name", value_name = "NAME", default_value = "patina", action = ArgAction::Append, value_parser = parse_name)]
    pub(crate) names: Vec<String>,

    /// Also consider other users' processes (needs privileges)
    #[arg(long)]
    pub(crate) all_users: bool,

    /// Also list matched processes that are kept, with the reason
    #[arg(short, long, conflicts_with = "quiet")]
    pub(crate) verbose: bool,

    /// Print only errors
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// When to color output (NO_COLOR is honoured with auto)
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub(crate) color: ColorWhen,
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    patina_reap::parse_duration(text).map_err(|e| e.to_string())
}

fn parse_name(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("a program name cannot be empty".into())
    } else if text.contains('/') || text.chars().any(char::is_whitespace) {
        Err(format!(
            "'{text}' can never match: a program name is a basename, without '/' or spaces"
        ))
    } else {
        Ok(text.to_owned())
    }
}
