//! Shared helpers: every test starts its own processes under a program name of its own,
//! so tests never touch anything they did not start and never disturb each other.

#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub mod seccomp;
pub mod users;

use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The reaper binary under test.
pub fn reaper_bin() -> &'static str {
    env!("CARGO_BIN_EXE_patina-reap")
}

/// A program name no other test (in this run or a concurrent one) uses: at most 15
/// bytes, so it is also the kernel's `comm` of a binary copied under it.
pub fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("pr{:x}x{:x}", std::process::id(), n)
}

/// The build's directory for test files (`target/tmp`), not the system temp directory:
/// the suite leaves nothing behind there.
pub fn test_tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// The test sleeper (`tests/common/sleeper.rs`), built once (see [`rustc_built`]).
pub fn sleeper() -> &'static Path {
    static SLEEPER: OnceLock<PathBuf> = OnceLock::new();
    SLEEPER.get_or_init(|| rustc_built("sleeper", include_str!("sleeper.rs")))
}

/// A test program of one source file with no dependencies, built with rustc into a
/// cache that every uid can read, keyed by its source so concurrent runs share it
/// safely. A user who cannot write the shared cache (it is another's) builds into one
/// of their own. `stem` names the program and its cache.
pub fn rustc_built(stem: &str, source: &str) -> PathBuf {
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut hash);
    let file = format!("{stem}-{:016x}", hash.finish());
    let shared = test_tmp().join(format!("patina-reap-test-{stem}"));
    if shared.join(&file).exists() {
        return shared.join(&file);
    }
    let uid = rustix::process::geteuid().as_raw();
    let own = test_tmp().join(format!("patina-reap-test-{stem}-{uid}"));
    let dir = [shared, own]
        .into_iter()
        .find(|dir| {
            std::fs::create_dir_all(dir).is_ok()
                && std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).is_ok()
        })
        .unwrap_or_else(|| panic!("a directory for the test {stem} under target/tmp"));
    let bin = dir.join(&file);
    if !bin.exists() {
        let src = dir.join(format!("{stem}-{}.rs", std::process::id()));
        std::fs::write(&src, source).unwrap();
        let tmp = dir.join(format!("{stem}-{}.tmp", std::process::id()));
        let status = Command::new("rustc")
            .args(["-O", "--edition", "2021", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| panic!("run rustc to build the test {stem}: {e}"));
        assert!(status.success(), "building the test {stem} failed");
        std::fs::rename(&tmp, &bin).unwrap();
        let _ = std::fs::remove_file(&src);
    }
    bin
}

/// Say why a test (or part of one) checked nothing. Written straight to the process's
/// stderr, past libtest's capture of `eprintln!`, so that it shows in the default
/// `cargo test` output and not only with `--nocapture`.
pub fn skip(why: &str) {
    use std::io::Write;
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}

/// Find a program on the usual paths.
pub fn which(program: &str) -> PathBuf {
    for dir in ["/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} not found")
}

