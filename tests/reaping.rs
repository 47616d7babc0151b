//! The core rules, against real processes: what matches, what is stale, what is never
//! touched, how reaping escalates, and what the CLI prints and returns.

use std::process::Command;
use std::time::Duration;

use crate::common::*;

#[test]
fn a_stale_process_is_terminated_and_lookalikes_are_left_alone() {
    let mut sb = Sandbox::new();
    let name = sb.name.clone();
    let target = sb.spawn_sleeper();
    let exec_a = sb.spawn_with_argv0(&format!("{name} serve --test"), &[]);
    let longer = sb.spawn_with_argv0(&format!("{name}-index"), &[]);
    let suffix = sb.spawn_with_argv0(&format!("{name}d"), &[]);
    let editor = sb.spawn_with_argv0("vim", &[&format!("/home/u/src/{name}/src/main.rs")]);
    let tail = sb.spawn_with_argv0("tail", &["-f", &format!("/var/log/{name}/serve.log")]);
    let shell = sb.spawn_with_argv0("sh", &["-c", &format!("sleep 1; {name} serve")]);
    let in_dir = sb.spawn_with_argv0(&format!("/opt/{name}/bin/serve"), &[]);

    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, target), "terminated");
    assert_eq!(outcome(&doc, exec_a), "terminated");
    assert!(sb.exits_within(target, Duration::from_secs(5)));
    assert!(sb.exits_within(exec_a, Duration::from_secs(5)));
    for pid in [longer, suffix, editor, tail, shell, in_dir] {
        assert_eq!(outcome(&doc, pid), "absent");
        assert!(sb.alive(pid), "{pid} was hit");
    }
    assert_eq!(doc["summary"]["reaped"], 2);
}

#[test]
fn a_dry_run_lists_but_signals_nothing() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb.run(&["--threshold", "0s", "--dry-run"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "Would clean up stale {} 1000 (PID {pid}, running ",
            sb.name
        )),
        "{text}"
    );
    assert!(text.contains("Would reap 1 stale"), "{text}");
    let (doc, _) = sb.run_json(&["--threshold", "0s", "-n"]);
    assert_eq!(outcome(&doc, pid), "would_reap");
    assert_eq!(doc["dry_run"], true);
    assert!(sb.alive(pid));
}

#[test]
fn processes_younger_than_the_threshold_are_kept() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let (doc, out) = sb.run_json(&["--threshold", "1h"]);
    assert!(out.status.success());
    let e = entry(&doc, pid).expect("young match is listed");
    assert_eq!(e["outcome"], "skipped");
    assert_eq!(e["reason"], "young");
    let plain = sb.run(&["--threshold", "1h"]);
    assert_eq!(
        stdout(&plain).trim(),
        format!("No stale {} processes (threshold 1h)", sb.name)
    );
    let verbose = sb.run(&["--threshold", "1h", "-v"]);
    assert!(stdout(&verbose).contains(&format!("Kept {} 1000 (PID {pid}", sb.name)));
    assert!(stdout(&verbose).contains("younger than the threshold"));
    assert!(sb.alive(pid));
}

#[test]
fn age_is_measured_from_the_kernel_start_time() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    std::thread::sleep(Duration::from_millis(2100));
    let (doc, _) = sb.run_json(&["--threshold", "1h"]);
    let age = entry(&doc, pid).unwrap()["age_secs"].as_u64().unwrap();
    assert!((2..=30).contains(&age), "age {age}");
    let (doc, _) = sb.run_json(&["--threshold", "2s", "--dry-run"]);
    assert_eq!(outcome(&doc, pid), "would_reap");
    assert!(sb.alive(pid));
}

