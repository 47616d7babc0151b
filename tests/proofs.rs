//! The preflight's bound and its proof of a clean scan, with the real stand-in `patina`
//! (`examples/patina.rs`) as PID 1's children in private PID namespaces, where the
//! default name `patina` hits nothing else, each with a temporary directory of its own
//! (where the lock and the proof live).
//!
//! A proof may only spare a scan when nothing can have become stale: each case below
//! makes a clean start leave a proof, changes the world in one way that can make a
//! process stale, and checks that the very next start finds it.

use crate::common::*;

#[test]
fn a_stale_process_that_ignores_sigterm_is_gone_within_the_bound() {
    // A stale `patina` that ignores SIGTERM: the preflight used to wait out a 5s grace;
    // within its bound of 1s it sends SIGTERM, waits a little, sends SIGKILL and sees
    // it gone. (The elapsed time is checked only against the old 5s wait, with a wide
    // margin: this is about the bound, not speed.)
    let Some(text) = in_patina_namespace(
        r#"
cp "$SLEEPER" "$d/patina"
SLEEPER_IGNORE_TERM=1 "$d/patina" serve & S=$!
sleep 1.2
t0=$(date +%s%N)
PATINA_REAP_THRESHOLD=1s "$P" status >/dev/null 2>"$d/err"
t1=$(date +%s%N)
echo ms=$(( (t1 - t0) / 1000000 ))
echo state=$(state $S)
echo err=$(cat "$d/err")
kill -9 $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "state"), "exited", "{text}");
    assert!(
        field(&text, "err").starts_with("Cleaned up stale patina serve"),
        "{text}"
    );
    let ms: u64 = field(&text, "ms").parse().unwrap();
    assert!(
        ms < 4000,
        "the preflight held patina up for {ms} ms: {text}"
    );
}

#[test]
fn a_daemon_superseded_right_after_a_clean_start_is_reaped_at_the_next_start() {
    let Some(text) = in_patina_namespace(
        r#"
PATINA_REAP_THRESHOLD=off "$P" mother start 2>/dev/null & A=$!
wait_sock "$d/.patina/run/serve.sock"
"$P" status >/dev/null 2>&1
echo proof=$(test -s "$(proof 86400)" && echo yes)
PATINA_REAP_THRESHOLD=off "$P" mother start 2>/dev/null & B=$!
i=0; while [ "$(cat "$d/.patina/run/mother.pid" 2>/dev/null)" != "$B" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
"$P" status >/dev/null 2>"$d/err"
sleep 0.2
echo states=$(state $A),$(state $B)
echo err=$(cat "$d/err")
kill -9 $A $B 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "proof"), "yes", "{text}");
    assert_eq!(field(&text, "states"), "exited,running", "{text}");
    assert!(field(&text, "err").contains("superseded"), "{text}");
}

#[test]
fn the_spec_s_manual_test_is_reaped_once_older_than_the_threshold() {
    // `exec -a "patina serve --test" sleep …`: its kernel name is sleep, so while young
    // it is not even read; the proof must not outlive its youth.
    let Some(text) = in_patina_namespace(
        r#"
bash -c 'exec -a "patina serve --test" sleep 86500' & S=$!
sleep 0.2
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>&1
echo proof=$(test -s "$(proof 3)" && echo yes)
echo young=$(state $S)
sleep 3.5
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>"$d/err"
echo state=$(state $S)
echo err=$(cat "$d/err")
kill -9 $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "proof"), "yes", "{text}");
    assert_eq!(field(&text, "young"), "running", "{text}");
    assert_eq!(field(&text, "state"), "exited", "{text}");
    assert!(
        field(&text, "err").starts_with("Cleaned up stale patina serve --test"),
        "{text}"
    );
}

#[test]
fn the_old_daemon_is_reaped_at_the_next_start_after_an_upgrade_replaced_its_binary() {
    if !exact_argv() {
        skip("the ps backend cannot tell a replaced executable");
        return;
    }
    let Some(text) = in_patina_namespace(
        r#"
mkdir "$d/bin"; cp "$P" "$d/bin/patina"
PATINA_REAP_THRESHOLD=off "$d/bin/patina" mother start 2>/dev/null & A=$!
wait_sock "$d/.patina/run/serve.sock"
"$P" status >/dev/null 2>&1
echo proof=$(test -s "$(proof 86400)" && echo yes)
cp "$P" "$d/bin/patina.new"; mv "$d/bin/patina.new" "$d/bin/patina"
"$P" status >/dev/null 2>"$d/err"
sleep 0.2
echo state=$(state $A)
echo err=$(cat "$d/err")
kill -9 $A 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "proof"), "yes", "{text}");
    assert_eq!(field(&text, "state"), "exited", "{text}");
    assert!(field(&text, "err").contains("replaced"), "{text}");
}

