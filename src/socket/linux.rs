//! The socket lookup on Linux: the listeners from the socket diagnostics, each judged in
//! the mount namespace of the process that holds it (see the module above).

use std::collections::HashSet;
use std::time::Instant;

use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{self, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use super::diag::{self, Bound};
use super::{Candidate, Daemons};
use crate::scan::SocketFacts;

/// `__SO_ACCEPTCON` in the Flags column of `/proc/net/unix`: a listening socket.
const ACCEPTCON: u32 = 0x10000;

/// The most symlinks one resolution follows (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// (major, minor, inode) of a file, as the diagnostics name bound files (32 bits of the
/// inode number, `udiag_vfs_ino`).
pub(super) type FileId = (u32, u32, u64);

pub(super) fn lookup(
    daemons: &Daemons,
    candidates: &[Candidate],
    deadline: Instant,
) -> Vec<SocketFacts> {
    // Without a table of listeners nothing can be told: an old candidate may serve.
    let Some(table) = listeners(deadline) else {
        return candidates.iter().map(|c| unknown_unless(c.young)).collect();
    };
    // Only the daemon sockets that a candidate's user made (where the kernel tells who
    // made a socket): nobody else's is looked at, let alone connected to.
    let owners: Vec<u32> = candidates.iter().map(|c| c.uid).collect();
    let names = daemon_names(&table.bound, daemons, &owners);
    // Where each candidate's facts are read; `None` once it has exited.
    let dirs: Vec<Option<String>> = candidates.iter().map(|c| task_dir(c.pid)).collect();
    let views: Vec<Option<View>> = dirs.iter().map(|d| view_of(d.as_deref()?)).collect();
    // One resolution of each daemon name in each mount namespace (and root) seen.
    let mut seen: Vec<(View, String)> = Vec::new();
    for (dir, view) in dirs.iter().zip(&views) {
        if let (Some(d), Some(v)) = (dir, view) {
            if !seen.iter().any(|(s, _)| s == v) {
                seen.push((v.clone(), d.clone()));
            }
        }
    }
    let caller = rustix::process::geteuid().as_raw();
    let jobs: Vec<(String, Vec<u8>)> = seen
        .iter()
        .flat_map(|(_, dir)| names.iter().map(move |n| (dir.clone(), n.clone())))
        .collect();
    let resolved = crate::sys::bounded_each(jobs, deadline, move |(dir, name)| {
        resolve(&dir, &name, caller)
    });
    let judged: Vec<Judged> = resolved
        .into_iter()
        .enumerate()
        .map(|(j, res)| {
            let name = &names[j % names.len().max(1)];
            judge(res.unwrap_or(Resolved::Unknown), name, &table, deadline)
        })
        .collect();
    let mut listening: HashSet<u64> = table.bound.iter().map(|b| b.socket).collect();
    if candidates.iter().any(|c| c.replaced && c.young) {
        listening.extend(tcp_listeners());
    }
    candidates
        .iter()
        .zip(dirs.iter().zip(&views))
        .map(|(c, (dir, view))| {
            // Exited since the scan: it is reported gone when its turn to be signalled
            // comes.
            let Some(dir) = dir else {
                return SocketFacts::default();
            };
            if !in_our_network_namespace(dir) {
                return elsewhere(c, dir, daemons);
            }
            let at = view
                .as_ref()
                .and_then(|v| seen.iter().position(|(s, _)| s == v));
            let judged_here: Option<&[Judged]> =
                at.map(|i| &judged[i * names.len()..(i + 1) * names.len()]);
            facts_of(c, dir, &names, judged_here, &table, &listening, deadline)
        })
        .collect()
}

/// A candidate whose network namespace is not ours, or cannot be read: its listeners
/// are not in our table. Its own table (`/proc/PID/net/unix`, names only) tells whether
/// any daemon socket is bound there at all; if one is, it may serve.
fn elsewhere(c: &Candidate, dir: &str, daemons: &Daemons) -> SocketFacts {
    let none_there = std::fs::read(format!("{dir}/net/unix")).is_ok_and(|text| {
        bound_by_name(&text)
            .iter()
            .all(|b| !b.name.as_deref().is_some_and(|n| daemons.matches(n)))
    });
    if none_there {
        SocketFacts::default()
    } else {
        unknown_unless(c.young)
    }
}

/// What may serve is not known: kept when old.
fn unknown_unless(young: bool) -> SocketFacts {
    SocketFacts {
        serving_unknown: !young,
        ..SocketFacts::default()
    }
}

/// Every listening Unix socket, with its bound file where the diagnostics tell it.
struct Table {
    bound: Vec<Bound>,
    /// From the diagnostics (bound files known); else from `/proc/net/unix`, by name
    /// only.
    exact: bool,
}

/// Every listening Unix socket of this network namespace, from the diagnostics or else
/// from `/proc/net/unix` (names only).
fn listeners(deadline: Instant) -> Option<Table> {
    if let Some(bound) = diag::listening_files(deadline) {
        return Some(Table { bound, exact: true });
    }
    let text = std::fs::read("/proc/net/unix").ok()?;
    Some(Table {
        bound: bound_by_name(&text),
        exact: false,
    })
}

/// The distinct bound names of the daemon sockets among the listeners, of those made by
/// one of `owners` (or by a user the kernel does not tell).
fn daemon_names(bound: &[Bound], daemons: &Daemons, owners: &[u32]) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = bound
        .iter()
        .filter(|b| b.uid.is_none_or(|uid| owners.contains(&uid)))
        .filter_map(|b| b.name.clone())
        .filter(|n| daemons.matches(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Where a process sees the file system: its mount namespace and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    mount_ns: u64,
    /// The text of `/proc/PID/root` (read without touching the file system it names).
    root: Vec<u8>,
}

fn view_of(dir: &str) -> Option<View> {
    let root = fs::readlink(format!("{dir}/root"), Vec::new()).ok()?;
    Some(View {
        mount_ns: ns_inode(dir, "mnt")?,
        root: root.into_bytes(),
    })
}

/// Whether the process whose `/proc` directory is `dir` is in our network namespace: by
/// the namespace's inode, or where that cannot be read (a non-dumpable process of the
/// caller's own), by the inode of its `net/unix` table, one per network namespace.
fn in_our_network_namespace(dir: &str) -> bool {
    if let (Some(theirs), Some(ours)) = (ns_inode(dir, "net"), ns_inode("/proc/self", "net")) {
        return theirs == ours;
    }
    let table = |d: &str| fs::stat(format!("{d}/net/unix")).ok().map(|st| st.st_ino);
    matches!((table(dir), table("/proc/self")), (Some(theirs), Some(ours)) if theirs == ours)
}

/// The inode of namespace `kind` of the process or thread whose `/proc` directory is
/// `dir`.
fn ns_inode(dir: &str, kind: &str) -> Option<u64> {
    fs::stat(format!("{dir}/ns/{kind}"))
        .ok()
        .map(|st| st.st_ino)
}

/// The `/proc` directory to read a process's namespaces, root and descriptors from:
/// its own, or, when its main thread has exited while others run (its own then shows
/// none of them), that of a live thread. `None` once the process has exited.
fn task_dir(pid: u32) -> Option<String> {
    use crate::scan::proc::parse_stat;
    let dir = format!("/proc/{pid}");
    let stat = match std::fs::read(format!("{dir}/stat")) {
        Ok(stat) => stat,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        // Unreadable is not gone: read what can be, and fail closed on the rest.
        Err(_) => return Some(dir),
    };
    let Some(st) = parse_stat(&stat) else {
        return Some(dir);
    };
    if !st.live_threads() {
        return (!st.has_exited()).then_some(dir);
    }
    std::fs::read_dir(format!("{dir}/task"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| format!("{dir}/task/{}", e.file_name().to_string_lossy()))
        .find(|task| {
            std::fs::read(format!("{task}/stat"))
                .is_ok_and(|s| parse_stat(&s).is_some_and(|s| !matches!(s.state, b'Z' | b'X')))
        })
}

/// What a daemon socket's name leads to in one mount namespace.
#[derive(Debug)]
pub(super) enum Resolved {
    /// A socket file.
    Socket {
        file: FileId,
        owner: u32,
        /// The process that listens there and its uid, from the peer credentials of one
        /// connection; `None` if nobody accepted one or it is outside our PID namespace.
        peer: Option<(u32, u32)>,
        /// Whether a connection was accepted (or the backlog was full): a live listener.
        answered: bool,
    },
    /// Nothing there, or not a socket.
    Absent,
    /// Could not be told: a symlink somebody else controls, no permission, `..`, a
    /// process gone, a path that did not answer in time.
    Unknown,
}

/// Resolve `name` as the process whose `/proc` directory is `dir` sees it, following
/// no symlink that a user other than the caller could have made, and connect to the
/// socket found there.
pub(super) fn resolve(dir: &str, name: &[u8], caller: u32) -> Resolved {
    let Ok(root) = fs::open(
        format!("{dir}/root"),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return Resolved::Unknown;
    };
    let fd = match open_beneath(&root, name, caller) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Resolved::Absent,
        Err(_) => return Resolved::Unknown,
    };
    let Ok(st) = fs::fstat(&fd) else {
        return Resolved::Unknown;
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
        return Resolved::Absent;
    }
    let (answered, peer) = connect_to(&fd);
    Resolved::Socket {
        file: (
            fs::major(st.st_dev),
            fs::minor(st.st_dev),
            st.st_ino & 0xffff_ffff,
        ),
        owner: st.st_uid,
        peer,
        answered,
    }
}

/// Open `path` (absolute, as bound) under `root` with `O_PATH`, one component at a time
/// and never following a symlink unless root or `caller` made it in a directory only
/// they can write to. `..` is refused (`EXDEV`): it could leave `root`.
pub(super) fn open_beneath(root: &OwnedFd, path: &[u8], caller: u32) -> Result<OwnedFd, Errno> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut rest: Vec<Vec<u8>> = components(path)?;
    rest.reverse();
    let mut dir = fs::openat(root, c".", flags | OFlags::DIRECTORY, Mode::empty())?;
    let mut links = 0;
    while let Some(part) = rest.pop() {
        let fd = fs::openat(&dir, part.as_slice(), flags, Mode::empty())?;
        let st = fs::fstat(&fd)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                links += 1;
                let trusted = |uid: u32| uid == 0 || uid == caller;
                let parent = fs::fstat(&dir)?;
                if links > MAX_LINKS
                    || !trusted(st.st_uid)
                    || !trusted(parent.st_uid)
                    || parent.st_mode & 0o022 != 0
                {
                    return Err(Errno::LOOP);
                }
                let target = fs::readlinkat(&fd, c"", Vec::new())?.into_bytes();
                let mut more = components(&target)?;
                more.reverse();
                rest.extend(more);
                if target.first() == Some(&b'/') {
                    dir = fs::openat(root, c".", flags | OFlags::DIRECTORY, Mode::empty())?;
                }
            }
            _ if rest.is_empty() => return Ok(fd),
            FileType::Directory => dir = fd,
            _ => return Err(Errno::NOTDIR),
        }
    }
    // The path named a directory (or nothing): not a socket.
    Err(Errno::NOENT)
}

