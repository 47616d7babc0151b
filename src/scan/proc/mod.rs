//! The Linux backend: reads `/proc` directly, with no subprocess and no environment.
//!
//! Per process younger than the threshold whose kernel name cannot be one of the names
//! it costs open, one read and close of `/proc/PID/stat`. Only for the others: an fstat of that open file (its
//! owner, a cheap first filter by uid), `status` (the exact effective uid, the PID
//! namespace), `cmdline` (in full only for those whose program name matched), `exe` only
//! when argv[0] holds white space, and one more read of the still open `stat` for a
//! match, which proves that everything read belongs to the process first seen. A young
//! process whose kernel name could be one of the names is read that far only when it
//! holds a socket (its descriptors' links, `fd/`, read after the fstat): only a socket
//! can make it stale.
//!
//! The parsers of what is read, and the name matching that needs nothing more, are in
//! [`parse`].

mod parse;

use std::io;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self, Mode, OFlags, RawDir};
use rustix::io::Errno;

pub(crate) use self::parse::parse_stat;
use self::parse::{
    argv0_ends, comm_may_match, matching_name_by_exe, parse_num, parse_private_bytes, parse_status,
    split_cmdline, Stat, Status, PF_KTHREAD,
};
use super::{mark_unknown_ancestry, role_of_no_parent, ParentRole, Process, Query, Scan, Source};
use crate::Error;

/// Enough for any `/proc/PID/stat` line (comm is at most 64 bytes).
const STAT_BUF: usize = 1024;
/// The part of `cmdline` read to decide a name; longer command lines are read in full
/// only for matches.
const CMDLINE_PEEK: usize = 4096;
/// Far more than any `/proc/PID/status` (about 1.5 KiB).
const STATUS_LIMIT: usize = 64 * 1024;
/// The most descriptors of a young process [`holds_socket`] reads the links of; a
/// process with more is read in full and left to the socket lookup, which is bounded in
/// time.
const FD_PEEK: usize = 256;

/// Whether `/proc/self` names this process: a `/proc` mounted for another PID namespace
/// (`unshare --pid --fork` without `--mount-proc`) lists processes by numbers that
/// signals here would send to others.
pub(crate) fn check_proc_is_ours() -> Result<(), Error> {
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let target =
        fs::readlink("/proc/self", Vec::new()).map_err(|e| Error::scan("/proc/self", e.into()))?;
    let seen = parse_num::<u32>(target.as_bytes());
    if seen == Some(me) {
        return Ok(());
    }
    Err(Error::ForeignProc {
        seen: String::from_utf8_lossy(target.as_bytes()).into_owned(),
        pid: me,
    })
}

/// The `/proc` process source.
#[derive(Debug)]
pub(crate) struct ProcSource {
    ticks_per_sec: u64,
    page_size: u64,
}

impl ProcSource {
    pub(crate) fn new() -> Self {
        Self {
            ticks_per_sec: rustix::param::clock_ticks_per_second().max(1),
            page_size: rustix::param::page_size() as u64,
        }
    }

    /// Now, in clock ticks since boot (`CLOCK_BOOTTIME`, which `/proc/uptime` is not in
    /// containers).
    fn now_ticks(&self) -> u64 {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        let hz = self.ticks_per_sec as u128;
        let ticks = now.tv_sec as u128 * hz + now.tv_nsec as u128 * hz / 1_000_000_000;
        ticks as u64
    }
}

/// `PID/name` as a NUL-terminated path relative to `/proc`, without allocating.
struct ProcPath {
    buf: [u8; 40],
    len: usize,
}

impl ProcPath {
    fn new(pid: &[u8], file: &[u8]) -> Option<Self> {
        let mut buf = [0u8; 40];
        let len = pid.len() + 1 + file.len();
        if len >= buf.len() {
            return None;
        }
        buf[..pid.len()].copy_from_slice(pid);
        buf[pid.len()] = b'/';
        buf[pid.len() + 1..len].copy_from_slice(file);
        Some(Self { buf, len })
    }

