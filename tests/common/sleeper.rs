// A test process that does nothing until a signal ends it, whatever its argv. Built with
// rustc by the tests (no dependencies); behaviour is chosen by environment variables so
// that argv stays exactly what a test asks for:
//   SLEEPER_IGNORE_TERM=1  ignore SIGTERM (the disposition survives exec)
//   SLEEPER_BLOCK_TERM=1   block SIGTERM, so that one sent stays pending where
//                          /proc/PID/status shows it (ShdPnd; Linux)
//   SLEEPER_COMM=NAME      set the kernel's comm with prctl(PR_SET_NAME) (Linux)
//   SLEEPER_EXIT=1         exit at once (to leave a zombie behind)
//   SLEEPER_FORK=1         fork a child that sleeps too, then keep sleeping
//   SLEEPER_EMPTY_ARGV=P   exec the program at path P with an empty argv (argc 0)
//   SLEEPER_FORK_ON_TERM=1 on SIGTERM, fork a child (which keeps sleeping, SIGTERM back
//                          to default) and exit
//   SLEEPER_LAUNCH=PATH    start PATH with this argv (argv[0] too) and the rest of the
//                          environment, print its pid and exit at once: the new process
//                          is an orphan, adopted by PID 1 or the nearest subreaper
//   SLEEPER_LISTEN=PATH    listen on a Unix socket bound at PATH (never accepting)
//   SLEEPER_FDS=N          raise the soft RLIMIT_NOFILE to the hard one and hold N
//                          more descriptors open (on /dev/null), no socket among them
//   SLEEPER_DAEMON=DIR     behave as patina's daemon does with its files: remove
//                          DIR/serve.sock if it is there, bind and listen on it, write
//                          its pid to DIR/mother.pid; on SIGTERM remove both (whoever's
//                          they are by then) and exit 0
//   SLEEPER_SUBREAPER=1    become a child subreaper (Linux); with SLEEPER_ADOPT=PATH,
//                          then start PATH through a launcher so that it is adopted,
//                          and write its pid to the file SLEEPER_PIDFILE
//   SLEEPER_NODUMP=1       make itself non-dumpable (prctl PR_SET_DUMPABLE 0, Linux)
//   SLEEPER_SPAWN=CMD      run `sh -c CMD` (without the SLEEPER_ variables), wait for it
//                          and exit with its status
//   SLEEPER_THREAD_EXIT=1  start a thread that sleeps, then end the main thread alone
//                          (the leader shows state Z while the process lives on; Linux)
//   SLEEPER_ACCEPT=1       with SLEEPER_LISTEN, SLEEPER_DAEMON or a listener handed over
//                          as fd 3 (LISTEN_FDS=1 and LISTEN_PID its pid, as a service
//                          manager hands it over): accept every connection and keep it
//                          open, reading nothing and answering nothing
//   SLEEPER_PEERS=FILE     with SLEEPER_LISTEN, SLEEPER_DAEMON or a handed-over listener:
//                          accept every connection and append `uid=U pid=P`, its peer's
//                          credentials (SO_PEERCRED; Linux), as a line to FILE; the
//                          connection is then closed, or kept with SLEEPER_ACCEPT
//   SLEEPER_CONNECT=PATH   connect to the Unix socket at PATH and hold the connection,
//                          sending nothing; exit 0 when the other end closes it, or with
//                          the errno as the status if the connection fails
//   SLEEPER_ACTIVATE=PATH  socket activation, as a service manager does it: bind and
//                          listen on PATH, start argv[1] (with argv[1..]) as an orphan,
//                          through a child that exits at once, with the listener as fd 3,
//                          LISTEN_FDS=1 and LISTEN_PID its pid; write its pid to the file
//                          SLEEPER_PIDFILE, and keep sleeping with its own copy of the
//                          listener (never accepting)
//   SLEEPER_FLOOD=DIR      with SLEEPER_FLOOD_RANGE=A..B: raise the soft RLIMIT_NOFILE to
//                          the hard one, and for each I from A to B-1 listen on
//                          DIR/hI/.patina/run/serve.sock (directories made as needed) and
//                          on an abstract socket (Linux); then write its pid to the file
//                          SLEEPER_PIDFILE
//   SLEEPER_TREE=SRC       open a detached copy of the mount at SRC (open_tree with
//                          OPEN_TREE_CLONE; needs root) and exec argv[1] (with argv[1..])
//                          with it as stdin (Linux)
//   SLEEPER_MOVE_TREE=PATH attach the detached mount on stdin at PATH (move_mount) and
//                          exit: a bind mount, in its own mount namespace, of a file it
//                          may have no path to (Linux)
use std::ffi::CString;

extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
    fn pause() -> i32;
    fn fork() -> i32;
    fn unlink(path: *const i8) -> i32;
    fn getrlimit(resource: i32, limit: *mut [u64; 2]) -> i32;
    fn setrlimit(resource: i32, limit: *const [u64; 2]) -> i32;
    fn _exit(code: i32) -> !;
    fn execve(path: *const i8, argv: *const *const i8, envp: *const *const i8) -> i32;
    fn dup2(old: i32, new: i32) -> i32;
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn getpid() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    #[cfg(target_os = "linux")]
    fn getsockopt(fd: i32, level: i32, name: i32, value: *mut u32, len: *mut u32) -> i32;
    #[cfg(target_os = "linux")]
    fn syscall(number: i64, ...) -> i64;
    #[cfg(target_os = "linux")]
    fn sigprocmask(how: i32, set: *const u64, old: *mut u64) -> i32;
    #[cfg(target_os = "linux")]
    fn prctl(option: i32, arg2: *const i8, arg3: usize, arg4: usize, arg5: usize) -> i32;
}

extern "C" fn fork_and_exit(_sig: i32) {
    // fork, _exit and signal are async-signal-safe.
    unsafe {
        if fork() != 0 {
            _exit(0);
        }
        signal(15, 0);
    }
}

/// The files a SLEEPER_DAEMON removes on SIGTERM, set before the handler is installed.
static DAEMON_FILES: std::sync::OnceLock<[CString; 2]> = std::sync::OnceLock::new();

extern "C" fn remove_files_and_exit(_sig: i32) {
    // unlink and _exit are async-signal-safe; the paths were made before the handler.
    if let Some(files) = DAEMON_FILES.get() {
        for file in files {
            unsafe { unlink(file.as_ptr()) };
        }
    }
    unsafe { _exit(0) };
}

fn daemon(dir: std::ffi::OsString) -> ! {
    use std::os::unix::ffi::OsStrExt;
    let dir = std::path::PathBuf::from(dir);
    let socket = dir.join("serve.sock");
    let pid_file = dir.join("mother.pid");
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::fs::write(&pid_file, std::process::id().to_string()).unwrap();
    let c = |p: &std::path::Path| CString::new(p.as_os_str().as_bytes()).unwrap();
    let _ = DAEMON_FILES.set([c(&socket), c(&pid_file)]);
    unsafe { signal(15, remove_files_and_exit as *const () as usize) };
    // Connections are accepted and closed, so a test can tell who is reached (kept open
    // with SLEEPER_ACCEPT).
    serve_connections(&listener)
}

/// Accept connections on `listener` for ever: each one's peer is logged to the file
/// SLEEPER_PEERS if set, and the connection is kept open with SLEEPER_ACCEPT, else
/// closed.
fn serve_connections(listener: &std::os::unix::net::UnixListener) -> ! {
    let keep = std::env::var_os("SLEEPER_ACCEPT").is_some();
    let log = std::env::var_os("SLEEPER_PEERS");
    let mut open = Vec::new();
    loop {
        let Ok(stream) = listener.accept().map(|(s, _)| s) else {
            continue;
        };
        if let Some(log) = &log {
            use std::io::Write;
            let line = format!("{}\n", peer_of(&stream));
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            file.write_all(line.as_bytes()).unwrap();
        }
        if keep {
            open.push(stream);
        }
    }
}