/// The components of a path, without empty ones and `.`; `EXDEV` for `..`.
fn components(path: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| match c {
            b".." => Err(Errno::XDEV),
            c => Ok(c.to_vec()),
        })
        .collect()
}

/// Connect to the socket `fd` holds (an `O_PATH` descriptor, through
/// `/proc/self/fd/N`: that very inode), without blocking, and close at once, nothing
/// sent. Whether a listener answered, and its pid and uid in our PID namespace.
fn connect_to(fd: &OwnedFd) -> (bool, Option<(u32, u32)>) {
    use rustix::net::{
        connect, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType,
    };
    let Ok(sock) = socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    ) else {
        return (false, None);
    };
    let Ok(addr) = SocketAddrUnix::new(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
        return (false, None);
    };
    match connect(&sock, &addr) {
        Ok(()) => {}
        // A full backlog: somebody listens, but who cannot be asked.
        Err(Errno::AGAIN) => return (true, None),
        Err(_) => return (false, None),
    }
    // The kernel translates the pid into our PID namespace: 0 when the listener is not
    // visible from here.
    let peer = nix::sys::socket::getsockopt(&sock, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .and_then(|cred| {
            Some((
                u32::try_from(cred.pid()).ok().filter(|&p| p != 0)?,
                cred.uid(),
            ))
        });
    (true, peer)
}

