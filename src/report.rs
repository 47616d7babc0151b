//! What a run did: the report type, its JSON form and the lines shown to people.

use std::fmt;

use serde::Serialize;

use crate::duration::{format_age, format_duration};
pub use crate::select::{SkipReason, Trigger};

/// The JSON schema version; bumped only on incompatible changes.
pub const JSON_VERSION: u32 = 1;

/// What happened to one matched process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Stale; a dry run sent no signal.
    WouldReap,
    /// Stale, but a dry run found that this caller may not signal it (EPERM: another
    /// user's process, without root or CAP_KILL), so a real run would fail on it.
    WouldFail,
    /// SIGTERM from this run was enough: it exited within the grace period.
    Terminated,
    /// It outlived the grace period and this run sent SIGKILL.
    Killed,
    /// Already gone before this run's first signal (for example, another reaper got it).
    Vanished,
    /// Could not be reaped; `reason` says why.
    Failed,
    /// Matched but kept; `reason` says why ([`SkipReason`]).
    Skipped,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Self; 7] = [
        Self::WouldReap,
        Self::WouldFail,
        Self::Terminated,
        Self::Killed,
        Self::Vanished,
        Self::Failed,
        Self::Skipped,
    ];

    /// Whether this run made the process go away.
    pub fn is_reaped(self) -> bool {
        matches!(self, Self::Terminated | Self::Killed)
    }
}

/// A signal the reaper sends; in the JSON, `SIGTERM` or `SIGKILL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum Signal {
    /// The polite one, first for every stale process but a superseded daemon.
    #[serde(rename = "SIGTERM")]
    Term,
    /// The one that cannot be caught.
    #[serde(rename = "SIGKILL")]
    Kill,
}

/// Why a process was kept, could not be reaped, or was left alone. In the JSON, a
/// [`SkipReason`]'s kebab-case name, or for the others the sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Kept (outcome `skipped`).
    Skipped(SkipReason),
    /// Not reaped (outcome `failed`, or `would_fail` in a dry run).
    Failed(Failure),
    /// The preflight left it to another reaper, which holds the turn (outcome
    /// `vanished`: not this run's to report).
    LeftToAnotherReaper,
}

/// Why a stale process could not be reaped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A dry run found that this caller may not signal it (EPERM: another user's, without
    /// root or CAP_KILL).
    NotPermitted,
    /// Sending `signal` failed with this errno (EPERM: another user's process).
    Signal {
        /// The signal that could not be sent.
        signal: Signal,
        /// The error number.
        errno: i32,
    },
    /// Interrupted before any signal: not signalled.
    InterruptedBeforeAnySignal,
    /// Interrupted after SIGTERM, before SIGKILL: still running.
    InterruptedAfterSigterm,
    /// Interrupted after SIGKILL: still running.
    InterruptedAfterSigkill,
    /// Still running this long after SIGKILL (uninterruptible sleep?).
    StillRunningAfterSigkill(std::time::Duration),
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Skipped(why) => why.serialize(serializer),
            other => serializer.serialize_str(&other.to_string()),
        }
    }
}

/// One matched process and what this run did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProcessReport {
    /// Process id.
    pub pid: u32,
    /// Parent process id, as the scan saw it.
    pub ppid: u32,
    /// The program name it matched.
    pub name: String,
    /// argv joined with spaces, each argument as in `argv`: for showing and searching,
    /// not for running (an argument's own spaces cannot be told from the separators).
    pub command: String,
    /// The exact argument vector (lossy UTF-8 where the bytes are not UTF-8).
    pub argv: Vec<String>,
    /// Effective uid of the process.
    pub uid: u32,
    /// Seconds since the process started.
    pub age_secs: u64,
    /// Resident memory at scan time, shared pages (libraries) included.
    pub rss_bytes: u64,
    /// What ending it frees: its private memory (`Private_Clean + Private_Dirty` of
    /// `/proc/PID/smaps_rollup`), read just before the first signal. Only for processes
    /// this run reaped or would reap, on Linux's `/proc` backend; `None` elsewhere.
    pub private_bytes: Option<u64>,
    /// What happened.
    pub outcome: Outcome,
    /// Why it was skipped, failed or left alone; `None` otherwise.
    pub reason: Option<Reason>,
    /// What made a stale process stale: `age`, `replaced` (it listens on a socket and
    /// its executable was replaced since it started) or `superseded` (it listens on a
    /// daemon socket whose path now leads to another live listener); `None` for
    /// skipped processes.
    pub trigger: Option<Trigger>,
    /// The first signal a stale process is sent (or, in a dry run, would be):
    /// `SIGKILL` at once for a superseded daemon (it cannot be reached, and its graceful
    /// shutdown would remove its successor's socket and pid file), else `SIGTERM`, then
    /// SIGKILL after the grace period; `None` for skipped processes.
    pub first_signal: Option<Signal>,
    /// The parent's program name, for `attached` (not in the JSON).
    #[serde(skip)]
    pub(crate) parent_name: Option<String>,
    /// The daemon socket it serves, for `serving`, or was superseded on, for
    /// `superseded` (not in the JSON).
    #[serde(skip)]
    pub(crate) socket: Option<std::path::PathBuf>,
}

