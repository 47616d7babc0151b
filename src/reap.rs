//! Signalling: SIGTERM to every stale process at once, a grace period, SIGKILL for the
//! survivors, then confirmation that they are gone.
//!
//! Each process is identified by (pid, start time). On Linux a pidfd pins the process
//! before its start time is checked again, so a reused PID is never signalled; elsewhere,
//! and where pidfds cannot be used (a kernel without them, or a sandbox that refuses them
//! with EPERM where kill(2) is allowed), the start time is checked right before each
//! kill(2).

use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, Signal};

use crate::duration::deadline_after;
use crate::report::{Failure, Signal as Sent};
use crate::scan::Source;
use crate::watch::{Progress, Watch};

/// How long SIGKILL gets to take effect before a process counts as failed.
const CONFIRM: Duration = Duration::from_secs(1);

/// How long a reap waits: between SIGTERM and SIGKILL, and for SIGKILL to take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) grace: Duration,
    pub(crate) confirm: Duration,
}

impl Timing {
    /// `grace`, and a second for SIGKILL to take effect.
    pub(crate) fn with_grace(grace: Duration) -> Self {
        Self {
            grace,
            confirm: CONFIRM,
        }
    }
}
/// How soon an interrupt is seen during a wait.
const INTERRUPT_CHECK: Duration = Duration::from_millis(250);

/// What became of one process this run tried to reap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Terminated,
    Killed,
    Vanished,
    Failed(Failure),
}

/// A stale process to reap: (pid, start time in the backend's unit).
pub(crate) type Target = (u32, u64);

/// Reap `targets`, those marked in `at_once` with SIGKILL straight away; the result
/// has one fate per target, in order. Once `watch` is interrupted no further signal is
/// sent and no wait goes on.
pub(crate) fn reap(
    source: &dyn Source,
    targets: &[Target],
    at_once: &[bool],
    timing: Timing,
    watch: &Watch,
) -> Vec<Fate> {
    let all: Vec<usize> = (0..targets.len()).collect();
    let in_order = |fates: Vec<(usize, Fate)>| {
        let mut ordered = vec![Fate::Vanished; targets.len()];
        for (i, fate) in fates {
            ordered[i] = fate;
        }
        ordered
    };
    #[cfg(target_os = "linux")]
    if source.supports_pidfd() {
        let pinned = pidfd::Pinned::new(source, targets);
        return in_order(escalate(&pinned, &all, at_once, timing, watch));
    }
    let checked = CheckedKillTargets::new(source, targets);
    in_order(escalate(&checked, &all, at_once, timing, watch))
}

/// A set of processes that can be signalled and waited for, by index.
trait Signaller {
    /// Send `sig` to process `i`; `Err(SRCH)` when it is no longer there.
    fn signal(&self, i: usize, sig: Signal) -> Result<(), Errno>;
    /// Wait until each of `pending` has exited or `deadline` passes; return those still
    /// running.
    fn wait(&self, pending: Vec<usize>, deadline: Instant) -> Vec<usize>;
}

/// SIGKILL those of `indices` marked in `at_once`, SIGTERM the others, wait up to
/// `grace`, SIGKILL the survivors, confirm. After an interrupt nothing more is
/// signalled: who is still running is reported failed.
fn escalate(
    s: &dyn Signaller,
    indices: &[usize],
    at_once: &[bool],
    timing: Timing,
    watch: &Watch,
) -> Vec<(usize, Fate)> {
    if watch.interrupted() {
        let why = || Fate::Failed(Failure::InterruptedBeforeAnySignal);
        return indices.iter().map(|&i| (i, why())).collect();
    }
    let mut fates = Vec::with_capacity(indices.len());
    let mut killed = Vec::new();
    // First the SIGKILLs, then the SIGTERMs: each step checks every target once.
    for &i in indices.iter().filter(|&&i| at_once[i]) {
        match s.signal(i, Signal::KILL) {
            Ok(()) => killed.push(i),
            Err(Errno::SRCH) => fates.push((i, Fate::Vanished)),
            Err(e) => fates.push((i, Fate::Failed(describe(e, Sent::Kill)))),
        }
    }
    let mut pending = Vec::new();
    for &i in indices.iter().filter(|&&i| !at_once[i]) {
        match s.signal(i, Signal::TERM) {
            Ok(()) => pending.push(i),
            // ESRCH: gone before our first signal, say a second reaper got there first.
            Err(Errno::SRCH) => fates.push((i, Fate::Vanished)),
            Err(e) => fates.push((i, Fate::Failed(describe(e, Sent::Term)))),
        }
    }
    let survivors = wait_for_exit(s, pending.clone(), timing.grace, Sent::Term, watch);
    let interrupted = watch.interrupted();
    for i in pending {
        if !survivors.contains(&i) {
            fates.push((i, Fate::Terminated));
            continue;
        }
        if interrupted {
            fates.push((i, Fate::Failed(Failure::InterruptedAfterSigterm)));
            continue;
        }
        match s.signal(i, Signal::KILL) {
            Ok(()) => killed.push(i),
            // It exited between the end of the grace period and SIGKILL.
            Err(Errno::SRCH) => fates.push((i, Fate::Terminated)),
            Err(e) => fates.push((i, Fate::Failed(describe(e, Sent::Kill)))),
        }
    }
    let stuck = wait_for_exit(s, killed.clone(), timing.confirm, Sent::Kill, watch);
    for i in killed {
        let fate = if stuck.contains(&i) && watch.interrupted() {
            Fate::Failed(Failure::InterruptedAfterSigkill)
        } else if stuck.contains(&i) {
            Fate::Failed(Failure::StillRunningAfterSigkill(timing.confirm))
        } else {
            Fate::Killed
        };
        fates.push((i, fate));
    }
    fates
}

