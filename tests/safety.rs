//! Never the wrong process, with the facts that are easy to get wrong: the effective uid
//! of a non-dumpable process, a `/proc` of another PID namespace, hidden ancestors,
//! terminals and processes in other PID namespaces, paths with spaces, a process whose
//! main thread exited, few descriptors, huge durations, write errors and the lock.
//! Each case runs real processes and checks by liveness who was hit.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

/// Whether the backend under test is `/proc` (the default on Linux).
fn proc_backend() -> bool {
    std::env::var("PATINA_REAP_BACKEND").map_or(true, |b| b != "ps")
}

/// Processes started as orphans (their starter exits at once, so no live parent of
/// ours protects them), killed on drop by (pid, start time).
struct Orphans {
    started: Vec<(u32, u64)>,
}

impl Orphans {
    fn new() -> Self {
        Self {
            started: Vec::new(),
        }
    }

    /// Run `cmd` (bash syntax; `$S` is `program`) in the background of a shell that exits
    /// at once, in a process group of its own; return its pid once it has exec'd.
    fn start(&mut self, program: &Path, cmd: &str, env: &[(&str, &str)]) -> u32 {
        let out = Command::new(which("bash"))
            .arg("-c")
            .arg(format!("{cmd} </dev/null >/dev/null 2>&1 & echo $!"))
            .env("S", program)
            .envs(env.iter().copied())
            .process_group(0)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let pid: u32 = stdout(&out).trim().parse().unwrap();
        let (_, start) = proc_state_and_start(pid).expect("started");
        self.started.push((pid, start));
        pid
    }
}

