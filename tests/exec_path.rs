//! The exec path: `patina-reap --preflight`, the library's preflight for a launcher that
//! cannot link it. The cases that signal run in private PID namespaces (the script's
//! shell is PID 1, so its children are orphans there), beside the stand-in `patina`
//! (`examples/patina.rs`) that links the library, with the default name `patina`.

use std::time::Duration;

use crate::common::*;

#[test]
fn a_stale_orphan_that_ignores_sigterm_is_gone_within_the_bound_with_one_line_on_stderr() {
    // The CLI would give it a 5s grace; the preflight sends SIGTERM, waits a little and
    // sends SIGKILL within its 1s. (The time is checked only against that grace, with a
    // wide margin.)
    let Some(text) = in_patina_namespace(
        r#"
cp "$SLEEPER" "$d/patina"
SLEEPER_IGNORE_TERM=1 "$d/patina" serve & S=$!
sleep 1.2
echo pid=$S
echo ppid=$(ppid $S)
t0=$(date +%s%N)
PATINA_REAP_THRESHOLD=1s "$R" --preflight >"$d/out" 2>"$d/err"; echo rc=$?
t1=$(date +%s%N)
echo ms=$(( (t1 - t0) / 1000000 ))
echo state=$(state $S)
echo out=$(cat "$d/out")
echo lines=$(wc -l < "$d/err")
echo err=$(cat "$d/err")
kill -9 $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "ppid"), "1", "not an orphan: {text}");
    assert_eq!(field(&text, "rc"), "0", "{text}");
    assert_eq!(field(&text, "state"), "exited", "{text}");
    assert_eq!(field(&text, "out"), "", "{text}");
    assert_eq!(field(&text, "lines"), "1", "{text}");
    let pid = field(&text, "pid");
    assert!(
        field(&text, "err").starts_with(&format!(
            "Cleaned up stale patina serve (PID {pid}, running "
        )),
        "{text}"
    );
    let ms: u64 = field(&text, "ms").parse().unwrap();
    assert!(ms < 4000, "the preflight took {ms} ms: {text}");
}

