//! Fault injection for the scan: /proc entries that vanish mid-scan, /proc mounted with
//! hidepid, and a `ps` that fails, hangs or prints garbage.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

#[test]
fn processes_exiting_during_the_scan_never_fail_a_run() {
    let mut sb = Sandbox::new();
    let stable: Vec<u32> = (0..5).map(|_| sb.spawn_sleeper()).collect();
    let name = sb.name.clone();
    let innocent: Vec<u32> = (0..5)
        .map(|i| sb.spawn_with_argv0(&format!("{name}{i}"), &["1000"]))
        .collect();

    // Churn: processes under the name and under other names, each exiting at once.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let churners: Vec<_> = [sb.sleeper_path(), sleeper().to_path_buf()]
        .into_iter()
        .chain([sb.sleeper_path()])
        .map(|program| {
            let (stop, started) = (stop.clone(), started.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let child = Command::new(&program)
                        .env("SLEEPER_EXIT", "1")
                        .stdin(Stdio::null())
                        .spawn();
                    if let Ok(mut child) = child {
                        started.fetch_add(1, Ordering::Relaxed);
                        let _ = child.wait();
                    }
                }
            })
        })
        .collect();

    let mut seen_churn = 0;
    for round in 0..10 {
        let args: &[&str] = if round % 2 == 0 {
            &["--threshold", "0s", "--dry-run"]
        } else {
            &["--threshold", "0s", "--grace", "1s"]
        };
        let (doc, out) = sb.run_json(args);
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        assert_eq!(doc["summary"]["failed"], 0, "round {round}: {doc}");
        for p in doc["processes"].as_array().unwrap() {
            let pid = p["pid"].as_u64().unwrap() as u32;
            assert!(!innocent.contains(&pid), "{p}");
            if !stable.contains(&pid) {
                seen_churn += 1;
            }
        }
        if round == 1 {
            for &pid in &stable {
                assert_eq!(outcome(&doc, pid), "terminated");
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in churners {
        t.join().unwrap();
    }
    eprintln!(
        "{} short-lived processes during 10 runs; {seen_churn} of them were listed",
        started.load(Ordering::Relaxed)
    );
    for pid in stable {
        assert!(sb.exits_within(pid, EXIT));
    }
    for pid in innocent {
        assert!(sb.alive(pid), "{pid} was hit");
    }
}

/// Whether a private PID and mount namespace can be made here; the reason if not.
fn namespaces_unavailable() -> Option<String> {
    if !is_root() {
        return Some("needs root".into());
    }
    for tool in ["unshare", "setpriv", "mount"] {
        if !["/bin", "/usr/bin", "/sbin", "/usr/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists())
        {
            return Some(format!("{tool} is not installed"));
        }
    }
    let probe = Command::new(which("unshare"))
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!("unshare failed: {}", stderr(&out).trim())),
        Err(e) => Some(format!("unshare failed: {e}")),
    }
}

#[test]
fn with_hidepid_the_reaper_sees_and_reports_only_its_own_processes() {
    if let Some(why) = namespaces_unavailable() {
        skip(&format!("a private PID namespace with hidepid: {why}"));
        return;
    }
    let mut sb = Sandbox::new();
    let dir = sb.dir.path().to_path_buf();
    let file = |name: &str| dir.join(name).display().to_string();
    // In a new PID namespace with its own /proc: a root and a nobody process under the
    // name, /proc remounted with hidepid=2, then the reaper as nobody.
    let script = format!(
        r#"
S='{sleeper}'
"$S" 1000 &
root_pid=$!
setpriv --reuid=65534 --regid=65534 --clear-groups "$S" 1000 &
nobody_pid=$!
for pid in $root_pid $nobody_pid; do
  w=0; until [ "$(head -c {len} /proc/$pid/cmdline 2>/dev/null)" = "$S" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
done
echo "$root_pid $nobody_pid" > '{pids}'
if ! mount -o remount,hidepid=2 /proc; then echo no > '{hidepid}'; kill $root_pid $nobody_pid; exit 0; fi
echo yes > '{hidepid}'
as_nobody() {{ setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }}
as_nobody '{bin}' --name '{name}' --threshold 0s --all-users --dry-run --json > '{dry}' 2> '{dry}.err'
echo $? > '{dry}.rc'
as_nobody '{bin}' --name '{name}' --threshold 0s --all-users --json > '{real}' 2> '{real}.err'
echo $? > '{real}.rc'
as_nobody '{bin}' --name '{name}' --threshold 0s --all-users -v --color never > '{human}' 2>&1
echo $? > '{human}.rc'
if kill -0 $root_pid; then echo alive > '{root_alive}'; fi
kill -9 $root_pid $nobody_pid 2>/dev/null
true
"#,
        sleeper = sb.sleeper_path().display(),
        len = sb.sleeper_path().as_os_str().len(),
        pids = file("pids"),
        hidepid = file("hidepid"),
        bin = reaper_bin(),
        name = sb.name,
        dry = file("dry.json"),
        real = file("real.json"),
        human = file("human.txt"),
        root_alive = file("root-alive"),
    );
    let mut cmd = Command::new(which("unshare"));
    cmd.args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script]);
    let ns = sb.spawn(cmd);
    assert!(
        sb.exits_within(ns, Duration::from_secs(60)),
        "namespace hung"
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    if read("hidepid").trim() != "yes" {
        skip("/proc could not be remounted with hidepid=2 here");
        return;
    }
    let pids: Vec<u32> = read("pids")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let (root_pid, nobody_pid) = (pids[0], pids[1]);

    assert_eq!(read("dry.json.rc").trim(), "0", "{}", read("dry.json.err"));
    let dry: serde_json::Value = serde_json::from_str(&read("dry.json")).unwrap();
    assert_eq!(outcome(&dry, root_pid), "absent", "{dry}");
    assert_eq!(outcome(&dry, nobody_pid), "would_reap", "{dry}");
    assert_eq!(dry["processes"].as_array().unwrap().len(), 1, "{dry}");

    assert_eq!(
        read("real.json.rc").trim(),
        "0",
        "{}",
        read("real.json.err")
    );
    let real: serde_json::Value = serde_json::from_str(&read("real.json")).unwrap();
    assert_eq!(outcome(&real, root_pid), "absent", "{real}");
    assert_eq!(outcome(&real, nobody_pid), "terminated", "{real}");
    assert_eq!(real["summary"]["failed"], 0);
    assert_eq!(read("real.json.err"), "");

    assert_eq!(read("human.txt.rc").trim(), "0", "{}", read("human.txt"));
    assert_eq!(
        read("human.txt").trim(),
        format!("No stale {} processes (threshold 0s)", sb.name)
    );
    assert_eq!(read("root-alive").trim(), "alive", "root's process was hit");
}

/// A fake `ps`, first on PATH: records that it ran, then does `body`.
struct FakePs {
    bin_dir: PathBuf,
    marker: PathBuf,
}

impl FakePs {
    fn new(sb: &Sandbox, body: &str) -> Self {
        let bin_dir = sb.dir.path().join("fake-bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let marker = sb.dir.path().join("fake-ps-ran");
        let ps = bin_dir.join("ps");
        std::fs::write(
            &ps,
            format!("#!/bin/sh\n: > '{}'\n{body}\n", marker.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ps, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { bin_dir, marker }
    }

    /// Run the reaper with the ps backend and this ps; give up (and fail) after a
    /// minute, which only a hang reaches.
    fn run(&self, sb: &Sandbox, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = sb
            .reaper()
            .args(args)
            .env("PATINA_REAP_BACKEND", "ps")
            .env("PATH", path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the reaper did not return within a minute of a hung ps");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(self.marker.exists(), "the fake ps never ran");
        out
    }
}

/// The CLI failed cleanly: exit 1, one `error:` naming ps, nothing on stdout.
fn assert_clear_failure(out: &Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error:") && err.contains("ps"), "{err}");
    assert!(!has_terminal_control(&err), "{err:?}");
    assert_eq!(stdout(out), "");
}

#[test]
fn a_ps_that_exits_non_zero_fails_the_cli_clearly() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let ps = FakePs::new(&sb, "echo 'ps: simulated failure' >&2\nexit 3");
    for args in [&["--threshold", "0s"][..], &["--threshold", "0s", "--json"]] {
        assert_clear_failure(&ps.run(&sb, args));
    }
    assert!(sb.alive(pid));
}

#[test]
fn a_ps_that_hangs_is_given_up_on_and_fails_the_cli_clearly() {
    let mut sb = Sandbox::new();
    let strays = Strays::under(sb.dir.path());
    let pid = sb.spawn_sleeper();
    // It hangs with its output open, and so does a child it leaves behind.
    let hang = sb.link(sleeper(), "hung-ps");
    let ps = FakePs::new(
        &sb,
        &format!("'{0}' 1000 &\nexec '{0}' 1000", hang.display()),
    );
    assert_clear_failure(&ps.run(&sb, &["--threshold", "0s"]));
    assert!(sb.alive(pid));
    drop(strays);
}

#[test]
fn a_ps_that_prints_garbage_fails_the_cli_clearly_and_signals_nothing() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let garbage = [
        r"printf '\000\377\033[2J garbage\n'",
        "printf '%s\\n' 'PID TTY TIME CMD' '-1 ?? 00:00 x' 'x y z'",
        "head -c 3000 /dev/urandom",
        "printf ''",
    ];
    for body in garbage {
        let ps = FakePs::new(&sb, body);
        assert_clear_failure(&ps.run(&sb, &["--threshold", "0s"]));
        std::fs::remove_file(&ps.marker).unwrap();
    }
    assert!(sb.alive(pid));
}
