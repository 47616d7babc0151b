//! What pgrep users and scripts bring with them: pkill's and killall's names for the age
//! flag, a stdout that is closed, an empty value, a bad value in the environment, and
//! users that only the system's user database (NSS) knows.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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

/// A uid that is in no /etc/passwd of a test machine, for a user only NSS knows.
const NSS_UID: u32 = 2_718_281;

/// Run `script` with `sh` as root in a private mount namespace whose
/// `/etc/nsswitch.conf` also asks the extrausers module for users, and whose
/// `/var/lib/extrausers/passwd` is `passwd` (on a tmpfs of its own); `$1` is the
/// reaper, `$2` the sandbox directory. `None` (with the reason printed) where that
/// cannot be done.
fn with_extrausers(sb: &Sandbox, passwd: &str, script: &str) -> Option<Output> {
    if !is_root() {
        skip("needs root to mount in a private mount namespace");
        return None;
    }
    if !Path::new("/var/lib/extrausers").is_dir() {
        skip("the extrausers NSS module is not installed (Debian: libnss-extrausers)");
        return None;
    }
    let Ok(nsswitch) = std::fs::read_to_string("/etc/nsswitch.conf") else {
        skip("no /etc/nsswitch.conf to put a private copy over");
        return None;
    };
    let nsswitch: String = nsswitch
        .lines()
        .map(|line| match line.trim_start().starts_with("passwd:") {
            true => format!("{line} extrausers\n"),
            false => format!("{line}\n"),
        })
        .collect();
    let dir = sb.dir.path();
    std::fs::write(dir.join("nsswitch.conf"), nsswitch).unwrap();
    std::fs::write(dir.join("passwd"), passwd).unwrap();
    let setup = r#"
d="$2"
mount --bind "$d/nsswitch.conf" /etc/nsswitch.conf || exit 99
mount -t tmpfs -o mode=755 tmpfs /var/lib/extrausers || exit 99
cp "$d/passwd" /var/lib/extrausers/passwd || exit 99
# nscd would answer from the machine's configuration: hide it.
for n in /run/nscd /var/run/nscd; do [ -d "$n" ] && { mount -t tmpfs tmpfs "$n" || exit 99; }; done
"#;
    let mut cmd = in_private_mounts(&format!("{setup}{script}"))?;
    cmd.arg(reaper_bin())
        .arg(dir)
        .env_remove("PATINA_REAP_THRESHOLD");
    sb.private_tmp(&mut cmd);
    let out = cmd.output().expect("run unshare");
    match out.status.code() {
        Some(99) => {
            skip(&format!(
                "cannot mount in a private mount namespace here: {}",
                stderr(&out).trim()
            ));
            None
        }
        Some(98) => {
            skip("the extrausers NSS module does not answer (Debian: libnss-extrausers)");
            None
        }
        _ => Some(out),
    }
}

#[test]
fn a_user_only_nss_knows_is_found_as_pgrep_finds_it() {
    let mut sb = Sandbox::new();
    let user = format!("{}u", sb.name);
    let in_etc_passwd = std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.starts_with(&format!("{user}:"))
                || l.split(':').nth(2) == Some(NSS_UID.to_string().as_str())
        });
    assert!(!in_etc_passwd, "{user} or uid {NSS_UID} is in /etc/passwd");
    // That user's daemon, listening on the socket in the home only NSS knows of, and an
    // old duplicate of it.
    let home = sb.dir.path().join("home");
    let run = home.join(".patina/run");
    std::fs::create_dir_all(&run).unwrap();
    let passwd = format!(
        "{user}:x:{NSS_UID}:{NSS_UID}:only in extrausers:{}:/bin/sh\n",
        home.display()
    );
    if !is_root() {
        // Checked by with_extrausers, which says so; before any process is started.
        return skip("needs root to mount in a private mount namespace");
    }
    for dir in [&home, &home.join(".patina"), &run] {
        std::os::unix::fs::chown(dir, Some(NSS_UID), Some(NSS_UID)).unwrap();
    }
    let socket = run.join("serve.sock");
    let path = sb.sleeper_path();
    let listener = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.arg("serve")
            .env("SLEEPER_LISTEN", &socket)
            .uid(NSS_UID)
            .gid(NSS_UID);
    });
    let duplicate = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.arg("1000").uid(NSS_UID).gid(NSS_UID);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no socket from the listener");
        std::thread::sleep(Duration::from_millis(5));
    }
    let script = format!(
        r#"
command -v getent >/dev/null || exit 98
getent passwd {user} >/dev/null || exit 98
"$1" --name {name} -u {user} --dry-run -t 0s --json > "$d/doc"
echo rc=$?
"$1" --name {name} -u no-such-{user} --dry-run -t 0s 2> "$d/unknown"
echo unknown=$?
"#,
        name = sb.name
    );
    let Some(out) = with_extrausers(&sb, &passwd, &script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0", "{text}{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.dir.path().join("doc")).unwrap()).unwrap();
    // Found by name, and its home too: the daemon there is serving, the duplicate stale.
    let e = entry(&doc, listener).expect("the listener is listed");
    assert_eq!(e["uid"], NSS_UID, "{e}");
    assert_eq!(e["reason"], "serving", "{e}");
    assert_eq!(outcome(&doc, duplicate), "would_reap", "{doc}");
    // A name nobody knows is still a usage error.
    assert_eq!(field(&text, "unknown"), "2", "{text}");
    let err = std::fs::read_to_string(sb.dir.path().join("unknown")).unwrap();
    assert!(err.contains("no such user"), "{err}");
    assert!(sb.alive(listener) && sb.alive(duplicate));
}
