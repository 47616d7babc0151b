//! Which matched processes listen on a daemon socket, found without disturbing them.
//!
//! Linux: passive and exact. The kernel's socket diagnostics (`NETLINK_SOCK_DIAG`, the
//! interface of `ss -xl`) name, for every listening Unix socket, the file it is bound
//! to; the one whose file is the file now at the path is the listener that connections
//! reach, and a candidate serves when one of its descriptors (`/proc/PID/fd/*`) is that
//! socket. No connection is made. Where the diagnostics are not available, the sockets
//! listed under the path in `/proc/net/unix` count, which also takes in a listener whose
//! file was replaced (fail closed).
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

    /// The inodes of the listening sockets each socket's path leads to: exact from the
    /// kernel's socket diagnostics, else by path from `/proc/net/unix`; `None` when
    /// neither can be read.
    fn listening(sockets: &[Socket], deadline: Instant) -> Option<Vec<Vec<u64>>> {
        if let Some(bound) = diag::listening_files(deadline) {
            return Some(
                sockets
                    .iter()
                    .map(|s| match file_id(&s.path) {
                        Some(file) => bound
                            .iter()
                            .filter(|b| b.file == file)
                            .map(|b| b.socket)
                            .collect(),
                        None => Vec::new(),
                    })
                    .collect(),
            );
        }
        listening_by_path(sockets)
    }

    /// (major, minor, inode) of the file at `path`, as the diagnostics give it.
    fn file_id(path: &std::path::Path) -> Option<(u32, u32, u64)> {
        let st = rustix::fs::stat(path).ok()?;
        let dev = st.st_dev;
        Some((rustix::fs::major(dev), rustix::fs::minor(dev), st.st_ino))
    }

    /// [`listening`] from `/proc/net/unix`, by the path each socket was bound with.
    fn listening_by_path(sockets: &[Socket]) -> Option<Vec<Vec<u64>>> {
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
        let listening = listening(sockets, deadline);
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

    /// `NETLINK_SOCK_DIAG` for Unix sockets (linux/unix_diag.h), spoken with plain
    /// byte buffers.
    mod diag {
        use rustix::net::{
            netlink, recv, sendto, socket_with, sockopt, AddressFamily, RecvFlags, SendFlags,
            SocketFlags, SocketType,
        };
        use std::time::Instant;

        const SOCK_DIAG_BY_FAMILY: u16 = 20;
        const NLM_F_REQUEST: u16 = 0x1;
        const NLM_F_DUMP: u16 = 0x300;
        const NLMSG_ERROR: u16 = 2;
        const NLMSG_DONE: u16 = 3;
        const AF_UNIX: u8 = 1;
        /// `1 << TCP_LISTEN`: only listening sockets.
        const LISTENING: u32 = 1 << 10;
        const UDIAG_SHOW_VFS: u32 = 0x2;
        const UNIX_DIAG_VFS: u16 = 1;
        const HEADER: usize = 16;
        const MSG: usize = 16;

        /// A listening socket and the file it is bound to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct Bound {
            pub(crate) socket: u64,
            /// (major, minor, inode) of the bound file.
            pub(crate) file: (u32, u32, u64),
        }

        /// Every listening Unix socket bound to a file; `None` if the kernel does not
        /// answer (no `unix_diag`, a sandbox), within the deadline.
        pub(crate) fn listening_files(deadline: Instant) -> Option<Vec<Bound>> {
            let fd = socket_with(
                AddressFamily::NETLINK,
                SocketType::DGRAM,
                SocketFlags::CLOEXEC,
                Some(netlink::SOCK_DIAG),
            )
            .ok()?;
            let left = deadline.checked_duration_since(Instant::now())?;
            sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(left)).ok()?;
            sendto(
                &fd,
                &request(),
                SendFlags::empty(),
                &netlink::SocketAddrNetlink::new(0, 0),
            )
            .ok()?;
            let mut found = Vec::new();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let (_, n) = recv(&fd, &mut buf[..], RecvFlags::empty()).ok()?;
                if n == 0 || parse(&buf[..n.min(buf.len())], &mut found)? {
                    return Some(found);
                }
            }
        }

        /// A dump request for listening Unix sockets with their bound files.
        pub(crate) fn request() -> Vec<u8> {
            let mut req = Vec::with_capacity(HEADER + 24);
            req.extend_from_slice(&((HEADER + 24) as u32).to_ne_bytes());
            req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
            req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
            req.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
            req.extend_from_slice(&[AF_UNIX, 0, 0, 0]); // family, protocol, padding
            req.extend_from_slice(&LISTENING.to_ne_bytes());
            req.extend_from_slice(&0u32.to_ne_bytes()); // any inode
            req.extend_from_slice(&UDIAG_SHOW_VFS.to_ne_bytes());
            req.extend_from_slice(&[0; 8]); // cookie
            req
        }

        fn u16_at(b: &[u8], at: usize) -> Option<u16> {
            Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
        }

        fn u32_at(b: &[u8], at: usize) -> Option<u32> {
            Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
        }

        /// Parse one datagram of answers into `found`: `Some(true)` at the end of the
        /// dump, `None` on an error answer or malformed data.
        pub(crate) fn parse(mut data: &[u8], found: &mut Vec<Bound>) -> Option<bool> {
            while data.len() >= HEADER {
                let len = u32_at(data, 0)? as usize;
                let kind = u16_at(data, 4)?;
                if len < HEADER || len > data.len() {
                    return None;
                }
                match kind {
                    NLMSG_DONE => return Some(true),
                    NLMSG_ERROR => return None,
                    _ => {}
                }
                let msg = &data[HEADER..len];
                let socket = u64::from(u32_at(msg, 4)?);
                let mut attrs = msg.get(MSG..)?;
                while attrs.len() >= 4 {
                    let alen = usize::from(u16_at(attrs, 0)?);
                    let akind = u16_at(attrs, 2)?;
                    if alen < 4 || alen > attrs.len() {
                        return None;
                    }
                    if akind == UNIX_DIAG_VFS && alen >= 12 {
                        let ino = u64::from(u32_at(attrs, 4)?);
                        // The kernel's own dev_t: major in the top 12 bits.
                        let dev = u32_at(attrs, 8)?;
                        found.push(Bound {
                            socket,
                            file: (dev >> 20, dev & 0xf_ffff, ino),
                        });
                    }
                    attrs = attrs.get((alen + 3) & !3..).unwrap_or_default();
                }
                data = data.get((len + 3) & !3..).unwrap_or_default();
            }
            Some(false)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn diagnostics_find_a_listener_by_its_bound_file() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.sock");
            let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
            let Some(bound) = diag::listening_files(Instant::now() + super::super::BUDGET) else {
                // Straight to stderr, past libtest's capture: shown by a plain `cargo test`.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: no socket diagnostics (unix_diag) here"
                );
                return;
            };
            let file = file_id(&path).unwrap();
            let mine: Vec<_> = bound.iter().filter(|b| b.file == file).collect();
            assert_eq!(mine.len(), 1, "{bound:?}");
            let me = std::process::id();
            let fds = socket_fds(me, Instant::now() + super::super::BUDGET).unwrap();
            assert!(fds.contains(&mine[0].socket), "{fds:?} {mine:?}");
            // Another socket bound at the same path after the first one's file was
            // removed: only the new one is reached through the path.
            std::fs::remove_file(&path).unwrap();
            let second = std::os::unix::net::UnixListener::bind(&path).unwrap();
            let sockets = [Socket {
                path: path.clone(),
                user: 0,
            }];
            let found = listening(&sockets, Instant::now() + super::super::BUDGET).unwrap();
            assert_eq!(found[0].len(), 1, "{found:?}");
            assert_ne!(found[0][0], mine[0].socket);
            // By path alone (no diagnostics), both count.
            assert_eq!(listening_by_path(&sockets).unwrap()[0].len(), 2);
            drop((listener, second));
        }

        #[test]
        fn diagnostic_answers_are_parsed_or_rejected() {
            let mut found = Vec::new();
            // One answer: header, unix_diag_msg (inode 77), a VFS attribute (inode 5 on
            // device 8:1), then DONE.
            let mut msg = Vec::new();
            msg.extend_from_slice(&44u32.to_ne_bytes());
            msg.extend_from_slice(&20u16.to_ne_bytes());
            msg.extend_from_slice(&[0; 10]);
            msg.extend_from_slice(&[1, 1, 10, 0]);
            msg.extend_from_slice(&77u32.to_ne_bytes());
            msg.extend_from_slice(&[0; 8]);
            msg.extend_from_slice(&12u16.to_ne_bytes());
            msg.extend_from_slice(&1u16.to_ne_bytes());
            msg.extend_from_slice(&5u32.to_ne_bytes());
            msg.extend_from_slice(&((8u32 << 20) | 1).to_ne_bytes());
            let mut done = Vec::new();
            done.extend_from_slice(&20u32.to_ne_bytes());
            done.extend_from_slice(&3u16.to_ne_bytes());
            done.extend_from_slice(&[0; 14]);
            assert_eq!(diag::parse(&msg, &mut found), Some(false));
            assert_eq!(
                found,
                [diag::Bound {
                    socket: 77,
                    file: (8, 1, 5)
                }]
            );
            assert_eq!(
                diag::parse(&[msg.clone(), done].concat(), &mut found),
                Some(true)
            );
            // Lengths that run past the data are rejected, never read out of bounds.
            let mut bad = msg.clone();
            bad[0] = 200;
            assert_eq!(diag::parse(&bad, &mut Vec::new()), None);
            let mut bad = msg;
            bad[32] = 200;
            assert_eq!(diag::parse(&bad, &mut Vec::new()), None);
            assert_eq!(diag::request().len(), 40);
        }

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
