//! What a run did: the report type, its JSON form and the lines shown to people.

use std::fmt;

use serde::Serialize;

use crate::duration::{format_age, format_duration};
pub use crate::select::{SkipReason, Trigger};
use crate::text::escape;
use crate::text::{needs_json_escape, shorten};

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
    /// The kernel does not let this caller signal it (kill(2) says EPERM: another
    /// user's, without root or CAP_KILL), as a dry run or a real run found.
    NotPermitted,
    /// Sending `signal` failed with this errno.
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
    /// The preflight had no time left within its bound for a grace period: not
    /// signalled, left to the next start.
    NoTimeLeft,
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Every matched process, in scan order.
    pub processes: Vec<ProcessReport>,
    /// Totals.
    pub summary: Summary,
    /// The names that were matched (for the summary line; not in the JSON).
    pub(crate) names: Vec<String>,
    /// Processes the scan listed but could not read, with the reason (shown under
    /// `--verbose`; not in the JSON).
    pub(crate) left_out: Vec<String>,
    /// The preflight did not scan: its proof of the last clean scan still held (not in
    /// the JSON).
    pub(crate) scan_skipped: bool,
}

impl Serialize for Report {
    /// The documented JSON: `disabled` is derived, as a run turned off has no threshold.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut json = serializer.serialize_struct("Report", 7)?;
        json.serialize_field("version", &self.version)?;
        json.serialize_field("threshold_secs", &self.threshold_secs)?;
        json.serialize_field("grace_secs", &self.grace_secs)?;
        json.serialize_field("dry_run", &self.dry_run)?;
        json.serialize_field("disabled", &self.disabled())?;
        json.serialize_field("processes", &self.processes)?;
        json.serialize_field("summary", &self.summary)?;
        json.end()
    }
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
            processes: Vec::new(),
            summary: Summary::default(),
            names,
            left_out: Vec::new(),
            scan_skipped: false,
        }
    }

    /// Reaping was turned off by `PATINA_REAP_THRESHOLD=off`: nothing was scanned, and
    /// there is no threshold.
    pub fn disabled(&self) -> bool {
        self.threshold_secs.is_none()
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
        if self.disabled() {
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
fn skip_text(why: SkipReason) -> &'static str {
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
        SkipReason::Connected => "a client is still connected to it",
        SkipReason::UnknownServing => {
            "could be serving a daemon socket (what it serves could not be told in time, or \
             safely, from here)"
        }
    }
}

/// The name of a variant as the JSON gives it: its serde name, the one source.
fn json_name(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SkipReason {
    /// Its name in the JSON and `--help`: `unknown-serving`.
    pub fn name(self) -> String {
        json_name(self)
    }

    /// What it means, for `--help`, the man page and the README.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Ancestor => "this process and every ancestor up the parent chain",
            Self::Init => {
                "PID 1 of our PID namespace (when it ends, the kernel kills the whole \
                 namespace: a container whose PID 1 is patina, the caller included)"
            }
            Self::UnknownAncestry => {
                "an ancestor could not be read (/proc with hidepid, a parent of another \
                 user), and the process started no later than the topmost one that could, \
                 so it may be a hidden ancestor (with ps: every process, as ps gives no \
                 ancestor start times)"
            }
            Self::Namespace => {
                "in a PID namespace below ours, a container's or sandbox's (not seen by ps)"
            }
            Self::Zombie => {
                "a process that has already exited (a leader in state Z whose other threads \
                 still run is live; with ps it counts as a zombie)"
            }
            Self::Young => {
                "younger than the threshold, and neither superseded nor a replaced listener"
            }
            Self::Foreground => {
                "in the foreground process group of a live terminal, also when that group \
                 and the process's own both lie outside our PID namespace"
            }
            Self::Attached => {
                "its parent is alive and does not adopt orphans: an editor's MCP server, a \
                 live shell's job, a process entered from outside the PID namespace (docker \
                 exec: parent pid 0 below the initial namespace). Adopters are told by role, \
                 not name: PID 1 of the namespace (whatever program, also a container's \
                 shell) and the user's service manager (an executable called systemd run \
                 with --user); any other parent, also one called init (WSL's relay) or a \
                 child subreaper, keeps its children"
            }
            Self::Serving => {
                "it holds the listener that a daemon socket (--socket) reaches in its own \
                 mount namespace, through a socket file of its own user, and its executable \
                 was not replaced"
            }
            Self::Connected => {
                "it holds a connection that a daemon socket's listener accepted, and the \
                 client at its other end is still there: somebody is using it, superseded \
                 or old as it may be (the first run after the client is gone judges it \
                 anew); whatever its executable"
            }
            Self::UnknownServing => {
                "whether it serves or is superseded could not be told in time or safely (a \
                 socket path on a file system that does not answer, a symlink on it that \
                 root did not make, a descriptor table too large for the budget, another \
                 network namespace, a kernel or sandbox without socket diagnostics, where a \
                 listener on a daemon socket's path is known by its name only), so it may; \
                 whatever its executable, as SIGTERM to a superseded daemon removes its \
                 successor's files"
            }
        }
    }
}

impl Trigger {
    /// Its name in the JSON: `superseded`.
    pub fn name(self) -> String {
        json_name(self)
    }

    /// What it means, for `--help`, the man page and the README.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Age => "at least the threshold old",
            Self::Replaced => {
                "it listens on a socket and its executable was replaced since it started: the \
                 old daemon after an upgrade, whatever its age"
            }
            Self::Superseded => {
                "it listens on a daemon socket whose path, in its own mount namespace, now \
                 leads to another live listener of its user: nobody can reach it, whatever \
                 its age, and it gets SIGKILL at once"
            }
        }
    }
}

impl Outcome {
    /// Its name in the JSON: `would_reap`.
    pub fn name(self) -> String {
        json_name(self)
    }

    /// What it means, for `--help`, the man page and the README.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::WouldReap => "stale; a dry run sent no signal",
            Self::WouldFail => {
                "stale, but a dry run found it may not signal it: another user's, without \
                 root; a real run would report it failed"
            }
            Self::Terminated => "SIGTERM was enough",
            Self::Killed => "needed SIGKILL; a superseded daemon gets it at once",
            Self::Vanished => {
                "gone before the first signal, say another reaper got it; not a failure"
            }
            Self::Failed => "could not be reaped; the reason says why",
            Self::Skipped => "kept; the reason says why",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skipped(why) => f.write_str(&why.name()),
            Self::Failed(failure) => failure.fmt(f),
            Self::LeftToAnotherReaper => {
                f.write_str("left to another reaper, which holds the turn")
            }
        }
    }
}

impl fmt::Display for crate::Progress {
    /// The status line of a wait: `waiting up to 5s for 2 processes to exit after
    /// SIGTERM...`; empty when a wait is over.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WaitingForTurn { up_to } => write!(
                f,
                "waiting up to {} for another patina-reap of these names to finish...",
                format_duration(up_to)
            ),
            Self::WaitingForExit {
                count,
                signal,
                up_to,
            } if !up_to.is_zero() => write!(
                f,
                "waiting up to {} for {count} {} to exit after {signal}...",
                format_duration(up_to),
                if count == 1 { "process" } else { "processes" }
            ),
            _ => Ok(()),
        }
    }
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
            Self::NoTimeLeft => f.write_str(
                "not signalled: no time was left within the preflight's bound for a grace \
                 period; left to the next start",
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
#[path = "report_tests.rs"]
mod tests;