/// `uid=U pid=P` of the process at the other end of a connection (pid 0: not in our PID
/// namespace).
fn peer_of(stream: &std::os::unix::net::UnixStream) -> String {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }; SOL_SOCKET 1, SO_PEERCRED 17.
        let mut cred = [0u32; 3];
        let mut len = 12u32;
        if unsafe { getsockopt(stream.as_raw_fd(), 1, 17, cred.as_mut_ptr(), &mut len) } == 0 {
            return format!("uid={} pid={}", cred[1], cred[0]);
        }
    }
    let _ = stream;
    "uid=? pid=?".to_owned()
}

/// The connection of a client that sends nothing and waits for the other end to close.
fn connect(path: std::ffi::OsString) -> ! {
    use std::io::Read;
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("connect failed: {e}");
            std::process::exit(e.raw_os_error().unwrap_or(1))
        }
    };
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => std::process::exit(0),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => std::process::exit(0),
        }
    }
}

fn cstring(s: &std::ffi::OsStr) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(s.as_bytes()).unwrap()
}

/// Socket activation: the listener made here, the daemon started with it as fd 3.
fn activate(path: std::ffi::OsString) -> ! {
    use std::os::unix::io::AsRawFd;
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let pid_file = std::env::var_os("SLEEPER_PIDFILE").expect("SLEEPER_PIDFILE");
    let argv: Vec<CString> = std::env::args_os().skip(1).map(|a| cstring(&a)).collect();
    assert!(!argv.is_empty(), "SLEEPER_ACTIVATE: no program to start");
    let mut argv_ptrs: Vec<*const i8> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| {
            !matches!(
                k.to_str(),
                Some("SLEEPER_ACTIVATE" | "SLEEPER_PIDFILE" | "LISTEN_FDS" | "LISTEN_PID")
            )
        })
        .map(|(k, v)| cstring(&std::ffi::OsString::from_iter([k, "=".into(), v])))
        .collect();
    env.push(CString::new("LISTEN_FDS=1").unwrap());
    let fd = listener.as_raw_fd();
    // Single-threaded: allocating between fork and exec is safe here.
    unsafe {
        let launcher = fork();
        if launcher == 0 {
            let daemon = fork();
            if daemon == 0 {
                // F_SETFD 0: without FD_CLOEXEC (dup2 onto itself keeps the flag).
                dup2(fd, 3);
                fcntl(3, 2, 0);
                env.push(CString::new(format!("LISTEN_PID={}", getpid())).unwrap());
                let mut envp: Vec<*const i8> = env.iter().map(|e| e.as_ptr()).collect();
                envp.push(std::ptr::null());
                execve(argv_ptrs[0], argv_ptrs.as_ptr(), envp.as_ptr());
                _exit(127);
            }
            let written = daemon > 0 && std::fs::write(&pid_file, daemon.to_string()).is_ok();
            _exit(if written { 0 } else { 1 });
        }
        let mut status = 0;
        waitpid(launcher, &mut status, 0);
        assert!(status == 0, "SLEEPER_ACTIVATE: starting the daemon failed");
    }
    let _kept = listener;
    loop {
        unsafe { pause() };
    }
}

/// Many daemon-named listeners (and as many abstract ones) in one process.
fn flood(dir: std::ffi::OsString) -> ! {
    raise_nofile();
    let range = std::env::var("SLEEPER_FLOOD_RANGE").expect("SLEEPER_FLOOD_RANGE=A..B");
    let (a, b) = range.split_once("..").expect("SLEEPER_FLOOD_RANGE=A..B");
    let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
    let dir = std::path::PathBuf::from(dir);
    let mut held = Vec::new();
    for i in a..b {
        let run = dir.join(format!("h{i}/.patina/run"));
        std::fs::create_dir_all(&run).unwrap();
        held.push(std::os::unix::net::UnixListener::bind(run.join("serve.sock")).unwrap());
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("sleeper-flood-{}-{i}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
            held.push(std::os::unix::net::UnixListener::bind_addr(&addr).unwrap());
        }
    }
    let pid_file = std::env::var_os("SLEEPER_PIDFILE").expect("SLEEPER_PIDFILE");
    std::fs::write(pid_file, std::process::id().to_string()).unwrap();
    loop {
        unsafe { pause() };
    }
}

