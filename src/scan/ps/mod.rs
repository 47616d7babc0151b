//! The portable backend: one `ps` per scan (macOS, the BSDs; `PATINA_REAP_BACKEND=ps`
//! on Linux).
//!
//! The columns ([`parse::PS_COLUMNS`]), one keyword per `-o`, are understood by macOS,
//! FreeBSD and procps `ps` alike. Each keyword ends in `=` so no header is printed,
//! `-ww` keeps command lines whole, and `args` comes last because it may hold spaces. A
//! line that cannot be read is left out with its reason ([`Scan::left_out`]); only
//! output with no readable line fails the scan. Output is capped at `run::STDOUT_CAP`.
//! `ps` runs with a controlled environment (C locale, UTC, no `COLUMNS`,
//! `COMMAND_MODE=unix2003`) and is killed if it takes longer than `run::PS_TIMEOUT`.
//!
//! What `ps` cannot say exactly: the argument vector is only the space-joined `args`
//! text (with non-printable bytes replaced by `ps`), so
//! [`Process::argv`](super::Process::argv) holds its whitespace-separated words; only
//! the first word of argv\[0\] decides the name, as with `/proc`. The start time that
//! identifies a process is `lstart` in UTC, as seconds since the epoch, with one-second
//! resolution, so a re-check also compares the `args` text the scan saw; the age is
//! `etime`.
//!
//! The parsers, and the sample output of each `ps` they read, are in [`parse`]; what
//! finds, runs, waits for and stops `ps` is in [`run`]; this module joins them.

mod parse;
mod run;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rustix::io::Errno;
use rustix::process::Pid;

use self::parse::{
    ancestors, build_scan, needs_comm, parse_comms, parse_lines, same_processes, Parsed,
    COMM_COLUMNS, PS_COLUMNS,
};
use self::run::{columns, Runner};
use super::{Query, Scan, Source};
use crate::Error;

/// How the scan is named in errors.
const SCAN_WHAT: &str = "ps -A";

/// The `ps` process source.
#[derive(Debug)]
pub(crate) struct PsSource {
    runner: Runner,
    /// The command line each scanned process had, by (pid, start): a re-check compares
    /// it too, since `lstart` has one-second resolution.
    seen: Mutex<HashMap<(u32, u64), Vec<u8>>>,
}

impl PsSource {
    pub(crate) fn new() -> Self {
        Self::abandonable(Arc::new(AtomicBool::new(false)))
    }

