//! The preflight's proof of a clean scan: "nothing can be stale before T unless one of
//! these files or processes changes", left by a scan that found nothing to do, so that
//! the next `patina` start checks it in a few system calls instead of scanning.
//!
//! A process can only become stale by age at (its start + threshold), and one that is
//! new since the scan needs the whole threshold. A daemon is superseded only when a new
//! listener binds its socket's path (the file there changes); a listener is replaced
//! only when its executable's path gets a new file (an upgrade). A process kept
//! `attached` becomes a candidate when its parent goes (its ppid changes). So the proof
//! holds T (at most the threshold, and never more than an hour), the threshold, the
//! boot, PID and mount namespaces it was made in, the files whose change could make
//! something stale (each daemon socket seen and the caller's default one, each
//! listener's executable) and the attached processes with their parent. The executable that made it is one more
//! watched file, not an identity its reader must share: `patina` linking the library
//! and `patina-reap --preflight` read each other's proofs, and an upgrade of the one
//! that made it voids it. Any difference, or a proof that cannot be read, parsed or
//! trusted (not a regular file of the caller's with one link), means a scan: a forged or
//! stale proof can only delay a cleanup, never cause a signal.
//!
//! One file per user, name set and scope holds the last proof, whatever its threshold
//! and PID namespace (a start with another one scans and replaces it), so that starts in
//! sandboxes sharing /tmp, or with changing thresholds, leave no more files behind.
//!
//! Every look at those files runs on a thread of its own and gets [`LOOK_BUDGET`]: a
//! file system that does not answer (a network home whose server is gone) means no
//! proof, never a wait.
//!
//! Linux only; elsewhere every start scans.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The first line of a proof; a proof of another form is none.
const HEADER: &str = "patina-reap proof 3";

/// The longest a proof is taken for: a daemon that stops listening without its socket
/// file going, say, is seen within this time.
const MAX_VALID_SECS: u64 = 3600;

/// The most one look at the proof's files may take (less by the preflight's deadline).
const LOOK_BUDGET: Duration = Duration::from_millis(100);

/// A look at files that got no answer in time: their file system does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoAnswer;

/// The files at `paths` now ([`file_id`]), looked at on a thread of their own and taken
/// by `deadline` or [`LOOK_BUDGET`] from now, whichever comes first; a look still
/// blocked then is left to finish alone.
fn ids_within(paths: &[PathBuf], deadline: Instant) -> Result<Vec<Option<FileId>>, NoAnswer> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let deadline = deadline.min(Instant::now() + LOOK_BUDGET);
    crate::sys::bounded_each(vec![paths.to_vec()], deadline, |paths: Vec<PathBuf>| {
        paths.iter().map(|p| file_id(p)).collect()
    })
    .pop()
    .flatten()
    .ok_or(NoAnswer)
}

/// Whether the proof at `path` holds for a run with `threshold_secs`, its files looked
/// at by `deadline` (within the bound of [`ids_within`]).
pub(crate) fn check(path: &Path, threshold_secs: u64, deadline: Instant) -> Result<bool, NoAnswer> {
    read(path).map_or(Ok(false), |p| p.holds(threshold_secs, deadline))
}

/// The file at `path` now, looked at by `deadline` (within the bound of [`ids_within`]).
pub(crate) fn seen(path: &Path, deadline: Instant) -> Result<Option<FileId>, NoAnswer> {
    let ids = ids_within(std::slice::from_ref(&path.to_owned()), deadline)?;
    Ok(ids.into_iter().next().flatten())
}

/// A file's identity: (device, inode, change time in seconds and nanoseconds); the
/// change time tells a new file that got a freed inode number from the old one.
pub(crate) type FileId = (u64, u64, i64, i64);

/// What one proof says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Proof {
    /// `CLOCK_BOOTTIME` second until which it holds.
    until: u64,
    /// The threshold, in seconds, it was made for.
    threshold: u64,
    boot_id: String,
    pid_ns: u64,
    mount_ns: u64,
    /// Paths and the file each held, `None` where there was none; the executable that
    /// made the proof among them.
    files: Vec<(PathBuf, Option<FileId>)>,
    /// (pid, start ticks, ppid) of processes whose parent keeps them.
    attached: Vec<(u32, u64, u32)>,
}

