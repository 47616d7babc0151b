//! Which matched processes serve a daemon socket, found without disturbing them and
//! without trusting anything a user controls.
//!
//! Linux: from the process itself. Each candidate's descriptor table names the sockets
//! it holds, and the kernel's socket diagnostics (`NETLINK_SOCK_DIAG`, asked about those
//! sockets by inode: the cost grows with the candidates, not with the machine's
//! sockets) give each one's state, the path it was bound with, the file it is bound to,
//! its creator and its peer. A listener bound under a daemon socket's name
//! (`*/.patina/run/serve.sock`, or a configured path) is judged in the candidate's own
//! mount namespace: its name is resolved under the candidate's root, one component at a
//! time and without following a symlink that anyone but root (or the caller) could have
//! made, and the socket file there, owned by the candidate's user, is compared with the
//! listener's bound file. The same file: the candidate serves it, whoever called
//! listen(). Another file that the kernel lists as the bound file of a live listener of
//! the same user: the candidate is superseded, nobody can reach it. Nothing is ever
//! connected to. A connection a daemon listener accepted whose peer is still there is
//! use (`connected`). Whatever cannot be judged (a name that does not resolve safely or
//! in time, a descriptor table that cannot be read to its end, no diagnostics or
//! another network namespace, where sockets are known by name only from
//! `/proc/PID/net/unix`) leaves what may serve kept (`unknown-serving`). `HOME` and the
//! user database play no part.
//!
//! Elsewhere the listener cannot be told without unsafe code: the caller's own default
//! socket (`$HOME/.patina/run/serve.sock`) or the configured paths are checked, a socket
//! file owned by the caller that accepts one connection having a live listener, and then
//! every candidate of the caller counts as serving it; another user's candidates may
//! serve a socket that cannot be known, and are kept when old.
//!
//! Every lookup of a path runs on one of a few threads within the budget: a path on a
//! network file system that no longer answers leaves what may serve on it kept, and the
//! run goes on.

#[cfg(target_os = "linux")]
mod diag;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(target_os = "linux")]
use linux as imp;
#[cfg(not(target_os = "linux"))]
use other as imp;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::scan::SocketFacts;

/// The most all socket lookups of a command's run may take; past it, what is left
/// unchecked counts as possibly serving (`unknown-serving`, fail closed). Reading a
/// descriptor table costs about 6 µs a descriptor: six duplicates holding 19,000
/// descriptors each take 0.6 s on a 2-core machine. The preflight's share of its bound
/// is [`PREFLIGHT_BUDGET`].
pub(crate) const BUDGET: Duration = Duration::from_secs(2);

/// The most the preflight's socket lookups may take.
pub(crate) const PREFLIGHT_BUDGET: Duration = Duration::from_millis(100);

/// The end of the default daemon socket's path: `~/.patina/run/serve.sock`.
pub(crate) const DEFAULT_SOCKET_TAIL: &str = "/.patina/run/serve.sock";

/// Which bound names are daemon sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Daemons {
    /// Any absolute path ending in [`DEFAULT_SOCKET_TAIL`], whoever's home it is in.
    Default,
    /// Exactly these absolute paths (none at all for an empty list).
    Paths(Vec<PathBuf>),
}

impl Daemons {
    /// Whether a listener bound with `name` is a daemon socket.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        use std::os::unix::ffi::OsStrExt;
        match self {
            Self::Default => {
                name.first() == Some(&b'/') && name.ends_with(DEFAULT_SOCKET_TAIL.as_bytes())
            }
            Self::Paths(paths) => paths.iter().any(|p| p.as_os_str().as_bytes() == name),
        }
    }
}

/// A process to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
    /// Its executable was replaced: whether it listens at all matters when it is young.
    pub(crate) replaced: bool,
    /// Younger than the threshold: only a superseded socket (or, replaced, any listening
    /// one) can make it stale.
    pub(crate) young: bool,
}

/// Look up, for each candidate, whether it serves a daemon socket, is superseded on
/// one, is in use through one, or listens at all; all of it by `deadline`.
pub(crate) fn lookup(
    daemons: &Daemons,
    candidates: &[Candidate],
    deadline: Instant,
) -> Vec<SocketFacts> {
    if candidates.is_empty() {
        return Vec::new();
    }
    imp::lookup(daemons, candidates, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_socket_names_are_told_by_their_tail_or_exactly() {
        let default = Daemons::Default;
        assert!(default.matches(b"/home/u/.patina/run/serve.sock"));
        assert!(default.matches(b"/var/home/u/.patina/run/serve.sock"));
        assert!(!default.matches(b".patina/run/serve.sock"));
        assert!(!default.matches(b"/home/u/.patina/run/serve.sock.old"));
        assert!(!default.matches(b"/home/u/patina/run/serve.sock"));
        let paths = Daemons::Paths(vec!["/run/a.sock".into()]);
        assert!(paths.matches(b"/run/a.sock"));
        assert!(!paths.matches(b"/run/a.sock/"));
        assert!(!paths.matches(b"/home/u/.patina/run/serve.sock"));
        assert!(!Daemons::Paths(Vec::new()).matches(b"/run/a.sock"));
    }
}
