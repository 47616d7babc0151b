//! Who serves a daemon socket, where users, namespaces, sandboxes and floods make it
//! hard to tell: root connects to no socket a judged user could point it at; without
//! the kernel's socket diagnostics whatever may serve is kept and nobody is connected
//! to; an open connection with a live client and a listener a service manager handed
//! over count as use; thousands of daemon-named listeners cost nobody the serving
//! verdict or the grace period. Listeners that log every connection they get (with the
//! peer's credentials) show whether the reaper connected anywhere.

#![cfg(target_os = "linux")]

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::common::seccomp::{self, Call};
use crate::common::users::*;
use crate::common::*;

const EXIT: Duration = Duration::from_secs(10);

/// Daemon-named listeners in the flood tests (and as many abstract ones): enough that a
/// lookup whose cost grows with them shows it, few enough to keep the suite quick.
const FLOOD: u32 = 2_000;

/// Shell that prints whether a pid is still running (a zombie counts as exited).
const STATE_FN: &str = r#"
state() { s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }
"#;

/// Wait past a threshold of 1s for everything started so far: ages count in whole
/// seconds.
fn grow_old() {
    std::thread::sleep(Duration::from_millis(1200));
}

/// The connections a logging listener (SLEEPER_PEERS) accepted, one `uid=U pid=P` each.
fn peers(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Wait (bounded) until the logging listener writing `log` has accepted a connection of
/// process `pid`.
fn wait_for_peer(log: &Path, pid: u32) {
    let deadline = Instant::now() + EXIT;
    let wanted = format!(" pid={pid}");
    while !peers(log).iter().any(|l| l.ends_with(&wanted)) {
        assert!(Instant::now() < deadline, "{pid} was never accepted");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The connections the logging listener at `socket` got from others than this test,
/// one `uid=U pid=P` each: the test connects last itself and waits until that is
/// logged, so that every connection made before has been (they are accepted in order).
fn connections_besides_ours(socket: &Path, log: &Path) -> Vec<String> {
    let us = std::process::id();
    let _last = UnixStream::connect(socket).unwrap();
    wait_for_peer(log, us);
    let ours = format!(" pid={us}");
    peers(log)
        .into_iter()
        .filter(|l| !l.ends_with(&ours))
        .collect()
}

/// A socket file only its owner may connect to (connecting needs write permission).
fn owner_only(socket: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o700)).unwrap();
}

// Root connects to nothing a judged user could point it at.

/// Bob, judged by root, runs an old process in a user and mount namespace of his own,
/// in which his daemon socket (bound by a process of his outside it) is a bind mount of
/// `target`, a socket he may not connect to. Root's dry run and real run must connect
/// to nothing there: the listener behind `target` writes every connection it gets to
/// `log`.
fn root_never_reaches_through_bobs_mount(sb: &mut Sandbox, target: &Path, log: &Path) {
    let home = sb.dir.path().join("bob");
    let run = user_dir(BOB, &home, ".patina/run");
    let socket = run.join("serve.sock");
    // His listener (a program of another name): the name the reaper looks up.
    let listener = spawn_as(
        sb,
        BOB,
        sleeper(),
        &["listen"],
        &[("SLEEPER_LISTEN", &socket)],
    );
    wait_for_path(&socket);
    // He cannot reach `target`: its directory is closed to him, or the socket is. Root
    // hands him a detached copy of its mount (open_tree) on stdin, as a privileged
    // service could; he attaches it over his socket with move_mount, which needs only
    // CAP_SYS_ADMIN in his own user namespace. A bind mount from a path (or an fd of
    // root's through /proc/self/fd) is refused there: the source must be a mount of his
    // namespace, or a detached one.
    let script = r#"SLEEPER_MOVE_TREE="$1" "$2" || exit 0
exec </dev/null
echo moved=yes
SLEEPER_CONNECT="$1" "$2" 2>/dev/null; echo connect=$?
SLEEPER_LAUNCH="$3" "$3" 1000"#;
    let mut cmd = Command::new(sleeper());
    cmd.env("SLEEPER_TREE", target)
        .arg(which("setpriv"))
        .args([
            format!("--reuid={}", BOB.uid),
            format!("--regid={}", BOB.uid),
            "--clear-groups".into(),
        ])
        .arg(which("unshare"))
        .args(["-Urm", "sh", "-c", script, "sh"])
        .arg(&socket)
        .arg(sleeper())
        .arg(sb.sleeper_path())
        .process_group(0);
    let out = cmd.output().unwrap();
    let text = stdout(&out);
    if !text.contains("moved=yes") {
        skip(&format!(
            "cannot make a user namespace with a mount handed over: {}",
            stderr(&out).trim()
        ));
        return;
    }
    // His own connection is refused (EACCES).
    assert_eq!(field(&text, "connect"), "13", "{text}");
    let old: u32 = text
        .lines()
        .last()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no pid: {text}{}", stderr(&out)));
    sb.track(old);
    grow_old();
    let passwd = passwd_with(&[(BOB, &home), (CAROL, &sb.dir.path().join("carol"))]);
    let judge = ["--user", "bob", "--threshold", "1s"];
    let Some(doc) = run_with_passwd(sb, &passwd, &[&judge[..], &["-n"][..]].concat()) else {
        return;
    };
    assert_eq!(
        connections_besides_ours(target, log),
        Vec::<String>::new(),
        "root's dry run connected through bob's mount"
    );
    // He was judged: his old process is a plain duplicate.
    assert_eq!(outcome(&doc, old), "would_reap", "{doc}");
    let Some(doc) = run_with_passwd(sb, &passwd, &judge) else {
        return;
    };
    assert_eq!(
        connections_besides_ours(target, log),
        Vec::<String>::new(),
        "root's run connected through bob's mount"
    );
    assert_eq!(outcome(&doc, old), "terminated", "{doc}");
    assert!(sb.exits_within(old, EXIT));
    assert!(sb.alive(listener));
}

#[test]
fn root_never_connects_to_a_root_only_service_a_user_mounted_over_his_daemon_socket() {
    if !is_root() {
        skip("needs root to start processes as other users");
        return;
    }
    let mut sb = Sandbox::new();
    // A system service's socket, in a directory only root may enter.
    let private = root_only_dir(sb.dir.path());
    let service = private.join("service.sock");
    let log = private.join("peers");
    let mut cmd = Command::new(sleeper());
    cmd.env("SLEEPER_LISTEN", &service)
        .env("SLEEPER_PEERS", &log);
    sb.spawn(cmd);
    wait_for_path(&service);
    owner_only(&service);
    root_never_reaches_through_bobs_mount(&mut sb, &service, &log);
}

#[test]
fn root_never_connects_to_another_users_daemon_a_user_mounted_over_his_daemon_socket() {
    if !is_root() {
        skip("needs root to start processes as other users");
        return;
    }
    let mut sb = Sandbox::new();
    // Carol's daemon, whose socket only she may connect to.
    let home = sb.dir.path().join("carol");
    let run = user_dir(CAROL, &home, ".patina/run");
    let socket = run.join("serve.sock");
    let log = home.join("peers");
    let program = sb.sleeper_path();
    let daemon = spawn_as(
        &mut sb,
        CAROL,
        &program,
        &["serve"],
        &[("SLEEPER_LISTEN", &socket), ("SLEEPER_PEERS", &log)],
    );
    wait_for_path(&socket);
    owner_only(&socket);
    root_never_reaches_through_bobs_mount(&mut sb, &socket, &log);
    assert!(sb.alive(daemon));
}

// Without the socket diagnostics: keep what may serve, connect to nobody. Each case
// runs in a private network namespace: without them a reaper's table of listeners
// names every daemon socket of its network namespace, the machine's included.

/// The sandbox's sleeper started as an orphan in `net` (as `user` if given), with
/// `args` and `env`.
fn spawn_in(
    sb: &mut Sandbox,
    net: &PrivateNetwork,
    user: Option<User>,
    args: &[&str],
    env: &[(&str, &Path)],
) -> u32 {
    let mut cmd = launcher(&sb.sleeper_path());
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let cmd = match user {
        Some(user) => setpriv_as(user, &cmd),
        None => cmd,
    };
    sb.spawn_launched(net.wrap(&cmd))
}

/// Root judges bob alone (`--user bob`) with the socket diagnostics refused (`errno`
/// for socket(AF_NETLINK)): bob's daemon is kept, his duplicate reaped, and neither
/// bob's socket nor carol's (another user's daemon socket) gets a connection.
fn root_judges_one_user_without_socket_diagnostics(errno: Errno) {
    if !is_root() {
        skip("needs root to start processes as other users");
        return;
    }
    let refused = [(Call::NetlinkSocket, errno)];
    let Some(probe) = seccomp::probe(&refused) else {
        return;
    };
    assert!(
        probe.contains(&("socket-netlink".to_owned(), errno.raw_os_error())),
        "{probe:?}"
    );
    let Some(net) = PrivateNetwork::new() else {
        return;
    };
    let mut sb = Sandbox::new();
    let daemon_of = |sb: &mut Sandbox, user: User| {
        let home = sb.dir.path().join(user.name);
        let socket = user_dir(user, &home, ".patina/run").join("serve.sock");
        let log = home.join("peers");
        let env = [("SLEEPER_LISTEN", &*socket), ("SLEEPER_PEERS", &*log)];
        let pid = spawn_in(sb, &net, Some(user), &["serve"], &env);
        wait_for_path(&socket);
        (pid, home, socket, log)
    };
    let (bobs, bob_home, bob_socket, bob_log) = daemon_of(&mut sb, BOB);
    let (carols, carol_home, carol_socket, carol_log) = daemon_of(&mut sb, CAROL);
    let duplicate = spawn_in(&mut sb, &net, Some(BOB), &["serve"], &[]);
    grow_old();
    let passwd = passwd_with(&[(BOB, &bob_home), (CAROL, &carol_home)]);
    for dry_run in [true, false] {
        let reaper = net.wrap(&seccomp::command(&refused, reaper_bin()).unwrap());
        let mut args = vec!["--user", "bob", "--threshold", "1s"];
        if dry_run {
            args.push("-n");
        }
        let Some(doc) = reaper_with_passwd(&sb, &passwd, Some(reaper), &args) else {
            return;
        };
        assert_eq!(
            connections_besides_ours(&carol_socket, &carol_log),
            Vec::<String>::new(),
            "judging bob, root connected to carol's daemon socket"
        );
        // Without the diagnostics nobody can say who made a listener: no connection.
        assert_eq!(
            connections_besides_ours(&bob_socket, &bob_log),
            Vec::<String>::new(),
            "root connected to bob's daemon socket"
        );
        let e = entry(&doc, bobs).expect("bob's daemon listed");
        assert_eq!(e["outcome"], "skipped", "{e}");
        assert!(
            e["reason"] == "serving" || e["reason"] == "unknown-serving",
            "{e}"
        );
        let reaped = if dry_run { "would_reap" } else { "terminated" };
        assert_eq!(outcome(&doc, duplicate), reaped, "{doc}");
        assert_eq!(outcome(&doc, carols), "absent", "{doc}");
    }
    assert!(sb.exits_within(duplicate, EXIT));
    assert!(sb.alive(bobs) && sb.alive(carols));
}

#[test]
fn root_judging_one_user_where_netlink_is_refused_keeps_his_daemon_and_connects_to_nobody() {
    root_judges_one_user_without_socket_diagnostics(Errno::PERM);
}

#[test]
fn root_judging_one_user_on_a_kernel_without_netlink_keeps_his_daemon_and_connects_to_nobody() {
    root_judges_one_user_without_socket_diagnostics(Errno::NOSYS);
}

#[test]
fn without_socket_diagnostics_an_old_daemon_superseded_by_a_live_one_gets_no_sigterm() {
    let refused = [(Call::NetlinkSocket, Errno::PERM)];
    let mut sb = Sandbox::new();
    let Some(reaper) = seccomp::wrap(&refused, &sb.reaper()) else {
        return;
    };
    let Some(net) = PrivateNetwork::new() else {
        return;
    };
    let run = sb.dir.path().join("home/.patina/run");
    std::fs::create_dir_all(&run).unwrap();
    let log = sb.dir.path().join("peers");
    let daemon = |sb: &mut Sandbox| {
        let env = [("SLEEPER_DAEMON", &*run), ("SLEEPER_PEERS", &*log)];
        let pid = spawn_in(sb, &net, None, &["mother", "start"], &env);
        wait_for_pid_in(&run.join("mother.pid"), pid);
        pid
    };
    let old = daemon(&mut sb);
    // The second start removes the first one's socket file and binds its own.
    let new = daemon(&mut sb);
    let duplicate = spawn_in(&mut sb, &net, None, &["1000"], &[]);
    grow_old();
    let out = net
        .wrap(&reaper)
        .args(["--json", "--threshold", "1s", "--grace", "1s"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stderr(&out)));
    // The live daemon's files are still there: the old one's SIGTERM handler (which
    // removes them, whoever's they are) never ran.
    assert_eq!(read_pid_file(&run.join("mother.pid")), Some(new), "{doc}");
    assert!(run.join("serve.sock").exists(), "{doc}");
    for pid in [old, new] {
        let e = entry(&doc, pid).expect("listed");
        assert_eq!(e["outcome"], "skipped", "{e}");
        assert!(
            e["reason"] == "serving" || e["reason"] == "unknown-serving",
            "{e}"
        );
        assert!(sb.alive(pid));
    }
    // The run did reap what holds no listener, and connected to nobody.
    assert_eq!(outcome(&doc, duplicate), "terminated", "{doc}");
    assert_eq!(
        connections_besides_ours(&run.join("serve.sock"), &log),
        Vec::<String>::new(),
        "the run connected"
    );
}

// Open connections and handed-over listeners are use.

#[test]
fn a_superseded_daemon_with_a_client_mid_request_is_kept_until_the_client_leaves() {
    let mut sb = Sandbox::new();
    let run = sb.dir.path().join("home/.patina/run");
    std::fs::create_dir_all(&run).unwrap();
    let socket = run.join("serve.sock");
    let pid_file = run.join("mother.pid");
    let log = sb.dir.path().join("peers");
    let path = sb.sleeper_path();
    // The first daemon accepts connections and keeps them, answering nothing yet.
    let old = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.args(["mother", "start"])
            .env("SLEEPER_DAEMON", &run)
            .env("SLEEPER_ACCEPT", "1")
            .env("SLEEPER_PEERS", &log);
    });
    wait_for_pid_in(&pid_file, old);
    let mut client = UnixStream::connect(&socket).unwrap();
    wait_for_peer(&log, std::process::id());
    // A second start supersedes it: nobody new can reach it, but the client is there.
    let new = sb.spawn_orphan(&path, &path, |cmd| {
        cmd.args(["mother", "start"]).env("SLEEPER_DAEMON", &run);
    });
    wait_for_pid_in(&pid_file, new);
    // At the default threshold, both seconds old.
    for args in [&["-n"][..], &[]] {
        let (doc, out) = sb.run_json(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let e = entry(&doc, old).expect("listed");
        assert_eq!(e["outcome"], "skipped", "{e}");
        assert_eq!(e["reason"], "connected", "{e}");
        assert_eq!(entry(&doc, new).expect("listed")["reason"], "young");
    }
    assert!(sb.alive(old));
    // The client still waits for its answer: no end of file.
    client.set_nonblocking(true).unwrap();
    let read = client.read(&mut [0u8; 1]);
    assert_eq!(
        read.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "the client's connection was closed"
    );
    drop(client);
    // The first run after the client left ends it at once.
    let (doc, out) = sb.run_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&doc, old).expect("listed");
    assert_eq!(e["outcome"], "killed", "{e}");
    assert_eq!(e["trigger"], "superseded", "{e}");
    assert_eq!(e["first_signal"], "SIGKILL", "{e}");
    assert!(sb.exits_within(old, EXIT));
    assert_eq!(read_pid_file(&pid_file), Some(new));
    assert!(socket.exists());
    assert!(sb.alive(new));
}

