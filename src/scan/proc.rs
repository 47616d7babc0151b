//! The Linux backend: reads `/proc` directly, with no subprocess and no environment.
//!
//! Per process younger than the threshold whose kernel name cannot be one of the names
//! it costs open, one read and close of `/proc/PID/stat`. Only for the others: an fstat of that open file (its
//! owner, a cheap first filter by uid), `status` (the exact effective uid, the PID
//! namespace), `cmdline` (in full only for those whose program name matched), `exe` only
//! when argv[0] holds white space, and one more read of the still open `stat` for a
//! match, which proves that everything read belongs to the process first seen.

use std::io;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self, Mode, OFlags, RawDir};
use rustix::io::Errno;

use super::{
    mark_unknown_ancestry, matching_name_by_exe, role_of_no_parent, split_cmdline, ParentRole,
    Process, Query, Scan, Source,
};
use crate::Error;

/// `PF_KTHREAD` in the flags field: kernel threads are never candidates.
const PF_KTHREAD: u64 = 0x0020_0000;
/// Enough for any `/proc/PID/stat` line (comm is at most 64 bytes).
const STAT_BUF: usize = 1024;
/// The part of `cmdline` read to decide a name; longer command lines are read in full
/// only for matches.
const CMDLINE_PEEK: usize = 4096;
/// Far more than any `/proc/PID/status` (about 1.5 KiB).
const STATUS_LIMIT: usize = 64 * 1024;

/// The fields of `/proc/PID/stat` this tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat<'a> {
    pub(crate) pid: u32,
    pub(crate) comm: &'a [u8],
    pub(crate) state: u8,
    pub(crate) ppid: u32,
    pub(crate) pgrp: i32,
    pub(crate) tty_nr: i32,
    pub(crate) tpgid: i32,
    pub(crate) flags: u64,
    /// Field 20: threads in the process.
    pub(crate) num_threads: u64,
    /// Field 22: start time after boot, in clock ticks.
    pub(crate) start_ticks: u64,
    /// Field 24: resident set size, in pages.
    pub(crate) rss_pages: u64,
}

/// Parse one `/proc/PID/stat` line. The comm field may hold spaces and `)`, so it runs
/// from the first `(` to the last `)`.
pub(crate) fn parse_stat(line: &[u8]) -> Option<Stat<'_>> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = match line[open..].iter().position(|&b| b == b')') {
        // The usual line: no `)` after the first one, which `contains` (memchr) checks
        // faster than a byte-by-byte search from the end.
        Some(i) if !line[open + i + 1..].contains(&b')') => open + i,
        _ => line.iter().rposition(|&b| b == b')')?,
    };
    if close < open {
        return None;
    }
    let pid = parse_num(line[..open].strip_suffix(b" ")?)?;
    let comm = &line[open + 1..close];
    let mut fields = Fields(Some(line[close + 1..].strip_prefix(b" ")?));
    let state = match fields.next()? {
        [s] => *s,
        _ => return None,
    };
    let ppid = parse_num(fields.next()?)?;
    let pgrp = parse_signed(fields.next()?)?;
    let _session = fields.next()?;
    let tty_nr = parse_signed(fields.next()?)?;
    let tpgid = parse_signed(fields.next()?)?;
    let flags = parse_num(fields.next()?)?;
    // minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
    for _ in 0..10 {
        fields.next()?;
    }
    let num_threads = parse_signed::<i64>(fields.next()?)?.max(0) as u64;
    let _itrealvalue = fields.next()?;
    let start_ticks = parse_num(fields.next()?)?;
    let _vsize = fields.next()?;
    let rss_pages = parse_signed::<i64>(fields.next()?)?.max(0) as u64;
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        pgrp,
        tty_nr,
        tpgid,
        flags,
        num_threads,
        start_ticks,
        rss_pages,
    })
}

