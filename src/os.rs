//! What the tool sets up in its own process before reaping: descriptors and signal handlers.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// On SIGINT or SIGTERM, set `flag`: the library then sends no further signal, stops
/// waiting and reports what became of each process so far. A second one ends the tool
/// at once, with status 130.
pub(crate) fn catch_interrupts(flag: &Arc<AtomicBool>) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so that it sees the flag as the previous signal left it.
        let _ = flag::register_conditional_shutdown(signal, 130, Arc::clone(flag));
        let _ = flag::register(signal, Arc::clone(flag));
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