/// Totals over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Processes terminated or killed by this run.
    pub reaped: usize,
    /// Stale processes that could not be reaped.
    pub failed: usize,
    /// Memory freed by the reaped processes: their private memory where known, else
    /// their resident size (which counts shared pages too, so it is an upper bound).
    pub freed_bytes: u64,
    /// Stale processes a dry run left alone (outcome `would_reap`).
    pub would_reap: usize,
    /// Stale processes a dry run found this caller may not signal (outcome
    /// `would_fail`); not counted in `would_reap`.
    pub would_fail: usize,
    /// What reaping those would free, counted as `freed_bytes` is.
    pub would_free_bytes: u64,
}

/// Everything one run found and did. Serializes to the documented JSON (`--json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Always [`JSON_VERSION`].
    pub version: u32,
    /// Minimum age of a stale process, in seconds; `None` (JSON `null`) when reaping
    /// was turned off by `PATINA_REAP_THRESHOLD=off`, which has no threshold.
    pub threshold_secs: Option<u64>,
    /// Wait between SIGTERM and SIGKILL, in seconds.
    pub grace_secs: u64,
    /// No signal was sent.
    pub dry_run: bool,
    /// Reaping was turned off by `PATINA_REAP_THRESHOLD=off`; nothing was scanned.
    pub disabled: bool,
    /// Every matched process, in scan order.
    pub processes: Vec<ProcessReport>,
    /// Totals.
    pub summary: Summary,
    /// The names that were matched (for the summary line; not in the JSON).
    #[serde(skip)]
    pub(crate) names: Vec<String>,
    /// Processes the scan listed but could not read, with the reason (shown under
    /// `--verbose`; not in the JSON).
    #[serde(skip)]
    pub(crate) left_out: Vec<String>,
    /// The preflight did not scan: its proof of the last clean scan still held (not in
    /// the JSON).
    #[serde(skip)]
    pub(crate) scan_skipped: bool,
}

impl Report {
    pub(crate) fn new(
        threshold_secs: u64,
        grace_secs: u64,
        dry_run: bool,
        names: Vec<String>,
    ) -> Self {
        Self {
            version: JSON_VERSION,
            threshold_secs: Some(threshold_secs),
            grace_secs,
            dry_run,
            disabled: false,
            processes: Vec::new(),
            summary: Summary::default(),
            names,
            left_out: Vec::new(),
            scan_skipped: false,
        }
    }

    /// Whether the preflight skipped the scan because nothing could have become stale
    /// since the last clean one (its proof held); the report is then empty.
    pub fn scan_skipped(&self) -> bool {
        self.scan_skipped
    }

    /// Processes the scan listed but could not read (say a `ps` row without a start
    /// time), each with the reason; they were neither reported nor signalled.
    pub fn left_out(&self) -> &[String] {
        &self.left_out
    }

    pub(crate) fn push(&mut self, process: ProcessReport) {
        let bytes = process.freed_bytes();
        if process.outcome.is_reaped() {
            self.summary.reaped += 1;
            self.summary.freed_bytes += bytes;
        } else if process.outcome == Outcome::WouldReap {
            self.summary.would_reap += 1;
            self.summary.would_free_bytes += bytes;
        } else if process.outcome == Outcome::Failed {
            self.summary.failed += 1;
        } else if process.outcome == Outcome::WouldFail {
            self.summary.would_fail += 1;
        }
        self.processes.push(process);
    }

