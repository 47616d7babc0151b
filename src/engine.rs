//! The engine both the CLI and the preflight run: scan, select, reap, report.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lock::{self, ReapLock};
use crate::reap::{self, Fate};
use crate::report::{lossy_argv, Outcome, ProcessReport, Report};
use crate::scan::{Backend, Query, Scan, Source};
use crate::select::{may_be_stale, needs_lookup, trigger, verdict, Verdict};
use crate::socket::{self, Socket};
use crate::spare;
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
    all_users: bool,
    /// Only these effective uids (`--user`); `None` for the caller alone, or everyone
    /// with `all_users`.
    users: Option<Vec<u32>>,
    list_young: bool,
    /// Daemon sockets; `None` for the default, `$HOME/.patina/run/serve.sock`.
    sockets: Option<Vec<PathBuf>>,
    homes: HomeLookup,
    watch: Watch,
}

/// How a user's home directory is found: `/etc/passwd` unless [`Reaper::home_lookup`]
/// gave another way.
#[derive(Clone, Default)]
struct HomeLookup(Option<Arc<dyn Fn(u32) -> Option<PathBuf> + Send + Sync>>);

impl std::fmt::Debug for HomeLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "custom"
        } else {
            "/etc/passwd"
        })
    }
}

impl HomeLookup {
    fn home_of(&self, uid: u32) -> Option<PathBuf> {
        match &self.0 {
            Some(lookup) => lookup(uid),
            None => home_of(uid),
        }
    }
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
            users: None,
            list_young: true,
            sockets: None,
            homes: HomeLookup::default(),
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
        self.all_users = all_users;
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
        self.users = Some(uids);
        self
    }

    /// Also report matches younger than the threshold as skipped (on by default). Off,
    /// the command line of a young process is never read, which makes the scan cheaper.
    pub fn list_young(mut self, list_young: bool) -> Self {
        self.list_young = list_young;
        self
    }

    /// How to find a user's home directory, for the default daemon socket under it: the
    /// caller's where `HOME` is unset or empty, and each other owner's with
    /// [`all_users`](Self::all_users) or [`users`](Self::users) as root. `lookup` gives
    /// the home of a uid, or `None` when it is unknown (that user's processes that may
    /// serve are then kept, `unknown-serving`). By default `/etc/passwd` is read, which
    /// never waits on a network directory; the CLI passes the C library's user database
    /// (NSS), as `pgrep -u` uses it.
    pub fn home_lookup(
        mut self,
        lookup: impl Fn(u32) -> Option<PathBuf> + Send + Sync + 'static,
    ) -> Self {
        self.homes = HomeLookup(Some(Arc::new(lookup)));
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
        let source = Backend::from_env()?.source();
        let nobody = !self.all_users && self.users.as_ref().is_some_and(Vec::is_empty);
        if self.names.is_empty() || nobody {
            // Nothing can match: no scan, no lock, no signal.
            return Ok(self.report());
        }
        let _turn = (!self.dry_run).then(|| self.take_turn());
        if self.watch.interrupted() {
            return Err(Error::Interrupted);
        }
        let scan = self.scan(&*source)?;
        if self.watch.interrupted() {
            return Err(Error::Interrupted);
        }
        Ok(self.finish(&*source, scan))
    }

    /// Daemon sockets whose listener is kept as `serving` (replaces the default,
    /// `$HOME/.patina/run/serve.sock`); an empty list checks none, as an empty
    /// [`names`](Self::names) list matches nothing. The listener counts only when it runs
    /// as the caller.
    pub fn sockets<I, P>(mut self, sockets: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.sockets = Some(sockets.into_iter().map(Into::into).collect());
        self
    }

    /// The sockets to check for candidates owned by `owners`: the configured ones for
    /// the caller, or by default the caller's home socket and, with `--all-users` as
    /// root, each other owner's own. The caller's home is `$HOME`, or where that is
    /// unset or empty (`env -i`, hooks, services) its home in `/etc/passwd`. Also the
    /// users whose home could not be found: their default socket is unknown.
    fn socket_list(&self, owners: &[u32]) -> (Vec<Socket>, Vec<u32>) {
        let me = rustix::process::geteuid().as_raw();
        if let Some(paths) = &self.sockets {
            let list = paths
                .iter()
                .map(|path| Socket {
                    path: path.clone(),
                    user: me,
                })
                .collect();
            return (list, Vec::new());
        }
        let mut list = Vec::new();
        let mut unknown = Vec::new();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.homes.home_of(me));
        match home {
            Some(home) => list.push(socket::default_socket(&home, me)),
            None => unknown.push(me),
        }
        if self.other_users() && me == 0 {
            for &owner in owners.iter().filter(|&&o| o != me) {
                match self.homes.home_of(owner) {
                    Some(home) => list.push(socket::default_socket(&home, owner)),
                    None => unknown.push(owner),
                }
            }
        }
        (list, unknown)
    }

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

    pub(crate) fn names_list(&self) -> &[String] {
        &self.names
    }

    pub(crate) fn scan(&self, source: &dyn Source) -> Result<Scan, Error> {
        // Both backends read this /proc (ps does too, on Linux).
        #[cfg(target_os = "linux")]
        crate::scan::proc::check_proc_is_ours()?;
        let threshold_secs = self.threshold.as_secs();
        let me = rustix::process::geteuid().as_raw();
        let uid = match (&self.users, self.all_users) {
            (_, true) => None,
            (None, false) => Some(me),
            (Some(users), false) if users.len() == 1 => Some(users[0]),
            // Several users (or none): all are scanned, the others dropped here.
            (Some(_), false) => None,
        };
        let mut scan = source.scan(&Query {
            names: &self.names,
            uid,
            min_age_secs: if self.list_young { 0 } else { threshold_secs },
        })?;
        if let (Some(users), false) = (&self.users, self.all_users) {
            scan.processes.retain(|p| users.contains(&p.uid));
        }
        Ok(scan)
    }

    /// Whether processes of users other than the caller may be considered.
    fn other_users(&self) -> bool {
        let me = rustix::process::geteuid().as_raw();
        self.all_users
            || self
                .users
                .as_ref()
                .is_some_and(|u| u.iter().any(|&u| u != me))
    }

    /// Whether any scanned process may be reaped: stale before the socket lookup, or
    /// young with a replaced executable (the lookup tells whether it is a daemon).
    pub(crate) fn any_stale(&self, scan: &Scan) -> bool {
        let threshold_secs = self.threshold.as_secs();
        scan.processes
            .iter()
            .any(|p| may_be_stale(p, verdict(p, threshold_secs, &scan.ancestors)))
    }

    pub(crate) fn finish(&self, source: &dyn Source, mut scan: Scan) -> Report {
        let threshold_secs = self.threshold.as_secs();
        let mut verdicts: Vec<Verdict> = scan
            .processes
            .iter()
            .map(|p| verdict(p, threshold_secs, &scan.ancestors))
            .collect();
        let live = self.find_serving(&mut scan, &mut verdicts, threshold_secs);
        let targets: Vec<(u32, u64)> = scan
            .processes
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v == Verdict::Stale)
            .map(|(p, _)| (p.pid, p.start))
            .collect();
        // Before any signal: what each stale process holds that ending it frees.
        let private: Vec<Option<u64>> = scan
            .processes
            .iter()
            .zip(&verdicts)
            .map(|(p, v)| (*v == Verdict::Stale).then(|| source.private_bytes(p.pid))?)
            .collect();
        let mut fates =
            if self.dry_run || targets.is_empty() {
                Vec::new()
            } else {
                // The live daemons' files, which a stale duplicate may delete as it exits.
                let guarded: Vec<PathBuf> =
                    live.into_iter()
                        .filter(|path| {
                            !scan.processes.iter().zip(&verdicts).any(|(p, v)| {
                                *v == Verdict::Stale && p.serving.as_ref() == Some(path)
                            })
                        })
                        .collect();
                let pids: Vec<u32> = targets.iter().map(|t| t.0).collect();
                let spares = spare::keep(&guarded, &pids, Instant::now() + socket::BUDGET);
                let fates = reap::reap(source, &targets, self.grace, &self.watch);
                spares.restore(Instant::now() + socket::BUDGET);
                fates
            }
            .into_iter();

        let mut report = self.report();
        report.left_out = scan.left_out;
        for ((p, v), private_bytes) in scan.processes.into_iter().zip(verdicts).zip(private) {
            let trigger = (v == Verdict::Stale).then(|| trigger(&p).as_str().to_owned());
            let (outcome, reason) = match v {
                Verdict::Keep(why) => (Outcome::Skipped, Some(why.as_str().to_owned())),
                Verdict::Stale if self.dry_run => match may_signal(p.pid) {
                    true => (Outcome::WouldReap, None),
                    false => (Outcome::WouldFail, Some(NOT_PERMITTED.to_owned())),
                },
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
                parent_name: p.parent_name,
                socket: p.serving.or(p.sockets.superseded),
            });
        }
        report
    }

    /// Look up, for the processes that are stale or young, which daemon socket they
    /// serve or were superseded on and whether they listen at all, and decide those
    /// again. Nothing is looked up when no process is stale or young. Returns the
    /// sockets whose path leads to a live listener.
    fn find_serving(
        &self,
        scan: &mut Scan,
        verdicts: &mut [Verdict],
        threshold_secs: u64,
    ) -> Vec<PathBuf> {
        let asked: Vec<usize> = (0..verdicts.len())
            .filter(|&i| needs_lookup(verdicts[i]))
            .collect();
        if asked.is_empty() {
            return Vec::new();
        }
        let candidates: Vec<socket::Candidate> = asked
            .iter()
            .map(|&i| {
                let p = &scan.processes[i];
                socket::Candidate {
                    pid: p.pid,
                    uid: p.uid,
                    replaced: p.replaced,
                    young: verdicts[i] != Verdict::Stale,
                }
            })
            .collect();
        let mut owners: Vec<u32> = candidates.iter().map(|c| c.uid).collect();
        owners.sort_unstable();
        owners.dedup();
        let (sockets, homeless) = self.socket_list(&owners);
        let lookup = socket::lookup(&sockets, &homeless, &candidates);
        for (&i, found) in asked.iter().zip(lookup.found) {
            let p = &mut scan.processes[i];
            p.serving = found.serving.map(|s| sockets[s].path.clone());
            p.sockets.superseded = found.superseded.map(|s| sockets[s].path.clone());
            p.sockets.listens = found.listens;
            p.sockets.serving_unknown = found.unknown;
            verdicts[i] = verdict(p, threshold_secs, &scan.ancestors);
        }
        sockets
            .into_iter()
            .zip(lookup.live)
            .filter(|(_, live)| *live == Some(true))
            .map(|(s, _)| s.path)
            .collect()
    }

    /// The report of a run that was turned off (`PATINA_REAP_THRESHOLD=off`).
    pub fn disabled_report(&self) -> Report {
        let mut report = self.report();
        report.disabled = true;
        report.threshold_secs = None;
        report
    }
}

impl Reaper {
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

/// The reason of a dry run's `would_fail`.
const NOT_PERMITTED: &str =
    "not permitted (EPERM): signalling another user's process needs root or CAP_KILL";

/// Whether this caller may signal `pid`, as the kernel judges it for signal 0, which is
/// never delivered. Only EPERM says no: a process gone since the scan (ESRCH) would be
/// reported vanished by a real run, not failed.
fn may_signal(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return true;
    };
    rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::PERM)
}

/// The home directory of `uid` in `/etc/passwd`; `None` if it is not listed there.
/// Users that only NSS knows (LDAP, SSSD, systemd-homed) are not in that file, and a
/// lookup through NSS could block on the network in the preflight: unless a
/// [`Reaper::home_lookup`] finds them (the CLI's does), their default socket is unknown,
/// and a process of theirs that listens on a socket, or may, is kept
/// (`unknown-serving`).
fn home_of(uid: u32) -> Option<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[2].parse() == Ok(uid) && fields[5].starts_with('/'))
            .then(|| PathBuf::from(fields[5]))
    })
}
