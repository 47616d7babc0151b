//! The command-line definition. Also compiled into `examples/generate.rs`, which writes
//! the man page and completions through `generate.rs`, so it depends only on clap, the
//! library and `generate.rs`.
//!
//! The help texts below are the single source for `--help` and for `man/patina-reap.1`:
//! paragraphs are separated by blank lines, and a line starting with `  - ` is a list item.

use clap::builder::TypedValueParser;
use clap::{ArgAction, Parser, ValueEnum, ValueHint};
use patina_reap::{Outcome, SkipReason, Trigger};

/// When to color human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorWhen {
    /// Color when writing to a terminal; see NO_COLOR, CLICOLOR_FORCE and FORCE_COLOR.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// What `--generate` prints: a shell's completions, or the manual page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Generate {
    /// Completions for bash.
    Bash,
    /// Completions for zsh.
    Zsh,
    /// Completions for fish.
    Fish,
    /// Completions for elvish.
    Elvish,
    /// Completions for PowerShell.
    Powershell,
    /// The manual page, patina-reap(1), in roff.
    Man,
}

pub(crate) const ABOUT: &str = "Find, list and safely reap stale patina processes";

/// The DESCRIPTION of the man page and the top of `--help`.
/// The man page's DESCRIPTION and the long help's how-it-decides, with the list of
/// reasons to keep a process made from [`SkipReason`] ([`long_about`]).
const LONG_ABOUT_TEMPLATE: &str = "\
Find, list and safely reap stale patina processes, and never anything else.

A process is a patina process when its program name, the basename of the first word of \
argv[0], is exactly one of the --name values (default: patina). So \
'/usr/local/bin/patina serve' matches, while 'patina-index', 'vim src/patina/main.rs' and \
'sh -c \"patina serve\"' do not. An argv[0] with white space that equals the \
executable's path (Linux /proc/PID/exe) is one path: '/opt/patina tools/indexer' is \
indexer; where that path cannot be read, it matches only if its first word and its whole \
text give the same name. A process with an empty argv (a zombie, or a live process whose \
main thread exited) is matched by its kernel name; kernel threads never match.

It is stale when its age is at least --threshold (default 24h), or, whatever its age, \
when it listens on a daemon socket (--socket) whose path now leads to another live \
listener, so that nobody can reach it (superseded: a second daemon removed its socket \
file and bound its own), or, on Linux, when it listens on a socket and its executable \
was replaced since it started (replaced: the old daemon after an upgrade; a replaced \
process that does not listen, a forked worker, follows the age rule). The age comes \
from the start time the kernel recorded for the process (on Linux /proc/PID/stat against \
CLOCK_BOOTTIME), to the second, never from the process's own claims or the wall clock.

Stale processes all get SIGTERM at once; those still running after --grace (default 5s) \
get SIGKILL, and each is confirmed gone within 1s more, else it is reported as failed. \
A process is identified by its pid and start time: on Linux it is pinned with a pidfd, \
its start time checked again, and signalled through the pidfd; elsewhere, and where \
pidfds are missing or a sandbox refuses them, its start time is checked right before each \
kill(2). A reused PID is never signalled.

Never touched, whatever their age (listed as skipped, with the first reason that applies, \
by --verbose and --json):
{skip_reasons}

A superseded daemon gets SIGKILL at once, no SIGTERM: nobody can reach it, and patina's \
daemon removes its socket and mother.pid on SIGTERM, whoever's they are by then. The \
reaper itself creates, links, removes and writes nothing in any user's directories, \
follows no symlink a user could have made, and on Linux connects to no socket at all. \
Which socket a process serves is told by the listener it holds, never by HOME or \
/etc/passwd; a process holding a connection a daemon socket accepted whose client is \
still there is in use (connected). Without the kernel's socket diagnostics (a sandbox \
that refuses netlink), every process holding a listener on a daemon socket's path is \
kept (unknown-serving).