    /// The JSON document, one line, newline not included. The text is exact; besides
    /// what JSON requires, DEL, C1 controls, Unicode format characters (those that hide
    /// or reorder text) and U+2028/U+2029 are written as `\uXXXX` escapes, so the
    /// document is safe to print to a terminal.
    pub fn to_json(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        if !json.chars().any(needs_json_escape) {
            return json;
        }
        let mut out = String::with_capacity(json.len() + 16);
        for c in json.chars() {
            if needs_json_escape(c) {
                // Outside strings there is only ASCII, so this never breaks the syntax.
                // Past U+FFFF JSON needs a UTF-16 surrogate pair.
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The closing line: `Reaped 2 stale patina processes, 1.4 GiB freed`, or
    /// `No stale patina processes (threshold 24h)`. Where a process's private memory is
    /// unknown its resident size is counted, and the amount reads `up to 1.4 GiB`.
    pub fn summary_line(&self) -> String {
        let what = self.names.join("/");
        let stale: Vec<&ProcessReport> = self
            .processes
            .iter()
            .filter(|p| !matches!(p.outcome, Outcome::Skipped | Outcome::Vanished))
            .collect();
        let plural = |n: usize| if n == 1 { "process" } else { "processes" };
        let threshold = format_duration(std::time::Duration::from_secs(
            self.threshold_secs.unwrap_or(0),
        ));
        if self.disabled {
            return "Reaping is disabled by PATINA_REAP_THRESHOLD=off".into();
        }
        if self.names.is_empty() {
            return "No stale processes: no program name to match".into();
        }
        if stale.is_empty() {
            return format!("No stale {what} processes (threshold {threshold})");
        }
        let amount = |counted: &dyn Fn(Outcome) -> bool, bytes: u64| {
            let estimated = self
                .processes
                .iter()
                .any(|p| counted(p.outcome) && p.private_bytes.is_none());
            let up_to = if estimated { "up to " } else { "" };
            format!("{up_to}{}", format_bytes(bytes))
        };
        if self.dry_run {
            let n = self.summary.would_reap;
            let mut line = format!(
                "Would reap {n} stale {what} {}, {} to free (dry run)",
                plural(n),
                amount(&|o| o == Outcome::WouldReap, self.summary.would_free_bytes)
            );
            let denied = self.summary.would_fail;
            if denied > 0 {
                line.push_str(&format!(
                    "; {denied} more not permitted: another user's, needs root"
                ));
            }
            return line;
        }
        let Summary {
            reaped,
            failed,
            freed_bytes,
            ..
        } = self.summary;
        let mut line = format!(
            "Reaped {reaped} stale {what} {}, {} freed",
            plural(reaped),
            amount(&Outcome::is_reaped, freed_bytes)
        );
        if failed > 0 {
            line.push_str(&format!("; {failed} could not be reaped"));
        }
        line
    }
}

impl ProcessReport {
    /// What ending it frees, as far as known: its private memory, else its resident size.
    fn freed_bytes(&self) -> u64 {
        self.private_bytes.unwrap_or(self.rss_bytes)
    }
}

impl ProcessReport {
    /// The human line with the whole command line: `argv[0]` with its directory, every
    /// argument, nothing shortened (escaped all the same). The
    /// [`Display`](fmt::Display) line shows the program's basename and shortens.
    pub fn full_line(&self) -> String {
        let mut line = String::new();
        let _ = self.write_line(&mut line, &full_command(&self.argv, &self.name));
        line
    }

    /// The whole command line, escaped: `argv` joined with spaces, or `[name]` for a
    /// process without one (a zombie).
    pub fn full_command(&self) -> String {
        full_command(&self.argv, &self.name)
    }
}

impl fmt::Display for ProcessReport {
    /// The human line: `Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)`,
    /// the size being its private memory where known, else its resident size.
    /// Text from the process is escaped: no control character reaches the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_line(f, &display_command(&self.argv, &self.name))
    }
}

impl ProcessReport {
    fn write_line(&self, f: &mut dyn fmt::Write, command: &str) -> fmt::Result {
        let age = format_age(self.age_secs);
        let size = format_bytes(self.freed_bytes());
        let mut facts = format!("PID {}, running {age}, {size}", self.pid);
        let socket = || {
            self.socket
                .as_deref()
                .map_or_else(String::new, |p| escape(&home_relative(p)))
        };
        match self.trigger {
            Some(Trigger::Replaced) => facts.push_str("; replaced since it started"),
            Some(Trigger::Superseded) => facts.push_str(&format!("; superseded on {}", socket())),
            Some(Trigger::Age) | None => {}
        }
        let at_once = self.first_signal == Some(Signal::Kill);
        if at_once {
            facts.push_str("; SIGKILL at once, not SIGTERM");
        }
        let killed = if at_once { "" } else { "; needed SIGKILL" };
        let reason = self
            .reason
            .as_ref()
            .map(Reason::to_string)
            .unwrap_or_default();
        match (self.outcome, &self.reason) {
            (Outcome::WouldReap, _) => write!(f, "Would clean up stale {command} ({facts})"),
            (Outcome::WouldFail, _) => write!(
                f,
                "Would clean up stale {command} ({facts}): not permitted, needs root"
            ),
            (Outcome::Terminated, _) => write!(f, "Cleaned up stale {command} ({facts})"),
            (Outcome::Killed, _) => write!(f, "Cleaned up stale {command} ({facts}{killed})"),
            (Outcome::Vanished, _) => write!(f, "Already gone: {command} ({facts})"),
            (Outcome::Failed, _) => write!(
                f,
                "could not clean up stale {command} ({facts}): {}",
                escape(&reason)
            ),
            (Outcome::Skipped, Some(Reason::Skipped(SkipReason::Attached))) => {
                match &self.parent_name {
                    Some(parent) => write!(
                        f,
                        "Kept {command} ({facts}): attached to {} (PID {})",
                        escape(parent),
                        self.ppid
                    ),
                    // ppid 0: the parent lives outside this PID namespace (`docker exec`).
                    None if self.ppid == 0 => write!(
                        f,
                        "Kept {command} ({facts}): attached to a process outside this PID namespace"
                    ),
                    None => write!(f, "Kept {command} ({facts}): attached to PID {}", self.ppid),
                }
            }
            (Outcome::Skipped, Some(Reason::Skipped(SkipReason::Serving))) => {
                write!(f, "Kept {command} ({facts}): serving {}", socket())
            }
            (Outcome::Skipped, Some(Reason::Skipped(why))) => {
                write!(f, "Kept {command} ({facts}): {}", skip_text(*why))
            }
            (Outcome::Skipped, _) => write!(f, "Kept {command} ({facts})"),
        }
    }
}

/// A path under `$HOME` written as `~/...`.
fn home_relative(path: &std::path::Path) -> String {
    let home = std::env::var_os("HOME").filter(|h| h.len() > 1);
    match home.as_ref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// What a reason to keep a process means, as its line says it.
pub(crate) fn skip_text(why: SkipReason) -> &'static str {
    match why {
        SkipReason::Ancestor => "ancestor of this reaper",
        SkipReason::Init => "PID 1 of this PID namespace",
        SkipReason::UnknownAncestry => "could be a hidden ancestor of this reaper",
        SkipReason::Namespace => "in another PID namespace",
        SkipReason::Zombie => "zombie, already exited",
        SkipReason::Young => "younger than the threshold",
        SkipReason::Foreground => "in the foreground of a terminal",
        SkipReason::Attached => "attached to a live parent that does not adopt orphans",
        SkipReason::Serving => "serving a daemon socket",
        SkipReason::UnknownServing => {
            "could be serving a daemon socket (what it serves could not be told in time, or \
             safely, from here)"
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skipped(why) => f.write_str(&kebab(*why)),
            Self::Failed(failure) => failure.fmt(f),
            Self::LeftToAnotherReaper => {
                f.write_str("left to another reaper, which holds the turn")
            }
        }
    }
}

/// A reason's name as the JSON and `--help` give it: its serde name, the one source.
pub(crate) fn kebab(why: SkipReason) -> String {
    serde_json::to_value(why)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Term => "SIGTERM",
            Self::Kill => "SIGKILL",
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPermitted => f.write_str(
                "not permitted (EPERM): signalling another user's process needs root or CAP_KILL",
            ),
            Self::Signal { signal, errno } if *errno == 1 => {
                write!(f, "permission denied sending {signal} (EPERM)")
            }
            Self::Signal { signal, errno } => write!(
                f,
                "{signal} failed: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
            Self::InterruptedBeforeAnySignal => {
                f.write_str("interrupted before any signal; not signalled")
            }
            Self::InterruptedAfterSigterm => {
                f.write_str("interrupted after SIGTERM, before SIGKILL; still running")
            }
            Self::InterruptedAfterSigkill => {
                f.write_str("interrupted after SIGKILL; still running")
            }
            Self::StillRunningAfterSigkill(after) => write!(
                f,
                "still running {} after SIGKILL (uninterruptible sleep?)",
                format_duration(*after)
            ),
        }
    }
}

/// The whole command line: argv joined with spaces, escaped; `[name]` without argv.
fn full_command(argv: &[String], name: &str) -> String {
    if argv.is_empty() {
        return format!("[{}]", escape(name));
    }
    escape(&argv.join(" "))
}

/// How a command is shown: argv joined with spaces, the directory of argv[0]'s first
/// word dropped, escaped, and shortened with `…` past [`MAX_COMMAND`] characters.
pub(crate) fn display_command(argv: &[String], name: &str) -> String {
    if argv.is_empty() {
        return format!("[{}]", escape(name));
    }
    let first = &argv[0];
    let word_end = first
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(first.len());
    let cut = first[..word_end].rfind('/').map_or(0, |i| i + 1);
    let mut joined = first[cut..].to_owned();
    for arg in &argv[1..] {
        joined.push(' ');
        joined.push_str(arg);
    }
    shorten(&escape(&joined), MAX_COMMAND)
}

const MAX_COMMAND: usize = 100;

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Text from elsewhere (another process's command line, an argument, an environment
/// variable) made safe to show on a terminal, as one line that reads as what it is:
///
/// - a line feed, tab and carriage return become `\n`, `\t` and `\r`;
/// - every other control character (C0, DEL, C1) and every character that can hide or
///   reorder text (the Unicode format characters, general category Cf, and U+2028,
///   U+2029) becomes an escape of its code point: `\xNN` up to U+00FF (so the soft
///   hyphen is `\xad`), `\u{N}` above (hex digits, no padding);
/// - a backslash is doubled, so that an escape in the output always came from one of
///   the above and the text can be decoded back exactly;
/// - everything else, other non-ASCII text included, is kept as it is.
///
/// ```
/// use patina_reap::escape;
/// assert_eq!(escape("a\u{1b}]0;x\u{7}\u{202e}b"), r"a\x1b]0;x\x07\u{202e}b");
/// assert_eq!(escape("two\nlines\ttab"), r"two\nlines\ttab");
/// assert_eq!(escape(r"C:\dir café"), r"C:\\dir café");
/// assert_eq!(escape("soft\u{ad}hyphen\u{2028}"), r"soft\xadhyphen\u{2028}");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_format_char(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{n:x}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn needs_json_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}') || is_format_char(c)
}

/// Every Unicode format character (general category Cf: bidi controls, zero-width and
/// invisible characters, the soft hyphen, tags...) and the line and paragraph separators
/// U+2028 and U+2029: text a terminal shows differently from what it is. The Cf ranges
/// are those of Unicode 18; a test checks them against the `unicode-properties` tables.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// `1.2 GiB`, `512 MiB`, `0 B`: binary units, one decimal from KiB up.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Lossy UTF-8 argv from raw bytes.
pub(crate) fn lossy_argv(argv: &[Vec<u8>]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn sample(outcome: Outcome, reason: Option<Reason>) -> ProcessReport {
        ProcessReport {
            pid: 12345,
            name: "patina".into(),
            command: "/usr/local/bin/patina serve".into(),
            argv: argv(&["/usr/local/bin/patina", "serve"]),
            uid: 1000,
            age_secs: 2 * 86_400 + 3 * 3600 + 7,
            rss_bytes: 1_288_490_188,
            private_bytes: None,
            outcome,
            reason,
            ppid: 4321,
            trigger: (!matches!(outcome, Outcome::Skipped)).then_some(Trigger::Age),
            first_signal: (!matches!(outcome, Outcome::Skipped)).then_some(Signal::Term),
            parent_name: None,
            socket: None,
        }
    }

    #[test]
    fn attached_serving_and_replaced_are_worded() {
        let mut p = sample(
            Outcome::Skipped,
            Some(Reason::Skipped(SkipReason::Attached)),
        );
        p.parent_name = Some("claude".into());
        assert_eq!(
            p.to_string(),
            "Kept patina serve (PID 12345, running 2d3h, 1.2 GiB): attached to claude (PID 4321)"
        );
        p.parent_name = None;
        assert!(p.to_string().ends_with("): attached to PID 4321"), "{p}");
        p.ppid = 0;
        assert!(
            p.to_string()
                .ends_with("): attached to a process outside this PID namespace"),
            "{p}"
        );
        p.ppid = 4321;
        let mut p = sample(Outcome::Skipped, Some(Reason::Skipped(SkipReason::Serving)));
        p.socket = Some("/run/patina/serve.sock".into());
        assert!(
            p.to_string().ends_with("): serving /run/patina/serve.sock"),
            "{p}"
        );
        let mut p = sample(Outcome::Terminated, None);
        p.trigger = Some(Trigger::Replaced);
        assert_eq!(
            p.to_string(),
            "Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB; replaced since it started)"
        );
        let mut r = Report::new(0, 0, false, vec!["patina".into()]);
        r.push(p);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["processes"][0]["ppid"], 4321);
        assert_eq!(json["processes"][0]["trigger"], "replaced");
        assert!(json["processes"][0].get("parent_name").is_none());
    }