/// A proof being put together from a run's facts.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    threshold: u64,
    /// Seconds from now; `None` once something makes a proof impossible.
    valid_secs: Option<u64>,
    /// Each watched file and the file it held when it was seen.
    files: Vec<(PathBuf, Option<FileId>)>,
    attached: Vec<(u32, u64, u32)>,
}

impl Builder {
    /// A proof that holds at most `threshold_secs` from now (and an hour).
    pub(crate) fn new(threshold_secs: u64) -> Self {
        Self {
            threshold: threshold_secs,
            valid_secs: Some(threshold_secs.min(MAX_VALID_SECS)),
            ..Self::default()
        }
    }

    /// Nothing can be proved: the next start scans.
    pub(crate) fn impossible(&mut self) {
        self.valid_secs = None;
    }

    /// Something may change in `secs`.
    pub(crate) fn until_within(&mut self, secs: u64) {
        self.valid_secs = self.valid_secs.map(|v| v.min(secs));
    }

    /// Files whose change (made, replaced, removed) could make something stale, as they
    /// are now; where their file system does not answer by `deadline` (within the bound
    /// of [`ids_within`]), nothing can be proved.
    pub(crate) fn watch_files(&mut self, paths: Vec<PathBuf>, deadline: Instant) {
        if self.valid_secs.is_none() {
            return;
        }
        match ids_within(&paths, deadline) {
            Ok(ids) => {
                for (path, id) in paths.into_iter().zip(ids) {
                    self.watch_file_as(path, Ok(id));
                }
            }
            Err(NoAnswer) => self.impossible(),
        }
    }

    /// A watched file with the file it held when it was [`seen`] earlier (before the
    /// scan): a change since then voids the proof, and so does no answer then.
    pub(crate) fn watch_file_as(&mut self, path: PathBuf, seen: Result<Option<FileId>, NoAnswer>) {
        let Ok(id) = seen else {
            return self.impossible();
        };
        if !self.files.iter().any(|(p, _)| *p == path) {
            self.files.push((path, id));
        }
    }

    /// A process kept by its live parent: a candidate once that parent goes.
    pub(crate) fn watch_parent(&mut self, pid: u32, start: u64, ppid: u32) {
        self.attached.push((pid, start, ppid));
    }

    /// The proof, with the files as they were seen and the executable that made it;
    /// `None` if impossible, already expired, a watched file changed while the run went
    /// on (a daemon bound since: the next start must look), or the look at them got no
    /// answer by `deadline` (within the bound of [`ids_within`]).
    pub(crate) fn finish(mut self, deadline: Instant) -> Option<Proof> {
        let secs = self.valid_secs.filter(|&s| s > 0)?;
        if same_files(&self.files, deadline) != Ok(true) {
            return None;
        }
        let here = Here::now()?;
        let (exe, exe_id) = own_executable()?;
        if !self.files.iter().any(|(p, _)| *p == exe) {
            self.files.push((exe, Some(exe_id)));
        }
        Some(Proof {
            until: here.boot_secs + secs,
            threshold: self.threshold,
            boot_id: here.boot_id,
            pid_ns: here.pid_ns,
            mount_ns: here.mount_ns,
            files: self.files,
            attached: self.attached,
        })
    }
}

