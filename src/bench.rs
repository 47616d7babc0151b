//! Entry points for the benchmarks (`--features bench`); not part of the supported API.
//!
//! They run the library's own code paths, for a program name the caller chooses, so a
//! benchmark never reaps `patina` processes. The floor they are measured against, the
//! least any `/proc` scan can do, lives with the benchmarks (`bench/src/lib.rs`), not in
//! the library.
#![doc(hidden)]

use std::io;

use crate::{Error, Reaper};

/// The scan [`ensure_clean_state`](crate::ensure_clean_state) does (own processes,
/// command lines only of processes older than the threshold), for `name`, without
/// reaping. Returns how many processes matched.
pub fn preflight_scan(name: &str) -> Result<usize, Error> {
    let report = Reaper::new()
        .names([name])
        .list_young(false)
        .dry_run(true)
        .run()?;
    Ok(report.processes.len())
}

/// Everything [`ensure_clean_state`](crate::ensure_clean_state) does, helper thread and
/// time budget included, for `name` and as a dry run, writing its lines to `out`.
pub fn preflight(name: &str, out: &mut dyn io::Write) {
    let reaper = Reaper::new().names([name]).list_young(false).dry_run(true);
    crate::preflight::check(&reaper, out);
}