    fn for_pid(pid: u32, file: &[u8]) -> Option<Self> {
        let mut digits = [0u8; 10];
        let mut n = pid;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self::new(&digits[i..], file)
    }

    fn as_cstr(&self) -> &std::ffi::CStr {
        std::ffi::CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or_default()
    }
}

fn open_in(dir: impl AsFd, path: &ProcPath) -> io::Result<OwnedFd> {
    Ok(fs::openat(
        dir,
        path.as_cstr(),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?)
}

/// Read `fd` from its start into `buf`, reusing its allocation, until end of file or at
/// least `limit` bytes. A short read ends it: procfs fills every read as far as it can,
/// so a `stat` line costs one read.
fn read_into(fd: impl AsFd, buf: &mut Vec<u8>, limit: usize) -> io::Result<()> {
    buf.clear();
    while buf.len() < limit {
        if buf.capacity() - buf.len() < 64 {
            buf.reserve(buf.capacity().max(STAT_BUF));
        }
        let want = buf.capacity() - buf.len();
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(buf)) {
            Ok(n) if n < want => break,
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Append the rest of `fd` to `buf`.
fn read_rest(fd: impl AsFd, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut rest = Vec::new();
    read_into(fd, &mut rest, usize::MAX)?;
    buf.extend_from_slice(&rest);
    Ok(())
}

impl ProcSource {
    /// Read and parse one process's stat into `buf`; `None` when it is gone or unreadable.
    fn read_stat(&self, proc_dir: impl AsFd, pid: u32, buf: &mut Vec<u8>) -> Option<()> {
        let path = ProcPath::for_pid(pid, b"stat")?;
        let fd = open_in(proc_dir, &path).ok()?;
        read_into(&fd, buf, STAT_BUF * 4).ok()
    }

    fn open_proc() -> Result<OwnedFd, Error> {
        fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::scan("/proc", e.into()))
    }

    /// This process and its ancestors, following ppid until pid 1 or a parent outside
    /// this PID namespace (ppid 0); and, when an ancestor could not be read (hidepid, a
    /// parent that just exited), the start time of the topmost one that could.
    fn ancestors(&self, proc_dir: impl AsFd + Copy, buf: &mut Vec<u8>) -> (Vec<u32>, Option<u64>) {
        let mut chain = vec![rustix::process::getpid().as_raw_nonzero().get() as u32];
        // Before this process's own stat is read, nothing is known: all may be above.
        let mut last_start = u64::MAX;
        while chain.len() < 4096 {
            let pid = chain[chain.len() - 1];
            let stat = self
                .read_stat(proc_dir, pid, buf)
                .and_then(|()| parse_stat(buf));
            match stat {
                Some(stat) if stat.pid == pid => {
                    last_start = stat.start_ticks;
                    if stat.ppid == 0 || chain.contains(&stat.ppid) {
                        return (chain, None);
                    }
                    // PID 1 of our namespace is the top: nothing can lie above it here,
                    // so it need not be readable (hidepid hides root's init from users).
                    if stat.ppid == 1 {
                        chain.push(1);
                        return (chain, None);
                    }
                    chain.push(stat.ppid);
                }
                _ => return (chain, Some(last_start)),
            }
        }
        (chain, Some(last_start))
    }

    /// `/proc/PID/status` of an open process; `None` when it cannot be read.
    fn read_status(&self, proc_dir: impl AsFd, pid: &[u8], buf: &mut Vec<u8>) -> Option<Status> {
        let path = ProcPath::new(pid, b"status")?;
        let fd = open_in(proc_dir, &path).ok()?;
        read_into(&fd, buf, STATUS_LIMIT).ok()?;
        parse_status(buf)
    }
}

/// (device, inode) of a file under `/proc`, following the magic links there.
fn file_id(proc_dir: impl AsFd, pid: &[u8], file: &[u8]) -> Option<(u64, u64)> {
    let path = ProcPath::new(pid, file)?;
    let st = fs::statat(proc_dir, path.as_cstr(), fs::AtFlags::empty()).ok()?;
    Some(dev_ino(&st))
}

// The field types differ between architectures.
#[allow(clippy::unnecessary_cast)]
fn dev_ino(st: &fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

/// Where a process lives: its mount namespace and root directory. Paths it runs from
/// mean the same to this process only when both are the same.
type Place = Option<((u64, u64), (u64, u64))>;

fn place(proc_dir: impl AsFd + Copy, pid: &[u8]) -> Place {
    Some((
        file_id(proc_dir, pid, b"ns/mnt")?,
        file_id(proc_dir, pid, b"root")?,
    ))
}

/// How long [`argv0_is_exe`] waits for its lookup (a path on a dead network mount can
/// block); after that the answer is unknown.
const ARGV0_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether the whole argv\[0\] of `pid`, which holds white space, resolves to the
/// process's executable: the same file (device and inode) as `/proc/PID/exe`, looked up
/// where the process sees it (an absolute path under `/proc/PID/root`, a relative one
/// under `/proc/PID/cwd`), symlinks followed. `Some(false)` when no such file exists
/// (a title such as `patina serve --test`), `None` when it cannot be told: the lookup
/// failed otherwise or took longer than [`ARGV0_LOOKUP_TIMEOUT`] (it runs on a thread
/// of its own, left to finish, with `AT_NO_AUTOMOUNT` and `AT_STATX_DONT_SYNC`).
/// Asked only for argv\[0\] with white space whose readings differ and one of them is
/// a wanted name, so it is rare and cheap.
fn argv0_is_exe(proc_dir: impl AsFd, pid: &[u8], argv0: &[u8]) -> Option<bool> {
    let dir = rustix::io::fcntl_dupfd_cloexec(proc_dir, 0).ok()?;
    let mut exe = pid.to_vec();
    exe.extend_from_slice(b"/exe");
    let mut path = pid.to_vec();
    path.extend_from_slice(if argv0.starts_with(b"/") {
        b"/root"
    } else {
        b"/cwd/"
    });
    path.extend_from_slice(argv0);
    let (tell, answer) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("argv0-lookup".into())
        .spawn(move || {
            let flags = fs::AtFlags::NO_AUTOMOUNT | fs::AtFlags::STATX_DONT_SYNC;
            let id = |path: &[u8]| {
                fs::statx(&dir, path, flags, fs::StatxFlags::INO)
                    .map(|x| (x.stx_dev_major, x.stx_dev_minor, x.stx_ino))
            };
            let same = match (id(&exe), id(&path)) {
                (Ok(exe), Ok(path)) => Some(exe == path),
                (Ok(_), Err(Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG)) => Some(false),
                _ => None,
            };
            let _ = tell.send(same);
        })
        .ok()?;
    answer.recv_timeout(ARGV0_LOOKUP_TIMEOUT).ok().flatten()
}

/// Whether the executable of `pid` was replaced since it started: `/proc/PID/exe` reads
/// ` (deleted)`, or, for a process in this process's mount namespace and root, its path
/// now names another file. Whatever cannot be read counts as not replaced.
fn exe_replaced(proc_dir: impl AsFd + Copy, pid: &[u8], own: &mut Option<Place>) -> bool {
    let Some(exe) = ProcPath::new(pid, b"exe") else {
        return false;
    };
    let Ok(target) = fs::readlinkat(proc_dir, exe.as_cstr(), Vec::new()) else {
        return false;
    };
    let deleted = target.as_bytes().ends_with(b" (deleted)");
    let own = *own.get_or_insert_with(|| place(proc_dir, b"self"));
    if own.is_none() || place(proc_dir, pid) != own {
        return deleted;
    }
    let Some(running) = file_id(proc_dir, pid, b"exe") else {
        return false;
    };
    match fs::stat(target.as_c_str()) {
        Ok(now) => dev_ino(&now) != running,
        // The path names nothing any more: deleted, or renamed away.
        Err(Errno::NOENT | Errno::NOTDIR) => true,
        Err(_) => false,
    }
}

/// The kernel name and the role of the parent `ppid`, its stat read into `buf`. A
/// parent that cannot be read has no name and an unknown role; a parent called
/// `systemd` is the user's service manager only if its executable is systemd's and it
/// runs with `--user` (anything can name itself `systemd`).
fn parent_facts(
    proc_dir: impl AsFd + Copy,
    ppid: u32,
    no_parent: &mut Option<ParentRole>,
    buf: &mut Vec<u8>,
) -> (Option<String>, ParentRole) {
    match ppid {
        0 => return (None, *no_parent.get_or_insert_with(role_of_no_parent)),
        // PID 1 need not be readable (hidepid hides root's init from users).
        1 => return (read_comm(proc_dir, 1, buf), ParentRole::Init),
        _ => {}
    }
    let Some(name) = read_comm(proc_dir, ppid, buf) else {
        return (None, ParentRole::Unknown);
    };
    if name != "systemd" {
        return (Some(name), ParentRole::Other);
    }
    let exe = ProcPath::for_pid(ppid, b"exe")
        .and_then(|path| fs::readlinkat(proc_dir, path.as_cstr(), Vec::new()).ok());
    let cmdline = ProcPath::for_pid(ppid, b"cmdline").and_then(|path| {
        let fd = open_in(proc_dir, &path).ok()?;
        let mut raw = Vec::new();
        read_rest(&fd, &mut raw).ok()?;
        Some(raw)
    });
    let role = match (exe, cmdline) {
        (Some(exe), Some(raw)) => {
            let exe = exe.as_bytes();
            // Upgraded since it started: still systemd.
            let exe = exe.strip_suffix(b" (deleted)").unwrap_or(exe);
            ParentRole::of_live_parent(exe, raw.split(|&b| b == 0))
        }
        // Its executable or arguments cannot be read: not known to be an adopter.
        _ => ParentRole::Other,
    };
    (Some(name), role)
}

/// The kernel name of `pid`, its stat read into `buf`.
fn read_comm(proc_dir: impl AsFd, pid: u32, buf: &mut Vec<u8>) -> Option<String> {
    let path = ProcPath::for_pid(pid, b"stat")?;
    let fd = open_in(proc_dir, &path).ok()?;
    read_into(&fd, buf, STAT_BUF * 4).ok()?;
    let stat = parse_stat(buf)?;
    Some(String::from_utf8_lossy(stat.comm).into_owned())
}

/// A process the scan reads further: its `stat`, still open and parsed, and its age.
struct Candidate<'a> {
    pid: u32,
    pid_bytes: &'a [u8],
    /// Read again at the end ([`still_the_same`]).
    stat_fd: OwnedFd,
    stat: Stat<'a>,
    age_secs: u64,
}

/// What one scan reuses from process to process: buffers, and facts read once.
struct Scratch {
    cmdline: Vec<u8>,
    status: Vec<u8>,
    check: Vec<u8>,
    parent: Vec<u8>,
    /// The listing of a descriptor table.
    fds: Vec<u8>,
    /// This process's mount namespace and root, read at the first match.
    own: Option<Place>,
    /// The role of a parent outside this PID namespace, told at the first such process.
    no_parent: Option<ParentRole>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            cmdline: Vec::with_capacity(CMDLINE_PEEK),
            status: Vec::new(),
            check: Vec::new(),
            parent: Vec::new(),
            fds: Vec::with_capacity(8 * 1024),
            own: None,
            no_parent: None,
        }
    }
}

