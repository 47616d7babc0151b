//! Root in other people's homes: the reaper writes nothing there, follows no path a
//! user controls, and takes its facts from the process it judges (the socket it bound,
//! in its own mount namespace), not from HOME or /etc/passwd. The other user exists
//! only in a private copy of /etc/passwd, bind-mounted in a private mount namespace;
//! sandboxes are private mount namespaces with a tmpfs over the home.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::users::*;
use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

/// /etc/passwd with alice added, her home at `home`.
fn passwd_with_alice(home: &Path) -> String {
    passwd_with(&[(ALICE, home)])
}

/// A directory of alice's (made with its parents), below her home `home`.
fn alice_dir(home: &Path, below: &str) -> PathBuf {
    user_dir(ALICE, home, below)
}

/// The sandbox's sleeper as alice, an orphan, with `env` set.
fn spawn_as_alice(sb: &mut Sandbox, args: &[&str], env: &[(&str, &Path)]) -> u32 {
    let program = sb.sleeper_path();
    spawn_as(sb, ALICE, &program, args, env)
}

#[test]
fn root_never_connects_through_a_symlink_a_user_put_at_a_daemon_socket() {
    if !is_root() {
        skip("needs root to start processes as another user");
        return;
    }
    let mut sb = Sandbox::new();
    // A system service's socket, in a directory only root may enter.
    let private = root_only_dir(sb.dir.path());
    let service_socket = private.join("service.sock");
    let service = std::os::unix::net::UnixListener::bind(&service_socket).unwrap();
    service.set_nonblocking(true).unwrap();
    // Alice's daemon binds her socket, then she puts a symlink to the service there.
    let home = sb.dir.path().join("alice");
    let run = alice_dir(&home, ".patina/run");
    let socket = run.join("serve.sock");
    let daemon = spawn_as_alice(&mut sb, &["serve"], &[("SLEEPER_LISTEN", &socket)]);
    wait_for_path(&socket);
    std::fs::remove_file(&socket).unwrap();
    std::os::unix::fs::symlink(&service_socket, &socket).unwrap();
    std::os::unix::fs::lchown(&socket, Some(ALICE.uid), Some(ALICE.uid)).unwrap();
    let Some(doc) = run_with_passwd(
        &sb,
        &passwd_with_alice(&home),
        &["--all-users", "--threshold", "0s", "-n"],
    ) else {
        return;
    };
    // The service saw no connection from root.
    assert_eq!(
        service.accept().err().map(|e| e.kind()),
        Some(std::io::ErrorKind::WouldBlock),
        "root connected to the service through alice's symlink"
    );
    // What her daemon serves could not be told safely: kept.
    let e = entry(&doc, daemon).expect("listed");
    assert_eq!(e["reason"], "unknown-serving", "{e}");
    assert!(sb.alive(daemon));
}

#[test]
fn root_judges_a_users_daemon_by_the_socket_it_bound_not_the_passwd_home() {
    let mut sb = Sandbox::new();
    if !is_root() {
        skip("needs root to start processes as another user");
        return;
    }
    // Alice's daemon runs with a scratch HOME; /etc/passwd names another home.
    let scratch = sb.dir.path().join("alice");
    let run = alice_dir(&scratch, "scratch/.patina/run");
    let socket = run.join("serve.sock");
    let daemon = spawn_as_alice(&mut sb, &["serve"], &[("SLEEPER_LISTEN", &socket)]);
    wait_for_path(&socket);
    let duplicate = spawn_as_alice(&mut sb, &["serve"], &[]);
    let Some(doc) = run_with_passwd(
        &sb,
        &passwd_with_alice(Path::new("/home/alice-elsewhere")),
        &["--all-users", "--threshold", "0s", "-n"],
    ) else {
        return;
    };
    assert_eq!(entry(&doc, daemon).expect("listed")["reason"], "serving");
    assert_eq!(outcome(&doc, duplicate), "would_reap");
    assert!(sb.alive(daemon) && sb.alive(duplicate));
}