    /// A source whose `ps` runs stop (and fail) once `abandoned` is set.
    pub(crate) fn abandonable(abandoned: Arc<AtomicBool>) -> Self {
        Self {
            runner: Runner::new(abandoned),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Re-read `targets` in one `ps` run: for each, whether it is still that process
    /// (same start time and, if the scan saw it, same command line) and not a zombie.
    /// `None` when `ps` could not be run or said nothing usable.
    fn check(&self, targets: &[(u32, u64)]) -> Option<Vec<bool>> {
        if targets.is_empty() {
            return Some(Vec::new());
        }
        let mut pids: Vec<String> = targets.iter().map(|(pid, _)| pid.to_string()).collect();
        pids.dedup();
        let list = pids.join(",");
        let mut args = vec!["-ww"];
        args.extend(columns(&PS_COLUMNS));
        args.extend(["-p", &list]);
        let (out, clock) = self.runner.run_timed(&args);
        let out = out.ok()?;
        // ps exits 1 when none of the pids exists, silently: that is an answer too.
        if !out.status.success() && !out.stderr.is_empty() {
            return None;
        }
        // The scan's parser: a line it cannot read leaves every target unknown, so none
        // is taken for gone or for the same process.
        let parsed = parse_lines(&out.stdout, Some(&clock)).ok()?;
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        same_processes(&parsed, targets, &seen)
    }

    /// The kernel's name (`ucomm`) of each of `pids` that `ps` still lists.
    fn comms(&self, pids: &[u32]) -> io::Result<HashMap<u32, Vec<u8>>> {
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        let list = list.join(",");
        let mut args = columns(&COMM_COLUMNS);
        args.extend(["-p", &list]);
        let out = self.runner.run(&args)?;
        Ok(parse_comms(&out.stdout))
    }

    /// The kernel names of the rare rows that need one ([`needs_comm`]): one more `ps`
    /// run, for them only, and what could not be read of them.
    fn kernel_names(
        &self,
        parsed: &Parsed<'_>,
        query: &Query<'_>,
    ) -> (HashMap<u32, Vec<u8>>, Option<String>) {
        let wanted: Vec<u32> = parsed
            .rows
            .iter()
            .filter(|row| needs_comm(row, query))
            .map(|row| row.pid)
            .collect();
        if wanted.is_empty() {
            return (HashMap::new(), None);
        }
        // Without them those rows cannot match: they are left out, not guessed.
        match self.comms(&wanted) {
            Ok(comms) => (comms, None),
            Err(e) => (
                HashMap::new(),
                Some(format!(
                    "cannot read the kernel names of PIDs {wanted:?}: {e}"
                )),
            ),
        }
    }

    /// Keep the command line of each matched row for [`Self::check`].
    fn remember(&self, parsed: &Parsed<'_>, scan: &Scan) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for row in &parsed.rows {
            if scan.processes.iter().any(|p| p.pid == row.pid) {
                seen.insert((row.pid, row.start), row.args.to_vec());
            }
        }
    }
}

impl Source for PsSource {
    fn scan(&self, query: &Query<'_>) -> Result<Scan, Error> {
        let fail = |message: String| Error::scan(SCAN_WHAT, io::Error::other(message));
        let mut args = vec!["-A", "-ww"];
        args.extend(columns(&PS_COLUMNS));
        let (out, clock) = self.runner.run_timed(&args);
        let out = out.map_err(|e| Error::scan(SCAN_WHAT, e))?;
        if !out.status.success() {
            let complaint = out.complaint();
            return Err(fail(if complaint.is_empty() {
                format!("ps failed ({})", out.status)
            } else {
                format!("ps failed ({}): {complaint}", out.status)
            }));
        }
        let parsed =
            parse_lines(&out.stdout, Some(&clock)).map_err(|e| Error::scan(SCAN_WHAT, e))?;
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        // Without this process in the list, the pids cannot be trusted to be ours.
        if !parsed.parents.contains_key(&me) {
            return Err(fail(format!(
                "ps did not list this process (PID {me}); its output cannot be used"
            )));
        }
        let (comms, unread) = self.kernel_names(&parsed, query);
        let mut scan = build_scan(&parsed, query, &comms);
        scan.left_out.extend(unread);
        scan.ancestors = ancestors(&parsed.parents, me);
        // The chain stops at a parent ps did not list (hidepid): with no start times of
        // ancestors at hand, every other process could be above that gap.
        // PID 1 is the top of this namespace: nothing lies above it, listed or not.
        let top = scan.ancestors[scan.ancestors.len() - 1];
        let hidden = top > 1 && !parsed.parents.contains_key(&top);
        super::mark_unknown_ancestry(&mut scan, hidden.then_some(u64::MAX));
        self.remember(&parsed, &scan);
        Ok(scan)
    }

    fn are_same_live(&self, targets: &[(u32, u64)]) -> Vec<io::Result<bool>> {
        match self.check(targets) {
            Some(same) => same.into_iter().map(Ok).collect(),
            None => targets
                .iter()
                .map(|_| Err(io::Error::other("ps could not check the process again")))
                .collect(),
        }
    }

    fn is_same_live(&self, pid: u32, start: u64) -> io::Result<bool> {
        match self.check(&[(pid, start)]) {
            Some(same) => Ok(same.first() == Some(&true)),
            None => Err(io::Error::other("ps could not check the process again")),
        }
    }

    /// kill(pid, 0): no subprocess. A zombie still counts as running here;
    /// [`Source::still_running`] tells them apart now and then during a wait.
    fn has_exited(&self, pid: u32, _start: u64) -> bool {
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            return true;
        };
        rustix::process::test_kill_process(pid) == Err(Errno::SRCH)
    }