    #[test]
    fn human_lines_match_the_documented_wording() {
        assert_eq!(
            sample(Outcome::Terminated, None).to_string(),
            "Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)"
        );
        assert_eq!(
            sample(Outcome::Killed, None).to_string(),
            "Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB; needed SIGKILL)"
        );
        assert_eq!(
            sample(Outcome::WouldReap, None).to_string(),
            "Would clean up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)"
        );
        assert_eq!(
            sample(
                Outcome::Failed,
                Some(Reason::Failed(Failure::Signal {
                    signal: Signal::Term,
                    errno: 1
                }))
            )
            .to_string(),
            "could not clean up stale patina serve (PID 12345, running 2d3h, 1.2 GiB): permission denied sending SIGTERM (EPERM)"
        );
        assert_eq!(
            sample(Outcome::Skipped, Some(Reason::Skipped(SkipReason::Young))).to_string(),
            "Kept patina serve (PID 12345, running 2d3h, 1.2 GiB): younger than the threshold"
        );
    }

    #[test]
    fn commands_drop_the_directory_of_the_first_word_only() {
        assert_eq!(
            display_command(&argv(&["/usr/local/bin/patina", "serve", "/a/b"]), "patina"),
            "patina serve /a/b"
        );
        assert_eq!(
            display_command(&argv(&["patina serve --dir /x/y"]), "patina"),
            "patina serve --dir /x/y"
        );
        assert_eq!(display_command(&[], "patina"), "[patina]");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let shown = display_command(
            &argv(&[
                "patina",
                "\u{1b}[31mred\u{7}",
                "two\nlines",
                "\u{202e}evil",
                "\u{9b}",
            ]),
            "patina",
        );
        assert_eq!(
            shown,
            "patina \\x1b[31mred\\x07 two\\nlines \\u{202e}evil \\x9b"
        );
        assert!(!shown.chars().any(|c| c.is_control()));
    }