/// What a daemon socket's name gave in one mount namespace.
#[derive(Debug, Default)]
struct Judged {
    /// The listening sockets that connections to the name reach.
    reached: Vec<u64>,
    /// Those bound under the name whose file is gone, while the name leads to a live
    /// listener: superseded, by a listener of `owner`.
    superseded: Vec<u64>,
    /// The user of the live listener at the name, if any: the socket file's owner, who
    /// is also the listener's uid where the peer credentials tell it.
    owner: Option<u32>,
    /// The process that listens at the name, checked to hold the socket.
    holder: Option<u32>,
    /// The owner of the socket file at the name: only that user's process serves it.
    file_owner: Option<u32>,
    /// The name could not be judged: every listener bound under it may be reached.
    unknown: Vec<u64>,
}

fn judge(res: Resolved, name: &[u8], table: &Table, deadline: Instant) -> Judged {
    let named: Vec<&Bound> = table
        .bound
        .iter()
        .filter(|b| b.name.as_deref() == Some(name))
        .collect();
    let (file, owner, peer, answered) = match res {
        Resolved::Socket {
            file,
            owner,
            peer,
            answered,
        } => (file, owner, peer, answered),
        Resolved::Absent => return Judged::default(),
        Resolved::Unknown => {
            return Judged {
                unknown: named.iter().map(|b| b.socket).collect(),
                ..Judged::default()
            }
        }
    };
    // Without the diagnostics every listener bound under the name may be the one
    // reached (fail closed); nothing is superseded.
    let reached: Vec<u64> = if table.exact {
        table
            .bound
            .iter()
            .filter(|b| reaches(b, file, name))
            .map(|b| b.socket)
            .collect()
    } else if answered {
        named.iter().map(|b| b.socket).collect()
    } else {
        Vec::new()
    };
    let live = !reached.is_empty();
    // Only a live listener of the socket's owner supersedes.
    let live_owner = (live && peer.is_none_or(|(_, uid)| uid == owner)).then_some(owner);
    let holder = peer.map(|(pid, _)| pid).filter(|&pid| {
        if !table.exact {
            return true;
        }
        let wanted = Wanted {
            reached: reached.iter().map(|&s| (0, s)).collect(),
            ..Wanted::default()
        };
        walk_fds(&format!("/proc/{pid}"), &wanted, deadline)
            .is_ok_and(|held| held.serving.is_some())
    });
    let superseded = match live_owner {
        Some(_) if table.exact => named
            .iter()
            .map(|b| b.socket)
            .filter(|s| !reached.contains(s))
            .collect(),
        _ => Vec::new(),
    };
    Judged {
        reached,
        superseded,
        owner: live_owner,
        holder,
        file_owner: Some(owner),
        unknown: Vec::new(),
    }
}