#[test]
fn a_process_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_term_ignorer();
    let out = sb.run(&["--threshold", "0s", "--grace", "1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("(PID {pid}, running ")) && text.contains("; needed SIGKILL)"),
        "{text}"
    );
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn the_outcome_of_a_sigkilled_process_is_killed_in_json() {
    let mut sb = Sandbox::new();
    let stubborn = sb.spawn_term_ignorer();
    let polite = sb.spawn_sleeper();
    let (doc, out) = sb.run_json(&["--threshold", "0s", "--grace", "1s"]);
    assert!(out.status.success());
    assert_eq!(outcome(&doc, stubborn), "killed");
    assert_eq!(outcome(&doc, polite), "terminated");
    assert_eq!(doc["summary"]["reaped"], 2);
    assert_eq!(doc["summary"]["failed"], 0);
}

#[test]
fn zombies_are_never_signalled_and_do_not_stall_the_run() {
    let mut sb = Sandbox::new();
    let zombie = sb.spawn_zombie();
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success());
    let e = entry(&doc, zombie).expect("zombie listed via its comm");
    assert_eq!(e["outcome"], "skipped");
    assert_eq!(e["reason"], "zombie");
    assert_eq!(e["argv"], serde_json::json!([]));
    assert_eq!(doc["summary"]["reaped"], 0);
    assert_eq!(state(zombie), Some('Z'));
}

#[test]
fn the_reaper_never_reaps_its_own_ancestors() {
    // name -> sh -> patina-reap: both the named shell and sh are ancestors.
    let mut sb = Sandbox::new();
    let shell = sb.link(&which("sh"), &sb.name.clone());
    let out_file = sb.dir.path().join("report.json");
    let script = format!(
        "sh -c '\"{bin}\" --name {name} --threshold 0s --json > \"{out}\"; true'; true",
        bin = reaper_bin(),
        name = sb.name,
        out = out_file.display()
    );
    let mut cmd = Command::new(&shell);
    cmd.arg("-c").arg(script);
    let pid = sb.spawn(cmd);
    assert!(sb.exits_within(pid, Duration::from_secs(20)));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let e = entry(&doc, pid).expect("the named ancestor is listed");
    assert_eq!(e["outcome"], "skipped");
    assert_eq!(e["reason"], "ancestor");
}

#[test]
fn other_users_processes_are_ignored_unless_all_users() {
    if !is_root() {
        skip("needs root to start a process as another uid");
        return;
    }
    let mut sb = Sandbox::new();
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.arg("1000");
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    let theirs = sb.spawn_launched(cmd);
    let mine = sb.spawn_sleeper();
    let (doc, _) = sb.run_json(&["--threshold", "0s", "--dry-run"]);
    assert_eq!(outcome(&doc, theirs), "absent");
    assert_eq!(outcome(&doc, mine), "would_reap");
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success());
    assert_eq!(outcome(&doc, theirs), "absent");
    assert!(sb.alive(theirs), "another user's process was hit");
    assert!(sb.exits_within(mine, Duration::from_secs(5)));

    let (doc, _) = sb.run_json(&["--threshold", "0s", "--all-users"]);
    assert_eq!(outcome(&doc, theirs), "terminated");
    assert_eq!(entry(&doc, theirs).unwrap()["uid"], 65534);
    assert!(sb.exits_within(theirs, Duration::from_secs(5)));
}

#[test]
fn a_process_that_cannot_be_signalled_is_failed_with_exit_1() {
    if !is_root() {
        skip("needs root to run the reaper as another uid");
        return;
    }
    // The reaper runs as nobody with --all-users; the target is root's: EPERM.
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let mut cmd = sb.reaper();
    cmd.args(["--threshold", "0s", "--all-users", "--json"]);
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = entry(&doc, pid).unwrap();
    assert_eq!(e["outcome"], "failed");
    assert!(e["reason"].as_str().unwrap().contains("EPERM"), "{e}");
    assert_eq!(doc["summary"]["failed"], 1);
    assert!(stderr(&out).contains(&format!("warning: could not clean up stale {}", sb.name)));
    assert!(sb.alive(pid));
}