impl Stat<'_> {
    /// A leader whose main thread exited while other threads run shows `Z` with more
    /// than one thread: it is alive.
    pub(crate) fn live_threads(&self) -> bool {
        self.state == b'Z' && self.num_threads > 1
    }

    /// Exited (a zombie or dead), as opposed to running, stopped or sleeping.
    pub(crate) fn has_exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X') && !self.live_threads()
    }
}

/// The facts of `/proc/PID/status` this tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    /// The second field of `Uid:`. The owner of `/proc/PID` is not it: the kernel shows
    /// the files of a non-dumpable process and of a zombie as root's.
    pub(crate) euid: u32,
    /// Entries on the `NSpid:` line: more than one for a process in a PID namespace below
    /// that of `/proc` (1 where the kernel has no such line).
    pub(crate) pid_levels: usize,
}

/// Parse `/proc/PID/status`; `None` without a well-formed `Uid:` line.
pub(crate) fn parse_status(text: &[u8]) -> Option<Status> {
    let mut euid = None;
    let mut pid_levels = 1;
    for line in text.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"Uid:") {
            let mut ids = rest
                .split(|&b| b == b'\t' || b == b' ')
                .filter(|w| !w.is_empty());
            let (Some(_real), Some(effective)) = (ids.next(), ids.next()) else {
                return None;
            };
            euid = Some(parse_num(effective)?);
        } else if let Some(rest) = line.strip_prefix(b"NSpid:") {
            pid_levels = rest
                .split(|&b| b == b'\t' || b == b' ')
                .filter(|w| !w.is_empty())
                .count();
        }
    }
    Some(Status {
        euid: euid?,
        pid_levels,
    })
}

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

/// The fields of a line split at single spaces, as `split(|&b| b == b' ')` yields them,
/// in one plain loop: this parse runs for every process on the machine.
struct Fields<'a>(Option<&'a [u8]>);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.0?;
        let mut end = 0;
        while end < rest.len() && rest[end] != b' ' {
            end += 1;
        }
        self.0 = rest.get(end + 1..);
        Some(&rest[..end])
    }
}

/// A non-empty run of ASCII digits that fits `T`; no sign, no spaces.
fn parse_num<T: TryFrom<u64>>(field: &[u8]) -> Option<T> {
    if field.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    T::try_from(n).ok()
}

/// [`parse_num`] with an optional leading `-`.
fn parse_signed<T: TryFrom<i128>>(field: &[u8]) -> Option<T> {
    let (negative, digits) = match field.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, field),
    };
    let n = i128::from(parse_num::<u64>(digits)?);
    T::try_from(if negative { -n } else { n }).ok()
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

