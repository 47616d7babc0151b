//! Homes that are not a plain local directory: an overlay (live USB, containers) and a
//! network file system that no longer answers under a daemon's socket. Each case runs as root in a private
//! mount namespace with a real mount; elsewhere it is skipped.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

/// Run `script` with `sh` in a private mount namespace (`$1` is the reaper, `$2` the
/// sleeper copy, `$3` the sandbox directory); `None` (with the reason printed) where
/// that cannot be done.
fn in_mount_namespace(sb: &Sandbox, sleeper: &Path, script: &str) -> Option<Output> {
    let mut cmd = in_private_mounts(script)?;
    cmd.arg(reaper_bin()).arg(sleeper).arg(sb.dir.path());
    sb.private_tmp(&mut cmd);
    Some(cmd.output().expect("run unshare"))
}

/// A copy of the sleeper under the sandbox's name (a file of its own on the disk).
fn sleeper_copy(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(&sb.name);
    std::fs::copy(sleeper(), &path).unwrap();
    path
}

#[test]
fn a_daemon_on_an_overlay_home_whose_layers_are_on_other_file_systems_is_serving() {
    // The lower layer on the disk, the upper one on a tmpfs: stat() of the socket file
    // names the upper layer's device, the socket diagnostics the overlay's.
    let sb = Sandbox::new();
    let sleeper = sleeper_copy(&sb);
    let script = r#"
d="$3"; mkdir -p "$d/lower" "$d/merged" "$d/upper"
mount -t tmpfs tmpfs "$d/upper" || { echo mounted=no; exit 0; }
mkdir "$d/upper/up" "$d/upper/work"
mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper/up,workdir=$d/upper/work" "$d/merged" || { echo mounted=no; exit 0; }
echo mounted=yes
L=$(SLEEPER_LAUNCH="$2" SLEEPER_LISTEN="$d/merged/serve.sock" "$2" serve)
echo listener=$L
i=0; while [ ! -S "$d/merged/serve.sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
echo devices=$(stat -c %d "$d/merged/serve.sock")/$(stat -c %d "$d/upper/up/serve.sock")
"$1" --name "$(basename "$2")" --threshold 0s -n --json --socket "$d/merged/serve.sock" > "$d/doc"
echo rc=$?
kill $L
umount "$d/merged"; umount "$d/upper"
"#;
    let Some(out) = in_mount_namespace(&sb, &sleeper, script) else {
        return;
    };
    let text = stdout(&out);
    if field(&text, "mounted") != "yes" {
        skip("cannot mount an overlay on a tmpfs here");
        return;
    }
    assert_eq!(field(&text, "rc"), "0", "{text}{}", stderr(&out));
    let listener: u32 = field(&text, "listener").parse().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.dir.path().join("doc")).unwrap()).unwrap();
    let e = entry(&doc, listener).expect("listed");
    assert_eq!(e["reason"], "serving", "{e} {text}");
}

/// The part of a script that mounts a FUSE file system at `$d/home` and never answers
/// it: every lookup under it blocks until the connection goes (the descriptor on
/// /dev/fuse, fd 3, is closed when the namespace's processes end).
const DEAD_HOME: &str = r#"
mkdir -p "$d/home"
exec 3<>/dev/fuse || { echo mounted=no; exit 0; }
mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 dead "$d/home" || { echo mounted=no; exit 0; }
echo mounted=yes
"#;

#[test]
fn a_daemon_socket_under_a_home_that_never_answers_keeps_its_listener_and_the_run_returns() {
    // The daemon bound its socket, then its home stopped answering (a network file
    // system gone): its name cannot be judged, so it is kept; the run returns.
    let mut sb = Sandbox::new();
    let duplicate = sb.spawn_sleeper();
    let sleeper = sleeper_copy(&sb);
    let script = format!(
        r#"d="$3"; mkdir -p "$d/home/.patina/run"
L=$(SLEEPER_LAUNCH="$2" SLEEPER_LISTEN="$d/home/.patina/run/serve.sock" "$2" serve)
echo listener=$L
i=0; while [ ! -S "$d/home/.patina/run/serve.sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
{DEAD_HOME}
timeout 20 "$1" --name {name} --threshold 0s -n --json > "$d/doc"
echo rc=$?
kill $L
umount -l "$d/home"
"#,
        name = sb.name
    );
    let Some(out) = in_mount_namespace(&sb, &sleeper, &script) else {
        return;
    };
    let text = stdout(&out);
    if field(&text, "mounted") != "yes" {
        let listener: u32 = field(&text, "listener").parse().unwrap_or(0);
        if listener != 0 {
            kill_pid(listener);
        }
        skip("cannot mount a FUSE file system here");
        return;
    }
    // 124: timeout(1) had to end it.
    assert_eq!(field(&text, "rc"), "0", "{text}{}", stderr(&out));
    let listener: u32 = field(&text, "listener").parse().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.dir.path().join("doc")).unwrap()).unwrap();
    let e = entry(&doc, listener).expect("listed");
    assert_eq!(e["reason"], "unknown-serving", "{e}");
    assert_eq!(outcome(&doc, duplicate), "would_reap", "{doc}");
    assert!(sb.alive(duplicate));
}

