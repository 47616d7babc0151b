//! In-process cost of the `/proc` scan against the floor (readdir + one read of each
//! `/proc/PID/stat`), at about 100, 1000 and 5000 processes, and of the preflight with
//! nothing to reap, including its helper thread.
//!
//! Run with `cargo bench -p patina-reap-bench` from the repository root. Extra processes
//! are `/bin/sleep` children of this benchmark, killed by PID when each size is done;
//! they sleep 15 minutes at most, so even an interrupted run leaves nothing behind for
//! long. No benchmark uses the name `patina`: each looks for a program name no process
//! has.
// criterion_group! defines an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use patina_reap::{bench, Reaper};

/// The sizes of the process table to measure at.
const SIZES: [usize; 3] = [100, 1000, 5000];

/// A program name nothing has (15 bytes at most, like a real `comm`).
fn nobody_name() -> String {
    format!("nobody{:x}", std::process::id())
}

fn process_count() -> usize {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0)
}

/// Sleeping children that bring the process table up to a size; killed (by PID) and
/// waited for on drop.
struct Extra(Vec<Child>);

impl Extra {
    fn up_to(total: usize) -> Self {
        // A mix of argv[0]s; /bin/sleep takes no other arguments than the time.
        const ARGV0: [&str; 4] = ["sleep", "bash", "/usr/lib/patina-index/worker", "vim"];
        let mut children = Vec::new();
        for i in 0..total.saturating_sub(process_count()) {
            let child = Command::new("/bin/sleep")
                .arg0(ARGV0[i % ARGV0.len()])
                .arg("900")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            match child {
                Ok(child) => children.push(child),
                Err(e) => {
                    eprintln!("could only start {} extra processes: {e}", children.len());
                    break;
                }
            }
        }
        Self(children)
    }
}

impl Drop for Extra {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

fn scan(c: &mut Criterion) {
    let name = nobody_name();
    for size in SIZES {
        let extra = Extra::up_to(size);
        let found = patina_reap_bench::proc_floor().expect("read /proc");
        eprintln!(
            "\n{} processes ({} started for this size)",
            found,
            extra.0.len()
        );
        paired(size, &name);
        let mut group = c.benchmark_group(format!("scan/{size}"));
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(40)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        group.bench_function("floor", |b| {
            b.iter(|| black_box(patina_reap_bench::proc_floor()))
        });
        group.bench_function("preflight_scan", |b| {
            b.iter(|| black_box(bench::preflight_scan(&name)))
        });
        // The worst case: every own process is old enough, so every command line is read.
        let every = Reaper::new()
            .names([name.as_str()])
            .threshold(Duration::ZERO)
            .list_young(false)
            .dry_run(true);
        group.bench_function("threshold_0", |b| b.iter(|| black_box(every.run())));
        group.bench_function("ensure_clean_state", |b| {
            b.iter(|| {
                let mut out = Vec::new();
                bench::preflight(&name, &mut out);
                black_box(out)
            })
        });
        group.finish();
        drop(extra);
    }
}

/// The ratios that matter, robust to load from other programs: the floor and each
/// code path timed in alternation, so that every median covers the same stretch of time.
fn paired(size: usize, name: &str) {
    let rounds = (2_000_000 / size.max(1)).clamp(100, 1000);
    let every = Reaper::new()
        .names([name])
        .threshold(Duration::ZERO)
        .list_young(false)
        .dry_run(true);
    const LABELS: [&str; 4] = [
        "floor",
        "preflight_scan",
        "ensure_clean_state",
        "threshold_0",
    ];
    let mut sink = Vec::new();
    let mut times = vec![Vec::with_capacity(rounds); LABELS.len()];
    for _ in 0..rounds {
        for (case, times) in times.iter_mut().enumerate() {
            let start = Instant::now();
            match case {
                0 => drop(black_box(patina_reap_bench::proc_floor())),
                1 => drop(black_box(bench::preflight_scan(name))),
                2 => {
                    sink.clear();
                    bench::preflight(name, &mut sink);
                }
                _ => drop(black_box(every.run())),
            }
            times.push(start.elapsed());
        }
    }
    let mut floor = None;
    for (label, times) in LABELS.iter().zip(&mut times) {
        times.sort_unstable();
        let median = times[times.len() / 2];
        let floor = *floor.get_or_insert(median);
        eprintln!(
            "paired/{size}/{label}: median {median:.2?}, {:.3}x floor ({rounds} rounds)",
            median.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

/// What the preflight's helper thread costs by itself: spawn, send one result, join.
fn helper_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("helper_thread");
    // The preflight's thread has the default stack; a small one shows whether the
    // stack's size matters to the cost.
    for (label, stack) in [("default_stack", None), ("64KiB_stack", Some(64 * 1024))] {
        group.bench_function(BenchmarkId::new("spawn_send_join", label), |b| {
            b.iter(|| {
                let (tx, rx) = mpsc::channel::<usize>();
                let mut builder = std::thread::Builder::new().name("patina-reap-scan".into());
                if let Some(size) = stack {
                    builder = builder.stack_size(size);
                }
                let handle = builder
                    .spawn(move || {
                        let _ = tx.send(1);
                    })
                    .expect("spawn");
                let got = rx.recv_timeout(Duration::from_millis(500));
                let _ = handle.join();
                black_box(got)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, scan, helper_thread);
criterion_main!(benches);
