//! macOS and the BSDs: no PID namespaces, and what `/proc` tells is not to be had
//! without unsafe code.

use std::path::PathBuf;

/// There are no PID namespaces.
pub(crate) fn pid_namespace() -> Option<u64> {
    None
}

/// There are no PID namespaces: this is the only one.
pub(crate) fn in_initial_pid_namespace() -> bool {
    true
}

/// Not known here.
pub(crate) fn executable_of(_pid: u32) -> Option<PathBuf> {
    None
}

/// Not known here: nobody counts as stopped.
pub(crate) fn is_stopped(_pid: u32) -> bool {
    false
}