    /// What the issue found reaching terminals and JSON raw: Arabic letter mark, word
    /// joiner, invisible plus, soft hyphen, a tag character, line and paragraph separator.
    const HIDDEN: [char; 7] = [
        '\u{61c}',
        '\u{2060}',
        '\u{2064}',
        '\u{ad}',
        '\u{e0041}',
        '\u{2028}',
        '\u{2029}',
    ];

    #[test]
    fn invisible_and_separator_characters_are_escaped_for_people() {
        let text: String = HIDDEN.iter().flat_map(|&c| ['a', c]).collect();
        let shown = display_command(&argv(&["patina", &text]), "patina");
        assert_eq!(
            shown,
            "patina a\\u{61c}a\\u{2060}a\\u{2064}a\\xada\\u{e0041}a\\u{2028}a\\u{2029}"
        );
    }

    #[test]
    fn invisible_and_separator_characters_are_escaped_in_json_and_read_back_exactly() {
        let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
        let mut p = sample(Outcome::Terminated, None);
        let text: String = HIDDEN.iter().collect();
        p.argv = argv(&["patina", &text]);
        r.push(p);
        let json = r.to_json();
        assert!(!json.chars().any(|c| HIDDEN.contains(&c)), "{json}");
        // Past U+FFFF as a surrogate pair, as JSON requires.
        assert!(
            json.contains("\\u061c\\u2060\\u2064\\u00ad\\udb40\\udc41\\u2028\\u2029"),
            "{json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["processes"][0]["argv"][1], text);
    }

    #[test]
    fn format_characters_are_exactly_unicode_cf_and_the_separators() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let expected = c.general_category() == GeneralCategory::Format
                || matches!(c, '\u{2028}' | '\u{2029}');
            assert_eq!(is_format_char(c), expected, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn long_commands_are_shortened_with_an_ellipsis() {
        let long = "x".repeat(300);
        let shown = display_command(&argv(&["patina", &long]), "patina");
        assert_eq!(shown.chars().count(), MAX_COMMAND + 1);
        assert!(shown.ends_with('…'));
        let exact = "y".repeat(MAX_COMMAND - 7);
        assert!(!display_command(&argv(&["patina", &exact]), "patina").ends_with('…'));
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(1_288_490_188), "1.2 GiB");
        assert_eq!(format_bytes(1_503_238_553), "1.4 GiB");
        assert_eq!(format_bytes(512 * 1024 * 1024), "512.0 MiB");
    }

    #[test]
    fn summary_lines_count_and_add_up() {
        let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
        assert_eq!(
            r.summary_line(),
            "No stale patina processes (threshold 24h)"
        );
        r.push(sample(Outcome::Terminated, None));
        r.push(sample(
            Outcome::Skipped,
            Some(Reason::Skipped(SkipReason::Young)),
        ));
        r.push(sample(Outcome::Killed, None));
        assert_eq!(r.summary.reaped, 2);
        assert_eq!(r.summary.freed_bytes, 2 * 1_288_490_188);
        assert_eq!(
            r.summary_line(),
            "Reaped 2 stale patina processes, up to 2.4 GiB freed"
        );
        r.push(sample(
            Outcome::Failed,
            Some(Reason::Failed(Failure::InterruptedAfterSigkill)),
        ));
        assert_eq!(
            r.summary_line(),
            "Reaped 2 stale patina processes, up to 2.4 GiB freed; 1 could not be reaped"
        );
    }

    #[test]
    fn private_memory_is_what_is_freed_where_known() {
        let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
        let mut p = sample(Outcome::Terminated, None);
        p.private_bytes = Some(3 * 1024 * 1024);
        assert_eq!(
            p.to_string(),
            "Cleaned up stale patina serve (PID 12345, running 2d3h, 3.0 MiB)"
        );
        r.push(p.clone());
        r.push(p);
        assert_eq!(r.summary.freed_bytes, 6 * 1024 * 1024);
        assert_eq!(
            r.summary_line(),
            "Reaped 2 stale patina processes, 6.0 MiB freed"
        );
        // One unknown: its resident size counts, and the total is an upper bound.
        r.push(sample(Outcome::Killed, None));
        assert_eq!(r.summary.freed_bytes, 6 * 1024 * 1024 + 1_288_490_188);
        assert!(
            r.summary_line().contains(", up to 1.2 GiB freed"),
            "{}",
            r.summary_line()
        );
    }

    #[test]
    fn a_dry_run_counts_what_it_would_reap_and_free() {
        let mut r = Report::new(86_400, 5, true, vec!["patina".into()]);
        let mut p = sample(Outcome::WouldReap, None);
        p.private_bytes = Some(1024 * 1024);
        r.push(p.clone());
        r.push(p);
        r.push(sample(
            Outcome::Skipped,
            Some(Reason::Skipped(SkipReason::Young)),
        ));
        assert_eq!(r.summary.would_reap, 2);
        assert_eq!(r.summary.would_free_bytes, 2 * 1024 * 1024);
        assert_eq!(r.summary.reaped, 0);
        assert_eq!(r.summary.freed_bytes, 0);
        assert_eq!(
            r.summary_line(),
            "Would reap 2 stale patina processes, 2.0 MiB to free (dry run)"
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["summary"]["would_reap"], 2);
        assert_eq!(v["summary"]["would_free_bytes"], 2 * 1024 * 1024);
        assert_eq!(v["processes"][0]["private_bytes"], 1024 * 1024);
        assert_eq!(v["processes"][2]["private_bytes"], serde_json::Value::Null);
    }

    #[test]
    fn json_escapes_terminal_controls_and_keeps_the_text_exact() {
        let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
        let mut p = sample(Outcome::Terminated, None);
        p.argv = argv(&["patina", "\u{9b}31m\u{202e}x\u{7f}\u{1b}é"]);
        r.push(p.clone());
        let json = r.to_json();
        assert!(!json.chars().any(|c| c.is_control()), "{json}");
        assert!(json.contains("\\u009b31m\\u202ex\\u007f\\u001bé"), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["processes"][0]["argv"][1], p.argv[1]);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut r = Report::new(86_400, 5, false, vec!["patina".into()]);
        r.push(sample(Outcome::Terminated, None));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["threshold_secs"], 86_400);
        assert_eq!(v["grace_secs"], 5);
        assert_eq!(v["dry_run"], false);
        assert_eq!(v["disabled"], false);
        let p = &v["processes"][0];
        assert_eq!(p["pid"], 12345);
        assert_eq!(p["outcome"], "terminated");
        assert_eq!(p["reason"], serde_json::Value::Null);
        assert_eq!(p["argv"][1], "serve");
        assert_eq!(v["summary"]["reaped"], 1);
        assert_eq!(v["summary"]["freed_bytes"], 1_288_490_188u64);
        assert_eq!(v["summary"]["would_reap"], 0);
        assert_eq!(v["summary"]["would_free_bytes"], 0);
        assert_eq!(p["private_bytes"], serde_json::Value::Null);
        assert!(v.get("names").is_none());
    }
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// What a terminal could act on: C0 (newline included: one process, one line), DEL,
    /// C1, bidi controls and zero-width characters.
    fn drives_a_terminal(c: char) -> bool {
        c.is_control() || is_format_char(c)
    }