    fn still_running(&self, targets: &[(u32, u64)]) -> Vec<bool> {
        // If ps cannot tell, none is confirmed gone.
        self.check(targets)
            .unwrap_or_else(|| vec![true; targets.len()])
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::parse::tests::query;
    use super::parse::{parse_row, trim_ascii};
    use super::*;

    /// A source that runs this system's `ps`; `None`, and the test is skipped, without one.
    fn real_ps() -> Option<PsSource> {
        let src = PsSource::new();
        if src.runner.ps.is_none() {
            eprintln!("skipped: no ps on this system");
            return None;
        }
        Some(src)
    }

    /// PID reuse within the second `lstart` shows: a process that exec()s keeps its
    /// pid and start time, so to `ps` it is exactly a new process under the scanned
    /// (pid, start second). Only its command line tells them apart.
    #[test]
    fn a_different_command_line_under_the_scanned_pid_and_second_is_not_signalled() {
        use std::io::Write;
        use std::sync::atomic::AtomicU32;
        let Some(src) = real_ps() else {
            return;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pu{:x}n{:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // Scanned as `NAME -c ...`; after a line on stdin, the same pid is `sleep 1000`.
        let mut child = Command::new("/bin/sh")
            .arg0(&name)
            .args(["-c", "read _ && exec sleep 1000"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let names = vec![name];
        let scan = src.scan(&query(&names)).unwrap();
        let start = scan.processes.iter().find(|p| p.pid == pid).unwrap().start;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = src
                .runner
                .run(&["-o", "args=", "-p", &pid.to_string()])
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).starts_with("sleep") {
                break;
            }
            assert!(Instant::now() < deadline, "never exec'd");
            std::thread::sleep(Duration::from_millis(5));
        }
        let fates = crate::reap::reap(
            &src,
            &[(pid, start)],
            &[false],
            crate::reap::Timing::with_grace(Duration::from_secs(1)),
            &crate::watch::Watch::default(),
        );
        let alive = matches!(child.try_wait(), Ok(None));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(fates, [crate::reap::Fate::Vanished]);
        assert!(alive, "the process now under the scanned pid was signalled");
    }

    /// A scan that its caller gave up on stops its `ps` at once, not at the timeout.
    #[test]
    fn an_abandoned_scan_stops_reading() {
        let dir = tempfile::tempdir().unwrap();
        let ps = dir.path().join("ps");
        let tmp = dir.path().join("ps.tmp");
        std::fs::write(&tmp, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &ps).unwrap();
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut src = PsSource::abandonable(Arc::clone(&abandoned));
        src.runner.ps = Some(ps);
        let flag = Arc::clone(&abandoned);
        let giver_up = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            flag.store(true, Ordering::Relaxed);
        });
        let names = vec![];
        let err = src.scan(&query(&names)).unwrap_err().to_string();
        giver_up.join().unwrap();
        assert!(err.contains("abandoned"), "{err}");
    }

    #[test]
    fn reads_this_process_from_the_real_ps() {
        let Some(src) = real_ps() else {
            return;
        };
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let names = vec![];
        let scan = src.scan(&query(&names)).unwrap();
        assert_eq!(scan.ancestors[0], me);
        assert!(scan.ancestors.len() >= 2, "{:?}", scan.ancestors);
        let mut args = columns(&PS_COLUMNS);
        let me_text = me.to_string();
        args.extend(["-p", &me_text]);
        let out = src.runner.run(&args).unwrap();
        let row = parse_row(trim_ascii(&out.stdout)).unwrap();
        let start = row.start;
        assert_eq!((row.pid, row.is_zombie()), (me, false));
        assert!(src.is_same_live(me, start).unwrap());
        assert!(!src.is_same_live(me, start + 1).unwrap());
        assert!(!src.has_exited(me, start));
        assert_eq!(src.still_running(&[(me, start), (me, 1)]), [true, false]);
    }
}