#[test]
fn root_writes_nothing_in_a_users_run_directory_and_kills_a_superseded_daemon_at_once() {
    if !is_root() {
        skip("needs root to start processes as another user");
        return;
    }
    let mut sb = Sandbox::new();
    let home = sb.dir.path().join("alice");
    let run = alice_dir(&home, ".patina/run");
    let old = spawn_as_alice(&mut sb, &["mother", "start"], &[("SLEEPER_DAEMON", &run)]);
    wait_for_pid_in(&run.join("mother.pid"), old);
    let new = spawn_as_alice(&mut sb, &["mother", "start"], &[("SLEEPER_DAEMON", &run)]);
    wait_for_pid_in(&run.join("mother.pid"), new);
    let before = listing(&run);
    let times = dir_times(&run);
    // A real run, both daemons young: the superseded one goes at once.
    let Some(doc) = run_with_passwd(
        &sb,
        &passwd_with_alice(&home),
        &["--all-users", "--threshold", "1h"],
    ) else {
        return;
    };
    let e = entry(&doc, old).expect("listed");
    assert_eq!(e["outcome"], "killed", "{e}");
    assert_eq!(e["trigger"], "superseded", "{e}");
    assert_eq!(e["first_signal"], "SIGKILL", "{e}");
    assert!(sb.exits_within(old, EXIT));
    assert_eq!(entry(&doc, new).expect("listed")["reason"], "young");
    // Nothing was made, linked or removed in her directory, by root or by the daemon.
    assert_eq!(listing(&run), before);
    assert_eq!(dir_times(&run), times);
    assert!(sb.alive(new));
}

#[test]
fn a_sandbox_with_a_private_home_and_the_host_keep_each_others_live_daemon() {
    if !is_root() {
        skip("needs root to mount a tmpfs in a private mount namespace");
        return;
    }
    let Some(nsenter) = find_tool("nsenter") else {
        skip("nsenter(1) is not installed");
        return;
    };
    let mut sb = Sandbox::new();
    let home = sb.dir.path().join("home");
    let run = home.join(".patina/run");
    std::fs::create_dir_all(&run).unwrap();
    let socket = run.join("serve.sock");
    // The sandbox: the same home path, a tmpfs over it, a daemon bound there; the
    // namespace lives on with the daemon.
    let script = r#"mount -t tmpfs tmpfs "$1" || exit 99
mkdir -p "$1/.patina/run"
SLEEPER_LAUNCH="$2" SLEEPER_LISTEN="$1/.patina/run/serve.sock" "$2" serve"#;
    let Some(mut cmd) = in_private_mounts(script) else {
        return;
    };
    let out = cmd.arg(&home).arg(sb.sleeper_path()).output().unwrap();
    if out.status.code() == Some(99) {
        skip("cannot mount a tmpfs here");
        return;
    }
    let inside: u32 = stdout(&out)
        .trim()
        .parse()
        .expect("the sandbox daemon's pid");
    let inside_id = identity(inside).expect("running");
    let _cleanup = KillOnDrop(inside, inside_id);
    assert_adopted(inside);
    // The host's daemon at the same path, on the real file system.
    let path = sb.sleeper_path();
    let outside = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.arg("serve").env("SLEEPER_LISTEN", &socket);
    });
    wait_for_path(&socket);
    // Judged from the host, young and old: each serves in its own namespace.
    for threshold in ["0s", "1h"] {
        let (doc, out) = sb.run_json(&["--threshold", threshold, "-n"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let want = if threshold == "0s" {
            "serving"
        } else {
            "young"
        };
        for pid in [inside, outside] {
            assert_eq!(entry(&doc, pid).expect("listed")["reason"], want, "{doc}");
        }
    }
    // And from inside the sandbox.
    let mut cmd = Command::new(&nsenter);
    cmd.arg(format!("--mount=/proc/{inside}/ns/mnt"))
        .arg(reaper_bin())
        .args(["--name", &sb.name, "--threshold", "0s", "-n", "--json"])
        .env_remove("PATINA_REAP_THRESHOLD");
    sb.private_tmp(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for pid in [inside, outside] {
        assert_eq!(
            entry(&doc, pid).expect("listed")["reason"],
            "serving",
            "{doc}"
        );
    }
    assert!(sb.alive(outside) && is_running(inside, &identity(inside).unwrap()));
}

/// Kills a process this test started outside the sandbox's bookkeeping (by pid and
/// start identity) when dropped.
struct KillOnDrop(u32, String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if is_running(self.0, &self.1) {
            kill_pid(self.0);
        }
    }
}