/// Whether connections to `name`, whose file is `file`, reach listener `b`: its bound
/// file is that file; or only the device differs, the inode is the same and it was
/// bound under this name (an overlay whose layers are on other file systems names the
/// upper layer's device in stat(), the overlay's in the diagnostics; btrfs subvolumes
/// likewise).
fn reaches(b: &Bound, file: FileId, name: &[u8]) -> bool {
    b.file == Some(file)
        || (b.name.as_deref() == Some(name) && b.file.is_some_and(|f| f.2 == file.2))
}

/// The facts of one candidate, from what its names gave in its own mount namespace
/// (`None`: its namespace could not be read) and a walk of its descriptors where that
/// is needed.
fn facts_of(
    c: &Candidate,
    dir: &str,
    names: &[Vec<u8>],
    judged: Option<&[Judged]>,
    table: &Table,
    listening: &HashSet<u64>,
    deadline: Instant,
) -> SocketFacts {
    let path = |i: usize| {
        use std::os::unix::ffi::OsStrExt;
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&names[i]))
    };
    let mut wanted = Wanted::default();
    for i in 0..names.len() {
        let Some(judged) = judged else {
            // Its namespace could not be read: any daemon listener it holds may serve.
            if !c.young {
                wanted.unsure.extend(
                    table
                        .bound
                        .iter()
                        .filter(|b| b.name.as_deref() == Some(&names[i][..]))
                        .map(|b| (i, b.socket)),
                );
            }
            continue;
        };
        let j = &judged[i];
        // Only a socket file of its own user counts: a listener of another user on a
        // path of ours protects nothing.
        let its_own = j.file_owner == Some(c.uid);
        if its_own && j.holder == Some(c.pid) {
            return SocketFacts {
                serving: Some(path(i)),
                listens: Some(true),
                ..SocketFacts::default()
            };
        }
        if j.owner == Some(c.uid) {
            wanted
                .superseded
                .extend(j.superseded.iter().map(|&s| (i, s)));
        }
        if !c.young {
            wanted.unsure.extend(j.unknown.iter().map(|&s| (i, s)));
            // A live listener whose holder could not be named: it may be this one.
            if its_own && j.holder.is_none() {
                wanted.reached.extend(j.reached.iter().map(|&s| (i, s)));
            }
        }
    }
    if c.young && c.replaced {
        wanted.listening = Some(listening);
    }
    if wanted.is_empty() {
        return SocketFacts::default();
    }
    match walk_fds(dir, &wanted, deadline) {
        Ok(held) => SocketFacts {
            serving: held.serving.map(path),
            superseded: held.superseded.filter(|_| held.serving.is_none()).map(path),
            listens: (wanted.listening.is_some() || held.listens).then_some(held.listens),
            serving_unknown: held.serving.is_none() && held.unsure,
        },
        // Cut short: whatever it may hold counts (fail closed).
        Err(held) => SocketFacts {
            serving: held.serving.map(path),
            superseded: None,
            listens: held.listens.then_some(true),
            serving_unknown: held.serving.is_none() && !wanted.only_listening(),
        },
    }
}

