//! The floor of a `/proc` scan as a whole program, for `scripts/bench.sh` to time next to
//! `patina-reap --dry-run`: list `/proc` and read each `/proc/PID/stat` once. Built by
//! `cargo build --release -p patina-reap-bench --bin proc-floor`.

fn main() -> std::process::ExitCode {
    match patina_reap_bench::proc_floor() {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proc-floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
