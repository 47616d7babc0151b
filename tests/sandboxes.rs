//! Sandboxes and old kernels: the system calls the reaper relies on refused by a
//! seccomp filter (tests/common/seccomp.rs), with ENOSYS as a kernel without them says
//! and EPERM as a container profile that predates them says.

use std::time::Duration;

use rustix::io::Errno;

use crate::common::seccomp::{self, Call};
use crate::common::*;

/// EINVAL: what clone3 with no arguments says where nothing refuses it.
const EINVAL: i32 = 22;

#[test]
fn the_seccomp_filter_makes_each_chosen_call_fail_with_the_chosen_errno_and_no_other() {
    let Some(free) = seccomp::probe(&[]) else {
        return;
    };
    let as_is = |name: &str| free.iter().find(|(c, _)| c == name).unwrap().1;
    assert_eq!(as_is("socket-unix"), 0, "{free:?}");
    assert_eq!(as_is("socket-netlink"), 0, "{free:?}");
    // A kernel that has the call: it works (clone3: its check of the arguments answers).
    for call in [Call::PidfdOpen, Call::PidfdSendSignal, Call::Openat2] {
        let errno = as_is(call.name());
        assert!(
            errno == 0 || errno == Errno::NOSYS.raw_os_error(),
            "{free:?}"
        );
    }
    assert!(
        [EINVAL, Errno::NOSYS.raw_os_error()].contains(&as_is("clone3")),
        "{free:?}"
    );
    for errno in [Errno::PERM, Errno::NOSYS] {
        for call in Call::ALL {
            let got = seccomp::probe(&[(call, errno)]).unwrap();
            for (name, result) in &got {
                let expected = if name == call.name() {
                    errno.raw_os_error()
                } else {
                    as_is(name)
                };
                // pidfd_send_signal is given no pidfd where pidfd_open is refused.
                if call == Call::PidfdOpen && name == "pidfd_send_signal" {
                    assert_eq!(*result, Errno::BADF.raw_os_error(), "{got:?}");
                    continue;
                }
                assert_eq!(
                    *result, expected,
                    "{name} under {call:?}={errno:?}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn the_seccomp_filter_holds_in_the_children_of_the_program_it_runs() {
    let Some(mut cmd) = seccomp::command(&[(Call::NetlinkSocket, Errno::PERM)], "sh") else {
        return;
    };
    let helper = seccomp::helper().unwrap();
    // A child of the shell, not exec'd in its place.
    let script = format!("'{}' --probe; true", helper.display());
    let out = cmd.args(["-c", &script]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("socket-netlink=1\n"), "{text}");
    assert!(text.contains("socket-unix=0\n"), "{text}");
}

/// Where pidfds cannot be used: a container profile that predates them (EPERM, its
/// default error), an old kernel (ENOSYS), and profiles that let `pidfd_open` through
/// but refuse the signal.
fn pidfds_unusable() -> [(&'static str, Vec<(Call, Errno)>); 4] {
    [
        (
            "pidfds refused (EPERM)",
            vec![
                (Call::PidfdOpen, Errno::PERM),
                (Call::PidfdSendSignal, Errno::PERM),
            ],
        ),
        (
            "no pidfds (ENOSYS)",
            vec![
                (Call::PidfdOpen, Errno::NOSYS),
                (Call::PidfdSendSignal, Errno::NOSYS),
            ],
        ),
        (
            "pidfd signals refused (EPERM)",
            vec![(Call::PidfdSendSignal, Errno::PERM)],
        ),
        (
            "no pidfd signals (ENOSYS)",
            vec![(Call::PidfdSendSignal, Errno::NOSYS)],
        ),
    ]
}

/// Run `check` for each way of [`pidfds_unusable`], each to its end whatever the others
/// do; fail naming every way whose check failed.
fn in_each_way(check: impl Fn(&str, &[(Call, Errno)])) {
    if let Err(why) = seccomp::helper() {
        return skip(why);
    }
    let failed: Vec<&str> = pidfds_unusable()
        .iter()
        .filter(|(case, fails)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case, fails))).is_err()
        })
        .map(|(case, _)| *case)
        .collect();
    assert!(failed.is_empty(), "failed with {failed:?}");
}

#[test]
fn where_pidfds_cannot_be_used_the_cli_reaps_stale_orphans_of_ones_own_with_kill_and_warns_of_nothing(
) {
    in_each_way(|case, fails| {
        let mut sb = Sandbox::new();
        let stale = sb.spawn_sleeper();
        // Escalation too: SIGKILL after the grace period goes the same way.
        let stubborn = sb.spawn_term_ignorer();
        let mut reaper = sb.reaper();
        reaper.args(["--threshold", "0s", "--grace", "1s", "--json"]);
        let out = seccomp::wrap(fails, &reaper).unwrap().output().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{case}: {e}: {}", stderr(&out)));
        assert_eq!(outcome(&doc, stale), "terminated", "{case}: {doc}");
        assert_eq!(outcome(&doc, stubborn), "killed", "{case}: {doc}");
        assert_eq!(out.status.code(), Some(0), "{case}: {}", stderr(&out));
        assert!(sb.exits_within(stale, Duration::from_secs(5)), "{case}");
        assert!(sb.exits_within(stubborn, Duration::from_secs(5)), "{case}");

        // The lines a user reads: what was cleaned up, and no warning.
        let stale = sb.spawn_sleeper();
        let mut reaper = sb.reaper();
        reaper.args(["--threshold", "0s"]);
        let out = seccomp::wrap(fails, &reaper).unwrap().output().unwrap();
        let (text, err) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{case}: {text}{err}");
        assert!(
            text.contains(&format!("Cleaned up stale {} 1000 (PID {stale}, ", sb.name)),
            "{case}: {text}"
        );
        for word in ["EPERM", "ENOSYS", "permission", "not permitted", "warning"] {
            assert!(
                !text.contains(word) && !err.contains(word),
                "{case}: {text}{err}"
            );
        }
        assert!(sb.exits_within(stale, Duration::from_secs(5)), "{case}");
    });
}

#[test]
fn where_pidfds_cannot_be_used_patina_reaps_its_old_serve_at_start_with_one_line_and_no_warning() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    in_each_way(|case, fails| {
        let filtered = seccomp::shell_words(fails).unwrap();
        let script = format!(
            r#"
state() {{ s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }}
"{p}" serve 2>/dev/null & S=$!
sleep 1.2
echo parent=$(cut -d' ' -f4 /proc/$S/stat)
PATINA_REAP_THRESHOLD=1s {filtered} "{p}" status >/dev/null 2>"$TMPDIR/err"; echo rc=$?
echo pid=$S
echo serve=$(state $S)
echo lines=$(wc -l < "$TMPDIR/err")
echo err=$(cat "$TMPDIR/err")
kill -9 $S 2>/dev/null
"#
        );
        let out = in_pid_namespace(&script).unwrap();
        let text = stdout(&out);
        // The shell is PID 1 of the namespace: its child is an orphan's equal.
        assert_eq!(field(&text, "parent"), "1", "{case}: {text}");
        assert_eq!(field(&text, "rc"), "0", "{case}: {text}{}", stderr(&out));
        assert_eq!(field(&text, "serve"), "exited", "{case}: {text}");
        assert_eq!(field(&text, "lines"), "1", "{case}: {text}");
        let pid = field(&text, "pid");
        assert!(
            field(&text, "err").starts_with(&format!(
                "Cleaned up stale patina serve (PID {pid}, running "
            )),
            "{case}: {text}"
        );
    });
}