/// Whether a command-line prefix holds the end of argv[0], so that the program name can
/// be decided from it (an argv[0] with white space may be compared with the
/// executable's path whole).
pub(crate) fn argv0_ends(peek: &[u8]) -> bool {
    peek.contains(&0)
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

/// Whether a kernel name (`comm`, cut to 15 bytes) could be one of `names`.
fn comm_may_match(names: &[String], comm: &[u8]) -> bool {
    const TASK_COMM_MAX: usize = 15;
    names.iter().any(|n| {
        let n = n.as_bytes();
        n == comm || (comm.len() == TASK_COMM_MAX && n.starts_with(comm))
    })
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

impl Source for ProcSource {
    fn scan(&self, query: &Query<'_>) -> Result<Scan, Error> {
        let proc_dir = Self::open_proc()?;
        let now = self.now_ticks();
        let hz = self.ticks_per_sec;
        let mut stat_buf = Vec::with_capacity(STAT_BUF);
        let mut cmd_buf = Vec::with_capacity(CMDLINE_PEEK);
        let mut status_buf = Vec::new();
        let mut check_buf = Vec::new();
        let (ancestors, gap) = self.ancestors(&proc_dir, &mut stat_buf);
        let mut processes = Vec::new();
        // This process's mount namespace and root, read at the first match.
        let mut own = None;
        let mut parent_buf = Vec::new();
        let mut no_parent = None;
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
            let Some(path) = ProcPath::new(pid_bytes, b"stat") else {
                continue;
            };
            let Ok(fd) = open_in(&proc_dir, &path) else {
                continue;
            };
            if read_into(&fd, &mut stat_buf, STAT_BUF * 4).is_err() {
                continue;
            }
            let Some(stat) = parse_stat(&stat_buf) else {
                continue;
            };
            if stat.flags & PF_KTHREAD != 0 {
                continue;
            }
            let age_secs = now.saturating_sub(stat.start_ticks) / hz;
            // A young process can be stale only if it is superseded or replaced, which
            // is looked at only when its kernel name could be one of the names.
            let young = age_secs < query.min_age_secs;
            if young && !comm_may_match(query.names, stat.comm) {
                let left = query.min_age_secs - age_secs;
                unread_young_secs = Some(unread_young_secs.map_or(left, |s: u64| s.min(left)));
                continue;
            }
            // The stat file stays open: read again at the end, it proves that the
            // process is still the one first seen, so that every file read by path in
            // between (status, cmdline, exe) was its own even if the pid is reused.
            if let Some(uid) = query.uid {
                // The owner of /proc/PID is the effective uid, or root's (of some user
                // namespace) for a non-dumpable process or a zombie: another owner is
                // another user's process, and nothing more of it need be read. The
                // effective uid itself (status) is read only for a name match.
                let Ok(meta) = fs::fstat(&fd) else {
                    continue;
                };
                if meta.st_uid != uid && meta.st_uid != 0 {
                    continue;
                }
            }
            let Some(cmd_path) = ProcPath::new(pid_bytes, b"cmdline") else {
                continue;
            };
            let Ok(cmd_fd) = open_in(&proc_dir, &cmd_path) else {
                continue;
            };
            if read_into(&cmd_fd, &mut cmd_buf, CMDLINE_PEEK).is_err() {
                continue;
            }
            let mut complete = cmd_buf.len() < CMDLINE_PEEK;
            // argv[0] runs past the peek: the name needs all of it.
            if !complete && !argv0_ends(&cmd_buf) {
                if read_rest(&cmd_fd, &mut cmd_buf).is_err() {
                    continue;
                }
                complete = true;
            }
            let exe = || {
                let path = ProcPath::new(pid_bytes, b"exe")?;
                let target = fs::readlinkat(&proc_dir, path.as_cstr(), Vec::new()).ok()?;
                Some(target.into_bytes())
            };
            let same_file = |argv0: &[u8]| argv0_is_exe(&proc_dir, pid_bytes, argv0);
            let Some(name) = matching_name_by_exe(query.names, &cmd_buf, stat.comm, exe, same_file)
            else {
                continue;
            };
            let mut raw = cmd_buf.clone();
            // A match whose rest cannot be read (it just exited) is left out.
            if !complete && read_rest(&cmd_fd, &mut raw).is_err() {
                continue;
            }
            let Some(status) = self.read_status(&proc_dir, pid_bytes, &mut status_buf) else {
                continue;
            };
            if query.uid.is_some_and(|uid| uid != status.euid) {
                continue;
            }
            let replaced = exe_replaced(&proc_dir, pid_bytes, &mut own);
            // Still the same process: its open stat can be read and names the same start.
            if rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0)).is_err()
                || read_into(&fd, &mut check_buf, STAT_BUF * 4).is_err()
                || parse_stat(&check_buf).map(|s| s.start_ticks) != Some(stat.start_ticks)
            {
                continue;
            }
            let (parent_name, parent_role) =
                parent_facts(&proc_dir, stat.ppid, &mut no_parent, &mut parent_buf);
            processes.push(Process {
                pid,
                ppid: stat.ppid,
                uid: status.euid,
                pgrp: stat.pgrp,
                tpgid: stat.tpgid,
                has_tty: stat.tty_nr != 0,
                state: stat.state,
                start: stat.start_ticks,
                age_secs,
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
            });
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

/// `Private_Clean + Private_Dirty` of `/proc/PID/smaps_rollup`, in bytes: the memory
/// that ending the process frees. `None` unless both lines are there.
pub(crate) fn parse_private_bytes(raw: &[u8]) -> Option<u64> {
    let (mut clean, mut dirty) = (None, None);
    for line in raw.split(|&b| b == b'\n') {
        let slot = if let Some(rest) = line.strip_prefix(b"Private_Clean:") {
            (&mut clean, rest)
        } else if let Some(rest) = line.strip_prefix(b"Private_Dirty:") {
            (&mut dirty, rest)
        } else {
            continue;
        };
        let kib = slot.1.trim_ascii().strip_suffix(b"kB")?.trim_ascii();
        *slot.0 = Some(parse_num::<u64>(kib)?.checked_mul(1024)?);
    }
    clean?.checked_add(dirty?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from a Linux 6.x machine; `comm` set with prctl(PR_SET_NAME).
    const SLEEP: &[u8] = b"4242 (sleep) S 4100 4242 4100 34816 4242 4194304 97 0 0 0 0 0 0 0 20 0 1 0 123456 2273280 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const TRICKY: &[u8] = b"77 (a) b (c)) Z 1 77 77 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const KTHREAD: &[u8] = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    // Recorded from /proc/PID/smaps_rollup of a `sleep` on Linux 6.x.
    const ROLLUP: &[u8] =
        b"5581e4a2c000-7ffd6b1f6000 ---p 00000000 00:00 0                          [rollup]
Rss:                 896 kB
Pss:                 134 kB
Pss_Dirty:            92 kB
Pss_Anon:             88 kB
Pss_File:             46 kB
Pss_Shmem:             0 kB
Shared_Clean:        804 kB
Shared_Dirty:          0 kB
Private_Clean:         4 kB
Private_Dirty:        88 kB
Referenced:          896 kB
Anonymous:            88 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
";

    #[test]
    fn private_memory_is_private_clean_plus_private_dirty() {
        assert_eq!(parse_private_bytes(ROLLUP), Some(92 * 1024));
        assert_eq!(parse_private_bytes(b""), None);
        assert_eq!(parse_private_bytes(b"Private_Clean: 4 kB\n"), None);
        assert_eq!(
            parse_private_bytes(b"Private_Clean: x kB\nPrivate_Dirty: 1 kB\n"),
            None
        );
        assert_eq!(
            parse_private_bytes(b"Private_Dirty: 99999999999999999999 kB\nPrivate_Clean: 1 kB\n"),
            None
        );
    }

    #[test]
    fn this_process_has_private_memory_less_than_its_resident_size() {
        let source = ProcSource::new();
        let private = source.private_bytes(std::process::id()).unwrap();
        let raw = std::fs::read("/proc/self/stat").unwrap();
        let rss = parse_stat(&raw).unwrap().rss_pages * source.page_size;
        assert!(private > 0 && private <= rss, "{private} vs {rss}");
    }

    #[test]
    fn parses_a_plain_stat_line() {
        let s = parse_stat(SLEEP).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, b"sleep");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 4100);
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.tpgid, 4242);
        assert_eq!(s.start_ticks, 123_456);
        assert_eq!(s.rss_pages, 128);
    }

    #[test]
    fn comm_may_hold_spaces_and_parentheses() {
        let s = parse_stat(TRICKY).unwrap();
        assert_eq!(s.comm, b"a) b (c)");
        assert_eq!(s.state, b'Z');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.tpgid, -1);
        assert_eq!(s.start_ticks, 999);
    }

    #[test]
    fn kernel_threads_carry_pf_kthread() {
        let s = parse_stat(KTHREAD).unwrap();
        assert_ne!(s.flags & PF_KTHREAD, 0);
        assert_eq!(parse_stat(SLEEP).unwrap().flags & PF_KTHREAD, 0);
    }

    #[test]
    fn truncated_or_garbled_lines_are_rejected() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x"), None);
        assert_eq!(parse_stat(b"12 (x) S 1 2 3"), None);
        assert_eq!(parse_stat(b"x) (y"), None);
        assert_eq!(parse_stat(&SLEEP[..SLEEP.len() / 2]), None);
        let bad_pid = [b"-5".as_slice(), &SLEEP[4..]].concat();
        assert_eq!(parse_stat(&bad_pid), None);
        let bad_state = String::from_utf8_lossy(SLEEP).replace(") S ", ") SS ");
        assert_eq!(parse_stat(bad_state.as_bytes()), None);
    }

    #[test]
    fn numbers_are_plain_digits_that_fit() {
        assert_eq!(parse_num::<u32>(b"4194304"), Some(4_194_304));
        assert_eq!(parse_num::<u32>(b"007"), Some(7));
        assert_eq!(parse_num::<u32>(b"4294967296"), None);
        assert_eq!(parse_num::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_num::<u64>(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+1", b"-1", b" 1", b"1 ", b"1x", b"\n"] {
            assert_eq!(parse_num::<u64>(bad), None, "{bad:?}");
        }
        assert_eq!(parse_signed::<i32>(b"-1"), Some(-1));
        assert_eq!(parse_signed::<i32>(b"-2147483648"), Some(i32::MIN));
        assert_eq!(parse_signed::<i32>(b"2147483648"), None);
        assert_eq!(parse_signed::<i64>(b"-0"), Some(0));
        for bad in [&b""[..], b"-", b"--1", b"+1", b"-x"] {
            assert_eq!(parse_signed::<i64>(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fields_split_like_split_on_single_spaces() {
        for line in [&b"a b  c "[..], b"", b" ", b"abc", SLEEP] {
            let mut fields = Fields(Some(line));
            let mut split = line.split(|&b| b == b' ');
            loop {
                let (a, b) = (fields.next(), split.next());
                assert_eq!(a, b, "{line:?}");
                if a.is_none() {
                    break;
                }
            }
        }
    }

    #[test]
    fn proc_paths_are_nul_terminated() {
        let p = ProcPath::for_pid(4_194_304, b"cmdline").unwrap();
        assert_eq!(p.as_cstr().to_bytes(), b"4194304/cmdline");
        assert_eq!(
            ProcPath::for_pid(0, b"stat").unwrap().as_cstr().to_bytes(),
            b"0/stat"
        );
    }

    #[test]
    fn status_gives_the_effective_uid_and_pid_namespace_depth() {
        // Recorded from Linux 6.x: a setuid-like process (real 1000, effective 0) and a
        // process two PID namespaces deep.
        let status = b"Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7684\nNgid:\t0\nPid:\t7684\nPPid:\t7000\nTracerPid:\t0\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\nFDSize:\t64\nGroups:\t\nNStgid:\t7684\t1\nNSpid:\t7684\t1\nNSpgid:\t7684\t1\nThreads:\t1\n";
        assert_eq!(
            parse_status(status),
            Some(Status {
                euid: 0,
                pid_levels: 2
            })
        );
        let plain = b"Name:\tx\nUid:\t65534\t65534\t65534\t65534\nNSpid:\t12\n";
        assert_eq!(
            parse_status(plain).map(|s| (s.euid, s.pid_levels)),
            Some((65534, 1))
        );
        let old_kernel = b"Name:\tx\nUid:\t5\t6\t7\t8\n";
        assert_eq!(
            parse_status(old_kernel).map(|s| (s.euid, s.pid_levels)),
            Some((6, 1))
        );
        for bad in [
            &b""[..],
            b"Uid:\t1000\n",
            b"Uid:\t1000\tx\t0\t0\n",
            b"Name:\tUid:\n",
        ] {
            assert_eq!(parse_status(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_zombie_leader_with_threads_is_alive() {
        let leader = String::from_utf8_lossy(TRICKY).replace(" 20 0 1 0 999", " 20 0 3 0 999");
        let s = parse_stat(leader.as_bytes()).unwrap();
        assert_eq!((s.state, s.num_threads), (b'Z', 3));
        assert!(s.live_threads() && !s.has_exited());
        let zombie = parse_stat(TRICKY).unwrap();
        assert!(!zombie.live_threads() && zombie.has_exited());
        assert_eq!(parse_stat(SLEEP).unwrap().num_threads, 1);
    }

    #[test]
    fn this_process_owns_its_proc() {
        check_proc_is_ours().unwrap();
    }

    #[test]
    fn argv0_is_looked_up_where_the_process_sees_it() {
        use std::os::unix::ffi::OsStrExt;
        let proc_dir = ProcSource::open_proc().unwrap();
        let me = std::process::id().to_string();
        let exe = std::env::current_exe().unwrap();
        let exe = exe.as_os_str().as_bytes();
        assert_eq!(argv0_is_exe(&proc_dir, me.as_bytes(), exe), Some(true));
        // Relative to the working directory, through a symlink in a spaced directory.
        let dir = tempfile::Builder::new()
            .prefix("argv0 lookup")
            .tempdir()
            .unwrap();
        let link = dir.path().join("a tool");
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &link).unwrap();
        assert_eq!(
            argv0_is_exe(&proc_dir, me.as_bytes(), link.as_os_str().as_bytes()),
            Some(true)
        );
        let cwd = std::env::current_dir().unwrap();
        let relative = pathdiff(&link, &cwd);
        assert_eq!(
            argv0_is_exe(&proc_dir, me.as_bytes(), &relative),
            Some(true)
        );
        // Another file, or none: not the executable.
        assert_eq!(
            argv0_is_exe(&proc_dir, me.as_bytes(), b"/bin/sh"),
            Some(false)
        );
        assert_eq!(
            argv0_is_exe(&proc_dir, me.as_bytes(), b"patina serve --test"),
            Some(false)
        );
        // No such process: cannot tell.
        assert_eq!(argv0_is_exe(&proc_dir, b"999999999", exe), None);
    }

    /// `path` relative to `base` (`../..` as needed).
    fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let common = path
            .components()
            .zip(base.components())
            .take_while(|(a, b)| a == b)
            .count();
        let mut out = std::path::PathBuf::new();
        for _ in base.components().skip(common) {
            out.push("..");
        }
        for c in path.components().skip(common) {
            out.push(c);
        }
        out.as_os_str().as_bytes().to_vec()
    }

    #[test]
    fn reads_this_process_from_the_real_proc() {
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let src = ProcSource::new();
        let proc_dir = ProcSource::open_proc().unwrap();
        let mut buf = Vec::new();
        src.read_stat(&proc_dir, me, &mut buf).unwrap();
        let stat = parse_stat(&buf).unwrap();
        assert_eq!(stat.pid, me);
        assert!(src.is_same_live(me, stat.start_ticks).unwrap());
        assert!(!src.is_same_live(me, stat.start_ticks + 1).unwrap());
        assert!(!src.is_same_live(u32::MAX, 1).unwrap());
        let (chain, gap) = src.ancestors(&proc_dir, &mut buf);
        assert_eq!(gap, None, "{chain:?}");
        assert_eq!(chain[0], me);
        assert!(chain.len() >= 2, "{chain:?}");
    }
}

/// Property tests; `PROPTEST_CASES=100000 cargo test proptests` runs them longer.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::scan::matching_name;
    use proptest::prelude::*;

    /// The fields of one stat line, as the kernel would print them.
    #[derive(Debug, Clone)]
    struct Line {
        pid: u32,
        comm: Vec<u8>,
        state: u8,
        ppid: u32,
        pgrp: i32,
        session: i32,
        tty_nr: i32,
        tpgid: i32,
        flags: u32,
        middle: Vec<i64>,
        start: u64,
        vsize: u64,
        rss: i64,
        tail: Vec<u64>,
    }

    impl Line {
        /// The text, and the offset where the rss field starts.
        fn render(&self) -> (Vec<u8>, usize) {
            let mut out = format!("{} (", self.pid).into_bytes();
            out.extend_from_slice(&self.comm);
            out.extend_from_slice(b") ");
            out.push(self.state);
            let mut head = format!(
                " {} {} {} {} {} {}",
                self.ppid, self.pgrp, self.session, self.tty_nr, self.tpgid, self.flags
            );
            for n in &self.middle {
                head.push_str(&format!(" {n}"));
            }
            head.push_str(&format!(" {} {} ", self.start, self.vsize));
            out.extend_from_slice(head.as_bytes());
            let rss_at = out.len();
            out.extend_from_slice(self.rss.to_string().as_bytes());
            for n in &self.tail {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
            out.push(b'\n');
            (out, rss_at)
        }
    }

    fn line() -> impl Strategy<Value = Line> {
        (
            (
                any::<u32>(),
                // Any bytes but NUL, spaces, parentheses and newlines included; 64 is
                // the longest a kernel thread's name gets.
                prop::collection::vec(1u8..=255, 0..=64),
                prop::sample::select(b"RSDZTtXxKWPI".to_vec()),
                any::<u32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
            ),
            (
                any::<u32>(),
                prop::collection::vec(any::<i64>(), 12),
                any::<u64>(),
                any::<u64>(),
                any::<i64>(),
                // The kernel prints 52 fields: rss is never the last.
                prop::collection::vec(any::<u64>(), 1..30),
            ),
        )
            .prop_map(
                |(
                    (pid, comm, state, ppid, pgrp, session, tty_nr, tpgid),
                    (flags, middle, start, vsize, rss, tail),
                )| Line {
                    pid,
                    comm,
                    state,
                    ppid,
                    pgrp,
                    session,
                    tty_nr,
                    tpgid,
                    flags,
                    middle,
                    start,
                    vsize,
                    rss,
                    tail,
                },
            )
    }

    const SAMPLE: &[u8] = b"4242 (sleep) S 4100 4242 4100 34816 4242 4194304 97 0 0 0 0 0 0 0 20 0 1 0 123456 2273280 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    proptest! {
        #[test]
        fn any_bytes_are_parsed_or_rejected_without_panic(
            raw in prop::collection::vec(any::<u8>(), 0..600)
        ) {
            let _ = parse_stat(&raw);
        }

        #[test]
        fn a_damaged_real_line_is_parsed_or_rejected_without_panic(
            edits in prop::collection::vec((0..SAMPLE.len(), any::<u8>()), 1..8),
            cut in 0..=SAMPLE.len(),
        ) {
            let mut raw = SAMPLE.to_vec();
            for (at, byte) in edits {
                raw[at] = byte;
            }
            raw.truncate(cut);
            let _ = parse_stat(&raw);
        }

        #[test]
        fn every_kernel_line_parses_back_to_its_fields(line in line()) {
            let (raw, _) = line.render();
            let s = parse_stat(&raw).expect("a well-formed line");
            prop_assert_eq!(s.pid, line.pid);
            prop_assert_eq!(s.comm, &line.comm[..]);
            prop_assert_eq!(s.state, line.state);
            prop_assert_eq!(s.ppid, line.ppid);
            prop_assert_eq!(s.pgrp, line.pgrp);
            prop_assert_eq!(s.tty_nr, line.tty_nr);
            prop_assert_eq!(s.tpgid, line.tpgid);
            prop_assert_eq!(s.flags, u64::from(line.flags));
            prop_assert_eq!(s.start_ticks, line.start);
            prop_assert_eq!(s.rss_pages, line.rss.max(0) as u64);
        }

        #[test]
        fn a_line_cut_before_its_rss_field_is_rejected(line in line(), cut in any::<prop::sample::Index>()) {
            let (raw, rss_at) = line.render();
            let cut = cut.index(rss_at + 1);
            prop_assert_eq!(parse_stat(&raw[..cut]), None);
        }

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
