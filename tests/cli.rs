//! Command-line conventions a Unix user expects: negative values reach the DURATION
//! parser, the last of a repeated flag wins, color follows no-color.org, every usage
//! error has one layout, and nothing from the environment or the arguments reaches the
//! terminal unescaped.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

/// The usage-error layout: `error: invalid value 'V' for 'WHERE': WHY`, a blank line,
/// the `Usage:` line, and clap's pointer to --help.
fn assert_usage_layout(out: &Output, value: &str, origin: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(stdout(out), "");
    let prefix = format!("error: invalid value '{value}' for '{origin}': ");
    assert!(err.starts_with(&prefix), "want {prefix:?} in:\n{err}");
    assert_eq!(err.lines().count(), 5, "{err}");
    assert!(err.contains("\n\nUsage: patina-reap "), "{err}");
    assert!(
        err.ends_with("\n\nFor more information, try '--help'.\n"),
        "{err}"
    );
}

#[test]
fn negative_durations_reach_the_duration_parser() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["--threshold", "-5m"], "-5m", "--threshold <DURATION>"),
        (&["-t", "-5m"], "-5m", "--threshold <DURATION>"),
        (&["--threshold=-5m"], "-5m", "--threshold <DURATION>"),
        (&["--grace", "-1s"], "-1s", "--grace <DURATION>"),
        (&["-g", "-1s"], "-1s", "--grace <DURATION>"),
    ];
    for (args, value, origin) in cases {
        let out = sb.run(args);
        assert_usage_layout(&out, value, origin);
        let err = stderr(&out);
        assert!(err.contains("cannot be negative"), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    assert!(sb.alive(pid));
}

#[test]
fn a_repeated_flag_takes_its_last_value() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    // As an alias `reap='patina-reap -t 1h -n'` called as `reap -t 0s -n -vv` would.
    let (doc, out) = sb.run_json(&["-t", "1h", "-n", "-t", "0s", "-n", "--dry-run", "-vv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(doc["threshold_secs"], 0);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(outcome(&doc, pid), "would_reap");
    let (doc, out) = sb.run_json(&["-n", "-t", "0s", "-t", "1h", "-g", "1s", "-g", "2s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(doc["threshold_secs"], 3600);
    assert_eq!(doc["grace_secs"], 2);
    assert_eq!(outcome(&doc, pid), "skipped");
    // Of --quiet and --verbose the last wins.
    let out = sb.run(&["-n", "-t", "1h", "-q", "-v"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("Kept {}", sb.name)),
        "{}",
        stdout(&out)
    );
    let out = sb.run(&["-n", "-t", "1h", "-v", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(sb.alive(pid));
}

#[test]
fn a_name_given_twice_counts_once() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    // The sandbox passes --name once already.
    let out = sb.run(&["--name", &sb.name, "-n", "-t", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().last().unwrap(),
        format!("Would reap 1 stale {} process, ", sb.name)
            + text.lines().last().unwrap().split(", ").nth(1).unwrap(),
        "{text}"
    );
    assert!(!text.contains(&format!("{0}/{0}", sb.name)), "{text}");
    assert_eq!(text.matches(&format!("PID {pid},")).count(), 1, "{text}");
}

/// The reaper with the color variables cleared, then `vars` set.
fn colored_run(sb: &Sandbox, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd: Command = sb.reaper();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .env_remove("TERM");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

#[test]
fn color_follows_no_color_then_the_force_variables_then_the_flag_wins() {
    let sb = Sandbox::new();
    let colored = |vars: &[(&str, &str)], args: &[&str]| {
        let out = colored_run(&sb, vars, args);
        (
            stdout(&out).contains('\u{1b}'),
            stderr(&out).contains('\u{1b}'),
        )
    };
    let n = &["-n"][..];
    // Piped: no color unless forced.
    assert_eq!(colored(&[], n), (false, false));
    assert_eq!(colored(&[("CLICOLOR_FORCE", "1")], n), (true, false));
    assert_eq!(colored(&[("FORCE_COLOR", "1")], n), (true, false));
    assert_eq!(colored(&[("FORCE_COLOR", "0")], n), (false, false));
    assert_eq!(colored(&[("CLICOLOR_FORCE", "0")], n), (false, false));
    assert_eq!(colored(&[("CLICOLOR_FORCE", "")], n), (false, false));
    // NO_COLOR: present and not empty disables (whatever its value), empty does not.
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], n),
        (false, false)
    );
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "0")], n),
        (false, false)
    );
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")], n),
        (true, false)
    );
    assert_eq!(
        colored(&[("FORCE_COLOR", "1"), ("NO_COLOR", "yes")], n),
        (false, false)
    );
    // The flag wins over all of them.
    assert_eq!(
        colored(&[("NO_COLOR", "1")], &["-n", "--color", "always"]),
        (true, false)
    );
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1")], &["-n", "--color", "never"]),
        (false, false)
    );
    // Usage errors follow the same rules, --color included.
    let bad = &["-t", "5"][..];
    assert_eq!(colored(&[], bad), (false, false));
    assert_eq!(colored(&[("CLICOLOR_FORCE", "1")], bad), (false, true));
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], bad),
        (false, false)
    );
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1")], &["--color", "never", "-t", "5"]),
        (false, false)
    );
    assert_eq!(
        colored(&[("CLICOLOR_FORCE", "1")], &["--color=never", "--bogus"]),
        (false, false)
    );
    assert_eq!(
        colored(&[("NO_COLOR", "1")], &["--color", "always", "--bogus"]),
        (false, true)
    );
}

