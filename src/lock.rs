//! One reaper at a time per user and program name: an advisory lock (flock) on a file of
//! the user's own in the temporary directory, so that reapers started together (two
//! `patina` commands at once) do not all signal, and report, the same stale processes.
//! Reapers looking for other names cannot have the same targets and do not wait.
//!
//! The lock only makes reports exact; safety never depends on it. Where it cannot be
//! had safely (no temporary directory, a file there that is not ours), reaping goes on
//! without it.

use std::path::PathBuf;
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

/// `patina-reap-UID-HASH.lock`, HASH a stable FNV-1a of the sorted names.
fn lock_path(names: &[String]) -> PathBuf {
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sorted.join("\0").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let uid = rustix::process::geteuid().as_raw();
    std::env::temp_dir().join(format!("patina-reap-{uid}-{hash:016x}.lock"))
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

fn acquire_at(path: &std::path::Path, wait: Duration, stop: &dyn Fn() -> bool) -> ReapLock {
    let Some(fd) = open_own_file(path) else {
        return ReapLock::Unavailable;
    };
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(5);
    loop {
        match fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return ReapLock::Held(fd),
            Err(Errno::WOULDBLOCK | Errno::INTR) => {}
            Err(_) => return ReapLock::Unavailable,
        }
        let now = Instant::now();
        if now >= deadline || stop() {
            return ReapLock::Busy;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Open (creating if needed) the lock file, refusing a symlink or a file another user
/// owns: in a shared /tmp, somebody else could have put either there.
fn open_own_file(path: &std::path::Path) -> Option<OwnedFd> {
    let fd = fs::open(
        path,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::RUSR | Mode::WUSR,
    )
    .ok()?;
    let meta = fs::fstat(&fd).ok()?;
    let regular = fs::FileType::from_raw_mode(meta.st_mode) == fs::FileType::RegularFile;
    (regular && meta.st_uid == rustix::process::geteuid().as_raw()).then_some(fd)
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
    fn the_lock_file_depends_on_the_name_set_not_its_order() {
        let ab = lock_path(&["a".into(), "b".into()]);
        assert_eq!(ab, lock_path(&["b".into(), "a".into(), "a".into()]));
        assert_ne!(ab, lock_path(&["a".into()]));
        assert_ne!(
            lock_path(&["patina".into()]),
            lock_path(&["patina2".into()])
        );
    }
}
