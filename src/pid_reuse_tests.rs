//! PID reuse, deterministically: the (pid, start) a reaper holds no longer names the
//! live process when the start time differs, and then nothing may be signalled.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::engine::Reaper;
use crate::reap::{reap, Fate, Timing};
use crate::report::Outcome;
use crate::scan::proc::{parse_stat, ProcSource};
use crate::scan::Source;
use crate::scan::{Query, Scan};
use crate::watch::Watch;
use crate::Error;
use rustix::process::Pid;
use std::time::{Duration, Instant};

/// The /proc source with pidfds turned off: signals go through kill(2).
struct KillOnly(ProcSource);

impl Source for KillOnly {
    fn scan(&self, query: &Query<'_>) -> Result<Scan, Error> {
        self.0.scan(query)
    }
    fn is_same_live(&self, pid: u32, start: u64) -> std::io::Result<bool> {
        self.0.is_same_live(pid, start)
    }
}

/// A real `sleep` started under a name of its own (so no other test can match it),
/// killed on drop.
struct Sleeper {
    child: Child,
    name: String,
    _dir: tempfile::TempDir,
}

impl Sleeper {
    fn start() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "rr{:x}u{:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::tempdir().unwrap();
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("sleep(1)");
        let link = dir.path().join(&name);
        std::os::unix::fs::symlink(sleep, &link).unwrap();
        let child = Command::new(&link).arg("1000").spawn().unwrap();
        Self {
            child,
            name,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its start time as /proc reports it.
    fn start_ticks(&self) -> u64 {
        let raw = std::fs::read(format!("/proc/{}/stat", self.pid())).unwrap();
        parse_stat(&raw).unwrap().start_ticks
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn exited_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const GRACE: Duration = Duration::from_secs(2);

fn only_the_scanned_start_time_is_signalled(source: &dyn Source) {
    let mut s = Sleeper::start();
    let start = s.start_ticks();
    for wrong in [start + 1, start.wrapping_sub(1), 0, u64::MAX] {
        let fates = reap(
            source,
            &[(s.pid(), wrong)],
            &[false],
            Timing::with_grace(GRACE),
            &Watch::default(),
        );
        assert_eq!(fates, vec![Fate::Vanished], "start {wrong} vs {start}");
        assert!(
            s.running(),
            "a process with another start time was signalled"
        );
    }
    let fates = reap(
        source,
        &[(s.pid(), start)],
        &[false],
        Timing::with_grace(GRACE),
        &Watch::default(),
    );
    assert_eq!(fates, vec![Fate::Terminated]);
    assert!(s.exited_within(Duration::from_secs(10)));
}

#[test]
fn pidfd_path_signals_only_the_scanned_start_time() {
    let source = ProcSource::new();
    assert!(source.supports_pidfd());
    only_the_scanned_start_time_is_signalled(&source);
}

#[test]
fn kill_path_signals_only_the_scanned_start_time() {
    only_the_scanned_start_time_is_signalled(&KillOnly(ProcSource::new()));
}

#[test]
fn ps_backend_signals_only_the_scanned_start_time() {
    use crate::scan::ps::PsSource;
    // The ps backend's start unit is its own: take it from a ps scan.
    let mut s = Sleeper::start();
    let source = PsSource::new();
    let names = [s.name.clone()];
    let query = Query {
        names: &names,
        uid: None,
        min_age_secs: 0,
    };
    let scan = source.scan(&query).unwrap();
    let found: Vec<_> = scan.processes.iter().filter(|p| p.pid == s.pid()).collect();
    assert_eq!(found.len(), 1, "{:?}", scan.processes);
    let start = found[0].start;
    for wrong in [start + 1, start.wrapping_sub(1)] {
        assert_eq!(
            reap(
                &source,
                &[(s.pid(), wrong)],
                &[false],
                Timing::with_grace(GRACE),
                &Watch::default()
            ),
            [Fate::Vanished]
        );
        assert!(
            s.running(),
            "a process with another start time was signalled"
        );
    }
    assert_eq!(
        reap(
            &source,
            &[(s.pid(), start)],
            &[false],
            Timing::with_grace(GRACE),
            &Watch::default()
        ),
        [Fate::Terminated]
    );
    assert!(s.exited_within(Duration::from_secs(10)));
}

/// Scan for one sleeper through the engine, as the CLI does.
fn scan_for(reaper: &Reaper, source: &dyn Source, pid: u32) -> Scan {
    let mut scan = reaper.scan(source).unwrap();
    assert!(
        scan.processes.iter().any(|p| p.pid == pid),
        "{:?}",
        scan.processes
    );
    // The sleeper is this test's child, so `attached`; these tests are about what
    // happens after the verdict, so the record reads as adopted.
    for p in &mut scan.processes {
        p.ppid = 1;
        p.parent_role = crate::scan::ParentRole::Init;
    }
    scan
}

/// The /proc source as is (pidfds) and with pidfds turned off (kill(2)).
fn both_paths() -> [Box<dyn Source>; 2] {
    [
        Box::new(ProcSource::new()),
        Box::new(KillOnly(ProcSource::new())),
    ]
}

fn engine_for(s: &Sleeper) -> Reaper {
    Reaper::new()
        .names([s.name.clone()])
        .threshold(Duration::ZERO)
        .grace(GRACE)
}

#[test]
fn a_start_time_changed_after_the_scan_means_no_signal_on_either_path() {
    for source in &both_paths() {
        let mut s = Sleeper::start();
        let reaper = engine_for(&s);
        let mut scan = scan_for(&reaper, &**source, s.pid());
        // As if the scanned process had exited and another taken its PID.
        for p in &mut scan.processes {
            p.start += 1;
        }
        let report = reaper.finish(&**source, scan);
        assert_eq!(report.processes[0].outcome, Outcome::Vanished);
        assert_eq!(report.summary.reaped, 0);
        assert!(s.running(), "a reused PID was signalled");
    }
}

#[test]
fn a_process_that_exits_between_scan_and_signal_is_vanished() {
    for source in &both_paths() {
        let mut s = Sleeper::start();
        let reaper = engine_for(&s);
        let scan = scan_for(&reaper, &**source, s.pid());
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        let report = reaper.finish(&**source, scan);
        assert_eq!(report.processes[0].outcome, Outcome::Vanished);
        assert_eq!(report.summary.reaped, 0);
        assert_eq!(report.summary.failed, 0);
    }
}

#[test]
fn a_zombie_left_after_the_scan_is_not_signalled() {
    // Exited but not yet waited for: still in the process table as a zombie.
    let mut s = Sleeper::start();
    let source = ProcSource::new();
    let reaper = engine_for(&s);
    let scan = scan_for(&reaper, &source, s.pid());
    rustix::process::kill_process(
        Pid::from_raw(s.pid() as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    while !matches!(
        parse_stat(&std::fs::read(format!("/proc/{}/stat", s.pid())).unwrap()),
        Some(st) if st.state == b'Z'
    ) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = reaper.finish(&source, scan);
    assert_eq!(report.processes[0].outcome, Outcome::Vanished);
    assert!(!s.running());
}
