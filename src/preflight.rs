//! `ensure_clean_state()`: the one call `patina` makes before dispatching any command.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::duration::parse_duration;
use crate::engine::{Bounds, Mode, Reaper, DEFAULT_THRESHOLD};
use crate::lock;
use crate::report::{Outcome, Report};

/// The environment variable that changes the threshold, or turns reaping `off`.
pub const THRESHOLD_ENV: &str = "PATINA_REAP_THRESHOLD";

/// Reap stale `patina` processes, tell the user in one line each, and carry on.
///
/// Call it first thing in `main`. With the defaults (program name `patina`, older than
/// 24h, only your own processes, never this process or its ancestors) it sends SIGTERM,
/// then SIGKILL to the survivors, all within a second ([`Preflight::bound`]), and prints
/// on stderr one line per reaped process:
///
/// ```text
/// Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)
/// ```
///
/// It prints nothing when there is nothing to do, and never fails, panics or exits. A
/// process it could not reap is a `warning:` line; a process table it could not read, or
/// a scan that takes longer than 500 ms, is skipped silently.
/// `PATINA_REAP_THRESHOLD=<duration>` changes the threshold; `PATINA_REAP_THRESHOLD=off`
/// turns it off silently. After a scan that left nothing stale, the next starts check a
/// proof of it in a few system calls instead of scanning, until something could have
/// changed (see [`Preflight`]). For other options, or the report, use [`Preflight`].
///
/// ```
/// # // As a doc test this must not reap anything on the machine that runs it:
/// # std::env::set_var("PATINA_REAP_THRESHOLD", "off");
/// // First thing in patina's main(), before parsing arguments:
/// patina_reap::ensure_clean_state();
/// // ... then dispatch the command.
/// ```
pub fn ensure_clean_state() {
    let _ = Preflight::new().run();
}

/// The preflight with its options: what [`ensure_clean_state`] runs, for a host that
/// wants one thing changed (a shorter bound, its lines elsewhere or nowhere, the report
/// for its own `doctor --json`). It runs the one engine that [`Reaper::run`] and the CLI
/// run; what it adds is a bound on its time, quietness and the proof of a clean scan.
///
/// It never fails, panics or blocks: a process table it could not read, or a scan that
/// did not finish in time, makes [`run`](Self::run) return `None` silently.
///
/// ```
/// use std::time::Duration;
///
/// // Look for `my-daemon` processes older than 12h, spend at most half a second on it,
/// // print nothing and keep the report (a dry run here, so that the example signals
/// // nothing).
/// let report = patina_reap::Preflight::new()
///     .reaper(patina_reap::Reaper::new().names(["my-daemon"]).dry_run(true))
///     .threshold(Duration::from_secs(12 * 3600))
///     .bound(Duration::from_millis(500))
///     .quiet()
///     .run();
/// if let Some(report) = report {
///     println!("{}", report.to_json());
/// }
/// ```
#[derive(Clone)]
pub struct Preflight {
    reaper: Reaper,
    threshold: Option<Duration>,
    bound: Duration,
    lines: Lines,
    always_scan: bool,
}

/// Where the preflight's lines go.
#[derive(Clone)]
enum Lines {
    Stderr,
    Nowhere,
    To(Arc<dyn Fn(&str) + Send + Sync>),
}

impl std::fmt::Debug for Preflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines = match self.lines {
            Lines::Stderr => "stderr",
            Lines::Nowhere => "nowhere",
            Lines::To(_) => "a callback",
        };
        f.debug_struct("Preflight")
            .field("reaper", &self.reaper)
            .field("threshold", &self.threshold)
            .field("bound", &self.bound)
            .field("lines", &lines)
            .field("always_scan", &self.always_scan)
            .finish()
    }
}

impl Default for Preflight {
    fn default() -> Self {
        Self::new()
    }
}

impl Preflight {
    /// The preflight `patina` runs: program name `patina`, the caller's own processes,
    /// threshold from `PATINA_REAP_THRESHOLD` (default 24h), at most [`DEFAULT_BOUND`],
    /// one line per reaped or failed process on stderr, and no scan while the proof of
    /// the last clean one holds.
    pub fn new() -> Self {
        Self {
            reaper: Reaper::new().list_young(false),
            threshold: None,
            bound: DEFAULT_BOUND,
            lines: Lines::Stderr,
            always_scan: false,
        }
    }

    /// What to look for and how (names, users, sockets, dry run...): the reaper's
    /// threshold and grace are the preflight's own ([`threshold`](Self::threshold),
    /// and a grace period within the [`bound`](Self::bound)).
    pub fn reaper(mut self, reaper: Reaper) -> Self {
        self.reaper = reaper;
        self
    }

    /// The minimum age of a stale process, instead of `PATINA_REAP_THRESHOLD`.
    pub fn threshold(mut self, threshold: Duration) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// The most the preflight may add to a start, whatever stale processes do: the scan,
    /// SIGTERM, a short wait, SIGKILL for survivors and their confirmation. A process
    /// that outlives even SIGKILL (uninterruptible sleep) is reported failed.
    pub fn bound(mut self, bound: Duration) -> Self {
        self.bound = bound;
        self
    }