/// The path of this process's executable and the file there, when that file is the one
/// running (not replaced or removed since it started, and seen at that path from here);
/// else `None`, and no proof is made.
fn own_executable() -> Option<(PathBuf, FileId)> {
    #[cfg(target_os = "linux")]
    {
        let path = std::fs::read_link("/proc/self/exe").ok()?;
        let id = file_id(&path)?;
        let running = followed_id(Path::new("/proc/self/exe"))?;
        ((id.0, id.1) == running).then_some((path, id))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The facts of the calling process that a proof is tied to.
struct Here {
    boot_secs: u64,
    boot_id: String,
    pid_ns: u64,
    mount_ns: u64,
}

impl Here {
    fn now() -> Option<Self> {
        #[cfg(target_os = "linux")]
        {
            let boot_secs =
                rustix::time::clock_gettime(rustix::time::ClockId::Boottime).tv_sec as u64;
            let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            Some(Self {
                boot_secs,
                boot_id: boot_id.trim().to_owned(),
                pid_ns: crate::sys::pid_namespace()?,
                mount_ns: rustix::fs::stat("/proc/self/ns/mnt").ok()?.st_ino,
            })
        }
        #[cfg(not(target_os = "linux"))]
        None
    }
}

/// The identity of the file at `path` itself (a symlink is not followed).
// The field types differ between architectures.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn file_id(path: &Path) -> Option<FileId> {
    let st =
        rustix::fs::statat(rustix::fs::CWD, path, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
    let (dev, ino) = dev_ino(&st);
    Some((dev, ino, st.st_ctime as i64, st.st_ctime_nsec as i64))
}

/// (device, inode) of the file `path` leads to.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn followed_id(path: &Path) -> Option<(u64, u64)> {
    rustix::fs::stat(path).ok().map(|st| dev_ino(&st))
}

// The field types differ between architectures.
#[allow(clippy::unnecessary_cast)]
fn dev_ino(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

impl Proof {
    /// Whether it still holds for a run with `threshold_secs`: the same threshold, same
    /// boot, before T, same PID and mount namespaces, every file as it was (the
    /// executable that made it included; looked at by `deadline`, within the bound of
    /// [`ids_within`]; no answer is no proof), every attached process still the same one
    /// under the same parent.
    pub(crate) fn holds(&self, threshold_secs: u64, deadline: Instant) -> Result<bool, NoAnswer> {
        let Some(here) = Here::now() else {
            return Ok(false);
        };
        let so_far = self.threshold == threshold_secs
            && here.boot_secs < self.until
            && here.boot_id == self.boot_id
            && here.pid_ns == self.pid_ns
            && here.mount_ns == self.mount_ns
            && self
                .attached
                .iter()
                .all(|&(pid, start, ppid)| still_under(pid, start, ppid));
        if !so_far {
            return Ok(false);
        }
        same_files(&self.files, deadline)
    }

    /// The proof as text: one fact a line, paths in hex, `end` last.
    pub(crate) fn to_text(&self) -> String {
        let mut out = format!(
            "{HEADER}\nuntil {}\nthreshold {}\nboot {}\npidns {}\nmntns {}\n",
            self.until, self.threshold, self.boot_id, self.pid_ns, self.mount_ns
        );
        for (path, id) in &self.files {
            let hex = hex(path);
            match id {
                Some((dev, ino, sec, nsec)) => {
                    out.push_str(&format!("file {hex} {dev} {ino} {sec} {nsec}\n"))
                }
                None => out.push_str(&format!("absent {hex}\n")),
            }
        }
        for (pid, start, ppid) in &self.attached {
            out.push_str(&format!("attached {pid} {start} {ppid}\n"));
        }
        out.push_str("end\n");
        out
    }

    /// Parse [`to_text`](Self::to_text)'s form; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut proof = Self::default();
        let mut ended = false;
        for line in lines {
            if ended {
                return None;
            }
            let words: Vec<&str> = line.split(' ').collect();
            let num = |i: usize| words.get(i)?.parse::<u64>().ok();
            let signed = |i: usize| words.get(i)?.parse::<i64>().ok();
            match (words[0], words.len()) {
                ("until", 2) => proof.until = num(1)?,
                ("threshold", 2) => proof.threshold = num(1)?,
                ("boot", 2) => proof.boot_id = words[1].to_owned(),
                ("pidns", 2) => proof.pid_ns = num(1)?,
                ("mntns", 2) => proof.mount_ns = num(1)?,
                ("file", 6) => proof.files.push((
                    unhex(words[1])?,
                    Some((num(2)?, num(3)?, signed(4)?, signed(5)?)),
                )),
                ("absent", 2) => proof.files.push((unhex(words[1])?, None)),
                ("attached", 4) => proof.attached.push((
                    u32::try_from(num(1)?).ok()?,
                    num(2)?,
                    u32::try_from(num(3)?).ok()?,
                )),
                ("end", 1) => ended = true,
                _ => return None,
            }
        }
        (ended && proof.until > 0 && !proof.boot_id.is_empty()).then_some(proof)
    }
}

/// Whether each of `files` still holds the file it held, looked at by `deadline`
/// (within the bound of [`ids_within`]).
fn same_files(files: &[(PathBuf, Option<FileId>)], deadline: Instant) -> Result<bool, NoAnswer> {
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let ids = ids_within(&paths, deadline)?;
    Ok(files.iter().zip(ids).all(|((_, was), now)| *was == now))
}

/// Whether `pid` is still the process that started at `start`, under parent `ppid`.
fn still_under(pid: u32, start: u64, ppid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            return false;
        };
        crate::scan::proc::parse_stat(&stat)
            .is_some_and(|s| s.start_ticks == start && s.ppid == ppid && !s.has_exited())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, start, ppid);
        false
    }
}

