//! Which matched processes listen on a daemon socket, found without disturbing them.
//!
//! Linux: passive and exact. `/proc/net/unix` gives the inode of every listening socket
//! bound at the path, and a candidate serves when one of its descriptors
//! (`/proc/PID/fd/*`) is that socket. No connection is made.
//!
//! Elsewhere the listener cannot be told without unsafe code: a socket file owned by the
//! socket's user that accepts one connection (closed at once, nothing sent) has a live
//! listener, and then every candidate of that user counts as serving it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most all socket lookups of one run may take; past it, what is left unchecked
/// counts as serving (fail closed).
pub(crate) const BUDGET: Duration = Duration::from_millis(100);

/// A daemon socket and the user whose listener on it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Socket {
    pub(crate) path: PathBuf,
    pub(crate) user: u32,
}

/// The daemon socket of `user` whose home is `home`: `HOME/.patina/run/serve.sock`.
pub(crate) fn default_socket(home: &Path, user: u32) -> Socket {
    Socket {
        path: home.join(".patina/run/serve.sock"),
        user,
    }
}

/// For each candidate `(pid, uid)`, the index in `sockets` of the socket it serves, if
/// any. A socket counts for a candidate only when the candidate's uid is its user.
pub(crate) fn serving(sockets: &[Socket], candidates: &[(u32, u32)]) -> Vec<Option<usize>> {
    if sockets.is_empty() || candidates.is_empty() {
        return vec![None; candidates.len()];
    }
    imp::serving(sockets, candidates, Instant::now() + BUDGET)
}

/// The path as given and, where it differs, with its directory resolved: the daemon may
/// have bound it through another spelling of the same directory.
#[cfg(target_os = "linux")]
fn spellings(path: &Path) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = vec![path.as_os_str().as_bytes().to_vec()];
    if let (Some(dir), Some(file)) = (path.parent(), path.file_name()) {
        if let Ok(real) = std::fs::canonicalize(dir) {
            let real = real.join(file).as_os_str().as_bytes().to_vec();
            if real != out[0] {
                out.push(real);
            }
        }
    }
    out
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{spellings, Socket};
    use std::time::Instant;

    /// `__SO_ACCEPTCON` in the Flags column: a listening socket.
    const ACCEPTCON: u32 = 0x10000;

    /// One line of `/proc/net/unix`: the inode of a listening socket and its path.
    /// `Num RefCount Protocol Flags Type St Inode Path`.
    pub(crate) fn parse_listener(line: &[u8]) -> Option<(u64, &[u8])> {
        let mut rest = line;
        let mut field = || {
            while rest.first() == Some(&b' ') {
                rest = &rest[1..];
            }
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            let (word, tail) = rest.split_at(end);
            rest = tail;
            Some(word).filter(|w| !w.is_empty())
        };
        let _num = field()?;
        let _refs = field()?;
        let _proto = field()?;
        let flags = u32::from_str_radix(std::str::from_utf8(field()?).ok()?, 16).ok()?;
        let _type = field()?;
        let _state = field()?;
        let inode = std::str::from_utf8(field()?).ok()?.parse().ok()?;
        let path = rest.strip_prefix(b" ")?;
        (flags & ACCEPTCON != 0 && !path.is_empty()).then_some((inode, path))
    }

    /// The inodes of the listening sockets bound at each socket's path; `None` when the
    /// table cannot be read.
    fn listening(sockets: &[Socket]) -> Option<Vec<Vec<u64>>> {
        let table = std::fs::read("/proc/net/unix").ok()?;
        let names: Vec<Vec<Vec<u8>>> = sockets.iter().map(|s| spellings(&s.path)).collect();
        let mut inodes = vec![Vec::new(); sockets.len()];
        for (inode, path) in table.split(|&b| b == b'\n').filter_map(parse_listener) {
            for (i, spelled) in names.iter().enumerate() {
                if spelled.iter().any(|s| s == path) {
                    inodes[i].push(inode);
                }
            }
        }
        Some(inodes)
    }

    /// The socket inodes among `pid`'s descriptors; `None` if they cannot be read.
    fn socket_fds(pid: u32, deadline: Instant) -> Option<Vec<u64>> {
        let dir = format!("/proc/{pid}/fd");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).ok()? {
            if Instant::now() >= deadline {
                return None;
            }
            let Ok(entry) = entry else { continue };
            // A descriptor closed since the listing is simply not there.
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let text = target.to_string_lossy();
            if let Some(n) = text
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|n| n.parse().ok())
            {
                out.push(n);
            }
        }
        Some(out)
    }

    pub(super) fn serving(
        sockets: &[Socket],
        candidates: &[(u32, u32)],
        deadline: Instant,
    ) -> Vec<Option<usize>> {
        let listening = listening(sockets);
        candidates
            .iter()
            .map(|&(pid, uid)| {
                let mine: Vec<usize> = (0..sockets.len())
                    .filter(|&i| sockets[i].user == uid)
                    .collect();
                let Some(listening) = &listening else {
                    // No table: any of its user's socket files that exists may be its.
                    return mine
                        .into_iter()
                        .find(|&i| std::fs::symlink_metadata(&sockets[i].path).is_ok());
                };
                let live: Vec<usize> = mine
                    .into_iter()
                    .filter(|&i| !listening[i].is_empty())
                    .collect();
                if live.is_empty() {
                    return None;
                }
                // Descriptors that cannot be read, or no time left: it may be the one.
                let Some(fds) = socket_fds(pid, deadline) else {
                    return Some(live[0]);
                };
                live.into_iter()
                    .find(|&i| listening[i].iter().any(|inode| fds.contains(inode)))
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn listening_sockets_are_read_from_proc_net_unix_lines() {
            // Recorded from Linux 6.x.
            let listen = b"0000000000000000: 00000002 00000000 00010000 0001 01 123456 /home/u/.patina/run/serve.sock";
            assert_eq!(
                parse_listener(listen),
                Some((123_456, &b"/home/u/.patina/run/serve.sock"[..]))
            );
            let spaced = b"0000000000000000: 00000002 00000000 00010000 0001 01 7 /tmp/a b";
            assert_eq!(parse_listener(spaced), Some((7, &b"/tmp/a b"[..])));
            let connected = b"0000000000000000: 00000003 00000000 00000000 0001 03 123457 /home/u/.patina/run/serve.sock";
            assert_eq!(parse_listener(connected), None);
            let unnamed = b"0000000000000000: 00000002 00000000 00010000 0001 01 99";
            assert_eq!(parse_listener(unnamed), None);
            let header = b"Num       RefCount Protocol Flags    Type St Inode Path";
            assert_eq!(parse_listener(header), None);
            assert_eq!(parse_listener(b""), None);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::Socket;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::time::Instant;

    /// Whether a listener of the socket's user is there: the socket file is the user's
    /// and takes one connection, closed at once.
    fn live(socket: &Socket) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(&socket.path) else {
            return false;
        };
        meta.file_type().is_socket()
            && meta.uid() == socket.user
            && std::os::unix::net::UnixStream::connect(&socket.path).is_ok()
    }

    pub(super) fn serving(
        sockets: &[Socket],
        candidates: &[(u32, u32)],
        deadline: Instant,
    ) -> Vec<Option<usize>> {
        // Past the budget a socket counts as live: fail closed.
        let live: Vec<bool> = sockets
            .iter()
            .map(|s| Instant::now() >= deadline || live(s))
            .collect();
        candidates
            .iter()
            .map(|&(_, uid)| (0..sockets.len()).find(|&i| live[i] && sockets[i].user == uid))
            .collect()
    }
}