#[test]
fn where_pidfds_are_refused_a_process_the_caller_may_not_signal_is_failed_as_not_permitted_as_a_dry_run_says(
) {
    if !is_root() {
        return skip("needs root to run the reaper as another uid against root's process");
    }
    in_each_way(|case, fails| {
        // The reaper runs as nobody with --all-users; the target is root's.
        let mut sb = Sandbox::new();
        let roots = sb.spawn_sleeper();
        let run = |args: &[&str]| {
            let mut reaper = sb.reaper();
            reaper.args(["--threshold", "0s", "--all-users", "--json"]);
            let mut cmd = seccomp::wrap(fails, &reaper).unwrap();
            std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
            let out = cmd.args(args).output().unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{case}: {e}: {}", stderr(&out)));
            (entry(&doc, roots).expect("listed").clone(), out)
        };
        let (dry, _) = run(&["--dry-run"]);
        assert_eq!(dry["outcome"], "would_fail", "{case}: {dry}");
        let (real, out) = run(&[]);
        assert_eq!(real["outcome"], "failed", "{case}: {real}");
        assert_eq!(real["reason"], dry["reason"], "{case}");
        assert!(
            real["reason"].as_str().unwrap().contains("not permitted"),
            "{case}: {real}"
        );
        assert_eq!(out.status.code(), Some(1), "{case}");
        assert!(sb.alive(roots), "{case}");
    });
}