#[test]
fn the_preflight_keeps_a_superseded_daemon_with_a_client_mid_request_until_the_client_leaves() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let sb = Sandbox::new();
    // The daemons are named patina (only ever inside the private PID namespace).
    let daemon = sb.link(sleeper(), "patina");
    let client = sleeper().display();
    let daemon = daemon.display();
    let script = format!(
        r#"{STATE_FN}
d=$(mktemp -d); run="$d/.patina/run"; mkdir -p "$run"
export HOME="$d"
until_pid() {{ i=0; while [ "$(cat "$run/mother.pid" 2>/dev/null)" != "$1" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; }}
SLEEPER_DAEMON="$run" SLEEPER_ACCEPT=1 SLEEPER_PEERS="$d/peers" "{daemon}" mother start & A=$!
until_pid $A
SLEEPER_CONNECT="$run/serve.sock" "{client}" & C=$!
i=0; while ! grep -q "pid=$C\$" "$d/peers" 2>/dev/null && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
SLEEPER_DAEMON="$run" "{daemon}" mother start & B=$!
until_pid $B
"{p}" status >/dev/null 2>"$d/err"; echo rc=$?
echo old=$(state $A) client=$(state $C) new=$(state $B)
echo err=$(cat "$d/err")
kill $C; wait $C
"{p}" status >/dev/null 2>"$d/err"; echo rc2=$?
echo old2=$(state $A) new2=$(state $B)
echo pidfile=$(cat "$run/mother.pid")
echo new_pid=$B
echo old_pid=$A
echo socket=$(test -S "$run/serve.sock" && echo yes)
echo err2=$(cat "$d/err")
kill -9 $A $B 2>/dev/null
rm -rf "$d"
"#
    );
    let Some(out) = in_pid_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0", "{text}{}", stderr(&out));
    // At the default threshold, seconds old, superseded, yet a client is mid-request.
    assert!(
        text.contains("old=running client=running new=running"),
        "{text}"
    );
    assert_eq!(field(&text, "err"), "", "{text}");
    // The next start after the client left ends it at once (SIGKILL: the live
    // daemon's files stay).
    assert!(text.contains("old2=exited new2=running"), "{text}");
    assert_eq!(field(&text, "pidfile"), field(&text, "new_pid"), "{text}");
    assert_eq!(field(&text, "socket"), "yes", "{text}");
    let old = field(&text, "old_pid");
    assert!(
        field(&text, "err2").starts_with(&format!(
            "Cleaned up stale patina mother start (PID {old}, "
        )),
        "{text}"
    );
}

