//! Which matched processes listen on a daemon socket, found without disturbing them.
//!
//! Linux: exact. The kernel's socket diagnostics (`NETLINK_SOCK_DIAG`, the interface of
//! `ss -xl`) name, for every listening Unix socket, the file it is bound to and the path
//! it was bound with; the one whose file is the file now at the path is the listener
//! that connections reach. One connection (non-blocking, closed at once, nothing sent)
//! names through its peer credentials the process that listens, and that process is
//! checked to hold the socket (`/proc/PID/fd/*`); no other descriptor table needs to be
//! read then. A listener bound under the path whose file is gone, while the path leads
//! to another live one, is superseded. Where the diagnostics are not available, the
//! sockets listed under the path in `/proc/net/unix` count, which also takes in a
//! listener whose file was replaced (fail closed).
//!
//! Elsewhere the listener cannot be told without unsafe code: a socket file owned by the
//! socket's user that accepts one connection (closed at once, nothing sent) has a live
//! listener, and then every candidate of that user counts as serving it.
//!
//! Every lookup of a path (stat, realpath, connect) runs on a thread of its own within
//! the budget: a path on a network file system that no longer answers leaves what may
//! serve on it kept (`unknown-serving`), and the run goes on.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The most all socket lookups of one run may take; past it, what is left unchecked
/// counts as possibly serving (`unknown-serving`, fail closed).
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

/// A process to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
    /// Its executable was replaced: whether it listens at all matters when it is young.
    pub(crate) replaced: bool,
    /// Younger than the threshold: only a superseded socket (or, replaced, any listening
    /// one) can make it stale, and those are looked for only in such processes.
    pub(crate) young: bool,
}

/// What the lookup found for one candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// The socket (index) whose listener, the one its path leads to, it holds.
    pub(crate) serving: Option<usize>,
    /// The socket (index) it listens on through a file that is no longer at the path,
    /// which now leads to another live listener: nobody can reach it.
    pub(crate) superseded: Option<usize>,
    /// Whether it holds a listening socket of any kind (Unix or TCP); `None` when that
    /// was not looked up or could not be told.
    pub(crate) listens: Option<bool>,
    /// Whether it serves could not be told (a socket path that did not answer, its
    /// descriptors unreadable or the budget spent) while it might.
    pub(crate) unknown: bool,
}

/// What one lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// Per candidate, in order.
    pub(crate) found: Vec<Found>,
    /// Per socket: whether a live listener is reached through its path; `None` when
    /// the path did not answer in time.
    pub(crate) live: Vec<Option<bool>>,
}

/// Look up, for each candidate, whether it serves one of `sockets`, is superseded on
/// one, or listens at all. A socket counts for a candidate only when the candidate's
/// uid is its user. The daemon socket of the users in `homeless` is unknown: an old
/// candidate of theirs that listens on any Unix socket, or may, is `unknown`. Every
/// path lookup is bounded (see [`bounded`]); all of it takes at most about [`BUDGET`].
pub(crate) fn lookup(sockets: &[Socket], homeless: &[u32], candidates: &[Candidate]) -> Lookup {
    let replaced = candidates.iter().any(|c| c.replaced);
    if candidates.is_empty() || (sockets.is_empty() && homeless.is_empty() && !replaced) {
        return Lookup {
            found: vec![Found::default(); candidates.len()],
            live: vec![Some(false); sockets.len()],
        };
    }
    imp::lookup(sockets, homeless, candidates, Instant::now() + BUDGET)
}

/// Run `f` on a thread of its own and wait for its answer until `deadline`; `None` if
/// it did not answer in time (a path on a network file system that no longer answers)
/// or no thread could be started. The thread is left to finish on its own: nothing
/// waits for it, and a process exit does not either.
pub(crate) fn bounded<T: Send + 'static>(
    deadline: Instant,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    wait_until(start(f)?, deadline)
}

