//! Find, list and safely reap stale `patina` processes.
//!
//! `patina` starts a background `patina serve`; when a session ends that daemon often
//! stays, and days later a second one runs the machine out of memory. This crate finds
//! processes whose program name is exactly `patina` (the basename of the first word of
//! argv\[0\]) and that are older than a threshold (or, on Linux, run an executable that
//! was replaced since they started), and ends them: SIGTERM, a grace period, SIGKILL,
//! confirmation. It never touches the caller or its ancestors, other users' processes,
//! zombies, a process in the foreground of a live terminal, one whose parent is alive
//! and not an adopter (an editor's MCP server), or the daemon listening on
//! `~/.patina/run/serve.sock`, and it identifies every process by (pid, start time) so a
//! reused PID is never hit.
//!
//! `patina` calls [`ensure_clean_state`] first thing in `main`:
//!
//! ```no_run
//! // First thing in patina's main(), before parsing arguments:
//! patina_reap::ensure_clean_state();
//! // ... then dispatch the command.
//! ```
//!
//! It takes at most a second, whatever stale processes do, and after a scan that left
//! nothing stale the next starts check a proof of it instead of scanning. For the same
//! preflight with one thing changed (a shorter bound, its lines elsewhere, the report),
//! use [`Preflight`]:
//!
//! ```
//! # std::env::set_var("PATINA_REAP_THRESHOLD", "off");
//! let report = patina_reap::Preflight::new()
//!     .bound(std::time::Duration::from_millis(300))
//!     .quiet()
//!     .run();
//! // `None`: reaping is off (as here) or the process table could not be read in time.
//! if let Some(report) = report {
//!     println!("{}", report.summary_line());
//! }
//! ```
//!
//! A launcher that cannot link the crate runs `patina-reap --preflight` instead: the
//! same preflight, taking and leaving the same proof.
//!
//! For the CLI's run (unbounded, waiting for another reaper's turn), configure a
//! [`Reaper`]:
//!
//! ```
//! // A dry run signals nothing; this one looks for a daemon called `my-daemon`.
//! let report = patina_reap::Reaper::new()
//!     .names(["my-daemon"])
//!     .dry_run(true)
//!     .run()?;
//! assert!(report.processes.is_empty());
//! println!("{}", report.summary_line());
//! # Ok::<(), patina_reap::Error>(())
//! ```
//!
//! On Linux the process table is read from `/proc` and signals go through pidfds;
//! elsewhere `ps` is run once per scan and signals go through kill(2).
#![cfg(unix)]
#![forbid(unsafe_code)]

#[cfg(all(feature = "bench", target_os = "linux"))]
pub mod bench;
mod duration;
mod engine;
mod error;
mod lock;
mod preflight;
mod proof;
mod reap;
mod report;
mod scan;
mod select;
mod socket;
mod sys;
mod text;
mod watch;

pub use engine::{Reaper, DEFAULT_GRACE, DEFAULT_THRESHOLD};
pub use error::Error;
pub use preflight::{ensure_clean_state, Preflight, DEFAULT_BOUND, THRESHOLD_ENV};
pub use report::{
    Failure, Outcome, ProcessReport, Reason, Report, Signal, SkipReason, Summary, Trigger,
    JSON_VERSION,
};
pub use watch::Progress;

/// What the `patina-reap` binary takes from the library besides its API: DURATION
/// parsing with its one wording, and terminal-safe text. Not part of the supported API.
#[doc(hidden)]
pub mod for_cli {
    pub use crate::duration::{parse_duration, DurationError};
    pub use crate::text::escape;
}
