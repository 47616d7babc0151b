//! The command-line definition. Also compiled into the man page and completion
//! generator (`examples/generate.rs`), so it depends only on clap and the library.
//!
//! The help texts below are the single source for `--help` and for `man/patina-reap.1`:
//! paragraphs are separated by blank lines, and a line starting with `  - ` is a list item.

use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum, ValueHint};

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

pub(crate) const ABOUT: &str = "Find, list and safely reap stale patina processes";

/// The DESCRIPTION of the man page and the top of `--help`.
pub(crate) const LONG_ABOUT: &str = "\
Find, list and safely reap stale patina processes, and never anything else.

A process is a patina process when its program name, the basename of the first word of \
argv[0], is exactly one of the --name values (default: patina). So \
'/usr/local/bin/patina serve' matches, while 'patina-index', 'vim src/patina/main.rs' and \
'sh -c \"patina serve\"' do not. A process with an empty argv (a zombie) is matched by its \
kernel name; kernel threads never match.

It is stale when its age is at least --threshold (default 24h), or, on Linux, when its \
executable was replaced since it started (an upgrade), whatever its age. The age comes \
from the start time the kernel recorded for the process (on Linux /proc/PID/stat against \
CLOCK_BOOTTIME), to the second, never from the process's own claims or the wall clock.

Stale processes all get SIGTERM at once; those still running after --grace (default 5s) \
get SIGKILL, and each is confirmed gone within 1s more, else it is reported as failed. \
A process is identified by its pid and start time: on Linux it is pinned with a pidfd, \
its start time checked again, and signalled through the pidfd; elsewhere its start time \
is checked right before each kill(2). A reused PID is never signalled.

Never touched, whatever their age (listed as skipped, with the first reason that applies, \
by --verbose and --json):
  - ancestor: this process and every ancestor up the parent chain;
  - zombie: a process that has already exited;
  - young: younger than --threshold, and its executable not replaced;
  - foreground: in the foreground process group of a live terminal;
  - attached: its parent is alive and does not adopt orphans (PID 1, a parent outside \
the PID namespace, or a service manager named systemd or init): an editor's MCP server, \
a live shell's job;
  - serving: it listens on a daemon socket (--socket) and its executable was not \
replaced.

Other users' processes are not even looked at: only those whose effective uid is the \
caller's count, also when running as root, unless --all-users is given.

Reapers of the same user and names take turns (an advisory lock on a file in $TMPDIR, \
or /tmp), so that each stale process is reported by one of them: a run waits up to \
--grace + 10s for another to finish, then goes on regardless. A dry run does not wait.";

/// The DURATION syntax, shared by --threshold and --grace.
pub(crate) const DURATION_SYNTAX: &str = "\
DURATION is one or more <integer><unit> with units s, m, h, d, w, optionally separated by \
spaces: 90s, 45m, 24h, 2d3h, '1h 30m'. A bare number (24, 0), a negative value or an \
unknown unit is a usage error, so '--threshold 24' never means 24 seconds.";

/// (variable, summary for `--help`, more for the man page).
pub(crate) const ENVIRONMENT: &[(&str, &str, &str)] = &[
    (
        "PATINA_REAP_THRESHOLD",
        "default for --threshold; 'off' disables reaping",
        "A DURATION; empty means the default, 24h. With 'off' nothing is scanned or \
         signalled: the tool says so on stderr (unless --quiet) and exits 0. Any other \
         value that is not a DURATION is a usage error. patina's own start-up check reads \
         it too.",
    ),
    (
        "PATINA_REAP_BACKEND",
        "process source: proc (Linux default) or ps",
        "proc reads /proc directly; ps runs ps(1) once per scan and is the default where \
         there is no /proc. Any other value is a usage error (exit status 2).",
    ),
    (
        "NO_COLOR",
        "disables color with --color auto",
        "Set to anything but 0, it turns color off unless --color always is given. \
         JSON output is never colored.",
    ),
];

/// (status, summary for `--help`, more for the man page).
pub(crate) const EXIT_STATUS: &[(&str, &str, &str)] = &[
    (
        "0",
        "done, also when nothing was stale",
        "Every stale process was reaped (or, with --dry-run, listed), or reaping is \
         disabled by PATINA_REAP_THRESHOLD=off.",
    ),
    (
        "1",
        "a stale process could not be reaped, or the scan failed",
        "A stale process was still running after SIGKILL or could not be signalled \
         (its line starts with 'warning:' on stderr), or the process table could not be \
         read.",
    ),
    (
        "2",
        "usage error; nothing was signalled",
        "A bad flag, DURATION, PATINA_REAP_THRESHOLD or PATINA_REAP_BACKEND value.",
    ),
];

/// (command line, what it does), shown in `--help` and the man page.
pub(crate) const EXAMPLES: &[(&str, &str)] = &[
    (
        "patina-reap --dry-run",
        "List the patina processes older than 24h; send no signal.",
    ),
    (
        "patina-reap --threshold 12h --verbose",
        "Reap those older than 12h, and also list the ones kept, with the reason.",
    ),
    (
        "patina-reap --json | jq -r '.processes[] | [.pid, .outcome] | @tsv'",
        "Reap, and print the pid and outcome of every matched process.",
    ),
    (
        "patina-reap --dry-run --json | jq '[.processes[] | select(.outcome == \"would_reap\")] | length'",
        "Count the stale processes without touching them.",
    ),
];

