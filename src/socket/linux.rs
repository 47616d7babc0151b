//! The socket lookup on Linux: from each candidate's own descriptors, what the kernel
//! records of those sockets, and the file at each daemon socket's path as the
//! candidate sees it (see the module above). Nothing is connected to.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use rustix::fd::OwnedFd;
use rustix::fs::{self, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use super::diag::{Diag, Sock, LISTEN};
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
    // What each candidate holds, read from its own descriptor table: the cost grows
    // with the candidates, not with the sockets of the machine.
    let holdings: Vec<Holding> = candidates.iter().map(|c| holding(c, deadline)).collect();
    // What the kernel records of those sockets, for the candidates in our network
    // namespace (the diagnostics speak of no other).
    let asked: Vec<u64> = holdings
        .iter()
        .filter(|h| h.ours)
        .flat_map(|h| h.sockets.iter().copied())
        .collect::<HashSet<u64>>()
        .into_iter()
        .collect();
    let diag = Diag::open(deadline);
    let records = match (&diag, asked.is_empty()) {
        (_, true) => Some(HashMap::new()),
        (Some(diag), false) => diag.by_inode(&asked),
        (None, false) => None,
    };
    let mut tables = Tables::default();
    let mut facts: Vec<SocketFacts> = Vec::with_capacity(candidates.len());
    // The daemon listeners each exactly known candidate holds, to be judged by the file
    // at their path.
    let mut to_judge: Vec<(usize, Vec<&Sock>)> = Vec::new();
    for (i, (c, h)) in candidates.iter().zip(&holdings).enumerate() {
        facts.push(match (&records, h.ours, &h.dir) {
            // Exited since the scan: it is reported gone when its turn to be signalled
            // comes.
            (_, _, None) => SocketFacts::default(),
            (Some(records), true, Some(_)) if h.walk != Walk::Unreadable => {
                let held: Vec<&Sock> = h.sockets.iter().filter_map(|s| records.get(s)).collect();
                let daemon: Vec<&Sock> = held
                    .iter()
                    .copied()
                    .filter(|s| s.state == LISTEN && is_daemon(s, daemons))
                    .collect();
                let listens = held.iter().any(|s| s.state == LISTEN)
                    || (c.young && c.replaced && holds_tcp_listener(h, "/proc/self"));
                let f = SocketFacts {
                    connected: held
                        .iter()
                        .find(|s| s.has_live_peer() && is_daemon(s, daemons))
                        .and_then(|s| path_of(s.name.as_deref()?)),
                    listens: (listens || h.walk == Walk::Complete).then_some(listens),
                    serving_unknown: h.walk == Walk::Partial,
                    ..SocketFacts::default()
                };
                if !daemon.is_empty() {
                    to_judge.push((i, daemon));
                }
                f
            }
            // No diagnostics, another network namespace, descriptors that cannot be
            // read: the sockets are known by their bound name only.
            (_, _, Some(dir)) => {
                let table = tables.of(dir, h.ours);
                by_name(c, h, table, daemons, dir)
            }
        });
    }
    judge(
        candidates,
        &holdings,
        &to_judge,
        &mut facts,
        diag.as_ref(),
        deadline,
    );
    facts
}

/// Whether a socket is bound (or, accepted, was accepted) under a daemon socket's name.
fn is_daemon(s: &Sock, daemons: &Daemons) -> bool {
    s.name.as_deref().is_some_and(|n| daemons.matches(n))
}

fn path_of(name: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name)))
}