/// The soft RLIMIT_NOFILE raised to the hard one.
fn raise_nofile() {
    // RLIMIT_NOFILE is 7 on Linux, 8 on the BSDs and macOS.
    let resource = if cfg!(target_os = "linux") { 7 } else { 8 };
    let mut limit = [0u64; 2];
    unsafe {
        getrlimit(resource, &mut limit);
        limit[0] = limit[1];
        setrlimit(resource, &limit);
    }
}

/// A detached copy of the mount at `src`, handed to argv[1..] as stdin.
#[cfg(target_os = "linux")]
fn open_tree(src: std::ffi::OsString) -> ! {
    use std::os::unix::io::FromRawFd;
    use std::os::unix::process::CommandExt;
    let path = cstring(&src);
    // open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC): 428 on x86_64 and
    // aarch64 alike.
    let fd = unsafe { syscall(428, -100i64, path.as_ptr(), 1i64 | 0o2000000) };
    if fd < 0 {
        eprintln!("open_tree failed: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let tree = unsafe { std::os::unix::io::OwnedFd::from_raw_fd(fd as i32) };
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("SLEEPER_TREE: no program to run");
    let e = std::process::Command::new(program)
        .args(args)
        .env_remove("SLEEPER_TREE")
        .stdin(tree)
        .exec();
    eprintln!("exec failed: {e}");
    std::process::exit(127)
}

/// The detached mount on stdin attached at `target`.
#[cfg(target_os = "linux")]
fn move_tree(target: std::ffi::OsString) -> ! {
    let target = cstring(&target);
    // move_mount(0, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH): 429.
    let done = unsafe { syscall(429, 0i64, c"".as_ptr(), -100i64, target.as_ptr(), 4i64) };
    if done != 0 {
        eprintln!("move_mount failed: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    std::process::exit(0)
}

fn exec_with_empty_argv(path: std::ffi::OsString) -> ! {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(path.as_bytes()).unwrap();
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != "SLEEPER_EMPTY_ARGV")
        .map(|(k, v)| CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).unwrap())
        .collect();
    let mut envp: Vec<*const i8> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let argv: [*const i8; 1] = [std::ptr::null()];
    unsafe { execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    std::process::exit(127);
}

fn launch(program: std::ffi::OsString) -> ! {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let args: Vec<_> = args.collect();
    let mut tries = 0;
    let child = loop {
        let child = Command::new(&program)
            .arg0(&argv0)
            .args(&args)
            .env_remove("SLEEPER_LAUNCH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        // ETXTBSY: a file just written is still open for writing in a process another
        // thread of the test forked; that ends when the fork execs.
        match child {
            Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match child {
        Ok(child) => {
            println!("{}", child.id());
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("launch failed: {e}");
            std::process::exit(1)
        }
    }
}

fn main() {
    if let Some(program) = std::env::var_os("SLEEPER_LAUNCH") {
        launch(program);
    }
    if std::env::var_os("SLEEPER_EXIT").is_some() {
        return;
    }
    if let Some(path) = std::env::var_os("SLEEPER_ACTIVATE") {
        activate(path);
    }
    if let Some(path) = std::env::var_os("SLEEPER_CONNECT") {
        connect(path);
    }
    if let Some(dir) = std::env::var_os("SLEEPER_FLOOD") {
        flood(dir);
    }
    #[cfg(target_os = "linux")]
    if let Some(src) = std::env::var_os("SLEEPER_TREE") {
        open_tree(src);
    }
    #[cfg(target_os = "linux")]
    if let Some(target) = std::env::var_os("SLEEPER_MOVE_TREE") {
        move_tree(target);
    }
    let mut _held = Vec::new();
    if let Some(n) = std::env::var_os("SLEEPER_FDS") {
        let n: usize = n.to_str().and_then(|n| n.parse().ok()).unwrap();
        raise_nofile();
        let null = std::fs::File::open("/dev/null").unwrap();
        for _ in 0..n {
            _held.push(null.try_clone().unwrap());
        }
    }
    if let Some(dir) = std::env::var_os("SLEEPER_DAEMON") {
        daemon(dir);
    }
    if let Some(path) = std::env::var_os("SLEEPER_EMPTY_ARGV") {
        exec_with_empty_argv(path);
    }
    if std::env::var_os("SLEEPER_IGNORE_TERM").is_some() {
        unsafe { signal(15, 1) };
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os("SLEEPER_BLOCK_TERM").is_some() {
        // glibc's sigset_t: 1024 bits; SIG_BLOCK is 0; SIGTERM is bit 15 - 1.
        let set = [1u64 << 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        unsafe { sigprocmask(0, set.as_ptr(), std::ptr::null_mut()) };
    }
    if std::env::var_os("SLEEPER_FORK_ON_TERM").is_some() {
        unsafe { signal(15, fork_and_exit as *const () as usize) };
    }
    #[cfg(target_os = "linux")]
    if let Some(comm) = std::env::var_os("SLEEPER_COMM") {
        use std::os::unix::ffi::OsStrExt;
        let c = CString::new(comm.as_bytes()).unwrap();
        unsafe { prctl(15, c.as_ptr(), 0, 0, 0) };
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os("SLEEPER_NODUMP").is_some() {
        unsafe { prctl(4, std::ptr::null(), 0, 0, 0) };
    }
    if let Some(cmd) = std::env::var_os("SLEEPER_SPAWN") {
        let mut child = std::process::Command::new("/bin/sh");
        child.arg("-c").arg(cmd);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SLEEPER_") {
                child.env_remove(key);
            }
        }
        let code = child.status().ok().and_then(|s| s.code()).unwrap_or(127);
        std::process::exit(code);
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os("SLEEPER_THREAD_EXIT").is_some() {
        std::thread::spawn(|| loop {
            unsafe { pause() };
        });
        // SYS_exit ends the calling thread only (exit_group would end them all).
        #[cfg(target_arch = "x86_64")]
        unsafe { syscall(60, 0i64) };
        #[cfg(target_arch = "aarch64")]
        unsafe { syscall(93, 0i64) };
    }
    if std::env::var_os("SLEEPER_FORK").is_some() {
        unsafe { fork() };
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os("SLEEPER_SUBREAPER").is_some() {
        unsafe { prctl(36, 1 as *const i8, 0, 0, 0) };
        if let (Some(target), Some(pidfile)) = (
            std::env::var_os("SLEEPER_ADOPT"),
            std::env::var_os("SLEEPER_PIDFILE"),
        ) {
            use std::os::unix::process::CommandExt;
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .arg0(&target)
                .arg("1000")
                .env("SLEEPER_LAUNCH", &target)
                .env_remove("SLEEPER_SUBREAPER")
                .env_remove("SLEEPER_ADOPT")
                .env_remove("SLEEPER_PIDFILE")
                .output()
                .unwrap();
            std::fs::write(pidfile, out.stdout).unwrap();
        }
    }
    let _listener = std::env::var_os("SLEEPER_LISTEN")
        .map(|path| std::os::unix::net::UnixListener::bind(path).unwrap());
    let serves = std::env::var_os("SLEEPER_ACCEPT").is_some()
        || std::env::var_os("SLEEPER_PEERS").is_some();
    if serves {
        if let Some(listener) = &_listener {
            serve_connections(listener);
        }
        if let Some(listener) = handed_over() {
            serve_connections(&listener);
        }
    }
    loop {
        unsafe { pause() };
    }
}

/// The listener a service manager handed over as fd 3, if it did (LISTEN_FDS=1 and
/// LISTEN_PID this process).
fn handed_over() -> Option<std::os::unix::net::UnixListener> {
    use std::os::unix::io::FromRawFd;
    let ours = std::env::var("LISTEN_PID").ok()? == std::process::id().to_string();
    (ours && std::env::var("LISTEN_FDS").ok()? == "1")
        .then(|| unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) })
}