/// [`bounded`] for each of `items` at once, each on a thread of its own.
pub(crate) fn bounded_each<I: Send + 'static, T: Send + 'static>(
    items: Vec<I>,
    deadline: Instant,
    f: impl FnOnce(I) -> T + Send + Clone + 'static,
) -> Vec<Option<T>> {
    let pending: Vec<_> = items
        .into_iter()
        .map(|item| {
            let f = f.clone();
            start(move || f(item))
        })
        .collect();
    pending
        .into_iter()
        .map(|rx| wait_until(rx?, deadline))
        .collect()
}

fn start<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<mpsc::Receiver<T>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("patina-reap-path".into())
        .spawn(move || {
            // The receiver is gone if the deadline passed: nothing to do then.
            let _ = tx.send(f());
        })
        .ok()?;
    Some(rx)
}

fn wait_until<T>(rx: mpsc::Receiver<T>, deadline: Instant) -> Option<T> {
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
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
    use super::{spellings, Candidate, Lookup, Socket};
    use std::collections::HashSet;
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

    /// What a socket's path gave: the file there, as the diagnostics name files, and
    /// the spellings of the path.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct PathFacts {
        /// (major, minor, inode) of the file at the path; `None` if there is none.
        pub(crate) file: Option<(u32, u32, u64)>,
        pub(crate) spellings: Vec<Vec<u8>>,
    }

    /// (major, minor, inode) of the file at `path`, as the diagnostics give it.
    pub(crate) fn file_id(path: &std::path::Path) -> Option<(u32, u32, u64)> {
        let st = rustix::fs::stat(path).ok()?;
        let dev = st.st_dev;
        // The diagnostics carry 32 bits of the inode number (`udiag_vfs_ino`).
        Some((
            rustix::fs::major(dev),
            rustix::fs::minor(dev),
            st.st_ino & 0xffff_ffff,
        ))
    }

    /// Which listeners a socket's path leads to and which listen on it through a file
    /// that is gone.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub(crate) struct AtPath {
        /// The listening sockets the path leads to (connections reach these).
        pub(crate) reached: Vec<u64>,
        /// Sockets bound under the path whose file is no longer there, while the path
        /// leads to a live listener: superseded. Empty when nobody is reached.
        pub(crate) superseded: Vec<u64>,
    }

    /// Match the listeners against what the path gave. A listener is reached when its
    /// bound file is the file at the path; also when only the device differs but the
    /// inode is the same and it was bound under this path (an overlay whose layers are
    /// on other file systems names the upper layer's device in stat(), the overlay's in
    /// the diagnostics; btrfs subvolumes likewise).
    pub(crate) fn at_path(bound: &[diag::Bound], facts: &PathFacts) -> AtPath {
        let named_here = |b: &diag::Bound| {
            b.name
                .as_ref()
                .is_some_and(|n| facts.spellings.iter().any(|s| s == n))
        };
        let Some(file) = facts.file else {
            return AtPath::default();
        };
        let reached: Vec<u64> = bound
            .iter()
            .filter(|b| {
                b.file == Some(file) || (named_here(b) && b.file.is_some_and(|f| f.2 == file.2))
            })
            .map(|b| b.socket)
            .collect();
        let superseded = if reached.is_empty() {
            Vec::new()
        } else {
            bound
                .iter()
                .filter(|b| named_here(b) && !reached.contains(&b.socket))
                .map(|b| b.socket)
                .collect()
        };
        AtPath {
            reached,
            superseded,
        }
    }

    /// Every listening Unix socket with what the diagnostics tell of it, or else from
    /// `/proc/net/unix` by path only (then a superseded listener cannot be told from
    /// the live one, and both count as reached: fail closed).
    fn listeners(deadline: Instant) -> Option<(Vec<diag::Bound>, bool)> {
        if let Some(bound) = diag::listening_files(deadline) {
            return Some((bound, true));
        }
        let table = std::fs::read("/proc/net/unix").ok()?;
        Some((bound_by_name(&table), false))
    }

    /// The listening sockets of a `/proc/net/unix` table, known by their bound name only.
    fn bound_by_name(table: &[u8]) -> Vec<diag::Bound> {
        table
            .split(|&b| b == b'\n')
            .filter_map(parse_listener)
            .map(|(socket, path)| diag::Bound {
                socket,
                file: None,
                name: Some(path.to_vec()),
            })
            .collect()
    }

    /// [`at_path`] without the diagnostics: every listener bound under the path counts
    /// as reached (the file may have been replaced since; fail closed).
    fn at_path_by_name(bound: &[diag::Bound], facts: &PathFacts) -> AtPath {
        AtPath {
            reached: bound
                .iter()
                .filter(|b| {
                    b.name
                        .as_ref()
                        .is_some_and(|n| facts.spellings.iter().any(|s| s == n))
                })
                .map(|b| b.socket)
                .collect(),
            superseded: Vec::new(),
        }
    }

    /// One line of `/proc/net/tcp` or `/proc/net/tcp6`: the inode of a listening
    /// socket (`sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`, state
    /// `0A` is `TCP_LISTEN`).
    pub(crate) fn parse_tcp_listener(line: &[u8]) -> Option<u64> {
        let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let state = fields.nth(3)?;
        let inode = fields.nth(5)?;
        (state == b"0A")
            .then(|| std::str::from_utf8(inode).ok()?.parse().ok())
            .flatten()
    }

    /// The inodes of every listening TCP socket in this network namespace.
    fn tcp_listeners() -> Vec<u64> {
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .flat_map(|t| {
                t.split(|&b| b == b'\n')
                    .filter_map(parse_tcp_listener)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// What a walk of one process's descriptors found.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    struct Held {
        serving: Option<usize>,
        superseded: Option<usize>,
        listens: bool,
    }

    /// What a walk looks for: (socket index, inode) pairs of listeners reached through a
    /// path and of superseded ones, and any listening socket at all.
    #[derive(Debug, Default)]
    struct Wanted<'a> {
        reached: Vec<(usize, u64)>,
        superseded: Vec<(usize, u64)>,
        listening: Option<&'a HashSet<u64>>,
    }

    impl Wanted<'_> {
        fn is_empty(&self) -> bool {
            self.reached.is_empty() && self.superseded.is_empty() && self.listening.is_none()
        }

        /// Whether nothing more can be learnt from the rest of the table.
        fn done(&self, held: &Held) -> bool {
            held.serving.is_some()
                || (self.reached.is_empty()
                    && (self.superseded.is_empty() || held.superseded.is_some())
                    && (self.listening.is_none() || held.listens))
        }
    }

    /// Walk `pid`'s descriptors, comparing each socket's inode with the wanted ones, and
    /// stop as soon as nothing more can be learnt (at once when it serves). `Err(partial)`
    /// when the descriptors cannot be read or the deadline passed before the end.
    fn walk_fds(pid: u32, wanted: &Wanted<'_>, deadline: Instant) -> Result<Held, Held> {
        use rustix::fs::{openat, readlinkat_raw, Mode, OFlags, RawDir, CWD};
        let mut held = Held::default();
        let Ok(dir) = openat(
            CWD,
            format!("/proc/{pid}/fd"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return Err(held);
        };
        let mut dir_buf = Vec::<u8>::with_capacity(64 * 1024);
        let mut entries = RawDir::new(&dir, dir_buf.spare_capacity_mut());
        let mut link = [0u8; 64];
        let mut seen = 0u32;
        while let Some(entry) = entries.next() {
            // The clock is read every so often: it costs as much as a readlink.
            seen += 1;
            if seen % 64 == 0 && Instant::now() >= deadline {
                return Err(held);
            }
            let Ok(entry) = entry else {
                return Err(held);
            };
            let name = entry.file_name();
            if name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            // A descriptor closed since the listing is simply not there.
            let Ok(len) = readlinkat_raw(&dir, name, &mut link[..]) else {
                continue;
            };
            let Some(inode) = socket_inode(&link[..len.min(link.len())]) else {
                continue;
            };
            if let Some(&(i, _)) = wanted.reached.iter().find(|&&(_, s)| s == inode) {
                held.serving = Some(i);
                held.listens = true;
            }
            if let Some(&(i, _)) = wanted.superseded.iter().find(|&&(_, s)| s == inode) {
                held.superseded = Some(i);
                held.listens = true;
            }
            if wanted.listening.is_some_and(|l| l.contains(&inode)) {
                held.listens = true;
            }
            if wanted.done(&held) {
                break;
            }
        }
        Ok(held)
    }

    /// The inode in a descriptor's link text `socket:[N]`.
    pub(crate) fn socket_inode(link: &[u8]) -> Option<u64> {
        let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// The process that listens at `path` and its uid, as a client would reach it: the
    /// peer credentials of a connection (made without blocking and closed at once,
    /// nothing sent; a full backlog answers EAGAIN). They name the process that called
    /// listen(), in our PID namespace (`None` when it is outside it).
    fn listener_at(path: &std::path::Path) -> Option<(u32, u32)> {
        // A listener outside our PID namespace has no pid here, and the kernel answers
        // 0, which rustix's `Pid` cannot hold: ask only where every pid is visible.
        if !in_initial_pid_namespace() {
            return None;
        }
        use rustix::net::{
            connect, socket_with, sockopt, AddressFamily, SocketAddrUnix, SocketFlags, SocketType,
        };
        let fd = socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .ok()?;
        connect(&fd, &SocketAddrUnix::new(path).ok()?).ok()?;
        let cred = sockopt::socket_peercred(&fd).ok()?;
        let pid = cred.pid.as_raw_nonzero().get();
        Some((u32::try_from(pid).ok()?, cred.uid.as_raw()))
    }

    /// Whether this process is in the initial PID namespace (its inode is the kernel's
    /// constant `PROC_PID_INIT_INO`).
    fn in_initial_pid_namespace() -> bool {
        std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() == "pid:[4026531836]")
    }

    pub(super) fn lookup(
        sockets: &[Socket],
        homeless: &[u32],
        candidates: &[Candidate],
        deadline: Instant,
    ) -> Lookup {
        use super::Found;
        // The paths first, each on a thread of its own, all within the budget.
        let paths: Vec<_> = sockets.iter().map(|s| s.path.clone()).collect();
        let facts = super::bounded_each(paths, deadline, |path| PathFacts {
            file: file_id(&path),
            spellings: spellings(&path),
        });
        let listeners = listeners(deadline);
        let at: Vec<Option<AtPath>> = facts
            .iter()
            .map(|f| {
                let f = f.as_ref()?;
                Some(match &listeners {
                    Some((bound, true)) => at_path(bound, f),
                    Some((bound, false)) => at_path_by_name(bound, f),
                    // No table: whether a listener is there is told by a connection.
                    None => AtPath::default(),
                })
            })
            .collect();
        // The process each live socket's connections reach, checked to hold the socket
        // (its listening descriptor comes early in its table). Another process holding
        // the same socket (a child that inherited it) is not serving: the socket stays
        // open in this one whatever becomes of the other.
        let wanted_peer: Vec<Option<std::path::PathBuf>> = (0..sockets.len())
            .map(|i| {
                let live = at[i]
                    .as_ref()
                    .is_some_and(|a| !a.reached.is_empty() || listeners.is_none());
                let asked = candidates.iter().any(|c| c.uid == sockets[i].user);
                (live && asked).then(|| sockets[i].path.clone())
            })
            .collect();
        let peers = super::bounded_each(wanted_peer, deadline, |path| {
            path.and_then(|p| listener_at(&p))
        });
        let holder: Vec<Option<u32>> = (0..sockets.len())
            .map(|i| {
                let (pid, uid) = peers[i].flatten()?;
                if uid != sockets[i].user {
                    return None;
                }
                let a = at[i].as_ref()?;
                if listeners.is_none() {
                    // Nothing to check it against: the connection is all there is.
                    return Some(pid);
                }
                let wanted = Wanted {
                    reached: a.reached.iter().map(|&s| (i, s)).collect(),
                    ..Wanted::default()
                };
                let held = walk_fds(pid, &wanted, deadline).ok()?;
                held.serving.map(|_| pid)
            })
            .collect();
        let live: Vec<Option<bool>> = (0..sockets.len())
            .map(|i| {
                let a = at[i].as_ref()?;
                Some(!a.reached.is_empty() || holder[i].is_some())
            })
            .collect();
        let mut listening: HashSet<u64> = listeners
            .as_ref()
            .map(|(b, _)| b.iter().map(|b| b.socket).collect())
            .unwrap_or_default();
        if candidates.iter().any(|c| c.replaced && c.young) {
            listening.extend(tcp_listeners());
        }
        // Without a table, nothing tells a listener from another process.
        let unsure_homeless = listeners.is_none();
        let found = candidates
            .iter()
            .map(|c| {
                let mine: Vec<usize> = (0..sockets.len())
                    .filter(|&i| sockets[i].user == c.uid)
                    .collect();
                if let Some(&i) = mine.iter().find(|&&i| holder[i] == Some(c.pid)) {
                    return Found {
                        serving: Some(i),
                        listens: Some(true),
                        ..Found::default()
                    };
                }
                // A socket whose path did not answer: it may be this one's.
                let unanswered = mine.iter().any(|&i| at[i].is_none());
                let mut wanted = Wanted::default();
                let mut unsure = false;
                for &i in &mine {
                    let Some(a) = &at[i] else { continue };
                    if c.young {
                        // Kept young whether or not it serves: only supersession counts.
                        wanted
                            .superseded
                            .extend(a.superseded.iter().map(|&s| (i, s)));
                    } else if holder[i].is_none() && !a.reached.is_empty() {
                        wanted.reached.extend(a.reached.iter().map(|&s| (i, s)));
                    } else if holder[i].is_none() && live[i] == Some(true) {
                        // A listener there, not known by inode: it may be this one.
                        unsure = true;
                    }
                }
                let homeless = !c.young && homeless.contains(&c.uid);
                if homeless && unsure_homeless {
                    unsure = true;
                }
                if ((c.young && c.replaced) || homeless) && listeners.is_some() {
                    wanted.listening = Some(&listening);
                }
                if wanted.is_empty() {
                    return Found {
                        unknown: unanswered || unsure,
                        ..Found::default()
                    };
                }
                match walk_fds(c.pid, &wanted, deadline) {
                    Ok(held) => Found {
                        serving: held.serving,
                        superseded: held.superseded.filter(|_| held.serving.is_none()),
                        listens: (wanted.listening.is_some() || held.listens)
                            .then_some(held.listens),
                        unknown: held.serving.is_none()
                            && (unanswered || unsure || (homeless && held.listens)),
                    },
                    Err(held) => Found {
                        serving: held.serving,
                        superseded: None,
                        listens: held.listens.then_some(true),
                        unknown: held.serving.is_none()
                            && (unanswered || unsure || homeless || !wanted.reached.is_empty()),
                    },
                }
            })
            .collect();
        Lookup { found, live }
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
        const UDIAG_SHOW_NAME: u32 = 0x1;
        const UDIAG_SHOW_VFS: u32 = 0x2;
        const UNIX_DIAG_NAME: u16 = 0;
        const UNIX_DIAG_VFS: u16 = 1;
        const HEADER: usize = 16;
        const MSG: usize = 16;

        /// A listening socket, the file it is bound to and the path it was bound with.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub(crate) struct Bound {
            pub(crate) socket: u64,
            /// (major, minor, inode) of the bound file; `None` for an abstract or
            /// unbound socket.
            pub(crate) file: Option<(u32, u32, u64)>,
            /// The path it was bound with.
            pub(crate) name: Option<Vec<u8>>,
        }

        /// Every listening Unix socket; `None` if the kernel does not
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
            req.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_VFS).to_ne_bytes());
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
                let mut bound = Bound {
                    socket,
                    file: None,
                    name: None,
                };
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
                        bound.file = Some((dev >> 20, dev & 0xf_ffff, ino));
                    }
                    // A path name, NUL-terminated; an abstract name starts with NUL.
                    if akind == UNIX_DIAG_NAME && alen > 4 && attrs[4] != 0 {
                        let name = &attrs[4..alen];
                        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                        bound.name = Some(name[..end].to_vec());
                    }
                    attrs = attrs.get((alen + 3) & !3..).unwrap_or_default();
                }
                found.push(bound);
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
            let mine: Vec<_> = bound.iter().filter(|b| b.file == Some(file)).collect();
            assert_eq!(mine.len(), 1, "{bound:?}");
            let first = mine[0].socket;
            let facts = PathFacts {
                file: Some(file),
                spellings: spellings(&path),
            };
            assert_eq!(at_path(&bound, &facts).reached, [first]);
            let me = std::process::id();
            let deadline = Instant::now() + super::super::BUDGET;
            let wanted = Wanted {
                reached: vec![(0, first)],
                ..Wanted::default()
            };
            let held = walk_fds(me, &wanted, deadline).unwrap();
            assert_eq!(held.serving, Some(0), "{held:?}");
            // Another socket bound at the same path after the first one's file was
            // removed: only the new one is reached through the path, and the first is
            // superseded.
            std::fs::remove_file(&path).unwrap();
            let second = std::os::unix::net::UnixListener::bind(&path).unwrap();
            let bound = diag::listening_files(Instant::now() + super::super::BUDGET).unwrap();
            let facts = PathFacts {
                file: file_id(&path),
                spellings: spellings(&path),
            };
            let at = at_path(&bound, &facts);
            assert_eq!(at.reached.len(), 1, "{at:?}");
            assert_ne!(at.reached[0], first);
            assert_eq!(at.superseded, [first], "{at:?}");
            let wanted = Wanted {
                superseded: vec![(0, first)],
                ..Wanted::default()
            };
            let held = walk_fds(me, &wanted, deadline).unwrap();
            assert_eq!((held.serving, held.superseded), (None, Some(0)));
            // By path alone (no diagnostics), both count as reached.
            let by_name = bound_by_name(&std::fs::read("/proc/net/unix").unwrap());
            assert_eq!(at_path_by_name(&by_name, &facts).reached.len(), 2);
            // Once the file is gone, nobody is reached and nobody superseded.
            std::fs::remove_file(&path).unwrap();
            let gone = PathFacts {
                file: None,
                spellings: facts.spellings.clone(),
            };
            assert_eq!(at_path(&bound, &gone), AtPath::default());
            drop((listener, second));
        }

        #[test]
        fn a_listener_on_an_overlay_is_matched_by_inode_and_bound_name() {
            let path = b"/home/u/.patina/run/serve.sock".to_vec();
            let facts = PathFacts {
                // stat() through the overlay: the upper layer's device.
                file: Some((0, 40, 1234)),
                spellings: vec![path.clone()],
            };
            let live = diag::Bound {
                socket: 9,
                // The diagnostics: the overlay's own device, the same inode.
                file: Some((0, 77, 1234)),
                name: Some(path.clone()),
            };
            let old = diag::Bound {
                socket: 8,
                file: Some((0, 77, 999)),
                name: Some(path.clone()),
            };
            let elsewhere = diag::Bound {
                socket: 7,
                file: Some((0, 77, 1234)),
                name: Some(b"/other/serve.sock".to_vec()),
            };
            let at = at_path(&[live, old, elsewhere], &facts);
            assert_eq!(at.reached, [9]);
            assert_eq!(at.superseded, [8]);
        }

        #[test]
        fn descriptor_links_and_tcp_listeners_are_parsed() {
            assert_eq!(socket_inode(b"socket:[123]"), Some(123));
            assert_eq!(socket_inode(b"pipe:[123]"), None);
            assert_eq!(socket_inode(b"socket:[12"), None);
            assert_eq!(socket_inode(b"/dev/null"), None);
            // Recorded from Linux 6.x /proc/net/tcp: a listener, then an established one.
            let listen = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0";
            assert_eq!(parse_tcp_listener(listen), Some(424_242));
            let established = b"   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 424243 1 0000000000000000 20 4 30 10 -1";
            assert_eq!(parse_tcp_listener(established), None);
            let header = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
            assert_eq!(parse_tcp_listener(header), None);
        }

        /// One answer of `len` bytes: header, unix_diag_msg for `inode`, and a VFS
        /// attribute (inode 5 on device 8:1); the caller appends any further attributes.
        fn answer(len: u32, inode: u32) -> Vec<u8> {
            let mut msg = Vec::new();
            msg.extend_from_slice(&len.to_ne_bytes());
            msg.extend_from_slice(&20u16.to_ne_bytes());
            msg.extend_from_slice(&[0; 10]);
            msg.extend_from_slice(&[1, 1, 10, 0]);
            msg.extend_from_slice(&inode.to_ne_bytes());
            msg.extend_from_slice(&[0; 8]);
            msg.extend_from_slice(&12u16.to_ne_bytes());
            msg.extend_from_slice(&1u16.to_ne_bytes());
            msg.extend_from_slice(&5u32.to_ne_bytes());
            msg.extend_from_slice(&((8u32 << 20) | 1).to_ne_bytes());
            msg
        }

        #[test]
        fn diagnostic_answers_are_parsed_or_rejected() {
            let mut found = Vec::new();
            // One answer: header, unix_diag_msg (inode 77), a VFS attribute (inode 5 on
            // device 8:1), then DONE.
            let msg = answer(44, 77);
            let mut done = Vec::new();
            done.extend_from_slice(&20u32.to_ne_bytes());
            done.extend_from_slice(&3u16.to_ne_bytes());
            done.extend_from_slice(&[0; 14]);
            assert_eq!(diag::parse(&msg, &mut found), Some(false));
            assert_eq!(
                found,
                [diag::Bound {
                    socket: 77,
                    file: Some((8, 1, 5)),
                    name: None,
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
            // A name attribute (NUL-terminated, padded to 4 bytes) after the VFS one.
            let mut named = answer(56, 78);
            named.extend_from_slice(&9u16.to_ne_bytes());
            named.extend_from_slice(&0u16.to_ne_bytes());
            named.extend_from_slice(b"/a/s\0\0\0\0");
            let mut found = Vec::new();
            assert_eq!(diag::parse(&named, &mut found), Some(false));
            assert_eq!(
                found,
                [diag::Bound {
                    socket: 78,
                    file: Some((8, 1, 5)),
                    name: Some(b"/a/s".to_vec()),
                }]
            );
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
    use super::{Candidate, Found, Lookup, Socket};
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

    pub(super) fn lookup(
        sockets: &[Socket],
        homeless: &[u32],
        candidates: &[Candidate],
        deadline: Instant,
    ) -> Lookup {
        // Each socket on a thread of its own; one that does not answer in time may be
        // live (fail closed).
        let live = super::bounded_each(sockets.to_vec(), deadline, |s| live(&s));
        // Which process listens cannot be told here: every candidate of the user counts
        // while somebody listens.
        let found = candidates
            .iter()
            .map(|c| {
                let mine = || (0..sockets.len()).filter(|&i| sockets[i].user == c.uid);
                let serving = mine().find(|&i| live[i] == Some(true));
                // A user whose socket is unknown: any of theirs may serve.
                let homeless = !c.young && homeless.contains(&c.uid);
                Found {
                    serving,
                    superseded: None,
                    listens: None,
                    unknown: serving.is_none() && (homeless || mine().any(|i| live[i].is_none())),
                }
            })
            .collect();
        Lookup { found, live }
    }
}
