//! One reaper at a time per user, program name and PID namespace: an advisory lock (flock) on a file of
//! the user's own in the temporary directory, so that reapers started together (two
//! `patina` commands at once) do not all signal, and report, the same stale processes.
//! Reapers looking for other names cannot have the same targets and do not wait.
//!
//! The lock only makes reports exact; safety never depends on it. Where it cannot be
//! had safely (no temporary directory, a file there that is not ours), reaping goes on
//! without it.
//!
//! The file lives in `$XDG_RUNTIME_DIR` when that is an absolute path to a directory of
//! ours, else in an absolute `$TMPDIR`, else in `/tmp` (never in the current directory).
//! Its holder writes its PID into it: a holder that is stopped (Ctrl-Z, a debugger)
//! holds nobody up; the others go on without the lock (Linux; elsewhere they wait
//! their time as for a running holder).
//!
//! On Linux the file's name carries the PID namespace (the inode of /proc/self/ns/pid):
//! reapers in different namespaces see different processes, so they never have the same
//! targets, and a sandbox sharing /tmp cannot hold up the reapers outside it. So the
//! holder's PID, which means something only in its own namespace, is read only by
//! reapers of that namespace.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fd::OwnedFd;
use rustix::fs::{self, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

/// The state of the per-user reap lock.
#[derive(Debug)]
pub(crate) enum ReapLock {
    /// Held until dropped.
    Held(#[allow(dead_code)] OwnedFd),
    /// Another reaper holds it.
    Busy,
    /// No lock could be set up; go on without one.
    Unavailable,
}

/// `patina-reap-UID-HASH.lock` (`patina-reap-UID-pidnsINODE-HASH.lock` on Linux), HASH
/// a stable FNV-1a of the sorted names.
fn lock_path(names: &[String]) -> PathBuf {
    let (dir, uid, hash) = place(names);
    let namespace = pid_namespace().map_or_else(String::new, |ino| format!("pidns{ino}-"));
    dir.join(format!("patina-reap-{uid}-{namespace}{hash:016x}.lock"))
}

/// Where the preflight keeps its proof of a clean scan for `names` and, unless they are
/// the defaults, the other settings that decide what is stale (`scope`, a text naming
/// them: a scan for other daemon sockets or users proves nothing about the defaults',
/// nor the reverse): beside the lock, `patina-reap-UID-HASH.proof`
/// (`…-HASH-sSCOPEHASH.proof`), one file whatever the threshold and PID namespace (the
/// proof records both).
pub(crate) fn proof_path(names: &[String], scope: Option<&str>) -> PathBuf {
    let (dir, uid, hash) = place(names);
    let scope = scope.map_or_else(String::new, |s| format!("-s{:016x}", fnv1a(s)));
    dir.join(format!("patina-reap-{uid}-{hash:016x}{scope}.proof"))
}

/// The directory of the lock and the proof, the caller's uid and the hash of `names`.
fn place(names: &[String]) -> (PathBuf, u32, u64) {
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let hash = fnv1a(&sorted.join("\0"));
    let uid = rustix::process::geteuid().as_raw();
    let dir = lock_dir(
        std::env::var_os("XDG_RUNTIME_DIR"),
        std::env::var_os("TMPDIR"),
        uid,
    );
    (dir, uid, hash)
}

/// A stable FNV-1a hash of `text`, for file names.
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The inode of this process's PID namespace; `None` where there are none (or it cannot
/// be read: then every such reaper shares one file, as before namespaces were told).
fn pid_namespace() -> Option<u64> {
    crate::sys::pid_namespace()
}

/// `$XDG_RUNTIME_DIR` if it is an absolute path to a directory `uid` owns, else an
/// absolute `$TMPDIR`, else `/tmp`.
fn lock_dir(xdg_runtime_dir: Option<OsString>, tmpdir: Option<OsString>, uid: u32) -> PathBuf {
    if let Some(dir) = xdg_runtime_dir.map(PathBuf::from) {
        let ours = fs::stat(&dir).is_ok_and(|meta| {
            fs::FileType::from_raw_mode(meta.st_mode) == fs::FileType::Directory
                && meta.st_uid == uid
        });
        if dir.is_absolute() && ours {
            return dir;
        }
    }
    match tmpdir.map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => PathBuf::from("/tmp"),
    }
}

/// Take the lock for reaping `names`, waiting up to `wait` for another reaper.
pub(crate) fn acquire(names: &[String], wait: Duration) -> ReapLock {
    acquire_at(&lock_path(names), wait, &|| false)
}

/// [`acquire`], giving up (`Busy`) as soon as `stop()` says so.
pub(crate) fn acquire_unless(
    names: &[String],
    wait: Duration,
    stop: &dyn Fn() -> bool,
) -> ReapLock {
    acquire_at(&lock_path(names), wait, stop)
}

fn acquire_at(path: &Path, wait: Duration, stop: &dyn Fn() -> bool) -> ReapLock {
    let Some(fd) = open_own_file(path) else {
        return ReapLock::Unavailable;
    };
    let deadline = crate::duration::deadline_after(wait);
    let mut pause = Duration::from_millis(5);
    loop {
        match fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                write_holder(&fd);
                return ReapLock::Held(fd);
            }
            Err(Errno::WOULDBLOCK | Errno::INTR) => {}
            Err(_) => return ReapLock::Unavailable,
        }
        // A stopped holder would hold everyone up for as long as it stays stopped.
        if holder_is_stopped(&fd) {
            return ReapLock::Unavailable;
        }
        let now = Instant::now();
        if now >= deadline || stop() {
            return ReapLock::Busy;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Write this process's PID into the lock file, for others to check on.
fn write_holder(fd: &OwnedFd) {
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let _ = fs::ftruncate(fd, 0);
    let _ = rustix::io::pwrite(fd, format!("{pid}\n").as_bytes(), 0);
}

/// Whether the PID in the lock file names a stopped process.
fn holder_is_stopped(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; 16];
    let Ok(n) = rustix::io::pread(fd, &mut buf, 0) else {
        return false;
    };
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .is_some_and(crate::sys::is_stopped)
}

/// Open (creating if needed) the lock file, refusing a symlink, anything but a regular
/// file, a file another user owns and a file with another name too (a hard link, which
/// `fs.protected_hardlinks=0` lets anybody make to a file of ours): in a shared /tmp,
/// somebody else could have put any of them there, and the holder writes to it.
pub(crate) fn open_own_file(path: &Path) -> Option<OwnedFd> {
    let fd = fs::open(
        path,
        OFlags::RDWR
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC
            | OFlags::NOCTTY,
        Mode::RUSR | Mode::WUSR,
    )
    .ok()?;
    let meta = fs::fstat(&fd).ok()?;
    let regular = fs::FileType::from_raw_mode(meta.st_mode) == fs::FileType::RegularFile;
    let ours = meta.st_uid == rustix::process::geteuid().as_raw();
    (regular && ours && meta.st_nlink == 1).then_some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_and_then_finds_it_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.lock");
        let first = acquire_at(&path, Duration::ZERO, &|| false);
        assert!(matches!(first, ReapLock::Held(_)), "{first:?}");
        // flock locks belong to the open file, so a second open in this process
        // conflicts as another process would.
        let second = acquire_at(&path, Duration::from_millis(20), &|| false);
        assert!(matches!(second, ReapLock::Busy), "{second:?}");
        drop(first);
        // Another test's fork shares the lock's open file until it execs (CLOEXEC):
        // allow for that moment.
        assert!(matches!(
            acquire_at(&path, Duration::from_secs(5), &|| false),
            ReapLock::Held(_)
        ));
    }

    #[test]
    fn a_symlink_or_a_file_of_another_user_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.lock");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        assert!(matches!(
            acquire_at(&link, Duration::ZERO, &|| false),
            ReapLock::Unavailable
        ));
        assert!(!dir.path().join("elsewhere").exists());
        if rustix::process::geteuid().is_root() {
            let theirs = dir.path().join("theirs.lock");
            std::fs::write(&theirs, b"").unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
            assert!(matches!(
                acquire_at(&theirs, Duration::ZERO, &|| false),
                ReapLock::Unavailable
            ));
        } else {
            // Straight to stderr, past libtest's capture: shown by a plain `cargo test`.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: the other user's lock file part of this test needs root"
            );
        }
    }

    #[test]
    fn a_lock_path_that_is_a_hard_link_to_another_file_is_neither_used_nor_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious");
        std::fs::write(&precious, b"keep me").unwrap();
        let link = dir.path().join("test.lock");
        std::fs::hard_link(&precious, &link).unwrap();
        assert!(matches!(
            acquire_at(&link, Duration::ZERO, &|| false),
            ReapLock::Unavailable
        ));
        assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
        // A FIFO is not a lock file either, and opening it does not block.
        #[cfg(target_os = "linux")]
        {
            let fifo = dir.path().join("fifo.lock");
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &fifo,
                rustix::fs::FileType::Fifo,
                Mode::RUSR | Mode::WUSR,
                0,
            )
            .unwrap();
            assert!(matches!(
                acquire_at(&fifo, Duration::ZERO, &|| false),
                ReapLock::Unavailable
            ));
        }
    }

    #[test]
    fn the_holder_pid_is_in_the_file_and_a_running_holder_is_not_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.lock");
        let first = acquire_at(&path, Duration::ZERO, &|| false);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        let ReapLock::Held(fd) = &first else {
            panic!("{first:?}")
        };
        assert!(!holder_is_stopped(fd));
    }

    #[test]
    fn the_lock_directory_is_an_absolute_one_of_ours_never_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().as_os_str().to_owned();
        let me = rustix::process::geteuid().as_raw();
        let tmp = PathBuf::from("/tmp");
        assert_eq!(lock_dir(Some(mine.clone()), None, me), dir.path());
        assert_eq!(
            lock_dir(Some(mine.clone()), Some("/x".into()), me),
            dir.path()
        );
        // Not ours, relative, empty or missing: TMPDIR if absolute, else /tmp.
        assert_eq!(lock_dir(Some(mine.clone()), None, me + 1), tmp);
        assert_eq!(
            lock_dir(Some("run".into()), Some(mine.clone()), me),
            dir.path()
        );
        assert_eq!(lock_dir(Some("".into()), Some("".into()), me), tmp);
        assert_eq!(lock_dir(None, Some("relative/dir".into()), me), tmp);
        assert_eq!(lock_dir(Some("/nonexistent-xdg".into()), None, me), tmp);
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(lock_dir(Some(file.into_os_string()), None, me), tmp);
    }

    #[test]
    fn the_lock_file_names_this_pid_namespace() {
        let name = lock_path(&["patina".into()]);
        let name = name.file_name().unwrap().to_string_lossy();
        match pid_namespace() {
            Some(ino) => assert!(name.contains(&format!("-pidns{ino}-")), "{name}"),
            None => assert!(!name.contains("pidns"), "{name}"),
        }
        if cfg!(target_os = "linux") {
            assert!(pid_namespace().is_some());
        }
    }

    #[test]
    fn the_lock_file_depends_on_the_name_set_not_its_order() {
        let ab = lock_path(&["a".into(), "b".into()]);
        assert_eq!(ab, lock_path(&["b".into(), "a".into(), "a".into()]));
        assert_ne!(ab, lock_path(&["a".into()]));
        assert_ne!(
            lock_path(&["patina".into()]),
            lock_path(&["patina2".into()])
        );
    }

    #[test]
    fn one_proof_file_serves_every_threshold_and_pid_namespace_but_not_other_settings() {
        let names = ["patina".to_owned()];
        let default = proof_path(&names, None);
        let lock = lock_path(&names);
        assert_eq!(default.parent(), lock.parent());
        let uid = rustix::process::geteuid().as_raw();
        let hash = fnv1a("patina");
        assert_eq!(
            default.file_name().unwrap().to_string_lossy(),
            format!("patina-reap-{uid}-{hash:016x}.proof")
        );
        assert_ne!(default, proof_path(&["patina2".into()], None));
        let none = proof_path(&names, Some("sockets []"));
        assert_ne!(none, default);
        assert_eq!(none, proof_path(&names, Some("sockets []")));
        assert_ne!(none, proof_path(&names, Some("sockets [\"/x\"]")));
    }
}
