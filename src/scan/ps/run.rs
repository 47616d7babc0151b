//! Finding, running, waiting for and stopping `ps`: a controlled environment, a
//! deadline, a bound on what is read, and a way for the caller to give up.

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal};

use super::parse::Clock;

/// A `ps` that has not finished by then is killed and the scan fails.
const PS_TIMEOUT: Duration = Duration::from_secs(5);
/// Where `ps` is looked for when `PATH` is unset or has none.
const FALLBACK_PS: [&str; 2] = ["/bin/ps", "/usr/bin/ps"];
/// At most this much of `ps`'s stderr is kept for an error message.
const STDERR_KEEP: usize = 4096;
/// A `ps` that prints more than this is stopped and the scan fails: far above any real
/// process table (100,000 processes with 600-byte command lines), and a bound on memory.
const STDOUT_CAP: usize = 64 << 20;

/// `-o k1= -o k2= ...` for these columns.
pub(super) fn columns(list: &[&'static str]) -> Vec<&'static str> {
    list.iter().flat_map(|c| ["-o", c]).collect()
}

/// The `ps` to run: the first `ps` on `PATH` (absolute entries only), else the usual
/// system locations.
fn find_ps() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("ps"))
        .chain(FALLBACK_PS.iter().map(PathBuf::from))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What one finished `ps` run printed.
pub(super) struct PsOutput {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

impl PsOutput {
    /// The first line `ps` wrote to stderr, escaped, for an error message.
    pub(super) fn complaint(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        crate::text::escape(first.trim())
    }
}

/// Which `ps` runs, for how long at most, and whether its caller still waits.
#[derive(Debug)]
pub(super) struct Runner {
    pub(super) ps: Option<PathBuf>,
    pub(super) timeout: Duration,
    /// Set when whoever asked for the scan no longer waits for it: `ps` is then
    /// stopped and nothing more is read.
    pub(super) abandoned: Arc<AtomicBool>,
}

impl Runner {
    /// The first `ps` found ([`find_ps`]), bounded by [`PS_TIMEOUT`], stopped once
    /// `abandoned` is set.
    pub(super) fn new(abandoned: Arc<AtomicBool>) -> Self {
        Self {
            ps: find_ps(),
            timeout: PS_TIMEOUT,
            abandoned,
        }
    }

    /// Run `ps args`, bounded by the timeout; a hung `ps` (and anything it started) is
    /// killed.
    pub(super) fn run(&self, args: &[&str]) -> io::Result<PsOutput> {
        let ps = self.ps.as_deref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no ps found on PATH, at /bin/ps or at /usr/bin/ps",
            )
        })?;
        let mut child = Command::new(ps)
            .args(args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("TZ", "UTC0")
            .env("COMMAND_MODE", "unix2003")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", ps.display())))?;
        let deadline = Instant::now() + self.timeout;
        let result = collect(&mut child, deadline, &self.abandoned).and_then(|(stdout, stderr)| {
            match wait_until(&mut child, deadline) {
                Some(status) => Ok(PsOutput {
                    status: status?,
                    stdout,
                    stderr,
                }),
                None => Err(io::ErrorKind::TimedOut.into()),
            }
        });
        result.map_err(|e| {
            stop(&mut child);
            if e.kind() == io::ErrorKind::TimedOut && !self.abandoned.load(Ordering::Relaxed) {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} did not finish within {}s and was killed",
                        ps.display(),
                        self.timeout.as_secs()
                    ),
                )
            } else {
                e
            }
        })
    }

    /// [`Self::run`], with the clock around it.
    pub(super) fn run_timed(&self, args: &[&str]) -> (io::Result<PsOutput>, Clock) {
        let before = epoch_secs();
        let out = self.run(args);
        let after = epoch_secs().max(before);
        let uptime = uptime();
        (
            out,
            Clock {
                before,
                after,
                uptime,
            },
        )
    }
}

/// Now, in seconds since the epoch (0 for a clock set before it).
fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds since boot, suspend included, where that clock is known ([`Clock::uptime`]).
fn uptime() -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        u64::try_from(t.tv_sec).ok()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    None
}

/// Read the child's stdout and stderr to their end, or fail at `deadline`.
fn collect(
    child: &mut Child,
    deadline: Instant,
    abandoned: &AtomicBool,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while stdout.is_some() || stderr.is_some() {
        if abandoned.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the scan was abandoned by its caller",
            ));
        }
        // Woken at least every 100 ms to see whether the caller still waits.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        if Instant::now() >= deadline {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        let timeout = rustix::time::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            if let Some(s) = &stdout {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            if let Some(s) = &stderr {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            let out_ready = stdout.is_some() && ready[0];
            let err_ready = stderr.is_some() && ready[usize::from(stdout.is_some())];
            (out_ready, err_ready)
        };
        if out_ready && !read_some(&mut stdout, &mut chunk, &mut out, STDOUT_CAP + 1)? {
            stdout = None;
        }
        if out.len() > STDOUT_CAP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "ps printed more than {} MiB, far more than any process table; stopped reading",
                    STDOUT_CAP >> 20
                ),
            ));
        }
        if err_ready && !read_some(&mut stderr, &mut chunk, &mut err, STDERR_KEEP)? {
            stderr = None;
        }
    }
    Ok((out, err))
}

/// One read from a pipe that poll said is ready, keeping at most `keep` bytes in `buf`;
/// false at end of file.
fn read_some(
    pipe: &mut Option<impl Read>,
    chunk: &mut [u8],
    buf: &mut Vec<u8>,
    keep: usize,
) -> io::Result<bool> {
    let Some(pipe) = pipe else {
        return Ok(false);
    };
    match pipe.read(chunk) {
        Ok(0) => Ok(false),
        Ok(n) => {
            let room = keep.saturating_sub(buf.len()).min(n);
            buf.extend_from_slice(&chunk[..room]);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
        Err(e) => Err(e),
    }
}

/// Wait for the child to exit, polling, until `deadline`; `None` if it has not.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<io::Result<ExitStatus>> {
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(Ok(status)),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kill the child's process group (it leads one) and collect the child if it goes
/// quickly.
fn stop(child: &mut Child) {
    if let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
    let _ = child.kill();
    let _ = wait_until(child, Instant::now() + Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_row, trim_ascii, PS_COLUMNS};
    use super::*;

    #[test]
    fn columns_are_one_keyword_per_option() {
        let args = columns(&PS_COLUMNS);
        assert_eq!(args.len(), 22);
        for pair in args.chunks(2) {
            assert_eq!(pair[0], "-o");
            assert!(pair[1].ends_with('=') && pair[1].matches('=').count() == 1);
        }
    }

    #[test]
    fn this_machine_s_clock_reads_this_process_as_possible() {
        let src = Runner::new(Arc::new(AtomicBool::new(false)));
        if src.ps.is_none() {
            eprintln!("skipped: no ps on this system");
            return;
        }
        let me = std::process::id().to_string();
        let mut args = vec!["-ww"];
        args.extend(columns(&PS_COLUMNS));
        args.extend(["-p", &me]);
        let (out, clock) = src.run_timed(&args);
        let out = out.unwrap();
        let row = parse_row(trim_ascii(&out.stdout)).unwrap();
        assert_eq!(clock.impossible(&row), None, "{row:?} {clock:?}");
        assert_eq!(clock.uptime.is_some(), cfg!(target_os = "linux"));
    }
}
