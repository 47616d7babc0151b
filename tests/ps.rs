//! The `ps` backend against real processes: it agrees with `/proc`, reaps the same way,
//! runs `ps` as few times as it says, and fails closed when `ps` misbehaves.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::*;

/// The reaper on the `ps` backend, with `dir` first on PATH (for a fake `ps`).
fn ps_reaper(sb: &Sandbox, path_first: Option<&PathBuf>) -> Command {
    let mut cmd = sb.reaper();
    cmd.env("PATINA_REAP_BACKEND", "ps");
    if let Some(dir) = path_first {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.clone()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    }
    cmd
}

/// A directory in the sandbox holding an executable `ps` with this shell body.
fn fake_ps(sb: &Sandbox, body: &str) -> PathBuf {
    let dir = sb.dir.path().join("fake-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let ps = dir.join("ps");
    // Write to a temporary name and rename, so no write descriptor is ever open on
    // the path that gets executed (ETXTBSY).
    let tmp = dir.join("ps.tmp");
    std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, &ps).unwrap();
    dir
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

#[cfg(target_os = "linux")]
#[test]
fn both_backends_find_the_same_candidates() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let mut expected = vec![
        sb.spawn_sleeper(),
        sb.spawn_sleeper(),
        sb.spawn_term_ignorer(),
        sb.spawn_with_argv0(&format!("{name} serve --test"), &["x"]),
        sb.spawn_zombie(),
    ];
    let lookalike = sb.spawn_with_argv0(&format!("{name}-index"), &[]);
    std::thread::sleep(Duration::from_millis(1500));
    expected.sort_unstable();

    let run = |backend: &str| {
        let out = sb
            .reaper()
            .env("PATINA_REAP_BACKEND", backend)
            .args(["--dry-run", "--json", "--threshold", "1s"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{backend}: {}", stderr(&out));
        json_of(&out)
    };
    let by_proc = run("proc");
    let by_ps = run("ps");
    let pids = |doc: &serde_json::Value| {
        let mut pids: Vec<u32> = doc["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_u64().unwrap() as u32)
            .collect();
        pids.sort_unstable();
        pids
    };
    assert_eq!(pids(&by_proc), expected, "{by_proc}");
    assert_eq!(pids(&by_ps), expected, "{by_ps}");
    for pid in expected {
        let (a, b) = (entry(&by_proc, pid).unwrap(), entry(&by_ps, pid).unwrap());
        for field in ["name", "uid", "outcome", "reason"] {
            assert_eq!(a[field], b[field], "{field} of {pid}: {a} vs {b}");
        }
        let (age_a, age_b) = (
            a["age_secs"].as_u64().unwrap(),
            b["age_secs"].as_u64().unwrap(),
        );
        assert!(age_a.abs_diff(age_b) <= 2, "age of {pid}: {a} vs {b}");
        // Plain-text command lines read the same; only ps's argv is split at spaces.
        assert_eq!(a["command"], b["command"], "{a} vs {b}");
    }
    assert!(sb.alive(lookalike));
}

#[test]
fn the_ps_backend_reaps_escalates_and_skips_zombies() {
    let mut sb = Sandbox::new();
    let polite = sb.spawn_sleeper();
    let stubborn = sb.spawn_term_ignorer();
    let zombie = sb.spawn_zombie();
    let lookalike = sb.spawn_with_argv0(&format!("{}d", sb.name), &[]);
    let out = ps_reaper(&sb, None)
        .args(["--threshold", "0s", "--grace", "1s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(outcome(&doc, polite), "terminated", "{doc}");
    assert_eq!(outcome(&doc, stubborn), "killed", "{doc}");
    assert_eq!(outcome(&doc, zombie), "skipped");
    assert_eq!(entry(&doc, zombie).unwrap()["reason"], "zombie");
    assert_eq!(outcome(&doc, lookalike), "absent");
    assert_eq!(doc["summary"]["reaped"], 2);
    assert!(sb.exits_within(polite, Duration::from_secs(5)));
    assert!(sb.exits_within(stubborn, Duration::from_secs(5)));
    assert!(sb.alive(lookalike));
}

#[test]
fn the_ps_backend_runs_ps_once_per_scan_and_once_per_signal() {
    let mut sb = Sandbox::new();
    let log = sb.dir.path().join("ps.log");
    let real_ps = which("ps");
    let dir = fake_ps(
        &sb,
        &format!(
            "echo \"$*\" >> '{}'\nexec '{}' \"$@\"",
            log.display(),
            real_ps.display()
        ),
    );
    let pid = sb.spawn_sleeper();
    let runs = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_file(&log).ok();
        text
    };

    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(outcome(&json_of(&out), pid), "would_reap");
    let text = runs();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("-A"), "{text}");

    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--grace", "1s", "--json"])
        .output()
        .unwrap();
    assert_eq!(outcome(&json_of(&out), pid), "terminated");
    // The scan, the start-time check before SIGTERM, and one exact check 100 ms into
    // the wait: the test does not collect its child until later, so it stays a zombie,
    // which kill(pid, 0) cannot tell from a running process.
    let text = runs();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("-A"), "{text}");
    for check in &lines[1..] {
        assert!(check.ends_with(&format!("-p {pid}")), "{text}");
    }
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn an_unknown_backend_is_a_usage_error() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb
        .reaper()
        .env("PATINA_REAP_BACKEND", "procfs")
        .args(["--threshold", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("'procfs' for 'PATINA_REAP_BACKEND'"), "{err}");
    assert!(err.contains("'ps'"), "{err}");
    assert_eq!(stdout(&out), "");
    assert!(sb.alive(pid));
}

/// Run the reaper against a fake `ps`; it must fail with exit 1, name `what` on stderr,
/// print nothing on stdout and signal nothing.
fn fails_closed(body: &str, what: &str) {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let dir = fake_ps(&sb, body);
    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot list processes (ps -A)"), "{err}");
    assert!(err.contains(what), "{err}");
    // Said once, not once per level of the error chain.
    assert_eq!(err.matches(what).count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(stdout(&out), "");
    assert!(sb.alive(pid));
}

#[test]
fn a_failing_ps_is_an_error_with_its_message() {
    fails_closed(
        "echo 'ps: no such keyword' >&2; exit 1",
        "ps: no such keyword",
    );
}

#[test]
fn unparseable_ps_output_is_an_error() {
    fails_closed(
        "echo '  PID COMMAND'; echo '    1 init'",
        "unparseable output on line 1",
    );
}

#[test]
fn ps_output_without_this_process_is_an_error() {
    fails_closed(
        "echo '    1     0     0     1    -1 ?        Ss   Thu Nov 26 15:49:23 2026 3-01:02:03 12444 /sbin/init'",
        "did not list this process",
    );
}

#[test]
fn a_hung_ps_is_killed_and_reported() {
    let sb = Sandbox::new();
    let pid_file = sb.dir.path().join("hung.pid");
    // Not exec: the sleep is a grandchild holding the pipe, which must die too.
    let body = format!("/bin/sleep 60 &\necho $! > '{}'\nwait", pid_file.display());
    fails_closed(&body, "did not finish within 5s and was killed");
    let sleep_pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Orphaned, it is collected by init; until then it may show as a zombie.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(state(sleep_pid), None | Some('Z')) {
        if Instant::now() > deadline {
            // Ours, started by the fake ps: end it before failing.
            let _ = Command::new("kill").arg(sleep_pid.to_string()).status();
            panic!("the hung ps's child {sleep_pid} survived");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_ps_on_path_the_system_ps_is_used() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = ps_reaper(&sb, None)
        .env("PATH", "/nonexistent")
        .args(["--threshold", "0s", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&json_of(&out), pid), "would_reap");
    let out = ps_reaper(&sb, None)
        .env_remove("PATH")
        .args(["--threshold", "0s", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&json_of(&out), pid), "would_reap");
}