/// Open `/proc/PID/stat`, read it into `buf` and parse it; the file stays open.
fn open_stat<'b>(
    proc_dir: impl AsFd,
    pid: &[u8],
    buf: &'b mut Vec<u8>,
) -> Option<(OwnedFd, Stat<'b>)> {
    let path = ProcPath::new(pid, b"stat")?;
    let fd = open_in(proc_dir, &path).ok()?;
    read_into(&fd, buf, STAT_BUF * 4).ok()?;
    Some((fd, parse_stat(buf)?))
}

/// Whether the owner of an open `/proc/PID/stat` lets the process be `uid`'s. The owner
/// of /proc/PID is the effective uid, or root's (of some user namespace) for a
/// non-dumpable process or a zombie: another owner is another user's process, and
/// nothing more of it need be read. The effective uid itself (status) is read only for
/// a name match.
fn owner_may_be(stat_fd: &OwnedFd, uid: Option<u32>) -> bool {
    let Some(uid) = uid else {
        return true;
    };
    let Ok(meta) = fs::fstat(stat_fd) else {
        return false;
    };
    meta.st_uid == uid || meta.st_uid == 0
}

/// The wanted name that `pid` answers to and its whole command line. `cmdline` is read
/// [`CMDLINE_PEEK`] bytes first, the rest only for a match or when argv\[0\] runs past
/// them; `None` for no match, or when it cannot be read.
fn read_name<'n>(
    proc_dir: &OwnedFd,
    pid: &[u8],
    comm: &[u8],
    names: &'n [String],
    buf: &mut Vec<u8>,
) -> Option<(&'n String, Vec<u8>)> {
    let path = ProcPath::new(pid, b"cmdline")?;
    let fd = open_in(proc_dir, &path).ok()?;
    read_into(&fd, buf, CMDLINE_PEEK).ok()?;
    let mut complete = buf.len() < CMDLINE_PEEK;
    // argv[0] runs past the peek: the name needs all of it.
    if !complete && !argv0_ends(buf) {
        read_rest(&fd, buf).ok()?;
        complete = true;
    }
    let exe = || {
        let path = ProcPath::new(pid, b"exe")?;
        let target = fs::readlinkat(proc_dir, path.as_cstr(), Vec::new()).ok()?;
        Some(target.into_bytes())
    };
    let same_file = |argv0: &[u8]| argv0_is_exe(proc_dir, pid, argv0);
    let name = matching_name_by_exe(names, buf, comm, exe, same_file)?;
    let mut raw = buf.clone();
    // A match whose rest cannot be read (it just exited) is left out.
    if !complete {
        read_rest(&fd, &mut raw).ok()?;
    }
    Some((name, raw))
}

