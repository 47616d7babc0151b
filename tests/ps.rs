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

/// A stand-in `ps` that appends its arguments to a log, then runs the real one:
/// (its directory, for PATH, and the log).
fn logging_ps(sb: &Sandbox) -> (PathBuf, PathBuf) {
    let log = sb.dir.path().join("ps.log");
    let dir = fake_ps(
        sb,
        &format!(
            "echo \"$*\" >> '{}'\nexec '{}' \"$@\"",
            log.display(),
            which("ps").display()
        ),
    );
    (dir, log)
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
    let (dir, log) = logging_ps(&sb);
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
fn ps_output_whose_every_age_is_impossible_is_an_error_with_the_reason() {
    fails_closed(
        "echo '    1     0     0     1    -1 ?        Ss   Thu Nov 26 15:49:23 2026 3-01:02:03 12444 /sbin/init'",
        "its age cannot be true",
    );
}

#[test]
fn ps_output_without_this_process_is_an_error() {
    fails_closed(
        // Started now, as its etime says: a row that can be read.
        "echo \"    1     0     0     1    -1 ?        Ss   $(date -u '+%a %b %e %H:%M:%S %Y')    00:00 12444 /sbin/init\"",
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

/// A stand-in for FreeBSD's `ps` first on PATH: it enforces FreeBSD's `-o` rule
/// (freebsd/freebsd-src, bin/ps/ps.1: within one `-o` argument the keyword list ends at
/// the first `=`, and everything after it is the header of the last keyword) and prints
/// the header line FreeBSD would, then forwards to the real `ps` with one empty-header
/// keyword per `-o`. Every run is logged to `log`.
fn freebsd_ps(sb: &Sandbox, log: &std::path::Path) -> PathBuf {
    let real_ps = which("ps");
    let body = format!(
        r#"echo "$*" >> '{log}'
header=""
show=0
first=1
opt=0
for a do
  if [ "$first" = 1 ]; then set --; first=0; fi
  if [ "$opt" = 1 ]; then
    opt=0
    case $a in
      *=*) list=${{a%%=*}}; last=${{a#*=}} ;;
      *) list=$a; last=$(echo "$a" | sed 's/.*,//' | tr a-z A-Z) ;;
    esac
    rest=$list
    while :; do
      kw=${{rest%%,*}}
      case $rest in
        *,*) rest=${{rest#*,}}; h=$(echo "$kw" | tr a-z A-Z) ;;
        *) rest=""; h=$last ;;
      esac
      if [ -n "$h" ]; then show=1; fi
      header="$header $h"
      set -- "$@" -o "$kw="
      if [ -z "$rest" ]; then break; fi
    done
    continue
  fi
  if [ "$a" = -o ]; then opt=1; continue; fi
  set -- "$@" "$a"
done
if [ "$show" = 1 ]; then echo "$header"; fi
exec '{ps}' "$@""#,
        log = log.display(),
        ps = real_ps.display()
    );
    fake_ps(sb, &body)
}

/// Re-prints one `ps` run the way macOS's `ps` lays it out (apple-oss-distributions/
/// adv_cmds-237): each column at its width from ps/keyword.c, left-justified where
/// keyword.c says LJUST or print.c prints `%-*s` (`tty` 8, `stat` 4, `lstart` 28,
/// `ucomm` 16, padded even when last), right-justified otherwise (`pid`, `ppid`, `uid`,
/// `pgid` 5, `tpgid` 4, `rss` 6); `etime` (DSIZ) as wide as its widest value, at most
/// 20; one space between columns; a last `args` unpadded (`-ww`, print.c
/// `p_command_and_or_args`).
const MACOS_LAYOUT: &str = r#"BEGIN {
  n = split(kws, kw, " ")
  # adv_cmds ps/keyword.c widths; L = left-justified (LJUST or %-*s in print.c)
  w["pid"] = 5; w["ppid"] = 5; w["uid"] = 5; w["pgid"] = 5; w["tpgid"] = 4
  w["tty"] = 8; j["tty"] = "L"; w["stat"] = 4; j["stat"] = "L"
  w["lstart"] = 28; j["lstart"] = "L"; w["rss"] = 6; w["ucomm"] = 16; j["ucomm"] = "L"
  # DSIZ: sized to the widest value, at most this
  dyn["etime"] = 20; dyn["args"] = 64; j["args"] = "L"
  rows = 0
}
NF == 0 { next }
{
  rows++
  rest = $0
  for (i = 1; i <= n; i++) {
    k = kw[i]
    if (i == n && (k == "args" || k == "ucomm")) {
      sub(/^ /, "", rest); v = rest; sub(/[ \t]+$/, "", v)
    } else {
      cnt = (k == "lstart") ? 5 : 1
      v = ""
      for (c = 1; c <= cnt; c++) {
        sub(/^[ \t]+/, "", rest)
        if (match(rest, /^[^ \t]+/)) {
          word = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
        } else { word = "" }
        if (word == "-") { c = cnt }
        part[c] = word
        v = (v == "") ? word : v " " word
      }
      # strftime %c in the C locale: the day of the month is space-padded to two.
      if (k == "lstart" && v != "-") v = sprintf("%s %s %2s %s %s", part[1], part[2], part[3], part[4], part[5])
    }
    val[rows, i] = v
    if (k in dyn && length(v) > width[k]) width[k] = (length(v) > dyn[k]) ? dyn[k] : length(v)
  }
}
END {
  for (r = 1; r <= rows; r++) {
    line = ""
    for (i = 1; i <= n; i++) {
      k = kw[i]; v = val[r, i]
      wd = (k in dyn) ? width[k] : w[k]
      if (i == n && k == "args") cell = v
      else if (j[k] == "L") cell = sprintf("%-*s", wd, v)
      else cell = sprintf("%*s", wd, v)
      line = (i == 1) ? cell : line " " cell
    }
    print line
  }
}
"#;

/// A stand-in for macOS's `ps` first on PATH: the real `ps` with the same arguments,
/// its columns re-laid out as [`MACOS_LAYOUT`] says. Every run is logged to `log`.
fn macos_ps(sb: &Sandbox, log: &std::path::Path) -> PathBuf {
    let dir = sb.dir.path().join("fake-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let layout = dir.join("macos-layout.awk");
    std::fs::write(&layout, MACOS_LAYOUT).unwrap();
    let body = format!(
        r#"echo "$*" >> '{log}'
kws=""
opt=0
for a do
  if [ "$opt" = 1 ]; then kws="$kws ${{a%=}}"; fi
  if [ "$a" = -o ]; then opt=1; else opt=0; fi
done
out=$('{ps}' "$@")
rc=$?
printf '%s\n' "$out" | awk -v kws="$kws" -f '{layout}'
exit $rc"#,
        log = log.display(),
        ps = which("ps").display(),
        layout = layout.display(),
    );
    fake_ps(sb, &body)
}

#[test]
fn the_macos_layout_stand_in_pads_as_adv_cmds_does() {
    let sb = Sandbox::new();
    let log = sb.dir.path().join("ps.log");
    let ps = macos_ps(&sb, &log).join("ps");
    let me = std::process::id().to_string();
    let out = Command::new(&ps)
        .args([
            "-ww", "-o", "pid=", "-o", "stat=", "-o", "lstart=", "-o", "args=",
        ])
        .args(["-p", &me])
        .output()
        .unwrap();
    let text = stdout(&out);
    let line = text.lines().next().unwrap_or_default();
    // pid right-justified at 5, stat left at 4, lstart left at 28, then args.
    assert_eq!(line[..5].trim_start(), me, "{text:?}");
    assert_eq!(line.as_bytes()[5], b' ', "{text:?}");
    assert!(line[6..10].starts_with(['S', 'R']), "{text:?}");
    assert_eq!(&line[11 + 24..11 + 29], "     ", "{text:?}");
    assert!(!line[11 + 29..].starts_with(' '), "{text:?}");
    // No pid listed: nothing printed, ps's exit status kept.
    let out = Command::new(&ps)
        .args(["-o", "pid=", "-o", "args=", "-p", "99999999"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "");
    assert_eq!(out.status.code(), Some(1));
}

/// The re-check before SIGTERM must read `args` as the scan did; with `lstart` padded
/// to 28 columns a re-check that put `args` after it read four more leading spaces and
/// reported every stale process `already gone`, leaving it running.
#[test]
fn the_ps_backend_scans_and_reaps_through_a_macos_style_ps() {
    let mut sb = Sandbox::new();
    let log = sb.dir.path().join("ps.log");
    let dir = macos_ps(&sb, &log);
    let polite = sb.spawn_sleeper();
    let stubborn = sb.spawn_term_ignorer();
    let lookalike = sb.spawn_with_argv0(&format!("{}d", sb.name), &[]);
    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--grace", "1s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(outcome(&doc, polite), "terminated", "{doc}");
    assert_eq!(outcome(&doc, stubborn), "killed", "{doc}");
    assert_eq!(outcome(&doc, lookalike), "absent", "{doc}");
    assert!(sb.exits_within(polite, Duration::from_secs(5)));
    assert!(sb.exits_within(stubborn, Duration::from_secs(5)));
    assert!(sb.alive(lookalike));
    let runs = std::fs::read_to_string(&log).unwrap();
    assert!(runs.lines().any(|l| l.contains("-p")), "{runs}");
}

#[test]
fn the_freebsd_o_rule_stand_in_really_enforces_it() {
    let sb = Sandbox::new();
    let log = sb.dir.path().join("ps.log");
    let ps = freebsd_ps(&sb, &log).join("ps");
    let me = std::process::id().to_string();
    // The comma list of the old scan is one column, headed by the rest of the list.
    let out = Command::new(&ps)
        .args(["-o", "pid=,ppid=,args=", "-p", &me])
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0].trim(), ",ppid=,args=");
    assert_eq!(lines[1].trim(), me);
    // One keyword per -o: no header, every column.
    let out = Command::new(&ps)
        .args(["-o", "pid=", "-o", "ppid=", "-p", &me])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(text.split_whitespace().count(), 2, "{text}");
}

#[test]
fn the_ps_backend_scans_and_reaps_through_a_freebsd_style_ps() {
    let mut sb = Sandbox::new();
    let log = sb.dir.path().join("ps.log");
    let dir = freebsd_ps(&sb, &log);
    let polite = sb.spawn_sleeper();
    let stubborn = sb.spawn_term_ignorer();
    let zombie = sb.spawn_zombie();
    let lookalike = sb.spawn_with_argv0(&format!("{}d", sb.name), &[]);

    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(outcome(&doc, polite), "would_reap", "{doc}");
    assert_eq!(outcome(&doc, stubborn), "would_reap", "{doc}");
    assert_eq!(entry(&doc, zombie).unwrap()["reason"], "zombie", "{doc}");
    assert_eq!(outcome(&doc, lookalike), "absent", "{doc}");

    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--grace", "1s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(outcome(&doc, polite), "terminated", "{doc}");
    assert_eq!(outcome(&doc, stubborn), "killed", "{doc}");
    assert_eq!(outcome(&doc, zombie), "skipped", "{doc}");
    assert!(sb.exits_within(polite, Duration::from_secs(5)));
    assert!(sb.exits_within(stubborn, Duration::from_secs(5)));
    assert!(sb.alive(lookalike));
    // Every scan and check went through the stand-in.
    let runs = std::fs::read_to_string(&log).unwrap();
    assert!(
        runs.lines().filter(|l| l.contains("-A")).count() == 2,
        "{runs}"
    );
    assert!(runs.lines().any(|l| l.contains("-p")), "{runs}");
}

#[test]
fn the_ps_backend_checks_all_targets_in_one_ps_run_per_step() {
    let mut sb = Sandbox::new();
    let (dir, log) = logging_ps(&sb);
    let mut pids: Vec<u32> = (0..10).map(|_| sb.spawn_sleeper()).collect();
    pids.extend((0..5).map(|_| sb.spawn_term_ignorer()));
    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--grace", "1s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_of(&out);
    for &pid in &pids[..10] {
        assert_eq!(outcome(&doc, pid), "terminated", "{doc}");
    }
    for &pid in &pids[10..] {
        assert_eq!(outcome(&doc, pid), "killed", "{doc}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let checks: Vec<&str> = text.lines().filter(|l| l.contains("-p ")).collect();
    // The check before SIGTERM names every target at once...
    let first: Vec<&str> = checks[0].rsplit(' ').next().unwrap().split(',').collect();
    assert_eq!(first.len(), pids.len(), "{text}");
    // ...and the whole reap takes a few runs, not one or more per process: before
    // SIGTERM, at 100/200/400/800 ms and the end of the grace period, before SIGKILL,
    // and while confirming.
    assert!(checks.len() <= 12, "{} runs:\n{text}", checks.len());
    for &pid in &pids {
        assert!(sb.exits_within(pid, Duration::from_secs(5)));
    }
}

#[test]
fn an_empty_argv0_matches_on_neither_backend_unless_the_kernel_name_does() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    // argv ["", NAME, "--edit", "notes"] of a program whose kernel name is not NAME.
    let other = sb.spawn_with_argv0("", &[&name, "--edit", "notes"]);
    // The same argv of a program whose kernel name is NAME.
    let mut cmd = Command::new(sb.sleeper_path());
    std::os::unix::process::CommandExt::arg0(&mut cmd, "");
    cmd.args([&name, "--edit", "notes"]);
    let same = sb.spawn(cmd);
    let backends: &[&str] = if cfg!(target_os = "linux") {
        &["proc", "ps"]
    } else {
        &["ps"]
    };
    for backend in backends {
        let out = sb
            .reaper()
            .env("PATINA_REAP_BACKEND", backend)
            .args(["--threshold", "0s", "--dry-run", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{backend}: {}", stderr(&out));
        let doc = json_of(&out);
        assert_eq!(outcome(&doc, other), "absent", "{backend}: {doc}");
        // Matched (its verdict is not the point: a child of this test is attached).
        assert_ne!(outcome(&doc, same), "absent", "{backend}: {doc}");
    }
    assert!(sb.alive(other) && sb.alive(same));
}

#[test]
fn a_ps_that_floods_its_output_is_stopped_at_the_cap() {
    fails_closed(
        "exec yes '    1     0     0     1    -1 ?  S  Thu Nov 26 15:49:23 2026 00:01 0 x'",
        "stopped reading",
    );
}

#[test]
fn rows_ps_cannot_read_are_left_out_and_named_under_verbose() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let real_ps = which("ps");
    // The real table plus a FreeBSD-style row without a start time for a matching name.
    let dir = fake_ps(
        &sb,
        &format!(
            "'{}' \"$@\"\necho ' 99999999     1     0 99999999     0 -  SW   -   -      0 {}'",
            real_ps.display(),
            sb.name
        ),
    );
    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--dry-run", "--verbose"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("PID 99999999") && err.contains("no start time"),
        "{err}"
    );
    assert!(stdout(&out).contains(&pid.to_string()), "{}", stdout(&out));
    // Without --verbose, not a word about it.
    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "0s", "--dry-run"])
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("99999999"), "{}", stderr(&out));
}