#[test]
fn every_usage_error_has_one_layout() {
    let sb = Sandbox::new();
    let run_env = |var: &str, value: &str, args: &[&str]| {
        let mut cmd = sb.reaper();
        cmd.env(var, value).args(args).output().unwrap()
    };
    assert_usage_layout(&sb.run(&["-t", "24"]), "24", "--threshold <DURATION>");
    assert_usage_layout(&sb.run(&["-t", "off"]), "off", "--threshold <DURATION>");
    assert_usage_layout(&sb.run(&["--name", "a/b"]), "a/b", "--name <NAME>");
    assert_usage_layout(&sb.run(&["--name", ""]), "", "--name <NAME>");
    assert_usage_layout(
        &run_env("PATINA_REAP_THRESHOLD", "5y", &[]),
        "5y",
        "PATINA_REAP_THRESHOLD",
    );
    assert_usage_layout(
        &run_env("PATINA_REAP_BACKEND", "procfs", &["-t", "0s"]),
        "procfs",
        "PATINA_REAP_BACKEND",
    );
    // A variable that is not UTF-8 is named, not taken for an argument.
    let not_utf8 = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"1\xffh");
    assert_usage_layout(
        &sb.reaper()
            .env("PATINA_REAP_THRESHOLD", not_utf8)
            .output()
            .unwrap(),
        "1\u{fffd}h",
        "PATINA_REAP_THRESHOLD",
    );
    // A --grace error gives grace-like examples, not the threshold's.
    for bad in ["5", "5y", "x"] {
        let out = sb.run(&["--grace", bad]);
        assert_usage_layout(&out, bad, "--grace <DURATION>");
        assert!(!stderr(&out).contains("24h"), "{}", stderr(&out));
    }
}

