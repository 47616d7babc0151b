//! The engine both the CLI and the preflight run: scan, select, reap, report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::lock::{self, ReapLock};
use crate::proof;
use crate::reap::{self, may_signal, Fate, Timing};
use crate::report::{lossy_argv, Failure, Outcome, ProcessReport, Reason, Report, Signal};
use crate::scan::{Backend, Query, Scan, Source};
use crate::select::{sockets_matter, trigger, verdict, SkipReason, Trigger, Verdict};
use crate::socket::{self, Daemons};
use crate::watch::{Progress, Watch};
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
/// use std::time::{Duration, Instant};
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
    /// Whose processes are considered.
    owners: Owners,
    list_young: bool,
    /// Daemon sockets; `None` for the default, any `*/.patina/run/serve.sock`.
    sockets: Option<Vec<PathBuf>>,
    watch: Watch,
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
            owners: Owners::Caller,
            list_young: true,
            sockets: None,
            watch: Watch::default(),
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

    /// Program names to match, exactly. The list replaces the default, `patina`; an
    /// empty list matches nothing (so nothing is reaped), as an empty
    /// [`sockets`](Self::sockets) list checks no socket and an empty
    /// [`users`](Self::users) list considers nobody's processes: every list means
    /// exactly what it holds, and an empty one never falls back to a default.
    pub fn names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Only report what would be reaped; send no signal.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Also consider other users' processes (signalling them needs privileges).
    pub fn all_users(mut self, all_users: bool) -> Self {
        self.owners = match (all_users, self.owners) {
            (true, _) => Owners::All,
            (false, Owners::All) => Owners::Caller,
            (false, owners) => owners,
        };
        self
    }

    /// Consider the processes of exactly these effective uids (replaces the default, the
    /// caller's own; signalling another user's process needs privileges). An empty list
    /// considers nobody's, as an empty [`names`](Self::names) list matches nothing;
    /// [`all_users`](Self::all_users) wins over it.
    pub fn users<I: IntoIterator<Item = u32>>(mut self, uids: I) -> Self {
        let mut uids: Vec<u32> = uids.into_iter().collect();
        uids.sort_unstable();
        uids.dedup();
        if self.owners != Owners::All {
            self.owners = Owners::These(uids);
        }
        self
    }

    /// Also report matches younger than the threshold as skipped (on by default). Off,
    /// they are left out of the report, and the command line of a young process that
    /// cannot be stale (its kernel name is not one of the names, or it holds no socket)
    /// is never read, which makes the scan cheaper. The verdict on every
    /// process is the same either way.
    pub fn list_young(mut self, list_young: bool) -> Self {
        self.list_young = list_young;
        self
    }

    /// Call `callback` when a wait starts and ends (another reaper's turn, processes
    /// given time to exit), say to show a status line. It runs on the thread that
    /// called [`run`](Self::run).
    pub fn on_progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.watch = self.watch.with_progress(Arc::new(callback));
        self
    }

    /// Stop early once `flag` is set (say by a SIGINT handler): no further signal is
    /// sent and no wait goes on (an interrupt is seen within a quarter of a second). Set
    /// before the first signal, [`run`](Self::run) returns [`Error::Interrupted`];
    /// later, the report says what became of each process so far, those still running
    /// being `failed` with the reason.
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.watch = self.watch.with_interrupt(flag);
        self
    }

    /// Scan, reap what is stale (unless a dry run) and report. Returns once every
    /// stale process is gone or reported failed: at most about grace + 1s.
    ///
    /// Reapers for the same user and names take turns (an advisory lock in the
    /// temporary directory), so that each stale process is reported by one of them; a
    /// run waits up to grace + 10s for another to finish, then goes on regardless.
    pub fn run(&self) -> Result<Report, Error> {
        self.execute(&Mode::Command)
    }

    /// Daemon sockets whose listener is kept as `serving` (replaces the default, any
    /// `*/.patina/run/serve.sock`); an empty list checks none, as an empty
    /// [`names`](Self::names) list matches nothing. A relative path is taken from the
    /// current directory. A process serves a socket when it holds the listener that
    /// connections to the path reach in its own mount namespace.
    pub fn sockets<I, P>(mut self, sockets: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.sockets = Some(sockets.into_iter().map(Into::into).collect());
        self
    }

    /// The program names, for the lock and proof paths.
    pub(crate) fn name_list(&self) -> &[String] {
        &self.names
    }

    /// What a proof depends on besides the names and the threshold: `None` for the
    /// defaults (the caller's own processes, the default daemon sockets), else a text
    /// naming the owners and sockets (absolute), so that a proof made with other ones
    /// is never taken for the defaults' (nor the reverse).
    pub(crate) fn proof_scope(&self) -> Option<String> {
        let sockets = self.sockets.as_ref().map(|paths| {
            paths
                .iter()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                .collect::<Vec<_>>()
        });
        (self.owners != Owners::Caller || sockets.is_some())
            .then(|| format!("owners {:?} sockets {:?}", self.owners, sockets))
    }

    /// Whether it is a dry run: one keeps no state (no turn, no proof).
    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The threshold, for the benchmarks' preflight.
    #[cfg(feature = "bench")]
    pub(crate) fn threshold_value(&self) -> Duration {
        self.threshold
    }

    /// The one pipeline: take a turn, scan, gather the facts, decide once, act, report.
    /// The modes differ only in when the turn is taken, how long it may all take, and
    /// whether a clean result is remembered (the preflight's proof).
    pub(crate) fn execute(&self, mode: &Mode) -> Result<Report, Error> {
        let nobody = self.owners == Owners::These(Vec::new());
        if self.names.is_empty() || nobody {
            // Nothing can match: no scan, no lock, no signal.
            return Ok(self.report());
        }
        let (bounds, proof_path) = match mode {
            Mode::Command => (None, None),
            Mode::Preflight(b) => (Some(b), b.proof.as_deref()),
        };
        // The proof's looks at files are bounded by the preflight's deadline.
        let proof_deadline = bounds.map_or_else(Instant::now, |b| b.deadline);
        let threshold_secs = self.threshold.as_secs();
        let checked = proof_path.map(|path| proof::check(path, threshold_secs, proof_deadline));
        if checked == Some(Ok(true)) {
            // Nothing can have become stale since the last clean scan.
            let mut report = self.report();
            report.scan_skipped = true;
            return Ok(report);
        }
        // Where a first daemon would bind, as it is before the scan: a daemon binding
        // there during the run voids the proof this run may leave. Where the proof's
        // files did not answer, it is not waited for twice.
        let unanswered = checked == Some(Err(proof::NoAnswer));
        let first_daemon =
            proof_path.and_then(|_| self.default_socket_seen(proof_deadline, unanswered));
        let backend = Backend::from_env()?;
        let mut turn = (bounds.is_none() && !self.dry_run).then(|| self.take_turn());
        if self.watch.interrupted() {
            return Err(Error::Interrupted);
        }
        let (source, mut scan) = match bounds {
            None => {
                let source = backend.source();
                let scan = self.scan(&*source)?;
                (source, scan)
            }
            Some(b) => {
                let half = b.deadline.saturating_duration_since(Instant::now()) / 2;
                self.scan_within_budget(backend, SCAN_BUDGET.min(half))?
            }
        };
        if self.watch.interrupted() {
            return Err(Error::Interrupted);
        }
        let lookup_deadline = match bounds {
            None => Instant::now() + socket::BUDGET,
            // What is left of the bound after the lookup is for the grace period.
            Some(b) => (Instant::now() + socket::PREFLIGHT_BUDGET).min(
                b.deadline
                    .checked_sub(MIN_PREFLIGHT_REAP)
                    .unwrap_or(b.deadline),
            ),
        };
        let verdicts = self.decide(&mut scan, lookup_deadline);
        let stale = stale_among(&verdicts);
        // The preflight takes its turn only when there is something to do, and leaves
        // the processes to a reaper that holds it.
        if bounds.is_some() && !self.dry_run && !stale.is_empty() {
            turn = Some(lock::acquire(&self.names, Duration::ZERO));
        }
        let left_to_another = bounds.is_some() && matches!(turn, Some(ReapLock::Busy));
        let timing = match bounds {
            None => Some(Timing::with_grace(self.grace)),
            // SIGTERM, a short wait, SIGKILL and its confirmation, all by the deadline;
            // with too little time left for them, nothing is signalled (no process
            // loses its grace period to a slow scan).
            Some(b) => {
                let left = b.deadline.saturating_duration_since(Instant::now());
                let grace = self.grace.min(left / 2);
                (left >= MIN_PREFLIGHT_REAP).then_some(Timing {
                    grace,
                    confirm: left - grace,
                })
            }
        };
        let proved =
            proof_path.map(|_| self.proof_of(&scan, &verdicts, first_daemon, proof_deadline));
        let report = self.act(&*source, scan, verdicts, &stale, left_to_another, timing);
        if let (Some(path), Some(proved)) = (proof_path, proved) {
            // Only a run that leaves nothing stale behind proves anything.
            let clean = report.processes.iter().all(|p| match p.outcome {
                Outcome::Skipped | Outcome::Terminated | Outcome::Killed => true,
                Outcome::Vanished => p.reason.is_none(),
                _ => false,
            });
            match proved.finish(proof_deadline).filter(|_| clean) {
                Some(proof) => proof::write(path, &proof),
                None => proof::forget(path),
            }
        }
        Ok(report)
    }

    /// The caller's default daemon socket (`$HOME/.patina/run/serve.sock`) and the file
    /// there now, where a first daemon would bind and supersede nobody yet, seen by
    /// `deadline` (not looked at when its file system is `unanswered` already); `None`
    /// with configured sockets or no `HOME`.
    fn default_socket_seen(&self, deadline: Instant, unanswered: bool) -> Option<FirstDaemon> {
        if self.sockets.is_some() {
            return None;
        }
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
        let path = PathBuf::from(home).join(socket::DEFAULT_SOCKET_TAIL.trim_start_matches('/'));
        let seen = match unanswered {
            true => Err(proof::NoAnswer),
            false => proof::seen(&path, deadline),
        };
        Some((path, seen))
    }

    /// What the next preflight may take for granted after this one, if nothing stale is
    /// left: see [`proof`].
    fn proof_of(
        &self,
        scan: &Scan,
        verdicts: &[Verdict],
        first_daemon: Option<FirstDaemon>,
        deadline: Instant,
    ) -> proof::Builder {
        let threshold = self.threshold.as_secs();
        let mut proved = proof::Builder::new(threshold);
        // Ages are whole seconds: a second less than they say is left.
        let left = |age: u64| threshold.saturating_sub(age).saturating_sub(1);
        if let Some(secs) = scan.unread_young_secs {
            proved.until_within(secs.saturating_sub(1));
        }
        if !scan.left_out.is_empty() {
            proved.impossible();
        }
        if let Some((path, seen)) = first_daemon {
            proved.watch_file_as(path, seen);
        }
        let me = std::process::id();
        let mut watched = Vec::new();
        for (p, v) in scan.processes.iter().zip(verdicts) {
            for path in p.sockets.serving.iter().chain(&p.sockets.superseded) {
                watched.push(path.clone());
                match crate::sys::executable_of(p.pid) {
                    Some(exe) => watched.push(exe),
                    None => proved.impossible(),
                }
            }
            match v {
                Verdict::Keep(SkipReason::Young) => proved.until_within(left(p.age_secs)),
                Verdict::Keep(SkipReason::Attached) => {
                    proved.watch_parent(p.pid, p.start, p.ppid);
                    if p.age_secs < threshold {
                        proved.until_within(left(p.age_secs));
                    }
                }
                Verdict::Keep(
                    SkipReason::Serving
                    | SkipReason::Init
                    | SkipReason::Namespace
                    | SkipReason::Zombie,
                ) => {}
                // This run's own process is gone by the next start.
                Verdict::Keep(SkipReason::Ancestor) if p.pid == me => {}
                // Another start need not have this ancestor: it is judged by its age.
                Verdict::Keep(SkipReason::Ancestor) if p.age_secs < threshold => {
                    proved.until_within(left(p.age_secs));
                }
                // Kept for a reason that can lapse unseen (an old ancestor of this start
                // only, a terminal, a client, what could not be told): the next start
                // scans.
                Verdict::Keep(
                    SkipReason::Foreground
                    | SkipReason::Connected
                    | SkipReason::Ancestor
                    | SkipReason::UnknownServing
                    | SkipReason::UnknownAncestry,
                ) => proved.impossible(),
                // Gone after this run, or the run was not clean.
                Verdict::Stale => {}
            }
        }
        proved.watch_files(watched, deadline);
        proved
    }

    /// Decide and act on a scan made earlier, without a turn: for the tests of what
    /// happens between a scan and a signal.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn finish(&self, source: &dyn Source, mut scan: Scan) -> Report {
        let verdicts = self.decide(&mut scan, Instant::now() + socket::BUDGET);
        let stale = stale_among(&verdicts);
        self.act(
            source,
            scan,
            verdicts,
            &stale,
            false,
            Some(Timing::with_grace(self.grace)),
        )
    }

    /// Look up the sockets of the processes whose verdict they can change, then decide
    /// every process once, with all facts in.
    fn decide(&self, scan: &mut Scan, lookup_deadline: Instant) -> Vec<Verdict> {
        let threshold_secs = self.threshold.as_secs();
        let me = rustix::process::geteuid().as_raw();
        // Another user's process that this caller may not signal stays where it is
        // whatever it serves (and what it holds could not be read anyway).
        let asked: Vec<usize> = (0..scan.processes.len())
            .filter(|&i| {
                let p = &scan.processes[i];
                sockets_matter(p, threshold_secs, &scan.ancestors)
                    && (p.uid == me || may_signal(p.pid))
            })
            .collect();
        if !asked.is_empty() {
            let candidates: Vec<socket::Candidate> = asked
                .iter()
                .map(|&i| {
                    let p = &scan.processes[i];
                    socket::Candidate {
                        pid: p.pid,
                        uid: p.uid,
                        replaced: p.replaced,
                        young: p.age_secs < threshold_secs,
                    }
                })
                .collect();
            let facts = socket::lookup(&self.daemons(), &candidates, lookup_deadline);
            for (&i, facts) in asked.iter().zip(facts) {
                scan.processes[i].sockets = facts;
            }
        }
        scan.processes
            .iter()
            .map(|p| verdict(p, threshold_secs, &scan.ancestors))
            .collect()
    }

    /// Which bound names are daemon sockets.
    fn daemons(&self) -> Daemons {
        match &self.sockets {
            None => Daemons::Default,
            Some(paths) => Daemons::Paths(
                paths
                    .iter()
                    .filter_map(|p| std::path::absolute(p).ok())
                    .collect(),
            ),
        }
    }

    /// Signal the stale processes (unless a dry run, or they are left to another
    /// reaper or, with no `timing`, to the next start) and report on every process.
    fn act(
        &self,
        source: &dyn Source,
        scan: Scan,
        verdicts: Vec<Verdict>,
        stale: &[usize],
        left_to_another: bool,
        timing: Option<Timing>,
    ) -> Report {
        let triggers: Vec<Option<Trigger>> = scan
            .processes
            .iter()
            .zip(&verdicts)
            .map(|(p, v)| (*v == Verdict::Stale).then(|| trigger(p)))
            .collect();
        // Before any signal: what each stale process holds that ending it frees.
        let private: Vec<Option<u64>> = scan
            .processes
            .iter()
            .zip(&verdicts)
            .map(|(p, v)| (*v == Verdict::Stale).then(|| source.private_bytes(p.pid))?)
            .collect();
        let mut fates = if self.dry_run || left_to_another || stale.is_empty() {
            Vec::new()
        } else if let Some(timing) = timing {
            let targets: Vec<(u32, u64)> = stale
                .iter()
                .map(|&i| (scan.processes[i].pid, scan.processes[i].start))
                .collect();
            let at_once: Vec<bool> = stale
                .iter()
                .map(|&i| triggers[i].is_some_and(Trigger::kills_at_once))
                .collect();
            reap::reap(source, &targets, &at_once, timing, &self.watch)
        } else {
            vec![Fate::Failed(Failure::NoTimeLeft); stale.len()]
        }
        .into_iter();

        let mut report = self.report();
        report.left_out = scan.left_out;
        for (((p, v), private_bytes), trigger) in scan
            .processes
            .into_iter()
            .zip(verdicts)
            .zip(private)
            .zip(triggers)
        {
            let (outcome, reason) = match v {
                Verdict::Keep(SkipReason::Young) if !self.list_young => continue,
                Verdict::Keep(why) => (Outcome::Skipped, Some(Reason::Skipped(why))),
                Verdict::Stale if self.dry_run => match may_signal(p.pid) {
                    true => (Outcome::WouldReap, None),
                    false => (
                        Outcome::WouldFail,
                        Some(Reason::Failed(Failure::NotPermitted)),
                    ),
                },
                Verdict::Stale if left_to_another => {
                    (Outcome::Vanished, Some(Reason::LeftToAnotherReaper))
                }
                Verdict::Stale => match fates.next() {
                    Some(Fate::Terminated) => (Outcome::Terminated, None),
                    Some(Fate::Killed) => (Outcome::Killed, None),
                    Some(Fate::Vanished) | None => (Outcome::Vanished, None),
                    Some(Fate::Failed(why)) => (Outcome::Failed, Some(Reason::Failed(why))),
                },
            };
            let argv = lossy_argv(&p.argv);
            let first_signal = trigger.map(|t| {
                if t.kills_at_once() {
                    Signal::Kill
                } else {
                    Signal::Term
                }
            });
            report.push(ProcessReport {
                pid: p.pid,
                ppid: p.ppid,
                name: p.name,
                command: argv.join(" "),
                argv,
                uid: p.uid,
                age_secs: p.age_secs,
                rss_bytes: p.rss_bytes,
                private_bytes,
                outcome,
                reason,
                trigger,
                first_signal,
                parent_name: p.parent_name,
                socket: p
                    .sockets
                    .serving
                    .or(p.sockets.superseded)
                    .or(p.sockets.connected),
            });
        }
        report
    }

    /// The report of a run that was turned off (`PATINA_REAP_THRESHOLD=off`), for the
    /// CLI; not part of the supported API.
    #[doc(hidden)]
    pub fn disabled_report(&self) -> Report {
        let mut report = self.report();
        report.threshold_secs = None;
        report
    }
}

