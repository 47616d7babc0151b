//! The socket lookup where the listener of a socket cannot be named (macOS, the BSDs):
//! a socket file owned by the caller that takes one connection has a live listener, and
//! then every candidate of the caller counts as serving it.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::time::Instant;

use super::{Candidate, Daemons, DEFAULT_SOCKET_TAIL};
use crate::scan::SocketFacts;

pub(super) fn lookup(
    daemons: &Daemons,
    candidates: &[Candidate],
    deadline: Instant,
) -> Vec<SocketFacts> {
    let me = rustix::process::geteuid().as_raw();
    // The caller's own sockets: its configured paths, or its default one under $HOME.
    let (paths, known) = match daemons {
        Daemons::Paths(paths) => (paths.clone(), true),
        Daemons::Default => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => {
                let tail = DEFAULT_SOCKET_TAIL.trim_start_matches('/');
                (vec![PathBuf::from(home).join(tail)], true)
            }
            None => (Vec::new(), false),
        },
    };
    let live = crate::sys::bounded_each(paths.clone(), deadline, move |p| live(&p, me));
    let serving = paths
        .iter()
        .zip(&live)
        .find(|(_, l)| **l == Some(true))
        .map(|(p, _)| p.clone());
    let unanswered = live.iter().any(Option::is_none);
    candidates
        .iter()
        .map(|c| {
            if c.uid != me {
                // Another user's daemon socket cannot be known here: it may serve.
                return SocketFacts {
                    serving_unknown: !c.young,
                    ..SocketFacts::default()
                };
            }
            SocketFacts {
                serving: serving.clone(),
                serving_unknown: serving.is_none() && (unanswered || !known) && !c.young,
                ..SocketFacts::default()
            }
        })
        .collect()
}

/// Whether a listener of `user` is at `path`: the socket file is the user's (not
/// through a final symlink), every directory on the way to it, symlinks resolved, is
/// the user's or root's (so that nobody else can have redirected the path: root whose
/// `HOME` is another user's, as `sudo` may leave it, connects to nothing of theirs), and
/// it takes one connection, closed at once, through that resolved path.
fn live(path: &std::path::Path, user: u32) -> bool {
    let (Some(parent), Some(file)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let Ok(parent) = std::fs::canonicalize(parent) else {
        return false;
    };
    let trusted =
        |p: &std::path::Path| std::fs::metadata(p).is_ok_and(|m| m.uid() == user || m.uid() == 0);
    if !parent.ancestors().all(trusted) {
        return false;
    }
    let path = parent.join(file);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return false;
    };
    meta.file_type().is_socket()
        && meta.uid() == user
        && std::os::unix::net::UnixStream::connect(&path).is_ok()
}
