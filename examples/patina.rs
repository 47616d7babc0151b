//! A minimal stand-in for the `patina` launcher, wired exactly as `patina` does it:
//! `ensure_clean_state()` first, then dispatch.
//!
//! `patina serve` is a fake mothership that sleeps until SIGTERM and then exits cleanly.
//! `patina mother start` also handles its files as patina's daemon does: it removes
//! `$HOME/.patina/run/serve.sock` if there, binds and listens on it, writes its pid to
//! `mother.pid` beside it, and on SIGTERM removes both, whoever's they are by then.
//! `patina sync --background` forks as patina's background sync does (Linux). Any
//! other subcommand says what it would do and exits 0. Built with
//! `cargo build --release --example patina`, it is a real process named `patina` that
//! can grow old and be reaped.

use std::process::ExitCode;

fn main() -> ExitCode {
    patina_reap::ensure_clean_state();

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(None),
        Some("mother") if args.get(1).map(String::as_str) == Some("start") => {
            match daemon_files() {
                Ok(files) => serve(Some(files)),
                Err(e) => {
                    eprintln!("patina mother start: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        #[cfg(target_os = "linux")]
        Some("sync") if args.get(1).map(String::as_str) == Some("--background") => {
            background_sync()
        }
        Some(command) => {
            println!("patina {command}: nothing to do in this stand-in");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("usage: patina <serve|COMMAND>");
            ExitCode::from(2)
        }
    }
}

/// The daemon's socket, bound (the listener kept open) and its pid file written.
struct DaemonFiles {
    _listener: std::os::unix::net::UnixListener,
    socket: std::path::PathBuf,
    pid_file: std::path::PathBuf,
}

fn daemon_files() -> std::io::Result<DaemonFiles> {
    let home = std::env::var_os("HOME").ok_or_else(|| std::io::Error::other("no HOME"))?;
    let run = std::path::Path::new(&home).join(".patina/run");
    std::fs::create_dir_all(&run)?;
    let socket = run.join("serve.sock");
    let pid_file = run.join("mother.pid");
    // A file left at the path, or a live daemon's: removed either way, as patina does.
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket)?;
    std::fs::write(&pid_file, std::process::id().to_string())?;
    Ok(DaemonFiles {
        _listener: listener,
        socket,
        pid_file,
    })
}

/// Sleep until SIGTERM (or SIGINT), then remove the daemon's files if any (without
/// looking whose they are) and exit cleanly.
fn serve(files: Option<DaemonFiles>) -> ExitCode {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("patina serve: cannot handle signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(signal) = signals.forever().next() {
        eprintln!("patina serve: got signal {signal}, shutting down");
    }
    if let Some(files) = files {
        let _ = std::fs::remove_file(&files.pid_file);
        let _ = std::fs::remove_file(&files.socket);
    }
    ExitCode::SUCCESS
}

/// Fork right after the preflight, as patina's background sync does
/// (`start_background_sync` in `src/forge/sync/internal.rs`), and run Rust code in the
/// child: allocate, start a thread, print, exit 0. Unlike patina, wait for the child
/// (10s at most) and say how it ended: `child_status=0`, or `hung` when it had to be
/// killed. First, `threads=` this process's threads by name, those that the preflight
/// left behind included.
#[cfg(target_os = "linux")]
fn background_sync() -> ExitCode {
    use rustix::process::{waitpid, Pid, WaitOptions};
    let mut threads: Vec<String> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    threads.sort();
    // Printed and flushed before the fork, so that the child has nothing of it to print.
    println!("threads={}", threads.join(","));
    #[allow(unsafe_code)]
    // SAFETY: the child runs only what patina's child runs after fork(2): Rust code whose
    // safety there is what this stand-in checks (whatever the preflight's threads held,
    // nothing but this thread exists in the child).
    let pid = unsafe { nix::libc::fork() };
    if pid == 0 {
        let lines: Vec<String> = (0..10_000).map(|i| format!("ref {i}")).collect();
        let worker = std::thread::spawn(move || lines.iter().map(String::len).sum::<usize>());
        match worker.join() {
            Ok(bytes) => {
                println!("child_bytes={bytes}");
                std::process::exit(0)
            }
            Err(_) => std::process::exit(1),
        }
    }
    let Some(child) = Pid::from_raw(pid) else {
        eprintln!(
            "patina sync: fork failed: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match waitpid(Some(child), WaitOptions::NOHANG) {
            Ok(Some((_, status))) => {
                let code = status.exit_status().map_or(-1, |code| code);
                println!("child_status={code}");
                return ExitCode::SUCCESS;
            }
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => {
                let _ = rustix::process::kill_process(child, rustix::process::Signal::KILL);
                let _ = waitpid(Some(child), WaitOptions::empty());
                println!("child_status=hung");
                return ExitCode::FAILURE;
            }
        }
    }
}