#[test]
fn another_reaper_holding_the_turn_does_not_make_the_preflight_wait() {
    // The CLI takes the turn and, the stale process ignoring SIGTERM, holds it for its
    // hour of grace. The preflight finds the same process stale, leaves it to that
    // reaper and returns, signalling nothing (a signal from it would be SIGKILL within
    // its bound). Were it to wait for the turn as the CLI does (its grace + 10s),
    // `timeout` would end it: status 124. (The time is checked only against the wait
    // of a few seconds that the CLI's default grace would mean, with a wide margin.)
    let Some(text) = in_patina_namespace(
        r#"
cp "$SLEEPER" "$d/patina"
SLEEPER_IGNORE_TERM=1 "$d/patina" serve & S=$!
sleep 1.2
echo ppid=$(ppid $S)
"$R" --threshold 1s --grace 1h --quiet & H=$!
held() { grep -qx "$H" "$TMPDIR"/*.lock 2>/dev/null; }
i=0; until held || [ $i -ge 1000 ]; do sleep 0.01; i=$((i+1)); done
echo held=$(held && echo yes)
t0=$(date +%s%N)
PATINA_REAP_THRESHOLD=1s timeout 10 "$R" --preflight >"$d/out" 2>"$d/err"; echo rc=$?
t1=$(date +%s%N)
echo ms=$(( (t1 - t0) / 1000000 ))
echo still_held=$(held && echo yes)
echo holder=$(state $H)
echo stale=$(state $S)
echo out=$(cat "$d/out")
echo err=$(cat "$d/err")
kill -9 $H $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "ppid"), "1", "not an orphan: {text}");
    assert_eq!(field(&text, "held"), "yes", "{text}");
    assert_eq!(field(&text, "rc"), "0", "{text}");
    assert_eq!(field(&text, "still_held"), "yes", "{text}");
    assert_eq!(field(&text, "holder"), "running", "{text}");
    assert_eq!(field(&text, "stale"), "running", "{text}");
    assert_eq!(field(&text, "out"), "", "{text}");
    assert_eq!(field(&text, "err"), "", "{text}");
    let ms: u64 = field(&text, "ms").parse().unwrap();
    assert!(ms < 4000, "the preflight took {ms} ms: {text}");
}

#[test]
fn a_bad_threshold_or_backend_is_a_warning_or_nothing_and_exit_0() {
    // A bad PATINA_REAP_THRESHOLD (not a DURATION, or not even UTF-8) is warned about and
    // 24h used: the 1s-old process stays.
    // A bad PATINA_REAP_BACKEND means no scan, silently. Then a good threshold reaps it,
    // which shows that the two runs before could have.
    let Some(text) = in_patina_namespace(
        r#"
cp "$SLEEPER" "$d/patina"
"$d/patina" serve & S=$!
sleep 1.2
echo ppid=$(ppid $S)
PATINA_REAP_THRESHOLD=5 "$R" --preflight >"$d/out" 2>"$d/err"; echo bad_rc=$?
echo bad_state=$(state $S)
echo bad_out=$(cat "$d/out")
echo bad_lines=$(wc -l < "$d/err")
echo bad_err=$(cat "$d/err")
PATINA_REAP_THRESHOLD="$(printf '1\377h')" "$R" --preflight >"$d/out" 2>"$d/err"; echo utf8_rc=$?
echo utf8_state=$(state $S)
echo utf8_out=$(cat "$d/out")
echo utf8_err=$(cat "$d/err")
PATINA_REAP_BACKEND=nonsense PATINA_REAP_THRESHOLD=1s "$R" --preflight >"$d/out" 2>"$d/err"
echo backend_rc=$?
echo backend_state=$(state $S)
echo backend_out=$(cat "$d/out" "$d/err")
PATINA_REAP_THRESHOLD=1s "$R" --preflight >/dev/null 2>"$d/err"; echo good_rc=$?
echo good_state=$(state $S)
echo good_err=$(cat "$d/err")
kill -9 $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "ppid"), "1", "not an orphan: {text}");
    assert_eq!(field(&text, "bad_rc"), "0", "{text}");
    assert_eq!(field(&text, "bad_state"), "running", "{text}");
    assert_eq!(field(&text, "bad_out"), "", "{text}");
    assert_eq!(field(&text, "bad_lines"), "1", "{text}");
    let err = field(&text, "bad_err");
    assert!(
        err.starts_with("warning: ignoring PATINA_REAP_THRESHOLD='5': no unit"),
        "{text}"
    );
    assert!(err.ends_with("using 24h"), "{text}");
    // Not UTF-8: as the library reads it, not a usage error.
    assert_eq!(field(&text, "utf8_rc"), "0", "{text}");
    assert_eq!(field(&text, "utf8_state"), "running", "{text}");
    assert_eq!(field(&text, "utf8_out"), "", "{text}");
    let err = field(&text, "utf8_err");
    assert!(
        err.starts_with("warning: ignoring PATINA_REAP_THRESHOLD='1\u{fffd}h'"),
        "{text}"
    );
    assert!(err.ends_with("using 24h"), "{text}");
    assert_eq!(field(&text, "backend_rc"), "0", "{text}");
    assert_eq!(field(&text, "backend_state"), "running", "{text}");
    assert_eq!(field(&text, "backend_out"), "", "{text}");
    assert_eq!(field(&text, "good_rc"), "0", "{text}");
    assert_eq!(field(&text, "good_state"), "exited", "{text}");
    assert!(
        field(&text, "good_err").starts_with("Cleaned up stale patina serve"),
        "{text}"
    );
}

#[test]
fn threshold_off_is_silent_and_signals_nothing() {
    // A superseded daemon is stale whatever its age: with `off` it is left alone and
    // nothing is said; without, the same command reaps it.
    let Some(text) = in_patina_namespace(
        r#"
PATINA_REAP_THRESHOLD=off "$P" mother start 2>/dev/null & A=$!
wait_sock "$d/.patina/run/serve.sock"
PATINA_REAP_THRESHOLD=off "$P" mother start 2>/dev/null & B=$!
i=0; while [ "$(cat "$d/.patina/run/mother.pid" 2>/dev/null)" != "$B" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
echo ppids=$(ppid $A),$(ppid $B)
PATINA_REAP_THRESHOLD=off "$R" --preflight >"$d/out" 2>"$d/err"; echo off_rc=$?
sleep 0.2
echo off_states=$(state $A),$(state $B)
echo off_out=$(cat "$d/out" "$d/err")
"$R" --preflight >"$d/out" 2>"$d/err"; echo on_rc=$?
sleep 0.2
echo on_states=$(state $A),$(state $B)
echo on_out=$(cat "$d/out")
echo on_err=$(cat "$d/err")
kill -9 $A $B 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "ppids"), "1,1", "not orphans: {text}");
    assert_eq!(field(&text, "off_rc"), "0", "{text}");
    assert_eq!(field(&text, "off_states"), "running,running", "{text}");
    assert_eq!(field(&text, "off_out"), "", "{text}");
    assert_eq!(field(&text, "on_rc"), "0", "{text}");
    assert_eq!(field(&text, "on_states"), "exited,running", "{text}");
    assert_eq!(field(&text, "on_out"), "", "{text}");
    assert!(field(&text, "on_err").contains("superseded"), "{text}");
}

/// A script in which `maker` makes a proof with a clean start while a `patina` is
/// young, the proof is forged to hold a day longer, and once that process is stale
/// `taker` starts: it is spared a scan (the process survives) only if it takes the
/// proof. Then, the proof removed, `taker` scans and reaps it.
const PROOF_TAKEN: &str = r#"
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & S=$!
export PATINA_REAP_THRESHOLD=3s
maker >/dev/null 2>&1; echo made_rc=$?
f=$(proof 3)
echo proofs=$(ls "$TMPDIR"/*.proof | wc -l)
echo made=$(test -s "$f" && echo yes)
forge_proof "$f"
sleep 3.3
echo ppid=$(ppid $S)
taker >/dev/null 2>"$d/err"; echo taken_rc=$?
echo spared=$(state $S)
echo taken_err=$(cat "$d/err")
rm -f "$f"
taker >/dev/null 2>"$d/err"
echo scanned=$(state $S)
echo scanned_err=$(cat "$d/err")
kill -9 $S 2>/dev/null
"#;

/// [`PROOF_TAKEN`] with these two command lines.
fn check_proof_taken(maker: &str, taker: &str) {
    let Some(text) = in_patina_namespace(&format!(
        "maker() {{ {maker}; }}\ntaker() {{ {taker}; }}\n{PROOF_TAKEN}"
    )) else {
        return;
    };
    assert_eq!(field(&text, "made_rc"), "0", "{text}");
    assert_eq!(field(&text, "proofs"), "1", "{text}");
    assert_eq!(field(&text, "made"), "yes", "{text}");
    assert_eq!(field(&text, "ppid"), "1", "not an orphan: {text}");
    assert_eq!(field(&text, "taken_rc"), "0", "{text}");
    assert_eq!(field(&text, "spared"), "running", "no proof taken: {text}");
    assert_eq!(field(&text, "taken_err"), "", "{text}");
    assert_eq!(field(&text, "scanned"), "exited", "{text}");
    assert!(
        field(&text, "scanned_err").starts_with("Cleaned up stale patina serve"),
        "{text}"
    );
}

#[test]
fn a_proof_left_by_the_linked_preflight_spares_the_exec_d_one_a_scan() {
    check_proof_taken(r#""$P" status"#, r#""$R" --preflight"#);
}

#[test]
fn a_proof_left_by_the_exec_d_preflight_spares_the_linked_one_a_scan() {
    check_proof_taken(r#""$R" --preflight"#, r#""$P" status"#);
}

#[test]
fn name_threshold_and_socket_combine_with_it_and_the_flag_wins_over_the_variable() {
    // --threshold wins over PATINA_REAP_THRESHOLD, `off` included, as it does for the
    // CLI and as Preflight::threshold does in the library; --name replaces `patina`.
    let Some(text) = in_patina_namespace(
        r#"
cp "$SLEEPER" "$d/worker"
"$d/worker" serve & W=$!
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & S=$!
sleep 1.2
echo ppids=$(ppid $W),$(ppid $S)
PATINA_REAP_THRESHOLD=off "$R" --preflight --name worker --threshold 1s --socket none >"$d/out" 2>"$d/err"
echo rc=$?
echo states=$(state $W),$(state $S)
echo out=$(cat "$d/out")
echo lines=$(wc -l < "$d/err")
echo err=$(cat "$d/err")
kill -9 $W $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "ppids"), "1,1", "not orphans: {text}");
    assert_eq!(field(&text, "rc"), "0", "{text}");
    assert_eq!(field(&text, "states"), "exited,running", "{text}");
    assert_eq!(field(&text, "out"), "", "{text}");
    assert_eq!(field(&text, "lines"), "1", "{text}");
    assert!(
        field(&text, "err").starts_with("Cleaned up stale worker serve"),
        "{text}"
    );
}

#[test]
fn a_conflicting_flag_is_a_usage_error_and_signals_nothing() {
    // Every flag that does not combine, with a stale orphan of this test's name that
    // `--preflight --threshold 0s` alone would reap.
    let mut sb = Sandbox::new();
    let pid = sb.spawn_sleeper();
    let conflicting: &[&[&str]] = &[
        &["--dry-run"],
        &["--json"],
        &["--grace", "0s"],
        &["--all-users"],
        &["--user", "0"],
        &["--pids"],
        &["--full"],
        &["--verbose"],
        &["--quiet"],
        &["--color", "never"],
    ];
    for flag in conflicting {
        let out = sb.run(&[&["--preflight", "--threshold", "0s"], *flag].concat());
        assert_eq!(out.status.code(), Some(2), "{flag:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{flag:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!(
                "error: the argument '--preflight' cannot be used with '{}",
                flag[0]
            )),
            "{flag:?}: {err}"
        );
        assert!(sb.alive(pid), "{flag:?} signalled it");
    }
    // A bad value of a flag that combines is a usage error too.
    let out = sb.run(&["--preflight", "--threshold", "24"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: invalid value '24' for '--threshold <DURATION>'"),
        "{}",
        stderr(&out)
    );
    assert!(sb.alive(pid));
    // And the order of the flags does not matter.
    let out = sb.run(&["--json", "--threshold", "0s", "--preflight"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!sb.exits_within(pid, Duration::from_millis(200)));
}
