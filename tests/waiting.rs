//! Feedback while waiting: a transient status line on a terminal (never when piped), and
//! an interrupt (SIGINT, SIGTERM) that says what happened so far and exits 130 or 143.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::common::*;

/// `command` (a shell command line) under script(1), so that its stdout and stderr are a
/// terminal; returns everything it wrote.
fn on_a_terminal(sb: &Sandbox, command: &str) -> Output {
    let mut cmd = Command::new(which("script"));
    #[cfg(target_os = "linux")]
    cmd.args(["-q", "-e", "-c", command, "/dev/null"]);
    // BSD script(1): script [-q] file command ...
    #[cfg(not(target_os = "linux"))]
    cmd.args(["-q", "/dev/null", "sh", "-c", command]);
    sb.private_tmp(&mut cmd)
        .env("SHELL", "/bin/sh")
        .env_remove("PATINA_REAP_THRESHOLD")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run script(1)")
}

/// The shell command line running the reaper on this sandbox's name with `args`.
fn reaper_line(sb: &Sandbox, args: &str) -> String {
    format!("exec '{}' --name '{}' {args}", reaper_bin(), sb.name)
}

#[test]
fn a_terminal_shows_a_status_line_during_the_grace_period_and_clears_it() {
    let mut sb = Sandbox::new();
    let stubborn = sb.spawn_term_ignorer();
    let out = on_a_terminal(&sb, &reaper_line(&sb, "-t 0s --grace 1s --color never"));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = "waiting up to 1s for 1 process to exit after SIGTERM...";
    let shown = text.find(line).unwrap_or_else(|| panic!("{text:?}"));
    // Erased (carriage return, erase line) before the report is printed.
    let cleared = text[shown..]
        .find("\r\u{1b}[K")
        .expect("status line erased");
    let report = text
        .find(&format!("(PID {stubborn}, "))
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!(shown + cleared < report, "{text:?}");
    assert!(text.contains("needed SIGKILL"), "{text:?}");
    assert!(sb.exits_within(stubborn, Duration::from_secs(5)));
}

#[test]
fn quiet_and_json_show_no_status_line_on_a_terminal() {
    let mut sb = Sandbox::new();
    let a = sb.spawn_term_ignorer();
    let b = sb.spawn_term_ignorer();
    for args in ["-t 0s --grace 1s -q", "-t 0s --grace 1s --json"] {
        let out = on_a_terminal(&sb, &reaper_line(&sb, args));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("waiting"), "{args}: {text:?}");
    }
    assert!(sb.exits_within(a, Duration::from_secs(5)));
    assert!(sb.exits_within(b, Duration::from_secs(5)));
}

#[test]
fn piped_output_has_no_status_line() {
    let mut sb = Sandbox::new();
    let stubborn = sb.spawn_term_ignorer();
    let out = sb.run(&["-t", "0s", "--grace", "1s", "-v", "--color", "never"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(!stdout(&out).contains("waiting"), "{}", stdout(&out));
    assert!(sb.exits_within(stubborn, Duration::from_secs(5)));
}

/// Start the reaper in the background with its output piped.
fn start_reaper(sb: &Sandbox, args: &[&str]) -> Child {
    sb.reaper()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start patina-reap")
}

fn send(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    kill_process(pid, signal).unwrap();
}

/// Wait (bounded: a stuck reaper is killed) for the reaper to finish.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the reaper did not end after the interrupt");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// One process that obeys SIGTERM and one that ignores it; a reaper with a long grace
/// period, interrupted once the first has gone (so SIGTERM was sent to both).
fn interrupted_during_the_grace_period(signal: Signal, extra: &[&str]) -> (Output, u32, u32) {
    let mut sb = Sandbox::new();
    let obeys = sb.spawn_sleeper();
    let stubborn = sb.spawn_term_ignorer();
    let mut args = vec!["-t", "0s", "--grace", "60s", "--color", "never"];
    args.extend_from_slice(extra);
    let reaper = start_reaper(&sb, &args);
    assert!(
        sb.exits_within(obeys, Duration::from_secs(20)),
        "SIGTERM never came"
    );
    send(&reaper, signal);
    let out = finish(reaper, Duration::from_secs(20));
    // No SIGKILL was sent: the stubborn one is still running.
    assert!(sb.alive(stubborn), "SIGKILL was sent after the interrupt");
    (out, obeys, stubborn)
}

#[test]
fn ctrl_c_during_the_grace_period_says_what_happened_and_exits_130() {
    let (out, obeys, stubborn) = interrupted_during_the_grace_period(Signal::INT, &[]);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        text.contains("Cleaned up stale ") && text.contains(&format!("(PID {obeys}, ")),
        "{text}"
    );
    let warning = err
        .lines()
        .find(|l| l.contains(&format!("(PID {stubborn}, ")))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        warning.starts_with("warning: could not clean up stale "),
        "{warning}"
    );
    assert!(
        warning.ends_with("interrupted after SIGTERM, before SIGKILL; still running"),
        "{warning}"
    );
    assert!(
        err.lines().last().unwrap().starts_with("Interrupted"),
        "{err}"
    );
}

