//! The `patina` side: `ensure_clean_state()` as `examples/patina.rs` calls it, and what
//! a script sees of the CLI (`--quiet`, `--json`); the exec path, `patina-reap
//! --preflight`, is in `exec_path.rs`. The default name `patina` is only ever used inside
//! a private PID namespace.

use std::time::Duration;

use crate::common::*;

/// Shell that prints whether a pid is still running (a zombie counts as exited).
const STATE_FN: &str = r#"
state() { s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }
"#;

#[test]
fn an_old_serve_is_reaped_when_patina_starts_with_one_line_on_stderr() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"{STATE_FN}
"{p}" serve 2>/dev/null & S=$!
sleep 1.5
PATINA_REAP_THRESHOLD=1s "{p}" status >"$TMPDIR/out.$$" 2>"$TMPDIR/err.$$"; echo rc=$?
echo serve=$(state $S)
echo pid=$S
echo out=$(cat "$TMPDIR/out.$$")
echo lines=$(wc -l < "$TMPDIR/err.$$")
echo err=$(cat "$TMPDIR/err.$$")
rm -f "$TMPDIR/out.$$" "$TMPDIR/err.$$"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0", "{text}\n{}", stderr(&out));
    let pid = field(&text, "pid");
    assert!(text.contains("serve=exited"), "{text}");
    assert_eq!(
        field(&text, "out"),
        "patina status: nothing to do in this stand-in"
    );
    assert_eq!(field(&text, "lines"), "1", "{text}");
    let err = field(&text, "err");
    assert!(
        err.starts_with(&format!(
            "Cleaned up stale patina serve (PID {pid}, running "
        )),
        "{err}"
    );
}

#[test]
fn threshold_off_leaves_everything_running_and_says_nothing() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"{STATE_FN}
"{p}" serve 2>/dev/null & S=$!
sleep 1.2
PATINA_REAP_THRESHOLD=off "{p}" status >/dev/null 2>"$TMPDIR/err.$$"; echo rc=$?
echo serve=$(state $S)
echo err=$(cat "$TMPDIR/err.$$")
rm -f "$TMPDIR/err.$$"; kill $S
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0");
    assert_eq!(field(&text, "serve"), "running");
    assert_eq!(field(&text, "err"), "");
}

#[test]
fn an_invalid_threshold_warns_once_and_falls_back_to_24h() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"{STATE_FN}
"{p}" serve 2>/dev/null & S=$!
sleep 1.2
PATINA_REAP_THRESHOLD=5 "{p}" status >"$TMPDIR/out.$$" 2>"$TMPDIR/err.$$"; echo rc=$?
echo serve=$(state $S)
echo out=$(cat "$TMPDIR/out.$$")
echo lines=$(wc -l < "$TMPDIR/err.$$")
echo err=$(cat "$TMPDIR/err.$$")
rm -f "$TMPDIR/out.$$" "$TMPDIR/err.$$"; kill $S
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0");
    assert_eq!(field(&text, "serve"), "running");
    assert_eq!(
        field(&text, "out"),
        "patina status: nothing to do in this stand-in"
    );
    assert_eq!(field(&text, "lines"), "1");
    let err = field(&text, "err");
    assert!(
        err.starts_with("warning: ignoring PATINA_REAP_THRESHOLD='5': no unit"),
        "{err}"
    );
    assert!(err.contains("using 24h"), "{err}");
}