impl Reaper {
    /// This user's reap turn for these names, waiting for another reaper if need be.
    fn take_turn(&self) -> ReapLock {
        let turn = lock::acquire(&self.names, Duration::ZERO);
        if !matches!(turn, ReapLock::Busy) {
            return turn;
        }
        let up_to = self.grace.saturating_add(LOCK_WAIT);
        self.watch.report(Progress::WaitingForTurn { up_to });
        let turn = lock::acquire_unless(&self.names, up_to, &|| self.watch.interrupted());
        self.watch.report(Progress::DoneWaiting);
        turn
    }

    pub(crate) fn scan(&self, source: &dyn Source) -> Result<Scan, Error> {
        // Both backends read this /proc (ps does too, on Linux).
        #[cfg(target_os = "linux")]
        crate::scan::proc::check_proc_is_ours()?;
        let threshold_secs = self.threshold.as_secs();
        let me = rustix::process::geteuid().as_raw();
        let uid = match &self.owners {
            Owners::All => None,
            Owners::Caller => Some(me),
            Owners::These(users) if users.len() == 1 => Some(users[0]),
            // Several users (or none): all are scanned, the others dropped here.
            Owners::These(_) => None,
        };
        let mut scan = source.scan(&Query {
            names: &self.names,
            uid,
            // Only what cannot be stale is left unread, and only when it is not listed.
            min_age_secs: if self.list_young { 0 } else { threshold_secs },
        })?;
        if let Owners::These(users) = &self.owners {
            scan.processes.retain(|p| users.contains(&p.uid));
        }
        Ok(scan)
    }

