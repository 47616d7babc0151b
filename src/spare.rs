//! Spare links that keep a live daemon reachable while a stale duplicate is reaped.
//!
//! patina's daemon removes its socket file and `mother.pid` beside it on SIGTERM,
//! whether or not they are still its own. A second daemon started later has removed the
//! first one's socket file and bound its own at the same path: ending the first one
//! would then delete the live daemon's files. So before the first signal, each such
//! file gets a hard link beside it (same directory, a name that says whose it is); once
//! the stale processes are gone, a file whose path is empty is linked back (never over
//! a newer file: link(2) fails with EEXIST then), and the spare link is removed.
//!
//! A reaper that died between the steps leaves spare links behind; the next one that
//! keeps spares in that directory removes those whose reaper is no longer running.
//! Every file system call runs bounded ([`socket::bounded`]): a directory that does not
//! answer is left alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::socket;

/// What sets a spare link's name apart: `.serve.sock.patina-reap-spare.PID`.
const TAG: &str = ".patina-reap-spare.";

/// The file beside a daemon socket that holds the daemon's pid.
const PID_FILE: &str = "mother.pid";

/// Spare links made for one reap: (the file's path, its spare link).
#[derive(Debug, Default)]
pub(crate) struct Spares {
    links: Vec<(PathBuf, PathBuf)>,
}

/// Keep a spare link to each of `sockets` and to the `mother.pid` beside it, unless
/// that file names one of `targets` (the processes about to be signalled). Nothing is
/// kept for a path that did not answer by `deadline`.
pub(crate) fn keep(sockets: &[PathBuf], targets: &[u32], deadline: Instant) -> Spares {
    if sockets.is_empty() {
        return Spares::default();
    }
    let sockets = sockets.to_vec();
    let targets = targets.to_vec();
    socket::bounded(deadline, move || keep_now(&sockets, &targets)).unwrap_or_default()
}

fn keep_now(sockets: &[PathBuf], targets: &[u32]) -> Spares {
    let me = std::process::id();
    let mut spares = Spares::default();
    for path in sockets {
        let Some(dir) = path.parent() else { continue };
        remove_leftovers(dir, me);
        let mut files = vec![path.clone()];
        let pid_file = dir.join(PID_FILE);
        let names_target = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .is_some_and(|pid| targets.contains(&pid));
        if !names_target {
            files.push(pid_file);
        }
        for file in files {
            let Some(spare) = spare_name(&file, me) else {
                continue;
            };
            // A leftover of an earlier reaper with our pid: ours to replace.
            let _ = std::fs::remove_file(&spare);
            if std::fs::hard_link(&file, &spare).is_ok() {
                spares.links.push((file, spare));
            }
        }
    }
    spares
}

/// `DIR/.NAME.patina-reap-spare.PID` for `DIR/NAME`.
fn spare_name(file: &Path, pid: u32) -> Option<PathBuf> {
    let name = file.file_name()?.to_str()?;
    Some(file.with_file_name(format!(".{name}{TAG}{pid}")))
}

/// The pid in a spare link's name, if it is one.
fn spare_owner(name: &str) -> Option<u32> {
    let (_, pid) = name.strip_prefix('.')?.rsplit_once(TAG)?;
    pid.parse().ok()
}

/// Remove the spare links in `dir` whose reaper is no longer running.
fn remove_leftovers(dir: &Path, me: u32) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(spare_owner) else {
            continue;
        };
        if owner != me && !running(owner) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a process with this pid exists (EPERM: it does, as another user's).
fn running(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

impl Spares {
    /// Put each file whose path is empty back from its spare link, then remove the
    /// spare links. A path that holds a file again (a newer daemon's) is left alone.
    pub(crate) fn restore(self, deadline: Instant) {
        if self.links.is_empty() {
            return;
        }
        let links = self.links;
        let _ = socket::bounded(deadline, move || {
            for (file, spare) in &links {
                // EEXIST: a file is there (still this one, or a newer one): keep it.
                let _ = std::fs::hard_link(spare, file);
                let _ = std::fs::remove_file(spare);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_links_are_named_after_the_file_and_the_reaper() {
        let spare = spare_name(Path::new("/h/.patina/run/serve.sock"), 42).unwrap();
        assert_eq!(
            spare,
            Path::new("/h/.patina/run/.serve.sock.patina-reap-spare.42")
        );
        assert_eq!(spare_owner(".serve.sock.patina-reap-spare.42"), Some(42));
        assert_eq!(spare_owner(".mother.pid.patina-reap-spare.7"), Some(7));
        assert_eq!(spare_owner("serve.sock"), None);
        assert_eq!(spare_owner(".serve.sock.patina-reap-spare.x"), None);
        assert_eq!(spare_owner("serve.sock.patina-reap-spare.42"), None);
    }

    #[test]
    fn a_file_is_put_back_only_where_its_path_is_empty() {
        let tmp = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let dir = tempfile::tempdir_in(&tmp).unwrap();
        let socket = dir.path().join("serve.sock");
        let pid_file = dir.path().join(PID_FILE);
        std::fs::write(&socket, b"live").unwrap();
        std::fs::write(&pid_file, b"7").unwrap();
        let deadline = || Instant::now() + socket::BUDGET;
        // mother.pid names a process about to be signalled: it is that one's own.
        let spares = keep(std::slice::from_ref(&socket), &[7], deadline());
        assert_eq!(spares.links.len(), 1, "{spares:?}");
        std::fs::remove_file(&socket).unwrap();
        std::fs::remove_file(&pid_file).unwrap();
        spares.restore(deadline());
        assert_eq!(std::fs::read(&socket).unwrap(), b"live");
        assert!(!pid_file.exists());
        // A newer file at the path by the time of the restore stays.
        std::fs::write(&pid_file, b"8").unwrap();
        let spares = keep(std::slice::from_ref(&socket), &[7], deadline());
        assert_eq!(spares.links.len(), 2, "{spares:?}");
        std::fs::remove_file(&socket).unwrap();
        std::fs::write(&socket, b"newer").unwrap();
        spares.restore(deadline());
        assert_eq!(std::fs::read(&socket).unwrap(), b"newer");
        assert_eq!(std::fs::read(&pid_file).unwrap(), b"8");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["mother.pid", "serve.sock"]);
    }
}