#[test]
fn nothing_from_the_environment_or_arguments_reaches_the_terminal_raw() {
    let sb = Sandbox::new();
    let hostile = "\u{1b}]0;PWNED\u{7}\u{2028}\u{1b}[2J\u{202e}";
    let escaped = "\\x1b]0;PWNED\\x07\\u{2028}\\x1b[2J\\u{202e}";
    let runs: Vec<(String, Output)> = vec![
        ("threshold variable".into(), {
            let mut cmd = sb.reaper();
            cmd.env("PATINA_REAP_THRESHOLD", hostile).output().unwrap()
        }),
        ("backend variable".into(), {
            let mut cmd = sb.reaper();
            cmd.env("PATINA_REAP_BACKEND", hostile).output().unwrap()
        }),
        ("--threshold".into(), sb.run(&["-t", hostile])),
        ("--grace".into(), sb.run(&["--grace", hostile])),
        (
            "--name".into(),
            sb.run(&["--name", &format!("a/{hostile}")]),
        ),
        ("unknown argument".into(), sb.run(&[hostile])),
        ("unknown flag".into(), sb.run(&[&format!("--{hostile}")])),
    ];
    for (what, out) in &runs {
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(out));
        let err = stderr(out);
        assert!(!has_terminal_control(&err), "{what}: {err:?}");
        assert!(err.contains(escaped), "{what}: {err}");
    }
    // With colors on, only the tool's own SGR sequences are there.
    let mut cmd = sb.reaper();
    let out = cmd
        .env("PATINA_REAP_THRESHOLD", hostile)
        .args(["--color", "always"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains(escaped), "{err}");
    assert!(!err.contains('\u{7}') && !err.contains("\u{1b}]") && !err.contains("\u{1b}[2J"));
}

#[test]
fn library_errors_escape_what_they_echo() {
    let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J";
    for text in [
        hostile.to_owned(),
        format!("5{hostile}"),
        format!("{hostile} 5"),
    ] {
        let message = patina_reap::for_cli::parse_duration(&text)
            .unwrap_err()
            .to_string();
        assert!(!has_terminal_control(&message), "{message:?}");
    }
}

#[test]
fn invisible_characters_in_a_command_line_are_escaped_for_people_and_in_json() {
    let mut sb = Sandbox::new();
    let hidden = "a\u{61c}b\u{2060}c\u{2064}d\u{ad}e\u{e0041}f\u{2028}g\u{2029}h";
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.args(["1000", hidden]);
    let pid = sb.spawn_launched(cmd);
    wait_for_argv0(pid, &sb.sleeper_path().to_string_lossy());
    let out = sb.run(&["-n", "-t", "0s", "--color", "never"]);
    let text = stdout(&out);
    assert!(text.contains(&format!("PID {pid},")), "{text}");
    assert!(!has_terminal_control(&text), "{text:?}");
    let (doc, out) = sb.run_json(&["-n", "-t", "0s"]);
    let raw = stdout(&out);
    assert!(!has_terminal_control(&raw), "{raw:?}");
    if exact_argv() {
        assert!(
            text.contains("a\\u{61c}b\\u{2060}c\\u{2064}d\\xade\\u{e0041}f\\u{2028}g\\u{2029}h"),
            "{text}"
        );
        assert_eq!(entry(&doc, pid).unwrap()["argv"][2], hidden);
    }
    assert!(sb.alive(pid));
}