    /// Scan on a helper thread and wait at most `budget` for it: the preflight must not
    /// hold `patina` up (a read of `/proc/PID/cmdline` can block on a process stuck in
    /// D state).
    fn scan_within_budget(&self, backend: Backend, budget: Duration) -> Result<Scanned, Error> {
        let (tx, rx) = mpsc::channel::<Result<Scanned, Error>>();
        let worker = self.clone();
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
            let scan = self.scan(&*source)?;
            return Ok((source, scan));
        }
        rx.recv_timeout(budget).unwrap_or_else(|_| {
            // Out of time: the scan stops reading (a flooding `ps` must not grow patina).
            abandoned.store(true, Ordering::Relaxed);
            Err(Error::scan(
                "the preflight's scan",
                std::io::Error::new(std::io::ErrorKind::TimedOut, "out of time"),
            ))
        })
    }

    /// An empty report of this configuration.
    fn report(&self) -> Report {
        Report::new(
            self.threshold.as_secs(),
            self.grace.as_secs(),
            self.dry_run,
            self.names.clone(),
        )
    }
}

/// Whose processes a run considers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owners {
    /// The caller's own (its effective uid).
    Caller,
    /// Exactly these effective uids, sorted and without duplicates.
    These(Vec<u32>),
    /// Everybody's.
    All,
}