#[test]
fn the_foreground_process_of_a_terminal_is_kept() {
    // script(1) gives the named sleeper a pty, as the foreground job of its session.
    let mut sb = Sandbox::new();
    let sleeper = sb.sleeper_path();
    let mut cmd = Command::new(which("script"));
    #[cfg(target_os = "linux")]
    cmd.args(["-q", "-e", "-c"])
        .arg(format!("exec '{}' 1000", sleeper.display()))
        .arg("/dev/null");
    // BSD script(1): script [-q] file command ...
    #[cfg(not(target_os = "linux"))]
    cmd.args(["-q", "/dev/null"]).arg(&sleeper).arg("1000");
    cmd.stdout(std::process::Stdio::null());
    let script = sb.spawn(cmd);
    // Find the sleeper: the only match under this name.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let doc = loop {
        let (doc, _) = sb.run_json(&["--threshold", "0s", "--dry-run"]);
        if !doc["processes"].as_array().unwrap().is_empty() {
            break doc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sleeper never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let e = &doc["processes"][0];
    assert_eq!(e["outcome"], "skipped", "{e}");
    assert_eq!(e["reason"], "foreground");
    let (doc, _) = sb.run_json(&["--threshold", "0s"]);
    assert_eq!(doc["processes"][0]["outcome"], "skipped");
    assert!(sb.alive(script));
}

#[test]
fn json_is_complete_and_valid_when_nothing_matched() {
    let sb = Sandbox::new();
    let (doc, out) = sb.run_json(&[]);
    assert!(out.status.success());
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["threshold_secs"], 86_400);
    assert_eq!(doc["grace_secs"], 5);
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["disabled"], false);
    assert_eq!(doc["processes"], serde_json::json!([]));
    assert_eq!(
        doc["summary"],
        serde_json::json!({"reaped": 0, "failed": 0, "freed_bytes": 0, "would_reap": 0, "would_fail": 0, "would_free_bytes": 0})
    );
    assert!(!stdout(&out).contains('\u{1b}'));
}