impl Drop for Orphans {
    fn drop(&mut self) {
        for &(pid, start) in &self.started {
            if matches!(proc_state_and_start(pid), Some((_, now)) if now == start) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// The value after `key` in a `/proc/PID/status` line.
fn status_field(pid: u32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

fn setpriv_nobody() -> Command {
    let mut cmd = Command::new(which("setpriv"));
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    cmd
}

fn has_setpriv() -> bool {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .any(|p| Path::new(p).exists())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + EXIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_non_dumpable_process_is_judged_by_its_effective_uid_not_the_owner_of_its_proc_files() {
    // The kernel shows a non-dumpable process's /proc files as root's.
    let mut sb = Sandbox::new();
    let sleeper = sb.sleeper_path();
    let other = is_root() && has_setpriv();
    // An orphan (a live parent would keep it `attached`), as nobody where we can.
    let mut cmd = orphan_command(&sleeper);
    if other {
        cmd.uid(65534).gid(65534);
    }
    cmd.arg("1000").env("SLEEPER_NODUMP", "1");
    let pid = sb.spawn_launched(cmd);
    wait_for_argv0(pid, &sleeper.display().to_string());
    wait_until("non-dumpable", || {
        std::fs::metadata(format!("/proc/{pid}/stat"))
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
    });
    let owner = if other {
        65534
    } else {
        rustix::process::geteuid().as_raw()
    };
    if other {
        // Root without --all-users: not root's process, not listed.
        let (doc, out) = sb.run_json(&["--threshold", "0s", "--dry-run"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(outcome(&doc, pid), "absent", "{doc}");
        let (doc, _) = sb.run_json(&["--threshold", "0s"]);
        assert_eq!(outcome(&doc, pid), "absent", "{doc}");
        assert!(sb.alive(pid), "another user's process was reaped");
        // With --all-users it is listed with its real uid.
        let (doc, _) = sb.run_json(&["--threshold", "0s", "--dry-run", "--all-users"]);
        assert_eq!(entry(&doc, pid).unwrap()["uid"], 65534, "{doc}");
    }
    // Its owner's own run finds it, with the right uid.
    let mut run = if other {
        let mut c = setpriv_nobody();
        c.arg(reaper_bin());
        c
    } else {
        Command::new(reaper_bin())
    };
    let out = run
        .args([
            "--name",
            &sb.name,
            "--threshold",
            "0s",
            "--dry-run",
            "--json",
            // What it serves is beside the point here (and a non-dumpable process's
            // descriptors cannot be read by its owner: it would be kept whenever another
            // test's daemon of this user happens to listen).
            "--socket",
            "none",
        ])
        .env_remove("PATINA_REAP_THRESHOLD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, pid), "would_reap", "{doc}");
    assert_eq!(entry(&doc, pid).unwrap()["uid"], owner, "{doc}");
    assert!(sb.alive(pid));
}

#[test]
fn a_proc_of_another_pid_namespace_is_refused_and_nothing_is_signalled() {
    // In namespace A (with its own /proc) a stale target is PID 2. Namespace B, made
    // inside A without a /proc of its own, reads A's /proc, where PID 2 is that
    // target, but signals PID 2 of B: an innocent process.
    let Some(patina) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"
state() {{ s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }}
"{patina}" serve 2>/dev/null & T=$!
echo target=$T
sleep 1.2
unshare --pid --fork sh -c '
  sleep 1000 & I=$!
  echo innocent=$I
  "{bin}" --name patina --threshold 0s --grace 1s >/dev/null 2>"$TMPDIR"/err.$$
  echo cli_rc=$?
  echo cli_err=$(cat "$TMPDIR"/err.$$)
  kill -0 $I 2>/dev/null && echo after_cli=alive || echo after_cli=dead
  PATINA_REAP_THRESHOLD=0s "{patina}" status >/dev/null 2>"$TMPDIR"/err.$$
  echo preflight_rc=$?
  echo preflight_err=$(cat "$TMPDIR"/err.$$)
  kill -0 $I 2>/dev/null && echo after_preflight=alive || echo after_preflight=dead
  rm -f "$TMPDIR"/err.$$
  kill -9 $I'
echo target_state=$(state $T)
kill -9 $T
"#,
        patina = patina,
        bin = reaper_bin(),
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    // The case the issue describes: the same number names the target in A and an
    // innocent process in B.
    assert_eq!(field(&text, "target"), field(&text, "innocent"), "{text}");
    assert_eq!(field(&text, "cli_rc"), "1", "{text}");
    let err = field(&text, "cli_err");
    assert!(
        err.contains("/proc belongs to another PID namespace"),
        "{text}"
    );
    assert_eq!(field(&text, "after_cli"), "alive", "{text}");
    assert_eq!(field(&text, "preflight_rc"), "0", "{text}");
    assert_eq!(field(&text, "preflight_err"), "", "{text}");
    assert_eq!(field(&text, "after_preflight"), "alive", "{text}");
    assert_eq!(field(&text, "target_state"), "running", "{text}");
}

/// Whether a private PID and mount namespace with a /proc of its own can be made here.
fn namespaces_unavailable() -> Option<String> {
    if !is_root() {
        return Some("needs root".into());
    }
    if !has_setpriv() {
        return Some("setpriv is not installed".into());
    }
    let probe = Command::new(which("unshare"))
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => None,
        _ => Some("unshare --pid --fork --mount-proc failed".into()),
    }
}

#[test]
fn a_process_that_could_be_a_hidden_ancestor_is_kept() {
    // /proc with hidepid=2, everything run as nobody: G (named like the target) runs B,
    // a non-dumpable process (so shown as root's and hidden), which runs the reaper.
    // The reaper's chain stops at B: G is above the gap and must be kept. C, started
    // after the reaper's parent, cannot be an ancestor and is reaped.
    if let Some(why) = namespaces_unavailable() {
        skip(&format!("a private PID namespace with hidepid: {why}"));
        return;
    }
    let mut sb = Sandbox::new();
    let dir = sb.dir.path().to_path_buf();
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::os::unix::fs::chown(&out_dir, Some(65534), Some(65534)).unwrap();
    let g_dir = dir.join("g");
    std::fs::create_dir(&g_dir).unwrap();
    let g = g_dir.join(&sb.name);
    std::os::unix::fs::symlink(which("sh"), &g).unwrap();
    let c = sb.sleeper_path();
    let spawn = format!(
        r#"sleep 0.05; ( "{c}" 1000 & echo $! > "{o}/c.pid" ); C=$(cat "{o}/c.pid"); w=0; until [ "$(head -c {len} /proc/$C/cmdline 2>/dev/null)" = "{c}" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done; "{bin}" --name {name} --threshold 0s --grace 1s --json > "{o}/out.json" 2> "{o}/err"; echo $? > "{o}/rc""#,
        c = c.display(),
        o = out_dir.display(),
        len = c.as_os_str().len(),
        bin = reaper_bin(),
        name = sb.name,
    );
    let script = format!(
        r#"
if ! mount -o remount,hidepid=2 /proc; then echo no > '{o}/hidepid'; exit 0; fi
echo yes > '{o}/hidepid'
export TMPDIR='{o}'
SLEEPER_NODUMP=1 SLEEPER_SPAWN='{spawn}' setpriv --reuid=65534 --regid=65534 --clear-groups '{g}' -c '"{b}" 1000; exit 7'
echo $? > '{o}/g.rc'
kill -9 $(cat '{o}/c.pid') 2>/dev/null
true
"#,
        o = out_dir.display(),
        spawn = spawn.replace('\'', r"'\''"),
        g = g.display(),
        b = sleeper().display(),
    );
    let mut cmd = Command::new(which("unshare"));
    cmd.args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("PATINA_REAP_THRESHOLD");
    let ns = sb.spawn(cmd);
    assert!(
        sb.exits_within(ns, Duration::from_secs(60)),
        "namespace hung"
    );
    let read = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap_or_default();
    if read("hidepid").trim() != "yes" {
        skip("/proc could not be remounted with hidepid=2 here");
        return;
    }
    assert_eq!(read("rc").trim(), "0", "{}", read("err"));
    let doc: serde_json::Value = serde_json::from_str(&read("out.json")).unwrap();
    let g_text = g.display().to_string();
    let entries = doc["processes"].as_array().unwrap();
    let g_entry = entries
        .iter()
        .find(|p| p["argv"][0] == g_text.as_str())
        .unwrap_or_else(|| panic!("G not listed: {doc}"));
    assert_eq!(g_entry["outcome"], "skipped", "{doc}");
    assert_eq!(g_entry["reason"], "unknown-ancestry", "{doc}");
    assert_eq!(read("g.rc").trim(), "7", "G was signalled: {doc}");
    let c_pid: u32 = read("c.pid").trim().parse().unwrap();
    // ps has no start times of ancestors at hand: everything else is kept too.
    let expected = if proc_backend() {
        "terminated"
    } else {
        "skipped"
    };
    assert_eq!(outcome(&doc, c_pid), expected, "{doc}");
}

#[test]
fn a_process_in_a_terminal_foreground_group_outside_our_namespace_is_kept() {
    // A sandbox started from a terminal without a new session: inside, the process
    // group and the terminal's foreground group both read as 0.
    if let Some(why) = namespaces_unavailable() {
        skip(&format!("a private PID namespace under a terminal: {why}"));
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.dir.path();
    let inner = r#"( "$S" 1000 & echo $! > "$O/t.pid" ); T=$(cat "$O/t.pid"); w=0; until [ "$(head -c $L /proc/$T/cmdline 2>/dev/null)" = "$S" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done; cut -d" " -f5,8 /proc/$T/stat > "$O/groups"; "$B" --name $N --threshold 0s --grace 1s --json > "$O/out.json"; kill -0 $T && echo alive > "$O/alive"; kill -9 $T"#;
    let outer = format!("unshare --pid --fork --mount-proc sh -c '{inner}'");
    let status = Command::new(which("script"))
        .args(["-q", "-e", "-c", &outer, "/dev/null"])
        .env("S", sb.sleeper_path())
        .env("O", dir)
        .env("L", sb.sleeper_path().as_os_str().len().to_string())
        .env("B", reaper_bin())
        .env("N", &sb.name)
        .env("TMPDIR", dir)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("PATINA_REAP_THRESHOLD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .status()
        .unwrap();
    assert!(status.success());
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    assert_eq!(
        read("groups").trim(),
        "0 0",
        "pgrp and tpgid as seen inside"
    );
    let doc: serde_json::Value = serde_json::from_str(&read("out.json")).unwrap();
    let t: u32 = read("t.pid").trim().parse().unwrap();
    assert_eq!(outcome(&doc, t), "skipped", "{doc}");
    assert_eq!(entry(&doc, t).unwrap()["reason"], "foreground", "{doc}");
    assert_eq!(read("alive").trim(), "alive");
}

#[test]
fn a_process_in_another_pid_namespace_is_kept_even_with_all_users() {
    if !proc_backend() {
        skip("the ps backend cannot tell PID namespaces apart");
        return;
    }
    if let Some(why) = namespaces_unavailable() {
        skip(&format!("a nested PID namespace: {why}"));
        return;
    }
    let sb = Sandbox::new();
    // In namespace A: a container's init named like the target, orphaned (its
    // unshare killed), so only the namespace can keep it.
    let script = format!(
        r#"
unshare --pid --fork "{s}" 1000 & U=$!
w=0; until [ -n "$(cat /proc/$U/task/$U/children 2>/dev/null)" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
N=$(cat /proc/$U/task/$U/children | tr -d ' ')
w=0; until [ "$(head -c {len} /proc/$N/cmdline 2>/dev/null)" = "{s}" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
kill -9 $U; wait $U
echo init=$N
echo nspid=$(grep NSpid /proc/$N/status | cut -f2- | tr '\t' ' ')
"{bin}" --name {name} --threshold 0s --grace 1s --json > "$TMPDIR"/a.$$; echo rc=$?
echo own=$(tr -d '\n' < "$TMPDIR"/a.$$)
"{bin}" --name {name} --threshold 0s --grace 1s --json --all-users > "$TMPDIR"/a.$$; echo all_rc=$?
echo all=$(tr -d '\n' < "$TMPDIR"/a.$$)
kill -0 $N && echo state=alive
rm -f "$TMPDIR"/a.$$
kill -9 $N
"#,
        s = sb.sleeper_path().display(),
        len = sb.sleeper_path().as_os_str().len(),
        bin = reaper_bin(),
        name = sb.name,
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    let init: u32 = field(&text, "init").parse().unwrap();
    assert_eq!(field(&text, "nspid"), format!("{init} 1"), "{text}");
    for (rc, key) in [("rc", "own"), ("all_rc", "all")] {
        assert_eq!(field(&text, rc), "0", "{text}");
        let doc: serde_json::Value = serde_json::from_str(field(&text, key)).unwrap();
        assert_eq!(outcome(&doc, init), "skipped", "{doc}");
        assert_eq!(entry(&doc, init).unwrap()["reason"], "namespace", "{doc}");
    }
    assert_eq!(field(&text, "state"), "alive", "{text}");
}

/// A copy of the sleeper at `dir/file` (a real file, so `/proc/PID/exe` is its path).
fn sleeper_at(dir: &Path, file: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    std::fs::copy(sleeper(), &path).unwrap();
    path
}

#[test]
fn an_executable_path_with_a_space_is_one_path_not_a_name_and_arguments() {
    if !proc_backend() {
        skip("ps shows no executable path to tell a space in a path from one between arguments");
        return;
    }
    let sb = Sandbox::new();
    let mut orphans = Orphans::new();
    // "/…/NAME tools/indexer": its first word ends in NAME, but it is `indexer`.
    let indexer = sleeper_at(&sb.dir.path().join(format!("{} tools", sb.name)), "indexer");
    // "/…/Some Tools/NAME": the program is NAME.
    let real = sleeper_at(&sb.dir.path().join("Some Tools"), &sb.name);
    let i = orphans.start(&indexer, r#""$S" 1000"#, &[]);
    let r = orphans.start(&real, r#""$S" 1000"#, &[]);
    // exec -a "NAME serve --test" still matches by its first word.
    let title = format!("{} serve --test", sb.name);
    let t = orphans.start(sleeper(), r#"exec -a "$T" "$S" 1000"#, &[("T", &title)]);
    wait_for_argv0(i, &indexer.display().to_string());
    wait_for_argv0(r, &real.display().to_string());
    wait_for_argv0(t, &title);
    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, i), "absent", "{doc}");
    assert_eq!(outcome(&doc, r), "terminated", "{doc}");
    assert_eq!(outcome(&doc, t), "terminated", "{doc}");
    let start_i = proc_state_and_start(i).map(|(_, s)| s).unwrap_or(0);
    assert!(!has_exited(i, start_i), "the indexer was hit");
}

#[test]
fn a_process_whose_main_thread_exited_is_live_and_reaped() {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        skip("the test sleeper ends its main thread only on x86_64 and aarch64");
        return;
    }
    let sb = Sandbox::new();
    let mut orphans = Orphans::new();
    let pid = orphans.start(
        &sb.sleeper_path(),
        r#""$S" 1000"#,
        &[("SLEEPER_THREAD_EXIT", "1")],
    );
    wait_until("the main thread to exit", || {
        status_field(pid, "Threads:").as_deref() == Some("2")
            && proc_state_and_start(pid).is_some_and(|(s, _)| s == 'Z')
    });
    let (_, start) = proc_state_and_start(pid).unwrap();
    let (doc, _) = sb.run_json(&["--threshold", "0s", "--dry-run"]);
    if !proc_backend() {
        // ps shows it as a zombie and has no thread count: kept (documented).
        assert_eq!(entry(&doc, pid).unwrap()["reason"], "zombie", "{doc}");
        return;
    }
    assert_eq!(outcome(&doc, pid), "would_reap", "{doc}");
    assert_eq!(entry(&doc, pid).unwrap()["name"], sb.name.as_str());
    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, pid), "terminated", "{doc}");
    assert!(exited_within(pid, start, EXIT), "still running");
}

#[cfg(target_os = "linux")]
#[test]
fn with_few_descriptors_the_run_waits_one_grace_period_not_one_per_batch() {
    // 40 processes that block SIGTERM and 16 descriptors: pidfds cannot all be open at
    // once. Batches that each wait a grace period kill the first batch before the last
    // is sent SIGTERM; one period for all sends every SIGTERM before any SIGKILL. A
    // blocked SIGTERM stays pending, so the order can be read off /proc/PID/status.
    let sb = Sandbox::new();
    let mut orphans = Orphans::new();
    let pids: Vec<u32> = (0..40)
        .map(|_| {
            orphans.start(
                &sb.sleeper_path(),
                r#""$S" 1000"#,
                &[("SLEEPER_BLOCK_TERM", "1")],
            )
        })
        .collect();
    for &pid in &pids {
        wait_for_argv0(pid, &sb.sleeper_path().display().to_string());
    }
    let starts: Vec<u64> = pids
        .iter()
        .map(|&p| proc_state_and_start(p).unwrap().1)
        .collect();
    let mut cmd = Command::new(which("prlimit"));
    sb.private_tmp(&mut cmd);
    let reaper = cmd
        .args(["--nofile=16:16", "--"])
        .arg(reaper_bin())
        .args([
            "--name",
            &sb.name,
            "--threshold",
            "0s",
            "--grace",
            "8s",
            "--json",
        ])
        .env_remove("PATINA_REAP_THRESHOLD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Poll until every process has exited or holds a pending SIGTERM; at that moment
    // none may have been killed yet.
    let term_pending = |pid: u32| {
        status_field(pid, "ShdPnd:")
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << 14) != 0)
    };
    let mut killed_before_last_term = None;
    loop {
        let gone = pids
            .iter()
            .zip(&starts)
            .filter(|&(&p, &s)| has_exited(p, s))
            .count();
        let waiting = pids
            .iter()
            .zip(&starts)
            .filter(|&(&p, &s)| !has_exited(p, s) && !term_pending(p))
            .count();
        if waiting == 0 {
            killed_before_last_term = Some(gone);
            break;
        }
        if gone == pids.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = reaper.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (&pid, &start) in pids.iter().zip(&starts) {
        assert_eq!(outcome(&doc, pid), "killed", "{doc}");
        assert!(exited_within(pid, start, EXIT), "{pid} still running");
    }
    assert_eq!(
        killed_before_last_term,
        Some(0),
        "processes were killed before the last SIGTERM was sent: one grace period per batch"
    );
}

#[test]
fn huge_durations_are_saturated_never_a_panic() {
    let sb = Sandbox::new();
    let mut orphans = Orphans::new();
    let pid = orphans.start(&sb.sleeper_path(), r#""$S" 1000"#, &[]);
    wait_for_argv0(pid, &sb.sleeper_path().display().to_string());
    let (_, start) = proc_state_and_start(pid).unwrap();
    let max = "18446744073709551615s";
    let (doc, out) = sb.run_json(&["--threshold", max, "--grace", max]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(entry(&doc, pid).unwrap()["reason"], "young", "{doc}");
    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", max]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(outcome(&doc, pid), "terminated", "{doc}");
    assert!(exited_within(pid, start, EXIT));
}

#[test]
fn write_errors_on_stdout_or_stderr_are_never_a_panic() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        skip("no /dev/full here");
        return;
    };
    let sb = Sandbox::new();
    let run = |env: &[(&str, &str)], args: &[&str], out: bool, err: bool| {
        let mut cmd = sb.reaper();
        cmd.args(args).envs(env.iter().copied());
        if out {
            cmd.stdout(full.try_clone().unwrap());
        }
        if err {
            cmd.stderr(full.try_clone().unwrap());
        }
        cmd.output().unwrap().status.code()
    };
    let off = [("PATINA_REAP_THRESHOLD", "off")];
    assert_eq!(run(&off, &[], false, true), Some(0));
    assert_eq!(run(&off, &[], true, true), Some(0));
    // A report that cannot be written has its own status (3, never 1, which says a
    // reap failed), not a crash (101).
    assert_eq!(run(&[], &["--dry-run"], true, false), Some(3));
    assert_eq!(run(&[], &["--dry-run"], true, true), Some(3));
    assert_eq!(run(&[], &["--dry-run", "--json"], true, true), Some(3));
    assert_eq!(run(&[], &["--threshold", "24"], false, true), Some(2));
}

#[test]
fn the_lock_file_goes_to_the_runtime_directory_never_the_current_one() {
    let sb = Sandbox::new();
    let work = sb.dir.path().join("work");
    let runtime = sb.dir.path().join("runtime");
    std::fs::create_dir_all(work.join("rel")).unwrap();
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    for tmpdir in ["", "rel"] {
        let out = sb
            .reaper()
            .args(["--threshold", "0s"])
            .current_dir(&work)
            .env("TMPDIR", tmpdir)
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let left: Vec<_> = walk(&work);
    assert!(
        left.is_empty(),
        "files left in the current directory: {left:?}"
    );
    let locks: Vec<_> = std::fs::read_dir(&runtime)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert!(locks[0].starts_with("patina-reap-") && locks[0].ends_with(".lock"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_stopped_reaper_holding_the_lock_does_not_stop_the_preflight() {
    // H, a reaper of the same user and names, takes the lock and waits its grace
    // period for I (another user's process that ignores SIGTERM); then it is stopped,
    // as with Ctrl-Z. A later patina's preflight still reaps a stale serve.
    if let Some(why) = namespaces_unavailable() {
        skip(&format!(
            "a stopped reaper in a private PID namespace: {why}"
        ));
        return;
    }
    let sb = Sandbox::new();
    let patina = example_patina().display().to_string();
    let lookalike = sb.link(sleeper(), "patina");
    let script = format!(
        r#"
state() {{ s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }}
SLEEPER_IGNORE_TERM=1 setpriv --reuid=65534 --regid=65534 --clear-groups "{i}" 1000 & I=$!
w=0; until [ "$(head -c {len} /proc/$I/cmdline 2>/dev/null)" = "{i}" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
"{bin}" --threshold 0s --grace 60s --all-users --json >"$TMPDIR"/h.json 2>&1 & H=$!
w=0; until grep -qx "$H" "$TMPDIR"/patina-reap-*.lock 2>/dev/null || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
sleep 0.3
kill -STOP $H
w=0; until [ "$(cut -d' ' -f3 /proc/$H/stat)" = T ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
echo holder=$(cut -d' ' -f3 /proc/$H/stat)
[ -e /proc/$H/stat ] || echo "holder_out=$(cat "$TMPDIR"/h.json)"
"{patina}" serve 2>/dev/null & S=$!
sleep 1.5
PATINA_REAP_THRESHOLD=1s "{patina}" status >/dev/null 2>"$TMPDIR"/err.$$; echo rc=$?
echo serve=$(state $S)
echo err=$(cat "$TMPDIR"/err.$$)
rm -f "$TMPDIR"/err.$$
kill -CONT $H; kill -9 $H $I $S 2>/dev/null
true
"#,
        i = lookalike.display(),
        len = lookalike.as_os_str().len(),
        bin = reaper_bin(),
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "holder"), "T", "{text}");
    assert_eq!(field(&text, "rc"), "0", "{text}");
    assert_eq!(field(&text, "serve"), "exited", "{text}");
    assert!(
        field(&text, "err").starts_with("Cleaned up stale patina serve"),
        "{text}"
    );
}