/// What a walk of one process's descriptors looks for: (name index, socket inode)
/// pairs, and any listening socket at all.
#[derive(Debug, Default)]
struct Wanted<'a> {
    /// Live listeners: holding one is serving.
    reached: Vec<(usize, u64)>,
    /// Holding one is being superseded.
    superseded: Vec<(usize, u64)>,
    /// Listeners under a name that could not be judged: holding one may be serving.
    unsure: Vec<(usize, u64)>,
    listening: Option<&'a HashSet<u64>>,
}

impl Wanted<'_> {
    fn is_empty(&self) -> bool {
        self.only_listening() && self.listening.is_none()
    }

    fn only_listening(&self) -> bool {
        self.reached.is_empty() && self.superseded.is_empty() && self.unsure.is_empty()
    }

    /// Whether nothing more can be learnt from the rest of the table.
    fn done(&self, held: &Held) -> bool {
        held.serving.is_some()
            || (self.reached.is_empty()
                && (self.superseded.is_empty() || held.superseded.is_some())
                && (self.unsure.is_empty() || held.unsure)
                && (self.listening.is_none() || held.listens))
    }
}

/// What a walk of one process's descriptors found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Held {
    serving: Option<usize>,
    superseded: Option<usize>,
    unsure: bool,
    listens: bool,
}

/// Walk the descriptors under `dir` (a process's `/proc` directory), comparing each socket's inode with the wanted ones, and
/// stop as soon as nothing more can be learnt (at once when it serves). `Err(partial)`
/// when the descriptors cannot be read or the deadline passed before the end.
fn walk_fds(dir: &str, wanted: &Wanted<'_>, deadline: Instant) -> Result<Held, Held> {
    use rustix::fs::{openat, readlinkat_raw, RawDir};
    let mut held = Held::default();
    let Ok(dir) = openat(
        CWD,
        format!("{dir}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return Err(held);
    };
    let mut dir_buf = Vec::<u8>::with_capacity(64 * 1024);
    let mut entries = RawDir::new(&dir, dir_buf.spare_capacity_mut());
    let mut link = [0u8; 64];
    let mut seen = 0u32;
    let find = |list: &[(usize, u64)], inode: u64| {
        list.iter().find(|&&(_, s)| s == inode).map(|&(i, _)| i)
    };
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
        if let Some(i) = find(&wanted.reached, inode) {
            held.serving = Some(i);
            held.listens = true;
        }
        if let Some(i) = find(&wanted.superseded, inode) {
            held.superseded = Some(i);
            held.listens = true;
        }
        if find(&wanted.unsure, inode).is_some() {
            held.unsure = true;
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
pub(super) fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One line of `/proc/net/unix`: the inode of a listening socket and its path.
/// `Num RefCount Protocol Flags Type St Inode Path`.
pub(super) fn parse_listener(line: &[u8]) -> Option<(u64, &[u8])> {
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

/// The listening sockets of a `/proc/net/unix` table, known by their bound name only.
fn bound_by_name(table: &[u8]) -> Vec<Bound> {
    table
        .split(|&b| b == b'\n')
        .filter_map(parse_listener)
        .map(|(socket, path)| Bound {
            socket,
            file: None,
            name: Some(path.to_vec()),
            uid: None,
        })
        .collect()
}

/// One line of `/proc/net/tcp` or `/proc/net/tcp6`: the inode of a listening socket
/// (`sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`, state `0A` is
/// `TCP_LISTEN`).
pub(super) fn parse_tcp_listener(line: &[u8]) -> Option<u64> {
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

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