#[test]
fn a_forged_proof_only_delays_a_cleanup_and_a_corrupt_or_foreign_one_spares_no_scan() {
    let Some(text) = in_patina_namespace(
        r#"
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & S=$!
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & T=$!
sleep 0.2
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>&1
f=$(proof 3)
echo proof=$(test -s "$f" && echo yes)
# Forged: valid for much longer than it should be.
until=$(sed -n 's/^until //p' "$f")
sed -i "s/^until .*/until $((until + 100000))/" "$f"
sleep 3.5
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>&1
echo forged=$(state $S),$(state $T)
# Another user's file: not taken.
chown 65534 "$f"
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>&1
echo foreign=$(state $S),$(state $T)
kill -9 $S $T 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "proof"), "yes", "{text}");
    // The forged proof kept both stale processes alive (and signalled nothing).
    assert_eq!(field(&text, "forged"), "running,running", "{text}");
    assert_eq!(field(&text, "foreign"), "exited,exited", "{text}");
}

#[test]
fn a_corrupt_proof_spares_no_scan() {
    let Some(text) = in_patina_namespace(
        r#"
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & S=$!
sleep 0.2
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>&1
f=$(proof 3)
echo proof=$(test -s "$f" && echo yes)
until=$(sed -n 's/^until //p' "$f")
sed -i "s/^until .*/until $((until + 100000))/; /^end$/d" "$f"
sleep 3.5
PATINA_REAP_THRESHOLD=3s "$P" status >/dev/null 2>&1
echo state=$(state $S)
kill -9 $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "proof"), "yes", "{text}");
    assert_eq!(field(&text, "state"), "exited", "{text}");
}

#[test]
fn one_proof_file_serves_every_threshold_and_pid_namespace_and_holds_only_for_its_own() {
    // A clean start with a long threshold leaves a proof; a start with a shorter one
    // must still scan (and reap what is stale by it). Starts with other thresholds, and
    // in a PID namespace below (a sandbox sharing the temporary directory), replace the
    // one file instead of adding theirs.
    let Some(text) = in_patina_namespace(
        r#"
PATINA_REAP_THRESHOLD=off "$P" serve 2>/dev/null & S=$!
sleep 0.2
PATINA_REAP_THRESHOLD=1h "$P" status >/dev/null 2>&1
echo long=$(test -n "$(proof 3600)" && echo yes)
sleep 1.2
PATINA_REAP_THRESHOLD=1s "$P" status >/dev/null 2>"$d/err"
sleep 0.2
echo state=$(state $S)
echo err=$(cat "$d/err")
for t in 2h 3h 1d; do PATINA_REAP_THRESHOLD=$t "$P" status >/dev/null 2>&1; done
echo after_thresholds=$(proofs)
echo last=$(test -n "$(proof 86400)" && echo yes)
ours=$(sed -n 's/^pidns //p' "$(proof 86400)")
unshare --pid --fork --mount-proc "$P" status >/dev/null 2>&1
echo nested_rc=$?
echo after_namespace=$(proofs)
f=$(proof 86400)
echo nested_pidns=$(test -n "$f" && [ "$(sed -n 's/^pidns //p' "$f")" != "$ours" ] && echo other)
kill -9 $S 2>/dev/null
"#,
    ) else {
        return;
    };
    assert_eq!(field(&text, "long"), "yes", "{text}");
    assert_eq!(field(&text, "state"), "exited", "{text}");
    assert!(
        field(&text, "err").starts_with("Cleaned up stale patina serve"),
        "{text}"
    );
    assert_eq!(field(&text, "after_thresholds"), "1", "{text}");
    assert_eq!(field(&text, "last"), "yes", "{text}");
    assert_eq!(field(&text, "nested_rc"), "0", "{text}");
    assert_eq!(field(&text, "after_namespace"), "1", "{text}");
    assert_eq!(field(&text, "nested_pidns"), "other", "{text}");
}
