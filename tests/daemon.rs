//! patina's daemon and its files: a stand-in that behaves as `patina mother start` does
//! (removes a live socket file on start, binds anew, writes `mother.pid`, and removes
//! both on SIGTERM whoever's they are). Reaping a superseded duplicate must leave the
//! live daemon reachable, and the reaper writes nothing in the daemon's directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

/// The pid of the process listening at the socket `path`, as a client reaches it: the
/// peer credentials of a connection.
fn listener_reached_at(path: &Path) -> Option<u32> {
    let stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    let cred = rustix::net::sockopt::socket_peercred(&stream).ok()?;
    Some(cred.pid.as_raw_nonzero().get() as u32)
}

/// A stand-in daemon under the sandbox's name with its files in `dir`, as an orphan;
/// returns once its pid is in `mother.pid`.
fn spawn_daemon(sb: &mut Sandbox, dir: &Path) -> u32 {
    let path = sb.sleeper_path();
    let pid = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.args(["mother", "start"]).env("SLEEPER_DAEMON", dir);
    });
    wait_for_pid_in(&dir.join("mother.pid"), pid);
    pid
}

#[cfg(target_os = "linux")]
#[test]
fn reaping_an_old_daemon_a_newer_one_replaced_leaves_the_newer_one_reachable() {
    let mut sb = Sandbox::new();
    let run: PathBuf = sb.dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let socket = run.join("serve.sock");
    let pid_file = run.join("mother.pid");
    let old = spawn_daemon(&mut sb, &run);
    // The second start removes the first one's socket file and binds its own.
    let new = spawn_daemon(&mut sb, &run);
    assert_eq!(listener_reached_at(&socket), Some(new));
    let before = listing(&run);
    assert_eq!(before, ["mother.pid", "serve.sock"]);
    let dir_before = dir_times(&run);
    let socket_arg = socket.to_str().unwrap();

    // A dry run touches nothing.
    let (doc, out) = sb.run_json(&["--threshold", "0s", "-n", "--socket", socket_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outcome(&doc, old), "would_reap");
    assert_eq!(entry(&doc, old).unwrap()["first_signal"], "SIGKILL");

    let (doc, out) = sb.run_json(&["--threshold", "0s", "--socket", socket_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, new).unwrap();
    assert_eq!(e["reason"], "serving", "{e}");
    // Superseded: SIGKILL at once, so that its SIGTERM handler never runs and never
    // removes the live daemon's files.
    let e = entry(&doc, old).unwrap();
    assert_eq!(e["outcome"], "killed", "{e}");
    assert_eq!(e["trigger"], "superseded", "{e}");
    assert_eq!(e["first_signal"], "SIGKILL", "{e}");
    assert!(sb.exits_within(old, EXIT));
    // Nothing in the directory was created, removed or changed, by anyone.
    assert_eq!(listing(&run), before);
    assert_eq!(dir_times(&run), dir_before);
    assert_eq!(listener_reached_at(&socket), Some(new));
    assert_eq!(read_pid_file(&pid_file), Some(new));
    assert!(sb.alive(new));

    // The next run still finds the live one serving.
    let (doc, _) = sb.run_json(&["--threshold", "0s", "-n", "--socket", socket_arg]);
    assert_eq!(entry(&doc, new).unwrap()["reason"], "serving");
}

#[cfg(target_os = "linux")]
#[test]
fn a_replaced_daemon_that_serves_its_own_files_takes_them_along() {
    // After an upgrade the old daemon is the live one: its files are its own, and go
    // with it (nothing is put back).
    let mut sb = Sandbox::new();
    let run: PathBuf = sb.dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let path = bin.join(&sb.name);
    std::fs::copy(sleeper(), &path).unwrap();
    let pid = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.args(["mother", "start"]).env("SLEEPER_DAEMON", &run);
    });
    wait_for_pid_in(&run.join("mother.pid"), pid);
    let new = bin.join("new");
    std::fs::copy(sleeper(), &new).unwrap();
    std::fs::rename(&new, &path).unwrap();
    let socket = run.join("serve.sock");
    let (doc, out) = sb.run_json(&["--threshold", "1h", "--socket", socket.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, pid).unwrap();
    if !exact_argv() {
        assert_eq!(e["reason"], "young", "{e}");
        return;
    }
    assert_eq!(e["trigger"], "replaced", "{e}");
    assert!(sb.exits_within(pid, EXIT));
    assert!(listing(&run).is_empty(), "{:?}", listing(&run));
}

#[test]
fn the_preflight_leaves_the_newer_daemon_reachable() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let script = format!(
        r#"
state() {{ s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }}
d=$(mktemp -d)
export HOME="$d"
"{p}" mother start 2>/dev/null & A=$!
sleep 0.5
"{p}" mother start 2>/dev/null & B=$!
sleep 1.5
before=$(stat -c %i "$d/.patina/run/serve.sock")
PATINA_REAP_THRESHOLD=1s "{p}" status >/dev/null 2>"$d/err"
sleep 0.3
echo states=$(state $A),$(state $B)
echo pid=$(cat "$d/.patina/run/mother.pid")/$B
echo inode=$(stat -c %i "$d/.patina/run/serve.sock")/$before
echo files=$(ls -A "$d/.patina/run" | tr '\n' ' ')
echo err=$(cat "$d/err")
kill $B 2>/dev/null
rm -rf "$d"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "states"), "exited,running", "{text}");
    let pid = field(&text, "pid");
    let (held, b) = pid.split_once('/').unwrap();
    assert_eq!(held, b, "{text}");
    let inode = field(&text, "inode");
    let (now, before) = inode.split_once('/').unwrap();
    assert_eq!(now, before, "{text}");
    assert_eq!(
        field(&text, "files").trim(),
        "mother.pid serve.sock",
        "{text}"
    );
    assert!(
        field(&text, "err").starts_with("Cleaned up stale patina mother start"),
        "{text}"
    );
}

