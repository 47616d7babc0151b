//! Containers and sessions: PID 1 of our namespace, parents outside it (`docker exec`),
//! adopters told by role rather than name, and reapers of other PID namespaces.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

/// A private PID namespace (with its own /proc) whose PID 1 runs a given program, made
/// by `unshare --kill-child`: when the unshare process, this test's child, is killed,
/// the kernel kills PID 1 and with it everything in the namespace.
struct Namespace {
    unshare: Child,
    /// PID 1 of the namespace, as this test's namespace numbers it.
    init: u32,
}

impl Namespace {
    /// `program args...` as PID 1 of a new namespace, with `env` set; `None` (with the
    /// reason printed) where no PID namespace can be made or entered here.
    fn start(program: &Path, args: &[&str], env: &[(&str, &Path)]) -> Option<Self> {
        if !is_root() {
            skip("making and entering PID namespaces needs root");
            return None;
        }
        let (Some(unshare), Some(_)) = (find("unshare"), find("nsenter")) else {
            skip("unshare(1) or nsenter(1) is not installed");
            return None;
        };
        let mut cmd = Command::new(unshare);
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(program)
            .args(args)
            .env_remove("PATINA_REAP_THRESHOLD")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut unshare = cmd.spawn().expect("run unshare");
        let deadline = Instant::now() + EXIT;
        let init = loop {
            let children = format!("/proc/{0}/task/{0}/children", unshare.id());
            let child = std::fs::read_to_string(children)
                .ok()
                .and_then(|t| t.split_whitespace().next()?.parse::<u32>().ok());
            // Wait for the exec too, so that the namespace's PID 1 is the program.
            if let Some(pid) = child.filter(|&pid| {
                argv0_of(pid).is_some_and(|a| a == program.as_os_str().as_encoded_bytes())
            }) {
                break pid;
            }
            if Instant::now() >= deadline || unshare.try_wait().ok().flatten().is_some() {
                let _ = unshare.kill();
                let _ = unshare.wait();
                skip("unshare --pid --fork --mount-proc failed here");
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Some(Self { unshare, init })
    }

    /// `program` run inside the namespace by `nsenter`, as `docker exec` runs one: its
    /// parent, nsenter, is outside, so inside it has parent pid 0.
    fn enter(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(find("nsenter").unwrap());
        cmd.args(["--target", &self.init.to_string(), "--pid", "--mount", "--"])
            .arg(program)
            .env_remove("PATINA_REAP_THRESHOLD")
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn find(program: &str) -> Option<std::path::PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.exists())
}

/// The pid in the namespace, as `/proc/PID/status` `NSpid:` gives it (last entry).
fn pid_inside(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// The only child of `pid`, once it runs `program` (bounded wait).
fn child_running(pid: u32, program: &Path) -> u32 {
    let deadline = Instant::now() + EXIT;
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(child) = children
            .split_whitespace()
            .next()
            .and_then(|c| c.parse::<u32>().ok())
            .filter(|&c| argv0_of(c).is_some_and(|a| a == program.as_os_str().as_encoded_bytes()))
        {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not start",
            program.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The reaper's report, run inside `ns` through nsenter (parent pid 0 there).
fn reap_inside(ns: &Namespace, sb: &Sandbox, name: &str) -> (serde_json::Value, String) {
    let mut cmd = ns.enter(reaper_bin());
    cmd.args([
        "--name",
        name,
        "--threshold",
        "0s",
        "--grace",
        "2s",
        "--json",
    ]);
    sb.private_tmp(&mut cmd);
    let out = cmd.output().expect("run nsenter");
    let text = format!(
        "status {:?}\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    assert!(out.status.success(), "{text}");
    (serde_json::from_slice(&out.stdout).expect(&text), text)
}

#[test]
fn pid_1_of_the_namespace_is_never_signalled() {
    // A container whose PID 1 is `patina serve` (it exits on SIGTERM, and with it the
    // whole namespace), and a reaper run in it as `docker exec` runs one.
    let Some(patina) = patina_for_namespace() else {
        return;
    };
    let sb = Sandbox::new();
    let tmp = sb.tmp();
    let env = [
        ("TMPDIR", tmp.as_path()),
        ("XDG_RUNTIME_DIR", tmp.as_path()),
    ];
    let Some(ns) = Namespace::start(Path::new(&patina), &["serve"], &env) else {
        return;
    };
    assert_eq!(pid_inside(ns.init), Some(1));
    let (doc, text) = reap_inside(&ns, &sb, "patina");
    let e = entry(&doc, 1).unwrap_or_else(|| panic!("PID 1 is listed: {text}"));
    assert_eq!(e["outcome"], "skipped", "{text}");
    assert_eq!(e["reason"], "init", "{text}");
    assert_eq!(e["ppid"], 0, "{text}");
    assert_eq!(
        state(ns.init).map(|s| s != 'Z'),
        Some(true),
        "PID 1 was hit"
    );
}

#[test]
fn a_process_entered_from_outside_the_namespace_is_attached_and_an_orphan_of_a_shell_pid_1_is_not()
{
    // A container whose PID 1 is a shell (`docker run -it … sh`), an old orphan it
    // adopted, and a process started in it by `docker exec` (its parent outside).
    let sb = Sandbox::new();
    let target = sb.sleeper_path();
    let tmp = sb.tmp();
    let pidfile = tmp.join("orphan.pid");
    // The launcher (the target in launch mode: it is a link to the sleeper) starts the
    // target and exits, so the shell, PID 1, adopts it; the shell stays PID 1.
    let script = format!(
        "SLEEPER_LAUNCH=\"{t}\" \"{t}\" 1000 > \"{p}\"; while :; do sleep 1; done",
        t = target.display(),
        p = pidfile.display()
    );
    let env = [
        ("TMPDIR", tmp.as_path()),
        ("XDG_RUNTIME_DIR", tmp.as_path()),
    ];
    let Some(ns) = Namespace::start(&which("sh"), &["-c", &script], &env) else {
        return;
    };
    let orphan_inside = read_pid(&pidfile);
    let mut entered = ns.enter(&target);
    entered.arg("1000").stdout(Stdio::null()).process_group(0);
    let mut nsenter = entered.spawn().expect("run nsenter");
    let exec = child_running(nsenter.id(), &target);
    let exec_inside = pid_inside(exec).expect("the entered process's pid inside");

    let (doc, text) = reap_inside(&ns, &sb, &sb.name);
    let e = entry(&doc, exec_inside).unwrap_or_else(|| panic!("listed: {text}"));
    assert_eq!(e["ppid"], 0, "{text}");
    assert_eq!(e["outcome"], "skipped", "{text}");
    assert_eq!(e["reason"], "attached", "{text}");
    assert!(
        state(exec).is_some_and(|s| s != 'Z'),
        "the entered process was hit"
    );
    let o = entry(&doc, orphan_inside).unwrap_or_else(|| panic!("listed: {text}"));
    assert_eq!(o["ppid"], 1, "{text}");
    assert_eq!(o["outcome"], "terminated", "{text}");

    let _ = nsenter.kill();
    let _ = nsenter.wait();
    drop(ns);
}

/// A child subreaper running the sleeper under `name` with `args`, and an old process
/// it adopted (its launcher exited): (manager, adopted).
fn adopted_by(sb: &mut Sandbox, path: &str, args: &[&str]) -> (u32, u32) {
    let manager_exe = sb.dir.path().join(path);
    std::fs::create_dir_all(manager_exe.parent().unwrap()).unwrap();
    // A real file at that path (so /proc/PID/exe names it): a hard link, or a copy where
    // an ordinary user may not link another's file (protected_hardlinks).
    if std::fs::hard_link(sleeper(), &manager_exe).is_err() {
        std::fs::copy(sleeper(), &manager_exe).unwrap();
    }
    let name = path.rsplit('/').next().unwrap();
    let pidfile = sb.dir.path().join(format!("adopted-by-{name}.pid"));
    let mut cmd = Command::new(&manager_exe);
    cmd.args(args)
        .env("SLEEPER_SUBREAPER", "1")
        .env("SLEEPER_ADOPT", sb.sleeper_path())
        .env("SLEEPER_PIDFILE", &pidfile);
    let manager = sb.spawn(cmd);
    let adopted = read_pid(&pidfile);
    // Its launcher exited: the subreaper, not PID 1, is its parent now.
    assert_eq!(ppid_of(adopted), Some(manager));
    (manager, adopted)
}

#[test]
fn the_users_service_manager_adopts_and_its_old_orphan_is_reaped() {
    let mut sb = Sandbox::new();
    let strays = Strays::under(sb.dir.path());
    // Its executable is systemd's (a link at .../usr/lib/systemd/systemd) and it runs
    // with --user.
    let (manager, adopted) = adopted_by(&mut sb, "usr/lib/systemd/systemd", &["--user"]);
    let start = identity(adopted).unwrap();
    let (doc, out) = sb.run_json(&["--threshold", "0s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, adopted).expect("listed");
    assert_eq!(e["outcome"], "terminated", "{e}");
    assert_eq!(e["ppid"], manager, "{e}");
    assert!(exited_within(adopted, start.parse().unwrap(), EXIT));
    assert!(sb.alive(manager), "the service manager was hit");
    drop(strays);
}

#[test]
fn a_live_parent_called_init_or_systemd_that_is_not_an_adopter_keeps_its_child() {
    // WSL's per-session relay `init` is the live parent of an editor's MCP server; a
    // project script can be called `init` or `systemd` too, even with --user. Only PID 1
    // and systemd's own binary run with --user adopt.
    for (path, args) in [
        ("init", &[][..]),
        ("usr/lib/systemd/systemd", &["--system"][..]),
        ("bin/systemd", &["--user"][..]),
    ] {
        let mut sb = Sandbox::new();
        let strays = Strays::under(sb.dir.path());
        let (manager, child) = adopted_by(&mut sb, path, args);
        let name = path.rsplit('/').next().unwrap();
        let start = identity(child).unwrap();
        let (doc, out) = sb.run_json(&["--threshold", "0s"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let e = entry(&doc, child).expect("listed");
        assert_eq!(e["outcome"], "skipped", "{name}: {e}");
        assert_eq!(e["reason"], "attached", "{name}: {e}");
        assert_eq!(e["ppid"], manager, "{e}");
        assert!(is_running(child, &start), "the child of {name} was hit");
        let text = stdout(&sb.run(&["--threshold", "0s", "--dry-run", "-v"]));
        assert!(
            text.contains(&format!("attached to {name} (PID {manager})")),
            "{text}"
        );
        drop(strays);
    }
}

#[test]
fn a_reaper_in_another_pid_namespace_sharing_the_lock_directory_holds_nobody_up() {
    // Namespace A (a sandbox sharing /tmp): a reaper holds its turn while it waits out a
    // long grace period for a process that ignores SIGTERM. Namespace B: `patina` starts
    // and its preflight finds a stale `patina serve`; it must not leave it to A, which
    // cannot even see it.
    let Some(patina) = patina_for_namespace() else {
        return;
    };
    let sb = Sandbox::new();
    let lock_dir = sb.tmp();
    let ignorer = sb.link(sleeper(), "patina");
    let script = format!(
        "SLEEPER_IGNORE_TERM=1 \"{i}\" 1000 & \"{r}\" --threshold 0s --grace 60s >/dev/null 2>&1; \
         while :; do sleep 1; done",
        i = ignorer.display(),
        r = reaper_bin(),
    );
    let env = [
        ("TMPDIR", lock_dir.as_path()),
        ("XDG_RUNTIME_DIR", lock_dir.as_path()),
    ];
    let Some(holder_ns) = Namespace::start(&which("sh"), &["-c", &script], &env) else {
        return;
    };
    // A's reaper holds the lock once its file names a holder.
    let deadline = Instant::now() + EXIT;
    while !std::fs::read_dir(&lock_dir).unwrap().flatten().any(|f| {
        f.file_name().to_string_lossy().ends_with(".lock")
            && std::fs::read_to_string(f.path()).is_ok_and(|t| !t.trim().is_empty())
    }) {
        assert!(
            Instant::now() < deadline,
            "the reaper in A never took its turn"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let script = format!(
        r#"
"{p}" serve 2>/dev/null & S=$!
w=0; until [ "$(head -c {len} /proc/$S/cmdline 2>/dev/null)" = "{p}" ] || [ $w -ge 1000 ]; do sleep 0.01; w=$((w+1)); done
PATINA_REAP_THRESHOLD=0s "{p}" version
w=0; while [ $w -lt 500 ]; do
  st=$(cut -d' ' -f3 /proc/$S/stat 2>/dev/null)
  [ -z "$st" ] || [ "$st" = Z ] && break
  sleep 0.02; w=$((w+1))
done
[ -z "$st" ] || [ "$st" = Z ] && echo serve=gone || echo serve=alive
kill -9 $S 2>/dev/null
"#,
        p = patina,
        len = patina.len(),
    );
    let out = Command::new(find("unshare").unwrap())
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            &script,
        ])
        .env_remove("PATINA_REAP_THRESHOLD")
        .env("TMPDIR", &lock_dir)
        .env("XDG_RUNTIME_DIR", &lock_dir)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .expect("run unshare");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("Cleaned up stale patina serve"), "{text}");
    assert_eq!(field(&stdout(&out), "serve"), "gone", "{text}");
    drop(holder_ns);
}

#[test]
fn a_young_process_is_read_only_when_it_holds_a_socket_unless_young_ones_are_listed() {
    // Only a socket can end a young process early (superseded on a daemon socket, a
    // replaced listener): where young processes are not listed, one that holds none is
    // read no further than its descriptors. PID 1 of another namespace shows what was
    // read: once read, it is listed as kept for its namespace.
    if std::env::var_os("PATINA_REAP_BACKEND").is_some_and(|b| b == "ps") {
        skip("the ps backend reads every match and tells no PID namespace");
        return;
    }
    let sb = Sandbox::new();
    let program = sb.sleeper_path();
    let socket = sb.dir.path().join("any.sock");
    let Some(plain) = Namespace::start(&program, &["1000"], &[]) else {
        return;
    };
    let Some(listening) =
        Namespace::start(&program, &["1000"], &[("SLEEPER_LISTEN", socket.as_path())])
    else {
        return;
    };
    let deadline = Instant::now() + EXIT;
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the listener never bound");
        std::thread::sleep(Duration::from_millis(5));
    }
    let reasons = |list_young: bool| {
        let report = patina_reap::Reaper::new()
            .names([sb.name.as_str()])
            .threshold(Duration::from_secs(3600))
            .list_young(list_young)
            .dry_run(true)
            .run()
            .unwrap();
        let reason = |pid: u32| {
            report
                .processes
                .iter()
                .find(|p| p.pid == pid)
                .map(|p| p.reason.clone())
        };
        (reason(plain.init), reason(listening.init))
    };
    use patina_reap::{Reason, SkipReason};
    let namespace = Some(Some(Reason::Skipped(SkipReason::Namespace)));
    assert_eq!(reasons(true), (namespace.clone(), namespace.clone()));
    assert_eq!(reasons(false), (None, namespace));
    assert_eq!(state(plain.init).map(|s| s != 'Z'), Some(true));
    assert_eq!(state(listening.init).map(|s| s != 'Z'), Some(true));
}