/// Whether `pid` holds a socket among its descriptors (the links in `/proc/PID/fd`):
/// `Some(false)` only when all of them were read and none is a socket. `None` when that
/// cannot be told cheaply: the table cannot be read (another user's process, a
/// non-dumpable one) or holds more than [`FD_PEEK`] descriptors. Not for a process whose
/// main thread exited while others run: its own table shows nothing. `buf` is for the
/// listing.
fn holds_socket(proc_dir: impl AsFd, pid: &[u8], buf: &mut Vec<u8>) -> Option<bool> {
    let path = ProcPath::new(pid, b"fd")?;
    let fds = fs::openat(
        proc_dir,
        path.as_cstr(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut entries = RawDir::new(&fds, buf.spare_capacity_mut());
    let mut link = [0u8; 64];
    let mut seen = 0;
    while let Some(entry) = entries.next() {
        let entry = entry.ok()?;
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        seen += 1;
        if seen > FD_PEEK {
            return None;
        }
        // A descriptor closed since the listing is simply not there.
        let Ok(len) = fs::readlinkat_raw(&fds, name, &mut link[..]) else {
            continue;
        };
        if crate::socket::socket_inode(&link[..len.min(link.len())]).is_some() {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether the process whose `stat` is open is still the one first seen: its open stat
/// can be read again and names the same start.
fn still_the_same(stat_fd: &OwnedFd, start_ticks: u64, buf: &mut Vec<u8>) -> bool {
    rustix::fs::seek(stat_fd, rustix::fs::SeekFrom::Start(0)).is_ok()
        && read_into(stat_fd, buf, STAT_BUF * 4).is_ok()
        && parse_stat(buf).map(|s| s.start_ticks) == Some(start_ticks)
}

impl ProcSource {
    /// The record of a process that passed the cheap filters (its owner among them), if
    /// it is `query`'s: run by its user and answering to one of its names. Its stat file
    /// stays open: read again at the end, it proves that the process is still the one
    /// first seen, so that every file read by path in between (status, cmdline, exe) was
    /// its own even if the pid is reused.
    fn read_candidate(
        &self,
        proc_dir: &OwnedFd,
        candidate: Candidate<'_>,
        query: &Query<'_>,
        scratch: &mut Scratch,
    ) -> Option<Process> {
        let (pid_bytes, stat) = (candidate.pid_bytes, candidate.stat);
        let (name, raw) = read_name(
            proc_dir,
            pid_bytes,
            stat.comm,
            query.names,
            &mut scratch.cmdline,
        )?;
        let status = self.read_status(proc_dir, pid_bytes, &mut scratch.status)?;
        if query.uid.is_some_and(|uid| uid != status.euid) {
            return None;
        }
        let replaced = exe_replaced(proc_dir, pid_bytes, &mut scratch.own);
        if !still_the_same(&candidate.stat_fd, stat.start_ticks, &mut scratch.check) {
            return None;
        }
        let (parent_name, parent_role) = parent_facts(
            proc_dir,
            stat.ppid,
            &mut scratch.no_parent,
            &mut scratch.parent,
        );
        Some(Process {
            pid: candidate.pid,
            ppid: stat.ppid,
            uid: status.euid,
            pgrp: stat.pgrp,
            tpgid: stat.tpgid,
            has_tty: stat.tty_nr != 0,
            state: stat.state,
            start: stat.start_ticks,
            age_secs: candidate.age_secs,
            rss_bytes: stat.rss_pages * self.page_size,
            name: name.clone(),
            argv: split_cmdline(&raw),
            parent_name,
            parent_role,
            replaced,
            comm_matches: comm_may_match(query.names, stat.comm),
            sockets: Default::default(),
            live_threads: stat.live_threads(),
            other_namespace: status.pid_levels > 1,
            ancestry_unknown: false,
        })
    }
}

impl Source for ProcSource {
    fn scan(&self, query: &Query<'_>) -> Result<Scan, Error> {
        let proc_dir = Self::open_proc()?;
        let now = self.now_ticks();
        let hz = self.ticks_per_sec;
        let mut stat_buf = Vec::with_capacity(STAT_BUF);
        let mut scratch = Scratch::new();
        let (ancestors, gap) = self.ancestors(&proc_dir, &mut stat_buf);
        let mut processes = Vec::new();
        let mut unread_young_secs = None;

        let mut dir_buf = Vec::<u8>::with_capacity(32 * 1024);
        let mut dir = RawDir::new(&proc_dir, dir_buf.spare_capacity_mut());
        while let Some(entry) = dir.next() {
            let entry = entry.map_err(|e| Error::scan("/proc", e.into()))?;
            let pid_bytes = entry.file_name().to_bytes();
            let Some(pid) = parse_num::<u32>(pid_bytes) else {
                continue;
            };
            // Each step below may fail because the process just exited or is hidden
            // (hidepid): such an entry is skipped, never fatal.
            let Some((stat_fd, stat)) = open_stat(&proc_dir, pid_bytes, &mut stat_buf) else {
                continue;
            };
            if stat.flags & PF_KTHREAD != 0 {
                continue;
            }
            let age_secs = now.saturating_sub(stat.start_ticks) / hz;
            // A young process can be stale only if it is superseded on a daemon socket
            // or a replaced listener, which is looked at only when its kernel name could
            // be one of the names and it holds a socket at all.
            let young = age_secs < query.min_age_secs;
            let mut leave_unread = || {
                let left = query.min_age_secs - age_secs;
                unread_young_secs = Some(unread_young_secs.map_or(left, |s: u64| s.min(left)));
            };
            if young && !comm_may_match(query.names, stat.comm) {
                leave_unread();
                continue;
            }
            if !owner_may_be(&stat_fd, query.uid) {
                continue;
            }
            // A main thread that exited while others run shows no descriptors of theirs.
            if young
                && !stat.live_threads()
                && holds_socket(&proc_dir, pid_bytes, &mut scratch.fds) == Some(false)
            {
                leave_unread();
                continue;
            }
            let candidate = Candidate {
                pid,
                pid_bytes,
                stat_fd,
                stat,
                age_secs,
            };
            processes.extend(self.read_candidate(&proc_dir, candidate, query, &mut scratch));
        }
        let mut scan = Scan {
            processes,
            ancestors,
            unread_young_secs,
            ..Scan::default()
        };
        mark_unknown_ancestry(&mut scan, gap);
        Ok(scan)
    }

    fn is_same_live(&self, pid: u32, start: u64) -> io::Result<bool> {
        // One descriptor only: this runs while a batch of pidfds may fill the table.
        let path = format!("/proc/{pid}/stat");
        let fd = match fs::open(
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::SRCH) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let mut buf = Vec::with_capacity(STAT_BUF);
        match read_into(&fd, &mut buf, STAT_BUF * 4) {
            Ok(()) => {}
            // The process went away while its stat was read.
            Err(e) if e.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => return Ok(false),
            Err(e) => return Err(e),
        }
        if buf.is_empty() {
            return Ok(false);
        }
        let stat = parse_stat(&buf)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable stat"))?;
        Ok(stat.start_ticks == start && !stat.has_exited())
    }

    fn supports_pidfd(&self) -> bool {
        true
    }

    fn private_bytes(&self, pid: u32) -> Option<u64> {
        // The kernel walks the page tables for this: read only for processes to reap.
        let raw = std::fs::read(format!("/proc/{pid}/smaps_rollup")).ok()?;
        parse_private_bytes(&raw)
    }
}

#[cfg(test)]
mod tests;

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::scan::matching_name;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_peek_decides_as_the_whole_command_line_would(
            name in "[a-z]{1,8}",
            pad in (CMDLINE_PEEK - 24)..(CMDLINE_PEEK + 8),
            suffix in prop::sample::select(vec!["", "-index", "x", " serve"]),
            more in prop::collection::vec("[a-z ]{0,9}", 0..3),
        ) {
            // The scan reads CMDLINE_PEEK bytes, decides, and reads the rest only for
            // a match: that must agree with deciding on the whole command line.
            let mut raw = format!("/{}/{name}{suffix}", "d".repeat(pad)).into_bytes();
            for arg in more {
                raw.push(0);
                raw.extend_from_slice(arg.as_bytes());
            }
            raw.push(0);
            let names = [name];
            let peek = &raw[..raw.len().min(CMDLINE_PEEK)];
            let decided_on = if peek.len() < CMDLINE_PEEK || argv0_ends(peek) {
                peek
            } else {
                &raw[..]
            };
            prop_assert_eq!(
                matching_name(&names, decided_on, b"comm"),
                matching_name(&names, &raw, b"comm")
            );
        }

        #[test]
        fn proc_paths_name_the_pid_and_file(pid in any::<u32>(), file in prop::sample::select(vec!["stat", "cmdline"])) {
            let path = ProcPath::for_pid(pid, file.as_bytes()).unwrap();
            let text = format!("{pid}/{file}");
            prop_assert_eq!(path.as_cstr().to_bytes(), text.as_bytes());
        }
    }
}