#[test]
fn the_tests_keep_their_files_and_the_reaper_lock_out_of_the_system_temp_directory() {
    let sb = Sandbox::new();
    let out = sb.run(&["-t", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let locks: Vec<String> = std::fs::read_dir(sb.tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("patina-reap-") && n.ends_with(".lock"))
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    // The build's target/tmp may itself lie under the system temp directory (a clone
    // under /tmp): what counts is being inside target/tmp, so a file made directly in
    // the system temp directory fails this wherever the clone is. Canonical, since the
    // temp directory is often reached through a symlink (/tmp on macOS).
    let canonical = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
    let (ours, system) = (canonical(test_tmp()), canonical(&std::env::temp_dir()));
    for path in [sb.dir.path(), &sb.tmp(), sleeper()] {
        let path = canonical(path);
        assert!(
            path.starts_with(&ours),
            "{} is not under {}",
            path.display(),
            ours.display()
        );
    }
    // ...and target/tmp is a directory of its own, not the system temp directory or
    // one above it.
    assert!(
        !system.starts_with(&ours),
        "{} holds the system temp directory {}",
        ours.display(),
        system.display()
    );
}

/// A pipe whose reader is gone, as after `| head -1` has read its line: writing to it
/// fails with EPIPE. The reader, `true`, has exited before the pipe is handed on.
fn closed_pipe() -> std::process::Stdio {
    let mut reader = Command::new("true")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run true");
    let writer = reader.stdin.take().expect("the pipe's write end");
    reader.wait().expect("wait for true");
    writer.into()
}

#[test]
fn a_closed_pipe_ends_it_quietly_and_the_stale_process_is_still_reaped() {
    for args in [
        &["-t", "0s", "-g", "1s", "-v"][..],
        &["-t", "0s", "-g", "1s", "--json"],
    ] {
        let mut sb = Sandbox::new();
        let pid = sb.spawn_sleeper();
        let out = sb
            .reaper()
            .args(args)
            .stdout(closed_pipe())
            .output()
            .expect("run patina-reap");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
        assert!(!sb.alive(pid), "{args:?}: the stale process was not reaped");
    }
    // A dry run, likewise quiet; it signals nothing.
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb
        .reaper()
        .args(["-n", "-v", "-t", "0s"])
        .stdout(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(sb.alive(pid));
}

#[test]
fn a_pipe_into_head_ends_it_quietly() {
    if !Path::new("/bin/bash").exists() && !Path::new("/usr/bin/bash").exists() {
        return skip("no bash for set -o pipefail");
    }
    let mut sb = Sandbox::new();
    // Two stale processes: three lines, of which head reads one.
    let pids = [sb.spawn_sleeper(), sb.spawn_sleeper()];
    // Whether the reaper's second write meets a closed pipe depends on how fast head is;
    // either way the run must end quietly with 0.
    for pipeline in [
        "\"$@\" -n -v -t 0s | head -1",
        "\"$@\" -n --json -t 0s | head -c 10",
    ] {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("set -o pipefail; {pipeline}"))
            .arg("bash")
            .arg(reaper_bin())
            .args(["--name", &sb.name]);
        sb.private_tmp(&mut cmd);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{pipeline}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{pipeline}");
        assert!(!stdout(&out).is_empty(), "{pipeline}");
    }
    assert!(pids.iter().all(|&pid| sb.alive(pid)));
}

#[test]
fn a_full_stdout_has_its_own_status_and_never_stops_the_reap() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return skip("no /dev/full");
    };
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb
        .reaper()
        .args(["-t", "0s", "-g", "1s"])
        .stdout(full)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("error: could not write the report to stdout: "),
        "{err}"
    );
    assert!(!sb.alive(pid), "the stale process was not reaped");
}

/// The README's CI gate, run by bash as a CI step would.
const GATE: &str =
    "set -o pipefail; \"$@\" --dry-run --json | jq -en 'input | .summary.would_reap == 0'";

#[test]
fn the_ci_gate_passes_only_when_the_tool_ran_and_found_nothing_stale() {
    if Command::new("jq").arg("--version").output().is_err() {
        return skip("no jq");
    }
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let gate = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(GATE)
            .arg("bash")
            .arg(reaper_bin())
            .args(["--name", &sb.name])
            .args(args)
            .env_remove("PATINA_REAP_THRESHOLD")
            .env_remove("PATINA_REAP_BACKEND");
        sb.private_tmp(&mut cmd);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().expect("run bash")
    };
    // Nothing stale: the gate passes.
    let out = gate(&["-t", "1h"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "true\n");
    // Something stale: it fails.
    let out = gate(&["-t", "0s"], &[]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    // The tool failed and printed no JSON: it fails too (jq -e alone passed on empty input).
    for (args, vars) in [
        (&["-t", "24"][..], &[][..]),
        (&["--no-such-flag"], &[]),
        (&[], &[("PATINA_REAP_BACKEND", "bogus")]),
        (&[], &[("PATINA_REAP_THRESHOLD", "1 fortnight")]),
    ] {
        let out = gate(args, vars);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{args:?} {vars:?}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{args:?} {vars:?}");
    }
    assert!(sb.alive(pid));
}

#[test]
fn a_disabled_run_reports_no_threshold() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb
        .reaper()
        .env("PATINA_REAP_THRESHOLD", "off")
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["disabled"], true);
    assert_eq!(doc["threshold_secs"], serde_json::Value::Null);
    assert_eq!(doc["summary"]["would_reap"], 0);
    let (doc, _) = sb.run_json(&["-n"]);
    assert_eq!(doc["threshold_secs"], 86_400);
    assert!(sb.alive(pid));
}