#[test]
fn json_carries_exact_argv_and_command() {
    let mut sb = Sandbox::new();
    let sleeper = sb.sleeper_path();
    let mut cmd = Command::new(&sleeper);
    cmd.args(["1000", "a b", "\u{1b}[31m\n"]);
    let pid = sb.spawn(cmd);
    let (doc, _) = sb.run_json(&["--threshold", "0s", "--dry-run"]);
    let e = entry(&doc, pid).unwrap();
    let path = sleeper.to_str().unwrap();
    if exact_argv() {
        assert_eq!(
            e["argv"],
            serde_json::json!([path, "1000", "a b", "\u{1b}[31m\n"])
        );
        assert_eq!(e["command"], format!("{path} 1000 a b \u{1b}[31m\n"));
    } else {
        // ps shows only the space-joined words, non-printable bytes replaced.
        assert_eq!(e["argv"][0], path);
        assert_eq!(e["argv"][1], "1000");
        assert_eq!(e["argv"][2], "a");
        assert!(e["command"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{path} 1000 a b ")));
    }
    assert_eq!(e["name"], sb.name);
    assert_eq!(e["uid"], rustix::process::geteuid().as_raw());
    assert!(e["rss_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn human_output_escapes_control_characters_from_argv() {
    let mut sb = Sandbox::new();
    let mut cmd = orphan_command(sb.sleeper_path());
    cmd.args(["1000", "\u{1b}]0;pwned\u{7}", "two\nlines"]);
    let pid = sb.spawn_launched(cmd);
    let out = sb.run(&["--threshold", "0s", "--dry-run", "--color", "never"]);
    let text = stdout(&out);
    if exact_argv() {
        assert!(text.contains("\\x1b]0;pwned\\x07 two\\nlines"), "{text}");
    }
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(sb.alive(pid));
}

#[test]
fn quiet_prints_nothing_on_success() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb.run(&["--threshold", "0s", "--quiet"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn human_output_reports_each_reaped_process_and_a_summary() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb.run(&["--threshold", "0s", "--color", "never"]);
    let text = stdout(&out);
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(&format!(
            "Cleaned up stale {} 1000 (PID {pid}, running ",
            sb.name
        )),
        "{text}"
    );
    assert!(first.ends_with("iB)") || first.ends_with(" B)"), "{first}");
    let summary = lines.next().unwrap();
    assert!(
        summary.starts_with(&format!("Reaped 1 stale {} process, ", sb.name))
            && summary.ends_with(" freed"),
        "{summary}"
    );
    assert_eq!(lines.next(), None);
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn color_always_colors_and_never_does_not() {
    let sb = Sandbox::new();
    let colored = sb.run(&["--color", "always"]);
    assert!(stdout(&colored).contains('\u{1b}'));
    let plain = sb.run(&["--color", "never"]);
    assert!(!stdout(&plain).contains('\u{1b}'));
    let piped = sb.run(&[]);
    assert!(!stdout(&piped).contains('\u{1b}'));
}

#[test]
fn usage_errors_exit_2_name_the_problem_and_signal_nothing() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let cases: &[(&[&str], &str)] = &[
        (&["--threshold", "24"], "--threshold"),
        (&["--threshold", "0"], "24h"),
        (&["--threshold=-5m"], "--threshold"),
        (&["--threshold", "5y"], "unknown unit 'y'"),
        (&["--threshold", "off"], "PATINA_REAP_THRESHOLD"),
        (&["--grace", "5"], "--grace"),
        (&["--name", "a/b"], "--name"),
        (&["--name", ""], "--name"),
        (&["--color", "sometimes"], "--color"),
        (&["--bogus"], "--bogus"),
    ];
    for (args, needle) in cases {
        let mut full = vec!["--threshold", "0s"];
        full.extend_from_slice(args);
        // Our own --threshold comes first; a later one is rejected as given twice or
        // overrides it: either way no signal may be sent.
        let out = sb.reaper().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
        let out = sb.reaper().args(&full).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{full:?}");
    }
    assert!(sb.alive(pid));
}

#[test]
fn the_threshold_variable_sets_or_disables_reaping() {
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();

    let out = sb
        .reaper()
        .env("PATINA_REAP_THRESHOLD", "off")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("disabled by PATINA_REAP_THRESHOLD"));
    let out = sb
        .reaper()
        .env("PATINA_REAP_THRESHOLD", "off")
        .arg("--json")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["disabled"], true);
    assert_eq!(doc["processes"], serde_json::json!([]));
    assert!(sb.alive(pid));

    let out = sb
        .reaper()
        .env("PATINA_REAP_THRESHOLD", "24")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("PATINA_REAP_THRESHOLD"),
        "{}",
        stderr(&out)
    );
    assert!(sb.alive(pid));

    // --threshold overrides the variable, both ways.
    let out = sb
        .reaper()
        .env("PATINA_REAP_THRESHOLD", "off")
        .args(["--threshold", "1h", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["disabled"], false);
    assert_eq!(outcome(&doc, pid), "skipped");

    let out = sb
        .reaper()
        .env("PATINA_REAP_THRESHOLD", "0s")
        .arg("--json")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, pid), "terminated");
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn several_names_can_be_matched_at_once() {
    let mut a = Sandbox::new();
    let b = Sandbox::new();
    let first = a.spawn_sleeper();
    let second = a.spawn_with_argv0(&b.name, &[]);
    let out = a
        .reaper()
        .args(["--name", &b.name, "--threshold", "0s", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, first), "terminated");
    assert_eq!(outcome(&doc, second), "terminated");
}

#[cfg(target_os = "linux")]
#[test]
fn on_linux_it_works_with_an_empty_environment_and_no_path() {
    // /proc is read directly: no ps, no PATH, no locale needed.
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = Command::new(reaper_bin())
        .env_clear()
        .env("TMPDIR", sb.tmp())
        .args(["--name", &sb.name, "--threshold", "0s", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&doc, pid), "terminated");
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}
