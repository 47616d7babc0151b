//! What pgrep users and scripts bring with them: pkill's and killall's names for the age
//! flag, a stdout that is closed, an empty value, a bad value in the environment, and
//! users that only the system's user database (NSS) knows.

use std::process::{Command, Output};

use crate::common::*;

/// The usage-error layout of `tests/cli.rs`, for the value `value` of `origin`; returns
/// the first line.
fn usage_error_line(out: &Output, value: &str, origin: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(stdout(out), "");
    let first = err.lines().next().unwrap_or_default().to_owned();
    let prefix = format!("error: invalid value '{value}' for '{origin}': ");
    assert!(first.starts_with(&prefix), "want {prefix:?} in:\n{err}");
    assert_eq!(err.lines().count(), 5, "{err}");
    assert!(
        err.ends_with("\n\nFor more information, try '--help'.\n"),
        "{err}"
    );
    first
}

#[test]
fn older_and_older_than_are_the_threshold_as_pkill_and_killall_spell_it() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    for (args, secs, verdict) in [
        (&["--older", "0s"][..], 0, "would_reap"),
        (&["--older=2h"], 7200, "skipped"),
        (&["--older-than", "1h"], 3600, "skipped"),
        (&["--older-than=0s"], 0, "would_reap"),
        // One flag under three names: the last one given wins.
        (&["-t", "0s", "--older", "1h"], 3600, "skipped"),
        (
            &["--older-than", "1h", "--threshold", "0s"],
            0,
            "would_reap",
        ),
    ] {
        let (doc, out) = sb.run_json(&[&["-n"][..], args].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(doc["threshold_secs"], secs, "{args:?}");
        assert_eq!(outcome(&doc, pid), verdict, "{args:?}");
    }
    // pkill counts bare seconds: the hint says so, and nothing is guessed.
    for (flag, value) in [("--older", "3600"), ("--older-than", "90")] {
        let out = sb.run(&["-n", flag, value]);
        let line = usage_error_line(&out, value, &format!("{flag} <DURATION>"));
        assert!(line.contains(&format!("did you mean {value}s?")), "{line}");
    }
    // Our own flag makes no guess: 24 could be hours as well.
    let out = sb.run(&["-n", "-t", "24"]);
    let line = usage_error_line(&out, "24", "--threshold <DURATION>");
    assert!(!line.contains("did you mean"), "{line}");
    // -o stays unknown: pgrep's -o is "oldest", not an age.
    let out = sb.run(&["-n", "-o", "1h"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unexpected argument '-o'"),
        "{}",
        stderr(&out)
    );
    // Both names are in the help.
    for help in ["-h", "--help"] {
        let out = Command::new(reaper_bin()).arg(help).output().unwrap();
        let text = stdout(&out);
        assert!(
            text.contains("--older") && text.contains("--older-than"),
            "{help}:\n{text}"
        );
    }
    assert!(sb.alive(pid));
}

/// `patina-reap ARGS` run by `sh` with the redirections `redirect` (`>&-`...).
fn run_redirected(sb: &Sandbox, redirect: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec \"$0\" \"$@\" {redirect}"))
        .arg(reaper_bin())
        .args(["--name", &sb.name])
        .args(args)
        .env_remove("PATINA_REAP_THRESHOLD");
    sb.private_tmp(&mut cmd);
    cmd.output().expect("run sh")
}

#[test]
fn a_closed_stdout_loses_the_report_so_the_status_is_3_and_the_reap_still_happens() {
    for args in [
        &["-t", "0s", "-g", "1s"][..],
        &["-t", "0s", "-g", "1s", "--json"],
    ] {
        let mut sb = Sandbox::new();
        let pid = sb.spawn_sleeper();
        let out = run_redirected(&sb, ">&-", args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("could not write the report to stdout"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!sb.alive(pid), "{args:?}: the stale process was not reaped");
    }
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    // A dry run's report is lost the same way.
    let out = run_redirected(&sb, ">&-", &["-n", "-t", "0s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Nothing to write, nothing lost.
    let out = run_redirected(&sb, ">&-", &["-n", "-t", "0s", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A report sent to /dev/null was asked for: write-only as a shell opens it, or
    // read-write on all three descriptors as daemon(3) leaves them.
    let out = run_redirected(&sb, ">/dev/null", &["-n", "-t", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_redirected(&sb, "<>/dev/null >&0 2>&0", &["-n", "-t", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(sb.alive(pid));
}

#[test]
fn a_bad_value_is_named_once_and_escaped_once() {
    let sb = Sandbox::new();
    let with_env = |value: &str, args: &[&str]| {
        let mut cmd = sb.reaper();
        cmd.env("PATINA_REAP_THRESHOLD", value)
            .args(args)
            .output()
            .unwrap()
    };
    let cases = [
        (with_env("24", &["-n"]), "24", "PATINA_REAP_THRESHOLD"),
        (sb.run(&["-n", "-t", "24"]), "24", "--threshold <DURATION>"),
        (sb.run(&["-n", "--grace", "5"]), "5", "--grace <DURATION>"),
        (
            with_env("1\u{1b}[31mx", &["-n"]),
            "1\\x1b[31mx",
            "PATINA_REAP_THRESHOLD",
        ),
        (
            sb.run(&["-n", "-t", "1\u{1b}[31m"]),
            "1\\x1b[31m",
            "--threshold <DURATION>",
        ),
    ];
    for (out, value, origin) in &cases {
        let line = usage_error_line(out, value, origin);
        assert_eq!(line.matches(&format!("'{value}'")).count(), 1, "{line}");
        assert!(!line.contains("\\\\"), "escaped twice: {line}");
    }
    // Where the number is part of the value, naming the part says which.
    let out = sb.run(&["-n", "-t", "1h 30"]);
    let line = usage_error_line(&out, "1h 30", "--threshold <DURATION>");
    assert!(line.contains("'30' has no unit"), "{line}");
}

#[test]
fn an_empty_value_gets_the_same_words_for_every_flag() {
    let sb = Sandbox::new();
    for (args, origin, what) in [
        (&["--socket", ""][..], "--socket <PATH>", "a socket path"),
        (&["--socket="], "--socket <PATH>", "a socket path"),
        (&["--name", ""], "--name <NAME>", "a program name"),
        (&["--user", ""], "--user <USER>", "a user name or uid"),
        (&["--threshold", ""], "--threshold <DURATION>", "a DURATION"),
        (&["--grace="], "--grace <DURATION>", "a DURATION"),
    ] {
        let out = sb.run(&[&["-n"][..], args].concat());
        let line = usage_error_line(&out, "", origin);
        assert!(
            line.contains(&format!(": {what} cannot be empty")),
            "{args:?}: {line}"
        );
    }
}