Other users' processes are not even looked at: only those whose effective uid (on Linux \
the Uid: line of /proc/PID/status) is the caller's count, also when running as root, \
unless --all-users is given. A /proc that belongs to another PID namespace (/proc/self \
is not this process) is refused: nothing is signalled and the exit status is 1.

Reapers of the same user, names and PID namespace take turns (an advisory lock on a file in \
$XDG_RUNTIME_DIR if it is an absolute directory of ours, else an absolute $TMPDIR, else \
/tmp), so that each stale process is reported by one of them: a run waits up to --grace \
+ 10s for another to finish, then goes on regardless; a holder that is stopped (Ctrl-Z) \
is not waited for (Linux). A dry run does not wait, nor does --preflight: it leaves \
the stale processes to the reaper whose turn it is.

While it waits (for its turn, or for processes to exit after a signal) and stderr is a \
terminal, a status line there says so, and is erased when the wait ends; nothing of it \
is written when stderr is not a terminal, or with --quiet, --json or --preflight.

SIGINT (Ctrl-C) or SIGTERM during a run stops it: no further signal is sent, each \
process already signalled is listed with what became of it (one still running is a \
warning), and the exit status is 130 (SIGINT) or 143 (SIGTERM). Before any signal was \
sent, nothing is. A second SIGINT or SIGTERM ends the tool at once. --preflight \
catches neither: the signal ends it at once, as it ends the launcher that runs it.";

/// The DURATION syntax, shared by --threshold and --grace.
pub(crate) const DURATION_SYNTAX: &str = "\
DURATION is one or more <integer><unit> with units s, m, h, d, w, optionally separated by \
spaces: 90s, 45m, 24h, 2d3h, '1h 30m'. A bare number (24, 0), a negative value or an \
unknown unit is a usage error, so '--threshold 24' never means 24 seconds (after \
--older or --older-than, pkill's and killall's names for it, the error asks whether \
seconds were meant: 24s).";

/// (variable, summary for `--help`, the whole text for the man page).
pub(crate) const ENVIRONMENT: &[(&str, &str, &str)] = &[
    (
        "PATINA_REAP_THRESHOLD",
        "default for --threshold; 'off' disables reaping",
        "The default for --threshold, a DURATION; empty means 24h. With 'off' nothing is \
         scanned or signalled: the tool says so on stderr (unless --quiet) and exits 0, and \
         --json reports disabled true and threshold_secs null. Any other value that is not \
         a DURATION is a usage error. patina's own start-up check reads it too, as does \
         --preflight, the same check: there 'off' is silent, and a value that is not a \
         DURATION is a warning, then 24h.",
    ),
    (
        "PATINA_REAP_BACKEND",
        "process source: proc (Linux default) or ps",
        "The process source: proc reads /proc directly and is the default on Linux; ps \
         runs ps(1) once per scan and is the default where there is no /proc. Any other \
         value is a usage error (exit status 2); with --preflight, nothing is scanned, \
         silently.",
    ),
    (
        "NO_COLOR",
        "set and not empty: no color with --color auto (wins over the next two)",
        "Set to any non-empty value (even 0), it turns color off with --color auto, usage \
         errors included; set but empty, it is ignored (no-color.org). It wins over \
         CLICOLOR_FORCE and FORCE_COLOR; --color always and --color never win over all \
         three. JSON output is never colored.",
    ),
    (
        "CLICOLOR_FORCE",
        "set, not empty and not 0: color with --color auto, even when piped",
        "Set, not empty and not 0: with --color auto, color even when the output is not a \
         terminal, unless NO_COLOR is set and not empty.",
    ),
    (
        "FORCE_COLOR",
        "set, not empty and not 0 or false: like CLICOLOR_FORCE",
        "Set, not empty and not 0 or false: understood as CLICOLOR_FORCE is, for tools \
         that set this one instead.",
    ),
    (
        "TERM",
        "'dumb' turns color off with --color auto",
        "When it is dumb, --color auto uses no color. Otherwise, with --color auto and none \
         of the three variables above deciding, each stream (stdout for the report, stderr \
         for warnings and errors) is colored when it is a terminal.",
    ),
];