#[test]
fn every_usage_error_shows_the_usage_line() {
    let sb = Sandbox::new();
    for args in [
        &["--socket", ""][..],
        &["--socket="],
        &["--color"],
        &["--dry-run=yes"],
        &["--json=1"],
        &["--threshold"],
        &["--no-such-flag"],
        &["-t", "24"],
    ] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(
                "\n\nUsage: patina-reap [OPTIONS]\n\nFor more information, try '--help'.\n"
            ),
            "{args:?}:\n{err}"
        );
    }
}

#[test]
fn pids_lists_only_the_stale_processes_one_per_line() {
    let mut sb = Sandbox::new();
    let stale = sb.spawn_sleeper();
    // A child of this test: kept as attached.
    let mut cmd = Command::new(sb.sleeper_path());
    cmd.arg("1000");
    let kept = sb.spawn(cmd);

    let out = sb.run(&["-n", "-t", "0s", "--pids"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{stale}\n"));
    assert_eq!(stderr(&out), "");
    // --verbose puts the usual lines on stderr; stdout stays PIDs only.
    let out = sb.run(&["-n", "-t", "0s", "--pids", "-v"]);
    assert_eq!(stdout(&out), format!("{stale}\n"));
    let err = stderr(&out);
    assert!(err.contains(&format!("(PID {kept}, ")), "{err}");
    assert!(err.contains("Would reap 1 stale"), "{err}");
    // --full adds the whole command line, as pgrep -a.
    let out = sb.run(&["-n", "-t", "0s", "--pids", "--full"]);
    let path = sb.sleeper_path();
    assert_eq!(stdout(&out), format!("{stale} {} 1000\n", path.display()));
    // Nothing stale: nothing printed, status 0.
    let out = sb.run(&["-n", "--pids"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    // A real run lists what it reaped.
    let out = sb.run(&["-t", "0s", "-g", "1s", "--pids"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{stale}\n"));
    assert!(!sb.alive(stale));
    assert!(sb.alive(kept));
    // Nothing matched at all: likewise empty, status 0.
    let out = Command::new(reaper_bin())
        .args(["--name", &unique_name(), "-n", "--pids"])
        .env("TMPDIR", sb.tmp())
        .env("XDG_RUNTIME_DIR", sb.tmp())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let out = sb.run(&["--pids", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn full_shows_the_whole_command_line() {
    let mut sb = Sandbox::new();
    let long = "x".repeat(150);
    let path = sb.sleeper_path();
    let argv0 = path.to_str().unwrap().to_owned();
    let pid = sb.spawn_with_argv0(&argv0, &["1000", &long]);
    wait_for_argv0(pid, &argv0);
    let out = sb.run(&["-n", "-t", "0s"]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("stale {} 1000 x", sb.name)),
        "{text}"
    );
    assert!(text.contains('…') && !text.contains(&long), "{text}");
    let out = sb.run(&["-n", "-t", "0s", "-f"]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("stale {argv0} 1000 {long} (PID {pid}, ")),
        "{text}"
    );
}

#[test]
fn user_chooses_whose_processes_count() {
    let mut sb = Sandbox::new();
    let own = sb.spawn_sleeper();
    let me = rustix::process::geteuid().as_raw().to_string();
    let (doc, out) = sb.run_json(&["-n", "-t", "0s", "-u", &me]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, own), "would_reap");
    // Another uid only: our process is not considered.
    let other = if me == "65534" { "65533" } else { "65534" };
    let (doc, _) = sb.run_json(&["-n", "-t", "0s", "-u", other]);
    assert_eq!(outcome(&doc, own), "absent");
    // An unknown name is a usage error; nothing is signalled.
    let out = sb.run(&["-t", "0s", "-g", "1s", "-u", "no-such-user-patina-reap"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "error: invalid value 'no-such-user-patina-reap' for '--user <USER>': no such user"
        ),
        "{}",
        stderr(&out)
    );
    assert!(sb.alive(own));
    let out = sb.run(&["-n", "-u", &me, "--all-users"]);
    assert_eq!(out.status.code(), Some(2));

    if !is_root() {
        return skip("needs root to start a process as another uid");
    }
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.arg("1000").uid(65534).gid(65534);
    let nobodys = sb.spawn_launched(cmd);
    let name = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == "65534").then(|| f[0].to_owned())
        });
    let (doc, _) = sb.run_json(&["-n", "-t", "0s", "-u", "65534"]);
    assert_eq!(outcome(&doc, nobodys), "would_reap");
    assert_eq!(outcome(&doc, own), "absent");
    let (doc, _) = sb.run_json(&["-n", "-t", "0s", "-u", "0", "-u", "65534"]);
    assert_eq!(outcome(&doc, nobodys), "would_reap");
    assert_eq!(outcome(&doc, own), "would_reap");
    // By name, and a real reap of that user's process only.
    let user = name.unwrap_or_else(|| "65534".to_owned());
    let (doc, out) = sb.run_json(&["-t", "0s", "-g", "1s", "--user", &user]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, nobodys), "terminated");
    assert!(!sb.alive(nobodys));
    assert!(sb.alive(own));
}

#[test]
fn a_dry_run_does_not_promise_what_the_real_run_cannot_do() {
    if !is_root() {
        return skip("needs root to run the reaper as another user against root's process");
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        return skip("no setpriv");
    }
    let mut sb = Sandbox::new();
    let roots = sb.spawn_sleeper();
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(reaper_bin())
            .args(["--name", &sb.name, "--all-users", "-n", "-t", "0s"])
            .args(args)
            .env_remove("PATINA_REAP_THRESHOLD");
        sb.private_tmp(&mut cmd);
        cmd.output().expect("run setpriv")
    };
    let out = as_nobody(&["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = entry(&doc, roots).expect("root's process is listed");
    assert_eq!(e["outcome"], "would_fail", "{e}");
    assert!(e["reason"].as_str().unwrap().contains("EPERM"), "{e}");
    assert_eq!(doc["summary"]["would_reap"], 0, "{doc}");
    assert_eq!(doc["summary"]["would_fail"], 1, "{doc}");
    let out = as_nobody(&[]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("(PID {roots}, ")) && text.contains("not permitted, needs root"),
        "{text}"
    );
    assert!(text.contains("Would reap 0 stale"), "{text}");
    let out = as_nobody(&["--pids"]);
    assert_eq!(stdout(&out), "");
    // Root's own dry run promises it.
    let (doc, _) = sb.run_json(&["-n", "-t", "0s"]);
    assert_eq!(outcome(&doc, roots), "would_reap");
    assert!(sb.alive(roots));
}

#[test]
fn an_empty_list_means_none_for_names_users_and_sockets_alike() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let dry = || {
        patina_reap::Reaper::new()
            .threshold(std::time::Duration::ZERO)
            .dry_run(true)
    };
    let listed = |report: &patina_reap::Report| report.processes.iter().any(|p| p.pid == pid);
    // The control: by its name, it would be reaped.
    assert!(listed(&dry().names([sb.name.as_str()]).run().unwrap()));
    // No names: nothing matches (no falling back to `patina`).
    let report = dry().names(Vec::<String>::new()).run().unwrap();
    assert!(report.processes.is_empty(), "{report:?}");
    assert_eq!(
        report.summary_line(),
        "No stale processes: no program name to match"
    );
    // No users: nobody's processes.
    let report = dry().names([sb.name.as_str()]).users([]).run().unwrap();
    assert!(report.processes.is_empty(), "{report:?}");
    // No sockets: none checked, so nothing is kept as serving; it is still listed.
    let report = dry()
        .names([sb.name.as_str()])
        .sockets(Vec::<std::path::PathBuf>::new())
        .run()
        .unwrap();
    assert!(listed(&report));
    assert!(sb.alive(pid));
}
