//! Linux: each target pinned by a pidfd before its start time is checked again, and
//! signalled and waited for through it.

use std::cell::RefCell;

use super::*;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::OwnedFd;
use rustix::process::{pidfd_open, pidfd_send_signal, PidfdFlags};
use rustix::time::Timespec;

fn is_out_of_descriptors(e: Errno) -> bool {
    matches!(e, Errno::MFILE | Errno::NFILE)
}

/// The targets, each with the pidfd it is held by, if any. They are escalated
/// together, whatever the descriptor limit: SIGTERM goes to
/// every one first and the grace period is waited once. Each process is pinned by a
/// pidfd before its start time is checked; a pidfd is kept for the wait while
/// descriptors last, and where they run out one is closed after its signal and that
/// process is waited for by its (pid, start time), and pinned and checked again
/// before SIGKILL. Where pidfds cannot be used, the portable way is taken: a kernel
/// without them (ENOSYS), or a sandbox whose seccomp profile predates them and refuses
/// them with EPERM while kill(2) may signal the process.
pub(super) struct Pinned<'a> {
    source: &'a dyn Source,
    targets: &'a [Target],
    /// Set once a pidfd call was refused here: every later signal goes by kill(2).
    refused: std::cell::Cell<bool>,
    fds: RefCell<Vec<Option<OwnedFd>>>,
    /// Targets holding a pidfd, oldest first: the newest gives its up when
    /// descriptors run out.
    held: RefCell<Vec<usize>>,
}

impl<'a> Pinned<'a> {
    pub(super) fn new(source: &'a dyn Source, targets: &'a [Target]) -> Self {
        Self {
            source,
            targets,
            refused: std::cell::Cell::new(false),
            fds: RefCell::new(targets.iter().map(|_| None).collect()),
            held: RefCell::new(Vec::new()),
        }
    }

    /// Close the pidfd of the newest holder other than `except`; false if none.
    fn release_one(&self, except: usize) -> bool {
        let mut held = self.held.borrow_mut();
        let Some(pos) = held.iter().rposition(|&j| j != except) else {
            return false;
        };
        let j = held.remove(pos);
        self.fds.borrow_mut()[j] = None;
        true
    }

    /// Pin target `i` with a new pidfd and check that it is still the process
    /// scanned; `Err(SRCH)` if it is not.
    fn pin(&self, i: usize) -> Result<OwnedFd, Errno> {
        let (pid, start) = self.targets[i];
        loop {
            let fd = match pid_of(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty())) {
                Ok(fd) => fd,
                Err(e) if is_out_of_descriptors(e) && self.release_one(i) => continue,
                Err(e) => return Err(e),
            };
            // The pidfd pins whatever process has this pid now; only if that is
            // still the one scanned (same start time) may it be signalled.
            match self.source.is_same_live(pid, start) {
                Ok(true) => return Ok(fd),
                Ok(false) => return Err(Errno::SRCH),
                Err(e) => {
                    let e = Errno::from_io_error(&e).unwrap_or(Errno::IO);
                    drop(fd);
                    if !(is_out_of_descriptors(e) && self.release_one(i)) {
                        // Not known to be the same process: neither signalled nor
                        // reported gone.
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Signal target `i` by kill(2), its start time checked right before.
    fn by_kill(&self, i: usize, sig: Signal) -> Result<(), Errno> {
        KillTargets {
            source: self.source,
            targets: self.targets,
        }
        .signal(i, sig)
    }

    /// `result`, a pidfd call's for target `i`; where pidfds cannot be used here, `sig`
    /// sent by kill(2) instead. ENOSYS: a kernel without them, or a sandbox that says
    /// so. EPERM where kill(2) may signal the process: a sandbox that refuses them
    /// (pidfd_open itself checks no permission). EPERM where kill(2) may not is the
    /// kernel's answer, and stands.
    fn or_by_kill(&self, i: usize, sig: Signal, result: Result<(), Errno>) -> Result<(), Errno> {
        match result {
            Err(Errno::NOSYS) => {}
            Err(Errno::PERM) if may_signal(self.targets[i].0) => {}
            other => return other,
        }
        self.refused.set(true);
        self.by_kill(i, sig)
    }
}

impl Signaller for Pinned<'_> {
    fn signal(&self, i: usize, sig: Signal) -> Result<(), Errno> {
        if self.refused.get() {
            return self.by_kill(i, sig);
        }
        if let Some(fd) = &self.fds.borrow()[i] {
            let sent = pidfd_send_signal(fd, sig);
            return self.or_by_kill(i, sig, sent);
        }
        let fd = match self.pin(i) {
            Ok(fd) => fd,
            // Not one descriptor left for a pidfd: the start time is checked right
            // before kill(2) instead.
            Err(e) if is_out_of_descriptors(e) => return self.by_kill(i, sig),
            Err(e) => return self.or_by_kill(i, sig, Err(e)),
        };
        let sent = pidfd_send_signal(&fd, sig);
        self.or_by_kill(i, sig, sent)?;
        // Kept for the wait whichever way the signal went: a pidfd is polled, not
        // signalled through, there.
        self.fds.borrow_mut()[i] = Some(fd);
        self.held.borrow_mut().push(i);
        Ok(())
    }

    fn wait(&self, mut pending: Vec<usize>, deadline: Instant) -> Vec<usize> {
        // Those without a pidfd are checked by (pid, start), which takes a
        // descriptor: keep two free.
        if pending.iter().any(|&i| self.fds.borrow()[i].is_none()) {
            self.release_one(usize::MAX);
            self.release_one(usize::MAX);
        }
        let mut pause = Duration::from_millis(1);
        loop {
            let fds = self.fds.borrow();
            pending.retain(|&i| match &fds[i] {
                Some(_) => true,
                None => {
                    let (pid, start) = self.targets[i];
                    !self.source.has_exited(pid, start)
                }
            });
            let now = Instant::now();
            if pending.is_empty() || now >= deadline {
                return pending;
            }
            let polled: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|&i| fds[i].is_some())
                .collect();
            let mut left = (deadline - now).min(Duration::from_secs(3600));
            if polled.len() < pending.len() {
                left = left.min(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            let timeout = Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            let mut polls: Vec<PollFd<'_>> = polled
                .iter()
                .filter_map(|&i| fds[i].as_ref())
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            match poll(&mut polls, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                // Cannot wait (should not happen): treat the rest as still running.
                Err(_) => return pending,
            }
            // A pidfd is readable once its process has exited.
            let exited: Vec<usize> = polled
                .iter()
                .zip(&polls)
                .filter(|(_, p)| !p.revents().is_empty())
                .map(|(&i, _)| i)
                .collect();
            pending.retain(|i| !exited.contains(i));
        }
    }
}