/// The indices of the stale verdicts.
fn stale_among(verdicts: &[Verdict]) -> Vec<usize> {
    (0..verdicts.len())
        .filter(|&i| verdicts[i] == Verdict::Stale)
        .collect()
}

/// How a run takes its turn, bounds its time and remembers a clean result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`Reaper::run`] and the CLI: the turn first (waiting for another reaper), then a
    /// scan that takes what it takes and the configured grace period.
    Command,
    /// [`Preflight`](crate::Preflight): all done by a deadline, the turn taken only when
    /// something is stale and never waited for.
    Preflight(Bounds),
}

/// The preflight's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// When the run must be over: scan, signals and their confirmation.
    pub(crate) deadline: Instant,
    /// Where the proof of a clean scan is kept; `None` to scan every time.
    pub(crate) proof: Option<PathBuf>,
}

type Scanned = (Box<dyn Source + Send>, Scan);

/// Where a first daemon would bind, and the file there before the scan.
type FirstDaemon = (PathBuf, Result<Option<proof::FileId>, proof::NoAnswer>);

/// The most the preflight waits for the process scan before `patina` goes on without it
/// (less when its bound is shorter).
const SCAN_BUDGET: Duration = Duration::from_millis(500);

/// The least time the preflight signals with: a grace period and a confirmation of
/// 100 ms each at least. With less left of its bound, it leaves the stale processes to
/// the next start.
const MIN_PREFLIGHT_REAP: Duration = Duration::from_millis(200);

#[cfg(all(test, target_os = "linux"))]
#[path = "pid_reuse_tests.rs"]
mod pid_reuse_tests;