/// Judge each exactly known candidate's daemon listeners by the file at their path in
/// its own mount namespace: the listener bound to that very file serves it, whoever
/// called listen(); one whose file is gone while the path leads to a live listener
/// that its user made is superseded.
fn judge(
    candidates: &[Candidate],
    holdings: &[Holding],
    to_judge: &[(usize, Vec<&Sock>)],
    facts: &mut [SocketFacts],
    diag: Option<&Diag>,
    deadline: Instant,
) {
    // One resolution of each name in each mount namespace (and root) seen.
    let mut jobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut views: Vec<View> = Vec::new();
    let mut job_of: HashMap<(usize, Vec<u8>), usize> = HashMap::new();
    // Each judged candidate's view, as an index into `views`; `None` if unreadable.
    let mut view_at: Vec<Option<usize>> = Vec::with_capacity(to_judge.len());
    for (i, listeners) in to_judge {
        let dir = holdings[*i].dir.as_deref();
        let Some((dir, view)) = dir.and_then(|d| Some((d, view_of(d)?))) else {
            view_at.push(None);
            continue;
        };
        let v = views.iter().position(|s| *s == view).unwrap_or_else(|| {
            views.push(view);
            views.len() - 1
        });
        view_at.push(Some(v));
        for name in listeners.iter().filter_map(|s| s.name.clone()) {
            job_of.entry((v, name.clone())).or_insert_with(|| {
                jobs.push((dir.to_string(), name));
                jobs.len() - 1
            });
        }
    }
    let caller = rustix::process::geteuid().as_raw();
    let resolved = crate::sys::bounded_each(jobs, deadline, move |(dir, name)| {
        resolve(&dir, &name, caller)
    });
    // The files at the paths that only a live listener elsewhere can explain.
    let mut wanted: Vec<(usize, FileId, u32, PathBuf)> = Vec::new();
    for ((i, listeners), &v) in to_judge.iter().zip(&view_at) {
        let c = &candidates[*i];
        let mut unknown = v.is_none();
        let mut serving = None;
        for s in listeners {
            let (Some(v), Some(name)) = (v, s.name.as_deref()) else {
                continue;
            };
            let at = job_of.get(&(v, name.to_vec())).copied();
            match at.and_then(|j| resolved[j].as_ref()) {
                None | Some(Resolved::Unknown) => unknown = true,
                Some(Resolved::Absent) => {}
                // Only a socket file of its own user counts: a listener of another
                // user at a path of ours protects nothing.
                Some(&Resolved::Socket { file, owner }) if owner == c.uid => {
                    if reaches(s, file, name) {
                        serving = path_of(name);
                    } else if let Some(path) = path_of(name) {
                        wanted.push((*i, file, c.uid, path));
                    }
                }
                Some(Resolved::Socket { .. }) => {}
            }
        }
        let f = &mut facts[*i];
        if serving.is_some() {
            *f = SocketFacts {
                serving,
                listens: Some(true),
                connected: f.connected.take(),
                ..SocketFacts::default()
            };
            wanted.retain(|w| w.0 != *i);
        } else if unknown {
            f.serving_unknown = true;
        }
    }
    // Superseded: the path leads to a listener of the same user, live in the kernel's
    // table. A partial walk may hide what the candidate serves: never superseded then.
    wanted.retain(|w| holdings[w.0].walk == Walk::Complete && !facts[w.0].serving_unknown);
    if wanted.is_empty() {
        return;
    }
    let inodes: HashSet<u64> = wanted.iter().map(|w| w.1 .2).collect();
    let mut live: Vec<Sock> = Vec::new();
    let complete = diag.is_some_and(|d| {
        d.each_listener(|s| {
            // Matched by inode alone here; by device too, or by the bound name, below.
            if s.file.is_some_and(|f| inodes.contains(&f.2)) {
                live.push(s);
            }
        })
        .is_some()
    });
    for (i, file, uid, path) in wanted {
        use std::os::unix::ffi::OsStrExt;
        let name = path.as_os_str().as_bytes();
        let superseding = live
            .iter()
            .any(|s| s.uid.is_none_or(|u| u == uid) && reaches(s, file, name));
        if superseding {
            facts[i].superseded = Some(path);
        } else if !complete {
            // The table could not be read to its end: what is there is not known.
            facts[i].serving_unknown = true;
        }
    }
}