#[test]
fn a_daemon_started_on_a_listener_its_service_manager_made_is_serving() {
    let mut sb = Sandbox::new();
    let run = sb.dir.path().join("home/.patina/run");
    std::fs::create_dir_all(&run).unwrap();
    let socket = run.join("serve.sock");
    let log = sb.dir.path().join("peers");
    let pid_file = sb.dir.path().join("daemon.pid");
    // The service manager (a program of another name) binds and listens, keeps its
    // copy, and starts the daemon as an orphan with the listener as fd 3.
    let mut cmd = Command::new(sleeper());
    cmd.env("SLEEPER_ACTIVATE", &socket)
        .env("SLEEPER_PIDFILE", &pid_file)
        .env("SLEEPER_ACCEPT", "1")
        .env("SLEEPER_PEERS", &log)
        .arg(sb.sleeper_path())
        .arg("serve");
    let manager = sb.spawn(cmd);
    let daemon = read_pid(&pid_file);
    sb.track(daemon);
    // Both hold the one listener; clients are answered by the daemon.
    let listener = std::fs::read_link(format!("/proc/{daemon}/fd/3")).unwrap();
    let held_by_manager = std::fs::read_dir(format!("/proc/{manager}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .any(|l| l == listener);
    assert!(held_by_manager, "the manager gave its copy away");
    let client = UnixStream::connect(&socket).unwrap();
    wait_for_peer(&log, std::process::id());
    drop(client);
    grow_old();
    for args in [&["-n"][..], &[]] {
        let (doc, out) = sb.run_json(&[&["--threshold", "1s"][..], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        let e = entry(&doc, daemon).expect("listed");
        assert_eq!(e["outcome"], "skipped", "{e}");
        assert_eq!(e["reason"], "serving", "{e}");
    }
    assert!(sb.alive(daemon) && sb.alive(manager));
}

// Floods of daemon-named listeners, each in a private network namespace: the
// listeners are in no other test's reaper's table.

/// How many listeners one flood process may hold (two descriptors each) under the
/// hard RLIMIT_NOFILE.
fn flood_per_process() -> u32 {
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    let per = u32::try_from(hard.saturating_sub(64) / 2).unwrap_or(u32::MAX);
    assert!(per > 0, "RLIMIT_NOFILE is too low: {hard}");
    per.min(FLOOD)
}

/// Shell that starts processes of the program `flooder` (not matched) holding
/// [`FLOOD`] listeners named `$f/hI/.patina/run/serve.sock` under many homes and as
/// many abstract ones, split over processes as RLIMIT_NOFILE needs; their pids are in
/// `$flooders` once all listen.
fn flood_script(flooder: &Path) -> String {
    let per = flood_per_process();
    let flooder = flooder.display();
    format!(
        r#"flooders=""; i=0
while [ $i -lt {FLOOD} ]; do j=$((i+{per})); [ $j -gt {FLOOD} ] && j={FLOOD}
  SLEEPER_FLOOD="$f" SLEEPER_FLOOD_RANGE=$i..$j SLEEPER_PIDFILE="$f/pid$i" "{flooder}" & flooders="$flooders $!"
  n=0; while [ ! -s "$f/pid$i" ] && [ $n -lt 6000 ]; do sleep 0.01; n=$((n+1)); done
  i=$j
done
"#
    )
}

/// Whether socket names below `dir` for the flood fit in a socket address; else say so.
fn flood_fits(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let longest = dir.join(format!("h{FLOOD}/.patina/run/serve.sock"));
    let fits = longest.as_os_str().as_bytes().len() < 108;
    if !fits {
        skip("the test directory's path is too long for socket names below it");
    }
    fits
}

/// Shell that prints `queued=N`: how many connections wait in the backlogs of the
/// listeners bound below `$f` (`ss`'s Recv-Q of a listener), each one a connection the
/// reaper made to a flood listener; `queued=unknown` without `ss`.
const QUEUED_FN: &str = r#"
queued() { if command -v ss >/dev/null; then
    echo queued=$(ss -xlH | awk -v f="$f/" 'index($5, f) == 1 {q += $3} END {print q + 0}')
  else echo queued=unknown; fi; }
"#;

/// Check the `queued=` line of [`QUEUED_FN`]: no connection to any flood listener.
fn assert_no_flood_connection(text: &str) {
    match field(text, "queued") {
        "unknown" => skip("ss(8) is not installed: connections to the flood not checked"),
        queued => assert_eq!(
            queued, "0",
            "the run connected to that many of the flood's listeners: a lookup that grows \
             with every listener on the machine"
        ),
    }
}

/// Shell that watches process `$1` until it exits and writes `held` to the file `$2`
/// if it is ever seen with a SIGTERM pending (bit 14 of ShdPnd): one it blocks, alive
/// during its grace period.
const WATCH_FN: &str = r#"
watch() { while [ "$(state $1)" = running ]; do
    grep -q '^ShdPnd:.*[4-7c-f][0-9a-f][0-9a-f][0-9a-f]$' /proc/$1/status 2>/dev/null && echo held > "$2"
    sleep 0.002
  done; }
"#;

/// Whether `pid` has a SIGTERM pending (`ShdPnd`, bit 15 - 1): one it blocks.
fn sigterm_pending(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("ShdPnd:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 14) != 0)
}

/// Run `f` while watching `pid`; whether it was seen with a SIGTERM pending (alive: a
/// process that has exited has no signals pending).
fn watching_for_sigterm<T>(pid: u32, f: impl FnOnce() -> T) -> (T, bool) {
    let done = AtomicBool::new(false);
    let seen = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if sigterm_pending(pid) {
                    seen.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let result = f();
        done.store(true, Ordering::Relaxed);
        result
    });
    (result, seen.load(Ordering::Relaxed))
}

/// How many connections wait in the backlogs of the listeners bound below `dir` in
/// `net` (`ss`'s Recv-Q of a listener): each one a connection the reaper made. `None`
/// without `ss`.
fn queued_below(net: &PrivateNetwork, dir: &Path) -> Option<u64> {
    let ss = find_tool("ss")?;
    let out = net.wrap(&Command::new(ss)).arg("-xlH").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let prefix = format!("{}/", dir.display());
    Some(
        stdout(&out)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|w| w.len() > 4 && w[4].starts_with(&prefix))
            .map(|w| w[2].parse::<u64>().unwrap())
            .sum(),
    )
}

/// Amid a flood of listeners held by `owner`'s processes (the caller's if `None`;
/// another user's come with an old process of his under the name, so that they are
/// looked at), a daemon serving its socket and a stale process that blocks SIGTERM,
/// both the caller's, under the sandbox's name and old, are judged by the CLI with
/// `args`: nothing is connected to, the daemon is kept as serving, and the stale one
/// gets SIGTERM, is seen alive with it pending during the grace period, then gets
/// SIGKILL, with no false warning.
fn judged_amid_a_flood(owner: Option<User>, args: &[&str]) {
    let Some(net) = PrivateNetwork::new() else {
        return;
    };
    let mut sb = Sandbox::new();
    let f = sb.dir.path().join("f");
    if !flood_fits(&f) {
        return;
    }
    std::fs::create_dir(&f).unwrap();
    if let Some(user) = owner {
        std::os::unix::fs::chown(&f, Some(user.uid), Some(user.uid)).unwrap();
    }
    let flooder = sb.link(sleeper(), &format!("{}-flood", sb.name));
    let per = flood_per_process();
    let mut pid_files = Vec::new();
    for first in (0..FLOOD).step_by(per as usize) {
        let pid_file = f.join(format!("pid{first}"));
        let mut cmd = Command::new(&flooder);
        cmd.env("SLEEPER_FLOOD", &f)
            .env(
                "SLEEPER_FLOOD_RANGE",
                format!("{first}..{}", (first + per).min(FLOOD)),
            )
            .env("SLEEPER_PIDFILE", &pid_file);
        let cmd = match owner {
            Some(user) => setpriv_as(user, &cmd),
            None => cmd,
        };
        sb.spawn(net.wrap(&cmd));
        pid_files.push(pid_file);
    }
    for pid_file in pid_files {
        // Written once every listener of the process is bound.
        let deadline = Instant::now() + Duration::from_secs(60);
        while read_pid_file(&pid_file).is_none() {
            assert!(Instant::now() < deadline, "the flood never got ready");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let his = owner.map(|user| spawn_in(&mut sb, &net, Some(user), &["serve"], &[]));
    let socket = sb.dir.path().join("home/.patina/run/serve.sock");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let daemon = spawn_in(
        &mut sb,
        &net,
        None,
        &["serve"],
        &[("SLEEPER_LISTEN", &socket)],
    );
    wait_for_path(&socket);
    let mut cmd = launcher(&sb.sleeper_path());
    cmd.arg("1000").env("SLEEPER_BLOCK_TERM", "1");
    let stale = sb.spawn_launched(net.wrap(&cmd));
    grow_old();
    let (out, held) = watching_for_sigterm(stale, || {
        net.wrap(&sb.reaper())
            .args(["--json", "--threshold", "1s", "--grace", "1s"])
            .args(args)
            .output()
            .unwrap()
    });
    match queued_below(&net, &f) {
        Some(queued) => assert_eq!(
            queued, 0,
            "the run connected to that many of the flood's listeners: a lookup that \
             grows with every listener on the machine"
        ),
        None => skip("ss(8) is not installed: connections to the flood not checked"),
    }
    let err = stderr(&out);
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {err}"));
    let e = entry(&doc, daemon).expect("listed");
    assert_eq!(e["outcome"], "skipped", "{e}");
    assert_eq!(e["reason"], "serving", "{e}");
    let e = entry(&doc, stale).expect("listed");
    assert_eq!(e["outcome"], "killed", "{e}\n{err}");
    assert_eq!(e["first_signal"], "SIGTERM", "{e}");
    assert!(!err.contains("uninterruptible"), "{err}");
    assert!(
        held,
        "never seen alive with SIGTERM pending: no grace period"
    );
    assert!(out.status.success(), "{err}");
    assert!(sb.exits_within(stale, EXIT));
    assert!(sb.alive(daemon));
    if let Some(his) = his {
        assert_eq!(outcome(&doc, his), "terminated", "{doc}");
    }
}

#[test]
fn amid_thousands_of_daemon_named_listeners_the_daemon_is_serving_and_a_stale_one_gets_its_grace() {
    judged_amid_a_flood(None, &[]);
}

#[test]
fn amid_thousands_of_another_users_daemon_named_listeners_roots_run_keeps_its_verdicts() {
    if !is_root() {
        skip("needs root to start processes as another user");
        return;
    }
    // A hostile user floods, and runs an old process of the name so that his
    // listeners are looked at.
    judged_amid_a_flood(Some(BOB), &["--all-users"]);
}

#[test]
fn the_preflight_amid_thousands_of_daemon_named_listeners_keeps_the_daemon_and_gives_the_grace() {
    let Some(p) = patina_for_namespace() else {
        return;
    };
    let sb = Sandbox::new();
    let dir = sb.dir.path().join("p");
    if !flood_fits(&dir.join("f")) {
        return;
    }
    let stale = sb.link(sleeper(), "patina");
    let flood = flood_script(&sb.link(sleeper(), "flood"));
    let (stale, dir) = (stale.display(), dir.display());
    // The caller's own listeners, under many temporary homes (a test suite's); its
    // daemon serves, an old patina blocks SIGTERM.
    let script = format!(
        r#"{STATE_FN}{WATCH_FN}{QUEUED_FN}
d="{dir}"; f="$d/f"; mkdir -p "$f"
export HOME="$d"
{flood}
PATINA_REAP_THRESHOLD=off "{p}" mother start 2>/dev/null & D=$!
n=0; while [ ! -S "$d/.patina/run/serve.sock" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done
SLEEPER_BLOCK_TERM=1 "{stale}" 1000 & S=$!
sleep 1.2
watch $S "$d/held" & W=$!
PATINA_REAP_THRESHOLD=1s "{p}" status >/dev/null 2>"$d/err"; echo rc=$?
kill -9 $S 2>/dev/null; wait $W
queued
echo result=held:$(cat "$d/held" 2>/dev/null) daemon:$(state $D)
echo stale_pid=$S
echo err=$(cat "$d/err")
kill $D $flooders
"#
    );
    let Some(out) = in_pid_and_network_namespace(&script) else {
        return;
    };
    let text = stdout(&out);
    assert_eq!(field(&text, "rc"), "0", "{text}{}", stderr(&out));
    let err = field(&text, "err");
    assert!(!err.contains("uninterruptible"), "{text}");
    // Ended within the run, after a grace period.
    let pid = field(&text, "stale_pid");
    assert!(
        err.starts_with(&format!("Cleaned up stale patina 1000 (PID {pid}, ")),
        "{text}"
    );
    assert_eq!(field(&text, "result"), "held:held daemon:running", "{text}");
    assert_no_flood_connection(&text);
}
