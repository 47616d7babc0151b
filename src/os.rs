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
