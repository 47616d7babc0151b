//! The engine both the CLI and the preflight run: scan, select, reap, report.

use std::time::Duration;

use crate::lock;
use crate::reap::{self, Fate};
use crate::report::{lossy_argv, Outcome, ProcessReport, Report};
use crate::scan::{Backend, Query, Scan, Source};
use crate::select::{verdict, Verdict};
use crate::Error;

/// The default minimum age of a stale process.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(24 * 3600);
/// The default wait between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How much longer than its grace period a run waits for another reaper's turn.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A configured run: which processes count as stale and what to do with them.
///
/// The defaults are those of [`ensure_clean_state`](crate::ensure_clean_state): program
/// name `patina`, threshold 24h, grace 5s, only the caller's own processes.
///
/// ```
/// use std::time::Duration;
///
/// // List (and, without dry_run, reap) `my-daemon` processes older than 12 hours.
/// let report = patina_reap::Reaper::new()
///     .names(["my-daemon"])
///     .threshold(Duration::from_secs(12 * 3600))
///     .dry_run(true)
///     .run()?;
/// for process in &report.processes {
///     println!("{process}");
/// }
/// println!("{}", report.to_json());
/// # Ok::<(), patina_reap::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reaper {
    threshold: Duration,
    grace: Duration,
    names: Vec<String>,
    dry_run: bool,
    all_users: bool,
    list_young: bool,
}

impl Default for Reaper {
    fn default() -> Self {
        Self::new()
    }
}

impl Reaper {
    /// A reaper with the defaults.
    pub fn new() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            grace: DEFAULT_GRACE,
            names: vec!["patina".to_owned()],
            dry_run: false,
            all_users: false,
            list_young: true,
        }
    }

    /// Minimum age of a stale process (inclusive; second precision).
    pub fn threshold(mut self, threshold: Duration) -> Self {
        self.threshold = threshold;
        self
    }

    /// How long processes get between SIGTERM and SIGKILL.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Program names to match, exactly (replaces the default `patina`). An empty list
    /// keeps the default.
    pub fn names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if !names.is_empty() {
            self.names = names;
        }
        self
    }

    /// Only report what would be reaped; send no signal.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Also consider other users' processes (signalling them needs privileges).
    pub fn all_users(mut self, all_users: bool) -> Self {
        self.all_users = all_users;
        self
    }

    /// Also report matches younger than the threshold as skipped (on by default). Off,
    /// the command line of a young process is never read, which makes the scan cheaper.
    pub fn list_young(mut self, list_young: bool) -> Self {
        self.list_young = list_young;
        self
    }

    /// Scan, reap what is stale (unless a dry run) and report. Returns once every
    /// stale process is gone or reported failed: at most about grace + 1s.
    ///
    /// Reapers for the same user and names take turns (an advisory lock in the
    /// temporary directory), so that each stale process is reported by one of them; a
    /// run waits up to grace + 10s for another to finish, then goes on regardless.
    pub fn run(&self) -> Result<Report, Error> {
        let source = Backend::from_env()?.source();
        let _turn = (!self.dry_run).then(|| lock::acquire(&self.names, self.grace + LOCK_WAIT));
        let scan = self.scan(&*source)?;
        Ok(self.finish(&*source, scan))
    }

    pub(crate) fn names_list(&self) -> &[String] {
        &self.names
    }

    pub(crate) fn scan(&self, source: &dyn Source) -> Result<Scan, Error> {
        let threshold_secs = self.threshold.as_secs();
        source.scan(&Query {
            names: &self.names,
            uid: (!self.all_users).then(|| rustix::process::geteuid().as_raw()),
            min_age_secs: if self.list_young { 0 } else { threshold_secs },
        })
    }

    /// Select from a finished scan and reap.
    pub(crate) fn finish(&self, source: &dyn Source, scan: Scan) -> Report {
        let threshold_secs = self.threshold.as_secs();
        let mut verdicts = Vec::with_capacity(scan.processes.len());
        let mut targets = Vec::new();
        for p in &scan.processes {
            let v = verdict(p, threshold_secs, &scan.ancestors);
            if v == Verdict::Stale {
                targets.push((p.pid, p.start));
            }
            verdicts.push(v);
        }
        let mut fates = if self.dry_run || targets.is_empty() {
            Vec::new()
        } else {
            reap::reap(source, &targets, self.grace)
        }
        .into_iter();

        let mut report = Report::new(
            threshold_secs,
            self.grace.as_secs(),
            self.dry_run,
            self.names.clone(),
        );
        report.left_out = scan.left_out;
        for (p, v) in scan.processes.into_iter().zip(verdicts) {
            let (outcome, reason) = match v {
                Verdict::Keep(why) => (Outcome::Skipped, Some(why.as_str().to_owned())),
                Verdict::Stale if self.dry_run => (Outcome::WouldReap, None),
                Verdict::Stale => match fates.next() {
                    Some(Fate::Terminated) => (Outcome::Terminated, None),
                    Some(Fate::Killed) => (Outcome::Killed, None),
                    Some(Fate::Vanished) | None => (Outcome::Vanished, None),
                    Some(Fate::Failed(why)) => (Outcome::Failed, Some(why)),
                },
            };
            let argv = lossy_argv(&p.argv);
            report.push(ProcessReport {
                pid: p.pid,
                name: p.name,
                command: argv.join(" "),
                argv,
                uid: p.uid,
                age_secs: p.age_secs,
                rss_bytes: p.rss_bytes,
                outcome,
                reason,
            });
        }
        report
    }

    /// The report of a run that was turned off (`PATINA_REAP_THRESHOLD=off`).
    pub fn disabled_report(&self) -> Report {
        let mut report = Report::new(
            self.threshold.as_secs(),
            self.grace.as_secs(),
            self.dry_run,
            self.names.clone(),
        );
        report.disabled = true;
        report
    }
}