/// procps has printed an `etime` of 4123168608 s for a process that had just started;
/// read as true, a young process was reaped as stale. A row whose age cannot be true is
/// left out with its reason, and the process is kept.
#[test]
fn a_young_process_that_ps_calls_ancient_is_left_out_and_kept() {
    let mut sb = Sandbox::new();
    let young = sb.spawn_sleeper();
    let old_enough = sb.spawn_sleeper();
    std::thread::sleep(Duration::from_millis(1100));
    // The real table, with the etime column (13th word: lstart is five) of `young`
    // replaced.
    let dir = fake_ps(
        &sb,
        &format!(
            "out=$('{}' \"$@\")\nrc=$?\nprintf '%s\\n' \"$out\" | awk '$1 == {young} {{ $13 = \"47721-20:36:48\" }} NF > 0 {{ print }}'\nexit $rc",
            which("ps").display()
        ),
    );
    let out = ps_reaper(&sb, Some(&dir))
        .args(["--threshold", "1s", "--grace", "1s", "--json", "--verbose"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(outcome(&doc, young), "absent", "{doc}");
    assert_eq!(outcome(&doc, old_enough), "terminated", "{doc}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("PID {young}: its age cannot be true")),
        "{err}"
    );
    assert!(sb.alive(young), "the young process was signalled");
    assert!(sb.exits_within(old_enough, Duration::from_secs(5)));
}