/// (status, summary for `--help`, the whole text for the man page).
pub(crate) const EXIT_STATUS: &[(&str, &str, &str)] = &[
    (
        "0",
        "done, also when nothing was stale or nothing matched; --preflight: always",
        "Done: every stale process was reaped (or, with --dry-run, listed), also when \
         nothing was stale or nothing matched; or reaping is disabled by \
         PATINA_REAP_THRESHOLD=off. With --preflight, whatever became of the processes \
         or the environment, but for a usage error.",
    ),
    (
        "1",
        "a stale process could not be reaped, or the scan failed",
        "A stale process could not be reaped: it was still running after SIGKILL, or could \
         not be signalled (its line starts with 'warning:' on stderr); or the process table \
         could not be read (also a /proc of another PID namespace). Never with --preflight.",
    ),
    (
        "2",
        "usage error; nothing was signalled",
        "A bad flag, DURATION, --user, PATINA_REAP_THRESHOLD or PATINA_REAP_BACKEND value; \
         nothing was scanned or signalled. With --preflight, only a bad flag or value on \
         the command line, a flag that does not combine with it among them.",
    ),
    (
        "3",
        "the report could not be written; every stale process was reaped",
        "Writing the report to stdout failed (a full disk, an I/O error, a stdout closed \
         with >&-) after every stale process was reaped: nothing is written before every \
         signal was sent and confirmed. The error is on stderr. A closed pipe (patina-reap -n | head -1) is not an error: \
         the run ends quietly with the status it would have had. Where a stale process \
         could not be reaped the status is 1 all the same. Also when the file of \
         --generate could not be written.",
    ),
    (
        "130, 143",
        "interrupted by SIGINT (130) or SIGTERM (143)",
        "Interrupted by SIGINT (130) or SIGTERM (143): no further signal was sent; the \
         processes already signalled are listed with what became of them, those still \
         running as warnings.",
    ),
];

/// The JSON document of --json, for the man page: (field, meaning); the lists of
/// outcomes, reasons and triggers are filled in by [`json_fields`].
const JSON_FIELDS_FIXED: &[(&str, &str)] = &[
    ("version", "The schema version, 1."),
    (
        "threshold_secs, grace_secs",
        "The settings used; threshold_secs is null when reaping is disabled.",
    ),
    ("dry_run", "No signal was sent."),
    (
        "disabled",
        "PATINA_REAP_THRESHOLD=off: nothing was scanned.",
    ),
    (
        "processes[]",
        "Every matched process of the considered users, in scan order, with pid, ppid, \
         name (the program name it matched), command (argv joined with spaces, for showing, \
         not for running), argv, uid (effective), age_secs, rss_bytes (resident, shared \
         pages included), private_bytes (what ending it frees; null unless reaped or \
         would be, and on the ps backend), outcome, reason, trigger and first_signal.",
    ),
    (".outcome", ""),
    (".reason", ""),
    (".trigger", ""),
    (
        ".first_signal",
        "SIGKILL for a superseded daemon (ended at once: its SIGTERM handler would remove \
         its successor's files), else SIGTERM (then SIGKILL after the grace period); null \
         for skipped.",
    ),
    (
        "summary",
        "reaped, failed, freed_bytes, would_reap, would_fail, would_free_bytes. Bytes are \
         private_bytes where known, else rss_bytes.",
    ),
];

/// The man page's JSON fields, the lists of outcomes, reasons and triggers made from
/// the enums, so that a new variant cannot go undocumented.
pub(crate) fn json_fields() -> Vec<(&'static str, String)> {
    JSON_FIELDS_FIXED
        .iter()
        .map(|&(field, text)| {
            let text = match field {
                ".outcome" => list(Outcome::ALL.iter().map(|o| (o.name(), o.meaning()))),
                ".reason" => format!(
                    "For skipped: {}; for failed and would_fail: why; else null.",
                    list(SkipReason::ALL.iter().map(|r| (r.name(), ""))).trim_end_matches('.')
                ),
                ".trigger" => format!(
                    "What made it stale: {} Null for skipped.",
                    list(Trigger::ALL.iter().map(|t| (t.name(), t.meaning())))
                ),
                _ => text.to_owned(),
            };
            (field, text)
        })
        .collect()
}

