//! `ensure_clean_state()`: the one call `patina` makes before dispatching any command.

use std::io::Write;
use std::time::Duration;

use crate::engine::{Mode, Reaper, DEFAULT_THRESHOLD};
use crate::parse_duration;
use crate::report::Outcome;

/// The environment variable that changes the threshold, or turns reaping `off`.
pub const THRESHOLD_ENV: &str = "PATINA_REAP_THRESHOLD";

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

/// Run `reaper` as the preflight (the engine's one pipeline, its scan bounded, its turn
/// never waited for) and write one line per reaped or failed process. A scan that failed
/// or ran out of time is not patina's problem: nothing is said.
pub(crate) fn check(reaper: &Reaper, out: &mut dyn Write) {
    let Ok(report) = reaper.execute(Mode::Preflight) else {
        return;
    };
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
            let _ = writeln!(
                out,
                "warning: ignoring {THRESHOLD_ENV}={:?}: {e}; using 24h",
                crate::report::escape(value)
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
        std::env::set_var(THRESHOLD_ENV, "24");
        let mut out = Vec::new();
        assert_eq!(threshold_from_env(&mut out), Some(DEFAULT_THRESHOLD));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("warning: ignoring PATINA_REAP_THRESHOLD=\"24\""));
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