/// A private directory with copies of system programs under this test's unique name,
/// and the processes the test started; all of them are killed (by PID) on drop.
pub struct Sandbox {
    pub name: String,
    pub dir: tempfile::TempDir,
    children: Vec<Child>,
    /// Started through a launcher that exited: (pid, start identity).
    orphans: Vec<(u32, String)>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("patina-reap-test")
            .tempdir_in(test_tmp())
            .expect("tempdir");
        // Readable by other uids, for the tests that run a process as another user.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            name: unique_name(),
            dir,
            children: Vec::new(),
            orphans: Vec::new(),
        }
    }

    /// Link `program` into the sandbox as `as_name`, and return the link. A hard link
    /// gives the process the link's name as comm everywhere (macOS names a process run
    /// through a symlink after its target); a symlink where a hard link is refused
    /// (another filesystem). No copy means no ETXTBSY.
    pub fn link(&self, program: &Path, as_name: &str) -> PathBuf {
        let dest = self.dir.path().join(as_name);
        // Resolved first: a hard link to a symlink (/bin/sh -> dash) would dangle.
        let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_owned());
        if !dest.exists() && std::fs::hard_link(real, &dest).is_err() {
            std::os::unix::fs::symlink(program, &dest).unwrap();
        }
        dest
    }

    /// The sleeper under this sandbox's name: argv[0] is the link's path, comm its name.
    pub fn sleeper_path(&self) -> PathBuf {
        self.link(sleeper(), &self.name.clone())
    }

    /// The sandbox's own temporary directory, where the reapers it starts keep their
    /// lock: `TMPDIR` and `XDG_RUNTIME_DIR` point there.
    pub fn tmp(&self) -> PathBuf {
        let tmp = self.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        tmp
    }

    /// Point `cmd`, and every reaper it starts, at [`Sandbox::tmp`].
    pub fn private_tmp<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let tmp = self.tmp();
        cmd.env("TMPDIR", &tmp).env("XDG_RUNTIME_DIR", &tmp)
    }

    /// Start a process in its own process group (never a terminal's foreground) and keep
    /// it for cleanup. A reaper it starts keeps its lock in [`Sandbox::tmp`].
    pub fn spawn(&mut self, mut cmd: Command) -> u32 {
        self.private_tmp(&mut cmd);
        cmd.stdin(Stdio::null()).process_group(0);
        let child = cmd.spawn().expect("spawn test process");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Start `program` as an orphan, with argv[0] `argv0` and the arguments and
    /// environment `configure` adds: a launcher in its own process group starts it and
    /// exits at once, so it is adopted (a child of this test would be kept `attached`).
    /// Checks that the adopter is one the reaper recognises, and returns its pid.
    pub fn spawn_orphan(
        &mut self,
        program: &Path,
        argv0: impl AsRef<std::ffi::OsStr>,
        configure: impl FnOnce(&mut Command),
    ) -> u32 {
        let mut cmd = orphan_command(program);
        cmd.arg0(argv0);
        configure(&mut cmd);
        self.spawn_launched(cmd)
    }

    /// Run a launcher made by [`orphan_command`] and return the orphan's pid, checked
    /// to be adopted; it is killed (by pid and start time) on drop.
    pub fn spawn_launched(&mut self, mut cmd: Command) -> u32 {
        cmd.stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0);
        let out = cmd.output().expect("run the launcher");
        assert!(out.status.success(), "launching an orphan failed: {cmd:?}");
        let pid: u32 = stdout(&out)
            .trim()
            .parse()
            .expect("the launcher prints a pid");
        self.track(pid);
        pid
    }

    /// Take `pid`, an orphan this test started some other way (a launcher that lives
    /// on), into the sandbox: checked to be adopted, killed (by pid and start time) on
    /// drop.
    pub fn track(&mut self, pid: u32) {
        let id = identity(pid).expect("the orphan is gone at once");
        self.orphans.push((pid, id));
        assert_adopted(pid);
    }

    /// A sleeper named exactly this sandbox's name; an orphan.
    pub fn spawn_sleeper(&mut self) -> u32 {
        let path = self.sleeper_path();
        self.spawn_orphan(&path, &path, |cmd| {
            cmd.arg("1000");
        })
    }

    /// The sleeper with exactly this argv (like `exec -a argv0 ... args`); an orphan.
    pub fn spawn_with_argv0(&mut self, argv0: &str, args: &[&str]) -> u32 {
        self.spawn_orphan(sleeper(), argv0, |cmd| {
            cmd.args(args);
        })
    }

    /// A sleeper under this name that ignores SIGTERM; an orphan.
    pub fn spawn_term_ignorer(&mut self) -> u32 {
        let path = self.sleeper_path();
        self.spawn_orphan(&path, &path, |cmd| {
            cmd.arg("1000").env("SLEEPER_IGNORE_TERM", "1");
        })
    }

    /// A zombie under this name: started, exited at once, and never waited for.
    pub fn spawn_zombie(&mut self) -> u32 {
        let mut cmd = Command::new(self.sleeper_path());
        cmd.env("SLEEPER_EXIT", "1");
        let pid = self.spawn(cmd);
        let deadline = Instant::now() + Duration::from_secs(10);
        while state(pid) != Some('Z') {
            assert!(Instant::now() < deadline, "no zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
        pid
    }

    /// Whether our child or orphan `pid` is still running (an exited child is
    /// collected; an exited orphan is gone or a zombie).
    pub fn alive(&mut self, pid: u32) -> bool {
        if let Some((_, id)) = self.orphans.iter().find(|o| o.0 == pid) {
            return is_running(pid, id);
        }
        let child = self
            .children
            .iter_mut()
            .find(|c| c.id() == pid)
            .expect("not a child of this test");
        matches!(child.try_wait(), Ok(None))
    }

    /// Wait (bounded) for our child to exit; true if it did.
    pub fn exits_within(&mut self, pid: u32, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.alive(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// The reaper, told to match this sandbox's name only, with a clean environment for
    /// its own variables (`PATINA_REAP_BACKEND` is passed through, so the whole suite
    /// can run against either backend) and its lock in [`Sandbox::tmp`].
    pub fn reaper(&self) -> Command {
        let mut cmd = Command::new(reaper_bin());
        self.private_tmp(&mut cmd);
        cmd.env_remove("PATINA_REAP_THRESHOLD")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("FORCE_COLOR")
            .args(["--name", &self.name]);
        cmd
    }

    /// Run the reaper with `args` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.reaper().args(args).output().expect("run patina-reap")
    }

    /// Run the reaper with `--json` and `args`; parse the document.
    pub fn run_json(&self, args: &[&str]) -> (serde_json::Value, Output) {
        let out = self.reaper().arg("--json").args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let doc = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {text}\nstderr: {}", stderr(&out)));
        (doc, out)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (pid, id) in &self.orphans {
            if is_running(*pid, id) {
                kill_pid(*pid);
            }
        }
    }
}

/// A command that starts `program` as an orphan: add arguments, environment, `arg0`
/// (it becomes the orphan's argv[0]; the program path by default), `uid`... as on the
/// program's own command, then run it with [`Sandbox::spawn_launched`].
pub fn orphan_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(sleeper());
    cmd.arg0(program.as_ref())
        .env("SLEEPER_LAUNCH", program.as_ref());
    cmd
}

/// SIGKILL to `pid` (the caller has checked it is the process it started).
pub fn kill_pid(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// What tells a process from a later one with its pid: its start time (clock ticks
/// from /proc on Linux, `ps`'s lstart elsewhere).
pub fn identity(pid: u32) -> Option<String> {
    if cfg!(target_os = "linux") {
        return proc_state_and_start(pid).map(|(_, start)| start.to_string());
    }
    let out = Command::new(which("ps"))
        .args(["-o", "lstart=", "-p", &pid.to_string()])
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    let text = stdout(&out).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Whether the process `pid` with identity `id` is still running (not a zombie).
pub fn is_running(pid: u32, id: &str) -> bool {
    identity(pid).as_deref() == Some(id) && state(pid).is_some_and(|s| s != 'Z')
}

/// The parent pid of `pid` (via `ps`).
pub fn ppid_of(pid: u32) -> Option<u32> {
    let out = Command::new(which("ps"))
        .args(["-o", "ppid=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    stdout(&out).trim().parse().ok()
}

/// Panics unless `pid` was adopted by a parent the reaper counts as an adopter: PID 1
/// or the user's service manager (`systemd --user`). Another child subreaper above the
/// test run would adopt the test's orphans and keep them `attached`.
pub fn assert_adopted(pid: u32) {
    let ppid = ppid_of(pid).expect("the orphan is gone");
    if ppid == 1 {
        return;
    }
    let args = args_of(ppid).unwrap_or_default();
    let mut words = args.split_whitespace();
    let program = words.next().unwrap_or_default();
    assert!(
        program.ends_with("/lib/systemd/systemd") && words.any(|w| w == "--user"),
        "orphans of this test run are adopted by {args} (PID {ppid}), a child subreaper \
         the reaper does not count as an adopter: run the tests outside it"
    );
}

/// Wait (bounded) until something is at `path` (a symlink counts).
pub fn wait_for_path(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait (bounded) until `path` holds a pid, and return it.
pub fn read_pid(path: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The command line of `pid` as `ps` shows it.
pub fn args_of(pid: u32) -> Option<String> {
    let out = Command::new(which("ps"))
        .args(["-o", "args=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = stdout(&out).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON entry for `pid`, if the report has one.
pub fn entry(doc: &serde_json::Value, pid: u32) -> Option<&serde_json::Value> {
    doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
}

/// The outcome reported for `pid` ("absent" if not listed).
pub fn outcome(doc: &serde_json::Value, pid: u32) -> String {
    entry(doc, pid).map_or("absent".into(), |p| {
        p["outcome"].as_str().unwrap().to_owned()
    })
}

/// The one-letter state of a process (via `ps`, so it works on every Unix).
pub fn state(pid: u32) -> Option<char> {
    let out = Command::new(which("ps"))
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().chars().next()
}

/// Wait until `pid` has exec'd a program whose argv[0] is `argv0`.
pub fn wait_for_argv0(pid: u32, argv0: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(which("ps"))
            .args(["-ww", "-o", "args=", "-p", &pid.to_string()])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).starts_with(argv0) {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} never became {argv0}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the backend under test sees each process's exact argument vector: `/proc`
/// does; `ps` shows only the space-joined command line, non-printable bytes replaced.
pub fn exact_argv() -> bool {
    cfg!(target_os = "linux") && std::env::var("PATINA_REAP_BACKEND").map_or(true, |b| b != "ps")
}

/// Whether the tests run as root (needed for other-uid and namespace tests).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `examples/patina.rs` built (once) with the same profile as the tests: a real
/// process named `patina` whose `main` calls `ensure_clean_state()`.
pub fn example_patina() -> &'static Path {
    static EXAMPLE: OnceLock<PathBuf> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "patina", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .status()
            .expect("run cargo to build examples/patina.rs");
        assert!(status.success(), "building examples/patina.rs failed");
        let bin = Path::new(reaper_bin())
            .with_file_name("examples")
            .join("patina");
        assert!(bin.exists(), "{} missing", bin.display());
        bin
    })
}

/// unshare(1), where a private PID namespace can be made with it; else why not.
fn pid_namespace_tool() -> Result<&'static str, &'static str> {
    static TOOL: OnceLock<Result<&'static str, &'static str>> = OnceLock::new();
    *TOOL.get_or_init(|| {
        let unshare = ["/usr/bin/unshare", "/bin/unshare"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("unshare(1) is not installed")?;
        let probe = Command::new(unshare)
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .stderr(Stdio::null())
            .status();
        match probe {
            Ok(s) if s.success() => Ok(unshare),
            _ => Err("cannot create a PID namespace here (needs root)"),
        }
    })
}

/// [`example_patina`] for a test that runs it in a private PID namespace; `None` (with
/// the reason printed) where no such namespace can be made, before anything is built.
pub fn patina_for_namespace() -> Option<String> {
    if let Err(why) = pid_namespace_tool() {
        skip(why);
        return None;
    }
    Some(example_patina().display().to_string())
}

/// Run `script` with `sh` as PID 1 of a private PID namespace with its own /proc, where
/// the default name `patina` can be used without any risk to the machine's processes.
/// `None` (with the reason printed) where such a namespace cannot be made (not root).
pub fn in_pid_namespace(script: &str) -> Option<Output> {
    in_pid_namespace_with(&[], script)
}

/// [`in_pid_namespace`], also in a private network namespace: the Unix sockets made
/// there are in no other reaper's table of listeners.
pub fn in_pid_and_network_namespace(script: &str) -> Option<Output> {
    in_pid_namespace_with(&["--net"], script)
}

fn in_pid_namespace_with(more: &[&str], script: &str) -> Option<Output> {
    let unshare = match pid_namespace_tool() {
        Ok(unshare) => unshare,
        Err(why) => {
            skip(why);
            return None;
        }
    };
    // A private temporary directory: the reap lock lives there, and tests in other
    // namespaces use the same name, patina.
    let tmp = tempfile::tempdir_in(test_tmp()).unwrap();
    let out = Command::new(unshare)
        .args(["--pid", "--fork", "--mount-proc"])
        .args(more)
        .args(["sh", "-c", script])
        .env_remove("PATINA_REAP_THRESHOLD")
        .env("TMPDIR", tmp.path())
        .env("XDG_RUNTIME_DIR", tmp.path())
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .expect("run unshare");
    Some(out)
}

/// Shell functions for the scripts of [`in_patina_namespace`]: `state PID` (running or
/// exited; a zombie has exited), `ppid PID`, `wait_sock PATH`, `proof SECS` (the path of
/// the preflight's proof, if it was made for that threshold), `proofs` (how many proof
/// files there are) and `forge_proof FILE` (makes the proof hold a day longer than it
/// should, so that a start that takes it is told from one that scans).
pub const NAMESPACE_SHELL: &str = r#"
state() { s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null); case "$s" in ""|Z|X) echo exited;; *) echo running;; esac; }
ppid() { sed 's/.*) //' /proc/$1/stat | cut -d' ' -f2; }
wait_sock() { i=0; while [ ! -S "$1" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; }
proof() { for f in "$TMPDIR"/*.proof; do grep -qx "threshold $1" "$f" 2>/dev/null && echo "$f"; done | head -n 1; }
proofs() { ls "$TMPDIR" | grep -c '\.proof$'; }
forge_proof() { u=$(sed -n 's/^until //p' "$1"); sed -i "s/^until .*/until $((u + 86400))/" "$1"; }
"#;

/// Run `body` (after [`NAMESPACE_SHELL`]) in a private PID namespace, with `$P` the
/// stand-in patina ([`example_patina`]), `$R` the reaper, `$SLEEPER` the test sleeper and
/// `$d` a scratch directory that is also `HOME`; its stdout and then stderr, or `None`
/// (with the reason printed) where that cannot be done.
pub fn in_patina_namespace(body: &str) -> Option<String> {
    let p = patina_for_namespace()?;
    let script = format!(
        "{NAMESPACE_SHELL}\nP=\"{p}\"\nR=\"{}\"\nSLEEPER=\"{}\"\n\
         d=$(mktemp -d); export HOME=\"$d\"\n{body}\nrm -rf \"$d\"\n",
        reaper_bin(),
        sleeper().display()
    );
    let out = in_pid_namespace(&script)?;
    Some(stdout(&out) + &stderr(&out))
}

/// A private network namespace, held open by a process of the test's (killed on drop):
/// the Unix sockets made in it are in no other reaper's table of listeners (the
/// kernel's socket diagnostics and /proc/net/unix are per network namespace), and a
/// reaper run in it sees none of the machine's. Root makes it as it is; another user
/// inside a user namespace that maps only his own uid (the same uid, no privilege).
pub struct PrivateNetwork {
    holder: Child,
    nsenter: PathBuf,
    enter: &'static [&'static str],
}

impl PrivateNetwork {
    /// `None` (with the reason printed) where such a namespace cannot be made.
    pub fn new() -> Option<Self> {
        let (Some(unshare), Some(nsenter)) = (find_tool("unshare"), find_tool("nsenter")) else {
            skip("unshare(1) or nsenter(1) is not installed");
            return None;
        };
        let (make, enter): (&[&str], &'static [&'static str]) = if is_root() {
            (&["--net"], &["--net"])
        } else {
            (
                &["--user", "--map-current-user", "--net"],
                &["--user", "--net", "--preserve-credentials"],
            )
        };
        let mut holder = Command::new(unshare)
            .args(make)
            .arg(sleeper())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("run unshare");
        // Ready once the sleeper runs: unshare(1) has made the namespaces (and the
        // user namespace's uid map) before it execs it.
        use std::os::unix::ffi::OsStrExt;
        let deadline = Instant::now() + Duration::from_secs(10);
        while argv0_of(holder.id()).as_deref() != Some(sleeper().as_os_str().as_bytes()) {
            if !matches!(holder.try_wait(), Ok(None)) {
                skip("cannot make a private network namespace here");
                return None;
            }
            assert!(Instant::now() < deadline, "the namespace never got ready");
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(Self {
            holder,
            nsenter,
            enter,
        })
    }

    /// `cmd` (its program, arguments, environment changes and directory) run in the
    /// namespace. What a `Command` does not tell back (`arg0`, uid, stdio, process
    /// group) is not carried over: set those on the result.
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut wrapped = Command::new(&self.nsenter);
        wrapped
            .arg(format!("--target={}", self.holder.id()))
            .args(self.enter)
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        carry_environment(cmd, &mut wrapped);
        wrapped
    }
}

impl Drop for PrivateNetwork {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Give `to` the environment changes and directory of `from`.
pub fn carry_environment(from: &Command, to: &mut Command) {
    for (key, value) in from.get_envs() {
        match value {
            Some(value) => to.env(key, value),
            None => to.env_remove(key),
        };
    }
    if let Some(dir) = from.get_current_dir() {
        to.current_dir(dir);
    }
}

/// A command that starts the sleeper link `program` (argv[0] its path) as an orphan and
/// prints its pid, for [`Sandbox::spawn_launched`]: [`orphan_command`] without `arg0`,
/// so that it can be wrapped (in a namespace, as another user).
pub fn launcher(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("SLEEPER_LAUNCH", program);
    cmd
}

/// The `key=value` lines a namespace script printed.
pub fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
}

/// Fields of `/proc/PID/stat` after the comm: `(state, start ticks)`, or `None` if the
/// process is gone (Linux only).
pub fn proc_state_and_start(pid: u32) -> Option<(char, u64)> {
    let raw = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = raw.iter().rposition(|&b| b == b')')?;
    let rest = String::from_utf8_lossy(&raw[close + 2..]).into_owned();
    let fields: Vec<&str> = rest.split(' ').collect();
    Some((fields[0].chars().next()?, fields.get(19)?.parse().ok()?))
}

/// Whether the process that was `pid` with start time `start` has exited (gone, a
/// zombie, or its PID reused). For processes that are not our children.
pub fn has_exited(pid: u32, start: u64) -> bool {
    match proc_state_and_start(pid) {
        Some((state, now)) => now != start || matches!(state, 'Z' | 'X'),
        None => true,
    }
}

/// Wait (bounded) until the process `(pid, start)` has exited; true if it did.
pub fn exited_within(pid: u32, start: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if has_exited(pid, start) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The raw argv[0] of a process, if it can be read.
pub fn argv0_of(pid: u32) -> Option<Vec<u8>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(raw.split(|&b| b == 0).next().unwrap_or_default().to_vec())
}

/// Kills, on drop, every process whose argv[0] starts with `prefix` (a test's private
/// directory): the grandchildren a test cannot hold a `Child` for, such as the children
/// of a forking sleeper. Only processes started from that directory can match.
pub struct Strays {
    prefix: Vec<u8>,
}

impl Strays {
    pub fn under(dir: &Path) -> Self {
        use std::os::unix::ffi::OsStrExt;
        let mut prefix = dir.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        Self { prefix }
    }

    /// The live processes started from the directory.
    pub fn pids(&self) -> Vec<u32> {
        let me = std::process::id();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            if argv0_of(pid).is_some_and(|a| a.starts_with(&self.prefix)) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Strays {
    fn drop(&mut self) {
        for pid in self.pids() {
            if let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Whether `text` holds a character that could drive a terminal or hide text: C0
/// controls other than the newline, DEL, C1 controls, any Unicode format character (Cf:
/// bidi controls, zero-width and invisible characters, tags...) or U+2028/U+2029.
pub fn has_terminal_control(text: &str) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    text.chars().any(|c| {
        (c.is_control() && c != '\n')
            || c.general_category() == GeneralCategory::Format
            || matches!(c, '\u{2028}' | '\u{2029}')
    })
}

/// A tool of the system by its name, looked for where Debian and others install it;
/// `None` where it is not installed.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// The pid a pid file holds, if any.
pub fn read_pid_file(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Wait (bounded) until the pid file `path` holds `pid`.
pub fn wait_for_pid_in(path: &Path, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_pid_file(path) != Some(pid) {
        assert!(
            Instant::now() < deadline,
            "{} never held {pid}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A directory's modification and change times, in nanoseconds: any file made, linked
/// or removed in it changes them.
pub fn dir_times(dir: &Path) -> (i64, i64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir).unwrap();
    (m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())
}

/// A command that runs `script` with `sh` (its arguments to be added) as root in a
/// private mount namespace, where mounts are seen by nothing else; `None` (with the
/// reason printed) where that cannot be done.
pub fn in_private_mounts(script: &str) -> Option<Command> {
    if !is_root() {
        skip("needs root to mount in a private mount namespace");
        return None;
    }
    let Some(unshare) = find_tool("unshare") else {
        skip("unshare(1) is not installed");
        return None;
    };
    let mut cmd = Command::new(unshare);
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .stdin(Stdio::null());
    Some(cmd)
}