#[test]
fn patina_never_reaps_itself_or_its_ancestors() {
    // A shell named patina runs `patina status` with a zero threshold: everything named
    // patina is old enough, yet the caller and its ancestors survive; an unrelated old
    // serve is reaped, which shows the preflight did run.
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"{STATE_FN}
d=$(mktemp -d); ln -s "$(command -v sh)" "$d/patina"
"{p}" serve 2>/dev/null & S=$!
sleep 1.2
PATINA_REAP_THRESHOLD=0s "$d/patina" -c '"{p}" status; echo status_rc=$?; true' >"$TMPDIR/out.$$" 2>"$TMPDIR/err.$$"
echo shell_rc=$?
cat "$TMPDIR/out.$$"
echo serve=$(state $S)
echo err=$(cat "$TMPDIR/err.$$")
rm -rf "$d" "$TMPDIR/out.$$" "$TMPDIR/err.$$"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "shell_rc"), "0", "{text}");
    assert_eq!(field(&text, "status_rc"), "0", "{text}");
    assert!(
        text.contains("patina status: nothing to do in this stand-in"),
        "{text}"
    );
    assert_eq!(field(&text, "serve"), "exited", "{text}");
    let err = field(&text, "err");
    assert!(err.starts_with("Cleaned up stale patina serve"), "{err}");
    assert_eq!(err.matches("Cleaned up").count(), 1, "{err}");
}

#[test]
fn two_patinas_starting_together_report_each_stale_process_once() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"{STATE_FN}
"{p}" serve 2>/dev/null & S=$!
"{p}" serve 2>/dev/null & T=$!
sleep 1.5
PATINA_REAP_THRESHOLD=1s "{p}" status >/dev/null 2>"$TMPDIR/a.$$" & A=$!
PATINA_REAP_THRESHOLD=1s "{p}" status >/dev/null 2>"$TMPDIR/b.$$" & B=$!
wait $A; echo a_rc=$?
wait $B; echo b_rc=$?
echo lines=$(cat "$TMPDIR/a.$$" "$TMPDIR/b.$$" | grep -c 'Cleaned up stale patina serve')
echo other=$(cat "$TMPDIR/a.$$" "$TMPDIR/b.$$" | grep -vc 'Cleaned up stale patina serve')
echo serves=$(state $S),$(state $T)
rm -f "$TMPDIR/a.$$" "$TMPDIR/b.$$"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "a_rc"), "0", "{text}");
    assert_eq!(field(&text, "b_rc"), "0", "{text}");
    assert_eq!(field(&text, "serves"), "exited,exited", "{text}");
    assert_eq!(field(&text, "lines"), "2", "{text}");
    assert_eq!(field(&text, "other"), "0", "{text}");
}

#[test]
fn a_broken_ps_leaves_patina_silent() {
    // The ps backend with a ps that fails, prints garbage or hangs: patina still runs
    // its command and prints nothing of the check (a hung scan is abandoned at 500 ms).
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"
d=$(mktemp -d)
for kind in fail garbage hang; do
  mkdir "$d/$kind"
  case $kind in
    fail) printf '#!/bin/sh\n: > %s/ran\necho boom >&2\nexit 3\n' "$d/$kind" ;;
    garbage) printf '#!/bin/sh\n: > %s/ran\necho not ps output\n' "$d/$kind" ;;
    hang) printf '#!/bin/sh\n: > %s/ran\nexec sleep 30\n' "$d/$kind" ;;
  esac > "$d/$kind/ps"
  chmod +x "$d/$kind/ps"
  PATH="$d/$kind:$PATH" PATINA_REAP_BACKEND=ps PATINA_REAP_THRESHOLD=0s "{p}" status >"$d/out" 2>"$d/err"
  echo ${{kind}}_rc=$?
  echo ${{kind}}_ran=$(test -e "$d/$kind/ran" && echo yes)
  echo ${{kind}}_out=$(cat "$d/out")
  echo ${{kind}}_err=$(cat "$d/err")
done
rm -rf "$d"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    for kind in ["fail", "garbage", "hang"] {
        assert_eq!(field(&text, &format!("{kind}_rc")), "0", "{text}");
        assert_eq!(field(&text, &format!("{kind}_ran")), "yes", "{text}");
        assert_eq!(
            field(&text, &format!("{kind}_out")),
            "patina status: nothing to do in this stand-in",
            "{text}"
        );
        assert_eq!(field(&text, &format!("{kind}_err")), "", "{text}");
    }
}

