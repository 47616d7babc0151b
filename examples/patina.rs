//! A minimal stand-in for the `patina` launcher, wired exactly as `patina` does it:
//! `ensure_clean_state()` first, then dispatch.
//!
//! `patina serve` is a fake mothership that sleeps until SIGTERM and then exits cleanly;
//! any other subcommand says what it would do and exits 0. Built with
//! `cargo build --release --example patina`, it is a real process named `patina` that
//! can grow old and be reaped.

use std::process::ExitCode;

fn main() -> ExitCode {
    patina_reap::ensure_clean_state();

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(),
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

/// Sleep until SIGTERM (or SIGINT), then exit cleanly.
fn serve() -> ExitCode {
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
    ExitCode::SUCCESS
}
