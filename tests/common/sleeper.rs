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
    // Connections are accepted and closed, so a test can tell who is reached.
    for stream in listener.incoming() {
        drop(stream);
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
    let mut _held = Vec::new();
    if let Some(n) = std::env::var_os("SLEEPER_FDS") {
        let n: usize = n.to_str().and_then(|n| n.parse().ok()).unwrap();
        // RLIMIT_NOFILE is 7 on Linux, 8 on the BSDs and macOS.
        let resource = if cfg!(target_os = "linux") { 7 } else { 8 };
        let mut limit = [0u64; 2];
        unsafe {
            getrlimit(resource, &mut limit);
            limit[0] = limit[1];
            setrlimit(resource, &limit);
        }
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
    loop {
        unsafe { pause() };
    }
}
