//! Entry points for the benchmarks (`--features bench`); not part of the supported API.
//!
//! [`proc_floor`] is the least any `/proc` scan can do; the others run the library's own
//! code paths, for a program name the caller chooses, so a benchmark never reaps
//! `patina` processes.
#![doc(hidden)]

use std::io;

use rustix::fd::OwnedFd;
use rustix::fs::{self, Mode, OFlags, RawDir};
use rustix::io::Errno;

use crate::{Error, Reaper};

/// The floor of a `/proc` scan: list `/proc`, and for each process open, read once and
/// close `/proc/PID/stat`, nothing else. Returns how many stat files were read.
pub fn proc_floor() -> io::Result<usize> {
    let proc_dir: OwnedFd = fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut stat = [0u8; 1024];
    let mut path = [0u8; 32];
    let mut dir_buf = Vec::<u8>::with_capacity(32 * 1024);
    let mut dir = RawDir::new(&proc_dir, dir_buf.spare_capacity_mut());
    let mut read = 0;
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name.is_empty() || !name.iter().all(u8::is_ascii_digit) || name.len() > 20 {
            continue;
        }
        let len = name.len() + b"/stat".len();
        path[..name.len()].copy_from_slice(name);
        path[name.len()..len].copy_from_slice(b"/stat");
        path[len] = 0;
        let Ok(cpath) = std::ffi::CStr::from_bytes_with_nul(&path[..=len]) else {
            continue;
        };
        let Ok(fd) = fs::openat(
            &proc_dir,
            cpath,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        match rustix::io::read(&fd, &mut stat) {
            Ok(n) if n > 0 => read += 1,
            Ok(_) | Err(Errno::SRCH) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(read)
}

/// The scan [`ensure_clean_state`](crate::ensure_clean_state) does (own processes,
/// command lines only of processes older than the threshold), for `name`, without
/// reaping. Returns how many processes matched.
pub fn preflight_scan(name: &str) -> Result<usize, Error> {
    let report = Reaper::new()
        .names([name])
        .list_young(false)
        .dry_run(true)
        .run()?;
    Ok(report.processes.len())
}

/// Everything [`ensure_clean_state`](crate::ensure_clean_state) does, helper thread and
/// time budget included, for `name` and as a dry run, writing its lines to `out`.
pub fn preflight(name: &str, out: &mut dyn io::Write) {
    let reaper = Reaper::new().names([name]).list_young(false).dry_run(true);
    crate::preflight::check(&reaper, out);
}
