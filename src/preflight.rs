//! `ensure_clean_state()`: the one call `patina` makes before dispatching any command.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::engine::{Reaper, DEFAULT_THRESHOLD};
use crate::lock::{self, ReapLock};
use crate::report::Outcome;
use crate::scan::Backend;
use crate::{parse_duration, Error};

/// The environment variable that changes the threshold, or turns reaping `off`.
pub const THRESHOLD_ENV: &str = "PATINA_REAP_THRESHOLD";

/// How long the preflight waits for the process scan before `patina` goes on without it
/// (a read of `/proc/PID/cmdline` can block on a process stuck in D state).
const SCAN_BUDGET: Duration = Duration::from_millis(500);

/// Reap stale `patina` processes, tell the user in one line each, and carry on.
///
/// Call it first thing in `main`. With the defaults (program name `patina`, older than
/// 24h, only your own processes, never this process or its ancestors) it sends SIGTERM,
/// then SIGKILL after 5s, and prints on stderr one line per reaped process:
///
/// ```text
/// Cleaned up stale patina serve (PID 12345, running 2d3h, 1.2 GiB)
/// ```
///
/// It prints nothing when there is nothing to do, and never fails, panics or exits. A
/// process it could not reap is a `warning:` line; a process table it could not read, or
/// a scan that takes longer than 500 ms, is skipped silently. `PATINA_REAP_THRESHOLD=<duration>` changes the threshold;
/// `PATINA_REAP_THRESHOLD=off` turns it off silently.
///
/// ```
/// # // As a doc test this must not reap anything on the machine that runs it:
/// # std::env::set_var("PATINA_REAP_THRESHOLD", "off");
/// // First thing in patina's main(), before parsing arguments:
/// patina_reap::ensure_clean_state();
/// // ... then dispatch the command.
/// ```
pub fn ensure_clean_state() {
    let stderr = std::io::stderr();
    let _ = std::panic::catch_unwind(|| preflight(&mut stderr.lock()));
}

fn preflight(out: &mut dyn Write) {
    let Some(threshold) = threshold_from_env(out) else {
        return;
    };
    check(&Reaper::new().threshold(threshold).list_young(false), out);
}

/// Take this user's reap turn, scan within the budget, reap, and write one line per
/// reaped or failed process.
pub(crate) fn check(reaper: &Reaper, out: &mut dyn Write) {
    // A scan that failed or ran out of time is not patina's problem: go on silently.
    let Some((source, scan)) = scan_within_budget(reaper) else {
        return;
    };
    // Nothing stale, the usual case: no turn to take, nothing to say.
    if !reaper.any_stale(&scan) {
        return;
    }
    // Another patina starting at the same moment is already reaping: leave it to that
    // one. A turn taken after the other's ends finds its processes gone (each is checked
    // again right before its signal), and gone ones are not reported.
    let turn = lock::acquire(reaper.names_list(), Duration::ZERO);
    if matches!(turn, ReapLock::Busy) {
        return;
    }
    let report = reaper.finish(&*source, scan);
    for p in &report.processes {
        if p.outcome.is_reaped() {
            let _ = writeln!(out, "{p}");
        } else if p.outcome == Outcome::Failed {
            let _ = writeln!(out, "warning: {p}");
        }
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
            // The error names the value, escaped: once is enough.
            let _ = writeln!(out, "warning: ignoring {THRESHOLD_ENV}: {e}; using 24h");
            DEFAULT_THRESHOLD
        })),
    }
}

type Scanned = (Box<dyn crate::scan::Source + Send>, crate::scan::Scan);

/// Scan on a helper thread and wait at most [`SCAN_BUDGET`] for it; `None` if the scan
/// failed or did not finish in time.
fn scan_within_budget(reaper: &Reaper) -> Option<Scanned> {
    let backend = Backend::from_env().ok()?;
    let (tx, rx) = mpsc::channel::<Result<Scanned, Error>>();
    let worker = reaper.clone();
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&abandoned);
    let spawned = std::thread::Builder::new()
        .name("patina-reap-scan".into())
        .spawn(move || {
            let source = backend.abandonable_source(flag);
            let result = worker.scan(&*source).map(|scan| (source, scan));
            // The receiver is gone if the budget ran out: nothing to do then.
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        let source = backend.source();
        return reaper.scan(&*source).ok().map(|scan| (source, scan));
    }
    let result = rx.recv_timeout(SCAN_BUDGET);
    if result.is_err() {
        // Out of time: the scan stops reading (a flooding `ps` must not grow patina).
        abandoned.store(true, Ordering::Relaxed);
    }
    result.ok()?.ok()
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
            "warning: ignoring PATINA_REAP_THRESHOLD: '1\\x1b[31mx' is not a duration; use \
             <integer><unit> with s, m, h, d or w (e.g. 24h, 1h 30m); using 24h\n"
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
