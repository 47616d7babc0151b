//! What the tool sets up in its own process before reaping: descriptors and signal handlers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::exit_codes::ExitCode;

/// On SIGINT or SIGTERM, set `flag`: the library then sends no further signal, stops
/// waiting and reports what became of each process so far. The signal's number goes to
/// `which`, for the exit status. A second one ends the tool at once, with 128 + its
/// number, as a shell reports a command the signal ended.
pub(crate) fn catch_interrupts(flag: &Arc<AtomicBool>, which: &Arc<AtomicUsize>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so that it sees the flag as the previous signal left it.
        let _ = flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(flag));
        let _ = flag::register_usize(signal, Arc::clone(which), signal as usize);
        let _ = flag::register(signal, Arc::clone(flag));
    }
}

/// The exit status after an interrupt: 143 for SIGTERM, 130 (Ctrl-C) otherwise.
pub(crate) fn interrupted_status(which: &AtomicUsize) -> ExitCode {
    if which.load(Ordering::SeqCst) == signal_hook::consts::SIGTERM as usize {
        ExitCode::Terminated
    } else {
        ExitCode::Interrupted
    }
}

/// Reaping hundreds of processes holds one pidfd each: lift the soft descriptor limit
/// to the hard one (the library also copes in batches when it cannot).
pub(crate) fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
}

/// Whether stdout was closed when the tool started (`patina-reap >&-`). Before `main`,
/// the Rust runtime puts /dev/null, opened read-write, in place of a closed 0, 1 or 2,
/// so that writing the report would succeed and lose it. A shell's `>/dev/null` opens
/// it write-only. daemon(3) leaves one read-write /dev/null on all three descriptors:
/// that is a report sent to /dev/null on purpose, not a closed stdout (and `<&- >&-
/// 2>&-` cannot be told from it).
pub(crate) fn stdout_was_closed() -> bool {
    use std::os::fd::{AsFd, BorrowedFd};
    let Ok(null) = rustix::fs::stat("/dev/null") else {
        return false;
    };
    let read_write_null = |fd: BorrowedFd<'_>| {
        let device = rustix::fs::fstat(fd).is_ok_and(|st| st.st_rdev == null.st_rdev);
        let flags = rustix::fs::fcntl_getfl(fd).unwrap_or(rustix::fs::OFlags::empty());
        null.st_rdev != 0
            && device
            && flags & rustix::fs::OFlags::RWMODE == rustix::fs::OFlags::RDWR
    };
    read_write_null(std::io::stdout().as_fd())
        && !(read_write_null(std::io::stdin().as_fd())
            && read_write_null(std::io::stderr().as_fd()))
}