#[test]
fn sigterm_during_the_grace_period_reports_in_json_and_exits_143() {
    let (out, obeys, stubborn) = interrupted_during_the_grace_period(Signal::TERM, &["--json"]);
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, obeys), "terminated");
    assert_eq!(outcome(&doc, stubborn), "failed");
    let reason = entry(&doc, stubborn).unwrap()["reason"].as_str().unwrap();
    assert!(reason.starts_with("interrupted after SIGTERM"), "{reason}");
}

/// Whether `pid` has a `patina-reap-*.lock` file open (it is waiting for, or holds,
/// its turn).
#[cfg(target_os = "linux")]
fn has_lock_open(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| {
            let name = target.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("patina-reap-") && name.ends_with(".lock")
        })
}

#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_while_waiting_for_the_turn_signals_nothing_and_exits_130() {
    let mut sb = Sandbox::new();
    let obeys = sb.spawn_sleeper();
    let stubborn = sb.spawn_term_ignorer();
    // The first reaper holds the turn through its long grace period.
    let first = start_reaper(&sb, &["-t", "0s", "--grace", "60s"]);
    assert!(sb.exits_within(obeys, Duration::from_secs(20)));
    // A stale process the second reaper would reap, had it its turn.
    let fresh = sb.spawn_sleeper();
    let second = start_reaper(&sb, &["-t", "0s", "--grace", "60s"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has_lock_open(second.id()) {
        assert!(Instant::now() < deadline, "the second reaper never waited");
        std::thread::sleep(Duration::from_millis(10));
    }
    send(&second, Signal::INT);
    let out = finish(second, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "Interrupted; nothing was signalled\n");
    assert!(sb.alive(fresh), "signalled after the interrupt");
    send(&first, Signal::INT);
    assert_eq!(
        finish(first, Duration::from_secs(20)).status.code(),
        Some(130)
    );
    assert!(sb.alive(stubborn));
}

#[cfg(target_os = "linux")]
#[test]
fn a_terminal_shows_a_status_line_while_waiting_for_the_turn() {
    let mut sb = Sandbox::new();
    let obeys = sb.spawn_sleeper();
    let stubborn = sb.spawn_term_ignorer();
    let first = start_reaper(&sb, &["-t", "0s", "--grace", "2s"]);
    assert!(sb.exits_within(obeys, Duration::from_secs(20)));
    let out = on_a_terminal(&sb, &reaper_line(&sb, "-t 0s --grace 1s --color never"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("waiting up to 11s for another patina-reap of these names to finish..."),
        "{text:?}"
    );
    assert!(text.contains("\r\u{1b}[K"), "{text:?}");
    assert!(finish(first, Duration::from_secs(20)).status.success());
    assert!(sb.exits_within(stubborn, Duration::from_secs(5)));
}