/// The hard limit on open descriptors of this process (children inherit it).
fn hard_nofile() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX)
}

#[cfg(target_os = "linux")]
#[test]
fn duplicates_holding_many_descriptors_and_no_socket_are_reaped_not_kept_serving() {
    // Six stale duplicates with ~19,000 descriptors each (no socket among them) beside
    // the live daemon: walking every table used to spend the whole budget, and what
    // was left counted as serving.
    let per_process = hard_nofile().saturating_sub(100).min(19_000);
    if per_process < 5_000 {
        skip("the hard limit on open descriptors is too low to hold thousands of them");
        return;
    }
    let mut sb = Sandbox::new();
    let run: PathBuf = sb.dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let live = spawn_daemon(&mut sb, &run);
    let path = sb.sleeper_path();
    let duplicates: Vec<u32> = (0..6)
        .map(|_| {
            sb.spawn_orphan(&path, &path, |cmd| {
                cmd.arg("serve").env("SLEEPER_FDS", per_process.to_string());
            })
        })
        .collect();
    let deadline = Instant::now() + EXIT;
    for &pid in &duplicates {
        let fd_dir = format!("/proc/{pid}/fd");
        while std::fs::read_dir(&fd_dir).map_or(0, |d| d.count() as u64) < per_process {
            assert!(
                Instant::now() < deadline,
                "{pid} never opened its descriptors"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let socket = run.join("serve.sock");
    let (doc, out) = sb.run_json(&["--threshold", "0s", "--socket", socket.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(entry(&doc, live).unwrap()["reason"], "serving", "{doc}");
    for &pid in &duplicates {
        let e = entry(&doc, pid).unwrap();
        assert_ne!(e["reason"], "serving", "{e}");
        assert_eq!(e["outcome"], "terminated", "{e}");
        assert!(sb.exits_within(pid, EXIT));
    }
    assert_eq!(listener_reached_at(&socket), Some(live));
}

#[cfg(target_os = "linux")]
#[test]
fn in_a_pid_namespace_descriptor_heavy_duplicates_are_reaped_not_kept_unknown() {
    // As PID 1's child in a private PID namespace: the listener is named by the peer
    // credentials (translated into this namespace), so no duplicate's table of ~19,000
    // descriptors needs reading, and none is kept as unknown-serving.
    let per_process = hard_nofile().saturating_sub(100).min(19_000);
    if per_process < 5_000 {
        skip("the hard limit on open descriptors is too low to hold thousands of them");
        return;
    }
    let sb = Sandbox::new();
    let run = sb.dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let script = format!(
        r#"
s="{sleeper}"; run="{run}"
SLEEPER_DAEMON="$run" "$s" mother start & echo live=$!
i=0; while [ ! -s "$run/mother.pid" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
for n in 1 2 3 4 5 6; do SLEEPER_FDS={per_process} "$s" serve & done
sleep 2
"{reaper}" --name "$(basename "$s")" --threshold 0s -n --json --socket "$run/serve.sock" > "$run/doc"
echo rc=$?
"#,
        sleeper = sb.sleeper_path().display(),
        run = run.display(),
        reaper = reaper_bin(),
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0", "{text}{}", stderr(&out));
    let live: u32 = field(&text, "live").parse().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("doc")).unwrap()).unwrap();
    let processes = doc["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 7, "{doc}");
    for e in processes {
        if e["pid"] == live {
            assert_eq!(e["reason"], "serving", "{e}");
        } else {
            // The live listener is named by the peer credentials, which the kernel
            // translates into this namespace: no duplicate's table needs reading.
            assert_eq!(e["outcome"], "would_reap", "{e}");
        }
    }
}