/// `a (what a means), b (...) or c.`, the meanings left out where empty.
fn list(items: impl Iterator<Item = (String, &'static str)>) -> String {
    let words: Vec<String> = items
        .map(|(name, meaning)| match meaning {
            "" => name,
            meaning => format!("{name} ({meaning})"),
        })
        .collect();
    match words.split_last() {
        Some((last, [])) => format!("{last}."),
        Some((last, rest)) => format!("{} or {last}.", rest.join(", ")),
        None => String::new(),
    }
}

/// The man page's DESCRIPTION and the long help's how-it-decides.
pub(crate) fn long_about() -> String {
    let reasons: Vec<String> = SkipReason::ALL
        .iter()
        .map(|r| format!("  - {}: {};", r.name(), r.meaning()))
        .collect();
    let mut reasons = reasons.join("\n");
    reasons.pop();
    reasons.push('.');
    LONG_ABOUT_TEMPLATE.replace("{skip_reasons}", &reasons)
}

/// The man page's FILES: (path, what it is).
pub(crate) const FILES: &[(&str, &str)] = &[
    (
        "$XDG_RUNTIME_DIR/patina-reap-UID-HASH.lock",
        "The advisory lock (flock) with which reapers of one user and set of names take \
         turns; the holder writes its PID into it. It is in $XDG_RUNTIME_DIR when that is \
         an absolute path to a directory of the caller's, else in an absolute $TMPDIR, else \
         in /tmp. A dry run takes none; where the file cannot be used safely (a symlink, \
         another user's file) reaping goes on without it.",
    ),
    (
        "$XDG_RUNTIME_DIR/patina-reap-UID-HASH.proof",
        "With --preflight, as in patina's own start-up check (one file for both): the \
         proof of the last clean scan, beside the lock, one per user and set of names \
         whatever the threshold and PID namespace, which it records (a file of its own \
         for --socket), and which spares the next starts the scan until anything it names \
         changes (the time a young process turns stale, a daemon socket, an executable, \
         the parent of a process kept as attached). A proof that is not the caller's own \
         regular file with one link, or does not parse, is ignored; a proof can only \
         spare a scan, never cause a signal. The CLI's other runs neither read nor write \
         it.",
    ),
    (
        "~/.patina/run/serve.sock",
        "The default daemon socket (--socket): any listener bound at a path ending so, \
         judged in its holder's mount namespace, keeps its holder as serving. Nothing is \
         ever sent to it, and nothing in its directory is touched.",
    ),
    (
        "/etc/passwd, /etc/nsswitch.conf",
        "The user database, read through the C library (getpwnam_r) as pgrep -u reads it, \
         so users from LDAP, SSSD or systemd-homed count as well: for the uid of a --user \
         name. Which socket a process serves never depends on it.",
    ),
];

/// After the exit statuses, in `--help` and the man page.
pub(crate) const NOTHING_MATCHED: &str = "\
Nothing matched and nothing stale both exit 0 (pgrep would exit 1 for the first). A \
script tells them apart with --json: .processes is empty when no process matched, while \
.summary.would_reap (a dry run) or .summary.reaped is 0 with .processes not empty when \
processes matched but none was stale. --pids prints nothing in either case.";

/// (command lines, what they do), shown in `--help` and the man page; a line of a
/// command fits 68 columns, the man page's at 80.
pub(crate) const EXAMPLES: &[(&str, &str)] = &[
    // Those that send no signal first: a reader may copy the first one that fits.
    (
        "patina-reap --dry-run",
        "List the patina processes older than 24h; send no signal.",
    ),
    (
        "patina-reap -n --pids --full",
        "List the PID and whole command line of each stale process, as pgrep -a would.",
    ),
    (
        "set -o pipefail\npatina-reap -n --json | jq -en 'input | .summary.would_reap == 0'",
        "Succeed only when nothing is stale, touching nothing (a CI step); fails when the \
         tool does, as jq -n 'input' errors on empty input.",
    ),
    (
        "patina-reap --threshold 12h --verbose",
        "Reap (SIGTERM, then SIGKILL) those older than 12h, and also list the ones kept, \
         with the reason.",
    ),
    (
        "patina-reap --json | jq -r '.processes[] | [.pid, .outcome] | @tsv'",
        "Reap, and print the pid and outcome of every matched process.",
    ),
    (
        "patina-reap --preflight; exec /usr/lib/patina/patina \"$@\"",
        "Reap at a launcher's start, in a shell wrapper, as patina's own start-up check \
         does (at most 1s, silent when there is nothing to do), then run the real program.",
    ),
];

/// `--help` after the usage and options: how it decides (the man page's DESCRIPTION, but
/// for its first paragraph, which the top of `--help` says already), the DURATION
/// syntax, environment, exit status, examples.
fn after_long_help() -> String {
    let long_about = long_about();
    let decides = long_about
        .split_once("\n\n")
        .map_or(long_about.as_str(), |(_, rest)| rest);
    let mut text = format!("{decides}\n\n{DURATION_SYNTAX}\n\nEnvironment:\n");
    for (name, summary, _) in ENVIRONMENT {
        text.push_str(&format!("  {name:<22} {summary}\n"));
    }
    text.push_str("\nExit status:\n");
    for (status, summary, _) in EXIT_STATUS {
        text.push_str(&format!("  {status:<3}  {summary}\n"));
    }
    text.push_str(&format!("\n{NOTHING_MATCHED}\n"));
    text.push_str("\nExamples:\n");
    for (command, what) in EXAMPLES {
        for line in command.lines() {
            text.push_str(&format!("  {line}\n"));
        }
        text.push_str(&format!("      {what}\n"));
    }
    text.push_str(
        "\nThe manual page patina-reap(1) has more, including cron and launchd use \
         (patina-reap --generate man prints it).",
    );
    text
}

/// patina-reap: find, list and safely reap stale patina processes.
///
/// Every flag may be repeated and the last one wins (`-t 1h -t 2h` is 2h), so that an
/// alias can be overridden; `--name` adds up instead. Values are checked after parsing,
/// in `main.rs`, so that every usage error has one layout.
#[derive(Debug, Parser)]
#[command(
    name = "patina-reap",
    version,
    about = ABOUT,
    long_about = "Find, list and safely reap stale patina processes, and never anything \
                  else: a process matches by the program name in its argv[0]. How it \
                  decides is explained after the options.",
    after_long_help = after_long_help(),
    // One usage line for every error (clap would spell out the flags for some).
    override_usage = "patina-reap [OPTIONS]",
    args_override_self = true
)]
pub(crate) struct Cli {
    /// Minimum age of a stale process [default: 24h]
    ///
    /// Inclusive, to the second. --older (pkill's name) and --older-than (killall's) are
    /// other names for it; its value is a DURATION all the same, so a bare number of
    /// seconds, as pkill takes, is a usage error that suggests the seconds ('--older
    /// 3600': did you mean 3600s?). Without this flag PATINA_REAP_THRESHOLD is used when
    /// set; 'off' is only understood there (to send no signal, use --dry-run).
    #[arg(
        short,
        long,
        visible_aliases = ["older", "older-than"],
        value_name = "DURATION",
        value_hint = ValueHint::Other,
        env = "PATINA_REAP_THRESHOLD",
        hide_env_values = true,
        allow_hyphen_values = true
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
        allow_hyphen_values = true
    )]
    pub(crate) grace: String,

    /// Program name to match exactly; repeatable
    ///
    /// The basename of the first word of argv[0] must equal NAME, with no '/' or spaces.
    /// Giving --name replaces the default; repeat it to match several programs (a name
    /// given twice counts once).
    #[arg(
        long = "name",
        value_name = "NAME",
        value_hint = ValueHint::Other,
        default_value = "patina",
        action = ArgAction::Append
    )]
    pub(crate) names: Vec<String>,

    /// Also consider other users' processes (needs privileges)
    ///
    /// Without it (or --user) only processes whose effective uid is the caller's are
    /// looked at, also as root. Signalling another user's process needs root (or
    /// CAP_KILL); a dry run marks those it could not signal as not permitted, and a real
    /// run reports them as failed.
    #[arg(long, conflicts_with = "users")]
    pub(crate) all_users: bool,

    /// Consider the processes of USER (a name or a numeric uid); repeatable
    ///
    /// Replaces the default, the caller's own processes; repeat it for several users (as
    /// pgrep -u). A name is looked up in the system's user database, as pgrep looks it up
    /// (/etc/passwd, and LDAP, SSSD or systemd-homed where NSS is set up for them); one
    /// that is not there is a usage error and nothing is signalled. Signalling another
    /// user's process needs root.
    #[arg(
        short = 'u',
        long = "user",
        value_name = "USER",
        value_hint = ValueHint::Username,
        action = ArgAction::Append
    )]
    pub(crate) users: Vec<String>,

    /// Daemon socket whose listener is kept (serving); repeatable, or 'none'
    ///
    /// A process holding the listener that connections to PATH reach (in its own mount
    /// namespace, through a socket file of its own user), whoever called listen(), that
    /// runs the executable it started with is kept as serving, whatever its age; one
    /// still listening on a file that is no longer at PATH, while PATH leads to another
    /// live listener of its user, is superseded and gets SIGKILL at once (unless a
    /// client is still connected to it). Giving --socket replaces the default, any path
    /// ending in /.patina/run/serve.sock that a process bound (whatever HOME or
    /// /etc/passwd say); '--socket none' checks no socket. The lookup follows no symlink
    /// a user could have made and takes at most 2s (100ms in the preflight), a path that
    /// does not answer included: on Linux the kernel's socket diagnostics, asked about
    /// the sockets each process holds, name their bound path and file, and the file at
    /// PATH is compared with them, nothing connected to; elsewhere one connection to the
    /// caller's own socket, closed at once, tells whether anybody listens, and then
    /// every old process of the caller is kept.
    #[arg(
        long = "socket",
        value_name = "PATH",
        value_hint = ValueHint::FilePath,
        // Empty passes here, so that socket_list() words it as every empty value is.
        value_parser = clap::builder::OsStringValueParser::new().map(std::path::PathBuf::from),
        action = ArgAction::Append
    )]
    pub(crate) sockets: Vec<std::path::PathBuf>,

    /// Print only PIDs, one per line: those reaped, or with --dry-run those that would be
    ///
    /// For scripts, as pgrep prints them: nothing else goes to stdout, no summary line,
    /// and nothing at all when nothing was stale. With --full each PID is followed by a
    /// space and the whole command line (as pgrep -a). A process that could not be
    /// reaped is not listed (its warning is on stderr, and the status is 1); with
    /// --verbose the usual lines, kept processes included, go to stderr.
    #[arg(long, conflicts_with_all = ["json", "quiet"])]
    pub(crate) pids: bool,

    /// Show whole command lines: the path of argv[0] and every argument, never shortened
    ///
    /// By default a line shows the program's basename and shortens the command line past
    /// 100 characters. Matching is by argv[0] either way.
    #[arg(short = 'f', long)]
    pub(crate) full: bool,

    /// Also list matched processes that are kept, with the reason
    ///
    /// The reason is ancestor, init, unknown-ancestry, namespace, zombie, young,
    /// foreground, attached or serving; processes that exited before the first signal are
    /// listed as vanished. The size on a line is, for a process reaped or that would be, its
    /// private memory, what ending it frees (read just before the first signal; on the
    /// ps backend its resident size, and the summary then says 'up to'); for a kept or
    /// vanished one, its resident size at scan time, shared pages included. Of
    /// --verbose and --quiet the last given wins.
    #[arg(short, long, overrides_with = "quiet")]
    pub(crate) verbose: bool,

    /// Print only errors and warnings
    ///
    /// No line per process, no summary and no status line while waiting; failures still
    /// get a warning line on stderr, and --json still prints its document.
    #[arg(short, long, overrides_with = "verbose")]
    pub(crate) quiet: bool,

    /// Run patina's start-up check as the library runs it, for a launcher that execs
    /// this binary
    ///
    /// The same run as ensure_clean_state() in a program linking the library, for a
    /// launcher that cannot link it (a shell wrapper, another language): at most 1s in
    /// all, whatever stale processes do (SIGTERM, a short wait, SIGKILL for the
    /// survivors and their confirmation); no wait for another reaper's turn (the
    /// processes are left to a reaper that holds it); and after a scan that left nothing
    /// stale, the
    /// next starts check a proof of it instead of scanning (the library's proof, one file
    /// for both). Nothing is printed when there is nothing to do; on stderr, one
    /// 'Cleaned up stale ...' line per reaped process and a 'warning:' line per one it
    /// could not reap or per bad PATINA_REAP_THRESHOLD (then 24h is used); nothing on
    /// stdout. PATINA_REAP_THRESHOLD=off turns it off silently. The exit status is 0
    /// whatever became of the processes or the environment, 2 for a usage error.
    ///
    /// --name, --threshold and --socket combine with it, as the library's Preflight
    /// takes them (--threshold, when given, wins over PATINA_REAP_THRESHOLD, 'off'
    /// included); any other flag is a usage error: the output, the users and the timing
    /// are the preflight's own.
    #[arg(
        long,
        conflicts_with_all = [
            "dry_run", "json", "grace", "all_users", "users", "pids", "full", "verbose",
            "quiet", "color", "generate",
        ]
    )]
    pub(crate) preflight: bool,

    /// When to color human output and usage errors
    ///
    /// auto colors a stream that is a terminal, as NO_COLOR, CLICOLOR_FORCE, FORCE_COLOR
    /// and TERM (below) say; always and never ignore them.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub(crate) color: ColorWhen,

    /// Print a shell's completions or the manual page, as shipped, and exit
    ///
    /// The files of the repository's completions/ and man/ directories, for an install
    /// that has none (cargo install): patina-reap --generate man >
    /// ~/.cargo/share/man/man1/patina-reap.1. Used alone, as --help is: with any other
    /// flag it is a usage error (the environment does not count).
    #[arg(long, value_name = "KIND")]
    pub(crate) generate: Option<Generate>,
}

