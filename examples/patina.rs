//! A minimal stand-in for the `patina` launcher, wired exactly as `patina` does it:
//! `ensure_clean_state()` first, then dispatch.
//!
//! `patina serve` is a fake mothership that sleeps until SIGTERM and then exits cleanly.
//! `patina mother start` also handles its files as patina's daemon does: it removes
//! `$HOME/.patina/run/serve.sock` if there, binds and listens on it, writes its pid to
//! `mother.pid` beside it, and on SIGTERM removes both, whoever's they are by then. Any
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