#[test]
fn the_preflight_returns_when_a_daemon_home_never_answers() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"
state() {{ s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }}
d=$(mktemp -d)
mkdir -p "$d/home"
HOME="$d/home" PATINA_REAP_THRESHOLD=off "{p}" mother start 2>/dev/null & S=$!
i=0; while [ ! -S "$d/home/.patina/run/serve.sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
{DEAD_HOME}
sleep 1.2
HOME="$d" PATINA_REAP_THRESHOLD=1s timeout 20 "{p}" status >/dev/null 2>"$d/err"
echo rc=$?
echo state=$(state $S)
echo err=$(cat "$d/err")
kill -9 $S
umount -l "$d/home"
exec 3>&-
rm -rf "$d"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    if field(&text, "mounted") != "yes" {
        skip("cannot mount a FUSE file system here");
        return;
    }
    assert_eq!(field(&text, "rc"), "0", "{text}");
    // What may serve on the unanswered socket is kept, silently.
    assert_eq!(field(&text, "state"), "running", "{text}");
    assert_eq!(field(&text, "err"), "", "{text}");
}

#[test]
fn the_preflight_returns_within_its_bound_when_the_callers_home_never_answers_with_a_proof_kept_or_to_be_written(
) {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    // The caller's own HOME stops answering (its network file system is gone): the
    // proof of the last clean scan watches `$HOME/.patina/run/serve.sock`, and a scan
    // that may leave one looks there first. Neither may hold patina up.
    let script = format!(
        r#"
d=$(mktemp -d)
mkdir -p "$d/home"
run() {{ s=$(date +%s%N); HOME="$d/home" PATINA_REAP_THRESHOLD=1h timeout 10 "{p}" status >/dev/null 2>"$d/err"; echo $1_rc=$?; echo $1_ms=$(( ($(date +%s%N) - s) / 1000000 )); echo $1_err=$(cat "$d/err"); }}
run clean
echo proofs=$(find "$TMPDIR" -maxdepth 1 -name '*.proof' -size +0 | wc -l)
{DEAD_HOME}
run kept
rm -f "$TMPDIR"/*.proof
run unwritten
run again
echo proofs_after=$(find "$TMPDIR" -maxdepth 1 -name '*.proof' -size +0 | wc -l)
s=$(date +%s%N); HOME="$d/home" timeout 10 "{reaper}" -t 1h >/dev/null 2>"$d/err"; echo cli_rc=$?
echo cli_ms=$(( ($(date +%s%N) - s) / 1000000 )); echo cli_err=$(cat "$d/err")
umount -l "$d/home"
exec 3>&-
rm -rf "$d"
"#,
        reaper = reaper_bin()
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    if field(&text, "mounted") != "yes" {
        skip("cannot mount a FUSE file system here");
        return;
    }
    assert_eq!(field(&text, "clean_rc"), "0", "{text}");
    assert_eq!(
        field(&text, "proofs"),
        "1",
        "a clean start keeps a proof: {text}"
    );
    // What cannot be seen proves nothing: the next start scans again (a proof
    // forgotten is an empty file).
    assert_eq!(field(&text, "proofs_after"), "0", "{text}");
    // The CLI keeps no proof; it returns too.
    for run in ["kept", "unwritten", "again", "cli"] {
        // 124: timeout(1) had to end it.
        assert_eq!(field(&text, &format!("{run}_rc")), "0", "{run}: {text}");
        assert_eq!(field(&text, &format!("{run}_err")), "", "{run}: {text}");
        // The preflight's bound is 1s; far more only on a machine that is very busy.
        let ms: u64 = field(&text, &format!("{run}_ms")).parse().unwrap();
        assert!(ms < 5000, "{run} took {ms} ms: {text}");
    }
}

#[test]
fn patina_forks_and_runs_rust_code_right_after_a_preflight_that_left_a_lookup_hanging() {
    // patina forks and runs Rust code in the child (its background sync) after
    // ensure_clean_state(), which may have left a thread blocked for good on a path
    // lookup (here a socket under a home that never answers). The child has only the
    // forking thread: it must allocate, start a thread, print and exit 0 all the same.
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"
d=$(mktemp -d)
mkdir -p "$d/home"
HOME="$d/home" PATINA_REAP_THRESHOLD=off "{p}" mother start 2>/dev/null & S=$!
i=0; while [ ! -S "$d/home/.patina/run/serve.sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
{DEAD_HOME}
sleep 1.2
HOME="$d" PATINA_REAP_THRESHOLD=1s timeout 30 "{p}" sync --background >"$d/out" 2>"$d/err"
echo rc=$?
cat "$d/out"
echo err=$(cat "$d/err")
kill -9 $S
umount -l "$d/home"
exec 3>&-
rm -rf "$d"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    if field(&text, "mounted") != "yes" {
        skip("cannot mount a FUSE file system here");
        return;
    }
    assert_eq!(field(&text, "rc"), "0", "{text}");
    // The lookup's thread (named patina-reap-path, 15 characters of it) was still there,
    // blocked, when the process forked.
    assert!(
        field(&text, "threads")
            .split(',')
            .any(|t| t == "patina-reap-pat"),
        "{text}"
    );
    assert_eq!(field(&text, "child_bytes"), "78890", "{text}");
    assert_eq!(field(&text, "child_status"), "0", "{text}");
    assert_eq!(field(&text, "err"), "", "{text}");
}