/// Why a program name can never match, if it cannot.
pub(crate) fn name_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        Some("a program name cannot be empty")
    } else if text.contains('/') || text.chars().any(char::is_whitespace) {
        Some("it can never match: a program name is a basename, without '/' or spaces")
    } else {
        None
    }
}

impl Cli {
    /// The sockets asked for: `None` for the default, empty for `--socket none`.
    pub(crate) fn socket_list(&self) -> Result<Option<Vec<std::path::PathBuf>>, String> {
        let invalid = |value: &std::path::Path, why: &str| {
            format!(
                "invalid value '{}' for '--socket <PATH>': {why}",
                patina_reap::for_cli::escape(&value.to_string_lossy())
            )
        };
        let none = std::path::Path::new("none");
        if let Some(empty) = self.sockets.iter().find(|p| p.as_os_str().is_empty()) {
            return Err(invalid(
                empty,
                "a socket path cannot be empty; use 'none' to check no socket",
            ));
        }
        if self.sockets.is_empty() {
            Ok(None)
        } else if !self.sockets.iter().any(|p| p == none) {
            Ok(Some(self.sockets.clone()))
        } else if self.sockets.len() == 1 {
            Ok(Some(Vec::new()))
        } else {
            Err(invalid(
                none,
                "'none' cannot be combined with socket paths (for a file called none, \
                 give ./none)",
            ))
        }
    }
}