    /// Print nothing (the report is still returned).
    pub fn quiet(mut self) -> Self {
        self.lines = Lines::Nowhere;
        self
    }

    /// Hand each line (a reaped process, a `warning:`) to `callback` instead of
    /// printing it on stderr.
    pub fn on_line(mut self, callback: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.lines = Lines::To(Arc::new(callback));
        self
    }

    /// Scan every time, ignoring (and not keeping) the proof of the last clean scan (a
    /// dry run always does).
    pub fn always_scan(mut self, always: bool) -> Self {
        self.always_scan = always;
        self
    }

    /// Run it: `None` when reaping is off (`PATINA_REAP_THRESHOLD=off`) or the process
    /// table could not be read in time; else the report, empty when the proof of the
    /// last clean scan held ([`Report::scan_skipped`](crate::Report::scan_skipped)).
    pub fn run(&self) -> Option<Report> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_once()))
            .ok()
            .flatten()
    }

    fn run_once(&self) -> Option<Report> {
        let deadline = Instant::now() + self.bound;
        let threshold = match self.threshold {
            Some(threshold) => threshold,
            None => {
                let mut warning = Vec::new();
                let threshold = threshold_from_env(&mut warning);
                for line in String::from_utf8_lossy(&warning).lines() {
                    self.say(line);
                }
                threshold?
            }
        };
        let reaper = self.reaper.clone().threshold(threshold);
        // A dry run keeps no state, as it takes no turn.
        let proof =
            (cfg!(target_os = "linux") && !self.always_scan && !reaper.is_dry_run()).then(|| {
                let scope = reaper.proof_scope();
                lock::proof_path(reaper.name_list(), scope.as_deref())
            });
        let report = reaper
            .execute(&Mode::Preflight(Bounds { deadline, proof }))
            .ok()?;
        for p in &report.processes {
            if p.outcome.is_reaped() {
                self.say(&p.to_string());
            } else if p.outcome == Outcome::Failed {
                self.say(&format!("warning: {p}"));
            }
        }
        Some(report)
    }

    fn say(&self, line: &str) {
        match &self.lines {
            Lines::Stderr => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            Lines::Nowhere => {}
            Lines::To(callback) => callback(line),
        }
    }
}

/// The most the preflight adds to a start by default.
pub const DEFAULT_BOUND: Duration = Duration::from_secs(1);

/// Run `reaper` as the preflight, always scanning, and write its lines to `out` (the
/// benchmarks' entry point).
#[cfg(feature = "bench")]
pub(crate) fn check(reaper: &Reaper, out: &mut dyn Write) {
    let lines = std::sync::Mutex::new(Vec::new());
    let shared = Arc::new(lines);
    let sink = Arc::clone(&shared);
    let preflight = Preflight::new()
        .reaper(reaper.clone())
        .threshold(reaper.threshold_value())
        .always_scan(true)
        .on_line(move |line| {
            if let Ok(mut lines) = sink.lock() {
                lines.push(line.to_owned());
            }
        });
    preflight.run();
    let lines = shared.lock().map(|l| l.clone()).unwrap_or_default();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

/// The threshold `PATINA_REAP_THRESHOLD` asks for; `None` for `off`. A bad value is
/// warned about once and the default used.
fn threshold_from_env(out: &mut dyn Write) -> Option<Duration> {
    let Some(raw) = std::env::var_os(THRESHOLD_ENV) else {
        return Some(DEFAULT_THRESHOLD);
    };
    let text = raw.to_string_lossy();
    match text.trim() {
        "off" => None,
        "" => Some(DEFAULT_THRESHOLD),
        value => Some(parse_duration(value).unwrap_or_else(|e| {
            // The value named once, escaped once; the error words the rest.
            let _ = writeln!(
                out,
                "warning: ignoring {THRESHOLD_ENV}='{}': {}; using 24h",
                crate::text::escape(value),
                e.explain(value, "24h, 90m or 2d3h")
            );
            DEFAULT_THRESHOLD
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_threshold_warns_once_and_falls_back() {
        // Only this test touches the variable in this test binary.
        std::env::set_var(THRESHOLD_ENV, "1\u{1b}[31mx");
        let mut out = Vec::new();
        assert_eq!(threshold_from_env(&mut out), Some(DEFAULT_THRESHOLD));
        let text = String::from_utf8(out).unwrap();
        // The value named once, escaped once.
        assert_eq!(
            text,
            "warning: ignoring PATINA_REAP_THRESHOLD='1\\x1b[31mx': not a DURATION; use \
             <integer><unit> with s, m, h, d or w (e.g. 24h, 90m or 2d3h); using 24h\n"
        );
        std::env::set_var(THRESHOLD_ENV, " off ");
        assert_eq!(threshold_from_env(&mut Vec::new()), None);
        std::env::set_var(THRESHOLD_ENV, "90s");
        assert_eq!(
            threshold_from_env(&mut Vec::new()),
            Some(Duration::from_secs(90))
        );
        std::env::set_var(THRESHOLD_ENV, "");
        assert_eq!(threshold_from_env(&mut Vec::new()), Some(DEFAULT_THRESHOLD));
        std::env::remove_var(THRESHOLD_ENV);
        assert_eq!(threshold_from_env(&mut Vec::new()), Some(DEFAULT_THRESHOLD));
    }
}