/// Where a candidate's facts are read from, and the sockets it holds.
#[derive(Debug)]
struct Holding {
    /// Its `/proc` directory (or a live thread's); `None` once it has exited.
    dir: Option<String>,
    /// Whether it is in our network namespace.
    ours: bool,
    /// The inodes of the sockets among its descriptors.
    sockets: Vec<u64>,
    walk: Walk,
}

/// How far a walk of a descriptor table got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Complete,
    /// Cut short by the deadline or an error: it may hold more.
    Partial,
    /// The table cannot be read at all (another user's process, a non-dumpable one).
    Unreadable,
}

fn holding(c: &Candidate, deadline: Instant) -> Holding {
    let Some(dir) = task_dir(c.pid) else {
        return Holding {
            dir: None,
            ours: true,
            sockets: Vec::new(),
            walk: Walk::Complete,
        };
    };
    let (sockets, walk) = walk_fds(&dir, deadline);
    let ours = sockets.is_empty() && walk == Walk::Complete || in_our_network_namespace(&dir);
    Holding {
        dir: Some(dir),
        ours,
        sockets,
        walk,
    }
}

/// The socket inodes among the descriptors under `dir` (a process's `/proc`
/// directory), as far as they could be read by the deadline.
fn walk_fds(dir: &str, deadline: Instant) -> (Vec<u64>, Walk) {
    use rustix::fs::{openat, readlinkat_raw, RawDir};
    let mut sockets = Vec::new();
    let Ok(fds) = openat(
        CWD,
        format!("{dir}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return (sockets, Walk::Unreadable);
    };
    let mut dir_buf = Vec::<u8>::with_capacity(64 * 1024);
    let mut entries = RawDir::new(&fds, dir_buf.spare_capacity_mut());
    let mut link = [0u8; 64];
    let mut seen = 0u32;
    while let Some(entry) = entries.next() {
        // The clock is read every so often: it costs as much as a readlink.
        seen += 1;
        if seen % 64 == 0 && Instant::now() >= deadline {
            return (sockets, Walk::Partial);
        }
        let Ok(entry) = entry else {
            return (sockets, Walk::Partial);
        };
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        // A descriptor closed since the listing is simply not there.
        let Ok(len) = readlinkat_raw(&fds, name, &mut link[..]) else {
            continue;
        };
        if let Some(inode) = socket_inode(&link[..len.min(link.len())]) {
            sockets.push(inode);
        }
    }
    (sockets, Walk::Complete)
}

/// The facts of a candidate whose sockets are known by their bound names only (from
/// `/proc/net/unix` of its network namespace): holding a listener under a daemon
/// socket's name may be serving it or being superseded on it, which cannot be told
/// apart without the kernel's records, so it is kept (fail closed), whatever its age
/// or executable. A table that cannot be read, or descriptors that cannot, keep it
/// when any daemon socket is there at all.
fn by_name(
    c: &Candidate,
    h: &Holding,
    table: Option<&NameTable>,
    daemons: &Daemons,
    dir: &str,
) -> SocketFacts {
    let Some(table) = table else {
        return SocketFacts {
            serving_unknown: true,
            ..SocketFacts::default()
        };
    };
    if h.walk == Walk::Unreadable {
        return SocketFacts {
            serving_unknown: table.daemon_named(daemons),
            ..SocketFacts::default()
        };
    }
    let listening: Vec<&[u8]> = h
        .sockets
        .iter()
        .filter_map(|s| table.listeners.get(s))
        .map(Vec::as_slice)
        .collect();
    let daemon = listening.iter().any(|n| daemons.matches(n))
        || h.sockets
            .iter()
            .filter_map(|s| table.connected.get(s))
            .any(|n| daemons.matches(n));
    let tcp = c.young && c.replaced && listening.is_empty() && holds_tcp_listener(h, dir);
    let listens = !listening.is_empty() || tcp;
    SocketFacts {
        listens: (listens || h.walk == Walk::Complete).then_some(listens),
        serving_unknown: daemon || h.walk == Walk::Partial,
        ..SocketFacts::default()
    }
}

/// The Unix sockets of one network namespace by their bound names, from
/// `/proc/PID/net/unix`.
#[derive(Debug, Default)]
struct NameTable {
    /// Listening sockets with a path.
    listeners: HashMap<u64, Vec<u8>>,
    /// Other sockets with a path (connections a listener accepted carry its name).
    connected: HashMap<u64, Vec<u8>>,
}

impl NameTable {
    fn parse(text: &[u8]) -> Self {
        let mut table = Self::default();
        for (inode, listening, path) in text.split(|&b| b == b'\n').filter_map(parse_unix_line) {
            let map = match listening {
                true => &mut table.listeners,
                false => &mut table.connected,
            };
            map.insert(inode, path.to_vec());
        }
        table
    }

    fn daemon_named(&self, daemons: &Daemons) -> bool {
        self.listeners.values().any(|n| daemons.matches(n))
    }
}

/// The name tables read in this lookup, one per network namespace.
#[derive(Default)]
struct Tables {
    read: HashMap<u64, Option<NameTable>>,
}

impl Tables {
    /// The table of the network namespace of the process whose `/proc` directory is
    /// `dir` (ours when `ours`); `None` if it cannot be read.
    fn of(&mut self, dir: &str, ours: bool) -> Option<&NameTable> {
        let dir = if ours { "/proc/self" } else { dir };
        let path = format!("{dir}/net/unix");
        let key = fs::stat(&path).ok()?.st_ino;
        self.read
            .entry(key)
            .or_insert_with(|| std::fs::read(&path).ok().map(|t| NameTable::parse(&t)))
            .as_ref()
    }
}

/// Whether any socket a candidate holds is a listening TCP socket of its network
/// namespace (`dir`'s `net/tcp` and `net/tcp6`): a daemon that listens on TCP.
fn holds_tcp_listener(h: &Holding, dir: &str) -> bool {
    let held: HashSet<u64> = h.sockets.iter().copied().collect();
    !held.is_empty()
        && ["tcp", "tcp6"].iter().any(|t| {
            std::fs::read(format!("{dir}/net/{t}")).is_ok_and(|text| {
                text.split(|&b| b == b'\n')
                    .filter_map(parse_tcp_listener)
                    .any(|inode| held.contains(&inode))
            })
        })
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved {
    /// A socket file, and its owner.
    Socket { file: FileId, owner: u32 },
    /// Nothing there, or not a socket.
    Absent,
    /// Could not be told: a symlink somebody else controls, no permission, `..`, a
    /// process gone, a path that did not answer in time.
    Unknown,
}

/// Resolve `name` as the process whose `/proc` directory is `dir` sees it, following
/// no symlink that a user other than the caller could have made, and look at the file
/// found there (without opening or connecting to it).
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
    Resolved::Socket {
        file: (
            fs::major(st.st_dev),
            fs::minor(st.st_dev),
            st.st_ino & 0xffff_ffff,
        ),
        owner: st.st_uid,
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

/// Whether listener `s`, bound under `name`, is the one bound to `file`, the file at
/// that path now: the same file; or only the device differs, the inode is the same and
/// it was bound under this name (an overlay whose layers are on other file systems
/// names the upper layer's device in stat(), the overlay's in the diagnostics; btrfs
/// subvolumes likewise).
fn reaches(s: &Sock, file: FileId, name: &[u8]) -> bool {
    s.file == Some(file)
        || (s.name.as_deref() == Some(name) && s.file.is_some_and(|f| f.2 == file.2))
}

/// The inode in a descriptor's link text `socket:[N]`.
pub(crate) fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One line of `/proc/net/unix` with a path: the socket's inode, whether it listens,
/// and its path. `Num RefCount Protocol Flags Type St Inode Path`.
pub(super) fn parse_unix_line(line: &[u8]) -> Option<(u64, bool, &[u8])> {
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
    (!path.is_empty() && path[0] != b'@').then_some((inode, flags & ACCEPTCON != 0, path))
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

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
