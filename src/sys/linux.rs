//! Linux: `/proc`.

use std::path::PathBuf;
use std::sync::OnceLock;

/// `PROC_PID_INIT_INO`: the inode of the initial PID namespace, fixed since Linux 3.8.
const INITIAL_PID_NS: u64 = 0xEFFF_FFFC;

/// The inode of this process's PID namespace, read once; `None` if it cannot be read.
pub(crate) fn pid_namespace() -> Option<u64> {
    static NS: OnceLock<Option<u64>> = OnceLock::new();
    *NS.get_or_init(|| {
        rustix::fs::stat("/proc/self/ns/pid")
            .ok()
            .map(|st| st.st_ino)
    })
}

/// Whether this process is in the initial PID namespace (where there are none, it is);
/// `false` where that cannot be read.
pub(crate) fn in_initial_pid_namespace() -> bool {
    pid_namespace() == Some(INITIAL_PID_NS)
}

/// The path of `pid`'s executable, as a path to watch for an upgrade.
pub(crate) fn executable_of(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Whether `pid` is stopped (state `T` or `t`: Ctrl-Z, a debugger).
pub(crate) fn is_stopped(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        crate::scan::proc::parse_stat(&stat).is_some_and(|s| matches!(s.state, b'T' | b't'))
    })
}