#[test]
fn nothing_to_do_prints_nothing() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"
"{p}" serve 2>/dev/null & S=$!
"{p}" status >/dev/null 2>"$TMPDIR/err.$$"; echo rc=$?
echo err=$(cat "$TMPDIR/err.$$")
rm -f "$TMPDIR/err.$$"; kill $S
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0");
    assert_eq!(field(&text, "err"), "");
}

#[test]
fn the_quiet_cli_is_silent_on_success_and_reports_by_exit_status() {
    // What a cron job or a script sees of `patina-reap --quiet`.
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let out = sb.run(&["--quiet", "--threshold", "0s"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    assert!(sb.exits_within(pid, Duration::from_secs(5)));

    let out = sb.run(&["--quiet", "--threshold", "24"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--threshold"));
}

#[test]
fn a_shell_script_can_read_the_json_report() {
    // `patina-reap --json | <filter>` as a script would; the filter is a small Python
    // stand-in for jq when jq is not installed.
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let filter = if std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok()
    {
        r#"jq -r '.processes[] | "\(.pid) \(.outcome)"'"#.to_owned()
    } else {
        r#"python3 -c 'import json,sys; d=json.load(sys.stdin); [print(p["pid"], p["outcome"]) for p in d["processes"]]'"#.to_owned()
    };
    let script = format!(
        "\"{}\" --name {} --threshold 0s --json | {filter}",
        reaper_bin(),
        sb.name
    );
    let out = sb
        .private_tmp(&mut std::process::Command::new("sh"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        format!("{pid} terminated"),
        "{}",
        stderr(&out)
    );
    assert!(sb.exits_within(pid, Duration::from_secs(5)));
}

#[test]
fn the_preflight_keeps_attached_serves_and_reaps_orphaned_and_replaced_ones() {
    // In a PID namespace whose PID 1 is this script's shell: O is an orphan-like serve
    // (its parent is PID 1), C a serve whose host shell H still runs, R a young daemon
    // (it listens on its socket) whose executable is replaced after it started.
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"{STATE_FN}
d=$(mktemp -d)
cp "{p}" "$d/patina"
mkdir "$d/r"
HOME="$d/r" "$d/patina" mother start 2>/dev/null & R=$!
"{p}" serve 2>/dev/null & O=$!
sh -c '"$0" serve 2>/dev/null & echo $! > "$1"; wait' "{p}" "$d/c.pid" & H=$!
sleep 1.5
C=$(cat "$d/c.pid")
cp "{p}" "$d/patina.new"; mv "$d/patina.new" "$d/patina"
PATINA_REAP_THRESHOLD=1h "{p}" status >/dev/null 2>"$d/err1"
sleep 0.2
echo young_run=$(state $R),$(state $O),$(state $C)
PATINA_REAP_THRESHOLD=1s "{p}" status >/dev/null 2>"$d/err2"
sleep 0.2
echo old_run=$(state $O),$(state $C),$(state $H)
echo err1=$(cat "$d/err1")
echo err2=$(cat "$d/err2")
kill $C $H $R 2>/dev/null
rm -rf "$d"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    if exact_argv() {
        // The replaced one goes at once; the unchanged young ones stay.
        assert_eq!(
            field(&text, "young_run"),
            "exited,running,running",
            "{text}"
        );
        let err1 = field(&text, "err1");
        assert!(err1.contains("; replaced since it started)"), "{err1}");
        assert_eq!(err1.matches("Cleaned up").count(), 1, "{err1}");
    } else {
        assert_eq!(
            field(&text, "young_run"),
            "running,running,running",
            "{text}"
        );
    }
    // Old: the orphan is reaped, the host's serve is attached and kept.
    assert_eq!(field(&text, "old_run"), "exited,running,running", "{text}");
    let err2 = field(&text, "err2");
    // The orphaned serve (and, where the backend cannot tell replaced, the daemon R,
    // reaped for its age now).
    assert!(
        err2.contains("Cleaned up stale patina serve (PID"),
        "{err2}"
    );
    assert!(!err2.contains("replaced"), "{err2}");
}