/// `--help` after the options: the DURATION syntax, environment, exit status, examples.
fn after_long_help() -> String {
    let mut text = format!("{DURATION_SYNTAX}\n\nEnvironment:\n");
    for (name, summary, _) in ENVIRONMENT {
        text.push_str(&format!("  {name:<22} {summary}\n"));
    }
    text.push_str("\nExit status:\n");
    for (status, summary, _) in EXIT_STATUS {
        text.push_str(&format!("  {status}  {summary}\n"));
    }
    text.push_str("\nExamples:\n");
    for (command, what) in EXAMPLES {
        text.push_str(&format!("  {command}\n      {what}\n"));
    }
    text.push_str("\nThe manual page patina-reap(1) has more, including cron and launchd use.");
    text
}

/// patina-reap: find, list and safely reap stale patina processes.
#[derive(Debug, Parser)]
#[command(
    name = "patina-reap",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = after_long_help()
)]
pub(crate) struct Cli {
    /// Minimum age of a stale process [default: 24h]
    ///
    /// Inclusive, to the second. Without this flag PATINA_REAP_THRESHOLD is used when
    /// set; 'off' is only understood there (to send no signal, use --dry-run).
    #[arg(
        short,
        long,
        value_name = "DURATION",
        value_hint = ValueHint::Other,
        env = "PATINA_REAP_THRESHOLD",
        hide_env_values = true
    )]
    pub(crate) threshold: Option<String>,

    /// List what would be reaped; send no signal
    ///
    /// Stale processes are reported as "Would clean up" lines (would_reap in JSON).
    #[arg(short = 'n', long)]
    pub(crate) dry_run: bool,

    /// Print one JSON document on stdout instead of lines
    ///
    /// Every matched process of the considered users is listed with its outcome and,
    /// when skipped or failed, the reason; the document is printed even when nothing
    /// matched, and never colored.
    #[arg(long)]
    pub(crate) json: bool,

    /// Wait between SIGTERM and SIGKILL
    ///
    /// Processes still running this long after SIGTERM get SIGKILL; then they have up
    /// to 1s more to be gone.
    #[arg(
        short,
        long,
        value_name = "DURATION",
        value_hint = ValueHint::Other,
        default_value = "5s",
        value_parser = parse_duration_arg
    )]
    pub(crate) grace: Duration,

    /// Program name to match exactly; repeatable
    ///
    /// The basename of the first word of argv[0] must equal NAME, with no '/' or spaces.
    /// Giving --name replaces the default; repeat it to match several programs.
    #[arg(
        long = "name",
        value_name = "NAME",
        value_hint = ValueHint::Other,
        default_value = "patina",
        action = ArgAction::Append,
        value_parser = parse_name
    )]
    pub(crate) names: Vec<String>,

    /// Also consider other users' processes (needs privileges)
    ///
    /// Without it only processes whose effective uid is the caller's are looked at, also
    /// as root. Signalling another user's process needs root (or CAP_KILL); where that is
    /// denied the process is reported as failed.
    #[arg(long)]
    pub(crate) all_users: bool,

    /// Daemon socket whose listener is kept (serving); repeatable, or 'none'
    ///
    /// A process listening on PATH that runs the executable it started with is kept as
    /// serving, whatever its age. Giving --socket replaces the default,
    /// $HOME/.patina/run/serve.sock (with --all-users as root, each other owner's
    /// ~/.patina/run/serve.sock counts too, for that owner); '--socket none' checks no
    /// socket. Only a listener running as the caller counts. The lookup sends nothing
    /// and takes at most 100ms: on Linux it reads /proc/net/unix and the candidates'
    /// descriptors; elsewhere one connection, closed at once, tells whether anybody
    /// listens, and then every candidate of that user is kept.
    #[arg(
        long = "socket",
        value_name = "PATH",
        value_hint = ValueHint::FilePath,
        action = ArgAction::Append,
        value_parser = parse_socket
    )]
    pub(crate) sockets: Vec<std::path::PathBuf>,

    /// Also list matched processes that are kept, with the reason
    ///
    /// The reason is ancestor, zombie, young, foreground, attached or serving; processes that exited before
    /// the first signal are listed as vanished.
    #[arg(short, long, conflicts_with = "quiet")]
    pub(crate) verbose: bool,

    /// Print only errors and warnings
    ///
    /// No line per process and no summary on stdout; failures still get a warning line
    /// on stderr, and --json still prints its document.
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// When to color human output (NO_COLOR is honoured with auto)
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

fn parse_socket(text: &str) -> Result<std::path::PathBuf, String> {
    if text.is_empty() {
        Err("a socket path cannot be empty (use 'none' to check no socket)".into())
    } else {
        Ok(text.into())
    }
}

impl Cli {
    /// The sockets asked for: `None` for the default, empty for `--socket none`.
    pub(crate) fn socket_list(&self) -> Result<Option<Vec<std::path::PathBuf>>, String> {
        let none = std::path::Path::new("none");
        match self.sockets.iter().any(|p| p == none) {
            false if self.sockets.is_empty() => Ok(None),
            false => Ok(Some(self.sockets.clone())),
            true if self.sockets.len() == 1 => Ok(Some(Vec::new())),
            true => Err(
                "'--socket none' cannot be combined with socket paths (for a file \
                         called none, give ./none)"
                    .into(),
            ),
        }
    }
}