    /// Text rich in what attackers put in argv.
    fn hostile() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::char::range('\0', '\u{a0}'),
                prop::sample::select(vec![
                    '\u{1b}',
                    '\u{7}',
                    '\u{9b}',
                    '\u{202e}',
                    '\u{2066}',
                    '\u{200b}',
                    '\u{feff}',
                    '\\',
                    '\n',
                    '\r',
                    '\u{61c}',
                    '\u{ad}',
                    '\u{e0041}',
                    '\u{2028}',
                    '\u{2029}'
                ]),
            ],
            0..60,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    /// The inverse of [`escape`], to show no two texts look alike once escaped.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                Some('u') => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("bad escape {other:?} in {text:?}"),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn escaped_text_has_nothing_a_terminal_acts_on(text in hostile()) {
            let shown = escape(&text);
            prop_assert!(!shown.chars().any(drives_a_terminal), "{shown:?}");
            prop_assert_eq!(unescape(&shown), text);
        }

        #[test]
        fn a_shown_command_is_one_short_safe_line(
            argv in prop::collection::vec(hostile(), 0..6),
            name in "[a-z]{1,15}",
        ) {
            let shown = display_command(&argv, &name);
            prop_assert!(!shown.chars().any(drives_a_terminal), "{shown:?}");
            prop_assert!(shown.chars().count() <= MAX_COMMAND + 1);
        }

        #[test]
        fn json_carries_argv_text_exactly(
            argv in prop::collection::vec(hostile(), 0..6),
            raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..4),
        ) {
            let mut argv = argv;
            argv.extend(lossy_argv(&raw));
            let report = ProcessReport {
                pid: 1,
                name: "patina".into(),
                command: argv.join(" "),
                argv: argv.clone(),
                uid: 0,
                age_secs: 0,
                rss_bytes: 0,
                private_bytes: None,
                outcome: Outcome::WouldReap,
                reason: None,
                ppid: 1,
                trigger: Some(Trigger::Age),
                first_signal: Some(Signal::Term),
                parent_name: None,
                socket: None,
            };
            let mut r = Report::new(0, 0, true, vec!["patina".into()]);
            r.push(report);
            let json = r.to_json();
            // One line, with nothing a terminal acts on, and still exact.
            prop_assert!(!json.bytes().any(|b| b < 0x20));
            prop_assert!(!json.chars().any(needs_json_escape), "{json}");
            let back: serde_json::Value = serde_json::from_str(&json).unwrap();
            let got: Vec<&str> = back["processes"][0]["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            prop_assert_eq!(got, argv.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(back["processes"][0]["command"].as_str().unwrap(), argv.join(" "));
        }

        #[test]
        fn sizes_never_panic_and_keep_their_unit(bytes in any::<u64>()) {
            let text = format_bytes(bytes);
            prop_assert!(text.ends_with(" B") || text.ends_with("iB"), "{text}");
        }
    }
}