/// Wait up to `limit` for `pending`, sent `signal`, to exit; return those still running.
/// The caller hears of the wait; one that can interrupt has it cut into short slices,
/// so that an interrupt ends it within [`INTERRUPT_CHECK`].
fn wait_for_exit(
    s: &dyn Signaller,
    mut pending: Vec<usize>,
    limit: Duration,
    signal: Sent,
    watch: &Watch,
) -> Vec<usize> {
    if pending.is_empty() {
        return pending;
    }
    watch.report(Progress::WaitingForExit {
        count: pending.len(),
        signal,
        up_to: limit,
    });
    let deadline = deadline_after(limit);
    loop {
        let slice = if watch.can_interrupt() {
            deadline.min(Instant::now() + INTERRUPT_CHECK)
        } else {
            deadline
        };
        pending = s.wait(pending, slice);
        if pending.is_empty() || slice >= deadline || watch.interrupted() {
            break;
        }
    }
    watch.report(Progress::DoneWaiting);
    pending
}

fn describe(e: Errno, signal: Sent) -> Failure {
    match e {
        // Only kill(2)'s own EPERM gets here (a refused pidfd call falls back to it): the
        // kernel does not let this caller signal the process, as a dry run would say.
        Errno::PERM => Failure::NotPermitted,
        e => Failure::Signal {
            signal,
            errno: e.raw_os_error(),
        },
    }
}

/// Whether this caller may signal `pid`, as the kernel judges it for signal 0, which is
/// never delivered. Only EPERM says no: a process gone since the scan (ESRCH) would be
/// reported vanished by a real run, not failed.
pub(crate) fn may_signal(pid: u32) -> bool {
    let Ok(pid) = pid_of(pid) else {
        return true;
    };
    rustix::process::test_kill_process(pid) != Err(Errno::PERM)
}

fn pid_of(raw: u32) -> Result<Pid, Errno> {
    i32::try_from(raw)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(Errno::SRCH)
}

/// The portable way: check the start time right before each kill(2), and poll for exit.
struct KillTargets<'a> {
    source: &'a dyn Source,
    targets: &'a [Target],
}

impl Signaller for KillTargets<'_> {
    fn signal(&self, i: usize, sig: Signal) -> Result<(), Errno> {
        let (pid, start) = self.targets[i];
        match self.source.is_same_live(pid, start) {
            Ok(true) => rustix::process::kill_process(pid_of(pid)?, sig),
            Ok(false) => Err(Errno::SRCH),
            // Not known to be the same process: not signalled, and not reported gone.
            Err(e) => Err(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
        }
    }

    fn wait(&self, mut pending: Vec<usize>, deadline: Instant) -> Vec<usize> {
        let mut pause = Duration::from_millis(1);
        // The cheap check may take a zombie (exited, not yet collected by its parent)
        // for running: ask exactly now and then, at 100 ms, 200 ms, 400 ms... and at
        // the deadline, so that such a process does not hold the run for the whole wait.
        let mut exact_every = Duration::from_millis(100);
        let mut next_exact = Instant::now() + exact_every;
        loop {
            pending.retain(|&i| {
                let (pid, start) = self.targets[i];
                !self.source.has_exited(pid, start)
            });
            let now = Instant::now();
            if !pending.is_empty() && (now >= next_exact || now >= deadline) {
                let left: Vec<Target> = pending.iter().map(|&i| self.targets[i]).collect();
                let running = self.source.still_running(&left);
                pending = pending
                    .into_iter()
                    .zip(running)
                    .filter_map(|(i, running)| running.then_some(i))
                    .collect();
                exact_every *= 2;
                next_exact = now + exact_every;
            }
            if pending.is_empty() || now >= deadline {
                return pending;
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// [`KillTargets`] with one identity check of every target per signal step (one `ps`
/// run for all, not one per process), made when the step sends its first signal.
struct CheckedKillTargets<'a> {
    inner: KillTargets<'a>,
    /// The step the checks were made for, and their results by index.
    checked: std::cell::RefCell<Option<(Signal, Checks)>>,
}

/// One identity check per target: still the scanned process, or why it is not known.
type Checks = Vec<Result<bool, Errno>>;

impl<'a> CheckedKillTargets<'a> {
    fn new(source: &'a dyn Source, targets: &'a [Target]) -> Self {
        Self {
            inner: KillTargets { source, targets },
            checked: std::cell::RefCell::new(None),
        }
    }
}

impl Signaller for CheckedKillTargets<'_> {
    fn signal(&self, i: usize, sig: Signal) -> Result<(), Errno> {
        let mut checked = self.checked.borrow_mut();
        if !matches!(&*checked, Some((step, _)) if *step == sig) {
            let results = self
                .inner
                .source
                .are_same_live(self.inner.targets)
                .into_iter()
                .map(|r| r.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO)))
                .collect();
            *checked = Some((sig, results));
        }
        let same = checked
            .as_ref()
            .and_then(|(_, results)| results.get(i).cloned())
            .unwrap_or(Err(Errno::IO));
        match same {
            Ok(true) => rustix::process::kill_process(pid_of(self.inner.targets[i].0)?, sig),
            Ok(false) => Err(Errno::SRCH),
            // Not known to be the same process: not signalled, and not reported gone.
            Err(e) => Err(e),
        }
    }

    fn wait(&self, pending: Vec<usize>, deadline: Instant) -> Vec<usize> {
        self.inner.wait(pending, deadline)
    }
}

#[cfg(target_os = "linux")]
mod pidfd;