fn hex(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unhex(text: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    if text.is_empty() || text.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes?)))
}

/// Read the proof at `path`: a regular file of the caller's with one link, opened
/// without following a symlink; `None` for anything else.
pub(crate) fn read(path: &Path) -> Option<Proof> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .ok()?;
    let meta = rustix::fs::fstat(&fd).ok()?;
    let regular =
        rustix::fs::FileType::from_raw_mode(meta.st_mode) == rustix::fs::FileType::RegularFile;
    let ours = meta.st_uid == rustix::process::geteuid().as_raw();
    if !regular || !ours || meta.st_nlink != 1 || meta.st_size > 64 * 1024 {
        return None;
    }
    let mut buf = vec![0u8; meta.st_size as usize + 1];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    Proof::parse(std::str::from_utf8(&buf[..n]).ok()?)
}

/// Write `proof` to `path` (a file of the caller's, as the lock is); where that cannot
/// be done safely, nothing is written and the next start scans.
pub(crate) fn write(path: &Path, proof: &Proof) {
    if let Some(fd) = crate::lock::open_own_file(path) {
        let _ = rustix::fs::ftruncate(&fd, 0);
        let _ = rustix::io::pwrite(&fd, proof.to_text().as_bytes(), 0);
    }
}

/// Forget any proof at `path`: the next start scans. Where there is none, no file is
/// made.
pub(crate) fn forget(path: &Path) {
    if file_id(path).is_none() {
        return;
    }
    if let Some(fd) = crate::lock::open_own_file(path) {
        let _ = rustix::fs::ftruncate(&fd, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deadline no look at a local file reaches.
    #[cfg(target_os = "linux")]
    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn sample() -> Proof {
        Proof {
            until: 1234,
            threshold: 86400,
            boot_id: "0f5e".into(),
            pid_ns: 4026531836,
            mount_ns: 4026531841,
            files: vec![
                (
                    "/home/u/.patina/run/serve.sock".into(),
                    Some((2049, 12, 1700, -1)),
                ),
                ("/home/a b/\n.sock".into(), None),
            ],
            attached: vec![(42, 9000, 7)],
        }
    }

    #[test]
    fn a_proof_reads_back_as_written_and_nothing_else_parses() {
        let p = sample();
        assert_eq!(Proof::parse(&p.to_text()), Some(p.clone()));
        let text = p.to_text();
        // Cut short, extended after the end, an unknown line, a bad number: no proof.
        assert_eq!(Proof::parse(&text.replace("end\n", "")), None);
        assert_eq!(Proof::parse(&format!("{text}file 00 1 2\n")), None);
        assert_eq!(Proof::parse(&text.replace("until", "untill")), None);
        assert_eq!(
            Proof::parse(&text.replace("mntns 4026531841", "mntns x")),
            None
        );
        assert_eq!(Proof::parse(&text.replace(HEADER, "v2")), None);
        // The first form, which tied a proof to its reader's executable, and the second,
        // which did not record its threshold and PID namespace.
        let first = text.replace(HEADER, "patina-reap proof 1");
        assert_eq!(Proof::parse(&first), None);
        assert_eq!(
            Proof::parse(&text.replace(HEADER, "patina-reap proof 2")),
            None
        );
        assert_eq!(
            Proof::parse(&first.replace("mntns 4026531841\n", "mntns 4026531841\nexe 1 2\n")),
            None
        );
        assert_eq!(Proof::parse(""), None);
        assert_eq!(Proof::parse("patina-reap proof 1\nend\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_proof_holds_until_a_watched_file_changes_or_its_time_is_up() {
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join("serve.sock");
        let mut b = Builder::new(3600);
        b.watch_files(vec![watched.clone()], later());
        let proof = b.finish(later()).unwrap();
        assert_eq!(proof.holds(3600, later()), Ok(true));
        std::fs::write(&watched, b"").unwrap();
        assert_eq!(
            proof.holds(3600, later()),
            Ok(false),
            "a file that appeared"
        );
        let mut b = Builder::new(3600);
        b.watch_files(vec![watched.clone()], later());
        let proof = b.finish(later()).unwrap();
        assert_eq!(proof.holds(3600, later()), Ok(true));
        std::fs::remove_file(&watched).unwrap();
        std::fs::write(&watched, b"").unwrap();
        assert_eq!(
            proof.holds(3600, later()),
            Ok(false),
            "a file replaced by another"
        );
        // A file that changed between being seen and the proof's end: no proof.
        let mut b = Builder::new(3600);
        b.watch_files(vec![watched.clone()], later());
        std::fs::remove_file(&watched).unwrap();
        assert_eq!(b.finish(later()), None);
        let mut expired = proof.clone();
        expired.until = 1;
        assert_eq!(expired.holds(3600, later()), Ok(false));
        let mut other_boot = proof.clone();
        other_boot.boot_id.push('x');
        assert_eq!(other_boot.holds(3600, later()), Ok(false));
        // Made for another threshold, or in another PID namespace: it says nothing.
        assert_eq!(proof.holds(3599, later()), Ok(false));
        let mut other_pid_ns = proof.clone();
        other_pid_ns.pid_ns += 1;
        assert_eq!(other_pid_ns.holds(3600, later()), Ok(false));
        // A proof made impossible, or with no time left, is none.
        let mut b = Builder::new(3600);
        b.impossible();
        assert_eq!(b.finish(later()), None);
        assert_eq!(Builder::new(0).finish(later()), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_proof_holds_for_any_reader_until_the_executable_that_made_it_changes() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let proof = Builder::new(3600).finish(later()).unwrap();
        assert_eq!(proof.files, vec![(exe.clone(), file_id(&exe))]);
        assert_eq!(proof.holds(3600, later()), Ok(true));
        // Made by another program (`patina-reap --preflight`, read here as by `patina`
        // linking the library): it holds all the same, until that program is upgraded.
        let dir = tempfile::tempdir().unwrap();
        let maker = dir.path().join("patina-reap");
        std::fs::write(&maker, b"v1").unwrap();
        let mut theirs = proof.clone();
        theirs.files = vec![(maker.clone(), file_id(&maker))];
        assert_eq!(theirs.holds(3600, later()), Ok(true));
        std::fs::write(dir.path().join("new"), b"v2").unwrap();
        std::fs::rename(dir.path().join("new"), &maker).unwrap();
        assert_eq!(
            theirs.holds(3600, later()),
            Ok(false),
            "the maker was upgraded"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_proof_file_of_another_user_or_a_hard_link_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.proof");
        let proof = Builder::new(60).finish(later()).unwrap();
        write(&path, &proof);
        assert_eq!(read(&path), Some(proof.clone()));
        let link = dir.path().join("link.proof");
        std::fs::hard_link(&path, &link).unwrap();
        assert_eq!(read(&path), None, "two links");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read(&link), None, "a symlink");
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            assert_eq!(read(&path), None, "another user's");
        }
        forget(&link);
        assert_eq!(std::fs::read(&path).unwrap().len(), proof.to_text().len());
    }
}
